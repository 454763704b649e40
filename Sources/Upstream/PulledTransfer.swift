import Reactor

/// The consumer side both transports share (libcurl's `CurlTransfer`, the native
/// `HTTP1Transfer`): the transport fills `queued`, sets `headComplete` and `done`, and resumes at
/// most one head waiter and one data waiter; the adapter awaits `head()`, then `body()` or
/// repeated `next()`. Pulling is the backpressure: a transport that stopped reading past its
/// bound starts again in `resumeReading()`. `cancel()` (its `ScopeCancellable` side) stops the
/// transfer: idempotent, reactor thread only. Reactor-thread confined.
protocol PulledTransfer: ScopeCancellable, Sendable {
    var status: Int { get }
    var responseHeaders: [(String, String)] { get }
    var headComplete: Bool { get }
    var done: Bool { get }
    var failure: TransferError? { get }
    var queued: [UInt8] { get set }
    var headWaiter: UnsafeContinuation<Void, Never>? { get set }
    var dataWaiter: UnsafeContinuation<Void, Never>? { get set }
    /// The reactor the transfer lives on (cancellation hops to it).
    var reactor: Reactor { get }
    /// Lets the body flow again if backpressure paused it; a no-op otherwise.
    func resumeReading()
}

extension PulledTransfer {
    /// Waits for the response head. Throws when the transfer failed before it.
    func head() async throws(TransferError) -> (status: Int, headers: [(String, String)]) {
        if !headComplete && !done {
            await park { $0.headComplete || $0.done } setWaiter: { $0.headWaiter = $1 }
        }
        guard headComplete, status != 0 else { throw failure ?? .io("no response") }
        return (status, responseHeaders)
    }

    /// Head and whole body in one wait (non-streaming answers): one suspension instead of two.
    @inline(__always)
    func response() async throws(TransferError) -> (status: Int, headers: [(String, String)], body: [UInt8]) {
        let body = try await body()
        return (status, responseHeaders, body)
    }

    /// The whole body (non-streaming answers, and error answers of streaming requests).
    @inline(__always)
    func body() async throws(TransferError) -> [UInt8] {
        while !done {
            await park { $0.done } setWaiter: { $0.dataWaiter = $1; $0.resumeReading() }
        }
        if let failure { throw failure }
        let body = queued
        queued = []
        return body
    }

    /// The next piece of a streamed body: everything buffered so far, or nil at a clean end.
    func next() async throws(TransferError) -> [UInt8]? {
        while queued.isEmpty && !done {
            await park { !$0.queued.isEmpty || $0.done } setWaiter: { $0.dataWaiter = $1; $0.resumeReading() }
        }
        if !queued.isEmpty {
            let chunk = queued
            queued.removeAll(keepingCapacity: true)
            resumeReading()
            return chunk
        }
        if let failure { throw failure }
        return nil
    }

    /// Resumes a parked waiter, if any.
    func resume(_ waiter: inout UnsafeContinuation<Void, Never>?) {
        guard let continuation = waiter else { return }
        waiter = nil
        continuation.resume()
    }

    /// Suspends until the transport resumes the waiter `setWaiter` stores, unless `ready` already
    /// holds: transport events may run between the caller's check and parking here, so it is
    /// checked again. Cancelling the serving task's `CancellationScope` (the client went away)
    /// cancels the transfer; without one that can hold it, task cancellation does, on its reactor.
    @inline(__always)
    private func park(ready: (Self) -> Bool, setWaiter: (Self, UnsafeContinuation<Void, Never>) -> Void) async {
        if let scope = CancellationScope.current, scope.hold(self) {
            await withUnsafeContinuation { continuation in
                if ready(self) { continuation.resume(); return }
                setWaiter(self, continuation)
            }
            scope.release(self)
            return
        }
        await withTaskCancellationHandler {
            await withUnsafeContinuation { continuation in
                if ready(self) { continuation.resume(); return }
                setWaiter(self, continuation)
            }
        } onCancel: { [reactor] in
            reactor.execute { self.cancel() }
        }
    }
}
