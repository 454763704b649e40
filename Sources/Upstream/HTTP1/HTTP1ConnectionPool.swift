import Reactor

/// A worker's native HTTP/1.1 upstream client: keep-alive connections per origin, at most
/// `maxConnectionsPerHost` each; transfers beyond the bound wait, first come first served, for a
/// connection to be released. Idle connections are reused newest first, dropped when their
/// peer closes them, probed for that before reuse after 1 ms of idleness, and closed after
/// `maxIdleTime`. Reactor-thread confined: one per worker,
/// made and used on that worker's reactor.
public final class HTTP1ConnectionPool: @unchecked Sendable {
    public struct Options: Sendable, Equatable {
        public var maxConnectionsPerHost: Int
        /// An idle connection is closed after this long (ns).
        public var maxIdleTime: UInt64

        public init(maxConnectionsPerHost: Int = 64, maxIdleTime: UInt64 = 60_000_000_000) {
            self.maxConnectionsPerHost = max(1, maxConnectionsPerHost)
            self.maxIdleTime = maxIdleTime
        }
    }

    let reactor: Reactor
    public let options: Options
    let resolver: HostResolver
    private var origins: [HTTP1Origin: HTTP1OriginPool] = [:]
    /// One read buffer for the worker's connections: each read is parsed before the next read.
    /// Room for the longest unparsed remainder (a response head) plus a full read.
    let readBuffer: UnsafeMutableRawBufferPointer
    static let readSize = 64 * 1024
    /// Made on first use (and only then: deinit must not create one capturing a dying self).
    private var idleTimer: ReactorTimer?
    /// Deadline timers of ended transfers, for the next ones: a fresh timer per transfer is two
    /// allocations (the timer and its action's context). At most as many as ever ran at once.
    private var spareDeadlines: [TransferDeadline] = []
    /// Every transfer's first deadline, watched without a timer of its own.
    let startDeadlines: StartDeadlines

    /// Connections opened so far (for tests: reuse shows as few opens for many requests).
    public private(set) var connectionsOpened = 0
    /// Idle connections probed before reuse so far (for tests).
    public private(set) var probesMade = 0
    /// Transfers started and not finished (for tests and leak checks).
    public internal(set) var activeTransfers = 0
    /// An idle connection is probed for a closed peer before reuse once it has been idle this
    /// long (ns). The probe is a system call (about 0.5 µs here), and what it catches is a
    /// server's idle timeout that fired after the reactor's last epoll pass (a close before it
    /// was seen there). Those timeouts are seconds (gunicorn 2 s; uvicorn, Node and Apache 5 s;
    /// nginx 75 s), so a connection idle for less than 100 ms is not probed. At 1 ms, a loaded
    /// worker whose requests also wait for the rate limiter's store probed every other reuse.
    /// Tests set 0 (always probe) or `.max` (never: the send-time check behind it).
    var probeIdleAfter: UInt64 = 100_000_000

    public init(reactor: Reactor, options: Options = .init()) {
        self.reactor = reactor
        self.options = options
        self.resolver = HostResolver(reactor: reactor)
        self.startDeadlines = StartDeadlines(reactor: reactor)
        readBuffer = .allocate(byteCount: HTTP1ResponseParser.maxHeadBytes + Self.readSize, alignment: 16)
    }

    deinit {
        // Connections reach the reactor through their (unowned) pool, which is going away:
        // close them through ours.
        if let idleTimer { reactor.disarm(idleTimer) }
        for pool in origins.values {
            for connection in pool.idle { connection.closeSocket(on: reactor) }
            pool.idle.removeAll()
        }
        readBuffer.deallocate()
    }

    /// The connections to `origin` (made on first use). Adapters keep it, so a request costs
    /// no dictionary lookup.
    func originPool(_ origin: HTTP1Origin) -> HTTP1OriginPool {
        if let existing = origins[origin] { return existing }
        let made = HTTP1OriginPool(origin: origin)
        origins[origin] = made
        return made
    }

