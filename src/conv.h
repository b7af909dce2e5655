/* conv.h - internal: kernels for convolutional networks over NCHW images.
 *
 * Layout: an image batch is n examples, each stored flat as C x H x W
 * (row-major planes), examples contiguous: element (e, c, h, w) lives at
 * ((e*C + c)*H + h)*W + w.  This is the "state of any shape" of mixgeo.h.
 *
 * Every kernel is a pure function of explicit shapes.  Forward OVERWRITES
 * its output.  Backward ACCUMULATES parameter gradients (grads has the same
 * layout as params) and OVERWRITES dx; dx may be NULL when the gradient
 * below the layer is not wanted, grads may be NULL when the parameter
 * gradients are not (the work for either is then skipped; dx comes out bit
 * for bit the same with or without grads).
 *
 * Convolution (cross-correlation, as PyTorch's Conv2d): zero padding `pad`
 * on all four sides, one stride for both directions.
 *   params: W (cout x cin x kh x kw), then bias (cout) when shape.bias.
 * The fast kernels need a caller-owned workspace of mg_conv2d_workspace()
 * floats; it holds nothing between calls, so one buffer sized for the
 * largest layer serves every conv layer of a model.  Nothing is allocated
 * inside forward or backward.
 *
 * Algorithms (chosen per shape by mg_conv2d_shape_init from measurements of
 * bench/bench_conv.c; every combination is exact up to float rounding):
 *  - IM2COL: a chunk of b examples is unfolded into col (K x b*Ho*Wo,
 *    K = cin*kh*kw), one GEMM W(cout x K) * col, scattered to NCHW.
 *    Backward: dW += dY col^T (one GEMM per chunk), dcol = W^T dY, col2im.
 *    A 1x1 stride-1 unpadded conv with chunk 1 uses the input as col.
 *  - SHIFT (stride 1, pad <= kh-1 and pad <= kw-1): the chunk is copied
 *    once into zero-padded planes whose rows and examples share their
 *    padding; then every kernel tap (i, j) is a plain shifted view of those
 *    planes, and the conv is kh*kw GEMMs W_ij(cout x cin) * X_shift(cin x N')
 *    accumulated into a padded output grid (a few % of wasted columns:
 *    the grid has (H+pad) x (W+pad) points per example).  No im2col: the
 *    gathering happens inside OpenBLAS's packing.  Backward dX is the same
 *    with W_ij^T and the opposite shifts; dW_ij = dY' X_shift^T.  The
 *    default for 3x3 stride-1 convs with >= 16 channels.
 *  - WINOGRAD (3x3, stride 1, any pad): F(2x2, 3x3), 16 GEMMs on transformed
 *    2x2 output tiles, 2.25x fewer multiply-adds.  Never the default: its
 *    transforms are serial and move 4x the activations, so it only wins on
 *    one thread with >= 64 channels (see layer_conv2d.c).
 * The chunk (examples per step) depends on the OpenBLAS thread count at
 * call time (mg_get_threads): big chunks give OpenBLAS's threads work, with
 * one thread small chunks keep every GEMM on its small-matrix kernels.
 *
 * Threads: the kernels are reentrant.  Calls on disjoint example ranges
 * (x + e0*cin*h*w, n = count) with separate workspaces and separate
 * gradient buffers (summed afterwards) may run concurrently.
 */
#ifndef MG_CONV_H
#define MG_CONV_H

#include "mixgeo.h"

#include <stdint.h>
#include <string.h>

/* ---------------------------------------------------------------- conv2d */

typedef enum {
    MG_CONV_IM2COL = 0,
    MG_CONV_SHIFT = 1,
    MG_CONV_WINOGRAD = 2
} mg_conv_algo;

