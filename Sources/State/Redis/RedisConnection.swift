import CHiredis
import Glibc
import GatewayCore
import Reactor

/// One hiredis async connection driven by a worker's reactor: its socket on the same epoll,
/// connect timeout and command deadlines on the reactor's timers, reconnection with
/// exponential backoff and jitter. hiredis pipelines by itself: commands issued in one turn
/// leave in one write.
///
/// Reactor-thread confined. C callbacks only record and resume; hiredis may free its context
/// inside `redisAsyncHandleRead`, so the `cleanup` hook clears `context` and nothing touches it after.
final class RedisConnection: ReactorIOHandler, @unchecked Sendable {
    struct Options: Sendable {
        var endpoint: StateConfig.RedisEndpoint
        var connectTimeout: UInt64 = 1_000_000_000
        var commandTimeout: UInt64 = 250_000_000
        var backoffBase: UInt64 = 50_000_000
        var backoffCap: UInt64 = 5_000_000_000
        /// How long an idle, busy worker polls for a reply it awaits instead of sleeping (0: never).
        var busyPoll: UInt64 = 0
    }

    enum Phase: Equatable { case idle, connecting, ready, waitingToReconnect }

    let reactor: Reactor
    let options: Options
    let counters: RedisCounters
    private(set) var phase = Phase.idle
    private(set) var lastError: String?
    private var context: UnsafeMutablePointer<redisAsyncContext>?
    private var registeredFD: Int32 = -1
    private var wantRead = false
    private var wantWrite = false
    /// The events the reactor watches for `registeredFD` (changed only when they differ).
    private var registeredEvents: UInt32 = 0
    private var flushScheduled = false
    /// Commands issued since output was last written.
    private var unflushed = 0
    /// Issued commands after which output is written at once rather than at the end of the turn.
    /// Under load a worker's turn issues one admission per request it read; writing the first
    /// ones early lets Redis work on them while the worker is still on the rest, instead of the
    /// two taking turns (each idle while the other works on the whole batch).
    static let earlyFlush = 8
    private var flushing = false
    private var attempt = 0
    private var waitingForReady: [PendingCommand] = []
    /// Runs each time the connection becomes ready (subscriptions re-subscribe here).
    var onReady: (() -> Void)?
    private var closed = false
    private lazy var connectTimer = ReactorTimer { [unowned self] in self.connectTimedOut() }
    private lazy var reconnectTimer = ReactorTimer { [unowned self] in self.connect() }

    init(reactor: Reactor, options: Options, counters: RedisCounters) {
        self.reactor = reactor
        self.options = options
        self.counters = counters
        if options.busyPoll > 0 {
            reactor.execute { [weak self] in
                guard let self else { return }
                self.reactor.addBusyPoller(self)
            }
        }
    }

    // MARK: Commands

    /// Sends one command and waits for its reply, at most `commandTimeout`. While the
    /// connection is being (re)established the command waits for it within that deadline;
    /// when Redis is known to be down it fails at once with `.unavailable`.
    func send(_ command: RESPCommand) async throws(StoreError) -> StoreValue {
        if let refusal = refusal() { throw refusal }
        let pending = PendingCommand(command: command, deadline: monotonicNanos() &+ options.commandTimeout)
        let result: Result<StoreValue, StoreError> = await withUnsafeContinuation { continuation in
            pending.continuation = continuation
            enqueue(pending)
        }
        return try result.get()
    }

    /// Issues one command now, without waiting: it leaves ahead of anything issued after it on
    /// this connection, and `completion` runs on the reactor with its outcome (within the same
    /// deadline as `send`). For work whose answer nobody waits on (settlements).
    func start(_ command: RESPCommand, completion: @escaping (Result<StoreValue, StoreError>) -> Void) {
        if let refusal = refusal() {
            completion(.failure(refusal))
            return
        }
        let pending = PendingCommand(command: command, deadline: monotonicNanos() &+ options.commandTimeout)
        pending.completion = completion
        enqueue(pending)
    }

