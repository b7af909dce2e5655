/* train.c - the training loop: one (k, lambda, permutation) per minibatch,
 * mixed states and soft targets, exact backward, optimiser step; evaluation.
 *
 * Randomness is counter-based so that a run can stop and resume anywhere and
 * stay bit-identical: the shuffle of epoch e comes from (seed, EPOCH, e), and
 * everything drawn in global step s (k, lambda, permutation, dropout masks,
 * noise) from (seed, STEP, s).  The only state to save is the position. */
#include "train_internal.h"
#include "team.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *mg_mix_mode_name(mg_mix_mode m)
{
    switch (m) {
    case MG_MIX_NONE: return "none";
    case MG_MIX_INPUT: return "input";
    case MG_MIX_MANIFOLD: return "manifold";
    }
    return "?";
}

mg_train_config mg_train_config_default(void)
{
    mg_train_config c;
    memset(&c, 0, sizeof c);
    c.epochs = 10;
    c.batch = 100;
    c.mix = MG_MIX_NONE;
    c.alpha = 2.0;
    c.loss = MG_LOSS_BCE;
    c.optim.kind = MG_OPT_SGD;
    c.optim.lr = 0.1;
    c.optim.momentum = 0.9;
    c.optim.weight_decay = 1e-4;
    c.optim.nesterov = 1;
    c.optim.beta1 = 0.9;
    c.optim.beta2 = 0.999;
    c.optim.eps = 1e-8;
    c.optim.sched = MG_SCHED_CONSTANT;
    c.optim.gamma = 0.1;
    c.optim.epochs = c.epochs;
    c.seed = 0;
    c.threads = 1;
    return c;
}

#define ADD_PROBLEM(...)                                                                   \
    do {                                                                                   \
        if (used < len) {                                                                  \
            int w_ = snprintf(msg + used, len - used, __VA_ARGS__);                        \
            used += w_ > 0 ? (size_t)w_ : 0;                                               \
            if (used < len) msg[used++] = '\n', msg[used] = '\0';                          \
        }                                                                                  \
        bad = 1;                                                                           \
    } while (0)

