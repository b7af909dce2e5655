/*
 * cli.h - shared pieces of the `mixgeo` program (src/cli/).
 *
 * The program is one binary with subcommands taken from a table
 * {name, fn, summary} in main.c; to add one, write `int cli_cmd_NAME(int argc,
 * char **argv)` in its own cmd_NAME.c, declare it below and add a row to the
 * table.  argv[0] of a subcommand is its name.
 *
 * What lives where:
 *  - main.c:   the subcommand table, main(), messages and logging, exit codes,
 *              signals, the progress line, run-directory paths, the git
 *              revision and provenance line, TSV and JSON writers.
 *  - config.c: option tables (one table drives getopt_long, the INI keys, the
 *              --help text and the saved config.ini), number parsing with
 *              messages that name the flag or FILE:LINE: key.
 *  - run_config.c: the run configuration shared by train / eval / analyze /
 *              dump / compare: typed config, the data spec, config.ini.
 *
 * Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error,
 * 130 interrupted (SIGINT/SIGTERM; the run can be resumed).
 *
 * Locale: the program never calls setlocale(), so printf/strtod use "C"
 * (a '.' decimal point) whatever the environment says.
 */
#ifndef MIXGEO_CLI_H
#define MIXGEO_CLI_H

#include "mixgeo.h"

#include <cJSON.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

/* ---------------------------------------------------------------- commands */

enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_RUNTIME = 1,
    CLI_EXIT_USAGE = 2,
    CLI_EXIT_INTERRUPTED = 130
};

typedef int (*cli_cmd_fn)(int argc, char **argv);
typedef struct {
    const char *name;    /* `mixgeo NAME ...`                 */
    cli_cmd_fn fn;       /* argv[0] is NAME; returns the exit code */
    const char *summary; /* one line for `mixgeo --help`      */
} cli_command;

int cli_cmd_train(int argc, char **argv);
int cli_cmd_eval(int argc, char **argv);
int cli_cmd_analyze(int argc, char **argv); /* cmd_analyze.c */
int cli_cmd_theory(int argc, char **argv);  /* cmd_theory.c  */
int cli_cmd_dump(int argc, char **argv);    /* cmd_dump.c    */
int cli_cmd_plot(int argc, char **argv);    /* cmd_plot.c    */
int cli_cmd_compare(int argc, char **argv); /* cmd_compare.c */
int cli_cmd_suite(int argc, char **argv);   /* cmd_suite.c   */

/* 1 if NAME is a subcommand (INI sections named after other subcommands are
 * skipped by cli_ini_load, so one file can configure several commands). */
int cli_command_exists(const char *name);

/* ---------------------------------------------------------------- messages */

/* -q: silences everything but errors (also the library's log callback). */
void cli_set_quiet(int quiet);
int cli_quiet(void);
/* "mixgeo: <msg>\n" on stderr, always. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "<msg>\n" on stderr unless quiet (clears a pending progress line first). */
void cli_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "mixgeo: <mg_errmsg()>" and return the exit code for st:
 * MG_ERR_CONFIG -> 2, MG_ERR_INTERRUPTED -> 130, anything else -> 1. */
int cli_fail_status(mg_status st);
/* Print each line of a multi-line message as "mixgeo: <line>". */
void cli_error_lines(const char *msg);

/* ---------------------------------------------------------------- signals */

/* SIGINT/SIGTERM/SIGUSR1 set a flag (a second signal more than a second
 * after the first kills the process the default way; one within a second is
 * the same request).  The training hooks poll cli_stop_requested(). */
void cli_signals_install(void);
int cli_stop_requested(void);

/* ---------------------------------------------------------------- progress */

/* A status line on stderr: when stderr is a terminal, cli_progress_update
 * rewrites one line in place (\r, at most ~10 times a second); otherwise it
 * prints nothing.  cli_progress_line prints a permanent line (TTY or not).
 * Everything is silent under -q. */
