/* compare.c - CKA, TwoNN and the adaptive ECE (compare.h). */
#include "compare.h"
#include "probe.h"
#include "report.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ CKA */

typedef struct {
    mg_rows_fn read;
    void *user;
    int p;
    const char *name;
} cka_side;

/* Rows i0..i0+m-1 of a side into f (m x p floats), checked finite. */
static mg_status side_rows(const cka_side *s, int64_t i0, int64_t m, int64_t *idx, float *f)
{
    for (int64_t i = 0; i < m; i++) idx[i] = i0 + i;
    mg_status st = s->read(s->user, idx, m, f);
    if (st != MG_OK) return st;
    for (size_t e = 0; e < (size_t)m * s->p; e++)
        if (!isfinite(f[e]))
            return mg_fail(MG_ERR_FORMAT, "%s: a non-finite value at row %lld, feature %d",
                           s->name, (long long)(i0 + (int64_t)(e / s->p)), (int)(e % s->p));
    return MG_OK;
}

/* The unbiased HSIC estimator in feature form (compare.h). */
static double unbiased(double ab, double rr, double na, double nb, double n)
{
    return ab - n / (n - 2.0) * rr + na * nb / ((n - 1.0) * (n - 2.0));
}

static void cka_finish(mg_cka_result *r, double rxy, double rxx, double ryy, double nx,
                       double ny)
{
    double n = (double)r->n;
    r->cka = r->xx > 0 && r->yy > 0 ? r->xy / sqrt(r->xx * r->yy) : NAN;
    if (r->n >= 4) {
        r->uxy = unbiased(r->xy, rxy, nx, ny, n);
        r->uxx = unbiased(r->xx, rxx, nx, nx, n);
        r->uyy = unbiased(r->yy, ryy, ny, ny, n);
        r->cka_debiased = r->uxx > 0 && r->uyy > 0 ? r->uxy / sqrt(r->uxx * r->uyy) : NAN;
    } else {
        r->uxy = r->uxx = r->uyy = r->cka_debiased = NAN;
    }
}

/* Rows per chunk for a side of w features within about a quarter of the
 * budget (double copies), between 16 and 1024. */
static int64_t chunk_rows(size_t budget, int w, int64_t n)
{
    size_t r = budget / 4 / ((size_t)w * 12 + 1);
    if (r > 1024) r = 1024;
    if (r < 16) r = 16;
    return (int64_t)r < n ? (int64_t)r : n;
}

