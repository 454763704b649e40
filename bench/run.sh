#!/usr/bin/env bash
# Switchyard benchmark harness (issue 2): one command, one machine, loopback only.
#
# Measures, with wrk against the SAME mock-llm upstream: (a) direct to the upstream,
# (b) through Switchyard (1 worker), (c) through nginx proxy_pass (1 worker, keepalive pool);
# plus mock-llm vs nginx `return 200` on one core (is the mock the bottleneck?), streaming
# time-to-first-byte (bench/ttfb.py) and Switchyard's RSS before and after a long run.
# Writes a Markdown report to bench/out/report-<date>.md and prints it. See bench/README.md.
#
# Settings (environment): BENCH_DURATION (s, default 10), BENCH_REPEATS (3), BENCH_WARMUP (s, 2),
# BENCH_RSS_REQUESTS (1000000), BENCH_TTFB_REQUESTS (200), BENCH_TTFB_INTERVAL_MS (1),
# BENCH_CONNECTIONS (32), BENCH_PROXY_CPU (0), BENCH_LOAD_CPU (1), BENCH_KEEP_WORKDIR (0),
# SWITCHYARD_BIN, MOCK_LLM_BIN (default: <repo>/.build/release/{switchyard,mock-llm}).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
COMMAND_LINE="$0${*:+ $*}"

DURATION=${BENCH_DURATION:-10}; DURATION=${DURATION%s}
REPEATS=${BENCH_REPEATS:-3}
WARMUP=${BENCH_WARMUP:-2}; WARMUP=${WARMUP%s}
RSS_REQUESTS=${BENCH_RSS_REQUESTS:-1000000}
TTFB_REQUESTS=${BENCH_TTFB_REQUESTS:-200}
TTFB_INTERVAL_MS=${BENCH_TTFB_INTERVAL_MS:-1}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
PROXY_CPU=${BENCH_PROXY_CPU:-0}
LOAD_CPU=${BENCH_LOAD_CPU:-1}
SWITCHYARD_BIN=${SWITCHYARD_BIN:-$ROOT/.build/release/switchyard}
MOCK_LLM_BIN=${MOCK_LLM_BIN:-$ROOT/.build/release/mock-llm}
SOAK_MAX_RUN_SECONDS=120   # one wrk run of the RSS soak never lasts longer than this

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

for value in "$DURATION" "$REPEATS" "$WARMUP" "$RSS_REQUESTS" "$TTFB_REQUESTS" "$TTFB_INTERVAL_MS" \
             "$CONNECTIONS" "$PROXY_CPU" "$LOAD_CPU"; do
    [[ $value =~ ^[0-9]+$ ]] || die "settings must be whole numbers, got '$value'"
done
(( DURATION > 0 && REPEATS > 0 )) || die "BENCH_DURATION and BENCH_REPEATS must be positive"

