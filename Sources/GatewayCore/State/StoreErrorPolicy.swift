/// What a stage does when the state store fails (`on_store_error` in config.yaml): go on without
/// the store's answer (`fail_open`, e.g. let a request through unlimited) or refuse the request
/// (`fail_closed`, 503 with `Retry-After`). One decision, made here, so every stage applies it
/// the same way and counts it the same way.
public enum StoreOutcome<Value: Sendable>: Sendable {
    /// The store answered.
    case answered(Value)
    /// The store failed and the policy is fail_open: proceed as if there were no state.
    case proceedWithout(StoreError)
    /// The store failed and the policy is fail_closed: answer this response.
    case refuse(GatewayResponse)
}

extension PipelineConfig.StoreErrorPolicy {
    /// Runs one store operation under this policy. Inlinable, so each stage's call is
    /// specialised (generic, it looked up `StoreOutcome<Value>`'s metadata on every request).
    @inlinable
    public func apply<Value: Sendable>(_ operation: () async throws(StoreError) -> Value) async -> StoreOutcome<Value> {
        do {
            return .answered(try await operation())
        } catch {
            return refusal(for: error).map { .refuse($0) } ?? .proceedWithout(error)
        }
    }

    /// The answer the policy gives for a store error: nil to go on without the store
    /// (fail_open), else the 503 (fail_closed).
    @inlinable
    public func refusal(for error: StoreError) -> GatewayResponse? {
        switch self {
        case .failOpen: nil
        case .failClosed: GatewayResponse(error: .stateStoreUnavailable(error))
        }
    }
}

extension GatewayError {
    /// The state store could not answer and the stage's policy is fail_closed (503, retry in 1 s).
    public static func stateStoreUnavailable(_ error: StoreError) -> GatewayError {
        let detail = error.description
        return GatewayError(status: 503, type: "api_error", code: "state_store_unavailable",
                            message: "The gateway's state store is unavailable (\(detail)); try again shortly.",
                            source: .gateway, isRetryable: true, headers: [("retry-after", "1"), ("retry-after-ms", "1000")])
    }
}
