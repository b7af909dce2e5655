#!/bin/sh
# e2e_regress.sh - the analyses of two committed runs (tests/regress/: a small
# MLP on a 3-class spiral and a small PreActResNet on 16 x 16 images) give the
# same numbers as the fixtures in tests/regress/expected/: every value of every
# summary.json and TSV file equal to 1e-12 relative, every figure script equal
# (tests/regress/compare.py).  Guards every change of the analysis code; the
# fixtures are remade by tests/regress/make.sh (see there).  POSIX sh.
NAME=e2e_regress
. "$(dirname "$0")/lib.sh"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

sh tests/regress/analyses.sh "$MIXGEO" "$T/out" || fail "an analysis of the regression runs failed"
for d in tests/regress/expected/*/; do
    d=${d%/}
    "$PY" tests/regress/compare.py "$d" "$T/out/$(basename "$d")" >"$T/diff" 2>&1 ||
        fail "$(basename "$d") differs from the fixture:
$(head -20 "$T/diff")"
done
# the check can fail: a changed number is caught
f=$T/out/mlp-train-L2/summary.json
sed 's/"nc1":[[:space:]]*\([0-9]\)/"nc1": 1\1/' "$f" >"$T/mut.json" && mv "$T/mut.json" "$f"
"$PY" tests/regress/compare.py tests/regress/expected/mlp-train-L2 "$T/out/mlp-train-L2" \
    >/dev/null 2>&1 && fail "compare.py missed a changed collapse.nc1"
[ "$fails" -eq 0 ]
