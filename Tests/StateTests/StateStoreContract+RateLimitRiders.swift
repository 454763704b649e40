import GatewayCore
import Middleware
import State
import Testing

/// The contract's cases for settlements riding with an admission batch.
extension StateStoreContract {
    /// The admission script reads and writes an admitted caller's counters once for its riding
    /// settlement and its requests when the settlement's leases are in the batch's slot; others
    /// (another caller, a lease of another slot) settle on their own. Each way, the counters end
    /// as settling first and admitting after would leave them.
    static func rateAdmitMergesRiders(_ env: Environment) async throws {
        let base = env.key("caller") + ":"
        let other = env.key("other") + ":"
        let plan = leasesAndTokens(concurrency: 3)
        let scripts = compiled(plan)
        let two = try await admitTogether(env, base, plan, count: 2, reserve: 300)
        let lone = try await admitTogether(env, other, plan, count: 1, reserve: 100)
        #expect(two.map(\.admitted) == [true, true] && lone[0].admitted)
        let at = two[0].decidedAt
        // The caller's two (600 reserved, 100 used) and the other's one (100 reserved, 50 used)
        // ride with one more request of the caller.
        var call = ScriptBatch(entries: 1, arity: 1)
        _ = LimitScripts.appendAdmissions([(base + "l", 300)], to: &call)
        LimitScripts.appendSettlement(to: &call, section: 1, limiter: base + "l", admittedAt: at, requests: 2, reserved: 600,
                                      promptTokens: 100, completionTokens: 0, costNanos: 0)
        LimitScripts.appendSettlement(to: &call, section: 1, limiter: other + "l", admittedAt: lone[0].decidedAt, reserved: 100,
                                      promptTokens: 50, completionTokens: 0, costNanos: 0)
        let reply = try await env.store.run(scripts.admit, keys: call.keys, arguments: call.arguments)
        let next = try #require(RateLimitSnapshot(plan: plan, reply: reply), "reply \(reply)")
        #expect(next.admitted && next.entries.map(\.remaining) == [2, 600])
        func fields(_ key: String) async throws -> [String: String] { try await limiterHash(env, key, plan) }
        var caller = try await fields(base + "l")
        #expect(caller["cn"] == "1" && caller["t3600c"] == "400")
        #expect(caller.filter { $0.key.hasPrefix("L") }.values.sorted() == ["1"])
        let others = try await fields(other + "l")
        #expect(others["cn"] == "0" && others["t3600c"] == "50" && !others.keys.contains { $0.hasPrefix("L") })
        let day = CalendarPeriod.day(now: at).index
        #expect(try await dayUsage(env, base, day)["requests"] == 2)
        #expect(try await dayUsage(env, other, day)["requests"] == 1)
        // A settlement from the window before (its lease slot long gone) rides with the caller's
        // next request: it settles on its own, into the previous window's count.
        var later = ScriptBatch(entries: 1, arity: 1)
        _ = LimitScripts.appendAdmissions([(base + "l", 100)], to: &later)
        LimitScripts.appendSettlement(to: &later, section: 1, limiter: base + "l", admittedAt: at - hour, reserved: 0,
                                      promptTokens: 50, completionTokens: 0, costNanos: 0)
        let after = try await env.store.run(scripts.admit, keys: later.keys, arguments: later.arguments)
        let admittedLater = try #require(RateLimitSnapshot(plan: plan, reply: after), "reply \(after)")
        #expect(admittedLater.admitted)
        caller = try await fields(base + "l")
        #expect(caller["cn"] == "2" && caller["t3600c"] == "500" && caller["t3600p"] == "50")
        // A settlement that empties the slot while its batch's one request is refused (it asks
        // for more tokens than the limit): the slot's field goes, as settling alone would do.
        var refused = ScriptBatch(entries: 1, arity: 1)
        _ = LimitScripts.appendAdmissions([(base + "l", 2_000)], to: &refused)
        LimitScripts.appendSettlement(to: &refused, section: 1, limiter: base + "l", admittedAt: at, requests: 2, reserved: 400,
                                      promptTokens: 0, completionTokens: 0, costNanos: 0)
        let no = try await env.store.run(scripts.admit, keys: refused.keys, arguments: refused.arguments)
        let refusal = try #require(RateLimitSnapshot(plan: plan, reply: no), "reply \(no)")
        #expect(!refusal.admitted)
        caller = try await fields(base + "l")
        #expect(caller["cn"] == "0" && caller["t3600c"] == "100" && !caller.keys.contains { $0.hasPrefix("L") })
    }

