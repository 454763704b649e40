import Reactor

/// Request ids: `req_` and eleven base64url characters, a per-worker random part and a
/// counter, so minting one costs no syscall — and, at 15 bytes, no allocation: Swift keeps
/// strings that short inline, so the id is never reference-counted as it is stamped, logged
/// and kept in the context. Reactor-thread confined.
final class RequestIDGenerator: @unchecked Sendable {
    /// 30 random bits (five characters), drawn afresh when the counter wraps.
    private var random: UInt64 = 0
    /// 36 bits (six characters): 68.7 billion ids before a new random part.
    private var counter: UInt64 = 0
    static let counterBits = 36
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    init() {
        drawRandom()
    }

    private func drawRandom() {
        var generator = SystemRandomNumberGenerator()
        random = UInt64.random(in: 0..<(1 << 30), using: &generator)
    }

    /// `req_` + base64url(random << 36 | counter), eleven characters, written in place.
    func next() -> String {
        counter &+= 1
        if counter >> Self.counterBits != 0 {
            counter = 1
            drawRandom()
        }
        let value = random << UInt64(Self.counterBits) | counter
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 15) { buffer in
            buffer[0] = UInt8(ascii: "r")
            buffer[1] = UInt8(ascii: "e")
            buffer[2] = UInt8(ascii: "q")
            buffer[3] = UInt8(ascii: "_")
            Self.alphabet.withUnsafeBufferPointer { alphabet in
                for position in 0..<11 {
                    buffer[4 + position] = alphabet[Int((value >> UInt64((10 - position) * 6)) & 63)]
                }
            }
            return String(decoding: UnsafeBufferPointer(buffer), as: UTF8.self)
        }
    }

    /// A client-supplied `X-Request-ID` is kept when it is short printable ASCII; else a new one is minted.
    static func isAcceptable(_ id: String) -> Bool {
        guard !id.isEmpty, id.utf8.count <= 128 else { return false }
        return id.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}
