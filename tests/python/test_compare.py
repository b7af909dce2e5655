"""Tests of mixgeo.cka, mixgeo.twonn / twonn_fit and the adaptive ECE of
mixgeo.calibration (analysis/compare.h) against numpy references.

Run by tests/e2e_python.sh (`make check`):
    PYTHONPATH=python MIXGEO_LIB=build/libmganalysis.so /usr/bin/python3 -m pytest -q tests/python
The C functions read float32: the references use the float32-rounded inputs
in double (as64), and agree to 1e-6 relative.
"""
import ctypes

import numpy as np
import pytest

import mixgeo
from mixgeo import _lib

RTOL = 1e-6


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def as64(a):
    """The values the C function sees (float32), in double, flattened per example."""
    a = np.asarray(a, dtype=np.float32).astype(np.float64)
    return a.reshape(a.shape[0], -1)


# ---------------------------------------------------------------- CKA references
# Kornblith's reference code (google-research/representation_similarity,
# Demo.ipynb; Kornblith et al. 2019, Nguyen et al. 2021), in numpy.

def gram_linear(x):
    return x @ x.T


def center_gram(gram, unbiased=False):
    gram = gram.copy()
    if unbiased:
        n = gram.shape[0]
        np.fill_diagonal(gram, 0)
        means = np.sum(gram, 0) / (n - 2)
        means -= np.sum(means) / (2 * (n - 1))
        gram -= means[:, None]
        gram -= means[None, :]
        np.fill_diagonal(gram, 0)
    else:
        means = np.mean(gram, 0)
        means -= np.mean(means) / 2
        gram -= means[:, None]
        gram -= means[None, :]
    return gram


def cka_gram_ref(X, Y, debiased=False):
    gx = center_gram(gram_linear(X), unbiased=debiased)
    gy = center_gram(gram_linear(Y), unbiased=debiased)
    return gx.ravel() @ gy.ravel() / (np.linalg.norm(gx) * np.linalg.norm(gy))


def _debiased_dot(xty, ssr_x, ssr_y, sq_x, sq_y, n):
    return xty - n / (n - 2.0) * ssr_x @ ssr_y + sq_x * sq_y / ((n - 1) * (n - 2))


def cka_feature_ref(X, Y, debiased=False):
    """feature_space_linear_cka of the reference code; also returns its parts."""
    X = X - X.mean(0, keepdims=True)
    Y = Y - Y.mean(0, keepdims=True)
    xy = np.linalg.norm(X.T @ Y) ** 2
    xx = np.linalg.norm(X.T @ X) ** 2
    yy = np.linalg.norm(Y.T @ Y) ** 2
    if not debiased:
        return xy / np.sqrt(xx * yy), (xy, xx, yy)
    n = X.shape[0]
    sx, sy = np.einsum("ij,ij->i", X, X), np.einsum("ij,ij->i", Y, Y)
    nx, ny = sx.sum(), sy.sum()
    uxy = _debiased_dot(xy, sx, sy, nx, ny, n)
    uxx = _debiased_dot(xx, sx, sx, nx, nx, n)
    uyy = _debiased_dot(yy, sy, sy, ny, ny, n)
    return uxy / np.sqrt(uxx * uyy), (uxy, uxx, uyy)


def check_cka(r, X, Y):
    """r (mixgeo.cka of X, Y) against both reference forms."""
    X64, Y64 = as64(X), as64(Y)
    lin, (xy, xx, yy) = cka_feature_ref(X64, Y64)
    deb, (uxy, uxx, uyy) = cka_feature_ref(X64, Y64, debiased=True)
    assert rel(r["linear"], lin) < RTOL, (r["linear"], lin)
    assert rel(r["debiased"], deb) < RTOL, (r["debiased"], deb)
    for k, v in (("xy", xy), ("xx", xx), ("yy", yy), ("uxy", uxy), ("uxx", uxx), ("uyy", uyy)):
        assert rel(r[k], v) < RTOL, (k, r[k], v)
    # the Gram-matrix formulas of the reference code give the same ratios
    assert rel(r["linear"], cka_gram_ref(X64, Y64)) < RTOL
    assert rel(r["debiased"], cka_gram_ref(X64, Y64, debiased=True)) < RTOL
    assert r["n"] == X64.shape[0] and r["p"] == X64.shape[1] and r["q"] == Y64.shape[1]


