/* mixup.c - the mixup operation at a layer boundary, its exact adjoint, and
 * the mixed soft targets.
 *
 *   forward : out[i] = lambda h[i] + (1 - lambda) h[perm[i]]
 *   backward: dh[i] += lambda dout[i];  dh[perm[i]] += (1 - lambda) dout[i]
 *
 * Rows have d floats; perm is any map 0..n-1 -> 0..n-1 (normally a
 * permutation, fixed points allowed: an example may meet itself). */
#include "mixgeo.h"

#include <string.h>

/* True when [a, a + na) and [b, b + nb) share memory. */
static int overlaps(const float *a, size_t na, const float *b, size_t nb)
{
    uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    return pa < pb + nb * sizeof *b && pb < pa + na * sizeof *a;
}

void mg_mix_forward(const float *h, float *out, int n, int d, float lambda, const int *perm)
{
    MG_ASSERT(n >= 0 && d >= 0);
    if (n == 0 || d == 0) return;
    MG_ASSERT(h && out && perm);
    size_t len = (size_t)n * d;
    MG_ASSERT(!overlaps(h, len, out, len)); /* out[i] reads h[perm[i]] of another row */
    const float mu = 1.0f - lambda;
    for (int i = 0; i < n; i++) {
        MG_ASSERT(perm[i] >= 0 && perm[i] < n);
        const float *a = h + (size_t)i * d;
        const float *b = h + (size_t)perm[i] * d;
        float *o = out + (size_t)i * d;
        for (int j = 0; j < d; j++) o[j] = lambda * a[j] + mu * b[j];
    }
}

void mg_mix_backward(const float *dout, float *dh, int n, int d, float lambda, const int *perm)
{
    MG_ASSERT(n >= 0 && d >= 0);
    if (n == 0 || d == 0) return;
    MG_ASSERT(dout && dh && perm);
    size_t len = (size_t)n * d;
    MG_ASSERT(!overlaps(dout, len, dh, len));
    const float mu = 1.0f - lambda;
    for (int i = 0; i < n; i++) {
        MG_ASSERT(perm[i] >= 0 && perm[i] < n);
        const float *g = dout + (size_t)i * d;
        float *self = dh + (size_t)i * d;
        float *partner = dh + (size_t)perm[i] * d;
        for (int j = 0; j < d; j++) self[j] += lambda * g[j];
        for (int j = 0; j < d; j++) partner[j] += mu * g[j];
    }
}

void mg_mix_targets(const int32_t *y, int n, int classes, float lambda, const int *perm, float *t)
{
    MG_ASSERT(n >= 0 && classes >= 1);
    if (n == 0) return;
    MG_ASSERT(y && t);
    memset(t, 0, (size_t)n * classes * sizeof *t);
    for (int i = 0; i < n; i++) {
        float *ti = t + (size_t)i * classes;
        int32_t a = y[i];
        MG_ASSERT(a >= 0 && a < classes);
        if (!perm) {
            ti[a] = 1.0f;
            continue;
        }
        MG_ASSERT(perm[i] >= 0 && perm[i] < n);
        int32_t b = y[perm[i]];
        MG_ASSERT(b >= 0 && b < classes);
        if (a == b) {
            ti[a] = 1.0f; /* exactly 1, not lambda + (1 - lambda) rounded */
        } else {
            ti[a] = lambda;
            ti[b] = 1.0f - lambda;
        }
    }
}
