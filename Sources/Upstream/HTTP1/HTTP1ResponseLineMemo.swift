import Glibc

/// What one response field line tells the parser: a framing fact, a header the gateway keeps,
/// or nothing it reads.
enum HeaderLineEffect: Sendable {
    case none
    case contentLength(Int)
    /// nil: the value listed no coding (the line changes nothing but presence).
    case transferEncoding(lastIsChunked: Bool?)
    case connection(close: Bool, keepAlive: Bool)
    case contentEncoding(unsupported: String?)
    case kept(String, String)
}

/// The field lines of the last response on one upstream connection, by position, and what each
/// said. An upstream answers with the same lines in the same order (content type, length,
/// server), most of them byte for byte: a repeated line is not validated and interpreted again,
/// and a kept header's strings are reused. Only lines that parsed are kept, and the same bytes
/// always say the same thing. Lives on the `HTTP1Connection`; the transfer that leases the
/// connection takes it for its parser and gives it back with the connection. Reactor-thread
/// confined, like the connection.
struct ResponseLineMemo: Sendable {
    /// Position n: the n-th field line without its line end (empty: too long to keep).
    private(set) var lineBytes: [[UInt8]] = []
    private(set) var effects: [HeaderLineEffect] = []

    static let maxLineBytes = 256
    static let maxLines = 16

    func matches(_ position: Int, _ line: UnsafeRawBufferPointer) -> Bool {
        guard position < lineBytes.count, let base = line.baseAddress else { return false }
        return lineBytes[position].withUnsafeBytes { kept in
            kept.count == line.count && memcmp(kept.baseAddress!, base, line.count) == 0
        }
    }

    /// Keeps what the line at `position` said (positions past `maxLines` are not kept).
    mutating func remember(_ position: Int, _ line: UnsafeRawBufferPointer, _ effect: HeaderLineEffect) {
        guard position < Self.maxLines, position <= lineBytes.count else { return }
        let kept = line.count <= Self.maxLineBytes ? Array(line) : []
        if position < lineBytes.count {
            lineBytes[position] = kept
            effects[position] = effect
        } else {
            lineBytes.append(kept)
            effects.append(effect)
        }
    }
}
