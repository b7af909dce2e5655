/* blk8.c - kernels over activations in the blocked layout nChw8c (see
 * blk8.h): layout conversions, batch norm 2d (+ ReLU), global average
 * pooling, and their splits over a worker team.
 *
 * Every inner loop runs over the 8 contiguous lanes of a channel block at one
 * position (a constant trip count of 8, fully unrolled and vectorised by
 * -O2 into two SSE vectors); the loops over positions and examples are
 * plain.  The batch norm arithmetic per channel is that of layer_bn2d.c
 * (same pivot, same double formulas, same float expressions per element);
 * only the order of the float partial sums differs.
 *
 * Speed against the NCHW kernels (one thread, train, n 128, forward +
 * backward): 1.8-1.9x faster at c 64, hw 49; on par at c 16, hw 784, where
 * the n x hw x 8 floats of one block (3.2 MB) outgrow L2 between the sums
 * and the elementwise pass, while an NCHW channel (0.4 MB) does not. */
#include "blk8.h"
#include "layers.h" /* MG_BN_EPS, MG_BN_MOMENTUM */

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Tensors below this many floats are converted serially (a team run costs a
 * few microseconds, about the time to copy this much). */
#define BLK8_PAR_MIN_FLOATS 32768

/* "#pragma GCC unroll 8" before the lane loops that update lane arrays
 * (the per-example accumulators): unrolled before the vectoriser runs, the
 * arrays live in two SSE registers each.  Without it GCC 12 -O2 vectorises
 * such a loop as a loop of two iterations and keeps the arrays on the stack:
 * a store and a reload per accumulator per position.  Loops that only read
 * lane constants vectorise well either way. */

/* ---------------------------------------------------------------- conversions */

/* One example: NCHW planes (c x hw) -> blocks (c/8 x hw x 8).  Four
 * positions per step: one 16-byte read from each of the 8 planes, four
 * 32-byte rows written (about 1.3x faster than one position per step,
 * measured at c 16, hw 784 and c 64, hw 49). */
static void example_from_nchw(const float *restrict x, float *restrict y, int c, int hw)
{
    size_t bstride = (size_t)hw * 8;
    for (int b = 0; b < c / 8; b++) {
        const float *xb = x + b * bstride; /* channel b*8 + u at xb + u*hw */
        float *yb = y + b * bstride;
        int s = 0;
        for (; s + 4 <= hw; s += 4) {
            float *q = yb + (size_t)s * 8;
            for (int u = 0; u < 8; u++) {
                const float *p = xb + (size_t)u * hw + s;
                q[u] = p[0], q[8 + u] = p[1], q[16 + u] = p[2], q[24 + u] = p[3];
            }
        }
        for (; s < hw; s++)
            for (int u = 0; u < 8; u++) yb[(size_t)s * 8 + u] = xb[(size_t)u * hw + s];
    }
}

/* One example: blocks -> NCHW planes (four positions per step likewise). */
static void example_to_nchw(const float *restrict x, float *restrict y, int c, int hw)
{
    size_t bstride = (size_t)hw * 8;
    for (int b = 0; b < c / 8; b++) {
        const float *xb = x + b * bstride;
        float *yb = y + b * bstride;
        int s = 0;
        for (; s + 4 <= hw; s += 4) {
            const float *q = xb + (size_t)s * 8;
            for (int u = 0; u < 8; u++) {
                float *p = yb + (size_t)u * hw + s;
                p[0] = q[u], p[1] = q[8 + u], p[2] = q[16 + u], p[3] = q[24 + u];
            }
        }
        for (; s < hw; s++)
            for (int u = 0; u < 8; u++) yb[(size_t)u * hw + s] = xb[(size_t)s * 8 + u];
    }
}

static void convert_check(const float *x, float *y, int n, int c, int hw)
{
    MG_ASSERT(n > 0 && c > 0 && hw > 0 && c % 8 == 0 && x && y && x != y);
}

void mg_blk8_from_nchw(const float *x, float *y, int n, int c, int hw)
{
    convert_check(x, y, n, c, hw);
    size_t ex = (size_t)c * hw;
    for (int e = 0; e < n; e++) example_from_nchw(x + e * ex, y + e * ex, c, hw);
}

