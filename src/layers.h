/* layers.h - internal: the layer record, the layer operations table and the
 * per-kind entry points.
 *
 * A layer reads its input x (n x in) and writes its own output y (n x out).
 * Backward reads dy (n x out), ACCUMULATES parameter gradients into its
 * slice of the model's gradient arena and, when dx is non-NULL, OVERWRITES
 * dx (n x in).  Every backward accepts g == NULL: parameter gradients
 * skipped, only the work that dx needs is done (mg_model_backward_input);
 * and dx == NULL: no input gradient (the first layer of a training pass).
 *
 * Dispatch: every layer record points at an mg_layer_ops, set when the
 * architecture is planned (src/arch.c: mg_layer_ops_default(kind), the
 * table of one object per mg_layer_kind).  model.c only runs the generic
 * loop through l->ops.  Each kind's ops object lives in the kind's file
 * (layer_<kind>.c).  A new kind is a new enum value, one entry in the
 * table and its file; another algorithm for an existing kind (e.g. conv2d
 * through oneDNN) is another ops object in a file of its own, chosen by
 * the planner for the layers it suits; nothing in model.c changes. */
#ifndef MG_LAYERS_H
#define MG_LAYERS_H

#include "mixgeo.h"
#include "par.h"

#define MG_LAYER_NBUF 10

typedef struct mg_layer_ops mg_layer_ops;

typedef struct mg_layer mg_layer;
struct mg_layer {
    mg_layer_kind kind;
    const mg_layer_ops *ops; /* how it computes (set by the planner, never NULL) */
    int block;               /* 1..L                                          */
    int in, out;             /* features in / out                            */
    float param;             /* lrelu slope, dropout p, noise sigma, bn2d fused ReLU (1) */
    float gain2;             /* dense, conv2d: He init gain^2 of what follows (1 for the logits) */
    size_t p_off;            /* first trainable parameter in the arenas        */
    size_t n_p;              /* number of trainable parameters                 */
    size_t b_off;            /* first saved buffer (bn running stats)          */
    size_t n_b;
    /* image layers: input c x h x w, output oc x oh x ow */
    int c, h, w, oc, oh, ow;
    mg_conv2d_shape conv;  /* CONV2D; PREACT: the first 3x3 conv             */
    mg_conv2d_shape conv2; /* PREACT: the second 3x3 conv                    */
    mg_conv2d_shape proj;  /* PREACT: 1x1 projection shortcut (has_proj)     */
    int has_proj;
    mg_pool_shape pool; /* MAXPOOL / AVGPOOL                              */
    /* Layouts of x and y (and so of dx and dy): 0 NCHW (or a plain vector),
     * 1 oneDNN's nChw8c (src/blk8.h), set by the planner for a PreActResNet
     * kept in that layout end to end (mg_conv_pick_ops).  The model converts
     * at its boundaries: mg_model_state, mg_model_layer_output and the start
     * state of mg_model_forward / its input gradient are always NCHW. */
    int blk_in, blk_out;
    /* activation arena views (max_batch rows; sized by ops->buffers) */
    float *y;                  /* output, n x out                                 */
    float *aux;                /* mg_layer_mem.aux: dropout mask, bn1d x-hat (n x out); else NULL */
    float *aux2;               /* 2 x out: bn1d batch mean and inverse std        */
    float *dy;                 /* gradient w.r.t. the output, n x out            */
    float *buf[MG_LAYER_NBUF]; /* image layers: per-example / fixed scratch (see layer_preact.c) */
    const float *x;            /* input of the last forward (not owned)          */
    /* An activation layer whose passes this layer does in its own epilogue
     * (dense followed by relu/lrelu/tanh in the same block; set by the
     * planner, which gives that layer the kind's *_fused_ops whose forward
     * and backward do nothing), or NULL.  The fusing layer writes the
     * activation's y in its forward and, in its backward, forms its own dy
     * from the activation's dy, so every layer's y and dy stay what the
     * unfused passes would give (bit for bit). */
    mg_layer *fused;
    /* Per-layer state of an implementation (e.g. a oneDNN primitive),
     * created by ops->reserve and freed by ops->release; NULL otherwise. */
    void *impl;
};

