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
 * Files are written atomically and durably (mg_write_atomic).  Reading
 * validates everything before a model is built: see "reading" below. */
#include "train_internal.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static mg_status write_buf(FILE *f, void *user)
{
    membuf *b = user;
    /* the message is the errno's; mg_write_atomic puts the file's name in front */
    if (fwrite(b->buf, 1, b->len, f) != b->len)
        return mg_fail(MG_ERR_IO, "%s", errno ? strerror(errno) : "short write");
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
                     mg_model_arch(m), act_name(o->act), (double)o->slope, o->batchnorm != 0,
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

/* ---------------------------------------------------------------- reading */

/* Reading validates the whole file before anything is built (a crc32 only
 * catches accidents, so every field is range-checked as if the file were
 * crafted):
 *  1. the fixed prefix: magic, byte order, version, 1 <= header_len <= 4096;
 *  2. the header: printable "key=value\n" lines, every key known, none
 *     twice, the model's keys (and a trainer's iff trainer=1) present, every
 *     value in range and the counters consistent with each other;
 *  3. the architecture: checked and sized by mg_arch_check (nothing is
 *     allocated), its sizes equal to the header's n_params, n_buffers, classes;
 *  4. the file's size == what the header implies, exactly;
 *  5. only then the file is read whole (its size is now proven) and its
 *     crc32 verified, and the caller builds or fills a model from it. */

#define CKPT_PREFIX 20           /* magic, version, endian, header_len */
#define CKPT_MAX_HEADER 4096     /* save() writes less than this */

enum {
    K_ARCH, K_ACT, K_SLOPE, K_BATCHNORM, K_DROPOUT, K_INPUT_NOISE, K_INIT, K_IN_C, K_IN_H,
    K_IN_W, K_CLASSES, K_N_PARAMS, K_N_BUFFERS, K_TRAINER,
    K_FIRST_TRAINER, /* the trainer's keys from here */
    K_EPOCH = K_FIRST_TRAINER, K_STEP, K_BATCH, K_STEPS_PER_EPOCH, K_N_TRAIN, K_SEED, K_OPTIM,
    K_OPT_T, K_OPT_HAS_V, K_EP_LOSS_SUM, K_EP_SECONDS, K_LAST_LR, K_EP_CORRECT, K_EP_SEEN,
    K_COUNT
};
static const char *const k_keys[K_COUNT] = {
    "arch", "act", "slope", "batchnorm", "dropout", "input_noise", "init", "in_c", "in_h",
    "in_w", "classes", "n_params", "n_buffers", "trainer",
    "epoch", "step", "batch", "steps_per_epoch", "n_train", "seed", "optim", "opt_t",
    "opt_has_v", "ep_loss_sum", "ep_seconds", "last_lr", "ep_correct", "ep_seen"};

/* A checkpoint's header, decoded and validated. */
typedef struct {
    char arch[MG_ARCH_MAX_LEN + 1];
    mg_arch_opts opts;
    size_t n_params, n_buffers;
    int trainer;
    /* trainer only */
    int epoch, step, batch, steps_per_epoch, n_train, optim, opt_has_v;
    uint64_t seed;
    int64_t opt_t, ep_correct, ep_seen;
    double ep_loss_sum, ep_seconds, last_lr;
    size_t file_size; /* = CKPT_PREFIX + header_len + payload + 4 */
    uint32_t header_len;
} ckpt_header;

/* The header's values: pointers into the caller's copy of the text. */
typedef struct {
    const char *path;
    const char *val[K_COUNT];
} hdr_fields;

static mg_status bad_value(const hdr_fields *h, int k, const char *why)
{
    return mg_fail(MG_ERR_FORMAT, "%s: bad checkpoint header: %s=%.64s: %s", h->path, k_keys[k],
                   h->val[k], why);
}

/* A decimal integer: optional '-', 1..19 digits, nothing else; in lo..hi. */
static mg_status get_int(const hdr_fields *h, int k, long long lo, long long hi, long long *out)
{
    const char *v = h->val[k], *p = v + (*v == '-');
    size_t nd = strspn(p, "0123456789");
    char why[96];
    snprintf(why, sizeof why, "must be an integer in %lld..%lld", lo, hi);
    if (nd == 0 || nd > 19 || p[nd] != '\0') return bad_value(h, k, why);
    errno = 0;
    long long x = strtoll(v, NULL, 10);
    if (errno || x < lo || x > hi) return bad_value(h, k, why);
    *out = x;
    return MG_OK;
}

static mg_status get_u64(const hdr_fields *h, int k, uint64_t *out)
{
    const char *v = h->val[k];
    size_t nd = strspn(v, "0123456789");
    if (nd == 0 || nd > 20 || v[nd] != '\0') return bad_value(h, k, "must be an unsigned integer");
    errno = 0;
    unsigned long long x = strtoull(v, NULL, 10);
    if (errno) return bad_value(h, k, "must be an unsigned 64-bit integer");
    *out = (uint64_t)x;
    return MG_OK;
}

/* A finite number (save() writes C99 hex floats) in lo..hi. */
static mg_status get_double(const hdr_fields *h, int k, double lo, double hi, double *out)
{
    const char *v = h->val[k];
    char *end;
    char why[96];
    snprintf(why, sizeof why, "must be a number in %g..%g", lo, hi);
    if (!*v || isspace((unsigned char)*v)) return bad_value(h, k, why);
    double x = strtod(v, &end);
    if (*end != '\0' || !isfinite(x) || x < lo || x > hi) return bad_value(h, k, why);
    *out = x;
    return MG_OK;
}

/* Split the header text (modified in place) into its fields. */
static mg_status split_header(char *text, size_t len, hdr_fields *h)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch != '\n' && (ch < 0x20 || ch > 0x7e))
            return mg_fail(MG_ERR_FORMAT,
                           "%s: bad checkpoint header: byte %zu is 0x%02x (not printable text)",
                           h->path, i, ch);
    }
    if (len == 0 || text[len - 1] != '\n')
        return mg_fail(MG_ERR_FORMAT, "%s: bad checkpoint header: does not end with a newline",
                       h->path);
    int line = 0;
    for (char *p = text; p < text + len; line++) {
        char *nl = strchr(p, '\n'), *eq = memchr(p, '=', (size_t)(nl - p));
        *nl = '\0';
        if (!eq || eq == p)
            return mg_fail(MG_ERR_FORMAT, "%s: bad checkpoint header: line %d '%.64s' is not "
                           "key=value", h->path, line + 1, p);
        *eq = '\0';
        int k = 0;
        while (k < K_COUNT && strcmp(k_keys[k], p) != 0) k++;
        if (k == K_COUNT)
            return mg_fail(MG_ERR_FORMAT, "%s: bad checkpoint header: line %d: unknown key "
                           "'%.64s'", h->path, line + 1, p);
        if (h->val[k])
            return mg_fail(MG_ERR_FORMAT, "%s: bad checkpoint header: line %d: key '%s' given "
                           "twice", h->path, line + 1, p);
        h->val[k] = eq + 1;
        p = nl + 1;
    }
    return MG_OK;
}

