/* layer_conv2d.c - 2-D convolution: im2col and shifted-view GEMM kernels,
 * He initialisation, and the naive direct reference.  See conv.h for the
 * layout and the two algorithms; bench/bench_conv.c measures them. */
#include "conv.h"

#include <math.h>
#include <string.h>

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

static int shift_applies(const mg_conv2d_shape *s)
{
    return s->stride == 1 && s->pad <= s->kh - 1 && s->pad <= s->kw - 1;
}

static int is_pointwise(const mg_conv2d_shape *s)
{
    return s->kh == 1 && s->kw == 1 && s->stride == 1 && s->pad == 0;
}

/* The default choice, from bench/bench_conv.c on the target network (see
 * the numbers there): the shifted views win when there are enough input
 * channels for the per-tap GEMMs (K = cin) and the padded grid wastes
 * little; im2col otherwise.  Chunks keep a GEMM's operands in L2. */
static void choose_algo(mg_conv2d_shape *s)
{
    int shift = shift_applies(s) && s->cin >= 16 && s->cout >= 16 && s->kh * s->kw > 1;
    if (shift) {
        double grid = (double)(s->h + s->pad) * (s->w + s->pad);
        if (grid > 1.2 * s->ho * s->wo) shift = 0;
    }
    s->fwd = s->dw = s->dx = shift ? MG_CONV_SHIFT : MG_CONV_IM2COL;
    /* about 2^17 floats (512 KiB) of col or of padded planes per chunk */
    size_t per = shift ? (size_t)imax(s->cin, s->cout) * (s->h + s->pad) * (s->w + s->pad)
                       : (size_t)s->cin * s->kh * s->kw * s->ho * s->wo;
    int c = (int)((size_t)(1 << 17) / (per ? per : 1));
    s->chunk = imax(1, imin(c, 64));
    if (!shift && is_pointwise(s)) s->chunk = 1;
}

mg_status mg_conv2d_shape_init(mg_conv2d_shape *s, int cin, int h, int w, int cout, int kh,
                               int kw, int stride, int pad, int bias)
{
    MG_ASSERT(s);
    memset(s, 0, sizeof *s);
    if (cin < 1 || h < 1 || w < 1 || cout < 1 || kh < 1 || kw < 1 || stride < 1 || pad < 0)
        return mg_fail(MG_ERR_CONFIG,
                       "conv2d: sizes must be positive (cin %d, %dx%d, cout %d, kernel %dx%d, "
                       "stride %d, pad %d)",
                       cin, h, w, cout, kh, kw, stride, pad);
    if (pad >= kh || pad >= kw)
        return mg_fail(MG_ERR_CONFIG, "conv2d: padding %d must be below the kernel size %dx%d",
                       pad, kh, kw);
    if (h + 2 * pad < kh || w + 2 * pad < kw)
        return mg_fail(MG_ERR_CONFIG, "conv2d: kernel %dx%d larger than the padded input %dx%d",
                       kh, kw, h + 2 * pad, w + 2 * pad);
    if ((double)cout * cin * kh * kw > 1e9 || (double)cin * h * w > 1e9)
        return mg_fail(MG_ERR_CONFIG, "conv2d: layer too large");
    s->cin = cin;
    s->h = h;
    s->w = w;
    s->cout = cout;
    s->kh = kh;
    s->kw = kw;
    s->stride = stride;
    s->pad = pad;
    s->bias = bias ? 1 : 0;
    s->ho = (h + 2 * pad - kh) / stride + 1;
    s->wo = (w + 2 * pad - kw) / stride + 1;
    choose_algo(s);
    return MG_OK;
}

int mg_conv2d_set_algo(mg_conv2d_shape *s, mg_conv_algo fwd, mg_conv_algo dw, mg_conv_algo dx,
                       int chunk)
{
    int any_shift = fwd == MG_CONV_SHIFT || dw == MG_CONV_SHIFT || dx == MG_CONV_SHIFT;
    if (chunk < 1 || (any_shift && !shift_applies(s))) return 0;
    s->fwd = fwd;
    s->dw = dw;
    s->dx = dx;
    s->chunk = chunk;
    return 1;
}

size_t mg_conv2d_n_params(const mg_conv2d_shape *s)
{
    return (size_t)s->cout * s->cin * s->kh * s->kw + (s->bias ? (size_t)s->cout : 0);
}

