/* layer_preact.c - the pre-activation residual block of PreActResNet
 * (He, Zhang, Ren, Sun 2016; the block of the Manifold Mixup authors' code):
 *
 *   a  = relu(bn1(x))                      cin  x h  x w
 *   c1 = conv1(a)     3x3, stride s, pad 1 cout x ho x wo
 *   b  = relu(bn2(c1))
 *   y  = conv2(b)     3x3, stride 1, pad 1
 *      + (proj ? conv1x1_s(a) : x)         shortcut
 *
 * Activation scratch (per example, see preact_buffers):
 *   buf[0] a, buf[1] c1, buf[2] b, buf[3] d b, buf[4] d c1, buf[5] d a,
 *   buf[6] d a (projection branch); fixed buf[7] = bn1 stats (2 cin) then bn2
 *   stats (2 cout).
 * Params: bn1 gamma, beta (cin each) | conv1 W | bn2 gamma, beta | conv2 W |
 * proj W.  Buffers: bn1 running mean, var | bn2 running mean, var.
 *
 * Two ops objects: mg_preact_ops runs the three convs on today's kernels
 * (src/par.c); mg_preact_dnnl_ops (picked by the planner when a conv suits
 * oneDNN, conv_backend.h) holds an executor per conv in l->impl (NULL for a
 * conv that stays on today's kernels, e.g. the 1x1 projection).  A third,
 * mg_preact_blk8_ops (end of the file), runs the block on nChw8c tensors. */
#include "blk8.h"
#include "conv_backend.h"
#include "layers.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t bn1, c1, bn2, c2, pj; /* parameter offsets inside the block */
} preact_offsets;

static preact_offsets offsets(const mg_layer *l)
{
    preact_offsets o;
    o.bn1 = 0;
    o.c1 = o.bn1 + 2 * (size_t)l->c;
    o.bn2 = o.c1 + mg_conv2d_n_params(&l->conv);
    o.c2 = o.bn2 + 2 * (size_t)l->oc;
    o.pj = o.c2 + mg_conv2d_n_params(&l->conv2);
    return o;
}

/* n_p, n_b from the shapes (0 on a record not set up yet) */
static void preact_sizes(mg_layer *l)
{
    preact_offsets o = offsets(l);
    l->n_p = o.pj + (l->has_proj ? mg_conv2d_n_params(&l->proj) : 0);
    l->n_b = 2 * (size_t)l->c + 2 * (size_t)l->oc;
}

mg_status mg_preact_setup(mg_layer *l, int cin, int h, int w, int cout, int stride)
{
    mg_status st = mg_conv2d_shape_init(&l->conv, cin, h, w, cout, 3, 3, stride, 1, 0);
    if (st) return st;
    st = mg_conv2d_shape_init(&l->conv2, cout, l->conv.ho, l->conv.wo, cout, 3, 3, 1, 1, 0);
    if (st) return st;
    l->has_proj = stride != 1 || cin != cout;
    if (l->has_proj) {
        st = mg_conv2d_shape_init(&l->proj, cin, h, w, cout, 1, 1, stride, 0, 0);
        if (st) return st;
    }
    l->c = cin, l->h = h, l->w = w;
    l->oc = cout, l->oh = l->conv.ho, l->ow = l->conv.wo;
    l->in = cin * h * w;
    l->out = cout * l->oh * l->ow;
    preact_sizes(l);
    return MG_OK;
}

static void preact_buffers(const mg_layer *l, int max_batch, mg_layer_mem *mem)
{
    size_t in = (size_t)l->in, out = (size_t)l->out;
    mem->per_ex[0] = in, mem->per_ex[1] = out, mem->per_ex[2] = out, mem->per_ex[3] = out;
    mem->per_ex[4] = out, mem->per_ex[5] = in, mem->per_ex[6] = l->has_proj ? in : 0;
    mem->fixed[7] = 2 * (size_t)l->c + 2 * (size_t)l->oc;
    size_t w1 = mg_conv2d_workspace(&l->conv, max_batch);
    size_t w2 = mg_conv2d_workspace(&l->conv2, max_batch);
    size_t w3 = l->has_proj ? mg_conv2d_workspace(&l->proj, max_batch) : 0;
    mem->ws = w1 > w2 ? w1 : w2;
    mem->ws = mem->ws > w3 ? mem->ws : w3;
    size_t g1 = mg_conv2d_n_params(&l->conv), g2 = mg_conv2d_n_params(&l->conv2);
    size_t g3 = l->has_proj ? mg_conv2d_n_params(&l->proj) : 0;
    mem->team_grads = g1 > g2 ? g1 : g2;
    mem->team_grads = mem->team_grads > g3 ? mem->team_grads : g3;
}

