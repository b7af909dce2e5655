/*
 * theory.h - Theorem 1 and Corollary 1 of Manifold Mixup, checked numerically
 * (part of libmganalysis).  PAPER.md section 2.
 *
 * Two halves:
 *  1. On learned states h (n x p, from a trained model): the least-squares
 *     affine fit of the one-hot labels on [h 1] (the Theorem-1 gap of given
 *     representations), the mixup error of that affine map, the affine
 *     dimension of the class means, and the readout leakage of within-class
 *     deviations.
 *  2. Idealised, no network: the proof construction A^T H + b 1^T = I_d and,
 *     below dim = d-1, the least achievable residual; and the minimisation of
 *     J(P_D) over free representations h_1..h_n and an affine (or
 *     softmax-affine) readout, by Adam, for a range of dimensions.
 *
 * Conventions: row-major arrays, double arithmetic, caller-allocated
 * outputs that are OVERWRITTEN unless said otherwise.  An affine map of
 * p-dim states to d outputs is stored as B ((p+1) x d, row-major): rows
 * 0..p-1 hold A (p x d), row p holds b, and f(h) = A^T h + b = B^T [h; 1].
 * Labels are int32 in 0..d-1 (out of range: MG_ERR_CONFIG).
 */
#ifndef MG_THEORY_H
#define MG_THEORY_H

#include "mixgeo.h"
#include "spectra.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ================================================================ learned states */

/* Corollary 1: predicted per-class (affine) dimension max(0, dim - d + 1).
 * Theorem 1 only applies when dim >= d - 1 (mg_theorem1_applies); below that
 * J > 0 and the prediction 0 is the collapse of the best compromise, not a
 * consequence of the theorem. */
int mg_corollary1_dim(int dim, int d);
int mg_theorem1_applies(int dim, int d);

typedef struct {
    int n, p, d;
    int underdetermined; /* n < p + 1: fewer examples than unknowns per
                            output; [h 1] of full row rank then fits every
                            label exactly (resid 0 says nothing about
                            Theorem 1: any n points in general position
                            can be fitted)                                  */
    int rank;            /* effective rank of [h 1] used by dgelsd             */
    double rcond;        /* the rcond passed to dgelsd                         */
    double resid;        /* ||[h 1] B - Y||_F                                  */
    double resid_rel;    /* resid / ||Y||_F  (||Y||_F = sqrt(n))               */
} mg_affine_fit_info;

/* Least-squares fit of one-hot labels Y (n x d) on [h 1] (n x (p+1)):
 * B = argmin ||[h 1] B - Y||_F (minimum norm), by LAPACK dgelsd.
 * rcond: singular values of [h 1] below rcond * s_max are treated as 0;
 * rcond < 0 means double machine precision (LAPACK's convention).  For
 * float32 states a sensible choice is max(n, p+1) * FLT_EPSILON.
 * When n >= p + 1, to keep memory O(p^2) for large n, [h 1 Y] is first
 * reduced by a streaming blocked QR (dgeqrf, 512-row blocks) to its
 * (p+1+d)-row triangle; dgelsd then solves the same problem on that factor
 * (same singular values, same solution).  When n < p + 1 (underdetermined,
 * e.g. the wide states of a convolutional stage), the QR of the transpose
 * [h 1]^T = Q T ((p+1) x n, T n x n) is used instead: [h 1] = T^T Q^T, so
 * dgelsd on T^T (n x n, the same singular values) gives Z and the
 * minimum-norm B = Q Z (dormqr): memory O(n p), time O(n^2 p).  The
 * residual is then evaluated directly on h, in double.
 * B: (p+1) x d, overwritten.  info may be NULL.
 * Errors: MG_ERR_CONFIG (sizes, labels), MG_ERR_NOMEM, MG_ERR_NUMERIC. */
mg_status mg_affine_fit_f32(const float *h, int n, int p, const int32_t *y, int d, double rcond,
                            double *B, mg_affine_fit_info *info);
mg_status mg_affine_fit_f64(const double *h, int n, int p, const int32_t *y, int d, double rcond,
                            double *B, mg_affine_fit_info *info);

/* Mixup squared error of the affine map B on random pairs:
 *   mean over pairs and lambdas of ||f(lam h_i + (1-lam) h_j) - (lam y_i + (1-lam) y_j)||^2
 * with the squared norm summed over the d outputs (not averaged).  n_pairs
 * pairs (i, j), i != j, uniform, drawn from rng (n >= 2); for each pair every
 * lambda of the grid (n_lambda values in [0, 1]) is used.  f is evaluated on
 * the mixed state itself (no use of affinity), so this checks the identity
 * f(Mix(h)) = Mix(f(h)) too.  per_lambda: NULL or n_lambda means over pairs.
 * Returns the overall mean in *mean. */
mg_status mg_affine_mixup_error_f32(const float *h, int n, int p, const int32_t *y, int d,
                                    const double *B, const double *lambdas, int n_lambda,
                                    int n_pairs, mg_rng *rng, double *per_lambda, double *mean);
