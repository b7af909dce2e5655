/* layer_act.c - elementwise activations: ReLU, LeakyReLU(slope = param), tanh.
 * No parameters; backward only forms dx (nothing when dx is NULL).
 *
 * The kernels work on a rows x cols block of row stride ld, so the dense
 * layer can run them over its own block right after its GEMM (the
 * *_fused_ops, chosen by the planner for an activation that follows a
 * dense layer in the same block, then do nothing). */
#include "layers.h"

#include <math.h>
#include <stdio.h>

void mg_act_forward_block(const mg_layer *a, int rows, int cols, const float *x, float *y,
                          size_t ld)
{
    const float slope = a->param;
    for (int i = 0; i < rows; i++) {
        const float *restrict xi = x + (size_t)i * ld;
        float *restrict yi = y + (size_t)i * ld;
        switch (a->kind) {
        case MG_LAYER_RELU:
            for (int j = 0; j < cols; j++) yi[j] = xi[j] > 0.0f ? xi[j] : 0.0f;
            break;
        case MG_LAYER_LRELU:
            for (int j = 0; j < cols; j++) yi[j] = xi[j] > 0.0f ? xi[j] : slope * xi[j];
            break;
        case MG_LAYER_TANH:
            for (int j = 0; j < cols; j++) yi[j] = tanhf(xi[j]);
            break;
        default: MG_ASSERT(0 && "not an activation");
        }
    }
}

/* dx = dy * (1 - y^2) for tanh */
void mg_act_backward_block(const mg_layer *a, int rows, int cols, const float *x,
                           const float *y, const float *dy, float *dx, size_t ld)
{
    const float slope = a->param;
    for (int i = 0; i < rows; i++) {
        const float *restrict xi = x + (size_t)i * ld, *restrict yi = y + (size_t)i * ld;
        const float *restrict gi = dy + (size_t)i * ld;
        float *restrict di = dx + (size_t)i * ld;
        switch (a->kind) {
        case MG_LAYER_RELU:
            for (int j = 0; j < cols; j++) di[j] = xi[j] > 0.0f ? gi[j] : 0.0f;
            break;
        case MG_LAYER_LRELU:
            for (int j = 0; j < cols; j++) di[j] = xi[j] > 0.0f ? gi[j] : slope * gi[j];
            break;
        case MG_LAYER_TANH:
            for (int j = 0; j < cols; j++) di[j] = gi[j] * (1.0f - yi[j] * yi[j]);
            break;
        default: MG_ASSERT(0 && "not an activation");
        }
    }
}

static void act_forward(mg_layer *l, const mg_fwd_ctx *c)
{
    mg_act_forward_block(l, c->n, l->out, c->x, c->y, (size_t)l->out);
}

static void act_backward(const mg_layer *l, const mg_bwd_ctx *c)
{
    if (!c->dx) return;
    mg_act_backward_block(l, c->n, l->out, c->x, c->y, c->dy, c->dx, (size_t)l->out);
}

/* Fused into the dense layer before (its epilogue writes y and dx). */
static void fused_forward(mg_layer *l, const mg_fwd_ctx *c)
{
    (void)l, (void)c;
}

static void fused_backward(const mg_layer *l, const mg_bwd_ctx *c)
{
    (void)l, (void)c;
}

static void lrelu_detail(const mg_layer *l, char *buf, size_t len)
{
    snprintf(buf, len, "(%g)", l->param);
}

const mg_layer_ops mg_relu_ops = {
    .name = "relu", .forward = act_forward, .backward = act_backward};
const mg_layer_ops mg_lrelu_ops = {
    .name = "lrelu", .forward = act_forward, .backward = act_backward, .detail = lrelu_detail};
const mg_layer_ops mg_tanh_ops = {
    .name = "tanh", .forward = act_forward, .backward = act_backward};
const mg_layer_ops mg_relu_fused_ops = {
    .name = "relu", .forward = fused_forward, .backward = fused_backward};
const mg_layer_ops mg_lrelu_fused_ops = {
    .name = "lrelu", .forward = fused_forward, .backward = fused_backward,
    .detail = lrelu_detail};
const mg_layer_ops mg_tanh_fused_ops = {
    .name = "tanh", .forward = fused_forward, .backward = fused_backward};

const mg_layer_ops *mg_act_fused_ops(mg_layer_kind kind)
{
    switch (kind) {
    case MG_LAYER_RELU: return &mg_relu_fused_ops;
    case MG_LAYER_LRELU: return &mg_lrelu_fused_ops;
    case MG_LAYER_TANH: return &mg_tanh_fused_ops;
    default: return NULL;
    }
}
