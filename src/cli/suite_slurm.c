/* suite_slurm.c - experiment suites: the Slurm backend.  Built on Slurm's
 * own commands (sbatch, squeue, scontrol, scancel), not on a scheduler of
 * our own, and on the local backend for the work itself:
 *
 *  - `suite submit` packs the runs to do into array tasks, writes
 *    OUT/slurm/JOBID/submit.sbatch and tasks.tsv (task -> run ids) and
 *    submits ONE `sbatch --array=0-(T-1)%K` (held until the directory is
 *    named after the job id, so the task logs OUT/slurm/JOBID/%A_%a.log can
 *    be opened; then `scontrol release`); a suite with [compare] sections
 *    gets a finish job that depends on it (afterany) and runs the compare
 *    steps a task could not (`suite run --compare-only`: their reference was
 *    trained by another task); --report adds a job that depends on the array
 *    (or the finish job) and writes the report;
 *  - each array task runs `mixgeo suite run FILE --slurm-tasks TASKS` =
 *    suite_local.c on the runs of its line of tasks.tsv (train + analyses,
 *    locks, DONE markers: done runs are skipped, so resubmission and a local
 *    runner on the same suite are safe); on Slurm's warning signal (USR1,
 *    --signal=B:USR1@S) or SIGTERM the training steps save their checkpoints
 *    and the task requeues itself (scontrol requeue), at most --max-requeue
 *    times (SLURM_RESTART_COUNT);
 *  - `suite status` reads OUT/slurm/JOBID/tasks.tsv and asks squeue once for
 *    every recorded job (there is no accounting database to ask); `suite
 *    cancel` scancels them.
 */
#include "suite_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TASK_TARGET_SECONDS 600.0 /* --runs-per-task auto: at least ~10 minutes a task */

/* ---------------------------------------------------------------- options */

/* Slurm's --time: MINUTES, MINUTES:SECONDS, HOURS:MINUTES:SECONDS, DAYS-HOURS,
 * DAYS-HOURS:MINUTES, DAYS-HOURS:MINUTES:SECONDS -> seconds; 0 if malformed. */
static long slurm_time_seconds(const char *t)
{
    long days = 0, f[3] = {0, 0, 0};
    int nf = 0;
    const char *p = t;
    const char *dash = strchr(t, '-');
    if (dash) {
        char *end;
        days = strtol(t, &end, 10);
        if (end != dash || end == t || days < 0) return 0;
        p = dash + 1;
    }
    while (*p) {
        if (!isdigit((unsigned char)*p) || nf == 3) return 0;
        char *end;
        f[nf++] = strtol(p, &end, 10);
        p = end;
        if (*p == ':') {
            p++;
            if (!*p) return 0;
        } else if (*p) {
            return 0;
        }
    }
    if (nf == 0) return 0;
    long s;
    if (dash) /* D-H, D-H:M, D-H:M:S */
        s = days * 86400 + f[0] * 3600 + (nf > 1 ? f[1] * 60 : 0) + (nf > 2 ? f[2] : 0);
    else if (nf == 1) /* M */
        s = f[0] * 60;
    else if (nf == 2) /* M:S */
        s = f[0] * 60 + f[1];
    else /* H:M:S */
        s = f[0] * 3600 + f[1] * 60 + f[2];
    return s;
}

/* Slurm's --mem: N[K|M|G|T] (MB by default). */
static int slurm_mem_ok(const char *m)
{
    char *end;
    if (!isdigit((unsigned char)*m)) return 0;
    long x = strtol(m, &end, 10);
    if (x <= 0) return 0;
    return !*end ||
           (strchr("KMGTkmgt", *end) && (!end[1] || ((end[1] == 'B' || end[1] == 'b') && !end[2])));
}

/* The sbatch options submit sets itself (refused in --sbatch-arg). */
static const char *const k_own_args[] = {
    "--array",     "-a",       "--output",     "-o",     "--error",   "-e",
    "--open-mode", "--signal", "--parsable",   "--wrap", "--requeue", "--no-requeue",
    "--job-name",  "-J",       "--dependency", "-d",     NULL};

int cli_suite_submit_check(const cli_suite_submit_opts *o)
{
    int bad = 0;
    long secs = 0;
    if (!*o->time) {
        cli_error("--time: required for suite submit (the time limit of one array task, e.g. "
                  "--time 4:00:00)");
        bad++;
    } else if ((secs = slurm_time_seconds(o->time)) <= 0) {
        cli_error(
            "--time: expected MINUTES, HOURS:MINUTES:SECONDS or DAYS-HOURS[:MINUTES[:SECONDS]] "
            "(got '%s')",
            o->time);
        bad++;
    }
    for (const char *p = o->partition; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_.,-", *p)) {
            cli_error("--partition: '%s' is not a partition name (letters, digits, _ . , -)",
                      o->partition);
            bad++;
            break;
        }
    if (*o->mem && !slurm_mem_ok(o->mem)) {
        cli_error("--mem: expected a size such as 4G, 500M or 2000 (megabytes) (got '%s')", o->mem);
        bad++;
    }
    if (secs > 0 && o->signal_seconds >= secs) {
        cli_error("--signal-seconds: %d s is not shorter than --time %s (%ld s): the warning would "
                  "come before the task starts",
                  o->signal_seconds, o->time, secs);
        bad++;
    }
    for (int i = 0; i < o->n_sbatch_args; i++) {
        const char *a = o->sbatch_args[i];
        if (a[0] != '-') {
            cli_error("--sbatch-arg: '%s' is not an sbatch option (expected --NAME=VALUE or "
                      "--FLAG)",
                      a);
            bad++;
            continue;
        }
        if (strchr(a, '\n')) {
            cli_error("--sbatch-arg: '%s' has a line break", a);
            bad++;
            continue;
        }
        for (int k = 0; k_own_args[k]; k++) {
            size_t n = strlen(k_own_args[k]);
            if (!strncmp(a, k_own_args[k], n) &&
                (a[n] == '\0' || a[n] == '=' || (k_own_args[k][1] != '-' && a[n] != '-'))) {
                cli_error("--sbatch-arg: %s is set by mixgeo suite submit (see mixgeo suite "
                          "--help)",
                          k_own_args[k]);
                bad++;
                break;
            }
        }
    }
    return bad;
}

