/* cmd_suite.c - `mixgeo suite run|status|report|list FILE...`: experiment
 * suites (see suite.h for the file format and the run directories).
 *
 * `suite run` is a small process scheduler: at most -j runs at a time, each
 * run a sequence of steps (train, then one `mixgeo analyze` per layer and
 * split), each step a child process of this very program
 * (/proc/self/exe train|analyze ...) with stdout/stderr appended to
 * RUN/log.txt and OPENBLAS_NUM_THREADS = --threads = max(1, cores / jobs).
 *
 * Robustness:
 *  - a run is claimed with flock() on RUN/lock; the step processes inherit
 *    the lock, so it is held exactly while a runner or one of its steps lives
 *    (kill -9 of the runner included), and two runners never work on one run;
 *  - children live in their own process groups (a Ctrl-C reaches only the
 *    runner, which forwards one SIGTERM: train saves its checkpoint and exits
 *    130) and get SIGTERM when the runner dies (PR_SET_PDEATHSIG on Linux);
 *  - every marker is written atomically after its step, so a killed runner
 *    loses nothing that finished; the next `suite run` resumes a trained
 *    checkpoint (`train --resume`), runs the missing steps, and restarts from
 *    scratch (`train --force`) a run whose configuration changed.
 *
 * Testing aid: MIXGEO_SUITE_ABORT_AFTER=N makes `suite run` kill itself
 * with SIGKILL right after starting a run once N runs have finished in this
 * invocation (a deterministic "kill -9 mid-way").
 */
#include "suite.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define MAX_FILES 64
#define MAX_JOBS 256

static const cli_opt k_suite_opts[] = {
    {"jobs", 'j', CLI_VALUE, "N", "1", 0,
     "suite run (-j N): runs at a time; the cores are split between them (threads per run = "
     "max(1, cores / N))",
     "Suite"},
    {"cores", 0, CLI_VALUE, "N", "auto", 0,
     "suite run: cores to share between the runs; auto: the online cores of this machine (an "
     "OPENBLAS_NUM_THREADS in the environment caps the threads per run)",
     NULL},
    {"quick", 0, CLI_FLAG, NULL, "false", CLI_NO_NEG,
     "apply the quick.KEY overrides of [suite] (a small budget); the default output directory "
     "gets -quick appended",
     NULL},
    {"out", 0, CLI_VALUE, "DIR", "", 0,
     "output directory (one suite file only); default: [suite] out, else results/NAME", NULL},
    {"root", 0, CLI_VALUE, "DIR", "", 0,
     "output directory ROOT/NAME of every suite (make paper: --root results/paper)", NULL},
    {"only", 0, CLI_VALUE, "IDS", "", 0,
     "only these runs: comma-separated ids, slugs or 8-digit hashes (see suite list)", NULL},
    {"dry-run", 'n', CLI_FLAG, NULL, "false", CLI_NO_NEG,
     "suite run: print what would run and exit", NULL},
    {"skip-failed", 0, CLI_FLAG, NULL, "false", CLI_NO_NEG,
     "suite run: leave the runs whose last attempt failed alone instead of trying them again",
     NULL},
    {"render", 0, CLI_FLAG, NULL, "true", 0,
     "suite report: render the figures to PNG and PDF with gnuplot when it is on the PATH", NULL},
    {"combined", 0, CLI_VALUE, "FILE", "", 0,
     "suite report: also write FILE, one report of the claims of every suite given (verdicts "
     "first, links into each suite's REPORT.md and figures; make paper: "
     "results/paper/REPORT.md)",
     NULL},
    {"ids", 0, CLI_FLAG, NULL, "false", CLI_NO_NEG, "suite list: print the ids only", NULL},
    {"quiet", 'q', CLI_FLAG, NULL, "false", CLI_NO_NEG, "print nothing but errors", "Other"},
    {"help", 'h', CLI_FLAG, NULL, "false", CLI_NO_NEG, "show this help and exit", NULL},
};
#define N_SUITE_OPTS ((int)(sizeof k_suite_opts / sizeof k_suite_opts[0]))

static const char k_usage[] =
    "usage: mixgeo suite run FILE... [-j N] [--quick] [--out DIR | --root DIR] [--only IDS]\n"
    "       mixgeo suite status FILE...   (done / running / failed / partial / stale / missing)\n"
    "       mixgeo suite report FILE... [--combined REPORT.md]   (claims, tables, figures)\n"
    "       mixgeo suite list FILE...     (the runs of the grid: ID  AXIS=VALUE...)";

