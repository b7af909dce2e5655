/* probe.c - analyses that drive a model: hidden states, DeepFool, segment
 * crossings, interpolation paths, off-manifold confidence, FGSM, 2-D maps.
 * See probe.h.  All forwards are in evaluation mode (train = 0). */
#include "probe.h"

#include "metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

/* Batch size to use: `want` (0 = all the model allows), reserving activation
 * memory for MG_PROBE_DEFAULT_BATCH examples when the model has none. */
static mg_status probe_batch(mg_model *m, int want, int *out)
{
    if (mg_model_max_batch(m) < 1) {
        mg_status st = mg_model_reserve(m, MG_PROBE_DEFAULT_BATCH);
        if (st != MG_OK) return st;
    }
    int mb = mg_model_max_batch(m);
    *out = (want > 0 && want < mb) ? want : mb;
    return MG_OK;
}

static int argmax_f(const float *z, int c)
{
    int a = 0;
    for (int j = 1; j < c; j++)
        if (z[j] > z[a]) a = j;
    return a;
}

/* log-sum-exp of a float row, in double */
static double lse_row(const float *z, int c)
{
    double mx = -INFINITY, s = 0.0;
    for (int j = 0; j < c; j++)
        if ((double)z[j] > mx) mx = z[j];
    for (int j = 0; j < c; j++) s += exp((double)z[j] - mx);
    return mx + log(s);
}

static mg_status check_layer(const mg_model *m, int k, int allow_logits, const char *who)
{
    int L = mg_model_n_blocks(m);
    if (k < 0 || k > L || (!allow_logits && k == L))
        return mg_fail(MG_ERR_CONFIG, "%s: layer %d outside 0..%d", who, k,
                       allow_logits ? L : L - 1);
    return MG_OK;
}

static mg_status check_dataset(const mg_model *m, const mg_dataset *d, int need_labels,
                               const char *who)
{
    if (d->dim != mg_model_dim(m, 0))
        return mg_fail(MG_ERR_CONFIG, "%s: dataset '%s' has %d features, the model expects %d",
                       who, d->name, d->dim, mg_model_dim(m, 0));
    if (need_labels) {
        int C = mg_model_classes(m);
        for (int i = 0; i < d->n; i++)
            if (d->y[i] < 0 || d->y[i] >= C)
                return mg_fail(MG_ERR_CONFIG, "%s: label %d of example %d is outside 0..%d", who,
                               (int)d->y[i], i, C - 1);
    }
    return MG_OK;
}

/* Max softmax and normalised entropy of logits rows (p: scratch n x C). */
static void score_logits(const float *z, int n, int C, double *p, double *maxprob,
                         double *entropy)
{
    mg_softmax_f64(z, n, C, p);
    mg_confidence_f64(p, n, C, maxprob, entropy);
}

/* ---------------------------------------------------------------- plain forward */

mg_status mg_forward_all(mg_model *m, int from, const float *x, int n, int k, float *states,
                         float *logits)
{
    MG_ASSERT(m && (x || n == 0) && n >= 0);
    mg_status st = check_layer(m, from, 1, "forward");
    if (st) return st;
    if (k < from || k > mg_model_n_blocks(m))
        return mg_fail(MG_ERR_CONFIG, "forward: state layer %d outside %d..%d", k, from,
                       mg_model_n_blocks(m));
    int bs;
    if ((st = probe_batch(m, 0, &bs))) return st;
    size_t df = (size_t)mg_model_dim(m, from), dk = (size_t)mg_model_dim(m, k);
    size_t C = (size_t)mg_model_classes(m);
    for (int i = 0; i < n; i += bs) {
        int bn = n - i < bs ? n - i : bs;
        const float *z = mg_model_forward(m, from, x + (size_t)i * df, bn, 0, NULL, NULL);
        if (states) memcpy(states + (size_t)i * dk, mg_model_state(m, k), sizeof(float) * bn * dk);
        if (logits) memcpy(logits + (size_t)i * C, z, sizeof(float) * bn * C);
    }
    return MG_OK;
}

mg_status mg_predict(mg_model *m, int from, const float *x, int n, int32_t *pred,
                     double *maxprob)
{
    MG_ASSERT(m && (x || n == 0) && pred && n >= 0);
    mg_status st = check_layer(m, from, 1, "predict");
    if (st) return st;
    int bs;
    if ((st = probe_batch(m, 0, &bs))) return st;
    int df = mg_model_dim(m, from), C = mg_model_classes(m);
    for (int i = 0; i < n; i += bs) {
        int bn = n - i < bs ? n - i : bs;
        const float *z = mg_model_forward(m, from, x + (size_t)i * df, bn, 0, NULL, NULL);
        for (int r = 0; r < bn; r++) {
            const float *zr = z + (size_t)r * C;
            int a = argmax_f(zr, C);
            pred[i + r] = a;
            if (maxprob) maxprob[i + r] = exp((double)zr[a] - lse_row(zr, C));
        }
    }
    return MG_OK;
}

/* ---------------------------------------------------------------- hidden states */

