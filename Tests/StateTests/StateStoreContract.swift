import GatewayCore
import State
import Testing

/// The semantics every `StateStore` must have, written once and run against each store, so the
/// memory and Redis stores cannot drift apart. A store's test file runs every case:
///
///     @Test(arguments: StateStoreContract.cases)
///     func contract(_ check: StateStoreContract.Case) async throws {
///         try await check.run(against: { (RedisStore(...flushed...), advanceClock: nil) })
///     }
///
/// Time: when the factory returns `advanceClock` (the memory store with a manual clock), the
/// TTL and window cases move time and check expiry exactly. A store on a real server (Redis)
/// returns nil: each case still runs every check that needs no waiting (values, errors, that a
/// TTL does not cut a key short, admission and refusal) and skips only the after-expiry checks,
/// since tests never sleep. Expiry on Redis is Redis's own and is exercised there by PEXPIRE.
///
/// Every case uses keys and channels under its own random hash tag, so cases may run in
/// parallel against one shared server.
enum StateStoreContract {
    /// Moves the store's clock forward by the given microseconds.
    typealias AdvanceClock = @Sendable (Int64) -> Void
    /// Makes a fresh store for one case.
    typealias StoreFactory = @Sendable () async throws -> (any StateStore, advanceClock: AdvanceClock?)

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let body: @Sendable (Environment) async throws -> Void

        var testDescription: String { name }

