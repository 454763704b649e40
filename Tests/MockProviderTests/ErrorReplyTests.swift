import Testing

@testable import MockProvider

@Suite struct ErrorReplyTests {
    let responder = makeResponder()

    /// Every error body has exactly the four OpenAI fields under `error`, and nothing else.
    private func expectOpenAIShape(_ reply: MockReply, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(Set(reply.object.keys) == ["error"], sourceLocation: sourceLocation)
        #expect(Set(reply.error.keys) == ["message", "type", "param", "code"], sourceLocation: sourceLocation)
        #expect(reply.error.string("message")?.isEmpty == false, sourceLocation: sourceLocation)
        #expect(reply.header("content-type") == "application/json", sourceLocation: sourceLocation)
    }

    @Test func malformedJSONIs400() {
        for body in ["{\"model\":", "", "not json", "{\"a\":1}}"] {
            let reply = responder.post("/v1/chat/completions", body)
            #expect(reply.status == 400, "\(body)")
            expectOpenAIShape(reply)
            #expect(reply.error.string("type") == "invalid_request_error")
            #expect(reply.error.string("message")?.hasPrefix("We could not parse the JSON body") == true)
        }
    }

    @Test func nonObjectBodyIs400() {
        let reply = responder.post("/v1/embeddings", "[1,2]")
        #expect(reply.status == 400)
        expectOpenAIShape(reply)
    }

    @Test func missingModelIs400() {
        for body in [#"{"messages":[{"role":"user","content":"x"}]}"#, #"{"model":"","messages":[]}"#, #"{"model":3}"#]
        {
            let reply = responder.post("/v1/chat/completions", body)
            #expect(reply.status == 400, "\(body)")
            expectOpenAIShape(reply)
            #expect(reply.error.string("message") == "you must provide a model parameter")
        }
        #expect(responder.post("/v1/embeddings", #"{"input":"x"}"#).status == 400)
        #expect(responder.post("/v1/completions", #"{"prompt":"x"}"#).status == 400)
    }

    @Test func injected429IsARateLimitWithHeaders() {
        let reply = responder.post("/v1/chat/completions", chatBody(model: "mock-gpt+status=429+retry=3"))
        #expect(reply.status == 429)
        expectOpenAIShape(reply)
        #expect(reply.error.string("type") == "requests")
        #expect(reply.error.string("code") == "rate_limit_exceeded")
        #expect(reply.error.isNull("param"))
        #expect(reply.header("retry-after") == "3")
        #expect(reply.header("retry-after-ms") == "3000")
        #expect(reply.header("x-ratelimit-limit-requests") == "10000")
        #expect(reply.header("x-ratelimit-remaining-requests") == "0")
        #expect(reply.header("x-ratelimit-reset-requests") == "3s")
        #expect(
            responder.post("/v1/chat/completions", chatBody(), headers: ["x-mock-status": "429"])
                .header("retry-after") == "1")
    }

    @Test func injected500And503AreServerErrors() {
        let serverError = responder.post("/v1/chat/completions", chatBody(), headers: ["x-mock-status": "500"])
        #expect(serverError.status == 500)
        expectOpenAIShape(serverError)
        #expect(serverError.error.string("type") == "server_error")
        #expect(serverError.header("retry-after") == nil)
        let overloaded = responder.post("/v1/chat/completions", chatBody(model: "mock-gpt+status=503"))
        #expect(overloaded.status == 503)
        expectOpenAIShape(overloaded)
        #expect(overloaded.error.string("type") == "server_error")
        #expect(overloaded.error.string("code") == "overloaded")
        #expect(overloaded.header("retry-after") == "1")
        let later = responder.post(
            "/v1/chat/completions", chatBody(), headers: ["x-mock-status": "503", "x-mock-retry-after": "30"])
        #expect(later.header("retry-after") == "30")
    }

    @Test func otherInjectedStatusesGetRealLookingBodies() {
        let expected: [(Int, String, String?)] = [
            (400, "invalid_request_error", nil), (401, "invalid_request_error", "invalid_api_key"),
            (403, "invalid_request_error", "permission_denied"), (404, "invalid_request_error", "model_not_found"),
            (418, "invalid_request_error", nil), (502, "server_error", nil), (504, "server_error", nil),
        ]
        for (status, type, code) in expected {
            let reply = responder.post("/v1/embeddings", #"{"model":"m+status=\#(status)","input":"x"}"#)
            #expect(reply.status == status)
            expectOpenAIShape(reply)
            #expect(reply.error.string("type") == type, "\(status)")
            #expect(reply.error.string("code") == code, "\(status)")
        }
    }

    @Test func injectedStatusWinsOverValidationAndKeepsTheFaultPlan() {
        let reply = responder.post(
            "/v1/chat/completions", "garbage", headers: ["x-mock-status": "502", "x-mock-latency-ms": "75"])
        #expect(reply.status == 502)
        #expect(reply.faults.latencyMs == 75)
        let invalid = responder.post("/v1/chat/completions", #"{"model":"m+latency=20"}"#)
        #expect(invalid.status == 400)
        #expect(invalid.faults.latencyMs == 20)
    }

    @Test func errorRepliesAreDeterministic() {
        let first = responder.post("/v1/chat/completions", chatBody(), headers: ["x-mock-status": "429"])
        #expect(first == responder.post("/v1/chat/completions", chatBody(), headers: ["x-mock-status": "429"]))
    }
}
