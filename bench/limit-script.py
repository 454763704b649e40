#!/usr/bin/env python3
"""What the rate-limit admission script costs inside Redis, per call and per request.

Starts a redis-server and a Switchyard gateway (the bench tier of bench/ratelimit.sh) on
loopback, captures the admission script the gateway loads (`MONITOR`, the first `EVAL` that
answers packed integers), stops the gateway, then calls the script itself with batches of N
admissions of one caller and one riding settlement that stands for the N requests of the batch
before (as the gateway sends them under load), and reads Redis's own time for it (`INFO
commandstats`, usec per call of `evalsha`). Each N: `--rounds` rounds of `--calls` calls after a
`FLUSHALL`; the minimum over rounds is reported, since the VM's other tenants only ever add.

With `--callgrind`, each N instead runs on a fresh redis-server under valgrind's callgrind,
counting only what `EVALSHA` runs (`--toggle-collect=evalGenericCommand`): instructions per
call, the difference of a short and a long run so start-up and loading drop out. Those counts
do not move with the VM's speed, so they compare two versions of the script where times on this
machine cannot (they vary twofold from one minute to the next).

Usage: bench/limit-script.py [--switchyard BIN] [--sizes 1,4,13,26,52] [--rounds 5] [--calls 300] [--callgrind]
Loopback only; everything it starts is stopped when it ends.
"""
import argparse, os, re, shutil, socket, struct, subprocess, sys, tempfile, threading, time

from benchlib import free_port, gateway_config, load_servers, redis_command, wait_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Redis:
    """A minimal RESP client: enough for commands and their replies."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))

    def read(self):
        line = self.file.readline()
        kind, rest = line[:1], line[1:-2]
        if kind in (b"+", b"-"):
            return rest if kind == b"+" else RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.file.read(n + 2)[:-2]
        if kind == b"*":
            return [self.read() for _ in range(int(rest))]
        raise RuntimeError(f"unexpected reply {line!r}")

    def call(self, *args):
        self.send(*args)
        reply = self.read()
        if isinstance(reply, RuntimeError):
            raise reply
        return reply


def unescape(quoted):
    """An argument as MONITOR prints it (sdscatrepr) back to its bytes."""
    out, i = bytearray(), 0
    simple = {"n": 10, "r": 13, "t": 9, "a": 7, "b": 8, "\\": 92, '"': 34}
    while i < len(quoted):
        c = quoted[i]
        if c == "\\" and quoted[i + 1] == "x":
            out.append(int(quoted[i + 2:i + 4], 16))
            i += 4
        elif c == "\\":
            out.append(simple[quoted[i + 1]])
            i += 2
        else:
            out += c.encode()
            i += 1
    return bytes(out)


def capture_admission_script(binary, redis_port, workdir):
    """Runs the gateway until it has loaded its scripts; returns the admission script's text."""
    monitor = Redis(redis_port)
    monitor.send("MONITOR")
    monitor.read()
    bodies = []

    def watch():
        for line in monitor.file:
            m = re.match(rb'\+\S+ \[\S+ \S+\] "EVAL" "((?:[^"\\]|\\.)*)"', line)
            if m:
                bodies.append(unescape(m.group(1).decode("latin-1")))

    threading.Thread(target=watch, daemon=True).start()
    port = free_port()
    config = os.path.join(workdir, "redis.yaml")
    with open(config, "w") as f:
        f.write(gateway_config("redis", port, redis_port=redis_port))
    gateway = subprocess.Popen([binary, "serve", "--config", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, gateway, "switchyard")
        body = b'{"model":"bench","messages":[{"role":"user","content":"hi"}]}'
        request = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-bench\r\n"
                   b"Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        for _ in range(2):  # the second request carries the first one's settlement
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(request)
                while s.recv(65536):
                    pass
        for _ in range(100):
            found = [b for b in bodies if b"return struct.pack" in b]
            if found:
                return found[0]
            time.sleep(0.05)
        sys.exit("the gateway loaded no admission script")
    finally:
        gateway.terminate()
        gateway.wait()
        # A monitor is fed every command Redis runs, scripts' included: it must not stay.
        monitor.sock.shutdown(socket.SHUT_RDWR)
        monitor.sock.close()


KEY = "sy:{c:bench}:l"


def call(redis, sha, n):
    """One call as the gateway makes it under load: N admissions of the bench caller, and one
    riding settlement for the batch before's N requests (admitted together just now, 700 tokens
    reserved each), whose leases are in this batch's slot. Its time is taken per call: a fixed
    one falls out of the slot after 37.5 s, and a slow run (callgrind) would then measure
    settlements that cannot share the admission's write."""
    admissions = struct.pack("<" + "q" * (2 + n), 1, n, *[700] * n)  # the caller's key, its run's length, reservations
    rider = struct.pack("<7q", 1, int(time.time() * 1e6), n, 700 * n, 12 * n, 20 * n, 0)
    redis.call("EVALSHA", sha, 1, KEY, admissions, rider)


def measure(redis, script, sizes, rounds, calls):
    sha = redis.call("SCRIPT", "LOAD", script).decode()
    best = {}
    for _ in range(rounds):
        for n in sizes:
            redis.call("FLUSHALL")
            for _ in range(20):
                call(redis, sha, n)
            redis.call("CONFIG", "RESETSTAT")
            for _ in range(calls):
                call(redis, sha, n)
            stats = redis.call("INFO", "commandstats").decode()
            usec = float(re.search(r"cmdstat_evalsha:calls=\d+,usec=\d+,usec_per_call=([\d.]+)", stats).group(1))
            best[n] = min(best.get(n, float("inf")), usec)
    return best


def instructions(script, n, calls, workdir):
    """Instructions valgrind counts inside EVALSHA over `calls` calls, on a fresh server."""
    port = free_port()
    out = os.path.join(workdir, f"callgrind.{n}.{calls}")
    log = os.path.join(workdir, f"valgrind.{n}.{calls}.log")
    with open(log, "w") as stderr:
        server = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-instr=no",
                                   "--toggle-collect=evalGenericCommand"] + redis_command(port), stdout=subprocess.DEVNULL,
                                  stderr=stderr)
    try:
        wait_port(port, server, "redis-server under valgrind")
        redis = Redis(port)
        sha = redis.call("SCRIPT", "LOAD", script).decode()
        for _ in range(calls):
            call(redis, sha, n)
    finally:
        server.terminate()
        server.wait()
    return int(re.search(r"Collected : (\d+)", open(log).read()).group(1))


