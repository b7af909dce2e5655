/* par.c - the image kernels split over a worker team (see par.h). */
#include "par.h"
#include "blk8.h"

#include <string.h>

typedef struct {
    const mg_par *par;
    const mg_conv2d_shape *s;
    const float *params, *x, *dy;
    float *y, *grads, *dx;
    int n;
} conv_job;

/* Worker w's share [lo, hi) of the examples and the per-example sizes of
 * input and output; 0 when the share is empty. */
static int conv_share(const conv_job *j, int w, int nw, int *lo, size_t *in, size_t *out)
{
    const mg_conv2d_shape *s = j->s;
    int hi;
    mg_team_share(j->n, w, nw, lo, &hi);
    *in = (size_t)s->cin * s->h * s->w;
    *out = (size_t)s->cout * s->ho * s->wo;
    return hi - *lo;
}

static void conv_fwd_part(void *ctx, int w, int nw)
{
    const conv_job *j = ctx;
    int lo;
    size_t in, out;
    int cnt = conv_share(j, w, nw, &lo, &in, &out);
    if (cnt)
        mg_conv2d_forward(j->s, j->params, j->x + lo * in, j->y + lo * out, cnt, j->par->ws[w]);
}

static void conv_bwd_part(void *ctx, int w, int nw)
{
    const conv_job *j = ctx;
    int lo;
    size_t in, out;
    int cnt = conv_share(j, w, nw, &lo, &in, &out);
    if (!cnt) return;
    float *g = j->grads;
    if (w > 0 && g) {
        g = j->par->gbuf[w];
        memset(g, 0, sizeof(float) * mg_conv2d_n_params(j->s));
    }
    mg_conv2d_backward(j->s, j->params, g, j->x + lo * in, j->dy + lo * out,
                       j->dx ? j->dx + lo * in : NULL, cnt, j->par->ws[w]);
}

static int serial(const mg_par *par, int items)
{
    return !par->team || par->n < 2 || items < 2;
}

void mg_par_conv_forward(const mg_par *par, const mg_conv2d_shape *s, const float *params,
                         const float *x, float *y, int n)
{
    if (serial(par, n)) {
        mg_conv2d_forward(s, params, x, y, n, par->ws[0]);
        return;
    }
    conv_job j = {.par = par, .s = s, .params = params, .x = x, .y = y, .n = n};
    mg_team_run(par->team, conv_fwd_part, &j);
}

void mg_par_conv_backward(const mg_par *par, const mg_conv2d_shape *s, const float *params,
                          float *grads, const float *x, const float *dy, float *dx, int n)
{
    if (serial(par, n)) {
        mg_conv2d_backward(s, params, grads, x, dy, dx, n, par->ws[0]);
        return;
    }
    if (!grads && !dx) return;
    size_t np = mg_conv2d_n_params(s);
    MG_ASSERT(!grads || np <= par->gbuf_n);
    conv_job j = {
        .par = par, .s = s, .params = params, .x = x, .dy = dy, .grads = grads, .dx = dx, .n = n};
    mg_team_run(par->team, conv_bwd_part, &j);
    if (!grads) return; /* input gradient only: no private buffers to add */
    /* fixed order: worker 0's share is already in grads */
    int used = n < par->n ? n : par->n;
    for (int w = 1; w < used; w++) {
        const float *g = par->gbuf[w];
        for (size_t i = 0; i < np; i++) grads[i] += g[i];
    }
}

/* A batch norm pass over channel ranges; forward reads x and writes y and
 * stats (the mutable views), backward reads x, y, stats, dy. */
typedef struct {
    int bwd, c, hw, n, train, relu;
    const float *params, *x, *y, *stats, *dy;
    float *buffers, *grads, *yw, *statsw, *dx;
    int blk8; /* nChw8c tensors (src/blk8.h): shares of whole 8-channel blocks */
} bn_job;