    /// Connections counted against the bound (connecting, leased, idle) to `origin`.
    public func openConnections(to origin: HTTP1Origin) -> Int { origins[origin]?.open ?? 0 }
    public func idleConnections(to origin: HTTP1Origin) -> Int { origins[origin]?.idle.count ?? 0 }
    public func waitingTransfers(for origin: HTTP1Origin) -> Int { origins[origin]?.waiterCount ?? 0 }

    // MARK: Transfer deadlines

    func takeDeadline() -> TransferDeadline {
        spareDeadlines.popLast() ?? TransferDeadline()
    }

    /// Disarms `slot` and keeps it for the next transfer; its transfer must not use it again.
    func giveBack(_ slot: TransferDeadline) {
        reactor.disarm(slot.timer)
        slot.transfer = nil
        spareDeadlines.append(slot)
    }

    // MARK: Leasing

    /// Gives `transfer` a connection now (idle or new) or queues it until one is released.
    func lease(for transfer: HTTP1Transfer) {
        let pool = transfer.originPool
        let now = reactor.turnTime
        while let connection = pool.idle.popLast() {
            // The peer may have closed since the last epoll pass: a request must not go out on
            // a connection that is already known dead.
            if now &- connection.idleSince < probeIdleAfter || probe(connection) {
                connection.state = .leased
                transfer.attach(connection, reused: true)
                return
            }
            closeCounted(connection, pool)
        }
        if pool.open < options.maxConnectionsPerHost {
            pool.open += 1
            connect(for: transfer)
        } else {
            pool.waiters.append(transfer)
        }
    }

    private func probe(_ connection: HTTP1Connection) -> Bool {
        probesMade += 1
        return TCPClientSocket.isIdleAndOpen(connection.fd)
    }

    /// A transfer is done with `connection`: a reusable one goes to the first waiter or becomes
    /// idle; any other is closed and its slot goes to the first waiter.
    func release(_ connection: HTTP1Connection, reusable: Bool) {
        let pool = connection.originPool
        connection.owner = nil
        guard reusable, connection.state == .leased, connection.unparsed.isEmpty else {
            closeCounted(connection, pool)
            serveWaiters(pool)
            return
        }
        connection.completedExchanges += 1
        connection.setInterest(Reactor.readable)
        if let waiter = pool.popWaiter() {
            waiter.attach(connection, reused: true)
            return
        }
        connection.state = .idle
        connection.idleSince = reactor.turnTime
        pool.idle.append(connection)
        if idleTimer?.isArmed != true { armIdleTimer(at: connection.idleSince &+ options.maxIdleTime) }
    }

    /// An idle connection that heard from its peer, or a leased one whose transfer is gone.
    func discard(_ connection: HTTP1Connection) {
        let pool = connection.originPool
        closeCounted(connection, pool)
        serveWaiters(pool)
    }

    /// A transfer that waits for a connection gave up (cancelled or timed out).
    func removeWaiter(_ transfer: HTTP1Transfer) {
        transfer.originPool.removeWaiter(transfer)
    }

    /// Closes `connection` and connects afresh for `transfer` in the same slot. The one retry
    /// of a request on a stale reused connection that none of the request reached.
    func reconnect(replacing connection: HTTP1Connection, for transfer: HTTP1Transfer) {
        connection.closeSocket()
        connect(for: transfer)
    }

    private func closeCounted(_ connection: HTTP1Connection, _ pool: HTTP1OriginPool) {
        if connection.state == .idle, let index = pool.idle.firstIndex(where: { $0 === connection }) {
            pool.idle.remove(at: index)
        }
        guard connection.state != .closed else { return }
        connection.closeSocket()
        pool.open -= 1
    }

    private func serveWaiters(_ pool: HTTP1OriginPool) {
        while pool.open < options.maxConnectionsPerHost, let waiter = pool.popWaiter() {
            pool.open += 1
            connect(for: waiter)
        }
    }

    // MARK: Connecting

    /// Opens a connection for `transfer` in a slot already counted in its origin's `open`.
    private func connect(for transfer: HTTP1Transfer) {
        let origin = transfer.originPool.origin
        transfer.connectStarted()
        if let addresses = resolver.cached(origin) {
            connect(for: transfer, addresses[...])
            return
        }
        resolver.lookup(origin) { [self] result in
            guard !transfer.isFinished else { return releaseSlot(transfer.originPool) }
            switch result {
            case .success(let addresses):
                connect(for: transfer, addresses[...])
            case .failure(let error):
                releaseSlot(transfer.originPool)
                transfer.connectFailed("could not resolve \(origin.host): \(error.call)")
            }
        }
    }

