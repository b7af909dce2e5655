#!/bin/sh
# e2e_train.sh - end-to-end tests of `mixgeo train` and `mixgeo eval`.
#
# Run by `make check` (from the repository root, $MIXGEO = the program);
# by hand: MIXGEO=build/mixgeo sh tests/e2e_train.sh
# Every check prints "ok: ..." or "FAIL: ..."; the exit status is non-zero
# when any check failed.  A few seconds in all (tiny spiral runs).
# $SPIRAL / $SMALL hold several options: word splitting is intended.
# shellcheck disable=SC2086
set -u

ROOT=$(pwd)
MIXGEO=${MIXGEO:-build/mixgeo}
case $MIXGEO in /*) ;; *) MIXGEO=$ROOT/$MIXGEO ;; esac
if [ ! -x "$MIXGEO" ]; then
    echo "FAIL: $MIXGEO is not an executable (make build/mixgeo)"
    exit 1
fi
export OPENBLAS_NUM_THREADS=1
unset MIXGEO_STOP_AFTER_STEPS MIXGEO_BLAS_CORE OPENBLAS_CORETYPE DNNL_MAX_CPU_ISA MIXGEO_BLAS_REEXEC

T=$(mktemp -d "${TMPDIR:-/tmp}/mixgeo-e2e-train.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'rm -rf "$T"; exit 1' INT TERM
cd "$T" || exit 1

failures=0
ok() { echo "ok: $*"; }
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# run NAME CMD...: run a command, stdout to NAME.out, stderr to NAME.err,
# exit status in $rc.
run() {
    _n=$1
    shift
    "$@" >"$_n.out" 2>"$_n.err"
    rc=$?
}

# expect_exit WANT NAME PATTERN CMD...: exit status WANT and PATTERN
# (fixed string; "" = anything) on stderr.
expect_exit() {
    _want=$1 _name=$2 _pat=$3
    shift 3
    run "$_name" "$@"
    if [ "$rc" -ne "$_want" ]; then
        fail "$_name: exit status $rc, expected $_want; stderr:"
        sed 's/^/    /' "$_name.err"
    elif [ -n "$_pat" ] && ! grep -qF -- "$_pat" "$_name.err"; then
        fail "$_name: stderr lacks '$_pat'; stderr:"
        sed 's/^/    /' "$_name.err"
    elif [ -n "$_pat" ]; then
        ok "$_name (exit $_want: $(head -n 1 "$_name.err"))"
    else
        ok "$_name (exit $_want)"
    fi
}

# json FILE SECTION KEY: the value of KEY at or after the line of "SECTION":
# (cJSON prints one key per line).
json() {
    awk -v sec="\"$2\":" -v key="\"$3\":" '
        index($0, sec) { f = 1 }
        f && index($0, key) { sub(/^[^:]*:[ \t]*/, ""); sub(/,[ \t]*$/, ""); gsub(/"/, ""); print; exit }
    ' "$1"
}

# num_ge A B: A >= B as numbers.
num_ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }
num_eq() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 1e-9) }'; }

# metrics.tsv without the seconds column (the last one).
strip_seconds() { awk -F '\t' 'BEGIN { OFS = "\t" } /^#/ { print; next } { NF = NF - 1; print }' "$1"; }

SPIRAL="--data spiral --arch 2-32-32-2 --standardize --act lrelu --optim sgd --lr 0.1 --nesterov --sched constant"

# ---------------------------------------------------------------- golden run
run golden "$MIXGEO" train -q $SPIRAL --mix manifold --epochs 60 --seed 1 --out golden
if [ "$rc" -ne 0 ]; then
    fail "spiral training exited with $rc:"
    sed 's/^/    /' golden.err
