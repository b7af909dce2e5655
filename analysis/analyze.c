/* analyze.c - the registry of analyses, the selection of examples, the one
 * pass over their states and the driver that runs the analyses (analyze.h).
 * The analyses themselves are in an_*.c (an_internal.h). */
#include "an_internal.h"

#include <limits.h>
#include <math.h>
#include <nettle/sha2.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ================================================================ registry */

const mg_analysis_info mg_analysis_infos[MG_AN_COUNT] = {
    {"spectra", 0, 0,
     "per-class singular values, centred and uncentred, pooled within-class\n"
     "and total; s1, sum of the rest, s_k/s1, effective rank, participation\n"
     "ratio, stable rank, k at 90/95/99%, numerical ranks"},
    {"corollary", 0, 0,
     "Corollary 1: predicted per-class dim max(0, dim - d + 1) beside the\n"
     "measured ranks; readout leakage; affine dim of the class means"},
    {"theory", 0, 0,
     "Theorem 1: affine least-squares fit (dgelsd) of the labels on the\n"
     "states, and its mixup squared error over a lambda grid"},
    {"margins", 0, MG_NEED_READOUT,
     "exact margin at the input of the final dense layer (layer L-1 of an\n"
     "MLP, the pooled features of a PreActResNet), DeepFool in input space,\n"
     "first crossings along segments between differently classified points"},
    {"confidence", 0, MG_NEED_READOUT,
     "interpolation paths at layer K; off-manifold uniform box and noise"},
    {"calibration", 0, MG_NEED_LOGITS, "ECE, MCE, overconfidence, NLL, Brier, reliability diagram"},
    {"collapse", 0, MG_NEED_READOUT,
     "neural collapse NC1-NC4 on the features entering the final dense layer"},
    {"fgsm", 0, MG_NEED_MODEL, "accuracy under one-step FGSM over an epsilon grid"},
    {"maps", MG_NEED_2D, MG_NEED_MODEL,
     "2-D input: decision/confidence map; 2-D layer K: hidden-space map"},
    {"dimension", 0, 0,
     "TwoNN intrinsic dimension (Facco et al. 2017) per class and pooled\n"
     "(--twonn-discard, --twonn-max)"},
};

int mg_analysis_find(const char *name)
{
    for (int a = 0; a < MG_AN_COUNT; a++)
        if (strcmp(name, mg_analysis_infos[a].name) == 0) return a;
    return -1;
}

mg_status mg_analysis_parse_list(const char *list, int want[MG_AN_COUNT], int *named)
{
    char buf[1024];
    if (strlen(list) >= sizeof buf) return mg_fail(MG_ERR_CONFIG, "list too long");
    snprintf(buf, sizeof buf, "%s", list);
    memset(want, 0, sizeof(int) * MG_AN_COUNT);
    *named = 0;
    int any = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        size_t l = strlen(tok);
        while (l > 0 && tok[l - 1] == ' ') tok[--l] = '\0';
        if (l == 0) continue;
        any = 1;
        if (strcmp(tok, "all") == 0) {
            for (int a = 0; a < MG_AN_COUNT; a++) want[a] = 1;
            continue;
        }
        int found = mg_analysis_find(tok);
        if (found < 0) {
            char names[256] = "";
            for (int a = 0; a < MG_AN_COUNT; a++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                         a ? "," : "", mg_analysis_infos[a].name);
            return mg_fail(MG_ERR_CONFIG, "unknown analysis '%s' (expected all or names from %s)",
                           tok, names);
        }
        want[found] = 1;
        *named = 1;
    }
    if (!any) return mg_fail(MG_ERR_CONFIG, "empty list");
    return MG_OK;
}

/* ================================================================ options, selection */

mg_analyze_config mg_analyze_config_default(void)
{
    mg_analyze_config c;
    memset(&c, 0, sizeof c);
    for (int a = 0; a < MG_AN_COUNT; a++) c.want[a] = 1;
    c.max_per_class = -1;
    c.bins = 15;
    c.hist_bins = 40;
    c.lambdas = 21;
    c.pairs = -1;
    c.max_examples = -1;
    static const double eps[6] = {0, 0.01, 0.02, 0.05, 0.1, 0.2};
    memcpy(c.eps, eps, sizeof eps);
    c.n_eps = 6;
    c.grid = 200;
    c.n_uniform = 1000;
    c.n_noise = 1000;
    c.threads = 1;
    c.twonn_discard = 0.1;
    c.twonn_max = 5000;
    return c;
}

int mg_an_model_wide(const mg_model *m, int k)
{
    int L = mg_model_n_blocks(m);
    return mg_model_dim(m, k) > MG_AN_WIDE_DIM || (L >= 1 && mg_model_dim(m, L - 1) > MG_AN_WIDE_DIM);
}

int mg_an_resolve_max_per_class(int max_per_class, int wide)
{
    if (max_per_class >= 0) return max_per_class;
    return wide ? MG_AN_WIDE_MAX_PER_CLASS : 0;
}

int64_t mg_an_select(const int32_t *y, int64_t n, int classes, int max_per_class, int64_t *idx,
                     int *counts)
{
    memset(counts, 0, sizeof(int) * (size_t)classes);
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        MG_ASSERT(y[i] >= 0 && y[i] < classes);
        if (max_per_class > 0 && counts[y[i]] >= max_per_class) continue;
        counts[y[i]]++;
        idx[m++] = i;
    }
    return m;
}

/* ================================================================ helpers */

void mg_an_progress(const mg_an_ctx *x, const char *fmt, ...)
{
    if (!x->cfg->progress) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    x->cfg->progress(x->cfg->user, buf);
}

int mg_an_stopped(const mg_an_ctx *x)
{
    return x->cfg->stop && x->cfg->stop(x->cfg->user);
}

double *mg_an_alloc_d(size_t n)
{
    return malloc(sizeof(double) * (n ? n : 1));
}

int mg_an_argmax(const float *z, int C)
{
    int a = 0;
    for (int j = 1; j < C; j++)
        if (z[j] > z[a]) a = j;
    return a;
}

