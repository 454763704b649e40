import GatewayCore
import HTTPTypes

/// The API key a request carries: `Authorization: Bearer <key>` (what the OpenAI SDKs send)
/// or `x-api-key: <key>` (Anthropic-style clients). nil when neither is present.
public enum Credentials {
    /// The key is a slice of the field's value, so a key seen before is recognised without a
    /// copy (`KeyDigests`). A field sent twice reads as its values joined (and no key matches
    /// it); `joinedValue` finds each without HTTPFields' by-name getter and its costs.
    public static func key(in headers: HTTPFields) -> Substring? {
        guard let (value, range) = locate(in: headers) else { return nil }
        let utf8 = value.utf8
        return Substring(utf8[utf8.index(utf8.startIndex, offsetBy: range.lowerBound)..<utf8.index(utf8.startIndex, offsetBy: range.upperBound)])
    }

    /// `key(in:)`'s key as its bytes, handed to `body` where they are in the field's value (nil,
    /// and `body` not called, when the request carries none): no string is made of them.
    static func withKey<Result>(in headers: HTTPFields, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result? {
        guard let (found, range) = locate(in: headers) else { return nil }
        var value = found
        return value.withUTF8 { body(UnsafeBufferPointer(rebasing: $0[range])) }
    }

    /// The field value that carries the key, and where the key is in its UTF-8 bytes.
    private static func locate(in headers: HTTPFields) -> (String, Range<Int>)? {
        if var authorization = headers.joinedValue(lowercasedName: "authorization"), let range = authorization.withUTF8(bearerRange) {
            return (authorization, range)
        }
        if var apiKey = headers.joinedValue(lowercasedName: "x-api-key"), let range = apiKey.withUTF8({ trimmedRange($0, from: 0) }) {
            return (apiKey, range)
        }
        return nil
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

    /// `bytes` from `start` without surrounding spaces or tabs; nil when nothing is left.
    private static func trimmedRange(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Range<Int>? {
        var lower = start
        var upper = bytes.count
        while lower < upper, bytes[lower] == 0x20 || bytes[lower] == 0x09 { lower += 1 }
        while upper > lower, bytes[upper - 1] == 0x20 || bytes[upper - 1] == 0x09 { upper -= 1 }
        return lower < upper ? lower..<upper : nil
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
