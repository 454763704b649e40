import Glibc
import Reactor

/// Serialises status lines and the `date` header without Foundation.
enum ResponseHead {
    static func reason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 417: "Expectation Failed"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Status \(status)"
        }
    }

    static func appendStatusLine(_ status: Int, to out: inout [UInt8]) {
        out.appendUTF8("HTTP/1.1 ")
        out.appendDecimal(status)
        out.append(0x20)
        out.appendUTF8(reason(status))
        out.appendUTF8("\r\n")
    }

    static func appendHex(_ value: Int, to out: inout [UInt8]) {
        let hex = ("0123456789abcdef" as StaticString).utf8Start  // no array per chunk
        var shift = (Int.bitWidth - value.leadingZeroBitCount + 3) / 4 * 4
        if shift == 0 { out.append(0x30); return }
        while shift > 0 {
            shift -= 4
            out.append(hex[(value >> shift) & 0xF])
        }
    }
}

/// The `date` header value, formatted at most once per second per worker.
final class DateCache: @unchecked Sendable {
    /// The wall-clock second `value` shows (as of the last `current()`).
    private(set) var second: Int = -1
    private(set) var value: [UInt8] = []

    /// An IMF-fixdate is always this long (`Sun, 06 Nov 1994 08:49:37 GMT`).
    static let valueLength = 29

    /// The date of this second; always `valueLength` bytes.
    func current() -> [UInt8] {
        let now = Int(coarseWallClockNanos() / 1_000_000_000)
        if now != second {
            second = now
            value = Self.format(now)
        }
        return value
    }

    private static func format(_ epoch: Int) -> [UInt8] {
        var t = time_t(epoch)
        var tm = Glibc.tm()
        gmtime_r(&t, &tm)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let text = "\(days[Int(tm.tm_wday)]), \(two(tm.tm_mday)) \(months[Int(tm.tm_mon)]) \(tm.tm_year + 1900) \(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec)) GMT"
        return Array(text.utf8)
    }
}
