#!/usr/bin/env bash
# Issue 4's figures: what auth + rate limiting cost per request, on one machine, loopback only.
#
# Three Switchyard processes (1 worker each, same config apart from the stages), measured one
# after another within each repeat so drift hits all alike:
#   plain  — pipeline: router only (no auth, no rate_limit)
#   memory — auth + rate_limit, memory state store
#   redis  — auth + rate_limit, Redis state store (redis-server started here)
# The upstream (BENCH_UPSTREAM) is `inprocess`, the built-in `mock` provider, so no upstream
# transfer dilutes the figure and what differs between the targets is the stages' own cost; or
# `mock-llm`, a real HTTP upstream on the load CPU, which is the core chain of issue 2's
# benchmark (router + upstream transfer) that issue 4's 0.8x target is stated against. The
# caller's key has a tier with limits far above the load (nothing is refused; any non-2xx
# aborts the run). Redis round trips per request are the reads Redis made from client sockets
# (INFO stats), commands sent per request come from INFO commandstats, both before and after
# each measured run; the time the hypervisor took from either CPU during a run (steal, from
# /proc/stat) too, so the report can say which repeats were calm. Each repeat ends with the
# router-only and the Redis gateway served side by
# side (both on the proxy CPU at once, one wrk each): CPU per request at one VM speed.
# See bench/README.md; results go to bench/RESULTS.md by hand.
#
# Settings (environment): BENCH_DURATION (s, default 10), BENCH_REPEATS (3), BENCH_WARMUP (s, 2),
# BENCH_CONNECTIONS (32), BENCH_PROXY_CPU (0), BENCH_LOAD_CPU (1), BENCH_REDIS_CPU (a CPU of its
# own, the first that is neither of those two, on a machine with 3 or more; else the load CPU:
# in production Redis is another machine's, so it should not take the load generator's CPU when
# there is one to spare), BENCH_KEEP_WORKDIR (0),
# BENCH_UPSTREAM (inprocess | mock-llm), SWITCHYARD_BIN and MOCK_LLM_BIN (default:
# <repo>/.build/release/{switchyard,mock-llm}), BENCH_PROXY_QUOTA (percent of one CPU; each
# gateway runs in a CPU cgroup capped at that share, so its CPU binds every chain's
# throughput and the load CPU has room; needs root and the cgroup v1 `cpu` controller or v2
# with `cpu` enabled; off by default), BENCH_UPSTREAM_LATENCY_MS (mock-llm only, default 0: mock-llm
# waits this long before each answer, as a model does; with many connections this is the load an
# LLM gateway serves, where each request is in flight for a while and many overlap).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
COMMAND_LINE="$0${*:+ $*}"

DURATION=${BENCH_DURATION:-10}; DURATION=${DURATION%s}
REPEATS=${BENCH_REPEATS:-3}
WARMUP=${BENCH_WARMUP:-2}; WARMUP=${WARMUP%s}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
PROXY_CPU=${BENCH_PROXY_CPU:-0}
LOAD_CPU=${BENCH_LOAD_CPU:-1}
REDIS_CPU=${BENCH_REDIS_CPU:-}
SWITCHYARD_BIN=${SWITCHYARD_BIN:-$ROOT/.build/release/switchyard}
MOCK_LLM_BIN=${MOCK_LLM_BIN:-$ROOT/.build/release/mock-llm}
UPSTREAM=${BENCH_UPSTREAM:-inprocess}
PROXY_QUOTA=${BENCH_PROXY_QUOTA:-}
UPSTREAM_LATENCY_MS=${BENCH_UPSTREAM_LATENCY_MS:-0}
[[ $UPSTREAM == inprocess || $UPSTREAM == mock-llm ]] || { echo "BENCH_UPSTREAM must be inprocess or mock-llm" >&2; exit 1; }
BENCH_KEY=sk-bench   # what chat.lua sends as its bearer key

