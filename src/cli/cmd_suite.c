/* cmd_suite.c - `mixgeo suite run|status|report|list|submit|cancel FILE...`:
 * experiment suites (see suite.h for the file format, the run directories
 * and the backends).  This file is the command only: its options, the
 * selection of runs (--only, --shard, an array task's --slurm-tasks) and the
 * dispatch to the local backend (suite_local.c), the Slurm backend
 * (suite_slurm.c), status, list and the report (suite_report.c).
 */
#include "suite.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FILES 64
#define MAX_SBATCH_ARGS 32

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
    {"shard", 0, CLI_VALUE, "I/N", "", 0,
     "run, status, list, submit: only shard I of N, a fixed slice of the grid (run r, in grid "
     "order, is in shard r mod N + 1): N commands with I = 1..N run every run exactly once",
     NULL},
    {"dry-run", 'n', CLI_FLAG, NULL, "false", CLI_NO_NEG,
     "suite run: print what would run and exit; suite submit: write the script and tasks.tsv "
     "(OUT/slurm/dry-run/) and print the sbatch command, submit nothing",
     NULL},
    {"skip-failed", 0, CLI_FLAG, NULL, "false", CLI_NO_NEG,
     "suite run: leave the runs whose last attempt failed alone instead of trying them again",
     NULL},
    {"compare-only", 0, CLI_FLAG, NULL, "false", CLI_NO_NEG,
     "suite run: only the [compare] steps of runs that are trained and analysed (what the "
     "finish job of suite submit runs); other runs are left alone",
     NULL},
    {"render", 0, CLI_FLAG, NULL, "true", 0,
     "suite report: render the figures to PNG and PDF with gnuplot when it is on the PATH", NULL},
    {"combined", 0, CLI_VALUE, "FILE", "", 0,
     "suite report: also write FILE, one report of the claims of every suite given (verdicts "
     "first, links into each suite's REPORT.md and figures; make paper: "
     "results/paper/REPORT.md)",
     NULL},
    {"ids", 0, CLI_FLAG, NULL, "false", CLI_NO_NEG, "suite list: print the ids only", NULL},
    {"partition", 0, CLI_VALUE, "P", "", 0,
     "the Slurm partition of the array tasks (default: the cluster's)", "Slurm (suite submit)"},
    {"time", 0, CLI_VALUE, "T", "", 0,
     "time limit of one array task, in Slurm's format (MINUTES, H:MM:SS, D-HH[:MM]); required",
     NULL},
    {"cpus-per-task", 0, CLI_VALUE, "N", "1", 0,
     "CPUs of a task; its runs go one after the other with N threads each", NULL},
    {"mem", 0, CLI_VALUE, "M", "", 0, "memory of a task (4G, 500M; default: the cluster's)", NULL},
    {"max-parallel", 0, CLI_VALUE, "K", "16", 0, "tasks running at a time (--array=...%K)", NULL},
    {"runs-per-task", 0, CLI_VALUE, "auto|N", "auto", 0,
     "runs packed into one task; auto: tasks of at least ~10 minutes by the estimate above "
     "(never more than fits before the warning signal)",
     NULL},
    {"sbatch-arg", 0, CLI_VALUE, "ARG", "", 0,
     "an extra sbatch option for the array, e.g. --sbatch-arg=--account=ml (may be given "
     "several times; --hold submits the array held)",
     NULL},
    {"report", 0, CLI_FLAG, NULL, "false", CLI_NO_NEG,
     "also submit a job that writes the report when the array has ended "
     "(--dependency=afterany:JOBID)",
     NULL},
    {"signal-seconds", 0, CLI_VALUE, "S", "300", 0,
     "Slurm sends USR1 S seconds before the time limit (--signal=B:USR1@S): the runs save "
     "their checkpoints and the task requeues itself",
     NULL},
    {"max-requeue", 0, CLI_VALUE, "R", "3", 0,
     "times a task may requeue itself (counted by SLURM_RESTART_COUNT); then it stops and the "
     "suite can be submitted again",
     NULL},
    {"failed", 0, CLI_FLAG, NULL, "false", CLI_NO_NEG,
     "submit only the failed or missing runs (not partial or stale ones)", NULL},
    {"slurm-tasks", 0, CLI_VALUE, "FILE", "", 0,
     "suite run inside an array task (the script of suite submit sets it): the runs of line "
     "SLURM_ARRAY_TASK_ID of FILE (tasks.tsv); USR1 or SIGTERM save and requeue the task",
     NULL},
    {"quiet", 'q', CLI_FLAG, NULL, "false", CLI_NO_NEG, "print nothing but errors", "Other"},
    {"help", 'h', CLI_FLAG, NULL, "false", CLI_NO_NEG, "show this help and exit", NULL},
};
#define N_SUITE_OPTS ((int)(sizeof k_suite_opts / sizeof k_suite_opts[0]))

