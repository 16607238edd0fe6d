#!/bin/sh
# Golden screens of every view at 120x40 and 80x24 on a finished demo state
# with a pinned clock; the job detail and back; resize to 30x8 and back; a
# storm of resizes; `q` exits 0 and leaves the terminal as it was.
. "$(dirname "$0")/lib.sh"
e2e_setup screens

D=$E2E_TMP/state
e2e_demo_state "$D"
e2e_ok "demo state finished in $D"

console() {
    printf '%s %s --state-dir %s --refresh 2' "$(e2e_env)" "$(e2e_q "$BIN")" "$(e2e_q "$D")"
}

S=$E2E_TMP/screen

# shot NAME TEXT: waits for a stable screen showing TEXT and compares it.
shot() {
    if ! e2e_wait_stable "$S" 10 "$2"; then
        e2e_fail "$1: no stable screen showing '$2' within 10 s"
    fi
    e2e_normalize <"$S" >"$E2E_TMP/$1.txt"
    e2e_golden "$1" "$E2E_TMP/$1.txt"
}

# again NAME TEXT SITUATION: the screen must equal the NAME capture taken
# earlier in this run (so UPDATE_GOLDEN=1 never records these).
again() {
    if ! e2e_wait_stable "$S" 10 "$2"; then
        e2e_fail "$3: no stable screen showing '$2' within 10 s"
    fi
    e2e_normalize <"$S" >"$E2E_TMP/again.txt"
    if cmp -s "$E2E_TMP/$1.txt" "$E2E_TMP/again.txt"; then
        e2e_ok "$3: same $1 screen as before"
    else
        e2e_fail "$3: the $1 screen differs from before (--- before, +++ now):"
        diff -u "$E2E_TMP/$1.txt" "$E2E_TMP/again.txt"
    fi
}

