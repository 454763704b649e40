import CLinux
import GatewayCore
import Glibc
import Logging
import Reactor

/// The control thread of `switchyard serve`: loads the config, starts the server, then waits on
/// a signalfd. SIGHUP reloads (a bad new config is refused with a log line and the old one
/// stays); SIGTERM/SIGINT stop accepting, drain for up to `server.drain_timeout`, exit 0.
/// Log lines are flushed from here a few times a second.
public enum GatewayProcess {
    public static func serve(configPath: String, environment: [String: String]) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        // Blocked before any worker exists, so every thread inherits the mask and only the
        // signalfd below sees these signals.
        let handled: [Int32] = [SIGTERM, SIGINT, SIGHUP]
        let signalFD = handled.withUnsafeBufferPointer { sy_signalfd($0.baseAddress, Int32($0.count)) }
        let sink = LogSink()
        let loaded: LoadedConfig
        do {
            loaded = try ConfigLoader.load(path: configPath, environment: environment, cpuCount: onlineCPUCount())
        } catch {
            printError("switchyard: \(error.description)")
            return 1
        }
        let server: GatewayServer
        do {
            server = try GatewayServer(config: loaded.config, sink: sink)
            for warning in loaded.warnings { server.logger.warning("\(warning)") }
            _ = try server.start()
        } catch {
            printError("switchyard: cannot listen on \(loaded.config.server.listen): \(error)")
            return 1
        }
        sink.flush()
        while true {
            var pfd = pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, 200)
            sink.flush()
            guard pfd.revents & Int16(POLLIN) != 0 else { continue }
            let signo = sy_signalfd_read(signalFD)
            switch signo {
            case SIGHUP:
                do {
                    let fresh = try ConfigLoader.load(path: configPath, environment: environment, cpuCount: onlineCPUCount())
                    for warning in fresh.warnings { server.logger.warning("\(warning)") }
                    server.reload(fresh.config)
                } catch {
                    server.logger.error("configuration reload refused; keeping the running configuration",
                                        metadata: ["error": .string(error.description)])
                }
            case SIGTERM, SIGINT:
                server.logger.info("shutting down", metadata: ["signal": .stringConvertible(Int(signo))])
                server.shutdown(drainTimeout: UInt64(server.config.server.drainTimeout.nanoseconds))
                server.logger.info("stopped")
                sink.flush()
                return 0
            default:
                continue
            }
        }
    }

    /// `switchyard check-config`: validates, prints the effective config with secrets masked.
    public static func checkConfig(configPath: String, environment: [String: String]) -> Int32 {
        do {
            let loaded = try ConfigLoader.load(path: configPath, environment: environment, cpuCount: onlineCPUCount())
            for warning in loaded.warnings { printError("warning: \(warning)") }
            print(ConfigRenderer.render(loaded.config), terminator: "")
            let unavailable = PipelineAssembly.unavailableStages(loaded.config)
            if !unavailable.isEmpty { printError("note: stages not in this build, skipped: \(unavailable.joined(separator: ", "))") }
            return 0
        } catch {
            printError("switchyard: \(error.description)")
            return 1
        }
    }

    static func printError(_ text: String) {
        var line = Array(text.utf8)
        line.append(0x0A)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
