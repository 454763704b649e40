import Foundation
import GatewayCore
import HTTPServer
import HTTPTypes
import Middleware

/// The admin API: run-time keys (`POST/GET /admin/keys`, `DELETE /admin/keys/{id}`) and usage
/// (`GET /admin/usage`). Guarded by the admin key (`pipeline.auth.admin_key_sha256`, compared in
/// constant time); a caller's own key may read its own usage. Keys live in the state store, so
/// every instance sees them; a created key's plaintext is returned once and never again.
/// Not a hot path: plain Foundation JSON. Runs on the worker's reactor.
struct AdminAPI {
    let snapshot: WorkerSnapshot
    let shared: GatewayShared

    struct Answer {
        var status: Int
        var body: [UInt8] = []
        var error: GatewayError?

        static func json(_ status: Int, _ object: Any) -> Answer {
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
            return Answer(status: status, body: Array(data))
        }

        static func failure(_ error: GatewayError) -> Answer { Answer(status: error.status, error: error) }
    }

    func handle(method: HTTPRequest.Method, path: String, query: [String: String], request: ServerRequest) async -> Answer {
        let presented = Credentials.key(in: request.head.headers).map(String.init)
        let isAdmin = presented.map(isAdminKey) ?? false
        if path == "/admin/usage" {
            guard method == .get else { return .failure(.methodNotAllowed(method.rawValue, path, allowed: "GET")) }
            return await usage(query: query, presented: presented, isAdmin: isAdmin)
        }
        guard path == "/admin/keys" || path.hasPrefix("/admin/keys/") else { return .failure(.routeNotFound(method.rawValue, path)) }
        guard snapshot.config.pipeline.auth.adminKeySHA256 != nil else { return .failure(.adminDisabled) }
        guard isAdmin else { return .failure(presented == nil ? .missingAPIKey : .notAdmin) }
        switch (method, path == "/admin/keys") {
        case (.post, true): return await createKey(request.body)
        case (.get, true): return await listKeys()
        case (.delete, false): return await revokeKey(String(path.dropFirst("/admin/keys/".count)))
        case (_, true): return .failure(.methodNotAllowed(method.rawValue, path, allowed: "GET, POST"))
        case (_, false): return .failure(.methodNotAllowed(method.rawValue, path, allowed: "DELETE"))
        }
    }

    func isAdminKey(_ key: String) -> Bool {
        guard let expected = snapshot.config.pipeline.auth.adminKeySHA256.flatMap(Hex.decode) else { return false }
        return Hex.constantTimeEqual(SHA256.digest(key.utf8), expected)
    }

    // MARK: Keys