static int arch_charset_ok(const char *a)
{
    size_t n = strlen(a);
    return n >= 1 && n <= MG_ARCH_MAX_LEN && strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789:-") == n;
}

/* Decode and range-check every field; check the architecture and the
 * counters' consistency; compute the file size the header implies. */
static mg_status decode_header(hdr_fields *h, ckpt_header *c)
{
    int missing = -1;
    for (int k = 0; k < K_FIRST_TRAINER && missing < 0; k++)
        if (!h->val[k]) missing = k;
    if (missing >= 0)
        return mg_fail(MG_ERR_FORMAT, "%s: bad checkpoint header: no key '%s'", h->path,
                       k_keys[missing]);
    mg_status st;
    long long x;
    double d;
    if ((st = get_int(h, K_TRAINER, 0, 1, &x))) return st;
    c->trainer = (int)x;
    for (int k = K_FIRST_TRAINER; k < K_COUNT; k++) {
        if (c->trainer && !h->val[k])
            return mg_fail(MG_ERR_FORMAT, "%s: bad checkpoint header: trainer=1 without key '%s'",
                           h->path, k_keys[k]);
        if (!c->trainer && h->val[k])
            return mg_fail(MG_ERR_FORMAT, "%s: bad checkpoint header: key '%s' in a model-only "
                           "checkpoint (trainer=0)", h->path, k_keys[k]);
    }

    /* the model */
    if (!arch_charset_ok(h->val[K_ARCH]))
        return bad_value(h, K_ARCH, "must be 1..255 characters of a-z, 0-9, ':' and '-'");
    memcpy(c->arch, h->val[K_ARCH], strlen(h->val[K_ARCH]) + 1);
    mg_arch_opts *o = &c->opts;
    *o = mg_arch_opts_default();
    const char *act = h->val[K_ACT];
    if (!strcmp(act, "relu")) o->act = MG_ACT_RELU;
    else if (!strcmp(act, "lrelu")) o->act = MG_ACT_LRELU;
    else if (!strcmp(act, "tanh")) o->act = MG_ACT_TANH;
    else if (!strcmp(act, "none")) o->act = MG_ACT_NONE;
    else return bad_value(h, K_ACT, "must be relu, lrelu, tanh or none");
    const char *init = h->val[K_INIT];
    if (!strcmp(init, "he")) o->init = MG_INIT_HE;
    else if (!strcmp(init, "xavier")) o->init = MG_INIT_XAVIER;
    else return bad_value(h, K_INIT, "must be he or xavier");
    /* the slope matters (and mg_arch_check limits it) for lrelu only; any
     * float is a valid setting otherwise, so only its conversion is guarded */
    if ((st = get_double(h, K_SLOPE, -FLT_MAX, FLT_MAX, &d))) return st;
    o->slope = (float)d;
    if ((st = get_double(h, K_DROPOUT, 0.0, 1.0, &d))) return st;
    o->dropout = (float)d;
    if ((st = get_double(h, K_INPUT_NOISE, 0.0, FLT_MAX, &d))) return st;
    o->input_noise = (float)d;
    if ((st = get_int(h, K_BATCHNORM, 0, 1, &x))) return st;
    o->batchnorm = (int)x;
    int *shape[3] = {&o->in_c, &o->in_h, &o->in_w};
    for (int i = 0; i < 3; i++) {
        if ((st = get_int(h, K_IN_C + i, 0, MG_ARCH_MAX_FEATURES, &x))) return st;
        *shape[i] = (int)x;
    }
    if ((st = get_int(h, K_CLASSES, 2, MG_ARCH_MAX_FEATURES, &x))) return st;
    o->classes = (int)x;
    long long np, nb;
    if ((st = get_int(h, K_N_PARAMS, 0, MG_ARCH_MAX_PARAMS, &np)) ||
        (st = get_int(h, K_N_BUFFERS, 0, MG_ARCH_MAX_PARAMS, &nb)))
        return st;
    c->n_params = (size_t)np;
    c->n_buffers = (size_t)nb;
    /* the architecture, sized without building it (the same code as
     * mg_model_create: what passes here builds) */
    mg_arch_sizes sz;
    st = mg_arch_check(c->arch, o, &sz);
    if (st) return mg_fail_prefix(st == MG_ERR_CONFIG ? MG_ERR_FORMAT : st,
                                  "%s: checkpoint of an invalid architecture: ", h->path);
    if (sz.n_params != c->n_params || sz.n_buffers != c->n_buffers || sz.classes != o->classes)
        return mg_fail(MG_ERR_FORMAT,
                       "%s: bad checkpoint header: n_params=%zu, n_buffers=%zu, classes=%d, but "
                       "the architecture %s has %zu parameters, %zu buffers, %d classes",
                       h->path, c->n_params, c->n_buffers, o->classes, c->arch, sz.n_params,
                       sz.n_buffers, sz.classes);
    size_t floats = c->n_params + c->n_buffers;

    /* the trainer: its counters must describe a position the trainer can
     * reach (so that nothing downstream can overflow or trip an assert) */
    if (c->trainer) {
        if ((st = get_int(h, K_N_TRAIN, 1, INT_MAX, &x))) return st;
        c->n_train = (int)x;
        if ((st = get_int(h, K_BATCH, 1, c->n_train, &x))) return st;
        c->batch = (int)x;
        long long spe = (c->n_train + (long long)c->batch - 1) / c->batch;
        if ((st = get_int(h, K_STEPS_PER_EPOCH, spe, spe, &x))) return st;
        c->steps_per_epoch = (int)x;
        if ((st = get_int(h, K_EPOCH, 0, INT_MAX - 1, &x))) return st;
        c->epoch = (int)x;
        if ((st = get_int(h, K_STEP, 0, c->steps_per_epoch, &x))) return st;
        c->step = (int)x;
        if ((st = get_u64(h, K_SEED, &c->seed))) return st;
        if ((st = get_int(h, K_OPTIM, MG_OPT_SGD, MG_OPT_ADAM, &x))) return st;
        c->optim = (int)x;
        int want_v = c->optim == MG_OPT_ADAM;
        if ((st = get_int(h, K_OPT_HAS_V, want_v, want_v, &x))) return st;
        c->opt_has_v = (int)x;
        /* one optimiser step per training step: t = the global step */
        long long gstep = (long long)c->epoch * c->steps_per_epoch + c->step;
        if ((st = get_int(h, K_OPT_T, gstep, gstep, &x))) return st;
        c->opt_t = x;
        /* the examples of the epoch's first `step` batches */
        long long seen = (long long)c->step * c->batch;
        if (seen > c->n_train) seen = c->n_train;
        if ((st = get_int(h, K_EP_SEEN, seen, seen, &x))) return st;
        c->ep_seen = x;
        if ((st = get_int(h, K_EP_CORRECT, 0, seen, &x))) return st;
        c->ep_correct = x;
        if ((st = get_double(h, K_EP_LOSS_SUM, -1e300, 1e300, &c->ep_loss_sum)) ||
            (st = get_double(h, K_EP_SECONDS, 0.0, 1e300, &c->ep_seconds)) ||
            (st = get_double(h, K_LAST_LR, 0.0, 1e300, &c->last_lr)))
            return st;
        floats += c->n_params * (c->opt_has_v ? 2u : 1u);
    }
    c->file_size = CKPT_PREFIX + (size_t)c->header_len + sizeof(float) * floats + 4;
    return MG_OK;
}

