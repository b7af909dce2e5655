#!/bin/sh
# tests/regress/make.sh - (re)make the analysis regression fixtures.
#
# Two small trained runs and the analyses of them as written by a known-good
# build; tests/e2e_regress.sh re-analyses the committed checkpoints and
# requires every number of every summary.json and TSV file to equal these to
# 1e-12 relative.  The fixtures were made with the build of git revision
# dfac2b3 (before the analyses moved from src/cli/ into analysis/), so that
# the move is checked to change no number.  Run from the repository root:
#     sh tests/regress/make.sh [MIXGEO]
# and commit tests/regress/ (data, config.ini, model.ckpt, expected/).
#   mlp:    spiral, 3 classes, 2-32-16-3, Manifold Mixup, 30 epochs;
#           analyses at layer 1 (32 features, input maps) and 2 (L-1)
#   preact: 16 x 16 synthetic images (idx/), 3 classes, preact:16-8x1,
#           Manifold Mixup, 2 epochs; analyses at layer 1 (4096 features: the
#           wide defaults, rows mode, an underdetermined fit) and 2 (512)
set -eu
MIXGEO=${1:-build/mixgeo}
R=tests/regress
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

. tests/idx.sh

rm -rf "$R/idx" "$R/mlp" "$R/preact" "$R/expected"
mkdir -p "$R/idx" "$R/expected"
idx "$R/idx/train-images-idx3-ubyte" images 450 1
idx "$R/idx/train-labels-idx1-ubyte" labels 450 1
idx "$R/idx/t10k-images-idx3-ubyte" images 90 2
idx "$R/idx/t10k-labels-idx1-ubyte" labels 90 2
gzip -9n "$R"/idx/*-ubyte

"$MIXGEO" train -q --data spiral --classes 3 --n-per-class 100 --n-test-per-class 100 \
    --arch 2-32-16-3 --mix manifold --mix-layers 0,1,2 --epochs 30 --seed 1 --out "$T/mlp"
"$MIXGEO" train -q --data "idx:$R/idx" --arch preact:16-8x1 --epochs 2 --batch 20 --lr 0.05 \
    --mix manifold --conv im2col --seed 1 --out "$T/preact"
for r in mlp preact; do
    mkdir -p "$R/$r"
    cp "$T/$r/model.ckpt" "$R/$r/"
    # the run's own paths in config.ini name its place in the repository
    sed "s|$T/|$R/|g" "$T/$r/config.ini" >"$R/$r/config.ini"
done
# the analyses (the same commands tests/e2e_regress.sh runs)
sh "$R/analyses.sh" "$MIXGEO" "$R/expected"
