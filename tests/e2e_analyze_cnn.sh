#!/bin/sh
# e2e_analyze_cnn.sh - `mixgeo analyze` on a convolutional run (seconds).
#
# A small IDX directory of 16 x 16 synthetic images (3 classes: horizontal
# bar, vertical bar, square; noisy; 200 training and 40 test images per class)
# is written with awk + printf, a PreActResNet preact:16-8x1 is trained on it
# for 2 epochs with Manifold Mixup, and analyze runs at
#  - layer 1 (16 x 16 x 16 = 4096 features, a wide layer): --max-per-class
#    auto (300, i.e. all 200 of each class), spectra in "rows" mode, the
#    affine fit flagged as underdetermined (n = 600 < p + 1), per-class ranks
#    bounded by n_c - 1, margins and collapse on the 8 pooled features of the
#    final dense layer (with the logit self-check), no maps;
#  - layer 2 (8 x 8 x 8 = 512 features): qr-stream mode, a determined fit;
#  - layer 1 with --max-per-class 20 --only spectra,corollary;
# and checks exit codes and summary.json sanity.  Then a plain conv net
# cnn:c8k3-m2-c16-m2-f32 (L = 4: [conv8-relu-maxpool] [conv16-relu-maxpool]
# [dense32-relu] [dense 3]) is trained for 3 epochs: test accuracy >= 0.9,
# eval from its checkpoint agrees, analyze runs at layer 2 (16 x 4 x 4);
# a bad cnn: token and cnn: on flat data exit 2.  Needs $MIXGEO (default
# build/mixgeo).  POSIX sh.
NAME=e2e_analyze_cnn
. "$(dirname "$0")/lib.sh"

# json_num KEY FILE: the first number value of "KEY" (pretty-printed cJSON)
json_num() {
    grep -m 1 "\"$1\":" "$2" | sed 's/.*: *//; s/,$//'
}
# json_has KEY VALUE FILE: some "KEY": VALUE line
json_has() {
    grep -q "\"$1\":[[:space:]]*$2,\{0,1\}\$" "$3" || fail "$3: no \"$1\": $2"
}

# ---------------------------------------------------------------- the images
# the synthetic IDX images (tests/idx.sh)
. "$(dirname "$0")/idx.sh"
D=$T/img
mkdir "$D" || die "mkdir $D"
idx "$D/train-images-idx3-ubyte" images 600 1
idx "$D/train-labels-idx1-ubyte" labels 600 1
idx "$D/t10k-images-idx3-ubyte" images 120 2
idx "$D/t10k-labels-idx1-ubyte" labels 120 2
size=$(wc -c <"$D/train-images-idx3-ubyte" | tr -d ' ')
[ "$size" -eq $((16 + 600 * 256)) ] || die "train images: $size bytes, expected $((16 + 600 * 256))"
size=$(wc -c <"$D/t10k-labels-idx1-ubyte" | tr -d ' ')
[ "$size" -eq $((8 + 120)) ] || die "test labels: $size bytes, expected 128"

# ---------------------------------------------------------------- a tiny CNN run
RUN=$T/cnn
"$MIXGEO" train -q --data "idx:$D" --arch preact:16-8x1 --epochs 2 --batch 20 --lr 0.05 \
    --mix manifold --out "$RUN" || die "training the CNN run failed"
[ -f "$RUN/model.ckpt" ] || die "no $RUN/model.ckpt"

# ---------------------------------------------------------------- layer 1 (wide)
"$MIXGEO" analyze -q "$RUN" --layer 1 || die "analyze --layer 1 failed (exit $?)"
S=$RUN/analysis/train-L1/summary.json
[ -f "$S" ] || die "no $S"
for k in spectra corollary theory margins penultimate deepfool segment_input segment_layer \
    confidence calibration collapse fgsm max_per_class_rule underdetermined \
    rank_limited_by_n logit_check; do
    grep -q "\"$k\":" "$S" || fail "layer 1: summary.json lacks \"$k\""
done
grep -q '"maps":' "$S" && fail "layer 1: maps ran on a 16 x 16 x 16 layer"
json_has dim 4096 "$S"
json_has max_per_class 300 "$S"
json_has mode '"rows"' "$S"
json_has underdetermined true "$S"
json_has rank_limited_by_n true "$S"
json_has batch 256 "$S"
json_has pairs 200 "$S"
json_has max_examples 200 "$S"
json_has features 8 "$S"
tr -d ' \t\n' <"$S" | grep -q '"n_per_class":\[200,200,200\]' ||
    fail "layer 1: n_per_class is not [200, 200, 200]"
# corollary.tsv: class n predicted rank_eps rank_1e2 rank_1e3 leakage gain;
# centred ranks <= n_c - 1 per class, <= N - classes pooled (class -1)
corank() { # FILE N_PER_CLASS CLASSES
    awk -v nc="$2" -v C="$3" '!/^#/ {
            lim = $1 >= 0 ? nc - 1 : C * (nc - 1)
            if ($2 != ($1 >= 0 ? nc : C * nc)) { print "n " $2 " in row " $1; bad = 1 }
            for (k = 4; k <= 6; k++) if (!($k >= 1 && $k <= lim)) { print "rank " $k " in row " $1; bad = 1 }
            rows++ }
         END { if (rows != C + 1) { print rows " rows"; bad = 1 }; exit bad }' "$1" >"$T/aw" ||
        fail "$1: $(cat "$T/aw")"
}
corank "$RUN/analysis/train-L1/corollary.tsv" 200 3
json_range ece 0 1 "$S"
json_range nc4 0 1 "$S"
json_range logit_check 0 1e-4 "$S"
json_range leakage 0 1 "$S"
json_range fit_rank 1 600 "$S"
# the centred spectra: 200 values per class (n_c < p), all finite
rows=$(grep -c '^[0-9]' "$RUN/analysis/train-L1/spectra-centred.tsv")
[ "$rows" -eq 600 ] || fail "layer 1: spectra-centred.tsv has $rows rows, expected 600 (N)"
if grep -v '^#' "$RUN/analysis/train-L1/spectra-uncentred.tsv" | grep -qi 'nan\|inf'; then
    fail "layer 1: non-finite uncentred singular values"
