import Glibc

/// Kernel parameters under /proc/sys. Network keys (`net.*`) act on the network namespace
/// of the calling thread: call these inside `NamespaceThread.run(inNamespace:)` to reach
/// another namespace (`ip netns exec NS sysctl -w KEY=VALUE`).
public enum Sysctl {
    /// The /proc/sys path of a key: `net.ipv4.ip_forward` → `/proc/sys/net/ipv4/ip_forward`.
    /// A key containing `/` is taken as slash-separated (so interface names may hold dots:
    /// `net/ipv4/conf/eth0.5/forwarding`).
    public static func path(for key: String) throws -> String {
        let separator: Character = key.contains("/") ? "/" : "."
        let parts = key.split(separator: separator, omittingEmptySubsequences: false)
        guard !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." && !$0.contains("\0") }) else {
            throw NetlinkError.invalidArgument("invalid sysctl key '\(key)'")
        }
        return "/proc/sys/" + parts.joined(separator: "/")
    }

    /// `sysctl -w KEY=VALUE` in the calling thread's namespace.
    public static func write(key: String, value: String) throws {
        let p = try path(for: key)
        let fd = try syscallChecked("open(\(p))") { open(p, O_WRONLY | O_CLOEXEC) }
        defer { close(fd) }
        let bytes = Array(value.utf8) + [0x0a]
        let n = try bytes.withUnsafeBytes { b in try syscallChecked("write(\(p))") { Glibc.write(fd, b.baseAddress, b.count) } }
        guard n == bytes.count else { throw NetlinkError.system(call: "write(\(p)) short", errno: EIO) }
    }

    /// `sysctl -n KEY` in the calling thread's namespace, without the trailing newline.
    public static func read(key: String) throws -> String {
        let p = try path(for: key)
        let fd = try syscallChecked("open(\(p))") { open(p, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while out.count < 1 << 20 {
            let n = try chunk.withUnsafeMutableBytes { b in try syscallChecked("read(\(p))") { Glibc.read(fd, b.baseAddress, b.count) } }
            if n == 0 { break }
            out += chunk[0..<n]
        }
        while out.last == 0x0a { out.removeLast() }
        return String(decoding: out, as: UTF8.self)
    }
}

extension NamespaceThread {
    /// `ip netns exec NS sysctl -w KEY=VALUE`, in-process.
    public func writeSysctl(key: String, value: String, inNamespace namespace: Int32) throws {
        try run(inNamespace: namespace) { try Sysctl.write(key: key, value: value) }
    }
    /// `ip netns exec NS sysctl -n KEY`, in-process.
    public func readSysctl(key: String, inNamespace namespace: Int32) throws -> String {
        try run(inNamespace: namespace) { try Sysctl.read(key: key) }
    }
}
