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

# idx FILE KIND N SEED: KIND images (16 x 16) or labels of N examples, class i % 3
idx() {
    awk -v kind="$2" -v n="$3" -v seed="$4" '
        function oct(b) { return sprintf("\\%03o", b) }
        function be32(x,   s, k) {
            s = ""
            for (k = 3; k >= 0; k--) s = s oct(int(x / 256 ^ k) % 256)
            return s
        }
        BEGIN {
            srand(seed)
            if (kind == "labels") {
                print oct(0) oct(0) oct(8) oct(1) be32(n)
                s = ""
                for (i = 0; i < n; i++) s = s oct(i % 3)
                print s
                exit
            }
            print oct(0) oct(0) oct(8) oct(3) be32(n) be32(16) be32(16)
            for (i = 0; i < n; i++) {
                c = i % 3
                a = 3 + int(rand() * 8)
                s = ""
                for (y = 0; y < 16; y++)
                    for (x = 0; x < 16; x++) {
                        on = (c == 0 && (y == a || y == a + 1)) ||
                             (c == 1 && (x == a || x == a + 1)) ||
                             (c == 2 && x >= a - 2 && x <= a + 1 && y >= a - 2 && y <= a + 1 &&
                              (x == a - 2 || x == a + 1 || y == a - 2 || y == a + 1))
                        v = (on ? 200 : 20) + int(rand() * 50)
                        s = s oct(v)
                    }
                print s
            }
        }' | while IFS= read -r line; do printf "$line"; done >"$1"
}

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
    --mix manifold --seed 1 --out "$T/preact"
for r in mlp preact; do
    mkdir -p "$R/$r"
    cp "$T/$r/config.ini" "$T/$r/model.ckpt" "$R/$r/"
done
# the analyses (the same commands tests/e2e_regress.sh runs)
sh "$R/analyses.sh" "$MIXGEO" "$R/expected"
