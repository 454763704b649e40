import Foundation
import Testing

@testable import MockProvider

@Suite struct JSONParserTests {
    private func parse(_ text: String) -> JSONValue? { JSONParser.parse(Array(text.utf8)) }

    @Test func parsesEveryKindOfValue() {
        let value = parse(
            #" {"a":[1,-2,3.5,1e2,0,-0.25E-1],"b":{"c":null,"d":true,"e":false},"s":"x\"y\\z\/\n\t\u00e9","":[]} "#)
        #expect(
            value
                == .object([
                    (
                        "a",
                        .array([.integer(1), .integer(-2), .number(3.5), .number(100), .integer(0), .number(-0.025)])
                    ),
                    ("b", .object([("c", .null), ("d", .bool(true)), ("e", .bool(false))])),
                    ("s", .string("x\"y\\z/\n\té")), ("", .array([])),
                ]))
    }

    @Test func decodesSurrogatePairsAndKeepsRawUTF8() {
        #expect(parse(#""\ud83d\ude80 ünï""#) == .string("🚀 ünï"))
        #expect(parse("\"中文🚀\"") == .string("中文🚀"))
        #expect(parse(#""\u0000""#) == .string("\u{0}"))
    }

    @Test func rejectsMalformedDocuments() {
        let malformed = [
            "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "01", "-", "1.", ".5", "1e", "+1",
            "tru", "nul", "\"abc", "\"a\u{01}b\"", "\"\\x\"", "\"\\u12\"", "\"\\ud83d\"", "\"\\ude80\"",
            "\"\\ud83d\\u0041\"", "[1] [2]", "{\"a\":1}}", "NaN", "[\"a\" \"b\"]", "'a'",
        ]
        for text in malformed {
            #expect(parse(text) == nil, "\(text.debugDescription)")
            // Linux JSONSerialization tolerates trailing commas; RFC 8259 (and OpenAI) do not.
            guard !text.hasSuffix(",]"), !text.hasSuffix(",}") else { continue }
            #expect(
                (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)) == nil,
                "JSONSerialization agrees that \(text.debugDescription) is malformed")
        }
    }

    @Test func acceptsWhatJSONSerializationAccepts() {
        let valid = ["0", "-0", "1E+2", "[]", "{}", " [ 1 , { } ] ", "\"\"", "[null,true]", "123456789012", "1.5e-300"]
        for text in valid {
            #expect(parse(text) != nil, "\(text)")
        }
    }

    @Test func capsNestingDepth() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(parse(deep) == nil)
        let fine = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(parse(fine) != nil)
    }

    @Test func integersStayExactAndHugeOnesBecomeDoubles() {
        #expect(parse("9007199254740993") == .integer(9_007_199_254_740_993))
        #expect(parse("99999999999999999999") == .number(1e20))
        #expect(JSONValue.number(3.0).integerValue == 3)
        #expect(JSONValue.number(3.5).integerValue == nil)
        #expect(JSONValue.bool(true).integerValue == nil)
    }

    @Test func lastDuplicateKeyWins() {
        #expect(parse(#"{"a":1,"a":2}"#)?["a"] == .integer(2))
    }
}
