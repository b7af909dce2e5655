/* test_train.c - the training loop end to end on small synthetic data:
 * learned accuracy, determinism, checkpoint round trip and corruption,
 * resume equivalence, NaN detection, configuration checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mixgeo.h"

static char tmpdir[512];

static int setup(void **s)
{
    (void)s;
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/mixgeo-train-XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **s)
{
    (void)s;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static mg_dataset *make_data(mg_synth_kind kind, int per_class, double noise, uint64_t seed)
{
    mg_synth_config sc = {kind, 2, per_class, noise, 2};
    mg_rng r;
    mg_rng_seed(&r, seed);
    mg_dataset *d = NULL;
    assert_int_equal(mg_synth_generate(&sc, &r, &d), MG_OK);
    return d;
}

typedef struct {
    mg_model *m;
    mg_trainer *t;
} run_t;

static run_t make_run(const char *arch, const mg_train_config *cfg, const mg_dataset *tr,
                      const mg_dataset *te)
{
    run_t r;
    mg_rng rng;
    mg_rng_seed3(&rng, cfg->seed, MG_STREAM_INIT, 0);
    assert_int_equal(mg_model_create(arch, NULL, &rng, &r.m), MG_OK);
    assert_int_equal(mg_trainer_create(r.m, cfg, tr, NULL, te, &r.t), MG_OK);
    return r;
}

static void free_run(run_t *r)
{
    mg_trainer_free(r->t);
    mg_model_free(r->m);
}

static mg_train_config spiral_cfg(mg_mix_mode mix)
{
    mg_train_config c = mg_train_config_default();
    c.epochs = mix == MG_MIX_NONE ? 100 : 400;
    c.batch = 50;
    c.mix = mix;
    c.alpha = mix == MG_MIX_INPUT ? 1.0 : 2.0;
    c.n_mix_layers = mix == MG_MIX_MANIFOLD ? 3 : 1;
    for (int i = 0; i < c.n_mix_layers; i++) c.mix_layers[i] = i;
    c.loss = MG_LOSS_CE;
    c.optim.kind = MG_OPT_ADAM;
    c.optim.lr = 1e-2;
    c.optim.weight_decay = 0.0;
    c.seed = 5;
    return c;
}

/* The paper's spiral (spanning [-15,15]^2), a small MLP: no mixup and Manifold
 * Mixup both learn it. */
static void test_spiral_learns(void **s)
{
    (void)s;
    mg_dataset *tr = make_data(MG_SYNTH_SPIRAL, 500, 0.3, 1);
    mg_dataset *te = make_data(MG_SYNTH_SPIRAL, 500, 0.3, 2);
    mg_mix_mode modes[2] = {MG_MIX_NONE, MG_MIX_MANIFOLD};
    for (int i = 0; i < 2; i++) {
        mg_train_config c = spiral_cfg(modes[i]);
        run_t r = make_run("2-64-64-2", &c, tr, te);
        assert_int_equal(mg_trainer_run(r.t, NULL), MG_OK);
        mg_eval_result ev;
        assert_int_equal(mg_evaluate(r.m, te, MG_LOSS_CE, &ev), MG_OK);
        printf("  spiral %s: test accuracy %.4f nll %.4f\n", mg_mix_mode_name(modes[i]),
               ev.accuracy, ev.nll);
        assert_true(ev.accuracy >= 0.97);
        free_run(&r);
    }
    mg_dataset_free(tr);
    mg_dataset_free(te);
}

typedef struct {
    int epochs_seen;
    double last_test_acc;
    int stop_at_step; /* global step count to stop at, 0 = never */
    int steps;
} hook_state;

static int on_step(void *u, int e, int st, int spe, double loss)
{
    (void)e, (void)st, (void)spe, (void)loss;
    hook_state *h = u;
    h->steps++;
    return h->stop_at_step && h->steps == h->stop_at_step;
}

static int on_epoch(void *u, const mg_epoch_metrics *em)
{
    hook_state *h = u;
    h->epochs_seen = em->epoch;
    h->last_test_acc = em->test.accuracy;
    return 0;
}

static void read_file(const char *path, char **buf, long *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    rewind(f);
    *buf = malloc(*len);
    assert_int_equal(fread(*buf, 1, *len, f), (size_t)*len);
    fclose(f);
}

/* Same seed -> bit-identical parameters; a run stopped mid-epoch, saved,
 * loaded into a fresh trainer and continued ends bit-identical too. */
