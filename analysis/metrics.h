/*
 * metrics.h - model-free metrics of predictions and representations
 * (part of libmganalysis).
 *
 * Pure functions of arrays: calibration (ECE, MCE, overconfidence, NLL,
 * Brier, reliability diagram), confidence statistics and AUROC, margins
 * (logit margin and the exact penultimate-layer margin), per-class quantiles
 * and histograms, and neural collapse NC1-NC4 (Papyan, Han, Donoho 2020).
 *
 * Conventions
 *  - Arrays are row-major; "n x C" means n rows of C entries.  Inputs are
 *    read only; outputs are caller-allocated and OVERWRITTEN (nothing here
 *    returns memory the caller has to free).
 *  - All arithmetic is in double, whatever the input type.
 *  - Labels are int32 in 0..classes-1.  A label outside that range or a
 *    non-finite probability is a runtime error (MG_ERR_CONFIG / MG_ERR_NUMERIC
 *    with a detail naming the example), not an assert, because such arrays
 *    come from files and models.
 *  - argmax ties go to the lowest index (as numpy.argmax).
 */
#ifndef MG_METRICS_H
#define MG_METRICS_H

#include "mixgeo.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- calibration */

#define MG_ECE_BINS_DEFAULT 15
/* NLL floors the probability of the true class at this value: an example
 * with p_y < 1e-12 contributes -log(1e-12) = 27.63 (counted in nll_floored). */
#define MG_NLL_PROB_FLOOR 1e-12

/* One bin of a reliability diagram.  Bin b of B covers confidences in
 * (b/B, (b+1)/B]; a confidence of exactly 0 goes to bin 0. */
typedef struct {
    double lo, hi;  /* edges b/B and (b+1)/B                           */
    int64_t count;  /* examples whose max probability lies in the bin  */
    double conf;    /* their mean confidence (NaN when count == 0)     */
    double acc;     /* their accuracy (NaN when count == 0)            */
} mg_reliability_bin;

typedef struct {
    int n, classes, bins;
    double accuracy;      /* argmax p == y                                      */
    double mean_conf;     /* mean of max_j p_j                                  */
    double ece;           /* sum_b |B_b|/n |acc_b - conf_b|                      */
    double mce;           /* max over non-empty bins of |acc_b - conf_b|         */
    double oe;            /* sum_b |B_b|/n conf_b max(conf_b - acc_b, 0)         */
    double nll;           /* mean -log max(p_y, MG_NLL_PROB_FLOOR)               */
    double brier;         /* mean over examples of sum_j (p_j - onehot_j)^2      */
    int64_t nll_floored;  /* examples whose p_y was below the floor              */
} mg_calibration;

/* Calibration of probabilities p (n x classes, rows expected to sum to 1;
 * they are used as given, not renormalised) against labels y (n).
 * bins >= 1 equal-width confidence bins (MG_ECE_BINS_DEFAULT = 15).
 * rel: NULL or an array of `bins` entries receiving the reliability diagram.
 * Errors: MG_ERR_CONFIG (n < 1, classes < 2, bins < 1, bad label),
 * MG_ERR_NUMERIC (non-finite probability). */
mg_status mg_calibration_f32(const float *p, int n, int classes, const int32_t *y, int bins,
                             mg_calibration *out, mg_reliability_bin *rel);
mg_status mg_calibration_f64(const double *p, int n, int classes, const int32_t *y, int bins,
                             mg_calibration *out, mg_reliability_bin *rel);

/* Row-wise softmax of float logits (n x classes) into double p (n x classes),
 * computed in double with the max subtracted. */
void mg_softmax_f64(const float *logits, int n, int classes, double *p);

/* ---------------------------------------------------------------- confidence */

/* Per example: maxprob[i] = max_j p_ij, entropy[i] = H(p_i) / ln(classes)
 * with H = -sum p ln p (0 ln 0 = 0), so entropy is in [0, 1] for a
 * probability vector.  Either output may be NULL.  classes >= 2. */
void mg_confidence_f32(const float *p, int n, int classes, double *maxprob, double *entropy);
void mg_confidence_f64(const double *p, int n, int classes, double *maxprob, double *entropy);

/* Area under the ROC curve of a score that should be larger on positives
 * (e.g. max softmax, data = positive, noise = negative):
 * P(s_pos > s_neg) + 1/2 P(s_pos == s_neg), by sorting (O(N log N)).
 * 1 = perfect separation, 0 = reversed, 0.5 = all tied.
 * Errors: MG_ERR_CONFIG (npos or nneg < 1), MG_ERR_NUMERIC (a NaN score),
 * MG_ERR_NOMEM. */
mg_status mg_auroc(const double *pos, int npos, const double *neg, int nneg, double *out);

/* ---------------------------------------------------------------- margins */

/* Logit margin z_y - max_{j != y} z_j per example (negative when
 * misclassified).  z: n x classes, out: n. Labels must be valid (asserted). */
void mg_logit_margins(const float *z, int n, int classes, const int32_t *y, double *out);

/* Exact margin at the penultimate layer for a last dense layer z = W h + b:
 * out[i] = min_{j != y} (z_y - z_j) / ||w_y - w_j||, the signed Euclidean
 * distance of h_i to the nearest decision boundary of its true class
 * (negative when misclassified).  The logits are recomputed in double from
 * h (n x p), W (classes x p) and b (classes; NULL = zero bias).  A pair with
 * w_y == w_j has a boundary only if z_y == z_j: such a pair contributes
 * +inf when z_y > z_j, -inf when z_y < z_j and 0 when equal.
 * Errors: MG_ERR_CONFIG (bad label), MG_ERR_NOMEM. */
