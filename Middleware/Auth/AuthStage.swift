import Foundation
import GatewayCore

/// `auth`: identifies the caller by its API key and puts who it is (tier, allowed models) into
/// the request context for the stages after it. Keys from config.yaml are matched by SHA-256 in
/// memory; run-time keys (admin API) are looked up in the state store through this instance's
/// `KeyDirectory` cache. Digests are compared in constant time.
///
/// A missing or wrong key is 401 `invalid_api_key`; an expired key too; a model the key may not
/// use is 403. With `required: false`, a request without a key is an anonymous caller of the
/// configured tier, limited per client address (a wrong key is still 401). Reactor-confined per
/// worker; the directory is shared.
public struct AuthStage: Precheck {
    public let name = "auth"
    let settings: PipelineConfig.Auth
    let store: any StateStore
    let directory: KeyDirectory
    let tiers: [String: TierConfig]
    /// Config keys by lowercase hex digest, with what a request needs resolved once.
    let configKeys: [String: ConfigKey]

    /// A config key as a request sees it; a class, so a lookup copies one reference.
    final class ConfigKey: Sendable {
        let digest: [UInt8]
        /// Unix seconds it expires at, if ever.
        let expires: Int64?
        let caller: Result<Caller, GatewayError>
        /// `caller` when it is one.
        let identified: Caller?

        init(_ key: KeyConfig, caller: Result<Caller, GatewayError>) {
            digest = key.digest
            expires = key.expires.map { Int64($0.timeIntervalSince1970) }
            self.caller = caller
            identified = try? caller.get()
        }
    }
    /// Unix seconds now (expiry checks); injected.
    let wallClock: @Sendable () -> Int64
    /// Monotonic ns (cache lifetimes); injected.
    let monotonic: @Sendable () -> UInt64
    /// Digests of the keys that identified a caller on this worker.
    let digests = KeyDigests()

