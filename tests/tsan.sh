#!/bin/sh
# `make tsan`: the binary under ThreadSanitizer ($BIN, built in $BUILD) through
# the end-to-end scripts that run threads: the engine's scheduler and workers
# with real commands (realcmds; the demo's full run in roundtrip), serve and
# the remote poller and its SSE followers (roundtrip), serve's connection
# threads under slowloris and event-stream floods (flood), the console's UI
# thread over the local source (screens, hostile, preflight, files), the UI
# watchdog's thread with quit signals (timeguard), a console that loses its
# terminal and is attached to over its socket (detach). once.sh is left out:
# it adds no thread the others do not run, and CI time is better spent on
# flood. Then two live consoles that the e2e scripts do not cover:
# one over a running standalone engine and one over --api against a running
# serve, both walked through every view and a job's detail while jobs run.
#
# Any report fails the run: halt_on_error stops the process with exit 66 and
# log_path writes the report to $BUILD/tsan-reports/, so a report from a
# console inside tmux is not lost; the runner fails when any report file
# exists, whatever the scripts said. Suppressions: tests/tsan.supp.
set -u
BIN=${BIN:?BIN must name the TSan binary}
BUILD=${BUILD:-build-tsan}
root=$(cd "$(dirname "$0")/.." && pwd)
reports=$(cd "$BUILD" && pwd)/tsan-reports
rm -rf "$reports"
mkdir -p "$reports"
TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1:log_path=$reports/tsan"
TSAN_OPTIONS="$TSAN_OPTIONS:suppressions=$root/tests/tsan.supp"
# SANITIZED: scripts with memory bounds allow for the shadow memory.
SANITIZED=1
export TSAN_OPTIONS BIN BUILD SANITIZED
pass=0
fail=0
failed=""

result() { # name rc log
    if [ "$2" = 0 ]; then
        pass=$((pass + 1))
        echo "tsan $1: ok"
    else
        fail=$((fail + 1))
        failed="$failed $1"
        tail -n 40 "$3"
        echo "tsan $1: FAILED (exit $2)"
    fi
}

for s in realcmds roundtrip flood screens hostile preflight files timeguard detach; do
    log="$BUILD/tsan-$s.log"
    timeout 600 sh "$root/tests/e2e/$s.sh" >"$log" 2>&1
    result "$s" $? "$log"
done

# The live consoles, in a private tmux server (tests/e2e/lib.sh).
live() {
    . "$root/tests/e2e/lib.sh"
    e2e_setup tsan-live
    srv=""
    trap 'e2e_cleanup; [ -n "$srv" ] && kill -TERM "$srv" 2>/dev/null' EXIT
    # walk: every view, a job's detail and back, then q; the console must exit 0.
    walk() {
        for v in 1 2 3 4 5 6 2; do
            e2e_keys "$v"
            sleep 0.4
        done
        e2e_keys j j Enter
        sleep 1
        e2e_keys Escape
        sleep 0.4
        e2e_keys q
        if ! e2e_wait_dead 30; then
            e2e_fail "$1: the console did not exit on q"
        elif [ "$(e2e_exit_desc)" != "status 0" ]; then
            e2e_fail "$1: the console ended with $(e2e_exit_desc)"
        else
            e2e_ok "$1: walked every view and exited 0"
        fi
    }
    e2e_start 120 40 "" "$(e2e_env) $(e2e_q "$BIN") --speed 20 --jobs 4 --state-dir \
$(e2e_q "$E2E_TMP/local")"
    e2e_wait_stable "$E2E_TMP/screen" 30 Activity || e2e_fail "local: no dashboard"
    walk local
    e2e_stop

    "$BIN" serve --listen 127.0.0.1:0 --state-dir "$E2E_TMP/served" --speed 20 \
        2>"$E2E_TMP/serve.err" &
    srv=$!
    port=""
    i=0
    while [ $i -lt 200 ] && [ -z "$port" ]; do
        port=$(sed -n 's/.*(port \([0-9][0-9]*\)).*/\1/p' "$E2E_TMP/serve.err")
        [ -z "$port" ] && sleep 0.05
        i=$((i + 1))
    done
    [ -n "$port" ] || e2e_die "serve did not report its port: $(cat "$E2E_TMP/serve.err")"
    api=http://127.0.0.1:$port/api/v1
    e2e_start 120 40 "" "$(e2e_env) $(e2e_q "$BIN") --refresh 0.5 --api $api"
    e2e_wait_stable "$E2E_TMP/screen" 30 Activity || e2e_fail "remote: no dashboard"
    # Meanwhile, concurrent clients on every read route and both SSE streams.
    dep=$(curl -s "$api/sovereign/self" | jq -r .deploymentId)
    [ -n "$dep" ] || e2e_fail "serve: no deployment id from sovereign/self"
    clients=""
    for r in "deployments/$dep/jobs" "deployments/$dep/jobs/tofu-init" \
             "sovereign/cutover/status" "organizations sovereign/status deployments"; do
        (for i in 1 2 3 4 5 6 7 8 9 10; do
            for u in $r; do curl -s -o /dev/null "$api/$u"; done
        done) &
        clients="$clients $!"
    done
    curl -sN --max-time 8 -o /dev/null "$api/deployments/$dep/logs" &
    clients="$clients $!"
    curl -sN --max-time 8 -o /dev/null "$api/sovereign/cutover/events" &
    clients="$clients $!"
    walk remote
    # shellcheck disable=SC2086
    wait $clients
    e2e_stop
    kill -TERM "$srv"
    wait "$srv"
    rc=$?
    srv=""
    [ "$rc" = 0 ] && e2e_ok "serve exited 0 on SIGTERM" || e2e_fail "serve exited $rc on SIGTERM"
    e2e_finish
}
log="$BUILD/tsan-live.log"
(live) >"$log" 2>&1
result live $? "$log"

n=$(find "$reports" -type f | wc -l | tr -d ' ')
if [ "$n" != 0 ]; then
    for f in "$reports"/*; do
        echo "== $f"
        cat "$f"
    done
    fail=$((fail + 1))
    failed="$failed reports($n)"
fi
[ -n "$failed" ] && echo "tsan failed:$failed"
echo "tsan: $pass passed, $fail failed, $n report(s)"
[ "$fail" = 0 ]
