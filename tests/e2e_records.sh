#!/bin/sh
# e2e_records.sh - experiments/records.sh, the text records that carry a
# long study's finished runs from one machine to the next (`make paper`).
# Checked, on experiments/tiny.suite with one run left unfinished:
#   - pack: one archive per suite with the finished runs only, no
#     checkpoint, no lock, no path of the results root; packing again gives
#     the same bytes;
#   - unpack into a new root (another path): every packed run is `done` for
#     `suite status`, `suite run` trains only the missing run, `suite report`
#     gives the same table as the original root;
#   - unpack never overwrites a run that exists;
#   - pack with SKIP leaves those suites (and their archives) alone;
#   - bad usage exits 2.
# Uses $MIXGEO (default build/mixgeo); run from anywhere.  POSIX sh.
NAME=e2e_records
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case ${MIXGEO:-} in
"") MIXGEO=$ROOT/build/mixgeo ;;
/*) ;;
*) MIXGEO=$PWD/$MIXGEO ;;
esac
. "$ROOT/tests/lib.sh"
REC="sh $ROOT/experiments/records.sh"
SUITE=$ROOT/experiments/tiny.suite

"$MIXGEO" suite run -q -j 2 --root "$T/a" "$SUITE" > "$T/run.out" 2>&1 ||
    die "suite run: $(cat "$T/run.out")"
runs=$(ls "$T/a/tiny/runs" | wc -l)
[ "$runs" -eq 8 ] || die "expected 8 runs, found $runs"
# one run unfinished: no DONE
victim=$(ls "$T/a/tiny/runs" | head -1)
mv "$T/a/tiny/runs/$victim/DONE" "$T/victim.DONE"

$REC pack "$T/a" "$T/rec" > "$T/pack.out" 2>&1 || die "pack: $(cat "$T/pack.out")"
[ -f "$T/rec/tiny.tar.xz" ] || die "pack wrote no tiny.tar.xz"
xz -dc "$T/rec/tiny.tar.xz" | tar -tf - > "$T/list"
n=$(grep -c '^tiny/runs/[^/]*/DONE$' "$T/list")
[ "$n" -eq 7 ] || fail "archive holds $n finished runs, expected 7"
grep -q "$victim" "$T/list" && fail "the unfinished run $victim was packed"
grep -qE '\.ckpt$|/lock$' "$T/list" && fail "a checkpoint or lock was packed"
grep -q 'config.ini$' "$T/list" || fail "no config.ini in the archive"
abs=$(cd "$T/a" && pwd -P)
xz -dc "$T/rec/tiny.tar.xz" | tar -xOf - | grep -q "$abs" && fail "the archive names the results root $abs"
cp "$T/rec/tiny.tar.xz" "$T/first.tar.xz"
$REC pack "$T/a" "$T/rec" > /dev/null 2>&1 || fail "second pack failed"
cmp -s "$T/rec/tiny.tar.xz" "$T/first.tar.xz" || fail "packing the same runs twice gives different bytes"

# restore on "another machine": another root
$REC unpack "$T/b" "$T/rec" > "$T/unpack.out" 2>&1 || die "unpack: $(cat "$T/unpack.out")"
grep -q '7 runs restored' "$T/unpack.out" || fail "unpack: $(cat "$T/unpack.out")"
"$MIXGEO" suite status --root "$T/b" "$SUITE" > "$T/status.out" 2>&1
grep -q '8 runs: 7 done, 1 missing' "$T/status.out" || fail "status after unpack: $(tail -1 "$T/status.out")"
"$MIXGEO" suite run -j 2 --root "$T/b" "$SUITE" > "$T/run2.out" 2>&1 || fail "suite run after unpack failed"
grep -q '7 done, 1 to run' "$T/run2.out" || fail "suite run after unpack: $(head -1 "$T/run2.out")"
[ -f "$T/b/tiny/runs/$victim/DONE" ] || fail "the missing run was not trained"
mv "$T/victim.DONE" "$T/a/tiny/runs/$victim/DONE" # finished again: the same runs in both
for r in a b; do
    "$MIXGEO" suite report -q --no-render --root "$T/$r" "$SUITE" > /dev/null 2>&1 || fail "report of $r failed"
done
for t in accuracy by-data; do
    cmp -s "$T/a/tiny/tables/$t.md" "$T/b/tiny/tables/$t.md" ||
        fail "table $t of the restored root differs from the original's"
done

# never overwrite a run that exists
echo mine > "$T/b/tiny/runs/$victim/marker"
other=$(ls "$T/b/tiny/runs" | sed -n 2p)
echo keep > "$T/b/tiny/runs/$other/summary.json"
$REC unpack "$T/b" "$T/rec" > "$T/unpack2.out" 2>&1 || fail "second unpack failed"
grep -q '0 runs restored' "$T/unpack2.out" || fail "second unpack restored runs: $(cat "$T/unpack2.out")"
[ "$(cat "$T/b/tiny/runs/$other/summary.json")" = keep ] || fail "unpack overwrote an existing run's file"

# SKIP: a suite left out is not packed, and its archive stays as it was
cp -r "$T/a/tiny" "$T/a/other"
$REC pack "$T/a" "$T/rec" "x, tiny" > "$T/skip.out" 2>&1 || fail "pack with SKIP failed"
grep -q 'records: tiny: left out' "$T/skip.out" || fail "pack with SKIP: $(cat "$T/skip.out")"
[ -f "$T/rec/other.tar.xz" ] || fail "pack with SKIP: the suite not left out was not packed"
cmp -s "$T/rec/tiny.tar.xz" "$T/first.tar.xz" || fail "pack with SKIP changed the left-out suite's archive"

# usage
$REC unpack "$T/a" "$T/rec" tiny > /dev/null 2>&1
[ $? -eq 2 ] || fail "records.sh unpack with SKIP: expected exit 2"
$REC pack "$T/a" > /dev/null 2>&1
[ $? -eq 2 ] || fail "records.sh with 2 arguments: expected exit 2"
$REC frob "$T/a" "$T/rec" > /dev/null 2>&1
[ $? -eq 2 ] || fail "records.sh frob: expected exit 2"
$REC pack "$T/nowhere" "$T/rec" > /dev/null 2>&1
[ $? -eq 2 ] || fail "records.sh pack of a missing root: expected exit 2"

[ $fails -eq 0 ] && echo "ok: records: pack (finished runs, no checkpoints, no root path, reproducible, SKIP), unpack (done, resumes, never overwrites), usage"
echo "$NAME: $fails failure(s)"
[ $fails -eq 0 ]