double mg_conv2d_flops(const mg_conv2d_shape *s)
{
    return 2.0 * s->cout * s->cin * s->kh * s->kw * s->ho * s->wo;
}

void mg_conv2d_init_he(const mg_conv2d_shape *s, float *params, float gain2, mg_rng *rng)
{
    size_t nw = (size_t)s->cout * s->cin * s->kh * s->kw;
    double sd = sqrt(gain2 / ((double)s->cin * s->kh * s->kw));
    for (size_t i = 0; i < nw; i++) params[i] = (float)(sd * mg_rng_normal(rng));
    if (s->bias) memset(params + nw, 0, sizeof(float) * s->cout);
}

/* ---------------------------------------------------------------- workspace */

/* Views into the workspace for chunks of b examples.  Every size grows with
 * b, so the layout for b <= the workspace's chunk fits its buffer. */
typedef struct {
    int b;
    /* im2col */
    size_t P, K, cols;  /* ho*wo, cin*kh*kw, b*P                  */
    float *col;         /* K x cols                                */
    float *tmp;         /* cout x cols (b > 1): output / dy gather */
    /* shift */
    int Wp;             /* w + pad: row length of the padded grid  */
    size_t blk, Np;     /* (h + pad) * Wp per example, b * blk     */
    size_t mx, lx;      /* x planes: front margin, plane length    */
    size_t mf, ly;      /* dy planes: front margin, plane length   */
    float *xp;          /* cin x lx                                */
    float *dyp;         /* cout x ly                               */
    float *grid;        /* max(cin, cout) x Np: output / dx grid   */
    float *wr, *dwr;    /* taps x cout x cin, repacked W and dW    */
    size_t total;
} conv_ws;

static size_t round16(size_t v) { return (v + 15) & ~(size_t)15; }

static conv_ws ws_layout(const mg_conv2d_shape *s, int b, float *base)
{
    conv_ws v;
    memset(&v, 0, sizeof v);
    v.b = b;
    size_t off = 0;
    int need_col = s->fwd == MG_CONV_IM2COL || s->dw == MG_CONV_IM2COL ||
                   s->dx == MG_CONV_IM2COL;
    int need_shift = s->fwd == MG_CONV_SHIFT || s->dw == MG_CONV_SHIFT ||
                     s->dx == MG_CONV_SHIFT;
    v.P = (size_t)s->ho * s->wo;
    v.K = (size_t)s->cin * s->kh * s->kw;
    v.cols = (size_t)b * v.P;
    if (need_col) {
        int direct = is_pointwise(s) && b == 1; /* col = x itself */
        if (!direct) {
            v.col = base ? base + off : NULL;
            off += round16(v.K * v.cols);
        }
        if (b > 1) {
            v.tmp = base ? base + off : NULL;
            off += round16((size_t)s->cout * v.cols);
        }
    }
    if (need_shift) {
        int p = s->pad;
        size_t taps = (size_t)s->kh * s->kw;
        v.Wp = s->w + p;
        v.blk = (size_t)(s->h + p) * v.Wp;
        v.Np = (size_t)b * v.blk;
        /* x planes: reads reach from -p to Np-1 + (kh-1)*Wp + kw-1-p */
        v.mx = round16((size_t)p);
        v.lx = round16(v.mx + v.Np + (size_t)(s->kh - 1) * v.Wp + s->kw);
        /* dy planes: reads reach from -((kh-1)*Wp + kw-1-p) to Np-1+p */
        v.mf = round16((size_t)(s->kh - 1) * v.Wp + s->kw - 1 - p);
        v.ly = round16(v.mf + v.Np + p);
        if (s->fwd == MG_CONV_SHIFT || s->dw == MG_CONV_SHIFT) {
            v.xp = base ? base + off : NULL;
            off += (size_t)s->cin * v.lx;
        }
        if (s->dw == MG_CONV_SHIFT || s->dx == MG_CONV_SHIFT) {
            v.dyp = base ? base + off : NULL;
            off += (size_t)s->cout * v.ly;
        }
        if (s->fwd == MG_CONV_SHIFT || s->dx == MG_CONV_SHIFT) {
            v.grid = base ? base + off : NULL;
            off += round16((size_t)imax(s->cin, s->cout) * v.Np);
        }
        v.wr = base ? base + off : NULL;
        off += round16(taps * s->cout * s->cin);
        if (s->dw == MG_CONV_SHIFT) {
            v.dwr = base ? base + off : NULL;
            off += round16(taps * s->cout * s->cin);
        }
    }
    v.total = off;
    return v;
}

