/* suite_claim.c - experiment suites: the claims.  A [claim NAME] section is
 * parsed and checked here (its metric, expect chains, by, where, noise and
 * tolerances, the figures and tables it names), evaluated on the runs
 * (every cell, every comparison, with the verdict rule of suite.h), and
 * written out: its section of REPORT.md, its row in the summary tables
 * (REPORT.md and the combined report) and claims.tsv.
 */
#include "suite_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- claims */

static const char k_claim_keys[] = "text paper predicted metric label expect by where show labels "
                                   "figure table noise tol rtol min-n digits note contrast";

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

/* The relation the data show between A and B, for the claims' summary: the
 * expected one when the comparison holds, "≈" when it is inside the noise,
 * the sign of the difference of the means when it does not hold, "vs"
 * without data.  v is the verdict before the min-n rule, so a group with
 * too few runs still shows which way its means point. */
static const char *measured_rel(cli_suite_cmp c, sx_verdict v, sx_agg a, sx_agg b)
{
    switch (v) {
    case SX_HOLDS: return sx_cmp_text(c);
    case SX_INCONCLUSIVE: return "≈";
    case SX_FAILS: return a.mean < b.mean ? "<" : a.mean > b.mean ? ">" : "=";
    default: return "vs";
    }
}

/* A number >= lo from key (default def). */
static int claim_number(cli_suite *s, const cli_suite_output *o, const char *key, double def,
                        double lo, double *out)
{
    int line;
    const char *v = sx_out_value(o, key, &line);
    *out = def;
    if (!v) return 0;
    if (!sx_parse_double_text(v, out) || *out < lo)
        return sx_bad(s, line, key, "expected a number >= %g", lo);
    return 0;
}

/* figure = A, B / table = A: names of sections of the suite. */
static int claim_refs(cli_suite *s, const cli_suite_output *o, const char *key, const char *kind,
                      const char **names, int *n)
{
    int line;
    sx_strlist l;
    *n = 0;
    int problems = sx_out_list(s, o, key, ',', "expected NAME, NAME ...", &l, &line);
    for (int i = 0; i < l.n; i++) {
        const cli_ini_section *sec = sx_find_section(s, kind, l.item[i]);
        if (!sec)
            problems += sx_bad(s, line, key, "no [%s %s] in this suite", kind, l.item[i]);
        else if (*n < 8)
            names[(*n)++] = sec->name;
        else
            problems += sx_bad(s, line, key, "at most 8 names");
    }
    sx_strlist_free(&l);
    return problems;
}

/* The index of name among the values of axis a, -1 if none. */
static int axis_value(const cli_suite *s, int a, const char *name)
{
    for (int k = 0; k < s->axes[a].n; k++)
        if (!strcmp(s->axes[a].values[k], name)) return k;
    return -1;
}

/* contrast = A - B: two values of one axis (the method axis first) that is
 * neither `by` nor aggregated nor leaves A or B out by where.  Under --quick
 * a value that quick.AXIS dropped has no data (vi -1). */
