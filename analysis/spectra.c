/* spectra.c - per-class singular value spectra: streaming blocked QR
 * (qr-stream mode) or kept rows decomposed at the end (rows mode).  This file
 * holds the API, rows mode and the reference qr-stream kernel; the fast
 * qr-stream kernel (the default) is in spectra_fast.c and stores a second
 * stream in the lower triangle of R (spectra_internal.h).
 *
 * Reference storage: every R (per class, pooled) is p x p COLUMN-major (LAPACK's native
 * layout) with its strict lower triangle kept at zero and only its first r
 * rows possibly non-zero.  The work matrix W is column-major with leading
 * dimension cap: the stacked matrices are assembled in it and factorised or
 * decomposed in place, so LAPACK never copies or transposes (STYLE.md 8:
 * dgesdd is called column-major on the column-major R, i.e. the transposed
 * view of a row-major matrix, and no row-major copy is made).
 * Pending rows are buffered row-major per class (as they arrive) and turned
 * into columns by a tiled transpose while they are centred on the block mean.
 *
 * Rows mode keeps each class's rows as float32 (row-major, grown by
 * doubling up to the cap) and does all its LAPACK work at finish, on one
 * matrix at a time (see spectra.h).  The qr-stream code paths are unchanged
 * by it (bit-identical results).
 */
#include "spectra.h"
#include "spectra_internal.h"

#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *mg_spectra_mode_name(mg_spectra_mode m)
{
    switch (m) {
    case MG_SPECTRA_AUTO: return "auto";
    case MG_SPECTRA_QR_STREAM: return "qr-stream";
    case MG_SPECTRA_ROWS: return "rows";
    }
    return "?";
}

mg_spectra_config mg_spectra_config_default(void)
{
    mg_spectra_config c = {MG_SPECTRA_AUTO, 0, 0, 0};
    return c;
}

mg_spectra_mode mg_spectra_choose_mode(int classes, int p, const mg_spectra_config *cfg)
{
    mg_spectra_config c = cfg ? *cfg : mg_spectra_config_default();
    if (c.mode != MG_SPECTRA_AUTO) return c.mode;
    double budget = (double)(c.budget_bytes ? c.budget_bytes : MG_SPECTRA_DEFAULT_BUDGET);
    double tri = (double)classes * p * (double)p * sizeof(double);
    if (tri > budget) return MG_SPECTRA_ROWS;
    if (c.max_rows_per_class > 0 && (double)classes * c.max_rows_per_class < (double)p)
        return MG_SPECTRA_ROWS;
    return MG_SPECTRA_QR_STREAM;
}

mg_spectra_mode mg_spectra_acc_mode(const mg_spectra_acc *acc)
{
    MG_ASSERT(acc);
    return acc->mode;
}

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
    free(acc->n1);
    free(acc->mean1);
    free(acc->diag1);
    for (int w = 0; w < MG_SP_WORKERS; w++) free(acc->ws[w]);
    if (acc->rows)
        for (int c = 0; c < acc->classes; c++) free(acc->rows[c]);
    free(acc->rows);
    free(acc->room);
    free(acc->skipped);
    free(acc->incoming);
    free(acc);
}

/* Rows mode: only per-class bookkeeping now; the LAPACK work space is
 * allocated by finish. */
static mg_status create_rows(int classes, int p, int block_rows, int max_rows, mg_spectra_acc **out)
{
    mg_spectra_acc *a = calloc(1, sizeof *a);
    if (!a) return mg_fail(MG_ERR_NOMEM, "spectra: out of memory");
    a->mode = MG_SPECTRA_ROWS;
    a->parts = MG_SPECTRA_ALL;
    a->classes = classes;
    a->p = p;
    a->block_rows = block_rows;
    a->max_rows = max_rows;
    a->n = calloc((size_t)classes, sizeof(int64_t));
    a->rows = calloc((size_t)classes, sizeof(float *));
    a->room = calloc((size_t)classes, sizeof(int64_t));
    a->skipped = calloc((size_t)classes, sizeof(int64_t));
    a->incoming = calloc((size_t)classes, sizeof(int64_t));
    if (!a->n || !a->rows || !a->room || !a->skipped || !a->incoming) {
        mg_spectra_acc_free(a);
        return mg_fail(MG_ERR_NOMEM, "spectra: out of memory for %d classes", classes);
    }
    *out = a;
    return MG_OK;
}

