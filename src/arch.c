/* arch.c - the architecture grammar and the plan of a model's layers (see
 * arch.h): MLP widths "784-512-10", PreActResNets "preact:16-32-64x2" and
 * "preact-authors:...", plain convolutional nets "cnn:c32k5-m2-...".
 *
 * Every layer record gets its ops here (mg_layer_ops_default: one object
 * per kind); a planner that chooses another algorithm for a layer (e.g. a
 * conv2d through oneDNN) sets l->ops to that object instead. */
#include "arch.h"
#include "conv_backend.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- ops table */

static const mg_layer_ops *const ops_table[MG_LAYER_KIND_COUNT] = {
    [MG_LAYER_DENSE] = &mg_dense_ops,
    [MG_LAYER_BN1D] = &mg_bn1d_ops,
    [MG_LAYER_RELU] = &mg_relu_ops,
    [MG_LAYER_LRELU] = &mg_lrelu_ops,
    [MG_LAYER_TANH] = &mg_tanh_ops,
    [MG_LAYER_DROPOUT] = &mg_dropout_ops,
    [MG_LAYER_NOISE] = &mg_noise_ops,
    [MG_LAYER_CONV2D] = &mg_conv2d_ops,
    [MG_LAYER_BN2D] = &mg_bn2d_ops,
    [MG_LAYER_MAXPOOL] = &mg_maxpool_ops,
    [MG_LAYER_AVGPOOL] = &mg_avgpool_ops,
    [MG_LAYER_GAP] = &mg_gap_ops,
    [MG_LAYER_PREACT] = &mg_preact_ops,
};

const mg_layer_ops *mg_layer_ops_default(mg_layer_kind kind)
{
    MG_ASSERT((unsigned)kind < MG_LAYER_KIND_COUNT && ops_table[kind]);
    return ops_table[kind];
}

mg_arch_opts mg_arch_opts_default(void)
{
    mg_arch_opts o = {.act = MG_ACT_RELU, .slope = 0.01f, .init = MG_INIT_HE};
    return o;
}

/* ---------------------------------------------------------------- size limits */

/* The one size limit of every architecture syntax (MLP widths, cnn:,
 * preact:): at most MG_ARCH_MAX_FEATURES features per example in any state
 * (input, every layer's output) and MG_ARCH_MAX_PARAMS parameters in all.
 * Sizes are computed in long long and checked before they become an int,
 * so no product of widths and image sides can overflow. */

#define FEATURES_HUGE LLONG_MAX /* a product beyond every limit (not computed) */

/* a * b for 0 <= a, b, or FEATURES_HUGE when it exceeds MG_ARCH_MAX_FEATURES
 * (so any two ints, or a feature count and an int, multiply safely). */
static long long features_mul(long long a, long long b)
{
    if (a != 0 && b > MG_ARCH_MAX_FEATURES / a) return FEATURES_HUGE;
    return a * b;
}

/* MG_OK if a state of `features` per example (>= 1) is allowed, else
 * MG_ERR_CONFIG "--arch 'A': WHERE: N features per example (at most M)". */
static mg_status arch_features(const char *arch, const char *where, long long features)
{
    if (features >= 1 && features <= MG_ARCH_MAX_FEATURES) return MG_OK;
    if (features == FEATURES_HUGE)
        return mg_fail(MG_ERR_CONFIG, "--arch '%s': %s: more than %ld features per example",
                       arch, where, (long)MG_ARCH_MAX_FEATURES);
    return mg_fail(MG_ERR_CONFIG, "--arch '%s': %s: %lld features per example (at most %ld)",
                   arch, where, features, (long)MG_ARCH_MAX_FEATURES);
}

