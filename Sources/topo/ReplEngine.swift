import TopoLanguage

/// What one REPL action produced: text for standard output, diagnostics for standard error,
/// and whether it went through. A failed outcome counts against the session's exit code.
struct ReplOutcome: Hashable, Sendable {
    /// Normal output (a plan, a listing, "created ns0"), printed on stdout. May be empty.
    var output: String
    /// Rendered diagnostics or error messages, printed on stderr. May be empty.
    var diagnostics: String
    /// False when the statement or command failed; nothing of it is left applied.
    var succeeded: Bool

    init(output: String = "", diagnostics: String = "", succeeded: Bool = true) {
        self.output = output
        self.diagnostics = diagnostics
        self.succeeded = succeeded
    }

    static func ok(_ output: String = "") -> ReplOutcome { ReplOutcome(output: output) }
    static func failure(_ message: String) -> ReplOutcome {
        ReplOutcome(diagnostics: message, succeeded: false)
    }
}

/// Everything language- or kernel-specific the REPL needs. The terminal side (readline, history,
/// completion, multi-line input, meta-command parsing, exit codes) lives in the REPL; the engine
/// evaluates, checks, plans and applies. The real engine keeps the session's topology, applies
/// each statement live (or prints its operations under `--dry-run`) and undoes a statement that
/// fails half-way, so a failed outcome never leaves anything half-applied.
protocol ReplEngine: AnyObject {
    /// True when `text` (one or more lines typed so far) is a complete input: no `{ < [ (` or
    /// string still open. The real engine answers with `TopoLanguage.isCompleteInput(_:)`.
    func isComplete(_ text: String) -> Bool

    /// Evaluates, checks, plans and applies one complete input (which may be several statements
    /// or a multi-line block). Diagnostics carry the caret under the input line.
    func submit(_ text: String) -> ReplOutcome

    /// `:plan` — the plan of the whole session's topology so far.
    func plan() -> ReplOutcome
    /// `:show [NS]` — the session's topology (all of it, or one namespace).
    func show(_ namespace: String?) -> ReplOutcome
    /// `:ping NS ADDR` — an ICMP echo from a namespace, now.
    func ping(namespace: String, address: String) -> ReplOutcome
    /// `:undo` — put the session (and the kernel) back as it was before the last input.
    func undo() -> ReplOutcome
    /// `:destroy` — remove everything this session created (the session's topology is kept
    /// only as far as the engine chooses; the real one empties it).
    func destroy() -> ReplOutcome
    /// `:save FILE` — write the session's topology as a clean, runnable `.topo` script.
    func save(to path: String) -> ReplOutcome
    /// `:load FILE` — evaluate and apply a script file as if typed (also used for `topo repl FILE`).
    func load(path: String) -> ReplOutcome
    /// `:reset` — forget the session (bindings, topology) without touching the kernel.
    func reset() -> ReplOutcome
    /// `:edit` — the session in `$VISUAL`/`$EDITOR`; converge to what is saved.
    func edit() -> ReplOutcome
    /// `:pingall` — every namespace with an address pings every other.
    func pingall() -> ReplOutcome

    /// Declared namespace names, for Tab completion (without `host`).
    var namespaceNames: [String] { get }
    /// Declared interface names: in one namespace (`"host"` for the host), or all of them when nil.
    func interfaceNames(in namespace: String?) -> [String]
}

extension ReplEngine {
    /// The default completeness test: a bracket and string counter (see `ReplInputScanner`).
    func isComplete(_ text: String) -> Bool { ReplInputScanner.isComplete(text) }
}

/// Local fallback for "is this input complete?": counts `{ [ (` (and `< >` in `ns`/`bridge`
/// statements, where they hold a list), skipping strings, comments and the `<->` arrow.
/// The real engine overrides it with the language's own `isCompleteInput(_:)`.
enum ReplInputScanner {
    static func isComplete(_ text: String) -> Bool {
        var stack: [UInt8] = []
        var inString = false
        var statementWords: [String] = []     // first word of the current statement
        var word: [UInt8] = []
        var angleAllowed = false
        let bytes = Array(text.utf8)
        var i = 0
        func endWord() {
            if !word.isEmpty {
                if statementWords.isEmpty {
                    let w = String(decoding: word, as: UTF8.self)
                    statementWords.append(w)
                    angleAllowed = (w == "ns" || w == "bridge")
                }
                word.removeAll()
            }
        }
        func endStatement() { endWord(); statementWords.removeAll(); angleAllowed = false }
        while i < bytes.count {
            let c = bytes[i]
            if inString {
                if c == UInt8(ascii: "\\"), i + 1 < bytes.count { i += 2; continue }
                if c == UInt8(ascii: "\"") { inString = false }
                i += 1; continue
            }
            switch c {
            case UInt8(ascii: "#"):
                endWord()
                while i < bytes.count, bytes[i] != UInt8(ascii: "\n") { i += 1 }
                continue
            case UInt8(ascii: "\""):
                endWord(); inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["), UInt8(ascii: "("):
                endWord()
                stack.append(c)
                if c == UInt8(ascii: "{") { statementWords.removeAll(); angleAllowed = false }
            case UInt8(ascii: "}"), UInt8(ascii: "]"), UInt8(ascii: ")"):
                endWord()
                let open: UInt8 = c == UInt8(ascii: "}") ? UInt8(ascii: "{") : c == UInt8(ascii: "]") ? UInt8(ascii: "[") : UInt8(ascii: "(")
                if let last = stack.lastIndex(of: open) { stack.removeSubrange(last...) }
                if c == UInt8(ascii: "}") { statementWords.removeAll(); angleAllowed = false }
            case UInt8(ascii: "<"):
                endWord()
                let next = i + 1 < bytes.count ? bytes[i + 1] : 0
                if next == UInt8(ascii: "-") || next == UInt8(ascii: "=") { i += 2; continue }  // <-> or <=
                if angleAllowed { stack.append(c) }
            case UInt8(ascii: ">"):
                endWord()
                if let last = stack.last, last == UInt8(ascii: "<") { stack.removeLast() }
            case UInt8(ascii: "\n"), UInt8(ascii: ";"):
                // Newlines inside < > [ ] ( ) do not end a statement.
                if stack.last == nil || stack.last == UInt8(ascii: "{") { endStatement() } else { endWord() }
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                endWord()
            default:
                word.append(c)
            }
            i += 1
        }
        return stack.isEmpty && !inString
    }
}
