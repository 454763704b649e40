/// The `state:` section: where rate-limit counters, cache entries, breaker state and dedup
/// leases live. `memory` serves one instance; `redis` lets many instances act as one.
public struct StateConfig: Sendable, Equatable {
    public var backend: Backend

    public init(backend: Backend = .memory) { self.backend = backend }

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
