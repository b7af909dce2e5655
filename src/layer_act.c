/* layer_act.c - elementwise activations: ReLU, LeakyReLU(slope), tanh. */
#include "layers.h"

#include <math.h>

void mg_act_forward(mg_layer_kind kind, float slope, const float *x, float *y, size_t count)
{
    switch (kind) {
    case MG_LAYER_RELU:
        for (size_t i = 0; i < count; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case MG_LAYER_LRELU:
        for (size_t i = 0; i < count; i++) y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
        break;
    case MG_LAYER_TANH:
        for (size_t i = 0; i < count; i++) y[i] = tanhf(x[i]);
        break;
    default: MG_ASSERT(!"not an activation");
    }
}

/* dx = dy * f'(x); f' taken from y for tanh (1 - y^2). */
void mg_act_backward(mg_layer_kind kind, float slope, const float *x, const float *y,
                     const float *dy, float *dx, size_t count)
{
    switch (kind) {
    case MG_LAYER_RELU:
        for (size_t i = 0; i < count; i++) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
        break;
    case MG_LAYER_LRELU:
        for (size_t i = 0; i < count; i++) dx[i] = x[i] > 0.0f ? dy[i] : slope * dy[i];
        break;
    case MG_LAYER_TANH:
        for (size_t i = 0; i < count; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
        break;
    default: MG_ASSERT(!"not an activation");
    }
}
