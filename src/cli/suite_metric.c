/* suite_metric.c - experiment suites: metrics, the numbers a table,
 * figure or claim reads from each run.  Parse time (sx_parse_metric): a
 * metrics.tsv column, final.COL / best.COL, a summary.json key,
 * FILE:JSON.PATH (with *, [FIELD OP VALUE] filters and |reducers),
 * FILE.tsv:COLUMN[|REDUCER], or an expression of those with + - * /.
 * Report time (sx_metric_value): the value of a metric in one run, with the
 * run's JSON files parsed once per report (the cache of sx_report_ctx).
 */
#include "suite_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>

/* ---------------------------------------------------------------- metrics */

static const char *const k_reducers[] = {"min",   "max",  "mean",    "sum", "count",
                                         "first", "last", "changes", NULL};

static int sx_reducer_index(const char *name)
{
    for (int i = 0; k_reducers[i]; i++)
        if (!strcmp(k_reducers[i], name)) return i;
    return -1;
}

/* The position of the last '|' outside [...] in path, or NULL. */
static const char *sx_reducer_bar(const char *path)
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
static int sx_filter_op(const char *p, int *len)
{
    if (p[0] == '!' && p[1] == '=') return *len = 2, 1;
    if (p[0] == '<' && p[1] == '=') return *len = 2, 4;
    if (p[0] == '>' && p[1] == '=') return *len = 2, 5;
    if (p[0] == '=') return *len = 1, 0;
    if (p[0] == '<') return *len = 1, 2;
    if (p[0] == '>') return *len = 1, 3;
    return -1;
}

/* The end of the JSON-path segment at seg: the first '.' outside quotes and
 * [filters], or the terminating NUL (*end).  Returns 1 when the brackets go
 * out of balance inside the segment; *open says what is still open when the
 * path ends there: 1 a '[', 2 a quote. */
static int sx_path_segment(char *seg, char **end, int *open);

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

