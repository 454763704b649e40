import HTTPTypes
import Reactor
import Testing

@testable import HTTPServer

/// A message the parser must refuse, and the status the connection must answer.
struct RejectedRequestCase: CustomTestStringConvertible, Sendable {
    var name: String
    var raw: String
    var status: Int
    var limits = HTTPParserLimits()

    var testDescription: String { "\(name) -> \(status)" }

    static let post = "POST / HTTP/1.1\r\nHost: a\r\n"
    static let chunked = post + "Transfer-Encoding: chunked\r\n\r\n"
    static let small = HTTPParserLimits(
        maxRequestLineBytes: 64, maxHeaderBytes: 128, maxHeaderCount: 3, maxBodyBytes: 10,
        maxChunkExtensionBytes: 8, maxTrailerBytes: 32)

    static let all: [RejectedRequestCase] = [
        // Framing (request smuggling defences).
        .init(
            name: "Content-Length with Transfer-Encoding",
            raw: post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", status: 400),
        .init(
            name: "Transfer-Encoding before Content-Length",
            raw: post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", status: 400),
        .init(
            name: "differing Content-Length fields", raw: post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
            status: 400),
        .init(name: "Content-Length list 5, 6", raw: post + "Content-Length: 5, 6\r\n\r\n", status: 400),
        .init(name: "non-numeric Content-Length", raw: post + "Content-Length: abc\r\n\r\n", status: 400),
        .init(name: "negative Content-Length", raw: post + "Content-Length: -1\r\n\r\n", status: 400),
        .init(name: "signed Content-Length", raw: post + "Content-Length: +5\r\n\r\n", status: 400),
        .init(
            name: "overflowing Content-Length", raw: post + "Content-Length: 99999999999999999999\r\n\r\n", status: 400),
        .init(name: "empty Content-Length", raw: post + "Content-Length: \r\n\r\n", status: 400),
        .init(name: "Content-Length with inner space", raw: post + "Content-Length: 1 2\r\n\r\n", status: 400),
        .init(name: "Content-Length list with empty element", raw: post + "Content-Length: 5,\r\n\r\n", status: 400),
        .init(name: "Transfer-Encoding gzip alone", raw: post + "Transfer-Encoding: gzip\r\n\r\n", status: 400),
        .init(name: "chunked not final", raw: post + "Transfer-Encoding: chunked, gzip\r\n\r\n", status: 400),
        .init(
            name: "chunked twice", raw: post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            status: 400),
        .init(name: "chunked with parameter", raw: post + "Transfer-Encoding: chunked;x=1\r\n\r\n", status: 400),
        .init(name: "empty Transfer-Encoding", raw: post + "Transfer-Encoding: \r\n\r\n", status: 400),
        .init(name: "gzip under final chunked", raw: post + "Transfer-Encoding: gzip, chunked\r\n\r\n", status: 501),
        .init(
            name: "Transfer-Encoding on HTTP/1.0",
            raw: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400),
        // Chunk framing.
        .init(name: "non-hex chunk size", raw: chunked + "zz\r\n", status: 400),
        .init(name: "hex then junk", raw: chunked + "5g\r\nhello\r\n", status: 400),
        .init(name: "empty chunk size", raw: chunked + "\r\nhello\r\n", status: 400),
        .init(name: "negative chunk size", raw: chunked + "-5\r\nhello\r\n", status: 400),
        .init(name: "overflowing chunk size", raw: chunked + "FFFFFFFFFFFFFFFF\r\n", status: 400),
        .init(name: "17 hex digits", raw: chunked + "00000000000000005\r\nhello\r\n", status: 400),
        .init(name: "0x prefix", raw: chunked + "0x5\r\nhello\r\n", status: 400),
        .init(name: "trailing space after size", raw: chunked + "5 \r\nhello\r\n0\r\n\r\n", status: 400),
        .init(name: "missing CRLF after chunk data", raw: chunked + "5\r\nhelloXX0\r\n\r\n", status: 400),
        .init(name: "LF only after chunk data", raw: chunked + "5\r\nhello\n0\r\n\r\n", status: 400),
        .init(name: "bare LF after chunk size", raw: chunked + "5\nhello\r\n0\r\n\r\n", status: 400),
        .init(name: "unterminated quoted extension", raw: chunked + "5;a=\"b\r\nhello\r\n", status: 400),
        .init(name: "extension without name", raw: chunked + "5;\r\nhello\r\n", status: 400),
        .init(name: "extension too long", raw: chunked + "5;abcdefghijkl\r\nhello\r\n", status: 400, limits: small),
        .init(name: "trailer without colon", raw: chunked + "0\r\nbad trailer\r\n\r\n", status: 400),
        .init(name: "trailer obs-fold", raw: chunked + "0\r\nX: a\r\n b\r\n\r\n", status: 400),
        .init(
            name: "trailer section too large",
            raw: chunked + "0\r\nX-Long: " + String(repeating: "a", count: 40) + "\r\n\r\n", status: 431, limits: small),
        // Head syntax.
        .init(name: "obs-fold", raw: "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n  folded\r\n\r\n", status: 400),
        .init(name: "whitespace before first field", raw: "GET / HTTP/1.1\r\n Host: a\r\n\r\n", status: 400),
        .init(name: "bare CR in field value", raw: "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", status: 400),
        .init(name: "bare CR in request line", raw: "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", status: 400),
        .init(name: "bare LF line endings", raw: "GET / HTTP/1.1\nHost: a\n\n", status: 400),
        .init(name: "bare LF after a field", raw: "GET / HTTP/1.1\r\nHost: a\n\r\n", status: 400),
        .init(name: "bare LF ending the head", raw: "GET / HTTP/1.1\r\nHost: a\r\n\n", status: 400),
        .init(name: "space before colon", raw: "GET / HTTP/1.1\r\nHost : a\r\n\r\n", status: 400),
        .init(name: "tab before colon", raw: "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", status: 400),
        .init(name: "field without colon", raw: "GET / HTTP/1.1\r\nHost a\r\n\r\n", status: 400),
        .init(name: "empty field name", raw: "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", status: 400),
        .init(name: "invalid field name", raw: "GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", status: 400),
        .init(name: "non-ASCII field name", raw: "GET / HTTP/1.1\r\nHöst: a\r\n\r\n", status: 400),
        .init(name: "invalid method", raw: "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", status: 400),
        .init(name: "empty method", raw: " / HTTP/1.1\r\nHost: a\r\n\r\n", status: 400),
        .init(name: "NUL in field value", raw: "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b\r\n\r\n", status: 400),
        .init(name: "CTL in field value", raw: "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{1}b\r\n\r\n", status: 400),
        .init(name: "DEL in field value", raw: "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{7F}b\r\n\r\n", status: 400),
        .init(name: "double space in request line", raw: "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", status: 400),
        .init(name: "trailing space in request line", raw: "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", status: 400),
        .init(name: "missing version", raw: "GET /\r\nHost: a\r\n\r\n", status: 400),
        .init(name: "non-ASCII target", raw: "GET /é HTTP/1.1\r\nHost: a\r\n\r\n", status: 400),
        .init(name: "asterisk outside OPTIONS", raw: "GET * HTTP/1.1\r\nHost: a\r\n\r\n", status: 400),
        .init(name: "authority-form", raw: "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", status: 400),
        // Versions.
        .init(name: "HTTP/2.0", raw: "GET / HTTP/2.0\r\nHost: a\r\n\r\n", status: 505),
        .init(name: "HTTP/1.2", raw: "GET / HTTP/1.2\r\nHost: a\r\n\r\n", status: 505),
        .init(name: "HTTP/0.9", raw: "GET / HTTP/0.9\r\n\r\n", status: 505),
        .init(name: "garbage version", raw: "GET / HTTX/1.1\r\nHost: a\r\n\r\n", status: 400),
        .init(name: "lowercase version", raw: "GET / http/1.1\r\nHost: a\r\n\r\n", status: 400),
        .init(name: "long version", raw: "GET / HTTP/1.10\r\nHost: a\r\n\r\n", status: 400),
        // Host and Expect.
        .init(name: "missing Host on 1.1", raw: "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", status: 400),
        .init(name: "multiple Host", raw: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", status: 400),
        .init(
            name: "Expect other than 100-continue", raw: "GET / HTTP/1.1\r\nHost: a\r\nExpect: fancy\r\n\r\n",
            status: 417),
        // Limits.
        .init(
            name: "request line too long",
            raw: "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: a\r\n\r\n", status: 414),
        .init(
            name: "request line just over a small limit",
            raw: "GET /" + String(repeating: "a", count: 50) + " HTTP/1.1\r\nHost: a\r\n\r\n", status: 414,
            limits: small),
        .init(
            name: "header block too large",
            raw: "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "a", count: 40_000) + "\r\n\r\n", status: 431),
        .init(
            name: "too many headers",
            raw: "GET / HTTP/1.1\r\nHost: a\r\n" + String(repeating: "X-A: b\r\n", count: 100) + "\r\n", status: 431),
        .init(name: "Content-Length over the body limit", raw: post + "Content-Length: 4194305\r\n\r\n", status: 413),
        .init(
            name: "chunked total over the body limit", raw: chunked + "6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n",
            status: 413, limits: small),
        .init(name: "one huge chunk", raw: chunked + "7FFFFFFFFFFFFFFF\r\n", status: 413),
    ]
}

@Suite("HTTPRequestParser strictness")
struct HTTPRequestParserStrictnessTests {
    @Test(arguments: RejectedRequestCase.all)
    func rejects(_ request: RejectedRequestCase) {
        let seen = RequestParserDriver.run(requestBytes(request.raw), limits: request.limits)
        guard case .error(let error) = seen.last else {
            Issue.record("accepted: \(seen)")
            return
        }
        #expect(error.status == request.status, "\(error.reason)")
        #expect(!seen.dropLast().contains(.end), "a request ended before the error")
    }

    @Test func limitsJustInsideAreAccepted() {
        let limits = RejectedRequestCase.small
        // 64-byte request line including CRLF, body of exactly 10 bytes, 3 fields.
        let line = "GET /" + String(repeating: "a", count: 64 - 16) + " HTTP/1.1\r\n"
        #expect(line.utf8.count == 64)
        let ok = line + "Host: a\r\nX: 1\r\nContent-Length: 10\r\n\r\n0123456789"
        let seen = RequestParserDriver.run(requestBytes(ok), limits: limits)
        #expect(seen.last == .end, "\(seen)")
        let chunked = RejectedRequestCase.chunked + "a;abcdefg\r\n0123456789\r\n0\r\nX: y\r\n\r\n"
        #expect(RequestParserDriver.run(requestBytes(chunked), limits: limits).last == .end)
    }

    /// Every message, cut once at every offset and also fed one byte at a time, gives what it gives
    /// when fed whole: no state is lost or double-counted across calls.
    @Test func splittingAtEveryByteBoundaryChangesNothing() {
        let accepted = [
            HTTPRequestParserTests.chunkedMessage,
            requestBytes("GET / HTTP/1.1\r\nHost: a\r\n\r\nPOST /b HTTP/1.0\r\nContent-Length: 4\r\n\r\nabcd"),
            requestBytes(
                "\r\nPOST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n2\r\nbc\r\n0\r\n\r\n"),
        ]
        let rejected = RejectedRequestCase.all.filter { $0.raw.utf8.count < 300 }.map {
            (requestBytes($0.raw), $0.limits)
        }
        for (message, limits) in accepted.map({ ($0, HTTPParserLimits()) }) + rejected {
            let whole = RequestParserDriver.run(message, limits: limits)
            for cut in 0...message.count {
                let split = RequestParserDriver.run(message, cuts: [cut], limits: limits)
                #expect(split == whole, "cut at \(cut) of \(String(decoding: message, as: UTF8.self))")
                if split != whole { return }
            }
            let byteByByte = RequestParserDriver.run(message, cuts: Array(0..<message.count), limits: limits)
            #expect(byteByByte == whole, "\(String(decoding: message, as: UTF8.self))")
        }
    }

    /// Smoke check against quadratic behaviour: 100k pipelined requests (no timing assertion).
    @Test func parsesOneHundredThousandRequests() {
        let request = requestBytes(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: gateway.internal:8080\r\n"
                + "Authorization: Bearer sk-0123456789abcdef0123456789abcdef\r\nContent-Type: application/json\r\n"
                + "Accept: application/json\r\nUser-Agent: OpenAI/Python 1.40.0\r\nContent-Length: 17\r\n\r\n"
                + "{\"model\":\"gpt-x\"}")
        let batch = Array((0..<100).map { _ in request }.joined())
        var parser = HTTPRequestParser()
        var ends = 0
        var bodyBytes = 0
        batch.withUnsafeBytes { raw in
            for _ in 0..<1000 {
                var offset = 0
                while true {
                    let rest = UnsafeRawBufferPointer(rebasing: raw[offset...])
                    guard let (event, consumed) = try? parser.parse(rest) else {
                        Issue.record("rejected")
                        return
                    }
                    offset += consumed
                    if case .end? = event { ends += 1 }
                    if case .body(let range)? = event { bodyBytes += range.count }
                    if event == nil { break }
                }
                #expect(offset == raw.count)
            }
        }
        #expect(ends == 100_000)
        #expect(bodyBytes == 1_700_000)
    }

    /// The hard-coded token mask is RFC 9110's tchar.
    @Test func tokenCharacters() {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for byte in UInt8.min...UInt8.max {
            #expect(HTTPRequestParser.Byte.isToken(byte) == tchar.contains(byte), "byte \(byte)")
        }
    }

    /// The eight-bytes-at-a-time control check agrees with the byte-by-byte definition.
    @Test func wordControlCheckMatchesBytewise() {
        var generator = SystemRandomNumberGenerator()
        let interesting: [UInt8] = [0x00, 0x09, 0x0A, 0x0D, 0x1F, 0x20, 0x21, 0x7E, 0x7F, 0x80, 0xA0, 0xFF]
        for _ in 0..<20_000 {
            var word: UInt64 = 0
            var expected = false
            for lane in 0..<8 {
                let byte: UInt8 =
                    Bool.random(using: &generator)
                    ? interesting.randomElement(using: &generator)! : UInt8.random(in: 0x20...0x7E, using: &generator)
                expected = expected || byte < 0x20 || byte == 0x7F
                word |= UInt64(byte) << (8 * lane)
            }
            #expect(ByteScanning.wordHasControlByte(word) == expected, "\(String(word, radix: 16))")
        }
    }
}
