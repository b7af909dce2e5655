/* test_team.c - the model's worker team (src/team.c, src/par.c,
 * src/layer_dense.c, mg_model_set_threads): every worker runs exactly once
 * per run (also over many short back-to-back runs, the spinning wake-up, and
 * runs far apart, the sleeping one), shares partition the items, a team
 * gives the serial answer up to float rounding (forward, parameter and
 * input gradients, the input-only backward, running statistics), the same
 * team size gives bit-identical results, OpenBLAS's thread count is
 * restored after each pass; the dense layers split over the team (with the
 * activation fused into their epilogue) against a plain reference built on
 * mg_sgemm_ref, and bit for bit against the unfused passes at one worker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mixgeo.h"
#include "team.h"

typedef struct {
    int visits[MG_MAX_WORKERS];
    int nseen[MG_MAX_WORKERS];
} visit_ctx;

static void visit(void *ctx, int w, int n)
{
    visit_ctx *v = ctx;
    v->visits[w]++;
    v->nseen[w] = n;
}

static void test_team_runs_every_worker_once(void **s)
{
    (void)s;
    for (int n = 1; n <= 4; n++) {
        mg_team *p;
        assert_int_equal(mg_team_create(n, &p), MG_OK);
        assert_int_equal(mg_team_size(p), n);
        visit_ctx v;
        memset(&v, 0, sizeof v);
        for (int r = 0; r < 500; r++) mg_team_run(p, visit, &v);
        for (int w = 0; w < MG_MAX_WORKERS; w++) {
            assert_int_equal(v.visits[w], w < n ? 500 : 0);
            if (w < n) assert_int_equal(v.nseen[w], n);
        }
        mg_team_free(p);
    }
    mg_team *p;
    assert_int_equal(mg_team_create(MG_MAX_WORKERS + 1, &p), MG_ERR_CONFIG);
    assert_null(p);
    mg_team_free(NULL);
}

typedef struct {
    atomic_int visits[MG_MAX_WORKERS];
    int data[64]; /* written by worker w at [w], read by the caller after the run */
    int round;
} spin_ctx;

static void spin_visit(void *ctx, int w, int n)
{
    spin_ctx *v = ctx;
    (void)n;
    atomic_fetch_add_explicit(&v->visits[w], 1, memory_order_relaxed);
    v->data[w] = v->round; /* plain store: the run's end must publish it */
}

/* Many short runs back to back (workers still spinning), then runs with
 * pauses longer than the spin (workers asleep on the condvar): every worker
 * runs once per run, and what it wrote is visible when mg_team_run returns. */
static void test_team_spin_many_short_runs(void **s)
{
    (void)s;
    for (int n = 2; n <= 4; n++) {
        mg_team *p;
        assert_int_equal(mg_team_create(n, &p), MG_OK);
        spin_ctx v;
        memset(&v, 0, sizeof v);
        enum { FAST = 100000, SLOW = 20 };
        for (int r = 0; r < FAST + SLOW; r++) {
            v.round = r + 1;
            if (r >= FAST) {
                struct timespec ts = {0, 300000}; /* 0.3 ms > the spin */
                nanosleep(&ts, NULL);
            }
            mg_team_run(p, spin_visit, &v);
            for (int w = 0; w < n; w++) assert_int_equal(v.data[w], r + 1);
        }
        for (int w = 0; w < MG_MAX_WORKERS; w++)
            assert_int_equal(atomic_load(&v.visits[w]), w < n ? FAST + SLOW : 0);
        mg_team_free(p); /* joins workers that may be spinning or asleep */
    }
}

static void test_team_share(void **s)
{
    (void)s;
    for (int count = 0; count < 40; count++) {
        for (int n = 1; n <= 5; n++) {
            int next = 0;
            for (int w = 0; w < n; w++) {
                int lo, hi;
                mg_team_share(count, w, n, &lo, &hi);
                assert_int_equal(lo, next);
                assert_true(hi - lo == count / n || hi - lo == count / n + 1);
                next = hi;
            }
            assert_int_equal(next, count);
        }
    }
}

