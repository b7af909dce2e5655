/* layer_conv2d.c - 2-D convolution: im2col and shifted-view GEMM kernels,
 * He initialisation, the naive direct reference, and the MG_LAYER_CONV2D
 * layer (mg_conv2d_ops, at the end).  See conv.h for the layout and the
 * algorithms; bench/bench_conv.c measures them. */
#include "conv.h"
#include "conv_backend.h"
#include "layers.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Winograd: floats past every buffer that its 4-wide loads may touch */
#define WINO_SLACK 4

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

static int shift_applies(const mg_conv2d_shape *s)
{
    return s->stride == 1 && s->pad <= s->kh - 1 && s->pad <= s->kw - 1;
}

static int wino_applies(const mg_conv2d_shape *s);

static int is_pointwise(const mg_conv2d_shape *s)
{
    return s->kh == 1 && s->kw == 1 && s->stride == 1 && s->pad == 0;
}

/* The default choice, from bench/bench_conv.c --explore on the target
 * network at batch 128 with 2 OpenBLAS threads (Zen 4, OpenBLAS 0.3.21):
 *  - 3x3 stride-1 convs with >= 16 channels: SHIFT beats IM2COL in both
 *    directions at every chunk (stage 1, 16 ch 28x28: fwd 5.3 vs 8.2 ms,
 *    bwd 10.6 vs 16.8 ms; stage 3, 64 ch 7x7, despite its 31% padded grid:
 *    fwd 4.5 vs 6.1, bwd 9.4 vs 12.5).  Chunk 64: big GEMMs give OpenBLAS's
 *    threads enough work; smaller chunks run on its unthreaded small-matrix
 *    kernels.
 *  - The weight gradient of a conv with few channels (16 x 16) is a GEMM with
 *    a 16 x 16 result and a long inner dimension, which OpenBLAS threads
 *    badly (stage 1 bwd 16.9 ms at chunk 64): split it into pieces of at
 *    most 10^6 multiply-adds, OpenBLAS's limit for its unthreaded
 *    small-matrix kernels (10.6 ms).
 *  - Everything else (stride 2, 1x1, the 1-channel stem): IM2COL; chunk 64
 *    when the GEMM is deep (K >= 64), else the one-thread chunk (stem: 4.0
 *    ms fwd+bwd at chunk 13, 1.5 ms at 8).
 *  - WINOGRAD is never the default: its transforms are serial and move 4x
 *    the activations; 1 thread: 0.7x shift at 16 channels 28x28, 1.07x at
 *    64 channels 7x7, 1.5x at 128; 2 threads: slower than shift even at 128. */
