import Foundation
import Gateway
import GatewayCore
import Testing

@Suite("ConfigLoader: interpolation, .env, discovery and the built-in mock")
struct ConfigEnvironmentTests {
    @Test func interpolationUsesDefaultsAndEscapes() throws {
        let yaml = """
            server: { listen: "${HOST:-127.0.0.1}:${PORT}", workers: "${WORKERS:-2}" }
            state: { backend: redis, url: "redis://:pa$$word@${REDIS_HOST:-localhost}:6379/0" }
            keys:
              - { name: "cost-$$5-$x", key_sha256: "${DEMO_HASH}", tier: "${TIER:-free}" }
            """
        let hash = String(repeating: "c", count: 64)
        let c = try ConfigFixture.load(yaml, env: ["PORT": "9000", "DEMO_HASH": hash, "TIER": ""]).config
        #expect(c.server.listen.description == "127.0.0.1:9000")
        #expect(c.server.workers == 2)
        #expect(
            c.state.backend == .redis(.init(address: .tcp(host: "localhost", port: 6379), password: Secret("pa$word"))))
        #expect(c.keys.first?.name == "cost-$5-$x")  // "$x" is not a variable reference: it stays literal
        #expect(c.keys.first?.keySHA256 == hash)
        #expect(c.keys.first?.tier == "free")  // ":-" also applies to an empty value, as in the shell

