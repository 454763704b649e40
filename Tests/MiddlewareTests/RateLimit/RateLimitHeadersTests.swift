import GatewayCore
@testable import Middleware
import Testing

/// `RateLimitHeaders.apply` writes its lines from pieces rendered with the plan (a limit line
/// holds the next line's name, an item its separator); these tests hold its bytes to the
/// format written out line by line, for plans of every shape and numbers of every width.
@Suite struct RateLimitHeadersTests {
    static let plans: [LimitPlan] = [
        LimitPlan(tier: TierConfig(name: "x", requestsPerMinute: 60, tokensPerMinute: 1_000, burst: 5)),
        LimitPlan(tier: TierConfig(name: "bench", requestsPerMinute: 100_000_000, tokensPerMinute: 1_000_000_000_000, maxConcurrent: 1_000)),
        LimitPlan(tier: TierConfig(name: "tokens", tokensPerMinute: 5_000)),
        LimitPlan(tier: TierConfig(name: "requests", requestsPerHour: 7)),
        LimitPlan(tier: TierConfig(name: "lease", maxConcurrent: 3)),
        LimitPlan(tier: TierConfig(name: "quota", dailyTokens: 10, monthlyCost: 2.5)),
        LimitPlan(tier: TierConfig(name: "all", requestsPerMinute: Int.max, requestsPerHour: 9, tokensPerMinute: 100, burst: 1,
                                   maxConcurrent: 2, dailyTokens: 3, monthlyTokens: 4, dailyCost: 5, monthlyCost: 6)),
    ]

    /// Remaining and reset values (µs) of every width: none, one digit, a window's worth, the widest.
    static let numbers: [(remaining: Int64, reset: Int64)] = [
        (0, 0), (7, 999), (59, 1_000_000), (999_999_999_999, 59_999_999), (-1, 3_723_000_001), (Int64.max, Int64.max),
        (Int64.min, Int64.min),
    ]

    @Test(arguments: plans.indices)
    func linesAreTheFormatLineByLine(_ planIndex: Int) throws {
        let plan = Self.plans[planIndex]
        let n = plan.limits.count
        for (k, number) in Self.numbers.enumerated() {
            // Long form (admitted, then refused by the last limit): a pair per limit.
            for form in [-1, Int64(n)] {
                var reply: [Int64] = [1] + Array(repeating: 0, count: n) + [form, 0]
                for i in 0..<n {
                    let pick = Self.numbers[(k + i) % Self.numbers.count]
                    reply += [i == 0 ? number.remaining : pick.remaining, i == 0 ? number.reset : pick.reset]
                }
                let snapshot = try #require(RateLimitSnapshot(plan: plan, reply: PackedIntegers(reply).storeValue))
                try expectFormat(snapshot)
            }
            // Short form: resets in the call's header, then what remains.
            let resets = (0..<n).map { Self.numbers[(k + $0) % Self.numbers.count].reset }
            let remaining = (0..<n).map { Self.numbers[(k + 2 * $0) % Self.numbers.count].remaining }
            let short = [1] + resets + [0] + remaining
            try expectFormat(try #require(RateLimitSnapshot(plan: plan, reply: PackedIntegers(short).storeValue)))
        }
    }

    private func expectFormat(_ snapshot: RateLimitSnapshot, sourceLocation: SourceLocation = #_sourceLocation) throws {
        var lines = HeaderLines()
        RateLimitHeaders.apply(snapshot, to: &lines)
        #expect(String(decoding: lines.bytes, as: UTF8.self) == Self.format(snapshot), sourceLocation: sourceLocation)
        #expect(lines.bytes.count <= snapshot.headerBound, sourceLocation: sourceLocation)
    }

    /// The headers as documented, each line rendered on its own with string interpolation.
    static func format(_ snapshot: RateLimitSnapshot) -> String {
        let entries = snapshot.entries
        // The request limit with the fewest left (the first on ties), and the first token limit.
        let requests = entries.filter { $0.limit.kind == .requests || $0.limit.kind == .burst }
            .reduce(nil as RateLimitSnapshot.Entry?) { best, entry in best.map { $0.remaining <= entry.remaining ? $0 : entry } ?? entry }
        let tokens = entries.first { $0.limit.kind == .tokens }
        var out = ""
        if let primary = requests ?? tokens ?? entries.first {
            out += "X-RateLimit-Limit: \(primary.limit.limit)\r\n"
            out += "X-RateLimit-Remaining: \(primary.remaining)\r\n"
            out += "X-RateLimit-Reset: \(RateLimitHeaders.seconds(primary.resetMicros))\r\n"
            if let requests {
                out += "x-ratelimit-limit-requests: \(requests.limit.limit)\r\n"
                out += "x-ratelimit-remaining-requests: \(requests.remaining)\r\n"
                out += "x-ratelimit-reset-requests: \(RateLimitHeaders.duration(requests.resetMicros))\r\n"
            }
        }
        if let tokens {
            out += "x-ratelimit-limit-tokens: \(tokens.limit.limit)\r\n"
            out += "x-ratelimit-remaining-tokens: \(tokens.remaining)\r\n"
            out += "x-ratelimit-reset-tokens: \(RateLimitHeaders.duration(tokens.resetMicros))\r\n"
        }
        guard !entries.isEmpty else { return out }
        out += "RateLimit-Policy: \(RateLimitHeaders.policy(snapshot.limits))\r\n"
        let items = entries.map { "\"\($0.limit.name)\";r=\($0.remaining);t=\(RateLimitHeaders.seconds($0.resetMicros))" }
        return out + "RateLimit: " + items.joined(separator: ", ") + "\r\n"
    }

    @Test func anEmptyPlanWritesNothing() throws {
        let snapshot = try #require(RateLimitSnapshot(plan: LimitPlan(limits: []), reply: PackedIntegers([1, 0]).storeValue))
        var lines = HeaderLines()
        RateLimitHeaders.apply(snapshot, to: &lines)
        #expect(lines.bytes.isEmpty)
    }
}
