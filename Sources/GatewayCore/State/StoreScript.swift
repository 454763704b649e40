/// An atomic multi-key operation with two bodies of the same meaning: Lua for Redis (run by
/// `EVALSHA`, so one round trip decides), and Swift for the memory store (run under its lock).
/// The contract tests run every script against both stores and require the same answers.
public struct StoreScript: Sendable {
    /// A short name, for errors and metrics.
    public let name: String
    /// The Lua source. Reads time with `redis.call('TIME')`, never a client clock.
    public let lua: String
    /// The same operation over the memory store's data.
    public let native: @Sendable (_ storage: any ScriptStorage, _ keys: [String], _ arguments: [StoreValue]) throws(StoreError) -> StoreValue

    public init(
        name: String, lua: String,
        native: @escaping @Sendable (_ storage: any ScriptStorage, _ keys: [String], _ arguments: [StoreValue]) throws(StoreError) -> StoreValue
    ) {
        self.name = name
        self.lua = lua
        self.native = native
    }
}

/// What a native script body may do: the memory store's data, already locked, and its clock.
/// Mirrors the Redis commands the Lua side uses.
public protocol ScriptStorage: AnyObject {
    /// The store's time (`TIME`).
    var now: StoreTime { get }
    func get(_ key: String) -> [UInt8]?
    /// `ttlMicros` nil keeps the key without expiry.
    func set(_ key: String, _ value: [UInt8], ttlMicros: Int64?)
    @discardableResult func delete(_ key: String) -> Bool
    func increment(_ key: String, by delta: Int64) -> Int64
    /// Remaining time to live in microseconds; nil when the key is absent or has none (`PTTL`).
    func ttlMicros(_ key: String) -> Int64?
    func expire(_ key: String, ttlMicros: Int64)
    func hashGet(_ key: String, field: String) -> [UInt8]?
    func hashSet(_ key: String, field: String, _ value: [UInt8])
    /// `HMGET`: the fields' values in order, nil where absent.
    func hashGet(_ key: String, fields: [String]) -> [[UInt8]?]
    /// `HSET` of several fields in one step (a new hash has no TTL).
    func hashSet(_ key: String, fields: [(String, [UInt8])])
    /// `HINCRBY` of several fields in one step (a new hash has no TTL).
    func hashIncrement(_ key: String, fields: [(String, Int64)])
    func hashIncrement(_ key: String, field: String, by delta: Int64) -> Int64
    /// `HDEL` of one field; true when it existed.
    @discardableResult func hashDelete(_ key: String, field: String) -> Bool
    func hashGetAll(_ key: String) -> [String: [UInt8]]
}
