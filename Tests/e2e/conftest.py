"""Fixtures for Switchyard's end-to-end suite.

Real processes, real sockets: `mock-llm` plays the upstream provider and `switchyard serve`
runs as a subprocess on port 0, so every test talks to the gateway the way an app does,
through the official `openai` SDK or plain httpx.

Synchronisation never sleeps: a reader thread per process collects stdout lines, and tests
wait on a condition until the line they need arrives (the "listening" line, a reload line),
bounded by a deadline. Every process started here is killed at teardown, pass or fail.

Binaries: $SWITCHYARD_BIN and $MOCK_LLM_BIN, defaulting to .build/debug/switchyard and
.build/debug/mock-llm under the repository root.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import openai
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# The provider key every gateway in this suite is given; it must never come back out.
PROVIDER_SECRET = "sk-SECRET-abcdef123456"
# What clients send the gateway; no auth stage is configured, so any value is accepted.
CLIENT_KEY = "sk-client-e2e"
# Upper bound for any one wait on a process (start-up line, reload line, exit).
STARTUP_TIMEOUT = 15.0


def binary(env_name: str, default_name: str) -> Path:
    """The executable named by `env_name`, else `.build/debug/<default_name>` in the repo."""
    given = os.environ.get(env_name)
    path = Path(given) if given else REPO_ROOT / ".build" / "debug" / default_name
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not os.access(path, os.X_OK):
        pytest.exit(f"{env_name}: no executable at {path}; build first or set {env_name}", returncode=2)
    return path


class ManagedProcess:
    """A subprocess whose stdout lines are collected by a reader thread.

    `wait_for` blocks on a condition variable until a line satisfies a predicate (or the
    deadline passes), so tests wait for events rather than sleeping. stderr goes to a file
    so neither pipe can fill up and stall the child.
    """

    def __init__(self, argv: list[str], name: str, workdir: Path, env: dict[str, str] | None = None):
        self.name = name
        self.argv = argv
        self.stderr_path = workdir / f"{name}.stderr"
        self._stderr_file = open(self.stderr_path, "wb")
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._eof = False
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr_file,
            cwd=str(workdir), env=env, start_new_session=True)
        self._reader = threading.Thread(target=self._read, name=f"{name}-stdout", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            with self._cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def mark(self) -> int:
        """Index of the next line; pass it to `wait_for(since=...)` to see only newer lines."""
        with self._cond:
            return len(self.lines)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = STARTUP_TIMEOUT, since: int = 0) -> str:
        """The first line at or after `since` that satisfies `predicate`; fails on exit or deadline."""
        deadline = time.monotonic() + timeout
        index = since
        with self._cond:
            while True:
                while index < len(self.lines):
                    line = self.lines[index]
                    index += 1
                    if predicate(line):
                        return line
                if self._eof:
                    raise AssertionError(f"{self.name} exited (rc={self.proc.poll()}) before the expected line;\n"
                                         f"stdout:\n{self.stdout_text()}\nstderr:\n{self.stderr_text()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.name}: expected line not seen within {timeout}s;\n"
                                         f"stdout:\n{self.stdout_text()}")
                self._cond.wait(left)

    def wait_for_json(self, predicate: Callable[[dict], bool], timeout: float = STARTUP_TIMEOUT, since: int = 0) -> dict:
        """Like `wait_for` for JSON log lines: returns the first parsed object that matches."""
        def matches(line: str) -> bool:
            try:
                obj = json.loads(line)
            except ValueError:
                return False
            return isinstance(obj, dict) and predicate(obj)
        return json.loads(self.wait_for(matches, timeout, since))

    def stdout_text(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def stderr_text(self) -> str:
        self._stderr_file.flush()
        return self.stderr_path.read_text(errors="replace")

    def send_signal(self, signo: int) -> None:
        self.proc.send_signal(signo)

    def wait_exit(self, timeout: float = STARTUP_TIMEOUT) -> int:
        """Exit code once the process ends and its stdout is fully read."""
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=timeout)
        return code

    def kill(self) -> None:
        """Always safe: kills the process if it still runs and releases the pipes and files."""
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=STARTUP_TIMEOUT)
        finally:
            self._reader.join(timeout=STARTUP_TIMEOUT)
            if self.proc.stdout:
                self.proc.stdout.close()
            self._stderr_file.close()


class MockLLM:
    """A running `mock-llm`; `base_url` is what an openai-type provider points at."""

    def __init__(self, process: ManagedProcess, port: int):
        self.process = process
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}/v1"


class Gateway:
    """A running `switchyard serve` with the config file it reads (rewrite + SIGHUP to reload)."""

    def __init__(self, process: ManagedProcess, port: int, config_path: Path, config: dict):
        self.process = process
        self.port = port
        self.config_path = config_path
        self.config = config
        self.url = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.url}/v1"

    def client(self, **kwargs: Any) -> openai.OpenAI:
        options: dict[str, Any] = {"base_url": self.base_url, "api_key": CLIENT_KEY, "max_retries": 0, "timeout": 10.0}
        options.update(kwargs)
        return openai.OpenAI(**options)

    def async_client(self, **kwargs: Any) -> openai.AsyncOpenAI:
        options: dict[str, Any] = {"base_url": self.base_url, "api_key": CLIENT_KEY, "max_retries": 0, "timeout": 10.0}
        options.update(kwargs)
        return openai.AsyncOpenAI(**options)

    def http(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0, **kwargs)

    def write_config(self, config: dict | str) -> None:
        """Replaces the config file; JSON is valid YAML, so dicts are written as JSON."""
        text = config if isinstance(config, str) else json.dumps(config, indent=2)
        self.config_path.write_text(text)
        if isinstance(config, dict):
            self.config = config

    def reload(self, config: dict | str) -> dict:
        """Writes `config`, sends SIGHUP and returns the log line that answers it (reloaded or refused)."""
        since = self.process.mark()
        self.write_config(config)
        self.process.send_signal(signal.SIGHUP)
        return self.process.wait_for_json(
            lambda o: o.get("msg") == "configuration reloaded" or "reload refused" in str(o.get("msg", "")),
            since=since)


class RawConnection:
    """One HTTP/1.1 keep-alive connection under the test's control, so a test can prove the
    very same socket still works after a reload."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.pending = b""

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict[str, str], bytes]:
        payload = json.dumps(body).encode() if body is not None else b""
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        self.sock.sendall(head.encode() + b"\r\n" + payload)
        while b"\r\n\r\n" not in self.pending:
            self._receive()
        raw_head, self.pending = self.pending.split(b"\r\n\r\n", 1)
        status_line, *header_lines = raw_head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in header_lines)}
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return int(status_line.split()[1]), headers, self._read_chunked()
        content = self._read_exactly(int(headers["content-length"]))
        return int(status_line.split()[1]), headers, content

    def _read_exactly(self, length: int) -> bytes:
        while len(self.pending) < length:
            self._receive()
        content, self.pending = self.pending[:length], self.pending[length:]
        return content

    def _read_chunked(self) -> bytes:
        content = b""
        while True:
            while b"\r\n" not in self.pending:
                self._receive()
            size_line, self.pending = self.pending.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            chunk = self._read_exactly(size + 2)  # the chunk and its CRLF
            if size == 0:
                return content
            content += chunk[:-2]

    def _receive(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the gateway closed the keep-alive connection")
        self.pending += data

    def close(self) -> None:
        self.sock.close()


def deployment(provider: str, model: str, **extra: Any) -> dict:
    return {"provider": provider, "model": model, **extra}


def gateway_config(providers: dict, models: dict[str, list[dict]], **server: Any) -> dict:
    """A minimal config: loopback on port 0, one worker, and only the router stage, so the
    suite tests the edge and the upstream path whatever other stages a build includes."""
    return {
        "server": {"listen": "127.0.0.1:0", "workers": 1, "drain_timeout": "10s", **server},
        "providers": providers,
        "models": {name: {"deployments": deployments} for name, deployments in models.items()},
        "pipeline": {"router": {"strategy": "priority"}},
        "log": {"level": "info", "access_log": True, "format": "json"},
    }


class ClosedPort:
    """A loopback port that refuses connections: bound but never listening, held for the session
    so no other process can take it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()


# The processes of this session, so a failing test's report can show what they logged.
PROCESSES_KEY = pytest.StashKey[list]()
LOG_TAIL_LINES = 30


def pytest_configure(config: pytest.Config) -> None:
    config.stash[PROCESSES_KEY] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """On a failure, attach the last log lines of every process still running."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for process in item.config.stash.get(PROCESSES_KEY, []):
            if process.proc.poll() is None:
                tail = "\n".join(process.lines[-LOG_TAIL_LINES:])
                report.sections.append((f"{process.name} stdout (last {LOG_TAIL_LINES} lines)", tail))


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="switchyard-e2e-") as path:
        yield Path(path)


