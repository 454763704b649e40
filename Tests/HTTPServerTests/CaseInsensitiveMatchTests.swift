import Testing

@testable import HTTPServer

/// The parser's word-at-a-time case-insensitive match against lowercase literals.
@Suite struct CaseInsensitiveMatchTests {
    private func matches(_ text: String, _ literal: StaticString) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { HTTPRequestParser.equalsIgnoringCase($0, 0..<$0.count, literal) }
    }

    @Test func everyLengthAndEveryCasingOfTheKnownNames() {
        #expect(matches("Host", "host") && matches("HOST", "host") && matches("hOsT", "host"))
        #expect(matches("Content-Type", "content-type") && matches("CONTENT-TYPE", "content-type"))
        #expect(matches("Transfer-Encoding", "transfer-encoding") && matches("100-Continue", "100-continue"))
        #expect(matches("keep-alive", "keep-alive") && matches("AUTHORIZATION", "authorization"))
        #expect(matches("Accept-Language", "accept-language") && matches("chunKED", "chunked"))
    }

    @Test func nearMissesDoNotMatch() {
        #expect(!matches("Content-Typf", "content-type") && !matches("Xontent-Type", "content-type"))
        #expect(!matches("Content_Type", "content-type") && !matches("Content-Typ", "content-type"))
        #expect(!matches("Hosu", "host") && !matches("Transfer-Encodinf", "transfer-encoding"))
        // Bytes that differ from a letter by 0x20 but are not its other case.
        #expect(!matches("Content\u{0D}Type", "content-type") && !matches("Conten@-type", "content-type"))
        #expect(!matches("[ontent-type", "content-type") && !matches("{ontent-type", "content-type"))
        #expect(!matches("Cont\u{E9}nt-type", "content-type"))
    }

    @Test func theWordLowercasingTouchesOnlyAToZ() {
        for byte in UInt8(0)...UInt8(255) {
            let word = UInt64(byte) * 0x0101_0101_0101_0101
            let lowered = UInt8(truncatingIfNeeded: HTTPRequestParser.lowercasedWord(word))
            #expect(lowered == HTTPRequestParser.Byte.lowercased(byte), "byte \(byte)")
        }
    }
}
