import Bytes

/// Integers as Redis stores them in strings: decimal ASCII, strictly parsed (Redis `string2ll`:
/// optional '-', no '+', no spaces, no leading zeros, no "-0"), so the same bytes are integers
/// to both stores.
public enum DecimalBytes {
    public static func render(_ number: Int64) -> [UInt8] { [UInt8](capacity: 20) { $0.writeDecimal(Int(number)) } }

    public static func parse(_ bytes: [UInt8]) -> Int64? {
        guard !bytes.isEmpty, bytes.count <= 20 else { return nil }
        if bytes == [UInt8(ascii: "0")] { return 0 }
        let negative = bytes[0] == UInt8(ascii: "-")
        let digits = bytes[(negative ? 1 : 0)...]
        guard let first = digits.first, first >= UInt8(ascii: "1"), first <= UInt8(ascii: "9") else { return nil }
        var magnitude: UInt64 = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            magnitude = next
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }
}
