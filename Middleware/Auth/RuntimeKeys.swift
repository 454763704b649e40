import Foundation
import GatewayCore
import Synchronization

/// A key created through the admin API, as kept in the state store (never the key itself: the
/// registry is indexed by the key's SHA-256). Encoded as a small JSON object.
public struct RuntimeKeyRecord: Sendable, Equatable {
    public var name: String
    public var tier: String
    public var models: [String]?
    /// Unix seconds after which the key is refused; nil never expires.
    public var expiresAt: Int64?
    public var metadata: [String: String]
    public var createdAt: Int64

    public init(name: String, tier: String, models: [String]? = nil, expiresAt: Int64? = nil,
                metadata: [String: String] = [:], createdAt: Int64) {
        self.name = name
        self.tier = tier
        self.models = models
        self.expiresAt = expiresAt
        self.metadata = metadata
        self.createdAt = createdAt
    }

    public func encoded() -> [UInt8] {
        var object: [String: Any] = ["name": name, "tier": tier, "metadata": metadata, "created_at": createdAt]
        if let models { object["models"] = models }
        if let expiresAt { object["expires_at"] = expiresAt }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Array(data)
    }

    /// nil when the stored bytes are not a record (a corrupt entry never authenticates).
    public init?(decoding bytes: [UInt8]) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
            let name = object["name"] as? String, let tier = object["tier"] as? String
        else { return nil }
        self.name = name
        self.tier = tier
        self.models = object["models"] as? [String]
        self.expiresAt = (object["expires_at"] as? NSNumber)?.int64Value
        self.metadata = object["metadata"] as? [String: String] ?? [:]
        self.createdAt = (object["created_at"] as? NSNumber)?.int64Value ?? 0
    }
}

/// Where run-time keys live in the state store, and the channel that tells every instance a
/// key changed.
public enum RuntimeKeys {
    /// One hash: field = lowercase hex SHA-256 of the key, value = `RuntimeKeyRecord` JSON.
    public static let registry = StateKey.make(tag: "keys", "registry")
    /// Carries the hex digest of a created or revoked key.
    public static let changes = "sy:keys:changed"

    /// The identity limits and usage are kept under for a key with this hex digest.
    public static func callerID(digestHex: String) -> String { String(digestHex.prefix(16)) }
}

/// This instance's cache of run-time key lookups, shared by its workers, so a known key costs
/// no store round trip. Entries live `positiveTTL` (found) or `negativeTTL` (not found); a
/// revocation also reaches every instance at once through `RuntimeKeys.changes`.
/// Thread-safe (one mutex).
public final class KeyDirectory: Sendable {
    enum Entry {
        case found(RuntimeKeyRecord)
        case absent
    }

    private let entries = Mutex<[String: (entry: Entry, until: UInt64)]>([:])
    let positiveTTL: UInt64
    let negativeTTL: UInt64
    /// Entries kept at most; past it the cache is cleared (a flood of random keys cannot grow it).
    static let capacity = 100_000

    public init(positiveTTL: UInt64 = 10_000_000_000, negativeTTL: UInt64 = 1_000_000_000) {
        self.positiveTTL = positiveTTL
        self.negativeTTL = negativeTTL
    }

    func cached(_ digestHex: String, now: UInt64) -> Entry? {
        entries.withLock { table in
            guard let hit = table[digestHex], hit.until > now else { return nil }
            return hit.entry
        }
    }

    func remember(_ digestHex: String, _ entry: Entry, now: UInt64) {
        let ttl: UInt64
        if case .found = entry { ttl = positiveTTL } else { ttl = negativeTTL }
        entries.withLock { table in
            if table.count >= Self.capacity { table.removeAll(keepingCapacity: true) }
            table[digestHex] = (entry, now &+ ttl)
        }
    }

    /// Drops one digest (a message on `RuntimeKeys.changes`), or everything.
    public func invalidate(_ digestHex: String? = nil) {
        entries.withLock { table in
            if let digestHex { table[digestHex] = nil } else { table.removeAll() }
        }
    }
}
