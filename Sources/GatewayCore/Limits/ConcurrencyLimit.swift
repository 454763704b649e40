/// At most `limit` requests in flight per caller, across instances. Each admitted request holds
/// a lease (its request id → expiry) that it releases when its answer ends; a lease whose
/// instance died lapses at its expiry instead of leaking the slot forever.
/// A plain value over the stored leases; its Lua twin is in `LimitScripts.admit`.
public struct ConcurrencyLimit: Sendable, Equatable {
    public var limit: Int64

    /// What a refused caller is told to wait: slots free up whenever a request ends, so this is
    /// a polite poll interval, not a computed time.
    public static let retryMicros: Int64 = 1_000_000

    public init(limit: Int64) { self.limit = limit }

    /// Decides with `live` unexpired leases held.
    public func decide(live: Int64) -> LimitDecision {
        if live < limit {
            return LimitDecision(admitted: true, remaining: limit - live - 1, available: limit - live, resetMicros: 0, retryMicros: 0)
        }
        return LimitDecision(admitted: false, remaining: 0, resetMicros: 0, retryMicros: Self.retryMicros)
    }

    /// Leases whose expiry has passed at `now` (store microseconds).
    public static func expired(_ leases: [String: Int64], now: Int64) -> [String] {
        leases.filter { $0.value <= now }.map(\.key)
    }
}
