"""The official `openai` SDK against Switchyard: every endpoint an app uses, sync and async,
streamed and not, through the in-process `mock` provider and the openai-type provider that
proxies to mock-llm. What must hold is that the SDK parses every answer unchanged and that
the gateway's own headers ride along."""

from __future__ import annotations

import asyncio
import base64
import math
import struct

import pytest

from conftest import STANDARD_MODELS

CHAT_ALIASES = ["mock-gpt", "remote-gpt"]
EMBEDDING_ALIASES = ["mock-embedding", "remote-embedding"]
PROVIDER_OF = {alias: deployments[0]["provider"] for alias, deployments in STANDARD_MODELS.items()}
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello to the e2e suite."}]


def assert_usage_adds_up(usage) -> None:
    assert usage is not None
    assert usage.prompt_tokens > 0
    assert usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


# MARK: models


def test_models_list_equals_configured_aliases(client, gateway):
    listed = [model.id for model in client.models.list()]
    assert sorted(listed) == sorted(gateway.config["models"])
    assert len(listed) == len(set(listed))


@pytest.mark.parametrize("alias", sorted(STANDARD_MODELS))
def test_models_retrieve(client, alias):
    model = client.models.retrieve(alias)
    assert model.id == alias
    assert model.object == "model"
    assert isinstance(model.owned_by, str)


# MARK: chat completions, sync


@pytest.mark.parametrize("alias", CHAT_ALIASES)
def test_chat_completion(client, alias):
    completion = client.chat.completions.create(model=alias, messages=MESSAGES)
    assert completion.object == "chat.completion"
    assert completion.id
    assert completion.model == "mock-gpt"
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str) and choice.message.content
    assert choice.finish_reason == "stop"
    assert_usage_adds_up(completion.usage)


@pytest.mark.parametrize("alias", CHAT_ALIASES)
def test_chat_completion_max_tokens_cuts_with_length(client, alias):
    completion = client.chat.completions.create(model=alias, messages=MESSAGES, max_tokens=3)
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 3