@pytest.fixture(scope="session")
def switchyard_bin() -> Path:
    return binary("SWITCHYARD_BIN", "switchyard")


@pytest.fixture(scope="session")
def mock_llm_bin() -> Path:
    return binary("MOCK_LLM_BIN", "mock-llm")


@pytest.fixture(scope="session")
def closed_port() -> Iterator[ClosedPort]:
    port = ClosedPort()
    yield port
    port.close()


def gateway_env() -> dict[str, str]:
    """The environment for a gateway: ours, minus provider keys that would add discovered providers."""
    env = dict(os.environ)
    for name in list(env):
        if name.endswith("_API_KEY"):
            del env[name]
    return env


@pytest.fixture(scope="session")
def mock_llm(mock_llm_bin: Path, workdir: Path, pytestconfig: pytest.Config) -> Iterator[MockLLM]:
    process = ManagedProcess([str(mock_llm_bin), "--port", "0", "--workers", "1"], "mock-llm", workdir)
    pytestconfig.stash[PROCESSES_KEY].append(process)
    try:
        listening = process.wait_for_json(lambda o: "listening" in o)
        yield MockLLM(process, int(listening["listening"]))
    finally:
        process.kill()


@pytest.fixture(scope="session")
def start_gateway(switchyard_bin: Path, workdir: Path, pytestconfig: pytest.Config) -> Iterator[Callable[..., Gateway]]:
    """A factory: `start_gateway(config_dict)` runs a gateway on it and waits until it listens.
    Every gateway it started is killed at the end of the session (earlier, if the test stops it)."""
    started: list[ManagedProcess] = []
    counter = iter(range(1_000_000))

    def start(config: dict, name: str = "gateway") -> Gateway:
        index = next(counter)
        config_path = workdir / f"{name}-{index}.yaml"
        config_path.write_text(json.dumps(config, indent=2))
        process = ManagedProcess([str(switchyard_bin), "serve", "--config", str(config_path)],
                                 f"{name}-{index}", workdir, env=gateway_env())
        started.append(process)
        pytestconfig.stash[PROCESSES_KEY].append(process)
        listening = process.wait_for_json(lambda o: o.get("msg") == "listening" and "port" in o)
        return Gateway(process, int(listening["port"]), config_path, config)

    try:
        yield start
    finally:
        for process in started:
            process.kill()


