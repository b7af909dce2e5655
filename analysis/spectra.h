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
 * Two exact modes (mg_spectra_mode), chosen when the accumulator is made:
 *
 *  qr-stream (MLP widths): per class an upper-triangular R_c (p x p,
 *    double) with R_c^T R_c = (X_c - 1 mu_c^T)^T (X_c - 1 mu_c^T), plus the
 *    running mean and count.  Rows are buffered per class; a full block B
 *    (m rows) is folded in by one Householder QR (LAPACK dgeqrf) of the
 *    stacked matrix
 *      [ R_c ; B - 1 mu_B^T ; sqrt(w) (mu_c - mu_B)^T ],  w = n_c m / (n_c + m),
 *    which is Chan's parallel update of the scatter matrix in QR form.  At
 *    the end the singular values come from dgesdd (values only) of R_c, of
 *    [R_c ; sqrt(n_c) mu_c^T] (uncentred), of R_W = qr([R_1; ...; R_C])
 *    (pooled within) and of [R_W ; sqrt(n_c) (mu_c - mu)^T rows] (pooled
 *    total).  Memory: classes * p * (p + block_rows) doubles plus one work
 *    matrix, whatever the number of rows (the fast kernel, see
 *    mg_spectra_acc_use_reference, adds 2 work matrices of
 *    p (p + max(block_rows, p + classes) + 2) doubles and, during finish,
 *    classes * p^2 doubles for the merged triangles).
 *
 *  rows (wide layers, e.g. the 12544-dim stage outputs of a convolutional
 *    net, where classes * p^2 doubles would not fit): the rows themselves
 *    are kept per class (float32, at most max_rows_per_class of each class)
 *    and decomposed at finish, one matrix at a time, in double:
 *    - a class with n_c < p: one dgeqrf of the p x (n_c + 1) matrix
 *      [(X_c - 1 mu_c^T)^T, sqrt(n_c) mu_c] (QR of the transpose: its
 *      triangle T has the singular values of the data; the leading n_c x n_c
 *      block of T, because QR is column-sequential, those of the centred
 *      data, the whole (n_c+1) x (n_c+1) triangle those of [X_c - 1 mu_c^T ;
 *      sqrt(n_c) mu_c^T], i.e. of the uncentred X_c), then dgesdd of the two
 *      triangles: O(n_c^2 p) work, (p + n_c) n_c doubles;
 *    - a class with n_c >= p: the row-space QR (streamed by blocks of rows,
 *      as in qr-stream mode) to a p x p triangle, then dgesdd;
 *    - pooled: with N = sum n_c rows and C' non-empty classes, when
 *      N + C' <= p one dgeqrf of the p x (N + C') matrix [centred rows of
 *      every class, sqrt(n_c) (mu_c - mu) columns] whose leading N x N
 *      triangle gives the pooled within-class and whole triangle the pooled
 *      total spectrum; otherwise the row-space QR streamed over blocks of
 *      centred rows to a p x p triangle R_W, then [R_W ; sqrt(n_c) (mu_c -
 *      mu)^T rows] as above.
 *    Memory: the kept rows (4 N p bytes) plus, during finish,
 *    8 p min(N + C', p + block) + 16 min(N + C', p)^2 bytes; time
 *    O(min(N, p)^2 max(N, p)).
 *
 * Both modes give the same values up to rounding (tests/test_spectra.c
 * checks them against each other and against one-shot SVDs).
 *
 * Conventions: input rows are row-major (n x p); labels are int32 in
 * 0..classes-1 (a label outside that range is a runtime error, MG_ERR_CONFIG,
 * and nothing of that batch is added).  Singular values are in descending
 * order.  Parallelism: OpenBLAS threads (mg_set_threads) in rows mode and
 * the reference kernel; the fast qr-stream kernel runs two workers of one
 * OpenBLAS thread each instead (see mg_spectra_acc_use_reference).
 */
#ifndef MG_SPECTRA_H
#define MG_SPECTRA_H

#include "mixgeo.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- accumulator */

typedef struct mg_spectra_acc mg_spectra_acc;

typedef enum {
    MG_SPECTRA_AUTO = 0,  /* choose by memory: see mg_spectra_choose_mode     */
    MG_SPECTRA_QR_STREAM, /* per-class p x p triangles, any number of rows    */
    MG_SPECTRA_ROWS       /* keep the rows (float32), decompose at finish     */
} mg_spectra_mode;
/* "auto", "qr-stream", "rows". */
const char *mg_spectra_mode_name(mg_spectra_mode m);

