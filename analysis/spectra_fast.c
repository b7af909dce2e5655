/* spectra_fast.c - the fast qr-stream kernels of spectra.h (see
 * mg_spectra_acc_use_reference there and spectra_internal.h for the storage).
 *
 * Work is split over MG_SP_WORKERS logical workers by a fixed rule (stream s
 * = worker s; class c = worker c % MG_SP_WORKERS; tree pair j = worker j %
 * MG_SP_WORKERS; pooled within = worker 0, pooled total = worker 1).  Every
 * LAPACK call runs with OpenBLAS at one thread; the logical workers run
 * concurrently (one extra pthread) when OpenBLAS had >= 2 threads, in turn
 * otherwise, so the arithmetic never depends on the thread count.
 *
 * Shapes (all column-major):
 *   stream update   A (p x p, upper) <- R of [A; B],  B = [block - 1 mu_b^T;
 *                   sqrt(w) (mu - mu_b)^T]  (m + 1) x p       dtpqrt, l = 0
 *   stream merge    A = R_0, B = [sqrt(n0 n1 / n) (mu_0 - mu_1)^T; R_1]
 *                   (p + 1) x p, pentagonal with l = p        dtpqrt, l = p
 *   tree merge      A = T_a, B = T_b (p x p, upper)           dtpqrt, l = p
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spectra_internal.h"
#include "team.h" /* mg_blas_threads_swap */

enum { SP_NB = 32, SP_TILE = 32 };

/* flush_job (halves) and pooled_job (within, total) are written for two. */
_Static_assert(MG_SP_WORKERS == 2, "spectra_fast.c splits the work in two");

static int sp_nb(int p)
{
    return p < SP_NB ? p : SP_NB;
}

static int sp_brows(int classes, int p, int block_rows)
{
    int a = block_rows + 1, b = p + classes + 1;
    return a > b ? a : b;
}

size_t mg_sp_fast_ws_doubles(int classes, int p, int block_rows)
{
    size_t pp = (size_t)p * p;
    return pp + (size_t)sp_brows(classes, p, block_rows) * p + 2 * (size_t)sp_nb(p) * p +
           4 * (size_t)p + 2 + MG_SP_SVD_CLASS_WORK(p) + (size_t)p;
}

/* One worker's workspace carved from acc->ws[w]. */
typedef struct {
    double *A;   /* p x p                                         */
    double *B;   /* brows x p (ld chosen per use, <= brows)        */
    double *T;   /* nb x p                                         */
    double *wk;  /* nb x p                                         */
    double *mu;  /* p                                              */
    double *sv;  /* p + 1                                          */
    double *tau; /* p                                              */
    double *cw;  /* MG_SP_SVD_CLASS_WORK(p)                        */
    double *su;  /* p                                              */
} sp_ws;

static sp_ws sp_ws_of(const mg_spectra_acc *acc, int w)
{
    const int p = acc->p, nb = sp_nb(p);
    double *d = acc->ws[w];
    sp_ws s;
    s.A = d, d += (size_t)p * p;
    s.B = d, d += (size_t)sp_brows(acc->classes, p, acc->block_rows) * p;
    s.T = d, d += (size_t)nb * p;
    s.wk = d, d += (size_t)nb * p;
    s.mu = d, d += p;
    s.sv = d, d += p + 1;
    s.tau = d, d += p;
    s.cw = d, d += MG_SP_SVD_CLASS_WORK(p);
    s.su = d;
    return s;
}

/* ---------------------------------------------------------------- workers */

typedef void (*sp_job_fn)(void *ctx, int w);

typedef struct {
    sp_job_fn fn;
    void *ctx;
    int w;
} sp_thread_arg;

static void *sp_thread_main(void *p)
{
    sp_thread_arg *a = p;
    a->fn(a->ctx, a->w);
    return NULL;
}

/* fn(ctx, w) for every logical worker w, OpenBLAS at one thread meanwhile;
 * concurrently when OpenBLAS had >= 2 threads (a thread that cannot start
 * leaves its share to the caller: same results). */
