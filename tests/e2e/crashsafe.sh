#!/bin/sh
# Issue 7: crash safety of the standalone engine.
#  (a) 8 random SIGKILLs of `wait jobs` on a 40-job spec (retries: 2): after
#      each one every JSON file of the state dir parses and the succeeded count
#      never drops; a final run ends 40/40 succeeded, no retry used up.
#  (b) a command orphaned by a SIGKILL is ended before its job runs again:
#      never two at once. (It ignores SIGPIPE: its output pipe died with the
#      console, and the shell's "Terminated" note must not kill it first.)
#  (c) `wait jobs` ends when the handover steps (kind step) are done too.
#  (d) store faults (root only, on a small tmpfs): a read-only and a full
#      state dir stop new starts, `wait` exits 3 with the reason within
#      seconds, nothing recorded is lost, logs hold whole lines only.
#  (e) --log-cap: a bad size is refused; output past the cap is dropped and counted.
set -u
BIN=${BIN:?BIN must name the binary under test}
tmp=$(mktemp -d)
mnt=""
cleanup() {
    [ -n "$mnt" ] && umount "$mnt" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
# A random delay in seconds between $1 and $2, from seed $3.
rand_between() {
    awk -v a="$1" -v b="$2" -v s="$3" 'BEGIN { srand(s); printf "%.2f", a + rand() * (b - a) }'
}

# ---------------------------------------------------------------- (a)
dep=00000000000000a7
spec="$tmp/forty.yaml"
{
    echo "sovereign: {name: forty, fqdn: forty.example.test, provider: hetzner, regions: [fsn1],"
    echo "            deploymentId: $dep}"
    echo "groups:"
    echo "  - name: chains"
    echo "    jobs:"
    for c in 1 2 3 4 5 6 7 8; do
        for k in 1 2 3 4 5; do
            d=$(rand_between 0.1 0.4 "$c$k")
            if [ "$k" = 1 ]; then
                echo "      - {name: j$c-$k, retries: 2, run: \"sleep $d\"}"
            else
                echo "      - {name: j$c-$k, retries: 2, dependsOn: [j$c-$((k - 1))]," \
                     "run: \"sleep $d\"}"
            fi
        done
    done
} >"$spec"
state="$tmp/state"
idx="$state/executions/$dep/index.json"
succeeded() {
    [ -f "$idx" ] || { echo 0; return; }
    jq '[.jobs[] | select(.type != "group" and .status == "succeeded")] | length' "$idx"
}
prev=0
seed=$$
for i in 1 2 3 4 5 6 7 8; do
    "$BIN" wait jobs --spec "$spec" --state-dir "$state" --timeout 60s >"$tmp/a$i.out" 2>&1 &
    pid=$!
    sleep "$(rand_between 0.2 1.5 "$seed$i")"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    for f in $(find "$state" -name '*.json'); do
        jq -e . "$f" >/dev/null 2>&1 || fail "kill $i: $f does not parse"
    done
    now=$(succeeded)
    [ "$now" -ge "$prev" ] || fail "kill $i: succeeded dropped from $prev to $now"
    prev=$now
done
timeout 120 "$BIN" wait jobs --spec "$spec" --state-dir "$state" >"$tmp/final.out" 2>&1 ||
    { cat "$tmp/final.out"; fail "the final wait jobs did not succeed"; }
[ "$(succeeded)" = 40 ] || fail "final: $(succeeded)/40 succeeded"
# Interruptions used no retry: every job still has both.
jq -e '[.jobs[] | select(.type != "group") | .retriesLeft] | all(. == 2)' "$idx" >/dev/null ||
    fail "an interruption used up a retry: $(jq -c '[.jobs[] | .retriesLeft]' "$idx")"
# Every interrupted execution is flagged so, durably.
jq -e '[.executions[] | select(.status == "failed") | .interrupted] | all(. == true)' "$idx" \
    >/dev/null || fail "a failed execution is not flagged interrupted"
nint=$(jq '[.executions[] | select(.interrupted == true)] | length' "$idx")
[ "$nint" -ge 1 ] || fail "no kill interrupted an execution (nothing was tested)"
echo "(a) ok: 8 kills, $(jq '.executions | length' "$idx") executions ($nint interrupted)," \
    "40/40 succeeded"

# ---------------------------------------------------------------- (b)
ev="$tmp/events"
cat >"$tmp/orphan.yaml" <<EOF
sovereign: {name: orphan, fqdn: orphan.example.test, provider: hetzner, regions: [fsn1],
            deploymentId: 00000000000000b7}
groups:
  - name: g
    jobs:
      - name: apply
        run: "trap '' PIPE; trap 'echo term \$\$ >> $ev; exit 143' TERM;
              echo start \$\$ >> $ev; sleep 4; echo end \$\$ >> $ev"
EOF
st2="$tmp/state2"
"$BIN" wait jobs --spec "$tmp/orphan.yaml" --state-dir "$st2" >"$tmp/b1.out" 2>&1 &
pid=$!
n=0
while ! grep -q '^start' "$ev" 2>/dev/null; do
    n=$((n + 1))
    [ $n -lt 200 ] || fail "the command never started"
    sleep 0.05
done
kill -9 "$pid"
wait "$pid" 2>/dev/null
p1=$(awk '/^start/ { print $2; exit }' "$ev")
kill -0 "$p1" 2>/dev/null || fail "the command did not outlive the console (nothing to test)"
timeout 60 "$BIN" wait jobs --spec "$tmp/orphan.yaml" --state-dir "$st2" >"$tmp/b2.out" 2>&1 ||
    { cat "$tmp/b2.out"; fail "the restart did not succeed"; }
cat "$ev"
p2=$(awk '/^start/ { p = $2 } END { print p }' "$ev")
[ "$p1" != "$p2" ] || fail "only one start"
# start p1, term p1 (ended by recovery, no end), start p2, end p2: never two at once.
want=$(printf 'start %s\nterm %s\nstart %s\nend %s' "$p1" "$p1" "$p2" "$p2")
[ "$(cat "$ev")" = "$want" ] || fail "overlapping runs: $(tr '\n' ' ' <"$ev")"
idx2="$st2/executions/00000000000000b7/index.json"
first=$(jq -r '.executions[0].id' "$idx2")
grep -q "\[recovery\] ended surviving process group $p1 of the interrupted execution (SIGTERM)" \
    "$st2/executions/00000000000000b7/$first.log" || fail "no [recovery] line in the first log"
jq -e '.executions[0].pgid == '"$p1"' and .executions[0].interrupted == true' "$idx2" >/dev/null ||
    fail "the first execution's record: $(jq -c '.executions[0]' "$idx2")"
echo "(b) ok: $p1 ended before $p2 started"

# ---------------------------------------------------------------- (c)
st3="$tmp/state3"
timeout 120 "$BIN" wait jobs --speed 50 --state-dir "$st3" >"$tmp/c.out" 2>&1 ||
    { cat "$tmp/c.out"; fail "wait jobs on the demo"; }
"$BIN" --once -o json --state-dir "$st3" >"$tmp/c.json" || fail "--once on the demo state"
jq -e '[.jobs[] | select(.jobName | startswith("handover-step-"))] |
       length > 0 and all(.status == "succeeded")' "$tmp/c.json" >/dev/null ||
    fail "wait jobs ended before the handover steps: $(jq -c '[.jobs[] |
        select(.jobName | startswith("handover-step-")) | .status]' "$tmp/c.json")"
