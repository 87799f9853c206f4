import Glibc

/// A small mutex (pthread) guarding a socket's state.
final class Mutex: @unchecked Sendable {
    private let m: UnsafeMutablePointer<pthread_mutex_t>
    init() {
        m = .allocate(capacity: 1)
        m.initialize(to: pthread_mutex_t())
        pthread_mutex_init(m, nil)
    }
    deinit {
        pthread_mutex_destroy(m)
        m.deallocate()
    }
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(m)
        defer { pthread_mutex_unlock(m) }
        return try body()
    }
}

/// An rtnetlink (NETLINK_ROUTE) socket.
///
/// The socket belongs to the network namespace of the thread that created it, for its
/// whole life; to talk to another namespace, create the socket on a `NamespaceThread`
/// that has entered it (`NamespaceThread.openSocket(in:)`), then use it from anywhere.
/// Calls are serialised by an internal lock.
public final class NetlinkSocket: @unchecked Sendable {
    /// The file descriptor (closed on deinit).
    public let fd: Int32
    /// SO_RCVBUF as the kernel reports it (it doubles the requested size).
    public let receiveBufferSize: Int
    /// SO_SNDBUF as the kernel reports it; one send() carries at most this − 32 bytes.
    public let sendBufferSize: Int
    /// How many acks one send() may ask for without overflowing the receive buffer.
    public let maxAcksPerSend: Int

    private var sequence: UInt32
    private let lock = Mutex()

    static let netlinkRoute: Int32 = 0          // NETLINK_ROUTE
    static let solNetlink: Int32 = 270          // SOL_NETLINK
    static let optCapAck: Int32 = 10            // NETLINK_CAP_ACK
    static let optExtAck: Int32 = 11            // NETLINK_EXT_ACK
    static let soRcvbufForce: Int32 = 33        // SO_RCVBUFFORCE
    static let soSndbufForce: Int32 = 32        // SO_SNDBUFFORCE
    /// Receive-buffer cost of one queued ack (measured ~0.9 KiB; rounded up for safety).
    static let bytesPerAck = 1280

