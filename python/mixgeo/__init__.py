"""mixgeo: representation-geometry analyses of hidden states, from numpy.

A thin ctypes binding of libmganalysis (the C library of the mixgeo project,
analysis/*.h), for hidden states saved from any framework (e.g. PyTorch hooks
-> .npy)::

    import numpy as np, mixgeo
    s = mixgeo.spectra(H, y)                 # {class: centred singular values}
    mixgeo.spectrum_summary(s[0])            # s1, rest, effective rank, PR, ...
    mixgeo.corollary(H, y, W)                # Corollary 1: predicted dim vs ranks
    mixgeo.theorem1_fit(H, y)                # affine least-squares fit, residual
    mixgeo.collapse(H, y, W)                 # neural collapse NC1-NC4
    mixgeo.calibration(Z, y, bins=15)        # ECE, MCE, NLL, Brier, reliability
    mixgeo.margins(H, y, W, b)               # exact margins at the readout
    mixgeo.cka(H1, H2)                       # linear and debiased CKA of two layers
    mixgeo.twonn(H)                          # TwoNN intrinsic dimension (y=...: per class)
    mixgeo.analyze(H, y, logits=Z, readout=(W, b), out="an/")  # the CLI's files

Conventions shared by every function
------------------------------------
* States H: a numpy array (or anything np.asarray accepts) of shape (n, ...):
  example i is H[i] flattened, i.e. the function works on H.reshape(n, -1),
  an n x p matrix (p = prod(H.shape[1:])), so an (n, C, H, W) activation
  equals its reshape to (n, C*H*W).  Any real dtype (float16/32/64, integers)
  and any memory order (C, Fortran, strided views): it is converted with
  np.ascontiguousarray to the dtype the C function reads, stated in each
  docstring ("float64 kept": float64 (and wider) input stays double;
  everything else becomes float32).  The caller's arrays are never modified.
* Labels y: a 1-d integer array (any integer dtype) of n entries in
  0..classes-1.  A negative label, a non-integer dtype or a wrong length is
  an InputError.  classes, unless given, comes from the readout W (its rows),
  the logits (their columns) or max(y) + 1, in that order.
* Readout W: (classes, p), any float dtype, b: (classes,); logits Z:
  (n, classes).
* Results: numpy float64 arrays, and dicts of plain Python floats / ints /
  bools (NaN where the C library reports NaN).
* Errors: every failure raises mixgeo.Error (a RuntimeError) whose message
  is the library's detail (mg_errmsg()) or the Python check's; bad input
  raises mixgeo.InputError, a subclass of both Error and ValueError.  The
  Python checks run first, so that no C assertion can abort the interpreter.
* Threads: OpenBLAS's, set with set_threads(n) (OPENBLAS_NUM_THREADS applies
  otherwise).  The GIL is released during every C call.
* Kernels: OpenBLAS's own choice for the CPU, fixed when it loads (often with
  numpy); blas_core() names it.  For the bits of the mixgeo program's default
  set OPENBLAS_CORETYPE=Haswell before Python starts.

The shared library is found as described in mixgeo._lib (MIXGEO_LIB first,
then build/ of the source tree, the install prefix, the system's path);
library_path says which one was loaded.
"""

import ctypes
import json
import os

import numpy as np

from . import _lib
from ._lib import lib as _L

__all__ = ["Error", "InputError", "spectra", "spectra_full", "spectrum_summary", "corollary",
           "theorem1_fit", "collapse", "calibration", "margins", "cka", "twonn", "twonn_fit",
           "analyze", "set_threads", "get_threads", "blas_core", "__version__", "library_path",
           "HAVE_ANALYZE"]

#: The library's MG_VERSION_STRING (mg_version() of analysis/bind.c).
__version__ = _L.mg_version().decode()
#: Path (or name) of the libmganalysis that was loaded.
library_path = _lib.path
#: True when the library has mg_analyze_arrays (analysis/analyze.c), which analyze() needs.
HAVE_ANALYZE = _lib.HAVE_ANALYZE

_INT_MAX = 2**31 - 1
_FLT_EPSILON = _lib.FLT_EPSILON


class Error(RuntimeError):
    """A failure of a mixgeo function.

    Attributes: status (the C mg_status as an int, None when a Python check
    failed) and status_name (e.g. "numerical error", None likewise).
    """

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status
        self.status_name = (_L.mg_status_name(status).decode() if status is not None else None)


class InputError(Error, ValueError):
    """Bad input: found by the Python checks (shapes, dtypes, labels, non-finite
    values the C function does not check), or reported by the library as
    MG_ERR_CONFIG (an invalid size, option or label)."""


def _check(st, fn):
    if st != _lib.MG_OK:
        msg = (_L.mg_errmsg() or b"").decode("utf-8", "replace") or "(no detail)"
        cls = InputError if st == _lib.MG_ERR_CONFIG else Error
        raise cls("mixgeo.%s: %s [%s]" % (fn, msg, _L.mg_status_name(st).decode()), st)


def _fail(fn, msg):
    raise InputError("mixgeo.%s: %s" % (fn, msg))


def _ptr(a):
    """Address of a C-contiguous numpy array (None -> NULL)."""
    if a is None:
        return None
    assert a.flags.c_contiguous
    return a.ctypes.data


def _real(a, fn, name):
    try:
        a = np.asarray(a)
    except ValueError as e:
        _fail(fn, "%s: not an array (%s)" % (name, e))
    if a.dtype.kind not in "fiu":
        _fail(fn, "%s: expected a real numeric array (float16/32/64), got dtype %s"
              % (name, a.dtype))
    return a


def _convert(a, fn, name, keep64):
    """a (already 2-d or 1-d) -> C-contiguous float64 (keep64 and a wide or
    integer dtype) or float32, refusing finite values that overflow float32."""
    wide = a.dtype.kind in "iu" or a.dtype.itemsize >= 8
    dt = np.float64 if keep64 and wide else np.float32
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.ascontiguousarray(a, dtype=dt)
    if dt == np.float32 and a.dtype.kind == "f" and a.dtype.itemsize > 4:
        fin = np.isfinite(out)
        if not fin.all():
            bad = ~fin & np.isfinite(a)
            if bad.any():
                idx = tuple(int(i) for i in np.argwhere(bad)[0])
                _fail(fn, "%s: value %r at index %s is beyond the float32 range (|x| > 3.4e38); "
                      "this function computes from float32" % (name, float(a[idx]), idx))
    return out


