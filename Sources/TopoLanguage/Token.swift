/// One piece of an interpolated word or string: literal text, or the source range of the
/// expression between `{` and `}` (the parser parses it with a sub-parser over the same file,
/// so every position inside it stays exact).
public enum WordPart: Hashable, Sendable {
    /// Literal text (escapes already decoded inside strings) and where it came from.
    case text(String, SourceRange)
    /// `{expr}`: the range of `expr` (without the braces) and the range of the whole `{expr}`.
    case interpolation(inner: SourceRange, outer: SourceRange)
}

/// What a token is. Keywords are not separate kinds: they are reserved only at the start of a
/// statement, so the parser looks at the text of a `.name` there.
public enum TokenKind: Hashable, Sendable {
    /// `[A-Za-z_][A-Za-z0-9_]*` with inner `-`/`.`: `h1-eth0`, `eth0.100`, `net.ipv4.ip_forward`.
    case name(String)
    /// A word with at least one `{expr}` in it: `h{i}`, `10.0.{i}.1/24`, `{n}`.
    case word([WordPart])
    /// `"…"`, possibly with `{expr}` parts.
    case string([WordPart])
    case int(Int)
    case address(IPAddress)
    case prefix(IPPrefix)
    /// A number with a unit, as written (`10ms`, `1.5ms`, `0.5%`, `10mbit`, `32kb`, or an
    /// unknown unit such as `10zz`): the parser turns it into a `Quantity` where a value
    /// stands (and reports a bad unit there), or takes the text where a word stands
    /// (`protocol 802.1q`).
    case quantity(String)
    /// A literal the lexer already reported as malformed (`10.0.0.256`, `99999999999999999999`).
    case invalid
    case arrow          // <->
    case lt, gt, le, ge, eq, ne, assign
    case plus, minus, star, slash, percent
    case comma, colon, semicolon, dotdot
    case lparen, rparen, lbracket, rbracket, lbrace, rbrace
    case newline
    case eof
}

/// A token and the half-open range of source text it covers.
public struct Token: Hashable, Sendable {
    public var kind: TokenKind
    public var range: SourceRange
    /// True when whitespace, a comment or the start of input precedes the token.
    public var spaceBefore: Bool
    /// True when the parser skipped a newline just before this token (inside `< >`, `[ ]`, `( )`).
    public var afterNewline: Bool = false

    public init(_ kind: TokenKind, _ range: SourceRange, spaceBefore: Bool) {
        self.kind = kind
        self.range = range
        self.spaceBefore = spaceBefore
    }
}

extension TokenKind {
    /// How the token is named in messages: "`<->`", "end of input", "name `foo`".
    public var display: String {
        switch self {
        case .name(let s): return "`\(s)`"
        case .word: return "interpolated word"
        case .string: return "string"
        case .int(let n): return "integer `\(n)`"
        case .address(let a): return "address `\(a)`"
        case .prefix(let p): return "prefix `\(p)`"
        case .quantity(let s): return "`\(s)`"
        case .invalid: return "invalid literal"
        case .arrow: return "`<->`"
        case .lt: return "`<`"
        case .gt: return "`>`"
        case .le: return "`<=`"
        case .ge: return "`>=`"
        case .eq: return "`==`"
        case .ne: return "`!=`"
        case .assign: return "`=`"
        case .plus: return "`+`"
        case .minus: return "`-`"
        case .star: return "`*`"
        case .slash: return "`/`"
        case .percent: return "`%`"
        case .comma: return "`,`"
        case .colon: return "`:`"
        case .semicolon: return "`;`"
        case .dotdot: return "`..`"
        case .lparen: return "`(`"
        case .rparen: return "`)`"
        case .lbracket: return "`[`"
        case .rbracket: return "`]`"
        case .lbrace: return "`{`"
        case .rbrace: return "`}`"
        case .newline: return "end of line"
        case .eof: return "end of input"
        }
    }
}
