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
 * Usage: bench_conv [--threads N] [--reps R] [--batch B] [--tries T] [--split W]
 *                   [--explore [--only NAME] [--dw-cols C]] */
#include "par.h"
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>


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

int main(int argc, char **argv)
{
    int threads = 2, reps = 7, n = 128, do_explore = 0;
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
        else {
            fprintf(stderr, "usage: bench_conv [--threads N] [--reps R] [--batch B] [--tries T] "
                            "[--split W] [--explore [--only NAME] [--dw-cols C]]\n");
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

    printf("%-18s %5s %-22s %9s %9s %8s %8s\n", "conv (default algo)", "count", "fwd/dw/dx chunk",
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
        printf("bn2d+relu %2dx%-4d   %5d %-22s %9.3f %9.3f\n", bns[i].c, bns[i].hw, bns[i].count,
               "fused", t.fwd * 1e3, t.bwd * 1e3);
        bn_t += bns[i].count * (t.fwd + t.bwd);
    }
    double bound = tot_f / (peak * 1e9);
    printf("network convs: %.1f MFLOP per image per step, %.2f ms per batch = %.1f GFLOP/s "
           "(%.0f%% of sgemm)\n",
           tot_f / n * 1e-6, tot_t * 1e3, tot_f / tot_t * 1e-9, 100.0 * bound / tot_t);
    printf("images/s: convs alone %.0f, convs + bn/relu %.0f; sgemm bound for the FLOPs %.0f "
           "(70%%: %.0f)\n",
           n / tot_t, n / (tot_t + bn_t), n / bound, 0.7 * n / bound);
    if (g_contended)
        printf("warning: %d measurement(s) shared the CPUs with other processes\n", g_contended);
    mg_team_free(g_par.team);
    return 0;
}
