/* suite.c - experiment suites, part 1 of 3: the suite file.  Reads the INI
 * file, checks every section ([suite], [base], [method], [grid], [analyze],
 * [table], [figure], [claim]; metrics and JSON paths), expands the grid into
 * runs with stable ids (cli_suite_load, cli_suite_free), and holds the
 * helpers the other two parts share (declared in suite_internal.h).
 * suite_run.c: the state of runs on disk and their markers; suite_report.c:
 * the report (tables, figures and claims aggregated over seeds).  See
 * suite.h for the file format and the run-directory layout; cmd_suite.c
 * runs the processes.
 *
 * Adding a table or figure kind: write a check function here (parse-time:
 * reads the section's keys, prints FILE:LINE: KEY problems) and a write
 * function in suite_report.c (report-time: data + script; declare it in
 * suite_internal.h), and add a row to sx_table_kinds or sx_figure_kinds
 * below.  Metrics are JSON paths into any JSON file of a run (summary.json
 * by default, e.g. an analysis's summary.json), so tables of analysis
 * results need no new code: metrics = analysis/test-L1/summary.json:X.
 */
#include "suite_internal.h"

#include "analyze.h" /* the registry of analyses: what external states allow */

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS 100000

/* ---------------------------------------------------------------- helpers */

/* (xcalloc, xstrdup, trim, ...: suite_internal.h) */

/* [A-Za-z0-9._-]+ */
static int is_name(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-') return 0;
    return 1;
}

int sx_parse_long_text(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || end == s || *end || x < lo || x > hi) return 0;
    *out = x;
    return 1;
}

int sx_parse_double_text(const char *s, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end || !isfinite(x)) return 0;
    *out = x;
    return 1;
}

static int parse_bool_text(const char *s, int *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on", NULL};
    static const char *const no[] = {"0", "false", "no", "off", NULL};
    for (int i = 0; yes[i]; i++)
        if (strcasecmp(s, yes[i]) == 0) return *out = 1, 1;
    for (int i = 0; no[i]; i++)
        if (strcasecmp(s, no[i]) == 0) return *out = 0, 1;
    return 0;
}

#define FNV_INIT 0xcbf29ce484222325ull

static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

void sx_strlist_free(sx_strlist *l)
{
    for (int i = 0; i < l->n; i++) free(l->item[i]);
    l->n = 0;
}

/* Split text at sep.  Returns 0, 1 if an item (or the whole text) is empty,
 * 2 if there are more than CLI_SUITE_MAX_LIST items.  On failure l is empty. */
