import Foundation
import Testing
@testable import topo

/// Hostile and careless input, fed to the built `topo` binary: each row must end in a clear
/// error with a position, exit 1 (never a signal), a peak memory (the child's max RSS, from
/// `wait4`) under 256 MB and under 2 s of CPU time. Nothing the script holds may reach the
/// terminal raw. One row per input; `$IN` in the arguments and the expected text is the
/// input's path. A row per crash the fuzzer ever found belongs here too.
@Suite(.serialized) struct BadInputCLITests {
    enum Input: Sendable {
        /// A file with these bytes, passed as `$IN`.
        case file(@Sendable () -> [UInt8])
        /// The file's bytes on standard input (and `$IN` is `-`).
        case stdin(@Sendable () -> [UInt8])
        /// A path as it is (`/dev/zero`).
        case path(String)
        /// Standard input opened from a path (`/dev/zero`).
        case stdinFrom(String)
        /// Standard input is a pipe from this command (which may never end).
        case pipe([String])
        /// `$IN` is a FIFO a writer fills from `/dev/zero` forever.
        case fifo
    }

    struct Row: Sendable, CustomTestStringConvertible {
        var name: String
        var args: [String]
        var input: Input
        /// Must appear in stderr (`$IN` replaced).
        var expect: String
        var testDescription: String { name }
    }

