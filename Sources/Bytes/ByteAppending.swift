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

    /// Appends `value` in decimal, written by `ByteWriter.writeDecimal` (the one integer
    /// formatter of the wire writers) into a stack buffer: no String, no array.
    @inlinable
    public mutating func appendDecimal(_ value: Int) {
        appendWriting(maxCount: 20) { $0.writeDecimal(value) }
    }

    /// How many bytes `appendDecimal(value)` writes. A binary search over the powers of ten: at
    /// most five comparisons whatever the width (a linear scan took one per digit, 13 for the
    /// token counts the rate-limit headers carry).
    @inlinable
    public static func decimalCount(_ value: Int) -> Int {
        let m = value.magnitude
        let sign = value < 0 ? 1 : 0
        if m < 100_000_000 {
            if m < 10_000 { return sign &+ (m < 100 ? (m < 10 ? 1 : 2) : (m < 1_000 ? 3 : 4)) }
            return sign &+ (m < 1_000_000 ? (m < 100_000 ? 5 : 6) : (m < 10_000_000 ? 7 : 8))
        }
        if m < 10_000_000_000_000_000 {
            if m < 1_000_000_000_000 {
                return sign &+ (m < 10_000_000_000 ? (m < 1_000_000_000 ? 9 : 10) : (m < 100_000_000_000 ? 11 : 12))
            }
            return sign &+ (m < 100_000_000_000_000 ? (m < 10_000_000_000_000 ? 13 : 14) : (m < 1_000_000_000_000_000 ? 15 : 16))
        }
        return sign &+ (m < 1_000_000_000_000_000_000 ? (m < 100_000_000_000_000_000 ? 17 : 18) : (m < 10_000_000_000_000_000_000 ? 19 : 20))
    }
}

/// Writes bytes into memory reserved up front: a bounds check and a store (or a memcpy) per
/// piece, where each `Array.append(contentsOf:)` costs about 90 instructions of uniqueness and
/// capacity checks. The wire writers (response heads, upstream requests, RESP commands, header
/// lines) build each message this way, in one allocation. Only exists inside
/// `[UInt8](capacity:writing:)` or `appendWriting(maxCount:)`; writing past the capacity traps.
public struct ByteWriter {
    @usableFromInline let base: UnsafeMutablePointer<UInt8>?
    @usableFromInline let end: Int
    @usableFromInline var written = 0

    @inlinable
    init(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
        base = buffer.baseAddress
        end = buffer.count
    }

    /// Bytes written so far.
    @inlinable public var count: Int { written }

    /// Writes into `buffer` (which must have room for all of it) and returns how many bytes
    /// were written: for writers that own a scratch buffer and need no array.
    @inlinable
    public static func write(into buffer: UnsafeMutableBufferPointer<UInt8>, _ body: (inout ByteWriter) -> Void) -> Int {
        var writer = ByteWriter(buffer)
        body(&writer)
        return writer.count
    }

    /// Room for `n` more bytes, counted as written.
    @inlinable
    mutating func reserve(_ n: Int) -> UnsafeMutablePointer<UInt8> {
        guard n <= end &- written, let base else { preconditionFailure("ByteWriter: past its capacity") }
        defer { written &+= n }
        return base + written
    }

    @inlinable
    public mutating func write(_ byte: UInt8) {
        reserve(1).initialize(to: byte)
    }

