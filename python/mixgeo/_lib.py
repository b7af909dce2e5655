"""Finding and loading libmganalysis, and the ctypes prototypes of the C API.

Search order (the first library that loads and has the binding entry points
of analysis/bind.c wins):

1. the environment variable MIXGEO_LIB (a path to the shared library); when it
   is set, nothing else is tried: a wrong path is an error, never a silent
   fallback to another build;
2. build/libmganalysis.so relative to the package in the source tree
   (python/mixgeo/../../build/);
3. the install prefix: the package installed as
   PREFIX/lib/python3/dist-packages/mixgeo/ (or .../site-packages/mixgeo/)
   finds PREFIX/lib/libmganalysis.so, then PREFIX/lib/libmganalysis.so.0;
4. ctypes.util.find_library('mganalysis') (the system's library path).

If libmganalysis.so needs libmixgeo.so and the dynamic linker cannot find it,
a libmixgeo.so[.0] next to libmganalysis.so is loaded first (RTLD_GLOBAL)
and the load retried.
"""

import ctypes
import ctypes.util
import os

_LIBNAME = "libmganalysis.so"

# mg_status values (src/mixgeo.h)
MG_OK = 0
MG_ERR_IO = 1
MG_ERR_FORMAT = 2
MG_ERR_CONFIG = 3
MG_ERR_NOMEM = 4
MG_ERR_NUMERIC = 5
MG_ERR_INTERRUPTED = 6

# mg_spectra_mode (analysis/spectra.h) and mg_spectra_part (analysis/bind.h)
SPECTRA_MODES = {"auto": 0, "qr-stream": 1, "rows": 2}
PART_CENTRED, PART_UNCENTRED, PART_CLASS_MEAN, PART_WITHIN, PART_TOTAL, PART_MEAN = range(6)

FLT_EPSILON = 1.1920928955078125e-07  # MG_RANK_EPS

c_int, c_int64, c_double, c_size_t = ctypes.c_int, ctypes.c_int64, ctypes.c_double, ctypes.c_size_t
c_void_p, c_char_p, c_uint64 = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint64


# ---------------------------------------------------------------- struct mirrors
# Plain-number output structs, mirrored field by field in the order of the C
# headers; their sizes are checked against mg_bind_struct_size() at load time.

class SpectraConfig(ctypes.Structure):
    """mg_spectra_config (analysis/spectra.h)."""
    _fields_ = [("mode", c_int), ("block_rows", c_int), ("max_rows_per_class", c_int),
                ("budget_bytes", c_size_t)]


class SpectrumSummary(ctypes.Structure):
    """mg_spectrum_summary (analysis/spectra.h)."""
    _fields_ = [("ns", c_int), ("p", c_int), ("n", c_int64),
                ("s1", c_double), ("rest", c_double), ("sum", c_double), ("sum_sq", c_double),
                ("s1_per_sqrt_n", c_double), ("effective_rank", c_double),
                ("participation_ratio", c_double), ("stable_rank", c_double),
                ("k90", c_int), ("k95", c_int), ("k99", c_int),
                ("tol", c_double),
                ("rank_eps", c_int), ("rank_1e2", c_int), ("rank_1e3", c_int)]


class AffineFitInfo(ctypes.Structure):
    """mg_affine_fit_info (analysis/theory.h)."""
    _fields_ = [("n", c_int), ("p", c_int), ("d", c_int), ("underdetermined", c_int),
                ("rank", c_int), ("rcond", c_double), ("resid", c_double),
                ("resid_rel", c_double)]


class ReliabilityBin(ctypes.Structure):
    """mg_reliability_bin (analysis/metrics.h)."""
    _fields_ = [("lo", c_double), ("hi", c_double), ("count", c_int64), ("conf", c_double),
                ("acc", c_double)]


class Calibration(ctypes.Structure):
    """mg_calibration (analysis/metrics.h)."""
    _fields_ = [("n", c_int), ("classes", c_int), ("bins", c_int),
                ("accuracy", c_double), ("mean_conf", c_double), ("ece", c_double),
                ("mce", c_double), ("oe", c_double), ("nll", c_double), ("brier", c_double),
                ("nll_floored", c_int64)]


class Collapse(ctypes.Structure):
    """mg_collapse (analysis/metrics.h)."""
    _fields_ = [("n", c_int), ("p", c_int), ("classes", c_int), ("sb_rank", c_int),
                ("tr_sw", c_double), ("tr_sb", c_double), ("nc1", c_double),
                ("equinorm_means", c_double), ("equinorm_w", c_double),
                ("equiangle_means", c_double), ("equiangle_w", c_double),
                ("equiangle_means_max", c_double), ("equiangle_w_max", c_double),
                ("nc3", c_double), ("nc4", c_double), ("ncc_accuracy", c_double)]


