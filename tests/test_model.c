/* test_model.c - finite-difference gradient checks of every layer kind, the
 * mixup boundary and whole networks; model bookkeeping; training-loop sanity;
 * the input-only backward (mg_model_backward_input: the full pass's dx bit
 * for bit, the gradient arena and a pending zero_grad untouched; through a
 * worker team: tests/test_team.c).
 *
 * Method: scalar objective F = sum_ij w_ij * logits_ij (w random, accumulated
 * in double), so dF/dlogits = w exactly.  Central differences with step h on
 * each checked coordinate, compared with the analytic gradient relative to
 * the gradient's scale.  Every check also asserts the analytic gradient is
 * not vacuous (its norm is well above zero). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mixgeo.h"

typedef struct {
    const char *arch;
    mg_arch_opts opts;
    int n, train;
    int mix_k; /* -1: no mix */
    float lambda;
    int from;
} gc_case;

/* F(params, x) with the fixed mix, dropout masks and noise of seed 7. */
static double objective(mg_model *m, const gc_case *c, const float *x, const int *perm,
                        const double *w)
{
    mg_rng r;
    mg_rng_seed(&r, 7);
    mg_mix mix = {c->mix_k, c->lambda, perm};
    /* train-mode BN updates running stats: restore them so that every
     * evaluation sees the same model */
    size_t nb = mg_model_n_buffers(m);
    float *save = malloc(sizeof(float) * (nb + 1));
    memcpy(save, mg_model_buffers(m), sizeof(float) * nb);
    const float *z = mg_model_forward(m, c->from, x, c->n, c->train, c->mix_k >= 0 ? &mix : NULL, &r);
    int C = mg_model_classes(m);
    double F = 0.0;
    for (int i = 0; i < c->n * C; i++) F += w[i] * z[i];
    memcpy(mg_model_buffers(m), save, sizeof(float) * nb);
    free(save);
    return F;
}

/* Compare one coordinate; returns 0 ok, 1 mismatch, 2 skipped (a ReLU kink
 * lies inside [v-h, v+h]: the one-sided slopes disagree). */
static int compare(double fp, double f0, double fm, double h, double analytic, double scale,
                   double *num_out)
{
    double num = (fp - fm) / (2 * h);
    double fwd = (fp - f0) / h, bwd = (f0 - fm) / h;
    *num_out = num;
    double tol = 2e-2 * (fabs(num) + fabs(analytic) + scale + 1e-3);
    if (fabs(fwd - bwd) > tol) return 2;
    return fabs(num - analytic) > tol ? 1 : 0;
}

static void check_case(const gc_case *c)
{
    mg_rng r;
    mg_rng_seed(&r, 42);
    mg_model *m;
    assert_int_equal(mg_model_create(c->arch, &c->opts, &r, &m), MG_OK);
    assert_int_equal(mg_model_reserve(m, c->n), MG_OK);
    int C = mg_model_classes(m), D = mg_model_dim(m, c->from);
    float *x = malloc(sizeof(float) * c->n * D), *dx = malloc(sizeof(float) * c->n * D);
    double *w = malloc(sizeof(double) * c->n * C);
    float *dzf = malloc(sizeof(float) * c->n * C);
    int perm[64];
    for (int i = 0; i < c->n * D; i++) x[i] = (float)mg_rng_normal(&r);
    for (int i = 0; i < c->n * C; i++) {
        w[i] = mg_rng_normal(&r);
        dzf[i] = (float)w[i];
    }
    /* a permutation with a fixed point and a swap, so both branches matter */
    /* 0 fixed, the rest rotated */
    perm[0] = 0;
    for (int i = 1; i < c->n; i++) perm[i] = 1 + (i % (c->n - 1));
    /* analytic */
    mg_model_zero_grad(m);
    objective(m, c, x, perm, w);
    mg_rng rr;
    mg_rng_seed(&rr, 7);
    mg_mix mix = {c->mix_k, c->lambda, perm};
    mg_model_forward(m, c->from, x, c->n, c->train, c->mix_k >= 0 ? &mix : NULL, &rr);
    mg_model_backward(m, dzf, dx);
    size_t np = mg_model_n_params(m);
    float *g = malloc(sizeof(float) * np);
    memcpy(g, mg_model_grads(m), sizeof(float) * np);
    double gnorm = 0.0, xnorm = 0.0;
    for (size_t i = 0; i < np; i++) gnorm += (double)g[i] * g[i];
    for (int i = 0; i < c->n * D; i++) xnorm += (double)dx[i] * dx[i];
    gnorm = sqrt(gnorm);
    xnorm = sqrt(xnorm);
    assert_true(gnorm > 1e-3);
    assert_true(xnorm > 1e-3);

    /* smaller steps for nets with many ReLU kinks (BN puts pre-activations near 0) */
    const double h = c->arch[0] == 'p' || (c->arch[0] == 'c' && c->opts.batchnorm) ? 2e-3 : 1e-2;
    float *p = mg_model_params(m);
    int checked = 0, bad = 0, skipped = 0;
    double f0 = objective(m, c, x, perm, w);
    double scale = gnorm / sqrt((double)np);
    for (size_t i = 0; i < np; i += 1 + np / 150) {
        float old = p[i];
        p[i] = old + (float)h;
        double fp = objective(m, c, x, perm, w);
        p[i] = old - (float)h;
        double fm = objective(m, c, x, perm, w);
        p[i] = old;
        double num;
        int res = compare(fp, f0, fm, h, g[i], scale, &num);
        skipped += res == 2;
        if (res == 1) {
            bad++;
            printf("  %s param %zu: analytic %.6g numeric %.6g\n", c->arch, i, g[i], num);
        }
        checked++;
    }
    double xscale = xnorm / sqrt((double)c->n * D);
    for (int i = 0; i < c->n * D; i++) {
        float old = x[i];
        x[i] = old + (float)h;
        double fp = objective(m, c, x, perm, w);
        x[i] = old - (float)h;
        double fm = objective(m, c, x, perm, w);
        x[i] = old;
        double num;
        int res = compare(fp, f0, fm, h, dx[i], xscale, &num);
        skipped += res == 2;
        if (res == 1) {
            bad++;
            printf("  %s input %d: analytic %.6g numeric %.6g\n", c->arch, i, dx[i], num);
        }
        checked++;
    }
    assert_true(checked > 10);
    assert_true(skipped * 5 < checked); /* kinks are rare; most coordinates are checked */
    assert_int_equal(bad, 0);
    free(x);
    free(dx);
    free(w);
    free(dzf);
    free(g);
    mg_model_free(m);
}

