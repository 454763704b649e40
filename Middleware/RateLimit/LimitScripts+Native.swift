import GatewayCore

/// The native twins of a plan's scripts, over the memory store: the Lua of
/// `LimitScripts+AdmitLua.swift` and `LimitScripts+Lua.swift` step for step, with the limiter
/// values (`SlidingWindow`, `TokenBucket`, `ConcurrencyLimit`, `CalendarQuota`) deciding.
extension LimitScripts {
    static func admitNative(_ shape: Shape, _ storage: any ScriptStorage, _ keys: [String], _ arguments: [StoreValue])
        throws(StoreError) -> StoreValue
    {
        guard arguments.count == 1 || arguments.count == 2,
            let requests = ScriptBatch.admissions(keys: keys, argument: arguments[0])
        else { throw badArguments }
        // Settlements riding with the batch go first, as in the Lua (they validate before writing).
        if arguments.count == 2 { _ = try settleNative(shape, storage, keys, [arguments[1]]) }
        // One clock for the batch, as the Lua's one `TIME`; each request sees those before it.
        let now = storage.now.totalMicroseconds
        var replies: [Int64] = [now]
        replies.reserveCapacity(1 + shape.entries.count + requests.count * (2 + 2 * shape.entries.count))
        // The short form's resets, as the Lua's header (this twin answers in the long form only).
        for entry in shape.entries {
            switch entry.limit.kind {
            case .requests, .tokens:
                let window = SlidingWindow(limit: entry.limit.limit, windowMicros: entry.limit.parameter)
                replies.append(window.position(now: now).left + entry.limit.parameter)
            default: replies.append(0)
            }
        }
        // Each caller's counters are read once per batch and written once after it, as the Lua's
        // `state[lkey]`: a caller's run of requests in one batch costs one read and one write.
        var callers = BatchCallers<BatchCaller>()
        var scratch = AdmissionScratch()
        for request in requests {
            let c = callers.position(of: request.key) {
                if !shape.foldsUsage && !shape.fields.isEmpty { movePendingUsage(shape, storage, limiter: request.key) }
                if let stored = shape.counters(storage.hashGet(request.key, field: shape.countersField)) { return BatchCaller(stored) }
                // Absent: the live count rebuilt from the lease slots, and written (the Lua's `rebuild`).
                var fresh = BatchCaller(shape.absent)
                if let cn = shape.leaseCount {
                    fresh.values[cn] = lapse(shape, storage, request.key, now: now, lease: nil)
                    fresh.dirty = true
                }
                return fresh
            }
            admitOne(shape, storage, limiter: request.key, reserve: request.reserve, now: now,
                     caller: &callers.values[c], replies: &replies, scratch: &scratch)
        }
        for (limiter, caller) in zip(callers.keys, callers.values) where caller.dirty {
            var sets = [(shape.countersField, PackedIntegers(caller.values).bytes)]
            if let lease = caller.lease { sets.append((LimiterFields.field(slot: lease.slot), DecimalBytes.render(lease.count))) }
            storage.hashSet(limiter, fields: sets)
            storage.expire(limiter, ttlMicros: (millis(shape.limiterLifetimeMicros) + 1) * 1_000)
        }
        return PackedIntegers(replies).storeValue
    }

    /// A caller's limiter counters during one admission batch, in `shape.fields` order, and the
    /// batch's lease slot with its count.
    struct BatchCaller {
        var values: [Int64]
        var lease: (slot: Int64, count: Int64)?
        var dirty = false

        init(_ values: [Int64]) { self.values = values }
    }

    /// Buffers `admitOne` fills for each request, kept across the batch so a request allocates
    /// nothing: what an admission would count (swapped into the caller when it is admitted)
    /// and what each limit had before it.
    struct AdmissionScratch {
        var counted: [Int64] = []
        var available: [Int64] = []
    }

