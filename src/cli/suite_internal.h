/*
 * suite_internal.h - what the files of experiment suites (src/cli/) share;
 * not for other files (their interface is suite.h).  One file per concept:
 *   suite_util.c    small helpers: numbers, word lists, files, text buffers,
 *                   the FILE:LINE: KEY problem line, TSV / Markdown / LaTeX cells
 *   suite_file.c    the suite file and its grid: sections, run keys, expansion
 *                   into runs with stable ids (cli_suite_load)
 *   suite_runs.c    run directories: state, markers, configuration, locks
 *   suite_compare.c [compare NAME]: each run against a reference run of the
 *                   grid (mixgeo compare), the references, the compare steps
 *   suite_local.c   backend: the local runner (suite run -j N; also what a
 *                   Slurm array task or a shard executes)
 *   suite_slurm.c   backend: Slurm (suite submit / status / cancel, requeue)
 *   suite_exec.c    the Slurm commands run with their output captured, job states
 *   suite_grid.c    the grid expanded into runs with stable ids
 *   suite_shard.c   backend: a fixed slice of the grid (suite run --shard i/N)
 *   suite_metric.c  metrics: parsing, and their values in a run
 *   suite_group.c   where / rows / groups of runs, aggregation over seeds
 *   suite_table.c   the [table] kinds
 *   suite_figure.c  the [figure] kinds (gnuplot): curve, bar, sweep
 *   suite_panels.c  the [figure] kinds made of panels: montage, heatmap
 *   suite_claim.c   the claims: parsing, verdicts, their report sections
 *   suite_report.c  REPORT.md, runs.tsv, the combined report
 *   cmd_suite.c     the command `mixgeo suite` (options, actions)
 *
 * Ownership follows the definitions' comments.  Printing: the parse and
 * check functions print their problems (sx_bad); the report functions print
 * nothing but errors; the backends print progress lines (cli_info).
 */
#ifndef MIXGEO_CLI_SUITE_INTERNAL_H
#define MIXGEO_CLI_SUITE_INTERNAL_H

#include "suite.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- memory and text */

/* Allocation that does not fail (MG_ASSERT); the caller frees. */
static inline void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    MG_ASSERT(p != NULL);
    return p;
}

static inline void *xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    MG_ASSERT(q != NULL);
    return q;
}

static inline char *xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    MG_ASSERT(p != NULL);
    return p;
}

static inline char *xstrndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    MG_ASSERT(p != NULL);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* s without leading blanks; trailing blanks are cut off in place. */
static inline char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

/* The whole text s as a number (long: in [lo, hi]; double: finite) into
 * *out; 1 if it is one, else 0 and *out untouched. */
int sx_parse_long_text(const char *s, long lo, long hi, long *out);
int sx_parse_double_text(const char *s, double *out);
/* A range "[LOW:HIGH]" or "LOW:HIGH" (LOW, HIGH: numbers, '*' or empty) as
 * "LOW:HIGH" into buf (blanks and brackets off: gnuplot's "set xrange [%s]"),
 * the bounds into *lo, *hi (NAN for '*' or empty); 1 if it is one, else 0. */
int sx_parse_range_text(const char *s, char *buf, size_t len, double *lo, double *hi);
/* 1/true/yes/on or 0/false/no/off (any case) into *out; 1 if it is one. */
int sx_parse_bool_text(const char *s, int *out);
/* [A-Za-z0-9._-]+ */
int sx_is_name(const char *s);
/* 1 if w is one of the blank-separated words of words. */
int sx_word_in(const char *words, const char *w);

/* FNV-1a 64: h = sx_fnv1a(SX_FNV_INIT, text), chained over several texts. */
#define SX_FNV_INIT 0xcbf29ce484222325ull
uint64_t sx_fnv1a(uint64_t h, const char *s);

/* "mixgeo: FILE:LINE: KEY: message" (FILE = the suite file; no KEY: without
 * it); returns 1, so problems can be summed. */