def related(seed, n, p, q, noise=1.0):
    """X (n x p) and Y = X A + noise (n x q), with shifted means."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * rng.uniform(0.3, 3.0, p) + rng.standard_normal(p)
    Y = X @ rng.standard_normal((p, q)) + noise * rng.standard_normal((n, q)) + 2.0
    return X, Y


# ---------------------------------------------------------------- CKA

def test_cka_feature_form_vs_numpy():
    X, Y = related(1, 400, 12, 9)
    r = mixgeo.cka(X, Y)
    assert r["form"] == "features" and r["passes"] == 2  # the means, one block
    check_cka(r, X, Y)
    assert 0 < r["debiased"] < r["linear"] < 1


def test_cka_gram_form_vs_numpy():
    X, Y = related(2, 60, 45, 35)  # n < p + q
    r = mixgeo.cka(X, Y)
    assert r["form"] == "gram"
    assert r["passes"] == 3  # the means, then one column block per side
    check_cka(r, X, Y)


def test_cka_small_budget_many_passes():
    X, Y = related(3, 500, 30, 20)
    ref = mixgeo.cka(X, Y)
    w = 30 + 20
    budget = 2 * 7 * w * 8  # 7 columns of w doubles per block: ceil(50 / 7) = 8 blocks
    r = mixgeo.cka(X, Y, budget_mib=budget / 2**20)
    assert r["form"] == "features" and r["passes"] == 1 + 8
    check_cka(r, X, Y)
    for k in ("linear", "debiased", "xy", "xx", "yy"):
        assert rel(r[k], ref[k]) < 1e-12, k


def test_cka_gram_beyond_budget_falls_back_to_features():
    X, Y = related(4, 50, 40, 30)  # n < p + q, but 2 n^2 doubles (40000 B) > budget
    r = mixgeo.cka(X, Y, budget_mib=0.03)
    assert r["form"] == "features" and r["passes"] > 2
    check_cka(r, X, Y)
    g = mixgeo.cka(X, Y)
    assert g["form"] == "gram"
    assert rel(r["linear"], g["linear"]) < 1e-9 and rel(r["debiased"], g["debiased"]) < 1e-9


def test_cka_invariances():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((300, 16)) * rng.uniform(0.5, 2.0, 16)
    Q, _ = np.linalg.qr(rng.standard_normal((16, 16)))
    r = mixgeo.cka(X, X @ Q)
    assert abs(r["linear"] - 1) < RTOL and abs(r["debiased"] - 1) < RTOL
    m = rng.standard_normal(16) * 3.0
    r = mixgeo.cka(X, -2.5 * X + m)  # c X + 1 m^T
    assert abs(r["linear"] - 1) < RTOL and abs(r["debiased"] - 1) < RTOL
    # and in the Gram form (n < p + q)
    Xs = X[:20]
    r = mixgeo.cka(Xs, Xs @ Q)
    assert r["form"] == "gram"
    assert abs(r["linear"] - 1) < RTOL and abs(r["debiased"] - 1) < RTOL
    # symmetric in X and Y
    A, B = related(6, 200, 8, 5)
    assert rel(mixgeo.cka(A, B)["linear"], mixgeo.cka(B, A)["linear"]) < 1e-12
    assert rel(mixgeo.cka(A, B)["debiased"], mixgeo.cka(B, A)["debiased"]) < 1e-12


def test_cka_independent_gaussians():
    """Debiased CKA of independent matrices is ~0; linear CKA is biased upwards
    (about sqrt(p q) / n here)."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((2000, 64))
    Y = rng.standard_normal((2000, 48))
    r = mixgeo.cka(X, Y)
    assert abs(r["debiased"]) < 0.02, r["debiased"]
    assert r["linear"] > 0.02 and r["linear"] > 5 * abs(r["debiased"]), r
    check_cka(r, X, Y)


