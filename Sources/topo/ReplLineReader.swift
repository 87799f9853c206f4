#if canImport(Glibc)
import Glibc
#endif
import CReadline
import TopoLanguage

/// One read from the user.
enum ReplLine: Hashable, Sendable {
    /// A line, without its newline.
    case line(String)
    /// Ctrl-C: abandon the current input (the whole multi-line block).
    case interrupted
    /// Ctrl-D on an empty line, or end of input.
    case endOfInput
    /// A line that was read but cannot be taken (too long, not UTF-8), and why.
    case rejected(String)
}

/// Where the REPL's lines come from: readline on a terminal, plain reads otherwise.
protocol ReplLineSource: AnyObject {
    /// Reads one line; `continuing` is true while a multi-line block is open (continuation prompt).
    func read(continuing: Bool) -> ReplLine
    /// Records an accepted line in the history (no-op without a terminal).
    func remember(_ line: String)
    /// Restores the terminal and signal handling.
    func close()
}

/// Not a terminal: plain `getline` on stdin, no prompt, no escape codes, no history.
final class PlainLineSource: ReplLineSource {
    private var ended = false
    func read(continuing: Bool) -> ReplLine {
        if ended { return .endOfInput }
        switch ReplPlainReader.read(stdin) {
        case .line(let l): return .line(l)
        case .rejected(let why): return .rejected(why)
        case .tooLong:
            ended = true
            return .rejected("error: a line is longer than the input limit of \(SourceFile.maxSize >> 20) MiB; reading stopped")
        case .end: return .endOfInput
        }
    }
    func remember(_ line: String) {}
    func close() {}
}

/// The history file: `$XDG_STATE_HOME/topo/history`, else `~/.topo_history`.
func replHistoryPath(environment: [String: String]) -> String? {
    if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") {
        return state + "/topo/history"
    }
    if let home = environment["HOME"], !home.isEmpty {
        return home + "/.topo_history"
    }
    return nil
}

/// Creates every missing directory on the way to `path`'s parent (mode 0700).
func replMakeParentDirectories(of path: String) {
    var components = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    components.removeLast()
    var current = ""
    for c in components where !c.isEmpty {
        current += "/" + c
        _ = mkdir(current, 0o700)
    }
}

// MARK: - Readline glue. Readline is a process-wide singleton with C callbacks, so its Swift
// state lives in these globals, touched only from the thread running the REPL.

private nonisolated(unsafe) var activeReader: ReadlineLineSource?
private nonisolated(unsafe) var pendingMatches: [String] = []
private nonisolated(unsafe) var pendingMatchIndex = 0
private nonisolated(unsafe) var lineResult: ReplLine?
/// The self-pipe a SIGINT handler writes to (write(2) is async-signal-safe).
private nonisolated(unsafe) var interruptPipe: (read: Int32, write: Int32) = (-1, -1)

private let sigintHandler: @convention(c) (Int32) -> Void = { _ in
    let saved = errno
    var byte: UInt8 = 3
    _ = write(interruptPipe.write, &byte, 1)
    errno = saved
}

/// Set by the Ctrl-C key function: the line being finished is abandoned, not accepted.
private nonisolated(unsafe) var abandonRequested = false

/// Readline's key reader, replaced so a SIGINT (a byte on the self-pipe) reaches readline as the
/// Ctrl-C key even while readline itself is waiting for input (its own getc would block again).
private let interruptibleGetc: @convention(c) (UnsafeMutablePointer<FILE>?) -> Int32 = { stream in
    let fd = stream.map { fileno($0) } ?? STDIN_FILENO
    while true {
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: interruptPipe.read, events: Int16(POLLIN), revents: 0)]
        let n = poll(&fds, 2, -1)
        if drainInterruptPipe() { return 3 }                 // Ctrl-C
        if n < 0 { if errno == EINTR { continue }; return EOF }
        if fds[0].revents != 0 {
            var c: UInt8 = 0
            let r = Glibc.read(fd, &c, 1)
            if r == 1 { return Int32(c) }
            if r < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            return EOF
        }
    }
}

private func drainInterruptPipe() -> Bool {
    var byte: UInt8 = 0, any = false
    while Glibc.read(interruptPipe.read, &byte, 1) == 1 { any = true }
    return any
}

/// Bound to Ctrl-C: finish the current line as "abandoned".
private let abandonLine: @convention(c) (Int32, Int32) -> Int32 = { _, _ in
    abandonRequested = true
    rl_done = 1
    return 0
}

private let lineHandler: @convention(c) (UnsafeMutablePointer<CChar>?) -> Void = { text in
    if abandonRequested {
        abandonRequested = false
        free(text)
        lineResult = .interrupted
        fputs("^C\n", stdout)
        fflush(stdout)
    } else if let text {
        lineResult = .line(String(cString: text))
        free(text)
    } else {
        lineResult = .endOfInput
    }
    // Leave callback mode until the REPL asks for the next line: output goes to a normal terminal.
    rl_callback_handler_remove()
}