mg_status mg_states_foreach(mg_model *m, const mg_dataset *d, int k, int batch,
                            int max_per_class, mg_states_fn cb, void *user)
{
    MG_ASSERT(m && d && cb && max_per_class >= 0);
    mg_status st = check_layer(m, k, 1, "states");
    if (st || (st = check_dataset(m, d, 0, "states"))) return st;
    int bs;
    if ((st = probe_batch(m, batch, &bs))) return st;
    int dim = d->dim;
    int *idx = NULL, *seen = NULL, nsel = d->n;
    float *xb = NULL;
    int32_t *yb = NULL;
    if (max_per_class > 0) {
        int nc = d->classes > 0 ? d->classes : 1;
        idx = malloc(sizeof(int) * ((size_t)d->n + 1));
        seen = calloc((size_t)nc, sizeof(int));
        xb = malloc(sizeof(float) * (size_t)bs * dim);
        yb = malloc(sizeof(int32_t) * (size_t)bs);
        if (!idx || !seen || !xb || !yb) {
            st = mg_fail(MG_ERR_NOMEM, "states: out of memory");
            goto done;
        }
        nsel = 0;
        for (int i = 0; i < d->n; i++) {
            int c = d->y[i];
            if (c < 0 || c >= nc) {
                st = mg_fail(MG_ERR_CONFIG, "states: label %d of example %d is outside 0..%d", c,
                             i, nc - 1);
                goto done;
            }
            if (seen[c] < max_per_class) {
                seen[c]++;
                idx[nsel++] = i;
            }
        }
    }
    for (int i = 0; i < nsel; i += bs) {
        int bn = nsel - i < bs ? nsel - i : bs;
        const float *xs;
        const int32_t *ys;
        if (idx) {
            for (int r = 0; r < bn; r++) {
                memcpy(xb + (size_t)r * dim, d->x + (size_t)idx[i + r] * dim,
                       sizeof(float) * dim);
                yb[r] = d->y[idx[i + r]];
            }
            xs = xb;
            ys = yb;
        } else {
            xs = d->x + (size_t)i * dim;
            ys = d->y + i;
        }
        const float *z = mg_model_forward(m, 0, xs, bn, 0, NULL, NULL);
        st = cb(user, mg_model_state(m, k), ys, z, bn);
        if (st != MG_OK) break;
    }
done:
    free(idx);
    free(seen);
    free(xb);
    free(yb);
    return st;
}

typedef struct {
    int dim;
    float *lo, *hi;
} range_acc;

static mg_status range_cb(void *user, const float *s, const int32_t *y, const float *z, int n)
{
    range_acc *a = user;
    (void)y, (void)z;
    for (int i = 0; i < n; i++)
        for (int f = 0; f < a->dim; f++) {
            float v = s[(size_t)i * a->dim + f];
            if (v < a->lo[f]) a->lo[f] = v;
            if (v > a->hi[f]) a->hi[f] = v;
        }
    return MG_OK;
}

mg_status mg_states_range(mg_model *m, const mg_dataset *d, int k, float *lo, float *hi)
{
    MG_ASSERT(m && d && lo && hi);
    mg_status st = check_layer(m, k, 1, "states range");
    if (st) return st;
    range_acc a = {mg_model_dim(m, k), lo, hi};
    for (int f = 0; f < a.dim; f++) {
        lo[f] = INFINITY;
        hi[f] = -INFINITY;
    }
    return mg_states_foreach(m, d, k, 0, 0, range_cb, &a);
}

/* ---------------------------------------------------------------- pairs */

mg_status mg_draw_pairs(const int32_t *y, int n, int classes, int same, int npairs,
                        mg_rng *rng, int *ia, int *ib)
{
    MG_ASSERT(y && rng && ia && ib && npairs >= 0 && n >= 0);
    if (classes < 1) return mg_fail(MG_ERR_CONFIG, "pairs: classes = %d", classes);
    int *cnt = calloc((size_t)classes, sizeof(int));
    int *start = calloc((size_t)classes + 1, sizeof(int));
    int *order = malloc(sizeof(int) * ((size_t)n + 1));
    mg_status st = MG_OK;
    if (!cnt || !start || !order) {
        st = mg_fail(MG_ERR_NOMEM, "pairs: out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if (y[i] < 0 || y[i] >= classes) {
            st = mg_fail(MG_ERR_CONFIG, "pairs: label %d of example %d is outside 0..%d",
                         (int)y[i], i, classes - 1);
            goto done;
        }
        cnt[y[i]]++;
    }
    for (int c = 0; c < classes; c++) start[c + 1] = start[c] + cnt[c];
    {
        int *fill = calloc((size_t)classes, sizeof(int));
        if (!fill) {
            st = mg_fail(MG_ERR_NOMEM, "pairs: out of memory");
            goto done;
        }
        for (int i = 0; i < n; i++) order[start[y[i]] + fill[y[i]]++] = i;
        free(fill);
    }
    if (same) {
        int64_t eligible = 0;
        for (int c = 0; c < classes; c++)
            if (cnt[c] >= 2) eligible += cnt[c];
        if (npairs > 0 && eligible == 0) {
            st = mg_fail(MG_ERR_CONFIG, "pairs: no class has two examples");
            goto done;
        }
        for (int p = 0; p < npairs; p++) {
            int r = (int)mg_rng_below(rng, (uint32_t)eligible), c = 0;
            for (c = 0; c < classes; c++) {
                if (cnt[c] < 2) continue;
                if (r < cnt[c]) break;
                r -= cnt[c];
            }
            int s = (int)mg_rng_below(rng, (uint32_t)(cnt[c] - 1));
            if (s >= r) s++;
            ia[p] = order[start[c] + r];
            ib[p] = order[start[c] + s];
        }
    } else {
        int present = 0;
        for (int c = 0; c < classes; c++) present += cnt[c] > 0;
        if (npairs > 0 && present < 2) {
            st = mg_fail(MG_ERR_CONFIG, "pairs: need examples of two different classes");
            goto done;
        }
        for (int p = 0; p < npairs; p++) {
            int i = (int)mg_rng_below(rng, (uint32_t)n), c = y[i];
            int s = (int)mg_rng_below(rng, (uint32_t)(n - cnt[c]));
            ia[p] = i;
            ib[p] = order[s < start[c] ? s : s + cnt[c]];
        }
    }
done:
    free(cnt);
    free(start);
    free(order);
    return st;
}

