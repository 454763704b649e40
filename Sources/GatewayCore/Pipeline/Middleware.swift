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

/// Starts work that must outlive the stage call that needs it (settling usage after a stream
/// has ended) as a task on the current worker's reactor. Injected so tests can run it inline.
public struct BackgroundWork: Sendable {
    private let starter: @Sendable (@escaping @Sendable () async -> Void) -> Void

    public init(_ starter: @escaping @Sendable (@escaping @Sendable () async -> Void) -> Void) {
        self.starter = starter
    }

    public func start(_ work: @escaping @Sendable () async -> Void) { starter(work) }
}
