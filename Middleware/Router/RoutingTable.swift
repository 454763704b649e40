import GatewayCore

/// Model aliases and their deployments in priority order, resolved from config once per
/// snapshot. `provider/model` names reach a configured provider directly (LiteLLM-style) when
/// no alias of that name exists.
public struct RoutingTable: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var deployments: [ResolvedDeployment]
        public var weights: [Double]

        public init(deployments: [ResolvedDeployment], weights: [Double]) {
            self.deployments = deployments
            self.weights = weights
        }
    }

    public var aliases: [String: Entry]
    /// Aliases in config order, for `GET /v1/models`.
    public var orderedAliases: [String]
    /// Providers reachable as `name/model`.
    public var prefixProviders: Set<String>

    public init(aliases: [(String, Entry)], prefixProviders: Set<String>) {
        var table: [String: Entry] = [:]
        for (alias, entry) in aliases { table[alias] = entry }
        self.aliases = table
        self.orderedAliases = aliases.map(\.0)
        self.prefixProviders = prefixProviders
    }

    /// The deployments for `model`, or nil when it is not routable.
    public func entry(for model: String) -> Entry? {
        if let entry = aliases[model] { return entry }
        guard let slash = model.firstIndex(of: "/") else { return nil }
        let provider = String(model[..<slash])
        let rest = String(model[model.index(after: slash)...])
        guard prefixProviders.contains(provider), !rest.isEmpty else { return nil }
        return Entry(deployments: [ResolvedDeployment(providerName: provider, model: rest, index: 0)], weights: [1])
    }
}
