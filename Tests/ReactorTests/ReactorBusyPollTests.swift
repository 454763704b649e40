import Foundation
import TestSupport
import Testing

@testable import Reactor

@Suite struct ReactorLoadTests {
    private let ms: UInt64 = 1_000_000

    @Test func aWorkerIsHotOnlyWhenMostOfItsWindowWasWork() {
        var load = ReactorLoad()
        #expect(!load.isHot && load.needsSample(now: 5 * ms))
        load.sample(now: 100 * ms, cpu: 7 * ms)  // starts the first window
        #expect(!load.isHot && !load.needsSample(now: 105 * ms) && load.needsSample(now: 110 * ms))
        load.sample(now: 110 * ms, cpu: 16 * ms)  // 9 of 10 ms on the CPU
        #expect(load.isHot)
        load.sample(now: 120 * ms, cpu: 21 * ms)  // 5 of 10
        #expect(!load.isHot)
        load.sample(now: 130 * ms, cpu: 28_500_000)  // exactly the hot share
        #expect(load.isHot)
    }

    @Test func pollingIsNotWork() {
        var load = ReactorLoad()
        load.sample(now: 100 * ms, cpu: 0)
        load.polled(4 * ms)  // 9.5 ms on the CPU, 4 of them polling: 5.5 ms of work
        load.sample(now: 110 * ms, cpu: 9_500_000)
        #expect(!load.isHot)
        load.polled(1 * ms)  // 9.5 ms on the CPU, 1 polling
        load.sample(now: 120 * ms, cpu: 19 * ms)
        #expect(load.isHot)
    }
}

/// What ran, in order; written on the reactor thread only.
private final class Log: @unchecked Sendable {
    var entries: [String] = []
}

/// A poller that awaits an answer while `awaiting` is set.
private final class FakePoller: ReactorBusyPoller, @unchecked Sendable {
    var awaiting = false
    let bound: UInt64
    init(bound: UInt64) { self.bound = bound }
    var busyPollNanos: UInt64 { awaiting ? bound : 0 }
}

@Suite struct ReactorBusyPollTests {
    /// Makes the reactor count as hot once a load window has passed with `poller` awaiting,
    /// whatever other tests leave of the CPU (how hot is decided is `ReactorLoadTests`'): any
    /// share is hot enough. The load is sampled only while a poller awaits an answer.
    private static func runHot(_ reactor: Reactor, _ poller: FakePoller) async throws {
        reactor.load = ReactorLoad(hotShare: 0)
        poller.awaiting = true
        try await reactor.sleep(nanoseconds: 1_000_000)  // the idle loop starts a load window
        poller.awaiting = false
        try await reactor.sleep(nanoseconds: ReactorLoad.window + 1_000_000)
    }

    @Test func aHotWorkerAwaitingAnAnswerPollsAndStillServesTimersAndOtherThreads() async throws {
        let outcome = try await onWorker { reactor -> (hot: Bool, polled: UInt64, order: [String]) in
            let poller = FakePoller(bound: 20_000_000_000)
            reactor.addBusyPoller(poller)
            try await Self.runHot(reactor, poller)
            poller.awaiting = true
            // While the loop polls for the poller (up to 20 s), a timer and a job from another
            // thread must run as they come, as if it slept in epoll_wait.
            let order = Log()
            let started = monotonicNanos()
            try await reactor.sleep(nanoseconds: 2_000_000)
            order.entries.append("timer")
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                Thread.detachNewThread {  // a thread of its own, not the (busy) global pool
                    reactor.execute {
                        order.entries.append("remote")
                        done.resume()
                    }
                }
            }
            let waited = monotonicNanos() &- started
            poller.awaiting = false
            #expect(waited < 10_000_000_000, "events waited for the poll to end: \(waited) ns")
            return (reactor.load.isHot, reactor.load.polledTotal, order.entries)
        }
        #expect(outcome.hot)
        #expect(outcome.polled > 0)
        #expect(outcome.order == ["timer", "remote"])
    }

    @Test func anIdleWorkerSleepsInsteadOfPolling() async throws {
        let polled = try await onWorker { reactor -> UInt64 in
            let poller = FakePoller(bound: 200_000_000)
            poller.awaiting = true
            reactor.addBusyPoller(poller)
            for _ in 0..<4 { try await reactor.sleep(nanoseconds: 6_000_000) }
            #expect(!reactor.load.isHot)
            return reactor.load.polledTotal
        }
        #expect(polled == 0)
    }

    @Test func aPollerThatIsGoneIsDropped() async throws {
        let remaining = try await onWorker { reactor -> Int in
            do {
                let poller = FakePoller(bound: 1_000)
                reactor.addBusyPoller(poller)
            }
            try await reactor.sleep(nanoseconds: 1_000_000)  // an idle turn looks at the pollers
            return reactor.busyPollers.count
        }
        #expect(remaining == 0)
    }
}
