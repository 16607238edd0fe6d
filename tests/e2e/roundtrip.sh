#!/bin/sh
# Issue 4 round trip: `serve` on a free loopback port; `--once -o json --api`
# equals the standalone output of the same state (apart from the source
# block); retry and cutover start round-trip (425 while a job runs, 200 forced,
# then 409 while running);
# `wait` behaves the same against --api.
set -u
BIN=${BIN:?BIN must name the binary under test}
tmp=$(mktemp -d)
srv_pid=""
cleanup() {
    [ -n "$srv_pid" ] && kill -TERM "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

start_server() { # state-dir spec-or-empty
    : >"$tmp/serve.err"
    if [ -n "$2" ]; then
        "$BIN" serve --listen 127.0.0.1:0 --state-dir "$1" --spec "$2" 2>"$tmp/serve.err" &
    else
        "$BIN" serve --listen 127.0.0.1:0 --state-dir "$1" --speed 50 2>"$tmp/serve.err" &
    fi
    srv_pid=$!
    port=""
    i=0
    while [ $i -lt 100 ] && [ -z "$port" ]; do
        port=$(sed -n 's/.*(port \([0-9][0-9]*\)).*/\1/p' "$tmp/serve.err")
        [ -z "$port" ] && sleep 0.05
        i=$((i + 1))
    done
    [ -n "$port" ] || { cat "$tmp/serve.err"; fail "serve did not report its port"; }
    api="http://127.0.0.1:$port/api/v1"
}
stop_server() {
    kill -TERM "$srv_pid"
    wait "$srv_pid"
    rc=$?
    srv_pid=""
    [ "$rc" = 0 ] || fail "serve exited $rc on SIGTERM"
}

# 1. The demo, finished, served; compared with the standalone view of a copy.
"$BIN" wait cutover --speed 50 --state-dir "$tmp/demo" >/dev/null || fail "demo did not finish"
cp -a "$tmp/demo" "$tmp/copy"
start_server "$tmp/demo" ""
timeout 30 "$BIN" --once -o json --api "$api" >"$tmp/remote.json" || fail "--once --api failed"
"$BIN" --once -o json --speed 50 --state-dir "$tmp/copy" >"$tmp/local.json" || fail "--once standalone failed"
jq -c 'del(.source)' "$tmp/remote.json" >"$tmp/r"
jq -c 'del(.source)' "$tmp/local.json" >"$tmp/l"
if ! cmp -s "$tmp/r" "$tmp/l"; then
    tr ',' '\n' <"$tmp/l" >"$tmp/l.t"
    tr ',' '\n' <"$tmp/r" >"$tmp/r.t"
    diff "$tmp/l.t" "$tmp/r.t" | head -40
    fail "remote != local"
fi
[ "$(jq -r .source.mode "$tmp/remote.json")" = remote ] || fail "source.mode is not remote"
jq -e '.state == "sovereign"' "$tmp/remote.json" >/dev/null || fail "not sovereign over the wire"
# wait against --api: already sovereign, so at once and 0.
timeout 30 "$BIN" wait cutover --api "$api" >/dev/null || fail "wait cutover --api did not exit 0"
# text views render over the wire too
timeout 30 "$BIN" --once --view cutover --api "$api" | grep -q "All 11 steps completed" ||
    fail "cutover view over --api"
stop_server

# 2. Actions: a job that fails once, a manual cutover with a long hold.
mark="$tmp/mark"
cat >"$tmp/act.yaml" <<EOF
sovereign: {name: roundtrip, fqdn: roundtrip.example.test, provider: hetzner, regions: [fsn1]}
groups:
  - name: provisioner
    jobs:
      - {name: tofu-init, simulate: {duration: 100ms}}
      - name: flaky
        dependsOn: [tofu-init]
        run: "if [ -f '$mark' ]; then sleep 3; else touch '$mark'; exit 1; fi"
cutover:
  auto: false
  steps:
    - {name: gitea-mirror, simulate: {duration: 100ms}}
    - {name: egress-block-test, hold: 20s, simulate: {duration: 100ms}}
EOF
start_server "$tmp/act" "$tmp/act.yaml"
timeout 30 "$BIN" wait jobs --api "$api" >/dev/null
[ $? = 1 ] || fail "wait jobs --api should exit 1 while flaky has failed"
code() {
    curl -s -o "$tmp/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        "$api/$1"
}
dep=$(curl -s "$api/sovereign/self" | jq -r .deploymentId)
c=$(code "deployments/$dep/jobs/flaky/retry")
[ "$c" = 200 ] || { cat "$tmp/body"; fail "retry: $c, want 200"; }
jq -e '.executionId | length == 32' "$tmp/body" >/dev/null || fail "retry body has no executionId"
c=$(code "deployments/$dep/jobs/flaky/retry")
[ "$c" = 409 ] || fail "second retry while running: $c, want 409"
# flaky is running again: the preflight refuses a plain start, {"force":true} overrides it.
c=$(code "sovereign/cutover/start")
[ "$c" = 425 ] || { cat "$tmp/body"; fail "cutover start mid-run: $c, want 425"; }
jq -e '.error == "handover-incomplete" and
       ([.checks[] | select(.ok == false) | .id] | index("jobs-succeeded") != null)' \
    "$tmp/body" >/dev/null || fail "425 body: $(cat "$tmp/body")"
c=$(curl -s -o "$tmp/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"force":true}' "$api/sovereign/cutover/start")
[ "$c" = 200 ] || { cat "$tmp/body"; fail "forced cutover start: $c, want 200"; }
sleep 0.5
c=$(code "sovereign/cutover/start")
[ "$c" = 409 ] || fail "second cutover start while running: $c, want 409"
jq -e '.error == "cutover-in-progress"' "$tmp/body" >/dev/null || fail "409 body"
# The client sees the hold running through the wire.
timeout 30 "$BIN" --once -o json --api "$api" >"$tmp/mid.json" || fail "--once mid-run"
jq -e '.cutover.steps[] | select(.name == "egress-block-test") | .holdUntil' "$tmp/mid.json" \
    >/dev/null || fail "no holdUntil on the running hold step over the wire"
timeout 30 "$BIN" wait jobs --api "$api" >/dev/null || fail "flaky did not succeed after retry"
stop_server
echo "roundtrip: ok"
