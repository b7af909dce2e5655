#!/bin/sh
# e2e_fuzz.sh - every input that ever failed a fuzz harness
# (fuzz/regressions/NAME/) and every seed (fuzz/corpus/NAME/) replayed through
# $B/fuzz/replay_NAME: the harness fuzz/fuzz_NAME.c linked with
# fuzz/replay.c instead of libFuzzer, built by `make all` with the project's
# compiler (so `make asan` replays under ASan + UBSan).  Every harness must
# have its replay program and a seed corpus.  POSIX sh.
NAME=e2e_fuzz
. "$(dirname "$0")/lib.sh"
B=${B:-build}
n=0
for src in fuzz/fuzz_*.c; do
    [ -f "$src" ] || continue
    h=${src#fuzz/fuzz_}
    h=${h%.c}
    n=$((n + 1))
    prog=$B/fuzz/replay_$h
    [ -x "$prog" ] || { fail "$prog is missing (make all builds it)"; continue; }
    [ -d "fuzz/corpus/$h" ] || { fail "fuzz/corpus/$h: the harness has no seeds"; continue; }
    set -- "fuzz/corpus/$h"
    [ -d "fuzz/regressions/$h" ] && set -- "$@" "fuzz/regressions/$h"
    if "$prog" "$@" >"$T/out" 2>&1; then
        echo "  $(tail -n 1 "$T/out")"
    else
        fail "$prog $*:"
        tail -n 30 "$T/out" | sed 's/^/    /' >&2
    fi
done
[ "$n" -gt 0 ] || fail "no harness fuzz/fuzz_*.c"
[ "$fails" -eq 0 ]
