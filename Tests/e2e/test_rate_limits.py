"""Auth and rate limits as an app meets them through the official SDK: 429s the SDK retries on
our `retry-after-ms` (and does not retry when we say `x-should-retry: false`), every refusal
class with its OpenAI `type` and `code`, the three header conventions on JSON and streamed
answers, limits that stay exact across two instances on one Redis (and across two workers on
the memory store), run-time keys through the admin API, usage of a stream cut short, anonymous
callers limited per address, and load shedding by tier.

Every test starts its own gateways (killed when it ends) and uses fresh keys, so limits never
leak from one test into another. Waits are on events (a response head, a log line) or on a
condition polled against a deadline; nothing sleeps to synchronise."""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
import uuid
from typing import Any, Callable, Iterator

import httpx
import openai
import pytest

from conftest import Gateway, MockLLM, RedisServer, deployment, sha256_hex

MESSAGES = [{"role": "user", "content": "hi"}]
ADMIN_KEY = "sk-admin-e2e-rate-limits"
# The in-process mock reads fault headers from the client's request: this pace keeps a stream
# (role, 16 tokens, finish) in flight for seconds, until the test closes it.
SLOW_STREAM_HEADERS = {"x-mock-token-interval-ms": "250"}
# Upper bound of any poll for state that settles asynchronously (usage, a released lease).
SETTLE_TIMEOUT = 5.0


def new_key(label: str) -> str:
    return f"sk-{label}-{uuid.uuid4().hex}"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def limits_config(mock_llm: MockLLM, *, tiers: dict, keys: dict[str, tuple[str, str]] | None = None,
                  auth: dict | None = None, rate_limit: dict | None = None, stages: tuple[str, ...] = ("auth", "rate_limit"),
                  redis: RedisServer | None = None, workers: int = 1) -> dict:
    """A gateway with the auth and rate-limit stages in front of the router. `keys` maps a key
    name to (plaintext, tier); only the digest goes into the config. Models: `mock-gpt` on the
    in-process mock, `cut-truncate` / `cut-reset` over mock-llm with a stream cut after 3 chunks."""
    pipeline: dict[str, Any] = {}
    if "auth" in stages:
        pipeline["auth"] = {"required": True, "admin_key_sha256": sha256_hex(ADMIN_KEY), **(auth or {})}
    if "rate_limit" in stages:
        pipeline["rate_limit"] = rate_limit or {}
    pipeline["router"] = {"strategy": "priority"}
    config = {
        "server": {"listen": "127.0.0.1:0", "workers": workers, "drain_timeout": "2s"},
        "providers": {"mock": {"type": "mock"},
                      "local": {"type": "openai", "base_url": mock_llm.base_url, "api_key": "sk-provider-e2e"}},
        "models": {
            "mock-gpt": {"deployments": [deployment("mock", "mock-gpt")]},
            "cut-truncate": {"deployments": [deployment("local", "mock-gpt+truncate=3")]},
            "cut-reset": {"deployments": [deployment("local", "mock-gpt+reset=3")]},
        },
        "tiers": tiers,
        "keys": [{"name": name, "key_sha256": sha256_hex(plain), "tier": tier}
                 for name, (plain, tier) in (keys or {}).items()],
        "pipeline": pipeline,
        "log": {"level": "info", "access_log": True, "format": "json"},
    }
    if redis is not None:
        config["state"] = {"backend": "redis", "url": redis.url}
    return config


@pytest.fixture
def launch(start_gateway) -> Iterator[Callable[..., Gateway]]:
    """`launch(config, name)` starts a gateway that lives until the end of this test."""
    started: list[Gateway] = []

    def start(config: dict, name: str = "rl") -> Gateway:
        gateway = start_gateway(config, name=name)
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.process.kill()


@pytest.fixture(params=["memory", "redis"])
def store(request) -> RedisServer | None:
    """Runs a test on both state stores: the memory store decides with the native twins of the
    rate-limit scripts, Redis with their Lua bodies."""
    return request.getfixturevalue("redis_server") if request.param == "redis" else None