def _states(H, fn, keep64, name="H", max_n=_INT_MAX):
    """H (n, ...) -> (n x p C-contiguous float32/float64 array, original shape)."""
    a = _real(H, fn, name)
    if a.ndim < 1:
        _fail(fn, "%s: expected an array of shape (n, ...), got a scalar" % name)
    n = a.shape[0]
    p = int(np.prod(a.shape[1:], dtype=np.int64)) if a.ndim > 1 else 1
    if n < 1:
        _fail(fn, "%s: no examples (shape %s)" % (name, a.shape))
    if p < 1:
        _fail(fn, "%s: examples have no features (shape %s)" % (name, a.shape))
    if n > max_n or p > _INT_MAX:
        _fail(fn, "%s: shape %s is too large for the C API (n <= %d, p <= %d)"
              % (name, a.shape, max_n, _INT_MAX))
    return _convert(a.reshape(n, p), fn, name, keep64), a.shape


def _matrix(M, fn, name, rows, cols, keep64, what):
    """A 2-d array of shape (rows, cols) (None = any) -> converted copy."""
    a = _real(M, fn, name)
    if a.ndim != 2 or (rows is not None and a.shape[0] != rows) or \
            (cols is not None and a.shape[1] != cols):
        _fail(fn, "%s has shape %s, expected %s" % (name, a.shape, what))
    if a.shape[0] < 1 or a.shape[1] < 1:
        _fail(fn, "%s has shape %s: empty" % (name, a.shape))
    if a.shape[0] > _INT_MAX or a.shape[1] > _INT_MAX:
        _fail(fn, "%s: shape %s is too large for the C API" % (name, a.shape))
    return _convert(a, fn, name, keep64)


def _vector(v, fn, name, length, keep64, what):
    a = _real(v, fn, name)
    if a.ndim != 1 or a.shape[0] != length:
        _fail(fn, "%s has shape %s, expected %s" % (name, a.shape, what))
    return _convert(a, fn, name, keep64)


def _finite(a, fn, name, states=False):
    """Non-finite values in an input the C function would use silently."""
    fin = np.isfinite(a)
    if not fin.all():
        idx = tuple(int(i) for i in np.argwhere(~fin)[0])
        where = ("example %d, feature %d (of the flattened example)" % idx if states
                 else "index %s" % (idx,))
        _fail(fn, "%s: non-finite value %r at %s" % (name, float(a[idx]), where))


def _labels(y, fn, n, classes=None, source="", name="y", of="H"):
    """Labels -> (int32 C-contiguous array, classes)."""
    try:
        a = np.asarray(y)
    except ValueError as e:
        _fail(fn, "%s: not an array (%s)" % (name, e))
    if a.ndim != 1:
        _fail(fn, "%s: labels must have shape (n,), got %s" % (name, a.shape))
    if a.shape[0] != n:
        _fail(fn, "n mismatch: %s has %d examples but %s has %d labels"
              % (of, n, name, a.shape[0]))
    if a.dtype.kind not in "iu":
        _fail(fn, "%s: labels must be an integer array (any integer dtype), got dtype %s"
              % (name, a.dtype))
    if classes is not None:
        classes = _int(classes, fn, "classes", 1)
    if a.dtype.kind == "i":
        neg = a < 0
        if neg.any():
            i = int(np.argmax(neg))
            _fail(fn, "%s: negative label %d at example %d (labels are 0..classes-1)"
                  % (name, int(a[i]), i))
    top = int(a.max())
    if classes is None:
        if top >= _INT_MAX:
            _fail(fn, "%s: label %d is too large" % (name, top))
        classes = top + 1
    elif top >= classes:
        i = int(np.argmax(a >= classes))
        _fail(fn, "%s: label %d at example %d is outside 0..%d (%d classes%s)"
              % (name, int(a[i]), i, classes - 1, classes, source))
    return np.ascontiguousarray(a, dtype=np.int32), int(classes)


def _int(v, fn, name, lo=None):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        _fail(fn, "%s must be an integer, got %r" % (name, v))
    v = int(v)
    if lo is not None and v < lo:
        _fail(fn, "%s must be >= %d, got %d" % (name, lo, v))
    if v > _INT_MAX:
        _fail(fn, "%s = %d is too large" % (name, v))
    return v


def _struct_dict(s, bools=()):
    out = {}
    for name, _ in s._fields_:
        v = getattr(s, name)
        out[name] = bool(v) if name in bools else v
    return out


def set_threads(n):
    """Set the number of OpenBLAS threads used by every computation (n >= 1;
    mg_set_threads).  Results do not depend on it beyond rounding."""
    _L.mg_set_threads(_int(n, "set_threads", "n", 1))


def get_threads():
    """The number of OpenBLAS threads (mg_get_threads)."""
    return int(_L.mg_get_threads())


def blas_core():
    """The kernel family OpenBLAS runs, e.g. 'Haswell' (mg_blas_core); float
    results depend on it.  The mixgeo program runs 'Haswell' on an AVX2 CPU by
    default; here it is what OpenBLAS chose when it loaded."""
    return _L.mg_blas_core().decode()


# ---------------------------------------------------------------- spectra

class _SpectraResult:
    """An mg_spectra_result*, freed on exit."""

    def __init__(self, ptr):
        self.ptr = ptr

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _L.mg_spectra_result_free(self.ptr)
        self.ptr = None

    def info(self):
        classes, p, mode, n = ctypes.c_int(), ctypes.c_int(), ctypes.c_int(), ctypes.c_int64()
        _L.mg_spectra_result_info(self.ptr, ctypes.byref(classes), ctypes.byref(p),
                                  ctypes.byref(mode), ctypes.byref(n))
        return classes.value, p.value, _L.mg_spectra_mode_name(mode.value).decode(), n.value

    def class_n(self, c):
        skipped = ctypes.c_int64()
        n = _L.mg_spectra_result_class_n(self.ptr, c, ctypes.byref(skipped))
        return int(n), int(skipped.value)

    def values(self, part, c=0):
        k = _L.mg_spectra_result_values(self.ptr, part, c, None)
        if k < 0:
            raise Error("mixgeo: spectra result has no part %d of class %d" % (part, c))
        out = np.zeros(k, dtype=np.float64)
        if k > 0:
            _L.mg_spectra_result_values(self.ptr, part, c, _ptr(out))
        return out


_MODE_DOC = """mode: 'auto' (default), 'qr-stream' or 'rows' (analysis/spectra.h):
      qr-stream keeps a p x p double triangle per class (exact for float64
      input, any n); rows keeps the rows as float32 and decomposes them at
      the end (wide layers); auto picks rows when classes * p^2 * 8 bytes
      exceed 512 MiB, or when max_rows_per_class > 0 and classes *
      max_rows_per_class < p."""