static int chunk_for(const mg_conv2d_shape *s, int n) { return imax(1, imin(s->chunk, n)); }

size_t mg_conv2d_workspace(const mg_conv2d_shape *s, int max_batch)
{
    MG_ASSERT(max_batch > 0);
    return ws_layout(s, chunk_for(s, max_batch), NULL).total;
}

/* ---------------------------------------------------------------- im2col */

/* Range [lo, hi) of output columns wo whose input column wo*stride - pad + j
 * lies inside 0..w-1. */
static void valid_range(int j, int stride, int pad, int w, int wo, int *lo, int *hi)
{
    int a = pad - j; /* need wo*stride >= a */
    int l = a <= 0 ? 0 : (a + stride - 1) / stride;
    int bnd = w - 1 + pad - j; /* need wo*stride <= bnd */
    int h = bnd < 0 ? 0 : bnd / stride + 1;
    *lo = imin(l, wo);
    *hi = imax(*lo, imin(h, wo));
}

/* col (K x ldc): row (ci, i, j), column e*P + ho*wo + wo_ = x[e][ci][ho*stride-pad+i][...]. */
static void im2col(const mg_conv2d_shape *s, const float *x, int b, float *col, size_t ldc)
{
    int H = s->h, W = s->w, Ho = s->ho, Wo = s->wo, st = s->stride, p = s->pad;
    size_t P = (size_t)Ho * Wo, plane = (size_t)H * W;
    for (int e = 0; e < b; e++) {
        for (int ci = 0; ci < s->cin; ci++) {
            const float *xc = x + ((size_t)e * s->cin + ci) * plane;
            for (int i = 0; i < s->kh; i++) {
                for (int j = 0; j < s->kw; j++) {
                    size_t r = ((size_t)ci * s->kh + i) * s->kw + j;
                    float *d = col + r * ldc + (size_t)e * P;
                    int lo, hi;
                    valid_range(j, st, p, W, Wo, &lo, &hi);
                    for (int ho = 0; ho < Ho; ho++, d += Wo) {
                        int hin = ho * st - p + i;
                        if (hin < 0 || hin >= H || hi == lo) {
                            memset(d, 0, sizeof(float) * Wo);
                            continue;
                        }
                        const float *src = xc + (size_t)hin * W + (lo * st - p + j);
                        for (int k = 0; k < lo; k++) d[k] = 0.0f;
                        if (st == 1) {
                            memcpy(d + lo, src, sizeof(float) * (hi - lo));
                        } else {
                            for (int k = 0; k < hi - lo; k++) d[lo + k] = src[(size_t)k * st];
                        }
                        for (int k = hi; k < Wo; k++) d[k] = 0.0f;
                    }
                }
            }
        }
    }
}

/* The adjoint of im2col: dx (b examples, overwritten) = sum of col entries. */
static void col2im(const mg_conv2d_shape *s, const float *col, size_t ldc, int b, float *dx)
{
    int H = s->h, W = s->w, Ho = s->ho, Wo = s->wo, st = s->stride, p = s->pad;
    size_t P = (size_t)Ho * Wo, plane = (size_t)H * W;
    memset(dx, 0, sizeof(float) * (size_t)b * s->cin * plane);
    for (int e = 0; e < b; e++) {
        for (int ci = 0; ci < s->cin; ci++) {
            float *xc = dx + ((size_t)e * s->cin + ci) * plane;
            for (int i = 0; i < s->kh; i++) {
                for (int j = 0; j < s->kw; j++) {
                    size_t r = ((size_t)ci * s->kh + i) * s->kw + j;
                    const float *d = col + r * ldc + (size_t)e * P;
                    int lo, hi;
                    valid_range(j, st, p, W, Wo, &lo, &hi);
                    for (int ho = 0; ho < Ho; ho++, d += Wo) {
                        int hin = ho * st - p + i;
                        if (hin < 0 || hin >= H) continue;
                        float *dst = xc + (size_t)hin * W + (lo * st - p + j);
                        const float *srcd = d + lo;
                        int len = hi - lo;
                        if (st == 1) {
                            for (int k = 0; k < len; k++) dst[k] += srcd[k];
                        } else {
                            for (int k = 0; k < len; k++) dst[(size_t)k * st] += srcd[k];
                        }
                    }
                }
            }
        }
    }
}

