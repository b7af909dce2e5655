#!/bin/sh
# e2e_states.sh - `mixgeo analyze --states` (activations from any framework).
#  1. tests/states/check.py: states, labels, logits and a readout made with
#     numpy go through the CLI; spectra (known singular values too),
#     ECE/NLL/Brier, NC1/NC3, the exact margins and the Theorem-1 residual
#     agree with numpy references to 1e-6 relative; float64, Fortran-order
#     and 4-d files give the same spectra; provenance holds each file's
#     sha256; every bad input exits 2 with one line naming the file.
#  2. A run and its dump agree: the states, logits and readout that `dump
#     --readout` writes, analysed with --states, give the same numbers as the
#     analysis of the run itself (1e-12 relative; the interpolation paths 1e-6:
#     the run recomputes the states of each pair in other batches, which
#     changes float sums in the last bits) for every analysis that both can run: the MLP of tests/regress at layer L-1, and the pooled features
#     (--layer features) of the PreActResNet there.
# Needs Debian's python3-numpy (make deps).  POSIX sh.
NAME=e2e_states
. "$(dirname "$0")/lib.sh"
PY=${PYTHON:-/usr/bin/python3}
"$PY" -c 'import numpy' 2>/dev/null || die "$PY has no numpy: run make deps (python3-numpy)"

"$PY" tests/states/check.py "$MIXGEO" "$T" || fail "tests/states/check.py"

R=tests/regress
# the MLP at layer 2 (= L-1, the input of the readout)
"$MIXGEO" dump -q "$R/mlp" --layer 2 --split train --readout --logits "$T/mz.npy" \
    --out "$T/mh.npy" || fail "dump --readout of the MLP"
"$MIXGEO" analyze -q "$R/mlp" --layer 2 --split train --out "$T/mrun" \
    --only spectra,corollary,theory,margins,confidence,calibration,collapse ||
    fail "analyze of the MLP run"
"$MIXGEO" analyze -q --states "$T/mh.npy" --labels "$T/mh-labels.npy" --logits "$T/mz.npy" \
    --readout "$T/mh-W.npy,$T/mh-b.npy" --out "$T/mst" || fail "analyze --states of the dump"
"$PY" tests/states/same.py "$T/mrun/summary.json" "$T/mst/summary.json" spectra corollary \
    theory calibration collapse margins.penultimate confidence.interp:1e-6 >"$T/d" ||
    fail "MLP: the run and its dumped states disagree: $(cat "$T/d")"
# the PreActResNet's pooled features (inside the last block)
"$MIXGEO" dump -q "$R/preact" --data "idx:$R/idx" --layer features --split test --readout \
    --logits "$T/pz.npy" --out "$T/ph.npy" || fail "dump --layer features of the PreActResNet"
"$MIXGEO" analyze -q "$R/preact" --data "idx:$R/idx" --layer 2 --split test --out "$T/prun" \
    --only margins,calibration,collapse || fail "analyze of the PreActResNet run"
"$MIXGEO" analyze -q --states "$T/ph.npy" --labels "$T/ph-labels.npy" --logits "$T/pz.npy" \
    --readout "$T/ph-W.npy,$T/ph-b.npy" --out "$T/pst" --only margins,calibration,collapse ||
    fail "analyze --states of the features"
"$PY" tests/states/same.py "$T/prun/summary.json" "$T/pst/summary.json" calibration collapse \
    margins.penultimate >"$T/d" ||
    fail "PreActResNet: the run and its dumped features disagree: $(cat "$T/d")"
# dump --readout of a layer that does not enter the readout is refused
"$MIXGEO" dump -q "$R/mlp" --layer 1 --readout --out "$T/x.npy" 2>"$T/err"
rc=$?
[ "$rc" -eq 2 ] && grep -q -- "--readout" "$T/err" || fail "dump --layer 1 --readout: exit $rc: $(cat "$T/err")"
[ "$fails" -eq 0 ]
