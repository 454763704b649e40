import GatewayCore
import HTTPTypes

/// The API key a request carries: `Authorization: Bearer <key>` (what the OpenAI SDKs send)
/// or `x-api-key: <key>` (Anthropic-style clients). nil when neither is present.
public enum Credentials {
    static let apiKeyHeader = HTTPField.Name("x-api-key")!

    /// One pass over the fields: HTTPFields' by-name getter joins repeated values through
    /// unspecialised generic code, a cost every request paid. A field sent twice reads as its
    /// values joined, as that getter gives (and no key matches it).
    public static func key(in headers: HTTPFields) -> String? {
        var authorization: String?
        var apiKey: String?
        for field in headers {
            if field.name == .authorization {
                authorization = authorization.map { $0 + ", " + field.value } ?? field.value
            } else if field.name == apiKeyHeader {
                apiKey = apiKey.map { $0 + ", " + field.value } ?? field.value
            }
        }
        if let authorization, let key = bearerToken(authorization) { return key }
        if let apiKey, let key = trimmed(apiKey.utf8[...]) { return key }
        return nil
    }

    /// The token of `Bearer <token>` (scheme case-insensitive, RFC 9110 §11.1), bytewise.
    static func bearerToken(_ value: String) -> String? {
        var bytes = value.utf8[...]
        while bytes.first == UInt8(ascii: " ") { bytes = bytes.dropFirst() }
        let scheme = Array("bearer".utf8)
        guard bytes.count > scheme.count + 1 else { return nil }
        for (offset, expected) in scheme.enumerated() {
            guard bytes[bytes.index(bytes.startIndex, offsetBy: offset)] | 0x20 == expected else { return nil }
        }
        let afterScheme = bytes.index(bytes.startIndex, offsetBy: scheme.count)
        guard bytes[afterScheme] == UInt8(ascii: " ") else { return nil }
        return trimmed(bytes[bytes.index(after: afterScheme)...])
    }

    /// The bytes without surrounding spaces or tabs, as a string; nil when nothing is left.
    static func trimmed(_ bytes: Substring.UTF8View.SubSequence) -> String? {
        var bytes = bytes
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes = bytes.dropFirst() }
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes = bytes.dropLast() }
        return bytes.isEmpty ? nil : String(Substring(bytes))
    }
}

/// The SHA-256 of keys that identified a caller on one worker, so a key seen before costs a
/// dictionary probe instead of a digest (about 6k instructions, a tenth of a proxied request),
/// and a config key's caller is found without hashing its 64-digit hex again (about 9k more).
/// Whether a key is valid is still decided each time: an expired key, or a revoked run-time
/// key, fails as ever (config keys change only with a new configuration, hence a new stage).
/// Only keys that identified someone are kept, so a flood of wrong keys neither grows the
/// table nor evicts real ones, and a hit (faster) tells a prober only what
/// the answer's status tells anyway. Bounded: cleared when full.
/// Reactor-confined (one per auth stage, which is per worker), hence `@unchecked Sendable`.
final class KeyDigests: @unchecked Sendable {
    struct Known {
        var digest: [UInt8]
        var hex: String
        /// The config key it matched (the stage's own, fixed for its lifetime); nil for a run-time key.
        var config: AuthStage.ConfigKey?
    }

    private var table: [String: Known] = [:]
    static let capacity = 1_024

    func known(_ key: String) -> Known? { table[key] }

    func remember(_ key: String, digest: [UInt8], hex: String, config: AuthStage.ConfigKey?) {
        if table.count >= Self.capacity { table.removeAll(keepingCapacity: true) }
        table[key] = Known(digest: digest, hex: hex, config: config)
    }
}
