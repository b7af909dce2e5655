/* model.c - a network as a list of blocks, each a short list of layers.
 *
 * The layers come from the plan of the architecture (src/arch.c); this file
 * owns the memory and runs the passes, every layer through its ops
 * (layers.h) in one generic loop.
 *
 * Memory: one arena each for parameters, gradients, saved buffers (batch-norm
 * running statistics) and activations (sized by mg_model_reserve).  Nothing is
 * allocated by forward or backward.
 *
 * Mixing happens only at block boundaries: the state after block k (k = 0 is
 * the input) is replaced by lambda*h + (1-lambda)*h[perm] in a separate buffer,
 * and the backward pass applies the exact adjoint, so the gradient reaches
 * both h and h[perm] and every layer before k. */
#include "arch.h"
#include "blk8.h"
#include "conv_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct mg_model {
    mg_plan plan;                    /* arch, opts, blocks, layers, arena sizes */
    float *params, *grads, *buffers; /* one allocation: params | grads | buffers */
    int max_batch;
    float *act;           /* activation arena                */
    float *mix_h, *mix_g; /* mixed state and its gradient (max_batch x max dim) */
    /* nChw8c layers (blk_in / blk_out, src/blk8.h; NULL without): the start
     * state converted for its first layer, its gradient before it is
     * converted back (max_batch x the largest state each), the NCHW copy
     * that mg_model_layer_output hands out (max_batch x the largest layer
     * output), and per state k kept in nChw8c its NCHW copy for
     * mg_model_state (max_batch x dim(k)), made on the first call after a
     * forward (blk_fresh[k], L + 1 flags) */
    float *blk_start, *blk_dx, *blk_view;
    float *blk_state[MG_MAX_BLOCKS + 1];
    int *blk_fresh;
    float *ws; /* convolution workspace (shared by all layers) */
    /* worker team for the image layers (mg_model_set_threads); par.ws[0] = ws */
    mg_par par;
    float *team_mem;     /* workspaces and gradients of workers 1.. */
    size_t ws_floats;    /* one workspace                   */
    int grads_stale;     /* zero_grad pending: the next backward overwrites */
    int profiling;       /* mg_model_profile on                 */
    mg_layer_time *prof; /* nl + 1 (the last: the mix operations) */
    /* the last forward */
    int f_from, f_n, f_train, f_has_mix;
    mg_mix f_mix;
    const float *f_x;
    const float *state[MG_MAX_BLOCKS + 1];
};

mg_status mg_model_create(const char *arch, const mg_arch_opts *opts, mg_rng *rng, mg_model **out)
{
    MG_ASSERT(arch && out);
    *out = NULL;
    mg_arch_sizes sz;
    mg_status st = mg_arch_check(arch, opts, &sz);
    if (st) return st;
    mg_model *m = calloc(1, sizeof *m);
    if (!m) return mg_fail(MG_ERR_NOMEM, "out of memory creating the model");
    m->plan.layers = calloc((size_t)sz.n_layers, sizeof(mg_layer));
    m->prof = calloc((size_t)sz.n_layers + 1, sizeof(mg_layer_time));
    if (!m->plan.layers || !m->prof) {
        free(m->plan.layers);
        free(m->prof);
        free(m);
        return mg_fail(MG_ERR_NOMEM, "out of memory creating the model");
    }
    st = mg_plan_arch(&m->plan, arch, opts); /* the same pass again, now into the records */
    MG_ASSERT(st == MG_OK && m->plan.nl == sz.n_layers && m->plan.n_params == sz.n_params);
    m->params = calloc(2 * m->plan.n_params + m->plan.n_buffers + 1, sizeof(float));
    if (!m->params) {
        size_t np = m->plan.n_params;
        mg_model_free(m);
        return mg_fail(MG_ERR_NOMEM, "out of memory for %zu parameters", np);
    }
    m->grads = m->params + m->plan.n_params;
    m->buffers = m->grads + m->plan.n_params;
    if (!rng) { /* a loader fills parameters and buffers */
        *out = m;
        return MG_OK;
    }

    /* Initialise in layer order (one RNG stream; the He gains are in the plan) */
    for (int i = 0; i < m->plan.nl; i++) {
        const mg_layer *l = &m->plan.layers[i];
        if (l->ops->init)
            l->ops->init(l, m->params + l->p_off, m->buffers + l->b_off, m->plan.opts.init, rng);
    }
    *out = m;
    return MG_OK;
}

