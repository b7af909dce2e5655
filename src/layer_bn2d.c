/* layer_bn2d.c - batch normalisation per channel over (n, h, w), PyTorch
 * BatchNorm2d semantics, optionally fused with the ReLU that follows it in a
 * pre-activation block (one pass less over memory each way, and no separate
 * BN output buffer).
 *
 * Statistics: per row (one example's plane) in float with 8 partial sums,
 * across rows in double; values are shifted by the channel's first element
 * before summing squares so that a large mean does not cancel the variance.
 * Backward recomputes x-hat from x, mean and inverse std (nothing n x c x hw
 * is stored besides the output). */
#include "blk8.h"
#include "conv.h"
#include "layers.h" /* MG_BN_EPS, MG_BN_MOMENTUM */

#include <math.h>
#include <stdint.h>
#include <string.h>

void mg_bn2d_init(int c, float *params, float *buffers)
{
    for (int j = 0; j < c; j++) {
        params[j] = 1.0f;
        params[c + j] = 0.0f;
        buffers[j] = 0.0f;
        buffers[c + j] = 1.0f;
    }
}

/* sum (r - k) and sum (r - k)^2 over len floats */
static void row_moments(const float *restrict r, int len, float k, double *s1, double *s2)
{
    float a[8] = {0}, q[8] = {0};
    int i = 0;
    for (; i + 8 <= len; i += 8) {
        for (int u = 0; u < 8; u++) {
            float d = r[i + u] - k;
            a[u] += d;
            q[u] += d * d;
        }
    }
    for (; i < len; i++) {
        float d = r[i] - k;
        a[0] += d;
        q[0] += d * d;
    }
    *s1 += (double)(((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7])));
    *s2 += (double)(((q[0] + q[1]) + (q[2] + q[3])) + ((q[4] + q[5]) + (q[6] + q[7])));
}

/* y = (x - mu) a + b, then max(0, .) when relu.  The loops here are written
 * in blocks of 8 so that -O2 vectorises them (SLP) without -O3. */
static void norm_row(const float *restrict x, float *restrict y, int len, float mu, float a,
                     float b, int relu)
{
    int i = 0;
    if (relu) {
        for (; i + 8 <= len; i += 8)
            for (int u = 0; u < 8; u++) {
                float v = (x[i + u] - mu) * a + b;
                y[i + u] = v > 0.0f ? v : 0.0f;
            }
        for (; i < len; i++) {
            float v = (x[i] - mu) * a + b;
            y[i] = v > 0.0f ? v : 0.0f;
        }
    } else {
        for (; i + 8 <= len; i += 8)
            for (int u = 0; u < 8; u++) y[i + u] = (x[i + u] - mu) * a + b;
        for (; i < len; i++) y[i] = (x[i] - mu) * a + b;
    }
}

void mg_bn2d_forward(int c, int hw, int n, const float *params, float *buffers, const float *x,
                     float *y, float *stats, int train, int relu)
{
    mg_bn2d_forward_channels(c, 0, c, hw, n, params, buffers, x, y, stats, train, relu);
}

void mg_bn2d_forward_channels(int c, int j0, int j1, int hw, int n, const float *params,
                              float *buffers, const float *x, float *y, float *stats, int train,
                              int relu)
{
    MG_ASSERT(c > 0 && hw > 0 && n > 0 && params && buffers && x && y && stats && x != y);
    MG_ASSERT(0 <= j0 && j0 <= j1 && j1 <= c);
    const float *gamma = params, *beta = params + c;
    float *mean = stats, *istd = stats + c;
    float *rmean = buffers, *rvar = buffers + c;
    size_t plane = (size_t)hw, cstride = (size_t)c * hw;
    double m = (double)n * hw;
    /* channel by channel, so that its n rows are still in cache when normalised */
    for (int j = j0; j < j1; j++) {
        if (train) {
            float k = x[(size_t)j * plane];
            double s1 = 0.0, s2 = 0.0;
            for (int e = 0; e < n; e++) row_moments(x + e * cstride + j * plane, hw, k, &s1, &s2);
            double mu = s1 / m;
            double ss = s2 - s1 * mu; /* sum of squared deviations */
            if (ss < 0.0) ss = 0.0;
            double var = ss / m;
            mean[j] = (float)(k + mu);
            istd[j] = (float)(1.0 / sqrt(var + MG_BN_EPS));
            double unb = m > 1.0 ? ss / (m - 1.0) : var;
            rmean[j] = (1.0f - MG_BN_MOMENTUM) * rmean[j] + MG_BN_MOMENTUM * mean[j];
            rvar[j] = (1.0f - MG_BN_MOMENTUM) * rvar[j] + MG_BN_MOMENTUM * (float)unb;
        } else {
            mean[j] = rmean[j];
            istd[j] = 1.0f / sqrtf(rvar[j] + MG_BN_EPS);
        }
        float a = gamma[j] * istd[j];
        for (int e = 0; e < n; e++) {
            size_t o = e * cstride + j * plane;
            norm_row(x + o, y + o, hw, mean[j], a, beta[j], relu);
        }
    }
}

