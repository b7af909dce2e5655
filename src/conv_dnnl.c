/* conv_dnnl.c - conv2d with oneDNN primitives (see conv_dnnl.h).
 *
 * Per batch size, a slot holds three primitives (forward training, backward
 * data, backward weights) and, for each of their tensor arguments, a
 * "binding": the caller's plain tensor (NCHW / OIHW, a memory object whose
 * data handle is set on every call) and, when the primitive wants another
 * layout, a buffer in that layout plus the reorder between the two.  The
 * scratchpads are the caller's (attribute scratchpad_mode user): one
 * buffer per object, as large as the largest primitive's.  Weight
 * gradients come out of oneDNN overwritten, into the object's own buffer,
 * and are then added to the caller's grads (the conv.h contract). */
#include "conv_dnnl.h"

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* One tensor argument of a primitive. */
typedef struct {
    dnnl_memory_t user;       /* the caller's plain layout; handle set per call  */
    dnnl_memory_t prim;       /* the primitive's layout: == user, or over buf    */
    dnnl_primitive_t reorder; /* NULL when the layouts are equal                 */
    void *buf;                /* the primitive's copy (reorder only)             */
    int out;                  /* 1: the primitive writes it (reorder prim->user) */
    int same_size;            /* the two layouts take the same bytes             */
    const void *shared;       /* backward weights' dy: the buffer of backward
                                 data's dy binding when the layouts are equal */
} binding;

enum { P_FWD, P_BWD_DATA, P_BWD_WEIGHTS, N_PRIM };
/* the arguments of every primitive (bias: DNNL_ARG_BIAS / DIFF_BIAS, plain) */
enum { A_SRC, A_WEI, A_DST, N_ARG };

typedef struct {
    int n;              /* batch size; 0: empty slot */
    unsigned long used; /* last use (the object's call counter) */
    dnnl_primitive_t prim[N_PRIM];
    dnnl_primitive_desc_t pd[N_PRIM];
    binding arg[N_PRIM][N_ARG];
    dnnl_memory_t bias[N_PRIM]; /* plain x; NULL without bias */
    dnnl_memory_t scratch[N_PRIM];
} slot;

struct mg_conv_dnnl {
    mg_conv2d_shape s;
    int threads;
    mg_conv_dnnl_layout layout;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_attr_t attr; /* scratchpad_mode user */
    void *scratch;              /* scratchpad of every primitive */
    size_t scratch_size;
    float *dw;         /* weight (+ bias) gradient, params layout */
    int skip_reorders; /* benchmarks: mg_conv_dnnl_skip_reorders */
    unsigned long calls;
    slot slots[MG_CONV_DNNL_SLOTS];
};

static mg_status dnnl_fail(dnnl_status_t st, const char *what)
{
    mg_status ms = st == dnnl_out_of_memory ? MG_ERR_NOMEM : MG_ERR_CONFIG;
    return mg_fail(ms, "oneDNN: %s: %s", what, dnnl_status2str(st));
}

#define TRY(call, what)                                                                            \
    do {                                                                                           \
        dnnl_status_t st_ = (call);                                                                \
        if (st_ != dnnl_success) return dnnl_fail(st_, what);                                      \
    } while (0)

/* ---------------------------------------------------------------- bindings */

static void binding_free(binding *b)
{
    if (b->reorder) dnnl_primitive_destroy(b->reorder);
    if (b->prim && b->prim != b->user) dnnl_memory_destroy(b->prim);
    if (b->user) dnnl_memory_destroy(b->user);
    free(b->buf);
    memset(b, 0, sizeof *b);
}

/* The caller's tensor of plain descriptor *user_md for the argument of
 * layout *prim_md; out: the primitive writes it. */