echo "(c) ok: handover steps succeeded before wait jobs ended"

# ---------------------------------------------------------------- (e) --log-cap
"$BIN" wait jobs --log-cap 12X --state-dir "$tmp/never" >/dev/null 2>"$tmp/e.err"
[ $? = 2 ] || fail "--log-cap 12X: want exit 2"
grep -q -- "--log-cap" "$tmp/e.err" || fail "--log-cap 12X: no message"
cat >"$tmp/cap.yaml" <<EOF
sovereign: {name: cap, fqdn: cap.example.test, provider: hetzner, regions: [fsn1],
            deploymentId: 00000000000000c7}
groups:
  - name: g
    jobs:
      - {name: chatty, run: "seq 1 20000"}
EOF
timeout 60 "$BIN" wait jobs --log-cap 64K --spec "$tmp/cap.yaml" --state-dir "$tmp/cap" \
    >/dev/null 2>&1 || fail "--log-cap 64K: the job did not succeed"
log=$(ls "$tmp/cap/executions/00000000000000c7/"*.log)
size=$(wc -c <"$log")
[ "$size" -le 66000 ] || fail "--log-cap 64K: the log is $size bytes"
kept=$(jq -s '[.[] | select(.message | test("^[0-9]+$"))] | length' "$log")
last=$(jq -r -s '.[-1].message' "$log")
dropped=$(echo "$last" |
    sed -n 's/^\[log-cap\] \([0-9]*\) lines (.*) dropped past the 64 KiB cap$/\1/p')
