import GatewayCore

/// Redis command semantics over the keyspace, shared by `MemoryStore`'s public methods and by
/// the script view. Runs under the store's lock, like everything on `MemoryKeyspace`.
/// Error messages are Redis's own, so callers and contract tests see the same text either way.
extension MemoryKeyspace {
    static let wrongType = StoreError.server("WRONGTYPE Operation against a key holding the wrong kind of value")
    static let notInteger = StoreError.server("ERR value is not an integer or out of range")
    static let hashNotInteger = StoreError.server("ERR hash value is not an integer")
    static let overflow = StoreError.server("ERR increment or decrement would overflow")

    static func invalidExpireTime(_ command: String) -> StoreError {
        .server("ERR invalid expire time in '\(command)' command")
    }

    /// `GET`: the bytes of a string key (a counter reads as its decimal ASCII).
    func getBytes(_ key: String) throws(StoreError) -> [UInt8]? {
        guard let slot = lookup(key) else { return nil }
        touch(slot)
        switch value(at: slot) {
        case .bytes(let bytes): return bytes
        case .integer(let number): return DecimalBytes.render(number)
        case .hash: throw Self.wrongType
        }
    }

    /// `SET key value NX PX ttl`: true when this call created the key.
    func setIfAbsent(_ key: String, _ value: [UInt8], ttlMicros: Int64) -> Bool {
        guard lookup(key) == nil else { return false }
        insert(key, .bytes(value), expiresAt: expiry(afterMicros: ttlMicros), evictable: false)
        return true
    }

    /// `DEL`: true when a live key went.
    func delete(_ key: String) -> Bool {
        guard let slot = lookup(key) else { return false }
        remove(slot)
        return true
    }

    /// `INCRBY`, plus a TTL only when this call creates the key. The key stops being evictable:
    /// it is a counter now.
    func increment(_ key: String, by delta: Int64, ttlMicros: Int64?) throws(StoreError) -> Int64 {
        guard let slot = lookup(key) else {
            insert(key, .integer(delta), expiresAt: expiry(afterMicros: ttlMicros), evictable: false)
            return delta
        }
        let current: Int64
        switch value(at: slot) {
        case .integer(let number): current = number
        case .bytes(let bytes):
            guard let number = DecimalBytes.parse(bytes) else { throw Self.notInteger }
            current = number
        case .hash: throw Self.wrongType
        }
        let (sum, overflow) = current.addingReportingOverflow(delta)
        guard !overflow else { throw Self.overflow }
        replaceValue(at: slot, with: .integer(sum))
        return sum
    }

    /// `HINCRBY`, plus a TTL only when this call creates the hash.
    func hashIncrement(_ key: String, field: String, by delta: Int64, ttlMicros: Int64?) throws(StoreError) -> Int64 {
        try hashIncrement(key, fields: CollectionOfOne((field, delta)), ttlMicros: ttlMicros)
    }

    /// `HINCRBY` of each field in turn (one lookup of the key); returns the last sum. A field
    /// that is not an integer, or would overflow, stops there with the error (as the commands
    /// would, one by one).
    @discardableResult
    func hashIncrement<Fields: Collection<(String, Int64)>>(_ key: String, fields increments: Fields, ttlMicros: Int64?)
        throws(StoreError) -> Int64
    {
        let slot: Int
        if let existing = lookup(key) {
            slot = existing
        } else {
            slot = insert(key, .hash([:]), expiresAt: expiry(afterMicros: ttlMicros), evictable: false)
        }
        var fields = try takeHash(at: slot)
        defer { replaceValue(at: slot, with: .hash(fields)) }
        var sum: Int64 = 0
        for (field, delta) in increments {
            var current: Int64 = 0
            if let bytes = fields[field] {
                guard let number = DecimalBytes.parse(bytes) else { throw Self.hashNotInteger }
                current = number
            }
            let (next, overflow) = current.addingReportingOverflow(delta)
            guard !overflow else { throw Self.overflow }
            fields[field] = DecimalBytes.render(next)
            sum = next
        }
        return sum
    }

