import HTTPTypes
import Testing

@testable import HTTPServer

/// What a connection sees from the parser: body bytes are copied out and adjacent body events
/// merged, so feeding the same bytes in different pieces must give equal lists.
enum ParserOutcome: Equatable, CustomStringConvertible {
    case head(HTTPRequestHead)
    case body([UInt8])
    case end
    case error(HTTPParseError)

    var description: String {
        switch self {
        case .head(let head): "head(\(head.method) \(head.target) 1.\(head.versionMinor))"
        case .body(let bytes): "body(\(String(decoding: bytes, as: UTF8.self)))"
        case .end: "end"
        case .error(let error): "error(\(error.status) \(error.reason))"
        }
    }
}

/// Plays the connection: keeps unconsumed bytes, appends new ones, drains events until the parser
/// needs more; checks the calling contract's invariants on every call.
struct RequestParserDriver {
    var parser: HTTPRequestParser
    var buffer: [UInt8] = []
    var seen: [ParserOutcome] = []

    init(limits: HTTPParserLimits = .init()) {
        parser = HTTPRequestParser(limits: limits)
    }

    var failure: HTTPParseError? {
        if case .error(let error) = seen.last { return error }
        return nil
    }

    mutating func feed(_ chunk: some Sequence<UInt8>) {
        buffer.append(contentsOf: chunk)
        var parser = self.parser
        defer { self.parser = parser }
        while failure == nil {
            let step: Result<(ParserOutcome?, Int), HTTPParseError> = buffer.withUnsafeBytes { raw in
                Result { () throws(HTTPParseError) in
                    let (event, consumed) = try parser.parse(raw)
                    #expect(consumed >= 0 && consumed <= raw.count)
                    switch event {
                    case .head(let head)?: return (.head(head), consumed)
                    case .body(let range)?:
                        #expect(!range.isEmpty && range.upperBound <= consumed)
                        return (.body(Array(raw[range])), consumed)
                    case .end?: return (.end, consumed)
                    case nil:
                        #expect(consumed == 0)
                        return (nil, consumed)
                    }
                }
            }
            switch step {
            case .success((let event, let consumed)):
                buffer.removeFirst(consumed)
                guard let event else { return }
                if case .body(let bytes) = event, case .body(let previous) = seen.last {
                    seen[seen.count - 1] = .body(previous + bytes)
                } else {
                    seen.append(event)
                }
            case .failure(let error):
                seen.append(.error(error))
            }
        }
    }

    /// The outcome of feeding `message` in pieces cut at `cuts` (sorted offsets).
    static func run(_ message: [UInt8], cuts: [Int] = [], limits: HTTPParserLimits = .init()) -> [ParserOutcome] {
        var driver = RequestParserDriver(limits: limits)
        var start = 0
        for cut in cuts + [message.count] {
            driver.feed(message[start..<cut])
            start = cut
        }
        return driver.seen
    }
}

func requestBytes(_ text: String) -> [UInt8] { Array(text.utf8) }

func firstRequestHead(in seen: [ParserOutcome]) -> HTTPRequestHead? {
    for case .head(let head) in seen { return head }
    return nil
}

@Suite("HTTPRequestParser")
struct HTTPRequestParserTests {
    @Test func getWithKeepAlive() throws {
        let seen = RequestParserDriver.run(
            requestBytes("GET /v1/models?x=1 HTTP/1.1\r\nHost: gw\r\nAccept:  */* \r\n\r\n"))
        #expect(seen.count == 2)
        #expect(seen.last == .end)
        let head = try #require(firstRequestHead(in: seen))
        #expect(head.method == .get)
        #expect(head.target == "/v1/models?x=1")
        #expect(head.versionMinor == 1)
        #expect(head.keepAlive)
        #expect(!head.expectContinue)
        #expect(head.contentLength == nil)
        #expect(!head.isChunked)
        #expect(head.headers[HTTPField.Name("Host")!] == "gw")
        #expect(head.headers[.accept] == "*/*")  // OWS trimmed
        #expect(head.headers.first?.name.rawName == "Host")  // sent casing kept
    }

    @Test func endOfBodilessRequestComesOnNextCallWithNothingConsumed() throws {
        var parser = HTTPRequestParser()
        let message = requestBytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        try message.withUnsafeBytes { raw in
            let first = try parser.parse(raw)
            #expect(first.consumed == message.count)
            guard case .head? = first.event else {
                Issue.record("expected head")
                return
            }
            let second = try parser.parse(UnsafeRawBufferPointer(rebasing: raw[message.count...]))
            #expect(second.event == .end && second.consumed == 0)
            let third = try parser.parse(UnsafeRawBufferPointer(rebasing: raw[message.count...]))
            #expect(third.event == nil && third.consumed == 0)
        }
    }

