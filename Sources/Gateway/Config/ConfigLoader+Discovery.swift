import GatewayCore

/// The providers a deployment may name: those kept, and those left out for a missing key (a
/// deployment naming one of those is dropped with a warning rather than failing the load).
struct ConfigProviderSet {
    var kept: [ProviderConfig]
    /// Provider name → why it was left out ("OPENAI_API_KEY is not set").
    var leftOut: [String: String]

    var allNames: [String] { kept.map(\.name) + leftOut.keys.sorted() }
}

/// An OpenAI-compatible service found through its API-key variable when `providers:` is absent.
struct DiscoverableProvider {
    let name: String
    let keyVariable: String
    let baseURL: String

    var baseURLVariable: String { "\(name.uppercased())_BASE_URL" }

    static let all: [DiscoverableProvider] = [
        DiscoverableProvider(name: "openai", keyVariable: "OPENAI_API_KEY", baseURL: "https://api.openai.com/v1"),
        DiscoverableProvider(name: "groq", keyVariable: "GROQ_API_KEY", baseURL: "https://api.groq.com/openai/v1"),
        DiscoverableProvider(name: "together", keyVariable: "TOGETHER_API_KEY", baseURL: "https://api.together.xyz/v1"),
        DiscoverableProvider(name: "deepseek", keyVariable: "DEEPSEEK_API_KEY", baseURL: "https://api.deepseek.com/v1"),
        DiscoverableProvider(
            name: "openrouter", keyVariable: "OPENROUTER_API_KEY", baseURL: "https://openrouter.ai/api/v1"),
        DiscoverableProvider(name: "mistral", keyVariable: "MISTRAL_API_KEY", baseURL: "https://api.mistral.ai/v1"),
        DiscoverableProvider(
            name: "fireworks", keyVariable: "FIREWORKS_API_KEY", baseURL: "https://api.fireworks.ai/inference/v1"),
        DiscoverableProvider(name: "xai", keyVariable: "XAI_API_KEY", baseURL: "https://api.x.ai/v1"),
        DiscoverableProvider(name: "cerebras", keyVariable: "CEREBRAS_API_KEY", baseURL: "https://api.cerebras.ai/v1"),
        DiscoverableProvider(
            name: "perplexity", keyVariable: "PERPLEXITY_API_KEY", baseURL: "https://api.perplexity.ai"),
    ]

    static func named(_ name: String) -> DiscoverableProvider? { all.first { $0.name == name } }
}

extension ConfigAssembly {
    /// With no `providers:` section (or an empty one), every known service whose key variable is
    /// set (environment first, then `.env`) becomes a `type: openai` provider; `<NAME>_BASE_URL`
    /// overrides its URL. The others are "left out", so models may still name them.
    func discoverProviders(upstream: UpstreamConfig, section: ConfigValue?) throws(ConfigError) -> ConfigProviderSet {
        var set = ConfigProviderSet(kept: [], leftOut: [:])
        for known in DiscoverableProvider.all {
            guard let key = lookup(known.keyVariable), !key.isEmpty else {
                set.leftOut[known.name] = "\(known.keyVariable) is not set"
                continue
            }
            var baseURL = known.baseURL
            if let override = lookup(known.baseURLVariable), !override.isEmpty {
                switch ConfigValidation.baseURL(override) {
                case .success(let url): baseURL = url
                case .failure(let problem):
                    throw ConfigError(
                        file: reader.file, line: section?.line, keyPath: "providers",
                        message: "\(known.baseURLVariable): \(problem.message)")
                }
            }
            set.kept.append(
                ProviderConfig(
                    name: known.name, type: .openai, baseURL: baseURL, apiKey: Secret(key),
                    timeouts: ProviderConfig.Timeouts(defaultsFrom: upstream)))
        }
        set.kept.append(ProviderConfig(name: "mock", type: .mock, timeouts: .init(defaultsFrom: upstream)))
        return set
    }

    func lookup(_ variable: String) -> String? {
        reader.environment[variable] ?? reader.dotEnv[variable]
    }
}
