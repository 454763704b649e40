import Reactor
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

    @Test(arguments: [0, 7, 10, 999, -1, -305, Int.max, Int.min])
    func writerDecimalsMatchTheStandardLibrary(_ value: Int) {
        let out = [UInt8](capacity: 21) { $0.writeDecimal(value) }
        #expect(out == Array(String(value).utf8))
    }

    @Test func writerWritesEveryPieceInOrderUpToItsCapacity() {
        let body: [UInt8] = [1, 2, 3, 4]
        let text = "ü" + String(repeating: "x", count: 40)  // native, not a small string
        let out = [UInt8](capacity: 64) { out in
            out.write("HTTP ")
            out.write(text)
            out.write(UInt8(ascii: "|"))
            out.write(body)
            out.write(body[1..<3])
            #expect(out.count == 5 + text.utf8.count + 1 + 4 + 2)
        }
        #expect(out == Array("HTTP ".utf8) + Array(text.utf8) + [UInt8(ascii: "|"), 1, 2, 3, 4, 2, 3])
        #expect([UInt8](capacity: 3) { $0.write("abc") } == Array("abc".utf8))
        #expect([UInt8](capacity: 0) { $0.write("") }.isEmpty)
    }
}
