import GatewayCore
@testable import Middleware
import Reactor
import State
import Testing
import TestSupport

/// Admissions that queue while a batch is out leave together, are decided in order each on its
/// own, and share the batch's fate when the store fails. Runs on a worker reactor, as the gateway does.
@Suite struct AdmissionQueueTests {
    let clock = TestClock()
    static let minute: Int64 = 60_000_000
    let plan = LimitPlan(limits: [.init(.requests, limit: 3, parameter: Self.minute, name: "rpm")])

    func scripts(_ plan: LimitPlan) -> LimitScripts {
        LimitScripts(plan: plan, leaseMicros: 600_000_000, retentionMicros: 86_400_000_000)
    }

    func queue(_ store: HeldStore) -> AdmissionQueue {
        AdmissionQueue(store: store, settlements: SettlementQueue(store: store, background: BackgroundQueue().work, linger: 0))
    }

    /// Admits on the worker as a request would; true when admitted.
    func admit(_ queue: AdmissionQueue, _ scripts: LimitScripts, caller: String, on reactor: Reactor) -> Task<Bool, any Error> {
        Task(executorPreference: reactor) {
            let answer = try await queue.admit(scripts, limiter: CallerKeys.limiter(caller), reserve: 0)
            return try #require(RateLimitSnapshot(plan: scripts.plan, reply: answer.reply, entry: answer.entry)).admitted
        }
    }

    @Test func requestsArrivingWhileABatchIsOutLeaveTogetherInOrder() async throws {
        let store = HeldStore(MemoryStore(clock: clock.now))
        let scripts = scripts(plan)
        let admitted = try await onWorker { reactor in
            let queue = queue(store)
            let tasks = (0..<5).map { _ in admit(queue, scripts, caller: "c1", on: reactor) }
            // The first two leave at once, alone; the other three wait for the oldest answer, then
            // go as one call.
            try await until { store.held == 2 && queue.queuedCount == 3 }
            #expect(store.batches == [1, 1])
            store.answer()
            try await until { store.held == 2 }
            #expect(store.batches == [1, 1, 3] && queue.queuedCount == 0)
            store.answer()
            store.answer()
            var admitted: [Bool] = []
            for task in tasks { admitted.append(try await task.value) }
            return admitted
        }
        #expect(admitted == [true, true, true, false, false])
    }

    @Test func eachTierLeavesAsItsOwnCallAndAFailedCallFailsItsRequests() async throws {
        let store = HeldStore(MemoryStore(clock: clock.now))
        let first = scripts(plan)
        let second = scripts(LimitPlan(limits: [.init(.requests, limit: 1, parameter: Self.minute, name: "rpm")]))
        let outcomes = try await onWorker { reactor in
            let queue = queue(store)
            let leads = [admit(queue, first, caller: "c1", on: reactor), admit(queue, first, caller: "c1", on: reactor)]
            try await until { store.held == 2 }
            let queued = [admit(queue, second, caller: "c2", on: reactor), admit(queue, first, caller: "c1", on: reactor),
                          admit(queue, second, caller: "c3", on: reactor)]
            try await until { queue.queuedCount == 3 }
            store.answer()
            try await until { store.held == 3 }
            // Oldest tier first: the second plan's two callers, then the first plan's request.
            #expect(store.batches == [1, 1, 2, 1])
            store.answer()
            store.fail(.timeout)
            store.answer()
            var outcomes: [String] = []
            for task in leads + queued {
                do { outcomes.append(try await task.value ? "admitted" : "refused") } catch { outcomes.append("\(error)") }
            }
            return outcomes
        }
        #expect(outcomes == ["admitted", "admitted", "timeout", "admitted", "timeout"])
    }

    /// Yields to the worker's other tasks until `condition` holds (bounded; no sleeping).
    func until(_ condition: () -> Bool) async throws {
        for _ in 0..<10_000 where !condition() { await Task.yield() }
        try #require(condition())
    }
}

/// A store whose script calls are held until the test answers them, oldest first.
/// Worker-confined, hence `@unchecked Sendable`.
final class HeldStore: ForwardingStore, @unchecked Sendable {
    /// Requests per admission call started, in order.
    private(set) var batches: [Int] = []
    private var pending: [(StoreScript, [String], [StoreValue], @Sendable (Result<StoreValue, StoreError>) -> Void)] = []

    var held: Int { pending.count }

    override func start(_ script: StoreScript, keys: [String], arguments: [StoreValue],
                        completion: @escaping @Sendable (Result<StoreValue, StoreError>) -> Void) {
        if script.name.hasPrefix("rate_admit") { batches.append(keys.count) }
        pending.append((script, keys, arguments, completion))
    }

    /// Runs the oldest held call and hands its completion the answer.
    func answer() {
        let (script, keys, arguments, completion) = pending.removeFirst()
        inner.start(script, keys: keys, arguments: arguments, completion: completion)
    }

    /// Fails the oldest held call.
    func fail(_ error: StoreError) {
        pending.removeFirst().3(.failure(error))
    }
}
