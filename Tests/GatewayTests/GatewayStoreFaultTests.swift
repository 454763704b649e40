import Gateway
import Glibc
import TestSupport
import Testing

/// The gateway over a Redis state store that stops, slows and dies: /ready tells, within the
/// store's deadline, and the gateway keeps answering everything that does not need the store.
@Suite(.serialized, .enabled(if: RedisServerProcess.binary() != nil, "redis-server is installed by scripts/test.sh"))
struct GatewayStoreFaultTests {
    @Test func readyFollowsTheStoreAndProxyingGoesOn() throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        let upstream = try MockUpstream()
        defer { upstream.stop() }
        let yaml = GatewayHarness.yaml(upstreamPort: upstream.port)
            .replacingOccurrences(of: "providers:", with: "state: { backend: redis, url: \"\(redis.url)\" }\nproviders:")
        let gateway = try GatewayHarness(yaml: yaml)
        defer { gateway.stop() }
        let c = try RawHTTPClient(port: gateway.port)
        func ready() throws -> RawHTTPClient.Response {
            c.get("/ready")
            return try c.readResponse()
        }

        let healthy = try ready()
        #expect(healthy.status == 200)
        #expect(healthy.bodyText.contains(#""backend":"redis","state":"ready""#))

        redis.signal(SIGSTOP)  // Redis hangs: the check times out at the store's deadline
        let stopped = try ready()
        #expect(stopped.status == 503)
        #expect(stopped.bodyText.contains("timeout"))
        c.post("/v1/chat/completions", json: chatBody)
        #expect(try c.readResponse().status == 200)

        redis.signal(SIGCONT)  // back: the same connection answers again
        var recovered = false
        for _ in 0..<20 where !recovered { recovered = try ready().status == 200 }
        #expect(recovered)

        redis.stop()  // gone: unavailable at once, never a hang
        let gone = try ready()
        #expect(gone.status == 503)
        #expect(gone.bodyText.contains("unavailable"))
        c.post("/v1/chat/completions", json: chatBody)
        #expect(try c.readResponse().status == 200)
    }
}
