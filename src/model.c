/* model.c - a network as a list of blocks, each a short list of layers.
 *
 * Memory: one arena each for parameters, gradients, saved buffers (batch-norm
 * running statistics) and activations (sized by mg_model_reserve).  Nothing is
 * allocated by forward or backward.
 *
 * Mixing happens only at block boundaries: the state after block k (k = 0 is
 * the input) is replaced by lambda*h + (1-lambda)*h[perm] in a separate buffer,
 * and the backward pass applies the exact adjoint, so the gradient reaches
 * both h and h[perm] and every layer before k. */
#include "layers.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

struct mg_model {
    char arch[MG_ARCH_MAX_LEN + 1];
    mg_arch_opts opts;
    int cnn;                         /* built from "cnn:..." (conv init gain from --act) */
    int L;                           /* blocks                         */
    int dims[MG_MAX_BLOCKS + 1];     /* features at layer k = 0..L      */
    int nl;                          /* layers                          */
    mg_layer *layers;                /* nl records; NULL while only sizing (model_plan) */
    mg_layer *pending;               /* the layer added last, not yet counted */
    mg_layer plan_layer;             /* its record while only sizing    */
    int first[MG_MAX_BLOCKS + 2];    /* first layer of block b; first[L+1] = nl */
    size_t n_params, n_buffers;
    float *params, *grads, *buffers; /* one allocation: params | grads | buffers */
    int max_batch;
    float *act;                      /* activation arena                */
    float *mix_h, *mix_g;            /* mixed state and its gradient (max_batch x max dim) */
    float *scratch;                  /* gradient of the unmixed state at the start */
    float *ws;                       /* convolution workspace (shared by all layers) */
    /* worker team for the image layers (mg_model_set_threads); par.ws[0] = ws */
    int team;                        /* workers asked for (1: serial)   */
    mg_par par;
    float *team_mem;                 /* workspaces and gradients of workers 1.. */
    size_t ws_floats;                /* one workspace                   */
    int grads_stale;                 /* zero_grad pending: the next backward overwrites */
    /* the last forward */
    int f_from, f_n, f_train, f_has_mix;
    mg_mix f_mix;
    const float *f_x;
    const float *state[MG_MAX_BLOCKS + 1];
};

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
 * next one is added (and at the end: model_plan calls this once more). */
static void count_pending(mg_model *m)
{
    mg_layer *l = m->pending;
    if (!l) return;
    l->p_off = m->n_params;
    l->b_off = m->n_buffers;
    m->n_params += l->n_p;
    m->n_buffers += l->n_b;
    m->pending = NULL;
}

/* The next layer: a record of m->layers, or while only sizing (m->layers
 * NULL) the one scratch record. */
static mg_layer *add_layer(mg_model *m, mg_layer_kind kind, int block, int in, int out,
                           float param)
{
    count_pending(m);
    mg_layer *l = m->layers ? &m->layers[m->nl] : &m->plan_layer;
    m->nl++;
    m->pending = l;
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->block = block;
    l->in = in;
    l->out = out;
    l->param = param;
    mg_layer_sizes(l);
    return l;
}

void mg_layer_sizes(mg_layer *l)
{
    switch (l->kind) {
    case MG_LAYER_DENSE: l->n_p = (size_t)l->out * l->in + l->out; l->n_b = 0; break;
    case MG_LAYER_BN1D: l->n_p = 2 * (size_t)l->out; l->n_b = 2 * (size_t)l->out; break;
    case MG_LAYER_CONV2D: l->n_p = mg_conv2d_n_params(&l->conv); l->n_b = 0; break;
    case MG_LAYER_BN2D: l->n_p = 2 * (size_t)l->c; l->n_b = 2 * (size_t)l->c; break;
    case MG_LAYER_PREACT: break; /* set by mg_preact_setup */
    default: l->n_p = 0; l->n_b = 0; break;
    }
}

void mg_layer_buffers(const mg_layer *l, int max_batch, size_t per_ex[MG_LAYER_NBUF],
                      size_t fixed[MG_LAYER_NBUF], size_t *ws)
{
    for (int i = 0; i < MG_LAYER_NBUF; i++) per_ex[i] = fixed[i] = 0;
    *ws = 0;
    switch (l->kind) {
    case MG_LAYER_CONV2D: *ws = mg_conv2d_workspace(&l->conv, max_batch); break;
    case MG_LAYER_BN2D: fixed[0] = 2 * (size_t)l->c; break;
    case MG_LAYER_MAXPOOL: per_ex[0] = (size_t)l->out; break; /* int32 argmax */
    case MG_LAYER_PREACT: {
        size_t in = (size_t)l->in, out = (size_t)l->out;
        per_ex[0] = in, per_ex[1] = out, per_ex[2] = out, per_ex[3] = out, per_ex[4] = out;
        per_ex[5] = in, per_ex[6] = l->has_proj ? in : 0;
        fixed[7] = 2 * (size_t)l->c + 2 * (size_t)l->oc;
        size_t w1 = mg_conv2d_workspace(&l->conv, max_batch);
        size_t w2 = mg_conv2d_workspace(&l->conv2, max_batch);
        size_t w3 = l->has_proj ? mg_conv2d_workspace(&l->proj, max_batch) : 0;
        *ws = w1 > w2 ? w1 : w2;
        *ws = *ws > w3 ? *ws : w3;
        break;
    }
    default: break;
    }
}

