import Foundation

/// The transport-free heart of the mock LLM provider: turns one HTTP request into what an
/// OpenAI-compatible API would answer (deterministic content, realistic usage, SSE framing, real
/// error bodies) plus the fault plan the transport plays out. Pure and synchronous: it never
/// sleeps or does I/O, holds no mutable state, and may be called from any thread at once.
public struct MockResponder: Sendable {
    /// Ids served by `GET /v1/models`; other endpoints accept any model name.
    public let models: [String]
    /// Tokens in every answer unless `max_tokens` cuts it or the fault plan overrides it.
    public let completionTokens: Int
    /// Seconds since 1970 for `created`; injected so tests are reproducible.
    public let clock: @Sendable () -> Int

    public init(
        models: [String] = ["mock-gpt", "mock-gpt-mini", "mock-embedding"], completionTokens: Int = 16,
        clock: @escaping @Sendable () -> Int = { Int(Date().timeIntervalSince1970) }
    ) {
        self.models = models
        self.completionTokens = max(0, completionTokens)
        self.clock = clock
    }

    /// Answers one request. `path` may carry a query and may omit the `/v1` prefix; `header` is
    /// called with lowercase names. Unknown paths get 404, known paths with the wrong method 405,
    /// both OpenAI-shaped. An injected `x-mock-status` wins over validation errors.
    public func respond(method: String, path: String, header: (String) -> String?, body: [UInt8]) -> MockReply {
        let (route, shownPath) = MockRoute.match(path)
        guard let route else {
            let faults = MockFaults.parse(header: header, model: "").faults
            return MockRequestError.invalidURL(method: method, path: String(shownPath)).reply(faults: faults)
        }
        guard method == route.method || method.uppercased() == route.method else {
            let faults = MockFaults.parse(header: header, model: "").faults
            return MockRequestError.methodNotAllowed(method: method, path: String(shownPath), allowed: route.method)
                .reply(faults: faults)
        }
        switch route {
        case .listModels:
            let faults = MockFaults.parse(header: header, model: "").faults
            if let injected = injectedError(faults, model: "") { return injected }
            return listModels(faults: faults)
        case .retrieveModel(let id):
            let (faults, baseModel) = MockFaults.parse(header: header, model: id)
            if let injected = injectedError(faults, model: baseModel) { return injected }
            return retrieveModel(baseModel, faults: faults)
        case .chatCompletions, .completions, .embeddings:
            return respondToPost(route, header: header, body: body)
        }
    }

    private func respondToPost(_ route: MockRoute, header: (String) -> String?, body: [UInt8]) -> MockReply {
        let parsed = RequestObject.parse(body)
        let rawModel = (try? parsed.get())?.rawModel ?? ""
        let (faults, baseModel) = MockFaults.parse(header: header, model: rawModel)
        if let injected = injectedError(faults, model: baseModel) { return injected }
        do {
            let request = try parsed.get()
            _ = try request.model()
            let call = MockCall(
                baseModel: baseModel, created: clock(), requestHash: MockCall.hash(route: route, body: body),
                completionTokens: faults.completionTokens ?? completionTokens, faults: faults)
            switch route {
            case .chatCompletions: return try chatCompletion(request, call)
            case .completions: return try textCompletion(request, call)
            default: return try embeddings(request, call)
            }
        } catch {
            return error.reply(faults: faults)
        }
    }

    private func injectedError(_ faults: MockFaults, model: String) -> MockReply? {
        guard let status = faults.status else { return nil }
        return MockRequestError.injected(status: status, model: model, retryAfterSeconds: faults.retryAfterSeconds)
            .reply(faults: faults)
    }
}

/// What every generated answer of one request shares: the echoed model, `created`, the hash the
/// id derives from, the answer length and the fault plan.
struct MockCall {
    var baseModel: String
    var created: Int
    var requestHash: UInt64
    var completionTokens: Int
    var faults: MockFaults

    var fingerprint: String { MockIdentifier.fingerprint(model: baseModel) }

    func id(prefix: String) -> String { MockIdentifier.make(prefix: prefix, hash: requestHash) }

    /// Answer length under a client limit, and whether the limit cut it ("length") or not ("stop").
    func answerLength(limit: Int?) -> (count: Int, finishReason: String) {
        if let limit, limit < completionTokens { return (limit, "length") }
        return (completionTokens, "stop")
    }

    static func hash(route: MockRoute, body: [UInt8]) -> UInt64 {
        var hash = StableHash()
        hash.add(route.method)
        hash.add(route.canonicalPath)
        hash.add(0)
        hash.add(body)
        return hash.value
    }
}

/// The endpoints the mock serves, matched with or without the `/v1` prefix.
enum MockRoute: Equatable {
    case chatCompletions, completions, embeddings, listModels
    case retrieveModel(String)

    var method: String {
        switch self {
        case .listModels, .retrieveModel: "GET"
        default: "POST"
        }
    }

    var canonicalPath: String {
        switch self {
        case .chatCompletions: "/v1/chat/completions"
        case .completions: "/v1/completions"
        case .embeddings: "/v1/embeddings"
        case .listModels: "/v1/models"
        case .retrieveModel(let id): "/v1/models/" + id
        }
    }

    /// The route for `rawPath` (nil when unknown) and the path without its query, for messages.
    /// Works on the UTF-8 bytes: this runs for every request, cached or not.
    static func match(_ rawPath: String) -> (MockRoute?, Substring) {
        var rawPath = rawPath
        let queryStart = rawPath.utf8.firstIndex { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }
        let shownPath = rawPath[..<(queryStart ?? rawPath.endIndex)]
        let route = rawPath.withUTF8 { bytes -> MockRoute? in
            var end = shownPath.utf8.count
            var start = 0
            if end >= 4, bytes[0] == UInt8(ascii: "/"), bytes[1] == UInt8(ascii: "v"), bytes[2] == UInt8(ascii: "1"),
                bytes[3] == UInt8(ascii: "/")
            {
                start = 3
            }
            if end - start > 1, bytes[end - 1] == UInt8(ascii: "/") { end -= 1 }
            let path = UnsafeBufferPointer(rebasing: bytes[start..<end])
            if path.elementsEqual("/chat/completions".utf8) { return .chatCompletions }
            if path.elementsEqual("/completions".utf8) { return .completions }
            if path.elementsEqual("/embeddings".utf8) { return .embeddings }
            if path.elementsEqual("/models".utf8) { return .listModels }
            let modelsPrefix = "/models/".utf8
            if path.count > modelsPrefix.count, path.starts(with: modelsPrefix) {
                let id = String(decoding: UnsafeBufferPointer(rebasing: path[modelsPrefix.count...]), as: UTF8.self)
                return .retrieveModel(id.removingPercentEncoding ?? id)
            }
            return nil
        }
        return (route, shownPath)
    }
}
