/* suite.c - experiment suites: the suite file, grid expansion and stable run
 * ids, the state of runs on disk, markers, and the report (tables and
 * figures aggregated over seeds).  See suite.h for the file format and the
 * run-directory layout; cmd_suite.c runs the processes.
 *
 * Adding a table or figure kind: write a check function (parse-time: reads
 * the section's keys, prints FILE:LINE: KEY problems) and a write function
 * (report-time: data + script), and add a row to k_table_kinds or
 * k_figure_kinds below.  Metrics are JSON paths into any JSON file of a run
 * (summary.json by default, e.g. an analysis's summary.json), so tables of
 * analysis results need no new code: metrics = analysis/test-L1/summary.json:X.
 */
#include "suite.h"

#include "gp.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS 100000

/* ---------------------------------------------------------------- helpers */

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    MG_ASSERT(p != NULL);
    return p;
}

static void *xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    MG_ASSERT(q != NULL);
    return q;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    MG_ASSERT(p != NULL);
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    MG_ASSERT(p != NULL);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

/* [A-Za-z0-9._-]+ */
static int is_name(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-') return 0;
    return 1;
}

static int parse_long_text(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || end == s || *end || x < lo || x > hi) return 0;
    *out = x;
    return 1;
}

static int parse_double_text(const char *s, double *out)
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

/* A list of trimmed items. */
typedef struct {
    char *item[CLI_SUITE_MAX_LIST];
    int n;
} strlist;

static void strlist_free(strlist *l)
{
    for (int i = 0; i < l->n; i++) free(l->item[i]);
    l->n = 0;
}

/* Split text at sep.  Returns 0, 1 if an item (or the whole text) is empty,
 * 2 if there are more than CLI_SUITE_MAX_LIST items.  On failure l is empty. */
