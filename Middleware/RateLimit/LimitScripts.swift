import GatewayCore

/// One tier's limits compiled into its two store scripts, once per tier and configuration.
///
/// `admit` decides every limit of a caller at once, all or nothing, with the store's clock
/// (`TIME`): one round trip before the request goes upstream. `settle` runs when answers have
/// ended: it releases their concurrency leases, reconciles reserved tokens with the real usage
/// and adds the usage to each caller's day (and month, for tiers with a monthly limit).
///
/// The plan is baked into the scripts (limits, windows, field names, lifetimes are constants of
/// the Lua text), so a request sends only its lease and its reservation. Inside Redis every
/// argument, string and command a script handles costs on the order of a microsecond, which is
/// most of a script's price; see `LimiterFields` for the one hash all of a caller's counters
/// share. Each script has a Lua body for Redis and a native twin over the memory store; the
/// contract tests hold them to the same answers. Immutable, shared by the workers.
public final class LimitScripts: Sendable {
    public let plan: LimitPlan
    /// - KEYS[1]: `CallerKeys.limiter(id)`.
    /// - ARGV: the lease field (`LimiterFields.lease(requestID)`, "" when the plan has no
    ///   concurrency limit), tokens to reserve.
    /// - Reply: `[admitted 1|0, refusing limit (1-based, 0 when admitted), retry µs (-1: never),
    ///   store now µs, then remaining and reset µs for each limit]`.
    public let admit: StoreScript
    /// Settles a batch of ended requests of this tier (a worker flushes what ended in one
    /// reactor turn, so settlement costs a fraction of a round trip per request under load).
    /// - KEYS: `CallerKeys.limiter(id)` of each entry (callers may repeat: the script folds them).
    /// - ARGV: per entry, `settleEntry`: lease field, admission time µs (0: not admitted by a
    ///   script, use now), tokens reserved, prompt tokens, completion tokens, cost in nano-dollars.
    /// - Reply: the entry count.
    public let settle: StoreScript

    public init(plan: LimitPlan, leaseMicros: Int64, retentionMicros: Int64) {
        self.plan = plan
        let shape = Shape(plan: plan, leaseMicros: leaseMicros, retentionMicros: retentionMicros)
        let admitLua = Self.admitLua(shape)
        let settleLua = Self.settleLua(shape)
        // Named by their text, so a reloaded configuration never reuses another plan's script hash.
        admit = StoreScript(name: "rate_admit:" + Self.digest(admitLua), lua: admitLua) { storage, keys, arguments throws(StoreError) in
            try Self.admitNative(shape, storage, keys, arguments)
        }
        settle = StoreScript(name: "rate_settle:" + Self.digest(settleLua), lua: settleLua) { storage, keys, arguments throws(StoreError) in
            try Self.settleNative(shape, storage, keys, arguments)
        }
    }

    /// ARGV of `admit`: the lease field (`LimiterFields.lease`, "" without a concurrency limit).
    public static func admitArguments(lease: StoreValue, reserve: Int64) -> [StoreValue] {
        [lease, .integer(reserve)]
    }

    /// ARGV of `settle` for one entry (a batch concatenates entries).
    public static func settleEntry(lease: StoreValue, admittedAt: Int64, reserved: Int64, promptTokens: Int64,
                                   completionTokens: Int64, costNanos: Int64) -> [StoreValue] {
        var arguments: [StoreValue] = []
        appendSettleEntry(to: &arguments, lease: lease, admittedAt: admittedAt, reserved: reserved, promptTokens: promptTokens,
                          completionTokens: completionTokens, costNanos: costNanos)
        return arguments
    }

    /// `settleEntry` appended to a batch's arguments in place.
    static func appendSettleEntry(to arguments: inout [StoreValue], lease: StoreValue, admittedAt: Int64, reserved: Int64,
                                  promptTokens: Int64, completionTokens: Int64, costNanos: Int64) {
        arguments.append(lease)
        arguments.append(.integer(admittedAt))
        arguments.append(.integer(reserved))
        arguments.append(.integer(promptTokens))
        arguments.append(.integer(completionTokens))
        arguments.append(.integer(costNanos))
    }

    static let settleArity = 6
    static let badArguments = StoreError.server("ERR rate limit script: bad arguments")

    static func digest(_ text: String) -> String {
        String(SHA256.hex(Array(text.utf8)).prefix(16))
    }

