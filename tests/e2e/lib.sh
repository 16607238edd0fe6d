# Shared helpers for the end-to-end scripts (POSIX sh, sourced).
#
# Each script calls e2e_setup NAME first: it makes a private temp dir and a
# private tmux server (tmux -L <unique socket>, no user config), and removes
# both on exit, whatever the exit path. Screens are compared after
# normalisation (random hex ids) with goldens in tests/e2e/golden/, which
# are rewritten only when UPDATE_GOLDEN=1 is set.
#
# Variables from tests/run.sh: BIN (absolute path of the binary under test),
# BUILD (build dir). Every screen test pins the clock with E2E_NOW.

set -u

E2E_NOW=2026-05-12T09:00:00Z
E2E_DIR=$(cd "$(dirname "$0")" && pwd)
E2E_ROOT=$(cd "$E2E_DIR/../.." && pwd)
E2E_GOLDEN=$E2E_DIR/golden
E2E_FIXTURES=$E2E_ROOT/tests/fixtures/e2e
E2E_FAILS=0
ESC=$(printf '\033')

e2e_log() {
    printf '%s: %s\n' "${E2E_NAME:-e2e}" "$*"
}

# Records a failure and keeps going; e2e_finish turns it into the exit status.
e2e_fail() {
    E2E_FAILS=$((E2E_FAILS + 1))
    printf '%s: FAIL: %s\n' "${E2E_NAME:-e2e}" "$*"
}

e2e_ok() {
    printf '%s: ok: %s\n' "${E2E_NAME:-e2e}" "$*"
}

# A failure after which the script cannot continue.
e2e_die() {
    e2e_fail "$*"
    exit 1
}

e2e_finish() {
    if [ "$E2E_FAILS" -ne 0 ]; then
        e2e_log "$E2E_FAILS check(s) failed"
        exit 1
    fi
    e2e_log "all checks passed"
    exit 0
}

e2e_cleanup() {
    if [ -n "${E2E_SOCK:-}" ]; then
        tmux -L "$E2E_SOCK" kill-server >/dev/null 2>&1
        rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$E2E_SOCK"
    fi
    [ -n "${E2E_TMP:-}" ] && rm -rf "$E2E_TMP"
}

e2e_setup() {
    E2E_NAME=$1
    if [ -z "${BIN:-}" ] || [ ! -x "$BIN" ]; then
        echo "$E2E_NAME: BIN is not set to an executable (got '${BIN:-}')" >&2
        exit 1
    fi
    E2E_TMP=$(mktemp -d) || exit 1
    E2E_SOCK="catalyst-e2e-$1-$$"
    trap e2e_cleanup EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
    unset TMUX TMUX_PANE
    # An empty config: the user's ~/.tmux.conf must not change sizes or keys.
    printf 'set -g remain-on-exit on\nset -g status off\nset -g history-limit 0\n' \
        >"$E2E_TMP/tmux.conf"
    mkdir -p "$E2E_TMP/config"
}

# Single-quotes a word for the shell command tmux runs.
e2e_q() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

e2e_tmux() {
    tmux -f "$E2E_TMP/tmux.conf" -L "$E2E_SOCK" "$@"
}

# The environment every console run starts from: pinned TERM, locale,
# clock and config dir; NO_COLOR and LC_* from the caller removed.
# Callers append VAR=value words and then the command.
e2e_env() {
    printf 'env -u NO_COLOR -u LC_ALL -u LC_CTYPE -u LC_MESSAGES -u COLORTERM '
    printf 'TERM=xterm-256color LANG=C.UTF-8 XDG_CONFIG_HOME=%s XDG_STATE_HOME=%s ' \
        "$(e2e_q "$E2E_TMP/config")" "$(e2e_q "$E2E_TMP/xdgstate")"
    printf 'CATALYST_TUI_NOW=%s' "$E2E_NOW"
}

# e2e_start W H RAWLOG COMMAND: runs COMMAND (a shell command string) in a
# fresh W x H tmux session. When RAWLOG is not empty, every byte the program
# writes to the terminal is appended to it (pipe-pane is attached before the
# program starts: the command waits for a gate file).
e2e_start() {
    _w=$1 _h=$2 _raw=$3 _cmd=$4
    e2e_stop
    _gate=$E2E_TMP/gate
    rm -f "$_gate"
    e2e_tmux new-session -d -x "$_w" -y "$_h" \
        "while [ ! -e $(e2e_q "$_gate") ]; do sleep 0.02; done; exec $_cmd" ||
        e2e_die "tmux new-session failed"
    if [ -n "$_raw" ]; then
        : >"$_raw"
        e2e_tmux pipe-pane -o "cat >> $(e2e_q "$_raw")" || e2e_die "tmux pipe-pane failed"
    fi
    touch "$_gate"
}

