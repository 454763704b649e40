import HTTPTypes

extension HTTPRequestParser {
    /// What a header field means to the parser: the five that decide framing and connection
    /// handling, or anything else (kept, not interpreted): a common name from the table below,
    /// or an extension (a name not in it, such as `X-Request-ID`), which the head reports.
    enum FieldRole: Sendable {
        case host, contentLength, transferEncoding, connection, expect, other, extensionName

        var decidesFraming: Bool { self != .other && self != .extensionName }
    }

    /// `Host` built once: HTTPTypes marks its `.host` unavailable (HTTP/2 calls it :authority).
    static let hostFieldName = HTTPField.Name("Host")!

    /// The common request field names, matched case-insensitively without building a String or
    /// validating a token. Every spelling of the five framing names lands here, so a name that is
    /// not in the table is always `.other`. The returned names carry canonical casing.
    static func knownFieldName(
        _ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>
    ) -> (HTTPField.Name, FieldRole)? {
        func matches(_ literal: StaticString) -> Bool { equalsIgnoringCase(bytes, range, literal) }
        switch range.count {
        case 4:
            if matches("host") { return (hostFieldName, .host) }
        case 6:
            if matches("accept") { return (.accept, .other) }
            if matches("expect") { return (.expect, .expect) }
            if matches("cookie") { return (.cookie, .other) }
            if matches("origin") { return (.origin, .other) }
        case 10:
            if matches("connection") { return (.connection, .connection) }
            if matches("user-agent") { return (.userAgent, .other) }
        case 12:
            if matches("content-type") { return (.contentType, .other) }
        case 13:
            if matches("authorization") { return (.authorization, .other) }
            if matches("cache-control") { return (.cacheControl, .other) }
        case 14:
            if matches("content-length") { return (.contentLength, .contentLength) }
        case 15:
            if matches("accept-encoding") { return (.acceptEncoding, .other) }
            if matches("accept-language") { return (.acceptLanguage, .other) }
        case 16:
            if matches("content-encoding") { return (.contentEncoding, .other) }
        case 17:
            if matches("transfer-encoding") { return (.transferEncoding, .transferEncoding) }
        default:
            break
        }
        return nil
    }

    /// Whether every byte is below 0x80, eight at a time.
    static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let raw = UnsafeRawPointer(base)
        var index = 0
        var seen: UInt64 = 0
        while index + 8 <= bytes.count {
            seen |= raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < bytes.count {
            seen |= UInt64(base[index])
            index += 1
        }
        return seen & 0x8080_8080_8080_8080 == 0
    }
}
