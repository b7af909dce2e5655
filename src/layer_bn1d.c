/* layer_bn1d.c - batch normalisation over the batch for vectors (PyTorch BatchNorm1d).
 * params: gamma (out), beta (out); buffers: running mean (out), running var (out).
 * Train: batch mean and biased variance normalise; the running variance is updated
 * with the unbiased estimate, momentum 0.1, as PyTorch does.  Eval: running stats. */
#include "layers.h"

#include <math.h>
#include <string.h>

static void bn1d_sizes(mg_layer *l)
{
    l->n_p = 2 * (size_t)l->out;
    l->n_b = 2 * (size_t)l->out;
}

/* Activation memory: x-hat (n x out) in aux; batch mean and inverse std in
 * aux2 (always there). */
static void bn1d_buffers(const mg_layer *l, int max_batch, mg_layer_mem *mem)
{
    (void)max_batch;
    mem->aux = (size_t)l->out;
}

static void bn1d_init(const mg_layer *l, float *p, float *b, mg_init init, mg_rng *rng)
{
    (void)init, (void)rng;
    int c = l->out;
    for (int j = 0; j < c; j++) {
        p[j] = 1.0f;
        p[c + j] = 0.0f;
        b[j] = 0.0f;
        b[c + j] = 1.0f;
    }
}

static void bn1d_forward(mg_layer *l, const mg_fwd_ctx *ctx)
{
    int c = l->out, n = ctx->n, train = ctx->train;
    const float *x = ctx->x;
    float *y = ctx->y;
    const float *gamma = ctx->p, *beta = gamma + c;
    float *rmean = ctx->b, *rvar = rmean + c;
    float *xhat = l->aux, *mean = l->aux2, *istd = l->aux2 + c;
    if (train) {
        for (int j = 0; j < c; j++) {
            double s = 0.0, ss = 0.0;
            for (int i = 0; i < n; i++) s += x[(size_t)i * c + j];
            double mu = s / n;
            for (int i = 0; i < n; i++) {
                double d = x[(size_t)i * c + j] - mu;
                ss += d * d;
            }
            double var = ss / n;
            mean[j] = (float)mu;
            istd[j] = (float)(1.0 / sqrt(var + MG_BN_EPS));
            rmean[j] = (1.0f - MG_BN_MOMENTUM) * rmean[j] + MG_BN_MOMENTUM * (float)mu;
            double unb = n > 1 ? ss / (n - 1) : var;
            rvar[j] = (1.0f - MG_BN_MOMENTUM) * rvar[j] + MG_BN_MOMENTUM * (float)unb;
        }
    } else {
        for (int j = 0; j < c; j++) {
            mean[j] = rmean[j];
            istd[j] = 1.0f / sqrtf(rvar[j] + MG_BN_EPS);
        }
    }
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * c;
        float *hi = xhat + (size_t)i * c, *yi = y + (size_t)i * c;
        for (int j = 0; j < c; j++) {
            hi[j] = (xi[j] - mean[j]) * istd[j];
            yi[j] = gamma[j] * hi[j] + beta[j];
        }
    }
}

/* g NULL: no dgamma/dbeta; the sums are then only formed when the train-
 * mode dx needs them. */
static void bn1d_backward(const mg_layer *l, const mg_bwd_ctx *ctx)
{
    int c = l->out, n = ctx->n, train = ctx->train;
    const float *dy = ctx->dy;
    float *dx = ctx->dx, *grads = ctx->g;
    const float *gamma = ctx->p;
    float *dgamma = grads, *dbeta = grads ? dgamma + c : NULL;
    const float *xhat = l->aux, *istd = l->aux2 + c;
    if (!grads && !dx) return;
    int need_sums = grads || train;
    for (int j = 0; j < c; j++) {
        double sdy = 0.0, sdyx = 0.0;
        for (int i = 0; need_sums && i < n; i++) {
            double g = dy[(size_t)i * c + j];
            sdy += g;
            sdyx += g * xhat[(size_t)i * c + j];
        }
        if (grads) {
            dgamma[j] += (float)sdyx;
            dbeta[j] += (float)sdy;
        }
        if (!dx) continue;
        double k = gamma[j] * istd[j];
        if (train) {
            double mdy = sdy / n, mdyx = sdyx / n;
            for (int i = 0; i < n; i++) {
                size_t o = (size_t)i * c + j;
                dx[o] = (float)(k * (dy[o] - mdy - xhat[o] * mdyx));
            }
        } else {
            for (int i = 0; i < n; i++) dx[(size_t)i * c + j] = (float)(k * dy[(size_t)i * c + j]);
        }
    }
}

const mg_layer_ops mg_bn1d_ops = {
    .name = "bn1d",
    .sizes = bn1d_sizes,
    .buffers = bn1d_buffers,
    .init = bn1d_init,
    .forward = bn1d_forward,
    .backward = bn1d_backward,
};