static int strlist_split(strlist *l, const char *text, char sep)
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
            strlist_free(l);
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
static int strlist_words(strlist *l, const char *text)
{
    l->n = 0;
    const char *p = text;
    for (;;) {
        while (isspace((unsigned char)*p)) p++;
        if (!*p) return 0;
        const char *e = p;
        while (*e && !isspace((unsigned char)*e)) e++;
        if (l->n == CLI_SUITE_MAX_LIST) {
            strlist_free(l);
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

static char *read_text(const char *path, size_t max)
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

static cJSON *json_load(const char *path)
{
    char *text = read_text(path, (size_t)64 << 20);
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

static mg_status write_text_atomic(const char *path, const char *text)
{
    return mg_write_atomic(path, emit_text, (void *)text);
}

/* A growing text buffer (open_memstream). */
typedef struct {
    FILE *f;
    char *buf;
    size_t len;
} membuf;

static void mb_open(membuf *m)
{
    m->buf = NULL;
    m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    MG_ASSERT(m->f != NULL);
}

/* Close the stream; m->buf is the text (caller frees). */
static char *mb_close(membuf *m)
{
    fclose(m->f);
    m->f = NULL;
    return m->buf;
}

static mg_status mb_write(membuf *m, const char *path)
{
    char *text = mb_close(m);
    mg_status st = write_text_atomic(path, text ? text : "");
    free(text);
    return st;
}

static void iso_time(char *buf, size_t len)
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
static int ini_read(const char *path, int quiet, cli_suite_section **out, int *n_out)
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

static void sections_free(cli_suite_section *sec, int n)
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

static const cli_suite_entry *find_entry(const cli_suite_section *sec, const char *key)
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

static const char *command_name(const cli_suite *s)
{
    return s->command == CLI_SUITE_THEORY ? "theory" : "train";
}

static int suite_opt(const cli_suite *s, const char *key)
{
    for (int i = 0; i < s->n_opts; i++)
        if (!strcmp(s->opts[i].name, key)) return i;
    return -1;
}

/* Keys that do not change results: left out of the id hash and of the
 * configuration comparison. */
static int key_excluded(const char *key)
{
    return !strcmp(key, "out") || !strcmp(key, "threads") || !strcmp(key, "checkpoint-every");
}

/* A run key usable in [base], [method], [grid] and quick. */
static int train_key_check(const cli_suite *s, int line, const char *key, const char *where)
{
    int i = suite_opt(s, key);
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

typedef struct {
    const char *name, *label;
} name_label;

/* The columns of RUN/metrics.tsv (k_columns of cmd_train.c) with the text a
 * reader sees on an axis. */
static const name_label k_train_columns[] = {
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
static const name_label k_summary_keys[] = {
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
static const name_label k_axis_labels[] = {
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
    {NULL, NULL},
};

static const char *lookup_label(const name_label *t, const char *name)
{
    for (int i = 0; t[i].name; i++)
        if (!strcmp(t[i].name, name)) return t[i].label;
    return NULL;
}

static const char *axis_label(const cli_suite_axis *a)
{
    const char *l = lookup_label(k_axis_labels, a->key);
    return l ? l : a->key;
}

/* ---------------------------------------------------------------- analyses */

/* The analyses `mixgeo analyze --only` knows (k_an_names of cmd_analyze.c;
 * keep in sync, or let cmd_analyze.c export its table) and "all". */
static const char *const k_analyses[] = {"all",     "spectra",    "corollary",   "theory",
                                         "margins", "confidence", "calibration", "collapse",
                                         "fgsm",    "maps",       NULL};

static void analyses_text(char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; k_analyses[i] && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", k_analyses[i]);
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
            if (!parse_long_text(e->value, -1000000, 1000000, &x))
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
static int axis_values(cli_suite *s, int line, const char *key, const char *text, strlist *l)
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
    if (problems) strlist_free(l);
    return problems;
}

static int axis_index(const cli_suite *s, const char *key)
{
    for (int a = 0; a < s->n_axes; a++)
        if (!strcmp(s->axes[a].key, key)) return a;
    return -1;
}

static void axis_set(cli_suite *s, cli_suite_axis *a, strlist *l, int line)
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
        if (!parse_double_text(a->values[i], &x)) a->numeric = 0;
        const cli_suite_entry *lab = NULL;
        if (!strcmp(a->key, "method"))
            lab = find_entry(find_section(s, "method", l->item[i]), "label");
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
        strlist l;
        if (axis_values(s, e->line, e->key, e->value, &l)) {
            problems++;
            continue;
        }
        if (s->n_axes == CLI_SUITE_MAX_AXES) {
            problems += bad(s, e->line, e->key, "more than %d axes", CLI_SUITE_MAX_AXES);
            strlist_free(&l);
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
            strlist l;
            if (axis_values(s, e->line, e->key, e->value, &l)) {
                problems++;
                continue;
            }
            if (s->quick)
                axis_set(s, &s->axes[a], &l, e->line);
            else
                strlist_free(&l);
        } else if (!strcmp(k, "method")) {
            problems += bad(s, e->line, e->key, "[grid] has no method axis");
        } else if (train_key_check(s, e->line, k, "quick.KEY")) {
            problems++;
        } else if (s->n_quick_set < CLI_SUITE_MAX_LIST) {
            s->quick_set[s->n_quick_set++] = e;
        }
    }
    /* aggregate: the axes averaged over in the report. */
    const cli_suite_entry *ag = find_entry(ss, "aggregate");
    if (ag) {
        strlist l;
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
            strlist_free(&l);
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
    if (s->method_axis < 0 && !find_entry(grid, "method")) {
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

/* e's value split at commas into l (strlist_free it).  Returns the problems:
 * 1 (reported as "expect"; l empty) for a malformed list. */
static int entry_list(cli_suite *s, const cli_suite_entry *e, const char *expect, strlist *l)
{
    if (strlist_split(l, e->value, ',')) return bad(s, e->line, e->key, "%s", expect);
    return 0;
}

/* The analyses of e (`only = LIST` or `only.K = LIST`), each one of
 * k_analyses (an unknown one is reported with the names and then `also`),
 * joined with commas into *list (replaced; freed with the suite).  Returns
 * the problems. */
static int analyses_list(cli_suite *s, const cli_suite_entry *e, const char *also, char **list)
{
    strlist l;
    int problems = entry_list(s, e, "not a comma-separated list of analyses", &l);
    char text[1024] = "";
    size_t used = 0;
    for (int k = 0; k < l.n; k++) {
        int known = 0;
        for (int j = 0; k_analyses[j]; j++) known |= !strcmp(k_analyses[j], l.item[k]);
        if (!known) {
            char names[512];
            analyses_text(names, sizeof names);
            problems += bad(s, e->line, e->key, "unknown analysis '%s' (expected %s%s)", l.item[k],
                            names, also);
        }
        int w = snprintf(text + used, sizeof text - used, "%s%s", k ? "," : "", l.item[k]);
        if (w > 0 && (size_t)w < sizeof text - used) used += (size_t)w;
    }
    strlist_free(&l);
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
    if (strcmp(k_text, "auto") != 0 && !parse_long_text(k_text, 0, 1000, &k)) {
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
            strlist l;
            problems += entry_list(s, e, "not a comma-separated list of layers (1,2)", &l);
            for (int k = 0; k < l.n; k++) {
                long x;
                if (!strcmp(l.item[k], "auto"))
                    an->layers[an->n_layers++] = -1; /* analyze picks L-1 */
                else if (!parse_long_text(l.item[k], 0, 1000, &x))
                    problems += bad(s, e->line, e->key,
                                    "'%s' is not a layer number 0..1000 or auto", l.item[k]);
                else
                    an->layers[an->n_layers++] = (int)x;
            }
            strlist_free(&l);
        } else if (!strcmp(e->key, "split")) {
            strlist l;
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
            strlist_free(&l);
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
            if (strcmp(e->value, "all") != 0 && !parse_long_text(e->value, 1, 100000000, &x))
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

static int reducer_index(const char *name)
{
    for (int i = 0; k_reducers[i]; i++)
        if (!strcmp(k_reducers[i], name)) return i;
    return -1;
}

/* The position of the last '|' outside [...] in path, or NULL. */
static const char *reducer_bar(const char *path)
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
static int filter_op(const char *p, int *len)
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
    char *bar = (char *)reducer_bar(buf);
    if (bar) {
        *bar = '\0';
        int r = reducer_index(bar + 1);
        if (r < 0 || !strcmp(bar + 1, "changes")) {
            snprintf(why, len,
                     "unknown reducer '|%s' (expected |min |max |mean |sum |count |first |last)",
                     bar + 1);
            return 1;
        }
        *reduced = 1;
    }
    if (!*buf) return snprintf(why, len, "empty path"), 1;
    int depth = 0, inq = 0;
    char *seg = buf;
    for (char *p = buf;; p++) {
        if (*p == '"' && depth == 0) inq = !inq;
        if (inq && *p) continue;
        if (*p == '[') depth++;
        if (*p == ']') depth--;
        if (depth < 0 || depth > 1) return snprintf(why, len, "unbalanced [ ]"), 1;
        if ((*p == '.' && depth == 0) || !*p) {
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
                while (*q && filter_op(q, &ol) < 0) q++;
                if (!*q || q == f || !q[ol])
                    return snprintf(
                               why, len,
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
            seg = p + 1;
        }
    }
    if (depth) return snprintf(why, len, "unbalanced [ ]"), 1;
    if (inq) return snprintf(why, len, "unbalanced \""), 1;
    return 0;
}

/* A term of a metric: a number, FILE:PATH (JSON or TSV), final.COL,
 * best.COL or a numeric summary.json key.  The default label into label. */
static int parse_term(cli_suite *s, int line, const char *key, const char *text, cli_suite_term *t,
                      char *label, size_t llen)
{
    memset(t, 0, sizeof *t);
    double x;
    if (parse_double_text(text, &x)) {
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
            if (bar && reducer_index(bar + 1) < 0)
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
    const char *l = NULL;
    if (!strncmp(text, "final.", 6) || !strncmp(text, "best.", 5)) {
        int best = text[0] == 'b';
        const char *c = text + (best ? 5 : 6);
        const char *cl = lookup_label(k_train_columns, c);
        if (cl) {
            snprintf(label, llen, "%s, %s", cl, best ? "best epoch" : "final");
            l = label;
        }
    } else if ((l = lookup_label(k_summary_keys, text)) != NULL) {
        snprintf(label, llen, "%s", l);
    }
    if (!l) {
        if (lookup_label(k_train_columns, text))
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
    const char *col_label = lookup_label(k_train_columns, item);
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
    strlist w;
    if (strlist_words(&w, item) || w.n == 0) return bad(s, line, key, "empty metric");
    int problems = 0;
    if (w.n > 1) {
        if (w.n % 2 == 0 || w.n > 2 * CLI_SUITE_MAX_TERMS - 1) {
            strlist_free(&w);
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
    strlist_free(&w);
    if (!problems) out[(*n)++] = m;
    return problems;
}

/* ---------------------------------------------------------------- tables and figures */

typedef struct report_ctx report_ctx;

typedef struct {
    const char *name;
    const char *summary;
    const char *keys; /* accepted keys besides kind, blank-separated */
    int (*check)(cli_suite *s, cli_suite_output *o);
    mg_status (*write)(report_ctx *c, const cli_suite_output *o);
} output_kind;

static int check_table_summary(cli_suite *s, cli_suite_output *o);
static int check_curve(cli_suite *s, cli_suite_output *o);
static int check_bar(cli_suite *s, cli_suite_output *o);
static int check_sweep(cli_suite *s, cli_suite_output *o);
static int check_montage(cli_suite *s, cli_suite_output *o);
static mg_status write_table_summary(report_ctx *c, const cli_suite_output *o);
static mg_status write_curve(report_ctx *c, const cli_suite_output *o);
static mg_status write_bar(report_ctx *c, const cli_suite_output *o);
static mg_status write_sweep(report_ctx *c, const cli_suite_output *o);
static mg_status write_montage(report_ctx *c, const cli_suite_output *o);

static const output_kind k_table_kinds[] = {
    {"summary", "mean +- std (n) over seeds of final/best metrics, one row per group",
     "metrics values labels rows cols where digits title caption", check_table_summary,
     write_table_summary},
};
static const output_kind k_figure_kinds[] = {
    {"curve",
     "a column of a per-run TSV (metrics.tsv, an analysis TSV; y may be a glob of columns "
     "averaged per row, class_*) against another (epoch, k), one line and seed band per group",
     "file x y group where title xlabel ylabel logx logy xrange yrange key with xline yline "
     "diagonal",
     check_curve, write_curve},
    {"bar", "one bar (mean, std error bar) per group of a final/best metric",
     "y value group where title ylabel yrange", check_bar, write_bar},
    {"sweep", "a final/best metric against a numeric grid axis (alpha, width), one line per group",
     "x y value group where title xlabel ylabel logx logy xrange yrange key", check_sweep,
     write_sweep},
    {"montage",
     "the plots of per-run figure scripts (mixgeo analyze's map-input.gp, ...) side by side, one "
     "row per group (its first finished run)",
     "panels titles group where title panel-size", check_montage, write_montage},
};
#define N_TABLE_KINDS ((int)(sizeof k_table_kinds / sizeof k_table_kinds[0]))
#define N_FIGURE_KINDS ((int)(sizeof k_figure_kinds / sizeof k_figure_kinds[0]))

void cli_suite_kinds_text(char *buf, size_t len, int figures)
{
    const output_kind *k = figures ? k_figure_kinds : k_table_kinds;
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
    const cli_suite_entry *e = find_entry(o->sec, key);
    if (line) *line = e ? e->line : o->line;
    return e ? e->value : NULL;
}

/* The list under key, items separated by sep, into l (strlist_free it); l->n
 * = 0 when key is absent or the list is malformed.  Returns the problems: 1
 * (reported as "expect") for a malformed list.  *line: the line to name. */
static int out_list(cli_suite *s, const cli_suite_output *o, const char *key, char sep,
                    const char *expect, strlist *l, int *line)
{
    l->n = 0;
    const char *v = out_value(o, key, line);
    if (v && strlist_split(l, v, sep)) return bad(s, *line, key, "%s", expect);
    return 0;
}

/* As out_list for a key that must be there: a missing one is a problem too,
 * "[KIND NAME]: KEY missing (KEY = example)". */
static int out_needed_list(cli_suite *s, const cli_suite_output *o, const char *key, char sep,
                           const char *example, const char *expect, strlist *l, int *line)
{
    l->n = 0;
    if (!out_value(o, key, line))
        return bad(s, o->line, NULL, "[%s %s]: %s missing (%s = %s)", o->sec->kind, o->name, key,
                   key, example);
    return out_list(s, o, key, sep, expect, l, line);
}

static int in_list(const int *x, int n, int v)
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
    strlist l;
    *n = 0;
    int problems = out_list(s, o, key, ',', "not a comma-separated list of axes", &l, &line);
    if (l.n == 1 && !strcmp(l.item[0], "none")) strlist_free(&l); /* no axes */
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
    strlist_free(&l);
    return problems;
}

/* where = KEY=VALUE KEY=V1,V2 (blank-separated): keep only matching runs. */
static int parse_where(cli_suite *s, cli_suite_output *o)
{
    int line;
    const char *v = out_value(o, "where", &line);
    o->n_where = 0;
    if (!v) return 0;
    strlist l;
    if (strlist_words(&l, v) || l.n == 0)
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
        if (in_list(o->where_axis, o->n_where, a)) {
            problems += bad(s, line, "where", "the axis %s appears twice", l.item[i]);
            continue;
        }
        strlist vals;
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
        strlist_free(&vals);
        if (nok == 0 && !s->quick) continue;
        o->where_axis[w] = a; /* nok = 0 (quick): no run passes */
        o->where_vi[w] = nok == 1 ? last : -1;
        o->n_where++;
    }
    strlist_free(&l);
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
            if (!s->axes[a].aggregate && a != other && !in_list(fixed, nf, a))
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
        else if (in_list(fixed, nf, a))
            problems += bad(s, line, key, "'%s' is fixed by where", s->axes[a].key);
    }
    for (int a = 0; a < s->n_axes; a++)
        if (!s->axes[a].aggregate && a != other && !in_list(fixed, nf, a) &&
            !in_list(o->rows, o->n_rows, a))
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
        if (parse_long_text(v, 0, 12, &x))
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
                if (*ends[k] && strcmp(ends[k], "*") != 0 && !parse_double_text(ends[k], &bound))
                    ok = 0;
        }
        if (!ok) problems += bad(s, line, rnames[i], "expected [LOW:HIGH] (numbers, * or empty)");
    }
    o->key = v = out_value(o, "key", &line);
    if (v) {
        static const char *const words = "top bottom left right center inside outside below "
                                         "above horizontal vertical off box nobox";
        strlist l;
        if (strlist_words(&l, v) || l.n == 0) {
            problems += bad(s, line, "key", "expected words such as: top left");
        } else {
            for (int i = 0; i < l.n; i++)
                if (!word_in(words, l.item[i]))
                    problems += bad(s, line, "key", "'%s' is not one of: %s", l.item[i], words);
            strlist_free(&l);
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
    strlist l;
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
    strlist_free(&l);
    return problems;
}

static int check_table_summary(cli_suite *s, cli_suite_output *o)
{
    int problems = parse_where(s, o) + parse_digits_bools(s, o), mask, line;
    problems += parse_values_mask(s, o, "values", 3, 0, &mask);
    strlist l;
    if (out_needed_list(s, o, "metrics", ',', "test_acc, test_nll",
                        "not a comma-separated list of metrics", &l, &line))
        return problems + 1;
    o->metrics = xcalloc(2 * CLI_SUITE_MAX_LIST, sizeof *o->metrics);
    for (int i = 0; i < l.n; i++)
        problems += parse_metric(s, line, "metrics", l.item[i], mask, o->metrics,
                                 2 * CLI_SUITE_MAX_LIST, &o->n_metrics);
    strlist_free(&l);
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
        strlist_free(&l);
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
        if (!lookup_label(k_train_columns, o->x))
            problems += bad(s, line, "x", "'%s' is not a column of metrics.tsv", o->x);
        if (!lookup_label(k_train_columns, o->y))
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
    strlist l;
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
    strlist_free(&l);
    const char *v = out_value(o, "titles", &line);
    if (v) {
        if (strlist_split(&l, v, '|'))
            return problems + bad(s, line, "titles", "expected TITLE | TITLE ... (no empty item)");
        if (l.n != o->n_panels)
            problems += bad(s, line, "titles", "%d titles for %d panels", l.n, o->n_panels);
        for (int i = 0; i < l.n && i < o->n_panels; i++) o->panel_titles[i] = xstrdup(l.item[i]);
        strlist_free(&l);
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
        const output_kind *kinds = fig ? k_figure_kinds : k_table_kinds;
        int nk = fig ? N_FIGURE_KINDS : N_TABLE_KINDS;
        char names[256];
        cli_suite_kinds_text(names, sizeof names, fig);
        const cli_suite_entry *ke = find_entry(sec, "kind");
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

static const char *cmp_text(cli_suite_cmp c)
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
    if (!parse_double_text(v, out) || *out < lo)
        return bad(s, line, key, "expected a number >= %g", lo);
    return 0;
}

/* figure = A, B / table = A: names of sections of the suite. */
static int claim_refs(cli_suite *s, const cli_suite_output *o, const char *key, const char *kind,
                      const char **names, int *n)
{
    int line;
    strlist l;
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
    strlist_free(&l);
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
        strlist l;
        if (strlist_split(&l, v, ','))
            problems += bad(s, line, "show", "not a comma-separated list of metrics");
        for (int i = 0; i < l.n; i++)
            problems += parse_metric(s, line, "show", l.item[i], 1, o->metrics,
                                     CLI_SUITE_MAX_LIST + 1, &o->n_metrics);
        strlist_free(&l);
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
                strlist_free(&l);
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
        strlist w;
        int ok = strlist_words(&w, spaced) == 0 && w.n >= 3 && w.n % 2 == 1 && w.n <= 31;
        /* every chain has a comparison: no ',' first, last or twice in a row */
        for (int i = 1; ok && i < w.n; i += 2)
            if (!strcmp(w.item[i], ","))
                ok = i != 1 && i != w.n - 2 && strcmp(w.item[i + 2], ",") != 0;
        if (!ok) {
            problems += bad(s, line, "expect",
                            "expected A OP B [OP C ...][, D OP E ...] with OP one of < <= > >= == "
                            "(blanks between; at most 16 operands)");
            if (w.n) strlist_free(&w);
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
                } else if (parse_double_text(w.item[i], &op->number)) {
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
            strlist_free(&w);
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
 * and differ from their default text (theory: after "command=theory\n"). */
static uint64_t config_hash(const cli_suite *s, const cli_suite_run *r)
{
    int idx[CLI_MAX_OPTS], n = 0;
    for (int i = 0; i < s->n_opts && n < CLI_MAX_OPTS; i++) idx[n++] = i;
    g_sort_opts = s->opts;
    qsort(idx, (size_t)n, sizeof idx[0], cmp_opt_names);
    uint64_t h = FNV_INIT;
    if (s->command == CLI_SUITE_THEORY) h = fnv1a(h, "command=theory\n");
    for (int k = 0; k < n; k++) {
        const cli_opt *o = &s->opts[idx[k]];
        if (!(o->flags & CLI_SAVE) || key_excluded(o->name)) continue;
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
    int problems = ini_read(path, 0, &s->sec, &s->n_sec);
    if (problems < 0) {
        cli_suite_free(s);
        return -1;
    }
    s->command = CLI_SUITE_TRAIN;
    s->opts = cli_train_opts;
    s->n_opts = cli_train_n_opts;
    const cli_suite_entry *ce = find_entry(find_section(s, "suite", ""), "command");
    if (ce && !strcmp(ce->value, "theory")) {
        s->command = CLI_SUITE_THEORY;
        s->opts = k_theory_opts;
        s->n_opts = N_THEORY_OPTS;
    } else if (ce && strcmp(ce->value, "train") != 0) {
        problems +=
            bad(s, ce->line, ce->key, "unknown command '%s' (expected train or theory)", ce->value);
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
    sections_free(s->sec, s->n_sec);
    free(s->path);
    free(s->name);
    free(s->description);
    free(s->out);
    free(s);
}

/* ---------------------------------------------------------------- runs */

mg_status cli_suite_run_dir(const cli_suite *s, const cli_suite_run *r, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/runs/%s", s->out, r->id);
    if (n < 0 || (size_t)n >= len)
        return mg_fail(MG_ERR_CONFIG, "path too long: %s/runs/%s", s->out, r->id);
    return MG_OK;
}

void cli_suite_run_describe(const cli_suite *s, const cli_suite_run *r, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int a = 0; a < s->n_axes && used < len; a++) {
        int w = snprintf(buf + used, len - used, "%s%s=%s", a ? " " : "", s->axes[a].key,
                         s->axes[a].values[r->vi[a]]);
        if (w > 0) used += (size_t)w;
    }
}

int cli_suite_run_matches(const cli_suite_run *r, const char *id)
{
    if (!strcmp(r->id, id)) return 1;
    size_t n = strlen(r->id), k = strlen(id);
    if (n > 9 && k == n - 9 && !strncmp(r->id, id, k)) return 1; /* the slug */
    if (k == 8 && n > 9 && !strcmp(r->id + n - 8, id)) return 1; /* the hash */
    return 0;
}

const char *cli_run_state_name(cli_run_state st)
{
    static const char *const names[CLI_RUN_N_STATES] = {"missing", "partial", "running",
                                                        "failed",  "stale",   "done"};
    return (int)st >= 0 && st < CLI_RUN_N_STATES ? names[st] : "?";
}

/* 1 if a live process holds DIR/lock (its pid into pid, 0 if unknown). */
static int lock_held(const char *dir, long *pid)
{
    char path[4096];
    *pid = 0;
    if (cli_path(path, sizeof path, dir, "lock") != MG_OK) return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    int held = 0;
    if (flock(fd, LOCK_SH | LOCK_NB) != 0)
        held = errno == EWOULDBLOCK;
    else
        flock(fd, LOCK_UN);
    char buf[32];
    ssize_t k = read(fd, buf, sizeof buf - 1);
    if (k > 0) {
        buf[k] = '\0';
        *pid = strtol(buf, NULL, 10);
    }
    close(fd);
    return held;
}

/* The value of "key = value" in a small marker file, "" if absent. */
static void marker_value(const char *path, const char *key, char *buf, size_t len)
{
    buf[0] = '\0';
    char *text = read_text(path, 1 << 16);
    if (!text) return;
    size_t kl = strlen(key);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, key, kl) != 0) continue;
        char *p = line + kl;
        while (*p == ' ') p++;
        if (*p != '=') continue;
        snprintf(buf, len, "%s", trim(p + 1));
        break;
    }
    free(text);
}

int cli_suite_config_matches(const cli_suite *s, const cli_suite_run *r, const char *dir, char *why,
                             size_t len)
{
    char path[4096];
    why[0] = '\0';
    if (cli_path(path, sizeof path, dir, "config.ini") != MG_OK) return 0;
    cli_suite_section *sec = NULL;
    int n = 0;
    if (ini_read(path, 1, &sec, &n) < 0) {
        snprintf(why, len, "no config.ini");
        return 0;
    }
    int ok = 1;
    for (int i = 0; i < s->n_opts && ok; i++) {
        const cli_opt *o = &s->opts[i];
        if (!(o->flags & CLI_SAVE) || key_excluded(o->name)) continue;
        const char *cur = r->config[i];
        if (!strcmp(cur, "auto")) continue; /* resolved from the data by train */
        const char *stored = NULL;
        for (int k = 0; k < n && !stored; k++) {
            const cli_suite_entry *e = find_entry(&sec[k], o->name);
            if (e) stored = e->value;
        }
        const char *def = o->def ? o->def : "";
        if (stored ? strcmp(stored, cur) != 0 : strcmp(cur, def) != 0) {
            snprintf(why, len, "%s: %s -> %s", o->name, stored ? stored : "(unset)", cur);
            ok = 0;
        }
    }
    sections_free(sec, n);
    return ok;
}

static cli_run_state run_state(const cli_suite *s, const cli_suite_run *r, int check_lock,
                               char *detail, size_t len)
{
    char dir[4096], path[4096], why[512];
    detail[0] = '\0';
    if (cli_suite_run_dir(s, r, dir, sizeof dir) != MG_OK || !cli_dir_exists(dir))
        return CLI_RUN_MISSING;
    long pid;
    if (check_lock && lock_held(dir, &pid)) {
        if (pid > 0) snprintf(detail, len, "pid %ld", pid);
        return CLI_RUN_RUNNING;
    }
    cli_path(path, sizeof path, dir, "DONE");
    if (cli_file_exists(path)) {
        char steps[64];
        marker_value(path, "steps", steps, sizeof steps);
        if (!cli_suite_config_matches(s, r, dir, why, sizeof why)) {
            snprintf(detail, len, "configuration changed (%s)", why);
            return CLI_RUN_STALE;
        }
        if (!strcmp(steps, s->steps_sig)) return CLI_RUN_DONE;
        snprintf(detail, len, "trained; [analyze] changed");
        return CLI_RUN_PARTIAL;
    }
    cli_path(path, sizeof path, dir, "FAILED");
    if (cli_file_exists(path)) {
        char step[64], status[128], msg[512];
        marker_value(path, "step", step, sizeof step);
        marker_value(path, "status", status, sizeof status);
        marker_value(path, "message", msg, sizeof msg);
        snprintf(detail, len, "%s %s%s%s", step, status, *msg ? ": " : "", msg);
        return CLI_RUN_FAILED;
    }
    cli_path(path, sizeof path, dir, "config.ini");
    if (!cli_file_exists(path)) return CLI_RUN_MISSING;
    if (!cli_suite_config_matches(s, r, dir, why, sizeof why)) {
        snprintf(detail, len, "configuration changed (%s)", why);
        return CLI_RUN_STALE;
    }
    cli_path(path, sizeof path, dir, "summary.json");
    cJSON *j = s->command == CLI_SUITE_TRAIN ? json_load(path) : NULL;
    if (j) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");
        const cJSON *ed = cJSON_GetObjectItemCaseSensitive(j, "epochs_done");
        const cJSON *ep = cJSON_GetObjectItemCaseSensitive(j, "epochs");
        snprintf(detail, len, "epoch %d/%d, %s", cJSON_IsNumber(ed) ? ed->valueint : 0,
                 cJSON_IsNumber(ep) ? ep->valueint : 0, cJSON_IsString(st) ? st->valuestring : "?");
        cJSON_Delete(j);
    } else {
        snprintf(detail, len, "started");
    }
    return CLI_RUN_PARTIAL;
}

cli_run_state cli_suite_run_state(const cli_suite *s, const cli_suite_run *r, char *detail,
                                  size_t len)
{
    return run_state(s, r, 1, detail, len);
}

cli_run_state cli_suite_run_state_locked(const cli_suite *s, const cli_suite_run *r, char *detail,
                                         size_t len)
{
    return run_state(s, r, 0, detail, len);
}

mg_status cli_suite_write_config(const cli_suite *s, const cli_suite_run *r, const char *dir,
                                 int threads)
{
    cli_values v;
    cli_values_init(&v, s->opts, s->n_opts);
    for (int i = 0; i < s->n_opts; i++)
        if (r->config[i]) cli_set(&v, i, r->config[i], NULL);
    char t[32];
    snprintf(t, sizeof t, "%d", threads);
    cli_set_by_name(&v, "out", dir, NULL);
    cli_set_by_name(&v, "threads", t, NULL);
    mg_status st;
    if (s->command == CLI_SUITE_THEORY) {
        char path[4096];
        st = cli_path(path, sizeof path, dir, "config.ini");
        if (st == MG_OK)
            st = cli_ini_write(path, &v, "theory",
                               "mixgeo suite: the options this run gave to `mixgeo theory`\n"
                               "(compared with the suite file to find changed runs)");
    } else {
        st = cli_run_config_save(&v, dir);
    }
    cli_values_free(&v);
    return st;
}

int cli_suite_theory_argv(const cli_suite *s, const cli_suite_run *r, const char *exe,
                          const char *dir, int threads, char **argv, int max, char *buf, size_t len)
{
    int n = 0;
    size_t used = 0;
#define ARG(text)                                                                                  \
    do {                                                                                           \
        size_t l_ = strlen(text) + 1;                                                              \
        if (n + 2 > max || used + l_ > len) return -1;                                             \
        memcpy(buf + used, text, l_);                                                              \
        argv[n++] = buf + used;                                                                    \
        used += l_;                                                                                \
    } while (0)
    char opt[300], th[32];
    ARG(exe);
    ARG("theory");
    for (int i = 0; i < s->n_opts; i++) {
        if (!r->config[i] || !strcmp(s->opts[i].name, "out") || !strcmp(s->opts[i].name, "threads"))
            continue;
        snprintf(opt, sizeof opt, "--%s", s->opts[i].name);
        ARG(opt);
        ARG(r->config[i]);
    }
    snprintf(th, sizeof th, "%d", threads);
    ARG("--out");
    ARG(dir);
    ARG("--threads");
    ARG(th);
#undef ARG
    argv[n] = NULL;
    return n;
}

static mg_status step_path(const cli_suite_step *st, const char *dir, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/steps/%s.done", dir, st->name);
    if (n < 0 || (size_t)n >= len) return mg_fail(MG_ERR_CONFIG, "path too long: %s", dir);
    return MG_OK;
}

int cli_suite_step_done(const cli_suite_step *st, const char *dir)
{
    char path[4096];
    if (step_path(st, dir, path, sizeof path) != MG_OK) return 0;
    char *text = read_text(path, 4096);
    if (!text) return 0;
    int ok = !strcmp(trim(text), st->args);
    free(text);
    return ok;
}

mg_status cli_suite_mark_step(const cli_suite_step *st, const char *dir)
{
    char path[4096], sdir[4096], text[600];
    mg_status e = cli_path(sdir, sizeof sdir, dir, "steps");
    if (e == MG_OK) e = mg_mkdir_p(sdir);
    if (e == MG_OK) e = step_path(st, dir, path, sizeof path);
    if (e != MG_OK) return e;
    snprintf(text, sizeof text, "%s\n", st->args);
    return write_text_atomic(path, text);
}

mg_status cli_suite_mark_done(const cli_suite *s, const cli_suite_run *r, const char *dir)
{
    char path[4096], when[64];
    mg_status e = cli_path(path, sizeof path, dir, "DONE");
    if (e != MG_OK) return e;
    iso_time(when, sizeof when);
    membuf m;
    mb_open(&m);
    fprintf(m.f,
            "# mixgeo suite %s: this run finished every step (train and the analyses below).\n"
            "# Removing this file makes `mixgeo suite run` check the run again.\n"
            "id = %s\n"
            "config = %016llx\n"
            "steps = %s\n"
            "git = %s\n"
            "finished = %s\n",
            s->name, r->id, (unsigned long long)r->hash, s->steps_sig, cli_git_revision(), when);
    for (int i = 0; i < s->n_steps; i++) fprintf(m.f, "# step: %s\n", s->steps[i].args);
    return mb_write(&m, path);
}

void cli_suite_log_tail(const char *dir, char *buf, size_t len)
{
    char path[4096];
    buf[0] = '\0';
    if (cli_path(path, sizeof path, dir, "log.txt") != MG_OK) return;
    FILE *f = fopen(path, "rb");
    if (!f) return;
    char tail[8192];
    long size = 0;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    long off = size > (long)sizeof tail - 1 ? size - (long)sizeof tail + 1 : 0;
    fseek(f, off, SEEK_SET);
    size_t k = fread(tail, 1, sizeof tail - 1, f);
    fclose(f);
    tail[k] = '\0';
    char *save = NULL;
    for (char *line = strtok_r(tail, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *t = trim(line);
        if (!*t || !strncmp(t, "== ", 3)) continue;
        if (!strncmp(t, "mixgeo: ", 8)) t += 8;
        snprintf(buf, len, "%s", t);
    }
}

mg_status cli_suite_mark_failed(const char *dir, const char *step, const char *status_text)
{
    char path[4096], msg[512], when[64];
    mg_status e = cli_path(path, sizeof path, dir, "FAILED");
    if (e != MG_OK) return e;
    cli_suite_log_tail(dir, msg, sizeof msg);
    iso_time(when, sizeof when);
    membuf m;
    mb_open(&m);
    fprintf(m.f,
            "# mixgeo suite: the last attempt of this run failed; see log.txt.\n"
            "step = %s\nstatus = %s\nmessage = %s\nlog = log.txt\ntime = %s\n",
            step, status_text, msg, when);
    return mb_write(&m, path);
}

void cli_suite_clear_markers(const char *dir)
{
    char path[4096];
    if (cli_path(path, sizeof path, dir, "DONE") == MG_OK) remove(path);
    if (cli_path(path, sizeof path, dir, "FAILED") == MG_OK) remove(path);
    if (cli_path(path, sizeof path, dir, "steps") != MG_OK) return;
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n > 5 && !strcmp(de->d_name + n - 5, ".done")) {
            char p[4096 + 256];
            snprintf(p, sizeof p, "%s/%s", path, de->d_name);
            remove(p);
        }
    }
    closedir(d);
}

/* ================================================================ report */

typedef struct {
    char file[256];
    cJSON *json; /* NULL: missing or unreadable */
} json_entry;

typedef struct {
    int done;
    json_entry *j;
    int n_j;
} run_cache;

struct report_ctx {
    const cli_suite *s;
    char figdir[4096], tabdir[4096];
    run_cache *rc; /* per run */
    int n_done;
    char prov[1024];
    membuf md; /* REPORT.md body */
    int render, have_gnuplot, rendered, failures;
};

static const cJSON *run_json(report_ctx *c, int run, const char *file)
{
    run_cache *rc = &c->rc[run];
    for (int i = 0; i < rc->n_j; i++)
        if (!strcmp(rc->j[i].file, file)) return rc->j[i].json;
    char dir[4096], path[4400];
    cli_suite_run_dir(c->s, &c->s->runs[run], dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    rc->j = xrealloc(rc->j, sizeof *rc->j * (size_t)(rc->n_j + 1));
    json_entry *e = &rc->j[rc->n_j++];
    snprintf(e->file, sizeof e->file, "%s", file);
    e->json = json_load(path);
    return e->json;
}

static double json_number(const cJSON *j)
{
    if (cJSON_IsNumber(j)) return j->valuedouble;
    if (cJSON_IsBool(j)) return cJSON_IsTrue(j) ? 1.0 : 0.0;
    double x;
    if (cJSON_IsString(j) && parse_double_text(j->valuestring, &x)) return x;
    return NAN;
}

/* ---------------------------------------------------------------- metric values */

/* A growing list of JSON nodes. */
typedef struct {
    const cJSON **v;
    int n, cap;
} nodelist;

static void nodes_push(nodelist *l, const cJSON *j)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->v = xrealloc(l->v, sizeof *l->v * (size_t)l->cap);
    }
    l->v[l->n++] = j;
}

/* A filter value: a number (also true/false) or NaN and the text. */
static double filter_number(const cJSON *j, const char *text, const cJSON *elem)
{
    if (text[0] == '@') {
        const cJSON *o =
            cJSON_IsObject(elem) ? cJSON_GetObjectItemCaseSensitive(elem, text + 1) : NULL;
        return o ? json_number(o) : NAN;
    }
    (void)j;
    double x;
    if (parse_double_text(text, &x)) return x;
    if (!strcmp(text, "true")) return 1.0;
    if (!strcmp(text, "false")) return 0.0;
    return NAN;
}

/* 1 if elem passes the filter "FIELD OP VALUE". */
static int filter_match(const cJSON *elem, const char *filter)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", filter);
    char *q = buf;
    int ol = 0, op = -1;
    while (*q && (op = filter_op(q, &ol)) < 0) q++;
    if (op < 0) return 0;
    *q = '\0';
    const char *field = buf, *value = q + ol;
    if (!cJSON_IsObject(elem)) return 0;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(elem, field);
    if (!f) return 0;
    double a = json_number(f), b = filter_number(f, value, elem);
    if (!isnan(a) && !isnan(b)) {
        switch (op) {
        case 0: return a == b;
        case 1: return a != b;
        case 2: return a < b;
        case 3: return a > b;
        case 4: return a <= b;
        default: return a >= b;
        }
    }
    if (op > 1) return 0;
    const char *rhs = value;
    if (value[0] == '@') {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(elem, value + 1);
        rhs = cJSON_IsString(o) ? o->valuestring : NULL;
    }
    int eq = cJSON_IsString(f) && rhs && !strcmp(f->valuestring, rhs);
    return op == 0 ? eq : !eq;
}

/* Reduce the numbers x[0..n-1] (count = the number of items, NaNs too). */
static double reduce_values(const double *x, int n, int reducer)
{
    if (reducer == 4) return n;
    if (reducer == 5) return n ? x[0] : NAN;
    if (reducer == 6 || reducer < 0) return n ? x[n - 1] : NAN;
    double acc = NAN;
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(x[i])) continue;
        if (k == 0)
            acc = x[i];
        else if (reducer == 0)
            acc = x[i] < acc ? x[i] : acc;
        else if (reducer == 1)
            acc = x[i] > acc ? x[i] : acc;
        else
            acc += x[i];
        k++;
    }
    if (reducer == 2 && k) acc /= k;
    if (reducer == 3 && k == 0) acc = 0.0;
    return acc;
}

/* The value of a checked JSON path (suite.h) in root; NaN if absent, not a
 * number, or several values without a reducer. */
static double json_path_value(const cJSON *root, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    char *bar = (char *)reducer_bar(buf);
    int reducer = -1;
    if (bar) {
        *bar = '\0';
        reducer = reducer_index(bar + 1);
    }
    nodelist cur = {0}, next = {0};
    if (root) nodes_push(&cur, root);
    int depth = 0, inq = 0;
    char *seg = buf;
    for (char *p = buf;; p++) {
        if (*p == '"' && depth == 0) inq = !inq;
        if (inq && *p) continue;
        if (*p == '[') depth++;
        if (*p == ']') depth--;
        if (!((*p == '.' && depth == 0) || !*p)) continue;
        char end = *p;
        *p = '\0';
        char *br;
        if (seg[0] == '"') { /* "name.with.dots"[filters] */
            char *q = strchr(seg + 1, '"');
            br = q && q[1] == '[' ? q + 1 : NULL;
            if (q) *q = '\0';
            seg++;
        } else {
            br = strchr(seg, '[');
        }
        if (br) *br = '\0';
        next.n = 0;
        long idx;
        for (int i = 0; i < cur.n; i++) {
            const cJSON *j = cur.v[i], *ch;
            if (!strcmp(seg, "*")) {
                cJSON_ArrayForEach(ch, j) nodes_push(&next, ch);
            } else if (cJSON_IsArray(j) && parse_long_text(seg, 0, INT_MAX, &idx)) {
                if ((ch = cJSON_GetArrayItem(j, (int)idx))) nodes_push(&next, ch);
            } else if (cJSON_IsObject(j)) {
                if ((ch = cJSON_GetObjectItemCaseSensitive(j, seg))) nodes_push(&next, ch);
            }
        }
        if (br) {
            /* filters: each array is replaced by its matching elements */
            nodelist f = {0};
            for (int i = 0; i < next.n; i++) {
                const cJSON *j = next.v[i], *el;
                if (cJSON_IsArray(j)) {
                    cJSON_ArrayForEach(el, j) nodes_push(&f, el);
                } else {
                    nodes_push(&f, j);
                }
            }
            char *flt = br + 1;
            while (flt) {
                char *close = strchr(flt, ']');
                if (close) *close = '\0';
                int k = 0;
                for (int i = 0; i < f.n; i++)
                    if (filter_match(f.v[i], flt)) f.v[k++] = f.v[i];
                f.n = k;
                flt = close && close[1] == '[' ? close + 2 : NULL;
            }
            free(next.v);
            next = f;
        }
        nodelist t = cur;
        cur = next;
        next = t;
        if (!end) break;
        seg = p + 1;
    }
    double result = NAN;
    if (reducer < 0) {
        if (cur.n == 1) result = json_number(cur.v[0]);
    } else {
        double *x = xcalloc((size_t)cur.n, sizeof *x);
        for (int i = 0; i < cur.n; i++) x[i] = json_number(cur.v[i]);
        result = reduce_values(x, cur.n, reducer);
        free(x);
    }
    free(cur.v);
    free(next.v);
    return result;
}

/* COLUMN[|REDUCER] of a TSV file with a "# columns:" header (default |last;
 * |changes: value changes between consecutive rows of one block). */
static double tsv_path_value(const char *file, const char *path)
{
    char col[256];
    snprintf(col, sizeof col, "%s", path);
    char *bar = strchr(col, '|');
    int reducer = 6;
    if (bar) {
        *bar = '\0';
        reducer = reducer_index(bar + 1);
    }
    FILE *f = fopen(file, "r");
    if (!f) return NAN;
    char *line = NULL;
    size_t lcap = 0;
    int ci = -1, n = 0, cap = 0, changes = 0, have_prev = 0;
    double prev = NAN, *x = NULL;
    while (getline(&line, &lcap, f) >= 0) {
        if (!strncmp(line, "# columns:", 10)) {
            strlist l;
            if (strlist_words(&l, line + 10) == 0) {
                for (int i = 0; i < l.n; i++)
                    if (!strcmp(l.item[i], col)) ci = i;
                strlist_free(&l);
            }
            continue;
        }
        if (line[0] == '#') continue;
        char *t = trim(line);
        if (!*t) {
            have_prev = 0; /* a new block */
            continue;
        }
        if (ci < 0) continue;
        double v = NAN;
        char *p = t;
        for (int c = 0; *p; c++) {
            char *e = p;
            while (*e && *e != '\t') e++;
            if (c == ci) {
                char save = *e;
                *e = '\0';
                char *end;
                v = strtod(p, &end);
                if (end == p) v = NAN;
                *e = save;
                break;
            }
            p = *e ? e + 1 : e;
        }
        if (have_prev && v != prev && !(isnan(v) && isnan(prev))) changes++;
        prev = v;
        have_prev = 1;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            x = xrealloc(x, sizeof *x * (size_t)cap);
        }
        x[n++] = v;
    }
    free(line);
    fclose(f);
    double r = ci < 0 ? NAN : reducer == 7 ? (double)changes : reduce_values(x, n, reducer);
    free(x);
    return r;
}

static double term_value(report_ctx *c, int run, const cli_suite_term *t)
{
    if (!t->file[0]) return t->number;
    size_t fl = strlen(t->file);
    if (fl > 4 && !strcmp(t->file + fl - 4, ".tsv")) {
        char dir[4096], path[4400];
        cli_suite_run_dir(c->s, &c->s->runs[run], dir, sizeof dir);
        snprintf(path, sizeof path, "%s/%s", dir, t->file);
        return tsv_path_value(path, t->path);
    }
    return json_path_value(run_json(c, run, t->file), t->path);
}

static double metric_value(report_ctx *c, int run, const cli_suite_metric *m)
{
    /* products first, then sums, left to right */
    double sum = 0.0, prod = term_value(c, run, &m->terms[0]);
    char sign = '+';
    for (int i = 1; i <= m->n_terms; i++) {
        char op = i < m->n_terms ? m->ops[i - 1] : '+';
        if (op == '*' || op == '/') {
            double v = term_value(c, run, &m->terms[i]);
            prod = op == '*' ? prod * v : prod / v;
            continue;
        }
        sum = sign == '+' ? sum + prod : sum - prod;
        if (i < m->n_terms) {
            sign = op;
            prod = term_value(c, run, &m->terms[i]);
        }
    }
    return sum;
}

typedef struct {
    double mean, std;
    int n;
} agg_t;

/* Mean, sample std (n - 1; NaN for n < 2) and count of the non-NaN x. */
static agg_t aggregate(const double *x, int n)
{
    agg_t a = {NAN, NAN, 0};
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        if (!isnan(x[i])) {
            sum += x[i];
            a.n++;
        }
    if (a.n == 0) return a;
    a.mean = sum / a.n;
    if (a.n > 1) {
        double ss = 0.0;
        for (int i = 0; i < n; i++)
            if (!isnan(x[i])) ss += (x[i] - a.mean) * (x[i] - a.mean);
        a.std = sqrt(ss / (a.n - 1));
    }
    return a;
}

/* Groups of runs with the same values of some axes, in grid order. */
typedef struct {
    int vi[CLI_SUITE_MAX_AXES];
    int *runs;
    int n;
} rgroup;

static int run_passes(const cli_suite_output *o, const cli_suite_run *r)
{
    for (int i = 0; i < o->n_where; i++)
        if (!o->where_ok[i][r->vi[o->where_axis[i]]]) return 0;
    return 1;
}

/* A sort key of a group from the positions of its values in the where lists. */
static long where_order(const cli_suite_output *o, const rgroup *g)
{
    long key = 0;
    for (int i = 0; i < o->n_where; i++) key = key * 256 + o->where_pos[i][g->vi[o->where_axis[i]]];
    return key;
}

static int build_groups(const cli_suite *s, const cli_suite_output *o, const int *axes, int n_axes,
                        rgroup **out)
{
    rgroup *g = xcalloc((size_t)s->n_runs, sizeof *g);
    int ng = 0;
    for (int r = 0; r < s->n_runs; r++) {
        const cli_suite_run *run = &s->runs[r];
        if (!run_passes(o, run)) continue;
        int found = -1;
        for (int k = 0; k < ng && found < 0; k++) {
            int same = 1;
            for (int i = 0; i < n_axes; i++) same &= g[k].vi[axes[i]] == run->vi[axes[i]];
            if (same) found = k;
        }
        if (found < 0) {
            found = ng++;
            memcpy(g[found].vi, run->vi, sizeof g[found].vi);
            g[found].runs = xcalloc((size_t)s->n_runs, sizeof *g[found].runs);
        }
        g[found].runs[g[found].n++] = r;
    }
    /* groups in the order where lists the values (where = method=c,a,b), then grid order */
    for (int i = 1; i < ng; i++) {
        rgroup t = g[i];
        int k = i;
        while (k > 0 && where_order(o, &g[k - 1]) > where_order(o, &t)) {
            g[k] = g[k - 1];
            k--;
        }
        g[k] = t;
    }
    *out = g;
    return ng;
}

static void groups_free(rgroup *g, int n)
{
    for (int i = 0; i < n; i++) free(g[i].runs);
    free(g);
}

static void group_label(const cli_suite *s, const int *axes, int n_axes, const int *vi, char *buf,
                        size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n_axes && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                         s->axes[axes[i]].labels[vi[axes[i]]]);
        if (w > 0) used += (size_t)w;
    }
    if (!n_axes) snprintf(buf, len, "all runs");
}

/* Values of metric m over the done runs of a group (optionally only those
 * with axis `col` at value cv). */
static agg_t group_metric(report_ctx *c, const rgroup *g, int col, int cv,
                          const cli_suite_metric *m)
{
    double *x = xcalloc((size_t)g->n, sizeof *x);
    int n = 0;
    for (int i = 0; i < g->n; i++) {
        int r = g->runs[i];
        if (!c->rc[r].done) continue;
        if (col >= 0 && c->s->runs[r].vi[col] != cv) continue;
        x[n++] = metric_value(c, r, m);
    }
    agg_t a = aggregate(x, n);
    free(x);
    return a;
}

static void aggregate_text(const cli_suite *s, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int a = 0; a < s->n_axes; a++) {
        if (!s->axes[a].aggregate) continue;
        int w = snprintf(buf + used, len - used, "%s%d %s%s", used ? " x " : "", s->axes[a].n,
                         s->axes[a].key, s->axes[a].n == 1 ? "" : "s");
        if (w > 0 && (size_t)w < len - used) used += (size_t)w;
    }
    if (!used) snprintf(buf, len, "1 run");
}

/* Text with tabs and newlines replaced by blanks (for TSV cells). */
static void tsv_cell(FILE *f, const char *s)
{
    for (; *s; s++) fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
}

static void md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else
            fputc(*s == '\n' ? ' ' : *s, f);
    }
}

