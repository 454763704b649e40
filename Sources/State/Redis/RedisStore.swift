import Foundation
import GatewayCore
import Reactor
import Synchronization

/// The Redis `StateStore`: hiredis async on each worker's reactor (one connection per worker,
/// created on first use from that worker), automatic pipelining, per-command deadlines,
/// reconnection with backoff. Scripts run by `EVALSHA` once their hash is known (`EVAL` with a
/// `SCRIPT LOAD` before that, and again after a `NOSCRIPT`). Keys are the caller's (`StateKey` puts them under `sy:{tag}:`).
///
/// Call from a task running on a worker's reactor; from anywhere else operations throw
/// `.unavailable`.
public final class RedisStore: StateStore, @unchecked Sendable {
    public let endpoint: StateConfig.RedisEndpoint
    public let counters = RedisCounters()
    private let options: RedisConnection.Options
    private let connections = Mutex<[ObjectIdentifier: RedisConnection]>([:])
    private let scriptHashes = Mutex<[String: [UInt8]]>([:])

    /// `busyPoll`: how long a busy worker's idle loop polls for a reply it awaits instead of
    /// sleeping (`state.busy_poll`; 0 never polls).
    public init(endpoint: StateConfig.RedisEndpoint, connectTimeout: UInt64 = 1_000_000_000, commandTimeout: UInt64 = 250_000_000,
                busyPoll: UInt64 = 0) {
        self.endpoint = endpoint
        self.options = RedisConnection.Options(endpoint: endpoint, connectTimeout: connectTimeout, commandTimeout: commandTimeout,
                                               busyPoll: busyPoll)
    }

    /// This worker's connection (created and connected on first use).
    func connection() throws(StoreError) -> RedisConnection {
        guard let reactor = Reactor.current else { throw StoreError.unavailable("the Redis store is used from a worker's reactor") }
        let key = ObjectIdentifier(reactor)
        return connections.withLock { table in
            if let existing = table[key] { return existing }
            let made = RedisConnection(reactor: reactor, options: options, counters: counters)
            table[key] = made
            made.connect()
            return made
        }
    }

    /// Runs one command on this worker's connection.
    public func command(_ parts: [[UInt8]]) async throws(StoreError) -> StoreValue {
        try await send(RESPCommand(parts))
    }

    private func send(_ command: RESPCommand) async throws(StoreError) -> StoreValue {
        let connection = try connection()
        do {
            return try await connection.send(command)
        } catch {
            if case .server = error {} else { counters.errors.add(1, ordering: .relaxed) }
            throw error
        }
    }

    private func command(_ parts: String...) async throws(StoreError) -> StoreValue {
        try await send(RESPCommand(parts))
    }

    public func get(_ key: String) async throws(StoreError) -> [UInt8]? {
        switch try await command("GET", key) {
        case .bytes(let value): return value
        case .null: return nil
        case let other: throw StoreError.protocolViolation("GET answered \(other)")
        }
    }

    public func set(_ key: String, _ value: [UInt8], ttl: TimeSpan?) async throws(StoreError) {
        var parts: [[UInt8]] = [Array("SET".utf8), Array(key.utf8), value]
        if let ttl { parts += [Array("PX".utf8), Array(String(Self.milliseconds(ttl)).utf8)] }
        _ = try await command(parts)
    }

    public func setIfAbsent(_ key: String, _ value: [UInt8], ttl: TimeSpan) async throws(StoreError) -> Bool {
        let reply = try await command([Array("SET".utf8), Array(key.utf8), value, Array("NX".utf8), Array("PX".utf8),
                                       Array(String(Self.milliseconds(ttl)).utf8)])
        return reply != .null
    }

    @discardableResult
    public func delete(_ key: String) async throws(StoreError) -> Bool {
        (try await command("DEL", key)).integer == 1
    }