mg_status mg_train_config_check(const mg_train_config *c, const mg_model *m, char *msg,
                                size_t len)
{
    size_t used = 0;
    int bad = 0;
    if (len) msg[0] = '\0';
    if (c->epochs < 0) ADD_PROBLEM("--epochs %d: must be >= 0", c->epochs);
    if (c->clean_eval < 0) ADD_PROBLEM("--clean-eval %d: must be >= 0 (0 = off)", c->clean_eval);
    if (c->batch <= 0) ADD_PROBLEM("--batch %d: must be > 0", c->batch);
    if (c->threads < 1 || c->threads > 256) ADD_PROBLEM("--threads %d: must be in 1..256", c->threads);
    if (c->mix != MG_MIX_NONE && !(c->alpha > 0.0 && isfinite(c->alpha)))
        ADD_PROBLEM("--alpha %g: must be > 0", c->alpha);
    int L = m ? mg_model_n_blocks(m) : MG_MAX_BLOCKS;
    if (c->mix != MG_MIX_NONE) {
        if (c->n_mix_layers <= 0) ADD_PROBLEM("--mix-layers: empty eligible set");
        for (int i = 0; i < c->n_mix_layers; i++) {
            int k = c->mix_layers[i];
            if (k < 0 || k >= L)
                ADD_PROBLEM("--mix-layers: layer %d outside 0..%d (0 = input, %d = last hidden "
                            "state; the logits cannot be mixed)", k, L - 1, L - 1);
            for (int j = 0; j < i; j++)
                if (c->mix_layers[j] == k) ADD_PROBLEM("--mix-layers: layer %d listed twice", k);
        }
        if (c->mix == MG_MIX_INPUT && !(c->n_mix_layers == 1 && c->mix_layers[0] == 0))
            ADD_PROBLEM("--mix-layers: input mixup mixes at layer 0 only (use --mix manifold)");
    }
    const mg_optim_config *o = &c->optim;
    if (!(o->lr > 0.0 && isfinite(o->lr))) ADD_PROBLEM("--lr %g: must be > 0", o->lr);
    if (!(o->momentum >= 0.0 && o->momentum < 1.0))
        ADD_PROBLEM("--momentum %g: must be in [0, 1)", o->momentum);
    if (o->nesterov && o->kind == MG_OPT_SGD && o->momentum <= 0.0)
        ADD_PROBLEM("--nesterov needs --momentum > 0");
    if (!(o->weight_decay >= 0.0)) ADD_PROBLEM("--wd %g: must be >= 0", o->weight_decay);
    if (o->kind == MG_OPT_ADAM) {
        if (!(o->beta1 >= 0.0 && o->beta1 < 1.0)) ADD_PROBLEM("--beta1 %g: must be in [0, 1)", o->beta1);
        if (!(o->beta2 >= 0.0 && o->beta2 < 1.0)) ADD_PROBLEM("--beta2 %g: must be in [0, 1)", o->beta2);
        if (!(o->eps > 0.0)) ADD_PROBLEM("--eps %g: must be > 0", o->eps);
    }
    if (o->sched == MG_SCHED_STEP) {
        if (!(o->gamma > 0.0)) ADD_PROBLEM("--gamma %g: must be > 0", o->gamma);
        for (int i = 0; i < o->n_milestones; i++) {
            if (o->milestones[i] < 0) ADD_PROBLEM("--milestones: %d is negative", o->milestones[i]);
            if (i && o->milestones[i] <= o->milestones[i - 1])
                ADD_PROBLEM("--milestones: must be increasing");
        }
    }
    if (c->augment_crop_pad < 0 || c->augment_crop_pad > 64)
        ADD_PROBLEM("--augment: crop padding %d outside 0..64", c->augment_crop_pad);
    if (o->warmup_epochs < 0) ADD_PROBLEM("--warmup %d: must be >= 0", o->warmup_epochs);
    if (o->sched == MG_SCHED_COSINE && o->warmup_epochs >= c->epochs && c->epochs > 0)
        ADD_PROBLEM("--warmup %d: must be shorter than --epochs %d for the cosine schedule",
                    o->warmup_epochs, c->epochs);
    if (bad) {
        if (used && msg[used - 1] == '\n') msg[used - 1] = '\0';
        return mg_fail(MG_ERR_CONFIG, "%s", msg);
    }
    return MG_OK;
}

static int argmax(const float *v, int c)
{
    int best = 0;
    for (int j = 1; j < c; j++)
        if (v[j] > v[best]) best = j;
    return best;
}

mg_status mg_evaluate(mg_model *m, const mg_dataset *d, mg_loss_kind loss, mg_eval_result *out)
{
    memset(out, 0, sizeof *out);
    int C = mg_model_classes(m);
    if (d->dim != mg_model_dim(m, 0))
        return mg_fail(MG_ERR_CONFIG, "dataset '%s' has %d features, the model expects %d",
                       d->name, d->dim, mg_model_dim(m, 0));
    if (d->classes > C)
        return mg_fail(MG_ERR_CONFIG, "dataset '%s' has %d classes, the model outputs %d",
                       d->name, d->classes, C);
    if (d->n == 0) return MG_OK;
    if (mg_model_max_batch(m) == 0) {
        mg_status st = mg_model_reserve(m, 256);
        if (st) return st;
    }
    int B = mg_model_max_batch(m);
    float *t = malloc(sizeof(float) * (size_t)B * C);
    if (!t) return mg_fail(MG_ERR_NOMEM, "out of memory in evaluation");
    double sl = 0.0, snll = 0.0;
    long correct = 0;
    for (int i0 = 0; i0 < d->n; i0 += B) {
        int n = d->n - i0 < B ? d->n - i0 : B;
        const float *z = mg_model_forward(m, 0, d->x + (size_t)i0 * d->dim, n, 0, NULL, NULL);
        mg_mix_targets(d->y + i0, n, C, 1.0f, NULL, t);
        sl += mg_loss(loss, z, t, n, C, NULL) * n;
        snll += loss == MG_LOSS_CE ? 0.0 : mg_loss(MG_LOSS_CE, z, t, n, C, NULL) * n;
        for (int i = 0; i < n; i++) correct += argmax(z + (size_t)i * C, C) == d->y[i0 + i];
    }
    free(t);
    out->n = d->n;
    out->loss = sl / d->n;
    out->nll = (loss == MG_LOSS_CE ? sl : snll) / d->n;
    out->accuracy = (double)correct / d->n;
    return MG_OK;
}

