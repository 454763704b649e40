import Testing
@testable import Upstream

/// The per-connection memo of response field lines: responses read one after another on one
/// connection must parse exactly as each would on its own, refusals included.
@Suite struct ResponseLineMemoTests {
    /// A comparable summary of a parse: head facts, body and end, or the error.
    private func summary(_ outcome: Result<ParsedResponse, HTTP1ParseError>) -> String {
        switch outcome {
        case .failure(let error): return "error: \(error.reason)"
        case .success(let parsed):
            guard let head = parsed.head else { return "no head" }
            let headers = head.headers.map { "\($0.0)=\($0.1)" }.joined(separator: ";")
            return "\(head.status) [\(headers)] keepAlive=\(head.keepAlive) \(head.framing) body=\(parsed.body.count) ended=\(parsed.ended)"
        }
    }

    /// Parses `texts` in order with one memo, as a connection's successive transfers do.
    private func onOneConnection(_ texts: [String]) -> [String] {
        var memo = ResponseLineMemo()
        return texts.map { text in summary(Result { () throws(HTTP1ParseError) in try parse(text, memo: &memo) }) }
    }

    private func alone(_ texts: [String]) -> [String] {
        texts.map { text in summary(Result { () throws(HTTP1ParseError) in try parse(text) }) }
    }

    private let ok = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ndate: Sat, 21 Nov 2026 21:00:00 GMT\r\ncontent-length: 2\r\n\r\n{}"

    @Test func repeatedAndChangedLinesParseAsOnTheirOwn() {
        let otherDate = ok.replacing("21:00:00", with: "21:00:01")
        let longer = ok.replacing("content-length: 2\r\n\r\n{}", with: "content-length: 3\r\n\r\n{ }")
        let limited = "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 2\r\nx-ratelimit-remaining-requests: 0\r\ncontent-length: 2\r\n\r\n{}"
        let chunked = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"
        let closing = ok.replacing("content-length: 2\r\n", with: "connection: close\r\ncontent-length: 2\r\n")
        let texts = [ok, ok, otherDate, longer, ok, limited, limited, chunked, ok, chunked, closing, ok]
        #expect(onOneConnection(texts) == alone(texts))
    }

    @Test func framingConflictsAreStillRefusedOnRepeatedLines() {
        let twoLengths = ok.replacing("content-length: 2\r\n", with: "content-length: 2\r\ncontent-length: 3\r\n")
        let lengthAndChunked = ok.replacing("content-length: 2\r\n", with: "content-length: 2\r\ntransfer-encoding: chunked\r\n")
        let gzip = ok.replacing("content-length: 2\r\n", with: "content-length: 2\r\ncontent-encoding: gzip\r\n")
        for bad in [twoLengths, lengthAndChunked, gzip] {
            let texts = [ok, ok, bad]
            let results = onOneConnection(texts)
            #expect(results == alone(texts))
            #expect(results.last?.hasPrefix("error") == true)
        }
    }
}
