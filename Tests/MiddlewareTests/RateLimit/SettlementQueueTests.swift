import GatewayCore
@testable import Middleware
import State
import Synchronization
import Testing

/// Settlements linger to share the next admission's round trip, and are never lost: the linger
/// ends, or `flush` (the worker's drain) sends them and waits.
@Suite struct SettlementQueueTests {
    let clock = TestClock()
    let background = BackgroundQueue()
    let tier = TierConfig(name: "one", requestsPerMinute: 100, maxConcurrent: 1)

    func stage(_ store: RecordingStore) -> RateLimitStage {
        RateLimitStage(store: store, settings: .init(), tiers: [tier], gauge: InFlightGauge(), background: background.work)
    }

    func context(_ requestID: String) -> RequestContext {
        let context = RequestContext(requestID: requestID, receivedAt: 0)
        context.caller = Caller(id: "caller1", name: "demo", source: .config, tier: tier)
        return context
    }

    static let answer: Terminal = { _, _ in
        GatewayResponse.json(200, Array(#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#.utf8))
    }

    func usedRequests(_ store: any StateStore, caller: String = "caller1") async throws -> String? {
        let day = CalendarPeriod.day(now: clock.now().totalMicroseconds).index
        // Read past a recording store, so the read is not in its log.
        let plain = (store as? ForwardingStore)?.inner ?? store
        return try await DayUsage.read(plain, base: CallerKeys.base(caller), day: day)["requests"].map { String($0) }
    }

    /// Requests `handle`d with their answers' streams held open, so every settlement waits for
    /// the streams to be read (`finish`).
    func openStreams(_ stage: RateLimitStage, callers: [Caller]) async -> [GatewayResponse] {
        var responses: [GatewayResponse] = []
        for (i, caller) in callers.enumerated() {
            let stream = ScriptedStream(["data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n"])
            let context = RequestContext(requestID: "r\(i)", receivedAt: 0)
            context.caller = caller
            responses.append(await stage.handle(chatRequest(), context: context) { _, _ in
                GatewayResponse(status: 200, headers: [.contentType: "text/event-stream"], body: .stream(stream))
            })
        }
        return responses
    }

    func finish(_ responses: [GatewayResponse]) async throws {
        for response in responses {
            guard case .stream(let body) = response.body else { continue }
            while try await body.next() != nil {}
        }
    }

    @Test func aSettlementRidesWithTheNextAdmissionAndGoesFirst() async throws {
        let store = RecordingStore(MemoryStore(clock: clock.now))
        let stage = stage(store)
        #expect(await stage.handle(chatRequest(), context: context("a"), next: Self.answer).status == 200)
        // The answer has ended, its settlement waits (nothing drained the linger).
        #expect(store.log == ["start rate_admit"])
        // One concurrent slot: the second request fits only because the first one's lease is
        // released ahead of its admission, in the same script call.
        #expect(await stage.handle(chatRequest(), context: context("b"), next: Self.answer).status == 200)
        #expect(store.log == ["start rate_admit", "start rate_admit"])
        #expect(try await usedRequests(store) == "1")
        // The linger's end sends only the second one's.
        await background.drain()
        #expect(store.log == ["start rate_admit", "start rate_admit", "start rate_settle"])
        #expect(try await usedRequests(store) == "2")
    }

    /// A settlement of another tier (here: the accounting-only scripts of an unlimited caller)
    /// cannot ride in this tier's call: it leaves as its own settle call, ahead in the same write.
    @Test func aSettlementOfAnotherTierLeavesAsItsOwnCall() async throws {
        let store = RecordingStore(MemoryStore(clock: clock.now))
        let unlimited = TierConfig(name: "all", unlimited: true)
        let stage = RateLimitStage(store: store, settings: .init(), tiers: [tier, unlimited], gauge: InFlightGauge(),
                                   background: background.work)
        let free = RequestContext(requestID: "u", receivedAt: 0)
        free.caller = Caller(id: "caller2", name: "vip", source: .config, tier: unlimited)
        #expect(await stage.handle(chatRequest(), context: free, next: Self.answer).status == 200)
        #expect(await stage.handle(chatRequest(), context: context("a"), next: Self.answer).status == 200)
        #expect(store.log == ["start rate_settle", "start rate_admit"])
    }

    @Test func whenNoRequestFollowsTheLingerSendsIt() async throws {
        let store = RecordingStore(MemoryStore(clock: clock.now))
        let stage = stage(store)
        #expect(await stage.handle(chatRequest(), context: context("a"), next: Self.answer).status == 200)
        #expect(try await usedRequests(store) == nil)
        await background.drain()
        #expect(store.log == ["start rate_admit", "start rate_settle"])
        #expect(try await usedRequests(store) == "1")
    }

    @Test func flushSendsWhatLingersAndWaitsForTheStore() async throws {
        let store = RecordingStore(MemoryStore(clock: clock.now))
        let stage = stage(store)
        for id in ["a", "b", "c"] {
            #expect(await stage.handle(chatRequest(), context: context(id), next: Self.answer).status == 200)
        }
        await stage.flush()
        #expect(try await usedRequests(store) == "3")
        // Flushing again has nothing to send. The first two rode with the next admissions; the
        // last one left on its own.
        await stage.flush()
        #expect(store.log.filter { $0 == "start rate_settle" }.count == 1)
        #expect(store.log.filter { $0 == "start rate_admit" }.count == 3)
    }

    @Test func aFullBatchLeavesWithoutLingering() async throws {
        let store = RecordingStore(MemoryStore(clock: clock.now))
        let wide = TierConfig(name: "one", requestsPerMinute: 1_000)
        let stage = RateLimitStage(store: store, settings: .init(), tiers: [wide], gauge: InFlightGauge(), background: background.work)
        // Streams still open hold their settlements back; ending 128 of them at once fills a
        // batch. One caller each, so none folds into another.
        let callers = (0..<SettlementQueue.maxBatch).map { Caller(id: "caller\($0)", name: "demo", source: .config, tier: wide) }
        try await finish(await openStreams(stage, callers: callers))
        #expect(store.log.filter { $0 == "start rate_settle" }.count == 1)
        #expect(try await usedRequests(store, caller: "caller0") == "1")
        #expect(try await usedRequests(store, caller: "caller\(SettlementQueue.maxBatch - 1)") == "1")
    }

    /// A caller's requests admitted at one store time settle as one entry that counts them all:
    /// their usage adds up and every lease is released, as if each had been its own entry.
    @Test func aCallersRequestsAdmittedTogetherFoldIntoOneEntry() async throws {
        let store = RecordingStore(MemoryStore(clock: clock.now))
        let three = TierConfig(name: "one", requestsPerMinute: 100, maxConcurrent: 3)
        let stage = RateLimitStage(store: store, settings: .init(), tiers: [three], gauge: InFlightGauge(), background: background.work)
        let caller = Caller(id: "caller1", name: "demo", source: .config, tier: three)
        // The test clock stands still: all three are admitted at one store time.
        let open = await openStreams(stage, callers: [caller, caller, caller])
        #expect(open.allSatisfy { $0.status == 200 })
        #expect(await openStreams(stage, callers: [caller]).first?.status == 429)  // the three hold every lease
        try await finish(open)
        #expect(stage.settlements.pendingCount == 1)
        await background.drain()
        #expect(store.log.filter { $0 == "start rate_settle" }.count == 1)
        #expect(try await usedRequests(store) == "3")
        // Each stream had one content chunk: three completion tokens in all.
        let day = CalendarPeriod.day(now: clock.now().totalMicroseconds).index
        #expect(try await DayUsage.read(store, base: CallerKeys.base("caller1"), day: day)["completion_tokens"] == 3)
        // All three leases came back: three more fit at once.
        #expect(await openStreams(stage, callers: [caller, caller, caller]).allSatisfy { $0.status == 200 })
    }

    /// Requests admitted in different lease slots stay apart (the scripts release their leases
    /// apart), as do other callers' requests.
    @Test func requestsAdmittedApartOrByOthersStayApart() async throws {
        let store = RecordingStore(MemoryStore(clock: clock.now))
        let two = TierConfig(name: "one", requestsPerMinute: 100, maxConcurrent: 2)
        let stage = RateLimitStage(store: store, settings: .init(), tiers: [two], gauge: InFlightGauge(), background: background.work)
        let first = Caller(id: "caller1", name: "demo", source: .config, tier: two)
        let second = Caller(id: "caller2", name: "demo", source: .config, tier: two)
        var open = await openStreams(stage, callers: [first, second])
        clock.advance(seconds: 40)  // past a lease slot (37.5 s)
        open += await openStreams(stage, callers: [first])
        #expect(open.allSatisfy { $0.status == 200 })
        try await finish(open)
        #expect(stage.settlements.pendingCount == 3)
        await background.drain()
        #expect(try await usedRequests(store, caller: "caller1") == "2")
        #expect(try await usedRequests(store, caller: "caller2") == "1")
        // Both of the first caller's leases came back.
        #expect(await openStreams(stage, callers: [first, first]).allSatisfy { $0.status == 200 })
    }

    /// A caller's settlements fold into one entry while the scripts cannot tell their admission
    /// times apart (lease slot, token window, day); riding as one, the admission applies them on
    /// its straight path.
    @Test func aCallersEntriesFoldWhileTheirTimesPickTheSamePeriods() {
        let minute: Int64 = 60_000_000
        let plan = LimitPlan(limits: [.init(.concurrency, limit: 5, name: "c"), .init(.tokens, limit: 1_000, parameter: minute, name: "tpm")])
        let scripts = LimitScripts(plan: plan, leaseMicros: 600_000_000, retentionMicros: 86_400_000_000)
        let slot: Int64 = 600_000_000 / 16  // a sixteenth of the lease
        func entry(_ at: Int64, _ limiter: String = "a") -> Settlement {
            Settlement(limiter: limiter, admittedAt: at, reserved: 10, promptTokens: 1, completionTokens: 2, costNanos: 3, scripts: scripts)
        }
        // Slots (counted from a lease after admission) and minutes start together every 5 minutes.
        let start = 20_000 * 86_400_000_000 + 5 * minute
        #expect((start + 600_000_000) % slot == 0 && start % minute == 0)
        #expect(entry(start).absorbs(entry(start + slot - 1)))  // one slot, one minute
        #expect(!entry(start).absorbs(entry(start + slot)))  // the next slot
        #expect(!entry(start - 1).absorbs(entry(start)))  // the slot and minute before
        #expect(!entry(start).absorbs(entry(start + 1, "b")))  // another caller
        #expect(!entry(0).absorbs(entry(start)) && entry(0).absorbs(entry(0)))  // not admitted by a script: alone
        // Without a lease, the minute decides; a day's end too.
        let tokens = LimitScripts(plan: LimitPlan(limits: [.init(.tokens, limit: 1_000, parameter: minute, name: "tpm")]),
                                  leaseMicros: 600_000_000, retentionMicros: 86_400_000_000)
        #expect(tokens.settlesAlike(start, start + minute - 1) && !tokens.settlesAlike(start, start + minute))
        #expect(!tokens.settlesAlike(start - 5 * minute, start - 5 * minute - 1))  // the day before
        var folded = entry(start)
        folded.absorb(entry(start + 1))
        #expect(folded.requests == 2 && folded.reserved == 20 && folded.costNanos == 6 && folded.admittedAt == start)
    }
}

/// A store that logs which scripts run (`run`, waited for) and start (`start`, not waited for).
final class RecordingStore: ForwardingStore, @unchecked Sendable {
    private let entries = Mutex<[String]>([])

    var log: [String] { entries.withLock { $0 } }

    /// The script's name without its per-plan suffix (`rate_admit:<digest>` → `rate_admit`).
    private func note(_ verb: String, _ script: StoreScript) {
        let name = script.name.split(separator: ":").first.map(String.init) ?? script.name
        entries.withLock { $0.append(verb + " " + name) }
    }

    override func run(_ script: StoreScript, keys: [String], arguments: [StoreValue]) async throws(StoreError) -> StoreValue {
        note("run", script)
        return try await super.run(script, keys: keys, arguments: arguments)
    }

    override func start(_ script: StoreScript, keys: [String], arguments: [StoreValue],
                        completion: @escaping @Sendable (Result<StoreValue, StoreError>) -> Void) {
        note("start", script)
        super.start(script, keys: keys, arguments: arguments, completion: completion)
    }
}
