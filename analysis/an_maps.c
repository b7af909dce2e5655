/* an_maps.c - 2-D maps: decision regions and confidence over the input box, and over a 2-D layer (analyze.h). */
#include "an_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>


/* The box of 2-D points (several arrays of n_i x 2 floats), padded by frac
 * of its size (or by 1 when flat). */
static void box_of(const float *const *pts, const int *np, int nset, double frac, double box[4])
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int s = 0; s < nset; s++)
        for (int i = 0; i < np[s]; i++) {
            double a = pts[s][2 * i], b = pts[s][2 * i + 1];
            if (!isfinite(a) || !isfinite(b)) continue;
            x0 = fmin(x0, a);
            x1 = fmax(x1, a);
            y0 = fmin(y0, b);
            y1 = fmax(y1, b);
        }
    if (!(x0 <= x1)) x0 = -1, x1 = 1;
    if (!(y0 <= y1)) y0 = -1, y1 = 1;
    double px = x1 > x0 ? frac * (x1 - x0) : 1.0, py = y1 > y0 ? frac * (y1 - y0) : 1.0;
    box[0] = x0 - px;
    box[1] = x1 + px;
    box[2] = y0 - py;
    box[3] = y1 + py;
}

/* Grid map file: x y class conf r g b (scan lines of G points). */
static mg_status map_file(mg_an_ctx *x, const char *name, int layer, const double box[4], cJSON *o,
                          double *mean_conf)
{
    const int G = x->grid, C = x->C;
    const size_t N = (size_t)G * G;
    int32_t *cls = malloc(sizeof(int32_t) * N);
    float *conf = malloc(sizeof(float) * N);
    double *rows = mg_an_alloc_d(N * 7);
    mg_status st = MG_OK;
    if (!cls || !conf || !rows) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory (%d x %d map)", G, G);
        goto done;
    }
    if ((st = mg_map2d(x->m, layer, box, G, G, cls, conf))) goto done;
    double sc = 0;
    size_t low = 0;
    for (size_t i = 0; i < N; i++) {
        int ix = (int)(i % G), iy = (int)(i / G);
        double *r = rows + i * 7;
        r[0] = box[0] + ix * (box[1] - box[0]) / (G - 1);
        r[1] = box[2] + iy * (box[3] - box[2]) / (G - 1);
        r[2] = cls[i];
        r[3] = conf[i];
        /* class colour blended with white by the confidence above chance */
        double s = (conf[i] - 1.0 / C) / (1.0 - 1.0 / C);
        s = s < 0 ? 0 : s > 1 ? 1 : s;
        unsigned char rgb[3];
        gp_class_rgb_bytes(cls[i], rgb);
        for (int ch = 0; ch < 3; ch++) r[4 + ch] = round(255.0 - 0.75 * s * (255.0 - rgb[ch]));
        sc += conf[i];
        low += conf[i] < 0.9f;
    }
    static const char *const mc[7] = {"x", "y", "class", "conf", "r", "g", "b"};
    if ((st = mg_report_tsv(&x->rep, name, mc, 7, rows, (int)N, G))) goto done;
    *mean_conf = sc / (double)N;
    cJSON_AddItemToObject(o, "box", mg_json_doubles(box, 4));
    cJSON_AddNumberToObject(o, "grid", G);
    cJSON_AddNumberToObject(o, "grid_mean_conf", sc / (double)N);
    cJSON_AddNumberToObject(o, "grid_frac_conf_below_0.9", (double)low / (double)N);
done:
    free(cls);
    free(conf);
    free(rows);
    return st;
}

/* points file: x y label pred (at most cap random points, all when cap >= n) */
static mg_status points_file(mg_an_ctx *x, const char *name, const float *P, int n, int cap,
                             mg_rng *rng)
{
    int m = n < cap ? n : cap;
    int *sel = m < n ? mg_an_random_subset(rng, n, m) : NULL;
    double *rows = mg_an_alloc_d((size_t)m * 4);
    mg_status st = MG_OK;
    if (!rows || (m < n && !sel)) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int j = 0; j < m; j++) {
        int i = sel ? sel[j] : j;
        rows[4 * j] = P[2 * (size_t)i];
        rows[4 * j + 1] = P[2 * (size_t)i + 1];
        rows[4 * j + 2] = x->y[i];
        rows[4 * j + 3] = x->pred[i];
    }
    static const char *const pc[4] = {"x", "y", "label", "pred"};
    st = mg_report_tsv(&x->rep, name, pc, 4, rows, m, 0);
