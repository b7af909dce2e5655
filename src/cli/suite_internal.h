/*
 * suite_internal.h - what the three files of experiment suites (src/cli/)
 * share; not for other files (their interface is suite.h):
 *   suite.c         the suite file: reading, checking, grid expansion, and
 *                   the shared helpers below
 *   suite_run.c     run directories, the state of runs, markers
 *   suite_report.c  the report: tables, figures, claims, REPORT.md
 *
 * Everything declared here is defined in suite.c, except the static inline
 * helpers (here) and the sx_write_* functions of the kinds tables
 * (suite_report.c).  Ownership follows the definitions' comments; nothing
 * here prints except the INI reader (unless quiet).
 */
#ifndef MIXGEO_CLI_SUITE_INTERNAL_H
#define MIXGEO_CLI_SUITE_INTERNAL_H

#include "suite.h"

#include <ctype.h>
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

/* A list of trimmed items (owned; sx_strlist_free empties it). */
typedef struct {
    char *item[CLI_SUITE_MAX_LIST];
    int n;
} sx_strlist;

void sx_strlist_free(sx_strlist *l);
/* Split at blanks (no empty items).  Returns 0, or 2 if there are more than
 * CLI_SUITE_MAX_LIST items (l is then empty). */
int sx_strlist_words(sx_strlist *l, const char *text);

/* ---------------------------------------------------------------- files */

/* The file's text (at most about max bytes; caller frees), NULL if it cannot
 * be opened. */
char *sx_read_text(const char *path, size_t max);
/* The parsed JSON file (caller cJSON_Deletes), NULL if missing or bad. */
cJSON *sx_json_load(const char *path);
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

/* ---------------------------------------------------------------- INI files */

/* Read an INI file into sections (*out owned by the caller: free with
 * sx_sections_free).  Returns the number of problems (printed unless
 * quiet), -1 if the file cannot be read. */
int sx_ini_read(const char *path, int quiet, cli_suite_section **out, int *n_out);
void sx_sections_free(cli_suite_section *sec, int n);
/* The entry of key in sec (NULL sec: none), NULL if absent. */
const cli_suite_entry *sx_find_entry(const cli_suite_section *sec, const char *key);

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
const char *sx_lookup_label(const sx_name_label *t, const char *name); /* NULL: none */
const char *sx_axis_label(const cli_suite_axis *a);

/* ---------------------------------------------------------------- metrics */

/* Index of a reducer name (min max mean sum count first last changes), -1. */
int sx_reducer_index(const char *name);
/* The position of the last '|' outside [...] in path, or NULL. */
const char *sx_reducer_bar(const char *path);
/* The filter operator at p (0 = 1 != 2 < 3 > 4 <= 5 >=, its length into
 * *len), -1 if none. */
int sx_filter_op(const char *p, int *len);
/* The end of the JSON-path segment at seg: the first '.' outside quotes and
 * [filters], or the terminating NUL (*end).  Returns 1 when the brackets go
 * out of balance inside the segment ("unbalanced [ ]"); *open says what is
 * still open when the path ends there: 1 a '[', 2 a quote. */
int sx_path_segment(char *seg, char **end, int *open);

/* ---------------------------------------------------------------- tables, figures, claims */

int sx_in_list(const int *x, int n, int v); /* 1 if v is one of x[0..n) */
const char *sx_cmp_text(cli_suite_cmp c);   /* "<", "<=", ... */

/* The state of one report (suite_report.c). */
typedef struct sx_report_ctx sx_report_ctx;

/* A kind of table or figure: its keys, its parse-time check (suite.c) and
 * its report-time writer (suite_report.c).  cli_suite_output.kind indexes
 * sx_table_kinds or sx_figure_kinds (both in suite.c). */
typedef struct {
    const char *name;
    const char *summary;
    const char *keys; /* accepted keys besides kind, blank-separated */
    int (*check)(cli_suite *s, cli_suite_output *o);
    mg_status (*write)(sx_report_ctx *c, const cli_suite_output *o);
} sx_output_kind;

extern const sx_output_kind sx_table_kinds[];
extern const sx_output_kind sx_figure_kinds[];

mg_status sx_write_table_summary(sx_report_ctx *c, const cli_suite_output *o);
mg_status sx_write_curve(sx_report_ctx *c, const cli_suite_output *o);
mg_status sx_write_bar(sx_report_ctx *c, const cli_suite_output *o);
mg_status sx_write_sweep(sx_report_ctx *c, const cli_suite_output *o);
mg_status sx_write_montage(sx_report_ctx *c, const cli_suite_output *o);

#endif /* MIXGEO_CLI_SUITE_INTERNAL_H */
