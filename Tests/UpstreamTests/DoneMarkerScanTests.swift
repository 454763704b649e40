import Testing

@testable import Upstream

/// The end-of-stream check behind every relayed SSE body: `data: [DONE]` wherever chunk
/// boundaries fall, and nothing that merely resembles it.
@Suite struct DoneMarkerScanTests {
    private let stream = Array("data: {\"x\":1}\n\ndata: {\"y\":[2]}\n\ndata: [DONE]\n\n".utf8)

    /// Feeds `bytes` cut at `cuts`; returns the index of the chunk in which the marker was seen.
    private func chunkWithMarker(_ bytes: [UInt8], cuts: [Int]) -> Int? {
        var scan = DoneMarkerScan()
        var start = 0
        for (index, cut) in (cuts + [bytes.count]).enumerated() {
            if scan.found(in: Array(bytes[start..<cut])) { return index }
            start = cut
        }
        return nil
    }

    @Test func foundWhereverTheChunksAreCut() {
        let markerStart = stream.count - 14
        #expect(chunkWithMarker(stream, cuts: []) == 0)
        for cut in 1..<stream.count {
            let expected = cut >= markerStart + 12 ? 0 : 1
            #expect(chunkWithMarker(stream, cuts: [cut]) == expected, "cut at \(cut)")
        }
        // One byte at a time: the marker completes at its last byte.
        #expect(chunkWithMarker(stream, cuts: Array(1..<stream.count)) == markerStart + 11)
        // Three-byte pieces straddling the marker.
        #expect(chunkWithMarker(stream, cuts: Array(stride(from: 3, to: stream.count, by: 3))) != nil)
    }

    @Test func lookalikesAreNotTheMarker() {
        let lookalikes = ["data: [DONE", "data: [DON]", "data:[DONE]", "data: [done]", "ata: [DONE]"]
        for text in lookalikes {
            let bytes = Array("data: {}\n\n\(text)\n\n".utf8)
            #expect(chunkWithMarker(bytes, cuts: []) == nil, "\(text)")
            #expect(chunkWithMarker(bytes, cuts: Array(1..<bytes.count)) == nil, "\(text) byte by byte")
        }
    }
}
