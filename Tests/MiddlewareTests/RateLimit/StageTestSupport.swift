import GatewayCore
import HTTPTypes
import Middleware
import State
import Synchronization

/// Background work collected instead of started, so a test decides when settlement runs.
final class BackgroundQueue: Sendable {
    private let pending = Mutex<[@Sendable () -> Void]>([])

    /// Work asked to run later runs when the test drains the queue, whatever its delay.
    var work: BackgroundWork { BackgroundWork(after: { [self] _, body in pending.withLock { $0.append(body) } }) }

    /// Runs everything queued so far (and what that queues in turn).
    func drain() async {
        while let next = pending.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { next() }
    }
}

/// A store that is down: every call fails as an unreachable Redis would.
final class FailingStore: StateStore {
    let error = StoreError.unavailable("connection refused")
    func get(_ key: String) async throws(StoreError) -> [UInt8]? { throw error }
    func set(_ key: String, _ value: [UInt8], ttl: TimeSpan?) async throws(StoreError) { throw error }
    func setIfAbsent(_ key: String, _ value: [UInt8], ttl: TimeSpan) async throws(StoreError) -> Bool { throw error }
    func delete(_ key: String) async throws(StoreError) -> Bool { throw error }
    func increment(_ key: String, by delta: Int64, ttl: TimeSpan?) async throws(StoreError) -> Int64 { throw error }
    func hashIncrement(_ key: String, field: String, by delta: Int64, ttl: TimeSpan?) async throws(StoreError) -> Int64 { throw error }
    func hashGet(_ key: String, field: String) async throws(StoreError) -> [UInt8]? { throw error }
    func hashSet(_ key: String, field: String, _ value: [UInt8]) async throws(StoreError) { throw error }
    func hashDelete(_ key: String, field: String) async throws(StoreError) -> Bool { throw error }
    func hashGetAll(_ key: String) async throws(StoreError) -> [String: [UInt8]] { throw error }
    func run(_ script: StoreScript, keys: [String], arguments: [StoreValue]) async throws(StoreError) -> StoreValue { throw error }
    func start(_ script: StoreScript, keys: [String], arguments: [StoreValue],
               completion: @escaping @Sendable (Result<StoreValue, StoreError>) -> Void) {
        completion(.failure(error))
    }
    func publish(_ channel: String, _ message: [UInt8]) async throws(StoreError) { throw error }
    func subscribe(_ channel: String, handler: @escaping @Sendable ([UInt8]) -> Void) async throws(StoreError) -> StoreSubscription {
        throw error
    }
    func serverTime() async throws(StoreError) -> StoreTime { throw error }
    var health: StoreHealth { .unavailable("down") }
}

/// A clock for the memory store that moves only when told.
final class TestClock: Sendable {
    private let micros = Mutex<Int64>(1_795_000_000 * 1_000_000)
    func now() -> StoreTime {
        let total = micros.withLock { $0 }
        return StoreTime(seconds: total / 1_000_000, microseconds: total % 1_000_000)
    }
    func advance(seconds: Int64) { micros.withLock { $0 += seconds * 1_000_000 } }
}

/// SSE chunks from a script, then a clean end or an error.
final class ScriptedStream: ResponseStream, @unchecked Sendable {
    private var chunks: [[UInt8]]
    private let failure: GatewayError?
    private(set) var cancelled = false

    init(_ chunks: [String], failure: GatewayError? = nil) {
        self.chunks = chunks.map { Array($0.utf8) }
        self.failure = failure
    }

    func next() async throws(GatewayError) -> [UInt8]? {
        if !chunks.isEmpty { return chunks.removeFirst() }
        if let failure { throw failure }
        return nil
    }

    func cancel() { cancelled = true }

    /// A content chunk as OpenAI streams it.
    static func content(_ text: String) -> String {
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\(text)\"}}]}\n\n"
    }
}

func chatRequest(maxTokens: Int? = nil, stream: Bool = false, model: String = "gpt", headers: HTTPFields = [:]) -> GatewayRequest {
    var json = #"{"model":"\#(model)","messages":[{"role":"user","content":"hello"}]"#
    if let maxTokens { json += #","max_tokens":\#(maxTokens)"# }
    if stream { json += #","stream":true"# }
    json += "}"
    let body = Array(json.utf8)
    return GatewayRequest(endpoint: .chatCompletions, headers: headers, body: body, fields: try! JSONScanner.scanRequest(body))
}

/// Drains a response's stream to its end (or error); returns the chunks and whether it failed.
func consume(_ response: GatewayResponse) async -> (chunks: [[UInt8]], failed: Bool) {
    guard case .stream(let stream) = response.body else { return ([], false) }
    var chunks: [[UInt8]] = []
    do {
        while let chunk = try await stream.next() { chunks.append(chunk) }
        return (chunks, false)
    } catch {
        return (chunks, true)
    }
}

func errorBody(_ response: GatewayResponse) -> String {
    if case .bytes(let bytes) = response.body { return String(decoding: bytes, as: UTF8.self) }
    return ""
}

/// A store that hands every call to a memory store; test stores override what they watch.
class ForwardingStore: StateStore, @unchecked Sendable {
    let inner: MemoryStore

    init(_ inner: MemoryStore) { self.inner = inner }

    func run(_ script: StoreScript, keys: [String], arguments: [StoreValue]) async throws(StoreError) -> StoreValue {
        try inner.run(script, keys: keys, arguments: arguments)
    }
    func start(_ script: StoreScript, keys: [String], arguments: [StoreValue],
               completion: @escaping @Sendable (Result<StoreValue, StoreError>) -> Void) {
        inner.start(script, keys: keys, arguments: arguments, completion: completion)
    }
    func get(_ key: String) async throws(StoreError) -> [UInt8]? { try inner.get(key) }
    func set(_ key: String, _ value: [UInt8], ttl: TimeSpan?) async throws(StoreError) { try inner.set(key, value, ttl: ttl) }
    func setIfAbsent(_ key: String, _ value: [UInt8], ttl: TimeSpan) async throws(StoreError) -> Bool {
        try inner.setIfAbsent(key, value, ttl: ttl)
    }
    func delete(_ key: String) async throws(StoreError) -> Bool { try inner.delete(key) }
    func increment(_ key: String, by delta: Int64, ttl: TimeSpan?) async throws(StoreError) -> Int64 {
        try inner.increment(key, by: delta, ttl: ttl)
    }
    func hashIncrement(_ key: String, field: String, by delta: Int64, ttl: TimeSpan?) async throws(StoreError) -> Int64 {
        try inner.hashIncrement(key, field: field, by: delta, ttl: ttl)
    }
    func hashGet(_ key: String, field: String) async throws(StoreError) -> [UInt8]? { try inner.hashGet(key, field: field) }
    func hashSet(_ key: String, field: String, _ value: [UInt8]) async throws(StoreError) {
        try inner.hashSet(key, field: field, value)
    }
    func hashDelete(_ key: String, field: String) async throws(StoreError) -> Bool { try inner.hashDelete(key, field: field) }
    func hashGetAll(_ key: String) async throws(StoreError) -> [String: [UInt8]] { try inner.hashGetAll(key) }
    func publish(_ channel: String, _ message: [UInt8]) async throws(StoreError) { inner.publish(channel, message) }
    func subscribe(_ channel: String, handler: @escaping @Sendable ([UInt8]) -> Void) async throws(StoreError) -> StoreSubscription {
        inner.subscribe(channel, handler: handler)
    }
    func serverTime() async throws(StoreError) -> StoreTime { inner.serverTime() }
    var health: StoreHealth { inner.health }
}
