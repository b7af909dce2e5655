/* an_theory.c - Theorem 1: the least-squares affine fit (dgelsd) of the one-hot labels on the states and its mixup squared error over a lambda grid (analyze.h). */
#include "an_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>


mg_status mg_an_theory(mg_an_ctx *x, cJSON *sec)
{
    const int C = x->C, p = x->dk, n = x->n, NL = x->lambdas;
    mg_status st = MG_OK;
    double *B = mg_an_alloc_d((size_t)(p + 1) * C), *lam = mg_an_alloc_d(NL), *per = mg_an_alloc_d(NL);
    double *rows = mg_an_alloc_d((size_t)NL * 2);
    if (!B || !lam || !per || !rows) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory");
        goto done;
    }
    double rcond = (double)(n > p + 1 ? n : p + 1) * FLT_EPSILON;
    mg_affine_fit_info info;
    if ((st = mg_affine_fit_f32(x->Hk, n, p, x->y, C, rcond, B, &info))) goto done;
    for (int l = 0; l < NL; l++) lam[l] = (double)l / (NL - 1);
    double mean = NAN;
    int pairs = 0;
    if (n >= 2) {
        mg_rng rng;
        mg_rng_seed3(&rng, x->seed, MG_STREAM_ANALYSIS, 100 + MG_AN_THEORY);
        pairs = x->pairs;
        if ((st = mg_affine_mixup_error_f32(x->Hk, n, p, x->y, C, B, lam, NL, pairs, &rng, per,
                                            &mean)))
            goto done;
    } else {
        for (int l = 0; l < NL; l++) per[l] = NAN;
    }
    /* the scale: the best constant predictor (class frequencies) */
    double q = 0;
    for (int c = 0; c < C; c++) {
        double f = (double)x->class_counts[c] / n;
        q += f * f;
    }
    double const_rel = sqrt(fmax(0.0, 1.0 - q));
    for (int l = 0; l < NL; l++) {
        rows[2 * l] = lam[l];
        rows[2 * l + 1] = per[l];
    }
    static const char *const tc[2] = {"lambda", "mixup_sq_error"};
    if ((st = mg_report_tsv(&x->rep, "theory-mixup.tsv", tc, 2, rows, NL, 0))) goto done;
    cJSON_AddNumberToObject(sec, "dim", p);
    cJSON_AddNumberToObject(sec, "classes", C);
    cJSON_AddBoolToObject(sec, "theorem1_applies", mg_theorem1_applies(p, C));
    cJSON_AddNumberToObject(sec, "n", n);
    cJSON_AddNumberToObject(sec, "p", p);
    cJSON_AddBoolToObject(sec, "underdetermined", info.underdetermined);
    if (info.underdetermined)
        cJSON_AddStringToObject(
            sec, "underdetermined_note",
            "n < p + 1: fewer examples than unknowns per output, so [h 1] of full row rank "
            "(fit_rank = n) is fitted exactly by the minimum-norm solution and resid_rel ~ 0 "
            "and mixup_sq_error ~ 0 are expected for ANY states: they are no evidence for "
            "Theorem 1 here; only fit_rank < n (and then resid_rel > 0) says something");
    cJSON_AddNumberToObject(sec, "rcond", info.rcond);
    cJSON_AddNumberToObject(sec, "fit_rank", info.rank);
    cJSON_AddNumberToObject(sec, "resid", info.resid);
    cJSON_AddNumberToObject(sec, "resid_rel", info.resid_rel);
    cJSON_AddNumberToObject(sec, "resid_rel_constant", const_rel);
    cJSON_AddNumberToObject(sec, "mixup_sq_error_mean", mean);
    cJSON_AddNumberToObject(sec, "mixup_pairs", pairs);
    cJSON_AddItemToObject(sec, "lambda", mg_json_doubles(lam, NL));
    cJSON_AddItemToObject(sec, "mixup_sq_error", mg_json_doubles(per, NL));
    cJSON_AddStringToObject(
        sec, "note",
        "least-squares fit (LAPACK dgelsd, rcond = max(n, p+1) FLT_EPSILON) of the one-hot "
        "labels on [h 1]: resid_rel = ||[h 1] B - Y||_F / ||Y||_F is the Theorem-1 gap of these "
        "representations (0 = an affine readout interpolates every mixup target exactly); "
        "resid_rel_constant = the same for the best constant predictor; mixup_sq_error = mean "
        "over random pairs of ||f(mix h) - mix y||^2 (summed over outputs) of that affine map");
    {
        gp_buf b;
        gp_buf_init(&b);
        mg_report_title(&x->rep, &b, "mixup error of the least-squares affine readout");
        gp_buf_printf(&b,
                      "set xlabel '{/Symbol l}'\nset ylabel 'mean ||f(mix h) - mix y||^2'\n"
                      "set xrange [0:1]\nset yrange [0:*]\nset key top right\n"
                      "plot 'theory-mixup.tsv' using 1:2 with linespoints ls %d title "
                      "'affine fit, resid_{rel} = %.3g'\n",
                      x->rep.method_ls, info.resid_rel);
        st = mg_report_gp(&x->rep, "theory-mixup", "Theorem 1: mixup squared error of the affine fit", 800, 560,
                   NULL, &b);
        gp_buf_free(&b);
        if (st) goto done;
    }
    snprintf(x->line[MG_AN_THEORY], sizeof x->line[0],
             "affine fit resid_rel %.4g (constant predictor %.4g, rank %d of %d); mixup sq error "
             "%.4g over %d pairs%s",
             info.resid_rel, const_rel, info.rank, p + 1, mean, pairs,
             info.underdetermined ? " [UNDERDETERMINED: n < p + 1, an exact fit is expected]"
                                  : "");
done:
    free(B);
    free(lam);
    free(per);
    free(rows);
    return st;
}