/* sum g and sum g*(x - mu) over a row, g = dy masked by y > 0 when relu */
static void row_grad_sums(const float *restrict dyr, const float *restrict xr,
                          const float *restrict yr, int len, float mu, double *sg, double *sgx)
{
    float a[8] = {0}, q[8] = {0};
    int i = 0;
    if (yr) {
        for (; i + 8 <= len; i += 8) {
            for (int u = 0; u < 8; u++) {
                float g = mg_mask_pos(dyr[i + u], yr[i + u]);
                a[u] += g;
                q[u] += g * (xr[i + u] - mu);
            }
        }
        for (; i < len; i++) {
            float g = mg_mask_pos(dyr[i], yr[i]);
            a[0] += g;
            q[0] += g * (xr[i] - mu);
        }
    } else {
        for (; i + 8 <= len; i += 8) {
            for (int u = 0; u < 8; u++) {
                a[u] += dyr[i + u];
                q[u] += dyr[i + u] * (xr[i + u] - mu);
            }
        }
        for (; i < len; i++) {
            a[0] += dyr[i];
            q[0] += dyr[i] * (xr[i] - mu);
        }
    }
    *sg += (double)(((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7])));
    *sgx += (double)(((q[0] + q[1]) + (q[2] + q[3])) + ((q[4] + q[5]) + (q[6] + q[7])));
}

/* dx = k g - c1 (x - mu) + c0, g = dy masked by y > 0 when y is given */
static void dx_row(const float *restrict dy, const float *restrict x, const float *restrict y,
                   float *restrict dx, int len, float k, float c1, float c0, float mu)
{
    int i = 0;
    if (y) {
        for (; i + 8 <= len; i += 8)
            for (int u = 0; u < 8; u++) {
                float g = mg_mask_pos(dy[i + u], y[i + u]);
                dx[i + u] = k * g - c1 * (x[i + u] - mu) + c0;
            }
        for (; i < len; i++) {
            float g = mg_mask_pos(dy[i], y[i]);
            dx[i] = k * g - c1 * (x[i] - mu) + c0;
        }
    } else {
        for (; i + 8 <= len; i += 8)
            for (int u = 0; u < 8; u++) dx[i + u] = k * dy[i + u] - c1 * (x[i + u] - mu) + c0;
        for (; i < len; i++) dx[i] = k * dy[i] - c1 * (x[i] - mu) + c0;
    }
}

void mg_bn2d_backward(int c, int hw, int n, const float *params, float *grads, const float *x,
                      const float *y, const float *stats, const float *dy, float *dx, int train,
                      int relu)
{
    mg_bn2d_backward_channels(c, 0, c, hw, n, params, grads, x, y, stats, dy, dx, train, relu);
}

