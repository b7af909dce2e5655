/* suite_table.c - experiment suites: the [table NAME] kinds.  Each kind is
 * a row of sx_table_kinds: its keys, its parse-time check (prints
 * FILE:LINE: KEY problems) and its report-time writer (OUT/tables/NAME.tsv,
 * .md and .tex, and the table in REPORT.md).  Adding a kind: a check and a
 * write function here and a row in the table.
 */
#include "suite_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int check_table_summary(cli_suite *s, cli_suite_output *o)
{
    int problems = sx_parse_where(s, o) + sx_parse_digits_bools(s, o), mask, line;
    problems += sx_parse_values_mask(s, o, "values", 3, 0, &mask);
    sx_strlist l;
    if (sx_out_needed_list(s, o, "metrics", ',', "test_acc, test_nll",
                           "not a comma-separated list of metrics", &l, &line))
        return problems + 1;
    o->metrics = xcalloc(2 * CLI_SUITE_MAX_LIST, sizeof *o->metrics);
    for (int i = 0; i < l.n; i++)
        problems += sx_parse_metric(s, line, "metrics", l.item[i], mask, o->metrics,
                                    2 * CLI_SUITE_MAX_LIST, &o->n_metrics);
    sx_strlist_free(&l);
    const char *labels = sx_out_value(o, "labels", &line);
    if (labels && !problems) {
        if (sx_strlist_split(&l, labels, '|'))
            return problems +
                   sx_bad(s, line, "labels", "expected LABEL | LABEL ... (no empty label)");
        if (l.n != o->n_metrics)
            problems += sx_bad(s, line, "labels",
                               "%d labels for %d metric columns (test_acc counts twice with values "
                               "= final, best)",
                               l.n, o->n_metrics);
        for (int i = 0; i < l.n && i < o->n_metrics; i++)
            snprintf(o->metrics[i].label, sizeof o->metrics[i].label, "%s", l.item[i]);
        sx_strlist_free(&l);
    }
    int cols[CLI_SUITE_MAX_AXES], nc = 0;
    problems += sx_parse_axes(s, o, "cols", cols, &nc);
    o->col = -1;
    if (nc > 1) problems += sx_bad(s, line, "cols", "one axis at most");
    if (nc == 1) {
        o->col = cols[0];
        sx_out_value(o, "cols", &line);
        if (s->axes[o->col].aggregate)
            problems += sx_bad(s, line, "cols", "'%s' is averaged over", s->axes[o->col].key);
        if (sx_where_fixed(o, o->col))
            problems += sx_bad(s, line, "cols", "'%s' is fixed by where", s->axes[o->col].key);
    }
    return problems + sx_rows_default_and_cover(s, o, "rows", o->col);
}

/* "0.9512 ± 0.0031", "(n=1)" when fewer runs than replicates, "–" for none. */
static void fmt_cell(FILE *f, sx_agg a, int digits, int replicates, int tex)
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

static mg_status write_table_summary(sx_report_ctx *c, const cli_suite_output *o)
{
    const cli_suite *s = c->s;
    sx_group *g;
    int ng = sx_build_groups(s, o, o->rows, o->n_rows, &g);
    int ncv = o->col >= 0 ? s->axes[o->col].n : 1;
    sx_agg *cells = xcalloc((size_t)ng * (size_t)ncv * (size_t)o->n_metrics, sizeof *cells);
    for (int k = 0; k < ng; k++)
        for (int cv = 0; cv < ncv; cv++)
            for (int m = 0; m < o->n_metrics; m++)
                cells[((size_t)k * ncv + cv) * o->n_metrics + m] =
                    sx_group_metric(c, &g[k], o->col, cv, &o->metrics[m]);
    char agg[256];
    sx_aggregate_text(s, o, agg, sizeof agg);
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
            sx_tsv_cell(t.f, s->axes[o->rows[i]].values[g[k].vi[o->rows[i]]]);
        }
        for (int j = 0; j < ncv * o->n_metrics; j++) {
            sx_agg a = cells[(size_t)k * ncv * o->n_metrics + j];
            if (o->n_rows || j) fputc('\t', t.f);
            sx_tsv_num(t.f, a.mean);
            fputc('\t', t.f);
            sx_tsv_num(t.f, a.std);
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
        sx_md_cell(md.f,
                   o->rows[i] == s->method_axis ? "Method" : sx_axis_label(&s->axes[o->rows[i]]));
        fputs(" |", md.f);
    }
    for (int cv = 0; cv < ncv; cv++)
        for (int m = 0; m < o->n_metrics; m++) {
            fputc(' ', md.f);
            if (o->col >= 0) {
                sx_md_cell(md.f, s->axes[o->col].labels[cv]);
                fputs(": ", md.f);
            }
            sx_md_cell(md.f, o->metrics[m].label);
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
            sx_md_cell(md.f, o->rows[i] == s->method_axis ? ax->labels[g[k].vi[o->rows[i]]]
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
    sx_tex_text(x.f, o->caption ? o->caption : title);
    fprintf(x.f, " (mean $\\pm$ std over %s)\n\\begin{tabular}{", agg);
    for (int i = 0; i < o->n_rows; i++) fputc('l', x.f);
    for (int j = 0; j < ncv * o->n_metrics; j++) fputc('r', x.f);
    fputs("}\n\\toprule\n", x.f);
    for (int i = 0; i < o->n_rows; i++) {
        if (i) fputs(" & ", x.f);
        sx_tex_text(x.f,
                    o->rows[i] == s->method_axis ? "Method" : sx_axis_label(&s->axes[o->rows[i]]));
    }
    for (int cv = 0; cv < ncv; cv++)
        for (int m = 0; m < o->n_metrics; m++) {
            if (o->n_rows || cv || m) fputs(" & ", x.f);
            if (o->col >= 0) {
                sx_tex_text(x.f, s->axes[o->col].labels[cv]);
                fputs(": ", x.f);
            }
            sx_tex_text(x.f, o->metrics[m].label);
        }
    fputs(" \\\\\n\\midrule\n", x.f);
    for (int k = 0; k < ng; k++) {
        for (int i = 0; i < o->n_rows; i++) {
            const cli_suite_axis *ax = &s->axes[o->rows[i]];
            if (i) fputs(" & ", x.f);
            sx_tex_text(x.f, o->rows[i] == s->method_axis ? ax->labels[g[k].vi[o->rows[i]]]
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
    sx_groups_free(g, ng);
    return st;
}

/* ---------------------------------------------------------------- the kinds */

const sx_output_kind sx_table_kinds[] = {
    {"summary", "mean +- std (n) over seeds of final/best metrics, one row per group",
     "metrics values labels rows cols where digits title caption", check_table_summary,
     write_table_summary},
};
const int sx_n_table_kinds = (int)(sizeof sx_table_kinds / sizeof sx_table_kinds[0]);
