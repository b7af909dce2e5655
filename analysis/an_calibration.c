/* an_calibration.c - calibration: ECE, MCE, overconfidence, NLL, Brier, the reliability diagram (analyze.h). */
#include "an_internal.h"
#include "compare.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>


mg_status mg_an_calibration(mg_an_ctx *x, cJSON *sec)
{
    const int n = x->n, C = x->C, B = x->bins;
    mg_status st = MG_OK;
    double *p = mg_an_alloc_d((size_t)n * C), *rows = mg_an_alloc_d((size_t)B * 6);
    mg_reliability_bin *rel = malloc(sizeof *rel * (size_t)B);
    if (!p || !rows || !rel) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory");
        goto done;
    }
    mg_softmax_f64(x->logits, n, C, p);
    mg_calibration cal;
    if ((st = mg_calibration_f64(p, n, C, x->y, B, &cal, rel))) goto done;
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
    if ((st = mg_report_tsv(&x->rep, "reliability.tsv", rc, 6, rows, B, 0))) goto done;
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
        mg_report_title(&x->rep, &b, t);
        gp_buf_printf(&b,
                      "set size ratio 1\nset xrange [0:1]\nset yrange [0:1]\n"
                      "set xlabel 'confidence (max softmax)'\nset ylabel 'accuracy'\n"
                      "set key top left\n"
                      "plot 'reliability.tsv' using 3:6:($2-$1) with boxes ls %d title "
                      "'accuracy per bin', \\\n"
                      "     '' using 5:6 with points ls 1 pt 7 ps 0.8 title 'mean confidence', \\\n"
                      "     x with lines ls 8 title 'perfect calibration'\n"
                      "set size noratio\n",
                      x->rep.method_ls);
        st = mg_report_gp(&x->rep, "reliability", "reliability diagram", 640, 640, NULL, &b);
        gp_buf_free(&b);
        if (st) goto done;
    }
    /* adaptive (equal-mass) bins, the same count */
    double ece_a = NAN, mce_a = NAN;
    {
        double *conf = mg_an_alloc_d(n);
        unsigned char *ok = malloc((size_t)n + 1);
        if (!conf || !ok) {
            free(conf);
            free(ok);
            st = mg_fail(MG_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (int i = 0; i < n; i++) {
            const double *pi = p + (size_t)i * C;
            int a = 0;
            for (int j = 1; j < C; j++)
                if (pi[j] > pi[a]) a = j;
            conf[i] = pi[a];
            ok[i] = a == x->y[i];
        }
        st = mg_adaptive_ece(conf, ok, n, B, &ece_a, &mce_a, rel);
        free(conf);
        free(ok);
        if (st) goto done;
        for (int b = 0; b < B; b++) {
            double *r = rows + (size_t)b * 6;
            r[0] = rel[b].lo;
            r[1] = rel[b].hi;
            r[2] = (double)rel[b].count;
            r[3] = rel[b].conf;
            r[4] = rel[b].acc;
        }
        static const char *const ac[5] = {"lo", "hi", "count", "conf", "acc"};
        if ((st = mg_report_tsv(&x->rep, "reliability-adaptive.tsv", ac, 5, rows, B, 0)))
            goto done;
        cJSON_AddNumberToObject(sec, "ece_adaptive", ece_a);
        cJSON_AddNumberToObject(sec, "mce_adaptive", mce_a);
        cJSON_AddStringToObject(sec, "adaptive_note",
                                "adaptive (equal-mass) bins: the examples sorted by confidence "
                                "(ties by index), bin b of B holding ranks floor(b n/B) .. "
                                "floor((b+1) n/B) - 1; ece_adaptive = sum_b |B_b|/n |acc_b - "
                                "conf_b|; reliability-adaptive.tsv: lo/hi = the smallest and "
                                "largest confidence of a bin");
        gp_buf b;
        gp_buf_init(&b);
        char t[200];
        snprintf(t, sizeof t, "reliability, equal-mass bins (adaptive ECE %.3g, %d bins)", ece_a,
                 B);
        mg_report_title(&x->rep, &b, t);
        gp_buf_printf(&b,
                      "set size ratio 1\nset xrange [0:1]\nset yrange [0:1]\n"
                      "set xlabel 'mean confidence of the bin'\nset ylabel 'accuracy'\n"
                      "set key top left\n"
                      "plot 'reliability-adaptive.tsv' using 4:5 with linespoints ls %d pt 7 "
                      "title 'equal-mass bins', \\\n"
                      "     x with lines ls 8 title 'perfect calibration'\n"
                      "set size noratio\n",
                      x->rep.method_ls);
        st = mg_report_gp(&x->rep, "reliability-adaptive", "reliability diagram, equal-mass bins",
                          640, 640, NULL, &b);
        gp_buf_free(&b);
        if (st) goto done;
    }
    snprintf(x->line[MG_AN_CALIBRATION], sizeof x->line[0],
             "ECE %.4g (%d bins; adaptive %.4g), MCE %.4g, OE %.4g, NLL %.4g, Brier %.4g, "
             "accuracy %.4g",
             cal.ece, B, ece_a, cal.mce, cal.oe, cal.nll, cal.brier, cal.accuracy);
done:
    free(p);
    free(rows);
    free(rel);
    return st;
}
