/// Why a request body is not acceptable JSON: the byte offset where the scanner gave up and a
/// short reason ("unterminated string"). `description` joins them ("unterminated string at
/// byte 41") for the 400 answer. A plain value; safe to pass between threads.
public struct JSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Byte offset into the scanned buffer (the buffer's count when the input ended too early).
    public var offset: Int
    /// What was wrong, without the offset, e.g. "invalid escape".
    public var reason: String

    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "\(reason) at byte \(offset)" }
}

/// Strict RFC 8259 validation of a request body plus extraction of the top-level members the
/// gateway needs, in one pass over the bytes and without building an object graph.
/// Pure functions over caller-owned buffers; callable from any thread concurrently.
/// Nesting is limited to `maxDepth` containers (the top-level object counts as one).
public enum JSONScanner {
    /// The deepest nesting of objects and arrays a document may have, top level included.
    public static let maxDepth = 128

    /// Validates the whole document strictly (one value, valid escapes incl. surrogate pairs,
    /// valid UTF-8 and no control characters in strings, no trailing commas, no leading zeros,
    /// at most `maxDepth` levels, only whitespace around) and requires a top-level object.
    /// Duplicate top-level keys: the last one wins. The buffer is only read during the call.
    public static func scanRequest(_ bytes: UnsafeRawBufferPointer) throws(JSONSyntaxError) -> RequestFields {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            throw JSONSyntaxError(offset: 0, reason: "empty body")
        }
        var cursor = Cursor(base: base, end: bytes.count)
        cursor.skipWhitespace()
        guard cursor.position < cursor.end else {
            throw JSONSyntaxError(offset: cursor.position, reason: "empty body")
        }
        guard cursor.byte(cursor.position) == UInt8(ascii: "{") else {
            // A syntax error inside the value is the more useful answer; only a valid
            // non-object document is reported as "not an object".
            let valueStart = cursor.position
            try cursor.skipValue(enclosingDepth: 0)
            try cursor.expectEndOfDocument()
            throw JSONSyntaxError(offset: valueStart, reason: "top-level value is not an object")
        }
        let fields = try cursor.scanRequestObject()
        try cursor.expectEndOfDocument()
        return fields
    }

    /// Array convenience for `scanRequest(_: UnsafeRawBufferPointer)`.
    public static func scanRequest(_ bytes: [UInt8]) throws(JSONSyntaxError) -> RequestFields {
        let result: Result<RequestFields, JSONSyntaxError> = bytes.withUnsafeBytes { raw in
            do throws(JSONSyntaxError) {
                return .success(try scanRequest(raw))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Returns `bytes` with the token in `range` (a `RequestFields.modelValueRange` from scanning
    /// these same bytes) replaced by `newModel` as a correctly escaped JSON string. Every other
    /// byte is copied unchanged, so unknown fields reach the provider exactly as the client sent them.
    public static func replacingModel(in bytes: [UInt8], range: Range<Int>, with newModel: String) -> [UInt8] {
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count, "model range outside the body")
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count - range.count + newModel.utf8.count + 8)
        out.append(contentsOf: bytes[..<range.lowerBound])
        JSONWriter.appendString(newModel, to: &out)
        out.append(contentsOf: bytes[range.upperBound...])
        return out
    }
}