mg_status mg_cka_stream(mg_rows_fn read_x, void *ux, int p, mg_rows_fn read_y, void *uy, int q,
                        int64_t n, size_t budget, mg_cka_result *out)
{
    memset(out, 0, sizeof *out);
    if (n < 2 || p < 1 || q < 1)
        return mg_fail(MG_ERR_CONFIG, "CKA needs >= 2 examples and >= 1 feature per side (got "
                                      "n %lld, p %d, q %d)",
                       (long long)n, p, q);
    if (!budget) budget = MG_CKA_DEFAULT_BUDGET;
    out->n = n;
    out->p = p;
    out->q = q;
    cka_side X = {read_x, ux, p, "X"}, Y = {read_y, uy, q, "Y"};
    const int w = p + q;
    int64_t R = chunk_rows(budget, w, n);
    mg_status st = MG_OK;
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)R);
    float *fx = malloc(sizeof(float) * (size_t)R * p), *fy = malloc(sizeof(float) * (size_t)R * q);
    double *mx = calloc((size_t)p, sizeof(double)), *my = calloc((size_t)q, sizeof(double));
    double *Z = malloc(sizeof(double) * (size_t)R * w), *G = NULL, *Kx = NULL, *Ky = NULL;
    double *Zb = NULL;
    if (!idx || !fx || !fy || !mx || !my || !Z) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory (CKA buffers)");
        goto done;
    }
    /* pass 0: the means */
    for (int64_t i0 = 0; i0 < n; i0 += R) {
        int64_t m = n - i0 < R ? n - i0 : R;
        if ((st = side_rows(&X, i0, m, idx, fx)) || (st = side_rows(&Y, i0, m, idx, fy))) goto done;
        for (int64_t i = 0; i < m; i++) {
            for (int j = 0; j < p; j++) mx[j] += fx[(size_t)i * p + j];
            for (int j = 0; j < q; j++) my[j] += fy[(size_t)i * q + j];
        }
    }
    for (int j = 0; j < p; j++) mx[j] /= (double)n;
    for (int j = 0; j < q; j++) my[j] /= (double)n;
    out->passes = 1;
    double rxy = 0, rxx = 0, ryy = 0, nx = 0, ny = 0;
    size_t gram_bytes = 2 * (size_t)n * (size_t)n * sizeof(double);
    if (n < w && gram_bytes <= budget) {
        /* Gram form: Kx = Xc Xc^T, Ky = Yc Yc^T accumulated over column
         * blocks of the features (all rows of a block at once) */
        out->gram = 1;
        int64_t bc = (int64_t)((budget - gram_bytes) / ((size_t)n * sizeof(double) + 1));
        if (bc < 1) bc = 1;
        Kx = calloc((size_t)n * n, sizeof(double));
        Ky = calloc((size_t)n * n, sizeof(double));
        int64_t bmax = bc < (p > q ? p : q) ? bc : (p > q ? p : q);
        Zb = malloc(sizeof(double) * (size_t)n * (size_t)bmax);
        if (!Kx || !Ky || !Zb) {
            st = mg_fail(MG_ERR_NOMEM, "out of memory (CKA Gram matrices of %lld examples)",
                         (long long)n);
            goto done;
        }
        for (int side = 0; side < 2; side++) {
            const cka_side *S = side ? &Y : &X;
            const double *mu = side ? my : mx;
            float *f = side ? fy : fx;
            double *K = side ? Ky : Kx;
            for (int c0 = 0; c0 < S->p; c0 += (int)bmax) {
                int b = S->p - c0 < (int)bmax ? S->p - c0 : (int)bmax;
                for (int64_t i0 = 0; i0 < n; i0 += R) {
                    int64_t m = n - i0 < R ? n - i0 : R;
                    if ((st = side_rows(S, i0, m, idx, f))) goto done;
                    for (int64_t i = 0; i < m; i++)
                        for (int j = 0; j < b; j++)
                            Zb[(size_t)(i0 + i) * b + j] =
                                (double)f[(size_t)i * S->p + c0 + j] - mu[c0 + j];
                }
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n, b, 1.0, Zb, b, 1.0,
                            K, (int)n);
                out->passes++;
            }
        }
        /* the full symmetric sums from the upper triangles */
        for (int64_t i = 0; i < n; i++) {
            double kx = Kx[(size_t)i * n + i], ky = Ky[(size_t)i * n + i];
            out->xy += kx * ky;
            out->xx += kx * kx;
            out->yy += ky * ky;
            rxy += kx * ky;
            rxx += kx * kx;
            ryy += ky * ky;
            nx += kx;
            ny += ky;
            for (int64_t j = i + 1; j < n; j++) {
                double a = Kx[(size_t)i * n + j], c = Ky[(size_t)i * n + j];
                out->xy += 2 * a * c;
                out->xx += 2 * a * a;
                out->yy += 2 * c * c;
            }
        }
    } else {
        /* feature form: G = Zc[:, c0:c1]^T Zc over blocks of the columns of
         * Zc = [Xc Yc] (one pass over the rows per block) */
        size_t per = (size_t)w * sizeof(double);
        int64_t bc = (int64_t)(budget / 2 / per);
        if (bc < 1) {
            st = mg_fail(MG_ERR_NOMEM, "CKA: a budget of %zu bytes holds no column block of %d "
                                       "features",
                         budget, w);
            goto done;
        }
        if (bc > w) bc = w;
        G = malloc(sizeof(double) * (size_t)bc * w);
        if (!G) {
            st = mg_fail(MG_ERR_NOMEM, "out of memory (CKA accumulators)");
            goto done;
        }
        for (int c0 = 0; c0 < w; c0 += (int)bc) {
            int b = w - c0 < (int)bc ? w - c0 : (int)bc;
            /* a block in the X part needs all columns, one in the Y part only Y's */
            int k0 = c0 >= p ? p : 0;
            memset(G, 0, sizeof(double) * (size_t)b * w);
            for (int64_t i0 = 0; i0 < n; i0 += R) {
                int64_t m = n - i0 < R ? n - i0 : R;
                if ((st = side_rows(&X, i0, m, idx, fx)) || (st = side_rows(&Y, i0, m, idx, fy)))
                    goto done;
                for (int64_t i = 0; i < m; i++) {
                    double *z = Z + (size_t)i * w, sx = 0, sy = 0;
                    for (int j = 0; j < p; j++) {
                        z[j] = (double)fx[(size_t)i * p + j] - mx[j];
                        sx += z[j] * z[j];
                    }
                    for (int j = 0; j < q; j++) {
                        z[p + j] = (double)fy[(size_t)i * q + j] - my[j];
                        sy += z[p + j] * z[p + j];
                    }
                    if (c0 == 0) { /* the per-row terms, once */
                        rxy += sx * sy;
                        rxx += sx * sx;
                        ryy += sy * sy;
                        nx += sx;
                        ny += sy;
                    }
                }
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, b, w - k0, (int)m, 1.0,
                            Z + c0, w, Z + k0, w, 1.0, G + k0, w);
            }
            out->passes++;
            for (int j = 0; j < b; j++) {
                int col = c0 + j;
                const double *g = G + (size_t)j * w;
                if (col < p) {
                    for (int k = 0; k < p; k++) out->xx += g[k] * g[k];
                    for (int k = p; k < w; k++) out->xy += g[k] * g[k];
                } else {
                    for (int k = p; k < w; k++) out->yy += g[k] * g[k];
                }
            }
        }
    }
    cka_finish(out, rxy, rxx, ryy, nx, ny);
