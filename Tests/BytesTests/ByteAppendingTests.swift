import Bytes
import Testing

/// The wire writers' shared byte appenders (response heads, upstream requests, RESP commands).
struct ByteAppendingTests {
    /// Odd and even digit counts, both signs, the pair table's edges.
    @Test(arguments: [0, 7, 9, 10, 42, 99, 100, 101, 999, 1_000, 1_234_567, 10_000_000_000, -1, -9, -10, -99, -305, Int.max, Int.min])
    func decimalsMatchTheStandardLibrary(_ value: Int) {
        var out: [UInt8] = Array("x".utf8)
        out.appendDecimal(value)
        #expect(String(decoding: out, as: UTF8.self) == "x" + String(value))
        #expect([UInt8].decimalCount(value) == String(value).utf8.count)
    }

    /// Every power of ten and its neighbours: where the digit count changes.
    @Test func decimalCountsChangeAtEveryPowerOfTen() {
        var power = 1
        for _ in 0...18 {
            for value in [power - 1, power, power + 1, -power, -(power - 1)] {
                #expect([UInt8].decimalCount(value) == String(value).utf8.count, "\(value)")
            }
            if power > Int.max / 10 { break }
            power *= 10
        }
    }

    @Test func textIsAppendedAsItsUTF8() {
        var out: [UInt8] = []
        out.appendUTF8("a: ")
        out.appendUTF8("é\r\n" as String)
        #expect(out == Array("a: é\r\n".utf8))
    }
}

/// The writer writes what the appenders would, within the size it was given.
struct ByteWriterTests {
    @Test(arguments: [0, 7, 10, 42, 999, 1_000, -1, -305, Int.max, Int.min])
    func decimalsMatchTheAppenders(_ value: Int) {
        var expected: [UInt8] = []
        expected.appendDecimal(value)
        let written = [UInt8](capacity: 20) { $0.writeDecimal(value) }
        #expect(written == expected)
    }

    @Test func piecesLandInOrderInOneBuffer() {
        let written = [UInt8](capacity: 64) { cursor in
            cursor.write("$")
            cursor.writeDecimal(3)
            cursor.write("\r\n" as StaticString)
            cursor.write(Array("abc".utf8))
            cursor.write("é")
            cursor.write(UInt8(ascii: "!"))
        }
        #expect(written == Array("$3\r\nabcé!".utf8))
        var out: [UInt8] = Array("x: ".utf8)
        out.appendWriting(maxCount: 32) { cursor in
            cursor.writeDecimal(-12)
            cursor.write("\r\n")
        }
        #expect(out == Array("x: -12\r\n".utf8))
    }

    @Test func whatWasWrittenIsWrittenAgain() {
        let written = [UInt8](capacity: 32) { out in
            out.write("r=")
            let start = out.count
            out.writeDecimal(4_096)
            out.write(", again ")
            out.writeAgain(start..<out.count - 8)
            out.writeAgain(0..<0)
        }
        #expect(written == Array("r=4096, again 4096".utf8))
        // Room for the spare bytes the next writer appends in place.
        var lines: [UInt8] = []
        lines.appendWriting(maxCount: 8, spare: 100) { $0.write("ab") }
        #expect(lines == Array("ab".utf8) && lines.capacity >= 102)
    }

    @Test func anExactSizeIsEnough() {
        let written = [UInt8](capacity: 4) { $0.write("abcd") }
        #expect(written.count == 4)
    }

    @Test func everyPieceLandsInOrderUpToTheCapacity() {
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
        #expect([UInt8](capacity: 0) { $0.write("") }.isEmpty)
    }

    /// Both ways `[UInt8](capacity:writing:)` builds: through the stack up to a kilobyte, in
    /// place above it; each holds exactly what was written, short of its capacity or at it.
    @Test(arguments: [0, 1, 600, 1_024, 1_025, 70_000])
    func writtenArraysHoldWhatWasWritten(_ capacity: Int) {
        for count in Set([0, capacity / 2, capacity]) {
            let expected = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let made = [UInt8](capacity: capacity) { out in expected.withUnsafeBufferPointer { out.write($0) } }
            #expect(made == expected, "capacity \(capacity), written \(count)")
            #expect(made.capacity >= count)
        }
    }
}
