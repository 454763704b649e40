"""The gateway as an operator runs it: SIGHUP reloads without dropping connections and refuses
a bad file, SIGTERM drains streams in flight and exits 0, `check-config` validates and masks,
and the provider key never leaks to a client or the log. Each test that signals a gateway
starts its own, so the shared one stays untouched."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import httpx
import openai
import pytest

from conftest import (PROVIDER_SECRET, STANDARD_MODELS, Gateway, RawConnection, deployment, gateway_config,
                      gateway_env, standard_providers)

MESSAGES = [{"role": "user", "content": "hi"}]
SLOW_STREAM = "+interval=50+tokens=10"
# Still running when the SIGTERM test looks (1.5 s): with 0.5 s, a loaded CI machine once took
# that long between the first event and the check, and the gateway had rightly exited.
DRAINED_STREAM = "+interval=50+tokens=30"


def model_ids(raw_body: bytes) -> list[str]:
    return sorted(entry["id"] for entry in json.loads(raw_body)["data"])


@pytest.fixture
def own_gateway(start_gateway, mock_llm, closed_port) -> Iterator[Gateway]:
    """A gateway for one test only: it may be reloaded or stopped."""
    gateway = start_gateway(gateway_config(standard_providers(mock_llm, closed_port), STANDARD_MODELS), name="own")
    yield gateway
    gateway.process.kill()


def with_model(config: dict, alias: str, *deployments: dict) -> dict:
    fresh = json.loads(json.dumps(config))
    fresh["models"][alias] = {"deployments": list(deployments)}
    return fresh


# MARK: SIGHUP


def test_sighup_adds_model_without_dropping_keep_alive(own_gateway):
    connection = RawConnection(own_gateway.port)
    try:
        status, _, body = connection.request("GET", "/v1/models")
        assert status == 200
        assert "added-gpt" not in model_ids(body)

        line = own_gateway.reload(with_model(own_gateway.config, "added-gpt", deployment("local", "mock-gpt")))
        assert line["msg"] == "configuration reloaded"

        # The same socket, not a new one: the reload kept the connection.
        status, _, body = connection.request("GET", "/v1/models")
        assert status == 200
        assert model_ids(body) == sorted([*STANDARD_MODELS, "added-gpt"])
        status, headers, body = connection.request("POST", "/v1/chat/completions",
                                                   {"model": "added-gpt", "messages": MESSAGES})
        assert status == 200, body
        assert headers["x-switchyard-provider"] == "local"
    finally:
        connection.close()
    with own_gateway.client() as sdk:
        assert sorted(m.id for m in sdk.models.list()) == sorted([*STANDARD_MODELS, "added-gpt"])
        assert sdk.models.retrieve("added-gpt").id == "added-gpt"


def test_sighup_during_stream_lets_it_finish(own_gateway):
    body = {"model": f"local/mock-gpt{SLOW_STREAM}", "messages": MESSAGES, "stream": True}
    with own_gateway.http() as http, http.stream("POST", "/v1/chat/completions", json=body) as response:
        lines = response.iter_lines()
        first = next(line for line in lines if line.startswith("data: "))
        own_gateway.reload(with_model(own_gateway.config, "added-gpt", deployment("mock", "mock-gpt")))
        events = [first] + [line for line in lines if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    assert len(events) == 13  # role chunk, 10 tokens, finish chunk, [DONE]


def test_sighup_removes_model(own_gateway):
    config = json.loads(json.dumps(own_gateway.config))
    del config["models"]["remote-gpt"]
    own_gateway.reload(config)
    with own_gateway.client() as sdk:
        with pytest.raises(openai.NotFoundError):
            sdk.chat.completions.create(model="remote-gpt", messages=MESSAGES)
        assert "remote-gpt" not in [m.id for m in sdk.models.list()]


def test_sighup_applies_new_max_body(own_gateway):
    big = {"model": "mock-gpt", "messages": [{"role": "user", "content": "z" * 4096}]}
    with own_gateway.http() as http:
        assert http.post("/v1/chat/completions", json=big).status_code == 200
    config = json.loads(json.dumps(own_gateway.config))
    config["server"]["max_body"] = "1KiB"
    own_gateway.reload(config)
    with own_gateway.http() as http:
        assert http.post("/v1/chat/completions", json=big).status_code == 413
        assert http.post("/v1/chat/completions", json={"model": "mock-gpt", "messages": MESSAGES}).status_code == 200


def test_sighup_keeps_listen_address_that_needs_restart(own_gateway):
    config = json.loads(json.dumps(own_gateway.config))
    config["server"]["listen"] = "127.0.0.1:1"
    config["models"]["after-listen"] = {"deployments": [deployment("mock", "mock-gpt")]}
    since = own_gateway.process.mark()
    assert own_gateway.reload(config)["msg"] == "configuration reloaded"
    warning = own_gateway.process.wait_for_json(lambda o: o.get("level") == "warning", since=since)
    assert "restart" in warning["msg"]
    with own_gateway.client() as sdk:
        assert "after-listen" in [m.id for m in sdk.models.list()]


@pytest.mark.parametrize("bad", [
    "models: [unclosed\n",
    json.dumps({"models": {"x": {"deployments": [{"provider": "no-such-provider", "model": "m"}]}}}),
    json.dumps({"server": {"listen": "127.0.0.1:0", "max_body": "lots"}}),
])
def test_bad_reload_is_refused_and_old_config_keeps_serving(own_gateway, bad):
    good = own_gateway.config
    line = own_gateway.reload(bad)
    assert line["level"] == "error"
    assert "refused" in line["msg"]
    with own_gateway.client() as sdk:
        assert sorted(m.id for m in sdk.models.list()) == sorted(STANDARD_MODELS)
        assert sdk.chat.completions.create(model="remote-gpt", messages=MESSAGES).choices
        assert sdk.chat.completions.create(model="mock-gpt", messages=MESSAGES).choices
    # A good file after the bad one is taken again.
    assert own_gateway.reload(with_model(good, "after-bad", deployment("mock", "mock-gpt")))["msg"] == \
        "configuration reloaded"
    with own_gateway.client() as sdk:
        assert "after-bad" in [m.id for m in sdk.models.list()]


# MARK: SIGTERM


@pytest.mark.parametrize("provider", ["local", "mock"])
def test_sigterm_drains_slow_stream_and_exits_zero(own_gateway, provider):
    process = own_gateway.process
    body = {"model": f"{provider}/mock-gpt{DRAINED_STREAM}", "messages": MESSAGES, "stream": True}
    idle = RawConnection(own_gateway.port)
    try:
        with own_gateway.http() as http, http.stream("POST", "/v1/chat/completions", json=body) as response:
            assert response.status_code == 200
            lines = response.iter_lines()
            first = next(line for line in lines if line.startswith("data: "))
            assert idle.request("GET", "/health")[0] == 200
            since = process.mark()
            process.send_signal(signal.SIGTERM)
            # The drain closes idle keep-alive connections at once: that EOF says draining began
            # (log lines are flushed only after the drain, so they cannot tell).
            assert idle.sock.recv(1) == b""
            # Draining: the listener is closed while the stream still runs.
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"{own_gateway.url}/health", timeout=2)
            assert process.proc.poll() is None
            events = [first] + [line for line in lines if line.startswith("data: ")]
    finally:
        idle.close()
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e[len("data: "):]) for e in events[:-1]]
    assert not any("error" in c for c in chunks)
    assert sum(1 for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")) == 30
    assert process.wait_exit() == 0
    process.wait_for_json(lambda o: o.get("msg") == "shutting down", since=since)
    process.wait_for_json(lambda o: o.get("msg") == "stopped", since=since)
    access = process.wait_for_json(lambda o: o.get("msg") == "request" and o.get("stream") is True, since=since)
    assert access["status"] == 200 and "stream_error" not in access


def test_shutdown_is_logged_while_draining(own_gateway):
    process = own_gateway.process
    body = {"model": "local/mock-gpt+interval=50+tokens=40", "messages": MESSAGES, "stream": True}
    idle = RawConnection(own_gateway.port)
    try:
        with own_gateway.http() as http, http.stream("POST", "/v1/chat/completions", json=body) as response:
            lines = response.iter_lines()  # held: closing this iterator would disconnect the stream
            next(line for line in lines if line.startswith("data: "))
            assert idle.request("GET", "/health")[0] == 200
            since = process.mark()
            process.send_signal(signal.SIGTERM)
            assert idle.sock.recv(1) == b""  # the drain has begun
            # The stream has about 2 s to go; the line is due within the 200 ms flush period.
            process.wait_for_json(lambda o: o.get("msg") == "shutting down", since=since, timeout=1.0)
    finally:
        idle.close()


def test_sigterm_with_idle_keep_alive_connection_exits_promptly(own_gateway):
    # An SDK keeps idle pooled connections open; they must not hold shutdown for drain_timeout (10 s).
    connection = RawConnection(own_gateway.port)
    try:
        assert connection.request("GET", "/v1/models")[0] == 200
        started = time.monotonic()
        own_gateway.process.send_signal(signal.SIGTERM)
        assert own_gateway.process.wait_exit(timeout=15) == 0
        assert time.monotonic() - started < 5
    finally:
        connection.close()


# MARK: process


def test_serve_runs_with_a_deeper_malloc_thread_cache(gateway, client):
    """`serve` re-executes itself once with glibc's tcache deepened (MallocTuning): the process
    the test started is the one serving, its environment carries the tunable, and it answers."""
    environ = Path(f"/proc/{gateway.process.proc.pid}/environ").read_bytes().split(b"\0")
    tunables = [entry for entry in environ if entry.startswith(b"GLIBC_TUNABLES=")]
    assert tunables and b"glibc.malloc.tcache_count=64" in tunables[0]
    assert client.chat.completions.create(model="remote-gpt", messages=MESSAGES).choices


# MARK: access log


def test_access_log_line_per_request(gateway, client):
    since = gateway.process.mark()
    client.chat.completions.create(model="remote-gpt", messages=MESSAGES, extra_headers={"X-Request-ID": "log-e2e-1"})
    line = gateway.process.wait_for_json(lambda o: o.get("request_id") == "log-e2e-1", since=since)
    assert line["logger"] == "access"
    assert line["status"] == 200
    assert line["method"] == "POST" and line["path"] == "/v1/chat/completions"
    assert line["model"] == "remote-gpt" and line["provider"] == "local"
    assert not line.get("stream", False)


def test_client_disconnect_mid_stream_is_logged_and_cancelled(gateway, client):
    since = gateway.process.mark()
    body = {"model": "local/mock-gpt+interval=50+tokens=200", "messages": MESSAGES, "stream": True}
    with gateway.http() as http, http.stream("POST", "/v1/chat/completions", json=body,
                                             headers={"X-Request-ID": "log-e2e-gone"}) as response:
        next(line for line in response.iter_lines() if line.startswith("data: "))
        # Leaving the block closes the connection mid-stream.
    # The stream would run 10 s; the log line comes as soon as the gateway sees the client gone.
    line = gateway.process.wait_for_json(lambda o: o.get("request_id") == "log-e2e-gone", since=since, timeout=5)
    assert line["stream_error"] == "client_disconnected"
    assert client.chat.completions.create(model="remote-gpt", messages=MESSAGES).choices


# MARK: check-config


def check_config(switchyard_bin: Path, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(switchyard_bin), "check-config", "--config", str(path)], capture_output=True,
                          text=True, timeout=15, env=gateway_env(), stdin=subprocess.DEVNULL)


def test_check_config_accepts_good_file_and_masks_secret(switchyard_bin, workdir, mock_llm, closed_port):
    path = workdir / "check-good.yaml"
    path.write_text(json.dumps(gateway_config(standard_providers(mock_llm, closed_port), STANDARD_MODELS)))
    result = check_config(switchyard_bin, path)
    assert result.returncode == 0, result.stderr
    assert "providers:" in result.stdout and "remote-gpt" in result.stdout
    assert PROVIDER_SECRET not in result.stdout + result.stderr
    assert "abcdef123456" not in result.stdout + result.stderr


def test_check_config_masks_secret_from_environment(switchyard_bin, workdir):
    path = workdir / "check-env.yaml"
    path.write_text('providers:\n  up: {type: openai, base_url: "http://127.0.0.1:9/v1", api_key: "${E2E_UP_KEY}"}\n'
                    'models:\n  m: {deployments: [{provider: up, model: x}]}\n')
    env = {**gateway_env(), "E2E_UP_KEY": PROVIDER_SECRET}
    result = subprocess.run([str(switchyard_bin), "check-config", "--config", str(path)], capture_output=True,
                            text=True, timeout=15, env=env, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert "up:" in result.stdout
    assert PROVIDER_SECRET not in result.stdout + result.stderr


@pytest.mark.parametrize("text,line,key", [
    ('server:\n  listen: "127.0.0.1:0"\n  workers: lots\n', 3, "server.workers"),
    ('models:\n  m:\n    deployments:\n      - {provider: ghost, model: x}\n', 4, "models.m.deployments"),
    ('server:\n  max_body: -5\n', 2, "server.max_body"),
])
def test_check_config_rejects_bad_file_with_location(switchyard_bin, workdir, text, line, key):
    path = workdir / f"check-bad-{line}-{key}.yaml"
    path.write_text(text)
    result = check_config(switchyard_bin, path)
    assert result.returncode == 1
    match = re.search(r"(\S+):(\d+): ([\w.\[\]-]+): (.+)", result.stderr)
    assert match, result.stderr
    assert match.group(1).endswith(path.name)
    assert int(match.group(2)) == line
    assert match.group(3).startswith(key)


def test_check_config_rejects_yaml_syntax_error(switchyard_bin, workdir):
    path = workdir / "check-syntax.yaml"
    path.write_text("models: [unclosed\n")
    result = check_config(switchyard_bin, path)
    assert result.returncode == 1
    assert path.name in result.stderr


def test_serve_with_bad_config_exits_one(switchyard_bin, workdir):
    path = workdir / "serve-bad.yaml"
    path.write_text('server:\n  workers: lots\n')
    result = subprocess.run([str(switchyard_bin), "serve", "--config", str(path)], capture_output=True, text=True,
                            timeout=15, env=gateway_env(), stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert "server.workers" in result.stderr


# MARK: the provider key stays secret


class CaptureHandler(BaseHTTPRequestHandler):
    """An upstream that records what the gateway sends it and answers one canned completion."""

    seen: list[dict[str, str]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("content-length", "0")))
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        body = json.dumps({
            "id": "chatcmpl-capture", "object": "chat.completion", "created": 0, "model": "captured",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def capture_upstream() -> Iterator[tuple[int, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    handler = type("Capture", (CaptureHandler,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_provider_key_never_leaks(start_gateway, mock_llm, closed_port, capture_upstream):
    capture_port, seen = capture_upstream
    providers = standard_providers(mock_llm, closed_port)
    providers["capture"] = {"type": "openai", "base_url": f"http://127.0.0.1:{capture_port}/v1",
                            "api_key": PROVIDER_SECRET}
    models = {**STANDARD_MODELS, "captured": [deployment("capture", "captured")]}
    gateway = start_gateway(gateway_config(providers, models), name="secret")
    exchanged: list[str] = []

    def record(response: httpx.Response) -> None:
        response.read()
        exchanged.append("\n".join(f"{k}: {v}" for k, v in response.headers.items()))
        exchanged.append(response.text)

    def exchange(method: str, path: str, body: dict | bytes | None = None) -> None:
        with httpx.Client(base_url=gateway.url, timeout=10, event_hooks={"response": [record]},
                          headers={"authorization": "Bearer sk-client-visible"}) as http:
            if isinstance(body, bytes):
                http.request(method, path, content=body)
            else:
                http.request(method, path, json=body)

    try:
        for model in ["remote-gpt", "captured", "dead-gpt", "slow-gpt", "local/mock-gpt+status=401",
                      "local/mock-gpt+status=429", "local/mock-gpt+status=500", "nope"]:
            exchange("POST", "/v1/chat/completions", {"model": model, "messages": MESSAGES})
        for model in ["remote-gpt", "local/mock-gpt+reset=2", "local/mock-gpt+truncate=2", "dead-gpt"]:
            exchange("POST", "/v1/chat/completions", {"model": model, "messages": MESSAGES, "stream": True})
        exchange("POST", "/v1/embeddings", {"model": "remote-embedding", "input": "x"})
        exchange("POST", "/v1/completions", {"model": "remote-gpt", "prompt": "x"})
        exchange("GET", "/v1/models")
        exchange("GET", "/v1/models/remote-gpt")
        exchange("POST", "/v1/chat/completions", b"{bad")
    finally:
        gateway.process.send_signal(signal.SIGTERM)
        assert gateway.process.wait_exit() == 0
    assert len(exchanged) == 2 * 17
    # The upstream got the provider key, not the client's.
    assert seen and seen[0]["authorization"] == f"Bearer {PROVIDER_SECRET}"
    assert all("sk-client-visible" not in json.dumps(headers) for headers in seen)
    for text in [*exchanged, gateway.process.stdout_text(), gateway.process.stderr_text()]:
        assert PROVIDER_SECRET not in text
        assert "abcdef123456" not in text
