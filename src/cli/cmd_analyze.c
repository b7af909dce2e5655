/* cmd_analyze.c - `mixgeo analyze`: the representation-geometry analyses
 * (PAPER.md sections 2 and 4) of
 *  - a trained run at one layer of one split (`mixgeo analyze RUN --layer K`):
 *    the run is opened as `eval` opens it (run.c), or of
 *  - activations from any framework (`--states h.npy --labels y.npy
 *    [--logits z.npy] [--readout W.npy,b.npy]`), read from .npy files in
 *    blocks (npy.h).
 * The options become an mg_analyze_config, the input an mg_analysis_input,
 * and mg_analyze (analysis/analyze.h) computes and writes everything into
 * OUT: summary.json, TSV files and gnuplot scripts.  This file parses,
 * validates, calls and prints; it holds no analysis arithmetic. */
#include "analyze.h"
#include "cli.h"
#include "npy.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char k_usage[] =
    "usage: mixgeo analyze RUN [--layer K] [--split train|val|test] [--only LIST] [OPTIONS]\n"
    "       mixgeo analyze --states H.npy --labels Y.npy [--logits Z.npy]\n"
    "                      [--readout W.npy[,B.npy]] [--out DIR] [--only LIST] [OPTIONS]";

static const char k_intro[] =
    "Analyse the representations of a trained run at layer K of a split, or states\n"
    "saved from any framework (.npy: float32 or float64, C or Fortran order, shape\n"
    "(n, ...) flattened per example; labels of any integer type), and write OUT\n"
    "(default RUN/analysis/SPLIT-LK, or H-analysis beside H.npy): summary.json (every\n"
    "scalar and every choice), TSV data files and one gnuplot script per figure\n"
    "(render: mixgeo plot OUT).\n"
    "Analyses (--only, comma-separated; default: all that apply):\n";

static const char k_outro[] =
    "Wide models (layer K or L-1 with more than 2048 features, e.g. the stages of\n"
    "preact:16-32-64x2 on Fashion-MNIST: 12544, 6272, 3136) and wide external states:\n"
    "the auto defaults keep 300 examples per class, 200 pairs and 200 DeepFool examples,\n"
    "and the forward batch is 256; the spectra keep the rows and decompose them exactly\n"
    "at the end (mode \"rows\" in summary.json; \"qr-stream\" otherwise); with n < p + 1\n"
    "examples the affine fit is underdetermined (flagged: a zero residual is then\n"
    "expected and is no evidence for Theorem 1), and per-class ranks are bounded by\n"
    "n_c - 1.\n"
    "External states: W.npy is the readout (classes x features) that maps the states to\n"
    "the logits, B.npy its bias; with it come the exact margins, collapse and the\n"
    "interpolation paths, and the logits when --logits is not given.  fgsm, maps and the\n"
    "input-space parts of margins and confidence need a run.";

static const char k_epilog[] =
    "Exit status: 0 ok, 1 runtime failure, 2 usage or configuration error (a layer\n"
    "outside 0..L, a run without model.ckpt, an empty class, --max-per-class 0, an\n"
    "unknown analysis, a bad or inconsistent .npy input), 130 interrupted.";

static cli_opt k_opts[CLI_MAX_OPTS];
static int k_nopts;
static char k_description[4096];

