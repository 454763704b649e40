// The status line and field lines of a response, and the framing decision (RFC 9112 §4, §5,
// §6.3). Strict: obsolete line folding, whitespace before a colon, control bytes in a value,
// conflicting Content-Length values and Transfer-Encoding together with Content-Length are
// errors, never guesses.

import Reactor

extension HTTP1ResponseParser {
    /// What the head lines read so far have established.
    struct HeadInProgress: Sendable {
        var status = 0
        var versionMinor = 1
        var headers: [(String, String)] = []
        var fieldCount = 0
        var contentLength: Int?
        var hasTransferEncoding = false
        var chunkedIsLast = false
        var connectionClose = false
        var connectionKeepAlive = false
        /// A content coding other than identity: we never ask for one, so we cannot decode it.
        var unsupportedEncoding: String?
    }

    private static let httpPrefix = Array("HTTP/1.".utf8)
    private static let contentLength = Array("content-length".utf8)
    private static let transferEncoding = Array("transfer-encoding".utf8)
    private static let connection = Array("connection".utf8)
    private static let contentEncoding = Array("content-encoding".utf8)
    private static let contentType = Array("content-type".utf8)
    private static let chunked = Array("chunked".utf8)
    private static let close = Array("close".utf8)
    private static let keepAlive = Array("keep-alive".utf8)
    private static let identity = Array("identity".utf8)

    /// `HTTP/1.x SP 3DIGIT [ SP reason-phrase ]`.
    mutating func parseStatusLine(_ line: UnsafeRawBufferPointer) throws(HTTP1ParseError) {
        guard line.count >= 12, line.starts(with: Self.httpPrefix), Byte.isDigit(line[7]), line[8] == Byte.space,
              Byte.isDigit(line[9]), Byte.isDigit(line[10]), Byte.isDigit(line[11]),
              line.count == 12 || line[12] == Byte.space
        else { throw HTTP1ParseError("invalid status line") }
        for byte in line[12...] where Byte.isControl(byte) { throw HTTP1ParseError("invalid status line") }
        let status = Int(line[9] - 0x30) * 100 + Int(line[10] - 0x30) * 10 + Int(line[11] - 0x30)
        guard status >= 100 else { throw HTTP1ParseError("invalid status code") }
        head.status = status
        head.versionMinor = Int(line[7] - 0x30)
    }

    /// `field-name ":" OWS field-value OWS`; framing fields are interpreted, kept ones stored.
    /// A line byte-equal to the one at the same position of this connection's last response
    /// (`memo`) is not parsed again: what it said is applied as it was.
    mutating func parseHeaderLine(_ line: UnsafeRawBufferPointer) throws(HTTP1ParseError) {
        let position = head.fieldCount
        head.fieldCount += 1
        guard head.fieldCount <= Self.maxHeaderCount else { throw HTTP1ParseError("too many header fields") }
        if memo.matches(position, line) {
            try apply(memo.effects[position])
            return
        }
        let effect = try Self.effect(of: line)
        memo.remember(position, line, effect)
        try apply(effect)
    }