    /// `HGETALL`: empty when the key is absent.
    func hashGetAll(_ key: String) throws(StoreError) -> [String: [UInt8]] {
        guard let slot = lookup(key) else { return [:] }
        guard case .hash(let fields) = value(at: slot) else { throw Self.wrongType }
        return fields
    }

    /// `HGET`.
    func hashGet(_ key: String, field: String) throws(StoreError) -> [UInt8]? {
        guard let slot = lookup(key) else { return nil }
        guard case .hash(let fields) = value(at: slot) else { throw Self.wrongType }
        return fields[field]
    }

    /// `HMGET`: each field's value in order, nil where absent (all nil when the key is).
    func hashGet(_ key: String, fields names: [String]) throws(StoreError) -> [[UInt8]?] {
        guard let slot = lookup(key) else { return Array(repeating: nil, count: names.count) }
        guard case .hash(let fields) = value(at: slot) else { throw Self.wrongType }
        return names.map { fields[$0] }
    }

    /// `HSET` of several fields at once; a new hash has no TTL.
    func hashSet(_ key: String, fields pairs: [(String, [UInt8])]) throws(StoreError) {
        guard let slot = lookup(key) else {
            insert(key, .hash(Dictionary(pairs, uniquingKeysWith: { _, last in last })), expiresAt: Self.neverExpires, evictable: false)
            return
        }
        var fields = try takeHash(at: slot)
        for (field, bytes) in pairs { fields[field] = bytes }
        replaceValue(at: slot, with: .hash(fields))
    }

    /// `HSET` of one field; a new hash has no TTL.
    func hashSet(_ key: String, field: String, _ bytes: [UInt8]) throws(StoreError) {
        guard let slot = lookup(key) else {
            insert(key, .hash([field: bytes]), expiresAt: Self.neverExpires, evictable: false)
            return
        }
        var fields = try takeHash(at: slot)
        fields[field] = bytes
        replaceValue(at: slot, with: .hash(fields))
    }

    /// `HDEL` of one field; the hash is removed with its last field, as Redis does.
    func hashDelete(_ key: String, field: String) throws(StoreError) -> Bool {
        guard let slot = lookup(key) else { return false }
        var fields = try takeHash(at: slot)
        let existed = fields.removeValue(forKey: field) != nil
        if fields.isEmpty {
            remove(slot)
        } else {
            replaceValue(at: slot, with: .hash(fields))
        }
        return existed
    }

    /// `PTTL` in microseconds: nil when the key is absent or has no TTL.
    func ttlMicros(_ key: String) -> Int64? {
        guard let slot = lookup(key) else { return nil }
        return remainingLifetime(at: slot)
    }

    /// `PEXPIRE`: a non-positive TTL deletes the key, as in Redis; an absent key is left absent.
    func expire(_ key: String, ttlMicros: Int64) {
        guard let slot = lookup(key) else { return }
        if ttlMicros <= 0 {
            remove(slot)
        } else {
            setExpiry(at: slot, expiresAt: expiry(afterMicros: ttlMicros))
        }
    }

    /// The absolute expiry for a TTL starting now; nil means none. Saturates rather than overflows.
    func expiry(afterMicros ttlMicros: Int64?) -> Int64 {
        guard let ttlMicros else { return Self.neverExpires }
        let (at, overflow) = now.addingReportingOverflow(ttlMicros)
        return overflow ? Self.neverExpires : at
    }
}

extension DecimalBytes {
    /// A script argument as Redis would receive it: integers travel as their decimal text.
    static func of(_ value: StoreValue) -> [UInt8]? {
        switch value {
        case .bytes(let bytes): bytes
        case .integer(let number): render(number)
        case .null, .array: nil
        }
    }
}