static void tex_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '_':
        case '%':
        case '&':
        case '#':
        case '$':
        case '{':
        case '}':
            fputc('\\', f);
            fputc(*s, f);
            break;
        case '~': fputs("\\textasciitilde{}", f); break;
        case '^': fputs("\\textasciicircum{}", f); break;
        case '\\': fputs("\\textbackslash{}", f); break;
        default: fputc(*s, f);
        }
    }
}

static void tsv_num(FILE *f, double x)
{
    if (isnan(x))
        fputs("nan", f);
    else
        fprintf(f, "%.9g", x);
}

/* "0.9512 ± 0.0031", "(n=1)" when fewer runs than replicates, "–" for none. */
static void fmt_cell(FILE *f, agg_t a, int digits, int replicates, int tex)
{
    if (a.n == 0) {
        fputs(tex ? "--" : "–", f);
        return;
    }
    fprintf(f, "%.*f", digits, a.mean);
    if (a.n > 1) fprintf(f, tex ? " $\\pm$ %.*f" : " ± %.*f", digits, a.std);
    if (a.n != replicates) fprintf(f, " (n=%d)", a.n);
}

/* ---------------------------------------------------------------- table: summary */

static mg_status write_table_summary(report_ctx *c, const cli_suite_output *o)
{
    const cli_suite *s = c->s;
    rgroup *g;
    int ng = build_groups(s, o, o->rows, o->n_rows, &g);
    int ncv = o->col >= 0 ? s->axes[o->col].n : 1;
    agg_t *cells = xcalloc((size_t)ng * (size_t)ncv * (size_t)o->n_metrics, sizeof *cells);
    for (int k = 0; k < ng; k++)
        for (int cv = 0; cv < ncv; cv++)
            for (int m = 0; m < o->n_metrics; m++)
                cells[((size_t)k * ncv + cv) * o->n_metrics + m] =
                    group_metric(c, &g[k], o->col, cv, &o->metrics[m]);
    char agg[256];
    aggregate_text(s, agg, sizeof agg);
    const char *title = o->title ? o->title : o->name;
    char path[4400];
    mg_status st = MG_OK;

    /* TSV */
    membuf t;
    mb_open(&t);
    fprintf(t.f, "%s table=%s\n", c->prov, o->name);
    fputs("# columns:", t.f);
    for (int i = 0; i < o->n_rows; i++) fprintf(t.f, " %s", s->axes[o->rows[i]].key);
    for (int cv = 0; cv < ncv; cv++)
        for (int m = 0; m < o->n_metrics; m++) {
            char pre[300] = "";
            if (o->col >= 0)
                snprintf(pre, sizeof pre, "%s=%s:", s->axes[o->col].key,
                         s->axes[o->col].values[cv]);
            fprintf(t.f, " %s%s.mean %s%s.std %s%s.n", pre, o->metrics[m].key, pre,
                    o->metrics[m].key, pre, o->metrics[m].key);
        }
    fputc('\n', t.f);
    for (int k = 0; k < ng; k++) {
        for (int i = 0; i < o->n_rows; i++) {
            if (i) fputc('\t', t.f);
            tsv_cell(t.f, s->axes[o->rows[i]].values[g[k].vi[o->rows[i]]]);
        }
        for (int j = 0; j < ncv * o->n_metrics; j++) {
            agg_t a = cells[(size_t)k * ncv * o->n_metrics + j];
            if (o->n_rows || j) fputc('\t', t.f);
            tsv_num(t.f, a.mean);
            fputc('\t', t.f);
            tsv_num(t.f, a.std);
            fprintf(t.f, "\t%d", a.n);
        }
        fputc('\n', t.f);
    }
    snprintf(path, sizeof path, "%s/%s.tsv", c->tabdir, o->name);
    st = mb_write(&t, path);

    /* Markdown (also into REPORT.md) */
    membuf md;
    mb_open(&md);
    fprintf(md.f, "**%s.** Mean ± std over %s", title, agg);
    fputs("; (n=k): only k runs finished.\n\n|", md.f);
    for (int i = 0; i < o->n_rows; i++) {
        fputc(' ', md.f);
        md_cell(md.f, o->rows[i] == s->method_axis ? "Method" : axis_label(&s->axes[o->rows[i]]));
        fputs(" |", md.f);
    }
    for (int cv = 0; cv < ncv; cv++)
        for (int m = 0; m < o->n_metrics; m++) {
            fputc(' ', md.f);
            if (o->col >= 0) {
                md_cell(md.f, s->axes[o->col].labels[cv]);
                fputs(": ", md.f);
            }
            md_cell(md.f, o->metrics[m].label);
            fputs(" |", md.f);
        }
    fputs("\n|", md.f);
    for (int i = 0; i < o->n_rows; i++) fputs(" --- |", md.f);
    for (int j = 0; j < ncv * o->n_metrics; j++) fputs(" ---: |", md.f);
    fputc('\n', md.f);
    for (int k = 0; k < ng; k++) {
        fputc('|', md.f);
        for (int i = 0; i < o->n_rows; i++) {
            const cli_suite_axis *ax = &s->axes[o->rows[i]];
            fputc(' ', md.f);
            md_cell(md.f, o->rows[i] == s->method_axis ? ax->labels[g[k].vi[o->rows[i]]]
                                                       : ax->values[g[k].vi[o->rows[i]]]);
            fputs(" |", md.f);
        }
        for (int j = 0; j < ncv * o->n_metrics; j++) {
            fputc(' ', md.f);
            fmt_cell(md.f, cells[(size_t)k * ncv * o->n_metrics + j], o->digits, s->replicates, 0);
            fputs(" |", md.f);
        }
        fputc('\n', md.f);
    }
    char *mdtext = mb_close(&md);
    snprintf(path, sizeof path, "%s/%s.md", c->tabdir, o->name);
    {
        membuf f;
        mb_open(&f);
        fprintf(f.f, "<!-- %s table=%s -->\n%s", c->prov + 2, o->name, mdtext);
        mg_status e = mb_write(&f, path);
        if (st == MG_OK) st = e;
    }
    fprintf(c->md.f, "### Table %s\n\n%s\nFiles: tables/%s.tsv, tables/%s.md, tables/%s.tex\n\n",
            o->name, mdtext, o->name, o->name, o->name);
    free(mdtext);

    /* LaTeX: a booktabs tabular to \input inside a table environment. */
    membuf x;
    mb_open(&x);
    fprintf(x.f, "%% %s table=%s\n%% needs \\usepackage{booktabs}; caption: ", c->prov + 2,
            o->name);
    tex_text(x.f, o->caption ? o->caption : title);
    fprintf(x.f, " (mean $\\pm$ std over %s)\n\\begin{tabular}{", agg);
    for (int i = 0; i < o->n_rows; i++) fputc('l', x.f);
    for (int j = 0; j < ncv * o->n_metrics; j++) fputc('r', x.f);
    fputs("}\n\\toprule\n", x.f);
    for (int i = 0; i < o->n_rows; i++) {
        if (i) fputs(" & ", x.f);
        tex_text(x.f, o->rows[i] == s->method_axis ? "Method" : axis_label(&s->axes[o->rows[i]]));
    }
    for (int cv = 0; cv < ncv; cv++)
        for (int m = 0; m < o->n_metrics; m++) {
            if (o->n_rows || cv || m) fputs(" & ", x.f);
            if (o->col >= 0) {
                tex_text(x.f, s->axes[o->col].labels[cv]);
                fputs(": ", x.f);
            }
            tex_text(x.f, o->metrics[m].label);
        }
    fputs(" \\\\\n\\midrule\n", x.f);
    for (int k = 0; k < ng; k++) {
        for (int i = 0; i < o->n_rows; i++) {
            const cli_suite_axis *ax = &s->axes[o->rows[i]];
            if (i) fputs(" & ", x.f);
            tex_text(x.f, o->rows[i] == s->method_axis ? ax->labels[g[k].vi[o->rows[i]]]
                                                       : ax->values[g[k].vi[o->rows[i]]]);
        }
        for (int j = 0; j < ncv * o->n_metrics; j++) {
            if (o->n_rows || j) fputs(" & ", x.f);
            fmt_cell(x.f, cells[(size_t)k * ncv * o->n_metrics + j], o->digits, s->replicates, 1);
        }
        fputs(" \\\\\n", x.f);
    }
    fputs("\\bottomrule\n\\end{tabular}\n", x.f);
    snprintf(path, sizeof path, "%s/%s.tex", c->tabdir, o->name);
    mg_status e = mb_write(&x, path);
    if (st == MG_OK) st = e;
    free(cells);
    groups_free(g, ng);
    return st;
}