def _spectra_result(fn, X, y32, classes, mode, block_rows, max_rows_per_class,
                    parts=None):
    key = mode.replace("_", "-") if isinstance(mode, str) else mode
    if key not in _lib.SPECTRA_MODES:
        _fail(fn, "mode must be one of %s, got %r" % (", ".join(_lib.SPECTRA_MODES), mode))
    cfg = _L.mg_spectra_config_default()
    cfg.mode = _lib.SPECTRA_MODES[key]
    cfg.block_rows = _int(block_rows, fn, "block_rows", 0)
    cfg.max_rows_per_class = _int(max_rows_per_class, fn, "max_rows_per_class", 0)
    n, p = X.shape
    acc = ctypes.c_void_p()
    _check(_L.mg_spectra_acc_create_cfg(classes, p, ctypes.byref(cfg), ctypes.byref(acc)), fn)
    res = ctypes.c_void_p()
    try:
        if parts is not None:
            _check(_L.mg_spectra_acc_set_parts(acc, parts), fn)
        add = _L.mg_spectra_acc_add_f64 if X.dtype == np.float64 else _L.mg_spectra_acc_add
        _check(add(acc, _ptr(X), _ptr(y32), n), fn)
        _check(_L.mg_spectra_acc_finish(acc, ctypes.byref(res)), fn)
    finally:
        _L.mg_spectra_acc_free(acc)
    return _SpectraResult(res)


def spectra(H, y, classes=None, centred=True, mode="auto", block_rows=0, max_rows_per_class=0):
    """Per-class singular values of hidden states (analysis/spectra.h).

    H: (n, ...) states, flattened per example to n x p; float64 kept (added
       with mg_spectra_acc_add_f64: exact in qr-stream mode; rows mode rounds
       each value to float32 when storing it), other dtypes as float32
       (mg_spectra_acc_add).
    y: (n,) integer labels in 0..classes-1; classes defaults to max(y) + 1.
    centred: True (default): the singular values of X_c - 1 mu_c^T (each
       class centred on its own mean mu_c); False: those of X_c itself.
    {mode}
    block_rows: rows per QR update (0 = the library's default,
       clamp(2 p, 256, 2048)); max_rows_per_class: rows mode keeps only the
       first that many rows of each class (0 = all).

    Returns {{c: float64 array}} for every class c present in y (classes
    without examples are left out): min(n_c, p) singular values in descending
    order, computed from the data itself (Householder QR + dgesdd), never
    from X^T X; only the spectra asked for are computed (spectra_full gives
    every one in a single pass).  The centred data has rank <= n_c - 1, so when n_c <= p its
    last value is 0 up to rounding.
    Errors: InputError (shapes, labels), Error (non-finite value in H:
    MG_ERR_NUMERIC "non-finite value in row i, column j"; LAPACK failure).
    """
    fn = "spectra"
    X, _ = _states(H, fn, keep64=True)
    y32, C = _labels(y, fn, X.shape[0], classes)
    part = _lib.PART_CENTRED if centred else _lib.PART_UNCENTRED
    out = {}
    # only the spectra asked for (the pooled ones and the other centring are
    # not computed: 10 SVDs for 10 classes instead of 22)
    parts = _lib.PARTS_CENTRED if centred else _lib.PARTS_UNCENTRED
    with _spectra_result(fn, X, y32, C, mode, block_rows, max_rows_per_class, parts) as r:
        for c in range(C):
            if r.class_n(c)[0] > 0:
                out[c] = r.values(part, c)
    return out


spectra.__doc__ = spectra.__doc__.format(mode=_MODE_DOC)


def spectra_full(H, y, classes=None, mode="auto", block_rows=0, max_rows_per_class=0):
    """Everything the spectra accumulator computes, in one pass.

    Arguments and dtypes as spectra().  Returns a dict:
      'classes' (C), 'p', 'n' (rows used), 'mode' (the resolved mode,
      'qr-stream' or 'rows'),
      'per_class': {c: {'n': n_c, 'n_skipped': rows beyond max_rows_per_class,
                        'centred': s of X_c - 1 mu_c^T, 'uncentred': s of X_c,
                        'mean': mu_c (p,)}} for every class present,
      'within': the pooled within-class spectrum (every class centred on its
                own mean, stacked), min(n, p) values,
      'total': the pooled total spectrum (all rows centred on the overall
               mean), min(n, p) values,
      'mean': the overall mean (p,), weighted by n_c.
    All singular values descending, float64.
    """
    fn = "spectra_full"
    X, _ = _states(H, fn, keep64=True)
    y32, C = _labels(y, fn, X.shape[0], classes)
    with _spectra_result(fn, X, y32, C, mode, block_rows, max_rows_per_class) as r:
        C, p, mode_name, n = r.info()
        per = {}
        for c in range(C):
            nc, skipped = r.class_n(c)
            if nc > 0:
                per[c] = {"n": nc, "n_skipped": skipped,
                          "centred": r.values(_lib.PART_CENTRED, c),
                          "uncentred": r.values(_lib.PART_UNCENTRED, c),
                          "mean": r.values(_lib.PART_CLASS_MEAN, c)}
        return {"classes": C, "p": p, "n": n, "mode": mode_name, "per_class": per,
                "within": r.values(_lib.PART_WITHIN), "total": r.values(_lib.PART_TOTAL),
                "mean": r.values(_lib.PART_MEAN)}


def _summarize(s, n, p):
    s = np.ascontiguousarray(s, dtype=np.float64)
    out = _lib.SpectrumSummary()
    _L.mg_spectrum_summarize(_ptr(s) if s.size else None, s.size, n, p, ctypes.byref(out))
    return out


def spectrum_summary(s, n=None, p=None):
    """Summary of one spectrum (mg_spectrum_summarize, analysis/spectra.h).

    s: 1-d array of singular values, descending, >= 0 (e.g. spectra(H, y)[c]),
       any float dtype (used in double).
    n, p: the rows and columns of the data matrix the values came from
       (n_c and p; they set the rank tolerance and s1/sqrt(n)); both default
       to len(s).

    Returns a dict (all in double; an all-zero or empty s gives zeros):
      ns, p, n;  s1 (largest), rest (sum_{k>=2} s_k), sum, sum_sq;
      s1_per_sqrt_n = s_1 / sqrt(n) (0 when n = 0);
      effective_rank = exp(-sum q_k ln q_k), q = s / sum s (0 ln 0 = 0);
      participation_ratio = (sum s^2)^2 / sum s^4;
      stable_rank = sum s^2 / s_1^2;
      k90, k95, k99 = least k with sum_{i<=k} s_i^2 >= f sum s^2 (a relative
        slack of 1e-12 absorbs rounding);
      tol = s_1 max(n, p) FLT_EPSILON;  rank_eps = #{s_k > tol};
      rank_1e2 = #{s_k > 1e-2 s_1};  rank_1e3 = #{s_k > 1e-3 s_1}.
    Errors: InputError (not 1-d, negative, non-finite or not descending).
    """
    fn = "spectrum_summary"
    a = _real(s, fn, "s")
    if a.ndim != 1:
        _fail(fn, "s: expected a 1-d array of singular values, got shape %s" % (a.shape,))
    a = np.ascontiguousarray(a, dtype=np.float64)
    _finite(a, fn, "s")
    if (a < 0).any():
        _fail(fn, "s: negative value %r (singular values are >= 0)" % float(a[a < 0][0]))
    if a.size > 1 and (np.diff(a) > 0).any():
        i = int(np.argmax(np.diff(a) > 0))
        _fail(fn, "s: not in descending order (s[%d] = %r < s[%d] = %r); sort with "
              "np.sort(s)[::-1]" % (i, float(a[i]), i + 1, float(a[i + 1])))
    if a.size > _INT_MAX:
        _fail(fn, "s: too many values")
    n = a.size if n is None else n
    p = a.size if p is None else p
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        _fail(fn, "n must be an integer >= 0, got %r" % (n,))
    p = _int(p, fn, "p", 0)
    return _struct_dict(_summarize(a, int(n), p))