class AttemptLog:
    """Every HTTP attempt an SDK client makes, seen through httpx event hooks on its own
    http_client: what the SDK's retry loop really did, not what it returned."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.responses: list[Any] = []

    def client(self, gateway: Gateway, key: str, **options: Any) -> openai.OpenAI:
        http_client = openai.DefaultHttpxClient(
            event_hooks={"request": [self.requests.append], "response": [self.responses.append]})
        return gateway.client(api_key=key, http_client=http_client, **options)


def chat(sdk: openai.OpenAI, **extra: Any):
    return sdk.chat.completions.create(model="mock-gpt", messages=MESSAGES, **extra)


def post_chat(http: httpx.Client, key: str | None, **extra: Any) -> httpx.Response:
    headers = bearer(key) if key else {}
    return http.post("/v1/chat/completions", json={"model": "mock-gpt", "messages": MESSAGES, **extra}, headers=headers)


@contextlib.contextmanager
def stream_in_flight(gateway: Gateway, key: str) -> Iterator[httpx.Response]:
    """A streamed request that the gateway has admitted and not yet finished: it returns once the
    response head (200) has arrived, and the stream stays open until the block ends, when the
    client goes away and the gateway cancels it."""
    body = {"model": "mock-gpt", "messages": MESSAGES, "stream": True}
    with gateway.http() as http, http.stream("POST", "/v1/chat/completions", json=body,
                                             headers={**bearer(key), **SLOW_STREAM_HEADERS}) as response:
        assert response.status_code == 200, response.read()
        yield response


def wait_until(probe: Callable[[], Any], what: str, timeout: float = SETTLE_TIMEOUT) -> Any:
    """Calls `probe` (a request to the gateway, so each call waits on the network, never on a
    timer) until it returns something truthy, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
    raise AssertionError(f"{what}: not seen within {timeout}s (last probe: {last!r})")


def usage_of(gateway: Gateway, key: str) -> dict:
    """The caller's own usage today, read with its own key."""
    with gateway.http() as http:
        response = http.get("/admin/usage", headers=bearer(key))
    assert response.status_code == 200, response.text
    rows = response.json()["data"]
    assert len(rows) == 1
    return rows[0]


def assert_rate_limit_error(error: openai.APIStatusError, *, type_: str, code: str) -> None:
    assert error.status_code == 429
    assert isinstance(error.body, dict)
    assert error.body["type"] == type_ and error.body["code"] == code
    assert error.code == code and error.type == type_
    assert error.response.headers["x-switchyard-error-source"] == "gateway"
    assert int(error.response.headers["retry-after"]) >= 1
    assert int(error.response.headers["retry-after-ms"]) >= 1


# MARK: 1. The SDK retries on our headers


def test_sdk_retry_waits_retry_after_ms_then_succeeds(launch, mock_llm, store):
    key = new_key("burst")
    # Bucket of depth 1 refilled at 600/min: the next token comes 100 ms after the last one.
    gateway = launch(limits_config(mock_llm, tiers={"burst1": {"requests_per_minute": 600, "burst": 1}},
                                   keys={"burst": (key, "burst1")}, redis=store))
    attempts = AttemptLog()
    with attempts.client(gateway, key, max_retries=2) as sdk:
        assert chat(sdk).choices[0].message.content
        assert len(attempts.requests) == 1
        started = time.monotonic()
        second = chat(sdk)
        elapsed = time.monotonic() - started
    assert second.choices[0].message.content
    assert len(attempts.requests) == 3, "the second call took exactly two attempts"
    refused, admitted = attempts.responses[1], attempts.responses[2]
    assert refused.status_code == 429 and admitted.status_code == 200
    retry_ms = int(refused.headers["retry-after-ms"])
    assert 1 <= retry_ms <= 100
    assert refused.headers.get("x-should-retry") != "false"
    # The SDK slept what we asked for (it prefers retry-after-ms to retry-after's whole seconds).
    assert elapsed >= retry_ms / 1000
    assert elapsed < 0.9, "the SDK waited retry-after (1 s) instead of retry-after-ms"
    if retry_ms >= 80:
        assert elapsed >= 0.08