void mg_model_free(mg_model *m)
{
    if (!m) return;
    for (int i = 0; m->plan.layers && i < m->plan.nl; i++) {
        mg_layer *l = &m->plan.layers[i];
        if (l->ops && l->ops->release) l->ops->release(l);
    }
    mg_team_free(m->par.team);
    free(m->team_mem);
    free(m->params);
    free(m->act);
    free(m->blk_fresh);
    free(m->plan.layers);
    free(m->prof);
    free(m);
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void mg_model_profile(mg_model *m, int on)
{
    MG_ASSERT(m);
    if (on) memset(m->prof, 0, sizeof(mg_layer_time) * ((size_t)m->plan.nl + 1));
    m->profiling = on != 0;
}

mg_layer_time mg_model_layer_time(const mg_model *m, int i)
{
    MG_ASSERT(i >= 0 && i <= m->plan.nl);
    return m->prof[i];
}

const char *mg_model_layer_name(const mg_model *m, int i)
{
    MG_ASSERT(i >= 0 && i < m->plan.nl);
    return m->plan.layers[i].ops->name;
}

/* conv_backend.h: the record itself, for mg_model_conv_backend */
const mg_layer *mg_model_layer_record(const mg_model *m, int i)
{
    MG_ASSERT(i >= 0 && i < m->plan.nl);
    return &m->plan.layers[i];
}

const char *mg_model_arch(const mg_model *m)
{
    return m->plan.arch;
}
const mg_arch_opts *mg_model_opts(const mg_model *m)
{
    return &m->plan.opts;
}
int mg_model_n_blocks(const mg_model *m)
{
    return m->plan.L;
}
int mg_model_classes(const mg_model *m)
{
    return m->plan.dims[m->plan.L];
}
int mg_model_n_layers(const mg_model *m)
{
    return m->plan.nl;
}
size_t mg_model_n_params(const mg_model *m)
{
    return m->plan.n_params;
}
float *mg_model_params(mg_model *m)
{
    return m->params;
}
float *mg_model_grads(mg_model *m)
{
    if (m->grads_stale) {
        memset(m->grads, 0, sizeof(float) * m->plan.n_params);
        m->grads_stale = 0;
    }
    return m->grads;
}
size_t mg_model_n_buffers(const mg_model *m)
{
    return m->plan.n_buffers;
}
float *mg_model_buffers(mg_model *m)
{
    return m->buffers;
}
int mg_model_max_batch(const mg_model *m)
{
    return m->max_batch;
}

int mg_model_dim(const mg_model *m, int k)
{
    MG_ASSERT(k >= 0 && k <= m->plan.L);
    return m->plan.dims[k];
}

int mg_model_block_first_layer(const mg_model *m, int block)
{
    MG_ASSERT(block >= 1 && block <= m->plan.L);
    return m->plan.first[block];
}

void mg_model_describe(const mg_model *m, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int b = 1; b <= m->plan.L && used < len; b++) {
        int w = snprintf(buf + used, len - used, "block %d (%d -> %d):", b, m->plan.dims[b - 1],
                         m->plan.dims[b]);
        used += w > 0 ? (size_t)w : 0;
        for (int i = m->plan.first[b]; i < m->plan.first[b + 1] && used < len; i++) {
            const mg_layer *l = &m->plan.layers[i];
            w = snprintf(buf + used, len - used, " %s", l->ops->name);
            used += w > 0 ? (size_t)w : 0;
            char detail[96] = "";
            if (l->ops->detail) l->ops->detail(l, detail, sizeof detail);
            if (detail[0] && used < len) {
                w = snprintf(buf + used, len - used, "%s", detail);
                used += w > 0 ? (size_t)w : 0;
            }
        }
        if (used < len) {
            w = snprintf(buf + used, len - used, "\n");
            used += w > 0 ? (size_t)w : 0;
        }
    }
}

mg_layer_info mg_model_layer(const mg_model *m, int i)
{
    MG_ASSERT(i >= 0 && i < m->plan.nl);
    const mg_layer *l = &m->plan.layers[i];
    mg_layer_info info = {l->kind, l->block, l->in, l->out, l->param, NULL, NULL};
    if (l->kind == MG_LAYER_DENSE) {
        info.W = m->params + l->p_off;
        info.b = info.W + (size_t)l->out * l->in;
    }
    return info;
}

double mg_model_flops(const mg_model *m, int backward)
{
    double f = 0.0;
    for (int i = 0; i < m->plan.nl; i++) {
        /* backward: the first layer forms no input gradient (it reads the
         * input directly) */
        const mg_layer *l = &m->plan.layers[i];
        if (l->ops->flops) f += l->ops->flops(l, backward, i > 0);
    }
    return f;
}