double cli_now(void); /* monotonic seconds */
void cli_progress_update(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_progress_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_progress_clear(void);

/* ---------------------------------------------------------------- files */

/* buf <- "dir/file"; MG_ERR_CONFIG if it does not fit. */
mg_status cli_path(char *buf, size_t len, const char *dir, const char *file);
int cli_file_exists(const char *path);
int cli_dir_exists(const char *path);

/* The git revision of the program's source tree ("git rev-parse --short HEAD"
 * run next to the executable), or "unknown".  Cached. */
const char *cli_git_revision(void);
/* "# mixgeo 0.1.0 seed=S git=REV config=CONFIG" (no newline). */
void cli_provenance(char *buf, size_t len, uint64_t seed, const char *config);

/* TSV: the provenance line, "# columns: a b c", then one row per line,
 * tab-separated, every number "%.9g" (NaN prints as "nan").  rows is
 * nrows x ncols, row-major.  Written atomically (mg_write_atomic). */
mg_status cli_tsv_write(const char *path, const char *provenance, const char *const *columns,
                        int ncols, const double *rows, int nrows);
/* The same with a blank line after every `block` rows (the scan lines of a
 * grid, for gnuplot's pm3d); block <= 0: none. */
mg_status cli_tsv_write_blocks(const char *path, const char *provenance,
                               const char *const *columns, int ncols, const double *rows,
                               int nrows, int block);
/* Read the numeric rows of a file written by cli_tsv_write ('#' lines
 * skipped; every row must have ncols fields).  *rows is malloc'ed (caller
 * frees), nrows x ncols. */
mg_status cli_tsv_read(const char *path, int ncols, double **rows, int *nrows);
/* x rounded to the 9 significant digits "%.9g" keeps, so that values kept in
 * memory equal the ones read back from a TSV file. */
double cli_round9(double x);

/* Pretty-printed JSON plus a newline, written atomically. */
mg_status cli_json_write(const char *path, const cJSON *root);
/* The bytes of a file plus a terminating NUL (caller frees), their count in
 * *n (n may be NULL); NULL if missing, unreadable or max bytes or larger. */
char *cli_read_file(const char *path, size_t max, size_t *n);
/* The parsed JSON file (caller cJSON_Deletes), NULL if missing, bad or
 * larger than 64 MiB. */
cJSON *cli_json_load(const char *path);
/* A PDF's creation date set to SOURCE_DATE_EPOCH, else 1970-01-01 (in place,
 * same length): re-rendered figures are byte-for-byte the same. */
void cli_pdf_fix_date(const char *path);
/* A new JSON object holding "mixgeo" (the version) and "git" (the revision),
 * the head of every summary file; NULL when out of memory (caller owns). */
cJSON *cli_json_stamped(void);

/* ---------------------------------------------------------------- options */

typedef enum {
    CLI_FLAG, /* boolean: --name sets, --no-name clears; INI: true/false/1/0/yes/no/on/off */
    CLI_VALUE /* takes an argument                                                         */
} cli_arg_kind;

enum {
    CLI_SAVE = 1u << 0,    /* an INI key, written to RUN/config.ini               */
    CLI_RESUME_OK = 1u << 1, /* may differ from RUN/config.ini on --resume         */
    CLI_DATA = 1u << 2,    /* describes the data: `eval` accepts it as an override */
    CLI_NO_NEG = 1u << 3   /* flag without a --no-NAME form                        */
};

typedef struct {
    const char *name;    /* long option and INI key                        */
    int short_name;      /* 0 = none                                        */
    cli_arg_kind kind;
    const char *metavar; /* for --help: "N", "X", "LIST" (CLI_VALUE only)   */
    const char *def;     /* default as text; "auto" when it depends on others */
    unsigned flags;      /* CLI_SAVE | ...                                   */
    const char *help;    /* one sentence; the default is appended by --help  */
    const char *group;   /* non-NULL: --help prints this heading before it   */
} cli_opt;

#define CLI_MAX_OPTS 96
#define CLI_ORIGIN_LEN 512

/* The option values of one command as text, in table order.  value[i] NULL
 * means "not set" (the default applies).  origin[i] says where the value came
 * from, for messages: "--alpha", "exp.ini:7: alpha" or "--alpha (default)". */
typedef struct {
    const cli_opt *opts;
    int n;
    char *value[CLI_MAX_OPTS];             /* owned */
    unsigned char from_argv[CLI_MAX_OPTS]; /* 1 if set on the command line */
    char origin[CLI_MAX_OPTS][CLI_ORIGIN_LEN];
} cli_values;

void cli_values_init(cli_values *v, const cli_opt *opts, int n);
void cli_values_free(cli_values *v);
int cli_opt_index(const cli_values *v, const char *name); /* -1 if unknown */
/* The value (or the default when unset); never NULL. */
const char *cli_get(const cli_values *v, const char *name);
const char *cli_origin(const cli_values *v, const char *name);
int cli_is_set(const cli_values *v, const char *name);
void cli_set(cli_values *v, int i, const char *value, const char *origin);
void cli_set_by_name(cli_values *v, const char *name, const char *value, const char *origin);
/* Replace the text of option name by its canonical spelling (keeping where
 * it came from; an unset option becomes "--NAME (default)"). */
void cli_set_canonical(cli_values *v, const char *name, const char *text);
/* 1 if s holds only white space. */
int cli_is_blank(const char *s);

/* Parse argv[1..] with getopt_long over v's table.  Positional arguments are
 * stored in pos[0..*npos-1] (at most maxpos; more is a usage error).  Returns
 * 0 or the number of problems (each printed, naming the option). */
int cli_parse_args(cli_values *v, const char *cmd, int argc, char **argv, char **pos,
                   int maxpos, int *npos);
/* Append the data options of `train` (those flagged CLI_DATA) to opts as
 * overrides of a run's config.ini ("as in RUN/config.ini"), under a "Data
 * overrides" heading; *n grows, asserting it stays below max. */
void cli_add_data_overrides(cli_opt *opts, int *n, int max);
/* The common start of every subcommand: cli_parse_args, then --help (printed
 * with usage/description/epilog; *rc = 0) and -q.  Returns 1 when the
 * caller should return *rc at once (help shown: 0; a usage error, already
 * printed: 2), else 0. */
int cli_begin(cli_values *v, const char *cmd, int argc, char **argv, char **pos, int maxpos,
              int *npos, const char *usage, const char *description, const char *epilog, int *rc);
/* Read an INI file into v: keys of section `section` or of no section; keys
 * of sections named after other subcommands are skipped.  Only CLI_SAVE
 * options are keys.  Every problem is printed as "mixgeo: FILE:LINE: ...".
 * Returns 0, the number of problems, or -1 if the file cannot be read
 * (printed too).  If only_unset, keys already set in v are left alone (so
 * flags given on the command line keep precedence over the file). */
int cli_ini_load(cli_values *v, const char *path, const char *section, int only_unset);
/* Write the CLI_SAVE options of v as "key = value" lines under [section],
 * after a comment header (header may hold several lines, without '#'). */
mg_status cli_ini_write(const char *path, const cli_values *v, const char *section,
                        const char *header);
/* The same text on an open stream (for --dry-run). */
void cli_ini_print(FILE *f, const cli_values *v, const char *section, const char *header);
/* --help: usage line(s), description, every option with its default. */
void cli_print_help(FILE *f, const cli_values *v, const char *usage, const char *description,
                    const char *epilog);

/* Typed access.  Each returns 0 on success; on failure prints one line
 * "mixgeo: ORIGIN: problem (got 'VALUE')" and returns 1, so callers can sum
 * the results and report every problem before giving up. */
int cli_get_int(const cli_values *v, const char *name, long lo, long hi, int *out);
int cli_get_u64(const cli_values *v, const char *name, uint64_t *out);
int cli_get_double(const cli_values *v, const char *name, double *out); /* finite */
int cli_get_bool(const cli_values *v, const char *name, int *out);
/* names[] is NULL-terminated; *out = index of the match. */
int cli_get_enum(const cli_values *v, const char *name, const char *const *names, int *out);
/* "0,1,2" (or empty) -> out[0..*n-1]; each in lo..hi. */
int cli_get_int_list(const cli_values *v, const char *name, long lo, long hi, int *out,
                     int max, int *n);
/* Report a problem with option `name`: "mixgeo: ORIGIN: <fmt> (got 'VALUE')";
 * returns 1. */
int cli_bad(const cli_values *v, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Shortest "%.Ng" text that reads back as x. */
void cli_format_double(char *buf, size_t len, double x);

/* ---------------------------------------------------------------- run config */

/* The options of `mixgeo train` (also the keys of RUN/config.ini). */
extern const cli_opt cli_train_opts[];
extern const int cli_train_n_opts;

typedef enum { CLI_DATA_SYNTH, CLI_DATA_FASHION, CLI_DATA_IDX, CLI_DATA_CSV } cli_data_kind;

/* A resolved, typed run configuration: what train does and what eval and the
 * analyses rebuild.  Filled by cli_run_config_resolve from cli_values built
 * over cli_train_opts. */
typedef struct {
    /* data */
    cli_data_kind data_kind;
    mg_synth_kind synth;       /* CLI_DATA_SYNTH                          */
    char data[1024];           /* the --data text                         */
    char data_dir[1024];       /* fashion-mnist / idx: the directory      */
    char csv_train[1024], csv_test[1024]; /* csv: files ("" = no test set) */
    int classes;               /* 0 = from the labels (idx, csv)          */
    int n_per_class, n_test_per_class;
    double noise;
    uint64_t data_seed;
    int standardize;
    int val;                   /* examples held out of train for validation */
    int n_train;               /* train on a random subset of this size (0 = all) */
    /* model */
    char arch[256];            /* "auto" until cli_run_config_finish_arch */
    int widths[MG_MAX_BLOCKS + 1], n_widths; /* parsed --arch (0 while auto) */
    int n_blocks;              /* L = n_widths - 1 (3 for an auto --arch)  */
    int preact;                /* --arch preact:... or cnn:... (a conv net:
                                  widths unused, needs image data)          */
    mg_arch_opts arch_opts;
    /* training */
    mg_train_config train;
    int threads;               /* as given: 0 = all cores                  */
    mg_conv_backend conv;      /* --conv (set with mg_set_conv_backend
                                  before the model is built)               */
    char out[1024];
    int checkpoint_every;
} cli_run_config;

/* Parse and check every option of v (built over cli_train_opts); resolve the
 * "auto" values that do not need the data; write canonical text back into v
 * (so config.ini and --resume comparisons see one spelling).  Prints every
 * problem; returns their number. */
int cli_run_config_resolve(cli_values *v, cli_run_config *c);
/* After the data is loaded: an "auto" --arch becomes DIM-H-H-CLASSES; then
 * the widths must match the data (input = features, output = classes).
 * Prints every problem naming --arch / --classes; returns their number. */
int cli_run_config_finish_arch(cli_values *v, cli_run_config *c, const mg_dataset *train);

/* The datasets of a run (mg_run_data): train (after removing val), val (NULL
 * unless --val > 0), test (NULL when the source has none), all standardised
 * with the training statistics when --standardize. */
typedef mg_run_data cli_data;
/* The library's description of the run's data (mg_data_spec) from c. */
void cli_data_spec(const cli_run_config *c, mg_data_spec *s);
/* mg_run_data_load of cli_data_spec(c); errors name the path or option. */
mg_status cli_data_load(const cli_run_config *c, cli_data *d);
#define cli_data_free mg_run_data_free

/* Read RUN/config.ini into v (origins "RUN/config.ini:LINE: key").  Returns 0,
 * the number of problems, or -1 when the file cannot be read (printed). */
int cli_run_config_load(cli_values *v, const char *run);
/* Write RUN/config.ini from v (after cli_run_config_resolve). */
mg_status cli_run_config_save(const cli_values *v, const char *run);
/* A cJSON object with every CLI_SAVE key of v as a string (caller owns). */
cJSON *cli_values_to_json(const cli_values *v);

/* ---------------------------------------------------------------- analysed runs */

/* A trained run opened by `analyze` and `dump` (run.c): the run's data
 * rebuilt as `eval` does, its model, the split and layer asked for.
 * Everything is owned; cli_analysis_close frees it. */
typedef struct {
    char run[1024], ckpt[4096];
    cli_values rv;          /* RUN/config.ini with the data overrides          */
    cli_run_config c;
    mg_run opened;          /* model, data, split (mg_run_open)                 */
    mg_model *m;            /* = opened.model                                   */
    int split;              /* 0 train, 1 val, 2 test                          */
    const char *split_name;
    int layer;              /* k in 0..L                                       */
    int features;           /* --layer features: the input of the final dense
                               layer (layer = L, feat_dim features)            */
    int feat_dim;
    int max_per_class;      /* resolved: 0 = all (mg_an_resolve_max_per_class)  */
    int max_per_class_auto; /* --max-per-class auto                           */
    const mg_dataset *set;  /* the split (after cli_analysis_select: the kept
                               examples)                                       */
    mg_dataset *subset;     /* owned copy of the kept examples, or NULL        */
    int *class_counts;      /* after cli_analysis_select: classes entries      */
} cli_analysis_run;

/* Options shared by analyze and dump: --layer, --split, --max-per-class
 * (default auto: the same rule in both), --threads and the data overrides of
 * train; appended to opts (n updated).  eval has --split, --threads and the
 * data overrides only: cli_analysis_open reads --layer and --max-per-class
 * when the command has them. */
void cli_analysis_add_opts(cli_opt *opts, int *n, const char *default_split);
/* Open RUN with the values of those options (ev): RUN/config.ini with the
 * data overrides of the command line resolved to an mg_data_spec, then
 * mg_run_open (the one way eval, analyze and dump open a run).  Prints every
 * problem; returns 0 or the exit code (2 usage, 1 runtime). */
int cli_analysis_open(cli_analysis_run *r, const char *run, const cli_values *ev);
/* Keep the first max_per_class examples of each class (mg_an_select), as the
 * analyses do: r->set becomes them.  Returns 0 or the exit code. */
int cli_analysis_select(cli_analysis_run *r);
void cli_analysis_close(cli_analysis_run *r);

#endif /* MIXGEO_CLI_H */