def standard_providers(mock_llm: MockLLM, closed_port: ClosedPort) -> dict:
    """`mock` in-process, `local` over mock-llm, `dead` on a port that refuses connections,
    `slow` over mock-llm with a short first-byte timeout (for 504), `short` with a short total
    timeout (a stream cut mid-way)."""
    return {
        "mock": {"type": "mock"},
        "local": {"type": "openai", "base_url": mock_llm.base_url, "api_key": PROVIDER_SECRET},
        "dead": {"type": "openai", "base_url": f"http://127.0.0.1:{closed_port.port}/v1", "api_key": PROVIDER_SECRET},
        "slow": {"type": "openai", "base_url": mock_llm.base_url, "api_key": PROVIDER_SECRET,
                 "timeouts": {"first_byte": "300ms"}},
        "short": {"type": "openai", "base_url": mock_llm.base_url, "api_key": PROVIDER_SECRET,
                  "timeouts": {"total": "600ms"}},
    }


# The aliases of the shared gateway: each exists once in-process (`mock`) and once over
# mock-llm (`local`), so every SDK test runs against both provider types.
STANDARD_MODELS = {
    "mock-gpt": [deployment("mock", "mock-gpt")],
    "remote-gpt": [deployment("local", "mock-gpt")],
    "mock-embedding": [deployment("mock", "mock-embedding")],
    "remote-embedding": [deployment("local", "mock-embedding")],
    "dead-gpt": [deployment("dead", "mock-gpt")],
    "slow-gpt": [deployment("slow", "mock-gpt+latency=3000")],
}