static const char k_usage[] =
    "usage: mixgeo suite run FILE... [-j N] [--quick] [--out DIR | --root DIR] [--only IDS]\n"
    "                                [--shard I/N]\n"
    "       mixgeo suite status FILE...   (done / running / failed / partial / stale / missing;\n"
    "                                      queued / requeued with Slurm job ids; a training\n"
    "                                      run's epoch and time left)\n"
    "       mixgeo suite report FILE... [--combined REPORT.md]   (claims, tables, figures)\n"
    "       mixgeo suite list FILE...     (the runs of the grid: ID  AXIS=VALUE...)\n"
    "       mixgeo suite submit FILE --time T [--partition P] [--cpus-per-task N] [--mem M]\n"
    "                                [--max-parallel K] [--runs-per-task auto|N]\n"
    "                                [--sbatch-arg=ARG]... [--report] [--dry-run]\n"
    "                                [--signal-seconds S] [--max-requeue R] [--failed]\n"
    "       mixgeo suite cancel FILE      (scancel the suite's Slurm jobs)";

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
    "  [compare N] against = method=none   (the reference of each run: the run with these\n"
    "             values and the run's own on the other axes; `mixgeo compare RUN REF`,\n"
    "             CKA, into RUN/compare/N/ once the reference is trained)\n"
    "             layers = all | 1,2   (every layer pair, or layer K against layer K)\n"
    "             split = test  max-per-class = N|all|auto\n"
    "             self = skip | same | seed   (a run that is its own reference: no\n"
    "             comparison, itself, or the run at the next seed: the noise floor)\n"
    "  [table N]  metrics = test_acc, test_nll  values = final, best  labels = A | B ...\n"
    "             rows = method  cols = AXIS  where = AXIS=VALUE ...  digits = 4  title\n"
    "  [figure N] kind = curve | bar | sweep | montage | heatmap   y = test_acc  x = epoch\n"
    "             group = method  value = final|best  where = AXIS=VALUE ...  logx, logy,\n"
    "             title, xlabel, ylabel, xrange = [0:30], yrange, key = top left,\n"
    "             with = lines, xline = 3.5 label, yline, diagonal = true;\n"
    "             curve: file = RUN-RELATIVE.tsv, y = COLUMN or a glob of\n"
    "             columns averaged per row (class_*); montage: panels = A.gp | B.gp,\n"
    "             titles = A | B (per-run figure scripts, one row per group); heatmap:\n"
    "             file = compare/N/cka.tsv  x = layer_a  y = layer_b  z = cka, a panel\n"
    "             per group of the cell means over the seeds, zrange, digits\n"
    "  [claim N]  text = the statement  metric = METRIC  expect = manifold < input < none\n"
    "             by = method|AXIS|none  where  paper  predicted  show = METRIC, ...\n"
    "             labels  figure = F  table = T  noise = 2  tol = 0  rtol = 0  min-n = 2\n"
    "             contrast = manifold - none (with by = another axis: paired differences)\n"
    "\n"
    "where = AXIS=V1,V2 keeps the runs with any of the values.  A metric is a column of\n"
    "metrics.tsv (test_acc: its final and best-epoch values), final.COL, best.COL, a\n"
    "number of summary.json (train_seconds), FILE:JSON.PATH of any JSON file of a run\n"
    "(analysis/test-L1/summary.json:spectra.mean_centred.s1; paths take * and filters\n"
    "[FIELD=VALUE] (also != < > <= >=, and VALUE = @FIELD of the same element) and end\n"
    "in a reducer |min |max |mean |sum |count |first |last when\n"
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
    "contrast = A - B makes every value the difference of a run with A and the run with\n"
    "B of the same seed (same values on all other axes); mean, std and n are those of\n"
    "the differences: contrast = manifold - none  by = epochs  expect = 300 < 30 says\n"
    "the gap is smaller at 300 epochs than at 30.\n"
    "Each run gets the id SLUG-HASH (its axis values, and a hash of its resolved\n"
    "configuration) and the directory OUT/runs/ID.  `suite run` skips the runs that are\n"
    "done, resumes interrupted ones, retrains runs whose configuration changed, records\n"
    "failures (RUN/FAILED, RUN/log.txt) without stopping the others, and shares the work\n"
    "with other runners of the same suite (a run is locked while it runs).\n"
    "A compare step waits for its reference's training: `suite run` trains the\n"
    "references first and defers a run whose reference is not trained yet; a reference\n"
    "that no runner trains leaves the run partial until a later suite run.  Metrics\n"
    "read RUN/compare/N/summary.json: compare/N/summary.json:cka.pairs[layer_a=2][layer_b=2]\n"
    ".linear|first (or compare/N/cka.tsv:cka|mean).\n"
    "`suite report` writes OUT/REPORT.md (claims with verdicts, tables, figures),\n"
    "OUT/runs.tsv, OUT/claims.tsv, OUT/tables/NAME.{tsv,md,tex} and\n"
    "OUT/figures/NAME.{tsv,gp,png,pdf}: mean +- std (and n) over the seeds.\n"
    "\n"
    "On a Slurm cluster (the nodes share the file system of OUT and have this mixgeo\n"
    "and the data at the same paths): `suite submit` sends the runs that are not done\n"
    "(--failed: only the failed or missing ones; never runs queued or running) as ONE\n"
    "job array, `sbatch --array=0-(T-1)%K`, several runs a task (--runs-per-task auto:\n"
    "tasks of at least ~10 minutes by an estimate: epochs x training examples x the\n"
    "median seconds per example-epoch of the suite's finished runs, else 50 us (MLP)\n"
    "or 2 ms (preact:/cnn:); theory and states runs 30 s), and keeps the script and the\n"
    "task -> run map in OUT/slurm/JOBID/{submit.sbatch,tasks.tsv}, the task logs in\n"
    "OUT/slurm/JOBID/JOBID_TASK.log.  A task runs `suite run` on its runs: done runs are\n"
    "skipped, so submitting again, or a local `suite run` at the same time, is safe.\n"
    "Slurm sends USR1 --signal-seconds before the time limit: the training steps save\n"
    "their checkpoints and the task requeues itself (also on SIGTERM, not after a\n"
    "cancel), at most --max-requeue times; the requeued task resumes them, bit-identical\n"
    "to an uninterrupted run with the same threads.  --report adds a job that writes\n"
    "the report when the array has ended (afterany).  `suite status` adds queued,\n"
    "requeued and running runs with their job ids (squeue and OUT/slurm; no accounting\n"
    "database needed); `suite cancel` cancels the suite's jobs.  A lock left by a task\n"
    "on another host is judged by that job's state in squeue: the lock of a job that is\n"
    "no longer pending or running is taken over.  `suite run --shard I/N` runs a fixed\n"
    "slice of the grid (run r goes to shard r mod N + 1) for any other scheduler.";