static const char k_description[] =
    "An experiment suite (INI file, usually experiments/NAME.suite) declares a base\n"
    "configuration, grid axes, the analyses of every model, the tables and figures,\n"
    "and the claims of a paper checked against the runs:\n"
    "\n"
    "  [suite]    name = NAME  description = ...  out = DIR  aggregate = seed\n"
    "             command = train|theory|states   (a run: mixgeo train + analyze, mixgeo\n"
    "                                  theory, or mixgeo analyze --states of saved activations)\n"
    "             quick.KEY = VALUE     (--quick: new values of an axis or a run key)\n"
    "  [base]     any key of the command (mixgeo train --help, mixgeo theory --help;\n"
    "             states suites: see below)\n"
    "  [method N] label = Text for legends   + keys of the preset N\n"
    "  [grid]     AXIS = v1 | v2 | v3   (AXIS: method, or a key: seed, alpha, ...)\n"
    "  [analyze]  layers = 1,2|auto  split = test  only = spectra,collapse|all|none\n"
    "             only.K = spectra,margins   (layer K's analyses instead of only)\n"
    "             max-per-class = N|all   (passed to `mixgeo analyze`; no section: none;\n"
    "             train suites only)\n"
    "  [table N]  metrics = test_acc, test_nll  values = final, best  labels = A | B ...\n"
    "             rows = method  cols = AXIS  where = AXIS=VALUE ...  digits = 4  title\n"
    "  [figure N] kind = curve | bar | sweep | montage   y = test_acc  x = epoch | AXIS\n"
    "             group = method  value = final|best  where = AXIS=VALUE ...  logx, logy,\n"
    "             title, xlabel, ylabel, xrange = [0:30], yrange, key = top left,\n"
    "             with = lines, xline = 3.5 label, yline, diagonal = true;\n"
    "             curve: file = RUN-RELATIVE.tsv, y = COLUMN or a glob of\n"
    "             columns averaged per row (class_*); montage: panels = A.gp | B.gp,\n"
    "             titles = A | B (per-run figure scripts, one row per group)\n"
    "  [claim N]  text = the statement  metric = METRIC  expect = manifold < input < none\n"
    "             by = method|AXIS|none  where  paper  predicted  show = METRIC, ...\n"
    "             labels  figure = F  table = T  noise = 2  tol = 0  rtol = 0  min-n = 2\n"
    "\n"
    "where = AXIS=V1,V2 keeps the runs with any of the values.  A metric is a column of\n"
    "metrics.tsv (test_acc: its final and best-epoch values), final.COL, best.COL, a\n"
    "number of summary.json (train_seconds), FILE:JSON.PATH of any JSON file of a run\n"
    "(analysis/test-L1/summary.json:spectra.mean_centred.s1; paths take * and filters\n"
    "[FIELD=VALUE] and end in a reducer |min |max |mean |sum |count |first |last when\n"
    "they can give several values), FILE.tsv:COLUMN[|REDUCER] (|last by default,\n"
    "|changes: value changes within blocks), or an expression of those and numbers\n"
    "with blanks around + - * / (100 - 100 * final.test_acc).\n"
    "States suites (command = states): a run analyses activations saved elsewhere\n"
    "(any framework, or mixgeo dump): its keys are the options of mixgeo analyze\n"
    "--states: states = H.npy, labels = Y.npy (both required), logits = Z.npy,\n"
    "readout = W.npy[,B.npy], only, max-per-class, seed, bins, hist-bins, lambdas, pairs;\n"
    "in [base], [method N] presets ([method mm] states = acts/mm.npy) or [grid] axes\n"
    "(states = a.npy | b.npy).  Relative paths are relative to the current directory,\n"
    "as train's data = idx:DIR.  Keys of train, run-only options (layer, split, data\n"
    "overrides) and [analyze] are refused.  The analysis goes to RUN/analysis/states;\n"
    "a metric is analysis/states/summary.json:PATH or just PATH\n"
    "(spectra.mean_centred.rest).  The id hashes the keys (paths as written);\n"
    "RUN/inputs.tsv records each input's size and modification time when the analysis\n"
    "starts, and a finished run whose input changed since (a touch counts) is stale\n"
    "and analysed again; a missing input file fails its run only.\n"
    "A claim is checked in each cell (values of the free axes other than `by`) on the\n"
    "seed means: with d = mean A - mean B, m = noise x the standard error of d (0 for a\n"
    "number) and t = tol + rtol x max |mean|: A < B holds if d + m < -t, does not hold if\n"
    "d - m >= -t; A <= B holds if d + m <= t, does not hold if d - m > t; A == B holds\n"
    "if |d| + m <= t, does not hold if |d| - m > t (> >= mirrored); otherwise, or with\n"
    "fewer than min-n runs in a group, inconclusive.  `*` stands for each group.\n"
    "Each run gets the id SLUG-HASH (its axis values, and a hash of its resolved\n"
    "configuration) and the directory OUT/runs/ID.  `suite run` skips the runs that are\n"
    "done, resumes interrupted ones, retrains runs whose configuration changed, records\n"
    "failures (RUN/FAILED, RUN/log.txt) without stopping the others, and shares the work\n"
    "with other runners of the same suite (a run is locked while it runs).\n"
    "`suite report` writes OUT/REPORT.md (claims with verdicts, tables, figures),\n"
    "OUT/runs.tsv, OUT/claims.tsv, OUT/tables/NAME.{tsv,md,tex} and\n"
    "OUT/figures/NAME.{tsv,gp,png,pdf}: mean +- std (and n) over the seeds.";

