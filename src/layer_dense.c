/* layer_dense.c - fully connected layer, y = x W^T + b.
 * params: W (out x in, row-major) then b (out). */
#include "layers.h"

#include <math.h>
#include <string.h>

void mg_dense_init(const mg_layer *l, float *params, mg_init init, float gain2, mg_rng *rng)
{
    float *W = params + l->p_off, *b = W + (size_t)l->out * l->in;
    size_t nw = (size_t)l->out * l->in;
    if (init == MG_INIT_HE) {
        /* He/Kaiming normal: std = sqrt(gain^2 / fan_in) */
        double sd = sqrt(gain2 / l->in);
        for (size_t i = 0; i < nw; i++) W[i] = (float)(sd * mg_rng_normal(rng));
    } else {
        /* Xavier/Glorot uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)) */
        double a = sqrt(6.0 / (l->in + l->out));
        for (size_t i = 0; i < nw; i++) W[i] = (float)(a * (2.0 * mg_rng_uniform(rng) - 1.0));
    }
    memset(b, 0, sizeof(float) * l->out);
}

/* x: n x in, y: n x out */
void mg_dense_forward(const mg_layer *l, const float *params, const float *x, float *y, int n)
{
    const float *W = params + l->p_off, *b = W + (size_t)l->out * l->in;
    int out = l->out;
    for (int i = 0; i < n; i++) memcpy(y + (size_t)i * out, b, sizeof(float) * out);
    mg_sgemm(0, 1, n, out, l->in, 1.0f, x, l->in, W, l->in, 1.0f, y, out);
}

/* dW += dy^T x ; db += colsum(dy) ; dx = dy W (if dx).  With accumulate = 0
 * dW and db are overwritten instead.  grads NULL: no parameter gradients
 * (accumulate is then ignored), only dx. */
void mg_dense_backward(const mg_layer *l, const float *params, float *grads, const float *x,
                       const float *dy, float *dx, int n, int accumulate)
{
    const float *W = params + l->p_off;
    int in = l->in, out = l->out;
    if (grads) {
        float *dW = grads + l->p_off, *db = dW + (size_t)l->out * l->in;
        mg_sgemm(1, 0, out, in, n, 1.0f, dy, out, x, in, accumulate ? 1.0f : 0.0f, dW, in);
        if (!accumulate) memset(db, 0, sizeof(float) * out);
        for (int i = 0; i < n; i++) {
            const float *r = dy + (size_t)i * out;
            for (int j = 0; j < out; j++) db[j] += r[j];
        }
    }
    if (dx) mg_sgemm(0, 0, n, in, out, 1.0f, dy, out, W, in, 0.0f, dx, in);
}
