/* cmd_theory.c - `mixgeo theory`: Theorem 1 and Corollary 1 checked on the
 * idealised problem (PAPER.md section 2), no network: minimise J(P_D) over
 * free representations h_1..h_n and an affine readout for each dimension of
 * a range, and compare with the predictions (J = 0 once dim >= d - 1;
 * per-class rank dim - d + 1).  Writes OUT (default results/theory-d<d>):
 *   theory.tsv        mg_theory_write_tsv: one row per dimension
 *   summary.json      the configuration, every result, provenance
 *   theory-J.gp       J (and the constant-readout scale) vs dim, the d-1 line
 *   theory-rank.gp    per-class rank of the optimal h vs dim, the dim-d+1 line
 */
#include "cli.h"
#include "gp.h"
#include "theory.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char k_usage[] =
    "usage: mixgeo theory [--classes D] [--dims A-B] [--n N] [--loss sq|kl] [OPTIONS]";

static const char k_description[] =
    "Check Theorem 1 numerically without a network: for each dimension dim of --dims,\n"
    "minimise J = mean over pairs i != j and lambda ~ Beta(alpha, alpha) of\n"
    "loss(f(mix h), mix y) over free points h_1..h_n (n/D per class) and an affine f,\n"
    "by Adam.  Theorem 1: J = 0 once dim >= D - 1 (squared loss; the KL loss has a\n"
    "positive floor); Corollary 1: each class then spans dim - D + 1 dimensions.\n"
    "Writes OUT/theory.tsv, OUT/summary.json and two figures (theory-J.gp,\n"
    "theory-rank.gp; render with mixgeo plot OUT).";

static const char k_epilog[] = "Exit status: 0 ok, 1 runtime failure, 2 usage error, 130 "
                               "interrupted.";

static const cli_opt k_opts[] = {
    {"classes", 0, CLI_VALUE, "D", "4", 0, "number of classes d (>= 2)", "Problem"},
    {"dims", 0, CLI_VALUE, "A-B", "auto", 0,
     "dimensions of the representation to run, e.g. 1-14 or 3; auto: 1 to D+2", NULL},
    {"n", 0, CLI_VALUE, "N", "auto", 0,
     "points, N/D per class (a multiple of D, >= 2D); auto: 10 D", NULL},
    {"alpha", 0, CLI_VALUE, "X", "2", 0, "lambda ~ Beta(alpha, alpha)", NULL},
    {"loss", 0, CLI_VALUE, "sq|kl", "sq", 0,
     "sq: squared error of an affine readout (exact lambda integral); kl: KL of the softmax "
     "readout to the mixed target (lambda quadrature)",
     NULL},
    {"iters", 0, CLI_VALUE, "N", "8000", 0, "Adam steps per dimension", "Optimiser"},
    {"lr", 0, CLI_VALUE, "X", "0.1", 0, "initial learning rate", NULL},
    {"lr-final", 0, CLI_VALUE, "X", "1e-06", 0, "final learning rate (geometric decay)", NULL},
    {"quad-points", 0, CLI_VALUE, "N", "16", 0, "kl only: lambda quadrature points", NULL},
    {"rank-rtol", 0, CLI_VALUE, "X", "0.001", 0,
     "numerical rank tolerance relative to the largest singular value of all optimal h", NULL},
    {"seed", 0, CLI_VALUE, "N", "0", 0,
     "seed; dimension dim starts from mg_rng_seed3(seed, MG_STREAM_ANALYSIS, dim)", NULL},
    {"out", 0, CLI_VALUE, "DIR", "auto", 0, "output directory; auto: results/theory-dD",
     "Output"},
    {"threads", 0, CLI_VALUE, "N", "1", 0, "OpenBLAS threads (0 = all cores)", NULL},
    {"quiet", 'q', CLI_FLAG, NULL, "false", CLI_NO_NEG, "print nothing but errors", NULL},
    {"help", 'h', CLI_FLAG, NULL, "false", CLI_NO_NEG, "show this help and exit", NULL},
};
#define N_OPTS ((int)(sizeof k_opts / sizeof k_opts[0]))

/* "A-B" or "A" with 1 <= A <= B <= 100000. */
static int parse_dims(const cli_values *v, int d, int *lo, int *hi)
{
    const char *s = cli_get(v, "dims");
    if (strcmp(s, "auto") == 0) {
        *lo = 1;
        *hi = d + 2;
        return 0;
    }
    char *end;
    long a = strtol(s, &end, 10), b = a;
    if (end == s) return cli_bad(v, "dims", "expected A-B (e.g. 1-14) or one dimension");
    if (*end == '-') {
        const char *p = end + 1;
        b = strtol(p, &end, 10);
        if (end == p) return cli_bad(v, "dims", "expected A-B (e.g. 1-14) or one dimension");
    }
    if (*end) return cli_bad(v, "dims", "expected A-B (e.g. 1-14) or one dimension");
    if (a < 1 || b < a || b > 100000)
        return cli_bad(v, "dims", "need 1 <= A <= B <= 100000");
    *lo = (int)a;
    *hi = (int)b;
    return 0;
}

