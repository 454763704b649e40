import GatewayCore

/// Scripts shared by the stages, each with a Lua body for Redis 7 and a native twin for the
/// memory store that computes the same answer step by step (the contract tests hold them to it).
/// Values, not state: safe from any thread.
public enum CoreScripts {}

extension CoreScripts {
    /// A sliding-window counter limit (the "two fixed sub-windows" approximation): the previous
    /// window's count, weighted by how much of it still overlaps the sliding window, plus the
    /// current window's count. Admission is all-or-nothing for `cost`.
    ///
    /// - KEYS[1]: the limit's base key; window counters live at `KEYS[1]:<window index>` (same
    ///   hash tag, so same Cluster slot) and vanish by `PEXPIRE` one window after theirs ends.
    /// - ARGV: `limit`, `windowMicros` (> 0), `cost` — non-negative integers.
    /// - Reply: admitted `[1, remaining, resetMicros]` (remaining after this cost; time until the
    ///   current window ends) or refused `[0, remaining, retryAfterMicros]` (the wait after which
    ///   this cost fits if nothing else is admitted; always positive, or -1 when `cost > limit`
    ///   and it never can).
    ///
    /// Time is the store's (`TIME`). Both bodies do the same IEEE double arithmetic in the same
    /// order (Lua 5.1 numbers are doubles), so their answers agree to the microsecond.
    public static let slidingWindowAdmit = StoreScript(
        name: "sliding_window_admit", lua: slidingWindowLua, native: slidingWindowNative)

    static let slidingWindowBadKeys = StoreError.server("ERR sliding_window_admit needs exactly 1 key")
    static let slidingWindowBadArguments = StoreError.server(
        "ERR sliding_window_admit needs integer arguments limit >= 0, windowMicros > 0, cost >= 0")

    static let slidingWindowLua = SlidingWindow.lua + """
        if #KEYS ~= 1 then
          return redis.error_reply('\(errorText(slidingWindowBadKeys))')
        end
        if #ARGV ~= 3 then
          return redis.error_reply('\(errorText(slidingWindowBadArguments))')
        end
        local limit = tonumber(ARGV[1])
        local window = tonumber(ARGV[2])
        local cost = tonumber(ARGV[3])
        if not limit or not window or not cost
            or limit ~= math.floor(limit) or window ~= math.floor(window) or cost ~= math.floor(cost)
            or limit < 0 or window <= 0 or cost < 0 then
          return redis.error_reply('\(errorText(slidingWindowBadArguments))')
        end
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
        local index = math.floor(now / window)
        local left = window - (now - index * window)
        local current_key = KEYS[1] .. ':' .. string.format('%d', index)
        local previous_key = KEYS[1] .. ':' .. string.format('%d', index - 1)
        local current = tonumber(redis.call('GET', current_key) or '0') or 0
        local previous = tonumber(redis.call('GET', previous_key) or '0') or 0
        local ok, remaining, _, _, retry = sliding_window(limit, window, previous, current, cost, left)
        if ok then
          redis.call('INCRBY', current_key, cost)
          redis.call('PEXPIRE', current_key, math.ceil((left + window) / 1000))
          return {1, remaining, left}
        end
        return {0, remaining, retry}
        """

    @Sendable
    static func slidingWindowNative(
        _ storage: any ScriptStorage, _ keys: [String], _ arguments: [StoreValue]
    ) throws(StoreError) -> StoreValue {
        guard keys.count == 1 else { throw slidingWindowBadKeys }
        guard arguments.count == 3, let limitArgument = arguments[0].integer,
            let windowArgument = arguments[1].integer, let costArgument = arguments[2].integer,
            limitArgument >= 0, windowArgument > 0, costArgument >= 0
        else { throw slidingWindowBadArguments }
        // Step for step the Lua above (the arithmetic is `SlidingWindow`'s); keep them in step.
        let window = SlidingWindow(limit: limitArgument, windowMicros: windowArgument)
        let position = window.position(now: storage.now.totalMicroseconds)
        let currentKey = keys[0] + ":" + String(position.index)
        let previousKey = keys[0] + ":" + String(position.index - 1)
        let decision = window.decide(previous: Int64(counterValue(storage.get(previousKey))),
                                     current: Int64(counterValue(storage.get(currentKey))), cost: costArgument, left: position.left)
        guard decision.admitted else { return .array([.integer(0), .integer(decision.remaining), .integer(decision.retryMicros)]) }
        _ = storage.increment(currentKey, by: costArgument)
        let ttlMillis = (Double(position.left + windowArgument) / 1000).rounded(.up)
        storage.expire(currentKey, ttlMicros: Int64(ttlMillis) * 1000)
        return .array([.integer(1), .integer(decision.remaining), .integer(position.left)])
    }

    /// Lua's `tonumber(GET …) or 0` for a counter.
    static func counterValue(_ bytes: [UInt8]?) -> Double {
        guard let bytes, let number = DecimalBytes.parse(bytes) else { return 0 }
        return Double(number)
    }

    /// The text of a `.server` error, for `redis.error_reply` (quotes are never in these texts).
    static func errorText(_ error: StoreError) -> String {
        if case .server(let text) = error { return text }
        return "ERR script"
    }
}
