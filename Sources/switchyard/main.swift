import ArgumentParser
import Foundation
import Gateway

/// `switchyard serve` and `switchyard check-config`.
struct Switchyard: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchyard",
        abstract: "An OpenAI-compatible LLM gateway.",
        subcommands: [Serve.self, CheckConfig.self],
        defaultSubcommand: Serve.self)
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start the gateway.")
    @Option(name: .long, help: "Path to the configuration file.") var config = "config.yaml"

    func run() throws {
        MallocTuning.applyByReexecuting()
        let code = GatewayProcess.serve(configPath: config, environment: ProcessInfo.processInfo.environment)
        if code != 0 { throw ExitCode(code) }
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate the configuration and print it with secrets masked.")
    @Option(name: .long, help: "Path to the configuration file.") var config = "config.yaml"

    func run() throws {
        let code = GatewayProcess.checkConfig(configPath: config, environment: ProcessInfo.processInfo.environment)
        if code != 0 { throw ExitCode(code) }
    }
}

Switchyard.main()
