#!/bin/sh
# e2e_suite_states.sh - suites over saved activations (`[suite] command =
# states`, tests/states/states.suite): one run = one `mixgeo analyze --states`.
# The inputs are made here without Python: two 3-epoch spiral MLPs (with and
# without Manifold Mixup) dumped at layer 2 with their labels, logits and
# readout (`mixgeo dump --readout --logits`).  Checked:
#   - grid expansion (2 methods x 2 seeds) with ids that do not depend on the
#     current directory; `suite run -j 2`, all done; each run's analysis equals
#     a direct `mixgeo analyze --states` with the same options; a rerun does
#     nothing and touches no file;
#   - `suite report`: a table with a spectra metric (the short form PATH and
#     analysis/states/summary.json:PATH) matching the runs' summaries,
#     runs.tsv, and claims evaluated over the two methods;
#   - an input touched or rewritten makes exactly its runs stale and the next
#     `suite run` analyses them again (with the new content); an input that
#     is gone leaves finished runs done;
#   - bad suite files (a train key, an option of runs only, an [analyze]
#     section, states or labels missing, an analysis the inputs cannot give,
#     a metrics.tsv column) exit 2 with FILE:LINE: KEY before anything runs;
#   - a missing states file fails its run (FAILED, log.txt) while the other
#     run finishes.
# Uses $MIXGEO (default build/mixgeo); run from anywhere.  POSIX sh.
NAME=e2e_suite_states
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case ${MIXGEO:-} in
"") MIXGEO=$ROOT/build/mixgeo ;;
/*) ;;
*) MIXGEO=$PWD/$MIXGEO ;;
esac
. "$ROOT/tests/lib.sh"
export OPENBLAS_NUM_THREADS=1
unset MIXGEO_STOP_AFTER_STEPS MIXGEO_SUITE_ABORT_AFTER
SUITE=$ROOT/tests/states/states.suite
# the suite's paths (acts/...) are relative to the current directory
cd "$T" || die "cannot cd to $T"

ok() { echo "ok: $*"; }
# suite status lines "STATE ID ..." -> count of STATE
count_state() { grep -c "^$1 " "$2"; }
# The first number after "KEY": in the object "OBJ": of a pretty-printed JSON file.
json_num() { # file obj key
    awk -v o="\"$2\":" -v k="\"$3\":" '$1 == o { in_o = 1 } in_o && $1 == k { v = $2; sub(/,$/, "", v); print v; exit }' "$1"
}
# The TSV rows of a file without its comment lines.
rows() { grep -v '^#' "$1"; }

"$MIXGEO" suite --help > "$T/help.txt" 2>&1 || die "$MIXGEO has no suite command"
grep -q 'command = train|theory|states' "$T/help.txt" || fail "suite --help does not mention command = states"

# ---------------------------------------------------------------- inputs
mkdir acts || die "mkdir"
for m in none manifold; do
    "$MIXGEO" train -q --data spiral --arch 2-16-16-2 --epochs 3 --out "r-$m" --mix "$m" ||
        die "train --mix $m"
    "$MIXGEO" dump -q "r-$m" --layer 2 --readout --logits "acts/$m-logits.npy" --out "acts/$m.npy" ||
        die "dump of the $m run"
    for f in "$m" "$m-labels" "$m-logits" "$m-W" "$m-b"; do
        [ -s "acts/$f.npy" ] || die "dump did not write acts/$f.npy"
    done
done

# ---------------------------------------------------------------- grid and ids
"$MIXGEO" suite list "$SUITE" > list.txt; rc=$?
[ $rc -eq 0 ] || { fail "suite list: exit $rc"; cat list.txt; }
[ "$(wc -l < list.txt)" -eq 4 ] || fail "grid: expected 4 runs, got $(wc -l < list.txt)"
for m in none manifold; do
    for s in 1 2; do
        [ "$(grep -c "	method=$m seed=$s\$" list.txt)" -eq 1 ] || fail "grid: method=$m seed=$s"
    done
done
cut -f1 list.txt > ids.txt
(cd / && "$MIXGEO" suite list --ids "$SUITE") > ids-root.txt
cmp -s ids.txt ids-root.txt || fail "ids depend on the current directory"
# another path is another run: only that method's ids change
sed 's|^states = acts/manifold.npy$|states = acts/other.npy|' "$SUITE" > other.suite
grep -q '^states = acts/other.npy$' other.suite || die "test setup: states line of manifold not found"
"$MIXGEO" suite list --ids other.suite > ids-other.txt
[ "$(grep -Fxf ids.txt ids-other.txt | grep -c '^none_')" -eq 2 ] &&
    [ "$(grep -Fxf ids.txt ids-other.txt | wc -l)" -eq 2 ] ||
    fail "a changed states path must change exactly the ids of its runs"
ok "grid expansion, ids from the keys (paths as written)"

# ---------------------------------------------------------------- run, status, rerun
O=$T/out
"$MIXGEO" suite run "$SUITE" --out "$O" -j 2 > run1.out 2>&1; rc=$?
[ $rc -eq 0 ] || { fail "suite run -j 2: exit $rc"; cat run1.out; }
"$MIXGEO" suite status "$SUITE" --out "$O" > status1.txt
[ "$(count_state done status1.txt)" -eq 4 ] || { fail "expected 4 done"; cat status1.txt; }
for id in $(cat ids.txt); do
    R=$O/runs/$id
    [ -s "$R/analysis/states/summary.json" ] || fail "$id: no analysis/states/summary.json"
    [ -f "$R/DONE" ] && [ -f "$R/steps/states.done" ] || fail "$id: no DONE or steps/states.done"
    grep -q '^\[analyze\]' "$R/config.ini" || fail "$id: config.ini is not the record of analyze"
    [ "$(rows "$R/inputs.tsv" | cut -f1 | tr '\n' ' ')" = "states labels logits readout_W readout_b " ] ||
        fail "$id: inputs.tsv roles: $(rows "$R/inputs.tsv" | cut -f1 | tr '\n' ' ')"
    grep -q '^== .* analyze --states acts/' "$R/log.txt" || fail "$id: log.txt lacks the analyze line"
done
# the suite's analysis is `mixgeo analyze --states` with the run's keys
ID=$(grep '	method=manifold seed=2$' list.txt | cut -f1)
"$MIXGEO" analyze -q --states acts/manifold.npy --labels acts/manifold-labels.npy \
    --logits acts/manifold-logits.npy --readout acts/manifold-W.npy,acts/manifold-b.npy \
    --only spectra,corollary,theory,calibration,collapse --max-per-class all --seed 2 --out direct ||
    fail "direct analyze --states"
for f in spectra-summary.tsv theory-mixup.tsv reliability.tsv; do
    rows "direct/$f" > a.tsv
    rows "$O/runs/$ID/analysis/states/$f" > b.tsv
    [ -s a.tsv ] && cmp -s a.tsv b.tsv || fail "$f of run $ID differs from a direct analyze --states"
done
sleep 1
touch stamp
"$MIXGEO" suite run "$SUITE" --out "$O" -j 2 > run2.out 2>&1; rc=$?
[ $rc -eq 0 ] || fail "rerun: exit $rc"
grep -q "4 done, 0 to run" run2.out && grep -q "nothing to do" run2.out ||
    { fail "rerun did not report 4 done, nothing to do"; cat run2.out; }
[ -z "$(find "$O/runs" -newer stamp -type f)" ] || fail "a file changed although every run was done"
ok "suite run -j 2: 4 done, each the analysis of a direct analyze --states; a rerun does nothing"

# ---------------------------------------------------------------- report
"$MIXGEO" suite report "$SUITE" --out "$O" --no-render > report.out 2>&1; rc=$?
[ $rc -eq 0 ] || { fail "suite report: exit $rc"; cat report.out; }
for f in REPORT.md runs.tsv claims.tsv tables/geometry.tsv tables/geometry.md figures/rest.tsv figures/rest.gp; do
    [ -s "$O/$f" ] || fail "report: $f missing"
done
[ "$(grep -c '	done	' "$O/runs.tsv")" -eq 4 ] || fail "runs.tsv: expected 4 done runs"
awk -F'\t' '!/^#/ && ($5 != 2000 || $6 != 16 || $7 != 2) { exit 1 }' "$O/runs.tsv" ||
    fail "runs.tsv: n dim classes are not 2000 16 2"
# the table's mean of spectra.mean_centred.rest (the short form) per method
# against the runs' summaries (the seed changes only sampled pairs: same value)
for m in none manifold; do
    id=$(grep "	method=$m seed=1\$" list.txt | cut -f1)
    want=$(json_num "$O/runs/$id/analysis/states/summary.json" mean_centred rest)
    awk -v m="$m" -v want="$want" '
        /^# columns:/ { for (i = 3; i <= NF; i++) if ($i == "spectra.mean_centred.rest.mean") c = i - 2; next }
        /^#/ { next }
        $1 == m { if (!c || (want - $c) ^ 2 > 1e-14 * (1 + want ^ 2) || $(c + 2) != 2) exit 1; found = 1 }
        END { if (!found) exit 1 }' "$O/tables/geometry.tsv" ||
        fail "tables/geometry.tsv: $m spectra.mean_centred.rest is not $want (n=2)"
done
grep -q 'analysis/states/summary.json:calibration.ece.mean' "$O/tables/geometry.tsv" ||
    fail "tables/geometry.tsv lacks the FILE:PATH column"
grep -q '^| Manifold Mixup | [0-9.]* ± [0-9.]* |' "$O/tables/geometry.md" || fail "geometry.md row"
verdict() { awk -F'\t' -v c="$1" '$1 == c { print $2 }' "$O/claims.tsv"; }
[ "$(verdict examples)" = holds ] || fail "claim examples: '$(verdict examples)', expected holds"
[ "$(verdict rest)" = holds ] || fail "claim rest: '$(verdict rest)', expected holds"
grep -q '^### Claim examples: holds' "$O/REPORT.md" || fail "REPORT.md lacks the claim section"
grep -q 'Manifold Mixup 2000 ± 0 == No mixup 2000 ± 0' "$O/REPORT.md" ||
    fail "REPORT.md: the claim is not evaluated over the two methods"
ok "report: table of a spectra metric matching the summaries, runs.tsv, claims over the two methods"

# ---------------------------------------------------------------- changed inputs
MM1=$(grep '	method=manifold seed=1$' list.txt | cut -f1)
NO1=$(grep '	method=none seed=1$' list.txt | cut -f1)
touch acts/manifold.npy
"$MIXGEO" suite status "$SUITE" --out "$O" > status2.txt
[ "$(count_state stale status2.txt)" -eq 2 ] && [ "$(count_state done status2.txt)" -eq 2 ] ||
    { fail "touched input: expected 2 stale, 2 done"; cat status2.txt; }
grep -q "^stale  *$MM1  *input changed: states acts/manifold.npy (modified" status2.txt ||
    { fail "touched input: the detail does not name the file"; cat status2.txt; }
grep -q '^stale  *none_' status2.txt && fail "touching a manifold input made a none run stale"
# rewritten with other content (the none states, the same size): analysed again
cp acts/none.npy acts/manifold.npy
"$MIXGEO" suite run "$SUITE" --out "$O" -j 2 > run3.out 2>&1; rc=$?
[ $rc -eq 0 ] || { fail "run after a changed input: exit $rc"; cat run3.out; }
[ "$(grep -c '^restart  *manifold_.*input changed' run3.out)" -eq 2 ] ||
    { fail "the 2 manifold runs were not restarted"; cat run3.out; }
grep -q '^start  *none_' run3.out && fail "a none run was started again"
[ "$(grep -c '^== ' "$O/runs/$NO1/log.txt")" -eq 1 ] || fail "the none run was analysed twice"
[ "$(grep -c '^== ' "$O/runs/$MM1/log.txt")" -eq 2 ] || fail "the manifold run was not analysed again"
"$MIXGEO" suite status "$SUITE" --out "$O" > status3.txt
[ "$(count_state done status3.txt)" -eq 4 ] || { fail "after the rerun: expected 4 done"; cat status3.txt; }
[ "$(json_num "$O/runs/$MM1/analysis/states/summary.json" mean_centred rest)" = \
    "$(json_num "$O/runs/$NO1/analysis/states/summary.json" mean_centred rest)" ] ||
    fail "the re-analysed run does not see the new content of its states file"
# an input that is gone leaves the results (done, with a note)
mv acts/none-W.npy acts/none-W.away
"$MIXGEO" suite status "$SUITE" --out "$O" > status4.txt
[ "$(count_state done status4.txt)" -eq 4 ] || { fail "an input gone changed the state"; cat status4.txt; }
grep -q "^done  *$NO1  *input gone: readout_W acts/none-W.npy" status4.txt ||
    { fail "status does not say that the input is gone"; cat status4.txt; }
mv acts/none-W.away acts/none-W.npy
ok "a touched or rewritten input makes its runs stale and they are analysed again; a gone one keeps them"

# ---------------------------------------------------------------- bad suite files
bad_suite() { # name, expected text, file contents on stdin
    cat > "$T/$1.suite"
    "$MIXGEO" suite run "$T/$1.suite" --out "$T/bad-out" > "$T/$1.out" 2>&1; rc=$?
    [ $rc -eq 2 ] || fail "$1: exit $rc, expected 2"
    grep -qF "$2" "$T/$1.out" || { fail "$1: no '$2' in:"; cat "$T/$1.out"; }
    [ -e "$T/bad-out" ] && fail "$1: the output directory was created"
}
bad_suite train-key "$T/train-key.suite:6: arch: a key of mixgeo train, not of a states suite" <<'EOF'
[suite]
command = states
[base]
states = acts/none.npy
labels = acts/none-labels.npy
arch = 2-16-16-2
[grid]
seed = 1 | 2
EOF
bad_suite run-only "$T/run-only.suite:7: split: not for a states suite" <<'EOF'
[suite]
command = states
[method a]
states = acts/none.npy
labels = acts/none-labels.npy
[method b]
split = test
[grid]
method = a | b
EOF
bad_suite analyze-section "$T/analyze-section.suite:8: [analyze]: a states suite has no layers" <<'EOF'
[suite]
command = states
[base]
states = acts/none.npy
labels = acts/none-labels.npy
[grid]
seed = 1 | 2
[analyze]
layers = 1
EOF
bad_suite no-labels "$T/no-labels.suite:2: labels: missing" <<'EOF'
[suite]
command = states
[grid]
states = acts/none.npy | acts/manifold.npy
EOF
bad_suite only-model "$T/only-model.suite:6: only: fgsm needs the network" <<'EOF'
[suite]
command = states
[base]
states = acts/none.npy
labels = acts/none-labels.npy
only = spectra, fgsm
[grid]
seed = 1
EOF
bad_suite only-readout "$T/only-readout.suite:8: only: collapse needs the readout" <<'EOF'
[suite]
command = states
[base]
states = acts/none.npy
labels = acts/none-labels.npy
[grid]
seed = 1
only = spectra | collapse
EOF
bad_suite metric-column "$T/metric-column.suite:9: metrics: 'test_acc': a states run has no metrics.tsv" <<'EOF'
[suite]
command = states
[base]
states = acts/none.npy
labels = acts/none-labels.npy
[grid]
seed = 1
[table t]
metrics = test_acc
EOF
ok "bad states suites: exit 2 with FILE:LINE: KEY, nothing run"

# ---------------------------------------------------------------- a missing states file
cat > fail.suite <<'EOF'
[suite]
name = states-fail
command = states
[base]
labels = acts/none-labels.npy
only = spectra
[method good]
states = acts/none.npy
[method gone]
states = acts/no-such-states.npy
[grid]
method = good | gone
EOF
OF=$T/out-fail
"$MIXGEO" suite run fail.suite --out "$OF" -j 2 > fail.out 2>&1; rc=$?
[ $rc -eq 1 ] || { fail "suite with a missing states file: exit $rc, expected 1"; cat fail.out; }
"$MIXGEO" suite status fail.suite --out "$OF" > fail-status.txt
[ "$(count_state done fail-status.txt)" -eq 1 ] && [ "$(count_state failed fail-status.txt)" -eq 1 ] ||
    { fail "expected 1 done, 1 failed"; cat fail-status.txt; }
FID=$(grep '^failed ' fail-status.txt | awk '{ print $2 }')
case $FID in gone-*) ;; *) fail "the failed run is $FID, not the gone one" ;; esac
grep -q "^failed  *$FID  *states exit [12]: .*no-such-states.npy" fail-status.txt ||
    { fail "status lacks step, exit, message"; cat fail-status.txt; }
grep -q '^step = states$' "$OF/runs/$FID/FAILED" || fail "FAILED lacks the step"
grep -q 'no-such-states.npy' "$OF/runs/$FID/log.txt" || fail "log.txt lacks the error"
grep -q "$OF/runs/$FID/log.txt" fail.out || fail "the runner did not name the log"
ok "a missing states file fails its run (FAILED, log.txt), the other finishes"

if [ "$fails" -ne 0 ]; then
    echo "$NAME: $fails failure(s)"
    exit 1
fi
echo "$NAME: all passed"