mg_status mg_affine_mixup_error_f64(const double *h, int n, int p, const int32_t *y, int d,
                                    const double *B, const double *lambdas, int n_lambda,
                                    int n_pairs, mg_rng *rng, double *per_lambda, double *mean);

/* Affine dimension of m points (m x p): the spectrum of the points minus
 * their centroid (s: NULL or min(m, p) values) and its summary, whose
 * rank_eps / rank_1e2 / rank_1e3 are the affine dimension under the usual
 * tolerances (s_1 max(m, p) FLT_EPSILON, and relative 1e-2, 1e-3). */
mg_status mg_affine_dim(const double *pts, int m, int p, double *s, mg_spectrum_summary *out);
/* The same for the class means of a spectra result, skipping empty classes. */
mg_status mg_class_means_affine_dim(const mg_spectra_result *r, double *s,
                                    mg_spectrum_summary *out);

/* Readout leakage of within-class deviations through a linear map W (d x p,
 * row-major; an affine map's bias cancels in differences):
 *   sum_c sum_{i in c} ||W (h_i - mu_c)||^2 / sum_c sum_{i in c} ||h_i - mu_c||^2
 * computed from the factors: sum_c ||W R_c^T||_F^2 / sum_c ||R_c||_F^2
 * (qr-stream results), or from the kept rows themselves, centred in double
 * (rows-mode results).
 * 0 when W kills every within-class direction (Corollary 1's A^T e_i = 0).
 * per_class: NULL or classes ratios (NaN for a class without spread).
 * *out is NaN when no class has spread. */
mg_status mg_readout_leakage(const mg_spectra_result *r, const double *W, int d, double *per_class,
                             double *out);

/* ================================================================ idealised theory */

/* The proof construction for d >= 2 classes in dimension dim >= 1:
 * A, H (dim x d, row-major) and b (d) with
 *   A^T H + b 1^T = I_d                          when dim >= d - 1,
 * and the best achievable approximation when dim < d - 1.
 * Columns of H are the vertices of a regular simplex centred at 0: the first
 * min(dim, d-1) columns of the Helmert basis V (d x (d-1), orthonormal,
 * V^T 1 = 0) give H = A = [V_k^T; 0], b = 1/d, so A^T H + b 1^T =
 * V_k V_k^T + 11^T/d, which is I_d for k = d-1.  Any of A, H, b may be NULL.
 * res_max / res_fro (either may be NULL): ||A^T H + b 1^T - I||_max and _F,
 * computed from the built matrices.  Errors: MG_ERR_CONFIG, MG_ERR_NOMEM. */
mg_status mg_theory_construct(int d, int dim, double *A, double *H, double *b, double *res_max,
                              double *res_fro);
/* Closed form of min over A, H (dim x d), b of ||A^T H + b 1^T - I_d||_F:
 * sqrt(max(0, d - 1 - dim)).  Reason: for fixed K = A^T H (rank <= dim) the
 * best b is (I - K) 1 / d, leaving ||(I - K) C||_F with C = I - 11^T/d;
 * K C has rank <= dim, C has d-1 singular values 1, so the error is at least
 * that of C's best rank-dim approximation (Eckart-Young), and the Helmert
 * construction attains it. */
double mg_theory_best_residual(int d, int dim);
/* The same bound computed numerically: the singular values of C by dgesdd,
 * sqrt(sum of the squares beyond the first dim). */
mg_status mg_theory_best_residual_svd(int d, int dim, double *out);

typedef enum {
    MG_THEORY_SQUARED, /* ||f(h) - t||^2 summed over outputs; f affine; exact lambda integral */
    MG_THEORY_KL       /* KL(t || softmax(f(h))); lambda by a Beta-weighted midpoint grid  */
} mg_theory_loss;
const char *mg_theory_loss_name(mg_theory_loss k);

typedef struct {
    int d;                /* classes, >= 2                                        */
    int n;                /* points, n / d per class (n a multiple of d, >= 2d)   */
    int dim_min, dim_max; /* the dimensions to run, 1 <= dim_min <= dim_max    */
    double alpha;         /* lambda ~ Beta(alpha, alpha), alpha > 0               */
    mg_theory_loss loss;
    int iters;           /* Adam steps per dimension                             */
    double lr, lr_final; /* learning rate, decayed geometrically lr -> lr_final */
    int quad_points;     /* KL only: lambda grid size                             */
    double rank_rtol;    /* rank tolerance, relative to the largest singular value
                            of all optimal h centred on their overall mean (the
                            pooled total spectrum), not to each class's own s_1:
                            a collapsed class then counts as rank 0 instead of
                            its rounding noise counting as full rank            */
    uint64_t seed;       /* init of dimension dim: mg_rng_seed3(seed, MG_STREAM_ANALYSIS, dim) */
} mg_theory_config;

/* d 4, n 40, dims 1..6, alpha 2 (the paper's Manifold Mixup alpha),
 * squared loss, 8000 iterations, lr 0.1 -> 1e-6, 16 quadrature points,
 * rank_rtol 1e-3, seed 1.  With these, d = 10, n = 200, dims 1..14 take
 * about 3 s on one core and reach J_rel < 1e-14 for dim >= d-1 (seeds
 * 1-4, d = 2..10 checked). */
