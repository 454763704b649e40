import GatewayCore
import Testing

/// A stage that appends its name on the way in and out, to observe the fold order.
struct Tracing: Middleware {
    let name: String
    let log: Trace
    var answers = false

    func handle(_ request: GatewayRequest, context: RequestContext, next: Next) async -> GatewayResponse {
        log.append("→\(name)")
        if answers { return GatewayResponse(status: 429, body: .bytes([])) }
        var response = await next(request, context)
        log.append("←\(name)")
        response.headers[.xSwitchyardProvider] = name
        return response
    }
}

final class Trace: @unchecked Sendable {
    var entries: [String] = []
    func append(_ s: String) { entries.append(s) }
}

let emptyRequest = GatewayRequest(endpoint: .chatCompletions, headers: [:], body: [], fields: RequestFields())

@Suite struct PipelineTests {
    @Test func stagesRunInListOrderAndUnwindInReverse() async {
        let trace = Trace()
        let pipeline = Pipeline(stages: [Tracing(name: "auth", log: trace), Tracing(name: "router", log: trace)]) { _, _ in
            trace.append("upstream")
            return GatewayResponse(status: 200, body: .bytes([]))
        }
        let response = await pipeline.handle(emptyRequest, context: RequestContext(requestID: "r", receivedAt: 0))
        #expect(trace.entries == ["→auth", "→router", "upstream", "←router", "←auth"])
        #expect(response.headers[.xSwitchyardProvider] == "auth")  // the outermost decorates last
        #expect(pipeline.stageNames == ["auth", "router"])
    }

    @Test func aStageThatAnswersStopsTheChain() async {
        let trace = Trace()
        let pipeline = Pipeline(stages: [Tracing(name: "limit", log: trace, answers: true), Tracing(name: "router", log: trace)]) { _, _ in
            trace.append("upstream")
            return GatewayResponse(status: 200, body: .bytes([]))
        }
        let response = await pipeline.handle(emptyRequest, context: RequestContext(requestID: "r", receivedAt: 0))
        #expect(response.status == 429)
        #expect(trace.entries == ["→limit"])
    }

    @Test func errorsRenderInOpenAIShape() {
        let error = GatewayError.modelNotFound("x\"y")
        let body = String(decoding: error.jsonBody(), as: UTF8.self)
        #expect(body == #"{"error":{"message":"The model 'x\"y' does not exist or you do not have access to it.","type":"invalid_request_error","param":"model","code":"model_not_found"}}"#)
        #expect(String(decoding: error.sseEvent(), as: UTF8.self) == "data: \(body)\n\n")
        #expect(GatewayResponse(error: error).headers[.xSwitchyardErrorSource] == "gateway")
    }

    @Test func anOpenAIShapedProviderErrorIsRelayedAsItCame() {
        let body = Array(#"{"error":{"message":"quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#.utf8)
        let relayed = GatewayError.provider(status: 429, body: body, provider: "p", headers: [("retry-after", "3")])
        #expect(relayed.jsonBody() == body)
        #expect(relayed.isRetryable)
        let wrapped = GatewayError.provider(status: 500, body: Array("oops".utf8), provider: "p", headers: [])
        #expect(String(decoding: wrapped.jsonBody(), as: UTF8.self).contains("Provider 'p' answered 500: oops"))
    }
}