static int strlist_split(sx_strlist *l, const char *text, char sep)
{
    l->n = 0;
    const char *p = text;
    for (;;) {
        const char *e = strchr(p, sep);
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char *it = xstrndup(p, len);
        char *t = trim(it);
        int err = !*t ? 1 : l->n == CLI_SUITE_MAX_LIST ? 2 : 0;
        if (err) {
            free(it);
            sx_strlist_free(l);
            return err;
        }
        memmove(it, t, strlen(t) + 1);
        l->item[l->n++] = it;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

/* Split at blanks (no empty items). */
int sx_strlist_words(sx_strlist *l, const char *text)
{
    l->n = 0;
    const char *p = text;
    for (;;) {
        while (isspace((unsigned char)*p)) p++;
        if (!*p) return 0;
        const char *e = p;
        while (*e && !isspace((unsigned char)*e)) e++;
        if (l->n == CLI_SUITE_MAX_LIST) {
            sx_strlist_free(l);
            return 2;
        }
        l->item[l->n++] = xstrndup(p, (size_t)(e - p));
        p = e;
    }
}

static int word_in(const char *words, const char *w)
{
    size_t n = strlen(w);
    const char *p = words;
    while (*p) {
        while (*p == ' ') p++;
        const char *e = p;
        while (*e && *e != ' ') e++;
        if ((size_t)(e - p) == n && strncmp(p, w, n) == 0) return 1;
        p = e;
    }
    return 0;
}

char *sx_read_text(const char *path, size_t max)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = xcalloc(cap, 1);
    size_t k;
    while ((k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (n >= max) break;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
    }
    fclose(f);
    buf[n] = '\0';
    return buf;
}

cJSON *sx_json_load(const char *path)
{
    char *text = sx_read_text(path, (size_t)64 << 20);
    if (!text) return NULL;
    cJSON *j = cJSON_Parse(text);
    free(text);
    return j;
}

static mg_status emit_text(FILE *f, void *user)
{
    fputs((const char *)user, f);
    return MG_OK;
}

mg_status sx_write_text_atomic(const char *path, const char *text)
{
    return mg_write_atomic(path, emit_text, (void *)text);
}

void sx_mb_open(sx_membuf *m)
{
    m->buf = NULL;
    m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    MG_ASSERT(m->f != NULL);
}

/* Close the stream; m->buf is the text (caller frees). */
char *sx_mb_close(sx_membuf *m)
{
    fclose(m->f);
    m->f = NULL;
    return m->buf;
}

mg_status sx_mb_write(sx_membuf *m, const char *path)
{
    char *text = sx_mb_close(m);
    mg_status st = sx_write_text_atomic(path, text ? text : "");
    free(text);
    return st;
}

void sx_iso_time(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---------------------------------------------------------------- INI reader */

/* Read an INI file into sections.  '#' or ';' at the start of a line or after
 * a blank start a comment.  Sections "[kind]" or "[kind name]".  Syntax
 * problems (and duplicate sections/keys) are printed unless quiet and
 * counted; returns -1 if the file cannot be read. */
int sx_ini_read(const char *path, int quiet, cli_suite_section **out, int *n_out)
{
    *out = NULL;
    *n_out = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (!quiet) cli_error("cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    cli_suite_section *sec = NULL;
    int n = 0, cap = 0, problems = 0, lineno = 0, cur = -1;
    char *line = NULL;
    size_t lcap = 0;
#define INI_BAD(...)                                                                               \
    do {                                                                                           \
        if (!quiet) cli_error(__VA_ARGS__);                                                        \
        problems++;                                                                                \
    } while (0)
    while (getline(&line, &lcap, f) >= 0) {
        lineno++;
        for (char *q = line; *q; q++) {
            if ((*q == '#' || *q == ';') && (q == line || isspace((unsigned char)q[-1]))) {
                *q = '\0';
                break;
            }
        }
        char *p = trim(line);
        if (!*p) continue;
        if (*p == '[') {
            size_t l = strlen(p);
            cur = -2; /* keys until the next good header are ignored */
            if (p[l - 1] != ']') {
                INI_BAD("%s:%d: a section header must end with ']'", path, lineno);
                continue;
            }
            p[l - 1] = '\0';
            char *inner = trim(p + 1);
            char *sp = inner;
            while (*sp && !isspace((unsigned char)*sp)) sp++;
            char *name = sp;
            if (*sp) {
                *sp = '\0';
                name = trim(sp + 1);
            }
            if (!*inner) {
                INI_BAD("%s:%d: empty section header", path, lineno);
                continue;
            }
            int dup = -1;
            for (int i = 0; i < n; i++)
                if (!strcmp(sec[i].kind, inner) && !strcmp(sec[i].name, name)) dup = i;
            if (dup >= 0) {
                INI_BAD("%s:%d: duplicate section [%s%s%s] (first at line %d)", path, lineno, inner,
                        *name ? " " : "", name, sec[dup].line);
                continue;
            }
            if (n == cap) {
                cap = cap ? 2 * cap : 8;
                sec = xrealloc(sec, sizeof *sec * (size_t)cap);
            }
            memset(&sec[n], 0, sizeof sec[n]);
            sec[n].kind = xstrdup(inner);
            sec[n].name = xstrdup(name);
            sec[n].line = lineno;
            cur = n++;
            continue;
        }
        char *eq = strchr(p, '=');
        if (!eq) {
            INI_BAD("%s:%d: expected 'key = value', '[section]' or a comment", path, lineno);
            continue;
        }
        *eq = '\0';
        char *key = trim(p), *value = trim(eq + 1);
        if (!*key) {
            INI_BAD("%s:%d: missing key before '='", path, lineno);
            continue;
        }
        if (cur == -1) {
            INI_BAD("%s:%d: %s: key outside of any section (keys go under [suite], [base], [grid], "
                    "...)",
                    path, lineno, key);
            continue;
        }
        if (cur == -2) continue;
        cli_suite_section *s = &sec[cur];
        int dup = -1;
        for (int i = 0; i < s->n; i++)
            if (!strcmp(s->e[i].key, key)) dup = i;
        if (dup >= 0) {
            INI_BAD("%s:%d: %s: duplicate key (first at line %d)", path, lineno, key,
                    s->e[dup].line);
            continue;
        }
        if (s->n == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 8;
            s->e = xrealloc(s->e, sizeof *s->e * (size_t)s->cap);
        }
        s->e[s->n].key = xstrdup(key);
        s->e[s->n].value = xstrdup(value);
        s->e[s->n].line = lineno;
        s->n++;
    }
#undef INI_BAD
    free(line);
    fclose(f);
    *out = sec;
    *n_out = n;
    return problems;
}

void sx_sections_free(cli_suite_section *sec, int n)
{
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < sec[i].n; k++) {
            free(sec[i].e[k].key);
            free(sec[i].e[k].value);
        }
        free(sec[i].e);
        free(sec[i].kind);
        free(sec[i].name);
    }
    free(sec);
}

static const cli_suite_section *find_section(const cli_suite *s, const char *kind, const char *name)
{
    for (int i = 0; i < s->n_sec; i++)
        if (!strcmp(s->sec[i].kind, kind) && (!name || !strcmp(s->sec[i].name, name)))
            return &s->sec[i];
    return NULL;
}

const cli_suite_entry *sx_find_entry(const cli_suite_section *sec, const char *key)
{
    if (!sec) return NULL;
    for (int i = 0; i < sec->n; i++)
        if (!strcmp(sec->e[i].key, key)) return &sec->e[i];
    return NULL;
}

/* ---------------------------------------------------------------- problems */

/* "mixgeo: FILE:LINE: KEY: message"; returns 1. */
static int bad(const cli_suite *s, int line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int bad(const cli_suite *s, int line, const char *key, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (key)
        cli_error("%s:%d: %s: %s", s->path, line, key, msg);
    else
        cli_error("%s:%d: %s", s->path, line, msg);
    return 1;
}

/* ---------------------------------------------------------------- run keys */

/* The options of `mixgeo theory` a theory suite may set: k_opts of
 * cmd_theory.c (keep in sync; out and threads are set by the runner, quiet
 * and help are not configuration).  Values are checked by theory_check. */
static const cli_opt k_theory_opts[] = {
    {"classes", 0, CLI_VALUE, "D", "4", CLI_SAVE, "number of classes d (>= 2)", NULL},
    {"dims", 0, CLI_VALUE, "A-B", "auto", CLI_SAVE, "dimensions of the representation", NULL},
    {"n", 0, CLI_VALUE, "N", "auto", CLI_SAVE, "points, N/D per class", NULL},
    {"alpha", 0, CLI_VALUE, "X", "2", CLI_SAVE, "lambda ~ Beta(alpha, alpha)", NULL},
    {"loss", 0, CLI_VALUE, "sq|kl", "sq", CLI_SAVE, "squared or KL loss", NULL},
    {"iters", 0, CLI_VALUE, "N", "8000", CLI_SAVE, "Adam steps per dimension", NULL},
    {"lr", 0, CLI_VALUE, "X", "0.1", CLI_SAVE, "initial learning rate", NULL},
    {"lr-final", 0, CLI_VALUE, "X", "1e-06", CLI_SAVE, "final learning rate", NULL},
    {"quad-points", 0, CLI_VALUE, "N", "16", CLI_SAVE, "kl: lambda quadrature points", NULL},
    {"rank-rtol", 0, CLI_VALUE, "X", "0.001", CLI_SAVE, "numerical rank tolerance", NULL},
    {"seed", 0, CLI_VALUE, "N", "0", CLI_SAVE, "seed", NULL},
    {"out", 0, CLI_VALUE, "DIR", "auto", CLI_SAVE, "output directory", NULL},
    {"threads", 0, CLI_VALUE, "N", "1", CLI_SAVE, "OpenBLAS threads", NULL},
};
#define N_THEORY_OPTS ((int)(sizeof k_theory_opts / sizeof k_theory_opts[0]))

/* The options of `mixgeo analyze --states` a states suite may set: the
 * External states and Analyses options of cmd_analyze.c's table that apply
 * to external states (keep in sync; out and threads are set by the runner).
 * Values are checked by states_check; the options refused in a states suite
 * are in k_states_refused. */
static const cli_opt k_states_opts[] = {
    {"states", 0, CLI_VALUE, "FILE", "", CLI_SAVE, "the states (.npy, n x ...)", NULL},
    {"labels", 0, CLI_VALUE, "FILE", "", CLI_SAVE, "their labels (.npy, n integers)", NULL},
    {"logits", 0, CLI_VALUE, "FILE", "", CLI_SAVE, "their logits (.npy, n x classes)", NULL},
    {"readout", 0, CLI_VALUE, "W[,B]", "", CLI_SAVE, "the affine readout W (and bias B)", NULL},
    {"only", 0, CLI_VALUE, "LIST", "all", CLI_SAVE, "analyses to run", NULL},
    {"max-per-class", 0, CLI_VALUE, "N|all|auto", "auto", CLI_SAVE, "examples per class", NULL},
    {"seed", 0, CLI_VALUE, "N", "0", CLI_SAVE, "seed of the sampled pairs and subsets", NULL},
    {"bins", 0, CLI_VALUE, "N", "15", CLI_SAVE, "confidence bins (ECE/MCE)", NULL},
    {"hist-bins", 0, CLI_VALUE, "N", "40", CLI_SAVE, "histogram bins", NULL},
    {"lambdas", 0, CLI_VALUE, "N", "21", CLI_SAVE, "lambda grid points", NULL},
    {"pairs", 0, CLI_VALUE, "N|auto", "auto", CLI_SAVE, "pairs per kind", NULL},
    {"out", 0, CLI_VALUE, "DIR", "auto", CLI_SAVE, "output directory", NULL},
    {"threads", 0, CLI_VALUE, "N", "1", CLI_SAVE, "OpenBLAS threads", NULL},
};
#define N_STATES_OPTS ((int)(sizeof k_states_opts / sizeof k_states_opts[0]))

/* Options of `mixgeo analyze` that a states suite refuses, with the reason. */
static const sx_name_label k_states_refused[] = {
    {"layer", "selects a layer of a mixgeo run"},
    {"split", "selects a split of a mixgeo run's data"},
    {"data", "a data override of a mixgeo run"},
    {"data-dir", "a data override of a mixgeo run"},
    {"n-per-class", "a data override of a mixgeo run"},
    {"n-test-per-class", "a data override of a mixgeo run"},
    {"noise", "a data override of a mixgeo run"},
    {"data-seed", "a data override of a mixgeo run"},
    {"standardize", "a data override of a mixgeo run"},
    {"val", "a data override of a mixgeo run"},
    {"n-train", "a data override of a mixgeo run"},
    {"max-examples", "sets DeepFool in input space, which needs the network"},
    {"eps", "sets fgsm, which needs the network"},
    {"fgsm-no-clip", "sets fgsm, which needs the network"},
    {"grid", "sets maps, which need the network"},
    {"n-uniform", "sets the off-manifold inputs, which need the network"},
    {"n-noise", "sets the off-manifold inputs, which need the network"},
    {"quiet", "a command-line option, not a configuration key"},
    {"help", "a command-line option, not a configuration key"},
    {NULL, NULL},
};

/* The step name of a run (steps/NAME.done) and the word of messages. */
static const char *command_name(const cli_suite *s)
{
    return s->command == CLI_SUITE_THEORY   ? "theory"
           : s->command == CLI_SUITE_STATES ? "states"
                                            : "train";
}

int sx_suite_opt(const cli_suite *s, const char *key)
{
    for (int i = 0; i < s->n_opts; i++)
        if (!strcmp(s->opts[i].name, key)) return i;
    return -1;
}

/* Keys that do not change results: left out of the id hash and of the
 * configuration comparison. */
int sx_key_excluded(const char *key)
{
    return !strcmp(key, "out") || !strcmp(key, "threads") || !strcmp(key, "checkpoint-every");
}

/* A key a states suite does not know (key_check): the reason in one line. */
static int states_key_bad(const cli_suite *s, int line, const char *key, const char *where)
{
    static const char keys[] = "states, labels, logits, readout, only, max-per-class, seed, "
                               "bins, hist-bins, lambdas, pairs";
    const char *why = sx_lookup_label(k_states_refused, key);
    if (why)
        return bad(s, line, key,
                   "not for a states suite: %s (command = states analyses saved activations; "
                   "its keys: %s)",
                   why, keys);
    for (int i = 0; i < cli_train_n_opts; i++)
        if (!strcmp(cli_train_opts[i].name, key))
            return bad(s, line, key,
                       "a key of mixgeo train, not of a states suite (command = states runs "
                       "mixgeo analyze --states on saved activations; its keys: %s)",
                       keys);
    return bad(s, line, key,
               "unknown key in %s (expected a key of mixgeo analyze --states: %s; see mixgeo "
               "suite --help)",
               where, keys);
}

/* A run key usable in [base], [method], [grid] and quick. */
static int train_key_check(const cli_suite *s, int line, const char *key, const char *where)
{
    int i = sx_suite_opt(s, key);
    if (i < 0 && s->command == CLI_SUITE_STATES) return states_key_bad(s, line, key, where);
    if (i < 0)
        return bad(s, line, key,
                   "unknown key in %s (expected a key of mixgeo %s: see "
                   "mixgeo %s --help)",
                   where, command_name(s), command_name(s));
    if (!(s->opts[i].flags & CLI_SAVE))
        return bad(s, line, key, "a command-line option of mixgeo %s, not a configuration key",
                   command_name(s));
    if (!strcmp(key, "out") || !strcmp(key, "threads"))
        return bad(s, line, key,
                   "set by mixgeo suite (the run directory is OUT/runs/ID; threads come from -j), "
                   "not by the suite file");
    return 0;
}

/* ---------------------------------------------------------------- labels */

/* The columns of RUN/metrics.tsv (k_columns of cmd_train.c) with the text a
 * reader sees on an axis. */
const sx_name_label sx_train_columns[] = {
    {"epoch", "epoch"},
    {"lr", "learning rate"},
    {"train_loss", "training loss"},
    {"train_acc", "training accuracy"},
    {"val_loss", "validation loss"},
    {"val_nll", "validation NLL (nats)"},
    {"val_acc", "validation accuracy"},
    {"test_loss", "test loss"},
    {"test_nll", "test NLL (nats)"},
    {"test_acc", "test accuracy"},
    {"seconds", "time per epoch (s)"},
    {NULL, NULL},
};

/* Numeric top-level keys of RUN/summary.json. */
static const sx_name_label k_summary_keys[] = {
    {"train_seconds", "training time (s)"},
    {"wall_seconds", "wall-clock time (s)"},
    {"samples_per_second", "training throughput (samples/s)"},
    {"n_params", "parameters"},
    {"epochs_done", "epochs done"},
    {"n_train", "training examples"},
    {"n_val", "validation examples"},
    {"n_test", "test examples"},
    {NULL, NULL},
};

/* Axis (train key) labels. */
static const sx_name_label k_axis_labels[] = {
    {"method", "method"},
    {"alpha", "mixup alpha"},
    {"mix-layers", "eligible layers"},
    {"wd", "weight decay"},
    {"dropout", "dropout probability"},
    {"input-noise", "input noise (std)"},
    {"lr", "learning rate"},
    {"epochs", "epochs"},
    {"batch", "batch size"},
    {"n-per-class", "training points per class"},
    {"noise", "data noise (std)"},
    {"arch", "layer widths"},
    {"seed", "seed"},
    {"data", "data"},
    {"loss", "loss"},
    {"classes", "classes d"},
    {"dims", "dimensions"},
    {"iters", "optimiser steps"},
    {"states", "states file"},
    {"max-per-class", "examples per class"},
    {"pairs", "pairs per kind"},
    {"bins", "confidence bins"},
    {NULL, NULL},
};

const char *sx_lookup_label(const sx_name_label *t, const char *name)
{
    for (int i = 0; t[i].name; i++)
        if (!strcmp(t[i].name, name)) return t[i].label;
    return NULL;
}

const char *sx_axis_label(const cli_suite_axis *a)
{
    const char *l = sx_lookup_label(k_axis_labels, a->key);
    return l ? l : a->key;
}

/* ---------------------------------------------------------------- analyses */

/* The analyses `mixgeo analyze --only` knows: "all" and the names of the
 * analysis library's registry (mg_analysis_infos, analyze.h). */
static int known_analysis(const char *name)
{
    return !strcmp(name, "all") || mg_analysis_find(name) >= 0;
}

static void analyses_text(char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = -1; i < MG_AN_COUNT && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i >= 0 ? ", " : "",
                         i < 0 ? "all" : mg_analysis_infos[i].name);
        if (w > 0) used += (size_t)w;
    }
}

/* ---------------------------------------------------------------- [suite] */

static int parse_suite_section(cli_suite *s, const cli_suite_opts *o)
{
    int problems = 0;
    const cli_suite_section *sec = find_section(s, "suite", "");
    const char *name = NULL, *out = NULL, *desc = "";
    for (int i = 0; sec && i < sec->n; i++) {
        const cli_suite_entry *e = &sec->e[i];
        if (!strcmp(e->key, "command")) {
            /* read by cli_suite_load before everything else */
        } else if (!strcmp(e->key, "order")) {
            long x;
            if (!sx_parse_long_text(e->value, -1000000, 1000000, &x))
                problems += bad(s, e->line, e->key, "expected an integer");
            else
                s->order = (int)x;
        } else if (!strcmp(e->key, "name")) {
            if (!is_name(e->value))
                problems +=
                    bad(s, e->line, e->key,
                        "must be a word of letters, digits, '.', '_' or '-' (got '%s')", e->value);
            name = e->value;
        } else if (!strcmp(e->key, "description")) {
            desc = e->value;
        } else if (!strcmp(e->key, "out")) {
            if (!*e->value) problems += bad(s, e->line, e->key, "empty directory");
            out = e->value;
        } else if (!strcmp(e->key, "aggregate")) {
            /* checked with the grid */
        } else if (!strncmp(e->key, "quick.", 6)) {
            if (!e->key[6])
                problems += bad(s, e->line, e->key, "quick. needs a key (quick.epochs)");
        } else {
            problems += bad(s, e->line, e->key,
                            "unknown key in [suite] (expected name, description, command, order, "
                            "out, aggregate or quick.KEY)");
        }
    }
    char buf[1024];
    if (!name) {
        const char *b = strrchr(s->path, '/');
        b = b ? b + 1 : s->path;
        size_t n = strlen(b);
        if (n > 6 && !strcmp(b + n - 6, ".suite")) n -= 6;
        snprintf(buf, sizeof buf, "%.*s", (int)n, b);
        if (!is_name(buf)) {
            cli_error("%s: the file name does not make a suite name; set [suite] name = NAME",
                      s->path);
            problems++;
        }
        name = buf;
    }
    s->name = xstrdup(name);
    s->description = xstrdup(desc);
    char dir[4096];
    if (o->out)
        snprintf(dir, sizeof dir, "%s", o->out);
    else if (o->root)
        snprintf(dir, sizeof dir, "%s/%s", o->root, s->name);
    else if (out)
        snprintf(dir, sizeof dir, "%s%s", out, s->quick ? "-quick" : "");
    else
        snprintf(dir, sizeof dir, "results/%s%s", s->name, s->quick ? "-quick" : "");
    s->out = xstrdup(dir);
    return problems;
}

/* ---------------------------------------------------------------- [method] */

static int parse_methods(cli_suite *s)
{
    int problems = 0;
    for (int k = 0; k < s->n_sec; k++) {
        const cli_suite_section *sec = &s->sec[k];
        if (strcmp(sec->kind, "method") != 0) continue;
        char where[256];
        snprintf(where, sizeof where, "[method %s]", sec->name);
        for (int i = 0; i < sec->n; i++) {
            if (!strcmp(sec->e[i].key, "label")) {
                if (!*sec->e[i].value) problems += bad(s, sec->e[i].line, "label", "empty label");
                continue;
            }
            problems += train_key_check(s, sec->e[i].line, sec->e[i].key, where);
        }
    }
    return problems;
}

/* ---------------------------------------------------------------- [grid] */

/* Check the values of an axis (key, text at line) into l. */
static int axis_values(cli_suite *s, int line, const char *key, const char *text, sx_strlist *l)
{
    int r = strlist_split(l, text, '|');
    if (r == 1) {
        const char *p = text;
        while (isspace((unsigned char)*p)) p++;
        if (!*p) return bad(s, line, key, "empty axis (give values: %s = v1 | v2)", key);
        return bad(s, line, key, "empty value in the axis '%s'", text);
    }
    if (r == 2) return bad(s, line, key, "more than %d values", CLI_SUITE_MAX_LIST);
    int problems = 0;
    for (int i = 0; i < l->n; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(l->item[i], l->item[j]))
                problems += bad(s, line, key, "value '%s' listed twice", l->item[i]);
    if (!strcmp(key, "method")) {
        for (int i = 0; i < l->n; i++)
            if (!find_section(s, "method", l->item[i])) {
                char names[512] = "";
                size_t used = 0;
                for (int k = 0; k < s->n_sec && used < sizeof names; k++) {
                    if (strcmp(s->sec[k].kind, "method") != 0) continue;
                    int w = snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "",
                                     s->sec[k].name);
                    if (w > 0) used += (size_t)w;
                }
                problems += bad(s, line, key, "unknown method '%s' (defined: %s)", l->item[i],
                                used ? names : "none; add a [method NAME] section");
            }
    }
    if (problems) sx_strlist_free(l);
    return problems;
}

static int axis_index(const cli_suite *s, const char *key)
{
    for (int a = 0; a < s->n_axes; a++)
        if (!strcmp(s->axes[a].key, key)) return a;
    return -1;
}

