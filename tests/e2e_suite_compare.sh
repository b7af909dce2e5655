#!/bin/sh
# e2e_suite_compare.sh - [compare NAME] sections of suites: each run compared
# (mixgeo compare, CKA) with another run of the grid, on a tiny suite (spiral,
# 2 epochs, no mixup / Manifold Mixup x 2 seeds; seconds).  Checked:
#   - `suite run -j 2`: every run done; the compare files exist where they
#     should (against = method=none, every layer pair, self = seed: the first
#     no-mixup seed against the second; against = seed=1, layers 1,2: seed 2
#     of each method) and equal a direct `mixgeo compare` of the same runs
#     (every pair, and RUN:K REF:K merged over a layer list);
#   - -j 1: a run whose reference is not trained yet is deferred and finished
#     after it; --only a run without its reference: the run is left partial
#     ("waits"), exit 1, and a later run finishes it; --compare-only runs only
#     the compare steps (what suite submit's finish job does); submit
#     --dry-run names the finish job and puts the references first;
#   - `suite report`: a claim on a compare metric evaluates, a table reads a
#     JSON filter, the heat-map figure script is written (`with image`, one
#     panel per method) and renders when gnuplot is installed;
#   - a changed [compare] section re-runs only its compare steps (no training,
#     no analysis, not the other section); a changed reference (its preset)
#     re-runs the comparisons with it; self = skip removes the comparison of
#     a run that became its own reference;
#   - bad [compare] sections (an unknown axis in against, an against that
#     selects no run, layers outside 0..L, an unknown key, against missing,
#     a bad self, runs that see different examples, a heat map of an unknown
#     comparison) exit 2 with FILE:LINE before anything runs.
# Uses $MIXGEO (default build/mixgeo); run from anywhere.  POSIX sh.
NAME=e2e_suite_compare
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case ${MIXGEO:-} in
"") MIXGEO=$ROOT/build/mixgeo ;;
/*) ;;
*) MIXGEO=$PWD/$MIXGEO ;;
esac
. "$ROOT/tests/lib.sh"
export OPENBLAS_NUM_THREADS=1
unset MIXGEO_STOP_AFTER_STEPS MIXGEO_SUITE_ABORT_AFTER
cd "$T" || die "cannot cd to $T"

# ok TEXT: "ok: TEXT" if no check failed since the last ok
seen=0
ok() {
    [ "$fails" -eq "$seen" ] && echo "ok: $*"
    seen=$fails
}
# The TSV rows of a file without its comment lines.
rows() { grep -v '^#' "$1"; }
# The log headers of a run that start a given command (train, analyze, compare).
steps_run() { grep -c "^== [^ ]* mixgeo $2" "$1/log.txt"; }

"$MIXGEO" compare --help > /dev/null 2>&1 || die "$MIXGEO has no compare command"

cat > cmp.suite <<'EOF'
[suite]
name = cmp
description = Two methods x two seeds on the spiral; comparisons with the baseline and across seeds.

[base]
data = spiral
data-seed = 3
n-per-class = 100
n-test-per-class = 100
arch = 2-16-16-2
epochs = 2
batch = 50
lr = 0.05

[method none]
label = No mixup
mix = none

[method manifold]
label = Manifold Mixup
mix = manifold
mix-layers = 0,1,2
alpha = 2

[grid]
method = none | manifold
seed = 1 | 2

[analyze]
layers = 1
only = spectra

[compare base]
against = method=none
layers = all
self = seed

[compare seeds]
against = seed=1
layers = 1, 2

[table cka]
metrics = compare/base/summary.json:cka.pairs[layer_a=1][layer_b=1].linear|first, compare/seeds/summary.json:cka.pairs[layer_a=2].debiased|first, compare/base/cka.tsv:cka|mean
rows = method

[figure heat]
kind = heatmap
file = compare/base/cka.tsv
group = method
zrange = 0.5:*

[figure heat-seeds]
kind = heatmap
file = compare/seeds/cka.tsv
z = cka_debiased
digits = 3
zrange =  [ 0 : 1 ]

[claim differs]
text = Manifold Mixup changes layer 1.
metric = compare/base/summary.json:cka.pairs[layer_a=1][layer_b=1].linear|first
expect = manifold < 1.01
min-n = 1
figure = heat
EOF

"$MIXGEO" suite list cmp.suite > list.txt || die "suite list"
[ "$(wc -l < list.txt)" -eq 4 ] || die "expected 4 runs: $(cat list.txt)"
run_id() { grep "	method=$1 seed=$2\$" list.txt | cut -f1; }
N1=$(run_id none 1) N2=$(run_id none 2) M1=$(run_id manifold 1) M2=$(run_id manifold 2)

# ---------------------------------------------------------------- run, files, equality
"$MIXGEO" suite run cmp.suite -j 2 --out out > run.txt 2>&1; rc=$?
[ $rc -eq 0 ] || { fail "suite run -j 2: exit $rc"; cat run.txt; }
"$MIXGEO" suite status cmp.suite --out out > status.txt 2>&1
grep -q '4 runs: 4 done' status.txt || { fail "not every run done"; cat status.txt; }
R=out/runs
# base: every run but the second no-mixup seed (self = seed, two seeds: one pair)
for r in $N1 $M1 $M2; do
    for f in cka.tsv summary.json; do
        [ -s "$R/$r/compare/base/$f" ] || fail "$r: no compare/base/$f"
    done
done
[ -e "$R/$N2/compare/base" ] && fail "$N2 compared with itself (self = seed, 2 seeds: only the first)"
# seeds: seed 2 of each method, merged over layers 1 and 2
for r in $N2 $M2; do
    [ "$(rows "$R/$r/compare/seeds/cka.tsv" | cut -f1,2 | tr '\t\n' ':,')" = "1:1,2:2," ] ||
        fail "$r: compare/seeds/cka.tsv does not hold the pairs 1:1 and 2:2"
    grep -q '"layers":	\[1, 2\]' "$R/$r/compare/seeds/summary.json" || fail "$r: merged summary.json without layers"
done
for r in $N1 $M1; do [ -e "$R/$r/compare/seeds" ] && fail "$r compared with itself (against = seed=1)"; done
# equal to a direct mixgeo compare of the same runs
"$MIXGEO" compare -q "$R/$M2" "$R/$N2" --all-layers --out direct > /dev/null || fail "direct compare"
rows direct/cka.tsv > d.rows
rows "$R/$M2/compare/base/cka.tsv" > s.rows
[ "$(wc -l < d.rows)" -ge 16 ] && cmp -s d.rows s.rows || fail "compare/base/cka.tsv of $M2 differs from mixgeo compare --all-layers"
"$MIXGEO" compare -q "$R/$N1" "$R/$N2" --all-layers --out direct-n > /dev/null || fail "direct compare of the seeds"
rows direct-n/cka.tsv > dn.rows
rows "$R/$N1/compare/base/cka.tsv" | cmp -s dn.rows - ||
    fail "the noise-floor comparison of $N1 differs from mixgeo compare $N1 $N2"
for k in 1 2; do
    "$MIXGEO" compare -q "$R/$M2:$k" "$R/$M1:$k" --out "direct-$k" > /dev/null || fail "direct compare :$k"
    rows "direct-$k/cka.tsv" >> dk.rows
done
rows "$R/$M2/compare/seeds/cka.tsv" | cmp -s dk.rows - || fail "compare/seeds of $M2 differs from mixgeo compare RUN:K REF:K"
grep -q "reference = $N2" "$R/$M2/steps/compare-base.done" || fail "the marker does not name the reference"
ok "suite run: compare files of every run that has a reference, equal to mixgeo compare"

# ---------------------------------------------------------------- ordering
"$MIXGEO" suite run cmp.suite -j 1 --out out-j1 > j1.txt 2>&1; rc=$?
[ $rc -eq 0 ] || { fail "suite run -j 1: exit $rc"; cat j1.txt; }
grep -q "^defer    $N1: compare-base waits for $N2" j1.txt || { fail "-j 1: $N1 not deferred until $N2 trained"; cat j1.txt; }
"$MIXGEO" suite status cmp.suite --out out-j1 | grep -q '4 runs: 4 done' || fail "-j 1: not every run done"
rows out-j1/runs/$M2/compare/base/cka.tsv | cmp -s s.rows - || fail "-j 1: another result than -j 2"
# the references start first (none, then seed 1 of manifold)
grep '^start ' j1.txt | awk '!seen[$2]++ { print $2 }' | head -3 | tr '\n' ' ' > first.txt
[ "$(cat first.txt)" = "$N1 $N2 $M1 " ] || fail "-j 1: the references do not start first: $(cat first.txt)"
# ... and the deferred run is taken up as soon as its reference has trained
[ "$(grep '^start ' j1.txt | sed -n 3p | cut -c10-)" = "$N1 (comparisons)" ] ||
    fail "-j 1: $N1 not taken up right after $N2 trained"
# --only a run whose references are not trained: partial, exit 1
"$MIXGEO" suite run cmp.suite --out out-only --only "$M2" > only.txt 2>&1; rc=$?
[ $rc -eq 1 ] || fail "--only $M2 without its references: exit $rc, expected 1"
grep -q "^blocked  $M2: compare-base waits: $N2 is not trained yet" only.txt || { fail "no blocked line"; cat only.txt; }
"$MIXGEO" suite status cmp.suite --out out-only > only-status.txt
grep -q "^partial  $M2  trained; compare-base waits: $N2 is not trained yet" only-status.txt ||
    { fail "status of a run waiting for its reference"; cat only-status.txt; }
# its references trained by --only (they wait for theirs: exit 1) ...
"$MIXGEO" suite run cmp.suite --out out-only --only "$N2,$M1" > only2.txt 2>&1; rc=$?
[ $rc -eq 1 ] || fail "--only the references: exit $rc, expected 1 (they wait for $N1)"
"$MIXGEO" suite status cmp.suite --out out-only | grep -q "^partial  $M2  trained; next compare-base" ||
    fail "$M2 should wait for the next suite run with its references trained"
# ... until --compare-only (the finish job) runs its comparisons and nothing else
"$MIXGEO" suite run cmp.suite --out out-only --compare-only > co.txt 2>&1; rc=$?
grep -q "^start    $M2 (comparisons)" co.txt || { fail "--compare-only did not compare $M2"; cat co.txt; }
grep -q "^leave    $N1: train first (--compare-only)" co.txt || fail "--compare-only must leave the untrained $N1 alone"
[ -e "out-only/runs/$N1" ] && fail "--compare-only created $N1"
"$MIXGEO" suite status cmp.suite --out out-only > co-status.txt
grep -q "^done     $M2" co-status.txt || fail "--compare-only: $M2 not done"
[ "$(steps_run "out-only/runs/$M2" train)" -eq 1 ] || fail "--compare-only trained $M2 again"
"$MIXGEO" suite status cmp.suite --compare-only > /dev/null 2>&1 && fail "--compare-only accepted by suite status"
ok "ordering: references first, deferred runs, partial runs without their references, --compare-only"

# ---------------------------------------------------------------- Slurm dry run
"$MIXGEO" suite submit cmp.suite --out out-sub --time 10 --dry-run > sub.txt 2>&1 || { fail "submit --dry-run"; cat sub.txt; }
grep -q "finish  a job with --dependency=afterany:JOBID running mixgeo suite run --compare-only" sub.txt ||
    { fail "submit --dry-run does not name the finish job"; cat sub.txt; }
rows out-sub/slurm/dry-run/tasks.tsv | cut -f2 | head -3 | tr '\n' ' ' > sub-order.txt
[ "$(cat sub-order.txt)" = "$N1 $N2 $M1 " ] || fail "submit: the references are not first in tasks.tsv: $(cat sub-order.txt)"
ok "suite submit --dry-run: the finish job, references first"

# ---------------------------------------------------------------- report
"$MIXGEO" suite report cmp.suite --out out > report.txt 2>&1 || { fail "suite report"; cat report.txt; }
grep -q "^differs	" out/claims.tsv || fail "claims.tsv has no claim differs"
grep "^differs	" out/claims.tsv | grep -q "without data" && fail "the claim on a compare metric has no data"
grep -q "^| Manifold Mixup | 0\.[0-9]* ± " out/tables/cka.md || { fail "table cka: no Manifold Mixup value"; cat out/tables/cka.md; }
g=out/figures/heat.gp
[ -s "$g" ] || fail "no heat-map script"
[ "$(grep -c 'with image' "$g")" -eq 2 ] || fail "heat map: expected one 'with image' panel per method"
grep -q "set multiplot layout 1,2" "$g" || fail "heat map: not one panel per method"
grep -q "gp_style_text\|set border 3" "$g" || fail "heat map without the house style"
[ "$(rows out/figures/heat.tsv | grep -c .)" -eq 32 ] || fail "heat map data: expected 2 x 16 cells"
grep -q 'boxxyerror\|with image' out/figures/heat-seeds.gp || fail "no seeds heat map"
grep -q '^set cbrange \[0\.5:\*\]$' "$g" || fail "heat map: zrange 0.5:* is not the colour range"
grep -q '^set cbrange \[0:1\]$' out/figures/heat-seeds.gp || fail "heat map: zrange [ 0 : 1 ] is not the colour range"
if command -v gnuplot > /dev/null 2>&1; then
    for f in heat heat-seeds; do
        [ -s "out/figures/$f.png" ] && [ -s "out/figures/$f.pdf" ] || fail "gnuplot did not render $f"
    done
fi
ok "report: a claim on a compare metric, a table, heat maps"

# ---------------------------------------------------------------- changed sections
marks() { for r in $N1 $N2 $M1 $M2; do echo "$(steps_run "$R/$r" train) $(steps_run "$R/$r" analyze) $(steps_run "$R/$r" compare)"; done; }
marks > before.txt
sed 's/^layers = 1, 2$/layers = 1, 2\nmax-per-class = 50/' cmp.suite > cmp2.suite
grep -q '^max-per-class = 50$' cmp2.suite || die "test setup: cmp2.suite"
"$MIXGEO" suite status cmp2.suite --out out > st2.txt
[ "$(grep -c '^partial ' st2.txt)" -eq 4 ] || { fail "a changed [compare] must make the runs partial"; cat st2.txt; }
grep -q "^partial  $M2  trained; \[analyze\] or \[compare\] changed: next compare-seeds-L1" st2.txt || fail "status: next step"
"$MIXGEO" suite run cmp2.suite --out out > run2.txt 2>&1 || { fail "run after a changed [compare]"; cat run2.txt; }
marks > after.txt
# seed-2 runs: 2 more compare steps (layers 1 and 2); the others nothing
printf '1 1 1\n1 1 4\n1 1 1\n1 1 5\n' > want.txt
cmp -s want.txt after.txt || { fail "a changed [compare] re-ran other steps: $(tr '\n' ';' < before.txt) -> $(tr '\n' ';' < after.txt)"; }
grep -q "max_per_class\":	50" "$R/$M2/compare/seeds/summary.json" || fail "the new max-per-class did not reach the comparison"
"$MIXGEO" suite status cmp2.suite --out out | grep -q '4 runs: 4 done' || fail "not done after the changed [compare]"
# a changed reference (the no-mixup preset): the comparisons with it run again
sed 's/^mix = none$/mix = none\nwd = 0.0001/' cmp2.suite > cmp3.suite
"$MIXGEO" suite run cmp3.suite --out out > run3.txt 2>&1 || { fail "run after a changed reference"; cat run3.txt; }
grep -q "^start    $M2 (comparisons)" run3.txt || { fail "the comparison with a changed reference did not run again"; cat run3.txt; }
[ "$(steps_run "$R/$M2" train)" -eq 1 ] || fail "a changed reference retrained $M2"
N2b=$("$MIXGEO" suite list cmp3.suite | grep "	method=none seed=2\$" | cut -f1)
grep -q "reference = $N2b" "$R/$M2/steps/compare-base.done" || fail "the marker does not name the new reference"
# self = skip: the first no-mixup seed is its own reference: its comparison goes
N1b=$("$MIXGEO" suite list cmp3.suite | grep "	method=none seed=1\$" | cut -f1)
grep -v '^self = seed$' cmp3.suite > cmp4.suite
"$MIXGEO" suite status cmp4.suite --out out | grep -q "^partial  $N1b  trained; compare-base no longer applies" ||
    fail "status: a comparison that no longer applies"
"$MIXGEO" suite run cmp4.suite --out out > run4.txt 2>&1 || fail "run with self = skip"
[ -e "$R/$N1b/compare/base" ] && fail "self = skip: the comparison of $N1b with another seed is still there"
"$MIXGEO" suite status cmp4.suite --out out | grep -q '4 runs: 4 done' || fail "not done with self = skip"
ok "a changed [compare] re-runs only its steps; a changed reference its comparisons; self = skip"

# ---------------------------------------------------------------- bad sections
bad_suite() { # name, expected text; the [compare] lines on stdin are appended to a good suite
    sed '/^\[compare base\]$/,$d' cmp.suite > "$1.suite"
    cat >> "$1.suite"
    "$MIXGEO" suite run "$1.suite" --out bad-out > "$1.out" 2>&1; rc=$?
    [ $rc -eq 2 ] || fail "$1: exit $rc, expected 2"
    grep -qF "$2" "$1.out" || { fail "$1: no '$2' in:"; cat "$1.out"; }
    [ -e bad-out ] && fail "$1: the output directory was created"
}
# line numbers: the good part of cmp.suite ends before [compare base]
L=$(($(grep -n '^\[compare base\]$' cmp.suite | cut -d: -f1) - 1))
bad_suite unknown-axis "unknown-axis.suite:$((L + 2)): against: 'metod' is not a [grid] axis" <<'EOF'
[compare x]
against = metod=none
EOF
bad_suite no-run "no-run.suite:$((L + 2)): against: method=nothing selects no run: 'nothing' is not a value of the axis method (none, manifold)" <<'EOF'
[compare x]
against = method=nothing
EOF
bad_suite layer-range "layer-range.suite:$((L + 3)): layers: layer 4 is outside 0..3" <<'EOF'
[compare x]
against = method=none
layers = 1, 4
EOF
bad_suite unknown-key "unknown-key.suite:$((L + 3)): layer: unknown key in [compare x]" <<'EOF'
[compare x]
against = method=none
layer = 1
EOF
bad_suite no-against "no-against.suite:$((L + 1)): [compare x]: against missing" <<'EOF'
[compare x]
layers = 1
EOF
bad_suite bad-self "bad-self.suite:$((L + 3)): self: expected skip, same or a [grid] axis" <<'EOF'
[compare x]
against = method=none
self = seeds
EOF
bad_suite self-against "self-against.suite:$((L + 3)): self: 'seed' is an axis of against" <<'EOF'
[compare x]
against = seed=1
self = seed
EOF
bad_suite bad-split "bad-split.suite:$((L + 3)): split: unknown split 'tst'" <<'EOF'
[compare x]
against = seed=1
split = tst
EOF
# a grid of no-mixup runs only: every run is its own reference
sed 's/^method = none | manifold$/method = none/; /^\[compare base\]$/,$d' cmp.suite > all-self.suite
printf '[compare x]\nagainst = method=none\n' >> all-self.suite
"$MIXGEO" suite run all-self.suite --out bad-out > all-self.out 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "all-self.suite:$((L + 2)): against: every run is its own reference" all-self.out ||
    { fail "every run its own reference: exit $rc"; cat all-self.out; }
# a grid whose seeds draw different spirals (data-seed follows seed)
sed '/^data-seed = 3$/d; /^\[compare base\]$/,$d' cmp.suite > data.suite
printf '[compare x]\nagainst = seed=1\n' >> data.suite
"$MIXGEO" suite run data.suite --out bad-out > data.out 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "data.suite:$((L + 1)): against: run .* and its reference .* see different test examples (data-seed: 2 vs 1)" data.out ||
    { fail "different examples: exit $rc"; cat data.out; }
sed 's|^file = compare/base/cka.tsv$|file = compare/bsae/cka.tsv|' cmp.suite > heat.suite
"$MIXGEO" suite run heat.suite --out bad-out > heat.out 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "heat.suite:[0-9]*: file: 'compare/bsae/cka.tsv': there is no \[compare bsae\] section" heat.out ||
    { fail "heat map of an unknown comparison: exit $rc"; cat heat.out; }
printf '[suite]\ncommand = theory\n[grid]\nclasses = 2 | 3\n[compare x]\nagainst = classes=2\n' > theory.suite
"$MIXGEO" suite run theory.suite --out bad-out > theory.out 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "theory.suite:5: \[compare x\]: a theory suite has no networks to compare" theory.out ||
    { fail "[compare] in a theory suite: exit $rc"; cat theory.out; }
ok "bad [compare] sections: exit 2 with FILE:LINE"

# ---------------------------------------------------------------- a real Slurm
# (root and Debian's slurm-wlm, tests/slurm/cluster.sh; not under ASan, as
# e2e_slurm.sh): one run a task, the array held; the task of the last run
# is released first, so that its comparisons find no reference trained and
# are left; then the others.  The finish job runs those comparisons, the
# report job comes after it.
slurm_ok=0
case ${B:-build} in
*asan*) ;;
*) [ "$(id -u)" -eq 0 ] && [ -x /usr/sbin/slurmctld ] && [ -x /usr/sbin/slurmd ] &&
    [ -x /usr/sbin/munged ] && [ -x /usr/bin/sbatch ] && slurm_ok=1 ;;
esac
if [ $slurm_ok -eq 1 ]; then
    . "$ROOT/tests/slurm/cluster.sh"
    trap 'slurm_stop; rm -rf "$T"' EXIT
    if slurm_start "$T/cluster"; then
        gone() { # JOB SECONDS
            i=0
            while [ -n "$(squeue -h -j "$1" -o %i 2> /dev/null)" ]; do
                i=$((i + 1))
                [ $i -gt $(($2 * 5)) ] && return 1
                sleep 0.2
            done
        }
        "$MIXGEO" suite submit cmp.suite --out sub --time 10 --runs-per-task 1 --report \
            --sbatch-arg=--hold > sub-real.txt 2>&1 || { fail "submit"; cat sub-real.txt; }
        J=$(ls sub/slurm | grep -E '^[0-9]+$' | sort -n | tail -n 1)
        last=$(rows "sub/slurm/$J/tasks.tsv" | awk -v r="$M2" '$2 == r { print $1 }')
        scontrol release "${J}_$last"
        gone "${J}_$last" 60 || fail "the task of $M2 did not end"
        grep -q "^blocked  $M2: compare-base waits: $N2 is not trained yet (another task or runner trains it)" \
            "sub/slurm/$J/${J}_$last.log" || { fail "the task of $M2 did not leave its comparisons"; cat "sub/slurm/$J/${J}_$last.log"; }
        scontrol release "$J" > /dev/null 2>&1
        FJ=$(cat "sub/slurm/$J/finish.jobid" 2> /dev/null)
        RJ=$(cat "sub/slurm/$J/report.jobid" 2> /dev/null)
        grep -q "finish     job $FJ after job $J ends" sub-real.txt && grep -q "report     job $RJ after job $FJ ends" sub-real.txt ||
            { fail "submit: no finish job, or the report not after it"; cat sub-real.txt; }
        [ -n "$RJ" ] && gone "$RJ" 180 || fail "the report job did not end in 180 s"
        "$MIXGEO" suite status cmp.suite --out sub > sub-status.txt 2>&1
        grep -q '4 runs: 4 done' sub-status.txt || { fail "Slurm: not every run done"; cat sub-status.txt; tail -n 5 sub/slurm/"$J"/*.log; }
        rows "sub/runs/$M2/compare/base/cka.tsv" | cmp -s s.rows - || fail "Slurm: another comparison than the local run's"
        [ -s sub/REPORT.md ] && [ -s sub/figures/heat.gp ] || fail "Slurm: no report after the finish job"
        grep -q "^start    $M2 (comparisons)" "sub/slurm/$J/finish.log" 2> /dev/null ||
            { fail "the finish job did not compare $M2"; cat "sub/slurm/$J/finish.log"; }
        ok "Slurm: one run a task, the finish job runs the comparisons left, the report after it"
    else
        fail "cannot start the Slurm cluster: $slurm_error"
        slurm_log >&2
    fi
    slurm_stop
    trap 'rm -rf "$T"' EXIT
else
    echo "$NAME: Slurm part skipped (needs root and slurm-wlm; not under ASan)"
fi

[ "$fails" -eq 0 ] || { echo "$NAME: $fails check(s) failed"; exit 1; }
echo "$NAME: all checks passed"
