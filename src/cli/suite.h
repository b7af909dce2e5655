/*
 * suite.h - experiment suites of the `mixgeo` program (src/cli/): the suite
 * file, the grid expansion into runs with stable ids, the state of each run
 * on disk, the backends that execute the runs (local, Slurm, shard), the
 * report (tables and figures aggregated over seeds) and the claims (a
 * paper's statement checked against the runs, with a verdict).
 * `mixgeo suite` (cmd_suite.c) is the command.  One file per concept (what
 * they share: suite_internal.h, which lists them): suite_file.c the file,
 * suite_grid.c its grid expanded into runs, suite_runs.c the run directories
 * and their locks, suite_local.c / suite_slurm.c (+ suite_exec.c, the Slurm
 * commands) / suite_shard.c the backends, suite_metric.c,
 * suite_group.c, suite_table.c, suite_figure.c (+ suite_panels.c), suite_claim.c and
 * suite_report.c the report.  A suite file is read by ini.h, the program's
 * one INI reader.
 *
 * A suite file (INI; '#' or ';' start a comment, also after a blank inside
 * a line):
 *
 *   [suite]    name = fig1-spiral          (default: the file name without .suite)
 *              description = one line for the report
 *              command = train | theory | states
 *                                          (what one run is: `mixgeo train` +
 *                                           analyses, `mixgeo theory`, or one
 *                                           `mixgeo analyze --states` of activations
 *                                           saved elsewhere; default train)
 *              order = 3                   (place in a combined report; default 0,
 *                                           ties keep the command-line order)
 *              out = results/fig1-spiral   (default: results/NAME; --quick
 *                                           appends -quick; --out, --root win)
 *              aggregate = seed            (axes averaged over in the report)
 *              quick.KEY = VALUE           (--quick: KEY is a grid axis -> its new
 *                                           values "v1 | v2"; else a run key)
 *   [base]     any key of the command (`mixgeo train --help` / `theory --help`;
 *              states: see "States suites" below)
 *   [method N] label = Manifold Mixup      (legend and table text)
 *              keys of the preset named N
 *   [grid]     AXIS = v1 | v2 | v3          (AXIS: method (values = [method N]
 *                                           names) or a key of the command)
 *   [analyze]  layers = 1,2|auto  split = test,train  only = spectra,collapse
 *              only.K = spectra,margins    (layer K's list instead of only; K one of
 *                                           layers, auto if layers has auto)
 *              max-per-class = 500|all     (`only = none` or no section: no analyses;
 *                                           one `mixgeo analyze` per split and layer;
 *                                           train suites only: refused with
 *                                           command = theory or states)
 *   [compare N] against = AXIS=VALUE ...   (the reference of each run: the run with
 *                                           these values and the run's own on every
 *                                           other axis; required)
 *              layers = all | K, K ...     (every layer pair: mixgeo compare
 *                                           --all-layers; or layer K against layer K,
 *                                           one compare per K, merged; default all;
 *                                           K in 0..L of both networks)
 *              split = test  max-per-class = N|all|auto   (passed on)
 *              self = skip|same|AXIS       (a run that is its own reference: no
 *                                           comparison (default), itself, or the run
 *                                           at the next value of AXIS: cyclically from
 *                                           three values on, of two only the first;
 *                                           the noise floor).  Train suites only; a run
 *                                           and its reference must see the same
 *                                           examples of the split.  See suite_compare.c.
 *   [table N]  kind = summary  metrics = test_acc, test_nll  values = final, best
 *              labels = A | B ...  rows = method  cols = alpha  where = data=moons
 *              digits = 4  title = ...  caption = ...
 *   [figure N] kind = curve|bar|sweep|montage|heatmap  y = test_acc
 *              x = epoch|AXIS|COLUMN  group = method  value = final|best  where = ...
 *              title, xlabel, ylabel, logx, logy, xrange, yrange, key, with, xline,
 *              yline (VALUE [label]: a dotted reference line), diagonal (curve: file =
 *              a per-run TSV, y may be a glob of columns averaged per row: class_*;
 *              sweep: x = a numeric axis, tics at its values and, without xrange,
 *              a range a little wider than them (log x: not whole decades);
 *              montage: panels = RUN-RELATIVE.gp | ...  titles = A | B ...: the
 *              plots of per-run figure scripts, one row per group; heatmap: file =
 *              a per-run TSV (compare/NAME/cka.tsv), x, y, z = its columns (default
 *              layer_a, layer_b, cka), one panel per group of the means over the
 *              aggregated axes of z per (x, y) cell (gnuplot `with image`, the
 *              values printed in the cells with `digits`, default 2), zrange = the
 *              colour range shared by the panels (default: the data's))
 *   [claim N]  text = the paper's statement   metric = METRIC
 *              expect = manifold < input < none | * < 1e-6 | manifold == 1 |
 *                       manifold < input, manifold < none   (chains, all must hold)
 *              by = method|AXIS|none  where = ...  paper = what the paper reports
 *              predicted = ...  show = METRIC, ...  labels = A | B ...
 *              figure = F1, F2  table = T  noise = 2  tol = 0  rtol = 0
 *              min-n = 2  digits = 4  note = ...
 *              contrast = A - B  (with by = another axis: every value is the
 *                       paired difference A - B, see below)
 *
 * where = AXIS=VALUE ... (blank-separated) keeps the runs with that value;
 * AXIS=V1,V2 keeps the runs with any of the listed values, and a value with
 * * ? [ is a glob over the axis values (arch=*-12-*); the axis is fixed
 * only when exactly one value passes (otherwise it stays a row / group
 * axis).  Under --quick, values that quick.AXIS dropped are ignored.
 *
 * A metric: a metrics.tsv column name (test_acc: final.test_acc and
 * best.test_acc, per `values`), final.COL, best.COL, a numeric summary.json
 * key, FILE:JSON.PATH of any JSON file of the run directory, FILE:COLUMN of
 * a TSV file of the run directory (with a `# columns:` line), or an
 * arithmetic expression of those and numbers with blanks around the
 * operators + - * / (usual precedence, no parentheses):
 *   100 - 100 * final.test_acc
 *   analysis/test-L1/summary.json:spectra.mean_centred.rest /
 * analysis/test-L1/summary.json:spectra.mean_centred.s1 JSON.PATH: dot-separated names and array
 * indices; `*` (every element), filters [FIELD OP VALUE] (OP = != < > <= >=, VALUE a number, true,
 * false, a word, or @FIELD of the same element) and a final reducer |min |max |mean |sum |count
 * |first |last (needed when the path can give several values): corollary.per_class.*.rank_1e2|max
 *   results[theorem1_applies=false].J_rel|min
 * TSV: COLUMN|REDUCER, default |last; |changes counts the changes of the
 * value between consecutive rows of one block (blocks are separated by blank
 * lines): metrics.tsv:test_nll|min, analysis/test-L3/map-input.tsv:class|changes.
 * Rows/groups default to every axis that is not aggregated, not the pivot/x
 * axis and not fixed by where; an explicit list must cover those axes.
 *
 * A claim is evaluated in every cell (a combination of the values of the
 * axes that are not `by`, not aggregated and not fixed by where) on the
 * mean, std and n over the aggregated axes (seeds) of each group (a value
 * of the `by` axis; default the method axis).  expect is a chain
 * A OP B [OP C ...] with OP one of < > <= >= == (each adjacent pair must
 * hold; several chains are separated by commas and must all hold); an
 * operand is a value of the `by` axis, a number, or `*` (each value
 * of the `by` axis in turn; with by = none, the cell's runs).  With
 * d = mean(A) - mean(B), se = sqrt(sA^2/nA + sB^2/nB) (0 for numbers),
 * m = noise * se and slack = tol + rtol * max(|mean A|, |mean B|):
 *   A < B   holds if d + m < -slack, does not hold if d - m >= -slack
 *   A <= B  holds if d + m <= slack,  does not hold if d - m > slack
 *   A == B  holds if |d| + m <= slack, does not hold if |d| - m > slack
 * (> and >= mirrored), else inconclusive; a group with fewer than min-n
 * finished runs makes its comparison inconclusive.  A claim holds if it
 * holds in every cell, does not hold if it fails in any cell, and is
 * inconclusive otherwise (or without data).
 *
 * contrast = A - B (A, B two values of one axis that is not `by` and not
 * aggregated, usually the method axis) turns every value of the claim (the
 * metric and the show columns) into a paired difference: each finished run
 * with A is matched with the finished run with B that has the same value on
 * every other axis (the same seed), and a group's mean, std and n are those
 * of the differences of its pairs.  So "Manifold Mixup's error gap to the
 * baseline shrinks as the budget grows" reads contrast = manifold - none,
 * by = epochs, expect = 300 < 100 < 30; the pairing removes the seed-to-seed
 * variation the two methods share.
 *
 * States suites (command = states): one run = one `mixgeo analyze --states`
 * of activations saved by any framework (or by `mixgeo dump`).  Run keys:
 *   states = H.npy  labels = Y.npy          (required for every run)
 *   logits = Z.npy  readout = W.npy[,B.npy] (optional)
 *   only = LIST  max-per-class = N|all|auto  seed  bins  hist-bins  lambdas  pairs
 * (the options of `mixgeo analyze --states`; the run-only ones -- layer,
 * split, the data overrides, and max-examples, eps, fgsm-no-clip, grid,
 * n-uniform, n-noise, which only the network's analyses use -- and every
 * key of train (arch, epochs, ...) are refused with FILE:LINE: KEY, as is an
 * [analyze] section; an analysis named in only that cannot run on the
 * inputs (fgsm, maps; margins, confidence, collapse without readout;
 * calibration without logits or readout) is refused too.  They come from
 * [base], [method N] presets, [grid] axes (states = a.npy | b.npy) and
 * quick.KEY like any run key.  Relative paths are relative to the current
 * directory of `mixgeo suite`, as train's data = idx:DIR and data-dir (run
 * the suite from the directory its paths are written for; experiments/ runs
 * from the repository root).  A missing input file is not a suite-file
 * problem: that run fails (FAILED, log.txt) and the others go on.
 * The analysis goes to RUN/analysis/states/ (summary.json and the TSV and
 * gnuplot files of `mixgeo analyze`); a metric addresses it as
 * analysis/states/summary.json:spectra.mean_centred.rest, or, in a states
 * suite, by the JSON path alone: spectra.mean_centred.rest (a metric with no
 * FILE: is a path into analysis/states/summary.json; metrics.tsv columns
 * such as test_acc do not exist there and are refused).
 * Input identity: the id hashes the keys as written (the paths, not the
 * contents; "command=states" first).  When the analysis starts the runner
 * writes RUN/inputs.tsv (size and modification time, to the nanosecond, of
 * every input file); `suite status` compares them with the files (one
 * stat() each, no reading) and a difference makes a finished run stale, so
 * a rewritten or touched input is analysed again by the next `suite run`
 * (like make, a touch counts as a change).  An input file that is gone
 * leaves a finished run done (its results stay; status says so).  sha256
 * sums of the inputs are in analysis/states/summary.json "source".
 *
 * Precedence of the run keys of one run: defaults < [base] < the [method]
 * preset of its method value < its other axis values < quick.KEY (--quick).
 *
 * Run id: "<slug>-<hash>": slug = the run's axis values (method name, then
 * KEYVALUE for other axes) joined by '_', hash = 8 hex digits of FNV-1a 64 over
 * the sorted "key=value" lines of the resolved configuration, leaving out
 * out/threads/checkpoint-every (they do not change results) and every key
 * whose resolved value is the option's default text (so that adding an
 * option keeps the ids; a changed default is caught by comparing RUN/config.ini,
 * see CLI_RUN_STALE).  Theory runs hash "command=theory" too, states runs
 * "command=states".
 *
 * Run directory OUT/runs/ID/ (OUT = [suite] out, --out, or --root/NAME):
 *   config.ini, metrics.tsv, summary.json, model.ckpt   (mixgeo train)
 *   config.ini, theory.tsv, summary.json, theory-*.gp   (mixgeo theory; config.ini
 *                                                       written by the runner)
 *   config.ini, inputs.tsv, analysis/states/...        (mixgeo analyze --states;
 *                                                       both written by the runner)
 *   analysis/...                                       (mixgeo analyze)
 *   compare/NAME/cka.tsv, summary.json                 (mixgeo compare with the
 *                                                       reference; a layer list:
 *                                                       NAME/LK/ merged into NAME/)
 *   log.txt          stdout+stderr of every step, appended, one header per step
 *   lock             flock()ed while a runner or a step of it works on the run
 *                    (a second runner waits for it, then skips or takes the run;
 *                    an array task skips it); holds "host = H, pid = P, job =
 *                    SLURM_JOB_ID, task = JOB_TASK, since = TIME" of the holder,
 *                    emptied on release.  On a shared file system flock() may
 *                    not reach other hosts: a record of another host counts as
 *                    held while squeue lists its job as pending or running (the
 *                    lock of an ended or cancelled job is taken over; one of
 *                    another host without a job cannot be judged and counts as
 *                    held until removed); on this host flock() decides
 *   steps/train.done (theory.done, states.done), steps/analyze-SPLIT-LK.done,
 *                    steps/compare-NAME[-LK].done
 *                    one per finished step (a compare step's names its reference)
 *   DONE             written atomically after the last step (its steps line
 *                    names the analyses and comparisons; a changed [analyze] or
 *                    [compare], or a compare step whose reference changed, makes
 *                    it partial)
 *   FAILED           step, exit status and log of the last failure
 *
 * Backends.  Local (`suite run -j N`, suite_local.c): the steps of every run
 * not done, N runs at a time; the references of comparisons first, and a
 * run whose compare step waits for a reference that this runner (or another
 * one holding it) trains is deferred; otherwise it stays partial until a
 * later run (`--compare-only`: those steps only).  Shard (`suite run
 * --shard I/N`, suite_shard.c): the local runner on runs r with r mod N =
 * I - 1 (grid order), for any scheduler.  Slurm (suite_slurm.c): `suite submit` packs
 * the runs to do (not done, not held by a runner, not in a task still
 * queued; --failed: only failed or missing ones) into T array tasks (auto:
 * tasks of >= 600 s by the estimate epochs x training examples x seconds
 * per example-epoch, the median of the suite's finished runs or else 50 us
 * for MLPs, 2 ms for preact:/cnn:; 30 s a theory or states run, or a run
 * already trained; a task never holds more than fits before the warning
 * signal) and submits one `sbatch --array=0-(T-1)%K` (a suite with [compare]
 * sections: references first, and a finish job after the array, afterany,
 * that runs `suite run --compare-only`: the comparisons a task left because
 * another task trained the reference):
 *   OUT/slurm/JOBID/submit.sbatch   the script (#SBATCH lines, then exec
 *                                   mixgeo suite run FILE --out OUT
 *                                   --slurm-tasks OUT/slurm/$SLURM_ARRAY_JOB_ID/tasks.tsv)
 *   OUT/slurm/JOBID/tasks.tsv       task, run id, estimated seconds (# columns)
 *   OUT/slurm/JOBID/JOBID_TASK.log  the task's output (appended over requeues)
 *   OUT/slurm/JOBID/finish.sbatch, finish.jobid, finish.log   ([compare])
 *   OUT/slurm/JOBID/report.sbatch, report.jobid, report.log   (--report; after the
 *                                   finish job when there is one)
 *   OUT/slurm/JOBID/CANCELLED       written by suite cancel before scancel
 *   OUT/slurm/dry-run/              the script and tasks.tsv of --dry-run
 * The array is submitted held and released once OUT/slurm/JOBID exists (the
 * log files are opened there).  A task runs the local backend on its runs;
 * Slurm sends it USR1 --signal-seconds before the time limit
 * (--signal=B:USR1@S): the runs stop (train finishes its step and saves its
 * checkpoint) and the task requeues itself (scontrol requeue JOB_TASK) when
 * runs are left and SLURM_RESTART_COUNT < --max-requeue.  SIGTERM does the
 * same unless the job is being cancelled (CANCELLED marker, or squeue says
 * COMPLETING/CANCELLED with no reason; a time limit says TimeLimit).
 * `suite status` overlays the queue: runs of a pending task are queued
 * (requeued once restarted), with their JOB_TASK ids (from the tasks.tsv
 * files and one squeue -r call; no accounting database).
 *
 * Report: OUT/REPORT.md (claims, tables, figures), OUT/runs.tsv,
 * OUT/claims.tsv, OUT/tables/NAME.{tsv,md,tex}, OUT/figures/NAME.{tsv,gp,png,pdf};
 * cli_suite_combined_report writes one file with the claims of several
 * suites (make paper: results/paper/REPORT.md).
 *
 * Ownership: everything reachable from a cli_suite is owned by it and freed
 * by cli_suite_free.  Printing: the parse and check functions print every
 * problem ("mixgeo: FILE:LINE: KEY: ...") and return the number of problems.
 */