@pytest.mark.parametrize("alias", CHAT_ALIASES)
def test_chat_stream_with_include_usage_ends_with_usage_chunk(client, alias):
    stream = client.chat.completions.create(
        model=alias, messages=MESSAGES, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert len(chunks) >= 3
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert len({chunk.id for chunk in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    # The final chunk carries usage and no choices; every other chunk has usage null.
    final = chunks[-1]
    assert final.choices == []
    assert_usage_adds_up(final.usage)
    assert all(chunk.usage is None for chunk in chunks[:-1])
    finishes = [c.choices[0].finish_reason for c in chunks[:-1] if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    text = "".join(c.choices[0].delta.content or "" for c in chunks[:-1] if c.choices)
    assert text.strip()
    assert final.usage.completion_tokens == sum(1 for c in chunks[:-1] if c.choices and c.choices[0].delta.content)


@pytest.mark.parametrize("alias", CHAT_ALIASES)
def test_chat_stream_without_usage(client, alias):
    with client.chat.completions.create(model=alias, messages=MESSAGES, stream=True) as stream:
        chunks = list(stream)
    assert chunks and all(chunk.usage is None for chunk in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


# MARK: chat completions, async


@pytest.mark.parametrize("alias", CHAT_ALIASES)
def test_async_chat_completion_and_stream(gateway, alias):
    async def scenario():
        async with gateway.async_client() as sdk:
            plain, streamed = await asyncio.gather(
                sdk.chat.completions.create(model=alias, messages=MESSAGES),
                collect(await sdk.chat.completions.create(
                    model=alias, messages=MESSAGES, stream=True, stream_options={"include_usage": True})))
            return plain, streamed

    async def collect(stream):
        return [chunk async for chunk in stream]

    plain, chunks = asyncio.run(scenario())
    assert plain.choices[0].message.content
    assert_usage_adds_up(plain.usage)
    assert chunks[-1].choices == []
    assert_usage_adds_up(chunks[-1].usage)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip()


def test_async_concurrent_requests_both_providers(gateway):
    async def scenario():
        async with gateway.async_client() as sdk:
            calls = [sdk.chat.completions.create(model=alias, messages=[{"role": "user", "content": f"n{i}"}])
                     for i in range(4) for alias in CHAT_ALIASES]
            return await asyncio.gather(*calls)

    results = asyncio.run(scenario())
    assert len(results) == 8
    assert all(r.choices[0].message.content for r in results)


def test_async_concurrent_streams_both_providers(gateway):
    async def collect(sdk, alias, i):
        stream = await sdk.chat.completions.create(
            model=alias, messages=[{"role": "user", "content": f"stream {i}"}], stream=True)
        return [chunk async for chunk in stream]

    async def scenario():
        async with gateway.async_client() as sdk:
            return await asyncio.gather(*[collect(sdk, CHAT_ALIASES[i % 2], i) for i in range(20)])

    for chunks in asyncio.run(scenario()):
        assert chunks[-1].choices[0].finish_reason == "stop"
        assert len({chunk.id for chunk in chunks}) == 1


@pytest.mark.parametrize("provider", ["mock", "local"])
def test_long_stream_arrives_whole(client, provider):
    chunks = list(client.chat.completions.create(
        model=f"{provider}/mock-gpt+tokens=1000", messages=MESSAGES, stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].usage.completion_tokens == 1000
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) == 1000


# MARK: legacy completions


@pytest.mark.parametrize("alias", CHAT_ALIASES)
def test_legacy_completion(client, alias):
    completion = client.completions.create(model=alias, prompt="Once upon a time", max_tokens=5)
    assert completion.object == "text_completion"
    assert completion.choices[0].text
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 5
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + 5


@pytest.mark.parametrize("alias", CHAT_ALIASES)
def test_legacy_completion_stream(client, alias):
    chunks = list(client.completions.create(model=alias, prompt="Once upon a time", stream=True))
    assert chunks
    assert "".join(c.choices[0].text for c in chunks if c.choices).strip()
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]


# MARK: embeddings


@pytest.mark.parametrize("alias", EMBEDDING_ALIASES)
def test_embeddings_default_base64_path(client, alias):
    # The SDK asks for base64 when no format is given and decodes it back to floats.
    result = client.embeddings.create(model=alias, input="the quick brown fox")
    assert result.object == "list"
    assert len(result.data) == 1
    vector = result.data[0].embedding
    assert len(vector) == 1536
    assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, rel_tol=1e-3)
    assert result.usage.prompt_tokens > 0


@pytest.mark.parametrize("alias", EMBEDDING_ALIASES)
def test_embeddings_float_matches_base64(client, alias):
    text = "switchyard routes requests"
    as_float = client.embeddings.create(model=alias, input=text, encoding_format="float").data[0].embedding
    as_base64 = client.embeddings.create(model=alias, input=text).data[0].embedding
    assert len(as_float) == len(as_base64) == 1536
    assert all(math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6) for a, b in zip(as_float, as_base64))


def floats(embedding) -> list[float]:
    """An embedding as floats: asked-for base64 comes back undecoded (little-endian float32)."""
    if isinstance(embedding, str):
        raw = base64.b64decode(embedding)
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    return list(embedding)


@pytest.mark.parametrize("alias", EMBEDDING_ALIASES)
@pytest.mark.parametrize("encoding", ["float", "base64"])
def test_embeddings_dimensions_and_batch(client, alias, encoding):
    inputs = ["alpha", "beta", "gamma"]
    result = client.embeddings.create(model=alias, input=inputs, dimensions=64, encoding_format=encoding)
    assert [d.index for d in result.data] == [0, 1, 2]
    vectors = [floats(d.embedding) for d in result.data]
    assert all(len(v) == 64 for v in vectors)
    assert all(math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-3) for v in vectors)
    assert vectors[0] != vectors[1]


# MARK: pass-through and headers


@pytest.mark.parametrize("alias", CHAT_ALIASES)
def test_unknown_and_extra_fields_pass_through(client, alias):
    completion = client.chat.completions.create(
        model=alias, messages=MESSAGES, temperature=0.2, top_p=0.9, user="e2e", n=1,
        extra_body={"seed": 1, "response_format": {"type": "json_object"}, "x_vendor_field": {"nested": [1, 2]}})
    assert completion.choices[0].message is not None


@pytest.mark.parametrize("alias", CHAT_ALIASES)
def test_tools_pass_through(client, alias):
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    completion = client.chat.completions.create(model=alias, messages=MESSAGES, tools=tools, tool_choice="auto")
    choice = completion.choices[0]
    assert choice.message.content or choice.message.tool_calls


@pytest.mark.parametrize("alias", CHAT_ALIASES)
def test_request_id_is_echoed_and_gateway_headers_present(client, alias):
    raw = client.chat.completions.with_raw_response.create(
        model=alias, messages=MESSAGES, extra_headers={"X-Request-ID": f"e2e-{alias}-0042"})
    assert raw.status_code == 200
    assert raw.headers["x-request-id"] == f"e2e-{alias}-0042"
    assert raw.headers["x-switchyard-provider"] == PROVIDER_OF[alias]
    assert raw.headers["x-switchyard-model"] == "mock-gpt"
    assert float(raw.headers["x-switchyard-overhead-ms"]) >= 0
    assert raw.parse().choices[0].message.content


@pytest.mark.parametrize("alias", CHAT_ALIASES)
def test_stream_carries_request_id_and_gateway_headers(client, alias):
    raw = client.chat.completions.with_raw_response.create(
        model=alias, messages=MESSAGES, stream=True, extra_headers={"X-Request-ID": "e2e-stream-7"})
    assert raw.headers["x-request-id"] == "e2e-stream-7"
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.headers["x-switchyard-provider"] == PROVIDER_OF[alias]
    assert "x-switchyard-overhead-ms" in raw.headers
    assert any(chunk.choices and chunk.choices[0].delta.content for chunk in raw.parse())


def test_generated_request_ids_differ(client):
    first = client.chat.completions.with_raw_response.create(model="mock-gpt", messages=MESSAGES)
    second = client.chat.completions.with_raw_response.create(model="mock-gpt", messages=MESSAGES)
    assert first.headers["x-request-id"] and second.headers["x-request-id"]
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize("alias", EMBEDDING_ALIASES)
def test_embeddings_carry_gateway_headers(client, alias):
    raw = client.embeddings.with_raw_response.create(model=alias, input="hi", extra_headers={"X-Request-ID": "emb-1"})
    assert raw.headers["x-request-id"] == "emb-1"
    assert raw.headers["x-switchyard-provider"] == PROVIDER_OF[alias]
    assert raw.headers["x-switchyard-model"] == "mock-embedding"
    assert len(raw.parse().data[0].embedding) == 1536


def test_provider_slash_model_reaches_provider_directly(client):
    raw = client.chat.completions.with_raw_response.create(model="local/mock-gpt", messages=MESSAGES)
    assert raw.headers["x-switchyard-provider"] == "local"
    assert raw.headers["x-switchyard-model"] == "mock-gpt"
    assert raw.parse().choices[0].message.content


@pytest.mark.parametrize("alias", CHAT_ALIASES)
def test_unicode_round_trips(client, alias):
    # The mock echoes the first words of the last user message, so multi-byte text and JSON
    # escapes must cross the gateway intact both ways.
    text = "héllo \"世界\" 🚀\\"
    completion = client.chat.completions.create(model=alias, messages=[{"role": "user", "content": text}])
    assert text in completion.choices[0].message.content
    streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model=alias, messages=[{"role": "user", "content": text}], stream=True) if c.choices)
    assert text in streamed


def test_unacceptable_request_id_is_replaced(client):
    raw = client.chat.completions.with_raw_response.create(
        model="mock-gpt", messages=MESSAGES, extra_headers={"X-Request-ID": "has spaces in it"})
    assert raw.headers["x-request-id"] and raw.headers["x-request-id"] != "has spaces in it"


@pytest.mark.parametrize("alias", CHAT_ALIASES)
def test_query_string_is_tolerated(client, alias):
    completion = client.chat.completions.create(model=alias, messages=MESSAGES, extra_query={"api-version": "2024-06-01"})
    assert completion.choices[0].message.content


@pytest.mark.parametrize("alias", EMBEDDING_ALIASES)
def test_embeddings_token_array_input(client, alias):
    result = client.embeddings.create(model=alias, input=[[1, 2, 3], [4, 5]], encoding_format="float", dimensions=8)
    assert [len(d.embedding) for d in result.data] == [8, 8]


@pytest.mark.parametrize("path", ["/health", "/ready"])
def test_health_and_ready(http, path):
    response = http.get(path)
    assert response.status_code == 200
    assert response.json()["status"] in ("ok", "ready")
    head = http.head(path)
    assert head.status_code == 200 and head.content == b""
