import GatewayCore

/// One Redis command encoded as RESP (`*N\r\n$len\r\narg\r\n…`), built in one buffer and handed
/// to hiredis as it is (`redisAsyncFormattedCommand`): no array per argument, no argv, no
/// format string. A plain value.
struct RESPCommand: Sendable {
    private(set) var bytes: [UInt8]

    /// Starts a command of `count` arguments; append exactly that many.
    init(count: Int, capacity: Int = 128) {
        bytes = []
        bytes.reserveCapacity(capacity)
        bytes.append(UInt8(ascii: "*"))
        Self.appendDecimal(Int64(count), to: &bytes)
        bytes += Self.crlf
    }

    init(_ parts: [[UInt8]]) {
        self.init(count: parts.count, capacity: parts.reduce(16) { $0 + $1.count + 16 })
        for part in parts { append(part) }
    }

    init(_ parts: String...) {
        self.init(parts.map { Array($0.utf8) })
    }

    mutating func append(_ argument: [UInt8]) {
        bulkHeader(argument.count)
        bytes += argument
        bytes += Self.crlf
    }

    mutating func append(_ argument: String) {
        var argument = argument
        argument.withUTF8 { utf8 in
            bulkHeader(utf8.count)
            bytes.append(contentsOf: utf8)
        }
        bytes += Self.crlf
    }

    mutating func append(_ number: Int64) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            let count = Self.render(number, into: digits)
            bulkHeader(count)
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[(20 - count)...]))
        }
        bytes += Self.crlf
    }

    /// Strings and integers as Redis reads them (`RedisStore.bytes`).
    mutating func append(_ value: StoreValue) {
        switch value {
        case .bytes(let b): append(b)
        case .integer(let i): append(i)
        case .null, .array: append([UInt8]())
        }
    }

    private mutating func bulkHeader(_ length: Int) {
        bytes.append(UInt8(ascii: "$"))
        Self.appendDecimal(Int64(length), to: &bytes)
        bytes += Self.crlf
    }

    private static let crlf: [UInt8] = [13, 10]

    private static func appendDecimal(_ number: Int64, to bytes: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            let count = render(number, into: digits)
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[(20 - count)...]))
        }
    }

    /// Writes `number`'s decimal digits right-aligned at the end of `digits` (20 bytes); returns their count.
    private static func render(_ number: Int64, into digits: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var magnitude = number.magnitude
        var at = 20
        repeat {
            at -= 1
            digits[at] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
        if number < 0 {
            at -= 1
            digits[at] = UInt8(ascii: "-")
        }
        return 20 - at
    }
}
