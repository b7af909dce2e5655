/* test_backend.c - the convolution implementations of a model
 * (conv_backend.h, mg_set_conv_backend): a PreActResNet and a cnn: net
 * built with oneDNN for their 3x3 convs (MG_CONV_BACKEND_AUTO) against the
 * same nets on today's kernels only (MG_CONV_BACKEND_IM2COL, the reference
 * twin): forward outputs, input gradients and parameter gradients agree to
 * float tolerance at 1 and 2 threads; each is bit-identical run to run for
 * a given thread count; the planner's rule (which convs go where); the
 * fallback (a layer with no oneDNN executor runs today's kernels, bit for
 * bit); the switch and the report string.  The PreActResNet in nChw8c from
 * its first residual block to the pooling (mg_conv_set_blk8, on by
 * default) and with NCHW between its layers (off): the states and layer
 * outputs the model hands out (NCHW), a forward from a hidden state and
 * the input gradient at it, a mix at that state, against the reference
 * twin; a forward from a state the model gave reproduces the logits bit for
 * bit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "conv_backend.h"
#include "mixgeo.h"

static mg_arch_opts opts_image(int c, int h, int w, int classes)
{
    mg_arch_opts o = mg_arch_opts_default();
    o.in_c = c, o.in_h = h, o.in_w = w, o.classes = classes;
    return o;
}

/* The outputs of one training-mode forward + backward. */
typedef struct {
    float *z, *dx, *g;
    size_t nz, nx, np;
} pass_out;

static void pass_free(pass_out *p)
{
    free(p->z), free(p->dx), free(p->g);
    memset(p, 0, sizeof *p);
}

/* arch built under backend b (the switch back at AUTO afterwards) with
 * threads and room for n, and its fixed data: x (n x in) and the logits'
 * gradient dz (n x classes), to free. */
static mg_model *build(const char *arch, mg_arch_opts o, mg_conv_backend b, int threads, int n,
                       float **x, float **dz)
{
    mg_set_conv_backend(b);
    mg_rng r;
    mg_rng_seed(&r, 11);
    mg_model *m = NULL;
    assert_int_equal(mg_model_create(arch, &o, &r, &m), MG_OK);
    mg_set_conv_backend(MG_CONV_BACKEND_AUTO);
    assert_int_equal(mg_model_set_threads(m, threads), MG_OK);
    assert_int_equal(mg_model_reserve(m, n), MG_OK);
    int in = mg_model_dim(m, 0), C = mg_model_classes(m);
    *x = malloc(sizeof(float) * (size_t)n * in);
    *dz = malloc(sizeof(float) * (size_t)n * C);
    assert_true(*x && *dz);
    mg_rng dr;
    mg_rng_seed(&dr, 5);
    for (int i = 0; i < n * in; i++) (*x)[i] = (float)mg_rng_normal(&dr);
    for (int i = 0; i < n * C; i++) (*dz)[i] = (float)mg_rng_normal(&dr) / n;
    return m;
}

/* Build arch under backend b with threads, run a forward (train mode, a mix
 * at boundary 1) and a backward on fixed data; report the model's conv
 * backend string into desc. */
static pass_out run_pass(const char *arch, mg_arch_opts o, mg_conv_backend b, int threads, int n,
                         char *desc, size_t dlen)
{
    float *x, *dz;
    mg_model *m = build(arch, o, b, threads, n, &x, &dz);
    if (desc) mg_model_conv_backend(m, desc, dlen);
    int in = mg_model_dim(m, 0), C = mg_model_classes(m);
    int perm[64];
    for (int i = 0; i < n; i++) perm[i] = (i * 7 + 3) % n;
    mg_mix mix = {1, 0.7f, perm};
    mg_rng fr;
    mg_rng_seed(&fr, 3);
    pass_out p = {0};
    p.nz = (size_t)n * C, p.nx = (size_t)n * in, p.np = mg_model_n_params(m);
    const float *z = mg_model_forward(m, 0, x, n, 1, &mix, &fr);
    p.z = malloc(sizeof(float) * p.nz);
    memcpy(p.z, z, sizeof(float) * p.nz);
    p.dx = malloc(sizeof(float) * p.nx);
    p.g = malloc(sizeof(float) * p.np);
    mg_model_zero_grad(m);
    mg_model_backward(m, dz, p.dx);
    memcpy(p.g, mg_model_grads(m), sizeof(float) * p.np);
    free(x), free(dz);
    mg_model_free(m);
    return p;
}

