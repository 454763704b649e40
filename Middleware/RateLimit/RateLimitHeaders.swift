import Bytes
import GatewayCore

/// The admission script's answer for one request, per limit of the caller's plan: what the
/// headers are rendered from, and which limit refused. Immutable; a class, so the stage, the
/// headers and a refusal share one (as a struct it was copied field by field through generic
/// value witnesses). Each limit's numbers are read from the batch's reply where they are, not
/// copied into an array of their own (an allocation per request).
public final class RateLimitSnapshot: Sendable {
    public struct Entry: Sendable, Equatable {
        public var limit: LimitPlan.Limit
        public var remaining: Int64
        public var resetMicros: Int64
    }

    public let admitted: Bool
    /// The plan's limits (in the reply's order) and what its headers need, shared by every
    /// snapshot of the plan.
    let layout: RateLimitHeaders.Layout
    var limits: [LimitPlan.Limit] { layout.limits }
    /// The batch's reply, where this answer starts in it, and whether in the short form.
    private let reply: PackedIntegers
    private let first: Int
    private let short: Bool
    /// The refusing limit's index in `entries`, when refused.
    public let refusedBy: Int?
    /// Microseconds until the request would fit; -1 when it never can.
    public let retryMicros: Int64
    /// The store's time at the decision (µs), which settlement reconciles against.
    public let decidedAt: Int64
    /// The most bytes its header lines can take.
    var headerBound: Int { layout.bound }

    /// Reads request `entry`'s answer in a `LimitScripts.admit` reply to the requests `layout`
    /// laid out; nil when the reply is not shaped as documented.
    public convenience init?(plan: LimitPlan, reply: StoreValue, layout: AdmissionLayout, entry: Int = 0) {
        guard let packed = PackedIntegers(reply), let (reply, offsets) = layout.answers(plan: plan, reply: packed),
            offsets.indices.contains(entry)
        else { return nil }
        self.init(plan: plan, reply: reply, at: offsets[entry])
    }

    /// Reads a `LimitScripts.admit` reply to a single request; nil when it is not one.
    public convenience init?(plan: LimitPlan, reply: StoreValue) {
        let first = 1 + plan.limits.count
        guard let packed = PackedIntegers(reply), let size = Self.size(plan: plan, reply: packed, at: first), first + size == packed.count
        else { return nil }
        self.init(plan: plan, reply: packed, at: first)
    }

    /// How many integers the short- or long-form answer at `at` takes; nil when it is not one
    /// or runs past the reply's end.
    static func size(plan: LimitPlan, reply: PackedIntegers, at: Int) -> Int? {
        let count = plan.limits.count
        guard at < reply.count, reply[at] >= -1 else { return nil }
        let size = reply[at] == 0 ? 1 + count : 2 + 2 * count
        return at + size <= reply.count ? size : nil
    }

    /// Reads the answer that starts at `first` (one of `offsets`).
    init?(plan: LimitPlan, reply: PackedIntegers, at first: Int) {
        let count = plan.limits.count
        guard first > count, first < reply.count else { return nil }
        let form = reply[first]
        let short = form == 0
        guard form >= -1, form <= count, first + (short ? 1 + count : 2 + 2 * count) <= reply.count else { return nil }
        self.admitted = form <= 0
        self.refusedBy = form > 0 ? Int(form) - 1 : nil
        self.retryMicros = short ? 0 : reply[first + 1]
        self.decidedAt = reply[0]
        self.layout = plan.headers
        self.reply = reply
        self.first = first
        self.short = short
    }

    /// What limit `i` had left after this request (before it, when refused).
    func remaining(_ i: Int) -> Int64 {
        // Short: remaining after the form, reset from the call's header. Long: pairs after the retry.
        short ? reply[first + 1 + i] : reply[first + 2 + 2 * i]
    }

    /// Microseconds until limit `i` resets.
    func resetMicros(_ i: Int) -> Int64 {
        short ? reply[1 + i] : reply[first + 3 + 2 * i]
    }

    public func entry(_ i: Int) -> Entry {
        Entry(limit: limits[i], remaining: remaining(i), resetMicros: resetMicros(i))
    }

    /// Every limit's entry, in plan order.
    public var entries: [Entry] { limits.indices.map(entry) }

    /// The request limit clients watch (`X-RateLimit-*`, `x-ratelimit-*-requests`): the one
    /// with the fewest requests left, the first in plan order on ties (windows come before the
    /// burst bucket). Its index.
    var requestLimit: Int? {
        let candidates = layout.requestLimits
        guard var best = candidates.first else { return nil }
        for i in candidates.dropFirst() where remaining(i) < remaining(best) { best = i }
        return best
    }
}

