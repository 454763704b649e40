import Bytes
import Foundation
import GatewayCore
import HTTPServer
import HTTPTypes
import Logging
import Reactor

/// The edge of one worker: turns HTTP requests into pipeline calls and pipeline responses into
/// HTTP, answers the gateway's own routes (`/health`, `/ready`, `/v1/models`), stamps the
/// headers every proxied answer carries and writes the access log line.
/// Reactor-thread confined (`snapshot` is swapped on the reactor by reload).
public final class GatewayEdge: HTTPRequestHandler, @unchecked Sendable {
    public var snapshot: WorkerSnapshot
    let accessLog: AccessLog
    let shared: GatewayShared
    var store: any StateStore { shared.store }
    let requestIDs = RequestIDGenerator()

    public init(snapshot: WorkerSnapshot, accessLog: AccessLog, shared: GatewayShared) {
        self.snapshot = snapshot
        self.accessLog = accessLog
        self.shared = shared
    }

    @inline(__always)  // its body is the `HTTPRequestHandler` witness: one task frame less
    public func handle(_ request: ServerRequest) async -> ServerResponse {
        let path = Self.pathOfTarget(request.head.target)
        // `proxy` is inlined here and this body is the witness: a proxied request's edge is one
        // task frame. The gateway's own routes take a frame more.
        if let endpoint = Self.proxiedEndpoint(path) { return await proxy(endpoint, request, path: path) }
        return await answerLocally(request, path: path)
    }

