import Gateway
import TestSupport
import Testing

/// The proxy checks that depend on the upstream client, run with `upstream.http1_client: curl`
/// (GatewayProxyTests runs them on the default native client): libcurl stays the client for
/// https providers, so its path through the adapter must keep working for http ones too.
@Suite(.serialized) struct GatewayProxyCurlTests {
    let upstream: MockUpstream
    let gateway: GatewayHarness

    init() throws {
        upstream = try MockUpstream()
        gateway = try GatewayHarness(yaml: GatewayHarness.yaml(
            upstreamPort: upstream.port, extra: "upstream: { http1_client: curl }"))
    }

    func finish() {
        gateway.stop()
        upstream.stop()
    }

    @Test func aChatCompletionIsProxiedWithTheKeyOnlyUpstream() throws {
        defer { finish() }
        let c = try RawHTTPClient(port: gateway.port)
        for _ in 0..<3 {
            c.post("/v1/chat/completions", json: chatBody)
            let response = try c.readResponse()
            #expect(response.status == 200)
            #expect(response.header("x-switchyard-provider") == "up")
            #expect(response.bodyText.contains("\"object\":\"chat.completion\""))
            #expect(!response.bodyText.contains("SECRET"))
        }
        #expect(upstream.lastAuthorization == "Bearer sk-test-SECRET-0123456789")
    }

    @Test func aStreamIsRelayedAndABrokenOneEndsWithAnErrorEvent() throws {
        defer { finish() }
        let c = try RawHTTPClient(port: gateway.port)
        c.post("/v1/chat/completions", json: #"{"model":"fast","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
        let whole = try c.readResponse()
        #expect(whole.status == 200 && whole.bodyText.hasSuffix("data: [DONE]\n\n"))
        for model in ["up/mock-gpt+reset=3", "up/mock-gpt+truncate=3"] {
            c.post("/v1/chat/completions", json: #"{"model":"\#(model)","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
            let response = try c.readResponse()
            #expect(response.status == 200, "\(model)")
            #expect(response.bodyText.contains("data: {\"error\":"), "\(model)")
        }
    }

    @Test func providerErrorsAreRelayedWithTheirRetryAfter() throws {
        defer { finish() }
        let c = try RawHTTPClient(port: gateway.port)
        c.post("/v1/chat/completions", json: #"{"model":"up/x+status=429+retry_after=7","messages":[{"role":"user","content":"hi"}]}"#)
        let response = try c.readResponse()
        #expect(response.status == 429)
        #expect(response.header("retry-after") == "7")
        #expect(response.header("x-switchyard-error-source") == "provider")
    }

    @Test func anUnreachableProviderIs502() throws {
        defer { finish() }
        let closed = freeLoopbackPort()
        let harness = try GatewayHarness(yaml: """
            server: { listen: "127.0.0.1:0", workers: 1 }
            upstream: { http1_client: curl }
            providers: { down: { type: openai, base_url: "http://127.0.0.1:\(closed)/v1", api_key: "k" } }
            models: { m: { deployments: [ { provider: down, model: x } ] } }
            pipeline: { router: {} }
            """)
        defer { harness.stop() }
        let c = try RawHTTPClient(port: harness.port)
        c.post("/v1/chat/completions", json: #"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#)
        let response = try c.readResponse()
        #expect(response.status == 502)
        #expect(response.bodyText.contains("upstream_unavailable"))
    }
}