done:
    free(sel);
    free(rows);
    return st;
}

static void map_points_plot(mg_an_ctx *x, gp_buf *b, const char *points)
{
    gp_buf_printf(b,
                  "     for [c=0:%d] '%s' using 1:($3 == c ? $2 : NaN) with points ls (11 + c %% "
                  "10) pt 7 ps 0.45 title cls_name[c+1] noenhanced",
                  x->C - 1, points);
}

mg_status mg_an_maps(mg_an_ctx *x, cJSON *sec)
{
    mg_status st = MG_OK;
    mg_rng rng;
    mg_rng_seed3(&rng, x->seed, MG_STREAM_ANALYSIS, 100 + MG_AN_MAPS);
    float *U = NULL, *Ux = NULL;
    int32_t *upred = NULL;
    double *uconf = NULL, *urows = NULL;
    const int cap = 20000;
    int lp = 0;
    char rep[480] = "";
    gp_buf setup;
    gp_buf_init(&setup);
    mg_report_class_names(&x->rep, &setup);
    if (x->d0 == 2) {
        double box[4], mc;
        const float *pts[1] = {x->d->x};
        int np[1] = {x->n};
        box_of(pts, np, 1, 0.1, box);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(sec, "input", o);
        mg_an_progress(x, "analyze: input-space map");
        if ((st = map_file(x, "map-input.tsv", 0, box, o, &mc))) goto done;
        if ((st = points_file(x, "points-input.tsv", x->d->x, x->n, cap, &rng))) goto done;
        gp_buf b;
        gp_buf_init(&b);
        mg_report_title(&x->rep, &b, "input space: predicted class, shaded by confidence");
        gp_buf_printf(&b,
                      "set xrange [%.9g:%.9g]\nset yrange [%.9g:%.9g]\nset size ratio -1\n"
                      "set xlabel 'x_1'\nset ylabel 'x_2'\nset key outside right top\n"
                      "unset grid\nset style fill solid 1 noborder\n"
                      "plot 'map-input.tsv' using 1:2:5:6:7 with rgbimage notitle, \\\n",
                      box[0], box[1], box[2], box[3]);
        map_points_plot(x, &b, "points-input.tsv");
        gp_buf_printf(&b, "\nset size noratio\nset grid\n");
        st = mg_report_gp(&x->rep, "map-input", "decision regions and confidence over the input box (Fig. 1a,b)",
                   900, 720, &setup, &b);
        gp_buf_free(&b);
        if (st) goto done;
        gp_buf_init(&b);
        mg_report_title(&x->rep, &b, "input space: confidence (max softmax)");
        gp_buf_printf(&b,
                      "set xrange [%.9g:%.9g]\nset yrange [%.9g:%.9g]\nset size ratio -1\n"
                      "set cbrange [%.9g:1]\nset cblabel 'max softmax'\n"
                      "set xlabel 'x_1'\nset ylabel 'x_2'\nset key outside right top\n"
                      "unset grid\nset style fill solid 1 noborder\n"
                      "plot 'map-input.tsv' using 1:2:4 with image notitle, \\\n",
                      box[0], box[1], box[2], box[3], 1.0 / x->C);
        map_points_plot(x, &b, "points-input.tsv");
        gp_buf_printf(&b, "\nset size noratio\nset grid\n");
        st = mg_report_gp(&x->rep, "map-input-conf", "confidence over the input box with the data", 960, 720,
                   &setup, &b);
        gp_buf_free(&b);
        if (st) goto done;
        lp += snprintf(rep + lp, sizeof rep - (size_t)lp, "input map mean conf %.4g", mc);
    }
    if (x->dk == 2 && x->k > 0) {
        const int nu = x->n_uniform, d0 = x->d0;
        float *lo = malloc(sizeof(float) * d0), *hi = malloc(sizeof(float) * d0);
        U = malloc(sizeof(float) * 2 * ((size_t)nu + 1));
        upred = malloc(sizeof(int32_t) * ((size_t)nu + 1));
        uconf = mg_an_alloc_d(nu);
        urows = mg_an_alloc_d((size_t)nu * 4);
        if (!lo || !hi || !U || !upred || !uconf || !urows) {
            free(lo);
            free(hi);
            st = mg_fail(MG_ERR_NOMEM, "out of memory");
            goto done;
        }
        mg_data_stats(x->d, lo, hi, NULL, NULL);
        mg_an_progress(x, "analyze: hidden-space map");
        st = mg_uniform_states(x->m, lo, hi, nu, x->k, &rng, NULL, U);
        free(lo);
        free(hi);
        if (st) goto done;
        if (nu > 0 && (st = mg_predict(x->m, x->k, U, nu, upred, uconf))) goto done;
        double box[4], mc;
        const float *pts[2] = {x->Hk, U};
        int np[2] = {x->n, nu};
        box_of(pts, np, 2, 0.05, box);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(sec, "hidden", o);
        cJSON_AddNumberToObject(o, "layer", x->k);
        cJSON_AddNumberToObject(o, "n_uniform", nu);
        cJSON_AddNumberToObject(o, "uniform_maxprob_mean", mg_an_mean(uconf, nu));
        if ((st = map_file(x, "map-hidden.tsv", x->k, box, o, &mc))) goto done;
        if ((st = points_file(x, "points-hidden.tsv", x->Hk, x->n, cap, &rng))) goto done;
        for (int i = 0; i < nu; i++) {
            urows[4 * i] = U[2 * i];
            urows[4 * i + 1] = U[2 * i + 1];
            urows[4 * i + 2] = upred[i];
            urows[4 * i + 3] = uconf[i];
        }
        static const char *const uc[4] = {"x", "y", "pred", "conf"};
        if ((st = mg_report_tsv(&x->rep, "uniform-hidden.tsv", uc, 4, urows, nu, 0))) goto done;
        gp_buf b;
        gp_buf_init(&b);
        char t[160];
        snprintf(t, sizeof t, "layer %d: confidence, uniform-box inputs (+), data", x->k);
        mg_report_title(&x->rep, &b, t);
        gp_buf_printf(&b,
                      "set xrange [%.9g:%.9g]\nset yrange [%.9g:%.9g]\n"
                      "set cbrange [%.9g:1]\nset cblabel 'max softmax'\n"
                      "set xlabel 'h_1'\nset ylabel 'h_2'\nset key outside right top\n"
                      "unset grid\nset style fill solid 1 noborder\n"
                      "plot 'map-hidden.tsv' using 1:2:4 with image notitle, \\\n"
                      "     'uniform-hidden.tsv' using 1:2 with points pt 1 ps 0.4 lc rgb "
                      "'#000000' title 'uniform box inputs', \\\n",
                      box[0], box[1], box[2], box[3], 1.0 / x->C);
        map_points_plot(x, &b, "points-hidden.tsv");
        gp_buf_printf(&b, "\nset grid\n");
        st = mg_report_gp(&x->rep, "map-hidden", "hidden-space map coloured by confidence (Fig. 1d,e)", 960,
                   720, &setup, &b);
        gp_buf_free(&b);
        if (st) goto done;
        lp += snprintf(rep + lp, sizeof rep - (size_t)lp,
                       "%slayer %d map mean conf %.4g, uniform-box inputs mean max softmax %.4g",
                       lp ? "; " : "", x->k, mc, mg_an_mean(uconf, nu));
    }
    cJSON_AddStringToObject(sec, "note",
                            "map-*.tsv: an N x N grid over the box, predicted class, max softmax "
                            "and the colour shown (class colour blended with white by "
                            "(conf - 1/C)/(1 - 1/C)); points-*.tsv: the data (label, prediction)");
    snprintf(x->line[MG_AN_MAPS], sizeof x->line[0], "%s", rep);
done:
    gp_buf_free(&setup);
    free(U);
    free(Ux);
    free(upred);
    free(uconf);
    free(urows);
    return st;
}
