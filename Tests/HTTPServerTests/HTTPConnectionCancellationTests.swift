import HTTPServer
import Reactor
import Synchronization
import TestSupport
import Testing

/// What a handler's wait registers with its serving task's scope; signals when cancelled, then
/// lets the wait end. Reactor-confined in use, hence `@unchecked Sendable`.
final class ParkedWait: ScopeCancellable, @unchecked Sendable {
    let parked = Semaphore()
    let cancelled = Semaphore()
    var continuation: UnsafeContinuation<Void, Never>?

    func cancel() {
        cancelled.signal()
        continuation?.resume()
        continuation = nil
    }
}

@Suite struct HTTPConnectionCancellationTests {
    @Test func aClientThatLeavesCancelsTheScopeOfItsServingTask() throws {
        let wait = ParkedWait()
        let server = try TestServer(handler: ClosureHandler { _ in
            guard let scope = CancellationScope.current, scope.hold(wait) else { return ServerResponse(status: 500, body: .bytes([])) }
            await withUnsafeContinuation { continuation in
                wait.continuation = continuation
                wait.parked.signal()
            }
            scope.release(wait)
            return ServerResponse(status: 200, body: .bytes([]))
        })
        defer { server.stop() }
        do {
            let client = try RawHTTPClient(port: server.port, timeout: 1)
            client.get("/slow")
            #expect(wait.parked.wait(timeoutNanos: 5_000_000_000), "the handler is waiting")
        }
        // The client is gone (its deinit closed the socket): the wait must be cancelled.
        #expect(wait.cancelled.wait(timeoutNanos: 5_000_000_000))
    }
}