[ -n "$dropped" ] || fail "--log-cap 64K: no marker line: $last"
[ $((kept + dropped)) = 20000 ] || fail "--log-cap 64K: $kept kept + $dropped dropped != 20000"
echo "(e) ok: --log-cap 64K kept $kept lines in $size bytes, counted $dropped dropped"

# ---------------------------------------------------------------- (d)
if [ "$(id -u)" != 0 ]; then
    echo "(d) skipped: mounting a small tmpfs needs root (the unit tests inject the same faults)"
    exit 0
fi
mnt="$tmp/mnt"
mkdir -p "$mnt"
if ! mount -t tmpfs -o size=4m tmpfs "$mnt" 2>/dev/null; then
    mnt=""
    echo "(d) skipped: cannot mount a tmpfs here (the unit tests inject the same faults)"
    exit 0
fi
# Read-only: a first run records `first`; then the dir turns read-only and a
# longer spec must not run `effect`, whose result could not be recorded.
cat >"$tmp/ro1.yaml" <<EOF
sovereign: {name: ro, fqdn: ro.example.test, provider: hetzner, regions: [fsn1],
            deploymentId: 00000000000000d7}
groups:
  - name: g
    jobs:
      - {name: first, run: "true"}
EOF
cp "$tmp/ro1.yaml" "$tmp/ro2.yaml"
echo "      - {name: effect, dependsOn: [first], run: \"touch $tmp/effect-ran\"}" >>"$tmp/ro2.yaml"
sd="$mnt/ro"
timeout 60 "$BIN" wait jobs --spec "$tmp/ro1.yaml" --state-dir "$sd" >/dev/null 2>&1 ||
    fail "the first run on tmpfs"
mount -o remount,ro "$mnt" || fail "cannot remount read-only"
t0=$(date +%s)
timeout 60 "$BIN" wait jobs --spec "$tmp/ro2.yaml" --state-dir "$sd" >"$tmp/d1.out" 2>"$tmp/d1.err"
rc=$?
cat "$tmp/d1.err"
[ "$rc" = 3 ] || fail "read-only: wait exit $rc, want 3"
[ $(( $(date +%s) - t0 )) -le 10 ] || fail "read-only: wait took more than 10 s"
grep -q "Read-only file system" "$tmp/d1.err" || fail "read-only: the reason is not on stderr"
[ ! -e "$tmp/effect-ran" ] || fail "read-only: a job ran whose result could not be recorded"
jq -e '.jobs[] | select(.jobName == "first") | .status == "succeeded"' \
    "$sd/executions/00000000000000d7/index.json" >/dev/null || fail "read-only: a result was lost"
