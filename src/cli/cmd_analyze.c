/* cmd_analyze.c - `mixgeo analyze RUN`: the representation-geometry analyses
 * of a trained run at one layer of one split (PAPER.md sections 2 and 4).
 *
 * The run is opened as `eval` opens it (RUN/config.ini rebuilds the data with
 * the same seeds, validation split and standardisation; RUN/model.ckpt is the
 * model).  One forward pass over the analysed examples streams the states of
 * layer k straight into the per-class spectra accumulator (nothing of size
 * n x p is kept unless an analysis needs it: theory keeps layer k, margins and
 * collapse keep layer L-1) and keeps the logits.  Wide layers (the stage
 * outputs of a convolutional net, thousands of features) are handled with
 * bounded memory: --max-per-class auto keeps 300 examples per class when
 * layer k or layer L-1 has more than 2048 features, the spectra accumulator
 * then keeps the rows and decomposes them at the end (spectra.h, "rows"
 * mode) instead of holding a p x p triangle per class, the affine fit of an
 * underdetermined problem (n < p + 1) works on the n x n triangle of the
 * transpose (theory.h), and the forward batch is smaller.  Then every selected
 * analysis runs and writes, into OUT = RUN/analysis/<split>-L<k>/ (--out):
 *   summary.json  every scalar, every choice (layer, split, n per class,
 *                 centring, tolerances, bins, seed ...), the files written
 *   *.tsv         data: a provenance line, "# columns: ...", numbers "%.9g"
 *   *.gp          one gnuplot script per figure, reading the TSV files by
 *                 relative path (`mixgeo plot OUT` renders them)
 * Every file is written atomically; files of analyses not selected this time
 * are left as they are.  The shared run-opening code (also used by `dump`) is
 * at the top of this file (cli_analysis_open, declared in cli.h).
 */
#include "cli.h"
#include "gp.h"
#include "metrics.h"
#include "probe.h"
#include "spectra.h"
#include "theory.h"

#include <cblas.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ================================================================ opening a run */

static const char *const k_splits[] = {"train", "val", "test", NULL};

/* A layer is wide above AN_WIDE_DIM features; when layer k or layer L-1 is
 * (the model is then "wide", e.g. a PreActResNet), the auto defaults keep
 * memory and time bounded:
 *  --max-per-class auto: AN_WIDE_MAX_PER_CLASS examples per class.  The
 *    exact pooled spectra of N examples cost two dgesdd of N x N triangles
 *    (O(N^3), memory-bound): ~7 s each at N = 3000 but ~26 s at N = 5000 on
 *    this project's 2-core machine; the underdetermined affine fit one more.
 *    For preact:16-32-64x2 on Fashion-MNIST the states of stage 1 are then
 *    10 x 300 x 12544 floats = 151 MB.
 *  --pairs auto, --max-examples auto: AN_WIDE_PAIRS segment/interpolation
 *    pairs and AN_WIDE_MAX_EXAMPLES DeepFool examples (each DeepFool step
 *    is C - 1 backward passes through the whole net).
 *  The forward passes use batches of at most AN_WIDE_BATCH (the activations
 *  of a 1024 batch of that net take ~850 MB). */
#define AN_WIDE_DIM 2048
#define AN_WIDE_MAX_PER_CLASS 300
#define AN_WIDE_PAIRS 200
#define AN_WIDE_MAX_EXAMPLES 200
#define AN_WIDE_BATCH 256

/* 1 when layer k or layer L-1 of m has more than AN_WIDE_DIM features. */
static int an_model_wide(const mg_model *m, int k)
{
    int L = mg_model_n_blocks(m);
    return mg_model_dim(m, k) > AN_WIDE_DIM || (L >= 1 && mg_model_dim(m, L - 1) > AN_WIDE_DIM);
}

void cli_analysis_add_opts(cli_opt *opts, int *n, const char *default_split)
{
    opts[(*n)++] = (cli_opt){"layer", 0, CLI_VALUE, "K", "auto", 0,
                             "the layer: 0 = input, 1..L-1 hidden states after block k, L = "
                             "logits; auto: L-1, the last hidden state",
                             "Selection"};
    opts[(*n)++] = (cli_opt){"split", 0, CLI_VALUE, "train|val|test", default_split, 0,
                             "the split of the run's data", NULL};
    opts[(*n)++] = (cli_opt){"max-per-class", 0, CLI_VALUE, "N|all|auto", "all", 0,
                             "use only the first N examples of each class (in dataset order); "
                             "all: every example; auto: 300 when layer K or layer L-1 has more "
                             "than 2048 features (the stages of a convolutional net), else all",
                             NULL};
    opts[(*n)++] = (cli_opt){"threads", 0, CLI_VALUE, "N", "1", 0,
                             "threads of OpenBLAS and of the image layers' worker team "
                             "(0 = all cores)",
                             NULL};
    cli_add_data_overrides(opts, n, CLI_MAX_OPTS - 24);
}

void cli_analysis_close(cli_analysis_run *r)
{
    mg_model_free(r->m);
    mg_dataset_free(r->subset);
    cli_data_free(&r->data);
    cli_values_free(&r->rv);
    free(r->class_counts);
    memset(r, 0, sizeof *r);
}

/* Parse --max-per-class: "all" -> 0, "auto" -> -1 (resolved once the model
 * is known), else an integer >= 1. */
static int get_max_per_class(const cli_values *ev, int *out)
{
    const char *s = cli_get(ev, "max-per-class");
    if (strcmp(s, "all") == 0) {
        *out = 0;
        return 0;
    }
    if (strcmp(s, "auto") == 0) {
        *out = -1;
        return 0;
    }
    char *end;
    long x = strtol(s, &end, 10);
    if (end == s || *end)
        return cli_bad(ev, "max-per-class",
                       "not an integer (or 'all' for every example, 'auto')");
    if (x < 1 || x > INT_MAX)
        return cli_bad(ev, "max-per-class", "must be >= 1 (use 'all' for every example)");
    *out = (int)x;
    return 0;
}

int cli_analysis_open(cli_analysis_run *r, const char *run, const cli_values *ev,
                      int need_all_classes)
{
    memset(r, 0, sizeof *r);
    cli_values_init(&r->rv, cli_train_opts, cli_train_n_opts);
    int bad = 0, threads = 1, layer = -1, layer_auto = 0;
    bad += cli_get_enum(ev, "split", k_splits, &r->split);
    bad += cli_get_int(ev, "threads", 0, 256, &threads);
    bad += get_max_per_class(ev, &r->max_per_class);
    if (strcmp(cli_get(ev, "layer"), "auto") == 0) layer_auto = 1;
    else bad += cli_get_int(ev, "layer", INT_MIN, INT_MAX, &layer);
    if (bad) return CLI_EXIT_USAGE;
    r->split_name = k_splits[r->split];
    if (strlen(run) >= sizeof r->run) {
        cli_error("%s: run directory name too long", run);
        return CLI_EXIT_USAGE;
    }
    snprintf(r->run, sizeof r->run, "%s", run);
    if (!cli_dir_exists(run)) {
        cli_error("%s: no such run directory", run);
        return CLI_EXIT_USAGE;
    }
    if (cli_run_config_load(&r->rv, run) != 0) return CLI_EXIT_USAGE;
    if (cli_path(r->ckpt, sizeof r->ckpt, run, "model.ckpt") != MG_OK)
        return cli_fail_status(MG_ERR_CONFIG);
    if (!cli_file_exists(r->ckpt)) {
        cli_error("%s: no model checkpoint %s (has the run been trained?)", run, r->ckpt);
        return CLI_EXIT_USAGE;
    }
    for (int i = 0; i < ev->n; i++) {
        if (!(ev->opts[i].flags & CLI_DATA) || !ev->value[i]) continue;
        cli_set_by_name(&r->rv, ev->opts[i].name, ev->value[i], ev->origin[i]);
    }
    cli_set_by_name(&r->rv, "threads", cli_get(ev, "threads"), cli_origin(ev, "threads"));
    if (cli_run_config_resolve(&r->rv, &r->c)) return CLI_EXIT_USAGE;
    mg_set_threads(r->c.train.threads);

    mg_status st = mg_checkpoint_load_model(r->ckpt, &r->m);
    if (st != MG_OK) return cli_fail_status(st);
    int L = mg_model_n_blocks(r->m);
    if (layer_auto) layer = L - 1;
    if (layer < 0 || layer > L) {
        cli_bad(ev, "layer",
                "outside 0..%d (model %s: 0 = input, 1..%d hidden states, %d = logits)", L,
                mg_model_arch(r->m), L - 1, L);
        return CLI_EXIT_USAGE;
    }
    r->layer = layer;
    int wide = an_model_wide(r->m, layer);
    if (r->max_per_class < 0) r->max_per_class = wide ? AN_WIDE_MAX_PER_CLASS : 0;

    st = cli_data_load(&r->c, &r->data);
    if (st != MG_OK) return cli_fail_status(st);
    if (cli_run_config_finish_arch(&r->rv, &r->c, r->data.train)) return CLI_EXIT_USAGE;
    const mg_dataset *set = r->split == 0 ? r->data.train
                            : r->split == 1 ? r->data.val
                                            : r->data.test;
    if (!set) {
        cli_error("--split %s: the run has no %s set%s", r->split_name,
                  r->split == 1 ? "validation" : "test",
                  r->split == 1 ? " (it was trained with --val 0)" : "");
        return CLI_EXIT_USAGE;
    }
    int C = mg_model_classes(r->m);
    if (set->dim != mg_model_dim(r->m, 0)) {
        cli_error("%s: the %s data has %d features, the model %s expects %d", run, r->split_name,
                  set->dim, mg_model_arch(r->m), mg_model_dim(r->m, 0));
        return CLI_EXIT_USAGE;
    }
    for (int i = 0; i < set->n; i++) {
        if (set->y[i] < 0 || set->y[i] >= C) {
            cli_error("%s: label %d of %s example %d is outside the model's classes 0..%d", run,
                      (int)set->y[i], r->split_name, i, C - 1);
            return CLI_EXIT_USAGE;
        }
    }
    r->class_counts = calloc((size_t)C, sizeof(int));
    if (!r->class_counts) return cli_fail_status(mg_fail(MG_ERR_NOMEM, "out of memory"));
    if (r->max_per_class > 0) {
        int *idx = malloc(sizeof(int) * ((size_t)set->n + 1));
        if (!idx) return cli_fail_status(mg_fail(MG_ERR_NOMEM, "out of memory"));
        int ns = 0;
        for (int i = 0; i < set->n; i++)
            if (r->class_counts[set->y[i]] < r->max_per_class) {
                r->class_counts[set->y[i]]++;
                idx[ns++] = i;
            }
        st = mg_dataset_subset(set, idx, ns, &r->subset);
        free(idx);
        if (st != MG_OK) return cli_fail_status(st);
        set = r->subset;
    } else {
        for (int i = 0; i < set->n; i++) r->class_counts[set->y[i]]++;
    }
    r->set = set;
    if (set->n < 1) {
        cli_error("--split %s: no examples to analyse", r->split_name);
        return CLI_EXIT_USAGE;
    }
    if (need_all_classes) {
        for (int c = 0; c < C; c++) {
            if (r->class_counts[c] == 0) {
                cli_error("--split %s: class %d has no examples among the %d analysed (the "
                          "model has %d classes; every class needs at least one)",
                          r->split_name, c, set->n, C);
                return CLI_EXIT_USAGE;
            }
        }
    }
    /* Big batches: the forward pass feeds the spectra accumulator in blocks
     * and sgemm runs near its peak; smaller ones for wide (convolutional)
     * models, whose activations per example are large. */
    int bmax = wide ? AN_WIDE_BATCH : 1024;
    int bs = set->n < bmax ? set->n : bmax;
    st = mg_model_reserve(r->m, bs);
    if (st == MG_OK) st = mg_model_set_threads(r->m, r->c.train.threads);
    if (st != MG_OK) return cli_fail_status(st);
    return CLI_EXIT_OK;
}

/* ================================================================ analyze */

enum {
    AN_SPECTRA,
    AN_COROLLARY,
    AN_THEORY,
    AN_MARGINS,
    AN_CONFIDENCE,
    AN_CALIBRATION,
    AN_COLLAPSE,
    AN_FGSM,
    AN_MAPS,
    AN_COUNT
};
static const char *const k_an_names[AN_COUNT] = {
    "spectra", "corollary", "theory", "margins", "confidence",
    "calibration", "collapse", "fgsm", "maps"};

static const char k_usage[] =
    "usage: mixgeo analyze RUN [--layer K] [--split train|val|test] [--only LIST] [OPTIONS]";

static const char k_description[] =
    "Analyse the representations of a trained run at layer K of a split and write\n"
    "OUT (default RUN/analysis/SPLIT-LK): summary.json (every scalar and every choice),\n"
    "TSV data files and one gnuplot script per figure (render: mixgeo plot OUT).\n"
    "Analyses (--only, comma-separated; default: all that apply):\n"
    "  spectra      per-class singular values, centred and uncentred, pooled within-class\n"
    "               and total; s1, sum of the rest, s_k/s1, effective rank, participation\n"
    "               ratio, stable rank, k at 90/95/99%, numerical ranks\n"
    "  corollary    Corollary 1: predicted per-class dim max(0, dim - d + 1) beside the\n"
    "               measured ranks; readout leakage; affine dim of the class means\n"
    "  theory       Theorem 1: affine least-squares fit (dgelsd) of the labels on the\n"
    "               states, and its mixup squared error over a lambda grid\n"
    "  margins      exact margin at the input of the final dense layer (layer L-1 of an\n"
    "               MLP, the pooled features of a PreActResNet), DeepFool in input space,\n"
    "               first crossings along segments between differently classified points\n"
    "  confidence   interpolation paths at layer K; off-manifold uniform box and noise\n"
    "  calibration  ECE, MCE, overconfidence, NLL, Brier, reliability diagram\n"
    "  collapse     neural collapse NC1-NC4 on the features entering the final dense layer\n"
    "  fgsm         accuracy under one-step FGSM over an epsilon grid\n"
    "  maps         2-D input: decision/confidence map; 2-D layer K: hidden-space map\n"
    "Wide models (layer K or L-1 with more than 2048 features, e.g. the stages of\n"
    "preact:16-32-64x2 on Fashion-MNIST: 12544, 6272, 3136): the auto defaults keep\n"
    "300 examples per class, 200 pairs and 200 DeepFool examples, and the forward\n"
    "batch is 256; the spectra keep the rows and decompose them exactly at the end (mode\n"
    "\"rows\" in summary.json; \"qr-stream\" otherwise); with n < p + 1 examples the\n"
    "affine fit is underdetermined (flagged: a zero residual is then expected and is no\n"
    "evidence for Theorem 1), and per-class ranks are bounded by n_c - 1.";

static const char k_epilog[] =
    "Exit status: 0 ok, 1 runtime failure, 2 usage or configuration error (a layer\n"
    "outside 0..L, a run without model.ckpt, an empty class, --max-per-class 0, an\n"
    "unknown analysis), 130 interrupted.";

static cli_opt k_opts[CLI_MAX_OPTS];
static int k_nopts;

