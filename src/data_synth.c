/* data_synth.c - synthetic datasets drawn from an mg_rng.
 *
 *   spiral   `classes` arms; arm c at t in (0, 1]: radius 15 t, angle
 *            2 pi (SPIRAL_TURNS t + c / classes); t = sqrt(u) so that points
 *            are spread evenly along the arm.  With noise 0 every point lies
 *            in [-15, 15]^2 (the paper's Figure 1).
 *   moons    two interleaved half circles (as in scikit-learn's make_moons),
 *            shifted so that the pair is centred at the origin.
 *   circles  `classes` concentric rings of radius (c + 1) / classes.
 *   blobs    `classes` Gaussian clusters in `dim` dimensions, centres drawn
 *            uniformly from [-10, 10]^dim, standard deviation `noise`.
 *
 * Every class gets per_class points; Gaussian noise of standard deviation
 * `noise` is added to every coordinate (for blobs it is the cluster spread).
 * Points are generated class by class and then shuffled with the same rng,
 * so no prefix of the dataset is a single class. */
#include "mixgeo.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SPIRAL_TURNS 1.75
#define SPIRAL_RADIUS 15.0
#define BLOB_BOX 10.0

static const double k_pi = 3.14159265358979323846;

static const char *const k_names[] = {
    [MG_SYNTH_SPIRAL] = "spiral",
    [MG_SYNTH_MOONS] = "moons",
    [MG_SYNTH_CIRCLES] = "circles",
    [MG_SYNTH_BLOBS] = "blobs",
};
#define N_KINDS ((int)(sizeof k_names / sizeof k_names[0]))

const char *mg_synth_name(mg_synth_kind k)
{
    if ((int)k < 0 || (int)k >= N_KINDS) return "unknown";
    return k_names[k];
}

int mg_synth_from_name(const char *name, mg_synth_kind *out)
{
    MG_ASSERT(name);
    for (int i = 0; i < N_KINDS; i++) {
        if (strcmp(name, k_names[i]) == 0) {
            if (out) *out = (mg_synth_kind)i;
            return 1;
        }
    }
    return 0;
}

/* Every problem is checked before any allocation; the message names the field. */
static mg_status synth_check(const mg_synth_config *cfg, int *dim)
{
    if ((int)cfg->kind < 0 || (int)cfg->kind >= N_KINDS)
        return mg_fail(MG_ERR_CONFIG, "synthetic data: unknown kind %d", (int)cfg->kind);
    const char *name = k_names[cfg->kind];
    if (cfg->classes < 2)
        return mg_fail(MG_ERR_CONFIG, "synthetic %s: classes must be >= 2 (got %d)", name,
                       cfg->classes);
    if (cfg->kind == MG_SYNTH_MOONS && cfg->classes != 2)
        return mg_fail(MG_ERR_CONFIG, "synthetic moons: classes must be 2 (got %d)",
                       cfg->classes);
    if (cfg->per_class < 1)
        return mg_fail(MG_ERR_CONFIG, "synthetic %s: per_class must be >= 1 (got %d)", name,
                       cfg->per_class);
    if (!(cfg->noise >= 0) || !isfinite(cfg->noise))
        return mg_fail(MG_ERR_CONFIG, "synthetic %s: noise must be finite and >= 0 (got %g)",
                       name, cfg->noise);
    *dim = 2;
    if (cfg->kind == MG_SYNTH_BLOBS) {
        if (cfg->dim < 1)
            return mg_fail(MG_ERR_CONFIG, "synthetic blobs: dim must be >= 1 (got %d)",
                           cfg->dim);
        *dim = cfg->dim;
    }
    if (cfg->per_class > INT_MAX / cfg->classes ||
        (size_t)cfg->per_class * (size_t)cfg->classes > SIZE_MAX / sizeof(float) / (size_t)*dim)
        return mg_fail(MG_ERR_CONFIG, "synthetic %s: classes x per_class = %d x %d is too large",
                       name, cfg->classes, cfg->per_class);
    return MG_OK;
}

/* One point of class c into p[0..dim-1], noise not yet added. */
static void synth_point(const mg_synth_config *cfg, const double *centres, int dim, int c,
                        mg_rng *rng, double *p)
{
    switch (cfg->kind) {
    case MG_SYNTH_SPIRAL: {
        double t = sqrt(1.0 - mg_rng_uniform(rng)); /* (0, 1] */
        double a = 2.0 * k_pi * (SPIRAL_TURNS * t + (double)c / cfg->classes);
        p[0] = SPIRAL_RADIUS * t * cos(a);
        p[1] = SPIRAL_RADIUS * t * sin(a);
        break;
    }
    case MG_SYNTH_MOONS: {
        double a = k_pi * mg_rng_uniform(rng);
        if (c == 0) {
            p[0] = cos(a) - 0.5;
            p[1] = sin(a) - 0.25;
        } else {
            p[0] = 1.0 - cos(a) - 0.5;
            p[1] = 0.5 - sin(a) - 0.25;
        }
        break;
    }
    case MG_SYNTH_CIRCLES: {
        double a = 2.0 * k_pi * mg_rng_uniform(rng);
        double r = (double)(c + 1) / cfg->classes;
        p[0] = r * cos(a);
        p[1] = r * sin(a);
        break;
    }
    case MG_SYNTH_BLOBS:
        for (int j = 0; j < dim; j++) p[j] = centres[(size_t)c * (size_t)dim + (size_t)j];
        break;
    }
}

mg_status mg_synth_generate(const mg_synth_config *cfg, mg_rng *rng, mg_dataset **out)
{
    MG_ASSERT(cfg && rng && out);
    *out = NULL;
    int dim = 2;
    mg_status st = synth_check(cfg, &dim);
    if (st != MG_OK) return st;
    const char *name = k_names[cfg->kind];

    int classes = cfg->classes, n = cfg->classes * cfg->per_class;
    double *centres = NULL, *p = malloc((size_t)dim * sizeof *p);
    int *perm = malloc((size_t)n * sizeof *perm);
    mg_dataset *d = mg_dataset_alloc(n, dim, classes);
    if (cfg->kind == MG_SYNTH_BLOBS)
        centres = malloc((size_t)classes * (size_t)dim * sizeof *centres);
    if (!p || !perm || !d || (cfg->kind == MG_SYNTH_BLOBS && !centres)) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory generating %d %s points", n, name);
        goto done;
    }
    if (centres)
        for (size_t i = 0; i < (size_t)classes * (size_t)dim; i++)
            centres[i] = BLOB_BOX * (2.0 * mg_rng_uniform(rng) - 1.0);

    /* Generated class by class into row perm[i]: the shuffle costs no copy. */
    mg_rng_permutation(rng, perm, n);
    for (int i = 0; i < n; i++) {
        int c = i / cfg->per_class;
        synth_point(cfg, centres, dim, c, rng, p);
        float *row = d->x + (size_t)perm[i] * (size_t)dim;
        for (int j = 0; j < dim; j++) {
            double e = cfg->noise > 0 ? cfg->noise * mg_rng_normal(rng) : 0.0;
            row[j] = (float)(p[j] + e);
        }
        d->y[perm[i]] = c;
    }
    snprintf(d->name, sizeof d->name, "%s", name);
    *out = d;
    d = NULL;
done:
    mg_dataset_free(d);
    free(centres);
    free(p);
    free(perm);
    return st;
}
