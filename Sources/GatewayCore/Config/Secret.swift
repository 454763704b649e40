/// A credential read from configuration (an API key, a Redis password). Printing it in any way —
/// `description`, `debugDescription`, string interpolation, `dump` — shows only `masked`, so a log
/// line or `check-config` output cannot leak it; code that must send it reads `value`.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The raw credential. Read it only where it leaves the process on purpose (an upstream header).
    public let value: String

    public init(_ value: String) { self.value = value }

    /// "sk-…abcd" for secrets of 12 or more characters (a short vendor prefix such as "sk-" or
    /// "gsk_" plus the last 4 characters), "****" for anything shorter, where 4 characters
    /// would give away too much of it.
    public var masked: String {
        let characters = Array(value)
        guard characters.count >= 12 else { return "****" }
        return Self.vendorPrefix(of: characters) + "…" + String(characters.suffix(4))
    }

    public var description: String { masked }
    public var debugDescription: String { "Secret(\(masked))" }
    public var customMirror: Mirror { Mirror(self, children: ["masked": masked], displayStyle: .struct) }

    /// A leading run of 1–3 ASCII letters ended by "-" or "_" ("sk-", "gsk_", "xai-") names the vendor
    /// rather than the key, so it is kept to tell keys apart; anything longer may be key material.
    static func vendorPrefix(of characters: [Character]) -> String {
        var letters = 0
        for character in characters.prefix(4) {
            if character.isASCII && character.isLetter {
                letters += 1
            } else if (character == "-" || character == "_") && letters >= 1 {
                return String(characters.prefix(letters + 1))
            } else {
                break
            }
        }
        return ""
    }
}