/* ---------------------------------------------------------------- figures */

/* Run gnuplot SCRIPT in dir (its output appended to dir/gnuplot.log). */
static int run_gnuplot(const char *dir, const char *script)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(126);
        int fd = open("gnuplot.log", O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execlp("gnuplot", "gnuplot", script, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int gnuplot_on_path(void)
{
    const char *path = getenv("PATH");
    if (!path) return 0;
    char buf[4096];
    const char *p = path;
    while (*p) {
        const char *e = strchr(p, ':');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n && n < sizeof buf - 10) {
            snprintf(buf, sizeof buf, "%.*s/gnuplot", (int)n, p);
            if (access(buf, X_OK) == 0) return 1;
        }
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

static mg_status figure_rendered(report_ctx *c, const cli_suite_output *o, const char *title,
                                 int has_data);

/* The script NAME.gp (gp.h: house style, PNG and PDF from one body) and the
 * data NAME.tsv; renders when possible; adds the figure to REPORT.md. */
static mg_status figure_finish(report_ctx *c, const cli_suite_output *o, membuf *data,
                               gp_buf *setup, gp_buf *body, const char *title, int has_data)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s.tsv", c->figdir, o->name);
    mg_status st = mb_write(data, path);
    gp_figure fig = {o->name, title, c->prov, 800, 500, setup->s};
    if (st == MG_OK && setup->failed)
        st = mg_fail(MG_ERR_NOMEM, "out of memory writing %s.gp", o->name);
    if (st == MG_OK) st = gp_write(c->figdir, &fig, body);
    gp_buf_free(setup);
    gp_buf_free(body);
    if (st != MG_OK) return st;
    return figure_rendered(c, o, title, has_data);
}

/* Render figure o (when asked and possible) and add it to REPORT.md. */
static mg_status figure_rendered(report_ctx *c, const cli_suite_output *o, const char *title,
                                 int has_data)
{
    fprintf(c->md.f, "### Figure %s\n\n", o->name);
    if (!has_data) {
        fprintf(c->md.f, "No finished run has data for this figure yet.\n\n");
        return MG_OK;
    }
    if (c->render && c->have_gnuplot) {
        char script[300];
        snprintf(script, sizeof script, "%s.gp", o->name);
        int rc = run_gnuplot(c->figdir, script);
        if (rc != 0) {
            cli_error("figure %s: gnuplot failed (exit %d); see %s/gnuplot.log", o->name, rc,
                      c->figdir);
            c->failures++;
        } else {
            c->rendered++;
        }
    }
    fprintf(c->md.f,
            "![%s](figures/%s.png)\n\nData figures/%s.tsv, script figures/%s.gp, "
            "figures/%s.pdf\n\n",
            title, o->name, o->name, o->name, o->name);
    return MG_OK;
}

/* Title, axis labels, log scales and the data separator. */
static void gp_setup(gp_buf *b, const cli_suite_output *o, const char *title, const char *xlabel,
                     const char *ylabel)
{
    char q[1200];
    gp_buf_init(b);
    gp_buf_printf(b, "set datafile separator \"\\t\"\n");
    gp_buf_printf(b, "set title %s\n", gp_quote_text(q, sizeof q, title));
    if (xlabel) gp_buf_printf(b, "set xlabel %s\n", gp_quote_text(q, sizeof q, xlabel));
    gp_buf_printf(b, "set ylabel %s\n", gp_quote_text(q, sizeof q, ylabel));
    if (o->logx) gp_buf_printf(b, "set logscale x\n");
    if (o->logy) gp_buf_printf(b, "set logscale y\nset format y '10^{%%T}'\n");
    if (o->xline || o->yline) {
        const char *ln = o->xline ? o->xline : o->yline;
        char *end;
        double x = strtod(ln, &end);
        while (isspace((unsigned char)*end)) end++;
        if (o->xline)
            gp_buf_printf(b,
                          "set arrow 9 from %.9g, graph 0 to %.9g, graph 1 nohead ls 8 back\n"
                          "set label 9 %s at %.9g, graph 0.96 offset 0.5,0 left textcolor rgb "
                          "'#606060'\n",
                          x, x, gp_quote_text(q, sizeof q, end), x);
        if (o->yline) {
            x = strtod(o->yline, &end);
            while (isspace((unsigned char)*end)) end++;
            gp_buf_printf(
                b,
                "set arrow 10 from graph 0, first %.9g to graph 1, first %.9g nohead ls 8 "
                "back\nset label 10 %s at graph 0.02, first %.9g offset 0,0.7 left "
                "textcolor rgb '#606060'\n",
                x, x, gp_quote_text(q, sizeof q, end), x);
        }
    }
    const char *r[2] = {o->xrange, o->yrange};
    for (int i = 0; i < 2; i++) {
        if (!r[i]) continue;
        char t[256];
        snprintf(t, sizeof t, "%s", r[i]);
        char *p = trim(t);
        size_t n = strlen(p);
        if (n >= 2 && p[0] == '[' && p[n - 1] == ']') {
            p[n - 1] = '\0';
            p++;
        }
        gp_buf_printf(b, "set %crange [%s]\n", i ? 'y' : 'x', p);
    }
}

/* Line style of group k: the house colour of its method's mix mode (1 none,
 * 2 input, 3 manifold), dashed (+3) for a second group of the same mode,
 * then the class colours.  seen[3] counts the groups per mode.  Groups that
 * are not split by method (no method axis among o's group axes) take the
 * class colours 11, 12, ... */
static int group_ls(const cli_suite *s, const cli_suite_output *o, const rgroup *g, int k,
                    int seen[3])
{
    if (s->method_axis < 0 || !in_list(o->rows, o->n_rows, s->method_axis)) return gp_class_ls(k);
    int mix = suite_opt(s, "mix");
    const char *m = mix >= 0 && g->n ? s->runs[g->runs[0]].config[mix] : "none";
    mg_mix_mode mode = !strcmp(m, "manifold") ? MG_MIX_MANIFOLD
                       : !strcmp(m, "input")  ? MG_MIX_INPUT
                                              : MG_MIX_NONE;
    int i = mode == MG_MIX_MANIFOLD ? 2 : mode == MG_MIX_INPUT ? 1 : 0;
    int n = seen[i]++;
    if (n == 0) return gp_method_ls(mode);
    if (n == 1) return gp_method_ls(mode) + 3;
    return gp_class_ls(k);
}

typedef struct {
    double x, y;
    int run;
} xy_point;

static int cmp_points(const void *a, const void *b)
{
    const xy_point *p = a, *q = b;
    if (p->x != q->x) return p->x < q->x ? -1 : 1;
    return p->run - q->run;
}

/* Append the (x, y) rows of columns xcol, ycol of a TSV file with a
 * "# columns:" header.  ycol may be a glob (class_*): y is then the mean of
 * the non-NaN values of the matching columns of the row. */
static void read_tsv_points(const char *path, const char *xcol, const char *ycol, int run,
                            xy_point **pts, int *n, int *cap)
{
    FILE *f = fopen(path, "r");
    if (!f) return;
    char *line = NULL;
    size_t lcap = 0;
    int xi = -1, ny = 0;
    unsigned char ycols[CLI_SUITE_MAX_LIST] = {0};
    while (getline(&line, &lcap, f) >= 0) {
        if (!strncmp(line, "# columns:", 10)) {
            strlist l;
            ny = 0;
            memset(ycols, 0, sizeof ycols);
            if (strlist_words(&l, line + 10) == 0) {
                for (int i = 0; i < l.n; i++) {
                    if (!strcmp(l.item[i], xcol)) xi = i;
                    if (!fnmatch(ycol, l.item[i], 0)) {
                        ycols[i] = 1;
                        ny++;
                    }
                }
                strlist_free(&l);
            }
            continue;
        }
        if (line[0] == '#' || xi < 0 || ny == 0) continue;
        double vals[2] = {NAN, 0.0};
        int col = 0, got = 0;
        char *p = line;
        while (*p && *p != '\n') {
            char *end;
            double v = strtod(p, &end);
            if (end == p) v = NAN;
            if (col == xi) vals[0] = v;
            if (col < CLI_SUITE_MAX_LIST && ycols[col] && !isnan(v)) {
                vals[1] += v;
                got++;
            }
            while (*end && *end != '\t' && *end != '\n') end++;
            p = *end == '\t' ? end + 1 : end;
            col++;
        }
        vals[1] = got ? vals[1] / got : NAN;
        if (isnan(vals[0]) || isnan(vals[1])) continue;
        if (*n == *cap) {
            *cap = *cap ? 2 * *cap : 256;
            *pts = xrealloc(*pts, sizeof **pts * (size_t)*cap);
        }
        (*pts)[(*n)++] = (xy_point){vals[0], vals[1], run};
    }
    free(line);
    fclose(f);
}

static const char *y_label_of(const cli_suite_output *o)
{
    if (o->ylabel) return o->ylabel;
    if (o->n_metrics) return o->metrics[0].label;
    const char *l = lookup_label(k_train_columns, o->y);
    return l ? l : o->y;
}

static void default_title(char *buf, size_t len, const char *y, const char *x, const char *agg)
{
    snprintf(buf, len, "%c%s vs %s (mean ± std over %s)", toupper((unsigned char)y[0]), y + 1, x,
             agg);
}

/* "shaded: ± 1 std over 2 seeds" (what the band or bars of a figure mean). */
static void band_text(char *buf, size_t len, const char *agg, const char *what)
{
    snprintf(buf, len, "%s: ± 1 std over %s", what, agg);
}

/* The same as a quoted gnuplot string ('' when nothing is averaged). */
static char *band_note(char *buf, size_t len, const char *agg, const char *what)
{
    char t[512];
    if (!strcmp(agg, "1 run"))
        t[0] = '\0';
    else
        band_text(t, sizeof t, agg, what);
    return gp_quote_text(buf, len, t);
}

static void write_agg_row(FILE *f, double x, agg_t a)
{
    tsv_num(f, x);
    fputc('\t', f);
    tsv_num(f, a.mean);
    fputc('\t', f);
    tsv_num(f, a.std);
    fprintf(f, "\t%d\t", a.n);
    tsv_num(f, a.n > 1 ? a.std : 0.0);
    fputc('\n', f);
}

/* The start of a curve or sweep figure (one data block per group): its title
 * (o->title, else "Y vs X (mean ± std over AGG)") into title[len], the data
 * file's header into d (opened here) and the gnuplot set-up into setup. */
static void group_figure_open(const report_ctx *c, const cli_suite_output *o, const char *agg,
                              const char *yl, const char *xl, char *title, size_t len, membuf *d,
                              gp_buf *setup)
{
    default_title(title, len, yl, xl, agg);
    if (o->title) snprintf(title, len, "%s", o->title);
    mb_open(d);
    fprintf(d->f, "%s figure=%s\n# one block per group (gnuplot index); err = std, 0 when n < 2\n",
            c->prov, o->name);
    gp_setup(setup, o, title, xl, yl);
}

static mg_status write_curve(report_ctx *c, const cli_suite_output *o)
{
    const cli_suite *s = c->s;
    rgroup *g;
    int ng = build_groups(s, o, o->rows, o->n_rows, &g);
    char agg[256], title[512], q[1200];
    aggregate_text(s, agg, sizeof agg);
    const char *yl = y_label_of(o);
    const char *xl = o->xlabel                             ? o->xlabel
                     : lookup_label(k_train_columns, o->x) ? lookup_label(k_train_columns, o->x)
                                                           : o->x;
    membuf d;
    gp_buf setup, body;
    group_figure_open(c, o, agg, yl, xl, title, sizeof title, &d, &setup);
    if (o->key)
        gp_buf_printf(&setup, "set key %s title %s\n", o->key,
                      band_note(q, sizeof q, agg, "shaded"));
    else
        gp_buf_printf(&setup, "set key %s right title %s\n", strstr(o->y, "acc") ? "bottom" : "top",
                      band_note(q, sizeof q, agg, "shaded"));
    gp_buf_init(&body);
    int block = 0, seen[3] = {0, 0, 0};
    double xmax = -INFINITY;
    for (int k = 0; k < ng; k++) {
        int ls = group_ls(s, o, &g[k], k, seen);
        xy_point *pts = NULL;
        int n = 0, cap = 0;
        for (int i = 0; i < g[k].n; i++) {
            int r = g[k].runs[i];
            if (!c->rc[r].done) continue;
            char dir[4096], path[4400];
            cli_suite_run_dir(s, &s->runs[r], dir, sizeof dir);
            snprintf(path, sizeof path, "%s/%s", dir, o->file);
            read_tsv_points(path, o->x, o->y, r, &pts, &n, &cap);
        }
        if (n == 0) {
            free(pts);
            continue;
        }
        qsort(pts, (size_t)n, sizeof *pts, cmp_points);
        char label[512];
        group_label(s, o->rows, o->n_rows, g[k].vi, label, sizeof label);
        fprintf(d.f, "# group %d: %s\n# columns: %s mean std n err\n", block, label, o->x);
        double *vals = xcalloc((size_t)n, sizeof *vals);
        for (int i = 0; i < n;) {
            int j = i, nv = 0;
            while (j < n && pts[j].x == pts[i].x) {
                /* one value per run: repeated x within a run are averaged */
                int r = pts[j].run, cnt = 0;
                double sum = 0.0;
                while (j < n && pts[j].x == pts[i].x && pts[j].run == r) {
                    sum += pts[j].y;
                    cnt++;
                    j++;
                }
                vals[nv++] = sum / cnt;
            }
            write_agg_row(d.f, pts[i].x, aggregate(vals, nv));
            if (pts[i].x > xmax) xmax = pts[i].x;
            i = j;
        }
        fputs("\n\n", d.f);
        free(vals);
        free(pts);
        gp_buf_printf(&body,
                      "%s'%s.tsv' index %d using 1:($2-$5):($2+$5) with filledcurves ls %d "
                      "fs transparent solid 0.18 noborder notitle, \\\n"
                      "  '%s.tsv' index %d using 1:2 with %s ls %d title %s",
                      block ? ", \\\n  " : "plot ", o->name, block, ls, o->name, block,
                      o->with ? o->with : "linespoints", ls, gp_quote_text(q, sizeof q, label));
        block++;
    }
    if (o->diagonal && block) gp_buf_printf(&body, ", \\\n  x with lines ls 8 title 'y = x'");
    gp_buf_printf(&body, "\n");
    if (!strcmp(o->x, "epoch") && xmax <= 12) gp_buf_printf(&setup, "set xtics 1\n");
    groups_free(g, ng);
    return figure_finish(c, o, &d, &setup, &body, title, block > 0);
}

static mg_status write_bar(report_ctx *c, const cli_suite_output *o)
{
    const cli_suite *s = c->s;
    rgroup *g;
    int ng = build_groups(s, o, o->rows, o->n_rows, &g);
    char agg[256], title[512];
    aggregate_text(s, agg, sizeof agg);
    const char *yl = y_label_of(o);
    snprintf(title, sizeof title, "%c%s (mean ± std over %s)", toupper((unsigned char)yl[0]),
             yl + 1, agg);
    if (o->title) snprintf(title, sizeof title, "%s", o->title);
    membuf d;
    mb_open(&d);
    fprintf(d.f, "%s figure=%s\n# err = std, 0 when n < 2\n# columns: index group mean std n err\n",
            c->prov, o->name);
    gp_buf setup, body;
    char note[512];
    band_text(note, sizeof note, agg, "error bars");
    if (!strcmp(agg, "1 run")) note[0] = '\0';
    gp_setup(&setup, o, title, note, yl);
    gp_buf_init(&body);
    int has = 0, negative = 0, seen[3] = {0, 0, 0};
    size_t longest = 0;
    /* several bars of one mix mode (an ablation): class colours for all */
    {
        int modes[3] = {0, 0, 0}, dummy[3] = {0, 0, 0};
        for (int k = 0; k < ng; k++) {
            int ls = group_ls(s, o, &g[k], k, dummy);
            if (ls >= 1 && ls <= 3) modes[ls - 1]++;
            if (ls >= 4 && ls <= 6) modes[ls - 4] += 2;
        }
        if (modes[0] > 1 || modes[1] > 1 || modes[2] > 1) seen[0] = seen[1] = seen[2] = 99;
    }
    for (int k = 0; k < ng; k++) {
        char label[512];
        group_label(s, o->rows, o->n_rows, g[k].vi, label, sizeof label);
        agg_t a = group_metric(c, &g[k], -1, 0, &o->metrics[0]);
        fprintf(d.f, "%d\t", k);
        tsv_cell(d.f, label);
        fputc('\t', d.f);
        tsv_num(d.f, a.mean);
        fputc('\t', d.f);
        tsv_num(d.f, a.std);
        fprintf(d.f, "\t%d\t", a.n);
        tsv_num(d.f, a.n > 1 ? a.std : 0.0);
        fputc('\n', d.f);
        has |= a.n > 0;
        negative |= a.n > 0 && a.mean < 0;
        if (strlen(label) > longest) longest = strlen(label);
        /* one element per bar, in its group's colour */
        gp_buf_printf(&body, "%s'%s.tsv' every ::%d::%d using 1:3:xtic(2) with boxes ls %d notitle",
                      k ? ", \\\n  " : "plot ", o->name, k, k,
                      seen[0] == 99 ? gp_class_ls(k) : group_ls(s, o, &g[k], k, seen));
    }
    if (ng)
        gp_buf_printf(&body,
                      ", \\\n  '%s.tsv' using 1:3:6 with yerrorbars lc rgb \"#202020\" "
                      "lw 1.2 pt 7 ps 0.5 notitle\n",
                      o->name);
    gp_buf_printf(&setup,
                  "unset key\nset boxwidth 0.6\nset style fill solid 0.75 border -1\n"
                  "set xtics noenhanced\n"
                  "set xrange [-0.6:%g]\n",
                  ng - 0.4);
    if (!negative && !o->yrange) gp_buf_printf(&setup, "set yrange [0:*]\n");
    if (ng > 4 || longest > 14) gp_buf_printf(&setup, "set xtics rotate by -25\n");
    groups_free(g, ng);
    return figure_finish(c, o, &d, &setup, &body, title, has);
}

static int g_sort_axis_vals_axis;
static const cli_suite *g_sort_axis_suite;
static int cmp_axis_numeric(const void *a, const void *b)
{
    const cli_suite_axis *ax = &g_sort_axis_suite->axes[g_sort_axis_vals_axis];
    double x = strtod(ax->values[*(const int *)a], NULL),
           y = strtod(ax->values[*(const int *)b], NULL);
    return x < y ? -1 : x > y ? 1 : 0;
}

static mg_status write_sweep(report_ctx *c, const cli_suite_output *o)
{
    const cli_suite *s = c->s;
    const cli_suite_axis *xa = &s->axes[o->col];
    rgroup *g;
    int ng = build_groups(s, o, o->rows, o->n_rows, &g);
    int order[CLI_SUITE_MAX_LIST];
    for (int i = 0; i < xa->n; i++) order[i] = i;
    g_sort_axis_suite = s;
    g_sort_axis_vals_axis = o->col;
    qsort(order, (size_t)xa->n, sizeof order[0], cmp_axis_numeric);
    char agg[256], title[512], q[1200];
    aggregate_text(s, agg, sizeof agg);
    const char *yl = y_label_of(o);
    const char *xl = o->xlabel ? o->xlabel : axis_label(xa);
    membuf d;
    gp_buf setup, body;
    group_figure_open(c, o, agg, yl, xl, title, sizeof title, &d, &setup);
    gp_buf_printf(&setup, "set key %s title %s\n", o->key ? o->key : "top right",
                  band_note(q, sizeof q, agg, "error bars"));
    gp_buf_init(&body);
    int block = 0, seen[3] = {0, 0, 0};
    for (int k = 0; k < ng; k++) {
        int ls = group_ls(s, o, &g[k], k, seen);
        char label[512];
        group_label(s, o->rows, o->n_rows, g[k].vi, label, sizeof label);
        membuf rows;
        mb_open(&rows);
        int nrow = 0;
        for (int i = 0; i < xa->n; i++) {
            agg_t a = group_metric(c, &g[k], o->col, order[i], &o->metrics[0]);
            if (a.n == 0) continue;
            write_agg_row(rows.f, strtod(xa->values[order[i]], NULL), a);
            nrow++;
        }
        char *text = mb_close(&rows);
        if (nrow) {
            fprintf(d.f, "# group %d: %s\n# columns: %s mean std n err\n%s\n\n", block, label,
                    xa->key, text);
            gp_buf_printf(&body, "%s'%s.tsv' index %d using 1:2:5 with yerrorlines ls %d title %s",
                          block ? ", \\\n  " : "plot ", o->name, block, ls,
                          gp_quote_text(q, sizeof q, label));
            block++;
        }
        free(text);
    }
    gp_buf_printf(&body, "\n");
    groups_free(g, ng);
    return figure_finish(c, o, &d, &setup, &body, title, block > 0);
}

/* ---------------------------------------------------------------- montage */

/* The parts of a figure script written by gp_emit (gp.h) with one plot:
 * setup = the text between the house style and the output loop, body = the
 * commands inside the loop after `set output`.  Both malloc'ed.  0, or 1
 * with the reason in why. */
static int split_script(const char *text, char **setup, char **body, char *why, size_t len)
{
    *setup = *body = NULL;
    const char *style = gp_style_text();
    const char *st = strstr(text, style);
    if (!st) return snprintf(why, len, "not a figure script of mixgeo (no house style)"), 1;
    st += strlen(style);
    const char *loop = strstr(st, "do for [gp_fmt in");
    const char *out = loop ? strstr(loop, "\nset output ") : NULL;
    const char *b = out ? strchr(out + 1, '\n') : NULL;
    const char *e = NULL;
    for (const char *p = b; p && (p = strstr(p, "\nunset multiplot\nset output\n}")); p++) e = p;
    if (!loop || !b || !e || e < b)
        return snprintf(why, len, "not a figure script of mixgeo (no output loop)"), 1;
    *setup = xstrndup(st, (size_t)(loop - st));
    *body = xstrndup(b + 1, (size_t)(e - b));
    if (strstr(*body, "set multiplot")) {
        free(*setup);
        free(*body);
        *setup = *body = NULL;
        return snprintf(why, len,
                        "has several plots (multiplot); a montage takes one-plot scripts"),
               1;
    }
    return 0;
}

/* The body with every `set title ...` line replaced by title (quoted). */
static void body_retitled(gp_buf *b, const char *body, const char *title)
{
    char q[1200];
    const char *p = body;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p + 1) : strlen(p);
        if (!strncmp(p, "set title ", 10))
            gp_buf_printf(b, "set title %s\n", gp_quote_text(q, sizeof q, title));
        else
            gp_buf_printf(b, "%.*s", (int)n, p);
        if (n && p[n - 1] != '\n') gp_buf_printf(b, "\n");
        p += n;
    }
}