/* Steps 1-5 above: on success *buf holds the whole file (owned by the
 * caller), *c its decoded header, *payload the floats after the header. */
static mg_status read_checked(const char *path, ckpt_header *c, char **buf, const char **payload)
{
    *buf = NULL;
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "rb");
    if (!f) return mg_fail(MG_ERR_IO, "cannot open checkpoint %s: %s", path, strerror(errno));
    struct stat sb;
    mg_status st = MG_OK;
    unsigned char pre[CKPT_PREFIX];
    char text[CKPT_MAX_HEADER + 1];
    uint32_t ver = 0, end = 0, hl = 0;
    if (fstat(fileno(f), &sb) != 0) {
        st = mg_fail(MG_ERR_IO, "cannot read checkpoint %s: %s", path, strerror(errno));
    } else if (!S_ISREG(sb.st_mode)) {
        st = mg_fail(MG_ERR_FORMAT, "%s: not a mixgeo checkpoint (not a regular file)", path);
    } else if (sb.st_size < CKPT_PREFIX + 4) {
        st = mg_fail(MG_ERR_FORMAT, "%s: not a mixgeo checkpoint (too short: %lld bytes)", path,
                     (long long)sb.st_size);
    } else if (fread(pre, 1, CKPT_PREFIX, f) != CKPT_PREFIX) {
        st = mg_fail(MG_ERR_IO, "cannot read checkpoint %s: %s", path,
                     ferror(f) ? strerror(errno) : "unexpected end of file");
    } else if (memcmp(pre, MG_CKPT_MAGIC, 8) != 0) {
        st = mg_fail(MG_ERR_FORMAT, "%s: not a mixgeo checkpoint (bad magic)", path);
    } else {
        memcpy(&ver, pre + 8, 4);
        memcpy(&end, pre + 12, 4);
        memcpy(&hl, pre + 16, 4);
        if (end != MG_CKPT_ENDIAN)
            st = mg_fail(MG_ERR_FORMAT, "%s: checkpoint written on a machine of other byte order",
                         path);
        else if (ver != MG_CKPT_VERSION)
            st = mg_fail(MG_ERR_FORMAT,
                         "%s: checkpoint version %u, this mixgeo reads version %u (retrain, or "
                         "use the mixgeo that wrote it)", path, ver, MG_CKPT_VERSION);
        else if (hl < 1 || hl > CKPT_MAX_HEADER)
            st = mg_fail(MG_ERR_FORMAT, "%s: bad checkpoint: header length %u (must be 1..%d)",
                         path, hl, CKPT_MAX_HEADER);
        else if ((long long)CKPT_PREFIX + hl + 4 > (long long)sb.st_size)
            st = mg_fail(MG_ERR_FORMAT, "%s: truncated checkpoint (%lld bytes, the header alone "
                         "needs %u)", path, (long long)sb.st_size, CKPT_PREFIX + hl + 4);
        else if (fread(text, 1, hl, f) != hl)
            st = mg_fail(MG_ERR_IO, "cannot read checkpoint %s: %s", path,
                         ferror(f) ? strerror(errno) : "unexpected end of file");
    }
    if (!st) {
        text[hl] = '\0';
        hdr_fields h;
        memset(&h, 0, sizeof h);
        h.path = path;
        c->header_len = hl;
        st = split_header(text, hl, &h);
        if (!st) st = decode_header(&h, c);
    }
    if (!st && (long long)c->file_size != (long long)sb.st_size)
        st = mg_fail(MG_ERR_FORMAT,
                     "%s: %s checkpoint: %lld bytes, its header (%s, %zu parameters%s) implies "
                     "%zu", path, (long long)sb.st_size < (long long)c->file_size ? "truncated"
                                                                              : "corrupt",
                     (long long)sb.st_size, c->arch, c->n_params,
                     c->trainer ? ", training state" : "", c->file_size);
    char *b = NULL;
    if (!st) {
        /* the size is proven: the file holds this many bytes */
        b = malloc(c->file_size);
        if (!b) st = mg_fail(MG_ERR_NOMEM, "out of memory reading %s", path);
    }
    if (!st) {
        rewind(f);
        if (fread(b, 1, c->file_size, f) != c->file_size)
            st = mg_fail(MG_ERR_IO, "cannot read checkpoint %s: %s", path,
                         ferror(f) ? strerror(errno) : "the file shrank while being read");
    }
    fclose(f);
    if (!st) {
        uint32_t crc;
        memcpy(&crc, b + c->file_size - 4, 4);
        uLong z = crc32(0L, Z_NULL, 0);
        /* crc32 takes a uInt length: chunks for files of 4 GiB and more */
        for (size_t off = 0, n; off < c->file_size - 4; off += n) {
            n = c->file_size - 4 - off;
            if (n > (1u << 30)) n = 1u << 30;
            z = crc32(z, (const Bytef *)b + off, (uInt)n);
        }
        if ((uint32_t)z != crc)
            st = mg_fail(MG_ERR_FORMAT, "%s: checksum mismatch (corrupt checkpoint)", path);
    }
    if (st) {
        free(b);
        return st;
    }
    *buf = b;
    *payload = b + CKPT_PREFIX + hl;
    return MG_OK;
}

