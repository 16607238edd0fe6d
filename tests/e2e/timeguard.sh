#!/bin/sh
# Issue 8's report, replayed: the timeline (4), zoomed out sixty times (-),
# scrolled right (l). The console must stay responsive (the screen still
# answers keys) and `q`, and on a second run SIGTERM, must end it within 2 s,
# with the terminal given back (normal screen, cursor shown).
. "$(dirname "$0")/lib.sh"
e2e_setup timeguard

D=$E2E_TMP/state
e2e_demo_state "$D"
e2e_ok "demo state finished in $D"

S=$E2E_TMP/screen
RAW=$E2E_TMP/raw

console() {
    printf '%s %s --state-dir %s --speed 50' "$(e2e_env)" "$(e2e_q "$BIN")" "$(e2e_q "$D")"
}

# The report's key sequence, then a check that the UI still answers keys.
zoom_out_and_scroll() {
    e2e_keys 4
    e2e_wait_stable "$S" 10 "per column" || e2e_fail "$1: the timeline never appeared"
    minus=""
    for _ in $(seq 60); do
        minus="$minus -"
    done
    # shellcheck disable=SC2086 # sixty separate '-' keys
    e2e_keys $minus
    e2e_keys l
    sleep 1
    e2e_alive || e2e_die "$1: the console died on the zoom sequence"
    # The UI thread is not spinning: it still switches views at once.
    e2e_keys 2
    if e2e_wait_stable "$S" 3 STATUS; then
        e2e_ok "$1: still answering keys after 4, - x60, l"
    else
        e2e_fail "$1: no answer to a key after 4, - x60, l (UI thread stuck?)"
    fi
    e2e_keys 4
    e2e_wait_stable "$S" 3 "per column" || e2e_fail "$1: the timeline did not come back"
}

# gone WHAT: the program must have exited within 2 s, with status 0.
gone() {
    t0=$(date +%s%N)
    pid=$(e2e_pane '#{pane_pid}')
    if e2e_wait_dead 2; then
        ms=$((($(date +%s%N) - t0) / 1000000))
        e2e_ok "$1: gone after ${ms} ms ($(e2e_exit_desc))"
        [ "$(e2e_exit_desc)" = "status 0" ] || e2e_fail "$1: ended with $(e2e_exit_desc)"
    else
        e2e_fail "$1: still running 2 s later"
        # A console that ignores its terminal and signals must not outlive the test.
        kill -KILL "$pid" 2>/dev/null
    fi
    # rmcup (back from the alternate screen) and cnorm (cursor shown) were sent.
    if e2e_has_bytes '\033[?1049l' "$RAW" && e2e_has_bytes '\033[?25h' "$RAW"; then
        e2e_ok "$1: terminal restored"
    else
        e2e_fail "$1: the exit sequences were not written"
    fi
}

e2e_start 200 50 "$RAW" "$(console)"
e2e_wait_stable "$S" 10 "omantel.omani.works" || e2e_fail "the header never appeared"
zoom_out_and_scroll "q"
e2e_keys q
gone "q"

e2e_start 200 50 "$RAW" "$(console)"
e2e_wait_stable "$S" 10 "omantel.omani.works" || e2e_fail "the header never appeared"
zoom_out_and_scroll "SIGTERM"
kill -TERM "$(e2e_pane '#{pane_pid}')"
gone "SIGTERM"

e2e_stop
e2e_finish
