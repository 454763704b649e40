import GatewayCore
import Middleware
import State
import Testing

/// Contract cases for the rate-limit stage's scripts: the Lua bodies on Redis and their native
/// twins on the memory store must give the same answers (see `StateStoreContract`).
extension StateStoreContract {
    static let rateLimitCases: [Case] = [
        Case(name: "rate admit: every limit at once, all or nothing", body: rateAdmitAllOrNothing),
        Case(name: "rate admit: concurrency leases until settled", body: rateAdmitConcurrency),
        Case(name: "rate settle: reconciles reserved tokens and records usage", body: rateSettleReconciles),
        Case(name: "rate admit: a daily token quota counts usage and reservations", body: rateDailyQuota),
        Case(name: "rate admit: token bucket refills at its rate", body: rateBucketRefills),
        Case(name: "rate settle: one batch folds a caller's entries", body: rateSettleFoldsABatch),
        Case(name: "rate settle: one batch spans lease slots, token windows and callers", body: rateSettleSpansPeriods),
        Case(name: "rate settle: an entry for several requests settles them all", body: rateSettleCountsRequests),
        Case(name: "rate admit: a batch decides its requests in order, each all or nothing", body: rateAdmitBatch),
        Case(name: "rate admit: settlements riding with a batch go first", body: rateAdmitWithRidingSettlements),
        Case(name: "rate admit: riding settlements of admitted callers, others and other slots", body: rateAdmitMergesRiders),
        Case(name: "rate admit: a merged riding settlement of the window before", body: rateAdmitMergesThePreviousWindow),
        Case(name: "rate admit: a caller's two riding entries settle together", body: rateAdmitGathersACallersTwoRiders),
        Case(name: "rate admit: a window's fractional use leaves its remaining rounded down", body: rateAdmitRoundsDown),
        Case(name: "rate settle: usage waits in the limiter hash until a later day's", body: ratePendingUsageMovesToItsDay),
        Case(name: "rate admit: a caller's run at once, each request answered as on its own", body: rateAdmitRunsAtOnce),
        Case(name: "rate admit: a reload that changes the counted limits keeps the leases", body: rateLayoutChangeKeepsLeases),
        Case(name: "rate scripts refuse malformed arguments", body: rateBadArguments),
    ].map { rate in
        Case(name: rate.name) { env in
            try await env.clearOfSlotEnd(slot: leaseMicros / 16, margin: 3 * second)
            try await rate.body(env)
        }
    }

    struct RateReply {
        var admitted: Bool
        var refusedBy: Int
        var retry: Int64
        var now: Int64
        /// (remaining, reset) per limit.
        var limits: [(Int64, Int64)]
    }

    /// A caller's usage of a day, its pending part included (`DayUsage`).
    static func dayUsage(_ env: Environment, _ base: String, _ day: Int64) async throws -> [String: Int64] {
        try await DayUsage.read(env.store, base: base, day: day)
    }

    static func rateAdmit(_ env: Environment, _ base: String, _ plan: LimitPlan, reserve: Int64 = 0) async throws -> RateReply {
        var call = ScriptBatch(entries: 1, arity: 1)
        _ = LimitScripts.appendAdmissions([(base + "l", reserve)], to: &call)
        let reply = try await env.store.run(compiled(plan).admit, keys: call.keys, arguments: call.arguments)
        // Read as the stage reads it: the Lua may answer in the short form, its twin in the long.
        let answer = try #require(RateLimitSnapshot(plan: plan, reply: reply), "reply \(reply)")
        return RateReply(admitted: answer.admitted, refusedBy: answer.refusedBy.map { $0 + 1 } ?? 0, retry: answer.retryMicros,
                         now: answer.decidedAt, limits: answer.entries.map { ($0.remaining, $0.resetMicros) })
    }

    static func rateSettle(_ env: Environment, _ base: String, _ plan: LimitPlan, admittedAt: Int64,
                           reserved: Int64, prompt: Int64, completion: Int64, cost: Int64 = 0) async throws {
        var call = ScriptBatch(entries: 1, arity: 5)
        LimitScripts.appendSettlement(to: &call, limiter: base + "l", admittedAt: admittedAt, reserved: reserved,
                                      promptTokens: prompt, completionTokens: completion, costNanos: cost)
        let reply = try await env.store.run(compiled(plan).settle, keys: call.keys, arguments: call.arguments)
        #expect(reply.integer == 1)
    }

