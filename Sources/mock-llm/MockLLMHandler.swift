import HTTPServer
import HTTPTypes
import MockProvider
import Reactor

/// Serves `MockResponder` replies over HTTP on one worker, playing out the fault plan:
/// latency before the head, a pause between stream chunks, a TCP reset after N chunks, or a
/// clean end without `[DONE]`. Replies are cached per worker, so a benchmark's repeated
/// request costs no JSON parsing. Reactor-thread confined.
final class MockLLMHandler: HTTPRequestHandler, @unchecked Sendable {
    private let cache: MockReplyCache
    private let reactor: Reactor

    init(reactor: Reactor, responder: MockResponder) {
        self.reactor = reactor
        self.cache = MockReplyCache(responder: responder)
    }

    func handle(_ request: ServerRequest) async -> ServerResponse {
        let headers = request.head.headers
        let reply = cache.reply(method: request.head.method.rawValue, path: request.head.target,
                                header: { name in HTTPField.Name(name).flatMap { headers[$0] } }, body: request.body)
        if reply.faults.latencyMs > 0 {
            try? await reactor.sleep(nanoseconds: UInt64(reply.faults.latencyMs) * 1_000_000)
        }
        var fields = HTTPFields()
        for (name, value) in reply.headers {
            if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
        }
        switch reply.body {
        case .full(let bytes):
            return ServerResponse(status: reply.status, headers: fields, body: .bytes(bytes))
        case .stream(let chunks):
            return ServerResponse(status: reply.status, headers: fields,
                                  body: .stream(PacedChunks(chunks: chunks, faults: reply.faults, reactor: reactor)))
        }
    }
}

/// Plays SSE events with the fault plan's pacing. Reactor-thread confined.
final class PacedChunks: ServerStream, @unchecked Sendable {
    private let chunks: [[UInt8]]
    private let faults: MockFaults
    private let reactor: Reactor
    private var index = 0

    init(chunks: [[UInt8]], faults: MockFaults, reactor: Reactor) {
        self.chunks = chunks
        self.faults = faults
        self.reactor = reactor
    }

    func next() async -> ServerStreamPiece {
        if let reset = faults.resetAfterChunks, index >= reset { return .reset }
        guard index < chunks.count else { return .end }
        if index > 0 && faults.tokenIntervalMs > 0 {
            do { try await reactor.sleep(nanoseconds: UInt64(faults.tokenIntervalMs) * 1_000_000) } catch { return .end }
        }
        defer { index += 1 }
        return .chunk(chunks[index])
    }

    func cancel() {}
}
