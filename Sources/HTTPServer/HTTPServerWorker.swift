import Reactor

/// The HTTP/1.1 server of one worker: its `SO_REUSEPORT` listener and the connections it
/// accepted, all on one reactor. Reactor-thread confined; use `reactor.execute` from elsewhere.
public final class HTTPServerWorker: @unchecked Sendable {
    public let reactor: Reactor
    /// Changing it forgets the replay table: a request it holds may break the new limits.
    public var configuration: HTTPServerConfiguration {
        didSet { replays.removeAll() }
    }
    /// Changing it forgets the replay table: the new handler may answer differently.
    public var handler: any HTTPRequestHandler {
        didSet { replays.removeAll() }
    }
    /// Byte-exact repeats of requests answered with `repeatableForSeconds`, shared by this
    /// worker's connections.
    let replays = ReplayTable()
    /// Every connection of this worker reads into this buffer, one at a time, and keeps only
    /// what it does not consume at once: no allocation per read.
    let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 16)
    /// Where a complete response is serialised to be sent at once (`HTTPConnection.write`),
    /// reused from one response to the next: no allocation per response. Larger ones get
    /// their own buffer.
    let writeScratch = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 65_536)
    private var listener: Listener?
    private var connections: [ObjectIdentifier: HTTPConnection] = [:]
    private(set) var draining = false
    private var onDrained: (() -> Void)?
    let dateCache = DateCache()
    /// Connections whose serving task is parked waiting for their next request. Bounded by
    /// `maxParkedServingTasks` so idle keep-alive connections cost little memory (beyond the
    /// bound their tasks end between requests, as a task per request did before).
    var parkedServingTasks = 0
    static let maxParkedServingTasks = 256
    private lazy var sweepTimer = ReactorTimer { [unowned self] in self.sweep() }

    public init(reactor: Reactor, configuration: HTTPServerConfiguration, handler: any HTTPRequestHandler) {
        self.reactor = reactor
        self.configuration = configuration
        self.handler = handler
    }

    deinit {
        readBuffer.deallocate()
        writeScratch.deallocate()
    }

    /// Starts accepting on an already bound listening socket. Reactor thread only.
    public func start(listeningFD: Int32) throws(SystemError) {
        listener = try Listener(fd: listeningFD, reactor: reactor) { [unowned self] fd in
            self.accept(fd)
        }
    }

    /// The bound port (useful after binding port 0).
    public var port: Int? { listener?.port }

    public var connectionCount: Int { connections.count }

    /// Serves an already connected socket (tests, or a listener owned elsewhere). Reactor thread only.
    public func accept(_ fd: Int32) {
        guard !draining else {
            FileDescriptor.close(fd)
            return
        }
        do {
            let connection = try HTTPConnection(fd: fd, server: self)
            connections[ObjectIdentifier(connection)] = connection
            if !sweepTimer.isArmed { reactor.arm(sweepTimer, after: sweepInterval) }
        } catch {
            FileDescriptor.close(fd)
        }
    }

    /// How often connection deadlines are checked: a quarter of the shortest timeout, between
    /// 5 ms and 1 s. Timeouts fire up to this late, which slowloris protection can afford.
    var sweepInterval: UInt64 {
        let shortest = min(configuration.headerTimeout, configuration.bodyTimeout, configuration.idleTimeout)
        return min(max(shortest / 4, 5_000_000), 1_000_000_000)
    }

    private func sweep() {
        let now = monotonicNanos()  // never behind the turn times `HTTPConnection.armTimer` adds to
        for connection in Array(connections.values) { connection.checkDeadline(now) }
        if !connections.isEmpty { reactor.arm(sweepTimer, after: sweepInterval) }
    }

    func connectionClosed(_ connection: HTTPConnection) {
        connections[ObjectIdentifier(connection)] = nil
        if draining && connections.isEmpty, let done = onDrained {
            onDrained = nil
            done()
        }
    }

    /// Graceful stop: closes the listener, closes idle connections, and lets requests and streams
    /// in flight finish (their connections close after the response). `done` runs on the reactor
    /// once no connection is left. Reactor thread only.
    public func drain(_ done: @escaping () -> Void) {
        draining = true
        listener?.close()
        listener = nil
        onDrained = done
        for connection in Array(connections.values) { connection.beginDrain() }
        if connections.isEmpty, let done = onDrained {
            onDrained = nil
            done()
        }
    }

    /// Closes every connection now (after a drain timeout). Reactor thread only.
    public func closeAll() {
        for connection in Array(connections.values) { connection.close() }
    }
}
