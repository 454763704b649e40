import Gateway
import Glibc
import Reactor
import TestSupport
import Testing

/// Reload without dropping connections, and graceful drain of streams in flight.
@Suite(.serialized) struct GatewayLifecycleTests {
    @Test func reloadSwapsTheConfigurationAndKeepsConnectionsOpen() throws {
        let upstream = try MockUpstream()
        defer { upstream.stop() }
        let gateway = try GatewayHarness(yaml: GatewayHarness.yaml(upstreamPort: upstream.port))
        defer { gateway.stop() }
        let c = try RawHTTPClient(port: gateway.port)
        c.get("/v1/models")
        #expect(!(try c.readResponse().bodyText.contains("added-later")))
        let next = try ConfigLoader.load(
            yaml: GatewayHarness.yaml(upstreamPort: upstream.port, extra: "  added-later: { deployments: [ { provider: mock, model: m } ] }")
                .replacingOccurrences(of: "\n\n  added", with: "\n  added"),
            file: "next.yaml", environment: [:], dotEnv: [:], cpuCount: 2)
        gateway.server.reload(next.config)
        c.get("/v1/models")  // the same keep-alive connection
        #expect(try c.readResponse().bodyText.contains("added-later"))
        c.post("/v1/chat/completions", json: #"{"model":"added-later","messages":[{"role":"user","content":"hi"}]}"#)
        #expect(try c.readResponse().status == 200)
    }

    @Test func shutdownLetsAStreamInFlightFinish() throws {
        let upstream = try MockUpstream()
        defer { upstream.stop() }
        let gateway = try GatewayHarness(yaml: GatewayHarness.yaml(upstreamPort: upstream.port))
        let c = try RawHTTPClient(port: gateway.port)
        c.post("/v1/chat/completions", json: #"{"model":"up/mock-gpt+interval=20","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
        let started = Semaphore()
        let stopper = spawnThread(name: "stopper") {
            started.wait()
            gateway.stop()
        }
        var first = true
        let response = try c.readResponse { _ in
            if first { first = false; started.signal() }  // shut down once the stream is flowing
        }
        #expect(response.bodyText.hasSuffix("data: [DONE]\n\n"))
        #expect(c.isClosedByPeer())
        pthread_join(stopper, nil)
        // No new connection is accepted after the drain.
        let refused: RawHTTPClient.Response? = try? RawHTTPClient(port: gateway.port).readResponse()
        #expect(refused == nil)
    }
}