/* a ~ b to rtol relative to the array's largest magnitude (float rounding
 * of different summation orders); b not vacuous */
static void assert_twin(const float *a, const float *b, size_t n, double rtol, const char *what)
{
    double scale = 0.0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(b[i]));
    assert_true(scale > 1e-6);
    for (size_t i = 0; i < n; i++)
        if (!close_to(a[i], b[i], rtol, scale, what, (int)i)) fail();
}

static void assert_same_bits(const pass_out *a, const pass_out *b)
{
    assert_memory_equal(a->z, b->z, sizeof(float) * a->nz);
    assert_memory_equal(a->dx, b->dx, sizeof(float) * a->nx);
    assert_memory_equal(a->g, b->g, sizeof(float) * a->np);
}

/* Both backends, 1 and 2 threads: twins agree, every configuration repeats
 * bit for bit. */
static void check_net(const char *arch, mg_arch_opts o, int n)
{
    char desc[256];
    for (int t = 1; t <= 2; t++) {
        pass_out ref = run_pass(arch, o, MG_CONV_BACKEND_IM2COL, t, n, desc, sizeof desc);
        assert_non_null(strstr(desc, "im2col for all"));
        pass_out a = run_pass(arch, o, MG_CONV_BACKEND_AUTO, t, n, desc, sizeof desc);
        print_message("%s, %d thread%s: %s\n", arch, t, t > 1 ? "s" : "", desc);
        assert_true(strstr(desc, "onednn") != NULL || strstr(desc, "unavailable") != NULL);
        assert_twin(a.z, ref.z, a.nz, 1e-4, "logits");
        assert_twin(a.dx, ref.dx, a.nx, 1e-4, "dx");
        assert_twin(a.g, ref.g, a.np, 1e-4, "grads");
        pass_out a2 = run_pass(arch, o, MG_CONV_BACKEND_AUTO, t, n, NULL, 0);
        assert_same_bits(&a, &a2);
        pass_out r2 = run_pass(arch, o, MG_CONV_BACKEND_IM2COL, t, n, NULL, 0);
        assert_same_bits(&ref, &r2);
        pass_free(&ref), pass_free(&a), pass_free(&a2), pass_free(&r2);
    }
}

/* stem 3->8 (ours); block 1: two 8->8 3x3 (oneDNN); block 2: 8->16 stride 2
 * and 16->16 (oneDNN), the 1x1 stride-2 projection (ours) */
static void test_twin_preact(void **s)
{
    (void)s;
    for (int blk8 = 1; blk8 >= 0; blk8--) {
        mg_conv_set_blk8(blk8);
        check_net("preact:8-16x1", opts_image(3, 12, 10, 4), 12);
        check_net("preact-authors:8-16-24x1", opts_image(1, 9, 9, 3), 7);
    }
    mg_conv_set_blk8(1);
}

/* What the model hands out at its boundaries: states, layer outputs, a
 * forward from hidden state k (with a mix there) and the input gradient at
 * it, under backend b; every output appended to *out. */
typedef struct {
    float *v;
    size_t n, cap;
} vec;

static void vec_add(vec *o, const float *p, size_t n)
{
    if (o->n + n > o->cap) {
        o->cap = 2 * (o->n + n);
        o->v = realloc(o->v, sizeof(float) * o->cap);
        assert_non_null(o->v);
    }
    memcpy(o->v + o->n, p, sizeof(float) * n);
    o->n += n;
}

