/* an_margins.c - margins: exact at the input of the final dense layer (or the given readout), DeepFool in input space, first crossings along segments (input space and layer k) (analyze.h). */
#include "an_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>


enum { MK_PEN, MK_DEEPFOOL, MK_SEG_INPUT, MK_SEG_LAYER, MK_COUNT };
static const char *const k_mk_names[MK_COUNT] = {"penultimate", "deepfool", "segment_input",
                                                 "segment_layer"};

/* Quantiles, histogram file and JSON of one kind of margin values v (n,
 * NaN = not available) grouped by labels y. */
static mg_status margin_kind(mg_an_ctx *x, int kind, const double *v, const int32_t *y, int n,
                             cJSON *sec, double *qrows, int *nq_rows, const char *xlabel,
                             gp_buf *fig, int *panels)
{
    const int C = x->C, NQ = MG_N_QUANTILE_LEVELS, HB = x->hist_bins;
    mg_status st = MG_OK;
    double *vf = mg_an_alloc_d(n);
    int32_t *yf = malloc(sizeof(int32_t) * ((size_t)n + 1));
    double *q = mg_an_alloc_d((size_t)C * NQ), *qa = mg_an_alloc_d(NQ);
    int64_t *cnt = malloc(sizeof(int64_t) * (size_t)(C + 1) * HB);
    double *hrows = mg_an_alloc_d((size_t)HB * (4 + C));
    mg_an_cols *cols = malloc(sizeof *cols);
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
    cJSON_AddItemToObject(o, "quantile_levels", mg_json_doubles(mg_quantile_levels_default, NQ));
    cJSON_AddItemToObject(o, "quantiles", mg_json_doubles(qa, NQ));
    double *med = mg_an_alloc_d(C);
    if (!med) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int c = 0; c < C; c++) med[c] = q[(size_t)c * NQ + 3];
    cJSON_AddItemToObject(o, "median_per_class", mg_json_doubles(med, C));
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
    mg_an_cols_add(cols, "center", 0);
    mg_an_cols_add(cols, "lo", 0);
    mg_an_cols_add(cols, "hi", 0);
    mg_an_cols_add(cols, "all", 0);
    for (int c = 0; c < C; c++) mg_an_cols_add(cols, "class_%d", c);
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
    if ((st = mg_report_tsv(&x->rep, fname, cols->names, 4 + C, hrows, HB, 0))) goto done;
    {
        char q1[600], q2[200];
        char t[400];
        snprintf(t, sizeof t, "median %.3g, %.1f%% < 0, n = %d", qa[3], 100.0 * neg / m, m);
        gp_buf_printf(fig,
                      "set title %s\nset xlabel %s\nset ylabel 'count'\n"
                      "plot '%s' using 1:4:($3-$2) with boxes ls %d notitle\n",
                      gp_quote_text(q1, sizeof q1, t), gp_quote(q2, sizeof q2, xlabel), fname,
                      x->rep.method_ls);
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

mg_status mg_an_margins(mg_an_ctx *x, cJSON *sec)
{
    const int C = x->C, n = x->n, d0 = x->d0, NQ = MG_N_QUANTILE_LEVELS;
    const mg_dataset *d = x->d;
    mg_status st = MG_OK;
    double *v = mg_an_alloc_d(n > x->pairs ? (size_t)n : (size_t)x->pairs);
    double *qrows = mg_an_alloc_d((size_t)MK_COUNT * (C + 1) * (3 + NQ));
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
    /* exact margin in the input space of the final dense layer (or at the
     * given readout of external states) */
    if (x->feat && x->W) {
        if ((st = mg_penultimate_margins(x->feat, n, x->df, x->W, x->b, C, x->y, v))) goto done;
        if (x->external)
            snprintf(dl, sizeof dl, "exact margin at the readout (%d features)", x->df);
        else if (x->feat == x->Hp)
            snprintf(dl, sizeof dl, "exact margin at layer %d", x->pen);
        else
            snprintf(dl, sizeof dl, "exact margin at the %d inputs of the final dense layer",
                     x->df);
        if ((st = margin_kind(x, MK_PEN, v, x->y, n, sec, qrows, &nq, dl, &fig, &panels)))
            goto done;
        cJSON *o = cJSON_GetObjectItem(sec, "penultimate");
        cJSON_AddNumberToObject(o, "features", x->df);
        cJSON_AddStringToObject(o, "space", x->feat_what);
        if (x->feat_checked) cJSON_AddNumberToObject(o, "logit_check", x->feat_check);
    } else {
        cJSON_AddStringToObject(sec, "penultimate_skipped", "the last layer is not dense");
    }
    if (x->external) {
        cJSON_AddStringToObject(sec, "network_skipped",
                                "DeepFool and the segment crossings need the network (a mixgeo "
                                "run); external states give the exact margin at the readout");
        goto write;
    }
    /* DeepFool in input space on a random subset */
    {
        mg_rng rng;
        mg_rng_seed3(&rng, x->seed, MG_STREAM_ANALYSIS, 100 + MG_AN_MARGINS);
        int m = x->max_examples < n ? x->max_examples : n;
        sel = mg_an_random_subset(&rng, n, m);
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
        mg_an_progress(x, "analyze: DeepFool on %d examples", m);
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
        mg_rng_seed3(&rng, x->seed, MG_STREAM_ANALYSIS, 200 + MG_AN_MARGINS);
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
            mg_an_progress(x, "analyze: segment crossings (%d pairs)", np);
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
write:
    {
        const char *qc[3 + MG_N_QUANTILE_LEVELS] = {"kind", "class", "n",    "q0",  "q0.05",
                                                    "q0.25", "q0.5", "q0.75", "q0.95", "q1"};
        if ((st = mg_report_tsv(&x->rep, "margins-quantiles.tsv", qc, 3 + NQ, qrows, nq, 0))) goto done;
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
        st = mg_report_gp(&x->rep, "margins", "margin histograms (all classes)", 1100, 420 * ((panels + 1) / 2),
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
        if (x->external)
            snprintf(x->line[MG_AN_MARGINS], sizeof x->line[0],
                     "median exact margin at the readout %.4g (%.1f%% negative)", pm, 100 * pn);
        else
            snprintf(x->line[MG_AN_MARGINS], sizeof x->line[0],
                     "median: penultimate %.4g (%.1f%% negative), DeepFool %.4g, segment input "
                     "%.4g, layer %d %.4g",
                     pm, 100 * pn, fm, sim, x->k, slm);
    }
done:
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
