/// Why an upstream transfer failed; decides 502 vs 504 and whether a retry may help.
public enum TransferError: Error, Sendable, Equatable, CustomStringConvertible {
    case connect(String)
    case timeout(String)
    case io(String)
    case cancelled

    public var description: String {
        switch self {
        case .connect(let text), .timeout(let text), .io(let text): text
        case .cancelled: "the request was cancelled"
        }
    }
}

/// Timeouts of one upstream transfer (nanoseconds): connecting (name lookup included), the
/// response head after the transfer started, and the whole transfer, streaming included.
public struct UpstreamTimeouts: Sendable, Equatable {
    public var connect: UInt64
    public var firstByte: UInt64
    public var total: UInt64

    public init(connect: UInt64 = 5_000_000_000, firstByte: UInt64 = 60_000_000_000, total: UInt64 = 600_000_000_000) {
        self.connect = connect
        self.firstByte = firstByte
        self.total = total
    }
}

/// One upstream exchange on either transport: libcurl (https, HTTP/2) or the native HTTP/1.1
/// client (plain http). Both have the same contract: await `head()`, then `body()` or repeated
/// `next()` (pulling is the backpressure), or `response()` for head and body in one wait;
/// `cancel()` stops it and never returns its connection to a pool. Reactor-thread confined.
public enum UpstreamTransfer: Sendable {
    case curl(CurlTransfer)
    case native(HTTP1Transfer)

    public func head() async throws(TransferError) -> (status: Int, headers: [(String, String)]) {
        switch self {
        case .curl(let transfer): try await transfer.head()
        case .native(let transfer): try await transfer.head()
        }
    }

    @inline(__always)
    public func response() async throws(TransferError) -> (status: Int, headers: [(String, String)], body: [UInt8]) {
        switch self {
        case .curl(let transfer): try await transfer.response()
        case .native(let transfer): try await transfer.response()
        }
    }

    public func body() async throws(TransferError) -> [UInt8] {
        switch self {
        case .curl(let transfer): try await transfer.body()
        case .native(let transfer): try await transfer.body()
        }
    }

    public func next() async throws(TransferError) -> [UInt8]? {
        switch self {
        case .curl(let transfer): try await transfer.next()
        case .native(let transfer): try await transfer.next()
        }
    }

    public func cancel() {
        switch self {
        case .curl(let transfer): transfer.cancel()
        case .native(let transfer): transfer.cancel()
        }
    }
}

/// The response headers the gateway reads or relays (content type, retry hints, rate-limit
/// figures); both transports keep these and turn no other header into strings.
enum UpstreamResponseHeaders {
    static let kept: [[UInt8]] = ["content-type", "retry-after", "retry-after-ms"].map { Array($0.utf8) }
    static let keptPrefix = Array("x-ratelimit-".utf8)

    /// `name` as received (any case).
    static func isKept(_ name: UnsafeRawBufferPointer) -> Bool {
        for candidate in kept where equalsIgnoringCase(name, candidate[...]) { return true }
        return name.count > keptPrefix.count
            && equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: name[..<keptPrefix.count]), keptPrefix[...])
    }

    /// ASCII case-insensitive equality with a lowercase `b`.
    static func equalsIgnoringCase(_ a: UnsafeRawBufferPointer, _ b: ArraySlice<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        return b.withUnsafeBufferPointer { b in
            for index in 0..<b.count where a[index] | 0x20 != b[index] { return false }
            return true
        }
    }
}
