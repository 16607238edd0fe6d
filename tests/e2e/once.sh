#!/bin/sh
# Output without the curses console, and exit statuses: --once text views
# (aligned, plain, golden), -o json, a second `wait cutover` that re-runs
# nothing, and the bad inputs: invalid spec, unknown view, bad --speed,
# wait timeout, a corrupted state dir (left untouched) and --fresh.
. "$(dirname "$0")/lib.sh"
e2e_setup once

D=$E2E_TMP/state
e2e_demo_state "$D"

# once ARGS...: the binary with the pinned clock, stdout a file.
once() {
    env -u NO_COLOR -u COLUMNS -u LINES LANG=C.UTF-8 CATALYST_TUI_NOW=$E2E_NOW \
        XDG_CONFIG_HOME="$E2E_TMP/config" XDG_STATE_HOME="$E2E_TMP/xdgstate" \
        TERM=xterm-256color timeout 30 "$BIN" "$@"
}

# --- text views --------------------------------------------------------
for v in dashboard jobs tree cutover job:cluster-bootstrap; do
    name=${v%%:*}
    out=$E2E_TMP/once-$name.out
    if ! once --once --view "$v" --state-dir "$D" >"$out" 2>"$E2E_TMP/err"; then
        e2e_fail "--once --view $v: exit status not 0"
        cat "$E2E_TMP/err"
        continue
    fi
    if LC_ALL=C grep -q "$ESC" "$out"; then
        e2e_fail "--once --view $v: escape byte 0x1b in the output to a file"
    elif [ ! -s "$out" ]; then
        e2e_fail "--once --view $v: empty output"
    else
        e2e_ok "--once --view $v: plain text, $(wc -l <"$out" | tr -d ' ') lines"
    fi
    # One rendering of the content, not a screen padded with empty rows.
    blank=$(awk 'NF == 0 { run++; if (run > max) max = run; next } { run = 0 }
                 END { print max + 0 }' "$out")
    [ "$blank" -le 2 ] ||
        e2e_fail "--once --view $v: a run of $blank empty lines in the text output"
    e2e_normalize <"$out" >"$E2E_TMP/once-$name.txt"
    e2e_golden "once-$name" "$E2E_TMP/once-$name.txt"
done

# Alignment, measured in bytes on the ASCII rendering (LANG=C).
asc() {
    LANG=C LC_ALL=C once --once --view "$1" --state-dir "$D" >"$E2E_TMP/asc-$1.out" 2>&1
}
# aligned TAG FILE ROW-ERE HEADER-ERE COLUMN-TEXT: every line matching
# ROW-ERE has COLUMN-TEXT starting at the same column (the header's column
# when HEADER-ERE is given).
aligned() {
    _r=$(awk -v row="$3" -v hdr="$4" -v col="$5" '
        hdr != "" && $0 ~ hdr && want == "" { want = index($0, col == "just now" ? "STARTED" : col) }
        $0 ~ row {
            n++
            p = index($0, col)
            if (want == "") want = p
            if (p != want) { bad++; if (!shown++) print "line " NR " has it at " p ", expected " want ": " $0 }
        }
        END { print "rows=" n + 0 " bad=" bad + 0 }' "$2")
    case "$_r" in
    *"rows=0 "*) e2e_fail "$1: no row matched /$3/" ;;
    *"bad=0") e2e_ok "$1: '$5' aligned over $(echo "$_r" | sed -n 's/.*rows=\([0-9]*\).*/\1/p') rows" ;;
    *) e2e_fail "$1: '$5' not aligned: $_r" ;;
    esac
}
asc jobs
aligned "jobs" "$E2E_TMP/asc-jobs.out" '^[+x*.!-] +(succeeded|failed|running|pending)' 'STARTED' 'just now'
asc cutover
aligned "cutover" "$E2E_TMP/asc-cutover.out" '^ ?[0-9]+ [^ ] ' '' '09:00:00 09:00:00'
aligned "cutover" "$E2E_TMP/asc-cutover.out" '^ ?[0-9]+ [^ ] ' '' 'done'
asc dashboard
aligned "dashboard" "$E2E_TMP/asc-dashboard.out" '^(Provisioner|Bootstrap|Apps|Handover|Cutover) ' '' ' run '
aligned "dashboard" "$E2E_TMP/asc-dashboard.out" '^(Provisioner|Bootstrap|Apps|Handover|Cutover) ' '' ' fail '
for v in jobs cutover dashboard; do
    n=$(e2e_high_bytes "$E2E_TMP/asc-$v.out")
    [ "$n" = 0 ] || e2e_fail "--once --view $v with LANG=C: $n byte(s) >= 0x80"