static mg_status write_montage(report_ctx *c, const cli_suite_output *o)
{
    const cli_suite *s = c->s;
    rgroup *g;
    int ng = build_groups(s, o, o->rows, o->n_rows, &g);
    char title[512], q[1200];
    snprintf(title, sizeof title, "%s", o->title ? o->title : o->name);
    membuf d;
    mb_open(&d);
    fprintf(d.f,
            "%s figure=%s\n# the panels of the montage: the figure script of one run per row\n"
            "# columns: row col run script status\n",
            c->prov, o->name);
    gp_buf setup, body;
    gp_buf_init(&setup);
    gp_buf_init(&body);
    gp_buf_printf(&setup, "gp_home = GPVAL_PWD\n");
    gp_buf_printf(&body, "set multiplot layout %d,%d title %s font ',13'\n", ng > 0 ? ng : 1,
                  o->n_panels, gp_quote_text(q, sizeof q, title));
    int has = 0;
    for (int k = 0; k < ng; k++) {
        int run = -1;
        for (int i = 0; i < g[k].n && run < 0; i++)
            if (c->rc[g[k].runs[i]].done) run = g[k].runs[i];
        char label[512];
        group_label(s, o->rows, o->n_rows, g[k].vi, label, sizeof label);
        for (int p = 0; p < o->n_panels; p++) {
            char why[256] = "no finished run", *pset = NULL, *pbody = NULL;
            int ok = 0;
            if (run >= 0) {
                char dir[4096], path[4400];
                cli_suite_run_dir(s, &s->runs[run], dir, sizeof dir);
                snprintf(path, sizeof path, "%s/%s", dir, o->panels[p]);
                char *text = read_text(path, (size_t)4 << 20);
                if (!text)
                    snprintf(why, sizeof why, "no %s", o->panels[p]);
                else
                    ok = !split_script(text, &pset, &pbody, why, sizeof why);
                free(text);
            }
            fprintf(d.f, "%d\t%d\t%s\t%s\t%s\n", k, p, run >= 0 ? s->runs[run].id : "-",
                    o->panels[p], ok ? "ok" : why);
            char ptitle[800];
            snprintf(ptitle, sizeof ptitle, "%s: %s", label,
                     o->panel_titles[p] ? o->panel_titles[p] : o->panels[p]);
            gp_buf_printf(&body, "reset\n%s", gp_style_text());
            if (!ok) {
                char qw[600];
                gp_buf_printf(&body,
                              "set title %s\nunset border\nunset tics\nunset key\n"
                              "set label 1 %s at graph 0.5, graph 0.5 center\n"
                              "plot [0:1] [0:1] NaN notitle\nunset label 1\n",
                              gp_quote_text(q, sizeof q, ptitle),
                              gp_quote_text(qw, sizeof qw, why));
                continue;
            }
            has = 1;
            /* the run's directory relative to figures/ */
            char rel[4400];
            const char *slash = strrchr(o->panels[p], '/');
            snprintf(rel, sizeof rel, "../runs/%s%s%.*s", s->runs[run].id, slash ? "/" : "",
                     slash ? (int)(slash - o->panels[p]) : 0, o->panels[p]);
            gp_buf_printf(&body, "cd %s\n%s", gp_quote(q, sizeof q, rel), pset);
            body_retitled(&body, pbody, ptitle);
            gp_buf_printf(&body, "cd gp_home\n");
            free(pset);
            free(pbody);
        }
    }
    gp_buf_printf(&body, "unset multiplot\n");
    groups_free(g, ng);
    char path[4400];
    snprintf(path, sizeof path, "%s/%s.tsv", c->figdir, o->name);
    mg_status st = mb_write(&d, path);
    int w = o->n_panels * o->panel_w, h = (ng > 0 ? ng : 1) * o->panel_h + 40;
    gp_figure fig = {o->name, title, c->prov, w, h, setup.s};
    if (st == MG_OK && (setup.failed || body.failed))
        st = mg_fail(MG_ERR_NOMEM, "out of memory writing %s.gp", o->name);
    if (st == MG_OK) st = gp_write(c->figdir, &fig, &body);
    gp_buf_free(&setup);
    gp_buf_free(&body);
    if (st != MG_OK) return st;
    return figure_rendered(c, o, title, has);
}

