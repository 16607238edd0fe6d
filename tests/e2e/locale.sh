#!/bin/sh
# Locale and colour ladders, on every view and the job detail:
#   LANG=C / LC_ALL=C and --ascii: no byte >= 0x80 on screen (nor in the
#   raw terminal output for LANG=C);
#   NO_COLOR=1 and --color never: no colour SGR parameter on screen
#   (capture-pane -e) nor in the raw terminal output;
#   and, as a control that the checks can fail, the default run has colour.
. "$(dirname "$0")/lib.sh"
e2e_setup locale

D=$E2E_TMP/state
e2e_demo_state "$D"

# visit TAG W H: visits every view and the job detail, leaving one capture
# per view in $E2E_TMP/TAG-<view>.txt (with -e, the attributes as SGR).
visit() {
    _tag=$1
    e2e_wait_stable "$E2E_TMP/s" 10 "omantel.omani.works" -e ||
        e2e_fail "$_tag: the header never appeared"
    for v in $E2E_VIEWS; do
        name=${v%%:*}
        rest=${v#*:}
        key=${rest%%:*}
        text=${rest#*:}
        e2e_keys "$key"
        e2e_wait_stable "$E2E_TMP/$_tag-$name.txt" 10 "$text" -e ||
            e2e_fail "$_tag: view $name: no stable screen showing '$text'"
    done
    e2e_keys 2
    e2e_wait_stable "$E2E_TMP/s" 10 STATUS -e
    e2e_keys Enter
    e2e_wait_stable "$E2E_TMP/$_tag-job.txt" 10 Executions -e ||
        e2e_fail "$_tag: job detail: no stable screen showing 'Executions'"
    e2e_keys Escape
    e2e_wait_stable "$E2E_TMP/s" 10 STATUS -e
    e2e_keys q
    e2e_wait_dead 5 || e2e_fail "$_tag: q did not end the program"
    [ "$(e2e_exit_desc)" = "status 0" ] ||
        e2e_fail "$_tag: the program ended with $(e2e_exit_desc), expected status 0"
    e2e_stop
}

VIEWS_ALL="dashboard jobs dag timeline tree cutover job"

# check_ascii TAG: no byte >= 0x80 in any capture (SGR stripped first, they
# are ASCII anyway) and the capture is not empty.
check_ascii() {
    _bad=0
    for v in $VIEWS_ALL; do
        f=$E2E_TMP/$1-$v.txt
        grep -q 'omantel.omani.works' "$f" || { e2e_fail "$1: $v: header missing"; _bad=1; }
        n=$(e2e_high_bytes "$f")
        if [ "$n" != 0 ]; then
            e2e_fail "$1: $v: $n byte(s) >= 0x80 on screen:"
            LC_ALL=C grep -an '[^ -~]' "$f" | sed "s/$ESC\\[[0-9;]*m//g" | head -n 5
            _bad=1
        fi
    done
    [ "$_bad" = 0 ] && e2e_ok "$1: every view is pure ASCII"
}

# check_mono TAG: no colour SGR parameter in any capture.
check_mono() {
    _bad=0
    for v in $VIEWS_ALL; do
        f=$E2E_TMP/$1-$v.txt
        grep -q 'omantel.omani.works' "$f" || { e2e_fail "$1: $v: header missing"; _bad=1; }
        c=$(e2e_colour_sgr "$f" | sort -u | tr '\n' ' ')
        if [ -n "$c" ]; then
            e2e_fail "$1: $v: colour SGR parameters on screen: $c"
            _bad=1
        fi
    done
    [ "$_bad" = 0 ] && e2e_ok "$1: no colour attribute on any view"
}

base="$(e2e_env)"
bin=$(e2e_q "$BIN")
state=$(e2e_q "$D")

# LANG=C and LC_ALL=C.
raw=$E2E_TMP/raw-langc.log
e2e_start 120 40 "$raw" "$base LANG=C LC_ALL=C $bin --state-dir $state --refresh 2"
visit langc
check_ascii langc
n=$(e2e_high_bytes "$raw")
if [ "$n" = 0 ] && [ -s "$raw" ]; then
    e2e_ok "langc: raw terminal output is 7-bit ($(wc -c <"$raw" | tr -d ' ') bytes)"
else
    e2e_fail "langc: raw terminal output has $n byte(s) >= 0x80 (or is empty)"
fi

# --ascii in a UTF-8 locale.
e2e_start 120 40 "" "$base $bin --ascii --state-dir $state --refresh 2"
visit ascii
check_ascii ascii

# NO_COLOR=1.
raw=$E2E_TMP/raw-nocolor.log
e2e_start 120 40 "$raw" "$base NO_COLOR=1 $bin --state-dir $state --refresh 2"
visit nocolor
check_mono nocolor
c=$(e2e_colour_sgr "$raw" | sort -u | tr '\n' ' ')
if [ -z "$c" ] && [ -s "$raw" ]; then
    e2e_ok "nocolor: raw terminal output has no colour SGR"
else
    e2e_fail "nocolor: raw terminal output has colour SGR parameters: $c"
fi

# --color never.
e2e_start 80 24 "" "$base $bin --color never --state-dir $state --refresh 2"
visit never
check_mono never

# Control: by default (xterm-256color, no NO_COLOR) the screens have colour,
# so the checks above can see colour when it is there.
e2e_start 120 40 "" "$base $bin --state-dir $state --refresh 2"
visit colour
n=0
for v in $VIEWS_ALL; do
    [ -n "$(e2e_colour_sgr "$E2E_TMP/colour-$v.txt")" ] && n=$((n + 1))
done
if [ "$n" -gt 0 ]; then
    e2e_ok "control: $n of 7 views carry colour by default"
else
    e2e_fail "control: no view carries colour with TERM=xterm-256color and no NO_COLOR"
fi
# And the default run in UTF-8 does draw non-ASCII glyphs (the ASCII checks
# are not vacuous).
if [ "$(e2e_high_bytes "$E2E_TMP/colour-dashboard.txt")" != 0 ]; then
    e2e_ok "control: the UTF-8 dashboard uses non-ASCII glyphs"
else
    e2e_fail "control: the UTF-8 dashboard has no non-ASCII glyph"
fi

e2e_finish