static vec boundary_outputs(const char *arch, mg_arch_opts o, mg_conv_backend b, int threads, int n)
{
    float *x, *dz;
    mg_model *m = build(arch, o, b, threads, n, &x, &dz);
    int C = mg_model_classes(m), L = mg_model_n_blocks(m);
    vec out = {0};
    /* eval mode: the states and every layer output */
    const float *z = mg_model_forward(m, 0, x, n, 0, NULL, NULL);
    float *z0 = malloc(sizeof(float) * (size_t)n * C);
    memcpy(z0, z, sizeof(float) * (size_t)n * C);
    vec_add(&out, z0, (size_t)n * C);
    /* every state pointer stays valid until the next forward */
    const float *s1 = mg_model_state(m, 1);
    size_t o1 = out.n;
    for (int k = 1; k < L; k++) vec_add(&out, mg_model_state(m, k), (size_t)n * mg_model_dim(m, k));
    assert_memory_equal(s1, out.v + o1, sizeof(float) * (size_t)n * mg_model_dim(m, 1));
    for (int i = 0; i < mg_model_n_layers(m); i++)
        vec_add(&out, mg_model_layer_output(m, i), (size_t)n * mg_model_layer(m, i).out);
    int perm[64];
    for (int i = 0; i < n; i++) perm[i] = (i * 5 + 1) % n;
    for (int k = 1; k < L; k++) {
        size_t dk = (size_t)n * mg_model_dim(m, k);
        float *h = malloc(sizeof(float) * dk), *dh = malloc(sizeof(float) * dk);
        /* (the train-mode passes below move the running statistics) */
        z = mg_model_forward(m, 0, x, n, 0, NULL, NULL);
        memcpy(z0, z, sizeof(float) * (size_t)n * C);
        memcpy(h, mg_model_state(m, k), sizeof(float) * dk);
        /* from the state the model gave: the same logits, bit for bit */
        z = mg_model_forward(m, k, h, n, 0, NULL, NULL);
        assert_memory_equal(z, z0, sizeof(float) * (size_t)n * C);
        assert_memory_equal(mg_model_state(m, k), h, sizeof(float) * dk);
        mg_model_backward_input(m, dz, dh);
        vec_add(&out, dh, dk);
        /* train mode, a mix at the start state: logits, input gradient */
        mg_mix mix = {k, 0.6f, perm};
        mg_rng fr;
        mg_rng_seed(&fr, 3);
        z = mg_model_forward(m, k, h, n, 1, &mix, &fr);
        vec_add(&out, z, (size_t)n * C);
        vec_add(&out, mg_model_state(m, k), dk); /* the mixed state */
        mg_model_zero_grad(m);
        mg_model_backward(m, dz, dh);
        vec_add(&out, dh, dk);
        vec_add(&out, mg_model_grads(m), mg_model_n_params(m));
        free(h), free(dh);
    }
    free(x), free(dz), free(z0);
    mg_model_free(m);
    return out;
}

static void test_twin_boundaries(void **s)
{
    (void)s;
    const char *arch = "preact:8-16-24x1";
    mg_arch_opts o = opts_image(3, 10, 10, 4);
    for (int t = 1; t <= 2; t++) {
        vec ref = boundary_outputs(arch, o, MG_CONV_BACKEND_IM2COL, t, 9);
        vec a = boundary_outputs(arch, o, MG_CONV_BACKEND_AUTO, t, 9);
        assert_int_equal(a.n, ref.n);
        assert_twin(a.v, ref.v, a.n, 2e-4, "boundaries");
        vec a2 = boundary_outputs(arch, o, MG_CONV_BACKEND_AUTO, t, 9);
        assert_memory_equal(a.v, a2.v, sizeof(float) * a.n);
        free(ref.v), free(a.v), free(a2.v);
    }
}

static void test_twin_cnn(void **s)
{
    (void)s;
    mg_arch_opts o = opts_image(2, 12, 12, 3);
    o.batchnorm = 1;
    check_net("cnn:c8-c16s2-c16-m2-f24", o, 10);
    o.batchnorm = 0; /* convs with a bias */
    check_net("cnn:c8-c12-g", o, 9);
}

