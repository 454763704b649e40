import Reactor

/// One TCP connection to an upstream origin, owned by its worker's pool. Leased, it forwards
/// its socket events to the transfer that holds it; idle, it watches for the peer closing (or
/// saying anything unasked), and closes itself then. Reactor-thread confined.
final class HTTP1Connection: ReactorIOHandler {
    enum State: Equatable {
        /// A non-blocking connect is in progress (write interest armed).
        case connecting
        case leased
        case idle
        case closed
    }

    let fd: Int32
    unowned let pool: HTTP1ConnectionPool
    /// Its origin's bookkeeping (the pool keeps every origin pool alive).
    unowned let originPool: HTTP1OriginPool
    var state: State
    /// The transfer using the connection; events go there. Not retained (the task that awaits
    /// the transfer does that) and not weak (a weak reference gives every transfer a side
    /// table, an allocation per request): every path on which a transfer lets go of its
    /// connection — finish, fail, retry, deinit — clears this first, through the pool.
    unowned(unsafe) var owner: HTTP1Transfer?
    /// Responses read to their end on this connection; more than 0 means it is being reused.
    var completedExchanges = 0
    /// Monotonic time it became idle (for the idle limit and the stale-peer probe).
    var idleSince: UInt64 = 0
    /// Response bytes read but not parsed yet (an incomplete line); empty between exchanges.
    var unparsed: [UInt8] = []
    /// The field lines of the last response read here; lent to the parser of each transfer.
    var responseLines = ResponseLineMemo()
    private(set) var interest: UInt32

    /// Registers `fd` (already connecting or connected) with the pool's reactor.
    init(fd: Int32, originPool: HTTP1OriginPool, pool: HTTP1ConnectionPool, connecting: Bool) throws(SystemError) {
        self.fd = fd
        self.originPool = originPool
        self.pool = pool
        self.state = connecting ? .connecting : .leased
        self.interest = connecting ? Reactor.writable : Reactor.readable
        try pool.reactor.register(fd, events: interest, handler: self)
    }

    func reactorEvent(_ events: UInt32) {
        switch state {
        case .connecting, .leased:
            if let owner { owner.connectionEvent(events) } else { pool.discard(self) }
        case .idle:
            // An idle connection has nothing to say: EOF, an error or stray bytes all end it.
            pool.discard(self)
        case .closed:
            break
        }
    }

    /// Sets the epoll interest; no system call when it is unchanged.
    func setInterest(_ events: UInt32) {
        guard events != interest, state != .closed else { return }
        interest = events
        try? pool.reactor.modify(fd, events: events)
    }

    /// Deregisters and closes the socket. Only the pool calls this (it keeps the counts).
    func closeSocket() {
        closeSocket(on: pool.reactor)
    }

    func closeSocket(on reactor: Reactor) {
        guard state != .closed else { return }
        state = .closed
        owner = nil
        reactor.deregister(fd)
        FileDescriptor.close(fd)
    }
}