mg_status mg_trainer_create(mg_model *m, const mg_train_config *cfg, const mg_dataset *train,
                            const mg_dataset *val, const mg_dataset *test, mg_trainer **out)
{
    MG_ASSERT(m && cfg && train && out);
    *out = NULL;
    char msg[2048];
    mg_status st = mg_train_config_check(cfg, m, msg, sizeof msg);
    if (st) return st;
    const mg_dataset *sets[3] = {train, val, test};
    const char *names[3] = {"training", "validation", "test"};
    for (int i = 0; i < 3; i++) {
        if (!sets[i]) continue;
        if (sets[i]->dim != mg_model_dim(m, 0))
            return mg_fail(MG_ERR_CONFIG,
                           "--arch: input width %d does not match the %s data's %d features",
                           mg_model_dim(m, 0), names[i], sets[i]->dim);
        if (sets[i]->classes > mg_model_classes(m))
            return mg_fail(MG_ERR_CONFIG,
                           "--arch: output width %d is less than the %s data's %d classes",
                           mg_model_classes(m), names[i], sets[i]->classes);
    }
    if (train->n <= 0) return mg_fail(MG_ERR_CONFIG, "the training set is empty");
    if ((cfg->augment_crop_pad > 0 || cfg->augment_flip) &&
        (train->c * train->h * train->w != train->dim || train->h < 2 || train->w < 2))
        return mg_fail(MG_ERR_CONFIG, "--augment: needs image data (channels x height x width); "
                                      "'%s' is %d x %d x %d", train->name, train->c, train->h,
                       train->w);
    mg_trainer *t = calloc(1, sizeof *t);
    if (!t) return mg_fail(MG_ERR_NOMEM, "out of memory creating the trainer");
    t->m = m;
    t->cfg = *cfg;
    t->cfg.optim.epochs = cfg->epochs;
    t->train = train;
    t->val = val;
    t->test = test;
    int B = cfg->batch < train->n ? cfg->batch : train->n;
    t->batch = B;
    t->steps_per_epoch = (train->n + B - 1) / B;
    int C = mg_model_classes(m);
    st = mg_model_reserve(m, B);
    if (!st) st = mg_optim_init(&t->opt, &t->cfg.optim, mg_model_n_params(m));
    if (st) {
        free(t);
        return st;
    }
    t->order = malloc(sizeof(int) * (size_t)train->n);
    t->perm = malloc(sizeof(int) * (size_t)B);
    t->xb = malloc(sizeof(float) * (size_t)B * train->dim);
    t->yb = malloc(sizeof(int32_t) * (size_t)B);
    t->tb = malloc(sizeof(float) * (size_t)B * C);
    t->dz = malloc(sizeof(float) * (size_t)B * C);
    t->saved_buffers = malloc(sizeof(float) * (mg_model_n_buffers(m) + 1));
    t->aug_tmp = malloc(sizeof(float) * (size_t)train->dim);
    if (!t->order || !t->perm || !t->xb || !t->yb || !t->tb || !t->dz || !t->saved_buffers ||
        !t->aug_tmp) {
        mg_trainer_free(t);
        return mg_fail(MG_ERR_NOMEM, "out of memory creating the trainer");
    }
    t->order_epoch = -1;
    *out = t;
    return MG_OK;
}

