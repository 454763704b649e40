import HTTPServer
import HTTPTypes
import Reactor
import TestSupport
import Testing
@testable import Upstream

/// Runs `body` as a task on a fresh client reactor with a curl multi, like a gateway worker.
func withCurl<T: Sendable>(_ body: @escaping @Sendable (Reactor, CurlMulti) async throws -> T) async throws -> T {
    try await onWorker { reactor in
        let multi = CurlMulti(reactor: reactor)
        let result = try await body(reactor, multi)
        #expect(multi.activeTransfers == 0, "every transfer is released")
        return result
    }
}

func request(_ port: Int, _ path: String, streaming: Bool = false, firstByte: UInt64 = 5_000_000_000) -> UpstreamHTTPRequest {
    UpstreamHTTPRequest(url: "http://127.0.0.1:\(port)\(path)", headers: CurlHeaderList(["Content-Type: application/json"]),
                        body: Array("{\"x\":1}".utf8), streaming: streaming,
                        timeouts: UpstreamTimeouts(connect: 1_000_000_000, firstByte: firstByte, total: 10_000_000_000))
}

@Suite struct CurlTransferTests {
    @Test func aPostGetsItsStatusHeadersAndBody() async throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let (status, contentType, body) = try await withCurl { _, multi in
            let transfer = CurlTransfer(request(server.port, "/v1/x"), multi: multi)
            let head = try await transfer.head()
            let body = try await transfer.body()
            return (head.status, head.headers.first { $0.0 == "content-type" }?.1, String(decoding: body, as: UTF8.self))
        }
        #expect(status == 200)
        #expect(contentType == "text/plain")
        #expect(body == "POST /v1/x {\"x\":1}")
    }

    @Test func manyConcurrentTransfersShareTheMulti() async throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let bodies = try await withCurl { _, multi in
            try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<50 {
                    group.addTask {
                        let transfer = CurlTransfer(request(server.port, "/n/\(i)"), multi: multi)
                        _ = try await transfer.head()
                        return String(decoding: try await transfer.body(), as: UTF8.self)
                    }
                }
                var all: Set<String> = []
                for try await body in group { all.insert(body) }
                return all
            }
        }
        #expect(bodies.count == 50)
    }

    @Test func aStreamedBodyArrivesPieceByPiece() async throws {
        let server = try TestServer(handler: ClosureHandler { _ in
            ServerResponse(status: 200, body: .stream(Pieces(count: 20, size: 1000)))
        })
        defer { server.stop() }
        let total = try await withCurl { _, multi in
            let transfer = CurlTransfer(request(server.port, "/s", streaming: true), multi: multi)
            _ = try await transfer.head()
            var total = 0
            while let piece = try await transfer.next() { total += piece.count }
            return total
        }
        #expect(total == 20_000)
    }

    @Test func aSlowConsumerPausesTheTransferAndLosesNothing() async throws {
        let server = try TestServer(handler: ClosureHandler { _ in
            ServerResponse(status: 200, body: .stream(Pieces(count: 256, size: 16_384)))  // 4 MiB
        })
        defer { server.stop() }
        let total = try await withCurl { reactor, multi in
            let transfer = CurlTransfer(request(server.port, "/big", streaming: true), multi: multi)
            _ = try await transfer.head()
            var total = 0
            while let piece = try await transfer.next() {
                #expect(piece.count <= CurlTransfer.maxQueued + 16_384 * 2)
                total += piece.count
                if total < 1_000_000 { try await reactor.sleep(nanoseconds: 200_000) }  // a slow client
            }
            return total
        }
        #expect(total == 256 * 16_384)
    }

    @Test func aClosedPortIsAConnectError() async throws {
        let fd = try Listener.bind(host: "127.0.0.1", port: 0)
        let port = Listener.boundPort(fd)
        FileDescriptor.close(fd)
        let error = try await withCurl { _, multi -> TransferError? in
            let transfer = CurlTransfer(request(port, "/"), multi: multi)
            do throws(TransferError) { _ = try await transfer.head(); return nil } catch { return error }
        }
        guard case .connect = error else { Issue.record("expected a connect error, got \(String(describing: error))"); return }
    }

    @Test func noHeadWithinTheFirstByteTimeoutIsATimeout() async throws {
        let server = try TestServer(handler: ClosureHandler { _ in
            ServerResponse(status: 200, body: .stream(Pieces(count: 1, size: 1)))
        })
        defer { server.stop() }
        let stalled = try TestServer(handler: ClosureHandler { _ in
            await withCheckedContinuation { (_: CheckedContinuation<Void, Never>) in }  // never answers
            return ServerResponse(status: 200, body: .bytes([]))
        })
        defer { stalled.stop() }
        let error = try await withCurl { _, multi -> TransferError? in
            let transfer = CurlTransfer(request(stalled.port, "/", firstByte: 100_000_000), multi: multi)
            do throws(TransferError) { _ = try await transfer.head(); return nil } catch { return error }
        }
        guard case .timeout = error else { Issue.record("expected a timeout, got \(String(describing: error))"); return }
    }

    @Test func cancellingMidStreamReleasesTheTransfer() async throws {
        let server = try TestServer(handler: ClosureHandler { _ in
            ServerResponse(status: 200, body: .stream(Pieces(count: 100_000, size: 1000)))
        })
        defer { server.stop() }
        let got = try await withCurl { _, multi in
            let transfer = CurlTransfer(request(server.port, "/long", streaming: true), multi: multi)
            _ = try await transfer.head()
            let first = try await transfer.next()
            transfer.cancel()
            do throws(TransferError) { while try await transfer.next() != nil {} } catch { return (first?.count ?? 0, error as TransferError?) }
            return (first?.count ?? 0, TransferError?.none)
        }
        #expect(got.0 > 0)
        #expect(got.1 == .cancelled)
    }
}

/// `count` chunks of `size` bytes.
final class Pieces: ServerStream, @unchecked Sendable {
    let count: Int
    let size: Int
    var sent = 0
    init(count: Int, size: Int) {
        self.count = count
        self.size = size
    }
    func next() async -> ServerStreamPiece {
        guard sent < count else { return .end }
        sent += 1
        return .chunk([UInt8](repeating: 0x61, count: size))
    }
    func cancel() {}
}
