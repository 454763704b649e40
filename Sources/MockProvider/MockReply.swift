/// The body of a mock reply: complete bytes, or the SSE events of a stream in order.
/// Each stream element is one COMPLETE event ("data: {...}\n\n"); the last one is
/// "data: [DONE]\n\n" unless the fault plan truncated the stream.
public enum MockBody: Sendable, Equatable {
    case full([UInt8])
    case stream([[UInt8]])
}

/// What the mock provider answers to one request: status, headers, body and the fault plan the
/// transport still has to play out (latency, chunk interval, connection reset). Truncation is
/// already applied to the chunks. Headers exclude framing (`content-length`, `connection`), which
/// belong to the transport. A plain value; safe to share across threads.
public struct MockReply: Sendable, Equatable {
    public var status: Int
    /// Lowercase names; `content-type` always, `retry-after` and `x-ratelimit-*` on 429/503.
    public var headers: [(String, String)]
    public var body: MockBody
    public var faults: MockFaults

    public init(status: Int, headers: [(String, String)], body: MockBody, faults: MockFaults) {
        self.status = status
        self.headers = headers
        self.body = body
        self.faults = faults
    }

    /// The first value of the header `name` (compared case-insensitively).
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.0.lowercased() == wanted }?.1
    }

    public static func == (lhs: MockReply, rhs: MockReply) -> Bool {
        lhs.status == rhs.status && lhs.body == rhs.body && lhs.faults == rhs.faults
            && lhs.headers.count == rhs.headers.count
            && zip(lhs.headers, rhs.headers).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }
}

extension MockReply {
    static let jsonHeaders: [(String, String)] = [("content-type", "application/json")]
    static let streamHeaders: [(String, String)] = [
        ("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache"),
    ]

    /// A complete JSON reply.
    static func json(_ status: Int, _ body: JSONBytes, faults: MockFaults, extraHeaders: [(String, String)] = [])
        -> MockReply
    {
        MockReply(status: status, headers: jsonHeaders + extraHeaders, body: .full(body.bytes), faults: faults)
    }

    /// A 200 SSE reply; applies `truncateAfterChunks` (keep N events, no `[DONE]`) or appends `[DONE]`.
    static func stream(_ events: [[UInt8]], faults: MockFaults) -> MockReply {
        var events = events
        if let keep = faults.truncateAfterChunks {
            if keep < events.count { events.removeSubrange(keep...) }
        } else {
            events.append(doneEvent)
        }
        return MockReply(status: 200, headers: streamHeaders, body: .stream(events), faults: faults)
    }

    static let doneEvent: [UInt8] = Array("data: [DONE]\n\n".utf8)

    /// Wraps one JSON object as an SSE event: "data: " + json + "\n\n".
    static func sseEvent(_ json: JSONBytes) -> [UInt8] {
        var event: [UInt8] = []
        event.reserveCapacity(json.bytes.count + 8)
        event.append(contentsOf: "data: ".utf8)
        event.append(contentsOf: json.bytes)
        event.append(contentsOf: "\n\n".utf8)
        return event
    }
}