# --- tools -------------------------------------------------------------------------------
ensure_tools() {
    local missing=()
    command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx-light)
    command -v wrk >/dev/null || missing+=(wrk)
    command -v python3 >/dev/null || missing+=(python3)
    command -v taskset >/dev/null || missing+=(util-linux)
    command -v getconf >/dev/null || missing+=(libc-bin)
    (( ${#missing[@]} == 0 )) && return 0
    command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get: install them by hand"
    local sudo=""
    (( EUID == 0 )) || sudo=sudo
    log "installing ${missing[*]}"
    $sudo apt-get update -qq
    # Newer Ubuntu releases dropped nginx-light; plain nginx is the same binary for our use.
    $sudo apt-get install -y -qq "${missing[@]}" \
        || $sudo apt-get install -y -qq "${missing[@]/nginx-light/nginx}"
}
ensure_tools
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

if [[ ! -x $SWITCHYARD_BIN || ! -x $MOCK_LLM_BIN ]]; then
    command -v swift >/dev/null || die "no binaries at $SWITCHYARD_BIN / $MOCK_LLM_BIN and no swift to build them"
    log "building release binaries (swift build -c release)"
    (cd "$ROOT" && swift build -c release --product switchyard && swift build -c release --product mock-llm)
fi

CPUS=$(nproc)
if (( CPUS < 2 )); then
    log "warning: only $CPUS CPU; everything shares CPU 0 and the figures mean little"
    PROXY_CPU=0; LOAD_CPU=0
fi
CLK_TCK=$(getconf CLK_TCK)

# --- processes and cleanup -----------------------------------------------------------------
WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-bench.XXXXXX")
STARTED_PIDS=()

source "$BENCH_DIR/lib.sh"

# start_mock NAME CPU: starts mock-llm (1 worker, free port) pinned to CPU; sets MOCK_PID, MOCK_PORT.
start_mock() {
    local name=$1 cpu=$2
    taskset -c "$cpu" "$MOCK_LLM_BIN" --host 127.0.0.1 --port 0 --workers 1 >"$WORKDIR/$name.log" 2>&1 &
    MOCK_PID=$!
    STARTED_PIDS+=("$MOCK_PID")
    MOCK_PORT=""
    for _ in $(seq 100); do
        MOCK_PORT=$(grep -o '"listening":[0-9]*' "$WORKDIR/$name.log" | head -1 | cut -d: -f2 || true)
        [[ -n $MOCK_PORT ]] && break
        kill -0 "$MOCK_PID" 2>/dev/null || die "$name exited during startup (see $WORKDIR/$name.log)"
        sleep 0.1
    done
    [[ -n $MOCK_PORT ]] || die "$name printed no listening port"
    wait_port "$MOCK_PORT" "$MOCK_PID" "$name"
}

# start_nginx NAME TEMPLATE CPU KEY=VALUE...: renders bench/nginx/TEMPLATE and runs it; sets NGINX_PID
# (master) and NGINX_WORKER_PID (the single worker that does the work and is measured).
start_nginx() {
    local name=$1 template=$2 cpu=$3; shift 3
    local conf="$WORKDIR/$name.conf"
    mkdir -p "$WORKDIR/$name-tmp"
    python3 - "$BENCH_DIR/nginx/$template" "$conf" "WORKDIR=$WORKDIR" "$@" <<'PY'
import sys
text = open(sys.argv[1]).read()
for pair in sys.argv[3:]:
    key, _, value = pair.partition("=")
    text = text.replace("@" + key + "@", value)
open(sys.argv[2], "w").write(text)
PY
    "$NGINX" -t -q -p "$WORKDIR" -c "$conf" -e "$WORKDIR/$name.error.log" 2>>"$WORKDIR/$name.log" \
        || die "nginx rejected $conf: $(cat "$WORKDIR/$name.log")"
    taskset -c "$cpu" "$NGINX" -p "$WORKDIR" -c "$conf" -e "$WORKDIR/$name.error.log" >>"$WORKDIR/$name.log" 2>&1 &
    NGINX_PID=$!
    STARTED_PIDS+=("$NGINX_PID")
    NGINX_WORKER_PID=""
    for _ in $(seq 100); do
        NGINX_WORKER_PID=$( { cat "/proc/$NGINX_PID/task/$NGINX_PID/children" 2>/dev/null || pgrep -P "$NGINX_PID"; } \
            | awk '{print $1; exit}' || true)
        [[ -n $NGINX_WORKER_PID ]] && break
        kill -0 "$NGINX_PID" 2>/dev/null || die "$name exited during startup (see $WORKDIR/$name.log)"
        sleep 0.1
    done
    [[ -n $NGINX_WORKER_PID ]] || die "$name started no worker"
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# --- measuring -----------------------------------------------------------------------------
RESULTS="$WORKDIR/results.jsonl"
: >"$RESULTS"

# run_wrk URL CONNECTIONS SECONDS STREAM MODEL: prints wrk's BENCH_RESULT JSON object.
run_wrk() {
    local url=$1 conns=$2 seconds=$3 stream=$4 model=$5 out
    out=$(BENCH_STREAM=$stream BENCH_MODEL=$model timeout --kill-after=5 $((seconds + 30)) \
        taskset -c "$LOAD_CPU" wrk -t1 -c"$conns" -d"${seconds}s" --timeout 5s --latency \
        -s "$BENCH_DIR/chat.lua" "$url" 2>&1) || die "wrk failed against $url: $out"
    printf '%s\n\n' "$out" >>"$WORKDIR/wrk.log"
    grep '^BENCH_RESULT ' <<<"$out" | head -1 | cut -d' ' -f2- | grep . || die "no wrk result for $url: $out"
}

SWITCHYARD_SERVED=0   # every request Switchyard answered, warm-ups included (for the RSS table)

# measure TABLE TARGET CASE REPEAT URL CONNECTIONS STREAM PROXY_PID UPSTREAM_PID
# One warmed-up wrk run; records CPU tick deltas of the proxy (or "-") and the upstream.
measure() {
    local table=$1 target=$2 case=$3 rep=$4 url=$5 conns=$6 stream=$7 proxy_pid=$8 upstream_pid=$9
    local warm result p0=0 p1=0 u0 u1
    if (( WARMUP > 0 )); then
        warm=$(run_wrk "$url" "$conns" "$WARMUP" "$stream" bench)
        [[ $target == switchyard ]] && SWITCHYARD_SERVED=$(( SWITCHYARD_SERVED + $(json_field "$warm" requests) ))
    fi
    [[ $proxy_pid != - ]] && p0=$(cpu_ticks "$proxy_pid")
    u0=$(cpu_ticks "$upstream_pid")
    result=$(run_wrk "$url" "$conns" "$DURATION" "$stream" bench)
    [[ $proxy_pid != - ]] && p1=$(cpu_ticks "$proxy_pid")
    u1=$(cpu_ticks "$upstream_pid")
    local proxy_ticks=null
    [[ $proxy_pid != - ]] && proxy_ticks=$(( p1 - p0 ))
    printf '{"kind":"wrk","table":"%s","target":"%s","case":"%s","repeat":%d,"proxy_ticks":%s,"upstream_ticks":%d,"wrk":%s}\n' \
        "$table" "$target" "$case" "$rep" "$proxy_ticks" $(( u1 - u0 )) "$result" >>"$RESULTS"
    local requests
    requests=$(json_field "$result" requests)
    [[ $target == switchyard ]] && SWITCHYARD_SERVED=$(( SWITCHYARD_SERVED + requests ))
    [[ $target == switchyard && $case == nonstream-c$CONNECTIONS ]] && SWITCHYARD_RPS=$(( requests / DURATION ))
    log "$table/$case/$target #$rep: $(( requests / DURATION )) req/s, p50 $(json_field "$result" p50_us) us"
}

CASES=("nonstream-c$CONNECTIONS:$CONNECTIONS:0" "nonstream-c1:1:0" "stream-c$CONNECTIONS:$CONNECTIONS:1")
PATH_CHAT=/v1/chat/completions

# --- 1. capacity: mock-llm vs nginx `return 200`, each alone on the proxy CPU ----------------
log "work directory $WORKDIR; proxy CPU $PROXY_CPU, upstream and load CPU $LOAD_CPU"
start_mock mock-solo "$PROXY_CPU"
SOLO_PID=$MOCK_PID SOLO_PORT=$MOCK_PORT
CANNED_BODY=$(python3 - "$SOLO_PORT" <<'PY'
import sys, urllib.request
body = b'{"model":"bench","messages":[{"role":"user","content":"hi"}]}'
request = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/v1/chat/completions", data=body,
                                 headers={"Content-Type": "application/json"})
text = urllib.request.urlopen(request, timeout=5).read().decode()
# nginx single-quoted string: escape \ and '; "$" would start a variable, so keep it out.
print(text.replace("\\", "\\\\").replace("'", "\\'").replace("$", "S"))
PY
)
free_port STATIC_PORT
start_nginx nginx-static static.conf.template "$PROXY_CPU" "PORT=$STATIC_PORT" "BODY=$CANNED_BODY"
wait_port "$STATIC_PORT" "$NGINX_PID" nginx-static
STATIC_MASTER=$NGINX_PID STATIC_WORKER=$NGINX_WORKER_PID
for rep in $(seq "$REPEATS"); do
    for spec in "${CASES[@]:0:2}"; do
        IFS=: read -r case conns stream <<<"$spec"
        measure capacity mock-llm "$case" "$rep" "http://127.0.0.1:$SOLO_PORT$PATH_CHAT" "$conns" "$stream" "$SOLO_PID" "$SOLO_PID"
        measure capacity nginx-return "$case" "$rep" "http://127.0.0.1:$STATIC_PORT$PATH_CHAT" "$conns" "$stream" "$STATIC_WORKER" "$STATIC_WORKER"
    done
done
stop "$SOLO_PID" "$STATIC_MASTER"

# --- 2. the shared upstream and the two proxies ----------------------------------------------
start_mock upstream "$LOAD_CPU"
UP_PID=$MOCK_PID UP_PORT=$MOCK_PORT

free_port SY_PORT
cat >"$WORKDIR/switchyard.yaml" <<EOF
server: { listen: "127.0.0.1:$SY_PORT", workers: 1 }
providers:
  up: { type: openai, base_url: "http://127.0.0.1:$UP_PORT/v1", api_key: "sk-bench" }
models:
  bench: { deployments: [ { provider: up, model: mock-gpt } ] }
  bench-paced: { deployments: [ { provider: up, model: "mock-gpt+interval=$TTFB_INTERVAL_MS" } ] }
pipeline:
  router: { strategy: priority }
log: { level: warning, access_log: false }
EOF
taskset -c "$PROXY_CPU" "$SWITCHYARD_BIN" serve --config "$WORKDIR/switchyard.yaml" >"$WORKDIR/switchyard.log" 2>&1 &
SY_PID=$!
STARTED_PIDS+=("$SY_PID")
wait_port "$SY_PORT" "$SY_PID" switchyard
RSS_IDLE_KB=$(rss_kb "$SY_PID")

free_port NX_PORT
free_port NX_STREAM_PORT
start_nginx nginx-proxy proxy.conf.template "$PROXY_CPU" \
    "PORT=$NX_PORT" "STREAM_PORT=$NX_STREAM_PORT" "UPSTREAM_PORT=$UP_PORT"
wait_port "$NX_PORT" "$NGINX_PID" nginx-proxy
wait_port "$NX_STREAM_PORT" "$NGINX_PID" nginx-proxy
NX_WORKER=$NGINX_WORKER_PID
NX_RSS_IDLE_KB=$(rss_kb "$NX_WORKER")

# Smoke test: every path answers 200 with a chat completion before anything is timed.
python3 - "$UP_PORT" "$SY_PORT" "$NX_PORT" "$NX_STREAM_PORT" <<'PY' || die "smoke test failed"
import sys, urllib.request
for port in sys.argv[1:]:
    for stream in (False, True):
        body = ('{"model":"bench",%s"messages":[{"role":"user","content":"hi"}]}'
                % ('"stream":true,' if stream else '')).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=body,
                                         headers={"Content-Type": "application/json"})
        text = urllib.request.urlopen(request, timeout=5).read().decode()
        assert ("chat.completion.chunk" if stream else "chat.completion") in text, (port, text[:200])
PY

# Side by side: Switchyard and nginx served at once on the proxy CPU, each by its own wrk, so
# both meet the same VM speed (this machine's speed moves between runs by more than the gap
# measured). Their CPU per request compare within one moment; throughput does not (each takes
# the CPU the other leaves).
measure_side_by_side() {   # measure_side_by_side REPEAT
    local rep=$1 a b s0 s1 n0 n1 ra rb wa
    a="http://127.0.0.1:$SY_PORT$PATH_CHAT"
    b="http://127.0.0.1:$NX_PORT$PATH_CHAT"
    if (( WARMUP > 0 )); then
        run_wrk "$a" "$CONNECTIONS" "$WARMUP" 0 bench >/dev/null & wa=$!
        run_wrk "$b" "$CONNECTIONS" "$WARMUP" 0 bench >/dev/null; wait "$wa"
    fi
    s0=$(cpu_ticks "$SY_PID"); n0=$(cpu_ticks "$NX_WORKER")
    run_wrk "$a" "$CONNECTIONS" "$DURATION" 0 bench >"$WORKDIR/side-a.json" & wa=$!
    rb=$(run_wrk "$b" "$CONNECTIONS" "$DURATION" 0 bench)
    wait "$wa" || die "wrk against Switchyard failed (side by side)"
    ra=$(<"$WORKDIR/side-a.json")
    s1=$(cpu_ticks "$SY_PID"); n1=$(cpu_ticks "$NX_WORKER")
    printf '{"kind":"side","repeat":%d,"switchyard_ticks":%d,"nginx_ticks":%d,"switchyard":%s,"nginx":%s}\n' \
        "$rep" $(( s1 - s0 )) $(( n1 - n0 )) "$ra" "$rb" >>"$RESULTS"
    SWITCHYARD_SERVED=$(( SWITCHYARD_SERVED + $(json_field "$ra" requests) ))
    log "side by side #$rep: $(( $(json_field "$ra" requests) / DURATION )) + $(( $(json_field "$rb" requests) / DURATION )) req/s"
}

# --- 3. the main cases, targets interleaved within each repeat so drift hits all alike ---------
for rep in $(seq "$REPEATS"); do
    for spec in "${CASES[@]}"; do
        IFS=: read -r case conns stream <<<"$spec"
        nx_port=$NX_PORT
        (( stream )) && nx_port=$NX_STREAM_PORT
        measure main direct "$case" "$rep" "http://127.0.0.1:$UP_PORT$PATH_CHAT" "$conns" "$stream" - "$UP_PID"
        measure main switchyard "$case" "$rep" "http://127.0.0.1:$SY_PORT$PATH_CHAT" "$conns" "$stream" "$SY_PID" "$UP_PID"
        measure main nginx "$case" "$rep" "http://127.0.0.1:$nx_port$PATH_CHAT" "$conns" "$stream" "$NX_WORKER" "$UP_PID"
    done
    measure_side_by_side "$rep"
done

# --- 4. streaming time to first byte (paced upstream, so buffering would show) -----------------
for rep in $(seq "$REPEATS"); do
    for target in direct switchyard nginx; do
        case $target in
            direct) port=$UP_PORT model="bench+interval=$TTFB_INTERVAL_MS" ;;
            switchyard) port=$SY_PORT model=bench-paced ;;
            nginx) port=$NX_STREAM_PORT model="bench+interval=$TTFB_INTERVAL_MS" ;;
        esac
        out=$(timeout 300 taskset -c "$LOAD_CPU" python3 "$BENCH_DIR/ttfb.py" --port "$port" --model "$model" \
            --requests "$TTFB_REQUESTS" 2>>"$WORKDIR/ttfb.log") || die "ttfb.py failed against $target: $out"
        printf '{"kind":"ttfb","target":"%s","repeat":%d,"ttfb":%s}\n' "$target" "$rep" "$out" >>"$RESULTS"
        [[ $target == switchyard ]] && SWITCHYARD_SERVED=$(( SWITCHYARD_SERVED + TTFB_REQUESTS + 10 ))
        log "ttfb/$target #$rep: p50 $(json_field "$out" ttfb_p50_us | cut -d. -f1) us"
    done