    /// Tries `addresses` in order until a connect starts; the rest stay with the transfer in
    /// case this one is refused.
    func connect(for transfer: HTTP1Transfer, _ addresses: ArraySlice<SocketAddress>) {
        let pool = transfer.originPool
        var remaining = addresses
        var lastError: SystemError?
        while let address = remaining.popFirst() {
            do throws(SystemError) {
                let (fd, connected) = try TCPClientSocket.connect(to: address)
                let connection: HTTP1Connection
                do throws(SystemError) {
                    connection = try HTTP1Connection(fd: fd, originPool: pool, pool: self, connecting: !connected)
                } catch {
                    FileDescriptor.close(fd)
                    throw error
                }
                connectionsOpened += 1
                transfer.fallbackAddresses = remaining
                transfer.attach(connection, reused: false)
                return
            } catch {
                lastError = error
            }
        }
        releaseSlot(pool)
        resolver.forget(pool.origin)
        transfer.connectFailed("could not connect to \(pool.origin): \(lastError.map(String.init(describing:)) ?? "no address")")
    }

    /// A connect in progress failed: try the transfer's next address in the same slot, or give up.
    func connectFailed(_ connection: HTTP1Connection, for transfer: HTTP1Transfer, errno: Int32) {
        connection.closeSocket()
        if !transfer.fallbackAddresses.isEmpty {
            connect(for: transfer, transfer.fallbackAddresses)
            return
        }
        let pool = transfer.originPool
        releaseSlot(pool)
        resolver.forget(pool.origin)
        transfer.connectFailed("could not connect to \(pool.origin): \(SystemError("connect", errno: errno))")
    }

    private func releaseSlot(_ pool: HTTP1OriginPool) {
        pool.open -= 1
        serveWaiters(pool)
    }

    // MARK: Idle limit

    private func closeExpiredIdle() {
        let now = monotonicNanos()
        var earliest = UInt64.max
        for pool in origins.values {
            // Oldest first: connections become idle in time order.
            while let oldest = pool.idle.first, oldest.idleSince &+ options.maxIdleTime <= now {
                closeCounted(oldest, pool)
            }
            if let oldest = pool.idle.first { earliest = min(earliest, oldest.idleSince &+ options.maxIdleTime) }
        }
        if earliest != .max { armIdleTimer(at: earliest) }
    }

    private func armIdleTimer(at deadline: UInt64) {
        let timer = idleTimer ?? ReactorTimer { [unowned self] in self.closeExpiredIdle() }
        idleTimer = timer
        reactor.arm(timer, at: deadline)
    }
}

/// The connections of one pool to one origin and the transfers waiting for one of them.
/// Confined to its pool's reactor (adapters hold it, hence `@unchecked Sendable`).
final class HTTP1OriginPool: @unchecked Sendable {
    let origin: HTTP1Origin
    /// Idle connections, oldest first (the newest is reused first: it is the least likely stale).
    var idle: [HTTP1Connection] = []
    /// Connections counted against the bound: connecting (or looking up), leased and idle.
    var open = 0
    var waiters: [HTTP1Transfer] = []
    private var waiterHead = 0

    init(origin: HTTP1Origin) {
        self.origin = origin
    }

    var waiterCount: Int { waiters.count - waiterHead }

    func popWaiter() -> HTTP1Transfer? {
        guard waiterHead < waiters.count else { return nil }
        let waiter = waiters[waiterHead]
        waiterHead += 1
        if waiterHead == waiters.count {
            waiters.removeAll(keepingCapacity: true)
            waiterHead = 0
        }
        return waiter
    }

    func removeWaiter(_ transfer: HTTP1Transfer) {
        guard let index = waiters[waiterHead...].firstIndex(where: { $0 === transfer }) else { return }
        waiters.remove(at: index)
    }
}
