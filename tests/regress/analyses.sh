#!/bin/sh
# tests/regress/analyses.sh MIXGEO OUT - the analyses of the regression runs
# (tests/regress/{mlp,preact}) into OUT/<run>-<split>-L<k>/ (sourced by
# make.sh and tests/e2e_regress.sh; run from the repository root).
set -u
M=$1
O=$2
R=tests/regress
rc=0
"$M" analyze -q "$R/mlp" --layer 1 --split test --grid 40 --out "$O/mlp-test-L1" || rc=1
"$M" analyze -q "$R/mlp" --layer 2 --split train --grid 40 --out "$O/mlp-train-L2" || rc=1
# --conv im2col: the fixtures pin our reference conv kernels (oneDNN's, the
# default for the 3x3 convs, agree only up to float rounding)
"$M" analyze -q "$R/preact" --data "idx:$R/idx" --conv im2col --layer 1 \
    --out "$O/preact-train-L1" || rc=1
"$M" analyze -q "$R/preact" --data "idx:$R/idx" --conv im2col --layer 2 --split test \
    --out "$O/preact-test-L2" || rc=1
exit $rc
