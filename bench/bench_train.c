/* bench_train.c - training throughput of the reference MLP against the
 * machine's own sgemm rate, measured in the same run.
 *
 * Workload (issue #2): Fashion-MNIST, 784-512-512-10 ReLU, batch 128, Manifold
 * Mixup with S = {0,1,2}, alpha 2, SGD Nesterov, BCE loss, 2 threads.
 *
 * Bounds (samples/s that sgemm alone would allow for the same FLOPs):
 *  - "same-shape": the exact GEMM calls of one training step (3 forward,
 *    3 weight-gradient, 2 input-gradient products), timed alone;
 *  - "peak": a large square sgemm (2048^3).
 * Reported: medians over repeats.  Peak memory of the training: the peak
 * resident set (VmHWM) reset after the sgemm references (/proc/self/clear_refs;
 * ru_maxrss of the whole process where that is refused), compared with the
 * dataset's size + 64 MiB.
 * Second part (issue #5): PreActResNet 16-32-64, 2 blocks per stage, batch
 * 128, Manifold Mixup S = {0,1,2}, crop4+flip augmentation: images/s over
 * --cnn-steps steps (median step time after 3 warm-up steps) beside the
 * images/s that the 2048^3 sgemm rate allows for its convolution and dense
 * FLOPs (forward + backward).
 * --breakdown: the per-layer profile (mg_trainer_profile_report) of the MLP's
 * epochs after the first and of the PreActResNet's steps after the warm-up.
 * Usage: bench_train [--threads N] [--epochs E] [--cnn-steps S] [--net mlp|cnn|both]
 *                    [--data DIR] [--breakdown] [--conv auto|im2col|nchw]
 * --conv im2col: every conv on our own kernels (the reference), for A/B;
 * --conv nchw: oneDNN for the 3x3 convs with NCHW tensors between layers
 * (reorders around every call: the path before nChw8c end to end). */
#include "mixgeo.h"
#include "bench.h"
#include "conv_backend.h" /* mg_conv_set_blk8 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef struct gemm_bufs gemm_bufs;
static double step_gemms(const int *w, int L, int B, gemm_bufs *g);

typedef struct {
    int reps;
    double sec[64];
    mg_trainer *tr; /* profiled (--breakdown), else NULL */
    /* the paired bound: after every epoch, the same-shape GEMMs of as many
     * steps, timed right then (a shared machine's load changes by the
     * minute; a pair sees about the same load) */
    gemm_bufs *gb;
    const int *w;
    int L, B, steps, pairs;
    double bound_sec[64];
} epoch_times;

typedef struct {
    int steps, max_steps;
    double last, sec[1024];
    mg_trainer *tr; /* profiled (--breakdown), else NULL */
} step_times;

static int on_step(void *u, int e, int s, int spe, double loss)
{
    (void)e, (void)s, (void)spe, (void)loss;
    step_times *t = u;
    double n = bench_now();
    if (t->steps < 1024) t->sec[t->steps] = n - t->last;
    t->last = n;
    ++t->steps;
    if (t->tr && t->steps == 3) mg_trainer_profile(t->tr, 1); /* after the warm-up */
    return t->steps >= t->max_steps;
}

static int on_epoch(void *u, const mg_epoch_metrics *em)
{
    epoch_times *t = u;
    if (t->reps < 64) t->sec[t->reps++] = em->seconds;
    if (t->gb && t->pairs < 64) {
        double s = 0.0;
        for (int i = 0; i < t->steps; i++) s += step_gemms(t->w, t->L, t->B, t->gb);
        t->bound_sec[t->pairs++] = s;
    }
    if (t->tr && t->reps == 1) mg_trainer_profile(t->tr, 1); /* epochs after the first */
    return 0;
}

static void print_breakdown(const mg_trainer *t)
{
    char buf[16384];
    mg_trainer_profile_report(t, buf, sizeof buf);
    fputs(buf, stdout);
}

/* Buffers of the same sizes as the training step's (weights, weight
 * gradients, activations and their gradients, per layer), so that the
 * reference GEMMs see the same memory footprint as the real ones. */
struct gemm_bufs {
    float *W[8], *dW[8], *h[9], *dh[9];
};

