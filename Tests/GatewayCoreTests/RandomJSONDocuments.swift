@testable import GatewayCore

/// SplitMix64: a deterministic generator, so the property tests see the same documents every run.
struct JSONTestRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func int(_ range: Range<Int>) -> Int { Int(next() % UInt64(range.count)) + range.lowerBound }
    mutating func chance(_ percent: Int) -> Bool { int(0..<100) < percent }
    mutating func pick<T>(_ choices: [T]) -> T { choices[int(0..<choices.count)] }
}

/// A generated JSON value; numbers keep their exact text and, when integral and in range, their Int.
indirect enum JSONTestValue {
    case object([(key: String, value: JSONTestValue)])
    case array([JSONTestValue])
    case string(String)
    case number(text: String, integer: Int?)
    case bool(Bool)
    case null
}

/// Random request-like documents, their serialization with random escapes and whitespace, byte-level
/// corruption, and the `RequestFields` a correct scanner must extract from them.
enum RandomJSONDocuments {
    static let requestKeys = [
        "model", "stream", "stream_options", "max_tokens", "max_completion_tokens", "n", "user",
        "messages", "prompt", "input",
    ]

    /// Mostly request-shaped objects; sometimes another top-level value (which must be rejected).
    static func document(_ random: inout JSONTestRandom) -> JSONTestValue {
        guard random.chance(88) else { return value(depth: 0, &random) }
        var members: [(key: String, value: JSONTestValue)] = []
        for _ in 0..<random.int(0..<9) {
            if random.chance(55) {
                let key = random.pick(requestKeys)
                members.append((key, requestValue(for: key, &random)))
            } else {
                members.append((string(&random), value(depth: 1, &random)))
            }
        }
        return .object(members)
    }

    static func requestValue(for key: String, _ random: inout JSONTestRandom) -> JSONTestValue {
        switch key {
        case "model", "user":
            return random.chance(80) ? .string(random.chance(50) ? random.pick(["gpt-4o", "gpt-4o-mini", "ö"]) : string(&random))
                : value(depth: 1, &random)
        case "stream":
            return random.pick([.bool(true), .bool(false), .null, .number(text: "1", integer: 1), .string("true")])
        case "stream_options":
            guard random.chance(75) else { return value(depth: 1, &random) }
            var members: [(key: String, value: JSONTestValue)] = []
            for _ in 0..<random.int(0..<4) {
                if random.chance(60) {
                    members.append(("include_usage", random.pick([.bool(true), .bool(false), .null, .string("true")])))
                } else {
                    members.append((string(&random), value(depth: 2, &random)))
                }
            }
            return .object(members)
        case "max_tokens", "max_completion_tokens", "n":
            return random.chance(70) ? number(&random) : value(depth: 1, &random)
        default:
            return value(depth: 1, &random)
        }
    }

    static func value(depth: Int, _ random: inout JSONTestRandom) -> JSONTestValue {
        let kind = depth >= 5 ? random.int(2..<6) : random.int(0..<6)
        switch kind {
        case 0:
            return .object((0..<random.int(0..<5)).map { _ in (string(&random), value(depth: depth + 1, &random)) })
        case 1:
            return .array((0..<random.int(0..<5)).map { _ in value(depth: depth + 1, &random) })
        case 2: return .string(string(&random))
        case 3: return number(&random)
        case 4: return .bool(random.chance(50))
        default: return .null
        }
    }

    /// Characters that stress escaping and UTF-8: quotes, backslash, controls, 2/3/4-byte scalars.
    static let scalarPool: [Unicode.Scalar] = [
        "a", "Z", "0", " ", "\"", "\\", "/", "\u{0}", "\u{1F}", "\n", "\t", "\u{8}", "\u{C}", "\r", "\u{7F}",
        "é", "€", "\u{7FF}", "\u{800}", "\u{D7FF}", "\u{E000}", "\u{FFFF}", "😀", "\u{10000}", "\u{10FFFF}", "\u{2028}",
    ]

    static func string(_ random: inout JSONTestRandom) -> String {
        var text = String.UnicodeScalarView()
        if random.chance(20) {
            // Long plain runs exercise the word-at-a-time path, with an occasional special in it.
            for _ in 0..<random.int(16..<80) {
                text.append(random.chance(4) ? random.pick(scalarPool) : Unicode.Scalar(UInt8(random.int(0x20..<0x7F))))
            }
        } else {
            for _ in 0..<random.int(0..<10) { text.append(random.pick(scalarPool)) }
        }
        return String(text)
    }