/* ---------------------------------------------------------------- DeepFool */

mg_deepfool_config mg_deepfool_config_default(void)
{
    mg_deepfool_config c = {0, 0.02, 50, 0};
    return c;
}

mg_status mg_deepfool(mg_model *m, const float *x, int n, const mg_deepfool_config *cfg,
                      mg_deepfool_result *out, float *x_adv)
{
    MG_ASSERT(m && (x || n == 0) && out && n >= 0);
    mg_deepfool_config c = cfg ? *cfg : mg_deepfool_config_default();
    mg_status st = check_layer(m, c.layer, 0, "deepfool");
    if (st) return st;
    if (!(c.overshoot >= 0.0) || c.max_iter < 1)
        return mg_fail(MG_ERR_CONFIG, "deepfool: overshoot %g (>= 0) and max_iter %d (>= 1)",
                       c.overshoot, c.max_iter);
    int bs;
    if ((st = probe_batch(m, c.batch, &bs))) return st;
    const int dim = mg_model_dim(m, c.layer), C = mg_model_classes(m);
    const size_t bd = (size_t)bs * dim;
    float *cur = malloc(sizeof(float) * bd);
    float *dx = malloc(sizeof(float) * bd);
    float *wbest = malloc(sizeof(float) * bd);
    double *r = malloc(sizeof(double) * bd);
    float *zb = malloc(sizeof(float) * (size_t)bs * C);
    float *dl = malloc(sizeof(float) * (size_t)bs * C);
    double *best = malloc(sizeof(double) * bs), *bestf = malloc(sizeof(double) * bs);
    double *bestn2 = malloc(sizeof(double) * bs);
    int *active = malloc(sizeof(int) * bs);
    if (!cur || !dx || !wbest || !r || !zb || !dl || !best || !bestf || !bestn2 || !active) {
        st = mg_fail(MG_ERR_NOMEM, "deepfool: out of memory (batch %d x %d)", bs, dim);
        goto done;
    }
    const double scale = 1.0 + c.overshoot;
    for (int i0 = 0; i0 < n; i0 += bs) {
        int bn = n - i0 < bs ? n - i0 : bs;
        const float *x0 = x + (size_t)i0 * dim;
        mg_deepfool_result *res = out + i0;
        memset(r, 0, sizeof(double) * (size_t)bn * dim);
        for (int q = 0; q < bn; q++) {
            active[q] = 1;
            memset(&res[q], 0, sizeof res[q]);
        }
        for (int it = 0;; it++) {
            for (size_t e = 0; e < (size_t)bn * dim; e++) cur[e] = (float)(x0[e] + scale * r[e]);
            const float *z = mg_model_forward(m, c.layer, cur, bn, 0, NULL, NULL);
            memcpy(zb, z, sizeof(float) * (size_t)bn * C);
            int n_active = 0;
            for (int q = 0; q < bn; q++) {
                if (!active[q]) continue;
                int lab = argmax_f(zb + (size_t)q * C, C);
                if (it == 0) res[q].label0 = lab;
                res[q].label1 = lab;
                res[q].iters = it;
                if (lab != res[q].label0) {
                    res[q].converged = 1;
                    active[q] = 0;
                } else if (it == c.max_iter) {
                    active[q] = 0;
                } else {
                    n_active++;
                    best[q] = INFINITY;
                }
            }
            if (n_active == 0) break;
            /* One backward per candidate class j, all rows at once; the
             * forward state is only read by the backward pass, so the
             * backward passes can share the forward above.  Input
             * gradients only: no parameter-gradient work. */
            for (int j = 0; j < C; j++) {
                int any = 0;
                for (int q = 0; q < bn; q++) {
                    float *row = dl + (size_t)q * C;
                    memset(row, 0, sizeof(float) * C);
                    if (active[q] && j != res[q].label0) {
                        row[j] = 1.0f;
                        row[res[q].label0] = -1.0f;
                        any = 1;
                    }
                }
                if (!any) continue;
                mg_model_backward_input(m, dl, dx);
                for (int q = 0; q < bn; q++) {
                    if (!active[q] || j == res[q].label0) continue;
                    const float *w = dx + (size_t)q * dim;
                    double n2 = 0.0;
                    for (int f = 0; f < dim; f++) n2 += (double)w[f] * w[f];
                    if (!(n2 > 0.0) || !isfinite(n2)) continue;
                    double fj = (double)zb[(size_t)q * C + j] -
                                (double)zb[(size_t)q * C + res[q].label0];
                    double ratio = fabs(fj) / sqrt(n2);
                    if (ratio < best[q]) {
                        best[q] = ratio;
                        bestf[q] = fj;
                        bestn2[q] = n2;
                        memcpy(wbest + (size_t)q * dim, w, sizeof(float) * dim);
                    }
                }
            }
            mg_model_zero_grad(m);
            for (int q = 0; q < bn; q++) {
                if (!active[q]) continue;
                if (!isfinite(best[q])) { /* every gradient vanished */
                    active[q] = 0;
                    continue;
                }
                double step = (fabs(bestf[q]) + 1e-4) / bestn2[q];
                double *rq = r + (size_t)q * dim;
                const float *w = wbest + (size_t)q * dim;
                for (int f = 0; f < dim; f++) rq[f] += step * w[f];
            }
        }
        for (int q = 0; q < bn; q++) {
            double s = 0.0;
            const double *rq = r + (size_t)q * dim;
            for (int f = 0; f < dim; f++) s += rq[f] * rq[f];
            res[q].norm_raw = sqrt(s);
            res[q].norm = scale * res[q].norm_raw;
        }
        if (x_adv)
            for (size_t e = 0; e < (size_t)bn * dim; e++)
                x_adv[(size_t)i0 * dim + e] = (float)(x0[e] + scale * r[e]);
    }
done:
    free(cur);
    free(dx);
    free(wbest);
    free(r);
    free(zb);
    free(dl);
    free(best);
    free(bestf);
    free(bestn2);
    free(active);
    return st;
}

