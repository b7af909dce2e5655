/* test_team.c - the worker team of the image layers (src/team.c, src/par.c,
 * mg_model_set_threads): every worker runs exactly once per run, shares
 * partition the items, a team gives the serial answer up to float rounding
 * (forward, parameter and input gradients, the input-only backward, running
 * statistics), the same
 * team size gives bit-identical results, and OpenBLAS's thread count is
 * restored after each pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

static void test_team_mlp_stays_serial(void **s)
{
    (void)s;
    mg_rng r;
    mg_rng_seed(&r, 1);
    mg_arch_opts o = mg_arch_opts_default();
    mg_model *m;
    assert_int_equal(mg_model_create("6-8-3", &o, &r, &m), MG_OK);
    assert_int_equal(mg_model_set_threads(m, 4), MG_OK);
    assert_int_equal(mg_model_threads(m), 1);
    mg_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_team_runs_every_worker_once),
        cmocka_unit_test(test_team_share),
        cmocka_unit_test(test_team_matches_serial),
        cmocka_unit_test(test_team_bit_identical),
        cmocka_unit_test(test_team_mlp_stays_serial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
