import GatewayCore

/// `POST /v1/completions` (legacy): a `text_completion` object, or `text_completion` SSE events
/// (one chunk per token, a finish chunk per choice, optional usage chunk) when `stream` is true.
/// `prompt` may be a string, an array of strings, a token array or an array of token arrays;
/// every prompt gets `n` choices, indexed prompt-major as OpenAI does.
extension MockResponder {
    func textCompletion(_ request: RequestObject, _ call: MockCall) throws(MockRequestError) -> MockReply {
        let prompts = try LegacyPrompt.all(in: request)
        let stream = try request.bool("stream") ?? false
        let includeUsage = try request.object("stream_options")?.bool("include_usage") ?? false
        let perPrompt = try request.int("n", in: 1...128) ?? 1
        let limit = try request.int("max_tokens", in: 1...Int.max)
        let (length, finishReason) = call.answerLength(limit: limit)
        var answers: [[String]] = []
        answers.reserveCapacity(prompts.count * perPrompt)
        for prompt in prompts {
            for choice in 0..<perPrompt {
                answers.append(
                    MockCompletionText.tokens(
                        echoing: prompt.text, promptHash: prompt.hash, choice: choice, count: length))
            }
        }
        let usage = MockUsage(
            promptTokens: prompts.reduce(0) { $0 + $1.tokens }, completionTokens: length * answers.count)
        let id = call.id(prefix: "cmpl-")
        if stream {
            return .stream(
                completionChunks(id: id, call, answers, finishReason: finishReason, usage: includeUsage ? usage : nil),
                faults: call.faults)
        }
        var json = JSONBytes(reservingCapacity: 400 + answers.count * length * 8)
        json.raw("{\"id\":")
        json.string(id)
        json.raw(",\"object\":\"text_completion\",\"created\":")
        json.int(call.created)
        json.raw(",\"model\":")
        json.string(call.baseModel)
        json.raw(",\"choices\":[")
        for (index, tokens) in answers.enumerated() {
            if index > 0 { json.raw(",") }
            json.raw("{\"text\":")
            json.string(tokens.joined())
            json.raw(",\"index\":")
            json.int(index)
            json.raw(",\"logprobs\":null,\"finish_reason\":")
            json.string(finishReason)
            json.raw("}")
        }
        json.raw("],\"usage\":")
        usage.appendLegacy(to: &json)
        json.raw(",\"system_fingerprint\":")
        json.string(call.fingerprint)
        json.raw("}")
        return .json(200, json, faults: call.faults)
    }

    private func completionChunks(
        id: String, _ call: MockCall, _ answers: [[String]], finishReason: String, usage: MockUsage?
    ) -> [[UInt8]] {
        let frame = ChunkFrame(
            id: id, object: "text_completion", call: call, serviceTier: false, usageIsNull: usage != nil)
        let length = answers.first?.count ?? 0
        var events: [[UInt8]] = []
        events.reserveCapacity(answers.count * (length + 1) + 1)
        for position in 0..<length {
            for (index, tokens) in answers.enumerated() {
                events.append(
                    frame.event { json in
                        json.raw("{\"text\":")
                        json.string(tokens[position])
                        json.raw(",\"index\":")
                        json.int(index)
                        json.raw(",\"logprobs\":null,\"finish_reason\":null}")
                    })
            }
        }
        for index in answers.indices {
            events.append(
                frame.event { json in
                    json.raw("{\"text\":\"\",\"index\":")
                    json.int(index)
                    json.raw(",\"logprobs\":null,\"finish_reason\":")
                    json.string(finishReason)
                    json.raw("}")
                })
        }
        if let usage { events.append(frame.usageEvent { usage.appendLegacy(to: &$0) }) }
        return events
    }
}

/// One legacy prompt: its text (echoed; empty for token arrays), a hash and its token count.
struct LegacyPrompt {
    var text: String
    var hash: UInt64
    var tokens: Int

    init(text: String) {
        self.text = text
        hash = StableHash.of(text)
        tokens = text.isEmpty ? 1 : MockCompletionText.estimatedTokens(utf8Count: text.utf8.count)
    }

    init(tokenIDs: [Int]) {
        text = ""
        var digits: [UInt8] = []
        for token in tokenIDs {
            JSONWriter.appendInt(token, to: &digits)
            digits.append(UInt8(ascii: " "))
        }
        var hasher = StableHash()
        hasher.add(digits)
        hash = hasher.value
        tokens = max(1, tokenIDs.count)
    }

    static func all(in request: RequestObject) throws(MockRequestError) -> [LegacyPrompt] {
        guard let value = request.value("prompt") else { throw .missing("prompt") }
        if case .string(let text) = value { return [LegacyPrompt(text: text)] }
        guard case .array(let items) = value else { throw .invalidType("prompt", expected: "a string or an array") }
        guard !items.isEmpty else { throw .emptyArray("prompt") }
        if let ids = value.tokenIDs { return [LegacyPrompt(tokenIDs: ids)] }
        var prompts: [LegacyPrompt] = []
        for (position, item) in items.enumerated() {
            if case .string(let text) = item {
                prompts.append(LegacyPrompt(text: text))
            } else if let ids = item.tokenIDs {
                prompts.append(LegacyPrompt(tokenIDs: ids))
            } else {
                throw .invalidType("prompt[\(position)]", expected: "a string or an array of integers")
            }
        }
        return prompts
    }
}
