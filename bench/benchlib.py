"""What the Python bench scripts share (imported by bench/*.py): ports on 127.0.0.1 for the
servers they start, the load-side servers (mock-llm, redis-server), and the gateway
configurations of bench/ratelimit.sh's chains (`python3 benchlib.py config …` prints one for
the shell scripts)."""
import contextlib, hashlib, socket, subprocess, sys, time

BENCH_KEY = "sk-bench"  # what chat.lua sends as its bearer key


def free_port():
    """A port nothing listens on now (the kernel's pick for a socket bound to port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, process, what, seconds=60):
    """Returns once `port` accepts; exits the script when `process` dies first or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{what} exited early")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{what} did not listen on {port}")


def redis_command(port):
    """redis-server on 127.0.0.1:`port`, nothing persisted."""
    return ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]


@contextlib.contextmanager
def load_servers(mock_llm=None, redis=False, cpu=1):
    """Starts mock-llm (when its binary is given) and redis-server (when `redis`) on `cpu` (None:
    unpinned) and yields (mock-llm's port, redis-server's port), None for one not started; both
    are stopped when the block ends, however it ends."""
    pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
    started = []
    try:
        ports = []
        for wanted, what, command in [(mock_llm, "mock-llm", lambda port: [mock_llm, "--host", "127.0.0.1", "--port",
                                                                           str(port), "--workers", "1"]),
                                      (redis, "redis-server", redis_command)]:
            if not wanted:
                ports.append(None)
                continue
            port = free_port()
            started.append(subprocess.Popen(pin + command(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_port(port, started[-1], what)
            ports.append(port)
        yield tuple(ports)
    finally:
        for process in started:
            process.terminate()
            process.wait()


def gateway_config(chain, port, upstream_port=None, redis_port=None, busy_poll=None, connections=32,
                   upstream_latency_ms=0):
    """A one-worker gateway on `port` for one chain of bench/ratelimit.sh: `plain` (router only),
    `memory` or `redis` (auth + rate_limit under the bench tier, whose limits no load reaches),
    in front of the built-in mock or of mock-llm at `upstream_port` (holding each answer
    `upstream_latency_ms`: mock-llm reads "+latency=N" in the model's name), for a load of
    `connections` at once: the tier's concurrency and the upstream pool stay above it."""
    lines = [f'server: {{ listen: "127.0.0.1:{port}", workers: 1 }}']
    if connections > 64:  # every request in flight may hold an upstream connection (HTTP/1.1)
        lines.append(f"upstream: {{ max_connections_per_host: {connections} }}")
    if upstream_port:
        model = f'"mock-gpt+latency={upstream_latency_ms}"' if upstream_latency_ms else "mock-gpt"
        lines.append(f'providers: {{ up: {{ type: openai, base_url: "http://127.0.0.1:{upstream_port}/v1", api_key: "sk-up" }} }}')
        lines.append(f"models: {{ bench: {{ deployments: [ {{ provider: up, model: {model} }} ] }} }}")
    else:
        lines.append("providers: { mock: { type: mock } }")
        lines.append("models: { bench: { deployments: [ { provider: mock, model: mock-gpt } ] } }")
    lines.append("log: { level: warning, access_log: false }")
    if chain == "plain":
        lines.append("pipeline: { router: { strategy: priority } }")
    else:
        # Limits far above what one core can serve, so every request is checked and none refused.
        key_sha256 = hashlib.sha256(BENCH_KEY.encode()).hexdigest()
        lines.append("tiers: { bench: { requests_per_minute: 100000000, tokens_per_minute: 1000000000000, max_concurrent: " + str(2 * connections if connections > 500 else 1000) + " } }")
        lines.append(f'keys: [ {{ name: bench, key_sha256: "{key_sha256}", tier: bench }} ]')
        lines.append("pipeline: { auth: { required: true }, rate_limit: {}, router: { strategy: priority } }")
    if chain == "redis":
        poll = f", busy_poll: {busy_poll}" if busy_poll else ""
        lines.append(f'state: {{ backend: redis, url: "redis://127.0.0.1:{redis_port}/0"{poll} }}')
    return "\n".join(lines) + "\n"


if __name__ == "__main__" and sys.argv[1:2] == ["config"]:
    # config CHAIN PORT UPSTREAM_PORT REDIS_PORT CONNECTIONS UPSTREAM_LATENCY_MS (0: none)
    chain, *numbers = sys.argv[2:]
    port, upstream_port, redis_port, connections, latency = (int(n) for n in numbers)
    sys.stdout.write(gateway_config(chain, port, upstream_port or None, redis_port or None, connections=connections,
                                    upstream_latency_ms=latency))
