#!/bin/sh
# e2e_compare.sh - `mixgeo compare` (CKA) and the dimension analysis.
#  1. tests/states/compare_check.py: CKA (feature form, Gram form, many
#     passes), TwoNN per class and pooled, and the adaptive ECE of the CLI
#     against numpy references on random inputs, to 1e-6.
#  2. Runs: two spiral runs of the same data (no mixup, Manifold Mixup):
#     RUN:K against itself is 1; A:2 against B:2 lies in [0, 1]; --all-layers
#     writes a (L+1) x (L+1) cka.tsv whose diagonal against itself is 1 and a
#     heat-map script; the dumped states compared with --states give the same
#     value as the runs; runs of different data are refused (exit 2), and so
#     are a bad RUN:K, --all-layers without --out and files of different row
#     counts.
# Needs Debian's python3-numpy (make deps).  POSIX sh.
NAME=e2e_compare
. "$(dirname "$0")/lib.sh"
PY=${PYTHON:-/usr/bin/python3}
"$PY" -c 'import numpy' 2>/dev/null || die "$PY has no numpy: run make deps (python3-numpy)"

"$PY" tests/states/compare_check.py "$MIXGEO" "$T" || fail "tests/states/compare_check.py"

SP="--data spiral --n-per-class 100 --n-test-per-class 60 --arch 2-16-16-2 --epochs 5 --data-seed 4"
"$MIXGEO" train -q $SP --mix none --seed 1 --out "$T/a" || die "training run a"
"$MIXGEO" train -q $SP --mix manifold --seed 2 --out "$T/b" || die "training run b"
v=$("$MIXGEO" compare "$T/a:2" "$T/a:2") || fail "compare a:2 a:2"
echo "$v" | grep -q "linear 1.000000, debiased 1.000000" || fail "a:2 against itself: $v"
v=$("$MIXGEO" compare "$T/a:2" "$T/b:2" --out "$T/ab") || fail "compare a:2 b:2"
lin=$(echo "$v" | sed 's/.*linear \([0-9.]*\),.*/\1/')
awk -v x="$lin" 'BEGIN { exit !(x >= 0 && x <= 1) }' || fail "CKA a:2 b:2 = '$lin' outside [0, 1]"
grep -q '"linear":' "$T/ab/summary.json" || fail "no linear CKA in $T/ab/summary.json"
"$MIXGEO" compare -q "$T/a" "$T/a" --all-layers --out "$T/aa" || fail "compare --all-layers"
rows=$(grep -c '^[0-9]' "$T/aa/cka.tsv")
[ "$rows" -eq 16 ] || fail "--all-layers: $rows pairs, expected 4 x 4"
awk '!/^#/ && NF && $1 == $2 && ($6 < 0.999999 || $7 < 0.999999) { bad = 1; print }
     END { exit bad }' "$T/aa/cka.tsv" >"$T/aw" || fail "--all-layers: diagonal not 1: $(cat "$T/aw")"
[ -f "$T/aa/cka.gp" ] || fail "no heat-map script"
# the dumped states give the runs' value
"$MIXGEO" dump -q "$T/a" --layer 2 --split test --out "$T/ha.npy" || fail "dump a"
"$MIXGEO" dump -q "$T/b" --layer 2 --split test --out "$T/hb.npy" || fail "dump b"
w=$("$MIXGEO" compare --states "$T/ha.npy" --states-b "$T/hb.npy") || fail "compare --states"
[ "$(echo "$w" | sed 's/.*: linear/linear/')" = "$(echo "$v" | sed 's/.*: linear/linear/')" ] ||
    fail "the dumped states disagree with the runs: '$w' vs '$v'"
# bad input
"$MIXGEO" train -q --data spiral --n-per-class 100 --arch 2-16-16-2 --epochs 1 --data-seed 5 \
    --out "$T/c" || die "training run c"
for case in "diffdata|$T/a:2 $T/c:2|differ" "badk|$T/a:x $T/b:2|RUN:K" \
    "nout|$T/a $T/b --all-layers|--out" "outside|$T/a:9 $T/b:2|outside"; do
    nm=${case%%|*} rest=${case#*|}
    args=${rest%%|*} want=${rest#*|}
    # shellcheck disable=SC2086
    "$MIXGEO" compare $args >/dev/null 2>"$T/err"
    rc=$?
    [ "$rc" -eq 2 ] && grep -q -- "$want" "$T/err" || fail "$nm: exit $rc: $(cat "$T/err")"
done
"$PY" -c "import numpy as np; np.save('$T/short.npy', np.zeros((5, 3), np.float32))"
"$MIXGEO" compare --states "$T/ha.npy" --states-b "$T/short.npy" >/dev/null 2>"$T/err"
rc=$?
[ "$rc" -eq 2 ] && grep -q "rows" "$T/err" || fail "row counts: exit $rc: $(cat "$T/err")"
[ "$fails" -eq 0 ]
