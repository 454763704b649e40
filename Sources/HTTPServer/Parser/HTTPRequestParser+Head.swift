import HTTPTypes

extension HTTPRequestParser {
    /// What the head lines read so far have established. Each line is parsed once, as soon as it is
    /// complete; the framing decision is taken when the empty line arrives.
    struct HeadInProgress: Sendable {
        /// nil until the request line is parsed.
        var method: HTTPRequest.Method?
        var target = ""
        var versionMinor = 1
        /// Field lines read so far.
        var fieldCount = 0
        /// Every field line so far repeated the memo's line at its position; the fields are then
        /// the memo's, and `fieldList` stays empty.
        var repeatsMemo = true
        /// The fields read so far, once a line differed from the memo.
        var fieldList: [HTTPField] = []
        var headerBytes = 0
        var leadingEmptyLines = 0
        var hostCount = 0
        var contentLength: Int?
        var sawTransferEncoding = false
        var chunkedCount = 0
        var lastCodingIsChunked = false
        var hasOtherCoding = false
        var connectionClose = false
        var connectionKeepAlive = false
        var expectContinue = false
        /// A field's name is not in the parser's table of common names.
        var hasExtensionFields = false
    }
}

extension HTTPRequestParser {
    /// RFC 9112 §2.2 lets a server skip empty lines before the request line (old clients send a
    /// CRLF after a POST body); a few are tolerated, a stream of them is not.
    static let maxLeadingEmptyLines = 8

    /// Reads complete head lines from `pending` on; returns the head once its empty line is read.
    mutating func parseHeadLines(_ bytes: UnsafeBufferPointer<UInt8>) throws(HTTPParseError) -> HTTPRequestHead? {
        while true {
            let lineStart = pending
            if head.method == nil {
                if let last = lastRequestLine, Self.repeatsLine(last.bytes, bytes, at: lineStart) {
                    // Byte for byte the line accepted last time: it parses the same.
                    pending = lineStart + last.bytes.count + 2
                    head.versionMinor = last.versionMinor
                    head.target = last.target
                    head.method = last.method
                    continue
                }
                guard
                    let cr = try findLineEnd(
                        bytes, lineStart: lineStart, maxLineBytes: limits.maxRequestLineBytes,
                        tooLong: .init(status: 414, reason: "request line too long"))
                else { return nil }
                pending = cr + 2
                if cr == lineStart {
                    head.leadingEmptyLines += 1
                    if head.leadingEmptyLines > Self.maxLeadingEmptyLines {
                        throw .badRequest("too many empty lines before request line")
                    }
                    continue
                }
                try parseRequestLine(bytes, lineStart..<cr)
            } else {
                if let length = memo.repeatedLine(head.fieldCount, bytes, from: lineStart),
                   head.headerBytes + length + 2 <= limits.maxHeaderBytes {
                    // The line at this position last time, whole: no scan for its end.
                    pending = lineStart + length + 2
                    head.headerBytes += length + 2
                    try acceptFieldLine(bytes, lineStart..<lineStart + length, repeatsMemo: true)
                    continue
                }
                guard
                    let cr = try findLineEnd(
                        bytes, lineStart: lineStart, maxLineBytes: limits.maxHeaderBytes - head.headerBytes,
                        tooLong: .init(status: 431, reason: "header section too large"))
                else { return nil }
                pending = cr + 2
                head.headerBytes += cr + 2 - lineStart
                if cr == lineStart { return try finishHead() }
                try acceptFieldLine(bytes, lineStart..<cr, repeatsMemo: false)
            }
        }
    }

