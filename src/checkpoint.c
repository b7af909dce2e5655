/* checkpoint.c - model and trainer checkpoints.
 *
 * Layout (native little-endian floats; the endian word catches a foreign file):
 *   "MIXGEOCK"            8 bytes magic
 *   u32 version           MG_CKPT_VERSION
 *   u32 endian            0x01020304
 *   u32 header_len        bytes of the text header that follows
 *   header                "key=value\n" lines: architecture, options, sizes,
 *                         and for a trainer its position and running sums
 *                         (doubles as C99 hex floats, so they are exact)
 *   float params[n_params], float buffers[n_buffers]
 *   trainer only: float opt_m[n_params], float opt_v[n_params] (Adam)
 *   u32 crc32             zlib crc32 of every byte before it
 * Files are written atomically (temp file + rename). */
#include "train_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define MG_CKPT_MAGIC "MIXGEOCK"
#define MG_CKPT_VERSION 1u
#define MG_CKPT_ENDIAN 0x01020304u

typedef struct {
    char *buf;
    size_t len, cap;
} membuf;

static int mb_put(membuf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb) return -1;
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
    return 0;
}

static const char *act_name(mg_act a)
{
    switch (a) {
    case MG_ACT_RELU: return "relu";
    case MG_ACT_LRELU: return "lrelu";
    case MG_ACT_TANH: return "tanh";
    case MG_ACT_NONE: return "none";
    }
    return "?";
}

static int hdr_get(const char *hdr, const char *key, char *val, size_t vlen)
{
    size_t kl = strlen(key);
    const char *p = hdr;
    while (p && *p) {
        if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
            const char *v = p + kl + 1, *e = strchr(v, '\n');
            size_t n = e ? (size_t)(e - v) : strlen(v);
            if (n >= vlen) return 0;
            memcpy(val, v, n);
            val[n] = '\0';
            return 1;
        }
        p = strchr(p, '\n');
        if (p) p++;
    }
    return 0;
}

static int hdr_double(const char *hdr, const char *key, double *out)
{
    char v[128], *end;
    if (!hdr_get(hdr, key, v, sizeof v)) return 0;
    *out = strtod(v, &end);
    return end != v && *end == '\0';
}

static int hdr_long(const char *hdr, const char *key, long long *out)
{
    char v[64], *end;
    if (!hdr_get(hdr, key, v, sizeof v)) return 0;
    errno = 0;
    *out = strtoll(v, &end, 10);
    return end != v && *end == '\0' && !errno;
}

static mg_status write_buf(FILE *f, void *user)
{
    membuf *b = user;
    if (fwrite(b->buf, 1, b->len, f) != b->len) return mg_fail(MG_ERR_IO, "short write");
    return MG_OK;
}