    /// Without leases every rider of an admitted caller is merged, one of the window before
    /// included: its usage goes into that window's count.
    static func rateAdmitMergesThePreviousWindow(_ env: Environment) async throws {
        let base = env.key("caller") + ":"
        let plan = LimitPlan(limits: [.init(.tokens, limit: 1_000, parameter: hour, name: "tph")])
        let first = try await rateAdmit(env, base, plan, reserve: 100)
        let second = try await rateAdmit(env, base, plan, reserve: 100)
        #expect(first.admitted && second.admitted)
        var call = ScriptBatch(entries: 1, arity: 1)
        _ = LimitScripts.appendAdmissions([(base + "l", 100)], to: &call)
        LimitScripts.appendSettlement(to: &call, section: 1, limiter: base + "l", admittedAt: first.now - hour, reserved: 0,
                                      promptTokens: 30, completionTokens: 0, costNanos: 0)
        let reply = try await env.store.run(compiled(plan).admit, keys: call.keys, arguments: call.arguments)
        let next = try #require(RateLimitSnapshot(plan: plan, reply: reply), "reply \(reply)")
        #expect(next.admitted)
        let limiter = try await limiterHash(env, base + "l", plan)
        #expect(limiter["t3600c"] == "300" && limiter["t3600p"] == "30")
    }