static void test_determinism_and_resume(void **s)
{
    (void)s;
    mg_dataset *tr = make_data(MG_SYNTH_MOONS, 150, 0.1, 3);
    mg_train_config c = spiral_cfg(MG_MIX_MANIFOLD);
    c.epochs = 4;
    c.batch = 32;
    c.optim.kind = MG_OPT_SGD;
    c.optim.lr = 0.05;
    c.optim.weight_decay = 1e-4;
    mg_arch_opts o = mg_arch_opts_default();
    (void)o;
    run_t a = make_run("2-16-16-2", &c, tr, NULL), b = make_run("2-16-16-2", &c, tr, NULL);
    assert_int_equal(mg_trainer_run(a.t, NULL), MG_OK);
    assert_int_equal(mg_trainer_run(b.t, NULL), MG_OK);
    size_t np = mg_model_n_params(a.m);
    assert_memory_equal(mg_model_params(a.m), mg_model_params(b.m), np * sizeof(float));

    /* interrupted at global step 13 (mid-epoch 2 with 10 steps per epoch) */
    run_t p = make_run("2-16-16-2", &c, tr, NULL);
    hook_state hs = {0};
    hs.stop_at_step = 13;
    mg_train_hooks hooks = {on_step, on_epoch, &hs};
    assert_int_equal(mg_trainer_run(p.t, &hooks), MG_ERR_INTERRUPTED);
    char path[600];
    snprintf(path, sizeof path, "%s/resume.ckpt", tmpdir);
    assert_int_equal(mg_trainer_save(p.t, path), MG_OK);
    free_run(&p);
    run_t q = make_run("2-16-16-2", &c, tr, NULL);
    assert_int_equal(mg_trainer_load(q.t, path), MG_OK);
    assert_int_equal(mg_trainer_epoch(q.t), 1);
    assert_int_equal(mg_trainer_step(q.t), 3);
    assert_int_equal(mg_trainer_run(q.t, NULL), MG_OK);
    assert_memory_equal(mg_model_params(a.m), mg_model_params(q.m), np * sizeof(float));

    /* and the final checkpoints are byte-identical except the timing sums */
    char pa[600], pq[600];
    snprintf(pa, sizeof pa, "%s/a.ckpt", tmpdir);
    snprintf(pq, sizeof pq, "%s/q.ckpt", tmpdir);
    assert_int_equal(mg_trainer_save(a.t, pa), MG_OK);
    assert_int_equal(mg_trainer_save(q.t, pq), MG_OK);
    mg_model *ma, *mq;
    assert_int_equal(mg_checkpoint_load_model(pa, &ma), MG_OK);
    assert_int_equal(mg_checkpoint_load_model(pq, &mq), MG_OK);
    assert_memory_equal(mg_model_params(ma), mg_model_params(a.m), np * sizeof(float));
    assert_memory_equal(mg_model_params(mq), mg_model_params(ma), np * sizeof(float));
    mg_model_free(ma);
    mg_model_free(mq);
    free_run(&a);
    free_run(&b);
    free_run(&q);
    mg_dataset_free(tr);
}

