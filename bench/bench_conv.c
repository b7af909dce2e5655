/* bench_conv.c - speed of the convolution kernels on the convs of the target
 * network, against the machine's own sgemm rate measured in the same run.
 *
 * Target (issue): PreActResNet for Fashion-MNIST 1x28x28, widths 16-32-64,
 * 2 pre-activation blocks per stage, batch 128.  Its convs, with how often
 * each shape occurs:
 *   stem      1->16  28x28 3x3 s1      x1 (no input gradient)
 *   stage 1  16->16  28x28 3x3 s1      x4
 *   stage 2  16->32  28->14 3x3 s2     x1, 32->32 14x14 3x3 s1 x3,
 *            16->32  1x1 s2 shortcut   x1
 *   stage 3  32->64  14->7 3x3 s2      x1, 64->64 7x7 3x3 s1 x3,
 *            32->64  1x1 s2 shortcut   x1
 * plus the batch norms (fused with ReLU) in front of every conv but the
 * stem and the final one before the pooling.
 *
 * For each conv shape: forward and backward (weight + input gradient) time
 * at batch 128, median of --reps repeats, as GFLOP/s and as a fraction of a
 * square 1024^3 sgemm's rate.  The network total is turned into images/s
 * for the convs alone, for convs + BN/ReLU, and into the bound that the
 * sgemm rate allows for the same FLOPs.
 * --explore also times every algorithm combination and chunk size per shape
 * (what the defaults in layer_conv2d.c were chosen from), reporting the
 * fastest repeat (robust to other load on the machine); --only NAME limits
 * it to the convs whose name contains NAME, --dw-cols C splits every
 * weight-gradient GEMM into pieces of C columns.
 * A measurement during which other processes used the CPUs is repeated, up
 * to --tries times, 1 s apart (OpenBLAS's threaded GEMMs slow down many
 * times when a core is taken); the summary says how many never got a quiet
 * window.
 * --split W times the convs and batch norms on the library's worker team of
 * W (src/par.c; what training a conv net with --threads W runs), OpenBLAS
 * on one thread; without it OpenBLAS runs --threads threads.
 * Then (unless --no-dnnl) the comparison of the speed issue: per conv shape,
 * today's kernels on the worker team of --threads (as the model runs them)
 * against oneDNN (src/conv_dnnl.h, --threads OpenMP threads) with plain
 * NCHW primitives and with blocked layouts (reorders included), forward
 * and backward, GFLOP/s and fraction of the sgemm rate; and the batch norms
 * + ReLU: the team's kernels against oneDNN's batch normalization with the
 * ReLU fused (NCHW and nChw8c; the running-statistics update not included).
 * --dnnl-only skips the table of the default kernels above it; --fastest
 * reports the fastest repeat instead of the median there (a busy machine).
 * It ends with the cost of interleaving oneDNN's OpenMP threads with the
 * worker team (a conv on one, a batch norm on the other, alternately).
 * --model (also part of the default run with oneDNN): every conv as the
 * model runs it now (conv_backend.h: oneDNN blocked, one single-threaded
 * object per worker of the team on its share of the batch, for the 3x3
 * convs with >= 8 input channels; today's kernels for the others) against
 * today's kernels for all, on the worker team of --threads; --model-only
 * prints only that table.
 * Usage: bench_conv [--threads N] [--reps R] [--batch B] [--tries T] [--split W]
 *                   [--explore [--only NAME] [--dw-cols C]] [--no-dnnl | --dnnl-only]
 *                   [--fastest] [--model | --model-only] */
#include "conv_backend.h"
#include "conv_dnnl.h"
#include "par.h"
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>