#ifndef MIXGEO_CLI_SUITE_H
#define MIXGEO_CLI_SUITE_H

#include "cli.h"
#include "ini.h"

#include <stdint.h>

#define CLI_SUITE_MAX_AXES 16
#define CLI_SUITE_MAX_LIST 128 /* items of a list (axis values, metrics, layers) */
#define CLI_SUITE_MAX_TERMS 8  /* terms of a metric expression */
#define CLI_SUITE_MAX_PANELS 8 /* panels per row of a montage */

/* ---------------------------------------------------------------- the file */

/* The sections and entries of a suite file: cli_ini_section, cli_ini_entry
 * (ini.h, the program's one INI reader). */

/* ---------------------------------------------------------------- grid */

typedef struct {
    char *key; /* "method" or an option name of the suite's command */
    int line;  /* of the values in use (quick.KEY under --quick) */
    int n;
    char **values; /* n */
    char **labels; /* n: legend text (method: its label =, else "KEY=VALUE") */
    int aggregate; /* 1: averaged over in the report (seed) */
    int numeric;   /* every value parses as a number */
} cli_suite_axis;

typedef struct {
    char id[160];
    int vi[CLI_SUITE_MAX_AXES]; /* per axis: index into its values */
    char **config;              /* s->n_opts entries: resolved text (CLI_SAVE), else NULL */
    uint64_t hash;              /* FNV-1a 64 of the canonical configuration */
    int n_blocks;               /* train suites: L of the resolved arch (3 for auto) */
} cli_suite_run;

