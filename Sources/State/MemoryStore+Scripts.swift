import GatewayCore

extension MemoryStore {
    /// Runs `script`'s native body under the store's lock, so it is atomic against every other
    /// operation, as `EVALSHA` is on Redis. `now` is read once per run (Redis `TIME`). A command
    /// error inside the body (WRONGTYPE, not an integer) makes the run throw it after the body
    /// returns; writes made before it stay, as they do when a Redis script fails halfway.
    public func run(_ script: StoreScript, keys: [String], arguments: [StoreValue]) throws(StoreError) -> StoreValue {
        try locked { (data) throws(StoreError) -> StoreValue in
            // The instant the lock was taken with, so the script and key expiry agree on it.
            let now = StoreTime(seconds: data.now / 1_000_000, microseconds: data.now % 1_000_000)
            let view = ScriptView(data: data, now: now)
            defer { view.close() }
            let reply = try script.native(view, keys, arguments)
            if let failure = view.failure { throw failure }
            return reply
        }
    }

    /// Runs at once (under the lock, like `run`), then hands the outcome to `completion`.
    public func start(_ script: StoreScript, keys: [String], arguments: [StoreValue],
                      completion: @escaping @Sendable (Result<StoreValue, StoreError>) -> Void) {
        completion(Result { () throws(StoreError) -> StoreValue in try run(script, keys: keys, arguments: arguments) })
    }
}

/// What a native script body sees: the locked keyspace with Redis command semantics.
/// Valid only during its `run` call — it is closed afterwards, and using it then traps — and
/// only on the thread running the script. Keys a script writes are never evicted.
final class ScriptView: ScriptStorage {
    let now: StoreTime
    /// The first command error; later commands still run, and `run` throws this one.
    private(set) var failure: StoreError?
    private var data: MemoryKeyspace?

    init(data: MemoryKeyspace, now: StoreTime) {
        self.data = data
        self.now = now
    }

    func close() { data = nil }

    private var open: MemoryKeyspace {
        guard let data else { fatalError("ScriptStorage used after its script returned") }
        return data
    }

    private func record<Result>(_ fallback: Result, _ command: () throws(StoreError) -> Result) -> Result {
        do {
            return try command()
        } catch {
            if failure == nil { failure = error }
            return fallback
        }
    }

    func get(_ key: String) -> [UInt8]? {
        record(nil) { () throws(StoreError) in try open.getBytes(key) }
    }

    func set(_ key: String, _ value: [UInt8], ttlMicros: Int64?) {
        if let ttlMicros, ttlMicros <= 0 {
            if failure == nil { failure = MemoryKeyspace.invalidExpireTime("set") }
            return
        }
        open.write(key, .bytes(value), expiresAt: open.expiry(afterMicros: ttlMicros), evictable: false)
    }

    @discardableResult
    func delete(_ key: String) -> Bool { open.delete(key) }

    func increment(_ key: String, by delta: Int64) -> Int64 {
        record(0) { () throws(StoreError) in try open.increment(key, by: delta, ttlMicros: nil) }
    }

    func ttlMicros(_ key: String) -> Int64? { open.ttlMicros(key) }

    func expire(_ key: String, ttlMicros: Int64) { open.expire(key, ttlMicros: ttlMicros) }

    func hashGet(_ key: String, field: String) -> [UInt8]? {
        record(nil) { () throws(StoreError) in try open.hashGet(key, field: field) }
    }

    func hashSet(_ key: String, field: String, _ value: [UInt8]) {
        record(()) { () throws(StoreError) in try open.hashSet(key, field: field, value) }
    }

    func hashGet(_ key: String, fields: [String]) -> [[UInt8]?] {
        record(Array(repeating: nil, count: fields.count)) { () throws(StoreError) in try open.hashGet(key, fields: fields) }
    }

    func hashIncrement(_ key: String, fields: [(String, Int64)]) {
        record(()) { () throws(StoreError) in try open.hashIncrement(key, fields: fields, ttlMicros: nil) }
    }

    func hashSet(_ key: String, fields: [(String, [UInt8])]) {
        record(()) { () throws(StoreError) in try open.hashSet(key, fields: fields) }
    }

    func hashIncrement(_ key: String, field: String, by delta: Int64) -> Int64 {
        record(0) { () throws(StoreError) in try open.hashIncrement(key, field: field, by: delta, ttlMicros: nil) }
    }

    @discardableResult
    func hashDelete(_ key: String, field: String) -> Bool {
        record(false) { () throws(StoreError) in try open.hashDelete(key, field: field) }
    }

    func hashGetAll(_ key: String) -> [String: [UInt8]] {
        record([:]) { () throws(StoreError) in try open.hashGetAll(key) }
    }
}
