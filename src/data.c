/* data.c - datasets: allocation, subsets, the validation split, class counts
 * and per-feature standardisation.  The loaders live in data_idx.c (IDX),
 * data_csv.c (CSV) and data_synth.c (synthetic generators). */
#include "mixgeo.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One allocation for the struct, x and y each; n may be 0 (then x and y are
 * still valid, non-NULL pointers).  The shape defaults to a flat vector
 * (1, 1, dim) and the name to "". */
mg_dataset *mg_dataset_alloc(int n, int dim, int classes)
{
    MG_ASSERT(n >= 0 && dim >= 0 && classes >= 0);
    if (dim > 0 && (size_t)n > SIZE_MAX / sizeof(float) / (size_t)dim) return NULL;
    mg_dataset *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    size_t nx = (size_t)n * (size_t)dim;
    d->x = calloc(nx ? nx : 1, sizeof *d->x);
    d->y = calloc(n ? (size_t)n : 1, sizeof *d->y);
    if (!d->x || !d->y) {
        mg_dataset_free(d);
        return NULL;
    }
    d->n = n;
    d->dim = dim;
    d->classes = classes;
    d->c = 1;
    d->h = 1;
    d->w = dim;
    return d;
}

void mg_dataset_free(mg_dataset *d)
{
    if (!d) return;
    free(d->x);
    free(d->y);
    free(d);
}

/* Copies classes, shape and name of d; rows idx[i] (each in 0..d->n-1). */
mg_status mg_dataset_subset(const mg_dataset *d, const int *idx, int n, mg_dataset **out)
{
    MG_ASSERT(d && out && n >= 0 && (idx || n == 0));
    *out = NULL;
    mg_dataset *s = mg_dataset_alloc(n, d->dim, d->classes);
    if (!s) return mg_fail(MG_ERR_NOMEM, "out of memory for a subset of %d examples of %s", n,
                           d->name);
    s->c = d->c;
    s->h = d->h;
    s->w = d->w;
    memcpy(s->name, d->name, sizeof s->name);
    s->name[sizeof s->name - 1] = '\0';
    size_t dim = (size_t)d->dim;
    for (int i = 0; i < n; i++) {
        int j = idx[i];
        MG_ASSERT(j >= 0 && j < d->n);
        if (dim) memcpy(s->x + (size_t)i * dim, d->x + (size_t)j * dim, dim * sizeof *s->x);
        s->y[i] = d->y[j];
    }
    *out = s;
    return MG_OK;
}

/* The first n_val entries of a random permutation are marked as validation;
 * both parts are then collected in the original order. */
mg_status mg_dataset_split(const mg_dataset *d, int n_val, mg_rng *rng, mg_dataset **train,
                           mg_dataset **val)
{
    MG_ASSERT(d && rng && train && val);
    *train = NULL;
    *val = NULL;
    if (n_val < 0 || n_val >= d->n)
        return mg_fail(MG_ERR_CONFIG,
                       "validation size %d is out of range for %s (%d examples; need 0 <= "
                       "val < %d)",
                       n_val, d->name, d->n, d->n);
    int n = d->n;
    int *perm = malloc((size_t)n * sizeof *perm);
    unsigned char *is_val = calloc((size_t)n, 1);
    int *idx = malloc((size_t)n * sizeof *idx);
    mg_status st = MG_OK;
    if (!perm || !is_val || !idx) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory splitting %s", d->name);
        goto done;
    }
    mg_rng_permutation(rng, perm, n);
    for (int i = 0; i < n_val; i++) is_val[perm[i]] = 1;
    /* idx[0 .. n-n_val-1]: train rows, idx[n-n_val .. n-1]: validation rows,
     * each ascending. */
    int nt = 0, nv = n - n_val;
    for (int i = 0; i < n; i++) {
        if (is_val[i]) idx[nv++] = i;
        else idx[nt++] = i;
    }
    st = mg_dataset_subset(d, idx, n - n_val, train);
    if (st == MG_OK) st = mg_dataset_subset(d, idx + (n - n_val), n_val, val);
    if (st != MG_OK) {
        mg_dataset_free(*train);
        *train = NULL;
    }
done:
    free(perm);
    free(is_val);
    free(idx);
    return st;
}

void mg_dataset_class_counts(const mg_dataset *d, int *counts)
{
    MG_ASSERT(d && counts);
    for (int c = 0; c < d->classes; c++) counts[c] = 0;
    for (int i = 0; i < d->n; i++) {
        MG_ASSERT(d->y[i] >= 0 && d->y[i] < d->classes);
        counts[d->y[i]]++;
    }
}

/* Two passes in double: the mean, then the (population) variance about it. */
mg_status mg_standardizer_fit(const mg_dataset *from, mg_standardizer *out)
{
    MG_ASSERT(from && out);
    memset(out, 0, sizeof *out);
    if (from->n < 1)
        return mg_fail(MG_ERR_CONFIG, "cannot fit a standardizer on %s: it has no examples",
                       from->name);
    int dim = from->dim, n = from->n;
    size_t sz = dim ? (size_t)dim : 1;
    double *acc = calloc(sz, sizeof *acc);
    double *mean = calloc(sz, sizeof *mean);
    out->mean = calloc(sz, sizeof *out->mean);
    out->std = calloc(sz, sizeof *out->std);
    if (!acc || !mean || !out->mean || !out->std) {
        free(acc);
        free(mean);
        mg_standardizer_free(out);
        return mg_fail(MG_ERR_NOMEM, "out of memory fitting a standardizer on %s", from->name);
    }
    out->dim = dim;
    for (int i = 0; i < n; i++) {
        const float *row = from->x + (size_t)i * (size_t)dim;
        for (int j = 0; j < dim; j++) mean[j] += row[j];
    }
    for (int j = 0; j < dim; j++) mean[j] /= n;
    for (int i = 0; i < n; i++) {
        const float *row = from->x + (size_t)i * (size_t)dim;
        for (int j = 0; j < dim; j++) {
            double e = row[j] - mean[j];
            acc[j] += e * e;
        }
    }
    for (int j = 0; j < dim; j++) {
        double sd = sqrt(acc[j] / n);
        out->mean[j] = (float)mean[j];
        /* A constant feature is only centred. */
        out->std[j] = (sd < 1e-6 || !isfinite(sd)) ? 1.0f : (float)sd;
    }
    free(acc);
    free(mean);
    return MG_OK;
}

void mg_standardizer_apply(const mg_standardizer *s, mg_dataset *d)
{
    MG_ASSERT(s && d && s->dim == d->dim);
    int dim = d->dim;
    for (int i = 0; i < d->n; i++) {
        float *row = d->x + (size_t)i * (size_t)dim;
        for (int j = 0; j < dim; j++) row[j] = (row[j] - s->mean[j]) / s->std[j];
    }
}

void mg_standardizer_free(mg_standardizer *s)
{
    if (!s) return;
    free(s->mean);
    free(s->std);
    s->mean = s->std = NULL;
    s->dim = 0;
}