static int parse_contrast(cli_suite *s, cli_suite_claim *c, const char *v, int line)
{
    cli_suite_output *o = &c->o;
    sx_strlist w;
    if (sx_strlist_words(&w, v) != 0 || w.n != 3 || strcmp(w.item[1], "-") != 0 ||
        !strcmp(w.item[0], w.item[2])) {
        if (w.n) sx_strlist_free(&w);
        return sx_bad(s, line, "contrast",
                      "expected A - B (two different values of one axis, blanks around -)");
    }
    int problems = 0, axis = -1;
    const char *ab[2] = {w.item[0], w.item[2]};
    /* the axis that has both values, else the first that has one of them */
    for (int pass = 0; pass < 2 && axis < 0; pass++)
        for (int t = -1; t < s->n_axes && axis < 0; t++) {
            int a = t < 0 ? s->method_axis : t;
            if (a < 0 || s->axes[a].aggregate) continue;
            int n = (axis_value(s, a, ab[0]) >= 0) + (axis_value(s, a, ab[1]) >= 0);
            if (n == 2 - pass) axis = a;
        }
    if (axis < 0 && s->quick && s->method_axis >= 0 && sx_is_name(ab[0]) && sx_is_name(ab[1]))
        axis = s->method_axis;
    if (axis < 0) {
        problems += sx_bad(s, line, "contrast",
                           "neither '%s' nor '%s' is a value of an axis that is not averaged over",
                           ab[0], ab[1]);
    } else if (axis == c->by) {
        problems += sx_bad(s, line, "contrast",
                           "'%s' is also the by axis (a contrast compares along another axis)",
                           s->axes[axis].key);
    } else {
        for (int i = 0; i < 2; i++) {
            int vi = axis_value(s, axis, ab[i]);
            snprintf(c->contrast_names[i], sizeof c->contrast_names[i], "%s", ab[i]);
            c->contrast_vi[i] = vi;
            if (vi < 0 && !(s->quick && sx_is_name(ab[i])))
                problems += sx_bad(s, line, "contrast", "'%s' is not a value of the axis %s",
                                   ab[i], s->axes[axis].key);
            for (int k = 0; vi >= 0 && k < o->n_where; k++)
                if (o->where_axis[k] == axis && !o->where_ok[k][vi])
                    problems += sx_bad(s, line, "contrast", "'%s' is left out by where", ab[i]);
        }
        c->contrast_axis = axis;
    }
    sx_strlist_free(&w);
    return problems;
}

