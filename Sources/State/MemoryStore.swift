import GatewayCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The embedded `StateStore` for a single gateway instance: the same semantics as the Redis
/// store (commands, TTLs, error texts, scripts), kept in this process's memory.
///
/// Threading: safe from any thread. All keys live behind one `Mutex`; every public method takes
/// it once, so each operation — and each script — is atomic. The methods never suspend; they are
/// synchronous witnesses of the protocol's `async` requirements. Pub/sub handlers run
/// synchronously on the publisher's thread, outside the lock (see `publish`).
///
/// Expiry reads the injected `clock` (tests pass a manual one): keys expire lazily when touched,
/// and `removeExpired(maxScanned:)` sweeps the rest for a caller's periodic timer.
///
/// Bounded size: past `maxEntries` keys, least-recently-used *cache entries* are evicted — keys
/// last written by `set(_:_:ttl:)`. Counters (`increment`), hashes, `setIfAbsent` locks and keys
/// written by scripts are never evicted: they hold limits and locks, and losing one would give a
/// wrong answer rather than a slower one. If they alone exceed the bound, the store grows.
public final class MemoryStore: StateStore {
    private let keyspace: Mutex<MemoryKeyspace>
    let subscribers = Mutex(SubscriberTable())
    private let clock: @Sendable () -> StoreTime

    /// - Parameters:
    ///   - clock: the store's time (`serverTime`, TTLs, script `now`); the wall clock by default.
    ///   - maxEntries: the key count past which cache entries are evicted (LRU).
    public init(clock: @escaping @Sendable () -> StoreTime = MemoryStore.wallClock, maxEntries: Int = 100_000) {
        self.clock = clock
        self.keyspace = Mutex(MemoryKeyspace(maxEntries: maxEntries))
    }

    /// The system's real-time clock (`CLOCK_REALTIME`), as Redis `TIME` reports it.
    @Sendable
    public static func wallClock() -> StoreTime {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return StoreTime(seconds: Int64(spec.tv_sec), microseconds: Int64(spec.tv_nsec) / 1_000)
    }

    public var health: StoreHealth { .ready }

    /// Keys held, including expired ones not yet touched or swept. For metrics and tests.
    public var keyCount: Int { keyspace.withLock { $0.count } }

    // MARK: Strings

    public func get(_ key: String) throws(StoreError) -> [UInt8]? {
        try locked { (data) throws(StoreError) in try data.getBytes(key) }
    }

    /// `SET`: replaces any value (of any type) and TTL; the key becomes an evictable cache entry.
    public func set(_ key: String, _ value: [UInt8], ttl: TimeSpan?) throws(StoreError) {
        let ttlMicros = try ttl.map { (ttl) throws(StoreError) in try Self.micros(of: ttl, command: "set") }
        locked { data in
            data.write(key, .bytes(value), expiresAt: data.expiry(afterMicros: ttlMicros), evictable: true)
        }
    }

    /// `SET NX PX`: a lock or claim, never evicted; true when this call set it.
    public func setIfAbsent(_ key: String, _ value: [UInt8], ttl: TimeSpan) throws(StoreError) -> Bool {
        let ttlMicros = try Self.micros(of: ttl, command: "set")
        return locked { data in data.setIfAbsent(key, value, ttlMicros: ttlMicros) }
    }

    @discardableResult
    public func delete(_ key: String) throws(StoreError) -> Bool {
        locked { data in data.delete(key) }
    }

    // MARK: Counters and hashes

    /// `INCRBY`; `ttl` applies only when this call creates the counter, so repeated increments
    /// never extend a window (the Redis store's `INCRBY` + `EXPIRE … NX` does the same for keys
    /// that carry a TTL from birth). Throws Redis's error texts for a non-integer or a hash.
    public func increment(_ key: String, by delta: Int64, ttl: TimeSpan?) throws(StoreError) -> Int64 {
        let ttlMicros = try ttl.map { (ttl) throws(StoreError) in try Self.micros(of: ttl, command: "expire") }
        return try locked { (data) throws(StoreError) in try data.increment(key, by: delta, ttlMicros: ttlMicros) }
    }

    /// `HINCRBY`; `ttl` applies only when this call creates the hash, as for `increment`.
    public func hashIncrement(_ key: String, field: String, by delta: Int64, ttl: TimeSpan?) throws(StoreError) -> Int64 {
        let ttlMicros = try ttl.map { (ttl) throws(StoreError) in try Self.micros(of: ttl, command: "expire") }
        return try locked { (data) throws(StoreError) in
            try data.hashIncrement(key, field: field, by: delta, ttlMicros: ttlMicros)
        }
    }

    public func hashGetAll(_ key: String) throws(StoreError) -> [String: [UInt8]] {
        try locked { (data) throws(StoreError) in try data.hashGetAll(key) }
    }

    public func hashGet(_ key: String, field: String) throws(StoreError) -> [UInt8]? {
        try locked { (data) throws(StoreError) in try data.hashGet(key, field: field) }
    }

    /// `HSET` of one field; hashes are never evicted.
    public func hashSet(_ key: String, field: String, _ value: [UInt8]) throws(StoreError) {
        try locked { (data) throws(StoreError) in try data.hashSet(key, field: field, value) }
    }

    @discardableResult
    public func hashDelete(_ key: String, field: String) throws(StoreError) -> Bool {
        try locked { (data) throws(StoreError) in try data.hashDelete(key, field: field) }
    }

    // MARK: Time and expiry

    public func serverTime() -> StoreTime { clock() }

    /// Removes expired keys among the next `maxScanned` slots (resuming where the previous sweep
    /// stopped) and returns how many went. Holds the lock for the whole scan, so a periodic
    /// caller with a big store should pass a bound (a few thousand) and call more often.
    @discardableResult
    public func removeExpired(maxScanned: Int = .max) -> Int {
        locked { data in data.removeExpired(maxScanned: maxScanned) }
    }

    // MARK: Locking

    /// Runs `body` under the lock with `now` read from the clock, so one operation sees one instant.
    func locked<Result: Sendable>(_ body: (MemoryKeyspace) throws(StoreError) -> Result) throws(StoreError) -> Result {
        try keyspace.withLock { (data) throws(StoreError) -> Result in
            data.now = clock().totalMicroseconds
            return try body(data)
        }
    }

    func locked<Result: Sendable>(_ body: (MemoryKeyspace) -> Result) -> Result {
        keyspace.withLock { data in
            data.now = clock().totalMicroseconds
            return body(data)
        }
    }

    /// A TTL in whole microseconds (rounded up, so a TTL never shortens); non-positive TTLs are
    /// refused with Redis's error, as `SET … PX 0` is.
    static func micros(of ttl: TimeSpan, command: String) throws(StoreError) -> Int64 {
        guard ttl.nanoseconds > 0 else { throw MemoryKeyspace.invalidExpireTime(command) }
        return ttl.nanoseconds / 1_000 + (ttl.nanoseconds % 1_000 == 0 ? 0 : 1)
    }
}