/* Which convs go where: the planner's rule. */
static void test_rule(void **s)
{
    (void)s;
    mg_conv2d_shape sh;
    assert_int_equal(mg_conv2d_shape_init(&sh, 16, 8, 8, 16, 3, 3, 1, 1, 0), MG_OK);
    assert_true(mg_conv_dnnl_suits(&sh));
    assert_int_equal(mg_conv2d_shape_init(&sh, 16, 8, 8, 32, 3, 3, 2, 1, 0), MG_OK);
    assert_true(mg_conv_dnnl_suits(&sh));
    assert_int_equal(mg_conv2d_shape_init(&sh, 16, 8, 8, 32, 1, 1, 2, 0, 0), MG_OK);
    assert_false(mg_conv_dnnl_suits(&sh)); /* 1x1 projection */
    assert_int_equal(mg_conv2d_shape_init(&sh, 3, 8, 8, 16, 3, 3, 1, 1, 0), MG_OK);
    assert_false(mg_conv_dnnl_suits(&sh)); /* the stem */
    assert_int_equal(mg_conv2d_shape_init(&sh, 16, 8, 8, 16, 5, 5, 1, 2, 0), MG_OK);
    assert_false(mg_conv_dnnl_suits(&sh));
    /* no executor for a shape that does not suit */
    mg_conv_exec *e = NULL;
    mg_par par = {0};
    mg_conv_exec_reserve(&e, &sh, 8, &par);
    assert_null(e);
    /* nChw8c executors: errors, not a silent fallback */
    assert_int_equal(mg_conv_exec_reserve_blk8(&e, &sh, 0, &par), MG_ERR_CONFIG);
    assert_null(e);
    assert_non_null(strstr(mg_errmsg(), "batch size 0"));
    mg_conv2d_shape odd;
    assert_int_equal(mg_conv2d_shape_init(&odd, 12, 8, 8, 16, 3, 3, 1, 1, 0), MG_OK);
    assert_int_equal(mg_conv_exec_reserve_blk8(&e, &odd, 4, &par), MG_ERR_CONFIG);
    assert_null(e);
    assert_non_null(strstr(mg_errmsg(), "multiples of 8"));

    mg_arch_opts o = opts_image(3, 12, 10, 4);
    mg_model *m = NULL;
    char desc[256];
    for (int blk8 = 1; blk8 >= 0; blk8--) {
        mg_conv_set_blk8(blk8);
        assert_int_equal(mg_model_create("preact:8-16x1", &o, NULL, &m), MG_OK);
        int dnnl_layers = 0, blk8_layers = 0, preacts = 0;
        for (int i = 0; i < mg_model_n_layers(m); i++) {
            const mg_layer *l = mg_model_layer_record(m, i);
            if (l->kind == MG_LAYER_CONV2D) { /* the stem: ours, NCHW */
                assert_ptr_equal(l->ops, &mg_conv2d_ops);
                assert_false(l->blk_in || l->blk_out);
            }
            if (l->kind == MG_LAYER_PREACT) {
                dnnl_layers += l->ops == &mg_preact_dnnl_ops;
                blk8_layers += l->ops == &mg_preact_blk8_ops;
                if (l->ops == &mg_preact_blk8_ops) { /* NCHW in to the first block only */
                    assert_int_equal(l->blk_in, preacts > 0);
                    assert_true(l->blk_out);
                }
                preacts++;
            }
            if (l->kind == MG_LAYER_BN2D && blk8_layers) {
                assert_ptr_equal(l->ops, &mg_bn2d_blk8_ops);
                assert_true(l->blk_in && l->blk_out);
            }
            if (l->kind == MG_LAYER_GAP && blk8_layers) {
                assert_ptr_equal(l->ops, &mg_gap_blk8_ops);
                assert_true(l->blk_in && !l->blk_out);
            }
            if (l->kind == MG_LAYER_DENSE) assert_false(l->blk_in || l->blk_out);
        }
        /* nChw8c where oneDNN has its JIT kernels (AVX2), else NCHW + reorders */
        assert_int_equal(dnnl_layers + blk8_layers, 2);
        if (!blk8) assert_int_equal(blk8_layers, 0);
        assert_int_equal(mg_model_reserve(m, 4), MG_OK);
        mg_model_conv_backend(m, desc, sizeof desc);
        if (blk8_layers) assert_non_null(strstr(desc, "nChw8c from the first residual block"));
        if (blk8_layers) assert_non_null(strstr(desc, "for 5 of 6 convs"));
        if (dnnl_layers && strstr(desc, "onednn"))
            assert_non_null(strstr(desc, "for 4 of 6 convs"));
        mg_model_free(m);
    }
    mg_conv_set_blk8(1);
    /* channels not in multiples of 8: NCHW + reorders */
    assert_int_equal(mg_model_create("preact:12-16x1", &o, NULL, &m), MG_OK);
    for (int i = 0; i < mg_model_n_layers(m); i++) {
        const mg_layer *l = mg_model_layer_record(m, i);
        assert_true(l->ops != &mg_preact_blk8_ops && !l->blk_in && !l->blk_out);
    }
    mg_model_free(m);

    mg_set_conv_backend(MG_CONV_BACKEND_IM2COL);
    assert_int_equal(mg_get_conv_backend(), MG_CONV_BACKEND_IM2COL);
    assert_int_equal(mg_model_create("preact:8-16x1", &o, NULL, &m), MG_OK);
    mg_set_conv_backend(MG_CONV_BACKEND_AUTO);
    for (int i = 0; i < mg_model_n_layers(m); i++) {
        const mg_layer *l = mg_model_layer_record(m, i);
        assert_true(l->ops != &mg_preact_dnnl_ops && l->ops != &mg_conv2d_dnnl_ops);
    }
    assert_int_equal(mg_model_reserve(m, 4), MG_OK);
    mg_model_conv_backend(m, desc, sizeof desc);
    assert_string_equal(desc, "im2col for all 6 convs (oneDNN switched off)");
    mg_model_free(m);
}

