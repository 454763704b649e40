/// Injected randomness, so weighted routing, jitter and sampling are testable.
public protocol RandomSource: Sendable {
    /// A uniformly distributed value in `0..<upperBound` (`upperBound` > 0).
    func next(below upperBound: UInt64) -> UInt64
}

/// The system generator.
public struct SystemRandom: RandomSource {
    public init() {}
    public func next(below upperBound: UInt64) -> UInt64 {
        var generator = SystemRandomNumberGenerator()
        return UInt64.random(in: 0..<upperBound, using: &generator)
    }
}