static mg_arch_opts opts_act(mg_act a)
{
    mg_arch_opts o = mg_arch_opts_default();
    o.act = a;
    return o;
}

static void test_grad_dense_only(void **s)
{
    (void)s;
    gc_case c = {"5-3", opts_act(MG_ACT_NONE), 4, 1, -1, 1.0f, 0};
    check_case(&c);
}

static void test_grad_tanh(void **s)
{
    (void)s;
    gc_case c = {"4-6-5-3", opts_act(MG_ACT_TANH), 5, 1, -1, 1.0f, 0};
    check_case(&c);
}

static void test_grad_lrelu(void **s)
{
    (void)s;
    mg_arch_opts o = opts_act(MG_ACT_LRELU);
    o.slope = 0.2f;
    gc_case c = {"4-6-5-3", o, 5, 1, -1, 1.0f, 0};
    check_case(&c);
}

static void test_grad_relu(void **s)
{
    (void)s;
    /* ReLU kinks: h = 1e-2 on normal inputs crosses a kink with small
     * probability; seeds chosen where none is crossed, checked by tanh twin */
    gc_case c = {"4-7-3", opts_act(MG_ACT_RELU), 4, 1, -1, 1.0f, 0};
    check_case(&c);
}

static void test_grad_bn_train(void **s)
{
    (void)s;
    mg_arch_opts o = opts_act(MG_ACT_TANH);
    o.batchnorm = 1;
    gc_case c = {"4-6-5-3", o, 6, 1, -1, 1.0f, 0};
    check_case(&c);
}

static void test_grad_bn_eval(void **s)
{
    (void)s;
    mg_arch_opts o = opts_act(MG_ACT_TANH);
    o.batchnorm = 1;
    gc_case c = {"4-6-5-3", o, 6, 0, -1, 1.0f, 0};
    check_case(&c);
}

static void test_grad_dropout_noise(void **s)
{
    (void)s;
    mg_arch_opts o = opts_act(MG_ACT_TANH);
    o.dropout = 0.3f;
    o.input_noise = 0.5f;
    gc_case c = {"4-8-6-3", o, 5, 1, -1, 1.0f, 0};
    check_case(&c);
}

static void test_grad_mix_each_layer(void **s)
{
    (void)s;
    mg_arch_opts o = opts_act(MG_ACT_TANH);
    o.batchnorm = 1;
    for (int k = 0; k <= 2; k++) {
        gc_case c = {"4-6-5-3", o, 5, 1, k, 0.3f, 0};
        check_case(&c);
    }
}

static void test_grad_forward_from(void **s)
{
    (void)s;
    /* starting mid-network (analyses push hidden states forward) with a mix there */
    gc_case c = {"4-6-5-3", opts_act(MG_ACT_TANH), 5, 0, 1, 0.6f, 1};
    check_case(&c);
    gc_case c2 = {"4-6-5-3", opts_act(MG_ACT_LRELU), 5, 1, -1, 1.0f, 2};
    check_case(&c2);
}

/* zero_grad is lazy: the next backward overwrites visited layers, zeroes the
 * others; a second backward accumulates. */
static void test_grad_accumulate(void **s)
{
    (void)s;
    mg_rng r;
    mg_rng_seed(&r, 5);
    mg_model *m;
    mg_arch_opts o = mg_arch_opts_default();
    o.batchnorm = 1;
    assert_int_equal(mg_model_create("3-6-5-2", &o, &r, &m), MG_OK);
    assert_int_equal(mg_model_reserve(m, 4), MG_OK);
    size_t np = mg_model_n_params(m);
    float x[12], dz[8], *g1 = malloc(sizeof(float) * np);
    for (int i = 0; i < 12; i++) x[i] = (float)mg_rng_normal(&r);
    for (int i = 0; i < 8; i++) dz[i] = (float)mg_rng_normal(&r);
    float *g = mg_model_grads(m);
    for (size_t i = 0; i < np; i++) g[i] = 123.0f; /* garbage to be discarded */
    mg_model_zero_grad(m);
    mg_model_forward(m, 0, x, 4, 1, NULL, &r);
    mg_model_backward(m, dz, NULL);
    memcpy(g1, mg_model_grads(m), sizeof(float) * np);
    double norm = 0.0;
    for (size_t i = 0; i < np; i++) {
        assert_true(g1[i] != 123.0f);
        norm += fabs(g1[i]);
    }
    assert_true(norm > 1e-3);
    mg_model_backward(m, dz, NULL); /* accumulates */
    g = mg_model_grads(m);
    for (size_t i = 0; i < np; i++) assert_true(fabsf(g[i] - 2.0f * g1[i]) <= 1e-5f * (1.0f + fabsf(g1[i])));
    /* from layer 1: block 1's parameters get zero gradient */
    mg_model_zero_grad(m);
    float h[24];
    for (int i = 0; i < 24; i++) h[i] = (float)mg_rng_normal(&r);
    mg_model_forward(m, 1, h, 4, 1, NULL, &r);
    mg_model_backward(m, dz, NULL);
    g = mg_model_grads(m);
    size_t first2 = 0;
    for (int i = 0; i < mg_model_n_layers(m); i++)
        if (mg_model_layer(m, i).block == 2) {
            first2 = mg_model_layer(m, i).W ? (size_t)(mg_model_layer(m, i).W - mg_model_params(m)) : first2;
            break;
        }
    assert_true(first2 > 0);
    for (size_t i = 0; i < first2; i++) assert_true(g[i] == 0.0f);
    double rest = 0.0;
    for (size_t i = first2; i < np; i++) rest += fabs(g[i]);
    assert_true(rest > 1e-3);
    /* zero_grad then reading the arena gives zeros */
    mg_model_zero_grad(m);
    g = mg_model_grads(m);
    for (size_t i = 0; i < np; i++) assert_true(g[i] == 0.0f);
    free(g1);
    mg_model_free(m);
}

