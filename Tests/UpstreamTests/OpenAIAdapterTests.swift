import GatewayCore
import Reactor
import TestSupport
import Testing
@testable import Upstream

/// Which client an OpenAI-compatible provider's requests go through.
@Suite struct OpenAIAdapterTransportTests {
    @Test func plainHTTPGoesNativeUnlessCurlIsChosenAndHTTPSAlwaysGoesThroughCurl() async throws {
        let choices = try await onWorker { reactor in
            let clients = UpstreamClients(multi: CurlMulti(reactor: reactor), http1: HTTP1ConnectionPool(reactor: reactor))
            var curlChosen = clients
            curlChosen.http1Client = .curl
            func native(_ url: String, _ clients: UpstreamClients) -> Bool {
                OpenAIAdapter(providerName: "p", baseURL: url, apiKey: "k", timeouts: UpstreamTimeouts(), clients: clients).usesNativeHTTP1
            }
            return [native("http://127.0.0.1:8000/v1", clients), native("https://api.openai.com/v1", clients),
                    native("http://127.0.0.1:8000/v1", curlChosen), native("http://u:p@host/v1", clients)]
        }
        #expect(choices == [true, false, false, false])
    }
}
