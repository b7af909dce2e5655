/* suite_report.c - experiment suites: the report.  Opens a report (the
 * state of every run, a cache of their JSON files), has every table and
 * figure written by its kind (suite_table.c, suite_figure.c) and every claim
 * evaluated (suite_claim.c), and writes OUT/REPORT.md, OUT/runs.tsv and
 * OUT/claims.tsv; the combined report puts the claims of several suites in
 * one file (make paper: results/paper/REPORT.md).
 */
#include "suite_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>

/* ---------------------------------------------------------------- runs.tsv, REPORT.md */

static const char *const k_run_metrics[] = {"final.train_loss", "final.train_acc", "final.val_acc",
                                            "final.test_loss",  "final.test_nll",  "final.test_acc",
                                            "best.epoch",       "best.val_acc",    "best.test_acc",
                                            "best.test_nll",    "train_seconds",   NULL};

/* The columns of runs.tsv of a states suite (analysis/states/summary.json). */
static const char *const k_states_run_metrics[] = {"n", "dim", "classes", NULL};

/* The values of key in a training run's summary.json j "segments", each
 * change once ("2,1": two threads, then one), into buf; without segments
 * (a run from before them) the value of its one start: config.threads, git
 * (blas: empty). */
static void segment_values(const cJSON *j, const char *key, char *buf, size_t len)
{
    const cJSON *seg = cJSON_GetObjectItemCaseSensitive(j, "segments");
    buf[0] = '\0';
    char last[128] = "";
    size_t used = 0;
    for (const cJSON *e = cJSON_IsArray(seg) ? seg->child : NULL; e; e = e->next) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, key);
        char t[128];
        if (cJSON_IsNumber(v))
            snprintf(t, sizeof t, "%d", (int)v->valuedouble);
        else
            snprintf(t, sizeof t, "%s", cJSON_IsString(v) ? v->valuestring : "?");
        if (!strcmp(t, last)) continue;
        int w = snprintf(buf + used, len - used, "%s%s", used ? "," : "", t);
        if (w < 0 || (size_t)w >= len - used) break;
        used += (size_t)w;
        snprintf(last, sizeof last, "%s", t);
    }
    if (!used) {
        const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(j, "config");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(strcmp(key, "git") ? cfg : j, key);
        if (cJSON_IsString(v)) snprintf(buf, len, "%s", v->valuestring);
    }
}

static mg_status write_runs_tsv(sx_report_ctx *c, const cli_run_state *states)
{
    const cli_suite *s = c->s;
    sx_membuf t;
    sx_mb_open(&t);
    fprintf(t.f, "%s\n# columns: id state", c->prov);
    for (int a = 0; a < s->n_axes; a++) fprintf(t.f, " %s", s->axes[a].key);
    /* a states run has no training summary: the size of its inputs instead */
    const char *const *cols = s->command == CLI_SUITE_STATES ? k_states_run_metrics : k_run_metrics;
    const char *file =
        s->command == CLI_SUITE_STATES ? CLI_SUITE_STATES_OUT "/summary.json" : "summary.json";
    for (int i = 0; cols[i]; i++) fprintf(t.f, " %s", cols[i]);
    int train = s->command == CLI_SUITE_TRAIN;
    if (train) fprintf(t.f, " threads git blas"); /* of the training, each change once: 2,1 */
    fputc('\n', t.f);
    for (int r = 0; r < s->n_runs; r++) {
        fprintf(t.f, "%s\t%s", s->runs[r].id, cli_run_state_name(states[r]));
        for (int a = 0; a < s->n_axes; a++) {
            fputc('\t', t.f);
            sx_tsv_cell(t.f, s->axes[a].values[s->runs[r].vi[a]]);
        }
        for (int i = 0; cols[i]; i++) {
            cli_suite_metric m;
            memset(&m, 0, sizeof m);
            m.n_terms = 1;
            snprintf(m.terms[0].file, sizeof m.terms[0].file, "%s", file);
            snprintf(m.terms[0].path, sizeof m.terms[0].path, "%s", cols[i]);
            fputc('\t', t.f);
            sx_tsv_num(t.f, c->rc[r].done ? sx_metric_value(c, r, &m) : NAN);
        }
        const char *keys[3] = {"threads", "git", "blas"}; /* blas: "?" before it was recorded */
        for (int k = 0; train && k < 3; k++) {
            char v[512] = "";
            if (c->rc[r].done) segment_values(sx_run_json(c, r, file), keys[k], v, sizeof v);
            fputc('\t', t.f);
            sx_tsv_cell(t.f, v);
        }
        fputc('\n', t.f);
    }
    char path[4400];
    snprintf(path, sizeof path, "%s/runs.tsv", s->out);
    return sx_mb_write(&t, path);
}

