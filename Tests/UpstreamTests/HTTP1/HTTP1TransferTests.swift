import HTTPServer
import HTTPTypes
import Reactor
import TestSupport
import Testing
@testable import Upstream

/// Runs `body` as a task on a fresh worker reactor with a native pool, like a gateway worker.
func withHTTP1<T: Sendable>(_ options: HTTP1ConnectionPool.Options = .init(),
                            _ body: @escaping @Sendable (Reactor, HTTP1ConnectionPool) async throws -> T) async throws -> T {
    try await onWorker { reactor in
        let pool = HTTP1ConnectionPool(reactor: reactor, options: options)
        let result = try await body(reactor, pool)
        #expect(pool.activeTransfers == 0, "every transfer is finished")
        return result
    }
}

func http1Request(_ port: Int, _ path: String, host: String = "127.0.0.1", streaming: Bool = false,
                  firstByte: UInt64 = 5_000_000_000) -> HTTP1Request {
    let origin = HTTP1Origin(host: host, port: port)
    return HTTP1Request(origin: origin, path: path, headers: HTTP1HeaderBlock(origin: origin, lines: ["Content-Type: application/json"]),
                        body: Array("{\"x\":1}".utf8), streaming: streaming,
                        timeouts: UpstreamTimeouts(connect: 1_000_000_000, firstByte: firstByte, total: 10_000_000_000))
}

/// The transfer's contract, the same as `CurlTransferTests` checks for curl, against real sockets.
@Suite struct HTTP1TransferTests {
    @Test func aPostGetsItsStatusHeadersAndBody() async throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let (status, contentType, body) = try await withHTTP1 { _, pool in
            let transfer = HTTP1Transfer(http1Request(server.port, "/v1/x"), pool: pool)
            let head = try await transfer.head()
            let body = try await transfer.body()
            return (head.status, head.headers.first { $0.0 == "content-type" }?.1, String(decoding: body, as: UTF8.self))
        }
        #expect(status == 200)
        #expect(contentType == "text/plain")
        #expect(body == "POST /v1/x {\"x\":1}")
    }

    @Test func aChunkedBodyIsCollectedWhole() async throws {
        let server = try TestServer(handler: ClosureHandler { _ in ServerResponse(status: 200, body: .stream(Pieces(count: 30, size: 3000))) })
        defer { server.stop() }
        let answer = try await withHTTP1 { _, pool in
            try await HTTP1Transfer(http1Request(server.port, "/c"), pool: pool).response()
        }
        #expect(answer.status == 200 && answer.body.count == 90_000 && answer.body.allSatisfy { $0 == 0x61 })
    }

    @Test func aStreamedBodyArrivesPieceByPiece() async throws {
        let server = try TestServer(handler: ClosureHandler { _ in ServerResponse(status: 200, body: .stream(Pieces(count: 20, size: 1000))) })
        defer { server.stop() }
        let total = try await withHTTP1 { _, pool in
            let transfer = HTTP1Transfer(http1Request(server.port, "/s", streaming: true), pool: pool)
            _ = try await transfer.head()
            var total = 0
            while let piece = try await transfer.next() { total += piece.count }
            return total
        }
        #expect(total == 20_000)
    }

    @Test func aConsumerThatDoesNotPullStopsTheReadsAndLosesNothing() async throws {
        let server = try TestServer(handler: ClosureHandler { _ in
            ServerResponse(status: 200, body: .stream(Pieces(count: 256, size: 16_384)))  // 4 MiB
        })
        defer { server.stop() }
        let total = try await withHTTP1 { _, pool in
            let transfer = HTTP1Transfer(http1Request(server.port, "/big", streaming: true), pool: pool)
            _ = try await transfer.head()
            // Not pulling: the transfer stops reading once its queue is full, however long we wait.
            while !transfer.paused { await Task.yield() }
            for _ in 0..<100 { await Task.yield() }
            #expect(transfer.paused)
            #expect(transfer.queued.count <= HTTP1Transfer.maxQueued + HTTP1ConnectionPool.readSize)
            var total = 0
            while let piece = try await transfer.next() {
                #expect(piece.count <= HTTP1Transfer.maxQueued + HTTP1ConnectionPool.readSize)
                total += piece.count
            }
            return total
        }
        #expect(total == 256 * 16_384)
    }

    @Test func aClosedPortIsAConnectError() async throws {
        let port = freeLoopbackPort()
        let error = try await withHTTP1 { _, pool -> TransferError? in
            let transfer = HTTP1Transfer(http1Request(port, "/"), pool: pool)
            do throws(TransferError) { _ = try await transfer.head(); return nil } catch { return error }
        }
        guard case .connect = error else { Issue.record("expected a connect error, got \(String(describing: error))"); return }
    }

    @Test func aNameIsLookedUpAndEachAddressTried() async throws {
        // "localhost" may resolve to ::1 first; the server listens on 127.0.0.1 only.
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let status = try await withHTTP1 { _, pool in
            try await HTTP1Transfer(http1Request(server.port, "/n", host: "localhost"), pool: pool).response().status
        }
        #expect(status == 200)
    }

    @Test func noHeadWithinTheFirstByteTimeoutIsATimeout() async throws {
        let stalled = try TestServer(handler: ClosureHandler { _ in
            await withCheckedContinuation { (_: CheckedContinuation<Void, Never>) in }  // never answers
            return ServerResponse(status: 200, body: .bytes([]))
        })
        defer { stalled.stop() }
        let (error, open) = try await withHTTP1 { _, pool -> (TransferError?, Int) in
            let request = http1Request(stalled.port, "/", firstByte: 100_000_000)
            let transfer = HTTP1Transfer(request, pool: pool)
            do throws(TransferError) { _ = try await transfer.head(); return (nil, 0) } catch {
                return (error, pool.openConnections(to: request.origin))
            }
        }
        guard case .timeout = error else { Issue.record("expected a timeout, got \(String(describing: error))"); return }
        #expect(open == 0, "a timed-out connection is closed, not pooled")
    }

    @Test func cancellingMidStreamClosesTheConnection() async throws {
        let server = try TestServer(handler: ClosureHandler { _ in
            ServerResponse(status: 200, body: .stream(Pieces(count: 100_000, size: 1000)))
        })
        defer { server.stop() }
        let (first, error, open) = try await withHTTP1 { _, pool in
            let request = http1Request(server.port, "/long", streaming: true)
            let transfer = HTTP1Transfer(request, pool: pool)
            _ = try await transfer.head()
            let first = try await transfer.next()
            transfer.cancel()
            var failure: TransferError?
            do throws(TransferError) { while try await transfer.next() != nil {} } catch { failure = error }
            return (first?.count ?? 0, failure, pool.openConnections(to: request.origin))
        }
        #expect(first > 0)
        #expect(error == .cancelled)
        #expect(open == 0)
    }

    @Test func theUpstreamClosingMidBodyIsAnError() async throws {
        let upstream = try ScriptedUpstream { connection in
            _ = connection.readRequest()
            if connection.index == 0 {
                connection.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
            } else {
                connection.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
            }
            connection.close()
        }
        defer { upstream.stop() }
        let errors = try await withHTTP1 { _, pool in
            var errors: [TransferError] = []
            for _ in 0..<2 {
                let transfer = HTTP1Transfer(http1Request(upstream.port, "/cut"), pool: pool)
                do throws(TransferError) { _ = try await transfer.response() } catch { errors.append(error) }
            }
            return errors
        }
        #expect(errors.count == 2)
        for error in errors {
            guard case .io(let text) = error else { Issue.record("expected an I/O error, got \(error)"); continue }
            #expect(text.contains("before the response was complete"))
        }
    }

    @Test func aCloseDelimitedBodyEndsAtTheCloseAndTheConnectionIsNotKept() async throws {
        let upstream = try ScriptedUpstream { connection in
            _ = connection.readRequest()
            connection.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
            connection.close()
        }
        defer { upstream.stop() }
        let (body, idle) = try await withHTTP1 { _, pool in
            let request = http1Request(upstream.port, "/eof")
            let body = try await HTTP1Transfer(request, pool: pool).body()
            return (String(decoding: body, as: UTF8.self), pool.idleConnections(to: request.origin))
        }
        #expect(body == "until the end")
        #expect(idle == 0)
    }

    @Test func aMalformedAnswerIsAnIOErrorAndClosesTheConnection() async throws {
        let upstream = try ScriptedUpstream { connection in
            _ = connection.readRequest()
            connection.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello")
            _ = connection.readRequest()  // until the client closes
        }
        defer { upstream.stop() }
        let (error, open) = try await withHTTP1 { _, pool -> (TransferError?, Int) in
            let request = http1Request(upstream.port, "/bad")
            do throws(TransferError) { _ = try await HTTP1Transfer(request, pool: pool).response(); return (nil, 0) } catch {
                return (error, pool.openConnections(to: request.origin))
            }
        }
        guard case .io(let text) = error else { Issue.record("expected an I/O error, got \(String(describing: error))"); return }
        #expect(text.contains("conflicting Content-Length"))
        #expect(open == 0)
    }
}

