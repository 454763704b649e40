#!/usr/bin/env bash
# Fuzz the strict HTTP/1.1 request parser (Sources/HTTPServer/Parser) with libFuzzer + ASan.
#
# Usage (from anywhere):  scripts/fuzz-parser.sh [seconds]     # default 60
#
# Builds Fuzz/ — a separate package that compiles the parser sources through a symlink with
# -sanitize=fuzzer,address — writes seeds and a dictionary into ./fuzz-corpus/ (gitignored), then
# fuzzes for the given time. Each input is fed whole and in random pieces, and the harness traps on
# any broken invariant (see Fuzz/Sources/HTTPRequestParserFuzz/FuzzHTTPRequestParser.swift).
#   fuzz-corpus/seeds/      rewritten on every run (byte 0 of an input is a control byte)
#   fuzz-corpus/corpus/     what libFuzzer found interesting; kept and reused by later runs
#   fuzz-corpus/artifacts/  crashing inputs; replay one with
#                           Fuzz/.build/release/HTTPRequestParserFuzz fuzz-corpus/artifacts/crash-…
# Exit status is libFuzzer's: 0 when no invariant broke in the time given.
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="/opt/swift/usr/bin:$PATH"
# Swift's own crash backtracer fights ASan and can hang; libFuzzer reports the crash instead.
export SWIFT_BACKTRACE=enable=no

swift build --package-path Fuzz -c release -j 1
fuzzer="Fuzz/.build/release/HTTPRequestParserFuzz"

mkdir -p fuzz-corpus/seeds fuzz-corpus/corpus fuzz-corpus/artifacts
seed() {  # seed NAME CONTROL-BYTE MESSAGE (printf escapes)
    printf "$2$3" >"fuzz-corpus/seeds/$1"
}
get='GET /v1/models HTTP/1.1\r\nHost: gw\r\nAccept: */*\r\n\r\n'
post='POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer sk-x\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{"model":"gpt-x"}'
chunked='POST /v1/chat HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b;c="d \\" e"\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n'
for control in '\x00' '\x80' '\x2a' '\xd5'; do
    tag="$(printf '%s' "$control" | tr -dc '0-9a-f')"
    seed "get-$tag" "$control" "$get"
    seed "post-$tag" "$control" "$post"
    seed "chunked-$tag" "$control" "$chunked"
    seed "pipelined-$tag" "$control" "\r\n$get$post$chunked"
done
seed http10 '\x00' 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'
seed expect '\x00' 'PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'
seed options '\x00' 'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n'
seed absolute '\x00' 'GET http://a/b?c HTTP/1.1\r\nHost: a\r\n\r\n'
seed smuggle-cl-te '\x00' 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
seed smuggle-te-list '\x00' 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'
seed obs-fold '\x00' 'GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n'
seed bare-lf '\x00' 'GET / HTTP/1.1\nHost: a\n\n'
seed big-chunk '\x80' 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFF\r\n'
seed http2 '\x00' 'GET / HTTP/2.0\r\nHost: a\r\n\r\n'

cat >fuzz-corpus/http.dict <<'DICT'
"\x0d\x0a"
"\x0d\x0a\x0d\x0a"
" HTTP/1.1\x0d\x0a"
" HTTP/1.0\x0d\x0a"
"GET"
"POST"
"OPTIONS"
"Host: "
"Content-Length: "
"Transfer-Encoding: "
"chunked"
"Connection: "
"close"
"keep-alive"
"Expect: "
"100-continue"
"0\x0d\x0a\x0d\x0a"
";"
"="
"\x22"
", "
DICT

"$fuzzer" -max_total_time="$seconds" -max_len=4096 -timeout=10 -print_final_stats=1 \
    -dict=fuzz-corpus/http.dict -artifact_prefix=fuzz-corpus/artifacts/ \
    fuzz-corpus/corpus fuzz-corpus/seeds