static mg_status parse_widths(const char *arch, int *dims, int *count)
{
    const char *p = arch;
    int c = 0;
    if (!*p) return mg_fail(MG_ERR_CONFIG, "--arch: empty architecture");
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return mg_fail(MG_ERR_CONFIG,
                           "--arch '%s': expected widths like 784-512-10 (at '%s')", arch, p);
        errno = 0;
        char *end;
        long v = strtol(p, &end, 10);
        if (errno || v <= 0 || v > MG_ARCH_MAX_WIDTH)
            return mg_fail(MG_ERR_CONFIG, "--arch '%s': width out of range 1..%ld at '%s'", arch,
                           (long)MG_ARCH_MAX_WIDTH, p);
        if (c > MG_MAX_BLOCKS)
            return mg_fail(MG_ERR_CONFIG, "--arch '%s': more than %d blocks", arch, MG_MAX_BLOCKS);
        dims[c++] = (int)v;
        p = end;
        if (*p == '-') {
            p++;
            if (!*p) return mg_fail(MG_ERR_CONFIG, "--arch '%s': trailing '-'", arch);
        } else if (*p) {
            return mg_fail(MG_ERR_CONFIG, "--arch '%s': unexpected '%c'", arch, *p);
        }
    }
    if (c < 2)
        return mg_fail(MG_ERR_CONFIG, "--arch '%s': need at least an input and an output width",
                       arch);
    *count = c;
    return MG_OK;
}

/* Count the layer added last: its arena offsets, and the totals.  A builder
 * only ever edits the layer it added last, so its sizes are final when the
 * next one is added (and at the end: mg_plan_arch calls this once more). */
static void count_pending(mg_plan *pl)
{
    mg_layer *l = pl->pending;
    if (!l) return;
    l->p_off = pl->n_params;
    l->b_off = pl->n_buffers;
    pl->n_params += l->n_p;
    pl->n_buffers += l->n_b;
    pl->pending = NULL;
}

/* Parameter and buffer counts of l from its shape (n_p, n_b; 0 for ops
 * without sizes). */
static void layer_sizes(mg_layer *l)
{
    if (l->ops->sizes)
        l->ops->sizes(l);
    else
        l->n_p = l->n_b = 0;
}

/* He gain^2 of the options' activation, for the init of the dense or conv
 * layer it follows (1 without one, as for tanh). */
static float act_gain2(const mg_arch_opts *o)
{
    if (o->act == MG_ACT_LRELU) return 2.0f / (1.0f + o->slope * o->slope);
    if (o->act == MG_ACT_TANH || o->act == MG_ACT_NONE) return 1.0f;
    return 2.0f;
}

/* The next layer: a record of pl->layers, or while only sizing (pl->layers
 * NULL) the one scratch record.  Its ops are the kind's default; its init
 * gain that of the options' activation (a builder overrides both where
 * they differ). */
static mg_layer *add_layer(mg_plan *pl, mg_layer_kind kind, int block, int in, int out,
                           float param)
{
    count_pending(pl);
    mg_layer *l = pl->layers ? &pl->layers[pl->nl] : &pl->scratch;
    pl->nl++;
    pl->pending = l;
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->ops = mg_layer_ops_default(kind);
    l->block = block;
    l->in = in;
    l->out = out;
    l->param = param;
    l->gain2 = act_gain2(&pl->opts);
    layer_sizes(l);
    return l;
}

/* The dense layer to the logits (He gain 1). */
static void add_logits(mg_plan *pl, int b, int in, int classes)
{
    mg_layer *l = add_layer(pl, MG_LAYER_DENSE, b, in, classes, 0.0f);
    l->gain2 = 1.0f;
}

/* The activation of the options over w features (none for MG_ACT_NONE). */
static void add_act(mg_plan *pl, int b, int w)
{
    const mg_arch_opts *o = &pl->opts;
    switch (o->act) {
    case MG_ACT_RELU: add_layer(pl, MG_LAYER_RELU, b, w, w, 0.0f); break;
    case MG_ACT_LRELU: add_layer(pl, MG_LAYER_LRELU, b, w, w, o->slope); break;
    case MG_ACT_TANH: add_layer(pl, MG_LAYER_TANH, b, w, w, 0.0f); break;
    case MG_ACT_NONE: break;
    }
}

/* A hidden dense block's layers: dense, [bn1d], activation, [dropout]. */
static void add_hidden_dense(mg_plan *pl, int b, int in, int w)
{
    const mg_arch_opts *o = &pl->opts;
    add_layer(pl, MG_LAYER_DENSE, b, in, w, 0.0f);
    if (o->batchnorm) add_layer(pl, MG_LAYER_BN1D, b, w, w, 0.0f);
    add_act(pl, b, w);
    if (o->dropout > 0.0f) add_layer(pl, MG_LAYER_DROPOUT, b, w, w, o->dropout);
}

