import Glibc

/// How a response body is delimited (RFC 9112 §6.3), decided once from the head.
enum HTTP1BodyFraming: Equatable, Sendable {
    /// 1xx, 204, 304, or an answer to HEAD.
    case none
    case length(Int)
    case chunked
    /// No Content-Length and no chunked coding: the body ends when the peer closes.
    case untilClose
}

/// A response head with the framing and connection facts already decided.
struct HTTP1ResponseHead: Sendable {
    var status: Int
    /// Only the headers `UpstreamResponseHeaders.isKept` names, lowercased.
    var headers: [(String, String)]
    /// True when the connection may carry another request once this body was read to its end.
    var keepAlive: Bool
    var framing: HTTP1BodyFraming
}

/// Why a response could not be parsed; the connection is closed and the transfer fails.
struct HTTP1ParseError: Error, Sendable, Equatable {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}

/// Strict, incremental HTTP/1.1 response parser over caller-owned bytes; no I/O, no copies of
/// the body. Each `parse` call looks at the caller's unconsumed bytes and returns at most one
/// event and how many leading bytes the caller may drop; on `(nil, n)` the caller keeps the
/// rest and calls again with it extended by new data. Interim 1xx answers are skipped. A value
/// owned by one transfer, used on its reactor thread only.
struct HTTP1ResponseParser: Sendable {
    enum Event: Sendable {
        case head(HTTP1ResponseHead)
        /// Body bytes (de-chunked) at this range of the buffer passed to the call.
        case body(Range<Int>)
        /// The response is complete; no byte after it belongs to it.
        case end
    }

    enum Phase: Sendable, Equatable {
        case statusLine
        case headerLines
        /// The head said there is no body (or a Content-Length body was read): `.end` is next.
        case endPending
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        case complete
    }

    static let maxHeadBytes = 64 * 1024
    static let maxHeaderCount = 128
    static let maxChunkLineBytes = 4096
    static let maxTrailerBytes = 16 * 1024
    static let maxChunkSizeDigits = 16

    /// False for an answer to HEAD: no body whatever the head says.
    let expectsBody: Bool
    var phase = Phase.statusLine
    /// Bytes of the current, incomplete line already searched for its LF (from the line start).
    var lineScanned = 0
    var headBytes = 0
    var trailerBytes = 0
    var head = HeadInProgress()
    /// The connection's last field lines (see `ResponseLineMemo`), lent by the transfer.
    var memo = ResponseLineMemo()

    init(expectsBody: Bool = true) {
        self.expectsBody = expectsBody
    }

    /// True once any byte of a response was parsed.
    var hasStarted: Bool { phase != .statusLine || headBytes > 0 || lineScanned > 0 }

    var isComplete: Bool { phase == .complete }

    /// The peer closed the connection: true when that ends the body cleanly (close-delimited).
    mutating func peerClosed() -> Bool {
        if phase == .untilClose {
            phase = .complete
            return true
        }
        return phase == .complete
    }

