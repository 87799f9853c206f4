import Glibc

/// What can go wrong talking to the kernel.
public enum NetlinkError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kernel refused a request: `errno` (positive) and its extended-ack text
    /// (NLMSGERR_ATTR_MSG), e.g. `File exists (ipv4: Address already assigned)`.
    case kernel(errno: Int32, message: String?)
    /// A system call failed.
    case system(call: String, errno: Int32)
    /// A reply could not be decoded.
    case malformed(String)
    /// A request was not built: the argument is invalid (bad name, address length…).
    case invalidArgument(String)
    /// The acknowledgement of a batched request never arrived (e.g. the receive buffer
    /// overflowed); the request may or may not have been applied.
    case missingAck(sequence: UInt32)

    /// The errno, for kernel and system errors.
    public var errno: Int32? {
        switch self {
        case .kernel(let e, _), .system(_, let e): return e
        default: return nil
        }
    }

    /// `strerror(errno)`, for kernel and system errors.
    public var errnoText: String? { errno.map(NetlinkError.strerrorText) }

    /// The kernel's extended-ack message, if any.
    public var kernelMessage: String? {
        if case .kernel(_, let m) = self { return m }
        return nil
    }

    public var description: String {
        switch self {
        case .kernel(let e, let m):
            let base = NetlinkError.strerrorText(e)
            if let m, !m.isEmpty { return "\(base) (\(m))" }
            return base
        case .system(let call, let e): return "\(call): \(NetlinkError.strerrorText(e))"
        case .malformed(let s): return "malformed netlink message: \(s)"
        case .invalidArgument(let s): return s
        case .missingAck(let seq): return "no acknowledgement for request \(seq) (receive buffer overflow?)"
        }
    }

    static func strerrorText(_ e: Int32) -> String {
        guard let p = strerror(e) else { return "errno \(e)" }
        return String(cString: p)
    }
}

/// Runs a system call, retrying on EINTR; throws `.system(call:errno:)` on -1.
@discardableResult
func syscallChecked<T: BinaryInteger>(_ name: String, _ body: () -> T) throws -> T {
    while true {
        let r = body()
        if r == -1 {
            let e = Glibc.errno
            if e == EINTR { continue }
            throw NetlinkError.system(call: name, errno: e)
        }
        return r
    }
}