static void bn_part(void *ctx, int w, int nw)
{
    const bn_job *j = ctx;
    int lo, hi;
    if (j->blk8) {
        mg_team_share(j->c / 8, w, nw, &lo, &hi);
        if (hi == lo) return;
        if (j->bwd)
            mg_bn2d_blk8_backward_channels(j->c, 8 * lo, 8 * hi, j->hw, j->n, j->params, j->grads,
                                           j->x, j->y, j->stats, j->dy, j->dx, j->train, j->relu);
        else
            mg_bn2d_blk8_forward_channels(j->c, 8 * lo, 8 * hi, j->hw, j->n, j->params, j->buffers,
                                          j->x, j->yw, j->statsw, j->train, j->relu);
        return;
    }
    mg_team_share(j->c, w, nw, &lo, &hi);
    if (hi == lo) return;
    if (j->bwd)
        mg_bn2d_backward_channels(j->c, lo, hi, j->hw, j->n, j->params, j->grads, j->x, j->y,
                                  j->stats, j->dy, j->dx, j->train, j->relu);
    else
        mg_bn2d_forward_channels(j->c, lo, hi, j->hw, j->n, j->params, j->buffers, j->x, j->yw,
                                 j->statsw, j->train, j->relu);
}

/* Serially (all channels in one share) or on the team. */
static void bn_run(const mg_par *par, bn_job *j)
{
    MG_ASSERT(!j->blk8 || (j->c > 0 && j->c % 8 == 0));
    if (j->blk8 ? !par->team || par->n < 2 || j->c / 8 < 2 : serial(par, j->c))
        bn_part(j, 0, 1);
    else
        mg_team_run(par->team, bn_part, j);
}

void mg_par_bn2d_forward(const mg_par *par, int c, int hw, int n, const float *params,
                         float *buffers, const float *x, float *y, float *stats, int train,
                         int relu)
{
    bn_job j = {.c = c, .hw = hw, .n = n, .train = train, .relu = relu, .params = params};
    j.x = x, j.buffers = buffers, j.yw = y, j.statsw = stats;
    bn_run(par, &j);
}

void mg_par_bn2d_backward(const mg_par *par, int c, int hw, int n, const float *params,
                          float *grads, const float *x, const float *y, const float *stats,
                          const float *dy, float *dx, int train, int relu)
{
    bn_job j = {.bwd = 1, .c = c, .hw = hw, .n = n, .train = train, .relu = relu};
    j.params = params, j.grads = grads, j.x = x, j.y = y, j.stats = stats, j.dy = dy, j.dx = dx;
    bn_run(par, &j);
}

void mg_par_bn2d_blk8_forward(const mg_par *par, int c, int hw, int n, const float *params,
                              float *buffers, const float *x, float *y, float *stats, int train,
                              int relu)
{
    bn_job j = {.c = c, .hw = hw, .n = n, .train = train, .relu = relu, .params = params};
    j.x = x, j.buffers = buffers, j.yw = y, j.statsw = stats, j.blk8 = 1;
    bn_run(par, &j);
}

void mg_par_bn2d_blk8_backward(const mg_par *par, int c, int hw, int n, const float *params,
                               float *grads, const float *x, const float *y, const float *stats,
                               const float *dy, float *dx, int train, int relu)
{
    bn_job j = {.bwd = 1, .c = c, .hw = hw, .n = n, .train = train, .relu = relu};
    j.params = params, j.grads = grads, j.x = x, j.y = y, j.stats = stats, j.dy = dy, j.dx = dx;
    j.blk8 = 1;
    bn_run(par, &j);
}

typedef struct {
    float *y;
    const float *x;
    size_t count;
} add_job;

static void add_part(void *ctx, int w, int nw)
{
    const add_job *j = ctx;
    /* shares in blocks of 16 floats (whole cache lines for aligned arrays) */
    size_t blocks = (j->count + 15) / 16, q = blocks / nw, r = blocks % nw;
    size_t lo = (w * q + ((size_t)w < r ? (size_t)w : r)) * 16;
    size_t hi = lo + (q + ((size_t)w < r)) * 16;
    if (hi > j->count) hi = j->count;
    for (size_t i = lo; i < hi; i++) j->y[i] += j->x[i];
}

void mg_par_add(const mg_par *par, float *y, const float *x, size_t count)
{
    add_job j = {y, x, count};
    if (!par->team || par->n < 2 || count < 4096) {
        add_part(&j, 0, 1);
        return;
    }
    mg_team_run(par->team, add_part, &j);
}