/* ---------------------------------------------------------------- analyses */

typedef struct {
    int layers[CLI_SUITE_MAX_LIST], n_layers;
    char *splits[CLI_SUITE_MAX_LIST];
    int n_splits;
    char *only;                           /* comma list, "" = the analyze default */
    char *only_layer[CLI_SUITE_MAX_LIST]; /* per layers[i]: only.K, NULL = only */
    char *max_per_class;                  /* "" = the analyze default */
} cli_suite_analyze;

/* A [compare NAME] section: every run of the grid compared (mixgeo compare,
 * CKA) with its reference, the run with the same values on every axis but
 * those of `against`.  Strings point into the section entries. */
#define CLI_SUITE_SELF_SKIP (-1) /* self = skip: no comparison (default) */
#define CLI_SUITE_SELF_SAME (-2) /* self = same: the run against itself */
typedef struct {
    const char *name;
    int line, against_line, layers_line;
    int against_axis[CLI_SUITE_MAX_AXES], against_vi[CLI_SUITE_MAX_AXES], n_against;
    int all;                                  /* layers = all: every layer pair (--all-layers) */
    int layers[CLI_SUITE_MAX_LIST], n_layers; /* else layer K against layer K */
    const char *split;                        /* train, val or test */
    const char *max_per_class;                /* NULL: compare's default (auto) */
    int self; /* a run that is its own reference: SKIP, SAME, or an axis index
               * (>= 0): the run at the next value of that axis, cyclically */
    int *ref; /* per run: its reference run, -1 none (owned; after expansion) */
} cli_suite_compare;

