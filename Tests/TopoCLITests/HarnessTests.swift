import Foundation
import Testing

/// The harness's own behaviour: a child that stops reading its input early must not take the
/// test process down with SIGPIPE (it would end the whole run, every suite with it).
@Suite struct HarnessTests {
    @Test func aChildThatReadsNothingGetsNoSIGPIPEToTheRunner() throws {
        // 1 MiB is more than a pipe holds, so the write is still going when `true` exits.
        let r = try runProcess(["/bin/true"], stdin: String(repeating: "x", count: 1 << 20))
        #expect(r.status == 0)
    }

    @Test func aChildThatWritesBeforeReadingDoesNotDeadlock() throws {
        // The child's first 256 KiB of output fill its stdout pipe before it reads its input.
        let r = try runProcess(["/bin/sh", "-c", "head -c 262144 /dev/zero; cat >/dev/null"],
                               stdin: String(repeating: "y", count: 1 << 20), timeout: 30)
        #expect(r.status == 0)
        #expect(r.stdout.utf8.count == 262_144)
    }
}