void mg_bn2d_backward_channels(int c, int j0, int j1, int hw, int n, const float *params,
                               float *grads, const float *x, const float *y, const float *stats,
                               const float *dy, float *dx, int train, int relu)
{
    MG_ASSERT(c > 0 && hw > 0 && n > 0 && params && x && stats && dy);
    MG_ASSERT(0 <= j0 && j0 <= j1 && j1 <= c);
    MG_ASSERT(!relu || y);
    if (!grads && !dx) return;
    const float *gamma = params;
    float *dgamma = grads, *dbeta = grads ? grads + c : NULL;
    const float *mean = stats, *istd = stats + c;
    size_t plane = (size_t)hw, cstride = (size_t)c * hw;
    double m = (double)n * hw;
    /* the sums serve the parameter gradients and the train-mode dx */
    int need_sums = grads || train;
    for (int j = j0; j < j1; j++) {
        double sg = 0.0, sgx = 0.0;
        for (int e = 0; need_sums && e < n; e++) {
            size_t o = e * cstride + j * plane;
            row_grad_sums(dy + o, x + o, relu ? y + o : NULL, hw, mean[j], &sg, &sgx);
        }
        double sgh = (double)istd[j] * sgx; /* sum g * xhat */
        if (grads) {
            dgamma[j] += (float)sgh;
            dbeta[j] += (float)sg;
        }
        if (!dx) continue;
        double k = (double)gamma[j] * istd[j];
        /* train: dx = k (g - sg/m - xhat sgh/m) = k g - c1 (x - mean) + c0 */
        double c1 = train ? k * istd[j] * sgh / m : 0.0;
        double c0 = train ? -k * sg / m : 0.0;
        float kf = (float)k, c1f = (float)c1, c0f = (float)c0, mu = mean[j];
        for (int e = 0; e < n; e++) {
            size_t o = e * cstride + j * plane;
            dx_row(dy + o, x + o, relu ? y + o : NULL, dx + o, hw, kf, c1f, c0f, mu);
        }
    }
}

/* ---------------------------------------------------------------- the layer */

/* MG_LAYER_BN2D: c x h x w in and out; param 1 fuses the ReLU that follows.
 * Activation memory: buf[0] the batch statistics (2 c).  The team splits
 * the channels (src/par.c). */
static void bn2d_sizes(mg_layer *l)
{
    l->n_p = 2 * (size_t)l->c;
    l->n_b = 2 * (size_t)l->c;
}

static void bn2d_buffers(const mg_layer *l, int max_batch, mg_layer_mem *mem)
{
    (void)max_batch;
    mem->fixed[0] = 2 * (size_t)l->c;
}

static void bn2d_layer_init(const mg_layer *l, float *p, float *b, mg_init init, mg_rng *rng)
{
    (void)init, (void)rng;
    mg_bn2d_init(l->c, p, b);
}

static void bn2d_layer_forward(mg_layer *l, const mg_fwd_ctx *c)
{
    mg_par_bn2d_forward(c->par, l->c, l->h * l->w, c->n, c->p, c->b, c->x, c->y, l->buf[0],
                        c->train, l->param != 0.0f);
}

static void bn2d_layer_backward(const mg_layer *l, const mg_bwd_ctx *c)
{
    mg_par_bn2d_backward(c->par, l->c, l->h * l->w, c->n, c->p, c->g, c->x, c->y, l->buf[0], c->dy,
                         c->dx, c->train, l->param != 0.0f);
}

const mg_layer_ops mg_bn2d_ops = {
    .name = "bn2d",
    .sizes = bn2d_sizes,
    .buffers = bn2d_buffers,
    .init = bn2d_layer_init,
    .forward = bn2d_layer_forward,
    .backward = bn2d_layer_backward,
    .split = MG_SPLIT_CHANNELS,
};

/* The same layer on nChw8c tensors in and out (src/blk8.h; the head of a
 * PreActResNet kept in that layout, mg_conv_pick_ops). */
static void bn2d_blk8_forward(mg_layer *l, const mg_fwd_ctx *c)
{
    mg_par_bn2d_blk8_forward(c->par, l->c, l->h * l->w, c->n, c->p, c->b, c->x, c->y, l->buf[0],
                             c->train, l->param != 0.0f);
}

static void bn2d_blk8_backward(const mg_layer *l, const mg_bwd_ctx *c)
{
    mg_par_bn2d_blk8_backward(c->par, l->c, l->h * l->w, c->n, c->p, c->g, c->x, c->y, l->buf[0],
                              c->dy, c->dx, c->train, l->param != 0.0f);
}

const mg_layer_ops mg_bn2d_blk8_ops = {
    .name = "bn2d",
    .sizes = bn2d_sizes,
    .buffers = bn2d_buffers,
    .init = bn2d_layer_init,
    .forward = bn2d_blk8_forward,
    .backward = bn2d_blk8_backward,
    .split = MG_SPLIT_CHANNELS,
};