/* ---------------------------------------------------------------- segment crossing */

mg_segment_config mg_segment_config_default(void)
{
    mg_segment_config c = {64, 1e-6, 0};
    return c;
}

/* Predicted labels of nrows rows at layer k, forwarded in batches of bs. */
static void labels_of(mg_model *m, int k, const float *rows, int nrows, int bs, int32_t *lab)
{
    int dim = mg_model_dim(m, k), C = mg_model_classes(m);
    for (int i = 0; i < nrows; i += bs) {
        int bn = nrows - i < bs ? nrows - i : bs;
        const float *z = mg_model_forward(m, k, rows + (size_t)i * dim, bn, 0, NULL, NULL);
        for (int r = 0; r < bn; r++) lab[i + r] = argmax_f(z + (size_t)r * C, C);
    }
}

static void segment_point(const float *a, const float *b, int dim, double t, float *dst)
{
    for (int f = 0; f < dim; f++) dst[f] = (float)((double)a[f] + t * ((double)b[f] - a[f]));
}

mg_status mg_segment_crossings(mg_model *m, int k, const float *a, const float *b, int npairs,
                               const mg_segment_config *cfg, mg_segment_result *out)
{
    MG_ASSERT(m && out && npairs >= 0 && (npairs == 0 || (a && b)));
    mg_segment_config c = cfg ? *cfg : mg_segment_config_default();
    mg_status st = check_layer(m, k, 1, "segment");
    if (st) return st;
    if (c.grid < 1 || !(c.tol > 0.0))
        return mg_fail(MG_ERR_CONFIG, "segment: grid %d (>= 1) and tol %g (> 0)", c.grid, c.tol);
    int bs;
    if ((st = probe_batch(m, c.batch, &bs))) return st;
    const int dim = mg_model_dim(m, k), G = c.grid;
    int P = bs / (G + 1);
    if (P < 1) P = 1;
    size_t nrows = (size_t)P * (G + 1);
    float *rows = malloc(sizeof(float) * nrows * dim);
    int32_t *lab = malloc(sizeof(int32_t) * nrows);
    double *lo = malloc(sizeof(double) * P), *hi = malloc(sizeof(double) * P);
    int *slot = malloc(sizeof(int) * P);
    if (!rows || !lab || !lo || !hi || !slot) {
        st = mg_fail(MG_ERR_NOMEM, "segment: out of memory");
        goto done;
    }
    for (int p0 = 0; p0 < npairs; p0 += P) {
        int pc = npairs - p0 < P ? npairs - p0 : P;
        for (int q = 0; q < pc; q++) {
            const float *aq = a + (size_t)(p0 + q) * dim, *bq = b + (size_t)(p0 + q) * dim;
            for (int i = 0; i <= G; i++)
                segment_point(aq, bq, dim, (double)i / G, rows + ((size_t)q * (G + 1) + i) * dim);
        }
        labels_of(m, k, rows, pc * (G + 1), bs, lab);
        for (int q = 0; q < pc; q++) {
            mg_segment_result *res = &out[p0 + q];
            const float *aq = a + (size_t)(p0 + q) * dim, *bq = b + (size_t)(p0 + q) * dim;
            const int32_t *lq = lab + (size_t)q * (G + 1);
            double len = 0.0;
            for (int f = 0; f < dim; f++) {
                double e = (double)bq[f] - aq[f];
                len += e * e;
            }
            res->length = sqrt(len);
            res->label_a = lq[0];
            res->label_b = lq[G];
            res->found = 0;
            res->t = res->dist = NAN;
            res->label_t = lq[0];
            for (int i = 1; i <= G; i++)
                if (lq[i] != lq[0]) {
                    res->found = 1;
                    lo[q] = (double)(i - 1) / G;
                    hi[q] = (double)i / G;
                    res->label_t = lq[i];
                    break;
                }
        }
        /* Bisection, all open brackets of the chunk in one forward. */
        for (;;) {
            int nb = 0;
            for (int q = 0; q < pc; q++) {
                if (!out[p0 + q].found || hi[q] - lo[q] <= c.tol) continue;
                const float *aq = a + (size_t)(p0 + q) * dim, *bq = b + (size_t)(p0 + q) * dim;
                segment_point(aq, bq, dim, 0.5 * (lo[q] + hi[q]), rows + (size_t)nb * dim);
                slot[nb++] = q;
            }
            if (nb == 0) break;
            labels_of(m, k, rows, nb, bs, lab);
            for (int s = 0; s < nb; s++) {
                int q = slot[s];
                double mid = 0.5 * (lo[q] + hi[q]);
                if (lab[s] != out[p0 + q].label_a) {
                    hi[q] = mid;
                    out[p0 + q].label_t = lab[s];
                } else {
                    lo[q] = mid;
                }
            }
        }
        for (int q = 0; q < pc; q++) {
            mg_segment_result *res = &out[p0 + q];
            if (!res->found) continue;
            res->t = 0.5 * (lo[q] + hi[q]);
            res->dist = res->t * res->length;
        }
    }
done:
    free(rows);
    free(lab);
    free(lo);
    free(hi);
    free(slot);
    return st;
}

