/* metrics.c - calibration, confidence, AUROC, margins, neural collapse.
 * See metrics.h for the definitions; everything accumulates in double. */
#include "metrics.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const double mg_quantile_levels_default[MG_N_QUANTILE_LEVELS] = {0.0,  0.05, 0.25, 0.5,
                                                                   0.75, 0.95, 1.0};

/* Element i of a float or double array. */
static inline double elem(const float *pf, const double *pd, size_t i)
{
    return pf ? (double)pf[i] : pd[i];
}

/* ---------------------------------------------------------------- calibration */

static mg_status calibration(const float *pf, const double *pd, int n, int classes,
                             const int32_t *y, int bins, mg_calibration *out,
                             mg_reliability_bin *rel)
{
    MG_ASSERT((pf || pd) && y && out);
    if (n < 1) return mg_fail(MG_ERR_CONFIG, "calibration: need at least one example (n = %d)", n);
    if (classes < 2) return mg_fail(MG_ERR_CONFIG, "calibration: classes = %d, need >= 2", classes);
    if (bins < 1) return mg_fail(MG_ERR_CONFIG, "calibration: bins = %d, need >= 1", bins);

    double *bconf = calloc((size_t)bins, sizeof(double));
    double *bacc = calloc((size_t)bins, sizeof(double));
    int64_t *bcnt = calloc((size_t)bins, sizeof(int64_t));
    if (!bconf || !bacc || !bcnt) {
        free(bconf);
        free(bacc);
        free(bcnt);
        return mg_fail(MG_ERR_NOMEM, "calibration: out of memory for %d bins", bins);
    }
    mg_status st = MG_OK;
    double nll = 0.0, brier = 0.0, correct = 0.0, sconf = 0.0;
    int64_t floored = 0;
    for (int i = 0; i < n && st == MG_OK; i++) {
        int yi = y[i];
        if (yi < 0 || yi >= classes) {
            st = mg_fail(MG_ERR_CONFIG, "calibration: label %d of example %d is outside 0..%d",
                         yi, i, classes - 1);
            break;
        }
        size_t row = (size_t)i * classes;
        int arg = 0;
        double best = -INFINITY, b2 = 0.0;
        for (int j = 0; j < classes; j++) {
            double pj = elem(pf, pd, row + j);
            if (!isfinite(pj)) {
                st = mg_fail(MG_ERR_NUMERIC, "calibration: probability %d of example %d is %g", j,
                             i, pj);
                break;
            }
            if (pj > best) {
                best = pj;
                arg = j;
            }
            double d = pj - (j == yi ? 1.0 : 0.0);
            b2 += d * d;
        }
        if (st != MG_OK) break;
        double py = elem(pf, pd, row + yi);
        if (py < MG_NLL_PROB_FLOOR) {
            py = MG_NLL_PROB_FLOOR;
            floored++;
        }
        nll -= log(py);
        brier += b2;
        int ok = arg == yi;
        correct += ok;
        sconf += best;
        /* bin b holds (b/B, (b+1)/B] */
        int b = (int)ceil(best * bins) - 1;
        if (b < 0) b = 0;
        if (b >= bins) b = bins - 1;
        bcnt[b]++;
        bconf[b] += best;
        bacc[b] += ok;
    }
    if (st == MG_OK) {
        memset(out, 0, sizeof *out);
        out->n = n;
        out->classes = classes;
        out->bins = bins;
        out->accuracy = correct / n;
        out->mean_conf = sconf / n;
        out->nll = nll / n;
        out->brier = brier / n;
        out->nll_floored = floored;
        double ece = 0.0, mce = 0.0, oe = 0.0;
        for (int b = 0; b < bins; b++) {
            double conf = NAN, acc = NAN;
            if (bcnt[b] > 0) {
                conf = bconf[b] / (double)bcnt[b];
                acc = bacc[b] / (double)bcnt[b];
                double w = (double)bcnt[b] / n, gap = fabs(acc - conf);
                ece += w * gap;
                if (gap > mce) mce = gap;
                if (conf > acc) oe += w * conf * (conf - acc);
            }
            if (rel) {
                rel[b].lo = (double)b / bins;
                rel[b].hi = (double)(b + 1) / bins;
                rel[b].count = bcnt[b];
                rel[b].conf = conf;
                rel[b].acc = acc;
            }
        }
        out->ece = ece;
        out->mce = mce;
        out->oe = oe;
    }
    free(bconf);
    free(bacc);
    free(bcnt);
    return st;
}

