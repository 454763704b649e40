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

/// A precheck that logs its check (and its `handle`, when that runs) and decides as told.
struct TracingCheck: Precheck {
    enum Decision { case proceed, answer, inHandle }
    let name: String
    let log: Trace
    let decision: Decision

    init(_ name: String, _ log: Trace, _ decision: Decision) {
        self.name = name
        self.log = log
        self.decision = decision
    }

    func check(_ request: GatewayRequest, context: RequestContext) -> PrecheckOutcome {
        log.append("check \(name)")
        switch decision {
        case .proceed: return .proceed
        case .answer: return .answer(GatewayResponse(status: 401, body: .bytes([])))
        case .inHandle: return .inHandle
        }
    }

    func handle(_ request: GatewayRequest, context: RequestContext, next: Next) async -> GatewayResponse {
        log.append("→\(name)")
        let response = await next(request, context)
        log.append("←\(name)")
        return response
    }
}

/// A bracket that logs each part, waits (answered at once by its wait) when told, and lets the
/// request through or answers 429.
struct TracingBracket: Bracket {
    let name: String
    let log: Trace
    var waits = true
    var refuses = false

    final class Wait: BracketWait, @unchecked Sendable {
        let log: Trace
        init(_ log: Trace) { self.log = log }
        func start(_ continuation: UnsafeContinuation<Void, Never>) {
            log.append("wait")
            continuation.resume()
        }
    }

    final class Pass: @unchecked Sendable {}

    func enter(_ request: GatewayRequest, context: RequestContext) -> BracketEntry {
        log.append("enter \(name)")
        return waits ? .wait(Wait(log)) : decision()
    }

    func decide(_ wait: any BracketWait, request: GatewayRequest, context: RequestContext) -> BracketEntry {
        log.append("decide \(name)")
        return decision()
    }

    func decision() -> BracketEntry {
        refuses ? .answer(GatewayResponse(status: 429, body: .bytes([]))) : .pass(Pass())
    }

    func leave(_ response: inout GatewayResponse, request: GatewayRequest, context: RequestContext, pass: AnyObject?) {
        log.append("leave \(name)\(pass is Pass ? "" : " without its pass")")
        response.headers[.xSwitchyardModel] = name
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

    /// Leading prechecks run in the chain's own frame: `proceed` goes on, `answer` ends the
    /// chain, `inHandle` runs the stage's `handle`; one after an ordinary stage runs its `handle`.
    @Test func leadingPrechecksDecideWithoutTheirHandle() async {
        let trace = Trace()
        func run(_ stages: [any Middleware]) async -> Int {
            trace.entries = []
            return await pipeline(stages, trace).handle(emptyRequest, context: RequestContext(requestID: "r", receivedAt: 0)).status
        }
        #expect(await run([TracingCheck("auth", trace, .proceed), TracingCheck("key", trace, .proceed), Tracing(name: "router", log: trace)]) == 200)
        #expect(trace.entries == ["check auth", "check key", "→router", "upstream", "←router"])
        #expect(await run([TracingCheck("auth", trace, .answer), Tracing(name: "router", log: trace)]) == 401)
        #expect(trace.entries == ["check auth"])
        #expect(await run([TracingCheck("auth", trace, .inHandle), Tracing(name: "router", log: trace)]) == 200)
        #expect(trace.entries == ["check auth", "→auth", "→router", "upstream", "←router", "←auth"])
        #expect(await run([Tracing(name: "cache", log: trace), TracingCheck("auth", trace, .proceed)]) == 200)
        #expect(trace.entries == ["→cache", "→auth", "upstream", "←auth", "←cache"])
    }

    /// A bracket after the leading prechecks runs in the chain's own frame, one elsewhere through
    /// its `handle`; both enter, wait when asked, decide, and leave with their pass, and a bracket
    /// that answers stops the chain.
    @Test func bracketsWaitDecideAndLeaveWhereverTheyStand() async {
        let trace = Trace()
        func run(_ stages: [any Middleware]) async -> GatewayResponse {
            trace.entries = []
            return await pipeline(stages, trace).handle(emptyRequest, context: RequestContext(requestID: "r", receivedAt: 0))
        }
        var response = await run([TracingCheck("auth", trace, .proceed), TracingBracket(name: "limit", log: trace)])
        #expect(trace.entries == ["check auth", "enter limit", "wait", "decide limit", "upstream", "leave limit"])
        #expect(response.status == 200 && response.headers[.xSwitchyardModel] == "limit")
        response = await run([Tracing(name: "cache", log: trace), TracingBracket(name: "limit", log: trace, waits: false)])
        #expect(trace.entries == ["→cache", "enter limit", "upstream", "leave limit", "←cache"])
        #expect(response.headers[.xSwitchyardModel] == "limit")
        response = await run([TracingBracket(name: "limit", log: trace, refuses: true), Tracing(name: "router", log: trace)])
        #expect(trace.entries == ["enter limit", "wait", "decide limit"])
        #expect(response.status == 429)
        response = await run([Tracing(name: "cache", log: trace), TracingBracket(name: "limit", log: trace, refuses: true)])
        #expect(trace.entries == ["→cache", "enter limit", "wait", "decide limit", "←cache"])
        #expect(response.status == 429)
    }

    func pipeline(_ stages: [any Middleware], _ trace: Trace) -> Pipeline {
        Pipeline(stages: stages) { _, _ in
            trace.append("upstream")
            return GatewayResponse(status: 200, body: .bytes([]))
        }
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