static const char k_epilog[] =
    "Exit status: 0 ok (suite run: every selected run is done), 1 a run failed or is not\n"
    "finished, 2 usage error or a bad suite file (FILE:LINE: KEY, before any run starts),\n"
    "130 interrupted (the runs resume on the next suite run).";

/* ---------------------------------------------------------------- the runner */

typedef struct {
    cli_suite *s;
    int run;
} job;

typedef struct {
    pid_t pid; /* 0: free */
    int job;
    int step;
    int lock_fd;
    int resumed;     /* the train step was started with --resume */
    int fresh_tried; /* a failed resume was retried from scratch */
    double t0;
    char dir[4096];
} slot;

typedef struct {
    job *jobs;
    int n_jobs;
    /* jobs to start: a circular queue of job indices; a run locked by another
     * runner goes to the back with a time before which it is not tried. */
    int *queue, q_head, q_len;
    double *not_before;
    slot slots[MAX_JOBS];
    int n_slots, threads;
    char exe[4096];
    int stopping, skip_failed;
    int started, finished_now, failed, interrupted, waiting_note, already;
    long abort_after;
    char failed_list[4096];
} runner;

static int self_exe(char *buf, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", buf, len - 1);
    if (n <= 0) return 0;
    buf[n] = '\0';
    return 1;
}

static void release(slot *sl)
{
    if (sl->lock_fd >= 0) close(sl->lock_fd); /* the lock goes with the last copy */
    sl->lock_fd = -1;
    sl->pid = 0;
}

static void log_header(const char *dir, char *const *argv, int threads)
{
    char path[4200], when[64];
    snprintf(path, sizeof path, "%s/log.txt", dir);
    FILE *f = fopen(path, "a");
    if (!f) return;
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(f, "== %s mixgeo", when);
    for (int i = 1; argv[i]; i++) fprintf(f, " %s", argv[i]);
    fprintf(f, "   (pid of the runner %ld, OPENBLAS_NUM_THREADS=%d)\n", (long)getpid(), threads);
    fclose(f);
}

/* fork + exec argv (argv[0] = the program) with output appended to
 * DIR/log.txt; returns the pid or -1. */
