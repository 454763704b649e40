import Gateway
import TestSupport
import Testing

/// The gateway end to end in one process: real sockets, a real upstream, the built-in mock.
@Suite(.serialized) struct GatewayProxyTests {
    let upstream: MockUpstream
    let gateway: GatewayHarness

    init() throws {
        upstream = try MockUpstream()
        gateway = try GatewayHarness(yaml: GatewayHarness.yaml(upstreamPort: upstream.port))
    }

    func client() throws -> RawHTTPClient { try RawHTTPClient(port: gateway.port) }

    func finish() {
        gateway.stop()
        upstream.stop()
    }

    @Test func aChatCompletionIsProxiedWithTheGatewayHeaders() throws {
        defer { finish() }
        let c = try client()
        c.post("/v1/chat/completions", json: chatBody, headers: ["X-Request-ID: my-trace-42"])
        let response = try c.readResponse()
        #expect(response.status == 200)
        #expect(response.header("x-request-id") == "my-trace-42")
        #expect(response.header("x-switchyard-provider") == "up")
        #expect(response.header("x-switchyard-model") == "mock-gpt")
        #expect(Double(response.header("x-switchyard-overhead-ms") ?? "") != nil)
        #expect(response.header("content-type") == "application/json")
        #expect(response.headers.filter { $0.0.lowercased() == "content-type" }.count == 1)
        #expect(response.bodyText.contains("\"object\":\"chat.completion\""))
        // The provider key went upstream and nowhere else.
        #expect(upstream.lastAuthorization == "Bearer sk-test-SECRET-0123456789")
        #expect(!response.bodyText.contains("SECRET"))
        #expect(!response.headers.contains { $0.1.contains("SECRET") })
        let log = gateway.logText()
        #expect(log.contains("\"request_id\":\"my-trace-42\""))
        #expect(log.contains("\"provider\":\"up\""))
        #expect(log.contains("\"upstream_ms\""))
        #expect(log.contains("\"overhead_ms\""))
        #expect(!log.contains("SECRET"))
    }

    @Test func theOpenAIBetaHeaderIsRelayedAsItCame() throws {
        defer { finish() }
        let c = try client()
        c.post("/v1/chat/completions", json: chatBody, headers: ["OpenAI-Beta: assistants=v2", "X-Other: not relayed"])
        #expect(try c.readResponse().status == 200)
        #expect(upstream.lastOpenAIBeta == "assistants=v2")
        c.post("/v1/chat/completions", json: chatBody)
        #expect(try c.readResponse().status == 200)
        #expect(upstream.lastOpenAIBeta == nil)
    }

    @Test func unknownFieldsPassThroughUntouchedAndOnlyTheModelIsRewritten() throws {
        defer { finish() }
        let body = #"{"model":"fast","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"seed":7,"response_format":{"type":"json_object"},"logprobs":true}"#
        let c = try client()
        c.post("/v1/chat/completions", json: body)
        #expect(try c.readResponse().status == 200)
        let sent = String(decoding: upstream.lastBody, as: UTF8.self)
        #expect(sent == body.replacingOccurrences(of: #""model":"fast""#, with: #""model":"mock-gpt""#))
    }

