extension JSONScanner {
    /// The extent of a string token: `quote` is the opening quote's offset, `contentStart..<contentEnd`
    /// the raw (still escaped) bytes between the quotes. `hasEscapes == false` means the raw bytes
    /// are already the value, so decoding and key matching can skip the unescaper.
    struct StringToken {
        var quote: Int
        var contentStart: Int
        var contentEnd: Int
        var hasEscapes: Bool
    }
}

extension JSONScanner.Cursor {
    /// Validates a string starting at the `"` under the cursor and leaves the cursor after the
    /// closing quote. Plain ASCII is skipped a word at a time; escapes, control characters
    /// and non-ASCII bytes drop to the byte-wise checks.
    @inline(__always)
    mutating func scanString() throws(JSONSyntaxError) -> JSONScanner.StringToken {
        let quote = position
        var index = position &+ 1
        var hasEscapes = false
        while true {
            index = skipPlainASCII(from: index)
            guard index < end else {
                throw JSONSyntaxError(offset: quote, reason: "unterminated string")
            }
            let value = byte(index)
            if value == UInt8(ascii: "\"") {
                position = index &+ 1
                return JSONScanner.StringToken(
                    quote: quote, contentStart: quote &+ 1, contentEnd: index, hasEscapes: hasEscapes)
            } else if value == UInt8(ascii: "\\") {
                hasEscapes = true
                index = try skipEscape(at: index, stringStart: quote)
            } else if value < 0x20 {
                throw JSONSyntaxError(offset: index, reason: "unescaped control character in string")
            } else if value >= 0x80 {
                index = try skipUTF8Sequence(at: index)
            } else {
                index &+= 1
            }
        }
    }