static int parse_claim(cli_suite *s, const cli_ini_section *sec, cli_suite_claim *c)
{
    cli_suite_output *o = &c->o;
    c->name = o->name = sec->name;
    c->line = o->line = sec->line;
    o->sec = sec;
    o->col = -1;
    int problems = 0, line;
    for (int i = 0; i < sec->n; i++)
        if (!sx_word_in(k_claim_keys, sec->e[i].key))
            problems += sx_bad(s, sec->e[i].line, sec->e[i].key,
                               "unknown key in [claim %s] (expected: %s)", sec->name, k_claim_keys);
    if (problems) return problems;
    problems += sx_parse_where(s, o) + sx_parse_digits_bools(s, o);
    c->text = sx_out_value(o, "text", NULL);
    c->paper = sx_out_value(o, "paper", NULL);
    c->predicted = sx_out_value(o, "predicted", NULL);
    c->note = sx_out_value(o, "note", NULL);
    if (!c->text)
        problems += sx_bad(s, sec->line, NULL, "[claim %s]: text missing (the paper's statement)",
                           sec->name);
    /* the metric, then the show columns */
    o->metrics = xcalloc(CLI_SUITE_MAX_LIST + 1, sizeof *o->metrics);
    const char *v = sx_out_value(o, "metric", &line);
    if (!v)
        problems += sx_bad(s, sec->line, NULL,
                           "[claim %s]: metric missing (metric = final.test_acc, or "
                           "FILE:JSON.PATH ...)",
                           sec->name);
    else
        problems += sx_parse_metric(s, line, "metric", v, 1, o->metrics, 1, &o->n_metrics);
    const char *lab = sx_out_value(o, "label", &line);
    if (lab && o->n_metrics) snprintf(o->metrics[0].label, sizeof o->metrics[0].label, "%s", lab);
    v = sx_out_value(o, "show", &line);
    if (v) {
        sx_strlist l;
        if (sx_strlist_split(&l, v, ','))
            problems += sx_bad(s, line, "show", "not a comma-separated list of metrics");
        for (int i = 0; i < l.n; i++)
            problems += sx_parse_metric(s, line, "show", l.item[i], 1, o->metrics,
                                        CLI_SUITE_MAX_LIST + 1, &o->n_metrics);
        sx_strlist_free(&l);
        const char *labels = sx_out_value(o, "labels", &line);
        if (labels && !problems) {
            if (sx_strlist_split(&l, labels, '|')) {
                problems +=
                    sx_bad(s, line, "labels", "expected LABEL | LABEL ... (no empty label)");
            } else {
                if (l.n != o->n_metrics - 1)
                    problems += sx_bad(s, line, "labels", "%d labels for %d show metrics", l.n,
                                       o->n_metrics - 1);
                for (int i = 0; i < l.n && i + 1 < o->n_metrics; i++)
                    snprintf(o->metrics[i + 1].label, sizeof o->metrics[i + 1].label, "%s",
                             l.item[i]);
                sx_strlist_free(&l);
            }
        }
    } else if (sx_out_value(o, "labels", &line)) {
        problems += sx_bad(s, line, "labels", "labels name the show metrics; there is no show");
    }
    /* by */
    c->by = s->method_axis;
    v = sx_out_value(o, "by", &line);
    if (v) {
        if (!strcmp(v, "none")) {
            c->by = -1;
        } else if ((c->by = sx_axis_index(s, v)) < 0) {
            problems += sx_bad(s, line, "by", "'%s' is not a [grid] axis (or none)", v);
        } else if (s->axes[c->by].aggregate) {
            problems += sx_bad(s, line, "by", "'%s' is averaged over (aggregate in [suite])", v);
        }
    }
    /* contrast */
    c->contrast_axis = -1;
    c->contrast = sx_out_value(o, "contrast", &line);
    if (c->contrast) problems += parse_contrast(s, c, c->contrast, line);
    /* the cells: every other free axis */
    o->n_rows = 0;
    for (int a = 0; a < s->n_axes; a++)
        if (a != c->by && a != c->contrast_axis && !s->axes[a].aggregate && !sx_where_fixed(o, a))
            o->rows[o->n_rows++] = a;
    /* expect */
    const char *ex = sx_out_value(o, "expect", &line);
    c->expect = ex;
    if (!ex) {
        problems += sx_bad(
            s, sec->line, NULL,
            "[claim %s]: expect missing (e.g. expect = manifold < none, or * < 1e-6)", sec->name);
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
            problems +=
                sx_bad(s, line, "expect",
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
                            sx_bad(s, line, "expect", "'%s' is not one of < <= > >= ==", w.item[i]);
                    continue;
                }
                cli_suite_operand *op = &c->operands[c->n_operands++];
                snprintf(op->text, sizeof op->text, "%s", w.item[i]);
                op->vi = c->by >= 0 ? axis_value(s, c->by, w.item[i]) : -1;
                if (op->vi >= 0) {
                    op->kind = 0;
                    groups++;
                    if (o->n_where) {
                        for (int k = 0; k < o->n_where; k++)
                            if (o->where_axis[k] == c->by && !o->where_ok[k][op->vi])
                                problems += sx_bad(s, line, "expect", "'%s' is left out by where",
                                                   w.item[i]);
                    }
                } else if (!strcmp(w.item[i], "*")) {
                    op->kind = 2;
                    groups++;
                } else if (sx_parse_double_text(w.item[i], &op->number)) {
                    op->kind = 1;
                } else if (c->by >= 0 && s->quick && sx_is_name(w.item[i])) {
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
                    problems +=
                        sx_bad(s, line, "expect",
                               "'%s' is neither a value of the axis %s (%s), a number nor *",
                               w.item[i], s->axes[c->by].key, names);
                } else {
                    problems += sx_bad(s, line, "expect",
                                       "'%s': with by = none an operand is * (the runs of a cell) "
                                       "or a number",
                                       w.item[i]);
                }
            }
            if (!groups)
                problems += sx_bad(s, line, "expect", "compares only numbers (name a group or *)");
            sx_strlist_free(&w);
        }
    }
    problems += claim_number(s, o, "noise", 2.0, 0.0, &c->noise);
    problems += claim_number(s, o, "tol", 0.0, 0.0, &c->tol);
    problems += claim_number(s, o, "rtol", 0.0, 0.0, &c->rtol);
    double mn;
    problems += claim_number(s, o, "min-n", 2.0, 1.0, &mn);
    c->min_n = (int)mn;
    if (mn != (int)mn) problems += sx_bad(s, line, "min-n", "expected an integer >= 1");
    if (!sx_out_value(o, "digits", NULL)) o->digits = 4;
    if (o->digits < 1) o->digits = 1;
    problems += claim_refs(s, o, "figure", "figure", c->figures, &c->n_figures);
    problems += claim_refs(s, o, "table", "table", c->tables, &c->n_tables);
    return problems;
}