    /// Opens a socket in the calling thread's network namespace.
    /// - Parameters:
    ///   - receiveBufferSize: requested SO_RCVBUF (SO_RCVBUFFORCE when privileged).
    ///   - sendBufferSize: requested SO_SNDBUF.
    public init(receiveBufferSize: Int = 4 << 20, sendBufferSize: Int = 1 << 20) throws {
        let fd = try syscallChecked("socket") {
            socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), NetlinkSocket.netlinkRoute)
        }
        do {
            try NetlinkSocket.setInt(fd, NetlinkSocket.solNetlink, NetlinkSocket.optExtAck, 1, "NETLINK_EXT_ACK")
            try NetlinkSocket.setInt(fd, NetlinkSocket.solNetlink, NetlinkSocket.optCapAck, 1, "NETLINK_CAP_ACK")
            NetlinkSocket.setBuffer(fd, force: NetlinkSocket.soRcvbufForce, plain: SO_RCVBUF, size: receiveBufferSize)
            NetlinkSocket.setBuffer(fd, force: NetlinkSocket.soSndbufForce, plain: SO_SNDBUF, size: sendBufferSize)
            self.receiveBufferSize = try NetlinkSocket.getInt(fd, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF")
            self.sendBufferSize = try NetlinkSocket.getInt(fd, SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF")
            // Bind to a kernel-chosen port id so replies come to us.
            var addr = [UInt8](repeating: 0, count: 12)
            addr[0] = UInt8(AF_NETLINK)
            _ = try addr.withUnsafeBytes { p in
                try syscallChecked("bind") {
                    bind(fd, p.baseAddress!.assumingMemoryBound(to: sockaddr.self), 12)
                }
            }
        } catch {
            close(fd)
            throw error
        }
        self.fd = fd
        self.maxAcksPerSend = max(1, receiveBufferSize / NetlinkSocket.bytesPerAck - 8)
        self.sequence = UInt32(truncatingIfNeeded: time(nil))
    }

    deinit { close(fd) }

    private static func setInt(_ fd: Int32, _ level: Int32, _ opt: Int32, _ value: Int32, _ name: String) throws {
        var v = value
        try syscallChecked("setsockopt(\(name))") {
            setsockopt(fd, level, opt, &v, socklen_t(MemoryLayout<Int32>.size))
        }
    }
    private static func getInt(_ fd: Int32, _ level: Int32, _ opt: Int32, _ name: String) throws -> Int {
        var v: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        try syscallChecked("getsockopt(\(name))") { getsockopt(fd, level, opt, &v, &len) }
        return Int(v)
    }
    /// Tries the privileged FORCE option first (ignores rmem_max), then the plain one.
    private static func setBuffer(_ fd: Int32, force: Int32, plain: Int32, size: Int) {
        let v = Int32(clamping: size)
        if (try? setInt(fd, SOL_SOCKET, force, v, "force")) == nil {
            _ = try? setInt(fd, SOL_SOCKET, plain, v, "plain")
        }
    }

    private func nextSequence() -> UInt32 {
        sequence &+= 1
        if sequence == 0 { sequence = 1 }
        return sequence
    }

    private func sendAll(_ bytes: [UInt8]) throws {
        let n = try bytes.withUnsafeBytes { p in
            try syscallChecked("send") { send(fd, p.baseAddress, p.count, 0) }
        }
        guard n == bytes.count else {
            throw NetlinkError.system(call: "send (short: \(n) of \(bytes.count))", errno: EMSGSIZE)
        }
    }

    /// Receives one datagram and splits it into messages (copied out of the shared buffer).
    ///
    /// The shared buffer's lock is held only for a non-blocking `recv` (`MSG_DONTWAIT`), never
    /// while blocked: when nothing is there yet, `poll` waits without it. (rtnetlink answers
    /// within the `send`, so the first try almost always finds the reply.)
    private func receive() throws -> [Message] {
        while true {
            if let messages = try ReceiveBuffer.shared.receive(fd) { return messages }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = poll(&pfd, 1, -1)
            if r < 0 {
                if Glibc.errno == EINTR { continue }
                throw NetlinkError.system(call: "poll", errno: Glibc.errno)
            }
        }
    }

    /// Sends `request` with NLM_F_ACK and waits for its ack; throws the kernel's error.
    public func execute(_ request: Request) throws {
        _ = try query(request)
    }

    /// Sends `request` with NLM_F_ACK and returns the replies that came before the ack
    /// (e.g. the RTM_NEWLINK answering a single RTM_GETLINK).
    public func query(_ request: Request) throws -> [Message] {
        try lock.locked {
            let seq = nextSequence()
            try sendAll(request.encoded(sequence: seq, extra: .ack))
            var replies: [Message] = []
            while true {
                for m in try receive() where m.header.sequence == seq {
                    if m.header.type == MessageType.error {
                        if let e = try m.errorReply() { throw e }
                        return replies
                    }
                    if m.header.type == MessageType.done { return replies }
                    replies.append(m)
                }
            }
        }
    }

    /// Sends a dump request (NLM_F_DUMP) and collects every reply until NLMSG_DONE.
    /// A dump the kernel flags NLM_F_DUMP_INTR (the table changed meanwhile) is redone,
    /// up to 10 times.
    public func dump(_ request: Request) throws -> [Message] {
        try lock.locked {
            var attempt = 0
            while true {
                attempt += 1
                let seq = nextSequence()
                try sendAll(request.encoded(sequence: seq, extra: .dump))
                var out: [Message] = []
                var interrupted = false
                var finished = false
                while !finished {
                    for m in try receive() where m.header.sequence == seq {
                        if m.header.flags.contains(.dumpInterrupted) { interrupted = true }
                        switch m.header.type {
                        case MessageType.done:
                            if m.payload.count >= 4 {
                                var rd = ByteReader(m.payload)
                                let code = try rd.i32("done.error")
                                if code < 0 { throw NetlinkError.kernel(errno: code == Int32.min ? Int32.max : -code, message: nil) }
                            }
                            finished = true
                        case MessageType.error:
                            if let e = try m.errorReply() { throw e }
                            finished = true
                        case MessageType.noop:
                            continue
                        default:
                            out.append(m)
                        }
                    }
                }
                if !interrupted || attempt >= 10 { return out }
            }
        }
    }

    /// Sends many requests pipelined: as many per send() as SO_SNDBUF and the receive
    /// buffer's room for acks allow, then matches each ack to its request by sequence
    /// number. The kernel runs the requests in order and keeps going after a failure, so
    /// each request has its own result, in the order given.
    public func executeBatch(_ requests: [Request]) -> [Result<Void, NetlinkError>] {
        pipeline(requests, collect: false).map { $0.map { _ in () } }
    }

    /// `executeBatch`, also returning per request the messages the kernel sent for it before
    /// its ack. With NLM_F_ECHO on a request (`Request.echoing`), that is the object as the
    /// kernel stored it: an RTM_NEWLINK echo carries the new link's ifindex (`createdLinkIndex`).
    ///
    /// Which kernels echo link creations: 6.18 does (measured here); rtnetlink only honours
    /// NLM_F_ECHO on RTM_NEWLINK since 6.3, so 6.1 (the user-mode-Linux test kernel) answers with
    /// the ack alone. Callers must fall back (`link(.name(…))`, or one link dump for a batch).
    /// Never set ECHO on a request that creates the device in *another* namespace
    /// (IFLA_NET_NS_FD): the kernel sends the echo to the socket with this socket's port id in the
    /// device's namespace, i.e. to a stranger (or to another of our sockets, as a stray message).
    public func executeBatchCollecting(_ requests: [Request]) -> [Result<[Message], NetlinkError>] {
        pipeline(requests, collect: true)
    }

    private func pipeline(_ requests: [Request], collect: Bool) -> [Result<[Message], NetlinkError>] {
        lock.locked {
            var results = [Result<[Message], NetlinkError>](repeating: .success([]), count: requests.count)
            var replies: [Int: [Message]] = [:]
            let maxBytes = max(MessageHeader.size, sendBufferSize - 32)
            var i = 0
            while i < requests.count {
                var w = ByteWriter()
                var pending: [UInt32: Int] = [:]
                while i < requests.count, pending.count < maxAcksPerSend {
                    let size = requests[i].encodedSize
                    if !pending.isEmpty && w.bytes.count + size > maxBytes { break }
                    let seq = nextSequence()
                    requests[i].encode(into: &w, sequence: seq, extra: .ack)
                    pending[seq] = i
                    i += 1
                }
                do {
                    try sendAll(w.bytes)
                } catch let e as NetlinkError {
                    for (_, idx) in pending { results[idx] = .failure(e) }
                    continue
                } catch {
                    continue
                }
                while !pending.isEmpty {
                    let messages: [Message]
                    do { messages = try receive() } catch {
                        for (seq, idx) in pending { results[idx] = .failure(.missingAck(sequence: seq)) }
                        pending.removeAll()
                        break
                    }
                    for m in messages {
                        if m.header.type != MessageType.error {
                            if collect, let idx = pending[m.header.sequence] { replies[idx, default: []].append(m) }
                            continue
                        }
                        guard let idx = pending.removeValue(forKey: m.header.sequence) else { continue }
                        do {
                            if let e = try m.errorReply() { results[idx] = .failure(e) }
                            else if collect, let r = replies.removeValue(forKey: idx) { results[idx] = .success(r) }
                        } catch let e as NetlinkError {
                            results[idx] = .failure(e)
                        } catch {}
                    }
                }
            }
            return results
        }
    }
}