typedef struct {
    int cin, h, w;          /* input  C x H x W                                  */
    int cout, ho, wo;       /* output C x Ho x Wo; ho, wo derived by shape_init   */
    int kh, kw, stride, pad;
    int bias;               /* 1: one bias per output channel                    */
    /* how the fast kernels compute (set by shape_init; see mg_conv2d_set_algo) */
    mg_conv_algo fwd;       /* forward                                           */
    mg_conv_algo dw;        /* weight gradient                                   */
    mg_conv_algo dx;        /* input gradient                                    */
    int chunk;              /* examples per step (one GEMM per tap or per chunk)
                               when OpenBLAS runs more than one thread          */
    int chunk_1t;           /* the same with one OpenBLAS thread (smaller, to stay
                               on its small-matrix kernels and in cache)        */
    int dw_cols;            /* columns per weight-gradient GEMM, 0 = the chunk's:
                               splitting its long inner dimension keeps a small
                               dW product on OpenBLAS's unthreaded small-matrix
                               kernels, which beat its threaded path there     */
} mg_conv2d_shape;

/* Fill *s for a conv cin x h x w -> cout x ho x wo with a kh x kw kernel:
 * ho = (h + 2 pad - kh) / stride + 1 (likewise wo).  Picks the algorithms
 * and chunk.  MG_ERR_CONFIG (with a message) when a size is not positive
 * (pad: negative) or the kernel does not fit the padded input. */
mg_status mg_conv2d_shape_init(mg_conv2d_shape *s, int cin, int h, int w, int cout, int kh,
                               int kw, int stride, int pad, int bias);
/* Override the algorithms, chunk (both chunk fields) and dW split
 * (benchmarks, tests).  Returns 0 and leaves *s unchanged when an algorithm
 * does not apply to the shape (SHIFT: stride 1, pad <= kh-1, pad <= kw-1;
 * WINOGRAD: 3x3, stride 1), chunk < 1 or dw_cols < 0. */
int mg_conv2d_set_algo(mg_conv2d_shape *s, mg_conv_algo fwd, mg_conv_algo dw, mg_conv_algo dx,
                       int chunk, int dw_cols);

size_t mg_conv2d_n_params(const mg_conv2d_shape *s); /* cout*cin*kh*kw (+ cout) */
/* Floats of workspace needed by forward and backward for batches of up to
 * max_batch examples (the same buffer serves both, at any thread count). */
size_t mg_conv2d_workspace(const mg_conv2d_shape *s, int max_batch);
/* Multiply-adds x 2 of a forward pass per example (the backward pass costs
 * twice this with dx, once without). */
double mg_conv2d_flops(const mg_conv2d_shape *s);

/* He (Kaiming) normal initialisation: W ~ N(0, gain2 / (cin*kh*kw)), bias 0.
 * gain2 = 2 for a ReLU that follows, 1 for none. */
void mg_conv2d_init_he(const mg_conv2d_shape *s, float *params, float gain2, mg_rng *rng);

/* x: n x cin x h x w, y: n x cout x ho x wo (overwritten).
 * ws: mg_conv2d_workspace(s, >= n) floats, scratch. */
void mg_conv2d_forward(const mg_conv2d_shape *s, const float *params, const float *x, float *y,
                       int n, float *ws);
/* x: the forward's input, dy: n x cout x ho x wo.  grads (layout of params,
 * may be NULL) += dL/dparams; dx (n x cin x h x w, may be NULL) = dL/dx.
 * Without grads neither the weight-gradient GEMMs nor the unfolding of x
 * they read (im2col, padded planes, Winograd input transform) run. */
void mg_conv2d_backward(const mg_conv2d_shape *s, const float *params, float *grads,
                        const float *x, const float *dy, float *dx, int n, float *ws);

/* Naive direct references (nested loops, double accumulation), for tests.
 * Same contracts as above; no workspace. */
void mg_conv2d_forward_ref(const mg_conv2d_shape *s, const float *params, const float *x,
                           float *y, int n);
void mg_conv2d_backward_ref(const mg_conv2d_shape *s, const float *params, float *grads,
                            const float *x, const float *dy, float *dx, int n);

/* ---------------------------------------------------------------- bn2d */

/* g if y > 0 else 0 (exactly: a bit mask, which -O2 vectorises where a
 * branch would not): the ReLU mask of the fused batch norm backward passes
 * (layer_bn2d.c, blk8.c). */