static void choose_algo(mg_conv2d_shape *s)
{
    int shift = shift_applies(s) && s->cin >= 16 && s->cout >= 16 && s->kh * s->kw > 1;
    int K = s->cin * s->kh * s->kw;
    s->fwd = s->dw = s->dx = shift ? MG_CONV_SHIFT : MG_CONV_IM2COL;
    s->dw_cols = 0;
    /* With one thread: the largest chunk whose biggest GEMM stays under
     * OpenBLAS's small-matrix limit (M*N*K <= 10^6); measured best there. */
    double per = shift ? (double)s->cout * s->cin * (s->h + s->pad) * (s->w + s->pad)
                       : (double)s->cout * K * s->ho * s->wo;
    s->chunk_1t = imax(1, imin((int)(1e6 / per), 64));
    if (shift) {
        s->chunk = 64;
        int prod = s->cin * s->cout;
        if (prod <= 512) s->dw_cols = 1000000 / prod; /* M*N*K <= 10^6 */
    } else {
        /* shallow GEMMs (the stem, 1x1 shortcuts) thread badly: keep them on
         * the small-matrix kernels as with one thread */
        s->chunk = K >= 64 ? 64 : s->chunk_1t;
    }
    if (!shift && is_pointwise(s)) s->chunk = s->chunk_1t = 1; /* x is its own col */
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
                       int chunk, int dw_cols)
{
    int any_shift = fwd == MG_CONV_SHIFT || dw == MG_CONV_SHIFT || dx == MG_CONV_SHIFT;
    int any_wino = fwd == MG_CONV_WINOGRAD || dw == MG_CONV_WINOGRAD || dx == MG_CONV_WINOGRAD;
    if (chunk < 1 || dw_cols < 0 || (any_shift && !shift_applies(s)) ||
        (any_wino && !wino_applies(s)))
        return 0;
    s->fwd = fwd;
    s->dw = dw;
    s->dx = dx;
    s->chunk = s->chunk_1t = chunk;
    s->dw_cols = dw_cols;
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
    /* winograd */
    int th, tw, pr, pwh; /* tiles per column and row; padded plane rows, half width */
    size_t te;          /* tiles per example                       */
    float *wv;          /* 16 x cin x b*te: V, then dV             */
    float *wm;          /* 16 x cout x b*te: M or dM               */
    float *wu, *wdu;    /* 16 x cout x cin: transformed W, its gradient */
    float *wscr;        /* padded planes and tile-row scratch      */
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
    int need_wino = s->fwd == MG_CONV_WINOGRAD || s->dw == MG_CONV_WINOGRAD ||
                    s->dx == MG_CONV_WINOGRAD;
    if (need_wino) {
        v.th = (s->ho + 1) / 2;
        v.tw = (s->wo + 1) / 2;
        v.pr = 2 * v.th + 2;
        v.pwh = v.tw + 1;
        v.te = (size_t)v.th * v.tw;
        size_t T = (size_t)b * v.te, cc = (size_t)s->cout * s->cin;
        v.wv = base ? base + off : NULL;
        off += round16(16 * (size_t)s->cin * T + WINO_SLACK);
        v.wm = base ? base + off : NULL;
        off += round16(16 * (size_t)s->cout * T + WINO_SLACK);
        v.wu = base ? base + off : NULL;
        off += round16(16 * cc);
        v.wdu = base ? base + off : NULL;
        off += round16(16 * cc);
        /* two padded planes, then 16 rows of pwh + slack */
        v.wscr = base ? base + off : NULL;
        off += round16(2 * (size_t)v.pr * v.pwh + WINO_SLACK +
                       16 * ((size_t)v.pwh + WINO_SLACK) + WINO_SLACK);
    }
    v.total = off;
    return v;
}

/* Examples per step for a batch of n at the current OpenBLAS thread count. */
static int chunk_for(const mg_conv2d_shape *s, int n)
{
    int c = mg_get_threads() > 1 ? s->chunk : s->chunk_1t;
    return imax(1, imin(c, n));
}

size_t mg_conv2d_workspace(const mg_conv2d_shape *s, int max_batch)
{
    MG_ASSERT(max_batch > 0);
    int b = imax(1, imin(imax(s->chunk, s->chunk_1t), max_batch));
    return ws_layout(s, b, NULL).total;
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

/* dst = src + bv over len floats (blocks of 8: vectorised at -O2) */
static void copy_add(float *restrict dst, const float *restrict src, size_t len, float bv)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8)
        for (int u = 0; u < 8; u++) dst[i + u] = src[i + u] + bv;
    for (; i < len; i++) dst[i] = src[i] + bv;
}

/* y chunk (b x cout x P) = tmp (cout x b*P) + bias */
static void scatter_out(const float *tmp, size_t ldt, int b, int cout, size_t P, const float *bias,
                        float *y)
{
    for (int e = 0; e < b; e++) {
        for (int co = 0; co < cout; co++) {
            const float *src = tmp + (size_t)co * ldt + (size_t)e * P;
            float *dst = y + ((size_t)e * cout + co) * P;
            if (bias)
                copy_add(dst, src, P, bias[co]);
            else
                memcpy(dst, src, sizeof(float) * P);
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
        size_t q = 0;
        for (; q + 8 <= P; q += 8)
            for (int u = 0; u < 8; u++) r[q + u] += bv;
        for (; q < P; q++) r[q] += bv;
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
            for (int r = 0; r < s->ho; r++, g += v->Wp, dst += s->wo) {
                if (bias)
                    copy_add(dst, g, (size_t)s->wo, bias[co]);
                else
                    memcpy(dst, g, sizeof(float) * s->wo);
            }
        }
    }
}

/* ---------------------------------------------------------------- winograd */