mg_status mg_spectra_acc_create_cfg(int classes, int p, const mg_spectra_config *cfg,
                                    mg_spectra_acc **out)
{
    MG_ASSERT(out);
    *out = NULL;
    mg_spectra_config c = cfg ? *cfg : mg_spectra_config_default();
    if (classes < 1)
        return mg_fail(MG_ERR_CONFIG, "spectra: classes must be >= 1 (got %d)", classes);
    if (p < 1) return mg_fail(MG_ERR_CONFIG, "spectra: dimension p must be >= 1 (got %d)", p);
    if (c.block_rows < 0)
        return mg_fail(MG_ERR_CONFIG, "spectra: block_rows must be >= 0 (got %d)", c.block_rows);
    if (c.max_rows_per_class < 0)
        return mg_fail(MG_ERR_CONFIG, "spectra: max_rows_per_class must be >= 0 (got %d)",
                       c.max_rows_per_class);
    if (c.mode != MG_SPECTRA_AUTO && c.mode != MG_SPECTRA_QR_STREAM && c.mode != MG_SPECTRA_ROWS)
        return mg_fail(MG_ERR_CONFIG, "spectra: unknown mode %d", (int)c.mode);
    if (mg_spectra_choose_mode(classes, p, &c) == MG_SPECTRA_QR_STREAM)
        return mg_spectra_acc_create(classes, p, c.block_rows, out);
    int block_rows = c.block_rows ? c.block_rows : mg_spectra_default_block_rows(p);
    if ((int64_t)p + block_rows + classes + 1 > 0x7fffffff / 2)
        return mg_fail(MG_ERR_CONFIG, "spectra: p = %d with block_rows = %d is too large", p,
                       block_rows);
    return create_rows(classes, p, block_rows, c.max_rows_per_class, out);
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
    a->mode = MG_SPECTRA_QR_STREAM;
    a->parts = MG_SPECTRA_ALL;
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
    a->n1 = calloc((size_t)classes, sizeof(int64_t));
    a->mean1 = calloc((size_t)classes * p, sizeof(double));
    a->diag1 = calloc((size_t)classes * p, sizeof(double));
    int ws_ok = 1;
    for (int w = 0; w < MG_SP_WORKERS; w++) {
        a->ws[w] = malloc(mg_sp_fast_ws_doubles(classes, p, block_rows) * sizeof(double));
        ws_ok = ws_ok && a->ws[w];
    }
    if (!a->W || !a->tau || !a->sv || !a->n || !a->r || !a->pending || !a->mean || !a->R ||
        !a->buf || !a->mu_blk || !a->n1 || !a->mean1 || !a->diag1 || !ws_ok) {
        mg_spectra_acc_free(a);
        return mg_fail(MG_ERR_NOMEM, "spectra: out of memory for %d classes x %d dims", classes, p);
    }
    *out = a;
    return MG_OK;
}

/* LAPACKE info -> status. */
mg_status mg_sp_lapack_status(lapack_int info, const char *routine, const char *what, int cls)
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
    mg_status st = mg_sp_lapack_status(info, "dgeqrf", what, cls);
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
mg_status mg_sp_svd_values(double *W, int ld, int rows, int p, double *sv, const char *what,
                           int cls)
{
    if (rows == 0) return MG_OK;
    double u_dummy = 0, vt_dummy = 0;
    lapack_int info =
        LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', rows, p, W, ld, sv, &u_dummy, 1, &vt_dummy, 1);
    return mg_sp_lapack_status(info, "dgesdd", what, cls);
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
                mg_status st = acc->reference ? flush_class(acc, c) : mg_sp_fast_flush(acc, c);    \
                if (st != MG_OK) return st;                                                        \
            }                                                                                      \
            double *dst = acc->buf + ((size_t)c * acc->block_rows + acc->pending[c]) * p;          \
            for (int j = 0; j < p; j++) dst[j] = (double)X[(size_t)i * p + j];                     \
            acc->pending[c]++;                                                                     \
        }                                                                                          \
        return MG_OK;                                                                              \
    } while (0)

