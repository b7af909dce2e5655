#!/bin/sh
# e2e_slurm.sh - `mixgeo suite submit / status / cancel` and the array tasks
# on a REAL one-node Slurm cluster started here (tests/slurm/cluster.sh:
# munged, slurmctld and slurmd of Debian's slurm-wlm packages, a generated
# slurm.conf in a temporary directory, no accounting database; all stopped
# by a trap whatever happens).  Checked:
#   - --dry-run without sbatch on the PATH writes the script and tasks.tsv
#     and submits nothing; without --dry-run: one line, exit 2; bad submit
#     options exit 2 naming the flag before anything is submitted; sbatch's
#     own error is passed through with the exact command (exit 1);
#   - experiments/tiny.suite submitted as one held array (--sbatch-arg=--hold,
#     2 runs a task): `suite status` shows every run queued with its job and
#     task; released, every run finishes with checkpoints bit-identical to a
#     local `suite run`; the task logs, submit.sbatch and tasks.tsv are kept;
#     --report's dependent job writes REPORT.md after the array;
#   - a task that gets the warning signal mid-training (scancel --signal=USR1
#     --batch) saves, requeues itself (status: requeued, SLURM_RESTART_COUNT)
#     and finishes with a checkpoint equal to an uninterrupted run's; status
#     shows the run running with its job id meanwhile;
#   - suite cancel of a running task: the training saves, the task is not
#     requeued;
#   - a failing grid cell is FAILED with its log; submit --failed submits only
#     it;
#   - --shard i/3, i = 1..3, as three concurrent Slurm jobs (sbatch --wrap):
#     every run exactly once;
#   - locks: a lock recorded by a finished job on another host is taken over;
#     one of a pending job makes the run running (status) and a runner waits
#     until that job is cancelled;
#   - a 1,000-run grid submits in one sbatch call in under 2 s (--dry-run and
#     real, as a held array that is cancelled at once).
# Needs root (it starts the daemons); skipped under `make asan` (B=build-asan:
# the daemons are not ours to instrument and make check has run it already).
# Uses $MIXGEO (default build/mixgeo).  A few minutes at most.  POSIX sh.
NAME=e2e_slurm
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case ${MIXGEO:-} in
"") MIXGEO=$ROOT/build/mixgeo ;;
/*) ;;
*) MIXGEO=$PWD/$MIXGEO ;;
esac
case ${B:-build} in
*asan*)
    echo "e2e_slurm: skipped under $B (the Slurm test runs once, in make check)"
    exit 0
    ;;
esac
if [ "$(id -u)" -ne 0 ]; then
    echo "e2e_slurm: skipped: starting slurmctld, slurmd and munged needs root"
    exit 0
fi
. "$ROOT/tests/lib.sh"
. "$ROOT/tests/slurm/cluster.sh"
trap 'slurm_stop; rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
export OPENBLAS_NUM_THREADS=1
unset MIXGEO_STOP_AFTER_STEPS MIXGEO_SUITE_ABORT_AFTER
t_start=$(date +%s)
# ok TEXT: "ok: TEXT" if no check failed since the last ok (each section ends in one)
seen=0
ok() {
    [ "$fails" -eq "$seen" ] && echo "ok: $*"
    seen=$fails
}

# ---------------------------------------------------------------- no Slurm needed
cd "$T" || exit 1
cp "$ROOT/experiments/tiny.suite" tiny.suite
# The long run of the signal test, trained locally meanwhile (the reference).
cat >long.suite <<'EOF'
[suite]
name = long
[base]
data = spiral
n-per-class = 10000
arch = 2-256-256-2
epochs = 60
batch = 50
mix = manifold
[grid]
seed = 1
EOF
"$MIXGEO" suite run long.suite --out ref-long >ref-long.log 2>&1 &
ref_long_pid=$!
"$MIXGEO" suite run tiny.suite --out ref-tiny >ref-tiny.log 2>&1 || fail "local suite run of tiny.suite failed"

PATH=/nonexistent "$MIXGEO" suite submit tiny.suite --out dry --time 10 --dry-run >dry.out 2>&1
rc=$?
[ $rc -eq 0 ] || fail "--dry-run without sbatch: exit $rc"
grep -q '^#SBATCH --array=0-0%16$' dry/slurm/dry-run/submit.sbatch 2>/dev/null ||
    fail "--dry-run: no script with --array=0-0%16"
[ "$(grep -vc '^#' dry/slurm/dry-run/tasks.tsv 2>/dev/null)" = 8 ] || fail "--dry-run: tasks.tsv lacks the 8 runs"
grep -q 'nothing submitted' dry.out || fail "--dry-run does not say that nothing was submitted"
PATH=/nonexistent "$MIXGEO" suite submit tiny.suite --out nosb --time 10 >nosb.out 2>&1
rc=$?
[ $rc -eq 2 ] || fail "no sbatch on the PATH: exit $rc, expected 2"
[ "$(wc -l <nosb.out)" -eq 1 ] && grep -q 'sbatch is not on the PATH' nosb.out ||
    { fail "no sbatch on the PATH: expected one line:"; cat nosb.out; }
[ -e nosb/slurm ] && fail "no sbatch on the PATH: something was written"
ok "--dry-run without sbatch writes the script; without --dry-run: one line, exit 2"

# bad options: exit 2 naming the flag, nothing submitted (checked after the start)
bad_opt() { # name, expected text, options...
    n=$1 want=$2
    shift 2
    "$MIXGEO" suite submit tiny.suite --out bad "$@" >"bad-$n.out" 2>&1
    rc=$?
    [ $rc -eq 2 ] || fail "bad option $n: exit $rc, expected 2"
    grep -qF -- "$want" "bad-$n.out" || { fail "bad option $n: no '$want' in:"; cat "bad-$n.out"; }
}
bad_opt no-time "--time: required"
bad_opt time "--time: expected" --time 1:xx
bad_opt mem "--mem:" --time 10 --mem lots
bad_opt signal "--signal-seconds:" --time 2 --signal-seconds 300
bad_opt array "--sbatch-arg: --array is set by mixgeo suite submit" --time 10 --sbatch-arg=--array=1-3
bad_opt rpt "--runs-per-task" --time 10 --runs-per-task 0
bad_opt cpus "--cpus-per-task" --time 10 --cpus-per-task 0
[ -e bad ] && fail "a refused submission wrote its output directory"
"$MIXGEO" suite run tiny.suite --out bad --time 10 >bad-run.out 2>&1
[ $? -eq 2 ] && grep -q -- '--time: only with suite submit' bad-run.out || fail "suite run accepted --time"
ok "bad submit options: exit 2 naming the flag, nothing written"

# ---------------------------------------------------------------- the cluster
t0=$(date +%s)
if ! slurm_start "$T/cluster"; then
    echo "$NAME: FAIL: cannot start the Slurm cluster: $slurm_error" >&2
    slurm_log >&2
    exit 1
fi
echo "cluster up in $(($(date +%s) - t0)) s: $(sinfo -h -o '%P %T %c CPUs')"
[ -z "$(squeue -h -o %i)" ] || fail "a refused submission reached the queue"
srun -t 1 hostname >srun.out 2>&1 || { fail "srun hostname failed:"; cat srun.out; }

# wait_gone JOB SECONDS: until squeue no longer lists JOB (0), or 1 after SECONDS
# wait_gone JOB SECONDS: the job has left the queue -- three answers in a
# row that do not list it (an empty list, or "Invalid job id" once the
# controller has purged it); a failed or busy squeue answers nothing (seen:
# a requeued task briefly missing from one answer).
wait_gone() {
    i=0 gone=0
    while [ $gone -lt 3 ]; do
        out=$(squeue -h -j "$1" -o %i 2>&1)
        rc=$?
        if [ $rc -eq 0 ] && [ -z "$out" ]; then
            gone=$((gone + 1))
        elif [ $rc -ne 0 ] && echo "$out" | grep -q 'Invalid job id'; then
            gone=$((gone + 1))
        else
            gone=0
        fi
        i=$((i + 1))
        [ $i -gt $(($2 * 5)) ] && return 1
        sleep 0.2
    done
    return 0
}
job_of() { ls "$1/slurm" | grep -E '^[0-9]+$' | sort -n | tail -n 1; }

# sbatch's own error, with the exact command
"$MIXGEO" suite submit tiny.suite --out badpart --time 10 --partition nosuch >badpart.out 2>&1
rc=$?
[ $rc -eq 1 ] || fail "sbatch error: exit $rc, expected 1"
grep -q 'sbatch failed (exit 1): sbatch --parsable --hold .*/badpart/slurm/submit-[0-9]*/submit.sbatch' badpart.out &&
    grep -qi 'invalid partition' badpart.out || { fail "sbatch's error is not passed through:"; cat badpart.out; }
