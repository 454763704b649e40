#!/usr/bin/env python3
"""User-space instructions per request of a Switchyard gateway under load, counted by callgrind.

The throughput benchmarks on this 2-CPU VM move by a factor of two from one minute to the next
with the host's load; instruction counts do not, so they show what a change to the gateway's
code did. For each chain of bench/ratelimit.sh (`plain`: router only; `memory`: auth +
rate_limit on the memory store; `redis`: the same on Redis, `busy_poll: 0s` so that polling for
a reply is not counted as work) this runs the gateway (1 worker, CPU 0) under valgrind's
callgrind twice, with `wrk -t1 -c32` (`--connections`) on CPU 1 for a short and a long run, and reports
(instructions of the long run - of the short) / (requests of the long - of the short): start-up,
configuration and warm-up drop out. The upstream is the built-in mock provider (`inprocess`) or a
mock-llm server on CPU 1 (`--upstream mock-llm`); redis-server, when needed, runs on CPU 1 too.

Usage: bench/instructions.py [--chains plain,memory,redis] [--upstream inprocess|mock-llm]
                             [--switchyard BIN] [--mock-llm BIN] [--seconds 3,9] [--connections 32]
Needs valgrind and wrk (scripts/setup.sh --bench), redis-server (--test). Loopback only;
everything it starts is stopped when it ends. The binary is stripped of its debug sections
first (valgrind reads Swift's DWARF slowly and sometimes not at all).
"""
import argparse, os, re, shutil, subprocess, sys, tempfile

from benchlib import free_port, gateway_config, load_servers, wait_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
def run(binary, config_path, port, seconds, workdir, connections):
    """(requests served, instructions counted) for one gateway under callgrind and `seconds` of wrk."""
    log = os.path.join(workdir, f"valgrind-{seconds}.log")
    with open(log, "w") as stderr:
        # The gateway raises glibc's per-thread cache by re-executing itself (MallocTuning), which
        # it skips under valgrind: the same tunable is set here, or malloc's slow path is counted.
        env = dict(os.environ, GLIBC_TUNABLES="glibc.malloc.tcache_count=64")
        gateway = subprocess.Popen(["taskset", "-c", "0", "valgrind", "--tool=callgrind", "--dump-instr=no",
                                    f"--callgrind-out-file={workdir}/callgrind.{seconds}", binary, "serve", "--config",
                                    config_path], stdout=subprocess.DEVNULL, stderr=stderr, env=env)
    try:
        wait_port(port, gateway, "switchyard under valgrind")
        out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s",
                              os.path.join(ROOT, "bench", "chat.lua"), f"http://127.0.0.1:{port}/v1/chat/completions"],
                             capture_output=True, text=True, check=True).stdout
    finally:
        gateway.terminate()
        gateway.wait()
    if "Non-2xx" in out:
        sys.exit(f"the gateway answered errors:\n{out}")
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return requests, int(re.search(r"Collected : (\d+)", open(log).read()).group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", default="plain,memory,redis")
    parser.add_argument("--upstream", choices=["inprocess", "mock-llm"], default="inprocess")
    parser.add_argument("--switchyard", default=os.path.join(ROOT, ".build/release/switchyard"))
    parser.add_argument("--mock-llm", default=os.path.join(ROOT, ".build/release/mock-llm"))
    parser.add_argument("--seconds", default="3,9", help="the short and the long run's wrk seconds")
    parser.add_argument("--connections", type=int, default=32, help="wrk's connections")
    args = parser.parse_args()
    chains = args.chains.split(",")
    short, long = (int(s) for s in args.seconds.split(","))
    for tool in ["valgrind", "wrk", "taskset", "objcopy"] + (["redis-server"] if "redis" in chains else []):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing (scripts/setup.sh --test --bench)")
    for binary in [args.switchyard] + ([args.mock_llm] if args.upstream == "mock-llm" else []):
        if not os.access(binary, os.X_OK):
            sys.exit(f"no binary at {binary} (swift build -c release)")
    workdir = tempfile.mkdtemp(prefix="switchyard-instructions.")
    mock_llm = args.mock_llm if args.upstream == "mock-llm" else None
    try:
        binary = os.path.join(workdir, "switchyard")
        subprocess.run(["objcopy", "--strip-debug", args.switchyard, binary], check=True)
        with load_servers(mock_llm=mock_llm, redis="redis" in chains) as (upstream_port, redis_port):
            print(f"# user-space instructions per request, callgrind, wrk -t1 -c{args.connections}, {args.upstream} upstream "
                  f"({long} s run minus {short} s run)")
            print("| chain | instructions per request | requests counted |")
            print("|---|---:|---:|")
            for chain in chains:
                port = free_port()
                path = os.path.join(workdir, f"{chain}.yaml")
                with open(path, "w") as f:
                    f.write(gateway_config(chain, port, upstream_port, redis_port, busy_poll="0s",
                                           connections=args.connections))
                n1, i1 = run(binary, path, port, short, workdir, args.connections)
                n2, i2 = run(binary, path, port, long, workdir, args.connections)
                print(f"| {chain} | {(i2 - i1) / (n2 - n1):,.0f} | {n2 - n1:,} |")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

if __name__ == "__main__":
    main()