/* The kinds of steps of a run. */
enum { CLI_STEP_RUN = 0, CLI_STEP_ANALYZE = 1, CLI_STEP_COMPARE = 2 };

/* One step of a run: train (theory, states), one `mixgeo analyze` (split,
 * layer), or one `mixgeo compare` with the reference of a [compare] section
 * (every layer pair, or layer K against layer K). */
typedef struct {
    char name[64];  /* "train", "theory", "states", "analyze-SPLIT-LK", "compare-NAME" or
                     * "compare-NAME-LK" (marker steps/NAME.done) */
    char args[512]; /* analyze: the options after RUN; compare: the section's settings */
    int kind;       /* CLI_STEP_RUN, CLI_STEP_ANALYZE or CLI_STEP_COMPARE */
    int layer;      /* analyze: -1 auto (analyze's default, the last hidden state);
                     * compare: K, or -1 every layer pair */
    const char *split;
    const char *only; /* analyze: its --only list ("" = analyze's default); owned by
                       * the suite's analyze */
    int compare;      /* compare: index into s->compares */
} cli_suite_step;

/* ---------------------------------------------------------------- report */

/* One term of a metric: a number, or a JSON path ("final.test_acc",
 * "per_class.*.s1|mean") in a JSON file of the run directory (default
 * summary.json), or a column (with a reducer) of a TSV file of the run. */
