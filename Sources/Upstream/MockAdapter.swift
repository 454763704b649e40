import GatewayCore
import HTTPTypes
import MockProvider
import Reactor

/// `type: mock` — the built-in provider that answers offline, so the default config always
/// serves. It plays the same `MockResponder` as the `mock-llm` server (deterministic content,
/// real SSE framing and error bodies, faults per request) with latency and token intervals on
/// the worker's reactor timers. Runs on the worker's reactor.
public final class MockAdapter: ProviderAdapter {
    public let providerName: String
    private let responder: MockResponder
    private let reactor: Reactor

    public init(providerName: String, reactor: Reactor, responder: MockResponder = MockResponder()) {
        self.providerName = providerName
        self.reactor = reactor
        self.responder = responder
    }

    @inline(__always)  // its body is the `ProviderAdapter` witness: one task frame less
    public func send(_ request: GatewayRequest, deployment: ResolvedDeployment, context: RequestContext) async -> GatewayResponse {
        let body = request.body(forModel: deployment.model)
        let headers = request.headers
        let started = monotonicNanos()
        let reply = responder.respond(method: "POST", path: "/v1" + request.endpoint.path,
                                      header: { name in HTTPField.Name(name).flatMap { headers[$0] } }, body: body)
        if reply.faults.latencyMs > 0 {
            do {
                try await reactor.sleep(nanoseconds: UInt64(reply.faults.latencyMs) * 1_000_000)
            } catch {
                return GatewayResponse(error: .upstreamUnavailable(providerName, "the request was cancelled"))
            }
        }
        context.upstreamNanos &+= monotonicNanos() &- started
        guard (200..<300).contains(reply.status) else {
            let bytes: [UInt8] = if case .full(let b) = reply.body { b } else { [] }
            return GatewayResponse(error: .provider(status: reply.status, body: bytes, provider: providerName, headers: reply.headers))
        }
        var fields = HTTPFields()
        for (name, value) in reply.headers where name.lowercased() == "content-type" { fields[.contentType] = value }
        switch reply.body {
        case .full(let bytes):
            return GatewayResponse(status: reply.status, headers: fields, body: .bytes(bytes))
        case .stream(let chunks):
            fields[.cacheControl] = "no-cache"
            let source = MockChunkStream(chunks: chunks, faults: reply.faults, reactor: reactor, provider: providerName)
            return GatewayResponse(status: reply.status, headers: fields,
                                   body: .stream(SSEStreamGuard(.pieces(source), provider: providerName, context: context)))
        }
    }
}

/// Plays pre-built SSE events in `MockPlayback`'s order; a reset breaks the stream the way a
/// dropped connection does. Reactor-thread confined.
final class MockChunkStream: ResponseStream, @unchecked Sendable {
    private var playback: MockPlayback
    private let reactor: Reactor
    private let provider: String
    private var cancelled = false

    init(chunks: [[UInt8]], faults: MockFaults, reactor: Reactor, provider: String) {
        self.playback = MockPlayback(chunks: chunks, faults: faults)
        self.reactor = reactor
        self.provider = provider
    }

    func next() async throws(GatewayError) -> [UInt8]? {
        while !cancelled {
            switch playback.next() {
            case .wait(let milliseconds):
                do { try await reactor.sleep(nanoseconds: UInt64(milliseconds) * 1_000_000) } catch { return nil }
            case .chunk(let bytes): return bytes
            case .reset: throw GatewayError.streamInterrupted(provider, "connection reset by peer")
            case .end: return nil
            }
        }
        return nil
    }

    func cancel() { cancelled = true }
}
