/* theory.c - Theorem 1 / Corollary 1 on learned states and in the idealised
 * setting (free representations, affine readout). */
#include "theory.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int imin(int a, int b)
{
    return a < b ? a : b;
}
static int imax(int a, int b)
{
    return a > b ? a : b;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static mg_status lapack_status(lapack_int info, const char *routine)
{
    if (info == 0) return MG_OK;
    if (info == LAPACK_WORK_MEMORY_ERROR || info == LAPACK_TRANSPOSE_MEMORY_ERROR)
        return mg_fail(MG_ERR_NOMEM, "theory: out of memory in %s", routine);
    if (info < 0)
        return mg_fail(MG_ERR_NUMERIC, "theory: %s rejected argument %d (NaN input?)", routine,
                       (int)-info);
    return mg_fail(MG_ERR_NUMERIC, "theory: %s did not converge (info %d)", routine, (int)info);
}

static mg_status check_labels(const int32_t *y, int n, int d, const char *who)
{
    for (int i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= d)
            return mg_fail(MG_ERR_CONFIG, "%s: label %d of row %d is outside 0..%d", who, (int)y[i],
                           i, d - 1);
    return MG_OK;
}

/* A row of h as double, whichever the input type. */
static inline double hval(const float *hf, const double *hd, size_t k)
{
    return hf ? (double)hf[k] : hd[k];
}

int mg_corollary1_dim(int dim, int d)
{
    return imax(0, dim - d + 1);
}

int mg_theorem1_applies(int dim, int d)
{
    return dim >= d - 1;
}

/* ================================================================ affine fit */

/* ||[h 1] B - Y||_F^2, directly on the data, in double. */
static double fit_residual_sq(const float *hf, const double *hd, int n, int p, const int32_t *y,
                              int d, const double *B, double *z)
{
    double ss = 0;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < d; k++) z[k] = B[(size_t)p * d + k];
        for (int j = 0; j < p; j++) {
            double v = hval(hf, hd, (size_t)i * p + j);
            const double *Bj = B + (size_t)j * d;
            for (int k = 0; k < d; k++) z[k] += v * Bj[k];
        }
        for (int k = 0; k < d; k++) {
            double e = z[k] - (y[i] == k);
            ss += e * e;
        }
    }
    return ss;
}

/* Fills *info (if not NULL) for a fit with residual sum of squares ss. */
static void fit_info(mg_affine_fit_info *info, int n, int p, int d, int underdetermined, int rank,
                     double rcond, double ss)
{
    if (info)
        *info = (mg_affine_fit_info){.n = n,
                                     .p = p,
                                     .d = d,
                                     .underdetermined = underdetermined,
                                     .rank = rank,
                                     .rcond = rcond,
                                     .resid = sqrt(ss),
                                     .resid_rel = sqrt(ss / n)};
}

/* n < p + 1: [h 1]^T = Q T by one dgeqrf of the (p+1) x n transpose, dgelsd
 * on T^T (n x n), B = Q [Z; 0] by dormqr.  Inputs checked by the caller. */
static mg_status affine_fit_wide(const float *hf, const double *hd, int n, int p, const int32_t *y,
                                 int d, double rcond, double *B, mg_affine_fit_info *info)
{
    const int p1 = p + 1;
    mg_status st = MG_OK;
    double *A = malloc((size_t)p1 * n * sizeof(double));
    double *Tt = malloc((size_t)n * n * sizeof(double));
    double *tau = malloc((size_t)n * sizeof(double));
    double *Z = calloc((size_t)p1 * d, sizeof(double)); /* p1 x d column-major */
    double *sv = malloc((size_t)n * sizeof(double));
    double *z = malloc((size_t)d * sizeof(double));
    if (!A || !Tt || !tau || !Z || !sv || !z) {
        st = mg_fail(MG_ERR_NOMEM, "affine fit: out of memory (n = %d, p = %d)", n, p);
        goto done;
    }
    for (int i = 0; i < n; i++) { /* column i of A = [h_i; 1] */
        double *a = A + (size_t)i * p1;
        for (int j = 0; j < p; j++) a[j] = hval(hf, hd, (size_t)i * p + j);
        a[p] = 1.0;
    }
    lapack_int li = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, p1, n, A, p1, tau);
    if ((st = lapack_status(li, "dgeqrf")) != MG_OK) goto done;
    /* Tt = T^T (n x n column-major, lower triangular) */
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) Tt[(size_t)j * n + i] = i >= j ? A[(size_t)i * p1 + j] : 0.0;
    for (int k = 0; k < d; k++)
        for (int i = 0; i < n; i++) Z[(size_t)k * p1 + i] = (y[i] == k);
    lapack_int rank = 0;
    li = LAPACKE_dgelsd(LAPACK_COL_MAJOR, n, n, d, Tt, n, Z, p1, sv, rcond, &rank);
    if ((st = lapack_status(li, "dgelsd")) != MG_OK) goto done;
    for (int k = 0; k < d; k++) /* [Z; 0] */
        memset(Z + (size_t)k * p1 + n, 0, (size_t)(p1 - n) * sizeof(double));
    li = LAPACKE_dormqr(LAPACK_COL_MAJOR, 'L', 'N', p1, d, n, A, p1, tau, Z, p1);
    if ((st = lapack_status(li, "dormqr")) != MG_OK) goto done;
    for (int j = 0; j < p1; j++)
        for (int k = 0; k < d; k++) B[(size_t)j * d + k] = Z[(size_t)k * p1 + j];
    double ss = fit_residual_sq(hf, hd, n, p, y, d, B, z);
    fit_info(info, n, p, d, 1, (int)rank, rcond, ss);