static void axis_set(cli_suite *s, cli_suite_axis *a, sx_strlist *l, int line)
{
    for (int i = 0; i < a->n; i++) {
        free(a->values[i]);
        free(a->labels[i]);
    }
    free(a->values);
    free(a->labels);
    a->line = line;
    a->n = l->n;
    a->values = xcalloc((size_t)l->n, sizeof *a->values);
    a->labels = xcalloc((size_t)l->n, sizeof *a->labels);
    a->numeric = 1;
    for (int i = 0; i < l->n; i++) {
        a->values[i] = l->item[i];
        double x;
        if (!sx_parse_double_text(a->values[i], &x)) a->numeric = 0;
        const cli_suite_entry *lab = NULL;
        if (!strcmp(a->key, "method"))
            lab = sx_find_entry(find_section(s, "method", l->item[i]), "label");
        char buf[512];
        if (lab)
            snprintf(buf, sizeof buf, "%s", lab->value);
        else if (!strcmp(a->key, "method"))
            snprintf(buf, sizeof buf, "%s", l->item[i]);
        else
            snprintf(buf, sizeof buf, "%s=%s", a->key, l->item[i]);
        a->labels[i] = xstrdup(buf);
    }
    l->n = 0; /* items now owned by the axis */
}

static int parse_grid(cli_suite *s)
{
    int problems = 0;
    const cli_suite_section *grid = find_section(s, "grid", "");
    for (int i = 0; grid && i < grid->n; i++) {
        const cli_suite_entry *e = &grid->e[i];
        if (strcmp(e->key, "method") != 0 && train_key_check(s, e->line, e->key, "[grid]")) {
            problems++;
            continue;
        }
        sx_strlist l;
        if (axis_values(s, e->line, e->key, e->value, &l)) {
            problems++;
            continue;
        }
        if (s->n_axes == CLI_SUITE_MAX_AXES) {
            problems += bad(s, e->line, e->key, "more than %d axes", CLI_SUITE_MAX_AXES);
            sx_strlist_free(&l);
            continue;
        }
        cli_suite_axis *a = &s->axes[s->n_axes++];
        a->key = xstrdup(e->key);
        axis_set(s, a, &l, e->line);
        if (!strcmp(e->key, "method")) s->method_axis = s->n_axes - 1;
    }
    /* quick.KEY: new values of an axis, or a train key set on every run. */
    const cli_suite_section *ss = find_section(s, "suite", "");
    for (int i = 0; ss && i < ss->n; i++) {
        const cli_suite_entry *e = &ss->e[i];
        if (strncmp(e->key, "quick.", 6) != 0 || !e->key[6]) continue;
        const char *k = e->key + 6;
        int a = axis_index(s, k);
        if (a >= 0) {
            sx_strlist l;
            if (axis_values(s, e->line, e->key, e->value, &l)) {
                problems++;
                continue;
            }
            if (s->quick)
                axis_set(s, &s->axes[a], &l, e->line);
            else
                sx_strlist_free(&l);
        } else if (!strcmp(k, "method")) {
            problems += bad(s, e->line, e->key, "[grid] has no method axis");
        } else if (train_key_check(s, e->line, k, "quick.KEY")) {
            problems++;
        } else if (s->n_quick_set < CLI_SUITE_MAX_LIST) {
            s->quick_set[s->n_quick_set++] = e;
        }
    }
    /* aggregate: the axes averaged over in the report. */
    const cli_suite_entry *ag = sx_find_entry(ss, "aggregate");
    if (ag) {
        sx_strlist l;
        if (strlist_split(&l, ag->value, ',') == 0) {
            for (int i = 0; i < l.n; i++) {
                int a = axis_index(s, l.item[i]);
                if (a < 0)
                    problems += bad(s, ag->line, ag->key, "'%s' is not a [grid] axis", l.item[i]);
                else if (a == s->method_axis)
                    problems +=
                        bad(s, ag->line, ag->key, "the method axis cannot be averaged over");
                else
                    s->axes[a].aggregate = 1;
            }
            sx_strlist_free(&l);
        } else if (*ag->value) {
            problems += bad(s, ag->line, ag->key, "not a comma-separated list of axes");
        }
    } else {
        int a = axis_index(s, "seed");
        if (a >= 0) s->axes[a].aggregate = 1;
    }
    s->replicates = 1;
    for (int a = 0; a < s->n_axes; a++)
        if (s->axes[a].aggregate) s->replicates *= s->axes[a].n;
    if (s->method_axis < 0 && !sx_find_entry(grid, "method")) {
        const cli_suite_section *m = find_section(s, "method", NULL);
        if (m)
            problems += bad(s, m->line, NULL,
                            "[method %s] is defined but [grid] has no method axis (add: method = "
                            "%s | ...)",
                            m->name, m->name);
    }
    return problems;
}

/* ---------------------------------------------------------------- [analyze] */

/* e's value split at commas into l (sx_strlist_free it).  Returns the problems:
 * 1 (reported as "expect"; l empty) for a malformed list. */
static int entry_list(cli_suite *s, const cli_suite_entry *e, const char *expect, sx_strlist *l)
{
    if (strlist_split(l, e->value, ',')) return bad(s, e->line, e->key, "%s", expect);
    return 0;
}

/* The analyses of e (`only = LIST` or `only.K = LIST`), each one of
 * the registry (an unknown one is reported with the names and then `also`),
 * joined with commas into *list (replaced; freed with the suite).  Returns
 * the problems. */
static int analyses_list(cli_suite *s, const cli_suite_entry *e, const char *also, char **list)
{
    sx_strlist l;
    int problems = entry_list(s, e, "not a comma-separated list of analyses", &l);
    char text[1024] = "";
    size_t used = 0;
    for (int k = 0; k < l.n; k++) {
        if (!known_analysis(l.item[k])) {
            char names[512];
            analyses_text(names, sizeof names);
            problems += bad(s, e->line, e->key, "unknown analysis '%s' (expected %s%s)", l.item[k],
                            names, also);
        }
        int w = snprintf(text + used, sizeof text - used, "%s%s", k ? "," : "", l.item[k]);
        if (w > 0 && (size_t)w < sizeof text - used) used += (size_t)w;
    }
    sx_strlist_free(&l);
    free(*list);
    *list = xstrdup(text);
    return problems;
}

/* `only.K = LIST` of [analyze]: the analyses of layer K (an integer of
 * layers, or auto when layers has auto) instead of `only`.  Checked after
 * the other keys (they may come in any order); with the analyses switched
 * off (none) only the list itself is checked.  Returns the problems. */
static int parse_layer_only(cli_suite *s, const cli_suite_entry *e, int check_layer)
{
    cli_suite_analyze *an = &s->analyze;
    const char *k_text = e->key + 5;
    if (!strcmp(e->value, "none"))
        return bad(s, e->line, e->key,
                   "none is not a list for one layer (to skip layer %s, remove it from layers)",
                   k_text);
    char *list = NULL;
    int problems = analyses_list(s, e, "", &list);
    long k = -1;
    if (strcmp(k_text, "auto") != 0 && !sx_parse_long_text(k_text, 0, 1000, &k)) {
        problems += bad(s, e->line, e->key,
                        "'%s' is not a layer number 0..1000 or auto (only.K = LIST: the analyses "
                        "of layer K)",
                        k_text);
        check_layer = 0;
    }
    int found = 0;
    for (int i = 0; check_layer && i < an->n_layers; i++) {
        if (an->layers[i] != (int)k) continue;
        if (an->only_layer[i] && !found) {
            free(list);
            return problems + bad(s, e->line, e->key,
                                  "layer %s already has a list (another only.K names it)",
                                  an->layers[i] < 0 ? "auto" : k_text);
        }
        free(an->only_layer[i]);
        an->only_layer[i] = xstrdup(list);
        found = 1;
    }
    if (check_layer && !found)
        problems +=
            bad(s, e->line, e->key, "layer %s is not among the layers of [analyze]", k_text);
    free(list);
    return problems;
}

static int parse_analyze(cli_suite *s)
{
    int problems = 0;
    cli_suite_analyze *an = &s->analyze;
    an->only = xstrdup("");
    an->max_per_class = xstrdup("");
    const cli_suite_section *sec = find_section(s, "analyze", "");
    int none = 0;
    const cli_suite_entry *layers = NULL;
    for (int i = 0; sec && i < sec->n; i++) {
        const cli_suite_entry *e = &sec->e[i];
        if (!strcmp(e->key, "layers")) {
            layers = e;
            if (!strcmp(e->value, "none")) {
                none = 1;
                continue;
            }
            sx_strlist l;
            problems += entry_list(s, e, "not a comma-separated list of layers (1,2)", &l);
            for (int k = 0; k < l.n; k++) {
                long x;
                if (!strcmp(l.item[k], "auto"))
                    an->layers[an->n_layers++] = -1; /* analyze picks L-1 */
                else if (!sx_parse_long_text(l.item[k], 0, 1000, &x))
                    problems += bad(s, e->line, e->key,
                                    "'%s' is not a layer number 0..1000 or auto", l.item[k]);
                else
                    an->layers[an->n_layers++] = (int)x;
            }
            sx_strlist_free(&l);
        } else if (!strcmp(e->key, "split")) {
            sx_strlist l;
            problems += entry_list(s, e, "not a list of train, val, test", &l);
            for (int k = 0; k < l.n; k++) {
                if (strcmp(l.item[k], "train") && strcmp(l.item[k], "val") &&
                    strcmp(l.item[k], "test"))
                    problems += bad(s, e->line, e->key,
                                    "unknown split '%s' (expected train, val or "
                                    "test)",
                                    l.item[k]);
                else
                    an->splits[an->n_splits++] = xstrdup(l.item[k]);
            }
            sx_strlist_free(&l);
        } else if (!strcmp(e->key, "only")) {
            if (!strcmp(e->value, "none")) {
                none = 1;
                continue;
            }
            problems += analyses_list(s, e, ", or none", &an->only);
        } else if (!strncmp(e->key, "only.", 5)) {
            /* after the loop: needs layers, which may come later */
        } else if (!strcmp(e->key, "max-per-class")) {
            long x;
            if (strcmp(e->value, "all") != 0 && !sx_parse_long_text(e->value, 1, 100000000, &x))
                problems += bad(s, e->line, e->key, "not an integer >= 1 or all");
            free(an->max_per_class);
            an->max_per_class = xstrdup(e->value);
        } else {
            problems += bad(s, e->line, e->key,
                            "unknown key in [analyze] (expected layers, split, only, only.K, "
                            "max-per-class)");
        }
    }
    for (int i = 0; sec && i < sec->n; i++)
        if (!strncmp(sec->e[i].key, "only.", 5))
            problems += parse_layer_only(s, &sec->e[i], layers && !none);
    if (sec && s->command == CLI_SUITE_THEORY) {
        problems += bad(s, sec->line, NULL,
                        "[analyze]: a theory suite has no models to analyse (remove the section)");
        an->n_layers = 0;
    } else if (sec && s->command == CLI_SUITE_STATES) {
        problems += bad(s, sec->line, NULL,
                        "[analyze]: a states suite has no layers or splits: each run is one "
                        "mixgeo analyze --states, set up by run keys (only, max-per-class, ... "
                        "in [base], [method N] or [grid]); remove the section");
        an->n_layers = 0;
    } else if (!sec || none) {
        an->n_layers = 0;
    } else if (!layers) {
        problems += bad(s, sec->line, NULL,
                        "[analyze]: layers missing (the layers k to analyse, e.g. layers = 1,2; "
                        "or only = none)");
    } else if (an->n_layers && !cli_command_exists("analyze")) {
        problems += bad(s, sec->line, NULL,
                        "[analyze]: this mixgeo has no 'analyze' command yet; set only = none");
    }
    if (an->n_splits == 0 && an->n_layers) an->splits[an->n_splits++] = xstrdup("test");

    /* The steps: train, then one analyze per (split, layer). */
    int n = 1 + an->n_splits * an->n_layers;
    s->steps = xcalloc((size_t)n, sizeof *s->steps);
    snprintf(s->steps[0].name, sizeof s->steps[0].name, "%s", command_name(s));
    snprintf(s->steps[0].args, sizeof s->steps[0].args, "%s", command_name(s));
    s->steps[0].layer = -1;
    s->n_steps = 1;
    for (int i = 0; i < an->n_splits && an->n_layers; i++)
        for (int k = 0; k < an->n_layers; k++) {
            cli_suite_step *st = &s->steps[s->n_steps++];
            st->layer = an->layers[k];
            st->split = an->splits[i];
            char lk[16];
            if (st->layer < 0)
                snprintf(lk, sizeof lk, "auto");
            else
                snprintf(lk, sizeof lk, "%d", st->layer);
            snprintf(st->name, sizeof st->name, "analyze-%s-L%s", st->split, lk);
            st->only = an->only_layer[k] ? an->only_layer[k] : an->only;
            int w = snprintf(st->args, sizeof st->args, "--layer %s --split %s", lk, st->split);
            if (*st->only && w > 0)
                w += snprintf(st->args + w, sizeof st->args - (size_t)w, " --only %s", st->only);
            if (*an->max_per_class && w > 0 && (size_t)w < sizeof st->args)
                snprintf(st->args + w, sizeof st->args - (size_t)w, " --max-per-class %s",
                         an->max_per_class);
        }
    uint64_t h = FNV_INIT;
    for (int i = 0; i < s->n_steps; i++) {
        h = fnv1a(h, s->steps[i].args);
        h = fnv1a(h, "\n");
    }
    snprintf(s->steps_sig, sizeof s->steps_sig, "%016llx", (unsigned long long)h);
    return problems;
}

