import Testing

@testable import MockProvider

@Suite struct RoutingAndModelsTests {
    let responder = makeResponder()

    @Test func pathsWorkWithOrWithoutV1QueryAndTrailingSlash() {
        for path in [
            "/v1/chat/completions", "/chat/completions", "/v1/chat/completions?api-version=1", "/v1/chat/completions/",
        ] {
            #expect(responder.post(path, chatBody()).status == 200, "\(path)")
        }
        #expect(responder.post("/completions", #"{"model":"m","prompt":"x"}"#).status == 200)
        #expect(responder.post("/embeddings", #"{"model":"m","input":"x","dimensions":2}"#).status == 200)
        #expect(responder.get("/models").status == 200)
        #expect(responder.get("/models/mock-gpt").status == 200)
    }

    @Test func unknownPathIs404WithAnOpenAIErrorBody() {
        let reply = responder.post("/v1/chat/complete", chatBody())
        #expect(reply.status == 404)
        #expect(reply.header("content-type") == "application/json")
        #expect(reply.error.string("message") == "Invalid URL (POST /v1/chat/complete)")
        #expect(reply.error.string("type") == "invalid_request_error")
        #expect(reply.error.isNull("param") && reply.error.isNull("code"))
        #expect(responder.get("/").status == 404)
        #expect(responder.get("/v2/models").status == 404)
    }

    @Test func wrongMethodIs405WithAllow() {
        let get = responder.get("/v1/chat/completions")
        #expect(get.status == 405)
        #expect(get.header("allow") == "POST")
        #expect(get.error.string("type") == "invalid_request_error")
        let post = responder.post("/v1/models", "{}")
        #expect(post.status == 405 && post.header("allow") == "GET")
        #expect(
            responder.respond(method: "DELETE", path: "/v1/embeddings", header: { _ in nil }, body: []).status == 405)
        #expect(
            responder.respond(
                method: "post", path: "/v1/completions", header: { _ in nil },
                body: Array(#"{"model":"m","prompt":"x"}"#.utf8)
            ).status == 200)
    }

    @Test func listModelsReturnsTheConfiguredIds() {
        let reply = makeResponder(models: ["a", "b\"quoted"]).get("/v1/models")
        #expect(reply.status == 200)
        #expect(reply.object.string("object") == "list")
        let data = reply.object.objects("data")
        #expect(data.compactMap { $0.string("id") } == ["a", "b\"quoted"])
        for model in data {
            #expect(model.string("object") == "model")
            #expect(model.int("created") == MockResponder.modelCreated)
            #expect(model.string("owned_by") == "switchyard-mock")
        }
    }

    @Test func defaultModelsAreTheThreeMocks() {
        let ids = MockResponder().get("/v1/models").object.objects("data").compactMap { $0.string("id") }
        #expect(ids == ["mock-gpt", "mock-gpt-mini", "mock-embedding"])
    }

    @Test func retrieveModelFindsKnownIdsAnd404sOthers() {
        let known = responder.get("/v1/models/mock-gpt-mini")
        #expect(known.status == 200)
        #expect(known.object.string("id") == "mock-gpt-mini")
        #expect(known.object.string("object") == "model")
        let unknown = responder.get("/v1/models/gpt-9")
        #expect(unknown.status == 404)
        #expect(unknown.error.string("code") == "model_not_found")
        #expect(unknown.error.string("type") == "invalid_request_error")
        #expect(unknown.error.string("message")?.contains("gpt-9") == true)
    }

    @Test func retrieveModelDecodesPercentEscapesAndKeepsSlashes() {
        let responder = makeResponder(models: ["org/model one"])
        #expect(responder.get("/v1/models/org/model%20one").status == 200)
        #expect(responder.get("/v1/models/org%2Fmodel%20one").object.string("id") == "org/model one")
    }

    @Test func faultsApplyToModelEndpointsFromHeaders() {
        let reply = responder.get("/v1/models", headers: ["x-mock-status": "503", "x-mock-latency-ms": "40"])
        #expect(reply.status == 503)
        #expect(reply.faults.latencyMs == 40)
        let slow = responder.get("/v1/models/mock-gpt", headers: ["x-mock-latency-ms": "40"])
        #expect(slow.status == 200 && slow.faults.latencyMs == 40)
        #expect(responder.get("/nowhere", headers: ["x-mock-latency-ms": "9"]).faults.latencyMs == 9)
    }
}