/* ---------------------------------------------------------------- estimates */

static double json_num(const cJSON *j, const char *key)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

static const char *run_key(const cli_suite *s, const cli_suite_run *r, const char *key)
{
    int i = sx_suite_opt(s, key);
    return i >= 0 && r->config && r->config[i] ? r->config[i] : "";
}

/* The training examples of run r from its configuration (the built-in
 * estimate: n-train when set; Fashion-MNIST and IDX: 60,000 - val; CSV:
 * 10,000; synthetic data: n-per-class x classes, 2 classes when auto). */
static double examples_guess(const cli_suite *s, const cli_suite_run *r)
{
    long x;
    const char *nt = run_key(s, r, "n-train");
    if (sx_parse_long_text(nt, 1, LONG_MAX, &x)) return (double)x;
    const char *data = run_key(s, r, "data");
    long val = 0;
    sx_parse_long_text(run_key(s, r, "val"), 0, LONG_MAX, &val);
    if (!strcmp(data, "fashion-mnist") || !strncmp(data, "idx:", 4))
        return 60000.0 - (double)val > 1 ? 60000.0 - (double)val : 1;
    if (!strncmp(data, "csv:", 4)) return 10000.0;
    long npc = 1000, classes = 2;
    sx_parse_long_text(run_key(s, r, "n-per-class"), 1, LONG_MAX, &npc);
    sx_parse_long_text(run_key(s, r, "classes"), 2, LONG_MAX, &classes);
    return (double)npc * (double)classes;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Estimated seconds of each job (documented in suite.h and the README):
 * train suites: epochs x training examples x seconds per example-epoch,
 * the last measured on the suite's finished runs (the median of
 * train_seconds / (epochs_done x n_train) of their summary.json) or else
 * assumed (50 us for an MLP, 2 ms for preact:/cnn: networks), 30 s for a
 * run that is trained already (its analyses or comparisons left); theory
 * and states suites: 30 s a run.  *how: where the rate came from. */
static void estimate(const cli_suite *s, const cli_suite_job *jobs, int n, double *est, char *how,
                     size_t hlen)
{
    if (s->command != CLI_SUITE_TRAIN) {
        for (int j = 0; j < n; j++) est[j] = 30.0;
        snprintf(how, hlen, "30 s a run (%s runs)",
                 s->command == CLI_SUITE_THEORY ? "theory" : "states");
        return;
    }
    double *rates = xcalloc((size_t)s->n_runs, sizeof *rates);
    int nr = 0;
    for (int r = 0; r < s->n_runs; r++) {
        char dir[4096], path[4200];
        if (cli_suite_run_dir(s, &s->runs[r], dir, sizeof dir) != MG_OK) continue;
        snprintf(path, sizeof path, "%s/DONE", dir);
        if (!cli_file_exists(path)) continue;
        snprintf(path, sizeof path, "%s/summary.json", dir);
        cJSON *j = cli_json_load(path);
        double t = json_num(j, "train_seconds"), e = json_num(j, "epochs_done"),
               m = json_num(j, "n_train");
        cJSON_Delete(j);
        if (t > 0 && e > 0 && m > 0) rates[nr++] = t / (e * m);
    }
    double rate = NAN;
    if (nr) {
        qsort(rates, (size_t)nr, sizeof *rates, cmp_double);
        rate = nr % 2 ? rates[nr / 2] : 0.5 * (rates[nr / 2 - 1] + rates[nr / 2]);
        snprintf(how, hlen,
                 "epochs x examples x %.3g s (the median rate of %d finished run%s of the suite)",
                 rate, nr, nr == 1 ? "" : "s");
    } else {
        snprintf(how, hlen,
                 "epochs x examples x 50 us (MLP) or 2 ms (preact:/cnn:), assumed: no run of the "
                 "suite has finished yet");
    }
    free(rates);
    for (int j = 0; j < n; j++) {
        const cli_suite_run *r = &s->runs[jobs[j].run];
        char dir[4096];
        if (cli_suite_run_dir(s, r, dir, sizeof dir) == MG_OK &&
            cli_suite_step_done(s, jobs[j].run, &s->steps[0], dir)) {
            est[j] = 30.0;
            continue;
        }
        long ep = 10;
        sx_parse_long_text(run_key(s, r, "epochs"), 1, LONG_MAX, &ep);
        const char *arch = run_key(s, r, "arch");
        double c = !isnan(rate)                                                 ? rate
                   : (!strncmp(arch, "preact", 6) || !strncmp(arch, "cnn:", 4)) ? 2e-3
                                                                                : 5e-5;
        est[j] = (double)ep * examples_guess(s, r) * c;
    }
}

/* Tasks of runs (grid order): auto closes a task when it reaches
 * TASK_TARGET_SECONDS or the next run would not fit before the warning
 * signal (limit - signal); N: N runs a task.  task[j] per job; returns the
 * number of tasks. */
static int pack(const double *est, int n, int per_task, double usable, int *task)
{
    int t = 0, in_task = 0;
    double sum = 0.0;
    for (int j = 0; j < n; j++) {
        int close_it =
            in_task && (per_task > 0 ? in_task >= per_task
                                     : sum >= TASK_TARGET_SECONDS || sum + est[j] > usable);
        if (close_it) {
            t++;
            in_task = 0;
            sum = 0.0;
        }
        task[j] = t;
        in_task++;
        sum += est[j];
    }
    return n ? t + 1 : 0;
}

/* ---------------------------------------------------------------- records */

/* The job directories of OUT/slurm (names of digits), ascending. */
static int job_dirs(const cli_suite *s, char (**ids)[32])
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/slurm", s->out);
    *ids = NULL;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *p = de->d_name;
        if (!*p || strlen(p) >= 32) continue;
        while (isdigit((unsigned char)*p)) p++;
        if (*p) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            *ids = xrealloc(*ids, sizeof **ids * (size_t)cap);
        }
        memcpy((*ids)[n++], de->d_name, strlen(de->d_name) + 1); /* < 32: checked above */
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* numeric order */
        for (int k = i; k > 0 && strtoll((*ids)[k - 1], NULL, 10) > strtoll((*ids)[k], NULL, 10);
             k--) {
            char t[32];
            memcpy(t, (*ids)[k], 32);
            memcpy((*ids)[k], (*ids)[k - 1], 32);
            memcpy((*ids)[k - 1], t, 32);
        }
    return n;
}