static int bufs_alloc(gemm_bufs *g, const int *w, int L, int B)
{
    memset(g, 0, sizeof *g);
    for (int l = 0; l <= L; l++) {
        g->h[l] = malloc(sizeof(float) * (size_t)B * w[l]);
        g->dh[l] = malloc(sizeof(float) * (size_t)B * w[l]);
        if (!g->h[l] || !g->dh[l]) return -1;
        for (size_t i = 0; i < (size_t)B * w[l]; i++)
            g->h[l][i] = g->dh[l][i] = 0.01f * (float)(i % 7);
    }
    for (int l = 0; l < L; l++) {
        size_t n = (size_t)w[l] * w[l + 1];
        g->W[l] = malloc(sizeof(float) * n);
        g->dW[l] = calloc(n, sizeof(float));
        if (!g->W[l] || !g->dW[l]) return -1;
        for (size_t i = 0; i < n; i++) g->W[l][i] = 0.01f * (float)((int)(i % 5) - 2);
    }
    return 0;
}

static void bufs_free(gemm_bufs *g, int L)
{
    for (int l = 0; l <= L; l++) free(g->h[l]), free(g->dh[l]);
    for (int l = 0; l < L; l++) free(g->W[l]), free(g->dW[l]);
}

/* The GEMMs of one training step of an MLP with widths w[0..L] at batch B. */
static double step_gemms(const int *w, int L, int B, gemm_bufs *g)
{
    double t0 = bench_now();
    for (int l = 0; l < L; l++) /* forward: h[l+1] = h[l] W^T */
        mg_sgemm(0, 1, B, w[l + 1], w[l], 1.0f, g->h[l], w[l], g->W[l], w[l], 0.0f, g->h[l + 1],
                 w[l + 1]);
    for (int l = L - 1; l >= 0; l--) {
        /* dW += dh[l+1]^T h[l] */
        mg_sgemm(1, 0, w[l + 1], w[l], B, 1.0f, g->dh[l + 1], w[l + 1], g->h[l], w[l], 1.0f,
                 g->dW[l], w[l]);
        /* dh[l] = dh[l+1] W, not for the input layer */
        if (l > 0)
            mg_sgemm(0, 0, B, w[l], w[l + 1], 1.0f, g->dh[l + 1], w[l + 1], g->W[l], w[l], 0.0f,
                     g->dh[l], w[l]);
    }
    return bench_now() - t0;
}

/* Reset the process's peak resident set (Linux >= 4.0: "5" to clear_refs);
 * 1 when done. */
static int reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return 0;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

