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
public struct RateLimitStage: Bracket {
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

    /// Who calls, unless shed; then the caller's admission to wait for (`decide`), or, for a
    /// plan without limits, a pass that only accounts.
    public func enter(_ request: GatewayRequest, context: RequestContext) -> BracketEntry {
        guard let caller = context.caller ?? anonymous(context) else { return .pass(nil) }
        if let shedding, shedding.sheds(caller.tier, inFlight: gauge.current) {
            return .answer(GatewayResponse(error: .overloaded(tier: caller.tier.name)))
        }
        let (limiter, scripts) = limiters.key(for: caller) { tier in
            // Auth resolves callers' tiers from the same configuration, so the fallback (scripts
            // compiled for this caller) is for a caller another stage made up.
            tiers[tier.name] ?? Self.compile(LimitPlan(tier: tier), settings)
        }
        let plan = scripts.plan
        let promptEstimate = Int64(request.body.count / 4)
        let reserve = plan.countsTokens ? promptEstimate + completionEstimate(request) : 0
        if plan.isEmpty {
            gauge.enter()
            return .pass(accounted(limiter: limiter, promptEstimate: promptEstimate))
        }
        // Settlements of this tier waiting on this worker ride in the same call, applied first.
        return .wait(Admission(scripts: scripts, limiter: limiter, reserve: reserve, promptEstimate: promptEstimate, queue: admissions))
    }

    /// The admission script's answer under the store-error policy: admitted (its snapshot kept
    /// for the headers), refused (429 with the headers), or, failing open, unlimited for this
    /// request and settled by the accounting-only scripts (nothing reserved, no lease).
    public func decide(_ wait: any BracketWait, request: GatewayRequest, context: RequestContext) -> BracketEntry {
        let admission = unsafeDowncast(wait, to: Admission.self)
        // The answer is read where the admission holds it (a `Result` matched here was copied,
        // the reply with it).
        if let reply = admission.reply {
            guard let decided = RateLimitSnapshot(plan: admission.scripts.plan, reply: reply, at: admission.offset) else {
                return .answer(GatewayResponse(error: .stateStoreUnavailable(.protocolViolation("rate_admit answered \(reply)"))))
            }
            if !decided.admitted {
                var refusal = GatewayResponse(error: .rateLimited(decided))
                RateLimitHeaders.apply(decided, to: &refusal.headerLines)
                return .answer(refusal)
            }
            admission.snapshot = decided
            gauge.enter()
            return .pass(admission)
        }
        if let refusal = settings.onStoreError.refusal(for: admission.failure ?? .protocolViolation("rate_admit: no answer")) {
            return .answer(refusal)
        }
        gauge.enter()
        return .pass(accounted(limiter: admission.limiter, promptEstimate: admission.promptEstimate))
    }

    /// A request let through without a decision (a plan without limits, or failing open): the
    /// accounting-only scripts settle it, nothing reserved, no lease.
    private func accounted(limiter: String, promptEstimate: Int64) -> Admission {
        Admission(scripts: accountingOnly, limiter: limiter, reserve: 0, promptEstimate: promptEstimate, queue: nil)
    }

    /// Stamps the headers and settles the request once its answer has ended — a stream's when
    /// it ends, cut short or not.
    public func leave(_ response: inout GatewayResponse, request: GatewayRequest, context: RequestContext, pass: AnyObject?) {
        guard let pass else { return }
        let admission = unsafeDowncast(pass, to: Admission.self)
        if let snapshot = admission.snapshot { RateLimitHeaders.apply(snapshot, to: &response.headerLines) }
        switch response.body {
        case .bytes(let body):
            var meter = UsageMeter()
            let succeeded = (200..<300).contains(response.status)
            if succeeded { meter.observe(body: body) }
            settlements.add(Self.settlement(admission, meter: meter, promptEstimate: succeeded ? admission.promptEstimate : 0,
                                            context: context))
            gauge.leave()
        case .stream(let stream):
            let settlements = self.settlements
            let gauge = self.gauge
            var meter = UsageMeter()
            response.body = .stream(ObservedStream(stream, onChunk: { meter.observe(chunk: $0) }) { _, _ in
                settlements.add(Self.settlement(admission, meter: meter, promptEstimate: admission.promptEstimate, context: context))
                gauge.leave()
            })
        }
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

    /// The settlement of an admitted (or accounted) request with the usage its answer reported.
    static func settlement(_ admission: Admission, meter: UsageMeter, promptEstimate: Int64, context: RequestContext) -> Settlement {
        let tokens = meter.tokens(promptEstimate: promptEstimate)
        var costNanos: Int64 = 0
        if let deployment = context.deployment {
            let dollars = Double(tokens.prompt) * deployment.inputCostPerMTok + Double(tokens.completion) * deployment.outputCostPerMTok
            costNanos = Int64((dollars * 1_000).rounded())  // $/MTok × tokens × 1e9 / 1e6
        }
        return Settlement(limiter: admission.limiter, admittedAt: admission.snapshot?.decidedAt ?? 0, reserved: admission.reserve,
                          promptTokens: tokens.prompt, completionTokens: tokens.completion, costNanos: costNanos,
                          scripts: admission.scripts)
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