def test_cka_input_handling():
    """Any float dtype, memory order and (n, ...) shape: flattened per example."""
    rng = np.random.default_rng(8)
    X = rng.standard_normal((120, 3, 2, 2)).astype(np.float32)
    Y = rng.standard_normal((120, 5)).astype(np.float32)
    Y[:, 0] += X[:, 0, 0, 0]
    ref = mixgeo.cka(X.reshape(120, -1), Y)
    for Xv, Yv in ((X, Y), (np.asfortranarray(X), Y.astype(np.float64)),
                   (X.astype(np.float64), np.asfortranarray(Y)),
                   (X[:, :, :, ::-1].copy()[:, :, :, ::-1], Y[::-1][::-1])):
        r = mixgeo.cka(Xv, Yv)
        assert r["linear"] == ref["linear"] and r["debiased"] == ref["debiased"]
    # 1-d states: one feature each
    r = mixgeo.cka(X[:, 0, 0, 0], Y[:, 0])
    assert r["p"] == 1 and r["q"] == 1
    check_cka(r, X[:, 0, 0, 0].reshape(-1, 1), Y[:, :1])
    # float16 is read exactly
    h = X.reshape(120, -1).astype(np.float16)
    check_cka(mixgeo.cka(h, Y), h, Y)
    # the caller's arrays are not modified
    Xc = X.copy()
    mixgeo.cka(X, Y)
    np.testing.assert_array_equal(X, Xc)


def test_cka_degenerate():
    rng = np.random.default_rng(9)
    X = rng.standard_normal((30, 4))
    r = mixgeo.cka(X, np.ones((30, 3)))  # no spread
    assert np.isnan(r["linear"]) and np.isnan(r["debiased"])
    r = mixgeo.cka(X[:3], X[:3] @ rng.standard_normal((4, 2)))  # n < 4
    assert np.isfinite(r["linear"]) and np.isnan(r["debiased"])


