import Foundation

/// Throwaway kernel sandboxes for tests: `unshare --net --mount` with `/` made private and a
/// fresh tmpfs on `/run`, so `ip netns add` and every link live and die with the sandbox.
/// Never touches the machine's own network namespace or its `/run`.
enum Sandbox {
    /// Kernel tests need root. They run when root, and also whenever CI=true (where a
    /// missing privilege must fail the test rather than skip it).
    static var enabled: Bool { getuid() == 0 || ProcessInfo.processInfo.environment["CI"] == "true" }

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
        /// Sections of stdout introduced by lines `@@NAME`.
        var sections: [String: String] {
            var out: [String: String] = [:]
            var current: String?
            for line in stdout.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("@@") {
                    current = String(line.dropFirst(2))
                    out[current!] = ""
                } else if let c = current {
                    out[c, default: ""] += line + "\n"
                }
            }
            return out
        }
    }

    /// Runs `script` with `sh` inside a new sandbox and returns its status and output.
    static func run(_ script: String) throws -> Output {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("topo-sandbox-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let scriptPath = dir.appendingPathComponent("script.sh").path
        let outPath = dir.appendingPathComponent("out").path
        let errPath = dir.appendingPathComponent("err").path
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        p.arguments = ["--net", "--mount", "sh", "-c",
                       "mount --make-rprivate / && mount -t tmpfs tmpfs /run && exec sh \"$0\" >\"$1\" 2>\"$2\"",
                       scriptPath, outPath, errPath]
        try p.run()
        p.waitUntilExit()
        let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return Output(status: p.terminationStatus, stdout: out, stderr: err)
    }

    /// Shell lines that print `ip -j` state of `namespaces` (use "host" for the sandbox's
    /// start namespace) as sections `@@netns`, `@@link NS`, `@@addr NS`.
    static func probe(_ namespaces: [String]) -> String {
        var lines = ["echo @@netns", "ip -j netns list"]
        for ns in namespaces {
            let ip = ns == "host" ? "ip" : "ip -n \(ns)"
            lines += ["echo '@@link \(ns)'", "\(ip) -j -d link show", "echo '@@addr \(ns)'", "\(ip) -j addr show"]
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Parses a JSON array of objects, as `ip -j` prints it.
    static func objects(_ json: String?) -> [[String: Any]] {
        guard let data = json?.data(using: .utf8),
              let v = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return [] }
        return v
    }

    /// A link of an `ip -j -d link show` list by name.
    static func link(_ links: [[String: Any]], _ name: String) -> [String: Any]? {
        links.first { $0["ifname"] as? String == name }
    }

    /// Admin-up flag of a link.
    static func isUp(_ link: [String: Any]?) -> Bool {
        (link?["flags"] as? [String])?.contains("UP") ?? false
    }

    static func kind(_ link: [String: Any]?) -> String? {
        (link?["linkinfo"] as? [String: Any])?["info_kind"] as? String
    }

    /// `ADDR/LEN` strings of a link in an `ip -j addr show` list.
    static func addresses(_ addrs: [[String: Any]], _ name: String) -> [String] {
        guard let l = addrs.first(where: { $0["ifname"] as? String == name }),
              let info = l["addr_info"] as? [[String: Any]] else { return [] }
        return info.compactMap { a in
            guard let local = a["local"] as? String, let len = a["prefixlen"] as? Int else { return nil }
            return "\(local)/\(len)"
        }
    }
}
