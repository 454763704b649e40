/// The `server:` section: where the gateway listens, how many reactor threads it runs and the
/// limits and deadlines it applies to client connections. A plain value read by every worker.
public struct ServerConfig: Sendable, Equatable {
    public var listen: ListenAddress
    /// Number of worker (reactor) threads; `workers: auto` was already resolved to the CPU count.
    public var workers: Int
    /// Largest request body accepted; larger ones get 413.
    public var maxBody: ByteSize
    /// A keep-alive connection with no request in flight is closed after this long.
    public var idleTimeout: TimeSpan
    /// The request line and headers must arrive within this long (slowloris guard).
    public var headerTimeout: TimeSpan
    /// The request body must arrive within this long once the headers are in.
    public var bodyTimeout: TimeSpan
    /// On shutdown, in-flight requests get this long to finish.
    public var drainTimeout: TimeSpan
    /// Largest request line plus headers accepted; larger ones get 431.
    public var maxHeaderBytes: ByteSize

    public init(
        listen: ListenAddress = ListenAddress(host: "0.0.0.0", port: 8080),
        workers: Int = 1,
        maxBody: ByteSize = .mebibytes(4),
        idleTimeout: TimeSpan = .seconds(60),
        headerTimeout: TimeSpan = .seconds(10),
        bodyTimeout: TimeSpan = .seconds(30),
        drainTimeout: TimeSpan = .seconds(15),
        maxHeaderBytes: ByteSize = .kibibytes(32)
    ) {
        self.listen = listen
        self.workers = workers
        self.maxBody = maxBody
        self.idleTimeout = idleTimeout
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.drainTimeout = drainTimeout
        self.maxHeaderBytes = maxHeaderBytes
    }

    /// A `host:port` pair as written in `listen:`; `host` is an IPv4 address, a hostname, or an
    /// IPv6 address stored WITHOUT its brackets (`description` puts them back).
    public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        public var isIPv6: Bool { host.contains(":") }
        public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }
}

/// The `upstream:` section: defaults for every outbound transfer to an LLM provider. A provider's
/// own `timeouts:` override the three deadlines; the loader has already merged them there.
public struct UpstreamConfig: Sendable, Equatable {
    public var connectTimeout: TimeSpan
    /// Deadline for the first response byte (for a stream: the first chunk) after sending.
    public var firstByteTimeout: TimeSpan
    /// Deadline for the whole transfer, streaming included.
    public var totalTimeout: TimeSpan
    public var maxConnectionsPerHost: Int
    /// Whether to offer HTTP/2 to providers over TLS.
    public var http2: Bool
    /// Which client serves plain `http://` provider URLs; `https://` ones always use libcurl.
    public var http1Client: HTTP1Client

    public init(
        connectTimeout: TimeSpan = .seconds(5),
        firstByteTimeout: TimeSpan = .seconds(60),
        totalTimeout: TimeSpan = .seconds(600),
        maxConnectionsPerHost: Int = 64,
        http2: Bool = true,
        http1Client: HTTP1Client = .native
    ) {
        self.connectTimeout = connectTimeout
        self.firstByteTimeout = firstByteTimeout
        self.totalTimeout = totalTimeout
        self.maxConnectionsPerHost = maxConnectionsPerHost
        self.http2 = http2
        self.http1Client = http1Client
    }

    /// `native`: the gateway's own HTTP/1.1 keep-alive client on the worker's reactor (a few µs
    /// per request); `curl`: libcurl, as for https (about 20 µs more per request).
    public enum HTTP1Client: String, Sendable, Equatable, CaseIterable {
        case native, curl
    }
}

/// The `log:` section.
public struct LogConfig: Sendable, Equatable {
    public var level: Level
    /// Whether one line is logged per request.
    public var accessLog: Bool
    public var format: Format

    public init(level: Level = .info, accessLog: Bool = true, format: Format = .json) {
        self.level = level
        self.accessLog = accessLog
        self.format = format
    }

    /// The levels of swift-log's `Logger.Level`, spelled the same, lowest first.
    public enum Level: String, Sendable, Equatable, CaseIterable, Comparable {
        case trace, debug, info, notice, warning, error, critical

        public static func < (lhs: Level, rhs: Level) -> Bool {
            allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
        }
    }

    public enum Format: String, Sendable, Equatable, CaseIterable {
        case json, text
    }
}
