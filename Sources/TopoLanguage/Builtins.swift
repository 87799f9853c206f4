/// The built-in functions of expressions.
///
/// | function | result |
/// |---|---|
/// | `cidrhost(PREFIX, n)` | the n-th address of the prefix, keeping its length (`cidrhost(10.0.0.0/24, 5)` = `10.0.0.5/24`; negative n counts from the end) |
/// | `cidrsubnet(PREFIX, bits, n)` | the n-th subnet `bits` longer (`cidrsubnet(10.0.0.0/16, 8, 3)` = `10.0.3.0/24`) |
/// | `len(x)` | elements of a list or range, bytes of a string |
/// | `str(x)` | the text of a value, as interpolation writes it |
/// | `address(p)` | the address of a prefix without its length |
/// | `prefixlen(p)` | the length of a prefix |
/// | `network(p)` | the prefix with its host bits cleared |
enum Builtins {
    static let names = ["cidrhost", "cidrsubnet", "len", "str", "address", "prefixlen", "network"]
    static let arity = ["cidrhost": 2, "cidrsubnet": 3, "len": 1, "str": 1, "address": 1, "prefixlen": 1, "network": 1]
}

extension Evaluator {
    func callBuiltin(_ name: String, _ args: [Value], _ exprs: [Expr], nameRange: SourceRange,
                     range: SourceRange) throws -> Value {
        guard let n = Builtins.arity[name] else {
            let sug = suggestion(for: name, among: Builtins.names)
            throw err(.unknownFunction, "unknown function `\(name)`", at: nameRange,
                      help: sug.map { "did you mean `\($0)`?" }
                          ?? "built-in functions are \(Builtins.names.map { "`\($0)`" }.joined(separator: ", "))")
        }
        guard args.count == n else {
            throw err(.wrongArgumentCount,
                      "`\(name)` takes \(n) argument\(n == 1 ? "" : "s") but \(args.count) \(args.count == 1 ? "was" : "were") given",
                      at: range)
        }
        func prefixArg(_ i: Int) throws -> IPPrefix {
            switch args[i] {
            case .prefix(let p): return p
            case .string(let s): if let p = IPPrefix(s) { return p }
            default: break
            }
            throw err(.typeMismatch, "`\(name)` expects a prefix, found \(args[i].typeName) `\(args[i])`", at: exprs[i].range)
        }
        func intArg(_ i: Int) throws -> Int {
            if case .int(let v) = args[i] { return v }
            throw err(.typeMismatch, "`\(name)` expects an integer, found \(args[i].typeName) `\(args[i])`", at: exprs[i].range)
        }
        switch name {
        case "cidrhost":
            let p = try prefixArg(0), k = try intArg(1)
            guard let h = p.host(k) else {
                throw err(.invalidArgument, "host number \(k) is outside `\(p.network)`", at: exprs[1].range)
            }
            return .prefix(h)
        case "cidrsubnet":
            let p = try prefixArg(0), bits = try intArg(1), k = try intArg(2)
            guard bits >= 0, bits <= p.family.bits - p.length else {
                throw err(.invalidArgument, "cannot extend `/\(p.length)` by \(bits) bits", at: exprs[1].range,
                          help: "an \(p.family == .ipv4 ? "IPv4" : "IPv6") prefix is at most /\(p.family.bits)")
            }
            guard let s = p.subnet(newBits: bits, number: k) else {
                throw err(.invalidArgument, "subnet number \(k) does not fit in \(bits) bits", at: exprs[2].range)
            }
            return .prefix(s)
        case "len":
            switch args[0] {
            case .list(let l): return .int(l.count)
            case .string(let s): return .int(s.utf8.count)
            case .range(let a, let b):
                guard let c = Value.rangeCount(a, b) else {
                    throw err(.overflow, "the length of `\(a)..\(b)` does not fit in 64 bits", at: exprs[0].range)
                }
                return .int(c)
            default:
                throw err(.typeMismatch, "`len` expects a list, range or string, found \(args[0].typeName)", at: exprs[0].range)
            }
        case "str":
            return .string(args[0].interpolationText ?? args[0].description)
        case "address":
            if case .address(let a) = args[0] { return .address(a) }
            return .address(try prefixArg(0).address)
        case "prefixlen":
            return .int(try prefixArg(0).length)
        default:  // network
            return .prefix(try prefixArg(0).network)
        }
    }
}