static int get_positive_double(const cli_values *v, const char *name, double *out)
{
    if (cli_get_double(v, name, out)) return 1;
    if (!(*out > 0)) return cli_bad(v, name, "must be > 0");
    return 0;
}

typedef struct {
    const char *prov;
    const mg_theory_config *c;
    const mg_theory_result *r;
    int count;
} theory_job;

static mg_status theory_emit(FILE *f, void *user)
{
    const theory_job *j = user;
    return mg_theory_write_tsv(f, j->prov, j->c, j->r, j->count);
}

static mg_status write_figures(const char *out, const char *prov, const mg_theory_config *c)
{
    char title[256], q[600];
    const char *loss = c->loss == MG_THEORY_SQUARED ? "squared loss" : "KL loss";
    gp_buf b;
    gp_buf_init(&b);
    snprintf(title, sizeof title, "Theorem 1: min J vs dim (d = %d, n = %d, %s, alpha = %g)", c->d,
             c->n, loss, c->alpha);
    gp_buf_printf(&b,
                  "set title %s\n"
                  "set xlabel 'dim(H)'\nset ylabel 'J'\nset logscale y\n"
                  "set format y '10^{%%T}'\nset xrange [%g:%g]\nset xtics 1\n"
                  "set arrow 1 from %d, graph 0 to %d, graph 1 nohead ls 8\n"
                  "set label 1 'dim = d - 1' at %d, graph 0.95 offset 0.5,0 left textcolor "
                  "rgb '#606060'\n"
                  "set key bottom left\n"
                  "plot 'theory.tsv' using 1:($5 > 0 ? $5 : NaN) with linespoints ls 3 title "
                  "'J at the optimum', \\\n"
                  "     '' using 1:6 with lines ls 4 title 'J of the best constant readout'\n"
                  "unset arrow 1\nunset label 1\nunset logscale y\nset format y '%%g'\n",
                  gp_quote_text(q, sizeof q, title), c->dim_min - 0.5, c->dim_max + 0.5, c->d - 1,
                  c->d - 1, c->d - 1);
    gp_figure fig = {"theory-J", "Theorem 1: J vs dim with the d-1 threshold", prov, 800, 560,
                     NULL};
    mg_status st = b.failed ? mg_fail(MG_ERR_NOMEM, "out of memory") : gp_write(out, &fig, &b);
    gp_buf_free(&b);
    if (st) return st;
    gp_buf_init(&b);
    snprintf(title, sizeof title, "Corollary 1: per-class rank of the optimal h (d = %d, %s)",
             c->d, loss);
    gp_buf_printf(&b,
                  "set title %s\n"
                  "set xlabel 'dim(H)'\nset ylabel 'centred rank per class'\n"
                  "set xrange [%g:%g]\nset yrange [-0.3:*]\nset xtics 1\nset ytics 1\n"
                  "set arrow 1 from %d, graph 0 to %d, graph 1 nohead ls 8\n"
                  "set key top left\n"
                  "plot 'theory.tsv' using 1:11 with lines lw 8 lc rgb '#d0d0d0' title "
                  "'max(0, dim - d + 1)', \\\n"
                  "     '' using 1:9 with points ls 3 pt 7 ps 1.2 title 'max over classes', \\\n"
                  "     '' using 1:10 with linespoints ls 6 title 'mean over classes'\n"
                  "unset arrow 1\nset ytics autofreq\n",
                  gp_quote_text(q, sizeof q, title), c->dim_min - 0.5, c->dim_max + 0.5, c->d - 1,
                  c->d - 1);
    gp_figure fig2 = {"theory-rank", "Corollary 1: per-class rank vs dim", prov, 800, 560, NULL};
    st = b.failed ? mg_fail(MG_ERR_NOMEM, "out of memory") : gp_write(out, &fig2, &b);
    gp_buf_free(&b);
    return st;
}

