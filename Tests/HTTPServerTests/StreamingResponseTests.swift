import func Glibc.recv
import HTTPServer
import HTTPTypes
import Reactor
import Synchronization
import TestSupport
import Testing

/// A stream of numbered chunks; `pulled` counts how many the server asked for.
final class CountingStream: ServerStream, @unchecked Sendable {
    let count: Int
    let size: Int
    let failAt: Int?
    let pulled = Atomic<Int>(0)
    let cancelled = Semaphore()
    let overrun: Semaphore?
    let overrunAt: Int

    init(count: Int, size: Int = 16, failAt: Int? = nil, overrunAt: Int = .max, overrun: Semaphore? = nil) {
        self.count = count
        self.size = size
        self.failAt = failAt
        self.overrunAt = overrunAt
        self.overrun = overrun
    }

    func next() async -> ServerStreamPiece {
        let i = pulled.add(1, ordering: .relaxed).newValue - 1
        if i == overrunAt { overrun?.signal() }
        if i == failAt { return .fail(finalChunk: Array("data: {\"error\":{}}\n\n".utf8)) }
        guard i < count else { return .end }
        return .chunk([UInt8](repeating: UInt8(ascii: "a") + UInt8(i % 26), count: size))
    }

    func cancel() { cancelled.signal() }
}

/// Never yields: a stream waiting on a slow upstream.
final class StalledStream: ServerStream, @unchecked Sendable {
    let reactor: Reactor
    let cancelled = Semaphore()
    init(reactor: Reactor) { self.reactor = reactor }
    func next() async -> ServerStreamPiece {
        try? await reactor.sleep(nanoseconds: 60_000_000_000)
        return .end
    }
    func cancel() { cancelled.signal() }
}

func streamingServer(_ make: @escaping @Sendable () -> any ServerStream) throws -> TestServer {
    try TestServer(handler: ClosureHandler { _ in
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        return ServerResponse(status: 200, headers: headers, body: .stream(make()))
    })
}

@Suite struct StreamingResponseTests {
    @Test func chunksArriveInOrderWithChunkedFraming() throws {
        let stream = CountingStream(count: 50)
        let server = try streamingServer { stream }
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        client.get("/s")
        var chunks = 0
        let response = try client.readResponse { _ in chunks += 1 }
        #expect(response.header("transfer-encoding") == "chunked")
        #expect(chunks == 50)
        #expect(response.body.count == 50 * 16)
        client.get("/again")  // keep-alive after a clean stream
        #expect(try client.readResponse().status == 200)
    }

    @Test func aFailedStreamEndsWithItsErrorEventAndTheConnectionStaysUsable() throws {
        let server = try streamingServer { CountingStream(count: 10, failAt: 3) }
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        client.get("/s")
        let response = try client.readResponse()
        #expect(response.bodyText.hasSuffix("data: {\"error\":{}}\n\n"))
        client.get("/next")  // the same keep-alive connection
        #expect(try client.readResponse().status == 200)
    }

    @Test func aClientThatLeavesCancelsTheStream() throws {
        let made = Mutex<StalledStream?>(nil)
        let server = try TestServer(handler: ClosureHandler { _ in
            ServerResponse(status: 200, body: .stream(made.withLock { $0! }))
        })
        defer { server.stop() }
        let stalled = StalledStream(reactor: server.reactor)
        made.withLock { $0 = stalled }
        do {
            let client = try RawHTTPClient(port: server.port, timeout: 1)
            client.get("/s")
            _ = try? client.readResponse()  // the head arrives; the body never ends
        }
        // The client is gone (its deinit closed the socket): the server must cancel the stream.
        #expect(stalled.cancelled.wait(timeoutNanos: 5_000_000_000))
    }

    @Test func aSlowClientPausesTheStream() throws {
        let overrun = Semaphore()
        // 64 KiB chunks, 32 MiB in all: far more than socket buffers and the high-water mark hold.
        let stream = CountingStream(count: 512, size: 65_536, overrunAt: 400, overrun: overrun)
        let server = try streamingServer { stream }
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port, timeout: 20)
        client.get("/big")
        // Not reading: the server must stop pulling well before 400 chunks.
        #expect(!overrun.wait(timeoutNanos: 300_000_000))
        let pulledWhileStalled = stream.pulled.load(ordering: .relaxed)
        #expect(pulledWhileStalled < 400)
        let response = try client.readResponse()
        #expect(response.body.count == 512 * 65_536)
    }

    /// Chunks the stream has at hand leave together (one `send` at the end of the reactor turn,
    /// as nginx's buffered relay does), not one system call each.
    @Test func chunksAtHandLeaveInOneWrite() throws {
        let server = try streamingServer { CountingStream(count: 50) }
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        client.get("/s")
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let n = buffer.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress, $0.count, 0) }
        let text = String(decoding: buffer[..<max(n, 0)], as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(text.hasSuffix("\r\n0\r\n\r\n"), "head, 50 chunks and the last-chunk in one read")
    }

    /// The head of a stream whose first chunk is slow still goes out at once.
    @Test func theHeadLeavesBeforeTheFirstChunk() throws {
        let made = Mutex<StalledStream?>(nil)
        let server = try TestServer(handler: ClosureHandler { _ in
            ServerResponse(status: 200, body: .stream(made.withLock { $0! }))
        })
        defer { server.stop() }
        made.withLock { $0 = StalledStream(reactor: server.reactor) }
        let client = try RawHTTPClient(port: server.port, timeout: 5)
        client.get("/s")
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !String(decoding: received, as: UTF8.self).contains("\r\n\r\n") {
            let n = buffer.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            received += buffer[..<n]
        }
        #expect(String(decoding: received, as: UTF8.self).hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(String(decoding: received, as: UTF8.self).contains("transfer-encoding: chunked"))
    }
}