static void sp_run(sp_job_fn fn, void *ctx)
{
    int old = mg_blas_threads_swap(1);
    pthread_t th[MG_SP_WORKERS];
    sp_thread_arg arg[MG_SP_WORKERS];
    int started[MG_SP_WORKERS] = {0};
    for (int w = 1; w < MG_SP_WORKERS && old >= 2; w++) {
        arg[w].fn = fn, arg[w].ctx = ctx, arg[w].w = w;
        started[w] = pthread_create(&th[w], NULL, sp_thread_main, &arg[w]) == 0;
    }
    fn(ctx, 0);
    for (int w = 1; w < MG_SP_WORKERS; w++) {
        if (started[w])
            pthread_join(th[w], NULL);
        else
            fn(ctx, w);
    }
    mg_blas_threads_swap(old);
}

/* Status of each logical worker; the detail is copied because mg_errmsg()
 * is per thread. */
typedef struct {
    mg_status st[MG_SP_WORKERS];
    char msg[MG_SP_WORKERS][256];
} sp_status;

static void sp_note(sp_status *s, int w, mg_status st)
{
    if (st == MG_OK || s->st[w] != MG_OK) return;
    s->st[w] = st;
    snprintf(s->msg[w], sizeof s->msg[w], "%s", mg_errmsg());
}

static mg_status sp_result(const sp_status *s)
{
    for (int w = 0; w < MG_SP_WORKERS; w++)
        if (s->st[w] != MG_OK) return mg_fail(s->st[w], "%s", s->msg[w]);
    return MG_OK;
}

/* ---------------------------------------------------------------- streams */

/* Stream s of class c -> A (p x p upper, zero below). */
static void stream_unpack(const mg_spectra_acc *acc, int c, int s, double *A)
{
    const int p = acc->p;
    const double *R = acc->R + (size_t)c * p * p;
    for (int j = 0; j < p; j++) {
        double *a = A + (size_t)j * p;
        if (s == 0) {
            memcpy(a, R + (size_t)j * p, (size_t)(j + 1) * sizeof(double));
        } else {
            for (int i = 0; i < j; i++) a[i] = R[(size_t)i * p + j]; /* (j, i) holds R1(i, j) */
            a[j] = acc->diag1[(size_t)c * p + j];
        }
        memset(a + j + 1, 0, (size_t)(p - j - 1) * sizeof(double));
    }
}

/* A (upper part) -> stream s of class c; the other stream is untouched. */
static void stream_pack(mg_spectra_acc *acc, int c, int s, const double *A)
{
    const int p = acc->p;
    double *R = acc->R + (size_t)c * p * p;
    for (int j = 0; j < p; j++) {
        const double *a = A + (size_t)j * p;
        if (s == 0) {
            memcpy(R + (size_t)j * p, a, (size_t)(j + 1) * sizeof(double));
        } else {
            for (int i = 0; i < j; i++) R[(size_t)i * p + j] = a[i];
            acc->diag1[(size_t)c * p + j] = a[j];
        }
    }
}

/* Fold m rows (row-major, stride p) into stream s of class c. */
static mg_status stream_update(mg_spectra_acc *acc, int c, int s, const double *rows, int m,
                               const sp_ws *ws)
{
    if (m == 0) return MG_OK;
    const int p = acc->p, nb = sp_nb(p), ld = m + 1;
    int64_t *np = s ? &acc->n1[c] : &acc->n[c];
    double *mu = (s ? acc->mean1 : acc->mean) + (size_t)c * p;
    const int64_t n_old = *np;
    double *mu_b = ws->mu, *B = ws->B, *A = ws->A;

    memset(mu_b, 0, (size_t)p * sizeof(double));
    for (int i = 0; i < m; i++)
        for (int j = 0; j < p; j++) mu_b[j] += rows[(size_t)i * p + j];
    for (int j = 0; j < p; j++) mu_b[j] /= m;
    for (int i0 = 0; i0 < m; i0 += SP_TILE) { /* tiled transpose, centred */
        int i1 = i0 + SP_TILE < m ? i0 + SP_TILE : m;
        for (int j0 = 0; j0 < p; j0 += SP_TILE) {
            int j1 = j0 + SP_TILE < p ? j0 + SP_TILE : p;
            for (int j = j0; j < j1; j++) {
                double *col = B + (size_t)j * ld;
                for (int i = i0; i < i1; i++) col[i] = rows[(size_t)i * p + j] - mu_b[j];
            }
        }
    }
    lapack_int info;
    if (n_old == 0) { /* first rows of the stream: a plain QR */
        info =
            LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, m, p, B, ld, ws->tau, ws->wk, (lapack_int)nb * p);
        if (info != 0) return mg_sp_lapack_status(info, "dgeqrf", "stream update", c);
        for (int j = 0; j < p; j++) {
            double *a = A + (size_t)j * p;
            int top = j + 1 < m ? j + 1 : m;
            memcpy(a, B + (size_t)j * ld, (size_t)top * sizeof(double));
            memset(a + top, 0, (size_t)(p - top) * sizeof(double));
        }
    } else {
        double w = sqrt((double)n_old * m / (double)(n_old + m));
        for (int j = 0; j < p; j++) B[(size_t)j * ld + m] = w * (mu[j] - mu_b[j]);
        stream_unpack(acc, c, s, A);
        info =
            LAPACKE_dtpqrt_work(LAPACK_COL_MAJOR, m + 1, p, 0, nb, A, p, B, ld, ws->T, nb, ws->wk);
        if (info != 0) return mg_sp_lapack_status(info, "dtpqrt", "stream update", c);
    }
    stream_pack(acc, c, s, A);
    double f = (double)m / (double)(n_old + m);
    for (int j = 0; j < p; j++) mu[j] += f * (mu_b[j] - mu[j]);
    *np = n_old + m;
    return MG_OK;
}

