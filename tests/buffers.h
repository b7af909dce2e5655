/* buffers.h - float buffers of the kernel tests (test_conv, test_conv_dnnl,
 * test_blk8); include after <cmocka.h>, <math.h>, <stdio.h>, <stdlib.h> and
 * "mixgeo.h". */
#ifndef MIXGEO_TESTS_BUFFERS_H
#define MIXGEO_TESTS_BUFFERS_H

/* n floats (at least one), or the test fails. */
static inline float *falloc(size_t n)
{
    float *p = malloc(sizeof(float) * (n ? n : 1));
    assert_non_null(p);
    return p;
}

static inline void fill_normal(float *v, size_t n, mg_rng *r, double sd)
{
    for (size_t i = 0; i < n; i++) v[i] = (float)(sd * mg_rng_normal(r));
}

static inline void fill_nan(float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) v[i] = NAN;
}

/* The largest |a - b| over n values (NaN counts as the largest), its index
 * in *worst and max |b| in *maxb. */
static inline double max_abs_diff(const float *a, const float *b, size_t n, size_t *worst,
                                  double *maxb)
{
    double maxd = 0.0;
    *maxb = 0.0, *worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= maxd)) {
            maxd = isnan(d) ? INFINITY : d;
            *worst = i;
        }
        if (fabs((double)b[i]) > *maxb) *maxb = fabs((double)b[i]);
    }
    return maxd;
}

/* max |a - b| <= tol * (max |b| + floor), or the test fails saying where. */
static inline void assert_close_arrays(const float *a, const float *b, size_t n, double tol,
                                       double floor, const char *what)
{
    size_t worst;
    double maxb, maxd = max_abs_diff(a, b, n, &worst, &maxb);
    if (!(maxd <= tol * (maxb + floor))) {
        printf("  %s: max diff %.3g at %zu (%.7g vs %.7g), scale %.3g\n", what, maxd, worst,
               (double)a[worst], (double)b[worst], maxb);
        fail();
    }
}

#endif
