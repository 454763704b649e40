import Foundation
import GatewayCore
import Glibc
import Reactor
import State

/// `state-bench`: store operations per second and CPU µs per operation on ONE worker reactor,
/// as the gateway would issue them (many requests in flight, one connection, hiredis pipelining).
///
///     state-bench --redis redis://127.0.0.1:6379/0 [--ops 200000] [--concurrency 64] [--op incr|get|script]
///     state-bench --memory [--ops 1000000] [--concurrency 64] [--op incr|get|script]
///
/// Prints one JSON line: {"store","op","ops","concurrency","seconds","ops_per_sec","cpu_us_per_op"}.
struct Options {
    var redis: String?
    var ops = 200_000
    var concurrency = 64
    var op = "incr"

    init(_ arguments: [String]) {
        var i = 1
        while i < arguments.count {
            let value = i + 1 < arguments.count ? arguments[i + 1] : ""
            switch arguments[i] {
            case "--redis": redis = value; i += 1
            case "--memory": redis = nil
            case "--ops": ops = Int(value) ?? ops; i += 1
            case "--concurrency": concurrency = Int(value) ?? concurrency; i += 1
            case "--op": op = value; i += 1
            default: break
            }
            i += 1
        }
    }
}

func parseRedisURL(_ url: String) -> StateConfig.RedisEndpoint? {
    guard url.hasPrefix("redis://") else { return nil }
    var rest = url.dropFirst("redis://".count)
    var database = 0
    if let slash = rest.firstIndex(of: "/") {
        database = Int(rest[rest.index(after: slash)...]) ?? 0
        rest = rest[..<slash]
    }
    guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]) else { return nil }
    return StateConfig.RedisEndpoint(address: .tcp(host: String(rest[..<colon]), port: port), database: database)
}

func cpuMicroseconds() -> Int64 {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int64(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000 + Int64(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
}

/// The script case: the rate-limit shape (several keys read and written atomically).
let admitScript = StoreScript(
    name: "bench.admit",
    lua: """
    local n = redis.call('INCRBY', KEYS[1], ARGV[1])
    if n == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], 60000) end
    return n
    """,
    native: { storage, keys, arguments in
        let n = storage.increment(keys[0], by: arguments[0].integer ?? 1)
        if n == (arguments[0].integer ?? 1) { storage.expire(keys[0], ttlMicros: 60_000_000) }
        return .integer(n)
    })

let options = Options(CommandLine.arguments)
let store: any StateStore
let storeName: String
if let url = options.redis {
    guard let endpoint = parseRedisURL(url) else {
        print("state-bench: expected redis://host:port/db, got \(url)")
        exit(2)
    }
    store = RedisStore(endpoint: endpoint, commandTimeout: 5_000_000_000)
    storeName = "redis"
} else {
    store = MemoryStore()
    storeName = "memory"
}

let group = try ReactorGroup(count: 1, namePrefix: "state-bench")
group.start()
let finished = Semaphore()
nonisolated(unsafe) var line = ""
let op = options.op, total = options.ops, concurrency = options.concurrency
Task(executorPreference: group.reactors[0]) {
    do {
        _ = try await store.set("sy:{bench}:warm", [1], ttl: nil)  // connect before timing
        let cpuBefore = cpuMicroseconds()
        let started = monotonicNanos()
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            let perTask = total / concurrency
            for t in 0..<concurrency {
                tasks.addTask {
                    let key = "sy:{bench}:k\(t % 16)"
                    for _ in 0..<perTask {
                        switch op {
                        case "get": _ = try await store.get(key)
                        case "script": _ = try await store.run(admitScript, keys: [key], arguments: [.integer(1)])
                        default: _ = try await store.increment(key, by: 1, ttl: nil)
                        }
                    }
                }
            }
            try await tasks.waitForAll()
        }
        let seconds = Double(monotonicNanos() - started) / 1e9
        let cpu = Double(cpuMicroseconds() - cpuBefore)
        let done = (total / concurrency) * concurrency
        line = "{\"store\":\"\(storeName)\",\"op\":\"\(op)\",\"ops\":\(done),\"concurrency\":\(concurrency),"
            + "\"seconds\":\(String(format: "%.3f", seconds)),\"ops_per_sec\":\(Int(Double(done) / seconds)),"
            + "\"cpu_us_per_op\":\(String(format: "%.2f", cpu / Double(done)))}"
    } catch {
        line = "{\"error\":\"\(error)\"}"
    }
    finished.signal()
}
finished.wait()
print(line)
group.stopAndJoin()
