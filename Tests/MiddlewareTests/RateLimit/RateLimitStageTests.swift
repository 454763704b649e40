import GatewayCore
import HTTPTypes
@testable import Middleware
import State
import Synchronization
import Testing

/// The rate-limit stage over the memory store (manual clock) with a fake `next`.
@Suite struct RateLimitStageTests {
    let clock = TestClock()
    let background = BackgroundQueue()
    let gauge = InFlightGauge()

    func stage(_ tiers: [TierConfig], store: (any StateStore)? = nil, settings: PipelineConfig.RateLimit = .init()) -> (RateLimitStage, any StateStore) {
        let store = store ?? MemoryStore(clock: clock.now)
        return (RateLimitStage(store: store, settings: settings, tiers: tiers, gauge: gauge, background: background.work), store)
    }

    func context(_ tier: TierConfig, id: String = "caller1", requestID: String = "req") -> RequestContext {
        let context = RequestContext(requestID: requestID, receivedAt: 0)
        context.caller = Caller(id: id, name: "demo", source: .config, tier: tier)
        context.deployment = ResolvedDeployment(providerName: "mock", model: "m", index: 0, inputCostPerMTok: 1, outputCostPerMTok: 2)
        return context
    }

    /// Answers 200 with a JSON body reporting `usage`.
    static func answer(prompt: Int = 10, completion: Int = 5) -> Terminal {
        { _, _ in
            GatewayResponse.json(200, Array(#"{"choices":[],"usage":{"prompt_tokens":\#(prompt),"completion_tokens":\#(completion)}}"#.utf8))
        }
    }

    static func streaming(_ stream: ScriptedStream) -> Terminal {
        { _, _ in GatewayResponse(status: 200, headers: [.contentType: "text/event-stream"], body: .stream(stream)) }
    }

    func usage(_ store: any StateStore, id: String = "caller1") async throws -> [String: String] {
        let day = CalendarPeriod.day(now: clock.now().totalMicroseconds).index
        return try await DayUsage.read(store, base: CallerKeys.base(id), day: day).mapValues { String($0) }
    }

    @Test func admitsExactlyTheLimitThenAnswers429WithEveryHeaderConvention() async throws {
        let tier = TierConfig(name: "free", requestsPerMinute: 3)
        let (stage, _) = stage([tier])
        for remaining in ["2", "1", "0"] {
            let response = await stage.handle(chatRequest(), context: context(tier), next: Self.answer())
            #expect(response.status == 200)
            #expect(response.headerValue("X-RateLimit-Limit") == "3")
            #expect(response.headerValue("X-RateLimit-Remaining") == remaining)
            #expect(response.headerValue("x-ratelimit-remaining-requests") == remaining)
        }
        let refused = await stage.handle(chatRequest(), context: context(tier), next: Self.answer())
        #expect(refused.status == 429)
        let body = errorBody(refused)
        #expect(body.contains(#""type":"requests""#) && body.contains(#""code":"rate_limit_exceeded""#))
        let retryAfter = try #require(refused.headerValue("retry-after").flatMap { Int($0) })
        let retryMillis = try #require(refused.headerValue("retry-after-ms").flatMap { Int($0) })
        #expect(retryAfter >= 1 && retryAfter <= 120)
        #expect(retryMillis > 0 && retryMillis <= retryAfter * 1_000)
        #expect(refused.headerValue("x-should-retry") == nil)
        #expect(refused.headerValue("X-RateLimit-Remaining") == "0")
        #expect(refused.headerValue("x-ratelimit-reset-requests")?.hasSuffix("s") == true)
        #expect(refused.headerValue("RateLimit-Policy") == #""rpm";q=3;w=60"#)
        #expect(refused.headerValue("RateLimit")?.hasPrefix(#""rpm";r=0;t="#) == true)
        // Another caller of the same tier has its own budget.
        #expect(await stage.handle(chatRequest(), context: context(tier, id: "caller2"), next: Self.answer()).status == 200)
        // A minute later, the window has moved on.
        clock.advance(seconds: 120)
        #expect(await stage.handle(chatRequest(), context: context(tier), next: Self.answer()).status == 200)
    }

    @Test func reservedTokensAreReconciledWithTheRealUsage() async throws {
        let tier = TierConfig(name: "t", tokensPerMinute: 2_000)
        let (stage, store) = stage([tier])
        let early = Mutex<GatewayResponse?>(nil)
        let first = await stage.handle(chatRequest(maxTokens: 1_500), context: context(tier)) { request, context in
            // While the first is in flight its reservation (about 1,500) counts.
            let second = await stage.handle(chatRequest(maxTokens: 1_500), context: self.context(tier, requestID: "req2"), next: Self.answer())
            early.withLock { $0 = second }
            return await Self.answer(prompt: 10, completion: 5)(request, context)
        }
        #expect(first.status == 200)
        let refused = try #require(early.withLock { $0 })
        #expect(refused.status == 429)
        #expect(errorBody(refused).contains(#""type":"tokens""#))
        #expect(refused.headerValue("x-ratelimit-limit-tokens") == "2000")
        // The next admission sends the lingering settlement ahead of itself (nothing drained
        // here): only the 15 used tokens remain counted.
        let later = await stage.handle(chatRequest(maxTokens: 1_500), context: context(tier), next: Self.answer())
        #expect(later.status == 200)
        await background.drain()
        let used = try await usage(store)
        #expect(used["requests"] == "2" && used["prompt_tokens"] == "20" && used["completion_tokens"] == "10")
        // 10 × $1/MTok + 5 × $2/MTok = $0.00002 = 20,000 nano-dollars per request.
        #expect(used["cost_nanos"] == "40000")
    }

    @Test func aConcurrencySlotIsHeldUntilTheStreamEnds() async throws {
        let tier = TierConfig(name: "c", maxConcurrent: 1)
        let (stage, _) = stage([tier])
        let open = await stage.handle(chatRequest(stream: true), context: context(tier, requestID: "a"),
                                      next: Self.streaming(ScriptedStream([ScriptedStream.content("hi"), "data: [DONE]\n\n"])))
        #expect(open.status == 200 && open.isStream)
        #expect(open.headerValue("X-RateLimit-Limit") == "1")
        let second = await stage.handle(chatRequest(), context: context(tier, requestID: "b"), next: Self.answer())
        #expect(second.status == 429)
        #expect(errorBody(second).contains(#""type":"concurrency""#) && errorBody(second).contains("concurrency_limit_exceeded"))
        #expect(gauge.current == 1)
        _ = await consume(open)
        #expect(gauge.current == 0)
        await background.drain()
        #expect(await stage.handle(chatRequest(), context: context(tier, requestID: "c"), next: Self.answer()).status == 200)
    }

    @Test func aStreamCutShortStillRecordsTheUsageItConsumed() async throws {
        let tier = TierConfig(name: "t", tokensPerMinute: 100_000)
        let (stage, store) = stage([tier])
        let stream = ScriptedStream((0..<3).map { ScriptedStream.content("w\($0)") },
                                    failure: .streamInterrupted("mock", "connection reset"))
        let response = await stage.handle(chatRequest(maxTokens: 50, stream: true), context: context(tier), next: Self.streaming(stream))
        #expect(response.headerValue("x-ratelimit-limit-tokens") == "100000")
        let (chunks, failed) = await consume(response)
        #expect(chunks.count == 3 && failed)
        await background.drain()
        let used = try await usage(store)
        #expect(used["requests"] == "1")
        #expect(used["completion_tokens"] == "3")
        #expect(Int(used["prompt_tokens"] ?? "") ?? 0 > 0)
    }

    @Test func anExhaustedQuotaIsInsufficientQuotaAndNotWorthRetrying() async throws {
        let tier = TierConfig(name: "q", dailyTokens: 100)
        let (stage, _) = stage([tier])
        let refused = await stage.handle(chatRequest(maxTokens: 500), context: context(tier), next: Self.answer())
        #expect(refused.status == 429)
        #expect(errorBody(refused).contains(#""type":"insufficient_quota""#) && errorBody(refused).contains(#""code":"insufficient_quota""#))
        #expect(refused.headerValue("x-should-retry") == "false")
        #expect(refused.headerValue("retry-after") != nil)
    }

    @Test func unlimitedCallersGetNoHeadersButTheirUsageIsAccounted() async throws {
        let tier = TierConfig(name: "enterprise", unlimited: true)
        let (stage, store) = stage([tier])
        for _ in 0..<5 {
            let response = await stage.handle(chatRequest(), context: context(tier), next: Self.answer())
            #expect(response.status == 200)
            #expect(response.headerValue("X-RateLimit-Limit") == nil)
        }
        await background.drain()
        #expect(try await usage(store)["requests"] == "5")
    }

    @Test func overloadShedsLowerTiersFirst() async throws {
        let free = TierConfig(name: "free", shedFactor: 1.0)
        let pro = TierConfig(name: "pro", shedFactor: 2.0)
        let enterprise = TierConfig(name: "enterprise", unlimited: true)
        let (stage, _) = stage([free, pro, enterprise], settings: PipelineConfig.RateLimit(overloadInFlight: 2))
        var open: [GatewayResponse] = []
        for i in 0..<2 {
            open.append(await stage.handle(chatRequest(stream: true), context: context(enterprise, requestID: "e\(i)"),
                                           next: Self.streaming(ScriptedStream(["data: [DONE]\n\n"]))))
        }
        #expect(gauge.current == 2)
        let shed = await stage.handle(chatRequest(), context: context(free), next: Self.answer())
        #expect(shed.status == 503)
        #expect(errorBody(shed).contains("server_overloaded"))
        #expect(shed.headerValue("retry-after") == "1")
        #expect(await stage.handle(chatRequest(), context: context(pro), next: Self.answer()).status == 200)
        #expect(await stage.handle(chatRequest(), context: context(enterprise), next: Self.answer()).status == 200)
        for response in open { _ = await consume(response) }
        #expect(await stage.handle(chatRequest(), context: context(free), next: Self.answer()).status == 200)
    }

    @Test func aFailedStoreFollowsThePolicy() async throws {
        let tier = TierConfig(name: "free", requestsPerMinute: 1)
        let (open, _) = stage([tier], store: FailingStore(), settings: PipelineConfig.RateLimit(onStoreError: .failOpen))
        for _ in 0..<3 {
            let response = await open.handle(chatRequest(), context: context(tier), next: Self.answer())
            #expect(response.status == 200)
            #expect(response.headerValue("X-RateLimit-Limit") == nil)
        }
        await background.drain()  // settlement fails quietly
        let (closed, _) = stage([tier], store: FailingStore(), settings: PipelineConfig.RateLimit(onStoreError: .failClosed))
        let refused = await closed.handle(chatRequest(), context: context(tier), next: Self.answer())
        #expect(refused.status == 503)
        #expect(errorBody(refused).contains("state_store_unavailable"))
    }

    @Test func aCallersLimiterKeyAndScriptsAreRememberedOnlyForThatCaller() {
        let keys = LimiterKeys()
        let tier = TierConfig(name: "t", requestsPerMinute: 1)
        let scripts = LimitScripts(plan: LimitPlan(tier: tier), leaseMicros: 1, retentionMicros: 1)
        var compiled = 0
        func lookup(_ caller: Caller) -> String {
            let (key, found) = keys.key(for: caller) { _ in
                compiled += 1
                return scripts
            }
            #expect(found === scripts)
            return key
        }
        let first = Caller(id: "aaaa", name: "a", source: .config, tier: tier)
        let other = Caller(id: "bbbb", name: "b", source: .runtime, tier: tier)
        #expect(lookup(first) == CallerKeys.limiter("aaaa"))
        #expect(lookup(first) == CallerKeys.limiter("aaaa"))
        #expect(compiled == 1)
        #expect(lookup(other) == CallerKeys.limiter("bbbb"))
        // Another object with the same identity is looked up afresh, and gets the same key.
        #expect(lookup(Caller(id: "aaaa", name: "a", source: .config, tier: tier)) == CallerKeys.limiter("aaaa"))
        #expect(compiled == 3)
    }

    @Test func headersRenderInEachConvention() {
        #expect(RateLimitHeaders.duration(20_000) == "20ms")
        #expect(RateLimitHeaders.duration(1_000_000) == "1s")
        #expect(RateLimitHeaders.duration(360_000_000) == "6m0s")
        #expect(RateLimitHeaders.duration(3_723_000_000) == "1h2m3s")
        #expect(RateLimitHeaders.duration(59_000_000) == "59s")
        #expect(RateLimitHeaders.duration(61_500_000) == "1m2s")  // seconds round up
        #expect(RateLimitHeaders.duration(3_600_000_000) == "1h0m0s")
        #expect(RateLimitHeaders.duration(36_610_000_000) == "10h10m10s")
        #expect(RateLimitHeaders.duration(900_000_000_000) == "250h0m0s")
        let plan = LimitPlan(tier: TierConfig(name: "x", requestsPerMinute: 60, tokensPerMinute: 1_000, burst: 5))
        // The call's time and short-form resets, then one answer in the long form.
        let reply = PackedIntegers([0, 0, 0, 0, -1, 0, 59, 30_000_000, 4, 200_000, 900, 30_000_000]).storeValue
        let snapshot = try! #require(RateLimitSnapshot(plan: plan, reply: reply))
        var headers = HeaderLines()
        RateLimitHeaders.apply(snapshot, to: &headers)
        // The burst bucket has fewer left than the window, so it is the one clients are shown.
        #expect(headers["X-RateLimit-Remaining"] == "4")
        #expect(headers["x-ratelimit-remaining-tokens"] == "900")
        #expect(headers["x-ratelimit-reset-tokens"] == "30s")
        #expect(headers["RateLimit-Policy"] == #""rpm";q=60;w=60, "burst";q=5, "tpm";q=1000;w=60"#)
        #expect(headers["RateLimit"] == #""rpm";r=59;t=30, "burst";r=4;t=1, "tpm";r=900;t=30"#)
    }

    /// Every kind of limit at once, with the widest numbers a reply can carry: the header lines
    /// are written into a buffer sized up front, which must hold them all.
    @Test func headersOfEveryLimitAtTheirWidestFitTheirBuffer() throws {
        let tier = TierConfig(name: "all", requestsPerMinute: Int.max, requestsPerHour: Int.max, tokensPerMinute: Int.max,
                              burst: Int.max, maxConcurrent: Int.max, dailyTokens: Int.max, monthlyTokens: Int.max,
                              dailyCost: 1e9, monthlyCost: 1e9)
        let plan = LimitPlan(tier: tier)
        #expect(plan.limits.count == 9)
        var values: [Int64] = [Int64.max] + plan.limits.map { _ in Int64.max } + [-1, Int64.min]
        for _ in plan.limits { values += [Int64.min, Int64.max] }
        let snapshot = try #require(RateLimitSnapshot(plan: plan, reply: PackedIntegers(values).storeValue))
        var lines = HeaderLines()
        RateLimitHeaders.apply(snapshot, to: &lines)
        #expect(lines.pairs.count == 11)
        #expect(lines["RateLimit"]?.components(separatedBy: ", ").count == 9)
        // A usual tier's bound stays under the 1 KiB a temporary allocation may take on the stack.
        let usual = LimitPlan(tier: TierConfig(name: "usual", requestsPerMinute: 600, tokensPerMinute: 100_000, maxConcurrent: 20))
        #expect(usual.headers.bound <= 1_024)
        // A refusal built from the same numbers says so without overflowing either.
        let form = 1 + plan.limits.count
        var refused = values
        refused[form] = 2
        let refusal = try #require(RateLimitSnapshot(plan: plan, reply: PackedIntegers(refused).storeValue))
        #expect(GatewayError.rateLimited(refusal).status == 429)
        // A refusing limit the plan does not have is a malformed reply, not an index to trust.
        refused[form] = 10
        #expect(RateLimitSnapshot(plan: plan, reply: PackedIntegers(refused).storeValue) == nil)
    }
}
