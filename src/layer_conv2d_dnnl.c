/* layer_conv2d_dnnl.c - conv2d through oneDNN (see conv_backend.h): the
 * executor over the model's worker team, the CONV2D layer's oneDNN ops,
 * the planner's choice of ops and the public switch (mixgeo.h). */
#include "conv_backend.h"
#include "conv_dnnl.h"

#include <oneapi/dnnl/dnnl.h>
#include <stdatomic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- the switch */

static _Atomic int g_backend = MG_CONV_BACKEND_AUTO;

void mg_set_conv_backend(mg_conv_backend b)
{
    MG_ASSERT(b == MG_CONV_BACKEND_AUTO || b == MG_CONV_BACKEND_IM2COL);
    g_backend = (int)b;
}

mg_conv_backend mg_get_conv_backend(void)
{
    return (mg_conv_backend)g_backend;
}

int mg_conv_dnnl_suits(const mg_conv2d_shape *s)
{
    return s->kh == 3 && s->kw == 3 && s->pad == 1 && (s->stride == 1 || s->stride == 2) &&
           s->cin >= MG_CONV_DNNL_MIN_CIN;
}

static _Atomic int g_blk8 = 1;

void mg_conv_set_blk8(int on)
{
    g_blk8 = on != 0;
}

/* oneDNN has its JIT kernels for nChw8c here (AVX2 or later). */
static int blk8_isa(void)
{
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    return (isa & (unsigned)dnnl_cpu_isa_avx2) == (unsigned)dnnl_cpu_isa_avx2;
}

/* The nChw8c chain: from the first PREACT layer up to and including the
 * first GAP after it, every layer a PREACT or BN2D with channels in
 * multiples of 8 (then a GAP).  Returns the GAP's index, or -1 when the
 * network does not have that shape. */
static int blk8_chain(const mg_layer *layers, int nl, int *first)
{
    int f = 0;
    while (f < nl && layers[f].kind != MG_LAYER_PREACT) f++;
    if (f == nl) return -1;
    for (int i = f; i < nl; i++) {
        const mg_layer *l = &layers[i];
        if (l->kind == MG_LAYER_GAP) {
            *first = f;
            return l->c % 8 ? -1 : i;
        }
        if (l->kind == MG_LAYER_PREACT) {
            if (l->c % 8 || l->oc % 8) return -1;
        } else if (l->kind == MG_LAYER_BN2D) {
            if (l->c % 8) return -1;
        } else {
            return -1;
        }
    }
    return -1;
}

void mg_conv_pick_ops(mg_layer *layers, int nl)
{
    for (int i = 0; i < nl; i++) layers[i].blk_in = layers[i].blk_out = 0;
    if (mg_get_conv_backend() == MG_CONV_BACKEND_IM2COL) return;
    for (int i = 0; i < nl; i++) {
        mg_layer *l = &layers[i];
        if (l->ops == &mg_conv2d_ops && mg_conv_dnnl_suits(&l->conv))
            l->ops = &mg_conv2d_dnnl_ops;
        else if (l->ops == &mg_preact_ops &&
                 (mg_conv_dnnl_suits(&l->conv) || mg_conv_dnnl_suits(&l->conv2) ||
                  (l->has_proj && mg_conv_dnnl_suits(&l->proj))))
            l->ops = &mg_preact_dnnl_ops;
    }
    /* A PreActResNet stays in nChw8c from its first block to the pooling:
     * no layout conversion between its convs (bench/bench_conv.c,
     * "blocked-reorders"), the 1x1 projections through oneDNN too. */
    int f, g = g_blk8 && blk8_isa() ? blk8_chain(layers, nl, &f) : -1;
    if (g < 0) return;
    for (int i = f; i <= g; i++) {
        mg_layer *l = &layers[i];
        l->blk_in = i > f;
        l->blk_out = i < g;
        l->ops = l->kind == MG_LAYER_PREACT ? &mg_preact_blk8_ops
                 : l->kind == MG_LAYER_BN2D ? &mg_bn2d_blk8_ops
                                            : &mg_gap_blk8_ops;
    }
}

/* ---------------------------------------------------------------- the executor */

