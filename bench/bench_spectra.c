/* bench_spectra.c - speed of the streaming per-class spectra.
 *
 * The target: per-class spectra (centred and uncentred) of 60,000
 * states x 512 dims in 10 classes in under ~2 s on 2 cores.  The states are
 * synthetic float32: class mean + a rank-48 signal with decaying scales +
 * small isotropic noise, labels drawn at random (so every batch mixes
 * classes), fed in batches of 500 rows like a forward pass would.
 *
 * Prints the median of 3 runs of accumulate + finish (CLOCK_MONOTONIC), the
 * machine's dgemm rate measured in the same run (2048^3, median of 3), and
 * the fraction of it the QR work reaches during accumulation (add_s),
 * counting 2 m p^2 - (2/3) p^3 flops per stacked m x p QR (the stacked sizes
 * of the full blocks are recomputed here as the accumulator forms them).
 * finish_s (the remaining partial blocks, the pooled merges and the
 * 2 classes + 2 SVDs, dgesdd values only, largely BLAS-2 bound) is timed
 * separately and not counted as flops.
 *
 * Usage: bench_spectra [n [p [classes [block_rows]]]]   (defaults 60000 512 10 0)
 * Threads: OPENBLAS_NUM_THREADS if set, else mg_set_threads(2).
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mixgeo.h"
#include "spectra.h"
#include "bench.h"

/* Householder QR of an m x p matrix: 2 m p^2 - 2/3 p^3 (m >= p), else
 * 2 p m^2 - 2/3 m^3. */
static double qr_flops(double m, double p)
{
    return m >= p ? 2.0 * m * p * p - 2.0 / 3.0 * p * p * p
                  : 2.0 * p * m * m - 2.0 / 3.0 * m * m * m;
}

/* QR flops of the block updates (the add step) for classes with counts
 * cnt[] and block b: the first block alone, then [R (r rows); block;
 * correction row].  Rows still buffered at the end are folded in by finish,
 * the pooled-within merges too: those are not counted. */
