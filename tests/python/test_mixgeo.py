"""Tests of the Python module mixgeo (python/mixgeo/) against numpy references.

Run by tests/e2e_python.sh (`make check`):
    PYTHONPATH=python MIXGEO_LIB=build/libmganalysis.so /usr/bin/python3 -m pytest -q tests/python
Kinds: numpy references on random inputs (fixed seeds, 1e-6 relative),
known answers (constructed spectra to 1e-10), input handling (dtypes, memory
orders, shapes: identical answers), every bad input (a clear error), the
library search, and the analyze() driver (when the library has it).
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import mixgeo

RTOL = 1e-6
FLT_EPS = float(np.finfo(np.float32).eps)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# ---------------------------------------------------------------- helpers

def make_states(seed=0, n=240, p=7, C=3, dtype=np.float64, spread=1.0):
    """n x p states around C random class means, labels cycling 0..C-1 (shuffled)."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % C)
    mu = 3.0 * rng.standard_normal((C, p))
    H = mu[y] + spread * rng.standard_normal((n, p)) * rng.uniform(0.2, 2.0, p)
    return H.astype(dtype), y


def allclose_s(got, ref, rtol=RTOL):
    """Singular values: rtol relative, and rtol * s_1 absolute for the small ones."""
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    scale = ref[0] if ref.size else 0.0
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol * scale)


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def svals(X):
    return np.linalg.svd(np.asarray(X, dtype=np.float64), compute_uv=False)


def as64(a):
    """The values the C function sees for float32 input, in double."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def onehot(y, C):
    Y = np.zeros((len(y), C))
    Y[np.arange(len(y)), y] = 1.0
    return Y


# ---------------------------------------------------------------- library

def test_version_and_library():
    assert mixgeo.__version__ == "0.1.0"
    assert isinstance(mixgeo.library_path, str) and mixgeo.library_path
    assert issubclass(mixgeo.Error, RuntimeError)
    assert issubclass(mixgeo.InputError, mixgeo.Error)
    assert issubclass(mixgeo.InputError, ValueError)


def test_bind_entry_points():
    """analysis/bind.c: struct sizes, and the spectra accessors' bad arguments."""
    from mixgeo import _lib
    L = _lib.lib
    assert L.mg_bind_struct_size(b"no_such_struct") == 0
    assert L.mg_bind_struct_size(None) == 0
    for cname, mirror in _lib._MIRRORS.items():
        assert L.mg_bind_struct_size(cname.encode()) == __import__("ctypes").sizeof(mirror)
    H, y = make_states(seed=35, n=40, p=3, C=2)
    X, y32 = np.ascontiguousarray(H), y.astype(np.int32)
    with mixgeo._spectra_result("t", X, y32, 3, "auto", 0, 0) as r:
        assert r.info() == (3, 3, "qr-stream", 40)
        assert L.mg_spectra_result_values(r.ptr, _lib.PART_CENTRED, 3, None) == -1
        assert L.mg_spectra_result_values(r.ptr, _lib.PART_CENTRED, -1, None) == -1
        assert L.mg_spectra_result_values(r.ptr, 99, 0, None) == -1
        assert L.mg_spectra_result_values(r.ptr, _lib.PART_WITHIN, 99, None) == 3
        assert L.mg_spectra_result_class_n(r.ptr, 5, None) == -1
        assert r.class_n(2) == (0, 0)
        assert len(r.values(_lib.PART_CENTRED, 2)) == 0  # an empty class
        np.testing.assert_array_equal(r.values(_lib.PART_CLASS_MEAN, 2), np.zeros(3))


def test_threads():
    old = mixgeo.get_threads()
    mixgeo.set_threads(1)
    assert mixgeo.get_threads() == 1
    mixgeo.set_threads(old)
    with pytest.raises(mixgeo.InputError, match="n must be >= 1"):
        mixgeo.set_threads(0)


