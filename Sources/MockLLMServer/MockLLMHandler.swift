import HTTPServer
import HTTPTypes
import MockProvider
import Reactor

/// Serves `MockResponder` replies over HTTP on one worker, playing out the fault plan:
/// latency before the head, a pause between stream chunks, a TCP reset after N chunks, or a
/// clean end without `[DONE]`. Replies are cached per worker, so a benchmark's repeated
/// request costs no JSON parsing. Reactor-thread confined.
public final class MockLLMHandler: HTTPRequestHandler, @unchecked Sendable {
    private let cache: MockReplyCache
    private let reactor: Reactor

    public init(reactor: Reactor, responder: MockResponder = MockResponder()) {
        self.reactor = reactor
        self.cache = MockReplyCache(responder: responder)
    }

    /// The last reply's headers as built `HTTPFields`: replies almost always carry the same
    /// few headers, and building fields from strings costs more than the rest of a cache hit.
    private var lastHeaders: [(String, String)] = []
    private var lastFields = HTTPFields()

    private func reply(to request: ServerRequest) -> (reply: MockReply, freshForSeconds: Int) {
        let headers = request.head.headers
        // Fault headers are rare: skip seven header lookups when none is present. The prefix is
        // compared as bytes (`String.hasPrefix` compares Unicode-canonically).
        let hasFaultHeaders = headers.contains { field in
            var name = field.name.canonicalName
            return name.withUTF8 { $0.starts(with: "x-mock-".utf8) }
        }
        return cache.lookup(method: request.head.method.rawValue, path: request.head.target,
                           header: { name in hasFaultHeaders ? HTTPField.Name(name).flatMap { headers[$0] } : nil },
                           body: request.body)
    }

    /// Replies without injected latency and with a whole body are written at once, without a
    /// task; the rest (latency, SSE pacing) go through `handle`. A reply depends only on the
    /// request's bytes (the `created` it shows is cached with it), so the server may repeat it
    /// to byte-identical requests for as long as the reply cache would give the same one.
    public func immediateResponse(to request: ServerRequest) -> ServerResponse? {
        let (reply, freshForSeconds) = reply(to: request)
        guard reply.faults.latencyMs <= 0, case .full(let bytes) = reply.body else { return nil }
        return ServerResponse(status: reply.status, headers: fields(for: reply.headers), body: .bytes(bytes),
                              repeatableForSeconds: freshForSeconds)
    }

    public func handle(_ request: ServerRequest) async -> ServerResponse {
        let reply = reply(to: request).reply
        if reply.faults.latencyMs > 0 {
            try? await reactor.sleep(nanoseconds: UInt64(reply.faults.latencyMs) * 1_000_000)
        }
        let fields = fields(for: reply.headers)
        switch reply.body {
        case .full(let bytes):
            return ServerResponse(status: reply.status, headers: fields, body: .bytes(bytes))
        case .stream(let chunks):
            return ServerResponse(status: reply.status, headers: fields,
                                  body: .stream(PacedChunks(chunks: chunks, faults: reply.faults, reactor: reactor)))
        }
    }

    private func fields(for headers: [(String, String)]) -> HTTPFields {
        if headers.count == lastHeaders.count && zip(headers, lastHeaders).allSatisfy({ $0.0 == $1.0 && $0.1 == $1.1 }) {
            return lastFields
        }
        var fields = HTTPFields()
        for (name, value) in headers {
            if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
        }
        lastHeaders = headers
        lastFields = fields
        return fields
    }
}

/// Plays SSE events in `MockPlayback`'s order, waiting on the reactor. Reactor-thread confined.
final class PacedChunks: ServerStream, @unchecked Sendable {
    private var playback: MockPlayback
    private let reactor: Reactor

    init(chunks: [[UInt8]], faults: MockFaults, reactor: Reactor) {
        self.playback = MockPlayback(chunks: chunks, faults: faults)
        self.reactor = reactor
    }

    func next() async -> ServerStreamPiece {
        while true {
            switch playback.next() {
            case .wait(let milliseconds):
                do { try await reactor.sleep(nanoseconds: UInt64(milliseconds) * 1_000_000) } catch { return .end }
            case .chunk(let bytes): return .chunk(bytes)
            case .reset: return .reset
            case .end: return .end
            }
        }
    }

    func cancel() {}
}
