import HTTPTypes
import Testing

@testable import HTTPServer

/// The parser's field-line memo: on one connection, a head whose field lines repeat earlier ones
/// must parse exactly as it would on a fresh connection, refusals included.
@Suite struct FieldLineMemoTests {
    /// What a fresh parser makes of `request` alone.
    private func alone(_ request: String) -> [ParserOutcome] { RequestParserDriver.run(requestBytes(request)) }

    /// Feeds `requests` one after another to one parser, each compared with a fresh parser's result.
    private func expectSameAsAlone(_ requests: [String], cutEvery: Int? = nil) {
        var driver = RequestParserDriver()
        for request in requests {
            let before = driver.seen.count
            let bytes = requestBytes(request)
            if let cutEvery {
                var start = 0
                while start < bytes.count {
                    driver.feed(bytes[start..<min(start + cutEvery, bytes.count)])
                    start += cutEvery
                }
            } else {
                driver.feed(bytes)
            }
            #expect(Array(driver.seen[before...]) == alone(request), "\(request.debugDescription)")
            if driver.failure != nil { return }
        }
    }

    private let post = "POST /v1/chat HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nAuthorization: Bearer k\r\nContent-Length: 2\r\n\r\n{}"

    @Test func repeatedHeadsParseAsOnAFreshConnection() {
        expectSameAsAlone(Array(repeating: post, count: 5))
        expectSameAsAlone(Array(repeating: post, count: 3), cutEvery: 7)
    }

    @Test func aChangedLineKeepsTheOthersRight() {
        let longer = post.replacing("Content-Length: 2\r\n\r\n{}", with: "Content-Length: 3\r\n\r\n{ }")
        let otherKey = post.replacing("Bearer k", with: "Bearer other")
        let fewer = "POST /v1/chat HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        let more = post.replacing("Host: gw\r\n", with: "Host: gw\r\nX-Extra: 1\r\n")
        let bodiless = "GET /v1/models HTTP/1.1\r\nHost: gw\r\n\r\n"
        expectSameAsAlone([post, longer, post, otherKey, fewer, post, more, post, bodiless, post, bodiless])
    }

    @Test func aRepeatedRequestLineParsesAsOnAFreshConnection() {
        let otherTarget = post.replacing("POST /v1/chat ", with: "POST /v1/chat/x ")
        let get = post.replacing("POST /v1/chat ", with: "GET /v1/chat ")
        let http10 = post.replacing("HTTP/1.1\r\n", with: "HTTP/1.0\r\n")
        expectSameAsAlone([post, post, otherTarget, post, get, get, http10, post])
        // A line that differs from the remembered one in its version alone is still refused.
        expectSameAsAlone([post, post.replacing("HTTP/1.1\r\n", with: "HTTP/1.2\r\n")])
        expectSameAsAlone([post, post.replacing("POST /v1/chat ", with: "POST /v1/ch\u{7F}t ")])
    }

    @Test func extensionFieldsAreReportedWhetherParsedOrRepeated() {
        let traced = post.replacing("Host: gw\r\n", with: "Host: gw\r\nX-Request-ID: t-1\r\n")
        var driver = RequestParserDriver()
        driver.feed(requestBytes(post + traced + traced + post))
        let flags = driver.seen.compactMap { if case .head(let head) = $0 { head.hasExtensionFields } else { nil } }
        #expect(flags == [false, true, true, false], "common names only, then an extension, parsed and then repeated")
        expectSameAsAlone([post, traced, traced, post, traced])
    }

    @Test func aRepeatedLineFoundWithoutAScanMeetsTheSameLimitsAndLineEnds() {
        // The Host line grows, so the repeated lines after it may cross the header limit: at
        // every limit the second head must fare as it does alone.
        let grown = post.replacing("Host: gw\r\n", with: "Host: gw-longer-host\r\n")
        for limit in 40...130 {
            let limits = HTTPParserLimits(maxHeaderBytes: limit)
            var driver = RequestParserDriver(limits: limits)
            driver.feed(requestBytes(post))
            guard driver.failure == nil else { continue }
            let before = driver.seen.count
            driver.feed(requestBytes(grown))
            #expect(Array(driver.seen[before...]) == RequestParserDriver.run(requestBytes(grown), limits: limits), "limit \(limit)")
        }
        // A repeated line's bytes followed by a bare CR, or by more of the line, is no repeat.
        let bareCR = post.replacing("Authorization: Bearer k\r\n", with: "Authorization: Bearer k\rX\r\n")
        let longer = post.replacing("Authorization: Bearer k\r\n", with: "Authorization: Bearer kk\r\n")
        expectSameAsAlone([post, bareCR])
        expectSameAsAlone([post, longer, post])
    }

    @Test func framingIsStillCheckedOnRepeatedLines() {
        // Each refusal comes after heads that taught the memo every line but the offending one.
        let twoHosts = post.replacing("Host: gw\r\n", with: "Host: gw\r\nHost: gw\r\n")
        expectSameAsAlone([post, post, twoHosts])
        let twoLengths = post.replacing("Content-Length: 2\r\n", with: "Content-Length: 2\r\nContent-Length: 3\r\n")
        expectSameAsAlone([post, post, twoLengths])
        let alsoChunked = post.replacing("Content-Length: 2\r\n\r\n{}", with: "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}")
        expectSameAsAlone([post, post, alsoChunked])
        let noHost = post.replacing("Host: gw\r\n", with: "")
        expectSameAsAlone([post, noHost])
        let closing = post.replacing("Host: gw\r\n", with: "Host: gw\r\nConnection: close\r\n")
        var driver = RequestParserDriver()
        driver.feed(requestBytes(closing + closing))
        let heads = driver.seen.compactMap { if case .head(let head) = $0 { head } else { nil } }
        #expect(heads.count == 2 && heads.allSatisfy { !$0.keepAlive })
    }

    @Test func longLinesAndManyFieldsAreParsedEveryTime() {
        let long = post.replacing("Host: gw\r\n", with: "Host: gw\r\nX-Long: \(String(repeating: "a", count: 600))\r\n")
        var many = "GET / HTTP/1.1\r\nHost: gw\r\n"
        for i in 0..<40 { many += "X-F\(i): \(i)\r\n" }
        many += "\r\n"
        expectSameAsAlone([long, long, post, long, many, many, post, many])
        var driver = RequestParserDriver(limits: HTTPParserLimits(maxHeaderCount: 5))
        driver.feed(requestBytes(post + post))
        driver.feed(requestBytes(post.replacing("Host: gw\r\n", with: "Host: gw\r\nA: 1\r\nB: 2\r\n")))
        #expect(driver.failure?.status == 431)
    }
}
