/* spectra.c - streaming per-class singular value spectra by blocked QR.
 *
 * Storage: every R (per class, pooled) is p x p COLUMN-major (LAPACK's native
 * layout) with its strict lower triangle kept at zero and only its first r
 * rows possibly non-zero.  The work matrix W is column-major with leading
 * dimension cap: the stacked matrices are assembled in it and factorised or
 * decomposed in place, so LAPACK never copies or transposes (STYLE.md 8:
 * dgesdd is called column-major on the column-major R, i.e. the transposed
 * view of a row-major matrix, and no row-major copy is made).
 * Pending rows are buffered row-major per class (as they arrive) and turned
 * into columns by a tiled transpose while they are centred on the block mean.
 */
#include "spectra.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct mg_spectra_acc {
    int classes, p, block_rows;
    int cap;     /* rows of W                                        */
    double *W;   /* cap x p, column-major, ld = cap                  */
    double *tau; /* p                                                */
    double *sv;  /* p: scratch singular values                       */
    /* per class */
    int64_t *n;     /* rows folded into R                               */
    int *r;         /* rows of R that may be non-zero (<= p)            */
    int *pending;   /* rows waiting in buf                              */
    double *mean;   /* classes x p: mean of the rows folded into R      */
    double *R;      /* classes x (p x p) column-major                   */
    double *buf;    /* classes x (block_rows x p) row-major             */
    double *mu_blk; /* p: scratch block mean                            */
};

int mg_spectra_default_block_rows(int p)
{
    int b = 2 * p;
    if (b < 256) b = 256;
    if (b > 2048) b = 2048;
    return b;
}

static int imax(int a, int b)
{
    return a > b ? a : b;
}
static int imin(int a, int b)
{
    return a < b ? a : b;
}

void mg_spectra_acc_free(mg_spectra_acc *acc)
{
    if (!acc) return;
    free(acc->W);
    free(acc->tau);
    free(acc->sv);
    free(acc->n);
    free(acc->r);
    free(acc->pending);
    free(acc->mean);
    free(acc->R);
    free(acc->buf);
    free(acc->mu_blk);
    free(acc);
}

mg_status mg_spectra_acc_create(int classes, int p, int block_rows, mg_spectra_acc **out)
{
    MG_ASSERT(out);
    *out = NULL;
    if (classes < 1)
        return mg_fail(MG_ERR_CONFIG, "spectra: classes must be >= 1 (got %d)", classes);
    if (p < 1) return mg_fail(MG_ERR_CONFIG, "spectra: dimension p must be >= 1 (got %d)", p);
    if (block_rows < 0)
        return mg_fail(MG_ERR_CONFIG, "spectra: block_rows must be >= 0 (got %d)", block_rows);
    if (block_rows == 0) block_rows = mg_spectra_default_block_rows(p);
    /* W holds [R; block; correction row], two stacked R (pooling) and
     * [R_W; one row per class] (pooled total). */
    int64_t cap = imax(imax(p + block_rows + 1, 2 * p), p + classes);
    if (cap > 0x7fffffff / 2 || (double)cap * p > 1e11 / 8)
        return mg_fail(MG_ERR_CONFIG, "spectra: p = %d with block_rows = %d is too large", p,
                       block_rows);

    mg_spectra_acc *a = calloc(1, sizeof *a);
    if (!a) return mg_fail(MG_ERR_NOMEM, "spectra: out of memory");
    size_t pp = (size_t)p * p;
    a->classes = classes;
    a->p = p;
    a->block_rows = block_rows;
    a->cap = (int)cap;
    a->W = malloc((size_t)cap * p * sizeof(double));
    a->tau = malloc((size_t)p * sizeof(double));
    a->sv = malloc((size_t)p * sizeof(double));
    a->n = calloc((size_t)classes, sizeof(int64_t));
    a->r = calloc((size_t)classes, sizeof(int));
    a->pending = calloc((size_t)classes, sizeof(int));
    a->mean = calloc((size_t)classes * p, sizeof(double));
    a->R = calloc((size_t)classes * pp, sizeof(double));
    a->buf = malloc((size_t)classes * block_rows * p * sizeof(double));
    a->mu_blk = malloc((size_t)p * sizeof(double));
    if (!a->W || !a->tau || !a->sv || !a->n || !a->r || !a->pending || !a->mean || !a->R ||
        !a->buf || !a->mu_blk) {
        mg_spectra_acc_free(a);
        return mg_fail(MG_ERR_NOMEM, "spectra: out of memory for %d classes x %d dims", classes, p);
    }
    *out = a;
    return MG_OK;
}

