#!/usr/bin/env bash
# Issue 3's figures: the Redis store's pipelined round trips per second on ONE worker and its CPU
# µs per operation, next to redis-benchmark on the same Redis in the same run; and the memory
# store's operations per second.
#   bench/state.sh                      # BENCH_OPS=200000 BENCH_REPEATS=3 BENCH_CONCURRENCY=64
# Loopback only; redis-server runs on a free port in its own directory and is stopped on exit.
# Pinning: Redis on CPU 1, the client under test (state-bench or redis-benchmark) on CPU 0.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
ops="${BENCH_OPS:-200000}"
repeats="${BENCH_REPEATS:-3}"
concurrency="${BENCH_CONCURRENCY:-64}"
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null || bash scripts/setup.sh --test
bin="${STATE_BENCH_BIN:-$root/.build/release/state-bench}"
[ -x "$bin" ] || swift build -c release --product state-bench

work="$(mktemp -d /tmp/switchyard-state-bench.XXXXXX)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
taskset -c 1 redis-server --port "$port" --bind 127.0.0.1 --dir "$work" --save "" --appendonly no \
  --daemonize yes --pidfile "$work/redis.pid" --logfile "$work/redis.log"
cleanup() { [ -f "$work/redis.pid" ] && kill "$(cat "$work/redis.pid")" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 100); do redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done

python3 - "$bin" "$port" "$ops" "$repeats" "$concurrency" <<'PY'
import json, os, statistics, subprocess, sys, time, datetime, platform
binary, port, ops, repeats, conc = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])

def child_cpu(cmd):
    """Runs cmd pinned to CPU 0; returns its stdout and the CPU seconds it used."""
    before = os.times()
    out = subprocess.run(["taskset", "-c", "0"] + cmd, capture_output=True, text=True, check=True).stdout
    after = os.times()
    return out, (after.children_user - before.children_user) + (after.children_system - before.children_system)

rows = []
for op in ["incr", "get", "script"]:
    samples = []
    for _ in range(repeats):
        out, _ = child_cpu([binary, "--redis", f"redis://127.0.0.1:{port}/0", "--ops", str(ops), "--concurrency", str(conc), "--op", op])
        samples.append(json.loads(out.strip().splitlines()[-1]))
    rows.append(("Switchyard RedisStore (1 worker, 1 connection)", op, statistics.median(s["ops_per_sec"] for s in samples),
                 statistics.median(s["cpu_us_per_op"] for s in samples)))

for op, test in [("incr", "incr"), ("get", "get")]:
    rates, cpus = [], []
    for _ in range(repeats):
        out, cpu = child_cpu(["redis-benchmark", "-p", port, "-c", "1", "-P", str(conc), "-n", str(ops), "-t", test, "--csv"])
        line = [l for l in out.splitlines() if l.startswith('"')][-1]
        rate = float(line.split(",")[1].strip('"'))
        rates.append(rate); cpus.append(cpu * 1e6 / ops)
    rows.append((f"redis-benchmark -c 1 -P {conc}", op, statistics.median(rates), statistics.median(cpus)))

memory = []
for op in ["incr", "get", "script"]:
    samples = []
    for _ in range(repeats):
        out, _ = child_cpu([binary, "--memory", "--ops", str(ops * 5), "--concurrency", str(conc), "--op", op])
        samples.append(json.loads(out.strip().splitlines()[-1]))
    memory.append((op, statistics.median(s["ops_per_sec"] for s in samples), statistics.median(s["cpu_us_per_op"] for s in samples)))

cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"# State store benchmark\n\n- date: {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC\n- machine: {os.cpu_count()} CPUs, {cpu_model}, kernel {platform.release()}")
print(f"- command: `BENCH_OPS={ops} BENCH_REPEATS={repeats} BENCH_CONCURRENCY={conc} bench/state.sh` (medians of {repeats})")
print(f"- Redis {subprocess.run(['redis-server','--version'],capture_output=True,text=True).stdout.split()[2]} on CPU 1; the client on CPU 0; {conc} operations in flight on one connection\n")
print("## Redis store vs redis-benchmark (same server, same run)\n")
print("| client | operation | ops/s | client CPU µs/op |\n|---|---|---:|---:|")
for name, op, rate, cpu in rows:
    print(f"| {name} | {op} | {rate:,.0f} | {cpu:.2f} |")
print("\n## Memory store (1 worker)\n\n| operation | ops/s | CPU µs/op |\n|---|---:|---:|")
for op, rate, cpu in memory:
    print(f"| {op} | {rate:,.0f} | {cpu:.2f} |")
PY