/* ---------------------------------------------------------------- claims: evaluation */

typedef enum { V_HOLDS, V_FAILS, V_INCONCLUSIVE, V_NODATA } verdict_t;

static const char *verdict_text(verdict_t v)
{
    static const char *const t[] = {"holds", "does not hold", "inconclusive", "no data"};
    return t[v];
}

/* Verdict of a conjunction: fails if any part fails, holds if all hold, no
 * data if none has data, else inconclusive. */
static verdict_t verdict_and(verdict_t a, verdict_t b)
{
    if (a == V_FAILS || b == V_FAILS) return V_FAILS;
    if (a == V_NODATA && b == V_NODATA) return V_NODATA;
    if (a == V_HOLDS && b == V_HOLDS) return V_HOLDS;
    return V_INCONCLUSIVE;
}

typedef struct {
    verdict_t verdict;
    int cells[4]; /* cells per verdict */
    char *table;  /* markdown table of the measured values */
    char *checks; /* markdown list, one line per comparison */
    char *brief;  /* one line for summary tables */
} claim_eval;

static void claim_eval_free(claim_eval *e)
{
    free(e->table);
    free(e->checks);
    free(e->brief);
}

static void fmt_g(FILE *f, double x, int digits)
{
    if (isnan(x))
        fputs("nan", f);
    else
        fprintf(f, "%.*g", digits, x);
}

/* "0.9512 ± 0.0031 (n=2)" with significant digits. */
static void fmt_agg(FILE *f, agg_t a, int digits, int replicates)
{
    if (a.n == 0) {
        fputs("–", f);
        return;
    }
    fmt_g(f, a.mean, digits);
    if (a.n > 1) {
        fputs(" ± ", f);
        fmt_g(f, a.std, digits > 2 ? 2 : digits);
    }
    if (a.n != replicates) fprintf(f, " (n=%d)", a.n);
}