static inline float mg_mask_pos(float g, float y)
{
    uint32_t b, m = y > 0.0f ? 0xffffffffu : 0u;
    memcpy(&b, &g, sizeof b);
    b &= m;
    memcpy(&g, &b, sizeof g);
    return g;
}

/* Batch normalisation per channel over (n, h, w): PyTorch BatchNorm2d.
 * params: gamma (c), beta (c); buffers: running mean (c), running var (c).
 * Train: normalise with the batch mean and biased variance; running stats
 * updated with momentum MG_BN_MOMENTUM (0.1) and the unbiased variance;
 * eps MG_BN_EPS (1e-5).  Eval: running stats, buffers untouched.
 * relu = 1 fuses a ReLU: y = max(0, bn(x)).
 * stats (2c floats, caller-owned): forward writes the mean and inverse
 * standard deviation it used; backward reads them.  hw = h*w. */
void mg_bn2d_init(int c, float *params, float *buffers);
/* x, y: n x c x hw (y overwritten; y may not alias x). */
void mg_bn2d_forward(int c, int hw, int n, const float *params, float *buffers, const float *x,
                     float *y, float *stats, int train, int relu);
/* x, y, stats: those of the forward (y only read when relu); dy: n x c x hw.
 * grads: dgamma (c), dbeta (c) accumulate (may be NULL: none); dx (may be
 * NULL) overwritten.  train must match the forward's (train: gradient through
 * the batch stats; eval without grads needs no sums over the batch). */
void mg_bn2d_backward(int c, int hw, int n, const float *params, float *grads, const float *x,
                      const float *y, const float *stats, const float *dy, float *dx, int train,
                      int relu);
/* The same for channels j0..j1-1 only (0 <= j0 <= j1 <= c; all pointers as
 * above, for the whole tensor): calls on disjoint channel ranges touch
 * disjoint memory, so they may run concurrently. */
void mg_bn2d_forward_channels(int c, int j0, int j1, int hw, int n, const float *params,
                              float *buffers, const float *x, float *y, float *stats, int train,
                              int relu);
void mg_bn2d_backward_channels(int c, int j0, int j1, int hw, int n, const float *params,
                               float *grads, const float *x, const float *y, const float *stats,
                               const float *dy, float *dx, int train, int relu);

/* ---------------------------------------------------------------- pooling */

/* Max / average pooling, kernel kh x kw, one stride, zero padding pad on all
 * sides (pad <= kh/2 and kw/2 as in PyTorch), floor output size:
 * ho = (h + 2 pad - kh) / stride + 1.  Max pooling ignores the padding
 * (-inf) and takes the first maximum of a window; NaN propagates.  Average
 * pooling divides by kh*kw, padding included (PyTorch's default
 * count_include_pad = True). */
typedef struct {
    int c, h, w;
    int ho, wo;
    int kh, kw, stride, pad;
} mg_pool_shape;

mg_status mg_pool_shape_init(mg_pool_shape *s, int c, int h, int w, int kh, int kw, int stride,
                             int pad);

/* x: n x c x h x w; y: n x c x ho x wo (overwritten); argmax: n x c x ho x wo
 * (overwritten) = the flat index h*W + w of each maximum inside its input
 * plane, for the backward pass. */
void mg_maxpool_forward(const mg_pool_shape *s, const float *x, float *y, int32_t *argmax, int n);
/* dx (n x c x h x w) overwritten: each dy routed to its argmax. */
void mg_maxpool_backward(const mg_pool_shape *s, const int32_t *argmax, const float *dy,
                         float *dx, int n);
void mg_avgpool_forward(const mg_pool_shape *s, const float *x, float *y, int n);
void mg_avgpool_backward(const mg_pool_shape *s, const float *dy, float *dx, int n);

/* Global average pooling: x n x c x hw -> y n x c (overwritten); backward
 * dx (n x c x hw) = dy / hw broadcast (overwritten). */
void mg_gap_forward(int c, int hw, int n, const float *x, float *y);
void mg_gap_backward(int c, int hw, int n, const float *dy, float *dx);

#endif
