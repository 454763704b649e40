import HTTPTypes

/// Size limits the request parser enforces; each one maps to the status the connection answers.
/// Every limit bounds memory the caller must keep for one request, so none may be unbounded.
public struct HTTPParserLimits: Sendable, Equatable {
    /// Request line including its CRLF; exceeding it answers 414.
    public var maxRequestLineBytes: Int
    /// All field lines plus the empty line that ends the head; exceeding it answers 431.
    public var maxHeaderBytes: Int
    /// Number of field lines; exceeding it answers 431.
    public var maxHeaderCount: Int
    /// Body bytes after de-chunking; 413 at head time for Content-Length, as soon as a chunk
    /// size makes the running total pass it for chunked bodies.
    public var maxBodyBytes: Int
    /// Bytes after the hex digits of one chunk-size line (BWS and `;ext=val` parts); 400.
    public var maxChunkExtensionBytes: Int
    /// The whole trailer section including its final empty line; 431.
    public var maxTrailerBytes: Int

    public init(
        maxRequestLineBytes: Int = 8192,
        maxHeaderBytes: Int = 32768,
        maxHeaderCount: Int = 100,
        maxBodyBytes: Int = 4 << 20,
        maxChunkExtensionBytes: Int = 1024,
        maxTrailerBytes: Int = 8192
    ) {
        self.maxRequestLineBytes = maxRequestLineBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxBodyBytes = maxBodyBytes
        self.maxChunkExtensionBytes = maxChunkExtensionBytes
        self.maxTrailerBytes = maxTrailerBytes
    }
}

/// A request's start line and header fields with the framing and connection facts already
/// decided, so the connection never re-reads `Content-Length`, `Transfer-Encoding` or `Connection`.
public struct HTTPRequestHead: Sendable, Equatable {
    public var method: HTTPRequest.Method
    /// The request-target as sent: origin-form (`/v1/x?y`), absolute-form (`http://…`), or `*`
    /// (OPTIONS only).
    public var target: String
    /// 0 or 1 (HTTP/1.0 or HTTP/1.1).
    public var versionMinor: Int
    public var headers: HTTPFields
    /// HTTP/1.1: unless `Connection: close`; HTTP/1.0: only with `Connection: keep-alive`.
    public var keepAlive: Bool
    /// `Expect: 100-continue` on an HTTP/1.1 request (ignored on 1.0 as RFC 9110 §10.1.1 asks).
    public var expectContinue: Bool
    /// The body length announced by Content-Length; nil for chunked bodies and requests without one.
    public var contentLength: Int?
    public var isChunked: Bool
    /// Some field's name is not one of the common names the parser knows (Host, Content-Type,
    /// Authorization, Accept, User-Agent, …). When false, no extension header (`X-Request-ID`,
    /// `OpenAI-Beta`, `x-api-key`) is present, and a lookup of one can skip the scan.
    public var hasExtensionFields: Bool

    public init(
        method: HTTPRequest.Method, target: String, versionMinor: Int, headers: HTTPFields,
        keepAlive: Bool, expectContinue: Bool, contentLength: Int?, isChunked: Bool, hasExtensionFields: Bool = true
    ) {
        self.method = method
        self.target = target
        self.versionMinor = versionMinor
        self.headers = headers
        self.keepAlive = keepAlive
        self.expectContinue = expectContinue
        self.contentLength = contentLength
        self.isChunked = isChunked
        self.hasExtensionFields = hasExtensionFields
    }
}

/// Why a request was rejected: the status to answer (400, 413, 414, 417, 431, 501, 505) and a
/// short reason for logs and the error body. The connection answers it and closes.
public struct HTTPParseError: Error, Sendable, Equatable {
    public var status: Int
    public var reason: String

    public init(status: Int, reason: String) {
        self.status = status
        self.reason = reason
    }

    static func badRequest(_ reason: String) -> HTTPParseError { .init(status: 400, reason: reason) }
}

/// One step of a request as the parser sees it.
public enum HTTPParserEvent: Sendable, Equatable {
    case head(HTTPRequestHead)
    /// De-chunked body bytes at this range of the buffer passed to the call that returned it.
    case body(Range<Int>)
    /// The request is complete; the parser is ready for the next (pipelined) request.
    case end
}

/// Strict, incremental HTTP/1.1 request parser (RFC 9112) over caller-owned bytes; no I/O, no copies
/// of the body. Each `parse` call looks at the caller's unconsumed bytes, returns at most one event
/// and how many leading bytes the caller may drop. A value type owned by one connection, used from
/// that connection's thread only.
///
/// Caller loop: `while true { let (event, n) = try parser.parse(buffer); drop n; guard let event
/// else { break /* read more */ }; handle(event) }`. When a call returns `(nil, 0)` the parser may
/// already have validated a prefix of `input` (a partial head, chunk framing): the next call must
/// pass the same bytes again, extended by new data. This is what makes a head fed byte by byte
/// linear rather than quadratic. `.end` of a request without a body (or of a Content-Length body)
/// comes from the call after `.head` / the last `.body`, with `consumed == 0`.
public struct HTTPRequestParser: Sendable {
    public let limits: HTTPParserLimits

