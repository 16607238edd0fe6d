#!/bin/sh
# The cutover preflight end to end: the demo's auto cutover (`wait cutover
# --speed 50`) ends sovereign, and no cutover step started before every
# handover step (and every other job) had finished, by the timestamps in
# -o json; then, in the console on a Sovereign still provisioning, the start
# dialog lists the failing checks, refuses the Sovereign's name and starts
# only after "force cutover NAME" is typed.
. "$(dirname "$0")/lib.sh"
e2e_setup preflight

# --- 1. the demo's auto cutover waits for the checklist --------------------
D=$E2E_TMP/demo
J=$E2E_TMP/demo.json
if timeout 120 "$BIN" wait cutover --speed 50 --state-dir "$D" >"$E2E_TMP/wait.log" 2>&1; then
    e2e_ok "wait cutover --speed 50: exit 0"
else
    e2e_die "wait cutover --speed 50 did not exit 0: $(tail -n 3 "$E2E_TMP/wait.log")"
fi
timeout 30 "$BIN" --once -o json --state-dir "$D" >"$J" || e2e_die "--once -o json failed"
jq -e '.cutover.state == "sovereign"' "$J" >/dev/null &&
    e2e_ok "the demo ended sovereign" || e2e_fail "state is $(jq -c .cutover.state "$J")"
n=$(jq '[.jobs[] | select(.jobName | startswith("handover-step-")) |
         select(.status == "succeeded")] | length' "$J")
[ "$n" = 3 ] && e2e_ok "3 handover steps succeeded" ||
    e2e_fail "$n handover steps succeeded, want 3"
# RFC3339 with milliseconds in UTC: the strings order like the instants.
handover_done=$(jq -r '[.jobs[] | select(.jobName | startswith("handover-step-")) |
                        .finishedAt] | max' "$J")
others_done=$(jq -r '[.jobs[] | select(.type != "group") |
                      select(.jobName | startswith("cutover-step-") | not) |
                      .finishedAt] | max' "$J")
first_step=$(jq -r '[.jobs[] | select(.jobName | startswith("cutover-step-")) |
                     .startedAt] | min' "$J")
case "$handover_done$first_step" in *null*) e2e_die "missing timestamps in $J" ;; esac
if [ "$(printf '%s\n%s\n' "$handover_done" "$first_step" | sort | head -n 1)" = \
     "$handover_done" ]; then
    e2e_ok "handover finished ($handover_done) before the first step ($first_step)"
else
    e2e_fail "a cutover step started at $first_step, before the handover finished" \
        "at $handover_done"
fi
if [ "$(printf '%s\n%s\n' "$others_done" "$first_step" | sort | head -n 1)" = \
     "$others_done" ]; then
    e2e_ok "every job outside the cutover finished ($others_done) before it"
else
    e2e_fail "a job outside the cutover finished at $others_done, after the first step"
fi

# --- 2. the start dialog on a Sovereign still provisioning -----------------
cat >"$E2E_TMP/slow.yaml" <<'EOF'
sovereign: {name: early, fqdn: early.example.test, provider: hetzner, regions: [fsn1]}
groups:
  - name: bootstrap-kit
    jobs:
      - {name: install-harbor, app: harbor, simulate: {duration: 600s}}
cutover:
  steps:
    - {name: harbor-projects, simulate: {duration: 600s}}
EOF
S2=$E2E_TMP/early
S=$E2E_TMP/screen
e2e_start 120 40 "" "$(printf '%s %s --spec %s --state-dir %s' "$(e2e_env)" \
    "$(e2e_q "$BIN")" "$(e2e_q "$E2E_TMP/slow.yaml")" "$(e2e_q "$S2")")"
e2e_wait_stable "$S" 10 "early.example.test" || e2e_die "the console did not start"
e2e_keys 6
e2e_wait_stable "$S" 10 "checks fail" ||
    e2e_fail "the cutover view shows no failing preflight"
grep -q "Components the cutover touches are installed" "$S" &&
    grep -q "install-harbor running" "$S" &&
    e2e_ok "the cutover view names install-harbor" ||
    e2e_fail "the cutover view does not name the missing component"
e2e_keys S
e2e_wait_stable "$S" 10 "To start anyway, type force cutover early" ||
    e2e_fail "the dialog does not ask for the forced confirmation"
grep -q "Preflight: 2 of 4 checks fail" "$S" && e2e_ok "the dialog lists the checks" ||
    e2e_fail "the dialog shows no checklist"
e2e_keys -l early
e2e_keys Enter
e2e_wait_stable "$S" 10 "the preflight fails: type force cutover early" &&
    e2e_ok "the plain name is refused while a check fails" ||
    e2e_fail "the plain name was not refused"
for _ in 1 2 3 4 5 6; do e2e_keys BSpace; done
e2e_keys -l "force cutover early"
e2e_keys Enter
e2e_wait_stable "$S" 10 "cutover started" &&
    e2e_ok "the forced confirmation started the cutover" ||
    e2e_fail "no 'cutover started' after the forced confirmation"
timeout 30 "$BIN" --once -o json --spec "$E2E_TMP/slow.yaml" --state-dir "$S2" \
    >"$E2E_TMP/early.json" || e2e_fail "--once beside the console failed"
jq -e '.cutover.cutoverStartedAt // .cutover.startedAt | length > 0' "$E2E_TMP/early.json" \
    >/dev/null && e2e_ok "the run is recorded as started" ||
    e2e_fail "the state dir shows no started cutover: $(jq -c .cutover "$E2E_TMP/early.json")"
e2e_stop
e2e_finish
