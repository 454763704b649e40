import HTTPServer
import HTTPTypes
import Reactor
import Synchronization
import TestSupport
import Testing

/// The server over real loopback sockets: keep-alive, pipelining, 100-continue, timeouts.
@Suite struct HTTPConnectionTests {
    @Test func keepAliveServesSeveralRequestsOnOneConnection() throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        for i in 0..<3 {
            client.post("/echo/\(i)", json: "{\"n\":\(i)}")
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.bodyText == "POST /echo/\(i) {\"n\":\(i)}")
            #expect(response.header("date") != nil)
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        client.send("GET /a HTTP/1.1\r\nHost: t\r\n\r\nPOST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhiGET /c HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try client.readResponse().bodyText == "GET /a ")
        #expect(try client.readResponse().bodyText == "POST /b hi")
        #expect(try client.readResponse().bodyText == "GET /c ")
    }

    @Test func expectContinueGetsAnInterimResponseBeforeTheBody() throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        client.send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        #expect(try client.readResponse().status == 100)
        client.send("hello")
        #expect(try client.readResponse().bodyText == "POST /x hello")
    }

    @Test func chunkedRequestBodyIsDechunked() throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        client.send("POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n")
        #expect(try client.readResponse().bodyText == "POST /c abcde")
    }

    @Test func connectionCloseIsHonoured() throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        client.send("GET /bye HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.header("connection") == "close")
        #expect(client.isClosedByPeer())
    }

    @Test func aSlowHeadGets408AndTheConnectionCloses() throws {
        var configuration = HTTPServerConfiguration()
        configuration.headerTimeout = 100_000_000
        let server = try TestServer(configuration: configuration, handler: echoHandler)
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        client.send("GET /slow HTTP/1.1\r\nHost: t\r\n")  // never finished: slowloris
        #expect(try client.readResponse().status == 408)
        #expect(client.isClosedByPeer())
    }

    @Test func aSlowBodyGets408() throws {
        var configuration = HTTPServerConfiguration()
        configuration.bodyTimeout = 100_000_000
        let server = try TestServer(configuration: configuration, handler: echoHandler)
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        client.send("POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        #expect(try client.readResponse().status == 408)
    }

    @Test func idleConnectionsAreClosed() throws {
        var configuration = HTTPServerConfiguration()
        configuration.idleTimeout = 100_000_000
        let server = try TestServer(configuration: configuration, handler: echoHandler)
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port, timeout: 5)
        client.get("/once")
        _ = try client.readResponse()
        #expect(client.readToEnd().isEmpty)
        #expect(server.onReactor { server.worker.connectionCount } == 0)
    }
}

/// Answers with the request target.
let targetHandler = ClosureHandler { request in ServerResponse(status: 200, body: .bytes(Array(request.head.target.utf8))) }

@Suite struct PipelineOrderTests {
    @Test func manyPipelinedRequestsAreAnsweredInOrder() throws {
        let server = try TestServer(handler: targetHandler)
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        client.send((0..<500).map { "GET /\($0) HTTP/1.1\r\nHost: t\r\n\r\n" }.joined())
        for i in 0..<500 { #expect(try client.readResponse().bodyText == "/\(i)") }
    }

    @Test func answersTheSocketCannotTakeAtOnceArriveWholeAndInOrder() throws {
        // 60 KB answers to 200 pipelined requests the client reads only once all are sent: the
        // socket (and the client's buffer) soon take only part of an answer, and the rest must
        // follow, in order.
        let server = try TestServer(handler: ClosureHandler { request in
            let tag = Array(request.head.target.utf8)
            return ServerResponse(status: 200, body: .bytes(tag + [UInt8](repeating: UInt8(ascii: "x"), count: 60_000) + tag))
        })
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        client.send((0..<200).map { "GET /\($0) HTTP/1.1\r\nHost: t\r\n\r\n" }.joined())
        for i in 0..<200 {
            let body = try client.readResponse().bodyText
            #expect(body.count == 60_000 + 2 * "/\(i)".count && body.hasPrefix("/\(i)x") && body.hasSuffix("x/\(i)"))
        }
    }

    @Test func nothingAfterConnectionCloseIsAnswered() throws {
        let server = try TestServer(handler: targetHandler)
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        client.send("GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET /c HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try client.readResponse().bodyText == "/a")
        let last = try client.readResponse()
        #expect(last.bodyText == "/b")
        #expect(last.header("connection") == "close")
        #expect(client.readToEnd().isEmpty)
    }
}
