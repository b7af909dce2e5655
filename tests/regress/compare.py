#!/usr/bin/env python3
"""compare.py EXPECTED_DIR ACTUAL_DIR - the analysis regression check.

For every file of EXPECTED_DIR (one analysis output directory):
  summary.json  every key of the expected tree must be in the actual tree with
                an equal value: numbers equal to 1e-12 relative (NaN == NaN),
                strings and booleans equal; keys that name this build or this
                place (mixgeo, git, out, run, checkpoint, seconds) and the
                explanatory "note" texts are skipped,
                and keys the actual tree adds are allowed (so are files and
                analyses added to the "files" and "analyses" lists);
  *.tsv         the "# columns" line equal, every numeric field to 1e-12
                relative, the same number of rows and blank lines;
  *.gp          every line but comments ('#') equal.
Prints one line per difference (at most 20 per file) and exits 1 on any.
Standard library only.
"""
import json
import math
import os
import sys

RTOL = 1e-12
SKIP = {"mixgeo", "git", "out", "run", "checkpoint", "seconds", "source", "note"}


def close(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= RTOL * max(abs(a), abs(b)) or a == b


def cmp_json(e, a, path, out):
    if isinstance(e, dict):
        if not isinstance(a, dict):
            out.append("%s: expected an object" % path)
            return
        for k, v in e.items():
            if k in SKIP:
                continue
            if k not in a:
                out.append("%s.%s: missing" % (path, k))
                continue
            cmp_json(v, a[k], path + "." + k, out)
    elif isinstance(e, list):
        if path.endswith(".files") or path.endswith(".analyses"):
            # later versions may write more files and run more analyses
            if not isinstance(a, list) or not set(map(str, e)) <= set(map(str, a)):
                out.append("%s: %s not all in %s" % (path, sorted(e), a))
            return
        if not isinstance(a, list) or len(a) != len(e):
            out.append("%s: expected a list of %d" % (path, len(e)))
            return
        for i, (x, y) in enumerate(zip(e, a)):
            cmp_json(x, y, "%s[%d]" % (path, i), out)
    elif isinstance(e, (int, float)) and not isinstance(e, bool):
        if not isinstance(a, (int, float)) or not close(e, a):
            out.append("%s: %r != %r" % (path, e, a))
    elif e != a:
        out.append("%s: %r != %r" % (path, e, a))


def num(s):
    try:
        return float(s)
    except ValueError:
        return None


def cmp_tsv(ef, af, out):
    el = [l for l in open(ef).read().split("\n") if not l.startswith("#") or l.startswith("# columns")]
    al = [l for l in open(af).read().split("\n") if not l.startswith("#") or l.startswith("# columns")]
    if len(el) != len(al):
        out.append("%d lines != %d" % (len(el), len(al)))
        return
    for i, (x, y) in enumerate(zip(el, al)):
        if x.startswith("#") or not x:
            if x != y:
                out.append("line %d: %r != %r" % (i + 1, x, y))
            continue
        xs, ys = x.split("\t"), y.split("\t")
        if len(xs) != len(ys):
            out.append("line %d: %d fields != %d" % (i + 1, len(xs), len(ys)))
            continue
        for j, (u, v) in enumerate(zip(xs, ys)):
            nu, nv = num(u), num(v)
            if nu is None or nv is None:
                if u != v:
                    out.append("line %d field %d: %r != %r" % (i + 1, j + 1, u, v))
            elif not close(nu, nv):
                out.append("line %d field %d: %r != %r" % (i + 1, j + 1, u, v))


def cmp_text(ef, af, out):
    el = [l for l in open(ef).read().split("\n") if not l.startswith("#")]
    al = [l for l in open(af).read().split("\n") if not l.startswith("#")]
    if el != al:
        for i, (x, y) in enumerate(zip(el, al)):
            if x != y:
                out.append("line %d: %r != %r" % (i + 1, x, y))
                break
        else:
            out.append("%d lines != %d" % (len(el), len(al)))


def main():
    edir, adir = sys.argv[1], sys.argv[2]
    bad = 0
    for name in sorted(os.listdir(edir)):
        ef, af = os.path.join(edir, name), os.path.join(adir, name)
        out = []
        if not os.path.exists(af):
            out.append("missing")
        elif name.endswith(".json"):
            cmp_json(json.load(open(ef)), json.load(open(af)), "", out)
        elif name.endswith(".tsv"):
            cmp_tsv(ef, af, out)
        else:
            cmp_text(ef, af, out)
        for line in out[:20]:
            print("%s: %s" % (af, line))
        if len(out) > 20:
            print("%s: ... %d differences in all" % (af, len(out)))
        bad += bool(out)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