    /// Without a TTL, plain `INCRBY` (exact over the whole Int64 range). With one, a script
    /// sets the TTL only when this call created the key; Lua numbers are doubles, which is exact
    /// up to 2^53, far beyond any window counter.
    public func increment(_ key: String, by delta: Int64, ttl: TimeSpan?) async throws(StoreError) -> Int64 {
        let reply: StoreValue
        if let ttl {
            reply = try await runAsCommand(RedisStore.incrementScript, keys: [key],
                                           arguments: [.string(String(delta)), .string(String(Self.milliseconds(ttl)))])
        } else {
            reply = try await command("INCRBY", key, String(delta))
        }
        guard let value = reply.integer else { throw StoreError.protocolViolation("INCRBY answered \(reply)") }
        return value
    }

    public func hashIncrement(_ key: String, field: String, by delta: Int64, ttl: TimeSpan?) async throws(StoreError) -> Int64 {
        let reply: StoreValue
        if let ttl {
            reply = try await runAsCommand(RedisStore.hashIncrementScript, keys: [key],
                                           arguments: [.string(field), .string(String(delta)), .string(String(Self.milliseconds(ttl)))])
        } else {
            reply = try await command("HINCRBY", key, field, String(delta))
        }
        guard let value = reply.integer else { throw StoreError.protocolViolation("HINCRBY answered \(reply)") }
        return value
    }

    /// Runs a script that stands in for one command, reporting its errors as that command's
    /// (without the " script: <sha>, on @user_script:N." suffix Redis appends).
    private func runAsCommand(_ script: StoreScript, keys: [String], arguments: [StoreValue]) async throws(StoreError) -> StoreValue {
        do {
            return try await run(script, keys: keys, arguments: arguments)
        } catch {
            if case .server(let message) = error, let suffix = message.range(of: " script: ") {
                throw StoreError.server(String(message[..<suffix.lowerBound]))
            }
            throw error
        }
    }

    public func hashGet(_ key: String, field: String) async throws(StoreError) -> [UInt8]? {
        switch try await command("HGET", key, field) {
        case .bytes(let value): return value
        case .null: return nil
        case let other: throw StoreError.protocolViolation("HGET answered \(other)")
        }
    }

    public func hashSet(_ key: String, field: String, _ value: [UInt8]) async throws(StoreError) {
        _ = try await command([Array("HSET".utf8), Array(key.utf8), Array(field.utf8), value])
    }

    @discardableResult
    public func hashDelete(_ key: String, field: String) async throws(StoreError) -> Bool {
        (try await command("HDEL", key, field)).integer == 1
    }

    public func hashGetAll(_ key: String) async throws(StoreError) -> [String: [UInt8]] {
        guard case .array(let flat) = try await command("HGETALL", key) else { throw StoreError.protocolViolation("HGETALL") }
        var result: [String: [UInt8]] = [:]
        var i = 0
        while i + 1 < flat.count {
            if case .bytes(let field) = flat[i], case .bytes(let value) = flat[i + 1] { result[String(decoding: field, as: UTF8.self)] = value }
            i += 2
        }
        return result
    }

