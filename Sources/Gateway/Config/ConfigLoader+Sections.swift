import GatewayCore

/// The fixed-shape sections: `server`, `state`, `upstream`, `log` and `pipeline`.
extension ConfigAssembly {
    func server(_ value: ConfigValue?) throws(ConfigError) -> ServerConfig {
        var server = ServerConfig(workers: cpuCount)
        guard let value else { return server }
        let fields = try reader.fields(
            value,
            allowed: [
                "listen", "workers", "max_body", "idle_timeout", "header_timeout", "body_timeout", "drain_timeout",
                "max_header_bytes",
            ])
        if let listen = fields["listen"] {
            let text = try reader.string(listen)
            switch ConfigValidation.listenAddress(text) {
            case .success(let address): server.listen = address
            case .failure(let problem): throw reader.error(listen, problem.message)
            }
        }
        if let workers = fields["workers"] {
            server.workers = try reader.string(workers) == "auto" ? cpuCount : reader.int(workers, atLeast: 1)
        }
        if let v = fields["max_body"] { server.maxBody = try reader.byteSize(v) }
        if let v = fields["idle_timeout"] { server.idleTimeout = try reader.timeSpan(v) }
        if let v = fields["header_timeout"] { server.headerTimeout = try reader.timeSpan(v) }
        if let v = fields["body_timeout"] { server.bodyTimeout = try reader.timeSpan(v) }
        if let v = fields["drain_timeout"] { server.drainTimeout = try reader.timeSpan(v) }
        if let v = fields["max_header_bytes"] { server.maxHeaderBytes = try reader.byteSize(v) }
        return server
    }

    func state(_ value: ConfigValue?) throws(ConfigError) -> StateConfig {
        guard let value else { return StateConfig() }
        let fields = try reader.fields(value, allowed: ["backend", "url", "busy_poll"])
        let backend = try fields["backend"].map { v throws(ConfigError) in try reader.string(v) } ?? "memory"
        switch backend {
        case "memory":
            for key in ["url", "busy_poll"] {
                if let v = fields[key] { throw reader.error(v, "only used with backend: redis") }
            }
            return StateConfig(backend: .memory)
        case "redis":
            guard let url = fields["url"] else {
                throw reader.error(value, "backend redis needs a url, e.g. redis://127.0.0.1:6379/0")
            }
            var busyPoll = StateConfig.defaultBusyPoll
            if let v = fields["busy_poll"] {
                busyPoll = try reader.timeSpan(v, positive: false)
                // Longer than a round trip to any Redis worth using only burns the CPU.
                if busyPoll > .milliseconds(10) { throw reader.error(v, "at most 10ms (0s turns polling off)") }
            }
            switch ConfigValidation.redisEndpoint(try reader.string(url)) {
            case .success(let endpoint): return StateConfig(backend: .redis(endpoint), busyPoll: busyPoll)
            case .failure(let problem): throw reader.error(url, problem.message)
            }
        default:
            throw reader.error(fields["backend"] ?? value, "unknown backend '\(backend)' (expected memory or redis)")
        }
    }

    func upstream(_ value: ConfigValue?) throws(ConfigError) -> UpstreamConfig {
        var upstream = UpstreamConfig()
        guard let value else { return upstream }
        let fields = try reader.fields(
            value,
            allowed: ["connect_timeout", "first_byte_timeout", "total_timeout", "max_connections_per_host", "http2", "http1_client"])
        if let v = fields["connect_timeout"] { upstream.connectTimeout = try reader.timeSpan(v) }
        if let v = fields["first_byte_timeout"] { upstream.firstByteTimeout = try reader.timeSpan(v) }
        if let v = fields["total_timeout"] { upstream.totalTimeout = try reader.timeSpan(v) }
        if let v = fields["max_connections_per_host"] { upstream.maxConnectionsPerHost = try reader.int(v, atLeast: 1) }
        if let v = fields["http2"] { upstream.http2 = try reader.bool(v) }
        if let v = fields["http1_client"] { upstream.http1Client = try reader.choice(v, UpstreamConfig.HTTP1Client.self) }
        return upstream
    }