typedef struct {
    mg_spectra_acc *acc;
    int c, m0;
    sp_status status;
} flush_ctx;

static void flush_job(void *p, int w)
{
    flush_ctx *x = p;
    mg_spectra_acc *acc = x->acc;
    const double *buf = acc->buf + (size_t)x->c * acc->block_rows * acc->p;
    int lo = w == 0 ? 0 : x->m0, hi = w == 0 ? x->m0 : acc->pending[x->c];
    sp_ws ws = sp_ws_of(acc, w);
    sp_note(&x->status, w, stream_update(acc, x->c, w, buf + (size_t)lo * acc->p, hi - lo, &ws));
}

mg_status mg_sp_fast_flush(mg_spectra_acc *acc, int c)
{
    flush_ctx x;
    memset(&x, 0, sizeof x);
    x.acc = acc;
    x.c = c;
    x.m0 = (acc->pending[c] + 1) / 2;
    sp_run(flush_job, &x);
    mg_status st = sp_result(&x.status);
    if (st != MG_OK) return st;
    acc->pending[c] = 0;
    acc->streamed = 1;
    return MG_OK;
}

/* ---------------------------------------------------------------- finish */

typedef struct {
    mg_spectra_acc *acc;
    mg_spectra_result *res;
    double *tri;      /* classes x (p x p): merged triangle of each class     */
    int *list, nl;    /* non-empty classes (tree: the survivors)              */
    int *pa, *pb, np; /* tree level: merge tri[pb[j]] into tri[pa[j]]        */
    sp_status status;
} finish_ctx;

/* The centred singular values of T (p x p, the class's R) and, when parts
 * asks for them, the uncentred ones of [T; sqrt(n) mu^T], both from one
 * bidiagonal reduction (mg_sp_svd_class).  The centred values do not depend
 * on parts. */
static mg_status class_svds(const double *T, int p, int64_t n, const double *mu, const sp_ws *ws,
                            unsigned parts, mg_class_spectrum *cs, int c)
{
    if (!(parts & (MG_SPECTRA_CENTRED | MG_SPECTRA_UNCENTRED))) return MG_OK;
    const int unc = (parts & MG_SPECTRA_UNCENTRED) != 0;
    double sn = sqrt((double)n);
    memcpy(ws->B, T, (size_t)p * p * sizeof(double));
    for (int j = 0; j < p; j++) ws->mu[j] = sn * mu[j];
    mg_status st = mg_sp_svd_class(p, ws->B, ws->mu, unc, ws->sv, ws->su, ws->cw, c);
    if (st != MG_OK) return st;
    if (parts & MG_SPECTRA_CENTRED) memcpy(cs->s_centred, ws->sv, (size_t)cs->ns * sizeof(double));
    if (unc) memcpy(cs->s_uncentred, ws->su, (size_t)cs->ns * sizeof(double));
    return MG_OK;
}

