import GatewayCore

/// The native twins of a plan's scripts, over the memory store: the Lua of
/// `LimitScripts+AdmitLua.swift` and `LimitScripts+Lua.swift` step for step, with the limiter
/// values (`SlidingWindow`, `TokenBucket`, `ConcurrencyLimit`, `CalendarQuota`) deciding.
extension LimitScripts {
    static func admitNative(_ shape: Shape, _ storage: any ScriptStorage, _ keys: [String], _ arguments: [StoreValue])
        throws(StoreError) -> StoreValue
    {
        guard arguments.count == 1 || arguments.count == 2,
            let requests = ScriptBatch.entries(keys: keys, argument: arguments[0], arity: 1)
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
        var callers: [BatchCaller] = []
        var order: [String] = []
        var position: [String: Int] = [:]
        for request in requests {
            let c: Int
            if let known = position[request.key] {
                c = known
            } else {
                c = callers.count
                position[request.key] = c
                order.append(request.key)
                callers.append(BatchCaller(storage.hashGet(request.key, fields: shape.fields).map { $0.flatMap(DecimalBytes.parse) }))
            }
            replies += admitOne(shape, storage, limiter: request.key, reserve: request.values.first!, now: now, caller: &callers[c])
        }
        for (c, limiter) in order.enumerated() where callers[c].dirty {
            var sets: [(String, [UInt8])] = []
            for (field, value) in zip(shape.fields, callers[c].values) {
                if let value { sets.append((field, DecimalBytes.render(value))) }
            }
            if let lease = callers[c].lease { sets.append((lease.field, DecimalBytes.render(lease.count))) }
            storage.hashSet(limiter, fields: sets)
            storage.expire(limiter, ttlMicros: (millis(shape.keepMicros) + 1) * 1_000)
        }
        return PackedIntegers(replies).storeValue
    }

    /// A caller's limiter counters during one admission batch: the plan's fields as numbers
    /// (nil where absent), in `shape.fields` order, and the count of the batch's lease slot.
    struct BatchCaller {
        var values: [Int64?]
        var lease: (field: String, count: Int64)?
        var dirty = false

        init(_ values: [Int64?]) { self.values = values }
    }

