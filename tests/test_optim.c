/* test_optim.c - SGD / momentum / Nesterov / weight decay / Adam against
 * three-step trajectories computed by hand from PyTorch's update rules, the
 * optimiser state's life cycle, and learning-rate schedule values. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mixgeo.h"
#include "team.h"

#include <stdlib.h>

static void expect_close(const char *what, double got, double want, double rel, double abs_floor)
{
    if (!(fabs(got - want) <= rel * fabs(want) + abs_floor)) {
        print_error("%s: got %.12g, want %.12g\n", what, got, want);
        fail();
    }
}

/* Three parameters; the gradient of step s is G[s] (independent of p, so the
 * trajectory is easy to follow by hand), the learning rate LR[s]. */
enum { NP = 3, STEPS = 3 };
static const float P0[NP] = {1.0f, -2.0f, 0.5f};
static const float G[STEPS][NP] = {{0.5f, -1.0f, 2.0f}, {0.1f, 0.3f, -0.4f}, {-0.2f, 0.0f, 1.0f}};

static mg_optim_config base_config(mg_optim_kind kind)
{
    mg_optim_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.lr = 0.1;
    c.beta1 = 0.9;
    c.beta2 = 0.999;
    c.eps = 1e-8;
    c.sched = MG_SCHED_CONSTANT;
    c.gamma = 0.1;
    c.epochs = 10;
    return c;
}

static void run_trajectory(const char *name, const mg_optim_config *c, const double *lrs,
                           const double want[STEPS][NP])
{
    mg_optim_state s;
    assert_int_equal(mg_optim_init(&s, c, NP), MG_OK);
    float p[NP];
    memcpy(p, P0, sizeof p);
    for (int t = 0; t < STEPS; t++) {
        mg_optim_step(&s, c, lrs[t], p, G[t]);
        assert_int_equal(s.t, t + 1);
        for (int i = 0; i < NP; i++) {
            char what[96];
            snprintf(what, sizeof what, "%s step %d param %d", name, t + 1, i);
            expect_close(what, p[i], want[t][i], 1e-6, 1e-7);
        }
    }
    mg_optim_free(&s);
}

static const double SGD_LR[STEPS] = {0.1, 0.05, 0.1};

static void test_sgd_plain(void **state)
{
    (void)state;
    /* p -= lr g: 1 - 0.1*0.5 = 0.95, then 0.95 - 0.05*0.1 = 0.945, ... */
    static const double want[STEPS][NP] = {
        {0.95, -1.9, 0.3}, {0.945, -1.915, 0.32}, {0.965, -1.915, 0.22}};
    mg_optim_config c = base_config(MG_OPT_SGD);
    run_trajectory("sgd", &c, SGD_LR, want);
    /* Nesterov without momentum is plain SGD. */
    c.nesterov = 1;
    run_trajectory("sgd nesterov mu=0", &c, SGD_LR, want);
}

static void test_sgd_momentum(void **state)
{
    (void)state;
    /* v1 = g1 (PyTorch's first buffer), v2 = 0.9 v1 + g2, ...
     * p1 = 1 - 0.1*0.5 = 0.95; v2 = 0.45 + 0.1 = 0.55, p2 = 0.95 - 0.05*0.55 = 0.9225. */
    static const double want[STEPS][NP] = {
        {0.95, -1.9, 0.3}, {0.9225, -1.87, 0.23}, {0.893, -1.816, 0.004}};
    mg_optim_config c = base_config(MG_OPT_SGD);
    c.momentum = 0.9;
    run_trajectory("momentum", &c, SGD_LR, want);
}

static void test_sgd_nesterov(void **state)
{
    (void)state;
    /* p -= lr (g + mu v): p1 = 1 - 0.1 (0.5 + 0.9*0.5) = 0.905. */
    static const double want[STEPS][NP] = {
        {0.905, -1.81, 0.12}, {0.87525, -1.798, 0.077}, {0.8687, -1.7494, -0.2264}};
    mg_optim_config c = base_config(MG_OPT_SGD);
    c.momentum = 0.9;
    c.nesterov = 1;
    run_trajectory("nesterov", &c, SGD_LR, want);
}

