import GatewayCore

/// One tier's limits compiled into its two store scripts, once per tier and configuration.
///
/// `admit` decides every limit of a caller at once, all or nothing, with the store's clock
/// (`TIME`): one round trip before the request goes upstream. `settle` runs when answers have
/// ended: it releases their concurrency leases, reconciles reserved tokens with the real usage
/// and adds the usage to each caller's day (and month, for tiers with a monthly limit), or for a
/// plan that folds usage (`Shape.foldsUsage`) to the day's usage waiting in the limiter hash
/// (`PendingUsage`).
///
/// The plan is baked into the scripts (limits, windows, field names, lifetimes are constants of
/// the Lua text), so a request sends only its reservation. Inside Redis every
/// argument, string and command a script handles costs on the order of a microsecond, which is
/// most of a script's price; see `LimiterFields` for the one hash all of a caller's counters
/// share. Each script has a Lua body for Redis and a native twin over the memory store; the
/// contract tests hold them to the same answers. Immutable, shared by the workers.
public final class LimitScripts: Sendable {
    public let plan: LimitPlan
    /// Decides a batch of requests of this tier, one after another, each all or nothing (a
    /// worker sends the admissions that queued while its previous batch was out as one call, so
    /// under load a caller's counters are read and written once for many requests).
    /// - KEYS and ARGV: a `ScriptBatch` of the requests' `CallerKeys.limiter(id)` and, per
    ///   caller, its run of requests: how many, then each one's tokens to reserve
    ///   (`AdmissionLayout`; a plan with a concurrency limit takes a lease for each admitted
    ///   request, counted in its slot: `LimiterFields`); optionally a second section,
    ///   settlements of this tier riding with the batch (`appendSettlement`), which the script
    ///   applies first, exactly as `settle` would: one call instead of two.
    /// - Reply: `PackedIntegers`: the store's time (µs) the batch was decided at and, per limit,
    ///   the reset (µs) of a short-form answer; then, run by run, each request's answer in one
    ///   of two forms, or one answer for the whole run:
    ///   - short, `0` then each limit's remaining: admitted on the straight path (windows and
    ///     concurrency only, each window already holding something), its resets the call's;
    ///   - long, `-1` (admitted) or the refusing limit (1-based), the retry µs (-1: never), then
    ///     each limit's remaining and reset µs (when refused, what each limit had before);
    ///   - group, `-2`, the run's length, then each limit's counts before the run (live leases;
    ///     a window's current and previous count): every request of the run admitted on the
    ///     straight path, their short forms left to the reader (`AdmissionLayout.answers`).
    ///   None is repeated that need not be. The native twin answers in the long form only; all
    ///   read the same.
    public let admit: StoreScript
    /// Settles a batch of ended requests of this tier (a worker flushes what ended in one
    /// reactor turn, so settlement costs a fraction of a round trip per request under load).
    /// - KEYS and ARGV: a `ScriptBatch` of the entries' `CallerKeys.limiter(id)` (the script
    ///   folds a caller's entries) and, per entry (`appendSettlement`): admission time µs (0:
    ///   not admitted by a script, use now), how many requests it stands for, then their sums:
    ///   tokens reserved, prompt tokens, completion tokens, cost in nano-dollars. An entry an
    ///   admission script decided releases its requests' leases when the plan takes leases.
    ///   Requests of one caller admitted in one batch share its time, hence every period the
    ///   script derives from it, so the gateway sends them as one entry (`Settlement.absorb`):
    ///   each entry costs the script about 2 µs of Lua, the folded ones nothing.
    /// - Reply: the entry count.
    public let settle: StoreScript

    /// What the scripts make of the plan (`settlesAlike` reads it).
    let shape: Shape

