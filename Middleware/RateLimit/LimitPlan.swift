import GatewayCore

/// The limits of one tier, in the order the admission script decides and answers them.
/// Built once per tier per configuration (not per request); a plain value.
public struct LimitPlan: Sendable, Equatable {
    /// One limit. `kind` fixes its meaning and the store keys it uses. Immutable, and a class:
    /// every request's snapshot holds its plan's limits, so a copy is one retain.
    public final class Limit: Sendable, Equatable {
        public enum Kind: Int64, Sendable {
            /// Sliding window of requests; `parameter` is the window in microseconds.
            case requests = 1
            /// Sliding window of tokens (reserved up front, reconciled afterwards); `parameter` is the window.
            case tokens = 2
            /// Token bucket of requests; `limit` is the depth, `parameter` the refill per minute.
            case burst = 3
            /// Requests in flight at once.
            case concurrency = 4
            case dailyTokens = 5
            case monthlyTokens = 6
            /// Nano-dollars per UTC day / month.
            case dailyCost = 7
            case monthlyCost = 8

            /// How a refusal by this limit is told apart: OpenAI's error type.
            public var errorType: String {
                switch self {
                case .requests, .burst: "requests"
                case .tokens: "tokens"
                case .concurrency: "concurrency"
                case .dailyTokens, .monthlyTokens, .dailyCost, .monthlyCost: "insufficient_quota"
                }
            }

            public var isQuota: Bool { errorType == "insufficient_quota" }
        }

        public let kind: Kind
        public let limit: Int64
        public let parameter: Int64
        /// Short policy name for headers and messages: "rpm", "rph", "tpm", "burst", "concurrency", "tpd", …
        public let name: String
        /// The header lines naming this limit, rendered once (`RateLimitHeaders`).
        let lines: RateLimitHeaders.LimitLines

        public init(_ kind: Kind, limit: Int64, parameter: Int64 = 0, name: String) {
            self.kind = kind
            self.limit = limit
            self.parameter = parameter
            self.name = name
            self.lines = RateLimitHeaders.LimitLines(limit: limit, name: name)
        }

        public static func == (lhs: Limit, rhs: Limit) -> Bool {
            lhs === rhs || (lhs.kind == rhs.kind && lhs.limit == rhs.limit && lhs.parameter == rhs.parameter && lhs.name == rhs.name)
        }

        /// The window in seconds, for the windowed kinds.
        public var windowSeconds: Int64 { parameter / 1_000_000 }
    }

    public var limits: [Limit] {
        didSet { (headers, countsTokens, holdsLease) = Self.derived(limits) }
    }
    /// What the rate-limit headers need of the plan, worked out once: every answer's snapshot
    /// holds it (one reference).
    private(set) var headers: RateLimitHeaders.Layout
    /// Whether any limit counts tokens (so the request reserves its estimate).
    public private(set) var countsTokens: Bool
    /// Whether a concurrency lease is taken (and must be released when the answer ends).
    public private(set) var holdsLease: Bool

    public init(limits: [Limit]) {
        self.limits = limits
        (headers, countsTokens, holdsLease) = Self.derived(limits)
    }

    /// What the stage asks of a plan on every request, worked out once per plan.
    private static func derived(_ limits: [Limit]) -> (headers: RateLimitHeaders.Layout, countsTokens: Bool, holdsLease: Bool) {
        (RateLimitHeaders.Layout(limits), limits.contains { [.tokens, .dailyTokens, .monthlyTokens].contains($0.kind) },
         limits.contains { $0.kind == .concurrency })
    }

    static let minute: Int64 = 60_000_000
    static let hour: Int64 = 3_600_000_000
    /// Nano-dollars per US dollar: cost limits and usage are integers so Lua keeps them exact.
    public static let nanosPerDollar: Double = 1_000_000_000

    /// The plan for `tier`: empty when the tier is unlimited or sets no limit.
    public init(tier: TierConfig) {
        var limits: [Limit] = []
        guard !tier.unlimited else {
            self.init(limits: [])
            return
        }
        if let n = tier.maxConcurrent { limits.append(Limit(.concurrency, limit: Int64(n), name: "concurrency")) }
        if let n = tier.requestsPerMinute {
            limits.append(Limit(.requests, limit: Int64(n), parameter: Self.minute, name: "rpm"))
            if let burst = tier.burst { limits.append(Limit(.burst, limit: Int64(burst), parameter: Int64(n), name: "burst")) }
        }
        if let n = tier.requestsPerHour { limits.append(Limit(.requests, limit: Int64(n), parameter: Self.hour, name: "rph")) }
        if let n = tier.tokensPerMinute { limits.append(Limit(.tokens, limit: Int64(n), parameter: Self.minute, name: "tpm")) }
        if let n = tier.dailyTokens { limits.append(Limit(.dailyTokens, limit: Int64(n), name: "tpd")) }
        if let n = tier.monthlyTokens { limits.append(Limit(.monthlyTokens, limit: Int64(n), name: "tpmo")) }
        if let dollars = tier.dailyCost { limits.append(Limit(.dailyCost, limit: Int64(dollars * Self.nanosPerDollar), name: "cpd")) }
        if let dollars = tier.monthlyCost {
            limits.append(Limit(.monthlyCost, limit: Int64(dollars * Self.nanosPerDollar), name: "cpmo"))
        }
        self.init(limits: limits)
    }

    public var isEmpty: Bool { limits.isEmpty }
}

/// Store keys of one caller: every key shares the caller's hash tag, so one script may touch
/// them all (and they would move together to one Redis Cluster slot).
public enum CallerKeys {
    /// `sy:{c:<caller id>}:` — the prefix the scripts append to (what `StateKey.make` builds).
    public static func base(_ callerID: String) -> String { key(callerID, "") }

    /// The caller's limiter hash: every counter of its plan (`LimiterFields`). Built once per
    /// request, so in one allocation.
    public static func limiter(_ callerID: String) -> String { key(callerID, "l") }

    private static func key(_ callerID: String, _ suffix: StaticString) -> String {
        var key = ""
        key.reserveCapacity(8 + callerID.utf8.count + suffix.utf8CodeUnitCount)
        key += "sy:{c:"
        key += callerID
        key += "}:"
        key += suffix.description
        return key
    }

    /// The per-day usage hash (requests, prompt_tokens, completion_tokens, cost_nanos, reserved_tokens).
    public static func day(_ callerID: String, index: Int64) -> String { base(callerID) + "d:" + String(index) }
    /// The per-month usage hash, same fields.
    public static func month(_ callerID: String, index: Int64) -> String { base(callerID) + "m:" + String(index) }
}
