import HTTPTypes

// The chunked transfer coding (RFC 9112 §7.1): chunk-size lines with optional extensions, the CRLF
// after each chunk's data, and the trailer section. Extensions are syntax-checked and ignored;
// trailer fields are syntax-checked, bounded and discarded (nothing downstream reads them).

extension HTTPRequestParser {
    /// A chunk size fits in 16 hex digits (and then in an Int); more digits are refused even when
    /// they are leading zeros, so no scan of the size is unbounded.
    static let maxChunkSizeDigits = 16

    /// Reads `chunk-size [chunk-ext] CRLF` at `pending`; false when the line is not complete yet.
    mutating func parseChunkSizeLine(_ bytes: UnsafeBufferPointer<UInt8>) throws(HTTPParseError) -> Bool {
        let lineStart = pending
        guard
            let cr = try findLineEnd(
                bytes, lineStart: lineStart,
                maxLineBytes: Self.maxChunkSizeDigits + max(limits.maxChunkExtensionBytes, 0) + 2,
                tooLong: .badRequest("chunk size line too long"))
        else { return false }

        var index = lineStart
        var size = 0
        while index < cr, let digit = Byte.hexValue(bytes[index]) {
            guard index - lineStart < Self.maxChunkSizeDigits else { throw .badRequest("chunk size too long") }
            guard size <= Int.max >> 4 else { throw .badRequest("chunk size overflows") }
            size = size << 4 | digit
            index += 1
        }
        guard index > lineStart else { throw .badRequest("invalid chunk size") }
        guard cr - index <= limits.maxChunkExtensionBytes else { throw .badRequest("chunk extensions too long") }
        try Self.validateChunkExtensions(bytes, index..<cr)
        pending = cr + 2

        if size == 0 {
            phase = .trailers
            return true
        }
        let (total, overflow) = chunkedBodyBytes.addingReportingOverflow(size)
        guard !overflow, total <= limits.maxBodyBytes else { throw .init(status: 413, reason: "body too large") }
        chunkedBodyBytes = total
        phase = .chunkData(remaining: size)
        return true
    }

    /// `*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )`. Also what rejects a chunk
    /// size followed by anything that is not an extension ("5g", "5 ").
    static func validateChunkExtensions(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) throws(HTTPParseError)
    {
        let end = range.upperBound
        var index = range.lowerBound
        func skipWhitespace() {
            while index < end && Byte.isWhitespace(bytes[index]) { index += 1 }
        }
        func skipToken() throws(HTTPParseError) {
            let start = index
            while index < end && Byte.isToken(bytes[index]) { index += 1 }
            guard index > start else { throw .badRequest("invalid chunk extension") }
        }
        while index < end {
            skipWhitespace()
            guard index < end, bytes[index] == Byte.semicolon else { throw .badRequest("invalid chunk extension") }
            index += 1
            skipWhitespace()
            try skipToken()
            let afterName = index
            skipWhitespace()
            guard index < end, bytes[index] == UInt8(ascii: "=") else {
                index = afterName  // no value: the whitespace belongs to the next ";"
                continue
            }
            index += 1
            skipWhitespace()
            if index < end && bytes[index] == UInt8(ascii: "\"") {
                index = try skipQuotedString(bytes, index..<end)
            } else {
                try skipToken()
            }
        }
    }

    /// Returns the index after the closing DQUOTE. The line holds no CTL but HTAB, so every other
    /// byte is qdtext or a quoted-pair's second byte.
    private static func skipQuotedString(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>)
        throws(HTTPParseError) -> Int
    {
        var index = range.lowerBound + 1
        while index < range.upperBound {
            switch bytes[index] {
            case UInt8(ascii: "\""): return index + 1
            case UInt8(ascii: "\\"): index += 2
            default: index += 1
            }
        }
        throw .badRequest("unterminated quoted string in chunk extension")
    }

    /// Reads the CRLF that must follow a chunk's data; false when it has not fully arrived.
    mutating func parseChunkDataEnd(_ bytes: UnsafeBufferPointer<UInt8>) throws(HTTPParseError) -> Bool {
        let start = pending
        let available = bytes.count - start
        if available >= 1 && bytes[start] != Byte.cr { throw .badRequest("missing CRLF after chunk data") }
        if available < 2 { return false }
        guard bytes[start + 1] == Byte.lf else { throw .badRequest("missing CRLF after chunk data") }
        pending = start + 2
        phase = .chunkSize
        return true
    }

    /// Reads trailer field lines until the empty line; true when the request is complete.
    mutating func parseTrailerLines(_ bytes: UnsafeBufferPointer<UInt8>) throws(HTTPParseError) -> Bool {
        while true {
            let lineStart = pending
            guard
                let cr = try findLineEnd(
                    bytes, lineStart: lineStart, maxLineBytes: limits.maxTrailerBytes - trailerBytes,
                    tooLong: .init(status: 431, reason: "trailer section too large"))
            else { return false }
            pending = cr + 2
            trailerBytes += cr + 2 - lineStart
            if cr == lineStart { return true }

            trailerCount += 1
            guard trailerCount <= limits.maxHeaderCount else {
                throw .init(status: 431, reason: "too many trailer fields")
            }
            guard !Byte.isWhitespace(bytes[lineStart]) else { throw .badRequest("obsolete line folding in trailer") }
            var colon = lineStart
            while colon < cr && bytes[colon] != Byte.colon { colon += 1 }
            guard colon < cr, Self.isToken(bytes, lineStart..<colon) else {
                throw .badRequest("invalid trailer field")
            }
        }
    }
}
