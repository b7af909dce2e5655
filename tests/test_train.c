/* test_train.c - the training loop end to end on small synthetic data:
 * learned accuracy, determinism, checkpoint round trip and corruption,
 * crafted checkpoints (valid crc32, bad fields: rejected before anything is
 * built), write errors naming the file, resume equivalence, NaN detection,
 * configuration checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

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
        {-1, len / 2, 0, "truncated"},     /* truncated: the header's sizes say so */
        {-1, len - 1, 0, "truncated"},     /* one byte short */
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

/* ---------------------------------------------------------------- crafted checkpoints */

/* A checkpoint's parts: the 20-byte prefix, the header text, the payload. */
typedef struct {
    char prefix[20];
    char *header;
    char *payload;
    long payload_len;
} ckpt_parts;

static ckpt_parts ckpt_split(const char *buf, long len)
{
    ckpt_parts p;
    uint32_t hl;
    memcpy(p.prefix, buf, 20);
    memcpy(&hl, buf + 16, 4);
    p.header = malloc(hl + 1);
    memcpy(p.header, buf + 20, hl);
    p.header[hl] = '\0';
    p.payload_len = len - 24 - (long)hl;
    p.payload = malloc((size_t)p.payload_len + 1);
    memcpy(p.payload, buf + 20 + hl, (size_t)p.payload_len);
    return p;
}

/* The header with key's line set to "key=value" (value NULL: the line
 * removed; a key not there: appended). Owned by the caller. */
static char *hdr_set(const char *hdr, const char *key, const char *value)
{
    size_t kl = strlen(key), cap = strlen(hdr) + kl + (value ? strlen(value) : 0) + 4;
    char *out = malloc(cap), *o = out;
    int found = 0;
    for (const char *p = hdr; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
        if (!found && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            found = 1;
            if (value) o += sprintf(o, "%s=%s\n", key, value);
        } else {
            memcpy(o, p, n);
            o += n;
        }
        p += n;
    }
    if (!found && value) o += sprintf(o, "%s=%s\n", key, value);
    *o = '\0';
    return out;
}

/* Write prefix + header + the first payload_len bytes of the payload
 * (zero-extended if longer) + a correct crc32: what the fuzz harness does so
 * that only the fields behind the checksum decide. */
static void ckpt_write(const char *path, const ckpt_parts *p, const char *header, long payload_len)
{
    uint32_t hl = (uint32_t)strlen(header);
    size_t n = 20 + hl + (size_t)payload_len;
    unsigned char *b = calloc(n + 4, 1);
    memcpy(b, p->prefix, 16);
    memcpy(b + 16, &hl, 4);
    memcpy(b + 20, header, hl);
    memcpy(b + 20 + hl, p->payload,
           (size_t)(payload_len < p->payload_len ? payload_len : p->payload_len));
    uint32_t crc = (uint32_t)crc32(0L, b, (uInt)n);
    memcpy(b + n, &crc, 4);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n + 4, f), n + 4);
    fclose(f);
    free(b);
}

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Every header field is range-checked and the sizes are exact before a
 * model is built or a trainer touched: files with a valid crc32 and one bad
 * field each.  (Before: counters were trusted, epoch 2^31 tripped an assert
 * in mg_lr_at, ep_seen near 2^63 overflowed, a payload longer than the
 * header's sizes loaded shifted weights, and an 881-byte file naming a big
 * model built and initialised it before failing.) */