mg_status mg_calibration_f32(const float *p, int n, int classes, const int32_t *y, int bins,
                             mg_calibration *out, mg_reliability_bin *rel)
{
    MG_ASSERT(p);
    return calibration(p, NULL, n, classes, y, bins, out, rel);
}

mg_status mg_calibration_f64(const double *p, int n, int classes, const int32_t *y, int bins,
                             mg_calibration *out, mg_reliability_bin *rel)
{
    MG_ASSERT(p);
    return calibration(NULL, p, n, classes, y, bins, out, rel);
}

void mg_softmax_f64(const float *logits, int n, int classes, double *p)
{
    MG_ASSERT(logits && p && n >= 0 && classes >= 1);
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * classes;
        double *pi = p + (size_t)i * classes;
        double m = -INFINITY;
        for (int j = 0; j < classes; j++)
            if ((double)z[j] > m) m = z[j];
        double s = 0.0;
        for (int j = 0; j < classes; j++) {
            pi[j] = exp((double)z[j] - m);
            s += pi[j];
        }
        for (int j = 0; j < classes; j++) pi[j] /= s;
    }
}

/* ---------------------------------------------------------------- confidence */

static void confidence(const float *pf, const double *pd, int n, int classes, double *maxprob,
                       double *entropy)
{
    MG_ASSERT(classes >= 2 && n >= 0);
    double lnc = log((double)classes);
    for (int i = 0; i < n; i++) {
        size_t row = (size_t)i * classes;
        double best = -INFINITY, h = 0.0;
        for (int j = 0; j < classes; j++) {
            double pj = elem(pf, pd, row + j);
            if (pj > best) best = pj;
            if (pj > 0.0) h -= pj * log(pj);
        }
        if (maxprob) maxprob[i] = best;
        if (entropy) entropy[i] = h / lnc;
    }
}

void mg_confidence_f32(const float *p, int n, int classes, double *maxprob, double *entropy)
{
    MG_ASSERT(p);
    confidence(p, NULL, n, classes, maxprob, entropy);
}

void mg_confidence_f64(const double *p, int n, int classes, double *maxprob, double *entropy)
{
    MG_ASSERT(p);
    confidence(NULL, p, n, classes, maxprob, entropy);
}

typedef struct {
    double s;
    int pos;
} scored;

static int cmp_scored(const void *a, const void *b)
{
    double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x > y) - (x < y);
}

mg_status mg_auroc(const double *pos, int npos, const double *neg, int nneg, double *out)
{
    MG_ASSERT(out);
    *out = NAN;
    if (npos < 1 || nneg < 1)
        return mg_fail(MG_ERR_CONFIG, "auroc: need positives and negatives (got %d and %d)",
                       npos, nneg);
    MG_ASSERT(pos && neg);
    size_t N = (size_t)npos + (size_t)nneg;
    scored *v = malloc(N * sizeof *v);
    if (!v) return mg_fail(MG_ERR_NOMEM, "auroc: out of memory for %zu scores", N);
    for (int i = 0; i < npos; i++) {
        if (isnan(pos[i])) {
            free(v);
            return mg_fail(MG_ERR_NUMERIC, "auroc: positive score %d is NaN", i);
        }
        v[i].s = pos[i];
        v[i].pos = 1;
    }
    for (int i = 0; i < nneg; i++) {
        if (isnan(neg[i])) {
            free(v);
            return mg_fail(MG_ERR_NUMERIC, "auroc: negative score %d is NaN", i);
        }
        v[npos + i].s = neg[i];
        v[npos + i].pos = 0;
    }
    qsort(v, N, sizeof *v, cmp_scored);
    /* Walk groups of tied scores in increasing order: each positive beats the
     * negatives strictly below and ties with those in its group. */
    double wins = 0.0, neg_below = 0.0;
    for (size_t a = 0; a < N;) {
        size_t b = a;
        double gp = 0.0, gn = 0.0;
        while (b < N && v[b].s == v[a].s) {
            if (v[b].pos)
                gp += 1.0;
            else
                gn += 1.0;
            b++;
        }
        wins += gp * neg_below + 0.5 * gp * gn;
        neg_below += gn;
        a = b;
    }
    free(v);
    *out = wins / ((double)npos * (double)nneg);
    return MG_OK;
}

