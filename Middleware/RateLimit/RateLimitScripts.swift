import GatewayCore

/// The two store scripts of the rate-limit stage. `admit` decides every limit of a caller at
/// once, all or nothing, with the store's clock (`TIME`): one round trip before the request goes
/// upstream. `settle` runs when the answer has ended: it releases the concurrency lease,
/// reconciles the reserved tokens with the real usage and adds the usage to the caller's day and
/// month (the month only for tiers with a monthly limit). Each has a Lua body for Redis and a native twin for the memory store built from the
/// limiter values (`SlidingWindow`, `TokenBucket`, …); the contract tests hold them to the same answers.
public enum RateLimitScripts {
    /// - KEYS[1]: `CallerKeys.base(id)`.
    /// - ARGV: lease id (the request id; "" when no concurrency limit), tokens to reserve,
    ///   lease µs, usage retention µs, then `LimitPlan.arguments`.
    /// - Reply: `[admitted 1|0, refusing limit (1-based, 0 when admitted), retry µs (-1: never),
    ///   store now µs, then remaining and reset µs for each limit]`.
    public static let admit = StoreScript(name: "rate_admit", lua: admitLua, native: admitNative)

    /// Settles a batch of ended requests (a worker flushes what ended in one reactor turn, so
    /// settlement costs a fraction of a round trip per request under load).
    /// - KEYS: `CallerKeys.base(id)` of each entry.
    /// - ARGV: the entry count, then per entry: lease id, admission time µs (0: not admitted
    ///   by a script, use now), tokens reserved, prompt tokens, completion tokens, cost in
    ///   nano-dollars, usage retention µs, then `LimitPlan.arguments`. Reply: the entry count.
    public static let settle = StoreScript(name: "rate_settle", lua: settleLua, native: settleNative)

    static let badArguments = StoreError.server("ERR rate limit script: bad arguments")

    /// ARGV of `admit`.
    public static func admitArguments(lease: String, reserve: Int64, leaseMicros: Int64, retentionMicros: Int64,
                                      plan: LimitPlan) -> [StoreValue] {
        [.string(lease), .integer(reserve), .integer(leaseMicros), .integer(retentionMicros)] + plan.arguments
    }

    /// ARGV of `settle` for one entry (a batch concatenates entries after the count).
    public static func settleEntry(lease: String, admittedAt: Int64, reserved: Int64, promptTokens: Int64,
                                   completionTokens: Int64, costNanos: Int64, retentionMicros: Int64,
                                   plan: LimitPlan) -> [StoreValue] {
        [.string(lease), .integer(admittedAt), .integer(reserved), .integer(promptTokens), .integer(completionTokens),
         .integer(costNanos), .integer(retentionMicros)] + plan.arguments
    }

    static func errorText(_ error: StoreError) -> String {
        if case .server(let text) = error { return text }
        return "ERR script"
    }

    // MARK: Native twins

