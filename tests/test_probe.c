/* test_probe.c - model-driven analyses (analysis/probe.c) on hand-built
 * models whose decision boundaries are known in closed form. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "probe.h"

static void assert_close(double a, double b, double tol, int line)
{
    double scale = fabs(b) > 1.0 ? fabs(b) : 1.0;
    if (!(fabs(a - b) <= tol * scale)) fail_msg("line %d: got %.17g, expected %.17g", line, a, b);
}
#define CLOSE(a, b, tol) assert_close((a), (b), (tol), __LINE__)

/* Overwrite the dense layer of `block` with W (out x in) and b (out). */
static void set_dense(mg_model *m, int block, const float *W, const float *b)
{
    int li = mg_model_block_first_layer(m, block);
    mg_layer_info info = mg_model_layer(m, li);
    assert_int_equal(info.kind, MG_LAYER_DENSE);
    float *params = mg_model_params(m);
    memcpy(params + (info.W - params), W, sizeof(float) * info.out * info.in);
    memcpy(params + (info.b - params), b, sizeof(float) * info.out);
}

static mg_model *make_model(const char *arch, int max_batch)
{
    mg_rng rng;
    mg_rng_seed(&rng, 1);
    mg_model *m = NULL;
    assert_int_equal(mg_model_create(arch, NULL, &rng, &m), MG_OK);
    assert_int_equal(mg_model_reserve(m, max_batch), MG_OK);
    return m;
}

/* The linear two-class model: z0 - z1 = f(x) = 2 x1 + 1.5 x2 + 0.5,
 * ||w0 - w1||_2 = 2.5, ||w0 - w1||_1 = 3.5. */
static const float LIN_W[4] = {1.0f, 2.0f, -1.0f, 0.5f};
static const float LIN_B[2] = {0.3f, -0.2f};

static double lin_f(const float *x)
{
    double z0 = (double)LIN_W[0] * x[0] + (double)LIN_W[1] * x[1] + LIN_B[0];
    double z1 = (double)LIN_W[2] * x[0] + (double)LIN_W[3] * x[1] + LIN_B[1];
    return z0 - z1;
}

static mg_model *linear_model(int max_batch)
{
    mg_model *m = make_model("2-2", max_batch);
    set_dense(m, 1, LIN_W, LIN_B);
    return m;
}

static void assert_grads_zero(mg_model *m)
{
    const float *g = mg_model_grads(m);
    for (size_t i = 0; i < mg_model_n_params(m); i++) assert_true(g[i] == 0.0f);
}

/* ---------------------------------------------------------------- DeepFool */

static void test_deepfool_linear(void **state)
{
    (void)state;
    mg_model *m = linear_model(4); /* batches of 4 for 10 points */
    enum { N = 10 };
    float x[N * 2], adv[N * 2];
    mg_rng rng;
    mg_rng_seed(&rng, 2);
    for (int i = 0; i < 2 * N; i++) x[i] = (float)(4.0 * mg_rng_normal(&rng));
    mg_deepfool_result r[N];
    mg_deepfool_config cfg = mg_deepfool_config_default();
    assert_int_equal(mg_deepfool(m, x, N, &cfg, r, adv), MG_OK);
    assert_grads_zero(m);
    for (int i = 0; i < N; i++) {
        double f = lin_f(x + 2 * i), dist = fabs(f) / 2.5;
        assert_int_equal(r[i].label0, f > 0 ? 0 : 1);
        assert_true(r[i].converged);
        assert_int_equal(r[i].iters, 1); /* exact in one step for a linear model */
        assert_int_equal(r[i].label1, 1 - r[i].label0);
        CLOSE(r[i].norm_raw, dist + 1e-4 / 2.5, 1e-5);
        CLOSE(r[i].norm, 1.02 * r[i].norm_raw, 1e-12);
        double dx = adv[2 * i] - x[2 * i], dy = adv[2 * i + 1] - x[2 * i + 1];
        CLOSE(sqrt(dx * dx + dy * dy), r[i].norm, 1e-5);
        assert_true((lin_f(adv + 2 * i) > 0) != (f > 0));
    }
    mg_model_free(m);
}