static void test_sgd_weight_decay(void **state)
{
    (void)state;
    /* g = grad + wd p with the current p: step 1, g = 0.5 + 0.01*1 = 0.51,
     * p1 = 1 - 0.1 * 1.9 * 0.51 = 0.9031. */
    static const double nesterov_wd[STEPS][NP] = {
        {0.9031, -1.8062, 0.11905},
        {0.872087055, -1.79167411, 0.0757344025},
        {0.862419578596, -1.73674890719, -0.228270423365}};
    mg_optim_config c = base_config(MG_OPT_SGD);
    c.momentum = 0.9;
    c.nesterov = 1;
    c.weight_decay = 0.01;
    run_trajectory("nesterov + wd", &c, SGD_LR, nesterov_wd);
    /* Heavy-ball momentum 0.5 with wd 0.1: g1 = 0.6, p1 = 1 - 0.06 = 0.94. */
    static const double momentum_wd[STEPS][NP] = {
        {0.94, -1.88, 0.295}, {0.9153, -1.8556, 0.262275}, {0.901447, -1.812644, 0.12692725}};
    c.momentum = 0.5;
    c.nesterov = 0;
    c.weight_decay = 0.1;
    run_trajectory("momentum + wd", &c, SGD_LR, momentum_wd);
}

static void test_adam(void **state)
{
    (void)state;
    /* Step 1: m = 0.05, v = 0.00025, m^ = 0.5, v^ = 0.25, so the step is
     * lr * 0.5 / (0.5 + 1e-8) ~ lr (Adam's first step is ~lr sign(g)). */
    static const double lrs[STEPS] = {0.01, 0.01, 0.02};
    static const double want[STEPS][NP] = {
        {0.9900000002, -1.9900000001, 0.49000000005},
        {0.981969590638, -1.98572151424, 0.484889739314},
        {0.975082515729, -1.97910695033, 0.472168446985}};
    mg_optim_config c = base_config(MG_OPT_ADAM);
    run_trajectory("adam", &c, lrs, want);
    /* L2 weight decay added to the gradient (torch.optim.Adam, not AdamW). */
    static const double want_wd[STEPS][NP] = {
        {0.990000000167, -1.99000000008, 0.490000000049},
        {0.981296786265, -1.98394746787, 0.484652063975},
        {0.9700478462, -1.97263605146, 0.471514917066}};
    c.weight_decay = 0.1;
    run_trajectory("adam + wd", &c, lrs, want_wd);
    /* A large eps shows where it goes: after the square root and the bias
     * correction, m^ / (sqrt(v^) + eps); step 1: 0.01 * 0.5 / (0.5 + 0.1). */
    static const double want_eps[STEPS][NP] = {
        {0.991666666667, -1.99090909091, 0.490476190476},
        {0.985380209181, -1.98714111119, 0.485697358607},
        {0.980148215327, -1.9814681292, 0.47387757816}};
    c.weight_decay = 0.0;
    c.eps = 0.1;
    run_trajectory("adam eps 0.1", &c, lrs, want_eps);
}

static void test_state_life_cycle(void **state)
{
    (void)state;
    mg_optim_state s;
    mg_optim_config c = base_config(MG_OPT_SGD);
    assert_int_equal(mg_optim_init(&s, &c, 5), MG_OK);
    assert_non_null(s.m);
    assert_null(s.v);
    assert_true(s.n == 5 && s.t == 0);
    for (int i = 0; i < 5; i++) assert_true(s.m[i] == 0.0f);
    /* Plain SGD (mu = 0) keeps no velocity. */
    float p[5] = {1, 2, 3, 4, 5}, g[5] = {1, 1, 1, 1, 1};
    mg_optim_step(&s, &c, 0.5, p, g);
    for (int i = 0; i < 5; i++) assert_true(s.m[i] == 0.0f && p[i] == (float)i + 0.5f);
    mg_optim_free(&s);
    assert_null(s.m);
    assert_true(s.n == 0);
    mg_optim_free(&s); /* twice is harmless */

    c = base_config(MG_OPT_ADAM);
    assert_int_equal(mg_optim_init(&s, &c, 4), MG_OK);
    assert_non_null(s.m);
    assert_non_null(s.v);
    for (int i = 0; i < 4; i++) assert_true(s.m[i] == 0.0f && s.v[i] == 0.0f);
    mg_optim_free(&s);

    /* Zero parameters is not an error. */
    assert_int_equal(mg_optim_init(&s, &c, 0), MG_OK);
    mg_optim_step(&s, &c, 0.1, NULL, NULL);
    assert_true(s.t == 1);
    mg_optim_free(&s);

    /* An unknown kind is a configuration error with a message. */
    c.kind = (mg_optim_kind)7;
    assert_int_equal(mg_optim_init(&s, &c, 4), MG_ERR_CONFIG);
    assert_true(strlen(mg_errmsg()) > 0);
    assert_null(s.m);
}