# Ends the tmux server, and waits (up to 5 s) until the program that ran in
# its pane is gone, so that the next run does not find the state dir locked.
e2e_stop() {
    _pid=$(e2e_tmux display-message -p '#{pane_pid}' 2>/dev/null)
    e2e_tmux kill-server >/dev/null 2>&1
    [ -n "$_pid" ] || return 0
    _n=50
    while [ "$_n" -gt 0 ] && kill -0 "$_pid" 2>/dev/null &&
          ! grep -q '^State:.*Z' "/proc/$_pid/status" 2>/dev/null; do
        sleep 0.1
        _n=$((_n - 1))
    done
}

# e2e_capture [capture-pane flags]: the visible screen on stdout.
e2e_capture() {
    e2e_tmux capture-pane -p "$@"
}

e2e_keys() {
    e2e_tmux send-keys "$@"
}

e2e_pane() {
    e2e_tmux display-message -p "$1"
}

e2e_alive() {
    [ "$(e2e_pane '#{pane_dead}')" = 0 ]
}

# e2e_wait_stable OUT TIMEOUT_S [TEXT] [capture flags]: polls the screen
# until it contains TEXT (when not empty) and two captures 200 ms apart are
# identical; the last capture is left in OUT. Returns 1 on timeout (OUT then
# holds the last screen seen, so a golden diff still shows what was there).
e2e_wait_stable() {
    _out=$1 _tmo=$2 _text=${3:-}
    shift 2
    [ $# -gt 0 ] && shift
    _n=$((_tmo * 5))
    e2e_capture "$@" >"$_out.a" 2>/dev/null
    while [ "$_n" -gt 0 ]; do
        sleep 0.2
        e2e_capture "$@" >"$_out.b" 2>/dev/null
        if cmp -s "$_out.a" "$_out.b"; then
            if [ -z "$_text" ] || grep -qF -- "$_text" "$_out.b"; then
                mv "$_out.b" "$_out"
                rm -f "$_out.a"
                return 0
            fi
        fi
        mv "$_out.b" "$_out.a"
        _n=$((_n - 1))
    done
    mv "$_out.a" "$_out"
    return 1
}

# e2e_wait_dead TIMEOUT_S: waits for the program in the pane to exit and be
# reaped. tmux marks the pane dead at EOF on the pty, before it knows the
# exit status; and the tmux 3.3a server here now and then misses the
# SIGCHLD, leaving the program a zombie with no status: once the pane has
# been dead for half a second, the server is sent SIGCHLD again.
e2e_wait_dead() {
    _n=$(($1 * 10))
    _dead=0
    while [ "$_n" -gt 0 ]; do
        case "$(e2e_pane '#{pane_dead}:#{pane_dead_status}#{pane_dead_signal}')" in
        1:?*) return 0 ;;
        1:)
            _dead=$((_dead + 1))
            [ $((_dead % 5)) = 0 ] && kill -CHLD "$(e2e_pane '#{pid}')" 2>/dev/null
            ;;
        esac
        sleep 0.1
        _n=$((_n - 1))
    done
    return 1
}

# How the program in the pane ended: "status N" or "signal N".
e2e_exit_desc() {
    _sig=$(e2e_pane '#{pane_dead_signal}')
    if [ -n "$_sig" ]; then
        echo "signal $_sig"
    else
        echo "status $(e2e_pane '#{pane_dead_status}')"
    fi
}

# Random ids (execution ids, the mirrored commit SHA) become <hex>.
e2e_normalize() {
    sed -E 's/[0-9a-f]{8,}/<hex>/g'
}

# e2e_golden NAME FILE: compares FILE (already normalised) with
# golden/NAME.txt; UPDATE_GOLDEN=1 rewrites the golden instead.
e2e_golden() {
    _g=$E2E_GOLDEN/$1.txt
    if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
        mkdir -p "$E2E_GOLDEN"
        cp "$2" "$_g"
        e2e_log "golden $1 written"
        return 0
    fi
    if [ ! -f "$_g" ]; then
        e2e_fail "golden $1 missing ($_g); create it with UPDATE_GOLDEN=1"
        return 1
    fi
    if diff -u "$_g" "$2" >"$E2E_TMP/golden.diff"; then
        e2e_ok "screen $1 matches its golden"
        return 0
    fi
    e2e_fail "screen $1 differs from $_g (--- golden, +++ actual):"
    cat "$E2E_TMP/golden.diff"
    return 1
}

