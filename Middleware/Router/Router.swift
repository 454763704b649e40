import GatewayCore

/// Router: resolves the requested model alias to its deployments and picks the one to try.
/// Answers 404 `model_not_found` by itself for an alias it does not know; otherwise sets
/// `context.deployment` and calls `next`. Touches no state keys.
public struct Router: Middleware {
    public let name = "router"
    public let table: RoutingTable
    public let strategy: PipelineConfig.RouterStrategy
    private let random: any RandomSource

    public init(table: RoutingTable, strategy: PipelineConfig.RouterStrategy, random: any RandomSource = SystemRandom()) {
        self.table = table
        self.strategy = strategy
        self.random = random
    }

    @inline(__always)  // its body is the protocol witness (see `Middleware`)
    public func handle(_ request: GatewayRequest, context: RequestContext, next: Next) async -> GatewayResponse {
        guard let entry = table.entry(for: request.model) else {
            return GatewayResponse(error: .modelNotFound(request.model))
        }
        let ordered = strategy.order(entry, random: random)
        context.deployment = ordered[0]
        return await next(request, context)
    }
}
