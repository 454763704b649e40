@testable import HTTPServer
import HTTPTypes
import Testing
import TestSupport

/// Answers `/now/...` at once (no task) and everything else through `handle`.
private struct ImmediateHandler: HTTPRequestHandler {
    func handle(_ request: ServerRequest) async -> ServerResponse {
        ServerResponse(status: 200, body: .bytes(Array("later \(request.head.target)".utf8)))
    }

    func immediateResponse(to request: ServerRequest) -> ServerResponse? {
        guard request.head.target.hasPrefix("/now/") else { return nil }
        return ServerResponse(status: 200, body: .bytes(Array("now \(request.head.target)".utf8)))
    }
}

/// Handlers that answer without waiting are written from the parse loop, in order with the
/// answers that go through a task.
@Suite struct ImmediateResponseTests {
    @Test func immediateAndTaskAnswersKeepTheirOrder() throws {
        let server = try TestServer(handler: ImmediateHandler())
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        client.send("GET /now/1 HTTP/1.1\r\nHost: t\r\n\r\nGET /later/2 HTTP/1.1\r\nHost: t\r\n\r\nGET /now/3 HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try client.readResponse().bodyText == "now /now/1")
        #expect(try client.readResponse().bodyText == "later /later/2")
        #expect(try client.readResponse().bodyText == "now /now/3")
        client.post("/later/4", json: "{}")
        #expect(try client.readResponse().bodyText == "later /later/4")
        client.post("/now/5", json: "{}")
        #expect(try client.readResponse().bodyText == "now /now/5")
    }

    @Test func manyPipelinedImmediateRequestsAreAnsweredWithoutRecursion() throws {
        let server = try TestServer(handler: ImmediateHandler())
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        let count = 5_000
        var batch = ""
        for i in 0..<count { batch += "GET /now/\(i) HTTP/1.1\r\nHost: t\r\n\r\n" }
        client.send(batch)
        for i in 0..<count { #expect(try client.readResponse().bodyText == "now /now/\(i)") }
    }

    @Test func connectionsPastTheParkedTaskBoundAreStillServed() throws {
        let server = try TestServer(handler: ImmediateHandler())
        defer { server.stop() }
        let count = HTTPServerWorker.maxParkedServingTasks + 20
        var clients: [RawHTTPClient] = []
        for i in 0..<count {
            let client = try RawHTTPClient(port: server.port)
            client.send("GET /later/\(i) HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try client.readResponse().bodyText == "later /later/\(i)")
            clients.append(client)
        }
        #expect(server.onReactor { server.worker.parkedServingTasks } == HTTPServerWorker.maxParkedServingTasks)
        for (i, client) in clients.enumerated() {
            client.send("GET /later/again-\(i) HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try client.readResponse().bodyText == "later /later/again-\(i)")
        }
    }

    @Test func connectionCloseEndsAfterAnImmediateAnswer() throws {
        let server = try TestServer(handler: ImmediateHandler())
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        client.send("GET /now/1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET /now/2 HTTP/1.1\r\nHost: t\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.bodyText == "now /now/1")
        #expect(response.header("connection") == "close")
        #expect(throws: (any Error).self) { try client.readResponse() }
    }
}
