import GatewayCore

/// The models that survive loading, plus every alias the file declared (tiers and keys may
/// name a model whose deployments were all dropped for a missing key without failing the load).
struct ConfigModelSet {
    var kept: [ModelConfig]
    var knownNames: Set<String>
}

extension ConfigAssembly {
    mutating func models(_ value: ConfigValue?, providers: ConfigProviderSet, strategy: PipelineConfig.RouterStrategy)
        throws(ConfigError) -> ConfigModelSet
    {
        var set = ConfigModelSet(kept: [], knownNames: [])
        for entry in try value.map({ v throws(ConfigError) in try reader.entries(v) }) ?? [] {
            set.knownNames.insert(entry.key)
            if let model = try model(entry, providers: providers, strategy: strategy) { set.kept.append(model) }
        }
        if set.kept.isEmpty {
            set.kept.append(ModelConfig.builtInMock)
            set.knownNames.insert(ModelConfig.builtInMock.name)
            warnings.append(
                "\(reader.file): no model is configured or left; serving the built-in '\(ModelConfig.builtInMock.name)'"
            )
        }
        return set
    }

    /// One model alias, or nil when every deployment was dropped because its provider was left out.
    mutating func model(
        _ entry: ConfigEntry, providers: ConfigProviderSet, strategy: PipelineConfig.RouterStrategy
    ) throws(ConfigError) -> ModelConfig? {
        let fields = try reader.fields(entry.value, allowed: ["deployments"])
        guard let list = fields["deployments"], case let items = try reader.items(list), !items.isEmpty else {
            throw reader.error(
                fields["deployments"] ?? entry.value,
                "needs at least one deployment, e.g. deployments: [{ provider: openai, model: \(entry.key) }]")
        }
        var declared: [DeploymentConfig] = []
        var kept: [DeploymentConfig] = []
        for item in items {
            let deployment = try deployment(item, alias: entry.key, providers: providers)
            declared.append(deployment)
            if let reason = providers.leftOut[deployment.provider] {
                warnings.append(
                    reader.warning(
                        item, "deployment dropped: provider '\(deployment.provider)' was left out (\(reason))"))
            } else {
                kept.append(deployment)
            }
        }
        if strategy == .weighted && !declared.contains(where: { $0.weight > 0 }) {
            throw reader.error(list, "with router strategy weighted, at least one deployment needs a weight above 0")
        }
        if kept.isEmpty {
            warnings.append(reader.warning(entry.value, "model '\(entry.key)' dropped: no deployment left"))
            return nil
        }
        if strategy == .weighted && !kept.contains(where: { $0.weight > 0 }) {
            warnings.append(
                reader.warning(entry.value, "model '\(entry.key)' dropped: every deployment left has weight 0"))
            return nil
        }
        return ModelConfig(name: entry.key, deployments: kept)
    }

    func deployment(_ value: ConfigValue, alias: String, providers: ConfigProviderSet) throws(ConfigError)
        -> DeploymentConfig
    {
        let fields = try reader.fields(
            value,
            allowed: ["provider", "model", "weight", "context_window", "input_cost_per_mtok", "output_cost_per_mtok"])
        guard let providerValue = fields["provider"] else {
            throw reader.error(value, "missing required key 'provider'")
        }
        let provider = try reader.nonEmptyString(providerValue)
        if !providers.kept.contains(where: { $0.name == provider }) && providers.leftOut[provider] == nil {
            var message = "unknown provider '\(provider)'"
            if let guess = ConfigValidation.closest(to: provider, among: providers.allNames) {
                message += " (did you mean '\(guess)'?)"
            }
            throw reader.error(providerValue, message)
        }
        var deployment = DeploymentConfig(provider: provider, model: alias)
        if let v = fields["model"] { deployment.model = try reader.nonEmptyString(v) }
        if let v = fields["weight"] { deployment.weight = try reader.double(v, atLeast: 0) }
        if let v = fields["context_window"] { deployment.contextWindow = try reader.int(v, atLeast: 1) }
        if let v = fields["input_cost_per_mtok"] { deployment.inputCostPerMTok = try reader.double(v, atLeast: 0) }
        if let v = fields["output_cost_per_mtok"] { deployment.outputCostPerMTok = try reader.double(v, atLeast: 0) }
        return deployment
    }
}