    /// `method SP request-target SP HTTP-version`, single spaces, nothing else (RFC 9112 §3).
    private mutating func parseRequestLine(_ bytes: UnsafeBufferPointer<UInt8>, _ line: Range<Int>)
        throws(HTTPParseError)
    {
        var firstSpace = line.lowerBound
        while firstSpace < line.upperBound && bytes[firstSpace] != Byte.space { firstSpace += 1 }
        var secondSpace = firstSpace + 1
        while secondSpace < line.upperBound && bytes[secondSpace] != Byte.space { secondSpace += 1 }
        guard secondSpace < line.upperBound else { throw .badRequest("malformed request line") }
        let methodRange = line.lowerBound..<firstSpace
        let targetRange = firstSpace + 1..<secondSpace
        let versionRange = secondSpace + 1..<line.upperBound

        // Version first: a request from a version we do not speak gets 505 whatever else it holds.
        head.versionMinor = try Self.parseVersion(bytes, versionRange)
        let method = try Self.parseMethod(bytes, methodRange)
        guard !targetRange.isEmpty else { throw .badRequest("empty request target") }
        for index in targetRange where bytes[index] <= Byte.space || bytes[index] >= 0x7F {
            throw .badRequest("invalid character in request target")
        }
        switch bytes[targetRange.lowerBound] {
        case UInt8(ascii: "/"):
            break
        case UInt8(ascii: "*") where targetRange.count == 1:
            guard method == .options else { throw .badRequest("asterisk-form target outside OPTIONS") }
        default:
            // absolute-form is what a client configured with us as a proxy sends; authority-form
            // (CONNECT host:port) and anything else is not for a gateway.
            let isAbsolute =
                Self.hasPrefixIgnoringCase(bytes, targetRange, "http://")
                || Self.hasPrefixIgnoringCase(bytes, targetRange, "https://")
            guard isAbsolute else { throw .badRequest("unsupported request target form") }
        }
        head.target = String(decoding: UnsafeBufferPointer(rebasing: bytes[targetRange]), as: UTF8.self)
        head.method = method
        lastRequestLine = line.count <= Self.maxRememberedRequestLine
            ? (Array(UnsafeBufferPointer(rebasing: bytes[line])), method, head.target, head.versionMinor) : nil
    }

    /// Longer request lines are parsed every time.
    static let maxRememberedRequestLine = 512

    /// `HTTP/1.0` or `HTTP/1.1`; another well-formed `HTTP/x.y` is 505, anything else 400.
    private static func parseVersion(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) throws(HTTPParseError)
        -> Int
    {
        let start = range.lowerBound
        guard range.count == 8, Self.equals(bytes, start..<start + 5, "HTTP/"), bytes[start + 6] == UInt8(ascii: "."),
            let major = Byte.decimalValue(bytes[start + 5]), let minor = Byte.decimalValue(bytes[start + 7])
        else { throw .badRequest("malformed HTTP version") }
        guard major == 1, minor <= 1 else { throw .init(status: 505, reason: "HTTP version not supported") }
        return minor
    }

    private static func parseMethod(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) throws(HTTPParseError)
        -> HTTPRequest.Method
    {
        // The common methods skip validation and the String allocation.
        if Self.equals(bytes, range, "POST") { return .post }
        if Self.equals(bytes, range, "GET") { return .get }
        guard Self.isToken(bytes, range) else { throw .badRequest("invalid method") }
        let name = String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        guard let method = HTTPRequest.Method(name) else { throw .badRequest("invalid method") }
        return method
    }

    /// `field-name ":" OWS field-value OWS` (RFC 9112 §5); the line already holds no CTL but HTAB.
    /// Returns the field, its framing role and where its value is in `bytes`.
    mutating func parseFieldLine(_ bytes: UnsafeBufferPointer<UInt8>, _ line: Range<Int>) throws(HTTPParseError)
        -> (HTTPField, FieldRole, Range<Int>)
    {
        guard !Byte.isWhitespace(bytes[line.lowerBound]) else {
            throw .badRequest("obsolete line folding or whitespace before field name")
        }
        var colon = line.lowerBound
        while colon < line.upperBound && bytes[colon] != Byte.colon { colon += 1 }
        guard colon < line.upperBound else { throw .badRequest("field line without colon") }
        guard colon > line.lowerBound else { throw .badRequest("empty field name") }
        guard !Byte.isWhitespace(bytes[colon - 1]) else { throw .badRequest("whitespace between field name and colon") }
        let nameRange = line.lowerBound..<colon
        let name: HTTPField.Name
        let role: FieldRole
        if let known = Self.knownFieldName(bytes, nameRange) {
            (name, role) = known
        } else {
            let nameString = String(decoding: UnsafeBufferPointer(rebasing: bytes[nameRange]), as: UTF8.self)
            // The one token validation (and lowercasing) of a name that is not in the table.
            guard let validated = HTTPField.Name(nameString) else { throw .badRequest("invalid field name") }
            (name, role) = (validated, .extensionName)
        }
        let value = Self.trimmingWhitespace(bytes, colon + 1..<line.upperBound)
        if role.decidesFraming { try applyFraming(role, bytes, value) }
        let valueBytes = UnsafeBufferPointer(rebasing: bytes[value])
        if Self.isASCII(valueBytes) {
            // ASCII is valid UTF-8: the String fast path, not HTTPTypes' generic UTF-8 validation.
            return (HTTPField(name: name, value: String(decoding: valueBytes, as: UTF8.self)), role, value)
        }
        return (HTTPField(name: name, value: valueBytes), role, value)  // obs-text kept byte for byte
    }