static mg_status binding_init(binding *b, dnnl_engine_t eng, const dnnl_memory_desc_t *user_md,
                              const dnnl_memory_desc_t *prim_md, int out)
{
    memset(b, 0, sizeof *b);
    b->out = out;
    TRY(dnnl_memory_create(&b->user, user_md, eng, DNNL_MEMORY_NONE), "memory_create");
    if (dnnl_memory_desc_equal(user_md, prim_md)) {
        b->prim = b->user;
        return MG_OK;
    }
    size_t size = dnnl_memory_desc_get_size(prim_md);
    b->same_size = size == dnnl_memory_desc_get_size(user_md);
    b->buf = aligned_alloc(64, (size + 63) / 64 * 64);
    if (!b->buf) return mg_fail(MG_ERR_NOMEM, "oneDNN conv: out of memory (%zu bytes)", size);
    TRY(dnnl_memory_create(&b->prim, prim_md, eng, b->buf), "memory_create");
    dnnl_primitive_desc_t rpd;
    dnnl_status_t st =
        out ? dnnl_reorder_primitive_desc_create(&rpd, prim_md, eng, user_md, eng, NULL)
            : dnnl_reorder_primitive_desc_create(&rpd, user_md, eng, prim_md, eng, NULL);
    if (st != dnnl_success) return dnnl_fail(st, "reorder_primitive_desc_create");
    st = dnnl_primitive_create(&b->reorder, rpd);
    dnnl_primitive_desc_destroy(rpd);
    if (st != dnnl_success) return dnnl_fail(st, "primitive_create (reorder)");
    return MG_OK;
}

/* Point the binding at the caller's data p; an input is copied into the
 * primitive's layout now. */
static mg_status binding_bind(binding *b, dnnl_stream_t stream, const void *p)
{
    TRY(dnnl_memory_set_data_handle(b->user, (void *)p), "memory_set_data_handle");
    if (b->reorder && !b->out) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, b->user}, {DNNL_ARG_TO, b->prim}};
        TRY(dnnl_primitive_execute(b->reorder, stream, 2, args), "reorder");
    }
    return MG_OK;
}

/* After the primitive ran: an output is copied back into the caller's layout. */
static mg_status binding_finish(binding *b, dnnl_stream_t stream)
{
    if (b->reorder && b->out) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, b->prim}, {DNNL_ARG_TO, b->user}};
        TRY(dnnl_primitive_execute(b->reorder, stream, 2, args), "reorder");
    }
    return MG_OK;
}

/* ---------------------------------------------------------------- slots */

static void slot_free(slot *sl)
{
    for (int p = 0; p < N_PRIM; p++) {
        for (int a = 0; a < N_ARG; a++) binding_free(&sl->arg[p][a]);
        if (sl->bias[p]) dnnl_memory_destroy(sl->bias[p]);
        if (sl->scratch[p]) dnnl_memory_destroy(sl->scratch[p]);
        if (sl->prim[p]) dnnl_primitive_destroy(sl->prim[p]);
        if (sl->pd[p]) dnnl_primitive_desc_destroy(sl->pd[p]);
    }
    memset(sl, 0, sizeof *sl);
}

static mg_status md_init(dnnl_memory_desc_t *md, int nd, const dnnl_dims_t dims,
                         dnnl_format_tag_t tag)
{
    TRY(dnnl_memory_desc_init_by_tag(md, nd, dims, dnnl_f32, tag), "memory_desc_init_by_tag");
    return MG_OK;
}

/* Build the primitives of c's shape for batch n into sl (freed by the
 * caller on failure). */