    static func number(_ random: inout JSONTestRandom) -> JSONTestValue {
        func digits(_ count: Int) -> String { String((0..<count).map { _ in Character(String(random.int(0..<10))) }) }
        switch random.int(0..<100) {
        case 0..<40:
            let value = random.int(-1000..<100_000)
            return .number(text: String(value), integer: value)
        case 40..<52:
            let value = Int(truncatingIfNeeded: random.next())
            return .number(text: String(value), integer: value)
        case 52..<57:
            // Too large for Int (20-25 digits), still fine for Foundation.
            let text = (random.chance(50) ? "-" : "") + String(random.int(1..<10)) + digits(random.int(19..<25))
            return .number(text: text, integer: nil)
        case 57..<77:
            return .number(text: "\(random.int(-99..<1000)).\(digits(random.int(1..<6)))", integer: nil)
        case 77..<95:
            let mantissa = random.chance(50) ? String(random.int(-99..<1000)) : "\(random.int(0..<10)).\(digits(2))"
            let exponent = random.pick(["e", "E"]) + random.pick(["", "+", "-"]) + String(random.int(0..<100))
            return .number(text: mantissa + exponent, integer: nil)
        default:
            return random.pick([.number(text: "-0", integer: 0), .number(text: "0", integer: 0), .number(text: "0.0", integer: nil)])
        }
    }

    // MARK: - Serialization

    static func serialize(_ value: JSONTestValue, _ random: inout JSONTestRandom) -> [UInt8] {
        var out: [UInt8] = []
        whitespace(&out, &random)
        append(value, to: &out, &random)
        whitespace(&out, &random)
        return out
    }

    static func whitespace(_ out: inout [UInt8], _ random: inout JSONTestRandom) {
        guard random.chance(15) else { return }
        for _ in 0..<random.int(1..<4) { out.append(random.pick([0x20, 0x09, 0x0A, 0x0D])) }
    }