    /// A concurrency limit and 1,000 tokens an hour.
    /// An hour's requests and tokens, and leases: a plan whose admissions take the straight path.
    static func requestsTokensAndLeases(requests: Int64, tokens: Int64, concurrency: Int64) -> LimitPlan {
        LimitPlan(limits: [
            .init(.requests, limit: requests, parameter: hour, name: "rph"),
            .init(.tokens, limit: tokens, parameter: hour, name: "tph"),
            .init(.concurrency, limit: concurrency, name: "concurrency"),
        ])
    }

    static func leasesAndTokens(concurrency: Int64) -> LimitPlan {
        LimitPlan(limits: [
            .init(.concurrency, limit: concurrency, name: "concurrency"),
            .init(.tokens, limit: 1_000, parameter: hour, name: "tph"),
        ])
    }

    /// Leases live ten minutes, in slots of a sixteenth of that (`LimiterFields.slotsPerLease`).
    static let leaseMicros: Int64 = 600 * second

    static func compiled(_ plan: LimitPlan) -> LimitScripts {
        LimitScripts(plan: plan, leaseMicros: leaseMicros, retentionMicros: 86_400 * second)
    }

    static func rateAdmitAllOrNothing(_ env: Environment) async throws {
        let base = env.key("caller") + ":"
        let plan = LimitPlan(limits: [
            .init(.requests, limit: 3, parameter: hour, name: "rph"),
            .init(.tokens, limit: 1_000, parameter: hour, name: "tph"),
        ])
        // Two requests of 400 tokens fit; the third fits the request limit but not the tokens,
        // so nothing of it is counted: a fourth of 100 tokens still passes both.
        for expected in [(Int64(2), Int64(600)), (1, 200)] {
            let reply = try await rateAdmit(env, base, plan, reserve: 400)
            #expect(reply.admitted)
            #expect(reply.limits[0].0 == expected.0 && reply.limits[1].0 == expected.1)
        }
        let refused = try await rateAdmit(env, base, plan, reserve: 400)
        #expect(!refused.admitted)
        #expect(refused.refusedBy == 2)
        #expect(refused.retry > 0)
        #expect(refused.limits[0].0 == 1 && refused.limits[1].0 == 200)
        let small = try await rateAdmit(env, base, plan, reserve: 100)
        #expect(small.admitted)
        #expect(small.limits[0].0 == 0 && small.limits[1].0 == 100)
        // Now the request limit refuses, and a request larger than the token limit never fits.
        let full = try await rateAdmit(env, base, plan, reserve: 1)
        #expect(!full.admitted && full.refusedBy == 1)
        let huge = try await rateAdmit(env, base, LimitPlan(limits: [plan.limits[1]]), reserve: 5_000)
        #expect(!huge.admitted && huge.retry == -1)
    }

    static func rateAdmitConcurrency(_ env: Environment) async throws {
        let base = env.key("caller") + ":"
        let plan = LimitPlan(limits: [.init(.concurrency, limit: 2, name: "concurrency")])
        let first = try await rateAdmit(env, base, plan)
        let other = try await rateAdmit(env, base, plan)
        #expect(first.admitted && first.limits[0].0 == 1)
        #expect(other.admitted && other.limits[0].0 == 0)
        let third = try await rateAdmit(env, base, plan)
        #expect(!third.admitted && third.retry == ConcurrencyLimit.retryMicros)
        try await rateSettle(env, base, plan, admittedAt: first.now, reserved: 0, prompt: 0, completion: 0)
        let fourth = try await rateAdmit(env, base, plan)
        #expect(fourth.admitted)
        // Leases live in slots of a sixteenth of the lease (here 37.5 s): few fields, however
        // many requests are in flight.
        let slots = try await env.store.hashGetAll(base + "l").keys.filter { $0.hasPrefix("L") }
        #expect(slots.count == 1)
        // Leases whose holders died lapse when their slot ends, with their counts: here two that
        // ended long ago hold a fresh caller at its limit until an admission clears them.
        let dead = env.key("dead") + ":"
        try await setCounters(env, dead + "l", plan, ["cn": 2])
        try await env.store.hashSet(dead + "l", field: "L1000", bytes("2"))
        let revived = try await rateAdmit(env, dead, plan)
        #expect(revived.admitted && revived.limits[0].0 == 1)
        #expect(try await env.store.hashGet(dead + "l", field: "L1000") == nil)
        // A lease an earlier version left (a field per request, valued with its expiry) lapses too.
        let old = env.key("old") + ":"
        try await setCounters(env, old + "l", plan, ["cn": 2])
        try await env.store.hashSet(old + "l", field: "Lreq-1", bytes("1000"))
        try await env.store.hashSet(old + "l", field: "Lreq-2", bytes(String(Int64.max / 2)))
        let upgraded = try await rateAdmit(env, old, plan)
        #expect(upgraded.admitted && upgraded.limits[0].0 == 0)
        #expect(try await env.store.hashGet(old + "l", field: "Lreq-1") == nil)
        // A lease whose holder died lapses one lease and at most a slot after its admission.
        try await env.after(micros: 638 * second) { () async throws in
            let fifth = try await rateAdmit(env, base, plan)
            #expect(fifth.admitted && fifth.limits[0].0 == 1)
        }
    }

