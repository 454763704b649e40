import Foundation
import Testing

@testable import MockProvider

@Suite struct ChatCompletionTests {
    let responder = makeResponder()

    @Test func completionObjectHasEveryOpenAIField() throws {
        let reply = responder.post("/v1/chat/completions", chatBody())
        #expect(reply.status == 200)
        #expect(reply.header("content-type") == "application/json")
        let json = reply.object
        let id = try #require(json.string("id"))
        #expect(id.hasPrefix("chatcmpl-") && id.count > 20)
        #expect(json.string("object") == "chat.completion")
        #expect(json.int("created") == fixedCreated)
        #expect(json.string("model") == "mock-gpt")
        #expect(json.string("system_fingerprint")?.hasPrefix("fp_") == true)
        let choices = json.objects("choices")
        #expect(choices.count == 1)
        let choice = try #require(choices.first)
        #expect(choice.int("index") == 0)
        #expect(choice.isNull("logprobs"))
        #expect(choice.string("finish_reason") == "stop")
        let message = try #require(choice["message"] as? [String: Any])
        #expect(message.string("role") == "assistant")
        #expect(message.isNull("refusal"))
        let content = try #require(message.string("content"))
        #expect(content.hasPrefix("Mock reply to: Hello there, how are"))
        let usage = try #require(json["usage"] as? [String: Any])
        #expect(usage.int("completion_tokens") == 16)
        let promptTokens = try #require(usage.int("prompt_tokens"))
        #expect(usage.int("total_tokens") == promptTokens + 16)
        #expect(usage["prompt_tokens_details", "cached_tokens"] as? Int == 0)
        #expect(usage["completion_tokens_details", "reasoning_tokens"] as? Int == 0)
    }

    @Test func promptTokensAreARealisticEstimate() {
        // 3 priming + (3 + ceil(31 / 4)) for the one message.
        #expect(responder.post("/v1/chat/completions", chatBody()).object["usage", "prompt_tokens"] as? Int == 14)
        let long = String(repeating: "word ", count: 400)
        let tokens = responder.post("/v1/chat/completions", chatBody(long)).object["usage", "prompt_tokens"] as? Int
        #expect(tokens == 3 + 3 + 500)
    }

