/* blk8.h - internal: kernels for activations in oneDNN's blocked layout
 * nChw8c ("blk8").
 *
 * Layout: n examples of c channels (c a multiple of 8) and hw = h*w
 * positions; the channels are grouped in blocks of 8 and, inside a block,
 * the 8 channels of one position are contiguous: element (e, j, s) lives at
 *     e*c*hw + (j/8)*hw*8 + s*8 + (j%8)
 * where NCHW (conv.h) has e*c*hw + j*hw + s.  Each example is contiguous and
 * of the same size as in NCHW, so an example range of a blk8 tensor is a
 * blk8 tensor (x + e0*c*hw, n = count).  A block of one example is hw x 8
 * floats: the kernels below run their inner loops over the 8 lanes of a
 * position, which the compiler vectorises (two SSE vectors).
 *
 * Ownership: every pointer is caller-owned; nothing is allocated.  Outputs
 * are OVERWRITTEN unless said otherwise; parameter gradients ACCUMULATE.
 * Inputs and outputs may not alias.
 *
 * Bit-identity: the conversions and the GAP backward are exact (copies and
 * the same product as mg_gap_backward).  The batch norms compute every
 * channel's sums in one fixed order (examples in turn, positions in a fixed
 * pattern within an example) that does not depend on the channel range of
 * the call, so the team versions (mg_par_*) give bit-identical results for
 * any team size, and equal the serial kernels.  Against the NCHW kernels of
 * conv.h the batch norms and the GAP forward differ only by float rounding
 * (another summation order). */
#ifndef MG_BLK8_H
#define MG_BLK8_H

#include "par.h"

/* ---------------------------------------------------------------- conversions */

/* x: n x c x hw NCHW -> y: the same tensor in blk8 (overwritten). */
void mg_blk8_from_nchw(const float *x, float *y, int n, int c, int hw);
/* x: blk8 -> y: NCHW (overwritten). */
void mg_blk8_to_nchw(const float *x, float *y, int n, int c, int hw);
/* The same with the examples split over par's team (serial when
 * par->team == NULL, par->n < 2 or the tensor is small): exact copies. */
void mg_par_blk8_from_nchw(const mg_par *par, const float *x, float *y, int n, int c, int hw);
void mg_par_blk8_to_nchw(const mg_par *par, const float *x, float *y, int n, int c, int hw);

/* ---------------------------------------------------------------- bn2d */

/* Batch normalisation per channel over (n, h, w) of a blk8 tensor (+ a fused
 * ReLU when relu = 1), with exactly the contract of mg_bn2d_forward_channels
 * / mg_bn2d_backward_channels (conv.h): params gamma (c) | beta (c); buffers
 * running mean (c) | running var (c), updated in train mode with
 * MG_BN_MOMENTUM and the unbiased variance, untouched in eval mode; stats
 * (2c) written by forward (batch mean, inverse std; eval: the running ones)
 * and read by backward; the ReLU mask is y > 0; grads (dgamma | dbeta, may be
 * NULL) accumulate, dx (may be NULL) is overwritten; dx is bit for bit the
 * same with or without grads.
 *
 * Channels j0..j1-1 only: 0 <= j0 <= j1 <= c, j0 and j1 multiples of 8
 * (whole blocks); every pointer is to the whole tensor / array.  Calls on
 * disjoint ranges touch disjoint memory and may run concurrently.
 * x, y, dy, dx: blk8, n x c x hw.
 *
 * Statistics: per example, each channel summed in float over the positions
 * in order (the 8 lanes of a block side by side), shifted by the channel's
 * first element x(0, j, 0) (the pivot of layer_bn2d.c) so that a large mean
 * does not cancel the variance; each example's sums are added into double
 * accumulators, examples 0..n-1 in order.  The elementwise passes that
 * follow (normalisation, dx) run over the examples from the last to the
 * first, so that they start on what the sums left in cache. */
void mg_bn2d_blk8_forward_channels(int c, int j0, int j1, int hw, int n, const float *params,
                                   float *buffers, const float *x, float *y, float *stats,
                                   int train, int relu);
void mg_bn2d_blk8_backward_channels(int c, int j0, int j1, int hw, int n, const float *params,
                                    float *grads, const float *x, const float *y,
                                    const float *stats, const float *dy, float *dx, int train,
                                    int relu);
/* All channels, the channel blocks split over par's team by a fixed rule
 * (mg_team_share over the c/8 blocks): bit-identical to the serial kernels
 * for any team size.  Same arguments as mg_par_bn2d_forward / _backward. */
void mg_par_bn2d_blk8_forward(const mg_par *par, int c, int hw, int n, const float *params,
                              float *buffers, const float *x, float *y, float *stats, int train,
                              int relu);
void mg_par_bn2d_blk8_backward(const mg_par *par, int c, int hw, int n, const float *params,
                               float *grads, const float *x, const float *y, const float *stats,
                               const float *dy, float *dx, int train, int relu);

/* ---------------------------------------------------------------- pooling */

/* Global average pooling of a blk8 tensor x (n x c x hw) into the plain
 * n x c matrix y (overwritten), y[e*c + j] = mean over s of x(e, j, s): the
 * output of mg_gap_forward up to the summation order. */
void mg_gap_blk8_forward(int c, int hw, int n, const float *x, float *y);
/* dx (blk8, n x c x hw, overwritten): dx(e, j, s) = dy[e*c + j] * (1/hw), the
 * same float product as mg_gap_backward (bit-identical after conversion). */
void mg_gap_blk8_backward(int c, int hw, int n, const float *dy, float *dx);

#endif
