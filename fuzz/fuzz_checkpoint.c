/* fuzz_checkpoint.c - checkpoints (src/checkpoint.c) on the fuzzer's bytes.
 *
 * The harness first overwrites the last 4 bytes with the crc32 of the rest,
 * as a crafted file would have it: a crc32 catches accidents, so the fuzzer
 * must reach the fields behind it, where only range checks protect.
 *
 * Checked:
 *  - mg_checkpoint_load_model fails with MG_ERR_FORMAT or MG_ERR_IO (never
 *    out of memory: nothing is sized from the header before the file's size
 *    proves it), *out NULL, one line naming the file;
 *  - on success the model's arenas fit in the file (4 bytes a float);
 *  - for a trainer checkpoint of a small model: a trainer of the
 *    configuration the header names accepts it (mg_trainer_load) with the
 *    same parameters and position, and saving that trainer and loading the
 *    result gives the same parameters, buffers and position again (the
 *    writer writes what the reader accepts).
 * libFuzzer's -malloc_limit_mb turns any allocation sized from a header
 * into a failure. */
#include "fuzz.h"

#include <errno.h>
#include <zlib.h>

/* A directory for the round trip's files (mg_write_atomic renames inside
 * it, so not a memfd), removed at exit: in /dev/shm when there is one (a
 * tmpfs: mg_write_atomic's fsyncs cost nothing there), else in $TMPDIR. */
static char g_dir[4096];

static void remove_dir(void)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/rt.ckpt", g_dir);
    unlink(p);
    rmdir(g_dir);
}

static const char *round_trip_path(void)
{
    if (!g_dir[0]) {
        fuzz_tmpdir(g_dir, sizeof g_dir, "ckpt");
        atexit(remove_dir);
    }
    static char p[4200];
    snprintf(p, sizeof p, "%s/rt.ckpt", g_dir);
    return p;
}

/* The value of "key=" in the header text (lines of key=value), or NULL. */
static const char *hdr_value(const char *hdr, const char *key, char *buf, size_t len)
{
    size_t kl = strlen(key);
    for (const char *p = hdr; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
            const char *v = p + kl + 1, *e = strchr(v, '\n');
            size_t n = e ? (size_t)(e - v) : strlen(v);
            if (n >= len) return NULL;
            memcpy(buf, v, n);
            buf[n] = '\0';
            return buf;
        }
    }
    return NULL;
}

static long long hdr_ll(const char *hdr, const char *key)
{
    char b[64];
    FUZZ_CHECK(hdr_value(hdr, key, b, sizeof b)); /* the loader accepted it */
    return strtoll(b, NULL, 10);
}

/* Activation floats a trainer with batch B would reserve, roughly; 0 when
 * some layer is too wide to try. */
static size_t act_floats(const mg_model *m, int B)
{
    size_t sum = 0;
    for (int i = 0; i < mg_model_n_layers(m); i++) {
        mg_layer_info li = mg_model_layer(m, i);
        if (li.in > 65536 || li.out > 65536) return 0;
        sum += (size_t)(li.in + li.out);
    }
    return sum * (size_t)B;
}

/* The trainer half: build the trainer the header describes, load, compare,
 * save, load again. */
