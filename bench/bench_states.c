/* bench_states.c - the analysis of external states (.npy) against the
 * analysis of a run, on the same 60,000 x 512 states.
 *
 * The target: `mixgeo analyze --states` on 60,000 x 512 float32 states
 * (spectra + corollary + theory) within 10% of the run-based analysis of the
 * same states minus its forward pass.  This program builds the MLP
 * 784-512-512-10 (initialised from a fixed seed; speed does not depend on
 * training), takes the Fashion-MNIST training images (60,000; synthetic
 * noise images of the same size when the Debian package is missing), and
 * per repetition measures
 *   run     mg_analyze of the run at layer 2 (forward pass + analyses),
 *   fwd     the forward pass alone (mg_states_foreach, the same batches),
 *   states  mg_analyze of the states dumped to a .npy file (read in blocks
 *           through the npy reader, the same analyses),
 *   spec    mg_analyze of the run at layer 2 with the spectra only (forward
 *           pass + spectra: the speed issue's "analyze of a run", target
 *           < 1.5 s),
 * and prints the medians of 3 and the ratio states / (run - fwd) (1 = the
 * same cost; the target is <= 1.10).  Threads: OPENBLAS_NUM_THREADS if set,
 * else 2.  Usage: bench_states [repetitions]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze.h"
#include "bench.h"
#include "mixgeo.h"
#include "npy.h"
#include "probe.h"

static mg_status noop_cb(void *user, const float *s, const int32_t *y, const float *z, int n)
{
    (void)s, (void)y, (void)z, (void)n;
    ++*(int *)user;
    return MG_OK;
}

static mg_status rows_cb(void *user, const int64_t *idx, int64_t m, float *dst)
{
    return mg_npy_read_rows_f32(user, idx, m, dst);
}

static void die(const char *what)
{
    fprintf(stderr, "bench_states: %s: %s\n", what, mg_errmsg());
    exit(1);
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    if (reps < 1 || reps > 20) reps = 3;
    int threads = getenv("OPENBLAS_NUM_THREADS") ? atoi(getenv("OPENBLAS_NUM_THREADS")) : 2;
    mg_set_threads(threads);
    mg_dataset *d = NULL;
    if (mg_load_idx_dir(MG_FASHION_MNIST_DIR, "train", 10, &d) != MG_OK) {
        d = mg_dataset_alloc(60000, 784, 10);
        if (!d) die("alloc");
        mg_rng r;
        mg_rng_seed(&r, 1);
        for (size_t i = 0; i < (size_t)d->n * d->dim; i++) d->x[i] = (float)mg_rng_uniform(&r);
        for (int i = 0; i < d->n; i++) d->y[i] = (int32_t)(i % 10);
        printf("(Fashion-MNIST not found: synthetic images)\n");
    }
    mg_rng rng;
    mg_rng_seed(&rng, 1);
    mg_arch_opts o = mg_arch_opts_default();
    mg_model *m = NULL;
    if (mg_model_create("784-512-512-10", &o, &rng, &m) != MG_OK) die("model");

    /* the states at layer 2, dumped once */
    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/bench_states.XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
    if (!mkdtemp(dir)) die("mkdtemp");
    char hp[4200], out[4200];
    snprintf(hp, sizeof hp, "%s/h.npy", dir);
    snprintf(out, sizeof out, "%s/an", dir);
    const int n = d->n, p = 512;
    float *H = malloc(sizeof(float) * (size_t)n * p);
    if (!H) die("alloc states");
    if (mg_model_reserve(m, 1024) != MG_OK) die("reserve");
    if (mg_forward_all(m, 0, d->x, n, 2, H, NULL) != MG_OK) die("forward");
    int64_t shape[2] = {n, p};
    if (mg_npy_save(hp, MG_NPY_F32, H, 2, shape) != MG_OK) die("save");
    free(H);

    mg_analyze_config cfg = mg_analyze_config_default();
    memset(cfg.want, 0, sizeof cfg.want);
    cfg.want[MG_AN_SPECTRA] = cfg.want[MG_AN_COROLLARY] = cfg.want[MG_AN_THEORY] = 1;
    cfg.named = 1;
    cfg.threads = threads;
    cfg.max_per_class = 0;
    mg_analyze_config cfg_spec = cfg;
    memset(cfg_spec.want, 0, sizeof cfg_spec.want);
    cfg_spec.want[MG_AN_SPECTRA] = 1;
    double t_run[20], t_fwd[20], t_st[20], t_spec[20];
    for (int r = 0; r < reps; r++) {
        mg_analysis_input in;
        memset(&in, 0, sizeof in);
        in.model = m;
        in.data = d;
        in.layer = 2;
        in.run = in.checkpoint = in.config = in.data_spec = "bench";
        in.split = "train";
        double t0 = bench_now();
        if (mg_analyze(&in, &cfg, out, NULL) != MG_OK) die("analyze run");
        t_run[r] = bench_now() - t0;

        t0 = bench_now();
        if (mg_analyze(&in, &cfg_spec, out, NULL) != MG_OK) die("analyze run, spectra only");
        t_spec[r] = bench_now() - t0;

        int calls = 0;
        t0 = bench_now();
        if (mg_states_foreach(m, d, 2, 0, 0, noop_cb, &calls) != MG_OK) die("forward");
        t_fwd[r] = bench_now() - t0;

        mg_npy_reader *rd = NULL;
        t0 = bench_now();
        if (mg_npy_open(hp, &rd) != MG_OK) die("open");
        memset(&in, 0, sizeof in);
        in.n = n;
        in.p = p;
        in.read_rows = rows_cb;
        in.rows_user = rd;
        in.labels = d->y;
        in.name = hp;
        if (mg_analyze(&in, &cfg, out, NULL) != MG_OK) die("analyze states");
        mg_npy_close(rd);
        t_st[r] = bench_now() - t0;
        printf("rep %d: run %.3f s, forward %.3f s, states %.3f s, run (spectra only) %.3f s\n",
               r + 1, t_run[r], t_fwd[r], t_st[r], t_spec[r]);
    }
    double diff[20];
    for (int r = 0; r < reps; r++) diff[r] = t_run[r] - t_fwd[r];
    double mr = bench_median(t_run, reps), mf = bench_median(t_fwd, reps);
    double md = bench_median(diff, reps), ms = bench_median(t_st, reps);
    printf("analyze of 60000 x 512 states, spectra + corollary + theory, %d threads:\n"
           "  run %.3f s - forward %.3f s = %.3f s; --states %.3f s; ratio states / (run - "
           "forward) %.3f (target <= 1.10)\n",
           threads, mr, mf, md, ms, ms / md);
    printf("analyze of a run (forward + spectra), 60000 x 512 at layer 2, %d threads: %.3f s "
           "(target < 1.5 s; forward alone %.3f s)\n",
           threads, bench_median(t_spec, reps), mf);
    unlink(hp);
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_states: could not remove %s\n", dir);
    mg_model_free(m);
    mg_dataset_free(d);
    return 0;
}