    /// One request of an admission batch, decided and (when admitted) counted in `caller`.
    static func admitOne(_ shape: Shape, _ storage: any ScriptStorage, limiter: String, reserve: Int64, now: Int64,
                         caller: inout BatchCaller) -> [Int64] {
        // The long form: -1 (admitted) or the refusing limit, retry, then remaining and reset per limit.
        var reply: [Int64] = [-1, 0]
        var available: [Int64] = []
        // What to count if every limit admits, applied after the loop (all or nothing).
        var counted = caller.values
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
                let (current, previous) = roll(caller.values[at...], index: position.index)
                decision = window.decide(previous: previous, current: current, cost: cost, left: position.left)
                (counted[at], counted[at + 1], counted[at + 2]) = (position.index, current + cost, previous)
            case .burst:
                let bucket = TokenBucket(capacity: limit.limit, perMinute: limit.parameter)
                var state: TokenBucket.State?
                if let tokens = caller.values[at] {
                    state = TokenBucket.State(tokens: tokens, at: caller.values[at + 1] ?? 0)
                }
                let (answer, next) = bucket.decide(state, now: now)
                decision = answer
                (counted[at], counted[at + 1]) = (next.tokens, now)
            case .concurrency:
                var live = caller.values[at] ?? 0
                if live >= limit.limit {
                    live = lapse(shape, storage, limiter, now: now, live: live)
                    caller.values[at] = live
                }
                decision = ConcurrencyLimit(limit: limit.limit).decide(live: live)
                let slot = LimiterFields.slot(admittedAt: now, shape: shape)
                let held = lease?.field == slot ? lease!.count : counter(storage.hashGet(limiter, field: slot))
                counted[at] = live + 1
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
            reply += [decision.remaining, decision.resetMicros]
            available.append(decision.available)
            if !decision.admitted {
                let retry = decision.retryMicros
                if reply[0] == -1 || (retry == -1 && reply[1] != -1) || (reply[1] != -1 && retry > reply[1]) {
                    reply[0] = Int64(offset + 1)
                    reply[1] = retry
                }
            }
        }
        guard reply[0] == -1 else {
            // Nothing was counted: every limit reports what it had before this request.
            for (i, units) in available.enumerated() { reply[2 + 2 * i] = units }
            return reply
        }
        if !shape.fields.isEmpty {
            caller.values = counted
            caller.lease = lease
            caller.dirty = true
        }
        if reserve > 0 {
            for key in reservations {
                _ = storage.hashIncrement(key, field: "reserved_tokens", by: reserve)
                storage.expire(key, ttlMicros: millis(shape.retentionMicros) * 1_000)
            }
        }
        return reply
    }

    /// A stored window (its index, current and previous counts, as numbers) rolled to window
    /// `index`: (current, previous).
    static func roll(_ fields: ArraySlice<Int64?>, index: Int64) -> (Int64, Int64) {
        let at = fields.startIndex
        guard let stored = fields[at] else { return (0, 0) }
        let current = fields[at + 1] ?? 0
        if stored == index { return (current, fields[at + 2] ?? 0) }
        return stored == index - 1 ? (0, current) : (0, 0)
    }

    /// Drops the lease slots that have ended, with their counts (the Lua's `lapse`).
    static func lapse(_ shape: Shape, _ storage: any ScriptStorage, _ limiter: String, now: Int64, live: Int64) -> Int64 {
        var removed: Int64 = 0
        for (field, value) in storage.hashGetAll(limiter) where field.utf8.first == UInt8(ascii: "L") {
            if let slot = Int64(field.dropFirst()) {
                if (slot + 1) * shape.slotMicros <= now, storage.hashDelete(limiter, field: field) { removed += counter(value) }
            } else if counter(value) <= now, storage.hashDelete(limiter, field: field) {
                removed += 1  // a lease of an earlier version (one field per request, its expiry as value)
            }
        }
        guard removed > 0 else { return live }
        let left = max(0, live - removed)
        storage.hashSet(limiter, field: "cn", DecimalBytes.render(left))
        return left
    }

    static func settleNative(_ shape: Shape, _ storage: any ScriptStorage, _ keys: [String], _ arguments: [StoreValue])
        throws(StoreError) -> StoreValue
    {
        guard arguments.count == 1, let entries = ScriptBatch.entries(keys: keys, argument: arguments[0], arity: settleArity)
        else { throw badArguments }
        struct Usage {
            var prefix: String
            var index: Int64
            var ttl: Int64
            var sums: [Int64] = [0, 0, 0, 0, 0]
        }
        struct Caller {
            /// Lease slots in first-seen order, and how many of the batch's leases each holds.
            var leases: [String] = []
            var leased: [String: Int64] = [:]
            /// Per token window (in `shape.tokenStems` order): window index → token delta.
            var deltas: [[Int64: Int64]]
            var usage: [Int64: Usage] = [:]
            var slots: [Int64] = []

            mutating func add(slot: Int64, _ fresh: @autoclosure () -> Usage, _ values: [Int64]) {
                if usage[slot] == nil {
                    usage[slot] = fresh()
                    slots.append(slot)
                }
                for i in 0..<5 { usage[slot]!.sums[i] += values[i] }
            }
        }
        var now: Int64?
        // Callers in first-seen order; `position` finds a caller's entry with one hash per entry.
        var callers: [Caller] = []
        var order: [String] = []
        var position: [String: Int] = [:]
        for (limiter, values) in entries {
            let p = values.startIndex
            var at = values[p]
            let (reserved, prompt, completion, cost) = (values[p + 1], values[p + 2], values[p + 3], values[p + 4])
            // A request an admission script decided holds a lease when the plan takes one.
            let holds = shape.holdsLease && at != 0
            if at == 0 {
                if now == nil { now = storage.now.totalMicroseconds }
                at = now!
            }
            let c: Int
            if let known = position[limiter] {
                c = known
            } else {
                c = callers.count
                position[limiter] = c
                callers.append(Caller(deltas: Array(repeating: [:], count: shape.tokenStems.count)))
                order.append(limiter)
            }
            if holds {
                let slot = LimiterFields.slot(admittedAt: at, shape: shape)
                if callers[c].leased[slot] == nil { callers[c].leases.append(slot) }
                callers[c].leased[slot, default: 0] += 1
            }
            let delta = prompt + completion - reserved
            if delta != 0 {
                for (j, window) in shape.tokenStems.enumerated() {
                    let index = SlidingWindow(limit: 0, windowMicros: window.window).position(now: at).index
                    callers[c].deltas[j][index, default: 0] += delta
                }
            }
            let day = CalendarPeriod.day(now: at).index
            callers[c].add(slot: day, Usage(prefix: "d:", index: day, ttl: shape.retentionMicros),
                           [1, prompt, completion, cost, shape.quotaDay ? -reserved : 0])
            if shape.monthly {
                let month = CalendarPeriod.month(now: at).index
                callers[c].add(slot: -1 - month,
                               Usage(prefix: "m:", index: month, ttl: shape.retentionMicros + 31 * CalendarPeriod.dayMicros),
                               [1, prompt, completion, cost, shape.quotaMonth ? -reserved : 0])
            }
        }
        for (c, limiter) in order.enumerated() {
            let caller = callers[c]
            // The live count, the token windows and the lease slots in one read, as the Lua's HMGET.
            let stored = storage.hashGet(limiter, fields: shape.settleFields + caller.leases)
            var sets: [(String, [UInt8])] = []
            var ended: [String] = []
            var released: Int64 = 0
            for (j, slot) in caller.leases.enumerated() {
                // A slot that lapsed took its leases with it: only what is still counted is released.
                guard let held = stored[shape.settleFields.count + j].flatMap(DecimalBytes.parse) else { continue }
                let release = min(held, caller.leased[slot]!)
                released += release
                if held > release { sets.append((slot, DecimalBytes.render(held - release))) } else { ended.append(slot) }
            }
            if released > 0, let live = stored[0] {
                sets.append(("cn", DecimalBytes.render(max(0, counter(live) - released))))
            }
            for (j, window) in shape.tokenStems.enumerated() {
                let deltas = caller.deltas[j]
                guard let index = stored[1 + 3 * j].flatMap(DecimalBytes.parse), deltas[index] != nil || deltas[index - 1] != nil
                else { continue }
                let current = counter(stored[2 + 3 * j]) + (deltas[index] ?? 0)
                let previous = counter(stored[3 + 3 * j]) + (deltas[index - 1] ?? 0)
                sets.append((window.stem + "c", DecimalBytes.render(current)))
                sets.append((window.stem + "p", DecimalBytes.render(previous)))
            }
            if !sets.isEmpty { storage.hashSet(limiter, fields: sets) }
            for slot in ended { storage.hashDelete(limiter, field: slot) }
            let base = String(limiter.dropLast())
            for slot in caller.slots {
                let usage = caller.usage[slot]!
                let key = base + usage.prefix + String(usage.index)
                let fresh = storage.hashGet(key, field: usageFields[0]) == nil
                var increments: [(String, Int64)] = []
                for (j, field) in usageFields.enumerated() where j == 0 || usage.sums[j] != 0 { increments.append((field, usage.sums[j])) }
                storage.hashIncrement(key, fields: increments)
                if fresh { storage.expire(key, ttlMicros: millis(usage.ttl) * 1_000) }
            }
        }
        return .integer(Int64(entries.count))
    }

    static let usageFields = ["requests", "prompt_tokens", "completion_tokens", "cost_nanos", "reserved_tokens"]

    /// Lua's `tonumber(x) or 0` for a stored integer.
    static func counter(_ bytes: [UInt8]?) -> Int64 {
        bytes.flatMap(DecimalBytes.parse) ?? 0
    }
}