/* ---------------------------------------------------------------- interpolation paths */

mg_interp_config mg_interp_config_default(void)
{
    mg_interp_config c = {0, 500, 21, 0};
    return c;
}

void mg_interp_result_free(mg_interp_result *r)
{
    if (!r) return;
    free(r->lambda);
    for (int t = 0; t < 2; t++) {
        free(r->ia[t]);
        free(r->ib[t]);
        free(r->maxprob[t]);
        free(r->entropy[t]);
        free(r->loss[t]);
    }
    memset(r, 0, sizeof *r);
}

/* Layer-k states of the dataset rows idx[0..n-1] into out (n x dim(k)). */
static void gather_states(mg_model *m, const mg_dataset *d, const int *idx, int n, int k,
                               int bs, float *xb, float *out)
{
    int dim = d->dim, dk = mg_model_dim(m, k);
    for (int i = 0; i < n; i += bs) {
        int bn = n - i < bs ? n - i : bs;
        for (int r = 0; r < bn; r++)
            memcpy(xb + (size_t)r * dim, d->x + (size_t)idx[i + r] * dim, sizeof(float) * dim);
        mg_model_forward(m, 0, xb, bn, 0, NULL, NULL);
        memcpy(out + (size_t)i * dk, mg_model_state(m, k), sizeof(float) * bn * dk);
    }
}

mg_status mg_interp_paths(mg_model *m, const mg_dataset *d, const mg_interp_config *cfg,
                          mg_rng *rng, mg_interp_result *out)
{
    MG_ASSERT(m && d && rng && out);
    memset(out, 0, sizeof *out);
    mg_interp_config c = cfg ? *cfg : mg_interp_config_default();
    mg_status st = check_layer(m, c.layer, 1, "interp");
    if (st || (st = check_dataset(m, d, 1, "interp"))) return st;
    if (c.n_pairs < 1 || c.n_lambda < 2)
        return mg_fail(MG_ERR_CONFIG, "interp: pairs %d (>= 1) and lambda points %d (>= 2)",
                       c.n_pairs, c.n_lambda);
    int bs;
    if ((st = probe_batch(m, c.batch, &bs))) return st;
    const int k = c.layer, dk = mg_model_dim(m, k), C = mg_model_classes(m), NL = c.n_lambda;
    const int np = c.n_pairs;
    float *ha = malloc(sizeof(float) * (size_t)np * dk);
    float *hb = malloc(sizeof(float) * (size_t)np * dk);
    float *xb = malloc(sizeof(float) * (size_t)bs * (dk > d->dim ? dk : d->dim));
    double *p = malloc(sizeof(double) * (size_t)bs * C);
    double *mp = malloc(sizeof(double) * bs), *en = malloc(sizeof(double) * bs);
    out->n_lambda = NL;
    out->lambda = malloc(sizeof(double) * NL);
    int ok = ha && hb && xb && p && mp && en && out->lambda;
    for (int t = 0; t < 2 && ok; t++) {
        out->ia[t] = malloc(sizeof(int) * np);
        out->ib[t] = malloc(sizeof(int) * np);
        out->maxprob[t] = calloc((size_t)NL, sizeof(double));
        out->entropy[t] = calloc((size_t)NL, sizeof(double));
        out->loss[t] = calloc((size_t)NL, sizeof(double));
        ok = out->ia[t] && out->ib[t] && out->maxprob[t] && out->entropy[t] && out->loss[t];
    }
    if (!ok) {
        st = mg_fail(MG_ERR_NOMEM, "interp: out of memory (%d pairs x %d)", np, dk);
        goto done;
    }
    for (int l = 0; l < NL; l++) out->lambda[l] = (double)l / (NL - 1);
    for (int t = 0; t < 2; t++) {
        int same = t == 0;
        st = mg_draw_pairs(d->y, d->n, C, same, np, rng, out->ia[t], out->ib[t]);
        if (st == MG_ERR_CONFIG) { /* this kind cannot be drawn from d */
            st = MG_OK;
            out->n_pairs[t] = 0;
            for (int l = 0; l < NL; l++)
                out->maxprob[t][l] = out->entropy[t][l] = out->loss[t][l] = NAN;
            continue;
        }
        if (st != MG_OK) goto done;
        out->n_pairs[t] = np;
        gather_states(m, d, out->ia[t], np, k, bs, xb, ha);
        gather_states(m, d, out->ib[t], np, k, bs, xb, hb);
        for (int l = 0; l < NL; l++) {
            double lam = out->lambda[l], smp = 0.0, sen = 0.0, sloss = 0.0;
            for (int i = 0; i < np; i += bs) {
                int bn = np - i < bs ? np - i : bs;
                for (size_t e = 0; e < (size_t)bn * dk; e++) {
                    size_t g = (size_t)i * dk + e;
                    xb[e] = (float)(lam * ha[g] + (1.0 - lam) * hb[g]);
                }
                const float *z = mg_model_forward(m, k, xb, bn, 0, NULL, NULL);
                score_logits(z, bn, C, p, mp, en);
                for (int r = 0; r < bn; r++) {
                    const float *zr = z + (size_t)r * C;
                    double lse = lse_row(zr, C);
                    int ya = d->y[out->ia[t][i + r]], yb = d->y[out->ib[t][i + r]];
                    double loss = 0.0;
                    if (lam > 0.0) loss += lam * (lse - zr[ya]);
                    if (lam < 1.0) loss += (1.0 - lam) * (lse - zr[yb]);
                    smp += mp[r];
                    sen += en[r];
                    sloss += loss;
                }
            }
            out->maxprob[t][l] = smp / np;
            out->entropy[t][l] = sen / np;
            out->loss[t][l] = sloss / np;
        }
    }
done:
    free(ha);
    free(hb);
    free(xb);
    free(p);
    free(mp);
    free(en);
    if (st != MG_OK) mg_interp_result_free(out);
    return st;
}