int *mg_an_random_subset(mg_rng *rng, int n, int m)
{
    int *perm = malloc(sizeof(int) * ((size_t)n + 1));
    if (!perm) return NULL;
    mg_rng_permutation(rng, perm, n);
    /* sort the first m (counting sort over a mark array) */
    unsigned char *mark = calloc((size_t)n + 1, 1);
    if (!mark) {
        free(perm);
        return NULL;
    }
    for (int i = 0; i < m; i++) mark[perm[i]] = 1;
    int o = 0;
    for (int i = 0; i < n; i++)
        if (mark[i]) perm[o++] = i;
    free(mark);
    return perm;
}

double mg_an_mean(const double *v, int n)
{
    if (n <= 0) return NAN;
    double s = 0;
    for (int i = 0; i < n; i++) s += v[i];
    return s / n;
}

void mg_an_cols_add(mg_an_cols *c, const char *fmt, int i)
{
    MG_ASSERT(c->n < MG_AN_MAX_COLS);
    snprintf(c->store[c->n], sizeof c->store[c->n], fmt, i);
    c->names[c->n] = c->store[c->n];
    c->n++;
}

mg_status mg_file_sha256(const char *path, char hex[65])
{
    FILE *f = fopen(path, "rb");
    if (!f) return mg_fail(MG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    unsigned char buf[1 << 16];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) sha256_update(&ctx, got, buf);
    int bad = ferror(f);
    fclose(f);
    if (bad) return mg_fail(MG_ERR_IO, "%s: read error", path);
    unsigned char d[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, sizeof d, d);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return MG_OK;
}

/* ================================================================ the pass over a run */

typedef struct {
    mg_an_ctx *x;
    mg_spectra_acc *acc;
    int done;
    int feat_layer; /* layer whose output is the readout's input, -1: none */
} an_pass;

static mg_status run_pass_cb(void *user, const float *states, const int32_t *y,
                             const float *logits, int n)
{
    an_pass *p = user;
    mg_an_ctx *x = p->x;
    if (mg_an_stopped(x)) return mg_fail(MG_ERR_INTERRUPTED, "interrupted");
    if (p->acc) {
        mg_status st = mg_spectra_acc_add(p->acc, states, y, n);
        if (st != MG_OK) return st;
    }
    size_t o = (size_t)p->done;
    if (x->Hk) memcpy(x->Hk + o * x->dk, states, sizeof(float) * (size_t)n * x->dk);
    if (x->Hp && x->Hp != x->Hk)
        memcpy(x->Hp + o * x->dp, mg_model_state(x->m, x->pen), sizeof(float) * (size_t)n * x->dp);
    if (p->feat_layer >= 0)
        memcpy(x->feat + o * x->df, mg_model_layer_output(x->m, p->feat_layer),
               sizeof(float) * (size_t)n * x->df);
    memcpy(x->logits + o * x->C, logits, sizeof(float) * (size_t)n * x->C);
    for (int i = 0; i < n; i++) x->pred[o + i] = mg_an_argmax(logits + (size_t)i * x->C, x->C);
    p->done += n;
    mg_an_progress(x, "analyze: forward pass %d/%d", p->done, x->n);
    return MG_OK;
}

/* max over examples and classes of |feat W^T + b - logits| / (1 + |logits|) */
static double readout_check(const mg_an_ctx *x)
{
    double worst = 0;
    for (int i = 0; i < x->n; i++)
        for (int j = 0; j < x->C; j++) {
            double z = x->b ? x->b[j] : 0.0;
            for (int f = 0; f < x->df; f++)
                z += (double)x->W[(size_t)j * x->df + f] * x->feat[(size_t)i * x->df + f];
            double zl = x->logits[(size_t)i * x->C + j];
            worst = fmax(worst, fabs(z - zl) / (1.0 + fabs(zl)));
        }
    return worst;
}

/* The readout of a run: the final dense layer, whose input (x->feat) is
 *  - the layer L-1 states when the last block is that dense layer alone
 *    (MLPs): feat = Hp;
 *  - else (a PreActResNet: BN-ReLU, global average pooling, dense) the output
 *    of the layer before it, read from the forward pass (*feat_layer). */
static mg_status run_readout(mg_an_ctx *x, int need_feat, int *feat_layer)
{
    mg_model *m = x->m;
    const int nl = mg_model_n_layers(m);
    mg_layer_info li = mg_model_layer(m, nl - 1);
    *feat_layer = -1;
    if (li.kind != MG_LAYER_DENSE || li.out != x->C) return MG_OK;
    x->W = li.W;
    x->b = li.b;
    if (!need_feat) return MG_OK;
    if (mg_model_block_first_layer(m, x->L) == nl - 1 && li.in == x->dp) {
        x->feat = x->Hp;
        x->df = x->dp;
        x->feat_what = "the states at layer L-1 (the last block is the dense readout alone)";
        return MG_OK;
    }
    x->df = li.in;
    x->feat = malloc(sizeof(float) * (size_t)x->n * li.in + 1);
    if (!x->feat) return mg_fail(MG_ERR_NOMEM, "out of memory (%d x %d features)", x->n, li.in);
    x->feat_own = 1;
    x->feat_checked = 1;
    x->feat_what = "the input of the final dense layer (the last block's layers before it - "
                   "BN-ReLU and global average pooling of layer L-1 - read out exactly by "
                   "forward passes through an identity readout)";
    *feat_layer = nl - 2;
    return MG_OK;
}

