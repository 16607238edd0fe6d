#!/bin/sh
# Files someone names, and where diagnostics go. In the running console,
# ":theme-file" on a FIFO with no writer must answer with an error at once
# (the UI stays responsive), ":theme" takes names only, and a file whose
# first line is a secret is refused without showing it. While the console
# runs, stderr goes to <state-dir>/console.log, which stays; its path is
# printed on exit when the run wrote to it. Write errors on stdout (--once,
# wait) end with a message and status 1.
. "$(dirname "$0")/lib.sh"
e2e_setup files

D=$E2E_TMP/state
S=$E2E_TMP/screen
FIFO=$E2E_TMP/theme.fifo
SECRET=$E2E_TMP/secret.txt
mkfifo "$FIFO" || e2e_die "mkfifo failed"
printf 'root:*:SECRET-8f3a91:0:99999:7:::\nsecond line\n' >"$SECRET"

# expect TAG FILE FIXED-TEXT WHAT
expect() {
    if grep -qF -- "$3" "$2"; then
        e2e_ok "$1: $4"
    else
        e2e_fail "$1: $4: no line has '$3'"
        cat "$2"
    fi
}

# command TEXT: types ":TEXT" and Enter in the console.
command() {
    e2e_keys ':'
    e2e_keys -l "$1"
    e2e_keys Enter
}

base="$(e2e_env) CATALYST_TUI_THEMES=$(e2e_q "$E2E_ROOT/themes")"
bin=$(e2e_q "$BIN")
RAW=$E2E_TMP/raw.log
e2e_start 120 30 "$RAW" "$base $bin --state-dir $(e2e_q "$D") --speed 0.01"
e2e_wait_stable "$S" 10 "Sovereignty" || e2e_die "the dashboard never appeared"

# 1. A FIFO with no writer: an error in well under the 5 s bound, not a hang.
command "theme-file $FIFO"
if e2e_wait_stable "$S" 5 "is a FIFO, not a regular file"; then
    e2e_ok "fifo: ':theme-file FIFO' answered with an error"
else
    e2e_fail "fifo: no error on screen after ':theme-file FIFO'"
    cat "$S"
fi
e2e_keys 2
e2e_wait_stable "$S" 5 "STATUS" && e2e_ok "fifo: the UI still switches views" ||
    e2e_fail "fifo: the jobs view did not open after the FIFO"
e2e_keys 1

# 2. A path given as a theme name is refused, and nothing of the file shows.
command "theme ../../../../etc/shadow"
e2e_wait_stable "$S" 5 "theme name is a word" &&
    e2e_ok "name: ':theme PATH' refused as not a name" ||
    { e2e_fail "name: ':theme PATH' not refused"; cat "$S"; }
if grep -q 'root:' "$S"; then
    e2e_fail "name: a line of /etc/shadow is on screen"
fi

# 3. A non-YAML file whose first line is a secret: an error, never the secret.
command "theme-file $SECRET"
e2e_wait_stable "$S" 5 "secret.txt:" || e2e_fail "secret: no error naming the file"
if grep -q 'SECRET-8f3a91' "$S"; then
    e2e_fail "secret: the file's first line is on screen"
    cat "$S"
else
    e2e_ok "secret: the error names the file, not its content"
fi

# 4. A name still works.
command "theme light"
e2e_wait_stable "$S" 5 "theme light" && e2e_ok "theme: ':theme light' applied" ||
    e2e_fail "theme: ':theme light' not applied"

# 5. Something written to the console's stderr (as a sanitizer report would be).
# The console forks once at start (see detach); the child runs the screen.
pid=$(e2e_pane '#{pane_pid}')
child=$(pgrep -P "$pid" catalyst-tui | head -n 1)
[ -n "$child" ] && pid=$child
if [ -n "$pid" ] && [ -e "/proc/$pid/fd/2" ]; then
    echo "diag-e2e-line from outside" >>"/proc/$pid/fd/2"
else
    e2e_fail "diag: cannot reach the console's stderr"
