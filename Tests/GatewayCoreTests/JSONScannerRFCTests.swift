import Foundation
import Testing

@testable import GatewayCore

/// Syntax errors with their offsets, the depth limit, and the RFC 8259 cases where Foundation on
/// Linux behaves differently (and which the differential test therefore leaves out).
@Suite struct JSONScannerRFCTests {
    private func error(_ bytes: [UInt8]) -> JSONSyntaxError? {
        do {
            _ = try JSONScanner.scanRequest(bytes)
            return nil
        } catch {
            return error
        }
    }

    private func error(_ text: String) -> JSONSyntaxError? { error(Array(text.utf8)) }

    private func accepts(_ bytes: [UInt8]) -> Bool { error(bytes) == nil }

    private func foundationAcceptsObject(_ bytes: [UInt8]) -> Bool {
        (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) is [String: Any]
    }

    @Test(arguments: [
        (#"{"model":"abc"#, 9, "unterminated string"),
        (#"{"a":"\"#, 5, "unterminated string"),
        (#"{"a":"\u12"#, 5, "unterminated string"),
        (#"{"a":1,}"#, 7, "trailing comma in object"),
        (#"{"a":[1,]}"#, 8, "trailing comma in array"),
        (#"{"a":[1, ]}"#, 9, "trailing comma in array"),
        (#"{"a":01}"#, 5, "leading zero in number"),
        (#"{"a":-012}"#, 5, "leading zero in number"),
        (#"{"a":1.}"#, 5, "invalid number: no digit after '.'"),
        (#"{"a":1e}"#, 5, "invalid number: no digit in exponent"),
        (#"{"a":1e+}"#, 5, "invalid number: no digit in exponent"),
        (#"{"a":-}"#, 5, "invalid number"),
        (#"{"a":-x}"#, 5, "invalid number"),
        (#"{"a":+1}"#, 5, "expected a value"),
        (#"{"a":.5}"#, 5, "expected a value"),
        (#"{"a":"\x"}"#, 6, "invalid escape"),
        (#"{"a":"\U00e9"}"#, 6, "invalid escape"),
        (#"{"a":"\u12G4"}"#, 6, "invalid \\u escape"),
        (#"{"a":"\uD800"}"#, 6, "unpaired UTF-16 surrogate in \\u escape"),
        (#"{"a":"\uD800\u0041"}"#, 6, "unpaired UTF-16 surrogate in \\u escape"),
        (#"{"a":"\uDC00\uD800"}"#, 6, "unpaired UTF-16 surrogate in \\u escape"),
        (#"{"a":"x\uD83D\uD83D"}"#, 7, "unpaired UTF-16 surrogate in \\u escape"),
        ("{\"a\":\"x\ty\"}", 7, "unescaped control character in string"),
        (#"{"a" 1}"#, 5, "expected ':' after object key"),
        (#"{"a":{"b"}}"#, 9, "expected ':' after object key"),
        (#"{a:1}"#, 1, "expected a string key"),
        (#"{,}"#, 1, "expected a string key"),
        (#"{"a":1,,"b":2}"#, 7, "expected a string key"),
        (#"{"a":tru}"#, 5, "invalid literal"),
        (#"{"a":nul"#, 5, "invalid literal"),
        (#"{"a":True}"#, 5, "expected a value"),
        (#"{"a":1 2}"#, 7, "expected ',' or '}'"),
        (#"{"a":[1 2]}"#, 8, "expected ',' or ']'"),
        (#"{"a":[}"#, 6, "expected a value"),
        (#"{"a":1}}"#, 7, "unexpected data after the top-level value"),
        (#"{} {}"#, 3, "unexpected data after the top-level value"),
        (#"{"a":1"#, 6, "unexpected end of input, expected ',' or '}'"),
        (#"{"a":"#, 5, "unexpected end of input, expected a value"),
        (#"{"#, 1, "unexpected end of input, expected a key or '}'"),
        ("", 0, "empty body"),
        (" \n ", 3, "empty body"),
        (#"[1,2]"#, 0, "top-level value is not an object"),
        (#"  "model""#, 2, "top-level value is not an object"),
        ("null", 0, "top-level value is not an object"),
        (#"[1,]"#, 3, "trailing comma in array"),
    ])
    func syntaxErrorsSayWhatAndWhere(input: String, offset: Int, reason: String) {
        #expect(error(input) == JSONSyntaxError(offset: offset, reason: reason))
    }

    @Test func errorDescriptionJoinsReasonAndOffset() {
        #expect(error(#"{"model":"abc"#)?.description == "unterminated string at byte 9")
    }

    @Test func invalidUTF8IsRejectedWhereItStarts() {
        let prefix = Array(#"{"a":""#.utf8)
        let invalid: [[UInt8]] = [
            [0x80], [0xBF], [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xE0, 0x9F, 0xBF], [0xED, 0xA0, 0x80],
            [0xED, 0xBF, 0xBF], [0xF0, 0x80, 0x80, 0x80], [0xF0, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80],
            [0xF5, 0x80, 0x80, 0x80], [0xFF], [0xC3], [0xE2, 0x82], [0xF0, 0x9F, 0x98], [0xC3, 0x41],
        ]
        for sequence in invalid {
            let bytes = prefix + [UInt8(ascii: "x")] + sequence + Array(#""}"#.utf8)
            #expect(error(bytes) == JSONSyntaxError(offset: 7, reason: "invalid UTF-8 in string"), "\(sequence)")
            #expect(!foundationAcceptsObject(bytes), "\(sequence)")
        }
        let valid: [[UInt8]] = [
            [0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80], [0xEF, 0xBF, 0xBF],
            [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF], [0x7F], [0xE2, 0x80, 0xA8],
        ]
        for sequence in valid {
            let bytes = prefix + sequence + Array(#""}"#.utf8)
            #expect(accepts(bytes), "\(sequence)")
        }
        // Outside strings, non-ASCII is never valid.
        #expect(error(Array(#"{"a":1"#.utf8) + [0xC2, 0xA0] + [UInt8(ascii: "}")])?.offset == 6)
    }

    @Test func everyRawControlCharacterInAStringIsRejectedAndEveryEscapedOneAccepted() throws {
        for value in UInt8(0)..<0x20 {
            let raw = Array(#"{"model":"a"#.utf8) + [value] + Array(#""}"#.utf8)
            #expect(error(raw) == JSONSyntaxError(offset: 11, reason: "unescaped control character in string"))
            let hex = String(value, radix: 16)
            let escaped = #"{"model":"a\u00"# + (value < 0x10 ? "0" : "") + hex + #""}"#
            #expect(try JSONScanner.scanRequest(Array(escaped.utf8)).model == "a" + String(UnicodeScalar(value)))
        }
    }

    @Test func onlyTheFourRFCWhitespaceCharactersSeparateTokens() {
        for separator: [UInt8] in [[0x20], [0x09], [0x0A], [0x0D]] {
            #expect(accepts(separator + Array(#"{"a":"#.utf8) + separator + [UInt8(ascii: "1"), UInt8(ascii: "}")] + separator))
        }
        for separator: [UInt8] in [[0x0B], [0x0C], [0x00], [0xC2, 0xA0], [0xE3, 0x80, 0x80]] {
            #expect(!accepts(Array(#"{"a":"#.utf8) + separator + Array("1}".utf8)), "\(separator)")
            #expect(!accepts(Array("{}".utf8) + separator), "\(separator)")
        }
    }

    @Test func nestingIsLimitedTo128LevelsIncludingTheTopLevelObject() throws {
        func nested(_ levels: Int, open: String = "[", close: String = "]") -> String {
            #"{"a":"# + String(repeating: open, count: levels) + "1" + String(repeating: close, count: levels) + "}"
        }
        #expect(throws: Never.self) { try JSONScanner.scanRequest(Array(nested(127).utf8)) }
        #expect(error(nested(128)) == JSONSyntaxError(offset: 132, reason: "nesting deeper than 128"))
        let objects = { (levels: Int) in
            #"{"a":"# + String(repeating: #"{"a":"#, count: levels) + "1" + String(repeating: "}", count: levels + 1)
        }
        #expect(accepts(Array(objects(127).utf8)))
        #expect(error(objects(128))?.reason == "nesting deeper than 128")
        // Inside stream_options the top level and stream_options already count two.
        let options = { (levels: Int) in
            #"{"stream_options":{"x":"# + String(repeating: "[", count: levels) + String(repeating: "]", count: levels) + "}}"
        }
        #expect(accepts(Array(options(126).utf8)))
        #expect(error(options(127))?.reason == "nesting deeper than 128")
        // A top-level array is measured the same way before it is refused as "not an object".
        #expect(error(String(repeating: "[", count: 128) + String(repeating: "]", count: 128))?.reason == "top-level value is not an object")
        #expect(error(String(repeating: "[", count: 129) + String(repeating: "]", count: 129))?.reason == "nesting deeper than 128")
        // Foundation allows 512 levels: a difference by design (bounded work per request).
        #expect(foundationAcceptsObject(Array(nested(200).utf8)))
        // A hostile document is refused at the limit, not after walking it.
        let hostile = Array(repeating: UInt8(ascii: "["), count: 1_000_000)
        #expect(error([UInt8(ascii: "{"), UInt8(ascii: "\""), UInt8(ascii: "\""), UInt8(ascii: ":")] + hostile)?.offset == 131)
    }

    // MARK: - Where Foundation on Linux and RFC 8259 disagree

    @Test func trailingCommasAreRejectedThoughFoundationAcceptsThem() {
        for text in [#"{"a":1,}"#, #"{"a":[1,]}"#, #"{"a":{"b":1,}}"#, #"{"a":[1 , ] }"#] {
            #expect(!accepts(Array(text.utf8)), "\(text)")
            #expect(foundationAcceptsObject(Array(text.utf8)), "Foundation changed for \(text)")
        }
    }

    @Test func numbersBeyondDoubleRangeAreValidGrammarThoughFoundationRejectsThem() {
        let digits400 = String(repeating: "9", count: 400)
        for number in ["1e400", "-1e400", "1.8e308", "1E+999", digits400, "0.\(digits400)e-999"] {
            let text = #"{"a":"# + number + "}"
            #expect(accepts(Array(text.utf8)), "\(number)")
        }
        #expect(!foundationAcceptsObject(Array(#"{"a":1e400}"#.utf8)), "Foundation changed for 1e400")
    }

    @Test func onlyUTF8WithoutByteOrderMarkIsAccepted() {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        #expect(error(bom + Array("{}".utf8)) == JSONSyntaxError(offset: 0, reason: "expected a value"))
        #expect(foundationAcceptsObject(bom + Array("{}".utf8)), "Foundation changed for the BOM")
        let utf16 = Array("{\"model\":\"m\"}".utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        #expect(!accepts(utf16))
        #expect(foundationAcceptsObject(utf16), "Foundation changed for UTF-16")
    }

    @Test func loneSurrogateEscapesAreRejectedLikeFoundationDoes() {
        for text in [#"{"a":"\uD800"}"#, #"{"a":"\uDFFF"}"#, #"{"a":"\uDBFF\uDBFF"}"#, #"{"a":"\uD800\n"}"#] {
            #expect(!accepts(Array(text.utf8)), "\(text)")
            #expect(!foundationAcceptsObject(Array(text.utf8)), "\(text)")
        }
        #expect(accepts(Array(#"{"a":"\uDBFF\uDFFF\ud800\udc00"}"#.utf8)))
    }
}