/* One line of squeue -r about a job or array task. */
typedef struct {
    char array_job[32], task[32], state[32], reason[64];
    int restarts;
} queue_line;

/* squeue -r for the jobs ids[0..n) (comma list) into *lines.  Returns the
 * number of lines, -1 if squeue cannot be asked (reason in why). */
static int queue_lines(char (*ids)[32], int n, queue_line **lines, char *why, size_t wlen)
{
    *lines = NULL;
    if (n == 0) return 0;
    if (!sx_on_path("squeue")) {
        snprintf(why, wlen, "squeue is not on the PATH");
        return -1;
    }
    size_t cap = (size_t)n * 33 + 1;
    char *list = xcalloc(cap, 1);
    for (int i = 0; i < n; i++) {
        if (i) strcat(list, ",");
        strcat(list, ids[i]);
    }
    char *argv[] = {"squeue",
                    "-h",
                    "-r",
                    "-j",
                    list,
                    "-O",
                    "ArrayJobID:|,ArrayTaskID:|,JobID:|,State:|,Reason:|,RestartCnt:|",
                    NULL};
    char *out, *err;
    int rc = sx_run_capture(argv, &out, &err);
    int nl = 0;
    if (rc != 0 && strstr(err, "Invalid job id")) {
        nl = 0; /* a single job id that squeue no longer knows */
    } else if (rc != 0) {
        char cmd[2048];
        sx_command_text(argv, cmd, sizeof cmd);
        snprintf(why, wlen, "%.200s failed (exit %d): %.250s", cmd, rc, trim(err));
        nl = -1;
    } else {
        int lcap = 0;
        char *save = NULL;
        for (char *ln = strtok_r(out, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
            char *f[7] = {0};
            int k = 0;
            for (char *p = ln; k < 7;) {
                f[k++] = p;
                char *bar = strchr(p, '|');
                if (!bar) break;
                *bar = '\0';
                p = bar + 1;
            }
            if (k < 6) continue;
            if (nl == lcap) {
                lcap = lcap ? 2 * lcap : 64;
                *lines = xrealloc(*lines, sizeof **lines * (size_t)lcap);
            }
            queue_line *q = &(*lines)[nl++];
            memset(q, 0, sizeof *q);
            /* a job that is no array: ArrayJobID is its JobID, ArrayTaskID N/A */
            snprintf(q->array_job, sizeof q->array_job, "%s", trim(f[0]));
            snprintf(q->task, sizeof q->task, "%s", trim(f[1]));
            snprintf(q->state, sizeof q->state, "%s", trim(f[3]));
            snprintf(q->reason, sizeof q->reason, "%s", trim(f[4]));
            q->restarts = (int)strtol(trim(f[5]), NULL, 10);
        }
    }
    free(list);
    free(out);
    free(err);
    return nl;
}

/* Index of run id in s (sorted index order), -1 if none. */
static const cli_suite *g_sort_suite;
static int cmp_run_index(const void *a, const void *b)
{
    return strcmp(g_sort_suite->runs[*(const int *)a].id, g_sort_suite->runs[*(const int *)b].id);
}

static int *sorted_runs(const cli_suite *s)
{
    int *idx = xcalloc((size_t)(s->n_runs ? s->n_runs : 1), sizeof *idx);
    for (int r = 0; r < s->n_runs; r++) idx[r] = r;
    g_sort_suite = s;
    qsort(idx, (size_t)s->n_runs, sizeof *idx, cmp_run_index);
    return idx;
}

static int find_run(const cli_suite *s, const int *idx, const char *id)
{
    int lo = 0, hi = s->n_runs - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(s->runs[idx[mid]].id, id);
        if (!c) return idx[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

/* Call fn(task, run id) for every line of a tasks.tsv; returns 0, or -1 if
 * the file cannot be read. */
static int tasks_read(const char *path, void (*fn)(long task, const char *id, void *user),
                      void *user)
{
    char *text = sx_read_text(path, (size_t)256 << 20);
    if (!text) return -1;
    char *save = NULL;
    for (char *ln = strtok_r(text, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
        if (ln[0] == '#') continue;
        char *tab = strchr(ln, '\t');
        if (!tab) continue;
        *tab = '\0';
        char *id = tab + 1, *tab2 = strchr(id, '\t');
        if (tab2) *tab2 = '\0';
        long t;
        if (sx_parse_long_text(ln, 0, LONG_MAX, &t)) fn(t, id, user);
    }
    free(text);
    return 0;
}

/* ---------------------------------------------------------------- the view (status) */

typedef struct {
    const cli_suite *s;
    const int *idx;
    cli_suite_slurm_view *v;
    const queue_line *lines;
    int n_lines;
    const char *job;
} view_fill;

static void view_task(long task, const char *id, void *user)
{
    view_fill *f = user;
    int r = find_run(f->s, f->idx, id);
    if (r < 0) return;
    char tid[32];
    snprintf(tid, sizeof tid, "%ld", task);
    for (int i = 0; i < f->n_lines; i++) {
        const queue_line *q = &f->lines[i];
        if (strcmp(q->array_job, f->job) != 0 || strcmp(q->task, tid) != 0 ||
            !cli_suite_slurm_state_alive(q->state))
            continue;
        cli_suite_slurm_view *v = f->v;
        /* the latest submission wins for a run listed in several */
        int k = v->n_tasks++;
        v->ids = xrealloc(v->ids, sizeof *v->ids * (size_t)v->n_tasks);
        v->states = xrealloc(v->states, sizeof *v->states * (size_t)v->n_tasks);
        v->reasons = xrealloc(v->reasons, sizeof *v->reasons * (size_t)v->n_tasks);
        v->restarts = xrealloc(v->restarts, sizeof *v->restarts * (size_t)v->n_tasks);
        snprintf(v->ids[k], sizeof v->ids[k], "%s_%s", f->job, tid);
        snprintf(v->states[k], sizeof v->states[k], "%s", q->state);
        snprintf(v->reasons[k], sizeof v->reasons[k], "%s", q->reason);
        v->restarts[k] = q->restarts;
        v->task[r] = k;
        return;
    }
}

void cli_suite_slurm_view_load(const cli_suite *s, cli_suite_slurm_view *v)
{
    memset(v, 0, sizeof *v);
    v->task = xcalloc((size_t)(s->n_runs ? s->n_runs : 1), sizeof *v->task);
    for (int r = 0; r < s->n_runs; r++) v->task[r] = -1;
    char(*ids)[32];
    int n = job_dirs(s, &ids);
    if (n == 0) {
        free(ids);
        return;
    }
    queue_line *lines;
    char why[512] = "";
    int nl = queue_lines(ids, n, &lines, why, sizeof why);
    if (nl < 0) {
        snprintf(v->note, sizeof v->note, /* bounded: fits the 512-byte note */
                 "%d Slurm job%s recorded in %.180s/slurm; their queue state is unknown: %.250s", n,
                 n == 1 ? "" : "s", s->out, why);
        free(ids);
        return;
    }
    int *idx = sorted_runs(s);
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        int pending = 0, running = 0, other = 0;
        for (int k = 0; k < nl; k++) {
            if (strcmp(lines[k].array_job, ids[i]) != 0 ||
                !cli_suite_slurm_state_alive(lines[k].state))
                continue;
            if (!strcmp(lines[k].state, "PENDING"))
                pending++;
            else if (!strcmp(lines[k].state, "RUNNING"))
                running++;
            else
                other++;
        }
        if (!pending && !running && !other) continue; /* ended: its runs speak for it */
        char path[4400];
        snprintf(path, sizeof path, "%s/slurm/%s/tasks.tsv", s->out, ids[i]);
        view_fill f = {s, idx, v, lines, nl, ids[i]};
        tasks_read(path, view_task, &f);
        int w = snprintf(v->note + used, sizeof v->note - used,
                         "%sjob %s: %d task%s pending, %d running%s",
                         used ? "; " : "Slurm: ", ids[i], pending, pending == 1 ? "" : "s", running,
                         other ? " (and others completing)" : "");
        if (w > 0 && (size_t)w < sizeof v->note - used) used += (size_t)w;
    }
    free(idx);
    free(lines);
    free(ids);
}

void cli_suite_slurm_view_free(cli_suite_slurm_view *v)
{
    free(v->task);
    free(v->ids);
    free(v->states);
    free(v->reasons);
    free(v->restarts);
    memset(v, 0, sizeof *v);
}

/* "cd CWD || exit 1", then "exec EXE suite VERB FILE --out OUT [--quick]"
 * (no newline): the command line of every script submit writes. */
static void write_exec(FILE *f, const cli_suite *s, const char *exe, const char *cwd,
                       const char *verb)
{
    fputs("cd ", f);
    sx_shell_quote(f, cwd);
    fputs(" || exit 1\nexec ", f);
    sx_shell_quote(f, exe);
    fprintf(f, " suite %s ", verb);
    sx_shell_quote(f, s->path);
    fputs(" --out ", f);
    sx_shell_quote(f, s->out);
    if (s->quick) fputs(" --quick", f);
}

/* ---------------------------------------------------------------- submit */

static void write_script(FILE *f, const cli_suite *s, const cli_suite_submit_opts *o,
                         const char *exe, const char *cwd, const char *logdir, int n_runs,
                         int n_tasks)
{
    char when[64];
    sx_iso_time(when, sizeof when);
    fprintf(f,
            "#!/bin/sh\n"
            "# mixgeo suite submit: suite %s, %d run%s in %d array task%s (tasks.tsv beside this "
            "file:\n"
            "# task -> run ids), output %s.\n"
            "# Written by mixgeo %s (git %s) at %s.\n"
            "# sbatch keeps its own copy: editing this file changes nothing of the job.\n",
            s->name, n_runs, n_runs == 1 ? "" : "s", n_tasks, n_tasks == 1 ? "" : "s", s->out,
            MG_VERSION_STRING, cli_git_revision(), when);
    fprintf(f, "#SBATCH --job-name=mixgeo-%s\n", s->name);
    fprintf(f, "#SBATCH --array=0-%d%%%d\n", n_tasks - 1, o->max_parallel);
    if (*o->partition) fprintf(f, "#SBATCH --partition=%s\n", o->partition);
    fprintf(f, "#SBATCH --time=%s\n", o->time);
    fprintf(f, "#SBATCH --cpus-per-task=%d\n", o->cpus);
    if (*o->mem) fprintf(f, "#SBATCH --mem=%s\n", o->mem);
    fprintf(f, "#SBATCH --output=%s/%%A/%%A_%%a.log\n", logdir);
    fprintf(f, "#SBATCH --open-mode=append\n");
    fprintf(f, "#SBATCH --signal=B:USR1@%d\n", o->signal_seconds);
    fprintf(f, "#SBATCH --requeue\n");
    for (int i = 0; i < o->n_sbatch_args; i++) fprintf(f, "#SBATCH %s\n", o->sbatch_args[i]);
    fprintf(f,
            "#\n"
            "# Each task runs the runs of its lines of tasks.tsv with `mixgeo suite run` (train\n"
            "# and analyses, locks, DONE markers: a run already done is skipped; each run logs\n"
            "# to its own log.txt).  On USR1 (%d s before the time limit) or SIGTERM the\n"
            "# training steps finish their step and save their checkpoints, and the task\n"
            "# requeues itself (scontrol requeue) if runs are left, at most %d time%s\n"
            "# (SLURM_RESTART_COUNT); the requeued task resumes them.\n",
            o->signal_seconds, o->max_requeue, o->max_requeue == 1 ? "" : "s");
    write_exec(f, s, exe, cwd, "run");
    fputs(" \\\n    --slurm-tasks ", f);
    sx_shell_quote(f, logdir);
    fprintf(f,
            "\"/$SLURM_ARRAY_JOB_ID/tasks.tsv\" --max-requeue %d \\\n"
            "    -j 1 --cores \"${SLURM_CPUS_PER_TASK:-1}\"\n",
            o->max_requeue);
}

/* The finish job: the compare steps the array tasks left (a task does not
 * wait for a reference that another task trains), once the array has ended. */
static void write_finish_script(FILE *f, const cli_suite *s, const char *exe, const char *cwd,
                                const char *jobid)
{
    fprintf(f,
            "#!/bin/sh\n"
            "# mixgeo suite submit: the [compare] steps of suite %s that the tasks of job %s\n"
            "# left (their references were trained by other tasks), once that job has ended\n"
            "# (--dependency=afterany:%s).  Runs that are not trained are left alone.\n",
            s->name, jobid, jobid);
    write_exec(f, s, exe, cwd, "run");
    fputs(" --compare-only --skip-failed -j 1 --cores \"${SLURM_CPUS_PER_TASK:-1}\"\n", f);
}

static void write_report_script(FILE *f, const cli_suite *s, const char *exe, const char *cwd,
                                const char *jobid)
{
    fprintf(f,
            "#!/bin/sh\n"
            "# mixgeo suite submit --report: the report of suite %s once job %s has ended\n"
            "# (--dependency=afterany:%s).\n",
            s->name, jobid, jobid);
    write_exec(f, s, exe, cwd, "report");
    fputc('\n', f);
}

static mg_status write_file(const char *path, char *text)
{
    mg_status st = sx_write_text_atomic(path, text ? text : "");
    free(text);
    return st;
}

/* Remove DIR and the files in it (not recursive: the staging directory). */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            char p[4600];
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            remove(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static int is_hold(const char *a)
{
    return !strcmp(a, "--hold") || !strcmp(a, "-H");
}

static int has_hold(const cli_suite_submit_opts *o)
{
    for (int i = 0; i < o->n_sbatch_args; i++)
        if (is_hold(o->sbatch_args[i])) return 1;
    return 0;
}

/* Submit DIR/KIND.sbatch (text: the script) as a job that starts after job
 * dep has ended (afterany), logging to DIR/KIND.log; its id into jobid and
 * DIR/KIND.jobid.  with_args: also the array's --cpus-per-task, --mem and
 * --sbatch-arg options (not --hold): a job that computes.  Returns 0 or the
 * exit status (printed). */
static int submit_after(const char *dir, const char *kind, char *text, const char *dep_job,
                        const cli_suite *s, const cli_suite_submit_opts *o, int with_args,
                        char *jobid, size_t jlen)
{
    char path[4800], dep[128], log[4800], jn[300], pt[300], tm[300], cpus[64], mem[300];
    jobid[0] = '\0';
    snprintf(path, sizeof path, "%s/%s.sbatch", dir, kind);
    snprintf(dep, sizeof dep, "--dependency=afterany:%s", dep_job);
    snprintf(log, sizeof log, "--output=%s/%s.log", dir, kind);
    snprintf(jn, sizeof jn, "--job-name=mixgeo-%s-%s", s->name, kind);
    snprintf(pt, sizeof pt, "--partition=%s", o->partition);
    snprintf(tm, sizeof tm, "--time=%s", o->time);
    snprintf(cpus, sizeof cpus, "--cpus-per-task=%d", o->cpus);
    snprintf(mem, sizeof mem, "--mem=%s", o->mem);
    mg_status st = write_file(path, text);
    if (st != MG_OK) {
        cli_error("suite submit: %s", mg_errmsg());
        return CLI_EXIT_RUNTIME;
    }
    char **argv = xcalloc((size_t)(14 + o->n_sbatch_args), sizeof *argv);
    int k = 0;
    argv[k++] = "sbatch";
    argv[k++] = "--parsable";
    argv[k++] = dep;
    argv[k++] = jn;
    argv[k++] = log;
    argv[k++] = tm;
    if (*o->partition) argv[k++] = pt;
    if (with_args) {
        argv[k++] = cpus;
        if (*o->mem) argv[k++] = mem;
        for (int i = 0; i < o->n_sbatch_args; i++)
            if (!is_hold(o->sbatch_args[i])) argv[k++] = (char *)o->sbatch_args[i];
    }
    argv[k++] = path;
    argv[k] = NULL;
    char *out, *err;
    int r = sx_run_capture(argv, &out, &err), rc = 0;
    if (r == 0) {
        char *t = trim(out), *semi = strchr(t, ';');
        if (semi) *semi = '\0';
        snprintf(jobid, jlen, "%s", t);
        char jp[4800], line[80];
        snprintf(jp, sizeof jp, "%s/%s.jobid", dir, kind);
        snprintf(line, sizeof line, "%s\n", jobid);
        write_file(jp, xstrdup(line));
    } else {
        sx_command_failed(argv, r, err);
        rc = CLI_EXIT_RUNTIME;
    }
    free(out);
    free(err);
    free(argv);
    return rc;
}

/* 1 if s has compare steps. */
static int has_compares(const cli_suite *s)
{
    return s->n_compares > 0;
}

/* The jobs reordered so that the references of the others' comparisons
 * come first (stable; nothing moves in a suite without [compare]): their
 * tasks start first, so that fewer compare steps are left to the finish
 * job. */
static void references_first(const cli_suite *s, cli_suite_job *jobs, int n)
{
    if (!has_compares(s) || n < 2) return;
    unsigned char *in = xcalloc((size_t)s->n_runs, 1), *ref = xcalloc((size_t)s->n_runs, 1);
    for (int j = 0; j < n; j++) in[jobs[j].run] = 1;
    for (int j = 0; j < n; j++)
        for (int k = 0; k < s->n_steps; k++) {
            int r = cli_suite_step_ref(s, jobs[j].run, &s->steps[k]);
            if (r >= 0 && r != jobs[j].run && in[r]) ref[r] = 1;
        }
    cli_suite_job *sorted = xcalloc((size_t)n, sizeof *sorted);
    int m = 0;
    for (int want = 1; want >= 0; want--)
        for (int j = 0; j < n; j++)
            if (ref[jobs[j].run] == want) sorted[m++] = jobs[j];
    memcpy(jobs, sorted, sizeof *jobs * (size_t)n);
    free(sorted);
    free(in);
    free(ref);
}

int cli_suite_submit(cli_suite *s, const cli_suite_job *jobs, int n_jobs,
                     const cli_suite_submit_opts *o)
{
    double t0 = cli_now();
    if (!o->dry && !sx_on_path("sbatch")) {
        cli_error("suite submit: sbatch is not on the PATH (Slurm's commands are needed to "
                  "submit; --dry-run writes the script without submitting)");
        return CLI_EXIT_USAGE;
    }
    char exe[4096], cwd[4096], out_abs[4096];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (el <= 0 || !getcwd(cwd, sizeof cwd)) {
        cli_error("suite submit: cannot find this program or the current directory");
        return CLI_EXIT_RUNTIME;
    }
    exe[el] = '\0';
    mg_status st = mg_mkdir_p(s->out);
    char slurm_dir[4200];
    snprintf(slurm_dir, sizeof slurm_dir, "%s/slurm", s->out);
    if (st == MG_OK) st = mg_mkdir_p(slurm_dir);
    if (st != MG_OK || !realpath(s->out, out_abs)) {
        cli_error("suite submit: cannot create %s: %s", slurm_dir,
                  st != MG_OK ? mg_errmsg() : strerror(errno));
        return CLI_EXIT_RUNTIME;
    }

    /* The runs to submit: not done (--failed: failed or missing), not held
     * by a runner, not in a task that is still queued or running. */
    cli_suite_slurm_view view;
    cli_suite_slurm_view_load(s, &view);
    cli_suite_job *todo = xcalloc((size_t)(n_jobs ? n_jobs : 1), sizeof *todo);
    int n = 0, count[CLI_RUN_N_STATES] = {0}, queued = 0;
    for (int j = 0; j < n_jobs; j++) {
        const cli_suite_run *r = &s->runs[jobs[j].run];
        char detail[1024];
        cli_run_state rs = cli_suite_run_state(s, r, detail, sizeof detail);
        count[rs]++;
        if (rs == CLI_RUN_DONE || rs == CLI_RUN_RUNNING) continue;
        if (o->failed && rs != CLI_RUN_FAILED && rs != CLI_RUN_MISSING) continue;
        if (view.task[jobs[j].run] >= 0) {
            queued++;
            continue;
        }
        todo[n++] = jobs[j];
    }
    char vnote[512];
    snprintf(vnote, sizeof vnote, "%s", view.note);
    cli_suite_slurm_view_free(&view);
    cli_info("suite %s%s: %d run%s -> %s: %d done, %d running, %d in queued tasks, %d to submit%s",
             s->name, s->quick ? " (quick)" : "", n_jobs, n_jobs == 1 ? "" : "s", s->out,
             count[CLI_RUN_DONE], count[CLI_RUN_RUNNING], queued, n,
             o->failed ? " (--failed: failed or missing runs only)" : "");
    if (*vnote) cli_info("%s", vnote);
    if (n == 0) {
        cli_info("nothing to submit");
        free(todo);
        return CLI_EXIT_OK;
    }

    /* Tasks. */
    references_first(s, todo, n);
    double *est = xcalloc((size_t)n, sizeof *est);
    int *task = xcalloc((size_t)n, sizeof *task);
    char how[512];
    estimate(s, todo, n, est, how, sizeof how);
    double usable = (double)(slurm_time_seconds(o->time) - o->signal_seconds);
    int n_tasks = pack(est, n, o->runs_per_task, usable, task);

    /* The staging directory, named after the job id once there is one. */
    char stage[4700], logdir[4600];
    snprintf(logdir, sizeof logdir, "%s/slurm", out_abs);
    if (o->dry)
        snprintf(stage, sizeof stage, "%s/dry-run", logdir);
    else
        snprintf(stage, sizeof stage, "%s/submit-%ld", logdir, (long)getpid());
    remove_dir(stage);
    st = mg_mkdir_p(stage);
    char script[4800], tasks[4800];
    snprintf(script, sizeof script, "%s/submit.sbatch", stage);
    snprintf(tasks, sizeof tasks, "%s/tasks.tsv", stage);
    sx_membuf m;
    if (st == MG_OK) {
        sx_mb_open(&m);
        write_script(m.f, s, o, exe, cwd, logdir, n, n_tasks);
        st = write_file(script, sx_mb_close(&m));
    }
    if (st == MG_OK) {
        sx_mb_open(&m);
        fprintf(m.f,
                "# mixgeo suite submit: suite %s (%s); the runs of each array task, in order\n"
                "# estimated seconds: %s\n"
                "# columns: task run est_seconds\n",
                s->name, s->out, how);
        for (int j = 0; j < n; j++)
            fprintf(m.f, "%d\t%s\t%.3g\n", task[j], s->runs[todo[j].run].id, est[j]);
        st = write_file(tasks, sx_mb_close(&m));
    }
    free(est);
    if (st != MG_OK) {
        cli_error("suite submit: %s", mg_errmsg());
        free(task);
        free(todo);
        return CLI_EXIT_RUNTIME;
    }
    /* Held until OUT/slurm/JOBID exists (the tasks' log files go there);
     * with --hold in --sbatch-arg the user releases it. */
    int held = has_hold(o);
    char *argv[5];
    int na = 0;
    argv[na++] = "sbatch";
    argv[na++] = "--parsable";
    if (!held) argv[na++] = "--hold";
    argv[na++] = script;
    argv[na] = NULL;
    char cmd[8192];
    sx_command_text(argv, cmd, sizeof cmd);
    if (o->dry) {
        printf("dry run: %d run%s in %d array task%s (array 0-%d%%%d); nothing submitted\n"
               "  script  %s\n  tasks   %s\n  submit  %s\n",
               n, n == 1 ? "" : "s", n_tasks, n_tasks == 1 ? "" : "s", n_tasks - 1, o->max_parallel,
               script, tasks, cmd);
        if (has_compares(s))
            printf("  finish  a job with --dependency=afterany:JOBID running mixgeo suite run "
                   "--compare-only\n          (the [compare] steps whose reference another task "
                   "trained)\n");
        if (o->report)
            printf("  report  a job with --dependency=afterany:%s running mixgeo suite report\n",
                   has_compares(s) ? "FINISH" : "JOBID");
        fflush(stdout);
        free(task);
        free(todo);
        return CLI_EXIT_OK;
    }
    char *sout, *serr;
    int rc = sx_run_capture(argv, &sout, &serr);
    char jobid[64] = "";
    if (rc == 0) {
        char *t = trim(sout), *semi = strchr(t, ';');
        if (semi) *semi = '\0';
        long long id;
        char *end;
        id = strtoll(t, &end, 10);
        if (end != t && !*end && id > 0) snprintf(jobid, sizeof jobid, "%lld", id);
    }
    if (rc != 0 || !*jobid) {
        if (rc == 0)
            cli_error("sbatch printed no job id: %s\n%s%s", cmd, trim(sout), trim(serr));
        else
            sx_command_failed(argv, rc, serr);
        free(sout);
        free(serr);
        remove_dir(stage);
        free(task);
        free(todo);
        return CLI_EXIT_RUNTIME;
    }
    free(sout);
    free(serr);
    char final[4700];
    snprintf(final, sizeof final, "%s/%s", logdir, jobid);
    int ok = rename(stage, final) == 0;
    if (!ok)
        cli_error("suite submit: cannot rename %s to %s: %s (job %s stays held: scancel %s)", stage,
                  final, strerror(errno), jobid, jobid);
    rc = ok ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
    if (ok && !held) {
        char *rel[] = {"scontrol", "release", jobid, NULL};
        char *ro, *re;
        int r2 = sx_run_capture(rel, &ro, &re);
        if (r2 != 0) {
            sx_command_failed(rel, r2, re);
            cli_error("job %s stays held; release it with: scontrol release %s", jobid, jobid);
            rc = CLI_EXIT_RUNTIME;
        }
        free(ro);
        free(re);
    }
    double t_submit = cli_now() - t0;
    char report_job[64] = "", finish_job[64] = "";
    if (ok && has_compares(s)) {
        sx_mb_open(&m);
        write_finish_script(m.f, s, exe, cwd, jobid);
        int r3 = submit_after(final, "finish", sx_mb_close(&m), jobid, s, o, 1, finish_job,
                              sizeof finish_job);
        if (r3) rc = r3;
    }
    if (ok && o->report) {
        sx_mb_open(&m);
        write_report_script(m.f, s, exe, cwd, *finish_job ? finish_job : jobid);
        int r3 = submit_after(final, "report", sx_mb_close(&m), *finish_job ? finish_job : jobid, s,
                              o, 0, report_job, sizeof report_job);
        if (r3) rc = r3;
    }
    if (ok) {
        printf("submitted job %s: %d run%s in %d array task%s (--array=0-%d%%%d)%s in %.2f s\n"
               "  script     %s/submit.sbatch (tasks.tsv beside it)\n"
               "  task logs  %s/%s_N.log\n",
               jobid, n, n == 1 ? "" : "s", n_tasks, n_tasks == 1 ? "" : "s", n_tasks - 1,
               o->max_parallel, held ? ", held (--hold: scontrol release to start)" : "", t_submit,
               final, final, jobid);
        if (*finish_job)
            printf("  finish     job %s after job %s ends (afterany): the [compare] steps left\n",
                   finish_job, jobid);
        if (*report_job)
            printf("  report     job %s after job %s ends (afterany): %s/REPORT.md\n", report_job,
                   *finish_job ? finish_job : jobid, s->out);
        printf("  follow with: mixgeo suite status %s%s --out %s\n", s->path,
               s->quick ? " --quick" : "", s->out);
        fflush(stdout);
    }
    free(task);
    free(todo);
    return rc;
}

/* ---------------------------------------------------------------- cancel */

int cli_suite_cancel(const cli_suite *s)
{
    char(*ids)[32];
    int n = job_dirs(s, &ids);
    if (n == 0) {
        free(ids);
        cli_info("suite %s: no Slurm job recorded in %s/slurm", s->name, s->out);
        return CLI_EXIT_OK;
    }
    queue_line *lines;
    char why[512] = "";
    int nl = queue_lines(ids, n, &lines, why, sizeof why);
    if (nl < 0) {
        cli_error("suite cancel: %s", why);
        free(ids);
        return CLI_EXIT_RUNTIME;
    }
    /* the jobs still queued or running, and their report jobs */
    char **argv = xcalloc((size_t)(3 * n + 3), sizeof *argv);
    char(*names)[32] = xcalloc((size_t)(3 * n + 1), sizeof *names);
    int k = 0, na = 0;
    argv[k++] = "scancel";
    for (int i = 0; i < n; i++) {
        int live = 0, tasks = 0;
        for (int q = 0; q < nl; q++)
            if (!strcmp(lines[q].array_job, ids[i]) &&
                cli_suite_slurm_state_alive(lines[q].state)) {
                live = 1;
                tasks++;
            }
        char path[4400];
        snprintf(path, sizeof path, "%s/slurm/%s/report.jobid", s->out, ids[i]);
        char *rj = sx_read_text(path, 64);
        char state[32], reason[64];
        int report_live =
            rj && *trim(rj) &&
            cli_suite_slurm_job_state(trim(rj), state, sizeof state, reason, sizeof reason) == 1;
        snprintf(path, sizeof path, "%s/slurm/%s/finish.jobid", s->out, ids[i]);
        char *fj = sx_read_text(path, 64);
        int finish_live =
            fj && *trim(fj) &&
            cli_suite_slurm_job_state(trim(fj), state, sizeof state, reason, sizeof reason) == 1;
        if (live) {
            /* the marker tells the tasks that SIGTERM now means: do not requeue */
            snprintf(path, sizeof path, "%s/slurm/%s/CANCELLED", s->out, ids[i]);
            char when[64], text[128];
            sx_iso_time(when, sizeof when);
            snprintf(text, sizeof text, "cancelled by mixgeo suite cancel at %s\n", when);
            write_file(path, xstrdup(text));
            snprintf(names[na], 32, "%s", ids[i]);
            argv[k++] = names[na++];
            cli_info("cancel job %s (%d task%s pending or running)", ids[i], tasks,
                     tasks == 1 ? "" : "s");
        }
        if (finish_live) {
            snprintf(names[na], 32, "%s", trim(fj));
            argv[k++] = names[na++];
            cli_info("cancel job %s (the compare steps after job %s)", trim(fj), ids[i]);
        }
        if (report_live) {
            snprintf(names[na], 32, "%s", trim(rj));
            argv[k++] = names[na++];
            cli_info("cancel job %s (the report after job %s)", trim(rj), ids[i]);
        }
        free(fj);
        free(rj);
    }
    argv[k] = NULL;
    int rc = CLI_EXIT_OK;
    if (k == 1) {
        cli_info("suite %s: no job of %s/slurm is pending or running", s->name, s->out);
    } else {
        char *out, *err;
        int r = sx_run_capture(argv, &out, &err);
        if (r != 0) {
            sx_command_failed(argv, r, err);
            rc = CLI_EXIT_RUNTIME;
        } else {
            cli_info("running trainings save their checkpoints; suite submit (or suite run) "
                     "continues them");
        }
        free(out);
        free(err);
    }
    free(argv);
    free(names);
    free(lines);
    free(ids);
    return rc;
}

/* ---------------------------------------------------------------- array tasks */

typedef struct {
    cli_suite *s;
    const int *idx;
    long want;
    cli_suite_job *jobs;
    int n, cap, missing;
} task_fill;

static void task_line(long task, const char *id, void *user)
{
    task_fill *f = user;
    if (task != f->want) return;
    int r = find_run(f->s, f->idx, id);
    if (r < 0) {
        cli_error("task %ld: run %s is not in the suite any more (the suite file changed since "
                  "the submission); skipped",
                  task, id);
        f->missing++;
        return;
    }
    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 16;
        f->jobs = xrealloc(f->jobs, sizeof *f->jobs * (size_t)f->cap);
    }
    f->jobs[f->n++] = (cli_suite_job){f->s, r};
}

int cli_suite_slurm_task_jobs(cli_suite *s, const char *tasks, cli_suite_job **jobs, int *n)
{
    *jobs = NULL;
    *n = 0;
    const char *t = getenv("SLURM_ARRAY_TASK_ID");
    long want;
    if (!t || !sx_parse_long_text(t, 0, LONG_MAX, &want)) {
        cli_error("--slurm-tasks: SLURM_ARRAY_TASK_ID is not set (this option is for the array "
                  "tasks of suite submit)");
        return CLI_EXIT_USAGE;
    }
    int *idx = sorted_runs(s);
    task_fill f = {s, idx, want, NULL, 0, 0, 0};
    int r = tasks_read(tasks, task_line, &f);
    free(idx);
    if (r < 0) {
        cli_error("--slurm-tasks: cannot read %s", tasks);
        free(f.jobs);
        return CLI_EXIT_USAGE;
    }
    const char *restart = getenv("SLURM_RESTART_COUNT");
    cli_info("array task %s_%ld on %s: %d run%s%s%s",
             getenv("SLURM_ARRAY_JOB_ID") ? getenv("SLURM_ARRAY_JOB_ID") : "?", want,
             getenv("SLURMD_NODENAME") ? getenv("SLURMD_NODENAME") : "?", f.n, f.n == 1 ? "" : "s",
             restart && *restart ? ", restart " : "", restart && *restart ? restart : "");
    *jobs = f.jobs;
    *n = f.n;
    return 0;
}

void cli_suite_slurm_task_stopped(const cli_suite *s, int sig, int left, int max_requeue)
{
    const char *aj = getenv("SLURM_ARRAY_JOB_ID"), *at = getenv("SLURM_ARRAY_TASK_ID");
    const char *jid = getenv("SLURM_JOB_ID"), *rc = getenv("SLURM_RESTART_COUNT");
    long restarts = rc && *rc ? strtol(rc, NULL, 10) : 0;
    const char *name = sig == SIGUSR1 ? "USR1 (the warning before the time limit)" : "SIGTERM";
    if (!aj || !at || !jid) {
        cli_error("stopped by %s outside a Slurm array task: not requeued", name);
        return;
    }
    char task[80];
    snprintf(task, sizeof task, "%s_%s", aj, at);
    if (left == 0) {
        cli_info("task %s: stopped by %s with no run left to do: not requeued", task, name);
        return;
    }
    char path[4400];
    snprintf(path, sizeof path, "%s/slurm/%s/CANCELLED", s->out, aj);
    if (cli_file_exists(path)) {
        cli_info("task %s: cancelled (suite cancel): not requeued; %d run%s left", task, left,
                 left == 1 ? "" : "s");
        return;
    }
    if (sig == SIGTERM) {
        /* Slurm's SIGTERM at the time limit (reason TimeLimit) or on
         * preemption asks for a requeue; a cancelled job (scancel: state
         * COMPLETING or CANCELLED with no reason) does not. */
        char state[32], reason[64];
        int q = cli_suite_slurm_job_state(jid, state, sizeof state, reason, sizeof reason);
        if (q == 1 && (!strcmp(state, "COMPLETING") || !strcmp(state, "CANCELLED")) &&
            (!*reason || !strcmp(reason, "None"))) {
            cli_info("task %s: cancelled (SIGTERM, job %s): not requeued; %d run%s left", task,
                     state, left, left == 1 ? "" : "s");
            return;
        }
    }
    if (restarts >= max_requeue) {
        cli_error("task %s: stopped by %s with %d run%s left, not requeued: it was requeued %ld "
                  "time%s already (--max-requeue %d); submit the suite again to continue",
                  task, name, left, left == 1 ? "" : "s", restarts, restarts == 1 ? "" : "s",
                  max_requeue);
        return;
    }
    char *argv[] = {"scontrol", "requeue", task, NULL};
    char *out, *err;
    cli_info("task %s: stopped by %s with %d run%s left; checkpoints saved; requeue %ld of %d: "
             "scontrol requeue %s",
             task, name, left, left == 1 ? "" : "s", restarts + 1, max_requeue, task);
    fflush(stdout);
    fflush(stderr);
    int r = sx_run_capture(argv, &out, &err);
    if (r != 0) sx_command_failed(argv, r, err);
    free(out);
    free(err);
}
