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
public struct ResolvedDeployment: Sendable, Equatable {
    /// The provider's configured name (`providers.<name>`).
    public var providerName: String
    /// The model id sent to the provider.
    public var model: String
    /// Index of this deployment in the alias's list (priority order).
    public var index: Int

    public init(providerName: String, model: String, index: Int) {
        self.providerName = providerName
        self.model = model
        self.index = index
    }
}
