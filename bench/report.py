#!/usr/bin/env python3
"""Turns bench/run.sh's results (JSON lines) into the Markdown report, printed on stdout.

Every figure is the median over the repeats of that cell; CPU per request is the process's
utime+stime delta over the measured run (clock ticks / CLK_TCK) divided by wrk's request
count. Standard library only.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess

TARGET_LABEL = {
    "direct": "direct → mock-llm",
    "switchyard": "Switchyard (1 worker)",
    "nginx": "nginx proxy_pass (1 worker)",
    "mock-llm": "mock-llm (1 worker)",
    "nginx-return": "nginx `return 200` (1 worker)",
}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def nproc():
    try:
        return subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return str(os.cpu_count())


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt_us(value):
    if value is None:
        return "—"
    return f"{value:,.0f} µs" if abs(value) >= 100 else f"{value:,.1f} µs"


def fmt_rps(value):
    return "—" if value is None else f"{value:,.0f}"


def fmt_ratio(value):
    return "—" if value is None else f"{value:.2f}×"


class Cell:
    """The repeats of one (table, target, case) wrk measurement, reduced to medians."""

    def __init__(self, records, clk_tck):
        self.records = records
        self.clk_tck = clk_tck

    def _per_run(self, fn):
        return [fn(r) for r in self.records]

    @staticmethod
    def _rps(record):
        w = record["wrk"]
        return w["requests"] / (w["duration_us"] / 1e6)

    def rps(self):
        return median(self._per_run(self._rps))

    def rps_range(self):
        runs = self._per_run(self._rps)
        return (min(runs), max(runs)) if len(runs) > 1 else None

    def latency(self, key):
        return median(self._per_run(lambda r: r["wrk"][key]))

    def cpu_us(self, ticks_key):
        def one(record):
            ticks, requests = record[ticks_key], record["wrk"]["requests"]
            if ticks is None or requests == 0:
                return None
            return ticks / self.clk_tck * 1e6 / requests
        return median(self._per_run(one))

    def busy_percent(self, ticks_key):
        """CPU time over wall time of the measured run: near 100 % means that process's core was the limit."""
        def one(record):
            ticks = record[ticks_key]
            return None if ticks is None else ticks / self.clk_tck * 1e8 / record["wrk"]["duration_us"]
        return median(self._per_run(one))

    def errors(self):
        keys = ("err_connect", "err_read", "err_write", "err_status", "err_timeout")
        return sum(r["wrk"][k] for r in self.records for k in keys)


def wrk_table(cells, targets, case, cpu_columns):
    """One Markdown table; cpu_columns lists (header, record key of the CPU tick delta)."""
    header = ["target", "req/s", "req/s range", "p50", "p99"]
    for name, _ in cpu_columns:
        header += [f"{name} CPU/req", f"{name} busy"]
    header.append("errors")
    rows = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for target in targets:
        cell = cells.get(case, {}).get(target)
        if cell is None:
            continue
        spread = cell.rps_range()
        errors = cell.errors()
        row = [TARGET_LABEL[target], fmt_rps(cell.rps()),
               f"{spread[0]:,.0f}–{spread[1]:,.0f}" if spread else "—",
               fmt_us(cell.latency("p50_us")), fmt_us(cell.latency("p99_us"))]
        for _, key in cpu_columns:
            busy = cell.busy_percent(key)
            row += [fmt_us(cell.cpu_us(key)), "—" if busy is None else f"{busy:.0f} %"]
        row.append(str(errors) if errors == 0 else f"**{errors}**")
        rows.append("| " + " | ".join(row) + " |")
    return "\n".join(rows)