/* Three linear classes: DeepFool's distance is the exact penultimate margin
 * (here the "penultimate" layer is the input itself). */
static void test_deepfool_multiclass_equals_margin(void **state)
{
    (void)state;
    mg_model *m = make_model("2-3", 8);
    const float W[6] = {1, 0, 0, 1, -1, -1}, b[3] = {0, 0.2f, -0.1f};
    set_dense(m, 1, W, b);
    enum { N = 12 };
    float x[N * 2];
    mg_rng rng;
    mg_rng_seed(&rng, 9);
    for (int i = 0; i < 2 * N; i++) x[i] = (float)(2.0 * mg_rng_normal(&rng));
    int32_t pred[N];
    assert_int_equal(mg_predict(m, 0, x, N, pred, NULL), MG_OK);
    double margin[N];
    assert_int_equal(mg_penultimate_margins(x, N, 2, W, b, 3, pred, margin), MG_OK);
    mg_deepfool_result r[N];
    assert_int_equal(mg_deepfool(m, x, N, NULL, r, NULL), MG_OK);
    for (int i = 0; i < N; i++) {
        assert_true(r[i].converged);
        assert_int_equal(r[i].label0, pred[i]);
        assert_true(margin[i] > 0.0);
        /* r = (margin + 1e-4/||w_y - w_l||) along the unit normal */
        assert_true(r[i].norm_raw >= margin[i] - 1e-5);
        assert_true(r[i].norm_raw <= margin[i] + 1e-4 + 1e-5);
    }
    mg_model_free(m);
}

/* A small nonlinear network: DeepFool must flip every prediction and
 * report the applied perturbation's norm; the segment to the adversarial
 * point crosses no later than the adversarial point itself. */
static void test_deepfool_nonlinear(void **state)
{
    (void)state;
    mg_model *m = make_model("2-16-16-3", 16);
    enum { N = 20 };
    float x[N * 2], adv[N * 2];
    mg_rng rng;
    mg_rng_seed(&rng, 4);
    for (int i = 0; i < 2 * N; i++) x[i] = (float)mg_rng_normal(&rng);
    mg_deepfool_result r[N];
    assert_int_equal(mg_deepfool(m, x, N, NULL, r, adv), MG_OK);
    assert_grads_zero(m);
    int32_t p0[N], p1[N];
    assert_int_equal(mg_predict(m, 0, x, N, p0, NULL), MG_OK);
    assert_int_equal(mg_predict(m, 0, adv, N, p1, NULL), MG_OK);
    mg_segment_result s[N];
    assert_int_equal(mg_segment_crossings(m, 0, x, adv, N, NULL, s), MG_OK);
    int conv = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(r[i].label0, p0[i]);
        assert_int_equal(r[i].label1, p1[i]);
        if (!r[i].converged) continue;
        conv++;
        assert_true(p1[i] != p0[i]);
        assert_true(r[i].norm > 0.0);
        assert_true(s[i].found);
        assert_true(s[i].dist <= r[i].norm * (1 + 1e-5));
    }
    assert_true(conv >= N - 2);
    mg_model_free(m);
}

/* ---------------------------------------------------------------- segments */