# ---------------------------------------------------------------- theory

def corollary(H, y, W=None, classes=None, mode="auto"):
    """Corollary 1 of Manifold Mixup on learned states (analysis/theory.h).

    H: (n, ...) states at the mixing layer, flattened to n x p (dim(H) = p);
       float64 kept, others as float32 (see spectra()).
    y: (n,) integer labels.
    W: optional linear part of the readout, (classes, p), any float dtype
       (used in double); the same map for every class (an affine map's bias
       cancels in differences).
    classes: d; defaults to W.shape[0], else max(y) + 1.
    mode: the spectra mode, see spectra().

    Returns a dict:
      dim (p), classes (d),
      predicted_per_class_dim = max(0, dim - d + 1) (mg_corollary1_dim),
      theorem1_applies = dim >= d - 1 (below that the prediction 0 is the
        collapse of the best compromise, not a consequence of the theorem),
      min_n_per_class, rank_limited_by_n (some class has n_c - 1 < the
        prediction: its centred rank cannot reach it),
      per_class: {c: {n, rank_eps, rank_1e2, rank_1e3[, leakage, gain_between]}}
        for every class present: numerical ranks of the centred class data
        (tolerances s_1 max(n_c, p) FLT_EPSILON, 1e-2 s_1, 1e-3 s_1),
      mean_per_class: those ranks averaged over the classes present,
      pooled_within: {rank_eps, rank_1e2, rank_1e3} of the pooled within-class
        spectrum (all classes share the null space of the readout),
      class_means_affine_dim: {points, rank_eps, rank_1e2, rank_1e3,
        singular_values} of the class means minus their centroid,
      leakage = sum_c sum_{i in c} ||W (h_i - mu_c)||^2
                / sum_c sum_{i in c} ||h_i - mu_c||^2 (mg_readout_leakage;
        0 when W ignores within-class deviations; NaN when no class has
        spread; None without W),
      gain_between = the same ratio for the class means minus the overall
        mean, weighted by n_c (None without W), leakage_rel = leakage /
        gain_between (None without W),
      spectra_mode.
    """
    fn = "corollary"
    X, _ = _states(H, fn, keep64=True)
    n, p = X.shape
    Wd, source = None, ""
    if W is not None:
        if classes is not None:
            classes = _int(classes, fn, "classes", 1)
        Wd = _matrix(W, fn, "W", classes, p, keep64=True,
                     what="(classes, p) = (%s, %d): p = features of H %s flattened"
                     % (classes if classes is not None else "classes", p, _shape_tail(H)))
        Wd = np.ascontiguousarray(Wd, dtype=np.float64)
        _finite(Wd, fn, "W")
        classes, source = Wd.shape[0], " from W.shape[0]"
    y32, C = _labels(y, fn, n, classes, source)
    pred = int(_L.mg_corollary1_dim(p, C))
    applies = bool(_L.mg_theorem1_applies(p, C))
    with _spectra_result(fn, X, y32, C, mode, 0, 0) as r:
        _, _, mode_name, n_used = r.info()
        per, sums, present = {}, np.zeros(3), []
        for c in range(C):
            nc = r.class_n(c)[0]
            if nc <= 0:
                continue
            present.append(c)
            sm = _summarize(r.values(_lib.PART_CENTRED, c), nc, p)
            per[c] = {"n": nc, "rank_eps": sm.rank_eps, "rank_1e2": sm.rank_1e2,
                      "rank_1e3": sm.rank_1e3}
            sums += (sm.rank_eps, sm.rank_1e2, sm.rank_1e3)
        sw = _summarize(r.values(_lib.PART_WITHIN), n_used, p)
        md = _lib.SpectrumSummary()
        msv = np.zeros(max(1, min(C, p)), dtype=np.float64)
        _check(_L.mg_class_means_affine_dim(r.ptr, _ptr(msv), ctypes.byref(md)), fn)
        nmin = min(per[c]["n"] for c in present)
        out = {"dim": p, "classes": C, "predicted_per_class_dim": pred,
               "theorem1_applies": applies, "min_n_per_class": nmin,
               "rank_limited_by_n": bool(nmin - 1 < pred), "per_class": per,
               "mean_per_class": dict(zip(("rank_eps", "rank_1e2", "rank_1e3"),
                                          (float(v) for v in sums / len(present)))),
               "pooled_within": {"rank_eps": sw.rank_eps, "rank_1e2": sw.rank_1e2,
                                 "rank_1e3": sw.rank_1e3},
               "class_means_affine_dim": {"points": md.n, "rank_eps": md.rank_eps,
                                          "rank_1e2": md.rank_1e2, "rank_1e3": md.rank_1e3,
                                          "singular_values": msv[:md.ns].copy()},
               "leakage": None, "gain_between": None, "leakage_rel": None,
               "spectra_mode": mode_name}
        if Wd is not None:
            leak_c = np.full(C, np.nan)
            leak = ctypes.c_double()
            _check(_L.mg_readout_leakage(r.ptr, _ptr(Wd), C, _ptr(leak_c), ctypes.byref(leak)),
                   fn)
            mu = r.values(_lib.PART_MEAN)
            gnum = gden = 0.0
            for c in present:
                e = r.values(_lib.PART_CLASS_MEAN, c) - mu
                e2, g2 = float(e @ e), float(np.sum((Wd @ e) ** 2))
                per[c]["leakage"] = float(leak_c[c])
                per[c]["gain_between"] = g2 / e2 if e2 > 0 else float("nan")
                gnum += per[c]["n"] * g2
                gden += per[c]["n"] * e2
            gain = gnum / gden if gden > 0 else float("nan")
            out["leakage"] = float(leak.value)
            out["gain_between"] = gain
            out["leakage_rel"] = (out["leakage"] / gain if np.isfinite(gain) and gain > 0
                                  else float("nan"))
    return out


def _shape_tail(H):
    try:
        return tuple(np.shape(H)[1:])
    except Exception:  # pragma: no cover - shape of an odd sequence
        return "?"