static double spectra_qr_flops(const int64_t *cnt, int classes, int p, int b)
{
    double fl = 0;
    for (int c = 0; c < classes; c++) {
        int64_t full = cnt[c] / b, seen = 0;
        int r = 0;
        for (int64_t k = 0; k < full; k++) {
            int rows = r + b + (seen > 0);
            fl += qr_flops(rows, p);
            r = rows < p ? rows : p;
            seen += b;
        }
    }
    return fl;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 60000;
    int p = argc > 2 ? atoi(argv[2]) : 512;
    int classes = argc > 3 ? atoi(argv[3]) : 10;
    int block = argc > 4 ? atoi(argv[4]) : 0;
    if (n < classes || p < 1 || classes < 1 || block < 0) {
        fprintf(stderr, "usage: bench_spectra [n [p [classes [block_rows]]]]\n");
        return 2;
    }
    if (!getenv("OPENBLAS_NUM_THREADS")) mg_set_threads(2);
    int threads = mg_get_threads();
    int block_used = block ? block : mg_spectra_default_block_rows(p);

    /* ---- data */
    enum { K = 48 };
    mg_rng rng;
    mg_rng_seed3(&rng, 2024, MG_STREAM_DATA, 0);
    float *X = malloc((size_t)n * p * sizeof(float));
    int32_t *y = malloc((size_t)n * sizeof(int32_t));
    float *Z = malloc((size_t)n * K * sizeof(float));
    float *Bas = malloc((size_t)classes * K * p * sizeof(float));
    float *Mu = malloc((size_t)classes * p * sizeof(float));
    if (!X || !y || !Z || !Bas || !Mu) {
        fprintf(stderr, "bench_spectra: out of memory\n");
        return 1;
    }
    for (size_t k = 0; k < (size_t)classes * K * p; k++) Bas[k] = (float)mg_rng_normal(&rng);
    for (size_t k = 0; k < (size_t)classes * p; k++) Mu[k] = (float)(3.0 * mg_rng_normal(&rng));
    int64_t *cnt = calloc((size_t)classes, sizeof(int64_t));
    for (int i = 0; i < n; i++) {
        y[i] = (int32_t)mg_rng_below(&rng, (uint32_t)classes);
        cnt[y[i]]++;
        for (int k = 0; k < K; k++)
            Z[(size_t)i * K + k] = (float)(mg_rng_normal(&rng) / (1.0 + 0.25 * k));
    }
    for (int i = 0; i < n; i++) { /* X_i = Mu_c + Z_i Bas_c + noise */
        int c = y[i];
        float *x = X + (size_t)i * p;
        for (int j = 0; j < p; j++)
            x[j] = Mu[(size_t)c * p + j] + 0.05f * (float)mg_rng_normal(&rng);
        cblas_sgemv(CblasRowMajor, CblasTrans, K, p, 1.0f, Bas + (size_t)c * K * p, p,
                    Z + (size_t)i * K, 1, 1.0f, x, 1);
    }
    free(Z);
    free(Bas);
    free(Mu);

    /* ---- dgemm rate */
    const int G = 2048;
    double *A = malloc((size_t)G * G * sizeof(double)), *B = malloc((size_t)G * G * sizeof(double)),
           *C = malloc((size_t)G * G * sizeof(double));
    if (!A || !B || !C) {
        fprintf(stderr, "bench_spectra: out of memory\n");
        return 1;
    }
    for (size_t k = 0; k < (size_t)G * G; k++) {
        A[k] = mg_rng_uniform(&rng) - 0.5;
        B[k] = mg_rng_uniform(&rng) - 0.5;
        C[k] = 0;
    }
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, 256, 256, 256, 1.0, A, G, B, G, 0.0, C,
                G);
    double tg[3];
    for (int r = 0; r < 3; r++) {
        double t0 = bench_now();
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, G, G, G, 1.0, A, G, B, G, 0.0, C, G);
        tg[r] = bench_now() - t0;
    }
    double dgemm_rate = 2.0 * G * G * (double)G / bench_median(tg, 3);
    free(A);
    free(B);
    free(C);

    /* ---- spectra */
    const int batch = 500;
    double tt[3], ta[3], tf[3], s1 = 0;
    for (int r = 0; r < 3; r++) {
        mg_spectra_acc *acc;
        mg_spectra_result *res;
        double t0 = bench_now();
        if (mg_spectra_acc_create(classes, p, block, &acc) != MG_OK) {
            fprintf(stderr, "bench_spectra: %s\n", mg_errmsg());
            return 1;
        }
        for (int i = 0; i < n; i += batch) {
            int m = n - i < batch ? n - i : batch;
            if (mg_spectra_acc_add(acc, X + (size_t)i * p, y + i, m) != MG_OK) {
                fprintf(stderr, "bench_spectra: %s\n", mg_errmsg());
                return 1;
            }
        }
        double t1 = bench_now();
        if (mg_spectra_acc_finish(acc, &res) != MG_OK) {
            fprintf(stderr, "bench_spectra: %s\n", mg_errmsg());
            return 1;
        }
        double t2 = bench_now();
        s1 = res->cls[0].ns > 0 ? res->cls[0].s_centred[0] : 0;
        mg_spectra_result_free(res);
        mg_spectra_acc_free(acc);
        tt[r] = t2 - t0;
        ta[r] = t1 - t0;
        tf[r] = t2 - t1;
    }
    double t_med = bench_median(tt, 3), fl = spectra_qr_flops(cnt, classes, p, block_used);
    double t_add = bench_median(ta, 3), t_fin = bench_median(tf, 3);
    printf("# columns: n p classes block threads spectra_s add_s finish_s qr_gflop qr_gflops "
           "dgemm_gflops qr_fraction_of_dgemm s1_class0\n");
    printf("bench_spectra\t%d\t%d\t%d\t%d\t%d\t%.4f\t%.4f\t%.4f\t%.3f\t%.2f\t%.2f\t%.3f\t%.6g\n", n,
           p, classes, block_used, threads, t_med, t_add, t_fin, fl / 1e9, fl / t_add / 1e9,
           dgemm_rate / 1e9, fl / t_add / dgemm_rate, s1);
    free(X);
    free(y);
    free(cnt);
    return 0;
}
