import GatewayCore

/// A caller's usage of one UTC day not yet added to its day hash, kept in its limiter hash's
/// `u` field (five packed words: day, requests, prompt tokens, completion tokens, cost in
/// nano-dollars) by plans that fold usage (`LimitScripts.Shape.foldsUsage`).
///
/// The admission script reads and writes the limiter hash anyway; one more field read,
/// unpacked, added to, packed and written costs it about 13k instructions a call, where adding
/// the usage to the day hash cost three or four `HINCRBY`s, about 28k (a tenth of the script).
/// The day's hash receives the sums when a later day's usage arrives (`add`), so the day's
/// usage is the day hash plus this (`DayUsage.read`). While a plan folds, its limiter hash
/// lives as long as usage is kept.
public struct PendingUsage: Sendable, Equatable {
    /// The day index, -1 when nothing is pending.
    public var day: Int64 = -1
    public var requests: Int64 = 0
    public var promptTokens: Int64 = 0
    public var completionTokens: Int64 = 0
    public var costNanos: Int64 = 0

    public init() {}

    /// The limiter hash's field.
    public static let field = "u"

    /// `bytes` as stored; nothing pending when absent or not five words.
    public init(_ bytes: [UInt8]?) {
        guard let bytes, let words = PackedIntegers(bytes: bytes), words.count == 5 else { return }
        (day, requests, promptTokens, completionTokens, costNanos) = (words[0], words[1], words[2], words[3], words[4])
    }

    /// As a day hash's counters (`LimitScripts.usageFields`' order, nothing reserved).
    var sums: [Int64] { [requests, promptTokens, completionTokens, costNanos, 0] }

    public var bytes: [UInt8] { PackedIntegers([day, requests, promptTokens, completionTokens, costNanos]).bytes }

    /// Adds a day's sums. A later day than the pending one moves the pending sums out first
    /// (`flush` gets them and their day), an earlier one (an answer that ended after midnight,
    /// settled after a later day's) goes out at once.
    public mutating func add(day: Int64, requests: Int64, prompt: Int64, completion: Int64, cost: Int64,
                             flush: (_ day: Int64, _ sums: PendingUsage) -> Void) {
        var sums = PendingUsage()
        (sums.day, sums.requests, sums.promptTokens, sums.completionTokens, sums.costNanos) = (day, requests, prompt, completion, cost)
        if day == self.day {
            self.requests += requests
            promptTokens += prompt
            completionTokens += completion
            costNanos += cost
        } else if day < self.day {
            flush(day, sums)
        } else {
            if self.day >= 0 { flush(self.day, self) }
            self = sums
        }
    }
}

/// One caller's usage of one UTC day, as `/admin/usage` reports it.
public enum DayUsage {
    /// The day hash's counters (`CallerKeys.day`: requests, prompt_tokens, completion_tokens,
    /// cost_nanos, reserved_tokens) plus what is still pending in the limiter hash for that day,
    /// read in one step (`script`): a settlement moving the pending sums to the day hash between
    /// two reads would count them twice or not at all. `base` is the caller's key prefix
    /// (`CallerKeys.base`).
    public static func read(_ store: any StateStore, base: String, day: Int64) async throws(StoreError) -> [String: Int64] {
        let reply = try await store.run(script, keys: [base + "d:" + String(day), base + "l"], arguments: [])
        guard let parts = reply.array, parts.count == 2, let flat = parts[0].array else {
            throw StoreError.server("usage read: unexpected reply")
        }
        var fields: [String: Int64] = [:]
        for i in stride(from: 0, to: flat.count - 1, by: 2) {
            guard case .bytes(let name) = flat[i], case .bytes(let bytes) = flat[i + 1], let value = DecimalBytes.parse(bytes)
            else { continue }
            fields[String(decoding: name, as: UTF8.self)] = value
        }
        var stored: [UInt8]?
        if case .bytes(let bytes) = parts[1] { stored = bytes }
        let pending = PendingUsage(stored)
        if pending.day == day {
            fields["requests", default: 0] += pending.requests
            fields["prompt_tokens", default: 0] += pending.promptTokens
            fields["completion_tokens", default: 0] += pending.completionTokens
            fields["cost_nanos", default: 0] += pending.costNanos
        }
        return fields
    }

    /// KEYS: the day hash, the limiter hash. Reply: the day hash's fields and values, and the
    /// pending usage (nil when none).
    static let script = StoreScript(
        name: "usage_read",
        lua: "return {redis.call('HGETALL', KEYS[1]), redis.call('HGET', KEYS[2], '\(PendingUsage.field)')}\n"
    ) { storage, keys, _ throws(StoreError) in
        guard keys.count == 2 else { throw StoreError.server("ERR usage read: bad arguments") }
        let flat = storage.hashGetAll(keys[0]).sorted { $0.key < $1.key }.flatMap { [StoreValue.string($0.key), .bytes($0.value)] }
        return .array([.array(flat), storage.hashGet(keys[1], field: PendingUsage.field).map(StoreValue.bytes) ?? .null])
    }
}
