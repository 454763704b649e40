@testable import HTTPServer
import HTTPTypes
import Synchronization
import Testing
import TestSupport

/// Answers at once with the target and the `x-fault` header, repeatable unless the target says
/// otherwise; counts how often it was asked.
private final class CountingHandler: HTTPRequestHandler, Sendable {
    let asked = Atomic<Int>(0)
    let repeatable: Int

    init(repeatable: Int = 60) { self.repeatable = repeatable }

    func handle(_ request: ServerRequest) async -> ServerResponse {
        ServerResponse(status: 200, body: .bytes(Array("later \(request.head.target)".utf8)))
    }

    func immediateResponse(to request: ServerRequest) -> ServerResponse? {
        guard !request.head.target.hasPrefix("/later") else { return nil }
        asked.add(1, ordering: .relaxed)
        let fault = request.head.headers[HTTPField.Name("x-fault")!] ?? "-"
        let text = "\(request.head.method.rawValue) \(request.head.target) \(fault) \(request.body.count)"
        return ServerResponse(status: fault == "-" ? 200 : 429, body: .bytes(Array(text.utf8)),
                              repeatableForSeconds: repeatable)
    }

    var count: Int { asked.load(ordering: .relaxed) }
}

private let chat = "POST /v1/chat HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"

/// Byte-exact repeats of accepted requests are answered from the worker's replay table; anything
/// else (a different byte, a split arrival, bad framing) still goes through the strict parser.
@Suite struct ReplayTableTests {
    @Test func aRepeatIsAnsweredWithoutTheHandler() throws {
        let handler = CountingHandler()
        let server = try TestServer(handler: handler)
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        client.send(chat)
        let first = try client.readResponse()
        client.send(chat)
        let second = try client.readResponse()
        #expect(first.bodyText == "POST /v1/chat - 5")
        #expect(second.bodyText == first.bodyText && second.status == 200)
        #expect(second.header("content-length") == "17" && second.header("date") != nil)
        #expect(handler.count == 1)
        #expect(server.onReactor { server.worker.replays.hits } == 1)
        // Another connection of the same worker shares the table.
        let other = try RawHTTPClient(port: server.port)
        other.send(chat)
        #expect(try other.readResponse().bodyText == first.bodyText)
        #expect(handler.count == 1)
    }