static mg_status save(mg_model *m, const mg_trainer *t, const char *path)
{
    char hdr[4096];
    const mg_arch_opts *o = mg_model_opts(m);
    int w = snprintf(hdr, sizeof hdr,
                     "arch=%s\nact=%s\nslope=%a\nbatchnorm=%d\ndropout=%a\ninput_noise=%a\n"
                     "init=%s\nin_c=%d\nin_h=%d\nin_w=%d\nclasses=%d\n"
                     "n_params=%zu\nn_buffers=%zu\ntrainer=%d\n",
                     mg_model_arch(m), act_name(o->act), (double)o->slope, o->batchnorm,
                     (double)o->dropout, (double)o->input_noise,
                     o->init == MG_INIT_HE ? "he" : "xavier", o->in_c, o->in_h, o->in_w,
                     mg_model_classes(m), mg_model_n_params(m),
                     mg_model_n_buffers(m), t != NULL);
    if (t) {
        w += snprintf(hdr + w, sizeof hdr - w,
                      "epoch=%d\nstep=%d\nbatch=%d\nsteps_per_epoch=%d\nn_train=%d\nseed=%llu\n"
                      "optim=%d\nopt_t=%lld\nopt_has_v=%d\nep_loss_sum=%a\nep_seconds=%a\n"
                      "last_lr=%a\nep_correct=%lld\nep_seen=%lld\n",
                      t->epoch, t->step, t->batch, t->steps_per_epoch, t->train->n,
                      (unsigned long long)t->cfg.seed, (int)t->cfg.optim.kind,
                      (long long)t->opt.t, t->opt.v != NULL, t->ep_loss_sum, t->ep_seconds,
                      t->last_lr, (long long)t->ep_correct, (long long)t->ep_seen);
    }
    MG_ASSERT(w > 0 && (size_t)w < sizeof hdr);
    membuf b = {0};
    uint32_t ver = MG_CKPT_VERSION, end = MG_CKPT_ENDIAN, hl = (uint32_t)w;
    int bad = mb_put(&b, MG_CKPT_MAGIC, 8) || mb_put(&b, &ver, 4) || mb_put(&b, &end, 4) ||
              mb_put(&b, &hl, 4) || mb_put(&b, hdr, (size_t)w) ||
              mb_put(&b, mg_model_params(m), sizeof(float) * mg_model_n_params(m)) ||
              mb_put(&b, mg_model_buffers(m), sizeof(float) * mg_model_n_buffers(m));
    if (!bad && t) {
        bad = mb_put(&b, t->opt.m, sizeof(float) * t->opt.n);
        if (!bad && t->opt.v) bad = mb_put(&b, t->opt.v, sizeof(float) * t->opt.n);
    }
    if (!bad) {
        uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)b.buf, (uInt)b.len);
        bad = mb_put(&b, &crc, 4);
    }
    mg_status st = bad ? mg_fail(MG_ERR_NOMEM, "out of memory writing %s", path)
                       : mg_write_atomic(path, write_buf, &b);
    free(b.buf);
    return st;
}

mg_status mg_trainer_save(const mg_trainer *t, const char *path)
{
    return save(t->m, t, path);
}

/* Read and verify a whole checkpoint; on success *buf (owned by caller),
 * *hdr (NUL-terminated copy, owned) and *payload (inside buf). */
static mg_status read_checked(const char *path, char **buf, size_t *len, char **hdr,
                              const char **payload, size_t *payload_len)
{
    *buf = NULL;
    *hdr = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return mg_fail(MG_ERR_IO, "cannot open checkpoint %s: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return mg_fail(MG_ERR_IO, "cannot read checkpoint %s", path);
    }
    long sz = ftell(f);
    rewind(f);
    if (sz < 24) {
        fclose(f);
        return mg_fail(MG_ERR_FORMAT, "%s: not a mixgeo checkpoint (too short: %ld bytes)", path,
                       sz);
    }
    char *b = malloc((size_t)sz + 1);
    if (!b) {
        fclose(f);
        return mg_fail(MG_ERR_NOMEM, "out of memory reading %s", path);
    }
    size_t got = fread(b, 1, (size_t)sz, f);
    fclose(f);
    mg_status st = MG_OK;
    uint32_t ver = 0, end = 0, hl = 0, crc = 0;
    if (got != (size_t)sz) {
        st = mg_fail(MG_ERR_IO, "cannot read checkpoint %s", path);
    } else if (memcmp(b, MG_CKPT_MAGIC, 8) != 0) {
        st = mg_fail(MG_ERR_FORMAT, "%s: not a mixgeo checkpoint (bad magic)", path);
    } else {
        memcpy(&ver, b + 8, 4);
        memcpy(&end, b + 12, 4);
        memcpy(&hl, b + 16, 4);
        memcpy(&crc, b + sz - 4, 4);
        if (end != MG_CKPT_ENDIAN)
            st = mg_fail(MG_ERR_FORMAT, "%s: checkpoint written on a machine of other byte order",
                         path);
        else if (ver != MG_CKPT_VERSION)
            st = mg_fail(MG_ERR_FORMAT,
                         "%s: checkpoint version %u, this mixgeo reads version %u (retrain, or "
                         "use the mixgeo that wrote it)", path, ver, MG_CKPT_VERSION);
        else if ((size_t)hl + 24 > (size_t)sz)
            st = mg_fail(MG_ERR_FORMAT, "%s: truncated checkpoint", path);
        else if ((uint32_t)crc32(0L, (const Bytef *)b, (uInt)(sz - 4)) != crc)
            st = mg_fail(MG_ERR_FORMAT, "%s: checksum mismatch (corrupt or truncated checkpoint)",
                         path);
    }
    if (st) {
        free(b);
        return st;
    }
    char *h = malloc(hl + 1);
    if (!h) {
        free(b);
        return mg_fail(MG_ERR_NOMEM, "out of memory reading %s", path);
    }
    memcpy(h, b + 20, hl);
    h[hl] = '\0';
    *buf = b;
    *len = (size_t)sz;
    *hdr = h;
    *payload = b + 20 + hl;
    *payload_len = (size_t)sz - 24 - hl;
    return MG_OK;
}

