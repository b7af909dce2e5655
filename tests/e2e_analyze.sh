#!/bin/sh
# e2e_analyze.sh - `mixgeo analyze`, `dump`, `theory` and `plot` end to end on a
# tiny spiral run with a 2-D bottleneck (a few seconds).
#
# Checks: summary.json keys and sanity (ranks <= 2 at the 2-D layer, the
# Corollary-1 prediction 1, ECE/MCE in [0, 1], maps files present), TSV
# provenance and column lines, figure scripts reading data by relative path;
# dump -> .npy magic, header and sizes; theory -> J > 0 at dim 1 and ~0 for
# dim >= d - 1; plot -> PNG files when gnuplot exists and "gnuplot not found"
# (exit 1) when it does not; every bad input -> exit 2 naming the flag or path.
# Needs $MIXGEO (default build/mixgeo).  POSIX sh.
NAME=e2e_analyze
. "$(dirname "$0")/lib.sh"

# expect_usage NEEDLE CMD...: exit status 2 and NEEDLE in the error message
expect_usage() {
    needle=$1
    shift
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" -ne 2 ]; then
        fail "expected exit 2, got $rc: $*"
        sed 's/^/    /' "$T/err" >&2
    elif ! grep -qF -e "$needle" "$T/err"; then
        fail "message of '$*' does not name '$needle':"
        sed 's/^/    /' "$T/err" >&2
    fi
}

# ---------------------------------------------------------------- a tiny run
RUN=$T/sp
"$MIXGEO" train -q --data spiral --n-per-class 100 --arch 2-16-2-16-2 --act tanh \
    --standardize --optim adam --lr 0.01 --epochs 15 --mix manifold --mix-layers 2 \
    --val 1 --out "$RUN" || die "training the spiral run failed"

# ---------------------------------------------------------------- analyze
"$MIXGEO" analyze -q "$RUN" --layer 2 --pairs 100 --max-examples 100 --grid 40 \
    --n-uniform 200 --n-noise 200 || die "analyze failed"
A=$RUN/analysis/train-L2
S=$A/summary.json
[ -f "$S" ] || die "no $S"
for k in choices n_per_class centring tolerances seed bins layer split max_per_class \
    spectra per_class mean_centred pooled_within pooled_total corollary \
    predicted_per_class_dim leakage class_means_affine_dim theory resid_rel \
    mixup_sq_error_mean margins penultimate deepfool segment_input segment_layer \
    confidence interp offmanifold auroc_uniform_maxprob calibration ece mce nll brier \
    collapse nc1 nc4 fgsm accuracy maps input hidden dimension mean_per_class n_fit \
    ece_adaptive mce_adaptive files blas; do
    grep -q "\"$k\":" "$S" || fail "summary.json lacks \"$k\""
done
json_range rank_eps 0 2 "$S"
json_range rank_1e2 0 2 "$S"
json_range rank_1e3 0 2 "$S"
json_range predicted_per_class_dim 1 1 "$S"
json_range ece 0 1 "$S"
json_range mce 0 1 "$S"
json_range resid_rel 0 1 "$S"
json_range nc4 0 1 "$S"
json_range ece_adaptive 0 1 "$S"
# TwoNN of 2-D bottleneck states: at most 2 (up to estimation noise), every class and pooled
awk '!/^#/ { if (!($6 >= 0.3 && $6 <= 2.6)) { print "class " $1 ": d " $6; bad = 1 }; rows++ }
     END { if (rows != 3) { print rows " rows"; bad = 1 }; exit bad }' "$A/dimension.tsv" \
    >"$T/aw" || fail "dimension.tsv: $(cat "$T/aw")"
grep -q '"layer":	2' "$S" || fail "summary.json: layer is not 2"
for f in map-input.tsv map-input.gp map-input-conf.gp points-input.tsv map-hidden.tsv \
    map-hidden.gp points-hidden.tsv uniform-hidden.tsv spectra-centred.tsv spectra.gp \
    spectra-rel.gp corollary.tsv theory-mixup.tsv margins.gp margins-quantiles.tsv \
    interp.tsv interp.gp offmanifold-hist.tsv reliability.tsv reliability.gp fgsm.tsv; do
    [ -s "$A/$f" ] || fail "missing $A/$f"