static void test_segment_linear(void **state)
{
    (void)state;
    mg_model *m = linear_model(32); /* 65 grid points: two forwards per pair */
    enum { N = 6 };
    float a[N * 2], b[N * 2];
    mg_rng rng;
    mg_rng_seed(&rng, 6);
    for (int i = 0; i < N; i++) {
        /* a on the class-0 side, b on the class-1 side */
        do {
            a[2 * i] = (float)(3.0 * mg_rng_normal(&rng));
            a[2 * i + 1] = (float)(3.0 * mg_rng_normal(&rng));
        } while (lin_f(a + 2 * i) <= 0.1);
        do {
            b[2 * i] = (float)(3.0 * mg_rng_normal(&rng));
            b[2 * i + 1] = (float)(3.0 * mg_rng_normal(&rng));
        } while (lin_f(b + 2 * i) >= -0.1);
    }
    mg_segment_result s[N];
    assert_int_equal(mg_segment_crossings(m, 0, a, b, N, NULL, s), MG_OK);
    for (int i = 0; i < N; i++) {
        double fa = lin_f(a + 2 * i), fb = lin_f(b + 2 * i), t = fa / (fa - fb);
        double dx = (double)b[2 * i] - a[2 * i], dy = (double)b[2 * i + 1] - a[2 * i + 1];
        double len = sqrt(dx * dx + dy * dy);
        assert_true(s[i].found);
        assert_int_equal(s[i].label_a, 0);
        assert_int_equal(s[i].label_b, 1);
        assert_int_equal(s[i].label_t, 1);
        CLOSE(s[i].t, t, 1e-5);
        CLOSE(s[i].length, len, 1e-12);
        CLOSE(s[i].dist, t * len, 2e-5);
    }
    /* a segment inside one class: not found */
    const float a1[2] = {5, 5}, b1[2] = {6, 4};
    mg_segment_result s1;
    assert_int_equal(mg_segment_crossings(m, 0, a1, b1, 1, NULL, &s1), MG_OK);
    assert_false(s1.found);
    assert_true(isnan(s1.t));
    mg_model_free(m);
}

/* At a hidden layer: after layer 1 of "2-3-2" the rest is one dense layer,
 * so the crossing along a segment of layer-1 states is known exactly. */
static void test_segment_hidden_layer(void **state)
{
    (void)state;
    mg_model *m = make_model("2-3-2", 256);
    const float W2[6] = {1, -2, 0.5f, -1, 1, 0}, b2[2] = {0.1f, -0.3f};
    set_dense(m, 2, W2, b2);
    const float a[3] = {2, 0, 1}, b[3] = {0, 1.5f, 0.2f};
    /* f(h) = (w0 - w1).h + (b0 - b1) = 2 h1 - 3 h2 + 0.5 h3 + 0.4 */
    double fa = 2 * 2 - 0 + 0.5 + 0.4, fb = 0 - 4.5 + 0.1 + 0.4;
    mg_segment_config cfg = mg_segment_config_default();
    cfg.grid = 10;
    cfg.tol = 1e-9;
    mg_segment_result s;
    assert_int_equal(mg_segment_crossings(m, 1, a, b, 1, &cfg, &s), MG_OK);
    assert_true(s.found);
    CLOSE(s.t, fa / (fa - fb), 1e-6);

    /* DeepFool at layer 1: the distance from a to the plane f = 0 */
    mg_deepfool_config dc = mg_deepfool_config_default();
    dc.layer = 1;
    mg_deepfool_result r;
    assert_int_equal(mg_deepfool(m, a, 1, &dc, &r, NULL), MG_OK);
    assert_true(r.converged);
    CLOSE(r.norm_raw, (fa + 1e-4) / sqrt(13.25), 1e-6);
    dc.layer = 2; /* the logits: no space to attack in */
    assert_int_equal(mg_deepfool(m, a, 1, &dc, &r, NULL), MG_ERR_CONFIG);
    mg_model_free(m);
}

/* ---------------------------------------------------------------- FGSM */

static mg_dataset *linear_data(int n, int unit_box, uint64_t seed)
{
    mg_dataset *d = mg_dataset_alloc(n, 2, 2);
    assert_non_null(d);
    mg_rng rng;
    mg_rng_seed(&rng, seed);
    for (int i = 0; i < n; i++) {
        for (int f = 0; f < 2; f++)
            d->x[2 * i + f] = unit_box ? (float)(2.0 * mg_rng_uniform(&rng) - 0.75)
                                       : (float)(2.0 * mg_rng_normal(&rng));
        /* labels mostly agree with the model, some do not */
        int pred = lin_f(d->x + 2 * i) > 0 ? 0 : 1;
        d->y[i] = mg_rng_below(&rng, 10) == 0 ? 1 - pred : pred;
    }
    return d;
}

