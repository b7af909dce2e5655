/* conv_backend.h - internal: which implementation runs a convolution of a
 * model, and the oneDNN executor the layers use (src/layer_conv2d_dnnl.c).
 *
 * Two implementations of mg_conv2d_shape:
 *  - today's kernels (conv.h: im2col / shift + sgemm), split over the
 *    model's team by src/par.c;
 *  - oneDNN's direct convolutions in its blocked layout (conv_dnnl.h), for
 *    the shapes mg_conv_dnnl_suits accepts: 3x3, pad 1, stride 1 or 2, at
 *    least MG_CONV_DNNL_MIN_CIN input channels (bench/bench_conv.c: 1.2-1.5x
 *    faster there, reorders from / to NCHW included; slower on the 1x1
 *    stride-2 projections and on the stem's 1-3 input channels).
 * The rule is static: it depends on the shape and on mg_set_conv_backend
 * only, never on timings, so the implementation of every conv (and hence
 * the bits of a run) does not depend on machine load.
 *
 * Threads (README, "Threads"): every worker of the model's team calls its
 * own single-threaded oneDNN objects on its share of the batch (the split
 * of src/par.c), weight gradients of workers w >= 1 into par->gbuf[w],
 * added in the order w = 1, 2, ... afterwards: one source of parallelism,
 * no OpenMP threads, bit-identical run to run for a given team size.
 *
 * Fallback: an executor that cannot be built (no usable JIT kernel, e.g. no
 * AVX2: oneDNN would pick a reference implementation; any oneDNN error) is
 * NULL, and a NULL executor runs today's kernels; a call that fails (an
 * allocation for a new batch size) runs today's kernels for that call. */
#ifndef MG_CONV_BACKEND_H
#define MG_CONV_BACKEND_H

#include "layers.h"

#define MG_CONV_DNNL_MIN_CIN 8

/* 1 when shape s goes to oneDNN under MG_CONV_BACKEND_AUTO. */
int mg_conv_dnnl_suits(const mg_conv2d_shape *s);

/* The planner's pass (src/arch.c, after the layers are laid out): gives the
 * oneDNN ops below to the CONV2D and PREACT layers with a conv that suits,
 * unless mg_get_conv_backend() is MG_CONV_BACKEND_IM2COL. */
void mg_conv_pick_ops(mg_layer *layers, int nl);
/* Also (on by default): a PreActResNet in nChw8c from its first residual
 * block to its global average pooling, when oneDNN has JIT kernels here
 * (AVX2) and every channel count is a multiple of 8 (blk_in / blk_out,
 * mg_preact_blk8_ops, mg_bn2d_blk8_ops, mg_gap_blk8_ops); benchmarks switch
 * it off with mg_conv_set_blk8(0) to measure the NCHW + reorders path.
 * Takes effect for models planned afterwards. */
void mg_conv_set_blk8(int on);

/* The same layers, with reserve / release hooks that build and free the
 * oneDNN executors in l->impl (layer_conv2d_dnnl.c, layer_preact.c). */
extern const mg_layer_ops mg_conv2d_dnnl_ops;
extern const mg_layer_ops mg_preact_dnnl_ops;

/* layer_conv2d.c: the CONV2D hooks both implementations share. */
void mg_conv2d_layer_sizes(mg_layer *l);
void mg_conv2d_layer_buffers(const mg_layer *l, int max_batch, mg_layer_mem *mem);
void mg_conv2d_layer_init(const mg_layer *l, float *p, float *b, mg_init init, mg_rng *rng);
double mg_conv2d_layer_flops(const mg_layer *l, int backward, int need_dx);
void mg_conv2d_layer_detail(const mg_layer *l, char *buf, size_t len);

/* One conv's oneDNN objects for the team of par (opaque). */
typedef struct mg_conv_exec mg_conv_exec;

/* Free *e and, when s suits oneDNN, build a new executor for batches of up
 * to max_batch on par's team into *e; *e = NULL (today's kernels) when
 * oneDNN cannot.  Never fails. */
void mg_conv_exec_reserve(mg_conv_exec **e, const mg_conv2d_shape *s, int max_batch,
                          const mg_par *par);
/* Free *e and build an executor for nChw8c tensors (MG_CONV_DNNL_BLK8, any
 * shape with channels in multiples of 8, oneDNN's reference loops where it
 * has no JIT kernel) into *e.  Its calls never run today's kernels: a call
 * that fails (an allocation for a batch size not built yet) writes NaN into
 * its outputs, which stops a training run at its loss check. */
mg_status mg_conv_exec_reserve_blk8(mg_conv_exec **e, const mg_conv2d_shape *s, int max_batch,
                                    const mg_par *par);
void mg_conv_exec_free(mg_conv_exec *e); /* NULL: nothing */
/* oneDNN's implementation of the forward primitive, e.g. "jit:avx2". */
const char *mg_conv_exec_impl(const mg_conv_exec *e);

/* mg_par_conv_forward / mg_par_conv_backward (same contracts) through e,
 * or through today's kernels when e is NULL. */
void mg_conv_exec_forward(mg_conv_exec *e, const mg_par *par, const mg_conv2d_shape *s,
                          const float *params, const float *x, float *y, int n);
void mg_conv_exec_backward(mg_conv_exec *e, const mg_par *par, const mg_conv2d_shape *s,
                           const float *params, float *grads, const float *x, const float *dy,
                           float *dx, int n);

/* model.c: layer record i of m (0 <= i < mg_model_n_layers). */
const mg_layer *mg_model_layer_record(const mg_model *m, int i);

/* layer_preact.c: the executors of a PREACT layer's convs (conv1, conv2,
 * proj; NULL: today's kernels), from l->impl. */
void mg_preact_execs(const mg_layer *l, const mg_conv_exec *out[3]);

#endif