/* Lazy: the next backward overwrites the gradients of the layers it visits
 * (ops with MG_LAYER_OVERWRITES_GRADS themselves, e.g. dense straight from
 * the GEMM with beta = 0; the others after a memset in layer_backward) and
 * zeroes the rest; an access through mg_model_grads before that zeroes the
 * arena. */
void mg_model_zero_grad(mg_model *m)
{
    m->grads_stale = 1;
}

void mg_model_copy_params(mg_model *dst, const mg_model *src)
{
    MG_ASSERT(dst->plan.n_params == src->plan.n_params &&
              dst->plan.n_buffers == src->plan.n_buffers);
    memcpy(dst->params, src->params, sizeof(float) * src->plan.n_params);
    memcpy(dst->buffers, src->buffers, sizeof(float) * src->plan.n_buffers);
}

/* The extra activation memory of layer l at max_batch (layers.h). */
static mg_layer_mem layer_mem(const mg_layer *l, int max_batch)
{
    mg_layer_mem mem;
    memset(&mem, 0, sizeof mem);
    if (l->ops->buffers) l->ops->buffers(l, max_batch, &mem);
    return mem;
}

/* Workspaces and private weight gradients of workers 1..team-1 (the
 * layers' largest team_grads; needed from mg_model_reserve on); sets up
 * m->par. */
static mg_status team_buffers(mg_model *m)
{
    int t = m->par.team ? mg_team_size(m->par.team) : 1;
    size_t gmax = 0;
    for (int i = 0; i < m->plan.nl && m->max_batch > 0; i++) {
        size_t g = layer_mem(&m->plan.layers[i], m->max_batch).team_grads;
        gmax = g > gmax ? g : gmax;
    }
    free(m->team_mem);
    m->team_mem = NULL;
    memset(m->par.ws, 0, sizeof m->par.ws);
    memset(m->par.gbuf, 0, sizeof m->par.gbuf);
    m->par.n = t;
    m->par.gbuf_n = gmax;
    m->par.ws[0] = m->ws;
    if (t > 1 && m->max_batch > 0) {
        size_t per = m->ws_floats + gmax;
        m->team_mem = calloc(per * (size_t)(t - 1) + 1, sizeof(float));
        if (!m->team_mem)
            return mg_fail(MG_ERR_NOMEM, "out of memory for %d worker buffers (%zu floats each)",
                           t - 1, per);
        for (int w = 1; w < t; w++) {
            float *q = m->team_mem + per * (size_t)(w - 1);
            m->par.ws[w] = m->ws_floats ? q : NULL;
            m->par.gbuf[w] = q + m->ws_floats;
        }
    }
    return MG_OK;
}

/* The layers' reserve hooks (layers.h), once the activation views and the
 * team's buffers are in place; nothing before the first mg_model_reserve. */
static mg_status reserve_layers(mg_model *m)
{
    for (int i = 0; i < m->plan.nl && m->max_batch > 0; i++) {
        mg_layer *l = &m->plan.layers[i];
        if (!l->ops->reserve) continue;
        mg_status st = l->ops->reserve(l, m->max_batch, &m->par);
        if (st) return st;
    }
    return MG_OK;
}

mg_status mg_model_set_threads(mg_model *m, int n)
{
    MG_ASSERT(m);
    if (n < 1) n = 1;
    if (n > MG_MAX_WORKERS) n = MG_MAX_WORKERS;
    if (n == mg_team_size(m->par.team)) return MG_OK;
    mg_team_free(m->par.team);
    m->par.team = NULL;
    if (n > 1) {
        mg_status st = mg_team_create(n, &m->par.team);
        if (st) {
            team_buffers(m);
            return st;
        }
    }
    mg_status st = team_buffers(m);
    return st ? st : reserve_layers(m);
}

mg_team *mg_model_team(const mg_model *m)
{
    return m->par.team;
}

int mg_model_threads(const mg_model *m)
{
    return mg_team_size(m->par.team);
}

/* Channels and positions of an nChw8c output (PREACT: oc x oh x ow; the
 * others keep their input's shape). */
static void blk_out_shape(const mg_layer *l, int *c, int *hw)
{
    if (l->kind == MG_LAYER_PREACT) {
        *c = l->oc, *hw = l->oh * l->ow;
    } else {
        *c = l->c, *hw = l->h * l->w;
    }
}