/* F(2x2, 3x3) (Lavin & Gray 2016): the output is cut into 2x2 tiles; tile
 * (a, b) reads the 4x4 input patch d at padded rows 2a.., columns 2b.. and
 *   y = A^T [ (G g G^T) .* (B^T d B) ] A,
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
 *   G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],  A^T = [1 1 1 0; 0 1 -1 -1].
 * Over all tiles the elementwise product becomes 16 GEMMs (one per point
 * xi = 4r + c of the 4x4 transform): M_xi (cout x T) = U_xi (cout x cin)
 * V_xi (cin x T).  Backward uses the adjoints of the same linear maps:
 * dM = A dY A^T per tile; dU_xi = dM_xi V_xi^T, dW = G^T dU G;
 * dV_xi = U_xi^T dM_xi, dX += B dV B^T (overlapping patches add up).
 * 2.25x fewer multiply-adds than direct for large outputs (1.7x at 7x7).
 *
 * The padded input plane is kept de-interleaved: E holds its even columns,
 * O its odd ones, so that the 4 columns of tile k are E[k], O[k], E[k+1],
 * O[k+1] and every transform reads and writes 4 consecutive tiles at once
 * (GCC/Clang vector extension, 16 bytes: SSE or NEON).  Vector loads may
 * run up to 3 floats past a row; the buffers have that much slack, and the
 * lanes past the last tile are never stored. */

typedef float mg_f4 __attribute__((vector_size(16)));