static void preact_init(const mg_layer *l, float *p, float *b, mg_init init, mg_rng *rng)
{
    (void)init;
    preact_offsets o = offsets(l);
    mg_bn2d_init(l->c, p + o.bn1, b);
    mg_conv2d_init_he(&l->conv, p + o.c1, 2.0f, rng);
    mg_bn2d_init(l->oc, p + o.bn2, b + 2 * l->c);
    mg_conv2d_init_he(&l->conv2, p + o.c2, 2.0f, rng);
    if (l->has_proj) mg_conv2d_init_he(&l->proj, p + o.pj, 1.0f, rng);
}

/* l->impl of mg_preact_dnnl_ops: the executors of conv1, conv2, proj */
typedef struct {
    mg_conv_exec *e[3];
} preact_impl;

void mg_preact_execs(const mg_layer *l, const mg_conv_exec *out[3])
{
    const preact_impl *pi = l->impl;
    for (int k = 0; k < 3; k++) out[k] = pi ? pi->e[k] : NULL;
}

static mg_conv_exec *exec_of(const mg_layer *l, int k)
{
    const preact_impl *pi = l->impl;
    return pi ? pi->e[k] : NULL;
}

/* The batch norm + ReLU passes of a layout (par.h: NCHW, blk8.h: nChw8c). */
typedef void (*bn_fwd_fn)(const mg_par *par, int c, int hw, int n, const float *params,
                          float *buffers, const float *x, float *y, float *stats, int train,
                          int relu);
typedef void (*bn_bwd_fn)(const mg_par *par, int c, int hw, int n, const float *params,
                          float *grads, const float *x, const float *y, const float *stats,
                          const float *dy, float *dx, int train, int relu);

/* The block's forward on input x (in the layout of bn) into ctx->y. */
static void block_forward(mg_layer *l, const mg_fwd_ctx *ctx, const float *x, bn_fwd_fn bn)
{
    preact_offsets o = offsets(l);
    const float *p = ctx->p;
    float *rb = ctx->b, *y = ctx->y;
    int n = ctx->n, train = ctx->train;
    const mg_par *par = ctx->par;
    int hw = l->h * l->w, ohw = l->oh * l->ow;
    float *a = l->buf[0], *c1 = l->buf[1], *b = l->buf[2];
    float *st1 = l->buf[7], *st2 = l->buf[7] + 2 * l->c;
    bn(par, l->c, hw, n, p + o.bn1, rb, x, a, st1, train, 1);
    mg_conv_exec_forward(exec_of(l, 0), par, &l->conv, p + o.c1, a, c1, n);
    bn(par, l->oc, ohw, n, p + o.bn2, rb + 2 * l->c, c1, b, st2, train, 1);
    mg_conv_exec_forward(exec_of(l, 1), par, &l->conv2, p + o.c2, b, y, n);
    size_t cnt = (size_t)n * l->out;
    if (l->has_proj) {
        float *sc = l->buf[3]; /* the d b slot is free during the forward pass */
        mg_conv_exec_forward(exec_of(l, 2), par, &l->proj, p + o.pj, a, sc, n);
        mg_par_add(par, y, sc, cnt);
    } else {
        mg_par_add(par, y, x, cnt);
    }
}

static void preact_forward(mg_layer *l, const mg_fwd_ctx *ctx)
{
    block_forward(l, ctx, ctx->x, mg_par_bn2d_forward);
}

/* grads + off, or NULL when no parameter gradients are wanted */
static float *grad_at(float *grads, size_t off)
{
    return grads ? grads + off : NULL;
}

