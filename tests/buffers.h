/* buffers.h - float buffers of the kernel tests (test_conv, test_conv_dnnl);
 * include after <cmocka.h>, <math.h>, <stdlib.h> and "mixgeo.h". */
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

#endif
