import GatewayCore
import HTTPTypes
import Testing
@testable import Upstream

/// The chain's end: the chosen deployment's adapter answers, and a pipeline that chose none (or
/// names a provider without an adapter) is a configuration bug answered with 500.
@Suite struct UpstreamEndTests {
    /// Answers with the deployment it was given, so the test sees what reached it.
    struct Recording: ProviderAdapter {
        func send(_ request: GatewayRequest, deployment: ResolvedDeployment, context: RequestContext) async -> GatewayResponse {
            GatewayResponse(status: 200, headers: [:], body: .bytes(Array("\(deployment.providerName)/\(deployment.model)".utf8)))
        }
    }

    static let request = GatewayRequest(endpoint: .chatCompletions, headers: [:], body: [], fields: RequestFields())

    @Test func theChosenDeploymentsAdapterAnswersAndTheAttemptIsCounted() async {
        let end = UpstreamEnd(adapters: ["a": Recording(), "b": Recording()])
        let context = RequestContext(requestID: "r", receivedAt: 0)
        context.deployment = ResolvedDeployment(providerName: "b", model: "m", index: 0)
        let response = await end.handle(Self.request, context: context)
        guard case .bytes(let body) = response.body else { Issue.record("expected bytes"); return }
        #expect(response.status == 200 && String(decoding: body, as: UTF8.self) == "b/m")
        #expect(context.attempt == 1)
    }

    @Test func noDeploymentOrNoAdapterIsAnInternalError() async {
        let end = UpstreamEnd(adapters: ["a": Recording()])
        let unrouted = await end.handle(Self.request, context: RequestContext(requestID: "r", receivedAt: 0))
        let context = RequestContext(requestID: "r", receivedAt: 0)
        context.deployment = ResolvedDeployment(providerName: "missing", model: "m", index: 0)
        let unknown = await end.handle(Self.request, context: context)
        #expect(unrouted.status == 500 && unknown.status == 500)
        #expect(context.attempt == 0, "nothing was sent")
    }
}
