import GatewayCore

/// A request's answer inside an admission batch's reply, where it starts:
/// `RateLimitSnapshot(plan:reply:at:)` reads it in place.
struct AdmissionReply: Sendable {
    var reply: PackedIntegers
    var offset: Int
}

/// One worker's admissions, sent as `LimitScripts.admit` batches: the requests that reach the
/// stage during one reactor turn leave together at its end, one script call per tier, in the
/// write the turn sends anyway (`BackgroundWork.endOfTurn`; without it, each at once). Nobody
/// waits on a timer, so a lone request pays nothing, and under load the store reads and writes
/// each caller's counters once per batch instead of once per request — the script's commands
/// and Lua, not its round trip, were most of the store's price per request. Batches are not
/// held back for answers: the store decides one while the worker serves another's.
///
/// Each request is still decided on its own, all or nothing, in arrival order, and the
/// worker's lingering settlements of the tier ride in the same call and are applied first (those
/// of other tiers leave ahead in the same write), so a caller's next request always sees its
/// ended ones settled.
///
/// A batch that fails (store down, deadline passed) fails each of its requests, which the stage
/// then treats under its `on_store_error` policy. Reactor-confined, hence `@unchecked Sendable`.
final class AdmissionQueue: @unchecked Sendable {
    private let store: any StateStore
    private let settlements: SettlementQueue
    private let endOfTurn: (@Sendable (@escaping @Sendable () -> Void) -> Void)?
    private var queued: [Admission] = []
    private var scheduled = false

    /// Requests waiting for the end of the turn (tests).
    var queuedCount: Int { queued.count }

    /// Requests per script call, so one call's argument list and reply stay small.
    static let maxBatch = 128

    init(store: any StateStore, settlements: SettlementQueue, endOfTurn: (@Sendable (@escaping @Sendable () -> Void) -> Void)?) {
        self.store = store
        self.settlements = settlements
        self.endOfTurn = endOfTurn
    }

    /// Decides one request (with whatever else is queued by the time it leaves).
    func admit(_ scripts: LimitScripts, limiter: String, reserve: Int64) async throws(StoreError) -> AdmissionReply {
        let admission = Admission(scripts: scripts, limiter: limiter, reserve: reserve, promptEstimate: 0, queue: self)
        await withUnsafeContinuation { admission.start($0) }
        guard let reply = admission.reply else { throw admission.failure ?? .protocolViolation("no answer") }
        return AdmissionReply(reply: reply, offset: admission.offset)
    }

    /// Queues `admission` for the end of the turn (`Admission.start`).
    func enqueue(_ admission: Admission) {
        queued.append(admission)
        guard let endOfTurn else { return send() }
        guard !scheduled else { return }
        scheduled = true
        endOfTurn { [self] in
            scheduled = false
            send()
        }
    }

    /// Issues everything queued: one script call per tier and `maxBatch` requests, each carrying
    /// the worker's pending settlements of its tier (applied first); settlements of other tiers
    /// leave ahead of them as `settle` calls, in the same write.
    private func send() {
        var calls: [(requests: [Admission], riders: [Settlement])] = []
        while !queued.isEmpty {
            let batch = queued.takeTierBatch(limit: Self.maxBatch) { $0.scripts }
            calls.append((batch, settlements.take(for: batch[0].scripts, limit: SettlementQueue.maxBatch)))
        }
        settlements.send()
        for (batch, riders) in calls { issue(batch, riders: riders) }
    }

    private func issue(_ batch: [Admission], riders: [Settlement]) {
        var call = ScriptBatch(entries: batch.count, arity: 1)
        call.reserve(entries: riders.count, arity: LimitScripts.settleArity, section: 1)
        let layout = AdmissionLayout(appending: batch, to: &call, limiter: { $0.limiter }, reserve: { $0.reserve })
        for settlement in riders { settlement.append(to: &call, section: 1) }
        let plan = batch[0].scripts.plan
        let settlements = riders.isEmpty ? nil : self.settlements
        store.start(batch[0].scripts.admit, keys: call.keys, arguments: call.arguments) { result in
            switch result {
            case .success(let reply):
                settlements?.answered(failed: false)
                guard let packed = PackedIntegers(reply), let (packed, offsets) = layout.answers(plan: plan, reply: packed),
                    offsets.count == batch.count
                else {
                    let error = StoreError.protocolViolation("rate_admit answered \(reply) for \(batch.count) requests")
                    for admission in batch { admission.failed(error) }
                    return
                }
                for (admission, offset) in zip(batch, offsets) {
                    admission.answered(packed, at: offset)
                }
            case .failure(let error):
                settlements?.answered(failed: true)
                for admission in batch { admission.failed(error) }
            }
        }
    }
}

/// One request's admission, from the stage's `enter` to the end of its answer: what is asked
/// (queued in its worker's `AdmissionQueue`, `start`), the store's answer, and, once decided,
/// what the headers and the settlement need (`RateLimitStage.decide`, `leave`). One object per
/// request, where the queue held a continuation and the stage's frame the rest.
/// Reactor-confined, hence `@unchecked Sendable`.
final class Admission: BracketWait, @unchecked Sendable {
    let scripts: LimitScripts
    let limiter: String
    /// Tokens reserved up front (0 when the plan counts none).
    let reserve: Int64
    /// The prompt's estimate, for a usage the answer does not report.
    let promptEstimate: Int64
    private let queue: AdmissionQueue?
    private var continuation: UnsafeContinuation<Void, Never>?
    /// The store's answer, once in: the batch's reply and where this request's starts in it,
    /// or why there is none.
    private(set) var reply: PackedIntegers?
    private(set) var offset = 0
    private(set) var failure: StoreError?
    /// The decision, when the store answered and admitted: what the headers are rendered from.
    var snapshot: RateLimitSnapshot?

    init(scripts: LimitScripts, limiter: String, reserve: Int64, promptEstimate: Int64, queue: AdmissionQueue?) {
        self.scripts = scripts
        self.limiter = limiter
        self.reserve = reserve
        self.promptEstimate = promptEstimate
        self.queue = queue
    }

    func start(_ continuation: UnsafeContinuation<Void, Never>) {
        guard let queue else { preconditionFailure("an accounting-only admission is not waited for") }
        self.continuation = continuation
        queue.enqueue(self)
    }

    func answered(_ reply: PackedIntegers, at offset: Int) {
        self.reply = reply
        self.offset = offset
        continuation.take()?.resume()
    }

    func failed(_ error: StoreError) {
        failure = error
        continuation.take()?.resume()
    }
}