/* ---------------------------------------------------------------- margins */

void mg_logit_margins(const float *z, int n, int classes, const int32_t *y, double *out)
{
    MG_ASSERT(z && y && out && classes >= 2);
    for (int i = 0; i < n; i++) {
        const float *zi = z + (size_t)i * classes;
        int yi = y[i];
        MG_ASSERT(yi >= 0 && yi < classes);
        double other = -INFINITY;
        for (int j = 0; j < classes; j++)
            if (j != yi && (double)zi[j] > other) other = zi[j];
        out[i] = (double)zi[yi] - other;
    }
}

mg_status mg_penultimate_margins(const float *h, int n, int p, const float *W, const float *b,
                                 int classes, const int32_t *y, double *out)
{
    MG_ASSERT(h && W && y && out && p >= 1 && classes >= 2 && n >= 0);
    size_t C = (size_t)classes;
    double *dist = malloc(C * C * sizeof(double)); /* ||w_i - w_j|| */
    double *z = malloc(C * sizeof(double));
    if (!dist || !z) {
        free(dist);
        free(z);
        return mg_fail(MG_ERR_NOMEM, "penultimate margins: out of memory");
    }
    for (size_t a = 0; a < C; a++)
        for (size_t c = 0; c < C; c++) {
            double s = 0.0;
            for (int f = 0; f < p; f++) {
                double d = (double)W[a * p + f] - (double)W[c * p + f];
                s += d * d;
            }
            dist[a * C + c] = sqrt(s);
        }
    mg_status st = MG_OK;
    for (int i = 0; i < n; i++) {
        int yi = y[i];
        if (yi < 0 || yi >= classes) {
            st = mg_fail(MG_ERR_CONFIG,
                         "penultimate margins: label %d of example %d is outside 0..%d", yi, i,
                         classes - 1);
            break;
        }
        const float *hi = h + (size_t)i * p;
        for (size_t c = 0; c < C; c++) {
            double s = b ? (double)b[c] : 0.0;
            const float *wc = W + c * p;
            for (int f = 0; f < p; f++) s += (double)wc[f] * (double)hi[f];
            z[c] = s;
        }
        double best = INFINITY;
        for (size_t c = 0; c < C; c++) {
            if ((int)c == yi) continue;
            double diff = z[yi] - z[c], dn = dist[(size_t)yi * C + c], m;
            if (dn > 0.0)
                m = diff / dn;
            else
                m = diff > 0.0 ? INFINITY : (diff < 0.0 ? -INFINITY : 0.0);
            if (m < best) best = m;
        }
        out[i] = best;
    }
    free(dist);
    free(z);
    return st;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Group indices by class: order (n) lists examples class by class, start
 * (classes + 1) the offsets.  y NULL: one group. */
static mg_status group_by_class(const int32_t *y, int n, int classes, int *order, int *start,
                                const char *who)
{
    memset(start, 0, sizeof(int) * ((size_t)classes + 1));
    for (int i = 0; i < n; i++) {
        int c = y ? y[i] : 0;
        if (c < 0 || c >= classes)
            return mg_fail(MG_ERR_CONFIG, "%s: label %d of example %d is outside 0..%d", who, c,
                           i, classes - 1);
        start[c + 1]++;
    }
    for (int c = 0; c < classes; c++) start[c + 1] += start[c];
    int *fill = malloc(sizeof(int) * (size_t)classes);
    if (!fill) return mg_fail(MG_ERR_NOMEM, "%s: out of memory", who);
    memcpy(fill, start, sizeof(int) * (size_t)classes);
    for (int i = 0; i < n; i++) order[fill[y ? y[i] : 0]++] = i;
    free(fill);
    return MG_OK;
}

mg_status mg_class_quantiles(const double *v, const int32_t *y, int n, int classes,
                             const double *levels, int nq, double *out)
{
    MG_ASSERT(v && levels && out && n >= 0 && nq >= 1);
    if (classes < 1 || (!y && classes != 1))
        return mg_fail(MG_ERR_CONFIG, "quantiles: classes = %d (must be 1 without labels)",
                       classes);
    for (int q = 0; q < nq; q++)
        if (!(levels[q] >= 0.0 && levels[q] <= 1.0))
            return mg_fail(MG_ERR_CONFIG, "quantiles: level %g is outside [0, 1]", levels[q]);
    for (int i = 0; i < n; i++)
        if (isnan(v[i])) return mg_fail(MG_ERR_NUMERIC, "quantiles: value %d is NaN", i);
    int *order = malloc(sizeof(int) * ((size_t)n + 1));
    int *start = malloc(sizeof(int) * ((size_t)classes + 1));
    double *buf = malloc(sizeof(double) * ((size_t)n + 1));
    mg_status st = MG_OK;
    if (!order || !start || !buf) {
        st = mg_fail(MG_ERR_NOMEM, "quantiles: out of memory for %d values", n);
        goto done;
    }
    st = group_by_class(y, n, classes, order, start, "quantiles");
    if (st != MG_OK) goto done;
    for (int c = 0; c < classes; c++) {
        int m = start[c + 1] - start[c];
        double *vals = buf + start[c];
        for (int i = 0; i < m; i++) vals[i] = v[order[start[c] + i]];
        qsort(vals, (size_t)m, sizeof(double), cmp_double);
        for (int q = 0; q < nq; q++) {
            double r = NAN;
            if (m > 0) {
                double pos = levels[q] * (m - 1);
                int lo = (int)floor(pos);
                if (lo >= m - 1) {
                    r = vals[m - 1];
                } else {
                    double frac = pos - lo;
                    r = frac == 0.0 ? vals[lo] : vals[lo] + frac * (vals[lo + 1] - vals[lo]);
                }
            }
            out[(size_t)c * nq + q] = r;
        }
    }
done:
    free(order);
    free(start);
    free(buf);
    return st;
}

mg_status mg_class_histograms(const double *v, const int32_t *y, int n, int classes, int bins,
                              double *lo, double *hi, int64_t *counts, int64_t *n_nonfinite)
{
    MG_ASSERT(v && lo && hi && counts && n >= 0);
    if (classes < 1 || (!y && classes != 1))
        return mg_fail(MG_ERR_CONFIG, "histograms: classes = %d (must be 1 without labels)",
                       classes);
    if (bins < 1) return mg_fail(MG_ERR_CONFIG, "histograms: bins = %d, need >= 1", bins);
    for (int i = 0; i < n; i++) {
        int c = y ? y[i] : 0;
        if (c < 0 || c >= classes)
            return mg_fail(MG_ERR_CONFIG, "histograms: label %d of example %d is outside 0..%d",
                           c, i, classes - 1);
    }
    memset(counts, 0, sizeof(int64_t) * (size_t)classes * bins);
    double a = INFINITY, b = -INFINITY;
    int64_t bad = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            bad++;
            continue;
        }
        if (v[i] < a) a = v[i];
        if (v[i] > b) b = v[i];
    }
    if (n_nonfinite) *n_nonfinite = bad;
    if (a > b) {
        *lo = *hi = NAN;
        return MG_OK;
    }
    if (a == b) {
        a -= 0.5;
        b += 0.5;
    }
    *lo = a;
    *hi = b;
    double w = b - a;
    for (int i = 0; i < n; i++) {
        if (!isfinite(v[i])) continue;
        int k = (int)floor((v[i] - a) / w * bins);
        if (k < 0) k = 0;
        if (k >= bins) k = bins - 1;
        counts[(size_t)(y ? y[i] : 0) * bins + k]++;
    }
    return MG_OK;
}