static void build_table(void)
{
    if (k_nopts) return;
    cli_analysis_add_opts(k_opts, &k_nopts, "train");
    cli_opt *o = k_opts;
    int n = k_nopts;
    for (int i = 0; i < n; i++) /* analyze keeps memory bounded on wide layers */
        if (strcmp(o[i].name, "max-per-class") == 0) o[i].def = "auto";
    o[n++] = (cli_opt){"only", 0, CLI_VALUE, "LIST", "all", 0,
                       "analyses to run, e.g. spectra,theory (see above); all: every one that "
                       "applies",
                       "Analyses"};
    o[n++] = (cli_opt){"out", 0, CLI_VALUE, "DIR", "auto", 0,
                       "output directory; auto: RUN/analysis/SPLIT-LK", NULL};
    o[n++] = (cli_opt){"seed", 0, CLI_VALUE, "N", "0", 0,
                       "seed of the sampled pairs, subsets and off-manifold points", NULL};
    o[n++] = (cli_opt){"bins", 0, CLI_VALUE, "N", "15", 0,
                       "equal-width confidence bins of ECE/MCE and the reliability diagram",
                       NULL};
    o[n++] = (cli_opt){"hist-bins", 0, CLI_VALUE, "N", "40", 0,
                       "bins of the margin and confidence histograms", NULL};
    o[n++] = (cli_opt){"lambdas", 0, CLI_VALUE, "N", "21", 0,
                       "lambda grid points in [0, 1] (interpolation paths, mixup error)", NULL};
    o[n++] = (cli_opt){"pairs", 0, CLI_VALUE, "N|auto", "auto", 0,
                       "pairs per kind for interpolation paths, segment crossings and the "
                       "mixup error; auto: 500, or 200 for a wide model (layer K or L-1 "
                       "with more than 2048 features)",
                       NULL};
    o[n++] = (cli_opt){"max-examples", 0, CLI_VALUE, "N|auto", "auto", 0,
                       "examples attacked by DeepFool (a random subset); auto: 1000, or 200 "
                       "for a wide model",
                       NULL};
    o[n++] = (cli_opt){"eps", 0, CLI_VALUE, "LIST", "0,0.01,0.02,0.05,0.1,0.2", 0,
                       "FGSM step sizes, in input units", NULL};
    o[n++] = (cli_opt){"fgsm-no-clip", 0, CLI_FLAG, NULL, "false", CLI_NO_NEG,
                       "do not clip FGSM inputs (the authors' convention on standardised "
                       "inputs); default: clip to [0, 1] when the data lies in [0, 1], else to "
                       "the data's [min, max]",
                       NULL};
    o[n++] = (cli_opt){"grid", 0, CLI_VALUE, "N", "200", 0, "maps: N x N grid points", NULL};
    o[n++] = (cli_opt){"n-uniform", 0, CLI_VALUE, "N", "1000", 0,
                       "inputs drawn uniformly from the data's bounding box (off-manifold, "
                       "hidden map)",
                       NULL};
    o[n++] = (cli_opt){"n-noise", 0, CLI_VALUE, "N", "1000", 0,
                       "Gaussian noise inputs with the data's per-feature mean and std", NULL};
    o[n++] = (cli_opt){"quiet", 'q', CLI_FLAG, NULL, "false", CLI_NO_NEG,
                       "print nothing but errors", "Other"};
    o[n++] = (cli_opt){"help", 'h', CLI_FLAG, NULL, "false", CLI_NO_NEG,
                       "show this help and exit", NULL};
    k_nopts = n;
}

#define AN_MAX_EPS 64

typedef struct {
    cli_analysis_run *r;
    mg_model *m;
    const mg_dataset *d;
    int k, L, pen, C, n, d0, dk, dp;
    mg_mix_mode mix;
    int mls; /* line style of the run's method */
    /* options */
    uint64_t seed;
    int bins, hist_bins, lambdas, pairs, max_examples, grid, n_uniform, n_noise;
    double eps[AN_MAX_EPS];
    int n_eps, no_clip;
    int want[AN_COUNT];
    char out[4096], prov[4096], label[1200], config[4096];
    const char *const *class_names; /* NULL = "class c" */
    cJSON *root, *files;
    int max_per_class_auto;         /* --max-per-class auto resolved it  */
    /* the forward pass */
    mg_spectra_result *spec;
    float *Hk, *Hp, *logits;
    /* the input of the final dense layer (margins, collapse): Hp itself
     * when the last block is that dense layer alone, else computed from Hp
     * (feat_own = 1); n x df */
    float *feat;
    int df, feat_own;
    const char *feat_what;
    double feat_check; /* max |feat W^T + b - logits| / (1 + |logits|)   */
    int32_t *pred;
    double seconds[AN_COUNT];
    char line[AN_COUNT][512]; /* one-line report of each analysis */
} an_ctx;

static const char *const k_fashion_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                                "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                                "Bag",         "Ankle boot"};

/* ---------------------------------------------------------------- output helpers */

/* OUT/name as TSV; block > 0 puts a blank line after every block rows (the
 * scan lines of a grid, for gnuplot). */
static mg_status an_tsv(an_ctx *x, const char *name, const char *const *cols, int ncols,
                        const double *rows, int nrows, int block)
{
    char path[4200];
    mg_status st = cli_path(path, sizeof path, x->out, name);
    if (st != MG_OK) return st;
    st = cli_tsv_write_blocks(path, x->prov, cols, ncols, rows, nrows, block);
    if (st == MG_OK) cJSON_AddItemToArray(x->files, cJSON_CreateString(name));
    return st;
}

static mg_status an_gp(an_ctx *x, const char *name, const char *what, int w, int h,
                       const gp_buf *setup, const gp_buf *body)
{
    char title[1600];
    snprintf(title, sizeof title, "%s: %s", what, x->label);
    gp_figure fig = {name, title, x->prov, w, h, setup && setup->s ? setup->s : NULL};
    if (setup && setup->failed) return mg_fail(MG_ERR_NOMEM, "out of memory writing %s.gp", name);
    mg_status st = gp_write(x->out, &fig, body);
    if (st == MG_OK) {
        char f[300];
        snprintf(f, sizeof f, "%s.gp", name);
        cJSON_AddItemToArray(x->files, cJSON_CreateString(f));
    }
    return st;
}

/* The figure title (plotted): "what - run split Lk", quoted for gnuplot. */
static void an_title(an_ctx *x, gp_buf *b, const char *what)
{
    char t[1800], q[4000];
    snprintf(t, sizeof t, "%s - %s", what, x->label);
    gp_buf_printf(b, "set title %s\n", gp_quote_text(q, sizeof q, t));
}

/* Column names "prefix_0" .. for the classes: names[] points into store. */
typedef struct {
    char store[4096][24];
    const char *names[4096];
    int n;
} an_cols;

static void cols_add(an_cols *c, const char *fmt, int i)
{
    MG_ASSERT(c->n < 4096);
    snprintf(c->store[c->n], sizeof c->store[c->n], fmt, i);
    c->names[c->n] = c->store[c->n];
    c->n++;
}

/* gnuplot array cls_name[C] with the class names (setup of a figure). */
static void class_names_setup(an_ctx *x, gp_buf *b)
{
    gp_buf_printf(b, "array cls_name[%d] = [", x->C);
    for (int c = 0; c < x->C; c++) {
        char nm[64], q[160];
        if (x->class_names) snprintf(nm, sizeof nm, "%s", x->class_names[c]);
        else snprintf(nm, sizeof nm, "class %d", c);
        gp_buf_printf(b, "%s%s", c ? ", " : "", gp_quote(q, sizeof q, nm));
    }
    gp_buf_printf(b, "]\n");
}

static double *alloc_d(size_t n)
{
    return malloc(sizeof(double) * (n ? n : 1));
}

static cJSON *json_doubles(const double *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

static cJSON *json_ints(const int *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

/* Max-softmax prediction from logits rows. */
static int argmax_row(const float *z, int C)
{
    int a = 0;
    for (int j = 1; j < C; j++)
        if (z[j] > z[a]) a = j;
    return a;
}

/* A uniform random subset of m of 0..n-1, sorted. */
static int *random_subset(mg_rng *rng, int n, int m)
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

/* ---------------------------------------------------------------- the forward pass */

typedef struct {
    an_ctx *x;
    mg_spectra_acc *acc;
    int done;
} an_pass;

static mg_status pass_cb(void *user, const float *states, const int32_t *y, const float *logits,
                         int n)
{
    an_pass *p = user;
    an_ctx *x = p->x;
    if (cli_stop_requested()) return mg_fail(MG_ERR_INTERRUPTED, "interrupted");
    if (p->acc) {
        mg_status st = mg_spectra_acc_add(p->acc, states, y, n);
        if (st != MG_OK) return st;
    }
    size_t o = (size_t)p->done;
    if (x->Hk) memcpy(x->Hk + o * x->dk, states, sizeof(float) * (size_t)n * x->dk);
    if (x->Hp && x->Hp != x->Hk)
        memcpy(x->Hp + o * x->dp, mg_model_state(x->m, x->pen), sizeof(float) * (size_t)n * x->dp);
    memcpy(x->logits + o * x->C, logits, sizeof(float) * (size_t)n * x->C);
    for (int i = 0; i < n; i++) x->pred[o + i] = argmax_row(logits + (size_t)i * x->C, x->C);
    p->done += n;
    cli_progress_update("analyze: forward pass %d/%d", p->done, x->n);
    return MG_OK;
}

/* The input of the model's final dense layer for every analysed example,
 * into x->feat (n x x->df), for the exact margin and neural collapse:
 *  - the last block is that dense layer alone (MLPs): the layer L-1 states;
 *  - else (a PreActResNet: BN-ReLU, global average pooling, dense): the
 *    dense layer's weights are replaced by rows of the identity (C features
 *    at a time) and its bias by 0, the layer L-1 states are run forward from
 *    L-1 (evaluation mode), and the "logits" are then exactly those features
 *    (1 * f + 0 * the rest, no rounding); the parameters are restored bit
 *    for bit afterwards.  The public API has no other way to read a state
 *    inside the last block (mg_model_state stops at block boundaries).
 * Leaves x->feat NULL when the last layer is not dense. */
static mg_status dense_features(an_ctx *x)
{
    mg_model *m = x->m;
    const int nl = mg_model_n_layers(m), C = x->C, n = x->n;
    mg_layer_info li = mg_model_layer(m, nl - 1);
    x->feat = NULL;
    x->feat_own = 0;
    x->df = 0;
    if (li.kind != MG_LAYER_DENSE || li.out != C) return MG_OK;
    if (mg_model_block_first_layer(m, x->L) == nl - 1 && li.in == x->dp) {
        x->feat = x->Hp;
        x->df = x->dp;
        x->feat_what = "the states at layer L-1 (the last block is the dense readout alone)";
        return MG_OK;
    }
    const int in = li.in, bs = mg_model_max_batch(m);
    float *params = mg_model_params(m);
    MG_ASSERT(li.W >= params && (size_t)(li.W - params) + (size_t)in * C + C <=
                                    mg_model_n_params(m));
    float *Wp = params + (li.W - params); /* W (C x in), then b (C) */
    float *save = malloc(sizeof(float) * ((size_t)in * C + C));
    x->feat = malloc(sizeof(float) * (size_t)n * in + 1);
    x->feat_own = 1; /* freed by an_ctx_free */
    if (!save || !x->feat) {
        free(save);
        return mg_fail(MG_ERR_NOMEM, "out of memory (%d x %d features)", n, in);
    }
    x->df = in;
    memcpy(save, Wp, sizeof(float) * ((size_t)in * C + C));
    for (int f0 = 0; f0 < in; f0 += C) {
        int nf = in - f0 < C ? in - f0 : C;
        memset(Wp, 0, sizeof(float) * ((size_t)in * C + C));
        for (int j = 0; j < nf; j++) Wp[(size_t)j * in + f0 + j] = 1.0f;
        for (int i0 = 0; i0 < n; i0 += bs) {
            int bn = n - i0 < bs ? n - i0 : bs;
            const float *z =
                mg_model_forward(m, x->L - 1, x->Hp + (size_t)i0 * x->dp, bn, 0, NULL, NULL);
            for (int r = 0; r < bn; r++)
                memcpy(x->feat + (size_t)(i0 + r) * in + f0, z + (size_t)r * C,
                       sizeof(float) * nf);
        }
    }
    memcpy(Wp, save, sizeof(float) * ((size_t)in * C + C));
    free(save);
    /* self-check: the restored readout applied to the features gives the
     * logits of the forward pass (up to the order of float sums) */
    double worst = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < C; j++) {
            double z = li.b[j];
            for (int f = 0; f < in; f++)
                z += (double)li.W[(size_t)j * in + f] * x->feat[(size_t)i * in + f];
            double zl = x->logits[(size_t)i * C + j];
            worst = fmax(worst, fabs(z - zl) / (1.0 + fabs(zl)));
        }
    x->feat_check = worst;
    if (!(worst < 1e-3))
        return mg_fail(MG_ERR_NUMERIC,
                       "internal check failed: the features read out at the final dense "
                       "layer do not reproduce the logits (relative difference %.3g)",
                       worst);
    x->feat_what = "the input of the final dense layer (the last block's layers before it - "
                   "BN-ReLU and global average pooling of layer L-1 - read out exactly by "
                   "forward passes through an identity readout)";
    return MG_OK;
}

static mg_status run_pass(an_ctx *x)
{
    int need_spec = x->want[AN_SPECTRA] || x->want[AN_COROLLARY];
    int need_hk = x->want[AN_THEORY] || (x->want[AN_MAPS] && x->dk == 2 && x->k > 0);
    int need_hp = x->want[AN_MARGINS] || x->want[AN_COLLAPSE];
    size_t n = (size_t)x->n;
    mg_status st = MG_OK;
    an_pass p = {x, NULL, 0};
    x->logits = malloc(sizeof(float) * n * x->C);
    x->pred = malloc(sizeof(int32_t) * n);
    if (!x->logits || !x->pred) return mg_fail(MG_ERR_NOMEM, "out of memory (%d logits)", x->n);
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
    if (need_spec) {
        /* qr-stream for MLP widths (as before), rows for wide layers; the
         * CLI never passes more than max_per_class rows of a class */
        mg_spectra_config sc = mg_spectra_config_default();
        sc.max_rows_per_class = x->r->max_per_class;
        if ((st = mg_spectra_acc_create_cfg(x->C, x->dk, &sc, &p.acc)) != MG_OK) return st;
    }
    st = mg_states_foreach(x->m, x->d, x->k, 0, 0, pass_cb, &p);
    if (st == MG_OK && p.acc) {
        cli_progress_update("analyze: spectra of %d x %d states (%s)", x->n, x->dk,
                            mg_spectra_mode_name(mg_spectra_acc_mode(p.acc)));
        st = mg_spectra_acc_finish(p.acc, &x->spec);
    }
    mg_spectra_acc_free(p.acc);
    if (st == MG_OK && need_hp) st = dense_features(x);
    cli_progress_clear();
    return st;
}

/* ---------------------------------------------------------------- spectra */

#define N_SUMM 17
static const char *const k_summ_names[N_SUMM] = {
    "n",          "ns",      "s1",       "rest",  "sum",         "sum_sq",
    "s1_per_sqrt_n", "effective_rank", "participation_ratio", "stable_rank", "k90",
    "k95",        "k99",     "tol",      "rank_eps", "rank_1e2", "rank_1e3"};

static void summ_values(const mg_spectrum_summary *s, double *v)
{
    double t[N_SUMM] = {(double)s->n,
                        s->ns,
                        s->s1,
                        s->rest,
                        s->sum,
                        s->sum_sq,
                        s->s1_per_sqrt_n,
                        s->effective_rank,
                        s->participation_ratio,
                        s->stable_rank,
                        s->k90,
                        s->k95,
                        s->k99,
                        s->tol,
                        s->rank_eps,
                        s->rank_1e2,
                        s->rank_1e3};
    memcpy(v, t, sizeof t);
}

static cJSON *summ_json(const double *v)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < N_SUMM; i++) cJSON_AddNumberToObject(o, k_summ_names[i], v[i]);
    return o;
}

/* Wide table: column 0 = k (1-based), then one column per spectrum. */
static mg_status spectra_table(an_ctx *x, const char *name, const double *const *s,
                               const int *ns, int nspec, const char *const *cols, int rel)
{
    int rows = 0;
    for (int j = 0; j < nspec; j++)
        if (ns[j] > rows) rows = ns[j];
    int nc = nspec + 1;
    double *t = alloc_d((size_t)rows * nc);
    if (!t) return mg_fail(MG_ERR_NOMEM, "out of memory");
    for (int r = 0; r < rows; r++) {
        t[(size_t)r * nc] = r + 1;
        for (int j = 0; j < nspec; j++) {
            double v = NAN;
            if (r < ns[j]) {
                v = s[j][r];
                if (rel) v = s[j][0] > 0 ? v / s[j][0] : NAN;
            }
            t[(size_t)r * nc + 1 + j] = v;
        }
    }
    mg_status st = an_tsv(x, name, cols, nc, t, rows, 0);
    free(t);
    return st;
}