else
    acc=$(json golden/summary.json final test_acc)
    if num_ge "$acc" 0.95; then ok "spiral manifold mixup: final test accuracy $acc >= 0.95"
    else fail "spiral manifold mixup: final test accuracy '$acc' < 0.95"; fi
    for f in config.ini metrics.tsv summary.json model.ckpt; do
        [ -s "golden/$f" ] || fail "golden/$f missing or empty"
    done
    [ -s golden.out ] && fail "-q: train printed on stdout: $(cat golden.out)"
    [ -s golden.err ] && fail "-q: train printed on stderr: $(cat golden.err)"
    head -n 1 golden/metrics.tsv | grep -q '^# mixgeo [0-9.]* seed=1 git=[^ ]* blas=[A-Za-z0-9]* config=' ||
        fail "metrics.tsv provenance line: $(head -n 1 golden/metrics.tsv)"
    sed -n 2p golden/metrics.tsv | grep -q '^# columns: epoch lr train_loss train_acc train_clean_loss train_clean_acc val_loss val_nll val_acc test_loss test_nll test_acc seconds$' ||
        fail "metrics.tsv columns line: $(sed -n 2p golden/metrics.tsv)"
    rows=$(grep -vc '^#' golden/metrics.tsv)
    [ "$rows" -eq 60 ] || fail "metrics.tsv has $rows rows, expected 60"
    # the clean training metrics (eval mode, unmixed training data): a fitted
    # spiral is near 1, and every row has them
    cacc=$(json golden/summary.json final train_clean_acc)
    closs=$(json golden/summary.json final train_clean_loss)
    if num_ge "$cacc" 0.9 && num_ge 1 "$cacc" && num_ge "$closs" 0 && num_ge 1 "$closs"; then
        ok "final train_clean_acc $cacc in [0.9, 1], train_clean_loss $closs"
    else fail "final train_clean_acc '$cacc' / train_clean_loss '$closs' implausible"; fi
    awk -F '\t' '!/^#/ && !($5 + 0 > 0 && $6 + 0 > 0 && $6 + 0 <= 1) { bad = 1 } END { exit bad }' golden/metrics.tsv ||
        fail "metrics.tsv: a row without plausible train_clean_loss/train_clean_acc"
    grep -q '^clean-eval = 10000$' golden/config.ini || fail "config.ini lacks clean-eval = 10000"
    [ "$(json golden/summary.json mixgeo status)" = finished ] || fail "summary.json status is not finished"
    [ "$(json golden/summary.json mixgeo loss)" = ce ] || fail "summary.json lacks loss = ce"
    [ "$(json golden/summary.json best by)" = test_acc ] || fail "summary.json best.by is not test_acc"
    if ! grep -q '^alpha = 2$' golden/config.ini || ! grep -q '^mix-layers = 0,1,2$' golden/config.ini; then
        fail "config.ini lacks the resolved alpha / mix-layers"
    fi
fi

# ---------------------------------------------------------------- eval
expect_exit 0 eval-test "" "$MIXGEO" eval golden --split test
if [ -f golden/eval-test.json ]; then
    e=$(json golden/eval-test.json mixgeo accuracy)
    s=$(json golden/summary.json final test_acc)
    if num_eq "$e" "$s"; then ok "eval accuracy $e equals the last epoch's test_acc"
    else fail "eval accuracy $e differs from summary final test_acc $s"; fi
    grep -q "accuracy" eval-test.out || fail "eval printed no accuracy on stdout"
else
    fail "eval wrote no golden/eval-test.json"
fi
expect_exit 0 eval-train "" "$MIXGEO" eval golden --split train
expect_exit 2 eval-noval "--split val" "$MIXGEO" eval golden --split val
expect_exit 2 eval-norun "not a mixgeo run directory" "$MIXGEO" eval "$T/nowhere"

# ---------------------------------------------------------------- determinism, resume
SMALL="$SPIRAL --mix manifold --val 200 --seed 3"
run det-a "$MIXGEO" train -q $SMALL --epochs 6 --out a
run det-b "$MIXGEO" train -q $SMALL --epochs 6 --out b
strip_seconds a/metrics.tsv >a.m
strip_seconds b/metrics.tsv >b.m
if cmp -s a.m b.m && cmp -s a/model.ckpt b/model.ckpt; then ok "same seed twice: identical metrics.tsv (minus seconds) and model.ckpt"
else fail "same seed twice: metrics.tsv or model.ckpt differ"; fi
[ "$(json a/summary.json best by)" = val_acc ] || fail "with --val, best.by is not val_acc"

# The clean-eval pass reads the model only: without it the checkpoint is the
# same bit for bit, and so is metrics.tsv but for the two (empty) columns.
run clean-off "$MIXGEO" train -q $SMALL --epochs 6 --clean-eval 0 --out noclean
no_clean() { awk -F '\t' 'BEGIN { OFS = "\t" } !/^#/ { $5 = $6 = "-"; print }' "$1"; }
strip_seconds noclean/metrics.tsv >noclean.m
no_clean a.m >a.nc
no_clean noclean.m >noclean.nc
if [ "$rc" -eq 0 ] && cmp -s a/model.ckpt noclean/model.ckpt && cmp -s a.nc noclean.nc &&
    awk -F '\t' '!/^#/ && ($5 != "nan" || $6 != "nan") { bad = 1 } END { exit bad }' noclean.m; then
    ok "--clean-eval 0: model.ckpt bit-identical, metrics.tsv equal but for empty train_clean_*"
else fail "--clean-eval 0 (exit $rc): model.ckpt or metrics.tsv differ from the run with it"; fi

# A run directory from before the clean columns (11 columns) resumes: its old
# epochs get empty train_clean_*, the new ones values, the model is unchanged.
run legacy-1 "$MIXGEO" train -q $SMALL --epochs 3 --out legacy
awk -F '\t' 'BEGIN { OFS = "\t" }
    /^# columns:/ { print "# columns: epoch lr train_loss train_acc val_loss val_nll val_acc test_loss test_nll test_acc seconds"; next }
    /^#/ { print; next }
    { print $1, $2, $3, $4, $7, $8, $9, $10, $11, $12, $13 }' legacy/metrics.tsv >legacy.tsv &&
    mv legacy.tsv legacy/metrics.tsv