/* y chunk (b x cout x P) = tmp (cout x b*P) + bias */
static void scatter_out(const float *tmp, size_t ldt, int b, int cout, size_t P, const float *bias,
                        float *y)
{
    for (int e = 0; e < b; e++) {
        for (int co = 0; co < cout; co++) {
            const float *src = tmp + (size_t)co * ldt + (size_t)e * P;
            float *dst = y + ((size_t)e * cout + co) * P;
            if (bias) {
                float bv = bias[co];
                for (size_t q = 0; q < P; q++) dst[q] = src[q] + bv;
            } else {
                memcpy(dst, src, sizeof(float) * P);
            }
        }
    }
}

/* tmp (cout x b*P) = dy chunk (b x cout x P) */
static void gather_dy(const float *dy, int b, int cout, size_t P, float *tmp, size_t ldt)
{
    for (int e = 0; e < b; e++)
        for (int co = 0; co < cout; co++)
            memcpy(tmp + (size_t)co * ldt + (size_t)e * P, dy + ((size_t)e * cout + co) * P,
                   sizeof(float) * P);
}

static void add_bias(float *y, int cout, size_t P, const float *bias)
{
    for (int co = 0; co < cout; co++) {
        float bv = bias[co];
        float *r = y + (size_t)co * P;
        for (size_t q = 0; q < P; q++) r[q] += bv;
    }
}

/* ---------------------------------------------------------------- shift */

/* Planes of the padded grid (lead margin m, plane length L): example e's
 * block starts at m + e*blk and holds pad zero rows, then h rows of
 * [w values, pad zeros].  Everything else in the plane is zero. */
static void pad_planes(const float *x, int C, int b, int H, int W, int p, int Wp, size_t blk,
                       float *xp, size_t m, size_t L)
{
    size_t plane = (size_t)H * W;
    for (int c = 0; c < C; c++) {
        float *pl = xp + (size_t)c * L;
        memset(pl, 0, sizeof(float) * m);
        for (int e = 0; e < b; e++) {
            float *blkp = pl + m + (size_t)e * blk;
            const float *src = x + ((size_t)e * C + c) * plane;
            memset(blkp, 0, sizeof(float) * (size_t)p * Wp);
            float *row = blkp + (size_t)p * Wp;
            for (int r = 0; r < H; r++, row += Wp, src += W) {
                memcpy(row, src, sizeof(float) * W);
                for (int k = W; k < Wp; k++) row[k] = 0.0f;
            }
        }
        size_t used = m + (size_t)b * blk;
        memset(pl + used, 0, sizeof(float) * (L - used));
    }
}

/* dy planes: output (ho, wo) of example e at m + e*blk + ho*Wp + wo; the
 * grid's other points (wo >= Wo, ho >= Ho) and the margins are zero. */
static void pad_dy(const float *dy, int C, int b, int Ho, int Wo, int rows, int Wp, size_t blk,
                   float *dyp, size_t m, size_t L)
{
    size_t plane = (size_t)Ho * Wo;
    for (int c = 0; c < C; c++) {
        float *pl = dyp + (size_t)c * L;
        memset(pl, 0, sizeof(float) * m);
        for (int e = 0; e < b; e++) {
            float *row = pl + m + (size_t)e * blk;
            const float *src = dy + ((size_t)e * C + c) * plane;
            for (int r = 0; r < Ho; r++, row += Wp, src += Wo) {
                memcpy(row, src, sizeof(float) * Wo);
                for (int k = Wo; k < Wp; k++) row[k] = 0.0f;
            }
            memset(row, 0, sizeof(float) * (size_t)(rows - Ho) * Wp);
        }
        size_t used = m + (size_t)b * blk;
        memset(pl + used, 0, sizeof(float) * (L - used));
    }
}

/* Wr[t][co][ci] = W[co][ci][t], t = i*kw + j */
static void repack_w(const mg_conv2d_shape *s, const float *Wt, float *wr)
{
    int taps = s->kh * s->kw;
    for (int co = 0; co < s->cout; co++)
        for (int ci = 0; ci < s->cin; ci++)
            for (int t = 0; t < taps; t++)
                wr[((size_t)t * s->cout + co) * s->cin + ci] =
                    Wt[((size_t)co * s->cin + ci) * taps + t];
}

/* Offset of tap (i, j) in the padded grid: output q reads input q + shift. */
static long tap_shift(const conv_ws *v, int i, int j, int p) { return (long)i * v->Wp + j - p; }