static mg_status run_pass(mg_an_ctx *x)
{
    int need_spec = x->want[MG_AN_SPECTRA] || x->want[MG_AN_COROLLARY];
    int need_hk = x->want[MG_AN_THEORY] || x->want[MG_AN_DIMENSION] ||
                  (x->want[MG_AN_MAPS] && x->dk == 2 && x->k > 0);
    int need_hp = x->want[MG_AN_MARGINS] || x->want[MG_AN_COLLAPSE];
    size_t n = (size_t)x->n;
    mg_status st = MG_OK;
    an_pass p = {x, NULL, 0, -1};
    x->logits = malloc(sizeof(float) * n * x->C);
    x->pred = malloc(sizeof(int32_t) * n);
    if (!x->logits || !x->pred) return mg_fail(MG_ERR_NOMEM, "out of memory (%d logits)", x->n);
    x->logits_from = 1;
    if (need_hk) {
        x->Hk = malloc(sizeof(float) * n * x->dk);
        if (!x->Hk)
            return mg_fail(MG_ERR_NOMEM,
                           "out of memory keeping %d x %d states (try --max-per-class)", x->n,
                           x->dk);
    }
    if (need_hp) {
        if (x->pen == x->k && x->Hk) {
            x->Hp = x->Hk;
        } else {
            x->Hp = malloc(sizeof(float) * n * x->dp);
            if (!x->Hp)
                return mg_fail(MG_ERR_NOMEM,
                               "out of memory keeping %d x %d states (try --max-per-class)", x->n,
                               x->dp);
        }
    }
    if ((st = run_readout(x, need_hp, &p.feat_layer)) != MG_OK) return st;
    if (need_spec) {
        /* qr-stream for MLP widths, rows for wide layers; never more than
         * max_per_class rows of a class reach the accumulator */
        mg_spectra_config sc = mg_spectra_config_default();
        sc.max_rows_per_class = x->max_per_class;
        if ((st = mg_spectra_acc_create_cfg(x->C, x->dk, &sc, &p.acc)) != MG_OK) return st;
    }
    st = mg_states_foreach(x->m, x->d, x->k, 0, 0, run_pass_cb, &p);
    if (st == MG_OK && p.acc) {
        mg_an_progress(x, "analyze: spectra of %d x %d states (%s)", x->n, x->dk,
                       mg_spectra_mode_name(mg_spectra_acc_mode(p.acc)));
        st = mg_spectra_acc_finish(p.acc, &x->spec);
    }
    mg_spectra_acc_free(p.acc);
    if (st == MG_OK && x->feat_own) {
        /* self-check: the readout applied to the features gives the logits of
         * the forward pass (up to the order of float sums) */
        x->feat_check = readout_check(x);
        if (!(x->feat_check < 1e-3))
            return mg_fail(MG_ERR_NUMERIC,
                           "internal check failed: the features read out at the final dense "
                           "layer do not reproduce the logits (relative difference %.3g)",
                           x->feat_check);
    }
    if (!need_hp) { /* the readout is only kept for the analyses of the features */
        x->W = NULL;
        x->b = NULL;
    }
    return st;
}

/* ================================================================ the pass over external states */

#define EXT_BLOCK 1024

static mg_status ext_rows(const mg_an_ctx *x, const int64_t *idx, int64_t m, float *dst)
{
    const mg_analysis_input *in = x->in;
    if (in->states) {
        for (int64_t i = 0; i < m; i++)
            memcpy(dst + (size_t)i * in->p, in->states + (size_t)idx[i] * in->p,
                   sizeof(float) * (size_t)in->p);
        return MG_OK;
    }
    return in->read_rows(in->rows_user, idx, m, dst);
}

static mg_status ext_pass(mg_an_ctx *x)
{
    const mg_analysis_input *in = x->in;
    const int p = x->dk, C = x->C, n = x->n;
    int need_spec = x->want[MG_AN_SPECTRA] || x->want[MG_AN_COROLLARY];
    /* the states are kept when an analysis needs them all: theory, and the
     * readout analyses (margins, collapse, confidence use them as the
     * readout's input) */
    int need_h = x->want[MG_AN_THEORY] || x->want[MG_AN_MARGINS] || x->want[MG_AN_COLLAPSE] ||
                 x->want[MG_AN_CONFIDENCE] || x->want[MG_AN_DIMENSION];
    int bs = p > MG_AN_WIDE_DIM ? MG_AN_WIDE_BATCH : EXT_BLOCK;
    mg_status st = MG_OK;
    mg_spectra_acc *acc = NULL;
    float *blk = NULL;
    int32_t *yb = NULL;
    if (need_h) {
        x->Hk = malloc(sizeof(float) * (size_t)n * p + 1);
        if (!x->Hk)
            return mg_fail(MG_ERR_NOMEM,
                           "out of memory keeping %d x %d states (try --max-per-class)", n, p);
    }
    if (x->want[MG_AN_CALIBRATION] || x->want[MG_AN_COLLAPSE] || x->want[MG_AN_MARGINS] ||
        x->want[MG_AN_CONFIDENCE]) {
        if (in->logits || x->m) {
            x->logits = malloc(sizeof(float) * (size_t)n * C);
            x->pred = malloc(sizeof(int32_t) * (size_t)n);
            if (!x->logits || !x->pred) return mg_fail(MG_ERR_NOMEM, "out of memory (logits)");
            x->logits_from = in->logits ? 2 : 3;
        }
    }
    if (need_spec) {
        mg_spectra_config sc = mg_spectra_config_default();
        sc.max_rows_per_class = x->max_per_class;
        if ((st = mg_spectra_acc_create_cfg(C, p, &sc, &acc)) != MG_OK) return st;
    }
    blk = x->Hk ? NULL : malloc(sizeof(float) * (size_t)bs * p);
    yb = malloc(sizeof(int32_t) * (size_t)bs);
    if ((!x->Hk && !blk) || !yb) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory");
        goto done;
    }
    int64_t bad = 0, bad_row = -1;
    int bad_col = -1;
    for (int i0 = 0; i0 < n; i0 += bs) {
        if (mg_an_stopped(x)) {
            st = mg_fail(MG_ERR_INTERRUPTED, "interrupted");
            goto done;
        }
        int m = n - i0 < bs ? n - i0 : bs;
        float *rows = x->Hk ? x->Hk + (size_t)i0 * p : blk;
        if ((st = ext_rows(x, x->idx + i0, m, rows)) != MG_OK) goto done;
        int64_t bad0 = bad;
        for (size_t e = 0; e < (size_t)m * p; e++)
            if (!isfinite(rows[e])) {
                if (bad++ == 0) {
                    bad_row = x->idx[i0 + (int64_t)(e / p)];
                    bad_col = (int)(e % p);
                }
            }
        for (int i = 0; i < m; i++) yb[i] = x->y[i0 + i];
        if (acc && bad0 == 0 && bad == 0 && (st = mg_spectra_acc_add(acc, rows, yb, m)) != MG_OK)
            goto done;
        if (x->logits && bad == 0) {
            float *z = x->logits + (size_t)i0 * C;
            if (in->logits) {
                for (int i = 0; i < m; i++)
                    memcpy(z + (size_t)i * C, in->logits + (size_t)x->idx[i0 + i] * C,
                           sizeof(float) * C);
            } else {
                for (int j0 = 0; j0 < m; j0 += mg_model_max_batch(x->m)) {
                    int mm = m - j0 < mg_model_max_batch(x->m) ? m - j0 : mg_model_max_batch(x->m);
                    const float *zz =
                        mg_model_forward(x->m, 0, rows + (size_t)j0 * p, mm, 0, NULL, NULL);
                    memcpy(z + (size_t)j0 * C, zz, sizeof(float) * (size_t)mm * C);
                }
            }
            for (int i = 0; i < m; i++)
                x->pred[i0 + i] = mg_an_argmax(z + (size_t)i * C, C);
        }
        mg_an_progress(x, "analyze: states %d/%d", i0 + m, n);
    }
    if (bad > 0) {
        st = mg_fail(MG_ERR_FORMAT,
                     "%s: %lld non-finite values (NaN or Inf) among the analysed states, the "
                     "first at row %lld, feature %d: refused",
                     in->name ? in->name : "states", (long long)bad, (long long)bad_row, bad_col);
        goto done;
    }
    if (acc) {
        mg_an_progress(x, "analyze: spectra of %d x %d states (%s)", n, p,
                       mg_spectra_mode_name(mg_spectra_acc_mode(acc)));
        if ((st = mg_spectra_acc_finish(acc, &x->spec)) != MG_OK) goto done;
    }
    if (x->W && x->Hk) {
        x->feat = x->Hk;
        x->df = p;
        x->feat_what = "the given states (the input of the given readout W, b)";
        if (in->logits && x->logits) {
            x->feat_check = readout_check(x);
            x->feat_checked = 1;
        }
    }
