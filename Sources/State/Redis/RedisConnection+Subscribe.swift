import CHiredis
import GatewayCore
import Reactor

/// A connection in subscribe mode: SUBSCRIBE's callback stays registered and runs for every
/// message, on the connection's reactor. Re-subscribes after a reconnect.
final class RedisSubscription: @unchecked Sendable {
    let channel: String
    let handler: @Sendable ([UInt8]) -> Void
    let connection: RedisConnection
    private var cancelled = false

    init(channel: String, connection: RedisConnection, handler: @escaping @Sendable ([UInt8]) -> Void) {
        self.channel = channel
        self.connection = connection
        self.handler = handler
        connection.onReady = { [weak self] in self?.subscribe() }
    }

    func start() {
        connection.connect()
    }

    private func subscribe() {
        guard !cancelled else { return }
        let me = Unmanaged.passUnretained(self).toOpaque()
        connection.issueRaw(RESPCommand("SUBSCRIBE", channel), privdata: me) { _, reply, privdata in
            guard let privdata, let reply = reply?.assumingMemoryBound(to: redisReply.self) else { return }
            let me = Unmanaged<RedisSubscription>.fromOpaque(privdata).takeUnretainedValue()
            // ["message", channel, payload]; the first reply is ["subscribe", channel, count].
            guard case .success(.array(let parts)) = RedisReply.decode(reply), parts.count == 3,
                  case .bytes(let kind) = parts[0], kind == Array("message".utf8),
                  case .bytes(let payload) = parts[2] else { return }
            me.handler(payload)
        }
    }

    func cancel() {
        guard !cancelled else { return }
        cancelled = true
        connection.close()
    }
}