    static func append(_ value: JSONTestValue, to out: inout [UInt8], _ random: inout JSONTestRandom) {
        switch value {
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                whitespace(&out, &random)
                appendString(member.key, to: &out, &random)
                whitespace(&out, &random)
                out.append(UInt8(ascii: ":"))
                whitespace(&out, &random)
                append(member.value, to: &out, &random)
                whitespace(&out, &random)
            }
            out.append(UInt8(ascii: "}"))
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                whitespace(&out, &random)
                append(element, to: &out, &random)
                whitespace(&out, &random)
            }
            out.append(UInt8(ascii: "]"))
        case .string(let text): appendString(text, to: &out, &random)
        case .number(let text, _): out.append(contentsOf: text.utf8)
        case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .null: out.append(contentsOf: "null".utf8)
        }
    }

    /// Escapes what must be escaped (in short or `\u` form) and, at random, other characters too,
    /// non-BMP ones as surrogate pairs.
    static func appendString(_ text: String, to out: inout [UInt8], _ random: inout JSONTestRandom) {
        func hex(_ unit: UInt32) {
            let digits = String(unit, radix: 16)
            let padded = String(repeating: "0", count: 4 - digits.count) + digits
            out.append(contentsOf: "\\u".utf8)
            out.append(contentsOf: (random.chance(50) ? padded.uppercased() : padded).utf8)
        }
        let shortForms: [UInt32: String] = [0x22: "\\\"", 0x5C: "\\\\", 0x08: "\\b", 0x0C: "\\f", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"]
        out.append(UInt8(ascii: "\""))
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if let short = shortForms[value], random.chance(70) {
                out.append(contentsOf: short.utf8)
            } else if value < 0x20 || value == 0x22 || value == 0x5C || random.chance(12) {
                if value > 0xFFFF {
                    hex(0xD800 + ((value - 0x10000) >> 10))
                    hex(0xDC00 + ((value - 0x10000) & 0x3FF))
                } else {
                    hex(value)
                }
            } else if value == 0x2F, random.chance(30) {
                out.append(contentsOf: "\\/".utf8)
            } else {
                out.append(contentsOf: String(scalar).utf8)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    // MARK: - Corruption

    static let interestingBytes: [UInt8] = Array("{}[]\",:\\/019-+.eEtfnuax \t\n\r".utf8) + [
        0x00, 0x01, 0x1F, 0x7F, 0x80, 0xBF, 0xC0, 0xC3, 0xE2, 0xED, 0xF0, 0xF4, 0xF5, 0xFF,
    ]
    static let interestingTokens: [[UInt8]] =
        [
            "\\uD800", "\\uDC00", "\\uD83D\\uDE00", "\\uDBFF", ",", "01", "1e5", "-", ".5", "true", "nul", "\"", "\\",
            "{}", "[]", "\\u00", "\\x", "é", "😀", "[[[[", "]]",
        ].map { Array($0.utf8) } + [
            // Overlong, surrogate, out-of-range and truncated UTF-8 next to their valid neighbours.
            [0xC0, 0x80], [0xC1, 0xBF], [0xC2, 0x80], [0xE0, 0x80, 0x80], [0xE0, 0xA0, 0x80], [0xED, 0xA0, 0x80],
            [0xED, 0x9F, 0xBF], [0xF0, 0x8F, 0xBF, 0xBF], [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x90, 0x80, 0x80],
            [0xF4, 0x8F, 0xBF, 0xBF], [0xF8, 0x88, 0x80, 0x80], [0xE2, 0x82],
        ]

    /// One or two random edits: replace, insert or delete bytes, insert a tricky token, truncate,
    /// or duplicate a slice.
    static func corrupt(_ bytes: [UInt8], _ random: inout JSONTestRandom) -> [UInt8] {
        var result = bytes
        for _ in 0..<random.int(1..<3) {
            let position = random.int(0..<(result.count + 1))
            switch random.int(0..<7) {
            case 0 where position < result.count: result[position] = random.pick(interestingBytes)
            case 1: result.insert(random.pick(interestingBytes), at: position)
            case 2 where position < result.count:
                result.removeSubrange(position..<min(result.count, position + random.int(1..<4)))
            case 3: result.insert(contentsOf: random.pick(interestingTokens), at: position)
            case 4: result.removeSubrange(position...)
            case 5 where position + 1 < result.count: result.swapAt(position, position + 1)
            default:
                let start = random.int(0..<(result.count + 1))
                let slice = Array(result[start..<min(result.count, start + random.int(1..<8))])
                result.insert(contentsOf: slice, at: position)
            }
        }
        return result
    }

    /// Known differences between Foundation's `JSONSerialization` on Linux and RFC 8259 (each one is
    /// tested against the RFC in `JSONScannerRFCTests`); documents that might hit one are not compared:
    /// - it accepts trailing commas (`[1,]`, `{"a":1,}`), which the grammar forbids;
    /// - it rejects numbers beyond Double's range (`1e400`), which the grammar allows;
    /// - it sniffs UTF-16/32 from NUL bytes among the first four and skips byte-order marks; RFC 8259
    ///   §8.1 requires UTF-8 for exchanged JSON and we refuse a BOM.
    static func foundationDivergesFromRFC(_ bytes: [UInt8]) -> Bool {
        if bytes.prefix(4).contains(0) { return true }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) || bytes.starts(with: [0xFE, 0xFF]) || bytes.starts(with: [0xFF, 0xFE]) {
            return true
        }
        // Only bytes outside strings matter; string bounds are found the way a JSON lexer finds them.
        var insideString = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if insideString {
                if byte == UInt8(ascii: "\\") { index += 1 } else if byte == UInt8(ascii: "\"") { insideString = false }
            } else if byte == UInt8(ascii: "\"") {
                insideString = true
            } else if byte == UInt8(ascii: ",") {
                let next = bytes[(index + 1)...].first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
                if next == UInt8(ascii: "]") || next == UInt8(ascii: "}") { return true }
            } else if byte | 0x20 == UInt8(ascii: "e") {
                var digits = bytes[(index + 1)...].drop { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") }
                digits = digits.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
                if digits.count >= 3 { return true }
            }
            index += 1
        }
        return false
    }

    // MARK: - Expected fields

    /// What `scanRequest` must report for a generated object (last duplicate wins). The model's byte
    /// range cannot be derived from the tree, so it is taken from `scanned` and checked separately.
    static func expectedFields(_ tree: JSONTestValue, rangeFrom scanned: RequestFields) -> RequestFields {
        guard case .object(let members) = tree else { return RequestFields() }
        var fields = RequestFields()
        var maxTokens: Int?
        var maxCompletionTokens: Int?
        for (key, value) in members {
            switch key {
            case "model":
                if case .string(let text) = value {
                    fields.model = text
                    fields.modelIsNotString = false
                } else {
                    fields.model = nil
                    fields.modelIsNotString = true
                }
            case "stream": fields.stream = isTrue(value)
            case "stream_options":
                fields.includeUsage = false
                if case .object(let options) = value {
                    for (optionKey, optionValue) in options where optionKey == "include_usage" {
                        fields.includeUsage = isTrue(optionValue)
                    }
                }
            case "max_tokens": maxTokens = integer(value)
            case "max_completion_tokens": maxCompletionTokens = integer(value)
            case "n": fields.n = integer(value)
            case "user":
                if case .string(let text) = value { fields.user = text } else { fields.user = nil }
            case "messages": fields.hasMessages = true
            case "prompt": fields.hasPrompt = true
            case "input": fields.hasInput = true
            default: break
            }
        }
        fields.maxTokens = maxTokens ?? maxCompletionTokens
        fields.modelValueRange = fields.model == nil ? nil : scanned.modelValueRange
        return fields
    }

    private static func isTrue(_ value: JSONTestValue) -> Bool {
        if case .bool(true) = value { return true }
        return false
    }

    private static func integer(_ value: JSONTestValue) -> Int? {
        if case .number(_, let integer) = value { return integer }
        return nil
    }
}
