/// A token bucket: `capacity` requests may arrive back to back, and the bucket refills at
/// `perMinute` requests per minute. Tokens are kept in millionths so the refill is integral.
/// A plain value over the stored state; its Lua twin is in `LimitScripts.admit`.
public struct TokenBucket: Sendable, Equatable {
    public var capacity: Int64
    public var perMinute: Int64

    /// Millionths of a token per token.
    public static let unit: Double = 1_000_000

    public init(capacity: Int64, perMinute: Int64) {
        self.capacity = max(1, capacity)
        self.perMinute = max(1, perMinute)
    }

    /// The bucket's stored state: millionths of tokens at an instant (store microseconds).
    public struct State: Sendable, Equatable {
        public var tokens: Int64
        public var at: Int64

        public init(tokens: Int64, at: Int64) {
            self.tokens = tokens
            self.at = at
        }
    }

    /// Takes one token if there is one. `state` nil is a full bucket. The new state is to be
    /// stored only when admitted (a refusal changes nothing).
    public func decide(_ state: State?, now: Int64) -> (LimitDecision, State) {
        let full = Double(capacity) * Self.unit
        let rate = Double(perMinute)
        var tokens = state.map { Double($0.tokens) } ?? full
        let elapsed = max(0, Double(now) - Double(state?.at ?? now))
        tokens = min(full, tokens + (elapsed * rate / 60).rounded(.down))
        let available = Int64((tokens / Self.unit).rounded(.down))
        if tokens >= Self.unit {
            tokens -= Self.unit
            let reset = ((full - tokens) * 60 / rate).rounded(.up)
            return (LimitDecision(admitted: true, remaining: Int64((tokens / Self.unit).rounded(.down)),
                                  available: available, resetMicros: Int64(reset), retryMicros: 0),
                    State(tokens: Int64(tokens), at: now))
        }
        let retry = ((Self.unit - tokens) * 60 / rate).rounded(.up)
        let reset = ((full - tokens) * 60 / rate).rounded(.up)
        return (LimitDecision(admitted: false, remaining: 0, resetMicros: Int64(reset), retryMicros: Int64(retry)),
                State(tokens: Int64(tokens), at: now))
    }
}
