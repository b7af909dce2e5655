/* an_confidence.c - confidence along interpolation paths at layer k; off-manifold points (uniform box, noise) (analyze.h). */
#include "an_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>


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

mg_status mg_an_confidence(mg_an_ctx *x, cJSON *sec)
{
    mg_status st = MG_OK;
    mg_interp_result ir;
    mg_offmanifold_result orr;
    memset(&ir, 0, sizeof ir);
    memset(&orr, 0, sizeof orr);
    double *rows = NULL, *h = NULL;
    mg_rng rng;
    mg_rng_seed3(&rng, x->seed, MG_STREAM_ANALYSIS, 100 + MG_AN_CONFIDENCE);
    mg_interp_config ic = mg_interp_config_default();
    ic.layer = x->k;
    ic.n_pairs = x->pairs;
    ic.n_lambda = x->lambdas;
    mg_an_progress(x, "analyze: interpolation paths");
    if ((st = mg_interp_paths(x->m, x->d, &ic, &rng, &ir))) goto done;
    const int NL = ir.n_lambda;
    rows = mg_an_alloc_d((size_t)NL * 7);
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
    if ((st = mg_report_tsv(&x->rep, "interp.tsv", icol, 7, rows, NL, 0))) goto done;
    cJSON *io = cJSON_CreateObject();
    cJSON_AddItemToObject(sec, "interp", io);
    if (x->external)
        cJSON_AddStringToObject(io, "space", "the given states, mixed and mapped by the readout");
    else
        cJSON_AddNumberToObject(io, "layer", x->k);
    cJSON_AddNumberToObject(io, "pairs_same", ir.n_pairs[0]);
    cJSON_AddNumberToObject(io, "pairs_diff", ir.n_pairs[1]);
    int mid = NL / 2;
    cJSON_AddNumberToObject(io, "lambda_mid", ir.lambda[mid]);
    cJSON_AddNumberToObject(io, "maxprob_same_mid", ir.maxprob[0][mid]);
    cJSON_AddNumberToObject(io, "maxprob_diff_mid", ir.maxprob[1][mid]);
    cJSON_AddNumberToObject(io, "entropy_same_mid", ir.entropy[0][mid]);
    cJSON_AddNumberToObject(io, "entropy_diff_mid", ir.entropy[1][mid]);
    cJSON_AddNumberToObject(io, "maxprob_same_mean", mg_an_mean(ir.maxprob[0], NL));
    cJSON_AddNumberToObject(io, "maxprob_diff_mean", mg_an_mean(ir.maxprob[1], NL));
    cJSON_AddNumberToObject(io, "entropy_same_mean", mg_an_mean(ir.entropy[0], NL));
    cJSON_AddNumberToObject(io, "entropy_diff_mean", mg_an_mean(ir.entropy[1], NL));
    cJSON_AddNumberToObject(io, "loss_same_mean", mg_an_mean(ir.loss[0], NL));
    cJSON_AddNumberToObject(io, "loss_diff_mean", mg_an_mean(ir.loss[1], NL));
    {
        gp_buf b;
        gp_buf_init(&b);
        int ls = x->rep.method_ls, ld = x->rep.method_ls + 3;
        gp_buf_printf(&b, "set multiplot layout 1,3\nset xlabel '{/Symbol l}'\nset xrange [0:1]\n"
                          "set key bottom center\n");
        mg_report_title(&x->rep, &b, "max softmax");
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
        st = mg_report_gp(&x->rep, "interp", "interpolation paths at layer k", 1400, 460, NULL, &b);
        gp_buf_free(&b);
        if (st) goto done;
    }
    if (x->external) {
        cJSON_AddStringToObject(sec, "offmanifold_skipped",
                                "off-manifold inputs need the network (a mixgeo run)");
        cJSON_AddStringToObject(
            sec, "note",
            "interp: given states of random pairs (same class / different classes) mixed "
            "h = lam h_i + (1-lam) h_j and mapped to logits by the readout z = W h + b");
        snprintf(x->line[MG_AN_CONFIDENCE], sizeof x->line[0],
                 "max softmax at lambda %.2g: same %.4g, different %.4g (readout of the states)",
                 ir.lambda[mid], ir.maxprob[0][mid], ir.maxprob[1][mid]);
        goto done;
    }
    mg_an_progress(x, "analyze: off-manifold points");
    mg_offmanifold_config oc = mg_offmanifold_config_default();
    oc.n_uniform = x->n_uniform;
    oc.n_noise = x->n_noise;
    oc.max_data = 0;
    if ((st = mg_offmanifold(x->m, x->d, &oc, &rng, &orr))) goto done;
    const int HB = x->hist_bins;
    h = mg_an_alloc_d((size_t)HB * 9);
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
    if ((st = mg_report_tsv(&x->rep, "offmanifold-hist.tsv", oc_cols, 9, h, HB, 0))) goto done;
    cJSON *oo = cJSON_CreateObject();
    cJSON_AddItemToObject(sec, "offmanifold", oo);
    cJSON_AddNumberToObject(oo, "n_data", orr.n_data);
    cJSON_AddNumberToObject(oo, "n_uniform", orr.n_uniform);
    cJSON_AddNumberToObject(oo, "n_noise", orr.n_noise);
    cJSON_AddNumberToObject(oo, "data_maxprob_mean", mg_an_mean(orr.data_maxprob, orr.n_data));
    cJSON_AddNumberToObject(oo, "uniform_maxprob_mean",
                            mg_an_mean(orr.uniform_maxprob, orr.n_uniform));
    cJSON_AddNumberToObject(oo, "noise_maxprob_mean", mg_an_mean(orr.noise_maxprob, orr.n_noise));
    cJSON_AddNumberToObject(oo, "data_entropy_mean", mg_an_mean(orr.data_entropy, orr.n_data));
    cJSON_AddNumberToObject(oo, "uniform_entropy_mean",
                            mg_an_mean(orr.uniform_entropy, orr.n_uniform));
    cJSON_AddNumberToObject(oo, "noise_entropy_mean", mg_an_mean(orr.noise_entropy, orr.n_noise));
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
        mg_report_title(&x->rep, &b, "max softmax: data vs off-manifold");
        gp_buf_printf(&b,
                      "set xlabel 'max softmax'\n"
                      "plot 'offmanifold-hist.tsv' using 1:4:($3-$2) with boxes ls %d title "
                      "'data', '' using 1:5:($3-$2) with boxes ls 8 lc rgb '#808080' title "
                      "'uniform box', '' using 1:6:($3-$2) with boxes lc rgb '#59a14f' title "
                      "'noise'\n",
                      x->rep.method_ls);
        gp_buf_printf(&b,
                      "set title 'entropy / ln C'\nset xlabel 'entropy / ln C'\n"
                      "plot 'offmanifold-hist.tsv' using 1:7:($3-$2) with boxes ls %d title "
                      "'data', '' using 1:8:($3-$2) with boxes lc rgb '#808080' title "
                      "'uniform box', '' using 1:9:($3-$2) with boxes lc rgb '#59a14f' title "
                      "'noise'\n"
                      "unset multiplot\nset style fill solid 0.6 noborder\nset key top right\n",
                      x->rep.method_ls);
        st = mg_report_gp(&x->rep, "offmanifold", "confidence on data and off-manifold inputs", 1200, 480,
                   NULL, &b);
        gp_buf_free(&b);
        if (st) goto done;
    }
    snprintf(x->line[MG_AN_CONFIDENCE], sizeof x->line[0],
             "max softmax at lambda %.2g: same %.4g, different %.4g; AUROC data vs uniform %.4g, "
             "vs noise %.4g (max softmax)",
             ir.lambda[mid], ir.maxprob[0][mid], ir.maxprob[1][mid], orr.auroc_uniform_maxprob,
             orr.auroc_noise_maxprob);
done:
    mg_interp_result_free(&ir);
    mg_offmanifold_result_free(&orr);
    free(rows);
    free(h);
    return st;
}