/* 1 when the layers keep state k in nChw8c (c channels x hw positions):
 * the input of block k + 1's first layer (k = 0) or block k's output. */
static int state_blk(const mg_model *m, int k, int *c, int *hw)
{
    if (k == 0) {
        const mg_layer *l = &m->plan.layers[m->plan.first[1]];
        *c = l->c, *hw = l->h * l->w;
        return l->blk_in;
    }
    const mg_layer *l = &m->plan.layers[m->plan.first[k + 1] - 1];
    blk_out_shape(l, c, hw);
    return l->blk_out;
}

mg_status mg_model_reserve(mg_model *m, int max_batch)
{
    MG_ASSERT(max_batch > 0);
    if (max_batch <= m->max_batch) return MG_OK;
    mg_status st;
    int maxd = 0;
    for (int k = 0; k <= m->plan.L; k++) maxd = m->plan.dims[k] > maxd ? m->plan.dims[k] : maxd;
    size_t B = (size_t)max_batch, total = 0, ws_max = 0;
    for (int i = 0; i < m->plan.nl; i++) {
        const mg_layer *l = &m->plan.layers[i];
        mg_layer_mem mem = layer_mem(l, max_batch);
        total += (2 * (size_t)l->out + mem.aux) * B + 2 * (size_t)l->out; /* y, dy, aux; aux2 */
        for (int j = 0; j < MG_LAYER_NBUF; j++) total += mem.per_ex[j] * B + mem.fixed[j];
        ws_max = mem.ws > ws_max ? mem.ws : ws_max;
    }
    int has_blk = 0;
    for (int i = 0; i < m->plan.nl; i++) {
        const mg_layer *l = &m->plan.layers[i];
        has_blk |= l->blk_in || l->blk_out;
        if (l->blk_out && l->out > maxd) maxd = l->out;
    }
    total += (2 + 3 * has_blk) * (size_t)maxd * B + ws_max; /* mix_h, mix_g, blk_*, workspace */
    int c, hw;
    for (int k = 0; k <= m->plan.L; k++)
        if (state_blk(m, k, &c, &hw)) total += (size_t)m->plan.dims[k] * B;
    if (has_blk && !m->blk_fresh) {
        m->blk_fresh = calloc((size_t)m->plan.L + 1, sizeof(int));
        if (!m->blk_fresh) return mg_fail(MG_ERR_NOMEM, "out of memory for activations");
    }
    float *act = calloc(total + 1, sizeof(float));
    if (!act) return mg_fail(MG_ERR_NOMEM, "out of memory for activations (%zu floats)", total);
    free(m->act);
    m->act = act;
    m->max_batch = max_batch;
    float *p = act;
    for (int i = 0; i < m->plan.nl; i++) {
        mg_layer *l = &m->plan.layers[i];
        mg_layer_mem mem = layer_mem(l, max_batch);
        l->y = p;
        p += B * l->out;
        l->dy = p;
        p += B * l->out;
        l->aux = mem.aux ? p : NULL;
        p += B * mem.aux;
        l->aux2 = p;
        p += 2 * (size_t)l->out;
        for (int j = 0; j < MG_LAYER_NBUF; j++) {
            size_t n = mem.per_ex[j] * B + mem.fixed[j];
            l->buf[j] = n ? p : NULL;
            p += n;
        }
    }
    m->mix_h = p;
    p += B * maxd;
    m->mix_g = p;
    p += B * maxd;
    m->blk_start = m->blk_dx = m->blk_view = NULL;
    if (has_blk) {
        m->blk_start = p;
        p += B * maxd;
        m->blk_dx = p;
        p += B * maxd;
        m->blk_view = p;
        p += B * maxd;
    }
    for (int k = 0; k <= m->plan.L; k++) {
        m->blk_state[k] = NULL;
        if (state_blk(m, k, &c, &hw)) {
            m->blk_state[k] = p;
            p += (size_t)m->plan.dims[k] * B;
        }
    }
    m->ws = ws_max ? p : NULL;
    p += ws_max;
    MG_ASSERT((size_t)(p - act) == total);
    m->ws_floats = ws_max;
    st = team_buffers(m);
    return st ? st : reserve_layers(m);
}

/* A layer split MG_SPLIT_BLAS (one wide GEMM) gets OpenBLAS's threads back
 * for its call while a worker team runs the pass (OpenBLAS at one thread
 * meanwhile); returns the count to restore, 0 for none. */