int sx_parse_claims(cli_suite *s)
{
    int n = 0, problems = 0;
    for (int k = 0; k < s->n_sec; k++) n += !strcmp(s->sec[k].kind, "claim");
    s->claims = xcalloc((size_t)n, sizeof *s->claims);
    for (int k = 0; k < s->n_sec; k++)
        if (!strcmp(s->sec[k].kind, "claim"))
            problems += parse_claim(s, &s->sec[k], &s->claims[s->n_claims++]);
    return problems;
}

const char *sx_verdict_text(sx_verdict v)
{
    static const char *const t[] = {"holds", "does not hold", "inconclusive", "no data"};
    return t[v];
}

/* Verdict of a conjunction: fails if any part fails, holds if all hold, no
 * data if none has data, else inconclusive. */
static sx_verdict verdict_and(sx_verdict a, sx_verdict b)
{
    if (a == SX_FAILS || b == SX_FAILS) return SX_FAILS;
    if (a == SX_NODATA && b == SX_NODATA) return SX_NODATA;
    if (a == SX_HOLDS && b == SX_HOLDS) return SX_HOLDS;
    return SX_INCONCLUSIVE;
}

void sx_claim_eval_free(sx_claim_eval *e)
{
    free(e->table);
    free(e->checks);
    free(e->brief);
}

/* "0.9512 ± 0.0031 (n=2)" with significant digits. */
static void fmt_agg(FILE *f, sx_agg a, int digits, int replicates)
{
    if (a.n == 0) {
        fputs("–", f);
        return;
    }
    sx_fmt_g(f, a.mean, digits);
    if (a.n > 1) {
        fputs(" ± ", f);
        sx_fmt_g(f, a.std, digits > 2 ? 2 : digits);
    }
    if (a.n != replicates) fprintf(f, " (n=%d)", a.n);
}

/* One comparison A op B; a constant has n = -1. */
static sx_verdict compare(const cli_suite_claim *cl, cli_suite_cmp op, sx_agg A, sx_agg B,
                          double *d, double *margin, double *slack, const char **why,
                          sx_verdict *seen)
{
    *why = "";
    *seen = SX_NODATA;
    *d = *margin = *slack = NAN;
    if (A.n == 0 || B.n == 0 || isnan(A.mean) || isnan(B.mean)) {
        *why = "no finished run with this value";
        return SX_NODATA;
    }
    double se2 = 0.0;
    if (A.n > 1 && !isnan(A.std)) se2 += A.std * A.std / A.n;
    if (B.n > 1 && !isnan(B.std)) se2 += B.std * B.std / B.n;
    *d = A.mean - B.mean;
    *margin = cl->noise * sqrt(se2);
    double big = fabs(A.mean) > fabs(B.mean) ? fabs(A.mean) : fabs(B.mean);
    *slack = cl->tol + cl->rtol * big;
    double x = *d, m = *margin, t = *slack;
    sx_verdict v;
    switch (op) {
    case CLI_CMP_LT: v = x + m < -t ? SX_HOLDS : x - m >= -t ? SX_FAILS : SX_INCONCLUSIVE; break;
    case CLI_CMP_LE: v = x + m <= t ? SX_HOLDS : x - m > t ? SX_FAILS : SX_INCONCLUSIVE; break;
    case CLI_CMP_GT: v = x - m > t ? SX_HOLDS : x + m <= t ? SX_FAILS : SX_INCONCLUSIVE; break;
    case CLI_CMP_GE: v = x - m >= -t ? SX_HOLDS : x + m < -t ? SX_FAILS : SX_INCONCLUSIVE; break;
    default: v = fabs(x) + m <= t ? SX_HOLDS : fabs(x) - m > t ? SX_FAILS : SX_INCONCLUSIVE; break;
    }
    *seen = v;
    if (v == SX_INCONCLUSIVE) *why = "the difference is within the noise margin";
    if ((A.n > 0 && A.n < cl->min_n) || (B.n > 0 && B.n < cl->min_n)) {
        *why = v == SX_HOLDS   ? "direction as claimed, but "
               : v == SX_FAILS ? "direction against the claim, but "
                               : "within the noise margin, and ";
        v = SX_INCONCLUSIVE;
    }
    return v;
}