    enum Phase: Sendable {
        /// Reading the request line and field lines, one complete line at a time.
        case head
        /// The head had no body; the next call reports `.end`.
        case endPending
        /// Content-Length body; `.end` follows once `remaining` is 0.
        case fixedBody(remaining: Int)
        /// Expecting a chunk-size line (after the head or after a chunk's CRLF).
        case chunkSize
        case chunkData(remaining: Int)
        /// Expecting the CRLF that closes a chunk's data.
        case chunkDataEnd
        /// After the last chunk: trailer field lines until an empty line.
        case trailers
        case failed(HTTPParseError)
    }

    var phase: Phase = .head
    /// Bytes at the start of the caller's input already validated but not yet reported consumed.
    var pending = 0
    /// How far the current (incomplete) line has been searched for its end, as an input index.
    var scanned = 0
    /// What the head lines read so far have established.
    var head = HeadInProgress()
    /// This connection's earlier field lines (see `FieldLineMemo`); kept across requests.
    var memo = FieldLineMemo()
    /// This connection's last accepted request line and what it parsed to: a keep-alive client
    /// repeats it (`POST /v1/chat/completions HTTP/1.1`), and a repeat takes its method, its
    /// target (the same `String`, no allocation) and its version without parsing them again.
    var lastRequestLine: (bytes: [UInt8], method: HTTPRequest.Method, target: String, versionMinor: Int)?
    var chunkedBodyBytes = 0
    var trailerBytes = 0
    var trailerCount = 0

    public init(limits: HTTPParserLimits = .init()) {
        self.limits = limits
    }

    /// True once a request's first byte was seen and until its `.end`: an EOF or idle timeout
    /// now cuts a request short (answer 400 or just close) rather than ending a quiet connection.
    public var isMidRequest: Bool {
        switch phase {
        case .head: return pending > 0 || scanned > 0
        case .failed: return false
        default: return true
        }
    }

    /// Parses from the start of `input`; see the type's comment for the calling contract.
    /// `(nil, 0)` means "need more bytes". After a thrown error every later call throws it again.
    public mutating func parse(
        _ input: UnsafeRawBufferPointer
    ) throws(HTTPParseError) -> (event: HTTPParserEvent?, consumed: Int) {
        if case .failed(let error) = phase { throw error }
        precondition(input.count >= pending, "parse() must get back the bytes it did not consume")
        let bytes = input.assumingMemoryBound(to: UInt8.self)
        do {
            return try step(bytes)
        } catch {
            phase = .failed(error)
            head = HeadInProgress()
            throw error
        }
    }

    private mutating func step(
        _ bytes: UnsafeBufferPointer<UInt8>
    ) throws(HTTPParseError) -> (event: HTTPParserEvent?, consumed: Int) {
        while true {
            switch phase {
            case .head:
                if let head = try parseHeadLines(bytes) {
                    return (.head(head), takePending())
                }
                return (nil, 0)

            case .endPending:
                finishRequest()
                return (.end, takePending())

            case .fixedBody(let remaining):
                if remaining == 0 {
                    finishRequest()
                    return (.end, takePending())
                }
                let available = bytes.count - pending
                if available == 0 { return (nil, 0) }
                let start = pending
                let count = min(remaining, available)
                phase = .fixedBody(remaining: remaining - count)
                pending = 0
                return (.body(start..<start + count), start + count)

            case .chunkSize:
                guard try parseChunkSizeLine(bytes) else { return (nil, 0) }

            case .chunkData(let remaining):
                let available = bytes.count - pending
                if available == 0 { return (nil, 0) }
                let start = pending
                let count = min(remaining, available)
                var consumed = start + count
                if count < remaining {
                    phase = .chunkData(remaining: remaining - count)
                } else if consumed + 2 <= bytes.count && bytes[consumed] == Byte.cr && bytes[consumed + 1] == Byte.lf {
                    // Take the closing CRLF now when it is already here: one call fewer per chunk.
                    consumed += 2
                    phase = .chunkSize
                } else {
                    phase = .chunkDataEnd
                }
                pending = 0
                scanned = 0
                return (.body(start..<start + count), consumed)

            case .chunkDataEnd:
                guard try parseChunkDataEnd(bytes) else { return (nil, 0) }

            case .trailers:
                if try parseTrailerLines(bytes) {
                    finishRequest()
                    return (.end, takePending())
                }
                return (nil, 0)

            case .failed(let error):
                throw error
            }
        }
    }

    /// Reports everything validated so far as consumed.
    private mutating func takePending() -> Int {
        defer {
            pending = 0
            scanned = 0
        }
        return pending
    }

    /// Back to reading a head; `pending` is reported by the caller of this function.
    private mutating func finishRequest() {
        phase = .head
        head = HeadInProgress()
        chunkedBodyBytes = 0
        trailerBytes = 0
        trailerCount = 0
    }
}
