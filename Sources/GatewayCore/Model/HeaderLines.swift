import Bytes
import HTTPTypes

/// Header lines a stage renders itself, already in wire form (`name: value\r\n` each), which the
/// edge writes after the response's `headers`. Meant for headers rendered on every answer (the
/// rate-limit headers): as `HTTPField`s each would cost a validation of its value, a `String`
/// and an index update, which was more than the rest of the stage's own work.
///
/// Only gateway-rendered text goes here, never relayed text: whoever appends vouches that the
/// name is a token and the value visible ASCII with inner spaces. A plain value.
public struct HeaderLines: Sendable, Equatable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// Lines already in wire form (`HeaderLines.line` each): constant lines, built once.
    public init(rendered bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Appends lines written through a cursor (`name: value\r\n` each), at most `maxCount`
    /// bytes, in one copy: how a stage renders many lines at once. The buffer is left with
    /// `edgeRoom` to spare, so the edge's own lines go into it (`take`) without another
    /// allocation and copy of these.
    public mutating func write(maxCount: Int, _ body: (inout ByteWriter) -> Void) {
        bytes.appendWriting(maxCount: maxCount, spare: Self.edgeRoom, body)
    }

    /// What the edge's stamp (request id, provider and model, overhead) usually takes.
    public static let edgeRoom = 224

    /// The lines' bytes, moved out (the lines are left empty): the edge appends its own to them.
    public mutating func take() -> [UInt8] {
        var taken: [UInt8] = []
        swap(&taken, &bytes)
        return taken
    }

    /// `name: value` as a line, in wire form (a plan's constant lines, rendered once).
    public static func line(_ name: String, _ value: String) -> [UInt8] {
        Array((name + ": " + value + "\r\n").utf8)
    }

    /// Each line as (name, value), in order.
    public var pairs: [(name: String, value: String)] {
        var pairs: [(String, String)] = []
        var start = 0
        while start < bytes.count, let end = bytes[start...].firstIndex(of: UInt8(ascii: "\r")) {
            let line = bytes[start..<end]
            if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
                let valueStart = line.index(colon, offsetBy: 2, limitedBy: end) ?? end
                pairs.append((String(decoding: line[..<colon], as: UTF8.self), String(decoding: bytes[valueStart..<end], as: UTF8.self)))
            }
            start = end + 2
        }
        return pairs
    }

    /// The first value for `name` (ASCII case-insensitive): for tests and readers off the hot path.
    public subscript(name: String) -> String? {
        pairs.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The lines as fields, for the rare path that needs them in `HTTPFields`.
    public var fields: HTTPFields {
        var fields = HTTPFields()
        for (name, value) in pairs {
            if let fieldName = HTTPField.Name(name) { fields.append(HTTPField(name: fieldName, value: value)) }
        }
        return fields
    }
}