done:
    free(idx);
    free(fx);
    free(fy);
    free(mx);
    free(my);
    free(Z);
    free(G);
    free(Kx);
    free(Ky);
    free(Zb);
    return st;
}

typedef struct {
    const float *M;
    int p;
} mem_rows;

static mg_status mem_read(void *user, const int64_t *idx, int64_t m, float *dst)
{
    const mem_rows *r = user;
    for (int64_t i = 0; i < m; i++)
        memcpy(dst + (size_t)i * r->p, r->M + (size_t)idx[i] * r->p, sizeof(float) * r->p);
    return MG_OK;
}

mg_status mg_cka_f32(const float *X, int p, const float *Y, int q, int64_t n, size_t budget,
                     mg_cka_result *out)
{
    mem_rows a = {X, p}, b = {Y, q};
    return mg_cka_stream(mem_read, &a, p, mem_read, &b, q, n, budget, out);
}

/* ================================================================ TwoNN */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

mg_status mg_twonn_fit(const double *mu, int n, double discard, mg_twonn_result *out)
{
    if (!(discard >= 0 && discard < 1))
        return mg_fail(MG_ERR_CONFIG, "TwoNN: the discarded fraction must lie in [0, 1) (got %g)",
                       discard);
    double *s = malloc(sizeof(double) * ((size_t)n + 1));
    if (!s) return mg_fail(MG_ERR_NOMEM, "out of memory");
    int N = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(mu[i])) s[N++] = mu[i];
    qsort(s, (size_t)N, sizeof *s, cmp_double);
    int keep = (int)floor((double)N * (1.0 - discard));
    if (keep > N - 1) keep = N - 1; /* -log(1 - N/N) is infinite */
    double sxy = 0, sxx = 0;
    for (int i = 0; i < keep; i++) {
        double x = log(s[i]), y = -log(1.0 - (double)(i + 1) / N);
        sxy += x * y;
        sxx += x * x;
    }
    free(s);
    out->discard = discard;
    out->n_fit = keep > 0 ? keep : 0;
    out->d = keep >= 2 && sxx > 0 ? sxy / sxx : NAN;
    return MG_OK;
}

#define TWONN_CAND 4

