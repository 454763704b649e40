/// The `state:` section: where rate-limit counters, cache entries, breaker state and dedup
/// leases live. `memory` serves one instance; `redis` lets many instances act as one.
public struct StateConfig: Sendable, Equatable {
    public var backend: Backend
    /// Redis only: how long a busy worker (`ReactorLoad.hotShare` of its time on the CPU) with
    /// nothing else to do polls for a Redis reply it awaits, instead of sleeping until it comes.
    /// A sleep and a wake-up per round trip cost a busy worker more than the wait itself (about
    /// a tenth of its throughput on the rate-limited chain, bench/RESULTS.md); 0 turns it off.
    public var busyPoll: TimeSpan

    public static let defaultBusyPoll = TimeSpan(nanoseconds: 500_000)

    public init(backend: Backend = .memory, busyPoll: TimeSpan = StateConfig.defaultBusyPoll) {
        self.backend = backend
        self.busyPoll = busyPoll
    }

    public enum Backend: Sendable, Equatable {
        case memory
        case redis(RedisEndpoint)
    }

    /// A parsed `redis://[user[:password]@]host[:port][/db]` or `unix:///path/redis.sock[?db=N]` URL.
    /// `rediss://` (TLS) is refused by the loader: the hiredis in use has no TLS.
    public struct RedisEndpoint: Sendable, Equatable, CustomStringConvertible {
        public var address: Address
        public var database: Int
        public var username: String?
        public var password: Secret?

        public init(address: Address, database: Int = 0, username: String? = nil, password: Secret? = nil) {
            self.address = address
            self.database = database
            self.username = username
            self.password = password
        }

        public enum Address: Sendable, Equatable {
            case tcp(host: String, port: Int)
            case unix(path: String)
        }

        /// The URL with the password masked; safe to log.
        public var description: String {
            var credentials = ""
            if username != nil || password != nil {
                credentials = (username ?? "") + (password.map { ":" + $0.masked } ?? "") + "@"
            }
            switch address {
            case .tcp(let host, let port):
                let shownHost = host.contains(":") ? "[\(host)]" : host
                return "redis://\(credentials)\(shownHost):\(port)/\(database)"
            case .unix(let path):
                let query = database == 0 ? "" : "?db=\(database)"
                return "unix://\(credentials)\(path)\(query)"
            }
        }
    }
}
