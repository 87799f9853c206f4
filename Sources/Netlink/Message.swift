/// Netlink message types (`nlmsg_type`) used by this client.
public enum MessageType {
    public static let noop: UInt16 = 1          // NLMSG_NOOP
    public static let error: UInt16 = 2         // NLMSG_ERROR (also the ack)
    public static let done: UInt16 = 3          // NLMSG_DONE
    public static let overrun: UInt16 = 4       // NLMSG_OVERRUN
    public static let newLink: UInt16 = 16      // RTM_NEWLINK
    public static let delLink: UInt16 = 17      // RTM_DELLINK
    public static let getLink: UInt16 = 18      // RTM_GETLINK
    public static let newAddress: UInt16 = 20   // RTM_NEWADDR
    public static let delAddress: UInt16 = 21   // RTM_DELADDR
    public static let getAddress: UInt16 = 22   // RTM_GETADDR
    public static let newRoute: UInt16 = 24     // RTM_NEWROUTE
    public static let delRoute: UInt16 = 25     // RTM_DELROUTE
    public static let getRoute: UInt16 = 26     // RTM_GETROUTE
}

/// `nlmsg_flags` bits.
public struct MessageFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let request = MessageFlags(rawValue: 0x1)     // NLM_F_REQUEST
    public static let multi = MessageFlags(rawValue: 0x2)       // NLM_F_MULTI
    public static let ack = MessageFlags(rawValue: 0x4)         // NLM_F_ACK
    public static let echo = MessageFlags(rawValue: 0x8)        // NLM_F_ECHO
    public static let dumpInterrupted = MessageFlags(rawValue: 0x10) // NLM_F_DUMP_INTR
    // Modifiers of NEW requests.
    public static let replace = MessageFlags(rawValue: 0x100)   // NLM_F_REPLACE
    public static let excl = MessageFlags(rawValue: 0x200)      // NLM_F_EXCL
    public static let create = MessageFlags(rawValue: 0x400)    // NLM_F_CREATE
    // Modifiers of GET requests.
    public static let dump = MessageFlags(rawValue: 0x300)      // NLM_F_ROOT|NLM_F_MATCH
    // Flags of NLMSG_ERROR replies.
    public static let capped = MessageFlags(rawValue: 0x100)    // NLM_F_CAPPED
    public static let ackTLVs = MessageFlags(rawValue: 0x200)   // NLM_F_ACK_TLVS
}

/// Address families.
public enum AddressFamily {
    public static let unspecified: UInt8 = 0  // AF_UNSPEC
    public static let inet: UInt8 = 2         // AF_INET
    public static let inet6: UInt8 = 10       // AF_INET6

    /// AF_INET for 4 bytes, AF_INET6 for 16, nil otherwise.
    public static func of(_ address: [UInt8]) -> UInt8? {
        switch address.count {
        case 4: return inet
        case 16: return inet6
        default: return nil
        }
    }
}

/// The 16-byte `nlmsghdr`.
public struct MessageHeader: Hashable, Sendable {
    public static let size = 16
    /// Total length including this header.
    public var length: UInt32
    public var type: UInt16
    public var flags: MessageFlags
    public var sequence: UInt32
    public var portID: UInt32

    public init(length: UInt32, type: UInt16, flags: MessageFlags, sequence: UInt32, portID: UInt32 = 0) {
        self.length = length
        self.type = type
        self.flags = flags
        self.sequence = sequence
        self.portID = portID
    }

    func encode(into w: inout ByteWriter) {
        w.u32(length); w.u16(type); w.u16(flags.rawValue); w.u32(sequence); w.u32(portID)
    }
    static func decode(_ r: inout ByteReader) throws -> MessageHeader {
        MessageHeader(length: try r.u32("nlmsg_len"), type: try r.u16("nlmsg_type"),
                      flags: MessageFlags(rawValue: try r.u16("nlmsg_flags")),
                      sequence: try r.u32("nlmsg_seq"), portID: try r.u32("nlmsg_pid"))
    }
}

