#!/bin/sh
# The README's commands cannot drift from the program: every `mixgeo ...` line
# in a README code block must name an existing subcommand and only options
# that its --help lists; `train` lines (except --resume) must pass --dry-run
# (the whole configuration is resolved and validated, nothing is written).
set -u
: "${MIXGEO:?set MIXGEO to the mixgeo program}"
T=$(mktemp -d "${TMPDIR:-/tmp}/mixgeo-readme-XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# join continuation lines inside ``` blocks, keep lines starting with mixgeo
awk '/^```/ { inb = !inb; next }
     inb { line = line $0; if (sub(/\\$/, "", line)) next; print line; line = "" }' README.md |
    sed -n 's/^[[:space:]]*\(mixgeo .*\)$/\1/p' | sed 's/[[:space:]]*#.*$//' >"$T/cmds"
n=$(wc -l <"$T/cmds")
[ "$n" -ge 3 ] || fail "found only $n mixgeo commands in README.md"
while IFS= read -r line; do
    set -f
    # shellcheck disable=SC2086
    set -- $line
    set +f
    shift # mixgeo
    sub=$1
    if ! "$MIXGEO" "$sub" --help >"$T/help" 2>&1; then
        fail "README: '$line': no subcommand '$sub'"
        continue
    fi
    for w in "$@"; do
        case "$w" in
        --*) opt=${w%%=*}
            grep -q -- "$opt\\b" "$T/help" || fail "README: '$line': $sub --help lacks $opt" ;;
        esac
    done
    if [ "$sub" = train ] && ! printf '%s\n' "$line" | grep -q -- '--resume'; then
        shift
        "$MIXGEO" train "$@" --dry-run >/dev/null 2>"$T/err" ||
            { fail "README: '$line' --dry-run failed:"; sed 's/^/    /' "$T/err"; }
    fi
done <"$T/cmds"
echo "e2e_readme: $n commands checked, $fails failure(s)"
[ "$fails" -eq 0 ]
