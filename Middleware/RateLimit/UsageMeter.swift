import Glibc

/// Token usage of one answer, read from what the provider sent: the `usage` object of a JSON
/// answer, or of the final SSE chunk. When a stream carries none (the client did not ask for
/// `include_usage`, or the stream was cut short), completion tokens are estimated as one per
/// content-bearing chunk, which is how OpenAI-compatible servers stream. Reactor-confined value.
public struct UsageMeter: Sendable {
    public private(set) var promptTokens: Int64?
    public private(set) var completionTokens: Int64?
    /// Chunks with a non-empty `"content"` or `"text"` seen so far (the estimate's basis).
    public private(set) var contentChunks: Int64 = 0

    public init() {}

    /// Reads a complete JSON answer.
    public mutating func observe(body: [UInt8]) {
        guard let usage = Self.usage(in: body) else { return }
        promptTokens = usage.prompt
        completionTokens = usage.completion
    }

    /// Reads one SSE chunk as relayed (one or more `data: …` events).
    public mutating func observe(chunk: [UInt8]) {
        if let usage = Self.usage(in: chunk) {
            promptTokens = usage.prompt
            completionTokens = usage.completion
        }
        if Self.hasNonEmptyString(chunk, #""content":""#) || Self.hasNonEmptyString(chunk, #""text":""#) { contentChunks += 1 }
    }

    /// The usage to account: what the provider reported, else the estimate (`promptEstimate`
    /// for the prompt, content chunks for the completion).
    public func tokens(promptEstimate: Int64) -> (prompt: Int64, completion: Int64) {
        (promptTokens ?? promptEstimate, completionTokens ?? contentChunks)
    }

    // MARK: Scanning

    /// The last `"usage": {…}` object's `prompt_tokens` and `completion_tokens` (0 when a member
    /// is absent, as for embeddings). Looks for an unescaped key, so quoted text in content
    /// (`\"usage\":`) never matches. Scans from the end (usage comes last, or nearly) over the
    /// raw buffer: this runs on every answer to a limited caller.
    static func usage(in bytes: [UInt8]) -> (prompt: Int64, completion: Int64)? {
        bytes.withUnsafeBufferPointer { bytes in
            usageShifts.withUnsafeBufferPointer { shifts in
                let key = usageKey
                guard bytes.count > key.count else { return nil }
                // Horspool, right to left: a byte that cannot start the key moves the window left
                // by as much as the key allows (7 for most JSON), so about one byte in six is read.
                var start = bytes.count - key.count
                while start >= 0 {
                    let byte = bytes[start]
                    if byte == UInt8(ascii: "\""), matches(bytes, key, at: start), start == 0 || bytes[start - 1] != UInt8(ascii: "\\") {
                        var i = start + key.count
                        skipSpace(bytes, &i)
                        if i < bytes.count, bytes[i] == UInt8(ascii: ":") {
                            i += 1
                            skipSpace(bytes, &i)
                            if i < bytes.count, bytes[i] == UInt8(ascii: "{") { return members(bytes, objectStart: i) }
                            return nil  // "usage": null
                        }
                    }
                    start -= Int(shifts[Int(byte)])
                }
                return nil
            }
        }
    }

    /// Top-level integer members of the object at `objectStart` (nested objects are skipped);
    /// stops once both counts are read (they come first in every OpenAI-shaped usage).
    private static func members(_ bytes: UnsafeBufferPointer<UInt8>, objectStart: Int) -> (prompt: Int64, completion: Int64) {
        if let counts = leadingCounts(bytes, objectStart: objectStart) { return counts }
        var prompt: Int64?
        var completion: Int64?
        var depth = 0
        var i = objectStart
        var inString = false
        var keyStart = -1
        // The last top-level key, as a range of `bytes` (no slice, no retain per key).
        var lastKey = 0..<0
        while i < bytes.count {
            let byte = bytes[i]
            if inString {
                if byte == UInt8(ascii: "\\") {
                    i += 2
                    continue
                }
                if byte == UInt8(ascii: "\"") {
                    inString = false
                    if depth == 1 { lastKey = keyStart..<i }
                }
                i += 1
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                inString = true
                keyStart = i + 1
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 { return (prompt ?? 0, completion ?? 0) }
            case UInt8(ascii: "0")...UInt8(ascii: "9") where depth == 1:
                var value: Int64 = 0
                while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9"), value < Int64.max / 10 - 9 {
                    value = value * 10 + Int64(bytes[i] - UInt8(ascii: "0"))
                    i += 1
                }
                if equals(bytes, lastKey, promptKey) { prompt = value }
                if equals(bytes, lastKey, completionKey) { completion = value }
                if let prompt, let completion { return (prompt, completion) }
                continue
            default:
                break
            }
            i += 1
        }
        return (prompt ?? 0, completion ?? 0)
    }