    @Sendable
    static func admitNative(_ storage: any ScriptStorage, _ keys: [String], _ arguments: [StoreValue]) throws(StoreError) -> StoreValue {
        guard keys.count == 1, arguments.count >= 5, let reserve = arguments[1].integer, let leaseMicros = arguments[2].integer,
            let retentionMicros = arguments[3].integer, let limits = LimitPlan.decode(arguments, from: 4)
        else { throw badArguments }
        let base = keys[0]
        let lease = string(arguments[0])
        let now = storage.now.totalMicroseconds
        let day = CalendarPeriod.day(now: now)
        let month = CalendarPeriod.month(now: now)

        var reply: [Int64] = [1, 0, 0, now]
        var available: [Int64] = []
        // What to write if every limit admits, applied after the loop (all or nothing).
        enum Write {
            case window(key: String, cost: Int64, ttlMicros: Int64)
            case bucket(tokens: Int64, ttlMicros: Int64)
            case lease(ttlMicros: Int64)
            case reserve(key: String, ttlMicros: Int64)
        }
        var writes: [Write] = []
        writes.reserveCapacity(limits.count)
        for (offset, limit) in limits.enumerated() {
            let decision: LimitDecision
            switch limit.kind {
            case .requests, .tokens:
                let cost = limit.kind == .tokens ? reserve : 1
                let window = SlidingWindow(limit: limit.limit, windowMicros: limit.parameter)
                let position = window.position(now: now)
                let key = base + (limit.kind == .tokens ? "t" : "r") + String(limit.parameter / 1_000_000) + ":"
                let current = counter(storage.get(key + String(position.index)))
                let previous = counter(storage.get(key + String(position.index - 1)))
                decision = window.decide(previous: previous, current: current, cost: cost, left: position.left)
                let ttlMillis = (Double(position.left + limit.parameter) / 1000).rounded(.up)
                writes.append(.window(key: key + String(position.index), cost: cost, ttlMicros: Int64(ttlMillis) * 1000))
            case .burst:
                let bucket = TokenBucket(capacity: limit.limit, perMinute: limit.parameter)
                var state: TokenBucket.State?
                if let tokens = storage.hashGet(base + "b", field: "t") {
                    state = TokenBucket.State(tokens: counter(tokens), at: counter(storage.hashGet(base + "b", field: "at")))
                }
                let (answer, next) = bucket.decide(state, now: now)
                decision = answer
                let ttlMillis = (Double(answer.resetMicros) / 1000).rounded(.up) + 1
                writes.append(.bucket(tokens: next.tokens, ttlMicros: Int64(ttlMillis) * 1000))
            case .concurrency:
                let key = base + "c"
                let leases = storage.hashGetAll(key)
                var live = Int64(leases.count)
                if live >= limit.limit {
                    for (field, expiry) in leases where counter(expiry) <= now {
                        storage.hashDelete(key, field: field)
                        live -= 1
                    }
                }
                decision = ConcurrencyLimit(limit: limit.limit).decide(live: live)
                writes.append(.lease(ttlMicros: Int64((Double(leaseMicros) / 1000).rounded(.up)) * 1000))
            case .dailyTokens, .monthlyTokens, .dailyCost, .monthlyCost:
                let daily = limit.kind == .dailyTokens || limit.kind == .dailyCost
                let key = base + (daily ? "d:" + String(day.index) : "m:" + String(month.index))
                let left = daily ? day.left : month.left
                let countsTokens = limit.kind == .dailyTokens || limit.kind == .monthlyTokens
                let used = countsTokens
                    ? counter(storage.hashGet(key, field: "prompt_tokens")) + counter(storage.hashGet(key, field: "completion_tokens"))
                        + counter(storage.hashGet(key, field: "reserved_tokens"))
                    : counter(storage.hashGet(key, field: "cost_nanos"))
                let cost = countsTokens ? reserve : 0
                decision = CalendarQuota(limit: limit.limit).decide(used: used, cost: cost, periodLeftMicros: left)
                if cost > 0 {
                    writes.append(.reserve(key: key, ttlMicros: Int64((Double(retentionMicros) / 1000).rounded(.up)) * 1000))
                }
            }
            reply += [decision.remaining, decision.resetMicros]
            available.append(decision.available)
            if !decision.admitted {
                reply[0] = 0
                let retry = decision.retryMicros
                if reply[1] == 0 || (retry == -1 && reply[2] != -1) || (reply[2] != -1 && retry > reply[2]) {
                    reply[1] = Int64(offset + 1)
                    reply[2] = retry
                }
            }
        }
        if reply[0] == 1 {
            for write in writes {
                switch write {
                case .window(let key, let cost, let ttlMicros):
                    // The counter's lifetime is set once, by the request that created it.
                    if storage.increment(key, by: cost) == cost { storage.expire(key, ttlMicros: ttlMicros) }
                case .bucket(let tokens, let ttlMicros):
                    storage.hashSet(base + "b", field: "t", DecimalBytes.render(tokens))
                    storage.hashSet(base + "b", field: "at", DecimalBytes.render(now))
                    storage.expire(base + "b", ttlMicros: ttlMicros)
                case .lease(let ttlMicros):
                    storage.hashSet(base + "c", field: lease, DecimalBytes.render(now + leaseMicros))
                    storage.expire(base + "c", ttlMicros: ttlMicros)
                case .reserve(let key, let ttlMicros):
                    _ = storage.hashIncrement(key, field: "reserved_tokens", by: reserve)
                    storage.expire(key, ttlMicros: ttlMicros)
                }
            }
        } else {
            // Nothing was counted: every limit reports what it had before this request.
            for (i, units) in available.enumerated() { reply[4 + 2 * i] = units }
        }
        return .array(reply.map { .integer($0) })
    }