/// Renders the rate-limit headers every answer to a limited caller carries, in each convention
/// clients read: `X-RateLimit-*` (seconds), OpenAI's `x-ratelimit-*-{requests,tokens}` (reset as
/// a duration like `6m0s`), and the IETF `RateLimit-Policy` / `RateLimit` fields.
public enum RateLimitHeaders {
    /// Rendered into wire-form lines (`HeaderLines`), not `HTTPField`s: every answer to a limited
    /// caller carries eleven of them, and as fields they cost more than the admission itself.
    /// Written through one cursor into one buffer, then appended in one copy. Each constant run
    /// between two numbers is one piece (a limit line and the name of the next, rendered with
    /// the plan; a line's end and the next name as one literal): each piece written costs a
    /// call and a memcpy, and there were 32 per answer.
    ///
    /// Limits are found by their index in the plan (the plan's layout knows which are request
    /// and token limits): no entry is built and no limit retained on the way.
    public static func apply(_ snapshot: RateLimitSnapshot, to lines: inout HeaderLines) {
        let layout = snapshot.layout
        let limits = layout.limits
        guard !limits.isEmpty else { return }
        let requests = snapshot.requestLimit
        let tokens = layout.tokenLimit
        lines.write(maxCount: layout.bound) { out in
            // A number several lines repeat (the primary limit's remaining and reset, the token
            // limit's remaining) is converted once; its digits are copied where it recurs.
            let primary = requests ?? tokens ?? 0
            out.write(limits[primary].lines.limit)
            let primaryRemaining = decimal(&out, snapshot.remaining(primary))
            out.write("\r\nX-RateLimit-Reset: ")
            let primaryReset = decimal(&out, seconds(snapshot.resetMicros(primary)))
            out.write("\r\n")
            if let requests {
                out.write(limits[requests].lines.limitRequests)
                if requests == primary { out.writeAgain(primaryRemaining) } else { _ = decimal(&out, snapshot.remaining(requests)) }
                out.write("\r\nx-ratelimit-reset-requests: ")
                writeDuration(snapshot.resetMicros(requests), to: &out)
                out.write("\r\n")
            }
            var tokensRemaining: Range<Int>?
            if let tokens {
                out.write(limits[tokens].lines.limitTokens)
                if tokens == primary {
                    out.writeAgain(primaryRemaining)
                    tokensRemaining = primaryRemaining
                } else {
                    tokensRemaining = decimal(&out, snapshot.remaining(tokens))
                }
                out.write("\r\nx-ratelimit-reset-tokens: ")
                writeDuration(snapshot.resetMicros(tokens), to: &out)
                out.write("\r\n")
            }
            out.write(layout.policyHead)
            for i in limits.indices {
                // Each item's bytes start with the ", " that separates it from the one before.
                if i > 0 { out.write(limits[i].lines.stateItem) } else { out.write(limits[i].lines.stateItem[2...]) }
                if i == primary {
                    out.writeAgain(primaryRemaining)
                } else if i == tokens, let tokensRemaining {
                    out.writeAgain(tokensRemaining)
                } else {
                    out.writeDecimal(Int(snapshot.remaining(i)))
                }
                out.write(";t=")
                if i == primary { out.writeAgain(primaryReset) } else { out.writeDecimal(Int(seconds(snapshot.resetMicros(i)))) }
            }
            out.write("\r\n")
        }
    }

    /// Writes `value` in decimal and says where its digits are.
    private static func decimal(_ out: inout ByteWriter, _ value: Int64) -> Range<Int> {
        let start = out.count
        out.writeDecimal(Int(value))
        return start..<out.count
    }

    /// What the headers need of a plan, worked out once with it: its limits, the
    /// `RateLimit-Policy` line and the start of the `RateLimit` one, the most bytes the lines can
    /// take, and which limits are the request and token limits. Immutable; a class, so each
    /// answer's snapshot holds it with one reference.
    final class Layout: Sendable, Equatable {
        let limits: [LimitPlan.Limit]
        let policyHead: [UInt8]
        let bound: Int
        /// The request windows and the burst bucket, in plan order.
        let requestLimits: [Int]
        /// The first token window.
        let tokenLimit: Int?

        init(_ limits: [LimitPlan.Limit]) {
            self.limits = limits
            policyHead = limits.isEmpty ? [] : HeaderLines.line("RateLimit-Policy", policy(limits)) + Array("RateLimit: ".utf8)
            bound = RateLimitHeaders.bound(limits, policyHead: policyHead)
            requestLimits = limits.indices.filter { limits[$0].kind == .requests || limits[$0].kind == .burst }
            tokenLimit = limits.firstIndex { $0.kind == .tokens }
        }

        static func == (lhs: Layout, rhs: Layout) -> Bool { lhs === rhs || lhs.limits == rhs.limits }
    }