void mg_blk8_to_nchw(const float *x, float *y, int n, int c, int hw)
{
    convert_check(x, y, n, c, hw);
    size_t ex = (size_t)c * hw;
    for (int e = 0; e < n; e++) example_to_nchw(x + e * ex, y + e * ex, c, hw);
}

typedef struct {
    const float *x;
    float *y;
    int n, c, hw, to_nchw;
} convert_job;

static void convert_part(void *ctx, int w, int nw)
{
    const convert_job *j = ctx;
    int lo, hi;
    mg_team_share(j->n, w, nw, &lo, &hi);
    if (hi == lo) return;
    size_t o = (size_t)lo * j->c * j->hw;
    if (j->to_nchw)
        mg_blk8_to_nchw(j->x + o, j->y + o, hi - lo, j->c, j->hw);
    else
        mg_blk8_from_nchw(j->x + o, j->y + o, hi - lo, j->c, j->hw);
}

static void convert_run(const mg_par *par, convert_job *j)
{
    convert_check(j->x, j->y, j->n, j->c, j->hw);
    size_t total = (size_t)j->n * j->c * j->hw;
    if (!par->team || par->n < 2 || j->n < 2 || total < BLK8_PAR_MIN_FLOATS)
        convert_part(j, 0, 1);
    else
        mg_team_run(par->team, convert_part, j);
}

void mg_par_blk8_from_nchw(const mg_par *par, const float *x, float *y, int n, int c, int hw)
{
    convert_job j = {x, y, n, c, hw, 0};
    convert_run(par, &j);
}

void mg_par_blk8_to_nchw(const mg_par *par, const float *x, float *y, int n, int c, int hw)
{
    convert_job j = {x, y, n, c, hw, 1};
    convert_run(par, &j);
}

/* ---------------------------------------------------------------- bn2d */

/* One example's block r (hw x 8): s1[u] += sum_s (r[s][u] - k[u]),
 * s2[u] += sum_s (r[s][u] - k[u])^2, one float partial sum per lane (kept in
 * registers: four add chains per position already fill the adders). */
static void block_moments(const float *restrict r, int hw, const float *restrict k,
                          double *restrict s1, double *restrict s2)
{
    float a[8] = {0}, q[8] = {0};
    for (size_t i = 0, len = (size_t)hw * 8; i < len; i += 8) {
#pragma GCC unroll 8
        for (int u = 0; u < 8; u++) {
            float d = r[i + u] - k[u];
            a[u] += d;
            q[u] += d * d;
        }
    }
#pragma GCC unroll 8
    for (int u = 0; u < 8; u++) {
        s1[u] += (double)a[u];
        s2[u] += (double)q[u];
    }
}

/* One example's block: y = (x - mu) a + b per lane, then max(0, .) when relu
 * (the float expression of layer_bn2d.c's norm_row). */
static void block_norm(const float *restrict x, float *restrict y, int hw, const float *restrict mu,
                       const float *restrict a, const float *restrict b, int relu)
{
    size_t len = (size_t)hw * 8;
    if (relu) {
        for (size_t i = 0; i < len; i += 8)
#pragma GCC unroll 8
            for (int u = 0; u < 8; u++) {
                float v = (x[i + u] - mu[u]) * a[u] + b[u];
                y[i + u] = v > 0.0f ? v : 0.0f;
            }
    } else {
        for (size_t i = 0; i < len; i += 8)
#pragma GCC unroll 8
            for (int u = 0; u < 8; u++) y[i + u] = (x[i + u] - mu[u]) * a[u] + b[u];
    }
}

static void bn_check(int c, int j0, int j1, int hw, int n)
{
    MG_ASSERT(c > 0 && hw > 0 && n > 0 && c % 8 == 0);
    MG_ASSERT(0 <= j0 && j0 <= j1 && j1 <= c && j0 % 8 == 0 && j1 % 8 == 0);
}

