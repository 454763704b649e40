import GatewayCore
import Logging
import Reactor

/// One structured line per request through swift-log: request id, model, provider, status,
/// upstream ms, gateway overhead ms, bytes in and out. Nothing secret is ever in an entry:
/// no headers, no bodies, no keys. Safe from any worker.
public struct AccessLog: Sendable {
    public struct Entry: Sendable {
        var requestID: String
        var method: String
        var path: String
        var model: String?
        var provider: String?
        var status: Int
        var upstreamNanos: UInt64
        var overheadNanos: UInt64
        var bytesIn: Int
        var bytesOut: Int
        var stream: Bool
        var streamError: String?
    }

    private let logger: Logger
    private let enabled: Bool
    /// Whether entries are written (`log.access_log`); without, callers need not build them.
    var isEnabled: Bool { enabled }

    public init(logger: Logger, enabled: Bool) {
        self.logger = logger
        self.enabled = enabled
    }

    func record(_ entry: Entry, receivedAt: UInt64) {
        guard enabled else { return }
        var metadata: Logger.Metadata = [
            "request_id": .string(entry.requestID),
            "method": .string(entry.method),
            "path": .string(entry.path),
            "status": .stringConvertible(entry.status),
            "upstream_ms": .string(GatewayEdge.milliseconds(entry.upstreamNanos)),
            "overhead_ms": .string(GatewayEdge.milliseconds(entry.overheadNanos)),
            "duration_ms": .string(GatewayEdge.milliseconds(monotonicNanos() &- receivedAt)),
            "bytes_in": .stringConvertible(entry.bytesIn),
            "bytes_out": .stringConvertible(entry.bytesOut),
        ]
        if let model = entry.model { metadata["model"] = .string(model) }
        if let provider = entry.provider { metadata["provider"] = .string(provider) }
        if entry.stream { metadata["stream"] = .stringConvertible(true) }
        if let error = entry.streamError { metadata["stream_error"] = .string(error) }
        logger.info("request", metadata: metadata)
    }
}