static mg_status an_spectra(an_ctx *x, cJSON *sec)
{
    const mg_spectra_result *r = x->spec;
    const int C = r->classes;
    mg_status st = MG_OK;
    an_cols *cols = malloc(sizeof *cols);
    const double **s = malloc(sizeof(double *) * ((size_t)C + 2));
    int *ns = malloc(sizeof(int) * ((size_t)C + 2));
    double *srows = alloc_d((size_t)(2 * C + 2) * (N_SUMM + 2));
    double *mean_c = calloc(N_SUMM, sizeof(double)), *mean_u = calloc(N_SUMM, sizeof(double));
    if (!cols || !s || !ns || !srows || !mean_c || !mean_u) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* centred, per class + pooled */
    cols->n = 0;
    cols_add(cols, "k", 0);
    for (int c = 0; c < C; c++) cols_add(cols, "class_%d", c);
    cols_add(cols, "within", 0);
    cols_add(cols, "total", 0);
    for (int c = 0; c < C; c++) {
        s[c] = r->cls[c].s_centred;
        ns[c] = r->cls[c].ns;
    }
    s[C] = r->s_within;
    ns[C] = r->ns_within;
    s[C + 1] = r->s_total;
    ns[C + 1] = r->ns_total;
    if ((st = spectra_table(x, "spectra-centred.tsv", s, ns, C + 2, cols->names, 0))) goto done;
    if ((st = spectra_table(x, "spectra-rel.tsv", s, ns, C + 2, cols->names, 1))) goto done;
    for (int c = 0; c < C; c++) s[c] = r->cls[c].s_uncentred;
    if ((st = spectra_table(x, "spectra-uncentred.tsv", s, ns, C, cols->names, 0))) goto done;

    /* summaries */
    cJSON *per = cJSON_CreateArray();
    cJSON_AddItemToObject(sec, "per_class", per);
    int nrow = 0, nonempty = 0;
    double v[N_SUMM];
    const int W = N_SUMM + 2;
    for (int c = 0; c < C; c++) {
        const mg_class_spectrum *cs = &r->cls[c];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "class", c);
        if (x->class_names) cJSON_AddStringToObject(o, "name", x->class_names[c]);
        cJSON_AddNumberToObject(o, "n", (double)cs->n);
        for (int cen = 1; cen >= 0; cen--) {
            mg_spectrum_summary sm;
            mg_spectrum_summarize(cen ? cs->s_centred : cs->s_uncentred, cs->ns, cs->n, r->p,
                                  &sm);
            summ_values(&sm, v);
            cJSON_AddItemToObject(o, cen ? "centred" : "uncentred", summ_json(v));
            double *row = srows + (size_t)nrow++ * W;
            row[0] = c;
            row[1] = cen;
            memcpy(row + 2, v, sizeof v);
            if (cs->n > 0)
                for (int i = 0; i < N_SUMM; i++) (cen ? mean_c : mean_u)[i] += v[i];
        }
        nonempty += cs->n > 0;
        cJSON_AddItemToArray(per, o);
    }
    for (int i = 0; i < N_SUMM; i++) {
        mean_c[i] /= nonempty > 0 ? nonempty : 1;
        mean_u[i] /= nonempty > 0 ? nonempty : 1;
    }
    cJSON_AddItemToObject(sec, "mean_centred", summ_json(mean_c));
    cJSON_AddItemToObject(sec, "mean_uncentred", summ_json(mean_u));
    mg_spectrum_summary sw, stt;
    mg_spectrum_summarize(r->s_within, r->ns_within, r->n, r->p, &sw);
    mg_spectrum_summarize(r->s_total, r->ns_total, r->n, r->p, &stt);
    summ_values(&sw, v);
    cJSON_AddItemToObject(sec, "pooled_within", summ_json(v));
    srows[(size_t)nrow * W] = -1;
    srows[(size_t)nrow * W + 1] = 1;
    memcpy(srows + (size_t)nrow++ * W + 2, v, sizeof v);
    summ_values(&stt, v);
    cJSON_AddItemToObject(sec, "pooled_total", summ_json(v));
    srows[(size_t)nrow * W] = -2;
    srows[(size_t)nrow * W + 1] = 1;
    memcpy(srows + (size_t)nrow++ * W + 2, v, sizeof v);
    {
        const char *sc[N_SUMM + 2] = {"class", "centred"};
        for (int i = 0; i < N_SUMM; i++) sc[i + 2] = k_summ_names[i];
        if ((st = an_tsv(x, "spectra-summary.tsv", sc, W, srows, nrow, 0))) goto done;
    }
    cJSON_AddStringToObject(sec, "mode", mg_spectra_mode_name(r->mode));
    cJSON_AddStringToObject(
        sec, "note",
        r->mode == MG_SPECTRA_ROWS
            ? "singular values of the data itself, never of X^T X (mode rows: the float32 "
              "states kept per class and decomposed at the end in double: dgeqrf of the "
              "transposed, centred data when n < p, else a streamed row-space QR, then "
              "dgesdd of the triangles); centred = each class minus its own mean, uncentred = "
              "raw states; pooled_within = all classes centred on their own means, stacked; "
              "pooled_total = all states centred on the overall mean; with n_c <= p at most "
              "n_c values per class (centred rank <= n_c - 1); spectra-summary.tsv: class -1 "
              "= pooled within, -2 = pooled total"
            : "singular values of the data itself (mode qr-stream: streaming Householder QR, "
              "then dgesdd), never of X^T X; centred = each class minus its own mean, "
              "uncentred = raw states; pooled_within = all classes centred on their own "
              "means, stacked; pooled_total = all states centred on the overall mean; "
              "spectra-summary.tsv: class -1 = pooled within, -2 = pooled total");

    /* figures */
    {
        gp_buf setup, b;
        gp_buf_init(&setup);
        gp_buf_init(&b);
        class_names_setup(x, &setup);
        const char *key = C > 12 ? "unset key\n" : "set key outside right top\n";
        gp_buf_printf(&b, "set multiplot layout 1,2\n%s", key);
        an_title(x, &b, "per-class singular values, centred");
        gp_buf_printf(&b,
                      "set logscale y\nset format y '10^{%%T}'\n"
                      "set xlabel 'k'\nset ylabel 's_k'\n"
                      "plot for [c=0:%d] 'spectra-centred.tsv' using 1:(column(c+2)) with lines "
                      "ls (11 + c %% 10) title cls_name[c+1] noenhanced\n",
                      C - 1);
        an_title(x, &b, "uncentred");
        gp_buf_printf(&b,
                      "plot for [c=0:%d] 'spectra-uncentred.tsv' using 1:(column(c+2)) with lines "
                      "ls (11 + c %% 10) title cls_name[c+1] noenhanced\n"
                      "unset multiplot\nunset logscale y\nset format y '%%g'\n",
                      C - 1);
        st = an_gp(x, "spectra", "per-class singular values (log y), centred and uncentred", 1200,
                   520, &setup, &b);
        gp_buf_free(&b);
        if (st == MG_OK) {
            gp_buf_init(&b);
            gp_buf_printf(&b, "%s", key);
            an_title(x, &b, "s_k / s_1 per class, centred");
            gp_buf_printf(&b,
                          "set logscale y\nset format y '10^{%%T}'\n"
                          "set xlabel 'k'\nset ylabel 's_k / s_1'\n"
                          "plot for [c=0:%d] 'spectra-rel.tsv' using 1:(column(c+2)) with lines "
                          "ls (11 + c %% 10) title cls_name[c+1] noenhanced, \\\n"
                          "     'spectra-rel.tsv' using 1:%d with lines ls %d title 'pooled "
                          "within-class', \\\n"
                          "     'spectra-rel.tsv' using 1:%d with lines ls 8 title 'pooled total'\n"
                          "unset logscale y\nset format y '%%g'\n",
                          C - 1, C + 2, x->mls + 3, C + 3);
            st = an_gp(x, "spectra-rel", "s_k/s_1 overlay of the classes (log y)", 900, 600,
                       &setup, &b);
            gp_buf_free(&b);
        }
        gp_buf_free(&setup);
        if (st) goto done;
    }
    snprintf(x->line[AN_SPECTRA], sizeof x->line[0],
             "mean over classes (centred): s1 %.4g, rest %.4g, s1/sqrt(n) %.4g, eff. rank %.4g, "
             "rank(1e-3) %.3g of %d; pooled within rank(1e-3) %d [%s]",
             mean_c[2], mean_c[3], mean_c[6], mean_c[7], mean_c[16], r->p, sw.rank_1e3,
             mg_spectra_mode_name(r->mode));
done:
    free(cols);
    free(s);
    free(ns);
    free(srows);
    free(mean_c);
    free(mean_u);
    return st;
}

/* ---------------------------------------------------------------- corollary */

/* The readout of layer k: for every class c a d x p matrix W_c (rows of the
 * Jacobian of the logits at the class mean, or the affine map's linear part
 * when every layer after k is affine in evaluation mode).  W: C x C x p. */
static mg_status readout_maps(an_ctx *x, double *W, const char **kind)
{
    const int C = x->C, p = x->dk;
    const size_t blk = (size_t)C * p;
    if (x->k == x->L) {
        memset(W, 0, sizeof(double) * blk * C);
        for (int c = 0; c < C; c++)
            for (int j = 0; j < C; j++) W[(size_t)c * blk + (size_t)j * p + j] = 1.0;
        *kind = "identity (layer k is the logits)";
        return MG_OK;
    }
    int first = mg_model_block_first_layer(x->m, x->k + 1), nl = mg_model_n_layers(x->m);
    int affine = 1;
    for (int i = first; i < nl; i++) {
        mg_layer_info li = mg_model_layer(x->m, i);
        if (li.kind != MG_LAYER_DENSE && li.kind != MG_LAYER_DROPOUT && li.kind != MG_LAYER_NOISE)
            affine = 0;
    }
    if (affine) {
        /* M = W_last ... W_first (C x p), in double */
        int rows = p;
        double *M = alloc_d((size_t)p * p), *T = NULL;
        if (!M) return mg_fail(MG_ERR_NOMEM, "out of memory");
        memset(M, 0, sizeof(double) * (size_t)p * p);
        for (int i = 0; i < p; i++) M[(size_t)i * p + i] = 1.0;
        for (int i = first; i < nl; i++) {
            mg_layer_info li = mg_model_layer(x->m, i);
            if (li.kind != MG_LAYER_DENSE) continue;
            MG_ASSERT(li.in == rows);
            T = alloc_d((size_t)li.out * p);
            if (!T) {
                free(M);
                return mg_fail(MG_ERR_NOMEM, "out of memory");
            }
            for (int a = 0; a < li.out; a++)
                for (int b = 0; b < p; b++) {
                    double acc = 0.0;
                    for (int q = 0; q < li.in; q++)
                        acc += (double)li.W[(size_t)a * li.in + q] * M[(size_t)q * p + b];
                    T[(size_t)a * p + b] = acc;
                }
            free(M);
            M = T;
            rows = li.out;
        }
        MG_ASSERT(rows == C);
        for (int c = 0; c < C; c++) memcpy(W + (size_t)c * blk, M, sizeof(double) * blk);
        free(M);
        *kind = "affine (every layer after k is dense, dropout or noise: the linear part of the "
                "map to the logits)";
        return MG_OK;
    }
    /* Jacobian rows at the class means: forward from k, one backward per
     * output with unit dlogits. */
    int bs = mg_model_max_batch(x->m);
    float *mu = malloc(sizeof(float) * (size_t)bs * p);
    float *dl = malloc(sizeof(float) * (size_t)bs * C);
    float *dx = malloc(sizeof(float) * (size_t)bs * p);
    if (!mu || !dl || !dx) {
        free(mu);
        free(dl);
        free(dx);
        return mg_fail(MG_ERR_NOMEM, "out of memory");
    }
    for (int c0 = 0; c0 < C; c0 += bs) {
        int bn = C - c0 < bs ? C - c0 : bs;
        for (int r = 0; r < bn; r++)
            for (int f = 0; f < p; f++)
                mu[(size_t)r * p + f] = (float)x->spec->cls[c0 + r].mean[f];
        mg_model_forward(x->m, x->k, mu, bn, 0, NULL, NULL);
        for (int j = 0; j < C; j++) {
            memset(dl, 0, sizeof(float) * (size_t)bn * C);
            for (int r = 0; r < bn; r++) dl[(size_t)r * C + j] = 1.0f;
            mg_model_backward_input(x->m, dl, dx);
            for (int r = 0; r < bn; r++)
                for (int f = 0; f < p; f++)
                    W[(size_t)(c0 + r) * blk + (size_t)j * p + f] = dx[(size_t)r * p + f];
        }
    }
    mg_model_zero_grad(x->m);
    free(mu);
    free(dl);
    free(dx);
    *kind = "jacobian of the logits at each class mean (a layer after k is not affine)";
    return MG_OK;
}

