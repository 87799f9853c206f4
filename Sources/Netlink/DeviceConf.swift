/// Per-device IPv4 settings over rtnetlink, instead of /proc/sys/net/ipv4/conf/DEV/KEY:
/// RTM_NEWLINK on the device with IFLA_AF_SPEC { AF_INET { IFLA_INET_CONF { KEY: u32 } } }
/// (net/ipv4/devinet.c inet_set_link_af → ipv4_devconf_set). No path lookup and no setns: the
/// namespace's own socket does it (bench/sysctl-paths.py: 8–26 µs per namespace at 2000
/// namespaces, against 150–1300 µs for the /proc write).
///
/// What netlink cannot set: `all`/`default` (so not `net.ipv4.ip_forward`, which is
/// conf/all/forwarding: the kernel has RTM_GETNETCONF but no set), and no IPv6 key at all
/// (inet6_set_link_af takes only the token and addr_gen_mode). Unlike the sysctl handler, the
/// netlink set has no side effects: for `forwarding` it neither flushes the route cache, nor
/// disables LRO, nor sends an RTM_NEWNETCONF notification.
public enum IPv4DeviceConf {
    static let afInet: UInt16 = 2       // AF_INET inside IFLA_AF_SPEC
    static let inetConf: UInt16 = 1     // IFLA_INET_CONF

    /// IPV4_DEVCONF_* (1-based, as the attribute types inside IFLA_INET_CONF) by sysctl name.
    /// `mc_forwarding` is left out: /proc makes it read-only (the multicast routing daemon owns it).
    public static let ids: [String: UInt16] = [
        "forwarding": 1, "proxy_arp": 3, "accept_redirects": 4, "secure_redirects": 5,
        "send_redirects": 6, "shared_media": 7, "rp_filter": 8, "accept_source_route": 9, "bootp_relay": 10,
        "log_martians": 11, "tag": 12, "arp_filter": 13, "medium_id": 14, "disable_xfrm": 15, "disable_policy": 16,
        "force_igmp_version": 17, "arp_announce": 18, "arp_ignore": 19, "promote_secondaries": 20, "arp_accept": 21,
        "arp_notify": 22, "accept_local": 23, "src_valid_mark": 24, "proxy_arp_pvlan": 25, "route_localnet": 26,
        "igmpv2_unsolicited_report_interval": 27, "igmpv3_unsolicited_report_interval": 28,
        "ignore_routes_with_linkdown": 29, "drop_unicast_in_l2_multicast": 30, "drop_gratuitous_arp": 31,
        "bc_forwarding": 32, "arp_evict_nocarrier": 33,
    ]

    /// For a sysctl key `net.ipv4.conf.DEV.NAME` (dots or slashes) with DEV a device (not
    /// `all`/`default`) and NAME settable over netlink: (DEV, id). Nil otherwise.
    public static func parse(key: String) -> (device: String, id: UInt16)? {
        let sep: Character = key.contains("/") ? "/" : "."
        let parts = key.split(separator: sep, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, parts[0] == "net", parts[1] == "ipv4", parts[2] == "conf",
              parts[3] != "all", parts[3] != "default", !parts[3].isEmpty, let id = ids[parts[4]] else { return nil }
        return (parts[3], id)
    }
}

extension LinkRequest {
    /// `sysctl -w net.ipv4.conf.DEV.KEY=V…` for one device in one request: IFLA_AF_SPEC {
    /// AF_INET { IFLA_INET_CONF { id: u32 value … } } }. The kernel checks every id (1…max,
    /// 4 bytes) before setting any.
    public static func setIPv4Conf(_ link: LinkSelector, _ values: [(id: UInt16, value: UInt32)]) throws -> Request {
        guard !values.isEmpty else { throw NetlinkError.invalidArgument("no IPv4 device setting to set") }
        let (i, attrs) = try selector(link)
        let conf = RawAttribute(type: IPv4DeviceConf.inetConf, nested: values.map { RawAttribute(type: $0.id, u32: $0.value) })
        let spec = RawAttribute(type: IPv4DeviceConf.afInet, nested: [conf])
        return make(MessageType.newLink, [], LinkMessage(header: InterfaceInfoHeader(index: i), attributes: attrs + [
            .unknown(type: LinkConstants.afSpec, bytes: RawAttribute.encode([spec])),
        ]))
    }
}

extension LinkInfo {
    /// The device's IPv4 settings from its IFLA_AF_SPEC (AF_INET / IFLA_INET_CONF), by
    /// IPV4_DEVCONF id (index `id − 1`); nil when the dump has none (no IPv4 on the device).
    public var ipv4Conf: [UInt32]? {
        guard let spec = unknown.first(where: { $0.kind == LinkConstants.afSpec }),
              let families = try? spec.children(),
              let inet = families.first(where: { $0.kind == IPv4DeviceConf.afInet }),
              let inner = try? inet.children(),
              let conf = inner.first(where: { $0.kind == IPv4DeviceConf.inetConf }) else { return nil }
        // The kernel sends the whole array as one payload of u32s (not as nested attributes).
        var r = ByteReader(conf.payload)
        var out: [UInt32] = []
        while r.remaining >= 4, let v = try? r.u32("conf") { out.append(v) }
        return out
    }
}
