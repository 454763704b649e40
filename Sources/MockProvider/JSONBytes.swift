import GatewayCore

/// Appends JSON to a byte buffer without Foundation, because the mock server must build a small
/// reply in well under a microsecond. The caller writes structure (`{`, `,`, keys) as raw ASCII;
/// strings and numbers go through the gateway's one `JSONWriter`, so escaping is written once.
/// A value type with no shared state: build one per reply on whatever thread builds the reply.
struct JSONBytes {
    var bytes: [UInt8]

    init(reservingCapacity capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Appends trusted ASCII (punctuation, keys, literals) exactly as written.
    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Appends already-encoded bytes (a nested JSON value built elsewhere).
    mutating func raw(_ encoded: [UInt8]) {
        bytes.append(contentsOf: encoded)
    }

    /// Appends `value` as a quoted JSON string.
    mutating func string(_ value: String) {
        JSONWriter.appendString(value, to: &bytes)
    }

    /// Appends `value` as a quoted JSON string, or `null`.
    mutating func stringOrNull(_ value: String?) {
        if let value { string(value) } else { raw("null") }
    }

    /// Appends a quoted JSON string from UTF-8 bytes.
    mutating func string(utf8 value: UnsafeBufferPointer<UInt8>) {
        JSONWriter.appendString(utf8: UnsafeRawBufferPointer(value), to: &bytes)
    }

    mutating func int(_ value: Int) {
        JSONWriter.appendInt(value, to: &bytes)
    }

    /// Appends a Float in Swift's shortest round-trip form, which is valid JSON for finite values.
    mutating func float(_ value: Float) {
        guard value.isFinite else { return raw("0") }
        bytes.append(contentsOf: value.description.utf8)
    }

    mutating func bool(_ value: Bool) {
        if value { raw("true") } else { raw("false") }
    }
}

/// Standard base64 (RFC 4648, with padding), used for `encoding_format: "base64"` embeddings.
enum Base64Bytes {
    private static let alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func append(_ input: [UInt8], to output: inout [UInt8]) {
        output.reserveCapacity(output.count + (input.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= input.count {
            let chunk = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
            output.append(alphabet[Int(chunk >> 18 & 63)])
            output.append(alphabet[Int(chunk >> 12 & 63)])
            output.append(alphabet[Int(chunk >> 6 & 63)])
            output.append(alphabet[Int(chunk & 63)])
            index += 3
        }
        let remaining = input.count - index
        guard remaining > 0 else { return }
        let first = UInt32(input[index]) << 16
        let chunk = remaining == 2 ? first | UInt32(input[index + 1]) << 8 : first
        output.append(alphabet[Int(chunk >> 18 & 63)])
        output.append(alphabet[Int(chunk >> 12 & 63)])
        output.append(remaining == 2 ? alphabet[Int(chunk >> 6 & 63)] : UInt8(ascii: "="))
        output.append(UInt8(ascii: "="))
    }
}