static pid_t spawn(runner *R, slot *sl, char *const *argv)
{
    log_header(sl->dir, argv, R->threads);
    char logp[4200], th[32];
    snprintf(logp, sizeof logp, "%s/log.txt", sl->dir);
    snprintf(th, sizeof th, "%d", R->threads);
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        setpgid(0, 0);
#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
        if (getppid() != parent) _exit(CLI_EXIT_INTERRUPTED);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        for (int k = 0; k < R->n_slots; k++)
            if (&R->slots[k] != sl && R->slots[k].lock_fd >= 0) close(R->slots[k].lock_fd);
        int in = open("/dev/null", O_RDONLY);
        if (in >= 0) {
            dup2(in, STDIN_FILENO);
            close(in);
        }
        int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        setenv("OPENBLAS_NUM_THREADS", th, 1);
        execv(argv[0], argv);
        fprintf(stderr, "mixgeo: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);
    return pid;
}

static int next_step(const cli_suite *s, const char *dir, int from)
{
    for (int i = from; i < s->n_steps; i++)
        if (!cli_suite_step_done(&s->steps[i], dir)) return i;
    return s->n_steps;
}

/* Start step sl->step of the slot's run; 0 ok, -1 failed (recorded). */
static int start_step(runner *R, slot *sl, int force_fresh)
{
    const job *jb = &R->jobs[sl->job];
    const cli_suite *s = jb->s;
    const cli_suite_run *r = &s->runs[jb->run];
    const cli_suite_step *st = &s->steps[sl->step];
    char th[32], cfg[4200], ckpt[4200], why[512], layer[32];
    snprintf(th, sizeof th, "%d", R->threads);
    char *argv[64];
    int n = 0;
    argv[n++] = R->exe;
    if (sl->step == 0 && s->command != CLI_SUITE_TRAIN) {
        /* mixgeo theory and analyze --states have no resume: always from the
         * start.  A states run records its input files first (inputs.tsv: a
         * file changed from here on makes the finished run stale) and starts
         * from an empty analysis directory. */
        static char buf[32768];
        sl->resumed = 0;
        cli_suite_clear_markers(sl->dir);
        mg_status e = cli_suite_write_config(s, r, sl->dir, R->threads);
        if (e == MG_OK && s->command == CLI_SUITE_STATES) {
            cli_suite_clear_states_out(sl->dir);
            e = cli_suite_record_inputs(s, r, sl->dir);
        }
        if (e != MG_OK || cli_suite_command_argv(s, r, R->exe, sl->dir, R->threads, argv, 64, buf,
                                                 sizeof buf) < 0) {
            cli_error("%s: %s", r->id, e != MG_OK ? mg_errmsg() : "command line too long");
            cli_suite_mark_failed(sl->dir, st->name,
                                  e != MG_OK ? "cannot write config.ini or inputs.tsv"
                                             : "command line too long");
            return -1;
        }
    } else if (sl->step == 0) {
        snprintf(cfg, sizeof cfg, "%s/config.ini", sl->dir);
        snprintf(ckpt, sizeof ckpt, "%s/model.ckpt", sl->dir);
        int resume = !force_fresh && cli_file_exists(ckpt) && cli_file_exists(cfg) &&
                     cli_suite_config_matches(s, r, sl->dir, why, sizeof why);
        sl->resumed = resume;
        argv[n++] = "train";
        if (resume) {
            argv[n++] = "--resume";
            argv[n++] = sl->dir;
        } else {
            cli_suite_clear_markers(sl->dir);
            mg_status e = cli_suite_write_config(s, r, sl->dir, R->threads);
            if (e != MG_OK) {
                cli_error("%s: %s", r->id, mg_errmsg());
                cli_suite_mark_failed(sl->dir, "train", "cannot write config.ini");
                return -1;
            }
            argv[n++] = "--config";
            argv[n++] = cfg;
            argv[n++] = "--out";
            argv[n++] = sl->dir;
            argv[n++] = "--force";
        }
        argv[n++] = "--threads";
        argv[n++] = th;
    } else {
        if (st->layer < 0)
            snprintf(layer, sizeof layer, "auto");
        else
            snprintf(layer, sizeof layer, "%d", st->layer);
        argv[n++] = "analyze";
        argv[n++] = sl->dir;
        argv[n++] = "--layer";
        argv[n++] = layer;
        argv[n++] = "--split";
        argv[n++] = (char *)st->split;
        if (*st->only) {
            argv[n++] = "--only";
            argv[n++] = (char *)st->only;
        }
        if (*s->analyze.max_per_class) {
            argv[n++] = "--max-per-class";
            argv[n++] = s->analyze.max_per_class;
        }
        argv[n++] = "--threads";
        argv[n++] = th;
    }
    if (!(sl->step == 0 && s->command != CLI_SUITE_TRAIN)) argv[n] = NULL;
    sl->pid = spawn(R, sl, argv);
    if (sl->pid < 0) {
        cli_error("%s: cannot start a process: %s", r->id, strerror(errno));
        cli_suite_mark_failed(sl->dir, st->name, "fork failed");
        return -1;
    }
    return 0;
}

/* Claim job j into slot sl and start its first missing step.  Returns 1 if
 * a process runs, 0 if there was nothing to do, -1 on a failure, 2 if another
 * runner holds the run's lock. */
static int job_start(runner *R, slot *sl, int j)
{
    const job *jb = &R->jobs[j];
    const cli_suite *s = jb->s;
    const cli_suite_run *r = &s->runs[jb->run];
    memset(sl, 0, sizeof *sl);
    sl->lock_fd = -1;
    sl->job = j;
    if (cli_suite_run_dir(s, r, sl->dir, sizeof sl->dir) != MG_OK || mg_mkdir_p(sl->dir) != MG_OK) {
        cli_error("%s: %s", r->id, mg_errmsg());
        R->failed++;
        return -1;
    }
    char lockp[4200];
    snprintf(lockp, sizeof lockp, "%s/lock", sl->dir);
    /* No O_CLOEXEC: the steps inherit the lock (see the top of the file). */
    sl->lock_fd = open(lockp, O_RDWR | O_CREAT, 0644);
    if (sl->lock_fd < 0) {
        cli_error("%s: cannot open %s: %s", r->id, lockp, strerror(errno));
        R->failed++;
        return -1;
    }
    if (flock(sl->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        release(sl);
        return 2;
    }
    char pid[32];
    int pl = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(sl->lock_fd, 0) != 0 || pwrite(sl->lock_fd, pid, (size_t)pl, 0) != pl) {
        /* informational only */
    }
    char detail[1024];
    cli_run_state st = cli_suite_run_state_locked(s, r, detail, sizeof detail);
    int fresh = 0;
    if (st == CLI_RUN_DONE) {
        release(sl);
        R->already++;
        return 0;
    }
    if (st == CLI_RUN_FAILED) {
        if (R->skip_failed) {
            release(sl);
            return 0;
        }
        char fp[4200];
        snprintf(fp, sizeof fp, "%s/FAILED", sl->dir);
        remove(fp);
    }
    if (st == CLI_RUN_STALE) {
        cli_info("restart  %s: %s", r->id, detail);
        cli_suite_clear_markers(sl->dir);
        fresh = 1;
    }
    sl->step = fresh ? 0 : next_step(s, sl->dir, 0);
    if (sl->step == s->n_steps) { /* every step done, DONE missing */
        if (cli_suite_mark_done(s, r, sl->dir) != MG_OK) cli_error("%s", mg_errmsg());
        release(sl);
        R->already++;
        return 0;
    }
    sl->t0 = cli_now();
    if (start_step(R, sl, fresh) != 0) {
        release(sl);
        R->failed++;
        return -1;
    }
    R->started++;
    cli_info("start    %s%s", r->id, sl->step > 0 ? " (analyses)" : sl->resumed ? " (resume)" : "");
    return 1;
}

/* The parsed JSON file (caller cJSON_Deletes), NULL if missing, bad or
 * larger than 64 MiB. */
static cJSON *json_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    char *buf = size >= 0 && size < (64L << 20) ? malloc((size_t)size + 1) : NULL;
    size_t n = 0;
    if (buf) {
        rewind(f);
        n = fread(buf, 1, (size_t)size, f);
        buf[n] = '\0';
    }
    fclose(f);
    cJSON *j = buf ? cJSON_Parse(buf) : NULL;
    free(buf);
    return j;
}

