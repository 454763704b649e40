import Testing

@testable import MockProvider

@Suite struct CompletionsTests {
    let responder = makeResponder()

    @Test func textCompletionObjectHasEveryField() throws {
        let reply = responder.post("/v1/completions", #"{"model":"mock-gpt","prompt":"Once upon a time"}"#)
        #expect(reply.status == 200)
        let json = reply.object
        #expect(json.string("id")?.hasPrefix("cmpl-") == true)
        #expect(json.string("object") == "text_completion")
        #expect(json.int("created") == fixedCreated)
        #expect(json.string("model") == "mock-gpt")
        #expect(json.string("system_fingerprint")?.hasPrefix("fp_") == true)
        let choice = try #require(json.objects("choices").first)
        #expect(choice.string("text")?.hasPrefix("Mock reply to: Once upon a time") == true)
        #expect(choice.int("index") == 0)
        #expect(choice.isNull("logprobs"))
        #expect(choice.string("finish_reason") == "stop")
        #expect(json["usage", "prompt_tokens"] as? Int == 4)
        #expect(json["usage", "completion_tokens"] as? Int == 16)
        #expect(json["usage", "total_tokens"] as? Int == 20)
    }

    @Test func maxTokensAndNAcrossSeveralPrompts() {
        let reply = responder.post(
            "/v1/completions", #"{"model":"m","prompt":["first prompt","second"],"n":2,"max_tokens":3}"#)
        let choices = reply.object.objects("choices")
        #expect(choices.map { $0.int("index") } == [0, 1, 2, 3])
        #expect(choices.allSatisfy { $0.string("finish_reason") == "length" })
        #expect(Set(choices.compactMap { $0.string("text") }).count == 2, "cut to the prefix, 2 choices differ")
        #expect(reply.object["usage", "completion_tokens"] as? Int == 12)
        #expect(reply.object["usage", "prompt_tokens"] as? Int == 3 + 2)
    }

    @Test func tokenArrayPromptsAreAccepted() {
        let single = responder.post("/v1/completions", #"{"model":"m","prompt":[1,2,3,4,5]}"#)
        #expect(single.object.objects("choices").count == 1)
        #expect(single.object["usage", "prompt_tokens"] as? Int == 5)
        let batch = responder.post("/v1/completions", #"{"model":"m","prompt":[[1,2],[3,4,5]]}"#)
        #expect(batch.object.objects("choices").count == 2)
        #expect(batch.object["usage", "prompt_tokens"] as? Int == 5)
    }

    @Test func streamSendsTokensFinishAndDone() throws {
        let reply = responder.post(
            "/v1/completions",
            #"{"model":"m","prompt":"hi there","stream":true,"max_tokens":4,"stream_options":{"include_usage":true}}"#)
        #expect(reply.header("content-type") == "text/event-stream; charset=utf-8")
        #expect(reply.events.last == Array("data: [DONE]\n\n".utf8))
        let chunks = reply.eventObjects
        #expect(chunks.count == 4 + 1 + 1)
        let id = chunks.first?.string("id")
        for chunk in chunks {
            #expect(chunk.string("object") == "text_completion")
            #expect(chunk.string("id") == id)
        }
        for chunk in chunks.dropLast() { #expect(chunk.isNull("usage")) }
        let texts = chunks.prefix(4).compactMap { $0.objects("choices").first?.string("text") }
        #expect(texts.joined() == "Mock reply to:")
        let finish = try #require(chunks[4].objects("choices").first)
        #expect(finish.string("text") == "" && finish.string("finish_reason") == "length")
        #expect(chunks[5].objects("choices").isEmpty)
        #expect(chunks[5]["usage", "completion_tokens"] as? Int == 4)
    }

    @Test func streamWithoutUsageHasNoUsageKey() {
        let reply = responder.post("/v1/completions", #"{"model":"m","prompt":"x","stream":true}"#)
        #expect(reply.eventObjects.count == 16 + 1)
        #expect(reply.eventObjects.allSatisfy { $0["usage"] == nil })
    }

    @Test func promptIsRequiredAndTyped() {
        let missing = responder.post("/v1/completions", #"{"model":"m"}"#)
        #expect(missing.status == 400 && missing.error.string("param") == "prompt")
        let wrong = responder.post("/v1/completions", #"{"model":"m","prompt":{"a":1}}"#)
        #expect(wrong.status == 400 && wrong.error.string("code") == "invalid_type")
        let mixed = responder.post("/v1/completions", #"{"model":"m","prompt":["a",{}]}"#)
        #expect(mixed.status == 400 && mixed.error.string("param") == "prompt[1]")
    }

    @Test func truncateAppliesToCompletionStreams() {
        let reply = responder.post(
            "/v1/completions", #"{"model":"m+truncate=2","prompt":"x","stream":true}"#)
        #expect(reply.events.count == 2)
        #expect(!reply.events.contains(Array("data: [DONE]\n\n".utf8)))
    }
}
