/// The `pipeline:` section: which stages run, in which order, and each stage's settings.
/// `stages` is the chain as written in the file (the order is data, ARCHITECTURE §1); a stage
/// absent from it does not run. Each stage's struct holds its settings whether or not it runs.
public struct PipelineConfig: Sendable, Equatable {
    /// Stage names in chain order; each one of `knownStages`, `router` always last.
    public var stages: [String]
    public var auth: Auth
    public var rateLimit: RateLimit
    public var dedup: Dedup
    public var cache: Cache
    public var circuitBreaker: CircuitBreaker
    public var retry: Retry
    public var router: Router

    /// Every stage name the gateway knows, in the order used when `pipeline:` is absent.
    public static let knownStages = ["auth", "rate_limit", "dedup", "cache", "circuit_breaker", "retry", "router"]

    public init(
        stages: [String] = PipelineConfig.knownStages,
        auth: Auth = Auth(),
        rateLimit: RateLimit = RateLimit(),
        dedup: Dedup = Dedup(),
        cache: Cache = Cache(),
        circuitBreaker: CircuitBreaker = CircuitBreaker(),
        retry: Retry = Retry(),
        router: Router = Router()
    ) {
        self.stages = stages
        self.auth = auth
        self.rateLimit = rateLimit
        self.dedup = dedup
        self.cache = cache
        self.circuitBreaker = circuitBreaker
        self.retry = retry
        self.router = router
    }

    /// What a stage does when the state store (Redis) fails: let the request through or refuse it.
    public enum StoreErrorPolicy: String, Sendable, Equatable, CaseIterable {
        case failOpen = "fail_open"
        case failClosed = "fail_closed"
    }

    /// `pipeline.auth`: whether a valid key is required, and who may use the admin API.
    public struct Auth: Sendable, Equatable {
        public var required: Bool
        /// Tier of callers without a key when `required` is false (limited per client address).
        public var anonymousTier: String
        /// Lowercase hex SHA-256 of the admin key (`/admin/keys`, `/admin/usage`); nil disables them.
        public var adminKeySHA256: String?
        /// Store lookups of run-time keys: fail_closed answers 503, fail_open answers 401 for
        /// keys not in config.yaml (an unverifiable key is never let through).
        public var onStoreError: StoreErrorPolicy

        public init(required: Bool = true, anonymousTier: String = "free", adminKeySHA256: String? = nil,
                    onStoreError: StoreErrorPolicy = .failClosed) {
            self.required = required
            self.anonymousTier = anonymousTier
            self.adminKeySHA256 = adminKeySHA256
            self.onStoreError = onStoreError
        }
    }

    /// `pipeline.rate_limit`: the limits themselves live in the tiers.
    public struct RateLimit: Sendable, Equatable {
        public var onStoreError: StoreErrorPolicy
        /// Completion tokens reserved up front when a request sets no `max_tokens`; reconciled
        /// with the real usage when the answer ends.
        public var completionEstimate: Int
        /// How long a concurrency slot is held if its instance dies before releasing it.
        public var concurrencyLease: TimeSpan
        /// How long per-day usage stays readable at `/admin/usage`.
        public var usageRetention: TimeSpan
        /// Requests in flight on one instance above which tiers are shed (each at its
        /// `shed_factor` times this); nil turns shedding off.
        public var overloadInFlight: Int?
        /// How long a finished request's settlement (lease release, token reconciliation, usage)
        /// may wait to ride with the worker's next admission, so both share one round trip.
        /// The worker's own next request always sees it; other workers and instances within this.
        public var settleLinger: TimeSpan

        public init(onStoreError: StoreErrorPolicy = .failOpen, completionEstimate: Int = 1_024,
                    concurrencyLease: TimeSpan = .seconds(600), usageRetention: TimeSpan = .seconds(90 * 86_400),
                    overloadInFlight: Int? = nil, settleLinger: TimeSpan = .milliseconds(2)) {
            self.onStoreError = onStoreError
            self.completionEstimate = completionEstimate
            self.concurrencyLease = concurrencyLease
            self.usageRetention = usageRetention
            self.overloadInFlight = overloadInFlight
            self.settleLinger = settleLinger
        }
    }

