/* layer_dense.c - fully connected layer, y = x W^T + b.
 * params: W (out x in, row-major) then b (out).
 *
 * Split MG_SPLIT_COLUMNS: with the model's worker team each GEMM is cut
 * into column blocks of 16 floats (whole cache lines), a fixed range per
 * worker, and OpenBLAS runs at one thread inside each worker's call:
 *   forward          y[:, lo:hi]  = b[lo:hi] + x W[lo:hi, :]^T   (out features)
 *   weight gradient  dW[lo:hi, :] (+)= dy[:, lo:hi]^T x,  db[lo:hi] (+)= colsum
 *   input gradient   dx[:, lo:hi] = dy W[:, lo:hi]               (in features)
 * Each output element is computed by exactly one worker, over the whole K
 * in OpenBLAS's own order, so a run is bit-identical for a given team size.
 * The bias is preloaded into y and the GEMM adds to it (beta = 1), as the
 * serial layer always did, so the rounding is unchanged.
 *
 * Fused activation (l->fused, set by the planner): the forward applies it to
 * the worker's block of y right after the GEMM (cache-hot) and writes the
 * activation layer's y; the backward first forms this layer's dy from the
 * activation's dy on the worker's block of out features, then the weight
 * gradient on the same block; the input gradient (which needs all of dy)
 * follows in a second team run.
 *
 * Backward may overwrite stale gradients (MG_LAYER_OVERWRITES_GRADS: beta =
 * 0 in the GEMM saves zeroing the arena and reading it back). */
#include "layers.h"

#include <math.h>
#include <string.h>

#define COL_BLOCK 16

static void dense_sizes(mg_layer *l)
{
    l->n_p = (size_t)l->out * l->in + l->out;
    l->n_b = 0;
}

static void dense_init(const mg_layer *l, float *p, float *b, mg_init init, mg_rng *rng)
{
    (void)b;
    float *W = p, *bias = W + (size_t)l->out * l->in;
    size_t nw = (size_t)l->out * l->in;
    if (init == MG_INIT_HE) {
        /* He/Kaiming normal: std = sqrt(gain^2 / fan_in) */
        double sd = sqrt(l->gain2 / l->in);
        for (size_t i = 0; i < nw; i++) W[i] = (float)(sd * mg_rng_normal(rng));
    } else {
        /* Xavier/Glorot uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)) */
        double a = sqrt(6.0 / (l->in + l->out));
        for (size_t i = 0; i < nw; i++) W[i] = (float)(a * (2.0 * mg_rng_uniform(rng) - 1.0));
    }
    memset(bias, 0, sizeof(float) * l->out);
}

/* Worker w's column range [lo, hi) of count columns, in blocks of COL_BLOCK;
 * returns hi - lo. */
static int col_share(int count, int w, int nw, int *lo, int *hi)
{
    int blocks = (count + COL_BLOCK - 1) / COL_BLOCK, blo, bhi;
    mg_team_share(blocks, w, nw, &blo, &bhi);
    *lo = blo * COL_BLOCK;
    *hi = bhi * COL_BLOCK < count ? bhi * COL_BLOCK : count;
    return *hi > *lo ? *hi - *lo : 0;
}

/* Whether a pass over count columns goes on the team (two blocks or more
 * and a team of two or more). */
static int on_team(const mg_par *par, int count)
{
    return par && par->team && par->n > 1 && count > COL_BLOCK;
}

typedef struct {
    const mg_layer *l;
    const float *W, *b, *x, *dy;
    float *y, *g, *dx;
    int n, overwrite;
} dense_job;

/* x: n x in, y: n x out; the fused activation on the same block */
static void fwd_part(void *ctx, int w, int nw)
{
    const dense_job *j = ctx;
    const mg_layer *l = j->l;
    int in = l->in, out = l->out, lo, hi, n = j->n;
    int cols = col_share(out, w, nw, &lo, &hi);
    if (!cols) return;
    for (int i = 0; i < n; i++) memcpy(j->y + (size_t)i * out + lo, j->b + lo, sizeof(float) * cols);
    mg_sgemm(0, 1, n, cols, in, 1.0f, j->x, in, j->W + (size_t)lo * in, in, 1.0f, j->y + lo, out);
    if (l->fused) mg_act_forward_block(l->fused, n, cols, j->y + lo, l->fused->y + lo, (size_t)out);
}