/* Metric m of the runs of a cell with the by axis at vi: aggregated over
 * the seeds, or the paired differences of a contrast. */
static sx_agg claim_metric(sx_report_ctx *c, const cli_suite_claim *cl, const sx_group *cell,
                           int vi, const cli_suite_metric *m)
{
    if (cl->contrast_axis < 0) return sx_group_metric(c, cell, cl->by, vi, m);
    if (cl->contrast_vi[0] < 0 || cl->contrast_vi[1] < 0) return (sx_agg){NAN, NAN, 0};
    return sx_group_contrast(c, cell, cl->by, vi, cl->contrast_axis, cl->contrast_vi[0],
                             cl->contrast_vi[1], m);
}

/* "Manifold Mixup - No mixup": the contrast in the axis' labels. */
static void contrast_label(FILE *f, const cli_suite *s, const cli_suite_claim *cl)
{
    const cli_suite_axis *ax = &s->axes[cl->contrast_axis];
    for (int i = 0; i < 2; i++) {
        int vi = cl->contrast_vi[i];
        if (i) fputs(" − ", f);
        fputs(vi >= 0 ? ax->labels[vi] : cl->contrast_names[i], f);
    }
}

/* A value of the summary's Measured column: `digits` digits, "–" without
 * data. */
static void brief_value(FILE *f, sx_agg a, int digits)
{
    if (a.n == 0 || isnan(a.mean))
        fputs("–", f);
    else
        sx_fmt_g(f, a.mean, digits);
}

/* The digits that tell two means of the Measured column apart: 3, or up to
 * 6 when two different means would print the same ("0.189 < 0.189"). */
static int brief_digits(sx_agg a, sx_agg b)
{
    int dg = 3;
    if (a.n == 0 || b.n == 0 || isnan(a.mean) || isnan(b.mean) || a.mean == b.mean) return dg;
    for (; dg < 6; dg++) {
        char x[64], y[64];
        sx_fmt_g_buf(x, sizeof x, a.mean, dg);
        sx_fmt_g_buf(y, sizeof y, b.mean, dg);
        if (strcmp(x, y)) break;
    }
    return dg;
}

