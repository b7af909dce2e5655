/* layer_dropout.c - inverted dropout (p = param) and additive Gaussian
 * noise (sigma = param); both are the identity when train == 0.  No
 * parameters; backward only forms dx (nothing when dx is NULL). */
#include "layers.h"

#include <stdio.h>
#include <string.h>

/* Activation memory: the mask (n x out) in aux. */
static void dropout_buffers(const mg_layer *l, int max_batch, mg_layer_mem *mem)
{
    (void)max_batch;
    mem->aux = (size_t)l->out;
}

/* Train: mask = (u >= p) / (1 - p), y = x * mask.  Eval: y = x. */
static void dropout_forward(mg_layer *l, const mg_fwd_ctx *c)
{
    size_t count = (size_t)c->n * l->out;
    float p = l->param, *mask = l->aux, *y = c->y;
    const float *x = c->x;
    if (!c->train || p <= 0.0f) {
        if (y != x) memcpy(y, x, sizeof(float) * count);
        if (c->train)
            for (size_t i = 0; i < count; i++) mask[i] = 1.0f;
        return;
    }
    MG_ASSERT(c->rng);
    float keep = 1.0f / (1.0f - p);
    for (size_t i = 0; i < count; i++) {
        mask[i] = mg_rng_uniform(c->rng) >= p ? keep : 0.0f;
        y[i] = x[i] * mask[i];
    }
}

static void dropout_backward(const mg_layer *l, const mg_bwd_ctx *c)
{
    if (!c->dx) return;
    size_t count = (size_t)c->n * l->out;
    if (!c->train) {
        memcpy(c->dx, c->dy, sizeof(float) * count);
        return;
    }
    const float *mask = l->aux;
    for (size_t i = 0; i < count; i++) c->dx[i] = c->dy[i] * mask[i];
}

static void param_detail(const mg_layer *l, char *buf, size_t len)
{
    snprintf(buf, len, "(%g)", l->param);
}

/* Train: y = x + sigma * N(0, 1).  Eval: y = x. */
static void noise_forward(mg_layer *l, const mg_fwd_ctx *c)
{
    size_t count = (size_t)c->n * l->out;
    float sigma = l->param, *y = c->y;
    const float *x = c->x;
    if (!c->train || sigma <= 0.0f) {
        if (y != x) memcpy(y, x, sizeof(float) * count);
        return;
    }
    MG_ASSERT(c->rng);
    for (size_t i = 0; i < count; i++) y[i] = x[i] + sigma * (float)mg_rng_normal(c->rng);
}

/* dx = dy (a copy unless they are the same buffer) */
static void noise_backward(const mg_layer *l, const mg_bwd_ctx *c)
{
    if (c->dx && c->dx != c->dy) memcpy(c->dx, c->dy, sizeof(float) * (size_t)c->n * l->out);
}

const mg_layer_ops mg_dropout_ops = {
    .name = "dropout",
    .buffers = dropout_buffers,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .detail = param_detail,
};

const mg_layer_ops mg_noise_ops = {
    .name = "noise", .forward = noise_forward, .backward = noise_backward, .detail = param_detail};
