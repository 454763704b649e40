import GatewayCore

/// What a scalar became after `${VAR}` interpolation.
enum ConfigInterpolated: Equatable {
    /// The expanded text; `usedVariables` says whether any `${…}` contributed to it.
    case text(String, usedVariables: Bool)
    /// The first variable that is unset and has no `:-default`.
    case unset(String)
}

struct ConfigInterpolationError: Error {
    let message: String
}

/// `${VAR}` / `${VAR:-default}` / `$$` expansion of one scalar. `:-` follows the shell: the default
/// applies when the variable is unset OR empty. A `$` followed by anything else stays literal, so
/// passwords containing `$` need no escaping unless the next character is `{` or `$`.
enum ConfigInterpolation {
    static func expand(_ text: String, lookup: (String) -> String?) throws(ConfigInterpolationError)
        -> ConfigInterpolated
    {
        guard text.contains("$") else { return .text(text, usedVariables: false) }
        var output = ""
        var usedVariables = false
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            let next = text.index(after: index)
            guard character == "$", next < text.endIndex else {
                output.append(character)
                index = next
                continue
            }
            if text[next] == "$" {
                output.append("$")
                index = text.index(after: next)
                continue
            }
            guard text[next] == "{" else {
                output.append(character)
                index = next
                continue
            }
            let bodyStart = text.index(after: next)
            guard let close = text[bodyStart...].firstIndex(of: "}") else {
                throw ConfigInterpolationError(message: "unterminated '${' (write '$$' for a literal '$')")
            }
            let body = text[bodyStart..<close]
            let name: Substring
            let fallback: Substring?
            if let separator = body.range(of: ":-") {
                name = body[..<separator.lowerBound]
                fallback = body[separator.upperBound...]
            } else {
                name = body
                fallback = nil
            }
            guard isVariableName(name) else {
                throw ConfigInterpolationError(message: "invalid variable name '\(name)' in '${\(body)}'")
            }
            usedVariables = true
            let found = lookup(String(name))
            if let fallback, found == nil || found == "" {
                output += fallback
            } else if let found {
                output += found
            } else {
                return .unset(String(name))
            }
            index = text.index(after: close)
        }
        return .text(output, usedVariables: usedVariables)
    }

    static func isVariableName(_ name: Substring) -> Bool {
        guard let first = name.first, first == "_" || (first.isASCII && first.isLetter) else { return false }
        return name.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
    }
}

extension ConfigLoader {
    /// Reads a `.env` file: `KEY=VALUE` lines, optionally prefixed by `export`; `#` starts a comment
    /// on its own line or after whitespace in an unquoted value; values may be single-quoted
    /// (literal) or double-quoted (`\n`, `\t`, `\"`, `\\` escapes). Malformed lines are skipped;
    /// a later line wins over an earlier one.
    public static func parseDotEnv(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for rawLine in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            var line = rawLine.drop { $0 == " " || $0 == "\t" }
            if line.hasSuffix("\r") { line = line.dropLast() }
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            if line.hasPrefix("export ") || line.hasPrefix("export\t") {
                line = line.dropFirst("export".count).drop { $0 == " " || $0 == "\t" }
            }
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingSpaces()
            guard ConfigInterpolation.isVariableName(key) else { continue }
            let rawValue = line[line.index(after: equals)...].drop { $0 == " " || $0 == "\t" }
            guard let value = dotEnvValue(rawValue) else { continue }
            result[String(key)] = value
        }
        return result
    }

    static func dotEnvValue(_ raw: Substring) -> String? {
        guard let quote = raw.first, quote == "\"" || quote == "'" else {
            // Unquoted: a " #" starts a comment; surrounding blanks are not part of the value.
            var value = raw
            if let hash = value.indices.first(where: {
                value[$0] == "#" && $0 > value.startIndex && [" ", "\t"].contains(value[value.index(before: $0)])
            }) {
                value = value[..<hash]
            }
            return String(value.trimmingSpaces())
        }
        var value = ""
        var index = raw.index(after: raw.startIndex)
        while index < raw.endIndex {
            let character = raw[index]
            if character == quote { return value }
            if quote == "\"" && character == "\\" {
                let next = raw.index(after: index)
                guard next < raw.endIndex else { return nil }
                switch raw[next] {
                case "n": value.append("\n")
                case "t": value.append("\t")
                case "r": value.append("\r")
                default: value.append(raw[next])
                }
                index = raw.index(after: next)
                continue
            }
            value.append(character)
            index = raw.index(after: index)
        }
        return nil  // unterminated quote
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else {
            return ""
        }
        return self[first...last]
    }
}