fi

# ---------------------------------------------------------------- layer 2 (narrow)
"$MIXGEO" analyze -q "$RUN" --layer 2 --only spectra,corollary,theory,margins,collapse ||
    fail "analyze --layer 2 failed"
S2=$RUN/analysis/train-L2/summary.json
if [ -f "$S2" ]; then
    json_has dim 512 "$S2"
    json_has mode '"qr-stream"' "$S2"
    json_has underdetermined false "$S2"
    json_has max_per_class '"all"' "$S2"
    json_range rank_eps 0 512 "$S2"
    json_range resid_rel 0 1 "$S2"
    json_range logit_check 0 1e-4 "$S2"
else
    fail "no $S2"
fi

# ---------------------------------------------------------------- capped, few analyses
"$MIXGEO" analyze -q "$RUN" --layer 1 --max-per-class 20 --only spectra,corollary \
    --out "$T/sub" || fail "analyze --max-per-class 20 failed"
if [ -f "$T/sub/summary.json" ]; then
    json_has mode '"rows"' "$T/sub/summary.json"
    json_has max_per_class_rule '"given (--max-per-class)"' "$T/sub/summary.json"
    corank "$T/sub/corollary.tsv" 20 3
    [ ! -f "$T/sub/theory-mixup.tsv" ] || fail "--only spectra,corollary ran theory"
else
    fail "no $T/sub/summary.json"
fi

# ---------------------------------------------------------------- bad input
"$MIXGEO" analyze -q "$RUN" --layer 1 --max-per-class many >/dev/null 2>"$T/err"
rc=$?
[ "$rc" -eq 2 ] || fail "--max-per-class many: exit $rc, expected 2"
grep -q -- "--max-per-class" "$T/err" || fail "--max-per-class many: $(cat "$T/err")"
"$MIXGEO" analyze -q "$RUN" --layer 1 --pairs 0 >/dev/null 2>"$T/err"
rc=$?
[ "$rc" -eq 2 ] || fail "--pairs 0: exit $rc, expected 2"
"$MIXGEO" analyze -q "$RUN" --layer 1 --only maps >/dev/null 2>"$T/err"
rc=$?
[ "$rc" -eq 2 ] || fail "--only maps on a convolutional layer: exit $rc, expected 2"

# ---------------------------------------------------------------- a plain cnn: net
# json_in FILE SECTION KEY: the value of KEY at or after the line of "SECTION":
json_in() {
    awk -v sec="\"$2\":" -v key="\"$3\":" '
        index($0, sec) { f = 1 }
        f && index($0, key) { sub(/^[^:]*:[ \t]*/, ""); sub(/,[ \t]*$/, ""); print; exit }
    ' "$1"
}
CR=$T/plain
"$MIXGEO" train -q --data "idx:$D" --arch cnn:c8k3-m2-c16-m2-f32 --epochs 3 --batch 20 \
    --lr 0.05 --mix manifold --out "$CR" || fail "training cnn:c8k3-m2-c16-m2-f32 failed"
if [ -f "$CR/summary.json" ]; then
    acc=$(json_in "$CR/summary.json" final test_acc)
    awk -v a="$acc" 'BEGIN { exit !(a + 0 >= 0.9) }' ||
        fail "cnn:c8k3-m2-c16-m2-f32: final test accuracy '$acc' < 0.9"
    grep -q '^mix-layers = 0,1,2,3$' "$CR/config.ini" ||
        fail "cnn: run: config.ini lacks mix-layers = 0,1,2,3 (L = 4)"
    "$MIXGEO" eval "$CR" --split test >/dev/null 2>"$T/err" || fail "eval of the cnn: run: $(cat "$T/err")"
    e=$(json_num accuracy "$CR/eval-test.json")
    awk -v a="$acc" -v b="$e" 'BEGIN { d = a - b; exit !(b != "" && d <= 1e-9 && d >= -1e-9) }' ||
        fail "cnn: run: eval accuracy '$e' differs from the final test_acc '$acc'"
else
    fail "no $CR/summary.json"
fi
"$MIXGEO" analyze -q "$CR" --layer 2 --only spectra,corollary || fail "analyze of the cnn: run failed"
[ -f "$CR/analysis/train-L2/summary.json" ] && json_has dim 256 "$CR/analysis/train-L2/summary.json"
"$MIXGEO" train -q --data "idx:$D" --arch cnn:c8-x2 --epochs 1 --out "$T/bad" >/dev/null 2>"$T/err"
rc=$?
[ "$rc" -eq 2 ] || fail "--arch cnn:c8-x2: exit $rc, expected 2"
grep -q "unknown token 'x2'" "$T/err" || fail "--arch cnn:c8-x2: $(cat "$T/err")"
"$MIXGEO" train -q --data spiral --arch cnn:c8-m2 --epochs 1 --out "$T/bad" >/dev/null 2>"$T/err"
rc=$?
[ "$rc" -eq 2 ] || fail "--arch cnn:c8-m2 on spiral: exit $rc, expected 2"
grep -q "image data" "$T/err" || fail "--arch cnn:c8-m2 on spiral: $(cat "$T/err")"

echo "e2e_analyze_cnn: $fails failure(s)"
[ "$fails" -eq 0 ]