    public init(settings: PipelineConfig.Auth, keys: [KeyConfig], tiers: [TierConfig], store: any StateStore,
                directory: KeyDirectory, wallClock: @escaping @Sendable () -> Int64,
                monotonic: @escaping @Sendable () -> UInt64) {
        self.settings = settings
        self.store = store
        self.directory = directory
        let tiers = Dictionary(tiers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.tiers = tiers
        self.configKeys = Dictionary(keys.map { key in
            let caller = Self.caller(id: RuntimeKeys.callerID(digestHex: key.keySHA256), name: key.name, source: .config,
                                     tier: tiers[key.tier], keyModels: key.models)
            return (key.keySHA256, ConfigKey(key, caller: caller))
        }, uniquingKeysWith: { first, _ in first })
        self.wallClock = wallClock
        self.monotonic = monotonic
    }

    @inline(__always)  // its body is the protocol witness (see `Middleware`)
    public func handle(_ request: GatewayRequest, context: RequestContext, next: Next) async -> GatewayResponse {
        let key = Credentials.key(in: request.headers)
        let known = key.flatMap(digests.known)
        // A config key seen before is answered without an `await` (each one is a task switch).
        let identified: Result<Caller, GatewayError>
        if let configKey = known?.config { identified = answer(configKey) } else {
            identified = await identify(key, known: known, context: context)
        }
        if let refusal = admit(identified, request, context) { return refusal }
        return await next(request, context)
    }

    /// `handle`'s decision without awaiting (see `Precheck`): for a request without a key, or
    /// with one this worker has identified before (a config key, or a run-time key its
    /// directory holds). A key seen for the first time, or one only the store can vouch for,
    /// goes to `handle`.
    public func check(_ request: GatewayRequest, context: RequestContext) -> PrecheckOutcome {
        // The key's bytes are looked up where they are: no string is made of a key seen before.
        // (The table is passed, not a closure over `self`: capturing the stage copied all of it.)
        let identified: Result<Caller, GatewayError>
        switch Credentials.withKey(in: request.headers, digests.known) {
        case nil:  // no key
            identified = keyless(context)
        case .some(nil):  // a key this worker has not identified
            return .inHandle
        case .some(let known?):
            // A config key's caller, unexpired, is admitted without building a `Result` (its copy
            // went through the generic value witnesses: about 150 instructions a request).
            if let configKey = known.config, let caller = configKey.identified, !expired(configKey) {
                if let refusal = admit(caller, request, context) { return .answer(refusal) }
                return .proceed
            }
            if let configKey = known.config { identified = answer(configKey) } else {
                guard let cached = cachedCaller(digestHex: known.hex) else { return .inHandle }
                identified = cached
            }
        }
        if let refusal = admit(identified, request, context) { return .answer(refusal) }
        return .proceed
    }

    /// Nil for an identified caller allowed the model (now in the context), else the refusal.
    private func admit(_ identified: Result<Caller, GatewayError>, _ request: GatewayRequest, _ context: RequestContext)
        -> GatewayResponse?
    {
        switch identified {
        case .success(let caller): admit(caller, request, context)
        case .failure(let error): GatewayResponse(error: error)
        }
    }

    private func admit(_ caller: Caller, _ request: GatewayRequest, _ context: RequestContext) -> GatewayResponse? {
        if let allowed = caller.allowedModels, !allowed.contains(request.model) {
            return GatewayResponse(error: .modelNotAllowed(request.model, key: caller.name))
        }
        context.caller = caller
        return nil
    }

    /// The caller for a presented key (or none), or the error to answer.
    public func identify(_ key: Substring?, context: RequestContext) async -> Result<Caller, GatewayError> {
        await identify(key, known: key.flatMap(digests.known), context: context)
    }

    /// `identify`, with what this worker remembers of the key already looked up.
    private func identify(_ key: Substring?, known: KeyDigests.Known?, context: RequestContext) async -> Result<Caller, GatewayError> {
        guard let key else { return keyless(context) }
        if let known {
            // A config key seen before: no digest, no lookup by hex; its expiry is still checked.
            if let configKey = known.config { return answer(configKey) }
            return await identify(digest: known.digest, digestHex: known.hex)
        }
        let digest = SHA256.digest(key.utf8)
        let digestHex = Hex.encode(digest)
        let identified: Result<Caller, GatewayError>
        let matched = configKeys[digestHex].flatMap { Hex.constantTimeEqual($0.digest, digest) ? $0 : nil }
        if let matched { identified = answer(matched) } else { identified = await identify(digest: digest, digestHex: digestHex) }
        if case .success = identified { digests.remember(key, digest: digest, hex: digestHex, config: matched) }
        return identified
    }

    /// A request without a key: an anonymous caller, unless keys are required.
    private func keyless(_ context: RequestContext) -> Result<Caller, GatewayError> {
        guard !settings.required, let tier = tiers[settings.anonymousTier] else { return .failure(.missingAPIKey) }
        return .success(Self.anonymous(address: context.clientAddress, tier: tier))
    }

    /// What a config key's caller gets: the caller, unless the key has expired.
    private func answer(_ configKey: ConfigKey) -> Result<Caller, GatewayError> {
        expired(configKey) ? .failure(.expiredAPIKey) : configKey.caller
    }

    private func expired(_ configKey: ConfigKey) -> Bool {
        guard let expires = configKey.expires else { return false }
        return expires <= wallClock()
    }

    /// The caller whose run-time key has this SHA-256, or the error to answer.
    private func identify(digest: [UInt8], digestHex: String) async -> Result<Caller, GatewayError> {
        if let cached = cachedCaller(digestHex: digestHex) { return cached }
        let record: RuntimeKeyRecord?
        do {
            let bytes = try await store.hashGet(RuntimeKeys.registry, field: digestHex)
            record = bytes.flatMap(RuntimeKeyRecord.init(decoding:))
            directory.remember(digestHex, record.map { .found($0) } ?? .absent, now: monotonic())
        } catch {
            // A key we cannot verify is never let through; fail_closed says why (503).
            switch settings.onStoreError {
            case .failClosed: return .failure(.stateStoreUnavailable(error))
            case .failOpen: return .failure(.invalidAPIKey)
            }
        }
        return caller(record, digestHex: digestHex)
    }

    /// The caller of a run-time key this worker's directory holds (or knows is absent); nil
    /// when only the store can say.
    private func cachedCaller(digestHex: String) -> Result<Caller, GatewayError>? {
        switch directory.cached(digestHex, now: monotonic()) {
        case .found(let record): caller(record, digestHex: digestHex)
        case .absent: .failure(.invalidAPIKey)
        case nil: nil
        }
    }

    private func caller(_ record: RuntimeKeyRecord?, digestHex: String) -> Result<Caller, GatewayError> {
        guard let record else { return .failure(.invalidAPIKey) }
        if let expires = record.expiresAt, expires <= wallClock() { return .failure(.expiredAPIKey) }
        return Self.caller(id: RuntimeKeys.callerID(digestHex: digestHex), name: record.name, source: .runtime,
                           tier: tiers[record.tier], keyModels: record.models)
    }

    /// A caller without a key, limited per client address as `tier`.
    public static func anonymous(address: String?, tier: TierConfig) -> Caller {
        let host = address.map(host(of:)) ?? "unknown"
        return Caller(id: "ip:" + host, name: host, source: .anonymous, tier: tier, allowedModels: tier.models.map(Set.init))
    }

    private static func caller(id: String, name: String, source: Caller.Source, tier: TierConfig?, keyModels: [String]?)
        -> Result<Caller, GatewayError>
    {
        guard let tier else {
            // A run-time key whose tier was removed from config.yaml since it was created.
            return .failure(.invalidAPIKey)
        }
        var allowed = tier.models.map(Set.init)
        if let keyModels { allowed = allowed.map { $0.intersection(keyModels) } ?? Set(keyModels) }
        return .success(Caller(id: id, name: name, source: source, tier: tier, allowedModels: allowed))
    }

    /// "203.0.113.9" from "203.0.113.9:51234", "::1" from "[::1]:51234".
    static func host(of address: String) -> String {
        if address.hasPrefix("["), let end = address.firstIndex(of: "]") {
            return String(address[address.index(after: address.startIndex)..<end])
        }
        if let colon = address.lastIndex(of: ":"), address.firstIndex(of: ":") == colon { return String(address[..<colon]) }
        return address
    }
}

extension GatewayError {
    /// No key at all (OpenAI answers the same 401 for both).
    public static let missingAPIKey = GatewayError(
        status: 401, type: "invalid_request_error", code: "invalid_api_key",
        message: "You didn't provide an API key. Provide it as 'Authorization: Bearer YOUR_KEY' or 'x-api-key: YOUR_KEY'.",
        source: .gateway)

    public static let invalidAPIKey = GatewayError(
        status: 401, type: "invalid_request_error", code: "invalid_api_key",
        message: "Incorrect API key provided.", source: .gateway)

    public static let expiredAPIKey = GatewayError(
        status: 401, type: "invalid_request_error", code: "invalid_api_key",
        message: "The API key provided has expired.", source: .gateway)

    public static func modelNotAllowed(_ model: String, key: String) -> GatewayError {
        GatewayError(status: 403, type: "permission_error", code: "model_not_allowed", param: "model",
                     message: "The key '\(key)' is not allowed to use the model '\(model)'.", source: .gateway)
    }
}
