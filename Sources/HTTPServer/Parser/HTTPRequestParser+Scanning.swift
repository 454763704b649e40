import Glibc
import HTTPTypes
import Reactor

// Byte-level helpers of the request parser: finding line ends eight bytes at a time, and the
// character classes of RFC 9110 §5.6. Pure functions over caller-owned bytes; no allocation.

extension HTTPRequestParser {
    /// Byte constants and character classes, nested so they cannot clash with other files' helpers.
    enum Byte {
        static let cr: UInt8 = 0x0D
        static let lf: UInt8 = 0x0A
        static let space: UInt8 = 0x20
        static let tab: UInt8 = 0x09
        static let colon: UInt8 = 0x3A
        static let comma: UInt8 = 0x2C
        static let semicolon: UInt8 = 0x3B

        /// tchar of RFC 9110 §5.6.2, as a 128-bit mask (bit n set = byte n is a tchar).
        static func isToken(_ byte: UInt8) -> Bool {
            if byte < 64 { return (0x03FF_6CFA_0000_0000 as UInt64) >> byte & 1 == 1 }
            if byte < 128 { return (0x57FF_FFFF_C7FF_FFFE as UInt64) >> (byte - 64) & 1 == 1 }
            return false
        }

        static func isWhitespace(_ byte: UInt8) -> Bool { byte == space || byte == tab }

        static func lowercased(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }

        static func decimalValue(_ byte: UInt8) -> Int? { byte >= 0x30 && byte <= 0x39 ? Int(byte &- 0x30) : nil }

        static func hexValue(_ byte: UInt8) -> Int? {
            switch byte {
            case 0x30...0x39: return Int(byte &- 0x30)
            case 0x41...0x46: return Int(byte &- 0x37)
            case 0x61...0x66: return Int(byte &- 0x57)
            default: return nil
            }
        }
    }
}

extension HTTPRequestParser {
    /// Whether `bytes` from `start` hold the line `kept` (accepted before, so it holds no CR, LF
    /// or other control byte) followed by CRLF: that line is then found without scanning for its
    /// end, since its end is where the scan would stop. An empty `kept` (a line too long to
    /// keep) never repeats.
    static func repeatsLine(_ kept: [UInt8], _ bytes: UnsafeBufferPointer<UInt8>, at start: Int) -> Bool {
        kept.withUnsafeBytes { kept in
            let count = kept.count
            return count > 0 && count &+ 2 <= bytes.count &- start && bytes[start &+ count] == Byte.cr
                && bytes[start &+ count &+ 1] == Byte.lf && memcmp(kept.baseAddress!, bytes.baseAddress! + start, count) == 0
        }
    }