typedef struct {
    char file[256]; /* run-relative, e.g. "summary.json"; "" for a number */
    char path[256];
    double number; /* file[0] == 0 */
} cli_suite_term;

/* A number per run: terms[0] ops[0] terms[1] ... (+ - * /, usual precedence). */
typedef struct {
    cli_suite_term terms[CLI_SUITE_MAX_TERMS];
    char ops[CLI_SUITE_MAX_TERMS]; /* ops[i] joins terms[i] and terms[i + 1] */
    int n_terms;
    char label[256]; /* column / axis text for a reader */
    char key[512]; /* column name in TSV headers: PATH, FILE:PATH, the expression without blanks */
} cli_suite_metric;

typedef struct cli_suite cli_suite;

/* A [table NAME] or [figure NAME] section, checked by its kind (one table
 * of kinds per output type, each kind with a check and a write function:
 * suite_table.c, suite_figure.c).  Strings point into the section entries. */
typedef struct {
    const char *name;
    int line;
    const cli_ini_section *sec;
    int kind;                  /* index into the kinds table of its type */
    cli_suite_metric *metrics; /* tables: columns; bar/sweep: the y metric; owned */
    int n_metrics;
    int rows[CLI_SUITE_MAX_AXES], n_rows; /* tables: row axes; figures: group axes */
    int col;                              /* tables: pivot axis; sweep: x axis; -1 none */
    /* where: runs pass if, for each i, their value of where_axis[i] is
     * allowed (where_ok); where_vi[i] is the value when exactly one is
     * allowed (the axis is fixed), else -1. */
    int where_axis[CLI_SUITE_MAX_AXES], where_vi[CLI_SUITE_MAX_AXES], n_where;
    unsigned char where_ok[CLI_SUITE_MAX_AXES][CLI_SUITE_MAX_LIST];
    unsigned char where_pos[CLI_SUITE_MAX_AXES][CLI_SUITE_MAX_LIST]; /* 1 + position in the list */
    const char *file, *x, *y;                      /* curve: TSV and its columns */
    const char *title, *xlabel, *ylabel, *caption; /* NULL: a default */
    const char *xrange, *yrange, *key, *with;      /* gnuplot text, NULL: default */
    const char *z, *zrange;                        /* heatmap: the cell column, colour range */
    const char *xline, *yline;                     /* "VALUE [label]", NULL: none */
    int digits, logx, logy, diagonal;              /* diagonal: curve, draw y = x */
    /* montage: run-relative figure scripts and their panel titles */
    char *panels[CLI_SUITE_MAX_PANELS], *panel_titles[CLI_SUITE_MAX_PANELS]; /* owned */
    int n_panels, panel_w, panel_h;
} cli_suite_output;

/* One operand of a claim's expect: a value of the `by` axis, a number, or
 * `*` (each value of the `by` axis in turn). */
typedef struct {
    int kind; /* 0 group (vi), 1 number, 2 each, 3 a group value --quick dropped */
    int vi;
    double number;
    char text[64];
} cli_suite_operand;

typedef enum {
    CLI_CMP_LT,
    CLI_CMP_LE,
    CLI_CMP_GT,
    CLI_CMP_GE,
    CLI_CMP_EQ,
    CLI_CMP_BREAK /* "," between two chains: no comparison */
} cli_suite_cmp;

/* A [claim NAME] section (strings point into the section entries).  The
 * claim's metric is metrics[0]; metrics[1..] are the `show` columns. */
typedef struct {
    const char *name;
    int line;
    cli_suite_output o; /* where, digits, metrics, rows = the cell axes */
    const char *text, *paper, *predicted, *expect, *note;
    int by; /* axis, -1: none */
    /* contrast = A - B: the axis (-1: none) and the values of A and B (-1: a
     * value --quick dropped, no data) */
    int contrast_axis, contrast_vi[2];
    const char *contrast;
    char contrast_names[2][64];
    cli_suite_operand operands[16];
    cli_suite_cmp cmps[15];
    int n_operands;
    double noise, tol, rtol;
    int min_n;
    const char *figures[8], *tables[8]; /* names of [figure] / [table] sections */
    int n_figures, n_tables;
} cli_suite_claim;

/* ---------------------------------------------------------------- the suite */

enum { CLI_SUITE_TRAIN = 0, CLI_SUITE_THEORY = 1, CLI_SUITE_STATES = 2 };

/* The analysis directory of a states run, relative to the run directory. */
#define CLI_SUITE_STATES_OUT "analysis/states"