static mg_status model_from_header(const char *path, const char *hdr, mg_model **out)
{
    char arch[256], act[16], init[16];
    double slope, dropout, noise;
    long long bn;
    if (!hdr_get(hdr, "arch", arch, sizeof arch) || !hdr_get(hdr, "act", act, sizeof act) ||
        !hdr_get(hdr, "init", init, sizeof init) || !hdr_double(hdr, "slope", &slope) ||
        !hdr_double(hdr, "dropout", &dropout) || !hdr_double(hdr, "input_noise", &noise) ||
        !hdr_long(hdr, "batchnorm", &bn))
        return mg_fail(MG_ERR_FORMAT, "%s: checkpoint header lacks the architecture", path);
    mg_arch_opts o = mg_arch_opts_default();
    if (!strcmp(act, "relu")) o.act = MG_ACT_RELU;
    else if (!strcmp(act, "lrelu")) o.act = MG_ACT_LRELU;
    else if (!strcmp(act, "tanh")) o.act = MG_ACT_TANH;
    else if (!strcmp(act, "none")) o.act = MG_ACT_NONE;
    else return mg_fail(MG_ERR_FORMAT, "%s: unknown activation '%s' in checkpoint", path, act);
    o.slope = (float)slope;
    o.dropout = (float)dropout;
    o.input_noise = (float)noise;
    o.batchnorm = (int)bn;
    o.init = strcmp(init, "xavier") == 0 ? MG_INIT_XAVIER : MG_INIT_HE;
    long long ic, ih, iw, cl;
    if (!hdr_long(hdr, "in_c", &ic) || !hdr_long(hdr, "in_h", &ih) ||
        !hdr_long(hdr, "in_w", &iw) || !hdr_long(hdr, "classes", &cl))
        return mg_fail(MG_ERR_FORMAT, "%s: checkpoint header lacks the input shape", path);
    o.in_c = (int)ic, o.in_h = (int)ih, o.in_w = (int)iw, o.classes = (int)cl;
    mg_rng r;
    mg_rng_seed(&r, 0);
    mg_status st = mg_model_create(arch, &o, &r, out);
    if (st) return mg_fail(st, "%s: %s", path, mg_errmsg());
    return MG_OK;
}

/* Copy params and buffers from the payload into m after checking sizes. */
static mg_status load_params(const char *path, const char *hdr, const char *payload,
                             size_t plen, mg_model *m, size_t *used)
{
    long long np, nb;
    if (!hdr_long(hdr, "n_params", &np) || !hdr_long(hdr, "n_buffers", &nb))
        return mg_fail(MG_ERR_FORMAT, "%s: checkpoint header lacks sizes", path);
    if ((size_t)np != mg_model_n_params(m) || (size_t)nb != mg_model_n_buffers(m))
        return mg_fail(MG_ERR_FORMAT,
                       "%s: checkpoint has %lld parameters, the model %s has %zu", path, np,
                       mg_model_arch(m), mg_model_n_params(m));
    size_t need = sizeof(float) * (size_t)(np + nb);
    if (plen < need) return mg_fail(MG_ERR_FORMAT, "%s: truncated checkpoint", path);
    memcpy(mg_model_params(m), payload, sizeof(float) * (size_t)np);
    memcpy(mg_model_buffers(m), payload + sizeof(float) * (size_t)np, sizeof(float) * (size_t)nb);
    *used = need;
    return MG_OK;
}