static void test_fgsm_linear(void **state)
{
    (void)state;
    mg_model *m = linear_model(16);
    enum { N = 200, NE = 5 };
    mg_dataset *d = linear_data(N, 0, 12);
    const double eps[NE] = {0, 0.05, 0.2, 0.5, 1.0};
    mg_fgsm_config cfg = mg_fgsm_config_default();
    cfg.eps = eps;
    cfg.n_eps = NE;
    cfg.clip = 0;
    double acc[NE];
    assert_int_equal(mg_fgsm_accuracy(m, d, &cfg, acc), MG_OK);
    assert_grads_zero(m);
    /* Without clipping, f moves by -+ eps ||w0 - w1||_1 = 3.5 eps against the
     * label: an example stays right iff its signed margin exceeds 3.5 eps. */
    for (int e = 0; e < NE; e++) {
        int ok = 0;
        for (int i = 0; i < N; i++) {
            double f = lin_f(d->x + 2 * i), s = d->y[i] == 0 ? f : -f;
            ok += s > 3.5 * eps[e];
        }
        CLOSE(acc[e], (double)ok / N, 1e-15);
    }
    assert_true(acc[0] > acc[NE - 1] + 0.2);

    /* With clipping to [0, 1]: the same step, then the clip. */
    mg_dataset *u = linear_data(N, 1, 13);
    for (int i = 0; i < 2 * N; i++) /* keep the data inside the box */
        u->x[i] = u->x[i] < 0 ? 0 : (u->x[i] > 1 ? 1 : u->x[i]);
    cfg.clip = 1;
    assert_int_equal(mg_fgsm_accuracy(m, u, &cfg, acc), MG_OK);
    for (int e = 0; e < NE; e++) {
        int ok = 0;
        for (int i = 0; i < N; i++) {
            float xa[2];
            double dir = u->y[i] == 0 ? -1.0 : 1.0; /* sign of the CE gradient */
            for (int f = 0; f < 2; f++) {
                float v = u->x[2 * i + f] + (float)eps[e] * (float)dir;
                xa[f] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
            }
            ok += (lin_f(xa) > 0 ? 0 : 1) == u->y[i];
        }
        CLOSE(acc[e], (double)ok / N, 1e-15);
    }
    mg_dataset_free(d);
    mg_dataset_free(u);
    mg_model_free(m);
}

/* ---------------------------------------------------------------- states */

typedef struct {
    int calls, seen;
    int32_t y[16];
    float s[16 * 3];
    float z[16 * 2];
} states_log;

static mg_status log_cb(void *user, const float *s, const int32_t *y, const float *z, int n)
{
    states_log *l = user;
    assert_true(n <= 3);
    for (int i = 0; i < n; i++) {
        l->y[l->seen] = y[i];
        memcpy(l->s + 3 * l->seen, s + 3 * i, sizeof(float) * 3);
        memcpy(l->z + 2 * l->seen, z + 2 * i, sizeof(float) * 2);
        l->seen++;
    }
    l->calls++;
    return MG_OK;
}

static mg_status stop_cb(void *user, const float *s, const int32_t *y, const float *z, int n)
{
    (void)user; (void)s; (void)y; (void)z; (void)n;
    return mg_fail(MG_ERR_INTERRUPTED, "stop");
}