/* MLP blocks from widths dims[0..L]. */
static void build_mlp(mg_plan *pl, const int *dims)
{
    const mg_arch_opts *o = &pl->opts;
    for (int b = 1; b <= pl->L; b++) {
        pl->first[b] = pl->nl;
        int in = dims[b - 1], w = dims[b];
        if (b == 1 && o->input_noise > 0.0f) add_layer(pl, MG_LAYER_NOISE, b, in, in, o->input_noise);
        if (b == pl->L)
            add_logits(pl, b, in, w);
        else
            add_hidden_dense(pl, b, in, w);
    }
}

/* "16-32-64x2" -> stage widths and blocks per stage. */
static mg_status parse_preact(const char *arch, const char *spec, int *widths, int *n, int *per)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    char *x = strchr(buf, 'x');
    *per = 2;
    if (x) {
        *x = '\0';
        char *end;
        errno = 0;
        long v = strtol(x + 1, &end, 10);
        if (errno || end == x + 1 || *end || v < 1 || v > 64)
            return mg_fail(MG_ERR_CONFIG,
                           "--arch '%s': blocks per stage after 'x' must be 1..64", arch);
        *per = (int)v;
    }
    mg_status st = parse_widths(buf, widths, n);
    if (st == MG_ERR_CONFIG && *n == 0) {
        /* parse_widths insists on two widths; one stage is fine here */
        char *end;
        errno = 0;
        long v = strtol(buf, &end, 10);
        if (!errno && end != buf && !*end && v > 0 && v <= MG_ARCH_MAX_WIDTH) {
            widths[0] = (int)v;
            *n = 1;
            return MG_OK;
        }
        if (end != buf && !*end && isdigit((unsigned char)buf[0]))
            return mg_fail(MG_ERR_CONFIG, "--arch '%s': width out of range 1..%ld at '%s'", arch,
                           (long)MG_ARCH_MAX_WIDTH, buf);
        return mg_fail(MG_ERR_CONFIG,
                       "--arch '%s': expected preact:W1-W2-...[xB], e.g. preact:16-32-64x2", arch);
    }
    if (st) return st;
    if (*n + 1 > MG_MAX_BLOCKS)
        return mg_fail(MG_ERR_CONFIG, "--arch '%s': too many stages", arch);
    return MG_OK;
}

/* PreActResNet: block 1 = stem conv + stage 1, block i = stage i, last block =
 * BN-ReLU, global average pooling, dense ("preact:", He et al. 2016), or
 * global average pooling, dense without the final BN-ReLU (head_bn 0,
 * "preact-authors:", the Manifold Mixup authors' network).  Every state's
 * size is checked (arch_features) before it is formed in int arithmetic. */
static mg_status build_preact(mg_plan *pl, const char *arch, const int *widths, int n_stages,
                              int per, int head_bn)
{
    const mg_arch_opts *o = &pl->opts;
    int c = o->in_c, h = o->in_h, w = o->in_w;
    char where[64];
    pl->L = n_stages + 1;
    /* exact in long long: widths <= MG_ARCH_MAX_WIDTH, h * w <= MG_ARCH_MAX_FEATURES
     * (mg_plan_arch checked the input) */
    pl->dims[0] = c * h * w;
    for (int s = 0; s < n_stages; s++) {
        int b = s + 1;
        pl->first[b] = pl->nl;
        if (s == 0) {
            /* 3x3, stride 1, pad 1: the image size stays */
            mg_status st = arch_features(arch, "stem", (long long)widths[0] * h * w);
            if (st) return st;
            mg_layer *l = add_layer(pl, MG_LAYER_CONV2D, b, c * h * w, 0, 0.0f);
            st = mg_conv2d_shape_init(&l->conv, c, h, w, widths[0], 3, 3, 1, 1, 0);
            if (st) return mg_fail_prefix(st, "--arch '%s': stem: ", arch);
            l->c = c, l->h = h, l->w = w;
            l->oc = widths[0], l->oh = l->conv.ho, l->ow = l->conv.wo;
            l->out = l->oc * l->oh * l->ow;
            l->gain2 = 2.0f; /* BN-ReLU follows in the first block, whatever --act says */
            layer_sizes(l);
            c = l->oc, h = l->oh, w = l->ow;
        }
        for (int j = 0; j < per; j++) {
            int stride = (s > 0 && j == 0) ? 2 : 1;
            /* 3x3, pad 1, stride s: (h - 1) / s + 1 rows */
            long long oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1;
            snprintf(where, sizeof where, "stage %d", s + 1);
            mg_status st = arch_features(arch, where, widths[s] * oh * ow);
            if (st) return st;
            mg_layer *l = add_layer(pl, MG_LAYER_PREACT, b, c * h * w, 0, 0.0f);
            st = mg_preact_setup(l, c, h, w, widths[s], stride);
            if (st) return mg_fail_prefix(st, "--arch '%s': stage %d: ", arch, s + 1);
            c = l->oc, h = l->oh, w = l->ow;
        }
        pl->dims[b] = c * h * w;
    }
    int b = pl->L;
    pl->first[b] = pl->nl;
    mg_layer *l;
    if (head_bn) {
        l = add_layer(pl, MG_LAYER_BN2D, b, c * h * w, c * h * w, 1.0f);
        l->c = l->oc = c, l->h = l->oh = h, l->w = l->ow = w;
        layer_sizes(l);
    }
    l = add_layer(pl, MG_LAYER_GAP, b, c * h * w, c, 0.0f);
    l->c = c, l->h = h, l->w = w, l->oc = c, l->oh = l->ow = 1;
    add_logits(pl, b, c, o->classes);
    pl->dims[b] = o->classes;
    return MG_OK;
}