static float *buf(size_t n, float v)
{
    float *p = malloc(sizeof(float) * (n ? n : 1));
    if (!p) {
        fprintf(stderr, "bench_conv: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) p[i] = v * (float)((int)(i % 17) - 8);
    return p;
}

#define MAX_REPS 101

/* CPU seconds used by every process (busy jiffies of /proc/stat, steal
 * included), or -1 where /proc/stat is not available. */
static double cpu_busy_all(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1.0;
    unsigned long long v[8] = {0};
    int got = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                     &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (got < 8) return -1.0;
    /* user nice system idle iowait irq softirq steal: all but idle, iowait */
    double busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);
    return busy / (double)sysconf(_SC_CLK_TCK);
}

static double cpu_self(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + 1e-6 * ru.ru_utime.tv_usec + ru.ru_stime.tv_sec +
           1e-6 * ru.ru_stime.tv_usec;
}

/* Other processes share the machine: a measurement is repeated (up to
 * max_tries, 1 s apart) while they used more than a tenth of a core during
 * it; g_contended counts the measurements that never got a quiet window. */
static int g_contended, g_max_tries = 5;
typedef struct {
    double busy0, self0, t0;
} quiet_probe;
static quiet_probe probe_start(void)
{
    quiet_probe q = {cpu_busy_all(), cpu_self(), bench_now()};
    return q;
}
static int probe_quiet(const quiet_probe *q)
{
    if (q->busy0 < 0.0) return 1;
    double others = (cpu_busy_all() - q->busy0) - (cpu_self() - q->self0);
    double wall = bench_now() - q->t0;
    /* jiffies are coarse: allow 2 ticks of slack */
    return others <= 0.1 * wall + 2.0 / (double)sysconf(_SC_CLK_TCK);
}

static double sgemm_rate(int reps)
{
    int N = 1024;
    float *A = buf((size_t)N * N, 0.01f), *B = buf((size_t)N * N, 0.01f), *C = buf((size_t)N * N, 0);
    double t[MAX_REPS];
    mg_sgemm(0, 0, N, N, N, 1.0f, A, N, B, N, 0.0f, C, N);
    for (int tries = 0;; tries++) {
        quiet_probe q = probe_start();
        for (int r = 0; r < reps; r++) {
            double t0 = bench_now();
            mg_sgemm(0, 0, N, N, N, 1.0f, A, N, B, N, 0.0f, C, N);
            t[r] = bench_now() - t0;
        }
        if (probe_quiet(&q)) break;
        if (tries == g_max_tries) {
            g_contended++;
            break;
        }
        sleep(1);
    }
    free(A);
    free(B);
    free(C);
    return 2.0 * N * N * N / bench_median(t, reps) * 1e-9;
}

typedef struct {
    const char *name;
    int cin, h, w, cout, k, stride, pad, count, need_dx;
} conv_spec;

static const conv_spec net[] = {
    {"stem 1->16 28x28", 1, 28, 28, 16, 3, 1, 1, 1, 0},
    {"s1 16->16 28x28", 16, 28, 28, 16, 3, 1, 1, 4, 1},
    {"s2 16->32 s2", 16, 28, 28, 32, 3, 2, 1, 1, 1},
    {"s2 32->32 14x14", 32, 14, 14, 32, 3, 1, 1, 3, 1},
    {"s2 short 1x1 s2", 16, 28, 28, 32, 1, 2, 0, 1, 1},
    {"s3 32->64 s2", 32, 14, 14, 64, 3, 2, 1, 1, 1},
    {"s3 64->64 7x7", 64, 7, 7, 64, 3, 1, 1, 3, 1},
    {"s3 short 1x1 s2", 32, 14, 14, 64, 1, 2, 0, 1, 1},
};
#define N_SPEC ((int)(sizeof net / sizeof net[0]))

typedef struct {
    double fwd, bwd;         /* seconds, median */
    double fwd_min, bwd_min; /* fastest repeat  */
} conv_time;

/* --split W: the library's worker team (src/par.c, what mg_model_set_threads
 * runs for convolutional nets): convs split over W workers by examples (own
 * workspace, own gradient buffer, summed after the backward pass), bn2d by
 * channels, OpenBLAS on one thread.  g_par.team is NULL without --split. */
static int g_split = 1;
static mg_par g_par;

/* Forward (bwd = 0) and backward (bwd = 1) of one benchmarked op, timed
 * `reps` times; repeated while other processes disturbed the machine (up to
 * g_max_tries).  Medians and minima of both. */
static conv_time time_steps(void (*step)(void *args, int bwd), void *args, int reps)
{
    double tf[MAX_REPS], tb[MAX_REPS];
    for (int tries = 0;; tries++) {
        quiet_probe q = probe_start();
        for (int r = 0; r < reps; r++) {
            double t0 = bench_now();
            step(args, 0);
            double t1 = bench_now();
            step(args, 1);
            double t2 = bench_now();
            tf[r] = t1 - t0;
            tb[r] = t2 - t1;
        }
        if (probe_quiet(&q)) break;
        if (tries == g_max_tries) {
            g_contended++;
            break;
        }
        sleep(1);
    }
    conv_time t;
    t.fwd = bench_median(tf, reps); /* sorts */
    t.bwd = bench_median(tb, reps);
    t.fwd_min = tf[0];
    t.bwd_min = tb[0];
    return t;
}

static void run_conv(const mg_conv2d_shape *s, const float *p, float *g, const float *x,
                     float *y, const float *dy, float *dx, int n, float *ws, size_t nws,
                     float *gp, int bwd)
{
    for (int w = 0; w < g_split; w++) g_par.ws[w] = ws + w * nws;
    for (int w = 1; w < g_split; w++) g_par.gbuf[w] = gp + (w - 1) * mg_conv2d_n_params(s);
    g_par.gbuf_n = mg_conv2d_n_params(s);
    if (bwd)
        mg_par_conv_backward(&g_par, s, p, g, x, dy, dx, n);
    else
        mg_par_conv_forward(&g_par, s, p, x, y, n);
}

typedef struct {
    const mg_conv2d_shape *s;
    const float *p;
    float *g;
    const float *x;
    float *y;
    const float *dy;
    float *dx;
    int n;
    float *ws;
    size_t nws;
    float *gp;
} conv_args;

static void conv_step(void *args, int bwd)
{
    conv_args *a = args;
    run_conv(a->s, a->p, a->g, a->x, a->y, a->dy, a->dx, a->n, a->ws, a->nws, a->gp, bwd);
}

/* Time forward and backward of shape s at batch n (buffers of the right sizes). */
static conv_time time_conv(const mg_conv2d_shape *s, int n, int need_dx, int reps)
{
    size_t np = mg_conv2d_n_params(s);
    size_t nx = (size_t)n * s->cin * s->h * s->w, ny = (size_t)n * s->cout * s->ho * s->wo;
    size_t nws = mg_conv2d_workspace(s, n);
    float *p = buf(np, 0.01f), *g = buf(np, 0.0f), *x = buf(nx, 0.1f), *y = buf(ny, 0.0f);
    float *dy = buf(ny, 0.01f), *dx = buf(nx, 0.0f), *ws = buf(nws * g_split, 0.0f);
    float *gp = buf(np * (g_split - 1), 0.0f);
    float *dxp = need_dx ? dx : NULL;
    conv_args a = {s, p, g, x, y, dy, dxp, n, ws, nws, gp};
    conv_step(&a, 0); /* warm up */
    conv_step(&a, 1);
    conv_time t = time_steps(conv_step, &a, reps);
    free(p);
    free(g);
    free(x);
    free(y);
    free(dy);
    free(dx);
    free(ws);
    free(gp);
    return t;
}

static void make_shape(const conv_spec *c, mg_conv2d_shape *s)
{
    if (mg_conv2d_shape_init(s, c->cin, c->h, c->w, c->cout, c->k, c->k, c->stride, c->pad, 0)) {
        fprintf(stderr, "bench_conv: %s\n", mg_errmsg());
        exit(1);
    }
}

static int g_dw_cols; /* --dw-cols for --explore */

static const char *algo_name(mg_conv_algo a)
{
    return a == MG_CONV_SHIFT ? "shift" : a == MG_CONV_WINOGRAD ? "wino" : "im2col";
}

/* Every algorithm combination and chunk for one shape; prints the best. */
static void explore(const conv_spec *c, int n, int reps, double peak)
{
    mg_conv2d_shape s0;
    make_shape(c, &s0);
    double flops = mg_conv2d_flops(&s0) * n;
    double bwd_flops = flops * (c->need_dx ? 2.0 : 1.0);
    const int chunks[] = {1, 2, 4, 8, 16, 32, 64, 128};
    printf("  %-18s default fwd %s, dw %s, dx %s, chunk %d (1 thread: %d), dW split %d\n",
           c->name, algo_name(s0.fwd), algo_name(s0.dw), algo_name(s0.dx), s0.chunk, s0.chunk_1t,
           s0.dw_cols);
    double best_f = 1e30, best_b = 1e30;
    char bf[64] = "", bb[64] = "";
    for (int f = 0; f < 3; f++) {
        for (int ch = 0; ch < 8; ch++) {
            mg_conv2d_shape s = s0;
            /* forward alone: dw/dx follow f so that the workspace is minimal */
            if (!mg_conv2d_set_algo(&s, (mg_conv_algo)f, (mg_conv_algo)f, (mg_conv_algo)f,
                                    chunks[ch], 0))
                continue;
            conv_time t = time_conv(&s, n, c->need_dx, reps);
            printf("    fwd %-6s chunk %2d: %8.3f ms %6.1f GF/s (%.0f%% of sgemm)\n",
                   algo_name((mg_conv_algo)f), chunks[ch], t.fwd_min * 1e3,
                   flops / t.fwd_min * 1e-9, 100.0 * flops / t.fwd_min * 1e-9 / peak);
            if (t.fwd_min < best_f) {
                best_f = t.fwd_min;
                snprintf(bf, sizeof bf, "%s chunk %d", algo_name((mg_conv_algo)f), chunks[ch]);
            }
        }
    }
    for (int w = 0; w < 3; w++) {
        for (int d = 0; d < 3; d++) {
            if (!c->need_dx && d != w) continue;
            for (int ch = 0; ch < 8; ch++) {
                mg_conv2d_shape s = s0;
                if (!mg_conv2d_set_algo(&s, (mg_conv_algo)w, (mg_conv_algo)w, (mg_conv_algo)d,
                                        chunks[ch], g_dw_cols))
                    continue;
                conv_time t = time_conv(&s, n, c->need_dx, reps);
                printf("    bwd dw %-6s dx %-6s chunk %2d: %8.3f ms %6.1f GF/s (%.0f%%)\n",
                       algo_name((mg_conv_algo)w), algo_name((mg_conv_algo)d), chunks[ch],
                       t.bwd_min * 1e3, bwd_flops / t.bwd_min * 1e-9,
                       100.0 * bwd_flops / t.bwd_min * 1e-9 / peak);
                if (t.bwd_min < best_b) {
                    best_b = t.bwd_min;
                    snprintf(bb, sizeof bb, "dw %s dx %s chunk %d", algo_name((mg_conv_algo)w),
                             algo_name((mg_conv_algo)d), chunks[ch]);
                }
            }
        }
    }
    printf("    best fwd: %s (%.3f ms); best bwd: %s (%.3f ms)\n", bf, best_f * 1e3, bb,
           best_b * 1e3);
}

/* BN + ReLU forward or backward; with --split, channel ranges on the team */
static void run_bn(int c, int hw, int n, const float *p, float *b, float *g, const float *x,
                   float *y, float *st, const float *dy, float *dx, int bwd)
{
    if (bwd)
        mg_par_bn2d_backward(&g_par, c, hw, n, p, g, x, y, st, dy, dx, 1, 1);
    else
        mg_par_bn2d_forward(&g_par, c, hw, n, p, b, x, y, st, 1, 1);
}

typedef struct {
    int c, hw, n;
    const float *p;
    float *b, *g;
    const float *x;
    float *y, *st;
    const float *dy;
    float *dx;
} bn_args;

static void bn_step(void *args, int bwd)
{
    bn_args *a = args;
    run_bn(a->c, a->hw, a->n, a->p, a->b, a->g, a->x, a->y, a->st, a->dy, a->dx, bwd);
}

/* BN + ReLU (fused) forward and backward over n x c x hw, train mode. */
static conv_time time_bn(int c, int hw, int n, int reps)
{
    size_t nx = (size_t)n * c * hw;
    float *p = buf(2 * (size_t)c, 0.1f), *g = buf(2 * (size_t)c, 0.0f), *b = buf(2 * (size_t)c, 0.1f);
    float *st = buf(2 * (size_t)c, 0.0f), *x = buf(nx, 0.1f), *y = buf(nx, 0.0f);
    float *dy = buf(nx, 0.01f), *dx = buf(nx, 0.0f);
    for (int j = 0; j < c; j++) p[j] = 1.0f, b[c + j] = 1.0f;
    bn_args a = {c, hw, n, p, b, g, x, y, st, dy, dx};
    conv_time t = time_steps(bn_step, &a, reps);
    free(p);
    free(g);
    free(b);
    free(st);
    free(x);
    free(y);
    free(dy);
    free(dx);
    return t;
}

/* ---------------------------------------------------------------- oneDNN */

/* --fastest: the comparison reports each measurement's fastest repeat
 * instead of its median (robust when other processes share the machine). */
static int g_fastest;
static conv_time pick(conv_time t)
{
    if (g_fastest) {
        t.fwd = t.fwd_min;
        t.bwd = t.bwd_min;
    }
    return t;
}

static void dnnl_check(dnnl_status_t st, const char *what)
{
    if (st != dnnl_success) {
        fprintf(stderr, "bench_conv: oneDNN %s failed (status %d)\n", what, (int)st);
        exit(1);
    }
}

typedef struct {
    mg_conv_dnnl *c;
    const float *p;
    float *g;
    const float *x;
    float *y;
    const float *dy;
    float *dx;
    int n;
} dnnl_args;

static void dnnl_step(void *args, int bwd)
{
    dnnl_args *a = args;
    mg_status st = bwd ? mg_conv_dnnl_backward(a->c, a->p, a->g, a->x, a->dy, a->dx, a->n)
                       : mg_conv_dnnl_forward(a->c, a->p, a->x, a->y, a->n);
    if (st) {
        fprintf(stderr, "bench_conv: %s\n", mg_errmsg());
        exit(1);
    }
}

/* Forward and backward of shape s at batch n with oneDNN on `threads`
 * threads (skip_reorders: mg_conv_dnnl_skip_reorders); impl (3 x 48
 * chars) gets the implementations' names. */
static conv_time time_dnnl_conv(const mg_conv2d_shape *s, int n, int need_dx, int threads,
                                mg_conv_dnnl_layout layout, int skip_reorders, int reps,
                                char impl[3][48])
{
    mg_conv_dnnl *c;
    if (mg_conv_dnnl_create(s, n, threads, layout, &c)) {
        fprintf(stderr, "bench_conv: %s\n", mg_errmsg());
        exit(1);
    }
    for (int i = 0; i < 3; i++) snprintf(impl[i], 48, "%s", mg_conv_dnnl_impl(c, n, i));
    mg_conv_dnnl_skip_reorders(c, skip_reorders);
    size_t np = mg_conv2d_n_params(s);
    size_t nx = (size_t)n * s->cin * s->h * s->w, ny = (size_t)n * s->cout * s->ho * s->wo;
    float *p = buf(np, 0.01f), *g = buf(np, 0.0f), *x = buf(nx, 0.1f), *y = buf(ny, 0.0f);
    float *dy = buf(ny, 0.01f), *dx = buf(nx, 0.0f);
    dnnl_args a = {c, p, g, x, y, dy, need_dx ? dx : NULL, n};
    dnnl_step(&a, 0); /* warm up */
    dnnl_step(&a, 1);
    conv_time t = time_steps(dnnl_step, &a, reps);
    mg_conv_dnnl_free(c);
    free(p);
    free(g);
    free(x);
    free(y);
    free(dy);
    free(dx);
    return t;
}

/* oneDNN batch normalization + fused ReLU over n x c x h x w (train mode,
 * scale and shift, backward with their gradients) in layout tag. */
typedef struct {
    dnnl_stream_t stream;
    dnnl_primitive_t fwd, bwd;
    int nf, nb;
    dnnl_exec_arg_t af[8], ab[10];
} dnnl_bn;

static void dnnl_bn_step(void *args, int bwd)
{
    dnnl_bn *b = args;
    if (bwd)
        dnnl_check(dnnl_primitive_execute(b->bwd, b->stream, b->nb, b->ab), "bn backward");
    else
        dnnl_check(dnnl_primitive_execute(b->fwd, b->stream, b->nf, b->af), "bn forward");
    dnnl_check(dnnl_stream_wait(b->stream), "stream_wait");
}

static conv_time time_dnnl_bn(int c, int h, int w, int n, dnnl_format_tag_t tag, int threads,
                              int reps)
{
    int prev = omp_get_max_threads();
    omp_set_num_threads(threads);
    dnnl_engine_t eng;
    dnnl_bn b;
    dnnl_check(dnnl_engine_create(&eng, dnnl_cpu, 0), "engine");
    dnnl_check(dnnl_stream_create(&b.stream, eng, dnnl_stream_default_flags), "stream");
    dnnl_dims_t d = {n, c, h, w}, dc = {c};
    dnnl_memory_desc_t md, cmd;
    dnnl_check(dnnl_memory_desc_init_by_tag(&md, 4, d, dnnl_f32, tag), "md");
    dnnl_check(dnnl_memory_desc_init_by_tag(&cmd, 1, dc, dnnl_f32, dnnl_x), "md");
    unsigned flags = dnnl_use_scale | dnnl_use_shift | dnnl_fuse_norm_relu;
    dnnl_batch_normalization_desc_t fd, bd;
    dnnl_primitive_desc_t fpd, bpd;
    dnnl_check(dnnl_batch_normalization_forward_desc_init(&fd, dnnl_forward_training, &md, 1e-5f,
                                                          flags),
               "bn forward desc");
    dnnl_check(dnnl_primitive_desc_create(&fpd, &fd, NULL, eng, NULL), "bn forward pd");
    dnnl_check(dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, &md, &md, 1e-5f,
                                                           flags),
               "bn backward desc");
    dnnl_check(dnnl_primitive_desc_create(&bpd, &bd, NULL, eng, fpd), "bn backward pd");
    const dnnl_memory_desc_t *wsmd = dnnl_primitive_desc_query_md(fpd, dnnl_query_workspace_md, 0);
    enum { SRC, DST, MEAN, VAR, SCALE, SHIFT, WS, DDST, DSRC, DSCALE, DSHIFT, NM };
    dnnl_memory_t m[NM];
    void *data[NM];
    for (int i = 0; i < NM; i++) {
        const dnnl_memory_desc_t *mi = i == WS ? wsmd
                                       : (i == SRC || i == DST || i == DDST || i == DSRC) ? &md
                                                                                         : &cmd;
        size_t sz = dnnl_memory_desc_get_size(mi);
        data[i] = buf(sz / sizeof(float) + 1, i == SCALE ? 0.0f : 0.01f);
        if (i == SCALE)
            for (int j = 0; j < c; j++) ((float *)data[i])[j] = 1.0f;
        dnnl_check(dnnl_memory_create(&m[i], mi, eng, data[i]), "memory");
    }
    const int fa[][2] = {{DNNL_ARG_SRC, SRC},     {DNNL_ARG_DST, DST},     {DNNL_ARG_MEAN, MEAN},
                         {DNNL_ARG_VARIANCE, VAR}, {DNNL_ARG_SCALE, SCALE}, {DNNL_ARG_SHIFT, SHIFT},
                         {DNNL_ARG_WORKSPACE, WS}};
    const int ba[][2] = {{DNNL_ARG_SRC, SRC},         {DNNL_ARG_MEAN, MEAN},
                         {DNNL_ARG_VARIANCE, VAR},    {DNNL_ARG_SCALE, SCALE},
                         {DNNL_ARG_SHIFT, SHIFT},     {DNNL_ARG_WORKSPACE, WS},
                         {DNNL_ARG_DIFF_DST, DDST},   {DNNL_ARG_DIFF_SRC, DSRC},
                         {DNNL_ARG_DIFF_SCALE, DSCALE}, {DNNL_ARG_DIFF_SHIFT, DSHIFT}};
    b.nf = 7;
    b.nb = 10;
    for (int i = 0; i < b.nf; i++) b.af[i] = (dnnl_exec_arg_t){fa[i][0], m[fa[i][1]]};
    for (int i = 0; i < b.nb; i++) b.ab[i] = (dnnl_exec_arg_t){ba[i][0], m[ba[i][1]]};
    dnnl_check(dnnl_primitive_create(&b.fwd, fpd), "bn forward");
    dnnl_check(dnnl_primitive_create(&b.bwd, bpd), "bn backward");
    dnnl_bn_step(&b, 0);
    dnnl_bn_step(&b, 1);
    conv_time t = time_steps(dnnl_bn_step, &b, reps);
    dnnl_primitive_destroy(b.fwd);
    dnnl_primitive_destroy(b.bwd);
    dnnl_primitive_desc_destroy(fpd);
    dnnl_primitive_desc_destroy(bpd);
    for (int i = 0; i < NM; i++) {
        dnnl_memory_destroy(m[i]);
        free(data[i]);
    }
    dnnl_stream_destroy(b.stream);
    dnnl_engine_destroy(eng);
    omp_set_num_threads(prev);
    return t;
}