/* A forward call.  p, b: the layer's own slices of the parameter and
 * buffer arenas (n_p, n_b floats; b updated in train mode: running stats).
 * y is l->y.  rng: for dropout and noise in train mode.  par: the worker
 * team (par->n == 1: serial). */
typedef struct {
    const float *p;
    float *b;
    const float *x; /* n x in, read (not owned; also left in l->x)  */
    float *y;       /* n x out, overwritten                         */
    int n, train;
    mg_rng *rng;
    const mg_par *par;
} mg_fwd_ctx;

/* A backward call, after the forward on the same batch.  g: the layer's
 * slice of the gradient arena, or NULL for no parameter gradients.
 * overwrite (only ever 1 for ops with MG_LAYER_OVERWRITES_GRADS, and only
 * with g): g holds stale values, write instead of accumulating; ops
 * without that flag get g zeroed by the model first. */
typedef struct {
    const float *p, *b;
    float *g;
    int overwrite;
    const float *x, *y; /* the forward's input and output (l->x, l->y) */
    const float *dy;    /* n x out                                     */
    float *dx;          /* n x in, overwritten; NULL: not wanted       */
    int n, train;
    const mg_par *par;
} mg_bwd_ctx;

/* Activation memory of a layer beyond y, dy and aux2 (2 x out, always),
 * at max_batch: aux gets aux floats per example; buf[i] per_ex[i] floats
 * per example plus fixed[i]; ws is the workspace it needs (one shared by
 * all layers); team_grads the private weight gradient (floats) each
 * worker w >= 1 needs (the largest conv's parameter count). */
typedef struct {
    size_t aux;
    size_t per_ex[MG_LAYER_NBUF], fixed[MG_LAYER_NBUF];
    size_t ws;
    size_t team_grads;
} mg_layer_mem;

/* How a layer's work is parallelised while the model's worker team is on
 * (mg_model_set_threads; README, "Threads").  Every model with threads > 1
 * runs a team; OpenBLAS is at one thread during the passes except inside a
 * layer split MG_SPLIT_BLAS. */
typedef enum {
    MG_SPLIT_SERIAL = 0, /* on the calling thread (OpenBLAS at one thread)         */
    MG_SPLIT_BLAS,       /* one wide GEMM: OpenBLAS gets the team's thread count
                            back for the call (the workers idle meanwhile)        */
    MG_SPLIT_BATCH,      /* the team splits the examples (convolutions)            */
    MG_SPLIT_CHANNELS,   /* the team splits the channels (batch norm 2-d)          */
    MG_SPLIT_COLUMNS     /* the team splits a GEMM's output columns (dense: forward
                            by output features, weight gradient by its rows, input
                            gradient by input features), OpenBLAS at one thread;
                            every output element is computed by one worker        */
} mg_layer_split;

/* flags */
#define MG_LAYER_OVERWRITES_GRADS 1u /* backward honours mg_bwd_ctx.overwrite */

/* The operations of one kind (or one algorithm for a kind).  Optional
 * (NULL): sizes (no parameters, no buffers), buffers (none), init
 * (nothing to initialise), flops (0), detail (none), reserve and release
 * (no per-layer state).  Required: name, forward, backward. */
