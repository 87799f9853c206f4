import Glibc

/// Progress of a long `run` or `destroy`, for a person watching a terminal: one line on
/// standard error, rewritten in place — `topo: [ 42%] 4200/10000 add veth h12:eth0` — and
/// erased at the end. Nothing at all when standard error is not a terminal (`terminal()` is
/// nil then), and nothing for a run that ends within `delay` seconds, so small topologies
/// and scripts see no difference.
///
/// Call `report(done:total:what:)` as work advances (from any thread; it is cheap: it draws
/// at most every `interval` seconds), and `finish()` when done (also on failure, before
/// printing the error).
public final class ProgressReporter: @unchecked Sendable {
    private let fd: Int32
    private let delay: Double
    private let interval: Double
    private let clock: () -> Double
    private let widthOverride: Int?
    private var mutex = pthread_mutex_t()
    private var started: Double?
    private var lastDraw: Double = -.infinity
    private var drawn = false

    /// A reporter on standard error (or `fd`) if it is a terminal; nil otherwise.
    public static func terminal(fd: Int32 = 2, delay: Double = 0.5) -> ProgressReporter? {
        isatty(fd) != 0 ? ProgressReporter(fd: fd, delay: delay) : nil
    }

    /// - Parameters:
    ///   - delay: seconds after the first report before anything is drawn.
    ///   - interval: at least this long between two drawings.
    ///   - width: the line width (default: the terminal's, else 80).
    ///   - clock: seconds on a monotonic clock (tests pass their own).
    public init(fd: Int32, delay: Double = 0.5, interval: Double = 0.1, width: Int? = nil,
                clock: (() -> Double)? = nil) {
        self.fd = fd
        self.delay = delay
        self.interval = interval
        self.widthOverride = width
        self.clock = clock ?? { monotonicNow() }
        pthread_mutex_init(&mutex, nil)
    }

    deinit { pthread_mutex_destroy(&mutex) }

    /// `done` of `total` steps are finished; `what` is the step under way (`add veth h1:eth0`).
    public func report(done: Int, total: Int, what: String) {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        let now = clock()
        if started == nil { started = now }
        guard let s = started, now - s >= delay, now - lastDraw >= interval || done >= total else { return }
        lastDraw = now
        write("\r\u{1B}[K" + ProgressReporter.line(done: done, total: total, what: what, width: width()))
        drawn = true
    }

    /// Erases the line, if one was drawn.
    public func finish() {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        if drawn { write("\r\u{1B}[K") }
        drawn = false
        started = nil
        lastDraw = -.infinity
    }

    /// `topo: [ 42%] 4200/10000 add veth h12:eth0`, cut to `width - 1` characters (so the
    /// cursor never wraps).
    public static func line(done: Int, total: Int, what: String, width: Int) -> String {
        let d = max(0, min(done, total))
        let percent = total > 0 ? d * 100 / total : 100
        let p = String(percent)
        var s = "topo: [" + String(repeating: " ", count: max(0, 3 - p.count)) + p + "%] \(d)/\(total)"
        if !what.isEmpty { s += " " + what.map { $0 == "\n" || $0 == "\r" ? " " : $0 } }
        let limit = max(10, width - 1)
        return s.count > limit ? String(s.prefix(limit - 1)) + "…" : s
    }

    private func width() -> Int {
        if let w = widthOverride { return w }
        var ws = winsize()
        if ioctl(fd, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0 { return Int(ws.ws_col) }
        return 80
    }

    private func write(_ s: String) {
        let bytes = Array(s.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n > 0 { off += n } else if n < 0 && errno == EINTR { continue } else { return }
        }
    }
}