/* One single-threaded oneDNN object per worker of the team, built for the
 * worker's share of max_batch (other batch sizes are built on first use,
 * conv_dnnl.h).  Measured against one object on oneDNN's 2 OpenMP threads
 * called while the team idles (bench_train --net cnn, interleaved, a loaded
 * 2-core machine): 150 against 63 images/s (medians of 3; im2col: 114). */
struct mg_conv_exec {
    int nw;        /* workers (objects)                                  */
    int blk8;      /* the tensors are nChw8c (mg_conv_exec_reserve_blk8) */
    char impl[32]; /* oneDNN's forward implementation, e.g. "jit:avx2"  */
    mg_conv_dnnl *obj[MG_MAX_WORKERS];
};

void mg_conv_exec_free(mg_conv_exec *e)
{
    if (!e) return;
    for (int w = 0; w < MG_MAX_WORKERS; w++) mg_conv_dnnl_free(e->obj[w]);
    free(e);
}

/* A usable implementation: oneDNN's JIT kernels (no reference loops). */
static int usable(const mg_conv_dnnl *c, int n)
{
    for (int which = 0; which < 3; which++) {
        const char *impl = mg_conv_dnnl_impl(c, n, which);
        if (!impl[0] || strstr(impl, "ref")) return 0;
    }
    return 1;
}

void mg_conv_exec_reserve(mg_conv_exec **e, const mg_conv2d_shape *s, int max_batch,
                          const mg_par *par)
{
    mg_conv_exec_free(*e);
    *e = NULL;
    if (!mg_conv_dnnl_suits(s) || max_batch < 1) return;
    mg_conv_exec *x = calloc(1, sizeof *x);
    if (!x) return;
    x->nw = par && par->team ? par->n : 1;
    for (int w = 0; w < x->nw; w++) {
        int lo, hi;
        mg_team_share(max_batch, w, x->nw, &lo, &hi);
        if (hi == lo) continue; /* an idle worker at this batch size */
        mg_conv_dnnl *c = NULL;
        if (mg_conv_dnnl_create(s, hi - lo, 1, MG_CONV_DNNL_BLOCKED, &c) || !usable(c, hi - lo)) {
            mg_conv_dnnl_free(c);
            mg_conv_exec_free(x);
            return;
        }
        x->obj[w] = c;
        if (!x->impl[0]) snprintf(x->impl, sizeof x->impl, "%s", mg_conv_dnnl_impl(c, hi - lo, 0));
    }
    *e = x;
}

mg_status mg_conv_exec_reserve_blk8(mg_conv_exec **e, const mg_conv2d_shape *s, int max_batch,
                                    const mg_par *par)
{
    mg_conv_exec_free(*e);
    *e = NULL;
    if (max_batch < 1) return mg_fail(MG_ERR_CONFIG, "oneDNN conv: batch size %d < 1", max_batch);
    mg_conv_exec *x = calloc(1, sizeof *x);
    if (!x) return mg_fail(MG_ERR_NOMEM, "oneDNN conv: out of memory");
    x->blk8 = 1;
    x->nw = par && par->team ? par->n : 1;
    for (int w = 0; w < x->nw; w++) {
        int lo, hi;
        mg_team_share(max_batch, w, x->nw, &lo, &hi);
        if (hi == lo) continue;
        mg_status st = mg_conv_dnnl_create(s, hi - lo, 1, MG_CONV_DNNL_BLK8, &x->obj[w]);
        if (st) {
            mg_conv_exec_free(x);
            return st;
        }
        if (!x->impl[0])
            snprintf(x->impl, sizeof x->impl, "%s", mg_conv_dnnl_impl(x->obj[w], hi - lo, 0));
    }
    *e = x;
    return MG_OK;
}

const char *mg_conv_exec_impl(const mg_conv_exec *e)
{
    return e ? e->impl : "";
}

typedef struct {
    mg_conv_exec *e;
    const mg_par *par;
    const mg_conv2d_shape *s;
    const float *params, *x, *dy;
    float *y, *grads, *dx;
    int n;
} exec_job;

static void nan_fill(float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) v[i] = NAN;
}