    @Test func pipelinedRepeatsAndOtherRequestsKeepTheirOrder() throws {
        let handler = CountingHandler()
        let server = try TestServer(handler: handler)
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        let other = "POST /v1/chat HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nhello!"
        let later = "GET /later/1 HTTP/1.1\r\nHost: t\r\n\r\n"
        client.send(String(repeating: chat, count: 50) + other + later + chat + other)
        for _ in 0..<50 { #expect(try client.readResponse().bodyText == "POST /v1/chat - 5") }
        #expect(try client.readResponse().bodyText == "POST /v1/chat - 6")
        #expect(try client.readResponse().bodyText == "later /later/1")
        #expect(try client.readResponse().bodyText == "POST /v1/chat - 5")
        #expect(try client.readResponse().bodyText == "POST /v1/chat - 6")
        #expect(handler.count == 2, "the first of each distinct request asks the handler")
    }

    @Test func aRepeatArrivingInPiecesIsStillAnswered() throws {
        let handler = CountingHandler()
        let server = try TestServer(handler: handler)
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        client.send(chat)
        let first = try client.readResponse().bodyText
        let bytes = Array(chat.utf8)
        for split in [1, 20, bytes.count - 5, bytes.count - 1] {
            client.send(Array(bytes[..<split]))
            _ = server.onReactor { 0 }  // let the reactor see the first piece on its own
            client.send(Array(bytes[split...]) + Array(chat.utf8))
            #expect(try client.readResponse().bodyText == first)
            #expect(try client.readResponse().bodyText == first)
        }
    }

    @Test func aFaultHeaderMakesADifferentRequest() throws {
        let handler = CountingHandler()
        let server = try TestServer(handler: handler)
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        let limited = "POST /v1/chat HTTP/1.1\r\nHost: t\r\nx-fault: 429\r\nContent-Length: 5\r\n\r\nhello"
        for _ in 0..<3 {
            client.send(chat + limited)
            #expect(try client.readResponse().status == 200)
            let fault = try client.readResponse()
            #expect(fault.status == 429 && fault.bodyText == "POST /v1/chat 429 5")
        }
        #expect(handler.count == 2)
    }

    @Test func badFramingAfterARepeatIsStillRefused() throws {
        let server = try TestServer(handler: CountingHandler())
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        client.send(chat)
        _ = try client.readResponse()
        // The repeat's bytes, then the same request with ambiguous framing added.
        let ambiguous = "POST /v1/chat HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello"
        client.send(chat + ambiguous)
        #expect(try client.readResponse().status == 200)
        #expect(try client.readResponse().status == 400)
        #expect(client.isClosedByPeer())
    }

    @Test func connectionCloseRequestsAreNotRepeatedFromTheTable() throws {
        let handler = CountingHandler()
        let server = try TestServer(handler: handler)
        defer { server.stop() }
        let closing = "POST /v1/chat HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello"
        for _ in 0..<2 {
            let client = try RawHTTPClient(port: server.port)
            client.send(closing + chat)
            let response = try client.readResponse()
            #expect(response.header("connection") == "close")
            #expect(client.isClosedByPeer())
        }
        #expect(handler.count == 2)
        // A keep-alive repeat after a close request is answered and the connection stays.
        let client = try RawHTTPClient(port: server.port)
        client.send(chat + chat)
        #expect(try client.readResponse().header("connection") == nil)
        #expect(try client.readResponse().header("connection") == nil)
        #expect(handler.count == 3)
    }

    @Test func answersThatAreNotRepeatableAlwaysAskTheHandler() throws {
        let handler = CountingHandler(repeatable: 0)
        let server = try TestServer(handler: handler)
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        client.send(chat + chat + chat)
        for _ in 0..<3 { _ = try client.readResponse() }
        #expect(handler.count == 3)
        #expect(server.onReactor { server.worker.replays.isEmpty })
    }

    @Test func swappingTheHandlerForgetsTheTable() throws {
        let server = try TestServer(handler: CountingHandler())
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        client.send(chat)
        _ = try client.readResponse()
        let replacement = CountingHandler()
        server.onReactor { server.worker.handler = replacement }
        client.send(chat)
        _ = try client.readResponse()
        #expect(replacement.count == 1)
    }
}

/// The table itself: expiry, the `date` rewrite and its bound.
@Suite struct ReplayTableValueTests {
    private let request = Array(chat.utf8)
    private let date1 = Array("Sat, 21 Nov 2026 21:00:00 GMT".utf8)
    private let date2 = Array("Sat, 21 Nov 2026 21:00:01 GMT".utf8)

    private func response(_ date: [UInt8]) -> [UInt8] {
        Array("HTTP/1.1 200 OK\r\ndate: ".utf8) + date + Array("\r\ncontent-length: 2\r\n\r\nok".utf8)
    }

    @Test func theDateIsRewrittenAndEntriesExpire() {
        let table = ReplayTable()
        request.withUnsafeBytes { table.insert(request: $0, response: response(date1), dateOffset: 23, second: 100, seconds: 2) }
        let index = request.withUnsafeBytes { table.match($0) }
        #expect(index == 0)
        #expect(table.response(at: 0, second: 100, date: date1) == response(date1))
        #expect(table.response(at: 0, second: 101, date: date2) == response(date2))
        #expect(table.response(at: 0, second: 102, date: date2) == nil)
        #expect(table.isEmpty)
    }

    @Test func onlyWholeRequestsAtTheStartMatch() {
        let table = ReplayTable()
        request.withUnsafeBytes { table.insert(request: $0, response: response(date1), dateOffset: 23, second: 0, seconds: 1) }
        #expect(Array(request.dropLast()).withUnsafeBytes { table.match($0) } == nil)
        #expect((request + Array("GET".utf8)).withUnsafeBytes { table.match($0) } == 0)
        #expect((Array(" ".utf8) + request).withUnsafeBytes { table.match($0) } == nil)
        var changed = request
        changed[1] = UInt8(ascii: "U")
        #expect(changed.withUnsafeBytes { table.match($0) } == nil)
    }

    @Test func theTableIsBounded() {
        let table = ReplayTable()
        for i in 0..<(ReplayTable.capacity + 5) {
            let bytes = Array("GET /\(i) HTTP/1.1\r\n\r\n".utf8)
            bytes.withUnsafeBytes { table.insert(request: $0, response: response(date1), dateOffset: 23, second: 0, seconds: 1) }
        }
        #expect(table.entries.count == ReplayTable.capacity)
        #expect(Array("GET /20 HTTP/1.1\r\n\r\n".utf8).withUnsafeBytes { table.match($0) } != nil)
    }
}
