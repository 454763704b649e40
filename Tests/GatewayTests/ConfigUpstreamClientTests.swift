import Gateway
import GatewayCore
import Testing

/// `upstream.http1_client`: which client serves plain-http providers.
@Suite struct ConfigUpstreamClientTests {
    @Test func nativeIsTheDefaultAndCurlCanBeChosen() throws {
        #expect(try ConfigFixture.load("{}").config.upstream.http1Client == .native)
        let curl = try ConfigFixture.load("upstream: { http1_client: curl }").config
        #expect(curl.upstream.http1Client == .curl)
        #expect(try ConfigFixture.load(ConfigRenderer.render(curl)).config == curl, "it survives a render round trip")
    }

    @Test func anUnknownClientIsRefusedWithItsPath() {
        let error = ConfigFixture.loadError("upstream: { http1_client: nghttp }")
        #expect(error?.keyPath == "upstream.http1_client")
        #expect(error?.message.contains("native, curl") == true)
    }
}