/// A parked transfer gives its cancellation to the serving task's `CancellationScope`.
@Suite struct HTTP1TransferScopeTests {
    @Test func cancellingTheScopeCancelsAParkedTransfer() async throws {
        let upstream = try ScriptedUpstream { connection in
            _ = connection.readRequest()
            _ = connection.readRequest()  // never answers; returns once the gateway side closes
        }
        defer { upstream.stop() }
        let error = try await withHTTP1 { reactor, pool in
            let scope = CancellationScope(reactor: reactor)
            return await CancellationScope.$current.withValue(scope) { () async -> TransferError? in
                let transfer = HTTP1Transfer(http1Request(upstream.port, "/slow"), pool: pool)
                reactor.execute { scope.cancel() }  // runs once the task has parked in `head()`
                do throws(TransferError) { _ = try await transfer.head() } catch { return error }
                return nil
            }
        }
        #expect(error == .cancelled)
    }

    @Test func withoutAScopeTaskCancellationStillCancelsIt() async throws {
        let upstream = try ScriptedUpstream { connection in
            _ = connection.readRequest()
            _ = connection.readRequest()
        }
        defer { upstream.stop() }
        let error = try await withHTTP1 { reactor, pool in
            let waiting = Task(executorPreference: reactor) { () async -> TransferError? in
                let transfer = HTTP1Transfer(http1Request(upstream.port, "/slow"), pool: pool)
                do throws(TransferError) { _ = try await transfer.head() } catch { return error }
                return nil
            }
            reactor.execute { waiting.cancel() }
            return await waiting.value
        }
        #expect(error == .cancelled)
    }
}
