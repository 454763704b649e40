import GatewayCore

/// What is known about one request when its answer has ended: the input of `RateLimitScripts.settle`.
struct Settlement: Sendable {
    var callerID: String
    var lease: String
    /// The admission's store time, or 0 when no admission script ran (unlimited, or fail_open).
    var admittedAt: Int64
    var reserved: Int64
    var promptTokens: Int64
    var completionTokens: Int64
    var costNanos: Int64
    var retentionMicros: Int64
    var plan: LimitPlan

    var arguments: [StoreValue] {
        RateLimitScripts.settleEntry(lease: lease, admittedAt: admittedAt, reserved: reserved, promptTokens: promptTokens,
                                     completionTokens: completionTokens, costNanos: costNanos,
                                     retentionMicros: retentionMicros, plan: plan)
    }
}

/// One worker's settlements, sent as one `settle` script per batch: everything that ended
/// before the flush task runs (the rest of the current reactor turn) goes in one round trip.
/// Reactor-confined, hence `@unchecked Sendable`.
final class SettlementQueue: @unchecked Sendable {
    private let store: any StateStore
    private let background: BackgroundWork
    private var pending: [Settlement] = []
    private var flushScheduled = false
    /// Batches the store refused (the usage they carried is lost; leases lapse at their expiry).
    private(set) var failedBatches = 0

    /// Entries per script call, so one call's argument list stays small.
    static let maxBatch = 128

    init(store: any StateStore, background: BackgroundWork) {
        self.store = store
        self.background = background
    }

    func add(_ settlement: Settlement) {
        pending.append(settlement)
        guard !flushScheduled else { return }
        flushScheduled = true
        background.start { [self] in await self.flush() }
    }

    func flush() async {
        flushScheduled = false
        while !pending.isEmpty {
            let batch = Array(pending.prefix(Self.maxBatch))
            pending.removeFirst(batch.count)
            var arguments: [StoreValue] = [.integer(Int64(batch.count))]
            for settlement in batch { arguments += settlement.arguments }
            do {
                _ = try await store.run(RateLimitScripts.settle, keys: batch.map { CallerKeys.base($0.callerID) }, arguments: arguments)
            } catch {
                failedBatches += 1
            }
        }
    }
}
