/// What ends a chain: the upstream call (or a test's answer).
public typealias Terminal = @Sendable (GatewayRequest, RequestContext) async -> GatewayResponse

/// What ends a chain, as a value the last `Next` calls straight through its witness. The
/// gateway's end is `UpstreamEnd` (in `Upstream`), whose `handle` is its witness; a `Terminal`
/// closure ends a chain through `ClosureEnd` (tests, a stage on its own), one async frame more.
public protocol ChainEnd: Sendable {
    func handle(_ request: GatewayRequest, context: RequestContext) async -> GatewayResponse
}

/// A `Terminal` closure as the end of a chain.
public struct ClosureEnd: ChainEnd {
    let terminal: Terminal

    public init(_ terminal: @escaping Terminal) { self.terminal = terminal }

    public func handle(_ request: GatewayRequest, context: RequestContext) async -> GatewayResponse {
        await terminal(request, context)
    }
}

/// The rest of the chain after a stage: the next stage with the rest after it, or the end.
/// A node of a list built once per pipeline. A stage calls it as `await next(request, context)`,
/// which is inlined into the stage, so the next stage (or the end's witness) is called straight
/// from it: a chain of closures put one more async frame per stage between them, and each
/// frame's return cost a task switch (under a task-executor preference, a lock). Immutable.
public final class Next: Sendable {
    @usableFromInline let stage: (any Middleware)?
    @usableFromInline let rest: Next?
    @usableFromInline let end: any ChainEnd
    /// `stage` when it is a `Precheck`, found once here rather than cast per request.
    @usableFromInline let precheck: (any Precheck)?
    /// `stage` when it is a `Bracket`, likewise.
    @usableFromInline let bracket: (any Bracket)?

    /// A chain of no stages: just `terminal`.
    public convenience init(_ terminal: @escaping Terminal) {
        self.init(stage: nil, rest: nil, end: ClosureEnd(terminal))
    }

    /// A chain of no stages: just `end`.
    public convenience init(end: any ChainEnd) {
        self.init(stage: nil, rest: nil, end: end)
    }

    init(stage: (any Middleware)?, rest: Next?, end: any ChainEnd) {
        self.stage = stage
        self.rest = rest
        self.end = end
        self.precheck = stage as? any Precheck
        self.bracket = stage as? any Bracket
    }

    @inlinable @inline(__always)  // into the stage that calls it: one task frame less a stage
    public func callAsFunction(_ request: GatewayRequest, _ context: RequestContext) async -> GatewayResponse {
        if let stage, let rest { return await stage.handle(request, context: context, next: rest) }
        return await end.handle(request, context: context)
    }

    /// The chain from here, its leading prechecks run one after another in the caller (see
    /// `Precheck`): the first stage that is not one (or the end) is called from here. Only the
    /// chain's entry does this (`Pipeline.handle`), so each stage's inlined `next` stays small.
    /// A `Bracket` right after them runs in the caller too (`Bracket.run`).
    @inlinable @inline(__always)
    func runningPrechecks(_ request: GatewayRequest, _ context: RequestContext) async -> GatewayResponse {
        var node = self
        while let rest = node.rest, let outcome = node.precheck?.check(request, context: context) {
            switch outcome {
            case .proceed: node = rest
            case .answer(let response): return response
            case .inHandle: return await node(request, context)
            }
        }
        if let bracket = node.bracket, let rest = node.rest { return await bracket.run(request, context, rest: rest) }
        return await node(request, context)
    }
}

/// A stage that decides before the rest of the chain, after at most one wait (the rate
/// limiter's admission, which waits for the state store), and then completes what comes back
/// (headers, settling usage), without a task frame of its own. Where it follows the chain's
/// leading prechecks, the chain's entry runs it in the caller's frame (`run`); elsewhere its
/// `handle` (the default below) does the same. An ordinary stage's frame costs a task switch on
/// entry and another when the rest of the chain returns to it, each taking the task's status
/// lock under the executor preference, and the frame itself; in the caller's frame the wait
/// still costs one switch after it. The rate limiter as a bracket: about 400 instructions a
/// request less (bench/RESULTS.md). The three parts are synchronous; only the wait suspends.
public protocol Bracket: Middleware {
    /// Decides at once (`.pass`, `.answer`), or says what to wait for first (`.wait`).
    func enter(_ request: GatewayRequest, context: RequestContext) -> BracketEntry
    /// Decides once the wait `enter` asked for has been answered: `.pass` or `.answer`.
    func decide(_ wait: any BracketWait, request: GatewayRequest, context: RequestContext) -> BracketEntry
    /// Completes the answer the rest of the chain gave a request passed with `pass`.
    func leave(_ response: inout GatewayResponse, request: GatewayRequest, context: RequestContext, pass: AnyObject?)
}

public enum BracketEntry: Sendable {
    /// Go on with the chain; `leave` gets this back.
    case pass((AnyObject & Sendable)?)
    /// Answer this without the rest of the chain.
    case answer(GatewayResponse)
    /// Start this wait and ask `decide` when it is over.
    case wait(any BracketWait)
}