static mg_arch_opts opts_image(int c, int h, int w, int classes)
{
    mg_arch_opts o = mg_arch_opts_default();
    o.in_c = c, o.in_h = h, o.in_w = w, o.classes = classes;
    return o;
}

/* PreActResNet: stem conv, residual blocks with identity and projection
 * shortcuts, BN2d (+ReLU), global average pooling, dense; train and eval. */
static void test_grad_preact(void **s)
{
    (void)s;
    gc_case c = {"preact:3-5x1", opts_image(2, 6, 5, 3), 3, 1, -1, 1.0f, 0};
    check_case(&c);
    gc_case c2 = {"preact:3-4x2", opts_image(1, 5, 5, 2), 3, 0, -1, 1.0f, 0};
    check_case(&c2);
}

/* The authors' head (no final BN-ReLU before the pooling): train and eval,
 * and mixing after a stage. */
static void test_grad_preact_authors(void **s)
{
    (void)s;
    gc_case c = {"preact-authors:3-5x1", opts_image(2, 6, 5, 3), 3, 1, -1, 1.0f, 0};
    check_case(&c);
    gc_case c2 = {"preact-authors:3-4x2", opts_image(1, 5, 5, 2), 3, 0, -1, 1.0f, 0};
    check_case(&c2);
    gc_case c3 = {"preact-authors:3-4x1", opts_image(1, 6, 6, 3), 3, 1, 1, 0.35f, 0};
    check_case(&c3);
}

/* Mixing at the stage boundaries of a conv net, and starting from a stage. */
static void test_grad_preact_mix(void **s)
{
    (void)s;
    for (int k = 0; k <= 2; k++) {
        gc_case c = {"preact:3-4x1", opts_image(1, 6, 6, 3), 3, 1, k, 0.35f, 0};
        check_case(&c);
    }
    gc_case c = {"preact:3-4x1", opts_image(1, 6, 6, 3), 3, 0, 1, 0.7f, 1};
    check_case(&c);
}

/* ---------------------------------------------------------------- cnn: */

/* Plain conv nets: conv (bias), max and average pooling, dense, through
 * tanh (smooth) and LeakyReLU, train mode, without and with a mix at every
 * block boundary. */
static void test_grad_cnn(void **s)
{
    (void)s;
    gc_case c = {"cnn:c3k3-m2-c4-a2-f5", opts_image(1, 8, 8, 3), 3, 1, -1, 1.0f, 0};
    c.opts.act = MG_ACT_TANH;
    check_case(&c);
    mg_arch_opts o = opts_image(2, 8, 8, 3);
    o.act = MG_ACT_LRELU;
    o.slope = 0.2f;
    gc_case c2 = {"cnn:c3k3-m2-c4-a2-f5", o, 3, 1, -1, 1.0f, 0};
    check_case(&c2);
    /* blocks: [conv3-act-maxpool] [conv4-act-avgpool] [dense5-act] [dense3] */
    o.act = MG_ACT_TANH;
    for (int k = 0; k <= 3; k++) {
        gc_case cm = {"cnn:c3k3-m2-c4-a2-f5", o, 3, 1, k, 0.35f, 0};
        check_case(&cm);
    }
    /* starting from layer 1 with a mix there (analyses), eval mode */
    gc_case cf = {"cnn:c3k3-m2-c4-a2-f5", o, 3, 0, 1, 0.6f, 1};
    check_case(&cf);
}

/* Global average pooling, a strided even kernel, batch norm 2-d (+ a fused
 * ReLU), batch norm 1-d, dropout and input noise. */
static void test_grad_cnn_g_bn(void **s)
{
    (void)s;
    mg_arch_opts o = opts_image(2, 7, 7, 3);
    o.act = MG_ACT_TANH;
    gc_case c = {"cnn:c4k4s2-c5-g-f6", o, 3, 1, -1, 1.0f, 0};
    check_case(&c);
    gc_case cm = {"cnn:c4k4s2-c5-g-f6", o, 3, 1, 1, 0.4f, 0};
    check_case(&cm);
    o.batchnorm = 1;
    gc_case cb = {"cnn:c4k3-m2-c5-g-f6", o, 4, 1, 2, 0.3f, 0};
    check_case(&cb);
    gc_case ce = {"cnn:c4k3-m2-c5-g-f6", o, 4, 0, -1, 1.0f, 0};
    check_case(&ce);
    o.act = MG_ACT_RELU; /* BN2d with the ReLU fused */
    gc_case cr = {"cnn:c4k3-g-f6", o, 4, 1, -1, 1.0f, 0};
    check_case(&cr);
    o = opts_image(1, 6, 6, 3);
    o.act = MG_ACT_TANH;
    o.dropout = 0.3f;
    o.input_noise = 0.5f;
    gc_case cd = {"cnn:c3-m2-f6", o, 4, 1, 1, 0.5f, 0};
    check_case(&cd);
}

/* A model for 1x28x28 inputs and 10 classes (seed 1) whose L blocks have
 * the features dims[0..L]. */
static mg_model *fmnist_model(const char *arch, const int *dims, int L)
{
    mg_rng r;
    mg_rng_seed(&r, 1);
    mg_model *m;
    mg_arch_opts o = opts_image(1, 28, 28, 10);
    assert_int_equal(mg_model_create(arch, &o, &r, &m), MG_OK);
    assert_int_equal(mg_model_n_blocks(m), L);
    for (int k = 0; k <= L; k++) assert_int_equal(mg_model_dim(m, k), dims[k]);
    assert_int_equal(mg_model_classes(m), 10);
    return m;
}

/* Dims per block, parameter counts by hand, layer kinds, He gain, flops,
 * worker team eligibility. */