/// A request to send: message type, flags (REQUEST is always added; ACK is added by
/// `execute`/`executeBatch`, DUMP by `dump`) and the payload after the header.
/// Requests are plain values: build them, compare them, send them later.
public struct Request: Hashable, Sendable {
    public var type: UInt16
    public var flags: MessageFlags
    /// Family header (ifinfomsg, ifaddrmsg, rtmsg) followed by attributes.
    public var payload: [UInt8]

    public init(type: UInt16, flags: MessageFlags = [], payload: [UInt8]) {
        self.type = type
        self.flags = flags
        self.payload = payload
    }

    /// The complete message as sent: flags ∪ REQUEST ∪ `extra` (ACK for requests that
    /// `execute`/`executeBatch` send, DUMP for `dump`).
    public func encoded(sequence: UInt32, portID: UInt32 = 0, extra: MessageFlags = .ack) -> [UInt8] {
        var w = ByteWriter()
        encode(into: &w, sequence: sequence, portID: portID, extra: extra)
        return w.bytes
    }

    func encode(into w: inout ByteWriter, sequence: UInt32, portID: UInt32 = 0, extra: MessageFlags = .ack) {
        let header = MessageHeader(length: UInt32(MessageHeader.size + payload.count), type: type,
                                   flags: flags.union(.request).union(extra), sequence: sequence, portID: portID)
        header.encode(into: &w)
        w.append(payload)
        w.align()
    }

    /// Size on the wire, padded.
    public var encodedSize: Int { nlAlign(MessageHeader.size + payload.count) }
}

/// A message received from the kernel: its header and the payload after it.
public struct Message: Hashable, Sendable {
    public var header: MessageHeader
    public var payload: [UInt8]

    public init(header: MessageHeader, payload: [UInt8]) {
        self.header = header
        self.payload = payload
    }

    /// Splits a datagram into messages. Throws on a malformed length.
    public static func decodeAll(_ bytes: ArraySlice<UInt8>) throws -> [Message] {
        var out: [Message] = []
        var pos = bytes.startIndex
        while bytes.endIndex - pos >= MessageHeader.size {
            var r = ByteReader(bytes[pos...])
            let h = try MessageHeader.decode(&r)
            let len = Int(h.length)
            guard len >= MessageHeader.size, len <= bytes.endIndex - pos else {
                throw NetlinkError.malformed("message length \(len) invalid (have \(bytes.endIndex - pos) bytes)")
            }
            out.append(Message(header: h, payload: Array(bytes[(pos + MessageHeader.size)..<(pos + len)])))
            pos += min(nlAlign(len), bytes.endIndex - pos)
        }
        return out
    }
    public static func decodeAll(_ bytes: [UInt8]) throws -> [Message] { try decodeAll(bytes[...]) }

    /// The message re-encoded with its header (length recomputed).
    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        var h = header
        h.length = UInt32(MessageHeader.size + payload.count)
        h.encode(into: &w)
        w.append(payload)
        w.align()
        return w.bytes
    }

    /// For NLMSG_ERROR: the error (nil for an ack) with the kernel's extended-ack text.
    public func errorReply() throws -> NetlinkError? {
        guard header.type == MessageType.error else { return nil }
        var r = ByteReader(payload)
        let code = try r.i32("nlmsgerr.error")
        // The echoed request: only its header when NLM_F_CAPPED, else the whole message.
        var echoed = ByteReader(payload[4...])
        let inner = try MessageHeader.decode(&echoed)
        let echoedLength = header.flags.contains(.capped) ? MessageHeader.size : nlAlign(Int(inner.length))
        var message: String? = nil
        if header.flags.contains(.ackTLVs), 4 + echoedLength <= payload.count {
            for a in try RawAttribute.decode(payload[(4 + echoedLength)...]) where a.kind == 1 { // NLMSGERR_ATTR_MSG
                message = a.string
            }
        }
        guard code != 0 else { return nil }
        return .kernel(errno: code == Int32.min ? Int32.max : -code, message: message)
    }

}
