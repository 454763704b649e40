import Foundation
import Synchronization
import Testing

@testable import MockProvider

/// Shared helpers: a fixed clock, request shortcuts and JSON/SSE decoding of replies with
/// JSONSerialization (the independent parser the outputs are checked against).
let fixedCreated = 1_700_000_123

func makeResponder(
    models: [String] = ["mock-gpt", "mock-gpt-mini", "mock-embedding"], completionTokens: Int = 16
) -> MockResponder {
    MockResponder(models: models, completionTokens: completionTokens, clock: { fixedCreated })
}

/// A clock the test moves by hand; a Mutex keeps it Sendable without unchecked conformances.
final class ManualClock: Sendable {
    private let seconds: Mutex<Int>

    init(_ start: Int) { seconds = Mutex(start) }

    func now() -> Int { seconds.withLock { $0 } }

    func advance(by delta: Int) { seconds.withLock { $0 += delta } }
}

extension MockResponder {
    func post(_ path: String, _ json: String, headers: [String: String] = [:]) -> MockReply {
        respond(method: "POST", path: path, header: { headers[$0] }, body: Array(json.utf8))
    }

    func get(_ path: String, headers: [String: String] = [:]) -> MockReply {
        respond(method: "GET", path: path, header: { headers[$0] }, body: [])
    }
}

extension MockReply {
    var fullBody: [UInt8] {
        guard case .full(let bytes) = body else {
            Issue.record("expected a complete body, got a stream")
            return []
        }
        return bytes
    }

    var events: [[UInt8]] {
        guard case .stream(let events) = body else {
            Issue.record("expected a stream body")
            return []
        }
        return events
    }

    /// The complete body parsed as a JSON object.
    var object: [String: Any] { parseObject(fullBody) }

    /// The `data:` payloads of every event except `[DONE]`, parsed as JSON objects.
    var eventObjects: [[String: Any]] {
        events.compactMap { event in
            let text = String(decoding: event, as: UTF8.self)
            guard text != "data: [DONE]\n\n" else { return nil }
            #expect(text.hasPrefix("data: "))
            #expect(text.hasSuffix("\n\n"))
            return parseObject(Array(event.dropFirst(6).dropLast(2)))
        }
    }

    /// The `error` member of an OpenAI error body.
    var error: [String: Any] { object["error"] as? [String: Any] ?? [:] }
}

func parseObject(_ bytes: [UInt8]) -> [String: Any] {
    do {
        guard let object = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            Issue.record("not a JSON object: \(String(decoding: bytes, as: UTF8.self))")
            return [:]
        }
        return object
    } catch {
        Issue.record("invalid JSON (\(error)): \(String(decoding: bytes, as: UTF8.self))")
        return [:]
    }
}

/// Field access for nested JSON in tests: `json["usage", "total_tokens"]`.
extension Dictionary where Key == String, Value == Any {
    subscript(path: String...) -> Any? {
        var current: Any? = self
        for key in path { current = (current as? [String: Any])?[key] }
        return current
    }

    func int(_ key: String) -> Int? { self[key] as? Int }
    func string(_ key: String) -> String? { self[key] as? String }
    func objects(_ key: String) -> [[String: Any]] { self[key] as? [[String: Any]] ?? [] }
    func isNull(_ key: String) -> Bool { self[key] is NSNull }
}

/// A chat request body with one user message.
func chatBody(_ content: String = "Hello there, how are you today?", model: String = "mock-gpt", extra: String = "")
    -> String
{
    let escaped = String(decoding: try! JSONSerialization.data(withJSONObject: [content]), as: UTF8.self)
        .dropFirst().dropLast()
    return #"{"model":"\#(model)","messages":[{"role":"user","content":\#(escaped)}]\#(extra)}"#
}

/// Replaces the value of `"created":<digits>` with 0 so replies from different clocks compare.
func withoutCreated(_ bytes: [UInt8]) -> String {
    String(decoding: bytes, as: UTF8.self).replacing(#/"created":\d+/#, with: #""created":0"#)
}