done

# --- -o json -----------------------------------------------------------
J=$E2E_TMP/snap.json
if once --once -o json --state-dir "$D" >"$J" 2>"$E2E_TMP/err" && jq -e . "$J" >/dev/null; then
    e2e_ok "-o json: exit 0, parses with jq"
else
    e2e_fail "-o json: did not exit 0 or does not parse"
    cat "$E2E_TMP/err"
    head -c 500 "$J"
fi
if jq -e '.cutover.state == "sovereign"' "$J" >/dev/null &&
   jq -c . "$J" | grep -q '"state":"sovereign"'; then
    e2e_ok '-o json: "state":"sovereign"'
else
    e2e_fail "-o json: cutover state is $(jq -c '.cutover.state' "$J" 2>&1), expected \"sovereign\""
fi
if jq -e '(.jobs | length) > 80 and all(.jobs[]; .status == "succeeded")' "$J" >/dev/null &&
   jq -e '.counts.failed == 0 and .counts.running == 0 and .counts.pending == 0' "$J" >/dev/null; then
    e2e_ok "-o json: every one of $(jq '.jobs | length' "$J") jobs succeeded"
else
    e2e_fail "-o json: not every job succeeded: $(jq -c '[.jobs[] | select(.status != "succeeded") | .jobName]' "$J" 2>&1)"
fi

# --- a second wait cutover re-runs nothing --------------------------------
IDX=$(find "$D/executions" -name index.json | head -n 1)
before=$(jq -c '[.executions[].id] | sort' "$IDX")
t0=$(date +%s%N)
if once wait cutover --speed 50 --state-dir "$D" >"$E2E_TMP/wait2.log" 2>&1; then
    t1=$(date +%s%N)
    ms=$(((t1 - t0) / 1000000))
    after=$(jq -c '[.executions[].id] | sort' "$IDX")
    if [ "$before" = "$after" ]; then
        e2e_ok "second wait cutover: exit 0 in $ms ms, $(jq '.executions | length' "$IDX") executions before and after"
    else
        e2e_fail "second wait cutover started executions: $(echo "$before" | jq length) before, $(echo "$after" | jq length) after"
    fi
    [ "$ms" -lt 3000 ] || e2e_fail "second wait cutover took $ms ms (expected at once)"
else
    e2e_fail "second wait cutover: exit status not 0"
    cat "$E2E_TMP/wait2.log"
fi

# --- bad inputs ----------------------------------------------------------
# status WANT WHAT ARGS...: runs the binary, checks the exit status; stderr
# is left in $E2E_TMP/err.
status() {
    _want=$1 _what=$2
    shift 2
    once "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err"
    _got=$?
    if [ "$_got" = "$_want" ]; then
        e2e_ok "$_what: exit $_got"
        return 0
    fi
    e2e_fail "$_what: exit $_got, expected $_want; stderr:"
    cat "$E2E_TMP/err"
    return 1
}

BADKEY=$E2E_FIXTURES/bad-key.yaml
BADSYN=$E2E_FIXTURES/bad-syntax.yaml
status 2 "invalid spec (unknown key)" --once --spec "$BADKEY" --state-dir "$E2E_TMP/bad1"
grep -q 'bad-key\.yaml:12:9:' "$E2E_TMP/err" &&
    e2e_ok "invalid spec: stderr names bad-key.yaml:12:9: ($(head -n 1 "$E2E_TMP/err"))" ||
    e2e_fail "invalid spec: stderr lacks bad-key.yaml:12:9: ($(head -n 1 "$E2E_TMP/err"))"
status 2 "invalid spec (YAML syntax) in wait" wait jobs --spec "$BADSYN" --state-dir "$E2E_TMP/bad2"
grep -qE 'bad-syntax\.yaml:[0-9]+:[0-9]+:' "$E2E_TMP/err" &&
    e2e_ok "YAML syntax error: stderr has file:line:column" ||
    e2e_fail "YAML syntax error: no file:line:column on stderr ($(head -n 1 "$E2E_TMP/err"))"
