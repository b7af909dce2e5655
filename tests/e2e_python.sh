#!/bin/sh
# e2e_python.sh - the Python module python/mixgeo (ctypes + numpy) on the
# shared library of this build: runs the pytest suite tests/python (numpy
# references, known answers, input handling, bad inputs, the analyze driver).
#
# Needs $B/libmganalysis.so (B: the build directory, default build) and an
# interpreter with numpy and pytest: ${PYTHON:-/usr/bin/python3} (Debian's,
# with python3-numpy and python3-pytest; `make deps` installs them).  A missing
# interpreter or module is a failure, never a silent skip.
# Under `make asan` (B=build-asan) the library links libasan: the tests then
# run with LD_PRELOAD of that runtime (an unsanitized python must
# load the ASan runtime first) and ASAN_OPTIONS=detect_leaks=0 (the
# interpreter's own allocations at exit are not ours).
# No bytecode or pytest cache is written into the source tree.  POSIX sh.
NAME=e2e_python
. "$(dirname "$0")/lib.sh"

B=${B:-build}
PY=${PYTHON:-/usr/bin/python3}
[ -d "$B" ] || die "build directory $B not found: run make"
LIB=$(cd "$B" && pwd)/libmganalysis.so
[ -f "$LIB" ] || die "$LIB not found: run make (it builds the shared libraries)"

command -v "$PY" >/dev/null 2>&1 || die "Python interpreter $PY not found: run make deps (python3, python3-numpy, python3-pytest) or set PYTHON"
if ! "$PY" -c 'import numpy, pytest' >"$T/out" 2>"$T/err"; then
    echo "$NAME: $PY: $(tail -n 1 "$T/err")" >&2
    die "$PY lacks numpy or pytest: run make deps (Debian python3-numpy, python3-pytest) or set PYTHON to an interpreter that has both"
fi

PRELOAD=${LD_PRELOAD:-}
ASAN=${ASAN_OPTIONS:-}
# The runtime the library itself links (gcc: libasan.so.N, clang:
# libclang_rt.asan-*.so), as the loader resolves it.
rt=$(ldd "$LIB" 2>/dev/null | awk '/libasan|libclang_rt\.asan/ { print $3; exit }')
if [ -n "$rt" ]; then
    [ -e "$rt" ] || die "$LIB links the ASan runtime but the loader does not find it ($rt)"
    echo "$NAME: $LIB is built with ASan: LD_PRELOAD=$rt, detect_leaks=0"
    PRELOAD=$rt${PRELOAD:+:$PRELOAD}
    ASAN=detect_leaks=0${ASAN:+:$ASAN}
fi

# The tests' own temporary files go to $T (removed at exit).
if ! env LD_PRELOAD="$PRELOAD" ASAN_OPTIONS="$ASAN" PYTHONPATH=python MIXGEO_LIB="$LIB" \
    PYTHONDONTWRITEBYTECODE=1 TMPDIR="$T" \
    "$PY" -m pytest -q -p no:cacheprovider -rs --basetemp="$T/pytest" tests/python; then
    fail "pytest tests/python failed (PYTHONPATH=python MIXGEO_LIB=$LIB $PY -m pytest -q tests/python)"
fi

[ "$fails" -eq 0 ] || exit 1
echo "$NAME: ok"