mg_status mg_checkpoint_load_model(const char *path, mg_model **out)
{
    *out = NULL;
    char *buf, *hdr;
    const char *payload;
    size_t len, plen, used;
    mg_status st = read_checked(path, &buf, &len, &hdr, &payload, &plen);
    if (st) return st;
    mg_model *m = NULL;
    st = model_from_header(path, hdr, &m);
    if (!st) st = load_params(path, hdr, payload, plen, m, &used);
    free(buf);
    free(hdr);
    if (st) {
        mg_model_free(m);
        return st;
    }
    *out = m;
    return MG_OK;
}

mg_status mg_trainer_load(mg_trainer *t, const char *path)
{
    char *buf, *hdr;
    const char *payload;
    size_t len, plen, used = 0;
    mg_status st = read_checked(path, &buf, &len, &hdr, &payload, &plen);
    if (st) return st;
    char arch[256];
    long long is_tr = 0, epoch, step, batch, spe, ntr, seed, optk, opt_t, has_v, corr, seen;
    double loss_sum, secs, last_lr;
    if (!hdr_get(hdr, "arch", arch, sizeof arch) || !hdr_long(hdr, "trainer", &is_tr)) {
        st = mg_fail(MG_ERR_FORMAT, "%s: checkpoint header is incomplete", path);
    } else if (!is_tr) {
        st = mg_fail(MG_ERR_FORMAT, "%s: holds a model only, no training state to resume", path);
    } else if (strcmp(arch, mg_model_arch(t->m)) != 0) {
        st = mg_fail(MG_ERR_CONFIG, "%s: checkpoint is of --arch %s, the run asks for %s", path,
                     arch, mg_model_arch(t->m));
    } else if (!hdr_long(hdr, "epoch", &epoch) || !hdr_long(hdr, "step", &step) ||
               !hdr_long(hdr, "batch", &batch) || !hdr_long(hdr, "steps_per_epoch", &spe) ||
               !hdr_long(hdr, "n_train", &ntr) || !hdr_long(hdr, "seed", &seed) ||
               !hdr_long(hdr, "optim", &optk) || !hdr_long(hdr, "opt_t", &opt_t) ||
               !hdr_long(hdr, "opt_has_v", &has_v) || !hdr_long(hdr, "ep_correct", &corr) ||
               !hdr_long(hdr, "ep_seen", &seen) || !hdr_double(hdr, "ep_loss_sum", &loss_sum) ||
               !hdr_double(hdr, "ep_seconds", &secs) || !hdr_double(hdr, "last_lr", &last_lr)) {
        st = mg_fail(MG_ERR_FORMAT, "%s: checkpoint header lacks the training state", path);
    } else if (batch != t->batch || spe != t->steps_per_epoch || ntr != t->train->n ||
               (uint64_t)seed != t->cfg.seed || optk != (long long)t->cfg.optim.kind ||
               has_v != (t->opt.v != NULL)) {
        st = mg_fail(MG_ERR_CONFIG,
                     "%s: checkpoint was written with batch %lld, %lld training examples, seed "
                     "%lld, optimiser %lld; this run has batch %d, %d examples, seed %llu, "
                     "optimiser %d", path, batch, ntr, seed, optk, t->batch, t->train->n,
                     (unsigned long long)t->cfg.seed, (int)t->cfg.optim.kind);
    } else if (epoch < 0 || step < 0 || step > spe) {
        st = mg_fail(MG_ERR_FORMAT, "%s: bad position epoch %lld step %lld", path, epoch, step);
    } else {
        st = load_params(path, hdr, payload, plen, t->m, &used);
        size_t nopt = sizeof(float) * t->opt.n * (has_v ? 2 : 1);
        if (!st && plen - used != nopt)
            st = mg_fail(MG_ERR_FORMAT, "%s: optimiser state has the wrong size", path);
        if (!st) {
            memcpy(t->opt.m, payload + used, sizeof(float) * t->opt.n);
            if (has_v) memcpy(t->opt.v, payload + used + sizeof(float) * t->opt.n,
                              sizeof(float) * t->opt.n);
            t->opt.t = opt_t;
            t->epoch = (int)epoch;
            t->step = (int)step;
            t->ep_loss_sum = loss_sum;
            t->ep_seconds = secs;
            t->last_lr = last_lr;
            t->ep_correct = corr;
            t->ep_seen = seen;
            t->order_epoch = -1;
        }
    }
    free(buf);
    free(hdr);
    return st;
}