    /// The offset of the first byte at or after `start` that is not plain string ASCII, or of
    /// some byte within the last 8 when all before it are plain (the caller goes byte-wise there).
    @inline(__always)
    func skipPlainASCII(from start: Int) -> Int {
        var index = start
        // Two words per round: message contents are long runs of plain ASCII.
        while end &- index >= 16 {
            let first = Self.attentionMask(UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index, as: UInt64.self)))
            let second = Self.attentionMask(
                UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index &+ 8, as: UInt64.self)))
            if first | second != 0 {
                return index &+ (first != 0 ? first.trailingZeroBitCount &>> 3 : 8 &+ second.trailingZeroBitCount &>> 3)
            }
            index &+= 16
        }
        if end &- index >= 8 {
            let attention = Self.attentionMask(UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index, as: UInt64.self)))
            return index &+ (attention != 0 ? attention.trailingZeroBitCount &>> 3 : 8)
        }
        return index
    }

    /// Flags (high bit of the byte) every byte of `word` that is `"`, `\\`, below 0x20 or above 0x7F.
    /// SWAR: for an ASCII byte, `x - 0x20` and `(x ^ c) - 1` borrow into the high bit exactly when
    /// `x < 0x20` or `x == c`; non-ASCII bytes are flagged by their own high bit. A borrow can only
    /// start at a flagged byte, so the lowest flag is exact (higher ones may be false positives).
    @inline(__always)
    static func attentionMask(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let belowSpace = word &- ones &* 0x20
        let quote = (word ^ (ones &* 0x22)) &- ones
        let backslash = (word ^ (ones &* 0x5C)) &- ones
        return (belowSpace | quote | backslash | word) & (ones &* 0x80)
    }

    /// Validates the escape at `index` (a backslash) and returns the offset after it. `\u` escapes
    /// must be four hex digits, and UTF-16 surrogates must come as a high-low pair (RFC 8259 §8.2
    /// leaves lone ones undefined; we refuse them so every accepted string is valid Unicode).
    @inline(__always)
    func skipEscape(at index: Int, stringStart: Int) throws(JSONSyntaxError) -> Int {
        guard end &- index >= 2 else {
            throw JSONSyntaxError(offset: stringStart, reason: "unterminated string")
        }
        switch byte(index &+ 1) {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
            UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return index &+ 2
        case UInt8(ascii: "u"):
            let unit = try hexQuad(at: index &+ 2, escapeStart: index, stringStart: stringStart)
            if unit & 0xFC00 == 0xDC00 {
                throw JSONSyntaxError(offset: index, reason: "unpaired UTF-16 surrogate in \\u escape")
            }
            guard unit & 0xFC00 == 0xD800 else { return index &+ 6 }
            guard end &- index >= 12, byte(index &+ 6) == UInt8(ascii: "\\"), byte(index &+ 7) == UInt8(ascii: "u"),
                try hexQuad(at: index &+ 8, escapeStart: index &+ 6, stringStart: stringStart) & 0xFC00 == 0xDC00
            else {
                throw JSONSyntaxError(offset: index, reason: "unpaired UTF-16 surrogate in \\u escape")
            }
            return index &+ 12
        default:
            throw JSONSyntaxError(offset: index, reason: "invalid escape")
        }
    }

    /// The value of four hex digits at `index`.
    @inline(__always)
    func hexQuad(at index: Int, escapeStart: Int, stringStart: Int) throws(JSONSyntaxError) -> UInt32 {
        guard end &- index >= 4 else {
            throw JSONSyntaxError(offset: stringStart, reason: "unterminated string")
        }
        var value: UInt32 = 0
        for offset in 0..<4 {
            guard let digit = Self.hexValue(byte(index &+ offset)) else {
                throw JSONSyntaxError(offset: escapeStart, reason: "invalid \\u escape")
            }
            value = value << 4 | digit
        }
        return value
    }

    @inline(__always)
    static func hexValue(_ value: UInt8) -> UInt32? {
        switch value {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(value &- UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(value &- UInt8(ascii: "a") &+ 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(value &- UInt8(ascii: "A") &+ 10)
        default: return nil
        }
    }

    /// Validates one multi-byte UTF-8 sequence at `index` per RFC 3629 (no overlong forms, no
    /// encoded surrogates, nothing above U+10FFFF) and returns the offset after it.
    @inline(__always)
    func skipUTF8Sequence(at index: Int) throws(JSONSyntaxError) -> Int {
        let lead = byte(index)
        var continuationCount = 0
        var secondLow: UInt8 = 0x80
        var secondHigh: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: continuationCount = 1
        case 0xE0: continuationCount = 2; secondLow = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: continuationCount = 2
        case 0xED: continuationCount = 2; secondHigh = 0x9F
        case 0xF0: continuationCount = 3; secondLow = 0x90
        case 0xF1...0xF3: continuationCount = 3
        case 0xF4: continuationCount = 3; secondHigh = 0x8F
        default: throw JSONSyntaxError(offset: index, reason: "invalid UTF-8 in string")
        }
        guard end &- index > continuationCount else {
            throw JSONSyntaxError(offset: index, reason: "invalid UTF-8 in string")
        }
        let second = byte(index &+ 1)
        guard second >= secondLow, second <= secondHigh else {
            throw JSONSyntaxError(offset: index, reason: "invalid UTF-8 in string")
        }
        var next = index &+ 2
        while next <= index &+ continuationCount {
            guard byte(next) & 0xC0 == 0x80 else {
                throw JSONSyntaxError(offset: index, reason: "invalid UTF-8 in string")
            }
            next &+= 1
        }
        return next
    }

    /// The unescaped value of an already validated string token. Unescaped strings are copied
    /// straight into the `String`; escaped ones are decoded in place into its storage.
    func decodeString(_ token: JSONScanner.StringToken) -> String {
        let rawCount = token.contentEnd &- token.contentStart
        let raw = UnsafeRawBufferPointer(start: base + token.contentStart, count: rawCount)
        guard token.hasEscapes else {
            return String(decoding: raw, as: UTF8.self)
        }
        // An escape never decodes to more bytes than it spells (\uXXXX is 6 bytes for at most 3).
        return String(unsafeUninitializedCapacity: rawCount) { storage in
            Self.unescape(raw, into: storage.baseAddress!)
        }
    }

    /// Writes the unescaped form of validated raw string content to `output`; returns the byte count.
    static func unescape(_ raw: UnsafeRawBufferPointer, into output: UnsafeMutablePointer<UInt8>) -> Int {
        var read = 0
        var written = 0
        let count = raw.count
        while read < count {
            let value = raw[read]
            guard value == UInt8(ascii: "\\") else {
                output[written] = value
                written &+= 1
                read &+= 1
                continue
            }
            let kind = raw[read &+ 1]
            read &+= 2
            let simple: UInt8
            switch kind {
            case UInt8(ascii: "b"): simple = 0x08
            case UInt8(ascii: "f"): simple = 0x0C
            case UInt8(ascii: "n"): simple = 0x0A
            case UInt8(ascii: "r"): simple = 0x0D
            case UInt8(ascii: "t"): simple = 0x09
            case UInt8(ascii: "u"):
                var scalar = hexQuadUnchecked(raw, at: read)
                read &+= 4
                if scalar & 0xFC00 == 0xD800 {
                    // Validation guaranteed the low half follows as "\uXXXX".
                    let low = hexQuadUnchecked(raw, at: read &+ 2)
                    read &+= 6
                    scalar = 0x10000 &+ ((scalar &- 0xD800) << 10) &+ (low &- 0xDC00)
                }
                written &+= encodeUTF8(scalar, into: output + written)
                continue
            default: simple = kind  // \" \\ \/
            }
            output[written] = simple
            written &+= 1
        }
        return written
    }

    @inline(__always)
    static func hexQuadUnchecked(_ raw: UnsafeRawBufferPointer, at index: Int) -> UInt32 {
        var value: UInt32 = 0
        for offset in 0..<4 { value = value << 4 | (hexValue(raw[index &+ offset]) ?? 0) }
        return value
    }

    @inline(__always)
    static func encodeUTF8(_ scalar: UInt32, into output: UnsafeMutablePointer<UInt8>) -> Int {
        switch scalar {
        case 0..<0x80:
            output[0] = UInt8(scalar)
            return 1
        case 0x80..<0x800:
            output[0] = UInt8(0xC0 | scalar >> 6)
            output[1] = UInt8(0x80 | scalar & 0x3F)
            return 2
        case 0x800..<0x10000:
            output[0] = UInt8(0xE0 | scalar >> 12)
            output[1] = UInt8(0x80 | scalar >> 6 & 0x3F)
            output[2] = UInt8(0x80 | scalar & 0x3F)
            return 3
        default:
            output[0] = UInt8(0xF0 | scalar >> 18)
            output[1] = UInt8(0x80 | scalar >> 12 & 0x3F)
            output[2] = UInt8(0x80 | scalar >> 6 & 0x3F)
            output[3] = UInt8(0x80 | scalar & 0x3F)
            return 4
        }
    }
}
