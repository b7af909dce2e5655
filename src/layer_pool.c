/* layer_pool.c - max, average and global average pooling over NCHW images
 * (PyTorch MaxPool2d / AvgPool2d with ceil_mode False, AdaptiveAvgPool2d(1)). */
#include "blk8.h"
#include "conv.h"
#include "layers.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

mg_status mg_pool_shape_init(mg_pool_shape *s, int c, int h, int w, int kh, int kw, int stride,
                             int pad)
{
    MG_ASSERT(s);
    memset(s, 0, sizeof *s);
    if (c < 1 || h < 1 || w < 1 || kh < 1 || kw < 1 || stride < 1 || pad < 0)
        return mg_fail(
            MG_ERR_CONFIG,
            "pool: sizes must be positive (c %d, %dx%d, kernel %dx%d, stride %d, pad %d)", c, h, w,
            kh, kw, stride, pad);
    if (2 * pad > kh || 2 * pad > kw)
        return mg_fail(MG_ERR_CONFIG, "pool: padding %d must be at most half the kernel %dx%d", pad,
                       kh, kw);
    if (h + 2 * pad < kh || w + 2 * pad < kw)
        return mg_fail(MG_ERR_CONFIG, "pool: kernel %dx%d larger than the padded input %dx%d", kh,
                       kw, h + 2 * pad, w + 2 * pad);
    s->c = c;
    s->h = h;
    s->w = w;
    s->kh = kh;
    s->kw = kw;
    s->stride = stride;
    s->pad = pad;
    s->ho = (h + 2 * pad - kh) / stride + 1;
    s->wo = (w + 2 * pad - kw) / stride + 1;
    return MG_OK;
}

void mg_maxpool_forward(const mg_pool_shape *s, const float *x, float *y, int32_t *argmax, int n)
{
    MG_ASSERT(s && x && y && argmax && n > 0);
    size_t in_plane = (size_t)s->h * s->w, out_plane = (size_t)s->ho * s->wo;
    size_t planes = (size_t)n * s->c;
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * in_plane;
        float *yp = y + pl * out_plane;
        int32_t *ap = argmax + pl * out_plane;
        for (int ho = 0; ho < s->ho; ho++) {
            int h0 = ho * s->stride - s->pad;
            int ha = h0 < 0 ? 0 : h0, hb = h0 + s->kh < s->h ? h0 + s->kh : s->h;
            for (int wo = 0; wo < s->wo; wo++) {
                int w0 = wo * s->stride - s->pad;
                int wa = w0 < 0 ? 0 : w0, wb = w0 + s->kw < s->w ? w0 + s->kw : s->w;
                /* pad <= k/2 guarantees a non-empty window */
                int best = ha * s->w + wa;
                float bv = xp[best];
                for (int hh = ha; hh < hb; hh++) {
                    for (int ww = wa; ww < wb; ww++) {
                        float v = xp[hh * s->w + ww];
                        if (v > bv || (isnan(v) && !isnan(bv))) {
                            bv = v;
                            best = hh * s->w + ww;
                        }
                    }
                }
                yp[ho * s->wo + wo] = bv;
                ap[ho * s->wo + wo] = best;
            }
        }
    }
}

void mg_maxpool_backward(const mg_pool_shape *s, const int32_t *argmax, const float *dy, float *dx,
                         int n)
{
    MG_ASSERT(s && argmax && dy && dx && n > 0);
    size_t in_plane = (size_t)s->h * s->w, out_plane = (size_t)s->ho * s->wo;
    size_t planes = (size_t)n * s->c;
    memset(dx, 0, sizeof(float) * planes * in_plane);
    for (size_t pl = 0; pl < planes; pl++) {
        float *dxp = dx + pl * in_plane;
        const float *dyp = dy + pl * out_plane;
        const int32_t *ap = argmax + pl * out_plane;
        for (size_t q = 0; q < out_plane; q++) dxp[ap[q]] += dyp[q];
    }
}

void mg_avgpool_forward(const mg_pool_shape *s, const float *x, float *y, int n)
{
    MG_ASSERT(s && x && y && n > 0);
    size_t in_plane = (size_t)s->h * s->w, out_plane = (size_t)s->ho * s->wo;
    size_t planes = (size_t)n * s->c;
    float inv = 1.0f / (float)(s->kh * s->kw);
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * in_plane;
        float *yp = y + pl * out_plane;
        for (int ho = 0; ho < s->ho; ho++) {
            int h0 = ho * s->stride - s->pad;
            int ha = h0 < 0 ? 0 : h0, hb = h0 + s->kh < s->h ? h0 + s->kh : s->h;
            for (int wo = 0; wo < s->wo; wo++) {
                int w0 = wo * s->stride - s->pad;
                int wa = w0 < 0 ? 0 : w0, wb = w0 + s->kw < s->w ? w0 + s->kw : s->w;
                float acc = 0.0f;
                for (int hh = ha; hh < hb; hh++)
                    for (int ww = wa; ww < wb; ww++) acc += xp[hh * s->w + ww];
                yp[ho * s->wo + wo] = acc * inv;
            }
        }
    }
}