    /// What one field line says, validated on its own.
    static func effect(of line: UnsafeRawBufferPointer) throws(HTTP1ParseError) -> HeaderLineEffect {
        let colon = try validateFieldLine(line)
        let name = UnsafeRawBufferPointer(rebasing: line[..<colon])
        var start = colon + 1
        var end = line.count
        while start < end && Byte.isWhitespace(line[start]) { start += 1 }
        while end > start && Byte.isWhitespace(line[end - 1]) { end -= 1 }
        let value = UnsafeRawBufferPointer(rebasing: line[start..<end])

        if named(name, contentLength) {
            return .contentLength(try parseContentLength(value))
        } else if named(name, transferEncoding) {
            var lastIsChunked: Bool?
            forEachToken(value) { token in
                lastIsChunked = UpstreamResponseHeaders.equalsIgnoringCase(token, chunked[...])
            }
            return .transferEncoding(lastIsChunked: lastIsChunked)
        } else if named(name, connection) {
            var close = false
            var keepAlive = false
            forEachToken(value) { token in
                if UpstreamResponseHeaders.equalsIgnoringCase(token, Self.close[...]) { close = true }
                if UpstreamResponseHeaders.equalsIgnoringCase(token, Self.keepAlive[...]) { keepAlive = true }
            }
            return .connection(close: close, keepAlive: keepAlive)
        } else if named(name, contentEncoding) {
            var unsupported: String?
            forEachToken(value) { token in
                if !UpstreamResponseHeaders.equalsIgnoringCase(token, identity[...]) {
                    unsupported = String(decoding: token, as: UTF8.self)
                }
            }
            return .contentEncoding(unsupported: unsupported)
        } else if named(name, contentType) {
            return .kept("content-type", commonContentType(value) ?? String(decoding: value, as: UTF8.self))
        } else if UpstreamResponseHeaders.isKept(name) {
            let lowered = String(decoding: name.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
            return .kept(lowered, String(decoding: value, as: UTF8.self))
        }
        return .none
    }

    /// Records what a field line said in the head in progress.
    private mutating func apply(_ effect: HeaderLineEffect) throws(HTTP1ParseError) {
        switch effect {
        case .none:
            break
        case .contentLength(let length):
            if let known = head.contentLength, known != length { throw HTTP1ParseError("invalid or conflicting Content-Length") }
            head.contentLength = length
        case .transferEncoding(let lastIsChunked):
            head.hasTransferEncoding = true
            if let lastIsChunked { head.chunkedIsLast = lastIsChunked }
        case .connection(let close, let keepAlive):
            if close { head.connectionClose = true }
            if keepAlive { head.connectionKeepAlive = true }
        case .contentEncoding(let unsupported):
            if let unsupported { head.unsupportedEncoding = unsupported }
        case .kept(let name, let value):
            head.headers.append((name, value))
        }
    }

    /// Checks a field line's syntax; returns the index of its colon.
    @discardableResult
    static func validateFieldLine(_ line: UnsafeRawBufferPointer) throws(HTTP1ParseError) -> Int {
        guard let first = line.first, !Byte.isWhitespace(first) else { throw HTTP1ParseError("obsolete line folding") }
        var colon = 0
        while colon < line.count && Byte.isToken(line[colon]) { colon += 1 }
        guard colon > 0, colon < line.count, line[colon] == Byte.colon else {
            throw HTTP1ParseError("invalid header field name")
        }
        if ByteScanning.firstControlByte(line, from: colon + 1) != nil { throw HTTP1ParseError("invalid header field value") }
        return colon
    }

    /// One or more equal decimal values ("42" or "42, 42").
    private static func parseContentLength(_ value: UnsafeRawBufferPointer) throws(HTTP1ParseError) -> Int {
        var failed = false
        var length: Int?
        forEachToken(value, keepEmpty: true) { token in
            guard !token.isEmpty, token.count <= 18, token.allSatisfy(Byte.isDigit) else { failed = true; return }
            let parsed = token.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            if let length, length != parsed { failed = true; return }
            length = parsed
        }
        guard !failed, let length else { throw HTTP1ParseError("invalid or conflicting Content-Length") }
        return length
    }

    /// The head's empty line: decides framing and keep-alive. nil after an interim 1xx answer
    /// (skipped; the real status line follows).
    mutating func finishHead() throws(HTTP1ParseError) -> HTTP1ResponseHead? {
        let h = head
        head = HeadInProgress()
        if (100..<200).contains(h.status) {
            // We never ask to switch protocols, so a 101 cannot be followed safely.
            guard h.status != 101 else { throw HTTP1ParseError("unexpected 101 Switching Protocols") }
            phase = .statusLine
            return nil
        }
        var keepAlive = h.versionMinor >= 1 ? !h.connectionClose : h.connectionKeepAlive && !h.connectionClose
        let framing: HTTP1BodyFraming
        if !expectsBody || h.status == 204 || h.status == 304 {
            framing = .none
        } else if h.hasTransferEncoding {
            guard h.contentLength == nil else { throw HTTP1ParseError("both Transfer-Encoding and Content-Length") }
            framing = h.chunkedIsLast && h.versionMinor >= 1 ? .chunked : .untilClose
        } else if let length = h.contentLength {
            framing = .length(length)
        } else {
            framing = .untilClose
        }
        if framing == .untilClose { keepAlive = false }
        if framing != .none, let encoding = h.unsupportedEncoding {
            throw HTTP1ParseError("the upstream sent Content-Encoding \(encoding), which the native client does not decode")
        }
        switch framing {
        case .none, .length(0): phase = .endPending
        case .length(let length): phase = .fixedBody(remaining: length)
        case .chunked: phase = .chunkSize
        case .untilClose: phase = .untilClose
        }
        return HTTP1ResponseHead(status: h.status, headers: h.headers, keepAlive: keepAlive, framing: framing)
    }

    /// The content types LLM APIs answer with, as string literals: a value of more than 15
    /// bytes would otherwise cost a heap allocation per response.
    private static let commonContentTypes: [(bytes: [UInt8], text: String)] = [
        "application/json", "application/json; charset=utf-8", "text/event-stream",
        "text/event-stream; charset=utf-8", "text/plain; charset=utf-8",
    ].map { (Array($0.utf8), $0) }

    private static func commonContentType(_ value: UnsafeRawBufferPointer) -> String? {
        for candidate in commonContentTypes where candidate.bytes.count == value.count && value.elementsEqual(candidate.bytes) {
            return candidate.text
        }
        return nil
    }

    private static func named(_ name: UnsafeRawBufferPointer, _ expected: [UInt8]) -> Bool {
        UpstreamResponseHeaders.equalsIgnoringCase(name, expected[...])
    }

    /// Calls `body` with each comma-separated element of a list value, OWS trimmed; empty
    /// elements are skipped unless `keepEmpty`.
    private static func forEachToken(_ value: UnsafeRawBufferPointer, keepEmpty: Bool = false,
                                     _ body: (UnsafeRawBufferPointer) -> Void) {
        var start = 0
        while start <= value.count {
            var end = start
            while end < value.count && value[end] != UInt8(ascii: ",") { end += 1 }
            var a = start
            var b = end
            while a < b && Byte.isWhitespace(value[a]) { a += 1 }
            while b > a && Byte.isWhitespace(value[b - 1]) { b -= 1 }
            if a < b || keepEmpty { body(UnsafeRawBufferPointer(rebasing: value[a..<b])) }
            start = end + 1
        }
    }
}
