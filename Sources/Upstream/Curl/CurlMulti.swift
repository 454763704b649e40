import CCurl
import Reactor

/// One libcurl multi handle driven by a worker's reactor through curl's socket interface
/// (`CURLMOPT_SOCKETFUNCTION` / `CURLMOPT_TIMERFUNCTION` + `curl_multi_socket_action`).
/// Connections to a host are pooled and bounded; HTTP/2 is multiplexed where offered.
///
/// Reactor-thread confined. C callbacks only record (register a socket, arm a timer, buffer
/// bytes, resume a continuation); they never call back into curl or run gateway code.
public final class CurlMulti: @unchecked Sendable {
    public struct Options: Sendable {
        public var maxConnectionsPerHost: Int
        public var maxCachedConnections: Int
        public var http2: Bool

        public init(maxConnectionsPerHost: Int = 64, maxCachedConnections: Int = 256, http2: Bool = true) {
            self.maxConnectionsPerHost = maxConnectionsPerHost
            self.maxCachedConnections = maxCachedConnections
            self.http2 = http2
        }
    }

    let reactor: Reactor
    let options: Options
    let handle: UnsafeMutableRawPointer
    private var sockets: [Int32: CurlSocketWatcher] = [:]
    private lazy var timer = ReactorTimer { [unowned self] in self.socketAction(sy_curl_socket_timeout(), 0) }
    var active: [UnsafeMutableRawPointer: CurlTransfer] = [:]

    public init(reactor: Reactor, options: Options = .init()) {
        curlGlobalInitOnce
        self.reactor = reactor
        self.options = options
        handle = curl_multi_init()!
        let me = Unmanaged.passUnretained(self).toOpaque()
        _ = sy_multi_setopt_socketfn(handle) { _, socket, what, userp, _ in
            Unmanaged<CurlMulti>.fromOpaque(userp!).takeUnretainedValue().watch(socket, what)
            return 0
        }
        _ = sy_multi_setopt_ptr(handle, CURLMOPT_SOCKETDATA, me)
        _ = sy_multi_setopt_timerfn(handle) { _, timeoutMs, userp in
            Unmanaged<CurlMulti>.fromOpaque(userp!).takeUnretainedValue().scheduleTimeout(timeoutMs)
            return 0
        }
        _ = sy_multi_setopt_ptr(handle, CURLMOPT_TIMERDATA, me)
        _ = sy_multi_setopt_long(handle, CURLMOPT_MAX_HOST_CONNECTIONS, options.maxConnectionsPerHost)
        _ = sy_multi_setopt_long(handle, CURLMOPT_MAXCONNECTS, options.maxCachedConnections)
        _ = sy_multi_setopt_long(handle, CURLMOPT_PIPELINING, options.http2 ? 2 : 0)  // CURLPIPE_MULTIPLEX
    }

    deinit {
        for easy in active.keys { curl_multi_remove_handle(handle, easy) }
        active.removeAll()
        for easy in idleEasy { curl_easy_cleanup(easy) }
        curl_multi_cleanup(handle)
    }

    // MARK: Easy handle pool

    /// Finished easy handles, kept with their buffers and constant options: creating and
    /// configuring a fresh handle per request costs more than the transfer's own work.
    private var idleEasy: [UnsafeMutableRawPointer] = []
    static let maxIdleEasy = 256

    func checkoutEasy() -> (UnsafeMutableRawPointer, fresh: Bool) {
        if let easy = idleEasy.popLast() { return (easy, false) }
        return (curl_easy_init()!, true)
    }

    func checkinEasy(_ easy: UnsafeMutableRawPointer) {
        if idleEasy.count < Self.maxIdleEasy { idleEasy.append(easy) } else { curl_easy_cleanup(easy) }
    }

    /// Number of transfers in flight (for tests and leak checks).
    public var activeTransfers: Int { active.count }

    func add(_ transfer: CurlTransfer) {
        active[transfer.easy] = transfer
        curl_multi_add_handle(handle, transfer.easy)
    }

    func remove(_ transfer: CurlTransfer) {
        guard active.removeValue(forKey: transfer.easy) != nil else { return }
        curl_multi_remove_handle(handle, transfer.easy)
    }

    // MARK: Callbacks (record only)

    private func watch(_ socket: Int32, _ what: Int32) {
        if what == CURL_POLL_REMOVE {
            if sockets.removeValue(forKey: socket) != nil { reactor.deregister(socket) }
            return
        }
        var events: UInt32 = 0
        if what & CURL_POLL_IN != 0 { events |= Reactor.readable }
        if what & CURL_POLL_OUT != 0 { events |= Reactor.writable }
        if sockets[socket] != nil {
            try? reactor.modify(socket, events: events)
        } else {
            let watcher = CurlSocketWatcher(socket: socket, multi: self)
            sockets[socket] = watcher
            try? reactor.register(socket, events: events, handler: watcher)
        }
    }

    private func scheduleTimeout(_ timeoutMs: Int) {
        if timeoutMs < 0 {
            reactor.disarm(timer)
        } else if timeoutMs == 0 {
            // "Now": the next reactor turn, without programming a kernel timer. Never call curl
            // from its own timer callback.
            reactor.disarm(timer)
            poke()
        } else {
            reactor.arm(timer, after: UInt64(timeoutMs) * 1_000_000)
        }
    }

    // MARK: Driving

    func socketAction(_ socket: Int32, _ flags: Int32) {
        var running: Int32 = 0
        curl_multi_socket_action(handle, socket, flags, &running)
        collectFinished()
    }

    private func collectFinished() {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(handle, &remaining) {
            guard sy_curlmsg_is_done(message) != 0, let easy = sy_curlmsg_easy(message) else { continue }
            let result = sy_curlmsg_result(message)
            guard let transfer = active.removeValue(forKey: easy) else { continue }
            curl_multi_remove_handle(handle, easy)
            transfer.finished(result)
        }
    }

    private var pokePending = false

    /// Lets curl run its timeouts on the next reactor turn (after a handle is added, a pause
    /// lifted, or curl asked for "now"). Coalesced: one pass however often it is called.
    func poke() {
        guard !pokePending else { return }
        pokePending = true
        // Weak: a multi dropped in the meantime (a test's, at its end) has nothing left to run.
        reactor.runSoon { [weak self] in
            guard let self, self.pokePending else { return }  // a kick already ran it
            self.pokePending = false
            self.socketAction(sy_curl_socket_timeout(), 0)
        }
    }

    /// Runs curl's due work now. Only from task context (never from inside a curl callback):
    /// a new transfer's request leaves in the same reactor turn instead of the next one.
    func kick() {
        pokePending = false
        socketAction(sy_curl_socket_timeout(), 0)
    }
}

/// The reactor handler for one curl socket.
final class CurlSocketWatcher: ReactorIOHandler {
    let socket: Int32
    unowned let multi: CurlMulti

    init(socket: Int32, multi: CurlMulti) {
        self.socket = socket
        self.multi = multi
    }

    func reactorEvent(_ events: UInt32) {
        var flags: Int32 = 0
        if events & Reactor.readable != 0 { flags |= CURL_CSELECT_IN }
        if events & Reactor.writable != 0 { flags |= CURL_CSELECT_OUT }
        if events & Reactor.error != 0 { flags |= CURL_CSELECT_ERR }
        multi.socketAction(socket, flags)
    }
}

/// `curl_global_init` must run once before any other curl call, before threads exist ideally;
/// a lazy global initialiser is thread-safe in Swift.
let curlGlobalInitOnce: Void = {
    curl_global_init(Int(CURL_GLOBAL_DEFAULT))
}()