/* ---------------------------------------------------------------- cnn: */

/* A plain convolutional net "cnn:c32k5-m2-c64k5-m2-f1024": tokens between
 * '-'.  A conv (cC[kK][sS]) or dense (fN) token starts a block; pools (mP,
 * aP) and global average pooling (g) join the block before them; the dense
 * layer to the classes is the last block. */
#define CNN_MAX_TOKENS 128            /* arch < 256 characters: at most 128 tokens */
#define CNN_EXPECTED "expected cC[kK][sS], mP, aP, g or fN"

typedef struct {
    char kind;       /* 'c' conv, 'm' max pool, 'a' average pool, 'g' global average, 'f' dense */
    int n, k, s;     /* c: channels, kernel, stride; m, a: pool size; f: width */
    const char *tok; /* the token as written (not NUL-terminated), for messages */
    int len;
} cnn_token;

/* The decimal number at *p (before end); any value of 10^9 or more comes
 * out as 10^9 + 1 (no overflow, out of every range); -1 when no digit is
 * there.  Advances *p. */
static long cnn_number(const char **p, const char *end)
{
    const char *q = *p;
    long v = 0;
    while (q < end && isdigit((unsigned char)*q)) {
        v = v < 100000000L ? v * 10 + (*q - '0') : 1000000001L;
        q++;
    }
    if (q == *p) return -1;
    *p = q;
    return v;
}

static mg_status cnn_range(const char *arch, const cnn_token *t, const char *what, long lo,
                           long hi)
{
    return mg_fail(MG_ERR_CONFIG, "--arch '%s': token '%.*s': %s must be %ld..%ld", arch, t->len,
                   t->tok, what, lo, hi);
}

/* Tokens of spec (the text after "cnn:") into toks[*count]: syntax, number
 * ranges and order (no shapes yet). */