    public init(plan: LimitPlan, leaseMicros: Int64, retentionMicros: Int64) {
        self.plan = plan
        let shape = Shape(plan: plan, leaseMicros: leaseMicros, retentionMicros: retentionMicros)
        self.shape = shape
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

    /// The requests (limiter key, tokens to reserve) of an `admit` batch, appended to `batch`.
    public static func appendAdmissions(_ requests: [(limiter: String, reserve: Int64)], to batch: inout ScriptBatch)
        -> AdmissionLayout
    {
        AdmissionLayout(appending: requests, to: &batch, limiter: { $0.limiter }, reserve: { $0.reserve })
    }

    /// Whether entries admitted at store times `a` and `b` settle alike: of an admission time,
    /// the scripts use only its lease slot, its token windows and its day (which fixes its
    /// month), each found here as the native twins find it.
    func settlesAlike(_ a: Int64, _ b: Int64) -> Bool {
        if shape.holdsLease && LimiterFields.slot(admittedAt: a, shape: shape) != LimiterFields.slot(admittedAt: b, shape: shape) {
            return false
        }
        return CalendarPeriod.day(now: a).index == CalendarPeriod.day(now: b).index
            && shape.tokenWindows.allSatisfy { token in
                let window = SlidingWindow(limit: 0, windowMicros: token.window)
                return window.position(now: a).index == window.position(now: b).index
            }
    }

    /// A caller's counters as its limiter hash holds them (`LimiterFields`), by name ("cn",
    /// "r60c"): what an admission would read, the `absent` values while the plan's field is not
    /// there. For tests and tools: the scripts read the field themselves.
    public func counters(_ hash: [String: [UInt8]]) -> [String: Int64] {
        let words = shape.counters(hash[shape.countersField]) ?? shape.absent
        return Dictionary(uniqueKeysWithValues: zip(shape.fields, words).map { ($0, $1) })
    }

    /// The limiter-hash field and value that hold `values` (by name; the others `absent`).
    public func countersField(_ values: [String: Int64]) -> (field: String, value: [UInt8]) {
        (shape.countersField, PackedIntegers(zip(shape.fields, shape.absent).map { values[$0] ?? $1 }).bytes)
    }

    /// One entry of a `settle` batch (section 0), or of the settlements riding with an `admit`
    /// batch (section 1).
    public static func appendSettlement(to batch: inout ScriptBatch, section: Int = 0, limiter: String, admittedAt: Int64,
                                        requests: Int64 = 1, reserved: Int64, promptTokens: Int64, completionTokens: Int64,
                                        costNanos: Int64) {
        batch.startEntry(key: limiter, section: section)
        batch.append(admittedAt)
        batch.append(requests)
        batch.append(reserved)
        batch.append(promptTokens)
        batch.append(completionTokens)
        batch.append(costNanos)
    }

    public static let settleArity = 6
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
        /// Every counter of the plan by its name (`LimiterFields`), in entry order: the words of
        /// `countersField`.
        var fields: [String]
        /// The limiter-hash field holding every counter (`LimiterFields.counters`), and what each
        /// counter is while that field is absent.
        var countersField: String
        var absent: [Int64]
        /// The live-lease count's index in `fields` (plans with a concurrency limit).
        var leaseCount: Int?
        var leaseMicros: Int64
        /// Leases are counted per slot of this length, by when they expire (`LimiterFields`).
        var slotMicros: Int64
        var retentionMicros: Int64
        /// How long the limiter hash must outlive its last write: the longest window twice, a
        /// lease's lifetime, a bucket's time to refill (after which absent means full).
        var keepMicros: Int64
        /// The token windows, a settlement's to reconcile: each one's length and the index of its
        /// first counter (the window's index) in `fields`.
        var tokenWindows: [(window: Int64, firstField: Int)]
        var holdsLease: Bool
        var quotaDay: Bool
        var quotaMonth: Bool
        var monthly: Bool
        /// Whether settled usage waits in the limiter hash (`PendingUsage`) rather than going to
        /// the day hash at once: a plan with counters and no quota (a quota reads the day hash,
        /// a monthly limit needs the month's hash too).
        var foldsUsage: Bool
        /// The counters `countersField` holds in `bytes`; nil when it is absent (or another
        /// layout's, which its name rules out).
        func counters(_ bytes: [UInt8]?) -> [Int64]? {
            guard let bytes, bytes.count == 8 * fields.count, let words = PackedIntegers(bytes: bytes) else { return nil }
            return (0..<words.count).map { words[$0] }
        }

        /// How long the limiter hash lives after a native twin's write: `keepMicros`, or while
        /// usage waits in it, as long as usage is kept.
        var limiterLifetimeMicros: Int64 { foldsUsage ? max(keepMicros, retentionMicros) : keepMicros }

        init(plan: LimitPlan, leaseMicros: Int64, retentionMicros: Int64) {
            self.leaseMicros = leaseMicros
            slotMicros = max(1, leaseMicros / LimiterFields.slotsPerLease)
            self.retentionMicros = retentionMicros
            var entries: [Entry] = []
            var fields: [String] = []
            var absent: [Int64] = []
            for limit in plan.limits {
                let stem = LimiterFields.stem(limit)
                // Each counter, and its value while the plan's field is absent: a window index no
                // store time has (nothing counted in it or the window before), a bucket's -1
                // (full), otherwise 0.
                let own: [(String, Int64)]
                switch limit.kind {
                case .requests, .tokens: own = [(stem + "i", -1), (stem + "c", 0), (stem + "p", 0)]
                case .burst: own = [("bt", -1), ("ba", 0)]
                case .concurrency: own = [("cn", 0)]
                default: own = []
                }
                entries.append(Entry(limit: limit, stem: stem, fields: own.map(\.0), firstField: fields.count))
                fields += own.map(\.0)
                absent += own.map(\.1)
            }
            self.entries = entries
            self.fields = fields
            self.absent = absent
            countersField = LimiterFields.counters(entries.filter { !$0.fields.isEmpty }.map(\.limit))
            leaseCount = fields.firstIndex(of: "cn")
            var keep: Int64 = 0
            for limit in plan.limits {
                switch limit.kind {
                case .requests, .tokens: keep = max(keep, 2 * limit.parameter)
                case .concurrency: keep = max(keep, leaseMicros + 2 * slotMicros)
                case .burst: keep = max(keep, (max(1, limit.limit) * 60_000_000 + max(1, limit.parameter) - 1) / max(1, limit.parameter))
                default: break
                }
            }
            keepMicros = keep
            tokenWindows = entries.filter { $0.limit.kind == .tokens }.map { ($0.limit.parameter, $0.firstField) }
            holdsLease = plan.holdsLease
            quotaDay = plan.limits.contains { $0.kind == .dailyTokens }
            quotaMonth = plan.limits.contains { $0.kind == .monthlyTokens }
            monthly = plan.limits.contains { $0.kind == .monthlyTokens || $0.kind == .monthlyCost }
            foldsUsage = !fields.isEmpty && !plan.limits.contains { [.dailyTokens, .monthlyTokens, .dailyCost, .monthlyCost].contains($0.kind) }
        }
    }
}

