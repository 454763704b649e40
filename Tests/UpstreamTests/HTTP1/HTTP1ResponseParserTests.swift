import Testing
@testable import Upstream

/// What a response parsed to: the head, the de-chunked body, and whether it ended.
struct ParsedResponse {
    var head: HTTP1ResponseHead?
    var body: [UInt8] = []
    var ended = false
    var leftover = 0
}

/// Feeds `text` to a fresh parser `piece` bytes at a time, the way reads arrive, keeping the
/// unconsumed bytes between calls as the transfer does.
func parse(_ text: String, piece: Int = .max, expectsBody: Bool = true, closeAtEnd: Bool = false) throws(HTTP1ParseError) -> ParsedResponse {
    var memo = ResponseLineMemo()
    return try parse(text, piece: piece, expectsBody: expectsBody, closeAtEnd: closeAtEnd, memo: &memo)
}

/// `parse` with a connection's field-line memo, lent to the parser and taken back as a transfer does.
func parse(
    _ text: String, piece: Int = .max, expectsBody: Bool = true, closeAtEnd: Bool = false, memo: inout ResponseLineMemo
) throws(HTTP1ParseError) -> ParsedResponse {
    var parser = HTTP1ResponseParser(expectsBody: expectsBody)
    swap(&parser.memo, &memo)
    defer { swap(&parser.memo, &memo) }
    var result = ParsedResponse()
    let bytes = Array(text.utf8)
    var pending: [UInt8] = []
    var offset = 0
    while offset < bytes.count && !result.ended {
        let next = min(bytes.count, offset + piece)
        pending.append(contentsOf: bytes[offset..<next])
        offset = next
        var used = 0
        while !result.ended {
            let outcome = pending.withUnsafeBytes { raw in
                Result { () throws(HTTP1ParseError) in try parser.parse(UnsafeRawBufferPointer(rebasing: raw[used...])) }
            }
            let step = try outcome.get()
            let base = used
            used += step.consumed
            guard let event = step.event else { break }
            switch event {
            case .head(let head): result.head = head
            case .body(let range): result.body.append(contentsOf: pending[(base + range.lowerBound)..<(base + range.upperBound)])
            case .end: result.ended = true
            }
        }
        pending.removeFirst(used)
    }
    result.leftover = pending.count + (bytes.count - offset)
    if closeAtEnd && !result.ended { result.ended = parser.peerClosed() }
    return result
}

func parseError(_ text: String) -> String? {
    do throws(HTTP1ParseError) { _ = try parse(text); return nil } catch { return error.reason }
}

@Suite struct HTTP1ResponseParserTests {
    @Test(arguments: [1, 2, 7, .max])
    func aContentLengthBodyIsReadToItsEnd(piece: Int) throws {
        let parsed = try parse("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nServer: x\r\n\r\n{\"a\":\"bcd\"}", piece: piece)
        #expect(parsed.head?.status == 200)
        #expect(parsed.head?.keepAlive == true)
        #expect(parsed.head?.framing == .length(11))
        #expect(String(decoding: parsed.body, as: UTF8.self) == "{\"a\":\"bcd\"}")
        #expect(parsed.ended && parsed.leftover == 0)
    }

    @Test(arguments: [1, 3, .max])
    func aChunkedBodyIsDechunkedWithExtensionsAndTrailers(piece: Int) throws {
        let text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: t\r\n\r\n"
        let parsed = try parse(text, piece: piece)
        #expect(parsed.head?.framing == .chunked)
        #expect(String(decoding: parsed.body, as: UTF8.self) == "helloabcdefghijklmnopqrstuvwxyz")
        #expect(parsed.ended && parsed.leftover == 0)
    }

    @Test func bytesAfterTheEndAreLeftOver() throws {
        let parsed = try parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA")
        #expect(parsed.ended && parsed.body == Array("ok".utf8) && parsed.leftover == 5)
    }

