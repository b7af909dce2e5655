#!/bin/sh
# Runs every test executable given as an argument, then every tests/*.sh
# end-to-end script; prints one closing line "N passed, N failed" and exits
# non-zero when anything failed.
pass=0; fail=0; failed=""
for t in "$@"; do
    if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); failed="$failed $t"; fi
done
for s in tests/e2e_*.sh; do
    [ -f "$s" ] || continue
    echo "[ RUN      ] $s"
    if sh "$s"; then echo "[       OK ] $s"; pass=$((pass + 1));
    else echo "[  FAILED  ] $s"; fail=$((fail + 1)); failed="$failed $s"; fi
done
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
