import Foundation
import GatewayCore
import State
import Synchronization
import Testing

/// A clock that moves only when told; safe from any thread.
final class ManualClock: Sendable {
    private let micros: Mutex<Int64>

    init(start: StoreTime = StoreTime(seconds: 1_700_000_000, microseconds: 0)) {
        micros = Mutex(start.totalMicroseconds)
    }

    func now() -> StoreTime {
        let total = micros.withLock { $0 }
        return StoreTime(seconds: total / 1_000_000, microseconds: total % 1_000_000)
    }

    func advance(by delta: Int64) { micros.withLock { $0 += delta } }
}

/// A clock that moves a millisecond each time it is read, as a real one does between calls.
final class TickingClock: Sendable {
    private let micros: Mutex<Int64>

    init(start: Int64) { micros = Mutex(start) }

    func now() -> StoreTime {
        let total = micros.withLock { $0 += 1_000; return $0 }
        return StoreTime(seconds: total / 1_000_000, microseconds: total % 1_000_000)
    }

    func advance(by delta: Int64) { micros.withLock { $0 += delta } }
}

/// Runs `body(index)` on `count` new threads at once and returns when all have finished.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let finished = DispatchGroup()
    for index in 0..<count {
        finished.enter()
        Thread {
            body(index)
            finished.leave()
        }.start()
    }
    finished.wait()
}

@Suite struct MemoryStoreTests {
    @Test(arguments: StateStoreContract.cases)
    func contract(_ check: StateStoreContract.Case) async throws {
        try await check.run(against: {
            let clock = ManualClock()
            return (MemoryStore(clock: clock.now), advanceClock: clock.advance(by:))
        })
    }

    /// The rate-limit cases on a clock that runs, started just before a day ends (a lease slot
    /// and an hour end with it): each case must first let that end pass, as it does on Redis.
    @Test(arguments: StateStoreContract.rateLimitCases)
    func rateCasesOnARunningClockNearTheEndOfADay(_ check: StateStoreContract.Case) async throws {
        let dayEnd: Int64 = (1_700_000_000 / 86_400 + 1) * 86_400_000_000
        for before in stride(from: Int64(2_000), through: 16_000, by: 1_000) {
            try await check.run(against: {
                let clock = TickingClock(start: dayEnd - before)
                return (MemoryStore(clock: clock.now), advanceClock: clock.advance(by:))
            })
        }
    }

    /// A script's HMGET / HSET / HINCRBYs of several fields: one step each, Redis semantics (absent fields
    /// and keys read nil, a string key is WRONGTYPE).
    @Test func scriptsReadAndWriteSeveralHashFieldsAtOnce() throws {
        let store = MemoryStore()
        let many = StoreScript(name: "many", lua: "") { storage, keys, _ in
            #expect(storage.hashGet(keys[0], fields: ["a", "b"]) == [nil, nil])
            storage.hashSet(keys[0], fields: [("a", Array("1".utf8)), ("b", Array("2".utf8))])
            storage.hashSet(keys[0], fields: [("b", Array("3".utf8))])
            storage.hashIncrement(keys[0] + "n", fields: [("n", 2), ("m", 1), ("n", 3)])
            #expect(storage.hashGet(keys[0] + "n", fields: ["n", "m"]) == [Array("5".utf8), Array("1".utf8)])
            let values = storage.hashGet(keys[0], fields: ["a", "x", "b"])
            return .array(values.map { $0.map(StoreValue.bytes) ?? .null })
        }
        #expect(try store.run(many, keys: ["sy:{m}:h"], arguments: []) == .array([.bytes(Array("1".utf8)), .null, .bytes(Array("3".utf8))]))
        try store.set("sy:{m}:s", [1], ttl: nil)
        let wrong = StoreScript(name: "wrong", lua: "") { storage, keys, _ in .array(storage.hashGet(keys[0], fields: ["a"]).map { _ in .null }) }
        #expect(throws: StoreError.self) { try store.run(wrong, keys: ["sy:{m}:s"], arguments: []) }
    }

