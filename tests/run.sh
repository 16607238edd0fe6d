#!/bin/sh
# Runs every Criterion test binary given as arguments, then every end-to-end
# script in tests/e2e/ (each gets $BIN, the binary under test). Prints one
# closing line "N passed, N failed" and exits non-zero when anything failed.
set -u
pass=0
fail=0
failed=""
for t in "$@"; do
    name=$(basename "$t")
    if "$t" --jobs 2 >"$t.log" 2>&1; then
        pass=$((pass + 1))
        tail -n 1 "$t.log"
    else
        fail=$((fail + 1))
        failed="$failed $name"
        cat "$t.log"
    fi
done
for s in tests/e2e/*.sh; do
    [ -f "$s" ] || continue
    name=$(basename "$s" .sh)
    log="${BUILD:-build}/tests/e2e-$name.log"
    mkdir -p "$(dirname "$log")"
    if timeout 600 sh "$s" >"$log" 2>&1; then
        pass=$((pass + 1))
        echo "e2e $name: ok"
    else
        fail=$((fail + 1))
        failed="$failed e2e:$name"
        cat "$log"
        echo "e2e $name: FAILED"
    fi
done
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
