import GatewayCore

/// The end of the chain: sends the request to the provider of `context.deployment` through its
/// adapter. Answers 500 by itself only if no deployment was chosen (a pipeline built without a
/// router) or the provider has no adapter — both configuration bugs, never client errors.
public struct UpstreamStage: ChainEnd {
    private let adapters: [String: any ProviderAdapter]

    public init(adapters: [String: any ProviderAdapter]) {
        self.adapters = adapters
    }

    @inline(__always)  // its body is the `ChainEnd` witness the last `Next` calls: one task frame less
    public func handle(_ request: GatewayRequest, context: RequestContext) async -> GatewayResponse {
        guard let deployment = context.deployment else {
            return GatewayResponse(error: .internalError("No deployment was chosen for this request."))
        }
        guard let adapter = adapters[deployment.providerName] else {
            return GatewayResponse(error: .internalError("Provider '\(deployment.providerName)' has no adapter."))
        }
        context.attempt += 1
        return await adapter.send(request, deployment: deployment, context: context)
    }
}