static mg_status an_corollary(an_ctx *x, cJSON *sec)
{
    const mg_spectra_result *r = x->spec;
    const int C = x->C, p = x->dk;
    const size_t blk = (size_t)C * p;
    int pred = mg_corollary1_dim(p, C), applies = mg_theorem1_applies(p, C);
    mg_status st = MG_OK;
    double *W = alloc_d(blk * C), *leak = alloc_d(C), *gain = alloc_d(C);
    double *rows = alloc_d((size_t)(C + 1) * 8);
    double *sm = alloc_d((size_t)(C < p ? C : p));
    if (!W || !leak || !gain || !rows || !sm) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory");
        goto done;
    }
    const char *kind = "";
    if ((st = readout_maps(x, W, &kind))) goto done;
    double num = 0, den = 0, gnum = 0, gden = 0;
    for (int c = 0; c < C; c++) {
        const mg_class_spectrum *cs = &r->cls[c];
        mg_spectra_result one = *r;
        one.classes = 1;
        one.cls = (mg_class_spectrum *)cs;
        double lc;
        if ((st = mg_readout_leakage(&one, W + (size_t)c * blk, C, NULL, &lc))) goto done;
        double b = 0;
        for (int i = 0; i < cs->ns; i++) b += cs->s_centred[i] * cs->s_centred[i];
        leak[c] = lc;
        if (b > 0 && isfinite(lc)) {
            num += lc * b;
            den += b;
        }
        /* between-class gain ||W_c (mu_c - mu)||^2 / ||mu_c - mu||^2 */
        double e2 = 0, g2 = 0;
        for (int f = 0; f < p; f++) {
            double e = cs->mean[f] - r->mean[f];
            e2 += e * e;
        }
        for (int j = 0; j < C; j++) {
            double a = 0;
            const double *wj = W + (size_t)c * blk + (size_t)j * p;
            for (int f = 0; f < p; f++) a += wj[f] * (cs->mean[f] - r->mean[f]);
            g2 += a * a;
        }
        gain[c] = e2 > 0 ? g2 / e2 : NAN;
        gnum += (double)cs->n * g2;
        gden += (double)cs->n * e2;
    }
    double leakage = den > 0 ? num / den : NAN, gain_b = gden > 0 ? gnum / gden : NAN;
    mg_spectrum_summary md, sw;
    if ((st = mg_class_means_affine_dim(r, sm, &md))) goto done;
    mg_spectrum_summarize(r->s_within, r->ns_within, r->n, r->p, &sw);

    cJSON_AddNumberToObject(sec, "dim", p);
    cJSON_AddNumberToObject(sec, "classes", C);
    cJSON_AddBoolToObject(sec, "theorem1_applies", applies);
    cJSON_AddNumberToObject(sec, "predicted_per_class_dim", pred);
    {
        /* a class of n_c examples has centred rank <= n_c - 1: when that is
         * below the prediction, the measured rank cannot test it */
        int64_t nmin = -1;
        for (int c = 0; c < C; c++)
            if (r->cls[c].n > 0 && (nmin < 0 || r->cls[c].n < nmin)) nmin = r->cls[c].n;
        int limited = nmin >= 0 && nmin - 1 < pred;
        cJSON_AddNumberToObject(sec, "min_n_per_class", (double)nmin);
        cJSON_AddBoolToObject(sec, "rank_limited_by_n", limited);
        if (limited)
            cJSON_AddStringToObject(sec, "rank_limited_note",
                                    "some class has n_c - 1 < the predicted dimension: its "
                                    "centred rank is at most n_c - 1, so the measured ranks "
                                    "cannot confirm or refute the prediction (use more "
                                    "examples per class or a narrower layer)");
    }
    cJSON *per = cJSON_CreateArray();
    double mr[3] = {0, 0, 0};
    int maxr1e3 = 0;
    for (int c = 0; c < C; c++) {
        const mg_class_spectrum *cs = &r->cls[c];
        mg_spectrum_summary s;
        mg_spectrum_summarize(cs->s_centred, cs->ns, cs->n, p, &s);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "class", c);
        cJSON_AddNumberToObject(o, "n", (double)cs->n);
        cJSON_AddNumberToObject(o, "rank_eps", s.rank_eps);
        cJSON_AddNumberToObject(o, "rank_1e2", s.rank_1e2);
        cJSON_AddNumberToObject(o, "rank_1e3", s.rank_1e3);
        cJSON_AddNumberToObject(o, "leakage", leak[c]);
        cJSON_AddNumberToObject(o, "gain_between", gain[c]);
        cJSON_AddItemToArray(per, o);
        double *row = rows + (size_t)c * 8;
        row[0] = c;
        row[1] = (double)cs->n;
        row[2] = pred;
        row[3] = s.rank_eps;
        row[4] = s.rank_1e2;
        row[5] = s.rank_1e3;
        row[6] = leak[c];
        row[7] = gain[c];
        mr[0] += s.rank_eps;
        mr[1] += s.rank_1e2;
        mr[2] += s.rank_1e3;
        if (s.rank_1e3 > maxr1e3) maxr1e3 = s.rank_1e3;
    }
    cJSON_AddItemToObject(sec, "per_class", per);
    cJSON *mean = cJSON_CreateObject();
    cJSON_AddNumberToObject(mean, "rank_eps", mr[0] / C);
    cJSON_AddNumberToObject(mean, "rank_1e2", mr[1] / C);
    cJSON_AddNumberToObject(mean, "rank_1e3", mr[2] / C);
    cJSON_AddItemToObject(sec, "mean_per_class", mean);
    cJSON *pw = cJSON_CreateObject();
    cJSON_AddNumberToObject(pw, "rank_eps", sw.rank_eps);
    cJSON_AddNumberToObject(pw, "rank_1e2", sw.rank_1e2);
    cJSON_AddNumberToObject(pw, "rank_1e3", sw.rank_1e3);
    cJSON_AddItemToObject(sec, "pooled_within", pw);
    cJSON_AddStringToObject(sec, "readout", kind);
    cJSON_AddStringToObject(sec, "spectra_mode", mg_spectra_mode_name(r->mode));
    cJSON_AddNumberToObject(sec, "leakage", leakage);
    cJSON_AddNumberToObject(sec, "gain_between", gain_b);
    double leak_rel = isfinite(gain_b) && gain_b > 0 ? leakage / gain_b : NAN;
    cJSON_AddNumberToObject(sec, "leakage_rel", leak_rel);
    cJSON *am = cJSON_CreateObject();
    cJSON_AddNumberToObject(am, "points", md.n);
    cJSON_AddNumberToObject(am, "rank_eps", md.rank_eps);
    cJSON_AddNumberToObject(am, "rank_1e2", md.rank_1e2);
    cJSON_AddNumberToObject(am, "rank_1e3", md.rank_1e3);
    cJSON_AddItemToObject(am, "singular_values", json_doubles(sm, md.ns));
    cJSON_AddItemToObject(sec, "class_means_affine_dim", am);
    cJSON_AddStringToObject(
        sec, "note",
        "predicted = max(0, dim - classes + 1) (Corollary 1; only a theorem when dim >= "
        "classes - 1); measured = numerical ranks of the centred class data (tolerances "
        "s1*max(n,p)*FLT_EPSILON, 1e-2 s1, 1e-3 s1); leakage = sum_c ||W_c (h - mu_c)||^2 / "
        "sum_c ||h - mu_c||^2 (0 when the readout ignores within-class deviations); "
        "gain_between = the same ratio for the class means minus the overall mean, weighted by "
        "n_c; leakage_rel = leakage / gain_between");
    rows[(size_t)C * 8 + 0] = -1;
    rows[(size_t)C * 8 + 1] = (double)r->n;
    rows[(size_t)C * 8 + 2] = pred;
    rows[(size_t)C * 8 + 3] = sw.rank_eps;
    rows[(size_t)C * 8 + 4] = sw.rank_1e2;
    rows[(size_t)C * 8 + 5] = sw.rank_1e3;
    rows[(size_t)C * 8 + 6] = leakage;
    rows[(size_t)C * 8 + 7] = gain_b;
    static const char *const cc[8] = {"class",    "n",        "predicted", "rank_eps",
                                      "rank_1e2", "rank_1e3", "leakage",   "gain_between"};
    if ((st = an_tsv(x, "corollary.tsv", cc, 8, rows, C + 1, 0))) goto done;
    {
        gp_buf b;
        gp_buf_init(&b);
        an_title(x, &b, "Corollary 1: per-class rank vs prediction");
        gp_buf_printf(&b,
                      "set xlabel 'class (-1: pooled within-class)'\nset ylabel 'rank'\n"
                      "set xrange [-1.5:%d.5]\nset yrange [0:*]\nset xtics 1\n"
                      "set key outside right top\n"
                      "plot 'corollary.tsv' using 1:3 with lines lw 8 lc rgb '#d0d0d0' title "
                      "'predicted max(0, dim-d+1)', \\\n"
                      "     '' using ($1-0.2):4 with points ls %d pt 7 ps 1.2 title 'rank (float32 "
                      "tol)', \\\n"
                      "     '' using 1:5 with points ls %d pt 6 ps 1.5 title 'rank (1e-2)', \\\n"
                      "     '' using ($1+0.2):6 with points ls %d pt 4 ps 1.5 title 'rank (1e-3)'\n"
                      "set xtics autofreq\n",
                      C - 1, x->mls, x->mls + 3, x->mls + 3);
        st = an_gp(x, "corollary", "measured per-class ranks beside Corollary 1", 900, 560, NULL,
                   &b);
        gp_buf_free(&b);
        if (st) goto done;
    }
    snprintf(x->line[AN_COROLLARY], sizeof x->line[0],
             "predicted per-class dim %d%s; rank(1e-3) mean %.3g max %d, pooled within %d; "
             "leakage %.3g (rel %.3g); class means affine dim %d",
             pred, applies ? "" : " (theorem does not apply: dim < d-1)", mr[2] / C, maxr1e3,
             sw.rank_1e3, leakage, leak_rel, md.rank_1e3);
done:
    free(W);
    free(leak);
    free(gain);
    free(rows);
    free(sm);
    return st;
}

/* ---------------------------------------------------------------- theory */

static mg_status an_theory(an_ctx *x, cJSON *sec)
{
    const int C = x->C, p = x->dk, n = x->n, NL = x->lambdas;
    mg_status st = MG_OK;
    double *B = alloc_d((size_t)(p + 1) * C), *lam = alloc_d(NL), *per = alloc_d(NL);
    double *rows = alloc_d((size_t)NL * 2);
    if (!B || !lam || !per || !rows) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory");
        goto done;
    }
    double rcond = (double)(n > p + 1 ? n : p + 1) * FLT_EPSILON;
    mg_affine_fit_info info;
    if ((st = mg_affine_fit_f32(x->Hk, n, p, x->d->y, C, rcond, B, &info))) goto done;
    for (int l = 0; l < NL; l++) lam[l] = (double)l / (NL - 1);
    double mean = NAN;
    int pairs = 0;
    if (n >= 2) {
        mg_rng rng;
        mg_rng_seed3(&rng, x->seed, MG_STREAM_ANALYSIS, 100 + AN_THEORY);
        pairs = x->pairs;
        if ((st = mg_affine_mixup_error_f32(x->Hk, n, p, x->d->y, C, B, lam, NL, pairs, &rng, per,
                                            &mean)))
            goto done;
    } else {
        for (int l = 0; l < NL; l++) per[l] = NAN;
    }
    /* the scale: the best constant predictor (class frequencies) */
    double q = 0;
    for (int c = 0; c < C; c++) {
        double f = (double)x->r->class_counts[c] / n;
        q += f * f;
    }
    double const_rel = sqrt(fmax(0.0, 1.0 - q));
    for (int l = 0; l < NL; l++) {
        rows[2 * l] = lam[l];
        rows[2 * l + 1] = per[l];
    }
    static const char *const tc[2] = {"lambda", "mixup_sq_error"};
    if ((st = an_tsv(x, "theory-mixup.tsv", tc, 2, rows, NL, 0))) goto done;
    cJSON_AddNumberToObject(sec, "dim", p);
    cJSON_AddNumberToObject(sec, "classes", C);
    cJSON_AddBoolToObject(sec, "theorem1_applies", mg_theorem1_applies(p, C));
    cJSON_AddNumberToObject(sec, "n", n);
    cJSON_AddNumberToObject(sec, "p", p);
    cJSON_AddBoolToObject(sec, "underdetermined", info.underdetermined);
    if (info.underdetermined)
        cJSON_AddStringToObject(
            sec, "underdetermined_note",
            "n < p + 1: fewer examples than unknowns per output, so [h 1] of full row rank "
            "(fit_rank = n) is fitted exactly by the minimum-norm solution and resid_rel ~ 0 "
            "and mixup_sq_error ~ 0 are expected for ANY states: they are no evidence for "
            "Theorem 1 here; only fit_rank < n (and then resid_rel > 0) says something");
    cJSON_AddNumberToObject(sec, "rcond", info.rcond);
    cJSON_AddNumberToObject(sec, "fit_rank", info.rank);
    cJSON_AddNumberToObject(sec, "resid", info.resid);
    cJSON_AddNumberToObject(sec, "resid_rel", info.resid_rel);
    cJSON_AddNumberToObject(sec, "resid_rel_constant", const_rel);
    cJSON_AddNumberToObject(sec, "mixup_sq_error_mean", mean);
    cJSON_AddNumberToObject(sec, "mixup_pairs", pairs);
    cJSON_AddItemToObject(sec, "lambda", json_doubles(lam, NL));
    cJSON_AddItemToObject(sec, "mixup_sq_error", json_doubles(per, NL));
    cJSON_AddStringToObject(
        sec, "note",
        "least-squares fit (LAPACK dgelsd, rcond = max(n, p+1) FLT_EPSILON) of the one-hot "
        "labels on [h 1]: resid_rel = ||[h 1] B - Y||_F / ||Y||_F is the Theorem-1 gap of these "
        "representations (0 = an affine readout interpolates every mixup target exactly); "
        "resid_rel_constant = the same for the best constant predictor; mixup_sq_error = mean "
        "over random pairs of ||f(mix h) - mix y||^2 (summed over outputs) of that affine map");
    {
        gp_buf b;
        gp_buf_init(&b);
        an_title(x, &b, "mixup error of the least-squares affine readout");
        gp_buf_printf(&b,
                      "set xlabel '{/Symbol l}'\nset ylabel 'mean ||f(mix h) - mix y||^2'\n"
                      "set xrange [0:1]\nset yrange [0:*]\nset key top right\n"
                      "plot 'theory-mixup.tsv' using 1:2 with linespoints ls %d title "
                      "'affine fit, resid_{rel} = %.3g'\n",
                      x->mls, info.resid_rel);
        st = an_gp(x, "theory-mixup", "Theorem 1: mixup squared error of the affine fit", 800, 560,
                   NULL, &b);
        gp_buf_free(&b);
        if (st) goto done;
    }
    snprintf(x->line[AN_THEORY], sizeof x->line[0],
             "affine fit resid_rel %.4g (constant predictor %.4g, rank %d of %d); mixup sq error "
             "%.4g over %d pairs%s",
             info.resid_rel, const_rel, info.rank, p + 1, mean, pairs,
             info.underdetermined ? " [UNDERDETERMINED: n < p + 1, an exact fit is expected]"
                                  : "");
done:
    free(B);
    free(lam);
    free(per);
    free(rows);
    return st;
}

/* ---------------------------------------------------------------- margins */

enum { MK_PEN, MK_DEEPFOOL, MK_SEG_INPUT, MK_SEG_LAYER, MK_COUNT };
static const char *const k_mk_names[MK_COUNT] = {"penultimate", "deepfool", "segment_input",
                                                 "segment_layer"};

/* Quantiles, histogram file and JSON of one kind of margin values v (n,
 * NaN = not available) grouped by labels y. */
