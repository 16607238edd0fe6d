#!/bin/sh
# Issue 7: detach instead of dying. A console running a chain of real
# `sleep 2` jobs loses its terminal (the tmux server is killed: SIGHUP); the
# process keeps running headless with its jobs, a new console attaches to it
# (the header names the pid), `wait jobs` attached exits 0 with every job
# succeeded and no [interrupted] line, and the process then ends by itself.
# The same after `q` -> detach; `q` -> stop records the stop and the next
# start resumes. Refusals name the lock holder's pid.
. "$(dirname "$0")/lib.sh"
e2e_setup detach

OWNERS=""
# Detached owners outlive the tmux server: end them (by pid) whatever happens.
detach_cleanup() {
    for p in $OWNERS; do
        kill "$p" 2>/dev/null
    done
    [ -n "${HOLDER:-}" ] && kill "$HOLDER" 2>/dev/null
    e2e_cleanup
}
trap detach_cleanup EXIT

spec=$E2E_TMP/chain.yaml
cat >"$spec" <<'EOF'
sovereign: {name: detachsov, fqdn: detach.example.test, provider: hetzner, regions: [fsn1],
            deploymentId: 00000000000000d7}
groups:
  - name: provisioner
    jobs:
      - {name: one, run: "sleep 2"}
      - {name: two, run: "sleep 2", dependsOn: [one]}
      - {name: three, run: "sleep 2", dependsOn: [two]}
      - {name: four, run: "sleep 2", dependsOn: [three]}
EOF

console() { # STATE: the console command line for tmux
    printf '%s %s --spec %s --state-dir %s' "$(e2e_env)" "$(e2e_q "$BIN")" "$(e2e_q "$spec")" \
        "$(e2e_q "$1")"
}

# wait_gone PID SECONDS: 0 once PID has ended.
wait_gone() {
    _n=$(($2 * 10))
    while [ "$_n" -gt 0 ]; do
        kill -0 "$1" 2>/dev/null || return 0
        grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null && return 0
        sleep 0.1
        _n=$((_n - 1))
    done
    return 1
}

# Starts a console on STATE (RAWLOG: its terminal output, when given) and waits
# until its first job runs; prints the owner's pid.
start_running() {
    e2e_start 120 30 "${2:-}" "$(console "$1")"
    e2e_wait_stable "$E2E_TMP/screen" 15 " 1 run" ||
        { cat "$E2E_TMP/screen"; e2e_die "the console never showed a running job"; }
    cat "$1/catalyst.pid" 2>/dev/null
}