/* Class c: fold its last partial block into the smaller stream, merge the
 * two streams into tri[c], fill its result (mean, R, both spectra). */
static mg_status finish_class(finish_ctx *x, int c, const sp_ws *ws)
{
    mg_spectra_acc *acc = x->acc;
    const int p = acc->p, nb = sp_nb(p);
    mg_status st;
    if (acc->pending[c] > 0) {
        int s = acc->n1[c] < acc->n[c] ? 1 : 0;
        const double *buf = acc->buf + (size_t)c * acc->block_rows * p;
        if ((st = stream_update(acc, c, s, buf, acc->pending[c], ws)) != MG_OK) return st;
        acc->pending[c] = 0;
    }
    const int64_t n0 = acc->n[c], n1 = acc->n1[c], n = n0 + n1;
    mg_class_spectrum *cs = &x->res->cls[c];
    const double *mu0 = acc->mean + (size_t)c * p, *mu1 = acc->mean1 + (size_t)c * p;
    double *T = x->tri + (size_t)c * p * p;
    if (n == 0) return MG_OK;
    if (n1 == 0 || n0 == 0) {
        stream_unpack(acc, c, n1 == 0 ? 0 : 1, T);
        memcpy(cs->mean, n1 == 0 ? mu0 : mu1, (size_t)p * sizeof(double));
    } else {
        const int ld = p + 1;
        double w = sqrt((double)n0 * (double)n1 / (double)n);
        stream_unpack(acc, c, 0, T);
        stream_unpack(acc, c, 1, ws->A);
        for (int j = 0; j < p; j++) {
            double *b = ws->B + (size_t)j * ld;
            b[0] = w * (mu0[j] - mu1[j]);
            memcpy(b + 1, ws->A + (size_t)j * p, (size_t)p * sizeof(double));
        }
        lapack_int info = LAPACKE_dtpqrt_work(LAPACK_COL_MAJOR, p + 1, p, p, nb, T, p, ws->B, ld,
                                              ws->T, nb, ws->wk);
        if (info != 0) return mg_sp_lapack_status(info, "dtpqrt", "stream merge", c);
        double f = (double)n1 / (double)n;
        for (int j = 0; j < p; j++) cs->mean[j] = mu0[j] + f * (mu1[j] - mu0[j]);
    }
    for (int i = 0; i < p; i++) /* row-major copy of the column-major triangle */
        for (int j = i; j < p; j++) cs->R[(size_t)i * p + j] = T[(size_t)j * p + i];
    return class_svds(T, p, n, cs->mean, ws, acc->parts, cs, c);
}

static void classes_job(void *p, int w)
{
    finish_ctx *x = p;
    sp_ws ws = sp_ws_of(x->acc, w);
    for (int c = w; c < x->acc->classes; c += MG_SP_WORKERS)
        sp_note(&x->status, w, finish_class(x, c, &ws));
}

static void tree_job(void *p, int w)
{
    finish_ctx *x = p;
    const int pp = x->acc->p, nb = sp_nb(pp);
    sp_ws ws = sp_ws_of(x->acc, w);
    for (int j = w; j < x->np; j += MG_SP_WORKERS) {
        if (x->status.st[w] != MG_OK) return;
        double *A = x->tri + (size_t)x->pa[j] * pp * pp, *B = x->tri + (size_t)x->pb[j] * pp * pp;
        lapack_int info =
            LAPACKE_dtpqrt_work(LAPACK_COL_MAJOR, pp, pp, pp, nb, A, pp, B, pp, ws.T, nb, ws.wk);
        sp_note(&x->status, w, mg_sp_lapack_status(info, "dtpqrt", "pooled within", -1));
    }
}

/* Worker 0: pooled within (R_W); worker 1: pooled total ([R_W; one row
 * sqrt(n_c) (mu_c - mu)^T per non-empty class]). */