struct cli_suite {
    char *path;          /* the suite file */
    char *name;          /* [suite] name */
    char *description;   /* "" if none */
    int command;         /* CLI_SUITE_TRAIN, CLI_SUITE_THEORY or CLI_SUITE_STATES */
    int order;           /* [suite] order: place in a combined report (default 0) */
    const cli_opt *opts; /* the options of the command (cli_train_opts, theory's, states') */
    int n_opts;
    char *out; /* output directory (after --out / --root) */
    int quick; /* --quick in effect */
    cli_ini_section *sec;
    int n_sec;
    cli_suite_axis axes[CLI_SUITE_MAX_AXES];
    int n_axes;
    int method_axis; /* index of the method axis, -1 none */
    cli_suite_analyze analyze;
    cli_suite_compare *compares; /* [compare NAME] sections */
    int n_compares;
    cli_suite_step *steps; /* n_steps: train first, then analyses, then comparisons */
    int n_steps;
    char steps_sig[32]; /* hash of the step list, in DONE */
    cli_suite_output *tables, *figures;
    int n_tables, n_figures;
    cli_suite_claim *claims;
    int n_claims;
    const cli_ini_entry *quick_set[CLI_SUITE_MAX_LIST]; /* quick.KEY train overrides */
    int n_quick_set;
    int replicates; /* runs per report cell: product of the aggregate axes' sizes */
    cli_suite_run *runs;
    int n_runs;
};

typedef struct {
    int quick;
    const char *out;  /* non-NULL: overrides [suite] out */
    const char *root; /* non-NULL (and no out): OUT = ROOT/NAME */
} cli_suite_opts;

/* Parse, check and expand FILE: every problem is printed with FILE:LINE and
 * the key, and counted.  On 0 problems *out is the suite (caller frees with
 * cli_suite_free); otherwise *out is NULL.  Returns the number of problems
 * (-1 if the file cannot be read). */
int cli_suite_load(const char *path, const cli_suite_opts *o, cli_suite **out);
void cli_suite_free(cli_suite *s);

/* Run directory of run r: OUT/runs/ID. */
mg_status cli_suite_run_dir(const cli_suite *s, const cli_suite_run *r, char *buf, size_t len);
/* "method=manifold alpha=2 seed=1" (len >= 1). */
void cli_suite_run_describe(const cli_suite *s, const cli_suite_run *r, char *buf, size_t len);
/* 1 if id is r's id or r's slug (the id without the hash), or a prefix ending
 * in '-' or '_' of it. */
int cli_suite_run_matches(const cli_suite_run *r, const char *id);

/* ---------------------------------------------------------------- state */

typedef enum {
    CLI_RUN_MISSING, /* nothing on disk (or an empty directory)                */
    CLI_RUN_PARTIAL, /* started and stopped (interrupted, killed, analyses changed) */
    CLI_RUN_RUNNING, /* its lock is held by a live process                     */
    CLI_RUN_FAILED,  /* FAILED exists: the last attempt failed                  */
    CLI_RUN_STALE,   /* finished under a different configuration (a default changed) */
    CLI_RUN_DONE,    /* DONE with the current steps                            */
    CLI_RUN_N_STATES
} cli_run_state;

const char *cli_run_state_name(cli_run_state st);

/* The state of run r, with a one-line detail ("epoch 3/10", "train exit 1:
 * <last log line>", "lr: 0.1 -> 0.05").  Never blocks. */
cli_run_state cli_suite_run_state(const cli_suite *s, const cli_suite_run *r, char *detail,
                                  size_t len);
/* The same for the holder of the run's lock (the lock is not looked at). */
cli_run_state cli_suite_run_state_locked(const cli_suite *s, const cli_suite_run *r, char *detail,
                                         size_t len);

/* 1 if DIR/config.ini agrees with r's resolved configuration (keys missing
 * from the file must have their default; "arch = auto" matches any arch);
 * 0 otherwise, with the first difference in why ("lr: 0.1 -> 0.05"). */
int cli_suite_config_matches(const cli_suite *s, const cli_suite_run *r, const char *dir, char *why,
                             size_t len);

/* Write DIR/config.ini of run r (train: for `mixgeo train --config`; theory,
 * states: the record of the options given to `mixgeo theory` / `mixgeo
 * analyze`), out = DIR (states: DIR/analysis/states), threads = threads. */
mg_status cli_suite_write_config(const cli_suite *s, const cli_suite_run *r, const char *dir,
                                 int threads);

/* The command line of a theory or states run (argv[0] = exe, then "theory"
 * or "analyze" and --KEY VALUE for every key with a non-empty value, --out
 * DIR (states: DIR/analysis/states) --threads N; NULL-terminated) into argv
 * (max entries, strings in buf).  Returns the count or -1 if it does not fit. */
int cli_suite_command_argv(const cli_suite *s, const cli_suite_run *r, const char *exe,
                           const char *dir, int threads, char **argv, int max, char *buf,
                           size_t len);

/* States runs: write DIR/inputs.tsv, the size and modification time of each
 * input file of r as it is now (-1 for a file that cannot be stat()ed; the
 * analysis then fails on it), read back by cli_suite_run_state. */
mg_status cli_suite_record_inputs(const cli_suite *s, const cli_suite_run *r, const char *dir);
/* States runs: remove the files (not directories) of DIR/analysis/states, so
 * that a fresh analysis leaves nothing of an earlier one behind. */
void cli_suite_clear_states_out(const char *dir);