    func log(_ value: ConfigValue?) throws(ConfigError) -> LogConfig {
        var log = LogConfig()
        guard let value else { return log }
        let fields = try reader.fields(value, allowed: ["level", "access_log", "format"])
        if let v = fields["level"] { log.level = try reader.choice(v, LogConfig.Level.self) }
        if let v = fields["access_log"] { log.accessLog = try reader.bool(v) }
        if let v = fields["format"] { log.format = try reader.choice(v, LogConfig.Format.self) }
        return log
    }

    /// Stages run in the order their keys are written; `router` ends the chain (it is the stage
    /// that calls the provider), so it is appended when left out and refused anywhere but last.
    mutating func pipeline(_ value: ConfigValue?) throws(ConfigError) -> PipelineConfig {
        var pipeline = PipelineConfig()
        guard let value else { return pipeline }
        let fields = try reader.fields(value, allowed: PipelineConfig.knownStages)
        guard !fields.entries.isEmpty else { return pipeline }
        pipeline.stages = fields.entries.map(\.key)
        if let routerIndex = pipeline.stages.firstIndex(of: "router") {
            if routerIndex != pipeline.stages.count - 1 {
                let entry = fields.entries[routerIndex]
                throw ConfigError(
                    file: reader.file, line: entry.keyLine, keyPath: entry.value.path,
                    message: "router must be the last stage: it is the one that calls the provider")
            }
        } else {
            pipeline.stages.append("router")
            warnings.append(reader.warning(value, "no router stage listed; appended as the last stage"))
        }
        if let v = fields["auth"] { pipeline.auth = try auth(v) }
        if let v = fields["rate_limit"] { pipeline.rateLimit = try rateLimit(v) }
        if let v = fields["dedup"] {
            let f = try reader.fields(v, allowed: ["enabled", "on_store_error"])
            if let e = f["enabled"] { pipeline.dedup.enabled = try reader.bool(e) }
            if let p = f["on_store_error"] {
                pipeline.dedup.onStoreError = try reader.choice(p, PipelineConfig.StoreErrorPolicy.self)
            }
        }
        if let v = fields["cache"] { pipeline.cache = try cache(v) }
        if let v = fields["circuit_breaker"] { pipeline.circuitBreaker = try circuitBreaker(v) }
        if let v = fields["retry"] { pipeline.retry = try retry(v) }
        if let v = fields["router"] {
            let f = try reader.fields(v, allowed: ["strategy"])
            if let s = f["strategy"] {
                pipeline.router.strategy = try reader.choice(s, PipelineConfig.RouterStrategy.self)
            }
        }
        return pipeline
    }

    func auth(_ value: ConfigValue) throws(ConfigError) -> PipelineConfig.Auth {
        var auth = PipelineConfig.Auth()
        let fields = try reader.fields(value, allowed: ["required", "anonymous_tier", "admin_key_sha256", "on_store_error"])
        if let v = fields["required"] { auth.required = try reader.bool(v) }
        if let v = fields["anonymous_tier"] { auth.anonymousTier = try reader.nonEmptyString(v) }
        if let v = fields["admin_key_sha256"] {
            let digest = try reader.string(v).lowercased()
            guard ConfigValidation.isSHA256Hex(digest) else {
                throw reader.error(v, "must be exactly 64 hex characters (the SHA-256 of the admin key), found \(digest.count)")
            }
            auth.adminKeySHA256 = digest
        }
        if let v = fields["on_store_error"] {
            auth.onStoreError = try reader.choice(v, PipelineConfig.StoreErrorPolicy.self)
        }
        return auth
    }

