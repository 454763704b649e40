/// The per-request fault plan of the mock provider: delays and failures a test asks for through
/// `x-mock-*` request headers or `+key=value` segments of the model name. The responder applies
/// `status` and `truncateAfterChunks` to the reply it builds; the transport plays out the delays
/// and the connection reset on its own timers. A plain value; safe to share across threads.
public struct MockFaults: Sendable, Equatable {
    /// Delay before the response head, in milliseconds.
    public var latencyMs: Int
    /// Delay between stream chunks, in milliseconds.
    public var tokenIntervalMs: Int
    /// Answer with this HTTP status (400...599) and a real-looking OpenAI error body.
    public var status: Int?
    /// `retry-after` seconds for a 429 or 503 answer (429 defaults to 1 when a 429 is injected).
    public var retryAfterSeconds: Int?
    /// Stream: the transport sends this many chunks, then resets the connection.
    public var resetAfterChunks: Int?
    /// Stream: only this many chunks are produced and `data: [DONE]` is left out (already applied).
    public var truncateAfterChunks: Int?
    /// Added to the specified API: overrides the responder's completion length for this request
    /// (`x-mock-completion-tokens`, model segment `+tokens=N`), for long-stream benchmarks.
    public var completionTokens: Int?

    public static let none = MockFaults()

    public init(
        latencyMs: Int = 0, tokenIntervalMs: Int = 0, status: Int? = nil, retryAfterSeconds: Int? = nil,
        resetAfterChunks: Int? = nil, truncateAfterChunks: Int? = nil, completionTokens: Int? = nil
    ) {
        self.latencyMs = latencyMs
        self.tokenIntervalMs = tokenIntervalMs
        self.status = status
        self.retryAfterSeconds = retryAfterSeconds
        self.resetAfterChunks = resetAfterChunks
        self.truncateAfterChunks = truncateAfterChunks
        self.completionTokens = completionTokens
    }

    /// Every request header that can change the fault plan (lowercase), so a reply cache can key on them.
    public static let headerNames: [String] = FaultKey.allCases.map(\.headerName)

    /// Built once: `allCases` would allocate a fresh array on every request.
    private static let headerKeys: [(FaultKey, String)] = FaultKey.allCases.map { ($0, $0.headerName) }

    /// From request headers (`x-mock-latency-ms`, `x-mock-token-interval-ms`, `x-mock-status`,
    /// `x-mock-retry-after`, `x-mock-reset-after`, `x-mock-truncate-after`, `x-mock-completion-tokens`)
    /// and/or the model name, e.g. "mock-gpt+latency=200+status=429", "gpt-4o+interval=20+truncate=3".
    /// Headers win over model segments. `header` is called with lowercase names. Unknown or malformed
    /// segments stay part of the returned base model; malformed header values are ignored.
    public static func parse(header: (String) -> String?, model: String) -> (faults: MockFaults, baseModel: String) {
        var faults = MockFaults()
        var baseModel = model
        if model.utf8.contains(UInt8(ascii: "+")) {
            let segments = model.split(separator: "+", omittingEmptySubsequences: false)
            var kept: [Substring] = [segments[0]]
            for segment in segments.dropFirst() {
                if let (key, value) = FaultKey.parseSegment(segment) {
                    faults.set(key, value)
                } else {
                    kept.append(segment)
                }
            }
            baseModel = kept.joined(separator: "+")
        }
        for (key, name) in headerKeys {
            if let text = header(name), let value = FaultKey.parseValue(Substring(text)) {
                faults.set(key, value)
            }
        }
        if faults.status == 429, faults.retryAfterSeconds == nil { faults.retryAfterSeconds = 1 }
        return (faults, baseModel)
    }

    private mutating func set(_ key: FaultKey, _ value: Int) {
        switch key {
        case .latency: latencyMs = value
        case .interval: tokenIntervalMs = value
        // Only error statuses are faults; anything else means "answer normally".
        case .status: status = (400...599).contains(value) ? value : nil
        case .retryAfter: retryAfterSeconds = value
        case .reset: resetAfterChunks = value
        case .truncate: truncateAfterChunks = value
        case .tokens: completionTokens = value
        }
    }
}

/// One knob of the fault plan with its header name and the model-segment spellings it accepts.
enum FaultKey: CaseIterable {
    case latency, interval, status, retryAfter, reset, truncate, tokens

    var headerName: String {
        switch self {
        case .latency: "x-mock-latency-ms"
        case .interval: "x-mock-token-interval-ms"
        case .status: "x-mock-status"
        case .retryAfter: "x-mock-retry-after"
        case .reset: "x-mock-reset-after"
        case .truncate: "x-mock-truncate-after"
        case .tokens: "x-mock-completion-tokens"
        }
    }

    static func named(_ name: Substring) -> FaultKey? {
        switch name.lowercased() {
        case "latency", "latency-ms", "latency_ms", "delay": .latency
        case "interval", "interval-ms", "token-interval", "token-interval-ms", "token_interval_ms": .interval
        case "status", "error": .status
        case "retry", "retry-after", "retry_after": .retryAfter
        case "reset", "reset-after", "reset_after": .reset
        case "truncate", "truncate-after", "truncate_after": .truncate
        case "tokens", "completion-tokens", "completion_tokens": .tokens
        default: nil
        }
    }

    /// "latency=200" → (.latency, 200); nil when the key is unknown or the value not a count.
    static func parseSegment(_ segment: Substring) -> (FaultKey, Int)? {
        guard let equals = segment.firstIndex(of: "="),
            let key = named(segment[..<equals]),
            let value = parseValue(segment[segment.index(after: equals)...])
        else { return nil }
        return (key, value)
    }

    /// A non-negative decimal count, surrounding blanks allowed, capped so sums cannot overflow.
    static func parseValue(_ text: Substring) -> Int? {
        let trimmed = text.trimmingPrefix(while: { $0 == " " || $0 == "\t" })
        var value = 0
        var sawDigit = false
        var afterDigits = false
        for byte in trimmed.utf8 {
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
                afterDigits = true
                continue
            }
            guard !afterDigits, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = min(value * 10 + Int(byte - UInt8(ascii: "0")), 1_000_000_000)
            sawDigit = true
        }
        return sawDigit ? value : nil
    }
}