/// What a bracket waits for (a store call): started once, and resumes `continuation` once, on
/// the reactor, when answered; the answer stays in it for `decide`.
public protocol BracketWait: AnyObject, Sendable {
    func start(_ continuation: UnsafeContinuation<Void, Never>)
}

extension Bracket {
    @inline(__always)  // its body is the protocol witness (see `Middleware`)
    public func handle(_ request: GatewayRequest, context: RequestContext, next: Next) async -> GatewayResponse {
        await run(request, context, rest: next)
    }

    /// Enter, wait if asked, decide, then the rest of the chain and leave: inlined into the
    /// caller, whose frame waits.
    @inlinable @inline(__always)
    func run(_ request: GatewayRequest, _ context: RequestContext, rest: Next) async -> GatewayResponse {
        var entry = enter(request, context: context)
        if case .wait(let wait) = entry {
            await withUnsafeContinuation { wait.start($0) }
            entry = decide(wait, request: request, context: context)
        }
        guard case .pass(let pass) = entry else {
            if case .answer(let response) = entry { return response }
            preconditionFailure("a bracket decides after its wait")
        }
        var response = await rest(request, context)
        leave(&response, request: request, context: context, pass: pass)
        return response
    }
}

/// A stage that only decides before the rest of the chain and leaves the answer as it comes
/// back (auth). Where it leads the chain (after other prechecks, if any), the chain asks
/// `check` first, synchronously, and when it decides, calls the next stage itself: the stage
/// then adds no task frame of its own, nor the task switch on that frame's return (which takes
/// the task's status lock under the executor preference): about 600 instructions and a mutex
/// a request, of which the check's own call gives back about 350. Its `handle` runs where it
/// follows an ordinary stage, and when `check` cannot decide without awaiting (`.inHandle`);
/// both must decide alike.
public protocol Precheck: Middleware {
    func check(_ request: GatewayRequest, context: RequestContext) -> PrecheckOutcome
}

public enum PrecheckOutcome: Sendable {
    /// Go on with the chain (the context updated).
    case proceed
    /// Answer this (401, 403) without the rest of the chain.
    case answer(GatewayResponse)
    /// Only `handle` can decide (it awaits the state store): run it.
    case inHandle
}

/// One stage of the pipeline. It either answers by itself (returns a response without calling
/// `next`: 401, 429, a cache hit) or calls `next` and may decorate what comes back.
///
/// Runs on the worker's reactor; never blocks. Errors are responses (`GatewayResponse(error:)`),
/// never thrown, so every stage sees every outcome.
///
/// The chain calls `handle` through the protocol, and an async witness that forwards to the
/// implementation is a task frame of its own (allocated, through a thread-local lookup, and
/// freed on every request): the built-in stages mark `handle` `@inline(__always)`, so its body
/// is the witness (about 170 instructions less per stage and request).
public protocol Middleware: Sendable {
    /// The stage's name as written under `pipeline:` in config.yaml.
    var name: String { get }
    func handle(_ request: GatewayRequest, context: RequestContext, next: Next) async -> GatewayResponse
    /// Sends whatever the stage holds back for batching (settlements) and returns when the store
    /// has answered: the worker calls it when it drains, so nothing accepted is lost on exit.
    func flush() async
}

extension Middleware {
    /// Most stages hold nothing back.
    public func flush() async {}

    /// `handle` with the rest of the chain given as a closure (tests, a stage on its own).
    public func handle(_ request: GatewayRequest, context: RequestContext,
                       next terminal: @escaping Terminal) async -> GatewayResponse {
        await handle(request, context: context, next: Next(terminal))
    }
}

/// Sends a request to one provider. Implementations live in `Upstream` (one file per provider
/// type); the middleware only ever sees this protocol. Runs on the worker's reactor.
public protocol ProviderAdapter: Sendable {
    func send(_ request: GatewayRequest, deployment: ResolvedDeployment, context: RequestContext) async -> GatewayResponse
}

/// Runs work that must outlive the stage call that needs it (sending settlements that waited
/// to share a round trip) on the current worker's reactor, later. Injected so tests decide when.
public struct BackgroundWork: Sendable {
    private let delayer: @Sendable (UInt64, @escaping @Sendable () -> Void) -> Void
    /// Runs work once the jobs the worker is running now are done, before it waits for I/O.
    public let endOfTurn: (@Sendable (@escaping @Sendable () -> Void) -> Void)?

    /// `delayer` runs work on the worker's reactor after a delay in nanoseconds (0: on a later
    /// turn); `endOfTurn`, when given, at the end of the current turn (work that gathers what
    /// the turn produced, such as admissions to send as one batch). Without it such work goes
    /// at once, one item at a time.
    public init(after delayer: @escaping @Sendable (UInt64, @escaping @Sendable () -> Void) -> Void,
                endOfTurn: (@Sendable (@escaping @Sendable () -> Void) -> Void)? = nil) {
        self.delayer = delayer
        self.endOfTurn = endOfTurn
    }

    public func after(_ nanoseconds: UInt64, _ work: @escaping @Sendable () -> Void) { delayer(nanoseconds, work) }
}