extension Request {
    /// The same request with NLM_F_ECHO: the kernel also sends back what it created or changed
    /// (see `NetlinkSocket.executeBatchCollecting` for which kernels do, and the one case to avoid).
    public var echoing: Request {
        var r = self
        r.flags.insert(.echo)
        return r
    }
}

extension NetlinkSocket {
    /// The ifindex of the link an echoed RTM_NEWLINK created, from the replies
    /// `executeBatchCollecting` returned for it; nil when the kernel did not echo (before 6.3).
    public static func createdLinkIndex(_ replies: [Message], name: String? = nil) -> Int32? {
        for m in replies where m.header.type == MessageType.newLink {
            guard let info = try? LinkInfo(LinkMessage(decoding: m.payload[...])) else { continue }
            if name == nil || info.name == name { return info.index }
        }
        return nil
    }

    /// Creates a link and returns its ifindex: from the kernel's echo where it sends one (≥ 6.3),
    /// else by asking for the link by name. `request` must create the link in this socket's own
    /// namespace (no IFLA_NET_NS_FD).
    public func createLink(_ request: Request, name: String) throws -> Int32 {
        let replies = try query(request.echoing)
        if let i = NetlinkSocket.createdLinkIndex(replies, name: name) { return i }
        guard let l = try link(.name(name)) else { throw NetlinkError.kernel(errno: 19, message: "link \(name) vanished") }
        return l.index
    }
}

/// The one receive buffer all sockets share (64 KiB, grown when a datagram is larger). A
/// buffer per socket cost 64 KiB each: 64 MB for a 1000-namespace topology, which keeps a
/// socket per namespace. Sockets are mostly used from one thread at a time; the lock is held
/// only for a non-blocking `recv` and the copy out.
final class ReceiveBuffer: @unchecked Sendable {
    static let shared = ReceiveBuffer()
    private let lock = Mutex()
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)

    /// One datagram from `fd` split into messages, or nil if none is waiting (EAGAIN/EINTR).
    func receive(_ fd: Int32) throws -> [Message]? {
        try lock.locked {
            let n = buffer.withUnsafeMutableBytes { p in
                recv(fd, p.baseAddress, p.count, Int32(MSG_TRUNC) | Int32(MSG_DONTWAIT))
            }
            if n < 0 {
                let e = Glibc.errno
                if e == EAGAIN || e == EWOULDBLOCK || e == EINTR { return nil }
                throw NetlinkError.system(call: "recv", errno: e)
            }
            if n > buffer.count {
                // The datagram was larger than the buffer: it is lost; grow for next time.
                buffer = [UInt8](repeating: 0, count: nlAlign(n) * 2)
                throw NetlinkError.malformed("reply of \(n) bytes truncated")
            }
            if n == 0 { return [] }
            return try Message.decodeAll(buffer[0..<n])
        }
    }
}
