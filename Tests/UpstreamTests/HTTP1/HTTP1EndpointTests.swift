import GatewayCore
import Testing
@testable import Upstream

@Suite struct HTTP1EndpointTests {
    @Test func plainHTTPBaseURLsAreTheNativeClients() {
        let cases: [(String, String, Int, String, String)] = [
            ("http://127.0.0.1:8000/v1", "127.0.0.1", 8000, "/v1", "127.0.0.1:8000"),
            ("http://localhost:11434", "localhost", 11434, "", "localhost:11434"),
            ("HTTP://VLLM.internal/v1/", "vllm.internal", 80, "/v1", "vllm.internal"),
            ("http://[::1]:8080/api/v1//", "::1", 8080, "/api/v1", "[::1]:8080"),
        ]
        for (url, host, port, path, hostHeader) in cases {
            let endpoint = HTTP1Endpoint(baseURL: url)
            #expect(endpoint?.origin == HTTP1Origin(host: host, port: port), "\(url)")
            #expect(endpoint?.basePath == path, "\(url)")
            #expect(endpoint?.origin.hostHeader == hostHeader, "\(url)")
        }
    }

    @Test func otherURLsStayWithCurl() {
        for url in ["https://api.openai.com/v1", "http://", "http://user:pw@host/v1", "http://host:0", "http://host:99999",
                    "http://host:80x", "http://host/v1?x=1", "http://[::1/v1", "http://a:b:c/", "ftp://host"] {
            #expect(HTTP1Endpoint(baseURL: url) == nil, "\(url)")
        }
    }

    @Test func aRequestIsSerialisedOnceWithTheBlockAndALength() {
        let origin = HTTP1Origin(host: "127.0.0.1", port: 8000)
        let block = HTTP1HeaderBlock(origin: origin, lines: ["Content-Type: application/json", "Authorization: Bearer k"])
        let request = HTTP1Request(origin: origin, pathPrefix: "/v1", path: "/chat/completions", headers: block,
                                   extraLines: ["openai-beta: x"], body: Array("{}".utf8), streaming: false,
                                   timeouts: UpstreamTimeouts())
        #expect(String(decoding: request.bytes, as: UTF8.self) == """
            POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nContent-Type: application/json\r\n\
            Authorization: Bearer k\r\nopenai-beta: x\r\nContent-Length: 2\r\n\r\n{}
            """)
        let get = HTTP1Request(origin: origin, method: "GET", path: "/models", headers: block, body: [], streaming: false,
                               timeouts: UpstreamTimeouts())
        #expect(!String(decoding: get.bytes, as: UTF8.self).contains("Content-Length"))
    }

    @Test func theModelIdIsSplicedIntoTheBodyAsItIsCopied() {
        let origin = HTTP1Origin(host: "h", port: 80)
        let block = HTTP1HeaderBlock(origin: origin, lines: [])
        let body = Array(#"{"model":"bench","n":1}"#.utf8)
        let request = HTTP1Request(origin: origin, path: "/x", headers: block, body: body,
                                   replacingString: (9..<16, "mock-gpt-longer"), streaming: false, timeouts: UpstreamTimeouts())
        #expect(String(decoding: request.bytes, as: UTF8.self) == """
            POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 33\r\n\r\n{"model":"mock-gpt-longer","n":1}
            """)
        func plain(_ model: String) -> Bool { ResolvedDeployment(providerName: "p", model: model, index: 0).modelIsPlainJSONString }
        #expect(plain("mock-gpt+interval=1"))
        #expect(!plain("a\"b") && !plain("a\\b") && !plain("a\nb"))
    }
}
