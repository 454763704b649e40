import Foundation
import GatewayCore

/// A rule broken by a single value; the caller adds the key path and line.
struct ConfigProblem: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// Checks of single values that need more than a type conversion: addresses, URLs, digests,
/// header names. Pure functions, so they are tested through the loader with located errors.
enum ConfigValidation {
    /// `host:port` where host is IPv4, `[IPv6]` or a hostname and port is 0–65535.
    static func listenAddress(_ text: String) -> Result<ServerConfig.ListenAddress, ConfigProblem> {
        let expected = "expected host:port such as 0.0.0.0:8080, [::]:8080 or localhost:8080, found '\(text)'"
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return .failure(ConfigProblem(expected))
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
            guard isIPv6(host) else { return .failure(ConfigProblem("'\(host)' is not an IPv6 address")) }
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else {
                return .failure(ConfigProblem(expected))
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard isIPv4(host) || (!looksNumeric(host) && isHostname(host)) else {
                return .failure(ConfigProblem("'\(host)' is not an IPv4 address or hostname"))
            }
        }
        guard let port = port(portText) else {
            return .failure(ConfigProblem("port must be a number from 0 to 65535, found '\(portText)'"))
        }
        return .success(ServerConfig.ListenAddress(host: String(host), port: port))
    }

    static func port(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy({ $0.isASCII && $0.isNumber }),
            let port = Int(text), port <= 65535
        else { return nil }
        return port
    }

    static func looksNumeric(_ host: Substring) -> Bool { host.allSatisfy { $0.isASCII && ($0.isNumber || $0 == ".") } }

    static func isIPv4(_ host: Substring) -> Bool {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4
            && parts.allSatisfy { part in
                !part.isEmpty && part.count <= 3 && part.allSatisfy { $0.isASCII && $0.isNumber } && Int(part)! <= 255
            }
    }

    static func isIPv6(_ host: Substring) -> Bool {
        // Structure is left to inet_pton at bind time; this catches typos and stray characters.
        guard host.contains(":"), host.count <= 45 else { return false }
        return host.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
    }

    /// RFC 1123 labels: letters, digits and inner hyphens, 1–63 characters each.
    static func isHostname(_ host: Substring) -> Bool {
        guard !host.isEmpty, host.count <= 253 else { return false }
        return host.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }

    /// An absolute http(s) URL with a host; a trailing "/" is dropped so paths can be appended.
    static func baseURL(_ text: String) -> Result<String, ConfigProblem> {
        let lower = text.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
            return .failure(ConfigProblem("must be an http:// or https:// URL, found '\(text)'"))
        }
        guard let components = URLComponents(string: text), let host = components.host, !host.isEmpty,
            components.query == nil, components.fragment == nil
        else { return .failure(ConfigProblem("'\(text)' is not a valid URL with a host and no query")) }
        var url = text
        while url.hasSuffix("/") { url.removeLast() }
        return .success(url)
    }

    /// `redis://[user[:password]@]host[:port][/db]` or `unix:///path/to.sock[?db=N]`.
    static func redisEndpoint(_ text: String) -> Result<StateConfig.RedisEndpoint, ConfigProblem> {
        if text.hasPrefix("rediss://") {
            return .failure(
                ConfigProblem(
                    "rediss:// (TLS) is not supported: the hiredis in use has no TLS; use redis:// or unix://"))
        }
        if text.hasPrefix("unix://") {
            guard let components = URLComponents(string: text), components.path.hasPrefix("/"),
                components.host?.isEmpty ?? true
            else { return .failure(ConfigProblem("expected unix:///absolute/path/redis.sock[?db=N], found '\(text)'")) }
            var database = 0
            for item in components.queryItems ?? [] {
                guard item.name == "db", let db = item.value.flatMap(Int.init), db >= 0 else {
                    return .failure(ConfigProblem("unknown or invalid query '\(item.name)' in '\(text)' (only db=N)"))
                }
                database = db
            }
            return .success(StateConfig.RedisEndpoint(address: .unix(path: components.path), database: database))
        }
        guard text.hasPrefix("redis://") else {
            return .failure(ConfigProblem("expected a redis:// or unix:// URL, found '\(text)'"))
        }
        guard let components = URLComponents(string: text), let host = components.host, !host.isEmpty,
            components.query == nil
        else { return .failure(ConfigProblem("expected redis://[user:password@]host[:port][/db], found '\(text)'")) }
        let port = components.port ?? 6379
        guard (1...65535).contains(port) else { return .failure(ConfigProblem("port out of range in '\(text)'")) }
        var database = 0
        let path = components.path.drop { $0 == "/" }
        if !path.isEmpty {
            guard let db = Int(path), db >= 0 else {
                return .failure(ConfigProblem("database must be a number (redis://host:6379/0), found '/\(path)'"))
            }
            database = db
        }
        let unbracketed = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        let username = components.percentEncodedUser.flatMap { $0.isEmpty ? nil : $0.removingPercentEncoding }
        let password = components.percentEncodedPassword.flatMap { $0.isEmpty ? nil : $0.removingPercentEncoding }
        return .success(
            StateConfig.RedisEndpoint(
                address: .tcp(host: unbracketed, port: port), database: database, username: username,
                password: password.map(Secret.init)))
    }

    static func isSHA256Hex(_ text: String) -> Bool {
        text.utf8.count == 64 && text.allSatisfy { $0.isHexDigit }
    }

    /// RFC 9110 token characters.
    static func isHeaderName(_ name: String) -> Bool {
        !name.isEmpty
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "!#$%&'*+-.^_`|~".contains($0)) }
    }

    /// Names that are credentials by convention, whose values are masked when rendered.
    static func isSensitiveHeaderName(_ name: String) -> Bool {
        let lower = name.lowercased()
        return lower == "authorization" || lower == "cookie" || lower == "proxy-authorization"
            || ["key", "token", "secret", "password"].contains { lower.contains($0) }
    }

    /// The candidate within edit distance 2 (or a third of the word) closest to `word`, for "did you mean".
    static func closest(to word: String, among candidates: [String]) -> String? {
        let limit = max(2, word.count / 3)
        var best: (name: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(Array(word.lowercased()), Array(candidate.lowercased()))
            if distance <= limit && distance < (best?.distance ?? .max) { best = (candidate, distance) }
        }
        return best?.name
    }

    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
