#!/bin/sh
# make install PREFIX=/usr DESTDIR=<tmp> with the binary under test installs
# the binary, the man page and the five themes with the right modes; the man
# page formats; make uninstall removes them again.
. "$(dirname "$0")/lib.sh"
e2e_setup install

DEST=$E2E_TMP/dest
P=$DEST/usr
cd "$E2E_ROOT" || e2e_die "cannot cd to $E2E_ROOT"

# -o BIN: install the binary under test as it is, never rebuild it here.
if ! make -s -o "$BIN" install BIN="$BIN" PREFIX=/usr DESTDIR="$DEST" >"$E2E_TMP/make.log" 2>&1; then
    cat "$E2E_TMP/make.log"
    e2e_die "make install PREFIX=/usr DESTDIR=$DEST failed"
fi
e2e_ok "make install PREFIX=/usr DESTDIR=<tmp>"

mode() { stat -c %a "$1"; }

# want FILE MODE
want() {
    if [ ! -f "$1" ]; then
        e2e_fail "not installed: ${1#"$DEST"}"
    elif [ "$(mode "$1")" != "$2" ]; then
        e2e_fail "${1#"$DEST"}: mode $(mode "$1"), expected $2"
    else
        e2e_ok "installed ${1#"$DEST"} ($2)"
    fi
}

want "$P/bin/catalyst-tui" 755
cmp -s "$P/bin/catalyst-tui" "$BIN" || e2e_fail "the installed binary is not the one under test"
want "$P/share/man/man1/catalyst-tui.1" 644
for t in default light high-contrast colorblind mono; do
    want "$P/share/catalyst-tui/themes/$t.yaml" 644
done
n=$(find "$DEST" -type f | wc -l | tr -d ' ')
[ "$n" = 7 ] || { e2e_fail "expected 7 installed files, found $n:"; find "$DEST" -type f; }
[ -z "$(find "$DEST" -path "$DEST/usr" -prune -o -print | grep -v "^$DEST\$")" ] ||
    e2e_fail "files installed outside DESTDIR/usr"

# The installed binary runs, and accepts each installed theme by file.
if v=$("$P/bin/catalyst-tui" --version 2>&1); then
    e2e_ok "installed binary: $v"
else
    e2e_fail "installed binary: --version failed: $v"
fi
D=$E2E_TMP/state
for t in default light high-contrast colorblind mono; do
    CATALYST_TUI_NOW=$E2E_NOW XDG_CONFIG_HOME=$E2E_TMP/config timeout 30 \
        "$P/bin/catalyst-tui" --once --theme-file "$P/share/catalyst-tui/themes/$t.yaml" \
        --state-dir "$D" >/dev/null 2>"$E2E_TMP/err" ||
        { e2e_fail "installed theme $t.yaml refused:"; cat "$E2E_TMP/err"; }
done

# The man page.
MAN=$P/share/man/man1/catalyst-tui.1
if head -n 5 "$MAN" | grep -q '^\.TH CATALYST-TUI 1'; then
    e2e_ok "man page has its .TH CATALYST-TUI 1 header"
else
    e2e_fail "man page: no '.TH CATALYST-TUI 1' header in the first lines"
fi
for s in NAME SYNOPSIS OPTIONS FILES ENVIRONMENT 'EXIT STATUS'; do
    grep -q "^\\.SH \"*$s\"*\$" "$MAN" || e2e_fail "man page: no $s section"
done
if command -v groff >/dev/null 2>&1; then
    if groff -man -Tutf8 -ww -z "$MAN" >"$E2E_TMP/groff.log" 2>&1 && [ ! -s "$E2E_TMP/groff.log" ]; then
        e2e_ok "groff -man -ww: no warning"
    else
        e2e_fail "groff -man -ww reports problems:"
        head -n 20 "$E2E_TMP/groff.log"
    fi
fi
if command -v man >/dev/null 2>&1; then
    if MANPAGER=cat PAGER=cat MANWIDTH=80 man -l "$MAN" >"$E2E_TMP/man.txt" 2>"$E2E_TMP/man.err" &&
       grep -q 'catalyst-tui' "$E2E_TMP/man.txt" && grep -q 'EXIT STATUS' "$E2E_TMP/man.txt"; then
        e2e_ok "man -l formats the page ($(wc -l <"$E2E_TMP/man.txt" | tr -d ' ') lines)"
    else
        e2e_fail "man -l failed:"
        cat "$E2E_TMP/man.err"
    fi
else
    e2e_log "man not installed: only the .TH header was checked"
fi

# Uninstall removes what install put there.
if make -s -o "$BIN" uninstall BIN="$BIN" PREFIX=/usr DESTDIR="$DEST" >"$E2E_TMP/make.log" 2>&1; then
    left=$(find "$DEST" -type f)
    [ -z "$left" ] && e2e_ok "make uninstall removes every installed file" ||
        e2e_fail "make uninstall left: $left"
else
    cat "$E2E_TMP/make.log"
    e2e_fail "make uninstall failed"
fi

e2e_finish
