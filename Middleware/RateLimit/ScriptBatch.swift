import GatewayCore

/// Integers as the rate-limit scripts take and give them: one bulk string of 8-byte
/// little-endian two's-complement words (Lua's `struct.pack('<i8…')`), not one RESP element
/// each. A batch's numbers then cost neither side any decimal rendering or parsing, Redis makes
/// no object per argument, and the gateway no reply object per answer integer. Lua numbers
/// are doubles, so the values stay within ±2^53: µs timestamps, tokens and nano-dollars do.
public struct PackedIntegers: Sendable, Equatable {
    public private(set) var bytes: [UInt8]

    /// `values` packed: one copy of their memory.
    public init(_ values: [Int64]) {
        #if _endian(big)
        let values = values.map(\.littleEndian)
        #endif
        bytes = values.withUnsafeBytes { Array($0) }
    }

    /// The words of `bytes`; nil unless it holds a whole number of them.
    public init?(bytes: [UInt8]) {
        guard bytes.count % 8 == 0 else { return nil }
        self.bytes = bytes
    }

    /// The words of a script's answer (`StoreValue.bytes`); nil for anything else.
    public init?(_ reply: StoreValue) {
        guard case .bytes(let bytes) = reply else { return nil }
        self.init(bytes: bytes)
    }

    public var count: Int { bytes.count / 8 }

    public subscript(index: Int) -> Int64 {
        precondition(index >= 0 && index < count, "packed integer \(index) of \(count)")
        return bytes.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(fromByteOffset: 8 * index, as: Int64.self)) }
    }

    /// The answer a script gives: one bulk string.
    public var storeValue: StoreValue { .bytes(bytes) }
}

/// The KEYS and ARGV of one call of a tier's script (`LimitScripts`): the batch's limiter keys,
/// each once, and every entry's integers packed in one argument per section (an admission call
/// carries its admissions, then the settlements riding with it), each entry led by the 1-based
/// index of its key in KEYS. A caller's run of requests sends its key once per call.
public struct ScriptBatch: Sendable {
    public private(set) var keys: [String] = []
    /// The two sections' entries, built as integers and packed once (`arguments`): appending
    /// words to bytes went through generic code, a call per integer. Two arrays rather than an
    /// array of them, so an append is one array's.
    private var first: [Int64] = []
    private var second: [Int64] = []
    /// Whether the last entry started in the second section, which `append` then adds to.
    private var inSecond = false
    /// Where each key is in `keys`.
    private var positions: [String: Int] = [:]

    public init(entries: Int, arity: Int) {
        first.reserveCapacity(entries * (1 + arity))
    }

    /// Room for `entries` more of `arity` integers in `section` (0 or 1).
    public mutating func reserve(entries: Int, arity: Int, section: Int) {
        if section == 0 { first.reserveCapacity(first.count + entries * (1 + arity)) } else {
            second.reserveCapacity(second.count + entries * (1 + arity))
        }
    }

    /// Starts an entry of `key`'s in `section` (0, or 1 for the settlements riding with an
    /// admission batch); its integers follow (`append`).
    public mutating func startEntry(key: String, section: Int = 0) {
        startEntry(position: position(of: key), section: section)
    }

    /// Starts an entry of the key at `position` in `keys` (`position(of:)`).
    mutating func startEntry(position: Int, section: Int) {
        precondition(section == 0 || section == 1, "a script call has two sections")
        inSecond = section == 1
        append(Int64(1 + position))
    }

    public mutating func append(_ value: Int64) {
        if inSecond { second.append(value) } else { first.append(value) }
    }

    /// ARGV: the first section packed, then the second when it has entries.
    public var arguments: [StoreValue] {
        second.isEmpty ? [PackedIntegers(first).storeValue] : [PackedIntegers(first).storeValue, PackedIntegers(second).storeValue]
    }

    /// Where `key` is in `keys`, added when it is new.
    mutating func position(of key: String) -> Int {
        // The last key first: a batch is mostly one caller's run (and the same string object).
        if let last = keys.last, last == key { return keys.count - 1 }
        // A few keys are searched in order; the table of positions is made only past them (it
        // was an allocation and a hash per call, for batches of one or two callers).
        if keys.count <= Self.searchedInOrder {
            if let found = keys.firstIndex(of: key) { return found }
        } else if let found = positions[key] {
            return found
        }
        keys.append(key)
        if keys.count > Self.searchedInOrder {
            if positions.isEmpty {
                for (index, known) in keys.enumerated() { positions[known] = index }
            } else {
                positions[key] = keys.count - 1
            }
        }
        return keys.count - 1
    }

    private static let searchedInOrder = 8

    /// The entries of one section of a script call as the scripts read them: each one's key and
    /// integers; nil when `argument` is not a whole packed batch of `arity`-integer entries over
    /// `keys`.
    static func entries(keys: [String], argument: StoreValue, arity: Int) -> [(key: String, values: ArraySlice<Int64>)]? {
        guard !keys.isEmpty, let packed = PackedIntegers(argument), packed.count > 0, packed.count % (1 + arity) == 0
        else { return nil }
        let values = (0..<packed.count).map { packed[$0] }
        var entries: [(key: String, values: ArraySlice<Int64>)] = []
        entries.reserveCapacity(values.count / (1 + arity))
        for start in stride(from: 0, to: values.count, by: 1 + arity) {
            let index = values[start]
            guard index >= 1, index <= Int64(keys.count) else { return nil }
            entries.append((keys[Int(index) - 1], values[(start + 1)..<(start + 1 + arity)]))
        }
        return entries
    }
}

extension ScriptBatch {
    /// An `admit` call's requests as its script reads them (`AdmissionLayout`): each run's key,
    /// its length, then its requests' reservations; nil when `argument` is not a whole batch of
    /// runs over `keys`.
    static func admissions(keys: [String], argument: StoreValue) -> [(key: String, reserve: Int64)]? {
        guard !keys.isEmpty, let packed = PackedIntegers(argument), packed.count > 0 else { return nil }
        var requests: [(key: String, reserve: Int64)] = []
        var at = 0
        while at < packed.count {
            let index = packed[at]
            guard index >= 1, index <= Int64(keys.count), at + 1 < packed.count else { return nil }
            let length = packed[at + 1]
            guard length >= 1, length <= Int64(packed.count - at - 2) else { return nil }
            for i in 0..<Int(length) { requests.append((keys[Int(index) - 1], packed[at + 2 + i])) }
            at += 2 + Int(length)
        }
        return requests
    }
}

extension PackedIntegers: CustomStringConvertible {
    public var description: String { "[" + (0..<count).map { String(self[$0]) }.joined(separator: ", ") + "]" }
}
