/*
 * suite.h - experiment suites of the `mixgeo` program (src/cli/): the suite
 * file, the grid expansion into runs with stable ids, the state of each run
 * on disk, the report (tables and figures aggregated over seeds) and the
 * claims (a paper's statement checked against the runs, with a verdict).
 * `mixgeo suite` (cmd_suite.c) is the command; the process handling of
 * `suite run` (fork/exec, -j, locks, signals) lives there.  suite.c parses,
 * checks and expands the suite file; suite_run.c reads and writes the run
 * directories (state, markers); suite_report.c writes the report and runs
 * gnuplot for it (what they share: suite_internal.h).
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
 *   [table N]  kind = summary  metrics = test_acc, test_nll  values = final, best
 *              labels = A | B ...  rows = method  cols = alpha  where = data=moons
 *              digits = 4  title = ...  caption = ...
 *   [figure N] kind = curve|bar|sweep|montage  y = test_acc  x = epoch|AXIS|COLUMN
 *              group = method  value = final|best  where = ...  title, xlabel,
 *              ylabel, logx, logy, xrange, yrange, key, with, xline, yline
 *              (VALUE [label]: a dotted reference line), diagonal (curve: file = a
 *              per-run TSV, y may be a glob of columns averaged per row: class_*;
 *              montage: panels = RUN-RELATIVE.gp | ...  titles = A | B ...: the
 *              plots of per-run figure scripts, one row per group)
 *   [claim N]  text = the paper's statement   metric = METRIC
 *              expect = manifold < input < none | * < 1e-6 | manifold == 1 |
 *                       manifold < input, manifold < none   (chains, all must hold)
 *              by = method|AXIS|none  where = ...  paper = what the paper reports
 *              predicted = ...  show = METRIC, ...  labels = A | B ...
 *              figure = F1, F2  table = T  noise = 2  tol = 0  rtol = 0
 *              min-n = 2  digits = 4  note = ...
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
 *   log.txt          stdout+stderr of every step, appended, one header per step
 *   lock             flock()ed while a runner or a step of it works on the run
 *                    (a second runner waits for it, then skips or takes the run)
 *   steps/train.done (theory.done, states.done), steps/analyze-SPLIT-LK.done
 *                    one per finished step
 *   DONE             written atomically after the last step (its steps line
 *                    names the analyses; a changed [analyze] makes it partial)
 *   FAILED           step, exit status and log of the last failure
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

#include <stdint.h>

#define CLI_SUITE_MAX_AXES 16
#define CLI_SUITE_MAX_LIST 128 /* items of a list (axis values, metrics, layers) */
#define CLI_SUITE_MAX_TERMS 8  /* terms of a metric expression */
#define CLI_SUITE_MAX_PANELS 8 /* panels per row of a montage */

/* ---------------------------------------------------------------- the file */

typedef struct {
    char *key, *value;
    int line;
} cli_suite_entry;

typedef struct {
    char *kind; /* "suite", "base", "grid", "method", "analyze", "table", "figure", "claim" */
    char *name; /* [method NAME]: NAME; "" for the one-word sections */
    int line;
    cli_suite_entry *e;
    int n, cap;
} cli_suite_section;

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

/* One step of a run: train, or one `mixgeo analyze` (split, layer). */
typedef struct {
    char name[64];  /* "train", "theory" or "analyze-SPLIT-LK" (marker steps/NAME.done) */
    char args[512]; /* analyze: the options after RUN, as one line */
    int layer;      /* -1: auto (analyze's default, the last hidden state) */
    const char *split;
    const char *only; /* analyze: its --only list ("" = analyze's default); owned by
                       * the suite's analyze */
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

/* A [table NAME] or [figure NAME] section, checked by its kind (suite.c has
 * one table of kinds per output type; one check function per kind in
 * suite.c, one write function in suite_report.c).  Strings point into the
 * section entries. */
typedef struct {
    const char *name;
    int line;
    const cli_suite_section *sec;
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
    cli_suite_section *sec;
    int n_sec;
    cli_suite_axis axes[CLI_SUITE_MAX_AXES];
    int n_axes;
    int method_axis; /* index of the method axis, -1 none */
    cli_suite_analyze analyze;
    cli_suite_step *steps; /* n_steps: train first */
    int n_steps;
    char steps_sig[32]; /* hash of the step list, in DONE */
    cli_suite_output *tables, *figures;
    int n_tables, n_figures;
    cli_suite_claim *claims;
    int n_claims;
    const cli_suite_entry *quick_set[CLI_SUITE_MAX_LIST]; /* quick.KEY train overrides */
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

/* Markers (atomic writes).  cli_suite_step_done: 1 if steps/NAME.done holds
 * the step's args. */
int cli_suite_step_done(const cli_suite_step *st, const char *dir);
mg_status cli_suite_mark_step(const cli_suite_step *st, const char *dir);
mg_status cli_suite_mark_done(const cli_suite *s, const cli_suite_run *r, const char *dir);
mg_status cli_suite_mark_failed(const char *dir, const char *step, const char *status_text);
/* Remove DONE, FAILED and steps/ (a fresh start of the run). */
void cli_suite_clear_markers(const char *dir);
/* The last non-empty line of DIR/log.txt (without "mixgeo: "), "" if none. */
void cli_suite_log_tail(const char *dir, char *buf, size_t len);

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