/* Rows mode: validate the whole batch, make room for every row that will
 * be kept (so that a failed allocation adds nothing), then copy. */
static mg_status add_rows(mg_spectra_acc *acc, const float *Xf, const double *Xd, const int32_t *y,
                          int n)
{
    MG_ASSERT(acc && (n == 0 || ((Xf || Xd) && y)) && n >= 0);
    const int p = acc->p, C = acc->classes;
    for (int i = 0; i < n; i++) {
        if (y[i] < 0 || y[i] >= C)
            return mg_fail(MG_ERR_CONFIG, "spectra: label %d of row %d is outside 0..%d", (int)y[i],
                           i, C - 1);
        for (int j = 0; j < p; j++) {
            size_t k = (size_t)i * p + j;
            double v = Xf ? (double)Xf[k] : Xd[k];
            if (!isfinite(v))
                return mg_fail(MG_ERR_NUMERIC, "spectra: non-finite value in row %d, column %d", i,
                               j);
            if (fabs(v) > FLT_MAX)
                return mg_fail(MG_ERR_NUMERIC,
                               "spectra: value %g in row %d, column %d does not fit a float", v, i,
                               j);
        }
    }
    memset(acc->incoming, 0, sizeof(int64_t) * (size_t)C);
    for (int i = 0; i < n; i++) acc->incoming[y[i]]++;
    for (int c = 0; c < C; c++) {
        int64_t want = acc->n[c] + acc->incoming[c];
        if (acc->max_rows > 0 && want > acc->max_rows) want = acc->max_rows;
        if (want <= acc->room[c]) continue;
        int64_t room = acc->room[c] > 0 ? acc->room[c] : 16;
        while (room < want) room *= 2;
        if (acc->max_rows > 0 && room > acc->max_rows) room = acc->max_rows;
        if ((double)room * p * sizeof(float) > (double)SIZE_MAX / 2)
            return mg_fail(MG_ERR_NOMEM, "spectra: %lld rows of %d floats are too many",
                           (long long)room, p);
        float *nr = realloc(acc->rows[c], (size_t)room * p * sizeof(float));
        if (!nr)
            return mg_fail(MG_ERR_NOMEM, "spectra: out of memory keeping %lld rows of class %d",
                           (long long)room, c);
        acc->rows[c] = nr;
        acc->room[c] = room;
    }
    for (int i = 0; i < n; i++) {
        int c = y[i];
        if (acc->max_rows > 0 && acc->n[c] >= acc->max_rows) {
            acc->skipped[c]++;
            continue;
        }
        float *dst = acc->rows[c] + (size_t)acc->n[c] * p;
        if (Xf)
            memcpy(dst, Xf + (size_t)i * p, (size_t)p * sizeof(float));
        else
            for (int j = 0; j < p; j++) dst[j] = (float)Xd[(size_t)i * p + j];
        acc->n[c]++;
    }
    return MG_OK;
}

mg_status mg_spectra_acc_add(mg_spectra_acc *acc, const float *X, const int32_t *y, int n)
{
    if (acc && acc->mode == MG_SPECTRA_ROWS) return add_rows(acc, X, NULL, y, n);
    SPECTRA_ADD_BODY(X);
}

mg_status mg_spectra_acc_add_f64(mg_spectra_acc *acc, const double *X, const int32_t *y, int n)
{
    if (acc && acc->mode == MG_SPECTRA_ROWS) return add_rows(acc, NULL, X, y, n);
    SPECTRA_ADD_BODY(X);
}

void mg_spectra_result_free(mg_spectra_result *r)
{
    free(r);
}