ok "sbatch's error passed through with the command (exit 1)"

# ---------------------------------------------------------------- tiny: held array, status, release, report
"$MIXGEO" suite submit tiny.suite --out arr --time 10 --mem 100M --max-parallel 2 \
    --runs-per-task 2 --sbatch-arg=--hold --report >arr.out 2>&1 || { fail "submit tiny.suite:"; cat arr.out; }
J=$(job_of arr)
[ -n "$J" ] && [ -f "arr/slurm/$J/submit.sbatch" ] && [ -f "arr/slurm/$J/tasks.tsv" ] ||
    fail "submit: no OUT/slurm/JOBID/{submit.sbatch,tasks.tsv}"
[ "$(grep -c "^#SBATCH --array=0-3%2\$" "arr/slurm/$J/submit.sbatch")" = 1 ] || fail "submit: not one --array=0-3%2"
[ "$(grep -vc '^#' "arr/slurm/$J/tasks.tsv")" = 8 ] || fail "tasks.tsv: not 8 runs"
[ "$(grep -v '^#' "arr/slurm/$J/tasks.tsv" | cut -f1 | sort -u | tr '\n' ' ')" = "0 1 2 3 " ] || fail "tasks.tsv: not tasks 0-3"
"$MIXGEO" suite status tiny.suite --out arr >st-held.out 2>&1
[ "$(grep -c "^queued  *[^ ]*  job ${J}_[0-3] PENDING" st-held.out)" = 8 ] || { fail "status of the held array: not 8 queued with job ids:"; cat st-held.out; }
grep -q "8 runs: 0 done, 8 queued" st-held.out || fail "status summary lacks '8 queued'"
# squeue missing: status still answers, with one line saying the queue state is unknown
PATH=/nonexistent "$MIXGEO" suite status tiny.suite --out arr >st-nosq.out 2>&1 || fail "status without squeue: exit $?"
grep -q "^  1 Slurm job recorded in arr/slurm; their queue state is unknown: squeue is not on the PATH" st-nosq.out ||
    { fail "status without squeue: no note on the queue state:"; cat st-nosq.out; }
# submitting again while queued adds nothing
"$MIXGEO" suite submit tiny.suite --out arr --time 10 >arr2.out 2>&1
grep -q 'nothing to submit' arr2.out && [ "$(job_of arr)" = "$J" ] || { fail "a second submit while queued submitted again:"; cat arr2.out; }
scontrol release "$J"
wait_gone "$J" 120 || fail "the tiny array did not finish in 120 s"
"$MIXGEO" suite status tiny.suite --out arr >st-arr.out 2>&1
grep -q '8 runs: 8 done' st-arr.out || { fail "tiny array: not 8 done:"; cat st-arr.out; tail -n 20 arr/slurm/"$J"/*.log; }
for id in $("$MIXGEO" suite list --ids tiny.suite); do
    cmp -s "ref-tiny/runs/$id/model.ckpt" "arr/runs/$id/model.ckpt" || fail "$id: checkpoint differs from the local suite run"
    [ -s "arr/runs/$id/log.txt" ] || fail "$id: no log.txt"
done
for k in 0 1 2 3; do
    grep -q "array task ${J}_$k on" "arr/slurm/$J/${J}_$k.log" 2>/dev/null || fail "no task log arr/slurm/$J/${J}_$k.log"
done
RJ=$(cat "arr/slurm/$J/report.jobid" 2>/dev/null)
[ -n "$RJ" ] && wait_gone "$RJ" 60 || fail "the report job did not run"
[ -s arr/REPORT.md ] && [ -s arr/tables/accuracy.tsv ] || { fail "--report: no REPORT.md"; cat "arr/slurm/$J/report.log"; }
ok "tiny.suite as one array (4 tasks, held: 8 queued in status, without squeue a note; released: checkpoints = local run), --report"

# ---------------------------------------------------------------- the warning signal: save, requeue, resume
"$MIXGEO" suite submit long.suite --out sig --time 10 --mem 200M --signal-seconds 60 >sig.out 2>&1 || { fail "submit long.suite"; cat sig.out; }
J=$(job_of sig)
LID=$("$MIXGEO" suite list --ids long.suite)
i=0
until [ -f "sig/runs/$LID/metrics.tsv" ] && [ "$(grep -vc '^#' "sig/runs/$LID/metrics.tsv")" -ge 3 ]; do
    i=$((i + 1))
    [ $i -gt 600 ] && break
    sleep 0.1
done
"$MIXGEO" suite status long.suite --out sig >st-run.out 2>&1
grep -q "^running  *$LID  *host .* Slurm job ${J}_0; epoch [0-9]*/60, [0-9.]* s an epoch, about [0-9.]* \(min\|h\) left\$" st-run.out ||
    { fail "status while training: not running with the job id and the progress:"; cat st-run.out; }
scancel --signal=USR1 --batch "${J}_0"
i=0
until [ "$(squeue -h -j "${J}_0" -O 'State:|,RestartCnt:' 2>/dev/null | tr -d ' ')" = "PENDING|1" ]; do
    i=$((i + 1))
    [ $i -gt 300 ] && break
    sleep 0.1
done
"$MIXGEO" suite status long.suite --out sig >st-req.out 2>&1
grep -q "^requeued  *$LID  *job ${J}_0 PENDING.*requeued 1 time; epoch [0-9]*/60, interrupted" st-req.out ||
    { fail "status after the signal: not requeued at an interrupted epoch:"; cat st-req.out "sig/slurm/$J/${J}_0.log"; }
grep -q "requeue 1 of 3: scontrol requeue ${J}_0" "sig/slurm/$J/${J}_0.log" || fail "the task log does not show the requeue"
# Slurm holds a requeued job back for about two minutes (BeginTime); not a test of ours.
# Not at once either: slurmd refuses a launch credential created in the same
# second as the revocation of the killed attempt's ("Job N already killed, do
# not launch batch job" in slurmd.log; the credential times are whole
# seconds), and the job then ends with exit 1 and no second attempt.
sleep 2
scontrol update JobId="${J}_0" StartTime=now
i=0 # the second attempt has started: its line in the task log
until [ "$(grep -c 'array task' "sig/slurm/$J/${J}_0.log")" -ge 2 ]; do
    i=$((i + 1))
    [ $i -gt 900 ] && break
    sleep 0.2
done
wait_gone "$J" 180 || fail "the requeued task did not finish"
wait "$ref_long_pid" || fail "the local reference run of long.suite failed"
[ -f "sig/runs/$LID/DONE" ] || {
    fail "the requeued run is not done"
    cat "sig/slurm/$J/${J}_0.log"
    echo "slurmctld.log on job $J:"
    grep -E "JobId=$J[ _]|${J}_0|JobId=$((J + 1)) " "$slurm_dir/log/slurmctld.log" | tail -n 25
    echo "slurmd.log:"
    tail -n 25 "$slurm_dir/log/slurmd.log"
}
cmp -s "ref-long/runs/$LID/model.ckpt" "sig/runs/$LID/model.ckpt" ||
    fail "the run interrupted by USR1 and requeued differs from the uninterrupted one"
grep -q '"resumed_from"' "sig/runs/$LID/summary.json" || fail "the requeued run was not resumed from its checkpoint"
[ "$(grep -c 'array task' "sig/slurm/$J/${J}_0.log")" = 2 ] || fail "the task log lacks the second attempt (--open-mode=append)"
ok "USR1 mid-training: checkpoint saved, task requeued, resumed bit-identical to an uninterrupted run"

# ---------------------------------------------------------------- cancel a running task
"$MIXGEO" suite submit long.suite --out can --time 10 --mem 200M >can.out 2>&1 || fail "submit for cancel"
J=$(job_of can)
i=0
until [ -f "can/runs/$LID/metrics.tsv" ] && [ "$(grep -vc '^#' "can/runs/$LID/metrics.tsv")" -ge 2 ]; do
    i=$((i + 1))
    [ $i -gt 600 ] && break
    sleep 0.1
done
"$MIXGEO" suite cancel long.suite --out can >cancel.out 2>&1 || { fail "suite cancel"; cat cancel.out; }
wait_gone "$J" 60 || fail "suite cancel: the job is still there"
[ -f "can/slurm/$J/CANCELLED" ] || fail "suite cancel: no CANCELLED marker"
grep -q "cancelled (suite cancel): not requeued" "can/slurm/$J/${J}_0.log" || { fail "the cancelled task did not decline to requeue:"; cat "can/slurm/$J/${J}_0.log"; }
grep -q '"status":	"interrupted"' "can/runs/$LID/summary.json" || fail "the cancelled training did not save as interrupted"
ok "suite cancel: the training saves, the task does not requeue"

# ---------------------------------------------------------------- a failing cell, --failed
cat >fail.suite <<'EOF'
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
"$MIXGEO" suite submit fail.suite --out fl --time 10 --mem 100M --runs-per-task 1 >fl.out 2>&1 || fail "submit fail.suite"
J=$(job_of fl)
wait_gone "$J" 60 || fail "fail.suite: the array did not finish"
"$MIXGEO" suite status fail.suite --out fl >st-fl.out 2>&1
grep -q '3 runs: 2 done, 1 failed' st-fl.out || { fail "fail.suite: not 2 done, 1 failed:"; cat st-fl.out; }
FID=$(awk '$1 == "failed" { print $2 }' st-fl.out)
grep -q '^status = exit 1$' "fl/runs/$FID/FAILED" 2>/dev/null && grep -q 'no-such-dir' "fl/runs/$FID/log.txt" ||
    fail "the failed cell has no FAILED marker or log"
"$MIXGEO" suite submit fail.suite --out fl --time 10 --mem 100M --failed >fl2.out 2>&1 || fail "submit --failed"
J2=$(job_of fl)
[ "$J2" != "$J" ] && [ "$(grep -v '^#' "fl/slurm/$J2/tasks.tsv" | cut -f2)" = "$FID" ] ||
    { fail "submit --failed did not submit exactly the failed run:"; cat fl2.out; }
wait_gone "$J2" 60 || fail "--failed: the array did not finish"
[ "$(grep -c '^== .* train ' "fl/runs/$FID/log.txt")" = 2 ] || fail "--failed: the failed run was not tried again"
for id in $("$MIXGEO" suite list --ids fail.suite); do
    [ "$id" = "$FID" ] && continue
    [ "$(grep -c '^== ' "fl/runs/$id/log.txt")" = 1 ] || fail "--failed: the done run $id was run again"
done
ok "a failing cell is FAILED with its log; submit --failed submits only it"

# ---------------------------------------------------------------- shards as jobs of another kind
for i in 1 2 3; do
    sbatch --parsable --mem=100M -o "shard-$i.log" \
        --wrap "exec '$MIXGEO' suite run tiny.suite --out sh --shard $i/3" >"shard-$i.jid" || fail "sbatch --wrap shard $i"
done
for i in 1 2 3; do wait_gone "$(cat "shard-$i.jid")" 60 || fail "shard $i did not finish"; done
"$MIXGEO" suite status tiny.suite --out sh >st-sh.out 2>&1
grep -q '8 runs: 8 done' st-sh.out || { fail "shards: not 8 done"; cat st-sh.out shard-*.log; }
cat shard-1.log shard-2.log shard-3.log | awk '$1 == "start" { print $2 }' | sort >sh-started.txt
"$MIXGEO" suite list --ids tiny.suite | sort >sh-all.txt
cmp -s sh-started.txt sh-all.txt || fail "shards 1..3 did not start every run exactly once"
for id in $(cat sh-all.txt); do
    [ "$(grep -c '^== .* train ' "sh/runs/$id/log.txt")" = 1 ] || fail "shards: $id trained more than once"
done
ok "--shard i/3 for i = 1..3 as three concurrent jobs: every run exactly once"

# ---------------------------------------------------------------- locks judged by the job's state
FJ=$(sbatch --parsable --mem=100M -o /dev/null --wrap true)
wait_gone "$FJ" 30
HJ=$(sbatch --parsable --hold --mem=100M -o /dev/null --wrap true)
ID1=$("$MIXGEO" suite list tiny.suite | awk -F'\t' '$2 == "method=baseline data=spiral seed=1" { print $1 }')
ID2=$("$MIXGEO" suite list tiny.suite | awk -F'\t' '$2 == "method=baseline data=spiral seed=2" { print $1 }')
ID3=$("$MIXGEO" suite list tiny.suite | awk -F'\t' '$2 == "method=baseline data=moons seed=1" { print $1 }')
mkdir -p "lk/runs/$ID1" "lk/runs/$ID2" "lk/runs/$ID3"
printf 'host = other-node\npid = 4242\njob = %s\ntask = %s_0\n' "$FJ" "$FJ" >"lk/runs/$ID1/lock"
printf 'host = other-node\npid = 4243\njob = %s\n' "$HJ" >"lk/runs/$ID2/lock"
printf 'host = other-node\npid = 4244\n' >"lk/runs/$ID3/lock"
"$MIXGEO" suite status tiny.suite --out lk >st-lk.out 2>&1
grep -q "^running  *$ID2  *host other-node pid 4243, Slurm job $HJ, PENDING" st-lk.out &&
    grep -q "^running  *$ID3  *host other-node pid 4244: another host and no Slurm job" st-lk.out &&
    ! grep -q "^running  *$ID1" st-lk.out || { fail "status does not judge the locks by their jobs:"; cat st-lk.out; }
"$MIXGEO" suite run tiny.suite --out lk --only "$ID1" >lk1.out 2>&1 && [ -f "lk/runs/$ID1/DONE" ] ||
    { fail "the lock of a finished job on another host was not taken over"; cat lk1.out; }
"$MIXGEO" suite run tiny.suite --out lk --only "$ID2" >lk2.out 2>&1 &
lk_pid=$!
sleep 2
grep -q "wait  *$ID2 (held by host other-node pid 4243, Slurm job $HJ, PENDING)" lk2.out &&
    [ ! -f "lk/runs/$ID2/DONE" ] || { fail "a runner did not wait for the lock of a pending job"; cat lk2.out; }
scancel "$HJ"
i=0
while kill -0 "$lk_pid" 2>/dev/null && [ $i -lt 300 ]; do
    sleep 0.1
    i=$((i + 1))
done
kill "$lk_pid" 2>/dev/null
wait "$lk_pid" && [ -f "lk/runs/$ID2/DONE" ] || { fail "the lock of a cancelled job was not taken over in 30 s"; cat lk2.out; }
ok "locks on a shared file system: judged by the owner's Slurm job (finished: taken over; pending: held)"

# ---------------------------------------------------------------- a 1,000-run grid in one sbatch call
# 8 learning rates x 125 seeds of a tiny spiral model
printf '[suite]\nname = big\n[base]\nn-per-class = 100\narch = 2-16-16-2\nepochs = 3\n[grid]\n' >big.suite
echo "lr = 0.01 | 0.02 | 0.03 | 0.04 | 0.05 | 0.06 | 0.07 | 0.08" >>big.suite
echo "seed = $(seq -s ' | ' 1 125)" >>big.suite
[ "$("$MIXGEO" suite list --ids big.suite | wc -l)" = 1000 ] || fail "big.suite: not 1,000 runs"
s0=$(date +%s.%N)
"$MIXGEO" suite submit big.suite --out big --time 10 --runs-per-task 1 --dry-run >big-dry.out 2>&1 || fail "1,000 runs --dry-run"
s1=$(date +%s.%N)
# --begin: the tasks stay pending (the submission is the usual one: held, renamed, released)
"$MIXGEO" suite submit big.suite --out big --time 10 --runs-per-task 1 --sbatch-arg=--begin=now+3600 >big.out 2>&1 || { fail "1,000 runs submit"; cat big.out; }
s2=$(date +%s.%N)
BJ=$(job_of big)
[ "$(grep -c '^#SBATCH --array=0-999%16$' "big/slurm/$BJ/submit.sbatch")" = 1 ] || fail "1,000 runs: not one --array=0-999%16"
[ "$(squeue -h -r -j "$BJ" -o %i | wc -l)" = 1000 ] || fail "1,000 runs: squeue does not list 1,000 tasks"
scancel "$BJ"
dry_s=$(echo "$s0 $s1" | awk '{ printf "%.2f", $2 - $1 }')
real_s=$(echo "$s1 $s2" | awk '{ printf "%.2f", $2 - $1 }')
echo "1,000-run grid: --dry-run ${dry_s} s, submitted (one sbatch call, 1,000 tasks) ${real_s} s"
awk -v a="$dry_s" -v b="$real_s" 'BEGIN { exit !(a < 2 && b < 2) }' || fail "a 1,000-run submission took 2 s or more"
ok "a 1,000-run grid submits in one sbatch call in under 2 s"

echo "e2e_slurm: $(($(date +%s) - t_start)) s"
[ "$fails" -eq 0 ] || exit 1
echo "e2e_slurm: all passed"
