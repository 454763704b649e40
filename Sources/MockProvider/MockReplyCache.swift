/// A bounded LRU of mock replies keyed by (method, path, `x-mock-*` headers, body bytes), so a
/// benchmark that repeats one request skips JSON parsing and building: a hit is one hash of the
/// body plus a dictionary probe. Replies are deterministic apart from `created`, which stays the
/// value of the first answer for up to `maxAgeSeconds` (then the entry is rebuilt).
/// Single-threaded by design and deliberately not Sendable: keep one per worker thread.
public final class MockReplyCache {
    public let responder: MockResponder
    public let capacity: Int
    /// How long a cached `created` may lag the clock; nil keeps entries until evicted.
    public let maxAgeSeconds: Int?
    public private(set) var hits = 0
    public private(set) var misses = 0

    private var slotByKey: [MockReplyKey: Int] = [:]
    private var slots: [Slot] = []
    /// Most recently used slot, and least recently used (evicted first); -1 when empty.
    private var newest = -1
    private var oldest = -1

    private struct Slot {
        var key: MockReplyKey
        var reply: MockReply
        var storedAt: Int
        var newer: Int
        var older: Int
    }

    public init(responder: MockResponder, capacity: Int = 512, maxAgeSeconds: Int? = 60) {
        self.responder = responder
        self.capacity = max(1, capacity)
        self.maxAgeSeconds = maxAgeSeconds
        slotByKey.reserveCapacity(self.capacity)
        slots.reserveCapacity(self.capacity)
    }

    public var count: Int { slots.count }

    /// The cached reply to an identical earlier request, or the responder's answer (then cached).
    public func reply(method: String, path: String, header: (String) -> String?, body: [UInt8]) -> MockReply {
        lookup(method: method, path: path, header: header, body: body).reply
    }

    /// `reply(…)`, and for how many more seconds this same reply stays the answer to this same
    /// request (`Int.max` without `maxAgeSeconds`): how long a transport may repeat it unasked.
    public func lookup(method: String, path: String, header: (String) -> String?, body: [UInt8])
        -> (reply: MockReply, freshForSeconds: Int)
    {
        let key = MockReplyKey(method: method, path: path, header: header, body: body)
        let now = maxAgeSeconds == nil ? 0 : responder.clock()
        if let slot = slotByKey[key] {
            if let maxAgeSeconds, now - slots[slot].storedAt > maxAgeSeconds {
                slots[slot].reply = responder.respond(method: method, path: path, header: header, body: body)
                slots[slot].storedAt = now
                misses += 1
            } else {
                hits += 1
            }
            markNewest(slot)
            return (slots[slot].reply, freshFor(storedAt: slots[slot].storedAt, now: now))
        }
        misses += 1
        let reply = responder.respond(method: method, path: path, header: header, body: body)
        let slot: Int
        if slots.count < capacity {
            slot = slots.count
            slots.append(Slot(key: key, reply: reply, storedAt: now, newer: -1, older: -1))
        } else {
            slot = oldest
            unlink(slot)
            slotByKey.removeValue(forKey: slots[slot].key)
            slots[slot].key = key
            slots[slot].reply = reply
            slots[slot].storedAt = now
        }
        slotByKey[key] = slot
        linkAsNewest(slot)
        return (reply, freshFor(storedAt: now, now: now))
    }

    /// A slot is rebuilt once `now - storedAt > maxAgeSeconds`.
    private func freshFor(storedAt: Int, now: Int) -> Int {
        guard let maxAgeSeconds else { return Int.max }
        return max(0, maxAgeSeconds - (now - storedAt))
    }

    private func markNewest(_ slot: Int) {
        guard slot != newest else { return }
        unlink(slot)
        linkAsNewest(slot)
    }

    private func unlink(_ slot: Int) {
        let newer = slots[slot].newer
        let older = slots[slot].older
        if newer >= 0 { slots[newer].older = older } else { newest = older }
        if older >= 0 { slots[older].newer = newer } else { oldest = newer }
        slots[slot].newer = -1
        slots[slot].older = -1
    }

    private func linkAsNewest(_ slot: Int) {
        slots[slot].older = newest
        slots[slot].newer = -1
        if newest >= 0 { slots[newest].newer = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
    }
}

/// Everything a mock reply depends on besides the clock. Hashes the body with `Hasher` over raw
/// bytes (fast), and compares it in full, so two different bodies never share a reply.
struct MockReplyKey: Hashable {
    var method: String
    var path: String
    /// Values of `MockFaults.headerNames` in order; empty when none is present (the common case).
    var faultHeaders: [String?]
    var body: [UInt8]

    init(method: String, path: String, header: (String) -> String?, body: [UInt8]) {
        self.method = method
        self.path = path
        self.body = body
        var values: [String?] = []
        for (position, name) in MockFaults.headerNames.enumerated() {
            guard let value = header(name) else { continue }
            if values.isEmpty { values = Array(repeating: nil, count: MockFaults.headerNames.count) }
            values[position] = value
        }
        faultHeaders = values
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(method)
        hasher.combine(path)
        hasher.combine(faultHeaders)
        body.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
