import GatewayCore
import Middleware
import MockProvider
import Reactor
import State
import Upstream

/// Everything one worker needs to serve a request under one configuration. Rebuilt on reload
/// and swapped on the worker's reactor; requests in flight keep the snapshot they started with.
public struct WorkerSnapshot: Sendable {
    public let config: GatewayConfig
    public let pipeline: Pipeline
    public let routing: RoutingTable
    /// `GET /v1/models`, rendered once.
    public let modelList: [UInt8]
    /// Identifies callers for the admin API (the same rules as the chain's auth stage).
    public let auth: AuthStage
}

/// What the workers of one gateway process share: the state store, the cache of run-time keys
/// and the in-flight gauge that load shedding reads. Built once per process; thread-safe.
public struct GatewayShared: Sendable {
    public let store: any StateStore
    public let keys: KeyDirectory
    public let inFlight: InFlightGauge
    /// Unix seconds (key expiry, key creation); injected for tests.
    public let wallClock: @Sendable () -> Int64

    public init(store: any StateStore, keys: KeyDirectory = KeyDirectory(), inFlight: InFlightGauge = InFlightGauge(),
                wallClock: @escaping @Sendable () -> Int64 = { Int64(MemoryStore.wallClock().seconds) }) {
        self.store = store
        self.keys = keys
        self.inFlight = inFlight
        self.wallClock = wallClock
    }
}

/// The one place the chain is assembled from `pipeline:` (ARCHITECTURE §4). Stages named in the
/// config whose implementation has not landed yet are reported by `unavailableStages` and left
/// out; the router and the upstream stage always end the chain.
public enum PipelineAssembly {
    /// Stages this build implements, by config name.
    static let implemented: Set<String> = ["auth", "rate_limit", "router"]

    public static func unavailableStages(_ config: GatewayConfig) -> [String] {
        config.pipeline.stages.filter { !implemented.contains($0) }
    }

    public static func routingTable(_ config: GatewayConfig) -> RoutingTable {
        let entries = config.models.map { model -> (String, RoutingTable.Entry) in
            let deployments = model.deployments.enumerated().map { index, d in
                ResolvedDeployment(providerName: d.provider, model: d.model, index: index,
                                   inputCostPerMTok: d.inputCostPerMTok, outputCostPerMTok: d.outputCostPerMTok)
            }
            return (model.name, RoutingTable.Entry(deployments: deployments, weights: model.deployments.map(\.weight)))
        }
        return RoutingTable(aliases: entries, prefixProviders: Set(config.providers.map(\.name)))
    }

    /// Builds a worker's snapshot. Runs on that worker's reactor (adapters bind to its upstream clients).
    public static func snapshot(_ config: GatewayConfig, reactor: Reactor, upstream: UpstreamClients, shared: GatewayShared,
                                random: any RandomSource = SystemRandom()) -> WorkerSnapshot {
        let routing = routingTable(config)
        let auth = AuthStage(settings: config.pipeline.auth, keys: config.keys, tiers: config.tiers, store: shared.store,
                             directory: shared.keys, wallClock: shared.wallClock, monotonic: { monotonicNanos() })
        let background = BackgroundWork(after: { delay, work in _ = reactor.schedule(after: delay, work) },
                                        endOfTurn: { work in reactor.runSoon(work) })
        let anonymousTier = config.tiers.first { $0.name == config.pipeline.auth.anonymousTier }
        var stages: [any Middleware] = []
        for name in config.pipeline.stages {
            switch name {
            case "auth": stages.append(auth)
            case "rate_limit":
                stages.append(RateLimitStage(
                    store: shared.store, settings: config.pipeline.rateLimit, tiers: config.tiers, gauge: shared.inFlight,
                    background: background,
                    anonymous: { context in
                        // Without the auth stage every caller is anonymous, limited per address.
                        anonymousTier.map { AuthStage.anonymous(address: context.clientAddress, tier: $0) }
                    }))
            case "router": stages.append(Router(table: routing, strategy: config.pipeline.router.strategy, random: random))
            default: continue  // reported once at start by `unavailableStages`
            }
        }
        if !stages.contains(where: { $0.name == "router" }) {
            stages.append(Router(table: routing, strategy: config.pipeline.router.strategy, random: random))
        }
        let upstream = UpstreamEnd(adapters: adapters(config, reactor: reactor, upstream: upstream))
        let pipeline = Pipeline(stages: stages, end: upstream)
        return WorkerSnapshot(config: config, pipeline: pipeline, routing: routing, modelList: renderModelList(routing, config),
                              auth: auth)
    }

    static func adapters(_ config: GatewayConfig, reactor: Reactor, upstream: UpstreamClients) -> [String: any ProviderAdapter] {
        var adapters: [String: any ProviderAdapter] = [:]
        for provider in config.providers {
            switch provider.type {
            case .mock:
                adapters[provider.name] = MockAdapter(providerName: provider.name, reactor: reactor)
            case .openai:
                let timeouts = UpstreamTimeouts(
                    connect: UInt64(provider.timeouts.connect.nanoseconds),
                    firstByte: UInt64(provider.timeouts.firstByte.nanoseconds),
                    total: UInt64(provider.timeouts.total.nanoseconds))
                adapters[provider.name] = OpenAIAdapter(
                    providerName: provider.name, baseURL: provider.baseURL ?? "https://api.openai.com/v1",
                    apiKey: provider.apiKey?.value, extraHeaders: provider.headers.map { ($0.name, $0.value) },
                    timeouts: timeouts, clients: upstream)
            }
        }
        return adapters
    }

    static func renderModelList(_ routing: RoutingTable, _ config: GatewayConfig) -> [UInt8] {
        var out = Array(#"{"object":"list","data":["#.utf8)
        for (i, alias) in routing.orderedAliases.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: modelObject(alias, routing))
        }
        out.append(contentsOf: "]}".utf8)
        return out
    }

    static func modelObject(_ alias: String, _ routing: RoutingTable) -> [UInt8] {
        var out = Array(#"{"id":"#.utf8)
        JSONWriter.appendString(alias, to: &out)
        out.append(contentsOf: #","object":"model","created":0,"owned_by":"#.utf8)
        JSONWriter.appendString(routing.aliases[alias]?.deployments.first?.providerName ?? "switchyard", to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }
}