done:
    free(A);
    free(Tt);
    free(tau);
    free(Z);
    free(sv);
    free(z);
    return st;
}

static mg_status affine_fit(const float *hf, const double *hd, int n, int p, const int32_t *y,
                            int d, double rcond, double *B, mg_affine_fit_info *info)
{
    MG_ASSERT((hf || hd) && y && B);
    if (n < 1 || p < 1 || d < 1)
        return mg_fail(MG_ERR_CONFIG, "affine fit: need n, p, d >= 1 (got %d, %d, %d)", n, p, d);
    mg_status st = check_labels(y, n, d, "affine fit");
    if (st != MG_OK) return st;
    for (size_t k = 0; k < (size_t)n * p; k++)
        if (!isfinite(hval(hf, hd, k)))
            return mg_fail(MG_ERR_NUMERIC, "affine fit: non-finite state in row %d", (int)(k / p));

    if (n < p + 1) return affine_fit_wide(hf, hd, n, p, y, d, rcond, B, info);

    /* Streaming QR of [h 1 Y] (q columns), 512-row blocks, column-major. */
    const int q = p + 1 + d, blk = 512, cap = q + blk;
    double *W = malloc((size_t)cap * q * sizeof(double));
    double *R = calloc((size_t)q * q, sizeof(double));
    double *tau = malloc((size_t)q * sizeof(double));
    double *A1 = malloc((size_t)(p + 1) * (p + 1) * sizeof(double));
    double *Z = malloc((size_t)(p + 1) * d * sizeof(double));
    double *sv = malloc((size_t)(p + 1) * sizeof(double));
    double *z = malloc((size_t)d * sizeof(double));
    if (!W || !R || !tau || !A1 || !Z || !sv || !z) {
        st = mg_fail(MG_ERR_NOMEM, "affine fit: out of memory (p = %d)", p);
        goto done;
    }
    int r = 0;
    for (int i0 = 0; i0 < n; i0 += blk) {
        int m = imin(blk, n - i0);
        for (int j = 0; j < q; j++)
            memcpy(W + (size_t)j * cap, R + (size_t)j * q, (size_t)r * sizeof(double));
        for (int t0 = 0; t0 < m; t0 += 32) { /* tiled transpose of the h rows */
            int t1 = imin(t0 + 32, m);
            for (int j0 = 0; j0 < p; j0 += 32) {
                int j1 = imin(j0 + 32, p);
                for (int j = j0; j < j1; j++) {
                    double *col = W + (size_t)j * cap + r;
                    for (int t = t0; t < t1; t++) col[t] = hval(hf, hd, (size_t)(i0 + t) * p + j);
                }
            }
        }
        for (int t = 0; t < m; t++) W[(size_t)p * cap + r + t] = 1.0;
        for (int k = 0; k < d; k++)
            for (int t = 0; t < m; t++) W[(size_t)(p + 1 + k) * cap + r + t] = (y[i0 + t] == k);
        int rows = r + m;
        lapack_int li = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, rows, q, W, cap, tau);
        if ((st = lapack_status(li, "dgeqrf")) != MG_OK) goto done;
        r = imin(rows, q);
        for (int j = 0; j < q; j++) {
            int top = imin(j + 1, r);
            memcpy(R + (size_t)j * q, W + (size_t)j * cap, (size_t)top * sizeof(double));
            memset(R + (size_t)j * q + top, 0, (size_t)(q - top) * sizeof(double));
        }
    }
    /* [h 1] = Q R11 and Q^T Y = [R12; R22]: solve R11 B = R12 by dgelsd. */
    const int p1 = p + 1;
    for (int j = 0; j < p1; j++)
        memcpy(A1 + (size_t)j * p1, R + (size_t)j * q, (size_t)p1 * sizeof(double));
    for (int k = 0; k < d; k++)
        memcpy(Z + (size_t)k * p1, R + (size_t)(p1 + k) * q, (size_t)p1 * sizeof(double));
    lapack_int rank = 0;
    lapack_int li = LAPACKE_dgelsd(LAPACK_COL_MAJOR, p1, p1, d, A1, p1, Z, p1, sv, rcond, &rank);
    if ((st = lapack_status(li, "dgelsd")) != MG_OK) goto done;
    for (int j = 0; j < p1; j++)
        for (int k = 0; k < d; k++) B[(size_t)j * d + k] = Z[(size_t)k * p1 + j];

    double ss = fit_residual_sq(hf, hd, n, p, y, d, B, z);
    fit_info(info, n, p, d, 0, (int)rank, rcond, ss);
done:
    free(W);
    free(R);
    free(tau);
    free(A1);
    free(Z);
    free(sv);
    free(z);
    return st;
}

