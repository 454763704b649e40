import Reactor

/// One request and its response over the native HTTP/1.1 client, with `CurlTransfer`'s
/// contract: await `head()`, then `body()` or repeated `next()`, or `response()` for both in
/// one wait. Pulling is the backpressure: past `maxQueued` unread bytes the socket is no longer
/// read, and `next()` resumes reading. `cancel()` closes the connection (it never goes back to
/// the pool). Deadlines: connect (name lookup included), first byte and total, from
/// `UpstreamTimeouts`. Reactor-thread confined; socket side in HTTP1Transfer+IO.swift.
public final class HTTP1Transfer: PulledTransfer, @unchecked Sendable {
    unowned let pool: HTTP1ConnectionPool
    let originPool: HTTP1OriginPool
    let request: HTTP1Request

    // Socket side (see +IO).
    var connection: HTTP1Connection?
    /// The connection came from the idle pool (so it may be stale).
    var reusedConnection = false
    /// The one fresh-connection retry was used.
    var retried = false
    /// Addresses to try if the connect in progress is refused.
    var fallbackAddresses: ArraySlice<SocketAddress> = []
    /// Request bytes the kernel accepted on the current connection.
    var sent = 0
    var parser = HTTP1ResponseParser()
    var keepAlive = false

    // Consumer side.
    public internal(set) var status = 0
    public internal(set) var responseHeaders: [(String, String)] = []
    var headComplete = false
    var chunkMode = false
    var queued: [UInt8] = []
    var paused = false
    var done = false
    var failure: TransferError?
    /// Unsafe rather than checked continuations: a checked one allocates a canary per wait,
    /// and `resume(_:)` below is the one place either is resumed, exactly once (it clears it).
    var headWaiter: UnsafeContinuation<Void, Never>?
    var dataWaiter: UnsafeContinuation<Void, Never>?

    // Deadlines (monotonic ns, 0 = not running). One timer, armed at the earliest of them and
    // moved only when a deadline becomes earlier: when it fires early it re-arms itself.
    var connectDeadline: UInt64 = 0
    var firstByteDeadline: UInt64
    let totalDeadline: UInt64
    /// Borrowed from the pool for the transfer's life and handed back when it ends.
    let deadlineSlot: TransferDeadline
    var deadlineTimer: ReactorTimer { deadlineSlot.timer }

    static let maxQueued = 64 * 1024

    /// Creates and starts the transfer on `pool` (the request leaves now when a connection is
    /// idle). Reactor thread only.
    public convenience init(_ request: HTTP1Request, pool: HTTP1ConnectionPool) {
        self.init(request, originPool: pool.originPool(request.origin), pool: pool)
    }

    init(_ request: HTTP1Request, originPool: HTTP1OriginPool, pool: HTTP1ConnectionPool) {
        self.pool = pool
        self.originPool = originPool
        self.request = request
        let now = monotonicNanos()
        firstByteDeadline = now &+ request.timeouts.firstByte
        totalDeadline = now &+ request.timeouts.total
        deadlineSlot = pool.takeDeadline()
        deadlineSlot.transfer = self
        pool.activeTransfers += 1
        pool.reactor.arm(deadlineTimer, at: min(firstByteDeadline, totalDeadline))
        pool.lease(for: self)
    }

    deinit {
        // Dropped before its end (a stream nobody read to the end): the connection cannot be reused.
        guard !done else { return }
        pool.activeTransfers -= 1
        pool.giveBack(deadlineSlot)
        if let connection { pool.release(connection, reusable: false) }
    }

    var isFinished: Bool { done }

    var reactor: Reactor { pool.reactor }

    /// Stops the transfer and closes its connection. Idempotent. Reactor thread only.
    public func cancel() {
        fail(.cancelled)
    }

    // MARK: Deadlines

    /// Moves the timer earlier when `deadline` is before what it is armed for.
    func armDeadline(_ deadline: UInt64) {
        guard !done else { return }  // the slot went back to the pool
        if !deadlineTimer.isArmed || deadline < deadlineTimer.deadline { pool.reactor.arm(deadlineTimer, at: deadline) }
    }

    func deadlineReached() {
        guard !done else { return }
        let now = monotonicNanos()
        let timeouts = request.timeouts
        if connectDeadline != 0 && now >= connectDeadline {
            fail(.timeout("connecting to \(originPool.origin) took longer than \(timeouts.connect / 1_000_000) ms"))
        } else if firstByteDeadline != 0 && now >= firstByteDeadline {
            fail(.timeout("no response within \(timeouts.firstByte / 1_000_000) ms"))
        } else if now >= totalDeadline {
            fail(.timeout("the transfer took longer than \(timeouts.total / 1_000_000) ms"))
        } else {
            var next = totalDeadline
            if connectDeadline != 0 { next = min(next, connectDeadline) }
            if firstByteDeadline != 0 { next = min(next, firstByteDeadline) }
            pool.reactor.arm(deadlineTimer, at: next)
        }
    }
}

/// A transfer's deadline timer, reused by the pool's transfers one after another. The timer is
/// armed only while `transfer` holds the slot (it is disarmed when handed back), so the
/// reference does not need to be counted. Reactor-thread confined.
final class TransferDeadline {
    unowned(unsafe) var transfer: HTTP1Transfer?
    private(set) lazy var timer = ReactorTimer { [unowned self] in self.transfer?.deadlineReached() }
}
