/// Builds small JSON documents (error bodies, model lists, SSE error events) straight into a
/// byte array, without Foundation. Appenders write one token each and add no separators; `Value`
/// and `append(_:to:)` write a whole tree. Pure functions; callable from any thread.
public enum JSONWriter {
    /// Appends `s` as a quoted JSON string: `"` `\` and the control characters with a short form
    /// are escaped as `\"` `\\` `\n` `\r` `\t` `\b` `\f`, other controls as `\u00XX`; all other
    /// characters, non-ASCII included, are copied as UTF-8.
    public static func appendString(_ s: String, to out: inout [UInt8]) {
        var text = s
        text.withUTF8 { utf8 in appendString(utf8: UnsafeRawBufferPointer(utf8), to: &out) }
    }

    /// `appendString` for text that is already UTF-8 bytes (not validated: the caller vouches).
    public static func appendString(utf8: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var runStart = 0
        for index in 0..<utf8.count {
            let value = utf8[index]
            guard value < 0x20 || value == UInt8(ascii: "\"") || value == UInt8(ascii: "\\") else { continue }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: utf8[runStart..<index]))
            runStart = index &+ 1
            out.append(UInt8(ascii: "\\"))
            switch value {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(value)
            case 0x0A: out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(UInt8(ascii: "r"))
            case 0x09: out.append(UInt8(ascii: "t"))
            case 0x08: out.append(UInt8(ascii: "b"))
            case 0x0C: out.append(UInt8(ascii: "f"))
            default:
                let hex: StaticString = "0123456789abcdef"
                out.append(contentsOf: [
                    UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                    hex.utf8Start[Int(value >> 4)], hex.utf8Start[Int(value & 0x0F)],
                ])
            }
        }
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: utf8[runStart...]))
        out.append(UInt8(ascii: "\""))
    }

    /// Appends `"key":`.
    public static func appendKey(_ key: String, to out: inout [UInt8]) {
        appendString(key, to: &out)
        out.append(UInt8(ascii: ":"))
    }

    /// Appends a decimal integer without going through `String`.
    public static func appendInt(_ value: Int, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digitCount = 1
        var rest = magnitude
        while rest >= 10 {
            rest /= 10
            digitCount &+= 1
        }
        let start = out.count
        out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digitCount))
        var index = start &+ digitCount &- 1
        repeat {
            out[index] = UInt8(ascii: "0") &+ UInt8(magnitude % 10)
            magnitude /= 10
            index &-= 1
        } while magnitude > 0
    }

    /// Appends the shortest round-tripping form of `value`; JSON has no NaN or infinity, so
    /// non-finite values are written as `null`.
    public static func appendDouble(_ value: Double, to out: inout [UInt8]) {
        guard value.isFinite else {
            appendNull(to: &out)
            return
        }
        // Swift's description is RFC-valid for finite values ("1.5", "1e-07", "5e+20").
        out.append(contentsOf: value.description.utf8)
    }

    public static func appendBool(_ value: Bool, to out: inout [UInt8]) {
        out.append(contentsOf: (value ? "true" : "false").utf8)
    }

    public static func appendNull(to out: inout [UInt8]) {
        out.append(contentsOf: "null".utf8)
    }

    /// A JSON tree for bodies built off the hot path. Object members keep their order;
    /// `raw` embeds bytes that are already valid JSON (the caller vouches for them).
    public indirect enum Value: Sendable {
        case string(String)
        case int(Int)
        case double(Double)
        case bool(Bool)
        case null
        case array([Value])
        case object([(key: String, value: Value)])
        case raw([UInt8])
    }

    /// Appends `value` in compact form.
    public static func append(_ value: Value, to out: inout [UInt8]) {
        switch value {
        case .string(let text): appendString(text, to: &out)
        case .int(let number): appendInt(number, to: &out)
        case .double(let number): appendDouble(number, to: &out)
        case .bool(let flag): appendBool(flag, to: &out)
        case .null: appendNull(to: &out)
        case .raw(let bytes): out.append(contentsOf: bytes)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                append(element, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                appendKey(member.key, to: &out)
                append(member.value, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// `value` as compact JSON bytes.
    public static func encode(_ value: Value) -> [UInt8] {
        var out: [UInt8] = []
        append(value, to: &out)
        return out
    }
}