/* Interleaving oneDNN (OpenMP threads) with the worker team: blocked conv
 * forward then the team's bn2d forward, alternately, against the sum of the
 * two alone (OpenMP's idle threads spin for a while after each region and
 * may take the cores from the team). */
typedef struct {
    dnnl_args *conv;
    bn_args *bn;
    int which; /* 0 conv, 1 bn, 2 both */
} mix_args;

static void mix_step(void *args, int bwd)
{
    mix_args *m = args;
    (void)bwd;
    for (int i = 0; i < 4; i++) {
        if (m->which != 1) dnnl_step(m->conv, 0);
        if (m->which != 0) bn_step(m->bn, 0);
    }
}

static void interleave_probe(int n, int threads, int reps)
{
    mg_conv2d_shape s;
    make_shape(&net[1], &s); /* stage 1 3x3: the most frequent conv */
    mg_conv_dnnl *c;
    if (mg_conv_dnnl_create(&s, n, threads, MG_CONV_DNNL_BLOCKED, &c)) {
        fprintf(stderr, "bench_conv: %s\n", mg_errmsg());
        exit(1);
    }
    size_t np = mg_conv2d_n_params(&s), nx = (size_t)n * s.cin * s.h * s.w;
    float *p = buf(np, 0.01f), *x = buf(nx, 0.1f), *y = buf(nx, 0.0f), *z = buf(nx, 0.0f);
    float *bp = buf(32, 0.1f), *bb = buf(32, 0.1f), *st = buf(32, 0.0f);
    for (int j = 0; j < 16; j++) bp[j] = 1.0f, bb[16 + j] = 1.0f;
    dnnl_args da = {c, p, NULL, x, y, NULL, NULL, n};
    bn_args ba = {16, s.h * s.w, n, bp, bb, NULL, y, z, st, NULL, NULL};
    mix_args m[3] = {{&da, &ba, 0}, {&da, &ba, 1}, {&da, &ba, 2}};
    double t[3];
    for (int k = 0; k < 3; k++) {
        mix_step(&m[k], 0);
        t[k] = pick(time_steps(mix_step, &m[k], reps)).fwd;
    }
    printf("interleaving (4 x [oneDNN blocked conv %s fwd, team bn2d+relu fwd]): %.2f ms, the two "
           "alone %.2f + %.2f ms (%.2fx the sum)\n",
           net[1].name, t[2] * 1e3, t[0] * 1e3, t[1] * 1e3, t[2] / (t[0] + t[1]));
    mg_conv_dnnl_free(c);
    free(p);
    free(x);
    free(y);
    free(z);
    free(bp);
    free(bb);
    free(st);
}

