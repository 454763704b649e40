import HTTPTypes

/// A response body: complete bytes, or a stream of chunks pulled by the server as the client
/// socket drains (pulling is the backpressure: an unpulled upstream transfer is paused).
public enum ResponseBody: Sendable {
    case bytes([UInt8])
    case stream(any ResponseStream)
}

/// A stream of body chunks (SSE events for the OpenAI endpoints). Confined to the worker's reactor.
///
/// `next()` returns the next chunk, `nil` at a clean end, and throws a `GatewayError` when the
/// stream fails after it started — the edge then ends the SSE stream with `data: {"error": …}`.
/// `cancel()` is called when the client goes away; it must release the upstream transfer.
public protocol ResponseStream: AnyObject, Sendable {
    func next() async throws(GatewayError) -> [UInt8]?
    func cancel()
}

/// What a stage returns: status, headers and a body. Errors are responses too (see `GatewayError`).
public struct GatewayResponse: Sendable {
    public var status: Int
    public var headers: HTTPFields
    /// Lines a stage rendered in wire form, written after `headers` (see `HeaderLines`).
    public var headerLines: HeaderLines
    public var body: ResponseBody

    public init(status: Int, headers: HTTPFields = [:], headerLines: HeaderLines = HeaderLines(), body: ResponseBody) {
        self.status = status
        self.headers = headers
        self.headerLines = headerLines
        self.body = body
    }

    /// The value of `name` in `headers` or else in `headerLines` (tests, readers off the hot path).
    public func headerValue(_ name: String) -> String? {
        if let field = HTTPField.Name(name), let value = headers[field] { return value }
        return headerLines[name]
    }

    /// A JSON response with `content-type: application/json`.
    public static func json(_ status: Int, _ body: [UInt8], headers: HTTPFields = [:]) -> GatewayResponse {
        var headers = headers
        headers[.contentType] = "application/json"
        return GatewayResponse(status: status, headers: headers, body: .bytes(body))
    }

    public var isStream: Bool {
        if case .stream = body { return true }
        return false
    }
}

/// Wraps a stream to observe its end (clean, failed or cancelled) exactly once — how stages do
/// work that depends on the whole stream (usage, caching, breaker outcome, the access log).
public final class ObservedStream: ResponseStream, @unchecked Sendable {
    public enum Outcome: Sendable {
        case completed
        case failed(GatewayError)
        case cancelled
    }

    private let inner: any ResponseStream
    private let onChunk: (([UInt8]) -> Void)?
    private var onEnd: ((Outcome, _ bytes: Int) -> Void)?
    private var bytes = 0

    /// `onChunk` sees each chunk as it passes (usage metering); `onEnd` runs once at the end.
    public init(_ inner: any ResponseStream, onChunk: (([UInt8]) -> Void)? = nil,
                onEnd: @escaping (Outcome, _ bytes: Int) -> Void) {
        self.inner = inner
        self.onChunk = onChunk
        self.onEnd = onEnd
    }

    public func next() async throws(GatewayError) -> [UInt8]? {
        do {
            let chunk = try await inner.next()
            if let chunk {
                bytes += chunk.count
                onChunk?(chunk)
            } else {
                finish(.completed)
            }
            return chunk
        } catch {
            finish(.failed(error))
            throw error
        }
    }

    public func cancel() {
        inner.cancel()
        finish(.cancelled)
    }

    private func finish(_ outcome: Outcome) {
        guard let onEnd else { return }
        self.onEnd = nil
        onEnd(outcome, bytes)
    }
}
