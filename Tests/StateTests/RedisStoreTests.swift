import GatewayCore
import Glibc
import Middleware
import Reactor
import State
import TestSupport
import Synchronization
import Testing

func endpoint(_ server: RedisServerProcess) -> StateConfig.RedisEndpoint {
    StateConfig.RedisEndpoint(address: .tcp(host: "127.0.0.1", port: server.port))
}

@Suite(.serialized, .enabled(if: RedisServerProcess.binary() != nil, "redis-server is installed by scripts/test.sh"))
struct RedisStoreTests {
    @Test func commandsScriptsAndTimeAgainstARealServer() async throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let store = RedisStore(endpoint: endpoint(server))
        try await onWorker { _ in
            try await store.set("sy:{t}:a", Array("1".utf8), ttl: nil)
            #expect(try await store.get("sy:{t}:a") == Array("1".utf8))
            #expect(try await store.get("sy:{t}:missing") == nil)
            #expect(try await store.setIfAbsent("sy:{t}:lock", [1], ttl: .seconds(5)))
            #expect(!(try await store.setIfAbsent("sy:{t}:lock", [2], ttl: .seconds(5))))
            #expect(try await store.increment("sy:{t}:n", by: 5, ttl: .seconds(60)) == 5)
            #expect(try await store.increment("sy:{t}:n", by: 2, ttl: .seconds(60)) == 7)
            #expect(try await store.hashIncrement("sy:{t}:h", field: "tokens", by: 3, ttl: nil) == 3)
            #expect(try await store.hashGetAll("sy:{t}:h") == ["tokens": Array("3".utf8)])
            #expect(try await store.delete("sy:{t}:a"))
            let time = try await store.serverTime()
            #expect(time.seconds > 1_700_000_000)
            // A script survives a flushed script cache (NOSCRIPT → reload).
            let echo = StoreScript(name: "echo", lua: "return ARGV[1]", native: { _, _, args in args[0] })
            #expect(try await store.run(echo, keys: [], arguments: [.string("x")]) == .string("x"))
            _ = try await store.command([Array("SCRIPT".utf8), Array("FLUSH".utf8)])
            #expect(try await store.run(echo, keys: [], arguments: [.string("y")]) == .string("y"))
            // Server errors are typed, not matched by message elsewhere.
            await #expect(throws: StoreError.self) { try await store.increment("sy:{t}:h", by: 1, ttl: nil) }
        }
        #expect(store.health == .ready)
    }

    /// A test's server whose free port another took before it bound starts on another port
    /// (the race made CI fail once: "bind: Address already in use").
    @Test func aTestServerWhosePortIsTakenStartsOnAnother() async throws {
        let taken = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(taken) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(taken, $0, length) == 0 && listen(taken, 1) == 0 && getsockname(taken, $0, &length) == 0 }
        }
        #expect(bound)
        let occupied = Int(UInt16(bigEndian: address.sin_port))
        var offered = [occupied]
        let server = try RedisServerProcess(nextPort: { offered.isEmpty ? freeLoopbackPort() : offered.removeFirst() }, attempts: 2)
        defer { server.stop() }
        #expect(server.port != occupied)
        let store = RedisStore(endpoint: endpoint(server))
        try await onWorker { _ in
            let pong = try await store.command([Array("PING".utf8)])
            #expect(pong == .string("PONG"))
        }
        #expect(throws: RedisServerProcess.StartFailure.self) { try RedisServerProcess(port: occupied) }
    }

    /// A caller's usage for a day lives as long as usage is kept (`usage_retention`). A plan
    /// with counters keeps it pending in the limiter hash (`PendingUsage`), which then lives
    /// that long, whether the settlement came alone or riding with an admission; a later day's
    /// usage moves it to the day's hash, which lives that long from its first requests. (The
    /// contract cannot see TTLs; Redis's own expiry does the rest.)
    @Test func aDayOfUsageExpiresAfterTheRetention() async throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let store = RedisStore(endpoint: endpoint(server))
        try await onWorker { _ in
            let plan = LimitPlan(limits: [.init(.tokens, limit: 1_000, parameter: StateStoreContract.hour, name: "tph")])
            let scripts = StateStoreContract.compiled(plan)  // usage kept a day
            let at = try await store.serverTime().totalMicroseconds
            let today = CalendarPeriod.day(now: at).index
            func pttl(_ key: String) async throws -> Int64? { try await store.command([Array("PTTL".utf8), Array(key.utf8)]).integer }
            func settle(_ caller: String, at: Int64) async throws {
                var alone = ScriptBatch(entries: 1, arity: LimitScripts.settleArity)
                LimitScripts.appendSettlement(to: &alone, limiter: CallerKeys.limiter(caller), admittedAt: at, reserved: 0,
                                              promptTokens: 5, completionTokens: 1, costNanos: 0)
                _ = try await store.run(scripts.settle, keys: alone.keys, arguments: alone.arguments)
            }
            try await settle("alone", at: at)
            var riding = ScriptBatch(entries: 1, arity: 1)
            _ = LimitScripts.appendAdmissions([(CallerKeys.limiter("rider"), 0)], to: &riding)
            LimitScripts.appendSettlement(to: &riding, section: 1, limiter: CallerKeys.limiter("rider"), admittedAt: at, reserved: 0,
                                          promptTokens: 5, completionTokens: 1, costNanos: 0)
            _ = try await store.run(scripts.admit, keys: riding.keys, arguments: riding.arguments)
            let day: Int64 = 86_400_000
            for caller in ["alone", "rider"] {
                #expect(try await pttl(CallerKeys.day(caller, index: today)) == -2, "\(caller): pending, no day hash yet")
                let left = try #require(try await pttl(CallerKeys.limiter(caller)))
                #expect(left > day - 60_000 && left <= day + 1, "\(caller): limiter PTTL \(left)")
            }
            // The next day's first usage moves today's to its hash.
            try await settle("alone", at: at + 86_400_000_000)
            let left = try #require(try await pttl(CallerKeys.day("alone", index: today)))
            #expect(left > day - 60_000 && left <= day, "day hash PTTL \(left)")
            let base = CallerKeys.base("alone")
            #expect(try await DayUsage.read(store, base: base, day: today) == ["requests": 1, "prompt_tokens": 5, "completion_tokens": 1])
            #expect(try await DayUsage.read(store, base: base, day: today + 1)["prompt_tokens"] == 5)
        }
    }

    /// The limiter hash outlives its last write by the plan's keep time, renewed only when a
    /// window rolls or a lease slot gets its first lease (at least once a slot while the caller
    /// writes): a write between those leaves its expiry alone.
    @Test func theLimiterHashIsRenewedWhenAWindowRollsOrASlotStarts() async throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let store = RedisStore(endpoint: endpoint(server))
        try await onWorker { _ in
            let plan = StateStoreContract.leasesAndTokens(concurrency: 100)  // a lease slot and an hour's tokens
            let scripts = StateStoreContract.compiled(plan)
            let limiter = CallerKeys.limiter("renewed")
            func admit() async throws {
                var call = ScriptBatch(entries: 1, arity: 1)
                _ = LimitScripts.appendAdmissions([(limiter, 1)], to: &call)
                let reply = try await store.run(scripts.admit, keys: call.keys, arguments: call.arguments)
                #expect(try #require(RateLimitSnapshot(plan: plan, reply: reply)).admitted)
            }
            func pttl() async throws -> Int64 { try #require(try await store.command([Array("PTTL".utf8), Array(limiter.utf8)]).integer) }
            func expire(inMillis millis: Int64) async throws {
                _ = try await store.command([Array("PEXPIRE".utf8), Array(limiter.utf8), Array(String(millis).utf8)])
            }
            // Keep: the hour window twice (7,200 s) and one lease slot more (37.5 s); the usage
            // pending in it (`PendingUsage`) makes it a day, as long as usage is kept.
            let renewed: ClosedRange<Int64> = 86_390_000...86_400_001
            // No slot (nor hour) may end between the first two admissions: it would renew.
            let env = StateStoreContract.Environment(store: store, advanceClock: nil, tag: "renewed")
            try await env.clearOfSlotEnd(slot: StateStoreContract.leaseMicros / 16, margin: 3 * StateStoreContract.second)
            try await admit()  // a new hash: its window rolled from nothing
            #expect(renewed.contains(try await pttl()))
            try await expire(inMillis: 100_000)
            try await admit()  // the same window and slot: left alone
            #expect(try await pttl() <= 100_000)
            // The slot's first lease: its field absent.
            let fields = try await store.hashGetAll(limiter).keys.filter { $0.hasPrefix("L") }
            for field in fields { _ = try await store.hashDelete(limiter, field: field) }
            try await admit()
            #expect(renewed.contains(try await pttl()))
            // A window that rolled: the stored index is the hour before's.
            try await expire(inMillis: 100_000)
            var counters = scripts.counters(try await store.hashGetAll(limiter))
            counters["t3600i", default: 0] -= 1
            let (field, value) = scripts.countersField(counters)
            try await store.hashSet(limiter, field: field, value)
            try await admit()
            #expect(renewed.contains(try await pttl()))
        }
    }

    /// `start` issues at once and in order: a script started and not awaited is applied before
    /// a command sent after it, whether its hash was known (EVALSHA), not yet (EVAL), or lost
    /// by the server (NOSCRIPT, run again with EVAL).
    @Test func startedScriptsRunAheadOfLaterCommands() async throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let store = RedisStore(endpoint: endpoint(server))
        let add = StoreScript(name: "add", lua: "return redis.call('INCRBY', KEYS[1], ARGV[1])", native: { _, _, _ in .null })
        let outcomes = Mutex<[Result<StoreValue, StoreError>]>([])
        try await onWorker { _ in
            _ = try await store.get("sy:{s}:warm")  // connected, so `start` issues at once
            for round in 1...3 {
                if round == 3 { _ = try await store.command([Array("SCRIPT".utf8), Array("FLUSH".utf8)]) }
                store.start(add, keys: ["sy:{s}:n"], arguments: [.integer(10)]) { result in outcomes.withLock { $0.append(result) } }
                // Sent after the script, answered after it: the increment is already there.
                let seen = try await store.get("sy:{s}:n").map { String(decoding: $0, as: UTF8.self) }
                #expect(round == 3 || seen == String(10 * round))
            }
            _ = try await store.get("sy:{s}:n")
        }
        // The NOSCRIPT round ran again with EVAL, after the read that followed it.
        #expect(outcomes.withLock { $0 } == [.success(.integer(10)), .success(.integer(20)), .success(.integer(30))])
    }

    @Test func manyConcurrentCommandsArePipelinedOnOneConnection() async throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let store = RedisStore(endpoint: endpoint(server))
        let total = try await onWorker { _ in
            try await withThrowingTaskGroup(of: Int64.self) { group in
                for _ in 0..<2_000 { group.addTask { try await store.increment("sy:{p}:n", by: 1, ttl: nil) } }
                var last: Int64 = 0
                for try await value in group { last = max(last, value) }
                return last
            }
        }
        #expect(total == 2_000)
    }

    @Test func aStoppedServerTimesOutWithinTheDeadlineAndRecovers() async throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let store = RedisStore(endpoint: endpoint(server), commandTimeout: 100_000_000)
        try await onWorker { _ in
            _ = try await store.get("warm-up")
            server.signal(SIGSTOP)
            let started = monotonicNanos()
            await #expect(throws: StoreError.timeout) { _ = try await store.get("k") }
            #expect(monotonicNanos() - started < 1_000_000_000)
            server.signal(SIGCONT)
            // The late reply of the timed-out command is discarded; the next command works.
            #expect(try await store.increment("after", by: 1, ttl: nil) == 1)
        }
        #expect(store.counters.timeouts.load(ordering: .relaxed) >= 1)
    }

    @Test func aSlowServerTimesOutAndAnswersAgainAfterwards() async throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let store = RedisStore(endpoint: endpoint(server), commandTimeout: 100_000_000)
        try await onWorker { _ in
            async let sleeping: StoreValue = store.command(["DEBUG", "SLEEP", "0.5"].map { Array($0.utf8) })
            await #expect(throws: StoreError.timeout) { _ = try await store.get("queued-behind-sleep") }
            _ = try? await sleeping
            // Each command during the 0.5 s sleep fails at its 100 ms deadline; once Redis wakes
            // up the same connection answers again (bounded: 20 deadlines at most).
            var answered = false
            for _ in 0..<20 where !answered {
                do { answered = try await store.get("fine") == nil } catch let error as StoreError { #expect(error == .timeout) }
            }
            #expect(answered)
        }
    }

    @Test func aDeadServerFailsFastAndTheStoreReconnectsWhenItReturns() async throws {
        let server = try RedisServerProcess()
        let port = server.port
        let store = RedisStore(endpoint: endpoint(server), connectTimeout: 200_000_000, commandTimeout: 200_000_000)
        try await onWorker { _ in
            try await store.set("k", [1], ttl: nil)
            server.stop()
            // The connection drops: commands fail with a typed error, at once or within the deadline.
            var failures = 0
            for _ in 0..<3 {
                do { _ = try await store.get("k") } catch { failures += 1 }
            }
            #expect(failures == 3)
            #expect(store.health != .ready)
            // A new server on the same port (started from this worker: it blocks for milliseconds):
            // the same worker's connection comes back by itself, with backoff.
            let revived = try RedisServerProcess(port: port)
            defer { revived.stop() }
            var answered = false
            for _ in 0..<200 where !answered {
                do { try await store.set("k", [2], ttl: nil); answered = true } catch { try await Reactor.current!.sleep(nanoseconds: 20_000_000) }
            }
            #expect(answered)
        }
        #expect(store.counters.reconnects.load(ordering: .relaxed) >= 1)
        #expect(store.counters.errors.load(ordering: .relaxed) >= 1)
    }

    @Test func publishReachesASubscriber() async throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let store = RedisStore(endpoint: endpoint(server))
        let received = try await onWorker { _ async throws -> [UInt8] in
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8], any Error>) in
                let reactor = Reactor.current!
                let once = OnceBox(continuation)
                Task(executorPreference: reactor) {
                    do {
                        let subscription = try await store.subscribe("sy:events") { message in once.resume(message) }
                        // Publish until the subscription is live (SUBSCRIBE is asynchronous).
                        for _ in 0..<100 where !once.done {
                            try await store.publish("sy:events", Array("breaker-open".utf8))
                            try await reactor.sleep(nanoseconds: 10_000_000)
                        }
                        subscription.cancel()
                    } catch { once.fail(error) }
                }
            }
        }
        #expect(received == Array("breaker-open".utf8))
    }
}

/// Resumes a continuation once, from whichever path gets there first.
final class OnceBox<T: Sendable>: @unchecked Sendable {
    private var continuation: CheckedContinuation<T, any Error>?
    var done: Bool { continuation == nil }
    init(_ continuation: CheckedContinuation<T, any Error>) { self.continuation = continuation }
    func resume(_ value: T) { continuation?.resume(returning: value); continuation = nil }
    func fail(_ error: any Error) { continuation?.resume(throwing: error); continuation = nil }
}

/// The shared contract against Redis: each case gets its own server (started in milliseconds),
/// so nothing leaks between cases and every server is reaped.
@Suite(.enabled(if: RedisServerProcess.binary() != nil, "redis-server is installed by scripts/test.sh"))
struct RedisStoreContractTests {
    @Test(arguments: StateStoreContract.cases)
    func contract(_ check: StateStoreContract.Case) async throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let store = RedisStore(endpoint: endpoint(server))
        try await onWorker { _ in
            try await check.run(against: { (store, advanceClock: nil) })
        }
    }
}