mg_status mg_affine_fit_f32(const float *h, int n, int p, const int32_t *y, int d, double rcond,
                            double *B, mg_affine_fit_info *info)
{
    return affine_fit(h, NULL, n, p, y, d, rcond, B, info);
}

mg_status mg_affine_fit_f64(const double *h, int n, int p, const int32_t *y, int d, double rcond,
                            double *B, mg_affine_fit_info *info)
{
    return affine_fit(NULL, h, n, p, y, d, rcond, B, info);
}

/* ================================================================ mixup error */

static mg_status mixup_error(const float *hf, const double *hd, int n, int p, const int32_t *y,
                             int d, const double *B, const double *lambdas, int n_lambda,
                             int n_pairs, mg_rng *rng, double *per_lambda, double *mean)
{
    MG_ASSERT((hf || hd) && y && B && lambdas && rng && mean);
    if (n < 2 || p < 1 || d < 1 || n_lambda < 1 || n_pairs < 1)
        return mg_fail(
            MG_ERR_CONFIG,
            "mixup error: need n >= 2, p, d, n_lambda, n_pairs >= 1 (got %d, %d, %d, %d, %d)", n, p,
            d, n_lambda, n_pairs);
    mg_status st = check_labels(y, n, d, "mixup error");
    if (st != MG_OK) return st;
    double *hm = malloc((size_t)p * sizeof(double));
    double *z = malloc((size_t)d * sizeof(double));
    double *acc = calloc((size_t)n_lambda, sizeof(double));
    if (!hm || !z || !acc) {
        free(hm);
        free(z);
        free(acc);
        return mg_fail(MG_ERR_NOMEM, "mixup error: out of memory");
    }
    for (int t = 0; t < n_pairs; t++) {
        int i = (int)mg_rng_below(rng, (uint32_t)n);
        int j = (int)mg_rng_below(rng, (uint32_t)(n - 1));
        if (j >= i) j++;
        for (int g = 0; g < n_lambda; g++) {
            double lam = lambdas[g];
            for (int k = 0; k < p; k++)
                hm[k] = lam * hval(hf, hd, (size_t)i * p + k) +
                        (1 - lam) * hval(hf, hd, (size_t)j * p + k);
            for (int k = 0; k < d; k++) z[k] = B[(size_t)p * d + k];
            for (int k = 0; k < p; k++) {
                const double *Bk = B + (size_t)k * d;
                for (int c = 0; c < d; c++) z[c] += hm[k] * Bk[c];
            }
            double e2 = 0;
            for (int c = 0; c < d; c++) {
                double tgt = lam * (y[i] == c) + (1 - lam) * (y[j] == c);
                double e = z[c] - tgt;
                e2 += e * e;
            }
            acc[g] += e2;
        }
    }
    double tot = 0;
    for (int g = 0; g < n_lambda; g++) {
        tot += acc[g];
        if (per_lambda) per_lambda[g] = acc[g] / n_pairs;
    }
    *mean = tot / ((double)n_pairs * n_lambda);
    free(hm);
    free(z);
    free(acc);
    return MG_OK;
}

mg_status mg_affine_mixup_error_f32(const float *h, int n, int p, const int32_t *y, int d,
                                    const double *B, const double *lambdas, int n_lambda,
                                    int n_pairs, mg_rng *rng, double *per_lambda, double *mean)
{
    return mixup_error(h, NULL, n, p, y, d, B, lambdas, n_lambda, n_pairs, rng, per_lambda, mean);
}

mg_status mg_affine_mixup_error_f64(const double *h, int n, int p, const int32_t *y, int d,
                                    const double *B, const double *lambdas, int n_lambda,
                                    int n_pairs, mg_rng *rng, double *per_lambda, double *mean)
{
    return mixup_error(NULL, h, n, p, y, d, B, lambdas, n_lambda, n_pairs, rng, per_lambda, mean);
}

/* ================================================================ affine dim, leakage */

mg_status mg_affine_dim(const double *pts, int m, int p, double *s, mg_spectrum_summary *out)
{
    MG_ASSERT(pts && out);
    if (m < 1 || p < 1)
        return mg_fail(MG_ERR_CONFIG, "affine dim: need m, p >= 1 (got %d, %d)", m, p);
    int ns = imin(m, p);
    double *C = malloc((size_t)m * p * sizeof(double));
    double *sv = malloc((size_t)ns * sizeof(double));
    if (!C || !sv) {
        free(C);
        free(sv);
        return mg_fail(MG_ERR_NOMEM, "affine dim: out of memory");
    }
    for (int j = 0; j < p; j++) { /* column-major m x p, centred */
        double mu = 0;
        for (int i = 0; i < m; i++) mu += pts[(size_t)i * p + j];
        mu /= m;
        for (int i = 0; i < m; i++) C[(size_t)j * m + i] = pts[(size_t)i * p + j] - mu;
    }
    double u = 0, vt = 0;
    lapack_int li = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', m, p, C, m, sv, &u, 1, &vt, 1);
    mg_status st = lapack_status(li, "dgesdd");
    if (st == MG_OK) {
        mg_spectrum_summarize(sv, ns, m, p, out);
        if (s) memcpy(s, sv, (size_t)ns * sizeof(double));
    }
    free(C);
    free(sv);
    return st;
}

