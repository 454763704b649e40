import GatewayCore

/// The memory store's data: every key with its value, expiry and LRU position.
/// Not thread-safe by itself: `MemoryStore` keeps it inside its one `Mutex`, and every method
/// here runs under that lock. `now` is set from the store's clock at the start of each locked
/// operation, so one operation sees one instant (as a Redis command or script does).
final class MemoryKeyspace {
    /// What a key holds. Counters keep their integer form (Redis's "int" encoding) and are
    /// rendered as decimal ASCII when read as bytes, so the difference is never visible.
    enum StoredValue {
        case bytes([UInt8])
        case integer(Int64)
        case hash([String: [UInt8]])
    }

    struct Slot {
        var key: String
        var value: StoredValue
        /// Microseconds since the epoch at which the key vanishes; `neverExpires` when it has no TTL.
        var expiresAt: Int64
        /// Cache-like entries (written by `MemoryStore.set`) may be evicted; counters, hashes and
        /// locks may not, because losing a limit or a lock would be wrong, not merely slower.
        var evictable: Bool
        /// LRU links (slot indices, -1 for none); meaningful only while `evictable`.
        var newer: Int = -1
        var older: Int = -1
    }

    static let neverExpires = Int64.max

    let maxEntries: Int
    /// The current operation's time in microseconds since the epoch.
    var now: Int64 = 0

    private var slots: [Slot?] = []
    private var freeSlots: [Int] = []
    private var slotOfKey: [String: Int] = [:]
    /// Ends of the LRU list of evictable slots.
    private var newest = -1
    private var oldest = -1
    /// Where the incremental expiry sweep resumes.
    private var sweepCursor = 0

    init(maxEntries: Int) {
        precondition(maxEntries > 0, "maxEntries must be positive")
        self.maxEntries = maxEntries
    }

    /// Keys held, including expired ones that no access or sweep has removed yet.
    var count: Int { slotOfKey.count }

    // MARK: Lookup and lifetime

    /// The live slot of `key`; an expired key is removed here (lazy expiry) and reads as absent.
    func lookup(_ key: String) -> Int? {
        guard let slot = slotOfKey[key] else { return nil }
        if slots[slot]!.expiresAt <= now {
            remove(slot)
            return nil
        }
        return slot
    }

    func value(at slot: Int) -> StoredValue { slots[slot]!.value }

    /// Remaining lifetime in microseconds, nil without a TTL.
    func remainingLifetime(at slot: Int) -> Int64? {
        let expiresAt = slots[slot]!.expiresAt
        return expiresAt == Self.neverExpires ? nil : expiresAt - now
    }

    /// Replaces the value of a live slot, keeping its expiry; the entry becomes a counter,
    /// hash or lock (never evictable) unless `evictable` says otherwise.
    func replaceValue(at slot: Int, with value: StoredValue, evictable: Bool = false) {
        slots[slot]!.value = value
        setEvictable(slot, evictable)
    }

    /// Moves a hash's fields out of its slot (so the caller mutates them without a copy) and
    /// leaves a placeholder; the caller puts them back with `replaceValue`. WRONGTYPE otherwise.
    func takeHash(at slot: Int) throws(StoreError) -> [String: [UInt8]] {
        guard case .hash(let fields) = slots[slot]!.value else { throw Self.wrongType }
        slots[slot]!.value = .bytes([])
        return fields
    }

    func setExpiry(at slot: Int, expiresAt: Int64) { slots[slot]!.expiresAt = expiresAt }

    /// Writes `key` whole (Redis `SET`): any old value and TTL are replaced.
    func write(_ key: String, _ value: StoredValue, expiresAt: Int64, evictable: Bool) {
        if let slot = lookup(key) {
            slots[slot]!.value = value
            slots[slot]!.expiresAt = expiresAt
            setEvictable(slot, evictable)
            touch(slot)
        } else {
            insert(key, value, expiresAt: expiresAt, evictable: evictable)
        }
    }

    /// Adds a key known to be absent, then evicts cache entries if the store is over capacity.
    @discardableResult
    func insert(_ key: String, _ value: StoredValue, expiresAt: Int64, evictable: Bool) -> Int {
        let entry = Slot(key: key, value: value, expiresAt: expiresAt, evictable: false)
        let slot: Int
        if let reused = freeSlots.popLast() {
            slot = reused
            slots[slot] = entry
        } else {
            slot = slots.count
            slots.append(entry)
        }
        slotOfKey[key] = slot
        setEvictable(slot, evictable)
        evictIfOverCapacity()
        return slot
    }

    func remove(_ slot: Int) {
        unlink(slot)
        slotOfKey.removeValue(forKey: slots[slot]!.key)
        slots[slot] = nil
        freeSlots.append(slot)
    }

    /// Removes expired keys among the next `maxScanned` slots, resuming where the last sweep
    /// stopped, so a periodic caller bounds the time it holds the lock. Returns how many went.
    func removeExpired(maxScanned: Int) -> Int {
        guard !slots.isEmpty else { return 0 }
        var removed = 0
        var scanned = 0
        while scanned < min(maxScanned, slots.count) {
            if sweepCursor >= slots.count { sweepCursor = 0 }
            if let entry = slots[sweepCursor], entry.expiresAt <= now {
                remove(sweepCursor)
                removed += 1
            }
            sweepCursor += 1
            scanned += 1
        }
        return removed
    }

    // MARK: LRU

    /// Marks a cache entry as just used.
    func touch(_ slot: Int) {
        guard slots[slot]!.evictable, newest != slot else { return }
        unlink(slot)
        linkAsNewest(slot)
    }

    private func setEvictable(_ slot: Int, _ evictable: Bool) {
        guard slots[slot]!.evictable != evictable else { return }
        if evictable {
            slots[slot]!.evictable = true
            linkAsNewest(slot)
        } else {
            unlink(slot)
        }
    }

    /// Evicts least-recently-used cache entries while the store holds more than `maxEntries`
    /// keys. The newest cache entry is kept (it is the one being written), so when counters
    /// and locks alone fill the store it may exceed the bound by them and that one entry.
    private func evictIfOverCapacity() {
        while slotOfKey.count > maxEntries, oldest != -1, oldest != newest {
            remove(oldest)
        }
    }

    private func linkAsNewest(_ slot: Int) {
        slots[slot]!.evictable = true
        slots[slot]!.older = newest
        slots[slot]!.newer = -1
        if newest != -1 { slots[newest]!.newer = slot }
        newest = slot
        if oldest == -1 { oldest = slot }
    }

    private func unlink(_ slot: Int) {
        guard slots[slot]!.evictable else { return }
        let newer = slots[slot]!.newer
        let older = slots[slot]!.older
        if newer != -1 { slots[newer]!.older = older } else { newest = older }
        if older != -1 { slots[older]!.newer = newer } else { oldest = newer }
        slots[slot]!.evictable = false
        slots[slot]!.newer = -1
        slots[slot]!.older = -1
    }
}