    /// The most bytes `apply` writes for a plan, line by line: one limit line of each kind (the
    /// longest the plan has), numbers at their widest (20 digits with the sign), durations at
    /// theirs, and the `RateLimit` item of every limit. Tight, so the buffer `apply` writes into
    /// stays on the stack (a temporary allocation of over 1 KiB went to the heap, and malloc's
    /// large-chunk path, on every request).
    static func bound(_ limits: [LimitPlan.Limit], policyHead: [UInt8]) -> Int {
        let number = 20, duration = 24, end = 2
        let limitLines = limits.map(\.lines.limit.count).max() ?? 0
        let requestLines = limits.map(\.lines.limitRequests.count).max() ?? 0
        let tokenLines = limits.map(\.lines.limitTokens.count).max() ?? 0
        // The limit lines hold the next line's name; each item holds its ", ".
        let primary = limitLines + number + end + "X-RateLimit-Reset: ".utf8.count + number + end
        let requests = requestLines + number + end + "x-ratelimit-reset-requests: ".utf8.count + duration + end
        let tokens = tokenLines + number + end + "x-ratelimit-reset-tokens: ".utf8.count + duration + end
        var state = end
        for limit in limits { state += limit.lines.stateItem.count + number + ";t=".utf8.count + number }
        return primary + requests + tokens + policyHead.count + state
    }

    /// What one limit contributes to the headers that never changes, rendered with its plan.
    struct LimitLines: Sendable {
        /// The `X-RateLimit-Limit: N`, `x-ratelimit-limit-requests: N` and
        /// `x-ratelimit-limit-tokens: N` lines, each followed by the name of the line that says
        /// what remains (`X-RateLimit-Remaining: `, …), whose value `apply` writes next.
        let limit: [UInt8]
        let limitRequests: [UInt8]
        let limitTokens: [UInt8]
        /// `, "name";r=`: the start of its item in the `RateLimit` field, after the separator
        /// (which the first item skips).
        let stateItem: [UInt8]

        init(limit: Int64, name: String) {
            let text = String(limit)
            self.limit = HeaderLines.line("X-RateLimit-Limit", text) + Array("X-RateLimit-Remaining: ".utf8)
            self.limitRequests = HeaderLines.line("x-ratelimit-limit-requests", text) + Array("x-ratelimit-remaining-requests: ".utf8)
            self.limitTokens = HeaderLines.line("x-ratelimit-limit-tokens", text) + Array("x-ratelimit-remaining-tokens: ".utf8)
            self.stateItem = Array(", \"\(name)\";r=".utf8)
        }
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
    static func seconds(_ micros: Int64) -> Int64 { roundedUp(micros, per: 1_000_000) }

    /// `micros / unit` rounded up, at least 0, saturating instead of trapping: the numbers come
    /// from the store's reply, and no reply may bring the gateway down.
    static func roundedUp(_ micros: Int64, per unit: Int64) -> Int64 {
        guard micros > 0 else { return 0 }
        return micros / unit + (micros % unit == 0 ? 0 : 1)
    }

    /// OpenAI's reset format: "20ms" below a second, else "1s", "6m0s", "1h2m3s".
    public static func duration(_ micros: Int64) -> String {
        String(decoding: [UInt8](capacity: 64) { writeDuration(micros, to: &$0) }, as: UTF8.self)
    }

    /// Two of these go into every answer's headers: minutes and seconds (below 60) and the unit
    /// letters are written byte by byte, not through the general decimal and literal writers.
    static func writeDuration(_ micros: Int64, to out: inout ByteWriter) {
        if micros < 1_000_000 {
            out.writeDecimal(Int(roundedUp(micros, per: 1_000)))
            out.write(UInt8(ascii: "m"))
            out.write(UInt8(ascii: "s"))
            return
        }
        let total = seconds(micros)
        let (hours, minutes, secs) = (total / 3600, Int(total / 60 % 60), Int(total % 60))
        if hours > 0 {
            out.writeDecimal(Int(hours))
            out.write(UInt8(ascii: "h"))
        }
        if hours > 0 || minutes > 0 {
            writeBelow100(minutes, to: &out)
            out.write(UInt8(ascii: "m"))
        }
        writeBelow100(secs, to: &out)
        out.write(UInt8(ascii: "s"))
    }

    /// `value` (0...99) in decimal.
    private static func writeBelow100(_ value: Int, to out: inout ByteWriter) {
        if value >= 10 { out.write(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value / 10)) }
        out.write(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value % 10))
    }

    /// "$1.50" for 1.5e9 nano-dollars.
    static func dollars(nanos: Int64) -> String {
        let cents = (nanos + 5_000_000) / 10_000_000
        let fraction = cents % 100
        return "$\(cents / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}

extension GatewayError {
    /// The 429 for a refused request: OpenAI's shape, with `type` telling requests, tokens,
    /// concurrency and exhausted quota apart (`insufficient_quota`, as OpenAI does), and
    /// `Retry-After` / `retry-after-ms` that the official SDKs honour. A refusal that waiting
    /// cannot cure (a quota, or a request larger than the limit) says `x-should-retry: false`,
    /// so SDKs do not retry in vain.
    public static func rateLimited(_ snapshot: RateLimitSnapshot) -> GatewayError {
        let entry = snapshot.entry(snapshot.refusedBy ?? 0)
        let limit = entry.limit
        let never = snapshot.retryMicros < 0
        let wait = never ? entry.resetMicros : snapshot.retryMicros
        let retryMillis = max(1, RateLimitHeaders.roundedUp(wait, per: 1_000))
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