static void dense_forward(mg_layer *l, const mg_fwd_ctx *c)
{
    dense_job j = {.l = l, .W = c->p, .b = c->p + (size_t)l->out * l->in, .x = c->x, .y = c->y,
                   .n = c->n};
    if (on_team(c->par, l->out))
        mg_team_run(c->par->team, fwd_part, &j);
    else
        fwd_part(&j, 0, 1);
}

/* The block lo..hi of out features: dy from the fused activation's dy,
 * then db and dW rows lo..hi.  dy here is this layer's l->dy. */
static void wgrad_part(void *ctx, int w, int nw)
{
    const dense_job *j = ctx;
    const mg_layer *l = j->l, *a = l->fused;
    int in = l->in, out = l->out, lo, hi, n = j->n;
    int cols = col_share(out, w, nw, &lo, &hi);
    if (!cols) return;
    if (a) mg_act_backward_block(a, n, cols, a->x + lo, a->y + lo, a->dy + lo, l->dy + lo, (size_t)out);
    if (!j->g) return;
    float *dW = j->g, *db = dW + (size_t)out * in;
    mg_sgemm(1, 0, cols, in, n, 1.0f, j->dy + lo, out, j->x, in, j->overwrite ? 0.0f : 1.0f,
             dW + (size_t)lo * in, in);
    if (j->overwrite) memset(db + lo, 0, sizeof(float) * cols);
    for (int i = 0; i < n; i++) {
        const float *r = j->dy + (size_t)i * out;
        for (int k = lo; k < hi; k++) db[k] += r[k];
    }
}

/* dx[:, lo:hi] = dy W[:, lo:hi] */
static void dgrad_part(void *ctx, int w, int nw)
{
    const dense_job *j = ctx;
    const mg_layer *l = j->l;
    int in = l->in, out = l->out, lo, hi;
    int cols = col_share(in, w, nw, &lo, &hi);
    if (cols)
        mg_sgemm(0, 0, j->n, cols, out, 1.0f, j->dy, out, j->W + lo, in, 0.0f, j->dx + lo, in);
}

/* Both in one run (no fused activation: dy is complete from the start). */
static void bwd_part(void *ctx, int w, int nw)
{
    const dense_job *j = ctx;
    wgrad_part(ctx, w, nw);
    if (j->dx) dgrad_part(ctx, w, nw);
}

/* dW += dy^T x ; db += colsum(dy) ; dx = dy W (if dx).  With c->overwrite
 * dW and db are overwritten instead.  g NULL: no parameter gradients, only
 * dx.  With a fused activation, dy (= l->dy) is formed first from the
 * activation's dy. */
static void dense_backward(const mg_layer *l, const mg_bwd_ctx *c)
{
    MG_ASSERT(!l->fused || c->dy == l->dy);
    dense_job j = {.l = l, .W = c->p, .x = c->x, .dy = c->dy, .g = c->g, .dx = c->dx, .n = c->n,
                   .overwrite = c->overwrite};
    const mg_par *par = c->par;
    int team_w = on_team(par, l->out), team_d = on_team(par, l->in);
    if (!l->fused && c->g && c->dx && team_w && team_d) {
        mg_team_run(par->team, bwd_part, &j);
        return;
    }
    if (l->fused || c->g) {
        if (team_w)
            mg_team_run(par->team, wgrad_part, &j);
        else
            wgrad_part(&j, 0, 1);
    }
    if (c->dx) {
        if (team_d)
            mg_team_run(par->team, dgrad_part, &j);
        else
            dgrad_part(&j, 0, 1);
    }
}

static double dense_flops(const mg_layer *l, int backward, int need_dx)
{
    double f = 2.0 * l->in * l->out;
    return backward ? f * (need_dx ? 2.0 : 1.0) : f;
}

const mg_layer_ops mg_dense_ops = {
    .name = "dense",
    .sizes = dense_sizes,
    .init = dense_init,
    .forward = dense_forward,
    .backward = dense_backward,
    .flops = dense_flops,
    .split = MG_SPLIT_COLUMNS,
    .flags = MG_LAYER_OVERWRITES_GRADS,
};