def theorem1_fit(H, y, classes=None, rcond=None):
    """Theorem-1 gap of given states: least-squares affine fit of the one-hot
    labels (analysis/theory.h, mg_affine_fit_f32 / mg_affine_fit_f64).

    H: (n, ...) states flattened to n x p; float64 kept (mg_affine_fit_f64),
       other dtypes as float32 (mg_affine_fit_f32); arithmetic in double.
    y: (n,) integer labels; classes = d, default max(y) + 1.
    rcond: singular values of [h 1] below rcond * s_max count as 0 (LAPACK
       dgelsd); default max(n, p+1) * FLT_EPSILON (as `mixgeo analyze`);
       a negative value means double machine precision (LAPACK's convention).

    Returns a dict:
      B: (p+1) x d float64, B = argmin ||[h 1] B - Y||_F (minimum norm), Y the
         n x d one-hot labels; rows 0..p-1 hold A (p x d), row p holds b, and
         f(h) = A^T h + b = B^T [h; 1];  A, b: views of those rows;
      n, p, d; rank (effective rank of [h 1] used by dgelsd); rcond (as used);
      resid = ||[h 1] B - Y||_F;  resid_rel = resid / ||Y||_F = resid / sqrt(n);
      underdetermined: n < p + 1 (then [h 1] of full row rank fits every
         label exactly: resid 0 says nothing about Theorem 1);
      dtype: 'float64' or 'float32' (the precision of the states used).
    Errors: InputError (shapes, labels), Error (non-finite state:
    MG_ERR_NUMERIC "non-finite state in row i"; LAPACK failure).
    """
    fn = "theorem1_fit"
    X, _ = _states(H, fn, keep64=True)
    n, p = X.shape
    y32, d = _labels(y, fn, n, classes)
    if rcond is None:
        rcond = max(n, p + 1) * _FLT_EPSILON
    try:
        rcond = float(rcond)
    except (TypeError, ValueError):
        _fail(fn, "rcond must be a number, got %r" % (rcond,))
    if (p + 1) * d > 2**40:
        _fail(fn, "B would have (p+1) x d = %d x %d entries" % (p + 1, d))
    B = np.zeros((p + 1, d), dtype=np.float64)
    info = _lib.AffineFitInfo()
    fit = _L.mg_affine_fit_f64 if X.dtype == np.float64 else _L.mg_affine_fit_f32
    _check(fit(_ptr(X), n, p, _ptr(y32), d, rcond, _ptr(B), ctypes.byref(info)), fn)
    out = _struct_dict(info, bools=("underdetermined",))
    out.update({"B": B, "A": B[:p], "b": B[p], "dtype": str(X.dtype)})
    return out


# ---------------------------------------------------------------- metrics

def collapse(H, y, W, logits=None):
    """Neural collapse NC1-NC4 of penultimate features (mg_neural_collapse,
    analysis/metrics.h; Papyan, Han & Donoho 2020).

    H: (n, ...) features flattened to n x p, used as float32 (any dtype is
       converted); arithmetic in double.
    y: (n,) integer labels in 0..C-1; every class must have an example.
    W: (C, p) last dense layer, float32; C >= 2.
    logits: optional (n, C), float32, for NC4.

    Normalisation (analysis/metrics.h):
      mu_c = class mean, mu_G = mean of all n examples (not of the class
      means), M = C x p matrix of rows mu_c - mu_G,
      S_W = (1/n) sum_i (h_i - mu_{y_i})(h_i - mu_{y_i})^T (divided by n),
      S_B = (1/C) sum_c (mu_c - mu_G)(mu_c - mu_G)^T = M^T M / C (divided by C),
      NC1 = Tr(S_W S_B^+) / C, S_B^+ from the SVD of M with eigenvalues
        <= 1e-10 * max treated as 0 (sb_rank = how many are kept);
      NC2 equinorm = std/mean over c of ||mu_c - mu_G|| (population std,
        ddof = 0, divided by C), and the same for ||w_c||;
      NC2 equiangular = mean over ordered pairs c != c' of
        |cos(mu_c - mu_G, mu_c' - mu_G) + 1/(C-1)|, and the same for the rows
        w_c (uncentred); *_max = the largest term;
      NC3 self-duality = || W/||W||_F - M/||M||_F ||_F^2 (in [0, 4]);
      NC4 = fraction of examples whose nearest class mean (Euclidean, ties to
        the lowest class) equals argmax of the logits (NaN without logits);
      ncc_accuracy = nearest-class-centre prediction == label.

    Returns a dict with n, p, classes, sb_rank, tr_sw, tr_sb, nc1,
    equinorm_means, equinorm_w, equiangle_means, equiangle_w,
    equiangle_means_max, equiangle_w_max, nc3, nc4, ncc_accuracy.
    Errors: InputError (shapes, labels, an empty class, non-finite W or
    logits), Error (non-finite feature in H: MG_ERR_NUMERIC; LAPACK failure).
    """
    fn = "collapse"
    X, _ = _states(H, fn, keep64=False)
    n, p = X.shape
    Wf = _matrix(W, fn, "W", None, p, keep64=False,
                 what="(classes, p) = (C, %d): p = features of H %s flattened"
                 % (p, _shape_tail(H)))
    C = Wf.shape[0]
    _finite(Wf, fn, "W")
    y32, C = _labels(y, fn, n, C, " from W.shape[0]")
    Zf = None
    if logits is not None:
        Zf = _matrix(logits, fn, "logits", n, C, keep64=False,
                     what="(n, classes) = (%d, %d)" % (n, C))
        _finite(Zf, fn, "logits")
    out = _lib.Collapse()
    _check(_L.mg_neural_collapse(_ptr(X), n, p, _ptr(y32), C, _ptr(Wf), _ptr(Zf),
                                 ctypes.byref(out)), fn)
    return _struct_dict(out)


#: dtype of calibration()'s 'reliability' array.
RELIABILITY_DTYPE = np.dtype([("lo", "f8"), ("hi", "f8"), ("count", "i8"), ("conf", "f8"),
                              ("acc", "f8")])


def _softmax64(Z):
    """Row-wise softmax in double, max subtracted: the formula of mg_softmax_f64."""
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(Z - Z.max(axis=1, keepdims=True))
        return np.ascontiguousarray(e / e.sum(axis=1, keepdims=True))


