/* layer_dropout.c - inverted dropout and additive Gaussian noise (train only). */
#include "layers.h"

#include <string.h>

/* Train: mask = (u >= p) / (1 - p), y = x * mask.  Eval: y = x. */
void mg_dropout_forward(float p, const float *x, float *y, float *mask, size_t count, int train,
                        mg_rng *rng)
{
    if (!train || p <= 0.0f) {
        if (y != x) memcpy(y, x, sizeof(float) * count);
        if (train) for (size_t i = 0; i < count; i++) mask[i] = 1.0f;
        return;
    }
    MG_ASSERT(rng);
    float keep = 1.0f / (1.0f - p);
    for (size_t i = 0; i < count; i++) {
        mask[i] = mg_rng_uniform(rng) >= p ? keep : 0.0f;
        y[i] = x[i] * mask[i];
    }
}

void mg_dropout_backward(const float *mask, const float *dy, float *dx, size_t count, int train)
{
    if (!train) {
        memcpy(dx, dy, sizeof(float) * count);
        return;
    }
    for (size_t i = 0; i < count; i++) dx[i] = dy[i] * mask[i];
}

void mg_noise_forward(float sigma, const float *x, float *y, size_t count, int train, mg_rng *rng)
{
    if (!train || sigma <= 0.0f) {
        if (y != x) memcpy(y, x, sizeof(float) * count);
        return;
    }
    MG_ASSERT(rng);
    for (size_t i = 0; i < count; i++) y[i] = x[i] + sigma * (float)mg_rng_normal(rng);
}
