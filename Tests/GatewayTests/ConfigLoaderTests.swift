import Foundation
import Gateway
import GatewayCore
import Testing

/// Shared by the config loader test files: loads text as "config.yaml" with a fixed CPU count of 6.
enum ConfigFixture {
    static func load(
        _ yaml: String, env: [String: String] = [:], dotEnv: [String: String] = [:]
    ) throws(ConfigError) -> LoadedConfig {
        try ConfigLoader.load(yaml: yaml, file: "config.yaml", environment: env, dotEnv: dotEnv, cpuCount: 6)
    }

    /// The error a load must fail with; records a test issue when it succeeds.
    static func loadError(
        _ yaml: String, env: [String: String] = [:], dotEnv: [String: String] = [:],
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> ConfigError? {
        do {
            let loaded = try ConfigFixture.load(yaml, env: env, dotEnv: dotEnv)
            Issue.record("expected an error, loaded \(loaded.config)", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    static let openAIKey = "sk-proj-SECRETSECRETSECRET-abcd"

    /// The example from the task brief, with every key spelled out.
    static let fullExample = """
        server:   { listen: "0.0.0.0:8080", workers: auto, max_body: 4MiB, idle_timeout: 60s, header_timeout: 10s, body_timeout: 30s, drain_timeout: 15s, max_header_bytes: 32KiB }
        state:    { backend: memory }
        upstream: { connect_timeout: 5s, first_byte_timeout: 60s, total_timeout: 600s, max_connections_per_host: 64, http2: true }
        providers:
          openai:    { type: openai, base_url: "https://api.openai.com/v1", api_key: "${OPENAI_API_KEY}", headers: { OpenAI-Organization: "org-123" }, timeouts: { connect: 5s, first_byte: 30s, total: 300s } }
          mock:      { type: mock }
        models:
          gpt-4o-mini:
            deployments:
              - { provider: openai, model: gpt-4o-mini, weight: 1, context_window: 128000, input_cost_per_mtok: 0.15, output_cost_per_mtok: 0.60 }
        tiers:
          free:       { requests_per_minute: 20, requests_per_hour: 500, tokens_per_minute: 20000, burst: 5, max_concurrent: 2, daily_tokens: 200000, monthly_tokens: 2000000, daily_cost: 1.0, monthly_cost: 10.0, models: ["gpt-4o-mini"] }
          enterprise: { unlimited: true }
        keys:
          - { name: demo, key_sha256: "\(String(repeating: "ab", count: 32))", tier: free, models: [gpt-4o-mini], expires: "2027-01-01T00:00:00Z", metadata: { team: x } }
        pipeline:
          auth:            { required: true, on_store_error: fail_closed }
          rate_limit:      { on_store_error: fail_open }
          dedup:           { enabled: true, on_store_error: fail_open }
          cache:           { exact: { enabled: true, ttl: 1h }, semantic: { enabled: false, threshold: 0.95 }, on_store_error: fail_open }
          circuit_breaker: { failure_threshold: 5, success_threshold: 2, open_timeout: 30s, half_open_max_calls: 1, on_store_error: fail_open }
          retry:           { max_attempts: 3, base_delay: 200ms, multiplier: 2, max_delay: 5s }
          router:          { strategy: priority }
        log:      { level: info, access_log: true, format: json }
        """
}

@Suite("ConfigLoader")
struct ConfigLoaderTests {
    @Test func emptyFileGivesDefaultsAndTheMock() throws {
        for text in ["", "# nothing here\n", "server:\npipeline:\n"] {
            let loaded = try ConfigFixture.load(text)
            var expected = GatewayConfig()
            expected.server.workers = 6
            #expect(loaded.config == expected)
            #expect(loaded.config.server.listen.description == "0.0.0.0:8080")
            #expect(loaded.config.server.maxBody.bytes == 4 << 20)
            #expect(loaded.config.providers.map(\.name) == ["mock"])
            #expect(loaded.config.models.map(\.name) == ["mock-gpt"])
            #expect(loaded.config.tiers.map(\.name) == ["free", "basic", "pro", "enterprise"])
            #expect(loaded.config.tier(named: "free")?.requestsPerMinute == 20)
            #expect(loaded.config.state.backend == .memory)
            #expect(loaded.warnings.contains { $0.contains("mock-gpt") })
            #expect(loaded.sourcePath == "config.yaml")
        }
    }

    @Test func everyStoreUsingStageTakesAnOnStoreErrorPolicy() throws {
        let yaml = """
            pipeline:
              auth: { on_store_error: fail_open }
              rate_limit: { on_store_error: fail_closed }
              dedup: { on_store_error: fail_closed }
              cache: { on_store_error: fail_closed }
              circuit_breaker: { on_store_error: fail_closed }
              router: {}
            """
        let c = try ConfigFixture.load(yaml).config
        #expect(c.pipeline.auth.onStoreError == .failOpen)
        #expect(c.pipeline.rateLimit.onStoreError == .failClosed)
        #expect(c.pipeline.dedup.onStoreError == .failClosed)
        #expect(c.pipeline.cache.onStoreError == .failClosed)
        #expect(c.pipeline.circuitBreaker.onStoreError == .failClosed)
    }

    @Test func fullExampleLoadsEveryValue() throws {
        let c = try ConfigFixture.load(ConfigFixture.fullExample, env: ["OPENAI_API_KEY": ConfigFixture.openAIKey])
            .config
        #expect(c.server.workers == 6)
        #expect(c.server.maxHeaderBytes == .kibibytes(32))
        #expect(c.server.drainTimeout == .seconds(15))
        #expect(c.upstream == UpstreamConfig())
        #expect(c.providers.map(\.name) == ["openai", "mock"])
        let openai = try #require(c.provider(named: "openai"))
        #expect(openai.baseURL == "https://api.openai.com/v1")
        #expect(openai.apiKey?.value == ConfigFixture.openAIKey)
        #expect(openai.headers == [.init(name: "OpenAI-Organization", value: "org-123")])
        #expect(openai.timeouts == .init(connect: .seconds(5), firstByte: .seconds(30), total: .seconds(300)))
        #expect(c.provider(named: "mock")?.timeouts == .init(defaultsFrom: c.upstream))
        #expect(
            c.models == [
                ModelConfig(
                    name: "gpt-4o-mini",
                    deployments: [
                        DeploymentConfig(
                            provider: "openai", model: "gpt-4o-mini", weight: 1, contextWindow: 128_000,
                            inputCostPerMTok: 0.15, outputCostPerMTok: 0.60)
                    ])
            ])
        #expect(
            c.tiers == [
                TierConfig(
                    name: "free", requestsPerMinute: 20, requestsPerHour: 500, tokensPerMinute: 20_000, burst: 5,
                    maxConcurrent: 2, dailyTokens: 200_000, monthlyTokens: 2_000_000, dailyCost: 1, monthlyCost: 10,
                    models: ["gpt-4o-mini"], shedFactor: 1),
                TierConfig(name: "enterprise", unlimited: true),
            ])
        let key = try #require(c.keys.first)
        #expect(key.name == "demo" && key.tier == "free" && key.models == ["gpt-4o-mini"])
        #expect(key.expires == Date(timeIntervalSince1970: 1_798_761_600))
        #expect(key.metadata == ["team": "x"])
        #expect(c.pipeline == PipelineConfig())
        #expect(c.log == LogConfig())
    }

    @Test func renderedConfigLoadsBackToTheSameConfig() throws {
        let loaded = try ConfigFixture.load(ConfigFixture.fullExample, env: ["OPENAI_API_KEY": ConfigFixture.openAIKey])
        let rendered = ConfigRenderer.render(loaded.config)
        var reloaded = try ConfigFixture.load(rendered).config
        // The only difference allowed: the key now holds its own masked spelling.
        #expect(reloaded.provider(named: "openai")?.apiKey == Secret("sk-…abcd"))
        reloaded.providers[0].apiKey = Secret(ConfigFixture.openAIKey)
        #expect(reloaded == loaded.config)
        // Defaults render and reload too.
        let defaults = try ConfigFixture.load("").config
        #expect(try ConfigFixture.load(ConfigRenderer.render(defaults)).config == defaults)
    }

    @Test func renderingMasksEverySecret() throws {
        let yaml = """
            state: { backend: redis, url: "redis://app:hunter2hunter2@cache.local:6380/3" }
            providers:
              openai: { api_key: "${OPENAI_API_KEY}", headers: { X-Api-Key: literal-header-secret, X-Team: "${TEAM}", X-Plain: visible } }
            """
        let config = try ConfigFixture.load(
            yaml, env: ["OPENAI_API_KEY": ConfigFixture.openAIKey, "TEAM": "team-from-env-secret"]
        ).config
        let rendered = ConfigRenderer.render(config)
        for secret in [
            ConfigFixture.openAIKey, "SECRETSECRET", "hunter2", "literal-header-secret", "team-from-env-secret",
        ] {
            #expect(!rendered.contains(secret), "leaked \(secret)")
        }
        #expect(rendered.contains("sk-…abcd"))
        #expect(rendered.contains("visible"))
        #expect(rendered.contains("redis://app:…ter2@cache.local:6380/3"))
        #expect(!"\(config)".contains("SECRETSECRET"))
    }

    @Test func pipelineKeepsFileOrder() throws {
        let yaml = """
            pipeline:
              cache: { exact: { ttl: 5m } }
              auth: { required: false }
              retry: {}
              router: { strategy: weighted }
            """
        let p = try ConfigFixture.load(yaml).config.pipeline
        #expect(p.stages == ["cache", "auth", "retry", "router"])
        #expect(p.cache.exact.ttl == .minutes(5))
        #expect(p.auth.required == false)
        #expect(p.router.strategy == .weighted)
        #expect(p.dedup == PipelineConfig.Dedup())

        let noRouter = try ConfigFixture.load("pipeline:\n  dedup: { enabled: false }\n  auth:\n")
        #expect(noRouter.config.pipeline.stages == ["dedup", "auth", "router"])
        #expect(noRouter.warnings.contains { $0.contains("config.yaml:2: pipeline: no router stage") })
    }

    @Test func unknownKeysAreRejectedWithTheirLine() throws {
        let nested = try #require(ConfigFixture.loadError("server:\n  listen: \"127.0.0.1:80\"\n  lisen: x\n"))
        #expect(nested.line == 3)
        #expect(nested.keyPath == "server.lisen")
        #expect(nested.message == "unknown key 'lisen' (did you mean 'listen'?)")
        #expect(nested.description == "config.yaml:3: server.lisen: unknown key 'lisen' (did you mean 'listen'?)")

        let top = try #require(ConfigFixture.loadError("log: { level: info }\nproviderz: {}\n"))
        #expect(top.line == 2 && top.keyPath == "providerz" && top.message.contains("did you mean 'providers'"))

        let stage = try #require(ConfigFixture.loadError("pipeline:\n  auth: {}\n  ratelimit: {}\n"))
        #expect(stage.line == 3 && stage.keyPath == "pipeline.ratelimit" && stage.message.contains("'rate_limit'"))

        let deep = try #require(
            ConfigFixture.loadError("models:\n  m:\n    deployments:\n      - { provider: mock, wieght: 2 }\n"))
        #expect(deep.line == 4 && deep.keyPath == "models.m.deployments[0].wieght")
    }

    @Test(arguments: [
        ("server:\n  listen: \"0.0.0.0:99999\"\n", "server.listen", 2, "port must be"),
        ("server:\n  listen: localhost\n", "server.listen", 2, "expected host:port"),
        ("server:\n  listen: \"[zz::1]:80\"\n", "server.listen", 2, "not an IPv6"),
        ("server:\n  listen: \"300.1.1.1:80\"\n", "server.listen", 2, "not an IPv4 address or hostname"),
        ("server: { workers: 0 }\n", "server.workers", 1, "at least 1"),
        ("server: { workers: many }\n", "server.workers", 1, "whole number"),
        ("\nserver:\n  idle_timeout: 0s\n", "server.idle_timeout", 3, "greater than zero"),
        ("server:\n  body_timeout: 30\n", "server.body_timeout", 2, "duration"),
        ("server:\n  max_body: 4 megs\n", "server.max_body", 2, "size"),
        ("upstream: { http2: maybe }\n", "upstream.http2", 1, "true or false"),
        ("state: { backend: redis }\n", "state", 1, "needs a url"),
        ("state: { backend: redis, url: \"rediss://h:6379\" }\n", "state.url", 1, "not supported"),
        ("state: { backend: etcd }\n", "state.backend", 1, "unknown backend"),
        ("state: { backend: memory, busy_poll: 100us }\n", "state.busy_poll", 1, "only used with backend: redis"),
        ("state: { backend: redis, url: \"redis://h\", busy_poll: 20ms }\n", "state.busy_poll", 1, "at most 10ms"),
        ("state: { backend: redis, url: \"redis://h\", busy_poll: soon }\n", "state.busy_poll", 1, "duration"),
        ("providers:\n  local: { type: openai, base_url: \"ftp://x\" }\n", "providers.local.base_url", 2, "http://"),
        ("providers:\n  local: { type: openai }\n", "providers.local", 2, "base_url is required"),
        (
            "providers:\n  claude: { type: anthropic, api_key: x }\n", "providers.claude.type", 2,
            "provider type 'anthropic' is not supported yet"
        ),
        ("providers:\n  x: { type: soap }\n", "providers.x.type", 2, "unknown provider type 'soap'"),
        ("providers:\n  mock: { type: openai }\n", "providers.mock.type", 2, "reserved"),
        (
            "providers:\n  openai: { api_key: k }\nmodels:\n  gpt-4o:\n    deployments:\n      - { provider: opneai }\n",
            "models.gpt-4o.deployments[0].provider", 6, "unknown provider 'opneai' (did you mean 'openai'?)"
        ),
        (
            "models:\n  m:\n    deployments:\n      - { provider: mock, weight: -1 }\n",
            "models.m.deployments[0].weight", 4,
            "at least 0"
        ),
        ("models:\n  m:\n    deployments: []\n", "models.m.deployments", 3, "at least one deployment"),
        ("models:\n  m:\n", "models.m", 2, "at least one deployment"),
        (
            "pipeline: { router: { strategy: weighted } }\nmodels:\n  m:\n    deployments:\n      - { provider: mock, weight: 0 }\n",
            "models.m.deployments", 5, "weight above 0"
        ),
        ("keys:\n  - { name: a, key_sha256: abc123, tier: free }\n", "keys[0].key_sha256", 2, "64 hex"),
        (
            "keys:\n  - { name: a, key_sha256: \"\(String(repeating: "g", count: 64))\", tier: free }\n",
            "keys[0].key_sha256", 2, "64 hex"
        ),
        (
            "keys:\n  - name: a\n    key_sha256: \"\(String(repeating: "a", count: 64))\"\n    tier: gold\n",
            "keys[0].tier", 4,
            "unknown tier 'gold'"
        ),
        ("keys:\n  - { name: a, tier: free }\n", "keys[0]", 2, "key_sha256"),
        (
            "keys:\n  - { name: a, key_sha256: \"\(String(repeating: "a", count: 64))\", tier: free, expires: soon }\n",
            "keys[0].expires", 2, "date"
        ),
        ("tiers:\n  t: { requests_per_minute: 0 }\n", "tiers.t.requests_per_minute", 2, "at least 1"),
        ("tiers:\n  t: { unlimited: true, burst: 3 }\n", "tiers.t.burst", 2, "cannot also set burst"),
        ("tiers:\n  t: { models: [gpt-5] }\n", "tiers.t.models[0]", 2, "unknown model 'gpt-5'"),
        ("pipeline:\n  auth: { on_store_error: fail_sometimes }\n", "pipeline.auth.on_store_error", 2, "fail_open"),
        ("pipeline:\n  rate_limit: { on_store_error: nope }\n", "pipeline.rate_limit.on_store_error", 2, "fail_closed"),
        ("pipeline:\n  dedup: { on_store_error: nope }\n", "pipeline.dedup.on_store_error", 2, "fail_closed"),
        ("pipeline:\n  cache: { on_store_error: nope }\n", "pipeline.cache.on_store_error", 2, "fail_closed"),
        ("pipeline:\n  circuit_breaker: { on_store_error: nope }\n", "pipeline.circuit_breaker.on_store_error", 2, "fail_closed"),
        ("pipeline:\n  cache: { semantic: { threshold: 1.5 } }\n", "pipeline.cache.semantic.threshold", 2, "(0, 1]"),
        ("pipeline:\n  cache: { semantic: { threshold: 0 } }\n", "pipeline.cache.semantic.threshold", 2, "(0, 1]"),
        ("pipeline:\n  router: { strategy: random }\n", "pipeline.router.strategy", 2, "least_latency"),
        ("pipeline:\n  router: {}\n  auth: {}\n", "pipeline.router", 2, "last stage"),
        ("pipeline:\n  retry: { base_delay: 2s, max_delay: 1s }\n", "pipeline.retry.max_delay", 2, "shorter"),
        ("log:\n  level: verbose\n", "log.level", 2, "trace, debug, info, notice, warning, error, critical"),
        ("server: [1, 2]\n", "server", 1, "expected a mapping"),
        ("server:\n  listen: \"${LISTEN}\"\n", "server.listen", 2, "environment variable LISTEN is not set"),
    ])
    func validationErrorsNamePathAndLine(yaml: String, keyPath: String, line: Int, fragment: String) throws {
        let error = try #require(ConfigFixture.loadError(yaml))
        #expect(error.keyPath == keyPath, "\(error)")
        #expect(error.line == line, "\(error)")
        #expect(error.message.contains(fragment), "\(error)")
        #expect(error.file == "config.yaml")
    }

    @Test func yamlSyntaxErrorsReportTheirLine() throws {
        let syntax = try #require(
            ConfigFixture.loadError("server:\n  listen: \"0.0.0.0:80\"\n  workers: [1, 2\nlog: {}\n"))
        #expect(syntax.line != nil && syntax.message.hasPrefix("invalid YAML"))
        let tab = try #require(ConfigFixture.loadError("server:\n  listen: x\n\tworkers: 2\n"))
        #expect(tab.line == 3, "\(tab)")
        let duplicate = try #require(ConfigFixture.loadError("log: {}\nserver: {}\nlog: {}\n"))
        #expect(duplicate.message.hasPrefix("duplicate key 'log'") && duplicate.line == 1)
        let notMapping = try #require(ConfigFixture.loadError("- a\n- b\n"))
        #expect(notMapping.line == 1 && notMapping.message.contains("expected a mapping"))
    }