/* LAPACKE info -> status. */
static mg_status lapack_status(lapack_int info, const char *routine, const char *what, int cls)
{
    if (info == 0) return MG_OK;
    if (info == LAPACK_WORK_MEMORY_ERROR || info == LAPACK_TRANSPOSE_MEMORY_ERROR)
        return mg_fail(MG_ERR_NOMEM, "spectra: out of memory in %s (%s, class %d)", routine, what,
                       cls);
    if (info < 0) /* an argument error is a bug here, except NaN input */
        return mg_fail(MG_ERR_NUMERIC, "spectra: %s rejected argument %d (%s, class %d)", routine,
                       (int)-info, what, cls);
    return mg_fail(MG_ERR_NUMERIC, "spectra: %s did not converge (info %d, %s, class %d)", routine,
                   (int)info, what, cls);
}

/* Copy the first r rows of R (p x p column-major) into W rows 0..r-1. */
static void load_R(double *W, int ld, const double *R, int r, int p)
{
    for (int j = 0; j < p; j++)
        memcpy(W + (size_t)j * ld, R + (size_t)j * p, (size_t)r * sizeof(double));
}

/* QR of W's first `rows` rows (column-major, ld); R <- its upper triangle
 * (p x p column-major, zero below).  Returns the new r = min(rows, p). */
static mg_status qr_into(double *W, int ld, int rows, int p, double *tau, double *R, int *r_out,
                         const char *what, int cls)
{
    lapack_int info = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, rows, p, W, ld, tau);
    mg_status st = lapack_status(info, "dgeqrf", what, cls);
    if (st != MG_OK) return st;
    int r = imin(rows, p);
    for (int j = 0; j < p; j++) {
        double *dst = R + (size_t)j * p;
        const double *src = W + (size_t)j * ld;
        int top = imin(j + 1, r);
        memcpy(dst, src, (size_t)top * sizeof(double));
        memset(dst + top, 0, (size_t)(p - top) * sizeof(double));
    }
    *r_out = r;
    return MG_OK;
}

/* Singular values of W's first `rows` rows (destroyed) into sv (min(rows, p)). */
static mg_status svd_values(double *W, int ld, int rows, int p, double *sv, const char *what,
                            int cls)
{
    if (rows == 0) return MG_OK;
    double u_dummy = 0, vt_dummy = 0;
    lapack_int info =
        LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', rows, p, W, ld, sv, &u_dummy, 1, &vt_dummy, 1);
    return lapack_status(info, "dgesdd", what, cls);
}

