import Foundation

/// A span of time in whole nanoseconds, as written in `config.yaml` ("250ms", "30s", "1.5s", "1h30m").
/// A plain value: parsing is pure and allocation-light, so it is safe from any thread.
/// Negative spans cannot be written; the loader decides per key whether zero is allowed.
public struct TimeSpan: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The span in nanoseconds; never negative when produced by `init?(parsing:)`.
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static func nanoseconds(_ n: Int64) -> TimeSpan { TimeSpan(nanoseconds: n) }
    public static func milliseconds(_ n: Int64) -> TimeSpan { TimeSpan(nanoseconds: n * 1_000_000) }
    public static func seconds(_ n: Int64) -> TimeSpan { TimeSpan(nanoseconds: n * 1_000_000_000) }
    public static func minutes(_ n: Int64) -> TimeSpan { .seconds(n * 60) }
    public static func hours(_ n: Int64) -> TimeSpan { .seconds(n * 3600) }
    public static let zero = TimeSpan(nanoseconds: 0)

    /// The span in (fractional) seconds, for headers such as `Retry-After`.
    public var seconds: Double { Double(nanoseconds) / 1e9 }
    /// The span in whole milliseconds, rounded down.
    public var milliseconds: Int64 { nanoseconds / 1_000_000 }
    /// The span as a Swift `Duration`.
    public var duration: Duration { .nanoseconds(nanoseconds) }

    public static func < (lhs: TimeSpan, rhs: TimeSpan) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    // Longest first so that "ms" is tried before "m" and "s".
    static let units: [(suffix: String, nanoseconds: Int64)] = [
        ("ns", 1), ("us", 1_000), ("µs", 1_000), ("ms", 1_000_000),
        ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000), ("d", 86_400_000_000_000),
    ]

    /// Parses one or more `<number><unit>` groups ("250ms", "1.5s", "1h30m"); units ns, us, µs, ms,
    /// s, m, h, d. A bare number is rejected on purpose: "30" could mean seconds or milliseconds.
    /// Returns nil for anything else, including overflow past about 292 years.
    public init?(parsing text: String) {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        guard !rest.isEmpty else { return nil }
        var total: Int64 = 0
        while !rest.isEmpty {
            let numberText = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !numberText.isEmpty else { return nil }
            rest = rest.dropFirst(numberText.count)
            let unitText = rest.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            rest = rest.dropFirst(unitText.count)
            guard let unit = Self.units.first(where: { $0.suffix == unitText.lowercased() }),
                let part = ConfigDecimal(numberText)?.scaled(by: unit.nanoseconds)
            else { return nil }
            let (sum, overflow) = total.addingReportingOverflow(part)
            guard !overflow else { return nil }
            total = sum
        }
        self.nanoseconds = total
    }

    /// The shortest exact spelling in one unit ("30s", "1500ms", "5m"); parses back to the same value.
    public var description: String {
        if nanoseconds == 0 { return "0s" }
        for (suffix, size) in [
            ("h", Int64(3_600_000_000_000)), ("m", 60_000_000_000), ("s", 1_000_000_000),
            ("ms", 1_000_000), ("us", 1_000),
        ] where nanoseconds % size == 0 {
            return "\(nanoseconds / size)\(suffix)"
        }
        return "\(nanoseconds)ns"
    }
}

/// A non-negative decimal read digit by digit ("1.5", "0.95", "4") so that unit scaling is exact
/// rather than going through Double; shared by `TimeSpan` and `ByteSize`.
struct ConfigDecimal {
    var integer: Int64
    var fraction: Int64
    var fractionDigits: Int

    init?<S: StringProtocol>(_ text: S) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = parts.first, !whole.isEmpty || parts.count == 2 else { return nil }
        guard whole.allSatisfy({ $0.isASCII && $0.isNumber }), let integer = whole.isEmpty ? 0 : Int64(whole)
        else { return nil }
        self.integer = integer
        if parts.count == 2 {
            let digits = parts[1]
            guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                let fraction = Int64(digits)
            else { return nil }
            self.fraction = fraction
            self.fractionDigits = digits.count
        } else {
            self.fraction = 0
            self.fractionDigits = 0
        }
    }

    /// `self × multiplier`, or nil on overflow or when the product is not a whole number.
    func scaled(by multiplier: Int64) -> Int64? {
        let (whole, overflow) = integer.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { return nil }
        guard fraction != 0 else { return whole }
        var divisor: Int64 = 1
        for _ in 0..<fractionDigits { divisor *= 10 }
        let (numerator, overflow2) = fraction.multipliedReportingOverflow(by: multiplier)
        guard !overflow2, numerator % divisor == 0 else { return nil }
        let (sum, overflow3) = whole.addingReportingOverflow(numerator / divisor)
        return overflow3 ? nil : sum
    }
}
