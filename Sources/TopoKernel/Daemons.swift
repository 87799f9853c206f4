#if canImport(Glibc)
import Glibc
#endif

/// The start time of a process (`/proc/PID/stat` field 22, clock ticks since boot), or nil
/// when there is no such process.
public func processStartTime(_ pid: Int32) -> UInt64? {
    guard pid > 0 else { return nil }
    let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buf = [UInt8](repeating: 0, count: 4096)
    var n = 0
    while true {
        n = read(fd, &buf, buf.count)
        if n < 0 && errno == EINTR { continue }
        break
    }
    guard n > 0 else { return nil }
    // The command (field 2) is in parentheses and may hold spaces: count fields after the last `)`.
    guard let close = buf[0..<n].lastIndex(of: UInt8(ascii: ")")) else { return nil }
    let rest = buf[(close + 1)..<n].split(separator: UInt8(ascii: " "))
    // rest[0] is field 3 (state); field 22 is rest[19].
    guard rest.count > 19 else { return nil }
    return UInt64(String(decoding: rest[19], as: UTF8.self))
}

/// True when `pid` is alive, is not a zombie, and started at `startTime` (so a reused pid is
/// never mistaken for the daemon).
public func daemonIsRunning(pid: Int32, startTime: UInt64) -> Bool {
    processStartTime(pid) == startTime && !processIsZombie(pid)
}

func processIsZombie(_ pid: Int32) -> Bool {
    let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return true }
    defer { close(fd) }
    var buf = [UInt8](repeating: 0, count: 4096)
    let n = read(fd, &buf, buf.count)
    guard n > 0, let close = buf[0..<n].lastIndex(of: UInt8(ascii: ")")), close + 2 < n else { return true }
    return buf[close + 2] == UInt8(ascii: "Z")
}

/// Stops a daemon: SIGTERM to its process group (it leads one: it was started with setsid),
/// then SIGKILL after `grace` seconds if it still runs. Never signals a pid whose start time
/// differs (a reused pid).
@discardableResult
public func stopDaemon(pid: Int32, startTime: UInt64, grace: Double = 5) -> Bool {
    guard daemonIsRunning(pid: pid, startTime: startTime) else { return true }
    kill(-pid, SIGTERM)
    kill(pid, SIGTERM)
    var waited = 0.0
    while waited < grace {
        if !daemonIsRunning(pid: pid, startTime: startTime) { return true }
        usleep(50_000)
        waited += 0.05
    }
    guard daemonIsRunning(pid: pid, startTime: startTime) else { return true }
    kill(-pid, SIGKILL)
    kill(pid, SIGKILL)
    return true
}