/* Default memory budget of the qr-stream triangles for MG_SPECTRA_AUTO. */
#define MG_SPECTRA_DEFAULT_BUDGET ((size_t)512 << 20)

typedef struct {
    mg_spectra_mode mode;
    int block_rows;         /* qr-stream (and the row-space QR of rows mode):
                               rows per QR update, 0 = mg_spectra_default_block_rows */
    int max_rows_per_class; /* rows mode: keep the first max_rows_per_class rows
                               of each class (later ones are counted in
                               n_skipped and ignored); 0 = keep every row.  Also
                               steers MG_SPECTRA_AUTO (see below)              */
    size_t budget_bytes;    /* MG_SPECTRA_AUTO: 0 = MG_SPECTRA_DEFAULT_BUDGET    */
} mg_spectra_config;

/* mode AUTO, block_rows 0, max_rows_per_class 0, budget 0 (the default). */
mg_spectra_config mg_spectra_config_default(void);

/* The mode MG_SPECTRA_AUTO resolves to (any other mode is returned as is):
 * rows when the qr-stream triangles, classes * p^2 * 8 bytes, exceed the
 * budget, or when max_rows_per_class > 0 and classes * max_rows_per_class
 * < p (every class then has fewer rows than dimensions, and the kept rows
 * are smaller than one triangle); qr-stream otherwise.  So MLP widths
 * (p <= 2048 with 10 classes) stay in qr-stream mode unless the rows are
 * capped below p / classes. */
mg_spectra_mode mg_spectra_choose_mode(int classes, int p, const mg_spectra_config *cfg);

/* Default rows per block when block_rows = 0: clamp(2 p, 256, 2048) (about
 * 2 p keeps dgeqrf at BLAS-3 speed while the stacked R costs at most a
 * third of the work; see bench/bench_spectra.c). */
int mg_spectra_default_block_rows(int p);

/* New accumulator for `classes` >= 1 classes of p >= 1 dimensional states,
 * in qr-stream mode (exactly mg_spectra_acc_create_cfg with mode
 * MG_SPECTRA_QR_STREAM and this block_rows).  block_rows >= 1 rows per class
 * are buffered before a QR update (0 = mg_spectra_default_block_rows(p)).
 * Errors: MG_ERR_CONFIG (bad sizes), MG_ERR_NOMEM.  Free with
 * mg_spectra_acc_free. */
mg_status mg_spectra_acc_create(int classes, int p, int block_rows, mg_spectra_acc **out);
/* The same with a configuration (NULL = mg_spectra_config_default()); the
 * mode is resolved by mg_spectra_choose_mode.  Errors: MG_ERR_CONFIG (bad
 * sizes, negative block_rows or max_rows_per_class), MG_ERR_NOMEM. */
mg_status mg_spectra_acc_create_cfg(int classes, int p, const mg_spectra_config *cfg,
                                    mg_spectra_acc **out);
/* The resolved mode of an accumulator (never MG_SPECTRA_AUTO). */
mg_spectra_mode mg_spectra_acc_mode(const mg_spectra_acc *acc);
/* qr-stream kernels: 0 = fast (the default), 1 = reference (the plain
 * algorithm: one triangle per class updated by dgeqrf of [R; block;
 * correction row], the pooled factor by dgeqrf of stacked triangles, every
 * dgesdd in turn with OpenBLAS's own threads); the tests and benchmarks
 * compare the two.  Only before the first row is added (MG_ERR_CONFIG
 * otherwise); no effect in rows mode.
 *
 * The fast kernel keeps two streams per class (the first and second half
 * of every full block, each with its own triangle, mean and count, stored
 * together in the class's p x p array) and folds a half block into its
 * triangle with one triangular-pentagonal QR (dtpqrt: 2 m p^2 flops
 * instead of the 2 (p + m) p^2 of a QR of the stacked matrix).  The two
 * halves, the per-class work of finish (the last partial block, the merge
 * of the two streams, the two SVDs), the pairwise tree of the pooled
 * merges and the two pooled SVDs run on two workers with OpenBLAS at one
 * thread each when mg_get_threads() >= 2, in turn otherwise.  The split of
 * the work is fixed (by halves and by class index, never by timing), so the
 * results are bit-identical run to run and for any thread count.  Until a
 * class has had a full block, nothing differs from the reference (finish
 * runs the reference code), so small data gives the reference's bits. */