class CkaResult(ctypes.Structure):
    """mg_cka_result (analysis/compare.h)."""
    _fields_ = [("n", c_int64), ("p", c_int), ("q", c_int),
                ("xy", c_double), ("xx", c_double), ("yy", c_double),
                ("uxy", c_double), ("uxx", c_double), ("uyy", c_double),
                ("cka", c_double), ("cka_debiased", c_double),
                ("gram", c_int), ("passes", c_int)]


class TwonnResult(ctypes.Structure):
    """mg_twonn_result (analysis/compare.h)."""
    _fields_ = [("n", c_int), ("n_duplicate", c_int), ("n_fit", c_int),
                ("discard", c_double), ("d", c_double)]


_MIRRORS = {"mg_spectra_config": SpectraConfig, "mg_spectrum_summary": SpectrumSummary,
            "mg_affine_fit_info": AffineFitInfo, "mg_reliability_bin": ReliabilityBin,
            "mg_calibration": Calibration, "mg_collapse": Collapse,
            "mg_cka_result": CkaResult, "mg_twonn_result": TwonnResult}

P = c_void_p  # every array and handle is passed as a plain address (None = NULL)

# name: (restype, argtypes).  Arrays are passed as addresses of C-contiguous
# numpy buffers of the exact dtype the C function reads (checked by the
# callers in __init__.py before every call).
_PROTOTYPES = {
    # src/mixgeo.h
    "mg_errmsg": (c_char_p, []),
    "mg_status_name": (c_char_p, [c_int]),
    "mg_set_threads": (None, [c_int]),
    "mg_get_threads": (c_int, []),
    "mg_blas_core": (c_char_p, []),
    # analysis/bind.h
    "mg_version": (c_char_p, []),
    "mg_bind_struct_size": (c_size_t, [c_char_p]),
    "mg_spectra_result_info": (None, [P, P, P, P, P]),
    "mg_spectra_result_class_n": (c_int64, [P, c_int, P]),
    "mg_spectra_result_values": (c_int, [P, c_int, c_int, P]),
    # analysis/spectra.h
    "mg_spectra_config_default": (SpectraConfig, []),
    "mg_spectra_mode_name": (c_char_p, [c_int]),
    "mg_spectra_acc_create_cfg": (c_int, [c_int, c_int, ctypes.POINTER(SpectraConfig),
                                          ctypes.POINTER(c_void_p)]),
    "mg_spectra_acc_mode": (c_int, [P]),
    "mg_spectra_acc_free": (None, [P]),
    "mg_spectra_acc_add": (c_int, [P, P, P, c_int]),
    "mg_spectra_acc_add_f64": (c_int, [P, P, P, c_int]),
    "mg_spectra_acc_finish": (c_int, [P, ctypes.POINTER(c_void_p)]),
    "mg_spectra_acc_set_parts": (c_int, [P, ctypes.c_uint]),
    "mg_spectra_result_free": (None, [P]),
    "mg_spectrum_summarize": (None, [P, c_int, c_int64, c_int, ctypes.POINTER(SpectrumSummary)]),
    # analysis/theory.h
    "mg_corollary1_dim": (c_int, [c_int, c_int]),
    "mg_theorem1_applies": (c_int, [c_int, c_int]),
    "mg_affine_fit_f32": (c_int, [P, c_int, c_int, P, c_int, c_double, P,
                                  ctypes.POINTER(AffineFitInfo)]),
    "mg_affine_fit_f64": (c_int, [P, c_int, c_int, P, c_int, c_double, P,
                                  ctypes.POINTER(AffineFitInfo)]),
    "mg_readout_leakage": (c_int, [P, P, c_int, P, P]),
    "mg_class_means_affine_dim": (c_int, [P, P, ctypes.POINTER(SpectrumSummary)]),
    # analysis/metrics.h
    "mg_softmax_f64": (None, [P, c_int, c_int, P]),
    "mg_calibration_f64": (c_int, [P, c_int, c_int, P, c_int, ctypes.POINTER(Calibration),
                                   P]),
    "mg_penultimate_margins": (c_int, [P, c_int, c_int, P, P, c_int, P, P]),
    "mg_neural_collapse": (c_int, [P, c_int, c_int, P, c_int, P, P,
                                   ctypes.POINTER(Collapse)]),
    # analysis/compare.h
    "mg_cka_f32": (c_int, [P, c_int, P, c_int, c_int64, c_size_t, ctypes.POINTER(CkaResult)]),
    "mg_twonn_f32": (c_int, [P, c_int, c_int, c_double, ctypes.POINTER(TwonnResult), P]),
    "mg_twonn_fit": (c_int, [P, c_int, c_double, ctypes.POINTER(TwonnResult)]),
    "mg_adaptive_ece": (c_int, [P, P, c_int, c_int, ctypes.POINTER(c_double),
                                ctypes.POINTER(c_double), P]),
}

