import GatewayCore
import HTTPTypes

/// The API key a request carries: `Authorization: Bearer <key>` (what the OpenAI SDKs send)
/// or `x-api-key: <key>` (Anthropic-style clients). nil when neither is present.
public enum Credentials {
    /// The key is a slice of the field's value, so a key seen before is recognised without a
    /// copy (`KeyDigests`). A field sent twice reads as its values joined (and no key matches
    /// it); `joinedValue` finds each without HTTPFields' by-name getter and its costs.
    public static func key(in headers: HTTPFields) -> Substring? {
        if let authorization = headers.joinedValue(lowercasedName: "authorization"), let key = bearerToken(authorization) {
            return key
        }
        if let apiKey = headers.joinedValue(lowercasedName: "x-api-key"), let key = trimmed(apiKey, from: 0) { return key }
        return nil
    }

    /// `key(in:)`'s key as its bytes, handed to `body` without a string made of them (nil when
    /// the request carries none): a key seen before is then recognised with no allocation.
    static func withKey<Result>(in headers: HTTPFields, _ body: (UnsafeBufferPointer<UInt8>?) -> Result) -> Result {
        if var authorization = headers.joinedValue(lowercasedName: "authorization"),
            let found = authorization.withUTF8({ bytes in bearerRange(bytes).map { body(UnsafeBufferPointer(rebasing: bytes[$0])) } })
        {
            return found
        }
        if var apiKey = headers.joinedValue(lowercasedName: "x-api-key"),
            let found = apiKey.withUTF8({ bytes in trimmedRange(bytes, from: 0).map { body(UnsafeBufferPointer(rebasing: bytes[$0])) } })
        {
            return found
        }
        return body(nil)
    }

    /// The token of `Bearer <token>` (scheme case-insensitive, RFC 9110 §11.1), bytewise.
    static func bearerToken(_ value: String) -> Substring? {
        slice(of: value, bearerRange)
    }

    /// Where the token of `Bearer <token>` is in `bytes`.
    private static func bearerRange(_ bytes: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        var i = 0
        while i < bytes.count, bytes[i] == UInt8(ascii: " ") { i += 1 }
        guard bytes.count - i > scheme.count + 1 else { return nil }
        for expected in scheme {
            guard bytes[i] | 0x20 == expected else { return nil }
            i += 1
        }
        return bytes[i] == UInt8(ascii: " ") ? trimmedRange(bytes, from: i + 1) : nil
    }

    private static let scheme = Array("bearer".utf8)

    /// `value`'s bytes from `start` without surrounding spaces or tabs; nil when nothing is left.
    static func trimmed(_ value: String, from start: Int) -> Substring? {
        slice(of: value) { trimmedRange($0, from: start) }
    }

    private static func trimmedRange(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Range<Int>? {
        var lower = start
        var upper = bytes.count
        while lower < upper, bytes[lower] == 0x20 || bytes[lower] == 0x09 { lower += 1 }
        while upper > lower, bytes[upper - 1] == 0x20 || bytes[upper - 1] == 0x09 { upper -= 1 }
        return lower < upper ? lower..<upper : nil
    }

    /// The part of `value` that `find` picks out of its UTF-8 bytes, as a slice of it (no copy).
    private static func slice(of value: String, _ find: (UnsafeBufferPointer<UInt8>) -> Range<Int>?) -> Substring? {
        var value = value
        guard let range = value.withUTF8(find) else { return nil }
        let utf8 = value.utf8
        return Substring(utf8[utf8.index(utf8.startIndex, offsetBy: range.lowerBound)..<utf8.index(utf8.startIndex, offsetBy: range.upperBound)])
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
    /// Immutable, and a class: handing one out is one retain.
    final class Known: Sendable {
        let digest: [UInt8]
        let hex: String
        /// The config key it matched (the stage's own, fixed for its lifetime); nil for a run-time key.
        let config: AuthStage.ConfigKey?

        init(digest: [UInt8], hex: String, config: AuthStage.ConfigKey?) {
            self.digest = digest
            self.hex = hex
            self.config = config
        }
    }

    /// What `check` takes for a key this worker has not identified (never stored).
    static let unknown = Known(digest: [], hex: "", config: nil)

    private var table: [String: Known] = [:]
    /// The last key found, checked first and in constant time: a worker mostly sees one
    /// caller's run of requests, which then cost neither a hash of the key nor a copy of it.
    private var last: (key: [UInt8], known: Known)?
    static let capacity = 1_024

    func known(_ key: Substring) -> Known? {
        var key = key
        return key.withUTF8 { known($0) }
    }

    /// The key whose bytes these are, if it identified someone here before.
    func known(_ key: UnsafeBufferPointer<UInt8>) -> Known? {
        if let last, last.key.withUnsafeBufferPointer({ Hex.constantTimeEqual(key, $0) }) { return last.known }
        guard let found = table[String(decoding: key, as: UTF8.self)] else { return nil }
        last = (Array(key), found)
        return found
    }

    func remember(_ key: Substring, digest: [UInt8], hex: String, config: AuthStage.ConfigKey?) {
        if table.count >= Self.capacity { table.removeAll(keepingCapacity: true) }
        let owned = String(key)
        let known = Known(digest: digest, hex: hex, config: config)
        table[owned] = known
        last = (Array(owned.utf8), known)
    }

}
