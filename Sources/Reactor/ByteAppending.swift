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
    /// The wire writers' one integer format (response heads, upstream requests, RESP).
    @inlinable
    public mutating func appendDecimal(_ value: Int) {
        ByteWriter.withDecimal(value) { append(contentsOf: $0) }
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

/// Writes bytes into memory reserved up front: a bounds check and a memcpy per piece, where
/// `Array.append(contentsOf:)` costs about 90 instructions per call. The wire writers (response
/// heads, upstream requests) build each message this way, in one allocation. Only exists inside
/// `[UInt8](capacity:writing:)`; writing past the capacity traps.
public struct ByteWriter {
    @usableFromInline var cursor: UnsafeMutablePointer<UInt8>?
    @usableFromInline let end: UnsafeMutablePointer<UInt8>?

    @inlinable
    init(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
        start = buffer.baseAddress
        cursor = buffer.baseAddress
        end = buffer.baseAddress.map { $0 + buffer.count }
    }

    @usableFromInline let start: UnsafeMutablePointer<UInt8>?

    /// Bytes written so far.
    @inlinable
    public var count: Int {
        guard let cursor, let start else { return 0 }
        return cursor - start
    }

    @inlinable
    public mutating func write(_ source: UnsafeRawBufferPointer) {
        guard source.count > 0 else { return }
        guard let at = cursor, let end, source.count <= end - at else { preconditionFailure("ByteWriter: past its capacity") }
        UnsafeMutableRawPointer(at).copyMemory(from: source.baseAddress!, byteCount: source.count)
        cursor = at + source.count
    }

    @inlinable
    public mutating func write(_ byte: UInt8) {
        guard let at = cursor, let end, at < end else { preconditionFailure("ByteWriter: past its capacity") }
        at.initialize(to: byte)
        cursor = at + 1
    }

    @inlinable
    public mutating func write(_ literal: StaticString) {
        write(UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// The string's UTF-8 bytes (a memcpy for native strings).
    @inlinable
    public mutating func write(_ text: String) {
        if text.utf8.withContiguousStorageIfAvailable({ write(UnsafeRawBufferPointer($0)) }) != nil { return }
        var text = text
        text.withUTF8 { write(UnsafeRawBufferPointer($0)) }
    }

    @inlinable
    public mutating func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    @inlinable
    public mutating func write(_ bytes: ArraySlice<UInt8>) {
        bytes.withUnsafeBytes { write($0) }
    }

    /// `value` in decimal (at most 20 bytes).
    @inlinable
    public mutating func writeDecimal(_ value: Int) {
        Self.withDecimal(value) { write(UnsafeRawBufferPointer($0)) }
    }

    /// Calls `body` with `value`'s decimal digits, formatted in a stack buffer.
    @inlinable
    public static func withDecimal<R>(_ value: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
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
            return body(UnsafeBufferPointer(rebasing: digits[at...]))
        }
    }
}

extension Array where Element == UInt8 {
    /// A new array of at most `capacity` bytes, written in order by `body`.
    @inlinable
    public init(capacity: Int, writing body: (inout ByteWriter) -> Void) {
        self.init(unsafeUninitializedCapacity: capacity) { buffer, count in
            var writer = ByteWriter(buffer)
            body(&writer)
            count = writer.count
        }
    }
}