static const char k_epilog[] =
    "Exit status: 0 ok (suite run: every selected run is done; submit: submitted), 1 a run\n"
    "failed or is not finished, or a Slurm command failed (its message and the exact command\n"
    "are printed), 2 usage error, a bad suite file (FILE:LINE: KEY, before any run starts)\n"
    "or a bad submit option (before anything is submitted; no sbatch on the PATH without\n"
    "--dry-run), 130 interrupted (the runs resume on the next suite run).";

/* The values of every --sbatch-arg (also --sbatch-arg X and unique
 * abbreviations): getopt keeps only the last of a repeated option. */
static int sbatch_args(int argc, char **argv, const char **out, int max)
{
    static const char name[] = "sbatch-arg";
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) break;
        if (strncmp(a, "--", 2) != 0) continue;
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (len < 2 || len > sizeof name - 1 || strncmp(a + 2, name, len) != 0) continue;
        const char *val = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
        if (val && n < max) out[n++] = val;
    }
    return n;
}

/* 1 if run r of s is selected by --only (marking the names used) and --shard. */
static int selected(const cli_suite *s, int r, char **only, int n_only, int *used, int shard_i,
                    int shard_n)
{
    if (shard_n && !cli_suite_shard_has(s, r, shard_i, shard_n)) return 0;
    if (n_only == 0) return 1;
    int hit = 0;
    for (int i = 0; i < n_only; i++)
        if (cli_suite_run_matches(&s->runs[r], only[i])) {
            used[i] = 1;
            hit = 1;
        }
    return hit;
}