def calibration(Z, y, bins=15, probs=False):
    """Calibration of predictions (mg_calibration_f64, analysis/metrics.h).

    Z: (n, C) logits (C >= 2), turned into probabilities by a row-wise
       softmax in double with the row maximum subtracted: mg_softmax_f64 on
       float32 logits for float16/float32 input; float64 logits are kept in
       double (the same formula evaluated in numpy, since the C softmax reads
       float32).  With probs=True, Z holds probabilities (rows expected to
       sum to 1; used as given, not renormalised), any float dtype, in double.
    y: (n,) integer labels in 0..C-1.
    bins: number of equal-width confidence bins (default 15,
       MG_ECE_BINS_DEFAULT); bin b of B covers (b/B, (b+1)/B], a confidence
       of exactly 0 goes to bin 0.  The adaptive (equal-mass) ECE uses the
       same number of bins.

    Returns a dict:
      n, classes, bins;  accuracy (argmax p == y, ties to the lowest index);
      mean_conf (mean of max_j p_j);
      ece = sum_b |B_b|/n |acc_b - conf_b|;
      mce = max over non-empty bins of |acc_b - conf_b|;
      oe  = sum_b |B_b|/n conf_b max(conf_b - acc_b, 0) (overconfidence);
      nll = mean -log max(p_y, 1e-12);  nll_floored = examples below the floor;
      brier = mean over examples of sum_j (p_j - onehot_j)^2 (summed over
        classes, not averaged);
      reliability: numpy structured array of `bins` rows with fields
        lo, hi (edges b/B, (b+1)/B), count, conf, acc (conf, acc NaN when
        count == 0), dtype RELIABILITY_DTYPE;
      ece_adaptive, mce_adaptive: the same with equal-mass bins
        (mg_adaptive_ece, analysis/compare.h): the examples sorted by
        confidence max_j p_j (ties by index), bin b of B holding ranks
        floor(b n / B) .. floor((b+1) n / B) - 1 (bins differ in size by at
        most one; empty ones only when B > n); ece_adaptive = sum_b |B_b|/n
        |acc_b - conf_b|, mce_adaptive = max over non-empty bins;
      reliability_adaptive: its `bins` rows, RELIABILITY_DTYPE, lo/hi = the
        smallest and largest confidence in the bin (NaN, like conf and acc,
        when count == 0).
    Errors: InputError (shapes, labels, non-finite logits, bins < 1),
    Error (non-finite probability: MG_ERR_NUMERIC).
    """
    fn = "calibration"
    a = _real(Z, fn, "Z")
    if a.ndim != 2:
        _fail(fn, "Z has shape %s, expected (n, classes)" % (a.shape,))
    n, C = a.shape
    if n < 1 or n > _INT_MAX:
        _fail(fn, "Z has shape %s: need 1 <= n <= %d examples" % (a.shape, _INT_MAX))
    if C < 2 or C > _INT_MAX:
        _fail(fn, "Z has shape %s: need at least 2 classes (columns)" % (a.shape,))
    bins = _int(bins, fn, "bins", 1)
    y32, _ = _labels(y, fn, n, C, " from Z.shape[1]", of="Z")
    if probs:
        P = np.ascontiguousarray(a, dtype=np.float64)
    else:
        if a.dtype.kind == "f" and a.dtype.itemsize >= 8:
            Zd = np.ascontiguousarray(a, dtype=np.float64)
            _finite(Zd, fn, "Z")
            P = _softmax64(Zd)
        else:
            Zf = _convert(a, fn, "Z", keep64=False)
            _finite(Zf, fn, "Z")
            P = np.empty((n, C), dtype=np.float64)
            _L.mg_softmax_f64(_ptr(Zf), n, C, _ptr(P))
    out = _lib.Calibration()
    rel = (_lib.ReliabilityBin * bins)()
    _check(_L.mg_calibration_f64(_ptr(P), n, C, _ptr(y32), bins, ctypes.byref(out),
                                 ctypes.addressof(rel)), fn)
    d = _struct_dict(out)
    d["reliability"] = np.array([(b.lo, b.hi, b.count, b.conf, b.acc) for b in rel],
                                dtype=RELIABILITY_DTYPE)
    # equal-mass bins: confidence and correctness as mg_calibration_f64 and
    # analyze take them (max p, argmax ties to the lowest index)
    conf = np.ascontiguousarray(P.max(axis=1))
    ok = np.ascontiguousarray(P.argmax(axis=1) == y32, dtype=np.uint8)
    rel_a = (_lib.ReliabilityBin * bins)()
    ece_a, mce_a = ctypes.c_double(), ctypes.c_double()
    _check(_L.mg_adaptive_ece(_ptr(conf), _ptr(ok), n, bins, ctypes.byref(ece_a),
                              ctypes.byref(mce_a), ctypes.addressof(rel_a)), fn)
    d["ece_adaptive"] = ece_a.value
    d["mce_adaptive"] = mce_a.value
    d["reliability_adaptive"] = np.array([(b.lo, b.hi, b.count, b.conf, b.acc) for b in rel_a],
                                         dtype=RELIABILITY_DTYPE)
    return d


def margins(H, y, W, b=None):
    """Exact margins at an affine readout z = W h + b (mg_penultimate_margins,
    analysis/metrics.h).

    H: (n, ...) states flattened to n x p, W: (C, p) with C >= 2,
       b: (C,) or None (zero bias); all used as float32 (any dtype is
       converted); the logits are recomputed in double.
    y: (n,) integer labels in 0..C-1.

    Returns a float64 array (n,): out[i] = min_{j != y_i} (z_y - z_j) /
    ||w_y - w_j||, the signed Euclidean distance of h_i to the nearest
    decision boundary of its true class (negative when misclassified).  A
    pair with w_y == w_j contributes +inf when z_y > z_j, -inf when
    z_y < z_j and 0 when equal.
    Errors: InputError (shapes, labels, non-finite H, W or b: the C function
    does not check them, so they are checked here).
    """
    fn = "margins"
    X, _ = _states(H, fn, keep64=False)
    n, p = X.shape
    Wf = _matrix(W, fn, "W", None, p, keep64=False,
                 what="(classes, p) = (C, %d): p = features of H %s flattened"
                 % (p, _shape_tail(H)))
    C = Wf.shape[0]
    if C < 2:
        _fail(fn, "W has shape %s: need at least 2 classes (rows)" % (Wf.shape,))
    bf = None
    if b is not None:
        bf = _vector(b, fn, "b", C, keep64=False, what="(classes,) = (%d,)" % C)
        _finite(bf, fn, "b")
    _finite(X, fn, "H", states=True)
    _finite(Wf, fn, "W")
    y32, C = _labels(y, fn, n, C, " from W.shape[0]")
    out = np.empty(n, dtype=np.float64)
    _check(_L.mg_penultimate_margins(_ptr(X), n, p, _ptr(Wf), _ptr(bf), C, _ptr(y32),
                                     _ptr(out)), fn)
    return out


# ---------------------------------------------------------------- compare

def _budget_bytes(budget_mib, fn):
    if isinstance(budget_mib, bool) or not isinstance(budget_mib, (int, float, np.integer,
                                                                   np.floating)):
        _fail(fn, "budget_mib must be a number of MiB, got %r" % (budget_mib,))
    b = float(budget_mib)
    if not np.isfinite(b) or b <= 0:
        _fail(fn, "budget_mib must be > 0, got %r" % (budget_mib,))
    nbytes = int(b * 2**20)
    if nbytes < 1:
        _fail(fn, "budget_mib = %r is less than one byte" % (budget_mib,))
    if nbytes > 2**62:
        _fail(fn, "budget_mib = %r is too large" % (budget_mib,))
    return nbytes