/* The block's backward from ctx->dy; x: the forward's input, dx: its
 * gradient or NULL (both in the layout of bn). */
static void block_backward(const mg_layer *l, const mg_bwd_ctx *ctx, const float *x, float *dx,
                           bn_bwd_fn bn)
{
    preact_offsets o = offsets(l);
    const float *p = ctx->p, *dy = ctx->dy;
    float *g = ctx->g;
    int n = ctx->n, train = ctx->train;
    const mg_par *par = ctx->par;
    int hw = l->h * l->w, ohw = l->oh * l->ow;
    const float *a = l->buf[0], *c1 = l->buf[1], *b = l->buf[2];
    float *db = l->buf[3], *dc1 = l->buf[4], *da = l->buf[5], *dap = l->buf[6];
    const float *st1 = l->buf[7], *st2 = l->buf[7] + 2 * l->c;
    /* residual branch */
    mg_conv_exec_backward(exec_of(l, 1), par, &l->conv2, p + o.c2, grad_at(g, o.c2), b, dy, db, n);
    bn(par, l->oc, ohw, n, p + o.bn2, grad_at(g, o.bn2), c1, b, st2, db, dc1, train, 1);
    mg_conv_exec_backward(exec_of(l, 0), par, &l->conv, p + o.c1, grad_at(g, o.c1), a, dc1, da, n);
    size_t cin_cnt = (size_t)n * l->in;
    if (l->has_proj) {
        /* the shortcut reads a as well: its gradient joins da */
        mg_conv_exec_backward(exec_of(l, 2), par, &l->proj, p + o.pj, grad_at(g, o.pj), a, dy, dap,
                              n);
        mg_par_add(par, da, dap, cin_cnt);
    }
    /* bn1 + relu; the parameter gradients are needed even when dx is not
     * (with neither, the kernel returns at once) */
    bn(par, l->c, hw, n, p + o.bn1, grad_at(g, o.bn1), x, a, st1, da, dx, train, 1);
    if (dx && !l->has_proj) mg_par_add(par, dx, dy, cin_cnt); /* identity shortcut */
}

static void preact_backward(const mg_layer *l, const mg_bwd_ctx *ctx)
{
    block_backward(l, ctx, ctx->x, ctx->dx, mg_par_bn2d_backward);
}

static double preact_flops(const mg_layer *l, int backward, int need_dx)
{
    (void)need_dx; /* the block's convolutions need their dx for the block's own layers */
    double f = mg_conv2d_flops(&l->conv) + mg_conv2d_flops(&l->conv2) +
               (l->has_proj ? mg_conv2d_flops(&l->proj) : 0.0);
    return backward ? f * 2.0 : f;
}

/* The team splits the convolutions by examples and the batch norms by
 * channels (src/par.c). */
const mg_layer_ops mg_preact_ops = {
    .name = "preact",
    .sizes = preact_sizes,
    .buffers = preact_buffers,
    .init = preact_init,
    .forward = preact_forward,
    .backward = preact_backward,
    .flops = preact_flops,
    .split = MG_SPLIT_BATCH,
};

static mg_status preact_dnnl_reserve(mg_layer *l, int max_batch, const mg_par *par)
{
    preact_impl *pi = l->impl;
    if (!pi) {
        pi = calloc(1, sizeof *pi);
        if (!pi) return MG_OK; /* today's kernels for all three */
        l->impl = pi;
    }
    const mg_conv2d_shape *sh[3] = {&l->conv, &l->conv2, l->has_proj ? &l->proj : NULL};
    for (int k = 0; k < 3; k++)
        if (sh[k]) mg_conv_exec_reserve(&pi->e[k], sh[k], max_batch, par);
    return MG_OK;
}

static void preact_dnnl_release(mg_layer *l)
{
    preact_impl *pi = l->impl;
    for (int k = 0; pi && k < 3; k++) mg_conv_exec_free(pi->e[k]);
    free(pi);
    l->impl = NULL;
}

/* The same block with its 3x3 convs through oneDNN where they suit. */
const mg_layer_ops mg_preact_dnnl_ops = {
    .name = "preact",
    .sizes = preact_sizes,
    .buffers = preact_buffers,
    .init = preact_init,
    .forward = preact_forward,
    .backward = preact_backward,
    .flops = preact_flops,
    .reserve = preact_dnnl_reserve,
    .release = preact_dnnl_release,
    .split = MG_SPLIT_BATCH,
};

