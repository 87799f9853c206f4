import Glibc

/// Writes a line to standard error.
func printError(_ s: String) {
    fputs(s + "\n", stderr)
}

/// Writes text to standard output, adding a final newline if it lacks one.
func writeOut(_ s: String) {
    fputs(s.hasSuffix("\n") || s.isEmpty ? s : s + "\n", stdout)
}

/// Reads a whole file (or standard input when `path` is nil). Nil on error, with errno set.
func readWhole(path: String?) -> String? {
    let fd: Int32
    if let path {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return nil }
    } else {
        fd = 0
    }
    defer { if path != nil { close(fd) } }
    var data: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            return nil
        }
        if n == 0 { break }
        data += buf[0..<n]
    }
    return String(decoding: data, as: UTF8.self)
}