static void fwd_part(void *ctx, int w, int nw)
{
    const exec_job *j = ctx;
    int lo, hi;
    mg_team_share(j->n, w, nw, &lo, &hi);
    if (hi == lo) return;
    size_t in = (size_t)j->s->cin * j->s->h * j->s->w;
    size_t out = (size_t)j->s->cout * j->s->ho * j->s->wo;
    mg_conv_dnnl *c = j->e->obj[w];
    if (c && !mg_conv_dnnl_forward(c, j->params, j->x + lo * in, j->y + lo * out, hi - lo)) return;
    if (j->e->blk8) /* no NCHW fallback for nChw8c tensors: NaN stops the run */
        nan_fill(j->y + lo * out, (size_t)(hi - lo) * out);
    else
        mg_conv2d_forward(j->s, j->params, j->x + lo * in, j->y + lo * out, hi - lo, j->par->ws[w]);
}

static void bwd_part(void *ctx, int w, int nw)
{
    const exec_job *j = ctx;
    int lo, hi;
    mg_team_share(j->n, w, nw, &lo, &hi);
    if (hi == lo) return;
    size_t in = (size_t)j->s->cin * j->s->h * j->s->w;
    size_t out = (size_t)j->s->cout * j->s->ho * j->s->wo;
    float *g = j->grads;
    if (w > 0 && g) {
        g = j->par->gbuf[w];
        memset(g, 0, sizeof(float) * mg_conv2d_n_params(j->s));
    }
    const float *x = j->x + lo * in, *dy = j->dy + lo * out;
    float *dx = j->dx ? j->dx + lo * in : NULL;
    mg_conv_dnnl *c = j->e->obj[w];
    if (c) {
        /* the weight gradient of this share alone, added once it succeeded,
         * so that a failed call leaves g untouched for the fallback */
        if (!mg_conv_dnnl_backward(c, j->params, g, x, dy, dx, hi - lo)) return;
    }
    if (j->e->blk8) { /* as in fwd_part */
        if (dx) nan_fill(dx, (size_t)(hi - lo) * in);
        if (g) nan_fill(g, mg_conv2d_n_params(j->s));
        return;
    }
    mg_conv2d_backward(j->s, j->params, g, x, dy, dx, hi - lo, j->par->ws[w]);
}

static int serial(const mg_par *par, int n)
{
    return !par->team || par->n < 2 || n < 2;
}

void mg_conv_exec_forward(mg_conv_exec *e, const mg_par *par, const mg_conv2d_shape *s,
                          const float *params, const float *x, float *y, int n)
{
    if (!e) {
        mg_par_conv_forward(par, s, params, x, y, n);
        return;
    }
    exec_job j = {.e = e, .par = par, .s = s, .params = params, .x = x, .y = y, .n = n};
    if (serial(par, n))
        fwd_part(&j, 0, 1);
    else
        mg_team_run(par->team, fwd_part, &j);
}

void mg_conv_exec_backward(mg_conv_exec *e, const mg_par *par, const mg_conv2d_shape *s,
                           const float *params, float *grads, const float *x, const float *dy,
                           float *dx, int n)
{
    if (!e) {
        mg_par_conv_backward(par, s, params, grads, x, dy, dx, n);
        return;
    }
    if (!grads && !dx) return;
    exec_job j = {.e = e,
                  .par = par,
                  .s = s,
                  .params = params,
                  .x = x,
                  .dy = dy,
                  .grads = grads,
                  .dx = dx,
                  .n = n};
    if (serial(par, n)) {
        bwd_part(&j, 0, 1);
        return;
    }
    size_t np = mg_conv2d_n_params(s);
    MG_ASSERT(!grads || np <= par->gbuf_n);
    mg_team_run(par->team, bwd_part, &j);
    if (!grads) return;
    /* fixed order, as src/par.c: worker 0's share is already in grads */
    int used = n < par->n ? n : par->n;
    for (int w = 1; w < used; w++) {
        const float *g = par->gbuf[w];
        for (size_t i = 0; i < np; i++) grads[i] += g[i];
    }
}

/* ---------------------------------------------------------------- the layer */

/* MG_LAYER_CONV2D through oneDNN: l->impl is its executor (NULL: today's
 * kernels, as mg_conv2d_ops).  Buffers as mg_conv2d_ops: the workspace and
 * the team's private gradients serve both implementations (and the
 * fallback). */
