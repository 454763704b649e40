/// The JSON body of a POST request with typed accessors that throw the OpenAI-shaped error for
/// the field at fault (wrong type, out of range). Parsed by `JSONParser` on the bytes, so a request
/// costs a few microseconds; `MockReplyCache` spares repeated benchmark requests even that.
/// A transient value built and used inside one `respond` call.
struct RequestObject {
    let members: [(String, JSONValue)]
    /// Prefix for error `param` names of nested objects (e.g. "stream_options.").
    let path: String

    init(members: [(String, JSONValue)], path: String = "") {
        self.members = members
        self.path = path
    }

    /// Parses a body that must be one JSON object.
    static func parse(_ body: [UInt8]) -> Result<RequestObject, MockRequestError> {
        guard let parsed = JSONParser.parse(body) else { return .failure(.malformedJSON) }
        guard case .object(let members) = parsed else { return .failure(.bodyNotObject) }
        return .success(RequestObject(members: members))
    }

    /// The model name when it is a string, without validation: the fault plan is read from it
    /// before the request is checked, so an injected error wins over a validation error.
    var rawModel: String {
        if case .string(let model) = value("model") { return model }
        return ""
    }

    /// The required, non-empty `model`.
    func model() throws(MockRequestError) -> String {
        guard case .string(let model) = value("model"), !model.isEmpty else { throw .missingModel }
        return model
    }

    /// The member `key`; nil when absent or JSON null (OpenAI treats null as "not given").
    func value(_ key: String) -> JSONValue? {
        guard let value = members.last(where: { $0.0 == key })?.1, value != .null else { return nil }
        return value
    }

    func bool(_ key: String) throws(MockRequestError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let flag) = value else { throw .invalidType(path + key, expected: "a boolean") }
        return flag
    }

    func string(_ key: String) throws(MockRequestError) -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let text) = value else { throw .invalidType(path + key, expected: "a string") }
        return text
    }

    /// An integer member that must lie in `range` when present.
    func int(_ key: String, in range: ClosedRange<Int>) throws(MockRequestError) -> Int? {
        guard let value = value(key) else { return nil }
        guard let number = value.integerValue else { throw .invalidType(path + key, expected: "an integer") }
        guard range.contains(number) else {
            throw .outOfRange(path + key, number, minimum: range.lowerBound, maximum: range.upperBound)
        }
        return number
    }

    func object(_ key: String) throws(MockRequestError) -> RequestObject? {
        guard let value = value(key) else { return nil }
        guard case .object(let members) = value else { throw .invalidType(path + key, expected: "an object") }
        return RequestObject(members: members, path: path + key + ".")
    }
}

extension JSONValue {
    /// An integral number (`3` or `3.0`), never a boolean.
    var integerValue: Int? {
        switch self {
        case .integer(let value): value
        case .number(let value): Int(exactly: value)
        default: nil
        }
    }

    var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// The elements when every one is an integer (a token array), else nil.
    var tokenIDs: [Int]? {
        guard case .array(let items) = self else { return nil }
        var ids: [Int] = []
        ids.reserveCapacity(items.count)
        for item in items {
            guard let id = item.integerValue else { return nil }
            ids.append(id)
        }
        return ids
    }
}
