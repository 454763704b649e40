import HTTPServer
import TestSupport
import Testing

/// Every ambiguous or oversized framing case is refused with the right status and the
/// connection is closed, over a real socket.
@Suite struct MalformedRequestTests {
    static let cases: [(String, String, Int)] = [
        ("content-length with transfer-encoding",
         "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("differing duplicate content-length", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
        ("content-length list", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3, 4\r\n\r\nabcd", 400),
        ("non-numeric content-length", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\n", 400),
        ("bad chunk size", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400),
        ("chunk size overflow", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n", 400),
        ("chunk data without CRLF", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", 400),
        ("obs-fold", "GET / HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n  folded\r\n\r\n", 400),
        ("bare CR", "GET / HTTP/1.1\r\nHost: t\rX-A: 1\r\n\r\n", 400),
        ("bare LF line ending", "GET / HTTP/1.1\nHost: t\n\n", 400),
        ("space before colon", "GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400),
        ("missing host", "GET / HTTP/1.1\r\n\r\n", 400),
        ("transfer-encoding without final chunked (RFC 9112 §6.3)", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        ("HTTP/2.0 on the wire", "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
        ("over-long request line", "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: t\r\n\r\n", 414),
        ("over-long headers", "GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + String(repeating: "b", count: 40_000) + "\r\n\r\n", 431),
        ("body over the limit", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n", 413),
        ("unknown expectation", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nExpect: magic\r\n\r\na", 417),
    ]

    @Test(arguments: cases)
    func isRefusedAndClosed(_ name: String, _ request: String, _ status: Int) throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let client = try RawHTTPClient(port: server.port)
        client.send(request)
        let response = try client.readResponse()
        #expect(response.status == status, "\(name)")
        #expect(response.header("connection") == "close", "\(name)")
        #expect(client.isClosedByPeer(), "\(name)")
    }

    @Test func theServerKeepsServingAfterRefusingGarbage() throws {
        let server = try TestServer(handler: echoHandler)
        defer { server.stop() }
        let bad = try RawHTTPClient(port: server.port)
        bad.send("\u{01}\u{02} garbage\r\n\r\n")
        #expect(try bad.readResponse().status == 400)
        let good = try RawHTTPClient(port: server.port)
        good.get("/fine")
        #expect(try good.readResponse().status == 200)
    }
}