static void build_table(void)
{
    if (k_nopts) return;
    cli_analysis_add_opts(k_opts, &k_nopts, "train");
    cli_opt *o = k_opts;
    int n = k_nopts;
    o[n++] = (cli_opt){"states", 0, CLI_VALUE, "FILE", "", 0,
                       "external states (.npy, n x ...) instead of a run", "External states"};
    o[n++] = (cli_opt){"labels", 0, CLI_VALUE, "FILE", "", 0,
                       "their labels (.npy, n integers >= 0)", NULL};
    o[n++] = (cli_opt){"logits", 0, CLI_VALUE, "FILE", "", 0,
                       "their logits (.npy, n x classes), for calibration", NULL};
    o[n++] = (cli_opt){"readout", 0, CLI_VALUE, "W[,B]", "", 0,
                       "the affine readout of the states: W (.npy, classes x features) and "
                       "optionally its bias B (.npy, classes)",
                       NULL};
    o[n++] = (cli_opt){"only", 0, CLI_VALUE, "LIST", "all", 0,
                       "analyses to run, e.g. spectra,theory (see above); all: every one that "
                       "applies",
                       "Analyses"};
    o[n++] = (cli_opt){"out", 0, CLI_VALUE, "DIR", "auto", 0,
                       "output directory; auto: RUN/analysis/SPLIT-LK, or H-analysis for "
                       "--states H.npy",
                       NULL};
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
    o[n++] = (cli_opt){"twonn-discard", 0, CLI_VALUE, "F", "0.1", 0,
                       "dimension: the fraction of the largest TwoNN ratios left out of the fit",
                       NULL};
    o[n++] = (cli_opt){"twonn-max", 0, CLI_VALUE, "N", "5000", 0,
                       "dimension: at most N states per estimate (a seeded random subset beyond)",
                       NULL};
    o[n++] = (cli_opt){"quiet", 'q', CLI_FLAG, NULL, "false", CLI_NO_NEG,
                       "print nothing but errors", "Other"};
    o[n++] = (cli_opt){"help", 'h', CLI_FLAG, NULL, "false", CLI_NO_NEG,
                       "show this help and exit", NULL};
    k_nopts = n;
    /* the description lists the analyses of the registry */
    size_t l = (size_t)snprintf(k_description, sizeof k_description, "%s", k_intro);
    for (int a = 0; a < MG_AN_COUNT; a++) {
        const char *h = mg_analysis_infos[a].help;
        l += (size_t)snprintf(k_description + l, sizeof k_description - l, "  %-12s ",
                              mg_analysis_infos[a].name);
        for (const char *p = h; *p && l < sizeof k_description - 20; p++) {
            k_description[l++] = *p;
            if (*p == '\n') l += (size_t)snprintf(k_description + l, sizeof k_description - l,
                                                  "%15s", "");
        }
        k_description[l++] = '\n';
    }
    snprintf(k_description + l, sizeof k_description - l, "%s", k_outro);
}

/* --eps: comma-separated finite numbers >= 0. */
static int parse_eps(const cli_values *ev, double *eps, int *n)
{
    const char *p = cli_get(ev, "eps");
    *n = 0;
    for (;;) {
        char *end;
        double e = strtod(p, &end);
        if (end == p || !isfinite(e) || e < 0)
            return cli_bad(ev, "eps", "expected a comma-separated list of numbers >= 0");
        if (*n >= MG_AN_MAX_EPS) return cli_bad(ev, "eps", "more than %d values", MG_AN_MAX_EPS);
        eps[(*n)++] = e;
        while (*end == ' ') end++;
        if (*end == '\0') break;
        if (*end != ',')
            return cli_bad(ev, "eps", "expected a comma-separated list of numbers >= 0");
        p = end + 1;
    }
    return 0;
}

/* An integer option that may be "auto" (*out = -1). */
static int get_int_or_auto(const cli_values *ev, const char *name, long lo, long hi, int *out)
{
    if (strcmp(cli_get(ev, name), "auto") == 0) {
        *out = -1;
        return 0;
    }
    return cli_get_int(ev, name, lo, hi, out);
}

static int parse_config(const cli_values *ev, mg_analyze_config *cfg)
{
    *cfg = mg_analyze_config_default();
    int bad = 0;
    if (mg_analysis_parse_list(cli_get(ev, "only"), cfg->want, &cfg->named) != MG_OK)
        bad += cli_bad(ev, "only", "%s", mg_errmsg());
    bad += cli_get_u64(ev, "seed", &cfg->seed);
    bad += cli_get_int(ev, "bins", 1, 100000, &cfg->bins);
    bad += cli_get_int(ev, "hist-bins", 1, 1000000, &cfg->hist_bins);
    bad += cli_get_int(ev, "lambdas", 2, 1000000, &cfg->lambdas);
    bad += get_int_or_auto(ev, "pairs", 1, 100000000, &cfg->pairs);
    bad += get_int_or_auto(ev, "max-examples", 1, INT_MAX, &cfg->max_examples);
    bad += parse_eps(ev, cfg->eps, &cfg->n_eps);
    bad += cli_get_bool(ev, "fgsm-no-clip", &cfg->fgsm_no_clip);
    bad += cli_get_int(ev, "grid", 2, 4096, &cfg->grid);
    bad += cli_get_int(ev, "n-uniform", 0, 100000000, &cfg->n_uniform);
    bad += cli_get_int(ev, "n-noise", 0, 100000000, &cfg->n_noise);
    bad += cli_get_double(ev, "twonn-discard", &cfg->twonn_discard);
    if (!bad && !(cfg->twonn_discard >= 0 && cfg->twonn_discard < 1))
        bad += cli_bad(ev, "twonn-discard", "must lie in [0, 1)");
    bad += cli_get_int(ev, "twonn-max", 3, INT_MAX, &cfg->twonn_max);
    cfg->git = cli_git_revision();
    return bad;
}