    @Test func acceptedValueSpellings() throws {
        let yaml = """
            server: { listen: "[::1]:0", workers: 3, max_body: 1MB, idle_timeout: 1.5s }
            state: { backend: redis, url: "redis://:p%40ss@10.0.0.5/2" }
            log: { level: critical, format: text, access_log: false }
            """
        let c = try ConfigFixture.load(yaml).config
        #expect(c.server.listen == .init(host: "::1", port: 0) && c.server.listen.description == "[::1]:0")
        #expect(c.server.workers == 3 && c.server.maxBody.bytes == 1_000_000)
        #expect(c.server.idleTimeout == .milliseconds(1500))
        let endpoint = StateConfig.RedisEndpoint(
            address: .tcp(host: "10.0.0.5", port: 6379), database: 2, password: Secret("p@ss"))
        #expect(c.state.backend == .redis(endpoint))
        #expect(c.log == LogConfig(level: .critical, accessLog: false, format: .text))

        #expect(c.state.busyPoll == StateConfig.defaultBusyPoll && c.state.busyPoll.description == "500us")

        let unix = try ConfigFixture.load("state: { backend: redis, url: \"unix:///run/redis.sock?db=4\" }").config
        #expect(unix.state.backend == .redis(.init(address: .unix(path: "/run/redis.sock"), database: 4)))
        for (text, nanos) in [("200us", Int64(200_000)), ("0s", 0), ("10ms", 10_000_000)] {
            let polled = try ConfigFixture.load("state: { backend: redis, url: \"redis://h\", busy_poll: \(text) }").config
            #expect(polled.state.busyPoll.nanoseconds == nanos, "\(text)")
            #expect(try ConfigFixture.load(ConfigRenderer.render(polled)).config == polled)
        }
        let hostname = try ConfigFixture.load("server: { listen: \"gateway.internal:8443\", workers: auto }").config
            .server
        #expect(hostname.listen.host == "gateway.internal" && hostname.workers == 6)
    }
}