static mg_status margin_kind(an_ctx *x, int kind, const double *v, const int32_t *y, int n,
                             cJSON *sec, double *qrows, int *nq_rows, const char *xlabel,
                             gp_buf *fig, int *panels)
{
    const int C = x->C, NQ = MG_N_QUANTILE_LEVELS, HB = x->hist_bins;
    mg_status st = MG_OK;
    double *vf = alloc_d(n);
    int32_t *yf = malloc(sizeof(int32_t) * ((size_t)n + 1));
    double *q = alloc_d((size_t)C * NQ), *qa = alloc_d(NQ);
    int64_t *cnt = malloc(sizeof(int64_t) * (size_t)(C + 1) * HB);
    double *hrows = alloc_d((size_t)HB * (4 + C));
    an_cols *cols = malloc(sizeof *cols);
    if (!vf || !yf || !q || !qa || !cnt || !hrows || !cols) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory");
        goto done;
    }
    int m = 0, neg = 0;
    double sum = 0;
    int nfinite = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(v[i])) continue;
        vf[m] = v[i];
        yf[m++] = y[i];
        neg += v[i] < 0;
        if (isfinite(v[i])) {
            sum += v[i];
            nfinite++;
        }
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(sec, k_mk_names[kind], o);
    cJSON_AddNumberToObject(o, "n", n);
    cJSON_AddNumberToObject(o, "n_valid", m);
    if (m == 0) goto done;
    if ((st = mg_class_quantiles(vf, yf, m, C, mg_quantile_levels_default, NQ, q))) goto done;
    if ((st = mg_class_quantiles(vf, NULL, m, 1, mg_quantile_levels_default, NQ, qa))) goto done;
    cJSON_AddNumberToObject(o, "mean", nfinite ? sum / nfinite : NAN);
    cJSON_AddNumberToObject(o, "median", qa[3]);
    cJSON_AddNumberToObject(o, "frac_negative", (double)neg / m);
    cJSON_AddItemToObject(o, "quantile_levels", json_doubles(mg_quantile_levels_default, NQ));
    cJSON_AddItemToObject(o, "quantiles", json_doubles(qa, NQ));
    double *med = alloc_d(C);
    if (!med) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int c = 0; c < C; c++) med[c] = q[(size_t)c * NQ + 3];
    cJSON_AddItemToObject(o, "median_per_class", json_doubles(med, C));
    free(med);
    /* quantile rows: kind class n q... (class -1 = all) */
    {
        int *cn = calloc((size_t)C, sizeof(int));
        if (!cn) {
            st = mg_fail(MG_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (int i = 0; i < m; i++) cn[yf[i]]++;
        for (int c = -1; c < C; c++) {
            double *row = qrows + (size_t)(*nq_rows)++ * (3 + NQ);
            row[0] = kind;
            row[1] = c;
            row[2] = c < 0 ? m : cn[c];
            memcpy(row + 3, c < 0 ? qa : q + (size_t)c * NQ, sizeof(double) * NQ);
        }
        free(cn);
    }
    /* histograms: all + per class, common range */
    double lo, hi;
    int64_t nonfin = 0;
    if ((st = mg_class_histograms(vf, yf, m, C, HB, &lo, &hi, cnt + HB, &nonfin))) goto done;
    for (int b = 0; b < HB; b++) {
        int64_t t = 0;
        for (int c = 0; c < C; c++) t += cnt[(size_t)(c + 1) * HB + b];
        cnt[b] = t;
    }
    cJSON_AddNumberToObject(o, "hist_lo", lo);
    cJSON_AddNumberToObject(o, "hist_hi", hi);
    cJSON_AddNumberToObject(o, "n_nonfinite", (double)nonfin);
    cols->n = 0;
    cols_add(cols, "center", 0);
    cols_add(cols, "lo", 0);
    cols_add(cols, "hi", 0);
    cols_add(cols, "all", 0);
    for (int c = 0; c < C; c++) cols_add(cols, "class_%d", c);
    double w = isfinite(lo) && isfinite(hi) ? (hi - lo) / HB : NAN;
    for (int b = 0; b < HB; b++) {
        double *row = hrows + (size_t)b * (4 + C);
        row[0] = lo + (b + 0.5) * w;
        row[1] = lo + b * w;
        row[2] = lo + (b + 1) * w;
        row[3] = (double)cnt[b];
        for (int c = 0; c < C; c++) row[4 + c] = (double)cnt[(size_t)(c + 1) * HB + b];
    }
    char fname[96];
    snprintf(fname, sizeof fname, "margins-hist-%s.tsv", k_mk_names[kind]);
    if ((st = an_tsv(x, fname, cols->names, 4 + C, hrows, HB, 0))) goto done;
    {
        char q1[600], q2[200];
        char t[400];
        snprintf(t, sizeof t, "median %.3g, %.1f%% < 0, n = %d", qa[3], 100.0 * neg / m, m);
        gp_buf_printf(fig,
                      "set title %s\nset xlabel %s\nset ylabel 'count'\n"
                      "plot '%s' using 1:4:($3-$2) with boxes ls %d notitle\n",
                      gp_quote_text(q1, sizeof q1, t), gp_quote(q2, sizeof q2, xlabel), fname,
                      x->mls);
        (*panels)++;
    }
done:
    free(vf);
    free(yf);
    free(q);
    free(qa);
    free(cnt);
    free(hrows);
    free(cols);
    return st;
}

static mg_status an_margins(an_ctx *x, cJSON *sec)
{
    const int C = x->C, n = x->n, d0 = x->d0, NQ = MG_N_QUANTILE_LEVELS;
    const mg_dataset *d = x->d;
    mg_status st = MG_OK;
    double *v = alloc_d(n > x->pairs ? (size_t)n : (size_t)x->pairs);
    double *qrows = alloc_d((size_t)MK_COUNT * (C + 1) * (3 + NQ));
    int32_t *yl = calloc((size_t)(n > x->pairs ? n : x->pairs) + 1, sizeof(int32_t));
    int *sel = NULL, *ia = NULL, *ib = NULL;
    float *xs = NULL, *A = NULL, *Bm = NULL, *SA = NULL, *SB = NULL;
    mg_deepfool_result *df = NULL;
    mg_segment_result *seg = NULL;
    int nq = 0, panels = 0;
    gp_buf fig;
    gp_buf_init(&fig);
    if (!v || !qrows || !yl) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory");
        goto done;
    }
    gp_buf_printf(&fig, "set multiplot layout PANELS_ROWS,2\nset key off\n");
    char dl[120];
    /* exact margin in the input space of the final dense layer */
    {
        int nl = mg_model_n_layers(x->m);
        mg_layer_info li = mg_model_layer(x->m, nl - 1);
        if (x->feat) {
            if ((st = mg_penultimate_margins(x->feat, n, x->df, li.W, li.b, C, d->y, v)))
                goto done;
            if (x->feat == x->Hp)
                snprintf(dl, sizeof dl, "exact margin at layer %d", x->pen);
            else
                snprintf(dl, sizeof dl, "exact margin at the %d inputs of the final dense layer",
                         x->df);
            if ((st = margin_kind(x, MK_PEN, v, d->y, n, sec, qrows, &nq, dl, &fig, &panels)))
                goto done;
            cJSON *o = cJSON_GetObjectItem(sec, "penultimate");
            cJSON_AddNumberToObject(o, "features", x->df);
            cJSON_AddStringToObject(o, "space", x->feat_what);
            if (x->feat_own) cJSON_AddNumberToObject(o, "logit_check", x->feat_check);
        } else {
            cJSON_AddStringToObject(sec, "penultimate_skipped", "the last layer is not dense");
        }
    }
    /* DeepFool in input space on a random subset */
    {
        mg_rng rng;
        mg_rng_seed3(&rng, x->seed, MG_STREAM_ANALYSIS, 100 + AN_MARGINS);
        int m = x->max_examples < n ? x->max_examples : n;
        sel = random_subset(&rng, n, m);
        xs = malloc(sizeof(float) * (size_t)m * d0 + 1);
        df = malloc(sizeof *df * ((size_t)m + 1));
        if (!sel || !xs || !df) {
            st = mg_fail(MG_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (int i = 0; i < m; i++) {
            memcpy(xs + (size_t)i * d0, d->x + (size_t)sel[i] * d0, sizeof(float) * d0);
            yl[i] = d->y[sel[i]];
        }
        cli_progress_update("analyze: DeepFool on %d examples", m);
        mg_deepfool_config dc = mg_deepfool_config_default();
        if ((st = mg_deepfool(x->m, xs, m, &dc, df, NULL))) goto done;
        int conv = 0;
        double iters = 0;
        for (int i = 0; i < m; i++) {
            v[i] = df[i].converged ? df[i].norm : NAN;
            conv += df[i].converged;
            iters += df[i].iters;
        }
        if ((st = margin_kind(x, MK_DEEPFOOL, v, yl, m, sec, qrows, &nq,
                              "DeepFool distance in input space", &fig, &panels)))
            goto done;
        cJSON *o = cJSON_GetObjectItem(sec, "deepfool");
        cJSON_AddNumberToObject(o, "converged", conv);
        cJSON_AddNumberToObject(o, "mean_iters", m ? iters / m : NAN);
        cJSON_AddNumberToObject(o, "overshoot", dc.overshoot);
        cJSON_AddNumberToObject(o, "max_iter", dc.max_iter);
    }
    /* first crossings along segments between differently classified points */
    {
        mg_rng rng;
        mg_rng_seed3(&rng, x->seed, MG_STREAM_ANALYSIS, 200 + AN_MARGINS);
        int np = x->pairs;
        ia = malloc(sizeof(int) * ((size_t)np + 1));
        ib = malloc(sizeof(int) * ((size_t)np + 1));
        seg = malloc(sizeof *seg * ((size_t)np + 1));
        if (!ia || !ib || !seg) {
            st = mg_fail(MG_ERR_NOMEM, "out of memory");
            goto done;
        }
        st = mg_draw_pairs(x->pred, n, C, 0, np, &rng, ia, ib);
        if (st == MG_ERR_CONFIG) {
            st = MG_OK;
            cJSON_AddStringToObject(sec, "segments_skipped",
                                    "the model predicts a single class on these examples");
        } else if (st != MG_OK) {
            goto done;
        } else {
            const int dk = x->dk;
            A = malloc(sizeof(float) * (size_t)np * d0);
            Bm = malloc(sizeof(float) * (size_t)np * d0);
            if (!A || !Bm) {
                st = mg_fail(MG_ERR_NOMEM, "out of memory");
                goto done;
            }
            for (int i = 0; i < np; i++) {
                memcpy(A + (size_t)i * d0, d->x + (size_t)ia[i] * d0, sizeof(float) * d0);
                memcpy(Bm + (size_t)i * d0, d->x + (size_t)ib[i] * d0, sizeof(float) * d0);
                yl[i] = d->y[ia[i]];
            }
            mg_segment_config sc = mg_segment_config_default();
            cli_progress_update("analyze: segment crossings (%d pairs)", np);
            if ((st = mg_segment_crossings(x->m, 0, A, Bm, np, &sc, seg))) goto done;
            int found = 0;
            for (int i = 0; i < np; i++) {
                v[i] = seg[i].found ? seg[i].dist : NAN;
                found += seg[i].found;
            }
            if ((st = margin_kind(x, MK_SEG_INPUT, v, yl, np, sec, qrows, &nq,
                                  "first crossing along input segments (distance)", &fig,
                                  &panels)))
                goto done;
            cJSON *o = cJSON_GetObjectItem(sec, "segment_input");
            cJSON_AddNumberToObject(o, "found", found);
            if (x->k > 0) {
                SA = malloc(sizeof(float) * (size_t)np * dk);
                SB = malloc(sizeof(float) * (size_t)np * dk);
                if (!SA || !SB) {
                    st = mg_fail(MG_ERR_NOMEM, "out of memory");
                    goto done;
                }
                if ((st = mg_forward_all(x->m, 0, A, np, x->k, SA, NULL))) goto done;
                if ((st = mg_forward_all(x->m, 0, Bm, np, x->k, SB, NULL))) goto done;
                if ((st = mg_segment_crossings(x->m, x->k, SA, SB, np, &sc, seg))) goto done;
                found = 0;
                for (int i = 0; i < np; i++) {
                    v[i] = seg[i].found ? seg[i].dist : NAN;
                    found += seg[i].found;
                }
                snprintf(dl, sizeof dl, "first crossing along layer-%d segments (distance)", x->k);
                if ((st = margin_kind(x, MK_SEG_LAYER, v, yl, np, sec, qrows, &nq, dl, &fig,
                                      &panels)))
                    goto done;
                o = cJSON_GetObjectItem(sec, "segment_layer");
                cJSON_AddNumberToObject(o, "found", found);
            }
            cJSON_AddNumberToObject(sec, "segment_grid", sc.grid);
            cJSON_AddNumberToObject(sec, "segment_tol", sc.tol);
        }
    }
    cli_progress_clear();
    {
        const char *qc[3 + MG_N_QUANTILE_LEVELS] = {"kind", "class", "n",    "q0",  "q0.05",
                                                    "q0.25", "q0.5", "q0.75", "q0.95", "q1"};
        if ((st = an_tsv(x, "margins-quantiles.tsv", qc, 3 + NQ, qrows, nq, 0))) goto done;
    }
    cJSON_AddStringToObject(
        sec, "note",
        "penultimate: min_{j != y} (z_y - z_j) / ||w_y - w_j|| in the input space of the final "
        "dense layer (layer L-1 for an MLP; for a PreActResNet the global-average-pooled "
        "BN-ReLU features of layer L-1; negative = misclassified); deepfool: ||(1+overshoot) r|| in input space for the converged "
        "examples of a random subset; segment_*: distance from a to the first change of the "
        "predicted label along a->b, for pairs of differently predicted examples (grouped by the "
        "class of a); margins-quantiles.tsv kind: 0 penultimate, 1 deepfool, 2 segment_input, 3 "
        "segment_layer; class -1 = all; penultimate.logit_check (convolutional nets): max over "
        "examples and classes of |W f + b - z| / (1 + |z|), a self-check of the features f "
        "read out at the final dense layer");
    if (panels > 0) {
        /* the layout needs the panel count: patch the placeholder */
        char rows_s[16];
        snprintf(rows_s, sizeof rows_s, "%d", (panels + 1) / 2);
        gp_buf b2;
        gp_buf_init(&b2);
        const char *ph = strstr(fig.s, "PANELS_ROWS");
        gp_buf_printf(&b2, "%.*s%s%s", (int)(ph - fig.s), fig.s, rows_s,
                      ph + strlen("PANELS_ROWS"));
        gp_buf_printf(&b2, "unset multiplot\nset key top right\n");
        st = an_gp(x, "margins", "margin histograms (all classes)", 1100, 420 * ((panels + 1) / 2),
                   NULL, &b2);
        gp_buf_free(&b2);
        if (st) goto done;
    }
    {
        cJSON *p = cJSON_GetObjectItem(sec, "penultimate");
        cJSON *f = cJSON_GetObjectItem(sec, "deepfool");
        cJSON *si = cJSON_GetObjectItem(sec, "segment_input");
        cJSON *sl = cJSON_GetObjectItem(sec, "segment_layer");
        double pm = p ? cJSON_GetNumberValue(cJSON_GetObjectItem(p, "median")) : NAN;
        double pn = p ? cJSON_GetNumberValue(cJSON_GetObjectItem(p, "frac_negative")) : NAN;
        double fm = f ? cJSON_GetNumberValue(cJSON_GetObjectItem(f, "median")) : NAN;
        double sim = si ? cJSON_GetNumberValue(cJSON_GetObjectItem(si, "median")) : NAN;
        double slm = sl ? cJSON_GetNumberValue(cJSON_GetObjectItem(sl, "median")) : NAN;
        snprintf(x->line[AN_MARGINS], sizeof x->line[0],
                 "median: penultimate %.4g (%.1f%% negative), DeepFool %.4g, segment input %.4g, "
                 "layer %d %.4g",
                 pm, 100 * pn, fm, sim, x->k, slm);
    }
done:
    cli_progress_clear();
    gp_buf_free(&fig);
    free(v);
    free(qrows);
    free(yl);
    free(sel);
    free(ia);
    free(ib);
    free(xs);
    free(A);
    free(Bm);
    free(SA);
    free(SB);
    free(df);
    free(seg);
    return st;
}

/* ---------------------------------------------------------------- confidence */

/* Fractions of v (n) in bins equal-width bins of [0, 1] (1 goes to the last). */
static void hist01(const double *v, int n, int bins, double *out, int stride)
{
    for (int b = 0; b < bins; b++) out[(size_t)b * stride] = 0;
    if (n <= 0) {
        for (int b = 0; b < bins; b++) out[(size_t)b * stride] = NAN;
        return;
    }
    for (int i = 0; i < n; i++) {
        if (!isfinite(v[i])) continue;
        int b = (int)(v[i] * bins);
        if (b < 0) b = 0;
        if (b >= bins) b = bins - 1;
        out[(size_t)b * stride] += 1.0 / n;
    }
}

static double mean_of(const double *v, int n)
{
    if (n <= 0) return NAN;
    double s = 0;
    for (int i = 0; i < n; i++) s += v[i];
    return s / n;
}

static mg_status an_confidence(an_ctx *x, cJSON *sec)
{
    mg_status st = MG_OK;
    mg_interp_result ir;
    mg_offmanifold_result orr;
    memset(&ir, 0, sizeof ir);
    memset(&orr, 0, sizeof orr);
    double *rows = NULL, *h = NULL;
    mg_rng rng;
    mg_rng_seed3(&rng, x->seed, MG_STREAM_ANALYSIS, 100 + AN_CONFIDENCE);
    mg_interp_config ic = mg_interp_config_default();
    ic.layer = x->k;
    ic.n_pairs = x->pairs;
    ic.n_lambda = x->lambdas;
    cli_progress_update("analyze: interpolation paths");
    if ((st = mg_interp_paths(x->m, x->d, &ic, &rng, &ir))) goto done;
    const int NL = ir.n_lambda;
    rows = alloc_d((size_t)NL * 7);
    if (!rows) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int l = 0; l < NL; l++) {
        double *r = rows + (size_t)l * 7;
        r[0] = ir.lambda[l];
        for (int t = 0; t < 2; t++) {
            r[1 + 3 * t] = ir.maxprob[t][l];
            r[2 + 3 * t] = ir.entropy[t][l];
            r[3 + 3 * t] = ir.loss[t][l];
        }
    }
    static const char *const icol[7] = {"lambda",       "maxprob_same", "entropy_same",
                                        "loss_same",    "maxprob_diff", "entropy_diff",
                                        "loss_diff"};
    if ((st = an_tsv(x, "interp.tsv", icol, 7, rows, NL, 0))) goto done;
    cJSON *io = cJSON_CreateObject();
    cJSON_AddItemToObject(sec, "interp", io);
    cJSON_AddNumberToObject(io, "layer", x->k);
    cJSON_AddNumberToObject(io, "pairs_same", ir.n_pairs[0]);
    cJSON_AddNumberToObject(io, "pairs_diff", ir.n_pairs[1]);
    int mid = NL / 2;
    cJSON_AddNumberToObject(io, "lambda_mid", ir.lambda[mid]);
    cJSON_AddNumberToObject(io, "maxprob_same_mid", ir.maxprob[0][mid]);
    cJSON_AddNumberToObject(io, "maxprob_diff_mid", ir.maxprob[1][mid]);
    cJSON_AddNumberToObject(io, "entropy_same_mid", ir.entropy[0][mid]);
    cJSON_AddNumberToObject(io, "entropy_diff_mid", ir.entropy[1][mid]);
    cJSON_AddNumberToObject(io, "maxprob_same_mean", mean_of(ir.maxprob[0], NL));
    cJSON_AddNumberToObject(io, "maxprob_diff_mean", mean_of(ir.maxprob[1], NL));
    cJSON_AddNumberToObject(io, "entropy_same_mean", mean_of(ir.entropy[0], NL));
    cJSON_AddNumberToObject(io, "entropy_diff_mean", mean_of(ir.entropy[1], NL));
    cJSON_AddNumberToObject(io, "loss_same_mean", mean_of(ir.loss[0], NL));
    cJSON_AddNumberToObject(io, "loss_diff_mean", mean_of(ir.loss[1], NL));
    {
        gp_buf b;
        gp_buf_init(&b);
        int ls = x->mls, ld = x->mls + 3;
        gp_buf_printf(&b, "set multiplot layout 1,3\nset xlabel '{/Symbol l}'\nset xrange [0:1]\n"
                          "set key bottom center\n");
        an_title(x, &b, "max softmax");
        gp_buf_printf(&b,
                      "set yrange [0:1.02]\nset ylabel 'max softmax'\n"
                      "plot 'interp.tsv' using 1:2 with lines ls %d title 'same class', '' using "
                      "1:5 with lines ls %d title 'different classes'\n",
                      ld, ls);
        gp_buf_printf(&b, "set title 'entropy / ln C'\nset ylabel 'entropy / ln C'\n"
                          "unset key\n"
                          "plot 'interp.tsv' using 1:3 with lines ls %d title 'same class', '' "
                          "using 1:6 with lines ls %d title 'different classes'\n",
                      ld, ls);
        gp_buf_printf(&b, "set title 'mixup loss (CE vs the mixed target)'\nset yrange [0:*]\n"
                          "set ylabel 'loss'\n"
                          "plot 'interp.tsv' using 1:4 with lines ls %d title 'same class', '' "
                          "using 1:7 with lines ls %d title 'different classes'\n"
                          "unset multiplot\nset key top right\nset yrange [*:*]\n",
                      ld, ls);
        st = an_gp(x, "interp", "interpolation paths at layer k", 1400, 460, NULL, &b);
        gp_buf_free(&b);
        if (st) goto done;
    }
    cli_progress_update("analyze: off-manifold points");
    mg_offmanifold_config oc = mg_offmanifold_config_default();
    oc.n_uniform = x->n_uniform;
    oc.n_noise = x->n_noise;
    oc.max_data = 0;
    if ((st = mg_offmanifold(x->m, x->d, &oc, &rng, &orr))) goto done;
    const int HB = x->hist_bins;
    h = alloc_d((size_t)HB * 9);
    if (!h) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int b = 0; b < HB; b++) {
        h[(size_t)b * 9] = (b + 0.5) / HB;
        h[(size_t)b * 9 + 1] = (double)b / HB;
        h[(size_t)b * 9 + 2] = (double)(b + 1) / HB;
    }
    hist01(orr.data_maxprob, orr.n_data, HB, h + 3, 9);
    hist01(orr.uniform_maxprob, orr.n_uniform, HB, h + 4, 9);
    hist01(orr.noise_maxprob, orr.n_noise, HB, h + 5, 9);
    hist01(orr.data_entropy, orr.n_data, HB, h + 6, 9);
    hist01(orr.uniform_entropy, orr.n_uniform, HB, h + 7, 9);
    hist01(orr.noise_entropy, orr.n_noise, HB, h + 8, 9);
    static const char *const oc_cols[9] = {
        "center",          "lo",           "hi",
        "data_maxprob",    "uniform_maxprob", "noise_maxprob",
        "data_entropy",    "uniform_entropy", "noise_entropy"};
    if ((st = an_tsv(x, "offmanifold-hist.tsv", oc_cols, 9, h, HB, 0))) goto done;
    cJSON *oo = cJSON_CreateObject();
    cJSON_AddItemToObject(sec, "offmanifold", oo);
    cJSON_AddNumberToObject(oo, "n_data", orr.n_data);
    cJSON_AddNumberToObject(oo, "n_uniform", orr.n_uniform);
    cJSON_AddNumberToObject(oo, "n_noise", orr.n_noise);
    cJSON_AddNumberToObject(oo, "data_maxprob_mean", mean_of(orr.data_maxprob, orr.n_data));
    cJSON_AddNumberToObject(oo, "uniform_maxprob_mean",
                            mean_of(orr.uniform_maxprob, orr.n_uniform));
    cJSON_AddNumberToObject(oo, "noise_maxprob_mean", mean_of(orr.noise_maxprob, orr.n_noise));
    cJSON_AddNumberToObject(oo, "data_entropy_mean", mean_of(orr.data_entropy, orr.n_data));
    cJSON_AddNumberToObject(oo, "uniform_entropy_mean",
                            mean_of(orr.uniform_entropy, orr.n_uniform));
    cJSON_AddNumberToObject(oo, "noise_entropy_mean", mean_of(orr.noise_entropy, orr.n_noise));
    cJSON_AddNumberToObject(oo, "auroc_uniform_maxprob", orr.auroc_uniform_maxprob);
    cJSON_AddNumberToObject(oo, "auroc_uniform_entropy", orr.auroc_uniform_entropy);
    cJSON_AddNumberToObject(oo, "auroc_noise_maxprob", orr.auroc_noise_maxprob);
    cJSON_AddNumberToObject(oo, "auroc_noise_entropy", orr.auroc_noise_entropy);
    cJSON_AddStringToObject(
        sec, "note",
        "interp: states at layer k of random pairs (same class / different classes) mixed "
        "h = lam h_i + (1-lam) h_j and pushed on; offmanifold: inputs uniform over the data's "
        "bounding box and Gaussian noise with the data's per-feature mean and std (clipped to "
        "its range); AUROC of data (positive) vs those, score = max softmax or 1 - entropy/ln C "
        "(1 = the model is always more confident on data); histograms are fractions");
    {
        gp_buf b;
        gp_buf_init(&b);
        gp_buf_printf(&b, "set multiplot layout 1,2\nset xrange [0:1]\nset yrange [0:*]\n"
                          "set ylabel 'fraction'\nset style fill transparent solid 0.35 noborder\n"
                          "set key top center\n");
        an_title(x, &b, "max softmax: data vs off-manifold");
        gp_buf_printf(&b,
                      "set xlabel 'max softmax'\n"
                      "plot 'offmanifold-hist.tsv' using 1:4:($3-$2) with boxes ls %d title "
                      "'data', '' using 1:5:($3-$2) with boxes ls 8 lc rgb '#808080' title "
                      "'uniform box', '' using 1:6:($3-$2) with boxes lc rgb '#59a14f' title "
                      "'noise'\n",
                      x->mls);
        gp_buf_printf(&b,
                      "set title 'entropy / ln C'\nset xlabel 'entropy / ln C'\n"
                      "plot 'offmanifold-hist.tsv' using 1:7:($3-$2) with boxes ls %d title "
                      "'data', '' using 1:8:($3-$2) with boxes lc rgb '#808080' title "
                      "'uniform box', '' using 1:9:($3-$2) with boxes lc rgb '#59a14f' title "
                      "'noise'\n"
                      "unset multiplot\nset style fill solid 0.6 noborder\nset key top right\n",
                      x->mls);
        st = an_gp(x, "offmanifold", "confidence on data and off-manifold inputs", 1200, 480,
                   NULL, &b);
        gp_buf_free(&b);
        if (st) goto done;
    }
    snprintf(x->line[AN_CONFIDENCE], sizeof x->line[0],
             "max softmax at lambda %.2g: same %.4g, different %.4g; AUROC data vs uniform %.4g, "
             "vs noise %.4g (max softmax)",
             ir.lambda[mid], ir.maxprob[0][mid], ir.maxprob[1][mid], orr.auroc_uniform_maxprob,
             orr.auroc_noise_maxprob);
done:
    cli_progress_clear();
    mg_interp_result_free(&ir);
    mg_offmanifold_result_free(&orr);
    free(rows);
    free(h);
    return st;
}