@pytest.fixture(scope="session")
def gateway(start_gateway: Callable[..., Gateway], mock_llm: MockLLM, closed_port: ClosedPort) -> Gateway:
    """The shared gateway most tests use; tests must not reload or stop it."""
    return start_gateway(gateway_config(standard_providers(mock_llm, closed_port), STANDARD_MODELS), name="shared")


@pytest.fixture(scope="session")
def client(gateway: Gateway) -> Iterator[openai.OpenAI]:
    with gateway.client() as sdk:
        yield sdk


@pytest.fixture(scope="session")
def http(gateway: Gateway) -> Iterator[httpx.Client]:
    with gateway.http() as session:
        yield session


# MARK: Redis and keys (rate-limit tests)


def free_port() -> int:
    """A loopback port that was free a moment ago (bind to 0, read it, close), for servers that
    cannot take port 0 themselves, such as redis-server."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sha256_hex(text: str) -> str:
    """What `keys[].key_sha256` and `auth.admin_key_sha256` hold for the plaintext `text`."""
    return hashlib.sha256(text.encode()).hexdigest()


class RedisServer:
    """A `redis-server` of this test session on a free loopback port, with no persistence.
    `command` speaks RESP2 on a fresh connection, so tests need no client library."""

    def __init__(self, process: ManagedProcess, port: int):
        self.process = process
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"

    def command(self, *args: str | int) -> Any:
        payload = f"*{len(args)}\r\n".encode()
        for arg in args:
            data = str(arg).encode()
            payload += b"$%d\r\n%s\r\n" % (len(data), data)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(payload)
            reader = sock.makefile("rb")
            return self._reply(reader)

    def _reply(self, reader: Any) -> Any:
        line = reader.readline()
        if not line:
            raise ConnectionError("redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            length = int(rest)
            if length < 0:
                return None
            data = reader.read(length + 2)
            return data[:-2].decode("utf-8", "replace")
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self._reply(reader) for _ in range(count)]
        raise ValueError(f"unexpected RESP reply {line!r}")


@pytest.fixture(scope="session")
def redis_server(workdir: Path, pytestconfig: pytest.Config) -> Iterator[RedisServer]:
    """One redis-server for the session (`scripts/setup.sh --test` installs it). Tests share it
    and keep apart by using fresh key names; it is killed at the end of the session."""
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.fail("redis-server is not installed (run scripts/setup.sh --test)")
    directory = workdir / "redis"
    directory.mkdir(exist_ok=True)
    last_error: AssertionError | None = None
    for attempt in range(3):  # a free port can be taken between the probe and the bind
        port = free_port()
        process = ManagedProcess(
            [executable, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", "",
             "--appendonly", "no", "--logfile", ""], f"redis-{attempt}", directory)
        pytestconfig.stash[PROCESSES_KEY].append(process)
        try:
            process.wait_for(lambda line: "Ready to accept connections" in line)
        except AssertionError as error:
            process.kill()
            last_error = error
            continue
        try:
            yield RedisServer(process, port)
        finally:
            process.kill()
        return
    raise AssertionError(f"redis-server did not start: {last_error}")