    static func rateAdmitWithRidingSettlements(_ env: Environment) async throws {
        let base = env.key("caller") + ":"
        let plan = leasesAndTokens(concurrency: 1)
        let scripts = compiled(plan)
        let first = try await rateAdmit(env, base, plan, reserve: 600)
        #expect(first.admitted)
        // One call: the first request's settlement (its lease back; 600 reserved, 100 used),
        // then the next request, which fits only because the settlement went first.
        var call = ScriptBatch(entries: 1, arity: 1)
        _ = LimitScripts.appendAdmissions([(base + "l", 800)], to: &call)
        LimitScripts.appendSettlement(to: &call, section: 1, limiter: base + "l", admittedAt: first.now, reserved: 600,
                                      promptTokens: 100, completionTokens: 0, costNanos: 0)
        #expect(call.arguments.count == 2)
        let reply = try await env.store.run(scripts.admit, keys: call.keys, arguments: call.arguments)
        let next = try #require(RateLimitSnapshot(plan: plan, reply: reply), "reply \(reply)")
        #expect(next.admitted && next.entries.map(\.remaining) == [0, 100])
        let day = CalendarPeriod.day(now: first.now).index
        #expect(try await dayUsage(env, base, day)["requests"] == 1)
        // A malformed riding section fails the call before anything is written, admission included.
        await #expect(throws: StoreError.self) {
            _ = try await env.store.run(scripts.admit, keys: [base + "l"],
                                        arguments: [PackedIntegers([1, 0]).storeValue, PackedIntegers([1, 0, 0]).storeValue])
        }
        #expect(try await dayUsage(env, base, day)["requests"] == 1)
        let third = try await rateAdmit(env, base, plan)
        #expect(!third.admitted && third.refusedBy == 1)  // the second still holds the one slot
    }

    /// A plan with counters and no quota keeps a day's usage in the limiter hash
    /// (`PendingUsage`); the day's usage reads the same as if it were in the day hash. The next
    /// day's first usage (here riding with an admission) moves it there, a late entry of the
    /// earlier day goes straight there, and a plan that reads the day hash (a daily quota) moves
    /// it there before it decides.
    static func ratePendingUsageMovesToItsDay(_ env: Environment) async throws {
        let base = env.key("caller") + ":"
        let plan = LimitPlan(limits: [.init(.tokens, limit: 1_000_000, parameter: hour, name: "tph")])
        let first = try await rateAdmit(env, base, plan, reserve: 10)
        let day = CalendarPeriod.day(now: first.now).index
        func stored(_ day: Int64) async throws -> [String: String] {
            try await env.store.hashGetAll(base + "d:" + String(day)).mapValues { String(decoding: $0, as: UTF8.self) }
        }
        try await rateSettle(env, base, plan, admittedAt: first.now, reserved: 10, prompt: 4, completion: 6, cost: 2)
        #expect(try await stored(day).isEmpty)
        #expect(try await dayUsage(env, base, day) == ["requests": 1, "prompt_tokens": 4, "completion_tokens": 6, "cost_nanos": 2])
        var call = ScriptBatch(entries: 1, arity: 1)
        _ = LimitScripts.appendAdmissions([(base + "l", 10)], to: &call)
        LimitScripts.appendSettlement(to: &call, section: 1, limiter: base + "l", admittedAt: first.now + 86_400_000_000, reserved: 0,
                                      promptTokens: 1, completionTokens: 0, costNanos: 0)
        let reply = try await env.store.run(compiled(plan).admit, keys: call.keys, arguments: call.arguments)
        #expect(try #require(RateLimitSnapshot(plan: plan, reply: reply), "reply \(reply)").admitted)
        #expect(try await stored(day) == ["requests": "1", "prompt_tokens": "4", "completion_tokens": "6", "cost_nanos": "2"])
        #expect(try await dayUsage(env, base, day)["requests"] == 1)  // moved, not counted twice
        #expect(try await dayUsage(env, base, day + 1) == ["requests": 1, "prompt_tokens": 1, "completion_tokens": 0, "cost_nanos": 0])
        try await rateSettle(env, base, plan, admittedAt: first.now, reserved: 0, prompt: 5, completion: 0)
        let late = try await stored(day)
        #expect(late["prompt_tokens"] == "9" && late["requests"] == "2")
        #expect(try await stored(day + 1).isEmpty)
        let quota = LimitPlan(limits: [
            .init(.tokens, limit: 1_000_000, parameter: hour, name: "tph"), .init(.dailyTokens, limit: 1_000_000, name: "tpd"),
        ])
        #expect(try await rateAdmit(env, base, quota).admitted)
        #expect(try await env.store.hashGet(base + "l", field: PendingUsage.field) == nil)
        #expect(try await stored(day + 1) == ["requests": "1", "prompt_tokens": "1"])
        #expect(try await dayUsage(env, base, day + 1)["prompt_tokens"] == 1)
    }

    /// A caller's two riding entries, one it could apply as it admits and one from the hour
    /// before: both are gathered and settled together, as alone they would be.
    static func rateAdmitGathersACallersTwoRiders(_ env: Environment) async throws {
        let base = env.key("caller") + ":"
        let plan = leasesAndTokens(concurrency: 3)
        let two = try await admitTogether(env, base, plan, count: 2, reserve: 300)
        #expect(two.map(\.admitted) == [true, true])
        let at = two[0].decidedAt
        var call = ScriptBatch(entries: 1, arity: 1)
        _ = LimitScripts.appendAdmissions([(base + "l", 300)], to: &call)
        LimitScripts.appendSettlement(to: &call, section: 1, limiter: base + "l", admittedAt: at, requests: 2, reserved: 600,
                                      promptTokens: 100, completionTokens: 0, costNanos: 0)
        LimitScripts.appendSettlement(to: &call, section: 1, limiter: base + "l", admittedAt: at - hour, reserved: 0,
                                      promptTokens: 50, completionTokens: 0, costNanos: 0)
        let reply = try await env.store.run(compiled(plan).admit, keys: call.keys, arguments: call.arguments)
        let next = try #require(RateLimitSnapshot(plan: plan, reply: reply), "reply \(reply)")
        // The hour before's 50 count in the sliding window by the part of it still covered.
        #expect(next.admitted && next.entries[0].remaining == 2 && (550...600).contains(next.entries[1].remaining))
        let caller = try await limiterHash(env, base + "l", plan)
        #expect(caller["cn"] == "1" && caller["t3600c"] == "400" && caller["t3600p"] == "50")
        #expect(caller.filter { $0.key.hasPrefix("L") }.values.sorted() == ["1"])
        let (requests, prompt) = try await usageNowAndAnHourBefore(env, base, at: at)
        #expect(requests == 3 && prompt == 150)
    }

    /// Requests and prompt tokens of the days of `at` and of an hour before (one day, or two
    /// near midnight).
    static func usageNowAndAnHourBefore(_ env: Environment, _ base: String, at: Int64) async throws -> (Int64, Int64) {
        var sums: (Int64, Int64) = (0, 0)
        for day in Set([CalendarPeriod.day(now: at).index, CalendarPeriod.day(now: at - hour).index]) {
            let usage = try await dayUsage(env, base, day)
            sums = (sums.0 + (usage["requests"] ?? 0), sums.1 + (usage["prompt_tokens"] ?? 0))
        }
        return sums
    }
}
