#!/usr/bin/python3
"""same.py RUN_SUMMARY STATES_SUMMARY SECTION[.SUB][:RTOL] ... - the numbers
of the given sections of two summary.json files agree to RTOL relative
(default 1e-12): the
analysis of a run and the analysis of its dumped states (tests/e2e_states.sh).
Keys whose values are text, and keys that name where the numbers came from
(layer, features, space, readout, logit_check), are not compared."""
import json
import math
import sys

SKIP = {"layer", "features", "space", "readout", "logit_check", "note", "spectra_mode"}
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
bad = []


def cmp(x, y, path, rtol):
    if isinstance(x, dict):
        for k, v in x.items():
            if k in SKIP or isinstance(v, str):
                continue
            if not isinstance(y, dict) or k not in y:
                bad.append(path + "." + k + ": missing")
                continue
            cmp(v, y[k], path + "." + k, rtol)
    elif isinstance(x, list):
        if not isinstance(y, list) or len(x) != len(y):
            bad.append(path + ": lists differ in length")
            return
        for i, (u, v) in enumerate(zip(x, y)):
            cmp(u, v, "%s[%d]" % (path, i), rtol)
    elif isinstance(x, bool) or x is None:
        if x != y:
            bad.append("%s: %r != %r" % (path, x, y))
    elif isinstance(x, (int, float)):
        if not isinstance(y, (int, float)) or isinstance(y, bool):
            bad.append("%s: %r != %r" % (path, x, y))
        elif not (x == y or (math.isnan(x) and math.isnan(y)) or
                  abs(x - y) <= rtol * max(abs(x), abs(y))):
            bad.append("%s: %r != %r" % (path, x, y))


for spec in sys.argv[3:]:
    sec, _, tol = spec.partition(":")
    rtol = float(tol) if tol else 1e-12
    x, y = a, b
    for part in sec.split("."):
        x, y = x.get(part, {}), y.get(part) if isinstance(y, dict) else None
    if not x:
        bad.append(sec + ": not in " + sys.argv[1])
        continue
    cmp(x, y, sec, rtol)
for line in bad[:20]:
    print(line)
sys.exit(1 if bad else 0)
