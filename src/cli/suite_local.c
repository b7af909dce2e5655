/* suite_local.c - experiment suites: the local backend, `mixgeo suite run`.
 * The same code runs the runs of a Slurm array task (suite_slurm.c writes
 * the script that calls `suite run --slurm-tasks`) and of a shard
 * (--shard I/N): the run directory, its lock and its DONE marker are the
 * only contract between runners, so any number of them may work on one
 * suite at once.
 *
 * A small process scheduler: at most -j runs at a time, each run a sequence
 * of steps (train, then one `mixgeo analyze` per layer and split, then one
 * `mixgeo compare` per [compare] section or layer of its list), each step
 * a child process of this very program (/proc/self/exe train|analyze|compare
 * ...) with stdout/stderr appended to RUN/log.txt and OPENBLAS_NUM_THREADS =
 * --threads = max(1, cores / jobs).
 *
 * Comparisons: a compare step needs its reference trained (suite_compare.c).
 * The runs that are references of others start first.  When a run's next
 * step is a compare step whose reference is not trained yet, the run gives
 * back its slot and lock and is deferred: until that reference's training
 * ends when this runner trains it (re-checked every 5 s as well), or, when
 * another runner holds the reference, re-tried every 2 s (not in an array
 * task, which never waits for other tasks).  Otherwise (the reference
 * failed, is not among the runs of this runner and nobody trains it) the
 * run is left partial ("blocked"): the next `suite run` that finds the
 * reference trained finishes it (suite submit's finish job does that).
 *
 * Robustness:
 *  - a run is claimed with flock() on RUN/lock; the step processes inherit
 *    the lock, so it is held exactly while a runner or one of its steps lives
 *    (kill -9 of the runner included), and two runners never work on one run;
 *    the lock file records the holder (host, pid, Slurm job) for the runners
 *    of other hosts, which judge it by the holder's Slurm job (suite_runs.c);
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
#include "suite_internal.h"

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

#define MAX_JOBS CLI_SUITE_MAX_JOBS

/* ---------------------------------------------------------------- the runner */

typedef struct {
    pid_t pid; /* 0: free */
    int job;
    int step;
    int lock_fd;
    int locked;      /* lock_fd is flock()ed by us (its record is ours) */
    int resumed;     /* the train step was started with --resume */
    int fresh_tried; /* a failed resume was retried from scratch */
    double t0;
    char dir[4096];
} slot;

