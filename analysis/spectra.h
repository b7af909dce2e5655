/*
 * spectra.h - exact per-class singular value spectra of hidden states, in a
 * single streaming pass (part of libmganalysis).
 *
 * What is computed (PAPER.md section 4): for every class c, the singular
 * values of its n_c x p data X_c, centred (X_c - 1 mu_c^T) and uncentred,
 * plus the pooled within-class spectrum (all classes centred on their own
 * means, stacked) and the pooled total spectrum (all data centred on the
 * overall mean).  The spectra are those of the data itself, never of X^T X
 * (squaring would lose every singular value below sqrt(eps) s_1).
 *
 * How: per class an upper-triangular R_c (p x p, double) with
 * R_c^T R_c = (X_c - 1 mu_c^T)^T (X_c - 1 mu_c^T), plus the running mean and
 * count.  Rows are buffered per class; a full block B (m rows) is folded in
 * by one Householder QR (LAPACK dgeqrf) of the stacked matrix
 *     [ R_c ; B - 1 mu_B^T ; sqrt(w) (mu_c - mu_B)^T ],  w = n_c m / (n_c + m),
 * which is Chan's parallel update of the scatter matrix in QR form.  At the
 * end the singular values come from dgesdd (values only) of R_c, of
 * [R_c ; sqrt(n_c) mu_c^T] (uncentred), of R_W = qr([R_1; ...; R_C])
 * (pooled within) and of [R_W ; sqrt(n_c) (mu_c - mu)^T rows] (pooled total).
 * Memory: classes * p * (p + block_rows) doubles plus one work matrix.
 *
 * Conventions: input rows are row-major (n x p); labels are int32 in
 * 0..classes-1 (a label outside that range is a runtime error, MG_ERR_CONFIG,
 * and nothing of that batch is added).  Singular values are in descending
 * order.  Parallelism only through OpenBLAS threads (mg_set_threads).
 */
#ifndef MG_SPECTRA_H
#define MG_SPECTRA_H

#include "mixgeo.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- accumulator */

typedef struct mg_spectra_acc mg_spectra_acc;

/* Default rows per block when block_rows = 0: clamp(2 p, 256, 2048) (about
 * 2 p keeps dgeqrf at BLAS-3 speed while the stacked R costs at most a
 * third of the work; see bench/bench_spectra.c). */
int mg_spectra_default_block_rows(int p);

/* New accumulator for `classes` >= 1 classes of p >= 1 dimensional states.
 * block_rows >= 1 rows per class are buffered before a QR update (0 =
 * mg_spectra_default_block_rows(p)).  Errors: MG_ERR_CONFIG (bad sizes),
 * MG_ERR_NOMEM.  Free with mg_spectra_acc_free. */
mg_status mg_spectra_acc_create(int classes, int p, int block_rows, mg_spectra_acc **out);
void mg_spectra_acc_free(mg_spectra_acc *acc);

/* Add n states X (n x p, row-major) with labels y (n), any mix of classes.
 * The rows are copied (converted to double); X and y are not kept.
 * Errors: MG_ERR_CONFIG (a label out of range: nothing added),
 * MG_ERR_NUMERIC (a non-finite value: nothing added), MG_ERR_NOMEM. */
mg_status mg_spectra_acc_add(mg_spectra_acc *acc, const float *X, const int32_t *y, int n);
/* The same for double states (exact tests, idealised theory). */
mg_status mg_spectra_acc_add_f64(mg_spectra_acc *acc, const double *X, const int32_t *y, int n);

/* ---------------------------------------------------------------- result */

/* One class.  ns = min(n, p) singular values are stored for both the
 * centred and the uncentred data (the data's own count; the rest are 0).
 * The centred data has rank <= n - 1, so when n <= p its last stored value
 * is 0 up to rounding.  A class without data has n = ns = 0 and a zero mean. */
typedef struct {
    int64_t n; /* rows seen (n_c)                                   */
    int p;
    int ns;              /* min(n, p)                                         */
    double *s_centred;   /* ns values of X_c - 1 mu_c^T, descending           */
    double *s_uncentred; /* ns values of X_c, descending                      */
    double *mean;        /* p: mu_c                                           */
    double *R;           /* p x p row-major, upper triangular (trailing rows may
                            be 0): R^T R = (X_c - 1 mu_c^T)^T (X_c - 1 mu_c^T) */
} mg_class_spectrum;

/* All arrays live inside the result (one allocation); free with
 * mg_spectra_result_free. */
typedef struct {
    int classes, p;
    int64_t n;              /* total rows                                     */
    mg_class_spectrum *cls; /* classes entries                                */
    double *mean;           /* p: overall mean (weighted by n_c)              */
    int ns_within;          /* min(n, p)                                      */
    double *s_within;       /* pooled within-class: every class centred on its
                               own mean, stacked                              */
    int ns_total;           /* min(n, p)                                      */
    double *s_total;        /* pooled total: all rows centred on the overall mean */
} mg_spectra_result;

/* Fold in the rows still buffered and compute every spectrum.  The
 * accumulator stays valid: more rows can be added and finish called again.
 * *out is new.  Errors: MG_ERR_NOMEM, MG_ERR_NUMERIC (LAPACK failed to
 * converge; the detail names the routine and class). */
mg_status mg_spectra_acc_finish(mg_spectra_acc *acc, mg_spectra_result **out);
void mg_spectra_result_free(mg_spectra_result *r);

/* ---------------------------------------------------------------- summaries */

/* Numerical-rank tolerance factor for float32 activations (FLT_EPSILON). */
#define MG_RANK_EPS 1.1920928955078125e-07

/* Summary of one spectrum s (ns values, descending, >= 0) of an n x p data
 * matrix.  An all-zero (or empty) spectrum gives zeros everywhere. */
typedef struct {
    int ns, p;
    int64_t n;
    double s1;                  /* largest singular value                         */
    double rest;                /* sum_{k>=2} s_k                                 */
    double sum, sum_sq;         /* sum s_k, sum s_k^2                             */
    double s1_per_sqrt_n;       /* s_1 / sqrt(n)  (0 when n = 0)                  */
    double effective_rank;      /* exp(-sum q ln q), q = s / sum s (0 ln 0 = 0)   */
    double participation_ratio; /* (sum s^2)^2 / sum s^4                          */
    double stable_rank;         /* sum s^2 / s_1^2                                */
    int k90, k95, k99;          /* least k with sum_{i<=k} s_i^2 >= f sum s^2 (a
                                   relative slack of 1e-12 absorbs rounding)      */
    double tol;                 /* s_1 max(n, p) MG_RANK_EPS                      */
    int rank_eps;               /* #{s_k > tol}                                   */
    int rank_1e2, rank_1e3;     /* #{s_k > 1e-2 s_1}, #{s_k > 1e-3 s_1}           */
} mg_spectrum_summary;

void mg_spectrum_summarize(const double *s, int ns, int64_t n, int p, mg_spectrum_summary *out);

/* Normalised spectra: rel[k] = s_k / s_1 (0 when s_1 = 0) and
 * per_sqrt_n[k] = s_k / sqrt(n) (0 when n = 0); either output may be NULL;
 * both hold ns entries (overwritten). */
void mg_spectrum_normalize(const double *s, int ns, int64_t n, double *rel, double *per_sqrt_n);

/* #{s_k > tol}. */
int mg_spectrum_rank(const double *s, int ns, double tol);

#ifdef __cplusplus
}
#endif
#endif /* MG_SPECTRA_H */
