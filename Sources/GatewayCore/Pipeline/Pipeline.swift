/// The ordered chain, folded once into a single `Next`:
///
///     request ─▶ auth ─▶ rate_limit ─▶ dedup ─▶ cache ─▶ circuit_breaker ─▶ retry ─▶ router ─▶ upstream
///     response ◀──────────────────────── (each stage may decorate on the way back) ◀──────────┘
///
/// The order is data: the `pipeline:` section of config.yaml, assembled in `Gateway`. This is
/// the only place the chain is composed.
public struct Pipeline: Sendable {
    public let stages: [any Middleware]
    private let entry: Next

    public init(stages: [any Middleware], terminal: @escaping Terminal) {
        self.stages = stages
        var next = Next(terminal)
        for stage in stages.reversed() { next = Next(stage: stage, rest: next, terminal: terminal) }
        entry = next
    }

    public func handle(_ request: GatewayRequest, context: RequestContext) async -> GatewayResponse {
        await entry(request, context)
    }

    public var stageNames: [String] { stages.map(\.name) }

    /// Every stage's `flush`, in order.
    public func flush() async {
        for stage in stages { await stage.flush() }
    }
}