/* Peak resident set in MiB: VmHWM (since the reset) or ru_maxrss. */
static double peak_rss_mib(int from_reset)
{
    if (from_reset) {
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        long kb = -1;
        while (f && fgets(line, sizeof line, f))
            if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
        if (f) fclose(f);
        if (kb >= 0) return kb / 1024.0;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

int main(int argc, char **argv)
{
    int threads = 2, epochs = 3, cnn_steps = 30, do_mlp = 1, do_cnn = 1, breakdown = 0;
    const char *dir = MG_FASHION_MNIST_DIR;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc)
            epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--data") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--cnn-steps") && i + 1 < argc)
            cnn_steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--breakdown"))
            breakdown = 1;
        else if (!strcmp(argv[i], "--conv") && i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(v, "auto") && strcmp(v, "im2col") && strcmp(v, "nchw")) {
                fprintf(stderr, "bench_train: --conv: auto, im2col or nchw, got '%s'\n", v);
                return 2;
            }
            mg_set_conv_backend(strcmp(v, "im2col") ? MG_CONV_BACKEND_AUTO
                                                    : MG_CONV_BACKEND_IM2COL);
            mg_conv_set_blk8(strcmp(v, "nchw") != 0);
        } else if (!strcmp(argv[i], "--net") && i + 1 < argc) {
            const char *v = argv[++i];
            do_mlp = !strcmp(v, "mlp") || !strcmp(v, "both");
            do_cnn = !strcmp(v, "cnn") || !strcmp(v, "both");
        } else {
            fprintf(stderr,
                    "usage: bench_train [--threads N] [--epochs E] [--cnn-steps S] "
                    "[--net mlp|cnn|both] [--data DIR] [--breakdown] [--conv auto|im2col|nchw]\n");
            return 2;
        }
    }
    if (threads < 1 || epochs < 1 || cnn_steps < 5 || cnn_steps > 1000 || !(do_mlp || do_cnn)) {
        fprintf(stderr, "bench_train: --threads, --epochs >= 1, --cnn-steps 5..1000, --net "
                        "mlp|cnn|both\n");
        return 2;
    }
    mg_set_threads(threads);
    mg_dataset *train;
    double load_t0 = bench_now();
    if (mg_load_idx_dir(dir, "train", 10, &train)) {
        fprintf(stderr, "bench_train: %s\n", mg_errmsg());
        return 1;
    }
    double load_sec = bench_now() - load_t0;
    const int w[4] = {784, 512, 512, 10}, L = 3, B = 128;
    double flops_step = 0.0;
    for (int l = 0; l < L; l++) flops_step += 2.0 * B * w[l] * w[l + 1] * (l > 0 ? 3 : 2);
    double flops_sample = flops_step / B;

    /* reference 1: the same GEMM shapes, alone */
    size_t big = (size_t)2048 * 2048;
    float *A = calloc(big, sizeof(float)), *Bm = calloc(big, sizeof(float)),
          *C = calloc(big, sizeof(float));
    if (!A || !Bm || !C) return 1;
    for (size_t i = 0; i < big; i++) A[i] = Bm[i] = (float)((i % 7) - 3) * 0.01f;
    int steps = (train->n + B - 1) / B;
    double shape_t[5];
    gemm_bufs gb;
    if (bufs_alloc(&gb, w, L, B)) return 1;
    for (int r = 0; r < 5; r++) {
        double s = 0.0;
        for (int i = 0; i < steps; i++) s += step_gemms(w, L, B, &gb);
        shape_t[r] = s;
    }
    double shape_sec = bench_median(shape_t, 5);
    double shape_rate = flops_step * steps / shape_sec;
    /* reference 2: square peak */
    double sq[5];
    for (int r = 0; r < 5; r++) {
        double t0 = bench_now();
        mg_sgemm(0, 0, 2048, 2048, 2048, 1.0f, A, 2048, Bm, 2048, 0.0f, C, 2048);
        sq[r] = bench_now() - t0;
    }
    double peak_rate = 2.0 * 2048.0 * 2048.0 * 2048.0 / bench_median(sq, 5);
    free(A);
    free(Bm);
    free(C);
    /* the references' 48 MiB of matrices are not the training's: peak RSS from here */
    int hwm_reset = reset_peak_rss();

    if (do_mlp) {
        /* the training run */
        mg_rng r;
        mg_rng_seed3(&r, 1, MG_STREAM_INIT, 0);
        mg_model *m;
        mg_trainer *t;
        mg_train_config cfg = mg_train_config_default();
        cfg.epochs = epochs;
        cfg.batch = B;
        cfg.mix = MG_MIX_MANIFOLD;
        cfg.n_mix_layers = 3;
        cfg.mix_layers[0] = 0, cfg.mix_layers[1] = 1, cfg.mix_layers[2] = 2;
        cfg.alpha = 2.0;
        cfg.threads = threads;
        cfg.seed = 1;
        if (mg_model_create("784-512-512-10", NULL, &r, &m) ||
            mg_trainer_create(m, &cfg, train, NULL, NULL, &t)) {
            fprintf(stderr, "bench_train: %s\n", mg_errmsg());
            return 1;
        }
        epoch_times et = {0};
        if (breakdown) et.tr = t;
        et.gb = &gb, et.w = w, et.L = L, et.B = B, et.steps = steps;
        if (breakdown && epochs == 1) mg_trainer_profile(t, 1);
        mg_train_hooks hooks = {NULL, on_epoch, &et};
        if (mg_trainer_run(t, &hooks)) {
            fprintf(stderr, "bench_train: %s\n", mg_errmsg());
            return 1;
        }
        double paired[64];
        for (int i = 0; i < et.pairs; i++)
            paired[i] = (train->n / et.sec[i]) / ((double)steps * B / et.bound_sec[i]);
        double ratio_paired = bench_median(paired, et.pairs);
        double ep_sec = bench_median(et.sec, et.reps);
        double sps = train->n / ep_sec;
        double bound_shape = shape_rate / flops_sample, bound_peak = peak_rate / flops_sample;
        double rss_mib = peak_rss_mib(hwm_reset);
        double data_mib = (double)train->n * train->dim * sizeof(float) / (1024.0 * 1024.0);

        printf("# bench_train: 784-512-512-10, batch %d, manifold mixup S={0,1,2} alpha 2, "
               "%d threads, %d epochs of %d samples (median epoch)\n",
               B, threads, epochs, train->n);
        printf("flops/sample          %.4g\n", flops_sample);
        printf("sgemm same-shape      %.2f GFLOP/s  -> bound %.0f samples/s\n", shape_rate / 1e9,
               bound_shape);
        printf("sgemm 2048^3 peak     %.2f GFLOP/s  -> bound %.0f samples/s\n", peak_rate / 1e9,
               bound_peak);
        printf("training              %.0f samples/s (%.3f s/epoch)\n", sps, ep_sec);
        printf("ratio vs same-shape   %.3f   (target >= 0.75)\n", sps / bound_shape);
        printf("ratio, paired         %.3f   (median over epochs of epoch vs the same-shape "
               "GEMMs timed right after it)\n",
               ratio_paired);
        printf("ratio vs peak         %.3f\n", sps / bound_peak);
        printf("peak RSS              %.1f MiB (%s); dataset %.1f MiB + 64 MiB = %.1f MiB -> %s\n",
               rss_mib, hwm_reset ? "from the training's start" : "whole process", data_mib,
               data_mib + 64.0, rss_mib <= data_mib + 64.0 ? "within" : "OVER");
        printf("dataset load          %.3f s (training set, IDX)\n", load_sec);
        if (breakdown) print_breakdown(t);
        mg_trainer_free(t);
        mg_model_free(m);
    }
    if (do_cnn) {
        mg_rng r;
        mg_rng_seed3(&r, 1, MG_STREAM_INIT, 0);
        mg_arch_opts o = mg_arch_opts_default();
        o.in_c = 1, o.in_h = 28, o.in_w = 28, o.classes = 10;
        mg_model *m;
        mg_trainer *t;
        mg_train_config cfg = mg_train_config_default();
        cfg.epochs = 1;
        cfg.batch = B;
        cfg.mix = MG_MIX_MANIFOLD;
        cfg.n_mix_layers = 3;
        cfg.mix_layers[0] = 0, cfg.mix_layers[1] = 1, cfg.mix_layers[2] = 2;
        cfg.alpha = 2.0;
        cfg.threads = threads;
        cfg.seed = 1;
        cfg.augment_crop_pad = 4;
        cfg.augment_flip = 1;
        if (mg_model_create("preact:16-32-64x2", &o, &r, &m) ||
            mg_trainer_create(m, &cfg, train, NULL, NULL, &t)) {
            fprintf(stderr, "bench_train: %s\n", mg_errmsg());
            return 1;
        }
        step_times st = {0, cnn_steps, bench_now(), {0}, breakdown ? t : NULL};
        mg_train_hooks hooks = {on_step, NULL, &st};
        mg_status s = mg_trainer_run(t, &hooks);
        if (s != MG_OK && s != MG_ERR_INTERRUPTED) {
            fprintf(stderr, "bench_train: %s\n", mg_errmsg());
            return 1;
        }
        double step_sec = bench_median(st.sec + 3, st.steps - 3);
        double flops_img = mg_model_flops(m, 0) + mg_model_flops(m, 1);
        double ips = B / step_sec, bound = peak_rate / flops_img;
        printf("# bench_train cnn: preact:16-32-64x2, batch %d, manifold mixup S={0,1,2} alpha 2, "
               "crop4+flip, %d threads, median of %d steps\n",
               B, threads, st.steps - 3);
        printf("flops/image (fwd+bwd) %.4g\n", flops_img);
        printf("training              %.0f images/s (%.1f ms/step)\n", ips, step_sec * 1e3);
        printf("bound from 2048^3     %.0f images/s\n", bound);
        printf("ratio vs peak         %.3f   (target: >= 900 images/s, ~0.70 of the bound)\n",
               ips / bound);
        if (breakdown) print_breakdown(t);
        mg_trainer_free(t);
        mg_model_free(m);
    }
    bufs_free(&gb, L);
    mg_dataset_free(train);
    return 0;
}