    /// One request of an admission batch, decided and (when admitted) counted in `caller`; its
    /// answer is appended to `replies`.
    static func admitOne(_ shape: Shape, _ storage: any ScriptStorage, limiter: String, reserve: Int64, now: Int64,
                         caller: inout BatchCaller, replies: inout [Int64], scratch: inout AdmissionScratch) {
        // The long form: -1 (admitted) or the refusing limit, retry, then remaining and reset per limit.
        let first = replies.count
        replies.append(-1)
        replies.append(0)
        // What to count if every limit admits, applied after the loop (all or nothing).
        scratch.counted.removeAll(keepingCapacity: true)
        scratch.counted.append(contentsOf: caller.values)
        scratch.available.removeAll(keepingCapacity: true)
        var lease = caller.lease
        var reservations: [String] = []
        for (offset, entry) in shape.entries.enumerated() {
            let limit = entry.limit
            let at = entry.firstField
            let decision: LimitDecision
            switch limit.kind {
            case .requests, .tokens:
                let cost = limit.kind == .tokens ? reserve : 1
                let window = SlidingWindow(limit: limit.limit, windowMicros: limit.parameter)
                let position = window.position(now: now)
                let (current, previous) = roll(caller.values, at: at, index: position.index)
                decision = window.decide(previous: previous, current: current, cost: cost, left: position.left)
                (scratch.counted[at], scratch.counted[at + 1], scratch.counted[at + 2]) = (position.index, current + cost, previous)
            case .burst:
                let bucket = TokenBucket(capacity: limit.limit, perMinute: limit.parameter)
                var state: TokenBucket.State?
                if caller.values[at] >= 0 { state = TokenBucket.State(tokens: caller.values[at], at: caller.values[at + 1]) }
                let (answer, next) = bucket.decide(state, now: now)
                decision = answer
                (scratch.counted[at], scratch.counted[at + 1]) = (next.tokens, now)
            case .concurrency:
                var live = caller.values[at]
                if live >= limit.limit {
                    live = lapse(shape, storage, limiter, now: now, lease: caller.lease)
                    if live != caller.values[at] { (caller.values[at], caller.dirty) = (live, true) }
                }
                decision = ConcurrencyLimit(limit: limit.limit).decide(live: live)
                let slot = LimiterFields.slot(admittedAt: now, shape: shape)
                let held =
                    lease?.slot == slot ? lease!.count : counter(storage.hashGet(limiter, field: LimiterFields.field(slot: slot)))
                scratch.counted[at] = live + 1
                lease = (slot, held + 1)
            case .dailyTokens, .monthlyTokens, .dailyCost, .monthlyCost:
                let daily = limit.kind == .dailyTokens || limit.kind == .dailyCost
                let period = daily ? CalendarPeriod.day(now: now) : CalendarPeriod.month(now: now)
                let key = String(limiter.dropLast()) + (daily ? "d:" : "m:") + String(period.index)
                let countsTokens = limit.kind == .dailyTokens || limit.kind == .monthlyTokens
                let used = countsTokens
                    ? counter(storage.hashGet(key, field: "prompt_tokens")) + counter(storage.hashGet(key, field: "completion_tokens"))
                        + counter(storage.hashGet(key, field: "reserved_tokens"))
                    : counter(storage.hashGet(key, field: "cost_nanos"))
                let cost = countsTokens ? reserve : 0
                decision = CalendarQuota(limit: limit.limit).decide(used: used, cost: cost, periodLeftMicros: period.left)
                if countsTokens { reservations.append(key) }
            }
            replies.append(decision.remaining)
            replies.append(decision.resetMicros)
            scratch.available.append(decision.available)
            if !decision.admitted {
                let retry = decision.retryMicros
                let (refusing, wait) = (replies[first], replies[first + 1])
                if refusing == -1 || (retry == -1 && wait != -1) || (wait != -1 && retry > wait) {
                    replies[first] = Int64(offset + 1)
                    replies[first + 1] = retry
                }
            }
        }
        guard replies[first] == -1 else {
            // Nothing was counted: every limit reports what it had before this request.
            for (i, units) in scratch.available.enumerated() { replies[first + 2 + 2 * i] = units }
            return
        }
        if !shape.fields.isEmpty {
            swap(&caller.values, &scratch.counted)
            caller.lease = lease
            caller.dirty = true
        }
        if reserve > 0 {
            for key in reservations {
                _ = storage.hashIncrement(key, field: "reserved_tokens", by: reserve)
                storage.expire(key, ttlMicros: millis(shape.retentionMicros) * 1_000)
            }
        }
    }

    /// A stored window (its index, current and previous counts, from `fields[at]`) rolled to
    /// window `index`: (current, previous).
    static func roll(_ fields: [Int64], at: Int, index: Int64) -> (Int64, Int64) {
        let (stored, current) = (fields[at], fields[at + 1])
        if stored == index { return (current, fields[at + 2]) }
        return stored == index - 1 ? (0, current) : (0, 0)
    }

    /// Drops the lease slots that have ended, with their counts, and answers the live count:
    /// the slots left, the batch's own (`lease`, not yet written) as the batch holds it (the
    /// Lua's `lapse`).
    static func lapse(_ shape: Shape, _ storage: any ScriptStorage, _ limiter: String, now: Int64,
                      lease: (slot: Int64, count: Int64)?) -> Int64 {
        let own = lease.map { LimiterFields.field(slot: $0.slot) }
        var live = lease?.count ?? 0
        for (field, value) in storage.hashGetAll(limiter) where field.utf8.first == UInt8(ascii: "L") && field != own {
            if let slot = Int64(field.dropFirst()) {
                if (slot + 1) * shape.slotMicros > now {
                    live += counter(value)
                } else {
                    storage.hashDelete(limiter, field: field)
                }
            } else if counter(value) > now {
                live += 1  // a lease of an earlier version (one field per request, its expiry as value)
            } else {
                storage.hashDelete(limiter, field: field)
            }
        }
        return live
    }