/* Fold the pending rows of class c into R_c. */
static mg_status flush_class(mg_spectra_acc *a, int c)
{
    int m = a->pending[c];
    if (m == 0) return MG_OK;
    const int p = a->p, ld = a->cap;
    const double *buf = a->buf + (size_t)c * a->block_rows * p;
    double *mu_b = a->mu_blk;
    double *mu = a->mean + (size_t)c * p;
    double *R = a->R + (size_t)c * p * p;
    const int64_t n_old = a->n[c];
    const int r = a->r[c];

    /* block mean */
    memset(mu_b, 0, (size_t)p * sizeof(double));
    for (int i = 0; i < m; i++) {
        const double *row = buf + (size_t)i * p;
        for (int j = 0; j < p; j++) mu_b[j] += row[j];
    }
    for (int j = 0; j < p; j++) mu_b[j] /= m;

    /* W = [R (r rows); block - 1 mu_b^T (m rows); sqrt(w) (mu - mu_b)^T] */
    double *W = a->W;
    load_R(W, ld, R, r, p);
    enum { T = 32 };
    for (int i0 = 0; i0 < m; i0 += T) {
        int i1 = imin(i0 + T, m);
        for (int j0 = 0; j0 < p; j0 += T) {
            int j1 = imin(j0 + T, p);
            for (int j = j0; j < j1; j++) {
                double *col = W + (size_t)j * ld + r;
                const double mj = mu_b[j];
                for (int i = i0; i < i1; i++) col[i] = buf[(size_t)i * p + j] - mj;
            }
        }
    }
    int rows = r + m;
    if (n_old > 0) {
        double w = sqrt((double)n_old * m / (double)(n_old + m));
        for (int j = 0; j < p; j++) W[(size_t)j * ld + rows] = w * (mu[j] - mu_b[j]);
        rows++;
    }
    int r_new;
    mg_status st = qr_into(W, ld, rows, p, a->tau, R, &r_new, "block update", c);
    if (st != MG_OK) return st; /* R untouched: qr_into writes R only on success */

    /* Chan: mu <- mu + m / (n_old + m) (mu_b - mu) */
    double f = (double)m / (double)(n_old + m);
    for (int j = 0; j < p; j++) mu[j] += f * (mu_b[j] - mu[j]);
    a->n[c] = n_old + m;
    a->r[c] = r_new;
    a->pending[c] = 0;
    return MG_OK;
}

/* Shared body of the two add functions (X is float or double).  A full
 * buffer is folded in when the class's next row arrives (or by finish), so a
 * failed update leaves the accumulator consistent. */
#define SPECTRA_ADD_BODY(X)                                                                        \
    do {                                                                                           \
        MG_ASSERT(acc && (n == 0 || (X && y)) && n >= 0);                                          \
        const int p = acc->p;                                                                      \
        for (int i = 0; i < n; i++) {                                                              \
            if (y[i] < 0 || y[i] >= acc->classes)                                                  \
                return mg_fail(MG_ERR_CONFIG, "spectra: label %d of row %d is outside 0..%d",      \
                               (int)y[i], i, acc->classes - 1);                                    \
            for (int j = 0; j < p; j++)                                                            \
                if (!isfinite(X[(size_t)i * p + j]))                                               \
                    return mg_fail(MG_ERR_NUMERIC,                                                 \
                                   "spectra: non-finite value in row %d, column %d", i, j);        \
        }                                                                                          \
        for (int i = 0; i < n; i++) {                                                              \
            int c = y[i];                                                                          \
            if (acc->pending[c] == acc->block_rows) { /* full: fold it in first */                 \
                mg_status st = flush_class(acc, c);                                                \
                if (st != MG_OK) return st;                                                        \
            }                                                                                      \
            double *dst = acc->buf + ((size_t)c * acc->block_rows + acc->pending[c]) * p;          \
            for (int j = 0; j < p; j++) dst[j] = (double)X[(size_t)i * p + j];                     \
            acc->pending[c]++;                                                                     \
        }                                                                                          \
        return MG_OK;                                                                              \
    } while (0)

mg_status mg_spectra_acc_add(mg_spectra_acc *acc, const float *X, const int32_t *y, int n)
{
    SPECTRA_ADD_BODY(X);
}

mg_status mg_spectra_acc_add_f64(mg_spectra_acc *acc, const double *X, const int32_t *y, int n)
{
    SPECTRA_ADD_BODY(X);
}

void mg_spectra_result_free(mg_spectra_result *r)
{
    free(r);
}

static size_t align8(size_t x)
{
    return (x + 7) & ~(size_t)7;
}

