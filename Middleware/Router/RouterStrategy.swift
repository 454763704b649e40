import GatewayCore

/// How the router orders an alias's deployments for one request. A pure decision: the stage
/// tries them in the returned order (the first now; retry and fallback walk the rest).
///   - priority: config order, the first deployment is primary, the rest are fallbacks;
///   - weighted: one deployment drawn by weight first, then the rest in config order;
///   - least_latency: accepted; until latency is measured it orders like priority.
extension PipelineConfig.RouterStrategy {
    public func order(_ entry: RoutingTable.Entry, random: any RandomSource) -> [ResolvedDeployment] {
        switch self {
        case .priority, .leastLatency:
            return entry.deployments
        case .weighted:
            let scale = 1_000_000.0
            let weights = entry.weights.map { UInt64(max(0, $0) * scale) }
            let total = weights.reduce(0, +)
            guard total > 0, entry.deployments.count > 1 else { return entry.deployments }
            var pick = random.next(below: total)
            var chosen = 0
            for (i, weight) in weights.enumerated() {
                if pick < weight { chosen = i; break }
                pick -= weight
            }
            var ordered = [entry.deployments[chosen]]
            for (i, deployment) in entry.deployments.enumerated() where i != chosen { ordered.append(deployment) }
            return ordered
        }
    }
}