log() { printf '[ratelimit %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

for value in "$DURATION" "$REPEATS" "$WARMUP" "$CONNECTIONS" "$PROXY_CPU" "$LOAD_CPU" "$UPSTREAM_LATENCY_MS" ${REDIS_CPU:+"$REDIS_CPU"}; do
    [[ $value =~ ^[0-9]+$ ]] || die "settings must be whole numbers, got '$value'"
done
(( DURATION > 0 && REPEATS > 0 )) || die "BENCH_DURATION and BENCH_REPEATS must be positive"
if [[ -n $PROXY_QUOTA ]]; then
    [[ $PROXY_QUOTA =~ ^[0-9]+$ ]] && (( PROXY_QUOTA >= 10 && PROXY_QUOTA <= 100 )) \
        || die "BENCH_PROXY_QUOTA must be a whole percent from 10 to 100, got '$PROXY_QUOTA'"
fi

# --- tools and binary ------------------------------------------------------------------------
for tool in wrk redis-server redis-cli taskset python3 getconf; do
    command -v "$tool" >/dev/null && continue
    log "installing what is missing (scripts/setup.sh --test --bench)"
    bash "$ROOT/scripts/setup.sh" --test --bench
    break
done
for tool in wrk redis-server redis-cli taskset python3 getconf; do
    command -v "$tool" >/dev/null || die "$tool is missing"
done
if [[ ! -x $SWITCHYARD_BIN ]]; then
    [[ -x /opt/swift/usr/bin/swift ]] && export PATH="/opt/swift/usr/bin:$PATH"
    command -v swift >/dev/null || die "no binary at $SWITCHYARD_BIN and no swift to build it"
    log "building the release binary (swift build -c release --product switchyard)"
    (cd "$ROOT" && swift build -c release --product switchyard)
fi
if (( $(nproc) < 2 )); then
    log "warning: only 1 CPU; everything shares CPU 0 and the figures mean little"
    PROXY_CPU=0; LOAD_CPU=0
fi
if [[ -z $REDIS_CPU ]]; then
    REDIS_CPU=$LOAD_CPU
    for cpu in $(seq 0 $(( $(nproc) - 1 ))); do
        (( cpu != PROXY_CPU && cpu != LOAD_CPU )) && { REDIS_CPU=$cpu; break; }
    done
fi
(( REDIS_CPU < $(nproc) )) || die "BENCH_REDIS_CPU=$REDIS_CPU, but this machine has $(nproc) CPUs"
CLK_TCK=$(getconf CLK_TCK)

# --- processes and cleanup (the conventions of bench/run.sh) ----------------------------------
WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-ratelimit.XXXXXX")
STARTED_PIDS=()

source "$BENCH_DIR/lib.sh"

# cap_cpu NAME PID: with BENCH_PROXY_QUOTA, moves PID (all its threads) into a CPU cgroup of its
# own capped at that percent of one CPU, over 10 ms periods; removed when the run ends.
CGROUPS=()
cap_cpu() {
    [[ -n $PROXY_QUOTA ]] || return 0
    local dir quota=$(( PROXY_QUOTA * 100 ))
    if [[ -d /sys/fs/cgroup/cpu && -w /sys/fs/cgroup/cpu ]]; then
        dir=/sys/fs/cgroup/cpu/switchyard-bench-$$-$1
        mkdir "$dir" && echo 10000 >"$dir/cpu.cfs_period_us" && echo "$quota" >"$dir/cpu.cfs_quota_us" \
            || die "cannot make the cgroup $dir"
    elif grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
        dir=/sys/fs/cgroup/switchyard-bench-$$-$1
        mkdir "$dir" && echo "$quota 10000" >"$dir/cpu.max" || die "cannot make the cgroup $dir"
    else
        die "BENCH_PROXY_QUOTA needs root and a cgroup cpu controller (v1 /sys/fs/cgroup/cpu, or v2 with cpu enabled)"
    fi
    CGROUPS+=("$dir")
    echo "$2" >"$dir/cgroup.procs" || die "cannot move $1 ($2) into $dir"
}
bench_teardown() {   # called by lib.sh's cleanup
    local dir
    for dir in "${CGROUPS[@]}"; do rmdir "$dir" 2>/dev/null || true; done
}

# --- Redis, on its own CPU or the load CPU (the shared store, not the process under test) --------
free_port REDIS_PORT
taskset -c "$REDIS_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORKDIR" --save "" \
    --appendonly no --logfile "$WORKDIR/redis.log" &
REDIS_PID=$!
STARTED_PIDS+=("$REDIS_PID")
wait_port "$REDIS_PORT" "$REDIS_PID" redis
for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done
REDIS_VERSION=$(redis-server --version | grep -o 'v=[0-9.]*' | cut -d= -f2)

# --- mock-llm, on the load CPU, when it is the upstream ----------------------------------------
MOCK_PORT=0   # the built-in mock provider unless mock-llm is started
if [[ $UPSTREAM == mock-llm ]]; then
    [[ -x $MOCK_LLM_BIN ]] || (cd "$ROOT" && swift build -c release --product mock-llm)
    taskset -c "$LOAD_CPU" "$MOCK_LLM_BIN" --host 127.0.0.1 --port 0 --workers 1 >"$WORKDIR/mock-llm.log" 2>&1 &
    MOCK_PID=$!
    STARTED_PIDS+=("$MOCK_PID")
    MOCK_PORT=""
    for _ in $(seq 100); do
        MOCK_PORT=$(grep -o '"listening":[0-9]*' "$WORKDIR/mock-llm.log" | head -1 | cut -d: -f2 || true)
        [[ -n $MOCK_PORT ]] && break
        sleep 0.1
    done
    [[ -n $MOCK_PORT ]] || die "mock-llm printed no listening port"
    wait_port "$MOCK_PORT" "$MOCK_PID" mock-llm
elif (( UPSTREAM_LATENCY_MS > 0 )); then
    die "BENCH_UPSTREAM_LATENCY_MS needs BENCH_UPSTREAM=mock-llm"
fi

# redis_calls: INFO commandstats as one JSON object {command: calls}, plus "_reads": the reads
# Redis made from client sockets (INFO stats total_reads_processed). Commands a client writes
# together arrive in one read, so reads are the round trips; commands are what was sent.
redis_calls() {
    { redis-cli -p "$REDIS_PORT" info commandstats; redis-cli -p "$REDIS_PORT" info stats; } | python3 -c '
import json, re, sys
calls = {}
for line in sys.stdin:
    m = re.match(r"cmdstat_([^:]+):calls=(\d+)", line.strip())
    if m:
        calls[m.group(1)] = int(m.group(2))
    m = re.match(r"total_reads_processed:(\d+)", line.strip())
    if m:
        calls["_reads"] = int(m.group(1))
print(json.dumps(calls, sort_keys=True))'
}

# --- the three gateways, each alone on the proxy CPU when measured -----------------------------
TARGETS=(plain memory redis)
declare -A GW_PORT GW_PID
for target in "${TARGETS[@]}"; do
    free_port gateway_port
    port=$gateway_port
    config="$WORKDIR/$target.yaml"
    # The chain's configuration as the Python benches make it (benchlib.gateway_config).
    python3 "$BENCH_DIR/benchlib.py" config "$target" "$port" "$MOCK_PORT" "$REDIS_PORT" "$CONNECTIONS" \
        "$UPSTREAM_LATENCY_MS" >"$config" || die "cannot write $config"
    "$SWITCHYARD_BIN" check-config --config "$config" >/dev/null || die "switchyard rejected $config"
    taskset -c "$PROXY_CPU" "$SWITCHYARD_BIN" serve --config "$config" >"$WORKDIR/$target.log" 2>&1 &
    GW_PID[$target]=$!
    GW_PORT[$target]=$port
    STARTED_PIDS+=("$!")
    cap_cpu "$target" "${GW_PID[$target]}"
    wait_port "$port" "${GW_PID[$target]}" "$target"
done

# Smoke test: each target serves the key; the limited ones refuse a missing key (auth runs) and
# stamp the tier's limit (rate_limit runs).
python3 - "$BENCH_KEY" "${GW_PORT[plain]}" "${GW_PORT[memory]}" "${GW_PORT[redis]}" <<'PY' || die "smoke test failed"
import sys, urllib.error, urllib.request
key, plain, *limited = sys.argv[1:]
body = b'{"model":"bench","messages":[{"role":"user","content":"hi"}]}'
def post(port, auth):
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if auth else {})}
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()
status, headers, text = post(plain, True)
assert status == 200 and "chat.completion" in text and "x-ratelimit-limit-requests" not in headers, (status, text)
for port in limited:
    status, headers, text = post(port, True)
    assert status == 200 and headers["x-ratelimit-limit-requests"] == "100000000", (port, status, dict(headers))
    assert post(port, False)[0] == 401, port