# check_finished STATE LABEL: wait jobs attached (or owning) exits 0, all
# succeeded, no [interrupted] anywhere; the owner then ends by itself.
check_finished() {
    _st=$1 _label=$2 _owner=$3
    timeout 40 "$BIN" wait jobs --spec "$spec" --state-dir "$_st" >"$E2E_TMP/wait.out" 2>&1
    _rc=$?
    if [ "$_rc" = 0 ]; then
        e2e_ok "$_label: wait jobs exits 0"
    else
        cat "$E2E_TMP/wait.out"
        e2e_fail "$_label: wait jobs exit $_rc, want 0"
    fi
    _n=$(grep -c 'succeeded' "$E2E_TMP/wait.out")
    [ "$_n" -ge 4 ] || e2e_fail "$_label: wait printed $_n succeeded lines, want 4"
    if grep -l '\[interrupted\]\|\[stopped\]' "$_st"/executions/*/*.log >/dev/null 2>&1; then
        e2e_fail "$_label: an execution was interrupted: $(grep -l 'interrupted\|stopped' \
            "$_st"/executions/*/*.log)"
    else
        e2e_ok "$_label: no [interrupted] line in any log"
    fi
    _execs=$(ls "$_st"/executions/*/*.log | wc -l)
    [ "$_execs" = 4 ] || e2e_fail "$_label: $_execs executions, want 4 (one per job)"
    if wait_gone "$_owner" 15; then
        e2e_ok "$_label: the detached pid $_owner ended by itself"
    else
        e2e_fail "$_label: the detached pid $_owner still runs with nothing left to do"
    fi
    # The detached process's stderr: under SANITIZED=1 its reports land here.
    if grep -q "Sanitizer" "$_st/console.log" 2>/dev/null; then
        cat "$_st/console.log"
        e2e_fail "$_label: the detached process reported a sanitizer error"
    fi
    grep -q "nothing left to run" "$_st/console.log" 2>/dev/null ||
        e2e_fail "$_label: no 'nothing left to run' line in $_st/console.log"
    [ ! -e "$_st/catalyst.sock" ] || e2e_fail "$_label: the socket outlived its owner"
    [ ! -e "$_st/catalyst.pid" ] || e2e_fail "$_label: the pid file outlived its owner"
}

# ---- 1. The terminal goes away (SIGHUP): the process and its jobs keep running.
st1=$E2E_TMP/st1
pid=$(start_running "$st1")
[ -n "$pid" ] || e2e_die "no pid file in $st1"
OWNERS="$OWNERS $pid"
sock_mode=$(stat -c %a "$st1/catalyst.sock" 2>/dev/null)
[ "$sock_mode" = 600 ] || e2e_fail "socket mode '$sock_mode', want 600"
e2e_stop
sleep 0.5
if kill -0 "$pid" 2>/dev/null; then
    e2e_ok "hangup: pid $pid still runs after the tmux server died"
else
    e2e_die "hangup: pid $pid died with its terminal"
fi
[ -n "$(ps -o pid= --ppid "$pid")" ] || e2e_fail "hangup: no job process under pid $pid"
grep -q "detached" "$st1/console.log" 2>/dev/null ||
    e2e_fail "hangup: no 'detached' line in $st1/console.log"
[ "$(readlink "/proc/$pid/fd/0")" = /dev/null ] || e2e_fail "hangup: stdin still open"

# A new console on the same state dir attaches, names the pid, and is live.
e2e_start 120 30 "" "$(console "$st1")"
if e2e_wait_stable "$E2E_TMP/screen" 10 "attached to pid $pid"; then
    e2e_ok "hangup: a new console attached to pid $pid"
else
    cat "$E2E_TMP/screen"
    e2e_fail "hangup: the new console does not say 'attached to pid $pid'"
fi
json=$(timeout 20 "$BIN" --once -o json --spec "$spec" --state-dir "$st1")
[ "$(printf '%s' "$json" | jq -r .source.mode)" = "attached to pid $pid" ] ||
    e2e_fail "--once beside the live engine did not attach: $(printf '%s' "$json" |
        jq -c .source)"
if e2e_wait_stable "$E2E_TMP/screen" 20 "4/4"; then
    e2e_ok "hangup: the attached console followed the jobs to 4/4"
else
    cat "$E2E_TMP/screen"
    e2e_fail "hangup: the attached console never showed 4/4"
fi
check_finished "$st1" hangup "$pid"
e2e_stop

# ---- 2. q while jobs run, then d: detach; the shell gets its prompt back.
st2=$E2E_TMP/st2
pid=$(start_running "$st2" "$E2E_TMP/raw2")
[ -n "$pid" ] || e2e_die "no pid file in $st2"
OWNERS="$OWNERS $pid"
e2e_keys q
e2e_wait_stable "$E2E_TMP/screen" 5 "detach:" ||
    { cat "$E2E_TMP/screen"; e2e_fail "q did not ask (no 'detach:' in the dialog)"; }
e2e_keys d
if e2e_wait_dead 10 && [ "$(e2e_exit_desc)" = "status 0" ]; then
    e2e_ok "q, d: the console returned with status 0"
else
    e2e_fail "q, d: the console did not return 0 ($(e2e_exit_desc))"
fi
grep -aq "detached; pid $pid" "$E2E_TMP/raw2" || e2e_fail "q, d: no 'detached; pid $pid' line"
kill -0 "$pid" 2>/dev/null || e2e_die "q, d: pid $pid did not keep running"
check_finished "$st2" "q-detach" "$pid"
# The jobs were still running: that wait read them over the socket.
grep -q "attached to pid $pid over $st2/catalyst.sock" "$E2E_TMP/wait.out" ||
    e2e_fail "q-detach: wait jobs did not attach to pid $pid"
e2e_stop

# ---- 3. q, then s: the jobs are stopped (recorded); the next start resumes.
st3=$E2E_TMP/st3
pid=$(start_running "$st3")
OWNERS="$OWNERS $pid"
e2e_keys q
e2e_wait_stable "$E2E_TMP/screen" 5 "detach:" >/dev/null
e2e_keys s
e2e_wait_dead 10 || e2e_fail "q, s: the console did not end"
wait_gone "$pid" 10 || e2e_fail "q, s: pid $pid still runs after stop"
if grep -q '\[stopped\] stopped by the operator' "$st3"/executions/*/*.log 2>/dev/null; then
    e2e_ok "q, s: the stop is recorded in the running job's log"
else
    e2e_fail "q, s: no [stopped] stopped by the operator line after stopping"
fi
timeout 60 "$BIN" wait jobs --spec "$spec" --state-dir "$st3" >"$E2E_TMP/wait3.out" 2>&1
rc=$?
[ "$rc" = 0 ] || { cat "$E2E_TMP/wait3.out"; e2e_fail "q, s: the next start exit $rc, want 0"; }
e2e_stop

# ---- 4. Refusals name the pid: a holder that does not answer on the socket.
st4=$E2E_TMP/st4
mkdir -m 700 "$st4"
flock "$st4" sleep 60 &
HOLDER=$!
n=50
while [ "$n" -gt 0 ] && flock -n "$st4" true 2>/dev/null; do
    sleep 0.1
    n=$((n - 1))
done
[ "$n" -gt 0 ] || e2e_die "flock never took $st4"
echo "$HOLDER" >"$st4/catalyst.pid"
timeout 20 "$BIN" wait jobs --spec "$spec" --state-dir "$st4" >"$E2E_TMP/refuse.out" 2>&1
rc=$?
[ "$rc" = 2 ] || e2e_fail "busy dir: exit $rc, want 2"
if grep -q "in use by catalyst-tui pid $HOLDER (not answering on $st4/catalyst.sock)" \
    "$E2E_TMP/refuse.out" && grep -q "kill $HOLDER" "$E2E_TMP/refuse.out"; then
    e2e_ok "busy dir: the refusal names pid $HOLDER and says what to do"
else
    cat "$E2E_TMP/refuse.out"
    e2e_fail "busy dir: the refusal does not name pid $HOLDER"
fi
timeout 20 "$BIN" wait jobs --fresh --spec "$spec" --state-dir "$st4" >"$E2E_TMP/fresh.out" 2>&1
rc=$?
[ "$rc" = 2 ] || e2e_fail "--fresh on a busy dir: exit $rc, want 2"
grep -q "pid $HOLDER" "$E2E_TMP/fresh.out" ||
    { cat "$E2E_TMP/fresh.out"; e2e_fail "--fresh on a busy dir: the refusal has no pid"; }
[ -d "$st4" ] || e2e_fail "--fresh moved a busy dir aside"
kill "$HOLDER" 2>/dev/null
HOLDER=""

e2e_finish