# MARK: 2. Refusal classes as the SDK raises them


def test_requests_limit_raises_rate_limit_error(launch, mock_llm, store):
    key = new_key("rpm")
    gateway = launch(limits_config(mock_llm, tiers={"rpm2": {"requests_per_minute": 2}}, keys={"rpm": (key, "rpm2")}, redis=store))
    with gateway.client(api_key=key) as sdk:
        chat(sdk)
        chat(sdk)
        with pytest.raises(openai.RateLimitError) as caught:
            chat(sdk)
    assert_rate_limit_error(caught.value, type_="requests", code="rate_limit_exceeded")
    headers = caught.value.response.headers
    assert headers.get("x-should-retry") is None, "a window that moves on is worth retrying"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    # A sliding window may need up to two windows to fall below the limit again.
    assert 1 <= int(headers["retry-after"]) <= 120
    assert int(headers["retry-after-ms"]) <= int(headers["retry-after"]) * 1000


def test_concurrency_limit_raises_rate_limit_error_and_frees_the_slot(launch, mock_llm, store):
    key = new_key("conc")
    gateway = launch(limits_config(mock_llm, tiers={"one": {"max_concurrent": 1}}, keys={"conc": (key, "one")}, redis=store))
    with gateway.client(api_key=key) as sdk:
        with stream_in_flight(gateway, key):
            with pytest.raises(openai.RateLimitError) as caught:
                chat(sdk)
        assert_rate_limit_error(caught.value, type_="concurrency", code="concurrency_limit_exceeded")
        assert caught.value.response.headers.get("x-should-retry") is None

        # The client left the stream, so the gateway cancels it and releases the lease.
        def admitted() -> bool:
            try:
                return bool(chat(sdk).choices)
            except openai.RateLimitError:
                return False
        wait_until(admitted, "the concurrency slot released after the stream was closed")


def test_tokens_limit_too_large_raises_without_retry(launch, mock_llm, store):
    key = new_key("tpm")
    gateway = launch(limits_config(mock_llm, tiers={"tiny-tpm": {"tokens_per_minute": 100}}, keys={"tpm": (key, "tiny-tpm")},
                                   redis=store))
    attempts = AttemptLog()
    with attempts.client(gateway, key, max_retries=3) as sdk:
        with pytest.raises(openai.RateLimitError) as caught:
            chat(sdk, max_tokens=5000)
        assert_rate_limit_error(caught.value, type_="tokens", code="rate_limit_exceeded")
        # Larger than the whole limit: waiting cannot help, and the SDK is told so.
        assert caught.value.response.headers["x-should-retry"] == "false"
        assert len(attempts.requests) == 1
        assert chat(sdk, max_tokens=10).choices, "a request that fits is still served"


def test_insufficient_quota_is_not_retried_by_the_sdk(launch, mock_llm, store):
    key = new_key("quota")
    gateway = launch(limits_config(mock_llm, tiers={"tiny-day": {"daily_tokens": 200}}, keys={"quota": (key, "tiny-day")},
                                   redis=store))
    attempts = AttemptLog()
    with attempts.client(gateway, key, max_retries=3) as sdk:
        # Each call reserves about 30 tokens (prompt estimate + max_tokens) until it settles.
        served = 0
        caught = None
        for _ in range(20):
            before = len(attempts.requests)
            try:
                chat(sdk, max_tokens=16)
                served += 1
            except openai.RateLimitError as error:
                caught = error
                break
            assert len(attempts.requests) == before + 1
        assert caught is not None, "the daily quota never ran out"
        assert served >= 1
    assert_rate_limit_error(caught, type_="insufficient_quota", code="insufficient_quota")
    assert caught.response.headers["x-should-retry"] == "false"
    assert len(attempts.requests) == served + 1, "the refused call was sent once, not retried"


