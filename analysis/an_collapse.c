/* an_collapse.c - neural collapse NC1-NC4 on the features entering the final dense layer (or the given readout) (analyze.h). */
#include "an_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>


mg_status mg_an_collapse(mg_an_ctx *x, cJSON *sec)
{
    if (!x->feat || !x->W) {
        cJSON_AddStringToObject(sec, "skipped", "the last layer is not dense");
        snprintf(x->line[MG_AN_COLLAPSE], sizeof x->line[0], "skipped (last layer not dense)");
        return MG_OK;
    }
    mg_collapse nc;
    mg_status st = mg_neural_collapse(x->feat, x->n, x->df, x->y, x->C, x->W, x->logits, &nc);
    if (st) return st;
    if (!x->external) cJSON_AddNumberToObject(sec, "layer", x->pen);
    cJSON_AddStringToObject(sec, "features", x->feat_what);
    if (x->feat_checked) cJSON_AddNumberToObject(sec, "logit_check", x->feat_check);
    cJSON_AddNumberToObject(sec, "n", nc.n);
    cJSON_AddNumberToObject(sec, "p", nc.p);
    cJSON_AddNumberToObject(sec, "sb_rank", nc.sb_rank);
    cJSON_AddNumberToObject(sec, "tr_sw", nc.tr_sw);
    cJSON_AddNumberToObject(sec, "tr_sb", nc.tr_sb);
    cJSON_AddNumberToObject(sec, "nc1", nc.nc1);
    cJSON_AddNumberToObject(sec, "equinorm_means", nc.equinorm_means);
    cJSON_AddNumberToObject(sec, "equinorm_w", nc.equinorm_w);
    cJSON_AddNumberToObject(sec, "equiangle_means", nc.equiangle_means);
    cJSON_AddNumberToObject(sec, "equiangle_w", nc.equiangle_w);
    cJSON_AddNumberToObject(sec, "equiangle_means_max", nc.equiangle_means_max);
    cJSON_AddNumberToObject(sec, "equiangle_w_max", nc.equiangle_w_max);
    cJSON_AddNumberToObject(sec, "nc3", nc.nc3);
    cJSON_AddNumberToObject(sec, "nc4", nc.nc4);
    cJSON_AddNumberToObject(sec, "ncc_accuracy", nc.ncc_accuracy);
    cJSON_AddStringToObject(sec, "note",
                            "Papyan, Han & Donoho (2020) on the features entering the last dense "
                            "layer W (layer L-1 for an MLP; see features).  Conventions: "
                            "mu_G = the mean of the samples (not of the class means); S_W = "
                            "(1/n) sum_i (h_i - mu_y_i)(h_i - mu_y_i)^T (divided by n); S_B = "
                            "(1/C) sum_c (mu_c - mu_G)(mu_c - mu_G)^T (divided by C); NC1 = "
                            "Tr(S_W S_B^+)/C (S_B^+ drops eigenvalues <= 1e-10 of the largest); "
                            "NC2 equinorm = population std (ddof 0) / mean of ||mu_c - mu_G|| "
                            "and of ||w_c||, equiangularity = mean over pairs c != c' of |cos + "
                            "1/(C-1)| (max: the largest term); NC3 = ||W/||W||_F - M/||M||_F||_F^2 "
                            "with M the rows mu_c - mu_G; NC4 = nearest-class-centre agreement "
                            "with the argmax of the logits");
    snprintf(x->line[MG_AN_COLLAPSE], sizeof x->line[0],
             "NC1 %.4g, equinorm %.4g / %.4g, equiangle %.4g / %.4g, NC3 %.4g, NC4 %.4g (%s)",
             nc.nc1, nc.equinorm_means, nc.equinorm_w, nc.equiangle_means, nc.equiangle_w, nc.nc3,
             nc.nc4, x->external ? "the given states" : x->feat == x->Hp ? "layer L-1" : "dense-layer inputs");
    return MG_OK;
}