    @Test func aStreamIsRelayedEventByEventAndEndsWithDone() throws {
        defer { finish() }
        let c = try client()
        c.post("/v1/chat/completions", json: #"{"model":"fast","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#)
        var events = 0
        let response = try c.readResponse { chunk in events += String(decoding: chunk, as: UTF8.self).components(separatedBy: "data: ").count - 1 }
        #expect(response.status == 200)
        #expect(response.header("content-type") == "text/event-stream")
        #expect(response.bodyText.hasSuffix("data: [DONE]\n\n"))
        #expect(response.bodyText.contains("\"usage\":{"))
        #expect(events > 10)
    }

    @Test func aStreamThatBreaksEndsWithAnErrorEvent() throws {
        defer { finish() }
        for model in ["up/mock-gpt+reset=3", "up/mock-gpt+truncate=3", "mock/mock-gpt+reset=2"] {
            let c = try client()
            c.post("/v1/chat/completions", json: #"{"model":"\#(model)","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
            let response = try c.readResponse()
            #expect(response.status == 200, "\(model)")
            #expect(response.bodyText.contains("data: {\"error\":"), "\(model)")
            #expect(!response.bodyText.hasSuffix("data: [DONE]\n\n"), "\(model)")
            c.get("/health")  // the connection is still usable
            #expect(try c.readResponse().status == 200, "\(model)")
        }
    }

    /// Without an access log the edge builds no entry and relays streams unobserved: answers,
    /// streams and their failure events are the same, and no request line is logged.
    @Test func withoutAnAccessLogAnswersAndStreamsAreTheSame() throws {
        let quiet = try GatewayHarness(yaml: GatewayHarness.yaml(upstreamPort: upstream.port, extra: "log: { access_log: false }"))
        defer {
            quiet.stop()
            finish()
        }
        let c = try RawHTTPClient(port: quiet.port)
        c.post("/v1/chat/completions", json: chatBody, headers: ["X-Request-ID: quiet-1"])
        let json = try c.readResponse()
        #expect(json.status == 200)
        #expect(json.header("x-request-id") == "quiet-1")
        #expect(json.bodyText.contains("\"object\":\"chat.completion\""))
        c.post("/v1/chat/completions", json: #"{"model":"fast","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
        #expect(try c.readResponse().bodyText.hasSuffix("data: [DONE]\n\n"))
        c.post("/v1/chat/completions", json: #"{"model":"up/mock-gpt+reset=3","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
        let broken = try c.readResponse()
        #expect(broken.bodyText.contains("data: {\"error\":"))
        #expect(!quiet.logText().contains("quiet-1"))
    }

    @Test func gatewayErrorsAreOpenAIShaped() throws {
        defer { finish() }
        let cases: [(String, String, String, Int, String)] = [
            ("POST", "/v1/chat/completions", #"{"model":"nope","messages":[]}"#, 404, "model_not_found"),
            ("POST", "/v1/chat/completions", #"{"model":"fast","messages":[}"#, 400, "invalid_json"),
            ("POST", "/v1/chat/completions", #"{"messages":[]}"#, 400, "missing_required_parameter"),
            ("POST", "/v1/chat/completions", #"{"model":1,"messages":[]}"#, 400, "invalid_value"),
            ("POST", "/v1/embeddings", #"{"model":"embed"}"#, 400, "missing_required_parameter"),
            ("GET", "/v1/chat/completions", "", 405, "method_not_allowed"),
            ("GET", "/v2/nothing", "", 404, "unknown_url"),
        ]
        for (method, path, body, status, code) in cases {
            let c = try client()
            if method == "POST" { c.post(path, json: body) } else { c.get(path) }
            let response = try c.readResponse()
            #expect(response.status == status, "\(method) \(path) \(body)")
            #expect(response.bodyText.contains("\"code\":\"\(code)\""), "\(response.bodyText)")
            #expect(response.bodyText.hasPrefix("{\"error\":{\"message\":"))
            #expect(response.header("x-switchyard-error-source") != nil)
        }
    }

    @Test func providerErrorsAreRelayedWithTheirRetryAfter() throws {
        defer { finish() }
        let c = try client()
        c.post("/v1/chat/completions", json: #"{"model":"up/x+status=429+retry_after=7","messages":[{"role":"user","content":"hi"}]}"#)
        let response = try c.readResponse()
        #expect(response.status == 429)
        #expect(response.header("retry-after") == "7")
        #expect(response.header("x-switchyard-error-source") == "provider")
        #expect(response.bodyText.contains("rate_limit_exceeded"))
    }

    @Test func anUnreachableProviderIs502FromTheGateway() throws {
        defer { finish() }
        let closed = freeLoopbackPort()
        let harness = try GatewayHarness(yaml: """
            server: { listen: "127.0.0.1:0", workers: 1 }
            providers: { down: { type: openai, base_url: "http://127.0.0.1:\(closed)/v1", api_key: "k" } }
            models: { m: { deployments: [ { provider: down, model: x } ] } }
            pipeline: { router: {} }
            """)
        defer { harness.stop() }
        let c = try RawHTTPClient(port: harness.port)
        c.post("/v1/chat/completions", json: #"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#)
        let response = try c.readResponse()
        #expect(response.status == 502)
        #expect(response.header("x-switchyard-error-source") == "gateway")
        #expect(response.bodyText.contains("upstream_unavailable"))
    }

    @Test func modelsHealthAndReady() throws {
        defer { finish() }
        let c = try client()
        c.get("/v1/models")
        let models = try c.readResponse()
        #expect(models.bodyText.contains(#""id":"fast""#) && models.bodyText.contains(#""id":"local""#))
        c.get("/v1/models/fast")
        #expect(try c.readResponse().status == 200)
        c.get("/v1/models/nope")
        #expect(try c.readResponse().status == 404)
        c.get("/health")
        #expect(try c.readResponse().bodyText == #"{"status":"ok"}"#)
        c.get("/ready")
        #expect(try c.readResponse().status == 200)
    }

    @Test func theBuiltInMockServesEmbeddingsAndCompletions() throws {
        defer { finish() }
        let c = try client()
        c.post("/v1/embeddings", json: #"{"model":"local","input":"abc","encoding_format":"float","dimensions":8}"#)
        let embedding = try c.readResponse()
        #expect(embedding.status == 200 && embedding.bodyText.contains("\"embedding\":["))
        c.post("/v1/completions", json: #"{"model":"local","prompt":"Say"}"#)
        #expect(try c.readResponse().bodyText.contains("text_completion"))
    }

    @Test func aBodyOverMaxBodyIs413() throws {
        defer { finish() }
        let small = try GatewayHarness(yaml: GatewayHarness.yaml(upstreamPort: upstream.port, server: ", max_body: 1KiB"))
        defer { small.stop() }
        let c = try RawHTTPClient(port: small.port)
        c.post("/v1/chat/completions", json: #"{"model":"fast","messages":[{"role":"user","content":"\#(String(repeating: "x", count: 2000))"}]}"#)
        let response = try c.readResponse()
        #expect(response.status == 413)
        #expect(response.bodyText.contains("request_too_large"))
    }
}