/* ---------------------------------------------------------------- neural collapse */

/* std/mean (population std) of v[0..m-1]. */
static double cv(const double *v, int m)
{
    double mean = 0.0, var = 0.0;
    for (int i = 0; i < m; i++) mean += v[i];
    mean /= m;
    for (int i = 0; i < m; i++) var += (v[i] - mean) * (v[i] - mean);
    return sqrt(var / m) / mean;
}

/* Mean and max over ordered pairs c != c' of |cos(r_c, r_c') + 1/(C-1)|,
 * rows r (C x p, double). */
static void equiangularity(const double *r, int C, int p, double *mean, double *mx)
{
    double s = 0.0, m = 0.0, shift = 1.0 / (C - 1);
    for (int a = 0; a < C; a++)
        for (int c = 0; c < C; c++) {
            if (a == c) continue;
            double dot = 0.0, na = 0.0, nc = 0.0;
            for (int f = 0; f < p; f++) {
                double x = r[(size_t)a * p + f], z = r[(size_t)c * p + f];
                dot += x * z;
                na += x * x;
                nc += z * z;
            }
            double t = fabs(dot / sqrt(na * nc) + shift);
            s += t;
            if (t > m || isnan(t)) m = t;
        }
    *mean = s / ((double)C * (C - 1));
    *mx = m;
}

