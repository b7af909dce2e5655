/* conv_dnnl.h - internal: conv2d forward / backward (mg_conv2d_shape) with
 * oneDNN (libdnnl) primitives, the library behind PyTorch's CPU convolutions.
 *
 * Same contracts as mg_conv2d_forward / mg_conv2d_backward in conv.h:
 * NCHW float32 tensors in and out, params W (cout x cin x kh x kw) then the
 * bias (cout) when shape.bias; forward OVERWRITES y; backward ACCUMULATES
 * into grads (layout of params; NULL: no parameter gradients, the
 * weight-gradient primitive does not run) and OVERWRITES dx (NULL: the
 * data-gradient primitive does not run).  dx is bit for bit the same with
 * or without grads.  The algorithm fields of the shape (fwd, dw, dx, chunk,
 * chunk_1t, dw_cols) are ignored.
 *
 * A mg_conv_dnnl object (opaque, owned by the caller, freed with
 * mg_conv_dnnl_free) holds the oneDNN engine and stream, the three
 * primitives (forward, backward data, backward weights) and the buffers
 * they need, built once per batch size: create builds them for max_batch,
 * reserve for another batch size (e.g. the smaller last batch of an epoch),
 * and a call with a batch size not built yet builds it then (allocating; at
 * most MG_CONV_DNNL_SLOTS batch sizes are kept, the least recently used one
 * is replaced).  Nothing is allocated by a call on a reserved batch size.
 *
 * Layouts:
 *  - MG_CONV_DNNL_PLAIN: the primitives read and write NCHW activations
 *    directly; oneDNN picks the weights' layout (a reorder of the small
 *    weight tensor per call when it is not OIHW).
 *  - MG_CONV_DNNL_BLOCKED: oneDNN picks every layout (format_tag any, on
 *    AVX2 usually nChw8c); the object reorders the NCHW inputs into its own
 *    buffers and the outputs back on every call (dy once per backward call
 *    when both backward primitives take it in the same layout).  Faster
 *    for the 3x3 convs despite the reorders, slower for the 1x1 stride-2
 *    projections (bench/bench_conv.c).
 *  - MG_CONV_DNNL_BLK8: the caller's x, y, dx, dy are in oneDNN's nChw8c
 *    layout already (cin and cout multiples of 8; src/blk8.h gives the
 *    index), and the primitives are built for it: no reorder of the
 *    activations at all, only of the small weight tensor.  For networks
 *    kept in that layout end to end (the PreActResNet, layer_preact.c).
 *
 * Threads: the primitives run on `threads` OpenMP threads (oneDNN's CPU
 * runtime here; the count is set with omp_set_num_threads around every
 * call and restored after it).  An object is used by one thread at a time;
 * with threads > 1, never from inside a worker team that already uses the
 * cores (src/par.c): oneDNN is then the one source of parallelism of the
 * pass.  Objects with threads = 1 run no OpenMP region at all, so each
 * worker of a team may call its own (what the model does, conv_backend.h).  Results are
 * bit-identical run to run for a given thread count (tests/test_conv_dnnl.c checks it; the
 * backward-weights reduction may differ between thread counts by float
 * rounding).
 *
 * Errors: every function that can fail returns mg_status with a message in
 * mg_errmsg() (MG_ERR_CONFIG: a shape, batch size or thread count oneDNN or
 * we refuse; MG_ERR_NOMEM: an allocation); it never prints or exits. */
#ifndef MG_CONV_DNNL_H
#define MG_CONV_DNNL_H

#include "conv.h"

typedef enum {
    MG_CONV_DNNL_PLAIN = 0,   /* NCHW activations in the primitives          */
    MG_CONV_DNNL_BLOCKED = 1, /* oneDNN's preferred layouts, with reorders   */
    MG_CONV_DNNL_BLK8 = 2     /* the caller's activations are nChw8c        */
} mg_conv_dnnl_layout;

#define MG_CONV_DNNL_SLOTS 4 /* batch sizes kept per object */

typedef struct mg_conv_dnnl mg_conv_dnnl;

/* Build the primitives of shape *s (copied) for batches of max_batch
 * examples on `threads` threads (>= 1).  *out is NULL on failure. */
mg_status mg_conv_dnnl_create(const mg_conv2d_shape *s, int max_batch, int threads,
                              mg_conv_dnnl_layout layout, mg_conv_dnnl **out);
/* Free the object and everything it holds (NULL: nothing). */
void mg_conv_dnnl_free(mg_conv_dnnl *c);
/* Build the primitives for batches of n examples too (nothing to do when
 * already built). */
mg_status mg_conv_dnnl_reserve(mg_conv_dnnl *c, int n);

/* x: n x cin x h x w, y: n x cout x ho x wo (overwritten). */
mg_status mg_conv_dnnl_forward(mg_conv_dnnl *c, const float *params, const float *x, float *y,
                               int n);
/* x: the forward's input, dy: n x cout x ho x wo; grads += dL/dparams (may
 * be NULL), dx = dL/dx (may be NULL). */
mg_status mg_conv_dnnl_backward(mg_conv_dnnl *c, const float *params, float *grads, const float *x,
                                const float *dy, float *dx, int n);

/* The implementation oneDNN chose for batch n (built already): which 0
 * forward, 1 backward data, 2 backward weights; e.g. "jit:avx2".  A static
 * string of oneDNN's, or "" when batch n is not built.  For benchmarks. */
const char *mg_conv_dnnl_impl(const mg_conv_dnnl *c, int n, int which);

/* Benchmarks only (bench/bench_conv.c): on != 0 skips the reorders of the
 * activations (x, y, dx, dy) wherever the primitive's layout takes as many
 * bytes as NCHW, binding the caller's buffers as if they were in oneDNN's
 * layout: the results are then WRONG (the bytes are read in the wrong
 * order), but the time is what a network kept in oneDNN's layouts end to
 * end would pay. */
void mg_conv_dnnl_skip_reorders(mg_conv_dnnl *c, int on);

#endif
