/// Something a parked wait can be cancelled through (an upstream transfer). Reactor thread only.
public protocol ScopeCancellable: AnyObject {
    func cancel()
}

/// Cancellation for the waits of one connection's serving task, without a Swift cancellation
/// handler per wait. `withTaskCancellationHandler` adds a status record to the task and removes
/// it again, each under the task's status lock, and costs two task frames and a hop: about 1,000
/// instructions of a proxied request's 40,000. The server binds one scope to its serving task
/// for the task's life (`current`, a task-local read once per wait); a wait on the reactor
/// registers what it waits on with `hold` while it is parked, and closing the connection
/// cancels the scope, which cancels what is held and, at once, anything that parks later.
///
/// A wait that finds no scope, or one already holding another wait, or runs off the scope's
/// reactor (a child task inherits task-locals), uses a cancellation handler as before. The
/// serving task is still cancelled too, for waits that watch the task (`Reactor.sleep`).
/// Reactor-confined, hence `@unchecked Sendable`.
public final class CancellationScope: @unchecked Sendable {
    @TaskLocal public static var current: CancellationScope?

    public let reactor: Reactor
    public private(set) var isCancelled = false
    private var held: (any ScopeCancellable)?

    public init(reactor: Reactor) {
        self.reactor = reactor
    }

    /// Registers `target` as what cancelling the scope cancels, until `release`. False when the
    /// scope cannot take it (off its reactor, or holding another): use a cancellation handler.
    /// A scope already cancelled cancels `target` now (and still holds it, for `release`).
    public func hold(_ target: any ScopeCancellable) -> Bool {
        guard held == nil, reactor.inReactorThread else { return false }
        held = target
        if isCancelled { target.cancel() }
        return true
    }

    public func release(_ target: any ScopeCancellable) {
        if held === target { held = nil }
    }

    /// Cancels what is held now and everything held later. Reactor thread only; idempotent.
    public func cancel() {
        guard !isCancelled else { return }
        isCancelled = true
        held?.cancel()
    }
}
