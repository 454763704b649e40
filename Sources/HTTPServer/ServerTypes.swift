import HTTPTypes

/// A complete request as read by a connection: the parsed head and the whole (de-chunked) body.
public struct ServerRequest: Sendable {
    public var head: HTTPRequestHead
    public var body: [UInt8]
    /// Monotonic ns when the head was complete.
    public var receivedAt: UInt64
    /// The client's IP address ("203.0.113.9", "::1"), when the socket has a peer.
    public var peerHost: String?

    public init(head: HTTPRequestHead, body: [UInt8], receivedAt: UInt64, peerHost: String? = nil) {
        self.head = head
        self.body = body
        self.receivedAt = receivedAt
        self.peerHost = peerHost
    }
}

/// One piece pulled from a streamed response body.
public enum ServerStreamPiece: Sendable {
    case chunk([UInt8])
    /// Clean end of the body.
    case end
    /// The stream failed after it started: write `finalChunk` (the error event), end the body and close.
    case fail(finalChunk: [UInt8])
    /// Drop the connection at once with a TCP reset, mid-body (fault injection in mock-llm).
    case reset
}

/// A streamed body. The connection pulls the next piece only after the previous one was handed
/// to the socket (and waits while the socket is full), which is the backpressure. `cancel()`
/// is called when the client goes away. Confined to the connection's reactor.
public protocol ServerStream: AnyObject, Sendable {
    func next() async -> ServerStreamPiece
    func cancel()
}

public enum ServerBody: Sendable {
    case bytes([UInt8])
    /// Sent with `transfer-encoding: chunked`.
    case stream(any ServerStream)
}

public struct ServerResponse: Sendable {
    public var status: Int
    public var headers: HTTPFields
    /// Header lines already serialised (`name: value\r\n` each), written after `headers`. For
    /// headers stamped on every response (the gateway's request id, provider, overhead): writing
    /// their bytes once costs less than adding fields to a copy of `headers`. The caller
    /// guarantees each line is a valid field and that no name repeats one in `headers`.
    public var serializedHeaders: [UInt8]
    public var body: ServerBody
    /// For how many seconds the server may answer a byte-exact repeat of this request with these
    /// same bytes (its `date` kept current) without asking the handler again; 0 (the default):
    /// never. Only honoured for `.bytes` answers from `immediateResponse`. A handler sets it only
    /// when its answer depends on nothing but the request's bytes (mock-llm's replies).
    public var repeatableForSeconds: Int

    public init(
        status: Int, headers: HTTPFields = [:], serializedHeaders: [UInt8] = [], body: ServerBody,
        repeatableForSeconds: Int = 0
    ) {
        self.status = status
        self.headers = headers
        self.serializedHeaders = serializedHeaders
        self.body = body
        self.repeatableForSeconds = repeatableForSeconds
    }
}

/// What the server calls for each complete request. Runs as a task on the connection's reactor.
public protocol HTTPRequestHandler: Sendable {
    func handle(_ request: ServerRequest) async -> ServerResponse

    /// A complete answer that needs no waiting, made right where the request was parsed: no
    /// task, no continuation, no executor hop. nil (the default) sends the request to `handle`.
    /// Only `.bytes` bodies are taken here; return nil for anything that streams or waits.
    /// Runs on the connection's reactor, synchronously, so it must be cheap and never block.
    func immediateResponse(to request: ServerRequest) -> ServerResponse?
}

extension HTTPRequestHandler {
    public func immediateResponse(to request: ServerRequest) -> ServerResponse? { nil }
}

/// Limits and timeouts of the HTTP server (nanoseconds). Slow clients cannot hold a worker:
/// a head must arrive within `headerTimeout` of its first byte, a body within `bodyTimeout`,
/// and an idle keep-alive connection is closed after `idleTimeout`.
public struct HTTPServerConfiguration: Sendable {
    public var limits: HTTPParserLimits
    public var headerTimeout: UInt64
    public var bodyTimeout: UInt64
    public var idleTimeout: UInt64
    /// Renders the body for an error the server answers by itself (bad framing, 408, 503 while
    /// draining): status and reason in, headers and body out. The gateway makes it OpenAI-shaped.
    public var errorResponse: @Sendable (_ status: Int, _ reason: String) -> ServerResponse

    public init(
        limits: HTTPParserLimits = .init(), headerTimeout: UInt64 = 10_000_000_000, bodyTimeout: UInt64 = 30_000_000_000,
        idleTimeout: UInt64 = 60_000_000_000,
        errorResponse: @escaping @Sendable (Int, String) -> ServerResponse = { status, reason in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain"
            return ServerResponse(status: status, headers: headers, body: .bytes(Array("\(reason)\n".utf8)))
        }
    ) {
        self.limits = limits
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.idleTimeout = idleTimeout
        self.errorResponse = errorResponse
    }
}