mount -o remount,rw "$mnt" || fail "cannot remount read-write"
echo "(d1) ok: read-only state dir, exit 3, nothing ran, nothing lost"

# Full: the job prints far more than the 4 MiB file system holds.
cat >"$tmp/full.yaml" <<EOF
sovereign: {name: full, fqdn: full.example.test, provider: hetzner, regions: [fsn1],
            deploymentId: 00000000000000e7}
groups:
  - name: g
    jobs:
      - name: flood
        run: "test -e $tmp/flooded || { touch $tmp/flooded; seq 1 200000; sleep 20; }"
      - {name: after, dependsOn: [flood], run: "touch $tmp/after-ran"}
EOF
sd="$mnt/full"
t0=$(date +%s)
timeout 60 "$BIN" wait jobs --spec "$tmp/full.yaml" --state-dir "$sd" \
    >"$tmp/d2.out" 2>"$tmp/d2.err"
rc=$?
cat "$tmp/d2.err"
[ "$rc" = 3 ] || fail "full: wait exit $rc, want 3"
[ $(( $(date +%s) - t0 )) -le 15 ] ||
    fail "full: wait took more than 15 s (the child was not ended)"
grep -q "No space left on device" "$tmp/d2.err" || fail "full: the reason is not on stderr"
[ ! -e "$tmp/after-ran" ] || fail "full: a dependent ran"
log=$(ls "$sd/executions/00000000000000e7/"*.log)
[ "$(tail -c 1 "$log" | od -An -c | tr -d ' ')" = '\n' ] ||
    fail "full: the log ends in a torn line"
jq -e . "$log" >/dev/null 2>&1 || fail "full: a log line does not parse"
lines=$(wc -l <"$log")
ix="$sd/executions/00000000000000e7/index.json"
jq -e . "$ix" >/dev/null || fail "full: index.json does not parse"
st=$(jq -r '.executions[0].status' "$ix")
# Never "succeeded" over a cut log: failed, recorded (the log left room for that), and its
# count is what is on disk (the job view reads "N of N lines", not "0 of 200000").
[ "$st" = failed ] || fail "full: execution recorded $st, want failed"
[ "$(jq '.executions[0].lineCount' "$ix")" = "$lines" ] ||
    fail "full: lineCount $(jq '.executions[0].lineCount' "$ix") but $lines lines on disk"
# The reason is recorded twice: the log's last line (the space check left room) and the record.
tail -n 1 "$log" | jq -e '.level == "ERROR" and (.message | startswith("[error] the log was"))' \
    >/dev/null || fail "full: the log does not end with the reason: $(tail -n 1 "$log")"
jq -e '.executions[0].error | contains("the log was stopped")' "$ix" >/dev/null ||
    fail "full: index.json has no error for the execution"
# Not the job's own failure: pending, and it runs again (no retry to use) once there is room.
[ "$(jq -r '.jobs[] | select(.jobName == "flood") | .status' "$ix")" = pending ] ||
    fail "full: the job is not pending"
mount -o remount,size=16m "$mnt" || fail "cannot grow the file system"
timeout 30 "$BIN" wait jobs --spec "$tmp/full.yaml" --state-dir "$sd" \
    >"$tmp/d3.out" 2>"$tmp/d3.err"
rc=$?
[ "$rc" = 0 ] || { cat "$tmp/d3.err"; fail "full, then room: wait exit $rc, want 0"; }
[ -e "$tmp/after-ran" ] || fail "full, then room: the dependent did not run"
[ "$(jq '.executions | length' "$ix")" = 3 ] || fail "full, then room: not 3 executions"
jq -e '.executions[0].error | contains("the log was stopped")' "$ix" >/dev/null ||
    fail "full, then room: the first execution's reason was lost"
echo "(d2) ok: full state dir, exit 3, execution $st, $lines whole lines on disk, the reason" \
    "recorded; with room again the job ran without using a retry"