    @inlinable @inline(__always)  // a bounds check and a memcpy: a call costs as much
    public mutating func write(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let start = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count).initialize(from: start, count: bytes.count)
    }

    @inlinable @inline(__always)  // a bounds check and a memcpy: a call costs as much
    public mutating func write(_ literal: StaticString) {
        write(UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// The string's UTF-8 bytes (a memcpy for native strings). Disfavoured, so a literal
    /// written here is taken as a `StaticString` (its bytes at hand, no string machinery).
    @inlinable @_disfavoredOverload
    public mutating func write(_ text: String) {
        if text.utf8.withContiguousStorageIfAvailable({ write($0) }) != nil { return }
        var text = text
        text.withUTF8 { write($0) }
    }

    @inlinable @inline(__always)  // a bounds check and a memcpy: a call costs as much
    public mutating func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { write($0) }
    }

    @inlinable
    public mutating func write(_ bytes: ArraySlice<UInt8>) {
        bytes.withUnsafeBufferPointer { write($0) }
    }

    /// Writes again what was written at `range` (a number that several lines repeat: a copy
    /// of its digits instead of another conversion).
    @inlinable
    public mutating func writeAgain(_ range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= written, "ByteWriter: only what was written")
        guard let base else { return }
        reserve(range.count).initialize(from: base + range.lowerBound, count: range.count)
    }

    /// `value` in decimal (`[UInt8].decimalCount(value)` bytes), digits written in place, two
    /// at a time from a table (half the divisions).
    @inlinable
    public mutating func writeDecimal(_ value: Int) {
        let n = [UInt8].decimalCount(value)
        let out = reserve(n)
        var magnitude = value.magnitude
        var at = n
        // "00" to "99": a literal, so its bytes are a constant of the binary.
        let digitPairs = ("""
            00010203040506070809\
            10111213141516171819\
            20212223242526272829\
            30313233343536373839\
            40414243444546474849\
            50515253545556575859\
            60616263646566676869\
            70717273747576777879\
            80818283848586878889\
            90919293949596979899
            """ as StaticString).utf8Start
        // `at` stays within 0...n (n digits, two per turn while at least two remain), so the
        // index arithmetic needs no overflow checks; each pair is one 2-byte load and store.
        let pairs = UnsafeRawPointer(digitPairs)
        let bytes = UnsafeMutableRawPointer(out)
        while magnitude >= 10 {
            let pair = Int(truncatingIfNeeded: magnitude % 100) &* 2
            magnitude /= 100
            at &-= 2
            bytes.storeBytes(of: pairs.loadUnaligned(fromByteOffset: pair, as: UInt16.self), toByteOffset: at, as: UInt16.self)
        }
        if at > (value < 0 ? 1 : 0) {
            at -= 1
            out[at] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude)
        }
        if value < 0 { out[0] = UInt8(ascii: "-") }
    }
}

extension Array where Element == UInt8 {
    /// A new array of at most `capacity` bytes, written in order by `body`. Up to a kilobyte
    /// (response heads, upstream requests, RESP commands) they are written on the stack and
    /// copied into an array reserved for them: `init(unsafeUninitializedCapacity:)` allocates
    /// through standard-library code that cannot be specialised, so every call looked up
    /// `_ContiguousArrayStorage<UInt8>`'s metadata at run time (about 530 instructions with the
    /// allocation, against about 250 for the reservation and the copy). Larger ones are still
    /// written in place, where a copy would cost more than the lookup.
    @inlinable
    public init(capacity: Int, writing body: (inout ByteWriter) -> Void) {
        if capacity <= Self.stackWritable {
            self.init()
            reserveCapacity(capacity)
            appendWriting(maxCount: capacity, body)
            return
        }
        self.init(unsafeUninitializedCapacity: capacity) { buffer, initialized in
            var writer = ByteWriter(buffer)
            body(&writer)
            initialized = writer.count
        }
    }

    /// What `withUnsafeTemporaryAllocation` keeps on the stack without asking the runtime.
    @usableFromInline static let stackWritable = 1_024

    /// Appends at most `maxCount` bytes written by `body`, in one copy from a temporary
    /// (stack, when small) buffer; with `spare`, the array then has room for that many bytes
    /// more (what a later writer appends in place instead of reallocating).
    @inlinable
    public mutating func appendWriting(maxCount: Int, spare: Int = 0, _ body: (inout ByteWriter) -> Void) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxCount) { buffer in
            var writer = ByteWriter(buffer)
            body(&writer)
            if spare > 0 { reserveCapacity(count + writer.count + spare) }
            append(contentsOf: UnsafeBufferPointer(rebasing: buffer[..<writer.count]))
        }
    }
}
