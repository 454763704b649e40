import Foundation
import GatewayCore
import Yams

/// Renders an effective `GatewayConfig` back to `config.yaml` syntax for `switchyard check-config`:
/// every default spelled out, sections in the file's canonical order, entries in their loaded order.
/// Every secret (API keys, sensitive headers, Redis passwords) is masked, so the output is safe to
/// paste anywhere. Pure; callable from any thread.
public enum ConfigRenderer {
    public static func render(_ config: GatewayConfig) -> String {
        let root = block([
            ("server", server(config.server)),
            ("state", state(config.state)),
            ("upstream", upstream(config.upstream)),
            ("providers", block(config.providers.map { ($0.name, provider($0)) })),
            ("models", block(config.models.map { ($0.name, model($0)) })),
            ("tiers", block(config.tiers.map { ($0.name, tier($0)) })),
            ("keys", Node(config.keys.map(key), .implicit, .block)),
            ("pipeline", pipeline(config.pipeline)),
            (
                "log",
                flow([
                    ("level", plain(config.log.level.rawValue)), ("access_log", plain(config.log.accessLog)),
                    ("format", plain(config.log.format.rawValue)),
                ])
            ),
        ])
        let header = "# Effective Switchyard configuration; secrets are masked.\n"
        do {
            return header + (try Yams.serialize(node: root, width: -1, allowUnicode: true))
        } catch {
            // Only reachable for nodes Yams cannot emit, which the tree above never builds.
            return header + "# rendering failed: \(error)\n"
        }
    }

    static func server(_ s: ServerConfig) -> Node {
        block([
            ("listen", quoted(s.listen.description)), ("workers", plain(s.workers)),
            ("max_body", plain(s.maxBody.description)), ("idle_timeout", plain(s.idleTimeout.description)),
            ("header_timeout", plain(s.headerTimeout.description)),
            ("body_timeout", plain(s.bodyTimeout.description)),
            ("drain_timeout", plain(s.drainTimeout.description)),
            ("max_header_bytes", plain(s.maxHeaderBytes.description)),
        ])
    }

    static func state(_ s: StateConfig) -> Node {
        switch s.backend {
        case .memory: return flow([("backend", plain("memory"))])
        case .redis(let endpoint):
            return flow([("backend", plain("redis")), ("url", quoted(endpoint.description)), ("busy_poll", plain(s.busyPoll.description))])
        }
    }

    static func upstream(_ u: UpstreamConfig) -> Node {
        block([
            ("connect_timeout", plain(u.connectTimeout.description)),
            ("first_byte_timeout", plain(u.firstByteTimeout.description)),
            ("total_timeout", plain(u.totalTimeout.description)),
            ("max_connections_per_host", plain(u.maxConnectionsPerHost)), ("http2", plain(u.http2)),
            ("http1_client", plain(u.http1Client.rawValue)),
        ])
    }

    static func provider(_ p: ProviderConfig) -> Node {
        var pairs: [(String, Node)] = [("type", plain(p.type.rawValue))]
        if let url = p.baseURL { pairs.append(("base_url", quoted(url))) }
        if let key = p.apiKey { pairs.append(("api_key", quoted(key.masked))) }
        if !p.headers.isEmpty {
            pairs.append(
                (
                    "headers",
                    flow(p.headers.map { ($0.name, quoted($0.isSensitive ? Secret($0.value).masked : $0.value)) })
                ))
        }
        pairs.append(
            (
                "timeouts",
                flow([
                    ("connect", plain(p.timeouts.connect.description)),
                    ("first_byte", plain(p.timeouts.firstByte.description)),
                    ("total", plain(p.timeouts.total.description)),
                ])
            ))
        return flow(pairs)
    }

    static func model(_ m: ModelConfig) -> Node {
        let deployments = m.deployments.map { d -> Node in
            var pairs: [(String, Node)] = [
                ("provider", plain(d.provider)), ("model", quoted(d.model)), ("weight", number(d.weight)),
            ]
            if let window = d.contextWindow { pairs.append(("context_window", plain(window))) }
            pairs.append(("input_cost_per_mtok", number(d.inputCostPerMTok)))
            pairs.append(("output_cost_per_mtok", number(d.outputCostPerMTok)))
            return flow(pairs)
        }
        return block([("deployments", Node(deployments, .implicit, .block))])
    }

    static func tier(_ t: TierConfig) -> Node {
        var pairs: [(String, Node)] = []
        if t.unlimited { pairs.append(("unlimited", plain(true))) }
        let counts: [(String, Int?)] = [
            ("requests_per_minute", t.requestsPerMinute), ("requests_per_hour", t.requestsPerHour),
            ("tokens_per_minute", t.tokensPerMinute), ("burst", t.burst), ("max_concurrent", t.maxConcurrent),
            ("daily_tokens", t.dailyTokens), ("monthly_tokens", t.monthlyTokens),
        ]
        for (name, value) in counts { if let value { pairs.append((name, plain(value))) } }
        if let cost = t.dailyCost { pairs.append(("daily_cost", number(cost))) }
        if let cost = t.monthlyCost { pairs.append(("monthly_cost", number(cost))) }
        if let models = t.models { pairs.append(("models", list(models))) }
        if let factor = t.shedFactor { pairs.append(("shed_factor", number(factor))) }
        return flow(pairs)
    }