static int cmd_status(cli_suite **suites, int n, const cli_suite_job *jobs, int n_jobs)
{
    for (int i = 0; i < n; i++) {
        cli_suite *s = suites[i];
        cli_suite_slurm_view view;
        cli_suite_slurm_view_load(s, &view);
        int count[CLI_RUN_N_STATES] = {0}, sel = 0, queued = 0, requeued = 0;
        for (int j = 0; j < n_jobs; j++) {
            if (jobs[j].s != s) continue;
            int r = jobs[j].run;
            sel++;
            char detail[1024];
            cli_run_state st = cli_suite_run_state(s, &s->runs[r], detail, sizeof detail);
            const char *name = cli_run_state_name(st);
            char more[1200] = "";
            int k = view.task[r];
            if (k >= 0 && st == CLI_RUN_RUNNING) {
                snprintf(more, sizeof more, "%s", detail);
            } else if (k >= 0 && st != CLI_RUN_DONE) {
                /* queued in a task that is pending, or running other runs first */
                int re = view.restarts[k] > 0 && !strcmp(view.states[k], "PENDING");
                name = re ? "requeued" : "queued";
                if (re)
                    requeued++;
                else
                    queued++;
                int w = snprintf(more, sizeof more, "job %s %s", view.ids[k], view.states[k]);
                if (w > 0 && strcmp(view.reasons[k], "None") && *view.reasons[k])
                    w += snprintf(more + w, sizeof more - (size_t)w, " (%s)", view.reasons[k]);
                if (w > 0 && re)
                    w += snprintf(more + w, sizeof more - (size_t)w, ", requeued %d time%s",
                                  view.restarts[k], view.restarts[k] == 1 ? "" : "s");
                if (w > 0 && *detail) snprintf(more + w, sizeof more - (size_t)w, "; %s", detail);
            } else {
                snprintf(more, sizeof more, "%s", detail);
            }
            if (!strcmp(name, "queued") || !strcmp(name, "requeued"))
                ; /* counted above */
            else
                count[st]++;
            if (!cli_quiet()) printf("%-8s %s%s%s\n", name, s->runs[r].id, *more ? "  " : "", more);
        }
        printf("suite %s%s (%s): %d run%s:", s->name, s->quick ? " (quick)" : "", s->out, sel,
               sel == 1 ? "" : "s");
        const cli_run_state order[] = {CLI_RUN_DONE,    CLI_RUN_RUNNING, CLI_RUN_FAILED,
                                       CLI_RUN_PARTIAL, CLI_RUN_STALE,   CLI_RUN_MISSING};
        int first = 1;
        for (int k = 0; k < 6; k++) {
            if (order[k] == CLI_RUN_FAILED && queued) printf(", %d queued", queued);
            if (order[k] == CLI_RUN_FAILED && requeued) printf(", %d requeued", requeued);
            if (count[order[k]] || order[k] == CLI_RUN_DONE) {
                printf("%s %d %s", first ? "" : ",", count[order[k]], cli_run_state_name(order[k]));
                first = 0;
            }
        }
        printf("\n");
        if (*view.note) printf("  %s\n", view.note);
        cli_suite_slurm_view_free(&view);
    }
    fflush(stdout);
    return CLI_EXIT_OK;
}

