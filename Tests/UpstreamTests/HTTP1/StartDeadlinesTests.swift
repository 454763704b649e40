import Reactor
import TestSupport
import Testing
@testable import Upstream

/// The pool's queue of first deadlines: transfers are watched without a timer each, a stream
/// that outlives its first-byte span runs on to its total deadline, and the queue stays bounded
/// by the transfers still running.
@Suite struct StartDeadlinesTests {
    @Test func aStreamPastItsFirstByteSpanRunsOnToItsTotalDeadline() async throws {
        let upstream = try ScriptedUpstream { connection in
            _ = connection.readRequest()
            connection.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
            _ = connection.readRequest()  // stalls until the client gives up and closes
        }
        defer { upstream.stop() }
        let (first, error) = try await withHTTP1 { _, pool in
            let origin = HTTP1Origin(host: "127.0.0.1", port: upstream.port)
            let request = HTTP1Request(origin: origin, path: "/slow", headers: HTTP1HeaderBlock(origin: origin, lines: []),
                                       body: [], streaming: true,
                                       timeouts: UpstreamTimeouts(connect: 1_000_000_000, firstByte: 200_000_000, total: 600_000_000))
            let transfer = HTTP1Transfer(request, pool: pool)
            _ = try await transfer.head()
            let first = try await transfer.next()
            var failure: TransferError?
            do throws(TransferError) { while try await transfer.next() != nil {} } catch { failure = error }
            return (first.map { String(decoding: $0, as: UTF8.self) }, failure)
        }
        #expect(first == "hello")
        guard case .timeout(let message) = error else { Issue.record("expected a timeout, got \(String(describing: error))"); return }
        #expect(message.contains("took longer than 600 ms"), "the total deadline ended it, not the first byte's: \(message)")
    }

    @Test func theQueueStaysBoundedBehindATransferThatNeverAnswers() async throws {
        let upstream = try ScriptedUpstream { connection in
            if connection.index == 0 {
                _ = connection.readRequest()
                _ = connection.readRequest()  // never answers; returns when the client closes
                return
            }
            while connection.readRequest() != nil { connection.respond() }
        }
        defer { upstream.stop() }
        let (during, after) = try await withHTTP1 { _, pool in
            let stalled = HTTP1Transfer(http1Request(upstream.port, "/stall", firstByte: 10_000_000_000), pool: pool)
            var most = 0
            for _ in 0..<400 {
                _ = try await HTTP1Transfer(http1Request(upstream.port, "/quick"), pool: pool).response()
                most = max(most, pool.startDeadlines.entryCount)
            }
            stalled.cancel()
            return (most, pool.startDeadlines.entryCount)
        }
        #expect(during <= 2 * 2 + 64 + 1, "ended entries behind a live one are compacted away: held \(during)")
        #expect(after == 0)
    }

    @Test func aPoolThatGoesAwayTakesItsDeadlineTimerWithIt() async throws {
        let upstream = try ScriptedUpstream { connection in
            while connection.readRequest() != nil { connection.respond() }
        }
        defer { upstream.stop() }
        let survived = try await onWorker { reactor in
            do {
                let pool = HTTP1ConnectionPool(reactor: reactor)
                // 200 ms: a loaded CI machine took more than 20 ms to answer the first request.
                _ = try await HTTP1Transfer(http1Request(upstream.port, "/x", firstByte: 200_000_000), pool: pool).response()
            }
            // The pool is gone; its queue's timer was armed for the transfer's first-byte
            // deadline. Running past it must not call into the freed queue.
            try await reactor.sleep(nanoseconds: 250_000_000)
            return true
        }
        #expect(survived)
    }

    @Test func aTransferDroppedBeforeItsEndLeavesNoEntry() async throws {
        let upstream = try ScriptedUpstream { connection in
            while connection.readRequest() != nil { connection.respond() }
        }
        defer { upstream.stop() }
        let (entries, answer) = try await withHTTP1 { _, pool in
            _ = HTTP1Transfer(http1Request(upstream.port, "/dropped"), pool: pool)
            let entries = pool.startDeadlines.entryCount
            let answer = try await HTTP1Transfer(http1Request(upstream.port, "/next"), pool: pool).response()
            return (entries, String(decoding: answer.body, as: UTF8.self))
        }
        #expect(entries == 0)
        #expect(answer == "ok")
    }
}
