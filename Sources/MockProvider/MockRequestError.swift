/// A request the mock refuses, described the way OpenAI describes it: HTTP status plus the
/// `{"error": {"message", "type", "param", "code"}}` fields. Made where the fault is found
/// (request validation, routing, fault injection) and rendered in one place, `reply(faults:)`.
struct MockRequestError: Error, Equatable {
    var status: Int
    var message: String
    var type: String
    var param: String?
    var code: String?
    var extraHeaders: [(String, String)] = []

    static func == (lhs: MockRequestError, rhs: MockRequestError) -> Bool {
        lhs.status == rhs.status && lhs.message == rhs.message && lhs.type == rhs.type
            && lhs.param == rhs.param && lhs.code == rhs.code
    }

    func reply(faults: MockFaults) -> MockReply {
        var json = JSONBytes(reservingCapacity: 160 + message.utf8.count)
        json.raw("{\"error\":{\"message\":")
        json.string(message)
        json.raw(",\"type\":")
        json.string(type)
        json.raw(",\"param\":")
        json.stringOrNull(param)
        json.raw(",\"code\":")
        json.stringOrNull(code)
        json.raw("}}")
        return MockReply.json(status, json, faults: faults, extraHeaders: extraHeaders)
    }
}

extension MockRequestError {
    static func invalid(_ message: String, param: String? = nil, code: String? = nil) -> MockRequestError {
        MockRequestError(status: 400, message: message, type: "invalid_request_error", param: param, code: code)
    }

    static let malformedJSON = invalid(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
            + "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid "
            + "JSON. If you have trouble figuring out how to fix this, please contact us through our help "
            + "center at help.openai.com.)")

    static let bodyNotObject = invalid(
        "Invalid type for request body: expected an object, but got something else instead.", code: "invalid_type")

    static let missingModel = invalid("you must provide a model parameter")

    static func missing(_ param: String) -> MockRequestError {
        invalid("Missing required parameter: '\(param)'.", param: param, code: "missing_required_parameter")
    }

    static func invalidType(_ param: String, expected: String) -> MockRequestError {
        invalid(
            "Invalid type for '\(param)': expected \(expected), but got a value of another type instead.",
            param: param, code: "invalid_type")
    }

    static func emptyArray(_ param: String) -> MockRequestError {
        invalid(
            "Invalid '\(param)': empty array. Expected an array with minimum length 1, but got an empty array "
                + "instead.", param: param, code: "empty_array")
    }

    static func outOfRange(_ param: String, _ value: Int, minimum: Int, maximum: Int) -> MockRequestError {
        value < minimum
            ? invalid(
                "Invalid '\(param)': integer below minimum value. Expected a value >= \(minimum), but got "
                    + "\(value) instead.", param: param, code: "integer_below_min_value")
            : invalid(
                "Invalid '\(param)': integer above maximum value. Expected a value <= \(maximum), but got "
                    + "\(value) instead.", param: param, code: "integer_above_max_value")
    }

    static func modelNotFound(_ model: String) -> MockRequestError {
        MockRequestError(
            status: 404, message: "The model `\(model)` does not exist or you do not have access to it.",
            type: "invalid_request_error", param: nil, code: "model_not_found")
    }

    static func invalidURL(method: String, path: String) -> MockRequestError {
        MockRequestError(
            status: 404, message: "Invalid URL (\(method) \(path))", type: "invalid_request_error",
            param: nil, code: nil)
    }

    static func methodNotAllowed(method: String, path: String, allowed: String) -> MockRequestError {
        MockRequestError(
            status: 405, message: "Method \(method) is not allowed for \(path); use \(allowed).",
            type: "invalid_request_error", param: nil, code: "method_not_allowed",
            extraHeaders: [("allow", allowed)])
    }

    /// The error a real provider sends for `status`, as injected by the fault plan.
    static func injected(status: Int, model: String, retryAfterSeconds: Int?) -> MockRequestError {
        switch status {
        case 429:
            let seconds = retryAfterSeconds ?? 1
            return MockRequestError(
                status: 429,
                message: "Rate limit reached for \(model.isEmpty ? "requests" : model) (mock fault injection) "
                    + "on requests per min (RPM): Limit 10000, Used 10000, Requested 1. Please try again in "
                    + "\(seconds)s.",
                type: "requests", param: nil, code: "rate_limit_exceeded",
                extraHeaders: [
                    ("retry-after", String(seconds)), ("retry-after-ms", String(seconds * 1000)),
                    ("x-ratelimit-limit-requests", "10000"), ("x-ratelimit-remaining-requests", "0"),
                    ("x-ratelimit-reset-requests", "\(seconds)s"),
                ])
        case 503:
            let seconds = retryAfterSeconds ?? 1
            return MockRequestError(
                status: 503, message: "The engine is currently overloaded, please try again later.",
                type: "server_error", param: nil, code: "overloaded",
                extraHeaders: [("retry-after", String(seconds)), ("retry-after-ms", String(seconds * 1000))])
        case 500:
            return MockRequestError(
                status: 500,
                message: "The server had an error while processing your request. Sorry about that!",
                type: "server_error", param: nil, code: nil)
        case 400:
            return invalid("Mock fault injection: the request was rejected as invalid.")
        case 401:
            return MockRequestError(
                status: 401,
                message: "Incorrect API key provided: sk-mock. You can find your API key at "
                    + "https://platform.openai.com/account/api-keys.",
                type: "invalid_request_error", param: nil, code: "invalid_api_key")
        case 403:
            return MockRequestError(
                status: 403, message: "You are not allowed to sample from this model (mock fault injection).",
                type: "invalid_request_error", param: nil, code: "permission_denied")
        case 404:
            return modelNotFound(model)
        default:
            return MockRequestError(
                status: status, message: "Mock fault injection: HTTP \(status).",
                type: status >= 500 ? "server_error" : "invalid_request_error", param: nil, code: nil,
                extraHeaders: retryAfterSeconds.map { [("retry-after", String($0))] } ?? [])
        }
    }
}
