/* suite_group.c - experiment suites: which runs a table, figure or claim
 * looks at and how it groups them.  Parse time: the keys every [table],
 * [figure] and [claim] section shares (where = AXIS=VALUE..., rows / group
 * axes that must cover the free axes, digits, log scales, ranges, key,
 * reference lines, values = final|best).  Report time: the runs grouped by
 * the values of some axes (in where order, then grid order) and a metric
 * aggregated over a group's finished runs (mean, sample std, n).
 */
#include "suite_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <fnmatch.h>

const char *sx_out_value(const cli_suite_output *o, const char *key, int *line)
{
    const cli_ini_entry *e = cli_ini_find_entry(o->sec, key);
    if (line) *line = e ? e->line : o->line;
    return e ? e->value : NULL;
}

/* The list under key, items separated by sep, into l (sx_strlist_free it); l->n
 * = 0 when key is absent or the list is malformed.  Returns the problems: 1
 * (reported as "expect") for a malformed list.  *line: the line to name. */
int sx_out_list(cli_suite *s, const cli_suite_output *o, const char *key, char sep,
                const char *expect, sx_strlist *l, int *line)
{
    l->n = 0;
    const char *v = sx_out_value(o, key, line);
    if (v && sx_strlist_split(l, v, sep)) return sx_bad(s, *line, key, "%s", expect);
    return 0;
}

/* As out_list for a key that must be there: a missing one is a problem too,
 * "[KIND NAME]: KEY missing (KEY = example)". */
int sx_out_needed_list(cli_suite *s, const cli_suite_output *o, const char *key, char sep,
                       const char *example, const char *expect, sx_strlist *l, int *line)
{
    l->n = 0;
    if (!sx_out_value(o, key, line))
        return sx_bad(s, o->line, NULL, "[%s %s]: %s missing (%s = %s)", o->sec->kind, o->name, key,
                      key, example);
    return sx_out_list(s, o, key, sep, expect, l, line);
}

int sx_in_list(const int *x, int n, int v)
{
    for (int i = 0; i < n; i++)
        if (x[i] == v) return 1;
    return 0;
}

/* 1 if where fixes axis a to one value. */
int sx_where_fixed(const cli_suite_output *o, int a)
{
    for (int i = 0; i < o->n_where; i++)
        if (o->where_axis[i] == a && o->where_vi[i] >= 0) return 1;
    return 0;
}

/* A list of axes (key) into axes[]; each a [grid] axis, once. */
int sx_parse_axes(cli_suite *s, const cli_suite_output *o, const char *key, int *axes, int *n)
{
    int line;
    sx_strlist l;
    *n = 0;
    int problems = sx_out_list(s, o, key, ',', "not a comma-separated list of axes", &l, &line);
    if (l.n == 1 && !strcmp(l.item[0], "none")) sx_strlist_free(&l); /* no axes */
    for (int i = 0; i < l.n; i++) {
        int a = sx_axis_index(s, l.item[i]);
        if (a < 0) {
            problems += sx_bad(s, line, key, "'%s' is not a [grid] axis", l.item[i]);
            continue;
        }
        for (int j = 0; j < *n; j++)
            if (axes[j] == a) problems += sx_bad(s, line, key, "'%s' listed twice", l.item[i]);
        axes[(*n)++] = a;
    }
    sx_strlist_free(&l);
    return problems;
}

