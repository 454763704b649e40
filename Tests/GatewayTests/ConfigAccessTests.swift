import Gateway
import GatewayCore
import Testing

/// The auth and rate-limit settings and the tiers' limiting keys.
@Suite struct ConfigAccessTests {
    @Test func authAndRateLimitSettingsLoadAndRenderBack() throws {
        let digest = String(repeating: "ab", count: 32)
        let loaded = try ConfigFixture.load("""
            tiers:
              free: { requests_per_minute: 10, burst: 3, shed_factor: 0.5 }
              vip: { unlimited: true, shed_factor: 4 }
            pipeline:
              auth: { required: false, anonymous_tier: free, admin_key_sha256: "\(digest.uppercased())" }
              rate_limit: { completion_estimate: 256, concurrency_lease: 5m, usage_retention: 30d, settle_linger: 0s, overload: { in_flight: 400 } }
              router: {}
            """)
        let config = loaded.config
        #expect(config.pipeline.auth.required == false)
        #expect(config.pipeline.auth.anonymousTier == "free")
        #expect(config.pipeline.auth.adminKeySHA256 == digest)
        #expect(config.pipeline.rateLimit.completionEstimate == 256)
        #expect(config.pipeline.rateLimit.concurrencyLease == .minutes(5))
        #expect(config.pipeline.rateLimit.usageRetention == .hours(30 * 24))
        #expect(config.pipeline.rateLimit.overloadInFlight == 400)
        // 0s is allowed: settlements then leave on the next reactor turn, sharing no round trip.
        #expect(config.pipeline.rateLimit.settleLinger == .nanoseconds(0))
        #expect(PipelineConfig.RateLimit().settleLinger == .milliseconds(2))
        #expect(config.tiers.first { $0.name == "free" }?.shedFactor == 0.5)
        #expect(config.tiers.first { $0.name == "vip" }?.shedFactor == 4)
        let rendered = ConfigRenderer.render(config)
        let again = try ConfigFixture.load(rendered).config
        #expect(again.pipeline == config.pipeline)
        #expect(again.tiers == config.tiers)
    }

    @Test func tiersDefaultTheirShedFactorByWhetherTheyAreLimited() throws {
        let config = try ConfigFixture.load("tiers: { a: { requests_per_minute: 1 }, b: { unlimited: true } }").config
        #expect(config.tiers.map(\.shedFactor) == [1.0, nil])
    }

    @Test func faultsNameTheKey() {
        let burst = ConfigFixture.loadError("tiers: { a: { burst: 3 } }")
        #expect(burst?.message.contains("burst needs requests_per_minute") == true)
        let digest = ConfigFixture.loadError("pipeline: { auth: { admin_key_sha256: \"abc\" }, router: {} }")
        #expect(digest?.keyPath == "pipeline.auth.admin_key_sha256")
        let tier = ConfigFixture.loadError("pipeline: { auth: { required: false, anonymous_tier: gold }, router: {} }")
        #expect(tier?.keyPath == "pipeline.auth.anonymous_tier")
        let overload = ConfigFixture.loadError("pipeline: { rate_limit: { overload: { in_flight: 0 } }, router: {} }")
        #expect(overload?.keyPath == "pipeline.rate_limit.overload.in_flight")
    }
}