static void done_line(const cli_suite *s, const slot *sl, const cli_suite_run *r, double seconds)
{
    char path[4200], what[128] = "";
    if (s->command == CLI_SUITE_STATES) {
        snprintf(path, sizeof path, "%s/%s/summary.json", sl->dir, CLI_SUITE_STATES_OUT);
        cJSON *j = json_file(path);
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, "n");
        const cJSON *dim = cJSON_GetObjectItemCaseSensitive(j, "dim");
        if (cJSON_IsNumber(n) && cJSON_IsNumber(dim))
            snprintf(what, sizeof what, "  %.0f states of %.0f features", n->valuedouble,
                     dim->valuedouble);
        cJSON_Delete(j);
    } else {
        snprintf(path, sizeof path, "%s/summary.json", sl->dir);
        cJSON *j = json_file(path);
        const cJSON *fin = cJSON_GetObjectItemCaseSensitive(j, "final");
        const cJSON *acc = cJSON_GetObjectItemCaseSensitive(fin, "test_acc");
        if (cJSON_IsNumber(acc)) snprintf(what, sizeof what, "  test_acc %.4f", acc->valuedouble);
        cJSON_Delete(j);
    }
    cli_info("done     %s%s  (%.1f s)", r->id, what, seconds);
}

static void on_exit_status(runner *R, slot *sl, int status)
{
    const job *jb = &R->jobs[sl->job];
    const cli_suite *s = jb->s;
    const cli_suite_run *r = &s->runs[jb->run];
    const cli_suite_step *st = &s->steps[sl->step];
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    sl->pid = 0;
    if (code == 0) {
        if (cli_suite_mark_step(st, sl->dir) != MG_OK) {
            cli_error("%s: %s", r->id, mg_errmsg());
            cli_suite_mark_failed(sl->dir, st->name, "cannot write its marker");
            R->failed++;
            release(sl);
            return;
        }
        int next = next_step(s, sl->dir, sl->step + 1);
        if (next < s->n_steps) {
            if (R->stopping) {
                R->interrupted++;
                release(sl);
                return;
            }
            sl->step = next;
            if (start_step(R, sl, 0) != 0) {
                R->failed++;
                release(sl);
            }
            return;
        }
        if (cli_suite_mark_done(s, r, sl->dir) != MG_OK) {
            cli_error("%s: %s", r->id, mg_errmsg());
            R->failed++;
        } else {
            R->finished_now++;
            done_line(s, sl, r, cli_now() - sl->t0);
        }
        release(sl);
        return;
    }
    if (code == CLI_EXIT_INTERRUPTED || (R->stopping && (sig == SIGTERM || sig == SIGINT))) {
        cli_info("stopped  %s at %s (continues on the next suite run)", r->id, st->name);
        R->interrupted++;
        release(sl);
        return;
    }
    if (sl->step == 0 && sl->resumed && !sl->fresh_tried && !R->stopping) {
        cli_info("restart  %s: train --resume failed (exit %d), starting it from scratch", r->id,
                 code);
        sl->fresh_tried = 1;
        if (start_step(R, sl, 1) == 0) return;
        R->failed++;
        release(sl);
        return;
    }
    char text[64];
    if (sig)
        snprintf(text, sizeof text, "killed by signal %d", sig);
    else
        snprintf(text, sizeof text, "exit %d", code);
    cli_suite_mark_failed(sl->dir, st->name, text);
    char tail[512];
    cli_suite_log_tail(sl->dir, tail, sizeof tail);
    cli_error("FAILED   %s: %s %s%s%s (log: %s/log.txt)", r->id, st->name, text, *tail ? ": " : "",
              tail, sl->dir);
    size_t used = strlen(R->failed_list);
    if (used < sizeof R->failed_list - 200)
        snprintf(R->failed_list + used, sizeof R->failed_list - used, "\n  %s/log.txt", sl->dir);
    R->failed++;
    release(sl);
}

static void queue_push(runner *R, int j)
{
    R->queue[(R->q_head + R->q_len++) % R->n_jobs] = j;
}

/* The first queued job that may be tried now, or -1. */
static int queue_pop_ready(runner *R, double now)
{
    for (int tries = R->q_len; tries > 0; tries--) {
        int j = R->queue[R->q_head];
        R->q_head = (R->q_head + 1) % R->n_jobs;
        R->q_len--;
        if (R->not_before[j] <= now) return j;
        queue_push(R, j);
    }
    return -1;
}