    @Test func onlyTheKeptHeadersAreTurnedIntoStrings() throws {
        let parsed = try parse("""
            HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 7\r\nretry-after-ms: 7000\r\n\
            X-RateLimit-Remaining-Requests: 0\r\nX-Request-Id: abc\r\nSet-Cookie: s=1\r\nContent-Length: 0\r\n\r\n
            """)
        let headers = parsed.head?.headers.map { "\($0.0)=\($0.1)" }
        #expect(headers == ["content-type=application/json", "retry-after=7", "retry-after-ms=7000", "x-ratelimit-remaining-requests=0"])
        #expect(parsed.head?.status == 429 && parsed.ended)
    }

    @Test func interimAnswersAreSkipped() throws {
        let parsed = try parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx", piece: 5)
        #expect(parsed.head?.status == 201 && parsed.body == [UInt8(ascii: "x")] && parsed.ended)
    }

    @Test func answersWithoutABodyEndAtTheirHead() throws {
        for text in ["HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"] {
            let parsed = try parse(text)
            #expect(parsed.head?.framing == HTTP1BodyFraming.none && parsed.ended && parsed.body.isEmpty)
        }
        let head = try parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", expectsBody: false)
        #expect(head.ended && head.head?.framing == HTTP1BodyFraming.none)
    }

    @Test func keepAliveFollowsTheVersionAndConnectionHeader() throws {
        #expect(try parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").head?.keepAlive == false)
        #expect(try parse("HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Upgrade-Ish\r\nContent-Length: 0\r\n\r\n").head?.keepAlive == true)
        #expect(try parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").head?.keepAlive == false)
        #expect(try parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").head?.keepAlive == true)
    }

    @Test func aBodyWithoutLengthEndsWhenThePeerCloses() throws {
        let parsed = try parse("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it", closeAtEnd: true)
        #expect(parsed.head?.framing == .untilClose && parsed.head?.keepAlive == false)
        #expect(parsed.body == Array("all of it".utf8) && parsed.ended)
        // A non-final chunked coding also means "until close".
        #expect(try parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip-ish\r\n\r\n").head?.framing == .untilClose)
    }

    @Test func aBareLFEndsLinesToo() throws {
        let parsed = try parse("HTTP/1.1 200 OK\nContent-Length: 2\n\nok")
        #expect(parsed.head?.status == 200 && parsed.body == Array("ok".utf8) && parsed.ended)
    }

    @Test func malformedResponsesAreRefused() {
        let cases: [(String, String)] = [
            ("HTTP/2 200 OK\r\n\r\n", "invalid status line"),
            ("HTTP/1.1 2000 OK\r\n\r\n", "invalid status line"),
            ("HTTP/1.1 099 Low\r\n\r\n", "invalid status code"),
            ("HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\n\r\n", "obsolete line folding"),
            ("HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n", "invalid header field name"),
            ("HTTP/1.1 200 OK\r\nX-A: a\u{01}b\r\n\r\n", "invalid header field value"),
            ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "invalid or conflicting Content-Length"),
            ("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", "invalid or conflicting Content-Length"),
            ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid or conflicting Content-Length"),
            ("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "both Transfer-Encoding and Content-Length"),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "invalid chunk size"),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n", "chunk size too long"),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n", "missing CRLF after chunk data"),
            ("HTTP/1.1 101 Switching Protocols\r\n\r\n", "unexpected 101 Switching Protocols"),
        ]
        for (text, reason) in cases {
            #expect(parseError(text) == reason, "\(text.debugDescription)")
        }
        #expect(parseError("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc")?.contains("gzip") == true)
        #expect(parseError("HTTP/1.1 200 OK\r\nX-Big: \(String(repeating: "a", count: 70_000))\r\n\r\n") == "response head too large")
    }

    @Test func aHugeHeadIsRefusedBeforeItsEndArrives() {
        let text = "HTTP/1.1 200 OK\r\nX-Big: " + String(repeating: "a", count: 70_000)
        do throws(HTTP1ParseError) {
            _ = try parse(text, piece: 4096)
            Issue.record("expected an error")
        } catch {
            #expect(error.reason == "response head too large")
        }
    }
}
