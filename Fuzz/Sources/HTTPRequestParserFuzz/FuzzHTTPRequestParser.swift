import CFuzzerDriver
import HTTPTypes

// libFuzzer entry point for HTTPRequestParser. Input layout: byte 0 is control (bit 7: small
// limits, so limit paths are reachable with short inputs; bits 0-6: seed for the split points),
// the rest is the bytes a client sends. Each input is fed twice, whole and in random pieces the
// way a socket delivers them, and any broken invariant traps so libFuzzer reports it:
// consumed within the input, body ranges inside what was consumed, `(nil, 0)` only with bounded
// unconsumed bytes, an error is final (later calls throw it again, nothing is accepted after it),
// and the outcome does not depend on how the bytes were split.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPRequestParser(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let control = data[0]
    let message = UnsafeBufferPointer(start: data + 1, count: size - 1)
    let limits = control & 0x80 != 0 ? FuzzConnection.smallLimits : HTTPParserLimits()
    let whole = FuzzConnection.run(message, limits: limits, splitSeed: nil)
    let split = FuzzConnection.run(message, limits: limits, splitSeed: UInt64(control & 0x7F) &+ UInt64(size) << 7)
    check(whole == split, "outcome depends on how the input was split")
    return 0
}

/// The program's main: SwiftPM links an executable target with `main` aliased to `<Target>_main`
/// (and with -parse-as-library Swift emits none), so this hands the command line to libFuzzer.
@_cdecl("HTTPRequestParserFuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzHTTPRequestParser(data, size) }
}

/// Traps with a message; not `precondition`, which -Ounchecked would remove.
func check(_ condition: Bool, _ message: StaticString) {
    if !condition { fatalError("\(message)") }
}

/// What the parser made of the input; body bytes copied out and adjacent pieces merged.
enum FuzzOutcome: Equatable {
    case head(HTTPRequestHead)
    case body([UInt8])
    case end
    case error(HTTPParseError)
}

/// Plays a connection: keeps unconsumed bytes, appends pieces, drains events.
struct FuzzConnection {
    static let smallLimits = HTTPParserLimits(
        maxRequestLineBytes: 64, maxHeaderBytes: 256, maxHeaderCount: 8, maxBodyBytes: 64,
        maxChunkExtensionBytes: 16, maxTrailerBytes: 64)

    var parser: HTTPRequestParser
    var buffer: [UInt8] = []
    var outcome: [FuzzOutcome] = []
    var failure: HTTPParseError?
    /// Most bytes the caller can be asked to hold while the parser waits for more.
    let maxUnconsumed: Int

    init(limits: HTTPParserLimits) {
        parser = HTTPRequestParser(limits: limits)
        maxUnconsumed =
            2 * HTTPRequestParser.maxLeadingEmptyLines + limits.maxRequestLineBytes + limits.maxHeaderBytes
            + 2 + HTTPRequestParser.maxChunkSizeDigits + 2 + limits.maxChunkExtensionBytes + limits.maxTrailerBytes
    }

    static func run(_ message: UnsafeBufferPointer<UInt8>, limits: HTTPParserLimits, splitSeed: UInt64?)
        -> [FuzzOutcome]
    {
        var connection = FuzzConnection(limits: limits)
        var random = SplitMix64(state: splitSeed ?? 0)
        var offset = 0
        while offset < message.count && connection.failure == nil {
            var length = message.count - offset
            if splitSeed != nil {
                let draw = random.next()
                length = min(length, draw & 3 == 0 ? 1 : 1 + Int((draw >> 8) % 64))
            }
            connection.feed(UnsafeBufferPointer(rebasing: message[offset..<offset + length]))
            offset += length
        }
        if let failure = connection.failure {
            // An error is final: more bytes, even a valid request, get the same error again.
            connection.buffer.append(contentsOf: "GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
            var parser = connection.parser
            let again = connection.buffer.withUnsafeBytes { raw in
                Result { () throws(HTTPParseError) in try parser.parse(raw) }
            }
            guard case .failure(let error) = again else { fatalError("accepted input after an error") }
            check(error == failure, "a failed parser threw a different error")
        }
        return connection.outcome
    }

    mutating func feed(_ piece: UnsafeBufferPointer<UInt8>) {
        buffer.append(contentsOf: piece)
        var parser = self.parser
        defer { self.parser = parser }
        while true {
            let step = buffer.withUnsafeBytes { raw in
                Result { () throws(HTTPParseError) -> (FuzzOutcome?, Int) in
                    let (event, consumed) = try parser.parse(raw)
                    check(consumed >= 0 && consumed <= raw.count, "consumed more than the input")
                    switch event {
                    case .head(let head)?:
                        check(consumed > 0, "a head consumed nothing")
                        return (.head(head), consumed)
                    case .body(let range)?:
                        check(
                            !range.isEmpty && range.lowerBound >= 0 && range.upperBound <= consumed,
                            "body range outside consumed bytes")
                        return (.body(Array(raw[range])), consumed)
                    case .end?:
                        return (.end, consumed)
                    case nil:
                        check(consumed == 0, "consumed bytes without an event")
                        check(raw.count <= maxUnconsumed, "waiting for more with an unbounded buffer")
                        return (nil, 0)
                    }
                }
            }
            switch step {
            case .success((let event, let consumed)):
                buffer.removeFirst(consumed)
                guard let event else { return }
                if case .end = event { check(!parser.isMidRequest, "mid-request after .end") }
                if case .body(let bytes) = event, case .body(let previous)? = outcome.last {
                    outcome[outcome.count - 1] = .body(previous + bytes)
                } else {
                    outcome.append(event)
                }
            case .failure(let error):
                check([400, 413, 414, 417, 431, 501, 505].contains(error.status), "unexpected status")
                failure = error
                outcome.append(.error(error))
                return
            }
        }
    }
}

/// Deterministic split points per input, so a crash reproduces from the saved input alone.
struct SplitMix64 {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