static void test_states_foreach(void **state)
{
    (void)state;
    mg_model *m = make_model("2-3-2", 8);
    const float W1[6] = {1, 0, 0, 1, 1, -1}, b1[3] = {0, 0.5f, -0.25f};
    set_dense(m, 1, W1, b1);
    mg_dataset *d = mg_dataset_alloc(10, 2, 2);
    for (int i = 0; i < 10; i++) {
        d->x[2 * i] = (float)i - 4.0f;
        d->x[2 * i + 1] = 0.5f * (float)i - 1.0f;
        d->y[i] = (i % 3 == 0) ? 1 : 0; /* class 1: 0, 3, 6, 9 */
    }
    states_log l;
    memset(&l, 0, sizeof l);
    assert_int_equal(mg_states_foreach(m, d, 1, 3, 2, log_cb, &l), MG_OK);
    /* first two of each class, dataset order: 0(1) 1(0) 2(0) 3(1) */
    assert_int_equal(l.seen, 4);
    assert_int_equal(l.calls, 2);
    const int want[4] = {0, 1, 2, 3};
    for (int r = 0; r < 4; r++) {
        int i = want[r];
        assert_int_equal(l.y[r], d->y[i]);
        const float *x = d->x + 2 * i;
        for (int j = 0; j < 3; j++) {
            double v = W1[2 * j] * x[0] + W1[2 * j + 1] * x[1] + b1[j];
            CLOSE(l.s[3 * r + j], v > 0 ? v : 0, 1e-6);
        }
    }
    /* all examples, and the logits agree with mg_forward_all */
    memset(&l, 0, sizeof l);
    assert_int_equal(mg_states_foreach(m, d, 1, 3, 0, log_cb, &l), MG_OK);
    assert_int_equal(l.seen, 10);
    float z[20], s1[30];
    assert_int_equal(mg_forward_all(m, 0, d->x, 10, 1, s1, z), MG_OK);
    assert_memory_equal(z, l.z, sizeof z);
    assert_memory_equal(s1, l.s, sizeof s1);
    /* a callback error stops the walk */
    assert_int_equal(mg_states_foreach(m, d, 1, 3, 0, stop_cb, NULL), MG_ERR_INTERRUPTED);
    /* range of the states */
    float lo[3], hi[3];
    assert_int_equal(mg_states_range(m, d, 1, lo, hi), MG_OK);
    for (int j = 0; j < 3; j++) {
        float a = INFINITY, b = -INFINITY;
        for (int i = 0; i < 10; i++) {
            a = s1[3 * i + j] < a ? s1[3 * i + j] : a;
            b = s1[3 * i + j] > b ? s1[3 * i + j] : b;
        }
        assert_true(lo[j] == a && hi[j] == b);
    }
    /* wrong input width */
    mg_dataset *bad = mg_dataset_alloc(2, 3, 2);
    assert_int_equal(mg_states_foreach(m, bad, 1, 0, 0, log_cb, &l), MG_ERR_CONFIG);
    mg_dataset_free(bad);
    mg_dataset_free(d);
    mg_model_free(m);
}

static void test_draw_pairs(void **state)
{
    (void)state;
    const int32_t y[7] = {0, 1, 1, 2, 0, 1, 3}; /* class 3 has one member */
    int ia[200], ib[200];
    mg_rng rng;
    mg_rng_seed(&rng, 8);
    assert_int_equal(mg_draw_pairs(y, 7, 4, 1, 200, &rng, ia, ib), MG_OK);
    int hit[7] = {0};
    for (int p = 0; p < 200; p++) {
        assert_true(ia[p] != ib[p]);
        assert_int_equal(y[ia[p]], y[ib[p]]);
        hit[ia[p]]++;
    }
    assert_int_equal(hit[3] + hit[6], 0); /* singleton classes never drawn */
    for (int i = 0; i < 7; i++)
        if (i != 3 && i != 6) assert_true(hit[i] > 10);
    assert_int_equal(mg_draw_pairs(y, 7, 4, 0, 200, &rng, ia, ib), MG_OK);
    for (int p = 0; p < 200; p++) assert_true(y[ia[p]] != y[ib[p]]);
    const int32_t one[3] = {2, 2, 2};
    assert_int_equal(mg_draw_pairs(one, 3, 3, 0, 1, &rng, ia, ib), MG_ERR_CONFIG);
    const int32_t single[2] = {0, 1};
    assert_int_equal(mg_draw_pairs(single, 2, 2, 1, 1, &rng, ia, ib), MG_ERR_CONFIG);
}

/* ---------------------------------------------------------------- interpolation */