static inline mg_f4 ld4(const float *p)
{
    mg_f4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* store the first n (1..4) lanes */
static inline void st4(float *p, mg_f4 v, int n)
{
    if (n == 4) {
        memcpy(p, &v, sizeof v);
    } else {
        float t[4];
        memcpy(t, &v, sizeof v);
        memcpy(p, t, sizeof(float) * n);
    }
}


/* U[xi][co][ci] = (G g G^T)[xi] */
static void wino_filter(const mg_conv2d_shape *s, const float *Wt, float *U)
{
    size_t cc = (size_t)s->cout * s->cin;
    for (int co = 0; co < s->cout; co++) {
        for (int ci = 0; ci < s->cin; ci++) {
            const float *g = Wt + ((size_t)co * s->cin + ci) * 9;
            float t[4][3], u[4][4];
            for (int c = 0; c < 3; c++) {
                t[0][c] = g[c];
                t[1][c] = 0.5f * (g[c] + g[3 + c] + g[6 + c]);
                t[2][c] = 0.5f * (g[c] - g[3 + c] + g[6 + c]);
                t[3][c] = g[6 + c];
            }
            for (int r = 0; r < 4; r++) {
                u[r][0] = t[r][0];
                u[r][1] = 0.5f * (t[r][0] + t[r][1] + t[r][2]);
                u[r][2] = 0.5f * (t[r][0] - t[r][1] + t[r][2]);
                u[r][3] = t[r][2];
            }
            for (int xi = 0; xi < 16; xi++)
                U[xi * cc + (size_t)co * s->cin + ci] = u[xi / 4][xi % 4];
        }
    }
}

/* dW[co][ci] += G^T dU[.][co][ci] G */
static void wino_filter_adjoint(const mg_conv2d_shape *s, const float *dU, float *dW)
{
    size_t cc = (size_t)s->cout * s->cin;
    for (int co = 0; co < s->cout; co++) {
        for (int ci = 0; ci < s->cin; ci++) {
            float d[4][4], t[3][4];
            for (int xi = 0; xi < 16; xi++)
                d[xi / 4][xi % 4] = dU[xi * cc + (size_t)co * s->cin + ci];
            for (int c = 0; c < 4; c++) {
                t[0][c] = d[0][c] + 0.5f * (d[1][c] + d[2][c]);
                t[1][c] = 0.5f * (d[1][c] - d[2][c]);
                t[2][c] = 0.5f * (d[1][c] + d[2][c]) + d[3][c];
            }
            float *g = dW + ((size_t)co * s->cin + ci) * 9;
            for (int r = 0; r < 3; r++) {
                g[3 * r + 0] += t[r][0] + 0.5f * (t[r][1] + t[r][2]);
                g[3 * r + 1] += 0.5f * (t[r][1] - t[r][2]);
                g[3 * r + 2] += 0.5f * (t[r][1] + t[r][2]) + t[r][3];
            }
        }
    }
}

/* The padded plane (pr rows, input at offset pad) of src (h x w),
 * de-interleaved into E and O (pr x pwh each). */
static void wino_split_plane(const float *src, int h, int w, int pad, int pr, int pwh, float *E,
                             float *O)
{
    /* padded column c holds input column c - pad: even c = 2k, odd c = 2k+1 */
    int elo = imin((pad + 1) / 2, pwh), ehi = imax(elo, imin((w - 1 + pad) / 2 + 1, pwh));
    int olo = imin(pad / 2, pwh);
    int ohi = w - 2 + pad < 0 ? olo : imax(olo, imin((w - 2 + pad) / 2 + 1, pwh));
    for (int R = 0; R < pr; R++) {
        float *e = E + (size_t)R * pwh, *o = O + (size_t)R * pwh;
        int r = R - pad;
        if (r < 0 || r >= h) {
            memset(e, 0, sizeof(float) * pwh);
            memset(o, 0, sizeof(float) * pwh);
            continue;
        }
        const float *row = src + (size_t)r * w;
        for (int k = 0; k < elo; k++) e[k] = 0.0f;
        for (int k = elo; k < ehi; k++) e[k] = row[2 * k - pad];
        for (int k = ehi; k < pwh; k++) e[k] = 0.0f;
        for (int k = 0; k < olo; k++) o[k] = 0.0f;
        for (int k = olo; k < ohi; k++) o[k] = row[2 * k + 1 - pad];
        for (int k = ohi; k < pwh; k++) o[k] = 0.0f;
    }
}

/* V[xi][ci][e*te + a*tw + k] = (B^T d B)[xi] for the b examples of a chunk */
static void wino_input(const mg_conv2d_shape *s, const conv_ws *v, const float *x, int b,
                       float *V)
{
    size_t T = (size_t)b * v->te, vs = (size_t)s->cin * T, plane = (size_t)s->h * s->w;
    size_t pwh = (size_t)v->pwh;
    float *E = v->wscr, *O = E + (size_t)v->pr * pwh;
    for (int e = 0; e < b; e++) {
        for (int ci = 0; ci < s->cin; ci++) {
            wino_split_plane(x + ((size_t)e * s->cin + ci) * plane, s->h, s->w, s->pad, v->pr,
                             v->pwh, E, O);
            for (int a = 0; a < v->th; a++) {
                const float *er = E + (size_t)(2 * a) * pwh, *orow = O + (size_t)(2 * a) * pwh;
                float *dst = V + (size_t)ci * T + (size_t)e * v->te + (size_t)a * v->tw;
                for (int k = 0; k < v->tw; k += 4) {
                    int nv = imin(4, v->tw - k);
                    mg_f4 d[4][4], t[4][4];
                    for (int i = 0; i < 4; i++) {
                        d[i][0] = ld4(er + i * pwh + k);
                        d[i][1] = ld4(orow + i * pwh + k);
                        d[i][2] = ld4(er + i * pwh + k + 1);
                        d[i][3] = ld4(orow + i * pwh + k + 1);
                    }
                    for (int c = 0; c < 4; c++) {
                        t[0][c] = d[0][c] - d[2][c];
                        t[1][c] = d[1][c] + d[2][c];
                        t[2][c] = d[2][c] - d[1][c];
                        t[3][c] = d[1][c] - d[3][c];
                    }
                    for (int r = 0; r < 4; r++) {
                        st4(dst + (4 * r + 0) * vs + k, t[r][0] - t[r][2], nv);
                        st4(dst + (4 * r + 1) * vs + k, t[r][1] + t[r][2], nv);
                        st4(dst + (4 * r + 2) * vs + k, t[r][2] - t[r][1], nv);
                        st4(dst + (4 * r + 3) * vs + k, t[r][1] - t[r][3], nv);
                    }
                }
            }
        }
    }
}

/* y (b examples, + bias) = A^T m A from M[xi][co][t] */
static void wino_output(const mg_conv2d_shape *s, const conv_ws *v, const float *M, int b,
                        const float *bias, float *y)
{
    size_t T = (size_t)b * v->te, ms = (size_t)s->cout * T, P = (size_t)s->ho * s->wo;
    size_t rl = (size_t)v->pwh + WINO_SLACK;
    float *ev0 = v->wscr, *od0 = ev0 + rl, *ev1 = od0 + rl, *od1 = ev1 + rl;
    for (int e = 0; e < b; e++) {
        for (int co = 0; co < s->cout; co++) {
            float bv = bias ? bias[co] : 0.0f;
            float *yp = y + ((size_t)e * s->cout + co) * P;
            for (int a = 0; a < v->th; a++) {
                const float *src = M + (size_t)co * T + (size_t)e * v->te + (size_t)a * v->tw;
                for (int k = 0; k < v->tw; k += 4) {
                    mg_f4 m[4][4], p0[4], p1[4];
                    for (int xi = 0; xi < 16; xi++) m[xi / 4][xi % 4] = ld4(src + xi * ms + k);
                    for (int c = 0; c < 4; c++) {
                        p0[c] = m[0][c] + m[1][c] + m[2][c];
                        p1[c] = m[1][c] - m[2][c] - m[3][c];
                    }
                    st4(ev0 + k, p0[0] + p0[1] + p0[2], 4);
                    st4(od0 + k, p0[1] - p0[2] - p0[3], 4);
                    st4(ev1 + k, p1[0] + p1[1] + p1[2], 4);
                    st4(od1 + k, p1[1] - p1[2] - p1[3], 4);
                }
                float *y0 = yp + (size_t)(2 * a) * s->wo;
                for (int c = 0; c < s->wo; c++) y0[c] = ((c & 1) ? od0[c >> 1] : ev0[c >> 1]) + bv;
                if (2 * a + 1 < s->ho) {
                    float *y1 = y0 + s->wo;
                    for (int c = 0; c < s->wo; c++)
                        y1[c] = ((c & 1) ? od1[c >> 1] : ev1[c >> 1]) + bv;
                }
            }
        }
    }
}

/* dM[xi][co][t] = (A u A^T)[xi], u the tile's 2x2 of dy (0 past the output) */
static void wino_dy(const mg_conv2d_shape *s, const conv_ws *v, const float *dy, int b, float *D)
{
    size_t T = (size_t)b * v->te, ds = (size_t)s->cout * T, P = (size_t)s->ho * s->wo;
    size_t rl = (size_t)v->pwh + WINO_SLACK;
    float *ue0 = v->wscr, *uo0 = ue0 + rl, *ue1 = uo0 + rl, *uo1 = ue1 + rl;
    for (int e = 0; e < b; e++) {
        for (int co = 0; co < s->cout; co++) {
            const float *dp = dy + ((size_t)e * s->cout + co) * P;
            for (int a = 0; a < v->th; a++) {
                /* de-interleave output rows 2a, 2a+1 into even / odd columns */
                const float *r0 = dp + (size_t)(2 * a) * s->wo;
                const float *r1 = 2 * a + 1 < s->ho ? r0 + s->wo : NULL;
                for (int k = 0; k < v->tw; k++) {
                    int c0 = 2 * k, c1 = 2 * k + 1;
                    ue0[k] = r0[c0];
                    uo0[k] = c1 < s->wo ? r0[c1] : 0.0f;
                    ue1[k] = r1 ? r1[c0] : 0.0f;
                    uo1[k] = r1 && c1 < s->wo ? r1[c1] : 0.0f;
                }
                float *dst = D + (size_t)co * T + (size_t)e * v->te + (size_t)a * v->tw;
                for (int k = 0; k < v->tw; k += 4) {
                    int nv = imin(4, v->tw - k);
                    mg_f4 u00 = ld4(ue0 + k), u01 = ld4(uo0 + k);
                    mg_f4 u10 = ld4(ue1 + k), u11 = ld4(uo1 + k);
                    mg_f4 w0[4] = {u00, u00 + u01, u00 - u01, -u01};
                    mg_f4 w1[4] = {u10, u10 + u11, u10 - u11, -u11};
                    for (int c = 0; c < 4; c++) {
                        st4(dst + (0 + c) * ds + k, w0[c], nv);
                        st4(dst + (4 + c) * ds + k, w0[c] + w1[c], nv);
                        st4(dst + (8 + c) * ds + k, w0[c] - w1[c], nv);
                        st4(dst + (12 + c) * ds + k, -w1[c], nv);
                    }
                }
            }
        }
    }
}

/* row += a + b over n floats */
static void add2(float *restrict row, const float *restrict a, const float *restrict b, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int u = 0; u < 8; u++) row[i + u] += a[i + u] + b[i + u];
    for (; i < n; i++) row[i] += a[i] + b[i];
}