static int sx_path_segment(char *seg, char **end, int *open)
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
            return sx_bad(s, line, key,
                          "'%s': expected FILE:PATH with FILE relative to the run directory (e.g. "
                          "analysis/test-L1/summary.json:spectra.mean_centred.s1)",
                          text);
        snprintf(t->file, sizeof t->file, "%.*s", (int)fl, text);
        snprintf(t->path, sizeof t->path, "%s", path);
        char why[256];
        if (fl > 4 && !strcmp(t->file + fl - 4, ".tsv")) {
            const char *bar = strchr(path, '|');
            if (bar && sx_reducer_index(bar + 1) < 0)
                return sx_bad(s, line, key,
                              "'%s': unknown reducer '|%s' (expected |min |max |mean |sum |count "
                              "|first |last |changes)",
                              text, bar + 1);
            if (bar == path || strchr(path, ' '))
                return sx_bad(s, line, key, "'%s': expected FILE.tsv:COLUMN[|REDUCER]", text);
        } else {
            int multi, reduced;
            if (json_path_check(path, &multi, &reduced, why, sizeof why))
                return sx_bad(s, line, key, "'%s': %s", text, why);
            if (multi && !reduced)
                return sx_bad(s, line, key,
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
            return sx_bad(s, line, key,
                          "'%s': a states run has no metrics.tsv (a metric of a states suite is a "
                          "path into %s/summary.json, e.g. spectra.mean_centred.rest)",
                          text, CLI_SUITE_STATES_OUT);
        if (strlen(text) >= sizeof t->path)
            return sx_bad(s, line, key, "'%s': path too long", text);
        if (json_path_check(text, &multi, &reduced, why, sizeof why))
            return sx_bad(s, line, key, "'%s': %s", text, why);
        if (multi && !reduced)
            return sx_bad(s, line, key,
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
    } else if ((l = sx_lookup_label(sx_summary_keys, text)) != NULL) {
        snprintf(label, llen, "%s", l);
    }
    if (!l) {
        if (sx_lookup_label(sx_train_columns, text))
            return sx_bad(s, line, key, "'%s' in an expression: write final.%s or best.%s", text,
                          text, text);
        return sx_bad(s, line, key,
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
int sx_parse_metric(cli_suite *s, int line, const char *key, const char *item, int mask,
                    cli_suite_metric *out, int max, int *n)
{
    const char *col_label = sx_lookup_label(sx_train_columns, item);
    if (col_label && s->command == CLI_SUITE_STATES)
        return sx_bad(s, line, key,
                      "'%s': a states run has no metrics.tsv (a metric of a states suite is a path "
                      "into %s/summary.json, e.g. spectra.mean_centred.rest, or FILE:PATH)",
                      item, CLI_SUITE_STATES_OUT);
    if (col_label) {
        for (int k = 0; k < 2; k++) {
            if (!(mask & (1 << k))) continue;
            if (*n >= max) return sx_bad(s, line, key, "too many metrics");
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
    if (*n >= max) return sx_bad(s, line, key, "too many metrics");
    cli_suite_metric m;
    memset(&m, 0, sizeof m);
    sx_strlist w;
    if (sx_strlist_words(&w, item) || w.n == 0) return sx_bad(s, line, key, "empty metric");
    int problems = 0;
    if (w.n > 1) {
        if (w.n % 2 == 0 || w.n > 2 * CLI_SUITE_MAX_TERMS - 1) {
            sx_strlist_free(&w);
            return sx_bad(s, line, key,
                          "'%s': expected TERM OP TERM ... (at most %d terms, blanks around + - * "
                          "/)",
                          item, CLI_SUITE_MAX_TERMS);
        }
        for (int i = 0; i < w.n && !problems; i++) {
            if (i % 2) {
                if (!is_op_token(w.item[i]))
                    problems +=
                        sx_bad(s, line, key, "'%s': '%s' is not one of + - * /", item, w.item[i]);
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

const cJSON *sx_run_json(sx_report_ctx *c, int run, const char *file)
{
    sx_run_cache *rc = &c->rc[run];
    for (int i = 0; i < rc->n_j; i++)
        if (!strcmp(rc->j[i].file, file)) return rc->j[i].json;
    char dir[4096], path[4400];
    cli_suite_run_dir(c->s, &c->s->runs[run], dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    rc->j = xrealloc(rc->j, sizeof *rc->j * (size_t)(rc->n_j + 1));
    sx_json_entry *e = &rc->j[rc->n_j++];
    snprintf(e->file, sizeof e->file, "%s", file);
    e->json = cli_json_load(path);
    return e->json;
}

static double json_number(const cJSON *j)
{
    if (cJSON_IsNumber(j)) return j->valuedouble;
    if (cJSON_IsBool(j)) return cJSON_IsTrue(j) ? 1.0 : 0.0;
    double x;
    if (cJSON_IsString(j) && sx_parse_double_text(j->valuestring, &x)) return x;
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
    if (sx_parse_double_text(text, &x)) return x;
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
    while (*q && (op = sx_filter_op(q, &ol)) < 0) q++;
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
    char *bar = (char *)sx_reducer_bar(buf);
    int reducer = -1;
    if (bar) {
        *bar = '\0';
        reducer = sx_reducer_index(bar + 1);
    }
    nodelist cur = {0}, next = {0};
    if (root) nodes_push(&cur, root);
    int open;
    for (char *seg = buf, *p;; seg = p + 1) {
        sx_path_segment(seg, &p, &open); /* checked when the suite was read */
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
            } else if (cJSON_IsArray(j) && sx_parse_long_text(seg, 0, INT_MAX, &idx)) {
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
        reducer = sx_reducer_index(bar + 1);
    }
    FILE *f = fopen(file, "r");
    if (!f) return NAN;
    char *line = NULL;
    size_t lcap = 0;
    int ci = -1, n = 0, cap = 0, changes = 0, have_prev = 0;
    double prev = NAN, *x = NULL;
    while (getline(&line, &lcap, f) >= 0) {
        if (!strncmp(line, "# columns:", 10)) {
            sx_strlist l;
            if (sx_strlist_words(&l, line + 10) == 0) {
                for (int i = 0; i < l.n; i++)
                    if (!strcmp(l.item[i], col)) ci = i;
                sx_strlist_free(&l);
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

static double term_value(sx_report_ctx *c, int run, const cli_suite_term *t)
{
    if (!t->file[0]) return t->number;
    size_t fl = strlen(t->file);
    if (fl > 4 && !strcmp(t->file + fl - 4, ".tsv")) {
        char dir[4096], path[4400];
        cli_suite_run_dir(c->s, &c->s->runs[run], dir, sizeof dir);
        snprintf(path, sizeof path, "%s/%s", dir, t->file);
        return tsv_path_value(path, t->path);
    }
    return json_path_value(sx_run_json(c, run, t->file), t->path);
}

double sx_metric_value(sx_report_ctx *c, int run, const cli_suite_metric *m)
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