/* One comparison A op B; a constant has n = -1. */
static verdict_t compare(const cli_suite_claim *cl, cli_suite_cmp op, agg_t A, agg_t B, double *d,
                         double *margin, double *slack, const char **why)
{
    *why = "";
    *d = *margin = *slack = NAN;
    if (A.n == 0 || B.n == 0 || isnan(A.mean) || isnan(B.mean)) {
        *why = "no finished run with this value";
        return V_NODATA;
    }
    double se2 = 0.0;
    if (A.n > 1 && !isnan(A.std)) se2 += A.std * A.std / A.n;
    if (B.n > 1 && !isnan(B.std)) se2 += B.std * B.std / B.n;
    *d = A.mean - B.mean;
    *margin = cl->noise * sqrt(se2);
    double big = fabs(A.mean) > fabs(B.mean) ? fabs(A.mean) : fabs(B.mean);
    *slack = cl->tol + cl->rtol * big;
    double x = *d, m = *margin, t = *slack;
    verdict_t v;
    switch (op) {
    case CLI_CMP_LT: v = x + m < -t ? V_HOLDS : x - m >= -t ? V_FAILS : V_INCONCLUSIVE; break;
    case CLI_CMP_LE: v = x + m <= t ? V_HOLDS : x - m > t ? V_FAILS : V_INCONCLUSIVE; break;
    case CLI_CMP_GT: v = x - m > t ? V_HOLDS : x + m <= t ? V_FAILS : V_INCONCLUSIVE; break;
    case CLI_CMP_GE: v = x - m >= -t ? V_HOLDS : x + m < -t ? V_FAILS : V_INCONCLUSIVE; break;
    default: v = fabs(x) + m <= t ? V_HOLDS : fabs(x) - m > t ? V_FAILS : V_INCONCLUSIVE; break;
    }
    if (v == V_INCONCLUSIVE) *why = "the difference is within the noise margin";
    if ((A.n > 0 && A.n < cl->min_n) || (B.n > 0 && B.n < cl->min_n)) {
        *why = v == V_HOLDS   ? "direction as claimed, but "
               : v == V_FAILS ? "direction against the claim, but "
                              : "within the noise margin, and ";
        v = V_INCONCLUSIVE;
    }
    return v;
}

static agg_t operand_value(report_ctx *c, const cli_suite_claim *cl, const rgroup *cell,
                           const cli_suite_operand *op, int each_vi)
{
    if (op->kind == 1) return (agg_t){op->number, 0.0, -1};
    if (op->kind == 3) return (agg_t){NAN, NAN, 0};
    int vi = op->kind == 0 ? op->vi : each_vi;
    return group_metric(c, cell, cl->by, vi, &cl->o.metrics[0]);
}

static const char *operand_label(const cli_suite *s, const cli_suite_claim *cl,
                                 const cli_suite_operand *op, int each_vi)
{
    if (op->kind == 1 || op->kind == 3) return op->text;
    if (cl->by < 0) return "value";
    return s->axes[cl->by].labels[op->kind == 0 ? op->vi : each_vi];
}

/* The values of the by axis that a claim looks at (where), in axis order. */
static int claim_by_values(const cli_suite *s, const cli_suite_claim *cl, int *vis)
{
    if (cl->by < 0) {
        vis[0] = -1;
        return 1;
    }
    int n = 0;
    for (int v = 0; v < s->axes[cl->by].n; v++) {
        int ok = 1;
        for (int k = 0; k < cl->o.n_where; k++)
            if (cl->o.where_axis[k] == cl->by && !cl->o.where_ok[k][v]) ok = 0;
        if (ok) vis[n++] = v;
    }
    return n;
}

static void claim_evaluate(report_ctx *c, const cli_suite_claim *cl, claim_eval *e)
{
    const cli_suite *s = c->s;
    const cli_suite_output *o = &cl->o;
    memset(e, 0, sizeof *e);
    rgroup *g;
    int ng = build_groups(s, o, o->rows, o->n_rows, &g);
    int vis[CLI_SUITE_MAX_LIST], nv = claim_by_values(s, cl, vis);
    int has_each = 0;
    for (int i = 0; i < cl->n_operands; i++) has_each |= cl->operands[i].kind == 2;
    const int dg = o->digits;
    membuf tb, ck, br;
    mb_open(&tb);
    mb_open(&ck);
    mb_open(&br);
    /* measured table: header */
    fputc('|', tb.f);
    for (int i = 0; i < o->n_rows; i++) {
        fputc(' ', tb.f);
        md_cell(tb.f, o->rows[i] == s->method_axis ? "Method" : axis_label(&s->axes[o->rows[i]]));
        fputs(" |", tb.f);
    }
    if (cl->by >= 0) {
        fputc(' ', tb.f);
        md_cell(tb.f, cl->by == s->method_axis ? "Method" : axis_label(&s->axes[cl->by]));
        fputs(" |", tb.f);
    }
    for (int m = 0; m < o->n_metrics; m++) {
        fputc(' ', tb.f);
        md_cell(tb.f, o->metrics[m].label);
        fputs(m == 0 ? " (claim) |" : " |", tb.f);
    }
    fputs("\n|", tb.f);
    for (int i = 0; i < o->n_rows + (cl->by >= 0); i++) fputs(" --- |", tb.f);
    for (int m = 0; m < o->n_metrics; m++) fputs(" ---: |", tb.f);
    fputc('\n', tb.f);
    e->verdict = V_NODATA;
    int first_brief = 1;
    /* the table shows the groups the claim names (all of them with a `*`) */
    unsigned char named[CLI_SUITE_MAX_LIST] = {0};
    for (int i = 0; i < cl->n_operands; i++)
        if (cl->operands[i].kind == 0) named[cl->operands[i].vi] = 1;
    for (int k = 0; k < ng; k++) {
        char cell[512];
        group_label(s, o->rows, o->n_rows, g[k].vi, cell, sizeof cell);
        for (int j = 0; j < nv; j++) {
            if (cl->by >= 0 && !has_each && !named[vis[j]]) continue;
            int any = 0;
            for (int i = 0; i < g[k].n; i++)
                if (cl->by < 0 || s->runs[g[k].runs[i]].vi[cl->by] == vis[j]) any = 1;
            if (!any) continue;
            fputc('|', tb.f);
            for (int i = 0; i < o->n_rows; i++) {
                const cli_suite_axis *ax = &s->axes[o->rows[i]];
                fputc(' ', tb.f);
                md_cell(tb.f, o->rows[i] == s->method_axis ? ax->labels[g[k].vi[o->rows[i]]]
                                                           : ax->values[g[k].vi[o->rows[i]]]);
                fputs(" |", tb.f);
            }
            if (cl->by >= 0) {
                fputc(' ', tb.f);
                md_cell(tb.f, s->axes[cl->by].labels[vis[j]]);
                fputs(" |", tb.f);
            }
            for (int m = 0; m < o->n_metrics; m++) {
                fputc(' ', tb.f);
                fmt_agg(tb.f, group_metric(c, &g[k], cl->by, vis[j], &o->metrics[m]), dg,
                        s->replicates);
                fputs(" |", tb.f);
            }
            fputc('\n', tb.f);
        }
        /* the comparisons of this cell */
        verdict_t cv = V_NODATA;
        int first_sub = 1;
        for (int j = 0; j < (has_each ? nv : 1); j++) {
            int each = has_each ? vis[j] : -1;
            if (has_each && cl->by >= 0) {
                int any = 0;
                for (int i = 0; i < g[k].n; i++)
                    if (s->runs[g[k].runs[i]].vi[cl->by] == each) any = 1;
                if (!any) continue;
            }
            for (int q = 0; q + 1 < cl->n_operands; q++) {
                if (cl->cmps[q] == CLI_CMP_BREAK) continue;
                const cli_suite_operand *A = &cl->operands[q], *B = &cl->operands[q + 1];
                agg_t a = operand_value(c, cl, &g[k], A, each),
                      b = operand_value(c, cl, &g[k], B, each);
                double d, margin, slack;
                const char *why;
                verdict_t v = compare(cl, cl->cmps[q], a, b, &d, &margin, &slack, &why);
                cv = first_sub && q == 0 ? v : verdict_and(cv, v);
                fputs("- ", ck.f);
                if (o->n_rows) fprintf(ck.f, "%s: ", cell);
                fprintf(ck.f, "%s", operand_label(s, cl, A, each));
                if (A->kind != 1) {
                    fputc(' ', ck.f);
                    fmt_agg(ck.f, a, dg, s->replicates);
                }
                fprintf(ck.f, " %s %s", cmp_text(cl->cmps[q]), operand_label(s, cl, B, each));
                if (B->kind != 1) {
                    fputc(' ', ck.f);
                    fmt_agg(ck.f, b, dg, s->replicates);
                }
                if (v != V_NODATA) {
                    fputs(": difference ", ck.f);
                    fmt_g(ck.f, d, dg);
                    fputs(", noise margin ", ck.f);
                    fmt_g(ck.f, margin, 2);
                    if (slack > 0) {
                        fputs(", tolerance ", ck.f);
                        fmt_g(ck.f, slack, 2);
                    }
                }
                fprintf(ck.f, " → **%s**", verdict_text(v));
                if (*why) {
                    fprintf(ck.f, " (%s", why);
                    if ((a.n > 0 && a.n < cl->min_n) || (b.n > 0 && b.n < cl->min_n))
                        fprintf(ck.f, "n = %d and %d, fewer than min-n = %d runs",
                                a.n < 0 ? 0 : a.n, b.n < 0 ? 0 : b.n, cl->min_n);
                    fputc(')', ck.f);
                }
                fputc('\n', ck.f);
                /* brief: the first cell's comparisons */
                /* brief: the comparisons of the first 4 cells */
                if (k < 4 && (first_sub || !has_each || j < 4)) {
                    int chain_start = q == 0 || has_each || cl->cmps[q - 1] == CLI_CMP_BREAK;
                    if (!first_brief && chain_start) fputs("; ", br.f);
                    if (ng > 1 && first_sub && q == 0) fprintf(br.f, "%s: ", cell);
                    first_brief = 0;
                    if (chain_start) {
                        fprintf(br.f, "%s", operand_label(s, cl, A, each));
                        if (A->kind != 1) {
                            fputc(' ', br.f);
                            fmt_g(br.f, a.mean, 3);
                        }
                    }
                    fprintf(br.f, " %s %s", cmp_text(cl->cmps[q]), operand_label(s, cl, B, each));
                    if (B->kind != 1) {
                        fputc(' ', br.f);
                        fmt_g(br.f, b.mean, 3);
                    }
                }
            }
            first_sub = 0;
        }
        if (k == 4) fprintf(br.f, "; ... (%d cells)", ng);
        e->cells[cv]++;
        e->verdict = k == 0 ? cv : verdict_and(e->verdict, cv);
    }
    groups_free(g, ng);
    e->table = mb_close(&tb);
    e->checks = mb_close(&ck);
    e->brief = mb_close(&br);
}

/* ---------------------------------------------------------------- claims: markdown */

/* The anchor of a claim: claim-SUITE-NAME. */
static void claim_anchor(const cli_suite *s, const cli_suite_claim *cl, char *buf, size_t len)
{
    snprintf(buf, len, "claim-%s-%s", s->name, cl->name);
}

static void claim_render(FILE *f, report_ctx *c, const cli_suite_claim *cl, const claim_eval *e,
                         const char *prefix)
{
    const cli_suite *s = c->s;
    char anchor[300], agg[256];
    claim_anchor(s, cl, anchor, sizeof anchor);
    aggregate_text(s, agg, sizeof agg);
    fprintf(f, "<a id=\"%s\"></a>\n### Claim %s: %s\n\n", anchor, cl->name,
            verdict_text(e->verdict));
    fprintf(f, "> %s\n\n", cl->text);
    if (cl->paper) fprintf(f, "- **Paper:** %s\n", cl->paper);
    fprintf(f, "- **Predicted:** %s%s`%s` on *%s*", cl->predicted ? cl->predicted : "",
            cl->predicted ? "; checked as " : "", cl->expect, cl->o.metrics[0].label);
    if (strcmp(agg, "1 run") != 0)
        fprintf(f,
                " (mean ± std over %s per group; a difference counts when it exceeds %g "
                "standard errors of the difference of the means",
                agg, cl->noise);
    else
        fputs(" (one run per group, no seed noise", f);
    if (cl->tol > 0 || cl->rtol > 0) {
        fputs(" plus a tolerance of ", f);
        if (cl->tol > 0) fprintf(f, "%g", cl->tol);
        if (cl->tol > 0 && cl->rtol > 0) fputs(" + ", f);
        if (cl->rtol > 0) fprintf(f, "%g x the larger |mean|", cl->rtol);
    }
    if (cl->min_n > 1)
        fprintf(f, "; groups with fewer than %d finished runs are inconclusive", cl->min_n);
    fputs(")\n", f);
    int nc = e->cells[0] + e->cells[1] + e->cells[2] + e->cells[3];
    fprintf(f, "- **Verdict: %s**", verdict_text(e->verdict));
    if (nc > 1)
        fprintf(f, " (%d cells: %d hold, %d do not hold, %d inconclusive, %d without data)", nc,
                e->cells[V_HOLDS], e->cells[V_FAILS], e->cells[V_INCONCLUSIVE], e->cells[V_NODATA]);
    fputs("\n\n", f);
    fputs(e->table, f);
    fputs("\nChecks:\n\n", f);
    fputs(e->checks, f);
    fputc('\n', f);
    if (cl->note) fprintf(f, "Note: %s\n\n", cl->note);
    for (int i = 0; i < cl->n_figures; i++) {
        const char *t = cl->figures[i];
        for (int k = 0; k < s->n_figures; k++)
            if (!strcmp(s->figures[k].name, cl->figures[i]) && s->figures[k].title)
                t = s->figures[k].title;
        fprintf(f, "[![%s](%sfigures/%s.png)](%sfigures/%s.pdf)\n\n", t, prefix, cl->figures[i],
                prefix, cl->figures[i]);
    }
    for (int i = 0; i < cl->n_tables; i++)
        fprintf(f, "Table: [%s](%stables/%s.md)\n\n", cl->tables[i], prefix, cl->tables[i]);
}

/* The summary table of claims (one row per claim). */
static void claims_summary_rows(FILE *f, report_ctx *c, const claim_eval *ev, const char *prefix,
                                int with_suite)
{
    const cli_suite *s = c->s;
    for (int i = 0; i < s->n_claims; i++) {
        char anchor[300];
        claim_anchor(s, &s->claims[i], anchor, sizeof anchor);
        fprintf(f, "| [%s](#%s) |", s->claims[i].name, anchor);
        if (with_suite) fprintf(f, " [%s](%sREPORT.md) |", s->name, prefix);
        fputc(' ', f);
        md_cell(f, s->claims[i].text);
        fprintf(f, " | **%s** | ", verdict_text(ev[i].verdict));
        md_cell(f, ev[i].brief);
        fputs(" |\n", f);
    }
}

