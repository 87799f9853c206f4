// The executor's view of daemons: thin names over `Processes` (Process.swift).

/// True when `pid` is alive, is not a zombie, and started at `startTime` (so a reused pid is
/// never mistaken for the daemon).
public func daemonIsRunning(pid: Int32, startTime: UInt64) -> Bool {
    Processes.isRunning(pid: pid, startTime: startTime)
}

/// Stops a daemon: SIGTERM to its process group, SIGKILL after `grace` seconds if it still
/// runs; a pid whose start time differs (reused) is never signalled.
@discardableResult
public func stopDaemon(pid: Int32, startTime: UInt64, grace: Double = 5) -> DaemonStopOutcome {
    Processes.stop(pid: pid, startTime: startTime, grace: grace)
}
