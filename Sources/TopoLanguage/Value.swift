/// A value of the scripting language.
public enum Value: Hashable, Sendable, CustomStringConvertible {
    case int(Int)
    case string(String)
    case bool(Bool)
    case address(IPAddress)
    case prefix(IPPrefix)
    /// A number with a unit: `10ms`, `0.5%`, `10mbit`, `32kb`.
    case quantity(Quantity)
    case list([Value])
    /// `A..B`, inclusive, lazy: never materialised (`1..1000000000000` costs two integers).
    case range(Int, Int)

    /// The type's name in messages.
    public var typeName: String {
        switch self {
        case .int: return "integer"
        case .string: return "string"
        case .bool: return "boolean"
        case .address: return "address"
        case .prefix: return "prefix"
        case .quantity(let q): return q.dimension.rawValue
        case .list: return "list"
        case .range: return "range"
        }
    }

    /// The value as script text (what `topo repl` echoes).
    public var description: String {
        switch self {
        case .int(let n): return String(n)
        case .string(let s): return "\"" + s + "\""
        case .bool(let b): return b ? "true" : "false"
        case .address(let a): return a.description
        case .prefix(let p): return p.description
        case .quantity(let q): return q.description
        case .list(let l): return "[" + l.map(\.description).joined(separator: ", ") + "]"
        case .range(let a, let b): return "\(a)..\(b)"
        }
    }

    /// The text an interpolation `{v}` inserts; nil for lists and ranges.
    public var interpolationText: String? {
        switch self {
        case .int(let n): return String(n)
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .address(let a): return a.description
        case .prefix(let p): return p.description
        case .quantity(let q): return q.description
        case .list, .range: return nil
        }
    }

    /// Number of elements of a range (nil when it does not fit in an Int).
    static func rangeCount(_ a: Int, _ b: Int) -> Int? {
        if b < a { return 0 }
        let (d, o) = b.subtractingReportingOverflow(a)
        if o { return nil }
        let (c, o2) = d.addingReportingOverflow(1)
        return o2 ? nil : c
    }
}
