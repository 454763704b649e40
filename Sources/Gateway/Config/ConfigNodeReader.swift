import Foundation
import GatewayCore
import Yams

/// A YAML node with the key path that reached it ("models.gpt-4o.deployments[0]"), so that every
/// problem found while reading it can name both the path and the line.
struct ConfigValue {
    let node: Node
    let path: String

    var line: Int? { node.mark?.line }

    func childPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
}

/// One `key: value` pair of a mapping, with the key's own line (reported for unknown keys).
struct ConfigEntry {
    let key: String
    let keyLine: Int?
    let value: ConfigValue
}

/// The pairs of a mapping whose keys were checked against a fixed list; looking a key up yields
/// nil both when it is absent and when its value is null, because every key has a default.
struct ConfigFields {
    let container: ConfigValue
    let entries: [ConfigEntry]

    subscript(key: String) -> ConfigValue? {
        guard let entry = entries.first(where: { $0.key == key }), !ConfigReader.isNull(entry.value.node) else {
            return nil
        }
        return entry.value
    }
}

/// Typed reads of YAML nodes for the config loader: each read either returns a checked value or
/// throws a `ConfigError` carrying the node's key path and line. Scalars go through `${VAR}`
/// interpolation first. A plain value with no state beyond the variables it resolves from.
struct ConfigReader {
    let file: String
    let environment: [String: String]
    let dotEnv: [String: String]

    func error(_ value: ConfigValue, _ message: String) -> ConfigError {
        ConfigError(file: file, line: value.line, keyPath: value.path, message: message)
    }

    func warning(_ value: ConfigValue, _ message: String) -> String {
        error(value, message).description
    }

    /// A plain `~`, `null` or empty scalar: YAML's way of writing "no value", read as "use the default".
    static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    static func kind(of node: Node) -> String {
        switch node {
        case .scalar: return "a scalar"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    /// The pairs of a mapping in file order; null reads as an empty mapping.
    func entries(_ value: ConfigValue) throws(ConfigError) -> [ConfigEntry] {
        if Self.isNull(value.node) { return [] }
        guard case .mapping(let mapping) = value.node else {
            throw error(value, "expected a mapping, found \(Self.kind(of: value.node))")
        }
        var result: [ConfigEntry] = []
        for (keyNode, valueNode) in mapping {
            guard case .scalar(let key) = keyNode, !key.string.isEmpty else {
                throw ConfigError(
                    file: file, line: keyNode.mark?.line, keyPath: value.path, message: "keys must be non-empty strings"
                )
            }
            result.append(
                ConfigEntry(
                    key: key.string, keyLine: keyNode.mark?.line,
                    value: ConfigValue(node: valueNode, path: value.childPath(key.string))))
        }
        return result
    }

    /// A mapping whose keys must all be in `allowed`; a typo is an error at the key's line.
    func fields(_ value: ConfigValue, allowed: [String]) throws(ConfigError) -> ConfigFields {
        let pairs = try entries(value)
        for entry in pairs where !allowed.contains(entry.key) {
            var message = "unknown key '\(entry.key)'"
            if let guess = ConfigValidation.closest(to: entry.key, among: allowed) {
                message += " (did you mean '\(guess)'?)"
            } else {
                message += " (known keys: \(allowed.joined(separator: ", ")))"
            }
            throw ConfigError(file: file, line: entry.keyLine, keyPath: entry.value.path, message: message)
        }
        return ConfigFields(container: value, entries: pairs)
    }

    /// The items of a list in file order, each with its `[index]` path; null reads as empty.
    func items(_ value: ConfigValue) throws(ConfigError) -> [ConfigValue] {
        if Self.isNull(value.node) { return [] }
        guard case .sequence(let sequence) = value.node else {
            throw error(value, "expected a list, found \(Self.kind(of: value.node))")
        }
        return sequence.enumerated().map { ConfigValue(node: $0.element, path: "\(value.path)[\($0.offset)]") }
    }

    /// The scalar's text after `${VAR}` interpolation; an unset variable without default is an error.
    func string(_ value: ConfigValue) throws(ConfigError) -> String {
        switch try interpolated(value) {
        case .text(let text, _):
            return text
        case .unset(let variable):
            throw error(
                value, "environment variable \(variable) is not set (write ${\(variable):-default} to give a default)")
        }
    }

    /// The scalar's interpolation outcome, for callers that treat an unset variable specially.
    func interpolated(_ value: ConfigValue) throws(ConfigError) -> ConfigInterpolated {
        guard case .scalar(let scalar) = value.node else {
            throw error(value, "expected a single value, found \(Self.kind(of: value.node))")
        }
        do {
            return try ConfigInterpolation.expand(scalar.string) { name in environment[name] ?? dotEnv[name] }
        } catch {
            throw self.error(value, error.message)
        }
    }

    func nonEmptyString(_ value: ConfigValue) throws(ConfigError) -> String {
        let text = try string(value)
        guard !text.isEmpty else { throw error(value, "must not be empty") }
        return text
    }

    func int(_ value: ConfigValue, atLeast minimum: Int) throws(ConfigError) -> Int {
        let text = try string(value)
        guard let number = Int(text.replacingOccurrences(of: "_", with: "")) else {
            throw error(value, "expected a whole number, found '\(text)'")
        }
        guard number >= minimum else { throw error(value, "must be at least \(minimum), found \(number)") }
        return number
    }

    func double(_ value: ConfigValue, atLeast minimum: Double) throws(ConfigError) -> Double {
        let text = try string(value)
        guard let number = Double(text.replacingOccurrences(of: "_", with: "")), number.isFinite else {
            throw error(value, "expected a number, found '\(text)'")
        }
        guard number >= minimum else { throw error(value, "must be at least \(minimum), found \(text)") }
        return number
    }

    func bool(_ value: ConfigValue) throws(ConfigError) -> Bool {
        let text = try string(value)
        switch text.lowercased() {
        case "true": return true
        case "false": return false
        default: throw error(value, "expected true or false, found '\(text)'")
        }
    }

    /// A duration such as "250ms" or "30s"; `positive` refuses zero (timeouts), else zero is allowed.
    func timeSpan(_ value: ConfigValue, positive: Bool = true) throws(ConfigError) -> TimeSpan {
        let text = try string(value)
        guard let span = TimeSpan(parsing: text) else {
            throw error(value, "expected a duration such as 250ms, 30s, 5m or 1h, found '\(text)'")
        }
        if positive && span.nanoseconds == 0 { throw error(value, "must be greater than zero") }
        return span
    }

    func byteSize(_ value: ConfigValue) throws(ConfigError) -> ByteSize {
        let text = try string(value)
        guard let size = ByteSize(parsing: text) else {
            throw error(value, "expected a size such as 1024, 512KiB, 4MiB or 1MB, found '\(text)'")
        }
        guard size.bytes > 0 else { throw error(value, "must be greater than zero") }
        return size
    }

    /// One of an enum's spellings; the error lists them all.
    func choice<Choice: RawRepresentable & CaseIterable>(_ value: ConfigValue, _: Choice.Type) throws(ConfigError)
        -> Choice where Choice.RawValue == String
    {
        let text = try string(value)
        if let choice = Choice(rawValue: text) { return choice }
        let names = Choice.allCases.map(\.rawValue)
        throw error(value, "unknown value '\(text)' (expected one of: \(names.joined(separator: ", ")))")
    }

    func stringList(_ value: ConfigValue) throws(ConfigError) -> [String] {
        var result: [String] = []
        for item in try items(value) { result.append(try nonEmptyString(item)) }
        return result
    }
}