int sx_bad(const cli_suite *s, int line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A list of trimmed items (owned; sx_strlist_free empties it). */
typedef struct {
    char *item[CLI_SUITE_MAX_LIST];
    int n;
} sx_strlist;

void sx_strlist_free(sx_strlist *l);
/* Split text at sep (trimmed items).  Returns 0, 1 if an item (or the whole
 * text) is empty, 2 if there are more than CLI_SUITE_MAX_LIST items; on
 * failure l is empty. */
int sx_strlist_split(sx_strlist *l, const char *text, char sep);
/* Split at blanks (no empty items).  Returns 0, or 2 if there are more than
 * CLI_SUITE_MAX_LIST items (l is then empty). */
int sx_strlist_words(sx_strlist *l, const char *text);

/* ---------------------------------------------------------------- files */

/* The file's text (at most about max bytes; caller frees), NULL if it cannot
 * be opened. */
char *sx_read_text(const char *path, size_t max);
mg_status sx_write_text_atomic(const char *path, const char *text);

/* A growing text buffer (open_memstream): sx_mb_open, fprintf to f, then
 * sx_mb_close (the text, caller frees) or sx_mb_write (to a file, atomic). */
typedef struct {
    FILE *f;
    char *buf;
    size_t len;
} sx_membuf;

void sx_mb_open(sx_membuf *m);
char *sx_mb_close(sx_membuf *m);
mg_status sx_mb_write(sx_membuf *m, const char *path);

/* The current UTC time, "2024-01-31T12:00:00Z". */
void sx_iso_time(char *buf, size_t len);

/* Cells of the report's files: TSV (tabs and line breaks -> blanks), a
 * number in TSV (%.9g, nan), Markdown ('|' escaped), LaTeX (specials
 * escaped); sx_fmt_g below. */
void sx_tsv_cell(FILE *f, const char *s);
void sx_tsv_num(FILE *f, double x);
void sx_md_cell(FILE *f, const char *s);
void sx_tex_text(FILE *f, const char *s);
/* A number of the report with `digits` significant digits ("%g", but a
 * whole number where %g would give an exponent below a million: 1254, not
 * 1.25e+03; "nan" for NaN), into b or to f. */
void sx_fmt_g_buf(char *b, size_t len, double x, int digits);
void sx_fmt_g(FILE *f, double x, int digits);

/* ---------------------------------------------------------------- the file (suite_file.c) */

/* The first section [kind name] of the suite (name NULL: any), NULL if none. */
const cli_ini_section *sx_find_section(const cli_suite *s, const char *kind, const char *name);
/* Index of the [grid] axis key, -1 if none. */
int sx_axis_index(const cli_suite *s, const char *key);
/* The [table] and [figure] sections, each checked by its kind. */
int sx_parse_outputs(cli_suite *s);
/* s->steps_sig: the hash of the step list (in DONE). */
void sx_steps_sign(cli_suite *s);

/* ---------------------------------------------------------------- comparisons (suite_compare.c) */

/* The [compare NAME] sections into s->compares and their steps appended to
 * s->steps (after the grid and [analyze]).  Returns the problems. */
int sx_parse_compares(cli_suite *s);
/* After the expansion: each run's reference, checked (the layers against
 * the networks, the examples the two runs see).  Returns the problems. */
int sx_resolve_compares(cli_suite *s);
/* Index of [compare name] in s->compares, -1 if none. */
int sx_compare_index(const cli_suite *s, const char *name);

/* ---------------------------------------------------------------- run keys and labels */

/* Index of key in s->opts, -1 if it is not an option of the command. */
int sx_suite_opt(const cli_suite *s, const char *key);
/* 1 for the keys that do not change results (out, threads, ...). */
int sx_key_excluded(const char *key);

typedef struct {
    const char *name, *label;
} sx_name_label;

/* The columns of RUN/metrics.tsv with their axis text ({NULL, NULL} ends it). */
extern const sx_name_label sx_train_columns[];
/* The numeric top-level keys of RUN/summary.json with their axis text. */
extern const sx_name_label sx_summary_keys[];
const char *sx_lookup_label(const sx_name_label *t, const char *name); /* NULL: none */
const char *sx_axis_label(const cli_suite_axis *a);

/* ---------------------------------------------------------------- the report context */

/* One JSON file of a run, parsed once per report. */
typedef struct {
    char file[256];
    cJSON *json; /* NULL: missing or unreadable */
} sx_json_entry;

typedef struct {
    int done; /* the run is done (its numbers count) */
    sx_json_entry *j;
    int n_j;
} sx_run_cache;

/* The state of one report (suite_report.c opens and closes it). */
typedef struct sx_report_ctx {
    const cli_suite *s;
    char figdir[4096], tabdir[4096];
    sx_run_cache *rc; /* per run */
    int n_done;
    char prov[1024]; /* "# mixgeo VERSION suite=... git=... file=..." */
    sx_membuf md;    /* REPORT.md body: tables and figures */
    int render, have_gnuplot, rendered, failures;
} sx_report_ctx;

/* ---------------------------------------------------------------- metrics (suite_metric.c) */

/* Parse one metric item into out[*n...]: a metrics.tsv column (final and/or
 * best per mask: 1 final, 2 best), one term, or an expression.  Returns the
 * problems (printed with line and key). */
int sx_parse_metric(cli_suite *s, int line, const char *key, const char *item, int mask,
                    cli_suite_metric *out, int max, int *n);
/* The value of metric m in run `run` (NaN if it cannot be had). */
double sx_metric_value(sx_report_ctx *c, int run, const cli_suite_metric *m);
/* RUN/file (a JSON file of run `run`) parsed once per report and kept in
 * c's cache; NULL if missing or unreadable. */
const cJSON *sx_run_json(sx_report_ctx *c, int run, const char *file);

/* ---------------------------------------------------------------- where, rows, groups
 * (suite_group.c) */

/* The value of key in the section of o (NULL if absent; *line: its line or
 * the section's). */
const char *sx_out_value(const cli_suite_output *o, const char *key, int *line);
/* The list under key split at sep into l (sx_strlist_free it; l->n = 0 if
 * absent or malformed).  Returns the problems: 1 (reported as expect). */
int sx_out_list(cli_suite *s, const cli_suite_output *o, const char *key, char sep,
                const char *expect, sx_strlist *l, int *line);
/* The same for a key that must be there ("[KIND NAME]: KEY missing (KEY =
 * example)"). */
int sx_out_needed_list(cli_suite *s, const cli_suite_output *o, const char *key, char sep,
                       const char *example, const char *expect, sx_strlist *l, int *line);
int sx_where_fixed(const cli_suite_output *o, int a); /* where fixes axis a to one value */
/* A list of [grid] axes under key into axes[*n]. */
int sx_parse_axes(cli_suite *s, const cli_suite_output *o, const char *key, int *axes, int *n);
/* where = AXIS=VALUE ... into o's where fields. */
int sx_parse_where(cli_suite *s, cli_suite_output *o);
/* Rows / groups under key: default every free axis but `other`; a given
 * list must cover them. */
int sx_rows_default_and_cover(cli_suite *s, cli_suite_output *o, const char *key, int other);
/* digits, logx, logy, diagonal, title, labels, caption, ranges, key, lines, with. */
int sx_parse_digits_bools(cli_suite *s, cli_suite_output *o);
/* values = final, best (key) into *mask (1 final, 2 best; def if absent);
 * single: exactly one. */
int sx_parse_values_mask(cli_suite *s, cli_suite_output *o, const char *key, int def, int single,
                         int *mask);

/* Mean, sample std (NaN for n < 2) and count of the non-NaN values. */
typedef struct {
    double mean, std;
    int n;
} sx_agg;

sx_agg sx_aggregate(const double *x, int n);

/* Runs with the same values of some axes (vi: those values; runs: indices
 * into s->runs, n of them). */
typedef struct {
    int vi[CLI_SUITE_MAX_AXES];
    int *runs;
    int n;
} sx_group;

/* The runs of s that pass o's where, grouped by the values of axes[0..n_axes)
 * (in the order of the where lists, then grid order) into *out (caller
 * frees with sx_groups_free).  Returns the number of groups. */
int sx_build_groups(const cli_suite *s, const cli_suite_output *o, const int *axes, int n_axes,
                    sx_group **out);
void sx_groups_free(sx_group *g, int n);
/* "Manifold Mixup, data=moons" ("all runs" without axes). */
void sx_group_label(const cli_suite *s, const int *axes, int n_axes, const int *vi, char *buf,
                    size_t len);
/* Metric m aggregated over the done runs of g (only those with axis col at
 * value cv when col >= 0). */
sx_agg sx_group_metric(sx_report_ctx *c, const sx_group *g, int col, int cv,
                       const cli_suite_metric *m);
/* The paired differences of metric m, (run with axis `axis` at a) - (run
 * at b with the same value on every other axis), over the done runs of g
 * (only those with axis col at value cv when col >= 0), aggregated. */
sx_agg sx_group_contrast(sx_report_ctx *c, const sx_group *g, int col, int cv, int axis, int a,
                         int b, const cli_suite_metric *m);
/* "2 seeds", "2 seeds x 3 folds", "1 run". */
/* The values of axis a that o's where keeps (o NULL: all of them). */
int sx_kept_values(const cli_suite *s, const cli_suite_output *o, int a);
void sx_aggregate_text(const cli_suite *s, const cli_suite_output *o, char *buf, size_t len);

/* ---------------------------------------------------------------- tables, figures, claims */

int sx_in_list(const int *x, int n, int v); /* 1 if v is one of x[0..n) */
const char *sx_cmp_text(cli_suite_cmp c);   /* "<", "<=", ... */

/* A kind of table or figure: its keys, its parse-time check and its
 * report-time writer.  cli_suite_output.kind indexes sx_table_kinds
 * (suite_table.c) or sx_figure_kinds (suite_figure.c). */
typedef struct {
    const char *name;
    const char *summary;
    const char *keys; /* accepted keys besides kind, blank-separated */
    int (*check)(cli_suite *s, cli_suite_output *o);
    mg_status (*write)(sx_report_ctx *c, const cli_suite_output *o);
} sx_output_kind;

extern const sx_output_kind sx_table_kinds[];
extern const int sx_n_table_kinds;
extern const sx_output_kind sx_figure_kinds[];
extern const int sx_n_figure_kinds;

/* 1 if gnuplot is an executable on the PATH. */
int sx_gnuplot_on_path(void);
/* Empty c's figures/gnuplot.log (each render appends gnuplot's output to
 * it) before a report renders, so it holds what this report's renders
 * said; MG_ERR_IO naming it if it cannot be removed. */
mg_status sx_gnuplot_log_reset(const sx_report_ctx *c);
/* The path of file in run r's directory into path; 0 (nothing written) if the
 * run is not done. */
int sx_done_run_file(const sx_report_ctx *c, int r, const char *file, char *path, size_t len);
/* Render figure o (when asked and possible) and add it to REPORT.md; the
 * end of every figure writer. */
mg_status sx_figure_rendered(sx_report_ctx *c, const cli_suite_output *o, const char *title,
                             int has_data);
/* The kinds made of panels (suite_panels.c). */
int sx_check_montage(cli_suite *s, cli_suite_output *o);
mg_status sx_write_montage(sx_report_ctx *c, const cli_suite_output *o);
int sx_check_heatmap(cli_suite *s, cli_suite_output *o);
mg_status sx_write_heatmap(sx_report_ctx *c, const cli_suite_output *o);

/* Claims (suite_claim.c): the [claim] sections of s into s->claims. */
int sx_parse_claims(cli_suite *s);

typedef enum { SX_HOLDS, SX_FAILS, SX_INCONCLUSIVE, SX_NODATA } sx_verdict;

const char *sx_verdict_text(sx_verdict v);

/* The evaluation of one claim (owned strings: sx_claim_eval_free). */
typedef struct {
    sx_verdict verdict;
    int cells[4]; /* cells per verdict */
    char *table;  /* markdown table of the measured values */
    char *checks; /* markdown list, one line per comparison */
    char *brief;  /* one line for summary tables */
} sx_claim_eval;

void sx_claim_evaluate(sx_report_ctx *c, const cli_suite_claim *cl, sx_claim_eval *e);
void sx_claim_eval_free(sx_claim_eval *e);
/* The claim's section of a report; prefix: the suite's OUT relative to the
 * report's directory ("" for OUT/REPORT.md). */
void sx_claim_render(FILE *f, sx_report_ctx *c, const cli_suite_claim *cl, const sx_claim_eval *e,
                     const char *prefix);
/* One row per claim of c's suite (with_suite: a suite column). */
void sx_claims_summary_rows(FILE *f, sx_report_ctx *c, const sx_claim_eval *ev, const char *prefix,
                            int with_suite);
/* OUT/claims.tsv. */
mg_status sx_write_claims_tsv(sx_report_ctx *c, const sx_claim_eval *ev);

/* Expand the parsed grid into s's runs (resolved keys, stable ids); the
 * number of problems, each printed with FILE:LINE (suite_grid.c). */
int sx_expand_grid(cli_suite *s);

/* ---------------------------------------------------------------- commands (suite_exec.c) */

/* 1 if name is an executable file in a directory of PATH. */
int sx_on_path(const char *name);
/* argv (NULL-terminated) as one line, for messages. */
void sx_command_text(char *const *argv, char *buf, size_t len);
/* Run argv (PATH search) with stdin /dev/null; its stdout and stderr into
 * *out and *err (caller frees).  Returns its exit status, 127 if it could
 * not be started, 128 + N if killed by signal N. */
int sx_run_capture(char *const *argv, char **out, char **err);
/* "mixgeo: CMD failed (exit RC): COMMAND" and the command's own error. */
void sx_command_failed(char *const *argv, int rc, const char *err);
/* s single-quoted for sh. */
void sx_shell_quote(FILE *f, const char *s);

#endif /* MIXGEO_CLI_SUITE_INTERNAL_H */
