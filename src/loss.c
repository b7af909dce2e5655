/* loss.c - softmax and the two training losses on logits.
 *
 *  CE : mean over rows of -sum_j t_j log softmax(z)_j (soft targets).
 *  BCE: the authors' nn.BCELoss(softmax(z), t): mean over n x c of
 *       -[t log p + (1 - t) log(1 - p)], each log clamped at -100 like
 *       PyTorch.  log p and log(1 - p) come from log-sum-exps in double, so a
 *       softmax that rounds to 1 in float still has a finite log(1 - p).
 *
 * Everything is accumulated in double; logits and targets are float32. */
#include "mixgeo.h"

#include <math.h>

/* PyTorch's BCELoss clamps log(p) and log(1 - p) at this value. */
#define BCE_LOG_FLOOR (-100.0)

const char *mg_loss_name(mg_loss_kind k)
{
    switch (k) {
    case MG_LOSS_CE: return "ce";
    case MG_LOSS_BCE: return "bce";
    }
    return "unknown";
}

/* Max of a row that propagates NaN (a NaN anywhere gives NaN). */
static double row_max(const float *z, int c)
{
    double m = z[0];
    for (int j = 1; j < c; j++) {
        if (z[j] != z[j]) return z[j];
        if (z[j] > m) m = z[j];
    }
    return m;
}

void mg_softmax(const float *z, float *out, int n, int c)
{
    MG_ASSERT(n >= 0 && c >= 1);
    for (int i = 0; i < n; i++) {
        const float *zi = z + (size_t)i * c;
        float *oi = out + (size_t)i * c;
        double m = row_max(zi, c);
        double s = 0.0;
        for (int j = 0; j < c; j++) s += exp((double)zi[j] - m);
        /* Element-wise from here, so out may alias z. */
        for (int j = 0; j < c; j++) oi[j] = (float)(exp((double)zi[j] - m) / s);
    }
}

/* Soft-target cross-entropy of one row; dz (if non-NULL) gets
 * (p_j * sum(t) - t_j) * scale. */
static double ce_row(const float *z, const float *t, int c, double scale, float *dz)
{
    double m = row_max(z, c);
    double s = 0.0;
    for (int j = 0; j < c; j++) s += exp((double)z[j] - m);
    double lse = m + log(s);
    double loss = 0.0, tsum = 0.0;
    for (int j = 0; j < c; j++) {
        loss += (double)t[j] * (lse - (double)z[j]);
        tsum += t[j];
    }
    if (dz) {
        for (int j = 0; j < c; j++) {
            double p = exp((double)z[j] - lse);
            dz[j] = (float)((p * tsum - (double)t[j]) * scale);
        }
    }
    return loss;
}

/* BCE of softmax(z) against t for one row, summed over the c classes; dz (if
 * non-NULL) gets the exact gradient of that sum times scale.
 *
 * With lp_j = log p_j and l1p_j = log(1 - p_j) (both clamped at -100, the
 * clamped ones contributing no gradient), the term
 *   l_j = -a_j lp_j - b_j l1p_j,  a_j = t_j, b_j = 1 - t_j  (0 where clamped)
 * has d lp_j / d z_i = [i = j] - p_i and d l1p_j / d z_i = [i != j] p_i / (1 - p_j) - p_i,
 * so summed over j:
 *   dz_i = p_i sum_j (a_j + b_j) - a_i - p_i sum_{j != i} r_j,  r_j = b_j / (1 - p_j).
 * Only the row's argmax `top` can have 1 - p tiny (every other p <= 1/2), so
 * R = sum_{j != top} r_j is a sum of bounded terms, and the top term enters
 * as p_i r_top = b_top exp(lp_i - l1p_top) <= b_top: no huge intermediate
 * cancels against another, unlike the chain rule through dL/dp. */
static double bce_row(const float *z, const float *t, int c, double scale, float *dz)
{
    int top = 0;
    for (int j = 1; j < c; j++)
        if (z[j] > z[top]) top = j;
    double m = row_max(z, c); /* z[top], or NaN */
    double s = 0.0, s_rest = 0.0; /* sum of all e_k; sum over k != top */
    for (int j = 0; j < c; j++) {
        double e = exp((double)z[j] - m);
        s += e;
        if (j != top) s_rest += e;
    }
    double log_s = log(s);
    double loss = 0.0;
    double sum_ab = 0.0, r_rest = 0.0, b_top = 0.0, l1p_top = 0.0;
    for (int j = 0; j < c; j++) {
        double lp = ((double)z[j] - m) - log_s;
        /* log(1 - p_j) = log(sum_{k != j} e_k) - log(sum_k e_k); for j != top
         * the difference s - e_j >= e_top = 1 has no cancellation. */
        double rest = j == top ? s_rest : s - exp((double)z[j] - m);
        double l1p = log(rest) - log_s; /* -inf when rest underflowed or c = 1 */
        double tj = t[j];
        double a = tj, b = 1.0 - tj;
        /* Clamp as PyTorch does; NaN fails both tests and stays NaN. */
        if (lp < BCE_LOG_FLOOR) {
            lp = BCE_LOG_FLOOR;
            a = 0.0;
        }
        if (l1p < BCE_LOG_FLOOR) {
            l1p = BCE_LOG_FLOOR;
            b = 0.0;
        }
        loss -= tj * lp + (1.0 - tj) * l1p;
        if (dz) {
            sum_ab += a + b;
            if (j == top) {
                b_top = b;
                l1p_top = l1p;
            } else {
                r_rest += b * exp(-l1p);
            }
        }
    }
    if (dz) {
        for (int i = 0; i < c; i++) {
            double lp = ((double)z[i] - m) - log_s;
            double p = exp(lp);
            double tj = t[i];
            double a = lp < BCE_LOG_FLOOR ? 0.0 : tj;
            double g;
            if (i == top) {
                g = p * sum_ab - a - p * r_rest;
            } else {
                double rest = s - exp((double)z[i] - m);
                double l1p = log(rest) - log_s;
                double r_i = l1p < BCE_LOG_FLOOR ? 0.0 : (1.0 - tj) * exp(-l1p);
                double cross = b_top == 0.0 ? 0.0 : b_top * exp(lp - l1p_top);
                g = p * sum_ab - a - p * (r_rest - r_i) - cross;
            }
            dz[i] = (float)(g * scale);
        }
    }
    return loss;
}

double mg_loss(mg_loss_kind kind, const float *z, const float *t, int n, int c, float *dz)
{
    MG_ASSERT(z && t && n >= 0 && c >= 1);
    MG_ASSERT(kind == MG_LOSS_CE || kind == MG_LOSS_BCE);
    if (n == 0) return 0.0;
    /* A non-finite logit must show in the result even where a clamp (BCE's
     * -100 floor) or a zero target would otherwise absorb it. */
    int bad = 0;
    for (size_t i = 0; i < (size_t)n * c; i++)
        if (!isfinite(z[i])) bad = 1;
    double total = 0.0;
    double denom = kind == MG_LOSS_CE ? (double)n : (double)n * c;
    double scale = 1.0 / denom;
    for (int i = 0; i < n; i++) {
        const float *zi = z + (size_t)i * c;
        const float *ti = t + (size_t)i * c;
        float *di = dz ? dz + (size_t)i * c : NULL;
        total += kind == MG_LOSS_CE ? ce_row(zi, ti, c, scale, di) : bce_row(zi, ti, c, scale, di);
    }
    if (bad) return NAN;
    return total / denom;
}
