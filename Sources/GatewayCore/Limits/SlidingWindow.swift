/// A sliding-window counter limit, approximated by two fixed sub-windows: the previous window's
/// count weighted by how much of it the sliding window still covers, plus the current window's.
/// A plain value: the admission script feeds it the stored counts and the store's time, and
/// writes back what it decides. The Lua twins (`LimitScripts.admit`, `CoreScripts.slidingWindowAdmit`) do the same IEEE double
/// arithmetic in the same order, so both stores agree to the microsecond.
public struct SlidingWindow: Sendable, Equatable {
    /// Units admitted per window (requests, or tokens).
    public var limit: Int64
    public var windowMicros: Int64

    public init(limit: Int64, windowMicros: Int64) {
        self.limit = limit
        self.windowMicros = windowMicros
    }

    /// Which fixed window `now` falls in, and the microseconds left in it.
    public func position(now: Int64) -> (index: Int64, left: Int64) {
        let window = Double(windowMicros)
        let index = (Double(now) / window).rounded(.down)
        let left = window - (Double(now) - index * window)
        return (Int64(index), Int64(left))
    }

    /// Admits `cost` units, all or nothing, given the two stored counts.
    /// - Returns: admitted with the units left after it and the time until the window is whole
    ///   again (`resetMicros`, never before a refusal's retry); or refused with the units left and the wait after which `cost` fits if nothing
    ///   else is admitted (-1 when `cost > limit`: it never fits).
    public func decide(previous: Int64, current: Int64, cost: Int64, left: Int64) -> LimitDecision {
        let limit = Double(self.limit)
        let window = Double(windowMicros)
        let previous = Double(previous)
        let current = Double(current)
        let cost = Double(cost)
        let left = Double(left)
        let used = previous * (left / window) + current
        // Until the window is whole again: what the current window holds ages out one window
        // after it ends; the previous window's share, when it ends.
        func fullReset(_ current: Double) -> Double { current > 0 ? left + window : (previous > 0 ? left : 0) }
        if used + cost <= limit {
            return LimitDecision(admitted: true, remaining: Int64((limit - (used + cost)).rounded(.down)),
                                 available: Int64(max(0, (limit - used).rounded(.down))),
                                 resetMicros: Int64(fullReset(current + cost)), retryMicros: 0)
        }
        let retry: Double
        if cost > limit {
            retry = -1
        } else if current + cost <= limit {
            retry = max(1, (left - (limit - current - cost) * window / previous).rounded(.up))
        } else {
            retry = left + max(0, (window - (limit - cost) * window / current).rounded(.up))
        }
        let available = Int64(max(0, (limit - used).rounded(.down)))
        return LimitDecision(admitted: false, remaining: available, available: available,
                             resetMicros: Int64(max(fullReset(current), retry)), retryMicros: Int64(retry))
    }
}

extension SlidingWindow {
    /// `decide` in Lua, for the store scripts that run it inside Redis (`LimitScripts.admit`,
    /// `CoreScripts.slidingWindowAdmit`): the same IEEE double arithmetic in the same order.
    /// `sliding_window(limit, window, previous, current, cost, left)` returns
    /// `admitted, remaining, available, reset, retry`, the fields of `LimitDecision`.
    public static let lua = """
        local function full_reset(cur, previous, left, window)
          if cur > 0 then return left + window elseif previous > 0 then return left else return 0 end
        end
        local function sliding_window(limit, window, previous, current, cost, left)
          local used = previous * (left / window) + current
          local available = math.max(0, math.floor(limit - used))
          if used + cost <= limit then
            return true, math.floor(limit - (used + cost)), available, full_reset(current + cost, previous, left, window), 0
          end
          local retry
          if cost > limit then
            retry = -1
          elseif current + cost <= limit then
            retry = math.max(1, math.ceil(left - (limit - current - cost) * window / previous))
          else
            retry = left + math.max(0, math.ceil(window - (limit - cost) * window / current))
          end
          return false, available, available, math.max(full_reset(current, previous, left, window), retry), retry
        end

        """
}

/// One limit's answer for one request.
public struct LimitDecision: Sendable, Equatable {
    public var admitted: Bool
    /// Units left: after this request when admitted, before it when refused.
    public var remaining: Int64
    /// Units left before this request (what a caller is told when another limit refuses it,
    /// since then nothing of it is counted anywhere).
    public var available: Int64
    /// Microseconds until the limit's current period ends (or, for a bucket, until it is full).
    public var resetMicros: Int64
    /// When refused: microseconds until this request would fit; -1 when it never can. 0 when admitted.
    public var retryMicros: Int64

    public init(admitted: Bool, remaining: Int64, available: Int64? = nil, resetMicros: Int64, retryMicros: Int64) {
        self.admitted = admitted
        self.remaining = remaining
        self.available = available ?? remaining
        self.resetMicros = resetMicros
        self.retryMicros = retryMicros
    }
}
