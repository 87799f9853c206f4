import Glibc
import TopoLanguage

/// Writes a line to standard error (all of it: a NUL in the text does not end it).
func printError(_ s: String) {
    writeAll(s + "\n", to: stderr)
}

/// Writes text to standard output, adding a final newline if it lacks one.
func writeOut(_ s: String) {
    writeAll(s.hasSuffix("\n") || s.isEmpty ? s : s + "\n", to: stdout)
}

private func writeAll(_ s: String, to stream: UnsafeMutablePointer<FILE>) {
    var s = s
    s.withUTF8 { buf in _ = fwrite(buf.baseAddress, 1, buf.count, stream) }
}

/// What reading a script gave.
enum ReadOutcome {
    case bytes([UInt8])
    /// More than `limit` bytes: reading stopped there. `prefix` is what was read.
    case tooLarge(prefix: [UInt8], limit: Int)
    /// `errno` of the failed open or read.
    case failed(Int32)
}

/// Reads a whole file (or standard input when `path` is nil), but never more than `limit`
/// bytes: a pipe, a FIFO or a device such as `/dev/zero` that does not end is read only up
/// to the limit, so memory stays bounded whatever the input is.
func readBounded(path: String?, limit: Int = SourceFile.maxSize) -> ReadOutcome {
    var fd: Int32 = 0
    if let path {
        repeat { fd = open(path, O_RDONLY | O_CLOEXEC) } while fd < 0 && errno == EINTR
        if fd < 0 { return .failed(errno) }
    }
    defer { if path != nil { close(fd) } }
    // One buffer, grown by doubling up to one byte past the limit (enough to know it was
    // passed); read straight into it.
    var data = [UInt8](repeating: 0, count: min(limit + 1, 1 << 16))
    var count = 0
    while true {
        if count == data.count {
            if data.count > limit { break }
            data += [UInt8](repeating: 0, count: min(data.count, limit + 1 - data.count))
        }
        let n = data.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
        if n < 0 {
            if errno == EINTR { continue }
            return .failed(errno)
        }
        if n == 0 { break }
        count += n
    }
    if count > limit {
        data.removeSubrange(limit...)
        return .tooLarge(prefix: data, limit: limit)
    }
    data.removeSubrange(count...)
    return .bytes(data)
}

/// Reads a whole file (or standard input when `path` is nil), at most `SourceFile.maxSize`
/// bytes. Nil on error (errno set) or when the file is larger (errno is EFBIG).
func readWhole(path: String?) -> String? {
    switch readBounded(path: path) {
    case .bytes(let b): return String(decoding: b, as: UTF8.self)
    case .tooLarge:
        errno = EFBIG
        return nil
    case .failed(let e):
        errno = e
        return nil
    }
}

/// `16 MiB` for a size in bytes that is a whole number of MiB, else `N bytes`.
func sizeText(_ n: Int) -> String {
    n % (1 << 20) == 0 ? "\(n >> 20) MiB" : "\(n) bytes"
}