PY

# --- measuring -------------------------------------------------------------------------------
RESULTS="$WORKDIR/results.jsonl"
: >"$RESULTS"

run_wrk() {   # run_wrk URL CONNECTIONS SECONDS: prints wrk's BENCH_RESULT JSON object
    local url=$1 conns=$2 seconds=$3 out
    out=$(BENCH_STREAM=0 BENCH_MODEL=bench timeout --kill-after=5 $((seconds + 30)) \
        taskset -c "$LOAD_CPU" wrk -t1 -c"$conns" -d"${seconds}s" --timeout 5s --latency \
        -s "$BENCH_DIR/chat.lua" "$url" 2>&1) || die "wrk failed against $url: $out"
    printf '%s\n\n' "$out" >>"$WORKDIR/wrk.log"
    grep '^BENCH_RESULT ' <<<"$out" | head -1 | cut -d' ' -f2- | grep . || die "no wrk result for $url: $out"
}

# Ticks of CPU $1 from /proc/stat, as "steal work all": the hypervisor took (time the VM wanted
# and did not get: a run with much of it measured the host, not the gateway), spent working
# (user, nice, system, irq, softirq; what the load CPU gave wrk, mock-llm, Redis and the
# loopback's kernel work), and all of them.
cpu_times() { awk -v cpu="cpu$1" '$1 == cpu { print $9, $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }

measure() {   # measure TARGET CASE REPEAT CONNECTIONS
    local target=$1 case=$2 rep=$3 conns=$4
    local url="http://127.0.0.1:${GW_PORT[$target]}/v1/chat/completions" pid=${GW_PID[$target]}
    local result p0 p1 r0 r1 s0 s1 l0 l1 w0 w1 a0 a1 m0=0 m1=0 before after
    (( WARMUP > 0 )) && run_wrk "$url" "$conns" "$WARMUP" >/dev/null
    before=$(redis_calls)
    p0=$(cpu_ticks "$pid"); r0=$(cpu_ticks "$REDIS_PID"); [[ -n ${MOCK_PID:-} ]] && m0=$(cpu_ticks "$MOCK_PID")
    read -r s0 _ _ <<<"$(cpu_times "$PROXY_CPU")"; read -r l0 w0 a0 <<<"$(cpu_times "$LOAD_CPU")"
    result=$(run_wrk "$url" "$conns" "$DURATION")
    p1=$(cpu_ticks "$pid"); r1=$(cpu_ticks "$REDIS_PID"); [[ -n ${MOCK_PID:-} ]] && m1=$(cpu_ticks "$MOCK_PID")
    read -r s1 _ _ <<<"$(cpu_times "$PROXY_CPU")"; read -r l1 w1 a1 <<<"$(cpu_times "$LOAD_CPU")"
    after=$(redis_calls)
    local refused
    refused=$(python3 -c 'import json,sys; w=json.loads(sys.argv[1]); print(w["err_status"])' "$result")
    (( refused == 0 )) || die "$target/$case: $refused non-2xx answers; the bench key must never be refused"
    printf '{"kind":"wrk","target":"%s","case":"%s","repeat":%d,"proxy_ticks":%d,"redis_ticks":%d,"steal_ticks":%d,"load_work_ticks":%d,"load_all_ticks":%d,"mock_ticks":%d,"redis_before":%s,"redis_after":%s,"wrk":%s}\n' \
        "$target" "$case" "$rep" $(( p1 - p0 )) $(( r1 - r0 )) $(( (s1 - s0) > (l1 - l0) ? s1 - s0 : l1 - l0 )) \
        $(( w1 - w0 )) $(( a1 - a0 )) $(( m1 - m0 )) "$before" "$after" "$result" >>"$RESULTS"
    log "$case/$target #$rep: $(( $(json_field "$result" requests) / DURATION )) req/s, p50 $(json_field "$result" p50_us) us"
}

# Side by side: the router-only and the Redis gateway served at once on the proxy CPU, each by
# its own wrk, so both meet the same VM speed (this machine's speed moves between runs by more
# than the difference measured). Their CPU per request compare within one moment; throughput
# does not (each takes the CPU the other leaves).
measure_side_by_side() {   # measure_side_by_side REPEAT CONNECTIONS
    local rep=$1 conns=$2 a b pa0 pa1 pb0 pb1 ra rb wa
    a="http://127.0.0.1:${GW_PORT[plain]}/v1/chat/completions"
    b="http://127.0.0.1:${GW_PORT[redis]}/v1/chat/completions"
    if (( WARMUP > 0 )); then
        run_wrk "$a" "$conns" "$WARMUP" >/dev/null & wa=$!
        run_wrk "$b" "$conns" "$WARMUP" >/dev/null; wait "$wa"
    fi
    pa0=$(cpu_ticks "${GW_PID[plain]}"); pb0=$(cpu_ticks "${GW_PID[redis]}")
    run_wrk "$a" "$conns" "$DURATION" >"$WORKDIR/side-a.json" & wa=$!
    rb=$(run_wrk "$b" "$conns" "$DURATION")
    wait "$wa" || die "wrk against the router-only gateway failed (side by side)"
    ra=$(<"$WORKDIR/side-a.json")
    pa1=$(cpu_ticks "${GW_PID[plain]}"); pb1=$(cpu_ticks "${GW_PID[redis]}")
    printf '{"kind":"side","repeat":%d,"plain_ticks":%d,"redis_ticks":%d,"plain":%s,"redis":%s}\n' \
        "$rep" $(( pa1 - pa0 )) $(( pb1 - pb0 )) "$ra" "$rb" >>"$RESULTS"
    log "side by side #$rep: $(( $(json_field "$ra" requests) / DURATION )) + $(( $(json_field "$rb" requests) / DURATION )) req/s"
}

CASES=("c$CONNECTIONS:$CONNECTIONS" "c1:1")
log "work directory $WORKDIR; gateways on CPU $PROXY_CPU, wrk on CPU $LOAD_CPU, redis-server on CPU $REDIS_CPU"
for rep in $(seq "$REPEATS"); do
    for spec in "${CASES[@]}"; do
        IFS=: read -r case conns <<<"$spec"
        for target in "${TARGETS[@]}"; do measure "$target" "$case" "$rep" "$conns"; done
    done
    measure_side_by_side "$rep" "$CONNECTIONS"
done
for target in "${TARGETS[@]}"; do kill -0 "${GW_PID[$target]}" 2>/dev/null || die "the $target gateway died during the run"; done

# --- report ----------------------------------------------------------------------------------
STAMP=$(date +%Y%m%d-%H%M%S)
mkdir -p "$BENCH_DIR/out"
REPORT="$BENCH_DIR/out/ratelimit-$STAMP.md"
cp "$RESULTS" "$BENCH_DIR/out/ratelimit-results-$STAMP.jsonl"
cp "$WORKDIR/wrk.log" "$BENCH_DIR/out/ratelimit-wrk-$STAMP.log"
SETTINGS="BENCH_DURATION=$DURATION BENCH_REPEATS=$REPEATS BENCH_WARMUP=$WARMUP BENCH_CONNECTIONS=$CONNECTIONS"
SETTINGS+=" BENCH_PROXY_CPU=$PROXY_CPU BENCH_LOAD_CPU=$LOAD_CPU BENCH_REDIS_CPU=$REDIS_CPU BENCH_UPSTREAM=$UPSTREAM"
(( UPSTREAM_LATENCY_MS > 0 )) && SETTINGS+=" BENCH_UPSTREAM_LATENCY_MS=$UPSTREAM_LATENCY_MS"
[[ -n $PROXY_QUOTA ]] && SETTINGS+=" BENCH_PROXY_QUOTA=$PROXY_QUOTA"
python3 - "$RESULTS" "$CLK_TCK" "$SETTINGS $COMMAND_LINE" "$PROXY_CPU" "$LOAD_CPU" "$DURATION" "$REDIS_VERSION" \
    "bench/out/ratelimit-results-$STAMP.jsonl" "$CONNECTIONS" "$UPSTREAM" "$PROXY_QUOTA" "$REDIS_CPU" \
    "$UPSTREAM_LATENCY_MS" >"$REPORT" <<'PY'
import datetime, json, os, platform, statistics, sys

(results, clk_tck, command, proxy_cpu, load_cpu, duration, redis_version, raw, conns, upstream, quota, store_cpu,
 upstream_latency_ms) = sys.argv[1:]
shared = store_cpu == load_cpu  # Redis takes its CPU from wrk and mock-llm
clk_tck = int(clk_tck)
records = [json.loads(line) for line in open(results) if line.strip()]
# Commands the rate-limit scripts call inside Redis: INFO commandstats counts them too, but they
# are not round trips. Every other command is one the gateway sent.
IN_SCRIPT = {"get", "incrby", "pexpire", "hmget", "hset", "hlen", "hgetall", "hdel", "hincrby", "exists", "time"}
LABEL = {"plain": "(a) router only", "memory": "(b) auth + rate_limit, memory store",
         "redis": "(c) auth + rate_limit, Redis store"}

def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None

def per_run(r):
    w = r["wrk"]
    requests = w["requests"]
    delta = {k: r["redis_after"].get(k, 0) - r["redis_before"].get(k, 0) for k in r["redis_after"]}
    delta.pop("info", None)  # our own INFO calls
    reads = delta.pop("_reads", 0) - 2  # less the two redis-cli INFO calls of the "after" sample
    sent = sum(v for k, v in delta.items() if k not in IN_SCRIPT)
    scripts = delta.get("evalsha", 0) + delta.get("eval", 0)
    # An admission call (a batch of requests) reads TIME exactly once; settlement only when a
    # request was not admitted by a script (never here). So TIME counts admission calls and the
    # other script runs are settlement batches.
    admits = delta.get("time", 0)
    return {
        "rps": requests / (w["duration_us"] / 1e6),
        "p50": w["p50_us"], "p99": w["p99_us"],
        "cpu": r["proxy_ticks"] / clk_tck * 1e6 / requests,
        "busy": r["proxy_ticks"] / clk_tck * 1e8 / w["duration_us"],
        "steal": r.get("steal_ticks", 0) / clk_tck * 1e8 / w["duration_us"],
        "redis_cpu": r["redis_ticks"] / clk_tck * 1e6 / requests,
        "load_cpu": r["load_work_ticks"] / clk_tck * 1e6 / requests if "load_work_ticks" in r else None,
        "load_busy": 100 * r["load_work_ticks"] / r["load_all_ticks"] if r.get("load_all_ticks") else None,
        "mock_cpu": r["mock_ticks"] / clk_tck * 1e6 / requests if "mock_ticks" in r else None,
        "round_trips": reads / requests, "sent": sent / requests, "admit": admits / requests,
        "settle": (scripts - admits) / requests,
        "executed": sum(delta.values()) / requests,
        "errors": sum(w[k] for k in ("err_connect", "err_read", "err_write", "err_status", "err_timeout")),
        "requests": requests,
    }

cells = {}
for r in records:
    if r["kind"] == "wrk":
        cells.setdefault((r["case"], r["target"]), []).append(per_run(r))
sides = [r for r in records if r["kind"] == "side"]

def m(case, target, key):
    return median([run[key] for run in cells.get((case, target), [])])

def us(v):
    return "—" if v is None else (f"{v:,.0f} µs" if v >= 100 else f"{v:,.1f} µs")

cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
loadavg = " ".join(open("/proc/loadavg").read().split()[:3])
repeats = max(r["repeat"] for r in records)

CALM_STEAL = 5.0  # % of a run's time stolen from either CPU, at most, for the run to count as calm

def paired(case, target, calm=False):
    """The median over repeats of each repeat's own ratio to the router-only chain (with `calm`,
    only repeats where both runs lost under CALM_STEAL % of either CPU to the host), and how
    many repeats that took."""
    by_rep = {}
    for r in records:
        if r["kind"] == "wrk" and r["case"] == case:
            run = per_run(r)
            if not calm or run["steal"] < CALM_STEAL:
                by_rep.setdefault(r["repeat"], {})[r["target"]] = run["rps"]
    ratios = [t[target] / t["plain"] for t in by_rep.values() if target in t and "plain" in t]
    return (median(ratios) if ratios else float("nan")), len(ratios)
out = ["# Auth + rate limiting benchmark", "",
       f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
       f"- machine: {os.cpu_count()} CPUs, {cpu_model}, kernel {platform.release()}, load average at end {loadavg}",
       f"- command: `{command}`",
       f"- Switchyard 1 worker on CPU {proxy_cpu}"
       + (f" (each gateway capped at {quota} % of it: its CPU binds every chain)" if quota else "") + ", upstream "
       + ("the in-process `mock` provider" if upstream == "inprocess" else f"mock-llm over HTTP on CPU {load_cpu}"
          + (f", answering after {upstream_latency_ms} ms" if int(upstream_latency_ms) else ""))
       + (f"; wrk `-t1` and redis-server {redis_version} on CPU {load_cpu}" if shared
          else f"; wrk `-t1` on CPU {load_cpu}, redis-server {redis_version} on CPU {store_cpu}"
          + (" with the gateways" if store_cpu == proxy_cpu else " of its own"))
       + f"; {duration} s per run after a warm-up run, "
       f"median of {repeats} repeats, targets interleaved within each repeat",
       f"- raw results: `{raw}`", ""]
for case, title in ((f"c{conns}", f"`-c{conns}` (throughput)"), ("c1", "`-c1` (latency)")):
    out += [f"## {title}", "",
            "| target | req/s | req/s range | p50 | p99 | gateway CPU/req | gateway busy | steal (max) | Redis round trips/req "
            "| commands sent/req (admit + settle) | Redis commands run/req | Redis CPU/req | errors |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for target in ("plain", "memory", "redis"):
        runs = cells.get((case, target))
        if not runs:
            continue
        rates = [run["rps"] for run in runs]
        redis_cells = ["—", "—", "—", "—"]
        if target == "redis":
            redis_cells = [f"{m(case, target, 'round_trips'):.2f}",
                           f"{m(case, target, 'sent'):.2f} ({m(case, target, 'admit'):.2f} + {m(case, target, 'settle'):.2f})",
                           f"{m(case, target, 'executed'):.1f}", us(m(case, target, "redis_cpu"))]
        errors = sum(run["errors"] for run in runs)
        out.append(f"| {LABEL[target]} | {m(case, target, 'rps'):,.0f} | {min(rates):,.0f}–{max(rates):,.0f} | "
                   f"{us(m(case, target, 'p50'))} | {us(m(case, target, 'p99'))} | {us(m(case, target, 'cpu'))} | "
                   f"{m(case, target, 'busy'):.0f} % | {max(run['steal'] for run in runs):.0f} % | " + " | ".join(redis_cells) + f" | {errors if errors == 0 else f'**{errors}**'} |")
    out.append("")
    # The load CPU: it serves wrk, mock-llm and (unless it has a CPU of its own) Redis, so when it
    # is nearly all busy it bounds the throughput as much as the gateway does; what each target
    # asks of it says which one binds.
    loaded = [t for t in ("plain", "memory", "redis") if (case, t) in cells and m(case, t, "load_cpu") is not None]
    if loaded:
        out += [f"The load CPU (CPU {load_cpu}) in the same runs: how busy, and its time per request "
                "(the rest is wrk and the loopback's kernel work there):", "",
                "| target | load CPU busy | load CPU/req | mock-llm CPU/req | Redis CPU/req | the rest/req |",
                "|---|---:|---:|---:|---:|---:|"]
    for target in loaded:
        load = m(case, target, "load_cpu")
        mock = m(case, target, "mock_cpu") if upstream == "mock-llm" else None
        redis_cpu = m(case, target, "redis_cpu") if target == "redis" and shared else None
        out.append(f"| {LABEL[target]} | {m(case, target, 'load_busy'):.0f} % | {us(load)} | "
                   + " | ".join("—" if v is None else us(v) for v in (mock, redis_cpu))
                   + f" | {us(load - (mock or 0) - (redis_cpu or 0))} |")
    if loaded:
        out.append("")
out += ["## Ratios (medians)", "", "| figure | value |", "|---|---:|"]
for case in (f"c{conns}", "c1"):
    for target in ("memory", "redis"):
        out.append(f"| throughput {LABEL[target]} / {LABEL['plain']}, `-{case}` | "
                   f"{m(case, target, 'rps') / m(case, 'plain', 'rps'):.2f}× |")
    for target in ("memory", "redis"):
        out.append(f"| median of each repeat's ratio, {LABEL[target]} / {LABEL['plain']}, `-{case}` | "
                   f"{paired(case, target)[0]:.2f}× |")
        calm, count = paired(case, target, calm=True)
        out.append(f"| the same over calm repeats only ({count} of {repeats}: under {CALM_STEAL:.0f} % steal on either "
                   f"CPU in both runs), {LABEL[target]} / {LABEL['plain']}, `-{case}` | "
                   + ("—" if count == 0 else f"{calm:.2f}×") + " |")
for target in ("memory", "redis"):
    out.append(f"| gateway CPU added by {LABEL[target]}, `-c{conns}` | "
               f"{us(m(f'c{conns}', target, 'cpu') - m(f'c{conns}', 'plain', 'cpu'))} |")
    out.append(f"| p50 added by {LABEL[target]}, `-c1` | {us(m('c1', target, 'p50') - m('c1', 'plain', 'p50'))} |")
out.append("")
if sides:
    def side_cpu(r, target):
        return r[f"{target}_ticks"] / clk_tck * 1e6 / r[target]["requests"]
    plain_cpu = [side_cpu(r, "plain") for r in sides]
    redis_cpu = [side_cpu(r, "redis") for r in sides]
    ratios = [a / b for a, b in zip(plain_cpu, redis_cpu)]
    out += [f"## Side by side, `-c{conns}`: router only and Redis served at once on CPU {proxy_cpu}", "",
            "Each gateway has its own wrk; both meet the same VM speed, so their CPU per request compare "
            "within one moment (their throughputs do not: each takes the CPU the other leaves).", "",
            "| figure | median | per repeat |", "|---|---:|---|",
            f"| {LABEL['plain']}: gateway CPU/req | {us(median(plain_cpu))} | " + ", ".join(f"{v:.1f}" for v in plain_cpu) + " |",
            f"| {LABEL['redis']}: gateway CPU/req | {us(median(redis_cpu))} | " + ", ".join(f"{v:.1f}" for v in redis_cpu) + " |",
            f"| CPU per request, router only / Redis | {median(ratios):.2f}× | " + ", ".join(f"{v:.2f}" for v in ratios) + " |", ""]
print("\n".join(out))
PY
cat "$REPORT"
log "report written to $REPORT"
