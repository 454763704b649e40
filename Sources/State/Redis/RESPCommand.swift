import GatewayCore
import Reactor

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
        bytes.appendDecimal(count)
        bytes.appendUTF8("\r\n")
    }

    init(_ parts: [[UInt8]]) {
        self.init(count: parts.count, capacity: parts.reduce(16) { $0 + $1.count + 16 })
        for part in parts { append(part) }
    }

    init(_ parts: [String]) {
        self.init(count: parts.count, capacity: parts.reduce(16) { $0 + $1.utf8.count + 16 })
        for part in parts { append(part) }
    }

    init(_ parts: String...) {
        self.init(parts)
    }

    mutating func append(_ argument: [UInt8]) {
        bulkHeader(argument.count)
        bytes += argument
        bytes.appendUTF8("\r\n")
    }

    mutating func append(_ argument: String) {
        var argument = argument
        argument.withUTF8 { utf8 in
            bulkHeader(utf8.count)
            bytes.append(contentsOf: utf8)
        }
        bytes.appendUTF8("\r\n")
    }

    mutating func append(_ number: Int64) {
        bulkHeader([UInt8].decimalCount(Int(number)))
        bytes.appendDecimal(Int(number))
        bytes.appendUTF8("\r\n")
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
        bytes.appendDecimal(length)
        bytes.appendUTF8("\r\n")
    }

}
