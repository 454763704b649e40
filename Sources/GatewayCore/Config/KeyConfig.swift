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
    public var digest: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        var high: UInt8?
        for unit in keySHA256.utf8 {
            let nibble: UInt8
            switch unit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = unit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = unit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = unit - UInt8(ascii: "A") + 10
            default: return []
            }
            if let h = high {
                bytes.append(h << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return bytes
    }
}