/* Softmax statistics of the linear model at a point, in double. */
static void lin_stats(const double *x, int ya, int yb, double lam, double *mp, double *en,
                      double *loss)
{
    double z0 = LIN_W[0] * x[0] + LIN_W[1] * x[1] + LIN_B[0];
    double z1 = LIN_W[2] * x[0] + LIN_W[3] * x[1] + LIN_B[1];
    double mx = z0 > z1 ? z0 : z1, lse = mx + log(exp(z0 - mx) + exp(z1 - mx));
    double p0 = exp(z0 - lse), p1 = exp(z1 - lse);
    *mp = p0 > p1 ? p0 : p1;
    *en = -((p0 > 0 ? p0 * log(p0) : 0) + (p1 > 0 ? p1 * log(p1) : 0)) / log(2.0);
    double lz[2] = {z0 - lse, z1 - lse};
    *loss = -(lam * lz[ya] + (1 - lam) * lz[yb]);
}

static void test_interp_paths(void **state)
{
    (void)state;
    mg_model *m = linear_model(8);
    mg_dataset *d = linear_data(40, 0, 21);
    mg_interp_config cfg = mg_interp_config_default();
    cfg.n_pairs = 30;
    cfg.n_lambda = 5;
    mg_rng rng;
    mg_rng_seed(&rng, 3);
    mg_interp_result r;
    assert_int_equal(mg_interp_paths(m, d, &cfg, &rng, &r), MG_OK);
    assert_int_equal(r.n_lambda, 5);
    CLOSE(r.lambda[1], 0.25, 0);
    for (int t = 0; t < 2; t++) {
        assert_int_equal(r.n_pairs[t], 30);
        for (int l = 0; l < 5; l++) {
            double lam = r.lambda[l], smp = 0, sen = 0, sl = 0;
            for (int p = 0; p < 30; p++) {
                int i = r.ia[t][p], j = r.ib[t][p];
                if (t == 0) assert_int_equal(d->y[i], d->y[j]);
                else assert_true(d->y[i] != d->y[j]);
                double x[2], mp, en, loss;
                for (int f = 0; f < 2; f++)
                    x[f] = lam * d->x[2 * i + f] + (1 - lam) * d->x[2 * j + f];
                lin_stats(x, d->y[i], d->y[j], lam, &mp, &en, &loss);
                smp += mp;
                sen += en;
                sl += loss;
            }
            CLOSE(r.maxprob[t][l], smp / 30, 1e-5);
            CLOSE(r.entropy[t][l], sen / 30, 1e-5);
            CLOSE(r.loss[t][l], sl / 30, 1e-5);
        }
    }
    mg_interp_result_free(&r);
    mg_dataset_free(d);
    mg_model_free(m);
}

/* ---------------------------------------------------------------- off-manifold */

