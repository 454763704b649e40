import Bytes
import Testing

/// The wire writers' shared byte appenders (response heads, upstream requests, RESP commands).
struct ByteAppendingTests {
    @Test(arguments: [0, 7, 10, 42, 999, 1_000, -1, -305, Int.max, Int.min])
    func decimalsMatchTheStandardLibrary(_ value: Int) {
        var out: [UInt8] = Array("x".utf8)
        out.appendDecimal(value)
        #expect(String(decoding: out, as: UTF8.self) == "x" + String(value))
        #expect([UInt8].decimalCount(value) == String(value).utf8.count)
    }

    @Test func textIsAppendedAsItsUTF8() {
        var out: [UInt8] = []
        out.appendUTF8("a: ")
        out.appendUTF8("é\r\n" as String)
        #expect(out == Array("a: é\r\n".utf8))
    }
}
