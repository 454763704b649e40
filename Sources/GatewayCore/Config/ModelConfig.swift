/// One entry of `models:`: the alias clients send as `"model"` and the deployments that can
/// serve it. Deployment order is priority order for the `priority` router strategy.
public struct ModelConfig: Sendable, Equatable {
    /// The alias clients ask for (`models.<name>`).
    public var name: String
    /// Never empty in an effective configuration.
    public var deployments: [DeploymentConfig]

    public init(name: String, deployments: [DeploymentConfig]) {
        self.name = name
        self.deployments = deployments
    }

    /// Served when the configuration ends up with no model at all, so the gateway always answers.
    public static let builtInMock = ModelConfig(
        name: "mock-gpt", deployments: [DeploymentConfig(provider: "mock", model: "mock-gpt")])
}

/// One way to serve a model alias: a provider and the model name that provider knows.
public struct DeploymentConfig: Sendable, Equatable {
    /// Name of a provider in `GatewayConfig.providers`.
    public var provider: String
    /// The upstream model name; defaults to the alias.
    public var model: String
    /// Share of traffic under the `weighted` strategy; >= 0.
    public var weight: Double
    /// Context window in tokens, when known; lets the router skip deployments too small for a request.
    public var contextWindow: Int?
    /// US dollars per million prompt tokens, for cost accounting and cost limits.
    public var inputCostPerMTok: Double
    /// US dollars per million completion tokens.
    public var outputCostPerMTok: Double

    public init(
        provider: String,
        model: String,
        weight: Double = 1,
        contextWindow: Int? = nil,
        inputCostPerMTok: Double = 0,
        outputCostPerMTok: Double = 0
    ) {
        self.provider = provider
        self.model = model
        self.weight = weight
        self.contextWindow = contextWindow
        self.inputCostPerMTok = inputCostPerMTok
        self.outputCostPerMTok = outputCostPerMTok
    }
}