/* ---------------------------------------------------------------- metrics */

static const char *const k_reducers[] = {"min",   "max",  "mean",    "sum", "count",
                                         "first", "last", "changes", NULL};

int sx_reducer_index(const char *name)
{
    for (int i = 0; k_reducers[i]; i++)
        if (!strcmp(k_reducers[i], name)) return i;
    return -1;
}

/* The position of the last '|' outside [...] in path, or NULL. */
const char *sx_reducer_bar(const char *path)
{
    const char *bar = NULL;
    int depth = 0;
    for (const char *p = path; *p; p++) {
        if (*p == '[') depth++;
        if (*p == ']') depth--;
        if (*p == '|' && depth == 0) bar = p;
    }
    return bar;
}

/* The comparison operator at p ("!=", "<=", ">=", "=", "<", ">"), its
 * length into *len; -1 if none.  0 = 1 != 2 < 3 > 4 <= 5 >= */
int sx_filter_op(const char *p, int *len)
{
    if (p[0] == '!' && p[1] == '=') return *len = 2, 1;
    if (p[0] == '<' && p[1] == '=') return *len = 2, 4;
    if (p[0] == '>' && p[1] == '=') return *len = 2, 5;
    if (p[0] == '=') return *len = 1, 0;
    if (p[0] == '<') return *len = 1, 2;
    if (p[0] == '>') return *len = 1, 3;
    return -1;
}

/* Check a JSON path (suite.h); *multi = it may give several values,
 * *reduced = it ends in a reducer.  0 or a message in why. */
static int json_path_check(const char *path, int *multi, int *reduced, char *why, size_t len)
{
    *multi = *reduced = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    char *bar = (char *)sx_reducer_bar(buf);
    if (bar) {
        *bar = '\0';
        int r = sx_reducer_index(bar + 1);
        if (r < 0 || !strcmp(bar + 1, "changes")) {
            snprintf(why, len,
                     "unknown reducer '|%s' (expected |min |max |mean |sum |count |first |last)",
                     bar + 1);
            return 1;
        }
        *reduced = 1;
    }
    if (!*buf) return snprintf(why, len, "empty path"), 1;
    int open = 0;
    for (char *seg = buf, *p;; seg = p + 1) {
        if (sx_path_segment(seg, &p, &open)) return snprintf(why, len, "unbalanced [ ]"), 1;
        char end = *p;
        *p = '\0';
        if (seg[0] == '"') {
            char *q = strchr(seg + 1, '"');
            if (!q || q == seg + 1 || (q[1] && q[1] != '['))
                return snprintf(why, len, "a quoted name is \"NAME\" (for keys with dots)"), 1;
            seg = q; /* what follows the quotes: filters or nothing */
            *seg = 'x';
        }
        char *br = strchr(seg, '[');
        size_t hl = br ? (size_t)(br - seg) : strlen(seg);
        if (hl == 0) return snprintf(why, len, "empty name in the path"), 1;
        if (hl == 1 && seg[0] == '*') *multi = 1;
        while (br) {
            char *close = strchr(br, ']');
            if (!close) return snprintf(why, len, "unbalanced [ ]"), 1;
            *close = '\0';
            char *f = br + 1, *q = f;
            int ol = 0;
            while (*q && sx_filter_op(q, &ol) < 0) q++;
            if (!*q || q == f || !q[ol])
                return snprintf(why, len,
                                "filter [%s]: expected [FIELD OP VALUE] with OP one of = != < > "
                                "<= >=",
                                f),
                       1;
            *multi = 1;
            if (close[1] && close[1] != '[')
                return snprintf(why, len, "text after ']' (expected '.', '[' or the end)"), 1;
            br = close[1] == '[' ? close + 1 : NULL;
        }
        if (!end) break;
    }
    if (open & 1) return snprintf(why, len, "unbalanced [ ]"), 1;
    if (open & 2) return snprintf(why, len, "unbalanced \""), 1;
    return 0;
}

int sx_path_segment(char *seg, char **end, int *open)
{
    int depth = 0, inq = 0;
    char *p = seg;
    for (;; p++) {
        if (*p == '"' && depth == 0) inq = !inq;
        if (inq && *p) continue;
        if (*p == '[') depth++;
        if (*p == ']') depth--;
        if (depth < 0 || depth > 1) {
            *end = p;
            return 1;
        }
        if ((*p == '.' && depth == 0) || !*p) break;
    }
    *end = p;
    *open = (depth ? 1 : 0) | (inq ? 2 : 0);
    return 0;
}

/* A term of a metric: a number, FILE:PATH (JSON or TSV), final.COL,
 * best.COL or a numeric summary.json key.  The default label into label. */
static int parse_term(cli_suite *s, int line, const char *key, const char *text, cli_suite_term *t,
                      char *label, size_t llen)
{
    memset(t, 0, sizeof *t);
    double x;
    if (sx_parse_double_text(text, &x)) {
        t->number = x;
        snprintf(label, llen, "%s", text);
        return 0;
    }
    const char *colon = strchr(text, ':');
    if (colon) {
        size_t fl = (size_t)(colon - text);
        const char *path = colon + 1;
        if (fl == 0 || fl >= sizeof t->file || !*path || strlen(path) >= sizeof t->path ||
            text[0] == '/' || strstr(text, ".."))
            return bad(s, line, key,
                       "'%s': expected FILE:PATH with FILE relative to the run directory (e.g. "
                       "analysis/test-L1/summary.json:spectra.mean_centred.s1)",
                       text);
        snprintf(t->file, sizeof t->file, "%.*s", (int)fl, text);
        snprintf(t->path, sizeof t->path, "%s", path);
        char why[256];
        if (fl > 4 && !strcmp(t->file + fl - 4, ".tsv")) {
            const char *bar = strchr(path, '|');
            if (bar && sx_reducer_index(bar + 1) < 0)
                return bad(s, line, key,
                           "'%s': unknown reducer '|%s' (expected |min |max |mean |sum |count "
                           "|first |last |changes)",
                           text, bar + 1);
            if (bar == path || strchr(path, ' '))
                return bad(s, line, key, "'%s': expected FILE.tsv:COLUMN[|REDUCER]", text);
        } else {
            int multi, reduced;
            if (json_path_check(path, &multi, &reduced, why, sizeof why))
                return bad(s, line, key, "'%s': %s", text, why);
            if (multi && !reduced)
                return bad(s, line, key,
                           "'%s': the path can give several values (a * or a filter): end it "
                           "with a reducer such as |mean or |max",
                           text);
        }
        /* "analysis/test-L1/summary.json:x.y" -> "test-L1: x.y" */
        const char *slash = strrchr(t->file, '/');
        if (slash) {
            const char *d = slash;
            while (d > t->file && d[-1] != '/') d--;
            snprintf(label, llen, "%.*s: %s", (int)(slash - d), d, path);
        } else if (strcmp(t->file, "summary.json") != 0) {
            snprintf(label, llen, "%.100s: %.150s", t->file, path);
        } else {
            snprintf(label, llen, "%s", path);
        }
        return 0;
    }
    if (s->command == CLI_SUITE_STATES) {
        /* a states run has one summary.json: its analysis; a bare path reads it */
        char why[256];
        int multi, reduced;
        if (sx_lookup_label(sx_train_columns, text))
            return bad(s, line, key,
                       "'%s': a states run has no metrics.tsv (a metric of a states suite is a "
                       "path into %s/summary.json, e.g. spectra.mean_centred.rest)",
                       text, CLI_SUITE_STATES_OUT);
        if (strlen(text) >= sizeof t->path) return bad(s, line, key, "'%s': path too long", text);
        if (json_path_check(text, &multi, &reduced, why, sizeof why))
            return bad(s, line, key, "'%s': %s", text, why);
        if (multi && !reduced)
            return bad(s, line, key,
                       "'%s': the path can give several values (a * or a filter): end it with a "
                       "reducer such as |mean or |max",
                       text);
        snprintf(t->file, sizeof t->file, "%s/summary.json", CLI_SUITE_STATES_OUT);
        snprintf(t->path, sizeof t->path, "%s", text);
        snprintf(label, llen, "%s", text);
        return 0;
    }
    const char *l = NULL;
    if (!strncmp(text, "final.", 6) || !strncmp(text, "best.", 5)) {
        int best = text[0] == 'b';
        const char *c = text + (best ? 5 : 6);
        const char *cl = sx_lookup_label(sx_train_columns, c);
        if (cl) {
            snprintf(label, llen, "%s, %s", cl, best ? "best epoch" : "final");
            l = label;
        }
    } else if ((l = sx_lookup_label(k_summary_keys, text)) != NULL) {
        snprintf(label, llen, "%s", l);
    }
    if (!l) {
        if (sx_lookup_label(sx_train_columns, text))
            return bad(s, line, key, "'%s' in an expression: write final.%s or best.%s", text, text,
                       text);
        return bad(s, line, key,
                   "unknown metric '%s' (expected a column of metrics.tsv such as test_acc or "
                   "test_nll, final.COLUMN, best.COLUMN, train_seconds, n_params, "
                   "FILE:JSON.PATH of any JSON file of the run, FILE.tsv:COLUMN, or an "
                   "expression with blanks around + - * /)",
                   text);
    }
    snprintf(t->file, sizeof t->file, "summary.json");
    snprintf(t->path, sizeof t->path, "%s", text);
    return 0;
}

static int is_op_token(const char *w)
{
    return w[0] && !w[1] && strchr("+-*/", w[0]) != NULL;
}

/* Parse one metric item into out[*n...]: "test_acc" (a metrics.tsv column:
 * final and/or best per mask, 1 = final, 2 = best), or one term (see
 * parse_term), or an expression of terms with blanks around + - * /. */
static int parse_metric(cli_suite *s, int line, const char *key, const char *item, int mask,
                        cli_suite_metric *out, int max, int *n)
{
    const char *col_label = sx_lookup_label(sx_train_columns, item);
    if (col_label && s->command == CLI_SUITE_STATES)
        return bad(s, line, key,
                   "'%s': a states run has no metrics.tsv (a metric of a states suite is a path "
                   "into %s/summary.json, e.g. spectra.mean_centred.rest, or FILE:PATH)",
                   item, CLI_SUITE_STATES_OUT);
    if (col_label) {
        for (int k = 0; k < 2; k++) {
            if (!(mask & (1 << k))) continue;
            if (*n >= max) return bad(s, line, key, "too many metrics");
            cli_suite_metric *m = &out[(*n)++];
            memset(m, 0, sizeof *m);
            m->n_terms = 1;
            snprintf(m->terms[0].file, sizeof m->terms[0].file, "summary.json");
            snprintf(m->terms[0].path, sizeof m->terms[0].path, "%s.%s", k ? "best" : "final",
                     item);
            snprintf(m->label, sizeof m->label, "%s, %s", col_label, k ? "best epoch" : "final");
            snprintf(m->key, sizeof m->key, "%s", m->terms[0].path);
        }
        return 0;
    }
    if (*n >= max) return bad(s, line, key, "too many metrics");
    cli_suite_metric m;
    memset(&m, 0, sizeof m);
    sx_strlist w;
    if (sx_strlist_words(&w, item) || w.n == 0) return bad(s, line, key, "empty metric");
    int problems = 0;
    if (w.n > 1) {
        if (w.n % 2 == 0 || w.n > 2 * CLI_SUITE_MAX_TERMS - 1) {
            sx_strlist_free(&w);
            return bad(s, line, key,
                       "'%s': expected TERM OP TERM ... (at most %d terms, blanks around + - * "
                       "/)",
                       item, CLI_SUITE_MAX_TERMS);
        }
        for (int i = 0; i < w.n && !problems; i++) {
            if (i % 2) {
                if (!is_op_token(w.item[i]))
                    problems +=
                        bad(s, line, key, "'%s': '%s' is not one of + - * /", item, w.item[i]);
                else
                    m.ops[i / 2] = w.item[i][0];
            } else {
                char lab[256];
                problems += parse_term(s, line, key, w.item[i], &m.terms[i / 2], lab, sizeof lab);
            }
        }
        m.n_terms = (w.n + 1) / 2;
        snprintf(m.label, sizeof m.label, "%s", item);
        size_t k = 0;
        for (const char *p = item; *p && k + 1 < sizeof m.key; p++)
            if (!isspace((unsigned char)*p)) m.key[k++] = *p;
        m.key[k] = '\0';
    } else {
        problems += parse_term(s, line, key, w.item[0], &m.terms[0], m.label, sizeof m.label);
        m.n_terms = 1;
        snprintf(m.key, sizeof m.key, "%s", item);
    }
    sx_strlist_free(&w);
    if (!problems) out[(*n)++] = m;
    return problems;
}

/* ---------------------------------------------------------------- tables and figures */

static int check_table_summary(cli_suite *s, cli_suite_output *o);
static int check_curve(cli_suite *s, cli_suite_output *o);
static int check_bar(cli_suite *s, cli_suite_output *o);
static int check_sweep(cli_suite *s, cli_suite_output *o);
static int check_montage(cli_suite *s, cli_suite_output *o);

