import GatewayCore
import Reactor

/// One Redis command encoded as RESP (`*N\r\n$len\r\narg\r\n…`), written in one pass into a
/// buffer of the exact size and handed to hiredis as it is (`redisAsyncFormattedCommand`): no
/// array per argument, no argv, no format string, no growing. A plain value.
struct RESPCommand: Sendable {
    let bytes: [UInt8]

    /// An argument, as the encoder sizes and writes it.
    enum Argument {
        case bytes([UInt8])
        case string(String)
        case integer(Int64)

        /// Strings as they are, integers in decimal (as Redis reads both); nothing for the rest.
        init(_ value: StoreValue) {
            switch value {
            case .bytes(let b): self = .bytes(b)
            case .integer(let i): self = .integer(i)
            case .null, .array: self = .bytes([])
            }
        }

        var length: Int {
            switch self {
            case .bytes(let b): b.count
            case .string(let s): s.utf8.count
            case .integer(let i): [UInt8].decimalCount(Int(i))
            }
        }

        /// `$len\r\n<bytes>\r\n`.
        var encodedCount: Int { 5 + [UInt8].decimalCount(length) + length }

        func write(to cursor: inout ByteWriter) {
            cursor.write(UInt8(ascii: "$"))
            cursor.writeDecimal(length)
            cursor.write("\r\n")
            switch self {
            case .bytes(let b): cursor.write(b)
            case .string(let s): cursor.write(s)
            case .integer(let i): cursor.writeDecimal(Int(i))
            }
            cursor.write("\r\n")
        }
    }

    /// A command of `count` arguments taking `size` bytes in all (`headerCount(count)` plus
    /// each argument's `encodedCount`), written by `body`, and a NUL after them that is not
    /// sent: hiredis 0.14 scans a formatted command with `strchr` (looking for SUBSCRIBE) and
    /// read past the end of an unterminated one (AddressSanitizer caught it).
    init(count: Int, size: Int, _ body: (inout ByteWriter) -> Void) {
        bytes = [UInt8](capacity: size + 1) { cursor in
            cursor.write(UInt8(ascii: "*"))
            cursor.writeDecimal(count)
            cursor.write("\r\n")
            body(&cursor)
            cursor.write(0)
        }
    }

    /// What goes on the wire: the bytes without the terminating NUL.
    var wireCount: Int { bytes.count - 1 }

    static func headerCount(_ count: Int) -> Int { 3 + [UInt8].decimalCount(count) }

    init(_ arguments: [Argument]) {
        let size = arguments.reduce(Self.headerCount(arguments.count)) { $0 + $1.encodedCount }
        self.init(count: arguments.count, size: size) { cursor in
            for argument in arguments { argument.write(to: &cursor) }
        }
    }

    init(_ parts: [[UInt8]]) {
        self.init(parts.map(Argument.bytes))
    }

    init(_ parts: [String]) {
        self.init(parts.map(Argument.string))
    }

    init(_ parts: String...) {
        self.init(parts)
    }
}