void mg_trainer_free(mg_trainer *t)
{
    if (!t) return;
    mg_optim_free(&t->opt);
    free(t->order);
    free(t->perm);
    free(t->xb);
    free(t->yb);
    free(t->tb);
    free(t->dz);
    free(t->saved_buffers);
    free(t->aug_tmp);
    free(t);
}

int mg_trainer_epoch(const mg_trainer *t) { return t->epoch; }
int mg_trainer_step(const mg_trainer *t) { return t->step; }

void mg_trainer_profile(mg_trainer *t, int on)
{
    MG_ASSERT(t);
    if (on) memset(&t->prof, 0, sizeof t->prof);
    t->profiling = on != 0;
    mg_model_profile(t->m, on);
}

mg_train_profile mg_trainer_profile_get(const mg_trainer *t)
{
    return t->prof;
}

/* snprintf into buf at *used, counting what did not fit */
#define REPORT(...)                                                                        \
    do {                                                                                   \
        int w_ = snprintf(len > used ? buf + used : NULL, len > used ? len - used : 0,     \
                          __VA_ARGS__);                                                    \
        used += w_ > 0 ? (size_t)w_ : 0;                                                   \
    } while (0)

size_t mg_trainer_profile_report(const mg_trainer *t, char *buf, size_t len)
{
    size_t used = 0;
    if (len) buf[0] = '\0';
    const mg_train_profile *p = &t->prof;
    double steps = p->steps > 0 ? (double)p->steps : 1.0, ms = 1e3 / steps;
    double total = p->batch + p->forward + p->loss + p->backward + p->optim;
    double share = total > 0.0 ? 100.0 / total : 0.0;
    const mg_model *m = t->m;
    int nl = mg_model_n_layers(m);
    REPORT("# profile: %ld steps of batch %d, %d thread%s; ms per step\n", p->steps, t->batch,
           mg_model_threads(m), mg_model_threads(m) == 1 ? "" : "s");
    REPORT("%-5s %5s %-14s %9s %9s %7s\n", "layer", "block", "kind", "fwd_ms", "bwd_ms", "share");
    double lsum = 0.0;
    for (int i = 0; i <= nl; i++) {
        mg_layer_time lt = mg_model_layer_time(m, i);
        double s = lt.forward_sec + lt.backward_sec;
        lsum += s;
        if (i == nl) {
            REPORT("%-5s %5s %-14s %9.3f %9.3f %6.1f%%\n", "-", "-", "mix", lt.forward_sec * ms,
                   lt.backward_sec * ms, s * share);
        } else {
            REPORT("%-5d %5d %-14s %9.3f %9.3f %6.1f%%\n", i, mg_model_layer(m, i).block,
                   mg_model_layer_name(m, i), lt.forward_sec * ms, lt.backward_sec * ms, s * share);
        }
    }
    double other = p->forward + p->backward - lsum;
    REPORT("%-26s %9.3f %9s %6.1f%%\n", "model passes, other", other * ms, "", other * share);
    REPORT("%-26s %9.3f %9s %6.1f%%\n", "batch assembly", p->batch * ms, "", p->batch * share);
    REPORT("%-26s %9.3f %9s %6.1f%%\n", "loss", p->loss * ms, "", p->loss * share);
    REPORT("%-26s %9.3f %9s %6.1f%%\n", "optimizer", p->optim * ms, "", p->optim * share);
    REPORT("%-26s %9.3f %9s %6.1f%%\n", "step (forward)", p->forward * ms, "",
           p->forward * share);
    REPORT("%-26s %9.3f %9s %6.1f%%\n", "step (backward)", p->backward * ms, "",
           p->backward * share);
    REPORT("%-26s %9.3f\n", "step total", total * ms);
    return used;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void epoch_order(mg_trainer *t)
{
    if (t->order_epoch == t->epoch) return;
    mg_rng r;
    mg_rng_seed3(&r, t->cfg.seed, MG_STREAM_EPOCH, (uint64_t)t->epoch);
    mg_rng_permutation(&r, t->order, t->train->n);
    t->order_epoch = t->epoch;
}

void mg_augment(float *x, int n, int C, int H, int W, int pad, int flip, mg_rng *r,
                float *tmp)
{
    size_t dim = (size_t)C * H * W;
    for (int e = 0; e < n; e++) {
        float *xe = x + (size_t)e * dim;
        int dy = pad ? (int)mg_rng_below(r, 2 * (uint32_t)pad + 1) - pad : 0;
        int dx = pad ? (int)mg_rng_below(r, 2 * (uint32_t)pad + 1) - pad : 0;
        int fl = flip ? (int)mg_rng_below(r, 2) : 0;
        if (!dy && !dx && !fl) continue;
        memcpy(tmp, xe, sizeof(float) * dim);
        for (int c = 0; c < C; c++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++) {
                    int si = i + dy, sj = (fl ? W - 1 - j : j) + dx;
                    float v = 0.0f;
                    if (si >= 0 && si < H && sj >= 0 && sj < W) v = tmp[((size_t)c * H + si) * W + sj];
                    xe[((size_t)c * H + i) * W + j] = v;
                }
    }
}

/* One minibatch step.  Returns MG_ERR_NUMERIC (parameters untouched) when the
 * loss is not finite. */
static mg_status train_step(mg_trainer *t, double *loss_out)
{
    const mg_dataset *d = t->train;
    mg_model *m = t->m;
    int C = mg_model_classes(m);
    int i0 = t->step * t->batch;
    int n = d->n - i0 < t->batch ? d->n - i0 : t->batch;
    double tp[6] = {0}; /* phase boundaries, when profiling */
    if (t->profiling) tp[0] = now_seconds();
    for (int i = 0; i < n; i++) {
        int idx = t->order[i0 + i];
        memcpy(t->xb + (size_t)i * d->dim, d->x + (size_t)idx * d->dim, sizeof(float) * d->dim);
        t->yb[i] = d->y[idx];
    }
    uint64_t gstep = (uint64_t)t->epoch * t->steps_per_epoch + t->step;
    if (t->cfg.augment_crop_pad > 0 || t->cfg.augment_flip) {
        mg_rng ra;
        mg_rng_seed3(&ra, t->cfg.seed, MG_STREAM_AUGMENT, gstep);
        mg_augment(t->xb, n, d->c, d->h, d->w, t->cfg.augment_crop_pad, t->cfg.augment_flip, &ra,
                   t->aug_tmp);
    }
    mg_rng r;
    mg_rng_seed3(&r, t->cfg.seed, MG_STREAM_STEP, gstep);
    mg_mix mix, *mixp = NULL;
    float lam = 1.0f;
    if (t->cfg.mix != MG_MIX_NONE) {
        int k = t->cfg.mix_layers[mg_rng_below(&r, (uint32_t)t->cfg.n_mix_layers)];
        lam = (float)mg_rng_beta(&r, t->cfg.alpha, t->cfg.alpha);
        mg_rng_permutation(&r, t->perm, n);
        mix.k = k;
        mix.lambda = lam;
        mix.perm = t->perm;
        mixp = &mix;
    }
    mg_mix_targets(t->yb, n, C, lam, mixp ? t->perm : NULL, t->tb);
    memcpy(t->saved_buffers, mg_model_buffers(m), sizeof(float) * mg_model_n_buffers(m));
    if (t->profiling) tp[1] = now_seconds();
    const float *z = mg_model_forward(m, 0, t->xb, n, 1, mixp, &r);
    if (t->profiling) tp[2] = now_seconds();
    double loss = mg_loss(t->cfg.loss, z, t->tb, n, C, t->dz);
    if (!isfinite(loss)) {
        memcpy(mg_model_buffers(m), t->saved_buffers, sizeof(float) * mg_model_n_buffers(m));
        *loss_out = loss;
        return mg_fail(MG_ERR_NUMERIC, "the training loss became %s at epoch %d step %d",
                       isnan(loss) ? "NaN" : "Inf", t->epoch + 1, t->step + 1);
    }
    for (int i = 0; i < n; i++) {
        const float *ti = t->tb + (size_t)i * C;
        t->ep_correct += argmax(z + (size_t)i * C, C) == argmax(ti, C);
    }
    if (t->profiling) tp[3] = now_seconds();
    mg_model_zero_grad(m);
    mg_model_backward(m, t->dz, NULL);
    if (t->profiling) tp[4] = now_seconds();
    double lr = mg_lr_at(&t->cfg.optim, t->epoch, t->step, t->steps_per_epoch);
    mg_optim_step_team(&t->opt, &t->cfg.optim, lr, mg_model_params(m), mg_model_grads(m),
                       mg_model_team(m));
    if (t->profiling) {
        tp[5] = now_seconds();
        t->prof.batch += tp[1] - tp[0];
        t->prof.forward += tp[2] - tp[1];
        t->prof.loss += tp[3] - tp[2];
        t->prof.backward += tp[4] - tp[3];
        t->prof.optim += tp[5] - tp[4];
        t->prof.steps++;
    }
    t->last_lr = lr;
    t->ep_loss_sum += loss;
    t->ep_seen += n;
    *loss_out = loss;
    return MG_OK;
}

mg_status mg_trainer_run(mg_trainer *t, const mg_train_hooks *hooks)
{
    mg_set_threads(t->cfg.threads);
    mg_status tst = mg_model_set_threads(t->m, t->cfg.threads);
    if (tst) return tst;
    while (t->epoch < t->cfg.epochs) {
        epoch_order(t);
        while (t->step < t->steps_per_epoch) {
            double t0 = now_seconds(), loss;
            mg_status st = train_step(t, &loss);
            t->ep_seconds += now_seconds() - t0;
            if (st) return st;
            t->step++;
            if (hooks && hooks->on_step &&
                hooks->on_step(hooks->user, t->epoch, t->step, t->steps_per_epoch, loss))
                return mg_fail(MG_ERR_INTERRUPTED, "stopped at epoch %d step %d", t->epoch + 1,
                               t->step);
        }
        mg_epoch_metrics em;
        memset(&em, 0, sizeof em);
        em.epoch = t->epoch + 1;
        em.lr = t->last_lr;
        em.train_loss = t->ep_loss_sum / t->steps_per_epoch;
        em.train_acc = t->ep_seen ? (double)t->ep_correct / t->ep_seen : 0.0;
        em.seconds = t->ep_seconds;
        mg_status st;
        if (t->val && (st = mg_evaluate(t->m, t->val, t->cfg.loss, &em.val))) return st;
        if (t->test && (st = mg_evaluate(t->m, t->test, t->cfg.loss, &em.test))) return st;
        if (t->cfg.clean_eval > 0) {
            /* a view of the first examples (never freed): the unaugmented,
             * unmixed training data in eval mode */
            mg_dataset head = *t->train;
            head.n = t->cfg.clean_eval < head.n ? t->cfg.clean_eval : head.n;
            if ((st = mg_evaluate(t->m, &head, t->cfg.loss, &em.train_clean))) return st;
        }
        t->epoch++;
        t->step = 0;
        t->ep_loss_sum = 0.0;
        t->ep_correct = 0;
        t->ep_seen = 0;
        t->ep_seconds = 0.0;
        if (hooks && hooks->on_epoch && hooks->on_epoch(hooks->user, &em))
            return mg_fail(MG_ERR_INTERRUPTED, "stopped after epoch %d", t->epoch);
    }
    return MG_OK;
}