run legacy-2 "$MIXGEO" train -q --resume legacy --epochs 6
if [ "$rc" -eq 0 ] && cmp -s a/model.ckpt legacy/model.ckpt &&
    awk -F '\t' '!/^#/ && (($1 <= 3) != ($6 == "nan")) { bad = 1 } END { exit bad }' legacy/metrics.tsv; then
    ok "a pre-clean-eval metrics.tsv resumes: old epochs empty, new ones measured, same model"
else fail "resume of an 11-column metrics.tsv (exit $rc):"; sed 's/^/    /' legacy-2.err; fi

run res-c1 "$MIXGEO" train -q $SMALL --epochs 3 --out c
run res-c2 "$MIXGEO" train -q --resume c --epochs 6
strip_seconds c/metrics.tsv >c.m
if [ "$rc" -eq 0 ] && cmp -s a.m c.m && cmp -s a/model.ckpt c/model.ckpt; then ok "3 epochs + --resume --epochs 6 == 6 epochs"
else fail "resume (exit $rc): metrics.tsv or model.ckpt differ from the uninterrupted run"; fi

MIXGEO_STOP_AFTER_STEPS=27 "$MIXGEO" train $SMALL --epochs 6 --out d >stop.out 2>stop.err
rc=$?
if [ "$rc" -eq 130 ] && grep -qF "interrupted at epoch 2 step 9; resume with: mixgeo train --resume d" stop.err &&
    [ "$(json d/summary.json mixgeo status)" = interrupted ]; then
    ok "interrupt mid-epoch: exit 130, resume hint, status interrupted"
else
    fail "interrupt: exit $rc; stderr:"
    sed 's/^/    /' stop.err
fi
run res-d "$MIXGEO" train -q --resume d
strip_seconds d/metrics.tsv >d.m
if [ "$rc" -eq 0 ] && cmp -s a.m d.m && cmp -s a/model.ckpt d/model.ckpt; then ok "interrupted at epoch 2 step 9 + --resume == uninterrupted"
else fail "resume after interrupt (exit $rc): results differ from the uninterrupted run"; fi

# summary.json lists the segments of a run: where each start began, its
# thread count and git revision; a resume with another thread count warns.
segs() { tr -d ' \t\n' <"$1/summary.json" | grep -o '"segments":\[[^]]*\]' | sed 's/,"git":"[^"]*"//g; s/,"blas":"[^"]*"//g'; }
[ "$(segs a)" = '"segments":[{"epoch":0,"step":0,"threads":1}]' ] || fail "a fresh run: segments $(segs a)"
[ "$(segs d)" = '"segments":[{"epoch":0,"step":0,"threads":1},{"epoch":1,"step":9,"threads":1}]' ] ||
    fail "an interrupted + resumed run: segments $(segs d)"
grep -q 'warning' res-d.err && fail "a resume with the same thread count warns: $(cat res-d.err)"
MIXGEO_STOP_AFTER_STEPS=27 "$MIXGEO" train -q $SMALL --epochs 6 --threads 2 --out th >th-1.out 2>&1
run th-2 "$MIXGEO" train --resume th --threads 1
if [ "$rc" -eq 0 ] && grep -qF "mixgeo: warning: th trained with 2 threads so far; with 1 the rest matches an uninterrupted 2-thread run only to float rounding" th-2.err &&
    [ "$(segs th)" = '"segments":[{"epoch":0,"step":0,"threads":2},{"epoch":1,"step":9,"threads":1}]' ] &&
    tr -d ' \t\n' <th/summary.json | grep -q '"segments":\[{"epoch":0,"step":0,"threads":2,"git":"[^"]'; then
    ok "summary.json lists the segments (threads, git); a resume with other threads warns"
else
    fail "segments after a resume with other threads (exit $rc): $(segs th); stderr:"
    sed 's/^/    /' th-2.err
fi
# a summary.json without the list (a run from before it): its latest start is the first entry
sed -i '/"segments"/,/}],/d' th/summary.json
grep -q segments th/summary.json && fail "test setup: segments not removed from th/summary.json"
run th-3 "$MIXGEO" train -q --resume th --threads 1 --epochs 7
[ "$rc" -eq 0 ] && [ "$(segs th)" = '"segments":[{"epoch":1,"step":9,"threads":1},{"epoch":6,"step":0,"threads":1}]' ] ||
    fail "resume of a summary.json without segments (exit $rc): $(segs th)"

