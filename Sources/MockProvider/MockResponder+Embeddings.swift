/// `POST /v1/embeddings`: one deterministic unit vector of `dimensions` (default 1536) per input,
/// as JSON numbers or, with `encoding_format: "base64"` (the Python SDK's default), as base64 of
/// little-endian float32. Vectors are bags of words, so texts that share most words are close.
extension MockResponder {
    /// OpenAI's limits on one embeddings request.
    static let maxEmbeddingInputs = 2048
    static let maxEmbeddingDimensions = 8192
    static let defaultEmbeddingDimensions = 1536

    func embeddings(_ request: RequestObject, _ call: MockCall) throws(MockRequestError) -> MockReply {
        let inputs = try EmbeddingInput.all(in: request)
        let dimensions =
            try request.int("dimensions", in: 1...MockResponder.maxEmbeddingDimensions)
            ?? MockResponder.defaultEmbeddingDimensions
        let format = try request.string("encoding_format") ?? "float"
        guard format == "float" || format == "base64" else {
            throw .invalid(
                "Invalid value for 'encoding_format': '\(format)'. Supported values are: 'float' and 'base64'.",
                param: "encoding_format", code: "invalid_value")
        }
        let perVector = format == "base64" ? dimensions * 16 / 3 + 8 : dimensions * 12
        var json = JSONBytes(reservingCapacity: 200 + inputs.count * (perVector + 48))
        json.raw("{\"object\":\"list\",\"data\":[")
        for (index, input) in inputs.enumerated() {
            if index > 0 { json.raw(",") }
            json.raw("{\"object\":\"embedding\",\"index\":")
            json.int(index)
            json.raw(",\"embedding\":")
            let vector = MockEmbedding.vector(for: input.text, dimensions: dimensions)
            if format == "base64" {
                json.raw("\"")
                Base64Bytes.append(MockEmbedding.littleEndianFloat32(vector), to: &json.bytes)
                json.raw("\"")
            } else {
                json.raw("[")
                for (position, component) in vector.enumerated() {
                    if position > 0 { json.raw(",") }
                    json.float(component)
                }
                json.raw("]")
            }
            json.raw("}")
        }
        json.raw("],\"model\":")
        json.string(call.baseModel)
        let promptTokens = inputs.reduce(0) { $0 + $1.tokens }
        json.raw(",\"usage\":{\"prompt_tokens\":")
        json.int(promptTokens)
        json.raw(",\"total_tokens\":")
        json.int(promptTokens)
        json.raw("}}")
        return .json(200, json, faults: call.faults)
    }
}

/// One text to embed; token-array inputs become "t<id> t<id> …" so they embed deterministically too.
struct EmbeddingInput {
    var text: String
    var tokens: Int

    static func all(in request: RequestObject) throws(MockRequestError) -> [EmbeddingInput] {
        guard let value = request.value("input") else { throw .missing("input") }
        if case .string(let text) = value { return [try EmbeddingInput(text: text, param: "input")] }
        guard case .array(let items) = value else { throw .invalidType("input", expected: "a string or an array") }
        guard !items.isEmpty else { throw .emptyArray("input") }
        if let ids = value.tokenIDs { return [EmbeddingInput(tokenIDs: ids)] }
        guard items.count <= MockResponder.maxEmbeddingInputs else {
            throw .invalid(
                "Invalid 'input': array too long. Expected an array with maximum length "
                    + "\(MockResponder.maxEmbeddingInputs), but got an array with length \(items.count) instead.",
                param: "input", code: "array_above_max_length")
        }
        var inputs: [EmbeddingInput] = []
        inputs.reserveCapacity(items.count)
        for (position, item) in items.enumerated() {
            if case .string(let text) = item {
                inputs.append(try EmbeddingInput(text: text, param: "input[\(position)]"))
            } else if let ids = item.tokenIDs, !ids.isEmpty {
                inputs.append(EmbeddingInput(tokenIDs: ids))
            } else {
                throw .invalidType("input[\(position)]", expected: "a non-empty string or array of integers")
            }
        }
        return inputs
    }

    init(text: String, param: String) throws(MockRequestError) {
        guard !text.isEmpty else {
            throw .invalid(
                "'$.\(param)' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
                param: param, code: "invalid_value")
        }
        self.text = text
        tokens = MockCompletionText.estimatedTokens(utf8Count: text.utf8.count)
    }

    init(tokenIDs: [Int]) {
        text = tokenIDs.map { "t\($0)" }.joined(separator: " ")
        tokens = tokenIDs.count
    }
}

/// Deterministic embedding vectors: the sum of one pseudo-random vector per word (ASCII
/// case-folded, split at ASCII punctuation and blanks), normalised to unit length.
enum MockEmbedding {
    /// Distinct words beyond this are ignored, bounding the cost of huge inputs.
    static let maxDistinctWords = 1024

    static func vector(for text: String, dimensions: Int) -> [Float] {
        var counts: [[UInt8]: Int] = [:]
        var order: [[UInt8]] = []
        var word: [UInt8] = []
        func flush() {
            guard !word.isEmpty else { return }
            if let count = counts[word] {
                counts[word] = count + 1
            } else if order.count < maxDistinctWords {
                counts[word] = 1
                order.append(word)
            }
            word.removeAll(keepingCapacity: true)
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): word.append(byte | 0x20)
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), 0x80...:
                word.append(byte)
            default: flush()
            }
        }
        flush()
        // A text of punctuation only still deserves its own direction.
        if order.isEmpty {
            order = [Array(text.utf8)]
            counts[order[0]] = 1
        }
        var sum = [Float](repeating: 0, count: dimensions)
        for word in order {
            var hasher = StableHash()
            hasher.add(word)
            addRandomDirection(seed: hasher.value, weight: Float(counts[word] ?? 1), to: &sum)
        }
        var squares: Float = 0
        for component in sum { squares += component * component }
        let scale = squares > 0 ? 1 / squares.squareRoot() : 0
        return sum.map { $0 * scale }
    }

    /// Adds `weight` × a vector of uniform components in [-1, 1) drawn from `seed`.
    private static func addRandomDirection(seed: UInt64, weight: Float, to sum: inout [Float]) {
        var generator = SplitMix64(seed: seed)
        let unit = weight / Float(Int32.max)
        var position = 0
        while position < sum.count {
            let bits = generator.next()
            sum[position] += Float(Int32(truncatingIfNeeded: bits)) * unit
            if position + 1 < sum.count {
                sum[position + 1] += Float(Int32(truncatingIfNeeded: bits >> 32)) * unit
            }
            position += 2
        }
    }

    static func littleEndianFloat32(_ vector: [Float]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(vector.count * 4)
        for component in vector {
            let bits = component.bitPattern
            bytes.append(UInt8(truncatingIfNeeded: bits))
            bytes.append(UInt8(truncatingIfNeeded: bits >> 8))
            bytes.append(UInt8(truncatingIfNeeded: bits >> 16))
            bytes.append(UInt8(truncatingIfNeeded: bits >> 24))
        }
        return bytes
    }
}
