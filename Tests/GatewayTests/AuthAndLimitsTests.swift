import Foundation
import Gateway
import GatewayCore
import Middleware
import State
import TestSupport
import Testing

/// Auth, rate limits and the admin API through the whole gateway in one process (memory store).
@Suite(.serialized) struct AuthAndLimitsTests {
    static let clientKey = "sk-test-client-key"
    static let adminKey = "sk-test-admin-key"

    static func yaml(auth: String = "required: true, admin_key_sha256: \"\(SHA256.hex(adminKey.utf8))\"",
                     rateLimit: String = "") -> String {
        """
        server: { listen: "127.0.0.1:0", workers: 2 }
        providers: { mock: { type: mock } }
        models:
          local: { deployments: [ { provider: mock, model: mock-gpt, input_cost_per_mtok: 1, output_cost_per_mtok: 2 } ] }
          other: { deployments: [ { provider: mock, model: mock-gpt } ] }
        tiers:
          free: { requests_per_minute: 3, tokens_per_minute: 100000, models: [local] }
          pro: { requests_per_minute: 1000 }
        keys:
          - { name: demo, key_sha256: "\(SHA256.hex(clientKey.utf8))", tier: free }
        pipeline:
          auth: { \(auth) }
          rate_limit: { \(rateLimit) }
          router: {}
        log: { access_log: false }
        """
    }

    static let chat = #"{"model":"local","max_tokens":20,"messages":[{"role":"user","content":"hello"}]}"#

    func json(_ response: RawHTTPClient.Response) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    @Test func limitedCallersSeeHeadersThen429AndOtherModelsAre403() throws {
        let gateway = try GatewayHarness(yaml: Self.yaml())
        defer { gateway.stop() }
        let c = try RawHTTPClient(port: gateway.port)
        let auth = "Authorization: Bearer \(Self.clientKey)"
        c.post("/v1/chat/completions", json: Self.chat)
        #expect(try c.readResponse().status == 401)
        c.post("/v1/chat/completions", json: Self.chat.replacingOccurrences(of: "local", with: "other"), headers: [auth])
        let forbidden = try c.readResponse()
        #expect(forbidden.status == 403 && forbidden.bodyText.contains("model_not_allowed"))
        for remaining in ["2", "1"] {
            c.post("/v1/chat/completions", json: Self.chat, headers: [auth])
            let response = try c.readResponse()
            #expect(response.status == 200)
            #expect(response.header("x-ratelimit-remaining") == remaining)
            #expect(response.header("x-ratelimit-limit-tokens") == "100000")
            #expect(response.header("ratelimit-policy")?.contains(#""rpm";q=3;w=60"#) == true)
        }
        // A stream carries the headers too.
        c.post("/v1/chat/completions", json: Self.chat.replacingOccurrences(of: "{\"model\"", with: "{\"stream\":true,\"model\""),
               headers: ["x-api-key: \(Self.clientKey)"])
        let streamed = try c.readResponse()
        #expect(streamed.status == 200 && streamed.bodyText.contains("[DONE]"))
        #expect(streamed.header("x-ratelimit-remaining-requests") == "0")
        c.post("/v1/chat/completions", json: Self.chat, headers: [auth])
        let refused = try c.readResponse()
        #expect(refused.status == 429)
        #expect(refused.header("retry-after") != nil && refused.header("retry-after-ms") != nil)
        #expect(refused.header("x-switchyard-error-source") == "gateway")
        let error = try #require(try json(refused)["error"] as? [String: Any])
        #expect(error["type"] as? String == "requests" && error["code"] as? String == "rate_limit_exceeded")
    }