size_t mg_sp_align8(size_t x)
{
    return (x + 7) & ~(size_t)7;
}

/* The head of a result laid out in mem (the struct, the class array, then
 * doubles from mem + head): counts, mode and the three p-vectors mean,
 * s_within, s_total.  Returns the doubles after those three. */
double *mg_sp_result_head(char *mem, size_t head, int C, int p, int64_t N, mg_spectra_mode mode)
{
    mg_spectra_result *res = (mg_spectra_result *)mem;
    res->cls = (mg_class_spectrum *)(mem + mg_sp_align8(sizeof(mg_spectra_result)));
    double *d = (double *)(mem + head);
    res->classes = C;
    res->p = p;
    res->mode = mode;
    res->n = N;
    res->mean = d, d += p;
    res->ns_within = (int)(N < p ? N : p);
    res->s_within = d, d += p;
    res->ns_total = res->ns_within;
    res->s_total = d, d += p;
    return d;
}

static mg_status finish_stream(mg_spectra_acc *acc, mg_spectra_result **out)
{
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
    size_t head = mg_sp_align8(sizeof(mg_spectra_result)) +
                  mg_sp_align8((size_t)C * sizeof(mg_class_spectrum));
    char *mem = calloc(1, head + nd * sizeof(double));
    if (!mem) return mg_fail(MG_ERR_NOMEM, "spectra: out of memory for the result");
    mg_spectra_result *res = (mg_spectra_result *)mem;
    double *d = mg_sp_result_head(mem, head, C, p, N, MG_SPECTRA_QR_STREAM);

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
        cs->rows = NULL;
        cs->n_skipped = 0;
        memcpy(cs->mean, mu, (size_t)p * sizeof(double));
        for (int i = 0; i < p; i++) /* row-major copy of the column-major R */
            for (int j = i; j < p; j++) cs->R[(size_t)i * p + j] = R[(size_t)j * p + i];
        for (int j = 0; j < p; j++) res->mean[j] += (double)cs->n * mu[j];
        if (cs->n == 0) continue;

        load_R(W, ld, R, r, p);
        if ((st = mg_sp_svd_values(W, ld, r, p, sv, "centred", c)) != MG_OK) goto fail;
        memcpy(cs->s_centred, sv, (size_t)cs->ns * sizeof(double));

        /* uncentred: X^T X = R^T R + n mu mu^T, so X has the singular values
         * of [R; sqrt(n) mu^T] (decomposed directly: a QR first would not
         * change them). */
        load_R(W, ld, R, r, p);
        double sn = sqrt((double)cs->n);
        for (int j = 0; j < p; j++) W[(size_t)j * ld + r] = sn * mu[j];
        if ((st = mg_sp_svd_values(W, ld, r + 1, p, sv, "uncentred", c)) != MG_OK) goto fail;
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
    if ((st = mg_sp_svd_values(W, ld, rw, p, sv, "pooled within", -1)) != MG_OK) {
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
    if ((st = mg_sp_svd_values(W, ld, rows, p, sv, "pooled total", -1)) != MG_OK) goto fail;
    memcpy(res->s_total, sv, (size_t)res->ns_total * sizeof(double));
    *out = res;
    return MG_OK;
fail:
    free(res);
    return st;
}

/* ---------------------------------------------------------------- rows mode */

/* Singular values of the k x k upper triangle T (column-major, ld) into sv
 * (k values); T is copied into the column-major square work (k x k,
 * zero below the diagonal) first, so T survives. */
static mg_status svd_triangle(const double *T, int ld, int k, double *work, double *sv,
                              const char *what, int cls)
{
    if (k == 0) return MG_OK;
    for (int j = 0; j < k; j++) {
        double *dst = work + (size_t)j * k;
        memcpy(dst, T + (size_t)j * ld, (size_t)(j + 1) * sizeof(double));
        memset(dst + j + 1, 0, (size_t)(k - j - 1) * sizeof(double));
    }
    return mg_sp_svd_values(work, k, k, k, sv, what, cls);
}

/* The centred rows of a class as columns of A (p x m, column-major, ld),
 * starting at column col: A[:, col + i] = rows[i] - mu. */
static void centred_columns(const float *rows, int64_t m, int p, const double *mu, double *A,
                            size_t ld, int64_t col)
{
    for (int64_t i = 0; i < m; i++) {
        const float *r = rows + (size_t)i * p;
        double *a = A + (size_t)(col + i) * ld;
        for (int j = 0; j < p; j++) a[j] = (double)r[j] - mu[j];
    }
}

/* Row-space QR of the centred rows of the classes in list (nl entries),
 * streamed by blocks of acc->block_rows rows into R (p x p column-major,
 * upper triangular, first *r rows non-zero), using W (ld rows >= p +
 * block_rows).  The rows of every class are centred on their own mean. */
static mg_status fold_rows(const mg_spectra_acc *acc, const int *list, int nl, double *const *mu,
                           double *W, int ld, double *tau, double *R, int *r_out, const char *what,
                           int cls)
{
    const int p = acc->p, B = acc->block_rows;
    int r = 0;
    memset(R, 0, (size_t)p * p * sizeof(double));
    for (int t = 0; t < nl; t++) {
        const int c = list[t];
        const float *rows = acc->rows[c];
        const double *m = mu[c];
        for (int64_t i0 = 0; i0 < acc->n[c]; i0 += B) {
            int bm = (int)(acc->n[c] - i0 < B ? acc->n[c] - i0 : B);
            load_R(W, ld, R, r, p);
            enum { T = 32 };
            for (int a0 = 0; a0 < bm; a0 += T) { /* tiled transpose, centred */
                int a1 = imin(a0 + T, bm);
                for (int j0 = 0; j0 < p; j0 += T) {
                    int j1 = imin(j0 + T, p);
                    for (int j = j0; j < j1; j++) {
                        double *col = W + (size_t)j * ld + r;
                        const double mj = m[j];
                        for (int a = a0; a < a1; a++)
                            col[a] = (double)rows[(size_t)(i0 + a) * p + j] - mj;
                    }
                }
            }
            mg_status st = qr_into(W, ld, r + bm, p, tau, R, &r, what, cls);
            if (st != MG_OK) return st;
        }
    }
    *r_out = r;
    return MG_OK;
}

/* Lay out a rows-mode result in mem (head + nd doubles [+ the rows as
 * floats when with_rows]): sizes, counts and pointers; values untouched. */
static mg_spectra_result *rows_layout(char *mem, const mg_spectra_acc *acc, size_t head, size_t nd,
                                      int with_rows)
{
    const int C = acc->classes, p = acc->p;
    mg_spectra_result *res = (mg_spectra_result *)mem;
    float *f = (float *)((double *)(mem + head) + nd);
    int64_t N = 0;
    for (int c = 0; c < C; c++) N += acc->n[c];
    double *d = mg_sp_result_head(mem, head, C, p, N, MG_SPECTRA_ROWS);
    for (int c = 0; c < C; c++) {
        mg_class_spectrum *cs = &res->cls[c];
        cs->n = acc->n[c];
        cs->n_skipped = acc->skipped[c];
        cs->p = p;
        cs->ns = (int)(cs->n < p ? cs->n : p);
        cs->s_centred = d, d += cs->ns;
        cs->s_uncentred = d, d += cs->ns;
        cs->mean = d, d += p;
        cs->R = NULL;
        cs->rows = with_rows ? f : NULL;
        if (with_rows) f += (size_t)cs->n * p;
    }
    return res;
}

/* All LAPACK work is done on a result without the rows (so that the copy
 * of the rows and the work matrices never coexist); the final result with
 * the rows is made at the end. */
static mg_status finish_rows(mg_spectra_acc *acc, mg_spectra_result **out)
{
    const int C = acc->classes, p = acc->p;
    mg_status st = MG_OK;
    int64_t N = 0;
    int Cn = 0;
    size_t nd = 3 * (size_t)p, nf = 0;
    for (int c = 0; c < C; c++) {
        N += acc->n[c];
        Cn += acc->n[c] > 0;
        int ns = (int)(acc->n[c] < p ? acc->n[c] : p);
        nd += 2 * (size_t)ns + p;
        nf += (size_t)acc->n[c] * p;
    }
    size_t head = mg_sp_align8(sizeof(mg_spectra_result)) +
                  mg_sp_align8((size_t)C * sizeof(mg_class_spectrum));
    if ((double)nf * sizeof(float) + (double)nd * sizeof(double) > (double)SIZE_MAX / 2)
        return mg_fail(MG_ERR_NOMEM, "spectra: result too large");
    char *mem = calloc(1, head + nd * sizeof(double));
    if (!mem) return mg_fail(MG_ERR_NOMEM, "spectra: out of memory for the result");
    mg_spectra_result *res = rows_layout(mem, acc, head, nd, 0);

    double **mu = calloc((size_t)C, sizeof(double *));
    int *list = malloc(sizeof(int) * (size_t)C);
    double *A = NULL, *T = NULL, *Wk = NULL, *tau = NULL, *sv = NULL;
    if (!mu || !list) {
        st = mg_fail(MG_ERR_NOMEM, "spectra: out of memory");
        goto done;
    }
    /* means */
    for (int c = 0; c < C; c++) {
        mg_class_spectrum *cs = &res->cls[c];
        mu[c] = cs->mean;
        if (cs->n == 0) continue;
        for (int64_t i = 0; i < cs->n; i++) {
            const float *r = acc->rows[c] + (size_t)i * p;
            for (int j = 0; j < p; j++) cs->mean[j] += r[j];
        }
        for (int j = 0; j < p; j++) cs->mean[j] /= (double)cs->n;
        for (int j = 0; j < p; j++) res->mean[j] += (double)cs->n * cs->mean[j];
    }
    if (N > 0)
        for (int j = 0; j < p; j++) res->mean[j] /= (double)N;

    /* Work: the wide per-class and pooled matrices are p x m, m <= p; the
     * tall ones fold into p x p through W ((p + block_rows + C + 1) x p).
     * Every QR and SVD here has min(rows, cols) <= p. */
    int tall = N + Cn > p; /* a class with n_c >= p makes the pooled tall too */
    const int ldw = p + acc->block_rows + C + 1;
    tau = malloc(sizeof(double) * ((size_t)p + 1));
    sv = malloc(sizeof(double) * ((size_t)p + 1));
    if (!tau || !sv) {
        st = mg_fail(MG_ERR_NOMEM, "spectra: out of memory");
        goto done;
    }
    if (tall) {
        Wk = malloc(sizeof(double) * (size_t)ldw * p);
        T = malloc(sizeof(double) * (size_t)p * p);
        if (!Wk || !T) {
            st = mg_fail(MG_ERR_NOMEM, "spectra: out of memory for %d x %d work", ldw, p);
            goto done;
        }
    }

    /* per class */
    for (int c = 0; c < C; c++) {
        mg_class_spectrum *cs = &res->cls[c];
        const int64_t n = cs->n;
        if (n == 0) continue;
        if (n < p) {
            /* QR of [(X_c - 1 mu^T)^T, sqrt(n) mu] (p x (n+1)) */
            const int m = (int)n + 1;
            A = malloc(sizeof(double) * (size_t)p * m);
            double *sq = malloc(sizeof(double) * (size_t)m * m);
            if (!A || !sq) {
                free(sq);
                st =
                    mg_fail(MG_ERR_NOMEM, "spectra: out of memory for class %d (%d x %d)", c, p, m);
                goto done;
            }
            centred_columns(acc->rows[c], n, p, cs->mean, A, (size_t)p, 0);
            double sn = sqrt((double)n);
            for (int j = 0; j < p; j++) A[(size_t)(m - 1) * p + j] = sn * cs->mean[j];
            lapack_int info = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, p, m, A, p, tau);
            st = mg_sp_lapack_status(info, "dgeqrf", "class rows", c);
            if (st == MG_OK) st = svd_triangle(A, p, m - 1, sq, sv, "centred", c);
            if (st == MG_OK) memcpy(cs->s_centred, sv, (size_t)cs->ns * sizeof(double));
            if (st == MG_OK) st = svd_triangle(A, p, m, sq, sv, "uncentred", c);
            if (st == MG_OK) memcpy(cs->s_uncentred, sv, (size_t)cs->ns * sizeof(double));
            free(sq);
            free(A);
            A = NULL;
            if (st != MG_OK) goto done;
        } else {
            int r;
            list[0] = c;
            if ((st = fold_rows(acc, list, 1, mu, Wk, ldw, tau, T, &r, "class rows", c))) goto done;
            load_R(Wk, ldw, T, r, p);
            if ((st = mg_sp_svd_values(Wk, ldw, r, p, sv, "centred", c))) goto done;
            memcpy(cs->s_centred, sv, (size_t)cs->ns * sizeof(double));
            load_R(Wk, ldw, T, r, p);
            double sn = sqrt((double)n);
            for (int j = 0; j < p; j++) Wk[(size_t)j * ldw + r] = sn * cs->mean[j];
            if ((st = mg_sp_svd_values(Wk, ldw, r + 1, p, sv, "uncentred", c))) goto done;
            memcpy(cs->s_uncentred, sv, (size_t)cs->ns * sizeof(double));
        }
    }
    if (N == 0) goto done;

    /* pooled within and total */
    int nl = 0;
    for (int c = 0; c < C; c++)
        if (acc->n[c] > 0) list[nl++] = c;
    if (!tall) {
        /* one QR of the p x (N + Cn) matrix [centred rows..., sqrt(n_c)(mu_c - mu)...] */
        const int m = (int)(N + Cn), nw = (int)N;
        A = malloc(sizeof(double) * (size_t)p * m);
        if (!A) {
            st =
                mg_fail(MG_ERR_NOMEM, "spectra: out of memory for the pooled %d x %d matrix", p, m);
            goto done;
        }
        int64_t col = 0;
        for (int t = 0; t < nl; t++) {
            int c = list[t];
            centred_columns(acc->rows[c], acc->n[c], p, mu[c], A, (size_t)p, col);
            col += acc->n[c];
        }
        for (int t = 0; t < nl; t++, col++) {
            int c = list[t];
            double sn = sqrt((double)acc->n[c]);
            for (int j = 0; j < p; j++) A[(size_t)col * p + j] = sn * (mu[c][j] - res->mean[j]);
        }
        lapack_int info = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, p, m, A, p, tau);
        if ((st = mg_sp_lapack_status(info, "dgeqrf", "pooled", -1))) goto done;
        /* keep only the triangle: T = R (m x m), then free A */
        T = malloc(sizeof(double) * (size_t)m * m);
        if (!T) {
            st = mg_fail(MG_ERR_NOMEM, "spectra: out of memory for the pooled triangle");
            goto done;
        }
        for (int j = 0; j < m; j++) {
            memcpy(T + (size_t)j * m, A + (size_t)j * p, (size_t)(j + 1) * sizeof(double));
            memset(T + (size_t)j * m + j + 1, 0, (size_t)(m - j - 1) * sizeof(double));
        }
        free(A);
        A = malloc(sizeof(double) * (size_t)m * m);
        if (!A) {
            st = mg_fail(MG_ERR_NOMEM, "spectra: out of memory for the pooled triangle");
            goto done;
        }
        if ((st = svd_triangle(T, m, nw, A, sv, "pooled within", -1))) goto done;
        memcpy(res->s_within, sv, (size_t)res->ns_within * sizeof(double));
        if ((st = svd_triangle(T, m, m, A, sv, "pooled total", -1))) goto done;
        memcpy(res->s_total, sv, (size_t)res->ns_total * sizeof(double));
    } else {
        int r;
        if ((st = fold_rows(acc, list, nl, mu, Wk, ldw, tau, T, &r, "pooled within", -1)))
            goto done;
        load_R(Wk, ldw, T, r, p);
        if ((st = mg_sp_svd_values(Wk, ldw, r, p, sv, "pooled within", -1))) goto done;
        memcpy(res->s_within, sv, (size_t)res->ns_within * sizeof(double));
        load_R(Wk, ldw, T, r, p);
        int rows = r;
        for (int t = 0; t < nl; t++, rows++) {
            int c = list[t];
            double sn = sqrt((double)acc->n[c]);
            for (int j = 0; j < p; j++) Wk[(size_t)j * ldw + rows] = sn * (mu[c][j] - res->mean[j]);
        }
        if ((st = mg_sp_svd_values(Wk, ldw, rows, p, sv, "pooled total", -1))) goto done;
        memcpy(res->s_total, sv, (size_t)res->ns_total * sizeof(double));
    }
