import GatewayCore

/// One command in flight: resumed exactly once, by its reply, its deadline or a disconnect.
final class PendingCommand: @unchecked Sendable {
    let command: RESPCommand
    /// Monotonic ns after which it fails with `.timeout`; 0 for the handshake's own commands.
    let deadline: UInt64
    var continuation: UnsafeContinuation<Result<StoreValue, StoreError>, Never>?
    /// Called instead of resuming a task, for commands started without waiting (`start`).
    var completion: ((Result<StoreValue, StoreError>) -> Void)?
    private let onFailure: ((StoreError) -> Void)?
    private(set) var isFinished = false

    init(command: RESPCommand, deadline: UInt64 = 0, onFailure: ((StoreError) -> Void)? = nil) {
        self.command = command
        self.deadline = deadline
        self.onFailure = onFailure
    }

    func finish(_ result: Result<StoreValue, StoreError>) {
        guard !isFinished else { return }
        isFinished = true
        if case .failure(let error) = result { onFailure?(error) }
        continuation?.resume(returning: result)
        continuation = nil
        completion?(result)
        completion = nil
    }
}