# The BLAS kernels: chosen before OpenBLAS loads (MIXGEO_BLAS_CORE, default
# portable = Haswell on an AVX2 CPU), recorded in every segment and in the
# provenance line; a resume with other kernels warns like one with other threads.
kern=$("$MIXGEO" --version | sed -n 's/^kernels: OpenBLAS \([^,]*\),.*/\1/p')
kerns() { tr -d ' \t\n' <"$1/summary.json" | grep -o '"segments":\[[^]]*\]' | grep -o '"blas":"[^"]*"' | tr '\n' ' '; }
[ -n "$kern" ] && [ "$(kerns a)" = "\"blas\":\"$kern\" " ] && head -n 1 a/metrics.tsv | grep -q " blas=$kern " ||
    fail "a fresh run does not record the kernels $kern: $(kerns a), $(head -n 1 a/metrics.tsv)"
MIXGEO_BLAS_CORE=foo "$MIXGEO" train -q $SMALL --epochs 1 --out kfoo >kfoo.out 2>kfoo.err
rc=$?
if [ "$rc" -eq 2 ] && [ "$(wc -l <kfoo.err)" -eq 1 ] && [ ! -e kfoo ] &&
    grep -qF "mixgeo: MIXGEO_BLAS_CORE=foo: unknown BLAS kernel family 'foo'" kfoo.err; then
    ok "MIXGEO_BLAS_CORE=foo: exit 2, one line, no run directory"
else fail "MIXGEO_BLAS_CORE=foo: exit $rc: $(cat kfoo.err)"; fi
# an inherited OPENBLAS_CORETYPE (sbatch passes the submitting node's on) that
# this CPU cannot run: exit 2 before the first kernel call would die of SIGILL;
# MIXGEO_BLAS_CORE beside it overrides it.  Needs a CPU that lacks a family.
lack=
for f in SkylakeX Haswell Sandybridge; do
    MIXGEO_BLAS_CORE=$f "$MIXGEO" --version >/dev/null 2>klack.err ||
        { grep -qF "which this CPU lacks" klack.err && lack=$f && break; }
done
if [ -n "$lack" ]; then
    OPENBLAS_CORETYPE=$lack "$MIXGEO" train -q $SMALL --epochs 1 --out klk >klk.out 2>klk.err
    rc=$?
    if [ "$rc" -eq 2 ] && [ "$(wc -l <klk.err)" -eq 1 ] && [ ! -e klk ] &&
        grep -qF "mixgeo: OPENBLAS_CORETYPE=$lack: the $lack kernels need" klk.err &&
        grep -qF "(unset it, or set MIXGEO_BLAS_CORE)" klk.err; then
        ok "OPENBLAS_CORETYPE=$lack on a CPU without it: exit 2, one line, no run directory"
    else fail "OPENBLAS_CORETYPE=$lack on a CPU without it: exit $rc: $(cat klk.err)"; fi
    run klk2 env OPENBLAS_CORETYPE=$lack MIXGEO_BLAS_CORE=portable "$MIXGEO" --version
    if [ "$rc" -eq 0 ]; then ok "OPENBLAS_CORETYPE=$lack with MIXGEO_BLAS_CORE=portable: overridden"
    else fail "OPENBLAS_CORETYPE=$lack with MIXGEO_BLAS_CORE=portable: exit $rc: $(cat klk2.err)"; fi
else
    echo "skip: an OPENBLAS_CORETYPE this CPU cannot run: it runs every family (SkylakeX too)"
fi
if [ "$kern" = Haswell ]; then
    # the pin is what computes: OpenBLAS told Haswell directly gives the same bits
    run kh env OPENBLAS_CORETYPE=Haswell "$MIXGEO" train -q $SMALL --epochs 6 --out kh
    strip_seconds kh/metrics.tsv >kh.m
    [ "$rc" -eq 0 ] && cmp -s a.m kh.m && cmp -s a/model.ckpt kh/model.ckpt ||
        fail "default kernels != OPENBLAS_CORETYPE=Haswell: results differ (exit $rc)"
    # oneDNN's cap: set in the process when OpenBLAS already runs the family
    # (no exec); a DNNL_MAX_CPU_ISA of the user's stays
    v1=$(OPENBLAS_CORETYPE=Haswell MIXGEO_BLAS_CORE=portable "$MIXGEO" --version | sed -n 2p)
    v2=$(DNNL_MAX_CPU_ISA=AVX "$MIXGEO" --version | sed -n 2p)
    [ "$v1" = "kernels: OpenBLAS Haswell, oneDNN avx2" ] && [ "$v2" = "kernels: OpenBLAS Haswell, oneDNN avx" ] ||
        fail "oneDNN's ISA cap: '$v1' (want avx2), '$v2' (want avx)"
    MIXGEO_STOP_AFTER_STEPS=27 MIXGEO_BLAS_CORE=Sandybridge "$MIXGEO" train -q $SMALL --epochs 6 --out ks >ks-1.out 2>&1
    run ks-2 "$MIXGEO" train --resume ks
    if [ "$rc" -eq 0 ] && grep -qF "mixgeo: warning: ks trained with OpenBLAS's Sandybridge kernels so far; with Haswell the rest matches an uninterrupted run only to float rounding" ks-2.err &&
        [ "$(kerns ks)" = '"blas":"Sandybridge" "blas":"Haswell" ' ] && ! grep -q warning res-d.err; then
        ok "the BLAS kernels of every segment recorded; a resume with others warns"
    else
        fail "resume with other BLAS kernels (exit $rc): $(kerns ks); stderr:"
        sed 's/^/    /' ks-2.err
    fi
