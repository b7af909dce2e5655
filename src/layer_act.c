/* layer_act.c - elementwise activations: ReLU, LeakyReLU(slope = param), tanh.
 * No parameters; backward only forms dx (nothing when dx is NULL). */
#include "layers.h"

#include <math.h>
#include <stdio.h>

static void relu_forward(mg_layer *l, const mg_fwd_ctx *c)
{
    size_t count = (size_t)c->n * l->out;
    const float *x = c->x;
    float *y = c->y;
    for (size_t i = 0; i < count; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

static void relu_backward(const mg_layer *l, const mg_bwd_ctx *c)
{
    if (!c->dx) return;
    size_t count = (size_t)c->n * l->out;
    const float *x = c->x, *dy = c->dy;
    float *dx = c->dx;
    for (size_t i = 0; i < count; i++) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}

static void lrelu_forward(mg_layer *l, const mg_fwd_ctx *c)
{
    size_t count = (size_t)c->n * l->out;
    float slope = l->param;
    const float *x = c->x;
    float *y = c->y;
    for (size_t i = 0; i < count; i++) y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
}

static void lrelu_backward(const mg_layer *l, const mg_bwd_ctx *c)
{
    if (!c->dx) return;
    size_t count = (size_t)c->n * l->out;
    float slope = l->param;
    const float *x = c->x, *dy = c->dy;
    float *dx = c->dx;
    for (size_t i = 0; i < count; i++) dx[i] = x[i] > 0.0f ? dy[i] : slope * dy[i];
}

static void lrelu_detail(const mg_layer *l, char *buf, size_t len)
{
    snprintf(buf, len, "(%g)", l->param);
}

static void tanh_forward(mg_layer *l, const mg_fwd_ctx *c)
{
    size_t count = (size_t)c->n * l->out;
    const float *x = c->x;
    float *y = c->y;
    for (size_t i = 0; i < count; i++) y[i] = tanhf(x[i]);
}

/* dx = dy * (1 - y^2) */
static void tanh_backward(const mg_layer *l, const mg_bwd_ctx *c)
{
    if (!c->dx) return;
    size_t count = (size_t)c->n * l->out;
    const float *y = c->y, *dy = c->dy;
    float *dx = c->dx;
    for (size_t i = 0; i < count; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

const mg_layer_ops mg_relu_ops = {
    .name = "relu", .forward = relu_forward, .backward = relu_backward};
const mg_layer_ops mg_lrelu_ops = {
    .name = "lrelu", .forward = lrelu_forward, .backward = lrelu_backward, .detail = lrelu_detail};
const mg_layer_ops mg_tanh_ops = {
    .name = "tanh", .forward = tanh_forward, .backward = tanh_backward};