static void on_progress(void *user, const char *what)
{
    (void)user;
    cli_progress_update("%s", what);
}

static int on_stop(void *user)
{
    (void)user;
    return cli_stop_requested();
}

static const char *const k_fashion_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                                "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                                "Bag",         "Ankle boot"};

/* ---------------------------------------------------------------- external states (.npy) */

/* The .npy inputs, opened and checked against each other. */
typedef struct {
    mg_npy_reader *h, *y, *z, *w, *b;
    int32_t *labels;
    float *logits, *W, *B;
    mg_input_file files[5];
    int n_files;
    int64_t n;
    int p, classes;
    char name[1024];
} ext_input;

static void ext_free(ext_input *e)
{
    mg_npy_close(e->h);
    mg_npy_close(e->y);
    mg_npy_close(e->z);
    mg_npy_close(e->w);
    mg_npy_close(e->b);
    free(e->labels);
    free(e->logits);
    free(e->W);
    free(e->B);
}

static void add_file(ext_input *e, const char *role, mg_npy_reader *r)
{
    mg_input_file *f = &e->files[e->n_files++];
    f->role = role;
    f->path = mg_npy_reader_path(r);
    f->dtype = mg_npy_reader_descr(r);
    f->ndim = mg_npy_reader_ndim(r);
    for (int d = 0; d < f->ndim && d < 8; d++) f->shape[d] = mg_npy_reader_shape(r)[d];
}

static mg_status read_rows_cb(void *user, const int64_t *idx, int64_t m, float *dst)
{
    return mg_npy_read_rows_f32(user, idx, m, dst);
}

/* A whole small float array (logits, W, b) of the shape asked for. */
static mg_status read_small(mg_npy_reader *r, int64_t rows, int64_t cols, const char *what,
                            float **out)
{
    const char *path = mg_npy_reader_path(r);
    int nd = mg_npy_reader_ndim(r);
    int64_t n = mg_npy_reader_rows(r), len = mg_npy_reader_row_len(r);
    int ok = cols == 0 ? (nd == 1 && n == rows) : (nd == 2 && n == rows && len == cols);
    if (!ok)
        return cols == 0 ? mg_fail(MG_ERR_FORMAT, "%s: %s must have shape (%lld,) (got %d axes, "
                                                  "%lld rows)",
                                   path, what, (long long)rows, nd, (long long)n)
                         : mg_fail(MG_ERR_FORMAT, "%s: %s must have shape (%lld, %lld) (got %d "
                                                  "axes, %lld x %lld)",
                                   path, what, (long long)rows, (long long)cols, nd, (long long)n,
                                   (long long)len);
    *out = malloc(sizeof(float) * (size_t)(rows * (cols ? cols : 1)) + 1);
    if (!*out) return mg_fail(MG_ERR_NOMEM, "out of memory reading %s", path);
    return mg_npy_read_block_f32(r, 0, rows, *out);
}

/* Open and check every input file; prints nothing, MG_ERR_FORMAT/CONFIG/IO
 * with a message naming the file. */
