/// The ordered chain, folded once into a single `Next`:
///
///     request ─▶ auth ─▶ rate_limit ─▶ dedup ─▶ cache ─▶ circuit_breaker ─▶ retry ─▶ router ─▶ upstream
///     response ◀──────────────────────── (each stage may decorate on the way back) ◀──────────┘
///
/// The order is data: the `pipeline:` section of config.yaml, assembled in `Gateway`. This is
/// the only place the chain is composed.
public struct Pipeline: Sendable {
    public let stages: [any Middleware]
    @usableFromInline let entry: Next

    public init(stages: [any Middleware], end: any ChainEnd) {
        self.stages = stages
        var next = Next(end: end)
        for stage in stages.reversed() { next = Next(stage: stage, rest: next, end: end) }
        entry = next
    }

    public init(stages: [any Middleware], terminal: @escaping Terminal) {
        self.init(stages: stages, end: ClosureEnd(terminal))
    }

    /// Inlined into the caller, which then calls the first stage's witness itself: a frame of
    /// its own here would cost a task frame and a task switch on every request.
    @inlinable @inline(__always)
    public func handle(_ request: GatewayRequest, context: RequestContext) async -> GatewayResponse {
        await entry.runningPrechecks(request, context)
    }

    public var stageNames: [String] { stages.map(\.name) }

    /// Every stage's `flush`, in order.
    public func flush() async {
        for stage in stages { await stage.flush() }
    }
}
