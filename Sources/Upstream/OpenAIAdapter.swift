import GatewayCore
import HTTPTypes
import Reactor

/// `type: openai` — any OpenAI-compatible base URL (OpenAI, Groq, Together, DeepSeek,
/// OpenRouter, Mistral, vLLM, Ollama…). The client's JSON passes through untouched except the
/// `model` value, rewritten to the deployment's model id. The provider key goes only into the
/// upstream `Authorization` header; it is never echoed, logged or returned.
/// Runs on the worker's reactor, through that worker's `CurlMulti`.
public struct OpenAIAdapter: ProviderAdapter {
    public let providerName: String
    public let baseURL: String
    private let headerLines: [String]
    private let jsonHeaders: CurlHeaderList
    private let sseHeaders: CurlHeaderList
    public let timeouts: UpstreamTimeouts
    private let multi: CurlMulti

    public init(providerName: String, baseURL: String, apiKey: String?, extraHeaders: [(String, String)] = [],
                timeouts: UpstreamTimeouts, multi: CurlMulti) {
        self.providerName = providerName
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        var lines = ["Content-Type: application/json"]
        if let apiKey, !apiKey.isEmpty { lines.append("Authorization: Bearer \(apiKey)") }
        for (name, value) in extraHeaders { lines.append("\(name): \(value)") }
        self.headerLines = lines
        self.jsonHeaders = CurlHeaderList(lines + ["Accept: application/json"])
        self.sseHeaders = CurlHeaderList(lines + ["Accept: text/event-stream"])
        self.timeouts = timeouts
        self.multi = multi
    }

    /// Client headers relayed to providers as they came.
    private static let relayedRequestHeaders: [HTTPField.Name] = [HTTPField.Name("openai-beta")!]

    public func send(_ request: GatewayRequest, deployment: ResolvedDeployment, context: RequestContext) async -> GatewayResponse {
        let body = request.body(forModel: deployment.model)
        var headers = request.isStreaming ? sseHeaders : jsonHeaders
        var relayed: [String] = []
        for name in Self.relayedRequestHeaders {
            if let value = request.headers[name] { relayed.append("\(name.rawName): \(value)") }
        }
        if !relayed.isEmpty {
            headers = CurlHeaderList(headerLines + [request.isStreaming ? "Accept: text/event-stream" : "Accept: application/json"] + relayed)
        }
        let started = monotonicNanos()
        let transfer = CurlTransfer(
            UpstreamHTTPRequest(url: baseURL + request.endpoint.path, headers: headers, body: body,
                                streaming: request.isStreaming, timeouts: timeouts),
            multi: multi)
        do {
            if !request.isStreaming {
                let answer = try await transfer.response()
                context.upstreamNanos &+= monotonicNanos() &- started
                return Self.complete(status: answer.status, headers: answer.headers, body: answer.body, provider: providerName)
            }
            let head = try await transfer.head()
            if (200..<300).contains(head.status) {
                context.upstreamNanos &+= monotonicNanos() &- started
                var fields = HTTPFields()
                fields[.contentType] = "text/event-stream"
                fields[.cacheControl] = "no-cache"
                return GatewayResponse(status: head.status, headers: fields,
                                       body: .stream(SSEStreamGuard(.transfer(transfer), provider: providerName, context: context)))
            }
            let responseBody = try await transfer.body()
            context.upstreamNanos &+= monotonicNanos() &- started
            return Self.complete(status: head.status, headers: head.headers, body: responseBody, provider: providerName)
        } catch {
            context.upstreamNanos &+= monotonicNanos() &- started
            return GatewayResponse(error: Self.gatewayError(error, provider: providerName))
        }
    }

    /// A whole answer: relayed when 2xx, else the provider's error (OpenAI-shaped bodies as they came).
    static func complete(status: Int, headers: [(String, String)], body: [UInt8], provider: String) -> GatewayResponse {
        guard (200..<300).contains(status) else {
            return GatewayResponse(error: .provider(status: status == 0 ? 502 : status, body: body,
                                                    provider: provider, headers: headers))
        }
        var fields = HTTPFields()
        fields[.contentType] = headers.first { $0.0 == "content-type" }?.1 ?? "application/json"
        return GatewayResponse(status: status, headers: fields, body: .bytes(body))
    }

    static func gatewayError(_ error: TransferError, provider: String) -> GatewayError {
        if case .timeout = error { return .upstreamTimeout(provider, error.description) }
        return .upstreamUnavailable(provider, error.description)
    }

}