static void test_cnn_shapes(void **s)
{
    (void)s;
    const int dims[] = {784, 32 * 14 * 14, 64 * 7 * 7, 1024, 10};
    mg_model *m = fmnist_model("cnn:c32k5-m2-c64k5-m2-f1024", dims, 4);
    mg_rng r;
    mg_rng_seed(&r, 1);
    mg_arch_opts o = opts_image(1, 28, 28, 10);
    size_t conv1 = 32 * 25 + 32, conv2 = 64 * 32 * 25 + 64, d1 = 3136 * 1024 + 1024,
           d2 = 1024 * 10 + 10;
    assert_int_equal(mg_model_n_params(m), conv1 + conv2 + d1 + d2);
    assert_int_equal(mg_model_n_buffers(m), 0);
    const mg_layer_kind kinds[] = {MG_LAYER_CONV2D, MG_LAYER_RELU, MG_LAYER_MAXPOOL,
                                   MG_LAYER_CONV2D, MG_LAYER_RELU, MG_LAYER_MAXPOOL,
                                   MG_LAYER_DENSE,  MG_LAYER_RELU, MG_LAYER_DENSE};
    const int blocks[] = {1, 1, 1, 2, 2, 2, 3, 3, 4};
    assert_int_equal(mg_model_n_layers(m), 9);
    for (int i = 0; i < 9; i++) {
        assert_int_equal(mg_model_layer(m, i).kind, kinds[i]);
        assert_int_equal(mg_model_layer(m, i).block, blocks[i]);
    }
    assert_int_equal(mg_model_block_first_layer(m, 3), 6);
    assert_int_equal(mg_model_layer(m, 2).out, 32 * 14 * 14);
    assert_int_equal(mg_model_layer(m, 6).in, 3136);
    /* He init of conv1 (ReLU follows): std sqrt(2/25), bias 0 */
    const float *p = mg_model_params(m);
    double ss = 0.0;
    for (int i = 0; i < 800; i++) ss += (double)p[i] * p[i];
    assert_true(fabs(sqrt(ss / 800) - sqrt(2.0 / 25)) < 0.1 * sqrt(2.0 / 25));
    for (int i = 800; i < 832; i++) assert_true(p[i] == 0.0f);
    /* flops: convs and dense layers (pools: none); backward skips conv1's dx */
    double fc1 = 2.0 * 32 * 25 * 28 * 28, fc2 = 2.0 * 64 * 32 * 25 * 14 * 14;
    double fd = 2.0 * 3136 * 1024 + 2.0 * 1024 * 10;
    assert_true(mg_model_flops(m, 0) == fc1 + fc2 + fd);
    assert_true(mg_model_flops(m, 1) == fc1 + 2 * (fc2 + fd));
    /* a worker team for the convolutions */
    assert_int_equal(mg_model_set_threads(m, 2), MG_OK);
    assert_int_equal(mg_model_threads(m), 2);
    mg_model_free(m);

    /* tiny, with batch norm: conv 2x1x3x3 (no bias) 18 + bn2d 4, [2x3x3 ->
     * avgpool -> 2x1x1 -> gap -> 2]; dense 2->3: 9 + bn1d 6; dense 3->2: 8 */
    o = opts_image(1, 6, 6, 2);
    o.batchnorm = 1;
    assert_int_equal(mg_model_create("cnn:c2k3s2-a2-g-f3", &o, &r, &m), MG_OK);
    assert_int_equal(mg_model_n_blocks(m), 3);
    assert_int_equal(mg_model_dim(m, 0), 36);
    assert_int_equal(mg_model_dim(m, 1), 2);
    assert_int_equal(mg_model_dim(m, 2), 3);
    assert_int_equal(mg_model_dim(m, 3), 2);
    assert_int_equal(mg_model_n_params(m), 18 + 4 + 9 + 6 + 8);
    assert_int_equal(mg_model_n_buffers(m), 4 + 6);
    const mg_layer_kind k2[] = {MG_LAYER_CONV2D, MG_LAYER_BN2D, MG_LAYER_AVGPOOL, MG_LAYER_GAP,
                                MG_LAYER_DENSE,  MG_LAYER_BN1D, MG_LAYER_RELU,    MG_LAYER_DENSE};
    assert_int_equal(mg_model_n_layers(m), 8);
    for (int i = 0; i < 8; i++) assert_int_equal(mg_model_layer(m, i).kind, k2[i]);
    mg_model_free(m);

    /* even kernel (padding K/2 grows the output by one), stride, input noise,
     * tanh; an all-dense cnn: a team too (dense layers split by columns) */
    o = opts_image(3, 5, 5, 4);
    o.act = MG_ACT_TANH;
    o.input_noise = 0.1f;
    assert_int_equal(mg_model_create("cnn:c2k4-c3s2", &o, &r, &m), MG_OK);
    assert_int_equal(mg_model_dim(m, 1), 2 * 6 * 6);
    assert_int_equal(mg_model_dim(m, 2), 3 * 3 * 3);
    assert_int_equal(mg_model_layer(m, 0).kind, MG_LAYER_NOISE);
    assert_int_equal(mg_model_n_params(m), (2 * 3 * 16 + 2) + (3 * 2 * 9 + 3) + (27 * 4 + 4));
    mg_model_free(m);
    assert_int_equal(mg_model_create("cnn:f8", &o, &r, &m), MG_OK);
    assert_int_equal(mg_model_n_blocks(m), 2);
    assert_int_equal(mg_model_dim(m, 1), 8);
    assert_int_equal(mg_model_set_threads(m, 2), MG_OK);
    assert_int_equal(mg_model_threads(m), 2); /* every model gets a team */
    mg_model_free(m);
}

/* Every bad cnn: string: MG_ERR_CONFIG, no model, a message naming the
 * token (or the problem). */