    @Test func contentIsExactlyCompletionTokensTokensLong() {
        let short = makeResponder(completionTokens: 3).post("/v1/chat/completions", chatBody())
        #expect(short.object["usage", "completion_tokens"] as? Int == 3)
        #expect(short.object.objects("choices").first?["message", "content"] as? String == "Mock reply to")
        let empty = makeResponder(completionTokens: 0).post("/v1/chat/completions", chatBody())
        #expect(empty.object.objects("choices").first?["message", "content"] as? String == "")
        let streamed = makeResponder(completionTokens: 40).post(
            "/v1/chat/completions", chatBody(extra: #","stream":true"#))
        #expect(streamed.eventObjects.count == 1 + 40 + 1)
    }

    @Test func maxTokensCutsTheAnswerWithFinishReasonLength() throws {
        let full = responder.post("/v1/chat/completions", chatBody())
        let cut = responder.post("/v1/chat/completions", chatBody(extra: #","max_tokens":5"#))
        let choice = try #require(cut.object.objects("choices").first)
        #expect(choice.string("finish_reason") == "length")
        #expect(cut.object["usage", "completion_tokens"] as? Int == 5)
        let fullContent = try #require(full.object.objects("choices").first?["message", "content"] as? String)
        let cutContent = try #require(choice["message", "content"] as? String)
        #expect(fullContent.hasPrefix(cutContent) && cutContent.count < fullContent.count)
    }

    @Test func maxCompletionTokensIsHonouredAndWinsOverMaxTokens() {
        let reply = responder.post(
            "/v1/chat/completions", chatBody(extra: #","max_completion_tokens":4,"max_tokens":9"#))
        #expect(reply.object["usage", "completion_tokens"] as? Int == 4)
        let roomy = responder.post("/v1/chat/completions", chatBody(extra: #","max_completion_tokens":100"#))
        #expect(roomy.object.objects("choices").first?.string("finish_reason") == "stop")
        #expect(roomy.object["usage", "completion_tokens"] as? Int == 16)
    }

    @Test func nGivesDistinctIndexedChoicesAndSumsUsage() {
        let reply = responder.post("/v1/chat/completions", chatBody(extra: #","n":3,"max_tokens":6"#))
        let choices = reply.object.objects("choices")
        #expect(choices.map { $0.int("index") } == [0, 1, 2])
        let contents = choices.compactMap { $0["message", "content"] as? String }
        #expect(Set(contents).count == 3)
        #expect(reply.object["usage", "completion_tokens"] as? Int == 18)
    }

    @Test func sameRequestGivesSameBytesAndOnlyCreatedFollowsTheClock() {
        let first = responder.post("/v1/chat/completions", chatBody())
        let second = responder.post("/v1/chat/completions", chatBody())
        #expect(first == second)
        let later = MockResponder(clock: { fixedCreated + 1000 }).post("/v1/chat/completions", chatBody())
        #expect(later.fullBody != first.fullBody)
        #expect(withoutCreated(later.fullBody) == withoutCreated(first.fullBody))
    }

    @Test func differentPromptsGiveDifferentIdsAndContent() {
        let first = responder.post("/v1/chat/completions", chatBody("alpha beta gamma"))
        let second = responder.post("/v1/chat/completions", chatBody("alpha beta delta"))
        #expect(first.object.string("id") != second.object.string("id"))
        let contentOf = { (reply: MockReply) in reply.object.objects("choices").first?["message", "content"] as? String
        }
        #expect(contentOf(first) != contentOf(second))
    }

    @Test func echoesTheLastUserMessageAndReadsContentParts() {
        let body = #"""
            {"model":"m","messages":[{"role":"system","content":"rules"},{"role":"user","content":"first question"},
            {"role":"assistant","content":null},{"role":"user","content":[{"type":"text","text":"second one"},
            {"type":"image_url","image_url":{"url":"data:"}}]}]}
            """#
        let reply = responder.post("/v1/chat/completions", body)
        #expect(reply.status == 200)
        let content = reply.object.objects("choices").first?["message", "content"] as? String
        #expect(content?.hasPrefix("Mock reply to: second one") == true)
        // 3 + (3+2) + (3+4) + 3 + (3+3+85)
        #expect(reply.object["usage", "prompt_tokens"] as? Int == 109)
    }

    @Test func userTextWithQuotesControlsAndUnicodeRoundTrips() throws {
        let tricky = "say \"hi\"\\ \u{01}\ttab ünïcødé 🚀"
        let reply = responder.post("/v1/chat/completions", chatBody(tricky))
        #expect(reply.status == 200)
        let content = try #require(reply.object.objects("choices").first?["message", "content"] as? String)
        #expect(content.hasPrefix("Mock reply to: say \"hi\"\\ \u{01} tab ünïcødé —"))
        #expect(String(decoding: reply.fullBody, as: UTF8.self).contains(#"\"hi\"\\ \u0001 tab ünïcødé"#))
    }

    @Test func anyModelNameIsServed() {
        let reply = responder.post("/v1/chat/completions", chatBody(model: "some-provider/any-model-v9"))
        #expect(reply.status == 200)
        #expect(reply.object.string("model") == "some-provider/any-model-v9")
    }

    @Test func missingOrInvalidMessagesAre400() {
        let missing = responder.post("/v1/chat/completions", #"{"model":"m"}"#)
        #expect(missing.status == 400)
        #expect(missing.error.string("param") == "messages")
        #expect(missing.error.string("type") == "invalid_request_error")
        #expect(missing.error.string("code") == "missing_required_parameter")
        let empty = responder.post("/v1/chat/completions", #"{"model":"m","messages":[]}"#)
        #expect(empty.status == 400 && empty.error.string("code") == "empty_array")
        let notArray = responder.post("/v1/chat/completions", #"{"model":"m","messages":"hi"}"#)
        #expect(notArray.status == 400 && notArray.error.string("code") == "invalid_type")
        let noRole = responder.post("/v1/chat/completions", #"{"model":"m","messages":[{"content":"x"}]}"#)
        #expect(noRole.status == 400 && noRole.error.string("param") == "messages[0].role")
    }

    @Test func outOfRangeOrMistypedParametersAre400() {
        let cases: [(String, String, String)] = [
            (#","n":0"#, "n", "integer_below_min_value"), (#","n":129"#, "n", "integer_above_max_value"),
            (#","max_tokens":0"#, "max_tokens", "integer_below_min_value"),
            (#","max_tokens":"lots""#, "max_tokens", "invalid_type"), (#","stream":1"#, "stream", "invalid_type"),
            (#","stream_options":{"include_usage":"yes"}"#, "stream_options.include_usage", "invalid_type"),
        ]
        for (extra, param, code) in cases {
            let reply = responder.post("/v1/chat/completions", chatBody(extra: extra))
            #expect(reply.status == 400, "\(extra)")
            #expect(reply.error.string("param") == param, "\(extra)")
            #expect(reply.error.string("code") == code, "\(extra)")
        }
    }

    @Test func nullOptionalParametersMeanAbsent() {
        let reply = responder.post(
            "/v1/chat/completions", chatBody(extra: #","n":null,"max_tokens":null,"stream":null"#))
        #expect(reply.status == 200)
        #expect(reply.object["usage", "completion_tokens"] as? Int == 16)
    }
}
