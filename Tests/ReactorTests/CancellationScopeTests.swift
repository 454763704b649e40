import Reactor
import Synchronization
import TestSupport
import Testing

/// Counts the cancels it gets. Reactor-confined in use, hence `@unchecked Sendable`.
final class CountingTarget: ScopeCancellable, @unchecked Sendable {
    var cancels = 0
    func cancel() { cancels += 1 }
}

@Suite struct CancellationScopeTests {
    @Test func cancellingCancelsWhatIsHeldOnceAndNothingAfterItsRelease() async throws {
        let counts = try await onWorker { reactor in
            let scope = CancellationScope(reactor: reactor)
            let held = CountingTarget(), released = CountingTarget()
            #expect(scope.hold(released))
            scope.release(released)
            #expect(scope.hold(held))
            scope.cancel()
            scope.cancel()
            #expect(scope.isCancelled)
            return (held.cancels, released.cancels)
        }
        #expect(counts == (1, 0))
    }

    @Test func aCancelledScopeCancelsWhatItIsGivenAtOnce() async throws {
        let cancels = try await onWorker { reactor in
            let scope = CancellationScope(reactor: reactor)
            scope.cancel()
            let late = CountingTarget()
            #expect(scope.hold(late), "still held, so the wait releases it as ever")
            scope.release(late)
            return late.cancels
        }
        #expect(cancels == 1)
    }

    @Test func itHoldsOneWaitAtATimeAndOnlyOnItsReactor() async throws {
        let group = try ReactorGroup(count: 1, namePrefix: "test-other")
        group.start()
        defer { group.stopAndJoin() }
        let elsewhere = CancellationScope(reactor: group.reactors[0])
        #expect(!elsewhere.hold(CountingTarget()), "off its reactor (a child task inherits the task-local)")
        let refusedSecond = try await onWorker { reactor in
            let scope = CancellationScope(reactor: reactor)
            let first = CountingTarget()
            #expect(scope.hold(first))
            let second = scope.hold(CountingTarget())
            scope.release(first)
            return !second
        }
        #expect(refusedSecond)
    }

    @Test func theTaskLocalIsWhatTheTaskWasGiven() async throws {
        let seen = try await onWorker { reactor in
            let scope = CancellationScope(reactor: reactor)
            #expect(CancellationScope.current == nil)
            return CancellationScope.$current.withValue(scope) { CancellationScope.current === scope }
        }
        #expect(seen)
    }
}
