#!/bin/sh
# Issue 2: a spec with real commands (echo, exit 3, sleep 100 with timeout 1s,
# a retry that succeeds the second time) ends with the expected statuses, logs
# and executions ON DISK, with the store's file modes.
set -u
BIN=${BIN:?BIN must name the binary under test}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

mark="$tmp/mark"
cat >"$tmp/real.yaml" <<EOF
sovereign: {name: realcmds, fqdn: realcmds.example.test, provider: hetzner, regions: [fsn1],
            deploymentId: 0123456789abcdef}
groups:
  - name: provisioner
    jobs:
      - {name: hello, run: "echo hello-from-stdout; echo warn-from-stderr >&2"}
      - {name: bad, run: "exit 3"}
      - {name: slow, run: "sleep 100", timeout: 1s}
      - name: flaky
        retries: 1
        run: "if [ -f '$mark' ]; then echo second-attempt; else touch '$mark'; exit 1; fi"
      - {name: after-bad, dependsOn: [bad]}
EOF
state="$tmp/state"
start=$(date +%s)
timeout 60 "$BIN" wait jobs --spec "$tmp/real.yaml" --state-dir "$state" >"$tmp/wait.out" 2>&1
rc=$?
[ "$rc" = 1 ] || { cat "$tmp/wait.out"; fail "wait jobs exit $rc, want 1 (bad and slow fail)"; }
[ $(( $(date +%s) - start )) -lt 30 ] || fail "the 1 s timeout did not end sleep 100 promptly"

idx="$state/executions/0123456789abcdef/index.json"
[ -f "$idx" ] || fail "no index.json on disk"
status() { jq -r --arg n "$1" '.jobs[] | select(.jobName == $n) | .status' "$idx"; }
execs() {
    jq -r --arg id "0123456789abcdef:$1" '[.executions[] | select(.jobId == $id)] | length' "$idx"
}
[ "$(status hello)" = succeeded ] || fail "hello: $(status hello)"
[ "$(status bad)" = failed ] || fail "bad: $(status bad)"
[ "$(status slow)" = failed ] || fail "slow: $(status slow)"
[ "$(status flaky)" = succeeded ] || fail "flaky: $(status flaky)"
[ "$(execs flaky)" = 2 ] || fail "flaky should have 2 executions, has $(execs flaky)"
[ "$(execs bad)" = 1 ] || fail "bad should have 1 execution"
# The dependent of a failed job never ran; read back (the read-time cascade of WIRE §3.2)
# it is failed with no execution of its own, and counted as blocked.
[ "$(execs after-bad)" = 0 ] || fail "after-bad ran although its dependency failed"
"$BIN" --once -o json --spec "$tmp/real.yaml" --state-dir "$state" >"$tmp/read.json" ||
    fail "--once -o json on the state"
[ "$(jq -r '.jobs[] | select(.jobName == "after-bad") | .status' "$tmp/read.json")" = failed ] ||
    fail "after-bad is not reported failed"
jq -e '.counts.blocked == 1 and .counts.failed == 3' "$tmp/read.json" >/dev/null ||
    fail "counts: $(jq -c .counts "$tmp/read.json")"

log_of() { # job -> the NDJSON log of its latest execution
    id=$(jq -r --arg n "$1" '.jobs[] | select(.jobName == $n) | .latestExecutionId' "$idx")
    echo "$state/executions/0123456789abcdef/$id.log"
}
l=$(log_of hello)
jq -s -e 'any(.[]; .message == "hello-from-stdout" and .level == "INFO")' "$l" >/dev/null ||
    fail "stdout line not logged as INFO in $l"
jq -s -e 'any(.[]; .message == "warn-from-stderr" and .level == "WARN")' "$l" >/dev/null ||
    fail "stderr line not logged as WARN"
grep -q '\[exit\] status 3' "$(log_of bad)" || fail "no [exit] status 3 line"
grep -q '\[timeout\]' "$(log_of slow)" || fail "no [timeout] line"
grep -q 'second-attempt' "$(log_of flaky)" || fail "the retry's output is not in its log"
# Every line is one JSON object with the wire fields.
for f in "$state"/executions/0123456789abcdef/*.log; do
    jq -s -e 'all(.[]; has("lineNumber") and has("timestamp") and has("level") and
                       has("message"))' "$f" >/dev/null || fail "$f: a line is not a LogLine"
done

# Modes: files 0600, directories 0700.
bad_modes=$(find "$state" \( -type f ! -perm 600 \) -o \( -type d ! -perm 700 \))
[ -z "$bad_modes" ] || fail "wrong modes: $bad_modes"
echo "realcmds: ok"