for size in 120x40 80x24; do
    W=${size%x*}
    H=${size#*x}
    e2e_start "$W" "$H" "" "$(console)"
    e2e_wait_stable "$S" 10 "omantel.omani.works" ||
        e2e_fail "$size: the header never appeared"

    for v in $E2E_VIEWS; do
        name=${v%%:*}
        rest=${v#*:}
        key=${rest%%:*}
        text=${rest#*:}
        e2e_keys "$key"
        shot "$name-$size" "$text"
    done

    # Job detail: Enter on the selected (first) row of the jobs view.
    e2e_keys 2
    e2e_wait_stable "$S" 10 STATUS || e2e_fail "$size: jobs view not shown before Enter"
    cp "$S" "$E2E_TMP/jobs-before-$size"
    e2e_keys Enter
    shot "job-$size" "Executions"

    # Esc goes back to the jobs view, same selection and scroll.
    e2e_keys Escape
    if e2e_wait_stable "$S" 10 STATUS && cmp -s "$S" "$E2E_TMP/jobs-before-$size"; then
        e2e_ok "$size: Esc from the job detail returns to the same jobs screen"
    else
        e2e_fail "$size: after Esc from the job detail the jobs screen differs:"
        diff -u "$E2E_TMP/jobs-before-$size" "$S"
    fi

    # Help over the jobs view: the view's keys first, then the global ones.
    if [ "$size" = 120x40 ]; then
        e2e_keys 2
        e2e_wait_stable "$S" 10 STATUS
        e2e_keys '?'
        shot "help-jobs-$size" "Help"
        e2e_keys Escape
        again "jobs-$size" STATUS "$size: Esc closes the help"
    fi

    # Ctrl-L repaints to the same screen.
    e2e_keys 1
    e2e_wait_stable "$S" 10 Activity
    e2e_keys C-l
    again "dashboard-$size" Activity "$size: Ctrl-L"

    if [ "$size" = 120x40 ]; then
        # Too small: one clear line (or a compact layout), still running.
        e2e_tmux resize-window -x 30 -y 8
        e2e_wait_stable "$S" 10 ""
        if ! e2e_alive; then
            e2e_fail "30x8: the process died ($(e2e_exit_desc))"
        elif grep -qi 'too small' "$S" || grep -q 'omantel' "$S"; then
            e2e_ok "30x8: shows '$(grep -v '^$' "$S" | head -n 1)'"
        else
            e2e_fail "30x8: neither a 'terminal too small' line nor a compact layout:"
            cat "$S"
        fi

        # Back to 120x40: the dashboard is drawn again, as before.
        e2e_tmux resize-window -x 120 -y 40
        again "dashboard-$size" Activity "30x8 back to 120x40"

        # Resize storm between 1x1 and 200x60.
        i=0
        for s in 1x1 200x60 1x1 200x60 2x1 150x50 1x60 200x1 40x10 39x9 \
                 1x1 120x40 200x60 3x2 80x24 1x1 200x60 17x5 60x17 1x1; do
            e2e_tmux resize-window -x "${s%x*}" -y "${s#*x}"
            i=$((i + 1))
            [ $((i % 4)) = 0 ] && sleep 0.05
        done
        sleep 0.5
        if e2e_alive; then
            e2e_ok "resize storm: 20 resizes, still running"
        else
            e2e_fail "resize storm: the process died ($(e2e_exit_desc))"
        fi
        e2e_tmux resize-window -x 120 -y 40
        again "dashboard-$size" Activity "after the resize storm, at 120x40"
    fi

    # q quits with status 0 and gives the terminal back (alternate screen off,
    # the console's screen gone).
    e2e_keys q
    if e2e_wait_dead 5; then
        st=$(e2e_exit_desc)
        if [ "$st" = "status 0" ]; then
            e2e_ok "$size: q exits with status 0"
        else
            e2e_fail "$size: after q the program ended with $st, expected status 0"
        fi
        if [ "$(e2e_pane '#{alternate_on}')" != 0 ]; then
            e2e_fail "$size: the alternate screen is still on after exit"
        fi
        e2e_capture >"$S"
        if grep -q 'omantel.omani.works' "$S"; then
            e2e_fail "$size: the console's screen is still shown after exit (terminal not restored):"
            head -n 5 "$S"
        else
            e2e_ok "$size: terminal restored after exit"
        fi
    else
        e2e_fail "$size: q did not end the program within 5 s"
    fi
    e2e_stop
done

# SIGINT, SIGTERM and SIGHUP: the program ends and gives the terminal back
# (the alternate screen is left: the raw output ends with rmcup after the
# last smcup).
for sig in INT TERM HUP; do
    raw=$E2E_TMP/raw-$sig.log
    e2e_start 80 24 "$raw" "$(console)"
    e2e_wait_stable "$S" 10 "omantel.omani.works" || e2e_fail "SIG$sig: the header never appeared"
    pid=$(e2e_pane '#{pane_pid}')
    kill -s "$sig" "$pid"
    if ! e2e_wait_dead 5; then
        e2e_fail "SIG$sig: the program is still running 5 s later"
        e2e_stop
        continue
    fi
    last_in=$(LC_ALL=C grep -abo "$ESC\[?1049h" "$raw" | tail -n 1 | cut -d: -f1)
    last_out=$(LC_ALL=C grep -abo "$ESC\[?1049l" "$raw" | tail -n 1 | cut -d: -f1)
    if [ -n "$last_out" ] && [ "${last_in:--1}" -lt "$last_out" ] &&
       [ "$(e2e_pane '#{alternate_on}')" = 0 ]; then
        e2e_ok "SIG$sig: ended ($(e2e_exit_desc)), terminal restored"
    else
        e2e_fail "SIG$sig: ended ($(e2e_exit_desc)) without leaving the alternate screen"
        tail -c 200 "$raw" | od -c | tail -n 5
    fi
    e2e_stop
done

e2e_finish
