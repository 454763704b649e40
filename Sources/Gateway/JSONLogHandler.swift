import GatewayCore
import Glibc
import Logging
import Reactor
import Synchronization

/// Where log lines go: a bounded in-memory buffer flushed to a file descriptor (stdout) when it
/// passes 64 KiB and by `flush()` (the main thread calls it a few times a second and at exit),
/// so a busy worker pays one `write` per many lines instead of one per line. Thread-safe.
public final class LogSink: Sendable {
    private let fd: Int32
    private let buffer = Mutex<[UInt8]>([])
    static let flushThreshold = 64 * 1024

    public init(fd: Int32 = 1) { self.fd = fd }

    func append(_ line: [UInt8]) {
        let full: [UInt8]? = buffer.withLock { buffer in
            buffer.append(contentsOf: line)
            guard buffer.count >= Self.flushThreshold else { return nil }
            defer { buffer.removeAll(keepingCapacity: true) }
            return buffer
        }
        if let full { write(full) }
    }

    public func flush() {
        let pending: [UInt8] = buffer.withLock { buffer in
            defer { buffer.removeAll(keepingCapacity: true) }
            return buffer
        }
        if !pending.isEmpty { write(pending) }
    }

    private func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue } else { return } }
                offset += n
            }
        }
    }
}

/// A swift-log handler printing one JSON object per line:
/// `{"ts":"…","level":"info","logger":"access","msg":"request",…metadata}`.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let sink: LogSink

    public init(label: String, sink: LogSink, level: Logger.Level) {
        self.label = label
        self.sink = sink
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var out: [UInt8] = []
        out.reserveCapacity(384)
        out.append(contentsOf: #"{"ts":"#.utf8)
        JSONWriter.appendString(Self.timestamp(), to: &out)
        out.append(contentsOf: #","level":"#.utf8)
        JSONWriter.appendString(event.level.rawValue, to: &out)
        out.append(contentsOf: #","logger":"#.utf8)
        JSONWriter.appendString(label, to: &out)
        out.append(contentsOf: #","msg":"#.utf8)
        JSONWriter.appendString(event.message.description, to: &out)
        let merged = event.metadata.map { metadata.merging($0) { $1 } } ?? metadata
        for key in merged.keys.sorted() {
            out.append(UInt8(ascii: ","))
            JSONWriter.appendString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            Self.append(merged[key]!, to: &out)
        }
        out.append(contentsOf: "}\n".utf8)
        sink.append(out)
    }

    private static func append(_ value: Logger.Metadata.Value, to out: inout [UInt8]) {
        switch value {
        case .string(let s): JSONWriter.appendString(s, to: &out)
        case .stringConvertible(let c):
            let text = c.description
            if c is Int || c is Bool || c is UInt64 { out.append(contentsOf: text.utf8) } else { JSONWriter.appendString(text, to: &out) }
        case .array(let values):
            out.append(UInt8(ascii: "["))
            for (i, v) in values.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                append(v, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .dictionary(let dict):
            out.append(UInt8(ascii: "{"))
            for (i, key) in dict.keys.sorted().enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.appendString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                append(dict[key]!, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// RFC 3339 UTC with milliseconds.
    static func timestamp() -> String {
        let nanos = wallClockNanos()
        var t = time_t(nanos / 1_000_000_000)
        var tm = Glibc.tm()
        gmtime_r(&t, &tm)
        let ms = Int(nanos / 1_000_000 % 1_000)
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(tm.tm_year + 1900)-\(pad(Int(tm.tm_mon) + 1, 2))-\(pad(Int(tm.tm_mday), 2))T\(pad(Int(tm.tm_hour), 2)):\(pad(Int(tm.tm_min), 2)):\(pad(Int(tm.tm_sec), 2)).\(pad(ms, 3))Z"
    }
}