/* ---------------------------------------------------------------- off-manifold */

void mg_data_stats(const mg_dataset *d, float *lo, float *hi, float *mean, float *std)
{
    MG_ASSERT(d);
    int dim = d->dim;
    for (int f = 0; f < dim; f++) {
        double a = INFINITY, b = -INFINITY, s = 0.0, s2 = 0.0;
        for (int i = 0; i < d->n; i++) {
            double v = d->x[(size_t)i * dim + f];
            if (v < a) a = v;
            if (v > b) b = v;
            s += v;
        }
        double mu = d->n > 0 ? s / d->n : 0.0;
        for (int i = 0; i < d->n; i++) {
            double e = d->x[(size_t)i * dim + f] - mu;
            s2 += e * e;
        }
        if (lo) lo[f] = (float)a;
        if (hi) hi[f] = (float)b;
        if (mean) mean[f] = (float)mu;
        if (std) std[f] = (float)(d->n > 0 ? sqrt(s2 / d->n) : 0.0);
    }
}

mg_offmanifold_config mg_offmanifold_config_default(void)
{
    mg_offmanifold_config c = {1000, 1000, 0, 0};
    return c;
}

void mg_offmanifold_result_free(mg_offmanifold_result *r)
{
    if (!r) return;
    free(r->data_maxprob);
    free(r->data_entropy);
    free(r->uniform_maxprob);
    free(r->uniform_entropy);
    free(r->noise_maxprob);
    free(r->noise_entropy);
    memset(r, 0, sizeof *r);
}

/* AUROC of data vs other, for max softmax and for 1 - entropy. */
static mg_status offm_aurocs(const mg_offmanifold_result *r, const double *omp,
                             const double *oen, int no, double *a_mp, double *a_en)
{
    *a_mp = *a_en = NAN;
    if (no < 1 || r->n_data < 1) return MG_OK;
    mg_status st = mg_auroc(r->data_maxprob, r->n_data, omp, no, a_mp);
    if (st) return st;
    /* score 1 - entropy: AUROC of -entropy, i.e. negatives and positives swapped */
    double a;
    st = mg_auroc(oen, no, r->data_entropy, r->n_data, &a);
    *a_en = a;
    return st;
}

