import GatewayCore
import Middleware
import State
import Testing

/// The contract's cases for a caller's run of requests in one admission call, which the Lua
/// may answer at once (the group form, `AdmissionLayout`): read back, each request's answer is
/// what it would have been on its own, on both stores.
extension StateStoreContract {
    static func rateAdmitRunsAtOnce(_ env: Environment) async throws {
        let base = env.key("caller") + ":"
        let plan = requestsTokensAndLeases(requests: 20, tokens: 1_000, concurrency: 5)
        let scripts = compiled(plan)
        // The hour before counted 7 requests and 300 tokens: each use is fractional.
        let index = try await env.store.serverTime().totalMicroseconds / hour
        try await setCounters(env, base + "l", plan, ["r3600i": index - 1, "r3600c": 7, "t3600i": index - 1, "t3600c": 300])
        func admit(_ reserves: [Int64]) async throws -> (raw: PackedIntegers, answers: [RateLimitSnapshot]) {
            var call = ScriptBatch(entries: reserves.count, arity: 1)
            let layout = LimitScripts.appendAdmissions(reserves.map { (base + "l", $0) }, to: &call)
            let reply = try await env.store.run(scripts.admit, keys: call.keys, arguments: call.arguments)
            let answers = try reserves.indices.map {
                try #require(RateLimitSnapshot(plan: plan, reply: reply, layout: layout, entry: $0), "reply \(reply)")
            }
            return (try #require(PackedIntegers(reply)), answers)
        }
        let run: [Int64] = [100, 250, 50]
        let (raw, answers) = try await admit(run)
        try #require(answers[0].decidedAt / hour == index, "the hour ended between the two reads")
        // Redis answers the run at once; the memory store's twin request by request.
        if env.store is RedisStore { #expect(raw[1 + plan.limits.count] == -2 && raw.count == 1 + 3 + 2 + 5) }
        let reset = answers[0].entries[0].resetMicros
        let weight = Double(reset - hour) / Double(hour)  // the time left, as the script weighs it
        #expect(weight > 0 && weight < 1)
        var reserved: Int64 = 0
        for (i, answer) in answers.enumerated() {
            let requests = Int64((20 - (7 * weight + Double(i) + 1)).rounded(.down))
            let tokens = Int64((1_000 - (300 * weight + Double(reserved) + Double(run[i]))).rounded(.down))
            #expect(answer.admitted && answer.entries.map(\.remaining) == [requests, tokens, Int64(4 - i)], "request \(i)")
            #expect(answer.entries.map(\.resetMicros) == [reset, reset, 0])
            reserved += run[i]
        }
        // A run that does not fit whole is decided request by request: two leases are left.
        let (_, next) = try await admit([10, 10, 10])
        #expect(next.map(\.admitted) == [true, true, false])
        #expect(next[2].refusedBy == 2 && next[2].retryMicros == ConcurrencyLimit.retryMicros)
        #expect(next[1].entries.map(\.remaining)[2] == 0)
        // Nothing of the refused request is counted.
        let limiter = try await limiterHash(env, base + "l", plan)
        #expect(limiter["cn"] == "5" && limiter["r3600c"] == "5" && limiter["t3600c"] == "420")
    }
}