mg_status mg_class_means_affine_dim(const mg_spectra_result *r, double *s, mg_spectrum_summary *out)
{
    MG_ASSERT(r && out);
    const int p = r->p;
    double *pts = malloc((size_t)r->classes * p * sizeof(double));
    if (!pts) return mg_fail(MG_ERR_NOMEM, "affine dim: out of memory");
    int m = 0;
    for (int c = 0; c < r->classes; c++) {
        if (r->cls[c].n == 0) continue;
        memcpy(pts + (size_t)m * p, r->cls[c].mean, (size_t)p * sizeof(double));
        m++;
    }
    mg_status st;
    if (m == 0)
        st = mg_fail(MG_ERR_CONFIG, "affine dim: no class has data");
    else
        st = mg_affine_dim(pts, m, p, s, out);
    free(pts);
    return st;
}

/* sum_i ||W (h_i - mu)||^2 into *a and sum_i ||h_i - mu||^2 into *b over the
 * kept rows of a rows-mode class, in blocks of rows centred in double. */
static mg_status leakage_rows(const mg_class_spectrum *cs, const double *W, int d, double *a,
                              double *b)
{
    enum { LEAK_BLOCK = 64 };
    const int p = cs->p;
    *a = *b = 0;
    if (cs->n == 0) return MG_OK;
    MG_ASSERT(cs->rows);
    double *E = malloc((size_t)LEAK_BLOCK * p * sizeof(double));
    double *M = malloc((size_t)LEAK_BLOCK * d * sizeof(double));
    if (!E || !M) {
        free(E);
        free(M);
        return mg_fail(MG_ERR_NOMEM, "leakage: out of memory");
    }
    for (int64_t i0 = 0; i0 < cs->n; i0 += LEAK_BLOCK) {
        int m = (int)(cs->n - i0 < LEAK_BLOCK ? cs->n - i0 : LEAK_BLOCK);
        for (int i = 0; i < m; i++) {
            const float *row = cs->rows + (size_t)(i0 + i) * p;
            double *e = E + (size_t)i * p;
            for (int j = 0; j < p; j++) {
                e[j] = (double)row[j] - cs->mean[j];
                *b += e[j] * e[j];
            }
        }
        /* M = E W^T (m x d) */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, d, p, 1.0, E, p, W, p, 0.0, M, d);
        for (size_t k = 0; k < (size_t)m * d; k++) *a += M[k] * M[k];
    }
    free(E);
    free(M);
    return MG_OK;
}

mg_status mg_readout_leakage(const mg_spectra_result *r, const double *W, int d, double *per_class,
                             double *out)
{
    MG_ASSERT(r && W && out);
    if (d < 1) return mg_fail(MG_ERR_CONFIG, "leakage: d must be >= 1 (got %d)", d);
    const int p = r->p;
    double *M = malloc((size_t)p * d * sizeof(double));
    if (!M) return mg_fail(MG_ERR_NOMEM, "leakage: out of memory");
    double num = 0, den = 0;
    for (int c = 0; c < r->classes; c++) {
        const double *R = r->cls[c].R;
        double a = 0, b = 0;
        if (!R) { /* rows mode: the centred rows, LEAK_BLOCK at a time */
            mg_status st = leakage_rows(&r->cls[c], W, d, &a, &b);
            if (st != MG_OK) {
                free(M);
                return st;
            }
            if (per_class) per_class[c] = b > 0 ? a / b : NAN;
            num += a;
            den += b;
            continue;
        }
        /* M = R W^T (p x d): ||M||_F = ||W R^T||_F */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, p, d, p, 1.0, R, p, W, p, 0.0, M, d);
        for (size_t k = 0; k < (size_t)p * d; k++) a += M[k] * M[k];
        for (size_t k = 0; k < (size_t)p * p; k++) b += R[k] * R[k];
        if (per_class) per_class[c] = b > 0 ? a / b : NAN;
        num += a;
        den += b;
    }
    free(M);
    *out = den > 0 ? num / den : NAN;
    return MG_OK;
}

/* ================================================================ construction */

/* Helmert basis entry V[i][k], k = 0..d-2: orthonormal columns orthogonal to 1. */
static double helmert(int i, int k)
{
    int kk = k + 1;
    double s = 1.0 / sqrt((double)kk * (kk + 1));
    if (i < kk) return s;
    if (i == kk) return -kk * s;
    return 0.0;
}