private let matchGenerator: @convention(c) (UnsafePointer<CChar>?, Int32) -> UnsafeMutablePointer<CChar>? = { _, state in
    if state == 0 { pendingMatchIndex = 0 }
    guard pendingMatchIndex < pendingMatches.count else { return nil }
    defer { pendingMatchIndex += 1 }
    return strdup(pendingMatches[pendingMatchIndex])   // readline frees it
}

private let attemptedCompletion: @convention(c) (UnsafePointer<CChar>?, Int32, Int32) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = { text, start, end in
    guard let reader = activeReader, let text else { return nil }
    var line = ""
    if let buffer = rl_line_buffer {
        line = String(decoding: UnsafeBufferPointer(start: UnsafeRawPointer(buffer).assumingMemoryBound(to: UInt8.self),
                                                    count: Int(max(0, rl_end))), as: UTF8.self)
    }
    switch reader.completer().complete(line: line, start: Int(start), end: Int(end), continuing: reader.continuing) {
    case .filenames:
        rl_attempted_completion_over = 0        // fall back to readline's file-name completion
        return nil
    case let .words(words):
        rl_attempted_completion_over = 1        // no file names where a name is expected
        guard !words.isEmpty else { return nil }
        pendingMatches = words
        return rl_completion_matches(text, matchGenerator)
    }
}

/// A terminal: GNU readline in callback mode, so Ctrl-C can abandon the input and come back to a
/// fresh prompt. History is read from and appended to `historyPath`.
final class ReadlineLineSource: ReplLineSource {
    static let prompt = "topo> "
    static let continuationPrompt = "....> "
    /// Lines kept in the history file.
    static let historyLimit: Int32 = 2000

    let historyPath: String?
    /// Builds the completer from the engine's current names (called on every Tab).
    let completer: () -> ReplCompleter
    fileprivate(set) var continuing = false
    private var lastRemembered: String?
    private var oldSigint = sigaction()

    init(historyPath: String?, completer: @escaping () -> ReplCompleter) {
        self.historyPath = historyPath
        self.completer = completer
        activeReader = self

        rl_readline_name = UnsafePointer(strdup("topo"))
        rl_catch_signals = 0                    // our SIGINT handler decides what Ctrl-C means
        rl_attempted_completion_function = attemptedCompletion
        rl_getc_function = interruptibleGetc
        rl_bind_key(3, abandonLine)
        // `:` is not a word break, so `ns0:ve` completes as one word (`NS:IF`); the completer
        // returns whole `ns0:veth0` matches.
        rl_completer_word_break_characters = UnsafePointer(strdup(" \t\n\"'<>;{}[](),="))

        using_history()
        stifle_history(Self.historyLimit)
        if let path = historyPath {
            replMakeParentDirectories(of: path)
            _ = read_history(path)
            _ = history_truncate_file(path, Self.historyLimit)
        }

        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC); _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
            interruptPipe = (fds[0], fds[1])
        }
        var action = sigaction()
        action.__sigaction_handler.sa_handler = sigintHandler
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0                     // no SA_RESTART: poll() returns EINTR at once
        sigaction(SIGINT, &action, &oldSigint)
    }

    func read(continuing: Bool) -> ReplLine {
        self.continuing = continuing
        lineResult = nil
        _ = drainInterruptPipe()   // a Ctrl-C typed while a statement ran does not eat the next input
        rl_callback_handler_install(continuing ? Self.continuationPrompt : Self.prompt, lineHandler)
        while true {
            var fds = [pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: interruptPipe.read, events: Int16(POLLIN), revents: 0)]
            let n = poll(&fds, 2, -1)
            if drainInterruptPipe() {
                // Abandon the line: forget its state, leave the cursor on a fresh line.
                rl_free_line_state()
                rl_callback_sigcleanup()
                rl_replace_line("", 0)
                rl_callback_handler_remove()
                fputs("^C\n", stdout)
                fflush(stdout)
                return .interrupted
            }
            if n < 0 {
                if errno == EINTR { continue }
                rl_callback_handler_remove()
                return .endOfInput
            }
            if fds[0].revents != 0 {
                rl_callback_read_char()
                if let result = lineResult {
                    if result == .endOfInput { fputs("\n", stdout); fflush(stdout) }
                    return result
                }
            }
        }
    }

    func remember(_ line: String) {
        guard !line.replTrimmed.isEmpty, line != lastRemembered else { return }
        lastRemembered = line
        add_history(line)
        guard let path = historyPath else { return }
        // append_history needs the file to exist.
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        if fd >= 0 { Glibc.close(fd) }
        _ = append_history(1, path)
    }

    func close() {
        rl_callback_handler_remove()
        sigaction(SIGINT, &oldSigint, nil)
        if let path = historyPath { _ = history_truncate_file(path, Self.historyLimit) }
        if activeReader === self { activeReader = nil }
    }
}
