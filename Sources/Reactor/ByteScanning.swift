/// Scanning protocol bytes eight at a time: the request and response parsers both check every
/// byte of a head for control characters, and a word-at-a-time test does that at about one
/// instruction per byte instead of five.
public enum ByteScanning {
    /// Whether any of the 8 bytes is below 0x20 or is 0x7F (exact as to "any", per the classic
    /// has-less-than / has-zero-byte bit tricks; bytes >= 0x80 are never flagged).
    @inlinable @inline(__always)
    public static func wordHasControlByte(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let below20 = (word &- ones &* 0x20) & ~word & highs
        let del = word ^ (ones &* 0x7F)
        let isDel = (del &- ones) & ~del & highs
        return below20 | isDel != 0
    }

    /// The index of the first control byte (below 0x20 or 0x7F) other than HTAB in
    /// `bytes[start...]`, or nil: the test a field value must pass (RFC 9110 §5.5).
    @inlinable
    public static func firstControlByte(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard let base = bytes.baseAddress else { return nil }
        var index = start
        let end = bytes.count
        while index < end {
            if index &+ 8 <= end && !wordHasControlByte(base.loadUnaligned(fromByteOffset: index, as: UInt64.self)) {
                index &+= 8
                continue
            }
            let byte = base.load(fromByteOffset: index, as: UInt8.self)
            if (byte < 0x20 && byte != 0x09) || byte == 0x7F { return index }
            index &+= 1
        }
        return nil
    }
}