done

# --- 5. Switchyard RSS over a long run of BENCH_RSS_REQUESTS requests ---------------------------
RSS_BEFORE_SOAK_KB=$(rss_kb "$SY_PID")
SOAK_SERVED=0 SOAK_RUNS=0 SOAK_SECONDS=0
rate=${SWITCHYARD_RPS:-1000}
while (( SOAK_SERVED < RSS_REQUESTS )); do
    remaining=$(( RSS_REQUESTS - SOAK_SERVED ))
    seconds=$(( remaining * 105 / 100 / (rate > 0 ? rate : 1) + 1 ))
    (( seconds > SOAK_MAX_RUN_SECONDS )) && seconds=$SOAK_MAX_RUN_SECONDS
    result=$(run_wrk "http://127.0.0.1:$SY_PORT$PATH_CHAT" "$CONNECTIONS" "$seconds" 0 bench)
    served=$(json_field "$result" requests)
    (( served > 0 )) || die "RSS soak: Switchyard served nothing"
    SOAK_SERVED=$(( SOAK_SERVED + served )) SOAK_RUNS=$(( SOAK_RUNS + 1 )) SOAK_SECONDS=$(( SOAK_SECONDS + seconds ))
    rate=$(( served / seconds ))
    log "rss soak: $SOAK_SERVED / $RSS_REQUESTS requests, RSS $(rss_kb "$SY_PID") kB"