mg_status mg_theory_construct(int d, int dim, double *A, double *H, double *b, double *res_max,
                              double *res_fro)
{
    if (d < 2 || dim < 1)
        return mg_fail(MG_ERR_CONFIG, "construction: need d >= 2 and dim >= 1 (got %d, %d)", d,
                       dim);
    double *Am = malloc((size_t)dim * d * sizeof(double));
    double *bm = malloc((size_t)d * sizeof(double));
    if (!Am || !bm) {
        free(Am);
        free(bm);
        return mg_fail(MG_ERR_NOMEM, "construction: out of memory");
    }
    int k = imin(dim, d - 1);
    for (int a = 0; a < dim; a++)
        for (int i = 0; i < d; i++) Am[(size_t)a * d + i] = a < k ? helmert(i, a) : 0.0;
    for (int i = 0; i < d; i++) bm[i] = 1.0 / d;
    /* H = A in this construction */
    double mx = 0, fro = 0;
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double v = bm[i] - (i == j);
            for (int a = 0; a < dim; a++) v += Am[(size_t)a * d + i] * Am[(size_t)a * d + j];
            mx = fmax(mx, fabs(v));
            fro += v * v;
        }
    if (A) memcpy(A, Am, (size_t)dim * d * sizeof(double));
    if (H) memcpy(H, Am, (size_t)dim * d * sizeof(double));
    if (b) memcpy(b, bm, (size_t)d * sizeof(double));
    if (res_max) *res_max = mx;
    if (res_fro) *res_fro = sqrt(fro);
    free(Am);
    free(bm);
    return MG_OK;
}

double mg_theory_best_residual(int d, int dim)
{
    return sqrt((double)imax(0, d - 1 - dim));
}

mg_status mg_theory_best_residual_svd(int d, int dim, double *out)
{
    MG_ASSERT(out);
    if (d < 2 || dim < 0)
        return mg_fail(MG_ERR_CONFIG, "best residual: need d >= 2 and dim >= 0 (got %d, %d)", d,
                       dim);
    double *C = malloc((size_t)d * d * sizeof(double));
    double *s = malloc((size_t)d * sizeof(double));
    if (!C || !s) {
        free(C);
        free(s);
        return mg_fail(MG_ERR_NOMEM, "best residual: out of memory");
    }
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) C[(size_t)i * d + j] = (i == j) - 1.0 / d;
    double u = 0, vt = 0;
    lapack_int li = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', d, d, C, d, s, &u, 1, &vt, 1);
    mg_status st = lapack_status(li, "dgesdd");
    if (st == MG_OK) {
        double ss = 0;
        for (int k = dim; k < d; k++) ss += s[k] * s[k];
        *out = sqrt(ss);
    }
    free(C);
    free(s);
    return st;
}

/* ================================================================ objective */

const char *mg_theory_loss_name(mg_theory_loss k)
{
    switch (k) {
    case MG_THEORY_SQUARED: return "squared";
    case MG_THEORY_KL: return "kl";
    }
    return "unknown";
}

mg_theory_config mg_theory_config_default(void)
{
    mg_theory_config c;
    memset(&c, 0, sizeof c);
    c.d = 4;
    c.n = 40;
    c.dim_min = 1;
    c.dim_max = 6;
    c.alpha = 2.0;
    c.loss = MG_THEORY_SQUARED;
    c.iters = 8000;
    c.lr = 0.1;
    c.lr_final = 1e-6;
    c.quad_points = 16;
    c.rank_rtol = 1e-3;
    c.seed = 1;
    return c;
}

mg_status mg_theory_config_check(const mg_theory_config *c, char *msg, size_t len)
{
    MG_ASSERT(c && msg && len > 0);
    msg[0] = '\0';
    size_t used = 0;
    int bad = 0;
#define PROBLEM(...)                                                                               \
    do {                                                                                           \
        bad++;                                                                                     \
        if (used < len) {                                                                          \
            int w_ = snprintf(msg + used, len - used, __VA_ARGS__);                                \
            if (w_ > 0) used += (size_t)w_;                                                        \
            if (used < len) used += (size_t)snprintf(msg + used, len - used, "\n");                \
        }                                                                                          \
    } while (0)
    if (c->d < 2) PROBLEM("d: need at least 2 classes (got %d)", c->d);
    if (c->d >= 2 && (c->n < 2 * c->d || c->n % c->d != 0))
        PROBLEM("n: must be a multiple of d = %d and at least 2d (got %d)", c->d, c->n);
    if (c->dim_min < 1) PROBLEM("dim_min: must be >= 1 (got %d)", c->dim_min);
    if (c->dim_max < c->dim_min)
        PROBLEM("dim_max: must be >= dim_min (got %d < %d)", c->dim_max, c->dim_min);
    if (c->dim_max > 4096) PROBLEM("dim_max: at most 4096 (got %d)", c->dim_max);
    if (!(c->alpha > 0)) PROBLEM("alpha: must be > 0 (got %g)", c->alpha);
    if (c->loss != MG_THEORY_SQUARED && c->loss != MG_THEORY_KL)
        PROBLEM("loss: unknown kind %d", (int)c->loss);
    if (c->iters < 1) PROBLEM("iters: must be >= 1 (got %d)", c->iters);
    if (!(c->lr > 0)) PROBLEM("lr: must be > 0 (got %g)", c->lr);
    if (!(c->lr_final > 0)) PROBLEM("lr_final: must be > 0 (got %g)", c->lr_final);
    if (c->loss == MG_THEORY_KL && c->quad_points < 1)
        PROBLEM("quad_points: must be >= 1 (got %d)", c->quad_points);
    if (!(c->rank_rtol > 0 && c->rank_rtol < 1))
        PROBLEM("rank_rtol: must be in (0, 1) (got %g)", c->rank_rtol);
#undef PROBLEM
    if (used > 0 && used <= len && msg[used - 1] == '\n') msg[used - 1] = '\0';
    return bad ? MG_ERR_CONFIG : MG_OK;
}

