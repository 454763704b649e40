import Foundation
import GatewayCore
import HTTPTypes
import Middleware
import State
import Testing

@Suite struct AuthStageTests {
    static let key = "sk-test-demo"
    static let tiers = [TierConfig(name: "free", requestsPerMinute: 5), TierConfig(name: "pro", models: ["gpt", "small"])]
    static let configKey = KeyConfig(name: "demo", keySHA256: SHA256.hex(key.utf8), tier: "pro", models: ["gpt"])

    let store = MemoryStore()
    let directory = KeyDirectory()

    func stage(required: Bool = true, keys: [KeyConfig] = [configKey], store: (any StateStore)? = nil,
               policy: PipelineConfig.StoreErrorPolicy = .failClosed, now: Int64 = 1_800_000_000) -> AuthStage {
        AuthStage(settings: PipelineConfig.Auth(required: required, onStoreError: policy), keys: keys, tiers: Self.tiers,
                  store: store ?? self.store, directory: directory, wallClock: { now }, monotonic: { 0 })
    }

    /// Runs the stage and returns the status and the caller `next` saw: at the head of a chain
    /// (where its `check` decides when it can, see `Precheck`), then through `handle`, which
    /// must agree.
    func call(_ stage: AuthStage, headers: HTTPFields, model: String = "gpt", address: String? = "203.0.113.9")
        async -> (Int, Caller?)
    {
        let seen = SeenCaller()
        let next: Terminal = { _, context in
            seen.caller = context.caller
            return GatewayResponse(status: 200, body: .bytes([]))
        }
        let request = chatRequest(model: model, headers: headers)
        let chained = await Pipeline(stages: [stage], terminal: next)
            .handle(request, context: RequestContext(requestID: "r", receivedAt: 0, clientAddress: address))
        let chainedCaller = seen.caller
        seen.caller = nil
        let response = await stage.handle(request, context: RequestContext(requestID: "r", receivedAt: 0, clientAddress: address),
                                          next: next)
        #expect(chained.status == response.status)
        #expect(chainedCaller?.id == seen.caller?.id && chainedCaller?.tier.name == seen.caller?.tier.name)
        return (response.status, seen.caller)
    }

    /// At the head of a chain a key this worker has identified is decided without `handle`;
    /// one seen for the first time goes through it.
    @Test func aKnownKeyIsDecidedByTheCheckAFirstOneByHandle() async {
        let stage = stage()
        let request = chatRequest(headers: [.authorization: "Bearer \(Self.key)"])
        let context = RequestContext(requestID: "r", receivedAt: 0)
        guard case .inHandle = stage.check(request, context: context) else { Issue.record("a first sighting is checked"); return }
        // `handle`'s way: the digest, then the key is remembered.
        guard case .success = await stage.identify(Credentials.key(in: request.headers), context: context) else {
            Issue.record("the config key identifies"); return
        }
        guard case .proceed = stage.check(request, context: context) else { Issue.record("a known key goes on"); return }
        #expect(context.caller?.name == "demo")
        guard case .answer(let refusal) = stage.check(chatRequest(headers: [:]), context: context) else {
            Issue.record("no key is refused at once"); return
        }
        #expect(refusal.status == 401)
    }

    final class SeenCaller: @unchecked Sendable { var caller: Caller? }

    @Test func aConfigKeyAuthenticatesByBearerOrXAPIKey() async {
        for headers: HTTPFields in [[.authorization: "Bearer \(Self.key)"], [HTTPField.Name("x-api-key")!: Self.key]] {
            let (status, caller) = await call(stage(), headers: headers)
            #expect(status == 200)
            #expect(caller?.name == "demo" && caller?.tier.name == "pro" && caller?.source == .config)
            #expect(caller?.id == String(SHA256.hex(Self.key.utf8).prefix(16)))
            // The key narrows the tier's models.
            #expect(caller?.allowedModels == ["gpt"])
        }
    }

    /// A stage remembers the keys that identified someone (the last one checked first, in
    /// constant time); a key one byte away from a remembered one is still someone else's, or nobody's.
    @Test func rememberedKeysAreToldApartByEveryByte() async {
        let other = "sk-test-demX"
        let keys = [Self.configKey, KeyConfig(name: "other", keySHA256: SHA256.hex(other.utf8), tier: "free")]
        let stage = stage(keys: keys)
        for (presented, expected) in [(Self.key, "demo"), (Self.key, "demo"), (other, "other"), ("sk-test-demY", nil),
                                      (Self.key, "demo"), (other, "other"), ("sk-test-dem", nil)] as [(String, String?)] {
            let (status, caller) = await call(stage, headers: [.authorization: "Bearer \(presented)"])
            #expect(status == (expected == nil ? 401 : 200), "\(presented)")
            #expect(caller?.name == expected, "\(presented)")
        }
    }