mg_status mg_twonn_f32(const float *X, int n, int p, double discard, mg_twonn_result *out,
                       double *mu)
{
    memset(out, 0, sizeof *out);
    if (n < 3 || p < 1)
        return mg_fail(MG_ERR_CONFIG, "TwoNN needs >= 3 points (got %d) of >= 1 feature", n);
    if (!(discard >= 0 && discard < 1))
        return mg_fail(MG_ERR_CONFIG, "TwoNN: the discarded fraction must lie in [0, 1) (got %g)",
                       discard);
    for (size_t e = 0; e < (size_t)n * p; e++)
        if (!isfinite(X[e]))
            return mg_fail(MG_ERR_FORMAT, "TwoNN: a non-finite value at row %d, feature %d",
                           (int)(e / p), (int)(e % p));
    const int B = 256;
    double *D = malloc(sizeof(double) * (size_t)B * n), *nrm = malloc(sizeof(double) * n);
    double *Xd = malloc(sizeof(double) * (size_t)n * p);
    double *m = mu ? mu : malloc(sizeof(double) * n);
    mg_status st = MG_OK;
    if (!D || !nrm || !Xd || !m) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory (TwoNN of %d x %d points)", n, p);
        goto done;
    }
    /* centre on the mean: distances are unchanged, the GEMM form loses less */
    for (int j = 0; j < p; j++) {
        double s = 0;
        for (int i = 0; i < n; i++) s += X[(size_t)i * p + j];
        s /= n;
        for (int i = 0; i < n; i++) Xd[(size_t)i * p + j] = X[(size_t)i * p + j] - s;
    }
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < p; j++) s += Xd[(size_t)i * p + j] * Xd[(size_t)i * p + j];
        nrm[i] = s;
    }
    out->n = n;
    for (int i0 = 0; i0 < n; i0 += B) {
        int b = n - i0 < B ? n - i0 : B;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, n, p, -2.0, Xd + (size_t)i0 * p,
                    p, Xd, p, 0.0, D, n);
        for (int r = 0; r < b; r++) {
            int i = i0 + r;
            /* the TWONN_CAND nearest by the GEMM form, then exact distances */
            int cand[TWONN_CAND];
            double cd[TWONN_CAND];
            int nc = 0;
            const double *drow = D + (size_t)r * n;
            for (int j = 0; j < n; j++) {
                if (j == i) continue;
                double d2 = nrm[i] + nrm[j] + drow[j];
                if (nc < TWONN_CAND || d2 < cd[nc - 1]) {
                    int k = nc < TWONN_CAND ? nc++ : TWONN_CAND - 1;
                    while (k > 0 && cd[k - 1] > d2) {
                        cd[k] = cd[k - 1];
                        cand[k] = cand[k - 1];
                        k--;
                    }
                    cd[k] = d2;
                    cand[k] = j;
                }
            }
            double r1 = INFINITY, r2 = INFINITY;
            for (int k = 0; k < nc; k++) {
                const float *a = X + (size_t)i * p, *c = X + (size_t)cand[k] * p;
                double s = 0;
                for (int j = 0; j < p; j++) {
                    double t = (double)a[j] - (double)c[j];
                    s += t * t;
                }
                double d = sqrt(s);
                if (d < r1) {
                    r2 = r1;
                    r1 = d;
                } else if (d < r2) {
                    r2 = d;
                }
            }
            if (r1 > 0) {
                m[i] = r2 / r1;
            } else {
                m[i] = NAN;
                out->n_duplicate++;
            }
        }
    }
    st = mg_twonn_fit(m, n, discard, out);
done:
    free(D);
    free(nrm);
    free(Xd);
    if (m != mu) free(m);
    return st;
}

/* ================================================================ adaptive ECE */

typedef struct {
    double c;
    int i;
} conf_idx;

static int cmp_conf(const void *a, const void *b)
{
    const conf_idx *x = a, *y = b;
    if (x->c != y->c) return x->c < y->c ? -1 : 1;
    return x->i - y->i;
}