static void shift_forward_chunk(const mg_conv2d_shape *s, const conv_ws *v, const float *x,
                                int b, const float *bias, float *y)
{
    int p = s->pad, cin = s->cin, cout = s->cout;
    size_t Np = (size_t)b * v->blk;
    pad_planes(x, cin, b, s->h, s->w, p, v->Wp, v->blk, v->xp, v->mx, v->lx);
    for (int i = 0; i < s->kh; i++) {
        for (int j = 0; j < s->kw; j++) {
            int t = i * s->kw + j;
            const float *B = v->xp + v->mx + tap_shift(v, i, j, p);
            mg_sgemm(0, 0, cout, (int)Np, cin, 1.0f, v->wr + (size_t)t * cout * cin, cin, B,
                     (int)v->lx, t == 0 ? 0.0f : 1.0f, v->grid, (int)Np);
        }
    }
    size_t P = (size_t)s->ho * s->wo;
    for (int e = 0; e < b; e++) {
        for (int co = 0; co < cout; co++) {
            const float *g = v->grid + (size_t)co * Np + (size_t)e * v->blk;
            float *dst = y + ((size_t)e * cout + co) * P;
            float bv = bias ? bias[co] : 0.0f;
            for (int r = 0; r < s->ho; r++, g += v->Wp, dst += s->wo)
                for (int k = 0; k < s->wo; k++) dst[k] = g[k] + bv;
        }
    }
}

/* ---------------------------------------------------------------- forward */

void mg_conv2d_forward(const mg_conv2d_shape *s, const float *params, const float *x, float *y,
                       int n, float *ws)
{
    MG_ASSERT(s && params && x && y && n > 0 && ws);
    const float *Wt = params;
    const float *bias = s->bias ? params + (size_t)s->cout * s->cin * s->kh * s->kw : NULL;
    int b = chunk_for(s, n);
    conv_ws v = ws_layout(s, b, ws);
    size_t xs = (size_t)s->cin * s->h * s->w, ys = (size_t)s->cout * s->ho * s->wo;
    int K = (int)v.K, P = (int)v.P;
    if (s->fwd == MG_CONV_SHIFT) repack_w(s, Wt, v.wr);
    for (int e0 = 0; e0 < n; e0 += b) {
        int bb = imin(b, n - e0);
        const float *xe = x + (size_t)e0 * xs;
        float *ye = y + (size_t)e0 * ys;
        if (s->fwd == MG_CONV_SHIFT) {
            shift_forward_chunk(s, &v, xe, bb, bias, ye);
            continue;
        }
        const float *col = v.col;
        if (v.col)
            im2col(s, xe, bb, v.col, v.cols);
        else
            col = xe; /* pointwise, chunk 1: x is col */
        int ldc = v.col ? (int)v.cols : P;
        if (b == 1) {
            mg_sgemm(0, 0, s->cout, P, K, 1.0f, Wt, K, col, ldc, 0.0f, ye, P);
            if (bias) add_bias(ye, s->cout, v.P, bias);
        } else {
            int nc = bb * P;
            mg_sgemm(0, 0, s->cout, nc, K, 1.0f, Wt, K, col, ldc, 0.0f, v.tmp, (int)v.cols);
            scatter_out(v.tmp, v.cols, bb, s->cout, v.P, bias, ye);
        }
    }
}

/* ---------------------------------------------------------------- backward */

