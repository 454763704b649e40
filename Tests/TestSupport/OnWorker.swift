import Reactor

/// Runs `body` as a task on a fresh worker reactor (its own thread, stopped afterwards), the way
/// the gateway runs a request: per-worker resources (curl multi, Redis connection) live there.
public func onWorker<T: Sendable>(_ body: @escaping @Sendable (Reactor) async throws -> T) async throws -> T {
    let group = try ReactorGroup(count: 1, namePrefix: "test-worker")
    group.start()
    defer { group.stopAndJoin() }
    let reactor = group.reactors[0]
    return try await Task(executorPreference: reactor) { try await body(reactor) }.value
}