const sx_output_kind sx_table_kinds[] = {
    {"summary", "mean +- std (n) over seeds of final/best metrics, one row per group",
     "metrics values labels rows cols where digits title caption", check_table_summary,
     sx_write_table_summary},
};
const sx_output_kind sx_figure_kinds[] = {
    {"curve",
     "a column of a per-run TSV (metrics.tsv, an analysis TSV; y may be a glob of columns "
     "averaged per row, class_*) against another (epoch, k), one line and seed band per group",
     "file x y group where title xlabel ylabel logx logy xrange yrange key with xline yline "
     "diagonal",
     check_curve, sx_write_curve},
    {"bar", "one bar (mean, std error bar) per group of a final/best metric",
     "y value group where title ylabel yrange", check_bar, sx_write_bar},
    {"sweep", "a final/best metric against a numeric grid axis (alpha, width), one line per group",
     "x y value group where title xlabel ylabel logx logy xrange yrange key", check_sweep,
     sx_write_sweep},
    {"montage",
     "the plots of per-run figure scripts (mixgeo analyze's map-input.gp, ...) side by side, one "
     "row per group (its first finished run)",
     "panels titles group where title panel-size", check_montage, sx_write_montage},
};
#define N_TABLE_KINDS ((int)(sizeof sx_table_kinds / sizeof sx_table_kinds[0]))
#define N_FIGURE_KINDS ((int)(sizeof sx_figure_kinds / sizeof sx_figure_kinds[0]))

void cli_suite_kinds_text(char *buf, size_t len, int figures)
{
    const sx_output_kind *k = figures ? sx_figure_kinds : sx_table_kinds;
    int n = figures ? N_FIGURE_KINDS : N_TABLE_KINDS;
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", k[i].name);
        if (w > 0) used += (size_t)w;
    }
}

static const char *out_value(const cli_suite_output *o, const char *key, int *line)
{
    const cli_suite_entry *e = sx_find_entry(o->sec, key);
    if (line) *line = e ? e->line : o->line;
    return e ? e->value : NULL;
}

/* The list under key, items separated by sep, into l (sx_strlist_free it); l->n
 * = 0 when key is absent or the list is malformed.  Returns the problems: 1
 * (reported as "expect") for a malformed list.  *line: the line to name. */
static int out_list(cli_suite *s, const cli_suite_output *o, const char *key, char sep,
                    const char *expect, sx_strlist *l, int *line)
{
    l->n = 0;
    const char *v = out_value(o, key, line);
    if (v && strlist_split(l, v, sep)) return bad(s, *line, key, "%s", expect);
    return 0;
}

/* As out_list for a key that must be there: a missing one is a problem too,
 * "[KIND NAME]: KEY missing (KEY = example)". */
static int out_needed_list(cli_suite *s, const cli_suite_output *o, const char *key, char sep,
                           const char *example, const char *expect, sx_strlist *l, int *line)
{
    l->n = 0;
    if (!out_value(o, key, line))
        return bad(s, o->line, NULL, "[%s %s]: %s missing (%s = %s)", o->sec->kind, o->name, key,
                   key, example);
    return out_list(s, o, key, sep, expect, l, line);
}

int sx_in_list(const int *x, int n, int v)
{
    for (int i = 0; i < n; i++)
        if (x[i] == v) return 1;
    return 0;
}

/* 1 if where fixes axis a to one value. */
static int where_fixed(const cli_suite_output *o, int a)
{
    for (int i = 0; i < o->n_where; i++)
        if (o->where_axis[i] == a && o->where_vi[i] >= 0) return 1;
    return 0;
}

/* A list of axes (key) into axes[]; each a [grid] axis, once. */
static int parse_axes(cli_suite *s, const cli_suite_output *o, const char *key, int *axes, int *n)
{
    int line;
    sx_strlist l;
    *n = 0;
    int problems = out_list(s, o, key, ',', "not a comma-separated list of axes", &l, &line);
    if (l.n == 1 && !strcmp(l.item[0], "none")) sx_strlist_free(&l); /* no axes */
    for (int i = 0; i < l.n; i++) {
        int a = axis_index(s, l.item[i]);
        if (a < 0) {
            problems += bad(s, line, key, "'%s' is not a [grid] axis", l.item[i]);
            continue;
        }
        for (int j = 0; j < *n; j++)
            if (axes[j] == a) problems += bad(s, line, key, "'%s' listed twice", l.item[i]);
        axes[(*n)++] = a;
    }
    sx_strlist_free(&l);
    return problems;
}

/* where = KEY=VALUE KEY=V1,V2 (blank-separated): keep only matching runs. */
static int parse_where(cli_suite *s, cli_suite_output *o)
{
    int line;
    const char *v = out_value(o, "where", &line);
    o->n_where = 0;
    if (!v) return 0;
    sx_strlist l;
    if (sx_strlist_words(&l, v) || l.n == 0)
        return bad(s, line, "where", "expected KEY=VALUE items separated by blanks");
    int problems = 0;
    for (int i = 0; i < l.n; i++) {
        char *eq = strchr(l.item[i], '=');
        if (!eq) {
            problems += bad(s, line, "where", "'%s' is not KEY=VALUE", l.item[i]);
            continue;
        }
        *eq = '\0';
        int a = axis_index(s, l.item[i]);
        if (a < 0) {
            problems += bad(s, line, "where", "'%s' is not a [grid] axis", l.item[i]);
            continue;
        }
        if (sx_in_list(o->where_axis, o->n_where, a)) {
            problems += bad(s, line, "where", "the axis %s appears twice", l.item[i]);
            continue;
        }
        sx_strlist vals;
        if (strlist_split(&vals, eq + 1, ',')) {
            problems += bad(s, line, "where", "'%s=%s': expected AXIS=VALUE or AXIS=V1,V2",
                            l.item[i], eq + 1);
            continue;
        }
        int w = o->n_where, nok = 0, last = -1;
        memset(o->where_ok[w], 0, sizeof o->where_ok[w]);
        memset(o->where_pos[w], 0, sizeof o->where_pos[w]);
        for (int j = 0; j < vals.n; j++) {
            int vi = -1;
            if (strpbrk(vals.item[j], "*?[")) { /* a glob: every matching value */
                for (int k = 0; k < s->axes[a].n; k++)
                    if (!fnmatch(vals.item[j], s->axes[a].values[k], 0)) {
                        if (!o->where_ok[w][k]) nok++;
                        o->where_ok[w][k] = 1;
                        if (!o->where_pos[w][k]) o->where_pos[w][k] = (unsigned char)(j + 1);
                        vi = last = k;
                    }
                if (vi >= 0) continue;
            }
            for (int k = 0; k < s->axes[a].n; k++)
                if (!strcmp(s->axes[a].values[k], vals.item[j])) vi = k;
            if (vi < 0) {
                /* --quick may drop values of an axis (quick.AXIS): not an error then */
                if (!s->quick)
                    problems += bad(s, line, "where", "'%s' is not a value of the axis %s",
                                    vals.item[j], l.item[i]);
                continue;
            }
            if (!o->where_ok[w][vi]) nok++;
            o->where_ok[w][vi] = 1;
            if (!o->where_pos[w][vi]) o->where_pos[w][vi] = (unsigned char)(j + 1);
            last = vi;
        }
        sx_strlist_free(&vals);
        if (nok == 0 && !s->quick) continue;
        o->where_axis[w] = a; /* nok = 0 (quick): no run passes */
        o->where_vi[w] = nok == 1 ? last : -1;
        o->n_where++;
    }
    sx_strlist_free(&l);
    return problems;
}

/* Rows / groups: default every axis not aggregated, not `other` and not fixed
 * by where; given ones must cover those axes (otherwise their values would
 * be averaged together). */
static int rows_default_and_cover(cli_suite *s, cli_suite_output *o, const char *key, int other)
{
    int problems = parse_axes(s, o, key, o->rows, &o->n_rows);
    if (problems) return problems;
    int line;
    const char *given = out_value(o, key, &line);
    int fixed[CLI_SUITE_MAX_AXES], nf = 0;
    for (int i = 0; i < o->n_where; i++)
        if (o->where_vi[i] >= 0) fixed[nf++] = o->where_axis[i];
    if (!given) {
        for (int a = 0; a < s->n_axes; a++)
            if (!s->axes[a].aggregate && a != other && !sx_in_list(fixed, nf, a))
                o->rows[o->n_rows++] = a;
        return 0;
    }
    for (int i = 0; i < o->n_rows; i++) {
        int a = o->rows[i];
        if (s->axes[a].aggregate)
            problems +=
                bad(s, line, key, "'%s' is averaged over (aggregate in [suite])", s->axes[a].key);
        else if (a == other)
            problems += bad(s, line, key, "'%s' is already the %s axis", s->axes[a].key,
                            o->col == other ? "column / x" : "other");
        else if (sx_in_list(fixed, nf, a))
            problems += bad(s, line, key, "'%s' is fixed by where", s->axes[a].key);
    }
    for (int a = 0; a < s->n_axes; a++)
        if (!s->axes[a].aggregate && a != other && !sx_in_list(fixed, nf, a) &&
            !sx_in_list(o->rows, o->n_rows, a))
            problems += bad(s, line, key,
                            "leaves out the axis '%s' (its values would be averaged together): "
                            "add it here, fix it with where = %s=VALUE, or list it in [suite] "
                            "aggregate",
                            s->axes[a].key, s->axes[a].key);
    return problems;
}

static int parse_digits_bools(cli_suite *s, cli_suite_output *o)
{
    int problems = 0, line;
    const char *v = out_value(o, "digits", &line);
    o->digits = 4;
    long x;
    if (v) {
        if (sx_parse_long_text(v, 0, 12, &x))
            o->digits = (int)x;
        else
            problems += bad(s, line, "digits", "not an integer 0..12");
    }
    const char *names[3] = {"logx", "logy", "diagonal"};
    int *dst[3] = {&o->logx, &o->logy, &o->diagonal};
    for (int i = 0; i < 3; i++) {
        v = out_value(o, names[i], &line);
        if (v && !parse_bool_text(v, dst[i]))
            problems += bad(s, line, names[i], "not a boolean (true/false)");
    }
    o->title = out_value(o, "title", NULL);
    o->xlabel = out_value(o, "xlabel", NULL);
    o->ylabel = out_value(o, "ylabel", NULL);
    o->caption = out_value(o, "caption", NULL);
    /* xrange / yrange = [A:B] or A:B, A and B numbers, '*' or empty */
    const char *rnames[2] = {"xrange", "yrange"};
    const char **rdst[2] = {&o->xrange, &o->yrange};
    for (int i = 0; i < 2; i++) {
        *rdst[i] = v = out_value(o, rnames[i], &line);
        if (!v) continue;
        char buf[256];
        snprintf(buf, sizeof buf, "%s", v);
        char *t = trim(buf);
        size_t tl = strlen(t);
        if (tl >= 2 && t[0] == '[' && t[tl - 1] == ']') {
            t[tl - 1] = '\0';
            t++;
        }
        char *colon = strchr(t, ':');
        int ok = colon != NULL;
        if (ok) {
            *colon = '\0';
            char *ends[2] = {trim(t), trim(colon + 1)};
            double bound;
            for (int k = 0; k < 2; k++)
                if (*ends[k] && strcmp(ends[k], "*") != 0 && !sx_parse_double_text(ends[k], &bound))
                    ok = 0;
        }
        if (!ok) problems += bad(s, line, rnames[i], "expected [LOW:HIGH] (numbers, * or empty)");
    }
    o->key = v = out_value(o, "key", &line);
    if (v) {
        static const char *const words = "top bottom left right center inside outside below "
                                         "above horizontal vertical off box nobox";
        sx_strlist l;
        if (sx_strlist_words(&l, v) || l.n == 0) {
            problems += bad(s, line, "key", "expected words such as: top left");
        } else {
            for (int i = 0; i < l.n; i++)
                if (!word_in(words, l.item[i]))
                    problems += bad(s, line, "key", "'%s' is not one of: %s", l.item[i], words);
            sx_strlist_free(&l);
        }
    }
    /* xline / yline = VALUE [label]: a dotted reference line */
    const char *lnames[2] = {"xline", "yline"};
    const char **ldst[2] = {&o->xline, &o->yline};
    for (int i = 0; i < 2; i++) {
        *ldst[i] = v = out_value(o, lnames[i], &line);
        if (!v) continue;
        char *end;
        double lv = strtod(v, &end);
        if (end == v || !isfinite(lv) || (*end && !isspace((unsigned char)*end)))
            problems += bad(s, line, lnames[i], "expected VALUE [label text]");
    }
    o->with = v = out_value(o, "with", &line);
    if (v && strcmp(v, "lines") && strcmp(v, "linespoints") && strcmp(v, "points"))
        problems += bad(s, line, "with", "expected lines, linespoints or points");
    return problems;
}

/* values = final, best -> mask. */
static int parse_values_mask(cli_suite *s, cli_suite_output *o, const char *key, int def,
                             int single, int *mask)
{
    int line;
    sx_strlist l;
    *mask = def;
    int problems = out_list(s, o, key, ',', "expected final and/or best", &l, &line);
    if (!l.n) return problems;
    *mask = 0;
    for (int i = 0; i < l.n; i++) {
        if (!strcmp(l.item[i], "final"))
            *mask |= 1;
        else if (!strcmp(l.item[i], "best"))
            *mask |= 2;
        else
            problems += bad(s, line, key, "'%s': expected final or best", l.item[i]);
    }
    if (single && l.n != 1) problems += bad(s, line, key, "one of final or best");
    sx_strlist_free(&l);
    return problems;
}