/* The comparison of the speed issue: the team of `threads` (today's model)
 * against oneDNN, per conv shape and for the batch norms. */
typedef struct {
    mg_conv_exec *e;
    conv_args a;
} exec_args;

static void exec_step(void *args, int bwd)
{
    exec_args *ea = args;
    conv_args *a = &ea->a;
    for (int w = 0; w < g_split; w++) g_par.ws[w] = a->ws + w * a->nws;
    for (int w = 1; w < g_split; w++) g_par.gbuf[w] = a->gp + (w - 1) * mg_conv2d_n_params(a->s);
    g_par.gbuf_n = mg_conv2d_n_params(a->s);
    if (bwd)
        mg_conv_exec_backward(ea->e, &g_par, a->s, a->p, a->g, a->x, a->dy, a->dx, a->n);
    else
        mg_conv_exec_forward(ea->e, &g_par, a->s, a->p, a->x, a->y, a->n);
}

/* Shape s as the model runs it (its executor, or today's kernels when none),
 * on the team of g_par; impl: what ran. */
static conv_time time_model_conv(const mg_conv2d_shape *s, int n, int need_dx, int reps,
                                 char impl[48])
{
    size_t np = mg_conv2d_n_params(s);
    size_t nx = (size_t)n * s->cin * s->h * s->w, ny = (size_t)n * s->cout * s->ho * s->wo;
    size_t nws = mg_conv2d_workspace(s, n);
    float *p = buf(np, 0.01f), *g = buf(np, 0.0f), *x = buf(nx, 0.1f), *y = buf(ny, 0.0f);
    float *dy = buf(ny, 0.01f), *dx = buf(nx, 0.0f), *ws = buf(nws * g_split, 0.0f);
    float *gp = buf(np * (g_split - 1), 0.0f);
    exec_args ea = {NULL, {s, p, g, x, y, dy, need_dx ? dx : NULL, n, ws, nws, gp}};
    mg_conv_exec_reserve(&ea.e, s, n, &g_par);
    snprintf(impl, 48, "%s%s", ea.e ? "onednn " : "im2col", mg_conv_exec_impl(ea.e));
    exec_step(&ea, 0); /* warm up */
    exec_step(&ea, 1);
    conv_time t = time_steps(exec_step, &ea, reps);
    mg_conv_exec_free(ea.e);
    free(p), free(g), free(x), free(y), free(dy), free(dx), free(ws), free(gp);
    return t;
}