mg_status mg_checkpoint_load_model(const char *path, mg_model **out)
{
    *out = NULL;
    ckpt_header c;
    char *buf;
    const char *payload;
    mg_status st = read_checked(path, &c, &buf, &payload);
    if (st) return st;
    mg_model *m = NULL;
    st = mg_model_create(c.arch, &c.opts, NULL, &m); /* checked: fails only for memory */
    if (st) {
        free(buf);
        return mg_fail_prefix(st, "%s: ", path);
    }
    MG_ASSERT(mg_model_n_params(m) == c.n_params && mg_model_n_buffers(m) == c.n_buffers);
    memcpy(mg_model_params(m), payload, sizeof(float) * c.n_params);
    memcpy(mg_model_buffers(m), payload + sizeof(float) * c.n_params,
           sizeof(float) * c.n_buffers);
    free(buf);
    *out = m;
    return MG_OK;
}

/* The first option of the checkpoint's model that differs from m's, as
 * "--act relu, the run has tanh"; "" when they agree. */
static void opts_difference(const ckpt_header *c, const mg_model *m, char *buf, size_t len)
{
    const mg_arch_opts *a = &c->opts, *b = mg_model_opts(m);
    buf[0] = '\0';
    if (a->act != b->act)
        snprintf(buf, len, "--act %s, the run has %s", act_name(a->act), act_name(b->act));
    else if (a->act == MG_ACT_LRELU && a->slope != b->slope)
        snprintf(buf, len, "--slope %g, the run has %g", a->slope, b->slope);
    else if ((a->batchnorm != 0) != (b->batchnorm != 0))
        snprintf(buf, len, "--batchnorm %d, the run has %d", a->batchnorm, b->batchnorm != 0);
    else if (a->dropout != b->dropout)
        snprintf(buf, len, "--dropout %g, the run has %g", a->dropout, b->dropout);
    else if (a->input_noise != b->input_noise)
        snprintf(buf, len, "--input-noise %g, the run has %g", a->input_noise, b->input_noise);
    else if (c->opts.classes != mg_model_classes(m))
        snprintf(buf, len, "%d classes, the run has %d", c->opts.classes, mg_model_classes(m));
    else if ((!strncmp(c->arch, "cnn:", 4) || !strncmp(c->arch, "preact", 6)) &&
             (a->in_c != b->in_c || a->in_h != b->in_h || a->in_w != b->in_w))
        snprintf(buf, len, "input %d x %d x %d, the run has %d x %d x %d", a->in_c, a->in_h,
                 a->in_w, b->in_c, b->in_h, b->in_w);
}

