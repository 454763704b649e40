/// The whole effective configuration of one gateway process: what `config.yaml` said after
/// defaults, `${VAR}` interpolation, provider discovery and validation. An immutable snapshot
/// shared by every worker (swapped whole on reload), so every field is a plain value.
/// Providers, models, tiers and keys keep the order of the file.
public struct GatewayConfig: Sendable, Equatable {
    public var server: ServerConfig
    public var state: StateConfig
    public var upstream: UpstreamConfig
    public var providers: [ProviderConfig]
    public var models: [ModelConfig]
    public var tiers: [TierConfig]
    public var keys: [KeyConfig]
    public var pipeline: PipelineConfig
    public var log: LogConfig

    public init(
        server: ServerConfig = ServerConfig(),
        state: StateConfig = StateConfig(),
        upstream: UpstreamConfig = UpstreamConfig(),
        providers: [ProviderConfig] = [ProviderConfig.builtInMock],
        models: [ModelConfig] = [ModelConfig.builtInMock],
        tiers: [TierConfig] = TierConfig.defaults,
        keys: [KeyConfig] = [],
        pipeline: PipelineConfig = PipelineConfig(),
        log: LogConfig = LogConfig()
    ) {
        self.server = server
        self.state = state
        self.upstream = upstream
        self.providers = providers
        self.models = models
        self.tiers = tiers
        self.keys = keys
        self.pipeline = pipeline
        self.log = log
    }

    public func provider(named name: String) -> ProviderConfig? { providers.first { $0.name == name } }
    public func model(named name: String) -> ModelConfig? { models.first { $0.name == name } }
    public func tier(named name: String) -> TierConfig? { tiers.first { $0.name == name } }
    public func key(named name: String) -> KeyConfig? { keys.first { $0.name == name } }
}
