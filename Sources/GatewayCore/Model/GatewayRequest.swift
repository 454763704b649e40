import HTTPTypes

/// The OpenAI endpoints the pipeline proxies. Everything else is answered by the gateway itself.
public enum Endpoint: String, Sendable, CaseIterable {
    case chatCompletions = "/chat/completions"
    case completions = "/completions"
    case embeddings = "/embeddings"

    /// The path under a provider's base URL (`https://api.openai.com/v1` + this).
    public var path: String { rawValue }

    /// Whether `stream: true` is meaningful here.
    public var canStream: Bool { self != .embeddings }
}

/// A proxied request as the middleware sees it: parsed once at the edge, immutable in spirit.
/// `body` is the client's JSON exactly as sent; `fields` is what the gateway read from it.
public struct GatewayRequest: Sendable {
    public var endpoint: Endpoint
    public var headers: HTTPFields
    public var body: [UInt8]
    public var fields: RequestFields
    /// False when every header's name is a common one (Host, Content-Type, Authorization, …),
    /// as the edge's parser saw: then no extension header (`OpenAI-Beta`) needs looking for.
    public var hasExtensionFields = true

    public init(endpoint: Endpoint, headers: HTTPFields, body: [UInt8], fields: RequestFields) {
        self.endpoint = endpoint
        self.headers = headers
        self.body = body
        self.fields = fields
    }

    /// The requested model alias (validated non-nil before the pipeline runs).
    public var model: String { fields.model ?? "" }
    /// True when the client asked for SSE and the endpoint supports it.
    public var isStreaming: Bool { fields.stream && endpoint.canStream }

    /// The body to send for `model`: the client's bytes with only the model value rewritten
    /// (every other field passes through untouched).
    public func body(forModel model: String) -> [UInt8] {
        guard let range = fields.modelValueRange, fields.model != model else { return body }
        return JSONScanner.replacingModel(in: body, range: range, with: model)
    }
}