int cli_cmd_theory(int argc, char **argv)
{
    cli_values v;
    cli_values_init(&v, k_opts, N_OPTS);
    int rc = CLI_EXIT_USAGE, npos = 0;
    char *pos[1] = {NULL};
    mg_theory_result *res = NULL;
    cJSON *root = NULL;
    mg_status st;

    if (cli_begin(&v, "theory", argc, argv, pos, 0, &npos, k_usage,
                  k_description, k_epilog, &rc))
        goto done;

    mg_theory_config c = mg_theory_config_default();
    int bad = 0, threads = 1, loss = 0;
    bad += cli_get_int(&v, "classes", 2, 100000, &c.d);
    if (!bad) bad += parse_dims(&v, c.d, &c.dim_min, &c.dim_max);
    if (!bad) {
        if (strcmp(cli_get(&v, "n"), "auto") == 0) {
            c.n = 10 * c.d;
        } else if (!cli_get_int(&v, "n", 2, INT_MAX, &c.n)) {
            if (c.n < 2 * c.d || c.n % c.d != 0)
                bad += cli_bad(&v, "n", "must be a multiple of --classes %d and at least %d", c.d,
                               2 * c.d);
        } else {
            bad++;
        }
    }
    bad += get_positive_double(&v, "alpha", &c.alpha);
    static const char *const losses[] = {"sq", "kl", "squared", NULL};
    bad += cli_get_enum(&v, "loss", losses, &loss);
    c.loss = loss == 1 ? MG_THEORY_KL : MG_THEORY_SQUARED;
    bad += cli_get_int(&v, "iters", 1, INT_MAX, &c.iters);
    bad += get_positive_double(&v, "lr", &c.lr);
    bad += get_positive_double(&v, "lr-final", &c.lr_final);
    bad += cli_get_int(&v, "quad-points", 1, 100000, &c.quad_points);
    bad += get_positive_double(&v, "rank-rtol", &c.rank_rtol);
    bad += cli_get_u64(&v, "seed", &c.seed);
    bad += cli_get_int(&v, "threads", 0, 256, &threads);
    if (bad) goto done;
    char msg[1024];
    if (mg_theory_config_check(&c, msg, sizeof msg) != MG_OK) {
        cli_error_lines(msg);
        goto done;
    }
    if (threads == 0) {
        long np = sysconf(_SC_NPROCESSORS_ONLN);
        threads = np < 1 ? 1 : np > 256 ? 256 : (int)np;
    }
    mg_set_threads(threads);

    char out[1024];
    const char *o = cli_get(&v, "out");
    if (strcmp(o, "auto") == 0) snprintf(out, sizeof out, "results/theory-d%d", c.d);
    else if (strlen(o) >= sizeof out) {
        cli_bad(&v, "out", "path too long");
        goto done;
    } else snprintf(out, sizeof out, "%s", o);
    if ((st = mg_mkdir_p(out))) {
        rc = cli_fail_status(st);
        goto done;
    }

    const int count = c.dim_max - c.dim_min + 1;
    res = calloc((size_t)count, sizeof *res);
    if (!res) {
        rc = cli_fail_status(mg_fail(MG_ERR_NOMEM, "out of memory"));
        goto done;
    }
    cli_signals_install();
    cli_info("theory: d = %d, n = %d, dims %d..%d, %s loss, alpha %g, %d iterations -> %s", c.d,
             c.n, c.dim_min, c.dim_max, mg_theory_loss_name(c.loss), c.alpha, c.iters, out);
    double t0 = cli_now();
    for (int i = 0; i < count; i++) {
        if (cli_stop_requested()) {
            rc = cli_fail_status(mg_fail(MG_ERR_INTERRUPTED, "interrupted"));
            goto done;
        }
        cli_progress_update("theory: dim %d (%d of %d)", c.dim_min + i, i + 1, count);
        if ((st = mg_theory_optimize(&c, c.dim_min + i, &res[i], NULL, NULL, NULL))) {
            rc = cli_fail_status(st);
            goto done;
        }
    }
    cli_progress_clear();
    double seconds = cli_now() - t0;

    char prov[2048], extra[256], path[1100];
    snprintf(extra, sizeof extra, "theory d=%d n=%d dims=%d-%d loss=%s", c.d, c.n, c.dim_min,
             c.dim_max, mg_theory_loss_name(c.loss));
    cli_provenance(prov, sizeof prov, c.seed, extra);
    theory_job job = {prov, &c, res, count};
    if ((st = cli_path(path, sizeof path, out, "theory.tsv")) ||
        (st = mg_write_atomic(path, theory_emit, &job)) ||
        (st = write_figures(out, prov, &c))) {
        rc = cli_fail_status(st);
        goto done;
    }

    root = cli_json_stamped();
    if (!root) {
        rc = cli_fail_status(mg_fail(MG_ERR_NOMEM, "out of memory"));
        goto done;
    }
    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "config", cfg);
    cJSON_AddNumberToObject(cfg, "classes", c.d);
    cJSON_AddNumberToObject(cfg, "n", c.n);
    cJSON_AddNumberToObject(cfg, "dim_min", c.dim_min);
    cJSON_AddNumberToObject(cfg, "dim_max", c.dim_max);
    cJSON_AddNumberToObject(cfg, "alpha", c.alpha);
    cJSON_AddStringToObject(cfg, "loss", mg_theory_loss_name(c.loss));
    cJSON_AddNumberToObject(cfg, "iters", c.iters);
    cJSON_AddNumberToObject(cfg, "lr", c.lr);
    cJSON_AddNumberToObject(cfg, "lr_final", c.lr_final);
    cJSON_AddNumberToObject(cfg, "quad_points", c.quad_points);
    cJSON_AddNumberToObject(cfg, "rank_rtol", c.rank_rtol);
    cJSON_AddNumberToObject(cfg, "seed", (double)c.seed);
    cJSON_AddNumberToObject(root, "threshold_dim", c.d - 1);
    cJSON *arr = cJSON_CreateArray();
    cJSON_AddItemToObject(root, "results", arr);
    double worst_above = 0;
    for (int i = 0; i < count; i++) {
        const mg_theory_result *r = &res[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "dim", r->dim);
        cJSON_AddBoolToObject(e, "theorem1_applies", mg_theorem1_applies(r->dim, c.d));
        cJSON_AddNumberToObject(e, "J", r->J);
        cJSON_AddNumberToObject(e, "J_const", r->J_const);
        cJSON_AddNumberToObject(e, "J_rel", r->J_rel);
        cJSON_AddNumberToObject(e, "fit_resid_rel", r->fit_resid_rel);
        cJSON_AddNumberToObject(e, "rank_max", r->rank_max);
        cJSON_AddNumberToObject(e, "rank_mean", r->rank_mean);
        cJSON_AddNumberToObject(e, "rank_pred", r->rank_pred);
        cJSON_AddNumberToObject(e, "construct_max", r->construct_max);
        cJSON_AddNumberToObject(e, "construct_fro", r->construct_fro);
        cJSON_AddNumberToObject(e, "bound_fro", r->bound_fro);
        cJSON_AddNumberToObject(e, "seconds", r->seconds);
        cJSON_AddItemToArray(arr, e);
        if (mg_theorem1_applies(r->dim, c.d) && r->J_rel > worst_above) worst_above = r->J_rel;
    }
    cJSON_AddNumberToObject(root, "max_J_rel_at_or_above_threshold", worst_above);
    cJSON_AddNumberToObject(root, "seconds", seconds);
    cJSON *files = cJSON_CreateArray();
    static const char *const fl[] = {"theory.tsv", "theory-J.gp", "theory-rank.gp",
                                     "summary.json"};
    for (int i = 0; i < 4; i++) cJSON_AddItemToArray(files, cJSON_CreateString(fl[i]));
    cJSON_AddItemToObject(root, "files", files);
    cJSON_AddStringToObject(
        root, "note",
        "J at the end of Adam on free h and affine A, b; J_const = J of the best constant "
        "readout (the scale); J_rel = J / J_const; Theorem 1: J = 0 for dim >= d - 1 with the "
        "squared loss (the KL loss keeps a positive floor); rank = centred numerical rank of "
        "each class of the optimal h (Corollary 1: dim - d + 1)");
    if ((st = cli_path(path, sizeof path, out, "summary.json")) ||
        (st = cli_json_write(path, root))) {
        rc = cli_fail_status(st);
        goto done;
    }
    if (!cli_quiet()) {
        if (c.loss == MG_THEORY_SQUARED)
            printf("theory: d = %d, n = %d, squared loss, alpha %g (Theorem 1: J = 0 for dim >= "
                   "%d)\n",
                   c.d, c.n, c.alpha, c.d - 1);
        else
            printf("theory: d = %d, n = %d, KL loss, alpha %g (J keeps a positive floor for dim "
                   ">= %d: mixed log-odds are not affine in lambda)\n",
                   c.d, c.n, c.alpha, c.d - 1);
        printf("  dim  %-12s %-12s %-12s %-9s %-9s\n", "J", "J_rel", "fit_resid", "rank_max",
               "predicted");
        for (int i = 0; i < count; i++)
            printf("  %3d  %-12.4g %-12.4g %-12.4g %-9d %-9d\n", res[i].dim, res[i].J,
                   res[i].J_rel, res[i].fit_resid_rel, res[i].rank_max, res[i].rank_pred);
        printf("wrote %s/theory.tsv, summary.json, theory-J.gp, theory-rank.gp (%.2f s)\n", out,
               seconds);
        fflush(stdout);
    }
    rc = CLI_EXIT_OK;
done:
    cli_progress_clear();
    cJSON_Delete(root);
    free(res);
    cli_values_free(&v);
    return rc;
}