    /// `pipeline.dedup`: coalesce identical concurrent requests into one upstream call.
    public struct Dedup: Sendable, Equatable {
        public var enabled: Bool
        /// Without the store: fail_open sends the request upstream uncoalesced.
        public var onStoreError: StoreErrorPolicy

        public init(enabled: Bool = true, onStoreError: StoreErrorPolicy = .failOpen) {
            self.enabled = enabled
            self.onStoreError = onStoreError
        }
    }

    /// `pipeline.cache`: an exact-match response cache and an (optional) semantic one.
    public struct Cache: Sendable, Equatable {
        public var exact: Exact
        public var semantic: Semantic
        /// Without the store: fail_open treats the lookup as a miss and skips the write.
        public var onStoreError: StoreErrorPolicy

        public init(exact: Exact = Exact(), semantic: Semantic = Semantic(), onStoreError: StoreErrorPolicy = .failOpen) {
            self.exact = exact
            self.semantic = semantic
            self.onStoreError = onStoreError
        }

        public struct Exact: Sendable, Equatable {
            public var enabled: Bool
            public var ttl: TimeSpan

            public init(enabled: Bool = true, ttl: TimeSpan = .hours(1)) {
                self.enabled = enabled
                self.ttl = ttl
            }
        }

        public struct Semantic: Sendable, Equatable {
            public var enabled: Bool
            /// Minimum similarity in (0, 1] for a semantic hit.
            public var threshold: Double

            public init(enabled: Bool = false, threshold: Double = 0.95) {
                self.enabled = enabled
                self.threshold = threshold
            }
        }
    }

    /// `pipeline.circuit_breaker`: per-deployment CLOSED → OPEN → HALF_OPEN thresholds.
    public struct CircuitBreaker: Sendable, Equatable {
        /// Consecutive failures that open the breaker.
        public var failureThreshold: Int
        /// Consecutive half-open successes that close it again.
        public var successThreshold: Int
        /// How long it stays open before letting probes through.
        public var openTimeout: TimeSpan
        /// Probes allowed at once while half-open.
        public var halfOpenMaxCalls: Int
        /// Without the store: fail_open decides on this instance's own view of the deployment.
        public var onStoreError: StoreErrorPolicy

        public init(
            failureThreshold: Int = 5, successThreshold: Int = 2, openTimeout: TimeSpan = .seconds(30),
            halfOpenMaxCalls: Int = 1, onStoreError: StoreErrorPolicy = .failOpen
        ) {
            self.failureThreshold = failureThreshold
            self.successThreshold = successThreshold
            self.openTimeout = openTimeout
            self.halfOpenMaxCalls = halfOpenMaxCalls
            self.onStoreError = onStoreError
        }
    }

    /// `pipeline.retry`: attempts (the first included) and exponential backoff between them.
    public struct Retry: Sendable, Equatable {
        public var maxAttempts: Int
        public var baseDelay: TimeSpan
        public var multiplier: Double
        public var maxDelay: TimeSpan

        public init(
            maxAttempts: Int = 3, baseDelay: TimeSpan = .milliseconds(200), multiplier: Double = 2,
            maxDelay: TimeSpan = .seconds(5)
        ) {
            self.maxAttempts = maxAttempts
            self.baseDelay = baseDelay
            self.multiplier = multiplier
            self.maxDelay = maxDelay
        }
    }

    /// `pipeline.router`: how a deployment is picked among a model's healthy ones.
    public struct Router: Sendable, Equatable {
        public var strategy: RouterStrategy

        public init(strategy: RouterStrategy = .priority) { self.strategy = strategy }
    }

    /// `priority`: first healthy deployment in file order; `weighted`: random by weight;
    /// `leastLatency`: lowest observed latency (accepted by the loader, not implemented yet).
    public enum RouterStrategy: String, Sendable, Equatable, CaseIterable {
        case priority
        case weighted
        case leastLatency = "least_latency"
    }
}