    /// Connects when idle; the error a new command fails with at once while Redis is known down.
    private func refusal() -> StoreError? {
        if phase == .idle { connect() }
        return phase == .waitingToReconnect ? .unavailable(lastError ?? "redis is reconnecting") : nil
    }

    /// Puts a command under its deadline and issues it, or holds it until the connection is ready.
    private func enqueue(_ pending: PendingCommand) {
        track(pending)
        if phase == .ready { issue(pending) } else { waitingForReady.append(pending) }
    }

    // MARK: Deadlines

    /// Every command under a deadline, oldest first. Deadlines are `commandTimeout` after the
    /// send, so they are in order too: one timer, armed for the oldest unfinished command,
    /// stands for all of them (a timer per command cost a heap insert, a removal and a
    /// `timerfd_settime` per command).
    private var deadlines: [PendingCommand] = []
    private var deadlinesHead = 0
    private lazy var deadlineTimer = ReactorTimer { [unowned self] in self.expireOverdue() }

    private func track(_ pending: PendingCommand) {
        deadlines.append(pending)
        if !deadlineTimer.isArmed { reactor.arm(deadlineTimer, at: pending.deadline) }
    }

    /// Drops finished commands from the front of `deadlines`.
    private func dropFinished() {
        while deadlinesHead < deadlines.count, deadlines[deadlinesHead].isFinished { deadlinesHead += 1 }
        if deadlinesHead == deadlines.count {
            deadlines.removeAll(keepingCapacity: true)
            deadlinesHead = 0
        } else if deadlinesHead >= 1024, deadlinesHead * 2 >= deadlines.count {
            deadlines.removeFirst(deadlinesHead)
            deadlinesHead = 0
        }
    }

    private func expireOverdue() {
        let now = monotonicNanos()
        dropFinished()
        while deadlinesHead < deadlines.count, deadlines[deadlinesHead].deadline <= now {
            let overdue = deadlines[deadlinesHead]
            deadlinesHead += 1
            if !overdue.isFinished {
                counters.timeouts.add(1, ordering: .relaxed)
                overdue.finish(.failure(.timeout))
            }
            dropFinished()
        }
        if deadlinesHead < deadlines.count { reactor.arm(deadlineTimer, at: deadlines[deadlinesHead].deadline) }
    }

    private func issue(_ pending: PendingCommand) {
        guard let context, !pending.isFinished else {
            pending.finish(.failure(.unavailable("not connected")))
            return
        }
        let privdata = Unmanaged.passRetained(pending).toOpaque()
        let rc = submit(pending.command, to: context, privdata: privdata) { ac, reply, privdata in
            let pending = Unmanaged<PendingCommand>.fromOpaque(privdata!).takeRetainedValue()
            pending.finish(RedisReply.decode(reply?.assumingMemoryBound(to: redisReply.self)))
        }
        if rc != REDIS_OK {
            Unmanaged<PendingCommand>.fromOpaque(privdata).release()
            pending.finish(.failure(.unavailable("redis refused the command (disconnecting)")))
            return
        }
        unflushed += 1
        if unflushed >= Self.earlyFlush, flushScheduled { flushOutput() }
    }

    /// Sends a command whose callback hiredis keeps for every reply (SUBSCRIBE); the caller
    /// owns `privdata`'s lifetime.
    func issueRaw(_ command: RESPCommand, privdata: UnsafeMutableRawPointer, callback: @escaping RedisCallback) {
        guard let context else { return }
        _ = submit(command, to: context, privdata: privdata, callback: callback)
    }