static mg_status parse_cnn(const char *arch, const char *spec, cnn_token *toks, int *count)
{
    *count = 0;
    if (!*spec)
        return mg_fail(MG_ERR_CONFIG,
                       "--arch '%s': no layers after 'cnn:' (%s, e.g. cnn:c32k5-m2-c64k5-m2-f1024)",
                       arch, CNN_EXPECTED);
    int blocks = 0, state = 0; /* state: 0 start, 1 an image (after c, m, a, g), 2 flat (after f) */
    for (const char *p = spec;; p++) {
        const char *e = strchr(p, '-');
        if (!e) e = p + strlen(p);
        if (e == p)
            return mg_fail(MG_ERR_CONFIG,
                           "--arch '%s': empty token (a '-' at the start, at the end or doubled; %s)",
                           arch, CNN_EXPECTED);
        MG_ASSERT(*count < CNN_MAX_TOKENS);
        cnn_token *t = &toks[(*count)++];
        t->kind = *p;
        t->tok = p;
        t->len = (int)(e - p);
        const char *q = p + 1, *form;
        long v = 0, k = 3, s = 1;
        switch (*p) {
        case 'c':
            form = "cC[kK][sS], e.g. c32k5 or c16k3s2";
            v = cnn_number(&q, e);
            if (v >= 0 && q < e && *q == 'k') {
                q++;
                k = cnn_number(&q, e);
            }
            if (v >= 0 && k >= 0 && q < e && *q == 's') {
                q++;
                s = cnn_number(&q, e);
            }
            break;
        case 'm': form = "mP, e.g. m2"; v = cnn_number(&q, e); break;
        case 'a': form = "aP, e.g. a2"; v = cnn_number(&q, e); break;
        case 'f': form = "fN, e.g. f1024"; v = cnn_number(&q, e); break;
        case 'g': form = "g alone"; break;
        default:
            return mg_fail(MG_ERR_CONFIG, "--arch '%s': unknown token '%.*s' (%s)", arch, t->len,
                           t->tok, CNN_EXPECTED);
        }
        if (v < 0 || k < 0 || s < 0 || q != e)
            return mg_fail(MG_ERR_CONFIG, "--arch '%s': bad token '%.*s' (expected %s)", arch,
                           t->len, t->tok, form);
        if (t->kind == 'c') {
            if (v < 1 || v > 4096) return cnn_range(arch, t, "the channels", 1, 4096);
            if (k < 1 || k > 32) return cnn_range(arch, t, "the kernel", 1, 32);
            if (s < 1 || s > 32) return cnn_range(arch, t, "the stride", 1, 32);
        } else if (t->kind == 'm' || t->kind == 'a') {
            if (v < 1 || v > 1024) return cnn_range(arch, t, "the pool size", 1, 1024);
        } else if (t->kind == 'f') {
            if (v < 1 || v > (1L << 22)) return cnn_range(arch, t, "the width", 1, 1L << 22);
        }
        t->n = (int)v, t->k = (int)k, t->s = (int)s;
        switch (t->kind) {
        case 'c':
            if (state == 2)
                return mg_fail(MG_ERR_CONFIG,
                               "--arch '%s': token '%.*s': a conv cannot follow a dense layer "
                               "(fN): the state is flat from there on",
                               arch, t->len, t->tok);
            state = 1;
            blocks++;
            break;
        case 'f':
            state = 2;
            blocks++;
            break;
        default: /* m, a, g */
            if (state != 1)
                return mg_fail(MG_ERR_CONFIG,
                               "--arch '%s': token '%.*s': pooling (mP, aP, g) must follow a "
                               "conv (cC) or another pooling token%s",
                               arch, t->len, t->tok, state == 2 ? ", not a dense layer (fN)" : "");
            break;
        }
        if (blocks + 1 > MG_MAX_BLOCKS)
            return mg_fail(MG_ERR_CONFIG, "--arch '%s': more than %d blocks (conv and fN tokens "
                           "+ the output layer)", arch, MG_MAX_BLOCKS);
        if (!*e) break;
        p = e;
    }
    return MG_OK;
}

static mg_status cnn_too_big(const char *arch, const cnn_token *t, long long f)
{
    char where[64];
    snprintf(where, sizeof where, "token '%.*s'", t->len, t->tok);
    return arch_features(arch, where, f);
}