static int check_table_summary(cli_suite *s, cli_suite_output *o)
{
    int problems = parse_where(s, o) + parse_digits_bools(s, o), mask, line;
    problems += parse_values_mask(s, o, "values", 3, 0, &mask);
    sx_strlist l;
    if (out_needed_list(s, o, "metrics", ',', "test_acc, test_nll",
                        "not a comma-separated list of metrics", &l, &line))
        return problems + 1;
    o->metrics = xcalloc(2 * CLI_SUITE_MAX_LIST, sizeof *o->metrics);
    for (int i = 0; i < l.n; i++)
        problems += parse_metric(s, line, "metrics", l.item[i], mask, o->metrics,
                                 2 * CLI_SUITE_MAX_LIST, &o->n_metrics);
    sx_strlist_free(&l);
    const char *labels = out_value(o, "labels", &line);
    if (labels && !problems) {
        if (strlist_split(&l, labels, '|'))
            return problems + bad(s, line, "labels", "expected LABEL | LABEL ... (no empty label)");
        if (l.n != o->n_metrics)
            problems += bad(s, line, "labels",
                            "%d labels for %d metric columns (test_acc counts twice with values "
                            "= final, best)",
                            l.n, o->n_metrics);
        for (int i = 0; i < l.n && i < o->n_metrics; i++)
            snprintf(o->metrics[i].label, sizeof o->metrics[i].label, "%s", l.item[i]);
        sx_strlist_free(&l);
    }
    int cols[CLI_SUITE_MAX_AXES], nc = 0;
    problems += parse_axes(s, o, "cols", cols, &nc);
    o->col = -1;
    if (nc > 1) problems += bad(s, line, "cols", "one axis at most");
    if (nc == 1) {
        o->col = cols[0];
        out_value(o, "cols", &line);
        if (s->axes[o->col].aggregate)
            problems += bad(s, line, "cols", "'%s' is averaged over", s->axes[o->col].key);
        if (where_fixed(o, o->col))
            problems += bad(s, line, "cols", "'%s' is fixed by where", s->axes[o->col].key);
    }
    return problems + rows_default_and_cover(s, o, "rows", o->col);
}

static int check_curve(cli_suite *s, cli_suite_output *o)
{
    int problems = parse_where(s, o) + parse_digits_bools(s, o), line;
    o->col = -1;
    o->file = out_value(o, "file", &line);
    if (!o->file && s->command == CLI_SUITE_STATES)
        return problems + bad(s, o->line, NULL,
                              "[figure %s]: file missing (a states run has no metrics.tsv; e.g. "
                              "file = %s/spectra-rel.tsv)",
                              o->name, CLI_SUITE_STATES_OUT);
    if (!o->file)
        o->file = "metrics.tsv";
    else if (!*o->file || o->file[0] == '/' || strstr(o->file, ".."))
        problems += bad(s, line, "file", "a file relative to the run directory");
    o->x = out_value(o, "x", &line);
    if (!o->x) o->x = "epoch";
    int ly;
    o->y = out_value(o, "y", &ly);
    if (!o->y)
        return problems + bad(s, o->line, NULL, "[figure %s]: y missing (y = test_acc)", o->name);
    if (!strcmp(o->file, "metrics.tsv")) {
        if (!sx_lookup_label(sx_train_columns, o->x))
            problems += bad(s, line, "x", "'%s' is not a column of metrics.tsv", o->x);
        if (!sx_lookup_label(sx_train_columns, o->y))
            problems += bad(s, ly, "y",
                            "'%s' is not a column of metrics.tsv (epoch lr train_loss "
                            "train_acc val_loss val_nll val_acc test_loss test_nll "
                            "test_acc seconds)",
                            o->y);
    }
    return problems + rows_default_and_cover(s, o, "group", -1);
}

/* The y metric of bar and sweep. */
static int check_y_metric(cli_suite *s, cli_suite_output *o)
{
    int mask, line;
    int problems = parse_values_mask(s, o, "value", 1, 1, &mask);
    const char *y = out_value(o, "y", &line);
    if (!y)
        return problems + bad(s, o->line, NULL, "[figure %s]: y missing (y = test_acc)", o->name);
    o->metrics = xcalloc(2, sizeof *o->metrics);
    problems += parse_metric(s, line, "y", y, mask, o->metrics, 2, &o->n_metrics);
    if (!problems && o->n_metrics != 1) problems += bad(s, line, "y", "one metric");
    return problems;
}

static int check_bar(cli_suite *s, cli_suite_output *o)
{
    int problems = parse_where(s, o) + parse_digits_bools(s, o);
    o->col = -1;
    problems += check_y_metric(s, o);
    return problems + rows_default_and_cover(s, o, "group", -1);
}

static int check_sweep(cli_suite *s, cli_suite_output *o)
{
    int problems = parse_where(s, o) + parse_digits_bools(s, o), line;
    problems += check_y_metric(s, o);
    o->col = -1;
    const char *x = out_value(o, "x", &line);
    if (!x)
        return problems + bad(s, o->line, NULL,
                              "[figure %s]: x missing (a numeric grid axis, "
                              "x = alpha)",
                              o->name);
    int a = axis_index(s, x);
    if (a < 0) return problems + bad(s, line, "x", "'%s' is not a [grid] axis", x);
    if (!s->axes[a].numeric)
        problems += bad(s, line, "x", "the axis '%s' has non-numeric values", x);
    if (s->axes[a].aggregate) problems += bad(s, line, "x", "'%s' is averaged over", x);
    if (where_fixed(o, a)) problems += bad(s, line, "x", "'%s' is fixed by where", x);
    o->col = a;
    return problems + rows_default_and_cover(s, o, "group", a);
}

/* montage: panels = RUN-RELATIVE.gp | ...; titles = ... | ...; panel-size = WxH */
static int check_montage(cli_suite *s, cli_suite_output *o)
{
    int problems = parse_where(s, o) + parse_digits_bools(s, o), line;
    o->col = -1;
    sx_strlist l;
    if (out_needed_list(s, o, "panels", '|',
                        "analysis/test-L3/map-input.gp | analysis/test-L3/map-hidden.gp",
                        "expected FILE.gp | FILE.gp ... (no empty item)", &l, &line))
        return problems + 1;
    if (l.n > CLI_SUITE_MAX_PANELS)
        problems += bad(s, line, "panels", "at most %d panels", CLI_SUITE_MAX_PANELS);
    for (int i = 0; i < l.n && i < CLI_SUITE_MAX_PANELS; i++) {
        size_t n = strlen(l.item[i]);
        if (l.item[i][0] == '/' || strstr(l.item[i], "..") || n < 4 ||
            strcmp(l.item[i] + n - 3, ".gp") != 0 || strchr(l.item[i], '\''))
            problems += bad(s, line, "panels",
                            "'%s': expected a figure script relative to the run directory "
                            "(analysis/test-L3/map-input.gp)",
                            l.item[i]);
        o->panels[o->n_panels++] = xstrdup(l.item[i]);
    }
    sx_strlist_free(&l);
    const char *v = out_value(o, "titles", &line);
    if (v) {
        if (strlist_split(&l, v, '|'))
            return problems + bad(s, line, "titles", "expected TITLE | TITLE ... (no empty item)");
        if (l.n != o->n_panels)
            problems += bad(s, line, "titles", "%d titles for %d panels", l.n, o->n_panels);
        for (int i = 0; i < l.n && i < o->n_panels; i++) o->panel_titles[i] = xstrdup(l.item[i]);
        sx_strlist_free(&l);
    }
    o->panel_w = 480;
    o->panel_h = 400;
    v = out_value(o, "panel-size", &line);
    if (v) {
        int w = 0, h = 0;
        char c;
        if (sscanf(v, "%dx%d%c", &w, &h, &c) != 2 || w < 100 || h < 100 || w > 4000 || h > 4000)
            problems += bad(s, line, "panel-size", "expected WIDTHxHEIGHT in pixels (480x400)");
        o->panel_w = w;
        o->panel_h = h;
    }
    /* one run per group: the aggregated axes (seeds) may stay free */
    return problems + rows_default_and_cover(s, o, "group", -1);
}

static int parse_outputs(cli_suite *s)
{
    int problems = 0;
    int nt = 0, nf = 0;
    for (int k = 0; k < s->n_sec; k++) {
        nt += !strcmp(s->sec[k].kind, "table");
        nf += !strcmp(s->sec[k].kind, "figure");
    }
    s->tables = xcalloc((size_t)nt, sizeof *s->tables);
    s->figures = xcalloc((size_t)nf, sizeof *s->figures);
    for (int k = 0; k < s->n_sec; k++) {
        const cli_suite_section *sec = &s->sec[k];
        int fig = !strcmp(sec->kind, "figure");
        if (!fig && strcmp(sec->kind, "table") != 0) continue;
        cli_suite_output *o = fig ? &s->figures[s->n_figures++] : &s->tables[s->n_tables++];
        o->name = sec->name;
        o->line = sec->line;
        o->sec = sec;
        o->col = -1;
        const sx_output_kind *kinds = fig ? sx_figure_kinds : sx_table_kinds;
        int nk = fig ? N_FIGURE_KINDS : N_TABLE_KINDS;
        char names[256];
        cli_suite_kinds_text(names, sizeof names, fig);
        const cli_suite_entry *ke = sx_find_entry(sec, "kind");
        o->kind = -1;
        if (!ke && !fig)
            o->kind = 0;
        else if (!ke)
            problems += bad(s, sec->line, NULL, "[figure %s]: kind missing (expected %s)",
                            sec->name, names);
        for (int i = 0; ke && i < nk; i++)
            if (!strcmp(kinds[i].name, ke->value)) o->kind = i;
        if (ke && o->kind < 0)
            problems +=
                bad(s, ke->line, "kind", "unknown kind '%s' (expected %s)", ke->value, names);
        if (o->kind < 0) continue;
        int bad_keys = 0;
        for (int i = 0; i < sec->n; i++) {
            if (!strcmp(sec->e[i].key, "kind") || word_in(kinds[o->kind].keys, sec->e[i].key))
                continue;
            bad_keys += bad(s, sec->e[i].line, sec->e[i].key,
                            "unknown key in [%s %s] (kind %s accepts: kind %s)", sec->kind,
                            sec->name, kinds[o->kind].name, kinds[o->kind].keys);
        }
        problems += bad_keys;
        if (!bad_keys) problems += kinds[o->kind].check(s, o);
    }
    return problems;
}

/* ---------------------------------------------------------------- claims */

static const char k_claim_keys[] = "text paper predicted metric label expect by where show labels "
                                   "figure table noise tol rtol min-n digits note";

static int cmp_parse(const char *t, cli_suite_cmp *out)
{
    static const char *const names[] = {"<", "<=", ">", ">=", "==", NULL};
    for (int i = 0; names[i]; i++)
        if (!strcmp(t, names[i])) return *out = (cli_suite_cmp)i, 1;
    return 0;
}

const char *sx_cmp_text(cli_suite_cmp c)
{
    static const char *const names[] = {"<", "<=", ">", ">=", "=="};
    return names[c];
}

/* A number >= lo from key (default def). */
static int claim_number(cli_suite *s, const cli_suite_output *o, const char *key, double def,
                        double lo, double *out)
{
    int line;
    const char *v = out_value(o, key, &line);
    *out = def;
    if (!v) return 0;
    if (!sx_parse_double_text(v, out) || *out < lo)
        return bad(s, line, key, "expected a number >= %g", lo);
    return 0;
}

/* figure = A, B / table = A: names of sections of the suite. */
static int claim_refs(cli_suite *s, const cli_suite_output *o, const char *key, const char *kind,
                      const char **names, int *n)
{
    int line;
    sx_strlist l;
    *n = 0;
    int problems = out_list(s, o, key, ',', "expected NAME, NAME ...", &l, &line);
    for (int i = 0; i < l.n; i++) {
        const cli_suite_section *sec = find_section(s, kind, l.item[i]);
        if (!sec)
            problems += bad(s, line, key, "no [%s %s] in this suite", kind, l.item[i]);
        else if (*n < 8)
            names[(*n)++] = sec->name;
        else
            problems += bad(s, line, key, "at most 8 names");
    }
    sx_strlist_free(&l);
    return problems;
}