static mg_status ext_open(const cli_values *ev, ext_input *e)
{
    const char *hs = cli_get(ev, "states"), *ys = cli_get(ev, "labels");
    const char *zs = cli_get(ev, "logits"), *rs = cli_get(ev, "readout");
    if (!*ys) return mg_fail(MG_ERR_CONFIG, "--states needs --labels Y.npy");
    mg_status st = mg_npy_open(hs, &e->h);
    if (st == MG_OK) st = mg_npy_open(ys, &e->y);
    if (st != MG_OK) return st;
    add_file(e, "states", e->h);
    add_file(e, "labels", e->y);
    e->n = mg_npy_reader_rows(e->h);
    int64_t len = mg_npy_reader_row_len(e->h);
    mg_npy_type t = mg_npy_reader_type(e->h);
    if (t != MG_NPY_F32 && t != MG_NPY_F64)
        return mg_fail(MG_ERR_FORMAT, "%s: states must be float32 or float64 (got '%s')", hs,
                       mg_npy_reader_descr(e->h));
    if (mg_npy_reader_ndim(e->h) < 2)
        return mg_fail(MG_ERR_FORMAT, "%s: states must have shape (n, features...) (got %d axes)",
                       hs, mg_npy_reader_ndim(e->h));
    if (e->n < 1 || len < 1) return mg_fail(MG_ERR_FORMAT, "%s: no states (an empty array)", hs);
    if (e->n > INT_MAX || len > INT_MAX)
        return mg_fail(MG_ERR_FORMAT, "%s: more than %d rows or features", hs, INT_MAX);
    e->p = (int)len;
    int yn = mg_npy_reader_ndim(e->y);
    if (!(yn == 1 || (yn == 2 && mg_npy_reader_row_len(e->y) == 1)))
        return mg_fail(MG_ERR_FORMAT, "%s: labels must have shape (n,) (got %d axes)", ys, yn);
    if (mg_npy_reader_rows(e->y) != e->n)
        return mg_fail(MG_ERR_FORMAT, "%s: %lld labels for the %lld states of %s", ys,
                       (long long)mg_npy_reader_rows(e->y), (long long)e->n, hs);
    e->labels = malloc(sizeof(int32_t) * (size_t)e->n);
    if (!e->labels) return mg_fail(MG_ERR_NOMEM, "out of memory reading %s", ys);
    if ((st = mg_npy_read_labels(e->y, e->labels)) != MG_OK) return st;
    int32_t ymax = 0;
    for (int64_t i = 0; i < e->n; i++)
        if (e->labels[i] > ymax) ymax = e->labels[i];
    e->classes = 0;
    if (*zs) {
        if ((st = mg_npy_open(zs, &e->z)) != MG_OK) return st;
        add_file(e, "logits", e->z);
        if (mg_npy_reader_rows(e->z) != e->n)
            return mg_fail(MG_ERR_FORMAT, "%s: %lld rows of logits for the %lld states of %s",
                           zs, (long long)mg_npy_reader_rows(e->z), (long long)e->n, hs);
        int64_t c = mg_npy_reader_row_len(e->z);
        if (mg_npy_reader_ndim(e->z) != 2 || c < 2 || c > 1000000)
            return mg_fail(MG_ERR_FORMAT, "%s: logits must have shape (n, classes >= 2)", zs);
        e->classes = (int)c;
        if ((st = read_small(e->z, e->n, c, "logits", &e->logits)) != MG_OK) return st;
    }
    if (*rs) {
        char wp[4096], bp[4096] = "";
        const char *comma = strchr(rs, ',');
        size_t wl = comma ? (size_t)(comma - rs) : strlen(rs);
        if (wl == 0 || wl >= sizeof wp || (comma && strlen(comma + 1) >= sizeof bp))
            return mg_fail(MG_ERR_CONFIG, "--readout: expected W.npy or W.npy,B.npy (got '%s')",
                           rs);
        memcpy(wp, rs, wl);
        wp[wl] = '\0';
        if (comma) snprintf(bp, sizeof bp, "%s", comma + 1);
        if ((st = mg_npy_open(wp, &e->w)) != MG_OK) return st;
        add_file(e, "readout_W", e->w);
        int64_t c = mg_npy_reader_rows(e->w);
        if (e->classes && c != e->classes)
            return mg_fail(MG_ERR_FORMAT, "%s: the readout has %lld rows (classes), the logits "
                                          "%s have %d",
                           wp, (long long)c, zs, e->classes);
        if (c < 2 || c > 1000000)
            return mg_fail(MG_ERR_FORMAT, "%s: the readout W must have shape (classes >= 2, %d)",
                           wp, e->p);
        e->classes = (int)c;
        if ((st = read_small(e->w, c, e->p, "the readout W (classes x features)", &e->W)) !=
            MG_OK)
            return st;
        if (*bp) {
            if ((st = mg_npy_open(bp, &e->b)) != MG_OK) return st;
            add_file(e, "readout_b", e->b);
            if ((st = read_small(e->b, c, 0, "the readout bias b (classes)", &e->B)) != MG_OK)
                return st;
        }
    }
    if (e->classes && ymax >= e->classes)
        return mg_fail(MG_ERR_FORMAT, "%s: label %d is outside the %d classes of the %s", ys,
                       (int)ymax, e->classes, *zs ? "logits" : "readout");
    snprintf(e->name, sizeof e->name, "%s", hs);
    return MG_OK;
}

