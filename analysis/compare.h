/*
 * compare.h - comparing representations (part of libmganalysis): linear and
 * debiased CKA between two sets of states of the same examples, and the
 * TwoNN intrinsic dimension of a set of states.
 *
 * CKA (Kornblith et al. 2019), linear kernel, features centred on their
 * means (X: n x p, Y: n x q, the same examples in the same order; p and q may
 * differ):
 *   linear    CKA = ||Xc^T Yc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F),
 *   debiased  the same ratio with each ||A^T B||_F^2 replaced by the unbiased
 *             HSIC estimator (Song et al. 2012) in its feature-space form
 *             (Nguyen, Raghu & Kornblith 2021; Kornblith's reference code):
 *               u(A, B) = ||A^T B||_F^2 - n/(n-2) sum_i ||a_i||^2 ||b_i||^2
 *                         + ||A||_F^2 ||B||_F^2 / ((n-1)(n-2)),
 *             CKA_d = u(Xc, Yc) / sqrt(u(Xc, Xc) u(Yc, Yc))  (n >= 4).
 * Both are computed without an n x n Gram matrix when the features are few
 * (p + q <= n: accumulators of (p+q)^2 doubles, the rows streamed in blocks,
 * in column blocks over several passes when those exceed the memory budget)
 * and from the n x n Gram matrices of the centred rows when there are fewer
 * examples than features (the same quantities: ||A^T B||_F^2 = tr(A A^T B
 * B^T)).  Arithmetic in double.
 *
 * TwoNN (Facco, d'Errico, Rodriguez & Laio 2017): for every point the ratio
 * mu = r2 / r1 of the distances to its second and first nearest neighbours
 * (Euclidean, exact: candidates from a GEMM of the rows, then the distances
 * recomputed in double from the differences); points with r1 = 0 (an exact
 * duplicate) are dropped and counted.  With the N ratios sorted ascending,
 * the empirical CDF is F(mu_(i)) = i / N for i = 1..N; the largest
 * `discard` fraction of them is dropped (always at least mu_(N), where
 * -log(1 - F) is infinite), and d is the slope of the least-squares line
 * through the origin of -log(1 - F(mu_(i))) against log(mu_(i)).  (The
 * convention matters: an implementation that uses i/N and keeps mu_(N), or
 * (i-1)/N, shifts the estimate.)
 */
#ifndef MG_COMPARE_H
#define MG_COMPARE_H

#include "analyze.h"
#include "metrics.h"
#include "mixgeo.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int64_t n;
    int p, q;
    double xy, xx, yy;        /* ||Xc^T Yc||_F^2, ||Xc^T Xc||_F^2, ||Yc^T Yc||_F^2      */
    double uxy, uxx, uyy;     /* the unbiased estimators u(., .)                      */
    double cka;               /* linear CKA (NaN when a side has no spread)           */
    double cka_debiased;      /* debiased CKA (NaN when n < 4 or a side has no spread) */
    int gram;                 /* 1: computed from n x n Gram matrices                  */
    int passes;               /* passes over the rows (feature form)                   */
} mg_cka_result;

/* Default memory budget of the CKA accumulators. */
#define MG_CKA_DEFAULT_BUDGET ((size_t)256 << 20)

/* CKA of rows streamed from two sources: rows idx of X (p features) and of Y
 * (q features) by read_x / read_y (analyze.h's mg_rows_fn; called with
 * increasing index lists, possibly several times over), n >= 2 examples.
 * budget: bytes for the accumulators (0 = MG_CKA_DEFAULT_BUDGET).
 * Errors: MG_ERR_CONFIG (sizes), MG_ERR_FORMAT (a non-finite value, with its
 * row), MG_ERR_NOMEM (the budget cannot hold one column block or the Gram
 * matrices), the readers' errors. */
mg_status mg_cka_stream(mg_rows_fn read_x, void *ux, int p, mg_rows_fn read_y, void *uy, int q,
                        int64_t n, size_t budget, mg_cka_result *out);
/* The same for two in-memory row-major matrices X (n x p) and Y (n x q). */
mg_status mg_cka_f32(const float *X, int p, const float *Y, int q, int64_t n, size_t budget,
                     mg_cka_result *out);

/* States of several layers of one model for the n examples of d (eval mode,
 * the model's batches): states[i] (malloc'ed, n x mg_model_dim(layers[i]),
 * caller frees each) for layers[i] in 0..L.  One forward pass. */
mg_status mg_layer_states(mg_model *m, const mg_dataset *d, const int *layers, int nl,
                          float **states);

/* The files of a comparison in dir: cka.tsv (one row per pair of layers:
 * layer_a layer_b n p q cka cka_debiased), cka.gp (heat maps of both CKAs
 * when there is more than one pair, else a bar of the two values) and
 * summary.json ({"cka": {"pairs": [...], ...}} plus the object head, which is
 * taken over: NULL for none).  r is na x nb row-major; la / lb name the
 * layers (-1: external states).  Written atomically. */
mg_status mg_cka_write(const char *dir, const char *provenance, const char *label,
                       const int *la, int na, const int *lb, int nb, const mg_cka_result *r,
                       void *head);

typedef struct {
    int n;             /* points given                                          */
    int n_duplicate;   /* dropped: r1 = 0                                       */
    int n_fit;         /* ratios in the fit                                      */
    double discard;    /* fraction of the largest ratios dropped                 */
    double d;          /* the estimate (NaN with fewer than 2 ratios to fit)     */
} mg_twonn_result;

/* TwoNN of n points X (n x p, row-major, float32), discard in [0, 1).
 * mu: NULL or n entries receiving each point's r2/r1 (NaN for a dropped
 * duplicate).  Memory O(block n + n); time O(n^2 p).
 * Errors: MG_ERR_CONFIG (n < 3, p < 1, discard outside [0, 1)),
 * MG_ERR_FORMAT (a non-finite value), MG_ERR_NOMEM. */
mg_status mg_twonn_f32(const float *X, int n, int p, double discard, mg_twonn_result *out,
                       double *mu);
/* The fit alone on given ratios mu (n entries, NaN ones skipped; mu is not
 * modified): d as above. */
mg_status mg_twonn_fit(const double *mu, int n, double discard, mg_twonn_result *out);

/* Adaptive (equal-mass) ECE: the examples sorted by confidence (ties by
 * index), bin b of B holding ranks floor(b n / B) .. floor((b+1) n / B) - 1
 * (so bins differ in size by at most one); ECE = sum_b |B_b|/n |acc_b -
 * conf_b|.  conf (n, max softmax), correct (n, 0/1).  rel: NULL or B bins
 * (lo/hi = the smallest and largest confidence in the bin).
 * Errors: MG_ERR_CONFIG (n < 1, bins < 1), MG_ERR_NOMEM. */
mg_status mg_adaptive_ece(const double *conf, const unsigned char *correct, int n, int bins,
                          double *ece, double *mce, mg_reliability_bin *rel);

#ifdef __cplusplus
}
#endif
#endif /* MG_COMPARE_H */
