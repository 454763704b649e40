/// FNV-1a over bytes with a SplitMix64 finish: a stable hash, the same in every process and run
/// (unlike `Hasher`, which is seeded per process), so mock ids, content and vectors are
/// reproducible across restarts and across the two transports.
struct StableHash {
    private(set) var state: UInt64 = 0xcbf2_9ce4_8422_2325

    init() {}

    init(seed: UInt64) { state ^= seed &* 0x9E37_79B9_7F4A_7C15 }

    mutating func add(_ byte: UInt8) {
        state = (state ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }

    mutating func add(_ bytes: UnsafeBufferPointer<UInt8>) {
        var hash = state
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        state = hash
    }

    mutating func add(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { add($0) }
    }

    mutating func add(_ text: String) {
        var text = text
        text.withUTF8 { add($0) }
    }

    var value: UInt64 {
        var generator = SplitMix64(seed: state)
        return generator.next()
    }

    static func of(_ text: String) -> UInt64 {
        var hash = StableHash()
        hash.add(text)
        return hash.value
    }
}

/// A tiny deterministic generator (Vigna's SplitMix64): content words and embedding components.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}

/// The deterministic answer text: "Mock reply to: <first words of the prompt> — <words picked by
/// a hash of the whole prompt>." split into tokens (one stream chunk each). Any cut of the token
/// list is a prefix of the full answer, so `max_tokens` truncation reads like a real model's.
enum MockCompletionText {
    /// How many leading words of the prompt are echoed, and how long each may be.
    static let echoedWordCount = 5
    static let echoedWordMaxCharacters = 24

    static let vocabulary: [String] = [
        " the", " gateway", " routes", " every", " request", " to", " a", " healthy",
        " provider", " while", " tokens", " stream", " back", " quickly", " and", " caches",
        " answers", " for", " later", " calls", " with", " low", " latency", " under",
        " load", " so", " clients", " see", " steady", " replies", " from", " mock",
        " models", " in", " tests", " benchmarks", " demos", " today", " switchyard", " keeps",
        " limits", " fair", " across", " tiers", " retries", " fall", " over", " on",
        " errors", " circuits", " open", " close", " again", " when", " upstreams", " recover",
        " quotas", " reset", " each", " minute", " it", " is", " deterministic", " output",
    ]

    /// The first `count` tokens of choice `choice` of the answer to a prompt whose text starts
    /// with `promptText`; `promptHash` (a hash of the whole prompt) picks the words. Choices after
    /// the first say their number ("Mock reply 2 to: …") so they differ even when cut short.
    static func tokens(echoing promptText: String, promptHash: UInt64, choice: Int, count: Int) -> [String] {
        guard count > 0 else { return [] }
        var tokens = choice == 0 ? ["Mock", " reply", " to", ":"] : ["Mock", " reply", " \(choice + 1)", " to", ":"]
        let echoed = echoedWords(promptText)
        if !echoed.isEmpty {
            tokens.append(contentsOf: echoed.map { " " + $0 })
            tokens.append(" —")
        }
        if tokens.count >= count { return Array(tokens.prefix(count)) }
        tokens.reserveCapacity(count)
        var generator = SplitMix64(seed: promptHash ^ UInt64(choice) &* 0x9E37_79B9_7F4A_7C15)
        while tokens.count < count - 1 {
            tokens.append(vocabulary[Int(generator.next() & 63)])
        }
        tokens.append(".")
        return tokens
    }

    /// The first `echoedWordCount` words of `text` (split at ASCII blanks on the bytes, which is
    /// much cheaper than Character segmentation), each cut to `echoedWordMaxCharacters` scalars.
    static func echoedWords(_ text: String) -> [String] {
        var words: [String] = []
        var text = text
        text.withUTF8 { utf8 in
            var index = 0
            while index < utf8.count, words.count < echoedWordCount {
                while index < utf8.count, isBlank(utf8[index]) { index += 1 }
                let start = index
                var end = index
                var scalars = 0
                while index < utf8.count, !isBlank(utf8[index]) {
                    if utf8[index] & 0xC0 != 0x80 { scalars += 1 }  // not a UTF-8 continuation byte
                    if scalars <= echoedWordMaxCharacters { end = index + 1 }
                    index += 1
                }
                if end > start {
                    words.append(String(decoding: UnsafeBufferPointer(rebasing: utf8[start..<end]), as: UTF8.self))
                }
            }
        }
        return words
    }

    private static func isBlank(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }

    /// OpenAI's rule of thumb: about four bytes of English text per token, at least one.
    static func estimatedTokens(utf8Count: Int) -> Int {
        max(1, (utf8Count + 3) / 4)
    }
}

/// Short identifiers in the alphabet OpenAI uses for its ids.
enum MockIdentifier {
    private static let base62: [UInt8] = Array(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// `prefix` + 24 base62 characters derived from `hash` (e.g. "chatcmpl-…").
    static func make(prefix: String, hash: UInt64) -> String {
        var bytes = Array(prefix.utf8)
        var generator = SplitMix64(seed: hash)
        for _ in 0..<2 {
            var word = generator.next()
            for _ in 0..<12 {
                bytes.append(base62[Int(word % 62)])
                word /= 62
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// "fp_" + 10 hex digits, stable per model, like OpenAI's `system_fingerprint`.
    static func fingerprint(model: String) -> String {
        var value = StableHash.of(model)
        let hex = Array("0123456789abcdef".utf8)
        var bytes = Array("fp_".utf8)
        for _ in 0..<10 {
            bytes.append(hex[Int(value & 15)])
            value >>= 4
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
