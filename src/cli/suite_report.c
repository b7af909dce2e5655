/* suite_report.c - experiment suites, part 3 of 3: the report.  Metric
 * values of the runs (JSON paths, TSV columns, expressions) aggregated over
 * seeds into the tables (tsv, md, tex) and figures (data + gnuplot script,
 * rendered when gnuplot is on the PATH; montages of per-run figures), the
 * claims with their verdicts, runs.tsv, claims.tsv and REPORT.md, and the
 * combined report of several suites.  The writers of the table and figure
 * kinds (sx_write_*) are called through the kinds tables of suite.c.
 * suite.c reads the suite file; suite_run.c gives the state of each run.
 */
#include "suite_internal.h"

#include "gp.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    char file[256];
    cJSON *json; /* NULL: missing or unreadable */
} json_entry;

typedef struct {
    int done;
    json_entry *j;
    int n_j;
} run_cache;

struct sx_report_ctx {
    const cli_suite *s;
    char figdir[4096], tabdir[4096];
    run_cache *rc; /* per run */
    int n_done;
    char prov[1024];
    sx_membuf md; /* REPORT.md body */
    int render, have_gnuplot, rendered, failures;
};

static const cJSON *run_json(sx_report_ctx *c, int run, const char *file)
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
    e->json = sx_json_load(path);
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
    return json_path_value(run_json(c, run, t->file), t->path);
}

