import GatewayCore

/// What is known about one request when its answer has ended: one entry of its tier's
/// `LimitScripts.settle`.
struct Settlement: Sendable {
    /// `CallerKeys.limiter(id)`.
    var limiter: String
    /// The lease field to release, or "" when none was taken.
    var lease: String
    /// The admission's store time, or 0 when no admission script ran (unlimited, or fail_open).
    var admittedAt: Int64
    var reserved: Int64
    var promptTokens: Int64
    var completionTokens: Int64
    var costNanos: Int64
    var scripts: LimitScripts

    var arguments: [StoreValue] {
        LimitScripts.settleEntry(lease: lease, admittedAt: admittedAt, reserved: reserved, promptTokens: promptTokens,
                                 completionTokens: completionTokens, costNanos: costNanos)
    }
}

/// One worker's settlements, sent as one `settle` script per tier and batch: everything that
/// ended before the flush task runs (the rest of the current reactor turn) goes in one round
/// trip per tier, and the script folds a caller's entries into one write per counter.
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
            // One batch: the oldest entry's tier, up to `maxBatch` of its entries.
            let scripts = pending[0].scripts
            var keys: [String] = []
            var arguments: [StoreValue] = []
            var rest: [Settlement] = []
            for settlement in pending {
                if settlement.scripts === scripts && keys.count < Self.maxBatch {
                    keys.append(settlement.limiter)
                    arguments += settlement.arguments
                } else {
                    rest.append(settlement)
                }
            }
            pending = rest
            do {
                _ = try await store.run(scripts.settle, keys: keys, arguments: arguments)
            } catch {
                failedBatches += 1
            }
        }
    }
}