    mutating func parse(_ bytes: UnsafeRawBufferPointer) throws(HTTP1ParseError) -> (event: Event?, consumed: Int) {
        var index = 0
        while true {
            switch phase {
            case .statusLine, .headerLines:
                guard let line = try nextLine(bytes, from: index, limit: Self.maxHeadBytes - headBytes, what: "response head") else {
                    return (nil, index)
                }
                headBytes += line.next - index
                index = line.next
                if phase == .statusLine {
                    try parseStatusLine(UnsafeRawBufferPointer(rebasing: bytes[line.content]))
                    phase = .headerLines
                } else if line.content.isEmpty {
                    if let finished = try finishHead() { return (.head(finished), index) }
                } else {
                    try parseHeaderLine(UnsafeRawBufferPointer(rebasing: bytes[line.content]))
                }
            case .endPending:
                phase = .complete
                return (.end, index)
            case .fixedBody(let remaining):
                let take = min(remaining, bytes.count - index)
                guard take > 0 else { return (nil, index) }
                phase = take == remaining ? .endPending : .fixedBody(remaining: remaining - take)
                return (.body(index..<(index + take)), index + take)
            case .chunkData(let remaining):
                let take = min(remaining, bytes.count - index)
                guard take > 0 else { return (nil, index) }
                phase = take == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - take)
                return (.body(index..<(index + take)), index + take)
            case .chunkDataEnd:
                guard bytes.count - index >= 1 else { return (nil, index) }
                if bytes[index] == Byte.lf {
                    index += 1
                } else {
                    guard bytes[index] == Byte.cr else { throw HTTP1ParseError("missing CRLF after chunk data") }
                    guard bytes.count - index >= 2 else { return (nil, index) }
                    guard bytes[index + 1] == Byte.lf else { throw HTTP1ParseError("missing CRLF after chunk data") }
                    index += 2
                }
                phase = .chunkSize
            case .chunkSize:
                guard let line = try nextLine(bytes, from: index, limit: Self.maxChunkLineBytes, what: "chunk size line") else {
                    return (nil, index)
                }
                index = line.next
                let size = try Self.chunkSize(UnsafeRawBufferPointer(rebasing: bytes[line.content]))
                phase = size == 0 ? .trailers : .chunkData(remaining: size)
            case .trailers:
                guard let line = try nextLine(bytes, from: index, limit: Self.maxTrailerBytes - trailerBytes, what: "trailer section") else {
                    return (nil, index)
                }
                trailerBytes += line.next - index
                index = line.next
                if line.content.isEmpty {
                    phase = .complete
                    return (.end, index)
                }
                try Self.validateFieldLine(UnsafeRawBufferPointer(rebasing: bytes[line.content]))
            case .untilClose:
                guard bytes.count > index else { return (nil, index) }
                return (.body(index..<bytes.count), bytes.count)
            case .complete:
                return (nil, index)
            }
        }
    }

    /// The next complete line at `start` (content without its CR LF or bare LF), or nil when its
    /// end has not arrived. Resumes the search where the previous call stopped.
    private mutating func nextLine(_ bytes: UnsafeRawBufferPointer, from start: Int, limit: Int, what: String)
        throws(HTTP1ParseError) -> (content: Range<Int>, next: Int)?
    {
        let from = start + lineScanned
        let end = bytes.count
        // memchr: the line end is found 16-32 bytes at a time.
        var i = end
        if from < end, let base = bytes.baseAddress, let found = memchr(base + from, Int32(Byte.lf), end - from) {
            i = UnsafeRawPointer(found) - base
        }
        guard i < end else {
            lineScanned = end - start
            if lineScanned > limit { throw HTTP1ParseError("\(what) too large") }
            return nil
        }
        lineScanned = 0
        if i + 1 - start > limit { throw HTTP1ParseError("\(what) too large") }
        let contentEnd = i > start && bytes[i - 1] == Byte.cr ? i - 1 : i
        return (start..<contentEnd, i + 1)
    }

    /// `1*16HEXDIG [ BWS ";" extensions ]`; extensions are ignored but may hold no control bytes.
    static func chunkSize(_ line: UnsafeRawBufferPointer) throws(HTTP1ParseError) -> Int {
        var size = 0
        var index = 0
        while index < line.count, let digit = Byte.hexValue(line[index]) {
            guard index < maxChunkSizeDigits else { throw HTTP1ParseError("chunk size too long") }
            size = size << 4 | digit
            index += 1
        }
        guard index > 0 else { throw HTTP1ParseError("invalid chunk size") }
        while index < line.count && Byte.isWhitespace(line[index]) { index += 1 }
        if index < line.count {
            guard line[index] == UInt8(ascii: ";") else { throw HTTP1ParseError("invalid chunk size") }
            for byte in line[index...] where Byte.isControl(byte) { throw HTTP1ParseError("invalid chunk extension") }
        }
        guard size <= Int.max >> 1 else { throw HTTP1ParseError("chunk size overflows") }
        return size
    }
}

/// Byte classes of RFC 9110 §5.6.
enum Byte {
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let colon = UInt8(ascii: ":")

    @inline(__always) static func isWhitespace(_ b: UInt8) -> Bool { b == space || b == tab }

    /// CTLs other than HTAB (which field values may hold).
    @inline(__always) static func isControl(_ b: UInt8) -> Bool { (b < 0x20 && b != tab) || b == 0x7F }

    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    static func hexValue(_ b: UInt8) -> Int? {
        switch b {
        case 0x30...0x39: Int(b - 0x30)
        case 0x41...0x46: Int(b - 0x41 + 10)
        case 0x61...0x66: Int(b - 0x61 + 10)
        default: nil
        }
    }

    /// tchar: "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    static func isToken(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: true
        default: false
        }
    }
}