    static func rateSettleReconciles(_ env: Environment) async throws {
        let base = env.key("caller") + ":"
        let plan = LimitPlan(limits: [.init(.tokens, limit: 1_000, parameter: hour, name: "tph")])
        let admitted = try await rateAdmit(env, base, plan, reserve: 900)
        #expect(admitted.admitted && admitted.limits[0].0 == 100)
        // The answer used 150 tokens, not 900: 750 come back to the window.
        try await rateSettle(env, base, plan, admittedAt: admitted.now, reserved: 900, prompt: 100, completion: 50, cost: 7)
        let next = try await rateAdmit(env, base, plan, reserve: 800)
        #expect(next.admitted && next.limits[0].0 == 50)
        let day = CalendarPeriod.day(now: admitted.now).index
        let usage = try await dayUsage(env, base, day)
        #expect(usage["requests"] == 1)
        #expect(usage["prompt_tokens"] == 100)
        #expect(usage["completion_tokens"] == 50)
        #expect(usage["cost_nanos"] == 7)
        // No monthly limit: no month totals are kept.
        let month = CalendarPeriod.month(now: admitted.now).index
        #expect(try await env.store.hashGetAll(base + "m:" + String(month)).isEmpty)
        let monthly = LimitPlan(limits: [.init(.monthlyCost, limit: 1_000, name: "cpmo")])
        let monthAdmission = try await rateAdmit(env, base, monthly)
        try await rateSettle(env, base, monthly, admittedAt: monthAdmission.now, reserved: 0, prompt: 1, completion: 2, cost: 300)
        #expect(try await env.store.hashGetAll(base + "m:" + String(month))["cost_nanos"] == bytes("300"))
    }

    static func rateSettleFoldsABatch(_ env: Environment) async throws {
        let base = env.key("caller") + ":"
        let other = env.key("other") + ":"
        let plan = leasesAndTokens(concurrency: 2)
        let scripts = compiled(plan)
        let first = try await rateAdmit(env, base, plan, reserve: 400)
        let second = try await rateAdmit(env, base, plan, reserve: 400)
        let third = try await rateAdmit(env, other, plan, reserve: 100)
        #expect(first.admitted && second.admitted && third.admitted)
        #expect(!(try await rateAdmit(env, base, plan, reserve: 1)).admitted)
        // One call: both of the caller's entries (two leases back, 800 reserved vs 150 used) and the other's.
        let entries: [(String, String, RateReply, Int64, Int64)] = [
            (base, "a", first, 400, 100), (other, "c", third, 100, 100), (base, "b", second, 400, 50),
        ]
        var call = ScriptBatch(entries: entries.count, arity: LimitScripts.settleArity)
        for entry in entries {
            LimitScripts.appendSettlement(to: &call, limiter: entry.0 + "l", admittedAt: entry.2.now, reserved: entry.3,
                                          promptTokens: entry.4, completionTokens: 0, costNanos: 1)
        }
        #expect(call.keys == [base + "l", other + "l"])  // each caller's key once
        let reply = try await env.store.run(scripts.settle, keys: call.keys, arguments: call.arguments)
        #expect(reply.integer == 3)
        let next = try await rateAdmit(env, base, plan, reserve: 800)
        #expect(next.admitted && next.limits[0].0 == 1 && next.limits[1].0 == 50)
        let day = CalendarPeriod.day(now: first.now).index
        let usage = try await dayUsage(env, base, day)
        #expect(usage["requests"] == 2)
        #expect(usage["prompt_tokens"] == 150)
        #expect(usage["cost_nanos"] == 2)
        #expect(try await dayUsage(env, other, day)["requests"] == 1)
    }