[ ! -e "$E2E_TMP/bad1" ] && [ ! -e "$E2E_TMP/bad2" ] ||
    e2e_fail "an invalid spec left a state dir behind"

status 2 "unknown view" --once --view no-such-view --state-dir "$D"
[ -s "$E2E_TMP/err" ] || e2e_fail "unknown view: nothing on stderr"
status 2 "--speed abc" --speed abc --once --state-dir "$D"
status 2 "wait --speed abc" wait cutover --speed abc --state-dir "$E2E_TMP/bad3"
status 2 "unknown option" --no-such-option --once --state-dir "$D"

# wait --timeout on a spec that cannot finish in time: 5, promptly, and the
# job's process does not outlive the wait.
SLOW=$E2E_TMP/slow
t0=$(date +%s%N)
status 5 "wait cutover --timeout 1s on a 30 s job" \
    wait cutover --timeout 1s --spec "$E2E_FIXTURES/slow.yaml" --state-dir "$SLOW"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 10000 ] && e2e_ok "wait timeout: returned after $ms ms" ||
    e2e_fail "wait timeout: returned after $ms ms (timeout 1s)"
dep=$(jq -r '.id // empty' "$SLOW/deployment.json" 2>/dev/null)
if [ -n "$dep" ]; then
    left=""
    for i in 1 2 3 4 5 6 7 8 9 10; do
        left=$(grep -las "CATALYST_DEPLOYMENT_ID=$dep" /proc/[0-9]*/environ)
        [ -z "$left" ] && break
        sleep 0.2
    done
    if [ -z "$left" ]; then
        e2e_ok "wait timeout: no process of deployment $dep left running"
    else
        e2e_fail "wait timeout: processes of deployment $dep still running: $left"
        for p in $left; do
            pid=${p#/proc/}
            kill -9 "${pid%/environ}" 2>/dev/null
        done
    fi
else
    e2e_fail "wait timeout: no deployment.json with an id in $SLOW"
fi

# A corrupted state dir: refused with 2, left byte for byte as it was.
C=$E2E_TMP/corrupt
cp -a "$D" "$C"
printf '{"formatVersion":1,"id":"trunc' >"$C/deployment.json"
sums() { (cd "$1" && find . -type f | sort | xargs md5sum) | md5sum | cut -d' ' -f1; }
sum0=$(sums "$C")
status 2 "--once on a corrupted state dir" --once --state-dir "$C"
grep -q 'deployment.json' "$E2E_TMP/err" ||
    e2e_fail "corrupted state: the message does not name deployment.json ($(head -n 1 "$E2E_TMP/err"))"
status 2 "wait cutover on a corrupted state dir" wait cutover --speed 50 --state-dir "$C"
status 2 "console on a corrupted state dir" --state-dir "$C"
if [ "$(sums "$C")" = "$sum0" ]; then
    e2e_ok "corrupted state dir left untouched"
else
    e2e_fail "corrupted state dir was modified"
fi
set -- "$C".old-*
[ -e "$1" ] && e2e_fail "a state dir was moved aside without --fresh: $*"

# --fresh moves it aside and starts over (with wait: --once only observes).
status 0 "wait cutover --fresh on the corrupted state dir" \
    wait cutover --fresh --speed 50 --timeout 60s --state-dir "$C"
set -- "$C".old-*
if [ $# = 1 ] && [ -d "$1" ] && [ "$(sums "$1")" = "$sum0" ]; then
    e2e_ok "--fresh moved the old state to $(basename "$1"), contents intact"
else
    e2e_fail "--fresh: expected one $C.old-<timestamp> with the old contents, found: $*"
fi
rm -rf "$C".old-*
if [ -d "$C" ]; then
    if [ -f "$C/deployment.json" ] && ! jq -e . "$C/deployment.json" >/dev/null 2>&1; then
        e2e_fail "--fresh: the new deployment.json does not parse"
    else
        e2e_ok "--fresh: a new state dir in place"
    fi
fi
status 0 "--once -o json after --fresh" --once -o json --state-dir "$C"
jq -e '.cutover.state == "sovereign"' "$E2E_TMP/out" >/dev/null &&
    e2e_ok "--fresh: the new state ran to sovereign" ||
    e2e_fail "--fresh: the new state is not sovereign"

e2e_finish
