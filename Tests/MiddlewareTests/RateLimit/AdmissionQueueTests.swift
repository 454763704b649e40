import GatewayCore
@testable import Middleware
import Reactor
import State
import Testing
import TestSupport

/// The admissions of one reactor turn leave together at its end, are decided in order each on
/// its own, and share their call's fate when the store fails. Runs on a worker reactor, as the
/// gateway does.
@Suite struct AdmissionQueueTests {
    let clock = TestClock()
    static let minute: Int64 = 60_000_000
    let plan = LimitPlan(limits: [.init(.requests, limit: 3, parameter: Self.minute, name: "rpm")])

    func scripts(_ plan: LimitPlan) -> LimitScripts {
        LimitScripts(plan: plan, leaseMicros: 600_000_000, retentionMicros: 86_400_000_000)
    }

    func queue(_ store: HeldStore, turn: TurnEnd?) -> AdmissionQueue {
        var endOfTurn: (@Sendable (@escaping @Sendable () -> Void) -> Void)?
        if let turn { endOfTurn = { body in turn.schedule(body) } }
        return AdmissionQueue(store: store, settlements: SettlementQueue(store: store, background: BackgroundQueue().work, linger: 0),
                              endOfTurn: endOfTurn)
    }

    /// Admits on the worker as a request would; true when admitted.
    func admit(_ queue: AdmissionQueue, _ scripts: LimitScripts, caller: String, on reactor: Reactor) -> Task<Bool, any Error> {
        Task(executorPreference: reactor) {
            let answer = try await queue.admit(scripts, limiter: CallerKeys.limiter(caller), reserve: 0)
            return try #require(RateLimitSnapshot(plan: scripts.plan, reply: answer.reply, at: answer.offset)).admitted
        }
    }

    @Test func theRequestsOfATurnLeaveTogetherAtItsEndAndAreDecidedInOrder() async throws {
        let store = HeldStore(MemoryStore(clock: clock.now))
        let turn = TurnEnd()
        let scripts = scripts(plan)
        let admitted = try await onWorker { reactor in
            let queue = queue(store, turn: turn)
            let tasks = (0..<5).map { _ in admit(queue, scripts, caller: "c1", on: reactor) }
            try await until { queue.queuedCount == 5 }
            #expect(store.batches.isEmpty && turn.scheduled == 1)  // one end-of-turn for all five
            turn.run()
            #expect(store.batches == [5] && queue.queuedCount == 0)
            store.answer()
            var admitted: [Bool] = []
            for task in tasks { admitted.append(try await task.value) }
            return admitted
        }
        #expect(admitted == [true, true, true, false, false])
    }

    @Test func eachTierLeavesAsItsOwnCallAndAFailedCallFailsItsRequests() async throws {
        let store = HeldStore(MemoryStore(clock: clock.now))
        let turn = TurnEnd()
        let first = scripts(plan)
        let second = scripts(LimitPlan(limits: [.init(.requests, limit: 1, parameter: Self.minute, name: "rpm")]))
        let outcomes = try await onWorker { reactor in
            let queue = queue(store, turn: turn)
            let tasks = [admit(queue, second, caller: "c2", on: reactor), admit(queue, first, caller: "c1", on: reactor),
                         admit(queue, second, caller: "c3", on: reactor), admit(queue, first, caller: "c1", on: reactor)]
            try await until { queue.queuedCount == 4 }
            turn.run()
            // Oldest tier first: the second plan's two callers, then the first plan's two requests.
            #expect(store.batches == [2, 2])
            store.fail(.timeout)
            store.answer()
            var outcomes: [String] = []
            for task in tasks {
                do { outcomes.append(try await task.value ? "admitted" : "refused") } catch { outcomes.append("\(error)") }
            }
            return outcomes
        }
        #expect(outcomes == ["timeout", "admitted", "timeout", "admitted"])
    }

    @Test func withoutAnEndOfTurnEachRequestGoesAtOnce() async throws {
        let store = HeldStore(MemoryStore(clock: clock.now))
        let scripts = scripts(plan)
        let batches = try await onWorker { reactor in
            let queue = queue(store, turn: nil)
            let tasks = (0..<3).map { _ in admit(queue, scripts, caller: "c1", on: reactor) }
            try await until { store.held == 3 }
            for _ in tasks { store.answer() }
            for task in tasks { #expect(try await task.value) }
            return store.batches
        }
        #expect(batches == [1, 1, 1])
    }

    /// Yields to the worker's other tasks until `condition` holds (bounded; no sleeping).
    func until(_ condition: () -> Bool) async throws {
        for _ in 0..<10_000 where !condition() { await Task.yield() }
        try #require(condition())
    }
}

/// The end of a reactor turn, run when the test says. Worker-confined, hence `@unchecked Sendable`.
final class TurnEnd: @unchecked Sendable {
    private var work: [@Sendable () -> Void] = []

    var scheduled: Int { work.count }

    func schedule(_ body: @escaping @Sendable () -> Void) { work.append(body) }

    func run() {
        let due = work
        work = []
        for body in due { body() }
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
        if script.name.hasPrefix("rate_admit"), let first = arguments.first {
            batches.append(ScriptBatch.admissions(keys: keys, argument: first)?.count ?? 0)
        }
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
