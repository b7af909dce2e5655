#!/bin/sh
# e2e_suite.sh - `mixgeo suite` end to end on experiments/tiny.suite (8 runs of
# 3 epochs on a few hundred 2-D points; seconds):
#   grid expansion and stable ids, bad suite files (exit 2 with FILE:LINE: KEY
#   before anything runs), kill -9 of the runner mid-way and completion on
#   rerun with the finished results untouched, skip on rerun, interrupted
#   training resumed to the same metrics, a changed configuration detected, a
#   failing run recorded while the others finish, report tables that match the
#   runs' summaries, figures (rendered when gnuplot is installed), claims
#   evaluated on constructed values (every verdict rule), bad [claim]
#   sections, the combined report, a theory suite and a montage, per-layer
#   analysis lists (only.K) and a changed list re-running only its layer,
#   --shard I/N slices that partition the grid.
# Uses $MIXGEO (default build/mixgeo); run from anywhere.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
MIXGEO=${MIXGEO:-$ROOT/build/mixgeo}
SUITE=experiments/tiny.suite
T=$(mktemp -d "${TMPDIR:-/tmp}/mixgeo-e2e-suite.XXXXXX") || exit 1
# E2E_KEEP=1 keeps the temporary directory for a look after a failure.
[ "${E2E_KEEP:-0}" = 1 ] && echo "e2e_suite: keeping $T" || trap 'rm -rf "$T"' EXIT
export OPENBLAS_NUM_THREADS=1
unset MIXGEO_STOP_AFTER_STEPS MIXGEO_SUITE_ABORT_AFTER

fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

# suite status lines "STATE ID ..." -> count of STATE
count_state() { grep -c "^$1 " "$2"; }

# The value of "key" inside the "final" object of a summary.json.
final_value() {
    awk -v k="\"$2\":" '/"final":/ { inf = 1 } inf && $1 == k { v = $2; sub(/,$/, "", v); print v; exit }' "$1"
}

