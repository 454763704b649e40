import GatewayCore
import Synchronization

/// Requests in flight on this instance (across its workers), counted from admission until the
/// answer — streams included — has ended. Shared by every worker's rate-limit stage.
public final class InFlightGauge: Sendable {
    private let count = Atomic<Int>(0)

    public init() {}

    public var current: Int { count.load(ordering: .relaxed) }

    func enter() { count.add(1, ordering: .relaxed) }
    func leave() { count.subtract(1, ordering: .relaxed) }
}

/// Adaptive limiting: once in-flight requests pass `watermark`, a tier is shed when the count
/// reaches its `shed_factor` times the watermark — lower tiers carry lower factors, so they go
/// first, and the instance keeps serving its best tiers as load deepens. A plain value.
public struct LoadShedding: Sendable, Equatable {
    public var watermark: Int

    public init(watermark: Int) { self.watermark = watermark }

    /// Whether a request of `tier` arriving with `inFlight` requests already in flight is shed.
    public func sheds(_ tier: TierConfig, inFlight: Int) -> Bool {
        guard let factor = tier.shedFactor else { return false }
        return Double(inFlight) >= Double(watermark) * factor
    }
}

extension GatewayError {
    /// 503 for a shed request; retryable, and soon.
    public static func overloaded(tier: String) -> GatewayError {
        GatewayError(status: 503, type: "server_error", code: "server_overloaded",
                     message: "The gateway is overloaded and is shedding \(tier)-tier requests; retry shortly.",
                     source: .gateway, isRetryable: true, headers: [("retry-after", "1"), ("retry-after-ms", "1000")])
    }
}
