#!/bin/sh
# records.sh - the text records of a results root's finished suite runs, so
# that a study longer than one machine's life resumes on the next machine.
#
#   sh experiments/records.sh pack ROOT RECORDS [SKIP]
#                                                  ROOT/SUITE/runs/ID (DONE) -> RECORDS/SUITE.tar.xz
#   sh experiments/records.sh unpack ROOT RECORDS  RECORDS/*.tar.xz -> ROOT/SUITE/runs/ID (missing ones)
#
# A record is a finished run's directory without its checkpoints (*.ckpt),
# lock and temporary files: config.ini, DONE, steps/, summary.json,
# metrics.tsv, log.txt and the analyses' outputs -- everything `suite
# report` reads.  A restored run counts as done (`suite status`), so `suite
# run` skips it; what needs its checkpoint again (a changed [analyze]
# section) has to retrain it.  Absolute paths under ROOT are written relative
# to ROOT in the records, and the archives are byte-for-byte reproducible
# (sorted names, fixed owner and time), so repacking unchanged runs changes
# nothing in git.  Runs that exist under ROOT are never overwritten.
#
# SKIP: suite names (blank- or comma-separated) that pack leaves out (and
# whose archives it leaves alone): suites that train in minutes but write
# megabytes (fig1-spiral: 15 runs in ~2 minutes of one core, 6.9 MB of
# records for its decision-region maps) are cheaper to train again than to
# carry in git.
set -eu

usage() {
    echo "usage: records.sh pack ROOT RECORDS [SKIP] | unpack ROOT RECORDS" >&2
    exit 2
}
[ $# -eq 3 ] || [ $# -eq 4 ] || usage
cmd=$1
root=$2
rec=$3
skip=" $(echo "${4:-}" | tr ',' ' ') "
[ $# -eq 4 ] && [ "$cmd" != pack ] && usage
tmp=$(mktemp -d "${TMPDIR:-/tmp}/records.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

case $cmd in
pack)
    [ -d "$root" ] || { echo "records.sh: $root: no such directory" >&2; exit 2; }
    abs=$(cd "$root" && pwd -P)
    mkdir -p "$rec"
    for runs in "$root"/*/runs; do
        [ -d "$runs" ] || continue
        suite=$(basename "$(dirname "$runs")")
        case $skip in *" $suite "*)
            echo "records: $suite: left out (SKIP)"
            continue ;;
        esac
        n=0
        for d in "$runs"/*/; do
            d=${d%/}
            [ -f "$d/DONE" ] || continue
            id=$(basename "$d")
            dst="$tmp/$suite/runs/$id"
            mkdir -p "$dst"
            (cd "$d" && find . -type f ! -name '*.ckpt' ! -name lock ! -name '*.tmp' \
                ! -name '*.part' -print) | while IFS= read -r f; do
                mkdir -p "$dst/$(dirname "$f")"
                cp -p "$d/$f" "$dst/$f"
            done
            n=$((n + 1))
        done
        [ $n -gt 0 ] || continue
        # absolute paths under the root become relative to it
        find "$tmp/$suite" -type f \( -name '*.ini' -o -name '*.json' -o -name '*.txt' \
            -o -name '*.done' -o -name DONE -o -name '*.gp' \) \
            -exec sed -i "s|$abs/||g" {} +
        tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
            -C "$tmp" -cf - "$suite" | xz -9 -T1 > "$rec/$suite.tar.xz.tmp"
        mv "$rec/$suite.tar.xz.tmp" "$rec/$suite.tar.xz"
        echo "records: $suite: $n finished runs -> $rec/$suite.tar.xz ($(wc -c < "$rec/$suite.tar.xz") bytes)"
        rm -rf "${tmp:?}/$suite"
    done
    ;;
unpack)
    [ -d "$rec" ] || exit 0
    mkdir -p "$root"
    for a in "$rec"/*.tar.xz; do
        [ -f "$a" ] || continue
        xz -dc "$a" | tar -C "$tmp" -xf -
        n=0
        for d in "$tmp"/*/runs/*/; do
            d=${d%/}
            [ -d "$d" ] || continue
            suite=$(basename "$(dirname "$(dirname "$d")")")
            id=$(basename "$d")
            [ -e "$root/$suite/runs/$id" ] && continue
            mkdir -p "$root/$suite/runs"
            mv "$d" "$root/$suite/runs/$id"
            n=$((n + 1))
        done
        rm -rf "${tmp:?}"/*
        echo "records: $(basename "$a" .tar.xz): $n runs restored into $root"
    done
    ;;
*) usage ;;
esac
