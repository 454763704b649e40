import GatewayCore

/// `rate_limit`: enforces the caller's tier (set by `auth`) with an atomic admission script
/// that decides each request all or nothing (the requests of one reactor turn share one call:
/// `AdmissionQueue`), stamps the rate-limit headers on every answer to a limited caller, sheds lower
/// tiers under overload, and settles usage (tokens reconciled, lease released, per-day usage
/// recorded) when the answer has ended — streams included, cut short or not. Settlements wait
/// up to `settle_linger` to share the worker's next admission round trip (`SettlementQueue`).
///
/// One instance per worker and configuration (its settlement queue is the worker's); runs on
/// that worker's reactor.
public struct RateLimitStage: Middleware {
    public let name = "rate_limit"
    let settings: PipelineConfig.RateLimit
    /// Each tier's compiled scripts, by tier name, built once.
    let tiers: [String: LimitScripts]
    /// Accounting only (no limit): settles requests no admission script decided (fail_open).
    let accountingOnly: LimitScripts
    /// The caller of a request that reached this stage without one (no auth stage).
    let anonymous: @Sendable (RequestContext) -> Caller?
    let gauge: InFlightGauge
    let shedding: LoadShedding?
    let settlements: SettlementQueue
    let admissions: AdmissionQueue
    let limiters = LimiterKeys()

    public init(store: any StateStore, settings: PipelineConfig.RateLimit, tiers: [TierConfig], gauge: InFlightGauge,
                background: BackgroundWork, anonymous: @escaping @Sendable (RequestContext) -> Caller? = { _ in nil }) {
        self.settings = settings
        self.tiers = Dictionary(tiers.map { ($0.name, Self.compile(LimitPlan(tier: $0), settings)) }, uniquingKeysWith: { first, _ in first })
        self.accountingOnly = Self.compile(LimitPlan(limits: []), settings)
        self.anonymous = anonymous
        self.gauge = gauge
        self.shedding = settings.overloadInFlight.map(LoadShedding.init(watermark:))
        self.settlements = SettlementQueue(store: store, background: background,
                                           linger: UInt64(max(0, settings.settleLinger.nanoseconds)))
        self.admissions = AdmissionQueue(store: store, settlements: settlements, endOfTurn: background.endOfTurn)
    }

    @inline(__always)  // its body is the protocol witness (see `Middleware`)
    public func handle(_ request: GatewayRequest, context: RequestContext, next: Next) async -> GatewayResponse {
        guard let caller = context.caller ?? anonymous(context) else { return await next(request, context) }
        if let shedding, shedding.sheds(caller.tier, inFlight: gauge.current) {
            return GatewayResponse(error: .overloaded(tier: caller.tier.name))
        }
        let (limiter, scripts) = limiters.key(for: caller) { tier in
            // Auth resolves callers' tiers from the same configuration, so the fallback (scripts
            // compiled for this caller) is for a caller another stage made up.
            tiers[tier.name] ?? Self.compile(LimitPlan(tier: tier), settings)
        }
        let plan = scripts.plan
        let promptEstimate = Int64(request.body.count / 4)
        let reserve = plan.countsTokens ? promptEstimate + completionEstimate(request) : 0

        var snapshot: RateLimitSnapshot?
        if !plan.isEmpty {
            // Settlements of this tier waiting on this worker ride in the same call, applied first.
            let outcome = await settings.onStoreError.apply { () async throws(StoreError) -> AdmissionReply in
                try await admissions.admit(scripts, limiter: limiter, reserve: reserve)
            }
            switch outcome {
            case .answered(let answer):
                guard let decided = RateLimitSnapshot(plan: plan, reply: answer.reply, at: answer.offset) else {
                    return GatewayResponse(error: .stateStoreUnavailable(.protocolViolation("rate_admit answered \(answer.reply)")))
                }
                if !decided.admitted {
                    var refusal = GatewayResponse(error: .rateLimited(decided))
                    RateLimitHeaders.apply(decided, to: &refusal.headerLines)
                    return refusal
                }
                snapshot = decided
            case .proceedWithout:
                break  // fail_open: unlimited for this request, nothing reserved
            case .refuse(let response):
                return response
            }
        }

        // Without an admission (fail_open) the accounting-only scripts settle it: no lease to
        // release. A constant, so no box holds it for the stream's end: each branch completes a copy.
        let admitted = Settlement(
            limiter: limiter, admittedAt: snapshot?.decidedAt ?? 0, reserved: snapshot == nil ? 0 : reserve, promptTokens: 0,
            completionTokens: 0, costNanos: 0, scripts: snapshot == nil ? accountingOnly : scripts)
        gauge.enter()
        var response = await next(request, context)
        if let snapshot { RateLimitHeaders.apply(snapshot, to: &response.headerLines) }

        let settlements = self.settlements
        let gauge = self.gauge
        switch response.body {
        case .bytes(let body):
            var meter = UsageMeter()
            if (200..<300).contains(response.status) { meter.observe(body: body) }
            var settlement = admitted
            Self.complete(&settlement, meter: meter, promptEstimate: (200..<300).contains(response.status) ? promptEstimate : 0,
                          context: context)
            gauge.leave()
            settlements.add(settlement)
        case .stream(let stream):
            // A stream cut short still settles what it used: the end runs on any outcome.
            var meter = UsageMeter()
            response.body = .stream(ObservedStream(stream, onChunk: { meter.observe(chunk: $0) }) { _, _ in
                var settlement = admitted
                Self.complete(&settlement, meter: meter, promptEstimate: promptEstimate, context: context)
                gauge.leave()
                settlements.add(settlement)
            })
        }
        return response
    }