static sx_agg operand_value(sx_report_ctx *c, const cli_suite_claim *cl, const sx_group *cell,
                            const cli_suite_operand *op, int each_vi)
{
    if (op->kind == 1) return (sx_agg){op->number, 0.0, -1};
    if (op->kind == 3) return (sx_agg){NAN, NAN, 0};
    int vi = op->kind == 0 ? op->vi : each_vi;
    return claim_metric(c, cl, cell, vi, &cl->o.metrics[0]);
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

void sx_claim_evaluate(sx_report_ctx *c, const cli_suite_claim *cl, sx_claim_eval *e)
{
    const cli_suite *s = c->s;
    const cli_suite_output *o = &cl->o;
    memset(e, 0, sizeof *e);
    sx_group *g;
    int ng = sx_build_groups(s, o, o->rows, o->n_rows, &g);
    int vis[CLI_SUITE_MAX_LIST], nv = claim_by_values(s, cl, vis);
    /* has_number: the summary says what the number is compared with */
    int has_each = 0, has_number = 0;
    for (int i = 0; i < cl->n_operands; i++) {
        has_each |= cl->operands[i].kind == 2;
        has_number |= cl->operands[i].kind == 1;
    }
    const int dg = o->digits;
    sx_membuf tb, ck, br;
    sx_mb_open(&tb);
    sx_mb_open(&ck);
    sx_mb_open(&br);
    /* measured table: header */
    fputc('|', tb.f);
    for (int i = 0; i < o->n_rows; i++) {
        fputc(' ', tb.f);
        sx_md_cell(tb.f,
                   o->rows[i] == s->method_axis ? "Method" : sx_axis_label(&s->axes[o->rows[i]]));
        fputs(" |", tb.f);
    }
    if (cl->by >= 0) {
        fputc(' ', tb.f);
        sx_md_cell(tb.f, cl->by == s->method_axis ? "Method" : sx_axis_label(&s->axes[cl->by]));
        fputs(" |", tb.f);
    }
    for (int m = 0; m < o->n_metrics; m++) {
        fputc(' ', tb.f);
        sx_md_cell(tb.f, o->metrics[m].label);
        if (cl->contrast_axis >= 0) {
            fputs(", ", tb.f);
            contrast_label(tb.f, s, cl);
        }
        fputs(m == 0 ? " (claim) |" : " |", tb.f);
    }
    fputs("\n|", tb.f);
    for (int i = 0; i < o->n_rows + (cl->by >= 0); i++) fputs(" --- |", tb.f);
    for (int m = 0; m < o->n_metrics; m++) fputs(" ---: |", tb.f);
    fputc('\n', tb.f);
    e->verdict = SX_NODATA;
    int first_brief = 1;
    /* the table shows the groups the claim names (all of them with a `*`) */
    unsigned char named[CLI_SUITE_MAX_LIST] = {0};
    for (int i = 0; i < cl->n_operands; i++)
        if (cl->operands[i].kind == 0) named[cl->operands[i].vi] = 1;
    for (int k = 0; k < ng; k++) {
        char cell[512];
        sx_group_label(s, o->rows, o->n_rows, g[k].vi, cell, sizeof cell);
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
                sx_md_cell(tb.f, o->rows[i] == s->method_axis ? ax->labels[g[k].vi[o->rows[i]]]
                                                              : ax->values[g[k].vi[o->rows[i]]]);
                fputs(" |", tb.f);
            }
            if (cl->by >= 0) {
                fputc(' ', tb.f);
                sx_md_cell(tb.f, s->axes[cl->by].labels[vis[j]]);
                fputs(" |", tb.f);
            }
            for (int m = 0; m < o->n_metrics; m++) {
                fputc(' ', tb.f);
                fmt_agg(tb.f, claim_metric(c, cl, &g[k], vis[j], &o->metrics[m]), dg,
                        s->replicates);
                fputs(" |", tb.f);
            }
            fputc('\n', tb.f);
        }
        /* the comparisons of this cell */
        sx_verdict cv = SX_NODATA;
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
                sx_agg a = operand_value(c, cl, &g[k], A, each),
                       b = operand_value(c, cl, &g[k], B, each);
                double d, margin, slack;
                const char *why;
                sx_verdict seen;
                sx_verdict v = compare(cl, cl->cmps[q], a, b, &d, &margin, &slack, &why, &seen);
                cv = first_sub && q == 0 ? v : verdict_and(cv, v);
                fputs("- ", ck.f);
                if (o->n_rows) fprintf(ck.f, "%s: ", cell);
                if (cl->contrast_axis >= 0) {
                    contrast_label(ck.f, s, cl);
                    fputs(", ", ck.f);
                }
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
                if (v != SX_NODATA) {
                    fputs(": difference ", ck.f);
                    sx_fmt_g(ck.f, d, dg);
                    fputs(", noise margin ", ck.f);
                    sx_fmt_g(ck.f, margin, 2);
                    if (slack > 0) {
                        fputs(", tolerance ", ck.f);
                        sx_fmt_g(ck.f, slack, 2);
                    }
                }
                fprintf(ck.f, " → **%s**", sx_verdict_text(v));
                if (*why) {
                    fprintf(ck.f, " (%s", why);
                    if (v != SX_NODATA &&
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
                    if (first_brief && cl->contrast_axis >= 0) {
                        fprintf(br.f, "%s, ", o->metrics[0].label); /* as its table's column */
                        contrast_label(br.f, s, cl);
                        fputs(": ", br.f);
                    } else if (first_brief && has_number) {
                        fprintf(br.f, "%s: ", o->metrics[0].label);
                    }
                    if (ng > 1 && first_sub && q == 0) fprintf(br.f, "%s: ", cell);
                    first_brief = 0;
                    int bd = brief_digits(a, b);
                    if (chain_start) {
                        fprintf(br.f, "%s", operand_label(s, cl, A, each));
                        if (A->kind != 1) {
                            fputc(' ', br.f);
                            brief_value(br.f, a, bd);
                        }
                    }
                    const char *rel = measured_rel(cl->cmps[q], seen, a, b);
                    fprintf(br.f, " %s %s", rel, operand_label(s, cl, B, each));
                    if (B->kind != 1) {
                        fputc(' ', br.f);
                        brief_value(br.f, b, bd);
                    }
                    if (strcmp(rel, sx_cmp_text(cl->cmps[q])))
                        fprintf(br.f, " (expected %s)", sx_cmp_text(cl->cmps[q]));
                }
            }
            first_sub = 0;
        }
        if (k == 4) fprintf(br.f, "; ... (%d cells)", ng);
        e->cells[cv]++;
        e->verdict = k == 0 ? cv : verdict_and(e->verdict, cv);
    }
    sx_groups_free(g, ng);
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

