/// Appending text to a byte buffer in one copy. `append(contentsOf: text.utf8)` goes through the
/// generic Sequence path (about 170 instructions per call, even for a two-byte literal), and
/// the wire-format writers (response heads, upstream requests) make a dozen such calls per
/// request.
extension Array where Element == UInt8 {
    /// Appends the literal's UTF-8 bytes (a memcpy).
    @inlinable
    public mutating func appendUTF8(_ literal: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Appends the string's UTF-8 bytes (a memcpy for native strings).
    @inlinable
    public mutating func appendUTF8(_ text: String) {
        var text = text
        text.withUTF8 { append(contentsOf: $0) }
    }

    /// Appends `value` in decimal, digits written from a stack buffer (no String, no array).
    /// The one integer formatter of the wire writers (response heads, upstream requests, RESP).
    @inlinable
    public mutating func appendDecimal(_ value: Int) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var magnitude = value.magnitude
            var at = 20
            repeat {
                at -= 1
                digits[at] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 {
                at -= 1
                digits[at] = UInt8(ascii: "-")
            }
            append(contentsOf: UnsafeBufferPointer(rebasing: digits[at...]))
        }
    }

    /// How many bytes `appendDecimal(value)` writes.
    @inlinable
    public static func decimalCount(_ value: Int) -> Int {
        var magnitude = value.magnitude
        var count = value < 0 ? 2 : 1
        while magnitude >= 10 {
            magnitude /= 10
            count += 1
        }
        return count
    }
}
