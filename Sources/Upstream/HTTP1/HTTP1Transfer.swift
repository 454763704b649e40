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

    // Deadlines (monotonic ns, 0 = not running). The first byte's (or the total's, when
    // sooner) is watched by the pool's `StartDeadlines`, with no timer of the transfer's own; a
    // connect, and a transfer still running when that one passes, get an exact timer, armed at
    // the earliest deadline left and moved only when one becomes earlier.
    var connectDeadline: UInt64 = 0
    var firstByteDeadline: UInt64
    let totalDeadline: UInt64
    /// Borrowed from the pool when first needed and handed back when the transfer ends.
    var deadlineSlot: TransferDeadline?
    /// Where `StartDeadlines` keeps this transfer's first deadline, until it passes or the
    /// transfer ends. The queues live as long as the pool.
    unowned(unsafe) var startQueue: StartDeadlines.Queue?
    var startEntry = 0

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
        // The reactor's turn time (never ahead of the clock these are checked against) is
        // fine for deadlines of whole seconds, and costs no clock read.
        let now = pool.reactor.turnTime
        let timeouts = request.timeouts
        firstByteDeadline = now &+ timeouts.firstByte
        totalDeadline = now &+ timeouts.total
        pool.activeTransfers += 1
        pool.startDeadlines.watch(self, span: min(timeouts.firstByte, timeouts.total), now: now)
        pool.lease(for: self)
    }

    deinit {
        // Dropped before its end (a stream nobody read to the end): the connection cannot be reused.
        guard !done else { return }
        endDeadlines()
        if let connection { pool.release(connection, reusable: false) }
    }

    var isFinished: Bool { done }

    var reactor: Reactor { pool.reactor }

    /// Stops the transfer and closes its connection. Idempotent. Reactor thread only.
    public func cancel() {
        fail(.cancelled)
    }

    // MARK: Deadlines

    /// Arms the exact timer at `deadline`, or moves it earlier when it is armed for later.
    func armDeadline(_ deadline: UInt64) {
        guard !done else { return }  // the slot went back to the pool
        let slot = deadlineSlot ?? pool.takeDeadline()
        if deadlineSlot == nil {
            slot.transfer = self
            deadlineSlot = slot
        }
        if !slot.timer.isArmed || deadline < slot.timer.deadline { pool.reactor.arm(slot.timer, at: deadline) }
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
            armDeadline(next)
        }
    }
}