def test_blas_core():
    core = mixgeo.blas_core()
    assert isinstance(core, str) and core and core != "unknown"
    # OPENBLAS_CORETYPE is read when OpenBLAS loads: a fresh interpreter told
    # another family (Sandybridge: any CPU with AVX) reports it
    env = dict(os.environ, OPENBLAS_CORETYPE="Sandybridge")
    out = subprocess.run([sys.executable, "-c", "import mixgeo; print(mixgeo.blas_core())"],
                         env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert out == "Sandybridge"


def test_docstrings():
    for name in ["spectra", "spectra_full", "spectrum_summary", "corollary", "theorem1_fit",
                 "collapse", "calibration", "margins", "cka", "twonn", "twonn_fit", "analyze"]:
        doc = getattr(mixgeo, name).__doc__
        assert doc and len(doc) > 400, name
    assert "ddof = 0" in mixgeo.collapse.__doc__
    assert "not of the class" in mixgeo.collapse.__doc__
    assert "(b/B, (b+1)/B]" in mixgeo.calibration.__doc__
    assert "min_{j != y_i} (z_y - z_j)" in mixgeo.margins.__doc__


def _run_import(env_extra, cwd, unset=("MIXGEO_LIB",), path=None):
    env = dict(os.environ)
    for k in unset:
        env.pop(k, None)
    env.update(env_extra)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONPATH"] = path if path is not None else os.path.join(ROOT, "python")
    return subprocess.run([sys.executable, "-c",
                           "import mixgeo; print(mixgeo.library_path)"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_mixgeo_lib_missing_is_import_error(tmp_path):
    bad = str(tmp_path / "nowhere" / "libmganalysis.so")
    r = _run_import({"MIXGEO_LIB": bad}, str(tmp_path), unset=())
    assert r.returncode != 0
    assert "ImportError" in r.stderr
    assert "MIXGEO_LIB" in r.stderr and bad in r.stderr


def test_mixgeo_lib_not_a_library(tmp_path):
    bad = tmp_path / "libmganalysis.so"
    bad.write_text("not an ELF file\n")
    r = _run_import({"MIXGEO_LIB": str(bad)}, str(tmp_path), unset=())
    assert r.returncode != 0
    assert "could not load libmganalysis" in r.stderr and str(bad) in r.stderr


def test_install_prefix_layout(tmp_path):
    """A package in PREFIX/lib/python3/dist-packages/mixgeo finds PREFIX/lib/libmganalysis.so.0."""
    prefix = tmp_path / "prefix"
    site = prefix / "lib" / "python3" / "dist-packages"
    shutil.copytree(os.path.join(ROOT, "python", "mixgeo"), site / "mixgeo",
                    ignore=shutil.ignore_patterns("__pycache__"))
    src_dir = os.path.dirname(os.path.realpath(mixgeo.library_path))
    shutil.copy(os.path.realpath(mixgeo.library_path), prefix / "lib" / "libmganalysis.so.0")
    for sib in ("libmixgeo.so", "libmixgeo.so.0"):  # when libmganalysis needs libmixgeo
        if os.path.exists(os.path.join(src_dir, sib)):
            shutil.copy(os.path.realpath(os.path.join(src_dir, sib)), prefix / "lib" / sib)
    r = _run_import({}, str(tmp_path), path=str(site))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(prefix / "lib" / "libmganalysis.so.0")


def test_import_error_names_every_place(tmp_path):
    """No MIXGEO_LIB, a package copy with no library anywhere near it."""
    site = tmp_path / "a" / "b" / "c"
    shutil.copytree(os.path.join(ROOT, "python", "mixgeo"), site / "mixgeo",
                    ignore=shutil.ignore_patterns("__pycache__"))
    r = _run_import({"LD_LIBRARY_PATH": ""}, str(tmp_path), path=str(site))
    if r.returncode == 0:
        pytest.skip("a libmganalysis is installed system-wide: %s" % r.stdout.strip())
    for where in ("source tree", "install prefix", "find_library"):
        assert where in r.stderr, r.stderr
    assert str(tmp_path / "a" / "b" / "build" / "libmganalysis.so") in r.stderr
    assert str(tmp_path / "a" / "libmganalysis.so.0") in r.stderr


def test_source_tree_default():
    """Without MIXGEO_LIB the package in python/ loads build/libmganalysis.so."""
    lib = os.path.join(ROOT, "build", "libmganalysis.so")
    if not os.path.exists(lib):
        pytest.skip("build/libmganalysis.so is not built yet")
    r = _run_import({}, ROOT)
    assert r.returncode == 0, r.stderr
    assert os.path.realpath(r.stdout.strip()) == os.path.realpath(lib)


# ---------------------------------------------------------------- spectra

@pytest.mark.parametrize("mode", ["auto", "qr-stream", "rows"])
def test_spectra_centred_vs_numpy(mode):
    H, y = make_states(seed=1, n=300, p=9, C=4)
    # a class with fewer rows than dimensions
    H = np.vstack([H, np.random.default_rng(2).standard_normal((5, 9))])
    y = np.concatenate([y, np.full(5, 4)])
    s = mixgeo.spectra(H, y, mode=mode)
    assert sorted(s) == [0, 1, 2, 3, 4]
    # rows mode stores float32: its reference is the float32-rounded data
    ref_H = as64(H) if mode == "rows" else H
    for c in range(5):
        Hc = ref_H[y == c]
        assert s[c].dtype == np.float64
        allclose_s(s[c], svals(Hc - Hc.mean(0)))
        assert np.all(np.diff(s[c]) <= 0)
    assert len(s[4]) == 5 and s[4][-1] < 1e-10 * s[4][0]  # rank <= n_c - 1


def test_spectra_uncentred_vs_numpy():
    H, y = make_states(seed=3, n=200, p=6, C=3)
    s = mixgeo.spectra(H, y, centred=False)
    for c in range(3):
        allclose_s(s[c], svals(H[y == c]))


def test_spectra_float32_input():
    H, y = make_states(seed=4, n=150, p=5, C=3, dtype=np.float32)
    s = mixgeo.spectra(H, y)
    for c in range(3):
        Hc = as64(H[y == c])
        allclose_s(s[c], svals(Hc - Hc.mean(0)), rtol=1e-9)


def test_spectra_classes_absent_and_given():
    H, y = make_states(seed=5, n=90, p=4, C=3)
    y = np.where(y == 1, 2, y)  # class 1 empty
    s = mixgeo.spectra(H, y, classes=6)
    assert sorted(s) == [0, 2]


def test_spectra_full():
    H, y = make_states(seed=6, n=210, p=6, C=3)
    f = mixgeo.spectra_full(H, y)
    assert f["classes"] == 3 and f["p"] == 6 and f["n"] == 210 and f["mode"] == "qr-stream"
    mus = np.stack([H[y == c].mean(0) for c in range(3)])
    for c in range(3):
        Hc = H[y == c]
        pc = f["per_class"][c]
        assert pc["n"] == len(Hc) and pc["n_skipped"] == 0
        allclose_s(pc["centred"], svals(Hc - Hc.mean(0)))
        allclose_s(pc["uncentred"], svals(Hc))
        np.testing.assert_allclose(pc["mean"], Hc.mean(0), rtol=1e-12, atol=1e-12)
    allclose_s(f["within"], svals(H - mus[y]))
    allclose_s(f["total"], svals(H - H.mean(0)))
    np.testing.assert_allclose(f["mean"], H.mean(0), rtol=1e-12, atol=1e-12)


def test_spectra_rows_cap():
    H, y = make_states(seed=7, n=120, p=50, C=3)
    f = mixgeo.spectra_full(H, y, mode="rows", max_rows_per_class=10)
    assert f["mode"] == "rows"
    for c in range(3):
        pc = f["per_class"][c]
        assert pc["n"] == 10 and pc["n_skipped"] == 30
        Hc = as64(H[y == c][:10])
        allclose_s(pc["centred"], svals(Hc - Hc.mean(0)))


def known_class(rng, n_c, p, s, mu_norm):
    """n_c x p data whose centred singular values are s (then zeros) and whose
    uncentred ones are s and sqrt(n_c) mu_norm: U diag(s) V^T + 1 mu^T with U
    orthonormal and centred, V orthonormal, mu orthogonal to V."""
    k = len(s)
    A = rng.standard_normal((n_c, k))
    U, _ = np.linalg.qr(A - A.mean(0))
    Q, _ = np.linalg.qr(rng.standard_normal((p, k + 1)))
    V, mu = Q[:, :k], mu_norm * Q[:, k]
    return U @ np.diag(s) @ V.T + mu


KNOWN = [(60, [9.0, 4.0, 2.5, 1.0, 0.25], 3.0),
         (6, [5.0, 1e-3, 1e-6], 0.5),         # n_c < p, tiny values
         (40, [2.0, 2.0, 2.0], 7.0)]          # repeated values


def test_spectra_known_answer_float64():
    rng = np.random.default_rng(8)
    p = 10
    Hs, ys = [], []
    for c, (n_c, s, m) in enumerate(KNOWN):
        Hs.append(known_class(rng, n_c, p, np.array(s), m))
        ys.append(np.full(n_c, c, dtype=np.int64))
    H, y = np.vstack(Hs), np.concatenate(ys)
    perm = rng.permutation(len(y))
    H, y = H[perm], y[perm]
    cen = mixgeo.spectra(H, y, mode="qr-stream")
    unc = mixgeo.spectra(H, y, centred=False, mode="qr-stream")
    for c, (n_c, s, m) in enumerate(KNOWN):
        ns = min(n_c, p)
        want = np.zeros(ns)
        want[:len(s)] = s
        got = cen[c]
        assert len(got) == ns
        assert np.max(np.abs(got - want)) <= 1e-10 * want[0], (c, got, want)
        wu = np.zeros(ns)
        wu[:len(s) + 1] = np.sort(np.append(s, np.sqrt(n_c) * m))[::-1]
        assert np.max(np.abs(unc[c] - wu)) <= 1e-10 * wu[0], (c, unc[c], wu)


def test_spectra_modes_agree_float32():
    H, y = make_states(seed=9, n=400, p=12, C=4, dtype=np.float32)
    a = mixgeo.spectra(H, y, mode="qr-stream", block_rows=7)
    b = mixgeo.spectra(H, y, mode="rows")
    for c in range(4):
        assert np.max(np.abs(a[c] - b[c])) <= 1e-10 * a[c][0]


# ---------------------------------------------------------------- input handling

def test_dtypes_and_orders_same_answers():
    H, y = make_states(seed=10, n=160, p=6, C=4)
    base = mixgeo.spectra(H, y)
    # Fortran order and non-contiguous views: the same values exactly
    for X in (np.asfortranarray(H), np.ascontiguousarray(np.repeat(H, 2, axis=1))[:, ::2]):
        got = mixgeo.spectra(X, y)
        for c in base:
            np.testing.assert_array_equal(got[c], base[c])
    # a strided view of examples equals its copy
    v = mixgeo.spectra(H[::2], y[::2])
    w = mixgeo.spectra(H[::2].copy(), y[::2].copy())
    for c in v:
        np.testing.assert_array_equal(v[c], w[c])
    # float32 input = the float64 answer to float32 precision
    f32 = mixgeo.spectra(H.astype(np.float32), y)
    for c in base:
        allclose_s(f32[c], base[c], rtol=1e-5)
    # big-endian arrays (e.g. from a .npy written elsewhere)
    be = mixgeo.spectra(H.astype(">f8"), y.astype(">i4"))
    for c in base:
        np.testing.assert_array_equal(be[c], base[c])
    # float16 = its float32 upcast exactly; labels of any integer dtype
    h16 = H.astype(np.float16)
    a = mixgeo.spectra(h16, y.astype(np.uint8))
    b = mixgeo.spectra(h16.astype(np.float32), y.astype(np.int64))
    for c in a:
        np.testing.assert_array_equal(a[c], b[c])


def test_4d_input_equals_reshape():
    rng = np.random.default_rng(11)
    n = 64
    H4 = rng.standard_normal((n, 2, 3, 3))
    y = np.arange(n) % 4
    W = rng.standard_normal((4, 18))
    b = rng.standard_normal(4)
    H2 = H4.reshape(n, -1)
    for f in (lambda X: mixgeo.spectra(X, y), lambda X: mixgeo.spectra(X, y, centred=False)):
        a, c = f(H4), f(H2)
        for k in a:
            np.testing.assert_array_equal(a[k], c[k])
    np.testing.assert_array_equal(mixgeo.margins(H4, y, W, b), mixgeo.margins(H2, y, W, b))
    Z = H2 @ W.T
    assert mixgeo.collapse(H4, y, W, Z) == mixgeo.collapse(H2, y, W, Z)
    assert mixgeo.theorem1_fit(H4, y)["resid"] == mixgeo.theorem1_fit(H2, y)["resid"]
    # a Fortran-ordered 4-d array too
    np.testing.assert_array_equal(mixgeo.margins(np.asfortranarray(H4), y, W, b),
                                  mixgeo.margins(H2, y, W, b))


def test_array_likes():
    """Nested lists work like the arrays they make."""
    H, y = make_states(seed=34, n=30, p=3, C=2)
    a = mixgeo.spectra(H.tolist(), y.tolist())
    b = mixgeo.spectra(H, y)
    for c in b:
        np.testing.assert_array_equal(a[c], b[c])


def test_inputs_not_modified():
    H, y = make_states(seed=12, n=60, p=4, C=3)
    H0, y0 = H.copy(), y.copy()
    W = np.random.default_rng(0).standard_normal((3, 4))
    mixgeo.spectra(H, y)
    mixgeo.theorem1_fit(H, y)
    mixgeo.margins(H, y, W)
    mixgeo.collapse(H, y, W)
    np.testing.assert_array_equal(H, H0)
    np.testing.assert_array_equal(y, y0)


# ---------------------------------------------------------------- summaries

def test_spectrum_summary_by_hand():
    rng = np.random.default_rng(13)
    s = np.sort(rng.uniform(0.0, 5.0, 12))[::-1]
    s[-2:] = [1e-5, 1e-9]
    n, p = 40, 12
    d = mixgeo.spectrum_summary(s, n=n, p=p)
    q = s / s.sum()
    assert d["ns"] == 12 and d["n"] == n and d["p"] == p
    assert rel(d["s1"], s[0]) < 1e-12
    assert rel(d["rest"], s[1:].sum()) < RTOL
    assert rel(d["sum_sq"], np.sum(s**2)) < RTOL
    assert rel(d["s1_per_sqrt_n"], s[0] / np.sqrt(n)) < RTOL
    assert rel(d["effective_rank"], np.exp(-np.sum(q * np.log(q)))) < RTOL
    assert rel(d["participation_ratio"], np.sum(s**2) ** 2 / np.sum(s**4)) < RTOL
    assert rel(d["stable_rank"], np.sum(s**2) / s[0] ** 2) < RTOL
    cum = np.cumsum(s**2) / np.sum(s**2)
    for f, key in ((0.90, "k90"), (0.95, "k95"), (0.99, "k99")):
        assert d[key] == int(np.argmax(cum >= f - 1e-12)) + 1
    tol = s[0] * max(n, p) * FLT_EPS
    assert rel(d["tol"], tol) < 1e-12
    assert d["rank_eps"] == int(np.sum(s > tol))
    assert d["rank_1e2"] == int(np.sum(s > 1e-2 * s[0]))
    assert d["rank_1e3"] == int(np.sum(s > 1e-3 * s[0]))
    assert all(type(v) in (int, float) for v in d.values())


def test_spectrum_summary_defaults_and_zero():
    s = np.array([3.0, 1.0])
    d = mixgeo.spectrum_summary(s)
    assert d["n"] == 2 and d["p"] == 2
    z = mixgeo.spectrum_summary(np.zeros(4))
    assert z["s1"] == 0 and z["effective_rank"] == 0 and z["rank_eps"] == 0
    e = mixgeo.spectrum_summary([])
    assert e["ns"] == 0 and e["sum"] == 0


def test_spectrum_summary_of_spectra():
    H, y = make_states(seed=14, n=90, p=5, C=3)
    s = mixgeo.spectra(H, y)
    n0 = int(np.sum(y == 0))
    d = mixgeo.spectrum_summary(s[0], n=n0, p=5)
    assert d["ns"] == 5 and d["rank_eps"] == 5


# ---------------------------------------------------------------- theory

def test_theorem1_fit_vs_lstsq():
    H, y = make_states(seed=15, n=250, p=6, C=4, spread=2.0)
    r = mixgeo.theorem1_fit(H, y)
    n, p, d = 250, 6, 4
    A1 = np.hstack([H, np.ones((n, 1))])
    Y = onehot(y, d)
    B, _, rank, _ = np.linalg.lstsq(A1, Y, rcond=None)
    resid = np.linalg.norm(A1 @ B - Y)
    assert r["B"].shape == (p + 1, d) and r["B"].dtype == np.float64
    assert r["n"] == n and r["p"] == p and r["d"] == d and r["rank"] == rank == p + 1
    assert r["underdetermined"] is False and r["dtype"] == "float64"
    assert rel(r["resid"], resid) < RTOL
    assert rel(r["resid_rel"], resid / np.sqrt(n)) < RTOL
    np.testing.assert_allclose(r["B"], B, rtol=RTOL, atol=RTOL * np.abs(B).max())
    np.testing.assert_array_equal(r["A"], r["B"][:p])
    np.testing.assert_array_equal(r["b"], r["B"][p])
    assert rel(r["rcond"], max(n, p + 1) * FLT_EPS) < 1e-12


def test_theorem1_fit_float32_and_rcond():
    H, y = make_states(seed=16, n=120, p=5, C=3, dtype=np.float32)
    r = mixgeo.theorem1_fit(H, y, rcond=-1)
    assert r["dtype"] == "float32" and r["rcond"] < 0
    A1 = np.hstack([as64(H), np.ones((120, 1))])
    B = np.linalg.lstsq(A1, onehot(y, 3), rcond=None)[0]
    assert rel(r["resid"], np.linalg.norm(A1 @ B - onehot(y, 3))) < RTOL


def test_theorem1_fit_underdetermined():
    rng = np.random.default_rng(17)
    H = rng.standard_normal((10, 20))
    y = np.arange(10) % 3
    r = mixgeo.theorem1_fit(H, y)
    assert r["underdetermined"] is True and r["rank"] == 10
    assert r["resid"] < 1e-10
    A1 = np.hstack([H, np.ones((10, 1))])
    B = np.linalg.lstsq(A1, onehot(y, 3), rcond=None)[0]  # minimum norm
    np.testing.assert_allclose(r["B"], B, rtol=RTOL, atol=RTOL * np.abs(B).max())


def test_theorem1_fit_known_zero_gap():
    """Class means affinely independent, within-class noise in other directions:
    an affine map fits the one-hot labels exactly."""
    rng = np.random.default_rng(18)
    n, C, p = 150, 3, 6
    y = np.arange(n) % C
    H = np.zeros((n, p))
    H[:, :2] = np.array([[0.0, 0.0], [4.0, 1.0], [1.0, 3.0]])[y]
    H[:, 2:] = rng.standard_normal((n, 4))
    r = mixgeo.theorem1_fit(H, y)
    assert r["resid"] < 1e-10 and r["resid_rel"] < 1e-10
    c = mixgeo.corollary(H, y)
    assert c["predicted_per_class_dim"] == 4 and c["theorem1_applies"] is True
    for pc in c["per_class"].values():
        assert pc["rank_eps"] == 4 and pc["rank_1e3"] == 4
    # the readout that fits them ignores the noise directions: zero leakage
    W = r["A"].T  # d x p
    c = mixgeo.corollary(H, y, W)
    assert abs(c["leakage"]) < 1e-18 * 1e6
    assert c["class_means_affine_dim"]["rank_eps"] == 2


def test_corollary_vs_numpy():
    H, y = make_states(seed=19, n=240, p=8, C=4)
    rng = np.random.default_rng(20)
    # make class 2 flat: 3 directions only
    idx = y == 2
    H[idx] = H[idx].mean(0) + rng.standard_normal((idx.sum(), 3)) @ rng.standard_normal((3, 8))
    W = rng.standard_normal((4, 8))
    c = mixgeo.corollary(H, y, W)
    assert c["dim"] == 8 and c["classes"] == 4 and c["predicted_per_class_dim"] == 5
    assert c["spectra_mode"] == "qr-stream"
    num = den = 0.0
    for k in range(4):
        Hc = H[y == k]
        D = Hc - Hc.mean(0)
        s = svals(D)
        assert c["per_class"][k]["n"] == len(Hc)
        assert c["per_class"][k]["rank_eps"] == int(np.sum(s > s[0] * max(len(Hc), 8) * FLT_EPS))
        assert c["per_class"][k]["rank_1e3"] == int(np.sum(s > 1e-3 * s[0]))
        a, b = np.sum((D @ W.T) ** 2), np.sum(D**2)
        assert rel(c["per_class"][k]["leakage"], a / b) < RTOL
        num, den = num + a, den + b
    assert c["per_class"][2]["rank_eps"] == 3
    assert rel(c["leakage"], num / den) < RTOL
    mus = np.stack([H[y == k].mean(0) for k in range(4)])
    sw = svals(H - mus[y])
    assert c["pooled_within"]["rank_1e2"] == int(np.sum(sw > 1e-2 * sw[0]))
    sm = svals(mus - mus.mean(0))
    allclose_s(c["class_means_affine_dim"]["singular_values"], sm[:len(
        c["class_means_affine_dim"]["singular_values"])])
    E = mus - H.mean(0)
    nk = np.array([np.sum(y == k) for k in range(4)])
    gain = np.sum(nk * np.sum((E @ W.T) ** 2, axis=1)) / np.sum(nk * np.sum(E**2, axis=1))
    assert rel(c["gain_between"], gain) < RTOL
    assert rel(c["leakage_rel"], c["leakage"] / gain) < RTOL
    c0 = mixgeo.corollary(H, y)
    assert c0["leakage"] is None and c0["per_class"] == {
        k: {kk: v for kk, v in c["per_class"][k].items() if kk in ("n", "rank_eps", "rank_1e2",
                                                                     "rank_1e3")}
        for k in range(4)}


def test_corollary_below_theorem():
    H, y = make_states(seed=21, n=100, p=2, C=5)
    c = mixgeo.corollary(H, y)
    assert c["predicted_per_class_dim"] == 0 and c["theorem1_applies"] is False


# ---------------------------------------------------------------- calibration

def softmax(Z):
    e = np.exp(Z - Z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def calibration_ref(P, y, B):
    n, C = P.shape
    conf, pred = P.max(1), P.argmax(1)
    ok = (pred == y).astype(float)
    b = np.clip(np.ceil(conf * B).astype(int) - 1, 0, B - 1)
    ece = mce = oe = 0.0
    bins = []
    for k in range(B):
        m = b == k
        if m.any():
            cf, ac = conf[m].mean(), ok[m].mean()
            ece += m.sum() / n * abs(ac - cf)
            mce = max(mce, abs(ac - cf))
            oe += m.sum() / n * cf * max(cf - ac, 0.0)
            bins.append((int(m.sum()), cf, ac))
        else:
            bins.append((0, np.nan, np.nan))
    py = np.maximum(P[np.arange(n), y], 1e-12)
    return {"accuracy": ok.mean(), "mean_conf": conf.mean(), "ece": ece, "mce": mce, "oe": oe,
            "nll": -np.mean(np.log(py)), "brier": np.mean(np.sum((P - onehot(y, C)) ** 2, 1)),
            "bins": bins}


def check_calibration(d, ref, B):
    for k in ("accuracy", "mean_conf", "ece", "mce", "oe", "nll", "brier"):
        assert rel(d[k], ref[k]) < RTOL or abs(d[k] - ref[k]) < 1e-15, (k, d[k], ref[k])
    r = d["reliability"]
    assert r.shape == (B,) and r.dtype == mixgeo.RELIABILITY_DTYPE
    np.testing.assert_allclose(r["lo"], np.arange(B) / B, rtol=1e-15)
    np.testing.assert_allclose(r["hi"], np.arange(1, B + 1) / B, rtol=1e-15)
    for k, (cnt, cf, ac) in enumerate(ref["bins"]):
        assert r["count"][k] == cnt
        np.testing.assert_allclose([r["conf"][k], r["acc"][k]], [cf, ac], rtol=RTOL)
    assert r["count"].sum() == d["n"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_calibration_vs_numpy(dtype):
    rng = np.random.default_rng(22)
    n, C = 500, 5
    y = rng.integers(0, C, n)
    Z = (rng.standard_normal((n, C)) * 2.0 + 2.5 * onehot(y, C)).astype(dtype)
    d = mixgeo.calibration(Z, y)
    assert d["n"] == n and d["classes"] == C and d["bins"] == 15 and d["nll_floored"] == 0
    check_calibration(d, calibration_ref(softmax(Z.astype(np.float64)), y, 15), 15)
    d7 = mixgeo.calibration(Z, y, bins=7)
    check_calibration(d7, calibration_ref(softmax(Z.astype(np.float64)), y, 7), 7)


def test_calibration_probs_and_floor():
    rng = np.random.default_rng(23)
    n, C = 300, 3
    y = rng.integers(0, C, n)
    P = softmax(rng.standard_normal((n, C)) * 3)
    d = mixgeo.calibration(P, y, probs=True)
    check_calibration(d, calibration_ref(P, y, 15), 15)
    np.testing.assert_allclose(mixgeo.calibration(np.log(P), y)["ece"], d["ece"], rtol=1e-12)
    P[0] = 0.0
    P[0, (y[0] + 1) % C] = 1.0
    f = mixgeo.calibration(P, y, probs=True)
    assert f["nll_floored"] == 1


# ---------------------------------------------------------------- collapse

def collapse_ref(H, y, W, Z=None):
    n, p = H.shape
    C = W.shape[0]
    mu = np.stack([H[y == c].mean(0) for c in range(C)])
    muG = H.mean(0)  # of the samples, not of the class means
    M = mu - muG
    D = H - mu[y]
    SW = D.T @ D / n
    SB = M.T @ M / C
    out = {"tr_sw": np.trace(SW), "tr_sb": np.trace(SB),
           "nc1": np.trace(SW @ np.linalg.pinv(SB, rcond=1e-10, hermitian=True)) / C}
    for key, V in (("means", M), ("w", W)):
        nr = np.linalg.norm(V, axis=1)
        out["equinorm_" + key] = nr.std(ddof=0) / nr.mean()
        G = (V @ V.T) / np.outer(nr, nr)
        off = np.abs(G + 1.0 / (C - 1))[~np.eye(C, dtype=bool)]
        out["equiangle_" + key] = off.mean()
        out["equiangle_%s_max" % key] = off.max()
    out["nc3"] = np.sum((W / np.linalg.norm(W) - M / np.linalg.norm(M)) ** 2)
    dist = ((H[:, None, :] - mu[None]) ** 2).sum(-1)
    ncc = dist.argmin(1)
    out["ncc_accuracy"] = np.mean(ncc == y)
    out["nc4"] = np.mean(ncc == Z.argmax(1)) if Z is not None else np.nan
    return out


def test_collapse_vs_numpy():
    H, y = make_states(seed=24, n=300, p=10, C=4, dtype=np.float32, spread=2.0)
    rng = np.random.default_rng(25)
    W = rng.standard_normal((4, 10)).astype(np.float32)
    Z = (as64(H) @ as64(W).T + 0.5 * rng.standard_normal((300, 4))).astype(np.float32)
    d = mixgeo.collapse(H, y, W, logits=Z)
    ref = collapse_ref(as64(H), y, as64(W), as64(Z))
    assert d["n"] == 300 and d["p"] == 10 and d["classes"] == 4 and d["sb_rank"] == 3
    for k, v in ref.items():
        assert rel(d[k], v) < RTOL, (k, d[k], v)
    assert np.isnan(mixgeo.collapse(H, y, W)["nc4"])


def test_collapse_known_simplex():
    """Collapsed classes at a simplex ETF with W = M: NC1 = 0, NC2 = 0, NC3 = 0."""
    C, p = 4, 6
    V = np.linalg.qr(np.random.default_rng(26).standard_normal((p, C)))[0]
    Mn = (np.eye(C) - 1.0 / C) @ V.T  # centred simplex vertices, C x p
    y = np.repeat(np.arange(C), 5)
    H = Mn[y]
    d = mixgeo.collapse(H, y, Mn, logits=H @ Mn.T)
    assert d["nc1"] < 1e-10 and d["tr_sw"] < 1e-12
    assert d["equinorm_means"] < 1e-6 and d["equiangle_means"] < 1e-6
    assert d["nc3"] < 1e-10 and d["nc4"] == 1.0 and d["ncc_accuracy"] == 1.0


# ---------------------------------------------------------------- margins

def margins_ref(H, y, W, b):
    Z = H @ W.T + (b if b is not None else 0)
    out = np.empty(len(y))
    for i in range(len(y)):
        out[i] = min((Z[i, y[i]] - Z[i, j]) / np.linalg.norm(W[y[i]] - W[j])
                     for j in range(W.shape[0]) if j != y[i])
    return out


def test_margins_vs_numpy():
    H, y = make_states(seed=27, n=200, p=6, C=4)
    rng = np.random.default_rng(28)
    W, b = rng.standard_normal((4, 6)), rng.standard_normal(4)
    m = mixgeo.margins(H, y, W, b)
    assert m.dtype == np.float64 and m.shape == (200,)
    ref = margins_ref(as64(H), y, as64(W), as64(b))
    np.testing.assert_allclose(m, ref, rtol=RTOL, atol=RTOL * np.abs(ref).max())
    assert (m < 0).any() and (m > 0).any()
    m0 = mixgeo.margins(H, y, W)
    np.testing.assert_allclose(m0, margins_ref(as64(H), y, as64(W), None), rtol=RTOL,
                               atol=RTOL * np.abs(ref).max())


def test_margins_equal_rows():
    H = np.array([[1.0, 0.0], [0.0, 1.0]])
    W = np.array([[1.0, 1.0], [1.0, 1.0]])
    b = np.array([1.0, 0.0])
    m = mixgeo.margins(H, np.array([0, 1]), W, b)
    assert m[0] == np.inf and m[1] == -np.inf


# ---------------------------------------------------------------- bad input

def test_bad_inputs():
    H, y = make_states(seed=29, n=50, p=4, C=3)
    W = np.ones((3, 4))
    b = np.zeros(3)
    Z = np.zeros((50, 3))
    E = mixgeo.InputError
    with pytest.raises(E, match="n mismatch: H has 50 examples but y has 49 labels"):
        mixgeo.spectra(H, y[:49])
    with pytest.raises(E, match="n mismatch: Z has 50 examples but y has 10 labels"):
        mixgeo.calibration(Z, y[:10])
    with pytest.raises(E, match="n mismatch: H has 50 examples but y has 3 labels"):
        mixgeo.margins(H, y[:3], W, b)
    with pytest.raises(E, match="n mismatch"):
        mixgeo.theorem1_fit(H[:10], y)
    with pytest.raises(E, match=r"logits has shape \(49, 3\), expected \(n, classes\) = \(50, 3\)"):
        mixgeo.collapse(H, y, W, logits=Z[:49])
    yn = y.copy()
    yn[7] = -2
    for f in (lambda: mixgeo.spectra(H, yn), lambda: mixgeo.margins(H, yn, W),
              lambda: mixgeo.calibration(Z, yn), lambda: mixgeo.theorem1_fit(H, yn),
              lambda: mixgeo.collapse(H, yn, W), lambda: mixgeo.corollary(H, yn)):
        with pytest.raises(ValueError, match="negative label -2 at example 7"):
            f()
    with pytest.raises(E, match=r"W has shape \(3, 5\), expected \(classes, p\) = \(C, 4\)"):
        mixgeo.margins(H, y, np.ones((3, 5)))
    with pytest.raises(E, match=r"W has shape \(4,\)"):
        mixgeo.collapse(H, y, np.ones(4))
    with pytest.raises(E, match=r"W has shape \(3, 5\)"):
        mixgeo.corollary(H, y, np.ones((3, 5)))
    with pytest.raises(E, match=r"b has shape \(4,\), expected \(classes,\) = \(3,\)"):
        mixgeo.margins(H, y, W, np.zeros(4))
    with pytest.raises(E, match=r"label 2 at example \d+ is outside 0..1 \(2 classes from W"):
        mixgeo.margins(H, y, np.ones((2, 4)))
    with pytest.raises(E, match="at least 2 classes"):
        mixgeo.margins(H, np.zeros(50, int), np.ones((1, 4)))
    with pytest.raises(E, match="labels must be an integer array"):
        mixgeo.spectra(H, y.astype(float))
    with pytest.raises(E, match=r"labels must have shape \(n,\)"):
        mixgeo.spectra(H, y[:, None])
    with pytest.raises(E, match="real numeric array"):
        mixgeo.spectra(H.astype(complex), y)
    with pytest.raises(E, match="no examples"):
        mixgeo.spectra(np.zeros((0, 4)), np.zeros(0, int))
    with pytest.raises(E, match="no features"):
        mixgeo.spectra(np.zeros((5, 0)), np.zeros(5, int))
    with pytest.raises(E, match="mode must be one of"):
        mixgeo.spectra(H, y, mode="fast")
    with pytest.raises(E, match="bins must be >= 1"):
        mixgeo.calibration(Z, y, bins=0)
    with pytest.raises(E, match="at least 2 classes"):
        mixgeo.calibration(np.zeros((50, 1)), np.zeros(50, int))
    with pytest.raises(E, match=r"Z has shape \(50,\)"):
        mixgeo.calibration(np.zeros(50), y)
    with pytest.raises(E, match="not in descending order"):
        mixgeo.spectrum_summary([1.0, 2.0])
    with pytest.raises(E, match="beyond the float32 range"):
        mixgeo.margins(np.full((2, 4), 1e300), np.array([0, 1]), W)
    with pytest.raises(E, match=r"label 3 at example \d+ is outside 0..2"):
        mixgeo.spectra(H, np.where(y == 0, 3, y), classes=3)
    with pytest.raises(E, match="neural collapse: class 1 has no examples"):
        mixgeo.collapse(H, np.where(y == 1, 0, y), W)


def test_non_finite_inputs():
    H, y = make_states(seed=30, n=40, p=3, C=2)
    H[5, 1] = np.nan
    W = np.ones((2, 3))
    # the library reports it (MG_ERR_NUMERIC) with its own message
    with pytest.raises(mixgeo.Error, match="non-finite value in row 5, column 1") as e:
        mixgeo.spectra(H, y)
    assert e.value.status == 5 and e.value.status_name == "numerical error"
    assert not isinstance(e.value, ValueError)
    with pytest.raises(mixgeo.Error, match="non-finite value in row 5, column 1"):
        mixgeo.spectra(H.astype(np.float32), y, mode="rows")
    with pytest.raises(mixgeo.Error, match="non-finite state in row 5"):
        mixgeo.theorem1_fit(H, y)
    with pytest.raises(mixgeo.Error, match="feature 1 of example 5 is nan"):
        mixgeo.collapse(H, y, W)
    with pytest.raises(mixgeo.Error, match="non-finite"):
        mixgeo.corollary(H, y)
    # the C margins do not check: the binding does
    with pytest.raises(mixgeo.InputError, match=r"H: non-finite value nan at example 5, feature 1"):
        mixgeo.margins(H, y, W)
    H[5, 1] = 0.0
    Wn = W.copy()
    Wn[1, 2] = np.inf
    with pytest.raises(mixgeo.InputError, match="W: non-finite value inf"):
        mixgeo.margins(H, y, Wn)
    Z = np.zeros((40, 2))
    Z[3, 0] = np.nan
    for dt in (np.float64, np.float32):
        with pytest.raises(mixgeo.InputError, match=r"Z: non-finite value nan at index \(3, 0\)"):
            mixgeo.calibration(Z.astype(dt), y)
    with pytest.raises(mixgeo.Error, match="probability 0 of example 3 is nan"):
        mixgeo.calibration(Z, y, probs=True)


# ---------------------------------------------------------------- analyze

def test_analyze_arrays(tmp_path):
    if not mixgeo.HAVE_ANALYZE:
        pytest.skip("%s has no mg_analyze_arrays yet (analysis/analyze.c is being written); "
                    "analyze() raises mixgeo.Error until it lands" % mixgeo.library_path)
    H, y = make_states(seed=31, n=240, p=8, C=3, dtype=np.float32, spread=1.5)
    rng = np.random.default_rng(32)
    W = rng.standard_normal((3, 8)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    Z = (as64(H) @ as64(W).T + as64(b)).astype(np.float32)
    out = tmp_path / "an"
    s = mixgeo.analyze(H, y, logits=Z, readout=(W, b), out=str(out), seed=3)
    assert (out / "summary.json").is_file()
    assert s == json.loads((out / "summary.json").read_text())
    for sec in ("spectra", "corollary", "theory", "calibration", "collapse", "margins"):
        assert sec in s, sec
    # the sections agree with the functions of this module on the same arrays
    cal = mixgeo.calibration(Z, y)
    assert rel(s["calibration"]["ece"], cal["ece"]) < 1e-9
    assert rel(s["calibration"]["nll"], cal["nll"]) < 1e-9
    col = mixgeo.collapse(H, y, W, logits=Z)
    assert rel(s["collapse"]["nc1"], col["nc1"]) < 1e-9
    assert rel(s["theory"]["resid"], mixgeo.theorem1_fit(H, y)["resid"]) < 1e-9
    cor = mixgeo.corollary(H, y, W)
    assert s["corollary"]["predicted_per_class_dim"] == cor["predicted_per_class_dim"] == 6
    assert rel(s["corollary"]["leakage"], cor["leakage"]) < 1e-9
    # a Path and a list for only
    s2 = mixgeo.analyze(H, y, readout=W, out=tmp_path / "an2", only=["spectra", "margins"])
    assert "spectra" in s2 and "margins" in s2


def test_analyze_bad_inputs(tmp_path):
    H, y = make_states(seed=33, n=30, p=4, C=3)
    W = np.ones((3, 4))
    Z = np.zeros((30, 2))
    if not mixgeo.HAVE_ANALYZE:
        with pytest.raises(mixgeo.Error, match="no mg_analyze_arrays"):
            mixgeo.analyze(H, y, out=str(tmp_path / "x"))
        return
    with pytest.raises(mixgeo.InputError, match=r"logits has shape \(30, 2\)"):
        mixgeo.analyze(H, y, logits=Z, readout=W, out=str(tmp_path / "x"))
    with pytest.raises(mixgeo.InputError, match="n mismatch"):
        mixgeo.analyze(H, y[:3], out=str(tmp_path / "x"))
    with pytest.raises(mixgeo.InputError):
        mixgeo.analyze(H, y, out=str(tmp_path / "x"), only="nonsense")
    assert not (tmp_path / "x" / "summary.json").exists()


# ---------------------------------------------------------------- documentation

def test_readme_example(capsys):
    """The ```python blocks of python/README.md run as shown."""
    text = open(os.path.join(ROOT, "python", "README.md"), encoding="utf-8").read()
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    assert blocks, "python/README.md has no python example"
    for code in blocks:
        exec(compile(code, "python/README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert "Corollary 1 predicts 14 per class" in out
    assert "n mismatch: H has 600 examples but y has 599 labels" in out
    assert "adaptive ECE" in out and "CKA linear" in out and "TwoNN d: pooled" in out