static void test_checkpoint_crafted(void **s)
{
    (void)s;
    mg_dataset *tr = make_data(MG_SYNTH_MOONS, 150, 0.1, 3); /* 300 examples */
    mg_train_config c = spiral_cfg(MG_MIX_MANIFOLD);         /* Adam: m and v */
    c.epochs = 3;
    c.batch = 32; /* 10 steps per epoch */
    c.n_mix_layers = 2; /* 0 and 1 */
    run_t a = make_run("2-16-2", &c, tr, NULL);
    hook_state hs = {0};
    hs.stop_at_step = 13; /* epoch 1, step 3: 96 examples seen */
    mg_train_hooks hooks = {on_step, NULL, &hs};
    assert_int_equal(mg_trainer_run(a.t, &hooks), MG_ERR_INTERRUPTED);
    char good[600], bad[600];
    snprintf(good, sizeof good, "%s/good.ckpt", tmpdir);
    snprintf(bad, sizeof bad, "%s/crafted.ckpt", tmpdir);
    assert_int_equal(mg_trainer_save(a.t, good), MG_OK);
    char *buf;
    long len;
    read_file(good, &buf, &len);
    ckpt_parts p = ckpt_split(buf, len);

    /* control: the same parts written back load, by both readers */
    run_t b = make_run("2-16-2", &c, tr, NULL);
    ckpt_write(bad, &p, p.header, p.payload_len);
    mg_model *m = NULL;
    assert_int_equal(mg_checkpoint_load_model(bad, &m), MG_OK);
    mg_model_free(m);
    assert_int_equal(mg_trainer_load(b.t, bad), MG_OK);
    assert_int_equal(mg_trainer_epoch(b.t), 1);
    assert_int_equal(mg_trainer_step(b.t), 3);
    free_run(&b);

    const struct {
        const char *edits[4][2]; /* key, value (NULL: removed) */
        long payload_delta;      /* bytes added to (or cut from) the payload */
        const char *want;        /* in the message */
    } cases[] = {
        {{{"epoch", "-1"}}, 0, "bad checkpoint header: epoch=-1: must be an integer in 0..2147483646"},
        {{{"epoch", "2147483648"}}, 0, "epoch=2147483648: must be an integer in 0..2147483646"},
        {{{"epoch", "99999999999999999999"}}, 0, "epoch=99999999999999999999: must be an integer"},
        {{{"epoch", "+1"}}, 0, "epoch=+1: must be an integer"},
        {{{"epoch", " 1"}}, 0, "epoch= 1: must be an integer"},
        {{{"step", "11"}}, 0, "step=11: must be an integer in 0..10"},
        {{{"ep_seen", "9223372036854775807"}}, 0, "ep_seen=9223372036854775807: must be an integer in 96..96"},
        {{{"ep_correct", "97"}}, 0, "ep_correct=97: must be an integer in 0..96"},
        {{{"ep_correct", "-1"}}, 0, "ep_correct=-1: must be an integer in 0..96"},
        {{{"opt_t", "0"}}, 0, "opt_t=0: must be an integer in 13..13"},
        {{{"opt_t", "9223372036854775807"}}, 0, "opt_t=9223372036854775807: must be an integer in 13..13"},
        {{{"batch", "301"}}, 0, "batch=301: must be an integer in 1..300"},
        {{{"steps_per_epoch", "9"}}, 0, "steps_per_epoch=9: must be an integer in 10..10"},
        {{{"n_train", "0"}}, 0, "n_train=0: must be an integer in 1..2147483647"},
        {{{"seed", "-1"}}, 0, "seed=-1: must be an unsigned integer"},
        {{{"seed", "18446744073709551616"}}, 0, "seed=18446744073709551616: must be an unsigned 64-bit integer"},
        {{{"optim", "2"}}, 0, "optim=2: must be an integer in 0..1"},
        {{{"opt_has_v", "0"}}, 0, "opt_has_v=0: must be an integer in 1..1"},
        {{{"trainer", "2"}}, 0, "trainer=2: must be an integer in 0..1"},
        {{{"ep_loss_sum", "nan"}}, 0, "ep_loss_sum=nan: must be a number"},
        {{{"ep_seconds", "-0x1p+0"}}, 0, "ep_seconds=-0x1p+0: must be a number in 0.."},
        {{{"last_lr", "inf"}}, 0, "last_lr=inf: must be a number"},
        {{{"slope", "0x1p+300"}}, 0, "slope=0x1p+300: must be a number in"},
        {{{"act", "lrelu"}, {"slope", "0x1.8p+0"}}, 0, "--slope 1.5: must be in [0, 1)"},
        {{{"input_noise", "-0x1p-2"}}, 0, "input_noise=-0x1p-2: must be a number"},
        {{{"batchnorm", "2"}}, 0, "batchnorm=2: must be an integer in 0..1"},
        {{{"in_c", "-1"}}, 0, "in_c=-1: must be an integer in 0..16777216"},
        {{{"classes", "1"}}, 0, "classes=1: must be an integer in 2..16777216"},
        {{{"classes", "3"}}, 0, "n_params=82, n_buffers=0, classes=3, but the architecture 2-16-2 has 82 parameters, 0 buffers, 2 classes"},
        {{{"n_params", "83"}}, 0, "n_params=83, n_buffers=0, classes=2, but the architecture 2-16-2 has 82"},
        {{{"n_buffers", "1073741825"}}, 0, "n_buffers=1073741825: must be an integer in 0..1073741824"},
        {{{"act", "gelu"}}, 0, "act=gelu: must be relu, lrelu, tanh or none"},
        {{{"init", "orthogonal"}}, 0, "init=orthogonal: must be he or xavier"},
        {{{"arch", "2-16-2 "}}, 0, "arch=2-16-2 : must be 1..255 characters of a-z, 0-9, ':' and '-'"},
        {{{"arch", "2-16-3"}}, 0, "n_params=82, n_buffers=0, classes=2, but the architecture 2-16-3 has 99"},
        {{{"arch", "preact:4194304"}, {"in_c", "1"}, {"in_h", "8"}, {"in_w", "8"}}, 0,
         "checkpoint of an invalid architecture: --arch 'preact:4194304': stem: 268435456 "
         "features per example (at most 16777216)"},
        {{{"dropout", "0x1p+0"}}, 0, "checkpoint of an invalid architecture: --dropout 1: must be in [0, 1)"},
        {{{"act", NULL}}, 0, "bad checkpoint header: no key 'act'"},
        {{{"epoch", NULL}}, 0, "trainer=1 without key 'epoch'"},
        {{{"bogus", "1"}}, 0, "unknown key 'bogus'"},
        {{{"x", "1\x01"}}, 0, "is 0x01 (not printable text)"},
        {{{"n_buffers=0\nn_buffers", "0"}}, 0, "key 'n_buffers' given twice"},
        {{{"trainer", "0"}}, 0, "key 'epoch' in a model-only checkpoint (trainer=0)"},
        {{{NULL, NULL}}, 4, "corrupt checkpoint"},
        {{{NULL, NULL}}, -4, "truncated checkpoint"},
        {{{NULL, NULL}}, -1000000, "truncated checkpoint"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *h = strdup(p.header);
        for (int e = 0; e < 4 && cases[i].edits[e][0]; e++) {
            char *h2 = hdr_set(h, cases[i].edits[e][0], cases[i].edits[e][1]);
            free(h);
            h = h2;
        }
        long plen = p.payload_len + cases[i].payload_delta;
        ckpt_write(bad, &p, h, plen < 0 ? 0 : plen);
        free(h);
        m = NULL;
        mg_status st = mg_checkpoint_load_model(bad, &m);
        if (st != MG_ERR_FORMAT || !strstr(mg_errmsg(), cases[i].want))
            printf("  case %zu: status %d, message: %s\n", i, (int)st, mg_errmsg());
        assert_int_equal(st, MG_ERR_FORMAT);
        assert_null(m);
        assert_non_null(strstr(mg_errmsg(), cases[i].want));
        assert_int_equal(strncmp(mg_errmsg(), bad, strlen(bad)), 0); /* starts with the path */
        /* the trainer refuses it too, and is left as it was */
        float p0 = mg_model_params(a.m)[0];
        assert_int_equal(mg_trainer_load(a.t, bad), MG_ERR_FORMAT);
        assert_non_null(strstr(mg_errmsg(), cases[i].want));
        assert_int_equal(mg_trainer_epoch(a.t), 1);
        assert_int_equal(mg_trainer_step(a.t), 3);
        assert_true(mg_model_params(a.m)[0] == p0);
    }

    /* a slope outside [0, 1) is a valid setting when the activation is not
     * lrelu (the CLI takes any --slope then): such checkpoints load */
    char *hslope = hdr_set(p.header, "slope", "0x1.4p+2");
    ckpt_write(bad, &p, hslope, p.payload_len);
    free(hslope);
    assert_int_equal(mg_checkpoint_load_model(bad, &m), MG_OK);
    mg_model_free(m);

    /* A payload 4 bytes longer than the header's sizes (it used to load
     * with the weights read from the wrong offset): exact message. */
    ckpt_write(bad, &p, p.header, p.payload_len + 4);
    char want[1200];
    snprintf(want, sizeof want,
             "%s: corrupt checkpoint: %ld bytes, its header (2-16-2, 82 parameters, training "
             "state) implies %ld", bad, len + 4, len);
    assert_int_equal(mg_checkpoint_load_model(bad, &m), MG_ERR_FORMAT);
    assert_string_equal(mg_errmsg(), want);

    /* The exact message of a bad architecture inside a checkpoint: the
     * path once, the reason once. */
    char *h = hdr_set(p.header, "arch", "preact:4194304");
    char *h2 = hdr_set(h, "in_h", "8");
    free(h);
    h = hdr_set(h2, "in_w", "8");
    free(h2);
    h2 = hdr_set(h, "in_c", "1");
    ckpt_write(bad, &p, h2, p.payload_len);
    free(h);
    free(h2);
    snprintf(want, sizeof want,
             "%s: checkpoint of an invalid architecture: --arch 'preact:4194304': stem: "
             "268435456 features per example (at most 16777216)", bad);
    assert_int_equal(mg_checkpoint_load_model(bad, &m), MG_ERR_FORMAT);
    assert_string_equal(mg_errmsg(), want);

    /* An 881-byte file with a valid crc32 naming a 900-million-parameter
     * MLP (3.6 GB): fails at once, allocating nothing of that size. */
    h = hdr_set(p.header, "arch", "2-30000-30000-2");
    h2 = hdr_set(h, "n_params", "900180002");
    free(h);
    long plen881 = 881 - 24 - (long)strlen(h2);
    assert_true(plen881 > 0);
    ckpt_write(bad, &p, h2, plen881);
    free(h2);
    long rss0 = max_rss_kb();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(mg_checkpoint_load_model(bad, &m), MG_ERR_FORMAT);
    assert_non_null(strstr(mg_errmsg(), "truncated checkpoint: 881 bytes, its header "
                                        "(2-30000-30000-2, 900180002 parameters, training "
                                        "state) implies 108021"));
    assert_int_equal(mg_trainer_load(a.t, bad), MG_ERR_FORMAT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    assert_true(secs < 1.0);
    assert_true(max_rss_kb() - rss0 < 64 * 1024); /* < 64 MB more at the peak */
    printf("  881-byte crafted checkpoint: rejected in %.2g s: %s\n", secs, mg_errmsg());

    free(p.header);
    free(p.payload);
    free(buf);
    free_run(&a);
    mg_dataset_free(tr);
}

/* A write error while saving names the file and the errno, and leaves no
 * temp file and the old checkpoint in place.  RLIMIT_FSIZE stands for a
 * full disk here (EFBIG; tests/e2e_train.sh fills a real tmpfs). */
static void test_checkpoint_write_error(void **s)
{
    (void)s;
    mg_dataset *tr = make_data(MG_SYNTH_MOONS, 50, 0.1, 3);
    mg_train_config c = spiral_cfg(MG_MIX_NONE);
    c.epochs = 1;
    run_t a = make_run("2-64-2", &c, tr, NULL);
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/wr", tmpdir);
    assert_int_equal(mg_mkdir_p(dir), MG_OK);
    snprintf(path, sizeof path, "%s/model.ckpt", dir);
    assert_int_equal(mg_trainer_save(a.t, path), MG_OK);
    char *before;
    long blen;
    read_file(path, &before, &blen);
    assert_int_equal(mg_trainer_run(a.t, NULL), MG_OK);

    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 1000; /* the checkpoint is ~2.5 KB */
    void (*oldh)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    mg_status st = mg_trainer_save(a.t, path);
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", mg_errmsg());
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, oldh);
    assert_int_equal(st, MG_ERR_IO);
    char want[1000];
    snprintf(want, sizeof want, "cannot write %s: %s", path, strerror(EFBIG));
    if (strcmp(msg, want) != 0) printf("  message: %s\n", msg);
    assert_string_equal(msg, want);
    /* the old checkpoint is intact, no temp file is left */
    char *after;
    long alen;
    read_file(path, &after, &alen);
    assert_int_equal(alen, blen);
    assert_memory_equal(after, before, (size_t)blen);
    char cmd[800];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -q tmp", dir);
    assert_int_not_equal(system(cmd), 0);
    free(before);
    free(after);
    free_run(&a);
    mg_dataset_free(tr);
}

/* Temp files of writers that died before their rename are removed; a live
 * process's, another host's and files that only look alike are kept. */
static void test_stale_temps(void **s)
{
    (void)s;
    char dir[600], host[256] = "";
    snprintf(dir, sizeof dir, "%s/stale", tmpdir);
    assert_int_equal(mg_mkdir_p(dir), MG_OK);
    gethostname(host, sizeof host);
    /* as mg_write_atomic tags its temp files: [A-Za-z0-9._-], at most 64 */
    host[64] = '\0';
    for (char *q = host; *q; q++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *q)) *q = '_';
    /* a pid that is surely gone: a child that has exited and been reaped */
    pid_t dead = fork();
    if (dead == 0) _exit(0);
    assert_true(dead > 0);
    int wst;
    waitpid(dead, &wst, 0);
    char names[8][600];
    snprintf(names[0], sizeof names[0], "metrics.tsv.tmp%ld.%s", (long)dead, host); /* stale */
    snprintf(names[1], sizeof names[1], "model.ckpt.tmp%ld", (long)dead);          /* stale, old name */
    snprintf(names[2], sizeof names[2], "summary.json.tmp%ld.%s", (long)getppid(), host); /* live */
    snprintf(names[3], sizeof names[3], "model.ckpt.tmp%ld.other-host-x", (long)dead); /* other host */
    snprintf(names[4], sizeof names[4], "notes.tmp.txt");                          /* not a temp */
    snprintf(names[5], sizeof names[5], ".tmp%ld", (long)dead);                     /* no target */
    snprintf(names[6], sizeof names[6], "model.ckpt");
    snprintf(names[7], sizeof names[7], "x.tmp%ldz", (long)dead);
    for (int i = 0; i < 8; i++) {
        char p[6000];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs("x\n", f);
        fclose(f);
    }
    int removed = -1;
    assert_int_equal(mg_remove_stale_temps(dir, &removed), MG_OK);
    assert_int_equal(removed, 2);
    for (int i = 0; i < 8; i++) {
        char p[6000];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        assert_int_equal(access(p, F_OK) == 0, i >= 2);
    }
    /* mg_write_atomic removes its own target's stale temps */
    char p[1300], target[700];
    snprintf(p, sizeof p, "%s/model.ckpt.tmp%ld.%s", dir, (long)dead, host);
    FILE *f = fopen(p, "w");
    fclose(f);
    snprintf(target, sizeof target, "%s/model.ckpt", dir);
    mg_dataset *tr = make_data(MG_SYNTH_MOONS, 20, 0.1, 3);
    mg_train_config c = spiral_cfg(MG_MIX_NONE);
    run_t a = make_run("2-4-2", &c, tr, NULL);
    assert_int_equal(mg_trainer_save(a.t, target), MG_OK);
    assert_int_not_equal(access(p, F_OK), 0);
    assert_int_equal(mg_remove_stale_temps("/nonexistent-dir-xyz", &removed), MG_ERR_IO);
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

/* The clean training metrics: an eval-mode pass on the first clean_eval
 * training examples after every epoch.  It reads the model only, so a run
 * with it ends bit-identical (parameters, batch-norm buffers, checkpoint
 * payload) to one without; its accuracy is a plausible fraction. */
typedef struct {
    int epochs, n;
    double loss, acc;
} clean_state;

static int on_epoch_clean(void *u, const mg_epoch_metrics *em)
{
    clean_state *c = u;
    c->epochs = em->epoch;
    c->n = em->train_clean.n;
    c->loss = em->train_clean.loss;
    c->acc = em->train_clean.accuracy;
    return 0;
}

static void test_clean_eval(void **s)
{
    (void)s;
    mg_dataset *tr = bar_images(120, 11);
    mg_train_config c = spiral_cfg(MG_MIX_MANIFOLD);
    c.epochs = 3;
    c.batch = 32;
    c.optim.kind = MG_OPT_SGD;
    c.optim.lr = 0.05;
    c.augment_flip = 1;
    mg_arch_opts o = mg_arch_opts_default();
    o.in_c = 1, o.in_h = 8, o.in_w = 8, o.classes = 3;
    mg_model *m[2];
    mg_trainer *t[2];
    clean_state cs[2] = {{0}, {0}};
    const int clean[2] = {0, 50};
    char path[2][600];
    for (int i = 0; i < 2; i++) {
        mg_rng rng;
        mg_rng_seed3(&rng, c.seed, MG_STREAM_INIT, 0);
        c.clean_eval = clean[i];
        /* batch norm (buffers), the authors' head, mixing, augmentation */
        assert_int_equal(mg_model_create("preact-authors:4-8x1", &o, &rng, &m[i]), MG_OK);
        assert_int_equal(mg_trainer_create(m[i], &c, tr, NULL, NULL, &t[i]), MG_OK);
        mg_train_hooks hooks = {NULL, on_epoch_clean, &cs[i]};
        assert_int_equal(mg_trainer_run(t[i], &hooks), MG_OK);
        snprintf(path[i], sizeof path[i], "%s/clean%d.ckpt", tmpdir, i);
        assert_int_equal(mg_trainer_save(t[i], path[i]), MG_OK);
    }
    assert_int_equal(cs[0].epochs, 3);
    assert_int_equal(cs[0].n, 0);
    assert_int_equal(cs[1].n, 50);
    assert_true(cs[1].acc >= 0.0 && cs[1].acc <= 1.0 && isfinite(cs[1].loss) && cs[1].loss > 0.0);
    size_t np = mg_model_n_params(m[0]), nb = mg_model_n_buffers(m[0]);
    assert_true(nb > 0);
    assert_memory_equal(mg_model_params(m[0]), mg_model_params(m[1]), np * sizeof(float));
    assert_memory_equal(mg_model_buffers(m[0]), mg_model_buffers(m[1]), nb * sizeof(float));
    /* the checkpoints load (the preact-authors: prefix passes the loader's
     * checks) and hold the same model */
    mg_model *l[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(mg_checkpoint_load_model(path[i], &l[i]), MG_OK);
        assert_string_equal(mg_model_arch(l[i]), "preact-authors:4-8x1");
    }
    assert_memory_equal(mg_model_params(l[0]), mg_model_params(l[1]), np * sizeof(float));
    assert_memory_equal(mg_model_buffers(l[0]), mg_model_buffers(l[1]), nb * sizeof(float));
    assert_memory_equal(mg_model_params(l[0]), mg_model_params(m[0]), np * sizeof(float));
    /* a clean subset larger than the training set is the whole set */
    c.clean_eval = 100000;
    mg_trainer *tb;
    assert_int_equal(mg_trainer_create(m[1], &c, tr, NULL, NULL, &tb), MG_OK);
    assert_int_equal(mg_trainer_load(tb, path[1]), MG_OK);
    mg_trainer_free(tb);
    c.clean_eval = -1;
    char msg[512];
    assert_int_equal(mg_train_config_check(&c, m[0], msg, sizeof msg), MG_ERR_CONFIG);
    assert_non_null(strstr(msg, "--clean-eval"));
    for (int i = 0; i < 2; i++) {
        mg_model_free(l[i]);
        mg_trainer_free(t[i]);
        mg_model_free(m[i]);
    }
    mg_dataset_free(tr);
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


/* Two threads (the model's team: dense GEMMs split by columns, the
 * optimizer step split by ranges): the same seed gives bit-identical
 * parameters run to run, with or without the profile on; the profile
 * counts every step, layer pass and mix, and stops counting when off. */
static void test_team_training_and_profile(void **s)
{
    (void)s;
    mg_dataset *tr = make_data(MG_SYNTH_MOONS, 200, 0.1, 4);
    mg_train_config c = spiral_cfg(MG_MIX_MANIFOLD);
    c.epochs = 3;
    c.batch = 40;
    c.optim.kind = MG_OPT_SGD;
    c.optim.lr = 0.05;
    c.threads = 2;
    run_t a = make_run("2-48-40-2", &c, tr, NULL), b = make_run("2-48-40-2", &c, tr, NULL);
    mg_trainer_profile(b.t, 1);
    assert_int_equal(mg_trainer_run(a.t, NULL), MG_OK);
    assert_int_equal(mg_trainer_run(b.t, NULL), MG_OK);
    assert_int_equal(mg_model_threads(a.m), 2);
    size_t np = mg_model_n_params(a.m);
    assert_memory_equal(mg_model_params(a.m), mg_model_params(b.m), np * sizeof(float));
    mg_train_profile tp = mg_trainer_profile_get(b.t);
    long steps = 3L * ((400 + 39) / 40);
    assert_int_equal(tp.steps, steps);
    assert_true(tp.forward > 0.0 && tp.backward > 0.0 && tp.optim > 0.0 && tp.batch > 0.0);
    assert_true(tp.loss >= 0.0);
    int nl = mg_model_n_layers(b.m);
    double lsum = 0.0;
    for (int i = 0; i < nl; i++) {
        mg_layer_time lt = mg_model_layer_time(b.m, i);
        assert_int_equal(lt.forward_calls, steps);
        assert_int_equal(lt.backward_calls, steps);
        assert_true(lt.forward_sec >= 0.0 && lt.backward_sec >= 0.0);
        lsum += lt.forward_sec + lt.backward_sec;
    }
    assert_true(mg_model_layer_time(b.m, 0).forward_sec > 0.0);
    mg_layer_time mix = mg_model_layer_time(b.m, nl);
    assert_int_equal(mix.forward_calls, steps); /* every step mixes somewhere */
    assert_true(mix.backward_calls <= steps);  /* not at the input (no input gradient) */
    assert_true(lsum <= tp.forward + tp.backward);
    char rep[8192];
    size_t need = mg_trainer_profile_report(b.t, rep, sizeof rep);
    assert_true(need < sizeof rep && need == strlen(rep));
    assert_non_null(strstr(rep, "dense"));
    assert_non_null(strstr(rep, "relu"));
    assert_non_null(strstr(rep, "optimizer"));
    assert_non_null(strstr(rep, "step total"));
    char small[32];
    assert_int_equal(mg_trainer_profile_report(b.t, small, sizeof small), need);
    assert_int_equal(strlen(small), sizeof small - 1);
    /* off: the counters stay; on again: zeroed */
    mg_trainer_profile(b.t, 0);
    mg_model_forward(b.m, 0, tr->x, 10, 0, NULL, NULL);
    assert_int_equal(mg_model_layer_time(b.m, 0).forward_calls, steps);
    mg_trainer_profile(b.t, 1);
    assert_int_equal(mg_model_layer_time(b.m, 0).forward_calls, 0);
    assert_int_equal(mg_trainer_profile_get(b.t).steps, 0);
    mg_model_forward(b.m, 0, tr->x, 10, 0, NULL, NULL);
    assert_int_equal(mg_model_layer_time(b.m, 0).forward_calls, 1);
    assert_int_equal(mg_model_layer_time(b.m, 1).forward_calls, 1);
    assert_int_equal(mg_model_layer_time(b.m, 0).backward_calls, 0);
    free_run(&a);
    free_run(&b);
    mg_dataset_free(tr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spiral_learns),
        cmocka_unit_test(test_determinism_and_resume),
        cmocka_unit_test(test_team_training_and_profile),
        cmocka_unit_test(test_checkpoint_corruption),
        cmocka_unit_test(test_checkpoint_crafted),
        cmocka_unit_test(test_checkpoint_write_error),
        cmocka_unit_test(test_stale_temps),
        cmocka_unit_test(test_nan_detected),
        cmocka_unit_test(test_config_check),
        cmocka_unit_test(test_augment),
        cmocka_unit_test(test_cnn_learns),
        cmocka_unit_test(test_clean_eval),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
