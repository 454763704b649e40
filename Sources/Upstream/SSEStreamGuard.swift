import GatewayCore
import Reactor

/// Relays a provider's SSE body and makes sure a stream that fails says so: a transfer error,
/// or a clean end without `data: [DONE]`, becomes a thrown `streamInterrupted`, which the edge
/// turns into a final `data: {"error": …}` event. Also adds the time spent waiting for
/// upstream chunks to the request's upstream time. Reactor-thread confined.
final class SSEStreamGuard: ResponseStream, @unchecked Sendable {
    private let source: Source
    private let provider: String
    private let context: RequestContext
    private var tail: [UInt8] = []
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
        if !sawDone {
            // The marker may straddle two chunks: look at the seam, then the chunk itself.
            sawDone = Self.containsDone(tail + chunk.prefix(Self.doneMarker.count - 1)) || Self.containsDone(chunk)
            tail = Array(chunk.suffix(Self.doneMarker.count - 1))
        }
        return chunk
    }

    func cancel() {
        ended = true
        switch source {
        case .transfer(let transfer): transfer.cancel()
        case .pieces(let stream): stream.cancel()
        }
    }

    private static let doneMarker = Array("data: [DONE]".utf8)

    static func containsDone(_ bytes: [UInt8]) -> Bool {
        let marker = doneMarker
        guard bytes.count >= marker.count else { return false }
        var i = 0
        let last = bytes.count - marker.count
        while i <= last {
            if bytes[i] == marker[0] && bytes[i + 6] == marker[6] && bytes[i..<(i + marker.count)].elementsEqual(marker) { return true }
            i += 1
        }
        return false
    }
}