mg_status mg_adaptive_ece(const double *conf, const unsigned char *correct, int n, int bins,
                          double *ece, double *mce, mg_reliability_bin *rel)
{
    if (n < 1 || bins < 1)
        return mg_fail(MG_ERR_CONFIG, "adaptive ECE needs n >= 1 and bins >= 1 (got %d, %d)", n,
                       bins);
    conf_idx *s = malloc(sizeof *s * (size_t)n);
    if (!s) return mg_fail(MG_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) s[i] = (conf_idx){conf[i], i};
    qsort(s, (size_t)n, sizeof *s, cmp_conf);
    double e = 0, mx = 0;
    for (int b = 0; b < bins; b++) {
        int lo = (int)((int64_t)b * n / bins), hi = (int)((int64_t)(b + 1) * n / bins);
        double sc = 0, sa = 0;
        for (int k = lo; k < hi; k++) {
            sc += s[k].c;
            sa += correct[s[k].i] ? 1.0 : 0.0;
        }
        int cnt = hi - lo;
        double cb = cnt ? sc / cnt : NAN, ab = cnt ? sa / cnt : NAN;
        if (cnt) {
            double gap = fabs(ab - cb);
            e += (double)cnt / n * gap;
            if (gap > mx) mx = gap;
        }
        if (rel) {
            rel[b].lo = cnt ? s[lo].c : NAN;
            rel[b].hi = cnt ? s[hi - 1].c : NAN;
            rel[b].count = cnt;
            rel[b].conf = cb;
            rel[b].acc = ab;
        }
    }
    free(s);
    if (ece) *ece = e;
    if (mce) *mce = mx;
    return MG_OK;
}

/* ================================================================ layers of a run, files */

typedef struct {
    mg_model *m;
    const int *layers;
    int nl, done;
    float **states;
} layers_job;

static mg_status layers_cb(void *user, const float *s, const int32_t *y, const float *z, int n)
{
    (void)s, (void)y, (void)z;
    layers_job *j = user;
    for (int i = 0; i < j->nl; i++) {
        size_t dim = (size_t)mg_model_dim(j->m, j->layers[i]);
        memcpy(j->states[i] + (size_t)j->done * dim, mg_model_state(j->m, j->layers[i]),
               sizeof(float) * (size_t)n * dim);
    }
    j->done += n;
    return MG_OK;
}

mg_status mg_layer_states(mg_model *m, const mg_dataset *d, const int *layers, int nl,
                          float **states)
{
    int L = mg_model_n_blocks(m);
    for (int i = 0; i < nl; i++) states[i] = NULL;
    for (int i = 0; i < nl; i++) {
        if (layers[i] < 0 || layers[i] > L)
            return mg_fail(MG_ERR_CONFIG, "layer %d outside 0..%d", layers[i], L);
        states[i] = malloc(sizeof(float) * (size_t)d->n * mg_model_dim(m, layers[i]) + 1);
        if (!states[i]) {
            for (int k = 0; k <= i; k++) {
                free(states[k]);
                states[k] = NULL;
            }
            return mg_fail(MG_ERR_NOMEM, "out of memory (%d states of layer %d)", d->n,
                           layers[i]);
        }
    }
    layers_job j = {m, layers, nl, 0, states};
    mg_status st = mg_states_foreach(m, d, 0, 0, 0, layers_cb, &j);
    if (st != MG_OK)
        for (int i = 0; i < nl; i++) {
            free(states[i]);
            states[i] = NULL;
        }
    return st;
}

