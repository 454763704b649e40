/// The rest of the chain after a stage.
public typealias Next = @Sendable (GatewayRequest, RequestContext) async -> GatewayResponse

/// One stage of the pipeline. It either answers by itself (returns a response without calling
/// `next`: 401, 429, a cache hit) or calls `next` and may decorate what comes back.
///
/// Runs on the worker's reactor; never blocks. Errors are responses (`GatewayResponse(error:)`),
/// never thrown, so every stage sees every outcome.
public protocol Middleware: Sendable {
    /// The stage's name as written under `pipeline:` in config.yaml.
    var name: String { get }
    func handle(_ request: GatewayRequest, context: RequestContext, next: Next) async -> GatewayResponse
}

/// Sends a request to one provider. Implementations live in `Upstream` (one file per provider
/// type); the middleware only ever sees this protocol. Runs on the worker's reactor.
public protocol ProviderAdapter: Sendable {
    func send(_ request: GatewayRequest, deployment: ResolvedDeployment, context: RequestContext) async -> GatewayResponse
}