static int run_jobs(runner *R)
{
    cli_signals_install();
    int active = 0;
    for (int k = 0; k < R->n_slots; k++) R->slots[k].lock_fd = -1;
    for (int j = 0; j < R->n_jobs; j++) queue_push(R, j);
    for (;;) {
        if (cli_stop_requested() && !R->stopping) {
            R->stopping = 1;
            cli_error("interrupted: stopping %d run%s (they save their state and continue on the "
                      "next suite run)",
                      active, active == 1 ? "" : "s");
            for (int k = 0; k < R->n_slots; k++)
                if (R->slots[k].pid > 0) kill(-R->slots[k].pid, SIGTERM);
        }
        while (!R->stopping && R->q_len) {
            int k = 0;
            while (k < R->n_slots && R->slots[k].pid > 0) k++;
            if (k == R->n_slots) break;
            int j = queue_pop_ready(R, cli_now());
            if (j < 0) break;
            int r = job_start(R, &R->slots[k], j);
            if (r == 2) { /* another runner works on it: look again later */
                if (!R->waiting_note++)
                    cli_info("wait     %s (another runner works on it)",
                             R->jobs[j].s->runs[R->jobs[j].run].id);
                R->not_before[j] = cli_now() + 0.5;
                queue_push(R, j);
            }
            if (r == 1) {
                active++;
                if (R->abort_after >= 0 && R->finished_now + R->failed >= R->abort_after) {
                    fflush(stdout);
                    fflush(stderr);
                    kill(getpid(), SIGKILL);
                }
            }
        }
        if (active == 0 && (R->stopping || R->q_len == 0)) break;
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            for (int k = 0; k < R->n_slots; k++) {
                if (R->slots[k].pid != pid) continue;
                on_exit_status(R, &R->slots[k], status);
                if (R->slots[k].pid == 0) active--;
                break;
            }
            continue;
        }
        if (pid < 0 && errno == ECHILD && active > 0) break; /* cannot happen */
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return R->stopping ? CLI_EXIT_INTERRUPTED : CLI_EXIT_OK;
}

/* ---------------------------------------------------------------- commands */

static int selected(const cli_suite_run *r, char **only, int n_only, int *used)
{
    if (n_only == 0) return 1;
    int hit = 0;
    for (int i = 0; i < n_only; i++)
        if (cli_suite_run_matches(r, only[i])) {
            used[i] = 1;
            hit = 1;
        }
    return hit;
}

/* The selected runs of s: each state counted in count[] (CLI_RUN_N_STATES);
 * with print, a line "STATE ID  DETAIL" each.  With R, only the runs still to
 * do (not done, nor failed when skip_failed) are printed, and queued in R.
 * Returns how many runs were selected. */
static int tally_runs(cli_suite *s, char **only, int n_only, int *used, int *count, int print,
                      runner *R, int skip_failed)
{
    int sel = 0;
    for (int r = 0; r < s->n_runs; r++) {
        if (!selected(&s->runs[r], only, n_only, used)) continue;
        sel++;
        char detail[1024];
        cli_run_state st = cli_suite_run_state(s, &s->runs[r], detail, sizeof detail);
        count[st]++;
        if (R && (st == CLI_RUN_DONE || (st == CLI_RUN_FAILED && skip_failed))) continue;
        if (print)
            printf("%-8s %s%s%s\n", cli_run_state_name(st), s->runs[r].id, *detail ? "  " : "",
                   detail);
        if (R) R->jobs[R->n_jobs++] = (job){s, r};
    }
    return sel;
}

