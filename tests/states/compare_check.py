#!/usr/bin/python3
"""compare_check.py MIXGEO TMPDIR - CKA, TwoNN and the adaptive ECE of the CLI
against numpy references on random inputs (tests/e2e_compare.sh):
  - `mixgeo compare --states a.npy --states-b b.npy --out DIR`: linear and
    debiased CKA (Kornblith's reference formulas) to 1e-6 relative, for a pair
    with more examples than features (feature form), one with fewer (Gram
    form) and with a budget small enough to force many passes;
  - `mixgeo analyze --states ... --only dimension`: TwoNN per class and pooled
    against a numpy TwoNN with the same ECDF convention (F = i/N, the largest
    10% and mu_(N) left out), to 1e-6;
  - `mixgeo analyze --states ... --only calibration`: the adaptive (equal-mass)
    ECE against numpy, to 1e-6.
Prints one line per failure; exit 1 on any."""
import json
import os
import subprocess
import sys

import numpy as np

MIXGEO, T = sys.argv[1], sys.argv[2]
fails = []


def check(what, got, want, rtol=1e-6):
    if not (abs(got - want) <= rtol * max(abs(want), 1e-12)):
        fails.append(what)
        print("FAIL: %s: got %r, numpy %r" % (what, got, want))


def run(*args):
    p = subprocess.run([MIXGEO] + list(args), capture_output=True, text=True)
    if p.returncode != 0:
        fails.append(" ".join(args))
        print("FAIL: %s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr.strip()))
    return p


def cka_ref(X, Y):
    X = X.astype(np.float64) - X.astype(np.float64).mean(0)
    Y = Y.astype(np.float64) - Y.astype(np.float64).mean(0)
    n = X.shape[0]

    def u(a, b, ab):
        ra, rb = (a * a).sum(1), (b * b).sum(1)
        return ab - n / (n - 2.0) * ra.dot(rb) + ra.sum() * rb.sum() / ((n - 1.0) * (n - 2.0))

    xy = np.linalg.norm(X.T @ Y) ** 2
    xx = np.linalg.norm(X.T @ X) ** 2
    yy = np.linalg.norm(Y.T @ Y) ** 2
    return xy / np.sqrt(xx * yy), u(X, Y, xy) / np.sqrt(u(X, X, xx) * u(Y, Y, yy))


rng = np.random.default_rng(3)
for name, n, p, q, budget in [("features", 500, 20, 13, "256"), ("gram", 40, 60, 90, "256"),
                               ("passes", 300, 40, 30, "1")]:
    X = rng.standard_normal((n, p)).astype(np.float32)
    Y = (0.5 * X[:, : min(p, q)] @ rng.standard_normal((min(p, q), q)) +
         rng.standard_normal((n, q))).astype(np.float32) + 4.0
    np.save(os.path.join(T, "a.npy"), X)
    np.save(os.path.join(T, "b.npy"), Y.reshape(n, q, 1))  # any shape (n, ...)
    out = os.path.join(T, "cmp-" + name)
    run("compare", "-q", "--states", os.path.join(T, "a.npy"), "--states-b",
        os.path.join(T, "b.npy"), "--budget", budget, "--out", out)
    s = json.load(open(os.path.join(out, "summary.json")))["cka"]
    lin, deb = cka_ref(X, Y)
    check(name + ": linear CKA", s["linear"], lin)
    check(name + ": debiased CKA", s["debiased"], deb)
    form = s["pairs"][0]["form"]
    if (name == "gram") != (form == "gram"):
        fails.append(name + " form")
        print("FAIL: %s: computed in %s form" % (name, form))


def twonn_ref(X, discard=0.1):
    X = X.astype(np.float64)
    d2 = ((X[:, None, :] - X[None, :, :]) ** 2).sum(2)
    np.fill_diagonal(d2, np.inf)
    r = np.sqrt(np.sort(d2, axis=1)[:, :2])
    mu = np.sort(r[:, 1] / r[:, 0])
    N = len(mu)
    k = min(int(np.floor(N * (1 - discard))), N - 1)
    x = np.log(mu[:k])
    y = -np.log(1 - np.arange(1, N + 1)[:k] / N)
    return (x @ y) / (x @ x)


C, n_c, p = 3, 150, 12
H = np.vstack([rng.standard_normal((n_c, 4)) @ rng.standard_normal((4, p)) + 3 * c
               for c in range(C)]).astype(np.float32)
H += 0.05 * rng.standard_normal(H.shape).astype(np.float32)
y = np.repeat(np.arange(C), n_c).astype(np.int32)
Z = (H @ rng.standard_normal((p, C)) * 0.3).astype(np.float32)
np.save(os.path.join(T, "h.npy"), H)
np.save(os.path.join(T, "y.npy"), y)
np.save(os.path.join(T, "z.npy"), Z)
run("analyze", "-q", "--states", os.path.join(T, "h.npy"), "--labels", os.path.join(T, "y.npy"),
    "--logits", os.path.join(T, "z.npy"), "--only", "dimension,calibration", "--bins", "7",
    "--out", os.path.join(T, "an"))
s = json.load(open(os.path.join(T, "an", "summary.json")))
for c in range(C):
    check("TwoNN class %d" % c, s["dimension"]["per_class"][c]["d"], twonn_ref(H[y == c]))
check("TwoNN pooled", s["dimension"]["pooled"]["d"], twonn_ref(H))
P = np.exp(Z.astype(np.float64) - Z.max(1, keepdims=True))
P /= P.sum(1, keepdims=True)
conf, ok = P.max(1), (P.argmax(1) == y)
order = np.lexsort((np.arange(len(conf)), conf))
B, N = 7, len(conf)
ece = 0.0
for b in range(B):
    idx = order[b * N // B:(b + 1) * N // B]
    ece += len(idx) / N * abs(ok[idx].mean() - conf[idx].mean())
check("adaptive ECE", s["calibration"]["ece_adaptive"], ece)
print("%d checks failed" % len(fails) if fails else "all checks passed")
sys.exit(1 if fails else 0)