/* ---------------------------------------------------------------- the command */

static void print_report(const mg_analyze_report *rep, const char *what)
{
    if (cli_quiet()) return;
    printf("%s: %d features, %lld examples, %s %.2f s (cpu %.2f s)\n", what, rep->p,
           (long long)rep->n, rep->layer >= 0 ? "forward pass" : "reading the states",
           rep->pass_seconds, rep->pass_cpu);
    for (int a = 0; a < MG_AN_COUNT; a++)
        if (rep->ran[a])
            printf("  %-11s %s  [%.2f s]\n", mg_analysis_infos[a].name, rep->line[a],
                   rep->seconds[a]);
    printf("wrote %s (figures: mixgeo plot DIR)\n", rep->summary);
    fflush(stdout);
}

/* Exit code of a failed mg_analyze: bad input is a usage error. */
static int fail_code(mg_status st)
{
    if (st == MG_ERR_FORMAT) {
        cli_error("%s", mg_errmsg());
        return CLI_EXIT_USAGE;
    }
    return cli_fail_status(st);
}

static int analyze_states(const cli_values *ev, mg_analyze_config *cfg)
{
    static const char *const run_only[] = {"layer", "split", "data", "data-dir", NULL};
    for (int i = 0; run_only[i]; i++)
        if (cli_is_set(ev, run_only[i])) {
            cli_bad(ev, run_only[i], "applies to a run, not to --states");
            return CLI_EXIT_USAGE;
        }
    int rc = CLI_EXIT_USAGE, threads = 1;
    if (cli_get_int(ev, "threads", 0, 256, &threads)) return CLI_EXIT_USAGE;
    cfg->threads = threads;
    const char *mpc = cli_get(ev, "max-per-class");
    if (strcmp(mpc, "all") == 0) cfg->max_per_class = 0;
    else if (strcmp(mpc, "auto") == 0) cfg->max_per_class = -1;
    else if (cli_get_int(ev, "max-per-class", 1, INT_MAX, &cfg->max_per_class))
        return CLI_EXIT_USAGE;
    ext_input e;
    memset(&e, 0, sizeof e);
    mg_status st = ext_open(ev, &e);
    if (st != MG_OK) {
        rc = fail_code(st == MG_ERR_CONFIG ? MG_ERR_FORMAT : st);
        goto done;
    }
    char out[4096];
    const char *o = cli_get(ev, "out");
    if (strcmp(o, "auto") == 0) {
        const char *hs = cli_get(ev, "states");
        size_t l = strlen(hs);
        if (l >= 4 && strcmp(hs + l - 4, ".npy") == 0) l -= 4;
        if (snprintf(out, sizeof out, "%.*s-analysis", (int)l, hs) >= (int)sizeof out) {
            cli_bad(ev, "states", "path too long");
            goto done;
        }
    } else if (snprintf(out, sizeof out, "%s", o) >= (int)sizeof out) {
        cli_bad(ev, "out", "path too long");
        goto done;
    }
    mg_analysis_input in;
    memset(&in, 0, sizeof in);
    in.n = e.n;
    in.p = e.p;
    in.read_rows = read_rows_cb;
    in.rows_user = e.h;
    in.labels = e.labels;
    in.classes = e.classes;
    in.logits = e.logits;
    in.W = e.W;
    in.b = e.B;
    in.name = e.name;
    in.files = e.files;
    in.n_files = e.n_files;
    cli_signals_install();
    cli_info("analyze %s: %lld states of %d features%s%s -> %s", e.name, (long long)e.n, e.p,
             e.logits ? ", logits" : "", e.W ? ", readout" : "", out);
    mg_analyze_report rep;
    memset(&rep, 0, sizeof rep);
    st = mg_analyze(&in, cfg, out, &rep);
    cli_progress_clear();
    if (st != MG_OK) {
        rc = fail_code(st);
        goto done;
    }
    print_report(&rep, e.name);
    rc = CLI_EXIT_OK;
done:
    ext_free(&e);
    return rc;
}