    @Sendable
    static func settleNative(_ storage: any ScriptStorage, _ keys: [String], _ arguments: [StoreValue]) throws(StoreError) -> StoreValue {
        guard let count = arguments.first?.integer, count == keys.count else { throw badArguments }
        var position = 1
        var now: Int64?
        for base in keys {
            guard arguments.count >= position + 8, var at = arguments[position + 1].integer,
                let reserved = arguments[position + 2].integer, let prompt = arguments[position + 3].integer,
                let completion = arguments[position + 4].integer, let cost = arguments[position + 5].integer,
                let retentionMicros = arguments[position + 6].integer, let limitCount = arguments[position + 7].integer,
                limitCount >= 0, arguments.count >= position + 8 + 3 * Int(limitCount),
                let limits = LimitPlan.decode(Array(arguments[(position + 7)..<(position + 8 + 3 * Int(limitCount))]), from: 0)
            else { throw badArguments }
            if at == 0 {
                if now == nil { now = storage.now.totalMicroseconds }
                at = now!
            }
            settleOne(storage, base: base, lease: string(arguments[position]), at: at, reserved: reserved, prompt: prompt,
                      completion: completion, cost: cost, retentionMicros: retentionMicros, limits: limits)
            position += 8 + 3 * Int(limitCount)
        }
        guard position == arguments.count else { throw badArguments }
        return .integer(count)
    }

    static func settleOne(
        _ storage: any ScriptStorage, base: String, lease: String, at: Int64, reserved: Int64, prompt: Int64,
        completion: Int64, cost: Int64, retentionMicros: Int64, limits: [LimitPlan.Limit]
    ) {
        if !lease.isEmpty { storage.hashDelete(base + "c", field: lease) }
        let delta = prompt + completion - reserved
        var quotaDay = false
        var quotaMonth = false
        var monthly = false
        for limit in limits {
            switch limit.kind {
            case .tokens where delta != 0:
                let index = (Double(at) / Double(limit.parameter)).rounded(.down)
                let key = base + "t" + String(limit.parameter / 1_000_000) + ":" + String(Int64(index))
                if storage.get(key) != nil { _ = storage.increment(key, by: delta) }
            case .dailyTokens: quotaDay = true
            case .monthlyTokens: (quotaMonth, monthly) = (true, true)
            case .monthlyCost: monthly = true
            default: break
            }
        }
        // The month's totals are kept only for callers with a monthly limit to check them against.
        var periods = [(base + "d:" + String(CalendarPeriod.day(now: at).index), quotaDay, retentionMicros)]
        if monthly {
            periods.append((base + "m:" + String(CalendarPeriod.month(now: at).index), quotaMonth,
                            retentionMicros + 31 * CalendarPeriod.dayMicros))
        }
        for (key, holdsReservation, retention) in periods {
            let first = storage.hashIncrement(key, field: "requests", by: 1) == 1
            if prompt != 0 { _ = storage.hashIncrement(key, field: "prompt_tokens", by: prompt) }
            if completion != 0 { _ = storage.hashIncrement(key, field: "completion_tokens", by: completion) }
            if cost != 0 { _ = storage.hashIncrement(key, field: "cost_nanos", by: cost) }
            if holdsReservation && reserved != 0 { _ = storage.hashIncrement(key, field: "reserved_tokens", by: -reserved) }
            if first {
                let ttlMillis = (Double(retention) / 1000).rounded(.up)
                storage.expire(key, ttlMicros: Int64(ttlMillis) * 1000)
            }
        }
    }

    /// Lua's `tonumber(x) or 0` for a stored integer.
    static func counter(_ bytes: [UInt8]?) -> Int64 {
        bytes.flatMap(DecimalBytes.parse) ?? 0
    }

    static func string(_ value: StoreValue) -> String {
        if case .bytes(let bytes) = value { return String(decoding: bytes, as: UTF8.self) }
        if case .integer(let number) = value { return String(number) }
        return ""
    }
}
