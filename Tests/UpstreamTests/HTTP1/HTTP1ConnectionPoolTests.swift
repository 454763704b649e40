import Glibc
import HTTPServer
import Reactor
import TestSupport
import Testing
@testable import Upstream

/// Keep-alive reuse, the per-origin bound, and what happens to stale or broken connections:
/// a request is sent again only when none of it can have reached the upstream.
@Suite struct HTTP1ConnectionPoolTests {
    @Test func sequentialRequestsShareOneConnection() async throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let (opened, idle, serverSide) = try await withHTTP1 { _, pool in
            for i in 0..<50 {
                let answer = try await HTTP1Transfer(http1Request(server.port, "/r/\(i)"), pool: pool).response()
                #expect(String(decoding: answer.body, as: UTF8.self) == "POST /r/\(i) {\"x\":1}")
            }
            return (pool.connectionsOpened, pool.idleConnections(to: HTTP1Origin(host: "127.0.0.1", port: server.port)),
                    server.onReactor { server.worker.connectionCount })
        }
        #expect(opened == 1)
        #expect(idle == 1)
        #expect(serverSide == 1)
    }

    @Test(arguments: [(UInt64(0), 9), (UInt64.max, 0)])
    func anIdleConnectionIsProbedOnlyOnceIdleLongEnough(after: UInt64, probes: Int) async throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let (opened, probed) = try await withHTTP1 { _, pool in
            pool.probeIdleAfter = after
            for i in 0..<10 {
                let answer = try await HTTP1Transfer(http1Request(server.port, "/p/\(i)"), pool: pool).response()
                #expect(String(decoding: answer.body, as: UTF8.self) == "POST /p/\(i) {\"x\":1}")
            }
            return (pool.connectionsOpened, pool.probesMade)
        }
        #expect(opened == 1)
        #expect(probed == probes, "every reuse probed at 0, none when never idle long enough")
    }

    @Test func transfersBeyondTheBoundWaitForAConnection() async throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let origin = HTTP1Origin(host: "127.0.0.1", port: server.port)
        let (queued, bodies, opened) = try await withHTTP1(.init(maxConnectionsPerHost: 2)) { _, pool in
            let transfers = (0..<10).map { HTTP1Transfer(http1Request(server.port, "/q/\($0)"), pool: pool) }
            let queued = (pool.openConnections(to: origin), pool.waitingTransfers(for: origin))
            var bodies: [String] = []
            for transfer in transfers { bodies.append(String(decoding: try await transfer.body(), as: UTF8.self)) }
            return (queued, bodies, pool.connectionsOpened)
        }
        #expect(queued.0 == 2 && queued.1 == 8)
        #expect(bodies == (0..<10).map { "POST /q/\($0) {\"x\":1}" })
        #expect(opened == 2)
    }

    @Test func aWaitingTransferThatIsCancelledLeavesTheQueue() async throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let origin = HTTP1Origin(host: "127.0.0.1", port: server.port)
        let (waiting, status) = try await withHTTP1(.init(maxConnectionsPerHost: 1)) { _, pool in
            let first = HTTP1Transfer(http1Request(server.port, "/a"), pool: pool)
            let second = HTTP1Transfer(http1Request(server.port, "/b"), pool: pool)
            second.cancel()
            let waiting = pool.waitingTransfers(for: origin)
            return (waiting, try await first.response().status)
        }
        #expect(waiting == 0)
        #expect(status == 200)
    }

    @Test(arguments: [false, true])
    func anIdleConnectionThePeerClosedIsReplacedBeforeTheRequestGoes(reset: Bool) async throws {
        let closeNow = Semaphore()
        let closed = Semaphore()
        let upstream = try ScriptedUpstream { connection in
            guard connection.readRequest() != nil else { return }
            connection.respond("\(connection.index)")
            if connection.index == 0 {
                closeNow.wait()
                if reset { connection.reset() } else { connection.close() }
                closed.signal()
                return
            }
            _ = connection.readRequest()
            connection.close()
        }
        defer { upstream.stop() }
        let (first, second, opened) = try await withHTTP1 { _, pool in
            pool.probeIdleAfter = 0
            let first = try await HTTP1Transfer(http1Request(upstream.port, "/1"), pool: pool).body()
            closeNow.signal()
            closed.wait()
            waitForPeerClose(pool, port: upstream.port)  // the FIN or RST is in; the reactor has not looked
            let second = try await HTTP1Transfer(http1Request(upstream.port, "/2"), pool: pool).body()
            return (String(decoding: first, as: UTF8.self), String(decoding: second, as: UTF8.self), pool.connectionsOpened)
        }
        #expect(first == "0" && second == "1")
        #expect(opened == 2)
        #expect(upstream.requestLines == ["POST /1 HTTP/1.1", "POST /2 HTTP/1.1"], "each request reached the upstream once")
    }

    @Test func anIdleConnectionThePeerClosesLeavesThePool() async throws {
        let closeNow = Semaphore()
        let upstream = try ScriptedUpstream { connection in
            guard connection.readRequest() != nil else { return }
            connection.respond()
            closeNow.wait()
            connection.close()
        }
        defer { upstream.stop() }
        let origin = HTTP1Origin(host: "127.0.0.1", port: upstream.port)
        let open = try await withHTTP1 { _, pool in
            _ = try await HTTP1Transfer(http1Request(upstream.port, "/1"), pool: pool).body()
            #expect(pool.idleConnections(to: origin) == 1)
            closeNow.signal()
            while pool.idleConnections(to: origin) > 0 { await Task.yield() }  // the reactor sees the EOF
            return pool.openConnections(to: origin)
        }
        #expect(open == 0)
    }

    @Test func aRequestRefusedOnAResetConnectionIsSentOnceOnAFreshOne() async throws {
        // Without the probe at reuse, the reset is found by the send itself: nothing of the
        // request was accepted, so it goes once more on a new connection.
        let resetNow = Semaphore()
        let wasReset = Semaphore()
        let upstream = try ScriptedUpstream { connection in
            guard connection.readRequest() != nil else { return }
            connection.respond("\(connection.index)")
            if connection.index == 0 {
                resetNow.wait()
                connection.reset()
                wasReset.signal()
                return
            }
            _ = connection.readRequest()
            connection.close()
        }
        defer { upstream.stop() }
        let (second, opened) = try await withHTTP1 { _, pool in
            pool.probeIdleAfter = .max
            _ = try await HTTP1Transfer(http1Request(upstream.port, "/1"), pool: pool).body()
            resetNow.signal()
            wasReset.wait()
            waitForPeerClose(pool, port: upstream.port)
            let second = try await HTTP1Transfer(http1Request(upstream.port, "/2"), pool: pool).body()
            return (String(decoding: second, as: UTF8.self), pool.connectionsOpened)
        }
        #expect(second == "1")
        #expect(opened == 2)
        #expect(upstream.requestLines == ["POST /1 HTTP/1.1", "POST /2 HTTP/1.1"])
    }

    @Test(arguments: [false, true])
    func aPostThePeerReadIsNeverSentAgain(reset: Bool) async throws {
        let upstream = try ScriptedUpstream { connection in
            guard connection.readRequest() != nil else { return }
            connection.respond()
            guard connection.readRequest() != nil else { return }
            if reset { connection.reset() } else { connection.close() }  // read it, then went away
        }
        defer { upstream.stop() }
        let (error, opened) = try await withHTTP1 { _, pool -> (TransferError?, Int) in
            _ = try await HTTP1Transfer(http1Request(upstream.port, "/1"), pool: pool).body()
            do throws(TransferError) {
                _ = try await HTTP1Transfer(http1Request(upstream.port, "/2"), pool: pool).body()
                return (nil, pool.connectionsOpened)
            } catch {
                return (error, pool.connectionsOpened)
            }
        }
        guard case .io = error else { Issue.record("expected an I/O error, got \(String(describing: error))"); return }
        #expect(opened == 1, "no second connection was opened for it")
        #expect(upstream.requestLines == ["POST /1 HTTP/1.1", "POST /2 HTTP/1.1"])
        #expect(upstream.acceptedConnections == 1)
    }

    @Test func anAnswerWithConnectionCloseIsNotReused() async throws {
        let upstream = try ScriptedUpstream { connection in
            guard connection.readRequest() != nil else { return }
            connection.write("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
            _ = connection.readRequest()
            connection.close()
        }
        defer { upstream.stop() }
        let opened = try await withHTTP1 { _, pool in
            for i in 0..<3 { _ = try await HTTP1Transfer(http1Request(upstream.port, "/\(i)"), pool: pool).body() }
            return pool.connectionsOpened
        }
        #expect(opened == 3)
    }
}

/// Blocks the worker's thread (so its reactor cannot look first) until the kernel has taken the
/// peer's FIN or RST on the idle connection to `port`: what the pool does next is then decided.
func waitForPeerClose(_ pool: HTTP1ConnectionPool, port: Int) {
    guard let idle = pool.originPool(HTTP1Origin(host: "127.0.0.1", port: port)).idle.last else {
        Issue.record("no idle connection")
        return
    }
    var entry = pollfd(fd: idle.fd, events: Int16(POLLIN) | 0x2000 /* POLLRDHUP */, revents: 0)
    #expect(poll(&entry, 1, 10_000) == 1, "the peer's close arrived")
}