#define NC_BLOCK 256

mg_status mg_neural_collapse(const float *h, int n, int p, const int32_t *y, int classes,
                             const float *W, const float *logits, mg_collapse *out)
{
    MG_ASSERT(h && y && W && out);
    if (n < 1 || p < 1 || classes < 2)
        return mg_fail(MG_ERR_CONFIG, "neural collapse: n = %d, p = %d, classes = %d (need n, p "
                       ">= 1 and classes >= 2)", n, p, classes);
    const int C = classes;
    const size_t Cp = (size_t)C * p;
    double *mu = calloc(Cp, sizeof(double));      /* class means, then centred: M */
    double *muc = calloc(Cp, sizeof(double));     /* uncentred class means        */
    double *wd = malloc(Cp * sizeof(double));      /* W in double                  */
    double *work = malloc(Cp * sizeof(double));    /* copy of M for dgesdd          */
    double *U = malloc(Cp * sizeof(double));       /* p x min(p, C), column-major   */
    double *vt = malloc((size_t)C * C * sizeof(double));
    double *sv = malloc((size_t)C * sizeof(double));
    double *g = calloc((size_t)p, sizeof(double));
    double *norms = malloc((size_t)C * sizeof(double));
    double *D = malloc((size_t)NC_BLOCK * p * sizeof(double)); /* centred block */
    double *P = malloc((size_t)NC_BLOCK * C * sizeof(double)); /* its projections */
    int64_t *cnt = calloc((size_t)C, sizeof(int64_t));
    mg_status st = MG_OK;
    if (!mu || !muc || !wd || !work || !U || !vt || !sv || !g || !norms || !D || !P || !cnt) {
        st = mg_fail(MG_ERR_NOMEM, "neural collapse: out of memory (p = %d, classes = %d)", p, C);
        goto done;
    }

    /* Pass 1: class sums and the global mean. */
    for (int i = 0; i < n; i++) {
        int c = y[i];
        if (c < 0 || c >= C) {
            st = mg_fail(MG_ERR_CONFIG, "neural collapse: label %d of example %d is outside "
                         "0..%d", c, i, C - 1);
            goto done;
        }
        const float *hi = h + (size_t)i * p;
        double *mc = muc + (size_t)c * p;
        for (int f = 0; f < p; f++) {
            if (!isfinite(hi[f])) {
                st = mg_fail(MG_ERR_NUMERIC, "neural collapse: feature %d of example %d is %g", f,
                             i, (double)hi[f]);
                goto done;
            }
            mc[f] += hi[f];
        }
        cnt[c]++;
    }
    for (int c = 0; c < C; c++) {
        if (cnt[c] == 0) {
            st = mg_fail(MG_ERR_CONFIG, "neural collapse: class %d has no examples", c);
            goto done;
        }
        for (int f = 0; f < p; f++) g[f] += muc[(size_t)c * p + f];
        for (int f = 0; f < p; f++) muc[(size_t)c * p + f] /= (double)cnt[c];
    }
    for (int f = 0; f < p; f++) g[f] /= n;
    for (int c = 0; c < C; c++)
        for (int f = 0; f < p; f++) mu[(size_t)c * p + f] = muc[(size_t)c * p + f] - g[f];
    for (size_t i = 0; i < Cp; i++) wd[i] = W[i];

    memset(out, 0, sizeof *out);
    out->n = n;
    out->p = p;
    out->classes = C;

    /* S_B = M^T M / C from the SVD of M.  M (C x p row-major) is, read
     * column-major, the p x C matrix M^T: its left singular vectors are the
     * eigenvectors v_k of S_B (columns of U, contiguous). */
    int r0 = p < C ? p : C;
    memcpy(work, mu, Cp * sizeof(double));
    lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', p, C, work, p, sv, U, p, vt, r0);
    if (info != 0) {
        st = mg_fail(MG_ERR_NUMERIC, "neural collapse: LAPACKE_dgesdd failed (info %d)",
                     (int)info);
        goto done;
    }
    double lmax = sv[0] * sv[0] / C, trsb = 0.0;
    int rank = 0;
    for (int k = 0; k < r0; k++) {
        double lk = sv[k] * sv[k] / C;
        trsb += lk;
        if (lk > 1e-10 * lmax && lk > 0.0) rank++;
    }
    out->sb_rank = rank;
    out->tr_sb = trsb;

    /* Pass 2, in blocks: centred rows D, projections P = D V_r, NC4. */
    double trsw = 0.0, nc1sum = 0.0;
    int64_t agree = 0, ncc_ok = 0;
    for (int i0 = 0; i0 < n; i0 += NC_BLOCK) {
        int bn = n - i0 < NC_BLOCK ? n - i0 : NC_BLOCK;
        for (int r = 0; r < bn; r++) {
            int i = i0 + r, c = y[i];
            const float *hi = h + (size_t)i * p;
            const double *mc = muc + (size_t)c * p;
            double *d = D + (size_t)r * p;
            for (int f = 0; f < p; f++) {
                d[f] = (double)hi[f] - mc[f];
                trsw += d[f] * d[f];
            }
            /* nearest class centre */
            int best = 0;
            double bd = INFINITY;
            for (int a = 0; a < C; a++) {
                const double *ma = muc + (size_t)a * p;
                double s = 0.0;
                for (int f = 0; f < p; f++) {
                    double e = (double)hi[f] - ma[f];
                    s += e * e;
                }
                if (s < bd) {
                    bd = s;
                    best = a;
                }
            }
            ncc_ok += best == c;
            if (logits) {
                const float *z = logits + (size_t)i * C;
                int am = 0;
                for (int a = 1; a < C; a++)
                    if (z[a] > z[am]) am = a;
                agree += am == best;
            }
        }
        if (rank > 0) {
            /* P (bn x rank) = D (bn x p) * U[:, 0:rank] (U column-major p x r0,
             * i.e. row-major r0 x p: use it transposed). */
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bn, rank, p, 1.0, D, p, U, p,
                        0.0, P, rank);
            for (int r = 0; r < bn; r++)
                for (int k = 0; k < rank; k++) {
                    double x = P[(size_t)r * rank + k];
                    nc1sum += x * x / (sv[k] * sv[k] / C);
                }
        }
    }
    out->tr_sw = trsw / n;
    out->nc1 = nc1sum / n / C;
    out->nc4 = logits ? (double)agree / n : NAN;
    out->ncc_accuracy = (double)ncc_ok / n;

    /* NC2 */
    for (int c = 0; c < C; c++) norms[c] = cblas_dnrm2(p, mu + (size_t)c * p, 1);
    out->equinorm_means = cv(norms, C);
    for (int c = 0; c < C; c++) norms[c] = cblas_dnrm2(p, wd + (size_t)c * p, 1);
    out->equinorm_w = cv(norms, C);
    equiangularity(mu, C, p, &out->equiangle_means, &out->equiangle_means_max);
    equiangularity(wd, C, p, &out->equiangle_w, &out->equiangle_w_max);

    /* NC3 */
    double fw = 0.0, fm = 0.0, d3 = 0.0;
    for (size_t i = 0; i < Cp; i++) {
        fw += wd[i] * wd[i];
        fm += mu[i] * mu[i];
    }
    fw = sqrt(fw);
    fm = sqrt(fm);
    for (size_t i = 0; i < Cp; i++) {
        double e = wd[i] / fw - mu[i] / fm;
        d3 += e * e;
    }
    out->nc3 = d3;

done:
    free(mu);
    free(muc);
    free(wd);
    free(work);
    free(U);
    free(vt);
    free(sv);
    free(g);
    free(norms);
    free(D);
    free(P);
    free(cnt);
    return st;
}
