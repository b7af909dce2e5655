#!/usr/bin/python3
"""check.py MIXGEO TMPDIR - `mixgeo analyze --states` against numpy (tests/e2e_states.sh).

Generates states, labels, logits and an affine readout with numpy, runs the CLI on
them and compares every number the issue names with a numpy reference to 1e-6
relative: per-class centred and uncentred singular values (and the pooled ones),
ECE / NLL / Brier, NC1 / NC3, the exact margins at the readout, the Theorem-1
residual (least squares of one-hot labels on [h 1]).  Then the same states in
float64, Fortran order and as a 4-d (n, C, H, W) array give the same spectra,
and every bad input exits 2 with one line naming the file.  Prints one line per
failure; exit status 1 on any.
"""
import json
import os
import subprocess
import sys

import numpy as np

MIXGEO, T = sys.argv[1], sys.argv[2]
fails = []


def fail(msg):
    fails.append(msg)
    print("FAIL:", msg)


def close(a, b, rtol=1e-6, what=""):
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        fail("%s: shape %s != %s" % (what, a.shape, b.shape))
        return
    scale = max(np.max(np.abs(b)) if b.size else 0.0, 1e-300)
    err = np.max(np.abs(a - b)) / scale if a.size else 0.0
    if not err <= rtol:
        fail("%s: relative difference %.3g > %g" % (what, err, rtol))


def run(*args, expect=0):
    p = subprocess.run([MIXGEO, "analyze", "-q"] + list(args), capture_output=True, text=True)
    if p.returncode != expect:
        fail("analyze %s: exit %d, expected %d: %s" % (" ".join(args), p.returncode, expect,
                                                      p.stderr.strip()))
    return p


def tsv(path):
    rows = [l.split("\t") for l in open(path).read().split("\n") if l and not l.startswith("#")]
    return np.array([[float(v) for v in r] for r in rows])


rng = np.random.default_rng(7)
C, p, n_c = 4, 12, 150
# class c: rank-(c + 3) data around its own mean, known singular values
H, y, S = [], [], {}
for c in range(C):
    r = c + 3
    U = np.linalg.qr(rng.standard_normal((n_c, r)))[0]
    U -= U.mean(0)                      # centred columns: the centred spectrum is exact
    U = np.linalg.qr(U)[0]
    V = np.linalg.qr(rng.standard_normal((p, r)))[0]
    s = np.sort(rng.uniform(1, 10, r))[::-1]
    mu = rng.standard_normal(p) * 3
    H.append(U @ np.diag(s) @ V.T + mu)
    y += [c] * n_c
    S[c] = s
H = np.vstack(H).astype(np.float32)
y = np.array(y, dtype=np.int64)
perm = rng.permutation(len(y))
H, y = H[perm], y[perm]
n = len(y)
W = rng.standard_normal((C, p)).astype(np.float32)
b = rng.standard_normal(C).astype(np.float32)
Z = (H.astype(np.float64) @ W.T.astype(np.float64) + b).astype(np.float32)
for name, a in [("h", H), ("y", y), ("z", Z), ("W", W), ("b", b)]:
    np.save(os.path.join(T, name + ".npy"), a)
f = lambda name: os.path.join(T, name)

run("--states", f("h.npy"), "--labels", f("y.npy"), "--logits", f("z.npy"), "--readout",
    f("W.npy") + "," + f("b.npy"), "--out", f("an"))
sj = json.load(open(f("an/summary.json")))
Hd = H.astype(np.float64)

# spectra: per class, centred and uncentred, pooled within and total
cen, unc = tsv(f("an/spectra-centred.tsv")), tsv(f("an/spectra-uncentred.tsv"))
within = []
for c in range(C):
    X = Hd[y == c]
    sc = np.linalg.svd(X - X.mean(0), compute_uv=False)
    su = np.linalg.svd(X, compute_uv=False)
    close(cen[: len(sc), 1 + c], sc, 1e-6, "class %d centred spectrum" % c)
    close(unc[: len(su), 1 + c], su, 1e-6, "class %d uncentred spectrum" % c)
    close(cen[: len(S[c]), 1 + c], S[c], 1e-5, "class %d known singular values" % c)
    within.append(X - X.mean(0))
close(cen[:, 1 + C], np.linalg.svd(np.vstack(within), compute_uv=False), 1e-6, "pooled within")
close(cen[:, 2 + C], np.linalg.svd(Hd - Hd.mean(0), compute_uv=False), 1e-6, "pooled total")
rk = [sj["corollary"]["per_class"][c]["rank_1e3"] for c in range(C)]
if rk != [c + 3 for c in range(C)]:
    fail("corollary ranks %s, expected %s" % (rk, [c + 3 for c in range(C)]))
