/// Shared state for the stages: rate limits, quotas, caches, coalescing locks, breaker state.
/// Two implementations with the same semantics: Redis (many gateway instances act as one) and
/// memory (one process). Middleware sees only this protocol (ARCHITECTURE §3, §7).
///
/// Keys are full keys (callers build them with `StateKey`). Values are bytes. Every method is
/// one round trip for the Redis store; a store that cannot answer within its deadline throws
/// `StoreError`, and the calling stage applies its `on_store_error` policy.
/// Call from the worker's reactor (the Redis store's connection lives there); the memory store
/// is safe from any thread.
public protocol StateStore: AnyObject, Sendable {
    func get(_ key: String) async throws(StoreError) -> [UInt8]?
    /// Sets `key`; `ttl` nil keeps it until deleted (or evicted, for the memory store's cache entries).
    func set(_ key: String, _ value: [UInt8], ttl: TimeSpan?) async throws(StoreError)
    /// Sets `key` only if it does not exist (a lock or a claim). True when this call set it.
    func setIfAbsent(_ key: String, _ value: [UInt8], ttl: TimeSpan) async throws(StoreError) -> Bool
    /// True when a key was deleted.
    @discardableResult
    func delete(_ key: String) async throws(StoreError) -> Bool
    /// Adds `delta` to an integer counter (created at 0) and returns the new value; `ttl` is set
    /// when the counter is created by this call.
    func increment(_ key: String, by delta: Int64, ttl: TimeSpan?) async throws(StoreError) -> Int64
    /// Adds `delta` to one integer field of a hash and returns the new value.
    func hashIncrement(_ key: String, field: String, by delta: Int64, ttl: TimeSpan?) async throws(StoreError) -> Int64
    /// One field of a hash; nil when the hash or the field is absent.
    func hashGet(_ key: String, field: String) async throws(StoreError) -> [UInt8]?
    /// Sets one field of a hash (created without a TTL); never evicted, unlike `set`.
    func hashSet(_ key: String, field: String, _ value: [UInt8]) async throws(StoreError)
    /// Removes one field (the hash goes with its last field); true when the field existed.
    @discardableResult
    func hashDelete(_ key: String, field: String) async throws(StoreError) -> Bool
    /// All fields of a hash (empty when absent).
    func hashGetAll(_ key: String) async throws(StoreError) -> [String: [UInt8]]
    /// Runs an atomic script: Lua by `EVALSHA` on Redis (loaded once, `NOSCRIPT` reloads it),
    /// its Swift twin under the store's lock in memory. Both see the same server time.
    func run(_ script: StoreScript, keys: [String], arguments: [StoreValue]) async throws(StoreError) -> StoreValue
    /// Runs a script like `run` without waiting for it: it is issued before this returns, so the
    /// store applies it before anything this worker sends afterwards, and `completion` gets the
    /// outcome on this worker's reactor (the memory store runs it at once). For work nobody
    /// waits on, which may then ride in the same round trip as the next request's command.
    func start(_ script: StoreScript, keys: [String], arguments: [StoreValue],
               completion: @escaping @Sendable (Result<StoreValue, StoreError>) -> Void)
    /// Publishes on a cross-instance channel (breaker and cache events).
    func publish(_ channel: String, _ message: [UInt8]) async throws(StoreError)
    /// Subscribes to a channel; `handler` runs on the subscribing worker's reactor for each message.
    func subscribe(_ channel: String, handler: @escaping @Sendable ([UInt8]) -> Void) async throws(StoreError) -> StoreSubscription
    /// The store's clock (Redis `TIME`), so every instance decides with the same time.
    func serverTime() async throws(StoreError) -> StoreTime
    /// Reachability, for `/ready`.
    var health: StoreHealth { get }
}

/// Why a store operation failed. Decided where it happens; stages read `isTimeout` etc., never messages.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not connected (connecting, reconnecting after a drop); pending commands fail with this at once.
    case unavailable(String)
    /// The command's deadline passed.
    case timeout
    /// The server answered an error (`ERR …`, a script error).
    case server(String)
    /// A reply of an unexpected shape.
    case protocolViolation(String)

    public var description: String {
        switch self {
        case .unavailable(let why): "unavailable: \(why)"
        case .timeout: "timeout"
        case .server(let message): "server error: \(message)"
        case .protocolViolation(let what): "protocol violation: \(what)"
        }
    }
}

public enum StoreHealth: Sendable, Equatable {
    case ready
    case connecting
    case unavailable(String)
}

/// A server timestamp: seconds and microseconds since the Unix epoch.
public struct StoreTime: Sendable, Equatable, Comparable {
    public var seconds: Int64
    public var microseconds: Int64

    public init(seconds: Int64, microseconds: Int64) {
        self.seconds = seconds
        self.microseconds = microseconds
    }

    public var totalMicroseconds: Int64 { seconds * 1_000_000 + microseconds }

    public static func < (lhs: StoreTime, rhs: StoreTime) -> Bool { lhs.totalMicroseconds < rhs.totalMicroseconds }
}

/// A value crossing the store boundary (script arguments and replies), shaped like RESP.
/// Not `indirect`: arrays already hold their elements out of line, and an indirect enum boxed
/// every integer of a script's reply (ten allocations per rate-limit admission).
public enum StoreValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case bytes([UInt8])
    case array([StoreValue])

    public static func string(_ s: String) -> StoreValue { .bytes(Array(s.utf8)) }

    public var integer: Int64? {
        switch self {
        case .integer(let v): v
        case .bytes(let b): Int64(String(decoding: b, as: UTF8.self))
        default: nil
        }
    }

    public var array: [StoreValue]? {
        if case .array(let a) = self { return a }
        return nil
    }
}

/// Cancels a subscription when told or when released.
public final class StoreSubscription: Sendable {
    private let onCancel: @Sendable () -> Void

    public init(onCancel: @escaping @Sendable () -> Void) { self.onCancel = onCancel }

    public func cancel() { onCancel() }
}

/// Builds namespaced keys: `sy:{<tag>}:<parts…>`. The hash tag keeps every key of one caller in
/// one Redis Cluster slot, so one script can touch them all.
public enum StateKey {
    public static func make(tag: String, _ parts: String...) -> String {
        "sy:{" + tag + "}:" + parts.joined(separator: ":")
    }
}