void mg_beta_sym_moments(double alpha, double *m2, double *m11)
{
    double den = 2.0 * (2.0 * alpha + 1.0);
    if (m2) *m2 = (alpha + 1.0) / den;
    if (m11) *m11 = alpha / den;
}

/* Work buffers of the objective. */
typedef struct {
    double *Z, *G;     /* n x d */
    double *lam, *wts; /* quad_points */
} obj_ws;

static void obj_ws_free(obj_ws *w)
{
    free(w->Z);
    free(w->G);
    free(w->lam);
    free(w->wts);
}

static mg_status obj_ws_init(obj_ws *w, const mg_theory_config *c)
{
    memset(w, 0, sizeof *w);
    int G = c->quad_points > 0 ? c->quad_points : 1;
    w->Z = malloc((size_t)c->n * c->d * sizeof(double));
    w->G = malloc((size_t)c->n * c->d * sizeof(double));
    w->lam = malloc((size_t)G * sizeof(double));
    w->wts = malloc((size_t)G * sizeof(double));
    if (!w->Z || !w->G || !w->lam || !w->wts) {
        obj_ws_free(w);
        return mg_fail(MG_ERR_NOMEM, "theory: out of memory (n = %d, d = %d)", c->n, c->d);
    }
    /* midpoint grid with Beta(alpha, alpha) density weights, normalised */
    double tot = 0;
    for (int g = 0; g < G; g++) {
        double l = (g + 0.5) / G;
        w->lam[g] = l;
        w->wts[g] = pow(l, c->alpha - 1.0) * pow(1.0 - l, c->alpha - 1.0);
        tot += w->wts[g];
    }
    for (int g = 0; g < G; g++) w->wts[g] /= tot;
    return MG_OK;
}

static double objective_ws(const mg_theory_config *c, int dim, const double *h, const double *A,
                           const double *b, double *gh, double *gA, double *gb, obj_ws *w)
{
    const int n = c->n, d = c->d;
    double *Z = w->Z, *G = w->G;
    /* Z = h A + 1 b^T */
    for (int i = 0; i < n; i++) memcpy(Z + (size_t)i * d, b, (size_t)d * sizeof(double));
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d, dim, 1.0, h, dim, A, d, 1.0, Z, d);
    double J = 0;
    if (c->loss == MG_THEORY_SQUARED) {
        double m2, m11;
        mg_beta_sym_moments(c->alpha, &m2, &m11);
        double nn1 = (double)n * (n - 1);
        double c1 = 2 * m2 / n - 2 * m11 / nn1, c2 = 2 * m11 / nn1;
        double Q = 0, S2 = 0;
        /* G <- r, then column by column S_k = sum_i r_ik and G <- dJ/dZ */
        double Sk;
        for (int i = 0; i < n; i++) {
            int yi = mg_theory_label(i, d);
            for (int k = 0; k < d; k++) {
                double r = Z[(size_t)i * d + k] - (yi == k);
                G[(size_t)i * d + k] = r;
                Q += r * r;
            }
        }
        for (int k = 0; k < d; k++) {
            Sk = 0;
            for (int i = 0; i < n; i++) Sk += G[(size_t)i * d + k];
            S2 += Sk * Sk;
            for (int i = 0; i < n; i++)
                G[(size_t)i * d + k] = 2 * c1 * G[(size_t)i * d + k] + 2 * c2 * Sk;
        }
        J = c1 * Q + c2 * S2;
    } else {
        const int Gq = c->quad_points;
        const double scale = 2.0 / ((double)n * (n - 1)); /* pairs i < j, counted twice */
        memset(G, 0, (size_t)n * d * sizeof(double));
        for (int i = 0; i < n; i++) {
            const double *zi = Z + (size_t)i * d;
            int yi = mg_theory_label(i, d);
            for (int j = i + 1; j < n; j++) {
                const double *zj = Z + (size_t)j * d;
                int yj = mg_theory_label(j, d);
                double *gi = G + (size_t)i * d, *gj = G + (size_t)j * d;
                for (int g = 0; g < Gq; g++) {
                    double lam = w->lam[g], wt = w->wts[g] * scale;
                    /* logsumexp of the mixed logits */
                    double mx = -INFINITY;
                    for (int k = 0; k < d; k++) mx = fmax(mx, lam * zi[k] + (1 - lam) * zj[k]);
                    double se = 0;
                    for (int k = 0; k < d; k++) se += exp(lam * zi[k] + (1 - lam) * zj[k] - mx);
                    double lse = mx + log(se);
                    double zyi = lam * zi[yi] + (1 - lam) * zj[yi];
                    double zyj = lam * zi[yj] + (1 - lam) * zj[yj];
                    double kl;
                    if (yi == yj)
                        kl = -(zyi - lse);
                    else
                        kl = lam * log(lam) + (1 - lam) * log(1 - lam) - lam * (zyi - lse) -
                             (1 - lam) * (zyj - lse);
                    J += wt * kl;
                    for (int k = 0; k < d; k++) {
                        double pk = exp(lam * zi[k] + (1 - lam) * zj[k] - lse);
                        double tk = lam * (yi == k) + (1 - lam) * (yj == k);
                        double e = wt * (pk - tk);
                        gi[k] += lam * e;
                        gj[k] += (1 - lam) * e;
                    }
                }
            }
        }
    }
    if (gh)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, dim, d, 1.0, G, d, A, d, 0.0, gh,
                    dim);
    if (gA)
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, dim, d, n, 1.0, h, dim, G, d, 0.0, gA,
                    d);
    if (gb) {
        memset(gb, 0, (size_t)d * sizeof(double));
        for (int i = 0; i < n; i++)
            for (int k = 0; k < d; k++) gb[k] += G[(size_t)i * d + k];
    }
    return J;
}