void mg_bn2d_blk8_forward_channels(int c, int j0, int j1, int hw, int n, const float *params,
                                   float *buffers, const float *x, float *y, float *stats,
                                   int train, int relu)
{
    bn_check(c, j0, j1, hw, n);
    MG_ASSERT(params && buffers && x && y && stats && x != y);
    const float *gamma = params, *beta = params + c;
    float *mean = stats, *istd = stats + c;
    float *rmean = buffers, *rvar = buffers + c;
    size_t bstride = (size_t)hw * 8, cstride = (size_t)c * hw;
    double m = (double)n * hw;
    /* block by block, so that its n example blocks are still in cache when
     * normalised */
    for (int j = j0; j < j1; j += 8) {
        const float *xb = x + (size_t)(j / 8) * bstride;
        float *yb = y + (size_t)(j / 8) * bstride;
        if (train) {
            float k[8];
            double s1[8] = {0}, s2[8] = {0};
            for (int u = 0; u < 8; u++) k[u] = xb[u]; /* x(0, j + u, 0) */
            for (int e = 0; e < n; e++) block_moments(xb + e * cstride, hw, k, s1, s2);
            for (int u = 0; u < 8; u++) {
                int jj = j + u;
                double mu = s1[u] / m;
                double ss = s2[u] - s1[u] * mu; /* sum of squared deviations */
                if (ss < 0.0) ss = 0.0;
                double var = ss / m;
                mean[jj] = (float)(k[u] + mu);
                istd[jj] = (float)(1.0 / sqrt(var + MG_BN_EPS));
                double unb = m > 1.0 ? ss / (m - 1.0) : var;
                rmean[jj] = (1.0f - MG_BN_MOMENTUM) * rmean[jj] + MG_BN_MOMENTUM * mean[jj];
                rvar[jj] = (1.0f - MG_BN_MOMENTUM) * rvar[jj] + MG_BN_MOMENTUM * (float)unb;
            }
        } else {
            for (int u = 0; u < 8; u++) {
                mean[j + u] = rmean[j + u];
                istd[j + u] = 1.0f / sqrtf(rvar[j + u] + MG_BN_EPS);
            }
        }
        float mu[8], a[8], b[8];
        for (int u = 0; u < 8; u++) {
            mu[u] = mean[j + u];
            a[u] = gamma[j + u] * istd[j + u];
            b[u] = beta[j + u];
        }
        for (int e = n - 1; e >= 0; e--)
            block_norm(xb + e * cstride, yb + e * cstride, hw, mu, a, b, relu);
    }
}

/* One example's block: sg[u] += sum_s g, sgx[u] += sum_s g (x - mu[u]),
 * g = dy masked by y > 0 when y is given (one float partial sum per lane). */
static void block_grad_sums(const float *restrict dy, const float *restrict x,
                            const float *restrict y, int hw, const float *restrict mu,
                            double *restrict sg, double *restrict sgx)
{
    float a[8] = {0}, q[8] = {0};
    size_t len = (size_t)hw * 8;
    if (y) {
        for (size_t i = 0; i < len; i += 8)
#pragma GCC unroll 8
            for (int u = 0; u < 8; u++) {
                float g = mg_mask_pos(dy[i + u], y[i + u]);
                a[u] += g;
                q[u] += g * (x[i + u] - mu[u]);
            }
    } else {
        for (size_t i = 0; i < len; i += 8)
#pragma GCC unroll 8
            for (int u = 0; u < 8; u++) {
                a[u] += dy[i + u];
                q[u] += dy[i + u] * (x[i + u] - mu[u]);
            }
    }
#pragma GCC unroll 8
    for (int u = 0; u < 8; u++) {
        sg[u] += (double)a[u];
        sgx[u] += (double)q[u];
    }
}

/* One example's block: dx = k g - c1 (x - mu) + c0 per lane, g = dy masked
 * by y > 0 when y is given (the float expression of layer_bn2d.c's dx_row). */
static void block_dx(const float *restrict dy, const float *restrict x, const float *restrict y,
                     float *restrict dx, int hw, const float *restrict k, const float *restrict c1,
                     const float *restrict c0, const float *restrict mu)
{
    size_t len = (size_t)hw * 8;
    if (y) {
        for (size_t i = 0; i < len; i += 8)
#pragma GCC unroll 8
            for (int u = 0; u < 8; u++) {
                float g = mg_mask_pos(dy[i + u], y[i + u]);
                dx[i + u] = k[u] * g - c1[u] * (x[i + u] - mu[u]) + c0[u];
            }
    } else {
        for (size_t i = 0; i < len; i += 8)
#pragma GCC unroll 8
            for (int u = 0; u < 8; u++)
                dx[i + u] = k[u] * dy[i + u] - c1[u] * (x[i + u] - mu[u]) + c0[u];
    }
}

