/// One entry of `providers:`: an upstream that speaks a known API, with its endpoint, key and
/// deadlines. The loader has applied defaults (known base URLs, `upstream:` timeouts), so a
/// plain value here is complete. Shared read-only by every worker.
public struct ProviderConfig: Sendable, Equatable {
    /// The name deployments refer to (`providers.<name>`).
    public var name: String
    public var type: ProviderType
    /// The API root, e.g. "https://api.openai.com/v1". nil only for `type: mock` without a
    /// `base_url`, which means the in-process mock.
    public var baseURL: String?
    /// Sent as `Authorization: Bearer …`; nil sends no key (local servers).
    public var apiKey: Secret?
    /// Extra request headers, in file order.
    public var headers: [Header]
    public var timeouts: Timeouts

    public init(
        name: String,
        type: ProviderType,
        baseURL: String? = nil,
        apiKey: Secret? = nil,
        headers: [Header] = [],
        timeouts: Timeouts = Timeouts()
    ) {
        self.name = name
        self.type = type
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.headers = headers
        self.timeouts = timeouts
    }

    /// The built-in offline provider, always present in an effective configuration.
    public static let builtInMock = ProviderConfig(name: "mock", type: .mock)

    /// A header to add to every request to this provider. `isSensitive` is set when the value came
    /// from `${VAR}` or the name looks like a credential (authorization, *key*, *token*, *secret*,
    /// cookie); rendering then masks the value.
    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String
        public var isSensitive: Bool

        public init(name: String, value: String, isSensitive: Bool = false) {
            self.name = name
            self.value = value
            self.isSensitive = isSensitive
        }
    }

    /// Per-provider deadlines; each one defaults to the matching `upstream:` value.
    public struct Timeouts: Sendable, Equatable {
        public var connect: TimeSpan
        public var firstByte: TimeSpan
        public var total: TimeSpan

        public init(
            connect: TimeSpan = .seconds(5),
            firstByte: TimeSpan = .seconds(60),
            total: TimeSpan = .seconds(600)
        ) {
            self.connect = connect
            self.firstByte = firstByte
            self.total = total
        }

        public init(defaultsFrom upstream: UpstreamConfig) {
            self.init(
                connect: upstream.connectTimeout, firstByte: upstream.firstByteTimeout, total: upstream.totalTimeout)
        }
    }
}

/// The wire API a provider speaks; picks the adapter. Only OpenAI-compatible providers (which
/// covers Groq, Together, DeepSeek, OpenRouter, Mistral, …) and the offline mock exist so far.
public enum ProviderType: String, Sendable, Equatable, CaseIterable {
    case openai
    case mock

    /// Types people will write that have no adapter yet; the loader names them "not supported
    /// yet" instead of "unknown".
    public static let planned: Set<String> = [
        "anthropic", "azure", "azure_openai", "bedrock", "cohere", "gemini", "google", "ollama", "vertex",
    ]
}
