import Testing

@testable import MockProvider

@Suite struct MockFaultsTests {
    private func parse(_ headers: [String: String] = [:], model: String = "mock-gpt") -> (MockFaults, String) {
        let (faults, baseModel) = MockFaults.parse(header: { headers[$0] }, model: model)
        return (faults, baseModel)
    }

    @Test func noHeadersAndPlainModelIsNone() {
        let (faults, baseModel) = parse()
        #expect(faults == .none)
        #expect(baseModel == "mock-gpt")
        #expect(MockFaults.none.latencyMs == 0 && MockFaults.none.status == nil)
    }

    @Test func eachFaultFromHeaders() {
        #expect(parse(["x-mock-latency-ms": "250"]).0.latencyMs == 250)
        #expect(parse(["x-mock-token-interval-ms": "20"]).0.tokenIntervalMs == 20)
        #expect(parse(["x-mock-status": "500"]).0.status == 500)
        #expect(parse(["x-mock-retry-after": "7"]).0.retryAfterSeconds == 7)
        #expect(parse(["x-mock-reset-after": "3"]).0.resetAfterChunks == 3)
        #expect(parse(["x-mock-truncate-after": "4"]).0.truncateAfterChunks == 4)
        #expect(parse(["x-mock-completion-tokens": "100"]).0.completionTokens == 100)
    }

    @Test func eachFaultFromModelSegments() {
        let (faults, baseModel) = parse(
            model: "gpt-4o+latency=200+interval=20+status=503+retry-after=9+reset=5+truncate=3+tokens=40")
        #expect(baseModel == "gpt-4o")
        #expect(
            faults
                == MockFaults(
                    latencyMs: 200, tokenIntervalMs: 20, status: 503, retryAfterSeconds: 9, resetAfterChunks: 5,
                    truncateAfterChunks: 3, completionTokens: 40))
    }

    @Test func segmentSpellingsAreAccepted() {
        #expect(parse(model: "m+latency-ms=5").0.latencyMs == 5)
        #expect(parse(model: "m+token-interval-ms=6").0.tokenIntervalMs == 6)
        #expect(parse(model: "m+retry=2").0.retryAfterSeconds == 2)
        #expect(parse(model: "m+reset-after=1").0.resetAfterChunks == 1)
        #expect(parse(model: "m+truncate-after=0").0.truncateAfterChunks == 0)
        #expect(parse(model: "m+STATUS=429").0.status == 429)
    }

    @Test func headersWinOverModelSegments() {
        let (faults, baseModel) = parse(
            ["x-mock-latency-ms": "10", "x-mock-status": "500"], model: "mock-gpt+latency=200+status=429+interval=5")
        #expect(faults.latencyMs == 10)
        #expect(faults.status == 500)
        #expect(faults.tokenIntervalMs == 5)
        #expect(baseModel == "mock-gpt")
    }

    @Test func injected429DefaultsRetryAfterToOneSecond() {
        #expect(parse(model: "mock-gpt+status=429").0.retryAfterSeconds == 1)
        #expect(parse(["x-mock-status": "429", "x-mock-retry-after": "4"]).0.retryAfterSeconds == 4)
        #expect(parse(model: "mock-gpt+status=503").0.retryAfterSeconds == nil)
    }

    @Test func unknownOrMalformedSegmentsStayInTheModelName() {
        #expect(parse(model: "org+model").1 == "org+model")
        #expect(parse(model: "a+foo=1+latency=3").1 == "a+foo=1")
        #expect(parse(model: "a+latency=abc").1 == "a+latency=abc")
        #expect(parse(model: "a+latency=abc").0 == .none)
        #expect(parse(model: "a+latency=-5").0.latencyMs == 0)
    }

    @Test func malformedHeaderValuesAreIgnored() {
        #expect(parse(["x-mock-latency-ms": "soon"]).0 == .none)
        #expect(parse(["x-mock-latency-ms": "-1"]).0 == .none)
        #expect(parse(["x-mock-latency-ms": "1 2"]).0 == .none)
        #expect(parse(["x-mock-latency-ms": " 12 "]).0.latencyMs == 12)
        #expect(parse(["x-mock-latency-ms": ""]).0 == .none)
    }

    @Test func onlyErrorStatusesAreFaults() {
        #expect(parse(["x-mock-status": "200"]).0.status == nil)
        #expect(parse(["x-mock-status": "302"]).0.status == nil)
        #expect(parse(["x-mock-status": "600"]).0.status == nil)
        #expect(parse(["x-mock-status": "400"]).0.status == 400)
        #expect(parse(["x-mock-status": "599"]).0.status == 599)
    }

    @Test func headerNamesListsEveryKnob() {
        #expect(
            Set(MockFaults.headerNames)
                == [
                    "x-mock-latency-ms", "x-mock-token-interval-ms", "x-mock-status", "x-mock-retry-after",
                    "x-mock-reset-after", "x-mock-truncate-after", "x-mock-completion-tokens",
                ])
    }

    @Test func replyCarriesTheFaultPlan() {
        let reply = makeResponder().post(
            "/v1/chat/completions", chatBody(model: "mock-gpt+latency=200+interval=20"),
            headers: ["x-mock-reset-after": "2"])
        #expect(reply.status == 200)
        #expect(reply.faults == MockFaults(latencyMs: 200, tokenIntervalMs: 20, resetAfterChunks: 2))
        #expect(reply.object.string("model") == "mock-gpt")
    }

    @Test func completionTokensOverrideChangesTheAnswerLength() {
        let reply = makeResponder().post("/v1/chat/completions", chatBody(model: "mock-gpt+tokens=40"))
        #expect(reply.object["usage", "completion_tokens"] as? Int == 40)
    }
}
