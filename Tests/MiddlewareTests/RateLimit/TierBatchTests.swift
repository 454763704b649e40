@testable import Middleware
import Testing

/// How the admission and settlement queues cut their script calls out of what waits.
@Suite struct TierBatchTests {
    /// Everything matching and within the limit leaves at once (the whole array handed over);
    /// the queue is empty after and takes new items as before.
    @Test func allMatchingWithinTheLimitLeaveTogether() {
        var waiting = ["a1", "a2", "a3"]
        #expect(waiting.take(limit: 3) { $0.hasPrefix("a") } == ["a1", "a2", "a3"])
        #expect(waiting.isEmpty)
        #expect(waiting.capacity >= 3)  // room for the next turn's as many, without regrowing
        waiting.append("a4")
        #expect(waiting.take(limit: 8) { _ in true } == ["a4"])
        #expect(waiting.take(limit: 8) { _ in true } == [])
    }

    /// Over the limit, or with items that do not match, the rest stay in order.
    @Test func theRestStayInOrder() {
        var waiting = ["a1", "b1", "a2", "a3", "b2"]
        #expect(waiting.take(limit: 2) { $0.hasPrefix("a") } == ["a1", "a2"])
        #expect(waiting == ["b1", "a3", "b2"])
        var full = ["a1", "a2", "a3"]
        #expect(full.take(limit: 2) { _ in true } == ["a1", "a2"])
        #expect(full == ["a3"])
        var none = ["b1"]
        #expect(none.take(limit: 2) { $0.hasPrefix("a") } == [])
        #expect(none == ["b1"])
    }
}