/// The fields of a caller's limiter hash (`CallerKeys.limiter`), read by an admission batch
/// with one `HMGET` and written with one `HSET`:
/// - `k:<layout>`: every counter of the plan, packed in one value (`PackedIntegers`' words, in
///   `Shape.fields` order), so a batch reads and writes one string instead of a field per
///   counter (each field a decimal parsed and rendered inside Redis: packed, the admission
///   script runs 16 % fewer instructions a call). The counters, by name:
///   - a sliding window's `<stem>i` (the current window's index), `<stem>c` (its count) and
///     `<stem>p` (the previous window's count); the stem is `r` or `t` and the window in seconds;
///   - the burst bucket's `bt` (millionths of tokens) and `ba` (when, store µs);
///   - concurrency's `cn`: the live leases, the sum of the lease slots' counts.
///   The field is named by the plan's layout (`counters`: each counting limit's stem, `b`, `c`),
///   so a reload that changes which limits count, or their windows, starts the counters afresh
///   rather than reading another layout's words: its windows restart, and `cn` is rebuilt from
///   the lease slots, which outlive any layout. While the field is absent every counter is its
///   `Shape.absent` value.
/// - `L<slot>`, per lease slot: how many live leases expire in that slot (slot = (admission µs +
///   lease µs) / slot µs, a slot being a `slotsPerLease`th of the lease). A lease is released by
///   its admission time, so a request carries no lease name, the hash holds a few slots however
///   many requests are in flight (a field per request made every command on it scan a long
///   hash), and a slot whose end has passed lapses with its count: its holders died without
///   settling.
/// - `u`: usage waiting for its day hash (`PendingUsage`), read and written with the counters.
public enum LimiterFields {
    static func stem(_ limit: LimitPlan.Limit) -> String {
        switch limit.kind {
        case .requests: "r" + String(limit.windowSeconds)
        case .tokens: "t" + String(limit.windowSeconds)
        default: ""
        }
    }

    /// The name of the field holding the counters of `limits` (those that count, in plan order).
    static func counters(_ limits: [LimitPlan.Limit]) -> String {
        "k" + limits.map { limit in
            switch limit.kind {
            case .burst: ":b"
            case .concurrency: ":c"
            default: ":" + stem(limit)
            }
        }.joined()
    }

    /// A lease lapses between one lease and one lease plus a slot after its admission.
    static let slotsPerLease: Int64 = 16

    /// The slot of a lease admitted at `admittedAt` (store µs). The native twins keep slots as
    /// numbers and render a slot's field (`field(slot:)`) once per batch, not once per request.
    static func slot(admittedAt: Int64, shape: LimitScripts.Shape) -> Int64 {
        (admittedAt + shape.leaseMicros) / shape.slotMicros
    }

    /// The field holding a lease slot's count.
    static func field(slot: Int64) -> String { "L" + String(slot) }
}
