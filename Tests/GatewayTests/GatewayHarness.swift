import Gateway
import GatewayCore
import Glibc
import HTTPServer
import HTTPTypes
import MockProvider
import Reactor
import Synchronization
import TestSupport

/// An OpenAI-compatible upstream on its own reactor (MockResponder over HTTP) that also records
/// the last request body it received.
final class MockUpstream: @unchecked Sendable {
    /// What the upstream saw last, shared with its handler.
    final class Seen: @unchecked Sendable {
        let body = Mutex<[UInt8]>([])
        let authorization = Mutex<String?>(nil)
        let reactor = Mutex<Reactor?>(nil)
    }

    let server: TestServer
    let seen = Seen()
    var port: Int { server.port }
    var lastBody: [UInt8] { seen.body.withLock { $0 } }
    var lastAuthorization: String? { seen.authorization.withLock { $0 } }

    init() throws {
        let responder = MockResponder()
        let seen = self.seen
        server = try TestServer(handler: ClosureHandler { request in
            seen.body.withLock { $0 = request.body }
            seen.authorization.withLock { $0 = request.head.headers[.authorization] }
            let reactor = seen.reactor.withLock { $0! }
            let headers = request.head.headers
            let reply = responder.respond(method: request.head.method.rawValue, path: request.head.target,
                                          header: { HTTPField.Name($0).flatMap { headers[$0] } }, body: request.body)
            if reply.faults.latencyMs > 0 { try? await reactor.sleep(nanoseconds: UInt64(reply.faults.latencyMs) * 1_000_000) }
            var fields = HTTPFields()
            for (name, value) in reply.headers { if let n = HTTPField.Name(name) { fields.append(HTTPField(name: n, value: value)) } }
            switch reply.body {
            case .full(let bytes): return ServerResponse(status: reply.status, headers: fields, body: .bytes(bytes))
            case .stream(let chunks):
                return ServerResponse(status: reply.status, headers: fields,
                                      body: .stream(ReplayStream(chunks, faults: reply.faults, reactor: reactor)))
            }
        })
        seen.reactor.withLock { $0 = server.reactor }
    }

    func stop() { server.stop() }
}

/// Replays SSE events with the fault plan's interval and reset.
final class ReplayStream: ServerStream, @unchecked Sendable {
    let chunks: [[UInt8]]
    let faults: MockFaults
    let reactor: Reactor
    var index = 0
    init(_ chunks: [[UInt8]], faults: MockFaults, reactor: Reactor) {
        self.chunks = chunks
        self.faults = faults
        self.reactor = reactor
    }
    func next() async -> ServerStreamPiece {
        if let reset = faults.resetAfterChunks, index >= reset { return .reset }
        guard index < chunks.count else { return .end }
        if index > 0, faults.tokenIntervalMs > 0 { try? await reactor.sleep(nanoseconds: UInt64(faults.tokenIntervalMs) * 1_000_000) }
        index += 1
        return .chunk(chunks[index - 1])
    }
    func cancel() {}
}

/// A gateway on port 0 in this process, with its log lines written to a pipe the test can read.
final class GatewayHarness: @unchecked Sendable {
    let server: GatewayServer
    let port: Int
    let logRead: Int32
    private let logWrite: Int32

    init(yaml: String) throws {
        var fds: [Int32] = [0, 0]
        pipe(&fds)
        _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
        logRead = fds[0]
        logWrite = fds[1]
        let loaded = try ConfigLoader.load(yaml: yaml, file: "test.yaml", environment: [:], dotEnv: [:], cpuCount: 2)
        server = try GatewayServer(config: loaded.config, sink: LogSink(fd: logWrite))
        port = try server.start()
    }

    static func yaml(upstreamPort: Int, extra: String = "", server: String = "") -> String {
        """
        server: { listen: "127.0.0.1:0", workers: 2\(server) }
        providers:
          up: { type: openai, base_url: "http://127.0.0.1:\(upstreamPort)/v1", api_key: "sk-test-SECRET-0123456789" }
          mock: { type: mock }
        models:
          fast: { deployments: [ { provider: up, model: mock-gpt } ] }
          local: { deployments: [ { provider: mock, model: mock-gpt } ] }
          embed: { deployments: [ { provider: up, model: mock-embedding } ] }
        \(extra)
        pipeline:
          router: { strategy: priority }
        """
    }

    /// Everything logged so far (flushes the sink first).
    func logText() -> String {
        server.sink.flush()
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(logRead, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out.append(contentsOf: buffer[..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }

    func stop() {
        server.shutdown(drainTimeout: 2_000_000_000)
        close(logRead)
        close(logWrite)
    }
}

let chatBody = #"{"model":"fast","messages":[{"role":"user","content":"hello gateway"}]}"#
