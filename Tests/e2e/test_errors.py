"""Every error class an app can meet through Switchyard, raised by the official SDK as it
would be against OpenAI itself: the body is OpenAI-shaped, the status picks the exception
class, and `x-switchyard-error-source` tells the gateway's own refusals from the provider's.
A stream that breaks after it started must surface as `openai.APIError` while iterating."""

from __future__ import annotations

import json
from typing import Iterator

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletion

from conftest import CLIENT_KEY, ClosedPort, Gateway, RawConnection, gateway_config

MESSAGES = [{"role": "user", "content": "hi"}]
# Refusals that are the caller's fault or the gateway's decision, never the provider's.
NOT_PROVIDER = ("client", "gateway")


def source_of(error: openai.APIStatusError) -> str:
    return error.response.headers.get("x-switchyard-error-source", "")


def assert_openai_error_body(response: httpx.Response) -> dict:
    """The body is `{"error": {message, type, param, code}}` and nothing else."""
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert {"message", "type", "param", "code"} <= set(error)
    assert isinstance(error["message"], str) and error["message"]
    return error


# MARK: 400


def test_missing_messages_is_bad_request(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.post("/chat/completions", body={"model": "mock-gpt"}, cast_to=ChatCompletion)
    error = caught.value
    assert error.status_code == 400
    assert error.param == "messages"
    assert error.code == "missing_required_parameter"
    assert source_of(error) in NOT_PROVIDER


@pytest.mark.parametrize("path,body,param", [
    ("/completions", {"model": "mock-gpt"}, "prompt"),
    ("/embeddings", {"model": "mock-embedding"}, "input"),
    ("/chat/completions", {"messages": MESSAGES}, "model"),
])
def test_other_missing_parameters_are_bad_request(client, path, body, param):
    with pytest.raises(openai.BadRequestError) as caught:
        client.post(path, body=body, cast_to=object)
    assert caught.value.param == param


def test_model_not_a_string_is_bad_request(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=123, messages=MESSAGES)  # type: ignore[arg-type]
    assert caught.value.param == "model"
    assert source_of(caught.value) in NOT_PROVIDER


@pytest.mark.parametrize("payload", [b"{bad", b"", b"[1,2]", b'{"model": "mock-gpt", "messages": [}'])
def test_malformed_json_is_bad_request(http, payload):
    response = http.post("/v1/chat/completions", content=payload, headers={"content-type": "application/json"})
    assert response.status_code == 400
    error = assert_openai_error_body(response)
    assert error["type"] == "invalid_request_error"
    assert response.headers["x-switchyard-error-source"] in NOT_PROVIDER
    assert response.headers["x-request-id"]


# MARK: 404


@pytest.mark.parametrize("call", ["chat", "completions", "embeddings"])
def test_unknown_model_alias_is_not_found(client, call):
    with pytest.raises(openai.NotFoundError) as caught:
        if call == "chat":
            client.chat.completions.create(model="no-such-model", messages=MESSAGES)
        elif call == "completions":
            client.completions.create(model="no-such-model", prompt="x")
        else:
            client.embeddings.create(model="no-such-model", input="x")
    error = caught.value
    assert error.status_code == 404
    assert error.code == "model_not_found"
    assert error.param == "model"
    assert "no-such-model" in error.message
    assert source_of(error) == "gateway"


def test_unknown_provider_prefix_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="nowhere/mock-gpt", messages=MESSAGES)
    assert caught.value.code == "model_not_found"


def test_models_retrieve_unknown_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("no-such-model")
    assert caught.value.code == "model_not_found"


def test_unknown_route_is_not_found(http, client):
    response = http.get("/v1/nope")
    assert response.status_code == 404
    assert_openai_error_body(response)
    assert response.headers["x-switchyard-error-source"] in NOT_PROVIDER
    with pytest.raises(openai.NotFoundError):
        client.get("/nope", cast_to=object)


# MARK: 405


def test_get_on_chat_completions_is_method_not_allowed(http, client):
    response = http.get("/v1/chat/completions")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert_openai_error_body(response)
    with pytest.raises(openai.APIStatusError) as caught:
        client.get("/chat/completions", cast_to=object)
    assert caught.value.status_code == 405


# MARK: provider errors relayed


@pytest.mark.parametrize("provider", ["mock", "local"])
def test_provider_429_is_rate_limit_error_with_retry_after(client, provider):
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model=f"{provider}/mock-gpt+status=429+retry_after=2", messages=MESSAGES)
    error = caught.value
    assert error.status_code == 429
    assert error.code == "rate_limit_exceeded"
    assert error.response.headers["retry-after"] == "2"
    assert source_of(error) == "provider"
    assert error.response.headers["x-switchyard-provider"] == provider


@pytest.mark.parametrize("provider", ["mock", "local"])
@pytest.mark.parametrize("status,exception", [
    (400, openai.BadRequestError), (404, openai.NotFoundError), (422, openai.UnprocessableEntityError),
    (500, openai.InternalServerError), (503, openai.InternalServerError)])
def test_provider_error_status_maps_to_sdk_class(client, provider, status, exception):
    with pytest.raises(exception) as caught:
        client.chat.completions.create(model=f"{provider}/mock-gpt+status={status}", messages=MESSAGES)
    assert caught.value.status_code == status
    assert source_of(caught.value) == "provider"
    assert isinstance(caught.value.body, dict) and caught.value.body.get("message")


def test_provider_503_relays_retry_after(client):
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="local/mock-gpt+status=503+retry_after=3", messages=MESSAGES)
    assert caught.value.response.headers["retry-after"] == "3"


def test_provider_error_on_stream_request_raises_before_iterating(client):
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="local/mock-gpt+status=429", messages=MESSAGES, stream=True)