/* The blocks of a cnn: net from its tokens; needs the input shape and classes. */
static mg_status build_cnn(mg_plan *pl, const char *arch, const cnn_token *toks, int nt)
{
    const mg_arch_opts *o = &pl->opts;
    int c = o->in_c, h = o->in_h, w = o->in_w, b = 0;
    long long feat = (long long)c * h * w; /* features of the current state (checked by mg_plan_arch) */
    pl->dims[0] = (int)feat;
    for (int i = 0; i < nt; i++) {
        const cnn_token *t = &toks[i];
        if (t->kind == 'c' || t->kind == 'f') { /* a new block */
            if (b > 0) pl->dims[b] = (int)feat;
            b++;
            pl->first[b] = pl->nl;
            if (b == 1 && o->input_noise > 0.0f)
                add_layer(pl, MG_LAYER_NOISE, b, (int)feat, (int)feat, o->input_noise);
        }
        mg_layer *l;
        switch (t->kind) {
        case 'c': {
            /* conv (a bias unless batch norm follows), [bn2d], activation */
            l = add_layer(pl, MG_LAYER_CONV2D, b, (int)feat, 0, 0.0f);
            mg_status st = mg_conv2d_shape_init(&l->conv, c, h, w, t->n, t->k, t->k, t->s,
                                                t->k / 2, !o->batchnorm);
            if (st) return mg_fail_prefix(st, "--arch '%s': token '%.*s': ", arch, t->len, t->tok);
            long long out = (long long)t->n * l->conv.ho * l->conv.wo;
            if (out > MG_ARCH_MAX_FEATURES) return cnn_too_big(arch, t, out);
            l->c = c, l->h = h, l->w = w;
            l->oc = t->n, l->oh = l->conv.ho, l->ow = l->conv.wo;
            l->out = (int)out;
            layer_sizes(l);
            c = l->oc, h = l->oh, w = l->ow, feat = out;
            if (o->batchnorm) {
                /* a ReLU is fused into the batch norm (param 1) */
                int fuse = o->act == MG_ACT_RELU;
                l = add_layer(pl, MG_LAYER_BN2D, b, (int)feat, (int)feat, fuse ? 1.0f : 0.0f);
                l->c = l->oc = c, l->h = l->oh = h, l->w = l->ow = w;
                layer_sizes(l);
                if (!fuse) add_act(pl, b, (int)feat);
            } else {
                add_act(pl, b, (int)feat);
            }
            break;
        }
        case 'm':
        case 'a': {
            if (t->n > h || t->n > w)
                return mg_fail(MG_ERR_CONFIG,
                               "--arch '%s': token '%.*s': a %dx%d pool is larger than its input "
                               "(%d channels of %dx%d)",
                               arch, t->len, t->tok, t->n, t->n, c, h, w);
            l = add_layer(pl, t->kind == 'm' ? MG_LAYER_MAXPOOL : MG_LAYER_AVGPOOL, b, (int)feat, 0,
                          0.0f);
            mg_status st = mg_pool_shape_init(&l->pool, c, h, w, t->n, t->n, t->n, 0);
            if (st) return mg_fail_prefix(st, "--arch '%s': token '%.*s': ", arch, t->len, t->tok);
            l->c = l->oc = c, l->h = h, l->w = w;
            l->oh = l->pool.ho, l->ow = l->pool.wo;
            h = l->oh, w = l->ow, feat = (long long)c * h * w;
            l->out = (int)feat;
            layer_sizes(l);
            break;
        }
        case 'g':
            l = add_layer(pl, MG_LAYER_GAP, b, (int)feat, c, 0.0f);
            l->c = l->oc = c, l->h = h, l->w = w, l->oh = l->ow = 1;
            h = w = 1, feat = c;
            break;
        case 'f':
            /* the state is flat per example already: flatten is the identity */
            add_hidden_dense(pl, b, (int)feat, t->n);
            c = t->n, h = w = 1, feat = t->n;
            break;
        default: MG_ASSERT(!"cnn token");
        }
    }
    pl->dims[b] = (int)feat;
    pl->L = b + 1;
    pl->first[pl->L] = pl->nl;
    add_logits(pl, pl->L, (int)feat, o->classes);
    pl->dims[pl->L] = o->classes;
    return MG_OK;
}

/* (arch.h)  Every size is checked against the limits of mixgeo.h before it
 * is formed in int arithmetic. */
/* An activation right after a dense layer in the same block (not the
 * model's last layer: its gradient then arrives in its own dy) runs in the
 * dense layer's epilogue (layers.h, mg_layer.fused): the dense layer gets
 * the pointer, the activation its kind's fused ops. */
static void fuse_activations(mg_plan *pl)
{
    for (int i = 0; i + 2 < pl->nl; i++) {
        mg_layer *d = &pl->layers[i], *a = &pl->layers[i + 1];
        const mg_layer_ops *fo = mg_act_fused_ops(a->kind);
        if (d->ops != &mg_dense_ops || !fo || a->block != d->block || a->in != d->out) continue;
        d->fused = a;
        a->ops = fo;
    }
}