    func rateLimit(_ value: ConfigValue) throws(ConfigError) -> PipelineConfig.RateLimit {
        var limit = PipelineConfig.RateLimit()
        let fields = try reader.fields(
            value, allowed: ["on_store_error", "completion_estimate", "concurrency_lease", "usage_retention", "overload", "settle_linger"])
        if let v = fields["on_store_error"] { limit.onStoreError = try reader.choice(v, PipelineConfig.StoreErrorPolicy.self) }
        if let v = fields["completion_estimate"] { limit.completionEstimate = try reader.int(v, atLeast: 0) }
        if let v = fields["concurrency_lease"] { limit.concurrencyLease = try reader.timeSpan(v) }
        if let v = fields["usage_retention"] { limit.usageRetention = try reader.timeSpan(v) }
        if let v = fields["settle_linger"] { limit.settleLinger = try reader.timeSpan(v, positive: false) }
        if let v = fields["overload"] {
            let f = try reader.fields(v, allowed: ["in_flight"])
            if let n = f["in_flight"] { limit.overloadInFlight = try reader.int(n, atLeast: 1) }
        }
        return limit
    }

    func cache(_ value: ConfigValue) throws(ConfigError) -> PipelineConfig.Cache {
        var cache = PipelineConfig.Cache()
        let fields = try reader.fields(value, allowed: ["exact", "semantic", "on_store_error"])
        if let p = fields["on_store_error"] { cache.onStoreError = try reader.choice(p, PipelineConfig.StoreErrorPolicy.self) }
        if let exact = fields["exact"] {
            let f = try reader.fields(exact, allowed: ["enabled", "ttl"])
            if let v = f["enabled"] { cache.exact.enabled = try reader.bool(v) }
            if let v = f["ttl"] { cache.exact.ttl = try reader.timeSpan(v) }
        }
        if let semantic = fields["semantic"] {
            let f = try reader.fields(semantic, allowed: ["enabled", "threshold"])
            if let v = f["enabled"] { cache.semantic.enabled = try reader.bool(v) }
            if let v = f["threshold"] {
                let threshold = try reader.double(v, atLeast: 0)
                guard threshold > 0 && threshold <= 1 else {
                    throw reader.error(v, "must be in (0, 1], found \(threshold)")
                }
                cache.semantic.threshold = threshold
            }
        }
        return cache
    }

    func circuitBreaker(_ value: ConfigValue) throws(ConfigError) -> PipelineConfig.CircuitBreaker {
        var breaker = PipelineConfig.CircuitBreaker()
        let fields = try reader.fields(
            value, allowed: ["failure_threshold", "success_threshold", "open_timeout", "half_open_max_calls", "on_store_error"])
        if let p = fields["on_store_error"] { breaker.onStoreError = try reader.choice(p, PipelineConfig.StoreErrorPolicy.self) }
        if let v = fields["failure_threshold"] { breaker.failureThreshold = try reader.int(v, atLeast: 1) }
        if let v = fields["success_threshold"] { breaker.successThreshold = try reader.int(v, atLeast: 1) }
        if let v = fields["open_timeout"] { breaker.openTimeout = try reader.timeSpan(v) }
        if let v = fields["half_open_max_calls"] { breaker.halfOpenMaxCalls = try reader.int(v, atLeast: 1) }
        return breaker
    }

    func retry(_ value: ConfigValue) throws(ConfigError) -> PipelineConfig.Retry {
        var retry = PipelineConfig.Retry()
        let fields = try reader.fields(value, allowed: ["max_attempts", "base_delay", "multiplier", "max_delay"])
        if let v = fields["max_attempts"] { retry.maxAttempts = try reader.int(v, atLeast: 1) }
        if let v = fields["base_delay"] { retry.baseDelay = try reader.timeSpan(v, positive: false) }
        if let v = fields["multiplier"] { retry.multiplier = try reader.double(v, atLeast: 1) }
        if let v = fields["max_delay"] { retry.maxDelay = try reader.timeSpan(v, positive: false) }
        if retry.maxDelay < retry.baseDelay {
            throw reader.error(
                fields["max_delay"] ?? value,
                "max_delay (\(retry.maxDelay)) is shorter than base_delay (\(retry.baseDelay))")
        }
        return retry
    }
}