    /// `start`, waited for: one way of running scripts, so a script awaited and one not awaited
    /// are issued, loaded and recovered (NOSCRIPT) alike.
    public func run(_ script: StoreScript, keys: [String], arguments: [StoreValue]) async throws(StoreError) -> StoreValue {
        let result: Result<StoreValue, StoreError> = await withUnsafeContinuation { continuation in
            start(script, keys: keys, arguments: arguments) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    private static let evalsha = Array("EVALSHA".utf8)
    private static let eval = Array("EVAL".utf8)

    /// `EVALSHA` of a script whose hash is known, else `EVAL` of its text preceded by a
    /// `SCRIPT LOAD` that learns the hash for next time: either way the script runs in this
    /// call's place in the connection's order. A `NOSCRIPT` (the server lost its script cache)
    /// is answered by running it again with `EVAL`, which then comes after later commands.
    public func start(_ script: StoreScript, keys: [String], arguments: [StoreValue],
                      completion: @escaping @Sendable (Result<StoreValue, StoreError>) -> Void) {
        let connection: RedisConnection
        do {
            connection = try self.connection()
        } catch {
            completion(.failure(error))
            return
        }
        let known = scriptHashes.withLock { $0[script.name] }
        if known == nil {
            connection.start(RESPCommand(["SCRIPT", "LOAD", script.lua])) { [self] reply in
                if case .success(.bytes(let sha)) = reply { scriptHashes.withLock { $0[script.name] = sha } }
            }
        }
        let command = Self.scriptCommand(known.map { (Self.evalsha, $0) } ?? (Self.eval, Array(script.lua.utf8)), keys, arguments)
        connection.start(command) { [self] result in
            if case .failure(.server(let message)) = result, message.hasPrefix("NOSCRIPT") {
                scriptHashes.withLock { _ = $0.removeValue(forKey: script.name) }
                connection.start(Self.scriptCommand((Self.eval, Array(script.lua.utf8)), keys, arguments), completion: completion)
                return
            }
            switch result {
            case .failure(.server), .success: break
            case .failure: counters.errors.add(1, ordering: .relaxed)
            }
            completion(result)
        }
    }

    /// `EVALSHA sha` or `EVAL text`, then the keys and arguments.
    private static func scriptCommand(_ head: (verb: [UInt8], script: [UInt8]), _ keys: [String], _ arguments: [StoreValue]) -> RESPCommand {
        let verb = RESPCommand.Argument.bytes(head.verb)
        let script = RESPCommand.Argument.bytes(head.script)
        let keyCount = RESPCommand.Argument.integer(Int64(keys.count))
        var size = RESPCommand.headerCount(3 + keys.count + arguments.count) + verb.encodedCount + script.encodedCount + keyCount.encodedCount
        for key in keys { size += RESPCommand.Argument.string(key).encodedCount }
        for argument in arguments { size += RESPCommand.Argument(argument).encodedCount }
        return RESPCommand(count: 3 + keys.count + arguments.count, size: size) { cursor in
            verb.write(to: &cursor)
            script.write(to: &cursor)
            keyCount.write(to: &cursor)
            for key in keys { RESPCommand.Argument.string(key).write(to: &cursor) }
            for argument in arguments { RESPCommand.Argument(argument).write(to: &cursor) }
        }
    }

    public func publish(_ channel: String, _ message: [UInt8]) async throws(StoreError) {
        _ = try await command([Array("PUBLISH".utf8), Array(channel.utf8), message])
    }

    public func subscribe(_ channel: String, handler: @escaping @Sendable ([UInt8]) -> Void) async throws(StoreError) -> StoreSubscription {
        guard let reactor = Reactor.current else { throw StoreError.unavailable("subscribe from a worker's reactor") }
        let subscription = RedisSubscription(channel: channel, connection: RedisConnection(reactor: reactor, options: options, counters: counters),
                                             handler: handler)
        subscription.start()
        return StoreSubscription { reactor.execute { subscription.cancel() } }
    }

    public func serverTime() async throws(StoreError) -> StoreTime {
        guard case .array(let parts) = try await command("TIME"), parts.count == 2,
              let seconds = parts[0].integer, let micros = parts[1].integer else { throw StoreError.protocolViolation("TIME") }
        return StoreTime(seconds: seconds, microseconds: micros)
    }

    /// Ready when every worker connection made so far is ready (connecting before the first use).
    public var health: StoreHealth {
        connections.withLock { table in
            for connection in table.values {
                if case .unavailable(let why) = connection.health { return .unavailable(why) }
            }
            return table.isEmpty ? .connecting : .ready
        }
    }

    static func milliseconds(_ span: TimeSpan) -> Int64 { max(1, (span.nanoseconds + 999_999) / 1_000_000) }

    /// INCRBY, with a TTL set only when this call created the key (atomic, one round trip).
    static let incrementScript = StoreScript(
        name: "sy.incr",
        lua: """
        local existed = redis.call('EXISTS', KEYS[1])
        local value = redis.call('INCRBY', KEYS[1], ARGV[1])
        if existed == 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
        return value
        """,
        native: { _, _, _ throws(StoreError) in throw StoreError.server("Redis-only script") })

    static let hashIncrementScript = StoreScript(
        name: "sy.hincr",
        lua: """
        local existed = redis.call('EXISTS', KEYS[1])
        local value = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
        if existed == 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
        return value
        """,
        native: { _, _, _ throws(StoreError) in throw StoreError.server("Redis-only script") })
}
