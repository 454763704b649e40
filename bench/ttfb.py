#!/usr/bin/env python3
"""Time-to-first-byte of streamed chat completions, for bench/run.sh.

Sends N sequential `"stream": true` requests over one keep-alive connection (reconnecting,
outside the timed window, only if the server closes it) and times, per request, from just
before the request is written until the first byte of the first SSE event's payload
arrives (after the head and the chunk-size line), and until the stream's last byte.
Prints one JSON object with percentiles in microseconds. Standard library only.
"""
import argparse
import json
import math
import socket
import statistics
import sys
import time


def percentile(sorted_values, fraction):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


class Connection:
    """One keep-alive HTTP/1.1 client connection with a receive buffer."""

    def __init__(self, host, port, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        self.buf += data

    def read_until(self, marker):
        while True:
            at = self.buf.find(marker)
            if at >= 0:
                out, self.buf = self.buf[:at], self.buf[at + len(marker):]
                return out
            self.fill()

    def read_exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def close(self):
        self.sock.close()


def one_request(conn, request):
    """Returns (status, ttfb_seconds, total_seconds, keep_alive)."""
    start = time.perf_counter()
    conn.sock.sendall(request)
    head = conn.read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
    status = int(head[0].split(" ")[1])
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    keep_alive = headers.get("connection") != "close"
    first = None
    if "chunked" in headers.get("transfer-encoding", ""):
        while True:
            size = int(conn.read_until(b"\r\n").split(b";")[0], 16)
            if size == 0:
                conn.read_until(b"\r\n")  # no trailers expected: the empty line ending the body
                break
            if first is None:
                if not conn.buf:
                    conn.fill()
                first = time.perf_counter()  # first payload byte of the first event is in hand
            conn.read_exact(size + 2)
    elif "content-length" in headers:
        length = int(headers["content-length"])
        if length > 0:
            if not conn.buf:
                conn.fill()
            first = time.perf_counter()
            conn.read_exact(length)
    else:  # close-delimited
        keep_alive = False
        try:
            while True:
                conn.fill()
                if first is None:
                    first = time.perf_counter()
        except ConnectionError:
            pass
    end = time.perf_counter()
    return status, (first or end) - start, end - start, keep_alive


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", default="bench")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()

    body = json.dumps({"model": args.model, "stream": True,
                       "messages": [{"role": "user", "content": "hi"}]}, separators=(",", ":")).encode()
    request = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n"
               "Content-Type: application/json\r\nAccept: text/event-stream\r\n"
               "Authorization: Bearer sk-bench\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    ttfbs, totals, errors = [], [], 0
    conn = None
    for index in range(args.warmup + args.requests):
        if conn is None:
            conn = Connection(args.host, args.port, args.timeout)
        try:
            status, ttfb, total, keep_alive = one_request(conn, request)
        except (OSError, ValueError, IndexError) as error:
            print(f"ttfb: request {index} failed: {error}", file=sys.stderr)
            errors += 1
            conn.close()
            conn = None
            continue
        if not keep_alive:
            conn.close()
            conn = None
        if status != 200:
            errors += 1
        elif index >= args.warmup:
            ttfbs.append(ttfb * 1e6)
            totals.append(total * 1e6)
    if conn is not None:
        conn.close()

    ttfbs.sort()
    totals.sort()
    print(json.dumps({
        "requests": len(ttfbs), "errors": errors,
        "ttfb_p50_us": statistics.median(ttfbs) if ttfbs else None,
        "ttfb_p90_us": percentile(ttfbs, 0.90), "ttfb_p99_us": percentile(ttfbs, 0.99),
        "total_p50_us": statistics.median(totals) if totals else None,
    }))
    return 0 if ttfbs and errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