static void test_cnn_errors(void **s)
{
    (void)s;
    mg_rng r;
    mg_rng_seed(&r, 1);
    static char many[300];
    strcpy(many, "cnn:");
    for (int i = 0; i < 64; i++) strcat(many, "c1-");
    strcat(many, "c1");
    const struct {
        const char *arch, *want;
        int h; /* input 1 x h x h */
    } bad[] = {
        {"cnn:c32-x2", "unknown token 'x2'", 8},
        {"cnn:c32-x2", "expected cC[kK][sS], mP, aP, g or fN", 8},
        {"cnn:C8", "'C8'", 8},
        {"cnn:", "no layers", 8},
        {"cnn:c8--f10", "empty token", 8},
        {"cnn:c8-", "empty token", 8},
        {"cnn:-c8", "empty token", 8},
        {"cnn:m2-c8", "'m2'", 8},
        {"cnn:g", "'g'", 8},
        {"cnn:f10-c8", "'c8'", 8},
        {"cnn:f10-m2", "'m2'", 8},
        {"cnn:f10-g", "'g'", 8},
        {"cnn:c0", "'c0'", 8},
        {"cnn:c5000", "'c5000'", 8},
        {"cnn:c8k0", "'c8k0'", 8},
        {"cnn:c8k33", "'c8k33'", 8},
        {"cnn:c8k3s0", "'c8k3s0'", 8},
        {"cnn:c8k", "'c8k'", 8},
        {"cnn:c", "'c'", 8},
        {"cnn:c8s2k3", "'c8s2k3'", 8},
        {"cnn:c+8", "'c+8'", 8},
        {"cnn:c99999999999999999999", "'c99999999999999999999'", 8},
        {"cnn:c8-m0", "'m0'", 8},
        {"cnn:c8-m", "'m'", 8},
        {"cnn:c8-m2x", "'m2x'", 8},
        {"cnn:c8-a-2", "'a'", 8},
        {"cnn:c8-g2", "'g2'", 8},
        {"cnn:c8-f0", "'f0'", 8},
        {"cnn:c8-f4194305", "'f4194305'", 8},
        {"cnn:c8-m9", "'m9'", 8},              /* pool larger than its 8x8 input */
        {"cnn:c8s4-m3", "'m3'", 8},            /* the conv leaves 2x2 */
        {"cnn:c8-m2-m2-m2-a2", "'a2'", 8},     /* 8 -> 4 -> 2 -> 1 */
        {"cnn:c8-g-m2", "'m2'", 8},
        {"cnn:c4096", "'c4096'", 100},         /* 4096 x 100 x 100 features */
        {many, "blocks", 8},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        mg_model *m = NULL;
        mg_arch_opts o = opts_image(1, bad[i].h, bad[i].h, 3);
        mg_status st = mg_model_create(bad[i].arch, &o, &r, &m);
        if (st != MG_ERR_CONFIG || !strstr(mg_errmsg(), bad[i].want) ||
            !strstr(mg_errmsg(), "--arch"))
            printf("  '%s': status %d, message: %s\n", bad[i].arch, (int)st, mg_errmsg());
        assert_int_equal(st, MG_ERR_CONFIG);
        assert_null(m);
        assert_non_null(strstr(mg_errmsg(), bad[i].want));
        assert_non_null(strstr(mg_errmsg(), "--arch"));
    }
    /* no image shape (flat data) or no classes, as preact: */
    mg_model *m = NULL;
    mg_arch_opts o = mg_arch_opts_default();
    assert_int_equal(mg_model_create("cnn:c8-m2", &o, &r, &m), MG_ERR_CONFIG);
    assert_null(m);
    assert_non_null(strstr(mg_errmsg(), "image data"));
    o = opts_image(1, 8, 8, 0);
    assert_int_equal(mg_model_create("cnn:c8-m2", &o, &r, &m), MG_ERR_CONFIG);
    assert_non_null(strstr(mg_errmsg(), "classes"));
    /* the same strings are fine where they fit */
    o = opts_image(1, 8, 8, 3);
    assert_int_equal(mg_model_create("cnn:c8-m2-m2-m2", &o, &r, &m), MG_OK);
    assert_int_equal(mg_model_dim(m, 1), 8);
    mg_model_free(m);
}

/* ---------------------------------------------------------------- input-only backward */

typedef struct {
    const char *arch;
    mg_arch_opts opts;
    int n, train, mix_k; /* mix_k -1: no mix */
    float lambda;
    int from, team;      /* team: mg_model_set_threads (1 here)                  */
} bi_case;

/* A known pattern for the gradient arena. */
static float grad_pattern(size_t i) { return (float)(i % 97) * 0.25f - 7.0f; }

/* One forward of case c, then mg_model_backward and mg_model_backward_input
 * on it: the same dx bit for bit; the input-only pass leaves the gradient
 * arena bit for bit as it was and keeps a pending zero_grad pending.
 * Returns the input gradient (n x dim(from), caller frees). */
static float *check_backward_input(const bi_case *c)
{
    mg_rng r;
    mg_rng_seed(&r, 17);
    mg_model *m;
    assert_int_equal(mg_model_create(c->arch, &c->opts, &r, &m), MG_OK);
    assert_int_equal(mg_model_set_threads(m, c->team), MG_OK);
    assert_int_equal(mg_model_reserve(m, c->n), MG_OK);
    assert_int_equal(mg_model_threads(m), c->team);
    int C = mg_model_classes(m), D = mg_model_dim(m, c->from);
    size_t nx = (size_t)c->n * D, np = mg_model_n_params(m);
    float *x = malloc(sizeof(float) * nx), *dz = malloc(sizeof(float) * c->n * C);
    float *dx1 = malloc(sizeof(float) * nx), *dx2 = malloc(sizeof(float) * nx);
    float *g1 = malloc(sizeof(float) * np), *pat = malloc(sizeof(float) * np);
    for (size_t i = 0; i < nx; i++) x[i] = (float)mg_rng_normal(&r);
    for (int i = 0; i < c->n * C; i++) dz[i] = (float)mg_rng_normal(&r);
    for (size_t i = 0; i < np; i++) pat[i] = grad_pattern(i);
    int perm[64];
    for (int i = 0; i < c->n; i++) perm[i] = (i * 5 + 3) % c->n;
    mg_mix mix = {c->mix_k, c->lambda, perm};
    mg_model_forward(m, c->from, x, c->n, c->train, c->mix_k >= 0 ? &mix : NULL, &r);

    /* the full backward: its dx and parameter gradients (not vacuous) */
    mg_model_zero_grad(m);
    mg_model_backward(m, dz, dx1);
    memcpy(g1, mg_model_grads(m), sizeof(float) * np);
    double gn = 0.0, xn = 0.0;
    for (size_t i = 0; i < np; i++) gn += fabs(g1[i]);
    for (size_t i = 0; i < nx; i++) xn += fabs(dx1[i]);
    assert_true(gn > 1e-3);
    assert_true(xn > 1e-3);

    /* input only over a patterned arena: same dx, arena untouched */
    memcpy(mg_model_grads(m), pat, sizeof(float) * np);
    for (size_t i = 0; i < nx; i++) dx2[i] = NAN;
    mg_model_backward_input(m, dz, dx2);
    assert_memory_equal(dx1, dx2, sizeof(float) * nx);
    assert_memory_equal(mg_model_grads(m), pat, sizeof(float) * np);
    mg_model_backward_input(m, dz, NULL); /* nothing wanted: a no-op */
    assert_memory_equal(mg_model_grads(m), pat, sizeof(float) * np);

    /* a pending zero_grad stays pending: the next full backward overwrites
     * the pattern (instead of adding to it), and reading the arena after an
     * input-only pass gives zeros */
    mg_model_zero_grad(m);
    mg_model_backward_input(m, dz, dx2);
    assert_memory_equal(dx1, dx2, sizeof(float) * nx);
    mg_model_backward(m, dz, NULL);
    assert_memory_equal(mg_model_grads(m), g1, sizeof(float) * np);
    memcpy(mg_model_grads(m), pat, sizeof(float) * np);
    mg_model_zero_grad(m);
    mg_model_backward_input(m, dz, dx2);
    const float *g = mg_model_grads(m);
    for (size_t i = 0; i < np; i++) assert_true(g[i] == 0.0f);

    free(x);
    free(dz);
    free(dx2);
    free(g1);
    free(pat);
    mg_model_free(m);
    return dx1;
}

