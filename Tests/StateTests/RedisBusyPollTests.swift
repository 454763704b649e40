import GatewayCore
import TestSupport
import Testing

@testable import Reactor
@testable import State

@Suite(.serialized, .enabled(if: RedisServerProcess.binary() != nil, "redis-server is installed by scripts/test.sh"))
struct RedisBusyPollTests {
    /// The connection asks its worker to poll only while a reply is outstanding, for the
    /// store's `busy_poll`; with 0 it never registers.
    @Test func aConnectionAsksForPollingOnlyWhileAReplyIsOutstanding() async throws {
        let server = try RedisServerProcess()
        defer { server.stop() }
        let store = RedisStore(endpoint: endpoint(server), busyPoll: 300_000)
        let quiet = RedisStore(endpoint: endpoint(server), busyPoll: 0)
        let echo = StoreScript(name: "echo", lua: "return ARGV[1]", native: { _, _, args in args[0] })
        try await onWorker { reactor in
            _ = try await store.get("sy:{p}:warm")  // connected and registered
            _ = try await quiet.get("sy:{p}:warm")
            let connection = try store.connection()
            #expect(reactor.busyPollers.count == 1 && reactor.busyPollers[0].poller === connection)
            #expect(connection.busyPollNanos == 0)
            store.start(echo, keys: [], arguments: [.string("x")]) { _ in }
            // Sent, and its reply cannot have been read: this task has not let the loop run.
            #expect(connection.busyPollNanos == 300_000)
            _ = try await store.get("sy:{p}:after")  // answered after the script's reply
            #expect(connection.busyPollNanos == 0)
        }
    }
}