mg_status mg_offmanifold(mg_model *m, const mg_dataset *d, const mg_offmanifold_config *cfg,
                         mg_rng *rng, mg_offmanifold_result *out)
{
    MG_ASSERT(m && d && rng && out);
    memset(out, 0, sizeof *out);
    mg_offmanifold_config c = cfg ? *cfg : mg_offmanifold_config_default();
    mg_status st = check_dataset(m, d, 0, "off-manifold");
    if (st) return st;
    if (c.n_uniform < 0 || c.n_noise < 0 || c.max_data < 0 || d->n < 1)
        return mg_fail(MG_ERR_CONFIG, "off-manifold: negative sample count or empty dataset");
    int bs;
    if ((st = probe_batch(m, c.batch, &bs))) return st;
    const int dim = d->dim, C = mg_model_classes(m);
    int nd = c.max_data > 0 && c.max_data < d->n ? c.max_data : d->n;
    out->n_data = nd;
    out->n_uniform = c.n_uniform;
    out->n_noise = c.n_noise;
    out->data_maxprob = malloc(sizeof(double) * nd);
    out->data_entropy = malloc(sizeof(double) * nd);
    out->uniform_maxprob = malloc(sizeof(double) * ((size_t)c.n_uniform + 1));
    out->uniform_entropy = malloc(sizeof(double) * ((size_t)c.n_uniform + 1));
    out->noise_maxprob = malloc(sizeof(double) * ((size_t)c.n_noise + 1));
    out->noise_entropy = malloc(sizeof(double) * ((size_t)c.n_noise + 1));
    float *lo = malloc(sizeof(float) * dim), *hi = malloc(sizeof(float) * dim);
    float *mu = malloc(sizeof(float) * dim), *sd = malloc(sizeof(float) * dim);
    float *xb = malloc(sizeof(float) * (size_t)bs * dim);
    double *p = malloc(sizeof(double) * (size_t)bs * C);
    if (!out->data_maxprob || !out->data_entropy || !out->uniform_maxprob ||
        !out->uniform_entropy || !out->noise_maxprob || !out->noise_entropy || !lo || !hi ||
        !mu || !sd || !xb || !p) {
        st = mg_fail(MG_ERR_NOMEM, "off-manifold: out of memory");
        goto done;
    }
    mg_data_stats(d, lo, hi, mu, sd);
    for (int i = 0; i < nd; i += bs) {
        int bn = nd - i < bs ? nd - i : bs;
        const float *z = mg_model_forward(m, 0, d->x + (size_t)i * dim, bn, 0, NULL, NULL);
        score_logits(z, bn, C, p, out->data_maxprob + i, out->data_entropy + i);
    }
    for (int i = 0; i < c.n_uniform; i += bs) {
        int bn = c.n_uniform - i < bs ? c.n_uniform - i : bs;
        for (int r = 0; r < bn; r++)
            for (int f = 0; f < dim; f++)
                xb[(size_t)r * dim + f] =
                    (float)(lo[f] + ((double)hi[f] - lo[f]) * mg_rng_uniform(rng));
        const float *z = mg_model_forward(m, 0, xb, bn, 0, NULL, NULL);
        score_logits(z, bn, C, p, out->uniform_maxprob + i, out->uniform_entropy + i);
    }
    for (int i = 0; i < c.n_noise; i += bs) {
        int bn = c.n_noise - i < bs ? c.n_noise - i : bs;
        for (int r = 0; r < bn; r++)
            for (int f = 0; f < dim; f++) {
                double v = mu[f] + (double)sd[f] * mg_rng_normal(rng);
                if (v < lo[f]) v = lo[f];
                if (v > hi[f]) v = hi[f];
                xb[(size_t)r * dim + f] = (float)v;
            }
        const float *z = mg_model_forward(m, 0, xb, bn, 0, NULL, NULL);
        score_logits(z, bn, C, p, out->noise_maxprob + i, out->noise_entropy + i);
    }
    st = offm_aurocs(out, out->uniform_maxprob, out->uniform_entropy, c.n_uniform,
                     &out->auroc_uniform_maxprob, &out->auroc_uniform_entropy);
    if (st == MG_OK)
        st = offm_aurocs(out, out->noise_maxprob, out->noise_entropy, c.n_noise,
                         &out->auroc_noise_maxprob, &out->auroc_noise_entropy);
done:
    free(lo);
    free(hi);
    free(mu);
    free(sd);
    free(xb);
    free(p);
    if (st != MG_OK) mg_offmanifold_result_free(out);
    return st;
}

/* ---------------------------------------------------------------- FGSM */

mg_fgsm_config mg_fgsm_config_default(void)
{
    mg_fgsm_config c = {NULL, 0, 1, 0.0f, 1.0f, 0, 0};
    return c;
}

mg_status mg_fgsm_accuracy(mg_model *m, const mg_dataset *d, const mg_fgsm_config *cfg,
                           double *acc)
{
    MG_ASSERT(m && d && cfg && acc);
    mg_status st = check_dataset(m, d, 1, "fgsm");
    if (st) return st;
    if (cfg->n_eps < 1 || !cfg->eps)
        return mg_fail(MG_ERR_CONFIG, "fgsm: no epsilon given");
    for (int e = 0; e < cfg->n_eps; e++)
        if (!(cfg->eps[e] >= 0.0) || !isfinite(cfg->eps[e]))
            return mg_fail(MG_ERR_CONFIG, "fgsm: epsilon %g must be finite and >= 0", cfg->eps[e]);
    if (cfg->clip && !(cfg->lo <= cfg->hi))
        return mg_fail(MG_ERR_CONFIG, "fgsm: clip range [%g, %g] is empty", cfg->lo, cfg->hi);
    if (d->n < 1) return mg_fail(MG_ERR_CONFIG, "fgsm: empty dataset");
    int bs;
    if ((st = probe_batch(m, cfg->batch, &bs))) return st;
    const int dim = d->dim, C = mg_model_classes(m), ne = cfg->n_eps;
    int n = cfg->max_examples > 0 && cfg->max_examples < d->n ? cfg->max_examples : d->n;
    float *g = malloc(sizeof(float) * (size_t)bs * dim);
    float *xa = malloc(sizeof(float) * (size_t)bs * dim);
    float *dz = malloc(sizeof(float) * (size_t)bs * C);
    int64_t *correct = calloc((size_t)ne, sizeof(int64_t));
    if (!g || !xa || !dz || !correct) {
        st = mg_fail(MG_ERR_NOMEM, "fgsm: out of memory");
        goto done;
    }
    for (int i = 0; i < n; i += bs) {
        int bn = n - i < bs ? n - i : bs;
        const float *xb = d->x + (size_t)i * dim;
        const int32_t *yb = d->y + i;
        const float *z = mg_model_forward(m, 0, xb, bn, 0, NULL, NULL);
        /* d CE / dz = p - onehot(y); divided by 1 - p_y this is
         * q_j = softmax over the classes j != y, and -1 at y. */
        for (int r = 0; r < bn; r++) {
            const float *zr = z + (size_t)r * C;
            float *dr = dz + (size_t)r * C;
            int y = yb[r];
            double mx = -INFINITY, s = 0.0;
            for (int j = 0; j < C; j++)
                if (j != y && (double)zr[j] > mx) mx = zr[j];
            for (int j = 0; j < C; j++)
                if (j != y) s += exp((double)zr[j] - mx);
            for (int j = 0; j < C; j++)
                dr[j] = j == y ? -1.0f : (float)(exp((double)zr[j] - mx) / s);
        }
        mg_model_backward_input(m, dz, g);
        mg_model_zero_grad(m);
        for (int e = 0; e < ne; e++) {
            float eps = (float)cfg->eps[e];
            for (size_t q = 0; q < (size_t)bn * dim; q++) {
                float v = xb[q], s = (g[q] > 0.0f) - (g[q] < 0.0f);
                v += eps * s;
                if (cfg->clip) {
                    if (v < cfg->lo) v = cfg->lo;
                    if (v > cfg->hi) v = cfg->hi;
                }
                xa[q] = v;
            }
            const float *za = mg_model_forward(m, 0, xa, bn, 0, NULL, NULL);
            for (int r = 0; r < bn; r++) correct[e] += argmax_f(za + (size_t)r * C, C) == yb[r];
        }
    }
    for (int e = 0; e < ne; e++) acc[e] = (double)correct[e] / n;
done:
    free(g);
    free(xa);
    free(dz);
    free(correct);
    return st;
}