static int analyze_run(const cli_values *ev, const char *run, mg_analyze_config *cfg)
{
    cli_analysis_run *ar = calloc(1, sizeof *ar);
    if (!ar) return cli_fail_status(mg_fail(MG_ERR_NOMEM, "out of memory"));
    int rc = cli_analysis_open(ar, run, ev);
    if (rc != CLI_EXIT_OK) goto done;
    rc = CLI_EXIT_USAGE;
    cfg->threads = ar->c.train.threads;
    cfg->max_per_class = ar->max_per_class_auto ? -1 : ar->max_per_class;
    char out[4096], config[4096], prov[4400];
    const char *o = cli_get(ev, "out");
    if (strcmp(o, "auto") == 0) {
        char sub[64];
        snprintf(sub, sizeof sub, "analysis/%s-L%d", ar->split_name, ar->layer);
        if (cli_path(out, sizeof out, ar->run, sub) != MG_OK) {
            rc = cli_fail_status(MG_ERR_CONFIG);
            goto done;
        }
    } else if (snprintf(out, sizeof out, "%s", o) >= (int)sizeof out) {
        cli_bad(ev, "out", "path too long");
        goto done;
    }
    if (cli_path(config, sizeof config, ar->run, "config.ini") != MG_OK) {
        rc = cli_fail_status(MG_ERR_CONFIG);
        goto done;
    }
    cli_provenance(prov, sizeof prov, cfg->seed, config);
    cfg->provenance = prov;
    mg_analysis_input in;
    memset(&in, 0, sizeof in);
    in.model = ar->m;
    in.data = ar->set;
    in.layer = ar->layer;
    in.mix = ar->c.train.mix;
    in.run = ar->run;
    in.checkpoint = ar->ckpt;
    in.config = config;
    in.data_spec = ar->c.data;
    in.split = ar->split_name;
    if (ar->c.data_kind == CLI_DATA_FASHION && mg_model_classes(ar->m) == 10)
        in.class_names = k_fashion_names;
    cli_signals_install();
    cli_info("analyze %s: %s split, layer %d of %d (%d features) -> %s", ar->run, ar->split_name,
             ar->layer, mg_model_n_blocks(ar->m), mg_model_dim(ar->m, ar->layer), out);
    mg_analyze_report rep;
    memset(&rep, 0, sizeof rep);
    mg_status st = mg_analyze(&in, cfg, out, &rep);
    cli_progress_clear();
    if (st != MG_OK) {
        if (st == MG_ERR_CONFIG) {
            cli_error("--split %s, layer %d: %s", ar->split_name, ar->layer, mg_errmsg());
            goto done;
        }
        rc = cli_fail_status(st);
        goto done;
    }
    char what[1200];
    snprintf(what, sizeof what, "%s: %s, layer %d", ar->run, ar->split_name, ar->layer);
    print_report(&rep, what);
    rc = CLI_EXIT_OK;
done:
    cli_analysis_close(ar);
    free(ar);
    return rc;
}

int cli_cmd_analyze(int argc, char **argv)
{
    build_table();
    cli_values ev;
    cli_values_init(&ev, k_opts, k_nopts);
    int rc = CLI_EXIT_USAGE, npos = 0;
    char *pos[1] = {NULL};
    if (cli_begin(&ev, "analyze", argc, argv, pos, 1, &npos, k_usage, k_description, k_epilog,
                  &rc))
        goto done;
    int states = *cli_get(&ev, "states") != '\0';
    if (!states) {
        static const char *const ext_only[] = {"labels", "logits", "readout", NULL};
        for (int i = 0; ext_only[i]; i++)
            if (cli_is_set(&ev, ext_only[i])) {
                cli_bad(&ev, ext_only[i], "applies to --states only");
                goto done;
            }
    }
    if (states ? npos != 0 : npos != 1) {
        cli_error(states ? "analyze: --states takes no run directory"
                         : "analyze: expected one run directory or --states H.npy (usage: "
                           "mixgeo analyze RUN --layer K)");
        goto done;
    }
    mg_analyze_config cfg;
    if (parse_config(&ev, &cfg)) goto done;
    cfg.progress = on_progress;
    cfg.stop = on_stop;
    rc = states ? analyze_states(&ev, &cfg) : analyze_run(&ev, pos[0], &cfg);
done:
    cli_progress_clear();
    cli_values_free(&ev);
    return rc;
}
