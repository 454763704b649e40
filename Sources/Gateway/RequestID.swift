import Reactor

/// Request ids: a per-worker random prefix and a counter, so minting one costs no syscall.
/// Reactor-thread confined.
final class RequestIDGenerator: @unchecked Sendable {
    private let prefix: String
    private var counter: UInt64 = 0

    init() {
        var generator = SystemRandomNumberGenerator()
        let random = UInt64.random(in: 0...UInt64.max, using: &generator)
        prefix = "req_" + String(random, radix: 16)
    }

    func next() -> String {
        counter &+= 1
        return prefix + "_" + String(counter, radix: 16)
    }

    /// A client-supplied `X-Request-ID` is kept when it is short printable ASCII; else a new one is minted.
    static func isAcceptable(_ id: String) -> Bool {
        guard !id.isEmpty, id.utf8.count <= 128 else { return false }
        return id.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}