static mg_status slot_build(mg_conv_dnnl *c, slot *sl, int n)
{
    const mg_conv2d_shape *s = &c->s;
    dnnl_dims_t xd = {n, s->cin, s->h, s->w}, yd = {n, s->cout, s->ho, s->wo};
    dnnl_dims_t wd = {s->cout, s->cin, s->kh, s->kw}, bd = {s->cout};
    /* symmetric padding: oneDNN, like PyTorch, floors (h + 2 pad - kh) / stride */
    dnnl_dims_t strides = {s->stride, s->stride}, pad = {s->pad, s->pad};
    dnnl_memory_desc_t x_plain, y_plain, w_plain, b_plain, x_any, y_any, w_any;
    mg_status ms;
    if ((ms = md_init(&x_plain, 4, xd, dnnl_nchw)) || (ms = md_init(&y_plain, 4, yd, dnnl_nchw)) ||
        (ms = md_init(&w_plain, 4, wd, dnnl_oihw)) || (ms = md_init(&b_plain, 1, bd, dnnl_x)) ||
        (ms = md_init(&w_any, 4, wd, dnnl_format_tag_any)))
        return ms;
    if (c->layout == MG_CONV_DNNL_BLK8) { /* the caller's tensors are the primitives' */
        if ((ms = md_init(&x_plain, 4, xd, dnnl_nChw8c)) ||
            (ms = md_init(&y_plain, 4, yd, dnnl_nChw8c)))
            return ms;
        x_any = x_plain;
        y_any = y_plain;
    } else if (c->layout == MG_CONV_DNNL_BLOCKED) {
        if ((ms = md_init(&x_any, 4, xd, dnnl_format_tag_any)) ||
            (ms = md_init(&y_any, 4, yd, dnnl_format_tag_any)))
            return ms;
    } else {
        x_any = x_plain;
        y_any = y_plain;
    }
    const dnnl_memory_desc_t *bias_md = s->bias ? &b_plain : NULL;
    sl->n = n;

    dnnl_convolution_desc_t fd, dd, wgd;
    TRY(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct,
                                           &x_any, &w_any, bias_md, &y_any, strides, pad, pad),
        "convolution_forward_desc_init");
    TRY(dnnl_primitive_desc_create(&sl->pd[P_FWD], &fd, c->attr, c->engine, NULL),
        "primitive_desc_create (forward)");
    TRY(dnnl_convolution_backward_data_desc_init(&dd, dnnl_convolution_direct, &x_any, &w_any,
                                                 &y_any, strides, pad, pad),
        "convolution_backward_data_desc_init");
    TRY(dnnl_primitive_desc_create(&sl->pd[P_BWD_DATA], &dd, c->attr, c->engine, sl->pd[P_FWD]),
        "primitive_desc_create (backward data)");
    TRY(dnnl_convolution_backward_weights_desc_init(&wgd, dnnl_convolution_direct, &x_any, &w_any,
                                                    bias_md, &y_any, strides, pad, pad),
        "convolution_backward_weights_desc_init");
    TRY(dnnl_primitive_desc_create(&sl->pd[P_BWD_WEIGHTS], &wgd, c->attr, c->engine, sl->pd[P_FWD]),
        "primitive_desc_create (backward weights)");

    /* the arguments: (query, plain descriptor, written by the primitive) */
    static const dnnl_query_t q[N_PRIM][N_ARG] = {
        {dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md},
        {dnnl_query_diff_src_md, dnnl_query_weights_md, dnnl_query_diff_dst_md},
        {dnnl_query_src_md, dnnl_query_diff_weights_md, dnnl_query_diff_dst_md}};
    static const int is_out[N_PRIM][N_ARG] = {{0, 0, 1}, {1, 0, 0}, {0, 1, 0}};
    const dnnl_memory_desc_t *plain[N_ARG] = {&x_plain, &w_plain, &y_plain};
    for (int p = 0; p < N_PRIM; p++) {
        for (int a = 0; a < N_ARG; a++) {
            const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(sl->pd[p], q[p][a], 0);
            if (!md) return mg_fail(MG_ERR_CONFIG, "oneDNN conv: no descriptor for an argument");
            if ((ms = binding_init(&sl->arg[p][a], c->engine, plain[a], md, is_out[p][a])))
                return ms;
        }
        if (s->bias && p != P_BWD_DATA)
            TRY(dnnl_memory_create(&sl->bias[p], &b_plain, c->engine, DNNL_MEMORY_NONE),
                "memory_create (bias)");
        const dnnl_memory_desc_t *smd =
            dnnl_primitive_desc_query_md(sl->pd[p], dnnl_query_scratchpad_md, 0);
        size_t ss = smd ? dnnl_memory_desc_get_size(smd) : 0;
        if (ss) {
            if (ss > c->scratch_size) {
                void *nb = aligned_alloc(64, (ss + 63) / 64 * 64);
                if (!nb) return mg_fail(MG_ERR_NOMEM, "oneDNN conv: out of memory (scratchpad)");
                free(c->scratch);
                c->scratch = nb;
                c->scratch_size = ss;
            }
            TRY(dnnl_memory_create(&sl->scratch[p], smd, c->engine, DNNL_MEMORY_NONE),
                "memory_create (scratchpad)");
        }
        TRY(dnnl_primitive_create(&sl->prim[p], sl->pd[p]), "primitive_create");
    }
    /* dy in the same blocked layout for both backward primitives: reordered
     * once per backward call (into backward data's buffer) */
    binding *bdy = &sl->arg[P_BWD_DATA][A_DST], *bw = &sl->arg[P_BWD_WEIGHTS][A_DST];
    if (bdy->reorder && bw->reorder &&
        dnnl_memory_desc_equal(
            dnnl_primitive_desc_query_md(sl->pd[P_BWD_DATA], dnnl_query_diff_dst_md, 0),
            dnnl_primitive_desc_query_md(sl->pd[P_BWD_WEIGHTS], dnnl_query_diff_dst_md, 0)))
        bw->shared = bdy->buf;
    return MG_OK;
}

