import Foundation
import Testing

@testable import GatewayCore

/// `JSONWriter` output is exact where it matters and always parses back (Foundation and our scanner).
@Suite struct JSONWriterTests {
    private func written(_ text: String) -> String {
        var out: [UInt8] = []
        JSONWriter.appendString(text, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses `[<bytes>]` with Foundation and returns the single element.
    private func foundationElement(_ bytes: [UInt8]) throws -> Any {
        let array = try #require(
            try JSONSerialization.jsonObject(with: Data([UInt8(ascii: "[")] + bytes + [UInt8(ascii: "]")])) as? [Any])
        return try #require(array.first)
    }

    @Test func escapesExactlyWhatJSONRequires() {
        #expect(written("plain") == #""plain""#)
        #expect(written("") == #""""#)
        #expect(written("a\"b\\c/d") == #""a\"b\\c/d""#)
        #expect(written("\n\r\t\u{8}\u{C}") == #""\n\r\t\b\f""#)
        #expect(written("\u{0}\u{1}\u{1F}\u{7F}") == "\"\\u0000\\u0001\\u001f\u{7F}\"")
        #expect(written("é€😀\u{2028}") == "\"é€😀\u{2028}\"")
    }

    @Test func everyControlCharacterAndNonASCIIRoundTripsThroughFoundationAndTheScanner() throws {
        var scalars = (0..<0x80).map { Unicode.Scalar(UInt8($0)) }
        scalars += ["é", "\u{7FF}", "\u{800}", "€", "\u{D7FF}", "\u{E000}", "\u{FFFD}", "\u{FFFF}", "😀", "\u{10FFFF}"]
        for scalar in scalars {
            let text = "x" + String(scalar) + "y"
            var out: [UInt8] = []
            JSONWriter.appendString(text, to: &out)
            let parsed = try #require(try foundationElement(out) as? String)
            #expect(Array(parsed.unicodeScalars) == Array(text.unicodeScalars), "U+\(String(scalar.value, radix: 16))")
            var body = Array(#"{"model":"#.utf8)
            body += out
            body.append(UInt8(ascii: "}"))
            let model = try JSONScanner.scanRequest(body).model
            #expect(model.map { Array($0.unicodeScalars) } == Array(text.unicodeScalars))
        }
        // All of them in one string, to cover runs between escapes.
        let everything = String(String.UnicodeScalarView(scalars))
        var out: [UInt8] = []
        JSONWriter.appendString(everything, to: &out)
        #expect(try (foundationElement(out) as? String).map { Array($0.unicodeScalars) } == Array(everything.unicodeScalars))
    }

    @Test func integersIncludingTheExtremes() throws {
        for value in [0, 1, -1, 9, 10, 99, 100, -100, 1_234_567_890, Int.max, Int.min] {
            var out: [UInt8] = []
            JSONWriter.appendInt(value, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == String(value))
        }
    }

    @Test func doublesAreValidJSONAndNonFiniteOnesAreNull() throws {
        for value in [0.0, -0.0, 1.5, -2.25, 1e-7, 5e20, 1e300, Double.leastNonzeroMagnitude, Double.greatestFiniteMagnitude, 0.1] {
            var out: [UInt8] = []
            JSONWriter.appendDouble(value, to: &out)
            let parsed = try #require(try foundationElement(out) as? NSNumber)
            #expect(parsed.doubleValue == value, "\(String(decoding: out, as: UTF8.self))")
            #expect(throws: Never.self) { try JSONScanner.scanRequest(Array(#"{"a":"#.utf8) + out + [UInt8(ascii: "}")]) }
        }
        for value in [Double.nan, .infinity, -.infinity] {
            var out: [UInt8] = []
            JSONWriter.appendDouble(value, to: &out)
            #expect(out == Array("null".utf8))
        }
    }

    @Test func errorBodyInTheOpenAIShape() throws {
        let body = JSONWriter.encode(
            .object([
                (
                    "error",
                    .object([
                        ("message", .string("model \"x\" not found\n")), ("type", .string("invalid_request_error")),
                        ("param", .null), ("code", .string("model_not_found")),
                    ])
                )
            ]))
        let expected = #"{"error":{"message":"model \"x\" not found\n","type":"invalid_request_error","param":null,"code":"model_not_found"}}"#
        #expect(body == Array(expected.utf8))
        #expect(throws: Never.self) { try JSONScanner.scanRequest(body) }
    }

    @Test func modelListWithAllValueKinds() throws {
        let list = JSONWriter.Value.object([
            ("object", .string("list")),
            (
                "data",
                .array([
                    .object([("id", .string("gpt-4o")), ("object", .string("model")), ("created", .int(1_700_000_000))]),
                    .object([("id", .string("é")), ("ok", .bool(true)), ("off", .bool(false)), ("score", .double(0.5))]),
                ])
            ),
            ("empty", .array([])), ("none", .object([])), ("raw", .raw(Array(#"{"k":[1]}"#.utf8))),
        ])
        let bytes = JSONWriter.encode(list)
        let expected =
            #"{"object":"list","data":[{"id":"gpt-4o","object":"model","created":1700000000},"#
            + #"{"id":"é","ok":true,"off":false,"score":0.5}],"empty":[],"none":{},"raw":{"k":[1]}}"#
        #expect(String(decoding: bytes, as: UTF8.self) == expected)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(parsed["object"] as? String == "list")
        #expect((parsed["data"] as? [Any])?.count == 2)
    }

    @Test func appendKeyAddsTheColon() {
        var out: [UInt8] = []
        JSONWriter.appendKey("a\"b", to: &out)
        JSONWriter.appendNull(to: &out)
        #expect(String(decoding: out, as: UTF8.self) == #""a\"b":null"#)
    }
}