done:
    mg_spectra_acc_free(acc);
    free(blk);
    free(yb);
    return st;
}

/* ================================================================ the driver */

typedef mg_status (*an_fn)(mg_an_ctx *x, cJSON *sec);
static const an_fn k_fns[MG_AN_COUNT] = {mg_an_spectra,  mg_an_corollary,  mg_an_theory,
                                         mg_an_margins,  mg_an_confidence, mg_an_calibration,
                                         mg_an_collapse, mg_an_fgsm,       mg_an_maps,
                                         mg_an_dimension};

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void ctx_free(mg_an_ctx *x)
{
    mg_spectra_result_free(x->spec);
    if (x->feat_own) free(x->feat);
    if (x->Hp != x->Hk) free(x->Hp);
    free(x->Hk);
    free(x->logits);
    free(x->pred);
    free(x->class_counts);
    free(x->idx);
    free(x->y_own);
    mg_dataset_free(x->subset);
    mg_model_free(x->own_model);
    cJSON_Delete(x->root);
    cJSON_Delete(x->rep.files);
}

/* Why analysis a cannot run on this input (NULL: it can). */
static const char *cannot_run(const mg_an_ctx *x, int a)
{
    const mg_analysis_input *in = x->in;
    if (!x->external) {
        if (a == MG_AN_MAPS && !(x->d0 == 2 || (x->dk == 2 && x->k > 0)))
            return "needs a 2-D input or a 2-D layer";
        return NULL;
    }
    unsigned need = mg_analysis_infos[a].needs_ext;
    if (need & MG_NEED_MODEL) return "needs the network (a mixgeo run), not external states";
    if ((need & MG_NEED_READOUT) && !in->W) return "needs the readout W (and b) of the states";
    if ((need & MG_NEED_LOGITS) && !in->logits && !in->W)
        return "needs the logits (or the readout W, b to compute them)";
    return NULL;
}

