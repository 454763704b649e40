import GatewayCore
import HTTPTypes

/// The admission script's answer for one request, per limit of the caller's plan: what the
/// headers are rendered from, and which limit refused. A plain value.
public struct RateLimitSnapshot: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var limit: LimitPlan.Limit
        public var remaining: Int64
        public var resetMicros: Int64
    }

    public var admitted: Bool
    public var entries: [Entry]
    /// The refusing limit's index in `entries`, when refused.
    public var refusedBy: Int?
    /// Microseconds until the request would fit; -1 when it never can.
    public var retryMicros: Int64
    /// The store's time at the decision (µs), which settlement reconciles against.
    public var decidedAt: Int64
    /// The plan's `RateLimit-Policy` value.
    public var policy: String

    /// Reads the `LimitScripts.admit` reply; nil when it is not shaped as documented.
    public init?(plan: LimitPlan, reply: StoreValue) {
        guard let values = reply.array?.compactMap(\.integer), values.count == 4 + 2 * plan.limits.count else { return nil }
        admitted = values[0] == 1
        refusedBy = values[1] > 0 ? Int(values[1]) - 1 : nil
        retryMicros = values[2]
        decidedAt = values[3]
        policy = plan.policyHeader
        entries = plan.limits.enumerated().map { i, limit in
            Entry(limit: limit, remaining: values[4 + 2 * i], resetMicros: values[5 + 2 * i])
        }
        if !admitted, refusedBy == nil { return nil }
    }

    /// The request limit clients watch (`X-RateLimit-*`, `x-ratelimit-*-requests`): the one
    /// with the fewest requests left, the first in plan order on ties (windows come before the
    /// burst bucket).
    var requestEntry: Entry? {
        var best: Entry?
        for entry in entries where entry.limit.kind == .requests || entry.limit.kind == .burst {
            if best == nil || entry.remaining < best!.remaining { best = entry }
        }
        return best
    }

    var tokenEntry: Entry? { entries.first { $0.limit.kind == .tokens } }
}

/// Renders the rate-limit headers every answer to a limited caller carries, in each convention
/// clients read: `X-RateLimit-*` (seconds), OpenAI's `x-ratelimit-*-{requests,tokens}` (reset as
/// a duration like `6m0s`), and the IETF `RateLimit-Policy` / `RateLimit` fields.
public enum RateLimitHeaders {
    public static func apply(_ snapshot: RateLimitSnapshot, to headers: inout HTTPFields) {
        // Appended, not assigned: none of these is set before this stage, and assignment would
        // search the fields for each name first. The request entry is usually also the primary
        // one, so its remaining count is rendered once for both conventions.
        let requests = snapshot.requestEntry
        let tokens = snapshot.tokenEntry
        if let primary = requests ?? tokens ?? snapshot.entries.first {
            let remaining = String(primary.remaining)
            headers.append(HTTPField(name: Names.limit, value: primary.limit.limitText))
            headers.append(HTTPField(name: Names.remaining, value: remaining))
            headers.append(HTTPField(name: Names.reset, value: String(seconds(primary.resetMicros))))
            if let requests {
                let same = requests.limit == primary.limit
                headers.append(HTTPField(name: Names.limitRequests, value: requests.limit.limitText))
                headers.append(HTTPField(name: Names.remainingRequests, value: same ? remaining : String(requests.remaining)))
                headers.append(HTTPField(name: Names.resetRequests, value: duration(requests.resetMicros)))
            }
        }
        if let tokens {
            headers.append(HTTPField(name: Names.limitTokens, value: tokens.limit.limitText))
            headers.append(HTTPField(name: Names.remainingTokens, value: String(tokens.remaining)))
            headers.append(HTTPField(name: Names.resetTokens, value: duration(tokens.resetMicros)))
        }
        guard !snapshot.entries.isEmpty else { return }
        var state = ""
        state.reserveCapacity(snapshot.entries.count * 40)
        for entry in snapshot.entries {
            if !state.isEmpty { state += ", " }
            state += entry.limit.quotedName
            state += ";r="
            state += String(entry.remaining)
            state += ";t="
            state += String(seconds(entry.resetMicros))
        }
        headers.append(HTTPField(name: Names.policy, value: snapshot.policy))
        headers.append(HTTPField(name: Names.state, value: state))
    }

    /// `RateLimit-Policy` for a plan: constant per tier, rendered once with the plan.
    static func policy(_ limits: [LimitPlan.Limit]) -> String {
        limits.map { limit in
            var policy = "\"\(limit.name)\";q=\(limit.limit)"
            if let window = windowSeconds(limit) { policy += ";w=\(window)" }
            return policy
        }.joined(separator: ", ")
    }