/* A worker team of `threads` for a table when none is set up (returns 1:
 * team_end frees it and restores the split). */
static int team_begin(int threads)
{
    if (g_par.team != NULL || threads < 2) return 0;
    if (mg_team_create(threads, &g_par.team)) {
        fprintf(stderr, "bench_conv: %s\n", mg_errmsg());
        exit(1);
    }
    g_par.n = threads;
    g_split = threads;
    return 1;
}

static void team_end(int own_team, int saved_split)
{
    if (!own_team) return;
    mg_team_free(g_par.team);
    g_par.team = NULL;
    g_par.n = 0;
    g_split = saved_split;
}

/* The network's convs as the model runs them against today's kernels. */
static void model_table(int n, int threads, int reps, double peak)
{
    int saved_split = g_split, own_team = team_begin(threads);
    mg_set_threads(1);
    printf("\nthe convs as the model runs them (batch %d, worker team of %d, %s; GF/s, %% of "
           "sgemm %.1f):\n", n, g_split, g_fastest ? "fastest repeats" : "medians", peak);
    printf("%-18s %5s %-16s %15s %15s %15s %15s\n", "conv", "count", "model's impl",
           "today fwd", "model fwd", "today bwd", "model bwd");
    double tt = 0.0, tm = 0.0, tf = 0.0;
    for (int i = 0; i < N_SPEC; i++) {
        mg_conv2d_shape s;
        make_shape(&net[i], &s);
        char impl[48];
        conv_time t0 = pick(time_conv(&s, n, net[i].need_dx, reps));
        conv_time t1 = pick(time_model_conv(&s, n, net[i].need_dx, reps, impl));
        double ff = mg_conv2d_flops(&s) * n, fb = ff * (net[i].need_dx ? 2.0 : 1.0);
        printf("%-18s %5d %-16s", net[i].name, net[i].count, impl);
        const double sec[4] = {t0.fwd, t1.fwd, t0.bwd, t1.bwd}, fl[4] = {ff, ff, fb, fb};
        for (int k = 0; k < 4; k++)
            printf(" %7.1f (%4.0f%%)", fl[k] / sec[k] * 1e-9, 100.0 * fl[k] / sec[k] * 1e-9 / peak);
        printf("\n");
        tt += net[i].count * (t0.fwd + t0.bwd);
        tm += net[i].count * (t1.fwd + t1.bwd);
        tf += net[i].count * (ff + fb);
    }
    printf("network convs (fwd+bwd, counts): today %.2f ms = %.0f%% of sgemm, model %.2f ms = "
           "%.0f%% of sgemm; model/today speed-up %.2fx\n",
           tt * 1e3, 100.0 * tf / tt * 1e-9 / peak, tm * 1e3, 100.0 * tf / tm * 1e-9 / peak,
           tt / tm);
    team_end(own_team, saved_split);
}

