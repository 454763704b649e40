import MockProvider
import Testing

@Suite struct MockPlaybackTests {
    let chunks: [[UInt8]] = [[1], [2], [3]]

    func play(_ faults: MockFaults) -> [MockPlayback.Step] {
        var playback = MockPlayback(chunks: chunks, faults: faults)
        var steps: [MockPlayback.Step] = []
        while true {
            let step = playback.next()
            steps.append(step)
            if step == .end || step == .reset { return steps }
        }
    }

    @Test func withoutFaultsEveryChunkThenTheEnd() {
        #expect(play(.none) == [.chunk([1]), .chunk([2]), .chunk([3]), .end])
    }

    @Test func anIntervalPausesBetweenChunksNotBeforeTheFirst() {
        var faults = MockFaults.none
        faults.tokenIntervalMs = 20
        #expect(play(faults) == [.chunk([1]), .wait(milliseconds: 20), .chunk([2]), .wait(milliseconds: 20), .chunk([3]), .end])
    }

    @Test func aResetComesAfterTheGivenNumberOfChunks() {
        var faults = MockFaults.none
        faults.resetAfterChunks = 2
        #expect(play(faults) == [.chunk([1]), .chunk([2]), .reset])
    }
}