/* Results of one training-mode forward (mixing after stage 1) and backward. */
typedef struct {
    float *z, *g, *dx, *dxi, *buf; /* dxi: mg_model_backward_input's */
    size_t nz, ng, nx, nb;
} pass_out;

static mg_arch_opts opts_image(void)
{
    mg_arch_opts o = mg_arch_opts_default();
    o.in_c = 2, o.in_h = 12, o.in_w = 12, o.classes = 5;
    return o;
}

static pass_out run_pass(int team, int blas_threads)
{
    enum { N = 13 }; /* not a multiple of any team size: uneven shares */
    mg_set_threads(blas_threads);
    mg_rng r;
    mg_rng_seed(&r, 5);
    mg_arch_opts o = opts_image();
    mg_model *m;
    assert_int_equal(mg_model_create("preact:8-16x2", &o, &r, &m), MG_OK);
    assert_int_equal(mg_model_set_threads(m, team), MG_OK); /* before reserve */
    assert_int_equal(mg_model_reserve(m, N), MG_OK);
    assert_int_equal(mg_model_threads(m), team);
    int D = mg_model_dim(m, 0), C = mg_model_classes(m);
    float *x = malloc(sizeof(float) * N * D), *dz = malloc(sizeof(float) * N * C);
    for (int i = 0; i < N * D; i++) x[i] = (float)mg_rng_normal(&r);
    for (int i = 0; i < N * C; i++) dz[i] = (float)mg_rng_normal(&r);
    int perm[N];
    for (int i = 0; i < N; i++) perm[i] = (i * 5 + 3) % N;
    mg_mix mix = {1, 0.3f, perm};
    pass_out p;
    p.nz = (size_t)N * C, p.nx = (size_t)N * D;
    p.ng = mg_model_n_params(m), p.nb = mg_model_n_buffers(m);
    p.z = malloc(sizeof(float) * p.nz), p.dx = malloc(sizeof(float) * p.nx);
    p.g = malloc(sizeof(float) * p.ng), p.buf = malloc(sizeof(float) * p.nb);
    p.dxi = malloc(sizeof(float) * p.nx);
    /* two steps: the second accumulates onto the first's gradients */
    mg_model_zero_grad(m);
    for (int step = 0; step < 2; step++) {
        const float *z = mg_model_forward(m, 0, x, N, 1, &mix, &r);
        memcpy(p.z, z, sizeof(float) * p.nz);
        mg_model_backward(m, dz, p.dx);
        assert_int_equal(mg_get_threads(), blas_threads); /* restored after the pass */
    }
    memcpy(p.g, mg_model_grads(m), sizeof(float) * p.ng);
    mg_model_backward_input(m, dz, p.dxi); /* the same dx, no parameter gradients */
    memcpy(p.buf, mg_model_buffers(m), sizeof(float) * p.nb);
    free(x);
    free(dz);
    mg_model_free(m);
    return p;
}

static void pass_free(pass_out *p)
{
    free(p->z), free(p->g), free(p->dx), free(p->dxi), free(p->buf);
}

/* max |a - b| relative to max |a|; also asserts a is not all zeros */
static double rel_diff(const float *a, const float *b, size_t n)
{
    double amax = 0.0, dmax = 0.0;
    for (size_t i = 0; i < n; i++) {
        amax = fmax(amax, fabs(a[i]));
        dmax = fmax(dmax, fabs((double)a[i] - b[i]));
    }
    assert_true(amax > 1e-4);
    return dmax / amax;
}

static void test_team_matches_serial(void **s)
{
    (void)s;
    pass_out ref = run_pass(1, 1);
    for (int team = 2; team <= 3; team++) {
        pass_out t = run_pass(team, team);
        assert_true(rel_diff(ref.z, t.z, ref.nz) < 1e-5);
        assert_true(rel_diff(ref.g, t.g, ref.ng) < 1e-5);
        assert_true(rel_diff(ref.dx, t.dx, ref.nx) < 1e-5);
        assert_true(rel_diff(ref.dx, t.dxi, ref.nx) < 1e-5);
        assert_true(rel_diff(ref.buf, t.buf, ref.nb) < 1e-5);
        pass_free(&t);
    }
    pass_free(&ref);
}