mg_status mg_trainer_load(mg_trainer *t, const char *path)
{
    ckpt_header c;
    char *buf;
    const char *payload;
    mg_status st = read_checked(path, &c, &buf, &payload);
    if (st) return st;
    char diff[160];
    if (!c.trainer) {
        st = mg_fail(MG_ERR_FORMAT, "%s: holds a model only, no training state to resume", path);
    } else if (strcmp(c.arch, mg_model_arch(t->m)) != 0) {
        st = mg_fail(MG_ERR_CONFIG, "%s: checkpoint is of --arch %s, the run asks for %s", path,
                     c.arch, mg_model_arch(t->m));
    } else if (opts_difference(&c, t->m, diff, sizeof diff), diff[0]) {
        st = mg_fail(MG_ERR_CONFIG, "%s: checkpoint is of another model: %s", path, diff);
    } else if (c.n_params != mg_model_n_params(t->m) || c.n_buffers != mg_model_n_buffers(t->m) ||
               c.n_params != t->opt.n) {
        st = mg_fail(MG_ERR_CONFIG, "%s: checkpoint has %zu parameters, the model %s has %zu",
                     path, c.n_params, mg_model_arch(t->m), mg_model_n_params(t->m));
    } else if (c.batch != t->batch || c.steps_per_epoch != t->steps_per_epoch ||
               c.n_train != t->train->n || c.seed != t->cfg.seed ||
               c.optim != (int)t->cfg.optim.kind || c.opt_has_v != (t->opt.v != NULL)) {
        st = mg_fail(MG_ERR_CONFIG,
                     "%s: checkpoint was written with batch %d, %d training examples, seed "
                     "%llu, optimiser %d; this run has batch %d, %d examples, seed %llu, "
                     "optimiser %d", path, c.batch, c.n_train, (unsigned long long)c.seed,
                     c.optim, t->batch, t->train->n, (unsigned long long)t->cfg.seed,
                     (int)t->cfg.optim.kind);
    } else {
        /* everything checked: fill the trainer */
        size_t np = c.n_params, nb = c.n_buffers;
        const char *p = payload;
        memcpy(mg_model_params(t->m), p, sizeof(float) * np);
        p += sizeof(float) * np;
        memcpy(mg_model_buffers(t->m), p, sizeof(float) * nb);
        p += sizeof(float) * nb;
        memcpy(t->opt.m, p, sizeof(float) * np);
        p += sizeof(float) * np;
        if (c.opt_has_v) memcpy(t->opt.v, p, sizeof(float) * np);
        t->opt.t = c.opt_t;
        t->epoch = c.epoch;
        t->step = c.step;
        t->ep_loss_sum = c.ep_loss_sum;
        t->ep_seconds = c.ep_seconds;
        t->last_lr = c.last_lr;
        t->ep_correct = c.ep_correct;
        t->ep_seen = c.ep_seen;
        t->order_epoch = -1;
    }
    free(buf);
    return st;
}