mg_theory_config mg_theory_config_default(void);
/* Every problem, one per line naming the field, into msg; MG_OK or MG_ERR_CONFIG. */
mg_status mg_theory_config_check(const mg_theory_config *c, char *msg, size_t len);

/* Symmetric Beta(alpha, alpha) moments used by the squared loss:
 * E[lambda^2] = E[(1-lambda)^2] = (alpha+1) / (2 (2 alpha + 1)),
 * E[lambda (1-lambda)] = alpha / (2 (2 alpha + 1)). */
void mg_beta_sym_moments(double alpha, double *m2, double *m11);

/* Labels of the idealised problem: y_i = i mod d. */
static inline int mg_theory_label(int i, int d)
{
    return i % d;
}

/* The objective J of parameters h (n x dim), A (dim x d), b (d):
 *   J = 1/(n(n-1)) sum_{i != j} E_lambda loss(f(lam h_i + (1-lam) h_j), lam y_i + (1-lam) y_j).
 * Squared: with r_i = f(h_i) - y_i and f affine, the lambda integral is exact:
 *   J = 2 m2 Q / n + 2 m11 (|S|^2 - Q) / (n(n-1)),  Q = sum |r_i|^2, S = sum r_i.
 * KL: f = softmax(A^T h + b); mixed logits are the mix of the logits; lambda
 * on quad_points midpoints (g + 1/2) / G with weights proportional to the
 * Beta density, normalised; O(n^2 G d) per call.  Unlike the squared loss it
 * does NOT reach 0 for dim >= d-1: along a pair the logit difference is
 * affine in lambda while the target's log-odds log(lam / (1-lam)) is not, so
 * J_KL is bounded below by a positive constant, even in the limit of
 * infinite logits (measured with alpha 2: J_rel ~ 0.063 for d = 2 and
 * ~ 0.105 for d = 3, the same for every dim >= d-1).
 * *J receives the value; the gradients (each may be NULL) are OVERWRITTEN.
 * Errors: MG_ERR_NOMEM. */
mg_status mg_theory_objective(const mg_theory_config *c, int dim, const double *h, const double *A,
                              const double *b, double *J, double *gh, double *gA, double *gb);

typedef struct {
    int dim, d, n;
    mg_theory_loss loss;
    double J;             /* at the end of the optimisation                          */
    double J_const;       /* J of the best constant readout (A = 0): the scale        */
    double J_rel;         /* J / J_const.  Squared loss: 0 for dim >= d-1, else at the
                             optimum exactly (d-1-dim)/(d-1) = bound_fro^2/(d-1)
                             (the best affine rank-dim fit of the simplex of
                             one-hot targets, PCA of d-1 equal values)            */
    double fit_resid_rel; /* mg_affine_fit_f64 of the labels on the optimal h       */
    int rank_max;         /* max over classes of the centred numerical rank of h
                             (tolerance: see rank_rtol).  Corollary 1 bounds it by
                             rank_pred; Adam usually ends exactly there, but can
                             end at a readout A of rank d (A 1 != 0, the bias
                             then shared with A) whose null space is one smaller,
                             giving dim - d (seen for d = 2)                      */
    double rank_mean;     /* mean over classes                                         */
    int rank_pred;        /* mg_corollary1_dim(dim, d)                                 */
    double construct_max; /* ||A^T H + b 1^T - I||_max of the construction          */
    double construct_fro; /* ||A^T H + b 1^T - I||_F of the construction            */
    double bound_fro;     /* mg_theory_best_residual(d, dim)                           */
    int iters;
    double seconds;
} mg_theory_result;

/* Minimise J for one dimension: init h ~ N(0, 1), A ~ N(0, 1/dim), b = 0 from
 * mg_rng_seed3(c->seed, MG_STREAM_ANALYSIS, dim), then c->iters Adam steps
 * (beta 0.9 / 0.999, eps 1e-12) on all of h, A, b.  h_out (n x dim), A_out
 * (dim x d), b_out (d): NULL or receive the final parameters. */
mg_status mg_theory_optimize(const mg_theory_config *c, int dim, mg_theory_result *out,
                             double *h_out, double *A_out, double *b_out);
/* mg_theory_optimize for dim_min..dim_max: out has dim_max - dim_min + 1 entries. */
mg_status mg_theory_run(const mg_theory_config *c, mg_theory_result *out);

/* TSV in the CLI's format: the provenance line if not NULL (e.g. the CLI's
 * "# mixgeo ... seed=.. git=.."), a "# theory: ..." line with the
 * configuration, "# columns: dim d n ..." (space-separated names), then one
 * tab-separated line per result, every field a number (loss: 0 squared,
 * 1 KL), "%.9g", NaN as "nan" (the C locale is assumed: the library never
 * calls setlocale).  Errors: MG_ERR_IO. */
mg_status mg_theory_write_tsv(FILE *f, const char *provenance, const mg_theory_config *c,
                              const mg_theory_result *r, int count);

#ifdef __cplusplus
}
#endif
#endif /* MG_THEORY_H */
