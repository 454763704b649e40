/// One entry of `tiers:`: the limits that apply to every key of that tier. A nil limit does not
/// apply; `unlimited` turns every limit off. Read by the rate-limit stage on every request.
public struct TierConfig: Sendable, Equatable {
    public var name: String
    public var unlimited: Bool
    public var requestsPerMinute: Int?
    public var requestsPerHour: Int?
    public var tokensPerMinute: Int?
    /// Requests that may arrive back to back: the depth of a token bucket refilled at
    /// `requestsPerMinute` / 60 per second (needs `requestsPerMinute`).
    public var burst: Int?
    /// Requests in flight at once per key.
    public var maxConcurrent: Int?
    public var dailyTokens: Int?
    public var monthlyTokens: Int?
    /// US dollars per UTC day.
    public var dailyCost: Double?
    /// US dollars per UTC month.
    public var monthlyCost: Double?
    /// Model aliases this tier may use; nil allows every model.
    public var models: [String]?
    /// Load shedding: this tier's requests get 503 once the instance has this many times
    /// `rate_limit.overload.in_flight` requests in flight; lower tiers carry lower factors and so
    /// go first. nil: never shed.
    public var shedFactor: Double?

    public init(
        name: String,
        unlimited: Bool = false,
        requestsPerMinute: Int? = nil,
        requestsPerHour: Int? = nil,
        tokensPerMinute: Int? = nil,
        burst: Int? = nil,
        maxConcurrent: Int? = nil,
        dailyTokens: Int? = nil,
        monthlyTokens: Int? = nil,
        dailyCost: Double? = nil,
        monthlyCost: Double? = nil,
        models: [String]? = nil,
        shedFactor: Double? = nil
    ) {
        self.name = name
        self.unlimited = unlimited
        self.requestsPerMinute = requestsPerMinute
        self.requestsPerHour = requestsPerHour
        self.tokensPerMinute = tokensPerMinute
        self.burst = burst
        self.maxConcurrent = maxConcurrent
        self.dailyTokens = dailyTokens
        self.monthlyTokens = monthlyTokens
        self.dailyCost = dailyCost
        self.monthlyCost = monthlyCost
        self.models = models
        self.shedFactor = shedFactor
    }

    /// `shed_factor` when a tier does not set one: never for unlimited tiers, at the watermark for the rest.
    public static func defaultShedFactor(unlimited: Bool) -> Double? { unlimited ? nil : 1.0 }

    /// Whether any limit applies (an unlimited tier, or one that sets none, is only accounted).
    public var hasLimits: Bool {
        !unlimited && (requestsPerMinute != nil || requestsPerHour != nil || tokensPerMinute != nil || burst != nil
            || maxConcurrent != nil || dailyTokens != nil || monthlyTokens != nil || dailyCost != nil || monthlyCost != nil)
    }

    /// The tiers used when `config.yaml` has no `tiers:` section.
    public static let defaults: [TierConfig] = [
        TierConfig(
            name: "free", requestsPerMinute: 20, requestsPerHour: 500, tokensPerMinute: 20_000, burst: 5,
            maxConcurrent: 2, dailyTokens: 200_000, shedFactor: 1.0),
        TierConfig(
            name: "basic", requestsPerMinute: 60, requestsPerHour: 2_000, tokensPerMinute: 100_000, burst: 10,
            maxConcurrent: 5, dailyTokens: 2_000_000, shedFactor: 1.25),
        TierConfig(
            name: "pro", requestsPerMinute: 600, tokensPerMinute: 1_000_000, burst: 50, maxConcurrent: 50, shedFactor: 1.5),
        TierConfig(name: "enterprise", unlimited: true),
    ]
}