# Wait (at most ~10 s) until no run of the suite in $1 is "running".
wait_idle() {
    i=0
    while [ $i -lt 100 ]; do
        "$MIXGEO" suite status "$SUITE" --out "$1" > "$T/idle.txt" 2>&1
        grep -q '^running ' "$T/idle.txt" || return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

"$MIXGEO" suite --help > /dev/null 2>&1 || { echo "FAIL: $MIXGEO has no suite command"; exit 1; }

# ---------------------------------------------------------------- grid and ids
"$MIXGEO" suite list "$SUITE" > "$T/list1.txt"; rc=$?
[ $rc -eq 0 ] || fail "suite list exit $rc"
[ "$(wc -l < "$T/list1.txt")" -eq 8 ] || fail "grid: expected 8 runs, got $(wc -l < "$T/list1.txt")"
for m in baseline manifold; do
    for d in spiral moons; do
        for s in 1 2; do
            n=$(grep -c "	method=$m data=$d seed=$s\$" "$T/list1.txt")
            [ "$n" -eq 1 ] || fail "grid: method=$m data=$d seed=$s appears $n times"
        done
    done
done
cut -f1 "$T/list1.txt" > "$T/ids1.txt"
[ "$(sort -u "$T/ids1.txt" | wc -l)" -eq 8 ] || fail "ids are not unique"
grep -vqE '^[A-Za-z0-9.+_-]+-[0-9a-f]{8}$' "$T/ids1.txt" && fail "an id is not SLUG-HASH8"
(cd "$T" && "$MIXGEO" suite list --ids "$ROOT/$SUITE") > "$T/ids2.txt"
cmp -s "$T/ids1.txt" "$T/ids2.txt" || fail "ids differ between two invocations"
"$MIXGEO" suite list --ids --quick "$SUITE" > "$T/ids-quick.txt"
[ "$(cat "$T/ids1.txt" "$T/ids-quick.txt" | sort -u | wc -l)" -eq 16 ] ||
    fail "--quick (1 epoch) must give 8 new ids"
# Changing one axis value changes only the ids of its runs.
sed 's/^seed = 1 | 2$/seed = 1 | 3/' "$SUITE" > "$T/seed13.suite"
"$MIXGEO" suite list --ids "$T/seed13.suite" > "$T/ids-seed13.txt"
[ "$(grep -c 'seed1-' "$T/ids-seed13.txt")" -eq 4 ] || fail "seed13: expected 4 seed1 runs"
[ "$(grep -Fxf "$T/ids1.txt" "$T/ids-seed13.txt" | wc -l)" -eq 4 ] ||
    fail "changing seed 2 -> 3 must keep exactly the 4 seed-1 ids"
# Changing a base value changes every id (a changed configuration never reuses a result).
sed 's/^lr = 0.05$/lr = 0.04/' "$SUITE" > "$T/lr.suite"
grep -q '^lr = 0.04$' "$T/lr.suite" || fail "test setup: lr line not found in $SUITE"
"$MIXGEO" suite list --ids "$T/lr.suite" > "$T/ids-lr.txt"
[ "$(grep -Fxf "$T/ids1.txt" "$T/ids-lr.txt" | wc -l)" -eq 0 ] || fail "lr change kept some ids"
ok "grid expansion, stable ids"

# ---------------------------------------------------------------- shards
for i in 1 2 3; do "$MIXGEO" suite list --ids --shard "$i/3" "$SUITE"; done | sort > "$T/shards.txt"
sort "$T/ids1.txt" | cmp -s - "$T/shards.txt" || fail "--shard 1/3, 2/3, 3/3 do not partition the grid"
[ "$("$MIXGEO" suite list --ids --shard 1/3 "$SUITE" | wc -l)" -eq 3 ] || fail "--shard 1/3: expected 3 of the 8 runs"
"$MIXGEO" suite run "$SUITE" --shard 2/3 --out "$T/out-shard" > "$T/shard.out" 2>&1 || fail "suite run --shard 2/3 failed"
"$MIXGEO" suite status "$SUITE" --out "$T/out-shard" > "$T/shard-status.txt"
grep -q '8 runs: 3 done, 5 missing' "$T/shard-status.txt" || { fail "--shard 2/3: expected 3 done, 5 missing"; cat "$T/shard-status.txt"; }
"$MIXGEO" suite status "$SUITE" --shard 2/3 --out "$T/out-shard" > "$T/shard-status2.txt"
grep -q '3 runs: 3 done' "$T/shard-status2.txt" || fail "status --shard 2/3: expected its 3 runs done"
"$MIXGEO" suite run "$SUITE" --shard 4/3 --out "$T/out-shard" > "$T/shard-bad.out" 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q -- "--shard: expected I/N" "$T/shard-bad.out" || fail "--shard 4/3: exit $rc, no message"
ok "--shard I/N: a fixed slice of the grid (the shards partition it)"

# ---------------------------------------------------------------- bad suite files
bad_suite() { # name, expected text, file contents on stdin
    cat > "$T/$1.suite"
    "$MIXGEO" suite run "$T/$1.suite" --out "$T/bad-out" > "$T/$1.out" 2>&1; rc=$?
    [ $rc -eq 2 ] || fail "$1: exit $rc, expected 2"
    grep -qF "$2" "$T/$1.out" || { fail "$1: no '$2' in:"; cat "$T/$1.out"; }
    [ -e "$T/bad-out" ] && fail "$1: the output directory was created"
}
bad_suite unknown-key "$T/unknown-key.suite:3: lerning-rate: unknown key" <<'EOF'
[base]
epochs = 1
lerning-rate = 0.1
[grid]
seed = 1 | 2
EOF
bad_suite empty-axis "$T/empty-axis.suite:4: seed: empty axis" <<'EOF'
[base]
epochs = 1
[grid]
seed =
EOF
bad_suite empty-value "$T/empty-value.suite:2: alpha: empty value" <<'EOF'
[grid]
alpha = 1 | | 2
EOF
bad_suite unknown-analysis "$T/unknown-analysis.suite:6: only: unknown analysis 'spectrum'" <<'EOF'
[grid]
seed = 1
[analyze]
layers = 1
split = test
only = spectra, spectrum
EOF
bad_suite unknown-method "$T/unknown-method.suite:4: method: unknown method 'manifld'" <<'EOF'
[method manifold]
mix = manifold
[grid]
method = manifold | manifld
EOF
bad_suite bad-value "$T/bad-value.suite:4: alpha: must be > 0" <<'EOF'
[base]
mix = manifold
[grid]
alpha = 2 | -1
EOF
bad_suite bad-figure "$T/bad-figure.suite:6: y: 'test_accuracy' is not a column of metrics.tsv (epoch lr train_loss train_acc train_clean_loss train_clean_acc val_loss" <<'EOF'
[grid]
seed = 1 | 2
[figure f]
kind = curve
x = epoch
y = test_accuracy
EOF
bad_suite bad-section "$T/bad-section.suite:1: unknown section [grids]" <<'EOF'
[grids]
seed = 1
EOF
bad_suite only-layer "$T/only-layer.suite:6: only.5: layer 5 is not among the layers of [analyze]" <<'EOF'
[grid]
seed = 1
[analyze]
layers = 1, 2
only = spectra
only.5 = spectra, calibration
EOF
bad_suite only-layer-analysis "$T/only-layer-analysis.suite:4: only.2: unknown analysis 'bogus'" <<'EOF'
[grid]
seed = 1
[analyze]
only.2 = bogus
layers = 1, 2
EOF
bad_suite only-layer-key "$T/only-layer-key.suite:5: only.two: 'two' is not a layer number" <<'EOF'
[grid]
seed = 1
[analyze]
layers = 1, 2
only.two = spectra
EOF
bad_suite bad-range "$T/bad-range.suite:6: yrange: expected [LOW:HIGH] (numbers, * or empty)" <<'EOF'
[grid]
seed = 1 | 2
[figure f]
kind = curve
x = epoch
yrange = [0:high]
y = test_acc
EOF
bad_suite bad-range-colon "$T/bad-range-colon.suite:6: xrange: expected [LOW:HIGH]" <<'EOF'
[grid]
seed = 1 | 2
[figure f]
kind = curve
y = test_acc
xrange = 1-10
EOF
bad_suite bad-bool "$T/bad-bool.suite:6: logy: not a boolean (true/false)" <<'EOF'
[grid]
seed = 1 | 2
[figure f]
kind = curve
y = test_acc
logy = maybe
EOF
bad_suite bad-digits "$T/bad-digits.suite:5: digits: not an integer 0..12" <<'EOF'
[grid]
seed = 1 | 2
[table t]
metrics = test_acc
digits = 13
EOF
ok "bad suite files: exit 2 with FILE:LINE: KEY, nothing run"

# ---------------------------------------------------------------- per-layer analysis lists
# only.2 (before layers: keys in any order) replaces only for layer 2; the
# recorded step arguments differ, and a changed only.2 re-runs layer 2 alone.
cat > "$T/layers.suite" <<'EOF'
[suite]
name = layers
[base]
n-per-class = 100
n-test-per-class = 100
arch = 2-16-16-2
epochs = 1
batch = 50
[grid]
seed = 1
[analyze]
only.2 = spectra, calibration
layers = 1, 2
split = test
only = spectra
EOF
OL=$T/out-layers
"$MIXGEO" suite run "$T/layers.suite" --out "$OL" > "$T/layers.out" 2>&1; rc=$?
[ $rc -eq 0 ] || { fail "suite with only.2: exit $rc"; cat "$T/layers.out"; }
A=$OL/runs/$("$MIXGEO" suite list --ids "$T/layers.suite")
grep -q '"analyses":.*"calibration"' "$A/analysis/test-L2/summary.json" || fail "only.2: layer 2 has no calibration"
[ -s "$A/analysis/test-L2/reliability.tsv" ] || fail "only.2: layer 2 has no reliability.tsv"
grep -q '"analyses":.*"spectra"' "$A/analysis/test-L1/summary.json" || fail "only.2: layer 1 has no spectra"
grep -q '"analyses":.*"calibration"' "$A/analysis/test-L1/summary.json" && fail "only.2: layer 1 has calibration"
[ -e "$A/analysis/test-L1/reliability.tsv" ] && fail "only.2: layer 1 has reliability.tsv"
[ "$(cat "$A/steps/analyze-test-L1.done")" = "--layer 1 --split test --only spectra" ] ||
    fail "only.2: layer 1 step args: $(cat "$A/steps/analyze-test-L1.done")"
[ "$(cat "$A/steps/analyze-test-L2.done")" = "--layer 2 --split test --only spectra,calibration" ] ||
    fail "only.2: layer 2 step args: $(cat "$A/steps/analyze-test-L2.done")"
sed -i 's/^only.2 = .*/only.2 = calibration/' "$T/layers.suite"
"$MIXGEO" suite status "$T/layers.suite" --out "$OL" > "$T/layers-status.txt"
grep -q '^partial .*\[analyze\] changed' "$T/layers-status.txt" || { fail "changed only.2: not partial"; cat "$T/layers-status.txt"; }
"$MIXGEO" suite run "$T/layers.suite" --out "$OL" > "$T/layers2.out" 2>&1; rc=$?
[ $rc -eq 0 ] || { fail "changed only.2: exit $rc"; cat "$T/layers2.out"; }
[ "$(grep -c '^== .* analyze .*--layer 1 ' "$A/log.txt")" -eq 1 ] || fail "changed only.2: layer 1 analysed again"
[ "$(grep -c '^== .* analyze .*--layer 2 --split test --only calibration ' "$A/log.txt")" -eq 1 ] ||
    fail "changed only.2: layer 2 not analysed again with the new list"
[ "$(grep -c '^== .* train ' "$A/log.txt")" -eq 1 ] || fail "changed only.2: trained again"
ok "per-layer analysis lists (only.K), a changed list re-runs its layer only"

# ---------------------------------------------------------------- status of a training run
# A run that trains shows its epoch, the time an epoch takes and an estimate
# of the time left; SIGTERM stops the runner (as Ctrl-C does), the run saves its state.
cat > "$T/slow.suite" <<'EOF'
[base]
data = spiral
n-per-class = 5000
arch = 2-128-128-2
epochs = 500
[grid]
seed = 1
EOF
OS=$T/out-slow
"$MIXGEO" suite run "$T/slow.suite" --out "$OS" > "$T/slow.out" 2>&1 &
slow_pid=$!
SID=$("$MIXGEO" suite list --ids "$T/slow.suite")
i=0
until [ -f "$OS/runs/$SID/metrics.tsv" ] && [ "$(grep -vc '^#' "$OS/runs/$SID/metrics.tsv")" -ge 2 ]; do
    i=$((i + 1))
    [ $i -gt 600 ] && break
    sleep 0.1
done
"$MIXGEO" suite status "$T/slow.suite" --out "$OS" > "$T/slow-status.txt" 2>&1
kill -TERM "$slow_pid" 2>/dev/null
wait "$slow_pid"
grep -q "^running  *$SID  *host [^ ]* pid [0-9]*; epoch [0-9]*/500, [0-9.]* s an epoch, about [0-9.]* \(min\|h\) left\$" "$T/slow-status.txt" ||
    { fail "status of a training run: no epoch, time an epoch and time left"; cat "$T/slow-status.txt"; }
"$MIXGEO" suite status "$T/slow.suite" --out "$OS" > "$T/slow-status2.txt" 2>&1
grep -q "^partial  *$SID  *epoch [0-9]*/500, interrupted\$" "$T/slow-status2.txt" ||
    { fail "status after SIGTERM: not partial, interrupted"; cat "$T/slow-status2.txt"; }
ok "status of a training run: epoch, time an epoch, time left"

# ---------------------------------------------------------------- kill -9 mid-way
O=$T/out
MIXGEO_SUITE_ABORT_AFTER=3 "$MIXGEO" suite run "$SUITE" --out "$O" -j 1 > "$T/run1.out" 2>&1; rc=$?
[ $rc -eq 137 ] || { fail "runner with MIXGEO_SUITE_ABORT_AFTER=3: exit $rc, expected 137 (SIGKILL)"; cat "$T/run1.out"; }
wait_idle "$O" || fail "a run is still running 10 s after the runner was killed"
"$MIXGEO" suite status "$SUITE" --out "$O" > "$T/status1.txt"
[ "$(count_state done "$T/status1.txt")" -eq 3 ] || { fail "after kill -9: expected 3 done"; cat "$T/status1.txt"; }
grep '^done ' "$T/status1.txt" | awk '{ print $2 }' > "$T/done1.txt"
for id in $(cat "$T/done1.txt"); do cksum "$O/runs/$id/summary.json" "$O/runs/$id/metrics.tsv" "$O/runs/$id/DONE"; done > "$T/sums1.txt"
"$MIXGEO" suite run "$SUITE" --out "$O" -j 2 > "$T/run2.out" 2>&1; rc=$?
[ $rc -eq 0 ] || { fail "rerun after kill -9: exit $rc"; cat "$T/run2.out"; }
"$MIXGEO" suite status "$SUITE" --out "$O" > "$T/status2.txt"
[ "$(count_state done "$T/status2.txt")" -eq 8 ] || { fail "after the rerun: expected 8 done"; cat "$T/status2.txt"; }
for id in $(cat "$T/done1.txt"); do cksum "$O/runs/$id/summary.json" "$O/runs/$id/metrics.tsv" "$O/runs/$id/DONE"; done > "$T/sums2.txt"
cmp -s "$T/sums1.txt" "$T/sums2.txt" || fail "a run finished before the kill was changed by the rerun"
for id in $(cat "$T/done1.txt"); do grep -q "start .*$id" "$T/run2.out" && fail "rerun started the finished run $id"; done
ok "kill -9 of the runner mid-way, rerun completes the rest, finished runs untouched"

# ---------------------------------------------------------------- skip on rerun
sleep 1
touch "$T/stamp"
"$MIXGEO" suite run "$SUITE" --out "$O" -j 2 > "$T/run3.out" 2>&1; rc=$?
[ $rc -eq 0 ] || fail "third run: exit $rc"
grep -q "8 done, 0 to run" "$T/run3.out" || { fail "third run did not report 8 done, 0 to run"; cat "$T/run3.out"; }
[ -z "$(find "$O/runs" -newer "$T/stamp" -type f)" ] || fail "a file changed although every run was done"
ok "rerun skips finished runs"

# ---------------------------------------------------------------- interrupted training resumes
ID=$(grep '	method=manifold data=spiral seed=1$' "$T/list1.txt" | cut -f1)
O2=$T/out2
MIXGEO_STOP_AFTER_STEPS=6 "$MIXGEO" suite run "$SUITE" --out "$O2" --only "$ID" > "$T/run4.out" 2>&1; rc=$?
[ $rc -eq 1 ] || fail "interrupted training: exit $rc, expected 1"
"$MIXGEO" suite status "$SUITE" --out "$O2" --only "$ID" > "$T/status4.txt"
grep -q "^partial  *$ID  *epoch 1/3, interrupted" "$T/status4.txt" || { fail "expected partial at epoch 1/3"; cat "$T/status4.txt"; }
"$MIXGEO" suite run "$SUITE" --out "$O2" --only "$ID" > "$T/run5.out" 2>&1; rc=$?
[ $rc -eq 0 ] || { fail "resume: exit $rc"; cat "$T/run5.out"; }
grep -q "start  *$ID (resume)" "$T/run5.out" || fail "the run was not resumed"
grep -q '"resumed_from"' "$O2/runs/$ID/summary.json" || fail "summary.json has no resumed_from"
cut -f1-10 "$O/runs/$ID/metrics.tsv" | grep -v '^#' > "$T/m-full.tsv"
cut -f1-10 "$O2/runs/$ID/metrics.tsv" | grep -v '^#' > "$T/m-resumed.tsv"
cmp -s "$T/m-full.tsv" "$T/m-resumed.tsv" || fail "resumed run differs from the uninterrupted one"
ok "interrupted training resumed by the next suite run, same metrics"

# ---------------------------------------------------------------- changed configuration
sed -i 's/^lr = 0.05$/lr = 0.06/' "$O2/runs/$ID/config.ini"
"$MIXGEO" suite status "$SUITE" --out "$O2" --only "$ID" > "$T/status6.txt"
grep -q "^stale  *$ID .*lr: 0.06 -> 0.05" "$T/status6.txt" || { fail "edited config.ini not seen as stale"; cat "$T/status6.txt"; }
"$MIXGEO" suite run "$SUITE" --out "$O2" --only "$ID" > "$T/run6.out" 2>&1; rc=$?
[ $rc -eq 0 ] || fail "rerun of a stale run: exit $rc"
grep -q '^lr = 0.05$' "$O2/runs/$ID/config.ini" || fail "the stale run was not trained again"
cmp -s "$T/m-full.tsv" "$(cut -f1-10 "$O2/runs/$ID/metrics.tsv" | grep -v '^#' > "$T/m-again.tsv"; echo "$T/m-again.tsv")" ||
    fail "retrained run differs"
ok "a run whose configuration changed is trained again"

# ---------------------------------------------------------------- a failing run
cat > "$T/fail.suite" <<'EOF'
[suite]
name = fail
[base]
n-per-class = 50
arch = 2-8-2
epochs = 1
# idx:no-such-dir passes the checks but cannot be loaded
[grid]
data = spiral | idx:no-such-dir | moons
EOF
OF=$T/out-fail
"$MIXGEO" suite run "$T/fail.suite" --out "$OF" -j 2 > "$T/fail.out" 2>&1; rc=$?
[ $rc -eq 1 ] || fail "suite with a failing run: exit $rc, expected 1"
"$MIXGEO" suite status "$T/fail.suite" --out "$OF" > "$T/fail-status.txt"
[ "$(count_state done "$T/fail-status.txt")" -eq 2 ] || { fail "the other runs did not finish"; cat "$T/fail-status.txt"; }
[ "$(count_state failed "$T/fail-status.txt")" -eq 1 ] || fail "the failing run is not recorded as failed"
FID=$(grep '^failed ' "$T/fail-status.txt" | awk '{ print $2 }')
grep -q "^failed  *$FID  *train exit 1: .*no-such-dir" "$T/fail-status.txt" || { fail "status lacks step, exit, message"; cat "$T/fail-status.txt"; }
grep -q '^status = exit 1$' "$OF/runs/$FID/FAILED" || fail "FAILED lacks the exit status"
grep -q 'no-such-dir' "$OF/runs/$FID/log.txt" || fail "log.txt lacks the error"
grep -q "$OF/runs/$FID/log.txt" "$T/fail.out" || fail "the runner did not name the log"
"$MIXGEO" suite run "$T/fail.suite" --out "$OF" --skip-failed > "$T/fail2.out" 2>&1; rc=$?
[ $rc -eq 1 ] || fail "--skip-failed: exit $rc, expected 1"
grep -q "start" "$T/fail2.out" && fail "--skip-failed started a run"
ok "a failing run is recorded (FAILED, log) and the others finish"

# ---------------------------------------------------------------- two runners at once
O3=$T/out3
"$MIXGEO" suite run "$SUITE" --out "$O3" -j 1 > "$T/conc1.out" 2>&1 &
p1=$!
"$MIXGEO" suite run "$SUITE" --out "$O3" -j 1 > "$T/conc2.out" 2>&1 &
p2=$!
wait $p1; rc1=$?
wait $p2; rc2=$?
[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] || { fail "two runners at once: exit $rc1 and $rc2"; cat "$T/conc1.out" "$T/conc2.out"; }
for id in $(cat "$T/ids1.txt"); do
    n=$(grep -c '^== ' "$O3/runs/$id/log.txt")
    [ "$n" -eq 1 ] || fail "two runners at once: $id was trained $n times"
done
ok "two runners on one suite share the runs (each trained once)"

# ---------------------------------------------------------------- report
"$MIXGEO" suite report "$SUITE" --out "$O" > "$T/report.out" 2>&1; rc=$?
[ $rc -eq 0 ] || { fail "suite report: exit $rc"; cat "$T/report.out"; }
for f in REPORT.md runs.tsv tables/accuracy.tsv tables/accuracy.md tables/accuracy.tex \
    tables/by-data.tsv figures/curves.tsv figures/curves.gp figures/bars.tsv figures/bars.gp; do
    [ -s "$O/$f" ] || fail "report: $f missing"
done
if command -v gnuplot > /dev/null 2>&1; then
    for f in curves.png curves.pdf bars.png bars.pdf; do [ -s "$O/figures/$f" ] || fail "report: figure $f missing"; done
    grep -aq '/CreationDate (D:19700101000000' "$O/figures/bars.pdf" ||
        fail "report: bars.pdf has no fixed creation date (a new one at every report)"
    # gnuplot.log holds the last report's renders only (it does not grow report after report)
    echo "stale line of an earlier report" >> "$O/figures/gnuplot.log"
    "$MIXGEO" suite report "$SUITE" --out "$O" -q > "$T/report1b.out" 2>&1 ||
        { fail "suite report (again): exit $?"; cat "$T/report1b.out"; }
    if grep -q '^stale line of an earlier report$' "$O/figures/gnuplot.log"; then
        fail "report: gnuplot.log keeps the output of an earlier report"
    fi
    # ... and a gnuplot.log that cannot be removed stops the report: exit 1, one line naming it
    rm -f "$O/figures/gnuplot.log"
    mkdir -p "$O/figures/gnuplot.log/x"
    "$MIXGEO" suite report "$SUITE" --out "$O" -q > "$T/report1c.out" 2>&1; rc=$?
    [ $rc -eq 1 ] && [ "$(wc -l < "$T/report1c.out")" -eq 1 ] && grep -q 'figures/gnuplot.log: ' "$T/report1c.out" ||
        { fail "report: an unremovable gnuplot.log does not give exit 1 and one line (exit $rc)"; cat "$T/report1c.out"; }
    rm -rf "$O/figures/gnuplot.log"
    # without gnuplot on the PATH nothing is rendered: the old figures and their log stay
    echo "log of the figures on disk" > "$O/figures/gnuplot.log"
    mkdir -p "$T/nogp"
    PATH="$T/nogp" "$MIXGEO" suite report "$SUITE" --out "$O" > "$T/report1d.out" 2>&1 ||
        { fail "suite report without gnuplot: exit $?"; cat "$T/report1d.out"; }
    grep -q 'not rendered: gnuplot is not on the PATH' "$T/report1d.out" ||
        { fail "report without gnuplot does not say the figures are not rendered"; cat "$T/report1d.out"; }
    grep -q '^log of the figures on disk$' "$O/figures/gnuplot.log" ||
        fail "report without gnuplot removed the log of the figures it did not render again"
fi
[ "$(grep -c '	done	' "$O/runs.tsv")" -eq 8 ] || fail "runs.tsv: expected 8 done runs"
# the last three columns: the training's thread counts, git revisions and
# OpenBLAS kernels (summary.json segments)
grep -q ' train_seconds threads git blas$' "$O/runs.tsv" || fail "runs.tsv: no threads, git and blas columns"
awk -F'\t' '!/^#/ && ($(NF - 2) !~ /^[0-9]+(,[0-9]+)*$/ || $(NF - 1) == "" || $NF !~ /^[A-Za-z0-9]+$/) { exit 1 }' "$O/runs.tsv" ||
    { fail "runs.tsv: a run without its thread count, git revision or kernels"; cat "$O/runs.tsv"; }
# Every cell of tables/accuracy.tsv (final and best test_acc, test_nll) against
# the runs' summary.json: mean, sample std and n over the 2 seeds.
for m in baseline manifold; do
    for d in spiral moons; do
        for key in test_acc test_nll; do
            vals=""
            for id in $(grep "	method=$m data=$d seed=" "$T/list1.txt" | cut -f1); do
                vals="$vals $(final_value "$O/runs/$id/summary.json" "$key")"
            done
            awk -v m="$m" -v d="$d" -v col="final.$key.mean" -v vals="$vals" '
                /^# columns:/ { for (i = 3; i <= NF; i++) if ($i == col) c = i - 2; next }
                /^#/ { next }
                $1 == m && $2 == d {
                    n = split(vals, v, " "); s = 0; for (i = 1; i <= n; i++) s += v[i]; mean = s / n
                    ss = 0; for (i = 1; i <= n; i++) ss += (v[i] - mean) ^ 2; sd = sqrt(ss / (n - 1))
                    if (n != 2 || $(c + 2) != n) { print "n " $(c + 2) " vs " n; exit 1 }
                    if ((mean - $c) ^ 2 > 1e-14 * (1 + mean ^ 2)) { print "mean " $c " vs " mean; exit 1 }
                    if ((sd - $(c + 1)) ^ 2 > 1e-14 * (1 + sd ^ 2)) { print "std " $(c + 1) " vs " sd; exit 1 }
                    found = 1 }
                END { if (!found) { print "row not found"; exit 1 } }' "$O/tables/accuracy.tsv" ||
                fail "tables/accuracy.tsv: $m $d final.$key does not match the summaries ($vals)"
        done
    done
done
grep -q '^| Manifold Mixup | spiral | [0-9.]* ± [0-9.]* |' "$O/tables/accuracy.md" || fail "accuracy.md row"
grep -q '\\pm' "$O/tables/accuracy.tex" || fail "accuracy.tex lacks \\pm"
grep -q 'title .Manifold Mixup' "$O/figures/curves.gp" || fail "curves.gp lacks the method legend"
[ "$(grep -c '^# group' "$O/figures/curves.tsv")" -eq 2 ] || fail "curves.tsv: expected 2 groups"
grep -q "^set key .* title 'shaded: ± 1 std over 2 seeds'\$" "$O/figures/curves.gp" ||
    fail "curves.gp: the key does not say what the band is"
grep -q "^set xlabel 'error bars: ± 1 std over 2 seeds'\$" "$O/figures/bars.gp" ||
    fail "bars.gp: the x label does not say what the error bars are"
# Long bar labels go on two lines ("Manifold Mixup, data=moons", 26
# characters, splits after "Mixup,").  Four bars of 15 characters stay level,
# and the x label moves a line down, below their second lines.
grep -qF "'Manifold Mixup,' . \"\\n\" . 'data=moons' 3)" "$O/figures/bars-all.gp" ||
    { fail "bars-all.gp: the long label is not on two lines"; grep xtics "$O/figures/bars-all.gp"; }
if grep -q '^set xtics rotate' "$O/figures/bars-all.gp"; then fail "bars-all.gp: labels that fit are rotated"; fi
grep -q '^set xlabel offset 0,-1$' "$O/figures/bars-all.gp" || fail "bars-all.gp: the x label overlaps the tics"
if grep -q '^set xtics (.*\\n' "$O/figures/bars.gp"; then fail "bars.gp: a short label was split"; fi
if grep -q '^set xlabel offset' "$O/figures/bars.gp"; then fail "bars.gp: the x label moved below one-line labels"; fi
[ "$(tail -n 1 "$O/figures/bars-all.tsv" | cut -f2)" = "Manifold Mixup, data=moons" ] ||
    fail "bars-all.tsv: the last bar is not 'Manifold Mixup, data=moons'"
if grep -q '^set rmargin' "$O/figures/bars.gp" "$O/figures/bars-all.gp"; then fail "level labels got a right margin"; fi
# A method label of 37 characters splits before its parenthesis.  Two bars
# stay level; four are rotated, with room on the right for the last one's
# longer line ("(S = {0,1,2}, alpha 2), data=moons": 34 characters, rmargin
# 0.72 x 34 + 1 = 25), and the x label stays where gnuplot puts it.
sed 's/^label = Manifold Mixup$/label = Manifold Mixup (S = {0,1,2}, alpha 2)/' "$SUITE" > "$T/long.suite"
"$MIXGEO" suite report "$T/long.suite" --out "$O" --no-render > "$T/long.out" 2>&1 ||
    { fail "report with a long method label: exit $?"; cat "$T/long.out"; }
grep -qF "set xtics ('No mixup' 0, 'Manifold Mixup' . \"\\n\" . '(S = {0,1,2}, alpha 2)' 1)" \
    "$O/figures/bars.gp" || { fail "long label: not split before '('"; grep xtics "$O/figures/bars.gp"; }
if grep -q '^set xtics rotate' "$O/figures/bars.gp"; then fail "long label: two level labels rotated"; fi
grep -q '^set xlabel offset 0,-1$' "$O/figures/bars.gp" || fail "long label: the x label overlaps the tics"
grep -q '^set xtics rotate by -25$' "$O/figures/bars-all.gp" || fail "long labels, 4 bars: not rotated"
grep -qF "'Manifold Mixup' . \"\\n\" . '(S = {0,1,2}, alpha 2), data=moons' 3)" "$O/figures/bars-all.gp" ||
    { fail "long labels, 4 bars: the last label is not on two lines"; grep xtics "$O/figures/bars-all.gp"; }
grep -q '^set rmargin 25$' "$O/figures/bars-all.gp" ||
    { fail "long labels, 4 bars: no room on the right for the last label"; grep margin "$O/figures/bars-all.gp"; }
if grep -q '^set xlabel offset' "$O/figures/bars-all.gp"; then fail "long labels, 4 bars: rotated, yet the x label moved"; fi
ok "report tables match the runs' summaries; figures written"

# A report over an unfinished suite says n and does not fail.
"$MIXGEO" suite report "$SUITE" --out "$O2" --no-render > "$T/report2.out" 2>&1; rc=$?
[ $rc -eq 0 ] || fail "report of a partial suite: exit $rc"
grep -q '(n=1)' "$O2/tables/accuracy.md" || fail "partial report does not show n=1"
# ... and its figures say how many runs their points have so far
grep -q "^set key .* title 'shaded: ± 1 std over 2 seeds; n = 1 so far'\$" "$O2/figures/curves.gp" ||
    { fail "partial report: curves.gp does not say n = 1 so far"; grep '^set key' "$O2/figures/curves.gp"; }

# ---------------------------------------------------------------- claims on constructed runs
# The 8 finished runs of $O get a file fake.json with chosen numbers; a copy
# of the tiny suite with [claim] sections (same grid, so the same runs) is
# reported and every verdict checked against the rule of suite.h.
fake() { # method data seed x y arr-v2
    id=$(grep "	method=$1 data=$2 seed=$3\$" "$T/list1.txt" | cut -f1)
    printf '{"x": %s, "y": %s, "z": 7, "arr": [{"k": 1, "v": 3}, {"k": 2, "v": %s}], "d.e": 9}\n' \
        "$4" "$5" "$6" > "$O/runs/$id/fake.json"
    printf '# columns: a b\n1\t0\n1\t1\n\n2\t1\n2\t0\n3\t0\n' > "$O/runs/$id/blocks.tsv"
}
# x: manifold clearly above baseline on spiral (2.1 vs 1.1, std 0.14), below on moons
fake baseline spiral 1 1.0 1.0 5; fake baseline spiral 2 1.2 1.2 5
fake manifold spiral 1 2.0 1.1 5; fake manifold spiral 2 2.2 1.3 5
fake baseline moons 1 2.0 1.0 5; fake baseline moons 2 2.2 1.2 5
fake manifold moons 1 1.0 1.1 5; fake manifold moons 2 1.2 1.3 5
# only.json: in the Manifold Mixup runs on spiral only (the baseline has no data)
for sd in 1 2; do
    id=$(grep "	method=manifold data=spiral seed=$sd\$" "$T/list1.txt" | cut -f1)
    echo '{"w": 1}' > "$O/runs/$id/only.json"
done
# close.json: means that differ in the 4th digit only (0.18851 vs 0.18879)
for m in manifold baseline; do
    for sd in 1 2; do
        id=$(grep "	method=$m data=spiral seed=$sd\$" "$T/list1.txt" | cut -f1)
        [ $m = manifold ] && c=0.18851 || c=0.18879
        echo "{\"c\": $c}" > "$O/runs/$id/close.json"
    done
done
# big.json: means above 1000 with a std above 100 (1254.3 +- 218.2 vs 1199.2 +- 0)
for m in manifold baseline; do
    for sd in 1 2; do
        id=$(grep "	method=$m data=spiral seed=$sd\$" "$T/list1.txt" | cut -f1)
        if [ $m = manifold ]; then [ $sd = 1 ] && c=1100 || c=1408.6; else c=1199.2; fi
        echo "{\"c\": $c}" > "$O/runs/$id/big.json"
    done
done
cp "$SUITE" "$T/claims.suite"
cat >> "$T/claims.suite" <<'END'

[figure seed1]
kind = curve
y = test_acc
group = method
where = data=spiral seed=1

[claim up-spiral]
text = x is larger with Manifold Mixup (spiral only)
metric = fake.json:x
expect = manifold > baseline
where = data=spiral
[claim down-spiral]
text = the opposite
metric = fake.json:x
expect = manifold < baseline
where = data=spiral
[claim cells]
text = x larger with Manifold Mixup on both data sets
metric = fake.json:x
expect = manifold > baseline
figure = curves
table = accuracy
[claim noisy]
text = y larger: a difference of 0.1 within 2 standard errors (0.28)
metric = fake.json:y
expect = manifold > baseline
where = data=spiral
[claim noise0]
text = the same with noise = 0
metric = fake.json:y
expect = manifold > baseline
noise = 0
where = data=spiral
[claim equal-tol]
text = y equal within 0.5
metric = fake.json:y
expect = manifold == baseline
tol = 0.5
where = data=spiral
[claim equal-tight]
text = y equal within 0.05: the noise straddles the tolerance
metric = fake.json:y
expect = manifold == baseline
tol = 0.05
where = data=spiral
[claim min-n]
text = as up-spiral with min-n 3
metric = fake.json:x
expect = manifold > baseline
min-n = 3
where = data=spiral
[claim chain]
text = a chain with a number
metric = fake.json:x
expect = baseline < manifold < 10
where = data=spiral
[claim chains]
text = two chains, the second false
metric = fake.json:x
expect = baseline < 10, manifold < 1
where = data=spiral
[claim each]
text = every group below 5
metric = fake.json:x
expect = * < 5
[claim each-fails]
text = every group above 1.5 fails for the baseline on spiral
metric = fake.json:x
expect = * > 1.5
[claim paths]
text = filters, globs, reducers, quoted keys and expressions
metric = fake.json:arr[k=2].v|first + fake.json:arr.*.v|mean * 10 - fake.json:"d.e" - fake.json:arr[k>@v]|count - 36
expect = * == 0
by = none
min-n = 1
[claim tsv]
text = the best test accuracy is the largest of metrics.tsv; blocks.tsv has 2 changes of b within blocks
metric = best.test_acc - metrics.tsv:test_acc|max + blocks.tsv:b|changes - 2 + blocks.tsv:a|last - 3
expect = * == 0
by = none
[claim nodata]
text = one side has no data, the other fewer runs than min-n
metric = only.json:w
expect = manifold > baseline
min-n = 3
where = data=spiral
[claim glob]
text = a where glob selects both data sets
metric = fake.json:z
expect = * == 7
where = data=s*,m*
[claim contrast]
text = the gap manifold - baseline of x is smaller on moons (-1) than on spiral (+1)
metric = fake.json:x
contrast = manifold - baseline
by = data
expect = moons < spiral < 2
[claim contrast-paired]
text = y: the gap is 0.1 on both data sets seed by seed (unpaired, the seed noise of 0.14 would hide it)
metric = fake.json:y
contrast = manifold - baseline
by = data
expect = spiral == moons, spiral == 0.1
tol = 1e-6
[claim close]
text = two means equal to 3 digits are told apart in the summary
metric = close.json:c
expect = manifold > baseline
where = data=spiral
[claim big]
text = numbers above 1000 read as whole numbers, not 1.25e+03
metric = big.json:c
expect = manifold > baseline
where = data=spiral
[claim contrast-nodata]
text = only.json exists for Manifold Mixup only: no pairs
metric = only.json:w
contrast = manifold - baseline
by = data
expect = spiral > 0
END
"$MIXGEO" suite report "$T/claims.suite" --out "$O" --no-render > "$T/claims.out" 2>&1; rc=$?
[ $rc -eq 0 ] || { fail "report with claims: exit $rc"; cat "$T/claims.out"; }
# where keeps one seed: the key counts it, and its points have every run they can have (no "so far")
grep -q "^set key .* title 'shaded: ± 1 std over 1 seed'\$" "$O/figures/seed1.gp" ||
    { fail "seed1.gp: the key does not count the one seed that where keeps (or says so far)"; grep '^set key' "$O/figures/seed1.gp"; }
verdict() { awk -F'\t' -v c="$1" '$1 == c { print $2 }' "$O/claims.tsv"; }
expect_verdict() {
    v=$(verdict "$1")
    [ "$v" = "$2" ] || fail "claim $1: verdict '$v', expected '$2'"
}
expect_verdict up-spiral holds
expect_verdict down-spiral "does not hold"
expect_verdict cells "does not hold"
expect_verdict noisy inconclusive
expect_verdict noise0 holds
expect_verdict equal-tol holds
expect_verdict equal-tight inconclusive
expect_verdict min-n inconclusive
expect_verdict chain holds
expect_verdict chains "does not hold"
expect_verdict each holds
expect_verdict each-fails "does not hold"
expect_verdict paths holds
expect_verdict tsv holds
expect_verdict glob holds
expect_verdict contrast holds
expect_verdict contrast-paired holds
expect_verdict contrast-nodata "no data"
expect_verdict close "does not hold"
grep -q '^| \[close\].* | Manifold Mixup 0.1885 < No mixup 0.1888 (expected >) |$' "$O/REPORT.md" ||
    fail "summary: means equal to 3 digits do not read 'Manifold Mixup 0.1885 < No mixup 0.1888'"
expect_verdict big inconclusive
grep -q '^| \[big\].* | Manifold Mixup 1254 ≈ No mixup 1199 (expected >) |$' "$O/REPORT.md" ||
    fail "summary: means above 1000 do not read 'Manifold Mixup 1254 ≈ No mixup 1199'"
grep -q '^- Manifold Mixup 1254 ± 218 > No mixup 1199 ± 0: difference 55.1, noise margin 309 → ' "$O/REPORT.md" ||
    fail "claim big: the check line does not print 1254 ± 218 and noise margin 309 as whole numbers"
grep -q '^| \[chain\].* | fake.json: x: No mixup 1.1 < Manifold Mixup 2.1 < 10 |$' "$O/REPORT.md" ||
    fail "summary: a claim with a number does not name its metric ('fake.json: x: No mixup 1.1 < ...')"
grep -q '^| \[contrast\].* | fake.json: x, Manifold Mixup − No mixup: data=moons -1 < data=spiral 1 < 2 |$' "$O/REPORT.md" ||
    fail "summary: a contrast claim does not read 'fake.json: x, Manifold Mixup − No mixup: data=moons -1 < ...'"
grep -q '^| data | fake.json: x, Manifold Mixup − No mixup (claim) |$' "$O/REPORT.md" ||
    fail "a contrast claim's table does not name the contrast"
grep -q '^- Manifold Mixup − No mixup, data=moons -1 ± [0-9.e-]* < data=spiral 1 ± [0-9.e-]*: difference -2, noise margin [0-9.e-]* → \*\*holds\*\*$' "$O/REPORT.md" ||
    fail "a contrast claim's check line lacks the paired differences"
grep -q '^| \[nodata\].* | Manifold Mixup 1 vs No mixup – (expected >) |$' "$O/REPORT.md" ||
    fail "summary: a claim without data does not read 'Manifold Mixup 1 vs No mixup – (expected >)'"
grep -q '^- Manifold Mixup 1 ± 0 > No mixup – → \*\*no data\*\* (no finished run with this value)$' "$O/REPORT.md" ||
    fail "claim nodata: the check line is not 'no data' with its reason alone"
awk -F'\t' '$1 == "cells" && ($3 != 1 || $4 != 1) { exit 1 }' "$O/claims.tsv" ||
    fail "claim cells: expected 1 cell holding and 1 failing"
grep -q '^### Claim up-spiral: holds' "$O/REPORT.md" || fail "REPORT.md lacks the claim section"
# the summary's Measured column shows the relation the data show
grep -q '^| \[up-spiral\].* | Manifold Mixup 2.1 > No mixup 1.1 |$' "$O/REPORT.md" ||
    fail "summary: a claim that holds does not read 'Manifold Mixup 2.1 > No mixup 1.1'"
grep -q '^| \[down-spiral\].* | Manifold Mixup 2.1 > No mixup 1.1 (expected <) |$' "$O/REPORT.md" ||
    fail "summary: a claim that does not hold does not show the measured relation and the expected one"
grep -q '^| \[noisy\].* ≈ .*(expected >) |$' "$O/REPORT.md" ||
    fail "summary: an inconclusive claim does not read '≈ ... (expected >)'"
grep -q '^| \[min-n\].* | \*\*inconclusive\*\* | Manifold Mixup 2.1 > No mixup 1.1 |$' "$O/REPORT.md" ||
    fail "summary: a claim inconclusive for want of runs does not show which way its means point"
grep -q '(figures/curves.png)' "$O/REPORT.md" || fail "REPORT.md lacks the claim's figure link"
grep -q 'Manifold Mixup 2.1 ± 0.14 > No mixup 1.1 ± 0.14: difference 1, noise margin 0.28' "$O/REPORT.md" ||
    fail "REPORT.md lacks the numbers of a check"
mkdir -p "$T/paper"
"$MIXGEO" suite report "$T/claims.suite" --out "$O" --no-render --combined "$T/paper/REPORT.md" > "$T/comb.out" 2>&1; rc=$?
[ $rc -eq 0 ] || { fail "--combined: exit $rc"; cat "$T/comb.out"; }
grep -q '^| \[up-spiral\](#claim-tiny-up-spiral) | \[tiny\](../out/REPORT.md) |' "$T/paper/REPORT.md" ||
    fail "combined report: no summary row with a relative link"
grep -q '(../out/figures/curves.png)' "$T/paper/REPORT.md" || fail "combined report: figure link not relative"
ok "claims: verdicts (noise, tolerance, min-n, chains, cells, each), paths, TSV reducers, combined report"

# ---------------------------------------------------------------- bad [claim] sections
bad_suite claim-key "$T/claim-key.suite:6: expekt: unknown key in [claim c]" <<'END'
[grid]
seed = 1 | 2
[claim c]
text = t
metric = final.test_acc
expekt = * < 1
END
bad_suite claim-group "$T/claim-group.suite:10: expect: 'manifld' is neither a value of the axis method" <<'END'
[method baseline]
mix = none
[method manifold]
mix = manifold
[grid]
method = baseline | manifold
[claim c]
text = t
metric = final.test_acc
expect = manifld > baseline
END
contrast_bad() { # name, contrast, by (or ""), extra line (or ""), expected text after FILE:13:
    # a two-method suite with one contrast claim, from a file (bad_suite counts in this shell)
    { printf '[method baseline]\nmix = none\n[method manifold]\nmix = manifold\n[grid]\n'
      printf 'method = baseline | manifold\ndata = spiral | moons\nseed = 1 | 2\n'
      printf '[claim c]\ntext = t\nmetric = final.test_acc\nexpect = * < 1\ncontrast = %s\n' "$2"
      [ -z "$3" ] || printf 'by = %s\n' "$3"
      [ -z "$4" ] || printf '%s\n' "$4"; } > "$T/$1.in"
    bad_suite "$1" "$T/$1.suite:13: contrast: $5" < "$T/$1.in"
}
contrast_bad claim-contrast 'manifold baseline' data '' 'expected A - B'
contrast_bad claim-contrast2 'manifold - manifold' data '' 'expected A - B'
contrast_bad claim-contrast-by 'manifold - baseline' '' '' "'method' is also the by axis"
contrast_bad claim-contrast-value 'manifold - mixup' data '' "'mixup' is not a value of the axis method"
contrast_bad claim-contrast-seed '1 - 2' data '' "neither '1' nor '2' is a value of an axis"
contrast_bad claim-contrast-where 'spiral - moons' method 'where = data=spiral' "'moons' is left out by where"
bad_metric() { # name, metric, expected text after "FILE:5: metric: 'METRIC': "
    # from a file, not a pipe: bad_suite must run in this shell to count its failures
    printf '[grid]\nseed = 1\n[claim c]\ntext = t\nmetric = %s\nexpect = * < 1\n' "$2" > "$T/$1.in"
    bad_suite "$1" "$T/$1.suite:5: metric: '$2': $3" < "$T/$1.in"
}
bad_metric claim-path-bracket 'a.json:x[' 'unbalanced [ ]'
bad_metric claim-path-quote 'a.json:"x.y' 'a quoted name is "NAME"'
bad_metric claim-path-filter 'a.json:x[k~1]' 'filter [k~1]: expected [FIELD OP VALUE]'
bad_suite claim-metric "$T/claim-metric.suite:3: [claim c]: metric missing" <<'END'
[grid]
seed = 1
[claim c]
text = t
expect = * < 1
END
bad_suite claim-reducer "$T/claim-reducer.suite:5: metric: 'a.json:x.*.y': the path can give several values" <<'END'
[grid]
seed = 1
[claim c]
text = t
metric = a.json:x.*.y
expect = * < 1
END
bad_suite claim-reducer2 "$T/claim-reducer2.suite:5: metric: 'a.json:x|median': unknown reducer" <<'END'
[grid]
seed = 1
[claim c]
text = t
metric = a.json:x|median
expect = * < 1
END
bad_suite claim-expect "$T/claim-expect.suite:6: expect: expected A OP B" <<'END'
[grid]
seed = 1
[claim c]
text = t
metric = final.test_acc
expect = * <
END
bad_suite claim-figure "$T/claim-figure.suite:7: figure: no [figure nope] in this suite" <<'END'
[grid]
seed = 1
[claim c]
text = t
metric = final.test_acc
expect = * < 1
figure = nope
END
bad_suite claim-where "$T/claim-where.suite:7: where: 'x*' is not a value of the axis seed" <<'END'
[grid]
seed = 1
[claim c]
text = t
metric = final.test_acc
expect = * < 1
where = seed=x*
END
bad_suite theory-key "$T/theory-key.suite:4: epochs: unknown key in [base] (expected a key of mixgeo theory" <<'END'
[suite]
command = theory
[base]
epochs = 3
[grid]
classes = 2 | 3
END
bad_suite theory-value "$T/theory-value.suite:4: dims: expected A-B" <<'END'
[suite]
command = theory
[base]
dims = 3-1
[grid]
classes = 2 | 3
END
ok "bad [claim] sections and theory keys: exit 2 with FILE:LINE: KEY"

# ---------------------------------------------------------------- a theory suite, a montage
cat > "$T/theory.suite" <<'END'
[suite]
name = th
command = theory
[base]
iters = 300
[grid]
classes = 2 | 3
[figure panels]
kind = montage
panels = theory-J.gp | theory-rank.gp | no-such.gp
[figure thr]
kind = sweep
x = classes
y = summary.json:threshold_dim
[figure thr-log]
kind = sweep
x = classes
y = summary.json:threshold_dim
logx = true
[claim below]
text = J below the threshold is positive (d = 3 only)
metric = summary.json:results[theorem1_applies=false].J_rel|min
expect = * > 0.01
by = classes
where = classes=3
min-n = 1
END
OT=$T/out-theory
"$MIXGEO" suite run "$T/theory.suite" --out "$OT" -j 2 > "$T/th.out" 2>&1; rc=$?
[ $rc -eq 0 ] || { fail "theory suite: exit $rc"; cat "$T/th.out"; }
"$MIXGEO" suite status "$T/theory.suite" --out "$OT" > "$T/th-status.txt"
[ "$(count_state done "$T/th-status.txt")" -eq 2 ] || { fail "theory suite: expected 2 done"; cat "$T/th-status.txt"; }
for id in $("$MIXGEO" suite list --ids "$T/theory.suite"); do
    [ -s "$OT/runs/$id/theory.tsv" ] || fail "theory run $id: no theory.tsv"
    grep -q '^\[theory\]' "$OT/runs/$id/config.ini" || fail "theory run $id: no config.ini record"
done
"$MIXGEO" suite run "$T/theory.suite" --out "$OT" > "$T/th2.out" 2>&1
grep -q "2 done, 0 to run" "$T/th2.out" || fail "theory suite: a rerun did not skip the done runs"
"$MIXGEO" suite report "$T/theory.suite" --out "$OT" > "$T/th-report.out" 2>&1; rc=$?
[ $rc -eq 0 ] || { fail "theory suite report: exit $rc"; cat "$T/th-report.out"; }
[ "$(awk -F'\t' '$1 == "below" { print $2 }' "$OT/claims.tsv")" = holds ] || fail "theory claim below does not hold"
[ "$(grep -c 'set multiplot layout 2,3' "$OT/figures/panels.gp")" -eq 1 ] || fail "montage: no 2 x 3 layout"
grep -q 'no no-such.gp' "$OT/figures/panels.tsv" || fail "montage: a missing panel is not recorded"
if command -v gnuplot > /dev/null 2>&1; then
    [ -s "$OT/figures/panels.png" ] || fail "montage: panels.png missing"
fi
# sweeps: the threshold dimension d - 1 against d, tics at the axis values and
# a range a little wider than them (linear: 6% of the span; log: a factor
# (max/min)^0.08)
printf '2\t1\t\n3\t2\t\n' > "$T/thr-want.txt"
grep -E '^[23]	' "$OT/figures/thr.tsv" | cut -f1-2 | sed 's/$/\t/' | cmp -s - "$T/thr-want.txt" ||
    { fail "sweep: thr.tsv does not hold (2, 1) and (3, 2)"; cat "$OT/figures/thr.tsv"; }
grep -q '^set xtics (2, 3)$' "$OT/figures/thr.gp" || fail "sweep: no tics at the axis values"
grep -q '^set xrange \[1.94:3.06\]$' "$OT/figures/thr.gp" || fail "sweep: linear x range not [1.94:3.06]"
want=$(awk 'BEGIN { f = 1.5 ^ 0.08; printf "set xrange [%.6f:%.6f]", 2 / f, 3 * f }')
got=$(awk '/^set xrange/ { gsub(/[][]/, " "); split($3, r, ":"); printf "set xrange [%.6f:%.6f]", r[1], r[2] }' "$OT/figures/thr-log.gp")
[ "$got" = "$want" ] || fail "sweep, logx: '$got', expected '$want'"
grep -q '^set logscale x$' "$OT/figures/thr-log.gp" || fail "sweep, logx: no log scale"
ok "theory suite (command = theory), montage of per-run scripts, sweeps"

if [ $fails -ne 0 ]; then
    echo "e2e_suite: $fails failure(s)"
    exit 1
fi
echo "e2e_suite: all passed"
