import CHiredis
import GatewayCore
import Synchronization

/// Turns a hiredis reply into a `StoreValue` (errors into `StoreError.server`). A NULL reply
/// means the connection went away with the command pending.
enum RedisReply {
    static func decode(_ reply: UnsafeMutablePointer<redisReply>?) -> Result<StoreValue, StoreError> {
        guard let reply else { return .failure(.unavailable("connection to redis lost")) }
        switch reply.pointee.type {
        case REDIS_REPLY_ERROR:
            return .failure(.server(string(reply)))
        default:
            return .success(value(reply))
        }
    }

    private static func value(_ reply: UnsafeMutablePointer<redisReply>) -> StoreValue {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_INTEGER: return .integer(Int64(r.integer))
        case REDIS_REPLY_NIL: return .null
        case REDIS_REPLY_STRING, REDIS_REPLY_STATUS, REDIS_REPLY_ERROR:
            return .bytes(Array(UnsafeRawBufferPointer(start: r.str, count: r.len)))
        case REDIS_REPLY_ARRAY:
            var items: [StoreValue] = []
            items.reserveCapacity(r.elements)
            for i in 0..<r.elements { if let element = r.element[i] { items.append(value(element)) } else { items.append(.null) } }
            return .array(items)
        default:
            return .null
        }
    }

    private static func string(_ reply: UnsafeMutablePointer<redisReply>) -> String {
        String(decoding: UnsafeRawBufferPointer(start: reply.pointee.str, count: reply.pointee.len), as: UTF8.self)
    }
}

/// Counters of the Redis store, across workers: store errors, command timeouts, reconnects.
public final class RedisCounters: Sendable {
    public let errors = Atomic<Int>(0)
    public let timeouts = Atomic<Int>(0)
    public let reconnects = Atomic<Int>(0)
    public init() {}
}