static int blas_threads_begin(const mg_model *m, const mg_layer *l)
{
    return (l->ops->split == MG_SPLIT_BLAS && m->par.n > 1) ? mg_blas_threads_swap(m->par.n) : 0;
}

static void blas_threads_end(int old)
{
    if (old) mg_blas_threads_swap(old);
}

static void layer_forward(mg_model *m, mg_layer *l, const float *x, int n, int train, mg_rng *rng)
{
    l->x = x;
    mg_fwd_ctx c = {.p = m->params + l->p_off,
                    .b = m->buffers + l->b_off,
                    .x = x,
                    .y = l->y,
                    .n = n,
                    .train = train,
                    .rng = rng,
                    .par = &m->par};
    int old = blas_threads_begin(m, l);
    double t0 = m->profiling ? mono_now() : 0.0;
    l->ops->forward(l, &c);
    if (m->profiling) {
        mg_layer_time *pt = &m->prof[l - m->plan.layers];
        pt->forward_sec += mono_now() - t0;
        pt->forward_calls++;
    }
    blas_threads_end(old);
}

/* dx may be NULL when no gradient below this layer is wanted.  grads: the
 * model's gradient arena, or NULL for no parameter gradients (the arena and
 * grads_stale are then left alone).  After zero_grad a layer's stale
 * gradients are zeroed here, or overwritten by the layer itself when its ops
 * can (MG_LAYER_OVERWRITES_GRADS). */
static void layer_backward(mg_model *m, const mg_layer *l, const float *dy, float *dx, int n,
                           int train, float *grads)
{
    float *g = grads ? grads + l->p_off : NULL; /* this layer's gradients */
    int overwrite = g && m->grads_stale && l->n_p;
    if (overwrite && !(l->ops->flags & MG_LAYER_OVERWRITES_GRADS)) {
        memset(g, 0, sizeof(float) * l->n_p);
        overwrite = 0;
    }
    mg_bwd_ctx c = {.p = m->params + l->p_off,
                    .b = m->buffers + l->b_off,
                    .g = g,
                    .overwrite = overwrite,
                    .x = l->x,
                    .y = l->y,
                    .dy = dy,
                    .dx = dx,
                    .n = n,
                    .train = train,
                    .par = &m->par};
    int old = blas_threads_begin(m, l);
    double t0 = m->profiling ? mono_now() : 0.0;
    l->ops->backward(l, &c);
    if (m->profiling) {
        mg_layer_time *pt = &m->prof[l - m->plan.layers];
        pt->backward_sec += mono_now() - t0;
        pt->backward_calls++;
    }
    blas_threads_end(old);
}

const float *mg_model_forward(mg_model *m, int from, const float *x, int n, int train,
                              const mg_mix *mix, mg_rng *rng)
{
    MG_ASSERT(from >= 0 && from < m->plan.L + 1 && n > 0 && n <= m->max_batch && x);
    MG_ASSERT(!mix || (mix->k >= from && mix->k < m->plan.L && mix->perm));
    m->f_from = from;
    m->f_n = n;
    m->f_train = train;
    m->f_x = x;
    m->f_has_mix = mix != NULL;
    if (mix) m->f_mix = *mix;
    for (int k = 0; k <= m->plan.L; k++) m->state[k] = NULL;
    if (m->blk_fresh) memset(m->blk_fresh, 0, sizeof(int) * ((size_t)m->plan.L + 1));
    /* a worker team runs the image layers: OpenBLAS at one thread meanwhile */
    int blas_old = m->par.n > 1 ? mg_blas_threads_swap(1) : 0;
    const float *cur = x;
    int c, hw;
    if (state_blk(m, from, &c, &hw)) { /* the caller's NCHW start state */
        mg_par_blk8_from_nchw(&m->par, x, m->blk_start, n, c, hw);
        cur = m->blk_start;
    }
    for (int b = from;; b++) {
        if (mix && mix->k == b) {
            double t0 = m->profiling ? mono_now() : 0.0;
            mg_mix_forward(cur, m->mix_h, n, m->plan.dims[b], mix->lambda, mix->perm);
            if (m->profiling) {
                m->prof[m->plan.nl].forward_sec += mono_now() - t0;
                m->prof[m->plan.nl].forward_calls++;
            }
            cur = m->mix_h;
        }
        m->state[b] = cur;
        if (b == m->plan.L) break;
        for (int i = m->plan.first[b + 1]; i < m->plan.first[b + 2]; i++) {
            layer_forward(m, &m->plan.layers[i], cur, n, train, rng);
            cur = m->plan.layers[i].y;
        }
    }
    if (blas_old) mg_blas_threads_swap(blas_old);
    return cur;
}

