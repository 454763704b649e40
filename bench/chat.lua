-- wrk script for Switchyard's benchmark (bench/run.sh): POSTs one chat completion per request.
-- Environment: BENCH_MODEL (default "bench"), BENCH_STREAM=1 for "stream": true.
-- done() prints one machine-readable line, "BENCH_RESULT {json}", with exact microsecond
-- percentiles so run.sh does not have to parse wrk's rounded, unit-suffixed text.

local model = os.getenv("BENCH_MODEL") or "bench"
local stream = os.getenv("BENCH_STREAM") == "1"

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
if stream then
  wrk.headers["Accept"] = "text/event-stream"
  wrk.body = '{"model":"' .. model .. '","stream":true,"messages":[{"role":"user","content":"hi"}]}'
else
  wrk.body = '{"model":"' .. model .. '","messages":[{"role":"user","content":"hi"}]}'
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