mg_status mg_plan_arch(mg_plan *pl, const char *arch, const mg_arch_opts *opts)
{
    mg_arch_opts o = opts ? *opts : mg_arch_opts_default();
    size_t alen = strlen(arch);
    if (alen > MG_ARCH_MAX_LEN)
        return mg_fail(MG_ERR_CONFIG, "--arch: string too long (%zu characters, at most %d)", alen,
                       MG_ARCH_MAX_LEN);
    if (!(o.dropout >= 0.0f && o.dropout < 1.0f))
        return mg_fail(MG_ERR_CONFIG, "--dropout %g: must be in [0, 1)", o.dropout);
    if (!(o.input_noise >= 0.0f && o.input_noise <= FLT_MAX))
        return mg_fail(MG_ERR_CONFIG, "--input-noise %g: must be a finite number >= 0",
                       o.input_noise);
    if ((unsigned)o.act > MG_ACT_NONE)
        return mg_fail(MG_ERR_CONFIG, "--act: unknown activation %d", (int)o.act);
    if (o.init != MG_INIT_HE && o.init != MG_INIT_XAVIER)
        return mg_fail(MG_ERR_CONFIG, "--init: unknown initialisation %d", (int)o.init);
    if (o.act == MG_ACT_LRELU && !(o.slope >= 0.0f && o.slope < 1.0f))
        return mg_fail(MG_ERR_CONFIG, "--slope %g: must be in [0, 1)", o.slope);
    /* "preact-authors:" = "preact:" without the head's BN-ReLU */
    int authors = strncmp(arch, "preact-authors:", 15) == 0;
    int preact = authors || strncmp(arch, "preact:", 7) == 0;
    int cnn = strncmp(arch, "cnn:", 4) == 0;
    int dims[MG_MAX_BLOCKS + 2], c = 0, per = 2;
    cnn_token toks[CNN_MAX_TOKENS];
    mg_status st = preact ? parse_preact(arch, arch + (authors ? 15 : 7), dims, &c, &per)
                   : cnn  ? parse_cnn(arch, arch + 4, toks, &c)
                          : parse_widths(arch, dims, &c);
    if (st) return st;
    if (preact || cnn) {
        if (o.in_c <= 0 || o.in_h <= 0 || o.in_w <= 0)
            return mg_fail(MG_ERR_CONFIG,
                           "--arch '%s': a convolutional net needs image data (channels x height "
                           "x width), e.g. --data fashion-mnist", arch);
        if (o.classes < 2)
            return mg_fail(MG_ERR_CONFIG, "--arch '%s': needs the number of classes (>= 2)", arch);
        char where[96];
        snprintf(where, sizeof where, "the input %d x %d x %d", o.in_c, o.in_h, o.in_w);
        st = arch_features(arch, where, features_mul(features_mul(o.in_c, o.in_h), o.in_w));
        if (!st) st = arch_features(arch, "the classes", o.classes);
        if (st) return st;
    } else if (dims[c - 1] < 2) {
        return mg_fail(MG_ERR_CONFIG, "--arch '%s': the last width (classes) must be >= 2", arch);
    }

    memcpy(pl->arch, arch, alen + 1);
    pl->opts = o;
    if (preact || cnn) {
        st = preact ? build_preact(pl, arch, dims, c, per, !authors) : build_cnn(pl, arch, toks, c);
        if (st) return st;
    } else {
        pl->L = c - 1;
        memcpy(pl->dims, dims, sizeof(int) * c);
        if (!o.classes) pl->opts.classes = dims[c - 1];
        build_mlp(pl, dims);
    }
    count_pending(pl);
    pl->first[pl->L + 1] = pl->nl;
    if (pl->layers) fuse_activations(pl);
    if (pl->layers) mg_conv_pick_ops(pl->layers, pl->nl); /* oneDNN where it suits */
    if (pl->n_params > (size_t)MG_ARCH_MAX_PARAMS)
        return mg_fail(MG_ERR_CONFIG, "--arch '%s': %zu parameters (at most %ld)", arch,
                       pl->n_params, (long)MG_ARCH_MAX_PARAMS);
    return MG_OK;
}

mg_status mg_arch_check(const char *arch, const mg_arch_opts *opts, mg_arch_sizes *out)
{
    MG_ASSERT(arch && out);
    memset(out, 0, sizeof *out);
    mg_plan plan; /* a few KB: the shapes, no layer array, no arenas */
    memset(&plan, 0, sizeof plan);
    mg_status st = mg_plan_arch(&plan, arch, opts);
    if (st) return st;
    out->n_params = plan.n_params;
    out->n_buffers = plan.n_buffers;
    out->n_blocks = plan.L;
    out->n_layers = plan.nl;
    out->in_dim = plan.dims[0];
    out->classes = plan.dims[plan.L];
    return MG_OK;
}
