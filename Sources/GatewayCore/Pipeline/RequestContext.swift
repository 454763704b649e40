/// Per-request state shared by the stages of one request: typed fields, never a string-keyed bag.
///
/// A class, not a struct, because work that runs when a stream ends (the access log, usage
/// accounting) must see what later stages recorded. Confined to the worker's reactor like the
/// request itself, hence `@unchecked Sendable`.
public final class RequestContext: @unchecked Sendable {
    /// `X-Request-ID` as received, or generated at the edge.
    public let requestID: String
    /// Monotonic ns when the request's head was complete.
    public let receivedAt: UInt64
    /// The client's address ("ip:port"), when known.
    public var clientAddress: String?
    /// Who is calling, set by the auth stage; nil when auth is not in the chain.
    public var caller: Caller?
    /// The deployment the router chose for the current attempt.
    public var deployment: ResolvedDeployment?
    /// 1 for the first upstream attempt; retries increment it.
    public var attempt = 0
    /// Time spent waiting on providers, summed over attempts (ns): from sending the request to
    /// the response head, plus, for streams, the time the relay waited for upstream chunks.
    public var upstreamNanos: UInt64 = 0
    /// Monotonic ns when the first byte of the answer was ready for the client.
    public var firstByteAt: UInt64?

    public init(requestID: String, receivedAt: UInt64, clientAddress: String? = nil) {
        self.requestID = requestID
        self.receivedAt = receivedAt
        self.clientAddress = clientAddress
    }
}

/// A model alias's deployment resolved against its provider: what an adapter needs to send.
public final class ResolvedDeployment: Sendable, Equatable {
    /// The provider's configured name (`providers.<name>`).
    public let providerName: String
    /// The model id sent to the provider.
    public let model: String
    /// Index of this deployment in the alias's list (priority order).
    public let index: Int
    /// US dollars per million prompt / completion tokens, for cost accounting.
    public let inputCostPerMTok: Double
    public let outputCostPerMTok: Double
    /// `model` goes into a JSON string as it is (no quote, backslash or control byte), so a
    /// request body can take it without escaping. Checked once, here.
    public let modelIsPlainJSONString: Bool
    /// `x-switchyard-provider: …` and `x-switchyard-model: …` in wire form (CRLF after each),
    /// rendered once for the headers every proxied answer carries; nil when a value is not
    /// plain visible ASCII (then the edge sets them as fields, which HTTPTypes legalises).
    public let identityLines: [UInt8]?

    /// Immutable and a class: built once per configuration and shared by the requests routed
    /// to it, so passing one on (the context, the adapter, the edge's headers) retains one
    /// object instead of copying two strings.
    public init(providerName: String, model: String, index: Int, inputCostPerMTok: Double = 0, outputCostPerMTok: Double = 0) {
        self.providerName = providerName
        self.model = model
        self.index = index
        self.inputCostPerMTok = inputCostPerMTok
        self.outputCostPerMTok = outputCostPerMTok
        self.modelIsPlainJSONString = model.utf8.allSatisfy { $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
        self.identityLines = Self.isPlainHeaderValue(providerName) && Self.isPlainHeaderValue(model)
            ? Array("x-switchyard-provider: \(providerName)\r\nx-switchyard-model: \(model)\r\n".utf8) : nil
    }

    /// Non-empty visible ASCII with inner spaces only: what HTTPTypes keeps unchanged.
    static func isPlainHeaderValue(_ value: String) -> Bool {
        let bytes = value.utf8
        guard let first = bytes.first, let last = bytes.last, first != 0x20, last != 0x20 else { return false }
        return bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
    }

    public static func == (lhs: ResolvedDeployment, rhs: ResolvedDeployment) -> Bool {
        lhs.providerName == rhs.providerName && lhs.model == rhs.model && lhs.index == rhs.index
            && lhs.inputCostPerMTok == rhs.inputCostPerMTok && lhs.outputCostPerMTok == rhs.outputCostPerMTok
    }
}

/// The authenticated caller of one request: which limits apply and what it may use. Immutable,
/// and a class: built once per key and configuration, then shared by every request of that key
/// (as a struct, each stage's copy retained every string and array of its tier).
public final class Caller: Sendable, Equatable {
    /// Where the identity came from.
    public enum Source: String, Sendable, Equatable {
        /// A key from `keys:` in config.yaml.
        case config
        /// A key created through the admin API (kept in the state store).
        case runtime
        /// No key, `auth.required: false`: limited per client address.
        case anonymous
    }

    /// The stable identity limits and usage are kept under: the first 16 hex digits of the key's
    /// SHA-256 for keys, `ip:<address>` for anonymous callers. Never the key itself.
    public let id: String
    /// The key's name (the address for anonymous callers).
    public let name: String
    public let source: Source
    /// The tier's limits, resolved from config.yaml at authentication.
    public let tier: TierConfig
    /// Model aliases the key may use (its own list narrowing the tier's); nil allows all.
    public let allowedModels: Set<String>?

    public init(id: String, name: String, source: Source, tier: TierConfig, allowedModels: Set<String>? = nil) {
        self.id = id
        self.name = name
        self.source = source
        self.tier = tier
        self.allowedModels = allowedModels
    }

    public static func == (lhs: Caller, rhs: Caller) -> Bool {
        lhs === rhs
            || (lhs.id == rhs.id && lhs.name == rhs.name && lhs.source == rhs.source && lhs.tier == rhs.tier
                && lhs.allowedModels == rhs.allowedModels)
    }
}
