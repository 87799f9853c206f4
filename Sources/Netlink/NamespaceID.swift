/// Namespace ids (`ip netns list-id`, `ip netns` "(id: N)").
///
/// A namespace gives other namespaces small integer ids (nsids) when it needs to name them,
/// e.g. in a veth's `IFLA_LINK_NETNSID`. An nsid means something only in the namespace that
/// reports it: namespace A may call B `0` while C calls B `3`. `RTM_GETNSID` with
/// `NETNSA_FD` asks the socket's namespace which id it gives the namespace behind the fd.
public enum NamespaceIDConstants {
    public static let newNSID: UInt16 = 88       // RTM_NEWNSID
    public static let getNSID: UInt16 = 90       // RTM_GETNSID
    public static let attrNSID: UInt16 = 1       // NETNSA_NSID
    public static let attrPID: UInt16 = 2        // NETNSA_PID
    public static let attrFD: UInt16 = 3         // NETNSA_FD
    /// NETNSA_NSID_NOT_ASSIGNED.
    public static let notAssigned: Int32 = -1
}

public enum NamespaceIDRequest {
    /// `RTM_GETNSID` for the namespace open at `namespaceFD` (an fd of this process): an
    /// `rtgenmsg` (family AF_UNSPEC, padded to 4 bytes) and `NETNSA_FD`, as iproute2 sends it.
    public static func get(namespaceFD: Int32) throws -> Request {
        guard namespaceFD >= 0 else { throw NetlinkError.invalidArgument("namespace fd \(namespaceFD) is invalid") }
        var w = ByteWriter()
        w.u8(AddressFamily.unspecified)
        w.align()
        RawAttribute(type: NamespaceIDConstants.attrFD, u32: UInt32(namespaceFD)).encode(into: &w)
        return Request(type: NamespaceIDConstants.getNSID, payload: w.bytes)
    }

    /// The nsid in an `RTM_NEWNSID` payload: nil when the message carries none or it is
    /// `NETNSA_NSID_NOT_ASSIGNED`.
    public static func decodeID(_ payload: [UInt8]) throws -> Int32? {
        guard payload.count >= 4 else { throw NetlinkError.malformed("RTM_NEWNSID payload of \(payload.count) bytes") }
        for a in try RawAttribute.decode(payload[4...]) where a.kind == NamespaceIDConstants.attrNSID {
            let v = Int32(bitPattern: try a.u32("NETNSA_NSID"))
            return v == NamespaceIDConstants.notAssigned ? nil : v
        }
        return nil
    }
}

extension NetlinkSocket {
    /// The id the socket's namespace gives the namespace open at `namespaceFD`, or nil when it
    /// has given it none (`ip netns` prints no "(id: N)" then). The namespace's own id for
    /// itself is nil too unless one was assigned.
    public func namespaceID(of namespaceFD: Int32) throws -> Int32? {
        for m in try query(NamespaceIDRequest.get(namespaceFD: namespaceFD))
        where m.header.type == NamespaceIDConstants.newNSID {
            return try NamespaceIDRequest.decodeID(m.payload)
        }
        return nil
    }
}