/* Open the report context of suite s: the state of every run (into states
 * and count when given). */
static mg_status ctx_open(sx_report_ctx *c, const cli_suite *s, int render, cli_run_state *states,
                          int *count)
{
    memset(c, 0, sizeof *c);
    c->s = s;
    c->render = render;
    c->have_gnuplot = sx_gnuplot_on_path();
    if (snprintf(c->figdir, sizeof c->figdir, "%s/figures", s->out) >= (int)sizeof c->figdir ||
        snprintf(c->tabdir, sizeof c->tabdir, "%s/tables", s->out) >= (int)sizeof c->tabdir)
        return mg_fail(MG_ERR_CONFIG, "path too long: %s", s->out);
    snprintf(c->prov, sizeof c->prov, "# mixgeo %s suite=%s git=%s file=%s%s", MG_VERSION_STRING,
             s->name, cli_git_revision(), s->path, s->quick ? " quick=1" : "");
    c->rc = xcalloc((size_t)s->n_runs, sizeof *c->rc);
    for (int r = 0; r < s->n_runs; r++) {
        char detail[1024];
        cli_run_state st = cli_suite_run_state(s, &s->runs[r], detail, sizeof detail);
        if (states) states[r] = st;
        if (count) count[st]++;
        c->rc[r].done = st == CLI_RUN_DONE;
        c->n_done += c->rc[r].done;
    }
    return MG_OK;
}

static void ctx_close(sx_report_ctx *c)
{
    for (int r = 0; c->rc && r < c->s->n_runs; r++) {
        for (int i = 0; i < c->rc[r].n_j; i++) cJSON_Delete(c->rc[r].j[i].json);
        free(c->rc[r].j);
    }
    free(c->rc);
    c->rc = NULL;
}