def test_reserved_tokens_are_reconciled_with_real_usage(launch, mock_llm, store):
    key = new_key("reconcile")
    gateway = launch(limits_config(mock_llm, tiers={"tpm3k": {"tokens_per_minute": 3000}},
                                   keys={"reconcile": (key, "tpm3k")}, redis=store))
    with gateway.client(api_key=key) as sdk:
        # Reserves max_tokens up front (about 2,020 of 3,000); the answer uses 23.
        first = sdk.chat.completions.with_raw_response.create(model="mock-gpt", messages=MESSAGES, max_tokens=2000)
        assert int(first.headers["x-ratelimit-remaining-tokens"]) < 1000

        # A second such reservation fits only once the first was settled at its real usage.
        def admitted():
            try:
                return sdk.chat.completions.with_raw_response.create(model="mock-gpt", messages=MESSAGES, max_tokens=2000)
            except openai.RateLimitError as error:
                assert error.type == "tokens"
                return None
        second = wait_until(admitted, "the first reservation reconciled with its usage")
    assert int(second.headers["x-ratelimit-remaining-tokens"]) < 1000


def test_keys_by_header_and_model_permissions(launch, mock_llm):
    key, narrow = new_key("auth"), new_key("narrow")
    tiers = {"open": {"requests_per_minute": 100}, "cut-only": {"requests_per_minute": 100, "models": ["cut-reset"]}}
    gateway = launch(limits_config(mock_llm, tiers=tiers, keys={"auth": (key, "open"), "narrow": (narrow, "cut-only")}))
    with gateway.http() as http:
        missing = post_chat(http, None)
        assert missing.status_code == 401 and missing.json()["error"]["code"] == "invalid_api_key"
        by_header = http.post("/v1/chat/completions", json={"model": "mock-gpt", "messages": MESSAGES},
                              headers={"x-api-key": key})
        assert by_header.status_code == 200 and by_header.headers["x-ratelimit-limit-requests"] == "100"
    with gateway.client(api_key="sk-wrong") as sdk:
        with pytest.raises(openai.AuthenticationError) as unknown:
            chat(sdk)
    assert unknown.value.code == "invalid_api_key"
    with gateway.client(api_key=narrow) as sdk:
        with pytest.raises(openai.PermissionDeniedError) as denied:
            chat(sdk)
    assert denied.value.code == "model_not_allowed" and denied.value.type == "permission_error"


def test_refusal_headers_do_not_count_the_refused_request(launch, mock_llm, store):
    key = new_key("refused-remaining")
    gateway = launch(limits_config(mock_llm, tiers={"burst1": {"requests_per_minute": 600, "burst": 1}},
                                   keys={"burst": (key, "burst1")}, redis=store))
    with gateway.http() as http:
        admitted = post_chat(http, key)
        refused = post_chat(http, key)
    assert admitted.status_code == 200 and refused.status_code == 429
    assert refused.json()["error"]["type"] == "requests"
    # The bucket refused; the minute window was not charged, so it has as much left as before.
    before = structured_items(admitted.headers["ratelimit"])["rpm"]["r"]
    after = structured_items(refused.headers["ratelimit"])["rpm"]["r"]
    assert after == before == 599


def test_reset_of_a_window_refusal_is_not_before_retry_after(launch, mock_llm, store):
    key = new_key("reset")
    gateway = launch(limits_config(mock_llm, tiers={"rpm2": {"requests_per_minute": 2}}, keys={"rpm": (key, "rpm2")},
                                   redis=store))
    with gateway.http() as http:
        assert post_chat(http, key).status_code == 200
        assert post_chat(http, key).status_code == 200
        refused = post_chat(http, key)
    assert refused.status_code == 429
    retry_after = int(refused.headers["retry-after"])
    assert int(refused.headers["x-ratelimit-reset"]) >= retry_after
    assert seconds_of(refused.headers["x-ratelimit-reset-requests"]) >= retry_after


# MARK: 3. Headers, JSON and streamed

DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$|^(\d+)ms$")


