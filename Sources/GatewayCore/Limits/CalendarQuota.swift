/// A quota over a UTC calendar period (a day or a month): tokens or cost used so far, plus
/// tokens reserved by requests still in flight, may not pass `limit`. Periods are numbered by
/// `CalendarPeriod`; the Lua twin in `LimitScripts.admit` computes the same numbers from Redis `TIME`.
public struct CalendarQuota: Sendable, Equatable {
    public var limit: Int64

    public init(limit: Int64) { self.limit = limit }

    /// Token quotas admit when `used + cost` fits; cost quotas (`cost` 0, since a price is known
    /// only afterwards) admit while `used` is below the limit. A refusal waits for the period's end.
    public func decide(used: Int64, cost: Int64, periodLeftMicros: Int64) -> LimitDecision {
        let admitted = cost > 0 ? used + cost <= limit : used < limit
        let remaining = max(0, limit - used - (admitted ? cost : 0))
        return LimitDecision(admitted: admitted, remaining: remaining, available: max(0, limit - used), resetMicros: periodLeftMicros,
                             retryMicros: admitted ? 0 : (cost > limit ? -1 : periodLeftMicros))
    }
}

/// UTC days and months as integers, from store time in microseconds (proleptic Gregorian,
/// Howard Hinnant's `civil_from_days` / `days_from_civil`). Plain functions.
public enum CalendarPeriod {
    public static let dayMicros: Int64 = 86_400_000_000

    /// Days since 1970-01-01 and microseconds left until the next day.
    public static func day(now: Int64) -> (index: Int64, left: Int64) {
        let index = floorDiv(now, dayMicros)
        return (index, (index + 1) * dayMicros - now)
    }

    /// `year * 12 + month - 1`, and microseconds left until the first of the next month.
    public static func month(now: Int64) -> (index: Int64, left: Int64) {
        let days = floorDiv(now, dayMicros)
        let (year, month) = civil(days: days)
        let nextYear = month == 12 ? year + 1 : year
        let nextMonth = month == 12 ? 1 : month + 1
        let end = daysFromCivil(year: nextYear, month: nextMonth, day: 1) * dayMicros
        return (year * 12 + month - 1, end - now)
    }

    /// "2026-11-21" for a day index.
    public static func dateString(day: Int64) -> String {
        let (year, month, dayOfMonth) = civilDate(days: day)
        func pad(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(year)-\(pad(month))-\(pad(dayOfMonth))"
    }

    /// The day index of "YYYY-MM-DD"; nil when it is not such a date.
    public static func day(parsing text: String) -> Int64? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int64(parts[0]), let month = Int64(parts[1]), let day = Int64(parts[2]),
            (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        let index = daysFromCivil(year: year, month: month, day: day)
        return civilDate(days: index) == (year, month, day) ? index : nil
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    static func civil(days: Int64) -> (year: Int64, month: Int64) {
        let date = civilDate(days: days)
        return (date.year, date.month)
    }

    static func civilDate(days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