    /// `count` requests of the caller at `base` in one admission call (one store time), each
    /// reserving `reserve`: their answers.
    static func admitTogether(_ env: Environment, _ base: String, _ plan: LimitPlan, count: Int, reserve: Int64) async throws
        -> [RateLimitSnapshot]
    {
        var admit = ScriptBatch(entries: count, arity: 1)
        let layout = LimitScripts.appendAdmissions(Array(repeating: (base + "l", reserve), count: count), to: &admit)
        let reply = try await env.store.run(compiled(plan).admit, keys: admit.keys, arguments: admit.arguments)
        return try (0..<count).map { try #require(RateLimitSnapshot(plan: plan, reply: reply, layout: layout, entry: $0), "reply \(reply)") }
    }

    static func rateSettleSpansPeriods(_ env: Environment) async throws {
        let base = env.key("caller") + ":"
        let other = env.key("other") + ":"
        let plan = leasesAndTokens(concurrency: 2)
        let scripts = compiled(plan)
        // Two leases in one admission call: one instant, so one lease slot.
        let answers = try await admitTogether(env, base, plan, count: 2, reserve: 400)
        #expect(answers.map(\.admitted) == [true, true])
        let at = answers[0].decidedAt
        // One call, the callers interleaved: both leases back (800 reserved, 500 used in this
        // window), an entry of the hour before (the previous window's count, a lease slot long
        // gone, perhaps another day) and an entry of another caller that no admission decided.
        let entries: [(String, Int64, Int64, Int64)] = [
            (base, at, 400, 100), (other, 0, 0, 5), (base, at - hour, 0, 50), (base, at, 400, 400),
        ]
        var settle = ScriptBatch(entries: entries.count, arity: LimitScripts.settleArity)
        for entry in entries {
            LimitScripts.appendSettlement(to: &settle, limiter: entry.0 + "l", admittedAt: entry.1, reserved: entry.2,
                                          promptTokens: entry.3, completionTokens: 0, costNanos: 0)
        }
        let settled = try await env.store.run(scripts.settle, keys: settle.keys, arguments: settle.arguments)
        #expect(settled.integer == 4)
        let limiter = try await limiterHash(env, base + "l", plan)
        #expect(limiter["cn"] == "0" && limiter["t3600c"] == "500" && limiter["t3600p"] == "50")
        #expect(!limiter.keys.contains { $0.hasPrefix("L") })  // the slot went with its last lease
        let (requests, prompt) = try await usageNowAndAnHourBefore(env, base, at: at)
        #expect(requests == 3 && prompt == 550)
        // No counters for a caller no admission decided; only its usage waits there.
        #expect(try await env.store.hashGetAll(other + "l").keys.sorted() == [PendingUsage.field])
        let otherDay = try await dayUsage(env, other, CalendarPeriod.day(now: at).index)
        #expect(otherDay["requests"] == 1 && otherDay["prompt_tokens"] == 5)
    }

    /// The gateway sends a caller's requests admitted in one batch as one entry (their sums and
    /// how many): it must settle exactly as their entries one by one would.
    static func rateSettleCountsRequests(_ env: Environment) async throws {
        let base = env.key("caller") + ":"
        let plan = leasesAndTokens(concurrency: 3)
        let scripts = compiled(plan)
        let answers = try await admitTogether(env, base, plan, count: 3, reserve: 300)
        #expect(answers.map(\.admitted) == [true, true, true])
        // Two of the three in one entry (600 reserved, 300 used), the third on its own.
        var settle = ScriptBatch(entries: 2, arity: LimitScripts.settleArity)
        LimitScripts.appendSettlement(to: &settle, limiter: base + "l", admittedAt: answers[0].decidedAt, requests: 2, reserved: 600,
                                      promptTokens: 200, completionTokens: 100, costNanos: 6)
        let settled = try await env.store.run(scripts.settle, keys: settle.keys, arguments: settle.arguments)
        #expect(settled.integer == 1)
        let limiter = try await limiterHash(env, base + "l", plan)
        // One lease left (the third's), and the window holds 900 reserved - 600 + 300 used.
        #expect(limiter["cn"] == "1" && limiter["t3600c"] == "600")
        #expect(limiter.filter { $0.key.hasPrefix("L") }.values.sorted() == ["1"])
        let usage = try await dayUsage(env, base, CalendarPeriod.day(now: answers[0].decidedAt).index)
        #expect(usage["requests"] == 2 && usage["prompt_tokens"] == 200)
        #expect(usage["completion_tokens"] == 100 && usage["cost_nanos"] == 6)
        // The same entry riding with an admission: the third's lease comes back, two fit again.
        var next = ScriptBatch(entries: 2, arity: 1)
        let layout = LimitScripts.appendAdmissions([(base + "l", 0), (base + "l", 0)], to: &next)
        LimitScripts.appendSettlement(to: &next, section: 1, limiter: base + "l", admittedAt: answers[0].decidedAt, requests: 1,
                                      reserved: 300, promptTokens: 0, completionTokens: 0, costNanos: 0)
        let again = try await env.store.run(scripts.admit, keys: next.keys, arguments: next.arguments)
        let decided = try (0..<2).map { try #require(RateLimitSnapshot(plan: plan, reply: again, layout: layout, entry: $0), "reply \(again)") }
        #expect(decided.map(\.admitted) == [true, true])
        let after = try await dayUsage(env, base, CalendarPeriod.day(now: answers[0].decidedAt).index)
        #expect(after["requests"] == 3)
    }

    static func rateDailyQuota(_ env: Environment) async throws {
        let base = env.key("caller") + ":"
        let plan = LimitPlan(limits: [.init(.dailyTokens, limit: 1_000, name: "tpd"), .init(.dailyCost, limit: 50, name: "cpd")])
        let first = try await rateAdmit(env, base, plan, reserve: 600)
        #expect(first.admitted && first.limits[0].0 == 400)
        // In flight, its reservation counts: a second 600 does not fit.
        let overReserved = try await rateAdmit(env, base, plan, reserve: 600)
        #expect(!overReserved.admitted && overReserved.refusedBy == 1 && overReserved.retry > 0)
        try await rateSettle(env, base, plan, admittedAt: first.now, reserved: 600, prompt: 200, completion: 100, cost: 60)
        // 300 used, nothing reserved: 600 fits the tokens, but the cost quota (60 > 50) is spent.
        let third = try await rateAdmit(env, base, plan, reserve: 600)
        #expect(!third.admitted && third.refusedBy == 2)
        #expect(third.limits[0].0 == 700 && third.limits[1].0 == 0)
        let day = CalendarPeriod.day(now: first.now)
        #expect(third.retry > 0 && third.retry <= day.left)
    }

    static func rateBucketRefills(_ env: Environment) async throws {
        let base = env.key("caller") + ":"
        // Depth 2, 60 per minute: one token a second.
        let plan = LimitPlan(limits: [.init(.burst, limit: 2, parameter: 60, name: "burst")])
        #expect(try await rateAdmit(env, base, plan).admitted)
        #expect(try await rateAdmit(env, base, plan).admitted)
        let refused = try await rateAdmit(env, base, plan)
        #expect(!refused.admitted && refused.retry > 0 && refused.retry <= second)
        try await env.after(micros: second) { () async throws in
            #expect(try await rateAdmit(env, base, plan).admitted)
            #expect(try await !rateAdmit(env, base, plan).admitted)
        }
    }

    static func rateAdmitBatch(_ env: Environment) async throws {
        let base = env.key("caller") + ":"
        let other = env.key("other") + ":"
        let plan = requestsTokensAndLeases(requests: 3, tokens: 1_000, concurrency: 2)
        let scripts = compiled(plan)
        // The caller's third request does not fit its tokens (nothing of it is counted, so its
        // fourth still fits the tokens but not the leases); the other caller is counted apart.
        let batch: [(String, String, Int64)] = [
            (base, "a", 400), (base, "b", 400), (other, "c", 900), (base, "x", 300), (base, "y", 100),
        ]
        var call = ScriptBatch(entries: batch.count, arity: 1)
        let layout = LimitScripts.appendAdmissions(batch.map { ($0.0 + "l", $0.2) }, to: &call)
        let reply = try await env.store.run(scripts.admit, keys: call.keys, arguments: call.arguments)
        let snapshots = batch.indices.map { RateLimitSnapshot(plan: plan, reply: reply, layout: layout, entry: $0) }
        try #require(snapshots.allSatisfy { $0 != nil }, "reply \(reply)")
        let answers = snapshots.map { $0! }
        #expect(answers.map(\.admitted) == [true, true, true, false, false])
        #expect(answers[1].entries.map(\.remaining) == [1, 200, 0])
        #expect(answers[2].entries.map(\.remaining) == [2, 100, 1])
        #expect(answers[3].refusedBy == 1 && answers[3].entries.map(\.remaining) == [1, 200, 0])
        #expect(answers[4].refusedBy == 2 && answers[4].retryMicros == ConcurrencyLimit.retryMicros)
        #expect(Set(answers.map(\.decidedAt)).count == 1)
        // Written once per caller: the counters and both leases are there for the next request.
        let next = try await rateAdmit(env, base, plan, reserve: 1)
        #expect(!next.admitted && next.refusedBy == 3 && next.limits[0].0 == 1 && next.limits[1].0 == 200)
        try await rateSettle(env, base, plan, admittedAt: answers[0].decidedAt, reserved: 400, prompt: 0, completion: 0)
        let freed = try await rateAdmit(env, base, plan, reserve: 1)
        #expect(freed.admitted && freed.limits[0].0 == 0 && freed.limits[2].0 == 0)
    }

    /// The window before holds 7 requests, so this hour's use is 7 × (time left / hour) + 1, a
    /// fraction: the remaining is its floor on both stores (the Lua's short form leaves it
    /// unfloored to the packing, which truncates).
    static func rateAdmitRoundsDown(_ env: Environment) async throws {
        let base = env.key("caller") + ":"
        let plan = LimitPlan(limits: [.init(.requests, limit: 10, parameter: hour, name: "rph")])
        let index = try await env.store.serverTime().totalMicroseconds / hour
        // The window's counters (`LimiterFields`): its index, current and previous count.
        try await setCounters(env, base + "l", plan, ["r3600i": index - 1, "r3600c": 7, "r3600p": 0])
        let answer = try await rateAdmit(env, base, plan)
        try #require(answer.now / hour == index, "the hour ended between the two reads")
        let (remaining, reset) = answer.limits[0]
        let weight = Double(reset - hour) / Double(hour)  // the time left, as the script weighs it
        #expect(answer.admitted && weight > 0 && weight < 1)
        #expect(remaining == Int64((10 - (7 * weight + 0 + 1)).rounded(.down)))
        #expect(remaining >= 2 && remaining <= 8)
    }

    static func rateBadArguments(_ env: Environment) async throws {
        let base = env.key("caller") + ":"
        let plan = LimitPlan(limits: [.init(.requests, limit: 3, parameter: hour, name: "rph")])
        let scripts = compiled(plan)
        let malformed: [(StoreScript, [String], [StoreValue])] = [
            (scripts.admit, [base + "l"], [.string("")]),  // no entries
            (scripts.admit, [base + "l"], [.integer(1)]),  // not packed
            (scripts.admit, [base + "l"], [PackedIntegers([1]).storeValue]),  // a run without its length
            (scripts.admit, [base + "l"], [PackedIntegers([1, 0]).storeValue]),  // a run of none
            (scripts.admit, [base + "l"], [PackedIntegers([1, 3, 0, 0]).storeValue]),  // a run cut short
            (scripts.admit, [base + "l"], [PackedIntegers([2, 1, 0]).storeValue]),  // a key index past KEYS
            (scripts.admit, [base + "l"], [PackedIntegers([1, 1, 0]).storeValue, .integer(1)]),  // riders not packed
            (scripts.settle, [base + "l"], [PackedIntegers([1, 0, 0, 0, 0]).storeValue]),  // an entry cut short
            (scripts.settle, [base + "l"], [PackedIntegers([0, 0, 0, 0, 0, 0]).storeValue]),  // key index 0
        ]
        for (script, keys, arguments) in malformed {
            await #expect(throws: StoreError.self, "\(script.name) \(arguments)") {
                _ = try await env.store.run(script, keys: keys, arguments: arguments)
            }
        }
        // A batch with a bad entry anywhere writes nothing: the good first request is not counted.
        await #expect(throws: StoreError.self) {
            _ = try await env.store.run(scripts.admit, keys: [base + "l"], arguments: [PackedIntegers([1, 1, 0, 5, 1, 0]).storeValue])
        }
        #expect(try await rateAdmit(env, base, plan).limits[0].0 == 2)
    }
}
