import GatewayCore
import Glibc
import Reactor

/// Relays a provider's SSE body and makes sure a stream that fails says so: a transfer error,
/// or a clean end without `data: [DONE]`, becomes a thrown `streamInterrupted`, which the edge
/// turns into a final `data: {"error": …}` event. Also adds the time spent waiting for
/// upstream chunks to the request's upstream time. Reactor-thread confined.
final class SSEStreamGuard: ResponseStream, @unchecked Sendable {
    private let source: Source
    private let provider: String
    private let context: RequestContext
    private var doneScan = DoneMarkerScan()
    private var sawDone = false
    private var ended = false

    /// Where chunks come from: an upstream transfer (curl or native) or the built-in mock.
    enum Source {
        case transfer(UpstreamTransfer)
        case pieces(any ResponseStream)
    }

    init(_ source: Source, provider: String, context: RequestContext) {
        self.source = source
        self.provider = provider
        self.context = context
    }

    func next() async throws(GatewayError) -> [UInt8]? {
        guard !ended else { return nil }
        let started = monotonicNanos()
        defer { context.upstreamNanos &+= monotonicNanos() &- started }
        let chunk: [UInt8]?
        do throws(GatewayError) {
            switch source {
            case .transfer(let transfer):
                do throws(TransferError) { chunk = try await transfer.next() } catch {
                    throw GatewayError.streamInterrupted(provider, error.description)
                }
            case .pieces(let stream):
                chunk = try await stream.next()
            }
        } catch {
            ended = true
            throw error
        }
        guard let chunk else {
            ended = true
            if !sawDone { throw GatewayError.streamInterrupted(provider, "the stream ended without data: [DONE]") }
            return nil
        }
        if !sawDone { sawDone = doneScan.found(in: chunk) }
        return chunk
    }

    func cancel() {
        ended = true
        switch source {
        case .transfer(let transfer): transfer.cancel()
        case .pieces(let stream): stream.cancel()
        }
    }
}

/// Finds `data: [DONE]` in a stream fed chunk by chunk, including a marker split across chunks:
/// the stream's last `marker.count - 1` bytes are kept for the seam with the next chunk.
/// A vectorised search (`memmem`) per chunk and no allocation once `tail` has its capacity.
struct DoneMarkerScan {
    static let marker = Array("data: [DONE]".utf8)
    private var tail: [UInt8] = []

    /// True when the marker ends in `chunk` (or ended earlier and the caller kept feeding).
    mutating func found(in chunk: [UInt8]) -> Bool {
        let keep = Self.marker.count - 1
        let seamHasMarker = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 2 * keep) { seam -> Bool in
            // The last bytes so far, then the chunk's first ones.
            var count = 0
            for byte in tail { seam[count] = byte; count += 1 }
            for byte in chunk.prefix(keep) { seam[count] = byte; count += 1 }
            let found = Self.contains(UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: seam[..<count])))
            if chunk.count < keep {
                // The whole chunk is in the seam: the new tail ends it.
                tail.removeAll(keepingCapacity: true)
                tail.append(contentsOf: seam[max(0, count - keep)..<count])
            }
            return found
        }
        if seamHasMarker { return true }
        guard chunk.count >= keep else { return false }
        tail.removeAll(keepingCapacity: true)
        tail.append(contentsOf: chunk[(chunk.count - keep)...])
        return chunk.withUnsafeBytes { Self.contains($0) }
    }

    /// Looks for the marker's `[` with `memchr` (vectorised; an SSE chunk holds few) and
    /// compares the marker around each one.
    static func contains(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= marker.count, let base = bytes.baseAddress else { return false }
        let bracket = 6  // "data: " comes before it
        var from = bracket
        let last = bytes.count - marker.count + bracket  // the last place its `[` can be
        while from <= last, let found = memchr(base + from, Int32(UInt8(ascii: "[")), last + 1 - from) {
            let at = UnsafeRawPointer(found) - base
            let equal = marker.withUnsafeBytes { memcmp(base + at - bracket, $0.baseAddress!, $0.count) == 0 }
            if equal { return true }
            from = at + 1
        }
        return false
    }
}