static void test_backward_input_mlp(void **s)
{
    (void)s;
    mg_arch_opts o = opts_act(MG_ACT_TANH);
    o.batchnorm = 1;
    o.dropout = 0.2f;
    const bi_case cases[] = {
        {"4-6-5-3", o, 6, 1, -1, 1.0f, 0, 1}, /* train: BN through the batch stats */
        {"4-6-5-3", o, 6, 0, -1, 1.0f, 0, 1}, /* eval: running stats */
        {"4-6-5-3", o, 6, 1, 1, 0.3f, 0, 1},  /* mixing after block 1 */
        {"4-6-5-3", o, 6, 1, 0, 0.6f, 0, 1},  /* input mixup */
        {"4-6-5-3", o, 5, 1, 2, 0.4f, 1, 1},  /* from layer 1, mix above it */
        {"4-6-5-3", o, 5, 0, 1, 0.7f, 1, 1},  /* from layer 1, mix at the start */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) free(check_backward_input(&cases[i]));
}

static void test_backward_input_preact(void **s)
{
    (void)s;
    mg_arch_opts o = opts_image(1, 6, 6, 3);
    const bi_case cases[] = {
        {"preact:3-4x1", o, 4, 1, -1, 1.0f, 0, 1},
        {"preact:3-4x1", o, 4, 0, -1, 1.0f, 0, 1},
        {"preact:3-4x1", o, 4, 1, 1, 0.35f, 0, 1}, /* mix at the stage boundary */
        {"preact:3-4x1", o, 4, 1, 0, 0.35f, 0, 1},
        {"preact:3-4x1", o, 4, 0, 2, 0.7f, 1, 1},  /* from stage 1, mix after stage 2 */
        {"preact:3-4x2", opts_image(2, 5, 6, 4), 3, 1, 1, 0.5f, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) free(check_backward_input(&cases[i]));
}

static void test_preact_shapes(void **s)
{
    (void)s;
    const int dims[] = {784, 16 * 28 * 28, 32 * 14 * 14, 64 * 7 * 7, 10};
    mg_model *m = fmnist_model("preact:16-32-64x2", dims, 4);
    mg_rng r;
    mg_rng_seed(&r, 1);
    mg_arch_opts o = opts_image(1, 28, 28, 10);
    /* stem 144 + stage1 2x(2*16*2 + 2*2304) + stage2 (bn 32 + 4608 + 64 + 9216 + proj 512) +
     * (64 + 9216 + 64 + 9216) + stage3 similarly + head bn 128 + dense 650 */
    size_t stem = 9 * 16, s1 = 2 * (32 + 2304 + 32 + 2304);
    size_t s2 = (32 + 16 * 32 * 9 + 64 + 32 * 32 * 9 + 16 * 32) + (64 + 9216 + 64 + 9216);
    size_t s3 = (64 + 32 * 64 * 9 + 128 + 64 * 64 * 9 + 32 * 64) + (128 + 36864 + 128 + 36864);
    assert_int_equal(mg_model_n_params(m), stem + s1 + s2 + s3 + 128 + 650);
    mg_model_free(m);
    /* a conv net needs an image shape and classes */
    o = mg_arch_opts_default();
    assert_int_equal(mg_model_create("preact:16-32", &o, &r, &m), MG_ERR_CONFIG);
    assert_non_null(strstr(mg_errmsg(), "image"));
    o = opts_image(1, 28, 28, 10);
    assert_int_equal(mg_model_create("preact:16-32x0", &o, &r, &m), MG_ERR_CONFIG);
    assert_int_equal(mg_model_create("preact:", &o, &r, &m), MG_ERR_CONFIG);
    assert_int_equal(mg_model_create("preact-authors:", &o, &r, &m), MG_ERR_CONFIG);
    assert_int_equal(mg_model_create("preact-author:16", &o, &r, &m), MG_ERR_CONFIG);
}

/* preact-authors: the same blocks and stage shapes, the head without its
 * BN-ReLU: 2 x 64 fewer parameters, one layer fewer. */
static void test_preact_authors_shapes(void **s)
{
    (void)s;
    const int dims[] = {784, 16 * 28 * 28, 32 * 14 * 14, 64 * 7 * 7, 10};
    mg_model *a = fmnist_model("preact-authors:16-32-64x2", dims, 4);
    mg_model *p = fmnist_model("preact:16-32-64x2", dims, 4);
    assert_int_equal(mg_model_n_params(a) + 128, mg_model_n_params(p));
    assert_int_equal(mg_model_n_layers(a) + 1, mg_model_n_layers(p));
    assert_string_equal(mg_model_arch(a), "preact-authors:16-32-64x2");
    mg_model_free(a);
    mg_model_free(p);
}

static void test_arch_errors(void **s)
{
    (void)s;
    mg_rng r;
    mg_rng_seed(&r, 1);
    mg_model *m = NULL;
    const char *bad[] = {"", "784", "784-", "784--10", "a-10", "784-0-10", "784-512-1", "7x-10"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(mg_model_create(bad[i], NULL, &r, &m), MG_ERR_CONFIG);
        assert_null(m);
        assert_non_null(strstr(mg_errmsg(), "--arch"));
    }
    mg_arch_opts o = mg_arch_opts_default();
    o.dropout = 1.0f;
    assert_int_equal(mg_model_create("4-4-2", &o, &r, &m), MG_ERR_CONFIG);
    assert_non_null(strstr(mg_errmsg(), "--dropout"));
}

static void test_model_shapes(void **s)
{
    (void)s;
    mg_rng r;
    mg_rng_seed(&r, 1);
    mg_model *m;
    mg_arch_opts o = mg_arch_opts_default();
    o.batchnorm = 1;
    assert_int_equal(mg_model_create("784-512-512-10", &o, &r, &m), MG_OK);
    assert_int_equal(mg_model_n_blocks(m), 3);
    assert_int_equal(mg_model_dim(m, 0), 784);
    assert_int_equal(mg_model_dim(m, 2), 512);
    assert_int_equal(mg_model_classes(m), 10);
    size_t expect = 784 * 512 + 512 + 2 * 512 + 512 * 512 + 512 + 2 * 512 + 512 * 10 + 10;
    assert_int_equal(mg_model_n_params(m), expect);
    assert_int_equal(mg_model_n_buffers(m), 4 * 512);
    /* He init: weight std close to sqrt(2/784) */
    mg_layer_info li = mg_model_layer(m, 0);
    assert_int_equal(li.kind, MG_LAYER_DENSE);
    double ss = 0.0;
    for (int i = 0; i < 784 * 512; i++) ss += (double)li.W[i] * li.W[i];
    double sd = sqrt(ss / (784 * 512));
    assert_true(fabs(sd - sqrt(2.0 / 784)) < 0.01 * sqrt(2.0 / 784) * 5);
    mg_model_free(m);
}

/* Same seed -> identical parameters; mixing with lambda = 1 equals no mixing. */
static void test_mix_identity(void **s)
{
    (void)s;
    mg_rng r;
    mg_rng_seed(&r, 3);
    mg_model *m;
    assert_int_equal(mg_model_create("3-5-4-2", NULL, &r, &m), MG_OK);
    assert_int_equal(mg_model_reserve(m, 4), MG_OK);
    float x[12];
    for (int i = 0; i < 12; i++) x[i] = (float)mg_rng_normal(&r);
    int perm[4] = {3, 2, 1, 0};
    float z0[8], z1[8];
    memcpy(z0, mg_model_forward(m, 0, x, 4, 0, NULL, NULL), sizeof z0);
    mg_mix mix = {1, 1.0f, perm};
    memcpy(z1, mg_model_forward(m, 0, x, 4, 0, &mix, NULL), sizeof z1);
    assert_memory_equal(z0, z1, sizeof z0);
    /* lambda = 0 equals the permuted batch's outputs */
    mix.lambda = 0.0f;
    memcpy(z1, mg_model_forward(m, 0, x, 4, 0, &mix, NULL), sizeof z1);
    for (int i = 0; i < 4; i++) assert_memory_equal(z1 + 2 * i, z0 + 2 * perm[i], 2 * sizeof(float));
    mg_model_free(m);
}

/* ---------------------------------------------------------------- size limits */

/* One size limit for every architecture syntax, with exact messages: the
 * reason of a failing layer is kept behind one prefix (mg_fail_prefix; the
 * old mg_fail(st, "...%s", mg_errmsg()) formatted the buffer into itself),
 * and no product of widths and image sides overflows an int (run under
 * UBSan by make asan: preact:4194304 on 28 x 28 was 4194304 * 784). */
static void test_arch_limits(void **s)
{
    (void)s;
    mg_rng r;
    mg_rng_seed(&r, 1);
    const struct {
        const char *arch;
        int c, h, w;
        const char *want;
    } cases[] = {
        {"preact:4194304", 1, 28, 28,
         "--arch 'preact:4194304': stem: 3288334336 features per example (at most 16777216)"},
        {"preact:4194304-8", 1, 28, 28, /* int overflow (UBSan) in the stem before */
         "--arch 'preact:4194304-8': stem: 3288334336 features per example (at most 16777216)"},
        {"preact:8-4194304", 1, 2, 2,
         "--arch 'preact:8-4194304': stage 2: conv2d: layer too large"},
        {"preact:16-32", 1, 100000, 100000,
         "--arch 'preact:16-32': the input 1 x 100000 x 100000: more than 16777216 features "
         "per example"},
        {"preact:16", 2147483647, 2147483647, 2147483647,
         "--arch 'preact:16': the input 2147483647 x 2147483647 x 2147483647: more than "
         "16777216 features per example"},
        {"cnn:c8", 65536, 65536, 1,
         "--arch 'cnn:c8': the input 65536 x 65536 x 1: more than 16777216 features per example"},
        {"cnn:c4096k1-c4096k32", 1, 1, 1,
         "--arch 'cnn:c4096k1-c4096k32': token 'c4096k32': conv2d: layer too large"},
        {"cnn:c4096", 1, 100, 100,
         "--arch 'cnn:c4096': token 'c4096': 40960000 features per example (at most 16777216)"},
        {"784-4194304-4194304-10", 1, 28, 28,
         "--arch '784-4194304-4194304-10': 17595524710410 parameters (at most 1073741824)"},
        {"784-4194305-10", 1, 28, 28, "--arch '784-4194305-10': width out of range 1..4194304 at '4194305-10'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mg_arch_opts o = opts_image(cases[i].c, cases[i].h, cases[i].w, 10);
        mg_model *m = NULL;
        mg_arch_sizes sz;
        mg_status st = mg_arch_check(cases[i].arch, &o, &sz);
        if (st != MG_ERR_CONFIG || strncmp(mg_errmsg(), cases[i].want, strlen(cases[i].want)))
            printf("  %s: status %d, message: %s\n", cases[i].arch, (int)st, mg_errmsg());
        assert_int_equal(st, MG_ERR_CONFIG);
        assert_string_equal(mg_errmsg(), cases[i].want);
        assert_int_equal(mg_model_create(cases[i].arch, &o, &r, &m), MG_ERR_CONFIG);
        assert_null(m);
        assert_string_equal(mg_errmsg(), cases[i].want);
    }
    /* a string of more than MG_ARCH_MAX_LEN characters */
    char longarch[400];
    memset(longarch, '1', sizeof longarch - 1);
    longarch[sizeof longarch - 1] = '\0';
    mg_arch_sizes sz;
    assert_int_equal(mg_arch_check(longarch, NULL, &sz), MG_ERR_CONFIG);
    assert_string_equal(mg_errmsg(), "--arch: string too long (399 characters, at most 255)");
}

/* mg_arch_check gives the sizes mg_model_create builds, for every syntax. */
static void test_arch_check_sizes(void **s)
{
    (void)s;
    mg_rng r;
    mg_rng_seed(&r, 1);
    mg_arch_opts mlp = mg_arch_opts_default(), bn = mg_arch_opts_default();
    bn.batchnorm = 1;
    bn.dropout = 0.25f;
    bn.input_noise = 0.1f;
    const struct {
        const char *arch;
        mg_arch_opts o;
    } cases[] = {
        {"2-16-2", mlp},
        {"784-512-512-10", bn},
        {"cnn:c8k3-m2-c16k3s2-a2-f32", opts_image(1, 12, 12, 4)},
        {"cnn:c4-g", opts_image(3, 5, 5, 2)},
        {"preact:4-8x2", opts_image(2, 9, 7, 3)},
        {"preact:3", opts_image(1, 4, 4, 2)},
        {"preact-authors:4-8x2", opts_image(2, 9, 7, 3)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mg_arch_sizes sz;
        mg_model *m = NULL;
        assert_int_equal(mg_arch_check(cases[i].arch, &cases[i].o, &sz), MG_OK);
        assert_int_equal(mg_model_create(cases[i].arch, &cases[i].o, &r, &m), MG_OK);
        assert_int_equal(sz.n_params, mg_model_n_params(m));
        assert_int_equal(sz.n_buffers, mg_model_n_buffers(m));
        assert_int_equal(sz.n_blocks, mg_model_n_blocks(m));
        assert_int_equal(sz.n_layers, mg_model_n_layers(m));
        assert_int_equal(sz.in_dim, mg_model_dim(m, 0));
        assert_int_equal(sz.classes, mg_model_classes(m));
        mg_model_free(m);
        /* rng NULL: built, parameters left zero */
        assert_int_equal(mg_model_create(cases[i].arch, &cases[i].o, NULL, &m), MG_OK);
        for (size_t j = 0; j < mg_model_n_params(m); j++) assert_true(mg_model_params(m)[j] == 0.0f);
        mg_model_free(m);
    }
}

/* mg_fail_prefix: context in front of the current detail, never aliasing. */
static void test_fail_prefix(void **s)
{
    (void)s;
    assert_int_equal(mg_fail(MG_ERR_IO, "reason %d", 42), MG_ERR_IO);
    assert_int_equal(mg_fail_prefix(MG_ERR_FORMAT, "%s: ", "file.ckpt"), MG_ERR_FORMAT);
    assert_string_equal(mg_errmsg(), "file.ckpt: reason 42");
    /* the current detail as an argument of the prefix itself */
    mg_fail_prefix(MG_ERR_IO, "[%s] ", mg_errmsg());
    assert_string_equal(mg_errmsg(), "[file.ckpt: reason 42] file.ckpt: reason 42");
    /* and of mg_fail */
    mg_fail(MG_ERR_IO, "again: %s", mg_errmsg());
    assert_string_equal(mg_errmsg(), "again: [file.ckpt: reason 42] file.ckpt: reason 42");
    /* an empty detail: the status name */
    mg_fail(MG_ERR_NOMEM, "%s", "");
    mg_fail_prefix(MG_ERR_NOMEM, "ctx: ");
    assert_string_equal(mg_errmsg(), "ctx: out of memory");
    /* too long: the prefix stays whole, the detail's tail goes */
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    mg_fail(MG_ERR_IO, "%s", big);
    mg_fail_prefix(MG_ERR_IO, "P: ");
    assert_int_equal(strncmp(mg_errmsg(), "P: xxx", 6), 0);
    assert_true(strlen(mg_errmsg()) < 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_dense_only),   cmocka_unit_test(test_grad_tanh),
        cmocka_unit_test(test_grad_lrelu),        cmocka_unit_test(test_grad_relu),
        cmocka_unit_test(test_grad_bn_train),     cmocka_unit_test(test_grad_bn_eval),
        cmocka_unit_test(test_grad_dropout_noise), cmocka_unit_test(test_grad_mix_each_layer),
        cmocka_unit_test(test_grad_forward_from), cmocka_unit_test(test_arch_errors),
        cmocka_unit_test(test_model_shapes),      cmocka_unit_test(test_mix_identity),
        cmocka_unit_test(test_grad_preact),       cmocka_unit_test(test_grad_preact_mix),
        cmocka_unit_test(test_preact_shapes),     cmocka_unit_test(test_grad_accumulate),
        cmocka_unit_test(test_grad_preact_authors), cmocka_unit_test(test_preact_authors_shapes),
        cmocka_unit_test(test_backward_input_mlp), cmocka_unit_test(test_backward_input_preact),
        cmocka_unit_test(test_grad_cnn),          cmocka_unit_test(test_grad_cnn_g_bn),
        cmocka_unit_test(test_cnn_shapes),        cmocka_unit_test(test_cnn_errors),
        cmocka_unit_test(test_arch_limits),       cmocka_unit_test(test_arch_check_sizes),
        cmocka_unit_test(test_fail_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
