import Middleware
import Testing

@Suite struct UsageMeterTests {
    @Test func readsTheUsageOfAJSONAnswer() {
        var meter = UsageMeter()
        meter.observe(body: Array(#"""
            {"id":"x","choices":[{"message":{"content":"say \"usage\": {\"prompt_tokens\": 999}"}}],
             "usage": {"prompt_tokens": 12, "completion_tokens": 34, "total_tokens": 46,
                       "prompt_tokens_details": {"cached_tokens": 5}}}
            """#.utf8))
        #expect(meter.tokens(promptEstimate: 1) == (12, 34))
    }

    /// The search skips ahead by up to the key's length: every filler before and after the
    /// object, including near-misses of the key, must still leave it found (and only it).
    @Test(arguments: ["", "e", "ge\"", "\"usag", "\"usage", "\"type\":\"usage\"", "\\\"usage\\\": {}", "sss\"\"uu", "usage usage"])
    func theKeyIsFoundWhateverSurroundsIt(_ filler: String) {
        for before in 0..<9 {
            for after in 0..<9 {
                let head = String(repeating: "a", count: before) + filler
                let tail = filler + String(repeating: "g", count: after)
                let body = #"{"x":"\#(head)","usage":{"prompt_tokens":7,"completion_tokens":9},"y":"\#(tail)"}"#
                var meter = UsageMeter()
                meter.observe(body: Array(body.utf8))
                #expect(meter.tokens(promptEstimate: 1) == (7, 9), "\(body)")
            }
        }
    }

    /// The compact OpenAI shape is read on a short path; every other shape on the general
    /// scan, with the same answers.
    @Test(arguments: [
        (#"{"prompt_tokens":7,"completion_tokens":9,"total_tokens":16}"#, 7, 9),
        (#"{"prompt_tokens":7,"completion_tokens":9}"#, 7, 9),
        (#"{"completion_tokens":9,"prompt_tokens":7}"#, 7, 9),
        (#"{ "prompt_tokens": 7, "completion_tokens": 9 }"#, 7, 9),
        (#"{"prompt_tokens":7,"total_tokens":7}"#, 7, 0),
        (#"{"prompt_tokens":7,"completion_tokens":9x}"#, 7, 9),
        (#"{"prompt_tokens":123456789012345678,"completion_tokens":1}"#, 123_456_789_012_345_678, 1),
        (#"{"prompt_tokens":1234567890123456789,"completion_tokens":1}"#, 1_234_567_890_123_456_789, 1),
    ] as [(String, Int64, Int64)])
    func usageShapesReadTheSame(_ usage: String, _ prompt: Int64, _ completion: Int64) {
        var meter = UsageMeter()
        meter.observe(body: Array(#"{"id":"x","usage":\#(usage)}"#.utf8))
        #expect(meter.tokens(promptEstimate: 1) == (prompt, completion))
    }

    @Test func embeddingsHaveNoCompletionTokens() {
        var meter = UsageMeter()
        meter.observe(body: Array(#"{"object":"list","usage":{"prompt_tokens":8,"total_tokens":8}}"#.utf8))
        #expect(meter.tokens(promptEstimate: 1) == (8, 0))
    }

    @Test func aStreamReportsItsUsageChunkOrIsEstimatedByContentChunks() {
        var reported = UsageMeter()
        reported.observe(chunk: Array(#"data: {"choices":[{"delta":{"role":"assistant","content":""}}]}"#.utf8) + [10, 10])
        reported.observe(chunk: Array(#"data: {"choices":[{"delta":{"content":"Hi"}}]}"#.utf8) + [10, 10])
        #expect(reported.tokens(promptEstimate: 9) == (9, 1))
        reported.observe(chunk: Array(#"data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#.utf8))
        #expect(reported.tokens(promptEstimate: 9) == (3, 1))
        var cut = UsageMeter()
        for _ in 0..<4 { cut.observe(chunk: Array(#"data: {"choices":[{"text":"a"}]}"#.utf8)) }
        cut.observe(chunk: Array(#"data: {"choices":[],"usage":null}"#.utf8))
        #expect(cut.tokens(promptEstimate: 20) == (20, 4))
    }
}