static int cmd_list(const cli_suite_job *jobs, int n_jobs, int ids)
{
    for (int j = 0; j < n_jobs; j++) {
        const cli_suite *s = jobs[j].s;
        const cli_suite_run *r = &s->runs[jobs[j].run];
        if (ids) {
            printf("%s\n", r->id);
            continue;
        }
        char d[2048];
        cli_suite_run_describe(s, r, d, sizeof d);
        printf("%s\t%s\n", r->id, d);
    }
    fflush(stdout);
    return CLI_EXIT_OK;
}

/* Runs of every suite that a task left to do (not done, not failed). */
static int runs_left(const cli_suite_job *jobs, int n)
{
    int left = 0;
    for (int j = 0; j < n; j++) {
        char detail[1024];
        cli_run_state st =
            cli_suite_run_state(jobs[j].s, &jobs[j].s->runs[jobs[j].run], detail, sizeof detail);
        if (st != CLI_RUN_DONE && st != CLI_RUN_FAILED) left++;
    }
    return left;
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
    cli_suite_job *jobs = NULL;
    int n_jobs = 0;
    static const char *const actions[] = {"run",    "status", "report", "list",
                                          "submit", "cancel", NULL};
    enum { A_RUN, A_STATUS, A_REPORT, A_LIST, A_SUBMIT, A_CANCEL };
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
        cli_error("suite: expected run, status, report, list, submit or cancel (see mixgeo suite "
                  "--help)");
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
    int jobs_n = 1, cores = 0, quick = 0, dry = 0, skip_failed = 0, render = 1, ids = 0;
    int compare_only = 0;
    int bad = cli_get_int(&v, "jobs", 1, CLI_SUITE_MAX_JOBS, &jobs_n);
    if (!strcmp(cli_get(&v, "cores"), "auto")) {
        long np = sysconf(_SC_NPROCESSORS_ONLN);
        cores = np < 1 ? 1 : np > 4096 ? 4096 : (int)np;
    } else {
        bad += cli_get_int(&v, "cores", 1, 4096, &cores);
    }
    bad += cli_get_bool(&v, "quick", &quick);
    bad += cli_get_bool(&v, "dry-run", &dry);
    bad += cli_get_bool(&v, "skip-failed", &skip_failed);
    bad += cli_get_bool(&v, "compare-only", &compare_only);
    if (compare_only && action != A_RUN) {
        cli_error("--compare-only: only with suite run");
        bad++;
    }
    bad += cli_get_bool(&v, "render", &render);
    bad += cli_get_bool(&v, "ids", &ids);
    const char *out = cli_get(&v, "out"), *root = cli_get(&v, "root");
    const char *combined = cli_get(&v, "combined");
    if (*combined && action != A_REPORT) {
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
    int shard_i = 0, shard_n = 0;
    const char *shard = cli_get(&v, "shard");
    if (*shard && !cli_suite_shard_parse(shard, &shard_i, &shard_n)) {
        cli_error("--shard: expected I/N with 1 <= I <= N (got '%s')", shard);
        bad++;
    }
    if (*shard && (action == A_REPORT || action == A_CANCEL)) {
        cli_error("--shard: only with suite run, status, list or submit");
        bad++;
    }
    /* Slurm options */
    const char *sargs[MAX_SBATCH_ARGS];
    cli_suite_submit_opts so;
    memset(&so, 0, sizeof so);
    so.partition = cli_get(&v, "partition");
    so.time = cli_get(&v, "time");
    so.mem = cli_get(&v, "mem");
    so.sbatch_args = sargs;
    so.n_sbatch_args = sbatch_args(argc, argv, sargs, MAX_SBATCH_ARGS);
    so.dry = dry;
    bad += cli_get_int(&v, "cpus-per-task", 1, 4096, &so.cpus);
    bad += cli_get_int(&v, "max-parallel", 1, 1000000, &so.max_parallel);
    if (strcmp(cli_get(&v, "runs-per-task"), "auto") != 0)
        bad += cli_get_int(&v, "runs-per-task", 1, 1000000, &so.runs_per_task);
    bad += cli_get_int(&v, "signal-seconds", 1, 65535, &so.signal_seconds);
    bad += cli_get_int(&v, "max-requeue", 0, 10000, &so.max_requeue);
    bad += cli_get_bool(&v, "report", &so.report);
    bad += cli_get_bool(&v, "failed", &so.failed);
    static const char *const submit_only[] = {"partition",
                                              "time",
                                              "cpus-per-task",
                                              "mem",
                                              "max-parallel",
                                              "runs-per-task",
                                              "sbatch-arg",
                                              "report",
                                              "signal-seconds",
                                              "failed",
                                              NULL};
    for (int i = 0; submit_only[i] && action != A_SUBMIT; i++)
        if (cli_is_set(&v, submit_only[i])) {
            cli_error("--%s: only with suite submit", submit_only[i]);
            bad++;
        }
    const char *task_file = cli_get(&v, "slurm-tasks");
    if (*task_file && (action != A_RUN || npos != 1 || *cli_get(&v, "only") || *shard)) {
        cli_error("--slurm-tasks: only with suite run of one suite file, without --only or "
                  "--shard (the array tasks of suite submit)");
        bad++;
    }
    if (cli_is_set(&v, "max-requeue") && action != A_SUBMIT && !*task_file) {
        cli_error("--max-requeue: only with suite submit");
        bad++;
    }
    if (action == A_SUBMIT && npos > 1) {
        cli_error("suite submit: one suite file at a time (each has its own OUT/slurm)");
        bad++;
    }
    if (action == A_SUBMIT) bad += cli_suite_submit_check(&so);
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

    cli_suite_opts sopt = {quick, *out ? out : NULL, *root ? root : NULL};
    int problems = 0;
    for (int i = 0; i < npos; i++) {
        int p = cli_suite_load(pos[i], &sopt, &suites[n_suites]);
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
    /* The selected runs: an array task's, or --only and --shard. */
    if (*task_file) {
        rc = cli_suite_slurm_task_jobs(suites[0], task_file, &jobs, &n_jobs);
        if (rc != 0) goto done;
        rc = CLI_EXIT_USAGE;
    } else {
        int total = 0;
        for (int i = 0; i < n_suites; i++) total += suites[i]->n_runs;
        jobs = calloc((size_t)(total ? total : 1), sizeof *jobs);
        if (!jobs) {
            cli_error("out of memory");
            rc = CLI_EXIT_RUNTIME;
            goto done;
        }
        for (int i = 0; i < n_suites; i++)
            for (int r = 0; r < suites[i]->n_runs; r++)
                if (selected(suites[i], r, only, n_only, used, shard_i, shard_n))
                    jobs[n_jobs++] = (cli_suite_job){suites[i], r};
    }
    /* --only must name runs that exist. */
    if (n_only) {
        for (int i = 0; i < n_suites; i++)
            for (int r = 0; r < suites[i]->n_runs; r++)
                selected(suites[i], r, only, n_only, used, 0, 0);
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
    case A_RUN: {
        cli_suite_local_opts lo = {jobs_n, cores, dry, skip_failed, *task_file != '\0', 0};
        lo.compare_only = compare_only;
        cli_suite_local_result res;
        rc = cli_suite_run_local(suites, n_suites, jobs, n_jobs, &lo, &res);
        if (*task_file && res.stop_signal) {
            int mr = 3;
            cli_get_int(&v, "max-requeue", 0, 10000, &mr);
            cli_suite_slurm_task_stopped(suites[0], res.stop_signal, runs_left(jobs, n_jobs), mr);
            rc = CLI_EXIT_INTERRUPTED;
        }
        break;
    }
    case A_STATUS: rc = cmd_status(suites, n_suites, jobs, n_jobs); break;
    case A_REPORT:
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
    case A_LIST: rc = cmd_list(jobs, n_jobs, ids); break;
    case A_SUBMIT: rc = cli_suite_submit(suites[0], jobs, n_jobs, &so); break;
    case A_CANCEL:
        rc = CLI_EXIT_OK;
        for (int i = 0; i < n_suites; i++) {
            int r = cli_suite_cancel(suites[i]);
            if (r != CLI_EXIT_OK) rc = r;
        }
        break;
    }

done:
    for (int i = 0; i < n_suites; i++) cli_suite_free(suites[i]);
    free(jobs);
    free(only_copy);
    cli_values_free(&v);
    return rc;
}