mg_status cli_suite_report(const cli_suite *s, int render)
{
    sx_report_ctx c;
    memset(&c, 0, sizeof c);
    cli_run_state *states = xcalloc((size_t)s->n_runs, sizeof *states);
    int count[CLI_RUN_N_STATES] = {0};
    mg_status st = mg_mkdir_p(s->out);
    if (st == MG_OK) st = ctx_open(&c, s, render, states, count);
    if (st == MG_OK && s->n_figures) st = mg_mkdir_p(c.figdir);
    /* without gnuplot the old figures stay, and so does their log */
    if (st == MG_OK && s->n_figures && render && c.have_gnuplot) st = sx_gnuplot_log_reset(&c);
    if (st == MG_OK && s->n_tables) st = mg_mkdir_p(c.tabdir);
    if (st != MG_OK) {
        ctx_close(&c);
        free(states);
        return st;
    }
    sx_mb_open(&c.md);
    for (int i = 0; i < s->n_tables && st == MG_OK; i++)
        st = sx_table_kinds[s->tables[i].kind].write(&c, &s->tables[i]);
    for (int i = 0; i < s->n_figures && st == MG_OK; i++)
        st = sx_figure_kinds[s->figures[i].kind].write(&c, &s->figures[i]);
    if (st == MG_OK) st = write_runs_tsv(&c, states);
    sx_claim_eval *ev = xcalloc((size_t)s->n_claims, sizeof *ev);
    for (int i = 0; i < s->n_claims; i++) sx_claim_evaluate(&c, &s->claims[i], &ev[i]);
    if (st == MG_OK && s->n_claims) st = sx_write_claims_tsv(&c, ev);
    char *body = sx_mb_close(&c.md);
    if (st == MG_OK) {
        char agg[256], when[64], path[4400];
        sx_aggregate_text(s, NULL, agg, sizeof agg);
        sx_iso_time(when, sizeof when);
        sx_membuf r;
        sx_mb_open(&r);
        fprintf(r.f, "# Suite %s%s\n\n", s->name, s->quick ? " (quick budget)" : "");
        if (*s->description) fprintf(r.f, "%s\n\n", s->description);
        fprintf(r.f, "Suite file `%s`; %d runs (%d done", s->path, s->n_runs, c.n_done);
        for (int k = 0; k < CLI_RUN_N_STATES; k++)
            if (k != CLI_RUN_DONE && count[k])
                fprintf(r.f, ", %d %s", count[k], cli_run_state_name(k));
        fprintf(r.f,
                "); every value is the mean ± std over %s.  Per-run values: runs.tsv.  "
                "mixgeo %s, git %s, %s.\n\n",
                agg, MG_VERSION_STRING, cli_git_revision(), when);
        if (s->n_claims) {
            fputs("## Claims\n\nEach claim of the paper checked on these runs (verdict rules: "
                  "`mixgeo suite --help`; per-claim files: claims.tsv).\n\n"
                  "| Claim | Statement | Verdict | Measured |\n|---|---|---|---|\n",
                  r.f);
            sx_claims_summary_rows(r.f, &c, ev, "", 0);
            fputc('\n', r.f);
            for (int i = 0; i < s->n_claims; i++)
                sx_claim_render(r.f, &c, &s->claims[i], &ev[i], "");
            if (s->n_tables || s->n_figures) fputs("## Tables and figures\n\n", r.f);
        }
        fputs(body ? body : "", r.f);
        snprintf(path, sizeof path, "%s/REPORT.md", s->out);
        st = sx_mb_write(&r, path);
    }
    free(body);
    if (st == MG_OK && !cli_quiet()) {
        printf("%s: %d of %d runs done; %s/REPORT.md, runs.tsv", s->name, c.n_done, s->n_runs,
               s->out);
        if (s->n_tables)
            printf(", %d table%s in tables/", s->n_tables, s->n_tables == 1 ? "" : "s");
        if (s->n_figures) {
            printf(", %d figure%s in figures/", s->n_figures, s->n_figures == 1 ? "" : "s");
            if (!render)
                printf(" (not rendered: --no-render)");
            else if (!c.have_gnuplot)
                printf(" (not rendered: gnuplot is not on the PATH; run "
                       "gnuplot NAME.gp in %s)",
                       c.figdir);
            else
                printf(" (%d rendered to PNG and PDF)", c.rendered);
        }
        if (s->n_claims) {
            int nv[4] = {0};
            for (int i = 0; i < s->n_claims; i++) nv[ev[i].verdict]++;
            printf(", %d claim%s: %d hold, %d do not hold, %d inconclusive, %d without data",
                   s->n_claims, s->n_claims == 1 ? "" : "s", nv[SX_HOLDS], nv[SX_FAILS],
                   nv[SX_INCONCLUSIVE], nv[SX_NODATA]);
        }
        printf("\n");
        fflush(stdout);
    }
    for (int i = 0; i < s->n_claims; i++) sx_claim_eval_free(&ev[i]);
    free(ev);
    ctx_close(&c);
    free(states);
    if (st == MG_OK && c.failures)
        st = mg_fail(MG_ERR_IO, "%d figure%s of %s could not be rendered", c.failures,
                     c.failures == 1 ? "" : "s", s->name);
    return st;
}

/* ---------------------------------------------------------------- combined report */

/* to relative to the directory from ("../x/"), "" if they are the same,
 * with a trailing '/'; both must exist.  0 if a real path cannot be had. */
static int relative_dir(const char *from, const char *to, char *buf, size_t len)
{
    char a[PATH_MAX], b[PATH_MAX];
    if (!realpath(from, a) || !realpath(to, b)) return 0;
    size_t i = 0, common = 0;
    while (a[i] && a[i] == b[i]) {
        if (a[i] == '/') common = i;
        i++;
    }
    if (!a[i] && (b[i] == '/' || !b[i]))
        common = i;
    else if (!b[i] && a[i] == '/')
        common = i;
    size_t used = 0;
    buf[0] = '\0';
    /* one "../" per component of a after the common prefix */
    for (const char *p = a + common; *p; p++)
        if (*p == '/' && p[1])
            used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "../");
    const char *rest = b + common;
    while (*rest == '/') rest++;
    if (*rest) used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s/", rest);
    return used < len;
}