void mg_conv2d_backward(const mg_conv2d_shape *s, const float *params, float *grads,
                        const float *x, const float *dy, float *dx, int n, float *ws)
{
    MG_ASSERT(s && params && grads && x && dy && n > 0 && ws);
    int cin = s->cin, cout = s->cout, taps = s->kh * s->kw;
    const float *Wt = params;
    size_t nw = (size_t)cout * cin * taps;
    float *dW = grads;
    int b = chunk_for(s, n);
    conv_ws v = ws_layout(s, b, ws);
    size_t xs = (size_t)cin * s->h * s->w, ys = (size_t)cout * s->ho * s->wo;
    int K = (int)v.K, P = (int)v.P;

    if (s->bias) {
        float *db = grads + nw;
        for (int e = 0; e < n; e++) {
            for (int co = 0; co < cout; co++) {
                const float *r = dy + (size_t)e * ys + (size_t)co * P;
                float acc = 0.0f;
                for (int q = 0; q < P; q++) acc += r[q];
                db[co] += acc;
            }
        }
    }
    int need_shift_dy = s->dw == MG_CONV_SHIFT || (dx && s->dx == MG_CONV_SHIFT);
    if (s->dw == MG_CONV_SHIFT) memset(v.dwr, 0, sizeof(float) * nw);
    if (dx && s->dx == MG_CONV_SHIFT) repack_w(s, Wt, v.wr);

    for (int e0 = 0; e0 < n; e0 += b) {
        int bb = imin(b, n - e0);
        const float *xe = x + (size_t)e0 * xs;
        const float *dye = dy + (size_t)e0 * ys;
        float *dxe = dx ? dx + (size_t)e0 * xs : NULL;
        int nc = bb * P;

        /* dY in the im2col layout (cout x bb*P), when an im2col step needs it */
        const float *dyc = NULL;
        int lddy = P;
        if (s->dw == MG_CONV_IM2COL || (dx && s->dx == MG_CONV_IM2COL)) {
            if (b == 1) {
                dyc = dye;
            } else {
                gather_dy(dye, bb, cout, v.P, v.tmp, v.cols);
                dyc = v.tmp;
                lddy = (int)v.cols;
            }
        }
        size_t Np = (size_t)bb * v.blk;
        if (need_shift_dy)
            pad_dy(dye, cout, bb, s->ho, s->wo, s->h + s->pad, v.Wp, v.blk, v.dyp, v.mf, v.ly);

        /* weight gradient */
        if (s->dw == MG_CONV_IM2COL) {
            const float *col = v.col;
            int ldc = (int)v.cols;
            if (v.col) {
                im2col(s, xe, bb, v.col, v.cols);
            } else {
                col = xe;
                ldc = P;
            }
            mg_sgemm(0, 1, cout, K, nc, 1.0f, dyc, lddy, col, ldc, 1.0f, dW, K);
        } else {
            pad_planes(xe, cin, bb, s->h, s->w, s->pad, v.Wp, v.blk, v.xp, v.mx, v.lx);
            const float *dyb = v.dyp + v.mf;
            for (int i = 0; i < s->kh; i++) {
                for (int j = 0; j < s->kw; j++) {
                    int t = i * s->kw + j;
                    const float *B = v.xp + v.mx + tap_shift(&v, i, j, s->pad);
                    mg_sgemm(0, 1, cout, cin, (int)Np, 1.0f, dyb, (int)v.ly, B, (int)v.lx, 1.0f,
                             v.dwr + (size_t)t * cout * cin, cin);
                }
            }
        }
        if (!dxe) continue;

        /* input gradient */
        if (s->dx == MG_CONV_IM2COL) {
            if (is_pointwise(s) && b == 1) {
                mg_sgemm(1, 0, cin, P, cout, 1.0f, Wt, K, dyc, lddy, 0.0f, dxe, P);
            } else {
                /* dcol = W^T dY into the col buffer, then fold back */
                mg_sgemm(1, 0, K, nc, cout, 1.0f, Wt, K, dyc, lddy, 0.0f, v.col, (int)v.cols);
                col2im(s, v.col, v.cols, bb, dxe);
            }
        } else {
            const float *dyb = v.dyp + v.mf;
            for (int i = 0; i < s->kh; i++) {
                for (int j = 0; j < s->kw; j++) {
                    int t = i * s->kw + j;
                    const float *A = dyb - tap_shift(&v, i, j, s->pad);
                    mg_sgemm(1, 0, cin, (int)Np, cout, 1.0f, v.wr + (size_t)t * cout * cin, cin,
                             A, (int)v.ly, t == 0 ? 0.0f : 1.0f, v.grid, (int)Np);
                }
            }
            size_t plane = (size_t)s->h * s->w;
            for (int e = 0; e < bb; e++) {
                for (int ci = 0; ci < cin; ci++) {
                    const float *g = v.grid + (size_t)ci * Np + (size_t)e * v.blk +
                                     (size_t)s->pad * v.Wp;
                    float *dst = dxe + ((size_t)e * cin + ci) * plane;
                    for (int r = 0; r < s->h; r++, g += v.Wp, dst += s->w)
                        memcpy(dst, g, sizeof(float) * s->w);
                }
            }
        }
    }
    if (s->dw == MG_CONV_SHIFT) {
        for (int co = 0; co < cout; co++)
            for (int ci = 0; ci < cin; ci++)
                for (int t = 0; t < taps; t++)
                    dW[((size_t)co * cin + ci) * taps + t] +=
                        v.dwr[((size_t)t * cout + co) * cin + ci];
    }
}

