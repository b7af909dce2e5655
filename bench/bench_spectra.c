/* bench_spectra.c - speed of the streaming per-class spectra, fast kernel
 * against the reference kernel (mg_spectra_acc_use_reference).
 *
 * The target: per-class spectra of 60,000 states x 512 dims in 10
 * classes at least 1.5x faster than numpy's exact per-class SVD on the same
 * 2 threads (that ratio is printed by bench_python.py, which runs numpy; this
 * program gives the C-side figures).  The states are synthetic float32:
 * class mean + a rank-48 signal with decaying scales + small isotropic
 * noise, labels drawn at random (so every batch mixes classes), fed in
 * batches of 500 rows like a forward pass would.
 *
 * Prints, for each kernel, the median of 3 runs (interleaved) of accumulate
 * + finish (CLOCK_MONOTONIC), split into add_s and finish_s; the machine's
 * dgemm rate measured in the same run (2048^3, median of 3); the rate in
 * "QR-equivalent" flops (2 n_c p^2 - 2/3 p^3 per class: one Householder QR
 * of each class's whole matrix, what an exact per-class SVD does first) and
 * its fraction of the dgemm rate; the speed-up reference / fast and the
 * largest |s_fast - s_ref| / s_1 over every spectrum.
 *
 * Usage: bench_spectra [n [p [classes [block_rows]]]]   (defaults 60000 512 10 0)
 * Threads: OPENBLAS_NUM_THREADS if set, else mg_set_threads(2).
 */
#include <cblas.h>
#include <math.h>
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

/* The flops of one Householder QR of every class's whole n_c x p matrix
 * (what an exact per-class SVD such as numpy's dgesdd does first): the
 * algorithm-independent yardstick of the rate (the SVDs of the p x p
 * triangles and the pooled work are not counted). */
static double qr_equiv_flops(const int64_t *cnt, int classes, int p)
{
    double fl = 0;
    for (int c = 0; c < classes; c++) fl += qr_flops((double)cnt[c], p);
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

    /* ---- spectra: the fast and the reference kernels, interleaved */
    const int batch = 500;
    double tt[2][3], ta[2][3], tf[2][3], gap = 0;
    mg_spectra_result *keep[2] = {NULL, NULL};
    for (int r = 0; r < 3; r++)
        for (int k = 0; k < 2; k++) { /* k = 0 fast, 1 reference */
            mg_spectra_acc *acc;
            mg_spectra_result *res;
            double t0 = bench_now();
            if (mg_spectra_acc_create(classes, p, block, &acc) != MG_OK ||
                mg_spectra_acc_use_reference(acc, k) != MG_OK) {
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
            mg_spectra_acc_free(acc);
            tt[k][r] = t2 - t0;
            ta[k][r] = t1 - t0;
            tf[k][r] = t2 - t1;
            if (r == 0)
                keep[k] = res;
            else
                mg_spectra_result_free(res);
        }
    /* accuracy: largest |s_fast - s_ref| / s_1 over every spectrum */
    for (int c = 0; c < classes + 2; c++) {
        const mg_spectra_result *a = keep[0], *b = keep[1];
        int ns = c < classes ? a->cls[c].ns : a->ns_within;
        const double *sa[2], *sb[2];
        if (c < classes) {
            sa[0] = a->cls[c].s_centred, sb[0] = b->cls[c].s_centred;
            sa[1] = a->cls[c].s_uncentred, sb[1] = b->cls[c].s_uncentred;
        } else {
            sa[0] = sa[1] = c == classes ? a->s_within : a->s_total;
            sb[0] = sb[1] = c == classes ? b->s_within : b->s_total;
        }
        for (int t = 0; t < 2; t++)
            for (int k = 0; k < ns; k++) {
                double g = fabs(sa[t][k] - sb[t][k]) / sb[t][0];
                if (g > gap) gap = g;
            }
    }
    double s1 = keep[0]->cls[0].ns > 0 ? keep[0]->cls[0].s_centred[0] : 0;
    mg_spectra_result_free(keep[0]);
    mg_spectra_result_free(keep[1]);
    double fl = qr_equiv_flops(cnt, classes, p), med[2];
    printf("# columns: n p classes block threads kernel spectra_s add_s finish_s qr_equiv_gflop "
           "qr_equiv_gflops dgemm_gflops fraction_of_dgemm s1_class0\n");
    for (int k = 0; k < 2; k++) {
        double t_med = bench_median(tt[k], 3), t_add = bench_median(ta[k], 3);
        double t_fin = bench_median(tf[k], 3);
        med[k] = t_med;
        printf("bench_spectra\t%d\t%d\t%d\t%d\t%d\t%s\t%.4f\t%.4f\t%.4f\t%.3f\t%.2f\t%.2f\t%.3f\t%."
               "6g\n",
               n, p, classes, block_used, threads, k ? "reference" : "fast", t_med, t_add, t_fin,
               fl / 1e9, fl / t_med / 1e9, dgemm_rate / 1e9, fl / t_med / dgemm_rate, s1);
    }
    printf("spectra: fast %.3f s, reference %.3f s (medians of 3): speed-up %.2fx; fast at %.2f of "
           "the dgemm rate; max |s_fast - s_ref| / s_1 %.2g\n",
           med[0], med[1], med[1] / med[0], fl / med[0] / dgemm_rate, gap);
    free(X);
    free(y);
    free(cnt);
    return 0;
}
