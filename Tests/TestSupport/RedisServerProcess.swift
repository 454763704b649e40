import Glibc

/// A private `redis-server` for one test: its own port and directory, no persistence, stopped
/// by `stop()`. Readiness is read from its log line, never slept for.
public final class RedisServerProcess: @unchecked Sendable {
    public let port: Int
    public let directory: String
    public let pid: pid_t

    /// nil when no redis-server binary is installed (scripts/test.sh installs one).
    public static func binary() -> String? {
        ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first { access($0, X_OK) == 0 }
    }

    public struct StartFailure: Error { public let reason: String }

    /// Starts a server on `requested`, or on a free port. A free port is only free when it is
    /// looked up: another test's server or connection may take it before this one binds, so a
    /// server that finds its port taken is started again on another (a few times).
    public convenience init(port requested: Int? = nil) throws {
        if let requested {
            try self.init(nextPort: { requested }, attempts: 1)
        } else {
            try self.init(nextPort: freeLoopbackPort, attempts: 5)
        }
    }

    /// Starts a server on the port `nextPort` gives, and on the next one it gives while the
    /// port is taken, up to `attempts` ports.
    public init(nextPort: () -> Int, attempts: Int) throws {
        guard let binary = Self.binary() else { throw StartFailure(reason: "redis-server is not installed") }
        var template = Array("/tmp/sy-redis-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw StartFailure(reason: "mkdtemp") }
        directory = String(cString: made)
        var attempt = 1
        while true {
            let port = nextPort()
            do {
                pid = try Self.spawn(binary, port: port, directory: directory)
                self.port = port
                return
            } catch let failure as StartFailure where attempt < attempts && failure.reason.contains("Address already in use") {
                attempt += 1
            } catch {
                _ = rmdir(directory)
                throw error
            }
        }
    }

    /// Spawns the server and returns once its log says it is ready; throws with the log when it
    /// exits first (the server is reaped).
    private static func spawn(_ binary: String, port: Int, directory: String) throws -> pid_t {
        var fds: [Int32] = [0, 0]
        pipe(&fds)
        // Close-on-exec: a server spawned by a parallel test must not inherit this pipe.
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        defer { posix_spawn_file_actions_destroy(&actions) }
        let arguments = [binary, "--port", String(port), "--bind", "127.0.0.1", "--dir", directory, "--save", "",
                         "--appendonly", "no", "--enable-debug-command", "yes", "--loglevel", "notice"]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, binary, &actions, nil, &argv, environ)
        close(fds[1])
        guard rc == 0 else { close(fds[0]); throw StartFailure(reason: "posix_spawn: \(rc)") }
        // Block on the server's log until it says it is ready (or exits).
        var seen: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        let marker = Array("Ready to accept connections".utf8)
        while !contains(seen, marker) {
            let n = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
            if n <= 0 {
                close(fds[0])
                reap(child)
                throw StartFailure(reason: String(decoding: seen, as: UTF8.self))
            }
            seen.append(contentsOf: buffer[..<n])
        }
        close(fds[0])  // later log lines hit a closed pipe; redis ignores the EPIPE
        return child
    }

    public var url: String { "redis://127.0.0.1:\(port)/0" }

    public func signal(_ signo: Int32) { kill(pid, signo) }

    /// Stops the server (SIGKILL after SIGCONT, so a stopped one dies too) and reaps it.
    public func stop() {
        Self.reap(pid)
        _ = rmdir(directory)
    }

    private static func reap(_ pid: pid_t) {
        kill(pid, SIGCONT)
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        for i in 0...(haystack.count - needle.count) where haystack[i..<(i + needle.count)].elementsEqual(needle) { return true }
        return false
    }
}