size_t mg_layer_act_per_example(const mg_layer *l)
{
    size_t aux = (l->kind == MG_LAYER_DROPOUT || l->kind == MG_LAYER_BN1D) ? (size_t)l->out : 0;
    return 2 * (size_t)l->out + aux; /* y, dy, aux */
}

/* The activation of the options over w features (none for MG_ACT_NONE). */
static void add_act(mg_model *m, int b, int w)
{
    const mg_arch_opts *o = &m->opts;
    switch (o->act) {
    case MG_ACT_RELU: add_layer(m, MG_LAYER_RELU, b, w, w, 0.0f); break;
    case MG_ACT_LRELU: add_layer(m, MG_LAYER_LRELU, b, w, w, o->slope); break;
    case MG_ACT_TANH: add_layer(m, MG_LAYER_TANH, b, w, w, 0.0f); break;
    case MG_ACT_NONE: break;
    }
}

/* A hidden dense block's layers: dense, [bn1d], activation, [dropout]. */
static void add_hidden_dense(mg_model *m, int b, int in, int w)
{
    const mg_arch_opts *o = &m->opts;
    add_layer(m, MG_LAYER_DENSE, b, in, w, 0.0f);
    if (o->batchnorm) add_layer(m, MG_LAYER_BN1D, b, w, w, 0.0f);
    add_act(m, b, w);
    if (o->dropout > 0.0f) add_layer(m, MG_LAYER_DROPOUT, b, w, w, o->dropout);
}