mg_status mg_spectra_acc_finish(mg_spectra_acc *acc, mg_spectra_result **out)
{
    MG_ASSERT(acc && out);
    *out = NULL;
    const int C = acc->classes, p = acc->p, ld = acc->cap;
    mg_status st;
    for (int c = 0; c < C; c++)
        if ((st = flush_class(acc, c)) != MG_OK) return st;

    /* one allocation: struct, class array, then doubles */
    int64_t N = 0;
    size_t nd = 3 * (size_t)p; /* mean, s_within, s_total (<= p each) */
    for (int c = 0; c < C; c++) {
        N += acc->n[c];
        int ns = (int)(acc->n[c] < p ? acc->n[c] : p);
        nd += 2 * (size_t)ns + p + (size_t)p * p;
    }
    size_t head = align8(sizeof(mg_spectra_result)) + align8((size_t)C * sizeof(mg_class_spectrum));
    char *mem = calloc(1, head + nd * sizeof(double));
    if (!mem) return mg_fail(MG_ERR_NOMEM, "spectra: out of memory for the result");
    mg_spectra_result *res = (mg_spectra_result *)mem;
    res->cls = (mg_class_spectrum *)(mem + align8(sizeof(mg_spectra_result)));
    double *d = (double *)(mem + head);
    res->classes = C;
    res->p = p;
    res->n = N;
    res->mean = d, d += p;
    res->ns_within = (int)(N < p ? N : p);
    res->s_within = d, d += p;
    res->ns_total = res->ns_within;
    res->s_total = d, d += p;

    double *W = acc->W, *sv = acc->sv;
    for (int c = 0; c < C; c++) {
        mg_class_spectrum *cs = &res->cls[c];
        const double *R = acc->R + (size_t)c * p * p;
        const double *mu = acc->mean + (size_t)c * p;
        const int r = acc->r[c];
        cs->n = acc->n[c];
        cs->p = p;
        cs->ns = (int)(cs->n < p ? cs->n : p);
        cs->s_centred = d, d += cs->ns;
        cs->s_uncentred = d, d += cs->ns;
        cs->mean = d, d += p;
        cs->R = d, d += (size_t)p * p;
        memcpy(cs->mean, mu, (size_t)p * sizeof(double));
        for (int i = 0; i < p; i++) /* row-major copy of the column-major R */
            for (int j = i; j < p; j++) cs->R[(size_t)i * p + j] = R[(size_t)j * p + i];
        for (int j = 0; j < p; j++) res->mean[j] += (double)cs->n * mu[j];
        if (cs->n == 0) continue;

        load_R(W, ld, R, r, p);
        if ((st = svd_values(W, ld, r, p, sv, "centred", c)) != MG_OK) goto fail;
        memcpy(cs->s_centred, sv, (size_t)cs->ns * sizeof(double));

        /* uncentred: X^T X = R^T R + n mu mu^T, so X has the singular values
         * of [R; sqrt(n) mu^T] (decomposed directly: a QR first would not
         * change them). */
        load_R(W, ld, R, r, p);
        double sn = sqrt((double)cs->n);
        for (int j = 0; j < p; j++) W[(size_t)j * ld + r] = sn * mu[j];
        if ((st = svd_values(W, ld, r + 1, p, sv, "uncentred", c)) != MG_OK) goto fail;
        memcpy(cs->s_uncentred, sv, (size_t)cs->ns * sizeof(double));
    }
    if (N == 0) {
        *out = res;
        return MG_OK;
    }
    for (int j = 0; j < p; j++) res->mean[j] /= (double)N;

    /* pooled within: R_W = qr of all R_c stacked, merged into W as many at a
     * time as fit (W has room for at least two full R). */
    double *RW = calloc((size_t)p * p, sizeof(double));
    if (!RW) {
        st = mg_fail(MG_ERR_NOMEM, "spectra: out of memory for the pooled factor");
        goto fail;
    }
    int rw = 0, c = 0;
    while (c < C) {
        load_R(W, ld, RW, rw, p);
        int rows = rw, merged = 0;
        while (c < C && rows + acc->r[c] <= ld) {
            const double *R = acc->R + (size_t)c * p * p;
            for (int j = 0; j < p; j++)
                memcpy(W + (size_t)j * ld + rows, R + (size_t)j * p,
                       (size_t)acc->r[c] * sizeof(double));
            rows += acc->r[c];
            merged++;
            c++;
        }
        MG_ASSERT(merged > 0);
        if ((st = qr_into(W, ld, rows, p, acc->tau, RW, &rw, "pooled within", -1)) != MG_OK) {
            free(RW);
            goto fail;
        }
    }
    load_R(W, ld, RW, rw, p);
    if ((st = svd_values(W, ld, rw, p, sv, "pooled within", -1)) != MG_OK) {
        free(RW);
        goto fail;
    }
    memcpy(res->s_within, sv, (size_t)res->ns_within * sizeof(double));

    /* pooled total: scatter about mu = S_W + sum_c n_c (mu_c - mu)(mu_c - mu)^T */
    load_R(W, ld, RW, rw, p);
    int rows = rw;
    for (c = 0; c < C; c++) {
        if (acc->n[c] == 0) continue;
        double sn = sqrt((double)acc->n[c]);
        const double *mu = acc->mean + (size_t)c * p;
        for (int j = 0; j < p; j++) W[(size_t)j * ld + rows] = sn * (mu[j] - res->mean[j]);
        rows++;
    }
    free(RW);
    if ((st = svd_values(W, ld, rows, p, sv, "pooled total", -1)) != MG_OK) goto fail;
    memcpy(res->s_total, sv, (size_t)res->ns_total * sizeof(double));
    *out = res;
    return MG_OK;
fail:
    free(res);
    return st;
}