def seconds_of(duration: str) -> float:
    """OpenAI's reset format ("20ms", "1s", "6m0s", "1h2m3s") in seconds."""
    match = DURATION.match(duration)
    assert match and duration, f"not a reset duration: {duration!r}"
    hours, minutes, secs, millis = (int(g) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + secs + millis / 1000


def structured_items(value: str) -> dict[str, dict[str, int]]:
    """`"rpm";q=50;w=60, "tpm";q=1000` → {"rpm": {"q": 50, "w": 60}, "tpm": {"q": 1000}}."""
    items: dict[str, dict[str, int]] = {}
    for member in value.split(","):
        name, *params = member.strip().split(";")
        assert name.startswith('"') and name.endswith('"'), member
        items[name.strip('"')] = {k: int(v) for k, v in (p.split("=", 1) for p in params)}
    return items


def assert_consistent_rate_limit_headers(headers: httpx.Headers) -> int:
    """All three conventions present and telling the same story; returns the requests remaining."""
    policy = structured_items(headers["ratelimit-policy"])
    state = structured_items(headers["ratelimit"])
    assert policy["rpm"] == {"q": 50, "w": 60}
    assert policy["rph"] == {"q": 1000, "w": 3600}
    assert policy["tpm"] == {"q": 100000, "w": 60}
    assert set(state) == set(policy)
    # The tightest request limit (rpm) is the one X-RateLimit-* and x-ratelimit-*-requests show.
    remaining = int(headers["x-ratelimit-remaining"])
    assert headers["x-ratelimit-limit"] == headers["x-ratelimit-limit-requests"] == "50"
    assert headers["x-ratelimit-remaining-requests"] == str(remaining) == str(state["rpm"]["r"])
    assert int(headers["x-ratelimit-reset"]) == state["rpm"]["t"]
    reset_requests = seconds_of(headers["x-ratelimit-reset-requests"])
    assert 0 < reset_requests <= 120  # whole again once the current window has aged out
    assert int(headers["x-ratelimit-reset"]) == math.ceil(reset_requests)  # whole seconds, rounded up
    assert headers["x-ratelimit-limit-tokens"] == "100000"
    assert int(headers["x-ratelimit-remaining-tokens"]) == state["tpm"]["r"] < 100000
    assert 0 < seconds_of(headers["x-ratelimit-reset-tokens"]) <= 120
    assert state["rph"]["r"] > remaining
    return remaining


def test_rate_limit_headers_on_json_and_streamed_answers(launch, mock_llm, store):
    key = new_key("headers")
    tier = {"requests_per_minute": 50, "requests_per_hour": 1000, "tokens_per_minute": 100000}
    gateway = launch(limits_config(mock_llm, tiers={"std": tier}, keys={"headers": (key, "std")}, redis=store))
    with gateway.client(api_key=key) as sdk:
        raw = sdk.chat.completions.with_raw_response.create(model="mock-gpt", messages=MESSAGES)
        assert raw.parse().choices[0].message.content
        first = assert_consistent_rate_limit_headers(raw.headers)
        assert first <= 49

        streamed = sdk.chat.completions.with_raw_response.create(model="mock-gpt", messages=MESSAGES, stream=True)
        assert streamed.headers["content-type"].startswith("text/event-stream")
        second = assert_consistent_rate_limit_headers(streamed.headers)
        assert "".join(chunk.choices[0].delta.content or "" for chunk in streamed.parse() if chunk.choices)
        assert second < first

    # The same on a raw httpx stream, which sees the head before any event.
    with gateway.http() as http, http.stream("POST", "/v1/chat/completions", headers=bearer(key),
                                             json={"model": "mock-gpt", "messages": MESSAGES, "stream": True}) as response:
        assert response.status_code == 200
        third = assert_consistent_rate_limit_headers(response.headers)
        assert "data: [DONE]" in list(response.iter_lines())
    assert third < second


# MARK: 4. Exact limits across instances and workers

EXACT_LIMIT = 37
EXACT_REQUESTS = 120


async def fire_concurrently(urls: list[str], key: str | None, count: int) -> list[httpx.Response]:
    """`count` chat requests at once, spread round-robin over `urls`, each on its own connection."""
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    clients = [httpx.AsyncClient(base_url=url, timeout=20.0, limits=limits) for url in urls]
    headers = bearer(key) if key else {}
    body = {"model": "mock-gpt", "messages": MESSAGES}
    try:
        return list(await asyncio.gather(*(
            clients[i % len(clients)].post("/v1/chat/completions", json=body, headers=headers) for i in range(count))))
    finally:
        for client in clients:
            await client.aclose()


def assert_exactly_admitted(responses: list[httpx.Response], limit: int) -> None:
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == limit, f"{statuses.count(200)} admitted, {statuses.count(429)} refused"
    assert statuses.count(429) == len(responses) - limit, sorted(set(statuses))
    for refused in (r for r in responses if r.status_code == 429):
        assert refused.json()["error"]["type"] == "requests"


def test_two_instances_on_one_redis_admit_exactly_the_limit(launch, mock_llm, redis_server):
    key = new_key("exact-redis")
    config = limits_config(mock_llm, tiers={"exact": {"requests_per_minute": EXACT_LIMIT}},
                           keys={"exact": (key, "exact")}, redis=redis_server)
    first, second = launch(config, "exact-a"), launch(config, "exact-b")
    responses = asyncio.run(fire_concurrently([first.url, second.url], key, EXACT_REQUESTS))
    assert_exactly_admitted(responses, EXACT_LIMIT)
    # Both instances served and refused: the limit is shared, not split.
    by_instance = {url: [r.status_code for r in responses if str(r.request.url).startswith(url)]
                   for url in (first.url, second.url)}
    assert all(len(statuses) == EXACT_REQUESTS // 2 for statuses in by_instance.values())


def test_two_workers_on_the_memory_store_admit_exactly_the_limit(launch, mock_llm):
    key = new_key("exact-memory")
    config = limits_config(mock_llm, tiers={"exact": {"requests_per_minute": EXACT_LIMIT}},
                           keys={"exact": (key, "exact")}, workers=2)
    gateway = launch(config, "exact-memory")
    responses = asyncio.run(fire_concurrently([gateway.url], key, EXACT_REQUESTS))
    assert_exactly_admitted(responses, EXACT_LIMIT)


# MARK: 5. Run-time keys through the admin API


def test_admin_key_lifecycle_and_revocation_across_instances(launch, mock_llm, redis_server):
    config = limits_config(mock_llm, tiers={"basic": {"requests_per_minute": 1000}}, redis=redis_server)
    a, b = launch(config, "admin-a"), launch(config, "admin-b")
    admin = bearer(ADMIN_KEY)
    name = f"app-{uuid.uuid4().hex[:8]}"
    with a.http() as http_a, b.http() as http_b:
        created = http_a.post("/admin/keys", headers=admin,
                              json={"name": name, "tier": "basic", "metadata": {"team": "e2e"}})
        assert created.status_code == 201, created.text
        key, key_id = created.json()["key"], created.json()["id"]
        assert key.startswith("sk-") and len(key) > 32

        # Instance B has never seen the key, and takes it from the shared store.
        with b.client(api_key=key) as sdk_b, a.client(api_key=key) as sdk_a:
            assert chat(sdk_b).choices[0].message.content
            assert chat(sdk_a).choices[0].message.content

        listing = http_b.get("/admin/keys", headers=admin)
        assert listing.status_code == 200
        assert key not in listing.text, "the list shows a plaintext key"
        entries = [entry for entry in listing.json()["data"] if entry["id"] == key_id]
        assert len(entries) == 1 and "key" not in entries[0]
        assert entries[0]["name"] == name and entries[0]["tier"] == "basic" and entries[0]["metadata"] == {"team": "e2e"}
        # Nor does the store hold it: the registry is indexed by digest.
        for store_key in redis_server.command("KEYS", "sy:*"):
            if redis_server.command("TYPE", store_key) == "hash":
                assert key not in str(redis_server.command("HGETALL", store_key))

        # A normal key may not manage keys.
        assert http_b.get("/admin/keys", headers=bearer(key)).status_code == 403

        def settled_usage() -> dict | None:
            rows = http_a.get("/admin/usage", params={"key": name}, headers=admin).json()["data"]
            return rows[0] if rows and rows[0]["requests"] >= 2 else None
        usage = wait_until(settled_usage, "usage of both requests at /admin/usage")
        assert usage["id"] == key_id and usage["source"] == "runtime"
        assert usage["requests"] == 2 and usage["completion_tokens"] > 0
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        own = http_b.get("/admin/usage", headers=bearer(key)).json()["data"]
        assert [row["id"] for row in own] == [key_id]

        # B has the key cached now; revoking it on A must reach B at once (pub/sub), not when
        # B's cache entry lapses.
        revoked = http_a.delete(f"/admin/keys/{key_id}", headers=admin)
        assert revoked.status_code == 200 and revoked.json()["deleted"] is True
        for gateway in (b, a):
            with gateway.client(api_key=key) as sdk:
                with pytest.raises(openai.AuthenticationError) as caught:
                    chat(sdk)
            assert caught.value.code == "invalid_api_key"
        assert key_id not in http_b.get("/admin/keys", headers=admin).text


# MARK: 6. Usage of a stream cut short


@pytest.mark.parametrize("model", ["cut-truncate", "cut-reset"])
def test_usage_of_a_stream_cut_short_is_recorded(launch, mock_llm, store, model):
    key = new_key("cut")
    gateway = launch(limits_config(mock_llm, tiers={"metered": {"requests_per_minute": 100, "daily_tokens": 100000}},
                                   keys={"cut": (key, "metered")}, redis=store))
    received = []
    with gateway.client(api_key=key) as sdk:
        with pytest.raises(openai.APIError):
            for chunk in sdk.chat.completions.create(model=model, messages=MESSAGES, stream=True):
                received.append(chunk)
    assert received, "the stream started before it was cut"

    usage = wait_until(lambda: (row := usage_of(gateway, key))["requests"] >= 1 and row, "usage of the cut stream")
    assert usage["requests"] == 1
    assert usage["completion_tokens"] > 0
    assert usage["prompt_tokens"] > 0


# MARK: 7. Anonymous callers


@pytest.mark.parametrize("stages", [("auth", "rate_limit"), ("rate_limit",)], ids=["auth-not-required", "no-auth-stage"])
def test_anonymous_callers_are_limited_per_address(launch, mock_llm, stages):
    limit = 7
    # Without the auth stage every caller is anonymous, of the tier `auth.anonymous_tier` names
    # (default: free); with it, only callers that send no key are.
    config = limits_config(mock_llm, tiers={"free": {"requests_per_minute": limit}},
                           auth={"required": False, "anonymous_tier": "free"}, stages=stages)
    gateway = launch(config, "anon")
    responses = asyncio.run(fire_concurrently([gateway.url], None, 20))
    assert_exactly_admitted(responses, limit)
    if "auth" in stages:
        with gateway.http() as http:
            wrong = post_chat(http, "sk-not-a-key")
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"


# MARK: 8. Load shedding


def test_overload_sheds_lower_tier_and_serves_unlimited_tier(launch, mock_llm):
    free_key, enterprise_key = new_key("free"), new_key("enterprise")
    tiers = {"free": {"requests_per_minute": 1000, "shed_factor": 1.0}, "enterprise": {"unlimited": True}}
    gateway = launch(limits_config(mock_llm, tiers=tiers, rate_limit={"overload": {"in_flight": 2}},
                                   keys={"free": (free_key, "free"), "enterprise": (enterprise_key, "enterprise")}))
    with gateway.client(api_key=free_key) as free, gateway.client(api_key=enterprise_key) as enterprise:
        assert chat(free).choices, "below the watermark every tier is served"
        with stream_in_flight(gateway, enterprise_key), stream_in_flight(gateway, enterprise_key):
            with pytest.raises(openai.InternalServerError) as caught:
                chat(free)
            error = caught.value
            assert error.status_code == 503 and error.code == "server_overloaded"
            assert error.response.headers["x-switchyard-error-source"] == "gateway"
            assert int(error.response.headers["retry-after"]) >= 1
            assert chat(enterprise).choices[0].message.content, "the unlimited tier is never shed"

        def served() -> bool:
            try:
                return bool(chat(free).choices)
            except openai.InternalServerError:
                return False
        wait_until(served, "free tier served again once the streams ended")