if sj["corollary"]["predicted_per_class_dim"] != p - C + 1:
    fail("predicted_per_class_dim %s" % sj["corollary"]["predicted_per_class_dim"])

# calibration
P = np.exp(Z - Z.max(1, keepdims=True))
P /= P.sum(1, keepdims=True)
conf, pred = P.max(1), P.argmax(1)
acc = (pred == y).astype(float)
bins = 15
ece = 0.0
for k in range(bins):
    m = (conf > k / bins) & (conf <= (k + 1) / bins) if k else (conf <= 1 / bins)
    if m.any():
        ece += m.sum() / n * abs(acc[m].mean() - conf[m].mean())
cal = sj["calibration"]
close(cal["ece"], ece, 1e-6, "ECE")
close(cal["nll"], -np.mean(np.log(np.maximum(P[np.arange(n), y], 1e-12))), 1e-6, "NLL")
close(cal["brier"], np.mean(((P - np.eye(C)[y]) ** 2).sum(1)), 1e-6, "Brier")
close(cal["accuracy"], acc.mean(), 1e-12, "accuracy")

# neural collapse NC1, NC3 (conventions of metrics.h)
mu = np.array([Hd[y == c].mean(0) for c in range(C)])
mg = Hd.mean(0)
M = mu - mg
Sw = sum(((Hd[y == c] - mu[c]).T @ (Hd[y == c] - mu[c])) for c in range(C)) / n
Sb = M.T @ M / C
close(sj["collapse"]["nc1"], np.trace(Sw @ np.linalg.pinv(Sb, rcond=1e-10)) / C, 1e-6, "NC1")
Wd = W.astype(np.float64)
close(sj["collapse"]["nc3"],
      np.sum((Wd / np.linalg.norm(Wd) - M / np.linalg.norm(M)) ** 2), 1e-6, "NC3")

# exact margins at the readout
Zd = Hd @ Wd.T + b.astype(np.float64)
marg = np.full(n, np.inf)
for j in range(C):
    m = y != j
    with np.errstate(invalid="ignore", divide="ignore"):  # j == y rows are masked
        d = (Zd[np.arange(n), y] - Zd[:, j]) / np.linalg.norm(Wd[y] - Wd[j], axis=1)
    marg = np.where(m, np.minimum(marg, d), marg)
close(sj["margins"]["penultimate"]["median"], np.median(marg), 1e-6, "median margin")
close(sj["margins"]["penultimate"]["quantiles"], np.quantile(marg, [0, .05, .25, .5, .75, .95, 1]),
      1e-6, "margin quantiles")

# Theorem 1: least squares of one-hot labels on [h 1]
A = np.hstack([Hd, np.ones((n, 1))])
Y = np.eye(C)[y]
B = np.linalg.lstsq(A, Y, rcond=None)[0]
close(sj["theory"]["resid_rel"], np.linalg.norm(A @ B - Y) / np.linalg.norm(Y), 1e-6, "resid_rel")
if sj["theory"]["fit_rank"] != p + 1:
    fail("fit_rank %s" % sj["theory"]["fit_rank"])

# provenance: the files and their sha256
import hashlib
src = {e["role"]: e for e in sj["source"]["files"]}
for role, name in [("states", "h"), ("labels", "y"), ("logits", "z"), ("readout_W", "W"),
                   ("readout_b", "b")]:
    want = hashlib.sha256(open(f(name + ".npy"), "rb").read()).hexdigest()
    if src.get(role, {}).get("sha256") != want:
        fail("source %s: sha256 %s != %s" % (role, src.get(role, {}).get("sha256"), want))
if "fgsm" in sj or "maps" in sj:
    fail("fgsm or maps ran on external states")
if "fgsm" not in sj.get("skipped", {}):
    fail("summary.json lacks skipped.fgsm")

# the same states as float64, Fortran order, 4-d: the same spectra
np.save(f("h64.npy"), H.astype(np.float64))
np.save(f("hF.npy"), np.asfortranarray(H))
H4 = H.reshape(n, 3, 2, 2)
np.save(f("h4F.npy"), np.asfortranarray(H4))
for name in ["h64", "hF", "h4F"]:
    run("--states", f(name + ".npy"), "--labels", f("y.npy"), "--only", "spectra", "--out",
        f("an-" + name))
    other = tsv(f("an-%s/spectra-centred.tsv" % name))
    close(other, cen, 1e-12, name + ": spectra differ from the C-order float32 file")
