import Foundation
import Testing

@testable import MockProvider

@Suite struct JSONBytesTests {
    private func encoded(_ value: String) -> String {
        var json = JSONBytes()
        json.string(value)
        return String(decoding: json.bytes, as: UTF8.self)
    }

    @Test func escapesQuotesBackslashesAndControlCharacters() {
        #expect(encoded("plain") == #""plain""#)
        #expect(encoded("a\"b\\c") == #""a\"b\\c""#)
        #expect(encoded("\n\r\t\u{08}\u{0C}") == #""\n\r\t\b\f""#)
        #expect(encoded("\u{00}\u{01}\u{1F}") == #""\u0000\u0001\u001f""#)
        #expect(encoded("\u{7F}/") == "\"\u{7F}/\"")
        #expect(encoded("") == #""""#)
    }

    @Test func keepsUTF8AsIs() {
        let text = "ünïcødé — 中文 🚀"
        #expect(encoded(text) == "\"\(text)\"")
    }

    @Test func everyStringRoundTripsThroughJSONSerialization() throws {
        var samples = (0..<128).map { String(UnicodeScalar(UInt8($0))) }
        samples += ["mixed \"q\" \\ \u{0} end", String(repeating: "x\n", count: 100), "é\u{1}🚀\""]
        for sample in samples {
            var json = JSONBytes()
            json.raw("[")
            json.string(sample)
            json.raw("]")
            let decoded = try JSONSerialization.jsonObject(with: Data(json.bytes)) as? [String]
            #expect(decoded == [sample], "\(sample.unicodeScalars.map(\.value))")
        }
    }

    @Test func integersAndFloats() {
        for value in [0, 7, -3, 1_700_000_123, Int.max, Int.min] {
            var json = JSONBytes()
            json.int(value)
            #expect(String(decoding: json.bytes, as: UTF8.self) == String(value))
        }
        var json = JSONBytes()
        json.float(0.5)
        json.raw(",")
        json.float(.nan)
        json.raw(",")
        json.bool(true)
        json.raw(",")
        json.stringOrNull(nil)
        #expect(String(decoding: json.bytes, as: UTF8.self) == "0.5,0,true,null")
    }

    @Test func base64MatchesFoundation() {
        for length in 0..<20 {
            let input = (0..<length).map { UInt8(($0 * 37 + 11) & 0xFF) }
            var output: [UInt8] = []
            Base64Bytes.append(input, to: &output)
            #expect(String(decoding: output, as: UTF8.self) == Data(input).base64EncodedString())
        }
    }
}
