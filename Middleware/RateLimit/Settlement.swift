import GatewayCore

/// What is known about a request when its answer has ended (or about several of one caller,
/// admitted together: `absorb`): one entry of its tier's `LimitScripts.settle`.
struct Settlement: Sendable {
    /// `CallerKeys.limiter(id)`.
    var limiter: String
    /// The admission's store time, or 0 when no admission script ran (unlimited, or fail_open).
    var admittedAt: Int64
    /// How many requests the entry stands for; the amounts below are their sums.
    var requests: Int64 = 1
    var reserved: Int64
    var promptTokens: Int64
    var completionTokens: Int64
    var costNanos: Int64
    var scripts: LimitScripts

    /// Appends this entry to its tier's `LimitScripts.settle` batch (section 0), or to the
    /// settlements riding with an admission batch (section 1).
    func append(to batch: inout ScriptBatch, section: Int = 0) {
        LimitScripts.appendSettlement(to: &batch, section: section, limiter: limiter, admittedAt: admittedAt,
                                      requests: requests, reserved: reserved, promptTokens: promptTokens,
                                      completionTokens: completionTokens, costNanos: costNanos)
    }

    /// Whether `other` settles exactly as part of this entry would: the same caller and tier,
    /// admitted at the same store time (the same admission batch, or neither by a script), or
    /// at times the scripts cannot tell apart: the same lease slot, token windows, day and so
    /// month (`LimitScripts.settlesAlike`). Under load a caller's requests of successive batches
    /// then ride as one entry, which the admission applies on its straight path; two entries
    /// of one caller took the script's general settlement (about 45k instructions more a call).
    /// An entry no script decided (admitted at 0) takes only others like it.
    func absorbs(_ other: borrowing Settlement) -> Bool {
        guard scripts === other.scripts && limiter == other.limiter else { return false }
        return admittedAt == other.admittedAt
            || (admittedAt != 0 && other.admittedAt != 0 && scripts.settlesAlike(admittedAt, other.admittedAt))
    }

    /// Adds `other` (which this entry `absorbs`) to this entry.
    mutating func absorb(_ other: borrowing Settlement) {
        requests += other.requests
        reserved += other.reserved
        promptTokens += other.promptTokens
        completionTokens += other.completionTokens
        costNanos += other.costNanos
    }
}

/// One worker's settlements, sent without waiting for the answer (`StateStore.start`). A
/// settlement waits at most `linger` to ride with the worker's next admission batch: the
/// admission call of its tier carries it (`take`) and the script applies it first, and those of
/// other tiers leave as `settle` calls in the same write — a caller's next request on this
/// worker always sees its last one settled, and a steady stream of requests costs one round
/// trip and one script call each turn, settlements included. Otherwise the linger's end sends
/// them, one `settle` per tier and batch. A caller's requests admitted in one batch wait as one
/// entry (`Settlement.absorb`), so the script's work grows with callers, not requests; it folds
/// a caller's entries into one write per counter. Reactor-confined, hence `@unchecked Sendable`.
final class SettlementQueue: @unchecked Sendable {
    private let store: any StateStore
    private let background: BackgroundWork
    private let linger: UInt64
    private var pending: [Settlement] = []
    private var lingering = false
    /// Batches sent and not answered yet, and who waits for them to reach zero (`flush`).
    private var unanswered = 0
    private var drained: [UnsafeContinuation<Void, Never>] = []
    /// Batches the store refused (the usage they carried is lost; leases lapse at their expiry).
    private(set) var failedBatches = 0

    /// Entries waiting (tests).
    var pendingCount: Int { pending.count }

    /// Entries per script call, so one call's argument list stays small.
    static let maxBatch = 128

    init(store: any StateStore, background: BackgroundWork, linger: UInt64) {
        self.store = store
        self.background = background
        self.linger = linger
    }

    /// How far back `add` looks for an entry to fold a settlement into: the requests of one
    /// admission batch end close together.
    static let foldWindow = 16

    /// Consumes `settlement`: it joins a pending entry it folds into, else moves into the queue
    /// (no copy).
    func add(_ settlement: consuming Settlement) {
        var i = pending.count
        while i > max(0, pending.count - Self.foldWindow) {
            i -= 1
            if pending[i].absorbs(settlement) {
                pending[i].absorb(settlement)
                return
            }
        }
        pending.append(settlement)
        if pending.count >= Self.maxBatch {
            send()
            return
        }
        guard !lingering else { return }
        lingering = true
        background.after(linger) { [self] in
            lingering = false
            send()
        }
    }

    /// Issues everything pending now, one script call per tier and `maxBatch` entries.
    func send() {
        while !pending.isEmpty {
            let batch = pending.takeTierBatch(limit: Self.maxBatch) { $0.scripts }
            var call = ScriptBatch(entries: batch.count, arity: LimitScripts.settleArity)
            for settlement in batch { settlement.append(to: &call) }
            unanswered += 1
            store.start(batch[0].scripts.settle, keys: call.keys, arguments: call.arguments) { [self] result in
                if case .failure = result { answered(failed: true) } else { answered(failed: false) }
            }
        }
    }

    /// Takes up to `limit` pending settlements of `scripts`' tier, oldest first, to ride with an
    /// admission call; the call reports its outcome through `answered(failed:)`.
    func take(for scripts: LimitScripts, limit: Int) -> [Settlement] {
        guard pending.contains(where: { $0.scripts === scripts }) else { return [] }
        unanswered += 1
        return pending.take(limit: limit) { $0.scripts === scripts }
    }

    /// The outcome of a call that carried settlements taken with `take`.
    func answered(failed: Bool) {
        if failed { failedBatches += 1 }
        unanswered -= 1
        if unanswered == 0 {
            let waiting = drained
            drained = []
            for waiter in waiting { waiter.resume() }
        }
    }

    /// Sends what is pending and returns once the store has answered every batch sent so far.
    func flush() async {
        send()
        guard unanswered > 0 else { return }
        await withUnsafeContinuation { drained.append($0) }
    }
}