static void test_offmanifold(void **state)
{
    (void)state;
    /* A constant model (all weights zero): every input gets 1/C, so data and
     * noise are indistinguishable: AUROC exactly 1/2. */
    mg_model *m = make_model("2-3", 16);
    const float W0[6] = {0}, b0[3] = {0};
    set_dense(m, 1, W0, b0);
    mg_dataset *d = linear_data(50, 0, 31);
    mg_offmanifold_config cfg = mg_offmanifold_config_default();
    cfg.n_uniform = 40;
    cfg.n_noise = 30;
    cfg.max_data = 25;
    mg_rng rng;
    mg_rng_seed(&rng, 5);
    mg_offmanifold_result r;
    assert_int_equal(mg_offmanifold(m, d, &cfg, &rng, &r), MG_OK);
    assert_int_equal(r.n_data, 25);
    assert_int_equal(r.n_uniform, 40);
    assert_int_equal(r.n_noise, 30);
    for (int i = 0; i < 25; i++) {
        CLOSE(r.data_maxprob[i], 1.0 / 3, 1e-12);
        CLOSE(r.data_entropy[i], 1.0, 1e-12);
    }
    CLOSE(r.auroc_uniform_maxprob, 0.5, 0);
    CLOSE(r.auroc_noise_maxprob, 0.5, 0);
    CLOSE(r.auroc_noise_entropy, 0.5, 0);
    mg_offmanifold_result_free(&r);
    mg_model_free(m);

    /* The linear model is confident far from its boundary: uniform samples of
     * the box around data that sit far from it score lower.  Data: points
     * with |f| large; the box then includes the boundary region. */
    m = linear_model(16);
    for (int i = 0; i < d->n; i++) {
        float *x = d->x + 2 * i;
        double f = lin_f(x);
        if (fabs(f) < 4.0) { /* push along the normal (2, 1.5)/2.5 */
            double s = (f >= 0 ? 4.0 - f : -4.0 - f) / 6.25;
            x[0] += (float)(2.0 * s);
            x[1] += (float)(1.5 * s);
        }
    }
    assert_int_equal(mg_offmanifold(m, d, &cfg, &rng, &r), MG_OK);
    for (int i = 0; i < 25; i++) assert_true(r.data_maxprob[i] > 0.98);
    assert_true(r.auroc_uniform_maxprob > 0.5 && r.auroc_uniform_maxprob <= 1.0);
    assert_true(r.auroc_uniform_entropy > 0.5);
    mg_offmanifold_result_free(&r);

    /* uniform samples stay in the box */
    float lo[2], hi[2], xs[200], st[200];
    mg_data_stats(d, lo, hi, NULL, NULL);
    assert_int_equal(mg_uniform_states(m, lo, hi, 100, 1, &rng, xs, st), MG_OK);
    for (int i = 0; i < 100; i++)
        for (int f = 0; f < 2; f++) assert_true(xs[2 * i + f] >= lo[f] && xs[2 * i + f] <= hi[f]);
    mg_dataset_free(d);
    mg_model_free(m);
}

/* ---------------------------------------------------------------- 2-D maps */

static void test_map2d(void **state)
{
    (void)state;
    mg_model *m = linear_model(7);
    enum { NX = 9, NY = 6 };
    const double box[4] = {-3, 3, -2, 2};
    int32_t cls[NX * NY];
    float conf[NX * NY];
    assert_int_equal(mg_map2d(m, 0, box, NX, NY, cls, conf), MG_OK);
    for (int j = 0; j < NY; j++)
        for (int i = 0; i < NX; i++) {
            float x[2] = {(float)(-3.0 + i * 6.0 / (NX - 1)), (float)(-2.0 + j * 4.0 / (NY - 1))};
            double f = lin_f(x);
            assert_int_equal(cls[j * NX + i], f > 0 ? 0 : 1);
            CLOSE(conf[j * NX + i], 1.0 / (1.0 + exp(-fabs(f))), 1e-6);
        }
    assert_int_equal(mg_map2d(m, 0, box, 1, NY, cls, conf), MG_ERR_CONFIG);
    mg_model_free(m);

    /* layer 1 of "2-2-2" is 2-D; from there the model is linear */
    m = make_model("2-2-2", 64);
    set_dense(m, 2, LIN_W, LIN_B);
    assert_int_equal(mg_map2d(m, 1, box, NX, NY, cls, NULL), MG_OK);
    for (int j = 0; j < NY; j++)
        for (int i = 0; i < NX; i++) {
            float x[2] = {(float)(-3.0 + i * 6.0 / (NX - 1)), (float)(-2.0 + j * 4.0 / (NY - 1))};
            assert_int_equal(cls[j * NX + i], lin_f(x) > 0 ? 0 : 1);
        }
    mg_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deepfool_linear),
        cmocka_unit_test(test_deepfool_multiclass_equals_margin),
        cmocka_unit_test(test_deepfool_nonlinear),
        cmocka_unit_test(test_segment_linear),
        cmocka_unit_test(test_segment_hidden_layer),
        cmocka_unit_test(test_fgsm_linear),
        cmocka_unit_test(test_states_foreach),
        cmocka_unit_test(test_draw_pairs),
        cmocka_unit_test(test_interp_paths),
        cmocka_unit_test(test_offmanifold),
        cmocka_unit_test(test_map2d),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