def cka(X, Y, budget_mib=256):
    """Linear and debiased CKA between two sets of states of the same examples
    (mg_cka_f32, analysis/compare.h; Kornblith et al. 2019).

    X: (n, ...) flattened per example to n x p; Y: (n, ...) flattened to
       n x q: the same n examples in the same order (p and q may differ).
       Both used as float32 (any dtype is converted); arithmetic in double.
    budget_mib: memory for the accumulators in MiB (default 256,
       MG_CKA_DEFAULT_BUDGET; a float such as 0.01 is allowed).

    Definitions (the features centred on their means, Xc, Yc):
      linear   CKA = ||Xc^T Yc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F);
      debiased CKA_d = u(Xc, Yc) / sqrt(u(Xc, Xc) u(Yc, Yc)) with the
        unbiased HSIC estimator (Song et al. 2012) in its feature-space form
        (Nguyen, Raghu & Kornblith 2021; Kornblith's reference code)
          u(A, B) = ||A^T B||_F^2 - n/(n-2) sum_i ||a_i||^2 ||b_i||^2
                    + ||A||_F^2 ||B||_F^2 / ((n-1)(n-2))   (n >= 4).
    Forms: 'features' when p + q <= n (accumulators of (p+q)^2 doubles,
      the rows streamed in blocks, in column blocks over several passes when
      they exceed the budget), 'gram' from the n x n Gram matrices of the
      centred rows when n < p + q and two n x n double matrices fit the
      budget (else the feature form); the same quantities
      (||A^T B||_F^2 = tr(A A^T B B^T)).

    Returns a dict:
      linear, debiased (NaN when a side has no spread; debiased NaN when
        n < 4);  n, p, q;  form: 'features' or 'gram';
      passes: passes over the rows (the first computes the means);
      xy, xx, yy = ||Xc^T Yc||_F^2, ||Xc^T Xc||_F^2, ||Yc^T Yc||_F^2;
      uxy, uxx, uyy = the unbiased estimators u(., .).
    Errors: InputError (n mismatch, n < 2, budget_mib <= 0), Error
    (non-finite value: MG_ERR_FORMAT "X: a non-finite value at row i,
    feature j"; MG_ERR_NOMEM: the budget cannot hold one column block of
    p + q features, or out of memory).
    """
    fn = "cka"
    Xf, _ = _states(X, fn, keep64=False, name="X", max_n=2**62)
    Yf, _ = _states(Y, fn, keep64=False, name="Y", max_n=2**62)
    n, p = Xf.shape
    if Yf.shape[0] != n:
        _fail(fn, "n mismatch: X has %d examples but Y has %d (the same examples in the same "
              "order are needed)" % (n, Yf.shape[0]))
    if n < 2:
        _fail(fn, "CKA needs at least 2 examples, got %d" % n)
    q = Yf.shape[1]
    budget = _budget_bytes(budget_mib, fn)
    r = _lib.CkaResult()
    _check(_L.mg_cka_f32(_ptr(Xf), p, _ptr(Yf), q, n, budget, ctypes.byref(r)), fn)
    return {"linear": r.cka, "debiased": r.cka_debiased, "n": int(r.n), "p": r.p, "q": r.q,
            "form": "gram" if r.gram else "features", "passes": r.passes,
            "xy": r.xy, "xx": r.xx, "yy": r.yy, "uxy": r.uxy, "uxx": r.uxx, "uyy": r.uyy}


def _discard(discard, fn):
    if isinstance(discard, bool) or not isinstance(discard, (int, float, np.integer,
                                                             np.floating)):
        _fail(fn, "discard must be a number in [0, 1), got %r" % (discard,))
    d = float(discard)
    if not 0.0 <= d < 1.0:
        _fail(fn, "discard must lie in [0, 1) (the fraction of the largest ratios left "
              "out), got %r" % (discard,))
    return d


def _twonn_one(Xf, discard, ratios, fn):
    n, p = Xf.shape
    r = _lib.TwonnResult()
    mu = np.empty(n, dtype=np.float64) if ratios else None
    _check(_L.mg_twonn_f32(_ptr(Xf), n, p, discard, ctypes.byref(r), _ptr(mu)), fn)
    out = {"d": r.d, "n": r.n, "n_duplicate": r.n_duplicate, "n_fit": r.n_fit,
           "discard": r.discard}
    if ratios:
        out["mu"] = mu
    return out


def twonn(X, discard=0.1, return_ratios=False, y=None):
    """TwoNN intrinsic dimension of a set of points (mg_twonn_f32,
    analysis/compare.h; Facco, d'Errico, Rodriguez & Laio 2017).

    X: (n, ...) points flattened to n x p, n >= 3; used as float32 (any dtype
       is converted); the distances are recomputed in double.
    discard: the fraction of the largest ratios left out of the fit, in
       [0, 1) (default 0.1).
    return_ratios: also return every point's ratio mu (key 'mu').
    y: optional (n,) integer labels: then the estimate of all points and of
       every class (see below).

    Convention (compare.h): for every point mu = r2 / r1, the distances to its
    second and first nearest neighbours (Euclidean, exact: candidates from a
    GEMM of the rows, then the distances recomputed in double from the
    differences); points with r1 = 0 (an exact duplicate) are dropped and
    counted.  With the N ratios sorted ascending, the empirical CDF is
    F(mu_(i)) = i / N for i = 1..N; the largest `discard` fraction is left
    out (the fit keeps min(floor(N (1 - discard)), N - 1) ratios, so mu_(N),
    where -log(1 - F) is infinite, is always left out), and d is the slope of
    the least-squares line through the origin of -log(1 - F(mu_(i))) against
    log(mu_(i)): d = sum x_i y_i / sum x_i^2.

    Returns a dict:
      d (NaN with fewer than 2 ratios to fit), n (points), n_duplicate
      (dropped, r1 = 0), n_fit (ratios in the fit), discard;
      mu (with return_ratios): float64 (n,), NaN for a dropped duplicate.
    With y: {'pooled': that dict for all n points, 'per_class': {c: that
      dict for the points of class c, in their order}} for every class c
      present in y (a class of fewer than 3 points gets d NaN, n_fit 0 and
      NaN ratios).  Time O(n^2 p) (per class O(n_c^2 p)), memory O(256 n + n p).
    Errors: InputError (n < 3, discard outside [0, 1), labels), Error
    (non-finite value: MG_ERR_FORMAT "TwoNN: a non-finite value at row i,
    feature j", the row of X).
    """
    fn = "twonn"
    Xf, _ = _states(X, fn, keep64=False, name="X")
    n = Xf.shape[0]
    if n < 3:
        _fail(fn, "TwoNN needs at least 3 points, got %d" % n)
    discard = _discard(discard, fn)
    ratios = bool(return_ratios)
    pooled = _twonn_one(Xf, discard, ratios, fn)
    if y is None:
        return pooled
    y32, C = _labels(y, fn, n, name="y", of="X")
    per = {}
    for c in range(C):
        rows = np.flatnonzero(y32 == c)
        if rows.size == 0:
            continue
        if rows.size >= 3:
            per[c] = _twonn_one(np.ascontiguousarray(Xf[rows]), discard, ratios, fn)
        else:
            per[c] = {"d": float("nan"), "n": int(rows.size), "n_duplicate": 0, "n_fit": 0,
                      "discard": discard}
            if ratios:
                per[c]["mu"] = np.full(rows.size, np.nan)
    return {"pooled": pooled, "per_class": per}