mg_status mg_penultimate_margins(const float *h, int n, int p, const float *W, const float *b,
                                 int classes, const int32_t *y, double *out);

/* The default quantile levels for margin summaries: 0 .05 .25 .5 .75 .95 1. */
#define MG_N_QUANTILE_LEVELS 7
extern const double mg_quantile_levels_default[MG_N_QUANTILE_LEVELS];

/* Per-class quantiles of values v (n) grouped by y (n; NULL = one group,
 * then classes must be 1): out (classes x nq) gets, for each class and level
 * q in [0, 1], the linearly interpolated quantile (numpy's default method:
 * position q (m-1) in the sorted values).  A class without examples gets NaN.
 * +-inf values take part in the sort.  Errors: MG_ERR_NUMERIC (NaN value),
 * MG_ERR_CONFIG (bad label or level), MG_ERR_NOMEM. */
mg_status mg_class_quantiles(const double *v, const int32_t *y, int n, int classes,
                             const double *levels, int nq, double *out);

/* Per-class histograms of v with `bins` equal-width bins over a common range
 * [*lo, *hi] = [min, max] of the finite values (widened by 0.5 each side when
 * min == max; the last bin includes hi, as numpy.histogram).  counts is
 * classes x bins (y NULL: one group, classes 1).  Non-finite values are not
 * counted; their number goes to *n_nonfinite if non-NULL.  With no finite
 * value, lo = hi = NaN and all counts are 0.  Errors: MG_ERR_CONFIG. */
mg_status mg_class_histograms(const double *v, const int32_t *y, int n, int classes, int bins,
                              double *lo, double *hi, int64_t *counts, int64_t *n_nonfinite);

/* ---------------------------------------------------------------- neural collapse */

/*
 * Neural collapse of penultimate features H (n x p, float) with labels y and
 * the last dense layer W (C x p), after Papyan, Han & Donoho (PNAS 2020).
 * Normalisation used here (every class must have at least one example):
 *   mu_c = class mean, mu_G = mean of all n examples (not of the class means),
 *   M    = C x p matrix of rows mu_c - mu_G,
 *   S_W  = (1/n) sum_i (h_i - mu_{y_i})(h_i - mu_{y_i})^T      (divide by n),
 *   S_B  = (1/C) sum_c (mu_c - mu_G)(mu_c - mu_G)^T = M^T M / C (divide by C),
 *   NC1  = Tr(S_W S_B^+) / C.
 * S_B^+ comes from the SVD of M (LAPACKE_dgesdd): S_B = V diag(s^2/C) V^T;
 * eigenvalues s_k^2/C <= 1e-10 * max are treated as zero (relative cut on the
 * eigenvalues of S_B, i.e. singular values of M below 1e-5 s_1).  Then
 * Tr(S_W S_B^+) = (1/n) sum_i sum_k ((h_i - mu_{y_i}) . v_k)^2 / lambda_k,
 * computed in blocks: memory O(C p + block p), never a p x p matrix.
 *   NC2 equinorm     = std/mean over c of ||mu_c - mu_G|| (population std,
 *                      divide by C), and the same for ||w_c||;
 *   NC2 equiangular  = mean over ordered pairs c != c' of
 *                      |cos(mu_c - mu_G, mu_c' - mu_G) + 1/(C-1)|, and the
 *                      same for the rows w_c (uncentred); max = the largest term;
 *   NC3 self-duality = || W/||W||_F - M/||M||_F ||_F^2 (in [0, 4]);
 *   NC4              = fraction of examples whose nearest class mean
 *                      (Euclidean, ties to the lowest class) equals the argmax
 *                      of the given logits (NaN when logits is NULL).
 */
typedef struct {
    int n, p, classes;
    int sb_rank;               /* eigenvalues of S_B kept in the pseudo-inverse */
    double tr_sw, tr_sb;       /* traces of S_W and S_B                         */
    double nc1;                /* Tr(S_W S_B^+) / C                             */
    double equinorm_means;     /* std/mean of ||mu_c - mu_G||                    */
    double equinorm_w;         /* std/mean of ||w_c||                            */
    double equiangle_means;    /* mean |cos + 1/(C-1)|, centred means            */
    double equiangle_w;        /* the same for the classifier rows               */
    double equiangle_means_max, equiangle_w_max;
    double nc3;                /* self-duality distance                          */
    double nc4;                /* nearest-class-centre agreement with argmax     */
    double ncc_accuracy;       /* nearest-class-centre prediction == label       */
} mg_collapse;

/* h: n x p, y: n, W: classes x p, logits: n x classes or NULL.
 * Errors: MG_ERR_CONFIG (sizes, bad label, an empty class), MG_ERR_NUMERIC
 * (non-finite feature or LAPACK failure), MG_ERR_NOMEM. */
mg_status mg_neural_collapse(const float *h, int n, int p, const int32_t *y, int classes,
                             const float *W, const float *logits, mg_collapse *out);

#ifdef __cplusplus
}
#endif
#endif /* MG_METRICS_H */
