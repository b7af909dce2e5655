/*
 * probe.h - analyses that drive a model (part of libmganalysis).
 *
 * Everything here runs the model in evaluation mode (train = 0: batch-norm
 * running statistics, no dropout or noise), in batches of at most
 * mg_model_max_batch(m) examples (a model with no reserved batch gets
 * mg_model_reserve(m, MG_PROBE_DEFAULT_BATCH) on first use).  The model is
 * borrowed and used as a scratch device: its activations are overwritten,
 * and the analyses that need input gradients run mg_model_backward_input
 * (no parameter gradients) and then mg_model_zero_grad, so the gradient
 * arena is left zeroed.  Do not run a
 * probe while a trainer is in the middle of a step on the same model.
 *
 * "Layer k" is as in mixgeo.h: k = 0 the input, k = L the logits; a state
 * at layer k is a flat row of mg_model_dim(m, k) floats.  Results are in
 * double; caller-provided outputs are OVERWRITTEN; structs named *_result
 * that own arrays are released with their *_free function.
 * Randomness only through the mg_rng the caller passes.
 */
#ifndef MG_PROBE_H
#define MG_PROBE_H

#include "mixgeo.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MG_PROBE_DEFAULT_BATCH 256

/* ---------------------------------------------------------------- plain forward */

/* Forward n rows x (n x dim(from)) from layer `from` in batches; copy the
 * states at layer k (from <= k <= L; n x dim(k)) into states and the logits
 * (n x classes) into logits.  Either output may be NULL. */
mg_status mg_forward_all(mg_model *m, int from, const float *x, int n, int k, float *states,
                         float *logits);

/* Predicted class (argmax of the logits, ties to the lowest index) of n rows
 * at layer `from`; maxprob (n, may be NULL) gets the max softmax. */
mg_status mg_predict(mg_model *m, int from, const float *x, int n, int32_t *pred,
                     double *maxprob);

/* ---------------------------------------------------------------- hidden states */

/* Called with a batch of n examples: states (n x dim(k)), their labels y (n)
 * and logits (n x classes).  The pointers are valid only during the call and
 * the callback must not run the same model.  Return MG_OK to continue; any
 * other status stops the walk and is returned by mg_states_foreach. */
typedef mg_status (*mg_states_fn)(void *user, const float *states, const int32_t *y,
                                  const float *logits, int n);

/* Stream the states at layer k of dataset d through cb in batches of `batch`
 * (0 = the model's max batch).  max_per_class > 0 keeps only the first
 * max_per_class examples of each class in dataset order; 0 = all.  Examples
 * reach cb in dataset order. */
mg_status mg_states_foreach(mg_model *m, const mg_dataset *d, int k, int batch,
                            int max_per_class, mg_states_fn cb, void *user);

/* Per-feature range (lo, hi: dim(k) each) of the states at layer k over d. */
mg_status mg_states_range(mg_model *m, const mg_dataset *d, int k, float *lo, float *hi);

/* ---------------------------------------------------------------- pairs */

/* Draw npairs index pairs (ia[i], ib[i]) from labels y (n, classes):
 * same = 1: ia uniform over examples whose class has >= 2 members, ib
 * uniform over the other members of that class (ib != ia);
 * same = 0: ia uniform over all examples, ib uniform over the examples of
 * other classes.  Use predicted labels for "differently classified points".
 * Errors: MG_ERR_CONFIG when no such pair exists or a label is invalid. */
mg_status mg_draw_pairs(const int32_t *y, int n, int classes, int same, int npairs,
                        mg_rng *rng, int *ia, int *ib);

/* ---------------------------------------------------------------- DeepFool */

typedef struct {
    int layer;        /* space of the attack: 0 = input (default)         */
    double overshoot; /* 0.02                                              */
    int max_iter;     /* 50                                                */
    int batch;        /* examples per batch, 0 = the model's max batch      */
} mg_deepfool_config;
mg_deepfool_config mg_deepfool_config_default(void);

