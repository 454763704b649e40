import ArgumentParser
import Glibc
import HTTPServer
import MockLLMServer
import MockProvider
import Reactor

/// `mock-llm`: an OpenAI-compatible server with deterministic answers and per-request faults,
/// for tests, demos and benchmarks. Prints `{"listening":PORT}` once it accepts connections.
struct MockLLM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock-llm",
        abstract: "OpenAI-compatible mock LLM server with fault injection (x-mock-* headers or model+fault suffixes).")

    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Port to bind; 0 picks a free one.") var port = 8081
    @Option(help: "Worker threads (one reactor each).") var workers = 1
    @Option(help: "Completion tokens per answer.") var tokens = 16

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let group = try ReactorGroup(count: workers, namePrefix: "mock-llm")
        var boundPort = port
        var fds: [Int32] = []
        for _ in 0..<workers {
            let fd = try Listener.bind(host: host, port: boundPort)
            if boundPort == 0 { boundPort = Listener.boundPort(fd) }
            fds.append(fd)
        }
        group.start()
        let responder = MockResponder(completionTokens: tokens)
        let started = Semaphore()
        for (reactor, fd) in zip(group.reactors, fds) {
            reactor.execute {
                let handler = MockLLMHandler(reactor: reactor, responder: responder)
                let server = HTTPServerWorker(reactor: reactor, configuration: HTTPServerConfiguration(), handler: handler)
                try? server.start(listeningFD: fd)
                retainForever(server)
                started.signal()
            }
        }
        for _ in fds { started.wait() }
        let line = Array("{\"listening\":\(boundPort)}\n".utf8)
        _ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        // Serve until SIGTERM/SIGINT (default action: exit).
        while true { pause() }
    }
}

/// The servers live as long as the process; nothing else references them.
private func retainForever(_ object: AnyObject) {
    _ = Unmanaged.passRetained(object)
}

MockLLM.main()
