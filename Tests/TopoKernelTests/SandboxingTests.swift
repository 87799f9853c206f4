import Glibc
import Testing
@testable import TopoKernel

/// The one line `topo sandbox` prints when the kernel refuses a user namespace, for each
/// setting that can forbid it (read from a fake /proc/sys).
@Suite struct SandboxRefusalTests {
    static func message(_ sysctls: [String: String], errno e: Int32 = EPERM) -> String {
        Sandboxing.userNamespaceRefusal(errno: e, step: "unshare(CLONE_NEWUSER)") { sysctls[$0] }
    }

    @Test func debiansSwitch() {
        let m = Self.message(["/proc/sys/kernel/unprivileged_userns_clone": "0\n", "/proc/sys/user/max_user_namespaces": "15000\n"])
        #expect(m.hasPrefix("unprivileged user namespaces are disabled: kernel.unprivileged_userns_clone is 0"))
        #expect(m.contains("sysctl -w kernel.unprivileged_userns_clone=1"))
    }

    @Test func theLimitIsZeroOrReached() {
        let zero = Self.message(["/proc/sys/user/max_user_namespaces": "0\n"], errno: ENOSPC)
        #expect(zero.hasPrefix("user namespaces are disabled: user.max_user_namespaces is 0"))
        let reached = Self.message(["/proc/sys/user/max_user_namespaces": "10\n"], errno: ENOSPC)
        #expect(reached.hasPrefix("the user namespace limit is reached: user.max_user_namespaces is 10"))
    }

    @Test func appArmor() {
        let m = Self.message(["/proc/sys/kernel/apparmor_restrict_unprivileged_userns": "1\n",
                              "/proc/sys/user/max_user_namespaces": "15000\n"], errno: EACCES)
        #expect(m.hasPrefix("AppArmor restricts unprivileged user namespaces: kernel.apparmor_restrict_unprivileged_userns is 1"))
    }

    @Test func otherwiseTheErrorItself() {
        #expect(Self.message(["/proc/sys/user/max_user_namespaces": "15000"]) ==
                "cannot create a user namespace (unshare(CLONE_NEWUSER)): Operation not permitted")
        #expect(Self.message([:], errno: EUSERS).contains("too deeply nested"))
        // A setting that allows them is not blamed.
        #expect(!Self.message(["/proc/sys/kernel/unprivileged_userns_clone": "1"]).contains("unprivileged_userns_clone"))
    }

    @Test func thisProcessCountsItsThreads() {
        #expect(Sandboxing.threadCount() >= 1)
    }
}