/* Markers (atomic writes).  cli_suite_step_done: 1 if steps/NAME.done of
 * run `run` (directory dir) holds the step's args (and, for a compare step,
 * the id of the run's current reference). */
int cli_suite_step_done(const cli_suite *s, int run, const cli_suite_step *st, const char *dir);
mg_status cli_suite_mark_step(const cli_suite *s, int run, const cli_suite_step *st,
                              const char *dir);

/* Comparisons ([compare NAME], suite_compare.c).  The reference of run
 * `run` for compare step st (-1: none, the step does not apply to the run:
 * it is its own reference and self = skip). */
int cli_suite_step_ref(const cli_suite *s, int run, const cli_suite_step *st);
/* 1 if step st is one of run `run`'s (every step but a compare step without
 * a reference). */
int cli_suite_step_applies(const cli_suite *s, int run, const cli_suite_step *st);
/* 1 if run `ref` can be compared with: trained (steps/train.done) under the
 * suite's current configuration; else 0 and why ("ID is not trained yet"). */
int cli_suite_ref_ready(const cli_suite *s, int ref, char *why, size_t len);
/* The next step of run `run` to do (directory dir): the first step that
 * applies, is not done and can run now (a compare step whose reference is
 * ready); s->n_steps if none, with *blocked = the first compare step left
 * waiting for its reference (-1 if none). */
int cli_suite_next_step(const cli_suite *s, int run, const char *dir, int *blocked);
/* The output directory of a compare step of run dir (DIR/compare/NAME, or
 * DIR/compare/NAME/LK for layer K of a list). */
mg_status cli_suite_compare_out(const cli_suite *s, const cli_suite_step *st, const char *dir,
                                char *buf, size_t len);
/* After a compare step of a layer list: DIR/compare/NAME/cka.tsv and
 * summary.json from those of every layer done (LK/), in the list's order. */
mg_status cli_suite_compare_merge(const cli_suite *s, const cli_suite_step *st, const char *dir);
/* 1 if the compare steps of a finished run are current: those that apply
 * are done with the current reference, those that do not (the run became
 * its own reference) left no marker; else 0 and why. */
int cli_suite_compares_current(const cli_suite *s, int run, const char *dir, char *why, size_t len);
/* Remove the markers and outputs of the compare steps that no longer apply
 * to run `run` (a runner that holds its lock). */
void cli_suite_compares_clean(const cli_suite *s, int run, const char *dir);
mg_status cli_suite_mark_done(const cli_suite *s, const cli_suite_run *r, const char *dir);
mg_status cli_suite_mark_failed(const char *dir, const char *step, const char *status_text);
/* Remove DONE, FAILED and steps/ (a fresh start of the run). */
void cli_suite_clear_markers(const char *dir);
/* The last non-empty line of DIR/log.txt (without "mixgeo: "), "" if none. */
void cli_suite_log_tail(const char *dir, char *buf, size_t len);

/* ---------------------------------------------------------------- locks */

/* Who holds a run's lock, as recorded in RUN/lock by the holder (besides the
 * flock() on that file, which alone decides on one host): its host and pid,
 * and under Slurm its job id (SLURM_JOB_ID) and array task (JOB_TASK). */
typedef struct {
    char host[256];
    long pid;
    char job[64];  /* "" outside Slurm */
    char task[64]; /* "12345_7" for an array task, else "" */
    char since[64];
} cli_suite_lock_record;

/* The record of DIR/lock; 0 if there is none (a free lock). */
int cli_suite_lock_read(const char *dir, cli_suite_lock_record *rec);
/* "host H pid P, Slurm job J_T" */
void cli_suite_lock_describe(const cli_suite_lock_record *rec, char *buf, size_t len);
/* After flock() on fd (RUN/lock) succeeded: 1 if the run may be taken (the
 * record is empty, ours from before a requeue, of this host, or of a Slurm
 * job that is no longer pending or running: stale), and our record is
 * written; 0 if the record's holder still counts as alive (a job on another
 * host that squeue lists as pending or running, or another host without a
 * job, which cannot be judged), with the reason in why. */
int cli_suite_lock_claim(int fd, char *why, size_t len);
/* Empty the record (before the lock is released). */
void cli_suite_lock_clear(int fd);

/* ---------------------------------------------------------------- backends */

#define CLI_SUITE_MAX_JOBS 256 /* suite run -j */

/* One run of one suite: what the backends schedule. */
typedef struct {
    cli_suite *s;
    int run; /* index into s->runs */
} cli_suite_job;

/* Local backend (suite_local.c): `suite run`, and what a Slurm array task
 * or a shard executes. */
typedef struct {
    int jobs;         /* runs at a time (-j) */
    int cores;        /* shared: threads per run = max(1, cores / jobs), capped by
                       * OPENBLAS_NUM_THREADS when set */
    int dry;          /* print what would run, run nothing */
    int skip_failed;  /* leave failed runs alone */
    int task;         /* a Slurm array task: SIGUSR1 and SIGTERM stop the runs
                       * (checkpoints saved); runs another runner holds are
                       * skipped, not waited for, and so are references that
                       * another runner trains */
    int compare_only; /* only the compare steps of runs whose other steps are done
                       * (the finish job of suite submit) */
} cli_suite_local_opts;