# Optional: present once analysis/analyze.c is part of the library.
_OPTIONAL = {
    # analysis/analyze.h
    "mg_analyze_arrays": (c_int, [P, c_int64, c_int, P, P, c_int, P, P, c_int, c_char_p,
                                  c_uint64, c_int, c_int, c_char_p]),
}


def _candidates():
    """(where, path) pairs in search order; see the module docstring."""
    env = os.environ.get("MIXGEO_LIB")
    if env:
        return [("MIXGEO_LIB", env)], True
    out = []
    here = os.path.dirname(os.path.abspath(__file__))
    real = os.path.dirname(os.path.realpath(__file__))
    dirs = [here] if here == real else [here, real]
    for d in dirs:
        out.append(("source tree", os.path.normpath(os.path.join(d, "..", "..", "build",
                                                                  _LIBNAME))))
    for d in dirs:
        prefix_lib = os.path.normpath(os.path.join(d, "..", "..", ".."))
        for name in (_LIBNAME, _LIBNAME + ".0"):
            out.append(("install prefix", os.path.join(prefix_lib, name)))
    found = ctypes.util.find_library("mganalysis")
    out.append(("ctypes.util.find_library('mganalysis')",
                found if found else None))
    seen, uniq = set(), []
    for where, path in out:
        if path is None or path not in seen:
            uniq.append((where, path))
            if path is not None:
                seen.add(path)
    return uniq, False


def _dlopen(path):
    """CDLL(path); on failure retry after loading a libmixgeo.so beside it."""
    try:
        return ctypes.CDLL(path)
    except OSError as first:
        d = os.path.dirname(path)
        for name in ("libmixgeo.so", "libmixgeo.so.0"):
            sib = os.path.join(d, name) if d else ""
            if sib and os.path.exists(sib):
                try:
                    ctypes.CDLL(sib, mode=ctypes.RTLD_GLOBAL)
                    return ctypes.CDLL(path)
                except OSError:
                    pass
        raise first


def _bind(lib):
    """Set restype/argtypes of every function used; return the missing ones."""
    missing = []
    for name, (res, args) in _PROTOTYPES.items():
        try:
            f = getattr(lib, name)
        except AttributeError:
            missing.append(name)
            continue
        f.restype, f.argtypes = res, args
    for name, (res, args) in _OPTIONAL.items():
        f = getattr(lib, name, None)
        if f is not None:
            f.restype, f.argtypes = res, args
    return missing


def _check_layout(lib):
    bad = []
    for cname, mirror in _MIRRORS.items():
        size = lib.mg_bind_struct_size(cname.encode())
        if size != ctypes.sizeof(mirror):
            bad.append("%s: C %d bytes, Python mirror %d" % (cname, size, ctypes.sizeof(mirror)))
    return bad


def load():
    """Load the library; returns (lib, path).  ImportError naming every place tried."""
    cands, from_env = _candidates()
    tried = []
    for where, path in cands:
        if path is None:
            tried.append("%s: not found" % where)
            continue
        if os.path.sep in path and not os.path.exists(path):
            tried.append("%s: %s (no such file)" % (where, path))
            continue
        try:
            lib = _dlopen(path)
        except OSError as e:
            tried.append("%s: %s (%s)" % (where, path, e))
            continue
        missing = _bind(lib)
        if missing:
            tried.append("%s: %s (lacks %s: built before analysis/bind.c?)"
                         % (where, path, ", ".join(missing[:4]) + (" ..." if len(missing) > 4
                                                                   else "")))
            continue
        bad = _check_layout(lib)
        if bad:
            tried.append("%s: %s (struct layout differs from the Python mirror, update "
                         "python/mixgeo/_lib.py: %s)" % (where, path, "; ".join(bad)))
            continue
        return lib, path
    hint = ("MIXGEO_LIB is set, so nothing else was tried: point it at a working "
            "libmganalysis.so, or unset it" if from_env else
            "run `make` in the source tree (builds build/libmganalysis.so), `make install`, "
            "or set MIXGEO_LIB=/path/to/libmganalysis.so")
    raise ImportError("mixgeo: could not load libmganalysis; tried:\n  " + "\n  ".join(tried)
                      + "\n" + hint)


lib, path = load()
HAVE_ANALYZE = hasattr(lib, "mg_analyze_arrays")

# mg_spectra_acc_set_parts masks (analysis/spectra.h)
PARTS_CENTRED, PARTS_UNCENTRED, PARTS_POOLED, PARTS_ALL = 1, 2, 4, 7