done
# TSV: provenance line, then the columns line
for f in "$A"/*.tsv; do
    head -n 1 "$f" | grep -q "^# mixgeo .*seed=0 git=[^ ]* blas=[A-Za-z0-9]* .*run=$RUN" || fail "$f: no provenance line"
    sed -n 2p "$f" | grep -q '^# columns: ' || fail "$f: no '# columns:' line"
done
# a 40 x 40 map: 1600 grid rows
rows=$(grep -c '^[-0-9]' "$A/map-input.tsv")
[ "$rows" -eq 1600 ] || fail "map-input.tsv has $rows rows, expected 1600"
# figure scripts read their data by relative path and write NAME.png / NAME.pdf
for g in "$A"/*.gp; do
    grep -q "^set output '$(basename "$g" .gp).' . gp_fmt" "$g" || fail "$g: no output line"
    if grep -E "^plot|^     '|^     for" "$g" | grep -q "'/"; then fail "$g: absolute data path"; fi
done

# --only and --max-per-class: two analyses, 20 per class
"$MIXGEO" analyze -q "$RUN" --layer 1 --only spectra,theory --max-per-class 20 \
    --out "$T/sub" || fail "analyze --only spectra,theory failed"
grep -q '"analyses":	\["spectra", "theory"\]' "$T/sub/summary.json" ||
    fail "--only spectra,theory: wrong analyses list"
tr -d ' \t\n' <"$T/sub/summary.json" | grep -q '"n_per_class":\[20,20\]' ||
    fail "--max-per-class 20: n_per_class is not [20, 20]"
[ ! -f "$T/sub/margins.gp" ] || fail "--only spectra,theory wrote margins"

# ---------------------------------------------------------------- dump
"$MIXGEO" dump -q "$RUN" --layer 2 --split test --out "$T/h.npy" --logits "$T/z.npy" ||
    fail "dump failed"
npy_check() { # FILE SHAPE ITEMSIZE COUNT
    f=$1
    [ -f "$f" ] || {
        fail "dump: no $f"
        return
    }
    magic=$(od -An -tx1 -N8 "$f" | tr -d ' \n')
    [ "$magic" = "934e554d50590100" ] || fail "$f: bad magic/version $magic"
    hlen=$(od -An -tu2 -j8 -N2 "$f" | tr -d ' \n')
    total=$((10 + hlen))
    [ $((total % 64)) -eq 0 ] || fail "$f: header of $total bytes is not a multiple of 64"
    head -c "$total" "$f" | grep -aqF "'shape': $2" || fail "$f: shape is not $2"
    size=$(wc -c <"$f" | tr -d ' ')
    [ "$size" -eq $((total + $3 * $4)) ] || fail "$f: $size bytes, expected $((total + $3 * $4))"
}
npy_check "$T/h.npy" "(200, 2)" 4 400
npy_check "$T/h-labels.npy" "(200,)" 4 200
npy_check "$T/z.npy" "(200, 2)" 4 400
head -c 128 "$T/h.npy" | grep -aqF "'descr': '<f4'" || fail "h.npy is not float32"
head -c 128 "$T/h-labels.npy" | grep -aqF "'descr': '<i4'" || fail "h-labels.npy is not int32"
# contents: the training states of layer 2 equal the points of the hidden map
"$MIXGEO" dump -q "$RUN" --layer 2 --split train --out "$T/tr.npy" || fail "dump train failed"
od -An -tf4 -j128 -N16 "$T/tr.npy" | tr -s ' \t' '\n' | sed '/^$/d' >"$T/dump4"
od -An -td4 -j128 -N8 "$T/tr-labels.npy" | tr -s ' \t' '\n' | sed '/^$/d' >"$T/lab2"
sed -n '3,4p' "$A/points-hidden.tsv" | awk '{ print $1; print $2 }' >"$T/pts4"
sed -n '3,4p' "$A/points-hidden.tsv" | awk '{ print $3 }' >"$T/plab2"
paste "$T/dump4" "$T/pts4" | awk '{ d = $1 - $2; if (d < 0) d = -d; s = $2 < 0 ? -$2 : $2
        if (d > 1e-6 * (s + 1e-3)) bad = 1; n++ } END { exit (bad || n != 4) }' ||
    fail "dump: first states differ from points-hidden.tsv: $(cat "$T/dump4") vs $(cat "$T/pts4")"
cmp -s "$T/lab2" "$T/plab2" || fail "dump: first labels differ from points-hidden.tsv"

# ---------------------------------------------------------------- theory
"$MIXGEO" theory -q --classes 3 --dims 1-4 --n 30 --out "$T/th" ||
    fail "theory failed"
for f in theory.tsv summary.json theory-J.gp theory-rank.gp; do
    [ -f "$T/th/$f" ] || fail "theory: missing $T/th/$f"
done
# columns: dim d n loss J J_const J_rel ...
awk '!/^#/ {
        if ($1 == 1 && !($7 > 0.1)) { print "J_rel at dim 1 is " $7; bad = 1 }
        if ($1 >= 2 && !($7 < 1e-6)) { print "J_rel at dim " $1 " is " $7; bad = 1 }
        if ($11 != ($1 >= 2 ? $1 - 2 : 0)) { print "predicted rank at dim " $1 " is " $11; bad = 1 }
        n++ }
     END { if (n != 4) { print n " rows"; bad = 1 }; exit bad }' "$T/th/theory.tsv" >"$T/aw" ||
    fail "theory.tsv: $(cat "$T/aw")"

# ---------------------------------------------------------------- plot
if command -v gnuplot >/dev/null 2>&1; then
    "$MIXGEO" plot "$A" "$T/th" >"$T/plot.out" 2>"$T/plot.err" || {
        fail "plot failed"
        sed 's/^/    /' "$T/plot.err" >&2
    }
    for f in spectra map-input map-hidden margins reliability fgsm interp; do
        [ "$(od -An -tx1 -N4 "$A/$f.png" 2>/dev/null | tr -d ' \n')" = "89504e47" ] ||
            fail "plot: $A/$f.png is not a PNG"
        [ -s "$A/$f.pdf" ] || fail "plot: no $A/$f.pdf"
    done
    [ -s "$T/th/theory-J.png" ] || fail "plot: no theory-J.png"
    grep -q "rendered 16 of 16 figures" "$T/plot.out" || fail "plot: $(cat "$T/plot.out")"
    # the PDFs carry a fixed creation date: rendering again changes no byte
    grep -aq '/CreationDate (D:19700101000000' "$A/spectra.pdf" ||
        fail "plot: spectra.pdf has no fixed creation date"
    cp "$A/spectra.pdf" "$T/spectra1.pdf"
    sleep 1
    "$MIXGEO" plot -q "$A" >/dev/null 2>&1 || fail "plot again failed"
    cmp -s "$A/spectra.pdf" "$T/spectra1.pdf" || fail "plot: rendering again changed spectra.pdf"
    SOURCE_DATE_EPOCH=1764892800 "$MIXGEO" plot -q "$A" >/dev/null 2>&1 || fail "plot failed"
    grep -aq '/CreationDate (D:20251205000000' "$A/spectra.pdf" ||
        fail "plot: spectra.pdf does not take SOURCE_DATE_EPOCH"
fi
PATH=/nonexistent-mixgeo-dir "$MIXGEO" plot "$T/th" >/dev/null 2>"$T/err"
rc=$?
[ "$rc" -eq 1 ] || fail "plot without gnuplot: exit $rc, expected 1"
grep -q "gnuplot not found: install gnuplot-nox (make deps)" "$T/err" ||
    fail "plot without gnuplot: $(cat "$T/err")"

# ---------------------------------------------------------------- bad input
expect_usage "--layer" "$MIXGEO" analyze "$RUN" --layer 5
expect_usage "--layer" "$MIXGEO" analyze "$RUN" --layer -1
expect_usage "--layer" "$MIXGEO" dump "$RUN" --layer 9 --out "$T/x.npy"
mkdir "$T/untrained"
cp "$RUN/config.ini" "$T/untrained/"
expect_usage "$T/untrained/model.ckpt" "$MIXGEO" analyze "$T/untrained" --layer 2
expect_usage "$T/nothing" "$MIXGEO" analyze "$T/nothing"
expect_usage "class" "$MIXGEO" analyze "$RUN" --layer 2 --split val # 1 example, 2 classes
expect_usage "--max-per-class" "$MIXGEO" analyze "$RUN" --layer 2 --max-per-class 0
expect_usage "bogus" "$MIXGEO" analyze "$RUN" --layer 2 --only spectra,bogus
expect_usage "--only" "$MIXGEO" analyze "$RUN" --layer 2 --only spectra,bogus
expect_usage "--split" "$MIXGEO" analyze "$RUN" --split nope
expect_usage "--eps" "$MIXGEO" analyze "$RUN" --eps 0.1,-2
expect_usage "--classes" "$MIXGEO" theory --classes 1 --out "$T/th1"
expect_usage "--dims" "$MIXGEO" theory --dims 5-2 --out "$T/th1"
expect_usage "--n" "$MIXGEO" theory --classes 3 --n 31 --out "$T/th1"
expect_usage "$T/nothing" "$MIXGEO" plot "$T/nothing"
[ ! -d "$T/th1" ] || fail "theory wrote output despite a usage error"

echo "e2e_analyze: $fails failure(s)"
[ "$fails" -eq 0 ]
