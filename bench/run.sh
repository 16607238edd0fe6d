#!/bin/sh
# make bench: runs every benchmark program and script, prints the figures.
# $BIN is the catalyst-tui binary, $BUILD the build dir.
set -u
B=${BUILD:-build}/bench
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "== catalyst-tui benchmarks ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores)"
for b in "$B"/bench_*; do
    [ -x "$b" ] || continue
    name=$(basename "$b")
    case "$name" in
    bench_spec1000) continue ;;   # a generator used by server.sh
    bench_wire)
        echo "-- $name"
        "$b" "$out/jobs10k.json"
        if command -v jq >/dev/null 2>&1 && [ -f "$out/jobs10k.json" ]; then
            # jq on the same file in the same run, best of 5.
            best=""
            for i in 1 2 3 4 5; do
                s=$(date +%s%N); jq . "$out/jobs10k.json" >/dev/null; e=$(date +%s%N)
                t=$(( (e - s) / 1000 ))
                if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
            done
            echo "jq . >/dev/null on the same 10000-job file: $((best / 1000)).$((best % 1000 / 100)) ms (best of 5)"
        else
            echo "jq not installed: no comparison"
        fi
        ;;
    *)
        echo "-- $name"
        "$b"
        ;;
    esac
done
for s in bench/*.sh; do
    [ "$s" = bench/run.sh ] && continue
    [ -f "$s" ] || continue
    echo "-- $(basename "$s")"
    BIN="$BIN" BUILD="${BUILD:-build}" sh "$s"
done
