# lib.sh - shared set-up of the e2e_*.sh scripts (POSIX sh; not a test itself).
# Source it after setting NAME to the script's name (e2e_analyze, ...):
#     NAME=e2e_analyze
#     . "$(dirname "$0")/lib.sh"
# It sets -u, defaults $MIXGEO to build/mixgeo, makes a temporary directory $T
# (removed at exit) and defines $fails, fail, die and json_range.
set -u
MIXGEO=${MIXGEO:-build/mixgeo}
T=$(mktemp -d "${TMPDIR:-/tmp}/mixgeo-$(echo "$NAME" | tr _ -).XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM

fails=0
fail() {
    echo "$NAME: FAIL: $*" >&2
    fails=$((fails + 1))
}
die() {
    echo "$NAME: FAIL: $*" >&2
    exit 1
}

# json_range KEY LO HI FILE: every value of KEY in a pretty-printed JSON file
# lies in [LO, HI]
json_range() {
    key=$1 lo=$2 hi=$3 file=$4
    n=$(grep -c "\"$key\":" "$file")
    [ "$n" -gt 0 ] || {
        fail "$file: no key $key"
        return
    }
    bad=$(grep "\"$key\":" "$file" | sed 's/.*: *//; s/,$//' |
        awk -v lo="$lo" -v hi="$hi" '{ if (!($1 + 0 >= lo && $1 + 0 <= hi) || $1 == "null") print }')
    [ -z "$bad" ] || fail "$file: $key outside [$lo, $hi]: $bad"
}
