import GatewayCore
import Middleware
import State
import Testing

/// The limiter hash as the contract's cases read and write it: every counter of a plan packed in
/// one field named by its layout (`LimiterFields`), beside the lease slots and pending usage.
extension StateStoreContract {
    /// A caller's limiter hash: its counters by name (`LimitScripts.counters`: "cn", "t3600c")
    /// when the plan's field is there, its other fields (lease slots, pending usage) as stored.
    static func limiterHash(_ env: Environment, _ key: String, _ plan: LimitPlan) async throws -> [String: String] {
        let hash = try await env.store.hashGetAll(key)
        let scripts = compiled(plan)
        let counters = scripts.countersField([:]).field
        var fields = hash.filter { $0.key != counters }.mapValues { String(decoding: $0, as: UTF8.self) }
        if hash[counters] != nil {
            for (name, value) in scripts.counters(hash) { fields[name] = String(value) }
        }
        return fields
    }

    /// Stores a caller's counters (by name; the others as if absent) as the plan's scripts keep them.
    static func setCounters(_ env: Environment, _ key: String, _ plan: LimitPlan, _ values: [String: Int64]) async throws {
        let (field, value) = compiled(plan).countersField(values)
        try await env.store.hashSet(key, field: field, value)
    }

    /// A reload that changes which limits a tier counts names another field for its counters:
    /// the windows start afresh, while the live leases, kept in their slots, are counted again
    /// from those, so concurrency stays exact across the change and the settlements after it.
    static func rateLayoutChangeKeepsLeases(_ env: Environment) async throws {
        let base = env.key("caller") + ":"
        let before = LimitPlan(limits: [
            .init(.requests, limit: 5, parameter: hour, name: "rph"),
            .init(.concurrency, limit: 2, name: "concurrency"),
        ])
        let after = LimitPlan(limits: [
            .init(.requests, limit: 5, parameter: 60 * second, name: "rpm"),
            .init(.concurrency, limit: 2, name: "concurrency"),
        ])
        #expect(compiled(before).countersField([:]).field == "k:r3600:c")
        #expect(compiled(after).countersField([:]).field == "k:r60:c")
        let first = try await rateAdmit(env, base, before)
        let second = try await rateAdmit(env, base, before)
        #expect(first.admitted && second.admitted && second.limits.map(\.0) == [3, 0])
        // Both leases are live: the new layout's first admission finds them in their slot.
        let refused = try await rateAdmit(env, base, after)
        #expect(!refused.admitted && refused.refusedBy == 2 && refused.limits[0].0 == 5)
        var hash = try await limiterHash(env, base + "l", after)
        #expect(hash["cn"] == "2" && hash["r60c"] == "0")
        // A lease the old layout took, settled under the new one, frees its place.
        try await rateSettle(env, base, after, admittedAt: first.now, reserved: 0, prompt: 0, completion: 0)
        let third = try await rateAdmit(env, base, after)
        #expect(third.admitted && third.limits.map(\.0) == [4, 0])
        hash = try await limiterHash(env, base + "l", after)
        #expect(hash["cn"] == "2" && hash["r60c"] == "1")
        #expect(hash.filter { $0.key.hasPrefix("L") }.values.sorted() == ["2"])
        // Back to the old layout: its counters are still there, and its live count, which
        // missed the settlements under the new one, is counted again from the slots when it
        // reaches the limit.
        try await rateSettle(env, base, after, admittedAt: third.now, reserved: 0, prompt: 0, completion: 0)
        let back = try await rateAdmit(env, base, before)
        #expect(back.admitted && back.limits.map(\.0) == [2, 0])
        #expect(try await limiterHash(env, base + "l", before)["cn"] == "2")
    }
}