static void compare_dnnl(int n, int threads, int reps, double peak)
{
    int saved_split = g_split, own_team = team_begin(threads);
    mg_set_threads(1); /* the team runs OpenBLAS on one thread */
    printf("\ncomparison (batch %d, %d thread(s), %s): team = today's kernels on the worker team "
           "(OpenBLAS 1 thread);\noneDNN plain = NCHW primitives, blocked = oneDNN's layouts "
           "+ reorders; GF/s (%% of sgemm %.1f)\n",
           n, threads, g_fastest ? "fastest repeats" : "medians", peak);
    printf("blocked-reorders: blocked without reordering the activations (the time of a "
           "network kept\nin oneDNN's layouts end to end; mg_conv_dnnl_skip_reorders)\n");
    printf("%-18s %-5s %15s %15s %15s %16s  %s\n", "conv", "pass", "team", "dnnl plain",
           "dnnl blocked", "blocked-reorders",
           "oneDNN impl plain | blocked (fwd, bwd data, bwd weights)");
    double tot[4] = {0, 0, 0, 0}, tot_min[3] = {0, 0, 0}, tot_f = 0.0;
    for (int i = 0; i < N_SPEC; i++) {
        mg_conv2d_shape s;
        make_shape(&net[i], &s);
        double ff = mg_conv2d_flops(&s) * n, fb = ff * (net[i].need_dx ? 2.0 : 1.0);
        conv_time t[4];
        char impl[2][3][48];
        t[0] = pick(time_conv(&s, n, net[i].need_dx, reps));
        t[1] = pick(time_dnnl_conv(&s, n, net[i].need_dx, threads, MG_CONV_DNNL_PLAIN, 0, reps,
                                   impl[0]));
        t[2] = pick(time_dnnl_conv(&s, n, net[i].need_dx, threads, MG_CONV_DNNL_BLOCKED, 0, reps,
                                   impl[1]));
        t[3] = pick(time_dnnl_conv(&s, n, net[i].need_dx, threads, MG_CONV_DNNL_BLOCKED, 1, reps,
                                   impl[1]));
        for (int pass = 0; pass < 2; pass++) {
            double f = pass ? fb : ff;
            printf("%-18s %-5s", pass ? "" : net[i].name, pass ? "bwd" : "fwd");
            for (int k = 0; k < 4; k++) {
                double sec = pass ? t[k].bwd : t[k].fwd;
                printf(" %7.1f (%4.0f%%)", f / sec * 1e-9, 100.0 * f / sec * 1e-9 / peak);
            }
            if (pass)
                printf("  %s, %s | %s, %s\n", impl[0][1], impl[0][2], impl[1][1], impl[1][2]);
            else
                printf("  %s | %s\n", impl[0][0], impl[1][0]);
        }
        for (int k = 0; k < 3; k++) {
            tot[k] += net[i].count * (t[k].fwd + t[k].bwd);
            tot_min[k] += net[i].count * (t[k].fwd_min + t[k].bwd_min);
        }
        tot[3] += net[i].count * (t[3].fwd + t[3].bwd);
        tot_f += net[i].count * (ff + fb);
    }
    printf("network convs (fwd+bwd, counts):");
    const char *nm[4] = {"team", "dnnl plain", "dnnl blocked", "blocked-reorders"};
    for (int k = 0; k < 4; k++)
        printf("%s %s %.2f ms = %.1f GF/s (%.0f%%)%s", k == 2 ? "\n " : "", nm[k], tot[k] * 1e3,
               tot_f / tot[k] * 1e-9, 100.0 * tot_f / tot[k] * 1e-9 / peak, k < 3 ? ";" : "\n");
    printf("speed-up over the team: dnnl plain %.2fx, dnnl blocked %.2fx (fastest repeats: "
           "%.2fx, %.2fx)\n",
           tot[0] / tot[1], tot[0] / tot[2], tot_min[0] / tot_min[1], tot_min[0] / tot_min[2]);

    const struct { int c, h, count; } bns[] = {{16, 28, 5}, {32, 14, 4}, {64, 7, 5}};
    printf("%-18s %-5s %15s %15s %15s\n", "bn2d+relu (train)", "pass", "team ms", "dnnl nchw ms",
           "dnnl nChw8c ms");
    double bt[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        conv_time t[3];
        t[0] = pick(time_bn(bns[i].c, bns[i].h * bns[i].h, n, reps));
        t[1] = pick(time_dnnl_bn(bns[i].c, bns[i].h, bns[i].h, n, dnnl_nchw, threads, reps));
        t[2] = pick(time_dnnl_bn(bns[i].c, bns[i].h, bns[i].h, n, dnnl_nChw8c, threads, reps));
        char name[32];
        snprintf(name, sizeof name, "%dx%dx%d x%d", bns[i].c, bns[i].h, bns[i].h, bns[i].count);
        printf("%-18s %-5s %15.3f %15.3f %15.3f\n", name, "fwd", t[0].fwd * 1e3, t[1].fwd * 1e3,
               t[2].fwd * 1e3);
        printf("%-18s %-5s %15.3f %15.3f %15.3f\n", "", "bwd", t[0].bwd * 1e3, t[1].bwd * 1e3,
               t[2].bwd * 1e3);
        for (int k = 0; k < 3; k++) bt[k] += bns[i].count * (t[k].fwd + t[k].bwd);
    }
    printf("network bn2d+relu (fwd+bwd, counts): team %.2f ms, dnnl nchw %.2f ms, dnnl nChw8c "
           "%.2f ms\n",
           bt[0] * 1e3, bt[1] * 1e3, bt[2] * 1e3);
    printf("images/s, convs + bn: team %.0f, dnnl plain+nchw bn %.0f, dnnl blocked+nChw8c bn "
           "%.0f, blocked-reorders+nChw8c bn %.0f\n",
           n / (tot[0] + bt[0]), n / (tot[1] + bt[1]), n / (tot[2] + bt[2]),
           n / (tot[3] + bt[2]));
    if (g_par.team) interleave_probe(n, threads, reps);
    team_end(own_team, saved_split);
}