static int cmd_run(cli_suite **suites, int n, char **only, int n_only, int *used, int jobs,
                   int cores, int dry, int skip_failed)
{
    runner *R = calloc(1, sizeof *R);
    if (!R) {
        cli_error("out of memory");
        return CLI_EXIT_RUNTIME;
    }
    if (!self_exe(R->exe, sizeof R->exe)) {
        cli_error("cannot find this program (/proc/self/exe) to start the runs");
        free(R);
        return CLI_EXIT_RUNTIME;
    }
    int total = 0;
    for (int i = 0; i < n; i++) total += suites[i]->n_runs;
    R->jobs = calloc((size_t)(total ? total : 1), sizeof *R->jobs);
    R->queue = calloc((size_t)(total ? total : 1), sizeof *R->queue);
    R->not_before = calloc((size_t)(total ? total : 1), sizeof *R->not_before);
    if (!R->jobs || !R->queue || !R->not_before) {
        cli_error("out of memory");
        free(R->jobs);
        free(R->queue);
        free(R->not_before);
        free(R);
        return CLI_EXIT_RUNTIME;
    }
    R->n_slots = jobs;
    R->threads = cores / jobs > 1 ? cores / jobs : 1;
    /* An OPENBLAS_NUM_THREADS set by the caller (make check sets 1) caps it. */
    const char *obt = getenv("OPENBLAS_NUM_THREADS");
    long cap = obt && *obt ? strtol(obt, NULL, 10) : 0;
    if (cap >= 1 && cap < R->threads) R->threads = (int)cap;
    R->skip_failed = skip_failed;
    const char *ab = getenv("MIXGEO_SUITE_ABORT_AFTER");
    R->abort_after = ab && *ab ? strtol(ab, NULL, 10) : -1;
    int rc = CLI_EXIT_OK;
    for (int i = 0; i < n; i++) {
        cli_suite *s = suites[i];
        int count[CLI_RUN_N_STATES] = {0};
        int sel = tally_runs(s, only, n_only, used, count, dry, R, skip_failed);
        cli_info("suite %s%s: %d run%s -> %s: %d done, %d to run%s%s", s->name,
                 s->quick ? " (quick)" : "", sel, sel == 1 ? "" : "s", s->out, count[CLI_RUN_DONE],
                 sel - count[CLI_RUN_DONE] - (skip_failed ? count[CLI_RUN_FAILED] : 0),
                 count[CLI_RUN_RUNNING] ? " (some run elsewhere now)" : "",
                 skip_failed && count[CLI_RUN_FAILED] ? " (failed ones skipped)" : "");
        if (skip_failed && count[CLI_RUN_FAILED]) rc = CLI_EXIT_RUNTIME;
    }
    if (dry || R->n_jobs == 0) {
        if (!dry) cli_info("nothing to do");
        free(R->jobs);
        free(R->queue);
        free(R->not_before);
        free(R);
        return rc;
    }
    cli_info("running %d at a time, %d thread%s each (%d cores)", jobs, R->threads,
             R->threads == 1 ? "" : "s", cores);
    double t0 = cli_now();
    int r = run_jobs(R);
    cli_info("finished %d run%s in %.1f s%s%s%s", R->finished_now, R->finished_now == 1 ? "" : "s",
             cli_now() - t0, R->already ? " (others were done already)" : "", "", "");
    if (R->failed)
        cli_error("%d run%s failed; logs:%s", R->failed, R->failed == 1 ? "" : "s", R->failed_list);
    if (R->interrupted)
        cli_error("%d run%s stopped before the end; run the same command again to finish",
                  R->interrupted, R->interrupted == 1 ? "" : "s");
    if (r != CLI_EXIT_OK)
        rc = r;
    else if (R->failed || R->interrupted)
        rc = CLI_EXIT_RUNTIME;
    free(R->jobs);
    free(R->queue);
    free(R->not_before);
    free(R);
    return rc;
}

static int cmd_status(cli_suite **suites, int n, char **only, int n_only, int *used)
{
    for (int i = 0; i < n; i++) {
        cli_suite *s = suites[i];
        int count[CLI_RUN_N_STATES] = {0};
        int sel = tally_runs(s, only, n_only, used, count, !cli_quiet(), NULL, 0);
        printf("suite %s%s (%s): %d run%s:", s->name, s->quick ? " (quick)" : "", s->out, sel,
               sel == 1 ? "" : "s");
        const cli_run_state order[] = {CLI_RUN_DONE,    CLI_RUN_RUNNING, CLI_RUN_FAILED,
                                       CLI_RUN_PARTIAL, CLI_RUN_STALE,   CLI_RUN_MISSING};
        int first = 1;
        for (int k = 0; k < 6; k++)
            if (count[order[k]] || order[k] == CLI_RUN_DONE) {
                printf("%s %d %s", first ? "" : ",", count[order[k]], cli_run_state_name(order[k]));
                first = 0;
            }
        printf("\n");
    }
    fflush(stdout);
    return CLI_EXIT_OK;
}

static int cmd_list(cli_suite **suites, int n, char **only, int n_only, int *used, int ids)
{
    for (int i = 0; i < n; i++) {
        cli_suite *s = suites[i];
        for (int r = 0; r < s->n_runs; r++) {
            if (!selected(&s->runs[r], only, n_only, used)) continue;
            if (ids) {
                printf("%s\n", s->runs[r].id);
                continue;
            }
            char d[2048];
            cli_suite_run_describe(s, &s->runs[r], d, sizeof d);
            printf("%s\t%s\n", s->runs[r].id, d);
        }
    }
    fflush(stdout);
    return CLI_EXIT_OK;
}

