#!/usr/bin/env python3
"""CPU per request of two gateway builds served side by side, so a change of a few percent can
be seen on this noisy 2-CPU VM.

Both gateways (A and B, one worker each, the same chain of bench/ratelimit.sh) run on CPU 0 at
once, each loaded by its own `wrk -t1` on CPU 1 for the same seconds: whatever speed the VM has
in that minute, both meet it. Each pair reports the CPU time each gateway used (utime + stime
from /proc) per request it answered, and B's over A's; pairs start fresh processes. The
upstream is mock-llm on CPU 1 (`--upstream mock-llm`, the default) or the built-in mock;
redis-server, for the `redis` chain, on CPU 1 too, `busy_poll: 0s` so that polling for a reply
is not counted as work. Loopback only; everything it starts is stopped when it ends.

Usage: bench/pair.py A_BIN B_BIN [--chain plain|memory|redis] [--upstream mock-llm|inprocess]
                     [--pairs 5] [--seconds 5] [--connections 16] [--mock-llm BIN]
"""
import argparse, os, re, shutil, statistics, subprocess, sys, tempfile

from benchlib import free_port, gateway_config, load_servers, wait_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid):
    """utime + stime of a process, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wrk(port, seconds, connections):
    return subprocess.Popen(["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s",
                             os.path.join(ROOT, "bench", "chat.lua"), f"http://127.0.0.1:{port}/v1/chat/completions"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def requests(output):
    if "Non-2xx" in output:
        sys.exit(f"a gateway answered errors:\n{output}")
    return int(re.search(r"(\d+) requests in", output).group(1))


def pair(binaries, configs, ports, args):
    """(A's µs per request, B's) for one pair of fresh gateways."""
    gateways = [subprocess.Popen(["taskset", "-c", "0", binary, "serve", "--config", config], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL) for binary, config in zip(binaries, configs)]
    try:
        for gateway, port in zip(gateways, ports):
            wait_port(port, gateway, "a gateway")
        for load in [wrk(port, 1, args.connections) for port in ports]:  # warm-up, together
            load.communicate()
        before = [cpu_ticks(gateway.pid) for gateway in gateways]
        loads = [wrk(port, args.seconds, args.connections) for port in ports]
        served = [requests(load.communicate()[0]) for load in loads]
        after = [cpu_ticks(gateway.pid) for gateway in gateways]
    finally:
        for gateway in gateways:
            gateway.terminate()
            gateway.wait()
    return [(a - b) * 1e6 / CLK_TCK / n for a, b, n in zip(after, before, served)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--chain", choices=["plain", "memory", "redis"], default="redis")
    parser.add_argument("--upstream", choices=["inprocess", "mock-llm"], default="mock-llm")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--mock-llm", default=os.path.join(ROOT, ".build/release/mock-llm"))
    args = parser.parse_args()
    for tool in ["wrk", "taskset"] + (["redis-server"] if args.chain == "redis" else []):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing (scripts/setup.sh --test --bench)")
    for binary in [args.a, args.b] + ([args.mock_llm] if args.upstream == "mock-llm" else []):
        if not os.access(binary, os.X_OK):
            sys.exit(f"no binary at {binary}")
    workdir = tempfile.mkdtemp(prefix="switchyard-pair.")
    mock_llm = args.mock_llm if args.upstream == "mock-llm" else None
    try:
        with load_servers(mock_llm=mock_llm, redis=args.chain == "redis") as (upstream_port, redis_port):
            ports = [free_port(), free_port()]
            configs = []
            for name, port in zip("ab", ports):
                path = os.path.join(workdir, f"{name}.yaml")
                with open(path, "w") as f:
                    f.write(gateway_config(args.chain, port, upstream_port, redis_port, busy_poll="0s"))
                configs.append(path)
            print(f"# {args.chain} chain, {args.upstream} upstream: CPU µs per request, A and B side by side on CPU 0 "
                  f"(wrk -t1 -c{args.connections} each, {args.seconds} s)")
            print("| pair | A | B | B / A |")
            print("|---|---:|---:|---:|")
            ratios = []
            for i in range(args.pairs):
                a, b = pair([args.a, args.b], configs, ports, args)
                ratios.append(b / a)
                print(f"| {i + 1} | {a:.2f} | {b:.2f} | {b / a:.3f} |", flush=True)
            print(f"\nmedian B / A: {statistics.median(ratios):.3f}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

if __name__ == "__main__":
    main()