/* dx (b examples, overwritten) from dV[xi][ci][t]: B v B^T per tile, the
 * overlapping 4x4 patches added into the (de-interleaved) padded plane. */
static void wino_dx(const mg_conv2d_shape *s, const conv_ws *v, const float *V, int b, float *dx)
{
    size_t T = (size_t)b * v->te, vs = (size_t)s->cin * T, plane = (size_t)s->h * s->w;
    size_t pwh = (size_t)v->pwh, pe = (size_t)v->pr * pwh, rl = pwh + WINO_SLACK;
    float *E = v->wscr, *O = E + pe, *acc = O + pe + WINO_SLACK;
    for (int e = 0; e < b; e++) {
        for (int ci = 0; ci < s->cin; ci++) {
            memset(E, 0, sizeof(float) * 2 * pe);
            for (int a = 0; a < v->th; a++) {
                const float *src = V + (size_t)ci * T + (size_t)e * v->te + (size_t)a * v->tw;
                /* acc[i][c]: the part of patch row i for column c of the
                 * tiles; parts 2 and 3 land one slot to the right */
                for (int i = 0; i < 4; i++) {
                    acc[(i * 4 + 0) * rl + v->tw] = 0.0f;
                    acc[(i * 4 + 1) * rl + v->tw] = 0.0f;
                    acc[(i * 4 + 2) * rl] = 0.0f;
                    acc[(i * 4 + 3) * rl] = 0.0f;
                }
                for (int k = 0; k < v->tw; k += 4) {
                    int nv = imin(4, v->tw - k);
                    mg_f4 m[4][4], q[4][4];
                    for (int xi = 0; xi < 16; xi++) m[xi / 4][xi % 4] = ld4(src + xi * vs + k);
                    for (int r = 0; r < 4; r++) {
                        q[r][0] = m[r][0];
                        q[r][1] = m[r][1] - m[r][2] + m[r][3];
                        q[r][2] = m[r][1] + m[r][2] - m[r][0];
                        q[r][3] = -m[r][3];
                    }
                    for (int c = 0; c < 4; c++) {
                        size_t off = (size_t)k + (c >= 2);
                        st4(acc + (0 * 4 + c) * rl + off, q[0][c], nv);
                        st4(acc + (1 * 4 + c) * rl + off, q[1][c] - q[2][c] + q[3][c], nv);
                        st4(acc + (2 * 4 + c) * rl + off, q[1][c] + q[2][c] - q[0][c], nv);
                        st4(acc + (3 * 4 + c) * rl + off, -q[3][c], nv);
                    }
                }
                for (int i = 0; i < 4; i++) {
                    size_t R = (size_t)(2 * a + i) * pwh;
                    add2(E + R, acc + (i * 4 + 0) * rl, acc + (i * 4 + 2) * rl, v->pwh);
                    add2(O + R, acc + (i * 4 + 1) * rl, acc + (i * 4 + 3) * rl, v->pwh);
                }
            }
            /* the interior of the padded plane is dx */
            float *dp = dx + ((size_t)e * s->cin + ci) * plane;
            for (int r = 0; r < s->h; r++) {
                const float *er = E + (size_t)(r + s->pad) * pwh;
                const float *orow = O + (size_t)(r + s->pad) * pwh;
                float *d = dp + (size_t)r * s->w;
                for (int c = 0; c < s->w; c++) {
                    int C = c + s->pad;
                    d[c] = (C & 1) ? orow[C >> 1] : er[C >> 1];
                }
            }
        }
    }
}