static mg_status conv2d_dnnl_reserve(mg_layer *l, int max_batch, const mg_par *par)
{
    mg_conv_exec *e = l->impl;
    mg_conv_exec_reserve(&e, &l->conv, max_batch, par);
    l->impl = e;
    return MG_OK;
}

static void conv2d_dnnl_release(mg_layer *l)
{
    mg_conv_exec_free(l->impl);
    l->impl = NULL;
}

static void conv2d_dnnl_forward(mg_layer *l, const mg_fwd_ctx *c)
{
    mg_conv_exec_forward(l->impl, c->par, &l->conv, c->p, c->x, c->y, c->n);
}

static void conv2d_dnnl_backward(const mg_layer *l, const mg_bwd_ctx *c)
{
    mg_conv_exec_backward(l->impl, c->par, &l->conv, c->p, c->g, c->x, c->dy, c->dx, c->n);
}

/* Named as mg_conv2d_ops: mg_model_describe and the profile show the same
 * layers whichever implementation runs them (mg_model_conv_backend tells). */
const mg_layer_ops mg_conv2d_dnnl_ops = {
    .name = "conv2d",
    .sizes = mg_conv2d_layer_sizes,
    .buffers = mg_conv2d_layer_buffers,
    .init = mg_conv2d_layer_init,
    .forward = conv2d_dnnl_forward,
    .backward = conv2d_dnnl_backward,
    .flops = mg_conv2d_layer_flops,
    .detail = mg_conv2d_layer_detail,
    .reserve = conv2d_dnnl_reserve,
    .release = conv2d_dnnl_release,
    .split = MG_SPLIT_BATCH,
};

/* ---------------------------------------------------------------- the report */

void mg_model_conv_backend(const mg_model *m, char *buf, size_t len)
{
    int convs = 0, dnnl = 0, fallback = 0, suited = 0, blk8 = 0;
    const char *impl = "";
    for (int i = 0; i < mg_model_n_layers(m); i++) {
        const mg_layer *l = mg_model_layer_record(m, i);
        const mg_conv2d_shape *sh[3] = {NULL, NULL, NULL};
        const mg_conv_exec *ex[3] = {NULL, NULL, NULL};
        if (l->kind == MG_LAYER_CONV2D) {
            sh[0] = &l->conv;
            if (l->ops == &mg_conv2d_dnnl_ops) ex[0] = l->impl;
        } else if (l->kind == MG_LAYER_PREACT) {
            sh[0] = &l->conv, sh[1] = &l->conv2, sh[2] = l->has_proj ? &l->proj : NULL;
            if (l->ops == &mg_preact_dnnl_ops || l->ops == &mg_preact_blk8_ops)
                mg_preact_execs(l, ex);
        }
        blk8 |= l->blk_out;
        int picked = l->ops == &mg_conv2d_dnnl_ops || l->ops == &mg_preact_dnnl_ops;
        for (int k = 0; k < 3; k++) {
            if (!sh[k]) continue;
            convs++;
            suited += mg_conv_dnnl_suits(sh[k]);
            if (ex[k]) {
                dnnl++;
                if (!impl[0]) impl = mg_conv_exec_impl(ex[k]);
            } else if (picked && mg_conv_dnnl_suits(sh[k])) {
                fallback++;
            }
        }
    }
    const dnnl_version_t *v = dnnl_version();
    if (!dnnl)
        snprintf(buf, len, "im2col for all %d convs%s", convs,
                 fallback ? " (oneDNN unavailable: fallback)"
                 : suited ? " (oneDNN switched off)"
                          : "");
    else if (blk8)
        snprintf(buf, len,
                 "onednn %d.%d.%d (%s, nChw8c from the first residual block to the pooling) for "
                 "%d of %d convs, im2col for the others",
                 v->major, v->minor, v->patch, impl, dnnl, convs);
    else
        snprintf(buf, len,
                 "onednn %d.%d.%d (%s, blocked layout) for %d of %d convs (3x3, >= %d input "
                 "channels), im2col for the others%s",
                 v->major, v->minor, v->patch, impl, dnnl, convs, MG_CONV_DNNL_MIN_CIN,
                 fallback ? " (some fell back: oneDNN failed)" : "");
}
