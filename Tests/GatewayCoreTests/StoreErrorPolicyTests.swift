import GatewayCore
import Testing

@Suite struct StoreErrorPolicyTests {
    func failing() async throws(StoreError) -> Int { throw StoreError.timeout }
    func working() async throws(StoreError) -> Int { 42 }

    @Test func anAnswerPassesThroughUnderEitherPolicy() async {
        for policy in PipelineConfig.StoreErrorPolicy.allCases {
            guard case .answered(42) = await policy.apply(working) else { Issue.record("\(policy)"); continue }
        }
    }

    @Test func failOpenProceedsWithoutTheStore() async {
        guard case .proceedWithout(.timeout) = await PipelineConfig.StoreErrorPolicy.failOpen.apply(failing) else {
            Issue.record("expected proceedWithout")
            return
        }
    }

    @Test func failClosedRefusesWith503AndRetryAfter() async {
        guard case .refuse(let response) = await PipelineConfig.StoreErrorPolicy.failClosed.apply(failing) else {
            Issue.record("expected refuse")
            return
        }
        #expect(response.status == 503)
        #expect(response.headers[.retryAfter] == "1")
        #expect(response.headers[.xSwitchyardErrorSource] == "gateway")
        guard case .bytes(let body) = response.body else { Issue.record("expected a JSON body"); return }
        #expect(String(decoding: body, as: UTF8.self).contains(#""code":"state_store_unavailable""#))
    }

    /// For an error that came back through a callback: the same decision.
    @Test func aRefusalIsWhatApplyWouldAnswer() {
        #expect(PipelineConfig.StoreErrorPolicy.failOpen.refusal(for: .timeout) == nil)
        #expect(PipelineConfig.StoreErrorPolicy.failClosed.refusal(for: .timeout)?.status == 503)
    }
}