/* ---------------------------------------------------------------- reference */

void mg_conv2d_forward_ref(const mg_conv2d_shape *s, const float *params, const float *x,
                           float *y, int n)
{
    const float *Wt = params;
    const float *bias = s->bias ? params + (size_t)s->cout * s->cin * s->kh * s->kw : NULL;
    for (int e = 0; e < n; e++)
        for (int co = 0; co < s->cout; co++)
            for (int ho = 0; ho < s->ho; ho++)
                for (int wo = 0; wo < s->wo; wo++) {
                    double acc = bias ? bias[co] : 0.0;
                    for (int ci = 0; ci < s->cin; ci++)
                        for (int i = 0; i < s->kh; i++)
                            for (int j = 0; j < s->kw; j++) {
                                int hi = ho * s->stride - s->pad + i;
                                int wi = wo * s->stride - s->pad + j;
                                if (hi < 0 || hi >= s->h || wi < 0 || wi >= s->w) continue;
                                acc += (double)Wt[((size_t)(co * s->cin + ci) * s->kh + i) * s->kw + j] *
                                       x[(((size_t)e * s->cin + ci) * s->h + hi) * s->w + wi];
                            }
                    y[(((size_t)e * s->cout + co) * s->ho + ho) * s->wo + wo] = (float)acc;
                }
}

void mg_conv2d_backward_ref(const mg_conv2d_shape *s, const float *params, float *grads,
                            const float *x, const float *dy, float *dx, int n)
{
    const float *Wt = params;
    size_t nw = (size_t)s->cout * s->cin * s->kh * s->kw;
#define DY(e, co, ho, wo) dy[(((size_t)(e) * s->cout + (co)) * s->ho + (ho)) * s->wo + (wo)]
    for (int co = 0; co < s->cout; co++)
        for (int ci = 0; ci < s->cin; ci++)
            for (int i = 0; i < s->kh; i++)
                for (int j = 0; j < s->kw; j++) {
                    double acc = 0.0;
                    for (int e = 0; e < n; e++)
                        for (int ho = 0; ho < s->ho; ho++)
                            for (int wo = 0; wo < s->wo; wo++) {
                                int hi = ho * s->stride - s->pad + i;
                                int wi = wo * s->stride - s->pad + j;
                                if (hi < 0 || hi >= s->h || wi < 0 || wi >= s->w) continue;
                                acc += (double)DY(e, co, ho, wo) *
                                       x[(((size_t)e * s->cin + ci) * s->h + hi) * s->w + wi];
                            }
                    grads[((size_t)(co * s->cin + ci) * s->kh + i) * s->kw + j] += (float)acc;
                }
    if (s->bias) {
        for (int co = 0; co < s->cout; co++) {
            double acc = 0.0;
            for (int e = 0; e < n; e++)
                for (int ho = 0; ho < s->ho; ho++)
                    for (int wo = 0; wo < s->wo; wo++) acc += DY(e, co, ho, wo);
            grads[nw + co] += (float)acc;
        }
    }
    if (!dx) return;
    /* dx[e][ci][hi][wi] = sum over co, taps (i, j) and the output (ho, wo)
     * whose window puts tap (i, j) on (hi, wi) */
    for (int e = 0; e < n; e++)
        for (int ci = 0; ci < s->cin; ci++)
            for (int hi = 0; hi < s->h; hi++)
                for (int wi = 0; wi < s->w; wi++) {
                    double acc = 0.0;
                    for (int co = 0; co < s->cout; co++)
                        for (int i = 0; i < s->kh; i++)
                            for (int j = 0; j < s->kw; j++) {
                                int th = hi + s->pad - i, tw = wi + s->pad - j;
                                if (th < 0 || tw < 0 || th % s->stride || tw % s->stride)
                                    continue;
                                int ho = th / s->stride, wo = tw / s->stride;
                                if (ho >= s->ho || wo >= s->wo) continue;
                                acc += (double)Wt[((size_t)(co * s->cin + ci) * s->kh + i) * s->kw + j] *
                                       DY(e, co, ho, wo);
                            }
                    dx[(((size_t)e * s->cin + ci) * s->h + hi) * s->w + wi] = (float)acc;
                }
#undef DY
}