typedef struct {
    cli_suite_job *jobs;
    int n_jobs;
    /* jobs to start: a circular queue of job indices; a run locked by another
     * runner goes to the back with a time before which it is not tried. */
    int *queue, q_head, q_len;
    double *not_before;
    slot slots[MAX_JOBS];
    int n_slots, threads;
    char exe[4096];
    int stopping, skip_failed, task, compare_only;
    int started, finished_now, failed, interrupted, waiting_note, already, busy;
    int blocked, left_out;
    long abort_after;
    char failed_list[4096], blocked_list[4096];
    /* per job: its training is done (known here), it has ended in this
     * runner, the job whose training it waits for (-1), a defer line printed */
    unsigned char *trained, *ended, *noted;
    int *wait_for;
    /* per suite: run -> job index (-1: not a job of this runner) */
    const cli_suite **sj_suite;
    int **sj_job, n_sj;
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
    if (sl->lock_fd >= 0) {
        if (sl->locked) cli_suite_lock_clear(sl->lock_fd);
        close(sl->lock_fd); /* the lock goes with the last copy */
    }
    sl->lock_fd = -1;
    sl->locked = 0;
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

static void queue_push(runner *R, int j);

/* The job of run `run` of s in this runner, -1 if none. */
static int job_of(const runner *R, const cli_suite *s, int run)
{
    for (int i = 0; i < R->n_sj; i++)
        if (R->sj_suite[i] == s) return run >= 0 ? R->sj_job[i][run] : -1;
    return -1;
}

/* Start step sl->step of the slot's run; 0 ok, -1 failed (recorded). */
static int start_step(runner *R, slot *sl, int force_fresh)
{
    const cli_suite_job *jb = &R->jobs[sl->job];
    const cli_suite *s = jb->s;
    const cli_suite_run *r = &s->runs[jb->run];
    const cli_suite_step *st = &s->steps[sl->step];
    char th[32], cfg[4200], ckpt[4200], why[512], layer[32];
    char spec_a[4200], spec_b[4200], out[4400], refdir[4096];
    snprintf(th, sizeof th, "%d", R->threads);
    char *argv[64];
    int n = 0;
    argv[n++] = R->exe;
    if (st->kind == CLI_STEP_COMPARE) {
        /* mixgeo compare RUN[:K] REF[:K] --split S [--all-layers] --out OUT */
        const cli_suite_compare *c = &s->compares[st->compare];
        int ref = cli_suite_step_ref(s, jb->run, st);
        mg_status e = cli_suite_run_dir(s, &s->runs[ref], refdir, sizeof refdir);
        if (e == MG_OK) e = cli_suite_compare_out(s, st, sl->dir, out, sizeof out);
        if (e != MG_OK) {
            cli_error("%s: %s", r->id, mg_errmsg());
            cli_suite_mark_failed(sl->dir, st->name, "path too long");
            return -1;
        }
        if (st->layer >= 0) {
            snprintf(spec_a, sizeof spec_a, "%s:%d", sl->dir, st->layer);
            snprintf(spec_b, sizeof spec_b, "%s:%d", refdir, st->layer);
        } else {
            snprintf(spec_a, sizeof spec_a, "%s", sl->dir);
            snprintf(spec_b, sizeof spec_b, "%s", refdir);
        }
        argv[n++] = "compare";
        argv[n++] = spec_a;
        argv[n++] = spec_b;
        argv[n++] = "--split";
        argv[n++] = (char *)st->split;
        if (st->layer < 0) argv[n++] = "--all-layers";
        argv[n++] = "--out";
        argv[n++] = out;
        if (c->max_per_class) {
            argv[n++] = "--max-per-class";
            argv[n++] = (char *)c->max_per_class;
        }
        argv[n++] = "--threads";
        argv[n++] = th;
    } else if (sl->step == 0 && s->command != CLI_SUITE_TRAIN) {
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
 * runner holds the run's lock (who into why), 3 if what is left waits for
 * the reference of compare step *blocked (slot and lock released). */
static int job_start(runner *R, slot *sl, int j, char *why, size_t why_len, int *blocked)
{
    const cli_suite_job *jb = &R->jobs[j];
    const cli_suite *s = jb->s;
    const cli_suite_run *r = &s->runs[jb->run];
    memset(sl, 0, sizeof *sl);
    sl->lock_fd = -1;
    sl->job = j;
    if (R->compare_only && cli_suite_run_dir(s, r, sl->dir, sizeof sl->dir) == MG_OK &&
        !cli_dir_exists(sl->dir)) {
        cli_info("leave    %s: train first (--compare-only)", r->id);
        R->left_out++;
        return 0;
    }
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
        cli_suite_lock_record rec;
        if (cli_suite_lock_read(sl->dir, &rec))
            cli_suite_lock_describe(&rec, why, why_len);
        else
            snprintf(why, why_len, "another runner");
        release(sl);
        return 2;
    }
    /* The flock is ours; on a shared file system its record may still name
     * a holder on another host (flock() may not reach across hosts). */
    if (!cli_suite_lock_claim(sl->lock_fd, why, why_len)) {
        release(sl);
        return 2;
    }
    sl->locked = 1;
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
    if (s->n_compares) cli_suite_compares_clean(s, jb->run, sl->dir);
    *blocked = -1;
    sl->step = fresh ? 0 : cli_suite_next_step(s, jb->run, sl->dir, blocked);
    R->trained[j] = !fresh && cli_suite_step_done(s, jb->run, &s->steps[0], sl->dir);
    if (R->compare_only && sl->step < s->n_steps && s->steps[sl->step].kind != CLI_STEP_COMPARE) {
        cli_info("leave    %s: %s first (--compare-only)", r->id, s->steps[sl->step].name);
        release(sl);
        R->left_out++;
        return 0;
    }
    if (sl->step == s->n_steps && *blocked >= 0) {
        release(sl);
        return 3;
    }
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
    int kind = s->steps[sl->step].kind;
    cli_info("start    %s%s", r->id,
             kind == CLI_STEP_COMPARE   ? " (comparisons)"
             : kind == CLI_STEP_ANALYZE ? " (analyses)"
             : sl->resumed              ? " (resume)"
                                        : "");
    return 1;
}

static void done_line(const cli_suite *s, const slot *sl, const cli_suite_run *r, double seconds)
{
    char path[4200], what[128] = "";
    if (s->command == CLI_SUITE_STATES) {
        snprintf(path, sizeof path, "%s/%s/summary.json", sl->dir, CLI_SUITE_STATES_OUT);
        cJSON *j = cli_json_load(path);
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, "n");
        const cJSON *dim = cJSON_GetObjectItemCaseSensitive(j, "dim");
        if (cJSON_IsNumber(n) && cJSON_IsNumber(dim))
            snprintf(what, sizeof what, "  %.0f states of %.0f features", n->valuedouble,
                     dim->valuedouble);
        cJSON_Delete(j);
    } else {
        snprintf(path, sizeof path, "%s/summary.json", sl->dir);
        cJSON *j = cli_json_load(path);
        const cJSON *fin = cJSON_GetObjectItemCaseSensitive(j, "final");
        const cJSON *acc = cJSON_GetObjectItemCaseSensitive(fin, "test_acc");
        if (cJSON_IsNumber(acc)) snprintf(what, sizeof what, "  test_acc %.4f", acc->valuedouble);
        cJSON_Delete(j);
    }
    cli_info("done     %s%s  (%.1f s)", r->id, what, seconds);
}

/* Run job j, whose next step (blocked) waits for its reference, later or
 * never (see the top of the file); its slot and lock are free. */
static void defer_job(runner *R, int j, int blocked)
{
    const cli_suite_job *jb = &R->jobs[j];
    const cli_suite *s = jb->s;
    const cli_suite_run *r = &s->runs[jb->run];
    const cli_suite_step *st = &s->steps[blocked];
    int ref = cli_suite_step_ref(s, jb->run, st);
    int rj = job_of(R, s, ref);
    char why[512], detail[1024];
    cli_suite_ref_ready(s, ref, why, sizeof why);
    R->wait_for[j] = -1;
    if (rj >= 0 && !R->ended[rj] && !R->stopping) {
        R->wait_for[j] = rj;
        R->not_before[j] = cli_now() + 5.0;
        if (!R->noted[j])
            cli_info("defer    %s: %s waits for %s (this runner trains it)", r->id, st->name,
                     s->runs[ref].id);
        R->noted[j] = 1;
        queue_push(R, j);
        return;
    }
    if (!R->task && !R->stopping &&
        cli_suite_run_state(s, &s->runs[ref], detail, sizeof detail) == CLI_RUN_RUNNING) {
        R->not_before[j] = cli_now() + 2.0;
        if (!R->noted[j])
            cli_info("wait     %s: %s waits for %s (held by %s)", r->id, st->name, s->runs[ref].id,
                     detail);
        R->noted[j] = 1;
        queue_push(R, j);
        return;
    }
    R->ended[j] = 1;
    if (R->stopping) {
        R->interrupted++;
        return;
    }
    R->blocked++;
    cli_info("blocked  %s: %s waits: %s (%s)", r->id, st->name, why,
             rj >= 0   ? "its training failed or stopped here"
             : R->task ? "another task or runner trains it"
                       : "not among the runs of this runner, and no runner holds it");
    size_t used = strlen(R->blocked_list);
    if (used < sizeof R->blocked_list - 200)
        snprintf(R->blocked_list + used, sizeof R->blocked_list - used, "\n  %s: %s", r->id, why);
}

/* The slot's run has nothing more to do in this runner. */
static void job_end(runner *R, slot *sl)
{
    R->ended[sl->job] = 1;
    release(sl);
}

static void on_exit_status(runner *R, slot *sl, int status)
{
    const cli_suite_job *jb = &R->jobs[sl->job];
    const cli_suite *s = jb->s;
    const cli_suite_run *r = &s->runs[jb->run];
    const cli_suite_step *st = &s->steps[sl->step];
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    sl->pid = 0;
    if (code == 0) {
        mg_status e = MG_OK;
        if (st->kind == CLI_STEP_COMPARE && st->layer >= 0)
            e = cli_suite_compare_merge(s, st, sl->dir);
        if (e == MG_OK) e = cli_suite_mark_step(s, jb->run, st, sl->dir);
        if (e != MG_OK) {
            cli_error("%s: %s", r->id, mg_errmsg());
            cli_suite_mark_failed(sl->dir, st->name,
                                  st->kind == CLI_STEP_COMPARE && st->layer >= 0
                                      ? "cannot write its marker or the merged comparison"
                                      : "cannot write its marker");
            R->failed++;
            job_end(R, sl);
            return;
        }
        if (st->kind == CLI_STEP_RUN) R->trained[sl->job] = 1;
        int blocked;
        int next = cli_suite_next_step(s, jb->run, sl->dir, &blocked);
        if (next < s->n_steps || blocked >= 0) {
            if (R->stopping) {
                R->interrupted++;
                job_end(R, sl);
                return;
            }
            if (next == s->n_steps) {
                int j = sl->job;
                release(sl);
                defer_job(R, j, blocked);
                return;
            }
            sl->step = next;
            if (start_step(R, sl, 0) != 0) {
                R->failed++;
                job_end(R, sl);
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
        job_end(R, sl);
        return;
    }
    if (code == CLI_EXIT_INTERRUPTED || (R->stopping && (sig == SIGTERM || sig == SIGINT))) {
        cli_info("stopped  %s at %s (continues on the next suite run)", r->id, st->name);
        R->interrupted++;
        job_end(R, sl);
        return;
    }
    if (sl->step == 0 && sl->resumed && !sl->fresh_tried && !R->stopping) {
        cli_info("restart  %s: train --resume failed (exit %d), starting it from scratch", r->id,
                 code);
        sl->fresh_tried = 1;
        if (start_step(R, sl, 1) == 0) return;
        R->failed++;
        job_end(R, sl);
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
    job_end(R, sl);
}

static void queue_push(runner *R, int j)
{
    R->queue[(R->q_head + R->q_len++) % R->n_jobs] = j;
}

/* The first queued job that may be tried now, or -1: its time has come, or
 * the job whose training it waits for has trained or ended (those first:
 * what is left of them is short, their comparisons). */
static int queue_pop_ready(runner *R, double now)
{
    for (int k = 0; k < R->q_len; k++) {
        int i = (R->q_head + k) % R->n_jobs, j = R->queue[i], w = R->wait_for[j];
        if (w < 0 || !(R->trained[w] || R->ended[w])) continue;
        for (int m = k; m > 0; m--) /* j to the head, the others keep their order */
            R->queue[(R->q_head + m) % R->n_jobs] = R->queue[(R->q_head + m - 1) % R->n_jobs];
        R->queue[R->q_head] = j;
        break;
    }
    for (int tries = R->q_len; tries > 0; tries--) {
        int j = R->queue[R->q_head];
        R->q_head = (R->q_head + 1) % R->n_jobs;
        R->q_len--;
        int w = R->wait_for[j];
        if (R->not_before[j] <= now || (w >= 0 && (R->trained[w] || R->ended[w]))) {
            R->wait_for[j] = -1;
            return j;
        }
        queue_push(R, j);
    }
    return -1;
}

/* The signal that stopped an array task (SIGUSR1: Slurm's warning before
 * the time limit; SIGTERM: the limit itself, preemption or scancel). */
static volatile sig_atomic_t g_task_signal;

static void on_task_signal(int sig)
{
    if (!g_task_signal) g_task_signal = sig;
}

static int run_jobs(runner *R)
{
    cli_signals_install();
    if (R->task) {
        /* USR1 and TERM stop the runs like Ctrl-C: each training step in
         * progress finishes and saves its checkpoint (the runner forwards
         * one SIGTERM; a train process that got Slurm's own SIGTERM as well
         * counts the two as one request). */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_task_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGUSR1, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
    }
    int active = 0;
    for (int k = 0; k < R->n_slots; k++) R->slots[k].lock_fd = -1;
    for (int j = 0; j < R->n_jobs; j++) queue_push(R, j);
    for (;;) {
        if ((cli_stop_requested() || g_task_signal) && !R->stopping) {
            R->stopping = 1;
            if (g_task_signal)
                cli_error("%s: stopping %d run%s (they save their state and continue when the "
                          "task runs again)",
                          g_task_signal == SIGUSR1 ? "USR1" : "SIGTERM", active,
                          active == 1 ? "" : "s");
            else
                cli_error("interrupted: stopping %d run%s (they save their state and continue on "
                          "the next suite run)",
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
            char why[1024] = "";
            int blocked = -1;
            int r = job_start(R, &R->slots[k], j, why, sizeof why, &blocked);
            if (r == 0 || r == -1) R->ended[j] = 1;
            if (r == 3) {
                defer_job(R, j, blocked);
            } else if (r == 2 && R->task) { /* an array task does not wait for others */
                cli_info("skip     %s (held by %s)", R->jobs[j].s->runs[R->jobs[j].run].id, why);
                R->busy++;
                R->ended[j] = 1;
            } else if (r == 2) { /* another runner works on it: look again later */
                if (!R->waiting_note++)
                    cli_info("wait     %s (held by %s)", R->jobs[j].s->runs[R->jobs[j].run].id,
                             why);
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

/* ---------------------------------------------------------------- the backend */

/* The jobs of s among jobs[0..n): each state counted in count[]
 * (CLI_RUN_N_STATES); with print, a line "STATE ID  DETAIL" for each still
 * to do; those (not done, nor failed when skip_failed) are queued in R.
 * Returns how many jobs are of s. */
static int tally_runs(runner *R, cli_suite *s, const cli_suite_job *jobs, int n, int *count,
                      int print)
{
    int sel = 0;
    for (int j = 0; j < n; j++) {
        if (jobs[j].s != s) continue;
        int r = jobs[j].run;
        sel++;
        char detail[1024];
        cli_run_state st = cli_suite_run_state(s, &s->runs[r], detail, sizeof detail);
        count[st]++;
        if (st == CLI_RUN_DONE || (st == CLI_RUN_FAILED && R->skip_failed)) continue;
        if (print)
            printf("%-8s %s%s%s\n", cli_run_state_name(st), s->runs[r].id, *detail ? "  " : "",
                   detail);
        R->jobs[R->n_jobs++] = (cli_suite_job){s, r};
    }
    return sel;
}

static void runner_free(runner *R)
{
    free(R->jobs);
    free(R->queue);
    free(R->not_before);
    free(R->trained);
    free(R->ended);
    free(R->noted);
    free(R->wait_for);
    for (int i = 0; i < R->n_sj; i++) free(R->sj_job[i]);
    free(R->sj_job);
    free(R->sj_suite);
    free(R);
}

/* The runs -> jobs maps of every suite, and the jobs reordered so that the
 * references of other jobs' comparisons come first (stable: grid order
 * otherwise; suites without [compare] keep their order). */
static void order_references_first(runner *R, cli_suite *const *suites, int n_suites)
{
    R->sj_suite = xcalloc((size_t)(n_suites ? n_suites : 1), sizeof *R->sj_suite);
    R->sj_job = xcalloc((size_t)(n_suites ? n_suites : 1), sizeof *R->sj_job);
    R->n_sj = n_suites;
    for (int i = 0; i < n_suites; i++) {
        R->sj_suite[i] = suites[i];
        R->sj_job[i] = xcalloc((size_t)(suites[i]->n_runs ? suites[i]->n_runs : 1), sizeof(int));
        for (int r = 0; r < suites[i]->n_runs; r++) R->sj_job[i][r] = -1;
    }
    unsigned char *is_ref = xcalloc((size_t)(R->n_jobs ? R->n_jobs : 1), 1);
    int any = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int j = 0; j < R->n_jobs; j++)
            for (int i = 0; i < n_suites; i++)
                if (R->sj_suite[i] == R->jobs[j].s) R->sj_job[i][R->jobs[j].run] = j;
        if (pass) break;
        for (int j = 0; j < R->n_jobs; j++) {
            const cli_suite *s = R->jobs[j].s;
            for (int k = 0; k < s->n_steps; k++) {
                int ref = cli_suite_step_ref(s, R->jobs[j].run, &s->steps[k]);
                int rj = ref >= 0 && ref != R->jobs[j].run ? job_of(R, s, ref) : -1;
                if (rj >= 0) any = is_ref[rj] = 1;
            }
        }
        if (!any) break;
        cli_suite_job *sorted = xcalloc((size_t)R->n_jobs, sizeof *sorted);
        int n = 0;
        for (int want = 1; want >= 0; want--)
            for (int j = 0; j < R->n_jobs; j++)
                if (is_ref[j] == want) sorted[n++] = R->jobs[j];
        memcpy(R->jobs, sorted, sizeof *sorted * (size_t)R->n_jobs);
        free(sorted);
    }
    free(is_ref);
}

int cli_suite_run_local(cli_suite *const *suites, int n_suites, const cli_suite_job *jobs,
                        int n_jobs, const cli_suite_local_opts *o, cli_suite_local_result *res)
{
    memset(res, 0, sizeof *res);
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
    size_t cap = (size_t)(n_jobs ? n_jobs : 1);
    R->jobs = calloc(cap, sizeof *R->jobs);
    R->queue = calloc(cap, sizeof *R->queue);
    R->not_before = calloc(cap, sizeof *R->not_before);
    if (!R->jobs || !R->queue || !R->not_before) {
        cli_error("out of memory");
        runner_free(R);
        return CLI_EXIT_RUNTIME;
    }
    R->n_slots = o->jobs;
    R->threads = o->cores / o->jobs > 1 ? o->cores / o->jobs : 1;
    /* An OPENBLAS_NUM_THREADS set by the caller (make check sets 1) caps it. */
    const char *obt = getenv("OPENBLAS_NUM_THREADS");
    long cap_threads = obt && *obt ? strtol(obt, NULL, 10) : 0;
    if (cap_threads >= 1 && cap_threads < R->threads) R->threads = (int)cap_threads;
    R->skip_failed = o->skip_failed;
    R->task = o->task;
    R->compare_only = o->compare_only;
    R->trained = xcalloc(cap, 1);
    R->ended = xcalloc(cap, 1);
    R->noted = xcalloc(cap, 1);
    R->wait_for = xcalloc(cap, sizeof *R->wait_for);
    for (size_t j = 0; j < cap; j++) R->wait_for[j] = -1;
    const char *ab = getenv("MIXGEO_SUITE_ABORT_AFTER");
    R->abort_after = ab && *ab ? strtol(ab, NULL, 10) : -1;
    int rc = CLI_EXIT_OK;
    for (int i = 0; i < n_suites; i++) {
        cli_suite *s = suites[i];
        int count[CLI_RUN_N_STATES] = {0};
        int sel = tally_runs(R, s, jobs, n_jobs, count, o->dry);
        cli_info("suite %s%s: %d run%s -> %s: %d done, %d to run%s%s", s->name,
                 s->quick ? " (quick)" : "", sel, sel == 1 ? "" : "s", s->out, count[CLI_RUN_DONE],
                 sel - count[CLI_RUN_DONE] - (o->skip_failed ? count[CLI_RUN_FAILED] : 0),
                 count[CLI_RUN_RUNNING] ? " (some run elsewhere now)" : "",
                 o->skip_failed && count[CLI_RUN_FAILED] ? " (failed ones skipped)" : "");
        if (o->skip_failed && count[CLI_RUN_FAILED]) rc = CLI_EXIT_RUNTIME;
    }
    if (o->dry || R->n_jobs == 0) {
        if (!o->dry) cli_info("nothing to do");
        runner_free(R);
        return rc;
    }
    order_references_first(R, suites, n_suites);
    cli_info("running %d at a time, %d thread%s each (%d cores)", o->jobs, R->threads,
             R->threads == 1 ? "" : "s", o->cores);
    double t0 = cli_now();
    int r = run_jobs(R);
    cli_info("finished %d run%s in %.1f s%s", R->finished_now, R->finished_now == 1 ? "" : "s",
             cli_now() - t0, R->already ? " (others were done already)" : "");
    if (R->failed)
        cli_error("%d run%s failed; logs:%s", R->failed, R->failed == 1 ? "" : "s", R->failed_list);
    if (R->interrupted)
        cli_error("%d run%s stopped before the end; run the same command again to finish",
                  R->interrupted, R->interrupted == 1 ? "" : "s");
    if (R->busy)
        cli_info("%d run%s left to the runners that hold them", R->busy, R->busy == 1 ? "" : "s");
    if (R->blocked)
        cli_info("%d run%s wait%s for a reference to compare with (once it is trained, the "
                 "next suite run finishes them):%s",
                 R->blocked, R->blocked == 1 ? "" : "s", R->blocked == 1 ? "s" : "",
                 R->blocked_list);
    if (R->left_out)
        cli_info("%d run%s left alone: not trained or analysed yet (--compare-only)", R->left_out,
                 R->left_out == 1 ? "" : "s");
    if (r != CLI_EXIT_OK)
        rc = r;
    else if (R->failed || R->interrupted || R->blocked)
        rc = CLI_EXIT_RUNTIME;
    res->finished = R->finished_now;
    res->blocked = R->blocked;
    res->failed = R->failed;
    res->interrupted = R->interrupted;
    res->busy = R->busy;
    res->stop_signal = g_task_signal;
    runner_free(R);
    return rc;
}