        func run(against makeStore: StoreFactory) async throws {
            let (store, advanceClock) = try await makeStore()
            let tag = "contract-\(UInt64.random(in: 0...UInt64.max))"
            try await body(Environment(store: store, advanceClock: advanceClock, tag: tag))
        }
    }

    /// What a case works with: the store, its clock if controllable, and key naming.
    struct Environment: Sendable {
        let store: any StateStore
        let advanceClock: AdvanceClock?
        let tag: String

        /// A key (or channel) private to this case run.
        func key(_ name: String) -> String { StateKey.make(tag: tag, name) }

        /// Runs `checks` after moving the clock by `micros`, only when the store's clock is ours.
        func after(micros: Int64, _ checks: () async throws -> Void) async rethrows {
            guard let advanceClock else { return }
            advanceClock(micros)
            try await checks()
        }

        /// Lets the next end of a lease slot pass when it is closer than `margin`. A rate-limit
        /// case compares counters a few calls apart, and a slot, token window or day ending between
        /// them would split them legitimately (hours and days end on slot ends: 3,600 s is 96
        /// slots of 37.5 s). Redis's clock is real, so such a case would fail a run in a few
        /// dozen on a loaded machine; instead it waits out the end (at most `margin`, in about one
        /// case in twelve) or, on a manual clock, moves the clock past it.
        func clearOfSlotEnd(slot: Int64, margin: Int64) async throws {
            let now = try await store.serverTime().totalMicroseconds
            let gap = slot - now % slot + 1_000
            guard gap < margin else { return }
            if let advanceClock { advanceClock(gap) } else { try await Task.sleep(for: .microseconds(gap)) }
        }
    }

    static let cases: [Case] = [
        Case(name: "get, set and delete", body: getSetDelete),
        Case(name: "set with a TTL expires", body: setWithTTLExpires),
        Case(name: "setIfAbsent: only the first wins, and it expires", body: setIfAbsent),
        Case(name: "increment creates at 0 and reads as decimal", body: incrementCreates),
        Case(name: "increment applies its TTL only on creation", body: incrementTTLOnCreation),
        Case(name: "increment on a non-integer fails like Redis", body: incrementNonInteger),
        Case(name: "hashIncrement and hashGetAll", body: hashIncrementAndGetAll),
        Case(name: "hashGet, hashSet and hashDelete", body: hashFields),
        Case(name: "WRONGTYPE between strings and hashes", body: wrongType),
        Case(name: "slidingWindowAdmit admits exactly limit, then refuses", body: slidingWindowLimit),
        Case(name: "slidingWindowAdmit is all-or-nothing per cost", body: slidingWindowCost),
        Case(name: "slidingWindowAdmit refuses bad arguments", body: slidingWindowBadArguments),
        Case(name: "compareAndDelete releases only its own lock", body: compareAndDelete),
        Case(name: "publish reaches subscribers until they cancel", body: publishSubscribe),
        Case(name: "serverTime is plausible and moves forward", body: serverTime),
    ] + rateLimitCases

    static let second: Int64 = 1_000_000

    // MARK: Strings

    static func getSetDelete(_ env: Environment) async throws {
        let store = env.store
        let key = env.key("plain")
        #expect(try await store.get(key) == nil)
        try await store.set(key, bytes("v1"), ttl: nil)
        #expect(try await store.get(key) == bytes("v1"))
        try await store.set(key, bytes("v2"), ttl: nil)
        #expect(try await store.get(key) == bytes("v2"))
        #expect(try await store.delete(key))
        #expect(try await store.get(key) == nil)
        #expect(try await !store.delete(key))

        let empty = env.key("empty")
        try await store.set(empty, [], ttl: nil)
        #expect(try await store.get(empty) == [])
        let binary: [UInt8] = [0, 255, 13, 10, 0]
        try await store.set(empty, binary, ttl: nil)
        #expect(try await store.get(empty) == binary)
    }

    static func setWithTTLExpires(_ env: Environment) async throws {
        let store = env.store
        let key = env.key("cached")
        try await store.set(key, bytes("answer"), ttl: .seconds(10))
        #expect(try await store.get(key) == bytes("answer"))
        try await env.after(micros: 10 * second - 1_000) { () async throws in
            #expect(try await store.get(key) == bytes("answer"))
        }
        try await env.after(micros: 2_000) { () async throws in
            #expect(try await store.get(key) == nil)
            #expect(try await !store.delete(key))
        }

        // A plain SET clears an earlier TTL.
        let kept = env.key("kept")
        try await store.set(kept, bytes("a"), ttl: .seconds(1))
        try await store.set(kept, bytes("b"), ttl: nil)
        try await env.after(micros: 5 * second) { () async throws in
            #expect(try await store.get(kept) == bytes("b"))
        }
    }

    static func setIfAbsent(_ env: Environment) async throws {
        let store = env.store
        let lock = env.key("lock")
        #expect(try await store.setIfAbsent(lock, bytes("first"), ttl: .seconds(30)))
        #expect(try await !store.setIfAbsent(lock, bytes("second"), ttl: .seconds(30)))
        #expect(try await store.get(lock) == bytes("first"))
        try await env.after(micros: 30 * second + 1) { () async throws in
            #expect(try await store.get(lock) == nil)
            #expect(try await store.setIfAbsent(lock, bytes("third"), ttl: .seconds(30)))
            #expect(try await store.get(lock) == bytes("third"))
        }
        #expect(try await store.delete(lock))
        #expect(try await store.setIfAbsent(lock, bytes("fourth"), ttl: .seconds(30)))
    }

    // MARK: Counters and hashes

    static func incrementCreates(_ env: Environment) async throws {
        let store = env.store
        let counter = env.key("counter")
        #expect(try await store.increment(counter, by: 5, ttl: nil) == 5)
        #expect(try await store.increment(counter, by: -7, ttl: nil) == -2)
        #expect(try await store.get(counter) == bytes("-2"))
        try await store.set(counter, bytes("41"), ttl: nil)
        #expect(try await store.increment(counter, by: 1, ttl: nil) == 42)
        #expect(try await store.get(counter) == bytes("42"))
    }

    static func incrementTTLOnCreation(_ env: Environment) async throws {
        let store = env.store
        let counter = env.key("window")
        #expect(try await store.increment(counter, by: 1, ttl: .seconds(10)) == 1)
        try await env.after(micros: 6 * second) { () async throws in
            // A later increment must not extend the window.
            #expect(try await store.increment(counter, by: 1, ttl: .seconds(10)) == 2)
        }
        try await env.after(micros: 4 * second + 1) { () async throws in
            #expect(try await store.get(counter) == nil)
            #expect(try await store.increment(counter, by: 3, ttl: .seconds(10)) == 3)
        }
        let hash = env.key("usage")
        #expect(try await store.hashIncrement(hash, field: "tokens", by: 10, ttl: .seconds(10)) == 10)
        try await env.after(micros: 6 * second) { () async throws in
            #expect(try await store.hashIncrement(hash, field: "tokens", by: 1, ttl: .seconds(10)) == 11)
        }
        try await env.after(micros: 4 * second + 1) { () async throws in
            #expect(try await store.hashGetAll(hash).isEmpty)
        }
    }

    static func incrementNonInteger(_ env: Environment) async throws {
        let store = env.store
        let key = env.key("text")
        for text in ["abc", "1.5", " 7", "007", ""] {
            try await store.set(key, bytes(text), ttl: nil)
            await #expect(throws: StoreError.server("ERR value is not an integer or out of range")) {
                try await store.increment(key, by: 1, ttl: nil)
            }
        }
        let hash = env.key("hash")
        #expect(try await store.hashIncrement(hash, field: "n", by: 1, ttl: nil) == 1)
        await #expect(throws: StoreError.server("ERR increment or decrement would overflow")) {
            try await store.hashIncrement(hash, field: "n", by: Int64.max, ttl: nil)
        }
        // Exact over the whole Int64 range (the Redis store uses plain INCRBY here, not Lua's doubles).
        let big = env.key("big")
        #expect(try await store.increment(big, by: Int64.max, ttl: nil) == Int64.max)
        await #expect(throws: StoreError.server("ERR increment or decrement would overflow")) {
            try await store.increment(big, by: 1, ttl: nil)
        }
    }

    static func hashFields(_ env: Environment) async throws {
        let store = env.store
        let hash = env.key("registry")
        #expect(try await store.hashGet(hash, field: "a") == nil)
        #expect(try await !store.hashDelete(hash, field: "a"))
        try await store.hashSet(hash, field: "a", bytes("1"))
        try await store.hashSet(hash, field: "b", [0, 255])
        try await store.hashSet(hash, field: "a", bytes("2"))
        #expect(try await store.hashGet(hash, field: "a") == bytes("2"))
        #expect(try await store.hashGet(hash, field: "b") == [0, 255])
        #expect(try await store.hashDelete(hash, field: "a"))
        #expect(try await store.hashGetAll(hash) == ["b": [0, 255]])
        // The hash goes with its last field.
        #expect(try await store.hashDelete(hash, field: "b"))
        #expect(try await !store.delete(hash))
        let text = env.key("text")
        try await store.set(text, bytes("x"), ttl: nil)
        await #expect(throws: StoreError.server("WRONGTYPE Operation against a key holding the wrong kind of value")) {
            try await store.hashGet(text, field: "a")
        }
    }

    static func hashIncrementAndGetAll(_ env: Environment) async throws {
        let store = env.store
        let hash = env.key("quota")
        #expect(try await store.hashGetAll(hash).isEmpty)
        #expect(try await store.hashIncrement(hash, field: "requests", by: 2, ttl: nil) == 2)
        #expect(try await store.hashIncrement(hash, field: "requests", by: 3, ttl: nil) == 5)
        #expect(try await store.hashIncrement(hash, field: "tokens", by: -1, ttl: nil) == -1)
        #expect(try await store.hashGetAll(hash) == ["requests": bytes("5"), "tokens": bytes("-1")])
        #expect(try await store.delete(hash))
        #expect(try await store.hashGetAll(hash).isEmpty)
    }

    static func wrongType(_ env: Environment) async throws {
        let store = env.store
        let wrong = StoreError.server("WRONGTYPE Operation against a key holding the wrong kind of value")
        let hash = env.key("hash")
        let string = env.key("string")
        _ = try await store.hashIncrement(hash, field: "f", by: 1, ttl: nil)
        try await store.set(string, bytes("1"), ttl: nil)

        await #expect(throws: wrong) { try await store.get(hash) }
        await #expect(throws: wrong) { try await store.increment(hash, by: 1, ttl: nil) }
        await #expect(throws: wrong) { try await store.hashIncrement(string, field: "f", by: 1, ttl: nil) }
        await #expect(throws: wrong) { try await store.hashGetAll(string) }
        // Redis appends the script's name to errors raised inside scripts.
        try await expectServerError(startingWith: "WRONGTYPE") {
            _ = try await store.run(CoreScripts.compareAndDelete, keys: [hash], arguments: [.string("x")])
        }
        // SET NX sees any existing key; SET and DEL ignore the type.
        #expect(try await !store.setIfAbsent(hash, bytes("x"), ttl: .seconds(5)))
        try await store.set(hash, bytes("now a string"), ttl: nil)
        #expect(try await store.get(hash) == bytes("now a string"))
        #expect(try await store.delete(string))
        #expect(try await store.hashIncrement(string, field: "f", by: 4, ttl: nil) == 4)
    }
}

/// UTF-8 bytes of a test literal.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