else
    echo "skip: BLAS kernel pinning: OpenBLAS runs $kern here, not the portable Haswell (no AVX2?)"
fi

# A real signal (SIGTERM; background jobs of a script ignore SIGINT).
"$MIXGEO" train $SPIRAL --epochs 1000000 --out sig >sig.out 2>sig.err &
pid=$!
sleep 1
kill -TERM "$pid" 2>/dev/null
wait "$pid"
rc=$?
if [ "$rc" -eq 130 ] && grep -qF "resume with: mixgeo train --resume sig" sig.err; then
    ok "SIGTERM: exit 130 and a resume hint"
    expect_exit 0 sig-eval "" "$MIXGEO" eval sig
else
    fail "SIGTERM: exit $rc; stderr (tail):"
    tail -n 3 sig.err | sed 's/^/    /'
fi

expect_exit 2 res-change "--lr: cannot change on --resume" "$MIXGEO" train --resume c --lr 0.05
expect_exit 2 res-out "--out cannot be combined with --resume" "$MIXGEO" train --resume c --out zz
expect_exit 2 exists "--force" "$MIXGEO" train $SMALL --epochs 1 --out a
expect_exit 2 conv-bad "--conv: unknown value" "$MIXGEO" train $SMALL --epochs 1 --conv bogus --out convbad
[ -e convbad ] && fail "conv-bad: a run directory was made"

# ---------------------------------------------------------------- crafted checkpoints
# craft SRC DST KEY=VALUE...: SRC's checkpoint with header lines replaced and
# the crc32 fixed (a crc catches accidents; every field must be range-checked).
PY=${PYTHON:-python3}
craft() {
    "$PY" - "$@" <<'PYEOF'
import struct, sys, zlib
src, dst, edits = sys.argv[1], sys.argv[2], sys.argv[3:]
b = open(src, 'rb').read()
hl = struct.unpack('<I', b[16:20])[0]
lines = b[20:20 + hl].decode().splitlines()
for e in edits:
    k, v = e.split('=', 1)
    lines = [l for l in lines if not l.startswith(k + '=')] + [k + '=' + v]
hdr = ('\n'.join(lines) + '\n').encode()
body = b[:16] + struct.pack('<I', len(hdr)) + hdr + b[20 + hl:-4]
open(dst, 'wb').write(body + struct.pack('<I', zlib.crc32(body) & 0xffffffff))
PYEOF
}
if "$PY" -c 'import zlib' 2>/dev/null; then
    run cr-train "$MIXGEO" train -q $SMALL --epochs 3 --out cr
    cp -r cr cr0
    # --resume must not trust a counter: no assert (exit 134), no overflow, and
    # nothing of the run rewritten before the checkpoint is proven valid
    for edit in epoch=2147483648 epoch=-1 ep_seen=9223372036854775807 opt_t=-9223372036854775808 \
        step=99 ep_correct=1000000; do
        craft cr0/model.ckpt cr/model.ckpt "$edit"
        key=${edit%%=*}
        expect_exit 1 "resume-$key" "cr/model.ckpt: bad checkpoint header: $edit: must be" \
            "$MIXGEO" train --resume cr --epochs 6
        for f in metrics.tsv summary.json config.ini; do
            cmp -s "cr/$f" "cr0/$f" || fail "resume with $edit: cr/$f was rewritten"
        done
    done
    # a bad architecture inside a checkpoint: the reason once, the path once
    craft cr0/model.ckpt cr/model.ckpt arch=preact:4194304 in_c=1 in_h=8 in_w=8
    run ckpt-arch "$MIXGEO" eval cr
    want="mixgeo: cr/model.ckpt: checkpoint of an invalid architecture: --arch 'preact:4194304': stem: 268435456 features per example (at most 16777216)"
    if [ "$rc" -eq 1 ] && [ "$(cat ckpt-arch.err)" = "$want" ]; then ok "bad architecture in a checkpoint: one line, the reason once"
    else fail "bad architecture in a checkpoint: exit $rc, stderr: $(cat ckpt-arch.err)"; fi
    # a payload 4 bytes longer than the header says (was: shifted weights, exit 0)
    "$PY" - cr0/model.ckpt cr/model.ckpt <<'PYEOF'
import struct, sys, zlib
b = open(sys.argv[1], 'rb').read()
body = b[:-4] + b'\0\0\0\0'
open(sys.argv[2], 'wb').write(body + struct.pack('<I', zlib.crc32(body) & 0xffffffff))
PYEOF
    expect_exit 1 ckpt-long "corrupt checkpoint" "$MIXGEO" eval cr
    cp cr0/model.ckpt cr/model.ckpt
    expect_exit 0 ckpt-restored "" "$MIXGEO" train -q --resume cr --epochs 6