def count_instructions(script, sizes, calls, workdir):
    short = max(1, calls // 5)
    return {n: (instructions(script, n, calls + short, workdir) - instructions(script, n, short, workdir)) / calls for n in sizes}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--switchyard", default=os.path.join(ROOT, ".build/release/switchyard"))
    parser.add_argument("--sizes", default="1,4,13,26,52")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--callgrind", action="store_true", help="count instructions under valgrind instead of timing")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if not os.access(args.switchyard, os.X_OK):
        sys.exit(f"no binary at {args.switchyard} (swift build -c release --product switchyard)")
    if not shutil.which("redis-server"):
        sys.exit("redis-server is missing (scripts/setup.sh --test)")
    if args.callgrind and not shutil.which("valgrind"):
        sys.exit("valgrind is missing (scripts/setup.sh --bench)")
    workdir = tempfile.mkdtemp(prefix="switchyard-limit-script.")
    try:
        with load_servers(redis=True, cpu=None) as (_, redis_port):
            script = capture_admission_script(args.switchyard, redis_port, workdir)
            if args.callgrind:
                counts = count_instructions(script, sizes, args.calls, workdir)
            else:
                best = measure(Redis(redis_port), script, sizes, args.rounds, args.calls)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2].removeprefix("v=")
    if args.callgrind:
        print(f"# admission script of the bench tier, Redis {version}; instructions inside EVALSHA (callgrind), {args.calls} calls")
        print("| requests per call | instructions per call | per request |")
        print("|---:|---:|---:|")
        for n in sizes:
            print(f"| {n} | {counts[n]:,.0f} | {counts[n] / n:,.0f} |")
        return
    print(f"# admission script of the bench tier, Redis {version}; min of {args.rounds} rounds of {args.calls} calls")
    print("| requests per call | µs per call | µs per request |")
    print("|---:|---:|---:|")
    for n in sizes:
        print(f"| {n} | {best[n]:.1f} | {best[n] / n:.2f} |")


if __name__ == "__main__":
    main()