struct mg_layer_ops {
    const char *name; /* as in mg_model_describe */
    /* Set n_p and n_b from the shape fields (called again after the planner
     * sets them). */
    void (*sizes)(mg_layer *l);
    /* Extra activation memory at max_batch (> 0) into *mem (zeroed by the
     * caller). */
    void (*buffers)(const mg_layer *l, int max_batch, mg_layer_mem *mem);
    /* Fresh parameters p (n_p) and buffers b (n_b); init: --init (dense). */
    void (*init)(const mg_layer *l, float *p, float *b, mg_init init, mg_rng *rng);
    void (*forward)(mg_layer *l, const mg_fwd_ctx *c);
    void (*backward)(const mg_layer *l, const mg_bwd_ctx *c);
    /* Multiply-adds x 2 per example: the forward pass, or (backward) the
     * backward pass, need_dx 0 when the input gradient is not formed
     * (the first layer). */
    double (*flops)(const mg_layer *l, int backward, int need_dx);
    /* The shape or parameter after the name in mg_model_describe, e.g.
     * "(0.5)" (buf[0] = '\0' for none). */
    void (*detail)(const mg_layer *l, char *buf, size_t len);
    /* Called by mg_model_reserve for every layer, after its activation
     * views (y, dy, aux, buf) are assigned for max_batch and the team's
     * buffers set up (par: the model's team, as the passes will see it;
     * called again when reserve grows the batch or the thread count
     * changes).  May create per-layer state in l->impl (e.g. primitives
     * for a batch size); a failure returns a status with mg_fail's message,
     * which mg_model_reserve / mg_model_set_threads pass on. */
    mg_status (*reserve)(mg_layer *l, int max_batch, const mg_par *par);
    /* Free l->impl (called by mg_model_free, also when reserve never ran
     * or failed; must accept l->impl == NULL) and set it to NULL. */
    void (*release)(mg_layer *l);
    mg_layer_split split;
    unsigned flags;
};

/* One ops object per kind, each in its kind's file. */
extern const mg_layer_ops mg_dense_ops; /* layer_dense.c   */
extern const mg_layer_ops mg_bn1d_ops;  /* layer_bn1d.c    */
extern const mg_layer_ops mg_relu_ops;  /* layer_act.c     */
extern const mg_layer_ops mg_lrelu_ops;
extern const mg_layer_ops mg_tanh_ops;
/* The same activations fused into the dense layer before them (forward and
 * backward do nothing: the dense layer's epilogue does the work). */
extern const mg_layer_ops mg_relu_fused_ops;
extern const mg_layer_ops mg_lrelu_fused_ops;
extern const mg_layer_ops mg_tanh_fused_ops;
extern const mg_layer_ops mg_dropout_ops; /* layer_dropout.c */
extern const mg_layer_ops mg_noise_ops;
extern const mg_layer_ops mg_conv2d_ops;  /* layer_conv2d.c  */
extern const mg_layer_ops mg_bn2d_ops;    /* layer_bn2d.c    */
extern const mg_layer_ops mg_maxpool_ops; /* layer_pool.c    */
extern const mg_layer_ops mg_avgpool_ops;
extern const mg_layer_ops mg_gap_ops;
extern const mg_layer_ops mg_preact_ops; /* layer_preact.c  */
/* The image layers on nChw8c tensors (blk_in / blk_out, src/blk8.h). */
extern const mg_layer_ops mg_preact_blk8_ops; /* layer_preact.c: all convs oneDNN */
extern const mg_layer_ops mg_bn2d_blk8_ops;   /* layer_bn2d.c   */
extern const mg_layer_ops mg_gap_blk8_ops;    /* layer_pool.c: plain n x c out */

/* The activation of layer a (RELU, LRELU, TANH) on a rows x cols block of
 * row stride ld: y = f(x) (layer_act.c).  Backward: dx = f'(.) dy, reading
 * x (relu, lrelu) or y (tanh).  The plain passes and the dense epilogue
 * both use these, so fused and unfused give the same bits. */
void mg_act_forward_block(const mg_layer *a, int rows, int cols, const float *x, float *y,
                          size_t ld);
void mg_act_backward_block(const mg_layer *a, int rows, int cols, const float *x, const float *y,
                           const float *dy, float *dx, size_t ld);
/* The fused ops of an activation kind, or NULL for a kind that cannot be
 * fused into a dense epilogue. */
const mg_layer_ops *mg_act_fused_ops(mg_layer_kind kind);

/* Pre-activation residual block (layer_preact.c): set its three conv
 * shapes, image sizes, in, out, n_p and n_b.  Params: bn1 (2 cin), conv1,
 * bn2 (2 cout), conv2, [proj]; buffers: bn1 running (2 cin), bn2 running
 * (2 cout). */
mg_status mg_preact_setup(mg_layer *l, int cin, int h, int w, int cout, int stride);

#define MG_BN_EPS 1e-5f
#define MG_BN_MOMENTUM 0.1f

#endif