static void check_trainer(const char *path, const char *hdr, mg_model *m)
{
    long long n_train = hdr_ll(hdr, "n_train"), batch = hdr_ll(hdr, "batch");
    long long epoch = hdr_ll(hdr, "epoch"), step = hdr_ll(hdr, "step");
    long long optim = hdr_ll(hdr, "optim");
    char sb[64];
    FUZZ_CHECK(hdr_value(hdr, "seed", sb, sizeof sb));
    uint64_t seed = strtoull(sb, NULL, 10);
    int dim = mg_model_dim(m, 0), classes = mg_model_classes(m);
    FUZZ_CHECK(n_train >= 1 && batch >= 1 && batch <= n_train && epoch >= 0 && step >= 0);
    /* only small ones: the data and the activations are this harness's own */
    if (n_train > 4096 || (size_t)n_train * (size_t)dim > (1u << 18) || epoch > (1 << 20))
        return;
    size_t act = act_floats(m, (int)batch);
    if (act == 0 || act > (1u << 22)) return;

    mg_dataset *d = mg_dataset_alloc((int)n_train, dim, classes);
    FUZZ_CHECK(d != NULL);
    const mg_arch_opts *o = mg_model_opts(m);
    if (o->in_c > 0 && o->in_c * o->in_h * o->in_w == dim) d->c = o->in_c, d->h = o->in_h, d->w = o->in_w;
    mg_train_config cfg = mg_train_config_default();
    cfg.epochs = (int)epoch + 1;
    cfg.batch = (int)batch;
    cfg.seed = seed;
    cfg.optim.kind = (mg_optim_kind)optim;
    cfg.mix = MG_MIX_NONE;
    mg_rng r;
    mg_rng_seed(&r, 1);
    mg_model *m2 = NULL, *m3 = NULL, *m4 = NULL;
    mg_trainer *t = NULL, *t2 = NULL;
    FUZZ_CHECK(mg_model_create(mg_model_arch(m), o, &r, &m2) == MG_OK);
    FUZZ_CHECK(mg_trainer_create(m2, &cfg, d, NULL, NULL, &t) == MG_OK);
    mg_status st = mg_trainer_load(t, path);
    if (st != MG_OK) {
        fprintf(stderr, "fuzz: the model loads but the trainer of its header does not: %s\n",
                mg_errmsg());
        FUZZ_CHECK(st == MG_OK);
    }
    size_t np = mg_model_n_params(m), nb = mg_model_n_buffers(m);
    FUZZ_CHECK(mg_model_n_params(m2) == np && mg_model_n_buffers(m2) == nb);
    FUZZ_CHECK(memcmp(mg_model_params(m2), mg_model_params(m), np * sizeof(float)) == 0);
    FUZZ_CHECK(memcmp(mg_model_buffers(m2), mg_model_buffers(m), nb * sizeof(float)) == 0);
    FUZZ_CHECK(mg_trainer_epoch(t) == epoch && mg_trainer_step(t) == step);

    /* the writer writes what the reader accepts, and the same state */
    const char *rt = round_trip_path();
    FUZZ_CHECK(mg_trainer_save(t, rt) == MG_OK);
    FUZZ_CHECK(mg_checkpoint_load_model(rt, &m3) == MG_OK);
    FUZZ_CHECK(memcmp(mg_model_params(m3), mg_model_params(m), np * sizeof(float)) == 0);
    FUZZ_CHECK(memcmp(mg_model_buffers(m3), mg_model_buffers(m), nb * sizeof(float)) == 0);
    FUZZ_CHECK(mg_model_create(mg_model_arch(m), o, &r, &m4) == MG_OK);
    FUZZ_CHECK(mg_trainer_create(m4, &cfg, d, NULL, NULL, &t2) == MG_OK);
    FUZZ_CHECK(mg_trainer_load(t2, rt) == MG_OK);
    FUZZ_CHECK(mg_trainer_epoch(t2) == epoch && mg_trainer_step(t2) == step);
    FUZZ_CHECK(memcmp(mg_model_params(m4), mg_model_params(m), np * sizeof(float)) == 0);
    unlink(rt);
    mg_trainer_free(t2);
    mg_trainer_free(t);
    mg_model_free(m4);
    mg_model_free(m3);
    mg_model_free(m2);
    mg_dataset_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mg_log_set(fuzz_log_drop, NULL);
    uint8_t *buf = malloc(size + 1);
    FUZZ_CHECK(buf != NULL);
    memcpy(buf, data, size);
    if (size >= 24) {
        uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)(size - 4));
        memcpy(buf + size - 4, &crc, 4);
    }
    const char *path = fuzz_file(0, buf, size);
    mg_model *m = (mg_model *)&m; /* must come back NULL on failure */
    mg_status st = mg_checkpoint_load_model(path, &m);
    if (st != MG_OK) {
        FUZZ_CHECK(m == NULL);
        FUZZ_CHECK(st == MG_ERR_FORMAT || st == MG_ERR_IO);
        FUZZ_CHECK(strstr(mg_errmsg(), path) != NULL);
        FUZZ_CHECK(!strchr(mg_errmsg(), '\n'));
        free(buf);
        return 0;
    }
    size_t np = mg_model_n_params(m), nb = mg_model_n_buffers(m);
    uint32_t hl;
    memcpy(&hl, buf + 16, 4);
    FUZZ_CHECK(size >= 24 && hl <= size - 24);
    FUZZ_CHECK((np + nb) * sizeof(float) <= size - 24 - hl);
    char *hdr = malloc((size_t)hl + 1);
    FUZZ_CHECK(hdr != NULL);
    memcpy(hdr, buf + 20, hl);
    hdr[hl] = '\0';
    FUZZ_CHECK(strlen(hdr) == hl); /* no NUL inside an accepted header */
    if (hdr_ll(hdr, "trainer") == 1) check_trainer(path, hdr, m);
    free(hdr);
    mg_model_free(m);
    free(buf);
    return 0;
}
