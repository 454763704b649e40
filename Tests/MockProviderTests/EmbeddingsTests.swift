import Foundation
import Testing

@testable import MockProvider

@Suite struct EmbeddingsTests {
    let responder = makeResponder()

    private func vectors(_ reply: MockReply) -> [[Float]] {
        reply.object.objects("data").map { item in
            if let numbers = item["embedding"] as? [Double] { return numbers.map { Float($0) } }
            guard let text = item.string("embedding"), let data = Data(base64Encoded: text) else {
                Issue.record("embedding is neither numbers nor base64")
                return []
            }
            #expect(data.count % 4 == 0)
            return stride(from: 0, to: data.count, by: 4).map { offset in
                let bits = (0..<4).reduce(UInt32(0)) { $0 | UInt32(data[offset + $1]) << (8 * UInt32($1)) }
                return Float(bitPattern: bits)
            }
        }
    }

    private func norm(_ vector: [Float]) -> Float { vector.reduce(0) { $0 + $1 * $1 }.squareRoot() }

    private func cosine(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

    @Test func floatIsTheDefaultWith1536UnitComponents() throws {
        let reply = responder.post("/v1/embeddings", #"{"model":"mock-embedding","input":"hello world"}"#)
        #expect(reply.status == 200)
        let json = reply.object
        #expect(json.string("object") == "list")
        #expect(json.string("model") == "mock-embedding")
        let item = try #require(json.objects("data").first)
        #expect(item.string("object") == "embedding")
        #expect(item.int("index") == 0)
        #expect(item["embedding"] is [Any])
        let vector = try #require(vectors(reply).first)
        #expect(vector.count == 1536)
        #expect(abs(norm(vector) - 1) < 1e-4)
        #expect(json["usage", "prompt_tokens"] as? Int == 3)
        #expect(json["usage", "total_tokens"] as? Int == 3)
    }

    @Test func base64DecodesToUnitVectorsOfTheRequestedDimensions() throws {
        let reply = responder.post(
            "/v1/embeddings",
            #"{"model":"text-embedding-3-small","input":["a","b c","d"],"dimensions":256,"encoding_format":"base64"}"#)
        let decoded = vectors(reply)
        #expect(decoded.count == 3)
        #expect(reply.object.objects("data").map { $0.int("index") } == [0, 1, 2])
        for vector in decoded {
            #expect(vector.count == 256)
            #expect(abs(norm(vector) - 1) < 1e-4)
        }
    }

    @Test func base64AndFloatCarryTheSameValues() throws {
        let asFloat = vectors(
            responder.post("/v1/embeddings", #"{"model":"m","input":"same text","dimensions":32}"#))
        let asBase64 = vectors(
            responder.post(
                "/v1/embeddings", #"{"model":"m","input":"same text","dimensions":32,"encoding_format":"base64"}"#))
        #expect(asFloat == asBase64)
    }

    @Test func vectorsAreDeterministicAndSimilarTextsAreClose() throws {
        let body =
            #"{"model":"m","input":["the quick brown fox jumps","The quick brown fox jumps!","the quick brown fox leaps","tax invoice overdue"],"dimensions":512}"#
        let first = responder.post("/v1/embeddings", body)
        #expect(first == responder.post("/v1/embeddings", body))
        let v = vectors(first)
        #expect(cosine(v[0], v[1]) > 0.9999, "case and punctuation are ignored")
        #expect(cosine(v[0], v[2]) > 0.7)
        #expect(abs(cosine(v[0], v[3])) < 0.3)
    }

    @Test func tokenArrayInputsEmbed() {
        let single = responder.post("/v1/embeddings", #"{"model":"m","input":[1,2,3],"dimensions":8}"#)
        #expect(vectors(single).count == 1)
        #expect(single.object["usage", "prompt_tokens"] as? Int == 3)
        let batch = responder.post("/v1/embeddings", #"{"model":"m","input":[[1,2],[3]],"dimensions":8}"#)
        #expect(vectors(batch).count == 2)
        #expect(batch.object["usage", "prompt_tokens"] as? Int == 3)
    }

    @Test func invalidInputsAre400() {
        let cases: [(String, String?, String?)] = [
            (#"{"model":"m"}"#, "input", "missing_required_parameter"),
            (#"{"model":"m","input":""}"#, "input", "invalid_value"),
            (#"{"model":"m","input":[]}"#, "input", "empty_array"),
            (#"{"model":"m","input":["ok",""]}"#, "input[1]", "invalid_value"),
            (#"{"model":"m","input":7}"#, "input", "invalid_type"),
            (#"{"model":"m","input":"x","encoding_format":"int8"}"#, "encoding_format", "invalid_value"),
            (#"{"model":"m","input":"x","dimensions":0}"#, "dimensions", "integer_below_min_value"),
            (#"{"model":"m","input":"x","dimensions":100000}"#, "dimensions", "integer_above_max_value"),
        ]
        for (body, param, code) in cases {
            let reply = responder.post("/v1/embeddings", body)
            #expect(reply.status == 400, "\(body)")
            #expect(reply.error.string("type") == "invalid_request_error", "\(body)")
            #expect(reply.error.string("param") == param, "\(body)")
            #expect(reply.error.string("code") == code, "\(body)")
        }
    }

    @Test func tooManyInputsAre400() {
        let inputs = Array(repeating: "\"x\"", count: 2049).joined(separator: ",")
        let reply = responder.post("/v1/embeddings", #"{"model":"m","input":[\#(inputs)],"dimensions":4}"#)
        #expect(reply.status == 400 && reply.error.string("code") == "array_above_max_length")
    }

    @Test func punctuationOnlyTextStillGetsAUnitVector() throws {
        let vector = try #require(
            vectors(responder.post("/v1/embeddings", #"{"model":"m","input":"?!","dimensions":16}"#)).first)
        #expect(abs(norm(vector) - 1) < 1e-4)
    }
}