static void test_team_bit_identical(void **s)
{
    (void)s;
    pass_out a = run_pass(2, 2), b = run_pass(2, 2);
    assert_memory_equal(a.z, b.z, sizeof(float) * a.nz);
    assert_memory_equal(a.g, b.g, sizeof(float) * a.ng);
    assert_memory_equal(a.dx, b.dx, sizeof(float) * a.nx);
    assert_memory_equal(a.dx, a.dxi, sizeof(float) * a.nx);
    assert_memory_equal(a.buf, b.buf, sizeof(float) * a.nb);
    pass_free(&a);
    pass_free(&b);
    mg_set_threads(1);
}

static void test_team_mlp_gets_team(void **s)
{
    (void)s;
    mg_rng r;
    mg_rng_seed(&r, 1);
    mg_arch_opts o = mg_arch_opts_default();
    mg_model *m;
    assert_int_equal(mg_model_create("6-8-3", &o, &r, &m), MG_OK);
    assert_int_equal(mg_model_set_threads(m, 4), MG_OK);
    assert_int_equal(mg_model_threads(m), 4);
    assert_int_equal(mg_model_set_threads(m, 1), MG_OK);
    assert_int_equal(mg_model_threads(m), 1);
    mg_model_free(m);
}

/* ---- dense layers on the team, activation fused: against references */

typedef void (*gemm_fn)(int ta, int tb, int m, int n, int k, float alpha, const float *A,
                        int lda, const float *B, int ldb, float beta, float *C, int ldc);

static float act_f(mg_act a, float x)
{
    switch (a) {
    case MG_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case MG_ACT_LRELU: return x > 0.0f ? x : 0.01f * x;
    case MG_ACT_TANH: return tanhf(x);
    default: return x;
    }
}

/* f'(.) dy from the pre-activation x and the activation y */
static float act_df(mg_act a, float x, float y, float dy)
{
    switch (a) {
    case MG_ACT_RELU: return x > 0.0f ? dy : 0.0f;
    case MG_ACT_LRELU: return x > 0.0f ? dy : 0.01f * dy;
    case MG_ACT_TANH: return dy * (1.0f - y * y);
    default: return dy;
    }
}

enum { DN = 13, DL = 3 };
static const int DW[DL + 1] = {37, 50, 45, 7}; /* no width a multiple of 16 */

/* The unfused MLP passes with the given GEMM, the bias preloaded (beta = 1)
 * as the dense layer does: pre-activations pre[l] (DN x DW[l+1]), outputs
 * h[l] (h[0] = x), the mix at boundary 1; gradients of W, b of every layer
 * into g (the model's arena layout) and dx. */
