import Reactor

/// Request ids: a per-worker random prefix and a counter, so minting one costs no syscall.
/// Reactor-thread confined.
final class RequestIDGenerator: @unchecked Sendable {
    /// `req_<random hex>_`, the bytes every id of this worker starts with.
    private let prefix: [UInt8]
    private var counter: UInt64 = 0
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    init() {
        var generator = SystemRandomNumberGenerator()
        let random = UInt64.random(in: 0...UInt64.max, using: &generator)
        prefix = Array("req_\(String(random, radix: 16))_".utf8)
    }

    /// `req_<random hex>_<counter hex>`, written in place: one allocation per id.
    func next() -> String {
        counter &+= 1
        let counter = self.counter
        let digits = (UInt64.bitWidth - counter.leadingZeroBitCount + 3) / 4
        return String(unsafeUninitializedCapacity: prefix.count + digits) { buffer in
            let start = prefix.withUnsafeBufferPointer { buffer.initialize(fromContentsOf: $0) }
            Self.hexDigits.withUnsafeBufferPointer { hex in
                for position in 0..<digits {
                    let shift = UInt64((digits - 1 - position) * 4)
                    buffer[start + position] = hex[Int((counter >> shift) & 0xF)]
                }
            }
            return start + digits
        }
    }

    /// A client-supplied `X-Request-ID` is kept when it is short printable ASCII; else a new one is minted.
    static func isAcceptable(_ id: String) -> Bool {
        guard !id.isEmpty, id.utf8.count <= 128 else { return false }
        return id.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}