    static func repeated(_ s: String, _ n: Int) -> [UInt8] { Array(String(repeating: s, count: n).utf8) }
    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    /// Deterministic "random" bytes (a 64-bit LCG), so a failure reproduces.
    static func noise(_ n: Int, seed: UInt64) -> [UInt8] {
        var x = seed
        return (0..<n).map { _ in
            x = x &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: x >> 56)
        }
    }

    static let chain10k = bytes("let x = 1" + String(repeating: "+1", count: 10_000) + "\n")
    static let chainError = "$IN:1:406: error: expression nested deeper than 200 levels"

    static let rows: [Row] = [
        Row(name: "10 000 chained operators: check", args: ["check", "$IN"], input: .file { chain10k }, expect: chainError),
        Row(name: "10 000 chained operators: plan", args: ["plan", "$IN"], input: .file { chain10k }, expect: chainError),
        Row(name: "10 000 chained operators: run", args: ["run", "$IN"], input: .file { chain10k }, expect: chainError),
        Row(name: "10 000 chained operators: repl", args: ["repl", "--dry-run"], input: .stdin { chain10k },
            expect: "<repl>:1:406: error: expression nested deeper than 200 levels"),
        Row(name: "5 000 chained operators with blanks", args: ["check", "$IN"],
            input: .file { bytes("let x = 1" + String(repeating: " + 1", count: 5_000)) },
            expect: "$IN:1:803: error: expression nested deeper than 200 levels"),
        Row(name: "1 MB of random bytes", args: ["check", "$IN"], input: .file { noise(1 << 20, seed: 1) },
            expect: " more errors\n"),
        Row(name: "1 MB of random bytes, another seed", args: ["check", "$IN"], input: .file { noise(1 << 20, seed: 2) },
            expect: " more errors\n"),
        Row(name: "50 MB", args: ["check", "$IN"], input: .file { repeated("ns a\n", 10 << 20) },
            expect: "$IN:3355444:2: error: the script is larger than the input limit of 16 MiB; reading stopped here, at byte 16777216"),
        Row(name: "/dev/zero", args: ["check", "$IN"], input: .path("/dev/zero"),
            expect: "/dev/zero:1:16777217: error: the script is larger than the input limit of 16 MiB"),
        Row(name: "/dev/zero on stdin", args: ["plan", "-"], input: .stdinFrom("/dev/zero"),
            expect: "<stdin>:1:16777217: error: the script is larger than the input limit of 16 MiB"),
        Row(name: "endless pipe", args: ["check", "-"], input: .pipe(["/usr/bin/yes", "ns a"]),
            expect: "<stdin>:3355444:2: error: the script is larger than the input limit of 16 MiB"),
        Row(name: "endless FIFO", args: ["check", "$IN"], input: .fifo,
            expect: "$IN:1:16777217: error: the script is larger than the input limit of 16 MiB"),
        Row(name: "/dev/zero into the repl", args: ["repl", "--dry-run"], input: .stdinFrom("/dev/zero"),
            expect: "error: a line is longer than the input limit of 16 MiB; reading stopped"),
        Row(name: "NUL byte", args: ["check", "$IN"], input: .file { bytes("ns a\u{0}b\nns c\n") },
            expect: "$IN:1:5: error: NUL byte in the script\n  1 | ns a\\0b\n    |     ^^\n"),
        Row(name: "NUL bytes, a megabyte", args: ["check", "$IN"], input: .file { [UInt8](repeating: 0, count: 1 << 20) },
            expect: "$IN:1:1: error: 1048576 NUL bytes in the script"),
        Row(name: "invalid UTF-8", args: ["check", "$IN"], input: .file { bytes("ns a") + [0xFF] + bytes("b\nns \"") + [0xC3] + bytes("\"\n") },
            expect: "$IN:1:5: error: invalid UTF-8 byte `\\xff`\n  1 | ns a\\xffb\n    |     ^^^^\n"),
        Row(name: "invalid UTF-8 in a string", args: ["check", "$IN"], input: .file { bytes("ns \"a") + [0xFE] + bytes("\"\n") },
            expect: "$IN:1:6: error: invalid UTF-8 byte `\\xfe` in a string"),
        Row(name: "terminal escape sequences", args: ["check", "$IN"],
            input: .file { bytes("ns \u{1B}[2J\u{1B}[31mred\nns \"a\u{1B}]0;pwned\u{7}\"\n# \u{1B}[5m\u{9B}1m comment\nns b c\n") },
            expect: "$IN:1:4: error: unexpected control character `\\u{1b}`\n  1 | ns \\u{1b}[2J\\u{1b}[31mred\n"),
        Row(name: "bidi override in a string", args: ["check", "$IN"], input: .file { bytes("exec h \"\u{202E}dm- fr\"\n") },
            expect: "$IN:1:9: error: bidirectional text control `\\u{202e}` in a string"),
        Row(name: "100 000 ( deep", args: ["check", "$IN"], input: .file { bytes("let x = ") + repeated("(", 100_000) },
            expect: "$IN:1:209: error: nesting deeper than 200 levels"),
        Row(name: "100 000 [ deep", args: ["check", "$IN"], input: .file { bytes("let x = ") + repeated("[", 100_000) },
            expect: "$IN:1:209: error: nesting deeper than 200 levels"),
        Row(name: "20 000 interpolations deep", args: ["check", "$IN"],
            input: .file { bytes("ns h") + repeated("{\"", 20_000) + bytes("x") + repeated("\"}", 20_000) },
            expect: "$IN:1:205: error: interpolation nested deeper than 200 levels"),
        Row(name: "100 000 { unclosed", args: ["check", "$IN"], input: .file { bytes("ns h") + repeated("{", 100_000) },
            expect: "$IN:1:100005: error: `}` expected (to close `{` at 1:5)"),
        Row(name: "100 000 blocks deep", args: ["check", "$IN"], input: .file { repeated("if true {", 100_000) },
            expect: "$IN:1:1804: error: nesting deeper than 200 levels"),
        Row(name: "100 000 < deep", args: ["check", "$IN"], input: .file { bytes("bridge b ") + repeated("<", 100_000) },
            expect: "$IN:1:11: error: expected an interface name or `>`, found `<`"),
        Row(name: "100 000 > in a list", args: ["check", "$IN"], input: .file { bytes("ns a < ") + repeated("> ", 100_000) },
            expect: "$IN:1:10: error: expected end of statement (a newline or `;`), found `>`"),
        Row(name: "100 000 not", args: ["check", "$IN"], input: .file { bytes("let x = ") + repeated("not ", 100_000) + bytes("true") },
            expect: "$IN:1:809: error: nesting deeper than 200 levels"),
        Row(name: "100 000 minus signs", args: ["check", "$IN"], input: .file { bytes("let x = ") + repeated("-", 100_000) + bytes("1") },
            expect: "$IN:1:209: error: nesting deeper than 200 levels"),
        Row(name: "recursive template with nested blocks", args: ["check", "$IN"],
            input: .file { bytes("def f(n) {\n" + String(repeating: "if true {", count: 150) + "f(n)" + String(repeating: "}", count: 150) + "\n}\nf(1)\n") },
            expect: "error: blocks and template expansions nested deeper than 200 levels"),
        Row(name: "a 4 MB namespace name", args: ["check", "$IN"], input: .file { bytes("ns ") + repeated("a", 4 << 20) },
            expect: "$IN:1:4: error: namespace name is 4194304 bytes long; at most 255 are allowed"),
        Row(name: "a 4 MB interface name", args: ["check", "$IN"], input: .file { bytes("veth ") + repeated("a", 4 << 20) + bytes(" <-> b") },
            expect: "$IN:1:6: error: interface name `aaaa"),
        Row(name: "a 4 MB variable name", args: ["check", "$IN"], input: .file { bytes("let x = ") + repeated("v", 4 << 20) },
            expect: "$IN:1:9: error: undefined variable `vvvv"),
        Row(name: "a 1 MB integer", args: ["check", "$IN"], input: .file { bytes("let x = ") + repeated("9", 1 << 20) },
            expect: "$IN:1:9: error: integer literal `9999"),
        Row(name: "a 1 MB address", args: ["check", "$IN"], input: .file { bytes("addr a 10.0.0.") + repeated("1", 1 << 20) + bytes("/24") },
            expect: "$IN:1:8: error: invalid IPv4 prefix `10.0.0.111"),
        Row(name: "huge arithmetic", args: ["check", "$IN"], input: .file { bytes("let x = 9223372036854775807 + 1\n") },
            expect: "$IN:1:9: error: integer overflow"),
        Row(name: "1 MB of one stray character", args: ["check", "$IN"], input: .file { bytes("ns a ") + repeated("$", 1 << 20) },
            expect: "$IN:1:6: error: unexpected character `$` (1048576 in a row)"),
        Row(name: "20 000 errors", args: ["check", "$IN"], input: .file { repeated("nope\n", 20_000) },
            expect: "$IN:10001:1: error: too many errors (10000); parsing stopped here\n"),
        Row(name: "half a million tokens", args: ["check", "$IN"], input: .file { bytes("let x = [") + repeated("1,", 300_000) + bytes("]") },
            expect: "$IN:1:500006: error: the script has more than 500000 tokens; parsing stopped here"),
    ]

    @Test(arguments: rows)
    func row(_ row: Row) throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        var path = "-"
        var stdinPath: String? = nil
        var producer: [String]? = nil
        switch row.input {
        case .file(let make):
            path = dir.appendingPathComponent("in.topo").path
            try Data(make()).write(to: URL(fileURLWithPath: path))
        case .stdin(let make):
            stdinPath = dir.appendingPathComponent("stdin.topo").path
            try Data(make()).write(to: URL(fileURLWithPath: stdinPath!))
        case .path(let p): path = p
        case .stdinFrom(let p): stdinPath = p
        case .pipe(let cmd): producer = cmd
        case .fifo:
            path = dir.appendingPathComponent("fifo.topo").path
            #expect(mkfifo(path, 0o600) == 0)
            producer = ["/bin/sh", "-c", "exec cat /dev/zero > '\(path)'"]
        }
        let args = row.args.map { $0 == "$IN" ? path : $0 }
        let m = try measure([topoBinary] + args, stdinPath: stdinPath, producer: producer,
                            fifoWriter: { if case .fifo = row.input { return true }; return false }())
        let name = row.name.padding(toLength: 42, withPad: " ", startingAt: 0)
        print("bad input: \(name) \(m.how)  " + String(format: "wall %5.2f s  cpu %5.2f s  max RSS %6.1f MB", m.wall, m.cpu, m.maxRSSMB))
        #expect(m.how == "exit 1", "\(row.name): \(m.how)\n\(m.stderr.prefix(2000))")
        #expect(m.maxRSSMB < 256, "\(row.name): max RSS \(m.maxRSSMB) MB")
        #expect(m.cpu < 2, "\(row.name): \(m.cpu) s of CPU")
        let expected = row.expect.replacingOccurrences(of: "$IN", with: path)
        #expect(m.stderr.contains(expected), "\(row.name): stderr lacks \(expected)\n\(m.stderr.prefix(3000))")
        let raw = m.stderr.unicodeScalars.first {
            ($0.value < 0x20 && $0 != "\n") || (0x7F...0x9F).contains($0.value) || (0x202A...0x202E).contains($0.value)
        }
        #expect(raw == nil, "\(row.name): stderr holds a raw U+\(String(raw?.value ?? 0, radix: 16))")
        #expect(m.stderr.utf8.count < 200_000, "\(row.name): \(m.stderr.utf8.count) bytes of diagnostics")
    }

    /// Each `def` used to leak its scope (a reference cycle); memory must not grow with the
    /// number of `def`s run. 30 000 against 300 000: a leak of 430 bytes each shows as 100 MB.
    @Test func defDoesNotLeak() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        func rss(_ n: Int) throws -> Double {
            let path = dir.appendingPathComponent("def\(n).topo").path
            try "for i in 1..\(n) {\n  def f(x) { let y = x }\n  f(i)\n}\n".write(toFile: path, atomically: true, encoding: .utf8)
            let m = try measure([topoBinary, "check", path], stdinPath: nil, producer: nil, fifoWriter: false)
            #expect(m.how == "exit 0", "\(m.stderr)")
            return m.maxRSSMB
        }
        let small = try rss(30_000), large = try rss(300_000)
        print(String(format: "def leak: 30 000 defs %.1f MB, 300 000 defs %.1f MB", small, large))
        #expect(large - small < 20, "memory grows with def calls: \(small) MB → \(large) MB")
    }

    /// The REPL's plain reader keeps NUL for the lexer, refuses bytes that are not UTF-8 and
    /// stops at the limit instead of storing an endless line.
    @Test func replReaderIsBoundedAndByteExact() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("lines").path
        try Data(Self.bytes("ns a\u{0}b\r\nns ") + [0xFF] + Self.bytes("\n") + Self.repeated("x", 50) + Self.bytes("\nns c")).write(to: URL(fileURLWithPath: path))
        let f = try #require(fopen(path, "r"))
        defer { fclose(f) }
        #expect(ReplPlainReader.read(f, limit: 20) == .line("ns a\u{0}b"))
        guard case .rejected(let why) = ReplPlainReader.read(f, limit: 20) else { Issue.record("not refused"); return }
        #expect(why.hasPrefix("error: a line that is not UTF-8 was skipped\n<repl>:1:4: error: invalid UTF-8 byte `\\xff`"))
        #expect(ReplPlainReader.read(f, limit: 20) == .tooLong)
    }

    static func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("topo-bad-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}

/// What one child did, measured by `wait4`.
struct Measured {
    var how: String  // "exit N" or "signal N" or "killed after timeout"
    var wall: Double
    var cpu: Double
    var maxRSSMB: Double
    var stderr: String
}

/// GNU time, when installed (CI installs it): the measured command runs as its child.
let gnuTime: String? = FileManager.default.isExecutableFile(atPath: "/usr/bin/time") ? "/usr/bin/time" : nil

/// Runs `argv` with stdout to /dev/null and stderr to a file, stdin from `stdinPath`, from a
/// pipe fed by `producer`, or /dev/null; returns its exit and its resource use from `wait4`.
/// A child still running after 30 s is killed (the row then fails, never hangs).
///
/// The max RSS `wait4` reports for a direct child of this (large) test process is at least
/// this process's own peak: Linux carries the old address space's high-water mark into the
/// child's at `exec`, and `posix_spawn` (like `fork`) starts from ours. So the command runs
/// under GNU time, a small process whose own `wait4` of its child is exact; CPU time comes
/// from our `wait4`, which includes time's reaped child. Without GNU time the bound is
/// looser (our peak or the child's, whichever is higher).
func measure(_ argv: [String], stdinPath: String?, producer: [String]?, fifoWriter: Bool) throws -> Measured {
    let tag = "\(getpid())-\(UUID().uuidString)"
    let errPath = FileManager.default.temporaryDirectory.appendingPathComponent("topo-stderr-\(tag)").path
    let usagePath = FileManager.default.temporaryDirectory.appendingPathComponent("topo-rusage-\(tag)").path
    defer { unlink(errPath); unlink(usagePath) }
    var producerPID: pid_t = 0
    var pipeFDs: [Int32] = [-1, -1]
    if let producer {
        if !fifoWriter { #expect(pipe(&pipeFDs) == 0) }
        producerPID = try spawn(producer, stdin: nil, stdinFD: nil, stdoutFD: fifoWriter ? nil : pipeFDs[1], stderrPath: "/dev/null",
                                closeFDs: fifoWriter ? [] : [pipeFDs[0]])
        if !fifoWriter { close(pipeFDs[1]) }
    }
    let command = gnuTime.map { [$0, "-o", usagePath, "-f", "%M"] + argv } ?? argv
    let start = Date()
    let pid = try spawn(command, stdin: stdinPath, stdinFD: producer != nil && !fifoWriter ? pipeFDs[0] : nil, stdoutFD: nil,
                        stderrPath: errPath, closeFDs: [])
    if producer != nil && !fifoWriter { close(pipeFDs[0]) }
    var status: Int32 = 0
    var usage = rusage()
    var how = ""
    let deadline = Date().addingTimeInterval(30)
    while true {
        let r = wait4(pid, &status, WNOHANG, &usage)
        if r == pid { break }
        if r < 0 && errno != EINTR { how = "wait4 failed: \(errno)"; break }
        if Date() > deadline {
            kill(pid, SIGKILL)
            _ = wait4(pid, &status, 0, &usage)
            how = "killed after timeout"
            break
        }
        usleep(2_000)
    }
    let wall = Date().timeIntervalSince(start)
    if producerPID > 0 {
        kill(producerPID, SIGKILL)
        var s: Int32 = 0
        _ = waitpid(producerPID, &s, 0)
    }
    var maxRSS = Double(usage.ru_maxrss) / 1024
    if how.isEmpty {
        // WIFEXITED / WEXITSTATUS / WTERMSIG by hand (the macros are not imported).
        if status & 0x7F == 0 { how = "exit \((status >> 8) & 0xFF)" } else { how = "signal \(status & 0x7F)" }
    }
    if gnuTime != nil, how.hasPrefix("exit") {
        // time's report: "Command terminated by signal N" / "… non-zero status N", then %M (KB).
        let report = (try? String(contentsOfFile: usagePath, encoding: .utf8)) ?? ""
        let lines = report.split(separator: "\n")
        if let kb = lines.last.flatMap({ Double($0) }) { maxRSS = kb / 1024 }
        if let sig = lines.first(where: { $0.hasPrefix("Command terminated by signal ") }) {
            how = "signal " + sig.dropFirst("Command terminated by signal ".count)
        }
    }
    let cpu = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    let err = (try? Data(contentsOf: URL(fileURLWithPath: errPath))) ?? Data()
    return Measured(how: how, wall: wall, cpu: cpu, maxRSSMB: maxRSS, stderr: String(decoding: err, as: UTF8.self))
}

/// posix_spawn with stdin from a path or a descriptor (else /dev/null), stdout to a
/// descriptor (else /dev/null), stderr to a file; `NO_COLOR=1`.
func spawn(_ argv: [String], stdin: String?, stdinFD: Int32?, stdoutFD: Int32?, stderrPath: String,
           closeFDs: [Int32]) throws -> pid_t {
    var fa = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&fa)
    defer { posix_spawn_file_actions_destroy(&fa) }
    if let stdinFD {
        posix_spawn_file_actions_adddup2(&fa, stdinFD, 0)
    } else {
        posix_spawn_file_actions_addopen(&fa, 0, stdin ?? "/dev/null", O_RDONLY, 0)
    }
    if let stdoutFD {
        posix_spawn_file_actions_adddup2(&fa, stdoutFD, 1)
    } else {
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0)
    }
    posix_spawn_file_actions_addopen(&fa, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    for fd in closeFDs { posix_spawn_file_actions_addclose(&fa, fd) }
    var env = ProcessInfo.processInfo.environment
    env["NO_COLOR"] = "1"
    let cArgs = argv.map { strdup($0) } + [nil]
    let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        cArgs.forEach { free($0) }
        cEnv.forEach { free($0) }
    }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, argv[0], &fa, nil, cArgs, cEnv)
    guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EINVAL) }
    return pid
}