static void mlp_reference(gemm_fn gemm, mg_act act, const mg_model *m, const float *x,
                          const float *dz, const int *perm, float lam, float *g, float *dx,
                          float **pre, float **h)
{
    float *hm = malloc(sizeof(float) * DN * DW[1]); /* mixed state after block 1 */
    float *dy = malloc(sizeof(float) * DN * 64), *da = malloc(sizeof(float) * DN * 64);
    float *dmix = malloc(sizeof(float) * DN * 64);
    memcpy(h[0], x, sizeof(float) * DN * DW[0]);
    for (int l = 0; l < DL; l++) {
        mg_layer_info li = mg_model_layer(m, 2 * l);
        int in = DW[l], out = DW[l + 1];
        const float *xin = l == 1 ? hm : h[l];
        for (int i = 0; i < DN; i++) memcpy(pre[l] + i * out, li.b, sizeof(float) * out);
        gemm(0, 1, DN, out, in, 1.0f, xin, in, li.W, in, 1.0f, pre[l], out);
        for (int i = 0; i < DN * out; i++)
            h[l + 1][i] = l + 1 < DL ? act_f(act, pre[l][i]) : pre[l][i];
        if (l == 0) mg_mix_forward(h[1], hm, DN, DW[1], lam, perm);
    }
    /* backward: da = d(output of layer l) */
    memcpy(da, dz, sizeof(float) * DN * DW[DL]);
    float *gl = g;
    size_t offs[DL];
    for (int l = 0; l < DL; l++) offs[l] = l ? offs[l - 1] + (size_t)DW[l - 1] * DW[l] + DW[l] : 0;
    for (int l = DL - 1; l >= 0; l--) {
        mg_layer_info li = mg_model_layer(m, 2 * l);
        int in = DW[l], out = DW[l + 1];
        const float *xin = l == 1 ? hm : h[l];
        for (int i = 0; i < DN * out; i++)
            dy[i] = l + 1 < DL ? act_df(act, pre[l][i], h[l + 1][i], da[i]) : da[i];
        gl = g + offs[l];
        gemm(1, 0, out, in, DN, 1.0f, dy, out, xin, in, 0.0f, gl, in);
        float *db = gl + (size_t)out * in;
        memset(db, 0, sizeof(float) * out);
        for (int i = 0; i < DN; i++)
            for (int j = 0; j < out; j++) db[j] += dy[i * out + j];
        float *dst = l == 0 ? dx : (l == 1 ? dmix : da);
        gemm(0, 0, DN, in, out, 1.0f, dy, out, li.W, in, 0.0f, dst, in);
        if (l == 1) { /* the mix adjoint */
            memset(da, 0, sizeof(float) * DN * in);
            mg_mix_backward(dmix, da, DN, in, lam, perm);
        }
    }
    free(hm), free(dy), free(da), free(dmix);
}

typedef struct {
    float *z, *g, *dx, *pre[DL], *h[DL + 1];
    size_t ng;
} mlp_out;

static mlp_out mlp_alloc(size_t ng)
{
    mlp_out o;
    o.ng = ng;
    o.z = malloc(sizeof(float) * DN * DW[DL]);
    o.g = calloc(ng, sizeof(float));
    o.dx = malloc(sizeof(float) * DN * DW[0]);
    for (int l = 0; l <= DL; l++) o.h[l] = malloc(sizeof(float) * DN * DW[l]);
    for (int l = 0; l < DL; l++) o.pre[l] = malloc(sizeof(float) * DN * DW[l + 1]);
    return o;
}

static void mlp_free(mlp_out *o)
{
    free(o->z), free(o->g), free(o->dx);
    for (int l = 0; l <= DL; l++) free(o->h[l]);
    for (int l = 0; l < DL; l++) free(o->pre[l]);
}

/* The model's forward (train mode, mix after block 1) and backward at a
 * team size; the dense layers' outputs and the activations'. */
static mlp_out mlp_model_pass(mg_model *m, int team, const float *x, const float *dz,
                              const int *perm, float lam)
{
    assert_int_equal(mg_model_set_threads(m, team), MG_OK);
    assert_int_equal(mg_model_threads(m), team);
    mlp_out o = mlp_alloc(mg_model_n_params(m));
    mg_rng r;
    mg_rng_seed(&r, 3);
    mg_mix mix = {1, lam, perm};
    mg_model_zero_grad(m);
    const float *z = mg_model_forward(m, 0, x, DN, 1, &mix, &r);
    memcpy(o.z, z, sizeof(float) * DN * DW[DL]);
    for (int l = 0; l < DL; l++) {
        memcpy(o.pre[l], mg_model_layer_output(m, 2 * l), sizeof(float) * DN * DW[l + 1]);
        if (l + 1 < DL)
            memcpy(o.h[l + 1], mg_model_layer_output(m, 2 * l + 1), sizeof(float) * DN * DW[l + 1]);
    }
    mg_model_backward(m, dz, o.dx);
    memcpy(o.g, mg_model_grads(m), sizeof(float) * o.ng);
    return o;
}