static void test_schedule_constant_and_step(void **state)
{
    (void)state;
    mg_optim_config c = base_config(MG_OPT_SGD);
    assert_true(mg_lr_at(&c, 0, 0, 10) == 0.1);
    assert_true(mg_lr_at(&c, 7, 3, 10) == 0.1);
    /* MultiStepLR, milestones 2 and 4 (0-based epochs where the decay starts). */
    c.sched = MG_SCHED_STEP;
    c.milestones[0] = 2;
    c.milestones[1] = 4;
    c.n_milestones = 2;
    const struct {
        int epoch, step;
        double want;
    } pts[] = {{0, 0, 0.1},  {0, 9, 0.1},  {1, 9, 0.1},    {2, 0, 0.01},
               {3, 9, 0.01}, {4, 0, 1e-3}, {50, 3, 1e-3}};
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++)
        expect_close("step schedule", mg_lr_at(&c, pts[i].epoch, pts[i].step, 10), pts[i].want,
                     1e-12, 0);
    /* The order of the milestones does not matter. */
    c.milestones[0] = 4;
    c.milestones[1] = 2;
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++)
        expect_close("step schedule (unsorted)", mg_lr_at(&c, pts[i].epoch, pts[i].step, 10),
                     pts[i].want, 1e-12, 0);
}

static void test_schedule_warmup(void **state)
{
    (void)state;
    /* Linear from lr/10 to lr over 2 epochs, then the step schedule. */
    mg_optim_config c = base_config(MG_OPT_SGD);
    c.sched = MG_SCHED_STEP;
    c.milestones[0] = 3;
    c.n_milestones = 1;
    c.warmup_epochs = 2;
    expect_close("warm-up e = 0", mg_lr_at(&c, 0, 0, 10), 0.01, 1e-12, 0);
    expect_close("warm-up e = 0.5", mg_lr_at(&c, 0, 5, 10), 0.01 + 0.09 * 0.25, 1e-12, 0);
    expect_close("warm-up e = 1", mg_lr_at(&c, 1, 0, 10), 0.055, 1e-12, 0);
    expect_close("warm-up e = 1.5", mg_lr_at(&c, 1, 5, 10), 0.01 + 0.09 * 0.75, 1e-12, 0);
    expect_close("after warm-up", mg_lr_at(&c, 2, 0, 10), 0.1, 1e-12, 0);
    expect_close("after warm-up and milestone", mg_lr_at(&c, 3, 0, 10), 0.01, 1e-12, 0);
    /* Without steps_per_epoch the position is the epoch itself. */
    expect_close("warm-up, whole epochs", mg_lr_at(&c, 1, 0, 0), 0.055, 1e-12, 0);
}