    @Test func connectionClose() throws {
        let head = try #require(
            firstRequestHead(
                in: RequestParserDriver.run(requestBytes("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, Close\r\n\r\n"))
            ))
        #expect(!head.keepAlive)
    }

    @Test func http10Defaults() throws {
        let plain = try #require(firstRequestHead(in: RequestParserDriver.run(requestBytes("GET / HTTP/1.0\r\n\r\n"))))
        #expect(plain.versionMinor == 0)
        #expect(!plain.keepAlive)  // no Host needed either
        let kept = try #require(
            firstRequestHead(
                in: RequestParserDriver.run(
                    requestBytes("GET / HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\n\r\n"))))
        #expect(kept.keepAlive)
        #expect(!kept.expectContinue)  // RFC 9110 §10.1.1: ignored on 1.0
    }

    @Test func expectContinue() throws {
        let head = try #require(
            firstRequestHead(
                in: RequestParserDriver.run(
                    requestBytes("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nhi"))))
        #expect(head.expectContinue)
        #expect(head.contentLength == 2)
    }

    @Test func contentLengthBody() {
        let seen = RequestParserDriver.run(
            requestBytes("POST /v1/chat HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"))
        #expect(Array(seen.dropFirst()) == [.body(requestBytes("hello")), .end])
        #expect(firstRequestHead(in: seen)?.contentLength == 5)
    }

    @Test func identicalDuplicateContentLengthsAreAccepted() {
        let seen = RequestParserDriver.run(
            requestBytes("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc"))
        #expect(Array(seen.dropFirst()) == [.body(requestBytes("abc")), .end])
    }

    @Test func zeroContentLength() {
        let seen = RequestParserDriver.run(requestBytes("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"))
        #expect(seen.count == 2 && seen.last == .end)
        #expect(firstRequestHead(in: seen)?.contentLength == 0)
    }

    static let chunkedMessage = requestBytes(
        "POST /v1/chat HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;name=value;flag\r\nhello\r\n"
            + "6 ; q=\"a \\\" b\"\r\n world\r\n"
            + "0\r\nX-Checksum: abc\r\nX-Other: d\r\n\r\n")

    @Test func chunkedBodyWithExtensionsAndTrailers() throws {
        let seen = RequestParserDriver.run(Self.chunkedMessage)
        #expect(Array(seen.dropFirst()) == [.body(requestBytes("hello world")), .end])
        let head = try #require(firstRequestHead(in: seen))
        #expect(head.isChunked)
        #expect(head.contentLength == nil)
        #expect(!head.headers.contains(HTTPField.Name("X-Checksum")!))  // trailers are discarded
    }

    @Test func chunkedCodingNamesAreCaseInsensitiveAndEmptyElementsIgnored() {
        let seen = RequestParserDriver.run(
            requestBytes("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , Chunked\r\n\r\n0\r\n\r\n"))
        #expect(seen.count == 2 && seen.last == .end)
    }

    @Test func pipelinedRequestsInOneBuffer() {
        let message = requestBytes(
            "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
                + "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz"
                + "PUT /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
                + "\r\nDELETE /d HTTP/1.0\r\n\r\n")
        let seen = RequestParserDriver.run(message)
        let targets = seen.compactMap { if case .head(let head) = $0 { head.target } else { nil } }
        #expect(targets == ["/a", "/b", "/c", "/d"])
        let shape = seen.map {
            if case .head = $0 {
                "H"
            } else if case .body(let b) = $0 {
                String(decoding: b, as: UTF8.self)
            } else {
                "E"
            }
        }
        #expect(shape == ["H", "E", "H", "xyz", "E", "H", "ok", "E", "H", "E"])
    }

    @Test func leadingEmptyLinesAreSkippedButBounded() {
        #expect(
            firstRequestHead(in: RequestParserDriver.run(requestBytes("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")))?
                .target == "/")
        let many = String(repeating: "\r\n", count: 9) + "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
        #expect(
            RequestParserDriver.run(requestBytes(many)).last
                == .error(.badRequest("too many empty lines before request line")))
    }

    @Test func targetForms() {
        #expect(
            firstRequestHead(in: RequestParserDriver.run(requestBytes("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")))?.target
                == "*")
        #expect(
            firstRequestHead(in: RequestParserDriver.run(requestBytes("GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n")))?
                .target == "http://a/b")
        #expect(
            firstRequestHead(in: RequestParserDriver.run(requestBytes("PATCH /x HTTP/1.1\r\nHost: a\r\n\r\n")))?.method
                == .patch)
    }

    @Test func failedParserStaysFailed() throws {
        var parser = HTTPRequestParser()
        let bad = requestBytes("GET / HTTP/1.1\r\nHost : a\r\n\r\n")
        let good = requestBytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        let first = bad.withUnsafeBytes { raw in Result { () throws(HTTPParseError) in try parser.parse(raw) } }
        #expect(throws: HTTPParseError.self) { try first.get() }
        #expect(parser.isMidRequest == false)
        for _ in 0..<3 {
            let again = good.withUnsafeBytes { raw in Result { () throws(HTTPParseError) in try parser.parse(raw) } }
            guard case .failure(let error) = again else {
                Issue.record("accepted after an error")
                return
            }
            #expect(error == .badRequest("whitespace between field name and colon"))
        }
    }

    @Test func isMidRequestTracksRequestBoundaries() throws {
        var parser = HTTPRequestParser()
        #expect(!parser.isMidRequest)
        let message = requestBytes("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx")
        try message.withUnsafeBytes { raw in
            _ = try parser.parse(UnsafeRawBufferPointer(rebasing: raw[0..<5]))
            #expect(parser.isMidRequest)
            let (_, headBytes) = try parser.parse(raw)
            #expect(parser.isMidRequest)
            let rest = UnsafeRawBufferPointer(rebasing: raw[headBytes...])
            #expect(try parser.parse(rest) == (.body(0..<1), 1))
            #expect(parser.isMidRequest)
            #expect(try parser.parse(UnsafeRawBufferPointer(rebasing: rest[1...])) == (.end, 0))
            #expect(!parser.isMidRequest)
        }
    }
}
