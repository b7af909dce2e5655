/* an_dimension.c - the TwoNN intrinsic dimension of the states, per class and
 * pooled (analyze.h, compare.h). */
#include "an_internal.h"
#include "compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* TwoNN of the rows rows[0..m-1] of the states (x->Hk), at most cap of them
 * (a seeded random subset beyond). */
static mg_status twonn_rows(mg_an_ctx *x, const int *rows, int m, int cap, mg_rng *rng,
                            mg_twonn_result *r, int *used)
{
    const int p = x->dk;
    int *sel = NULL, k = m;
    if (m > cap) {
        sel = mg_an_random_subset(rng, m, cap);
        if (!sel) return mg_fail(MG_ERR_NOMEM, "out of memory");
        k = cap;
    }
    float *X = malloc(sizeof(float) * (size_t)k * p + 1);
    if (!X) {
        free(sel);
        return mg_fail(MG_ERR_NOMEM, "out of memory (%d x %d states)", k, p);
    }
    for (int i = 0; i < k; i++)
        memcpy(X + (size_t)i * p, x->Hk + (size_t)rows[sel ? sel[i] : i] * p, sizeof(float) * p);
    *used = k;
    mg_status st = k >= 3 ? mg_twonn_f32(X, k, p, x->cfg->twonn_discard, r, NULL) : MG_OK;
    if (k < 3) {
        memset(r, 0, sizeof *r);
        r->n = k;
        r->d = NAN;
    }
    free(X);
    free(sel);
    return st;
}

static cJSON *result_json(const mg_twonn_result *r, int n, int used)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", n);
    cJSON_AddNumberToObject(o, "n_used", used);
    cJSON_AddNumberToObject(o, "n_duplicate", r->n_duplicate);
    cJSON_AddNumberToObject(o, "n_fit", r->n_fit);
    cJSON_AddNumberToObject(o, "d", r->d);
    return o;
}

mg_status mg_an_dimension(mg_an_ctx *x, cJSON *sec)
{
    const int C = x->C, n = x->n, cap = x->cfg->twonn_max;
    mg_rng rng;
    mg_rng_seed3(&rng, x->seed, MG_STREAM_ANALYSIS, 100 + MG_AN_DIMENSION);
    int *rows = malloc(sizeof(int) * ((size_t)n + 1));
    double *t = mg_an_alloc_d((size_t)(C + 1) * 6);
    mg_status st = MG_OK;
    if (!rows || !t) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory");
        goto done;
    }
    cJSON *per = cJSON_CreateArray();
    cJSON_AddItemToObject(sec, "per_class", per);
    double dsum = 0;
    int dn = 0;
    for (int c = 0; c < C; c++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (x->y[i] == c) rows[m++] = i;
        mg_an_progress(x, "analyze: TwoNN of class %d (%d states)", c, m);
        mg_twonn_result r;
        int used = 0;
        if ((st = twonn_rows(x, rows, m, cap, &rng, &r, &used))) goto done;
        cJSON *o = result_json(&r, m, used);
        cJSON_AddNumberToObject(o, "class", c);
        cJSON_AddItemToArray(per, o);
        double *row = t + (size_t)c * 6;
        row[0] = c;
        row[1] = m;
        row[2] = used;
        row[3] = r.n_duplicate;
        row[4] = r.n_fit;
        row[5] = r.d;
        if (isfinite(r.d)) {
            dsum += r.d;
            dn++;
        }
    }
    for (int i = 0; i < n; i++) rows[i] = i;
    mg_an_progress(x, "analyze: TwoNN of all %d states", n);
    mg_twonn_result r;
    int used = 0;
    if ((st = twonn_rows(x, rows, n, cap, &rng, &r, &used))) goto done;
    cJSON_AddItemToObject(sec, "pooled", result_json(&r, n, used));
    double *row = t + (size_t)C * 6;
    row[0] = -1;
    row[1] = n;
    row[2] = used;
    row[3] = r.n_duplicate;
    row[4] = r.n_fit;
    row[5] = r.d;
    double mean = dn ? dsum / dn : NAN;
    cJSON_AddNumberToObject(sec, "mean_per_class", mean);
    cJSON_AddNumberToObject(sec, "dim", x->dk);
    cJSON_AddNumberToObject(sec, "discard", x->cfg->twonn_discard);
    cJSON_AddNumberToObject(sec, "max_points", cap);
    cJSON_AddStringToObject(
        sec, "note",
        "TwoNN (Facco et al. 2017): mu = r2/r1, the distances to the second and first nearest "
        "neighbours (Euclidean, exact, in double); points with r1 = 0 (duplicates) dropped; "
        "ECDF F(mu_(i)) = i/N for the N ratios sorted ascending; the largest `discard` fraction "
        "dropped (and always mu_(N), where -log(1-F) is infinite); d = slope of the "
        "least-squares line through the origin of -log(1 - F) against log(mu); a set of more "
        "than max_points states is replaced by a seeded random subset of that size (n_used); "
        "dimension.tsv: class -1 = pooled");
    static const char *const cols[6] = {"class", "n", "n_used", "n_duplicate", "n_fit", "d"};
    if ((st = mg_report_tsv(&x->rep, "dimension.tsv", cols, 6, t, C + 1, 0))) goto done;
    {
        gp_buf b;
        gp_buf_init(&b);
        mg_report_title(&x->rep, &b, "TwoNN intrinsic dimension per class");
        gp_buf_printf(&b,
                      "set xlabel 'class'\nset ylabel 'intrinsic dimension (TwoNN)'\n"
                      "set xrange [-0.7:%d.7]\nset yrange [0:*]\nset xtics 1\n"
                      "set style fill solid 0.6 noborder\nset boxwidth 0.7\n"
                      "set key top right\n"
                      "plot 'dimension.tsv' using 1:($1 >= 0 ? $6 : NaN) with boxes ls %d "
                      "title 'per class', \\\n"
                      "     %.9g with lines ls 8 title sprintf('pooled %%.3g', %.9g)\n"
                      "set xtics autofreq\n",
                      C - 1, x->rep.method_ls, isfinite(r.d) ? r.d : 0.0,
                      isfinite(r.d) ? r.d : 0.0);
        st = mg_report_gp(&x->rep, "dimension", "TwoNN intrinsic dimension", 900, 560, NULL, &b);
        gp_buf_free(&b);
        if (st) goto done;
    }
    snprintf(x->line[MG_AN_DIMENSION], sizeof x->line[0],
             "TwoNN d: mean over classes %.4g, pooled %.4g (of %d features; discard %.2g)", mean,
             r.d, x->dk, x->cfg->twonn_discard);
done:
    free(rows);
    free(t);
    return st;
}