static void test_schedule_cosine(void **state)
{
    (void)state;
    mg_optim_config c = base_config(MG_OPT_SGD);
    c.sched = MG_SCHED_COSINE;
    c.epochs = 10;
    expect_close("cosine e = 0", mg_lr_at(&c, 0, 0, 10), 0.1, 1e-12, 0);
    expect_close("cosine e = 2.5", mg_lr_at(&c, 2, 5, 10), 0.05 * (1.0 + sqrt(0.5)), 1e-12, 0);
    expect_close("cosine e = 5", mg_lr_at(&c, 5, 0, 10), 0.05, 1e-12, 0);
    expect_close("cosine e = 9.5", mg_lr_at(&c, 9, 1, 2), 0.05 * (1.0 + cos(0.95 * M_PI)), 1e-9,
                 0);
    expect_close("cosine e = 10", mg_lr_at(&c, 10, 0, 10), 0.0, 0, 1e-15);
    expect_close("cosine past the end", mg_lr_at(&c, 12, 0, 10), 0.0, 0, 1e-15);
    /* With a 2-epoch warm-up the cosine spans epochs 2..10. */
    c.warmup_epochs = 2;
    expect_close("cosine warm-up e = 1", mg_lr_at(&c, 1, 0, 10), 0.055, 1e-12, 0);
    expect_close("cosine e = 2", mg_lr_at(&c, 2, 0, 10), 0.1, 1e-12, 0);
    expect_close("cosine e = 6", mg_lr_at(&c, 6, 0, 10), 0.05, 1e-12, 0);
}


/* The optimizer step split over a worker team (mg_optim_step_team, used by
 * the trainer) is the serial mg_optim_step bit for bit: SGD plain,
 * momentum, Nesterov (first step and later ones) and Adam, over a parameter
 * count that is no multiple of the 16-float shares, for teams of 2 and 3. */
static void test_team_step_bit_identical(void **state)
{
    (void)state;
    enum { N = 100003, K = 4 };
    mg_optim_config cfgs[4] = {base_config(MG_OPT_SGD), base_config(MG_OPT_SGD),
                               base_config(MG_OPT_SGD), base_config(MG_OPT_ADAM)};
    cfgs[0].momentum = 0.0, cfgs[0].nesterov = 0;
    cfgs[1].momentum = 0.9, cfgs[1].nesterov = 0, cfgs[1].weight_decay = 1e-4;
    cfgs[2].momentum = 0.9, cfgs[2].nesterov = 1, cfgs[2].weight_decay = 5e-4;
    cfgs[3].weight_decay = 1e-4;
    float *p0 = malloc(sizeof(float) * N), *p1 = malloc(sizeof(float) * N);
    float *g = malloc(sizeof(float) * N);
    assert_non_null(p0), assert_non_null(p1), assert_non_null(g);
    mg_rng r;
    mg_rng_seed(&r, 7);
    for (int team_n = 2; team_n <= 3; team_n++) {
        mg_team *team;
        assert_int_equal(mg_team_create(team_n, &team), MG_OK);
        for (int ci = 0; ci < 4; ci++) {
            mg_optim_state a, b;
            assert_int_equal(mg_optim_init(&a, &cfgs[ci], N), MG_OK);
            assert_int_equal(mg_optim_init(&b, &cfgs[ci], N), MG_OK);
            for (int i = 0; i < N; i++) p0[i] = p1[i] = (float)mg_rng_normal(&r);
            float first = p0[N - 1];
            for (int k = 0; k < K; k++) {
                for (int i = 0; i < N; i++) g[i] = (float)mg_rng_normal(&r);
                double lr = 0.05 * (k + 1);
                mg_optim_step(&a, &cfgs[ci], lr, p0, g);
                mg_optim_step_team(&b, &cfgs[ci], lr, p1, g, team);
                assert_int_equal(a.t, b.t);
                assert_memory_equal(p0, p1, sizeof(float) * N);
                assert_memory_equal(a.m, b.m, sizeof(float) * N);
                if (a.v) assert_memory_equal(a.v, b.v, sizeof(float) * N);
            }
            /* it moved the parameters (not a vacuous comparison) */
            assert_true(p0[N - 1] != first);
            mg_optim_free(&a);
            mg_optim_free(&b);
        }
        mg_team_free(team);
    }
    free(p0), free(p1), free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_plain),
        cmocka_unit_test(test_sgd_momentum),
        cmocka_unit_test(test_sgd_nesterov),
        cmocka_unit_test(test_sgd_weight_decay),
        cmocka_unit_test(test_adam),
        cmocka_unit_test(test_state_life_cycle),
        cmocka_unit_test(test_schedule_constant_and_step),
        cmocka_unit_test(test_schedule_warmup),
        cmocka_unit_test(test_schedule_cosine),
        cmocka_unit_test(test_team_step_bit_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
