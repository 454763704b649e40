/// The top-level members the gateway reads from an OpenAI request body, as found by
/// `JSONScanner.scanRequest`. Absent or mistyped members read as nil/false so the caller decides
/// which of them are errors; duplicate keys were resolved "last one wins". A plain value.
public struct RequestFields: Sendable, Equatable {
    /// `model` unescaped; nil when absent or not a string.
    public var model: String?
    /// True when `model` is present but its value is not a string (a 400 for the caller).
    public var modelIsNotString: Bool
    /// Byte range of the `model` value token including its quotes, for `JSONScanner.replacingModel`;
    /// nil unless `model` is a string.
    public var modelValueRange: Range<Int>?
    /// True only for the literal `true`; absent, `false`, `null` or any other value read as false.
    public var stream: Bool
    /// True only when `stream_options` is an object whose `include_usage` is the literal `true`.
    public var includeUsage: Bool
    /// `max_tokens` when it is an integer that fits `Int`, otherwise `max_completion_tokens` when that is.
    public var maxTokens: Int?
    /// `n` when it is an integer that fits `Int`.
    public var n: Int?
    /// `user` when it is a string.
    public var user: String?
    /// Whether the key `messages` / `prompt` / `input` is present (with any value, `null` included).
    public var hasMessages: Bool
    public var hasPrompt: Bool
    public var hasInput: Bool

    public init(
        model: String? = nil, modelIsNotString: Bool = false, modelValueRange: Range<Int>? = nil,
        stream: Bool = false, includeUsage: Bool = false, maxTokens: Int? = nil, n: Int? = nil,
        user: String? = nil, hasMessages: Bool = false, hasPrompt: Bool = false, hasInput: Bool = false
    ) {
        self.model = model
        self.modelIsNotString = modelIsNotString
        self.modelValueRange = modelValueRange
        self.stream = stream
        self.includeUsage = includeUsage
        self.maxTokens = maxTokens
        self.n = n
        self.user = user
        self.hasMessages = hasMessages
        self.hasPrompt = hasPrompt
        self.hasInput = hasInput
    }
}

extension JSONScanner {
    /// The top-level keys that feed `RequestFields`; everything else is validated and skipped.
    enum RequestMember {
        case model, stream, streamOptions, maxTokens, maxCompletionTokens, n, user
        case messages, prompt, input, other

        /// Whether `key` is exactly the bytes of `name`.
        @inline(__always)
        static func spells(_ key: UnsafeRawBufferPointer, _ name: StaticString) -> Bool {
            let count = name.utf8CodeUnitCount
            guard key.count == count else { return false }
            let expected = name.utf8Start
            for index in 0..<count where key[index] != expected[index] { return false }
            return true
        }

        /// Matches unescaped key bytes; a switch on the length first keeps unknown keys cheap.
        static func matching(_ key: UnsafeRawBufferPointer) -> RequestMember {
            switch key.count {
            case 1: return key[0] == UInt8(ascii: "n") ? .n : .other
            case 4: return spells(key, "user") ? .user : .other
            case 5:
                if spells(key, "model") { return .model }
                return spells(key, "input") ? .input : .other
            case 6:
                if spells(key, "stream") { return .stream }
                return spells(key, "prompt") ? .prompt : .other
            case 8: return spells(key, "messages") ? .messages : .other
            case 10: return spells(key, "max_tokens") ? .maxTokens : .other
            case 14: return spells(key, "stream_options") ? .streamOptions : .other
            case 21: return spells(key, "max_completion_tokens") ? .maxCompletionTokens : .other
            default: return .other
            }
        }
    }
}