void mg_avgpool_backward(const mg_pool_shape *s, const float *dy, float *dx, int n)
{
    MG_ASSERT(s && dy && dx && n > 0);
    size_t in_plane = (size_t)s->h * s->w, out_plane = (size_t)s->ho * s->wo;
    size_t planes = (size_t)n * s->c;
    float inv = 1.0f / (float)(s->kh * s->kw);
    memset(dx, 0, sizeof(float) * planes * in_plane);
    for (size_t pl = 0; pl < planes; pl++) {
        float *dxp = dx + pl * in_plane;
        const float *dyp = dy + pl * out_plane;
        for (int ho = 0; ho < s->ho; ho++) {
            int h0 = ho * s->stride - s->pad;
            int ha = h0 < 0 ? 0 : h0, hb = h0 + s->kh < s->h ? h0 + s->kh : s->h;
            for (int wo = 0; wo < s->wo; wo++) {
                int w0 = wo * s->stride - s->pad;
                int wa = w0 < 0 ? 0 : w0, wb = w0 + s->kw < s->w ? w0 + s->kw : s->w;
                float g = dyp[ho * s->wo + wo] * inv;
                for (int hh = ha; hh < hb; hh++)
                    for (int ww = wa; ww < wb; ww++) dxp[hh * s->w + ww] += g;
            }
        }
    }
}

void mg_gap_forward(int c, int hw, int n, const float *x, float *y)
{
    MG_ASSERT(c > 0 && hw > 0 && n > 0 && x && y);
    size_t planes = (size_t)n * c;
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * hw;
        float a[4] = {0};
        int i = 0;
        for (; i + 4 <= hw; i += 4)
            for (int u = 0; u < 4; u++) a[u] += xp[i + u];
        for (; i < hw; i++) a[0] += xp[i];
        y[pl] = ((a[0] + a[1]) + (a[2] + a[3])) / (float)hw;
    }
}

void mg_gap_backward(int c, int hw, int n, const float *dy, float *dx)
{
    MG_ASSERT(c > 0 && hw > 0 && n > 0 && dy && dx);
    size_t planes = (size_t)n * c;
    float inv = 1.0f / (float)hw;
    for (size_t pl = 0; pl < planes; pl++) {
        float g = dy[pl] * inv;
        float *d = dx + pl * hw;
        for (int i = 0; i < hw; i++) d[i] = g;
    }
}

/* ---------------------------------------------------------------- the layers */

/* MG_LAYER_MAXPOOL, MG_LAYER_AVGPOOL over l->pool and MG_LAYER_GAP over
 * l->c x l->h x l->w: no parameters, run serially (a conv before them
 * dominates); backward only forms dx.  Max pooling keeps its argmax (int32,
 * n x out) in buf[0]. */
static void maxpool_buffers(const mg_layer *l, int max_batch, mg_layer_mem *mem)
{
    (void)max_batch;
    mem->per_ex[0] = (size_t)l->out; /* int32 argmax */
}

static void maxpool_layer_forward(mg_layer *l, const mg_fwd_ctx *c)
{
    mg_maxpool_forward(&l->pool, c->x, c->y, (int32_t *)l->buf[0], c->n);
}

static void maxpool_layer_backward(const mg_layer *l, const mg_bwd_ctx *c)
{
    if (c->dx) mg_maxpool_backward(&l->pool, (const int32_t *)l->buf[0], c->dy, c->dx, c->n);
}

static void pool_detail(const mg_layer *l, char *buf, size_t len)
{
    snprintf(buf, len, "(%dx%d)", l->pool.kh, l->pool.kw);
}

static void avgpool_layer_forward(mg_layer *l, const mg_fwd_ctx *c)
{
    mg_avgpool_forward(&l->pool, c->x, c->y, c->n);
}

static void avgpool_layer_backward(const mg_layer *l, const mg_bwd_ctx *c)
{
    if (c->dx) mg_avgpool_backward(&l->pool, c->dy, c->dx, c->n);
}

static void gap_layer_forward(mg_layer *l, const mg_fwd_ctx *c)
{
    mg_gap_forward(l->c, l->h * l->w, c->n, c->x, c->y);
}

static void gap_layer_backward(const mg_layer *l, const mg_bwd_ctx *c)
{
    if (c->dx) mg_gap_backward(l->c, l->h * l->w, c->n, c->dy, c->dx);
}

const mg_layer_ops mg_maxpool_ops = {
    .name = "maxpool",
    .buffers = maxpool_buffers,
    .forward = maxpool_layer_forward,
    .backward = maxpool_layer_backward,
    .detail = pool_detail,
};

const mg_layer_ops mg_avgpool_ops = {
    .name = "avgpool",
    .forward = avgpool_layer_forward,
    .backward = avgpool_layer_backward,
    .detail = pool_detail,
};

const mg_layer_ops mg_gap_ops = {
    .name = "gap", .forward = gap_layer_forward, .backward = gap_layer_backward};

/* Global average pooling of an nChw8c input (src/blk8.h) into the plain
 * n x c output (mg_conv_pick_ops). */
static void gap_blk8_forward(mg_layer *l, const mg_fwd_ctx *c)
{
    mg_gap_blk8_forward(l->c, l->h * l->w, c->n, c->x, c->y);
}

static void gap_blk8_backward(const mg_layer *l, const mg_bwd_ctx *c)
{
    if (c->dx) mg_gap_blk8_backward(l->c, l->h * l->w, c->n, c->dy, c->dx);
}

const mg_layer_ops mg_gap_blk8_ops = {
    .name = "gap", .forward = gap_blk8_forward, .backward = gap_blk8_backward};
