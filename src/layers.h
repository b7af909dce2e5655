/* layers.h - internal: the layer record and the per-kind kernels.
 *
 * A layer reads its input x (n x in) and writes its own output y (n x out).
 * Backward reads dy (n x out), ACCUMULATES parameter gradients into the
 * model's gradient arena and, when dx is non-NULL, OVERWRITES dx (n x in).
 * Each kind lives in its own file (layer_<kind>.c); model.c dispatches with
 * one switch. */
#ifndef MG_LAYERS_H
#define MG_LAYERS_H

#include "mixgeo.h"

typedef struct {
    mg_layer_kind kind;
    int block;       /* 1..L                                          */
    int in, out;     /* features in / out                            */
    float param;     /* lrelu slope, dropout p, noise sigma            */
    size_t p_off;    /* first trainable parameter in the arenas        */
    size_t n_p;      /* number of trainable parameters                 */
    size_t b_off;    /* first saved buffer (bn running stats)          */
    size_t n_b;
    /* activation arena views (max_batch rows) */
    float *y;        /* output, n x out                                 */
    float *aux;      /* kind-specific: dropout mask (n x out), bn x-hat (n x out) */
    float *aux2;     /* bn: batch mean and inverse std (2 x out)        */
    float *dy;       /* gradient w.r.t. the output, n x out            */
    const float *x;  /* input of the last forward (not owned)          */
} mg_layer;

/* Parameter and buffer counts of a layer (set n_p, n_b). */
void mg_layer_sizes(mg_layer *l);
/* Activation floats needed per example (y, aux, dy) and per layer (aux2). */
size_t mg_layer_act_per_example(const mg_layer *l);

void mg_dense_init(const mg_layer *l, float *params, mg_init init, float gain2, mg_rng *rng);
void mg_dense_forward(const mg_layer *l, const float *params, const float *x, float *y, int n);
void mg_dense_backward(const mg_layer *l, const float *params, float *grads, const float *x,
                       const float *dy, float *dx, int n);

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