    /// What the scripts need of the plan, resolved once: each limit's store fields and the
    /// lifetime of the limiter hash.
    struct Shape: Sendable {
        struct Entry: Sendable {
            var limit: LimitPlan.Limit
            /// Window limits: the fields' stem ("r60", "t3600").
            var stem: String
            /// The limiter-hash fields this limit reads and writes (`LimiterFields`), and where
            /// they start in `Shape.fields`.
            var fields: [String]
            var firstField: Int
        }

        var entries: [Entry]
        /// Every limiter-hash field the admission reads, in entry order (one `HMGET`).
        var fields: [String]
        var leaseMicros: Int64
        var retentionMicros: Int64
        /// How long the limiter hash must outlive its last write: the longest window twice, a
        /// lease's lifetime, a bucket's time to refill (after which absent means full).
        var keepMicros: Int64
        var tokenStems: [(stem: String, window: Int64)]
        /// What a settlement reads of the limiter hash: `cn`, then each token window's index,
        /// current and previous count (in `tokenStems` order).
        var settleFields: [String]
        var holdsLease: Bool
        var quotaDay: Bool
        var quotaMonth: Bool
        var monthly: Bool

        init(plan: LimitPlan, leaseMicros: Int64, retentionMicros: Int64) {
            self.leaseMicros = leaseMicros
            self.retentionMicros = retentionMicros
            var entries: [Entry] = []
            var fields: [String] = []
            for limit in plan.limits {
                let stem = LimiterFields.stem(limit)
                let own: [String]
                switch limit.kind {
                case .requests, .tokens: own = [stem + "i", stem + "c", stem + "p"]
                case .burst: own = ["bt", "ba"]
                case .concurrency: own = ["cn"]
                default: own = []
                }
                entries.append(Entry(limit: limit, stem: stem, fields: own, firstField: fields.count))
                fields += own
            }
            self.entries = entries
            self.fields = fields
            var keep: Int64 = 0
            for limit in plan.limits {
                switch limit.kind {
                case .requests, .tokens: keep = max(keep, 2 * limit.parameter)
                case .concurrency: keep = max(keep, leaseMicros)
                case .burst: keep = max(keep, (max(1, limit.limit) * 60_000_000 + max(1, limit.parameter) - 1) / max(1, limit.parameter))
                default: break
                }
            }
            keepMicros = keep
            tokenStems = entries.filter { $0.limit.kind == .tokens }.map { ($0.stem, $0.limit.parameter) }
            settleFields = ["cn"] + tokenStems.flatMap { [$0.stem + "i", $0.stem + "c", $0.stem + "p"] }
            holdsLease = plan.holdsLease
            quotaDay = plan.limits.contains { $0.kind == .dailyTokens }
            quotaMonth = plan.limits.contains { $0.kind == .monthlyTokens }
            monthly = plan.limits.contains { $0.kind == .monthlyTokens || $0.kind == .monthlyCost }
        }
    }
}

/// The fields of a caller's limiter hash (`CallerKeys.limiter`): every counter of the plan in
/// one key, so an admission reads them with one `HMGET` and writes them with one `HSET`.
/// - A sliding window: `<stem>i` (the current window's index), `<stem>c` (its count) and
///   `<stem>p` (the previous window's count); the stem is `r` or `t` and the window in seconds.
/// - The burst bucket: `bt` (millionths of tokens) and `ba` (when, store µs).
/// - Concurrency: `cn` (live leases) and one `L<request id>` field per lease (its expiry).
public enum LimiterFields {
    static func stem(_ limit: LimitPlan.Limit) -> String {
        switch limit.kind {
        case .requests: "r" + String(limit.windowSeconds)
        case .tokens: "t" + String(limit.windowSeconds)
        default: ""
        }
    }

    /// The field of a request's concurrency lease, as the scripts' argument: `L<request id>`,
    /// built straight into one buffer (it is sent with the admission and again to settle).
    public static func lease(_ requestID: String) -> StoreValue {
        var requestID = requestID
        return requestID.withUTF8 { id in
            .bytes(Array(unsafeUninitializedCapacity: id.count + 1) { bytes, count in
                bytes[0] = UInt8(ascii: "L")
                _ = UnsafeMutableBufferPointer(rebasing: bytes[1...]).initialize(from: id)
                count = id.count + 1
            })
        }
    }

    /// No lease (the plan has no concurrency limit, or no admission script ran).
    public static let noLease = StoreValue.bytes([])
}