    /// Finds the end of the line that starts at `lineStart`: returns the index of its CR (the line's
    /// content is `lineStart..<cr`, the next line starts at `cr + 2`), or nil when the line is not
    /// complete yet. A line holds no control characters other than HTAB, so callers need not check
    /// again: bare CR, bare LF (strict, RFC 9112 §2.2 allows rejecting them) and NUL/CTL/DEL all
    /// throw 400. A line longer than `maxLineBytes` (CRLF included) throws `tooLong` without
    /// reading past the limit. Resumes at `scanned` so a line fed byte by byte is scanned once.
    mutating func findLineEnd(
        _ bytes: UnsafeBufferPointer<UInt8>, lineStart: Int, maxLineBytes: Int, tooLong: HTTPParseError
    ) throws(HTTPParseError) -> Int? {
        let capped = bytes.count - lineStart > maxLineBytes
        let end = capped ? lineStart + max(maxLineBytes, 0) : bytes.count
        var index = max(scanned, lineStart)
        guard let base = bytes.baseAddress else { return nil }
        let raw = UnsafeRawPointer(base)
        while true {
            while index &+ 8 <= end
                && !ByteScanning.wordHasControlByte(raw.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            {
                index &+= 8
            }
            guard index < end else { break }
            let byte = base[index]
            if byte >= 0x20 && byte != 0x7F || byte == Byte.tab {
                index &+= 1
                continue
            }
            if byte == Byte.cr {
                if index + 1 < end {
                    guard base[index + 1] == Byte.lf else { throw .badRequest("bare CR") }
                    return index
                }
                scanned = index
                if capped { throw tooLong }
                return nil
            }
            if byte == Byte.lf { throw .badRequest("bare LF line ending") }
            throw .badRequest("control character in request")
        }
        scanned = end
        if capped { throw tooLong }
        return nil
    }

    static func isToken(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        if range.isEmpty { return false }
        for index in range where !Byte.isToken(bytes[index]) { return false }
        return true
    }

    /// ASCII case-insensitive comparison with a lowercase literal, eight bytes at a time (field
    /// names are matched against the known-name table on every line).
    static func equalsIgnoringCase(
        _ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ literal: StaticString
    ) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard range.count == count, let base = bytes.baseAddress else { return false }
        let text = UnsafeRawPointer(base + range.lowerBound)
        let chars = UnsafeRawPointer(literal.utf8Start)
        if count < 8 {
            for offset in 0..<count where Byte.lowercased(text.load(fromByteOffset: offset, as: UInt8.self))
                != chars.load(fromByteOffset: offset, as: UInt8.self)
            {
                return false
            }
            return true
        }
        var offset = 0
        while true {
            // The last word overlaps the one before it when the length is not a multiple of 8.
            let at = min(offset, count - 8)
            let word = text.loadUnaligned(fromByteOffset: at, as: UInt64.self)
            if lowercasedWord(word) != chars.loadUnaligned(fromByteOffset: at, as: UInt64.self) { return false }
            if at == count - 8 { return true }
            offset += 8
        }
    }

    /// ASCII `A`-`Z` lowered in all eight bytes at once; every other byte is left as it is.
    @inline(__always)
    static func lowercasedWord(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let low7 = word & ~highs
        let atLeastA = low7 &+ ones &* (0x80 - 0x41)  // high bit set where the byte is >= 'A'
        let aboveZ = low7 &+ ones &* (0x7F - 0x5A)  // high bit set where the byte is > 'Z'
        let upper = atLeastA & ~aboveZ & ~word & highs
        return word | upper >> 2
    }

    static func hasPrefixIgnoringCase(
        _ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ literal: StaticString
    ) -> Bool {
        let count = literal.utf8CodeUnitCount
        return range.count >= count && equalsIgnoringCase(bytes, range.lowerBound..<range.lowerBound + count, literal)
    }

    static func equals(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ literal: StaticString) -> Bool {
        guard range.count == literal.utf8CodeUnitCount else { return false }
        let chars = literal.utf8Start
        var offset = 0
        for index in range {
            if bytes[index] != chars[offset] { return false }
            offset += 1
        }
        return true
    }

    /// `range` without leading and trailing SP / HTAB (OWS).
    static func trimmingWhitespace(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Range<Int> {
        var low = range.lowerBound
        var high = range.upperBound
        while low < high && Byte.isWhitespace(bytes[low]) { low += 1 }
        while high > low && Byte.isWhitespace(bytes[high - 1]) { high -= 1 }
        return low..<high
    }
}

extension HTTPRequestParser {
    /// The elements of a comma-separated list field value (RFC 9110 §5.6.1), OWS trimmed; empty
    /// elements are returned too so callers decide whether to skip or reject them.
    struct ListElements: IteratorProtocol {
        let bytes: UnsafeBufferPointer<UInt8>
        var position: Int
        let end: Int
        var finished = false

        init(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) {
            self.bytes = bytes
            self.position = range.lowerBound
            self.end = range.upperBound
        }

        mutating func next() -> Range<Int>? {
            if finished { return nil }
            var comma = position
            while comma < end && bytes[comma] != Byte.comma { comma += 1 }
            let element = HTTPRequestParser.trimmingWhitespace(bytes, position..<comma)
            if comma == end { finished = true } else { position = comma + 1 }
            return element
        }
    }
}
