/* an_spectra.c - per-class singular-value spectra, centred and uncentred, pooled within-class and total, and their summaries (analyze.h). */
#include "an_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>


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
static mg_status spectra_table(mg_an_ctx *x, const char *name, const double *const *s,
                               const int *ns, int nspec, const char *const *cols, int rel)
{
    int rows = 0;
    for (int j = 0; j < nspec; j++)
        if (ns[j] > rows) rows = ns[j];
    int nc = nspec + 1;
    double *t = mg_an_alloc_d((size_t)rows * nc);
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
    mg_status st = mg_report_tsv(&x->rep, name, cols, nc, t, rows, 0);
    free(t);
    return st;
}

mg_status mg_an_spectra(mg_an_ctx *x, cJSON *sec)
{
    const mg_spectra_result *r = x->spec;
    const int C = r->classes;
    mg_status st = MG_OK;
    mg_an_cols *cols = malloc(sizeof *cols);
    const double **s = malloc(sizeof(double *) * ((size_t)C + 2));
    int *ns = malloc(sizeof(int) * ((size_t)C + 2));
    double *srows = mg_an_alloc_d((size_t)(2 * C + 2) * (N_SUMM + 2));
    double *mean_c = calloc(N_SUMM, sizeof(double)), *mean_u = calloc(N_SUMM, sizeof(double));
    if (!cols || !s || !ns || !srows || !mean_c || !mean_u) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* centred, per class + pooled */
    cols->n = 0;
    mg_an_cols_add(cols, "k", 0);
    for (int c = 0; c < C; c++) mg_an_cols_add(cols, "class_%d", c);
    mg_an_cols_add(cols, "within", 0);
    mg_an_cols_add(cols, "total", 0);
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
        if (x->rep.class_names) cJSON_AddStringToObject(o, "name", x->rep.class_names[c]);
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
        if ((st = mg_report_tsv(&x->rep, "spectra-summary.tsv", sc, W, srows, nrow, 0))) goto done;
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
        mg_report_class_names(&x->rep, &setup);
        const char *key = C > 12 ? "unset key\n" : "set key outside right top\n";
        gp_buf_printf(&b, "set multiplot layout 1,2\n%s", key);
        mg_report_title(&x->rep, &b, "per-class singular values, centred");
        gp_buf_printf(&b,
                      "set logscale y\nset format y '10^{%%T}'\n"
                      "set xlabel 'k'\nset ylabel 's_k'\n"
                      "plot for [c=0:%d] 'spectra-centred.tsv' using 1:(column(c+2)) with lines "
                      "ls (11 + c %% 10) title cls_name[c+1] noenhanced\n",
                      C - 1);
        mg_report_title(&x->rep, &b, "uncentred");
        gp_buf_printf(&b,
                      "plot for [c=0:%d] 'spectra-uncentred.tsv' using 1:(column(c+2)) with lines "
                      "ls (11 + c %% 10) title cls_name[c+1] noenhanced\n"
                      "unset multiplot\nunset logscale y\nset format y '%%g'\n",
                      C - 1);
        st = mg_report_gp(&x->rep, "spectra", "per-class singular values (log y), centred and uncentred", 1200,
                   520, &setup, &b);
        gp_buf_free(&b);
        if (st == MG_OK) {
            gp_buf_init(&b);
            gp_buf_printf(&b, "%s", key);
            mg_report_title(&x->rep, &b, "s_k / s_1 per class, centred");
            gp_buf_printf(&b,
                          "set logscale y\nset format y '10^{%%T}'\n"
                          "set xlabel 'k'\nset ylabel 's_k / s_1'\n"
                          "plot for [c=0:%d] 'spectra-rel.tsv' using 1:(column(c+2)) with lines "
                          "ls (11 + c %% 10) title cls_name[c+1] noenhanced, \\\n"
                          "     'spectra-rel.tsv' using 1:%d with lines ls %d title 'pooled "
                          "within-class', \\\n"
                          "     'spectra-rel.tsv' using 1:%d with lines ls 8 title 'pooled total'\n"
                          "unset logscale y\nset format y '%%g'\n",
                          C - 1, C + 2, x->rep.method_ls + 3, C + 3);
            st = mg_report_gp(&x->rep, "spectra-rel", "s_k/s_1 overlay of the classes (log y)", 900, 600,
                       &setup, &b);
            gp_buf_free(&b);
        }
        gp_buf_free(&setup);
        if (st) goto done;
    }
    snprintf(x->line[MG_AN_SPECTRA], sizeof x->line[0],
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
