import Synchronization

/// Thrown by `Reactor.sleep` when the task is cancelled, and by deadlines that pass.
public struct ReactorCancellation: Error, Sendable {}

/// One continuation that exactly one of (timer, cancellation) resumes. Reactor-thread confined,
/// except `cancel`, which hops to the reactor.
private final class SleepState: @unchecked Sendable {
    var continuation: CheckedContinuation<Void, any Error>?
    var timer: ReactorTimer?
}

extension Reactor {
    /// Suspends the calling task for `nanoseconds` on this reactor's timer heap.
    /// Must be called from a task running on this reactor. Throws `ReactorCancellation` if the task is cancelled.
    public func sleep(nanoseconds: UInt64) async throws {
        let state = SleepState()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if Task.isCancelled {
                    continuation.resume(throwing: ReactorCancellation())
                    return
                }
                state.continuation = continuation
                state.timer = self.schedule(after: nanoseconds) {
                    state.timer = nil  // the action holds `state`: break the cycle
                    state.continuation?.resume()
                    state.continuation = nil
                }
            }
        } onCancel: {
            self.execute {
                guard let continuation = state.continuation else { return }
                state.continuation = nil
                if let timer = state.timer { self.disarm(timer) }
                state.timer = nil
                continuation.resume(throwing: ReactorCancellation())
            }
        }
    }
}
