import Reactor
import TestSupport
import Testing

/// An actor that lives on a reactor through its serial executor.
actor ReactorBoundCounter {
    let reactor: Reactor
    var count = 0

    init(reactor: Reactor) { self.reactor = reactor }

    nonisolated var unownedExecutor: UnownedSerialExecutor { reactor.serialExecutor.asUnownedSerialExecutor() }

    func increment() -> Bool {
        count += 1
        return reactor.inReactorThread
    }
}

/// Tasks run on the reactor as their task executor (so nonisolated code needs no hops), and
/// actors may still make the reactor their serial executor.
@Suite struct ReactorExecutorTests {
    @Test func nonisolatedAsyncCallsStayOnTheReactorThread() async throws {
        @Sendable func nested(_ reactor: Reactor, depth: Int) async -> Bool {
            guard depth > 0 else { return reactor.inReactorThread }
            return await nested(reactor, depth: depth - 1) && reactor.inReactorThread
        }
        #expect(try await onWorker { reactor in await nested(reactor, depth: 20) })
    }

    @Test func anActorOnTheReactorsSerialExecutorRunsOnItsThread() async throws {
        let (onThread, count) = try await onWorker { reactor in
            let counter = ReactorBoundCounter(reactor: reactor)
            var onThread = true
            for _ in 0..<100 { onThread = await counter.increment() && onThread && reactor.inReactorThread }
            return (onThread, await counter.count)
        }
        #expect(onThread)
        #expect(count == 100)
    }

    @Test func anActorOnTheReactorIsReachedFromAnotherThread() async throws {
        let group = try ReactorGroup(count: 1, namePrefix: "actor")
        group.start()
        defer { group.stopAndJoin() }
        let counter = ReactorBoundCounter(reactor: group.reactors[0])
        #expect(await counter.increment())  // called from the test's own (global) executor
    }
}