/* Check the input and fill the sizes of x; MG_ERR_CONFIG / MG_ERR_FORMAT. */
static mg_status check_input(mg_an_ctx *x)
{
    const mg_analysis_input *in = x->in;
    if (in->model) {
        mg_model *m = in->model;
        x->m = m;
        x->L = mg_model_n_blocks(m);
        if (in->layer < 0 || in->layer > x->L)
            return mg_fail(MG_ERR_CONFIG, "layer %d outside 0..%d", in->layer, x->L);
        x->k = in->layer;
        x->layer_out = x->k;
        x->pen = x->L - 1;
        x->C = mg_model_classes(m);
        x->d0 = mg_model_dim(m, 0);
        x->dk = mg_model_dim(m, x->k);
        x->dp = mg_model_dim(m, x->pen);
        if (!in->data || in->data->n < 1) return mg_fail(MG_ERR_CONFIG, "no examples to analyse");
        if (in->data->dim != x->d0)
            return mg_fail(MG_ERR_CONFIG, "the data has %d features, the model %s expects %d",
                           in->data->dim, mg_model_arch(m), x->d0);
        for (int i = 0; i < in->data->n; i++)
            if (in->data->y[i] < 0 || in->data->y[i] >= x->C)
                return mg_fail(MG_ERR_CONFIG,
                               "label %d of example %d is outside the model's classes 0..%d",
                               (int)in->data->y[i], i, x->C - 1);
        return MG_OK;
    }
    x->external = 1;
    x->layer_out = -1;
    const char *nm = in->name ? in->name : "states";
    if (in->n < 1) return mg_fail(MG_ERR_CONFIG, "%s: no examples", nm);
    if (in->n > INT_MAX) return mg_fail(MG_ERR_CONFIG, "%s: more than %d examples", nm, INT_MAX);
    if (in->p < 1) return mg_fail(MG_ERR_CONFIG, "%s: no features", nm);
    if (!in->states && !in->read_rows) return mg_fail(MG_ERR_CONFIG, "%s: no states given", nm);
    if (!in->labels) return mg_fail(MG_ERR_CONFIG, "%s: no labels given", nm);
    if ((in->logits || in->W) && in->classes < 2)
        return mg_fail(MG_ERR_CONFIG, "logits or a readout need classes >= 2 (got %d)",
                       in->classes);
    int32_t ymax = -1;
    for (int64_t i = 0; i < in->n; i++) {
        if (in->labels[i] < 0)
            return mg_fail(MG_ERR_FORMAT, "label %d at index %lld: labels must be >= 0",
                           (int)in->labels[i], (long long)i);
        if (in->labels[i] > ymax) ymax = in->labels[i];
    }
    int C = in->classes > 0 ? in->classes : (int)ymax + 1;
    if (ymax >= C)
        return mg_fail(MG_ERR_FORMAT,
                       "label %d is outside the %d classes of the %s (labels must be 0..%d)",
                       (int)ymax, C, in->logits ? "logits" : "readout", C - 1);
    if (C < 2) return mg_fail(MG_ERR_CONFIG, "%s: the labels hold one class (need >= 2)", nm);
    if (in->logits)
        for (size_t i = 0; i < (size_t)in->n * C; i++)
            if (!isfinite(in->logits[i]))
                return mg_fail(MG_ERR_FORMAT,
                               "logits: a non-finite value at row %lld, class %d: refused",
                               (long long)(i / C), (int)(i % C));
    if (in->W) {
        for (size_t i = 0; i < (size_t)C * in->p; i++)
            if (!isfinite(in->W[i]))
                return mg_fail(MG_ERR_FORMAT, "readout W: a non-finite value: refused");
        if (in->b)
            for (int i = 0; i < C; i++)
                if (!isfinite(in->b[i]))
                    return mg_fail(MG_ERR_FORMAT, "readout b: a non-finite value: refused");
    }
    x->C = C;
    x->k = 0;
    x->L = 1;
    x->pen = 0;
    x->d0 = x->dk = x->dp = in->p;
    return MG_OK;
}

/* The readout model of external states: one dense layer p -> C with W, b. */
static mg_status make_readout_model(mg_an_ctx *x, int batch)
{
    const mg_analysis_input *in = x->in;
    char arch[64];
    snprintf(arch, sizeof arch, "%d-%d", in->p, x->C);
    mg_arch_opts o = mg_arch_opts_default();
    mg_rng rng;
    mg_rng_seed(&rng, 0);
    mg_status st = mg_model_create(arch, &o, &rng, &x->own_model);
    if (st != MG_OK) return st;
    mg_model *m = x->own_model;
    mg_layer_info li = mg_model_layer(m, 0);
    MG_ASSERT(li.kind == MG_LAYER_DENSE && li.in == in->p && li.out == x->C);
    float *params = mg_model_params(m);
    float *Wp = params + (li.W - params);
    memcpy(Wp, in->W, sizeof(float) * (size_t)x->C * in->p);
    for (int j = 0; j < x->C; j++) Wp[(size_t)x->C * in->p + j] = in->b ? in->b[j] : 0.0f;
    x->m = m;
    x->W = li.W;
    x->b = li.b;
    return mg_model_reserve(m, batch);
}

static void provenance_line(mg_an_ctx *x, const char *git)
{
    const mg_analysis_input *in = x->in;
    const mg_analyze_config *cfg = x->cfg;
    char mpc[32];
    if (x->max_per_class > 0) snprintf(mpc, sizeof mpc, "%d", x->max_per_class);
    else snprintf(mpc, sizeof mpc, "all");
    char pv[2048];
    if (cfg->provenance)
        snprintf(pv, sizeof pv, "%s", cfg->provenance);
    else
        snprintf(pv, sizeof pv, "# mixgeo %s seed=%llu git=%s blas=%s", MG_VERSION_STRING,
                 (unsigned long long)x->seed, git, mg_blas_core());
    if (!x->external)
        snprintf(x->rep.provenance, sizeof x->rep.provenance,
                 "%s run=%s split=%s layer=%d n=%d max_per_class=%s", pv, in->run, in->split,
                 x->k, x->n, mpc);
    else
        snprintf(x->rep.provenance, sizeof x->rep.provenance, "%s states=%s n=%d max_per_class=%s",
                 pv, in->name ? in->name : "(array)", x->n, mpc);
}

static void figure_label(mg_an_ctx *x)
{
    const mg_analysis_input *in = x->in;
    char base[1024];
    snprintf(base, sizeof base, "%s", x->external ? (in->name ? in->name : "states") : in->run);
    size_t bl = strlen(base);
    while (bl > 1 && base[bl - 1] == '/') base[--bl] = '\0';
    const char *slash = strrchr(base, '/');
    const char *bn = slash && slash[1] ? slash + 1 : base;
    if (x->external)
        snprintf(x->rep.label, sizeof x->rep.label, "%s, %d states", bn, x->n);
    else
        snprintf(x->rep.label, sizeof x->rep.label, "%s, %s, layer %d (%s)", bn, in->split, x->k,
                 mg_mix_mode_name(in->mix));
}

