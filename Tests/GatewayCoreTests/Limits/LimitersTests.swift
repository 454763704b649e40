import GatewayCore

import Testing

/// The limiter cores as plain values with a manual clock (microseconds).
@Suite struct LimitersTests {
    static let second: Int64 = 1_000_000
    static let minute: Int64 = 60_000_000

    @Test func slidingWindowAdmitsTheLimitThenWeighsThePreviousWindow() {
        let window = SlidingWindow(limit: 10, windowMicros: Self.minute)
        let start: Int64 = 1_000 * Self.minute  // a window edge
        let position = window.position(now: start)
        #expect(position.left == Self.minute)
        let admitted = window.decide(previous: 0, current: 9, cost: 1, left: position.left)
        // Whole again once this window's count has aged out: one window after it ends.
        #expect(admitted == LimitDecision(admitted: true, remaining: 0, available: 1, resetMicros: 2 * Self.minute, retryMicros: 0))
        let refused = window.decide(previous: 0, current: 10, cost: 1, left: position.left)
        #expect(!refused.admitted && refused.remaining == 0)
        // The current window is full: the wait runs to its end plus the next window's share.
        #expect(refused.retryMicros > Self.minute)
        // A client that waits for the reset is never refused again for this window.
        #expect(refused.resetMicros >= refused.retryMicros)
        // Half-way into the next window, half of the previous 10 still count.
        let half = window.position(now: start + Self.minute + Self.minute / 2)
        let later = window.decide(previous: 10, current: 0, cost: 1, left: half.left)
        #expect(later.admitted && later.remaining == 4)
        let tooBig = window.decide(previous: 0, current: 0, cost: 11, left: half.left)
        #expect(!tooBig.admitted && tooBig.retryMicros == -1)
    }

    @Test func tokenBucketSpendsItsDepthThenRefillsAtTheRate() {
        let bucket = TokenBucket(capacity: 3, perMinute: 60)  // one token per second
        var state: TokenBucket.State?
        var now: Int64 = 5_000 * Self.second
        for expected in [Int64(2), 1, 0] {
            let (decision, next) = bucket.decide(state, now: now)
            #expect(decision.admitted && decision.remaining == expected)
            state = next
        }
        let (refused, _) = bucket.decide(state, now: now)
        #expect(!refused.admitted && refused.retryMicros == Self.second)
        #expect(refused.resetMicros == 3 * Self.second)
        now += Self.second / 2
        let (stillEmpty, _) = bucket.decide(state, now: now)
        #expect(!stillEmpty.admitted && stillEmpty.retryMicros == Self.second / 2)
        now += Self.second / 2
        let (refilled, afterRefill) = bucket.decide(state, now: now)
        #expect(refilled.admitted && afterRefill.tokens == 0)
        // Never more than the depth, however long it idles.
        let (afterIdle, idleState) = bucket.decide(afterRefill, now: now + 3_600 * Self.second)
        #expect(afterIdle.admitted && idleState.tokens == 2 * 1_000_000)
    }

    @Test func concurrencyCountsLiveLeases() {
        let limit = ConcurrencyLimit(limit: 2)
        #expect(limit.decide(live: 0) == LimitDecision(admitted: true, remaining: 1, available: 2, resetMicros: 0, retryMicros: 0))
        #expect(limit.decide(live: 1).admitted)
        #expect(!limit.decide(live: 2).admitted)
        #expect(Set(ConcurrencyLimit.expired(["a": 10, "b": 20, "c": 30], now: 20)) == ["a", "b"])
    }

    @Test func calendarQuotaReservesTokensAndStopsCostAtTheLimit() {
        let tokens = CalendarQuota(limit: 100)
        #expect(tokens.decide(used: 60, cost: 40, periodLeftMicros: 7).admitted)
        let over = tokens.decide(used: 61, cost: 40, periodLeftMicros: 7)
        #expect(!over.admitted && over.retryMicros == 7 && over.remaining == 39)
        #expect(tokens.decide(used: 0, cost: 101, periodLeftMicros: 7).retryMicros == -1)
        let cost = CalendarQuota(limit: 50)
        #expect(cost.decide(used: 49, cost: 0, periodLeftMicros: 7).admitted)
        #expect(!cost.decide(used: 50, cost: 0, periodLeftMicros: 7).admitted)
    }

    @Test(arguments: [
        ("1970-01-01", Int64(0)), ("2000-02-29", 11_016), ("2026-11-21", 20_778), ("2024-12-31", 20_088),
    ])
    func calendarDays(_ date: String, _ index: Int64) {
        #expect(CalendarPeriod.day(parsing: date) == index)
        #expect(CalendarPeriod.dateString(day: index) == date)
    }

    @Test func calendarMonthsEndOnTheFirstOfTheNext() {
        // 2024-02-29T12:00:00Z: a leap year's February, 12 hours before March.
        let noon = (CalendarPeriod.day(parsing: "2024-02-29")! * 86_400 + 43_200) * Self.second
        let month = CalendarPeriod.month(now: noon)
        #expect(month.index == 2024 * 12 + 1)
        #expect(month.left == 43_200 * Self.second)
        let december = CalendarPeriod.month(now: CalendarPeriod.day(parsing: "2026-12-31")! * 86_400 * Self.second)
        #expect(december.index == 2026 * 12 + 11 && december.left == 86_400 * Self.second)
        let day = CalendarPeriod.day(now: noon)
        #expect(day.left == 43_200 * Self.second)
        #expect(CalendarPeriod.day(parsing: "2026-02-30") == nil)
        #expect(CalendarPeriod.day(parsing: "2026-1-01") == nil)
    }
}