int main(int argc, char **argv)
{
    int threads = 2, reps = 7, n = 128, do_explore = 0, dnnl = 1, dnnl_only = 0, model = 0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--explore")) do_explore = 1;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--dw-cols") && i + 1 < argc) g_dw_cols = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tries") && i + 1 < argc) g_max_tries = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--split") && i + 1 < argc) g_split = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-dnnl")) dnnl = 0;
        else if (!strcmp(argv[i], "--dnnl-only")) dnnl_only = 1;
        else if (!strcmp(argv[i], "--fastest")) g_fastest = 1;
        else if (!strcmp(argv[i], "--model")) model = 1;
        else if (!strcmp(argv[i], "--model-only")) model = 2;
        else {
            fprintf(stderr, "usage: bench_conv [--threads N] [--reps R] [--batch B] [--tries T] "
                            "[--split W] [--explore [--only NAME] [--dw-cols C]] "
                            "[--no-dnnl | --dnnl-only] [--fastest] [--model | --model-only]\n");
            return 2;
        }
    }
    if (threads < 1 || reps < 1 || reps > MAX_REPS || n < 1 || g_split < 1 ||
        g_split > MG_MAX_WORKERS || g_split > n || g_max_tries < 0) {
        fprintf(stderr,
                "bench_conv: --threads, --batch >= 1, --reps in 1..%d, --split in 1..%d "
                "(<= batch), --tries >= 0\n",
                MAX_REPS, MG_MAX_WORKERS);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int cmp_threads = g_split > 1 ? g_split : threads; /* the team's and oneDNN's */
    /* the reference rate uses as many cores as the convs will */
    mg_set_threads(g_split > 1 ? g_split : threads);
    double peak = sgemm_rate(reps);
    printf("bench_conv: batch %d, %d thread(s), median of %d\n", n,
           g_split > 1 ? g_split : threads, reps);
    if (g_split > 1) {
        printf("--split %d: the library's worker team (convs on %d example shares, bn2d on "
               "channel ranges), OpenBLAS on 1 thread\n",
               g_split, g_split);
        threads = 1;
        mg_set_threads(1);
        if (mg_team_create(g_split, &g_par.team)) {
            fprintf(stderr, "bench_conv: %s\n", mg_errmsg());
            return 1;
        }
        g_par.n = g_split;
    }
    printf("sgemm 1024^3 (%d thread(s)): %.1f GFLOP/s\n", g_split > 1 ? g_split : threads, peak);

    if (do_explore) {
        printf("explore (every algorithm and chunk):\n");
        for (int i = 0; i < N_SPEC; i++)
            if (!only || strstr(net[i].name, only)) explore(&net[i], n, reps, peak);
        if (only) {
            if (g_contended)
                printf("warning: %d measurement(s) shared the CPUs with other processes\n",
                       g_contended);
            return 0;
        }
    }

    if (model == 2) {
        model_table(n, cmp_threads, reps, peak);
        if (g_contended)
            printf("warning: %d measurement(s) shared the CPUs with other processes\n",
                   g_contended);
        mg_team_free(g_par.team);
        return 0;
    }
    if (!dnnl_only) {
        printf("%-18s %5s %-22s %9s %9s %8s %8s\n", "conv (default algo)", "count",
               "fwd/dw/dx chunk",
               "fwd ms", "bwd ms", "GF/s", "%sgemm");
        double tot_t = 0.0, tot_f = 0.0;
        for (int i = 0; i < N_SPEC; i++) {
            mg_conv2d_shape s;
            make_shape(&net[i], &s);
            conv_time t = time_conv(&s, n, net[i].need_dx, reps);
            double f = mg_conv2d_flops(&s) * n * (net[i].need_dx ? 3.0 : 2.0);
            double rate = f / (t.fwd + t.bwd) * 1e-9;
            char algo[40];
            snprintf(algo, sizeof algo, "%s/%s/%s %d", algo_name(s.fwd), algo_name(s.dw),
                     algo_name(s.dx), threads > 1 ? s.chunk : s.chunk_1t);
            printf("%-18s %5d %-22s %9.3f %9.3f %8.1f %7.0f%%\n", net[i].name, net[i].count, algo,
                   t.fwd * 1e3, t.bwd * 1e3, rate, 100.0 * rate / peak);
            tot_t += net[i].count * (t.fwd + t.bwd);
            tot_f += net[i].count * f;
        }
        /* BN+ReLU in front of each conv but the stem (the projection shares its
         * block's first BN), and the final one: widths x sizes */
        const struct { int c, hw, count; } bns[] = {{16, 784, 5}, {32, 196, 4}, {64, 49, 5}};
        double bn_t = 0.0;
        for (int i = 0; i < 3; i++) {
            conv_time t = time_bn(bns[i].c, bns[i].hw, n, reps);
            printf("bn2d+relu %2dx%-4d   %5d %-22s %9.3f %9.3f\n", bns[i].c, bns[i].hw,
                   bns[i].count, "fused", t.fwd * 1e3, t.bwd * 1e3);
            bn_t += bns[i].count * (t.fwd + t.bwd);
        }
        double bound = tot_f / (peak * 1e9);
        printf("network convs: %.1f MFLOP per image per step, %.2f ms per batch = %.1f GFLOP/s "
               "(%.0f%% of sgemm)\n",
               tot_f / n * 1e-6, tot_t * 1e3, tot_f / tot_t * 1e-9, 100.0 * bound / tot_t);
        printf("images/s: convs alone %.0f, convs + bn/relu %.0f; sgemm bound for the FLOPs %.0f "
               "(70%%: %.0f)\n",
               n / tot_t, n / (tot_t + bn_t), n / bound, 0.7 * n / bound);
    }
    if (dnnl || model) model_table(n, cmp_threads, reps, peak);
    if (dnnl) compare_dnnl(n, cmp_threads, reps, peak);
    if (g_contended)
        printf("warning: %d measurement(s) shared the CPUs with other processes\n", g_contended);
    mg_team_free(g_par.team);
    return 0;
}