    /// Records what the fields that decide framing and connection handling say.
    mutating func applyFraming(
        _ role: FieldRole, _ bytes: UnsafeBufferPointer<UInt8>, _ value: Range<Int>
    ) throws(HTTPParseError) {
        switch role {
        case .host:
            head.hostCount += 1
            guard head.hostCount == 1 else { throw .badRequest("multiple Host fields") }
        case .contentLength:
            // RFC 9110 §8.6: identical repeated values may be accepted, differing ones never.
            var elements = ListElements(bytes, value)
            while let element = elements.next() {
                let length = try Self.parseContentLength(bytes, element)
                if let known = head.contentLength, known != length {
                    throw .badRequest("conflicting Content-Length values")
                }
                head.contentLength = length
            }
        case .transferEncoding:
            head.sawTransferEncoding = true
            var elements = ListElements(bytes, value)
            while let element = elements.next() {
                // RFC 9110 §5.6.1: empty list elements are ignored.
                if element.isEmpty { continue }
                if Self.equalsIgnoringCase(bytes, element, "chunked") {
                    head.chunkedCount += 1
                    head.lastCodingIsChunked = true
                } else {
                    head.hasOtherCoding = true
                    head.lastCodingIsChunked = false
                }
            }
        case .connection:
            var elements = ListElements(bytes, value)
            while let element = elements.next() {
                if Self.equalsIgnoringCase(bytes, element, "close") { head.connectionClose = true }
                if Self.equalsIgnoringCase(bytes, element, "keep-alive") { head.connectionKeepAlive = true }
            }
        case .expect:
            guard Self.equalsIgnoringCase(bytes, value, "100-continue") else {
                throw .init(status: 417, reason: "unsupported expectation")
            }
            head.expectContinue = true
        case .other, .extensionName:
            break
        }
    }

    /// `1*DIGIT`, no sign, no overflow.
    private static func parseContentLength(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>)
        throws(HTTPParseError) -> Int
    {
        guard !range.isEmpty else { throw .badRequest("invalid Content-Length") }
        var length = 0
        for index in range {
            guard let digit = Byte.decimalValue(bytes[index]) else { throw .badRequest("invalid Content-Length") }
            let (times10, overflow1) = length.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(digit)
            guard !overflow1 && !overflow2 else { throw .badRequest("Content-Length overflows") }
            length = sum
        }
        return length
    }

    /// Decides the framing (RFC 9112 §6.1-6.3) and connection handling once the head is complete.
    private mutating func finishHead() throws(HTTPParseError) -> HTTPRequestHead {
        let headers = finishFields()  // from `head`, and the memo of them for the next request
        var info = HeadInProgress()
        swap(&info, &head)  // its strings move into the result, uncopied
        guard let method = info.method else { throw .badRequest("missing request line") }
        let isHTTP11 = info.versionMinor == 1
        if info.sawTransferEncoding {
            guard isHTTP11 else { throw .badRequest("Transfer-Encoding in an HTTP/1.0 request") }
            guard info.contentLength == nil else { throw .badRequest("Content-Length with Transfer-Encoding") }
            // chunked must be final and applied once, or the body length is unknowable (§6.3) -> 400;
            // other codings under a final chunked are well framed but unsupported -> 501 (§6.1).
            guard info.chunkedCount <= 1 else { throw .badRequest("chunked applied more than once") }
            guard info.lastCodingIsChunked else { throw .badRequest("chunked is not the final transfer coding") }
            guard !info.hasOtherCoding else { throw .init(status: 501, reason: "unsupported transfer coding") }
        }
        if isHTTP11 && info.hostCount == 0 { throw .badRequest("missing Host") }
        if let length = info.contentLength, length > limits.maxBodyBytes {
            throw .init(status: 413, reason: "body too large")
        }

        let result = HTTPRequestHead(
            method: method,
            target: info.target,
            versionMinor: info.versionMinor,
            headers: headers,
            keepAlive: isHTTP11 ? !info.connectionClose : info.connectionKeepAlive && !info.connectionClose,
            expectContinue: isHTTP11 && info.expectContinue,
            contentLength: info.contentLength,
            isChunked: info.sawTransferEncoding,
            hasExtensionFields: info.hasExtensionFields)
        if info.sawTransferEncoding {
            phase = .chunkSize
        } else if let length = info.contentLength, length > 0 {
            phase = .fixedBody(remaining: length)
        } else {
            phase = .endPending
        }
        return result
    }
}