static mg_status write_claims_tsv(report_ctx *c, const claim_eval *ev)
{
    const cli_suite *s = c->s;
    membuf t;
    mb_open(&t);
    fprintf(t.f,
            "%s\n# columns: claim verdict cells_hold cells_fail cells_inconclusive cells_nodata "
            "text\n",
            c->prov);
    for (int i = 0; i < s->n_claims; i++) {
        fprintf(t.f, "%s\t%s\t%d\t%d\t%d\t%d\t", s->claims[i].name, verdict_text(ev[i].verdict),
                ev[i].cells[0], ev[i].cells[1], ev[i].cells[2], ev[i].cells[3]);
        tsv_cell(t.f, s->claims[i].text);
        fputc('\n', t.f);
    }
    char path[4400];
    snprintf(path, sizeof path, "%s/claims.tsv", s->out);
    return mb_write(&t, path);
}

/* ---------------------------------------------------------------- runs.tsv, REPORT.md */

static const char *const k_run_metrics[] = {"final.train_loss", "final.train_acc", "final.val_acc",
                                            "final.test_loss",  "final.test_nll",  "final.test_acc",
                                            "best.epoch",       "best.val_acc",    "best.test_acc",
                                            "best.test_nll",    "train_seconds",   NULL};

static mg_status write_runs_tsv(report_ctx *c, const cli_run_state *states)
{
    const cli_suite *s = c->s;
    membuf t;
    mb_open(&t);
    fprintf(t.f, "%s\n# columns: id state", c->prov);
    for (int a = 0; a < s->n_axes; a++) fprintf(t.f, " %s", s->axes[a].key);
    for (int i = 0; k_run_metrics[i]; i++) fprintf(t.f, " %s", k_run_metrics[i]);
    fputc('\n', t.f);
    for (int r = 0; r < s->n_runs; r++) {
        fprintf(t.f, "%s\t%s", s->runs[r].id, cli_run_state_name(states[r]));
        for (int a = 0; a < s->n_axes; a++) {
            fputc('\t', t.f);
            tsv_cell(t.f, s->axes[a].values[s->runs[r].vi[a]]);
        }
        for (int i = 0; k_run_metrics[i]; i++) {
            cli_suite_metric m;
            memset(&m, 0, sizeof m);
            m.n_terms = 1;
            snprintf(m.terms[0].file, sizeof m.terms[0].file, "summary.json");
            snprintf(m.terms[0].path, sizeof m.terms[0].path, "%s", k_run_metrics[i]);
            fputc('\t', t.f);
            tsv_num(t.f, c->rc[r].done ? metric_value(c, r, &m) : NAN);
        }
        fputc('\n', t.f);
    }
    char path[4400];
    snprintf(path, sizeof path, "%s/runs.tsv", s->out);
    return mb_write(&t, path);
}

/* Open the report context of suite s: the state of every run (into states
 * and count when given). */
static mg_status ctx_open(report_ctx *c, const cli_suite *s, int render, cli_run_state *states,
                          int *count)
{
    memset(c, 0, sizeof *c);
    c->s = s;
    c->render = render;
    c->have_gnuplot = gnuplot_on_path();
    if (snprintf(c->figdir, sizeof c->figdir, "%s/figures", s->out) >= (int)sizeof c->figdir ||
        snprintf(c->tabdir, sizeof c->tabdir, "%s/tables", s->out) >= (int)sizeof c->tabdir)
        return mg_fail(MG_ERR_CONFIG, "path too long: %s", s->out);
    snprintf(c->prov, sizeof c->prov, "# mixgeo %s suite=%s git=%s file=%s%s", MG_VERSION_STRING,
             s->name, cli_git_revision(), s->path, s->quick ? " quick=1" : "");
    c->rc = xcalloc((size_t)s->n_runs, sizeof *c->rc);
    for (int r = 0; r < s->n_runs; r++) {
        char detail[1024];
        cli_run_state st = cli_suite_run_state(s, &s->runs[r], detail, sizeof detail);
        if (states) states[r] = st;
        if (count) count[st]++;
        c->rc[r].done = st == CLI_RUN_DONE;
        c->n_done += c->rc[r].done;
    }
    return MG_OK;
}

static void ctx_close(report_ctx *c)
{
    for (int r = 0; c->rc && r < c->s->n_runs; r++) {
        for (int i = 0; i < c->rc[r].n_j; i++) cJSON_Delete(c->rc[r].j[i].json);
        free(c->rc[r].j);
    }
    free(c->rc);
    c->rc = NULL;
}

mg_status cli_suite_report(const cli_suite *s, int render)
{
    report_ctx c;
    memset(&c, 0, sizeof c);
    cli_run_state *states = xcalloc((size_t)s->n_runs, sizeof *states);
    int count[CLI_RUN_N_STATES] = {0};
    mg_status st = mg_mkdir_p(s->out);
    if (st == MG_OK) st = ctx_open(&c, s, render, states, count);
    if (st == MG_OK && s->n_figures) st = mg_mkdir_p(c.figdir);
    if (st == MG_OK && s->n_tables) st = mg_mkdir_p(c.tabdir);
    if (st != MG_OK) {
        ctx_close(&c);
        free(states);
        return st;
    }
    mb_open(&c.md);
    for (int i = 0; i < s->n_tables && st == MG_OK; i++)
        st = k_table_kinds[s->tables[i].kind].write(&c, &s->tables[i]);
    for (int i = 0; i < s->n_figures && st == MG_OK; i++)
        st = k_figure_kinds[s->figures[i].kind].write(&c, &s->figures[i]);
    if (st == MG_OK) st = write_runs_tsv(&c, states);
    claim_eval *ev = xcalloc((size_t)s->n_claims, sizeof *ev);
    for (int i = 0; i < s->n_claims; i++) claim_evaluate(&c, &s->claims[i], &ev[i]);
    if (st == MG_OK && s->n_claims) st = write_claims_tsv(&c, ev);
    char *body = mb_close(&c.md);
    if (st == MG_OK) {
        char agg[256], when[64], path[4400];
        aggregate_text(s, agg, sizeof agg);
        iso_time(when, sizeof when);
        membuf r;
        mb_open(&r);
        fprintf(r.f, "# Suite %s%s\n\n", s->name, s->quick ? " (quick budget)" : "");
        if (*s->description) fprintf(r.f, "%s\n\n", s->description);
        fprintf(r.f, "Suite file `%s`; %d runs (%d done", s->path, s->n_runs, c.n_done);
        for (int k = 0; k < CLI_RUN_N_STATES; k++)
            if (k != CLI_RUN_DONE && count[k])
                fprintf(r.f, ", %d %s", count[k], cli_run_state_name(k));
        fprintf(r.f,
                "); every value is the mean ± std over %s.  Per-run values: runs.tsv.  "
                "mixgeo %s, git %s, %s.\n\n",
                agg, MG_VERSION_STRING, cli_git_revision(), when);
        if (s->n_claims) {
            fputs("## Claims\n\nEach claim of the paper checked on these runs (verdict rules: "
                  "`mixgeo suite --help`; per-claim files: claims.tsv).\n\n"
                  "| Claim | Statement | Verdict | Measured |\n|---|---|---|---|\n",
                  r.f);
            claims_summary_rows(r.f, &c, ev, "", 0);
            fputc('\n', r.f);
            for (int i = 0; i < s->n_claims; i++) claim_render(r.f, &c, &s->claims[i], &ev[i], "");
            if (s->n_tables || s->n_figures) fputs("## Tables and figures\n\n", r.f);
        }
        fputs(body ? body : "", r.f);
        snprintf(path, sizeof path, "%s/REPORT.md", s->out);
        st = mb_write(&r, path);
    }
    free(body);
    if (st == MG_OK && !cli_quiet()) {
        printf("%s: %d of %d runs done; %s/REPORT.md, runs.tsv", s->name, c.n_done, s->n_runs,
               s->out);
        if (s->n_tables)
            printf(", %d table%s in tables/", s->n_tables, s->n_tables == 1 ? "" : "s");
        if (s->n_figures) {
            printf(", %d figure%s in figures/", s->n_figures, s->n_figures == 1 ? "" : "s");
            if (!render)
                printf(" (not rendered: --no-render)");
            else if (!c.have_gnuplot)
                printf(" (not rendered: gnuplot is not on the PATH; run "
                       "gnuplot NAME.gp in %s)",
                       c.figdir);
            else
                printf(" (%d rendered to PNG and PDF)", c.rendered);
        }
        if (s->n_claims) {
            int nv[4] = {0};
            for (int i = 0; i < s->n_claims; i++) nv[ev[i].verdict]++;
            printf(", %d claim%s: %d hold, %d do not hold, %d inconclusive, %d without data",
                   s->n_claims, s->n_claims == 1 ? "" : "s", nv[V_HOLDS], nv[V_FAILS],
                   nv[V_INCONCLUSIVE], nv[V_NODATA]);
        }
        printf("\n");
        fflush(stdout);
    }
    for (int i = 0; i < s->n_claims; i++) claim_eval_free(&ev[i]);
    free(ev);
    ctx_close(&c);
    free(states);
    if (st == MG_OK && c.failures)
        st = mg_fail(MG_ERR_IO, "%d figure%s of %s could not be rendered", c.failures,
                     c.failures == 1 ? "" : "s", s->name);
    return st;
}

/* ---------------------------------------------------------------- combined report */

/* to relative to the directory from ("../x/"), "" if they are the same,
 * with a trailing '/'; both must exist.  0 if a real path cannot be had. */
static int relative_dir(const char *from, const char *to, char *buf, size_t len)
{
    char a[PATH_MAX], b[PATH_MAX];
    if (!realpath(from, a) || !realpath(to, b)) return 0;
    size_t i = 0, common = 0;
    while (a[i] && a[i] == b[i]) {
        if (a[i] == '/') common = i;
        i++;
    }
    if (!a[i] && (b[i] == '/' || !b[i]))
        common = i;
    else if (!b[i] && a[i] == '/')
        common = i;
    size_t used = 0;
    buf[0] = '\0';
    /* one "../" per component of a after the common prefix */
    for (const char *p = a + common; *p; p++)
        if (*p == '/' && p[1])
            used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "../");
    const char *rest = b + common;
    while (*rest == '/') rest++;
    if (*rest) used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s/", rest);
    return used < len;
}

mg_status cli_suite_combined_report(cli_suite *const *suites, int n, const char *path, int quick)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    mg_status st = mg_mkdir_p(dir);
    if (st != MG_OK) return st;
    /* the suites by [suite] order, then as given */
    cli_suite **sorted = xcalloc((size_t)n, sizeof *sorted);
    for (int i = 0; i < n; i++) {
        int k = i;
        while (k > 0 && sorted[k - 1]->order > suites[i]->order) {
            sorted[k] = sorted[k - 1];
            k--;
        }
        sorted[k] = suites[i];
    }
    suites = sorted;
    report_ctx *ctx = xcalloc((size_t)n, sizeof *ctx);
    claim_eval **ev = xcalloc((size_t)n, sizeof *ev);
    char(*prefix)[4096] = xcalloc((size_t)n, sizeof *prefix);
    int total = 0, nv[4] = {0};
    for (int i = 0; i < n && st == MG_OK; i++) {
        const cli_suite *s = suites[i];
        st = ctx_open(&ctx[i], s, 0, NULL, NULL);
        if (st != MG_OK) break;
        if (!relative_dir(dir, s->out, prefix[i], sizeof prefix[i]))
            snprintf(prefix[i], sizeof prefix[i], "%s/", s->out);
        ev[i] = xcalloc((size_t)s->n_claims, sizeof **ev);
        for (int k = 0; k < s->n_claims; k++) {
            claim_evaluate(&ctx[i], &s->claims[k], &ev[i][k]);
            nv[ev[i][k].verdict]++;
            total++;
        }
    }
    if (st == MG_OK) {
        char when[64];
        iso_time(when, sizeof when);
        membuf r;
        mb_open(&r);
        fprintf(r.f, "# Manifold Mixup: the paper's claims checked with mixgeo%s\n\n",
                quick ? " (quick budget)" : "");
        fprintf(r.f,
                "Verma et al., *Manifold Mixup: Better Representations by Interpolating Hidden "
                "States*, ICML 2019, reproduced on the data we have (two spirals, Fashion-MNIST, "
                "the idealised problem of Theorem 1).  Each claim below is the paper's "
                "statement, what it predicts on our runs, what mixgeo measured (mean ± std over "
                "seeds, with the figure beside it) and a verdict: **holds**, **does not hold** or "
                "**inconclusive** (the difference is within the seed noise, or too few seeds; "
                "the rules are in `mixgeo suite --help`).  Verdicts are about these runs and "
                "budgets only%s.\n\n",
                quick ? "; this is the quick budget (a few epochs, one or two seeds): read it "
                        "as a smoke test of the pipeline, not as a result"
                      : "");
        fprintf(r.f,
                "%d claims from %d suite%s: %d hold, %d do not hold, %d inconclusive, %d without "
                "data.  mixgeo %s, git %s, %s.\n\n",
                total, n, n == 1 ? "" : "s", nv[V_HOLDS], nv[V_FAILS], nv[V_INCONCLUSIVE],
                nv[V_NODATA], MG_VERSION_STRING, cli_git_revision(), when);
        fputs("| Claim | Suite | Statement | Verdict | Measured |\n|---|---|---|---|---|\n", r.f);
        for (int i = 0; i < n; i++) claims_summary_rows(r.f, &ctx[i], ev[i], prefix[i], 1);
        fputc('\n', r.f);
        for (int i = 0; i < n; i++) {
            const cli_suite *s = suites[i];
            int done = ctx[i].n_done;
            fprintf(r.f, "## Suite %s\n\n", s->name);
            if (*s->description) fprintf(r.f, "%s\n\n", s->description);
            fprintf(r.f,
                    "Suite file `%s`, %d of %d runs done; full report with every table and "
                    "figure: [%sREPORT.md](%sREPORT.md).\n\n",
                    s->path, done, s->n_runs, prefix[i], prefix[i]);
            if (!s->n_claims) fputs("This suite states no claims.\n\n", r.f);
            for (int k = 0; k < s->n_claims; k++)
                claim_render(r.f, &ctx[i], &s->claims[k], &ev[i][k], prefix[i]);
        }
        st = mb_write(&r, path);
        if (st == MG_OK && !cli_quiet()) {
            printf("combined report %s: %d claims: %d hold, %d do not hold, %d inconclusive, %d "
                   "without data\n",
                   path, total, nv[V_HOLDS], nv[V_FAILS], nv[V_INCONCLUSIVE], nv[V_NODATA]);
            fflush(stdout);
        }
    }
    for (int i = 0; i < n; i++) {
        if (ev[i])
            for (int k = 0; k < suites[i]->n_claims; k++) claim_eval_free(&ev[i][k]);
        free(ev[i]);
        if (ctx[i].s) ctx_close(&ctx[i]);
    }
    free(ev);
    free(ctx);
    free(prefix);
    free(sorted);
    return st;
}
