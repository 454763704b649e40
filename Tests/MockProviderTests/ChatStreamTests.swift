import Foundation
import Testing

@testable import MockProvider

@Suite struct ChatStreamTests {
    let responder = makeResponder()
    let done = Array("data: [DONE]\n\n".utf8)

    private func stream(_ extra: String = "", model: String = "mock-gpt", headers: [String: String] = [:])
        -> MockReply
    {
        responder.post(
            "/v1/chat/completions", chatBody(model: model, extra: #","stream":true"# + extra), headers: headers)
    }

    @Test func framingIsCompleteSSEEventsEndingWithDone() {
        let reply = stream()
        #expect(reply.status == 200)
        #expect(reply.header("content-type") == "text/event-stream; charset=utf-8")
        let events = reply.events
        #expect(events.last == done)
        #expect(events.filter { $0 == done }.count == 1)
        for event in events {
            let text = String(decoding: event, as: UTF8.self)
            #expect(text.hasPrefix("data: ") && text.hasSuffix("\n\n"))
            #expect(!text.dropLast(2).contains("\n"), "one line per event")
        }
    }

    @Test func roleChunkThenOneChunkPerTokenThenFinishChunk() throws {
        let chunks = stream().eventObjects
        #expect(chunks.count == 1 + 16 + 1)
        let first = try #require(chunks.first?.objects("choices").first)
        #expect(first["delta", "role"] as? String == "assistant")
        #expect(first["delta", "content"] as? String == "")
        #expect(first.isNull("finish_reason"))
        for chunk in chunks.dropFirst().dropLast() {
            let choice = try #require(chunk.objects("choices").first)
            #expect(choice["delta", "content"] is String)
            #expect(choice["delta", "role"] == nil)
            #expect(choice.isNull("finish_reason"))
            #expect(choice.isNull("logprobs"))
        }
        let last = try #require(chunks.last?.objects("choices").first)
        #expect((last["delta"] as? [String: Any])?.isEmpty == true)
        #expect(last.string("finish_reason") == "stop")
    }

    @Test func everyChunkSharesIdCreatedModelAndObject() {
        let chunks = stream(model: "mock-gpt+interval=5").eventObjects
        let id = chunks.first?.string("id")
        #expect(id?.hasPrefix("chatcmpl-") == true)
        for chunk in chunks {
            #expect(chunk.string("id") == id)
            #expect(chunk.string("object") == "chat.completion.chunk")
            #expect(chunk.int("created") == fixedCreated)
            #expect(chunk.string("model") == "mock-gpt")
            #expect(chunk["usage"] == nil, "no usage key without include_usage")
        }
    }

    @Test func streamedTokensConcatenateToTheNonStreamedContent() {
        let full = responder.post("/v1/chat/completions", chatBody())
        let content = full.object.objects("choices").first?["message", "content"] as? String
        let streamed = stream().eventObjects.compactMap { $0.objects("choices").first?["delta", "content"] as? String }
        #expect(streamed.joined() == content)
    }

    @Test func includeUsageAddsNullUsageEverywhereAndAFinalUsageChunk() throws {
        let chunks = stream(#","stream_options":{"include_usage":true}"#).eventObjects
        #expect(chunks.count == 1 + 16 + 1 + 1)
        for chunk in chunks.dropLast() {
            #expect(chunk.isNull("usage"))
            #expect(chunk.objects("choices").count == 1)
        }
        let last = try #require(chunks.last)
        #expect((last["choices"] as? [Any])?.isEmpty == true)
        #expect(last["usage", "completion_tokens"] as? Int == 16)
        #expect(last["usage", "prompt_tokens"] as? Int == 14)
        #expect(last["usage", "total_tokens"] as? Int == 30)
        #expect(last["usage", "prompt_tokens_details", "cached_tokens"] as? Int == 0)
        #expect(last["usage", "completion_tokens_details", "reasoning_tokens"] as? Int == 0)
        #expect(stream(#","stream_options":{"include_usage":false}"#).eventObjects.count == 18)
    }

    @Test func maxTokensStreamsFewerChunksAndFinishesWithLength() {
        let chunks = stream(#","max_tokens":3"#).eventObjects
        #expect(chunks.count == 1 + 3 + 1)
        #expect(chunks.last?.objects("choices").first?.string("finish_reason") == "length")
    }

    @Test func nChoicesEachGetRoleTokensAndFinish() {
        let chunks = stream(#","n":2,"max_tokens":4"#).eventObjects
        #expect(chunks.count == 2 * (1 + 4 + 1))
        for index in 0..<2 {
            let mine = chunks.compactMap { $0.objects("choices").first }.filter { $0.int("index") == index }
            #expect(mine.count == 6)
            #expect(mine.first?["delta", "role"] as? String == "assistant")
            #expect(mine.last?.string("finish_reason") == "length")
        }
    }

    @Test func truncateKeepsNChunksAndDropsDone() {
        let reply = stream(headers: ["x-mock-truncate-after": "3"])
        #expect(reply.events.count == 3)
        #expect(!reply.events.contains(done))
        #expect(reply.faults.truncateAfterChunks == 3)
        let fromModel = stream(model: "mock-gpt+truncate=5")
        #expect(fromModel.events.count == 5 && !fromModel.events.contains(done))
        #expect(fromModel.eventObjects.first?.string("model") == "mock-gpt")
        let beyondEnd = stream(headers: ["x-mock-truncate-after": "1000"])
        #expect(beyondEnd.events.count == 18 && !beyondEnd.events.contains(done))
    }

    @Test func resetLeavesEveryChunkForTheTransportToCut() {
        let reply = stream(headers: ["x-mock-reset-after": "2", "x-mock-token-interval-ms": "15"])
        #expect(reply.events.last == done)
        #expect(reply.events.count == 19)
        #expect(reply.faults.resetAfterChunks == 2)
        #expect(reply.faults.tokenIntervalMs == 15)
    }

    @Test func streamIsDeterministic() {
        #expect(stream() == stream())
        let later = MockResponder(clock: { fixedCreated + 5 }).post(
            "/v1/chat/completions", chatBody(extra: #","stream":true"#))
        #expect(later.events.map(withoutCreated) == stream().events.map(withoutCreated))
    }

    @Test func injectedErrorOnAStreamIsAPlainErrorReply() {
        let reply = stream(headers: ["x-mock-status": "500"])
        #expect(reply.status == 500)
        #expect(reply.header("content-type") == "application/json")
        #expect(reply.error.string("type") == "server_error")
    }
}
