import CLinux
import Glibc

/// A non-blocking TCP listener with SO_REUSEPORT; each worker binds its own on the same port and
/// the kernel spreads connections between them. Reactor-thread confined once registered.
public final class Listener: ReactorIOHandler, @unchecked Sendable {
    public let fd: Int32
    public let port: Int
    private let reactor: Reactor
    private let onAccept: (Int32) -> Void
    private var closed = false

    /// Binds `host:port` (a literal address; port 0 picks a free port) without registering.
    public static func bind(host: String, port: Int, reusePort: Bool = true, backlog: Int32 = 1024) throws(SystemError) -> Int32 {
        try retryingEINTR("listen(\(host):\(port))") { sy_listen_tcp(host, Int32(port), backlog, reusePort ? 1 : 0) }
    }

    /// The port a bound socket listens on.
    public static func boundPort(_ fd: Int32) -> Int { Int(sy_bound_port(fd)) }

    /// Registers an already bound listening `fd` on `reactor`; `onAccept` gets each new
    /// non-blocking client fd on the reactor thread.
    public init(fd: Int32, reactor: Reactor, onAccept: @escaping (Int32) -> Void) throws(SystemError) {
        self.fd = fd
        self.port = Int(sy_bound_port(fd))
        self.reactor = reactor
        self.onAccept = onAccept
        try reactor.register(fd, events: Reactor.readable, handler: self)
    }

    public func reactorEvent(_ events: UInt32) {
        // Accept a bounded batch per wake-up so one busy listener cannot starve the loop.
        for _ in 0..<64 {
            let client = sy_accept4(fd)
            if client < 0 {
                let e = errno
                if e == EINTR || e == ECONNABORTED { continue }
                return  // EAGAIN, or EMFILE: the next readiness event retries
            }
            _ = sy_set_nodelay(client)
            onAccept(client)
        }
    }

    /// Stops accepting: deregisters and closes the listening socket.
    public func close() {
        guard !closed else { return }
        closed = true
        reactor.deregister(fd)
        FileDescriptor.close(fd)
    }
}