static mg_status source_json(mg_an_ctx *x, cJSON *root)
{
    const mg_analysis_input *in = x->in;
    cJSON *src = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "source", src);
    cJSON_AddStringToObject(src, "kind", "states");
    cJSON *files = cJSON_CreateArray();
    cJSON_AddItemToObject(src, "files", files);
    for (int i = 0; i < in->n_files; i++) {
        const mg_input_file *f = &in->files[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(files, o);
        cJSON_AddStringToObject(o, "role", f->role ? f->role : "");
        if (f->path) {
            char hex[65];
            mg_an_progress(x, "analyze: sha256 of %s", f->path);
            mg_status st = mg_file_sha256(f->path, hex);
            if (st != MG_OK) return st;
            cJSON_AddStringToObject(o, "path", f->path);
            cJSON_AddStringToObject(o, "sha256", hex);
        } else {
            cJSON_AddStringToObject(o, "path", "(in-memory array)");
        }
        if (f->dtype) cJSON_AddStringToObject(o, "dtype", f->dtype);
        cJSON *sh = cJSON_CreateArray();
        for (int d = 0; d < f->ndim && d < 8; d++)
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)f->shape[d]));
        cJSON_AddItemToObject(o, "shape", sh);
    }
    cJSON_AddStringToObject(src, "note",
                            "external states: every example flattened to one row (C order of "
                            "its axes), analysed in float32; logits and readout as given "
                            "(logits computed as W h + b when only the readout is given)");
    return MG_OK;
}

static void choices_json(mg_an_ctx *x, cJSON *root)
{
    const mg_analysis_input *in = x->in;
    const mg_analyze_config *cfg = x->cfg;
    cJSON *ch = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "choices", ch);
    if (!x->external) {
        cJSON_AddNumberToObject(ch, "layer", x->k);
        cJSON_AddStringToObject(ch, "split", in->split);
    }
    if (x->max_per_class > 0) cJSON_AddNumberToObject(ch, "max_per_class", x->max_per_class);
    else cJSON_AddStringToObject(ch, "max_per_class", "all");
    if (cfg->max_per_class < 0)
        cJSON_AddStringToObject(ch, "max_per_class_rule",
                                x->max_per_class > 0
                                    ? "auto: 300 because layer K or layer L-1 has more than "
                                      "2048 features"
                                    : "auto: all (layers K and L-1 have at most 2048 "
                                      "features)");
    else
        cJSON_AddStringToObject(ch, "max_per_class_rule", "given (--max-per-class)");
    cJSON_AddNumberToObject(ch, "batch",
                            x->external ? (x->dk > MG_AN_WIDE_DIM ? MG_AN_WIDE_BATCH : EXT_BLOCK)
                                        : mg_model_max_batch(x->m));
    cJSON_AddStringToObject(ch, "selection", "the first max_per_class examples of each class "
                                             "in dataset order");
    cJSON_AddItemToObject(ch, "n_per_class", mg_json_ints(x->class_counts, x->C));
    cJSON_AddNumberToObject(ch, "seed", (double)x->seed);
    cJSON_AddStringToObject(ch, "centring",
                            "spectra: per class both centred on the class mean and "
                            "uncentred; pooled within-class (each class on its own mean) "
                            "and pooled total (overall mean)");
    cJSON *tol = cJSON_CreateObject();
    cJSON_AddStringToObject(tol, "rank_eps_rule", "#{s_k > s1 * max(n, p) * FLT_EPSILON}");
    cJSON_AddNumberToObject(tol, "flt_epsilon", MG_RANK_EPS);
    static const double rel[2] = {1e-2, 1e-3};
    cJSON_AddItemToObject(tol, "rank_rel", mg_json_doubles(rel, 2));
    cJSON_AddStringToObject(tol, "affine_fit_rcond", "max(n, p + 1) * FLT_EPSILON");
    cJSON_AddItemToObject(ch, "tolerances", tol);
    cJSON_AddNumberToObject(ch, "bins", x->bins);
    cJSON_AddNumberToObject(ch, "hist_bins", x->hist_bins);
    cJSON_AddNumberToObject(ch, "lambdas", x->lambdas);
    cJSON_AddNumberToObject(ch, "pairs", x->pairs);
    cJSON_AddNumberToObject(ch, "max_examples", x->max_examples);
    cJSON_AddItemToObject(ch, "eps", mg_json_doubles(x->eps, x->n_eps));
    cJSON_AddBoolToObject(ch, "fgsm_no_clip", x->no_clip);
    cJSON_AddNumberToObject(ch, "grid", x->grid);
    cJSON_AddNumberToObject(ch, "n_uniform", x->n_uniform);
    cJSON_AddNumberToObject(ch, "n_noise", x->n_noise);
    cJSON_AddNumberToObject(ch, "threads", cfg->threads);
    if (x->want[MG_AN_DIMENSION]) {
        cJSON_AddNumberToObject(ch, "twonn_discard", cfg->twonn_discard);
        cJSON_AddNumberToObject(ch, "twonn_max", cfg->twonn_max);
    }
    cJSON_AddStringToObject(ch, "rng", "mg_rng_seed3(seed, MG_STREAM_ANALYSIS, 100 + index "
                                       "of the analysis [+100 per further draw])");
}

static mg_status check_config(const mg_analyze_config *c)
{
    if (c->bins < 1) return mg_fail(MG_ERR_CONFIG, "bins must be >= 1");
    if (c->hist_bins < 1) return mg_fail(MG_ERR_CONFIG, "hist_bins must be >= 1");
    if (c->lambdas < 2) return mg_fail(MG_ERR_CONFIG, "lambdas must be >= 2");
    if (c->pairs == 0 || c->pairs < -1) return mg_fail(MG_ERR_CONFIG, "pairs must be >= 1");
    if (c->max_examples == 0 || c->max_examples < -1)
        return mg_fail(MG_ERR_CONFIG, "max_examples must be >= 1");
    if (c->n_eps < 0 || c->n_eps > MG_AN_MAX_EPS)
        return mg_fail(MG_ERR_CONFIG, "at most %d eps values", MG_AN_MAX_EPS);
    if (c->grid < 2) return mg_fail(MG_ERR_CONFIG, "grid must be >= 2");
    if (c->n_uniform < 0 || c->n_noise < 0)
        return mg_fail(MG_ERR_CONFIG, "n_uniform and n_noise must be >= 0");
    if (c->max_per_class < -1) return mg_fail(MG_ERR_CONFIG, "max_per_class must be >= -1");
    if (!(c->twonn_discard >= 0 && c->twonn_discard < 1))
        return mg_fail(MG_ERR_CONFIG, "twonn_discard must lie in [0, 1)");
    if (c->twonn_max < 3) return mg_fail(MG_ERR_CONFIG, "twonn_max must be >= 3");
    return MG_OK;
}