    static func key(_ k: KeyConfig) -> Node {
        var pairs: [(String, Node)] = [
            ("name", quoted(k.name)), ("key_sha256", quoted(k.keySHA256)), ("tier", plain(k.tier)),
        ]
        if let models = k.models { pairs.append(("models", list(models))) }
        if let expires = k.expires {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime]
            pairs.append(("expires", quoted(formatter.string(from: expires))))
        }
        if !k.metadata.isEmpty {
            pairs.append(("metadata", flow(k.metadata.sorted { $0.key < $1.key }.map { ($0.key, quoted($0.value)) })))
        }
        return flow(pairs)
    }

    /// Only the stages in the chain are written, in chain order, because presence is what enables one.
    static func pipeline(_ p: PipelineConfig) -> Node {
        block(p.stages.map { stage in (stage, self.stage(stage, of: p)) })
    }

    static func stage(_ name: String, of p: PipelineConfig) -> Node {
        switch name {
        case "auth":
            var pairs = [("required", plain(p.auth.required)), ("anonymous_tier", plain(p.auth.anonymousTier))]
            if let digest = p.auth.adminKeySHA256 { pairs.append(("admin_key_sha256", quoted(digest))) }
            pairs.append(("on_store_error", plain(p.auth.onStoreError.rawValue)))
            return flow(pairs)
        case "rate_limit":
            let r = p.rateLimit
            var pairs = [
                ("completion_estimate", plain(r.completionEstimate)), ("concurrency_lease", plain(r.concurrencyLease.description)),
                ("usage_retention", plain(r.usageRetention.description)), ("settle_linger", plain(r.settleLinger.description)),
            ]
            if let inFlight = r.overloadInFlight { pairs.append(("overload", flow([("in_flight", plain(inFlight))]))) }
            pairs.append(("on_store_error", plain(r.onStoreError.rawValue)))
            return flow(pairs)
        case "dedup":
            return flow([("enabled", plain(p.dedup.enabled)), ("on_store_error", plain(p.dedup.onStoreError.rawValue))])
        case "cache":
            return flow([
                (
                    "exact",
                    flow([("enabled", plain(p.cache.exact.enabled)), ("ttl", plain(p.cache.exact.ttl.description))])
                ),
                (
                    "semantic",
                    flow([
                        ("enabled", plain(p.cache.semantic.enabled)), ("threshold", number(p.cache.semantic.threshold)),
                    ])
                ),
                ("on_store_error", plain(p.cache.onStoreError.rawValue)),
            ])
        case "circuit_breaker":
            let b = p.circuitBreaker
            return flow([
                ("failure_threshold", plain(b.failureThreshold)), ("success_threshold", plain(b.successThreshold)),
                ("open_timeout", plain(b.openTimeout.description)), ("half_open_max_calls", plain(b.halfOpenMaxCalls)),
                ("on_store_error", plain(b.onStoreError.rawValue)),
            ])
        case "retry":
            let r = p.retry
            return flow([
                ("max_attempts", plain(r.maxAttempts)), ("base_delay", plain(r.baseDelay.description)),
                ("multiplier", number(r.multiplier)), ("max_delay", plain(r.maxDelay.description)),
            ])
        case "router":
            return flow([("strategy", plain(p.router.strategy.rawValue))])
        default:
            return flow([])
        }
    }

    // MARK: Node builders

    static func block(_ pairs: [(String, Node)]) -> Node {
        Node(pairs.map { (Node($0.0), $0.1) }, .implicit, .block)
    }

    static func flow(_ pairs: [(String, Node)]) -> Node {
        Node(pairs.map { (Node($0.0), $0.1) }, .implicit, .flow)
    }

    static func list(_ items: [String]) -> Node {
        Node(items.map { quoted($0) }, .implicit, .flow)
    }

    static func plain(_ text: String) -> Node { Node(text) }
    static func plain(_ value: Int) -> Node { Node(String(value)) }
    static func plain(_ value: Bool) -> Node { Node(value ? "true" : "false") }
    static func quoted(_ text: String) -> Node { Node(text, .implicit, .doubleQuoted) }

    /// Whole numbers without a trailing ".0" (weight: 1), others in Swift's shortest round-trip form.
    static func number(_ value: Double) -> Node {
        if value == value.rounded() && abs(value) < 1e15 { return Node(String(Int64(value))) }
        return Node(String(value))
    }
}
