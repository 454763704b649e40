import Gateway
import GatewayCore
import Glibc
import HTTPServer
import HTTPTypes
import MockLLMServer
import Reactor
import Synchronization
import TestSupport

/// An OpenAI-compatible upstream on its own reactor (mock-llm's handler) that also records the
/// last request body and Authorization header it received.
final class MockUpstream: @unchecked Sendable {
    /// What the upstream saw last, shared with its handler.
    final class Seen: @unchecked Sendable {
        let body = Mutex<[UInt8]>([])
        let authorization = Mutex<String?>(nil)
        let openAIBeta = Mutex<String?>(nil)
        let handler = Mutex<MockLLMHandler?>(nil)
    }

    let server: TestServer
    let seen = Seen()
    var port: Int { server.port }
    var lastBody: [UInt8] { seen.body.withLock { $0 } }
    var lastAuthorization: String? { seen.authorization.withLock { $0 } }
    var lastOpenAIBeta: String? { seen.openAIBeta.withLock { $0 } }

    init() throws {
        let seen = self.seen
        server = try TestServer(handler: ClosureHandler { request in
            seen.body.withLock { $0 = request.body }
            seen.authorization.withLock { $0 = request.head.headers[.authorization] }
            seen.openAIBeta.withLock { $0 = request.head.headers[HTTPField.Name("openai-beta")!] }
            return await seen.handler.withLock { $0! }.handle(request)
        })
        let reactor = server.reactor
        seen.handler.withLock { $0 = MockLLMHandler(reactor: reactor) }
    }

    func stop() { server.stop() }
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
