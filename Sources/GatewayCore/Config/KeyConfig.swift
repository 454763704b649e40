import Foundation

/// One entry of `keys:`: a client API key, stored only as the SHA-256 of the key so the file
/// never holds a usable credential. Read by the auth stage on every request.
public struct KeyConfig: Sendable, Equatable {
    /// A label for logs and metrics; unique.
    public var name: String
    /// Lowercase hex SHA-256 (64 characters) of the key the client sends as `Bearer …`.
    public var keySHA256: String
    /// Name of a tier in `GatewayConfig.tiers`.
    public var tier: String
    /// Model aliases this key may use, narrowing its tier's list; nil = whatever the tier allows.
    public var models: [String]?
    /// After this instant the key is refused; nil never expires.
    public var expires: Date?
    public var metadata: [String: String]

    public init(
        name: String,
        keySHA256: String,
        tier: String,
        models: [String]? = nil,
        expires: Date? = nil,
        metadata: [String: String] = [:]
    ) {
        self.name = name
        self.keySHA256 = keySHA256
        self.tier = tier
        self.models = models
        self.expires = expires
        self.metadata = metadata
    }

    /// The 32 digest bytes of `keySHA256`, for constant-time comparison with a hashed bearer key.
    public var digest: [UInt8] { Hex.decode(keySHA256) ?? [] }
}
