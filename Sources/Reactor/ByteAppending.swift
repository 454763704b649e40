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
}
