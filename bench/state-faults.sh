#!/usr/bin/env bash
# Issue 3's fault soak: a gateway (2 workers) on a Redis state store, /ready hammered with wrk
# while Redis alternates between answering and SIGSTOP, then killed. Reports, per phase, the
# requests served, how many /ready answered 503, that chat completions still answer 200, and
# the gateway's RSS (it must stay flat: no leak per store command or per timed-out command).
#   bench/state-faults.sh            # BENCH_PHASE_SECONDS=5
# Loopback only; bounded (5 phases); every process it starts is stopped on exit.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${BENCH_PHASE_SECONDS:-5}"
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
command -v redis-server >/dev/null || bash scripts/setup.sh --test
command -v wrk >/dev/null || bash scripts/setup.sh --bench
bin="${SWITCHYARD_BIN:-$root/.build/release/switchyard}"
[ -x "$bin" ] || swift build -c release --product switchyard

work="$(mktemp -d /tmp/switchyard-faults.XXXXXX)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
redis_port="$(free_port)"; gw_port="$(free_port)"
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work" --save "" --appendonly no \
  --daemonize yes --pidfile "$work/redis.pid" --logfile "$work/redis.log"
for _ in $(seq 1 100); do redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done
redis_pid="$(cat "$work/redis.pid")"
cat > "$work/gateway.yaml" <<YAML
server: { listen: "127.0.0.1:$gw_port", workers: 2 }
state: { backend: redis, url: "redis://127.0.0.1:$redis_port/0" }
providers: { mock: { type: mock } }
models: { m: { deployments: [ { provider: mock, model: mock-gpt } ] } }
pipeline: { router: { strategy: priority } }
log: { level: warning, access_log: false }
YAML
"$bin" serve --config "$work/gateway.yaml" > "$work/gateway.log" 2>&1 &
gw_pid=$!
cleanup() { kill -CONT "$redis_pid" 2>/dev/null || true; kill "$redis_pid" "$gw_pid" 2>/dev/null || true; wait "$gw_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$gw_port/health" && break; sleep 0.05; done

rss() { awk '/VmRSS/ {print $2}' "/proc/$gw_pid/status"; }
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
chat() { status "http://127.0.0.1:$gw_port/v1/chat/completions" -d '{"model":"m","messages":[{"role":"user","content":"x"}]}'; }

echo "| phase | /ready requests | /ready 503s | last /ready | chat | gateway RSS |"
echo "|---|---:|---:|---:|---:|---:|"
echo "| start | — | — | $(status "http://127.0.0.1:$gw_port/ready") | $(chat) | $(rss) kB |"
for phase in answering stopped answering stopped answering; do
  if [ "$phase" = stopped ]; then kill -STOP "$redis_pid"; else kill -CONT "$redis_pid"; fi
  out="$(wrk -t1 -c32 -d"${seconds}s" "http://127.0.0.1:$gw_port/ready")"
  served="$(echo "$out" | awk '/requests in/ {print $1}')"
  refused="$(echo "$out" | awk -F': ' '/Non-2xx/ {print $2}')"
  echo "| Redis $phase | $served | ${refused:-0} | $(status "http://127.0.0.1:$gw_port/ready") | $(chat) | $(rss) kB |"
done
kill -CONT "$redis_pid"; kill "$redis_pid"; sleep 0.5
echo "| Redis killed | — | — | $(status "http://127.0.0.1:$gw_port/ready") | $(chat) | $(rss) kB |"
