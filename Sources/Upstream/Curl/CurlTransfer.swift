import CCurl
import Reactor

/// An outgoing HTTP request for curl.
public struct UpstreamHTTPRequest: Sendable {
    public var url: String
    public var method: String
    /// Header lines, prepared once per provider and shared by its transfers.
    public var headers: CurlHeaderList
    public var body: [UInt8]
    /// When true and the answer is 2xx, the body is delivered chunk by chunk (`next()`);
    /// otherwise it is collected whole (`body()`).
    public var streaming: Bool
    public var timeouts: UpstreamTimeouts

    public init(url: String, method: String = "POST", headers: CurlHeaderList, body: [UInt8], streaming: Bool, timeouts: UpstreamTimeouts) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.streaming = streaming
        self.timeouts = timeouts
    }
}

/// One curl easy transfer. The adapter awaits `head()`, then `body()` or repeated `next()`.
/// Pulling is the backpressure: past `maxQueued` unread bytes the write callback pauses the
/// transfer, and `next()` resumes it. Reactor-thread confined.
public final class CurlTransfer: PulledTransfer, @unchecked Sendable {
    let easy: UnsafeMutableRawPointer
    unowned let multi: CurlMulti
    /// Kept alive while curl may read it.
    private let headerList: CurlHeaderList
    private let streaming: Bool
    private let firstByteTimeout: UInt64

    public internal(set) var status = 0
    public internal(set) var responseHeaders: [(String, String)] = []
    var headComplete = false
    private var chunkMode = false
    var queued: [UInt8] = []
    private var paused = false
    var done = false
    var failure: TransferError?
    var headWaiter: UnsafeContinuation<Void, Never>?
    var dataWaiter: UnsafeContinuation<Void, Never>?
    private lazy var firstByteTimer = ReactorTimer { [unowned self] in
        self.fail(.timeout("no response within \(self.firstByteTimeout / 1_000_000) ms"))
    }

    static let maxQueued = 64 * 1024

    /// Creates and starts the transfer on `multi`. Reactor thread only, from task context
    /// (it drives curl directly, which a curl callback must never do).
    public init(_ request: UpstreamHTTPRequest, multi: CurlMulti) {
        self.multi = multi
        self.streaming = request.streaming
        self.firstByteTimeout = request.timeouts.firstByte
        self.headerList = request.headers
        let (easy, fresh) = multi.checkoutEasy()
        self.easy = easy
        configure(request, fresh: fresh)
        multi.reactor.arm(firstByteTimer, after: request.timeouts.firstByte)
        multi.add(self)
        multi.kick()
    }

    deinit { releaseEasy() }

    private var easyReleased = false
    /// Hands the easy handle back to the multi's pool (its buffers and settings are reused).
    func releaseEasy() {
        guard !easyReleased else { return }
        easyReleased = true
        multi.checkinEasy(easy)
    }

