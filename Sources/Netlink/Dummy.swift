/// dummy: a device that drops what it is sent, with no INFO_DATA (`ip link add dm0 type dummy`).
/// The kernel needs CONFIG_DUMMY (module `dummy`); without it RTM_NEWLINK answers EOPNOTSUPP
/// "Unknown device type".
extension LinkRequest {
    /// `ip link add NAME [netns NS] [group G] type dummy`
    public static func addDummy(name: String, namespaceFD: Int32? = nil, group: UInt32? = nil) throws -> Request {
        try add(name: name, kind: "dummy", data: nil, namespaceFD: namespaceFD, group: group)
    }
}