done:
    free(mu);
    free(list);
    free(A);
    free(T);
    free(Wk);
    free(tau);
    free(sv);
    if (st != MG_OK) {
        free(mem);
        return st;
    }
    /* the final result: the values computed, then a copy of the rows */
    char *fin = malloc(head + nd * sizeof(double) + nf * sizeof(float));
    if (!fin) {
        free(mem);
        return mg_fail(MG_ERR_NOMEM, "spectra: out of memory for the result (%lld rows)",
                       (long long)N);
    }
    memcpy(fin + head, mem + head, nd * sizeof(double));
    free(mem);
    res = rows_layout(fin, acc, head, nd, 1);
    for (int c = 0; c < C; c++)
        if (acc->n[c] > 0)
            memcpy(res->cls[c].rows, acc->rows[c], (size_t)acc->n[c] * p * sizeof(float));
    *out = res;
    return MG_OK;
}

mg_status mg_spectra_acc_set_parts(mg_spectra_acc *acc, unsigned parts)
{
    MG_ASSERT(acc);
    if (parts == 0 || (parts & ~MG_SPECTRA_ALL))
        return mg_fail(MG_ERR_CONFIG, "spectra: parts must be a non-empty mask of centred, "
                                      "uncentred and pooled (got %#x)", parts);
    acc->parts = parts;
    return MG_OK;
}