/* ---------------------------------------------------------------- calibration */

static mg_status an_calibration(an_ctx *x, cJSON *sec)
{
    const int n = x->n, C = x->C, B = x->bins;
    mg_status st = MG_OK;
    double *p = alloc_d((size_t)n * C), *rows = alloc_d((size_t)B * 6);
    mg_reliability_bin *rel = malloc(sizeof *rel * (size_t)B);
    if (!p || !rows || !rel) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory");
        goto done;
    }
    mg_softmax_f64(x->logits, n, C, p);
    mg_calibration cal;
    if ((st = mg_calibration_f64(p, n, C, x->d->y, B, &cal, rel))) goto done;
    for (int b = 0; b < B; b++) {
        double *r = rows + (size_t)b * 6;
        r[0] = rel[b].lo;
        r[1] = rel[b].hi;
        r[2] = 0.5 * (rel[b].lo + rel[b].hi);
        r[3] = (double)rel[b].count;
        r[4] = rel[b].conf;
        r[5] = rel[b].acc;
    }
    static const char *const rc[6] = {"lo", "hi", "mid", "count", "conf", "acc"};
    if ((st = an_tsv(x, "reliability.tsv", rc, 6, rows, B, 0))) goto done;
    cJSON_AddNumberToObject(sec, "n", cal.n);
    cJSON_AddNumberToObject(sec, "bins", cal.bins);
    cJSON_AddNumberToObject(sec, "accuracy", cal.accuracy);
    cJSON_AddNumberToObject(sec, "mean_conf", cal.mean_conf);
    cJSON_AddNumberToObject(sec, "ece", cal.ece);
    cJSON_AddNumberToObject(sec, "mce", cal.mce);
    cJSON_AddNumberToObject(sec, "oe", cal.oe);
    cJSON_AddNumberToObject(sec, "nll", cal.nll);
    cJSON_AddNumberToObject(sec, "brier", cal.brier);
    cJSON_AddNumberToObject(sec, "nll_floored", (double)cal.nll_floored);
    cJSON_AddNumberToObject(sec, "nll_prob_floor", MG_NLL_PROB_FLOOR);
    cJSON_AddStringToObject(sec, "note",
                            "equal-width bins of max softmax over (0, 1]; ECE = sum_b |B_b|/n "
                            "|acc_b - conf_b|; MCE = max over non-empty bins; OE = "
                            "overconfidence; Brier summed over classes, mean over examples");
    {
        gp_buf b;
        gp_buf_init(&b);
        char t[200];
        snprintf(t, sizeof t, "reliability (ECE %.3g, %d bins)", cal.ece, B);
        an_title(x, &b, t);
        gp_buf_printf(&b,
                      "set size ratio 1\nset xrange [0:1]\nset yrange [0:1]\n"
                      "set xlabel 'confidence (max softmax)'\nset ylabel 'accuracy'\n"
                      "set key top left\n"
                      "plot 'reliability.tsv' using 3:6:($2-$1) with boxes ls %d title "
                      "'accuracy per bin', \\\n"
                      "     '' using 5:6 with points ls 1 pt 7 ps 0.8 title 'mean confidence', \\\n"
                      "     x with lines ls 8 title 'perfect calibration'\n"
                      "set size noratio\n",
                      x->mls);
        st = an_gp(x, "reliability", "reliability diagram", 640, 640, NULL, &b);
        gp_buf_free(&b);
        if (st) goto done;
    }
    snprintf(x->line[AN_CALIBRATION], sizeof x->line[0],
             "ECE %.4g (%d bins), MCE %.4g, OE %.4g, NLL %.4g, Brier %.4g, accuracy %.4g",
             cal.ece, B, cal.mce, cal.oe, cal.nll, cal.brier, cal.accuracy);
done:
    free(p);
    free(rows);
    free(rel);
    return st;
}

/* ---------------------------------------------------------------- collapse */

static mg_status an_collapse(an_ctx *x, cJSON *sec)
{
    int nl = mg_model_n_layers(x->m);
    mg_layer_info li = mg_model_layer(x->m, nl - 1);
    if (!x->feat) {
        cJSON_AddStringToObject(sec, "skipped", "the last layer is not dense");
        snprintf(x->line[AN_COLLAPSE], sizeof x->line[0], "skipped (last layer not dense)");
        return MG_OK;
    }
    mg_collapse nc;
    mg_status st = mg_neural_collapse(x->feat, x->n, x->df, x->d->y, x->C, li.W, x->logits, &nc);
    if (st) return st;
    cJSON_AddNumberToObject(sec, "layer", x->pen);
    cJSON_AddStringToObject(sec, "features", x->feat_what);
    if (x->feat_own) cJSON_AddNumberToObject(sec, "logit_check", x->feat_check);
    cJSON_AddNumberToObject(sec, "n", nc.n);
    cJSON_AddNumberToObject(sec, "p", nc.p);
    cJSON_AddNumberToObject(sec, "sb_rank", nc.sb_rank);
    cJSON_AddNumberToObject(sec, "tr_sw", nc.tr_sw);
    cJSON_AddNumberToObject(sec, "tr_sb", nc.tr_sb);
    cJSON_AddNumberToObject(sec, "nc1", nc.nc1);
    cJSON_AddNumberToObject(sec, "equinorm_means", nc.equinorm_means);
    cJSON_AddNumberToObject(sec, "equinorm_w", nc.equinorm_w);
    cJSON_AddNumberToObject(sec, "equiangle_means", nc.equiangle_means);
    cJSON_AddNumberToObject(sec, "equiangle_w", nc.equiangle_w);
    cJSON_AddNumberToObject(sec, "equiangle_means_max", nc.equiangle_means_max);
    cJSON_AddNumberToObject(sec, "equiangle_w_max", nc.equiangle_w_max);
    cJSON_AddNumberToObject(sec, "nc3", nc.nc3);
    cJSON_AddNumberToObject(sec, "nc4", nc.nc4);
    cJSON_AddNumberToObject(sec, "ncc_accuracy", nc.ncc_accuracy);
    cJSON_AddStringToObject(sec, "note",
                            "Papyan, Han & Donoho (2020) on the features entering the last dense "
                            "layer W (layer L-1 for an MLP; see features): "
                            "NC1 = Tr(S_W S_B^+)/C; NC2 equinorm (std/mean of norms) and "
                            "equiangularity (|cos + 1/(C-1)|); NC3 = ||W/||W|| - M/||M||||_F^2; "
                            "NC4 = nearest-class-centre agreement with the argmax");
    snprintf(x->line[AN_COLLAPSE], sizeof x->line[0],
             "NC1 %.4g, equinorm %.4g / %.4g, equiangle %.4g / %.4g, NC3 %.4g, NC4 %.4g (%s)",
             nc.nc1, nc.equinorm_means, nc.equinorm_w, nc.equiangle_means, nc.equiangle_w, nc.nc3,
             nc.nc4, x->feat == x->Hp ? "layer L-1" : "dense-layer inputs");
    return MG_OK;
}