def main():
    parser = argparse.ArgumentParser()
    for name in ("results", "command", "versions", "results-file"):
        parser.add_argument("--" + name, required=True)
    for name in ("clk-tck", "duration", "proxy-cpu", "load-cpu", "connections", "ttfb-interval-ms"):
        parser.add_argument("--" + name, type=int, required=True)
    args = parser.parse_args()

    records = [json.loads(line) for line in open(args.results) if line.strip()]
    cells = {"capacity": {}, "main": {}}
    grouped = {}
    for r in records:
        if r["kind"] == "wrk":
            grouped.setdefault((r["table"], r["case"], r["target"]), []).append(r)
    for (table, case, target), rs in grouped.items():
        cells[table].setdefault(case, {})[target] = Cell(rs, args.clk_tck)
    ttfb = {}
    for r in records:
        if r["kind"] == "ttfb":
            ttfb.setdefault(r["target"], []).append(r["ttfb"])
    rss = next((r for r in records if r["kind"] == "rss"), None)
    repeats = max((r.get("repeat", 1) for r in records), default=1)
    c = args.connections
    cases = [(f"nonstream-c{c}", f"Non-streaming, `-c{c}`"), ("nonstream-c1", "Non-streaming, `-c1`"),
             (f"stream-c{c}", f"Streaming (`\"stream\": true`), `-c{c}`")]

    out = []
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    with open("/proc/loadavg") as load:
        loadavg = " ".join(load.read().split()[:3])
    out += ["# Switchyard benchmark", "",
            f"- date: {now}",
            f"- machine: {nproc()} CPUs, {cpu_model()}, kernel {platform.release()}, load average at end {loadavg}",
            f"- tools: {args.versions}",
            f"- command: `{args.command}`",
            f"- pinning: proxy (Switchyard / nginx worker) on CPU {args.proxy_cpu}; upstream mock-llm and wrk "
            f"on CPU {args.load_cpu}. wrk `-t1`, {args.duration} s per run after a warm-up run, "
            f"median of {repeats} repeat(s); targets interleaved within each repeat.",
            f"- raw results: `{args.results_file}`", ""]

    out += ["## Upstream capacity: mock-llm vs nginx `return 200` (server alone on CPU "
            f"{args.proxy_cpu}, wrk on CPU {args.load_cpu})", "",
            "Same response bytes (nginx returns a captured mock-llm reply). If mock-llm here is far above "
            "the proxied figures below, the mock is not what limits them.", ""]
    for case, title in cases[:2]:
        out += [f"### {title}", "",
                wrk_table(cells["capacity"], ["mock-llm", "nginx-return"], case, [("server", "proxy_ticks")]), ""]

    out += ["## Proxy overhead: direct vs Switchyard vs nginx, same upstream", ""]
    for case, title in cases:
        out += [f"### {title}", "",
                wrk_table(cells["main"], ["direct", "switchyard", "nginx"], case,
                          [("proxy", "proxy_ticks"), ("upstream", "upstream_ticks")]), ""]

    out += [f"### Streaming time to first byte (ttfb.py, sequential, keep-alive, upstream paced "
            f"{args.ttfb_interval_ms} ms between events)", "",
            "| target | TTFB p50 | TTFB p90 | TTFB p99 | whole stream p50 | requests | errors |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for target in ("direct", "switchyard", "nginx"):
        runs = ttfb.get(target)
        if not runs:
            continue
        m = lambda key: median([run[key] for run in runs])
        out.append(f"| {TARGET_LABEL[target]} | {fmt_us(m('ttfb_p50_us'))} | {fmt_us(m('ttfb_p90_us'))} | "
                   f"{fmt_us(m('ttfb_p99_us'))} | {fmt_us(m('total_p50_us'))} | "
                   f"{sum(r['requests'] for r in runs)} | {sum(r['errors'] for r in runs)} |")
    out.append("")

    main_cells = cells["main"]

    def get(case, target):
        return main_cells.get(case, {}).get(target)

    def ratio(case, key_fn, a, b):
        x, y = get(case, a), get(case, b)
        if x is None or y is None or not key_fn(y):
            return None
        return key_fn(x) / key_fn(y)

    def diff(case, key, a, b):
        x, y = get(case, a), get(case, b)
        return None if x is None or y is None else x.latency(key) - y.latency(key)

    out += ["## Ratios (from the medians above)", "", "| figure | value |", "|---|---:|"]
    for case, title in cases:
        out.append(f"| throughput Switchyard / nginx — {title} | "
                   f"{fmt_ratio(ratio(case, Cell.rps, 'switchyard', 'nginx'))} |")
    for case, title in cases:
        out.append(f"| throughput Switchyard / direct — {title} | "
                   f"{fmt_ratio(ratio(case, Cell.rps, 'switchyard', 'direct'))} |")
    out.append(f"| added p50 at `-c1`: Switchyard − direct | {fmt_us(diff('nonstream-c1', 'p50_us', 'switchyard', 'direct'))} |")
    out.append(f"| added p50 at `-c1`: nginx − direct | {fmt_us(diff('nonstream-c1', 'p50_us', 'nginx', 'direct'))} |")
    out.append(f"| added p99 at `-c1`: Switchyard − direct | {fmt_us(diff('nonstream-c1', 'p99_us', 'switchyard', 'direct'))} |")
    for target in ("switchyard", "nginx"):
        if ttfb.get(target) and ttfb.get("direct"):
            added = (median([r["ttfb_p50_us"] for r in ttfb[target]])
                     - median([r["ttfb_p50_us"] for r in ttfb["direct"]]))
            out.append(f"| added streaming TTFB p50: {target} − direct | {fmt_us(added)} |")
    cpu_ratio = ratio(f"nonstream-c{c}", lambda cell: cell.cpu_us("proxy_ticks"), "switchyard", "nginx")
    out += [f"| proxy CPU/req Switchyard / nginx — non-streaming `-c{c}` | {fmt_ratio(cpu_ratio)} |", ""]

    sides = [r for r in records if r["kind"] == "side"]
    if sides:
        def side_cpu(r, target):
            return r[f"{target}_ticks"] / args.clk_tck * 1e6 / r[target]["requests"]
        sy = [side_cpu(r, "switchyard") for r in sides]
        nx = [side_cpu(r, "nginx") for r in sides]
        ratios = [n / s for s, n in zip(sy, nx)]
        out += [f"## Side by side, non-streaming `-c{c}`: Switchyard and nginx served at once on CPU {args.proxy_cpu}", "",
                "Each proxy has its own wrk; both meet the same VM speed, so their CPU per request compare within "
                "one moment (their throughputs do not: each takes the CPU the other leaves). nginx / Switchyard "
                "is the throughput ratio they would have with the CPU as the only limit.", "",
                "| figure | median | per repeat |", "|---|---:|---|",
                f"| Switchyard: proxy CPU/req | {fmt_us(median(sy))} | " + ", ".join(f"{v:.1f}" for v in sy) + " |",
                f"| nginx: proxy CPU/req | {fmt_us(median(nx))} | " + ", ".join(f"{v:.1f}" for v in nx) + " |",
                f"| CPU per request, nginx / Switchyard | {fmt_ratio(median(ratios))} | "
                + ", ".join(f"{v:.2f}" for v in ratios) + " |", ""]

    if rss:
        growth = rss["after_soak_kb"] - rss["before_soak_kb"]
        out += ["## Switchyard memory (VmRSS)", "",
                "| moment | Switchyard RSS | nginx worker RSS |", "|---|---:|---:|",
                f"| idle, before any request | {rss['idle_kb']:,} kB | {rss['nginx_idle_kb']:,} kB |",
                f"| after all cases above, before the long run | {rss['before_soak_kb']:,} kB | — |",
                f"| after the long run | {rss['after_soak_kb']:,} kB | {rss['nginx_after_kb']:,} kB |", "",
                f"Long run: {rss['soak_requests']:,} requests (`-c{c}`, non-streaming) in {rss['soak_runs']} wrk "
                f"run(s), {rss['soak_seconds']} s; growth over it {growth:+,} kB. Switchyard answered "
                f"{rss['total_served']:,} requests in total during this benchmark.", ""]
    print("\n".join(out))


if __name__ == "__main__":
    main()
