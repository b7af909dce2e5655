/* layers.h - internal: the layer record and the per-kind kernels.
 *
 * A layer reads its input x (n x in) and writes its own output y (n x out).
 * Backward reads dy (n x out), ACCUMULATES parameter gradients into the
 * model's gradient arena and, when dx is non-NULL, OVERWRITES dx (n x in).
 * Every backward accepts grads == NULL: parameter gradients skipped, only
 * the work that dx needs is done (mg_model_backward_input).
 * Each kind lives in its own file (layer_<kind>.c); model.c dispatches with
 * one switch. */
#ifndef MG_LAYERS_H
#define MG_LAYERS_H

#include "mixgeo.h"
#include "par.h"

#define MG_LAYER_NBUF 8

typedef struct {
    mg_layer_kind kind;
    int block;       /* 1..L                                          */
    int in, out;     /* features in / out                            */
    float param;     /* lrelu slope, dropout p, noise sigma            */
    size_t p_off;    /* first trainable parameter in the arenas        */
    size_t n_p;      /* number of trainable parameters                 */
    size_t b_off;    /* first saved buffer (bn running stats)          */
    size_t n_b;
    /* image layers: input c x h x w, output oc x oh x ow */
    int c, h, w, oc, oh, ow;
    mg_conv2d_shape conv;  /* CONV2D; PREACT: the first 3x3 conv             */
    mg_conv2d_shape conv2; /* PREACT: the second 3x3 conv                    */
    mg_conv2d_shape proj;  /* PREACT: 1x1 projection shortcut (has_proj)     */
    int has_proj;
    mg_pool_shape pool;    /* MAXPOOL / AVGPOOL                              */
    /* activation arena views (max_batch rows) */
    float *y;        /* output, n x out                                 */
    float *aux;      /* kind-specific: dropout mask (n x out), bn x-hat (n x out) */
    float *aux2;     /* bn: batch mean and inverse std (2 x out)        */
    float *dy;       /* gradient w.r.t. the output, n x out            */
    float *buf[MG_LAYER_NBUF]; /* image layers: per-example / fixed scratch (see layer_preact.c) */
    const float *x;  /* input of the last forward (not owned)          */
} mg_layer;

/* Extra activation memory of a layer: buf[i] gets per_ex[i] floats per
 * example plus fixed[i] floats; *ws the conv workspace it needs at max_batch. */
void mg_layer_buffers(const mg_layer *l, int max_batch, size_t per_ex[MG_LAYER_NBUF],
                      size_t fixed[MG_LAYER_NBUF], size_t *ws);

/* Pre-activation residual block (layer_preact.c).  Params: bn1 (2 cin),
 * conv1, bn2 (2 cout), conv2, [proj]; buffers: bn1 running (2 cin), bn2
 * running (2 cout). */
mg_status mg_preact_setup(mg_layer *l, int cin, int h, int w, int cout, int stride);
void mg_preact_init(const mg_layer *l, float *params, float *buffers, mg_rng *rng);
void mg_preact_forward(mg_layer *l, const float *params, float *buffers, const float *x, float *y,
                       int n, int train, const mg_par *par);
/* grads NULL: every sub-kernel gets NULL, only dx is computed. */
void mg_preact_backward(const mg_layer *l, const float *params, float *grads, const float *dy,
                        float *dx, int n, int train, const mg_par *par);

/* Parameter and buffer counts of a layer (set n_p, n_b). */
void mg_layer_sizes(mg_layer *l);
/* Activation floats needed per example (y, aux, dy) and per layer (aux2). */
size_t mg_layer_act_per_example(const mg_layer *l);

void mg_dense_init(const mg_layer *l, float *params, mg_init init, float gain2, mg_rng *rng);
void mg_dense_forward(const mg_layer *l, const float *params, const float *x, float *y, int n);
/* accumulate = 0: the parameter gradients are OVERWRITTEN instead (saves
 * zeroing the arena and reading it back inside the GEMM).  grads NULL: no
 * dW, db (accumulate ignored), only dx. */
void mg_dense_backward(const mg_layer *l, const float *params, float *grads, const float *x,
                       const float *dy, float *dx, int n, int accumulate);

void mg_bn1d_init(const mg_layer *l, float *params, float *buffers);
void mg_bn1d_forward(mg_layer *l, const float *params, float *buffers, const float *x,
                     float *y, int n, int train);
void mg_bn1d_backward(const mg_layer *l, const float *params, float *grads,
                      const float *buffers, const float *dy, float *dx, int n, int train);
#define MG_BN_EPS 1e-5f
#define MG_BN_MOMENTUM 0.1f

void mg_act_forward(mg_layer_kind kind, float slope, const float *x, float *y, size_t count);
void mg_act_backward(mg_layer_kind kind, float slope, const float *x, const float *y,
                     const float *dy, float *dx, size_t count);

/* Dropout (p) and Gaussian noise (sigma): identity when train == 0. */
void mg_dropout_forward(float p, const float *x, float *y, float *mask, size_t count, int train,
                        mg_rng *rng);
void mg_dropout_backward(const float *mask, const float *dy, float *dx, size_t count, int train);
void mg_noise_forward(float sigma, const float *x, float *y, size_t count, int train, mg_rng *rng);

#endif