static slot *slot_find(mg_conv_dnnl *c, int n)
{
    for (int i = 0; i < MG_CONV_DNNL_SLOTS; i++)
        if (c->slots[i].n == n) return &c->slots[i];
    return NULL;
}

/* The slot of batch n, built now if needed (replacing the least recently
 * used one when all are taken). */
static mg_status slot_get(mg_conv_dnnl *c, int n, slot **out)
{
    *out = NULL;
    if (n < 1) return mg_fail(MG_ERR_CONFIG, "oneDNN conv: batch size %d < 1", n);
    slot *sl = slot_find(c, n);
    if (!sl) {
        sl = &c->slots[0];
        for (int i = 1; i < MG_CONV_DNNL_SLOTS; i++)
            if (c->slots[i].used < sl->used) sl = &c->slots[i];
        slot_free(sl);
        int prev = omp_get_max_threads();
        omp_set_num_threads(c->threads); /* the kernels are planned for this count */
        mg_status ms = slot_build(c, sl, n);
        omp_set_num_threads(prev);
        if (ms) {
            slot_free(sl);
            return mg_fail_prefix(ms, "conv %dx%dx%d->%d k%dx%d s%d p%d batch %d: ", c->s.cin,
                                  c->s.h, c->s.w, c->s.cout, c->s.kh, c->s.kw, c->s.stride,
                                  c->s.pad, n);
        }
    }
    sl->used = ++c->calls;
    *out = sl;
    return MG_OK;
}

/* ---------------------------------------------------------------- API */

void mg_conv_dnnl_free(mg_conv_dnnl *c)
{
    if (!c) return;
    for (int i = 0; i < MG_CONV_DNNL_SLOTS; i++) slot_free(&c->slots[i]);
    if (c->attr) dnnl_primitive_attr_destroy(c->attr);
    if (c->stream) dnnl_stream_destroy(c->stream);
    if (c->engine) dnnl_engine_destroy(c->engine);
    free(c->scratch);
    free(c->dw);
    free(c);
}