void mg_bn2d_blk8_backward_channels(int c, int j0, int j1, int hw, int n, const float *params,
                                    float *grads, const float *x, const float *y,
                                    const float *stats, const float *dy, float *dx, int train,
                                    int relu)
{
    bn_check(c, j0, j1, hw, n);
    MG_ASSERT(params && x && stats && dy);
    MG_ASSERT(!relu || y);
    if (!grads && !dx) return;
    const float *gamma = params;
    float *dgamma = grads, *dbeta = grads ? grads + c : NULL;
    const float *mean = stats, *istd = stats + c;
    size_t bstride = (size_t)hw * 8, cstride = (size_t)c * hw;
    double m = (double)n * hw;
    /* the sums serve the parameter gradients and the train-mode dx */
    int need_sums = grads || train;
    for (int j = j0; j < j1; j += 8) {
        size_t ob = (size_t)(j / 8) * bstride;
        float mu[8];
        double sg[8] = {0}, sgx[8] = {0}, sgh[8];
        for (int u = 0; u < 8; u++) mu[u] = mean[j + u];
        for (int e = 0; e < n && need_sums; e++) {
            size_t o = ob + e * cstride;
            block_grad_sums(dy + o, x + o, relu ? y + o : NULL, hw, mu, sg, sgx);
        }
        for (int u = 0; u < 8; u++) sgh[u] = (double)istd[j + u] * sgx[u]; /* sum g * xhat */
        if (grads)
            for (int u = 0; u < 8; u++) {
                dgamma[j + u] += (float)sgh[u];
                dbeta[j + u] += (float)sg[u];
            }
        if (!dx) continue;
        float kf[8], c1f[8], c0f[8];
        for (int u = 0; u < 8; u++) {
            double k = (double)gamma[j + u] * istd[j + u];
            /* train: dx = k (g - sg/m - xhat sgh/m) = k g - c1 (x - mean) + c0 */
            double c1 = train ? k * istd[j + u] * sgh[u] / m : 0.0;
            double c0 = train ? -k * sg[u] / m : 0.0;
            kf[u] = (float)k;
            c1f[u] = (float)c1;
            c0f[u] = (float)c0;
        }
        for (int e = n - 1; e >= 0; e--) {
            size_t o = ob + e * cstride;
            block_dx(dy + o, x + o, relu ? y + o : NULL, dx + o, hw, kf, c1f, c0f, mu);
        }
    }
}

/* mg_par_bn2d_blk8_forward / _backward: src/par.c (the team split of every
 * batch norm, in whole blocks of 8 channels here). */

/* ---------------------------------------------------------------- pooling */

void mg_gap_blk8_forward(int c, int hw, int n, const float *x, float *y)
{
    MG_ASSERT(c > 0 && hw > 0 && n > 0 && c % 8 == 0 && x && y);
    size_t len = (size_t)hw * 8;
    for (int e = 0; e < n; e++)
        for (int j = 0; j < c; j += 8) {
            const float *r = x + ((size_t)e * c + j) * hw; /* block j/8 of example e */
            float a[8] = {0};
            for (size_t i = 0; i < len; i += 8)
#pragma GCC unroll 8
                for (int u = 0; u < 8; u++) a[u] += r[i + u];
            float *yr = y + (size_t)e * c + j;
#pragma GCC unroll 8
            for (int u = 0; u < 8; u++) yr[u] = a[u] / (float)hw;
        }
}

void mg_gap_blk8_backward(int c, int hw, int n, const float *dy, float *dx)
{
    MG_ASSERT(c > 0 && hw > 0 && n > 0 && c % 8 == 0 && dy && dx);
    size_t len = (size_t)hw * 8;
    float inv = 1.0f / (float)hw; /* as mg_gap_backward: dy * (1/hw) */
    for (int e = 0; e < n; e++)
        for (int j = 0; j < c; j += 8) {
            float g[8];
            for (int u = 0; u < 8; u++) g[u] = dy[(size_t)e * c + j + u] * inv;
            float *d = dx + ((size_t)e * c + j) * hw;
            for (size_t i = 0; i < len; i += 8)
#pragma GCC unroll 8
                for (int u = 0; u < 8; u++) d[i + u] = g[u];
        }
}
