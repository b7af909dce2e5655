/* an_corollary.c - Corollary 1: the predicted per-class dimension beside the measured ranks, the readout leakage of within-class deviations, the affine dimension of the class means (analyze.h). */
#include "an_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>


/* The readout of layer k: for every class c a d x p matrix W_c (rows of the
 * Jacobian of the logits at the class mean, or the affine map's linear part
 * when every layer after k is affine in evaluation mode).  W: C x C x p. */
static mg_status readout_maps(mg_an_ctx *x, double *W, const char **kind)
{
    const int C = x->C, p = x->dk;
    const size_t blk = (size_t)C * p;
    if (!x->m) { /* external states without a readout */
        for (size_t i = 0; i < blk * C; i++) W[i] = NAN;
        *kind = "none given (the leakage needs the readout W)";
        return MG_OK;
    }
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
        double *M = mg_an_alloc_d((size_t)p * p), *T = NULL;
        if (!M) return mg_fail(MG_ERR_NOMEM, "out of memory");
        memset(M, 0, sizeof(double) * (size_t)p * p);
        for (int i = 0; i < p; i++) M[(size_t)i * p + i] = 1.0;
        for (int i = first; i < nl; i++) {
            mg_layer_info li = mg_model_layer(x->m, i);
            if (li.kind != MG_LAYER_DENSE) continue;
            MG_ASSERT(li.in == rows);
            T = mg_an_alloc_d((size_t)li.out * p);
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
        *kind = x->external ? "the given readout W (its bias cancels in differences)"
                            : "affine (every layer after k is dense, dropout or noise: the linear "
                              "part of the map to the logits)";
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

mg_status mg_an_corollary(mg_an_ctx *x, cJSON *sec)
{
    const mg_spectra_result *r = x->spec;
    const int C = x->C, p = x->dk;
    const size_t blk = (size_t)C * p;
    int pred = mg_corollary1_dim(p, C), applies = mg_theorem1_applies(p, C);
    mg_status st = MG_OK;
    double *W = mg_an_alloc_d(blk * C), *leak = mg_an_alloc_d(C), *gain = mg_an_alloc_d(C);
    double *rows = mg_an_alloc_d((size_t)(C + 1) * 8);
    double *sm = mg_an_alloc_d((size_t)(C < p ? C : p));
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
    cJSON_AddItemToObject(am, "singular_values", mg_json_doubles(sm, md.ns));
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
    if ((st = mg_report_tsv(&x->rep, "corollary.tsv", cc, 8, rows, C + 1, 0))) goto done;
    {
        gp_buf b;
        gp_buf_init(&b);
        mg_report_title(&x->rep, &b, "Corollary 1: per-class rank vs prediction");
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
                      C - 1, x->rep.method_ls, x->rep.method_ls + 3, x->rep.method_ls + 3);
        st = mg_report_gp(&x->rep, "corollary", "measured per-class ranks beside Corollary 1", 900, 560, NULL,
                   &b);
        gp_buf_free(&b);
        if (st) goto done;
    }
    snprintf(x->line[MG_AN_COROLLARY], sizeof x->line[0],
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