static void test_team_dense_fused_vs_reference(void **s)
{
    (void)s;
    const mg_act acts[3] = {MG_ACT_RELU, MG_ACT_LRELU, MG_ACT_TANH};
    for (int ai = 0; ai < 3; ai++) {
        mg_rng r;
        mg_rng_seed(&r, 11 + ai);
        mg_arch_opts o = mg_arch_opts_default();
        o.act = acts[ai];
        mg_model *m;
        assert_int_equal(mg_model_create("37-50-45-7", &o, &r, &m), MG_OK);
        assert_int_equal(mg_model_n_layers(m), 5);
        assert_int_equal(mg_model_reserve(m, DN), MG_OK);
        float *params = mg_model_params(m);
        for (int l = 0; l < DL; l++) { /* non-zero biases: the preload matters */
            mg_layer_info li = mg_model_layer(m, 2 * l);
            for (int j = 0; j < DW[l + 1]; j++)
                params[(li.b - params) + j] = 0.1f * (float)mg_rng_normal(&r);
        }
        float x[DN * 37], dz[DN * 7];
        for (int i = 0; i < DN * 37; i++) x[i] = (float)mg_rng_normal(&r);
        for (int i = 0; i < DN * 7; i++) dz[i] = (float)mg_rng_normal(&r);
        int perm[DN];
        for (int i = 0; i < DN; i++) perm[i] = (i * 5 + 3) % DN;
        float lam = 0.35f;
        size_t ng = mg_model_n_params(m);

        /* plain reference (double accumulation) and the unfused passes with
         * the same BLAS calls as the layer makes at one worker */
        mlp_out ref = mlp_alloc(ng), unf = mlp_alloc(ng);
        mlp_reference(mg_sgemm_ref, acts[ai], m, x, dz, perm, lam, ref.g, ref.dx, ref.pre, ref.h);
        mg_set_threads(1);
        mlp_reference(mg_sgemm, acts[ai], m, x, dz, perm, lam, unf.g, unf.dx, unf.pre, unf.h);
        memcpy(ref.z, ref.pre[DL - 1], sizeof(float) * DN * 7);
        memcpy(unf.z, unf.pre[DL - 1], sizeof(float) * DN * 7);

        for (int team = 1; team <= 3; team++) {
            mlp_out a = mlp_model_pass(m, team, x, dz, perm, lam);
            assert_true(rel_diff(ref.z, a.z, DN * 7) < 1e-5);
            for (int l = 0; l < DL; l++) {
                assert_true(rel_diff(ref.pre[l], a.pre[l], (size_t)DN * DW[l + 1]) < 1e-5);
                if (l + 1 < DL)
                    assert_true(rel_diff(ref.h[l + 1], a.h[l + 1], (size_t)DN * DW[l + 1]) < 1e-5);
            }
            assert_true(rel_diff(ref.g, a.g, ng) < 1e-5);
            assert_true(rel_diff(ref.dx, a.dx, DN * 37) < 1e-5);
            if (team == 1) { /* fused == unfused, bit for bit */
                assert_memory_equal(unf.z, a.z, sizeof(float) * DN * 7);
                for (int l = 0; l + 1 < DL; l++) {
                    assert_memory_equal(unf.pre[l], a.pre[l], sizeof(float) * DN * DW[l + 1]);
                    assert_memory_equal(unf.h[l + 1], a.h[l + 1], sizeof(float) * DN * DW[l + 1]);
                }
                assert_memory_equal(unf.g, a.g, sizeof(float) * ng);
                assert_memory_equal(unf.dx, a.dx, sizeof(float) * DN * 37);
            } else { /* the same team size again: the same bits */
                mlp_out b = mlp_model_pass(m, team, x, dz, perm, lam);
                assert_memory_equal(a.z, b.z, sizeof(float) * DN * 7);
                assert_memory_equal(a.g, b.g, sizeof(float) * ng);
                assert_memory_equal(a.dx, b.dx, sizeof(float) * DN * 37);
                mlp_free(&b);
            }
            mlp_free(&a);
        }
        mlp_free(&ref);
        mlp_free(&unf);
        mg_model_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_team_runs_every_worker_once),
        cmocka_unit_test(test_team_share),
        cmocka_unit_test(test_team_matches_serial),
        cmocka_unit_test(test_team_bit_identical),
        cmocka_unit_test(test_team_mlp_gets_team),
        cmocka_unit_test(test_team_spin_many_short_runs),
        cmocka_unit_test(test_team_dense_fused_vs_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
