import GatewayCore
import HTTPTypes
import Reactor

/// `type: openai` — any OpenAI-compatible base URL (OpenAI, Groq, Together, DeepSeek,
/// OpenRouter, Mistral, vLLM, Ollama…). The client's JSON passes through untouched except the
/// `model` value, rewritten to the deployment's model id. The provider key goes only into the
/// upstream `Authorization` header; it is never echoed, logged or returned.
/// Runs on the worker's reactor: `http://` base URLs through that worker's native HTTP/1.1 pool
/// (unless `upstream.http1_client: curl`), everything else through its `CurlMulti`.
public final class OpenAIAdapter: ProviderAdapter {
    public let providerName: String
    public let baseURL: String
    public let timeouts: UpstreamTimeouts
    private let headerLines: [String]
    private let transport: Transport

    /// The client this provider's requests go through, with its prebuilt header sets.
    private enum Transport: Sendable {
        case curl(CurlMulti, json: CurlHeaderList, sse: CurlHeaderList)
        case native(NativeRoute)
    }

    /// What the native client needs for this provider, built once. A class, so that a request
    /// reading it retains one object, not each of its five references.
    private final class NativeRoute: Sendable {
        let pool: HTTP1ConnectionPool
        let origin: HTTP1OriginPool
        let basePath: String
        let json: HTTP1HeaderBlock
        let sse: HTTP1HeaderBlock

        init(pool: HTTP1ConnectionPool, origin: HTTP1OriginPool, basePath: String, json: HTTP1HeaderBlock, sse: HTTP1HeaderBlock) {
            self.pool = pool
            self.origin = origin
            self.basePath = basePath
            self.json = json
            self.sse = sse
        }
    }

    public init(providerName: String, baseURL: String, apiKey: String?, extraHeaders: [(String, String)] = [],
                timeouts: UpstreamTimeouts, clients: UpstreamClients) {
        self.providerName = providerName
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        var lines = ["Content-Type: application/json"]
        if let apiKey, !apiKey.isEmpty { lines.append("Authorization: Bearer \(apiKey)") }
        for (name, value) in extraHeaders { lines.append("\(name): \(value)") }
        self.headerLines = lines
        self.timeouts = timeouts
        if clients.http1Client == .native, let endpoint = HTTP1Endpoint(baseURL: base) {
            transport = .native(NativeRoute(
                pool: clients.http1, origin: clients.http1.originPool(endpoint.origin), basePath: endpoint.basePath,
                json: HTTP1HeaderBlock(origin: endpoint.origin, lines: lines + ["Accept: application/json"]),
                sse: HTTP1HeaderBlock(origin: endpoint.origin, lines: lines + ["Accept: text/event-stream"])))
        } else {
            transport = .curl(clients.multi, json: CurlHeaderList(lines + ["Accept: application/json"]),
                              sse: CurlHeaderList(lines + ["Accept: text/event-stream"]))
        }
    }

    /// True when this provider's requests go through the native HTTP/1.1 client.
    public var usesNativeHTTP1: Bool {
        if case .native = transport { return true }
        return false
    }

    /// Client headers relayed to providers as they came: (lowercased name, as sent upstream).
    /// Literals: reading them retains nothing.
    private static let relayedRequestHeaders: [(String, String)] = [("openai-beta", "OpenAI-Beta")]

    @inline(__always)  // its body is the `ProviderAdapter` witness: one task frame less
    public func send(_ request: GatewayRequest, deployment: ResolvedDeployment, context: RequestContext) async -> GatewayResponse {
        let started = monotonicNanos()
        let transfer = start(request, deployment: deployment)
        do {
            if !request.isStreaming {
                let answer = try await transfer.response()
                context.upstreamNanos &+= monotonicNanos() &- started
                return Self.complete(status: answer.status, headers: answer.headers, body: answer.body, provider: providerName)
            }
            let head = try await transfer.head()
            if (200..<300).contains(head.status) {
                context.upstreamNanos &+= monotonicNanos() &- started
                return GatewayResponse(status: head.status, headerLines: Self.streamLines,
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

    /// Starts the upstream transfer on this provider's client; the request leaves now when a
    /// connection is free.
    private func start(_ request: GatewayRequest, deployment: ResolvedDeployment) -> UpstreamTransfer {
        let model = deployment.model
        var relayed: [String] = []
        if request.hasExtensionFields {  // else none of them is there
            for (name, wireName) in Self.relayedRequestHeaders {
                if let value = request.headers.joinedValue(lowercasedName: name) { relayed.append("\(wireName): \(value)") }
            }
        }
        switch transport {
        case .native(let route):
            // The model id goes straight into the request bytes when it needs no escaping: one
            // copy of the body instead of two (what `body(forModel:)` would build, then this).
            let fields = request.fields
            let splice = fields.modelValueRange.flatMap { range in
                fields.model != model && deployment.modelIsPlainJSONString ? (range, model) : nil
            }
            let http = HTTP1Request(origin: route.origin.origin, pathPrefix: route.basePath, path: request.endpoint.path,
                                    headers: request.isStreaming ? route.sse : route.json, extraLines: relayed,
                                    body: splice == nil ? request.body(forModel: model) : request.body,
                                    replacingString: splice, streaming: request.isStreaming, timeouts: timeouts)
            return .native(HTTP1Transfer(http, originPool: route.origin, pool: route.pool))
        case .curl(let multi, let json, let sse):
            let accept = request.isStreaming ? "Accept: text/event-stream" : "Accept: application/json"
            let headers = relayed.isEmpty ? (request.isStreaming ? sse : json) : CurlHeaderList(headerLines + [accept] + relayed)
            return .curl(CurlTransfer(
                UpstreamHTTPRequest(url: baseURL + request.endpoint.path, headers: headers, body: request.body(forModel: model),
                                    streaming: request.isStreaming, timeouts: timeouts),
                multi: multi))
        }
    }

    /// A whole answer: relayed when 2xx, else the provider's error (OpenAI-shaped bodies as they came).
    static func complete(status: Int, headers: [(String, String)], body: [UInt8], provider: String) -> GatewayResponse {
        guard (200..<300).contains(status) else {
            return GatewayResponse(error: .provider(status: status == 0 ? 502 : status, body: body,
                                                    provider: provider, headers: headers))
        }
        let contentType = headers.first { $0.0 == "content-type" }?.1 ?? "application/json"
        if contentType == "application/json" { return GatewayResponse(status: status, headerLines: jsonLines, body: .bytes(body)) }
        var fields = HTTPFields()
        fields[.contentType] = contentType
        return GatewayResponse(status: status, headers: fields, body: .bytes(body))
    }

    /// The usual answer headers, rendered once as lines: as `HTTPFields` each answer's fields
    /// were copied, field by field, by every reader on the way to the wire.
    private static let jsonLines = HeaderLines(rendered: HeaderLines.line("content-type", "application/json"))
    private static let streamLines = HeaderLines(
        rendered: HeaderLines.line("content-type", "text/event-stream") + HeaderLines.line("cache-control", "no-cache"))

    static func gatewayError(_ error: TransferError, provider: String) -> GatewayError {
        if case .timeout = error { return .upstreamTimeout(provider, error.description) }
        return .upstreamUnavailable(provider, error.description)
    }
}
