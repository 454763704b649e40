/// One entry of `tiers:`: the limits that apply to every key of that tier. A nil limit does not
/// apply; `unlimited` turns every limit off. Read by the rate-limit stage on every request.
public struct TierConfig: Sendable, Equatable {
    public var name: String
    public var unlimited: Bool
    public var requestsPerMinute: Int?
    public var requestsPerHour: Int?
    public var tokensPerMinute: Int?
    /// Requests allowed at once above the per-minute rate (token-bucket depth beyond the rate).
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
        models: [String]? = nil
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
    }

    /// The tiers used when `config.yaml` has no `tiers:` section.
    public static let defaults: [TierConfig] = [
        TierConfig(
            name: "free", requestsPerMinute: 20, requestsPerHour: 500, tokensPerMinute: 20_000, burst: 5,
            maxConcurrent: 2, dailyTokens: 200_000),
        TierConfig(
            name: "basic", requestsPerMinute: 60, requestsPerHour: 2_000, tokensPerMinute: 100_000, burst: 10,
            maxConcurrent: 5, dailyTokens: 2_000_000),
        TierConfig(
            name: "pro", requestsPerMinute: 600, tokensPerMinute: 1_000_000, burst: 50, maxConcurrent: 50),
        TierConfig(name: "enterprise", unlimited: true),
    ]
}