    static func settleNative(_ shape: Shape, _ storage: any ScriptStorage, _ keys: [String], _ arguments: [StoreValue])
        throws(StoreError) -> StoreValue
    {
        guard arguments.count == 1, let entries = ScriptBatch.entries(keys: keys, argument: arguments[0], arity: settleArity)
        else { throw badArguments }
        struct Caller {
            /// Lease slot → how many of the batch's leases it holds, in first-seen order.
            var leased = PeriodSums<Int64>()
            /// Per token window (in `shape.tokenWindows` order): window index → token delta.
            var deltas: [PeriodSums<Int64>]
            /// Day index (or -1 - month index) → the sums of `usageFields`.
            var usage = PeriodSums<Usage>()
        }
        /// Sums of one day's or month's `usageFields`, in that order (no array per entry).
        struct Usage {
            var sums: (Int64, Int64, Int64, Int64, Int64) = (0, 0, 0, 0, 0)

            mutating func add(requests: Int64, prompt: Int64, completion: Int64, cost: Int64, reserved: Int64) {
                sums = (sums.0 + requests, sums.1 + prompt, sums.2 + completion, sums.3 + cost, sums.4 + reserved)
            }

            var values: [Int64] { [sums.0, sums.1, sums.2, sums.3, sums.4] }
        }
        var now: Int64?
        var callers = BatchCallers<Caller>()
        for (limiter, values) in entries {
            let p = values.startIndex
            var at = values[p]
            let (requests, reserved, prompt, completion, cost) = (values[p + 1], values[p + 2], values[p + 3], values[p + 4], values[p + 5])
            // A request an admission script decided holds a lease when the plan takes one.
            let holds = shape.holdsLease && at != 0
            if at == 0 {
                if now == nil { now = storage.now.totalMicroseconds }
                at = now!
            }
            let c = callers.position(of: limiter) {
                Caller(deltas: Array(repeating: PeriodSums(), count: shape.tokenWindows.count))
            }
            if holds { callers.values[c].leased[LimiterFields.slot(admittedAt: at, shape: shape), fresh: 0] += requests }
            let delta = prompt + completion - reserved
            if delta != 0 {
                for j in shape.tokenWindows.indices {
                    let index = SlidingWindow(limit: 0, windowMicros: shape.tokenWindows[j].window).position(now: at).index
                    callers.values[c].deltas[j][index, fresh: 0] += delta
                }
            }
            let day = CalendarPeriod.day(now: at).index
            callers.values[c].usage[day, fresh: Usage()]
                .add(requests: requests, prompt: prompt, completion: completion, cost: cost, reserved: shape.quotaDay ? -reserved : 0)
            if shape.monthly {
                let month = CalendarPeriod.month(now: at).index
                callers.values[c].usage[-1 - month, fresh: Usage()]
                    .add(requests: requests, prompt: prompt, completion: completion, cost: cost, reserved: shape.quotaMonth ? -reserved : 0)
            }
        }
        for (limiter, caller) in zip(callers.keys, callers.values) {
            // The counters and the lease slots in one read, as the Lua's HMGET.
            let stored = storage.hashGet(limiter, fields: [shape.countersField] + caller.leased.periods.map { LimiterFields.field(slot: $0) })
            var sets: [(String, [UInt8])] = []
            var ended: [String] = []
            var released: Int64 = 0
            for (j, slot) in caller.leased.periods.enumerated() {
                // A slot that lapsed took its leases with it: only what is still counted is released.
                guard let held = stored[1 + j].flatMap(DecimalBytes.parse) else { continue }
                let release = min(held, caller.leased.sums[j])
                released += release
                let field = LimiterFields.field(slot: slot)
                if held > release { sets.append((field, DecimalBytes.render(held - release))) } else { ended.append(field) }
            }
            // Absent counters change nothing here: the live count is rebuilt from the slots.
            if var counters = shape.counters(stored[0]) {
                var changed = released > 0
                if let cn = shape.leaseCount { counters[cn] = max(0, counters[cn] - released) }
                for (j, window) in shape.tokenWindows.enumerated() {
                    let deltas = caller.deltas[j]
                    let at = window.firstField
                    let index = counters[at]
                    guard deltas[index] != nil || deltas[index - 1] != nil else { continue }
                    counters[at + 1] += deltas[index] ?? 0
                    counters[at + 2] += deltas[index - 1] ?? 0
                    changed = true
                }
                if changed { sets.append((shape.countersField, PackedIntegers(counters).bytes)) }
            }
            if !sets.isEmpty { storage.hashSet(limiter, fields: sets) }
            for field in ended { storage.hashDelete(limiter, field: field) }
            let base = String(limiter.dropLast())
            if shape.foldsUsage {
                // Into the limiter hash's pending usage (a folding plan has no month).
                let stored = storage.hashGet(limiter, field: PendingUsage.field)
                var pending = PendingUsage(stored)
                for (day, usage) in zip(caller.usage.periods, caller.usage.sums) {
                    pending.add(day: day, requests: usage.sums.0, prompt: usage.sums.1, completion: usage.sums.2, cost: usage.sums.3) {
                        addUsage(shape, storage, key: base + "d:" + String($0), sums: $1.sums)
                    }
                }
                storage.hashSet(limiter, field: PendingUsage.field, pending.bytes)
                if stored == nil { storage.expire(limiter, ttlMicros: (millis(shape.limiterLifetimeMicros) + 1) * 1_000) }
                continue
            }
            for (period, usage) in zip(caller.usage.periods, caller.usage.sums) {
                let key = period >= 0 ? base + "d:" + String(period) : base + "m:" + String(-1 - period)
                addUsage(shape, storage, key: key, sums: usage.values, month: period < 0)
            }
        }
        return .integer(Int64(entries.count))
    }