static void fill_nan(double *v, int n)
{
    for (int i = 0; i < n; i++) v[i] = NAN;
}

mg_status mg_spectra_acc_finish(mg_spectra_acc *acc, mg_spectra_result **out)
{
    MG_ASSERT(acc && out);
    *out = NULL;
    mg_status st;
    if (acc->mode == MG_SPECTRA_ROWS)
        st = finish_rows(acc, out);
    else /* the fast finish once the fast kernel has streamed a block; before
          * that (every class within one block) the reference one, whose
          * results the small-data fixtures (tests/regress) pin down */
        st = acc->streamed ? mg_sp_fast_finish(acc, out) : finish_stream(acc, out);
    if (st != MG_OK) return st;
    /* the parts not asked for read NaN whichever path ran */
    mg_spectra_result *r = *out;
    for (int c = 0; c < r->classes; c++) {
        if (!(acc->parts & MG_SPECTRA_CENTRED)) fill_nan(r->cls[c].s_centred, r->cls[c].ns);
        if (!(acc->parts & MG_SPECTRA_UNCENTRED)) fill_nan(r->cls[c].s_uncentred, r->cls[c].ns);
    }
    if (!(acc->parts & MG_SPECTRA_POOLED)) {
        fill_nan(r->s_within, r->ns_within);
        fill_nan(r->s_total, r->ns_total);
    }
    return MG_OK;
}

mg_status mg_spectra_acc_use_reference(mg_spectra_acc *acc, int reference)
{
    MG_ASSERT(acc);
    for (int c = 0; c < acc->classes; c++)
        if (acc->n[c] > 0 || (acc->pending && acc->pending[c] > 0))
            return mg_fail(MG_ERR_CONFIG, "spectra: the kernel can only be chosen before any row");
    acc->reference = reference != 0;
    return MG_OK;
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