/* ---------------------------------------------------------------- fgsm */

static mg_status an_fgsm(an_ctx *x, cJSON *sec)
{
    const mg_dataset *d = x->d;
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < (size_t)d->n * d->dim; i++) {
        if (d->x[i] < lo) lo = d->x[i];
        if (d->x[i] > hi) hi = d->x[i];
    }
    mg_fgsm_config fc = mg_fgsm_config_default();
    fc.eps = x->eps;
    fc.n_eps = x->n_eps;
    const char *clip_note;
    if (x->no_clip) {
        fc.clip = 0;
        clip_note = "none (--fgsm-no-clip)";
    } else if (lo >= 0.0f && hi <= 1.0f) {
        fc.clip = 1;
        fc.lo = 0.0f;
        fc.hi = 1.0f;
        clip_note = "[0, 1] (the data lies in [0, 1])";
    } else {
        fc.clip = 1;
        fc.lo = lo;
        fc.hi = hi;
        clip_note = "the data's [min, max] (the data is not in [0, 1])";
    }
    double acc[AN_MAX_EPS], rows[2 * AN_MAX_EPS];
    cli_progress_update("analyze: FGSM on %d examples", d->n);
    mg_status st = mg_fgsm_accuracy(x->m, d, &fc, acc);
    cli_progress_clear();
    if (st) return st;
    for (int e = 0; e < x->n_eps; e++) {
        rows[2 * e] = x->eps[e];
        rows[2 * e + 1] = acc[e];
    }
    static const char *const fcol[2] = {"eps", "accuracy"};
    if ((st = an_tsv(x, "fgsm.tsv", fcol, 2, rows, x->n_eps, 0))) return st;
    cJSON_AddNumberToObject(sec, "n", d->n);
    cJSON_AddItemToObject(sec, "eps", json_doubles(x->eps, x->n_eps));
    cJSON_AddItemToObject(sec, "accuracy", json_doubles(acc, x->n_eps));
    cJSON_AddBoolToObject(sec, "clip", fc.clip);
    if (fc.clip) {
        cJSON_AddNumberToObject(sec, "clip_lo", fc.lo);
        cJSON_AddNumberToObject(sec, "clip_hi", fc.hi);
    }
    cJSON_AddStringToObject(sec, "clip_rule", clip_note);
    cJSON_AddStringToObject(sec, "note",
                            "white-box one-step FGSM x' = clip(x + eps sign(grad_x CE)), "
                            "gradient in evaluation mode; eps in input units");
    {
        gp_buf b;
        gp_buf_init(&b);
        an_title(x, &b, "FGSM accuracy");
        gp_buf_printf(&b,
                      "set xlabel '{/Symbol e} (input units)'\nset ylabel 'accuracy'\n"
                      "set yrange [0:1]\nset key top right\n"
                      "plot 'fgsm.tsv' using 1:2 with linespoints ls %d title 'FGSM accuracy'\n",
                      x->mls);
        st = an_gp(x, "fgsm", "FGSM accuracy over epsilon", 800, 560, NULL, &b);
        gp_buf_free(&b);
        if (st) return st;
    }
    int o = snprintf(x->line[AN_FGSM], sizeof x->line[0], "accuracy");
    for (int e = 0; e < x->n_eps && o < (int)sizeof x->line[0] - 40; e++)
        o += snprintf(x->line[AN_FGSM] + o, sizeof x->line[0] - (size_t)o, "%s eps %g: %.4g",
                      e ? "," : "", x->eps[e], acc[e]);
    return MG_OK;
}

/* ---------------------------------------------------------------- maps */

/* The box of 2-D points (several arrays of n_i x 2 floats), padded by frac
 * of its size (or by 1 when flat). */
static void box_of(const float *const *pts, const int *np, int nset, double frac, double box[4])
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int s = 0; s < nset; s++)
        for (int i = 0; i < np[s]; i++) {
            double a = pts[s][2 * i], b = pts[s][2 * i + 1];
            if (!isfinite(a) || !isfinite(b)) continue;
            x0 = fmin(x0, a);
            x1 = fmax(x1, a);
            y0 = fmin(y0, b);
            y1 = fmax(y1, b);
        }
    if (!(x0 <= x1)) x0 = -1, x1 = 1;
    if (!(y0 <= y1)) y0 = -1, y1 = 1;
    double px = x1 > x0 ? frac * (x1 - x0) : 1.0, py = y1 > y0 ? frac * (y1 - y0) : 1.0;
    box[0] = x0 - px;
    box[1] = x1 + px;
    box[2] = y0 - py;
    box[3] = y1 + py;
}

/* Grid map file: x y class conf r g b (scan lines of G points). */
static mg_status map_file(an_ctx *x, const char *name, int layer, const double box[4], cJSON *o,
                          double *mean_conf)
{
    const int G = x->grid, C = x->C;
    const size_t N = (size_t)G * G;
    int32_t *cls = malloc(sizeof(int32_t) * N);
    float *conf = malloc(sizeof(float) * N);
    double *rows = alloc_d(N * 7);
    mg_status st = MG_OK;
    if (!cls || !conf || !rows) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory (%d x %d map)", G, G);
        goto done;
    }
    if ((st = mg_map2d(x->m, layer, box, G, G, cls, conf))) goto done;
    double sc = 0;
    size_t low = 0;
    for (size_t i = 0; i < N; i++) {
        int ix = (int)(i % G), iy = (int)(i / G);
        double *r = rows + i * 7;
        r[0] = box[0] + ix * (box[1] - box[0]) / (G - 1);
        r[1] = box[2] + iy * (box[3] - box[2]) / (G - 1);
        r[2] = cls[i];
        r[3] = conf[i];
        /* class colour blended with white by the confidence above chance */
        double s = (conf[i] - 1.0 / C) / (1.0 - 1.0 / C);
        s = s < 0 ? 0 : s > 1 ? 1 : s;
        unsigned char rgb[3];
        gp_class_rgb_bytes(cls[i], rgb);
        for (int ch = 0; ch < 3; ch++) r[4 + ch] = round(255.0 - 0.75 * s * (255.0 - rgb[ch]));
        sc += conf[i];
        low += conf[i] < 0.9f;
    }
    static const char *const mc[7] = {"x", "y", "class", "conf", "r", "g", "b"};
    if ((st = an_tsv(x, name, mc, 7, rows, (int)N, G))) goto done;
    *mean_conf = sc / (double)N;
    cJSON_AddItemToObject(o, "box", json_doubles(box, 4));
    cJSON_AddNumberToObject(o, "grid", G);
    cJSON_AddNumberToObject(o, "grid_mean_conf", sc / (double)N);
    cJSON_AddNumberToObject(o, "grid_frac_conf_below_0.9", (double)low / (double)N);
done:
    free(cls);
    free(conf);
    free(rows);
    return st;
}

/* points file: x y label pred (at most cap random points, all when cap >= n) */
static mg_status points_file(an_ctx *x, const char *name, const float *P, int n, int cap,
                             mg_rng *rng)
{
    int m = n < cap ? n : cap;
    int *sel = m < n ? random_subset(rng, n, m) : NULL;
    double *rows = alloc_d((size_t)m * 4);
    mg_status st = MG_OK;
    if (!rows || (m < n && !sel)) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int j = 0; j < m; j++) {
        int i = sel ? sel[j] : j;
        rows[4 * j] = P[2 * (size_t)i];
        rows[4 * j + 1] = P[2 * (size_t)i + 1];
        rows[4 * j + 2] = x->d->y[i];
        rows[4 * j + 3] = x->pred[i];
    }
    static const char *const pc[4] = {"x", "y", "label", "pred"};
    st = an_tsv(x, name, pc, 4, rows, m, 0);
done:
    free(sel);
    free(rows);
    return st;
}

static void map_points_plot(an_ctx *x, gp_buf *b, const char *points)
{
    gp_buf_printf(b,
                  "     for [c=0:%d] '%s' using 1:($3 == c ? $2 : NaN) with points ls (11 + c %% "
                  "10) pt 7 ps 0.45 title cls_name[c+1] noenhanced",
                  x->C - 1, points);
}

static mg_status an_maps(an_ctx *x, cJSON *sec)
{
    mg_status st = MG_OK;
    mg_rng rng;
    mg_rng_seed3(&rng, x->seed, MG_STREAM_ANALYSIS, 100 + AN_MAPS);
    float *U = NULL, *Ux = NULL;
    int32_t *upred = NULL;
    double *uconf = NULL, *urows = NULL;
    const int cap = 20000;
    int lp = 0;
    char rep[480] = "";
    gp_buf setup;
    gp_buf_init(&setup);
    class_names_setup(x, &setup);
    if (x->d0 == 2) {
        double box[4], mc;
        const float *pts[1] = {x->d->x};
        int np[1] = {x->n};
        box_of(pts, np, 1, 0.1, box);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(sec, "input", o);
        cli_progress_update("analyze: input-space map");
        if ((st = map_file(x, "map-input.tsv", 0, box, o, &mc))) goto done;
        if ((st = points_file(x, "points-input.tsv", x->d->x, x->n, cap, &rng))) goto done;
        gp_buf b;
        gp_buf_init(&b);
        an_title(x, &b, "input space: predicted class, shaded by confidence");
        gp_buf_printf(&b,
                      "set xrange [%.9g:%.9g]\nset yrange [%.9g:%.9g]\nset size ratio -1\n"
                      "set xlabel 'x_1'\nset ylabel 'x_2'\nset key outside right top\n"
                      "unset grid\nset style fill solid 1 noborder\n"
                      "plot 'map-input.tsv' using 1:2:5:6:7 with rgbimage notitle, \\\n",
                      box[0], box[1], box[2], box[3]);
        map_points_plot(x, &b, "points-input.tsv");
        gp_buf_printf(&b, "\nset size noratio\nset grid\n");
        st = an_gp(x, "map-input", "decision regions and confidence over the input box (Fig. 1a,b)",
                   900, 720, &setup, &b);
        gp_buf_free(&b);
        if (st) goto done;
        gp_buf_init(&b);
        an_title(x, &b, "input space: confidence (max softmax)");
        gp_buf_printf(&b,
                      "set xrange [%.9g:%.9g]\nset yrange [%.9g:%.9g]\nset size ratio -1\n"
                      "set cbrange [%.9g:1]\nset cblabel 'max softmax'\n"
                      "set xlabel 'x_1'\nset ylabel 'x_2'\nset key outside right top\n"
                      "unset grid\nset style fill solid 1 noborder\n"
                      "plot 'map-input.tsv' using 1:2:4 with image notitle, \\\n",
                      box[0], box[1], box[2], box[3], 1.0 / x->C);
        map_points_plot(x, &b, "points-input.tsv");
        gp_buf_printf(&b, "\nset size noratio\nset grid\n");
        st = an_gp(x, "map-input-conf", "confidence over the input box with the data", 960, 720,
                   &setup, &b);
        gp_buf_free(&b);
        if (st) goto done;
        lp += snprintf(rep + lp, sizeof rep - (size_t)lp, "input map mean conf %.4g", mc);
    }
    if (x->dk == 2 && x->k > 0) {
        const int nu = x->n_uniform, d0 = x->d0;
        float *lo = malloc(sizeof(float) * d0), *hi = malloc(sizeof(float) * d0);
        U = malloc(sizeof(float) * 2 * ((size_t)nu + 1));
        upred = malloc(sizeof(int32_t) * ((size_t)nu + 1));
        uconf = alloc_d(nu);
        urows = alloc_d((size_t)nu * 4);
        if (!lo || !hi || !U || !upred || !uconf || !urows) {
            free(lo);
            free(hi);
            st = mg_fail(MG_ERR_NOMEM, "out of memory");
            goto done;
        }
        mg_data_stats(x->d, lo, hi, NULL, NULL);
        cli_progress_update("analyze: hidden-space map");
        st = mg_uniform_states(x->m, lo, hi, nu, x->k, &rng, NULL, U);
        free(lo);
        free(hi);
        if (st) goto done;
        if (nu > 0 && (st = mg_predict(x->m, x->k, U, nu, upred, uconf))) goto done;
        double box[4], mc;
        const float *pts[2] = {x->Hk, U};
        int np[2] = {x->n, nu};
        box_of(pts, np, 2, 0.05, box);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(sec, "hidden", o);
        cJSON_AddNumberToObject(o, "layer", x->k);
        cJSON_AddNumberToObject(o, "n_uniform", nu);
        cJSON_AddNumberToObject(o, "uniform_maxprob_mean", mean_of(uconf, nu));
        if ((st = map_file(x, "map-hidden.tsv", x->k, box, o, &mc))) goto done;
        if ((st = points_file(x, "points-hidden.tsv", x->Hk, x->n, cap, &rng))) goto done;
        for (int i = 0; i < nu; i++) {
            urows[4 * i] = U[2 * i];
            urows[4 * i + 1] = U[2 * i + 1];
            urows[4 * i + 2] = upred[i];
            urows[4 * i + 3] = uconf[i];
        }
        static const char *const uc[4] = {"x", "y", "pred", "conf"};
        if ((st = an_tsv(x, "uniform-hidden.tsv", uc, 4, urows, nu, 0))) goto done;
        gp_buf b;
        gp_buf_init(&b);
        char t[160];
        snprintf(t, sizeof t, "layer %d: confidence, uniform-box inputs (+), data", x->k);
        an_title(x, &b, t);
        gp_buf_printf(&b,
                      "set xrange [%.9g:%.9g]\nset yrange [%.9g:%.9g]\n"
                      "set cbrange [%.9g:1]\nset cblabel 'max softmax'\n"
                      "set xlabel 'h_1'\nset ylabel 'h_2'\nset key outside right top\n"
                      "unset grid\nset style fill solid 1 noborder\n"
                      "plot 'map-hidden.tsv' using 1:2:4 with image notitle, \\\n"
                      "     'uniform-hidden.tsv' using 1:2 with points pt 1 ps 0.4 lc rgb "
                      "'#000000' title 'uniform box inputs', \\\n",
                      box[0], box[1], box[2], box[3], 1.0 / x->C);
        map_points_plot(x, &b, "points-hidden.tsv");
        gp_buf_printf(&b, "\nset grid\n");
        st = an_gp(x, "map-hidden", "hidden-space map coloured by confidence (Fig. 1d,e)", 960,
                   720, &setup, &b);
        gp_buf_free(&b);
        if (st) goto done;
        lp += snprintf(rep + lp, sizeof rep - (size_t)lp,
                       "%slayer %d map mean conf %.4g, uniform-box inputs mean max softmax %.4g",
                       lp ? "; " : "", x->k, mc, mean_of(uconf, nu));
    }
    cJSON_AddStringToObject(sec, "note",
                            "map-*.tsv: an N x N grid over the box, predicted class, max softmax "
                            "and the colour shown (class colour blended with white by "
                            "(conf - 1/C)/(1 - 1/C)); points-*.tsv: the data (label, prediction)");
    snprintf(x->line[AN_MAPS], sizeof x->line[0], "%s", rep);
done:
    cli_progress_clear();
    gp_buf_free(&setup);
    free(U);
    free(Ux);
    free(upred);
    free(uconf);
    free(urows);
    return st;
}

/* ---------------------------------------------------------------- the command */

