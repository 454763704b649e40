import Testing

@testable import GatewayCore

/// The fields `JSONScanner.scanRequest` extracts, and `replacingModel`.
@Suite struct JSONScannerTests {
    static let chatRequest = """
        {"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant that \
        answers briefly."},{"role":"user","content":"What is the capital of France? One sentence, please."}],\
        "stream":true,"temperature":0.7,"max_tokens":256}
        """

    private func scan(_ text: String) throws -> RequestFields {
        try JSONScanner.scanRequest(Array(text.utf8))
    }

    @Test func typicalChatRequest() throws {
        let fields = try scan(Self.chatRequest)
        #expect(fields.model == "gpt-4o-mini")
        #expect(fields.modelValueRange == 9..<22)
        #expect(fields.stream)
        #expect(!fields.includeUsage)
        #expect(fields.maxTokens == 256)
        #expect(fields.n == nil && fields.user == nil)
        #expect(fields.hasMessages && !fields.hasPrompt && !fields.hasInput)
        #expect(!fields.modelIsNotString)
    }

    @Test func emptyObjectHasNoFields() throws {
        #expect(try scan("{}") == RequestFields())
        #expect(try scan(" \t\r\n{ \n}\n") == RequestFields())
    }

    @Test func modelIsUnescapedAndItsRangeCoversTheQuotes() throws {
        let text = #"{"model": "gpt\u002d4"}"#
        let fields = try scan(text)
        #expect(fields.model == "gpt-4")
        let range = try #require(fields.modelValueRange)
        #expect(String(decoding: Array(text.utf8)[range], as: UTF8.self) == #""gpt\u002d4""#)

        let escaped = try scan(#"{"model":"a\"b\\c\/d\b\f\n\r\t\u00e9\u20AC\ud83d\ude00é😀"}"#)
        #expect(escaped.model.map { Array($0.unicodeScalars) } == Array("a\"b\\c/d\u{8}\u{C}\n\r\té€😀é😀".unicodeScalars))
        #expect(try scan(#"{"model":""}"#).model == "")
    }

    @Test func modelThatIsNotAStringIsFlagged() throws {
        for value in ["4", "null", "true", "{\"name\":\"gpt-4\"}", "[\"gpt-4\"]"] {
            let fields = try scan("{\"model\":\(value)}")
            #expect(fields.model == nil && fields.modelIsNotString && fields.modelValueRange == nil, "\(value)")
        }
        let absent = try scan(#"{"messages":[]}"#)
        #expect(absent.model == nil && !absent.modelIsNotString)
    }

    @Test func duplicateKeysLastOneWins() throws {
        let stringLast = try scan(#"{"model":1,"model":"b","stream":true,"stream":false,"n":1,"n":2}"#)
        #expect(stringLast.model == "b" && !stringLast.modelIsNotString && stringLast.modelValueRange == 19..<22)
        #expect(!stringLast.stream && stringLast.n == 2)
        let numberLast = try scan(#"{"model":"a","model":1}"#)
        #expect(numberLast.model == nil && numberLast.modelIsNotString && numberLast.modelValueRange == nil)
    }

    @Test func escapedKeysMatchLikeAnyParserWould() throws {
        let fields = try scan(#"{"mod\u0065l":"m","\u0073tream":true,"max\u005ftokens":5,"us\u0065r":"u"}"#)
        #expect(fields == RequestFields(model: "m", modelValueRange: 14..<17, stream: true, maxTokens: 5, user: "u"))
        #expect(try scan(#"{"model\u0000":"m"}"#).model == nil)
    }

    @Test func streamIsTrueOnlyForTheLiteralTrue() throws {
        #expect(try scan(#"{"stream":true}"#).stream)
        #expect(try scan(#"{"stream" : true }"#).stream)
        for value in ["false", "null", "\"true\"", "1", "{}", "[true]"] {
            #expect(try !scan("{\"stream\":\(value)}").stream, "\(value)")
        }
        #expect(try !scan(#"{"options":{"stream":true}}"#).stream)
    }

    @Test func includeUsageComesFromTheStreamOptionsObject() throws {
        #expect(try scan(#"{"stream":true,"stream_options":{"include_usage":true}}"#).includeUsage)
        #expect(try scan(#"{"stream_options":{"x":[1,{"include_usage":false}],"include_usage":true,"y":{}}}"#).includeUsage)
        #expect(try scan(#"{"stream_options":{"include_usage":true,"include_usage":false}}"#).includeUsage == false)
        for options in [
            #"{"include_usage":false}"#, #"{"include_usage":null}"#, #"{"include_usage":"true"}"#, "{}",
            #"{"nested":{"include_usage":true}}"#, "null", "true", #"[{"include_usage":true}]"#,
        ] {
            #expect(try !scan("{\"stream_options\":\(options)}").includeUsage, "\(options)")
        }
        #expect(try !scan(#"{"include_usage":true}"#).includeUsage)
        #expect(try !scan(#"{"stream_options":{"include_usage":true},"stream_options":{}}"#).includeUsage)
    }

    @Test func maxTokensFallsBackToMaxCompletionTokens() throws {
        #expect(try scan(#"{"max_tokens":100}"#).maxTokens == 100)
        #expect(try scan(#"{"max_completion_tokens":200}"#).maxTokens == 200)
        #expect(try scan(#"{"max_completion_tokens":200,"max_tokens":100}"#).maxTokens == 100)
        #expect(try scan(#"{"max_tokens":null,"max_completion_tokens":200}"#).maxTokens == 200)
        #expect(try scan(#"{"max_tokens":"100","max_completion_tokens":200}"#).maxTokens == 200)
        for value in ["1.5", "1e3", "100.0", "\"100\"", "null", "99999999999999999999", "[]"] {
            #expect(try scan("{\"max_tokens\":\(value)}").maxTokens == nil, "\(value)")
        }
        #expect(try scan(#"{"max_tokens":-1}"#).maxTokens == -1)
        #expect(try scan(#"{"max_tokens":-0}"#).maxTokens == 0)
        #expect(try scan("{\"max_tokens\":\(Int.max)}").maxTokens == Int.max)
        #expect(try scan("{\"max_tokens\":\(Int.min)}").maxTokens == Int.min)
        #expect(try scan(#"{"max_tokens":9223372036854775808}"#).maxTokens == nil)
        #expect(try scan(#"{"max_tokens":-9223372036854775809}"#).maxTokens == nil)
    }

    @Test func nAndUser() throws {
        let fields = try scan(#"{"n":3,"user":"user-\u00e9"}"#)
        #expect(fields.n == 3 && fields.user == "user-é")
        let mistyped = try scan(#"{"n":"3","user":42}"#)
        #expect(mistyped.n == nil && mistyped.user == nil)
    }

    @Test func presenceOfMessagesPromptAndInput() throws {
        let fields = try scan(#"{"messages":null,"prompt":"hi","input":["a","b"]}"#)
        #expect(fields.hasMessages && fields.hasPrompt && fields.hasInput)
        let nested = try scan(#"{"extra":{"messages":[],"prompt":"","input":1}}"#)
        #expect(!nested.hasMessages && !nested.hasPrompt && !nested.hasInput)
    }

    @Test func unknownFieldsAreValidatedButIgnored() throws {
        let fields = try scan(
            #"{"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"#
                + #""logit_bias":{"50256":-100},"seed":-1.5e-3,"x":[[],{},"",0,true,false,null],"model":"m"}"#)
        #expect(fields == RequestFields(model: "m", modelValueRange: 170..<173))
    }

    @Test func scansOnlyTheGivenBytesOfALargerBuffer() throws {
        let storage = Array(#"{"model":"abc"}garbage"#.utf8)
        let fields = try storage.withUnsafeBytes { raw in
            try JSONScanner.scanRequest(UnsafeRawBufferPointer(rebasing: raw[0..<15]))
        }
        #expect(fields.model == "abc")
    }

    @Test func replacingModelKeepsEveryOtherByte() throws {
        let original = Array(#"{ "model" : "gpt\u002d4" , "x":{"model":"inner"},"stream":true}"#.utf8)
        let fields = try JSONScanner.scanRequest(original)
        let range = try #require(fields.modelValueRange)
        let rewritten = JSONScanner.replacingModel(in: original, range: range, with: "provider/\"model\"\n€")
        let expectedText = #"{ "model" : "provider/\"model\"\n€" , "x":{"model":"inner"},"stream":true}"#
        #expect(rewritten == Array(expectedText.utf8))
        let rescanned = try JSONScanner.scanRequest(rewritten)
        #expect(rescanned.model == "provider/\"model\"\n€")
        #expect(rescanned.stream)
        let again = JSONScanner.replacingModel(in: rewritten, range: try #require(rescanned.modelValueRange), with: "gpt-4")
        #expect(again == Array(#"{ "model" : "gpt-4" , "x":{"model":"inner"},"stream":true}"#.utf8))
    }

    @Test func replacingModelHandlesEveryControlCharacter() throws {
        let body = Array(#"{"model":"x","n":1}"#.utf8)
        let range = try #require(try JSONScanner.scanRequest(body).modelValueRange)
        let nasty = String(String.UnicodeScalarView((0..<0x80).map { Unicode.Scalar(UInt8($0)) })) + "é😀"
        let rewritten = JSONScanner.replacingModel(in: body, range: range, with: nasty)
        let fields = try JSONScanner.scanRequest(rewritten)
        #expect(fields.model.map { Array($0.unicodeScalars) } == Array(nasty.unicodeScalars))
        #expect(fields.n == 1)
    }

    /// Runs the hot path many times: catches leaks or quadratic behaviour; no timing assertion
    /// (the timing is measured with a release build, see the JSON helper's report).
    @Test func scansTheTypicalRequestTwoHundredThousandTimes() throws {
        let body = Array(Self.chatRequest.utf8)
        var total = 0
        try body.withUnsafeBytes { raw in
            for _ in 0..<200_000 {
                total &+= try JSONScanner.scanRequest(raw).maxTokens ?? 0
            }
        }
        #expect(total == 256 * 200_000)
    }
}