void sx_claim_render(FILE *f, sx_report_ctx *c, const cli_suite_claim *cl, const sx_claim_eval *e,
                     const char *prefix)
{
    const cli_suite *s = c->s;
    char anchor[300], agg[256];
    claim_anchor(s, cl, anchor, sizeof anchor);
    sx_aggregate_text(s, NULL, agg, sizeof agg);
    fprintf(f, "<a id=\"%s\"></a>\n### Claim %s: %s\n\n", anchor, cl->name,
            sx_verdict_text(e->verdict));
    fprintf(f, "> %s\n\n", cl->text);
    if (cl->paper) fprintf(f, "- **Paper:** %s\n", cl->paper);
    fprintf(f, "- **Predicted:** %s%s`%s` on *%s*", cl->predicted ? cl->predicted : "",
            cl->predicted ? "; checked as " : "", cl->expect, cl->o.metrics[0].label);
    if (cl->contrast_axis >= 0) {
        fputs(", the paired difference ", f);
        contrast_label(f, s, cl);
        fputs(" (every run of the first paired with the run of the second that has the same "
              "values on all other axes: the same seed",
              f);
        if (strcmp(agg, "1 run") != 0)
            fprintf(f,
                    "; mean ± std over the %s of the differences; a difference counts when it "
                    "exceeds %g standard errors",
                    agg, cl->noise);
    } else if (strcmp(agg, "1 run") != 0)
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
    fprintf(f, "- **Verdict: %s**", sx_verdict_text(e->verdict));
    if (nc > 1)
        fprintf(f, " (%d cells: %d hold, %d do not hold, %d inconclusive, %d without data)", nc,
                e->cells[SX_HOLDS], e->cells[SX_FAILS], e->cells[SX_INCONCLUSIVE],
                e->cells[SX_NODATA]);
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
void sx_claims_summary_rows(FILE *f, sx_report_ctx *c, const sx_claim_eval *ev, const char *prefix,
                            int with_suite)
{
    const cli_suite *s = c->s;
    for (int i = 0; i < s->n_claims; i++) {
        char anchor[300];
        claim_anchor(s, &s->claims[i], anchor, sizeof anchor);
        fprintf(f, "| [%s](#%s) |", s->claims[i].name, anchor);
        if (with_suite) fprintf(f, " [%s](%sREPORT.md) |", s->name, prefix);
        fputc(' ', f);
        sx_md_cell(f, s->claims[i].text);
        fprintf(f, " | **%s** | ", sx_verdict_text(ev[i].verdict));
        sx_md_cell(f, ev[i].brief);
        fputs(" |\n", f);
    }
}

mg_status sx_write_claims_tsv(sx_report_ctx *c, const sx_claim_eval *ev)
{
    const cli_suite *s = c->s;
    sx_membuf t;
    sx_mb_open(&t);
    fprintf(t.f,
            "%s\n# columns: claim verdict cells_hold cells_fail cells_inconclusive cells_nodata "
            "text\n",
            c->prov);
    for (int i = 0; i < s->n_claims; i++) {
        fprintf(t.f, "%s\t%s\t%d\t%d\t%d\t%d\t", s->claims[i].name, sx_verdict_text(ev[i].verdict),
                ev[i].cells[0], ev[i].cells[1], ev[i].cells[2], ev[i].cells[3]);
        sx_tsv_cell(t.f, s->claims[i].text);
        fputc('\n', t.f);
    }
    char path[4400];
    snprintf(path, sizeof path, "%s/claims.tsv", s->out);
    return sx_mb_write(&t, path);
}