    /// Sets what differs per transfer; a handle from the pool keeps the constant options.
    private func configure(_ request: UpstreamHTTPRequest, fresh: Bool) {
        let me = Unmanaged.passUnretained(self).toOpaque()
        if fresh {
            _ = sy_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
            _ = sy_easy_setopt_long(easy, CURLOPT_TCP_NODELAY, 1)
            _ = sy_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
            _ = sy_easy_setopt_long(easy, CURLOPT_DNS_CACHE_TIMEOUT, 300)
            _ = sy_easy_setopt_str(easy, CURLOPT_ACCEPT_ENCODING, "")  // gzip/deflate/br as built, decoded by curl
            _ = sy_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, multi.options.http2 ? Int(CURL_HTTP_VERSION_2TLS) : Int(CURL_HTTP_VERSION_1_1))
            _ = sy_easy_setopt_write(easy, CURLOPT_WRITEFUNCTION) { data, size, count, userp in
                Unmanaged<CurlTransfer>.fromOpaque(userp!).takeUnretainedValue().received(data!, size * count)
            }
            _ = sy_easy_setopt_write(easy, CURLOPT_HEADERFUNCTION) { data, size, count, userp in
                Unmanaged<CurlTransfer>.fromOpaque(userp!).takeUnretainedValue().headerLine(data!, size * count)
            }
        }
        _ = sy_easy_setopt_str(easy, CURLOPT_URL, request.url)
        _ = sy_easy_setopt_ptr(easy, CURLOPT_PRIVATE, me)
        _ = sy_easy_setopt_ptr(easy, CURLOPT_WRITEDATA, me)
        _ = sy_easy_setopt_ptr(easy, CURLOPT_HEADERDATA, me)
        _ = sy_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(request.timeouts.connect / 1_000_000))
        _ = sy_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, Int(request.timeouts.total / 1_000_000))
        _ = sy_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList.list)
        if request.method == "POST" {
            _ = sy_easy_setopt_long(easy, CURLOPT_POST, 1)
            _ = sy_easy_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count))
            request.body.withUnsafeBytes { raw in
                _ = sy_easy_setopt_ptr(easy, CURLOPT_COPYPOSTFIELDS, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1))
            }
        } else {
            _ = sy_easy_setopt_long(easy, CURLOPT_HTTPGET, 1)
        }
        _ = sy_easy_setopt_ptr(easy, CURLOPT_CUSTOMREQUEST, request.method == "POST" || request.method == "GET" ? nil : request.method)
    }

    // MARK: Callbacks (record and resume only)

    private func headerLine(_ data: UnsafeMutablePointer<CChar>, _ length: Int) -> Int {
        let bytes = UnsafeRawBufferPointer(start: data, count: length)
        if length <= 2 {  // blank line ends a header block
            var code = 0
            _ = sy_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code)
            if code >= 200 || code == 0 {
                status = code
                completeHead()
            } else {
                responseHeaders.removeAll()  // an interim 1xx block
            }
            return length
        }
        if bytes.starts(with: "HTTP/".utf8) { responseHeaders.removeAll(); return length }
        if let colon = bytes.firstIndex(of: UInt8(ascii: ":")), UpstreamResponseHeaders.isKept(UnsafeRawBufferPointer(rebasing: bytes[..<colon])) {
            // Trim on bytes: "\r\n" is one Character in Swift, so String trimming would miss it.
            var start = colon + 1
            var end = bytes.count
            while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
            while end > start, bytes[end - 1] == 0x0D || bytes[end - 1] == 0x0A || bytes[end - 1] == 0x20 { end -= 1 }
            let name = String(decoding: bytes[..<colon], as: UTF8.self).lowercased()
            responseHeaders.append((name, String(decoding: bytes[start..<end], as: UTF8.self)))
        }
        return length
    }

    private func completeHead() {
        guard !headComplete else { return }
        headComplete = true
        multi.reactor.disarm(firstByteTimer)
        chunkMode = streaming && (200..<300).contains(status)
        resume(&headWaiter)
    }

    private func received(_ data: UnsafeMutablePointer<CChar>, _ length: Int) -> Int {
        if !headComplete {
            var code = 0
            _ = sy_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code)
            status = code
            completeHead()
        }
        if chunkMode && queued.count >= Self.maxQueued && dataWaiter == nil {
            paused = true
            return sy_curl_writefunc_pause()
        }
        queued.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
        if chunkMode { resume(&dataWaiter) }
        return length
    }

    func finished(_ result: CURLcode) {
        multi.reactor.disarm(firstByteTimer)
        if result != CURLE_OK {
            failure = Self.classify(result, headComplete: headComplete)
        } else if !headComplete {
            var code = 0
            _ = sy_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code)
            status = code
            headComplete = true
        }
        done = true
        resume(&headWaiter)
        resume(&dataWaiter)
    }

    static func classify(_ code: CURLcode, headComplete: Bool) -> TransferError {
        let text = String(cString: curl_easy_strerror(code))
        switch code {
        case CURLE_OPERATION_TIMEDOUT: return .timeout(text)
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_SSL_CONNECT_ERROR:
            return .connect(text)
        default: return .io(text)
        }
    }

    // MARK: Consumer side (`PulledTransfer`)

    var reactor: Reactor { multi.reactor }

    func resumeReading() {
        guard paused else { return }
        paused = false
        curl_easy_pause(easy, CURLPAUSE_CONT)  // may deliver data right here
        multi.poke()
    }

    /// Stops the transfer and releases its connection. Idempotent. Reactor thread only.
    public func cancel() {
        fail(.cancelled)
    }

    private func fail(_ error: TransferError) {
        guard !done else { return }
        multi.reactor.disarm(firstByteTimer)
        multi.remove(self)
        failure = error
        done = true
        resume(&headWaiter)
        resume(&dataWaiter)
    }
}
