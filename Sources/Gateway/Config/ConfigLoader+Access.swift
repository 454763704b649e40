import Foundation
import GatewayCore

/// The sections that decide who may call what: `tiers` and `keys`.
extension ConfigAssembly {
    static let tierKeys = [
        "unlimited", "requests_per_minute", "requests_per_hour", "tokens_per_minute", "burst", "max_concurrent",
        "daily_tokens", "monthly_tokens", "daily_cost", "monthly_cost", "models", "shed_factor",
    ]

    /// The file's tiers in file order, or `TierConfig.defaults` when the section is absent or empty.
    func tiers(_ value: ConfigValue?, modelNames: Set<String>) throws(ConfigError) -> [TierConfig] {
        let entries = try value.map { v throws(ConfigError) in try reader.entries(v) } ?? []
        guard !entries.isEmpty else { return TierConfig.defaults }
        var tiers: [TierConfig] = []
        for entry in entries {
            let fields = try reader.fields(entry.value, allowed: Self.tierKeys)
            var tier = TierConfig(name: entry.key)
            if let v = fields["unlimited"] { tier.unlimited = try reader.bool(v) }
            if let v = fields["requests_per_minute"] { tier.requestsPerMinute = try reader.int(v, atLeast: 1) }
            if let v = fields["requests_per_hour"] { tier.requestsPerHour = try reader.int(v, atLeast: 1) }
            if let v = fields["tokens_per_minute"] { tier.tokensPerMinute = try reader.int(v, atLeast: 1) }
            if let v = fields["burst"] { tier.burst = try reader.int(v, atLeast: 0) }
            if let v = fields["max_concurrent"] { tier.maxConcurrent = try reader.int(v, atLeast: 1) }
            if let v = fields["daily_tokens"] { tier.dailyTokens = try reader.int(v, atLeast: 1) }
            if let v = fields["monthly_tokens"] { tier.monthlyTokens = try reader.int(v, atLeast: 1) }
            if let v = fields["daily_cost"] { tier.dailyCost = try reader.double(v, atLeast: 0) }
            if let v = fields["monthly_cost"] { tier.monthlyCost = try reader.double(v, atLeast: 0) }
            if let v = fields["models"] { tier.models = try modelList(v, modelNames: modelNames) }
            tier.shedFactor = TierConfig.defaultShedFactor(unlimited: tier.unlimited)
            if let v = fields["shed_factor"] { tier.shedFactor = try reader.double(v, atLeast: 0) }
            if tier.unlimited, let limit = fields.entries.first(where: { !["unlimited", "models", "shed_factor"].contains($0.key) })
            {
                throw reader.error(limit.value, "a tier with unlimited: true cannot also set \(limit.key)")
            }
            if tier.burst != nil, tier.requestsPerMinute == nil, let v = fields["burst"] {
                throw reader.error(v, "burst needs requests_per_minute (the rate the bucket refills at)")
            }
            tiers.append(tier)
        }
        return tiers
    }

    /// Client keys in file order; names and digests must be unique, tiers and models defined.
    func keys(_ value: ConfigValue?, tierNames: Set<String>, modelNames: Set<String>) throws(ConfigError)
        -> [KeyConfig]
    {
        guard let value else { return [] }
        var keys: [KeyConfig] = []
        for item in try reader.items(value) {
            let fields = try reader.fields(
                item, allowed: ["name", "key_sha256", "tier", "models", "expires", "metadata"])
            guard let nameValue = fields["name"] else { throw reader.error(item, "missing required key 'name'") }
            guard let digestValue = fields["key_sha256"] else {
                throw reader.error(item, "missing required key 'key_sha256' (hex SHA-256 of the key)")
            }
            guard let tierValue = fields["tier"] else { throw reader.error(item, "missing required key 'tier'") }
            let name = try reader.nonEmptyString(nameValue)
            if keys.contains(where: { $0.name == name }) {
                throw reader.error(nameValue, "duplicate key name '\(name)'")
            }
            let digest = try reader.string(digestValue).lowercased()
            guard ConfigValidation.isSHA256Hex(digest) else {
                throw reader.error(
                    digestValue, "must be exactly 64 hex characters (the SHA-256 of the key), found \(digest.count)")
            }
            if let other = keys.first(where: { $0.keySHA256 == digest }) {
                throw reader.error(digestValue, "same digest as key '\(other.name)'")
            }
            let tier = try reader.string(tierValue)
            guard tierNames.contains(tier) else {
                var message = "unknown tier '\(tier)'"
                if let guess = ConfigValidation.closest(to: tier, among: tierNames.sorted()) {
                    message += " (did you mean '\(guess)'?)"
                } else {
                    message += " (defined: \(tierNames.sorted().joined(separator: ", ")))"
                }
                throw reader.error(tierValue, message)
            }
            var key = KeyConfig(name: name, keySHA256: digest, tier: tier)
            if let v = fields["models"] { key.models = try modelList(v, modelNames: modelNames) }
            if let v = fields["expires"] { key.expires = try date(v) }
            if let v = fields["metadata"] {
                for entry in try reader.entries(v) { key.metadata[entry.key] = try reader.string(entry.value) }
            }
            keys.append(key)
        }
        return keys
    }

    func modelList(_ value: ConfigValue, modelNames: Set<String>) throws(ConfigError) -> [String] {
        var names: [String] = []
        for item in try reader.items(value) {
            let name = try reader.nonEmptyString(item)
            guard modelNames.contains(name) else {
                var message = "unknown model '\(name)'"
                if let guess = ConfigValidation.closest(to: name, among: modelNames.sorted()) {
                    message += " (did you mean '\(guess)'?)"
                }
                throw reader.error(item, message)
            }
            names.append(name)
        }
        return names
    }

    /// RFC 3339 ("2027-01-01T00:00:00Z", fractional seconds allowed) or a bare date (midnight UTC).
    func date(_ value: ConfigValue) throws(ConfigError) -> Date {
        let text = try reader.string(value)
        for options: ISO8601DateFormatter.Options in [
            [.withInternetDateTime], [.withInternetDateTime, .withFractionalSeconds], [.withFullDate],
        ] {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = options
            if let date = formatter.date(from: text) { return date }
        }
        throw reader.error(value, "expected a date such as 2027-01-01T00:00:00Z, found '\(text)'")
    }
}