    /// The gateway's own routes: `/v1/models`, `/health`, `/ready`, `/admin/…`.
    @inline(never)
    private func answerLocally(_ request: ServerRequest, path: String) async -> ServerResponse {
        let target = request.head.target
        let method = request.head.method
        switch path {
        case "/v1/models":
            guard method == .get else { return local(.methodNotAllowed(method.rawValue, path, allowed: "GET"), request, path) }
            return localJSON(200, snapshot.modelList, request, path)
        case "/health":
            guard method == .get || method == .head else { return local(.methodNotAllowed(method.rawValue, path, allowed: "GET"), request, path) }
            return localJSON(200, Array(#"{"status":"ok"}"#.utf8), request, path)
        case "/ready":
            guard method == .get || method == .head else { return local(.methodNotAllowed(method.rawValue, path, allowed: "GET"), request, path) }
            let readiness = await StoreReadiness.check(store)
            return localJSON(readiness.status, readiness.body, request, path)
        default:
            if path.hasPrefix("/admin/") {
                let admin = AdminAPI(snapshot: snapshot, shared: shared)
                let answer = await admin.handle(method: method, path: path, query: Self.query(target), request: request)
                return answer.status < 400 ? localJSON(answer.status, answer.body, request, path) : local(answer.error!, request, path)
            }
            if path.hasPrefix("/v1/models/"), method == .get {
                let id = String(path.dropFirst("/v1/models/".count))
                guard snapshot.routing.aliases[id] != nil else { return local(.modelNotFound(id), request, path) }
                return localJSON(200, PipelineAssembly.modelObject(id, snapshot.routing), request, path)
            }
            return local(.routeNotFound(method.rawValue, path), request, path)
        }
    }

    // MARK: Proxied endpoints

    static func proxiedEndpoint(_ path: String) -> Endpoint? {
        switch path {
        case "/v1/chat/completions": .chatCompletions
        case "/v1/completions": .completions
        case "/v1/embeddings": .embeddings
        default: nil
        }
    }

    private func proxy(_ endpoint: Endpoint, _ request: ServerRequest, path: String) async -> ServerResponse {
        guard request.head.method == .post else {
            return local(.methodNotAllowed(request.head.method.rawValue, path, allowed: "POST"), request, path)
        }
        let fields: RequestFields
        do {
            fields = try JSONScanner.scanRequest(request.body)
        } catch {
            return local(.malformedJSON(error.description), request, path)
        }
        if let problem = Self.validate(endpoint, fields) { return local(problem, request, path) }
        let context = RequestContext(requestID: requestID(request), receivedAt: request.receivedAt, clientAddress: request.peerHost)
        var gatewayRequest = GatewayRequest(endpoint: endpoint, headers: request.head.headers, body: request.body, fields: fields)
        gatewayRequest.hasExtensionFields = request.head.hasExtensionFields
        var response = await self.snapshot.pipeline.handle(gatewayRequest, context: context)
        let overhead = overheadNanos(context)
        let stamped = Self.serializedStamp(&response, context: context, overhead: overhead)
        if stamped.isEmpty { stamp(&response, context: context, overhead: overhead) }
        // Without an access log no entry is built (its strings retained and released on every
        // request) and a stream is relayed without an observer.
        let entry = accessLog.isEnabled ? AccessLog.Entry(
            requestID: context.requestID, method: request.head.method.rawValue, path: path, model: fields.model,
            provider: context.deployment?.providerName, status: response.status, upstreamNanos: context.upstreamNanos,
            overheadNanos: overhead, bytesIn: request.body.count, bytesOut: 0, stream: response.isStream) : nil
        let body: ServerBody
        switch response.body {
        case .bytes(let bytes):
            if var entry {
                entry.bytesOut = bytes.count
                accessLog.record(entry, receivedAt: request.receivedAt)
            }
            body = .bytes(bytes)
        case .stream(let stream):
            guard var entry else {
                body = .stream(EdgeStream(stream))
                break
            }
            let accessLog = self.accessLog
            body = .stream(EdgeStream(ObservedStream(stream) { outcome, bytes in
                entry.bytesOut = bytes
                entry.upstreamNanos = context.upstreamNanos
                if case .failed(let error) = outcome { entry.streamError = error.code ?? error.type }
                if case .cancelled = outcome { entry.streamError = "client_disconnected" }
                accessLog.record(entry, receivedAt: request.receivedAt)
            }))
        }
        return ServerResponse(status: response.status, headers: response.headers, serializedHeaders: stamped, body: body)
    }

    /// Checks the gateway can route the request at all; the provider validates the rest.
    static func validate(_ endpoint: Endpoint, _ fields: RequestFields) -> GatewayError? {
        if fields.modelIsNotString { return .invalidParameter("model", "'model' must be a string.") }
        guard let model = fields.model, !model.isEmpty else { return .missingParameter("model") }
        switch endpoint {
        case .chatCompletions where !fields.hasMessages: return .missingParameter("messages")
        case .completions where !fields.hasPrompt: return .missingParameter("prompt")
        case .embeddings where !fields.hasInput: return .missingParameter("input")
        default: return nil
        }
    }

    /// The target without its query. Searched in the contiguous UTF-8: `firstIndex(of:)` on a
    /// Character walks grapheme clusters, and on the UTF8View goes through generic indexing.
    static func pathOfTarget(_ target: String) -> String {
        var bytes = target
        let path = bytes.withUTF8 { utf8 in
            utf8.firstIndex(of: UInt8(ascii: "?")).map { String(decoding: UnsafeBufferPointer(rebasing: utf8[..<$0]), as: UTF8.self) }
        }
        return path ?? target
    }

    /// The query string's parameters (no percent-decoding beyond `+`; the admin API's values are plain).
    static func query(_ target: String) -> [String: String] {
        guard let mark = target.firstIndex(of: "?") else { return [:] }
        var parameters: [String: String] = [:]
        for pair in target[target.index(after: mark)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let value = parts.count > 1 ? String(parts[1]).replacingOccurrences(of: "+", with: " ") : ""
            parameters[String(parts[0])] = value.removingPercentEncoding ?? value
        }
        return parameters
    }

    private func requestID(_ request: ServerRequest) -> String {
        if request.head.hasExtensionFields, let given = request.head.headers.joinedValue(lowercasedName: "x-request-id"),
           RequestIDGenerator.isAcceptable(given) {
            return given
        }
        return requestIDs.next()
    }

    private func overheadNanos(_ context: RequestContext) -> UInt64 {
        let total = monotonicNanos() &- context.receivedAt
        return total > context.upstreamNanos ? total - context.upstreamNanos : 0
    }

    /// The pipeline's own `headerLines` followed by the stamped headers as serialised lines,
    /// written by the server after the pipeline's fields: one small buffer instead of a copy of
    /// the fields plus four insertions, written through one `ByteWriter` (appending line by line
    /// cost about 200 instructions a line in capacity checks). Empty when the pipeline's answer
    /// already carries one of these names or a value would need HTTPTypes' legalising (then
    /// `stamp` replaces them in the fields, as ever, and moves the lines into the fields too).
    /// The request id needs no check: `requestID` keeps only printable ASCII without spaces.
    /// The provider and model lines come rendered with the deployment.
    static func serializedStamp(_ response: inout GatewayResponse, context: RequestContext, overhead: UInt64) -> [UInt8] {
        if response.headers.containsAny(of: stampedNames) { return [] }
        var identity: [UInt8] = []
        if let deployment = context.deployment {
            guard let lines = deployment.identityLines else { return [] }
            identity = lines
        }
        var id = context.requestID
        // The pipeline's lines, moved out; a stage that rendered lines left room for these.
        var out = response.headerLines.take()
        return id.withUTF8 { id in
            let bound = 64 + id.count + identity.count
            out.reserveCapacity(out.count + bound)
            out.appendWriting(maxCount: bound) { out in
                out.write("x-request-id: ")
                out.write(id)
                out.write("\r\n")
                out.write(identity)
                out.write("x-switchyard-overhead-ms: ")
                writeMilliseconds(overhead, to: &out)
                out.write("\r\n")
            }
            return out
        }
    }

    private static let stampedNames: [HTTPField.Name] = [.xRequestID, .xSwitchyardProvider, .xSwitchyardModel, .xSwitchyardOverheadMs]

    private func stamp(_ response: inout GatewayResponse, context: RequestContext, overhead: UInt64) {
        response.headers.append(contentsOf: response.headerLines.fields)
        response.headerLines = HeaderLines()
        response.headers[.xRequestID] = context.requestID
        if let deployment = context.deployment {
            response.headers[.xSwitchyardProvider] = deployment.providerName
            response.headers[.xSwitchyardModel] = deployment.model
        }
        response.headers[.xSwitchyardOverheadMs] = Self.milliseconds(overhead)
    }

    /// "0.042" — milliseconds with microsecond resolution.
    static func milliseconds(_ nanos: UInt64) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        bytes.appendWriting(maxCount: 24) { writeMilliseconds(nanos, to: &$0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `milliseconds` written as digits straight into `out` (no String on the way).
    static func writeMilliseconds(_ nanos: UInt64, to out: inout ByteWriter) {
        let micros = nanos / 1_000
        let fraction = micros % 1_000
        out.writeDecimal(Int(micros / 1_000))
        out.write(UInt8(ascii: "."))
        out.write(UInt8(truncatingIfNeeded: fraction / 100) &+ 0x30)
        out.write(UInt8(truncatingIfNeeded: fraction / 10 % 10) &+ 0x30)
        out.write(UInt8(truncatingIfNeeded: fraction % 10) &+ 0x30)
    }

    // MARK: Answers of the gateway itself

    private func local(_ error: GatewayError, _ request: ServerRequest, _ path: String) -> ServerResponse {
        var response = GatewayResponse(error: error)
        let id = requestID(request)
        response.headers[.xRequestID] = id
        let body = error.jsonBody()
        accessLog.record(AccessLog.Entry(requestID: id, method: request.head.method.rawValue, path: path, model: nil, provider: nil,
                                         status: error.status, upstreamNanos: 0, overheadNanos: monotonicNanos() &- request.receivedAt,
                                         bytesIn: request.body.count, bytesOut: body.count, stream: false),
                         receivedAt: request.receivedAt)
        return ServerResponse(status: error.status, headers: response.headers, body: .bytes(body))
    }

    private func localJSON(_ status: Int, _ body: [UInt8], _ request: ServerRequest, _ path: String) -> ServerResponse {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.xRequestID] = requestID(request)
        return ServerResponse(status: status, headers: headers, body: .bytes(request.head.method == .head ? [] : body))
    }
}

/// Adapts a pipeline stream to the server: a `GatewayError` thrown mid-stream becomes the final
/// `data: {"error": …}` event — a stream that fails says so, never a silent clean end.
final class EdgeStream: ServerStream, @unchecked Sendable {
    private let inner: any ResponseStream

    init(_ inner: any ResponseStream) { self.inner = inner }

    func next() async -> ServerStreamPiece {
        do {
            guard let chunk = try await inner.next() else { return .end }
            return .chunk(chunk)
        } catch {
            return .fail(finalChunk: error.sseEvent())
        }
    }

    func cancel() { inner.cancel() }
}