    /// Sends the settlements still lingering and waits for the store to take them (drain).
    public func flush() async {
        await settlements.flush()
    }

    /// Completion tokens the request may produce: `max_tokens` (or `max_completion_tokens`), else
    /// the configured estimate; none for embeddings. Times `n` choices.
    func completionEstimate(_ request: GatewayRequest) -> Int64 {
        guard request.endpoint != .embeddings else { return 0 }
        let perChoice = Int64(request.fields.maxTokens ?? settings.completionEstimate)
        return perChoice * Int64(max(1, request.fields.n ?? 1))
    }

    static func complete(_ settlement: inout Settlement, meter: UsageMeter, promptEstimate: Int64, context: RequestContext) {
        let tokens = meter.tokens(promptEstimate: promptEstimate)
        settlement.promptTokens = tokens.prompt
        settlement.completionTokens = tokens.completion
        if let deployment = context.deployment {
            let dollars = Double(tokens.prompt) * deployment.inputCostPerMTok + Double(tokens.completion) * deployment.outputCostPerMTok
            settlement.costNanos = Int64((dollars * 1_000).rounded())  // $/MTok × tokens × 1e9 / 1e6
        }
    }

    static func compile(_ plan: LimitPlan, _ settings: PipelineConfig.RateLimit) -> LimitScripts {
        LimitScripts(plan: plan, leaseMicros: settings.concurrencyLease.nanoseconds / 1_000,
                     retentionMicros: settings.usageRetention.nanoseconds / 1_000)
    }
}

/// The last caller's limiter key and tier scripts, so a caller's run of requests on a worker
/// builds the key once (a string of about 25 bytes, allocated and appended, on every request)
/// and finds its tier's scripts without hashing the tier's name (about 300 instructions). The
/// caller is held, so it is compared by identity: a config key's caller is one object for the
/// configuration's lifetime. Reactor-confined (one per stage, which is per worker), hence
/// `@unchecked Sendable`.
final class LimiterKeys: @unchecked Sendable {
    private var last: (caller: Caller, key: String, scripts: LimitScripts)?

    /// The caller's limiter key, and its tier's scripts as `scripts` finds them.
    func key(for caller: Caller, scripts: (TierConfig) -> LimitScripts) -> (String, LimitScripts) {
        if let last, last.caller === caller { return (last.key, last.scripts) }
        let key = CallerKeys.limiter(caller.id)
        let found = scripts(caller.tier)
        last = (caller, key, found)
        return (key, found)
    }
}