mg_status mg_conv_dnnl_create(const mg_conv2d_shape *s, int max_batch, int threads,
                              mg_conv_dnnl_layout layout, mg_conv_dnnl **out)
{
    *out = NULL;
    if (s->cin < 1 || s->h < 1 || s->w < 1 || s->cout < 1 || s->kh < 1 || s->kw < 1 ||
        s->stride < 1 || s->pad < 0 || s->ho < 1 || s->wo < 1 ||
        s->ho != (s->h + 2 * s->pad - s->kh) / s->stride + 1 ||
        s->wo != (s->w + 2 * s->pad - s->kw) / s->stride + 1 || s->h + 2 * s->pad < s->kh ||
        s->w + 2 * s->pad < s->kw)
        return mg_fail(MG_ERR_CONFIG,
                       "oneDNN conv: inconsistent shape %dx%dx%d->%dx%dx%d k%dx%d s%d p%d "
                       "(use mg_conv2d_shape_init)",
                       s->cin, s->h, s->w, s->cout, s->ho, s->wo, s->kh, s->kw, s->stride, s->pad);
    if (threads < 1) return mg_fail(MG_ERR_CONFIG, "oneDNN conv: threads %d < 1", threads);
    if (layout != MG_CONV_DNNL_PLAIN && layout != MG_CONV_DNNL_BLOCKED &&
        layout != MG_CONV_DNNL_BLK8)
        return mg_fail(MG_ERR_CONFIG, "oneDNN conv: unknown layout %d", (int)layout);
    if (layout == MG_CONV_DNNL_BLK8 && (s->cin % 8 || s->cout % 8))
        return mg_fail(MG_ERR_CONFIG,
                       "oneDNN conv: nChw8c tensors need channels in multiples of 8 (%d -> %d)",
                       s->cin, s->cout);
    mg_conv_dnnl *c = calloc(1, sizeof *c);
    if (!c) return mg_fail(MG_ERR_NOMEM, "oneDNN conv: out of memory");
    c->s = *s;
    c->threads = threads;
    c->layout = layout;
    c->dw = malloc(sizeof(float) * mg_conv2d_n_params(s));
    dnnl_status_t st = c->dw ? dnnl_engine_create(&c->engine, dnnl_cpu, 0) : dnnl_out_of_memory;
    if (st == dnnl_success)
        st = dnnl_stream_create(&c->stream, c->engine, dnnl_stream_default_flags);
    if (st == dnnl_success) st = dnnl_primitive_attr_create(&c->attr);
    if (st == dnnl_success)
        st = dnnl_primitive_attr_set_scratchpad_mode(c->attr, dnnl_scratchpad_mode_user);
    if (st != dnnl_success) {
        mg_conv_dnnl_free(c);
        return dnnl_fail(st, "engine/stream/attributes");
    }
    mg_status ms = mg_conv_dnnl_reserve(c, max_batch);
    if (ms) {
        mg_conv_dnnl_free(c);
        return ms;
    }
    *out = c;
    return MG_OK;
}

mg_status mg_conv_dnnl_reserve(mg_conv_dnnl *c, int n)
{
    slot *sl;
    return slot_get(c, n, &sl);
}

void mg_conv_dnnl_skip_reorders(mg_conv_dnnl *c, int on)
{
    c->skip_reorders = on != 0;
}

const char *mg_conv_dnnl_impl(const mg_conv_dnnl *c, int n, int which)
{
    for (int i = 0; i < MG_CONV_DNNL_SLOTS; i++) {
        const slot *sl = &c->slots[i];
        if (sl->n == n && n > 0 && which >= 0 && which < N_PRIM) {
            const char *name = NULL;
            if (dnnl_primitive_desc_query(sl->pd[which], dnnl_query_impl_info_str, 0, &name) ==
                    dnnl_success &&
                name)
                return name;
        }
    }
    return "";
}

/* Run primitive p of slot sl: bind the three tensors (inputs reordered in),
 * the bias and the scratchpad, execute, reorder the output back. */