typedef struct {
    int finished, failed, interrupted, busy; /* runs */
    int blocked;     /* runs left with a compare step whose reference is not trained */
    int stop_signal; /* task: the signal that stopped it (SIGUSR1, SIGTERM), else 0 */
} cli_suite_local_result;

/* Run the jobs (grouped by suite, in the order given; the suites for the
 * per-suite summary lines): every step of every run not done yet, at most
 * o->jobs at a time.  Prints progress lines; fills *res.  Returns the exit
 * status (0 every run done, 1 a run failed or stopped, 130 interrupted). */
int cli_suite_run_local(cli_suite *const *suites, int n_suites, const cli_suite_job *jobs,
                        int n_jobs, const cli_suite_local_opts *o, cli_suite_local_result *res);

/* Shard backend (suite_shard.c): "I/N" (1 <= I <= N) into *i, *n; 0 if the
 * text is not one. */
int cli_suite_shard_parse(const char *text, int *i, int *n);
/* 1 if run `run` of s belongs to shard i of n: runs are dealt round-robin
 * in grid order, so shards 1..n together hold every run exactly once,
 * whatever their state. */
int cli_suite_shard_has(const cli_suite *s, int run, int i, int n);

/* Slurm backend (suite_slurm.c). */
typedef struct {
    const char *partition;          /* "" = the cluster's default */
    const char *time;               /* --time of an array task (required) */
    const char *mem;                /* "" = the cluster's default */
    int cpus;                       /* --cpus-per-task */
    int max_parallel;               /* %K of --array */
    int runs_per_task;              /* 0 = auto */
    const char *const *sbatch_args; /* extra #SBATCH lines */
    int n_sbatch_args;
    int report; /* a dependent job (afterany) that runs suite report */
    int dry;    /* write the script, submit nothing */
    int signal_seconds;
    int max_requeue;
    int failed; /* only the failed or missing runs */
} cli_suite_submit_opts;

/* Check the options (every problem printed naming its flag); 0 if good. */
int cli_suite_submit_check(const cli_suite_submit_opts *o);
/* Submit the selected runs of s that are to do as one job array (see
 * suite.h's top comment).  Returns the exit status. */
int cli_suite_submit(cli_suite *s, const cli_suite_job *jobs, int n_jobs,
                     const cli_suite_submit_opts *o);
/* Cancel the pending and running jobs of OUT/slurm/ (scancel); returns the
 * exit status. */
int cli_suite_cancel(const cli_suite *s);
/* The runs of the array task SLURM_ARRAY_TASK_ID listed in TASKS (the
 * tasks.tsv of a submission) as jobs of s into *jobs (caller frees), their
 * number into *n.  Returns 0, or 2 (printed) when TASKS or the environment
 * does not give them. */
int cli_suite_slurm_task_jobs(cli_suite *s, const char *tasks, cli_suite_job **jobs, int *n);
/* After a task's runs stopped on a signal: requeue the task (scontrol
 * requeue) if runs are left, the signal asks for it (USR1; TERM unless the
 * job was cancelled) and it was requeued fewer than max_requeue times
 * (SLURM_RESTART_COUNT).  Prints what it did. */
void cli_suite_slurm_task_stopped(const cli_suite *s, int sig, int left, int max_requeue);

/* The state of a Slurm job or array task (squeue): 1 and its state
 * (PENDING, RUNNING, ...) and reason if squeue lists it, 0 if not (ended
 * long enough ago, or unknown), -1 if squeue cannot be asked.  Answers are
 * remembered for a few seconds. */
int cli_suite_slurm_job_state(const char *job, char *state, size_t slen, char *reason, size_t rlen);
/* 1 for the states of a job that has not ended (pending, running, ...). */
int cli_suite_slurm_state_alive(const char *state);

/* What OUT/slurm/ and squeue say about the runs of s (for suite status). */
typedef struct {
    int *task;          /* per run: index into ids/states, -1 if in no queued task */
    char (*ids)[64];    /* "JOB_TASK" */
    char (*states)[32]; /* PENDING, RUNNING, ... */
    char (*reasons)[64];
    int *restarts;
    int n_tasks;
    char note[512]; /* one line about the jobs ("" without records) */
} cli_suite_slurm_view;

void cli_suite_slurm_view_load(const cli_suite *s, cli_suite_slurm_view *v);
void cli_suite_slurm_view_free(cli_suite_slurm_view *v);

/* ---------------------------------------------------------------- report */

/* Tables, figure data and scripts, REPORT.md and runs.tsv under OUT from the
 * done runs; renders the figures with gnuplot when render and gnuplot is on
 * the PATH.  Prints what it wrote (unless quiet).  Returns MG_OK, or the
 * first failure (mg_errmsg). */
mg_status cli_suite_report(const cli_suite *s, int render);

/* One file with the claims of n suites (their verdicts first, then each
 * claim with its numbers, links relative to the file's directory into each
 * suite's figures and REPORT.md).  Evaluates the claims from the runs on
 * disk (call after cli_suite_report).  quick: say so in the title. */
mg_status cli_suite_combined_report(cli_suite *const *suites, int n, const char *path, int quick);

/* The figure and table kinds (for --help): "curve, bar, sweep". */
void cli_suite_kinds_text(char *buf, size_t len, int figures);

#endif /* MIXGEO_CLI_SUITE_H */
