/// `POST /v1/chat/completions`: a `chat.completion` object, or `chat.completion.chunk` SSE events
/// (role chunk, one chunk per token, finish chunk, optional usage chunk) when `stream` is true.
extension MockResponder {
    func chatCompletion(_ request: RequestObject, _ call: MockCall) throws(MockRequestError) -> MockReply {
        let prompt = try ChatPrompt(request)
        let stream = try request.bool("stream") ?? false
        let includeUsage = try request.object("stream_options")?.bool("include_usage") ?? false
        let choiceCount = try request.int("n", in: 1...128) ?? 1
        let legacyLimit = try request.int("max_tokens", in: 1...Int.max)
        let limit = try request.int("max_completion_tokens", in: 1...Int.max) ?? legacyLimit
        let (length, finishReason) = call.answerLength(limit: limit)
        let answers = (0..<choiceCount).map { index in
            MockCompletionText.tokens(
                echoing: prompt.lastUserText, promptHash: prompt.hash, choice: index, count: length)
        }
        let usage = MockUsage(promptTokens: prompt.tokens, completionTokens: length * choiceCount)
        let id = call.id(prefix: "chatcmpl-")
        if stream {
            return .stream(
                chatChunks(id: id, call, answers, finishReason: finishReason, usage: includeUsage ? usage : nil),
                faults: call.faults)
        }
        var json = JSONBytes(reservingCapacity: 640 + choiceCount * length * 8)
        json.raw("{\"id\":")
        json.string(id)
        json.raw(",\"object\":\"chat.completion\",\"created\":")
        json.int(call.created)
        json.raw(",\"model\":")
        json.string(call.baseModel)
        json.raw(",\"choices\":[")
        for (index, tokens) in answers.enumerated() {
            if index > 0 { json.raw(",") }
            json.raw("{\"index\":")
            json.int(index)
            json.raw(",\"message\":{\"role\":\"assistant\",\"content\":")
            json.string(tokens.joined())
            json.raw(",\"refusal\":null,\"annotations\":[]},\"logprobs\":null,\"finish_reason\":")
            json.string(finishReason)
            json.raw("}")
        }
        json.raw("],\"usage\":")
        usage.appendChat(to: &json)
        json.raw(",\"service_tier\":\"default\",\"system_fingerprint\":")
        json.string(call.fingerprint)
        json.raw("}")
        return .json(200, json, faults: call.faults)
    }

    /// Role chunk per choice, then token chunks (choices interleaved per position), then a finish
    /// chunk per choice, then (with `include_usage`) one chunk with `choices: []` and the usage.
    private func chatChunks(
        id: String, _ call: MockCall, _ answers: [[String]], finishReason: String, usage: MockUsage?
    ) -> [[UInt8]] {
        let frame = ChunkFrame(
            id: id, object: "chat.completion.chunk", call: call, serviceTier: true, usageIsNull: usage != nil)
        let length = answers.first?.count ?? 0
        var events: [[UInt8]] = []
        events.reserveCapacity(answers.count * (length + 2) + 1)
        for index in answers.indices {
            events.append(
                frame.event { json in
                    json.raw("{\"index\":")
                    json.int(index)
                    json.raw(",\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},")
                    json.raw("\"logprobs\":null,\"finish_reason\":null}")
                })
        }
        for position in 0..<length {
            for (index, tokens) in answers.enumerated() {
                events.append(
                    frame.event { json in
                        json.raw("{\"index\":")
                        json.int(index)
                        json.raw(",\"delta\":{\"content\":")
                        json.string(tokens[position])
                        json.raw("},\"logprobs\":null,\"finish_reason\":null}")
                    })
            }
        }
        for index in answers.indices {
            events.append(
                frame.event { json in
                    json.raw("{\"index\":")
                    json.int(index)
                    json.raw(",\"delta\":{},\"logprobs\":null,\"finish_reason\":")
                    json.string(finishReason)
                    json.raw("}")
                })
        }
        if let usage { events.append(frame.usageEvent { usage.appendChat(to: &$0) }) }
        return events
    }
}

/// What the answer needs from `messages`: the last user text (echoed), a hash of every message
/// (picks the words) and a prompt token estimate (~4 bytes per token, 3 per message, 3 to prime).
struct ChatPrompt {
    var lastUserText = ""
    var hash: UInt64
    var tokens: Int