fi
quit_console() {
    command quit
    # Jobs still in flight: the quit dialog asks; s stops them, then quits.
    e2e_wait_stable "$S" 3 "stop the jobs" >/dev/null && e2e_keys s
}
quit_console
e2e_wait_dead 10 || e2e_fail "diag: ':quit' did not end the program"
[ "$(e2e_exit_desc)" = "status 0" ] || e2e_fail "diag: the program ended with $(e2e_exit_desc)"
e2e_capture >"$S"
LOG=$D/console.log
# The terminal's bytes, not the screen: with no scrollback, tmux may scroll
# the first line away when the pane dies.
sleep 0.3
expect diag "$RAW" "diagnostics from this run are in $LOG" "the log's path is printed on exit"
expect diag "$RAW" "diag-e2e-line" "the short output is shown again after exit"
if [ -f "$LOG" ] && grep -q 'diag-e2e-line' "$LOG" &&
   grep -q '^--- catalyst-tui console started' "$LOG"; then
    e2e_ok "diag: console.log keeps the run's stderr after exit"
else
    e2e_fail "diag: console.log missing or without the line"
fi
mode=$(stat -c %a "$LOG" 2>/dev/null)
[ "$mode" = 600 ] && e2e_ok "diag: console.log is 0600" || e2e_fail "diag: console.log mode $mode"
e2e_stop

# 6. A quiet run prints no path; an oversized log is rotated to console.log.1.
head -c 1100000 /dev/zero | tr '\0' 'x' >>"$LOG"
e2e_start 120 30 "" "$base $bin --state-dir $(e2e_q "$D") --speed 0.01"
e2e_wait_stable "$S" 10 "Sovereignty" || e2e_fail "rotate: the dashboard never appeared"
quit_console
e2e_wait_dead 10 || e2e_fail "rotate: ':quit' did not end the program"
e2e_capture >"$S"
if grep -q 'diagnostics from this run' "$S"; then
    e2e_fail "rotate: a quiet run printed the log's path"
else
    e2e_ok "rotate: a quiet run prints nothing about the log"
fi
size=$(wc -c <"$LOG" | tr -d ' ')
if [ -f "$LOG.1" ] && grep -q 'diag-e2e-line' "$LOG.1" && [ "$size" -lt 1000 ]; then
    e2e_ok "rotate: the log over 1 MiB became console.log.1, a new one started ($size bytes)"
else
    e2e_fail "rotate: no rotation (console.log $size bytes)"
fi
e2e_stop

# 7. Write errors on stdout: a message and status 1.
"$BIN" --once --state-dir "$D" >/dev/full 2>"$E2E_TMP/full.err"
rc=$?
if [ "$rc" = 1 ] && grep -q 'writing to stdout: No space left on device' "$E2E_TMP/full.err"; then
    e2e_ok "once: --once > /dev/full says so and exits 1"
else
    e2e_fail "once: --once > /dev/full exited $rc with: $(cat "$E2E_TMP/full.err")"
fi
for flag in --help --version; do
    "$BIN" $flag >/dev/full 2>"$E2E_TMP/info.err"
    rc=$?
    if [ "$rc" = 1 ] && grep -q 'writing to stdout: No space left on device' "$E2E_TMP/info.err"
    then
        e2e_ok "info: $flag > /dev/full says so and exits 1"
    else
        e2e_fail "info: $flag > /dev/full exited $rc with: $(cat "$E2E_TMP/info.err")"
    fi
done
timeout 60 "$BIN" wait jobs --spec "$E2E_ROOT/tests/fixtures/spec/good-minimal.yaml" \
    --state-dir "$E2E_TMP/wait" --speed 100 >/dev/full 2>"$E2E_TMP/wait.err"
rc=$?
if [ "$rc" = 1 ] && grep -q 'writing to stdout: No space left on device' "$E2E_TMP/wait.err"; then
    e2e_ok "wait: wait > /dev/full says so and exits 1"
else
    e2e_fail "wait: wait > /dev/full exited $rc with: $(cat "$E2E_TMP/wait.err")"
fi

e2e_finish
