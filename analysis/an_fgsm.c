/* an_fgsm.c - accuracy under one-step FGSM over an epsilon grid (analyze.h). */
#include "an_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>


mg_status mg_an_fgsm(mg_an_ctx *x, cJSON *sec)
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
    double acc[MG_AN_MAX_EPS], rows[2 * MG_AN_MAX_EPS];
    mg_an_progress(x, "analyze: FGSM on %d examples", d->n);
    mg_status st = mg_fgsm_accuracy(x->m, d, &fc, acc);
    if (st) return st;
    for (int e = 0; e < x->n_eps; e++) {
        rows[2 * e] = x->eps[e];
        rows[2 * e + 1] = acc[e];
    }
    static const char *const fcol[2] = {"eps", "accuracy"};
    if ((st = mg_report_tsv(&x->rep, "fgsm.tsv", fcol, 2, rows, x->n_eps, 0))) return st;
    cJSON_AddNumberToObject(sec, "n", d->n);
    cJSON_AddItemToObject(sec, "eps", mg_json_doubles(x->eps, x->n_eps));
    cJSON_AddItemToObject(sec, "accuracy", mg_json_doubles(acc, x->n_eps));
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
        mg_report_title(&x->rep, &b, "FGSM accuracy");
        gp_buf_printf(&b,
                      "set xlabel '{/Symbol e} (input units)'\nset ylabel 'accuracy'\n"
                      "set yrange [0:1]\nset key top right\n"
                      "plot 'fgsm.tsv' using 1:2 with linespoints ls %d title 'FGSM accuracy'\n",
                      x->rep.method_ls);
        st = mg_report_gp(&x->rep, "fgsm", "FGSM accuracy over epsilon", 800, 560, NULL, &b);
        gp_buf_free(&b);
        if (st) return st;
    }
    int o = snprintf(x->line[MG_AN_FGSM], sizeof x->line[0], "accuracy");
    for (int e = 0; e < x->n_eps && o < (int)sizeof x->line[0] - 40; e++)
        o += snprintf(x->line[MG_AN_FGSM] + o, sizeof x->line[0] - (size_t)o, "%s eps %g: %.4g",
                      e ? "," : "", x->eps[e], acc[e]);
    return MG_OK;
}
