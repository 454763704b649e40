import GatewayCore
import State

/// Builds the process's state store from `state:` and answers `/ready` for it: the memory store
/// is always ready; the Redis store is asked for its `TIME` within its command deadline, and its
/// error, timeout and reconnect counters are reported.
enum StoreReadiness {
    static func makeStore(_ config: StateConfig) -> any StateStore {
        switch config.backend {
        case .memory: MemoryStore()
        case .redis(let endpoint): RedisStore(endpoint: endpoint, busyPoll: UInt64(config.busyPoll.nanoseconds))
        }
    }

    /// The `/ready` answer: status code and JSON body.
    static func check(_ store: any StateStore) async -> (status: Int, body: [UInt8]) {
        var out = Array(#"{"status":"#.utf8)
        var status = 200
        var detail: [UInt8] = []
        if let redis = store as? RedisStore {
            detail.append(contentsOf: #""backend":"redis","state":"#.utf8)
            do {
                _ = try await redis.serverTime()
                JSONWriter.appendString("ready", to: &detail)
            } catch {
                status = 503
                JSONWriter.appendString("unavailable", to: &detail)
                detail.append(contentsOf: #","error":"#.utf8)
                JSONWriter.appendString(error.description, to: &detail)
            }
            let counters = redis.counters
            for (name, value) in [("errors", counters.errors.load(ordering: .relaxed)),
                                  ("timeouts", counters.timeouts.load(ordering: .relaxed)),
                                  ("reconnects", counters.reconnects.load(ordering: .relaxed))] {
                detail.append(contentsOf: ",\"\(name)\":".utf8)
                JSONWriter.appendInt(value, to: &detail)
            }
        } else {
            detail.append(contentsOf: #""backend":"memory","state":"ready""#.utf8)
        }
        JSONWriter.appendString(status == 200 ? "ready" : "unavailable", to: &out)
        out.append(contentsOf: #","config":"loaded","store":{"#.utf8)
        out.append(contentsOf: detail)
        out.append(contentsOf: "}}".utf8)
        return (status, out)
    }

}