typedef struct {
    double norm;     /* ||(1 + overshoot) r||_2: the perturbation applied     */
    double norm_raw; /* ||r||_2, the estimate of the distance to the boundary */
    int iters;       /* linearisation steps taken                              */
    int converged;   /* 1 if the prediction changed within max_iter steps     */
    int32_t label0;  /* prediction at x                                        */
    int32_t label1;  /* prediction at x + (1 + overshoot) r                    */
} mg_deepfool_result;

/* Multi-class DeepFool (Moosavi-Dezfooli et al. 2016) on the logits, L2, for
 * n rows x (n x dim(layer)); out gets n results, x_adv (n x dim(layer), may
 * be NULL) the final points x + (1 + overshoot) r.  Step i: for every class j != label0 the
 * gradient w_j = grad(z_j - z_label0) comes from one mg_model_backward_input
 * with dlogits = e_j - e_label0 (batched over examples); l = argmin |f_j|/||w_j||,
 * r += (|f_l| + 1e-4) w_l / ||w_l||^2 (the 1e-4 of the reference code), and
 * the next point is x + (1 + overshoot) r.  No clipping to a data range.
 * Rows whose gradients all vanish stop unconverged. */
mg_status mg_deepfool(mg_model *m, const float *x, int n, const mg_deepfool_config *cfg,
                      mg_deepfool_result *out, float *x_adv);

/* ---------------------------------------------------------------- segment crossing */

typedef struct {
    int grid;   /* scan points t = i/grid, i = 0..grid (default 64)  */
    double tol; /* bisection stops when the bracket is <= tol (1e-6) */
    int batch;  /* rows per forward, 0 = the model's max batch         */
} mg_segment_config;
mg_segment_config mg_segment_config_default(void);

typedef struct {
    int found;        /* 1 if the prediction changes somewhere on the grid  */
    double t;         /* crossing point in [0, 1] (midpoint of the final
                         bracket); NaN when not found                        */
    double dist;      /* t * length                                          */
    double length;    /* ||b - a||_2                                          */
    int32_t label_a;  /* prediction at a (t = 0)                               */
    int32_t label_b;  /* prediction at b (t = 1)                               */
    int32_t label_t;  /* prediction just after the crossing                    */
} mg_segment_result;

/* First change of the predicted label along x(t) = a + t (b - a) at layer
 * k (a, b: npairs x dim(k); k = 0 is input space): scan the grid, then
 * bisect the first interval whose right end is predicted differently from a
 * until it is <= tol wide. */
mg_status mg_segment_crossings(mg_model *m, int k, const float *a, const float *b, int npairs,
                               const mg_segment_config *cfg, mg_segment_result *out);

/* ---------------------------------------------------------------- interpolation paths */

typedef struct {
    int layer;    /* k: mix the states at this layer (0 = input mixup)     */
    int n_pairs;  /* pairs per kind (same class, different classes)        */
    int n_lambda; /* grid lambda_l = l/(n_lambda-1), l = 0..n_lambda-1 (21) */
    int batch;    /* 0 = the model's max batch                              */
} mg_interp_config;
mg_interp_config mg_interp_config_default(void);

/* Index 0 = pairs of the same class, 1 = pairs of different classes (by the
 * dataset's labels).  Arrays of n_lambda entries are means over the pairs. */
typedef struct {
    int n_lambda;
    double *lambda;           /* owned, n_lambda                                  */
    int n_pairs[2];
    int *ia[2], *ib[2];       /* owned: the pairs drawn (dataset indices)          */
    double *maxprob[2];       /* owned: mean max softmax at each lambda            */
    double *entropy[2];       /* owned: mean entropy / ln C                        */
    double *loss[2];          /* owned: mean CE against the mixed soft target      */
} mg_interp_result;

/* For pairs (i, j) drawn with rng (mg_draw_pairs on d->y), mix the layer-k
 * states h = lam h_i + (1 - lam) h_j, continue the forward pass from k and
 * record max softmax, normalised entropy and the mixup loss
 * -sum_c t_c log softmax_c with t = lam onehot(y_i) + (1 - lam) onehot(y_j).
 * A kind that cannot be drawn (e.g. no class with two examples) gets
 * n_pairs 0 and NaN means.  On error *out is left empty (nothing to free). */