static void pooled_job(void *p, int w)
{
    finish_ctx *x = p;
    const mg_spectra_acc *acc = x->acc;
    mg_spectra_result *res = x->res;
    const int pp = acc->p, ld = pp + acc->classes + 1;
    sp_ws ws = sp_ws_of(acc, w);
    const double *RW = x->tri + (size_t)x->list[0] * pp * pp;
    for (int j = 0; j < pp; j++)
        memcpy(ws.B + (size_t)j * ld, RW + (size_t)j * pp, pp * sizeof(double));
    int rows = pp;
    if (w == 1) {
        for (int c = 0; c < acc->classes; c++) {
            const mg_class_spectrum *cs = &res->cls[c];
            if (cs->n == 0) continue;
            double sn = sqrt((double)cs->n);
            for (int j = 0; j < pp; j++)
                ws.B[(size_t)j * ld + rows] = sn * (cs->mean[j] - res->mean[j]);
            rows++;
        }
    }
    mg_status st =
        mg_sp_svd_values(ws.B, ld, rows, pp, ws.sv, w ? "pooled total" : "pooled within", -1);
    sp_note(&x->status, w, st);
    if (st == MG_OK)
        memcpy(w ? res->s_total : res->s_within, ws.sv,
               (size_t)(w ? res->ns_total : res->ns_within) * sizeof(double));
}

mg_status mg_sp_fast_finish(mg_spectra_acc *acc, mg_spectra_result **out)
{
    const int C = acc->classes, p = acc->p;
    int64_t N = 0;
    size_t nd = 3 * (size_t)p;
    for (int c = 0; c < C; c++) {
        int64_t n = acc->n[c] + acc->n1[c] + acc->pending[c];
        N += n;
        int ns = (int)(n < p ? n : p);
        nd += 2 * (size_t)ns + p + (size_t)p * p;
    }
    size_t head = mg_sp_align8(sizeof(mg_spectra_result)) +
                  mg_sp_align8((size_t)C * sizeof(mg_class_spectrum));
    char *mem = calloc(1, head + nd * sizeof(double));
    finish_ctx x;
    memset(&x, 0, sizeof x);
    x.tri = malloc((size_t)C * p * p * sizeof(double));
    x.list = malloc(3 * (size_t)C * sizeof(int));
    if (!mem || !x.tri || !x.list) {
        free(mem);
        free(x.tri);
        free(x.list);
        return mg_fail(MG_ERR_NOMEM, "spectra: out of memory for the result (%d classes x %d^2)", C,
                       p);
    }
    x.pa = x.list + C;
    x.pb = x.pa + C;
    x.acc = acc;
    mg_spectra_result *res = x.res = (mg_spectra_result *)mem;
    double *d = mg_sp_result_head(mem, head, C, p, N, MG_SPECTRA_QR_STREAM);
    for (int c = 0; c < C; c++) {
        mg_class_spectrum *cs = &res->cls[c];
        cs->n = acc->n[c] + acc->n1[c] + acc->pending[c];
        cs->p = p;
        cs->ns = (int)(cs->n < p ? cs->n : p);
        cs->s_centred = d, d += cs->ns;
        cs->s_uncentred = d, d += cs->ns;
        cs->mean = d, d += p;
        cs->R = d, d += (size_t)p * p;
        if (cs->n > 0) x.list[x.nl++] = c;
    }
    sp_run(classes_job, &x);
    mg_status st = sp_result(&x.status);
    if (st == MG_OK && N > 0) {
        for (int c = 0; c < C; c++)
            for (int j = 0; j < p; j++) res->mean[j] += (double)res->cls[c].n * res->cls[c].mean[j];
        for (int j = 0; j < p; j++) res->mean[j] /= (double)N;
        /* pairwise tree: (list[0], list[1]), (list[2], list[3]), ... */
        while (st == MG_OK && (acc->parts & MG_SPECTRA_POOLED) && x.nl > 1) {
            x.np = x.nl / 2;
            for (int j = 0; j < x.np; j++) x.pa[j] = x.list[2 * j], x.pb[j] = x.list[2 * j + 1];
            sp_run(tree_job, &x);
            st = sp_result(&x.status);
            int k = 0;
            for (int j = 0; j < x.nl; j += 2) x.list[k++] = x.list[j];
            x.nl = k;
        }
        if (st == MG_OK && (acc->parts & MG_SPECTRA_POOLED)) {
            sp_run(pooled_job, &x);
            st = sp_result(&x.status);
        }
    }
    free(x.tri);
    free(x.list);
    if (st != MG_OK) {
        free(mem);
        return st;
    }
    *out = res;
    return MG_OK;
}
