#!/bin/sh
# Hostile job output on screen. tests/fixtures/e2e/hostile.yaml has one real
# job printing SGR and cursor sequences, OSC title and clipboard writes, BEL,
# a bare CR, invalid UTF-8, a C1 CSI and a very long line. With its log on
# screen, the raw bytes sent to the terminal (tmux pipe-pane) must carry
# none of them, and the screen must show placeholders where they were.
. "$(dirname "$0")/lib.sh"
e2e_setup hostile

SPEC=$E2E_FIXTURES/hostile.yaml
D=$E2E_TMP/state

if ! CATALYST_TUI_NOW=$E2E_NOW XDG_CONFIG_HOME=$E2E_TMP/config \
    timeout 60 "$BIN" wait jobs --spec "$SPEC" --state-dir "$D" >"$E2E_TMP/wait.log" 2>&1; then
    cat "$E2E_TMP/wait.log"
    e2e_die "wait jobs --spec hostile.yaml did not exit 0"
fi

# The premise: the hostile bytes did reach the stored log (JSON-escaped), so
# the console has something to neutralise.
logs=$(find "$D" -name '*.log' -type f)
[ -n "$logs" ] || e2e_die "no execution log stored under $D"
# shellcheck disable=SC2086
if grep -qF '\u001b]0;hacked-title\u0007' $logs && grep -qF 'abc\rXYZ' $logs &&
   grep -qF '\u001b[5;33;44m' $logs; then
    e2e_ok "the stored log keeps the ESC, OSC, BEL and CR bytes (JSON-escaped)"
else
    e2e_fail "the stored log does not hold the hostile bytes; the test below proves less:"
    # shellcheck disable=SC2086
    head -c 2000 $logs
fi

# check_raw TAG RAWLOG: none of the data's terminal controls reach the tty.
check_raw() {
    _tag=$1 _raw=$2
    if [ ! -s "$_raw" ]; then
        e2e_fail "$_tag: nothing recorded from the terminal"
        return
    fi
    _bad=0
    for m in '\033]0;hacked-title' '\033]52;' '\302\235' '\033[5;33;44m' \
             '\033[2J\033[H' '\033[10;10Hmoved' 'abc\rXYZ' '\377\376' \
             '\302\233' 'BEL \007' '\007\007'; do
        if e2e_has_bytes "$m" "$_raw"; then
            e2e_fail "$_tag: the raw terminal output contains $m from the data"
            _bad=1
        fi
    done
    # ncurses itself may end an OSC colour reset with BEL; nothing else may.
    n=$(LC_ALL=C sed 's/\x1b\]104\x07//g' "$_raw" | LC_ALL=C tr -cd '\007' | wc -c | tr -d ' ')
    if [ "$n" != 0 ]; then
        e2e_fail "$_tag: $n BEL byte(s) in the raw terminal output"
        _bad=1
    fi
    [ "$_bad" = 0 ] &&
        e2e_ok "$_tag: no ESC/OSC/BEL/CR/C1/invalid byte from the data in $(wc -c <"$_raw" | tr -d ' ') raw bytes"
}

# expect TAG FILE ERE WHAT: FILE has a line matching ERE.
expect() {
    if grep -qE -- "$3" "$2"; then
        e2e_ok "$1: $4"
    else
        e2e_fail "$1: $4: no line matches /$3/"
    fi
}

base="$(e2e_env)"
bin=$(e2e_q "$BIN")
args="--spec $(e2e_q "$SPEC") --state-dir $(e2e_q "$D") --refresh 2"
S=$E2E_TMP/screen

# 1. UTF-8, 120x40, opened straight on the job (--view job:evil).
raw=$E2E_TMP/raw-utf8.log
e2e_start 120 40 "$raw" "$base $bin $args --view job:evil"
e2e_wait_stable "$S" 10 "LONG" || e2e_fail "utf8: the log never showed the LONG line"
echo "--- utf8 screen"
cat "$S"
echo "---"
e2e_normalize <"$S" >"$E2E_TMP/hostile-job-120x40.txt"
e2e_golden hostile-job-120x40 "$E2E_TMP/hostile-job-120x40.txt"
expect utf8 "$S" '^ hostile\.example\.org' "the header is intact on the first row"
expect utf8 "$S" 'SGR (␛|\^\[).*BLINK' "ESC of an SGR shown as a placeholder"
expect utf8 "$S" 'CLR (␛|\^\[).*moved' "cursor moves shown as placeholders, text on its own line"
expect utf8 "$S" 'OSC (␛|\^\[).*after' "OSC title shown as a placeholder"
expect utf8 "$S" 'CLIP (␛|\^\[).*after' "OSC 52 shown as a placeholder"
expect utf8 "$S" 'BEL (␇|\^G)' "BEL shown as a placeholder"
expect utf8 "$S" 'abc(␍|\^M)XYZ' "CR shown as a placeholder"
expect utf8 "$S" 'BAD (�|\?)+ after' "invalid UTF-8 replaced"
expect utf8 "$S" 'C1 [^ ]+red after' "the C1 CSI shown as a placeholder"
expect utf8 "$S" 'LONG L+…$' "the long line truncated with an ellipsis"
t=$(e2e_pane '#{pane_title}')
if [ "$t" = hacked-title ]; then
    e2e_fail "utf8: the data set the terminal title"
else
    e2e_ok "utf8: terminal title untouched ('$t')"
fi
e2e_keys q
e2e_wait_stable "$S" 5 "" >/dev/null
e2e_alive && e2e_keys q
e2e_wait_dead 5 || e2e_fail "utf8: q, q did not end the program"
[ "$(e2e_exit_desc)" = "status 0" ] || e2e_fail "utf8: the program ended with $(e2e_exit_desc)"
check_raw utf8 "$raw"
e2e_stop

# 2. LANG=C, 80x24, through the keys: jobs view, Enter on the job.
raw=$E2E_TMP/raw-langc.log
e2e_start 80 24 "$raw" "$base LANG=C LC_ALL=C $bin $args"
e2e_wait_stable "$S" 10 "hostile.example.org" || e2e_fail "langc: the header never appeared"
e2e_keys 2
e2e_wait_stable "$S" 10 "evil" || e2e_fail "langc: the jobs view does not list evil"
e2e_keys Enter
e2e_wait_stable "$S" 10 "LONG" || e2e_fail "langc: the job detail log never showed the LONG line"
echo "--- langc screen"
cat "$S"
echo "---"
expect langc "$S" '^ hostile\.example\.org' "the header is intact on the first row"
expect langc "$S" 'SGR [^ ]+BLINK' "SGR shown with a placeholder"
expect langc "$S" 'abc[^X]+XYZ' "CR shown with a placeholder"
n=$(e2e_high_bytes "$S")
[ "$n" = 0 ] && e2e_ok "langc: the screen is pure ASCII" ||
    e2e_fail "langc: $n byte(s) >= 0x80 on screen"
e2e_keys q
e2e_wait_stable "$S" 5 "" >/dev/null
e2e_alive && e2e_keys q
e2e_wait_dead 5 || e2e_fail "langc: q, q did not end the program"
[ "$(e2e_exit_desc)" = "status 0" ] || e2e_fail "langc: the program ended with $(e2e_exit_desc)"
check_raw langc "$raw"
n=$(e2e_high_bytes "$raw")
[ "$n" = 0 ] && e2e_ok "langc: the raw terminal output is 7-bit" ||
    e2e_fail "langc: $n byte(s) >= 0x80 in the raw terminal output"
e2e_stop

e2e_finish
