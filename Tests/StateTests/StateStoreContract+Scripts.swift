import GatewayCore
import State
import Testing

/// Contract cases for scripts, pub/sub and time (see `StateStoreContract`).
extension StateStoreContract {
    static let hour: Int64 = 3_600 * second

    /// One `slidingWindowAdmit` reply, decoded.
    struct Admission: Equatable, CustomStringConvertible {
        var admitted: Bool
        var remaining: Int64
        /// `resetMicros` when admitted, `retryAfterMicros` when refused.
        var micros: Int64

        var description: String { "\(admitted ? "admit" : "refuse") remaining=\(remaining) micros=\(micros)" }
    }

    static func admit(_ env: Environment, _ key: String, limit: Int64, window: Int64, cost: Int64 = 1) async throws -> Admission {
        let reply = try await env.store.run(
            CoreScripts.slidingWindowAdmit, keys: [key], arguments: [.integer(limit), .integer(window), .integer(cost)])
        let fields = (reply.array ?? []).compactMap { $0.integer }
        try #require(fields.count == 3, "reply \(reply)")
        return Admission(admitted: fields[0] == 1, remaining: fields[1], micros: fields[2])
    }

    // MARK: Scripts

    static func slidingWindowLimit(_ env: Environment) async throws {
        // An hour-long window so a real server's clock cannot cross a window edge mid-case
        // except with negligible odds.
        let key = env.key("rl:requests")
        for expectedRemaining in stride(from: Int64(4), through: 0, by: -1) {
            let admission = try await admit(env, key, limit: 5, window: hour)
            #expect(admission.admitted, "\(admission)")
            #expect(admission.remaining == expectedRemaining)
            #expect(admission.micros > 0 && admission.micros <= hour)
        }
        let refused = try await admit(env, key, limit: 5, window: hour)
        #expect(!refused.admitted)
        #expect(refused.remaining == 0)
        #expect(refused.micros > 0 && refused.micros <= 2 * hour, "\(refused)")
        if env.advanceClock != nil {
            // With time standing still, asking again changes nothing.
            #expect(try await admit(env, key, limit: 5, window: hour) == refused)
        }

        // Waiting the advised time is enough for one more.
        try await env.after(micros: refused.micros) { () async throws in
            let again = try await admit(env, key, limit: 5, window: hour)
            #expect(again.admitted, "\(again) after waiting \(refused.micros)µs")
            #expect(!(try await admit(env, key, limit: 5, window: hour).admitted))
        }
        // Once two whole windows have passed, nothing of the past weighs: a full limit again.
        try await env.after(micros: 2 * hour) { () async throws in
            for _ in 0..<5 { #expect(try await admit(env, key, limit: 5, window: hour).admitted) }
            #expect(!(try await admit(env, key, limit: 5, window: hour).admitted))
        }
    }

    static func slidingWindowCost(_ env: Environment) async throws {
        let key = env.key("rl:tokens")
        let first = try await admit(env, key, limit: 100, window: hour, cost: 60)
        #expect(first.admitted && first.remaining == 40)
        let tooMuch = try await admit(env, key, limit: 100, window: hour, cost: 41)
        #expect(!tooMuch.admitted && tooMuch.remaining == 40 && tooMuch.micros > 0)
        let fits = try await admit(env, key, limit: 100, window: hour, cost: 40)
        #expect(fits.admitted && fits.remaining == 0)
        let never = try await admit(env, key, limit: 100, window: hour, cost: 101)
        #expect(!never.admitted && never.micros == -1)
        let free = try await admit(env, key, limit: 100, window: hour, cost: 0)
        #expect(free.admitted && free.remaining == 0)
    }

    static func slidingWindowBadArguments(_ env: Environment) async throws {
        let key = env.key("rl:bad")
        for arguments: [StoreValue] in [
            [.integer(5), .integer(0), .integer(1)],
            [.integer(-1), .integer(1_000), .integer(1)],
            [.integer(5), .integer(1_000)],
            [.string("five"), .integer(1_000), .integer(1)],
        ] {
            try await expectServerError(startingWith: "ERR sliding_window_admit") {
                _ = try await env.store.run(CoreScripts.slidingWindowAdmit, keys: [key], arguments: arguments)
            }
        }
        try await expectServerError(startingWith: "ERR sliding_window_admit") {
            _ = try await env.store.run(
                CoreScripts.slidingWindowAdmit, keys: [], arguments: [.integer(5), .integer(1_000), .integer(1)])
        }
    }

    static func compareAndDelete(_ env: Environment) async throws {
        let store = env.store
        let lock = env.key("lock")
        func release(_ owner: String) async throws -> Int64? {
            try await store.run(CoreScripts.compareAndDelete, keys: [lock], arguments: [.string(owner)]).integer
        }
        #expect(try await release("owner-a") == 0)
        #expect(try await store.setIfAbsent(lock, bytes("owner-a"), ttl: .seconds(30)))
        #expect(try await release("owner-b") == 0)
        #expect(try await store.get(lock) == bytes("owner-a"))
        #expect(try await release("owner-a") == 1)
        #expect(try await store.get(lock) == nil)
        #expect(try await release("owner-a") == 0)

        // Integers travel as their decimal text, as Redis arguments do.
        try await store.set(lock, bytes("42"), ttl: nil)
        #expect(try await store.run(CoreScripts.compareAndDelete, keys: [lock], arguments: [.integer(42)]).integer == 1)
    }

    // MARK: Pub/sub and time

    /// Subscribers see every message published after `subscribe` returned and none after
    /// `cancel()` returned. Delivery may be asynchronous (Redis): the case waits for messages,
    /// and proves an absence by a later message on another channel of the same store, which
    /// arrives in order after it.
    static func publishSubscribe(_ env: Environment) async throws {
        let store = env.store
        let channel = env.key("events")
        let control = env.key("control")
        let (first, firstInbox) = AsyncStream.makeStream(of: [UInt8].self)
        let (second, secondInbox) = AsyncStream.makeStream(of: [UInt8].self)
        let (controlStream, controlInbox) = AsyncStream.makeStream(of: [UInt8].self)
        let firstSubscription = try await store.subscribe(channel) { firstInbox.yield($0) }
        let secondSubscription = try await store.subscribe(channel) { secondInbox.yield($0) }
        let controlSubscription = try await store.subscribe(control) { controlInbox.yield($0) }
        var firstMessages = first.makeAsyncIterator()
        var secondMessages = second.makeAsyncIterator()
        var controlMessages = controlStream.makeAsyncIterator()

        try await store.publish(channel, bytes("open"))
        try await store.publish(env.key("elsewhere"), bytes("not for us"))
        try await store.publish(channel, bytes("closed"))
        #expect(await firstMessages.next() == bytes("open"))
        #expect(await firstMessages.next() == bytes("closed"))
        #expect(await secondMessages.next() == bytes("open"))
        #expect(await secondMessages.next() == bytes("closed"))

        firstSubscription.cancel()
        try await store.publish(channel, bytes("half-open"))
        #expect(await secondMessages.next() == bytes("half-open"))
        secondSubscription.cancel()
        try await store.publish(channel, bytes("too late"))
        try await store.publish(control, bytes("done"))
        #expect(await controlMessages.next() == bytes("done"))
        controlSubscription.cancel()

        firstInbox.finish()
        secondInbox.finish()
        #expect(await firstMessages.next() == nil)
        #expect(await secondMessages.next() == nil)
    }

    static func serverTime(_ env: Environment) async throws {
        let first = try await env.store.serverTime()
        let second = try await env.store.serverTime()
        #expect(first.seconds > 1_600_000_000 && first.seconds < 7_000_000_000, "\(first)")
        #expect((0..<1_000_000).contains(first.microseconds))
        #expect(second >= first)
        try await env.after(micros: 1_500_000) { () async throws in
            let third = try await env.store.serverTime()
            #expect(third.totalMicroseconds - second.totalMicroseconds == 1_500_000)
        }
    }

    /// Expects a `.server` error whose text starts with `prefix` (Redis may append script context).
    static func expectServerError(
        startingWith prefix: String, sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () async throws -> Void
    ) async throws {
        do {
            try await body()
            Issue.record("expected a server error starting with \(prefix)", sourceLocation: sourceLocation)
        } catch let error as StoreError {
            guard case .server(let text) = error, text.hasPrefix(prefix) else {
                Issue.record("expected a server error starting with \(prefix), got \(error)", sourceLocation: sourceLocation)
                return
            }
        }
    }
}
