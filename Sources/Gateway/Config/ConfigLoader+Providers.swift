import GatewayCore

/// The named sections that refer to each other: `providers` and `models`.
extension ConfigAssembly {
    mutating func providers(_ value: ConfigValue?, upstream: UpstreamConfig) throws(ConfigError) -> ConfigProviderSet {
        let entries = try value.map { v throws(ConfigError) in try reader.entries(v) } ?? []
        guard !entries.isEmpty else { return try discoverProviders(upstream: upstream, section: value) }
        var set = ConfigProviderSet(kept: [], leftOut: [:])
        for entry in entries {
            let (provider, leftOutReason) = try provider(entry, upstream: upstream)
            if let leftOutReason {
                set.leftOut[provider.name] = leftOutReason
            } else {
                set.kept.append(provider)
            }
        }
        if !set.kept.contains(where: { $0.name == "mock" }) {
            set.kept.append(ProviderConfig(name: "mock", type: .mock, timeouts: .init(defaultsFrom: upstream)))
        }
        return set
    }

    /// One provider, fully checked even when its key is missing (so typos still fail), plus the
    /// reason it is left out, if it is.
    mutating func provider(_ entry: ConfigEntry, upstream: UpstreamConfig) throws(ConfigError)
        -> (ProviderConfig, leftOut: String?)
    {
        let name = entry.key
        let value = entry.value
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
            throw ConfigError(
                file: reader.file, line: entry.keyLine, keyPath: value.path,
                message: "provider names may use only letters, digits, '-', '_' and '.'")
        }
        let fields = try reader.fields(value, allowed: ["type", "base_url", "api_key", "headers", "timeouts"])
        var provider = ProviderConfig(
            name: name, type: name == "mock" ? .mock : .openai, timeouts: .init(defaultsFrom: upstream))
        if let typeValue = fields["type"] {
            let typeName = try reader.string(typeValue)
            if let type = ProviderType(rawValue: typeName) {
                provider.type = type
            } else if ProviderType.planned.contains(typeName) {
                throw reader.error(typeValue, "provider type '\(typeName)' is not supported yet")
            } else {
                let names = ProviderType.allCases.map(\.rawValue).joined(separator: ", ")
                throw reader.error(typeValue, "unknown provider type '\(typeName)' (expected one of: \(names))")
            }
        }
        if name == "mock" && provider.type != .mock {
            throw reader.error(
                fields["type"] ?? value, "the name 'mock' is reserved for the built-in provider of type mock")
        }
        if let urlValue = fields["base_url"] {
            switch ConfigValidation.baseURL(try reader.string(urlValue)) {
            case .success(let url): provider.baseURL = url
            case .failure(let problem): throw reader.error(urlValue, problem.message)
            }
        } else if provider.type == .openai {
            guard let known = DiscoverableProvider.named(name) else {
                throw reader.error(value, "base_url is required (only well-known provider names have a default)")
            }
            provider.baseURL = known.baseURL
        }
        if let headers = fields["headers"] { provider.headers = try self.headers(headers) }
        if let timeouts = fields["timeouts"] {
            let f = try reader.fields(timeouts, allowed: ["connect", "first_byte", "total"])
            if let v = f["connect"] { provider.timeouts.connect = try reader.timeSpan(v) }
            if let v = f["first_byte"] { provider.timeouts.firstByte = try reader.timeSpan(v) }
            if let v = f["total"] { provider.timeouts.total = try reader.timeSpan(v) }
        }
        guard let keyValue = fields["api_key"] else { return (provider, nil) }
        let reason: String
        switch try reader.interpolated(keyValue) {
        case .text(let key, _) where !key.isEmpty:
            provider.apiKey = Secret(key)
            return (provider, nil)
        case .text(_, let usedVariables):
            guard usedVariables else { throw reader.error(keyValue, "must not be empty (leave it out to send no key)") }
            reason = "its api_key expands to an empty string"
        case .unset(let variable):
            reason = "\(variable) is not set"
        }
        warnings.append(reader.warning(keyValue, "provider '\(name)' left out: \(reason)"))
        return (provider, reason)
    }

    func headers(_ value: ConfigValue) throws(ConfigError) -> [ProviderConfig.Header] {
        var headers: [ProviderConfig.Header] = []
        for entry in try reader.entries(value) {
            guard ConfigValidation.isHeaderName(entry.key) else {
                throw reader.error(entry.value, "'\(entry.key)' is not a valid HTTP header name")
            }
            guard case .text(let text, let usedVariables) = try reader.interpolated(entry.value) else {
                _ = try reader.string(entry.value)  // throws the located "not set" error
                continue
            }
            guard !text.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else {
                throw reader.error(entry.value, "header values may not contain line breaks")
            }
            headers.append(
                ProviderConfig.Header(
                    name: entry.key, value: text,
                    isSensitive: usedVariables || ConfigValidation.isSensitiveHeaderName(entry.key)))
        }
        return headers
    }
}