mg_status cli_suite_combined_report(cli_suite *const *suites, int n, const char *path, int quick)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    mg_status st = mg_mkdir_p(dir);
    if (st != MG_OK) return st;
    /* the suites by [suite] order, then as given */
    cli_suite **sorted = xcalloc((size_t)n, sizeof *sorted);
    for (int i = 0; i < n; i++) {
        int k = i;
        while (k > 0 && sorted[k - 1]->order > suites[i]->order) {
            sorted[k] = sorted[k - 1];
            k--;
        }
        sorted[k] = suites[i];
    }
    suites = sorted;
    sx_report_ctx *ctx = xcalloc((size_t)n, sizeof *ctx);
    sx_claim_eval **ev = xcalloc((size_t)n, sizeof *ev);
    char(*prefix)[4096] = xcalloc((size_t)n, sizeof *prefix);
    int total = 0, nv[4] = {0};
    for (int i = 0; i < n && st == MG_OK; i++) {
        const cli_suite *s = suites[i];
        st = ctx_open(&ctx[i], s, 0, NULL, NULL);
        if (st != MG_OK) break;
        if (!relative_dir(dir, s->out, prefix[i], sizeof prefix[i]))
            snprintf(prefix[i], sizeof prefix[i], "%s/", s->out);
        ev[i] = xcalloc((size_t)s->n_claims, sizeof **ev);
        for (int k = 0; k < s->n_claims; k++) {
            sx_claim_evaluate(&ctx[i], &s->claims[k], &ev[i][k]);
            nv[ev[i][k].verdict]++;
            total++;
        }
    }
    if (st == MG_OK) {
        char when[64];
        sx_iso_time(when, sizeof when);
        sx_membuf r;
        sx_mb_open(&r);
        fprintf(r.f, "# Manifold Mixup: the paper's claims checked with mixgeo%s\n\n",
                quick ? " (quick budget)" : "");
        fprintf(r.f,
                "Verma et al., *Manifold Mixup: Better Representations by Interpolating Hidden "
                "States*, ICML 2019, reproduced on the data we have (two spirals, Fashion-MNIST, "
                "the idealised problem of Theorem 1).  Each claim below is the paper's "
                "statement, what it predicts on our runs, what mixgeo measured (mean ± std over "
                "seeds, with the figure beside it) and a verdict: **holds**, **does not hold** or "
                "**inconclusive** (the difference is within the seed noise, or too few seeds; "
                "the rules are in `mixgeo suite --help`).  Verdicts are about these runs and "
                "budgets only%s.\n\n",
                quick ? "; this is the quick budget (a few epochs, one or two seeds): read it "
                        "as a smoke test of the pipeline, not as a result"
                      : "");
        fprintf(r.f,
                "%d claims from %d suite%s: %d hold, %d do not hold, %d inconclusive, %d without "
                "data.  mixgeo %s, git %s, %s.\n\n",
                total, n, n == 1 ? "" : "s", nv[SX_HOLDS], nv[SX_FAILS], nv[SX_INCONCLUSIVE],
                nv[SX_NODATA], MG_VERSION_STRING, cli_git_revision(), when);
        fputs("| Claim | Suite | Statement | Verdict | Measured |\n|---|---|---|---|---|\n", r.f);
        for (int i = 0; i < n; i++) sx_claims_summary_rows(r.f, &ctx[i], ev[i], prefix[i], 1);
        fputc('\n', r.f);
        for (int i = 0; i < n; i++) {
            const cli_suite *s = suites[i];
            int done = ctx[i].n_done;
            fprintf(r.f, "## Suite %s\n\n", s->name);
            if (*s->description) fprintf(r.f, "%s\n\n", s->description);
            fprintf(r.f,
                    "Suite file `%s`, %d of %d runs done; full report with every table and "
                    "figure: [%sREPORT.md](%sREPORT.md).\n\n",
                    s->path, done, s->n_runs, prefix[i], prefix[i]);
            if (!s->n_claims) fputs("This suite states no claims.\n\n", r.f);
            for (int k = 0; k < s->n_claims; k++)
                sx_claim_render(r.f, &ctx[i], &s->claims[k], &ev[i][k], prefix[i]);
        }
        st = sx_mb_write(&r, path);
        if (st == MG_OK && !cli_quiet()) {
            printf("combined report %s: %d claims: %d hold, %d do not hold, %d inconclusive, %d "
                   "without data\n",
                   path, total, nv[SX_HOLDS], nv[SX_FAILS], nv[SX_INCONCLUSIVE], nv[SX_NODATA]);
            fflush(stdout);
        }
    }
    for (int i = 0; i < n; i++) {
        if (ev[i])
            for (int k = 0; k < suites[i]->n_claims; k++) sx_claim_eval_free(&ev[i][k]);
        free(ev[i]);
        if (ctx[i].s) ctx_close(&ctx[i]);
    }
    free(ev);
    free(ctx);
    free(prefix);
    free(sorted);
    return st;
}