mg_status mg_analyze(const mg_analysis_input *in, const mg_analyze_config *cfg, const char *out,
                     mg_analyze_report *rep)
{
    MG_ASSERT(in && cfg && out);
    mg_an_ctx *x = calloc(1, sizeof *x);
    if (!x) return mg_fail(MG_ERR_NOMEM, "out of memory");
    x->in = in;
    x->cfg = cfg;
    mg_status st = check_config(cfg);
    if (st == MG_OK) st = check_input(x);
    if (st != MG_OK) goto done;
    const char *git = cfg->git ? cfg->git : "unknown";
    x->seed = cfg->seed;
    x->bins = cfg->bins;
    x->hist_bins = cfg->hist_bins;
    x->lambdas = cfg->lambdas;
    x->eps = cfg->eps;
    x->n_eps = cfg->n_eps;
    x->no_clip = cfg->fgsm_no_clip;
    x->grid = cfg->grid;
    x->n_uniform = cfg->n_uniform;
    x->n_noise = cfg->n_noise;
    memcpy(x->want, cfg->want, sizeof x->want);
    int wide = x->dk > MG_AN_WIDE_DIM || x->dp > MG_AN_WIDE_DIM;
    x->pairs = cfg->pairs > 0 ? cfg->pairs : wide ? MG_AN_WIDE_PAIRS : MG_AN_PAIRS;
    x->max_examples = cfg->max_examples > 0 ? cfg->max_examples
                      : wide                ? MG_AN_WIDE_MAX_EXAMPLES
                                            : MG_AN_MAX_EXAMPLES;
    x->max_per_class = mg_an_resolve_max_per_class(cfg->max_per_class, wide);

    /* which analyses can run */
    for (int a = 0; a < MG_AN_COUNT; a++) {
        if (!x->want[a]) continue;
        const char *why = cannot_run(x, a);
        if (!why) continue;
        if (cfg->named) {
            if (!x->external && a == MG_AN_MAPS)
                st = mg_fail(MG_ERR_CONFIG,
                             "maps: needs a 2-D input or a 2-D layer %d (the input has %d "
                             "features, layer %d has %d)",
                             x->k, x->d0, x->k, x->dk);
            else
                st = mg_fail(MG_ERR_CONFIG, "%s: %s", mg_analysis_infos[a].name, why);
            goto done;
        }
        x->want[a] = 0;
    }

    /* the examples */
    int64_t n_in = x->external ? in->n : in->data->n;
    const int32_t *y_in = x->external ? in->labels : in->data->y;
    x->class_counts = calloc((size_t)x->C, sizeof(int));
    x->idx = malloc(sizeof(int64_t) * ((size_t)n_in + 1));
    if (!x->class_counts || !x->idx) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory");
        goto done;
    }
    int64_t kept = mg_an_select(y_in, n_in, x->C, x->max_per_class, x->idx, x->class_counts);
    x->n = (int)kept;
    for (int c = 0; c < x->C; c++)
        if (x->class_counts[c] == 0) {
            st = mg_fail(MG_ERR_CONFIG,
                         "class %d has no examples among the %d analysed (%d classes; every "
                         "class needs at least one)",
                         c, x->n, x->C);
            goto done;
        }
    if (!x->external) {
        if (x->max_per_class > 0) {
            int *ii = malloc(sizeof(int) * ((size_t)x->n + 1));
            if (!ii) {
                st = mg_fail(MG_ERR_NOMEM, "out of memory");
                goto done;
            }
            for (int i = 0; i < x->n; i++) ii[i] = (int)x->idx[i];
            st = mg_dataset_subset(in->data, ii, x->n, &x->subset);
            free(ii);
            if (st != MG_OK) goto done;
            x->d = x->subset;
        } else {
            x->d = in->data;
        }
        x->y = x->d->y;
        int bmax = wide ? MG_AN_WIDE_BATCH : 1024;
        mg_set_threads(cfg->threads);
        st = mg_model_reserve(x->m, x->n < bmax ? x->n : bmax);
        if (st == MG_OK) st = mg_model_set_threads(x->m, cfg->threads);
        if (st != MG_OK) goto done;
    } else {
        x->y_own = malloc(sizeof(int32_t) * ((size_t)x->n + 1));
        if (!x->y_own) {
            st = mg_fail(MG_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (int i = 0; i < x->n; i++) x->y_own[i] = in->labels[x->idx[i]];
        x->y = x->y_own;
        mg_set_threads(cfg->threads);
        if (in->W && (st = make_readout_model(x, x->n < EXT_BLOCK ? x->n : EXT_BLOCK)) != MG_OK)
            goto done;
    }

    /* output directory, provenance, the summary's head */
    if ((st = mg_mkdir_p(out)) != MG_OK) goto done;
    if (strlen(out) >= sizeof x->rep.dir) {
        st = mg_fail(MG_ERR_CONFIG, "output directory name too long");
        goto done;
    }
    snprintf(x->rep.dir, sizeof x->rep.dir, "%s", out);
    provenance_line(x, git);
    figure_label(x);
    x->rep.classes = x->C;
    x->rep.class_names = x->external ? NULL : in->class_names;
    x->rep.method_ls = gp_method_ls(x->external ? MG_MIX_NONE : in->mix);
    x->rep.files = cJSON_CreateArray();
    x->root = cJSON_CreateObject();
    if (!x->rep.files || !x->root) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory");
        goto done;
    }
    cJSON *root = x->root;
    cJSON_AddStringToObject(root, "mixgeo", MG_VERSION_STRING);
    cJSON_AddStringToObject(root, "git", git);
    cJSON_AddStringToObject(root, "blas", mg_blas_core()); /* the LAPACK sums run on it */
    if (!x->external) {
        cJSON_AddStringToObject(root, "run", in->run);
        cJSON_AddStringToObject(root, "checkpoint", in->checkpoint);
        cJSON_AddStringToObject(root, "out", out);
        cJSON_AddStringToObject(root, "arch", mg_model_arch(x->m));
        cJSON_AddStringToObject(root, "mix", mg_mix_mode_name(in->mix));
        cJSON_AddStringToObject(root, "data", in->data_spec);
        cJSON_AddStringToObject(root, "split", in->split);
        cJSON_AddNumberToObject(root, "layer", x->k);
        cJSON_AddNumberToObject(root, "layers", x->L);
    } else {
        if ((st = source_json(x, root)) != MG_OK) goto done;
        cJSON_AddStringToObject(root, "out", out);
        cJSON_AddStringToObject(root, "logits",
                                x->logits_from == 2 || in->logits ? "given"
                                : in->W                           ? "computed: W h + b"
                                                                  : "none");
        cJSON_AddBoolToObject(root, "readout", in->W != NULL);
    }
    cJSON_AddNumberToObject(root, "dim", x->dk);
    cJSON_AddNumberToObject(root, "classes", x->C);
    cJSON_AddNumberToObject(root, "n", x->n);
    choices_json(x, root);
    cJSON *an_list = cJSON_CreateArray();
    cJSON_AddItemToObject(root, "analyses", an_list);
    for (int a = 0; a < MG_AN_COUNT; a++)
        if (x->want[a]) cJSON_AddItemToArray(an_list, cJSON_CreateString(mg_analysis_infos[a].name));
    if (x->external) {
        cJSON *sk = cJSON_CreateObject();
        for (int a = 0; a < MG_AN_COUNT; a++)
            if (!x->want[a] && cfg->want[a])
                cJSON_AddStringToObject(sk, mg_analysis_infos[a].name, cannot_run(x, a));
        cJSON_AddItemToObject(root, "skipped", sk);
    }

    /* the pass */
    double t0 = wall_now();
    clock_t c0 = clock();
    if (x->external) {
        st = ext_pass(x);
        if (st == MG_OK && x->W && x->Hk) {
            x->view = (mg_dataset){x->n, x->dk, x->C, 1, 1, x->dk, x->Hk, (int32_t *)x->y, "states"};
            x->d = &x->view;
        }
    } else {
        st = run_pass(x);
    }
    double t_pass = wall_now() - t0, c_pass = (double)(clock() - c0) / CLOCKS_PER_SEC;
    if (st != MG_OK) goto done;

    cJSON *secs = cJSON_CreateObject();
    cJSON_AddNumberToObject(secs, "forward_pass", t_pass);
    cJSON_AddNumberToObject(secs, "forward_pass_cpu", c_pass); /* all threads */
    for (int a = 0; a < MG_AN_COUNT; a++) {
        if (!x->want[a]) continue;
        if (mg_an_stopped(x)) {
            cJSON_Delete(secs);
            st = mg_fail(MG_ERR_INTERRUPTED, "interrupted");
            goto done;
        }
        double t1 = wall_now();
        mg_an_progress(x, "analyze: %s", mg_analysis_infos[a].name);
        cJSON *sec = cJSON_CreateObject();
        cJSON_AddItemToObject(root, mg_analysis_infos[a].name, sec);
        st = k_fns[a](x, sec);
        if (st != MG_OK) {
            cJSON_Delete(secs);
            goto done;
        }
        double dt = wall_now() - t1;
        if (rep) {
            rep->ran[a] = 1;
            rep->seconds[a] = dt;
            snprintf(rep->line[a], sizeof rep->line[a], "%s", x->line[a]);
        }
        cJSON_AddNumberToObject(secs, mg_analysis_infos[a].name, dt);
    }
    cJSON_AddNumberToObject(secs, "total", wall_now() - t0);
    cJSON_AddItemToObject(root, "seconds", secs);
    cJSON_AddItemToArray(x->rep.files, cJSON_CreateString("summary.json"));
    cJSON_AddItemToObject(root, "files", x->rep.files);
    x->rep.files = NULL; /* owned by root now */
    char sp[4400];
    snprintf(sp, sizeof sp, "%s/summary.json", out);
    if ((st = mg_json_write(sp, root)) != MG_OK) goto done;
    if (rep) {
        rep->pass_seconds = t_pass;
        rep->pass_cpu = c_pass;
        rep->n = x->n;
        rep->p = x->dk;
        rep->classes = x->C;
        rep->layer = x->layer_out;
        snprintf(rep->summary, sizeof rep->summary, "%s", sp);
    }
done:
    ctx_free(x);
    free(x);
    return st;
}