int cli_cmd_suite(int argc, char **argv)
{
    cli_values v;
    cli_values_init(&v, k_suite_opts, N_SUITE_OPTS);
    cli_suite *suites[MAX_FILES] = {0};
    int n_suites = 0, rc = CLI_EXIT_USAGE, npos = 0, flag = 0;
    char *pos[MAX_FILES + 1];
    char *only[CLI_SUITE_MAX_LIST];
    int n_only = 0, used[CLI_SUITE_MAX_LIST] = {0};
    char *only_copy = NULL;
    static const char *const actions[] = {"run", "status", "report", "list", NULL};
    int action = -1;

    if (argc >= 2) {
        for (int i = 0; actions[i]; i++)
            if (!strcmp(argv[1], actions[i])) action = i;
    }
    int shift = action >= 0 ? 1 : 0;
    if (cli_parse_args(&v, "suite", argc - shift, argv + shift, pos, MAX_FILES + 1, &npos))
        goto done;
    if (cli_get_bool(&v, "help", &flag)) goto done;
    if (flag) {
        cli_print_help(stdout, &v, k_usage, k_description, k_epilog);
        rc = CLI_EXIT_OK;
        goto done;
    }
    if (action < 0) {
        cli_error("suite: expected run, status, report or list (see mixgeo suite --help)");
        goto done;
    }
    if (cli_get_bool(&v, "quiet", &flag)) goto done;
    cli_set_quiet(flag);
    if (npos == 0) {
        cli_error("suite %s: expected one or more suite files", actions[action]);
        goto done;
    }
    if (npos > MAX_FILES) {
        cli_error("suite %s: more than %d suite files", actions[action], MAX_FILES);
        goto done;
    }
    int jobs = 1, cores = 0, quick = 0, dry = 0, skip_failed = 0, render = 1, ids = 0;
    int bad = cli_get_int(&v, "jobs", 1, MAX_JOBS, &jobs);
    if (!strcmp(cli_get(&v, "cores"), "auto")) {
        long np = sysconf(_SC_NPROCESSORS_ONLN);
        cores = np < 1 ? 1 : np > 4096 ? 4096 : (int)np;
    } else {
        bad += cli_get_int(&v, "cores", 1, 4096, &cores);
    }
    bad += cli_get_bool(&v, "quick", &quick);
    bad += cli_get_bool(&v, "dry-run", &dry);
    bad += cli_get_bool(&v, "skip-failed", &skip_failed);
    bad += cli_get_bool(&v, "render", &render);
    bad += cli_get_bool(&v, "ids", &ids);
    const char *out = cli_get(&v, "out"), *root = cli_get(&v, "root");
    const char *combined = cli_get(&v, "combined");
    if (*combined && action != 2) {
        cli_error("--combined: only with suite report");
        bad++;
    }
    if (*out && npos > 1) {
        cli_error("--out: one suite file only (use --root DIR for several: DIR/NAME each)");
        bad++;
    }
    if (*out && *root) {
        cli_error("--out and --root cannot be combined");
        bad++;
    }
    const char *ol = cli_get(&v, "only");
    if (*ol) {
        only_copy = strdup(ol);
        for (char *save = NULL, *p = strtok_r(only_copy, ",", &save);
             p && n_only < CLI_SUITE_MAX_LIST; p = strtok_r(NULL, ",", &save)) {
            while (*p == ' ') p++;
            if (*p) only[n_only++] = p;
        }
    }
    if (bad) goto done;

    cli_suite_opts so = {quick, *out ? out : NULL, *root ? root : NULL};
    int problems = 0;
    for (int i = 0; i < npos; i++) {
        int p = cli_suite_load(pos[i], &so, &suites[n_suites]);
        if (p == 0)
            n_suites++;
        else
            problems += p < 0 ? 1 : p;
    }
    if (problems) {
        cli_error("suite: %d problem%s in the suite file%s; nothing was done", problems,
                  problems == 1 ? "" : "s", npos == 1 ? "" : "s");
        goto done;
    }
    for (int i = 0; i < n_suites; i++)
        for (int k = 0; k < i; k++)
            if (!strcmp(suites[i]->out, suites[k]->out)) {
                cli_error("%s and %s write to the same directory %s (set [suite] name or out)",
                          suites[k]->path, suites[i]->path, suites[i]->out);
                goto done;
            }
    /* --only must name runs that exist. */
    if (n_only) {
        for (int i = 0; i < n_suites; i++)
            for (int r = 0; r < suites[i]->n_runs; r++)
                selected(&suites[i]->runs[r], only, n_only, used);
        int unknown = 0;
        for (int i = 0; i < n_only; i++)
            if (!used[i]) {
                cli_error("--only: no run '%s' in the suite%s (see mixgeo suite list)", only[i],
                          n_suites == 1 ? "" : "s");
                unknown++;
            }
        if (unknown) goto done;
    }

    switch (action) {
    case 0:
        rc = cmd_run(suites, n_suites, only, n_only, used, jobs, cores, dry, skip_failed);
        break;
    case 1: rc = cmd_status(suites, n_suites, only, n_only, used); break;
    case 2:
        rc = CLI_EXIT_OK;
        for (int i = 0; i < n_suites; i++) {
            mg_status st = cli_suite_report(suites[i], render);
            if (st != MG_OK) rc = cli_fail_status(st);
        }
        if (*combined) {
            mg_status st = cli_suite_combined_report(suites, n_suites, combined, quick);
            if (st != MG_OK) rc = cli_fail_status(st);
        }
        break;
    case 3: rc = cmd_list(suites, n_suites, only, n_only, used, ids); break;
    }

done:
    for (int i = 0; i < n_suites; i++) cli_suite_free(suites[i]);
    free(only_copy);
    cli_values_free(&v);
    return rc;
}