    @Test func evictsTheLeastRecentlyUsedCacheEntry() throws {
        let store = MemoryStore(clock: ManualClock().now, maxEntries: 3)
        try store.set("a", bytes("1"), ttl: nil)
        try store.set("b", bytes("2"), ttl: nil)
        try store.set("c", bytes("3"), ttl: nil)
        #expect(try store.get("a") == bytes("1"))  // "b" is now the least recently used
        try store.set("d", bytes("4"), ttl: nil)
        #expect(store.keyCount == 3)
        #expect(try store.get("b") == nil)
        #expect(try store.get("a") == bytes("1"))
        #expect(try store.get("c") == bytes("3"))
        try store.set("c", bytes("3'"), ttl: nil)  // rewriting counts as use: "d" goes next
        try store.set("e", bytes("5"), ttl: nil)
        #expect(try store.get("d") == nil)
        #expect(try store.get("a") == bytes("1"))
    }

    @Test func neverEvictsCountersHashesLocksOrScriptKeys() throws {
        let store = MemoryStore(clock: ManualClock().now, maxEntries: 4)
        try store.set("cache-1", bytes("x"), ttl: nil)
        _ = try store.increment("counter", by: 1, ttl: nil)
        _ = try store.hashIncrement("hash", field: "f", by: 1, ttl: nil)
        #expect(try store.setIfAbsent("lock", bytes("me"), ttl: .seconds(60)))
        _ = try store.run(CoreScripts.slidingWindowAdmit, keys: ["limit"], arguments: [.integer(9), .integer(60_000_000), .integer(1)])
        for index in 2...10 { try store.set("cache-\(index)", bytes("7"), ttl: nil) }

        #expect(try store.get("counter") == bytes("1"))
        #expect(try store.hashGetAll("hash") == ["f": bytes("1")])
        #expect(try store.get("lock") == bytes("me"))
        let window = try store.run(
            CoreScripts.slidingWindowAdmit, keys: ["limit"], arguments: [.integer(9), .integer(60_000_000), .integer(1)])
        #expect(window.array?[1] == .integer(7))  // the first admission is still counted
        // Only the newest cache entry survives beside the four keys that may not be evicted.
        #expect(store.keyCount == 5)
        #expect(try store.get("cache-10") == bytes("7"))
        #expect(try store.get("cache-9") == nil)

        // A cache key that becomes a counter is no longer evictable.
        _ = try store.increment("cache-10", by: 1, ttl: nil)
        try store.set("cache-11", bytes("x"), ttl: nil)
        try store.set("cache-12", bytes("x"), ttl: nil)
        #expect(store.keyCount == 6)
        #expect(try store.get("cache-10") == bytes("8"))
        #expect(try store.get("cache-11") == nil)
    }

    @Test func sweepRemovesExpiredKeysInBoundedSteps() throws {
        let clock = ManualClock()
        let store = MemoryStore(clock: clock.now)
        for index in 0..<10 { try store.set("short-\(index)", bytes("x"), ttl: .seconds(1)) }
        for index in 0..<5 { _ = try store.increment("long-\(index)", by: 1, ttl: .seconds(100)) }
        #expect(store.removeExpired() == 0)
        clock.advance(by: 2_000_000)
        #expect(store.keyCount == 15)  // expiry is lazy until touched or swept
        var removed = 0
        for _ in 0..<3 { removed += store.removeExpired(maxScanned: 5) }
        #expect(removed == 10)
        #expect(store.keyCount == 5)
        #expect(try store.get("long-0") == bytes("1"))
    }

    @Test func expiredKeysReadAsAbsentBeforeAnySweep() throws {
        let clock = ManualClock()
        let store = MemoryStore(clock: clock.now)
        try store.set("k", bytes("v"), ttl: .milliseconds(1))
        clock.advance(by: 999)
        #expect(try store.get("k") == bytes("v"))
        clock.advance(by: 1)
        #expect(try store.get("k") == nil)
        #expect(store.keyCount == 0)
    }