    /// The shape OpenAI and compatible servers send, read without the general scan:
    /// `{"prompt_tokens":N,"completion_tokens":M` then `,` or `}`. nil for anything else
    /// (spaces, another order, a number too long), which the general scan then reads.
    private static func leadingCounts(_ bytes: UnsafeBufferPointer<UInt8>, objectStart: Int) -> (prompt: Int64, completion: Int64)? {
        var i = objectStart + 1
        guard matches(bytes, promptMember, at: i) else { return nil }
        i += promptMember.count
        guard let prompt = digits(bytes, &i), i < bytes.count, bytes[i] == UInt8(ascii: ","),
            matches(bytes, completionMember, at: i + 1)
        else { return nil }
        i += 1 + completionMember.count
        guard let completion = digits(bytes, &i), i < bytes.count, bytes[i] == UInt8(ascii: ",") || bytes[i] == UInt8(ascii: "}")
        else { return nil }
        return (prompt, completion)
    }

    /// A run of 1 to 18 digits at `i` as a number, `i` moved past it.
    private static func digits(_ bytes: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Int64? {
        let start = i
        var value: Int64 = 0
        while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
            guard i - start < 18 else { return nil }
            value = value * 10 + Int64(bytes[i] - UInt8(ascii: "0"))
            i += 1
        }
        return i > start ? value : nil
    }

    private static let promptMember = Array(#""prompt_tokens":"#.utf8)
    private static let completionMember = Array(#""completion_tokens":"#.utf8)
    private static let usageKey = Array(#""usage""#.utf8)
    /// How far left the search window may move when the byte at its start is `b`: the first
    /// position of `b` in the key after its opening quote, or the key's length.
    private static let usageShifts: [UInt8] = (0..<256).map { byte in
        UInt8(usageKey.dropFirst().firstIndex(of: UInt8(byte)) ?? usageKey.count)
    }
    private static let promptKey = Array("prompt_tokens".utf8)
    private static let completionKey = Array("completion_tokens".utf8)

    private static func equals(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ word: [UInt8]) -> Bool {
        range.count == word.count && matches(bytes, word, at: range.lowerBound)
    }

    private static func skipSpace(_ bytes: UnsafeBufferPointer<UInt8>, _ i: inout Int) {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0a || bytes[i] == 0x0d || bytes[i] == 0x09 { i += 1 }
    }

    private static func matches(_ bytes: UnsafeBufferPointer<UInt8>, _ pattern: [UInt8], at start: Int) -> Bool {
        guard start >= 0, start + pattern.count <= bytes.count, let base = bytes.baseAddress else { return false }
        return pattern.withUnsafeBufferPointer { memcmp(base + start, $0.baseAddress!, $0.count) == 0 }
    }

    /// Whether `bytes` holds `prefix` (a key and the opening quote of its value) followed by a
    /// non-empty string.
    private static func hasNonEmptyString(_ bytes: [UInt8], _ prefix: String) -> Bool {
        let pattern = Array(prefix.utf8)
        guard bytes.count > pattern.count else { return false }
        return bytes.withUnsafeBufferPointer { bytes in
            for start in 0..<(bytes.count - pattern.count) where bytes[start] == pattern[0] && matches(bytes, pattern, at: start) {
                if bytes[start + pattern.count] != UInt8(ascii: "\"") { return true }
            }
            return false
        }
    }
}