mg_status mg_spectra_acc_use_reference(mg_spectra_acc *acc, int reference);
void mg_spectra_acc_free(mg_spectra_acc *acc);

/* Which spectra finish computes (a mask, default MG_SPECTRA_ALL): the
 * per-class centred values, the per-class uncentred values, the two pooled
 * spectra.  The means, counts and R are always there.  A part left out
 * costs nothing in the fast qr-stream finish (each is one SVD per class or
 * two pooled ones: asking for the centred spectra alone does 10 SVDs of
 * 10 classes instead of 22) and its values are NaN in the result, in every
 * mode.  MG_ERR_CONFIG for an empty or unknown mask. */
#define MG_SPECTRA_CENTRED 1u
#define MG_SPECTRA_UNCENTRED 2u
#define MG_SPECTRA_POOLED 4u
#define MG_SPECTRA_ALL 7u
mg_status mg_spectra_acc_set_parts(mg_spectra_acc *acc, unsigned parts);

/* Add n states X (n x p, row-major) with labels y (n), any mix of classes.
 * The rows are copied (qr-stream: converted to double; rows: kept as
 * float32, up to the per-class cap); X and y are not kept.
 * Errors: MG_ERR_CONFIG (a label out of range: nothing added),
 * MG_ERR_NUMERIC (a non-finite value: nothing added), MG_ERR_NOMEM. */
mg_status mg_spectra_acc_add(mg_spectra_acc *acc, const float *X, const int32_t *y, int n);
/* The same for double states (exact tests, idealised theory).  In rows mode
 * each value is rounded to float32 when it is stored (a value beyond the
 * float range is MG_ERR_NUMERIC); use qr-stream mode for double data that
 * must stay exact. */
mg_status mg_spectra_acc_add_f64(mg_spectra_acc *acc, const double *X, const int32_t *y, int n);

/* ---------------------------------------------------------------- result */

/* One class.  ns = min(n, p) singular values are stored for both the
 * centred and the uncentred data (the data's own count; the rest are 0).
 * The centred data has rank <= n - 1, so when n <= p its last stored value
 * is 0 up to rounding.  A class without data has n = ns = 0 and a zero mean.
 * The within-class scatter is available as a factor F with F^T F =
 * (X_c - 1 mu_c^T)^T (X_c - 1 mu_c^T): R in qr-stream mode, the rows
 * themselves (centre them on mean) in rows mode; the other pointer is NULL. */
typedef struct {
    int64_t n;         /* rows used (n_c)                                   */
    int64_t n_skipped; /* rows mode: rows of this class beyond the cap, ignored */
    int p;
    int ns;              /* min(n, p)                                         */
    double *s_centred;   /* ns values of X_c - 1 mu_c^T, descending           */
    double *s_uncentred; /* ns values of X_c, descending                      */
    double *mean;        /* p: mu_c                                           */
    double *R;           /* qr-stream: p x p row-major, upper triangular
                            (trailing rows may be 0): R^T R = (X_c - 1 mu_c^T)^T
                            (X_c - 1 mu_c^T); rows mode: NULL                 */
    float *rows;         /* rows mode: n x p row-major, the rows used (a copy);
                            qr-stream: NULL                                  */
} mg_class_spectrum;

/* All arrays live inside the result (one allocation); free with
 * mg_spectra_result_free. */
typedef struct {
    int classes, p;
    mg_spectra_mode mode;   /* the accumulator's mode (never AUTO)            */
    int64_t n;              /* total rows used                                */
    mg_class_spectrum *cls; /* classes entries                                */
    double *mean;           /* p: overall mean (weighted by n_c)              */
    int ns_within;          /* min(n, p)                                      */
    double *s_within;       /* pooled within-class: every class centred on its
                               own mean, stacked                              */
    int ns_total;           /* min(n, p)                                      */
    double *s_total;        /* pooled total: all rows centred on the overall mean */
} mg_spectra_result;

/* Fold in the rows still buffered (qr-stream) or decompose the kept rows
 * (rows mode) and compute every spectrum.  The accumulator stays valid:
 * more rows can be added and finish called again.  *out is new; in rows
 * mode it holds a copy of the rows (cls[c].rows), 4 n p bytes.
 * Errors: MG_ERR_NOMEM, MG_ERR_NUMERIC (LAPACK failed to converge; the
 * detail names the routine and class, -1 = pooled). */
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
