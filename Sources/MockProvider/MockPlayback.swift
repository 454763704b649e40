/// The order in which a streamed mock reply is played out, as a pure decision: the pauses
/// between chunks and the reset of the fault plan. Each transport (mock-llm's server, the
/// gateway's built-in provider) does the waiting and the I/O itself.
public struct MockPlayback: Sendable {
    public enum Step: Sendable, Equatable {
        /// Pause this long before asking again.
        case wait(milliseconds: Int)
        case chunk([UInt8])
        /// Drop the connection now (the fault plan's reset).
        case reset
        /// Every chunk was sent (without `[DONE]` when the plan truncates: the chunks already end early).
        case end
    }

    private let chunks: [[UInt8]]
    private let faults: MockFaults
    private var index = 0
    private var paused = false

    public init(chunks: [[UInt8]], faults: MockFaults) {
        self.chunks = chunks
        self.faults = faults
    }

    public mutating func next() -> Step {
        if let reset = faults.resetAfterChunks, index >= reset { return .reset }
        guard index < chunks.count else { return .end }
        if index > 0 && faults.tokenIntervalMs > 0 && !paused {
            paused = true
            return .wait(milliseconds: faults.tokenIntervalMs)
        }
        paused = false
        index += 1
        return .chunk(chunks[index - 1])
    }
}
