#if canImport(Glibc)
import Glibc
#endif

/// What Tab should offer for the word under the cursor.
enum ReplCompletion: Hashable, Sendable {
    /// These words (already filtered by the typed prefix).
    case words([String])
    /// Readline's own file-name completion (after `:load` / `:save`).
    case filenames
}

/// Decides Tab completions from the line typed so far; pure, so it is tested without a terminal.
struct ReplCompleter {
    /// Statement keywords offered at the start of a statement.
    static let keywords = ["ns", "veth", "bridge", "dummy", "addr", "up", "down", "mtu", "route",
                           "forward", "sysctl", "ping", "exec", "let", "for", "if", "def"]
    /// Words that appear inside statements (`route NS default via GW dev IF metric K`, `ping … count K`).
    static let argumentWords = ["via", "dev", "metric", "mtu", "count", "default", "in", "else"]

    /// Declared namespaces (engine), without `host`.
    var namespaces: [String]
    /// Declared interfaces in a namespace (`host` for the host), or all of them for nil (engine).
    var interfaces: (String?) -> [String]
    /// Namespaces that exist on the machine (`/run/netns`).
    var liveNamespaces: [String]

    /// The completion for `text` = line[start..<end] (byte offsets, as readline gives them).
    /// `continuing` is true on a continuation line of a multi-line block (no meta-commands there).
    func complete(line: String, start: Int, end: Int, continuing: Bool) -> ReplCompletion {
        let bytes = Array(line.utf8)
        let s = max(0, min(start, bytes.count)), e = max(s, min(end, bytes.count))
        let before = String(decoding: bytes[0..<s], as: UTF8.self)
        let text = String(decoding: bytes[s..<e], as: UTF8.self)
        let beforeTrimmed = before.replTrimmed

        if !continuing && beforeTrimmed.isEmpty && text.hasPrefix(":") {
            return .words(Self.filter(ReplCommands.names, text))
        }
        if !continuing && beforeTrimmed.hasPrefix(":") {
            let words = beforeTrimmed.replWords
            let command = ReplCommands.aliases[words[0]] ?? words[0]
            let argIndex = words.count - 1          // 0 = first argument
            switch command {
            case ":load", ":save": return .filenames
            case ":show" where argIndex == 0, ":ping" where argIndex == 0:
                return .words(Self.filter(allNamespaces, text))
            case ":help" where argIndex == 0:
                let names = ReplCommands.names
                return .words(Self.filter(text.hasPrefix(":") ? names : names.map { String($0.dropFirst()) }, text))
            default: return .words([])
            }
        }
        // The start of a statement: nothing but blanks since the last `;`, `{` or `}`.
        let statementStart = before.split(omittingEmptySubsequences: false, whereSeparator: { $0 == ";" || $0 == "{" || $0 == "}" })
            .last.map { String($0).replTrimmed.isEmpty } ?? true
        if statementStart && !text.contains(":") {
            return .words(Self.filter(Self.keywords, text))
        }
        if let colon = text.firstIndex(of: ":") {
            let ns = String(text[..<colon])
            let names = interfaces(ns).map { "\(ns):\($0)" }
            return .words(Self.filter(names, text))
        }
        return .words(Self.filter(allNamespaces + interfaces(nil) + Self.argumentWords, text))
    }

    private var allNamespaces: [String] { ["host"] + namespaces + liveNamespaces }

    /// Candidates starting with `prefix`, without duplicates, sorted.
    static func filter(_ candidates: [String], _ prefix: String) -> [String] {
        var seen = Set<String>()
        return candidates.filter { $0.hasPrefix(prefix) && seen.insert($0).inserted }.sorted()
    }

    /// The named namespaces that exist now (`/run/netns`, as `ip netns list` sees them).
    static func liveNamespaces(directory: String = "/run/netns") -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