def test_cka_bad_inputs():
    E = mixgeo.InputError
    X, Y = related(10, 40, 4, 3)
    with pytest.raises(E, match="n mismatch: X has 40 examples but Y has 39"):
        mixgeo.cka(X, Y[:39])
    with pytest.raises(E, match="at least 2 examples"):
        mixgeo.cka(X[:1], Y[:1])
    with pytest.raises(E, match="no examples"):
        mixgeo.cka(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(E, match="no features"):
        mixgeo.cka(np.zeros((5, 0)), Y[:5])
    for b in (0, -1, float("nan"), "big", True):
        with pytest.raises(E, match="budget_mib"):
            mixgeo.cka(X, Y, budget_mib=b)
    with pytest.raises(E, match="real numeric array"):
        mixgeo.cka(X.astype(complex), Y)
    with pytest.raises(E, match="beyond the float32 range"):
        mixgeo.cka(np.full((4, 2), 1e300), Y[:4])
    Xn = X.copy()
    Xn[7, 2] = np.nan
    with pytest.raises(mixgeo.Error, match="X: a non-finite value at row 7, feature 2") as e:
        mixgeo.cka(Xn, Y)
    assert e.value.status == _lib.MG_ERR_FORMAT
    Yn = Y.copy()
    Yn[3, 1] = np.inf
    with pytest.raises(mixgeo.Error, match="Y: a non-finite value at row 3, feature 1"):
        mixgeo.cka(X, Yn)
    with pytest.raises(mixgeo.Error, match="holds no column block") as e:
        mixgeo.cka(X, Y, budget_mib=1e-5)  # 10 bytes
    assert e.value.status == _lib.MG_ERR_NOMEM


# ---------------------------------------------------------------- TwoNN reference

def twonn_ratios_ref(X):
    """mu = r2 / r1 of every point (exact, in double), NaN where r1 = 0."""
    X = as64(X)
    D = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(D, np.inf)
    D.sort(axis=1)
    r1, r2 = D[:, 0], D[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r1 > 0, r2 / r1, np.nan)


def twonn_fit_ref(mu, discard):
    """F(mu_(i)) = i / N on the sorted ratios; the largest `discard` fraction
    and always mu_(N) left out; slope through the origin of -log(1 - F) on
    log mu."""
    s = np.sort(mu[~np.isnan(mu)])
    N = len(s)
    keep = min(int(np.floor(N * (1.0 - discard))), N - 1)
    x = np.log(s[:keep])
    y = -np.log(1.0 - np.arange(1, keep + 1) / N)
    return (x @ y) / (x @ x), keep


def sphere(rng, n, d, ambient=50):
    """n points uniform on the unit sphere S^d of a random (d+1)-dim subspace."""
    g = rng.standard_normal((n, d + 1))
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    Q, _ = np.linalg.qr(rng.standard_normal((ambient, d + 1)))
    return g @ Q.T


# ---------------------------------------------------------------- TwoNN

@pytest.mark.parametrize("discard", [0.1, 0.0, 0.25])
def test_twonn_vs_numpy(discard):
    rng = np.random.default_rng(11)
    X = rng.standard_normal((400, 6)) @ rng.standard_normal((6, 12)) + 1.5
    r = mixgeo.twonn(X, discard=discard, return_ratios=True)
    mu = twonn_ratios_ref(X)
    np.testing.assert_allclose(r["mu"], mu, rtol=1e-12)
    d, keep = twonn_fit_ref(mu, discard)
    assert r["n"] == 400 and r["n_duplicate"] == 0 and r["discard"] == discard
    assert r["n_fit"] == keep == min(int(np.floor(400 * (1 - discard))), 399)
    assert rel(r["d"], d) < RTOL, (r["d"], d)
    assert set(mixgeo.twonn(X, discard=discard)) == {"d", "n", "n_duplicate", "n_fit",
                                                     "discard"}
    assert mixgeo.twonn(X, discard=discard)["d"] == r["d"]


def test_twonn_convention_matters():
    """The stated convention, not the i/N-keeping-mu_(N) or (i-1)/N ones."""
    rng = np.random.default_rng(12)
    X = rng.standard_normal((300, 5))
    r = mixgeo.twonn(X, discard=0.0, return_ratios=True)
    s = np.sort(r["mu"])
    N = len(s)
    x = np.log(s[:-1])
    alt = -np.log(1.0 - np.arange(0, N - 1) / N)  # (i-1)/N
    d_alt = (x @ alt) / (x @ x)
    assert rel(r["d"], d_alt) > 1e-3
    assert r["n_fit"] == N - 1  # mu_(N) left out even with discard 0


def test_twonn_duplicates():
    rng = np.random.default_rng(13)
    X = rng.standard_normal((200, 4))
    X[50] = X[10]
    X[51] = X[10]
    X[120] = X[7]
    r = mixgeo.twonn(X, return_ratios=True)
    assert r["n_duplicate"] == 5
    dup = [7, 10, 50, 51, 120]
    assert np.isnan(r["mu"][dup]).all() and np.isfinite(np.delete(r["mu"], dup)).all()
    mu = twonn_ratios_ref(X)
    np.testing.assert_allclose(r["mu"], mu, rtol=1e-12)
    d, keep = twonn_fit_ref(mu, 0.1)
    assert r["n_fit"] == keep == int(np.floor(195 * 0.9))
    assert rel(r["d"], d) < RTOL


@pytest.mark.parametrize("d", [2, 5, 10])
def test_twonn_sphere(d):
    rng = np.random.default_rng(100 + d)
    X = sphere(rng, 2000, d)
    r = mixgeo.twonn(X)
    assert abs(r["d"] - d) < 0.1 * d, (d, r["d"])


def test_twonn_per_class():
    rng = np.random.default_rng(14)
    A = sphere(rng, 300, 2, ambient=20)
    B = sphere(rng, 300, 6, ambient=20) + 5.0
    X = np.vstack([A, B])
    y = np.repeat([0, 2], 300)
    y = np.concatenate([y, [3, 3]])
    X = np.vstack([X, rng.standard_normal((2, 20))])  # a class of 2 points
    perm = rng.permutation(len(y))
    X, y = X[perm], y[perm]
    r = mixgeo.twonn(X, y=y, return_ratios=True)
    assert set(r) == {"pooled", "per_class"}
    pooled = mixgeo.twonn(X, return_ratios=True)
    assert r["pooled"]["d"] == pooled["d"]
    np.testing.assert_array_equal(r["pooled"]["mu"], pooled["mu"])
    assert sorted(r["per_class"]) == [0, 2, 3]  # class 1 is absent
    for c in (0, 2):
        Xc = X[y == c]
        mu = twonn_ratios_ref(Xc)
        np.testing.assert_allclose(r["per_class"][c]["mu"], mu, rtol=1e-12)
        assert rel(r["per_class"][c]["d"], twonn_fit_ref(mu, 0.1)[0]) < RTOL
        assert r["per_class"][c]["n"] == 300
    assert r["per_class"][0]["d"] < r["per_class"][2]["d"]
    small = r["per_class"][3]
    assert small["n"] == 2 and small["n_fit"] == 0 and np.isnan(small["d"])
    assert small["mu"].shape == (2,) and np.isnan(small["mu"]).all()
    r2 = mixgeo.twonn(X, y=y)
    assert "mu" not in r2["pooled"] and "mu" not in r2["per_class"][0]


def test_twonn_input_handling():
    rng = np.random.default_rng(15)
    X = rng.standard_normal((150, 2, 3, 2))
    ref = mixgeo.twonn(X.reshape(150, -1))
    for Xv in (X, np.asfortranarray(X), X.astype(np.float32), X[::-1][::-1]):
        assert mixgeo.twonn(Xv)["d"] == ref["d"]
    r = mixgeo.twonn(X[:, 0, 0, 0], return_ratios=True)  # 1-d: points on a line
    np.testing.assert_allclose(r["mu"], twonn_ratios_ref(X[:, 0, 0, 0].reshape(-1, 1)),
                               rtol=1e-12)
    r3 = mixgeo.twonn(X[:3])  # floor(3 * 0.9) = 2 ratios fitted
    assert r3["n"] == 3 and r3["n_fit"] == 2 and np.isfinite(r3["d"])
    r3 = mixgeo.twonn(X[:3], discard=0.5)  # floor(1.5) = 1: no fit
    assert r3["n_fit"] == 1 and np.isnan(r3["d"])


def test_twonn_fit():
    rng = np.random.default_rng(16)
    X = rng.standard_normal((300, 4))
    r = mixgeo.twonn(X, discard=0.1, return_ratios=True)
    for discard in (0.1, 0.0, 0.3, 0.95):
        f = mixgeo.twonn_fit(r["mu"], discard=discard)
        d, keep = twonn_fit_ref(r["mu"], discard)
        assert f["n_fit"] == keep and f["n"] == 300 and f["n_duplicate"] == 0
        assert rel(f["d"], d) < 1e-12
    assert mixgeo.twonn_fit(r["mu"], 0.1)["d"] == r["d"]
    mu = r["mu"].astype(np.float32)
    mu[[3, 9]] = np.nan
    f = mixgeo.twonn_fit(mu)
    assert f["n_duplicate"] == 2 and rel(f["d"], twonn_fit_ref(mu.astype(np.float64), 0.1)[0]) \
        < 1e-12
    assert np.isnan(mixgeo.twonn_fit([1.5, 2.0])["d"])
    e = mixgeo.twonn_fit([])
    assert e["n"] == 0 and e["n_fit"] == 0 and np.isnan(e["d"])


def test_twonn_bad_inputs():
    E = mixgeo.InputError
    rng = np.random.default_rng(17)
    X = rng.standard_normal((20, 3))
    with pytest.raises(E, match="at least 3 points, got 2"):
        mixgeo.twonn(X[:2])
    for bad in (-0.1, 1.0, 1.5, float("nan"), "a", None):
        with pytest.raises(E, match="discard"):
            mixgeo.twonn(X, discard=bad)
        with pytest.raises(E, match="discard"):
            mixgeo.twonn_fit([1.5, 2.0, 3.0], discard=bad)
    with pytest.raises(E, match="n mismatch: X has 20 examples but y has 19 labels"):
        mixgeo.twonn(X, y=np.zeros(19, int))
    with pytest.raises(E, match="negative label"):
        mixgeo.twonn(X, y=-np.ones(20, int))
    with pytest.raises(E, match="no examples"):
        mixgeo.twonn(np.zeros((0, 3)))
    Xn = X.copy()
    Xn[4, 1] = np.nan
    with pytest.raises(mixgeo.Error, match="TwoNN: a non-finite value at row 4, feature 1"):
        mixgeo.twonn(Xn, y=np.arange(20) % 2)  # the row of X, not of a class
    with pytest.raises(E, match="entry 1 is 0.5"):
        mixgeo.twonn_fit([1.5, 0.5])
    with pytest.raises(E, match="entry 0 is inf"):
        mixgeo.twonn_fit([np.inf, 2.0])
    with pytest.raises(E, match="1-d array"):
        mixgeo.twonn_fit(np.ones((3, 2)))
    # the C checks themselves (reached only through the raw prototypes)
    r = _lib.TwonnResult()
    Xf = np.ascontiguousarray(X, dtype=np.float32)
    assert _lib.lib.mg_twonn_f32(Xf.ctypes.data, 2, 3, 0.1, ctypes.byref(r), None) == \
        _lib.MG_ERR_CONFIG
    assert _lib.lib.mg_twonn_f32(Xf.ctypes.data, 20, 3, 1.0, ctypes.byref(r), None) == \
        _lib.MG_ERR_CONFIG


# ---------------------------------------------------------------- adaptive ECE

def adaptive_ref(conf, ok, B):
    n = len(conf)
    order = np.lexsort((np.arange(n), conf))  # by confidence, ties by index
    ece, mce, bins = 0.0, 0.0, []
    for b in range(B):
        lo, hi = b * n // B, (b + 1) * n // B
        idx = order[lo:hi]
        if len(idx):
            cf, ac = conf[idx].mean(), ok[idx].mean()
            ece += len(idx) / n * abs(ac - cf)
            mce = max(mce, abs(ac - cf))
            bins.append((conf[idx].min(), conf[idx].max(), len(idx), cf, ac))
        else:
            bins.append((np.nan, np.nan, 0, np.nan, np.nan))
    return ece, mce, bins


def softmax(Z):
    e = np.exp(Z - Z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def check_adaptive(d, P, y, B):
    conf, ok = P.max(1), (P.argmax(1) == y).astype(float)
    ece, mce, bins = adaptive_ref(conf, ok, B)
    assert rel(d["ece_adaptive"], ece) < RTOL or abs(d["ece_adaptive"] - ece) < 1e-15
    assert rel(d["mce_adaptive"], mce) < RTOL or abs(d["mce_adaptive"] - mce) < 1e-15
    r = d["reliability_adaptive"]
    assert r.shape == (B,) and r.dtype == mixgeo.RELIABILITY_DTYPE
    assert r["count"].sum() == len(y)
    for k, (lo, hi, cnt, cf, ac) in enumerate(bins):
        assert r["count"][k] == cnt
        np.testing.assert_allclose([r["lo"][k], r["hi"][k], r["conf"][k], r["acc"][k]],
                                   [lo, hi, cf, ac], rtol=RTOL)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adaptive_ece_vs_numpy(dtype):
    rng = np.random.default_rng(18)
    n, C = 1003, 4
    y = rng.integers(0, C, n)
    Z = (rng.standard_normal((n, C)) * 2.0 + 2.0 * np.eye(C)[y]).astype(dtype)
    P = softmax(Z.astype(np.float64))
    for B in (15, 7, 1):
        d = mixgeo.calibration(Z, y, bins=B)
        check_adaptive(d, P, y, B)
        sizes = d["reliability_adaptive"]["count"]
        assert sizes.max() - sizes.min() <= 1
        assert np.all(np.diff(d["reliability_adaptive"]["hi"]) >= 0)
    assert rel(mixgeo.calibration(Z, y, bins=1)["ece_adaptive"],
               abs(P.max(1).mean() - (P.argmax(1) == y).mean())) < 1e-12


def test_adaptive_ece_ties_by_index():
    """Confidences on a coarse grid: tied examples cross bin edges, ordered by index."""
    rng = np.random.default_rng(19)
    n = 500
    conf = np.round(rng.uniform(0.5, 1.0, n) * 8) / 8
    conf = np.clip(conf, 0.5625, 1.0)
    y = rng.integers(0, 2, n)
    right = rng.uniform(size=n) < 0.7
    # two-class probabilities with the given confidence on the predicted class
    pred = np.where(right, y, 1 - y)
    P = np.empty((n, 2))
    P[np.arange(n), pred] = conf
    P[np.arange(n), 1 - pred] = 1 - conf
    d = mixgeo.calibration(P, y, bins=15, probs=True)
    check_adaptive(d, P, y, 15)
    # reversing the order of the examples changes which tied ones share a bin
    d2 = mixgeo.calibration(P[::-1], y[::-1], bins=15, probs=True)
    check_adaptive(d2, P[::-1], y[::-1], 15)


def test_adaptive_ece_more_bins_than_examples():
    P = softmax(np.random.default_rng(20).standard_normal((5, 3)))
    y = np.array([0, 1, 2, 0, 1])
    d = mixgeo.calibration(P, y, bins=8, probs=True)
    check_adaptive(d, P, y, 8)
    r = d["reliability_adaptive"]
    assert (r["count"] == 0).sum() == 3 and np.isnan(r["conf"][r["count"] == 0]).all()
    assert np.isnan(r["lo"][r["count"] == 0]).all()


def test_adaptive_ece_calibrated_sample():
    """Correct with probability = confidence: both ECEs are ~0."""
    rng = np.random.default_rng(21)
    n = 200000
    conf = rng.uniform(0.5, 1.0, n)
    y = rng.integers(0, 2, n)
    pred = np.where(rng.uniform(size=n) < conf, y, 1 - y)
    P = np.empty((n, 2))
    P[np.arange(n), pred] = conf
    P[np.arange(n), 1 - pred] = 1 - conf
    d = mixgeo.calibration(P, y, probs=True)
    assert d["ece_adaptive"] < 0.01 and d["ece"] < 0.01, (d["ece_adaptive"], d["ece"])
    # an overconfident one is not
    d = mixgeo.calibration(P, np.where(rng.uniform(size=n) < 0.6, pred, 1 - pred), probs=True)
    assert d["ece_adaptive"] > 0.1


def test_adaptive_ece_c_checks():
    conf = np.ascontiguousarray([0.5, 0.9])
    ok = np.ascontiguousarray([1, 0], dtype=np.uint8)
    e, m = ctypes.c_double(), ctypes.c_double()
    L = _lib.lib
    assert L.mg_adaptive_ece(conf.ctypes.data, ok.ctypes.data, 0, 3, ctypes.byref(e),
                             ctypes.byref(m), None) == _lib.MG_ERR_CONFIG
    assert L.mg_adaptive_ece(conf.ctypes.data, ok.ctypes.data, 2, 0, ctypes.byref(e),
                             ctypes.byref(m), None) == _lib.MG_ERR_CONFIG
    assert L.mg_adaptive_ece(conf.ctypes.data, ok.ctypes.data, 2, 2, ctypes.byref(e),
                             ctypes.byref(m), None) == _lib.MG_OK
    assert rel(e.value, 0.5 * 0.5 + 0.5 * 0.9) < 1e-15 and rel(m.value, 0.9) < 1e-15


# ---------------------------------------------------------------- bindings

def test_compare_mirrors_and_docstrings():
    L = _lib.lib
    assert L.mg_bind_struct_size(b"mg_cka_result") == ctypes.sizeof(_lib.CkaResult)
    assert L.mg_bind_struct_size(b"mg_twonn_result") == ctypes.sizeof(_lib.TwonnResult)
    for name in ("cka", "twonn", "twonn_fit"):
        assert name in mixgeo.__all__
        assert len(getattr(mixgeo, name).__doc__) > 400, name
    assert "n/(n-2) sum_i ||a_i||^2 ||b_i||^2" in mixgeo.cka.__doc__
    assert "F(mu_(i)) = i / N" in mixgeo.twonn.__doc__
    assert "floor(b n / B) .. floor((b+1) n / B) - 1" in mixgeo.calibration.__doc__
