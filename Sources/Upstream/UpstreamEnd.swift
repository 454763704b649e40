import GatewayCore

/// The end of the chain: sends the request to the provider of `context.deployment` through its
/// adapter. Answers 500 by itself only if no deployment was chosen (a pipeline built without a
/// router) or the provider has no adapter — both configuration bugs, never client errors.
///
/// `type: openai` adapters are held by their concrete type, so their `send` is inlined into
/// this witness: a proxied request's upstream call is one task frame, not two, and each frame's
/// return costs a task switch under the request task's executor preference. Other adapters
/// (the built-in mock) go through `ProviderAdapter`.
public struct UpstreamEnd: ChainEnd {
    enum Adapter: Sendable {
        case openai(OpenAIAdapter)
        case other(any ProviderAdapter)

        init(_ adapter: any ProviderAdapter) {
            if let openai = adapter as? OpenAIAdapter {
                self = .openai(openai)
            } else {
                self = .other(adapter)
            }
        }
    }

    private let adapters: [String: Adapter]

    /// `adapters` by provider name.
    public init(adapters: [String: any ProviderAdapter]) {
        self.adapters = adapters.mapValues(Adapter.init)
    }

    @inline(__always)  // its body is the `ChainEnd` witness the last `Next` calls
    public func handle(_ request: GatewayRequest, context: RequestContext) async -> GatewayResponse {
        guard let deployment = context.deployment else {
            return GatewayResponse(error: .internalError("No deployment was chosen for this request."))
        }
        guard let adapter = adapters[deployment.providerName] else {
            return GatewayResponse(error: .internalError("Provider '\(deployment.providerName)' has no adapter."))
        }
        context.attempt += 1
        switch adapter {
        case .openai(let openai): return await openai.send(request, deployment: deployment, context: context)
        case .other(let other): return await other.send(request, deployment: deployment, context: context)
        }
    }
}