    typealias RedisCallback = @convention(c) (UnsafeMutablePointer<redisAsyncContext>?, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void

    /// Hands an encoded command to hiredis, which copies it into its output buffer before
    /// returning (and recognises SUBSCRIBE in it as it would in an argv).
    private func submit(_ command: RESPCommand, to context: UnsafeMutablePointer<redisAsyncContext>,
                        privdata: UnsafeMutableRawPointer, callback: @escaping RedisCallback) -> Int32 {
        command.bytes.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                redisAsyncFormattedCommand(context, callback, privdata, chars.baseAddress, command.wireCount)
            }
        }
    }

    /// Closes for good: no reconnection; commands in flight fail.
    func close() {
        closed = true
        reactor.disarm(reconnectTimer)
        reactor.disarm(connectTimer)
        reactor.disarm(deadlineTimer)
        if let context { redisAsyncFree(context) }
        if context != nil { contextFreed() }
        phase = .idle
    }

    // MARK: Connecting

    func connect() {
        guard !closed, context == nil, phase != .connecting else { return }
        phase = .connecting
        let ac: UnsafeMutablePointer<redisAsyncContext>?
        switch options.endpoint.address {
        case .tcp(let host, let port): ac = redisAsyncConnect(host, Int32(port))
        case .unix(let path): ac = redisAsyncConnectUnix(path)
        }
        guard let ac, sy_redis_err(ac) == 0 else {
            let message = ac.map { String(cString: sy_redis_errstr($0)) } ?? "out of memory"
            if let ac { redisAsyncFree(ac) }
            connectionLost(message)
            return
        }
        context = ac
        let me = Unmanaged.passUnretained(self).toOpaque()
        sy_redis_set_data(ac, me)
        sy_redis_attach(ac, me,
            { Unmanaged<RedisConnection>.fromOpaque($0!).takeUnretainedValue().setInterest(read: true) },
            { Unmanaged<RedisConnection>.fromOpaque($0!).takeUnretainedValue().setInterest(read: false) },
            { Unmanaged<RedisConnection>.fromOpaque($0!).takeUnretainedValue().setInterest(write: true) },
            { Unmanaged<RedisConnection>.fromOpaque($0!).takeUnretainedValue().setInterest(write: false) },
            { Unmanaged<RedisConnection>.fromOpaque($0!).takeUnretainedValue().contextFreed() })
        redisAsyncSetConnectCallback(ac) { ac, status in
            let me = Unmanaged<RedisConnection>.fromOpaque(sy_redis_data(ac!)!).takeUnretainedValue()
            me.connected(status == REDIS_OK, error: status == REDIS_OK ? nil : String(cString: sy_redis_errstr(ac!)))
        }
        redisAsyncSetDisconnectCallback(ac) { ac, status in
            let me = Unmanaged<RedisConnection>.fromOpaque(sy_redis_data(ac!)!).takeUnretainedValue()
            me.disconnected(error: status == REDIS_OK ? "closed" : String(cString: sy_redis_errstr(ac!)))
        }
        // A non-blocking connect completes on writability; hiredis asked for it before the hooks existed.
        setInterest(write: true)
        reactor.arm(connectTimer, after: options.connectTimeout)
    }

    private func connected(_ ok: Bool, error: String?) {
        reactor.disarm(connectTimer)
        guard ok else {
            // hiredis frees the context after this callback; `contextFreed` clears our pointer.
            lastError = error
            scheduleReconnect()
            return
        }
        if attempt > 0 { counters.reconnects.add(1, ordering: .relaxed) }
        attempt = 0
        lastError = nil
        phase = .ready
        handshake()
        onReady?()
        let waiting = waitingForReady
        waitingForReady.removeAll()
        for pending in waiting { issue(pending) }
    }

    /// AUTH and SELECT go first on the connection; replies are checked like any command's.
    private func handshake() {
        if let password = options.endpoint.password?.value {
            var auth = [Array("AUTH".utf8)]
            if let username = options.endpoint.username { auth.append(Array(username.utf8)) }
            auth.append(Array(password.utf8))
            issue(PendingCommand(command: RESPCommand(auth), onFailure: { [weak self] in self?.lastError = "AUTH failed: \($0)" }))
        }
        if options.endpoint.database != 0 {
            issue(PendingCommand(command: RESPCommand("SELECT", String(options.endpoint.database)),
                                 onFailure: { [weak self] in self?.lastError = "SELECT failed: \($0)" }))
        }
    }

    private func connectTimedOut() {
        guard phase == .connecting, let context else { return }
        lastError = "connect timed out after \(options.connectTimeout / 1_000_000) ms"
        redisAsyncFree(context)  // our own timer, not a hiredis callback: freeing here is allowed
        if self.context != nil { contextFreed() }
        scheduleReconnect()
    }

    private func disconnected(error: String) {
        lastError = error
        counters.errors.add(1, ordering: .relaxed)
        scheduleReconnect()
    }

    /// hiredis's cleanup hook: the context is being freed (pending callbacks already got NULL).
    private func contextFreed() {
        if registeredFD >= 0 { reactor.deregister(registeredFD) }
        registeredFD = -1
        registeredEvents = 0
        wantRead = false
        wantWrite = false
        context = nil
        if phase == .ready || phase == .connecting { scheduleReconnect() }
    }

    private func connectionLost(_ message: String) {
        lastError = message
        scheduleReconnect()
    }

    /// Exponential backoff with ±50 % jitter, capped. Commands waiting for the connection fail now.
    private func scheduleReconnect() {
        guard phase != .waitingToReconnect, !closed else { return }
        phase = .waitingToReconnect
        let waiting = waitingForReady
        waitingForReady.removeAll()
        for pending in waiting { pending.finish(.failure(.unavailable(lastError ?? "redis unavailable"))) }
        let exponent = min(attempt, 16)
        attempt += 1
        let base = min(options.backoffBase << UInt64(exponent), options.backoffCap)
        var generator = SystemRandomNumberGenerator()
        let delay = base / 2 + UInt64.random(in: 0...base, using: &generator)
        reactor.arm(reconnectTimer, after: delay)
        phase = .waitingToReconnect
    }

    func reconnectNow() {
        guard phase == .waitingToReconnect else { return }
        reactor.disarm(reconnectTimer)
        phase = .idle
        connect()
    }

    // MARK: Reactor events

    /// hiredis's event hooks. Once connected, a request to write does not wait for writability:
    /// the output is written at the end of this reactor turn (`runSoon`), which sends every
    /// command issued in the turn in one `write` and costs no `epoll_ctl` and no wakeup. Only
    /// when the socket is full (hiredis asks again while writing) is writability watched.
    private func setInterest(read: Bool? = nil, write: Bool? = nil) {
        if let read { wantRead = read }
        if let write {
            if write, phase == .ready, !flushing {
                if !flushScheduled {
                    flushScheduled = true
                    reactor.runSoon { [self] in
                        flushScheduled = false
                        flushOutput()
                    }
                }
            } else {
                wantWrite = write
            }
        }
        guard let context else { return }
        let fd = sy_redis_fd(context)
        let events = (wantRead ? Reactor.readable : 0) | (wantWrite ? Reactor.writable : 0)
        if registeredFD < 0 {
            registeredFD = fd
            registeredEvents = events
            try? reactor.register(fd, events: events, handler: self)
        } else if events != registeredEvents {
            registeredEvents = events
            try? reactor.modify(fd, events: events)
        }
    }

    private func flushOutput() {
        unflushed = 0
        guard let context else { return }
        flushing = true
        redisAsyncHandleWrite(context)  // may free the context (write error): not touched after
        flushing = false
    }

    func reactorEvent(_ events: UInt32) {
        if events & (Reactor.readable | Reactor.hangup) != 0, let context {
            redisAsyncHandleRead(context)
            dropFinished()  // the replies just read finished their commands
        }
        if events & Reactor.writable != 0, let context { redisAsyncHandleWrite(context) }
    }

    var health: StoreHealth {
        switch phase {
        case .ready: .ready
        case .connecting, .idle: .connecting
        case .waitingToReconnect: .unavailable(lastError ?? "reconnecting")
        }
    }
}

extension RedisConnection: ReactorBusyPoller {
    /// A reply from Redis takes tens of microseconds: the worker polls for it rather than sleep.
    var busyPollNanos: UInt64 { awaitsReply ? options.busyPoll : 0 }

    /// Whether a command sent to a connected server is still waiting for its reply (commands
    /// held while connecting wait for the connection, which takes longer than a poll).
    var awaitsReply: Bool {
        guard phase == .ready else { return false }
        dropFinished()
        return deadlinesHead < deadlines.count
    }
}
