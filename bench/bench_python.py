#!/usr/bin/python3
"""bench_python.py - per-class spectra of 60,000 x 512 float32 states (10
classes) three ways, interleaved rep by rep (BENCH_REPS, default 3):
  module   mixgeo.spectra(H, y) from Python (ctypes; array conversion included)
  cli      `mixgeo analyze --states h.npy --labels y.npy --only spectra` as a
           whole process (reading the file, sha256 provenance, writing files)
  numpy    numpy's exact per-class SVD (np.linalg.svd of each centred class,
           values only), the reference researchers use
with the medians and the medians of the per-rep ratios module / cli (target:
within 10%, i.e. <= 1.10) and numpy / module (the speed issue's target:
>= 1.5: our spectra, centred, uncentred and pooled, at least 1.5x faster
than numpy's centred per-class SVDs alone, on the same threads).  Run by
`make bench` with PYTHONPATH=python, MIXGEO_LIB and MIXGEO set; threads:
OPENBLAS_NUM_THREADS (default 2 for every side).
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
import mixgeo  # noqa: E402

threads = int(os.environ["OPENBLAS_NUM_THREADS"])
mixgeo.set_threads(threads)
MIXGEO = os.environ.get("MIXGEO", "build/mixgeo")
n, p, C = 60000, 512, 10
rng = np.random.default_rng(1)
y = rng.integers(0, C, n).astype(np.int32)
basis = rng.standard_normal((48, p)).astype(np.float32)
scales = (np.arange(48, 0, -1) / 48.0).astype(np.float32)
H = (rng.standard_normal((n, 48)).astype(np.float32) * scales) @ basis
H += 0.01 * rng.standard_normal((n, p)).astype(np.float32) + y[:, None].astype(np.float32)


def timed(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def med(ts):
    return sorted(ts)[len(ts) // 2]


def numpy_spectra():
    Hd = H.astype(np.float64)
    return [np.linalg.svd(Hd[y == c] - Hd[y == c].mean(0), compute_uv=False) for c in range(C)]


# module, cli and numpy interleaved rep by rep, so that a machine shared with
# other work loads all three alike; the ratios are medians of per-rep ratios
REPS = int(os.environ.get("BENCH_REPS", "3"))
with tempfile.TemporaryDirectory() as d:
    np.save(os.path.join(d, "h.npy"), H)
    np.save(os.path.join(d, "y.npy"), y)
    cmd = [MIXGEO, "analyze", "-q", "--states", os.path.join(d, "h.npy"), "--labels",
           os.path.join(d, "y.npy"), "--only", "spectra", "--threads", str(threads), "--out",
           os.path.join(d, "an")]
    all_mod, all_cli, all_np = [], [], []
    for _ in range(REPS):
        all_mod.append(timed(lambda: mixgeo.spectra(H, y)))
        all_cli.append(timed(lambda: subprocess.run(cmd, check=True)))
        all_np.append(timed(numpy_spectra))
    t_mod, t_cli, t_np = med(all_mod), med(all_cli), med(all_np)
    r_cli = med([a / b for a, b in zip(all_mod, all_cli)])
    r_np = med([b / a for a, b in zip(all_mod, all_np)])
    s = mixgeo.spectra(H, y)
    ref = numpy_spectra()
    err = max(np.max(np.abs(s[c] - ref[c])) / ref[c][0] for c in range(C))
print("per-class spectra of %d x %d float32 states, %d classes, %d threads (medians of %d, "
      "interleaved):" % (n, p, C, threads, REPS))
print("  module %.3f s %s" % (t_mod, ["%.3f" % t for t in all_mod]))
print("  cli    %.3f s %s (whole process: read, sha256, spectra, files)" %
      (t_cli, ["%.3f" % t for t in all_cli]))
print("  numpy  %.3f s %s (exact per-class SVD in double)" % (t_np, ["%.3f" % t for t in all_np]))
print("  ratio module / cli %.3f (target <= 1.10); max |s - s_numpy| / s1 %.2g" % (r_cli, err))
print("  speed-up numpy / module %.2fx (target >= 1.5, %d threads both; module / numpy %.3f)"
      % (r_np, threads, 1.0 / r_np))
sys.exit(0 if err < 1e-9 else 1)