# Number of bytes >= 0x80 in FILE.
e2e_high_bytes() {
    LC_ALL=C tr -d '\000-\177' <"$1" | wc -c | tr -d ' '
}

# Colour SGR parameters found in FILE, one per line (foreground/background
# 30-37, 40-47, 90-97, 100-107, and 38/48 extended colours). 39 and 49 are
# the default colours, i.e. resets, and are allowed, as are bold, dim,
# underline and reverse.
e2e_colour_sgr() {
    LC_ALL=C grep -ao "$ESC\\[[0-9;:]*m" "$1" |
        sed -e "s/^$ESC\\[//" -e 's/m$//' | tr ';:' '\n\n' |
        grep -E '^(3[0-8]|4[0-8]|9[0-7]|10[0-7])$'
}

# Does FILE contain the bytes given as a printf format (e.g. '\033]52;')?
e2e_has_bytes() {
    _pat=$(printf "$1")
    LC_ALL=C grep -aqF -e "$_pat" "$2"
}

# Builds a finished demo state in DIR with the pinned clock. One worker
# (--jobs 1): with a frozen clock every log line has the same timestamp, and
# only a sequential run gives the activity feed the same order every time.
e2e_demo_state() {
    if ! CATALYST_TUI_NOW=$E2E_NOW XDG_CONFIG_HOME=$E2E_TMP/config \
        timeout 120 "$BIN" wait cutover --speed 50 --jobs 1 --state-dir "$1" \
        >"$E2E_TMP/wait.log" 2>&1; then
        cat "$E2E_TMP/wait.log"
        e2e_die "wait cutover --speed 50 --jobs 1 --state-dir $1 did not exit 0"
    fi
}

# Views by key, with a word each one shows (to know the switch happened).
E2E_VIEWS="dashboard:1:Activity jobs:2:STATUS dag:3:critical timeline:4:tick tree:5:organizations cutover:6:achieved"

# Run directly (tests/run.sh runs every tests/e2e/*.sh), this file checks
# that its own detectors see what they must and nothing else.
e2e_selftest() {
    E2E_NAME=lib
    E2E_TMP=$(mktemp -d) || exit 1
    trap 'rm -rf "$E2E_TMP"' EXIT
    f=$E2E_TMP/f
    for m in '\033]0;hacked-title' '\033]52;' '\033[5;33;44m' '\033[2J\033[H' \
             'abc\rXYZ' '\377\376' '\302\233' '\007\007'; do
        printf "pre${m}post\n" >"$f"
        e2e_has_bytes "$m" "$f" || e2e_fail "e2e_has_bytes misses $m"
        printf 'pre post\n' >"$f"
        e2e_has_bytes "$m" "$f" && e2e_fail "e2e_has_bytes finds $m where it is not"
    done
    printf 'a\033[1;38;5;12mb\033[0m' >"$f"
    [ "$(e2e_colour_sgr "$f")" = 38 ] || e2e_fail "e2e_colour_sgr misses 38;5;12"
    printf 'a\033[0;1;2;4;7mb\033[39m\033[49m\033[0m' >"$f"
    [ -z "$(e2e_colour_sgr "$f")" ] || e2e_fail "e2e_colour_sgr flags attributes or resets"
    printf 'a\033[31mb\033[104mc\033[92md' >"$f"
    [ "$(e2e_colour_sgr "$f" | tr '\n' ' ')" = "31 104 92 " ] ||
        e2e_fail "e2e_colour_sgr misses basic colours"
    printf 'plain ascii\n' >"$f"
    [ "$(e2e_high_bytes "$f")" = 0 ] || e2e_fail "e2e_high_bytes counts ASCII"
    printf 'caf\303\251 \342\234\223\n' >"$f"
    [ "$(e2e_high_bytes "$f")" = 5 ] || e2e_fail "e2e_high_bytes miscounts UTF-8"
    [ "$(echo 'exec 1646437c468f dep 3f9a1c7e52b04d8a at 09:00:00 v1.30.5' | e2e_normalize)" = \
      'exec <hex> dep <hex> at 09:00:00 v1.30.5' ] || e2e_fail "e2e_normalize"
    e2e_finish
}

case "$0" in
*/lib.sh | lib.sh) e2e_selftest ;;
esac