mg_status mg_interp_paths(mg_model *m, const mg_dataset *d, const mg_interp_config *cfg,
                          mg_rng *rng, mg_interp_result *out);
void mg_interp_result_free(mg_interp_result *r);

/* ---------------------------------------------------------------- off-manifold */

/* Per-feature statistics of a dataset: min, max, mean and population std
 * (dim entries each; any pointer may be NULL). */
void mg_data_stats(const mg_dataset *d, float *lo, float *hi, float *mean, float *std);

typedef struct {
    int n_uniform; /* uniform samples of the data's bounding box (1000)           */
    int n_noise;   /* Gaussian noise images, per-feature mean/std of the data,
                      clipped to the per-feature [min, max] (1000)                 */
    int max_data;  /* data examples scored: the first max_data (0 = all)          */
    int batch;     /* 0 = the model's max batch                                    */
} mg_offmanifold_config;
mg_offmanifold_config mg_offmanifold_config_default(void);

typedef struct {
    int n_data, n_uniform, n_noise;
    double *data_maxprob, *data_entropy;       /* owned, n_data    */
    double *uniform_maxprob, *uniform_entropy; /* owned, n_uniform */
    double *noise_maxprob, *noise_entropy;     /* owned, n_noise   */
    /* AUROC of data (positive) vs the off-manifold set (negative) with score
     * max softmax, and with score 1 - entropy/ln C. */
    double auroc_uniform_maxprob, auroc_uniform_entropy;
    double auroc_noise_maxprob, auroc_noise_entropy;
} mg_offmanifold_result;

mg_status mg_offmanifold(mg_model *m, const mg_dataset *d, const mg_offmanifold_config *cfg,
                         mg_rng *rng, mg_offmanifold_result *out);
void mg_offmanifold_result_free(mg_offmanifold_result *r);

/* ---------------------------------------------------------------- FGSM */

typedef struct {
    const double *eps; /* n_eps step sizes, in the units of the inputs          */
    int n_eps;
    int clip;          /* 1: clip x' to [lo, hi] (default, pixels in [0, 1]);
                          0: no clipping (the authors' convention on
                          standardised inputs)                                   */
    float lo, hi;
    int max_examples;  /* first max_examples of d (0 = all)                      */
    int batch;         /* 0 = the model's max batch                               */
} mg_fgsm_config;
mg_fgsm_config mg_fgsm_config_default(void); /* eps NULL: caller sets eps, n_eps */

/* White-box one-step FGSM: x' = clip(x + eps sign(grad_x CE(f(x), y)), lo, hi)
 * with the gradient taken at x in evaluation mode; acc[e] (n_eps) = accuracy
 * on x' for eps[e] (eps = 0 gives the clean accuracy, clipped).  The CE
 * gradient is scaled per example by 1/(1 - p_y) before the backward pass
 * (same sign, no underflow for confident examples); a zero gradient
 * component leaves that input unchanged (sign 0). */
mg_status mg_fgsm_accuracy(mg_model *m, const mg_dataset *d, const mg_fgsm_config *cfg,
                           double *acc);

/* ---------------------------------------------------------------- 2-D maps */

/* Over a grid of nx x ny points of the 2-D layer k (dim(k) == 2; k = 0 for
 * a 2-D input model): x_i = x0 + i (x1 - x0)/(nx - 1), y_j = y0 +
 * j (y1 - y0)/(ny - 1) (nx, ny >= 2), push each point through forward(from
 * = k).  Outputs are ny x nx, row j = y_j, column i = x_i: cls = predicted
 * class, conf = max softmax (either may be NULL); box = {x0, x1, y0, y1}. */
mg_status mg_map2d(mg_model *m, int k, const double box[4], int nx, int ny, int32_t *cls,
                   float *conf);

/* n inputs drawn uniformly from the box [lo_f, hi_f] per input feature
 * (dim(0) each), written to x (n x dim(0), may be NULL), and their states at
 * layer k into states (n x dim(k), may be NULL). */
mg_status mg_uniform_states(mg_model *m, const float *lo, const float *hi, int n, int k,
                            mg_rng *rng, float *x, float *states);

#ifdef __cplusplus
}
#endif
#endif /* MG_PROBE_H */