mg_status mg_cka_write(const char *dir, const char *provenance, const char *label,
                       const int *la, int na, const int *lb, int nb, const mg_cka_result *r,
                       void *head)
{
    mg_status st = mg_mkdir_p(dir);
    if (st != MG_OK) return st;
    mg_report rep;
    memset(&rep, 0, sizeof rep);
    snprintf(rep.dir, sizeof rep.dir, "%s", dir);
    snprintf(rep.provenance, sizeof rep.provenance, "%s", provenance ? provenance : "");
    snprintf(rep.label, sizeof rep.label, "%s", label ? label : "");
    rep.method_ls = 3;
    rep.files = cJSON_CreateArray();
    cJSON *root = head ? (cJSON *)head : cJSON_CreateObject();
    double *rows = malloc(sizeof(double) * ((size_t)na * nb * 7 + 1));
    if (!rep.files || !root || !rows) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory");
        goto done;
    }
    cJSON *sec = cJSON_CreateObject(), *pairs = cJSON_CreateArray();
    cJSON_AddItemToObject(root, "cka", sec);
    cJSON_AddItemToObject(sec, "pairs", pairs);
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++) {
            const mg_cka_result *c = &r[(size_t)i * nb + j];
            double *row = rows + ((size_t)i * nb + j) * 7;
            row[0] = la[i];
            row[1] = lb[j];
            row[2] = (double)c->n;
            row[3] = c->p;
            row[4] = c->q;
            row[5] = c->cka;
            row[6] = c->cka_debiased;
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "layer_a", la[i]);
            cJSON_AddNumberToObject(o, "layer_b", lb[j]);
            cJSON_AddNumberToObject(o, "n", (double)c->n);
            cJSON_AddNumberToObject(o, "p", c->p);
            cJSON_AddNumberToObject(o, "q", c->q);
            cJSON_AddNumberToObject(o, "linear", c->cka);
            cJSON_AddNumberToObject(o, "debiased", c->cka_debiased);
            cJSON_AddStringToObject(o, "form", c->gram ? "gram" : "features");
            cJSON_AddItemToArray(pairs, o);
        }
    if (na == 1 && nb == 1) {
        cJSON_AddNumberToObject(sec, "linear", r[0].cka);
        cJSON_AddNumberToObject(sec, "debiased", r[0].cka_debiased);
    }
    cJSON_AddStringToObject(
        sec, "note",
        "linear CKA = ||Xc^T Yc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F) of the features centred "
        "on their means; debiased: each ||A^T B||_F^2 replaced by the unbiased HSIC estimator "
        "(Song et al. 2012) in feature form, ||A^T B||^2 - n/(n-2) sum_i ||a_i||^2 ||b_i||^2 + "
        "||A||^2 ||B||^2 / ((n-1)(n-2)) (Kornblith's reference code); the same examples in the "
        "same order on both sides; layer -1: external states");
    static const char *const cols[7] = {"layer_a", "layer_b", "n",           "p",
                                        "q",       "cka",     "cka_debiased"};
    if ((st = mg_report_tsv(&rep, "cka.tsv", cols, 7, rows, na * nb, nb))) goto done;
    {
        gp_buf b;
        gp_buf_init(&b);
        if (na * nb > 1) {
            gp_buf_printf(&b,
                          "set multiplot layout 1,2\nset xlabel 'layer of A'\n"
                          "set ylabel 'layer of B'\nset cbrange [0:1]\nunset grid\n"
                          "set size ratio -1\nset xtics 1\nset ytics 1\n"
                          "set xrange [%.1f:%.1f]\nset yrange [%.1f:%.1f]\n",
                          la[0] - 0.5, la[na - 1] + 0.5, lb[0] - 0.5, lb[nb - 1] + 0.5);
            mg_report_title(&rep, &b, "linear CKA");
            gp_buf_printf(&b, "plot 'cka.tsv' using 1:2:6 with image notitle, \\\n"
                              "     '' using 1:2:(sprintf('%%.2f', $6)) with labels tc rgb '#c04000' notitle\n");
            mg_report_title(&rep, &b, "debiased CKA");
            gp_buf_printf(&b, "plot 'cka.tsv' using 1:2:7 with image notitle, \\\n"
                              "     '' using 1:2:(sprintf('%%.2f', $7)) with labels tc rgb '#c04000' notitle\n"
                              "unset multiplot\nset size noratio\nset grid\n");
            st = mg_report_gp(&rep, "cka", "CKA between the layers of A and B (heat maps)",
                              1200, 560, NULL, &b);
        } else {
            mg_report_title(&rep, &b, "CKA");
            gp_buf_printf(&b, "set yrange [0:1]\nset style fill solid 0.6 noborder\n"
                              "set boxwidth 0.6\nset xtics ('linear' 0, 'debiased' 1)\n"
                              "set xrange [-0.7:1.7]\nset ylabel 'CKA'\n"
                              "plot 'cka.tsv' using (0):6 with boxes ls 3 notitle, \\\n"
                              "     '' using (1):7 with boxes ls 2 notitle\n");
            st = mg_report_gp(&rep, "cka", "CKA of A and B", 600, 500, NULL, &b);
        }
        gp_buf_free(&b);
        if (st) goto done;
    }
    cJSON_AddItemToArray(rep.files, cJSON_CreateString("summary.json"));
    cJSON_AddItemToObject(root, "files", rep.files);
    rep.files = NULL;
    char sp[4400];
    snprintf(sp, sizeof sp, "%s/summary.json", dir);
    st = mg_json_write(sp, root);
done:
    cJSON_Delete(rep.files);
    cJSON_Delete(root);
    free(rows);
    return st;
}