mg_status mg_theory_objective(const mg_theory_config *c, int dim, const double *h, const double *A,
                              const double *b, double *J, double *gh, double *gA, double *gb)
{
    MG_ASSERT(c && h && A && b && J && dim >= 1 && c->d >= 2 && c->n >= 2);
    obj_ws w;
    mg_status st = obj_ws_init(&w, c);
    if (st != MG_OK) return st;
    *J = objective_ws(c, dim, h, A, b, gh, gA, gb, &w);
    obj_ws_free(&w);
    return MG_OK;
}

/* ================================================================ optimisation */

mg_status mg_theory_optimize(const mg_theory_config *c, int dim, mg_theory_result *out,
                             double *h_out, double *A_out, double *b_out)
{
    MG_ASSERT(c && out);
    char msg[512];
    mg_status st = mg_theory_config_check(c, msg, sizeof msg);
    if (st != MG_OK) return mg_fail(st, "theory: %s", msg);
    if (dim < 1) return mg_fail(MG_ERR_CONFIG, "theory: dim must be >= 1 (got %d)", dim);
    const double t0 = now_seconds();
    const int n = c->n, d = c->d;
    const size_t nh = (size_t)n * dim, nA = (size_t)dim * d, np = nh + nA + d;
    double *th = calloc(np, sizeof(double)), *gr = malloc(np * sizeof(double));
    double *m1 = calloc(np, sizeof(double)), *v1 = calloc(np, sizeof(double));
    int32_t *y = malloc((size_t)n * sizeof(int32_t));
    double *Bfit = malloc((size_t)(dim + 1) * d * sizeof(double));
    obj_ws w;
    int have_ws = 0;
    mg_spectra_acc *acc = NULL;
    mg_spectra_result *res = NULL;
    if (!th || !gr || !m1 || !v1 || !y || !Bfit) {
        st = mg_fail(MG_ERR_NOMEM, "theory: out of memory (n = %d, dim = %d)", n, dim);
        goto done;
    }
    if ((st = obj_ws_init(&w, c)) != MG_OK) goto done;
    have_ws = 1;
    double *h = th, *A = th + nh, *b = th + nh + nA;
    double *gh = gr, *gA = gr + nh, *gb = gr + nh + nA;

    mg_rng rng;
    mg_rng_seed3(&rng, c->seed, MG_STREAM_ANALYSIS, (uint64_t)dim);
    for (size_t k = 0; k < nh; k++) h[k] = mg_rng_normal(&rng);
    double sa = 1.0 / sqrt((double)dim);
    for (size_t k = 0; k < nA; k++) A[k] = sa * mg_rng_normal(&rng);

    /* Adam with a geometric learning-rate decay lr -> lr_final */
    const double b1 = 0.9, b2 = 0.999, eps = 1e-12;
    double b1t = 1, b2t = 1;
    const double decay = c->iters > 1 ? log(c->lr_final / c->lr) / (c->iters - 1) : 0.0;
    for (int t = 0; t < c->iters; t++) {
        double J = objective_ws(c, dim, h, A, b, gh, gA, gb, &w);
        if (!isfinite(J)) {
            st = mg_fail(MG_ERR_NUMERIC, "theory: J became %g at step %d (dim %d)", J, t, dim);
            goto done;
        }
        double lr = c->lr * exp(decay * t);
        b1t *= b1;
        b2t *= b2;
        for (size_t k = 0; k < np; k++) {
            m1[k] = b1 * m1[k] + (1 - b1) * gr[k];
            v1[k] = b2 * v1[k] + (1 - b2) * gr[k] * gr[k];
            double mh = m1[k] / (1 - b1t), vh = v1[k] / (1 - b2t);
            th[k] -= lr * mh / (sqrt(vh) + eps);
        }
    }
    memset(out, 0, sizeof *out);
    out->dim = dim;
    out->d = d;
    out->n = n;
    out->loss = c->loss;
    out->iters = c->iters;
    out->J = objective_ws(c, dim, h, A, b, NULL, NULL, NULL, &w);

    /* the best constant readout: A = 0, f = the mean label (uniform softmax) */
    {
        double *A0 = gA, *bc = gb; /* gradient buffers are free now */
        memset(A0, 0, nA * sizeof(double));
        for (int k = 0; k < d; k++) bc[k] = c->loss == MG_THEORY_SQUARED ? 1.0 / d : 0.0;
        out->J_const = objective_ws(c, dim, h, A0, bc, NULL, NULL, NULL, &w);
        out->J_rel = out->J_const > 0 ? out->J / out->J_const : NAN;
    }

    for (int i = 0; i < n; i++) y[i] = mg_theory_label(i, d);
    mg_affine_fit_info fi;
    if ((st = mg_affine_fit_f64(h, n, dim, y, d, -1.0, Bfit, &fi)) != MG_OK) goto done;
    out->fit_resid_rel = fi.resid_rel;

    /* per-class centred ranks, tolerance relative to the whole cloud's scale */
    if ((st = mg_spectra_acc_create(d, dim, 0, &acc)) != MG_OK) goto done;
    if ((st = mg_spectra_acc_add_f64(acc, h, y, n)) != MG_OK) goto done;
    if ((st = mg_spectra_acc_finish(acc, &res)) != MG_OK) goto done;
    double tol = c->rank_rtol * (res->ns_total > 0 ? res->s_total[0] : 0.0);
    int rmax = 0;
    double rsum = 0;
    for (int cl = 0; cl < d; cl++) {
        int rk = mg_spectrum_rank(res->cls[cl].s_centred, res->cls[cl].ns, tol);
        rmax = imax(rmax, rk);
        rsum += rk;
    }
    out->rank_max = rmax;
    out->rank_mean = rsum / d;
    out->rank_pred = mg_corollary1_dim(dim, d);
    if ((st = mg_theory_construct(d, dim, NULL, NULL, NULL, &out->construct_max,
                                  &out->construct_fro)) != MG_OK)
        goto done;
    out->bound_fro = mg_theory_best_residual(d, dim);
    if (h_out) memcpy(h_out, h, nh * sizeof(double));
    if (A_out) memcpy(A_out, A, nA * sizeof(double));
    if (b_out) memcpy(b_out, b, (size_t)d * sizeof(double));
    out->seconds = now_seconds() - t0;
done:
    if (have_ws) obj_ws_free(&w);
    mg_spectra_result_free(res);
    mg_spectra_acc_free(acc);
    free(th);
    free(gr);
    free(m1);
    free(v1);
    free(y);
    free(Bfit);
    return st;
}