def twonn_fit(mu, discard=0.1):
    """The TwoNN fit alone on given ratios (mg_twonn_fit, analysis/compare.h),
    e.g. twonn(X, return_ratios=True)['mu'] refitted with another discard.

    mu: 1-d array of ratios r2/r1 (>= 1), any float dtype (used in double);
       NaN entries (dropped duplicates) are skipped.
    discard: in [0, 1), as twonn().

    Returns a dict: d (NaN with fewer than 2 ratios to fit), n (entries
    given), n_duplicate (NaN entries), n_fit, discard.
    Errors: InputError (not 1-d, an entry infinite or below 1, discard).
    """
    fn = "twonn_fit"
    a = _real(mu, fn, "mu")
    if a.ndim != 1:
        _fail(fn, "mu: expected a 1-d array of ratios, got shape %s" % (a.shape,))
    if a.shape[0] > _INT_MAX:
        _fail(fn, "mu: %d entries is too many for the C API" % a.shape[0])
    a = np.ascontiguousarray(a, dtype=np.float64)
    discard = _discard(discard, fn)
    nan = np.isnan(a)
    bad = ~nan & ~(np.isfinite(a) & (a >= 1.0))
    if bad.any():
        i = int(np.argmax(bad))
        _fail(fn, "mu: entry %d is %r; ratios r2/r1 are finite and >= 1 (NaN = skipped)"
              % (i, float(a[i])))
    r = _lib.TwonnResult()
    _check(_L.mg_twonn_fit(_ptr(a) if a.size else None, a.size, discard, ctypes.byref(r)), fn)
    return {"d": r.d, "n": int(a.size), "n_duplicate": int(nan.sum()), "n_fit": r.n_fit,
            "discard": r.discard}


# ---------------------------------------------------------------- driver

def analyze(H, y, logits=None, readout=None, *, out, only="all", seed=0, bins=15,
            max_per_class=-1):
    """Every analysis that the arrays allow, written as `mixgeo analyze` writes
    them (mg_analyze_arrays, analysis/analyze.h).

    H: (n, ...) states flattened to n x p, used as float32.
    y: (n,) integer labels.
    logits: optional (n, C) logits, float32.
    readout: optional affine readout from the states to the logits:
       (W, b) with W (C, p) and b (C,) or None (zero bias), or W alone;
       float32.  With logits and readout, both must have the same C.
    out: the output directory (created): out/summary.json (one section per
       analysis: spectra, corollary, theory, calibration, collapse, margins,
       confidence, ...), TSV data files and gnuplot scripts, the same files,
       columns and keys as the CLI.
    only: "all" (default: every analysis the input allows; the rest, which
       need the network, are skipped) or a comma-separated string or a list of
       names; a named analysis that cannot run is an error.
    seed: pairs and subsets (uint64); bins: ECE bins (15); max_per_class:
       examples kept per class (-1 auto: 300 above 2048 features, else all;
       0 all; N).

    Returns the parsed out/summary.json (a dict).
    Errors: Error when the library lacks mg_analyze_arrays, InputError
    (shapes, labels, non-finite logits or readout, MG_ERR_CONFIG), Error
    (MG_ERR_FORMAT non-finite states, MG_ERR_IO, ...).
    """
    fn = "analyze"
    if not HAVE_ANALYZE:
        raise Error("mixgeo.analyze: %s has no mg_analyze_arrays (built before "
                    "analysis/analyze.c?); rebuild the library" % library_path)
    X, _ = _states(H, fn, keep64=False, max_n=2**62)
    n, p = X.shape
    W = b = None
    if readout is not None:
        if isinstance(readout, (tuple, list)):
            if len(readout) == 2:
                W, b = readout
            elif len(readout) == 1:
                W = readout[0]
            else:
                _fail(fn, "readout must be (W, b), (W,) or W, got a sequence of %d"
                      % len(readout))
        else:
            W = readout
    Wf = bf = Zf = None
    C = None
    source = ""
    if W is not None:
        Wf = _matrix(W, fn, "W", None, p, keep64=False,
                     what="(classes, p) = (C, %d): p = features of H %s flattened"
                     % (p, _shape_tail(H)))
        _finite(Wf, fn, "W")
        C, source = Wf.shape[0], " from W.shape[0]"
        if b is not None:
            bf = _vector(b, fn, "b", C, keep64=False, what="(classes,) = (%d,)" % C)
            _finite(bf, fn, "b")
    if logits is not None:
        Zf = _matrix(logits, fn, "logits", n, C, keep64=False,
                     what="(n, classes) = (%d, %s)%s" % (n, C if C is not None else "C",
                                                         " as W has %d rows" % C
                                                         if C is not None else ""))
        _finite(Zf, fn, "logits")
        if C is None:
            C, source = Zf.shape[1], " from logits.shape[1]"
    y32, C = _labels(y, fn, n, C, source)
    if isinstance(only, str):
        only_s = only
    else:
        try:
            only_s = ",".join(str(s) for s in only)
        except TypeError:
            _fail(fn, "only must be a string or a list of names, got %r" % (only,))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or \
            not 0 <= int(seed) < 2**64:
        _fail(fn, "seed must be an integer in 0..2^64-1, got %r" % (seed,))
    bins = _int(bins, fn, "bins", 1)
    max_per_class = _int(max_per_class, fn, "max_per_class", -1)
    out_b = os.fsencode(out)
    st = _L.mg_analyze_arrays(_ptr(X), n, p, _ptr(y32), _ptr(Zf),
                              Zf.shape[1] if Zf is not None else 0, _ptr(Wf), _ptr(bf),
                              Wf.shape[0] if Wf is not None else 0, only_s.encode(),
                              int(seed), bins, max_per_class, out_b)
    _check(st, fn)
    with open(os.path.join(out_b, b"summary.json"), encoding="utf-8") as f:
        return json.load(f)
