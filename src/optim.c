/* optim.c - SGD (momentum, Nesterov) and Adam exactly as PyTorch defines
 * them, over one flat parameter arena, and the learning-rate schedule.
 *
 * SGD (torch.optim.SGD, dampening 0):
 *   g = grad + wd p;  v = g at the first step, else v = mu v + g;
 *   p -= lr (g + mu v) with Nesterov, else p -= lr v   (mu = 0: p -= lr g).
 * Adam (torch.optim.Adam, L2 weight decay, not AdamW):
 *   g = grad + wd p;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
 *   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
 * SGD runs in float like PyTorch's; Adam's per-element arithmetic is in double. */
#include "team.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

mg_status mg_optim_init(mg_optim_state *s, const mg_optim_config *c, size_t n_params)
{
    MG_ASSERT(s && c);
    memset(s, 0, sizeof *s);
    if (c->kind != MG_OPT_SGD && c->kind != MG_OPT_ADAM)
        return mg_fail(MG_ERR_CONFIG, "unknown optimiser kind %d", (int)c->kind);
    size_t alloc = n_params > 0 ? n_params : 1; /* calloc(0) may return NULL */
    s->m = calloc(alloc, sizeof *s->m);
    if (c->kind == MG_OPT_ADAM) s->v = calloc(alloc, sizeof *s->v);
    if (!s->m || (c->kind == MG_OPT_ADAM && !s->v)) {
        mg_optim_free(s);
        return mg_fail(MG_ERR_NOMEM, "out of memory for optimiser state (%zu parameters)",
                       n_params);
    }
    s->n = n_params;
    s->t = 0;
    return MG_OK;
}

void mg_optim_free(mg_optim_state *s)
{
    if (!s) return;
    free(s->m);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* Float arithmetic in the order PyTorch uses; branch-free inner loops so
 * that the compiler vectorises them (this pass is memory-bound: p, g, v).
 * Elements [lo, hi). */
static void sgd_step(const mg_optim_state *s, const mg_optim_config *c, double lr_d,
                     float *restrict p, const float *restrict grad, size_t lo, size_t hi)
{
    const float mu = (float)c->momentum, wd = (float)c->weight_decay, lr = (float)lr_d;
    float *restrict v = s->m + lo;
    p += lo, grad += lo;
    const size_t n = hi - lo;
    if (mu == 0.0f) {
        for (size_t i = 0; i < n; i++) p[i] -= lr * (grad[i] + wd * p[i]);
    } else if (s->t == 1) { /* PyTorch initialises the buffer to g */
        for (size_t i = 0; i < n; i++) {
            float g = grad[i] + wd * p[i];
            v[i] = g;
            p[i] -= lr * (c->nesterov ? g + mu * g : g);
        }
    } else if (c->nesterov) {
        for (size_t i = 0; i < n; i++) {
            float g = grad[i] + wd * p[i];
            float vi = mu * v[i] + g;
            v[i] = vi;
            p[i] -= lr * (g + mu * vi);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            float g = grad[i] + wd * p[i];
            float vi = mu * v[i] + g;
            v[i] = vi;
            p[i] -= lr * vi;
        }
    }
}

static void adam_step(const mg_optim_state *s, const mg_optim_config *c, double lr, float *p,
                      const float *grad, size_t lo, size_t hi)
{
    const double b1 = c->beta1, b2 = c->beta2, eps = c->eps, wd = c->weight_decay;
    const double bc1 = 1.0 - pow(b1, (double)s->t);
    const double bc2 = 1.0 - pow(b2, (double)s->t);
    const double step_size = lr / bc1;
    const double sqrt_bc2 = sqrt(bc2);
    for (size_t i = lo; i < hi; i++) {
        double g = (double)grad[i] + wd * (double)p[i];
        double m = b1 * (double)s->m[i] + (1.0 - b1) * g;
        double v = b2 * (double)s->v[i] + (1.0 - b2) * g * g;
        s->m[i] = (float)m;
        s->v[i] = (float)v;
        double denom = sqrt(v) / sqrt_bc2 + eps;
        p[i] = (float)((double)p[i] - step_size * m / denom);
    }
}

typedef struct {
    const mg_optim_state *s;
    const mg_optim_config *c;
    double lr;
    float *p;
    const float *g;
} step_job;

/* Worker w's range: blocks of 16 floats (whole cache lines of aligned
 * arenas), so no two workers write the same line. */
static void step_part(void *ctx, int w, int nw)
{
    const step_job *j = ctx;
    size_t blocks = (j->s->n + 15) / 16, q = blocks / (size_t)nw, r = blocks % (size_t)nw;
    size_t uw = (size_t)w, lo = (uw * q + (uw < r ? uw : r)) * 16;
    size_t hi = lo + (q + (uw < r)) * 16;
    if (hi > j->s->n) hi = j->s->n;
    if (hi <= lo) return;
    if (j->c->kind == MG_OPT_SGD)
        sgd_step(j->s, j->c, j->lr, j->p, j->g, lo, hi);
    else
        adam_step(j->s, j->c, j->lr, j->p, j->g, lo, hi);
}

/* Below this many parameters a team run costs more than it saves. */
#define TEAM_MIN_PARAMS 32768

void mg_optim_step_team(mg_optim_state *s, const mg_optim_config *c, double lr, float *params,
                        const float *grads, mg_team *team)
{
    MG_ASSERT(s && c && s->m);
    MG_ASSERT(s->n == 0 || (params && grads));
    MG_ASSERT(c->kind == MG_OPT_SGD || c->kind == MG_OPT_ADAM);
    MG_ASSERT(c->kind != MG_OPT_ADAM || s->v);
    s->t++;
    step_job j = {s, c, lr, params, grads};
    if (team && mg_team_size(team) > 1 && s->n >= TEAM_MIN_PARAMS)
        mg_team_run(team, step_part, &j);
    else
        step_part(&j, 0, 1);
}

void mg_optim_step(mg_optim_state *s, const mg_optim_config *c, double lr, float *params,
                   const float *grads)
{
    mg_optim_step_team(s, c, lr, params, grads, NULL);
}

double mg_lr_at(const mg_optim_config *c, int epoch, int step, int steps_per_epoch)
{
    MG_ASSERT(c && epoch >= 0 && step >= 0);
    double e = epoch;
    if (steps_per_epoch > 0) e += (double)step / steps_per_epoch;
    const double lr = c->lr;
    const int warm = c->warmup_epochs > 0 ? c->warmup_epochs : 0;
    if (warm > 0 && e < warm) return lr / 10.0 + (lr - lr / 10.0) * (e / warm);
    switch (c->sched) {
    case MG_SCHED_CONSTANT: return lr;
    case MG_SCHED_STEP: {
        /* torch MultiStepLR: lr * gamma^(number of milestones <= epoch). */
        double out = lr;
        for (int i = 0; i < c->n_milestones && i < MG_MAX_MILESTONES; i++)
            if (c->milestones[i] <= epoch) out *= c->gamma;
        return out;
    }
    case MG_SCHED_COSINE: {
        double span = (double)c->epochs - warm;
        if (span <= 0.0) return lr;
        double x = (e - warm) / span;
        if (x > 1.0) x = 1.0;
        return 0.5 * lr * (1.0 + cos(M_PI * x));
    }
    }
    return lr;
}
