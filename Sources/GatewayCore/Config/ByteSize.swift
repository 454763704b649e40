import Foundation

/// A size in bytes, as written in `config.yaml` ("4MiB", "512KiB", "1MB", "1024").
/// Binary units (KiB, MiB, GiB, TiB) are powers of 1024, decimal ones (KB, MB, GB, TB) powers of
/// 1000, matched case-insensitively; a bare number means bytes. A plain value, safe from any thread.
public struct ByteSize: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var bytes: Int64

    public init(bytes: Int64) { self.bytes = bytes }

    public static func bytes(_ n: Int64) -> ByteSize { ByteSize(bytes: n) }
    public static func kibibytes(_ n: Int64) -> ByteSize { ByteSize(bytes: n * 1024) }
    public static func mebibytes(_ n: Int64) -> ByteSize { ByteSize(bytes: n * 1024 * 1024) }

    public static func < (lhs: ByteSize, rhs: ByteSize) -> Bool { lhs.bytes < rhs.bytes }

    static let units: [String: Int64] = [
        "": 1, "b": 1,
        "kb": 1_000, "mb": 1_000_000, "gb": 1_000_000_000, "tb": 1_000_000_000_000,
        "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
    ]

    /// Parses `<number>[ ]<unit>`; the number may have a fraction when the result is a whole
    /// number of bytes ("1.5KiB" = 1536). Returns nil for anything else or on overflow.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let numberText = trimmed.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        let unitText = trimmed.dropFirst(numberText.count).trimmingCharacters(in: .whitespaces).lowercased()
        guard !numberText.isEmpty, let multiplier = Self.units[unitText],
            let bytes = ConfigDecimal(numberText)?.scaled(by: multiplier)
        else { return nil }
        self.bytes = bytes
    }

    /// The largest unit that divides exactly, binary first ("4MiB", "1MB", "1000"); parses back
    /// to the same value.
    public var description: String {
        if bytes == 0 { return "0" }
        for (suffix, size) in [
            ("TiB", Int64(1) << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10),
            ("TB", 1_000_000_000_000), ("GB", 1_000_000_000), ("MB", 1_000_000),
            ("KB", 1_000),
        ] where bytes % size == 0 {
            return "\(bytes / size)\(suffix)"
        }
        return "\(bytes)"
    }
}