static int parse_claim(cli_suite *s, const cli_suite_section *sec, cli_suite_claim *c)
{
    cli_suite_output *o = &c->o;
    c->name = o->name = sec->name;
    c->line = o->line = sec->line;
    o->sec = sec;
    o->col = -1;
    int problems = 0, line;
    for (int i = 0; i < sec->n; i++)
        if (!word_in(k_claim_keys, sec->e[i].key))
            problems += bad(s, sec->e[i].line, sec->e[i].key,
                            "unknown key in [claim %s] (expected: %s)", sec->name, k_claim_keys);
    if (problems) return problems;
    problems += parse_where(s, o) + parse_digits_bools(s, o);
    c->text = out_value(o, "text", NULL);
    c->paper = out_value(o, "paper", NULL);
    c->predicted = out_value(o, "predicted", NULL);
    c->note = out_value(o, "note", NULL);
    if (!c->text)
        problems +=
            bad(s, sec->line, NULL, "[claim %s]: text missing (the paper's statement)", sec->name);
    /* the metric, then the show columns */
    o->metrics = xcalloc(CLI_SUITE_MAX_LIST + 1, sizeof *o->metrics);
    const char *v = out_value(o, "metric", &line);
    if (!v)
        problems += bad(s, sec->line, NULL,
                        "[claim %s]: metric missing (metric = final.test_acc, or "
                        "FILE:JSON.PATH ...)",
                        sec->name);
    else
        problems += parse_metric(s, line, "metric", v, 1, o->metrics, 1, &o->n_metrics);
    const char *lab = out_value(o, "label", &line);
    if (lab && o->n_metrics) snprintf(o->metrics[0].label, sizeof o->metrics[0].label, "%s", lab);
    v = out_value(o, "show", &line);
    if (v) {
        sx_strlist l;
        if (strlist_split(&l, v, ','))
            problems += bad(s, line, "show", "not a comma-separated list of metrics");
        for (int i = 0; i < l.n; i++)
            problems += parse_metric(s, line, "show", l.item[i], 1, o->metrics,
                                     CLI_SUITE_MAX_LIST + 1, &o->n_metrics);
        sx_strlist_free(&l);
        const char *labels = out_value(o, "labels", &line);
        if (labels && !problems) {
            if (strlist_split(&l, labels, '|')) {
                problems += bad(s, line, "labels", "expected LABEL | LABEL ... (no empty label)");
            } else {
                if (l.n != o->n_metrics - 1)
                    problems += bad(s, line, "labels", "%d labels for %d show metrics", l.n,
                                    o->n_metrics - 1);
                for (int i = 0; i < l.n && i + 1 < o->n_metrics; i++)
                    snprintf(o->metrics[i + 1].label, sizeof o->metrics[i + 1].label, "%s",
                             l.item[i]);
                sx_strlist_free(&l);
            }
        }
    } else if (out_value(o, "labels", &line)) {
        problems += bad(s, line, "labels", "labels name the show metrics; there is no show");
    }
    /* by */
    c->by = s->method_axis;
    v = out_value(o, "by", &line);
    if (v) {
        if (!strcmp(v, "none")) {
            c->by = -1;
        } else if ((c->by = axis_index(s, v)) < 0) {
            problems += bad(s, line, "by", "'%s' is not a [grid] axis (or none)", v);
        } else if (s->axes[c->by].aggregate) {
            problems += bad(s, line, "by", "'%s' is averaged over (aggregate in [suite])", v);
        }
    }
    /* the cells: every other free axis */
    o->n_rows = 0;
    for (int a = 0; a < s->n_axes; a++)
        if (a != c->by && !s->axes[a].aggregate && !where_fixed(o, a)) o->rows[o->n_rows++] = a;
    /* expect */
    const char *ex = out_value(o, "expect", &line);
    c->expect = ex;
    if (!ex) {
        problems += bad(s, sec->line, NULL,
                        "[claim %s]: expect missing (e.g. expect = manifold < none, or * < 1e-6)",
                        sec->name);
    } else {
        /* chains separated by commas: blanks around them */
        char spaced[1024];
        size_t sl = 0;
        for (const char *p = ex; *p && sl + 4 < sizeof spaced; p++) {
            if (*p == ',') {
                spaced[sl++] = ' ';
                spaced[sl++] = ',';
                spaced[sl++] = ' ';
            } else {
                spaced[sl++] = *p;
            }
        }
        spaced[sl] = '\0';
        sx_strlist w;
        int ok = sx_strlist_words(&w, spaced) == 0 && w.n >= 3 && w.n % 2 == 1 && w.n <= 31;
        /* every chain has a comparison: no ',' first, last or twice in a row */
        for (int i = 1; ok && i < w.n; i += 2)
            if (!strcmp(w.item[i], ","))
                ok = i != 1 && i != w.n - 2 && strcmp(w.item[i + 2], ",") != 0;
        if (!ok) {
            problems += bad(s, line, "expect",
                            "expected A OP B [OP C ...][, D OP E ...] with OP one of < <= > >= == "
                            "(blanks between; at most 16 operands)");
            if (w.n) sx_strlist_free(&w);
        } else {
            int groups = 0;
            for (int i = 0; i < w.n; i++) {
                if (i % 2) {
                    if (!strcmp(w.item[i], ","))
                        c->cmps[i / 2] = CLI_CMP_BREAK;
                    else if (!cmp_parse(w.item[i], &c->cmps[i / 2]))
                        problems +=
                            bad(s, line, "expect", "'%s' is not one of < <= > >= ==", w.item[i]);
                    continue;
                }
                cli_suite_operand *op = &c->operands[c->n_operands++];
                snprintf(op->text, sizeof op->text, "%s", w.item[i]);
                op->vi = -1;
                if (c->by >= 0)
                    for (int k = 0; k < s->axes[c->by].n; k++)
                        if (!strcmp(s->axes[c->by].values[k], w.item[i])) op->vi = k;
                if (op->vi >= 0) {
                    op->kind = 0;
                    groups++;
                    if (o->n_where) {
                        for (int k = 0; k < o->n_where; k++)
                            if (o->where_axis[k] == c->by && !o->where_ok[k][op->vi])
                                problems +=
                                    bad(s, line, "expect", "'%s' is left out by where", w.item[i]);
                    }
                } else if (!strcmp(w.item[i], "*")) {
                    op->kind = 2;
                    groups++;
                } else if (sx_parse_double_text(w.item[i], &op->number)) {
                    op->kind = 1;
                } else if (c->by >= 0 && s->quick && is_name(w.item[i])) {
                    op->kind = 3; /* a value --quick dropped (quick.AXIS): no data */
                    groups++;
                } else if (c->by >= 0) {
                    char names[512] = "";
                    size_t used = 0;
                    for (int k = 0; k < s->axes[c->by].n && used < sizeof names; k++) {
                        int n = snprintf(names + used, sizeof names - used, "%s%s", k ? ", " : "",
                                         s->axes[c->by].values[k]);
                        if (n > 0) used += (size_t)n;
                    }
                    problems += bad(s, line, "expect",
                                    "'%s' is neither a value of the axis %s (%s), a number nor *",
                                    w.item[i], s->axes[c->by].key, names);
                } else {
                    problems += bad(s, line, "expect",
                                    "'%s': with by = none an operand is * (the runs of a cell) "
                                    "or a number",
                                    w.item[i]);
                }
            }
            if (!groups)
                problems += bad(s, line, "expect", "compares only numbers (name a group or *)");
            sx_strlist_free(&w);
        }
    }
    problems += claim_number(s, o, "noise", 2.0, 0.0, &c->noise);
    problems += claim_number(s, o, "tol", 0.0, 0.0, &c->tol);
    problems += claim_number(s, o, "rtol", 0.0, 0.0, &c->rtol);
    double mn;
    problems += claim_number(s, o, "min-n", 2.0, 1.0, &mn);
    c->min_n = (int)mn;
    if (mn != (int)mn) problems += bad(s, line, "min-n", "expected an integer >= 1");
    if (!out_value(o, "digits", NULL)) o->digits = 4;
    if (o->digits < 1) o->digits = 1;
    problems += claim_refs(s, o, "figure", "figure", c->figures, &c->n_figures);
    problems += claim_refs(s, o, "table", "table", c->tables, &c->n_tables);
    return problems;
}

static int parse_claims(cli_suite *s)
{
    int n = 0, problems = 0;
    for (int k = 0; k < s->n_sec; k++) n += !strcmp(s->sec[k].kind, "claim");
    s->claims = xcalloc((size_t)n, sizeof *s->claims);
    for (int k = 0; k < s->n_sec; k++)
        if (!strcmp(s->sec[k].kind, "claim"))
            problems += parse_claim(s, &s->sec[k], &s->claims[s->n_claims++]);
    return problems;
}

/* ---------------------------------------------------------------- sections */

static int check_sections(cli_suite *s)
{
    int problems = 0;
    for (int k = 0; k < s->n_sec; k++) {
        const cli_suite_section *sec = &s->sec[k];
        int named = !strcmp(sec->kind, "method") || !strcmp(sec->kind, "table") ||
                    !strcmp(sec->kind, "figure") || !strcmp(sec->kind, "claim");
        int plain = !strcmp(sec->kind, "suite") || !strcmp(sec->kind, "base") ||
                    !strcmp(sec->kind, "grid") || !strcmp(sec->kind, "analyze");
        if (!named && !plain)
            problems += bad(s, sec->line, NULL,
                            "unknown section [%s%s%s] (expected [suite], [base], [grid], [method "
                            "NAME], [analyze], [table NAME], [figure NAME], [claim NAME])",
                            sec->kind, *sec->name ? " " : "", sec->name);
        else if (named && !is_name(sec->name))
            problems += bad(s, sec->line, NULL,
                            "[%s NAME]: NAME must be a word of letters, digits, '.', '_' or '-'",
                            sec->kind);
        else if (plain && *sec->name)
            problems += bad(s, sec->line, NULL, "[%s] takes no name", sec->kind);
    }
    const cli_suite_section *base = find_section(s, "base", "");
    for (int i = 0; base && i < base->n; i++)
        problems += train_key_check(s, base->e[i].line, base->e[i].key, "[base]");
    return problems;
}

/* ---------------------------------------------------------------- expansion */

/* Lines printed to stderr while a run is resolved, captured (so that the
 * same problem of many runs is shown once). */
typedef struct {
    char **line;
    int n, cap;
} line_set;

static void line_set_add(line_set *ls, const char *line)
{
    for (int i = 0; i < ls->n; i++)
        if (!strcmp(ls->line[i], line)) return;
    if (ls->n == ls->cap) {
        ls->cap = ls->cap ? 2 * ls->cap : 16;
        ls->line = xrealloc(ls->line, sizeof *ls->line * (size_t)ls->cap);
    }
    ls->line[ls->n++] = xstrdup(line);
}

static void line_set_free(line_set *ls)
{
    for (int i = 0; i < ls->n; i++) free(ls->line[i]);
    free(ls->line);
}

static void set_value(cli_values *v, const cli_suite *s, const cli_suite_entry *e, const char *key,
                      const char *value)
{
    char origin[CLI_ORIGIN_LEN];
    snprintf(origin, sizeof origin, "%s:%d: %s", s->path, e ? e->line : 0, key);
    cli_set_by_name(v, key, value, origin);
}

/* "A-B" or "A" with 1 <= A <= B <= 100000 (theory --dims), or auto. */
static int theory_dims_ok(const char *t)
{
    if (!strcmp(t, "auto")) return 1;
    char *end;
    long a = strtol(t, &end, 10), b = a;
    if (end == t) return 0;
    if (*end == '-') {
        const char *p = end + 1;
        b = strtol(p, &end, 10);
        if (end == p) return 0;
    }
    return !*end && a >= 1 && b >= a && b <= 100000;
}

static int positive_double(const cli_values *v, const char *name)
{
    double x;
    if (cli_get_double(v, name, &x)) return 1;
    return x > 0 ? 0 : cli_bad(v, name, "must be > 0");
}

/* The checks of `mixgeo theory` (cmd_theory.c) on the values of a run. */
static int theory_check(const cli_values *v)
{
    int d = 4, x, bad_n = 0;
    uint64_t u;
    static const char *const losses[] = {"sq", "kl", "squared", NULL};
    bad_n += cli_get_int(v, "classes", 2, 100000, &d);
    if (!theory_dims_ok(cli_get(v, "dims")))
        bad_n += cli_bad(v, "dims", "expected A-B (e.g. 1-14), one dimension, or auto");
    if (strcmp(cli_get(v, "n"), "auto") != 0) {
        if (cli_get_int(v, "n", 2, INT_MAX, &x))
            bad_n++;
        else if (x < 2 * d || x % d != 0)
            bad_n += cli_bad(v, "n", "must be a multiple of classes %d and at least %d", d, 2 * d);
    }
    bad_n += positive_double(v, "alpha") + positive_double(v, "lr") +
             positive_double(v, "lr-final") + positive_double(v, "rank-rtol");
    bad_n += cli_get_enum(v, "loss", losses, &x);
    bad_n += cli_get_int(v, "iters", 1, INT_MAX, &x);
    bad_n += cli_get_int(v, "quad-points", 1, 100000, &x);
    bad_n += cli_get_u64(v, "seed", &u);
    return bad_n;
}

/* The checks of `mixgeo analyze --states` (cmd_analyze.c) that need no file:
 * states and labels given, the numbers in range, and the analyses named in
 * only possible on the inputs (mg_analysis_infos[].needs_ext).  The files
 * themselves are opened by the run (a missing one fails that run only). */