/* ---------------------------------------------------------------- nChw8c */

/* mg_preact_blk8_ops: the block on nChw8c tensors end to end (blk_out = 1;
 * blk_in = 0 for the first block after the stem, whose input is converted
 * here, and its input gradient converted back).  All three convs run
 * through oneDNN on the caller's tensors (mg_conv_exec_reserve_blk8: no
 * reorders of the activations), the batch norms through the nChw8c kernels
 * of src/blk8.h.  Extra scratch when blk_in = 0: buf[8] the input in
 * nChw8c, buf[9] its gradient. */

static void preact_blk8_buffers(const mg_layer *l, int max_batch, mg_layer_mem *mem)
{
    size_t in = (size_t)l->in, out = (size_t)l->out;
    mem->per_ex[0] = in, mem->per_ex[1] = out, mem->per_ex[2] = out, mem->per_ex[3] = out;
    mem->per_ex[4] = out, mem->per_ex[5] = in, mem->per_ex[6] = l->has_proj ? in : 0;
    mem->fixed[7] = 2 * (size_t)l->c + 2 * (size_t)l->oc;
    mem->per_ex[8] = l->blk_in ? 0 : in;
    mem->per_ex[9] = l->blk_in ? 0 : in;
    (void)max_batch; /* no im2col workspace: every conv is oneDNN's */
    size_t g1 = mg_conv2d_n_params(&l->conv), g2 = mg_conv2d_n_params(&l->conv2);
    size_t g3 = l->has_proj ? mg_conv2d_n_params(&l->proj) : 0;
    mem->team_grads = g1 > g2 ? g1 : g2;
    mem->team_grads = mem->team_grads > g3 ? mem->team_grads : g3;
}

static void preact_blk8_forward(mg_layer *l, const mg_fwd_ctx *ctx)
{
    const float *x = ctx->x;
    if (!l->blk_in) {
        mg_par_blk8_from_nchw(ctx->par, x, l->buf[8], ctx->n, l->c, l->h * l->w);
        x = l->buf[8];
    }
    block_forward(l, ctx, x, mg_par_bn2d_blk8_forward);
}

static void preact_blk8_backward(const mg_layer *l, const mg_bwd_ctx *ctx)
{
    float *dx = ctx->dx, *dxb = dx && !l->blk_in ? l->buf[9] : dx; /* dx in nChw8c */
    block_backward(l, ctx, l->blk_in ? ctx->x : l->buf[8], dxb, mg_par_bn2d_blk8_backward);
    if (dxb != dx) mg_par_blk8_to_nchw(ctx->par, dxb, dx, ctx->n, l->c, l->h * l->w);
}

static mg_status preact_blk8_reserve(mg_layer *l, int max_batch, const mg_par *par)
{
    preact_impl *pi = l->impl;
    if (!pi) {
        pi = calloc(1, sizeof *pi);
        if (!pi) return mg_fail(MG_ERR_NOMEM, "out of memory (residual block)");
        l->impl = pi;
    }
    const mg_conv2d_shape *sh[3] = {&l->conv, &l->conv2, l->has_proj ? &l->proj : NULL};
    for (int k = 0; k < 3; k++) {
        if (!sh[k]) continue;
        mg_status st = mg_conv_exec_reserve_blk8(&pi->e[k], sh[k], max_batch, par);
        if (st) return mg_fail_prefix(st, "residual block %d: ", l->block);
    }
    return MG_OK;
}

/* The same block on nChw8c tensors (planned by mg_conv_pick_ops). */
const mg_layer_ops mg_preact_blk8_ops = {
    .name = "preact",
    .sizes = preact_sizes,
    .buffers = preact_blk8_buffers,
    .init = preact_init,
    .forward = preact_blk8_forward,
    .backward = preact_blk8_backward,
    .flops = preact_flops,
    .reserve = preact_blk8_reserve,
    .release = preact_dnnl_release,
    .split = MG_SPLIT_BATCH,
};