/* --only: "all" or names from k_an_names; want[] = 1 for each named one. */
static int parse_only(const cli_values *ev, int *want, int *explicit_list)
{
    const char *s = cli_get(ev, "only");
    char buf[1024];
    if (strlen(s) >= sizeof buf) return cli_bad(ev, "only", "list too long");
    snprintf(buf, sizeof buf, "%s", s);
    memset(want, 0, sizeof(int) * AN_COUNT);
    *explicit_list = 0;
    int any = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        while (*tok == ' ') tok++;
        size_t l = strlen(tok);
        while (l > 0 && tok[l - 1] == ' ') tok[--l] = '\0';
        if (l == 0) continue;
        any = 1;
        if (strcmp(tok, "all") == 0) {
            for (int a = 0; a < AN_COUNT; a++) want[a] = 1;
            continue;
        }
        int found = -1;
        for (int a = 0; a < AN_COUNT; a++)
            if (strcmp(tok, k_an_names[a]) == 0) found = a;
        if (found < 0) {
            char list[256] = "";
            for (int a = 0; a < AN_COUNT; a++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", a ? "," : "",
                         k_an_names[a]);
            return cli_bad(ev, "only", "unknown analysis '%s' (expected all or names from %s)",
                           tok, list);
        }
        want[found] = 1;
        *explicit_list = 1;
    }
    if (!any) return cli_bad(ev, "only", "empty list");
    return 0;
}

/* --eps: comma-separated finite numbers >= 0. */
static int parse_eps(const cli_values *ev, double *eps, int *n)
{
    const char *s = cli_get(ev, "eps");
    *n = 0;
    const char *p = s;
    for (;;) {
        char *end;
        double e = strtod(p, &end);
        if (end == p || !isfinite(e) || e < 0)
            return cli_bad(ev, "eps", "expected a comma-separated list of numbers >= 0");
        if (*n >= AN_MAX_EPS) return cli_bad(ev, "eps", "more than %d values", AN_MAX_EPS);
        eps[(*n)++] = e;
        while (*end == ' ') end++;
        if (*end == '\0') break;
        if (*end != ',')
            return cli_bad(ev, "eps", "expected a comma-separated list of numbers >= 0");
        p = end + 1;
    }
    return 0;
}

typedef mg_status (*an_fn)(an_ctx *x, cJSON *sec);

/* An integer option that may be "auto" (*out = -1, resolved later). */
static int get_int_or_auto(const cli_values *ev, const char *name, long lo, long hi, int *out)
{
    if (strcmp(cli_get(ev, name), "auto") == 0) {
        *out = -1;
        return 0;
    }
    return cli_get_int(ev, name, lo, hi, out);
}

static void an_ctx_free(an_ctx *x)
{
    if (!x) return;
    mg_spectra_result_free(x->spec);
    if (x->feat_own) free(x->feat);
    if (x->Hp != x->Hk) free(x->Hp);
    free(x->Hk);
    free(x->logits);
    free(x->pred);
    cJSON_Delete(x->root);
    free(x);
}

int cli_cmd_analyze(int argc, char **argv)
{
    build_table();
    cli_values ev;
    cli_values_init(&ev, k_opts, k_nopts);
    cli_analysis_run *ar = calloc(1, sizeof *ar);
    an_ctx *x = calloc(1, sizeof *x);
    int rc = CLI_EXIT_USAGE, npos = 0, flag = 0, opened = 0;
    char *pos[1] = {NULL};
    mg_status st = MG_OK;
    if (!ar || !x) {
        rc = cli_fail_status(mg_fail(MG_ERR_NOMEM, "out of memory"));
        goto done;
    }
    if (cli_parse_args(&ev, "analyze", argc, argv, pos, 1, &npos)) goto done;
    if (cli_get_bool(&ev, "help", &flag)) goto done;
    if (flag) {
        cli_print_help(stdout, &ev, k_usage, k_description, k_epilog);
        rc = CLI_EXIT_OK;
        goto done;
    }
    if (cli_get_bool(&ev, "quiet", &flag)) goto done;
    cli_set_quiet(flag);
    if (npos != 1) {
        cli_error("analyze: expected one run directory (usage: mixgeo analyze RUN --layer K)");
        goto done;
    }
    int explicit_list = 0, bad = 0;
    bad += parse_only(&ev, x->want, &explicit_list);
    bad += cli_get_u64(&ev, "seed", &x->seed);
    bad += cli_get_int(&ev, "bins", 1, 100000, &x->bins);
    bad += cli_get_int(&ev, "hist-bins", 1, 1000000, &x->hist_bins);
    bad += cli_get_int(&ev, "lambdas", 2, 1000000, &x->lambdas);
    bad += get_int_or_auto(&ev, "pairs", 1, 100000000, &x->pairs);
    bad += get_int_or_auto(&ev, "max-examples", 1, INT_MAX, &x->max_examples);
    bad += parse_eps(&ev, x->eps, &x->n_eps);
    bad += cli_get_bool(&ev, "fgsm-no-clip", &x->no_clip);
    bad += cli_get_int(&ev, "grid", 2, 4096, &x->grid);
    bad += cli_get_int(&ev, "n-uniform", 0, 100000000, &x->n_uniform);
    bad += cli_get_int(&ev, "n-noise", 0, 100000000, &x->n_noise);
    if (bad) goto done;

    opened = 1;
    x->max_per_class_auto = strcmp(cli_get(&ev, "max-per-class"), "auto") == 0;
    if ((rc = cli_analysis_open(ar, pos[0], &ev, 1)) != CLI_EXIT_OK) goto done;
    rc = CLI_EXIT_USAGE;
    x->r = ar;
    x->m = ar->m;
    x->d = ar->set;
    x->k = ar->layer;
    x->L = mg_model_n_blocks(x->m);
    x->pen = x->L - 1;
    x->C = mg_model_classes(x->m);
    x->n = x->d->n;
    x->d0 = mg_model_dim(x->m, 0);
    x->dk = mg_model_dim(x->m, x->k);
    x->dp = mg_model_dim(x->m, x->pen);
    x->mix = ar->c.train.mix;
    x->mls = gp_method_ls(x->mix);
    {
        int wide = an_model_wide(x->m, x->k);
        if (x->pairs < 0) x->pairs = wide ? AN_WIDE_PAIRS : 500;
        if (x->max_examples < 0) x->max_examples = wide ? AN_WIDE_MAX_EXAMPLES : 1000;
    }
    if (ar->c.data_kind == CLI_DATA_FASHION && x->C == 10) x->class_names = k_fashion_names;
    int maps_apply = x->d0 == 2 || (x->dk == 2 && x->k > 0);
    if (!maps_apply && x->want[AN_MAPS]) {
        if (explicit_list) {
            cli_error("--only maps: needs a 2-D input or a 2-D layer %d (the input has %d "
                      "features, layer %d has %d)",
                      x->k, x->d0, x->k, x->dk);
            goto done;
        }
        x->want[AN_MAPS] = 0;
    }

    /* output directory and provenance */
    const char *out = cli_get(&ev, "out");
    if (strcmp(out, "auto") == 0) {
        char sub[64];
        snprintf(sub, sizeof sub, "analysis/%s-L%d", ar->split_name, x->k);
        if ((st = cli_path(x->out, sizeof x->out, ar->run, sub))) {
            rc = cli_fail_status(st);
            goto done;
        }
    } else {
        if (strlen(out) >= sizeof x->out) {
            cli_bad(&ev, "out", "path too long");
            goto done;
        }
        snprintf(x->out, sizeof x->out, "%s", out);
    }
    if ((st = mg_mkdir_p(x->out))) {
        rc = cli_fail_status(st);
        goto done;
    }
    if ((st = cli_path(x->config, sizeof x->config, ar->run, "config.ini"))) {
        rc = cli_fail_status(st);
        goto done;
    }
    {
        char pv[2048];
        cli_provenance(pv, sizeof pv, x->seed, x->config);
        char mpc[32];
        if (ar->max_per_class > 0) snprintf(mpc, sizeof mpc, "%d", ar->max_per_class);
        else snprintf(mpc, sizeof mpc, "all");
        snprintf(x->prov, sizeof x->prov, "%s run=%s split=%s layer=%d n=%d max_per_class=%s",
                 pv, ar->run, ar->split_name, x->k, x->n, mpc);
        /* figure titles name the run by its last path component */
        char base[1024];
        snprintf(base, sizeof base, "%s", ar->run);
        size_t bl = strlen(base);
        while (bl > 1 && base[bl - 1] == '/') base[--bl] = '\0';
        const char *slash = strrchr(base, '/');
        const char *bn = slash && slash[1] ? slash + 1 : base;
        snprintf(x->label, sizeof x->label, "%s, %s, layer %d (%s)", bn, ar->split_name, x->k,
                 mg_mix_mode_name(x->mix));
    }

    /* summary skeleton */
    x->root = cli_json_stamped();
    x->files = cJSON_CreateArray();
    if (!x->root || !x->files) {
        cJSON_Delete(x->files);
        rc = cli_fail_status(mg_fail(MG_ERR_NOMEM, "out of memory"));
        goto done;
    }
    cJSON *root = x->root;
    cJSON_AddStringToObject(root, "run", ar->run);
    cJSON_AddStringToObject(root, "checkpoint", ar->ckpt);
    cJSON_AddStringToObject(root, "out", x->out);
    cJSON_AddStringToObject(root, "arch", mg_model_arch(x->m));
    cJSON_AddStringToObject(root, "mix", mg_mix_mode_name(x->mix));
    cJSON_AddStringToObject(root, "data", ar->c.data);
    cJSON_AddStringToObject(root, "split", ar->split_name);
    cJSON_AddNumberToObject(root, "layer", x->k);
    cJSON_AddNumberToObject(root, "layers", x->L);
    cJSON_AddNumberToObject(root, "dim", x->dk);
    cJSON_AddNumberToObject(root, "classes", x->C);
    cJSON_AddNumberToObject(root, "n", x->n);
    {
        cJSON *ch = cJSON_CreateObject();
        cJSON_AddItemToObject(root, "choices", ch);
        cJSON_AddNumberToObject(ch, "layer", x->k);
        cJSON_AddStringToObject(ch, "split", ar->split_name);
        if (ar->max_per_class > 0) cJSON_AddNumberToObject(ch, "max_per_class", ar->max_per_class);
        else cJSON_AddStringToObject(ch, "max_per_class", "all");
        if (x->max_per_class_auto)
            cJSON_AddStringToObject(ch, "max_per_class_rule",
                                    ar->max_per_class > 0
                                        ? "auto: 300 because layer K or layer L-1 has more than "
                                          "2048 features"
                                        : "auto: all (layers K and L-1 have at most 2048 "
                                          "features)");
        else
            cJSON_AddStringToObject(ch, "max_per_class_rule", "given (--max-per-class)");
        cJSON_AddNumberToObject(ch, "batch", mg_model_max_batch(x->m));
        cJSON_AddStringToObject(ch, "selection", "the first max_per_class examples of each class "
                                                 "in dataset order");
        cJSON_AddItemToObject(ch, "n_per_class", json_ints(ar->class_counts, x->C));
        cJSON_AddNumberToObject(ch, "seed", (double)x->seed);
        cJSON_AddStringToObject(ch, "centring",
                                "spectra: per class both centred on the class mean and "
                                "uncentred; pooled within-class (each class on its own mean) "
                                "and pooled total (overall mean)");
        cJSON *tol = cJSON_CreateObject();
        cJSON_AddStringToObject(tol, "rank_eps_rule", "#{s_k > s1 * max(n, p) * FLT_EPSILON}");
        cJSON_AddNumberToObject(tol, "flt_epsilon", MG_RANK_EPS);
        static const double rel[2] = {1e-2, 1e-3};
        cJSON_AddItemToObject(tol, "rank_rel", json_doubles(rel, 2));
        cJSON_AddStringToObject(tol, "affine_fit_rcond", "max(n, p + 1) * FLT_EPSILON");
        cJSON_AddItemToObject(ch, "tolerances", tol);
        cJSON_AddNumberToObject(ch, "bins", x->bins);
        cJSON_AddNumberToObject(ch, "hist_bins", x->hist_bins);
        cJSON_AddNumberToObject(ch, "lambdas", x->lambdas);
        cJSON_AddNumberToObject(ch, "pairs", x->pairs);
        cJSON_AddNumberToObject(ch, "max_examples", x->max_examples);
        cJSON_AddItemToObject(ch, "eps", json_doubles(x->eps, x->n_eps));
        cJSON_AddBoolToObject(ch, "fgsm_no_clip", x->no_clip);
        cJSON_AddNumberToObject(ch, "grid", x->grid);
        cJSON_AddNumberToObject(ch, "n_uniform", x->n_uniform);
        cJSON_AddNumberToObject(ch, "n_noise", x->n_noise);
        cJSON_AddNumberToObject(ch, "threads", ar->c.train.threads);
        cJSON_AddStringToObject(ch, "rng", "mg_rng_seed3(seed, MG_STREAM_ANALYSIS, 100 + index "
                                           "of the analysis [+100 per further draw])");
    }
    cJSON *an_list = cJSON_CreateArray();
    cJSON_AddItemToObject(root, "analyses", an_list);
    for (int a = 0; a < AN_COUNT; a++)
        if (x->want[a]) cJSON_AddItemToArray(an_list, cJSON_CreateString(k_an_names[a]));

    cli_signals_install();
    cli_info("analyze %s: %s split, layer %d of %d (%d features), %d examples in %d classes -> %s",
             ar->run, ar->split_name, x->k, x->L, x->dk, x->n, x->C, x->out);
    double t0 = cli_now();
    clock_t c0 = clock();
    st = run_pass(x);
    double t_pass = cli_now() - t0, c_pass = (double)(clock() - c0) / CLOCKS_PER_SEC;
    if (st != MG_OK) {
        rc = cli_fail_status(st);
        goto done;
    }
    static const an_fn fns[AN_COUNT] = {an_spectra,    an_corollary,   an_theory,
                                        an_margins,    an_confidence,  an_calibration,
                                        an_collapse,   an_fgsm,        an_maps};
    cJSON *secs = cJSON_CreateObject();
    cJSON_AddNumberToObject(secs, "forward_pass", t_pass);
    cJSON_AddNumberToObject(secs, "forward_pass_cpu", c_pass); /* all threads */
    for (int a = 0; a < AN_COUNT; a++) {
        if (!x->want[a]) continue;
        if (cli_stop_requested()) {
            cJSON_Delete(secs);
            rc = cli_fail_status(mg_fail(MG_ERR_INTERRUPTED, "interrupted"));
            goto done;
        }
        double t1 = cli_now();
        cli_progress_update("analyze: %s", k_an_names[a]);
        cJSON *sec = cJSON_CreateObject();
        cJSON_AddItemToObject(root, k_an_names[a], sec);
        st = fns[a](x, sec);
        if (st != MG_OK) {
            cJSON_Delete(secs);
            cli_error("analyze: %s failed", k_an_names[a]);
            rc = cli_fail_status(st);
            goto done;
        }
        x->seconds[a] = cli_now() - t1;
        cJSON_AddNumberToObject(secs, k_an_names[a], x->seconds[a]);
    }
    cJSON_AddNumberToObject(secs, "total", cli_now() - t0);
    cJSON_AddItemToObject(root, "seconds", secs);
    cJSON_AddItemToArray(x->files, cJSON_CreateString("summary.json"));
    cJSON_AddItemToObject(root, "files", x->files);
    x->files = NULL; /* owned by root now */
    char sp[4200];
    if ((st = cli_path(sp, sizeof sp, x->out, "summary.json")) ||
        (st = cli_json_write(sp, root))) {
        rc = cli_fail_status(st);
        goto done;
    }
    if (!cli_quiet()) {
        printf("%s: %s, layer %d (%d features), %d examples, forward pass %.2f s (cpu %.2f s)\n",
               ar->run, ar->split_name, x->k, x->dk, x->n, t_pass, c_pass);
        for (int a = 0; a < AN_COUNT; a++)
            if (x->want[a])
                printf("  %-11s %s  [%.2f s]\n", k_an_names[a], x->line[a], x->seconds[a]);
        printf("wrote %s (figures: mixgeo plot %s)\n", sp, x->out);
        fflush(stdout);
    }
    rc = CLI_EXIT_OK;
done:
    cli_progress_clear();
    if (x) {
        cJSON_Delete(x->files);
        an_ctx_free(x);
    }
    if (ar && opened) cli_analysis_close(ar);
    free(ar);
    cli_values_free(&ev);
    return rc;
}