# labels of other integer types
for dt in [np.int32, np.uint8]:
    np.save(f("y_%s.npy" % dt.__name__), y.astype(dt))
    run("--states", f("h.npy"), "--labels", f("y_%s.npy" % dt.__name__), "--only", "spectra",
        "--out", f("an-y"))
    close(tsv(f("an-y/spectra-centred.tsv")), cen, 0, "labels as " + dt.__name__)

# bad inputs: exit 2, one line naming the file
def bad(args, file, words):
    p = run(*args, expect=2)
    lines = p.stderr.strip().split("\n")
    if len(lines) != 1 or file not in lines[0] or not all(w in lines[0] for w in words):
        fail("bad input %s: %r (expected one line naming %s and %s)" % (args, p.stderr, file,
                                                                       words))

open(f("notnpy.npy"), "w").write("hello, world\n" * 10)
bad(["--states", f("notnpy.npy"), "--labels", f("y.npy")], "notnpy.npy", ["not a .npy"])
raw = open(f("h.npy"), "rb").read()
open(f("trunc.npy"), "wb").write(raw[: len(raw) // 2])
bad(["--states", f("trunc.npy"), "--labels", f("y.npy")], "trunc.npy", ["truncated"])
hdr = b"{'descr': '<f4', 'fortran_order': False, 'shape': (100000000, 40000), }"
hdr += b" " * (64 - (10 + len(hdr) + 1) % 64) + b"\n"
open(f("huge.npy"), "wb").write(b"\x93NUMPY\x01\x00" + len(hdr).to_bytes(2, "little") + hdr)
bad(["--states", f("huge.npy"), "--labels", f("y.npy")], "huge.npy", ["truncated"])
np.save(f("y_short.npy"), y[:-1])
bad(["--states", f("h.npy"), "--labels", f("y_short.npy")], "y_short.npy", ["labels"])
np.save(f("z_short.npy"), Z[:-3])
bad(["--states", f("h.npy"), "--labels", f("y.npy"), "--logits", f("z_short.npy")],
    "z_short.npy", ["logits"])
yn = y.copy()
yn[17] = -1
np.save(f("y_neg.npy"), yn)
bad(["--states", f("h.npy"), "--labels", f("y_neg.npy")], "y_neg.npy", ["-1"])
np.save(f("W_bad.npy"), W[:, :-1])
bad(["--states", f("h.npy"), "--labels", f("y.npy"), "--readout", f("W_bad.npy")],
    "W_bad.npy", ["readout"])
np.save(f("b_bad.npy"), b[:-1])
bad(["--states", f("h.npy"), "--labels", f("y.npy"), "--readout",
     f("W.npy") + "," + f("b_bad.npy")], "b_bad.npy", ["bias"])
Hn = H.copy()
Hn[5, 3] = np.nan
Hn[9, 0] = np.inf
np.save(f("h_nan.npy"), Hn)
bad(["--states", f("h_nan.npy"), "--labels", f("y.npy")], "h_nan.npy", ["2 non-finite"])
np.save(f("h_obj.npy"), np.array([[1, "a"]] * n, dtype=object), allow_pickle=True)
bad(["--states", f("h_obj.npy"), "--labels", f("y.npy")], "h_obj.npy", ["object"])
np.save(f("h_be.npy"), H.astype(">f4"))
bad(["--states", f("h_be.npy"), "--labels", f("y.npy")], "h_be.npy", ["big-endian"])
np.save(f("y_float.npy"), y.astype(np.float32))
bad(["--states", f("h.npy"), "--labels", f("y_float.npy")], "y_float.npy", ["integer"])
# analyses that need the network are refused when named
p2 = run("--states", f("h.npy"), "--labels", f("y.npy"), "--only", "fgsm", expect=2)
if "fgsm" not in p2.stderr or "network" not in p2.stderr:
    fail("--only fgsm on states: %r" % p2.stderr)
p2 = run("--states", f("h.npy"), "--labels", f("y.npy"), "--only", "collapse", expect=2)
if "readout" not in p2.stderr:
    fail("--only collapse without a readout: %r" % p2.stderr)
p2 = run("--states", f("h.npy"), "--labels", f("y.npy"), "--layer", "2", expect=2)
if "--layer" not in p2.stderr:
    fail("--layer with --states: %r" % p2.stderr)

print("%d checks failed" % len(fails) if fails else "all checks passed")
sys.exit(1 if fails else 0)