    @Test func refusesNonPositiveTTLsLikeRedis() {
        let store = MemoryStore(clock: ManualClock().now)
        #expect(throws: StoreError.server("ERR invalid expire time in 'set' command")) {
            try store.set("k", bytes("v"), ttl: .zero)
        }
        #expect(throws: StoreError.server("ERR invalid expire time in 'set' command")) {
            try store.setIfAbsent("k", bytes("v"), ttl: .nanoseconds(-1))
        }
    }

    @Test func scriptCommandErrorsFailTheRun() throws {
        let store = MemoryStore(clock: ManualClock().now)
        _ = try store.hashIncrement("hash", field: "f", by: 1, ttl: nil)
        let incrementsAHash = StoreScript(name: "bad", lua: "return redis.call('INCR', KEYS[1])") { storage, keys, _ in
            .integer(storage.increment(keys[0], by: 1))
        }
        #expect(throws: StoreError.server("WRONGTYPE Operation against a key holding the wrong kind of value")) {
            try store.run(incrementsAHash, keys: ["hash"], arguments: [])
        }
        #expect(try store.run(incrementsAHash, keys: ["fresh"], arguments: []) == .integer(1))
    }

    @Test func publishDeliversOnThePublishersThreadBeforeReturning() {
        let store = MemoryStore(clock: ManualClock().now)
        let received = Mutex<[String]>([])
        let subscription = store.subscribe("ch") { message in
            received.withLock { $0.append(String(decoding: message, as: UTF8.self)) }
        }
        store.publish("ch", bytes("one"))
        #expect(received.withLock { $0 } == ["one"])
        subscription.cancel()
        store.publish("ch", bytes("two"))
        #expect(received.withLock { $0 } == ["one"])
    }

    @Test func handlersMayUseTheStore() throws {
        let store = MemoryStore(clock: ManualClock().now)
        let subscription = store.subscribe("ch") { message in
            _ = try? store.increment("seen", by: Int64(message.count), ttl: nil)
            store.publish("echo", message)
        }
        store.publish("ch", bytes("abc"))
        subscription.cancel()
        #expect(try store.get("seen") == bytes("3"))
    }

    @Test func incrementsFromFourThreadsAllCount() throws {
        let store = MemoryStore(clock: ManualClock().now)
        onThreads(4) { _ in
            for _ in 0..<10_000 { _ = try? store.increment("hits", by: 1, ttl: .seconds(60)) }
        }
        #expect(try store.get("hits") == bytes("40000"))
    }

    @Test func slidingWindowAdmitsExactlyTheLimitUnderContention() throws {
        let store = MemoryStore(clock: ManualClock().now)
        let limit: Int64 = 1_500
        let admitted = Atomic<Int>(0)
        let failures = Atomic<Int>(0)
        onThreads(4) { _ in
            for _ in 0..<1_000 {
                do {
                    let reply = try store.run(
                        CoreScripts.slidingWindowAdmit, keys: ["sy:{t}:rl"],
                        arguments: [.integer(limit), .integer(60_000_000), .integer(1)])
                    if reply.array?.first == .integer(1) { admitted.add(1, ordering: .relaxed) }
                } catch {
                    failures.add(1, ordering: .relaxed)
                }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
        #expect(admitted.load(ordering: .relaxed) == Int(limit))
    }

    @Test func slidingWindowKeysVanishAfterTheirWindow() throws {
        let clock = ManualClock()
        let store = MemoryStore(clock: clock.now)
        let arguments: [StoreValue] = [.integer(10), .integer(1_000_000), .integer(1)]
        _ = try store.run(CoreScripts.slidingWindowAdmit, keys: ["rl"], arguments: arguments)
        clock.advance(by: 1_000_000)
        _ = try store.run(CoreScripts.slidingWindowAdmit, keys: ["rl"], arguments: arguments)
        #expect(store.keyCount == 2)
        clock.advance(by: 2_000_000)
        store.removeExpired()
        #expect(store.keyCount == 0)
    }

    @Test func slidingWindowWeighsThePreviousWindowByItsOverlap() throws {
        let clock = ManualClock()  // starts on a whole second, so on a window edge
        let store = MemoryStore(clock: clock.now)
        func admit(cost: Int64) throws -> [StoreValue] {
            try store.run(
                CoreScripts.slidingWindowAdmit, keys: ["rl"], arguments: [.integer(10), .integer(1_000_000), .integer(cost)]
            ).array ?? []
        }
        #expect(try admit(cost: 10) == [.integer(1), .integer(0), .integer(1_000_000)])
        clock.advance(by: 1_250_000)  // a quarter into the next window: 75% of 10 still weighs
        // 7.5 + 3 > 10: refused, and 50ms later the weight is 70%, so 7 + 3 fits.
        #expect(try admit(cost: 3) == [.integer(0), .integer(2), .integer(50_000)])
        #expect(try admit(cost: 2) == [.integer(1), .integer(0), .integer(750_000)])
    }
}
