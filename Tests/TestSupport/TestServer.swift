import HTTPServer
import HTTPTypes
import Reactor

/// An HTTP server on its own reactor thread, bound to 127.0.0.1 port 0, for tests.
public final class TestServer: @unchecked Sendable {
    public let group: ReactorGroup
    public let reactor: Reactor
    public private(set) var worker: HTTPServerWorker!
    public let port: Int

    public init(configuration: HTTPServerConfiguration = .init(), handler: any HTTPRequestHandler) throws {
        group = try ReactorGroup(count: 1, namePrefix: "test-srv")
        reactor = group.reactors[0]
        let fd = try Listener.bind(host: "127.0.0.1", port: 0)
        port = Listener.boundPort(fd)
        group.start()
        let ready = Semaphore()
        nonisolated(unsafe) var made: HTTPServerWorker?
        reactor.execute { [reactor] in
            let worker = HTTPServerWorker(reactor: reactor, configuration: configuration, handler: handler)
            try? worker.start(listeningFD: fd)
            made = worker
            ready.signal()
        }
        ready.wait()
        worker = made
    }

    /// Runs `body` on the server's reactor and waits for the result.
    public func onReactor<T: Sendable>(_ body: @escaping @Sendable () -> T) -> T {
        let done = Semaphore()
        nonisolated(unsafe) var result: T?
        reactor.execute {
            result = body()
            done.signal()
        }
        done.wait()
        return result!
    }

    public func stop() {
        let drained = Semaphore()
        reactor.execute { [worker] in
            worker!.drain { drained.signal() }
            worker!.closeAll()
        }
        _ = drained.wait(timeoutNanos: 2_000_000_000)
        group.stopAndJoin()
    }
}

/// A handler built from a closure.
public struct ClosureHandler: HTTPRequestHandler {
    let body: @Sendable (ServerRequest) async -> ServerResponse
    public init(_ body: @escaping @Sendable (ServerRequest) async -> ServerResponse) { self.body = body }
    public func handle(_ request: ServerRequest) async -> ServerResponse { await body(request) }
}

/// Echoes method, target and body as text.
public let echoHandler = ClosureHandler { request in
    var headers = HTTPFields()
    headers[.contentType] = "text/plain"
    let text = "\(request.head.method.rawValue) \(request.head.target) \(String(decoding: request.body, as: UTF8.self))"
    return ServerResponse(status: 200, headers: headers, body: .bytes(Array(text.utf8)))
}