    /// Adds usage sums (`usageFields`' order, the first always written) to a day's or month's
    /// hash; the period's first requests make it and set its lifetime (the Lua's `usage_write`).
    static func addUsage(_ shape: Shape, _ storage: any ScriptStorage, key: String, sums: [Int64], month: Bool = false) {
        let ttl = shape.retentionMicros + (month ? 31 * CalendarPeriod.dayMicros : 0)
        let fresh = storage.hashGet(key, field: usageFields[0]) == nil
        var increments: [(String, Int64)] = []
        for (j, field) in usageFields.enumerated() where j == 0 || sums[j] != 0 { increments.append((field, sums[j])) }
        storage.hashIncrement(key, fields: increments)
        if fresh { storage.expire(key, ttlMicros: millis(ttl) * 1_000) }
    }

    /// A plan that does not fold usage moves what an earlier plan of the caller left pending
    /// in the limiter hash to its day hash (the Lua admission does it as it reads the counters).
    static func movePendingUsage(_ shape: Shape, _ storage: any ScriptStorage, limiter: String) {
        guard let stored = storage.hashGet(limiter, field: PendingUsage.field) else { return }
        let pending = PendingUsage(stored)
        if pending.day >= 0 { addUsage(shape, storage, key: String(limiter.dropLast()) + "d:" + String(pending.day), sums: pending.sums) }
        storage.hashDelete(limiter, field: PendingUsage.field)
    }

    static let usageFields = ["requests", "prompt_tokens", "completion_tokens", "cost_nanos", "reserved_tokens"]

    /// Lua's `tonumber(x) or 0` for a stored integer.
    static func counter(_ bytes: [UInt8]?) -> Int64 {
        bytes.flatMap(DecimalBytes.parse) ?? 0
    }
}

/// The callers of one script call, in first-seen order, each with its batch state. A batch is
/// mostly one caller's run, so the last caller found is checked (one string comparison, often
/// of the same string object) before the key is hashed.
struct BatchCallers<Caller> {
    private(set) var keys: [String] = []
    var values: [Caller] = []
    private var byKey: [String: Int] = [:]
    private var last = -1

    /// Where `key`'s state is in `values`, made by `fresh` when the batch first names it.
    mutating func position(of key: String, fresh: () -> Caller) -> Int {
        if last >= 0, keys[last] == key { return last }
        if let known = byKey[key] {
            last = known
            return known
        }
        last = keys.count
        keys.append(key)
        values.append(fresh())
        byKey[key] = last
        return last
    }
}

/// Sums by period (a window index, a day, a lease slot) in first-seen order, for one caller's
/// entries of a settlement batch. A batch's entries span a few periods, and mostly repeat the
/// one before, so a period is found by a scan from the newest rather than by hashing.
struct PeriodSums<Sum> {
    private(set) var periods: [Int64] = []
    var sums: [Sum] = []

    /// The sum of `period`, nil when no entry added to it.
    subscript(period: Int64) -> Sum? {
        guard let i = periods.lastIndex(of: period) else { return nil }
        return sums[i]
    }

    /// The sum of `period`, starting at `fresh` when no entry added to it yet.
    subscript(period: Int64, fresh fresh: Sum) -> Sum {
        get { self[period] ?? fresh }
        set {
            if let i = periods.lastIndex(of: period) {
                sums[i] = newValue
            } else {
                periods.append(period)
                sums.append(newValue)
            }
        }
    }
}