/* ---------------------------------------------------------------- 2-D maps */

mg_status mg_map2d(mg_model *m, int k, const double box[4], int nx, int ny, int32_t *cls,
                   float *conf)
{
    MG_ASSERT(m && box);
    mg_status st = check_layer(m, k, 1, "map2d");
    if (st) return st;
    if (mg_model_dim(m, k) != 2)
        return mg_fail(MG_ERR_CONFIG, "map2d: layer %d has %d features, need 2", k,
                       mg_model_dim(m, k));
    if (nx < 2 || ny < 2) return mg_fail(MG_ERR_CONFIG, "map2d: grid %d x %d (need >= 2)", nx, ny);
    for (int i = 0; i < 4; i++)
        if (!isfinite(box[i])) return mg_fail(MG_ERR_CONFIG, "map2d: box is not finite");
    int bs;
    if ((st = probe_batch(m, 0, &bs))) return st;
    const int C = mg_model_classes(m);
    float *pts = malloc(sizeof(float) * 2 * (size_t)bs);
    if (!pts) return mg_fail(MG_ERR_NOMEM, "map2d: out of memory");
    const int64_t total = (int64_t)nx * ny;
    for (int64_t i0 = 0; i0 < total; i0 += bs) {
        int bn = total - i0 < bs ? (int)(total - i0) : bs;
        for (int r = 0; r < bn; r++) {
            int64_t g = i0 + r;
            int ix = (int)(g % nx), iy = (int)(g / nx);
            pts[2 * r] = (float)(box[0] + ix * (box[1] - box[0]) / (nx - 1));
            pts[2 * r + 1] = (float)(box[2] + iy * (box[3] - box[2]) / (ny - 1));
        }
        const float *z = mg_model_forward(m, k, pts, bn, 0, NULL, NULL);
        for (int r = 0; r < bn; r++) {
            const float *zr = z + (size_t)r * C;
            int a = argmax_f(zr, C);
            if (cls) cls[i0 + r] = a;
            if (conf) conf[i0 + r] = (float)exp((double)zr[a] - lse_row(zr, C));
        }
    }
    free(pts);
    return MG_OK;
}

mg_status mg_uniform_states(mg_model *m, const float *lo, const float *hi, int n, int k,
                            mg_rng *rng, float *x, float *states)
{
    MG_ASSERT(m && lo && hi && rng && n >= 0);
    mg_status st = check_layer(m, k, 1, "uniform states");
    if (st) return st;
    int bs;
    if ((st = probe_batch(m, 0, &bs))) return st;
    const int dim = mg_model_dim(m, 0), dk = mg_model_dim(m, k);
    float *xb = malloc(sizeof(float) * (size_t)bs * dim);
    if (!xb) return mg_fail(MG_ERR_NOMEM, "uniform states: out of memory");
    for (int i = 0; i < n; i += bs) {
        int bn = n - i < bs ? n - i : bs;
        for (int r = 0; r < bn; r++)
            for (int f = 0; f < dim; f++)
                xb[(size_t)r * dim + f] =
                    (float)(lo[f] + ((double)hi[f] - lo[f]) * mg_rng_uniform(rng));
        if (x) memcpy(x + (size_t)i * dim, xb, sizeof(float) * (size_t)bn * dim);
        if (states) {
            mg_model_forward(m, 0, xb, bn, 0, NULL, NULL);
            memcpy(states + (size_t)i * dk, mg_model_state(m, k), sizeof(float) * bn * dk);
        }
    }
    free(xb);
    return MG_OK;
}
