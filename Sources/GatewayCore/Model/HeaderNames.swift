import HTTPTypes

/// Header names the gateway reads or writes, validated once.
extension HTTPField.Name {
    public static let xRequestID = HTTPField.Name("x-request-id")!
    public static let xSwitchyardProvider = HTTPField.Name("x-switchyard-provider")!
    public static let xSwitchyardModel = HTTPField.Name("x-switchyard-model")!
    public static let xSwitchyardOverheadMs = HTTPField.Name("x-switchyard-overhead-ms")!
    public static let xSwitchyardErrorSource = HTTPField.Name("x-switchyard-error-source")!
    public static let xAPIKey = HTTPField.Name("x-api-key")!
    public static let retryAfterMs = HTTPField.Name("retry-after-ms")!
}