    @Test func theAdminAPICreatesListsMetersAndRevokesKeys() throws {
        let gateway = try GatewayHarness(yaml: Self.yaml())
        defer { gateway.stop() }
        let c = try RawHTTPClient(port: gateway.port)
        let admin = "Authorization: Bearer \(Self.adminKey)"
        c.post("/admin/keys", json: #"{"name":"svc","tier":"pro","metadata":{"team":"search"}}"#, headers: ["Authorization: Bearer \(Self.clientKey)"])
        #expect(try c.readResponse().status == 403)
        c.post("/admin/keys", json: #"{"name":"svc","tier":"nope"}"#, headers: [admin])
        #expect(try c.readResponse().status == 400)
        c.post("/admin/keys", json: #"{"name":"svc","tier":"pro","metadata":{"team":"search"}}"#, headers: [admin])
        let created = try c.readResponse()
        #expect(created.status == 201)
        let key = try #require(try json(created)["key"] as? String)
        let id = try #require(try json(created)["id"] as? String)
        #expect(key.hasPrefix("sk-sy-"))
        c.post("/admin/keys", json: #"{"name":"svc","tier":"pro"}"#, headers: [admin])
        #expect(try c.readResponse().status == 400)  // names are unique

        c.get("/admin/keys", headers: [admin])
        let list = try c.readResponse()
        #expect(list.status == 200 && list.bodyText.contains(#""name":"svc""#) && list.bodyText.contains(#""name":"demo""#))
        #expect(!list.bodyText.contains(key))

        c.post("/v1/chat/completions", json: Self.chat, headers: ["Authorization: Bearer \(key)"])
        let used = try c.readResponse()
        #expect(used.status == 200)
        #expect(used.header("x-ratelimit-limit-requests") == "1000")

        // Settlement runs right after the answer; its own key reads its usage. Bounded polling.
        var requests = 0
        for _ in 0..<200 where requests == 0 {
            c.get("/admin/usage", headers: ["Authorization: Bearer \(key)"])
            let usage = try c.readResponse()
            #expect(usage.status == 200)
            let data = try #require(try json(usage)["data"] as? [[String: Any]])
            #expect(data.count == 1 && data.first?["name"] as? String == "svc")
            requests = (data.first?["requests"] as? Int) ?? 0
            if requests > 0 { #expect((data.first?["completion_tokens"] as? Int ?? 0) > 0) }
        }
        #expect(requests == 1)
        c.get("/admin/usage?key=svc", headers: [admin])
        #expect(try c.readResponse().bodyText.contains(#""requests":1"#))
        c.get("/admin/usage?date=2026-13-01", headers: [admin])
        #expect(try c.readResponse().status == 400)

        c.request("DELETE", "/admin/keys/demo", headers: [admin])
        #expect(try c.readResponse().status == 409)  // config keys are revoked in config.yaml
        c.request("DELETE", "/admin/keys/\(id)", headers: [admin])
        #expect(try c.readResponse().status == 200)
        c.post("/v1/chat/completions", json: Self.chat, headers: ["Authorization: Bearer \(key)"])
        #expect(try c.readResponse().status == 401)
    }

    /// A settlement lingering for its round trip when the gateway is told to stop is sent and
    /// answered before the process would exit: the usage it carries is not lost.
    @Test func settlementsStillLingeringAreSentOnShutdown() throws {
        let gateway = try GatewayHarness(yaml: Self.yaml(rateLimit: "settle_linger: 1h"))
        do {
            let c = try RawHTTPClient(port: gateway.port)
            for _ in 0..<2 {
                c.post("/v1/chat/completions", json: Self.chat, headers: ["Authorization: Bearer \(Self.clientKey)"])
                #expect(try c.readResponse().status == 200)
            }
        }
        let store = try #require(gateway.server.store as? MemoryStore)
        let day = CalendarPeriod.day(now: store.serverTime().totalMicroseconds).index
        let base = CallerKeys.base(RuntimeKeys.callerID(digestHex: SHA256.hex(Self.clientKey.utf8)))
        // The day's requests, those still pending in the limiter hash included (`DayUsage`).
        func requests() throws -> Int64 {
            let stored = try store.hashGetAll(base + "d:" + String(day))["requests"].flatMap(DecimalBytes.parse) ?? 0
            let pending = PendingUsage(try store.hashGet(base + "l", field: PendingUsage.field))
            return stored + (pending.day == day ? pending.requests : 0)
        }
        // The second request's admission carried the first one's settlement; the second's lingers.
        #expect(try requests() == 1)
        gateway.stop()
        #expect(try requests() == 2)
    }

    @Test func withoutAnAdminKeyTheAdminAPIIsOff() throws {
        let gateway = try GatewayHarness(yaml: Self.yaml(auth: "required: true"))
        defer { gateway.stop() }
        let c = try RawHTTPClient(port: gateway.port)
        c.get("/admin/keys", headers: ["Authorization: Bearer \(Self.adminKey)"])
        let response = try c.readResponse()
        #expect(response.status == 404 && response.bodyText.contains("admin_disabled"))
    }

    @Test func anonymousCallersAreLimitedPerAddress() throws {
        let gateway = try GatewayHarness(yaml: Self.yaml(auth: "required: false"))
        defer { gateway.stop() }
        var statuses: [Int] = []
        for _ in 0..<5 {
            let c = try RawHTTPClient(port: gateway.port)  // a new connection each time, one address
            c.post("/v1/chat/completions", json: Self.chat)
            statuses.append(try c.readResponse().status)
        }
        #expect(statuses == [200, 200, 200, 429, 429])
    }
}