mg_status mg_analyze_arrays(const float *states, int64_t n, int p, const int32_t *labels,
                            const float *logits, int logit_classes, const float *W,
                            const float *b, int readout_classes, const char *only,
                            uint64_t seed, int bins, int max_per_class, const char *out)
{
    if (!states || !labels || !out) return mg_fail(MG_ERR_CONFIG, "states, labels and out are required");
    if (logits && W && logit_classes != readout_classes)
        return mg_fail(MG_ERR_CONFIG, "the logits have %d classes, the readout %d", logit_classes,
                       readout_classes);
    mg_analyze_config cfg = mg_analyze_config_default();
    mg_status st = mg_analysis_parse_list(only ? only : "all", cfg.want, &cfg.named);
    if (st != MG_OK) return st;
    cfg.seed = seed;
    cfg.bins = bins;
    cfg.max_per_class = max_per_class;
    mg_analysis_input in;
    memset(&in, 0, sizeof in);
    in.n = n;
    in.p = p;
    in.states = states;
    in.labels = labels;
    in.logits = logits;
    in.W = W;
    in.b = W ? b : NULL;
    in.classes = logits ? logit_classes : W ? readout_classes : 0;
    in.name = "array";
    mg_input_file f[2] = {{"states", NULL, "<f4", 2, {n, p}}, {"labels", NULL, "<i4", 1, {n}}};
    in.files = f;
    in.n_files = 2;
    return mg_analyze(&in, &cfg, out, NULL);
}
