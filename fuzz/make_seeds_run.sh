#!/bin/sh
# make_seeds_run.sh - writes the seed corpora of the harnesses that read what
# the program writes: fuzz/corpus/checkpoint/ (model.ckpt of tiny runs of
# every architecture syntax and optimiser, plus a model-only file and one of
# each defect), fuzz/corpus/ini/ (run configurations: the saved config.ini of
# those runs, experiments/*.ini and hand-written edge cases),
# fuzz/corpus/suite/ (experiments/*.suite, tests/states/states.suite) and
# fuzz/corpus/report/ (summary.json and metrics.tsv of tiny runs and a few
# JSON documents, each after a metric that reads it: the input format of
# fuzz_report.c).  Corpora of other harnesses are not touched.
#
# Run from the repository root after `make`: sh fuzz/make_seeds_run.sh
# (needs build/mixgeo and python3).  The runs are tiny and seeded; only the
# timing fields (seconds, wall_seconds) differ from one run of this script to
# the next.
set -eu
MIXGEO=${MIXGEO:-build/mixgeo}
PY=${PYTHON:-python3}
ROOT=$(pwd)
case $MIXGEO in /*) ;; *) MIXGEO=$ROOT/$MIXGEO ;; esac
export OPENBLAS_NUM_THREADS=1
T=$(mktemp -d "${TMPDIR:-/tmp}/mixgeo-seeds.XXXXXX")
trap 'rm -rf "$T"' EXIT
C=$ROOT/fuzz/corpus
mkdir -p "$C/checkpoint" "$C/ini" "$C/suite" "$C/report"

cd "$T"
. "$ROOT/tests/idx.sh"
mkdir img
idx img/train-images-idx3-ubyte images 48 1
idx img/train-labels-idx1-ubyte labels 48 1
idx img/t10k-images-idx3-ubyte images 12 2
idx img/t10k-labels-idx1-ubyte labels 12 2

SP="--data spiral --n-per-class 40 --n-test-per-class 10 --seed 1"
"$MIXGEO" train -q $SP --arch 2-16-2 --epochs 1 --optim sgd --out sgd
"$MIXGEO" train -q $SP --arch 2-8-8-2 --batchnorm --dropout 0.1 --input-noise 0.05 --act lrelu \
    --optim adam --mix manifold --epochs 2 --val 20 --out adam
MIXGEO_STOP_AFTER_STEPS=3 "$MIXGEO" train -q $SP --arch 2-6-2 --act tanh --init xavier --batch 16 \
    --epochs 2 --out mid 2>/dev/null || true
"$MIXGEO" train -q --data idx:img --arch cnn:c2k3-m4-f4 --epochs 1 --batch 16 --out cnn
"$MIXGEO" train -q --data idx:img --arch cnn:c2k3s2-a2-g --batchnorm --epochs 1 --batch 16 --out cnng
"$MIXGEO" train -q --data idx:img --arch preact:2x1 --epochs 1 --batch 16 --optim adam --out preact

for r in sgd adam mid cnn cnng preact; do
    cp "$r/model.ckpt" "$C/checkpoint/$r.ckpt"
    cp "$r/config.ini" "$C/ini/$r.ini"
done

# a model-only checkpoint (trainer=0: no training keys, no optimiser state)
# and one of each defect (the harness fixes the crc32 of every input)
"$PY" - "$C/checkpoint" <<'EOF'
import struct, sys, zlib
d = sys.argv[1]
b = open(d + "/sgd.ckpt", "rb").read()
hl = struct.unpack("<I", b[16:20])[0]
lines = b[20:20 + hl].decode().splitlines()
keep = lines[:lines.index("trainer=1")] + ["trainer=0"]
n_params = int([l for l in lines if l.startswith("n_params=")][0].split("=")[1])
hdr = ("\n".join(keep) + "\n").encode()
payload = b[20 + hl:20 + hl + 4 * n_params]


def put(name, head, body):
    whole = head + struct.pack("<I", len(body)) + body
    open(d + "/" + name, "wb").write(whole + struct.pack("<I", zlib.crc32(whole) & 0xFFFFFFFF))


put("model-only.ckpt", b[:16], hdr + payload)
put("bad-version.ckpt", b[:8] + struct.pack("<I", 2) + b[12:16], b[20:-4])
put("bad-endian.ckpt", b[:12] + struct.pack(">I", 0x01020304), b[20:-4])
open(d + "/truncated.ckpt", "wb").write(b[: len(b) // 2])
open(d + "/empty-header.ckpt", "wb").write(b[:16] + struct.pack("<I", 0) + b"\0" * 8)
EOF

# ---------------------------------------------------------------- ini
cp "$ROOT"/experiments/*.ini "$C/ini/"
printf '# comment\n; comment\ndata = spiral\n[train]\narch = 2-16-2\nepochs = 2\n[eval]\nsplit = train\n' \
    >"$C/ini/sections.ini"
printf 'arch = 2-8-2\narch = 2-9-2\n' >"$C/ini/duplicate-key.ini"
printf '[train]\nbogus = 1\n' >"$C/ini/unknown-key.ini"
printf 'epochs = 3x\nlr = -1\nmix-layers = 0,,1\n' >"$C/ini/bad-values.ini"
printf '[train\nepochs\n= 5\n' >"$C/ini/broken-lines.ini"
printf 'data = csv:a.csv,b.csv\nmilestones = 1,2,3\nseed = 18446744073709551615\n' >"$C/ini/values.ini"

# ---------------------------------------------------------------- suite
cp "$ROOT"/experiments/*.suite "$C/suite/"
cp "$ROOT/tests/states/states.suite" "$C/suite/"

# ---------------------------------------------------------------- report
# fuzz_report.c input: a metric as a suite file writes it, a newline, then
# the bytes of the file(s) it reads (summary.json, metrics.tsv, any JSON).
for r in sgd adam; do
    { echo "final.test_acc"; cat "$r/summary.json"; } >"$C/report/$r-final"
    { echo "test_nll"; cat "$r/summary.json"; } >"$C/report/$r-column"
    { echo "100 - 100 * final.test_acc"; cat "$r/summary.json"; } >"$C/report/$r-expression"
    { echo "summary.json:config.arch"; cat "$r/summary.json"; } >"$C/report/$r-string"
    { echo "metrics.tsv:train_loss|mean"; cat "$r/metrics.tsv"; } >"$C/report/$r-metrics-mean"
    { echo "metrics.tsv:lr|changes"; cat "$r/metrics.tsv"; } >"$C/report/$r-metrics-changes"
done
{ echo "best.val_acc"; cat adam/summary.json; } >"$C/report/adam-best"
{ echo "n_params / train_seconds"; cat adam/summary.json; } >"$C/report/keys"
{ echo "analysis/test-L1/summary.json:per_class.*.s1|mean"
  printf '{"per_class": [{"s1": 1.5}, {"s1": "2"}, {"s1": null}], "x": {"y": [1, 2, 3]}}\n'; } \
    >"$C/report/wildcard"
{ echo "a.json:rows[layer>=1].value|max"
  printf '{"rows": [{"layer": 0, "value": 3}, {"layer": 1, "value": 5}, {"layer": 2, "value": -1e308}]}\n'; } \
    >"$C/report/filter"
{ echo "a.json:rows[kind=@want].value|first"
  printf '{"rows": [{"kind": "a", "want": "a", "value": true}], "deep": [[[[[[1]]]]]]}\n'; } \
    >"$C/report/filter-field"
{ echo "t.tsv:b|count"; printf '# x\n# columns: a b\n1\tnan\n\n2\t0.5\ninf\t-0\n'; } >"$C/report/tsv-blocks"
echo "seeds written to $C/{checkpoint,ini,suite,report}"
