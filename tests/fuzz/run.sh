#!/bin/sh
# Runs the fuzz harnesses (see the Makefile's fuzzing comment).
#
#   sh tests/fuzz/run.sh replay BUILD NAME...   replay corpus + crash files once
#   sh tests/fuzz/run.sh fuzz BUILD NAME...     libFuzzer, $FUZZ_SECONDS each
#
# Fuzzing works on a scratch copy of each corpus under BUILD, so new inputs
# never land in the repository. An input that crashes, leaks or times out is
# copied to tests/fuzz/crashes/NAME/ (and printed in base64 for CI logs),
# where `make fuzz-regress` replays it from then on. Exits non-zero when any
# harness failed; the last line reads "fuzz: N passed, N failed".
set -u
mode=$1
build=$2
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${FUZZ_SECONDS:-60}
pass=0
fail=0
failed=""

# Copies the artifacts libFuzzer left in $1 to the crashes dir of $2.
keep_crashes() {
    keep="$root/tests/fuzz/crashes/$2"
    for f in "$1"/*; do
        [ -f "$f" ] || continue
        mkdir -p "$keep"
        cp "$f" "$keep/"
        echo "fuzz $2: kept $(basename "$f") in tests/fuzz/crashes/$2/ (base64 follows)"
        base64 -w 0 <"$f"
        echo
    done
}

for name in "$@"; do
    corpus="$root/tests/fuzz/corpus/$name"
    crashes="$root/tests/fuzz/crashes/$name"
    log="$build/fuzz-$mode-$name.log"
    mkdir -p "$build"
    if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
        echo "fuzz $name: no seed corpus in tests/fuzz/corpus/$name/"
        fail=$((fail + 1))
        failed="$failed $name"
        continue
    fi
    if [ "$mode" = replay ]; then
        set -- "$corpus"
        [ -d "$crashes" ] && set -- "$@" "$crashes"
        if "$build/replay/$name" "$@" >"$log" 2>&1; then
            pass=$((pass + 1))
            tail -n 1 "$log"
        else
            fail=$((fail + 1))
            failed="$failed $name"
            tail -n 60 "$log"
            echo "fuzz $name: replay FAILED"
        fi
        continue
    fi
    work="$build/work/$name"
    art="$build/artifacts/$name"
    rm -rf "$work" "$art"
    mkdir -p "$work" "$art"
    cp "$corpus"/* "$work/"
    # -timeout: one input; -rss_limit_mb: the whole process; -max_len: inputs
    # no longer than the largest seed or 64 KB keep each run cheap.
    if "$build/fuzz/$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -artifact_prefix="$art/" -print_final_stats=1 "$work" \
        >"$log" 2>&1; then
        pass=$((pass + 1))
        echo "fuzz $name: ok, $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" |
            grep -o '[0-9]*$') runs in ${secs}s"
    else
        fail=$((fail + 1))
        failed="$failed $name"
        grep -v '^#[0-9]' "$log" | tail -n 60
        keep_crashes "$art" "$name"
        echo "fuzz $name: FAILED"
    fi
done
[ -n "$failed" ] && echo "fuzz failed:$failed"
echo "fuzz: $pass passed, $fail failed"
[ "$fail" = 0 ]
