import GatewayCore
import HTTPTypes
import Middleware
import Testing

/// Always draws `value` (clamped), so weighted picks are deterministic.
struct FixedRandom: RandomSource {
    let value: UInt64
    func next(below upperBound: UInt64) -> UInt64 { min(value, upperBound - 1) }
}

func request(model: String) -> GatewayRequest {
    let body = Array(#"{"model":"\#(model)","messages":[]}"#.utf8)
    return GatewayRequest(endpoint: .chatCompletions, headers: [:], body: body, fields: try! JSONScanner.scanRequest(body))
}

let table = RoutingTable(
    aliases: [
        ("gpt", .init(deployments: [
            ResolvedDeployment(providerName: "openai", model: "gpt-4o-mini", index: 0),
            ResolvedDeployment(providerName: "groq", model: "llama", index: 1),
        ], weights: [1, 3])),
    ],
    prefixProviders: ["openai", "mock"])

@Suite struct RouterTests {
    /// A `next` that answers 200 and records the deployment it was given.
    final class Recorder: @unchecked Sendable {
        var seen: ResolvedDeployment?
        var next: Terminal {
            { _, context in
                self.seen = context.deployment
                return GatewayResponse(status: 200, body: .bytes([]))
            }
        }
    }

    @Test func anAliasRoutesToItsFirstDeploymentByPriority() async {
        let recorder = Recorder()
        let router = Router(table: table, strategy: .priority)
        let response = await router.handle(request(model: "gpt"), context: RequestContext(requestID: "r", receivedAt: 0), next: recorder.next)
        #expect(response.status == 200)
        #expect(recorder.seen == ResolvedDeployment(providerName: "openai", model: "gpt-4o-mini", index: 0))
    }

    @Test func weightedPicksByWeightThenKeepsTheRestAsFallbacks() {
        let entry = table.aliases["gpt"]!
        // Weights 1:3 — a draw in the first quarter picks openai, the rest groq.
        #expect(PipelineConfig.RouterStrategy.weighted.order(entry, random: FixedRandom(value: 0)).map(\.providerName) == ["openai", "groq"])
        #expect(PipelineConfig.RouterStrategy.weighted.order(entry, random: FixedRandom(value: 2_000_000)).map(\.providerName) == ["groq", "openai"])
    }

    @Test func providerSlashModelReachesAConfiguredProviderDirectly() async {
        let recorder = Recorder()
        let router = Router(table: table, strategy: .priority)
        _ = await router.handle(request(model: "openai/gpt-4.1"), context: RequestContext(requestID: "r", receivedAt: 0), next: recorder.next)
        #expect(recorder.seen == ResolvedDeployment(providerName: "openai", model: "gpt-4.1", index: 0))
    }

    @Test func anUnknownModelIs404WithoutCallingNext() async {
        let recorder = Recorder()
        let router = Router(table: table, strategy: .priority)
        for model in ["nope", "unknown/x", "openai/"] {
            let response = await router.handle(request(model: model), context: RequestContext(requestID: "r", receivedAt: 0), next: recorder.next)
            #expect(response.status == 404)
            #expect(response.headers[.xSwitchyardErrorSource] == "gateway")
            guard case .bytes(let body) = response.body else { Issue.record("expected bytes"); continue }
            #expect(String(decoding: body, as: UTF8.self).contains(#""code":"model_not_found""#))
        }
        #expect(recorder.seen == nil)
    }
}