static double metric_value(sx_report_ctx *c, int run, const cli_suite_metric *m)
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
static agg_t group_metric(sx_report_ctx *c, const rgroup *g, int col, int cv,
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

mg_status sx_write_table_summary(sx_report_ctx *c, const cli_suite_output *o)
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
    sx_membuf t;
    sx_mb_open(&t);
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
    st = sx_mb_write(&t, path);

    /* Markdown (also into REPORT.md) */
    sx_membuf md;
    sx_mb_open(&md);
    fprintf(md.f, "**%s.** Mean ± std over %s", title, agg);
    fputs("; (n=k): only k runs finished.\n\n|", md.f);
    for (int i = 0; i < o->n_rows; i++) {
        fputc(' ', md.f);
        md_cell(md.f,
                o->rows[i] == s->method_axis ? "Method" : sx_axis_label(&s->axes[o->rows[i]]));
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
    char *mdtext = sx_mb_close(&md);
    snprintf(path, sizeof path, "%s/%s.md", c->tabdir, o->name);
    {
        sx_membuf f;
        sx_mb_open(&f);
        fprintf(f.f, "<!-- %s table=%s -->\n%s", c->prov + 2, o->name, mdtext);
        mg_status e = sx_mb_write(&f, path);
        if (st == MG_OK) st = e;
    }
    fprintf(c->md.f, "### Table %s\n\n%s\nFiles: tables/%s.tsv, tables/%s.md, tables/%s.tex\n\n",
            o->name, mdtext, o->name, o->name, o->name);
    free(mdtext);

    /* LaTeX: a booktabs tabular to \input inside a table environment. */
    sx_membuf x;
    sx_mb_open(&x);
    fprintf(x.f, "%% %s table=%s\n%% needs \\usepackage{booktabs}; caption: ", c->prov + 2,
            o->name);
    tex_text(x.f, o->caption ? o->caption : title);
    fprintf(x.f, " (mean $\\pm$ std over %s)\n\\begin{tabular}{", agg);
    for (int i = 0; i < o->n_rows; i++) fputc('l', x.f);
    for (int j = 0; j < ncv * o->n_metrics; j++) fputc('r', x.f);
    fputs("}\n\\toprule\n", x.f);
    for (int i = 0; i < o->n_rows; i++) {
        if (i) fputs(" & ", x.f);
        tex_text(x.f,
                 o->rows[i] == s->method_axis ? "Method" : sx_axis_label(&s->axes[o->rows[i]]));
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
    mg_status e = sx_mb_write(&x, path);
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

static mg_status figure_rendered(sx_report_ctx *c, const cli_suite_output *o, const char *title,
                                 int has_data);

/* The script NAME.gp (gp.h: house style, PNG and PDF from one body) and the
 * data NAME.tsv; renders when possible; adds the figure to REPORT.md. */
static mg_status figure_finish(sx_report_ctx *c, const cli_suite_output *o, sx_membuf *data,
                               gp_buf *setup, gp_buf *body, const char *title, int has_data)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s.tsv", c->figdir, o->name);
    mg_status st = sx_mb_write(data, path);
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
static mg_status figure_rendered(sx_report_ctx *c, const cli_suite_output *o, const char *title,
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
    if (s->method_axis < 0 || !sx_in_list(o->rows, o->n_rows, s->method_axis))
        return gp_class_ls(k);
    int mix = sx_suite_opt(s, "mix");
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
            sx_strlist l;
            ny = 0;
            memset(ycols, 0, sizeof ycols);
            if (sx_strlist_words(&l, line + 10) == 0) {
                for (int i = 0; i < l.n; i++) {
                    if (!strcmp(l.item[i], xcol)) xi = i;
                    if (!fnmatch(ycol, l.item[i], 0)) {
                        ycols[i] = 1;
                        ny++;
                    }
                }
                sx_strlist_free(&l);
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
    const char *l = sx_lookup_label(sx_train_columns, o->y);
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
static void group_figure_open(const sx_report_ctx *c, const cli_suite_output *o, const char *agg,
                              const char *yl, const char *xl, char *title, size_t len, sx_membuf *d,
                              gp_buf *setup)
{
    default_title(title, len, yl, xl, agg);
    if (o->title) snprintf(title, len, "%s", o->title);
    sx_mb_open(d);
    fprintf(d->f, "%s figure=%s\n# one block per group (gnuplot index); err = std, 0 when n < 2\n",
            c->prov, o->name);
    gp_setup(setup, o, title, xl, yl);
}

mg_status sx_write_curve(sx_report_ctx *c, const cli_suite_output *o)
{
    const cli_suite *s = c->s;
    rgroup *g;
    int ng = build_groups(s, o, o->rows, o->n_rows, &g);
    char agg[256], title[512], q[1200];
    aggregate_text(s, agg, sizeof agg);
    const char *yl = y_label_of(o);
    const char *xl = o->xlabel ? o->xlabel
                     : sx_lookup_label(sx_train_columns, o->x)
                         ? sx_lookup_label(sx_train_columns, o->x)
                         : o->x;
    sx_membuf d;
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

mg_status sx_write_bar(sx_report_ctx *c, const cli_suite_output *o)
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
    sx_membuf d;
    sx_mb_open(&d);
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

mg_status sx_write_sweep(sx_report_ctx *c, const cli_suite_output *o)
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
    const char *xl = o->xlabel ? o->xlabel : sx_axis_label(xa);
    sx_membuf d;
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
        sx_membuf rows;
        sx_mb_open(&rows);
        int nrow = 0;
        for (int i = 0; i < xa->n; i++) {
            agg_t a = group_metric(c, &g[k], o->col, order[i], &o->metrics[0]);
            if (a.n == 0) continue;
            write_agg_row(rows.f, strtod(xa->values[order[i]], NULL), a);
            nrow++;
        }
        char *text = sx_mb_close(&rows);
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

mg_status sx_write_montage(sx_report_ctx *c, const cli_suite_output *o)
{
    const cli_suite *s = c->s;
    rgroup *g;
    int ng = build_groups(s, o, o->rows, o->n_rows, &g);
    char title[512], q[1200];
    snprintf(title, sizeof title, "%s", o->title ? o->title : o->name);
    sx_membuf d;
    sx_mb_open(&d);
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
                char *text = sx_read_text(path, (size_t)4 << 20);
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
    mg_status st = sx_mb_write(&d, path);
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

static agg_t operand_value(sx_report_ctx *c, const cli_suite_claim *cl, const rgroup *cell,
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

static void claim_evaluate(sx_report_ctx *c, const cli_suite_claim *cl, claim_eval *e)
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
    sx_membuf tb, ck, br;
    sx_mb_open(&tb);
    sx_mb_open(&ck);
    sx_mb_open(&br);
    /* measured table: header */
    fputc('|', tb.f);
    for (int i = 0; i < o->n_rows; i++) {
        fputc(' ', tb.f);
        md_cell(tb.f,
                o->rows[i] == s->method_axis ? "Method" : sx_axis_label(&s->axes[o->rows[i]]));
        fputs(" |", tb.f);
    }
    if (cl->by >= 0) {
        fputc(' ', tb.f);
        md_cell(tb.f, cl->by == s->method_axis ? "Method" : sx_axis_label(&s->axes[cl->by]));
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
                fprintf(ck.f, " %s %s", sx_cmp_text(cl->cmps[q]), operand_label(s, cl, B, each));
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
                    if (v != V_NODATA &&
                        ((a.n > 0 && a.n < cl->min_n) || (b.n > 0 && b.n < cl->min_n)))
                        fprintf(ck.f, "n = %d and %d, fewer than min-n = %d runs",
                                a.n < 0 ? 0 : a.n, b.n < 0 ? 0 : b.n, cl->min_n);
                    fputc(')', ck.f);
                }
                fputc('\n', ck.f);
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
                    fprintf(br.f, " %s %s", sx_cmp_text(cl->cmps[q]),
                            operand_label(s, cl, B, each));
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
    e->table = sx_mb_close(&tb);
    e->checks = sx_mb_close(&ck);
    e->brief = sx_mb_close(&br);
}

/* ---------------------------------------------------------------- claims: markdown */

/* The anchor of a claim: claim-SUITE-NAME. */
static void claim_anchor(const cli_suite *s, const cli_suite_claim *cl, char *buf, size_t len)
{
    snprintf(buf, len, "claim-%s-%s", s->name, cl->name);
}

static void claim_render(FILE *f, sx_report_ctx *c, const cli_suite_claim *cl, const claim_eval *e,
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
static void claims_summary_rows(FILE *f, sx_report_ctx *c, const claim_eval *ev, const char *prefix,
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

static mg_status write_claims_tsv(sx_report_ctx *c, const claim_eval *ev)
{
    const cli_suite *s = c->s;
    sx_membuf t;
    sx_mb_open(&t);
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
    return sx_mb_write(&t, path);
}

/* ---------------------------------------------------------------- runs.tsv, REPORT.md */

static const char *const k_run_metrics[] = {"final.train_loss", "final.train_acc", "final.val_acc",
                                            "final.test_loss",  "final.test_nll",  "final.test_acc",
                                            "best.epoch",       "best.val_acc",    "best.test_acc",
                                            "best.test_nll",    "train_seconds",   NULL};

/* The columns of runs.tsv of a states suite (analysis/states/summary.json). */
static const char *const k_states_run_metrics[] = {"n", "dim", "classes", NULL};

static mg_status write_runs_tsv(sx_report_ctx *c, const cli_run_state *states)
{
    const cli_suite *s = c->s;
    sx_membuf t;
    sx_mb_open(&t);
    fprintf(t.f, "%s\n# columns: id state", c->prov);
    for (int a = 0; a < s->n_axes; a++) fprintf(t.f, " %s", s->axes[a].key);
    /* a states run has no training summary: the size of its inputs instead */
    const char *const *cols = s->command == CLI_SUITE_STATES ? k_states_run_metrics : k_run_metrics;
    const char *file =
        s->command == CLI_SUITE_STATES ? CLI_SUITE_STATES_OUT "/summary.json" : "summary.json";
    for (int i = 0; cols[i]; i++) fprintf(t.f, " %s", cols[i]);
    fputc('\n', t.f);
    for (int r = 0; r < s->n_runs; r++) {
        fprintf(t.f, "%s\t%s", s->runs[r].id, cli_run_state_name(states[r]));
        for (int a = 0; a < s->n_axes; a++) {
            fputc('\t', t.f);
            tsv_cell(t.f, s->axes[a].values[s->runs[r].vi[a]]);
        }
        for (int i = 0; cols[i]; i++) {
            cli_suite_metric m;
            memset(&m, 0, sizeof m);
            m.n_terms = 1;
            snprintf(m.terms[0].file, sizeof m.terms[0].file, "%s", file);
            snprintf(m.terms[0].path, sizeof m.terms[0].path, "%s", cols[i]);
            fputc('\t', t.f);
            tsv_num(t.f, c->rc[r].done ? metric_value(c, r, &m) : NAN);
        }
        fputc('\n', t.f);
    }
    char path[4400];
    snprintf(path, sizeof path, "%s/runs.tsv", s->out);
    return sx_mb_write(&t, path);
}

/* Open the report context of suite s: the state of every run (into states
 * and count when given). */
static mg_status ctx_open(sx_report_ctx *c, const cli_suite *s, int render, cli_run_state *states,
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

static void ctx_close(sx_report_ctx *c)
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
    sx_report_ctx c;
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
    sx_mb_open(&c.md);
    for (int i = 0; i < s->n_tables && st == MG_OK; i++)
        st = sx_table_kinds[s->tables[i].kind].write(&c, &s->tables[i]);
    for (int i = 0; i < s->n_figures && st == MG_OK; i++)
        st = sx_figure_kinds[s->figures[i].kind].write(&c, &s->figures[i]);
    if (st == MG_OK) st = write_runs_tsv(&c, states);
    claim_eval *ev = xcalloc((size_t)s->n_claims, sizeof *ev);
    for (int i = 0; i < s->n_claims; i++) claim_evaluate(&c, &s->claims[i], &ev[i]);
    if (st == MG_OK && s->n_claims) st = write_claims_tsv(&c, ev);
    char *body = sx_mb_close(&c.md);
    if (st == MG_OK) {
        char agg[256], when[64], path[4400];
        aggregate_text(s, agg, sizeof agg);
        sx_iso_time(when, sizeof when);
        sx_membuf r;
        sx_mb_open(&r);
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
        st = sx_mb_write(&r, path);
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
    sx_report_ctx *ctx = xcalloc((size_t)n, sizeof *ctx);
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
        sx_iso_time(when, sizeof when);
        sx_membuf r;
        sx_mb_open(&r);
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
        st = sx_mb_write(&r, path);
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