/* ---------------------------------------------------------------- summaries */

int mg_spectrum_rank(const double *s, int ns, double tol)
{
    int k = 0;
    for (int i = 0; i < ns; i++) k += s[i] > tol;
    return k;
}

void mg_spectrum_normalize(const double *s, int ns, int64_t n, double *rel, double *per_sqrt_n)
{
    double s1 = ns > 0 ? s[0] : 0.0;
    double rn = n > 0 ? sqrt((double)n) : 0.0;
    for (int k = 0; k < ns; k++) {
        if (rel) rel[k] = s1 > 0 ? s[k] / s1 : 0.0;
        if (per_sqrt_n) per_sqrt_n[k] = rn > 0 ? s[k] / rn : 0.0;
    }
}

void mg_spectrum_summarize(const double *s, int ns, int64_t n, int p, mg_spectrum_summary *o)
{
    MG_ASSERT(o && (ns == 0 || s) && ns >= 0);
    memset(o, 0, sizeof *o);
    o->ns = ns;
    o->n = n;
    o->p = p;
    if (ns == 0 || !(s[0] > 0)) return;
    const double s1 = s[0];
    o->s1 = s1;
    o->s1_per_sqrt_n = n > 0 ? s1 / sqrt((double)n) : 0.0;
    /* sums of t = s / s1 (scale-free: no overflow in s^4) */
    double sum = 0, t2 = 0, t4 = 0, rest = 0;
    for (int k = 0; k < ns; k++) {
        sum += s[k];
        if (k > 0) rest += s[k];
        double t = s[k] / s1;
        t2 += t * t;
        t4 += t * t * t * t;
    }
    o->sum = sum;
    o->rest = rest;
    o->sum_sq = t2 * s1 * s1;
    double h = 0;
    for (int k = 0; k < ns; k++) {
        double q = s[k] / sum;
        if (q > 0) h -= q * log(q);
    }
    o->effective_rank = exp(h);
    o->participation_ratio = t2 * t2 / t4;
    o->stable_rank = t2;
    const double fr[3] = {0.90, 0.95, 0.99};
    int *ks[3] = {&o->k90, &o->k95, &o->k99};
    for (int f = 0; f < 3; f++) {
        double target = fr[f] * t2 * (1.0 - 1e-12), cum = 0;
        int k = 0;
        while (k < ns && cum < target) {
            double t = s[k] / s1;
            cum += t * t;
            k++;
        }
        *ks[f] = k;
    }
    o->tol = s1 * (double)(n > p ? n : p) * MG_RANK_EPS;
    o->rank_eps = mg_spectrum_rank(s, ns, o->tol);
    o->rank_1e2 = mg_spectrum_rank(s, ns, 1e-2 * s1);
    o->rank_1e3 = mg_spectrum_rank(s, ns, 1e-3 * s1);
}