extension JSONScanner.Cursor {
    /// Scans the top-level object under the cursor and returns the members it knows; every other
    /// member is validated without being looked at. Fields live in locals until the end so a
    /// duplicate key costs an overwrite, not a copy of the whole struct.
    mutating func scanRequestObject() throws(JSONSyntaxError) -> RequestFields {
        position &+= 1  // "{"
        if try peekSignificant(expecting: "a key or '}'") == UInt8(ascii: "}") {
            position &+= 1
            return RequestFields()
        }
        var model: JSONScanner.StringToken?
        var modelIsNotString = false
        var user: JSONScanner.StringToken?
        var stream = false
        var includeUsage = false
        var maxTokens: Int?
        var maxCompletionTokens: Int?
        var n: Int?
        var hasMessages = false
        var hasPrompt = false
        var hasInput = false
        repeat {
            let key = try scanMemberKey()
            switch member(named: key) {
            case .model:
                model = try scanStringIfPresent()
                modelIsNotString = model == nil
            case .user: user = try scanStringIfPresent()
            case .stream: stream = try scanIsLiteralTrue(enclosingDepth: 1)
            case .streamOptions: includeUsage = try scanStreamOptions()
            case .maxTokens: maxTokens = try scanInteger()
            case .maxCompletionTokens: maxCompletionTokens = try scanInteger()
            case .n: n = try scanInteger()
            case .messages:
                hasMessages = true
                try skipValue(enclosingDepth: 1)
            case .prompt:
                hasPrompt = true
                try skipValue(enclosingDepth: 1)
            case .input:
                hasInput = true
                try skipValue(enclosingDepth: 1)
            case .other:
                try skipValue(enclosingDepth: 1)
            }
        } while try scanSeparator(inObject: true)
        // Strings are decoded once, for the occurrence that won.
        return RequestFields(
            model: model.map(decodeString), modelIsNotString: modelIsNotString,
            modelValueRange: model.map { $0.quote..<($0.contentEnd &+ 1) },
            stream: stream, includeUsage: includeUsage, maxTokens: maxTokens ?? maxCompletionTokens, n: n,
            user: user.map(decodeString), hasMessages: hasMessages, hasPrompt: hasPrompt, hasInput: hasInput)
    }

    /// Validates the next value and returns its token when it is a string.
    mutating func scanStringIfPresent() throws(JSONSyntaxError) -> JSONScanner.StringToken? {
        if try peekSignificant(expecting: "a value") == UInt8(ascii: "\"") {
            return try scanString()
        }
        try skipValue(enclosingDepth: 1)
        return nil
    }

    /// `stream_options`: true only for an object whose last `include_usage` is the literal true.
    mutating func scanStreamOptions() throws(JSONSyntaxError) -> Bool {
        guard try peekSignificant(expecting: "a value") == UInt8(ascii: "{") else {
            try skipValue(enclosingDepth: 1)
            return false
        }
        position &+= 1
        if try peekSignificant(expecting: "a key or '}'") == UInt8(ascii: "}") {
            position &+= 1
            return false
        }
        var includeUsage = false
        repeat {
            let key = try scanMemberKey()
            if keyEquals(key, "include_usage") {
                includeUsage = try scanIsLiteralTrue(enclosingDepth: 2)
            } else {
                try skipValue(enclosingDepth: 2)
            }
        } while try scanSeparator(inObject: true)
        return includeUsage
    }

    /// Validates the next value and tells whether it was the literal `true`.
    mutating func scanIsLiteralTrue(enclosingDepth: Int) throws(JSONSyntaxError) -> Bool {
        if try peekSignificant(expecting: "a value") == UInt8(ascii: "t") {
            try scanLiteral("true")
            return true
        }
        try skipValue(enclosingDepth: enclosingDepth)
        return false
    }

    /// Validates the next value and returns it when it is an integer that fits `Int`.
    mutating func scanInteger() throws(JSONSyntaxError) -> Int? {
        let first = try peekSignificant(expecting: "a value")
        guard first == UInt8(ascii: "-") || isDigit(first) else {
            try skipValue(enclosingDepth: 1)
            return nil
        }
        return integerValue(of: try scanNumber())
    }

    /// Classifies a key; escaped keys ("mod\u0065l") are unescaped into stack memory first,
    /// so they match exactly as a parser building a dictionary would.
    func member(named key: JSONScanner.StringToken) -> JSONScanner.RequestMember {
        let raw = UnsafeRawBufferPointer(start: base + key.contentStart, count: key.contentEnd &- key.contentStart)
        guard key.hasEscapes else { return .matching(raw) }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: raw.count) { buffer in
            let count = Self.unescape(raw, into: buffer.baseAddress!)
            return .matching(UnsafeRawBufferPointer(start: buffer.baseAddress!, count: count))
        }
    }

    /// Whether a key spells `name` after unescaping.
    func keyEquals(_ key: JSONScanner.StringToken, _ name: StaticString) -> Bool {
        let raw = UnsafeRawBufferPointer(start: base + key.contentStart, count: key.contentEnd &- key.contentStart)
        guard key.hasEscapes else { return JSONScanner.RequestMember.spells(raw, name) }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: raw.count) { buffer in
            let count = Self.unescape(raw, into: buffer.baseAddress!)
            return JSONScanner.RequestMember.spells(UnsafeRawBufferPointer(start: buffer.baseAddress!, count: count), name)
        }
    }
}
