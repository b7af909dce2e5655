/* layer_dense.c - fully connected layer, y = x W^T + b.
 * params: W (out x in, row-major) then b (out).
 *
 * One wide GEMM per pass (cnn:...-f1024: 3136 x 1024): split MG_SPLIT_BLAS,
 * OpenBLAS's own threads even while the model runs a worker team.  Backward
 * may overwrite stale gradients (MG_LAYER_OVERWRITES_GRADS: beta = 0 in the
 * GEMM saves zeroing the arena and reading it back). */
#include "layers.h"

#include <math.h>
#include <string.h>

static void dense_sizes(mg_layer *l)
{
    l->n_p = (size_t)l->out * l->in + l->out;
    l->n_b = 0;
}

static void dense_init(const mg_layer *l, float *p, float *b, mg_init init, mg_rng *rng)
{
    (void)b;
    float *W = p, *bias = W + (size_t)l->out * l->in;
    size_t nw = (size_t)l->out * l->in;
    if (init == MG_INIT_HE) {
        /* He/Kaiming normal: std = sqrt(gain^2 / fan_in) */
        double sd = sqrt(l->gain2 / l->in);
        for (size_t i = 0; i < nw; i++) W[i] = (float)(sd * mg_rng_normal(rng));
    } else {
        /* Xavier/Glorot uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)) */
        double a = sqrt(6.0 / (l->in + l->out));
        for (size_t i = 0; i < nw; i++) W[i] = (float)(a * (2.0 * mg_rng_uniform(rng) - 1.0));
    }
    memset(bias, 0, sizeof(float) * l->out);
}

/* x: n x in, y: n x out */
static void dense_forward(mg_layer *l, const mg_fwd_ctx *c)
{
    const float *W = c->p, *b = W + (size_t)l->out * l->in;
    int out = l->out, n = c->n;
    for (int i = 0; i < n; i++) memcpy(c->y + (size_t)i * out, b, sizeof(float) * out);
    mg_sgemm(0, 1, n, out, l->in, 1.0f, c->x, l->in, W, l->in, 1.0f, c->y, out);
}

/* dW += dy^T x ; db += colsum(dy) ; dx = dy W (if dx).  With c->overwrite
 * dW and db are overwritten instead.  g NULL: no parameter gradients, only
 * dx. */
static void dense_backward(const mg_layer *l, const mg_bwd_ctx *c)
{
    const float *W = c->p;
    int in = l->in, out = l->out, n = c->n;
    if (c->g) {
        float *dW = c->g, *db = dW + (size_t)l->out * l->in;
        mg_sgemm(1, 0, out, in, n, 1.0f, c->dy, out, c->x, in, c->overwrite ? 0.0f : 1.0f, dW,
                 in);
        if (c->overwrite) memset(db, 0, sizeof(float) * out);
        for (int i = 0; i < n; i++) {
            const float *r = c->dy + (size_t)i * out;
            for (int j = 0; j < out; j++) db[j] += r[j];
        }
    }
    if (c->dx) mg_sgemm(0, 0, n, in, out, 1.0f, c->dy, out, W, in, 0.0f, c->dx, in);
}

static double dense_flops(const mg_layer *l, int backward, int need_dx)
{
    double f = 2.0 * l->in * l->out;
    return backward ? f * (need_dx ? 2.0 : 1.0) : f;
}

const mg_layer_ops mg_dense_ops = {
    .name = "dense",
    .sizes = dense_sizes,
    .init = dense_init,
    .forward = dense_forward,
    .backward = dense_backward,
    .flops = dense_flops,
    .split = MG_SPLIT_BLAS,
    .flags = MG_LAYER_OVERWRITES_GRADS,
};