/* The fallback: oneDNN ops whose executors are gone (as when oneDNN cannot
 * build a primitive) run today's kernels, bit for bit as the switch. */
static void test_fallback(void **s)
{
    (void)s;
    const char *arch = "cnn:c8-c16-g";
    mg_arch_opts o = opts_image(2, 10, 10, 3);
    int n = 6;
    for (int t = 1; t <= 2; t++) {
        pass_out ref = run_pass(arch, o, MG_CONV_BACKEND_IM2COL, t, n, NULL, 0);
        mg_rng r;
        mg_rng_seed(&r, 11);
        mg_model *m = NULL;
        assert_int_equal(mg_model_create(arch, &o, &r, &m), MG_OK);
        assert_int_equal(mg_model_set_threads(m, t), MG_OK);
        assert_int_equal(mg_model_reserve(m, n), MG_OK);
        int gone = 0;
        for (int i = 0; i < mg_model_n_layers(m); i++) {
            mg_layer *l = (mg_layer *)mg_model_layer_record(m, i);
            if (l->ops == &mg_conv2d_dnnl_ops) {
                l->ops->release(l);
                gone++;
            }
        }
        assert_int_equal(gone, 1);
        char desc[256];
        mg_model_conv_backend(m, desc, sizeof desc);
        assert_string_equal(desc, "im2col for all 2 convs (oneDNN unavailable: fallback)");
        /* the same pass as run_pass */
        int in = mg_model_dim(m, 0), C = mg_model_classes(m);
        float *x = malloc(sizeof(float) * (size_t)n * in);
        float *dz = malloc(sizeof(float) * (size_t)n * C);
        float *dx = malloc(sizeof(float) * (size_t)n * in);
        mg_rng dr;
        mg_rng_seed(&dr, 5);
        for (int i = 0; i < n * in; i++) x[i] = (float)mg_rng_normal(&dr);
        for (int i = 0; i < n * C; i++) dz[i] = (float)mg_rng_normal(&dr) / n;
        int perm[64];
        for (int i = 0; i < n; i++) perm[i] = (i * 7 + 3) % n;
        mg_mix mix = {1, 0.7f, perm};
        mg_rng fr;
        mg_rng_seed(&fr, 3);
        const float *z = mg_model_forward(m, 0, x, n, 1, &mix, &fr);
        assert_memory_equal(z, ref.z, sizeof(float) * ref.nz);
        mg_model_zero_grad(m);
        mg_model_backward(m, dz, dx);
        assert_memory_equal(dx, ref.dx, sizeof(float) * ref.nx);
        assert_memory_equal(mg_model_grads(m), ref.g, sizeof(float) * ref.np);
        free(x), free(dz), free(dx);
        mg_model_free(m);
        pass_free(&ref);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule),
        cmocka_unit_test(test_fallback),
        cmocka_unit_test(test_twin_preact),
        cmocka_unit_test(test_twin_cnn),
        cmocka_unit_test(test_twin_boundaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
