#!/bin/sh
# Installs the Debian build and test dependencies that are missing.
# As root: apt-get update, then apt-get install -y. Otherwise prints the line.
set -u
need=""
check_pc() { pkg-config --exists "$1" 2>/dev/null || need="$need $2"; }
check_bin() { command -v "$1" >/dev/null 2>&1 || need="$need $2"; }
check_bin pkg-config pkg-config
check_bin cc gcc
check_bin make make
check_pc ncursesw libncurses-dev
check_pc libcurl libcurl4-openssl-dev
check_pc libcjson libcjson-dev
check_pc yaml-0.1 libyaml-dev
check_pc libmicrohttpd libmicrohttpd-dev
check_pc criterion libcriterion-dev
check_bin tmux tmux
check_bin jq jq
check_bin curl curl
# `make bench` also wants a load tool and htop to compare against.
if [ "${1:-}" = bench ]; then
    check_bin wrk wrk
    check_bin htop htop
fi
# `make fuzz` builds with clang and links its libFuzzer runtime (compiler-rt;
# libclang-rt-dev is the one that matches Debian's default clang).
if [ "${1:-}" = fuzz ]; then
    if ! command -v clang >/dev/null 2>&1; then
        need="$need clang libclang-rt-dev"
    else
        rt="$(clang -print-resource-dir 2>/dev/null)/lib/linux/libclang_rt.fuzzer-x86_64.a"
        [ "$(uname -m)" != x86_64 ] || [ -f "$rt" ] || need="$need libclang-rt-dev"
    fi
fi
# `make tsan` links gcc's ThreadSanitizer runtime.
if [ "${1:-}" = tsan ]; then
    printf 'int main(void) { return 0; }\n' >"${TMPDIR:-/tmp}/deps-tsan-$$.c"
    cc -fsanitize=thread -o "${TMPDIR:-/tmp}/deps-tsan-$$" "${TMPDIR:-/tmp}/deps-tsan-$$.c" \
        >/dev/null 2>&1 || need="$need libtsan2"
    rm -f "${TMPDIR:-/tmp}/deps-tsan-$$" "${TMPDIR:-/tmp}/deps-tsan-$$.c"
fi
# The locale the UTF-8 screen tests use.
locale -a 2>/dev/null | grep -qi '^c\.utf-\?8$' || need="$need locales"
[ -z "$need" ] && exit 0
line="apt-get install -y$need"
if [ "$(id -u)" = 0 ]; then
    echo "deps: installing:$need" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq $need >&2 || {
        echo "deps: failed: $line" >&2; exit 1; }
else
    echo "deps: missing packages; run as root:" >&2
    echo "  apt-get update && $line" >&2
    exit 1
fi