/* where = KEY=VALUE KEY=V1,V2 (blank-separated): keep only matching runs. */
int sx_parse_where(cli_suite *s, cli_suite_output *o)
{
    int line;
    const char *v = sx_out_value(o, "where", &line);
    o->n_where = 0;
    if (!v) return 0;
    sx_strlist l;
    if (sx_strlist_words(&l, v) || l.n == 0)
        return sx_bad(s, line, "where", "expected KEY=VALUE items separated by blanks");
    int problems = 0;
    for (int i = 0; i < l.n; i++) {
        char *eq = strchr(l.item[i], '=');
        if (!eq) {
            problems += sx_bad(s, line, "where", "'%s' is not KEY=VALUE", l.item[i]);
            continue;
        }
        *eq = '\0';
        int a = sx_axis_index(s, l.item[i]);
        if (a < 0) {
            problems += sx_bad(s, line, "where", "'%s' is not a [grid] axis", l.item[i]);
            continue;
        }
        if (sx_in_list(o->where_axis, o->n_where, a)) {
            problems += sx_bad(s, line, "where", "the axis %s appears twice", l.item[i]);
            continue;
        }
        sx_strlist vals;
        if (sx_strlist_split(&vals, eq + 1, ',')) {
            problems += sx_bad(s, line, "where", "'%s=%s': expected AXIS=VALUE or AXIS=V1,V2",
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
                    problems += sx_bad(s, line, "where", "'%s' is not a value of the axis %s",
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
int sx_rows_default_and_cover(cli_suite *s, cli_suite_output *o, const char *key, int other)
{
    int problems = sx_parse_axes(s, o, key, o->rows, &o->n_rows);
    if (problems) return problems;
    int line;
    const char *given = sx_out_value(o, key, &line);
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
            problems += sx_bad(s, line, key, "'%s' is averaged over (aggregate in [suite])",
                               s->axes[a].key);
        else if (a == other)
            problems += sx_bad(s, line, key, "'%s' is already the %s axis", s->axes[a].key,
                               o->col == other ? "column / x" : "other");
        else if (sx_in_list(fixed, nf, a))
            problems += sx_bad(s, line, key, "'%s' is fixed by where", s->axes[a].key);
    }
    for (int a = 0; a < s->n_axes; a++)
        if (!s->axes[a].aggregate && a != other && !sx_in_list(fixed, nf, a) &&
            !sx_in_list(o->rows, o->n_rows, a))
            problems += sx_bad(s, line, key,
                               "leaves out the axis '%s' (its values would be averaged together): "
                               "add it here, fix it with where = %s=VALUE, or list it in [suite] "
                               "aggregate",
                               s->axes[a].key, s->axes[a].key);
    return problems;
}

int sx_parse_digits_bools(cli_suite *s, cli_suite_output *o)
{
    int problems = 0, line;
    const char *v = sx_out_value(o, "digits", &line);
    o->digits = 4;
    long x;
    if (v) {
        if (sx_parse_long_text(v, 0, 12, &x))
            o->digits = (int)x;
        else
            problems += sx_bad(s, line, "digits", "not an integer 0..12");
    }
    const char *names[3] = {"logx", "logy", "diagonal"};
    int *dst[3] = {&o->logx, &o->logy, &o->diagonal};
    for (int i = 0; i < 3; i++) {
        v = sx_out_value(o, names[i], &line);
        if (v && !sx_parse_bool_text(v, dst[i]))
            problems += sx_bad(s, line, names[i], "not a boolean (true/false)");
    }
    o->title = sx_out_value(o, "title", NULL);
    o->xlabel = sx_out_value(o, "xlabel", NULL);
    o->ylabel = sx_out_value(o, "ylabel", NULL);
    o->caption = sx_out_value(o, "caption", NULL);
    /* xrange / yrange / zrange = [A:B] or A:B, A and B numbers, '*' or empty */
    const char *rnames[3] = {"xrange", "yrange", "zrange"};
    const char **rdst[3] = {&o->xrange, &o->yrange, &o->zrange};
    for (int i = 0; i < 3; i++) {
        *rdst[i] = v = sx_out_value(o, rnames[i], &line);
        if (!v) continue;
        char buf[256];
        double lo, hi;
        if (!sx_parse_range_text(v, buf, sizeof buf, &lo, &hi))
            problems += sx_bad(s, line, rnames[i], "expected [LOW:HIGH] (numbers, * or empty)");
    }
    o->key = v = sx_out_value(o, "key", &line);
    if (v) {
        static const char *const words = "top bottom left right center inside outside below "
                                         "above horizontal vertical off box nobox";
        sx_strlist l;
        if (sx_strlist_words(&l, v) || l.n == 0) {
            problems += sx_bad(s, line, "key", "expected words such as: top left");
        } else {
            for (int i = 0; i < l.n; i++)
                if (!sx_word_in(words, l.item[i]))
                    problems += sx_bad(s, line, "key", "'%s' is not one of: %s", l.item[i], words);
            sx_strlist_free(&l);
        }
    }
    /* xline / yline = VALUE [label]: a dotted reference line */
    const char *lnames[2] = {"xline", "yline"};
    const char **ldst[2] = {&o->xline, &o->yline};
    for (int i = 0; i < 2; i++) {
        *ldst[i] = v = sx_out_value(o, lnames[i], &line);
        if (!v) continue;
        char *end;
        double lv = strtod(v, &end);
        if (end == v || !isfinite(lv) || (*end && !isspace((unsigned char)*end)))
            problems += sx_bad(s, line, lnames[i], "expected VALUE [label text]");
    }
    o->with = v = sx_out_value(o, "with", &line);
    if (v && strcmp(v, "lines") && strcmp(v, "linespoints") && strcmp(v, "points"))
        problems += sx_bad(s, line, "with", "expected lines, linespoints or points");
    return problems;
}

/* values = final, best -> mask. */
int sx_parse_values_mask(cli_suite *s, cli_suite_output *o, const char *key, int def, int single,
                         int *mask)
{
    int line;
    sx_strlist l;
    *mask = def;
    int problems = sx_out_list(s, o, key, ',', "expected final and/or best", &l, &line);
    if (!l.n) return problems;
    *mask = 0;
    for (int i = 0; i < l.n; i++) {
        if (!strcmp(l.item[i], "final"))
            *mask |= 1;
        else if (!strcmp(l.item[i], "best"))
            *mask |= 2;
        else
            problems += sx_bad(s, line, key, "'%s': expected final or best", l.item[i]);
    }
    if (single && l.n != 1) problems += sx_bad(s, line, key, "one of final or best");
    sx_strlist_free(&l);
    return problems;
}

/* Mean, sample std (n - 1; NaN for n < 2) and count of the non-NaN x. */
sx_agg sx_aggregate(const double *x, int n)
{
    sx_agg a = {NAN, NAN, 0};
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

static int run_passes(const cli_suite_output *o, const cli_suite_run *r)
{
    for (int i = 0; i < o->n_where; i++)
        if (!o->where_ok[i][r->vi[o->where_axis[i]]]) return 0;
    return 1;
}

/* A sort key of a group from the positions of its values in the where lists. */
static long where_order(const cli_suite_output *o, const sx_group *g)
{
    long key = 0;
    for (int i = 0; i < o->n_where; i++) key = key * 256 + o->where_pos[i][g->vi[o->where_axis[i]]];
    return key;
}

int sx_build_groups(const cli_suite *s, const cli_suite_output *o, const int *axes, int n_axes,
                    sx_group **out)
{
    sx_group *g = xcalloc((size_t)s->n_runs, sizeof *g);
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
        sx_group t = g[i];
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

void sx_groups_free(sx_group *g, int n)
{
    for (int i = 0; i < n; i++) free(g[i].runs);
    free(g);
}

void sx_group_label(const cli_suite *s, const int *axes, int n_axes, const int *vi, char *buf,
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
sx_agg sx_group_metric(sx_report_ctx *c, const sx_group *g, int col, int cv,
                       const cli_suite_metric *m)
{
    double *x = xcalloc((size_t)g->n, sizeof *x);
    int n = 0;
    for (int i = 0; i < g->n; i++) {
        int r = g->runs[i];
        if (!c->rc[r].done) continue;
        if (col >= 0 && c->s->runs[r].vi[col] != cv) continue;
        x[n++] = sx_metric_value(c, r, m);
    }
    sx_agg a = sx_aggregate(x, n);
    free(x);
    return a;
}

sx_agg sx_group_contrast(sx_report_ctx *c, const sx_group *g, int col, int cv, int axis, int a,
                         int b, const cli_suite_metric *m)
{
    const cli_suite *s = c->s;
    double *x = xcalloc((size_t)g->n, sizeof *x);
    int n = 0;
    for (int i = 0; i < g->n; i++) {
        int r = g->runs[i];
        const int *va = s->runs[r].vi;
        if (!c->rc[r].done || va[axis] != a || (col >= 0 && va[col] != cv)) continue;
        for (int j = 0; j < g->n; j++) {
            int q = g->runs[j];
            const int *vb = s->runs[q].vi;
            if (!c->rc[q].done || vb[axis] != b) continue;
            int same = 1;
            for (int k = 0; k < s->n_axes && same; k++) same = k == axis || va[k] == vb[k];
            if (!same) continue;
            x[n++] = sx_metric_value(c, r, m) - sx_metric_value(c, q, m);
            break;
        }
    }
    sx_agg ag = sx_aggregate(x, n);
    free(x);
    return ag;
}

int sx_kept_values(const cli_suite *s, const cli_suite_output *o, int a)
{
    int kept = 0;
    for (int k = 0; k < s->axes[a].n; k++) {
        int ok = 1;
        for (int w = 0; o && w < o->n_where; w++)
            if (o->where_axis[w] == a && !o->where_ok[w][k]) ok = 0;
        kept += ok;
    }
    return kept;
}

void sx_aggregate_text(const cli_suite *s, const cli_suite_output *o, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int a = 0; a < s->n_axes; a++) {
        if (!s->axes[a].aggregate) continue;
        int n = sx_kept_values(s, o, a);
        int w = snprintf(buf + used, len - used, "%s%d %s%s", used ? " x " : "", n, s->axes[a].key,
                         n == 1 ? "" : "s");
        if (w > 0 && (size_t)w < len - used) used += (size_t)w;
    }
    if (!used) snprintf(buf, len, "1 run");
}