else
    echo "skip: no $PY with zlib: crafted-checkpoint checks"
fi

# ---------------------------------------------------------------- architecture limits
# the same limit for every syntax, one line with the real reason
. "$ROOT/tests/idx.sh"
mkdir -p img
idx img/train-images-idx3-ubyte images 60 1
idx img/train-labels-idx1-ubyte labels 60 1
idx img/t10k-images-idx3-ubyte images 30 2
idx img/t10k-labels-idx1-ubyte labels 30 2
for case in "preact:4194304|stem: 1073741824 features per example (at most 16777216)" \
    "preact:8-4194304|stage 2: 268435456 features per example (at most 16777216)" \
    "cnn:c4096k1-c4096k32|token 'c4096k32': conv2d: layer too large" \
    "256-1000000-1000000-3|1000261000003 parameters (at most 1073741824)"; do
    arch=${case%%|*} why=${case#*|}
    run "limit-$arch" "$MIXGEO" train --data idx:img --arch "$arch" --epochs 1 --out lim
    n=$(wc -l <"limit-$arch.err")
    if [ "$rc" -eq 2 ] && [ "$n" -eq 1 ] && grep -qF -- "mixgeo: --arch '$arch': $why" "limit-$arch.err"; then
        ok "--arch $arch: exit 2, one line: $why"
    else
        fail "--arch $arch: exit $rc, $n lines: $(cat "limit-$arch.err")"
    fi
done
[ -e lim ] && fail "a rejected --arch created its --out directory"

# ---------------------------------------------------------------- write failures
# A full disk while writing a checkpoint: the file and the errno named,
# summary.json "failed" with the reason, no temp file left.  A real tmpfs
# when this user may mount one (root), else a file-size limit (ulimit -f)
# stands for it.  The 2-64-64-2 checkpoint (~36 KB) fits once in 64 KB but
# not twice: the epoch-0 checkpoint is written, the final one cannot be.
FULL="--data spiral --arch 2-64-64-2 --optim sgd --lr 0.05 --epochs 2"
mkdir -p full
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=64k tmpfs full 2>/dev/null; then
    mounted=1
    run full "$MIXGEO" train -q $FULL --out full/run
    reason="No space left on device"
else
    mounted=0
    echo "skip: cannot mount a tmpfs: a file-size limit stands for a full disk"
    # 30 blocks (of 512 bytes in dash, 1 KB in bash) < the checkpoint; with
    # SIGXFSZ ignored a write beyond the limit fails with EFBIG
    (trap '' XFSZ; ulimit -f 30 && exec "$MIXGEO" train -q $FULL --out full/run) >full.out 2>full.err
    rc=$?
    reason="File too large"
fi
if [ "$rc" -eq 1 ] && grep -qF "mixgeo: cannot write full/run/model.ckpt: $reason" full.err; then
    ok "disk full: exit 1, $(head -n 1 full.err)"
else
    fail "disk full: exit $rc; stderr: $(cat full.err)"
fi
if [ -f full/run/summary.json ] && [ "$(json full/run/summary.json mixgeo status)" = failed ] &&
    [ "$(json full/run/summary.json mixgeo error)" = "cannot write full/run/model.ckpt: $reason" ]; then
    ok "disk full: summary.json says failed, with the reason"
else
    fail "disk full: summary.json does not say failed with the reason: $(grep -E '"(status|error)"' full/run/summary.json 2>&1)"
fi
ls -a full/run | grep -q tmp && fail "disk full: a temp file was left: $(ls -a full/run)"
# read-only: the run's directory cannot be written
if [ "$mounted" -eq 1 ]; then
    rm -f full/run/model.ckpt
    if mount -o remount,ro full 2>/dev/null; then
        expect_exit 1 read-only "cannot write full/run/config.ini: Read-only file system" \
            "$MIXGEO" train -q $FULL --force --out full/run
        mount -o remount,rw full
    fi
    umount full 2>/dev/null || umount -l full
elif [ "$(id -u)" -ne 0 ]; then
    mkdir ro && chmod a-w ro
    expect_exit 1 read-only "cannot create directory ro/run: Permission denied" \
        "$MIXGEO" train -q $FULL --out ro/run
    chmod u+w ro
fi

# ---------------------------------------------------------------- kill -9, stale temp files
# A writer killed between write and rename leaves RUN/NAME.tmpPID.HOST: the
# next run removes those of dead processes of this host (a live writer's and
# another host's are kept).
"$MIXGEO" train $SPIRAL --epochs 100000 --checkpoint-every 1 --out k9 >k9.out 2>k9.err &
pid=$!
sleep 1
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
host=$(uname -n | tr -c 'A-Za-z0-9._\n-' '_' | cut -c1-64)
sh -c 'exit 0' &
dead=$!
wait "$dead"
: >"k9/metrics.tsv.tmp$dead.$host"
: >"k9/model.ckpt.tmp$dead"
: >"k9/summary.json.tmp$$.$host"
: >"k9/summary.json.tmp$dead.another-host"
if [ -s k9/model.ckpt ]; then
    e=$(json k9/summary.json mixgeo epochs_done)
    run k9-resume "$MIXGEO" train -q --resume k9 --epochs $((e + 2))
    if [ "$rc" -eq 0 ] && [ "$(json k9/summary.json mixgeo status)" = finished ] &&
        [ "$(grep -vc '^#' k9/metrics.tsv)" -eq $((e + 2)) ]; then
        ok "kill -9 during training (at epoch $e): --resume finishes with every row"
    else
        fail "kill -9 + resume: exit $rc, status $(json k9/summary.json mixgeo status); stderr: $(cat k9-resume.err)"
    fi
    [ -e "k9/metrics.tsv.tmp$dead.$host" ] || [ -e "k9/model.ckpt.tmp$dead" ] &&
        fail "stale temp files of a dead writer were not removed: $(ls k9)"
    [ -e "k9/summary.json.tmp$$.$host" ] && [ -e "k9/summary.json.tmp$dead.another-host" ] ||
        fail "a live writer's or another host's temp file was removed: $(ls k9)"
    ok "stale temp files: a dead writer's removed, a live one's and another host's kept"
else
    fail "kill -9 after 1 s left no checkpoint in k9"
fi

# ---------------------------------------------------------------- INI + flags
cat >t.ini <<'EOF'
# a comment
; another comment
data = spiral
[train]
arch = 2-16-2
epochs = 2
seed = 5
lr = 0.05
[eval]
split = train
EOF
run ini "$MIXGEO" train -q --config t.ini --seed 7 --out ini
if [ "$rc" -eq 0 ] && grep -q '^seed = 7$' ini/config.ini && grep -q '^lr = 0.05$' ini/config.ini &&
    grep -q '^arch = 2-16-2$' ini/config.ini && grep -q '^epochs = 2$' ini/config.ini &&
    grep -q '^data-seed = 7$' ini/config.ini; then
    ok "INI file + flag override (--seed 7 over seed = 5)"
else
    fail "INI + flags (exit $rc):"
    sed 's/^/    /' ini.err
fi
run repro "$MIXGEO" train -q --config ini/config.ini --out repro
if [ "$rc" -eq 0 ] && cmp -s ini/model.ckpt repro/model.ckpt; then ok "--config RUN/config.ini reproduces the run"
else fail "--config RUN/config.ini (exit $rc) did not reproduce model.ckpt"; fi

for f in "$ROOT"/experiments/*.ini; do
    [ -f "$f" ] || continue
    expect_exit 0 "dry-$(basename "$f" .ini)" "" "$MIXGEO" train --config "$f" --dry-run
done

# ---------------------------------------------------------------- bad input -> exit 2
printf '[train]\nalpha = 2\nbogus = 1\n' >bad.ini
printf 'mix = manifold\nalpha = -1\n' >badval.ini
printf '[train]\nalpha = 2\nepochs = 1\nalpha = 3\n' >dup.ini
printf 'alpha = 2\n[train]\nalpha = 3\n' >dup2.ini
printf '[train]\nout =#x\n' >unstorable.ini
expect_exit 2 bad-alpha "--alpha" "$MIXGEO" train --mix manifold --alpha 0 --out x
expect_exit 2 bad-layer "--mix-layers" "$MIXGEO" train --arch 2-8-2 --mix manifold --mix-layers 0,5 --out x
expect_exit 2 bad-width "--arch: input width 3" "$MIXGEO" train --arch 3-8-2 --out x
expect_exit 2 bad-classes "--arch: output width 3" "$MIXGEO" train --arch 2-8-3 --out x
expect_exit 2 bad-batch "--batch" "$MIXGEO" train --batch 0 --out x
expect_exit 2 bad-lr "--lr" "$MIXGEO" train --lr -0.1 --out x
expect_exit 2 bad-ntrain "--n-train" "$MIXGEO" train --n-train 0 --out x
expect_exit 2 bad-augment "--augment" "$MIXGEO" train --augment crop99,flip --out x
expect_exit 2 bad-augment2 "--augment" "$MIXGEO" train --augment rotate --out x
expect_exit 2 preact-flat "image data" "$MIXGEO" train --data spiral --arch preact:8-16x1 --epochs 1 --out x
run ntrain "$MIXGEO" train -q $SPIRAL --n-per-class 100 --n-train 50 --epochs 1 --out ntr
[ "$(json ntr/summary.json mixgeo n_train)" = 50 ] || fail "--n-train 50: summary.json n_train is not 50"
expect_exit 2 bad-ini-key "bad.ini:3: unknown key 'bogus'" "$MIXGEO" train --config bad.ini --out x
expect_exit 2 bad-ini-val "badval.ini:2: alpha" "$MIXGEO" train --config badval.ini --out x
expect_exit 2 dup-ini-key "dup.ini:4: alpha: duplicate key (first at line 2)" "$MIXGEO" train --config dup.ini --out x
expect_exit 2 dup-ini-key2 "dup2.ini:3: alpha: duplicate key (first at line 1)" "$MIXGEO" train --config dup2.ini --out x
expect_exit 2 ini-unstorable "unstorable.ini:2: out: the value '#x' cannot be stored" "$MIXGEO" train --config unstorable.ini
[ -e '#x' ] && fail "ini-unstorable: a run directory '#x' was made"
expect_exit 2 bad-number "--epochs: not an integer (got '3x')" "$MIXGEO" train --epochs 3x --out x
expect_exit 2 bad-data "--data: unknown data" "$MIXGEO" train --data nosuch --out x
expect_exit 2 bad-enum "--mix: unknown value" "$MIXGEO" train --mix sideways --out x
expect_exit 2 bad-option "option '--nope'" "$MIXGEO" train --nope
expect_exit 2 bad-config "nosuch.ini" "$MIXGEO" train --config nosuch.ini
expect_exit 2 bad-cmd "unknown command" "$MIXGEO" frobnicate
# a value the INI reader takes but no config.ini line can hold (found by fuzz_ini)
printf 'arch = 2-8-2\nepochs = 1\nout =#x\n' >unstorable.ini
expect_exit 2 unstorable "cannot be stored in an INI file" "$MIXGEO" train -q --config unstorable.ini
[ -e '#x' ] && fail "a configuration that cannot be saved left its --out directory"
[ -e x ] && fail "a rejected configuration created its --out directory"

# ---------------------------------------------------------------- runtime failures -> exit 1
expect_exit 1 no-idx "$T/no-such-dir" "$MIXGEO" train --data "idx:$T/no-such-dir" --arch 784-10 --out x
expect_exit 1 no-fm-dir "$T/no-fm" "$MIXGEO" train --data fashion-mnist --data-dir "$T/no-fm" --out x
expect_exit 1 diverge "loss became NaN/Inf at epoch" "$MIXGEO" train $SPIRAL --lr 1e30 --out nan
if [ -f nan/model.ckpt ]; then
    expect_exit 0 diverge-eval "" "$MIXGEO" eval nan
    [ "$(json nan/summary.json mixgeo status)" = diverged ] || fail "summary.json status after NaN is not diverged"
else
    fail "no last good checkpoint after NaN"
fi

# ---------------------------------------------------------------- CSV data
awk 'BEGIN { srand(1); print "x0,x1,label"
             for (i = 0; i < 200; i++) { y = i % 2; printf "%.4f,%.4f,%d\n", rand() + 2 * y, rand(), y } }' >tr.csv
awk 'BEGIN { srand(2); for (i = 0; i < 100; i++) { y = i % 2; printf "%.4f,%.4f,%d\n", rand() + 2 * y, rand(), y } }' >te.csv
run csv "$MIXGEO" train -q --data csv:tr.csv,te.csv --epochs 5 --out csvrun
if [ "$rc" -eq 0 ] && grep -q '^arch = 2-64-64-2$' csvrun/config.ini && grep -q '^classes = 2$' csvrun/config.ini; then
    ok "csv:TRAIN,TEST with an auto --arch (2-64-64-2)"
else
    fail "csv run (exit $rc):"
    sed 's/^/    /' csv.err
fi

# ---------------------------------------------------------------- --help
for cmd in train eval; do
    run "help-$cmd" "$MIXGEO" $cmd --help
    if [ "$rc" -eq 0 ] && grep -q '\[default: ' "help-$cmd.out"; then ok "$cmd --help exits 0 and shows defaults"
    else fail "$cmd --help: exit $rc or no defaults"; fi
done
for o in data data-dir classes n-per-class n-test-per-class noise data-seed standardize val arch act \
    slope batchnorm dropout input-noise init mix mix-layers alpha loss optim lr momentum nesterov wd \
    beta1 beta2 eps sched milestones gamma warmup epochs batch seed threads out checkpoint-every \
    config resume quiet; do
    grep -q -- "--${o}[ ,]" help-train.out || fail "train --help does not list --$o"
done
grep -A1 -- '--lr X' help-train.out | grep -q '\[default: auto\]' || fail "train --help lacks '--lr ... [default: auto]'"
grep -q -- '--split .*\[default: test\]' help-eval.out || fail "eval --help lacks the --split default"
run help-main "$MIXGEO" --help
if [ "$rc" -eq 0 ] && grep -q '^  train ' help-main.out && grep -q '^  eval ' help-main.out; then ok "mixgeo --help lists the subcommands"
else fail "mixgeo --help: exit $rc or subcommands missing"; fi

echo "e2e_train: $failures failure(s)"
[ "$failures" -eq 0 ]