    /// OpenAI bills a low-detail image as 85 tokens; the mock does not look at the image.
    static let imageTokens = 85

    init(_ request: RequestObject) throws(MockRequestError) {
        guard let value = request.value("messages") else { throw .missing("messages") }
        guard case .array(let messages) = value else { throw .invalidType("messages", expected: "an array") }
        guard !messages.isEmpty else { throw .emptyArray("messages") }
        var hasher = StableHash()
        var tokens = 3
        var lastText = ""
        var lastUserText: String?
        for (position, message) in messages.enumerated() {
            guard case .object = message else { throw .invalidType("messages[\(position)]", expected: "an object") }
            guard let role = message["role"]?.stringValue else { throw .missing("messages[\(position)].role") }
            var text = ""
            var imageCount = 0
            switch message["content"] {
            case .string(let content)?:
                text = content
            case .array(let parts)?:
                for part in parts {
                    if let partText = part["text"]?.stringValue {
                        text += text.isEmpty ? partText : "\n" + partText
                    } else if part["image_url"] != nil {
                        imageCount += 1
                    }
                }
            default:
                break  // null content (assistant tool calls) or an unknown shape: no text
            }
            hasher.add(role)
            hasher.add(0)
            hasher.add(text)
            hasher.add(1)
            tokens += 3 + (text.isEmpty ? 0 : MockCompletionText.estimatedTokens(utf8Count: text.utf8.count))
            tokens += imageCount * ChatPrompt.imageTokens + (message["name"]?.stringValue != nil ? 1 : 0)
            lastText = text
            if role == "user" { lastUserText = text }
        }
        self.lastUserText = lastUserText ?? lastText
        self.hash = hasher.value
        self.tokens = tokens
    }
}

/// Token counts of one answer, rendered in the chat or the legacy completion shape.
struct MockUsage {
    var promptTokens: Int
    var completionTokens: Int

    func appendChat(to json: inout JSONBytes) {
        appendCounts(to: &json)
        json.raw(",\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},")
        json.raw("\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,")
        json.raw("\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}")
    }

    func appendLegacy(to json: inout JSONBytes) {
        appendCounts(to: &json)
        json.raw("}")
    }

    private func appendCounts(to json: inout JSONBytes) {
        json.raw("{\"prompt_tokens\":")
        json.int(promptTokens)
        json.raw(",\"completion_tokens\":")
        json.int(completionTokens)
        json.raw(",\"total_tokens\":")
        json.int(promptTokens + completionTokens)
    }
}

/// The bytes every chunk of one stream shares (id, object, created, model, fingerprint), built
/// once so each event only appends its choice: `data: {…,"choices":[` + choice + `]…}\n\n`.
struct ChunkFrame {
    private var head: JSONBytes
    private let usageIsNull: Bool

    init(id: String, object: StaticString, call: MockCall, serviceTier: Bool, usageIsNull: Bool) {
        head = JSONBytes(reservingCapacity: 200)
        head.raw("data: {\"id\":")
        head.string(id)
        head.raw(",\"object\":\"")
        head.raw(object)
        head.raw("\",\"created\":")
        head.int(call.created)
        head.raw(",\"model\":")
        head.string(call.baseModel)
        if serviceTier { head.raw(",\"service_tier\":\"default\"") }
        head.raw(",\"system_fingerprint\":")
        head.string(call.fingerprint)
        head.raw(",\"choices\":[")
        self.usageIsNull = usageIsNull
    }

    /// One event whose `choices` holds what `appendChoice` writes.
    func event(_ appendChoice: (inout JSONBytes) -> Void) -> [UInt8] {
        var json = head
        appendChoice(&json)
        json.raw(usageIsNull ? "],\"usage\":null}\n\n" : "]}\n\n")
        return json.bytes
    }

    /// The final event of an `include_usage` stream: empty `choices` and the usage object.
    func usageEvent(_ appendUsage: (inout JSONBytes) -> Void) -> [UInt8] {
        var json = head
        json.raw("],\"usage\":")
        appendUsage(&json)
        json.raw("}\n\n")
        return json.bytes
    }
}