done
SWITCHYARD_SERVED=$(( SWITCHYARD_SERVED + SOAK_SERVED ))
printf '{"kind":"rss","idle_kb":%d,"before_soak_kb":%d,"after_soak_kb":%d,"soak_requests":%d,"soak_runs":%d,"soak_seconds":%d,"total_served":%d,"nginx_idle_kb":%d,"nginx_after_kb":%d}\n' \
    "$RSS_IDLE_KB" "$RSS_BEFORE_SOAK_KB" "$(rss_kb "$SY_PID")" "$SOAK_SERVED" "$SOAK_RUNS" "$SOAK_SECONDS" \
    "$SWITCHYARD_SERVED" "$NX_RSS_IDLE_KB" "$(rss_kb "$NX_WORKER")" >>"$RESULTS"
kill -0 "$SY_PID" 2>/dev/null || die "Switchyard died during the run"

# --- 6. report ---------------------------------------------------------------------------------
STAMP=$(date +%Y%m%d-%H%M%S)
mkdir -p "$BENCH_DIR/out"
REPORT="$BENCH_DIR/out/report-$STAMP.md"
cp "$RESULTS" "$BENCH_DIR/out/results-$STAMP.jsonl"
cp "$WORKDIR/wrk.log" "$BENCH_DIR/out/wrk-$STAMP.log"
settings="BENCH_DURATION=$DURATION BENCH_REPEATS=$REPEATS BENCH_WARMUP=$WARMUP BENCH_RSS_REQUESTS=$RSS_REQUESTS"
settings+=" BENCH_TTFB_REQUESTS=$TTFB_REQUESTS BENCH_TTFB_INTERVAL_MS=$TTFB_INTERVAL_MS BENCH_CONNECTIONS=$CONNECTIONS"
settings+=" BENCH_PROXY_CPU=$PROXY_CPU BENCH_LOAD_CPU=$LOAD_CPU"
python3 "$BENCH_DIR/report.py" --results "$RESULTS" --clk-tck "$CLK_TCK" --duration "$DURATION" \
    --command "$settings $COMMAND_LINE" --proxy-cpu "$PROXY_CPU" --load-cpu "$LOAD_CPU" \
    --connections "$CONNECTIONS" --ttfb-interval-ms "$TTFB_INTERVAL_MS" \
    --versions "$("$NGINX" -v 2>&1 | head -1); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); switchyard $SWITCHYARD_BIN; mock-llm $MOCK_LLM_BIN" \
    --results-file "bench/out/results-$STAMP.jsonl" >"$REPORT"
cat "$REPORT"
log "report written to $REPORT"