static mg_status run(mg_conv_dnnl *c, slot *sl, int p, const void *src, const void *wei,
                     const void *dst, const void *bias, int dy_ready)
{
    static const int arg_id[N_PRIM][N_ARG] = {
        {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST},
        {DNNL_ARG_DIFF_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_DST},
        {DNNL_ARG_SRC, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_DST}};
    const void *data[N_ARG] = {src, wei, dst};
    dnnl_exec_arg_t args[N_ARG + 2];
    int na = 0;
    mg_status ms;
    for (int a = 0; a < N_ARG; a++) {
        binding *b = &sl->arg[p][a];
        args[na].arg = arg_id[p][a];
        if (c->skip_reorders && a != A_WEI && b->reorder && b->same_size) {
            /* benchmarks: the caller's tensor taken as in the primitive's layout */
            TRY(dnnl_memory_set_data_handle(b->prim, (void *)data[a]), "memory_set_data_handle");
            args[na++].memory = b->prim;
            continue;
        }
        if (dy_ready && b->shared) { /* backward data reordered dy already */
            TRY(dnnl_memory_set_data_handle(b->prim, (void *)b->shared), "memory_set_data_handle");
            args[na++].memory = b->prim;
            continue;
        }
        if (b->reorder) TRY(dnnl_memory_set_data_handle(b->prim, b->buf), "memory_set_data_handle");
        if ((ms = binding_bind(b, c->stream, data[a]))) return ms;
        args[na++].memory = b->prim;
    }
    if (sl->bias[p]) {
        TRY(dnnl_memory_set_data_handle(sl->bias[p], (void *)bias), "memory_set_data_handle");
        args[na].arg = p == P_FWD ? DNNL_ARG_BIAS : DNNL_ARG_DIFF_BIAS;
        args[na++].memory = sl->bias[p];
    }
    if (sl->scratch[p]) {
        TRY(dnnl_memory_set_data_handle(sl->scratch[p], c->scratch), "memory_set_data_handle");
        args[na].arg = DNNL_ARG_SCRATCHPAD;
        args[na++].memory = sl->scratch[p];
    }
    TRY(dnnl_primitive_execute(sl->prim[p], c->stream, na, args), "primitive_execute");
    for (int a = 0; a < N_ARG; a++) {
        binding *b = &sl->arg[p][a];
        if (c->skip_reorders && a != A_WEI && b->reorder && b->same_size) continue;
        if ((ms = binding_finish(b, c->stream))) return ms;
    }
    TRY(dnnl_stream_wait(c->stream), "stream_wait");
    return MG_OK;
}

mg_status mg_conv_dnnl_forward(mg_conv_dnnl *c, const float *params, const float *x, float *y,
                               int n)
{
    slot *sl;
    mg_status ms = slot_get(c, n, &sl);
    if (ms) return ms;
    size_t nw = (size_t)c->s.cout * c->s.cin * c->s.kh * c->s.kw;
    int prev = omp_get_max_threads();
    omp_set_num_threads(c->threads);
    ms = run(c, sl, P_FWD, x, params, y, params + nw, 0);
    omp_set_num_threads(prev);
    return ms;
}

mg_status mg_conv_dnnl_backward(mg_conv_dnnl *c, const float *params, float *grads, const float *x,
                                const float *dy, float *dx, int n)
{
    slot *sl;
    mg_status ms = slot_get(c, n, &sl);
    if (ms) return ms;
    size_t nw = (size_t)c->s.cout * c->s.cin * c->s.kh * c->s.kw;
    size_t np = mg_conv2d_n_params(&c->s);
    int prev = omp_get_max_threads();
    omp_set_num_threads(c->threads);
    if (dx) ms = run(c, sl, P_BWD_DATA, dx, params, dy, NULL, 0);
    if (!ms && grads) {
        ms = run(c, sl, P_BWD_WEIGHTS, x, c->dw, dy, c->dw + nw, dx != NULL);
        if (!ms)
            for (size_t i = 0; i < np; i++) grads[i] += c->dw[i];
    }
    omp_set_num_threads(prev);
    return ms;
}

const char *mg_conv_isa(void)
{
    static const struct {
        dnnl_cpu_isa_t isa;
        const char *name;
    } k[] = {
        {dnnl_cpu_isa_avx512_core_amx, "avx512_core_amx"},
        {dnnl_cpu_isa_avx512_core_bf16, "avx512_core_bf16"},
        {dnnl_cpu_isa_avx512_core_vnni, "avx512_core_vnni"},
        {dnnl_cpu_isa_avx512_core, "avx512_core"},
        {dnnl_cpu_isa_avx2_vnni, "avx2_vnni"},
        {dnnl_cpu_isa_avx2, "avx2"},
        {dnnl_cpu_isa_avx, "avx"},
        {dnnl_cpu_isa_sse41, "sse41"},
    };
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (isa == (unsigned)k[i].isa) return k[i].name;
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) /* a newer ISA: its largest known part */
        if ((isa & (unsigned)k[i].isa) == (unsigned)k[i].isa) return k[i].name;
    return "none";
}