mg_status mg_theory_run(const mg_theory_config *c, mg_theory_result *out)
{
    MG_ASSERT(c && out);
    char msg[512];
    mg_status st = mg_theory_config_check(c, msg, sizeof msg);
    if (st != MG_OK) return mg_fail(st, "theory: %s", msg);
    for (int dim = c->dim_min; dim <= c->dim_max; dim++)
        if ((st = mg_theory_optimize(c, dim, &out[dim - c->dim_min], NULL, NULL, NULL)) != MG_OK)
            return st;
    return MG_OK;
}

static void put_num(FILE *f, double x, int first)
{
    if (!first) fputc('\t', f);
    if (isnan(x))
        fputs("nan", f);
    else
        fprintf(f, "%.9g", x);
}

mg_status mg_theory_write_tsv(FILE *f, const char *provenance, const mg_theory_config *c,
                              const mg_theory_result *r, int count)
{
    MG_ASSERT(f && c && (r || count == 0));
    if (provenance && *provenance) fprintf(f, "%s\n", provenance);
    fprintf(f,
            "# theory: loss=%s d=%d n=%d alpha=%.9g iters=%d lr=%.9g lr_final=%.9g "
            "quad_points=%d rank_rtol=%.9g seed=%llu (loss column: 0 squared, 1 kl)\n",
            mg_theory_loss_name(c->loss), c->d, c->n, c->alpha, c->iters, c->lr, c->lr_final,
            c->quad_points, c->rank_rtol, (unsigned long long)c->seed);
    fputs("# columns: dim d n loss J J_const J_rel fit_resid_rel rank_max rank_mean rank_pred "
          "theorem1_applies construct_max construct_fro bound_fro iters seconds\n",
          f);
    for (int i = 0; i < count; i++) {
        const mg_theory_result *x = &r[i];
        put_num(f, x->dim, 1);
        put_num(f, x->d, 0);
        put_num(f, x->n, 0);
        put_num(f, (double)x->loss, 0);
        put_num(f, x->J, 0);
        put_num(f, x->J_const, 0);
        put_num(f, x->J_rel, 0);
        put_num(f, x->fit_resid_rel, 0);
        put_num(f, x->rank_max, 0);
        put_num(f, x->rank_mean, 0);
        put_num(f, x->rank_pred, 0);
        put_num(f, mg_theorem1_applies(x->dim, x->d), 0);
        put_num(f, x->construct_max, 0);
        put_num(f, x->construct_fro, 0);
        put_num(f, x->bound_fro, 0);
        put_num(f, x->iters, 0);
        put_num(f, x->seconds, 0);
        fputc('\n', f);
    }
    if (ferror(f)) return mg_fail(MG_ERR_IO, "theory: write error on the TSV output");
    return MG_OK;
}