static int wino_applies(const mg_conv2d_shape *s)
{
    return s->kh == 3 && s->kw == 3 && s->stride == 1;
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
    if (s->fwd == MG_CONV_WINOGRAD) wino_filter(s, Wt, v.wu);
    for (int e0 = 0; e0 < n; e0 += b) {
        int bb = imin(b, n - e0);
        const float *xe = x + (size_t)e0 * xs;
        float *ye = y + (size_t)e0 * ys;
        if (s->fwd == MG_CONV_SHIFT) {
            shift_forward_chunk(s, &v, xe, bb, bias, ye);
            continue;
        }
        if (s->fwd == MG_CONV_WINOGRAD) {
            int T = bb * (int)v.te;
            size_t cc = (size_t)s->cout * s->cin;
            wino_input(s, &v, xe, bb, v.wv);
            for (int xi = 0; xi < 16; xi++)
                mg_sgemm(0, 0, s->cout, T, s->cin, 1.0f, v.wu + xi * cc, s->cin,
                         v.wv + (size_t)xi * s->cin * T, T, 0.0f,
                         v.wm + (size_t)xi * s->cout * T, T);
            wino_output(s, &v, v.wm, bb, bias, ye);
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
    MG_ASSERT(s && params && x && dy && n > 0 && ws);
    if (!grads && !dx) return;
    int cin = s->cin, cout = s->cout, taps = s->kh * s->kw;
    const float *Wt = params;
    size_t nw = (size_t)cout * cin * taps;
    float *dW = grads;
    int b = chunk_for(s, n);
    conv_ws v = ws_layout(s, b, ws);
    size_t xs = (size_t)cin * s->h * s->w, ys = (size_t)cout * s->ho * s->wo;
    int K = (int)v.K, P = (int)v.P;

    if (grads && s->bias) {
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
    /* which algorithm computes each wanted gradient (-1: not wanted) */
    int dw_algo = grads ? (int)s->dw : -1, dx_algo = dx ? (int)s->dx : -1;
    int need_shift_dy = dw_algo == MG_CONV_SHIFT || dx_algo == MG_CONV_SHIFT;
    int need_wino_dy = dw_algo == MG_CONV_WINOGRAD || dx_algo == MG_CONV_WINOGRAD;
    size_t cc = (size_t)cout * cin;
    if (dw_algo == MG_CONV_SHIFT) memset(v.dwr, 0, sizeof(float) * nw);
    if (dx_algo == MG_CONV_SHIFT) repack_w(s, Wt, v.wr);
    if (dw_algo == MG_CONV_WINOGRAD) memset(v.wdu, 0, sizeof(float) * 16 * cc);
    if (dx_algo == MG_CONV_WINOGRAD) wino_filter(s, Wt, v.wu);

    for (int e0 = 0; e0 < n; e0 += b) {
        int bb = imin(b, n - e0);
        const float *xe = x + (size_t)e0 * xs;
        const float *dye = dy + (size_t)e0 * ys;
        float *dxe = dx ? dx + (size_t)e0 * xs : NULL;
        int nc = bb * P;

        /* dY in the im2col layout (cout x bb*P), when an im2col step needs it */
        const float *dyc = NULL;
        int lddy = P;
        if (dw_algo == MG_CONV_IM2COL || dx_algo == MG_CONV_IM2COL) {
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
        int T = bb * (int)v.te; /* winograd tiles in the chunk */
        if (need_wino_dy) wino_dy(s, &v, dye, bb, v.wm);

        /* weight gradient */
        if (dw_algo == MG_CONV_IM2COL) {
            const float *col = v.col;
            int ldc = (int)v.cols;
            if (v.col) {
                im2col(s, xe, bb, v.col, v.cols);
            } else {
                col = xe;
                ldc = P;
            }
            int step = s->dw_cols > 0 ? s->dw_cols : nc;
            for (int c0 = 0; c0 < nc; c0 += step)
                mg_sgemm(0, 1, cout, K, imin(step, nc - c0), 1.0f, dyc + c0, lddy, col + c0, ldc,
                         1.0f, dW, K);
        } else if (dw_algo == MG_CONV_WINOGRAD) {
            wino_input(s, &v, xe, bb, v.wv);
            int step = s->dw_cols > 0 ? s->dw_cols : T;
            for (int c0 = 0; c0 < T; c0 += step)
                for (int xi = 0; xi < 16; xi++)
                    mg_sgemm(0, 1, cout, cin, imin(step, T - c0), 1.0f,
                             v.wm + (size_t)xi * cout * T + c0, T,
                             v.wv + (size_t)xi * cin * T + c0, T, 1.0f, v.wdu + xi * cc, cin);
        } else if (dw_algo == MG_CONV_SHIFT) {
            pad_planes(xe, cin, bb, s->h, s->w, s->pad, v.Wp, v.blk, v.xp, v.mx, v.lx);
            const float *dyb = v.dyp + v.mf;
            int step = s->dw_cols > 0 ? s->dw_cols : (int)Np;
            for (int c0 = 0; c0 < (int)Np; c0 += step) {
                int len = imin(step, (int)Np - c0);
                for (int i = 0; i < s->kh; i++) {
                    for (int j = 0; j < s->kw; j++) {
                        int t = i * s->kw + j;
                        const float *B = v.xp + v.mx + tap_shift(&v, i, j, s->pad) + c0;
                        mg_sgemm(0, 1, cout, cin, len, 1.0f, dyb + c0, (int)v.ly, B, (int)v.lx,
                                 1.0f, v.dwr + (size_t)t * cout * cin, cin);
                    }
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
        } else if (s->dx == MG_CONV_WINOGRAD) {
            /* dV into V's buffer (its V, if any, has been used) */
            for (int xi = 0; xi < 16; xi++)
                mg_sgemm(1, 0, cin, T, cout, 1.0f, v.wu + xi * cc, cin,
                         v.wm + (size_t)xi * cout * T, T, 0.0f, v.wv + (size_t)xi * cin * T, T);
            wino_dx(s, &v, v.wv, bb, dxe);
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
    if (dw_algo == MG_CONV_WINOGRAD) wino_filter_adjoint(s, v.wdu, dW);
    if (dw_algo == MG_CONV_SHIFT) {
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
    for (int co = 0; grads && co < s->cout; co++)
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
    if (grads && s->bias) {
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

/* ---------------------------------------------------------------- the layer */

/* MG_LAYER_CONV2D over l->conv: the team splits the examples (src/par.c),
 * each worker with its own workspace and, w >= 1, its own weight gradient. */
void mg_conv2d_layer_sizes(mg_layer *l)
{
    l->n_p = mg_conv2d_n_params(&l->conv);
    l->n_b = 0;
}

void mg_conv2d_layer_buffers(const mg_layer *l, int max_batch, mg_layer_mem *mem)
{
    mem->ws = mg_conv2d_workspace(&l->conv, max_batch);
    mem->team_grads = mg_conv2d_n_params(&l->conv);
}

void mg_conv2d_layer_init(const mg_layer *l, float *p, float *b, mg_init init, mg_rng *rng)
{
    (void)b, (void)init;
    mg_conv2d_init_he(&l->conv, p, l->gain2, rng);
}

static void conv2d_layer_forward(mg_layer *l, const mg_fwd_ctx *c)
{
    mg_par_conv_forward(c->par, &l->conv, c->p, c->x, c->y, c->n);
}

static void conv2d_layer_backward(const mg_layer *l, const mg_bwd_ctx *c)
{
    mg_par_conv_backward(c->par, &l->conv, c->p, c->g, c->x, c->dy, c->dx, c->n);
}

double mg_conv2d_layer_flops(const mg_layer *l, int backward, int need_dx)
{
    double f = mg_conv2d_flops(&l->conv);
    return backward ? f * (need_dx ? 2.0 : 1.0) : f;
}

void mg_conv2d_layer_detail(const mg_layer *l, char *buf, size_t len)
{
    snprintf(buf, len, "(%d, %dx%d, stride %d)", l->conv.cout, l->conv.kh, l->conv.kw,
             l->conv.stride);
}

const mg_layer_ops mg_conv2d_ops = {
    .name = "conv2d",
    .sizes = mg_conv2d_layer_sizes,
    .buffers = mg_conv2d_layer_buffers,
    .init = mg_conv2d_layer_init,
    .forward = conv2d_layer_forward,
    .backward = conv2d_layer_backward,
    .flops = mg_conv2d_layer_flops,
    .detail = mg_conv2d_layer_detail,
    .split = MG_SPLIT_BATCH,
};