/* MLP blocks from widths dims[0..L]. */
static void build_mlp(mg_model *m, const int *dims)
{
    const mg_arch_opts *o = &m->opts;
    for (int b = 1; b <= m->L; b++) {
        m->first[b] = m->nl;
        int in = dims[b - 1], w = dims[b];
        if (b == 1 && o->input_noise > 0.0f) add_layer(m, MG_LAYER_NOISE, b, in, in, o->input_noise);
        if (b == m->L)
            add_layer(m, MG_LAYER_DENSE, b, in, w, 0.0f);
        else
            add_hidden_dense(m, b, in, w);
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
static mg_status build_preact(mg_model *m, const char *arch, const int *widths, int n_stages,
                              int per, int head_bn)
{
    const mg_arch_opts *o = &m->opts;
    int c = o->in_c, h = o->in_h, w = o->in_w;
    char where[64];
    m->L = n_stages + 1;
    /* exact in long long: widths <= MG_ARCH_MAX_WIDTH, h * w <= MG_ARCH_MAX_FEATURES
     * (model_plan checked the input) */
    m->dims[0] = c * h * w;
    for (int s = 0; s < n_stages; s++) {
        int b = s + 1;
        m->first[b] = m->nl;
        if (s == 0) {
            /* 3x3, stride 1, pad 1: the image size stays */
            mg_status st = arch_features(arch, "stem", (long long)widths[0] * h * w);
            if (st) return st;
            mg_layer *l = add_layer(m, MG_LAYER_CONV2D, b, c * h * w, 0, 0.0f);
            st = mg_conv2d_shape_init(&l->conv, c, h, w, widths[0], 3, 3, 1, 1, 0);
            if (st) return mg_fail_prefix(st, "--arch '%s': stem: ", arch);
            l->c = c, l->h = h, l->w = w;
            l->oc = widths[0], l->oh = l->conv.ho, l->ow = l->conv.wo;
            l->out = l->oc * l->oh * l->ow;
            mg_layer_sizes(l);
            c = l->oc, h = l->oh, w = l->ow;
        }
        for (int j = 0; j < per; j++) {
            int stride = (s > 0 && j == 0) ? 2 : 1;
            /* 3x3, pad 1, stride s: (h - 1) / s + 1 rows */
            long long oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1;
            snprintf(where, sizeof where, "stage %d", s + 1);
            mg_status st = arch_features(arch, where, widths[s] * oh * ow);
            if (st) return st;
            mg_layer *l = add_layer(m, MG_LAYER_PREACT, b, c * h * w, 0, 0.0f);
            st = mg_preact_setup(l, c, h, w, widths[s], stride);
            if (st) return mg_fail_prefix(st, "--arch '%s': stage %d: ", arch, s + 1);
            c = l->oc, h = l->oh, w = l->ow;
        }
        m->dims[b] = c * h * w;
    }
    int b = m->L;
    m->first[b] = m->nl;
    mg_layer *l;
    if (head_bn) {
        l = add_layer(m, MG_LAYER_BN2D, b, c * h * w, c * h * w, 1.0f);
        l->c = l->oc = c, l->h = l->oh = h, l->w = l->ow = w;
        mg_layer_sizes(l);
    }
    l = add_layer(m, MG_LAYER_GAP, b, c * h * w, c, 0.0f);
    l->c = c, l->h = h, l->w = w, l->oc = c, l->oh = l->ow = 1;
    add_layer(m, MG_LAYER_DENSE, b, c, o->classes, 0.0f);
    m->dims[b] = o->classes;
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
static mg_status build_cnn(mg_model *m, const char *arch, const cnn_token *toks, int nt)
{
    const mg_arch_opts *o = &m->opts;
    int c = o->in_c, h = o->in_h, w = o->in_w, b = 0;
    long long feat = (long long)c * h * w; /* features of the current state (checked by model_plan) */
    m->dims[0] = (int)feat;
    for (int i = 0; i < nt; i++) {
        const cnn_token *t = &toks[i];
        if (t->kind == 'c' || t->kind == 'f') { /* a new block */
            if (b > 0) m->dims[b] = (int)feat;
            b++;
            m->first[b] = m->nl;
            if (b == 1 && o->input_noise > 0.0f)
                add_layer(m, MG_LAYER_NOISE, b, (int)feat, (int)feat, o->input_noise);
        }
        mg_layer *l;
        switch (t->kind) {
        case 'c': {
            /* conv (a bias unless batch norm follows), [bn2d], activation */
            l = add_layer(m, MG_LAYER_CONV2D, b, (int)feat, 0, 0.0f);
            mg_status st = mg_conv2d_shape_init(&l->conv, c, h, w, t->n, t->k, t->k, t->s,
                                                t->k / 2, !o->batchnorm);
            if (st) return mg_fail_prefix(st, "--arch '%s': token '%.*s': ", arch, t->len, t->tok);
            long long out = (long long)t->n * l->conv.ho * l->conv.wo;
            if (out > MG_ARCH_MAX_FEATURES) return cnn_too_big(arch, t, out);
            l->c = c, l->h = h, l->w = w;
            l->oc = t->n, l->oh = l->conv.ho, l->ow = l->conv.wo;
            l->out = (int)out;
            mg_layer_sizes(l);
            c = l->oc, h = l->oh, w = l->ow, feat = out;
            if (o->batchnorm) {
                /* a ReLU is fused into the batch norm (param 1) */
                int fuse = o->act == MG_ACT_RELU;
                l = add_layer(m, MG_LAYER_BN2D, b, (int)feat, (int)feat, fuse ? 1.0f : 0.0f);
                l->c = l->oc = c, l->h = l->oh = h, l->w = l->ow = w;
                mg_layer_sizes(l);
                if (!fuse) add_act(m, b, (int)feat);
            } else {
                add_act(m, b, (int)feat);
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
            l = add_layer(m, t->kind == 'm' ? MG_LAYER_MAXPOOL : MG_LAYER_AVGPOOL, b, (int)feat, 0,
                          0.0f);
            mg_status st = mg_pool_shape_init(&l->pool, c, h, w, t->n, t->n, t->n, 0);
            if (st) return mg_fail_prefix(st, "--arch '%s': token '%.*s': ", arch, t->len, t->tok);
            l->c = l->oc = c, l->h = h, l->w = w;
            l->oh = l->pool.ho, l->ow = l->pool.wo;
            h = l->oh, w = l->ow, feat = (long long)c * h * w;
            l->out = (int)feat;
            mg_layer_sizes(l);
            break;
        }
        case 'g':
            l = add_layer(m, MG_LAYER_GAP, b, (int)feat, c, 0.0f);
            l->c = l->oc = c, l->h = h, l->w = w, l->oh = l->ow = 1;
            h = w = 1, feat = c;
            break;
        case 'f':
            /* the state is flat per example already: flatten is the identity */
            add_hidden_dense(m, b, (int)feat, t->n);
            c = t->n, h = w = 1, feat = t->n;
            break;
        default: MG_ASSERT(!"cnn token");
        }
    }
    m->dims[b] = (int)feat;
    m->L = b + 1;
    m->first[m->L] = m->nl;
    add_layer(m, MG_LAYER_DENSE, m->L, (int)feat, o->classes, 0.0f);
    m->dims[m->L] = o->classes;
    return MG_OK;
}

/* Check the options, parse arch and lay out its layers into m (zeroed by the
 * caller): kinds, shapes, arena offsets, blocks, and the totals n_params,
 * n_buffers.  With m->layers NULL only the sizes come out and nothing is
 * allocated (mg_arch_check); otherwise m->layers has room for the layer
 * count that such a sizing pass found.  Every size is checked against the
 * limits of mixgeo.h before it is formed in int arithmetic. */
static mg_status model_plan(mg_model *m, const char *arch, const mg_arch_opts *opts)
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

    memcpy(m->arch, arch, alen + 1);
    m->opts = o;
    m->cnn = cnn;
    if (preact || cnn) {
        st = preact ? build_preact(m, arch, dims, c, per, !authors) : build_cnn(m, arch, toks, c);
        if (st) return st;
    } else {
        m->L = c - 1;
        memcpy(m->dims, dims, sizeof(int) * c);
        if (!o.classes) m->opts.classes = dims[c - 1];
        build_mlp(m, dims);
    }
    count_pending(m);
    m->first[m->L + 1] = m->nl;
    if (m->n_params > (size_t)MG_ARCH_MAX_PARAMS)
        return mg_fail(MG_ERR_CONFIG, "--arch '%s': %zu parameters (at most %ld)", arch,
                       m->n_params, (long)MG_ARCH_MAX_PARAMS);
    return MG_OK;
}

mg_status mg_arch_check(const char *arch, const mg_arch_opts *opts, mg_arch_sizes *out)
{
    MG_ASSERT(arch && out);
    memset(out, 0, sizeof *out);
    mg_model m; /* a few KB: the shapes, no layer array, no arenas */
    memset(&m, 0, sizeof m);
    mg_status st = model_plan(&m, arch, opts);
    if (st) return st;
    out->n_params = m.n_params;
    out->n_buffers = m.n_buffers;
    out->n_blocks = m.L;
    out->n_layers = m.nl;
    out->in_dim = m.dims[0];
    out->classes = m.dims[m.L];
    return MG_OK;
}

mg_status mg_model_create(const char *arch, const mg_arch_opts *opts, mg_rng *rng,
                          mg_model **out)
{
    MG_ASSERT(arch && out);
    *out = NULL;
    mg_arch_sizes sz;
    mg_status st = mg_arch_check(arch, opts, &sz);
    if (st) return st;
    mg_model *m = calloc(1, sizeof *m);
    if (!m) return mg_fail(MG_ERR_NOMEM, "out of memory creating the model");
    m->layers = calloc((size_t)sz.n_layers, sizeof(mg_layer));
    if (!m->layers) {
        free(m);
        return mg_fail(MG_ERR_NOMEM, "out of memory creating the model");
    }
    st = model_plan(m, arch, opts); /* the same pass again, now into m->layers */
    MG_ASSERT(st == MG_OK && m->nl == sz.n_layers && m->n_params == sz.n_params);
    m->params = calloc(2 * m->n_params + m->n_buffers + 1, sizeof(float));
    if (!m->params) {
        size_t np = m->n_params;
        mg_model_free(m);
        return mg_fail(MG_ERR_NOMEM, "out of memory for %zu parameters", np);
    }
    m->grads = m->params + m->n_params;
    m->buffers = m->grads + m->n_params;
    if (!rng) { /* a loader fills parameters and buffers */
        *out = m;
        return MG_OK;
    }

    /* Initialise: He gain from the activation that follows each dense layer. */
    const mg_arch_opts *o = &m->opts;
    float gain2 = 2.0f;
    if (o->act == MG_ACT_LRELU) gain2 = 2.0f / (1.0f + o->slope * o->slope);
    if (o->act == MG_ACT_TANH || o->act == MG_ACT_NONE) gain2 = 1.0f;
    for (int i = 0; i < m->nl; i++) {
        mg_layer *l = &m->layers[i];
        switch (l->kind) {
        case MG_LAYER_DENSE:
            mg_dense_init(l, m->params, o->init, l->block == m->L ? 1.0f : gain2, rng);
            break;
        case MG_LAYER_BN1D: mg_bn1d_init(l, m->params, m->buffers); break;
        case MG_LAYER_BN2D: mg_bn2d_init(l->c, m->params + l->p_off, m->buffers + l->b_off); break;
        case MG_LAYER_CONV2D:
            /* cnn: the activation of the options follows; PreActResNet stem: BN-ReLU */
            mg_conv2d_init_he(&l->conv, m->params + l->p_off, m->cnn ? gain2 : 2.0f, rng);
            break;
        case MG_LAYER_PREACT: mg_preact_init(l, m->params, m->buffers, rng); break;
        default: break;
        }
    }
    *out = m;
    return MG_OK;
}

void mg_model_free(mg_model *m)
{
    if (!m) return;
    mg_pool_free(m->par.pool);
    free(m->team_mem);
    free(m->params);
    free(m->act);
    free(m->layers);
    free(m);
}

const char *mg_model_arch(const mg_model *m) { return m->arch; }
const mg_arch_opts *mg_model_opts(const mg_model *m) { return &m->opts; }
int mg_model_n_blocks(const mg_model *m) { return m->L; }
int mg_model_classes(const mg_model *m) { return m->dims[m->L]; }
int mg_model_n_layers(const mg_model *m) { return m->nl; }
size_t mg_model_n_params(const mg_model *m) { return m->n_params; }
float *mg_model_params(mg_model *m) { return m->params; }
float *mg_model_grads(mg_model *m)
{
    if (m->grads_stale) {
        memset(m->grads, 0, sizeof(float) * m->n_params);
        m->grads_stale = 0;
    }
    return m->grads;
}
size_t mg_model_n_buffers(const mg_model *m) { return m->n_buffers; }
float *mg_model_buffers(mg_model *m) { return m->buffers; }
int mg_model_max_batch(const mg_model *m) { return m->max_batch; }

int mg_model_dim(const mg_model *m, int k)
{
    MG_ASSERT(k >= 0 && k <= m->L);
    return m->dims[k];
}

int mg_model_block_first_layer(const mg_model *m, int block)
{
    MG_ASSERT(block >= 1 && block <= m->L);
    return m->first[block];
}

static const char *kind_name(mg_layer_kind k)
{
    switch (k) {
    case MG_LAYER_DENSE: return "dense";
    case MG_LAYER_BN1D: return "bn1d";
    case MG_LAYER_RELU: return "relu";
    case MG_LAYER_LRELU: return "lrelu";
    case MG_LAYER_TANH: return "tanh";
    case MG_LAYER_DROPOUT: return "dropout";
    case MG_LAYER_NOISE: return "noise";
    case MG_LAYER_CONV2D: return "conv2d";
    case MG_LAYER_BN2D: return "bn2d";
    case MG_LAYER_MAXPOOL: return "maxpool";
    case MG_LAYER_AVGPOOL: return "avgpool";
    case MG_LAYER_GAP: return "gap";
    case MG_LAYER_PREACT: return "preact";
    default: return "?";
    }
}

void mg_model_describe(const mg_model *m, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int b = 1; b <= m->L && used < len; b++) {
        int w = snprintf(buf + used, len - used, "block %d (%d -> %d):", b, m->dims[b - 1],
                         m->dims[b]);
        used += w > 0 ? (size_t)w : 0;
        for (int i = m->first[b]; i < m->first[b + 1] && used < len; i++) {
            const mg_layer *l = &m->layers[i];
            w = snprintf(buf + used, len - used, " %s", kind_name(l->kind));
            used += w > 0 ? (size_t)w : 0;
            if ((l->kind == MG_LAYER_LRELU || l->kind == MG_LAYER_DROPOUT ||
                 l->kind == MG_LAYER_NOISE) && used < len) {
                w = snprintf(buf + used, len - used, "(%g)", l->param);
                used += w > 0 ? (size_t)w : 0;
            } else if (l->kind == MG_LAYER_CONV2D && used < len) {
                w = snprintf(buf + used, len - used, "(%d, %dx%d, stride %d)", l->conv.cout,
                             l->conv.kh, l->conv.kw, l->conv.stride);
                used += w > 0 ? (size_t)w : 0;
            } else if ((l->kind == MG_LAYER_MAXPOOL || l->kind == MG_LAYER_AVGPOOL) && used < len) {
                w = snprintf(buf + used, len - used, "(%dx%d)", l->pool.kh, l->pool.kw);
                used += w > 0 ? (size_t)w : 0;
            }
        }
        if (used < len) {
            w = snprintf(buf + used, len - used, "\n");
            used += w > 0 ? (size_t)w : 0;
        }
    }
}

mg_layer_info mg_model_layer(const mg_model *m, int i)
{
    MG_ASSERT(i >= 0 && i < m->nl);
    const mg_layer *l = &m->layers[i];
    mg_layer_info info = {l->kind, l->block, l->in, l->out, l->param, NULL, NULL};
    if (l->kind == MG_LAYER_DENSE) {
        info.W = m->params + l->p_off;
        info.b = info.W + (size_t)l->out * l->in;
    }
    return info;
}

double mg_model_flops(const mg_model *m, int backward)
{
    double f = 0.0;
    for (int i = 0; i < m->nl; i++) {
        const mg_layer *l = &m->layers[i];
        double lf = 0.0;
        switch (l->kind) {
        case MG_LAYER_DENSE: lf = 2.0 * l->in * l->out; break;
        case MG_LAYER_CONV2D: lf = mg_conv2d_flops(&l->conv); break;
        case MG_LAYER_PREACT:
            lf = mg_conv2d_flops(&l->conv) + mg_conv2d_flops(&l->conv2) +
                 (l->has_proj ? mg_conv2d_flops(&l->proj) : 0.0);
            break;
        default: break;
        }
        /* backward: the weight gradient, and the input gradient except for
         * a first layer that reads the input directly (pooling, activations
         * and batch norms do no matrix products and count 0) */
        int first_reads_input = (i == 0) && (l->kind == MG_LAYER_DENSE || l->kind == MG_LAYER_CONV2D);
        f += backward ? lf * (first_reads_input ? 1.0 : 2.0) : lf;
    }
    return f;
}

/* Lazy: the next backward overwrites the gradients of the layers it visits
 * (dense layers straight from the GEMM, beta = 0) and zeroes the rest; an
 * access through mg_model_grads before that zeroes the arena. */
void mg_model_zero_grad(mg_model *m)
{
    m->grads_stale = 1;
}

void mg_model_copy_params(mg_model *dst, const mg_model *src)
{
    MG_ASSERT(dst->n_params == src->n_params && dst->n_buffers == src->n_buffers);
    memcpy(dst->params, src->params, sizeof(float) * src->n_params);
    memcpy(dst->buffers, src->buffers, sizeof(float) * src->n_buffers);
}

/* Layers the worker team splits (src/par.c).  The pools (MAXPOOL, AVGPOOL,
 * GAP) run serially and do not count: a net with one always has a conv
 * before it (cnn: and preact: grammars), and a net without conv or batch
 * norm 2-d gains nothing from a team while its dense layers lose OpenBLAS's
 * threads. */
static int has_image_layers(const mg_model *m)
{
    for (int i = 0; i < m->nl; i++) {
        mg_layer_kind k = m->layers[i].kind;
        if (k == MG_LAYER_CONV2D || k == MG_LAYER_BN2D || k == MG_LAYER_PREACT) return 1;
    }
    return 0;
}

/* Workspaces and private weight gradients of workers 1..team-1 (the
 * convolutions' largest parameter count); sets up m->par. */
static mg_status team_buffers(mg_model *m)
{
    int t = m->par.pool ? mg_pool_size(m->par.pool) : 1;
    size_t gmax = 0;
    for (int i = 0; i < m->nl; i++) {
        const mg_layer *l = &m->layers[i];
        size_t g = 0;
        if (l->kind == MG_LAYER_CONV2D) g = mg_conv2d_n_params(&l->conv);
        if (l->kind == MG_LAYER_PREACT) {
            size_t g2 = mg_conv2d_n_params(&l->conv2);
            g = mg_conv2d_n_params(&l->conv);
            g = g2 > g ? g2 : g;
            if (l->has_proj && mg_conv2d_n_params(&l->proj) > g) g = mg_conv2d_n_params(&l->proj);
        }
        gmax = g > gmax ? g : gmax;
    }
    free(m->team_mem);
    m->team_mem = NULL;
    memset(m->par.ws, 0, sizeof m->par.ws);
    memset(m->par.gbuf, 0, sizeof m->par.gbuf);
    m->par.n = t;
    m->par.gbuf_n = gmax;
    m->par.ws[0] = m->ws;
    if (t > 1 && m->max_batch > 0) {
        size_t per = m->ws_floats + gmax;
        m->team_mem = calloc(per * (size_t)(t - 1) + 1, sizeof(float));
        if (!m->team_mem)
            return mg_fail(MG_ERR_NOMEM, "out of memory for %d worker buffers (%zu floats each)",
                           t - 1, per);
        for (int w = 1; w < t; w++) {
            float *q = m->team_mem + per * (size_t)(w - 1);
            m->par.ws[w] = m->ws_floats ? q : NULL;
            m->par.gbuf[w] = q + m->ws_floats;
        }
    }
    return MG_OK;
}

mg_status mg_model_set_threads(mg_model *m, int n)
{
    MG_ASSERT(m);
    if (n < 1) n = 1;
    if (n > MG_MAX_WORKERS) n = MG_MAX_WORKERS;
    if (!has_image_layers(m)) n = 1; /* MLPs: OpenBLAS's own threads serve best */
    if (n == mg_pool_size(m->par.pool)) return MG_OK;
    mg_pool_free(m->par.pool);
    m->par.pool = NULL;
    if (n > 1) {
        mg_status st = mg_pool_create(n, &m->par.pool);
        if (st) {
            team_buffers(m);
            return st;
        }
    }
    return team_buffers(m);
}

int mg_model_threads(const mg_model *m)
{
    return mg_pool_size(m->par.pool);
}

mg_status mg_model_reserve(mg_model *m, int max_batch)
{
    MG_ASSERT(max_batch > 0);
    if (max_batch <= m->max_batch) return MG_OK;
    int maxd = 0;
    for (int k = 0; k <= m->L; k++) maxd = m->dims[k] > maxd ? m->dims[k] : maxd;
    size_t B = (size_t)max_batch, total = 0, ws_max = 0;
    size_t per_ex[MG_LAYER_NBUF], fixed[MG_LAYER_NBUF], ws;
    for (int i = 0; i < m->nl; i++) {
        const mg_layer *l = &m->layers[i];
        total += mg_layer_act_per_example(l) * B + 2 * (size_t)l->out;
        mg_layer_buffers(l, max_batch, per_ex, fixed, &ws);
        for (int j = 0; j < MG_LAYER_NBUF; j++) total += per_ex[j] * B + fixed[j];
        ws_max = ws > ws_max ? ws : ws_max;
    }
    total += 3 * (size_t)maxd * B + ws_max; /* mix_h, mix_g, scratch, conv workspace */
    float *act = calloc(total + 1, sizeof(float));
    if (!act) return mg_fail(MG_ERR_NOMEM, "out of memory for activations (%zu floats)", total);
    free(m->act);
    m->act = act;
    m->max_batch = max_batch;
    float *p = act;
    for (int i = 0; i < m->nl; i++) {
        mg_layer *l = &m->layers[i];
        l->y = p; p += B * l->out;
        l->dy = p; p += B * l->out;
        if (l->kind == MG_LAYER_DROPOUT || l->kind == MG_LAYER_BN1D) {
            l->aux = p; p += B * l->out;
        } else {
            l->aux = NULL;
        }
        l->aux2 = p; p += 2 * (size_t)l->out;
        mg_layer_buffers(l, max_batch, per_ex, fixed, &ws);
        for (int j = 0; j < MG_LAYER_NBUF; j++) {
            size_t n = per_ex[j] * B + fixed[j];
            l->buf[j] = n ? p : NULL;
            p += n;
        }
    }
    m->mix_h = p; p += B * maxd;
    m->mix_g = p; p += B * maxd;
    m->scratch = p; p += B * maxd;
    m->ws = ws_max ? p : NULL;
    p += ws_max;
    MG_ASSERT((size_t)(p - act) == total);
    m->ws_floats = ws_max;
    return team_buffers(m);
}

/* While a worker team runs a pass OpenBLAS is at one thread; a dense layer
 * is one GEMM wide enough for OpenBLAS's own threads (cnn:...-f1024: 3136 x
 * 1024), so it gets the team's thread count back for its duration. */
static int dense_threads_begin(const mg_model *m)
{
    return m->par.n > 1 ? mg_blas_threads_swap(m->par.n) : 0;
}

static void dense_threads_end(int old)
{
    if (old) mg_blas_threads_swap(old);
}

static void layer_forward(mg_model *m, mg_layer *l, const float *x, int n, int train, mg_rng *rng)
{
    size_t cnt = (size_t)n * l->out;
    l->x = x;
    switch (l->kind) {
    case MG_LAYER_DENSE: {
        int old = dense_threads_begin(m);
        mg_dense_forward(l, m->params, x, l->y, n);
        dense_threads_end(old);
        break;
    }
    case MG_LAYER_BN1D: mg_bn1d_forward(l, m->params, m->buffers, x, l->y, n, train); break;
    case MG_LAYER_RELU:
    case MG_LAYER_LRELU:
    case MG_LAYER_TANH: mg_act_forward(l->kind, l->param, x, l->y, cnt); break;
    case MG_LAYER_DROPOUT: mg_dropout_forward(l->param, x, l->y, l->aux, cnt, train, rng); break;
    case MG_LAYER_NOISE: mg_noise_forward(l->param, x, l->y, cnt, train, rng); break;
    case MG_LAYER_CONV2D: mg_par_conv_forward(&m->par, &l->conv, m->params + l->p_off, x, l->y, n); break;
    case MG_LAYER_BN2D:
        mg_par_bn2d_forward(&m->par, l->c, l->h * l->w, n, m->params + l->p_off,
                            m->buffers + l->b_off, x, l->y, l->buf[0], train, l->param != 0.0f);
        break;
    case MG_LAYER_MAXPOOL: mg_maxpool_forward(&l->pool, x, l->y, (int32_t *)l->buf[0], n); break;
    case MG_LAYER_AVGPOOL: mg_avgpool_forward(&l->pool, x, l->y, n); break;
    case MG_LAYER_GAP: mg_gap_forward(l->c, l->h * l->w, n, x, l->y); break;
    case MG_LAYER_PREACT: mg_preact_forward(l, m->params, m->buffers, x, l->y, n, train, &m->par); break;
    default: MG_ASSERT(!"unknown layer kind");
    }
}

/* dx may be NULL when no gradient below this layer is wanted.  grads: the
 * model's gradient arena, or NULL for no parameter gradients (the arena and
 * grads_stale are then left alone). */
static void layer_backward(mg_model *m, mg_layer *l, const float *dy, float *dx, int n, int train,
                           float *grads)
{
    size_t cnt = (size_t)n * l->out;
    float *lg = grads ? grads + l->p_off : NULL; /* this layer's gradients */
    if (grads && m->grads_stale && l->kind != MG_LAYER_DENSE && l->n_p)
        memset(lg, 0, sizeof(float) * l->n_p);
    switch (l->kind) {
    case MG_LAYER_DENSE: {
        int old = dense_threads_begin(m);
        mg_dense_backward(l, m->params, grads, l->x, dy, dx, n, !m->grads_stale);
        dense_threads_end(old);
        break;
    }
    case MG_LAYER_BN1D:
        mg_bn1d_backward(l, m->params, grads, m->buffers, dy, dx, n, train);
        break;
    case MG_LAYER_RELU:
    case MG_LAYER_LRELU:
    case MG_LAYER_TANH:
        if (dx) mg_act_backward(l->kind, l->param, l->x, l->y, dy, dx, cnt);
        break;
    case MG_LAYER_DROPOUT:
        if (dx) mg_dropout_backward(l->aux, dy, dx, cnt, train);
        break;
    case MG_LAYER_NOISE:
        if (dx && dx != dy) memcpy(dx, dy, sizeof(float) * cnt);
        break;
    case MG_LAYER_CONV2D:
        mg_par_conv_backward(&m->par, &l->conv, m->params + l->p_off, lg, l->x, dy, dx, n);
        break;
    case MG_LAYER_BN2D:
        mg_par_bn2d_backward(&m->par, l->c, l->h * l->w, n, m->params + l->p_off, lg, l->x,
                             l->y, l->buf[0], dy, dx, train, l->param != 0.0f);
        break;
    case MG_LAYER_MAXPOOL:
        if (dx) mg_maxpool_backward(&l->pool, (const int32_t *)l->buf[0], dy, dx, n);
        break;
    case MG_LAYER_AVGPOOL:
        if (dx) mg_avgpool_backward(&l->pool, dy, dx, n);
        break;
    case MG_LAYER_GAP:
        if (dx) mg_gap_backward(l->c, l->h * l->w, n, dy, dx);
        break;
    case MG_LAYER_PREACT:
        mg_preact_backward(l, m->params, grads, dy, dx, n, train, &m->par);
        break;
    default: MG_ASSERT(!"unknown layer kind");
    }
}

const float *mg_model_forward(mg_model *m, int from, const float *x, int n, int train,
                              const mg_mix *mix, mg_rng *rng)
{
    MG_ASSERT(from >= 0 && from < m->L + 1 && n > 0 && n <= m->max_batch && x);
    MG_ASSERT(!mix || (mix->k >= from && mix->k < m->L && mix->perm));
    m->f_from = from;
    m->f_n = n;
    m->f_train = train;
    m->f_x = x;
    m->f_has_mix = mix != NULL;
    if (mix) m->f_mix = *mix;
    for (int k = 0; k <= m->L; k++) m->state[k] = NULL;
    /* a worker team runs the image layers: OpenBLAS at one thread meanwhile */
    int blas_old = m->par.n > 1 ? mg_blas_threads_swap(1) : 0;
    const float *cur = x;
    for (int b = from;; b++) {
        if (mix && mix->k == b) {
            mg_mix_forward(cur, m->mix_h, n, m->dims[b], mix->lambda, mix->perm);
            cur = m->mix_h;
        }
        m->state[b] = cur;
        if (b == m->L) break;
        for (int i = m->first[b + 1]; i < m->first[b + 2]; i++) {
            layer_forward(m, &m->layers[i], cur, n, train, rng);
            cur = m->layers[i].y;
        }
    }
    if (blas_old) mg_blas_threads_swap(blas_old);
    return cur;
}

const float *mg_model_state(const mg_model *m, int k)
{
    MG_ASSERT(k >= 0 && k <= m->L && m->state[k]);
    return m->state[k];
}

const float *mg_model_layer_output(const mg_model *m, int i)
{
    MG_ASSERT(i >= 0 && i < m->nl && m->state[m->L]);
    MG_ASSERT(i >= m->first[m->f_from + 1]);
    return m->layers[i].y;
}

/* The backward pass; want_grads = 0: input gradient only, the gradient arena
 * and grads_stale untouched. */
static void backward_pass(mg_model *m, const float *dlogits, float *dx, int want_grads)
{
    int n = m->f_n, from = m->f_from;
    float *grads = want_grads ? m->grads : NULL;
    if (want_grads && m->grads_stale && from > 0) { /* layers below the start get no gradient */
        size_t end = from >= m->L ? m->n_params : m->layers[m->first[from + 1]].p_off;
        memset(m->grads, 0, sizeof(float) * end);
    }
    const float *g = dlogits;
    int mix_k = m->f_has_mix ? m->f_mix.k : -1;
    int blas_old = m->par.n > 1 ? mg_blas_threads_swap(1) : 0;
    for (int b = m->L; b > from; b--) {
        for (int i = m->first[b + 1] - 1; i >= m->first[b]; i--) {
            mg_layer *l = &m->layers[i];
            float *dst;
            int first_of_block = (i == m->first[b]);
            if (first_of_block && mix_k == b - 1) {
                /* gradient w.r.t. the mixed state; not needed when nothing lies
                 * below the mix and the caller wants no input gradient */
                dst = (b - 1 == from && !dx) ? NULL : m->mix_g;
            } else if (first_of_block && b - 1 == from) {
                dst = dx;                       /* gradient w.r.t. the start state  */
            } else {
                dst = m->layers[i - 1].dy;
            }
            layer_backward(m, l, g, dst, n, m->f_train, grads);
            g = dst;
        }
        if (mix_k == b - 1) {
            /* adjoint of the mix: dh = lam*dmix + (1-lam) P^T dmix */
            float *dh;
            if (b - 1 == from)
                dh = dx;
            else
                dh = m->layers[m->first[b] - 1].dy;
            if (dh && g) {
                memset(dh, 0, sizeof(float) * (size_t)n * m->dims[b - 1]);
                mg_mix_backward(m->mix_g, dh, n, m->dims[b - 1], m->f_mix.lambda,
                                m->f_mix.perm);
            }
            g = dh;
        }
    }
    if (blas_old) mg_blas_threads_swap(blas_old);
    if (want_grads) m->grads_stale = 0;
}

void mg_model_backward(mg_model *m, const float *dlogits, float *dx)
{
    backward_pass(m, dlogits, dx, 1);
}

void mg_model_backward_input(mg_model *m, const float *dlogits, float *dx)
{
    if (!dx) return; /* nothing wanted: no parameter gradients, no input gradient */
    backward_pass(m, dlogits, dx, 0);
}
