import GatewayCore
@testable import Middleware
import Testing

/// An admission call carries each caller's run together and reads each request's answer back in
/// the order the requests came, the group form written out as the straight path would answer.
@Suite struct AdmissionLayoutTests {
    static let minute: Int64 = 60_000_000
    let plan = LimitPlan(limits: [
        .init(.requests, limit: 100, parameter: Self.minute, name: "rpm"),
        .init(.tokens, limit: 10_000, parameter: Self.minute, name: "tpm"),
        .init(.concurrency, limit: 8, name: "concurrency"),
    ])

    @Test func interleavedCallersGoAsRunsAndAnswerInTheirOrder() throws {
        var call = ScriptBatch(entries: 5, arity: 1)
        let layout = LimitScripts.appendAdmissions([("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", 5)], to: &call)
        #expect(call.keys == ["a", "b", "c"])
        #expect(call.arguments == [PackedIntegers([1, 2, 1, 3, 2, 2, 2, 5, 3, 1, 4]).storeValue])
        // Script order a, a, b, b, c: long-form answers whose retry tells them apart.
        let count = plan.limits.count
        var reply: [Int64] = [1_000] + Array(repeating: 0, count: count)
        for retry in 1...5 { reply += [1, Int64(retry)] + Array(repeating: 0, count: 2 * count) }
        let (read, offsets) = try #require(layout.answers(plan: plan, reply: PackedIntegers(reply)))
        #expect(read == PackedIntegers(reply))  // no group form: the reply as it came
        let retries = offsets.map { try! #require(RateLimitSnapshot(plan: plan, reply: read, at: $0)).retryMicros }
        #expect(retries == [1, 3, 2, 5, 4])
    }

    @Test func aGroupFormReadsAsEachRequestOnTheStraightPath() throws {
        var call = ScriptBatch(entries: 4, arity: 1)
        let reserves: [Int64] = [700, 0, 1_250, 30]
        let layout = LimitScripts.appendAdmissions(reserves.map { ("a", $0) } + [("b", 9)], to: &call)
        // A time a third into a minute: the previous minute's counts weigh two thirds, not exactly.
        let now: Int64 = 29_000_000 * Self.minute + 20_000_001
        let (current, previous, tokensNow, tokensBefore, live): (Int64, Int64, Int64, Int64, Int64) = (5, 7, 400, 3_001, 2)
        let count = plan.limits.count
        var reply: [Int64] = [now] + Array(repeating: 0, count: count)
        reply += [-2, 4, current, previous, tokensNow, tokensBefore, live]
        reply += [1, 1_000] + Array(repeating: 0, count: 2 * count)  // b, refused
        let (read, offsets) = try #require(layout.answers(plan: plan, reply: PackedIntegers(reply)))
        #expect(offsets.count == 5)
        let left = SlidingWindow(limit: 0, windowMicros: Self.minute).position(now: now).left
        var reserved: Int64 = 0
        for (i, reserve) in reserves.enumerated() {
            let answer = try #require(RateLimitSnapshot(plan: plan, reply: read, at: offsets[i]))
            // What the native twin decides for the same request, one at a time.
            let requests = SlidingWindow(limit: 100, windowMicros: Self.minute)
                .decide(previous: previous, current: current + Int64(i), cost: 1, left: left)
            let tokens = SlidingWindow(limit: 10_000, windowMicros: Self.minute)
                .decide(previous: tokensBefore, current: tokensNow + reserved, cost: reserve, left: left)
            #expect(answer.admitted && answer.decidedAt == now)
            #expect(answer.entries.map(\.remaining) == [requests.remaining, tokens.remaining, 8 - 1 - (live + Int64(i))], "request \(i)")
            reserved += reserve
        }
        #expect(try #require(RateLimitSnapshot(plan: plan, reply: read, at: offsets[4])).retryMicros == 1_000)
    }

    @Test func aMalformedGroupFormIsNoAnswer() {
        var call = ScriptBatch(entries: 2, arity: 1)
        let layout = LimitScripts.appendAdmissions([("a", 1), ("a", 2)], to: &call)
        let header: [Int64] = [1_000, 0, 0, 0]
        #expect(layout.answers(plan: plan, reply: PackedIntegers(header + [-2, 3, 0, 0, 0, 0, 0])) == nil)  // another run's length
        #expect(layout.answers(plan: plan, reply: PackedIntegers(header + [-2, 2, 0, 0, 0, 0])) == nil)  // cut short
        #expect(layout.answers(plan: plan, reply: PackedIntegers(header + [-2])) == nil)  // cut shorter
        #expect(layout.answers(plan: plan, reply: PackedIntegers(header + [-2, 2, 0, 0, 0, 0, 0, 9])) == nil)  // left over
        #expect(layout.answers(plan: plan, reply: PackedIntegers(header + [-2, 2, 0, 0, 0, 0, 0])) != nil)
        // A plan whose limits have no group form (a bucket) cannot be answered in it.
        let bucket = LimitPlan(limits: [.init(.burst, limit: 5, parameter: 60, name: "burst")])
        #expect(layout.answers(plan: bucket, reply: PackedIntegers([1_000, 0, -2, 2, 0])) == nil)
    }
}