        let unterminated = try #require(ConfigFixture.loadError("log: { level: \"${LEVEL\" }\n"))
        #expect(unterminated.keyPath == "log.level" && unterminated.message.contains("unterminated"))
    }

    @Test func unsetVariableOutsideAnApiKeyIsALocatedError() throws {
        let yaml = "providers:\n  openai:\n    api_key: k\n    headers: { OpenAI-Organization: \"${OPENAI_ORG}\" }\n"
        let error = try #require(ConfigFixture.loadError(yaml))
        #expect(error.keyPath == "providers.openai.headers.OpenAI-Organization" && error.line == 4)
        #expect(error.message.contains("OPENAI_ORG is not set"))
    }

    @Test func providerWithoutItsKeyIsLeftOutAndItsDeploymentsDropped() throws {
        let yaml = """
            providers:
              openai: { api_key: "${OPENAI_API_KEY}" }
              groq:   { api_key: "${GROQ_API_KEY}" }
            models:
              fast:
                deployments:
                  - { provider: groq, model: llama-3.1-8b-instant }
                  - { provider: openai, model: gpt-4o-mini }
              gpt-4o:
                deployments:
                  - { provider: openai }
            tiers:
              free: { models: [fast, gpt-4o] }
            """
        let loaded = try ConfigFixture.load(yaml, env: ["GROQ_API_KEY": "gsk_0123456789abcdef"])
        let c = loaded.config
        #expect(c.providers.map(\.name) == ["groq", "mock"])
        #expect(c.provider(named: "groq")?.baseURL == "https://api.groq.com/openai/v1")
        #expect(c.models.map(\.name) == ["fast"])
        #expect(c.model(named: "fast")?.deployments.map(\.provider) == ["groq"])
        #expect(c.tier(named: "free")?.models == ["fast", "gpt-4o"])  // naming a dropped model is fine
        #expect(
            loaded.warnings.contains(
                "config.yaml:2: providers.openai.api_key: provider 'openai' left out: OPENAI_API_KEY is not set"))
        #expect(
            loaded.warnings.contains { $0.hasPrefix("config.yaml:8: models.fast.deployments[1]: deployment dropped") })
        #expect(loaded.warnings.contains("config.yaml:10: models.gpt-4o: model 'gpt-4o' dropped: no deployment left"))

        // An empty value behaves like a missing one.
        let empty = try ConfigFixture.load(yaml, env: ["GROQ_API_KEY": "gsk_0123456789abcdef", "OPENAI_API_KEY": ""])
        #expect(empty.config.provider(named: "openai") == nil)
    }

    @Test func everyModelDroppedFallsBackToTheMockModel() throws {
        let yaml =
            "providers:\n  openai: { api_key: \"${OPENAI_API_KEY}\" }\nmodels:\n  m: { deployments: [{ provider: openai }] }\n"
        let c = try ConfigFixture.load(yaml).config
        #expect(c.providers == [ProviderConfig.builtInMock])
        #expect(c.models == [ModelConfig.builtInMock])
    }

    @Test func dotEnvParsing() {
        let text = """
            # comment
            OPENAI_API_KEY=sk-plain
            export GROQ_API_KEY = "gsk \\"quoted\\"\\n"
            SINGLE='literal $HOME # not a comment' # but this is
            INLINE=value # trailing comment
            HASH=abc#def
              INDENTED=yes\r
            EMPTY=
            not a line
            1BAD=x
            UNTERMINATED="oops
            OPENAI_API_KEY=sk-later-wins
            """
        let env = ConfigLoader.parseDotEnv(text)
        #expect(env["OPENAI_API_KEY"] == "sk-later-wins")
        #expect(env["GROQ_API_KEY"] == "gsk \"quoted\"\n")
        #expect(env["SINGLE"] == "literal $HOME # not a comment")
        #expect(env["INLINE"] == "value")
        #expect(env["HASH"] == "abc#def")
        #expect(env["INDENTED"] == "yes")
        #expect(env["EMPTY"] == "")
        #expect(env["1BAD"] == nil && env["UNTERMINATED"] == nil && env["not a line"] == nil)
        #expect(env.count == 7)
    }

    @Test func loadFromPathReadsTheDotEnvBesideItAndTheEnvironmentWins() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sy-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let configPath = directory.appendingPathComponent("config.yaml").path
        try "server: { listen: \"${HOST}:${PORT}\" }\n".write(toFile: configPath, atomically: true, encoding: .utf8)

        // No .env yet: a missing one is fine, variables come from the environment alone.
        let bare = try ConfigLoader.load(
            path: configPath, environment: ["HOST": "localhost", "PORT": "1"], cpuCount: 2)
        #expect(bare.config.server.listen.port == 1 && bare.sourcePath == configPath)

        try "HOST=127.0.0.2\nPORT=7000\nGROQ_API_KEY=gsk_from_dotenv_0000\n".write(
            to: directory.appendingPathComponent(".env"), atomically: true, encoding: .utf8)
        let loaded = try ConfigLoader.load(path: configPath, environment: ["PORT": "7001"], cpuCount: 2)
        #expect(loaded.config.server.listen.description == "127.0.0.2:7001")
        #expect(loaded.config.server.workers == 2)
        #expect(loaded.config.provider(named: "groq")?.apiKey?.value == "gsk_from_dotenv_0000")  // discovered via .env

        do {
            _ = try ConfigLoader.load(
                path: directory.appendingPathComponent("absent.yaml").path, environment: [:], cpuCount: 1)
            Issue.record("a missing config file must fail")
        } catch {
            #expect(error.line == nil && error.message.contains("cannot read"))
        }
    }

    @Test func providersAreDiscoveredWhenTheSectionIsAbsent() throws {
        let env = [
            "OPENAI_API_KEY": "sk-env-0000000000", "OPENAI_BASE_URL": "http://127.0.0.1:9999/v1/",
            "MISTRAL_API_KEY": "m-key-000000000", "PERPLEXITY_API_KEY": "", "XAI_API_KEY": "xai-key-000000",
        ]
        let yaml =
            "models:\n  small:\n    deployments:\n      - { provider: mistral, model: mistral-small }\n      - { provider: deepseek }\n"
        let loaded = try ConfigFixture.load(yaml, env: env, dotEnv: ["CEREBRAS_API_KEY": "csk-dotenv-000000"])
        let c = loaded.config
        #expect(c.providers.map(\.name) == ["openai", "mistral", "xai", "cerebras", "mock"])
        #expect(c.providers.allSatisfy { $0.type == ($0.name == "mock" ? .mock : .openai) })
        #expect(c.provider(named: "openai")?.baseURL == "http://127.0.0.1:9999/v1")
        #expect(c.provider(named: "xai")?.baseURL == "https://api.x.ai/v1")
        #expect(c.provider(named: "cerebras")?.apiKey == Secret("csk-dotenv-000000"))
        #expect(c.model(named: "small")?.deployments.map(\.provider) == ["mistral"])
        #expect(
            loaded.warnings.contains { $0.contains("provider 'deepseek' was left out (DEEPSEEK_API_KEY is not set)") })

        // An empty section discovers too; a name that no provider could have is still an error.
        #expect(try ConfigFixture.load("providers: {}", env: env).config.provider(named: "mistral") != nil)
        let typo = try #require(
            ConfigFixture.loadError("models:\n  m: { deployments: [{ provider: mistrall }] }\n", env: env))
        #expect(typo.keyPath == "models.m.deployments[0].provider" && typo.message.contains("did you mean 'mistral'"))

        let badURL = try #require(ConfigFixture.loadError("", env: ["GROQ_API_KEY": "k", "GROQ_BASE_URL": "groq.com"]))
        #expect(badURL.message.contains("GROQ_BASE_URL"))
    }

    @Test func theMockProviderIsAlwaysPresentExactlyOnce() throws {
        let noMock = try ConfigFixture.load("providers:\n  local: { base_url: \"http://127.0.0.1:8000/v1\" }\n")
        #expect(noMock.config.providers.map(\.name) == ["local", "mock"])
        #expect(noMock.config.provider(named: "local")?.apiKey == nil)
        #expect(noMock.config.models == [ModelConfig.builtInMock])

        let named = try ConfigFixture.load("providers:\n  mock: {}\n  openai: { api_key: k }\n")
        #expect(named.config.providers.map(\.name) == ["mock", "openai"])
        #expect(named.config.provider(named: "mock")?.type == .mock)

        let withModels = try ConfigFixture.load("models:\n  echo: { deployments: [{ provider: mock }] }\n")
        #expect(withModels.config.models.map(\.name) == ["echo"])  // mock-gpt only fills an empty list
        #expect(withModels.config.model(named: "echo")?.deployments.first?.model == "echo")
    }

    @Test func warningsNameWhatWasAssumed() throws {
        let warnings = try ConfigFixture.load("").warnings
        #expect(warnings.contains { $0.contains("only the built-in mock provider serves") })
        #expect(warnings.contains { $0.contains("no keys and no admin key are defined") })
        let quiet = try ConfigFixture.load("pipeline: { auth: { required: false } }", env: ["OPENAI_API_KEY": "sk-x"])
        #expect(!quiet.warnings.contains { $0.contains("no keys") || $0.contains("only the built-in mock") })
    }
}
