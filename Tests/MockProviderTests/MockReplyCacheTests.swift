import Testing

@testable import MockProvider

@Suite struct MockReplyCacheTests {
    private func ask(_ cache: MockReplyCache, _ content: String, headers: [String: String] = [:]) -> MockReply {
        cache.reply(
            method: "POST", path: "/v1/chat/completions", header: { headers[$0] }, body: Array(chatBody(content).utf8))
    }

    @Test func hitReturnsTheIdenticalReply() {
        let cache = MockReplyCache(responder: makeResponder())
        let first = ask(cache, "hello")
        let second = ask(cache, "hello")
        #expect(first == second)
        #expect(first == makeResponder().post("/v1/chat/completions", chatBody("hello")))
        #expect(cache.hits == 1 && cache.misses == 1 && cache.count == 1)
    }

    @Test func keyCoversMethodPathBodyAndFaultHeaders() {
        let cache = MockReplyCache(responder: makeResponder())
        _ = ask(cache, "hello")
        #expect(ask(cache, "hello!").status == 200)
        let limited = ask(cache, "hello", headers: ["x-mock-status": "429"])
        #expect(limited.status == 429)
        #expect(ask(cache, "hello", headers: ["x-mock-latency-ms": "5"]).faults.latencyMs == 5)
        #expect(ask(cache, "hello", headers: ["authorization": "Bearer other"]).status == 200)
        let get = cache.reply(
            method: "GET", path: "/v1/chat/completions", header: { _ in nil }, body: Array(chatBody("hello").utf8))
        #expect(get.status == 405)
        let otherPath = cache.reply(
            method: "POST", path: "/chat/completions", header: { _ in nil }, body: Array(chatBody("hello").utf8))
        #expect(otherPath.status == 200)
        #expect(cache.misses == 6)
        #expect(cache.hits == 1, "only the request without fault headers repeated")
    }

    @Test func evictsTheLeastRecentlyUsedAtCapacity() {
        let cache = MockReplyCache(responder: makeResponder(), capacity: 3)
        _ = ask(cache, "a")
        _ = ask(cache, "b")
        _ = ask(cache, "c")
        _ = ask(cache, "a")  // a becomes the newest; b is now the oldest
        _ = ask(cache, "d")  // evicts b
        #expect(cache.count == 3)
        #expect(cache.hits == 1 && cache.misses == 4)
        _ = ask(cache, "a")
        _ = ask(cache, "c")
        _ = ask(cache, "d")
        #expect(cache.hits == 4)
        _ = ask(cache, "b")  // was evicted; evicts a (oldest after the touches above)
        #expect(cache.misses == 5)
        _ = ask(cache, "a")
        #expect(cache.misses == 6)
        #expect(cache.count == 3)
    }

    @Test func capacityOfOneStillWorks() {
        let cache = MockReplyCache(responder: makeResponder(), capacity: 1)
        for content in ["a", "b", "a", "a"] { _ = ask(cache, content) }
        #expect(cache.count == 1 && cache.hits == 1 && cache.misses == 3)
    }

    @Test func staleEntriesAreRebuiltAfterMaxAge() {
        let clock = ManualClock(1000)
        let responder = MockResponder(clock: { clock.now() })
        let cache = MockReplyCache(responder: responder, maxAgeSeconds: 60)
        #expect(ask(cache, "x").object.int("created") == 1000)
        clock.advance(by: 60)
        #expect(ask(cache, "x").object.int("created") == 1000, "within max age: stale created is kept")
        clock.advance(by: 1)
        #expect(ask(cache, "x").object.int("created") == 1061)
        #expect(cache.hits == 1 && cache.misses == 2)
        let forever = MockReplyCache(responder: responder, maxAgeSeconds: nil)
        _ = ask(forever, "x")
        clock.advance(by: 100_000)
        #expect(ask(forever, "x").object.int("created") == 1061)
    }

    @Test func lookupSaysHowLongTheReplyStaysTheSame() {
        let clock = ManualClock(1000)
        let cache = MockReplyCache(responder: MockResponder(clock: { clock.now() }), maxAgeSeconds: 60)
        let body = Array(chatBody("x").utf8)
        func lookup() -> (MockReply, Int) {
            cache.lookup(method: "POST", path: "/v1/chat/completions", header: { _ in nil }, body: body)
        }
        let (first, fresh) = lookup()
        #expect(fresh == 60)
        clock.advance(by: 45)
        let (again, left) = lookup()
        #expect(again == first && left == 15)
        clock.advance(by: 16)
        #expect(lookup().1 == 60, "rebuilt")
        let forever = MockReplyCache(responder: makeResponder(), maxAgeSeconds: nil)
        #expect(forever.lookup(method: "POST", path: "/v1/chat/completions", header: { _ in nil }, body: body).1 == Int.max)
    }
}
