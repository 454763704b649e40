import Foundation

/// Who caused an error, as told to clients by `x-switchyard-error-source`.
public enum ErrorSource: String, Sendable {
    case gateway
    case provider
    case client
}

/// Every error the gateway answers with. Kind, source and retryability are decided where the
/// error is made; retry reads `isRetryable`, nothing matches message strings. Rendered to
/// OpenAI's shape in exactly one place (`GatewayError+Rendering`).
public struct GatewayError: Error, Sendable {
    public var status: Int
    /// OpenAI error `type`, e.g. `invalid_request_error`.
    public var type: String
    /// OpenAI error `code` (always a string when present).
    public var code: String?
    public var param: String?
    public var message: String
    public var source: ErrorSource
    public var isRetryable: Bool
    /// Extra response headers (`retry-after`, …).
    public var headers: [(String, String)]
    /// A provider's error body relayed as it came (already OpenAI-shaped).
    public var providerBody: [UInt8]?

    public init(
        status: Int, type: String, code: String?, param: String? = nil, message: String,
        source: ErrorSource, isRetryable: Bool = false, headers: [(String, String)] = [], providerBody: [UInt8]? = nil
    ) {
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.message = message
        self.source = source
        self.isRetryable = isRetryable
        self.headers = headers
        self.providerBody = providerBody
    }
}

extension GatewayError {
    public static func routeNotFound(_ method: String, _ path: String) -> GatewayError {
        GatewayError(status: 404, type: "invalid_request_error", code: "unknown_url",
                     message: "Unrecognized request URL (\(method) \(path)).", source: .client)
    }

    public static func methodNotAllowed(_ method: String, _ path: String, allowed: String) -> GatewayError {
        GatewayError(status: 405, type: "invalid_request_error", code: "method_not_allowed",
                     message: "Method \(method) is not allowed for \(path); use \(allowed).", source: .client,
                     headers: [("allow", allowed)])
    }

    public static func malformedJSON(_ reason: String) -> GatewayError {
        GatewayError(status: 400, type: "invalid_request_error", code: "invalid_json",
                     message: "We could not parse the JSON body of your request: \(reason).", source: .client)
    }

    public static func missingParameter(_ name: String) -> GatewayError {
        GatewayError(status: 400, type: "invalid_request_error", code: "missing_required_parameter",
                     param: name, message: "You must provide a '\(name)' parameter.", source: .client)
    }

    public static func invalidParameter(_ name: String, _ message: String) -> GatewayError {
        GatewayError(status: 400, type: "invalid_request_error", code: "invalid_value",
                     param: name, message: message, source: .client)
    }

    public static func modelNotFound(_ model: String) -> GatewayError {
        GatewayError(status: 404, type: "invalid_request_error", code: "model_not_found", param: "model",
                     message: "The model '\(model)' does not exist or you do not have access to it.", source: .gateway)
    }

    public static func bodyTooLarge(limit: Int) -> GatewayError {
        GatewayError(status: 413, type: "invalid_request_error", code: "request_too_large",
                     message: "The request body exceeds the limit of \(limit) bytes.", source: .client)
    }

    public static func badHTTP(status: Int, reason: String) -> GatewayError {
        GatewayError(status: status, type: "invalid_request_error", code: "bad_http_request",
                     message: "Malformed HTTP request: \(reason).", source: .client)
    }

    /// The provider could not be reached or broke the protocol (502). Retryable.
    public static func upstreamUnavailable(_ provider: String, _ detail: String) -> GatewayError {
        GatewayError(status: 502, type: "api_error", code: "upstream_unavailable",
                     message: "The provider '\(provider)' could not be reached: \(detail).", source: .gateway, isRetryable: true)
    }

    /// The provider did not answer in time (504). Retryable.
    public static func upstreamTimeout(_ provider: String, _ detail: String) -> GatewayError {
        GatewayError(status: 504, type: "api_error", code: "upstream_timeout",
                     message: "The provider '\(provider)' timed out: \(detail).", source: .gateway, isRetryable: true)
    }

    /// A stream that broke after it started (relayed as `data: {"error": …}`).
    public static func streamInterrupted(_ provider: String, _ detail: String) -> GatewayError {
        GatewayError(status: 502, type: "api_error", code: "stream_interrupted",
                     message: "The stream from provider '\(provider)' ended early: \(detail).", source: .provider)
    }

    public static func internalError(_ detail: String) -> GatewayError {
        GatewayError(status: 500, type: "api_error", code: "internal_error", message: detail, source: .gateway)
    }

    /// An error status answered by a provider. Its body is relayed as it came when it is already
    /// OpenAI-shaped; otherwise wrapped. 408/409/429/5xx are retryable. Of the provider's
    /// headers (lowercased names), only `retry-after` and `retry-after-ms` are relayed.
    public static func provider(status: Int, body: [UInt8], provider: String, headers: [(String, String)]) -> GatewayError {
        let headers = headers.filter { $0.0 == "retry-after" || $0.0 == "retry-after-ms" }
        let retryable = status == 408 || status == 409 || status == 429 || status >= 500
        let openAIShaped = isOpenAIErrorEnvelope(body)
        let text = String(decoding: body.prefix(512), as: UTF8.self)
        return GatewayError(
            status: status, type: status == 429 ? "rate_limit_error" : (status >= 500 ? "api_error" : "invalid_request_error"),
            code: status == 429 ? "rate_limit_exceeded" : "provider_error",
            message: "Provider '\(provider)' answered \(status): \(text)", source: .provider,
            isRetryable: retryable, headers: headers, providerBody: openAIShaped ? body : nil)
    }
}

/// True when `body` is `{"error": {…"message"…}}` — OpenAI's error shape, relayed as it came.
/// Error paths only, so Foundation's parser is fine here.
func isOpenAIErrorEnvelope(_ body: [UInt8]) -> Bool {
    guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
          let error = object["error"] as? [String: Any] else { return false }
    return error["message"] is String
}