    /// The period a limit counts over, for `w=` (none for the bucket and concurrency).
    static func windowSeconds(_ limit: LimitPlan.Limit) -> Int64? {
        switch limit.kind {
        case .requests, .tokens: limit.windowSeconds
        case .dailyTokens, .dailyCost: 86_400
        case .monthlyTokens, .monthlyCost: 2_592_000
        case .burst, .concurrency: nil
        }
    }

    /// Whole seconds, rounded up (a client that waits this long finds the window moved on).
    static func seconds(_ micros: Int64) -> Int64 { max(0, (micros + 999_999) / 1_000_000) }

    /// OpenAI's reset format: "20ms" below a second, else "1s", "6m0s", "1h2m3s".
    public static func duration(_ micros: Int64) -> String {
        if micros < 1_000_000 { return String(max(0, (micros + 999) / 1_000)) + "ms" }
        let total = seconds(micros)
        let (hours, minutes, secs) = (total / 3600, total / 60 % 60, total % 60)
        var text = ""
        if hours > 0 { text += String(hours) + "h" }
        if hours > 0 || minutes > 0 { text += String(minutes) + "m" }
        return text + String(secs) + "s"
    }

    /// "$1.50" for 1.5e9 nano-dollars.
    static func dollars(nanos: Int64) -> String {
        let cents = (nanos + 5_000_000) / 10_000_000
        let fraction = cents % 100
        return "$\(cents / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    enum Names {
        static let limit = HTTPField.Name("X-RateLimit-Limit")!
        static let remaining = HTTPField.Name("X-RateLimit-Remaining")!
        static let reset = HTTPField.Name("X-RateLimit-Reset")!
        static let limitRequests = HTTPField.Name("x-ratelimit-limit-requests")!
        static let remainingRequests = HTTPField.Name("x-ratelimit-remaining-requests")!
        static let resetRequests = HTTPField.Name("x-ratelimit-reset-requests")!
        static let limitTokens = HTTPField.Name("x-ratelimit-limit-tokens")!
        static let remainingTokens = HTTPField.Name("x-ratelimit-remaining-tokens")!
        static let resetTokens = HTTPField.Name("x-ratelimit-reset-tokens")!
        static let policy = HTTPField.Name("RateLimit-Policy")!
        static let state = HTTPField.Name("RateLimit")!
    }
}

extension GatewayError {
    /// The 429 for a refused request: OpenAI's shape, with `type` telling requests, tokens,
    /// concurrency and exhausted quota apart (`insufficient_quota`, as OpenAI does), and
    /// `Retry-After` / `retry-after-ms` that the official SDKs honour. A refusal that waiting
    /// cannot cure (a quota, or a request larger than the limit) says `x-should-retry: false`,
    /// so SDKs do not retry in vain.
    public static func rateLimited(_ snapshot: RateLimitSnapshot) -> GatewayError {
        let entry = snapshot.entries[snapshot.refusedBy ?? 0]
        let limit = entry.limit
        let never = snapshot.retryMicros < 0
        let wait = never ? entry.resetMicros : snapshot.retryMicros
        let retryMillis = max(1, (wait + 999) / 1_000)
        var headers = [("retry-after", String(max(1, RateLimitHeaders.seconds(wait)))), ("retry-after-ms", String(retryMillis))]
        if never || limit.kind.isQuota { headers.append(("x-should-retry", "false")) }
        let type = limit.kind.errorType
        let code: String
        let message: String
        switch limit.kind {
        case .concurrency:
            code = "concurrency_limit_exceeded"
            message = "Too many concurrent requests: your tier allows \(limit.limit) at once. Retry when one finishes."
        case .dailyTokens, .monthlyTokens, .dailyCost, .monthlyCost:
            code = "insufficient_quota"
            let period = limit.kind == .dailyTokens || limit.kind == .dailyCost ? "daily" : "monthly"
            let what = limit.kind == .dailyTokens || limit.kind == .monthlyTokens
                ? "\(limit.limit) tokens" : RateLimitHeaders.dollars(nanos: limit.limit)
            message = "You exceeded your \(period) quota of \(what) (\(limit.name)); it resets in \(RateLimitHeaders.duration(entry.resetMicros))."
        case .requests, .burst, .tokens:
            code = "rate_limit_exceeded"
            let unit = limit.kind == .tokens ? "tokens" : "requests"
            if never {
                message = "Request too large for \(limit.name): it needs more \(unit) than the limit of \(limit.limit)."
            } else {
                message = "Rate limit reached on \(unit) (\(limit.name)): limit \(limit.limit), remaining \(entry.remaining). "
                    + "Please try again in \(RateLimitHeaders.duration(wait))."
            }
        }
        return GatewayError(status: 429, type: type, code: code, message: message, source: .gateway,
                            isRetryable: !never && !limit.kind.isQuota, headers: headers)
    }
}
