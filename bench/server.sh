#!/bin/sh
# bench/server.sh: `catalyst-tui serve` under load. Generates a 1,000-job spec,
# serves it on a free loopback port at --speed 1000, waits until the run has
# settled, then measures with wrk (Debian package `wrk`) GET
# jobs?inventory=full with 32 connections for 10 s: requests/s and p99
# latency (targets >= 2,000 req/s, p99 <= 50 ms); and the bytes of one
# unchanged poll with and without If-None-Match (target <= 300 bytes).
# Needs $BIN (the catalyst-tui binary); $BUILD locates bench_spec1000.
set -u
BIN=${BIN:-./catalyst-tui}
GEN=${BUILD:-build}/bench/bench_spec1000
DURATION=${BENCH_DURATION:-10s}
tmp=$(mktemp -d)
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

if [ ! -x "$GEN" ]; then
    echo "server bench: $GEN missing (make $GEN); skipped"
    exit 0
fi
if ! command -v curl >/dev/null 2>&1; then
    echo "server bench: curl not installed; skipped"
    exit 0
fi
"$GEN" "$tmp/spec1000.yaml" || exit 1

"$BIN" serve --listen 127.0.0.1:0 --spec "$tmp/spec1000.yaml" --speed 1000 \
    --state-dir "$tmp/state" 2>"$tmp/serve.log" &
pid=$!

# The port is announced on stderr as "(port N)".
port=""
i=0
while [ $i -lt 100 ]; do
    port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$tmp/serve.log" | head -n 1)
    [ -n "$port" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "server bench: serve exited early:"; cat "$tmp/serve.log"; exit 1
    fi
    sleep 0.1
    i=$((i + 1))
done
if [ -z "$port" ]; then
    echo "server bench: serve did not announce its port"; cat "$tmp/serve.log"; exit 1
fi
base="http://127.0.0.1:$port"

i=0
until curl -sf -o /dev/null "$base/readyz"; do
    i=$((i + 1))
    if [ $i -gt 100 ]; then echo "server bench: never ready"; exit 1; fi
    sleep 0.1
done
dep=$(curl -sf "$base/api/v1/sovereign/self" | sed -n 's/.*"deploymentId":"\([^"]*\)".*/\1/p')
[ -n "$dep" ] || { echo "server bench: no deployment id"; exit 1; }

# Let the run settle so an unchanged poll really is unchanged.
i=0
while :; do
    st=$(curl -sf "$base/api/v1/deployments/$dep" | sed -n 's/.*"status":"\([^"]*\)".*/\1/p')
    case "$st" in ready|failed) break ;; esac
    i=$((i + 1))
    if [ $i -gt 600 ]; then echo "server bench: run did not settle (status $st)"; break; fi
    sleep 0.1
done

url="$base/api/v1/deployments/$dep/jobs?inventory=full"
jobs=$(curl -sf "$url" | grep -o '"jobName"' | wc -l)
body=$(curl -s -o /dev/null -w '%{size_download}' "$url")
echo "GET jobs?inventory=full: $jobs rows, $body bytes of JSON (deployment $st)"

if command -v wrk >/dev/null 2>&1; then
    wrk -t2 -c32 -d"$DURATION" --latency "$url" >"$tmp/wrk.txt" 2>&1
    [ -n "${BENCH_VERBOSE:-}" ] && cat "$tmp/wrk.txt"
    rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$tmp/wrk.txt")
    p99=$(sed -n 's/^ *99% *\([0-9.]*[a-z]*\).*/\1/p' "$tmp/wrk.txt")
    p50=$(sed -n 's/^ *50% *\([0-9.]*[a-z]*\).*/\1/p' "$tmp/wrk.txt")
    errs=$(grep -E 'Socket errors|Non-2xx' "$tmp/wrk.txt" | tr '\n' ' ')
    echo "wrk -t2 -c32 -d$DURATION: ${rps:-?} requests/s, p50 ${p50:-?}, p99 ${p99:-?}" \
        "(targets >= 2000 req/s, p99 <= 50ms) ${errs}"
else
    echo "wrk not installed (apt-get install wrk): load figures skipped"
fi

etag=$(curl -s -D - -o /dev/null "$url" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: *//p')
fmt='%{http_code} %{size_download} %{size_header} %{size_request}'
plain=$(curl -s -o /dev/null -w "$fmt" "$url")
cached=$(curl -s -o /dev/null -H "If-None-Match: $etag" -w "$fmt" "$url")
set -- $plain
echo "unchanged poll without ETag: HTTP $1, $(($2 + $3)) bytes received ($2 body + $3 headers)," \
    "$4 bytes sent"
set -- $cached
echo "unchanged poll with If-None-Match: HTTP $1, $(($2 + $3)) bytes received" \
    "($2 body + $3 headers), $4 bytes sent (target <= 300)"

kill -TERM "$pid"
if wait "$pid"; then rc=0; else rc=$?; fi
pid=""
echo "serve stopped on SIGTERM with exit status $rc"