static int states_check(const cli_suite *s, const cli_values *v)
{
    int bad_n = 0, x;
    uint64_t u;
    const cli_suite_entry *ce = sx_find_entry(find_section(s, "suite", ""), "command");
    static const char *const needed[] = {"states", "labels", NULL};
    for (int i = 0; needed[i]; i++)
        if (!*cli_get(v, needed[i])) {
            cli_error("%s:%d: %s: missing: every run of a states suite needs states = H.npy and "
                      "labels = Y.npy (in [base], a [method N] preset or a [grid] axis)",
                      s->path, ce ? ce->line : 1, needed[i]);
            bad_n++;
        }
    const char *readout = cli_get(v, "readout"), *logits = cli_get(v, "logits");
    if (*readout) {
        const char *comma = strchr(readout, ',');
        if (comma == readout || (comma && (!comma[1] || strchr(comma + 1, ','))))
            bad_n += cli_bad(v, "readout", "expected W.npy or W.npy,B.npy");
    }
    int want[MG_AN_COUNT], named = 0;
    if (mg_analysis_parse_list(cli_get(v, "only"), want, &named) != MG_OK) {
        bad_n += cli_bad(v, "only", "%s", mg_errmsg());
    } else if (named) {
        for (int a = 0; a < MG_AN_COUNT; a++) {
            if (!want[a]) continue;
            unsigned need = mg_analysis_infos[a].needs_ext;
            const char *name = mg_analysis_infos[a].name;
            if (need & MG_NEED_MODEL)
                bad_n += cli_bad(v, "only",
                                 "%s needs the network (a mixgeo run), not external "
                                 "states",
                                 name);
            else if ((need & MG_NEED_READOUT) && !*readout)
                bad_n += cli_bad(v, "only",
                                 "%s needs the readout of the states (readout = "
                                 "W.npy[,B.npy])",
                                 name);
            else if ((need & MG_NEED_LOGITS) && !*logits && !*readout)
                bad_n += cli_bad(v, "only",
                                 "%s needs logits = Z.npy or readout = "
                                 "W.npy[,B.npy]",
                                 name);
        }
    }
    const char *mpc = cli_get(v, "max-per-class");
    if (strcmp(mpc, "all") != 0 && strcmp(mpc, "auto") != 0 &&
        cli_get_int(v, "max-per-class", 1, INT_MAX, &x))
        bad_n++;
    bad_n += cli_get_u64(v, "seed", &u);
    bad_n += cli_get_int(v, "bins", 1, 100000, &x);
    bad_n += cli_get_int(v, "hist-bins", 1, 1000000, &x);
    bad_n += cli_get_int(v, "lambdas", 2, 1000000, &x);
    if (strcmp(cli_get(v, "pairs"), "auto") != 0)
        bad_n += cli_get_int(v, "pairs", 1, 100000000, &x);
    return bad_n;
}

/* Resolve the configuration of run r into r->config.  Problems are
 * printed to stderr (the caller captures them). */
static int resolve_run(cli_suite *s, cli_suite_run *r)
{
    cli_values v;
    cli_values_init(&v, s->opts, s->n_opts);
    const cli_suite_section *base = find_section(s, "base", "");
    for (int i = 0; base && i < base->n; i++)
        set_value(&v, s, &base->e[i], base->e[i].key, base->e[i].value);
    if (s->method_axis >= 0) {
        const cli_suite_axis *a = &s->axes[s->method_axis];
        const cli_suite_section *m = find_section(s, "method", a->values[r->vi[s->method_axis]]);
        for (int i = 0; m && i < m->n; i++)
            if (strcmp(m->e[i].key, "label") != 0)
                set_value(&v, s, &m->e[i], m->e[i].key, m->e[i].value);
    }
    for (int a = 0; a < s->n_axes; a++) {
        if (a == s->method_axis) continue;
        const cli_suite_axis *ax = &s->axes[a];
        char origin[CLI_ORIGIN_LEN];
        snprintf(origin, sizeof origin, "%s:%d: %s", s->path, ax->line, ax->key);
        cli_set_by_name(&v, ax->key, ax->values[r->vi[a]], origin);
    }
    if (s->quick)
        for (int i = 0; i < s->n_quick_set; i++)
            set_value(&v, s, s->quick_set[i], s->quick_set[i]->key + 6, s->quick_set[i]->value);
    int problems;
    if (s->command == CLI_SUITE_THEORY) {
        problems = theory_check(&v);
    } else if (s->command == CLI_SUITE_STATES) {
        problems = states_check(s, &v);
    } else {
        cli_run_config c;
        problems = cli_run_config_resolve(&v, &c);
    }
    if (!problems) {
        r->config = xcalloc((size_t)s->n_opts, sizeof *r->config);
        for (int i = 0; i < s->n_opts; i++)
            if (s->opts[i].flags & CLI_SAVE) r->config[i] = xstrdup(cli_get(&v, s->opts[i].name));
    }
    cli_values_free(&v);
    return problems;
}

static const cli_opt *g_sort_opts;
static int cmp_opt_names(const void *a, const void *b)
{
    return strcmp(g_sort_opts[*(const int *)a].name, g_sort_opts[*(const int *)b].name);
}

/* FNV-1a 64 of the sorted "key=value\n" lines of the keys that change results
 * and differ from their default text (theory: after "command=theory\n";
 * states: after "command=states\n"). */
static uint64_t config_hash(const cli_suite *s, const cli_suite_run *r)
{
    int idx[CLI_MAX_OPTS], n = 0;
    for (int i = 0; i < s->n_opts && n < CLI_MAX_OPTS; i++) idx[n++] = i;
    g_sort_opts = s->opts;
    qsort(idx, (size_t)n, sizeof idx[0], cmp_opt_names);
    uint64_t h = FNV_INIT;
    if (s->command == CLI_SUITE_THEORY) h = fnv1a(h, "command=theory\n");
    if (s->command == CLI_SUITE_STATES) h = fnv1a(h, "command=states\n");
    for (int k = 0; k < n; k++) {
        const cli_opt *o = &s->opts[idx[k]];
        if (!(o->flags & CLI_SAVE) || sx_key_excluded(o->name)) continue;
        const char *val = r->config[idx[k]];
        if (!strcmp(val, o->def ? o->def : "")) continue;
        h = fnv1a(h, o->name);
        h = fnv1a(h, "=");
        h = fnv1a(h, val);
        h = fnv1a(h, "\n");
    }
    return h;
}

static void make_id(const cli_suite *s, cli_suite_run *r)
{
    char slug[128];
    size_t used = 0;
    slug[0] = '\0';
    for (int a = 0; a < s->n_axes && used + 1 < sizeof slug; a++) {
        const cli_suite_axis *ax = &s->axes[a];
        char part[256];
        size_t pl = 0;
        if (a != s->method_axis)
            for (const char *k = ax->key; *k && pl + 1 < sizeof part; k++)
                if (*k != '-') part[pl++] = *k;
        for (const char *v = ax->values[r->vi[a]]; *v && pl + 1 < sizeof part; v++) {
            char ch = *v;
            part[pl++] = (isalnum((unsigned char)ch) || ch == '.' || ch == '+') ? ch : '-';
        }
        part[pl] = '\0';
        int w = snprintf(slug + used, sizeof slug - used, "%s%s", used ? "_" : "", part);
        if (w > 0) used += (size_t)w;
        if (used >= sizeof slug) used = sizeof slug - 1;
    }
    if (used > 100) used = 100;
    slug[used] = '\0';
    uint32_t h32 = (uint32_t)(r->hash ^ (r->hash >> 32));
    snprintf(r->id, sizeof r->id, "%s-%08x", used ? slug : "run", h32);
}

static const cli_suite_run *g_sort_runs;
static int cmp_run_ids(const void *a, const void *b)
{
    return strcmp(g_sort_runs[*(const int *)a].id, g_sort_runs[*(const int *)b].id);
}

static int expand(cli_suite *s)
{
    long total = 1;
    for (int a = 0; a < s->n_axes; a++) {
        total *= s->axes[a].n;
        if (total > MAX_RUNS) {
            const cli_suite_section *g = find_section(s, "grid", "");
            return bad(s, g ? g->line : 1, NULL, "[grid]: more than %d runs", MAX_RUNS);
        }
    }
    s->runs = xcalloc((size_t)total, sizeof *s->runs);
    s->n_runs = (int)total;
    line_set errors = {0};
    int failing = 0;
    for (long r = 0; r < total; r++) {
        cli_suite_run *run = &s->runs[r];
        long q = r;
        for (int a = s->n_axes - 1; a >= 0; a--) {
            run->vi[a] = (int)(q % s->axes[a].n);
            q /= s->axes[a].n;
        }
        /* Capture what the resolution prints. */
        fflush(stderr);
        FILE *tmp = tmpfile();
        int saved = -1;
        if (tmp) {
            saved = dup(STDERR_FILENO);
            if (saved >= 0) dup2(fileno(tmp), STDERR_FILENO);
        }
        int p = resolve_run(s, run);
        fflush(stderr);
        if (saved >= 0) {
            dup2(saved, STDERR_FILENO);
            close(saved);
        }
        if (tmp) {
            rewind(tmp);
            char line[2048];
            while (fgets(line, sizeof line, tmp)) line_set_add(&errors, line);
            fclose(tmp);
        }
        if (p)
            failing++;
        else
            run->hash = config_hash(s, run);
    }
    for (int i = 0; i < errors.n; i++) fputs(errors.line[i], stderr);
    line_set_free(&errors);
    if (failing) {
        cli_error("%s: %d of %ld runs of the grid have configuration errors", s->path, failing,
                  total);
        return failing;
    }
    for (int r = 0; r < s->n_runs; r++) make_id(s, &s->runs[r]);
    int *idx = xcalloc((size_t)s->n_runs, sizeof *idx);
    for (int r = 0; r < s->n_runs; r++) idx[r] = r;
    g_sort_runs = s->runs;
    qsort(idx, (size_t)s->n_runs, sizeof *idx, cmp_run_ids);
    int problems = 0;
    for (int k = 1; k < s->n_runs; k++)
        if (!strcmp(s->runs[idx[k]].id, s->runs[idx[k - 1]].id)) {
            cli_error("%s: two runs of the grid have the same id %s (same axis values up to "
                      "punctuation and the same configuration)",
                      s->path, s->runs[idx[k]].id);
            problems++;
        }
    free(idx);
    return problems;
}

/* ---------------------------------------------------------------- load / free */

int cli_suite_load(const char *path, const cli_suite_opts *o, cli_suite **out)
{
    *out = NULL;
    cli_suite *s = xcalloc(1, sizeof *s);
    s->path = xstrdup(path);
    s->quick = o->quick;
    s->method_axis = -1;
    int problems = sx_ini_read(path, 0, &s->sec, &s->n_sec);
    if (problems < 0) {
        cli_suite_free(s);
        return -1;
    }
    s->command = CLI_SUITE_TRAIN;
    s->opts = cli_train_opts;
    s->n_opts = cli_train_n_opts;
    const cli_suite_entry *ce = sx_find_entry(find_section(s, "suite", ""), "command");
    if (ce && !strcmp(ce->value, "theory")) {
        s->command = CLI_SUITE_THEORY;
        s->opts = k_theory_opts;
        s->n_opts = N_THEORY_OPTS;
    } else if (ce && !strcmp(ce->value, "states")) {
        s->command = CLI_SUITE_STATES;
        s->opts = k_states_opts;
        s->n_opts = N_STATES_OPTS;
    } else if (ce && strcmp(ce->value, "train") != 0) {
        problems += bad(s, ce->line, ce->key,
                        "unknown command '%s' (expected train, theory or states)", ce->value);
    }
    problems += check_sections(s);
    problems += parse_suite_section(s, o);
    problems += parse_methods(s);
    problems += parse_grid(s);
    problems += parse_analyze(s);
    if (!problems) problems += parse_outputs(s);
    if (!problems) problems += parse_claims(s);
    if (!problems) problems += expand(s);
    if (problems) {
        cli_suite_free(s);
        return problems;
    }
    *out = s;
    return 0;
}

void cli_suite_free(cli_suite *s)
{
    if (!s) return;
    for (int a = 0; a < s->n_axes; a++) {
        for (int i = 0; i < s->axes[a].n; i++) {
            free(s->axes[a].values[i]);
            free(s->axes[a].labels[i]);
        }
        free(s->axes[a].values);
        free(s->axes[a].labels);
        free(s->axes[a].key);
    }
    for (int r = 0; r < s->n_runs; r++) {
        if (s->runs[r].config)
            for (int i = 0; i < s->n_opts; i++) free(s->runs[r].config[i]);
        free(s->runs[r].config);
    }
    free(s->runs);
    for (int i = 0; i < s->n_tables; i++) free(s->tables[i].metrics);
    for (int i = 0; i < s->n_figures; i++) {
        free(s->figures[i].metrics);
        for (int k = 0; k < s->figures[i].n_panels; k++) {
            free(s->figures[i].panels[k]);
            free(s->figures[i].panel_titles[k]);
        }
    }
    free(s->tables);
    free(s->figures);
    for (int i = 0; i < s->n_claims; i++) free(s->claims[i].o.metrics);
    free(s->claims);
    for (int i = 0; i < s->analyze.n_splits; i++) free(s->analyze.splits[i]);
    free(s->analyze.only);
    for (int i = 0; i < CLI_SUITE_MAX_LIST; i++) free(s->analyze.only_layer[i]);
    free(s->analyze.max_per_class);
    free(s->steps);
    sx_sections_free(s->sec, s->n_sec);
    free(s->path);
    free(s->name);
    free(s->description);
    free(s->out);
    free(s);
}