    func createKey(_ body: [UInt8]) async -> Answer {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            return .failure(.malformedJSON("expected a JSON object"))
        }
        guard let name = object["name"] as? String, !name.isEmpty else { return .failure(.missingParameter("name")) }
        guard let tier = object["tier"] as? String else { return .failure(.missingParameter("tier")) }
        let config = snapshot.config
        guard config.tiers.contains(where: { $0.name == tier }) else {
            return .failure(.invalidParameter("tier", "Unknown tier '\(tier)'; defined: \(config.tiers.map(\.name).joined(separator: ", "))."))
        }
        var models: [String]?
        if let given = object["models"], !(given is NSNull) {
            guard let list = given as? [String] else { return .failure(.invalidParameter("models", "'models' must be a list of model names.")) }
            if let unknown = list.first(where: { alias in !config.models.contains { $0.name == alias } }) {
                return .failure(.invalidParameter("models", "Unknown model '\(unknown)'."))
            }
            models = list
        }
        var expiresAt: Int64?
        if let given = object["expires_at"], !(given is NSNull) {
            guard let seconds = (given as? NSNumber)?.int64Value, seconds > shared.wallClock() else {
                return .failure(.invalidParameter("expires_at", "'expires_at' must be a future Unix time in seconds."))
            }
            expiresAt = seconds
        }
        var metadata: [String: String] = [:]
        if let given = object["metadata"], !(given is NSNull) {
            guard let map = given as? [String: String] else {
                return .failure(.invalidParameter("metadata", "'metadata' must map strings to strings."))
            }
            metadata = map
        }
        do {
            let existing = try await shared.store.hashGetAll(RuntimeKeys.registry)
            let names = Set(config.keys.map(\.name)).union(existing.values.compactMap { RuntimeKeyRecord(decoding: $0)?.name })
            guard !names.contains(name) else { return .failure(.invalidParameter("name", "A key named '\(name)' already exists.")) }
            let key = Self.newKey()
            let digest = SHA256.hex(key.utf8)
            let record = RuntimeKeyRecord(name: name, tier: tier, models: models, expiresAt: expiresAt, metadata: metadata,
                                          createdAt: shared.wallClock())
            try await shared.store.hashSet(RuntimeKeys.registry, field: digest, record.encoded())
            await announce(digest)
            var answer = describe(record, digestHex: digest, source: "runtime")
            answer["key"] = key
            return .json(201, answer)
        } catch {
            return .failure(.stateStoreUnavailable(error))
        }
    }

    func listKeys() async -> Answer {
        do {
            var data: [[String: Any]] = snapshot.config.keys.map { key in
                var entry: [String: Any] = ["id": RuntimeKeys.callerID(digestHex: key.keySHA256), "object": "api_key",
                                            "name": key.name, "tier": key.tier, "source": "config", "metadata": key.metadata]
                entry["models"] = key.models ?? NSNull()
                entry["expires_at"] = key.expires.map { Int64($0.timeIntervalSince1970) } ?? NSNull()
                return entry
            }
            for (digest, bytes) in try await shared.store.hashGetAll(RuntimeKeys.registry).sorted(by: { $0.key < $1.key }) {
                guard let record = RuntimeKeyRecord(decoding: bytes) else { continue }
                data.append(describe(record, digestHex: digest, source: "runtime"))
            }
            return .json(200, ["object": "list", "data": data])
        } catch {
            return .failure(.stateStoreUnavailable(error))
        }
    }

    /// Revokes a run-time key by id (or name). Keys of config.yaml are revoked by editing it.
    func revokeKey(_ idOrName: String) async -> Answer {
        if snapshot.config.keys.contains(where: { RuntimeKeys.callerID(digestHex: $0.keySHA256) == idOrName || $0.name == idOrName }) {
            return .failure(GatewayError(status: 409, type: "invalid_request_error", code: "key_in_config",
                                         message: "The key '\(idOrName)' is defined in config.yaml; remove it there and reload.",
                                         source: .client))
        }
        do {
            let registry = try await shared.store.hashGetAll(RuntimeKeys.registry)
            guard let (digest, bytes) = registry.first(where: { digest, bytes in
                RuntimeKeys.callerID(digestHex: digest) == idOrName || RuntimeKeyRecord(decoding: bytes)?.name == idOrName
            }) else {
                return .failure(GatewayError(status: 404, type: "invalid_request_error", code: "key_not_found",
                                             message: "No run-time key '\(idOrName)'.", source: .client))
            }
            try await shared.store.hashDelete(RuntimeKeys.registry, field: digest)
            await announce(digest)
            let name = RuntimeKeyRecord(decoding: bytes)?.name ?? idOrName
            return .json(200, ["id": RuntimeKeys.callerID(digestHex: digest), "object": "api_key", "name": name, "deleted": true])
        } catch {
            return .failure(.stateStoreUnavailable(error))
        }
    }

    /// Drops the key from this instance's cache now and tells the others.
    func announce(_ digestHex: String) async {
        shared.keys.invalidate(digestHex)
        try? await shared.store.publish(RuntimeKeys.changes, Array(digestHex.utf8))
    }

    func describe(_ record: RuntimeKeyRecord, digestHex: String, source: String) -> [String: Any] {
        ["id": RuntimeKeys.callerID(digestHex: digestHex), "object": "api_key", "name": record.name, "tier": record.tier,
         "source": source, "models": record.models ?? NSNull(), "expires_at": record.expiresAt ?? NSNull(),
         "metadata": record.metadata, "created_at": record.createdAt]
    }

    /// "sk-sy-" and 48 hex digits (192 random bits).
    static func newKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return "sk-sy-" + Hex.encode((0..<24).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    // MARK: Usage

    /// One UTC day's usage (`?date=YYYY-MM-DD`, today by the store's clock by default): every
    /// key's for the admin key (`?key=` narrows to one id or name), the caller's own otherwise.
    func usage(query: [String: String], presented: String?, isAdmin: Bool) async -> Answer {
        var subjects: [(id: String, name: String, tier: String, source: String)] = []
        if isAdmin {
            subjects = snapshot.config.keys.map { (RuntimeKeys.callerID(digestHex: $0.keySHA256), $0.name, $0.tier, "config") }
            if let registry = try? await shared.store.hashGetAll(RuntimeKeys.registry) {
                for (digest, bytes) in registry.sorted(by: { $0.key < $1.key }) {
                    guard let record = RuntimeKeyRecord(decoding: bytes) else { continue }
                    subjects.append((RuntimeKeys.callerID(digestHex: digest), record.name, record.tier, "runtime"))
                }
            }
            if let only = query["key"] { subjects = subjects.filter { $0.id == only || $0.name == only } }
        } else {
            guard let presented else { return .failure(.missingAPIKey) }
            let context = RequestContext(requestID: "usage", receivedAt: 0)
            switch await snapshot.auth.identify(presented[...], context: context) {
            case .failure(let error): return .failure(error)
            case .success(let caller): subjects = [(caller.id, caller.name, caller.tier.name, caller.source.rawValue)]
            }
        }
        let day: Int64
        if let date = query["date"] {
            guard let parsed = CalendarPeriod.day(parsing: date) else {
                return .failure(.invalidParameter("date", "'date' must be a day such as 2026-11-21."))
            }
            day = parsed
        } else {
            let now = (try? await shared.store.serverTime()) ?? StoreTime(seconds: shared.wallClock(), microseconds: 0)
            day = CalendarPeriod.day(now: now.totalMicroseconds).index
        }
        do {
            var data: [[String: Any]] = []
            for subject in subjects {
                let fields = try await DayUsage.read(shared.store, base: CallerKeys.base(subject.id), day: day)
                func number(_ name: String) -> Int64 { fields[name] ?? 0 }
                let prompt = number("prompt_tokens")
                let completion = number("completion_tokens")
                data.append([
                    "id": subject.id, "name": subject.name, "tier": subject.tier, "source": subject.source,
                    "requests": number("requests"), "prompt_tokens": prompt, "completion_tokens": completion,
                    "total_tokens": prompt + completion, "cost_usd": Double(number("cost_nanos")) / LimitPlan.nanosPerDollar,
                ])
            }
            return .json(200, ["object": "list", "date": CalendarPeriod.dateString(day: day), "data": data])
        } catch {
            return .failure(.stateStoreUnavailable(error))
        }
    }
}

extension GatewayError {
    static let adminDisabled = GatewayError(
        status: 404, type: "invalid_request_error", code: "admin_disabled",
        message: "The admin API is off: set pipeline.auth.admin_key_sha256 in config.yaml.", source: .gateway)

    static let notAdmin = GatewayError(
        status: 403, type: "permission_error", code: "admin_key_required",
        message: "This endpoint needs the admin key.", source: .gateway)
}