const float *mg_model_state(const mg_model *m, int k)
{
    MG_ASSERT(k >= 0 && k <= m->plan.L && m->state[k]);
    int c, hw;
    if (!state_blk(m, k, &c, &hw)) return m->state[k];
    if (!m->blk_fresh[k]) { /* its NCHW copy, once per forward */
        mg_par_blk8_to_nchw(&m->par, m->state[k], m->blk_state[k], m->f_n, c, hw);
        m->blk_fresh[k] = 1;
    }
    return m->blk_state[k];
}

const float *mg_model_layer_output(const mg_model *m, int i)
{
    MG_ASSERT(i >= 0 && i < m->plan.nl && m->state[m->plan.L]);
    MG_ASSERT(i >= m->plan.first[m->f_from + 1]);
    const mg_layer *l = &m->plan.layers[i];
    int c, hw;
    if (l->blk_out) { /* into the one NCHW copy of layer outputs */
        blk_out_shape(l, &c, &hw);
        mg_par_blk8_to_nchw(&m->par, l->y, m->blk_view, m->f_n, c, hw);
        return m->blk_view;
    }
    return l->y;
}

/* The backward pass; want_grads = 0: input gradient only, the gradient arena
 * and grads_stale untouched. */
static void backward_pass(mg_model *m, const float *dlogits, float *dx_caller, int want_grads)
{
    int n = m->f_n, from = m->f_from;
    int c, hw, start_blk = state_blk(m, from, &c, &hw);
    float *dx = dx_caller && start_blk ? m->blk_dx : dx_caller; /* in the layers' layout */
    float *grads = want_grads ? m->grads : NULL;
    if (want_grads && m->grads_stale && from > 0) { /* layers below the start get no gradient */
        size_t end =
            from >= m->plan.L ? m->plan.n_params : m->plan.layers[m->plan.first[from + 1]].p_off;
        memset(m->grads, 0, sizeof(float) * end);
    }
    const float *g = dlogits;
    int mix_k = m->f_has_mix ? m->f_mix.k : -1;
    int blas_old = m->par.n > 1 ? mg_blas_threads_swap(1) : 0;
    for (int b = m->plan.L; b > from; b--) {
        for (int i = m->plan.first[b + 1] - 1; i >= m->plan.first[b]; i--) {
            mg_layer *l = &m->plan.layers[i];
            float *dst;
            int first_of_block = (i == m->plan.first[b]);
            if (first_of_block && mix_k == b - 1) {
                /* gradient w.r.t. the mixed state; not needed when nothing lies
                 * below the mix and the caller wants no input gradient */
                dst = (b - 1 == from && !dx) ? NULL : m->mix_g;
            } else if (first_of_block && b - 1 == from) {
                dst = dx; /* gradient w.r.t. the start state  */
            } else {
                dst = m->plan.layers[i - 1].dy;
            }
            layer_backward(m, l, g, dst, n, m->f_train, grads);
            g = dst;
        }
        if (mix_k == b - 1) {
            /* adjoint of the mix: dh = lam*dmix + (1-lam) P^T dmix */
            float *dh;
            if (b - 1 == from)
                dh = dx;
            else
                dh = m->plan.layers[m->plan.first[b] - 1].dy;
            if (dh && g) {
                double t0 = m->profiling ? mono_now() : 0.0;
                memset(dh, 0, sizeof(float) * (size_t)n * m->plan.dims[b - 1]);
                mg_mix_backward(m->mix_g, dh, n, m->plan.dims[b - 1], m->f_mix.lambda,
                                m->f_mix.perm);
                if (m->profiling) {
                    m->prof[m->plan.nl].backward_sec += mono_now() - t0;
                    m->prof[m->plan.nl].backward_calls++;
                }
            }
            g = dh;
        }
    }
    if (dx != dx_caller) mg_par_blk8_to_nchw(&m->par, dx, dx_caller, n, c, hw);
    if (blas_old) mg_blas_threads_swap(blas_old);
    if (want_grads) m->grads_stale = 0;
}

void mg_model_backward(mg_model *m, const float *dlogits, float *dx)
{
    backward_pass(m, dlogits, dx, 1);
}

void mg_model_backward_input(mg_model *m, const float *dlogits, float *dx)
{
    if (!dx) return; /* nothing wanted: no parameter gradients, no input gradient */
    backward_pass(m, dlogits, dx, 0);
}
