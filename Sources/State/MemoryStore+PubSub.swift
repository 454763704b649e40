import GatewayCore

/// Who listens on which channel. Kept behind its own small lock, apart from the keys, so a
/// publish never waits for a long sweep and handlers are never called while any lock is held.
struct SubscriberTable {
    typealias Handler = @Sendable ([UInt8]) -> Void

    private var nextID: UInt64 = 0
    private var byChannel: [String: [(id: UInt64, handler: Handler)]] = [:]

    mutating func add(_ channel: String, _ handler: @escaping Handler) -> UInt64 {
        nextID += 1
        byChannel[channel, default: []].append((nextID, handler))
        return nextID
    }

    mutating func remove(_ channel: String, id: UInt64) {
        byChannel[channel]?.removeAll { $0.id == id }
        if byChannel[channel]?.isEmpty == true { byChannel.removeValue(forKey: channel) }
    }

    func handlers(of channel: String) -> [Handler] { byChannel[channel]?.map(\.handler) ?? [] }
}

extension MemoryStore {
    /// Delivers `message` to every current subscriber of `channel`, in subscription order,
    /// synchronously on the caller's thread and outside the store's locks — unlike the Redis
    /// store, whose handlers run on the subscribing worker's reactor. A subscriber that must
    /// act on its own reactor hops there itself. Handlers may publish, subscribe or cancel.
    public func publish(_ channel: String, _ message: [UInt8]) {
        let handlers = subscribers.withLock { $0.handlers(of: channel) }
        for handler in handlers { handler(message) }
    }

    /// Adds `handler` for `channel`; active as soon as this returns. `cancel()` removes it
    /// (a delivery already under way on another thread may still finish).
    public func subscribe(_ channel: String, handler: @escaping @Sendable ([UInt8]) -> Void) -> StoreSubscription {
        let id = subscribers.withLock { $0.add(channel, handler) }
        return StoreSubscription { [weak self] in
            self?.subscribers.withLock { $0.remove(channel, id: id) }
        }
    }
}