static void test_checkpoint_corruption(void **s)
{
    (void)s;
    mg_dataset *tr = make_data(MG_SYNTH_MOONS, 50, 0.1, 3);
    mg_train_config c = spiral_cfg(MG_MIX_NONE);
    c.epochs = 1;
    run_t a = make_run("2-8-2", &c, tr, NULL);
    assert_int_equal(mg_trainer_run(a.t, NULL), MG_OK);
    char path[600], bad[600];
    snprintf(path, sizeof path, "%s/c.ckpt", tmpdir);
    snprintf(bad, sizeof bad, "%s/bad.ckpt", tmpdir);
    assert_int_equal(mg_trainer_save(a.t, path), MG_OK);
    char *buf;
    long len;
    read_file(path, &buf, &len);
    mg_model *m = NULL;
    struct {
        long off;
        long len;
        unsigned char x;
        const char *msg;
    } cases[] = {
        {len - 20, len, 0x55, "checksum"}, /* a flipped byte in the parameters */
        {0, len, 'X', "magic"},            /* wrong magic */
        {8, len, 0x07, "version"},         /* other version */
        {-1, len / 2, 0, "checksum"},      /* truncated */
        {-1, 10, 0, "too short"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        FILE *f = fopen(bad, "wb");
        assert_non_null(f);
        char *copy = malloc(len);
        memcpy(copy, buf, len);
        if (cases[i].off >= 0) copy[cases[i].off] ^= cases[i].x;
        fwrite(copy, 1, cases[i].len, f);
        fclose(f);
        free(copy);
        mg_status st = mg_checkpoint_load_model(bad, &m);
        assert_int_equal(st, MG_ERR_FORMAT);
        assert_null(m);
        assert_non_null(strstr(mg_errmsg(), cases[i].msg));
        assert_non_null(strstr(mg_errmsg(), "bad.ckpt"));
        assert_int_not_equal(mg_trainer_load(a.t, bad), MG_OK);
    }
    snprintf(bad, sizeof bad, "%s/missing.ckpt", tmpdir);
    assert_int_equal(mg_checkpoint_load_model(bad, &m), MG_ERR_IO);
    assert_non_null(strstr(mg_errmsg(), "missing.ckpt"));
    /* a model of another architecture refuses the training state */
    run_t b = make_run("2-9-2", &c, tr, NULL);
    assert_int_equal(mg_trainer_load(b.t, path), MG_ERR_CONFIG);
    free_run(&b);
    free(buf);
    free_run(&a);
    mg_dataset_free(tr);
}

static void test_nan_detected(void **s)
{
    (void)s;
    mg_dataset *tr = make_data(MG_SYNTH_SPIRAL, 100, 0.1, 3);
    mg_train_config c = spiral_cfg(MG_MIX_NONE);
    c.optim.kind = MG_OPT_SGD;
    c.optim.lr = 1e30;
    c.epochs = 3;
    run_t a = make_run("2-32-32-2", &c, tr, NULL);
    mg_status st = mg_trainer_run(a.t, NULL);
    assert_int_equal(st, MG_ERR_NUMERIC);
    assert_non_null(strstr(mg_errmsg(), "epoch"));
    /* parameters are those before the failing step: all finite is not
     * guaranteed after a 1e30 step, but the failing step itself did not apply */
    free_run(&a);
    mg_dataset_free(tr);
}

static void test_config_check(void **s)
{
    (void)s;
    mg_rng r;
    mg_rng_seed(&r, 1);
    mg_model *m;
    assert_int_equal(mg_model_create("2-8-8-2", NULL, &r, &m), MG_OK);
    mg_train_config c = spiral_cfg(MG_MIX_MANIFOLD);
    c.alpha = 0.0;
    c.batch = 0;
    c.mix_layers[2] = 3; /* L = 3: the logits */
    char msg[2048];
    assert_int_equal(mg_train_config_check(&c, m, msg, sizeof msg), MG_ERR_CONFIG);
    assert_non_null(strstr(msg, "--alpha"));
    assert_non_null(strstr(msg, "--batch"));
    assert_non_null(strstr(msg, "--mix-layers"));
    c = spiral_cfg(MG_MIX_MANIFOLD);
    assert_int_equal(mg_train_config_check(&c, m, msg, sizeof msg), MG_OK);
    mg_dataset *tr = make_data(MG_SYNTH_BLOBS, 10, 0.1, 3);
    mg_trainer *t;
    c = spiral_cfg(MG_MIX_NONE);
    mg_model *m3;
    assert_int_equal(mg_model_create("3-8-2", NULL, &r, &m3), MG_OK);
    assert_int_equal(mg_trainer_create(m3, &c, tr, NULL, NULL, &t), MG_ERR_CONFIG);
    assert_non_null(strstr(mg_errmsg(), "--arch"));
    mg_model_free(m3);
    mg_model_free(m);
    mg_dataset_free(tr);
}

/* 8x8 images of three classes: a horizontal bar, a vertical bar, a diagonal,
 * each at a random position, plus noise. */
static mg_dataset *bar_images(int n, uint64_t seed)
{
    mg_dataset *d = mg_dataset_alloc(n, 64, 3);
    assert_non_null(d);
    d->c = 1, d->h = 8, d->w = 8;
    mg_rng r;
    mg_rng_seed(&r, seed);
    for (int e = 0; e < n; e++) {
        int cls = e % 3, pos = 1 + (int)mg_rng_below(&r, 6);
        float *x = d->x + (size_t)e * 64;
        for (int i = 0; i < 64; i++) x[i] = 0.3f * (float)mg_rng_normal(&r);
        for (int t = 0; t < 8; t++) {
            int i = cls == 0 ? pos : cls == 1 ? t : t, j = cls == 0 ? t : cls == 1 ? pos : t;
            x[i * 8 + j] += 1.0f;
        }
        d->y[e] = cls;
    }
    return d;
}

/* A small PreActResNet learns the bar images, with Manifold Mixup at the
 * stage boundaries and augmentation. */
static void test_cnn_learns(void **s)
{
    (void)s;
    mg_dataset *tr = bar_images(600, 1), *te = bar_images(300, 2);
    mg_train_config c = mg_train_config_default();
    c.epochs = 6;
    c.batch = 32;
    c.mix = MG_MIX_MANIFOLD;
    c.n_mix_layers = 3;
    c.mix_layers[0] = 0, c.mix_layers[1] = 1, c.mix_layers[2] = 2;
    c.alpha = 2.0;
    c.loss = MG_LOSS_CE;
    c.optim.lr = 0.05;
    c.augment_flip = 1;
    c.seed = 3;
    mg_arch_opts o = mg_arch_opts_default();
    o.in_c = 1, o.in_h = 8, o.in_w = 8, o.classes = 3;
    mg_rng rng;
    mg_rng_seed3(&rng, c.seed, MG_STREAM_INIT, 0);
    mg_model *m;
    mg_trainer *t;
    assert_int_equal(mg_model_create("preact:4-8x1", &o, &rng, &m), MG_OK);
    assert_int_equal(mg_trainer_create(m, &c, tr, NULL, te, &t), MG_OK);
    assert_int_equal(mg_trainer_run(t, NULL), MG_OK);
    mg_eval_result ev;
    assert_int_equal(mg_evaluate(m, te, MG_LOSS_CE, &ev), MG_OK);
    printf("  cnn bars: test accuracy %.4f\n", ev.accuracy);
    assert_true(ev.accuracy >= 0.95);
    /* augmentation needs image data */
    mg_trainer *t2;
    mg_dataset *flat = make_data(MG_SYNTH_MOONS, 10, 0.1, 3);
    mg_model *m2;
    assert_int_equal(mg_model_create("2-4-2", NULL, &rng, &m2), MG_OK);
    c.mix = MG_MIX_NONE;
    assert_int_equal(mg_trainer_create(m2, &c, flat, NULL, NULL, &t2), MG_ERR_CONFIG);
    assert_non_null(strstr(mg_errmsg(), "--augment"));
    mg_model_free(m2);
    mg_dataset_free(flat);
    mg_trainer_free(t);
    mg_model_free(m);
    mg_dataset_free(tr);
    mg_dataset_free(te);
}

/* Flip only: every example is itself or its mirror image; crops shift the
 * content with zero fill; the same seed gives the same batch. */
static void test_augment(void **s)
{
    (void)s;
    enum { N = 64, C = 2, H = 3, W = 4, D = C * H * W };
    float x[N * D], y[N * D], z[N * D], tmp[D];
    for (int i = 0; i < N * D; i++) x[i] = (float)(i % D + 1);
    memcpy(y, x, sizeof x);
    mg_rng r;
    mg_rng_seed(&r, 1);
    mg_augment(y, N, C, H, W, 0, 1, &r, tmp);
    int flipped = 0;
    for (int e = 0; e < N; e++) {
        const float *a = x + e * D, *b = y + e * D;
        int same = memcmp(a, b, sizeof(float) * D) == 0, mirror = 1;
        for (int c = 0; c < C; c++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++)
                    mirror &= b[(c * H + i) * W + j] == a[(c * H + i) * W + (W - 1 - j)];
        assert_true(same || mirror);
        flipped += !same;
    }
    assert_true(flipped > 16 && flipped < 48);
    /* crop: pixel values are a subset of the original's plus zeros, and
     * the total count of non-zeros never grows */
    memcpy(y, x, sizeof x);
    mg_rng_seed(&r, 2);
    mg_augment(y, N, C, H, W, 2, 0, &r, tmp);
    int shifted = 0;
    for (int e = 0; e < N; e++) {
        int nz = 0;
        for (int i = 0; i < D; i++) nz += y[e * D + i] != 0.0f;
        assert_true(nz <= D);
        shifted += memcmp(x + e * D, y + e * D, sizeof(float) * D) != 0;
        /* a shift keeps horizontal neighbours: value(j+1) - value(j) = 1 where both non-zero */
        for (int c = 0; c < C; c++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j + 1 < W; j++) {
                    float u = y[e * D + (c * H + i) * W + j], v = y[e * D + (c * H + i) * W + j + 1];
                    if (u != 0.0f && v != 0.0f) assert_true(v - u == 1.0f);
                }
    }
    assert_true(shifted > N / 2);
    memcpy(z, x, sizeof x);
    mg_rng_seed(&r, 2);
    mg_augment(z, N, C, H, W, 2, 0, &r, tmp);
    assert_memory_equal(y, z, sizeof y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spiral_learns),
        cmocka_unit_test(test_determinism_and_resume),
        cmocka_unit_test(test_checkpoint_corruption),
        cmocka_unit_test(test_nan_detected),
        cmocka_unit_test(test_config_check),
        cmocka_unit_test(test_augment),
        cmocka_unit_test(test_cnn_learns),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