# MARK: unreachable and slow providers


@pytest.mark.parametrize("stream", [False, True])
def test_unreachable_provider_is_502_from_gateway(client, stream):
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="dead-gpt", messages=MESSAGES, stream=stream)
    error = caught.value
    assert error.status_code == 502
    assert source_of(error) == "gateway"
    assert error.response.headers["x-request-id"]


def test_provider_first_byte_timeout_is_504_from_gateway(client):
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="slow-gpt", messages=MESSAGES)
    assert caught.value.status_code == 504
    assert source_of(caught.value) == "gateway"


def test_unreachable_gateway_is_api_connection_error(closed_port: ClosedPort):
    with openai.OpenAI(base_url=f"http://127.0.0.1:{closed_port.port}/v1", api_key=CLIENT_KEY, max_retries=0) as sdk:
        with pytest.raises(openai.APIConnectionError):
            sdk.chat.completions.create(model="mock-gpt", messages=MESSAGES)


def test_client_timeout_is_api_timeout_error(gateway, client):
    with gateway.client(timeout=0.3) as sdk:
        with pytest.raises(openai.APITimeoutError):
            sdk.chat.completions.create(model="local/mock-gpt+latency=2000", messages=MESSAGES)
    # The abandoned request must not hurt the next one.
    assert client.chat.completions.create(model="remote-gpt", messages=MESSAGES).choices


# MARK: streams that break after they started
#
# A failed stream ends with a data: {"error": …} event and a clean last-chunk, so its
# keep-alive connection stays usable (see the test at the end of this section).


@pytest.mark.parametrize("provider", ["mock", "local"])
@pytest.mark.parametrize("fault", ["reset=3", "truncate=3"])
def test_broken_stream_raises_api_error_while_iterating(gateway, provider, fault):
    received = []
    with gateway.client() as sdk:
        stream = sdk.chat.completions.create(model=f"{provider}/mock-gpt+{fault}", messages=MESSAGES, stream=True)
        with pytest.raises(openai.APIError) as caught:
            for chunk in stream:
                received.append(chunk)
    assert 1 <= len(received) <= 3
    assert caught.value.message
    assert not isinstance(caught.value, openai.APIStatusError)


@pytest.mark.parametrize("fault", ["reset=3", "truncate=3"])
def test_broken_stream_ends_with_error_event_and_no_done(gateway, fault):
    body = {"model": f"local/mock-gpt+{fault}", "messages": MESSAGES, "stream": True}
    with gateway.http() as http, http.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        events = [line[len("data: "):] for line in response.iter_lines() if line.startswith("data: ")]
    assert "[DONE]" not in events
    last = json.loads(events[-1])
    assert set(last) == {"error"}
    assert last["error"]["message"]
    assert last["error"]["code"] == "stream_interrupted"


def test_total_timeout_mid_stream_raises_api_error(gateway):
    # 40 tokens 50 ms apart outlast the `short` provider's 600 ms total timeout.
    received = []
    with gateway.client() as sdk:
        stream = sdk.chat.completions.create(model="short/mock-gpt+interval=50+tokens=40", messages=MESSAGES, stream=True)
        with pytest.raises(openai.APIError) as caught:
            for chunk in stream:
                received.append(chunk)
    assert 1 <= len(received) < 40
    assert not isinstance(caught.value, openai.APIStatusError)


def test_gateway_serves_on_after_broken_streams(gateway, client):
    for fault in ["reset=2", "truncate=2"]:
        with gateway.client() as sdk, pytest.raises(openai.APIError):
            list(sdk.chat.completions.create(model=f"local/mock-gpt+{fault}", messages=MESSAGES, stream=True))
    assert client.chat.completions.create(model="remote-gpt", messages=MESSAGES).choices
    assert list(client.chat.completions.create(model="remote-gpt", messages=MESSAGES, stream=True))


@pytest.mark.parametrize("fault", ["reset=2", "truncate=2"])
def test_keep_alive_connection_survives_failed_stream(gateway, fault):
    connection = RawConnection(gateway.port)
    try:
        status, _, body = connection.request("POST", "/v1/chat/completions", {
            "model": f"local/mock-gpt+{fault}", "messages": MESSAGES, "stream": True})
        assert status == 200 and b"stream_interrupted" in body
        status, _, _ = connection.request("GET", "/v1/models")
        assert status == 200
    finally:
        connection.close()


# MARK: 413


@pytest.fixture(scope="module")
def small_body_gateway(start_gateway, mock_llm) -> Iterator[Gateway]:
    config = gateway_config({"mock": {"type": "mock"}}, {"mock-gpt": [{"provider": "mock", "model": "mock-gpt"}]},
                            max_body="2KiB")
    gateway = start_gateway(config, name="small-body")
    yield gateway
    gateway.process.kill()


def test_body_over_max_body_is_413(small_body_gateway):
    with small_body_gateway.client() as sdk:
        assert sdk.chat.completions.create(model="mock-gpt", messages=MESSAGES).choices
        with pytest.raises(openai.APIStatusError) as caught:
            sdk.chat.completions.create(model="mock-gpt", messages=[{"role": "user", "content": "x" * 8192}])
    assert caught.value.status_code == 413
    assert source_of(caught.value) in NOT_PROVIDER


def test_body_over_max_body_is_413_via_httpx(small_body_gateway):
    with small_body_gateway.http() as http:
        response = http.post("/v1/chat/completions",
                             json={"model": "mock-gpt", "messages": [{"role": "user", "content": "y" * 4096}]})
        assert response.status_code == 413
        assert_openai_error_body(response)
    with small_body_gateway.http() as http:
        assert http.post("/v1/chat/completions", json={"model": "mock-gpt", "messages": MESSAGES}).status_code == 200