    @Test func missingWrongAndExpiredKeysAre401() async {
        #expect(await call(stage(), headers: [:]).0 == 401)
        #expect(await call(stage(), headers: [.authorization: "Bearer sk-nope"]).0 == 401)
        #expect(await call(stage(), headers: [.authorization: "Basic abc"]).0 == 401)
        var expired = Self.configKey
        expired.expires = Date(timeIntervalSince1970: 1_700_000_000)
        #expect(await call(stage(keys: [expired]), headers: [.authorization: "Bearer \(Self.key)"]).0 == 401)
    }

    /// A config key the check knows (it identified someone) is refused once its expiry passes.
    @Test func aKnownConfigKeyExpiresOnTheCheck() async {
        final class WallClock: @unchecked Sendable { var now: Int64 = 1_699_999_999 }
        let clock = WallClock()
        var expiring = Self.configKey
        expiring.expires = Date(timeIntervalSince1970: 1_700_000_000)
        let stage = AuthStage(settings: PipelineConfig.Auth(required: true), keys: [expiring], tiers: Self.tiers, store: store,
                              directory: directory, wallClock: { clock.now }, monotonic: { 0 })
        let request = chatRequest(headers: [.authorization: "Bearer \(Self.key)"])
        let context = RequestContext(requestID: "r", receivedAt: 0)
        guard case .success = await stage.identify(Credentials.key(in: request.headers), context: context) else {
            Issue.record("the key identifies before its expiry"); return
        }
        guard case .proceed = stage.check(request, context: context) else { Issue.record("a known key goes on"); return }
        clock.now = 1_700_000_000
        guard case .answer(let refusal) = stage.check(request, context: RequestContext(requestID: "r", receivedAt: 0)) else {
            Issue.record("an expired key is refused"); return
        }
        #expect(refusal.status == 401)
    }

    @Test func aModelTheKeyMayNotUseIs403() async {
        let response = await stage().handle(chatRequest(model: "small", headers: [.authorization: "Bearer \(Self.key)"]),
                                            context: RequestContext(requestID: "r", receivedAt: 0)) { _, _ in
            GatewayResponse(status: 200, body: .bytes([]))
        }
        #expect(response.status == 403)
        #expect(errorBody(response).contains("model_not_allowed") && errorBody(response).contains("permission_error"))
    }

    @Test func withoutRequiredKeysCallersAreAnonymousPerAddressButAWrongKeyIsStill401() async {
        let (status, caller) = await call(stage(required: false), headers: [:])
        #expect(status == 200)
        #expect(caller?.id == "ip:203.0.113.9" && caller?.tier.name == "free" && caller?.source == .anonymous)
        #expect(await call(stage(required: false), headers: [:], address: "[::1]:4000").1?.id == "ip:::1")
        #expect(await call(stage(required: false), headers: [.authorization: "Bearer wrong"]).0 == 401)
    }

    @Test func aRuntimeKeyIsFoundInTheStoreCachedAndDroppedWhenRevoked() async throws {
        let runtimeKey = "sk-sy-runtime"
        let digest = SHA256.hex(runtimeKey.utf8)
        let record = RuntimeKeyRecord(name: "made-at-runtime", tier: "free", expiresAt: 1_900_000_000, createdAt: 1)
        try store.hashSet(RuntimeKeys.registry, field: digest, record.encoded())
        let (status, caller) = await call(stage(), headers: [.authorization: "Bearer \(runtimeKey)"])
        #expect(status == 200 && caller?.source == .runtime && caller?.name == "made-at-runtime")
        // Revoked in the store: the cache still answers until the change is announced.
        try store.hashDelete(RuntimeKeys.registry, field: digest)
        #expect(await call(stage(), headers: [.authorization: "Bearer \(runtimeKey)"]).0 == 200)
        directory.invalidate(digest)
        #expect(await call(stage(), headers: [.authorization: "Bearer \(runtimeKey)"]).0 == 401)
        // Expired run-time keys are refused too.
        try store.hashSet(RuntimeKeys.registry, field: digest, record.encoded())
        directory.invalidate()
        #expect(await call(stage(now: 1_900_000_001), headers: [.authorization: "Bearer \(runtimeKey)"]).0 == 401)
    }

    @Test func anUnverifiableKeyIsNeverLetThrough() async {
        let closed = stage(store: FailingStore(), policy: .failClosed)
        #expect(await call(closed, headers: [.authorization: "Bearer sk-unknown"]).0 == 503)
        let open = stage(store: FailingStore(), policy: .failOpen)
        #expect(await call(open, headers: [.authorization: "Bearer sk-unknown"]).0 == 401)
        // Config keys need no store.
        #expect(await call(open, headers: [.authorization: "Bearer \(Self.key)"]).0 == 200)
    }

    @Test func runtimeRecordsRoundTripAndCorruptOnesNeverAuthenticate() {
        let record = RuntimeKeyRecord(name: "n", tier: "t", models: ["a"], expiresAt: 5, metadata: ["team": "x"], createdAt: 3)
        #expect(RuntimeKeyRecord(decoding: record.encoded()) == record)
        #expect(RuntimeKeyRecord(decoding: Array("not json".utf8)) == nil)
    }
}
