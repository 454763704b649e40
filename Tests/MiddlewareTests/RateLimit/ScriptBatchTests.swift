import GatewayCore
@testable import Middleware
import Testing

@Suite struct ScriptBatchTests {
    @Test func integersPackAsLittleEndianWordsAndReadBack() throws {
        let values: [Int64] = [0, 1, -1, 1_700_000_000_000_000, Int64.min, Int64.max]
        let packed = PackedIntegers(values)
        #expect(packed.count == values.count)
        #expect((0..<packed.count).map { packed[$0] } == values)
        #expect(Array(packed.bytes[8..<16]) == [1, 0, 0, 0, 0, 0, 0, 0])  // what Lua's struct.pack('<i8', 1) gives
        #expect(PackedIntegers(bytes: [1, 2, 3]) == nil)
        #expect(PackedIntegers(.integer(5)) == nil)
        #expect(packed.description == "[0, 1, -1, 1700000000000000, \(Int64.min), \(Int64.max)]")
    }

    /// Each key goes once into KEYS, in first-seen order, and every entry names its own, runs
    /// of one caller and callers interleaved alike.
    @Test func keysGoOnceAndEveryEntryNamesItsOwn() throws {
        let order = (0..<20).flatMap { i in [i, i / 2, 0] }  // runs, repeats, and one key all along
        var batch = ScriptBatch(entries: order.count, arity: 2)
        for (n, i) in order.enumerated() {
            batch.startEntry(key: "k\(i)")
            batch.append(Int64(i))
            batch.append(Int64(n))
        }
        var firstSeen: [String] = []
        for i in order where !firstSeen.contains("k\(i)") { firstSeen.append("k\(i)") }
        #expect(batch.keys == firstSeen)
        #expect(batch.arguments.count == 1)
        let entries = try #require(ScriptBatch.entries(keys: batch.keys, argument: batch.arguments[0], arity: 2))
        #expect(entries.map(\.key) == order.map { "k\($0)" })
        #expect(entries.map { Array($0.values) } == order.enumerated().map { [Int64($0.element), Int64($0.offset)] })
    }

    /// An admission call's second section (settlements riding with it) shares KEYS with the
    /// first, and is left out of ARGV when empty.
    @Test func sectionsShareTheKeysAndAnEmptyLastOneIsLeftOut() throws {
        var batch = ScriptBatch(entries: 2, arity: 1)
        batch.startEntry(key: "a")
        batch.append(10)
        #expect(batch.arguments.count == 1)
        batch.startEntry(key: "b", section: 1)
        batch.append(20)
        batch.append(21)
        batch.startEntry(key: "a")
        batch.append(11)
        #expect(batch.keys == ["a", "b"])
        #expect(batch.arguments == [PackedIntegers([1, 10, 1, 11]).storeValue, PackedIntegers([2, 20, 21]).storeValue])
    }

    @Test func malformedBatchesAreNotEntries() {
        let keys = ["a"]
        #expect(ScriptBatch.entries(keys: [], argument: PackedIntegers([1, 0]).storeValue, arity: 1) == nil)
        #expect(ScriptBatch.entries(keys: keys, argument: .integer(1), arity: 1) == nil)
        #expect(ScriptBatch.entries(keys: keys, argument: PackedIntegers([1, 0, 1]).storeValue, arity: 1) == nil)
        #expect(ScriptBatch.entries(keys: keys, argument: PackedIntegers([2, 0]).storeValue, arity: 1) == nil)
        #expect(ScriptBatch.entries(keys: keys, argument: PackedIntegers([]).storeValue, arity: 1) == nil)
        #expect(ScriptBatch.entries(keys: keys, argument: PackedIntegers([1, 7]).storeValue, arity: 1)?.first?.values.first == 7)
    }
}
