import Foundation
import GatewayCore
import Yams

/// A configuration problem, located: `config.yaml:12: models.gpt-4o.deployments[0].provider:
/// unknown provider 'opneai'`. `line` is 1-based and nil when no line applies (unreadable file).
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public var file: String
    public var line: Int?
    /// Dotted path of the offending key ("server.listen", "keys[2].tier"); empty for the whole file.
    public var keyPath: String
    public var message: String

    public init(file: String, line: Int?, keyPath: String, message: String) {
        self.file = file
        self.line = line
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        return keyPath.isEmpty ? "\(location): \(message)" : "\(location): \(keyPath): \(message)"
    }
}

/// The outcome of a successful load: the effective configuration plus what was left out or
/// assumed on the way (providers without keys, dropped deployments), each a located sentence.
public struct LoadedConfig: Sendable {
    public var config: GatewayConfig
    public var warnings: [String]
    public var sourcePath: String

    public init(config: GatewayConfig, warnings: [String], sourcePath: String) {
        self.config = config
        self.warnings = warnings
        self.sourcePath = sourcePath
    }
}

/// Turns `config.yaml` (+ the environment and a `.env` file beside it) into a validated
/// `GatewayConfig`. Every error names the key path and line. Pure apart from `load(path:)`'s
/// file reads; runs once at start (and on reload), off the request path, on any thread.
public enum ConfigLoader {
    /// Reads the file at `path` and the `.env` beside it (a missing `.env` is fine), then loads.
    /// `environment` wins over `.env`; `cpuCount` resolves `workers: auto`.
    public static func load(path: String, environment: [String: String], cpuCount: Int) throws(ConfigError)
        -> LoadedConfig
    {
        let yaml: String
        do {
            yaml = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(file: path, line: nil, keyPath: "", message: "cannot read the file: \(error)")
        }
        let dotEnvPath = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(".env").path
        var dotEnv: [String: String] = [:]
        if FileManager.default.fileExists(atPath: dotEnvPath) {
            do {
                dotEnv = parseDotEnv(try String(contentsOfFile: dotEnvPath, encoding: .utf8))
            } catch {
                throw ConfigError(file: dotEnvPath, line: nil, keyPath: "", message: "cannot read the file: \(error)")
            }
        }
        return try load(yaml: yaml, file: path, environment: environment, dotEnv: dotEnv, cpuCount: cpuCount)
    }

    /// Loads configuration text; `file` is only used in messages. Variables resolve from
    /// `environment` first, then `dotEnv`.
    public static func load(
        yaml: String, file: String, environment: [String: String], dotEnv: [String: String], cpuCount: Int
    ) throws(ConfigError) -> LoadedConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw syntaxError(error, file: file)
        } catch {
            throw ConfigError(file: file, line: nil, keyPath: "", message: "invalid YAML: \(error)")
        }
        let reader = ConfigReader(file: file, environment: environment, dotEnv: dotEnv)
        var assembly = ConfigAssembly(reader: reader, cpuCount: max(1, cpuCount))
        let config = try assembly.build(root: root ?? Node([(Node, Node)]()))
        return LoadedConfig(config: config, warnings: assembly.warnings, sourcePath: file)
    }

    static func syntaxError(_ error: YamlError, file: String) -> ConfigError {
        func located(_ mark: Mark, _ problem: String, _ context: YamlError.Context?) -> ConfigError {
            let during = context.map { " (\($0.text) at line \($0.mark.line))" } ?? ""
            return ConfigError(file: file, line: mark.line, keyPath: "", message: "invalid YAML: \(problem)\(during)")
        }
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            return located(mark, problem, context)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let names = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return ConfigError(
                file: file, line: context.mark.line, keyPath: "",
                message: "duplicate key \(names) (first written on this line)")
        case .reader(let problem, let offset, _, let yaml):
            let line = offset.map { offset in yaml.utf8.prefix(offset).reduce(1) { $0 + ($1 == 10 ? 1 : 0) } }
            return ConfigError(file: file, line: line, keyPath: "", message: "invalid YAML: \(problem)")
        default:
            return ConfigError(file: file, line: nil, keyPath: "", message: "invalid YAML: \(error)")
        }
    }
}

/// One load in progress: reads the sections in dependency order (providers before models, tiers
/// before keys) and collects warnings. Lives only for the duration of `ConfigLoader.load`.
struct ConfigAssembly {
    let reader: ConfigReader
    let cpuCount: Int
    var warnings: [String] = []

    static let sections = ["server", "state", "upstream", "providers", "models", "tiers", "keys", "pipeline", "log"]

    init(reader: ConfigReader, cpuCount: Int) {
        self.reader = reader
        self.cpuCount = cpuCount
    }

    mutating func build(root: Node) throws(ConfigError) -> GatewayConfig {
        let top = try reader.fields(ConfigValue(node: root, path: ""), allowed: Self.sections)
        var config = GatewayConfig()
        config.server = try server(top["server"])
        config.state = try state(top["state"])
        config.upstream = try upstream(top["upstream"])
        config.log = try log(top["log"])
        config.pipeline = try pipeline(top["pipeline"])

        let providerSet = try providers(top["providers"], upstream: config.upstream)
        config.providers = providerSet.kept
        let modelSet = try models(top["models"], providers: providerSet, strategy: config.pipeline.router.strategy)
        config.models = modelSet.kept
        config.tiers = try tiers(top["tiers"], modelNames: modelSet.knownNames)
        config.keys = try keys(
            top["keys"], tierNames: Set(config.tiers.map(\.name)), modelNames: modelSet.knownNames)

        if !config.providers.contains(where: { $0.type != .mock }) {
            warnings.append(
                "\(reader.file): no provider is configured or discovered; only the built-in mock provider serves")
        }
        let tierNames = Set(config.tiers.map(\.name))
        if config.pipeline.stages.contains("auth"), !config.pipeline.auth.required,
            !tierNames.contains(config.pipeline.auth.anonymousTier)
        {
            throw ConfigError(file: reader.file, line: nil, keyPath: "pipeline.auth.anonymous_tier",
                              message: "unknown tier '\(config.pipeline.auth.anonymousTier)' (defined: \(tierNames.sorted().joined(separator: ", ")))")
        }
        if config.pipeline.stages.contains("auth") && config.pipeline.auth.required && config.keys.isEmpty
            && config.pipeline.auth.adminKeySHA256 == nil
        {
            warnings.append(
                "\(reader.file): pipeline.auth.required is true but no keys and no admin key are defined: every request will get 401")
        }
        return config
    }
}
