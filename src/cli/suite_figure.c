/* suite_figure.c - experiment suites: the [figure NAME] kinds (curve, bar,
 * sweep, montage, heatmap).  Each kind is a row of sx_figure_kinds: its keys, its
 * parse-time check and its report-time writer, which writes
 * OUT/figures/NAME.tsv (the data) and NAME.gp (a gnuplot script in the house
 * style of gp.h that reads it), renders it to PNG and PDF when gnuplot is on
 * the PATH, and adds the figure to REPORT.md.  Adding a kind: a check and a
 * write function here and a row in the table.  The kinds made of panels
 * (montage, heatmap) are in suite_panels.c.
 */
#include "suite_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gp.h"

static int check_curve(cli_suite *s, cli_suite_output *o)
{
    int problems = sx_parse_where(s, o) + sx_parse_digits_bools(s, o), line;
    o->col = -1;
    o->file = sx_out_value(o, "file", &line);
    if (!o->file && s->command == CLI_SUITE_STATES)
        return problems + sx_bad(s, o->line, NULL,
                                 "[figure %s]: file missing (a states run has no metrics.tsv; e.g. "
                                 "file = %s/spectra-rel.tsv)",
                                 o->name, CLI_SUITE_STATES_OUT);
    if (!o->file)
        o->file = "metrics.tsv";
    else if (!*o->file || o->file[0] == '/' || strstr(o->file, ".."))
        problems += sx_bad(s, line, "file", "a file relative to the run directory");
    o->x = sx_out_value(o, "x", &line);
    if (!o->x) o->x = "epoch";
    int ly;
    o->y = sx_out_value(o, "y", &ly);
    if (!o->y)
        return problems +
               sx_bad(s, o->line, NULL, "[figure %s]: y missing (y = test_acc)", o->name);
    if (!strcmp(o->file, "metrics.tsv")) {
        char cols[512] = "";
        for (const sx_name_label *c = sx_train_columns; c->name; c++)
            snprintf(cols + strlen(cols), sizeof cols - strlen(cols), "%s%s", *cols ? " " : "",
                     c->name);
        if (!sx_lookup_label(sx_train_columns, o->x))
            problems +=
                sx_bad(s, line, "x", "'%s' is not a column of metrics.tsv (%s)", o->x, cols);
        if (!sx_lookup_label(sx_train_columns, o->y))
            problems += sx_bad(s, ly, "y", "'%s' is not a column of metrics.tsv (%s)", o->y, cols);
    }
    return problems + sx_rows_default_and_cover(s, o, "group", -1);
}

/* The y metric of bar and sweep. */
static int check_y_metric(cli_suite *s, cli_suite_output *o)
{
    int mask, line;
    int problems = sx_parse_values_mask(s, o, "value", 1, 1, &mask);
    const char *y = sx_out_value(o, "y", &line);
    if (!y)
        return problems +
               sx_bad(s, o->line, NULL, "[figure %s]: y missing (y = test_acc)", o->name);
    o->metrics = xcalloc(2, sizeof *o->metrics);
    problems += sx_parse_metric(s, line, "y", y, mask, o->metrics, 2, &o->n_metrics);
    if (!problems && o->n_metrics != 1) problems += sx_bad(s, line, "y", "one metric");
    return problems;
}

static int check_bar(cli_suite *s, cli_suite_output *o)
{
    int problems = sx_parse_where(s, o) + sx_parse_digits_bools(s, o);
    o->col = -1;
    problems += check_y_metric(s, o);
    return problems + sx_rows_default_and_cover(s, o, "group", -1);
}

static int check_sweep(cli_suite *s, cli_suite_output *o)
{
    int problems = sx_parse_where(s, o) + sx_parse_digits_bools(s, o), line;
    problems += check_y_metric(s, o);
    o->col = -1;
    const char *x = sx_out_value(o, "x", &line);
    if (!x)
        return problems + sx_bad(s, o->line, NULL,
                                 "[figure %s]: x missing (a numeric grid axis, "
                                 "x = alpha)",
                                 o->name);
    int a = sx_axis_index(s, x);
    if (a < 0) return problems + sx_bad(s, line, "x", "'%s' is not a [grid] axis", x);
    if (!s->axes[a].numeric)
        problems += sx_bad(s, line, "x", "the axis '%s' has non-numeric values", x);
    if (s->axes[a].aggregate) problems += sx_bad(s, line, "x", "'%s' is averaged over", x);
    if (sx_where_fixed(o, a)) problems += sx_bad(s, line, "x", "'%s' is fixed by where", x);
    o->col = a;
    return problems + sx_rows_default_and_cover(s, o, "group", a);
}

/* ---------------------------------------------------------------- figures */

static const char k_gnuplot_log[] = "gnuplot.log";

mg_status sx_gnuplot_log_reset(const sx_report_ctx *c)
{
    char log[4400];
    snprintf(log, sizeof log, "%s/%s", c->figdir, k_gnuplot_log);
    if (remove(log) != 0 && errno != ENOENT) return mg_fail(MG_ERR_IO, "%s: %s", log, strerror(errno));
    return MG_OK;
}

/* Run gnuplot SCRIPT in dir (its output appended to dir/gnuplot.log). */
static int run_gnuplot(const char *dir, const char *script)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(126);
        int fd = open(k_gnuplot_log, O_WRONLY | O_CREAT | O_APPEND, 0644);
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

int sx_gnuplot_on_path(void)
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
    return sx_figure_rendered(c, o, title, has_data);
}

int sx_done_run_file(const sx_report_ctx *c, int r, const char *file, char *path, size_t len)
{
    if (!c->rc[r].done) return 0;
    char dir[4096];
    cli_suite_run_dir(c->s, &c->s->runs[r], dir, sizeof dir);
    snprintf(path, len, "%s/%s", dir, file);
    return 1;
}

mg_status sx_figure_rendered(sx_report_ctx *c, const cli_suite_output *o, const char *title,
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
            cli_error("figure %s: gnuplot failed (exit %d); see %s/%s", o->name, rc,
                      c->figdir, k_gnuplot_log);
            c->failures++;
        } else {
            char pdf[4400];
            snprintf(pdf, sizeof pdf, "%s/%s.pdf", c->figdir, o->name);
            cli_pdf_fix_date(pdf);
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
        double lo, hi;
        sx_parse_range_text(r[i], t, sizeof t, &lo, &hi); /* checked by sx_parse_digits_bools */
        gp_buf_printf(b, "set %crange [%s]\n", i ? 'y' : 'x', t);
    }
}

/* Line style of group k: the house colour of its method's mix mode (1 none,
 * 2 input, 3 manifold), dashed (+3) for a second group of the same mode,
 * then the class colours.  seen[3] counts the groups per mode.  Groups that
 * are not split by method (no method axis among o's group axes) take the
 * class colours 11, 12, ... */
static int group_ls(const cli_suite *s, const cli_suite_output *o, const sx_group *g, int k,
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

/* "shaded: ± 1 std over 2 seeds" (what the band or bars of a figure mean;
 * "" when nothing is averaged). */
static void band_text(char *buf, size_t len, const char *agg, const char *what)
{
    if (!strcmp(agg, "1 run"))
        buf[0] = '\0';
    else
        snprintf(buf, len, "%s: ± 1 std over %s", what, agg);
}

/* The same as a quoted gnuplot string. */
static char *band_note(char *buf, size_t len, const char *agg, const char *what)
{
    char t[512];
    band_text(t, sizeof t, agg, what);
    return gp_quote_text(buf, len, t);
}

/* While runs are missing, agg ("3 seeds") gets the counts the plotted values
 * have so far: "3 seeds; n = 1 so far" (n_lo..n_hi: the fewest and most runs
 * behind a point; nothing is added once every point has them all). */
static void agg_so_far(const cli_suite *s, const cli_suite_output *o, char *agg, size_t len,
                       int n_lo, int n_hi)
{
    int full = 1; /* the runs behind a point: the aggregated values that where keeps */
    for (int a = 0; a < s->n_axes; a++) {
        if (!s->axes[a].aggregate) continue;
        full *= sx_kept_values(s, o, a);
    }
    if (n_hi <= 0 || n_lo >= full) return;
    size_t used = strlen(agg);
    if (n_lo == n_hi)
        snprintf(agg + used, len - used, "; n = %d so far", n_lo);
    else
        snprintf(agg + used, len - used, "; n = %d-%d so far", n_lo, n_hi);
}

static void n_range(int n, int *lo, int *hi)
{
    if (n <= 0) return;
    if (*hi <= 0 || n < *lo) *lo = n;
    if (n > *hi) *hi = n;
}

static void write_agg_row(FILE *f, double x, sx_agg a)
{
    sx_tsv_num(f, x);
    fputc('\t', f);
    sx_tsv_num(f, a.mean);
    fputc('\t', f);
    sx_tsv_num(f, a.std);
    fprintf(f, "\t%d\t", a.n);
    sx_tsv_num(f, a.n > 1 ? a.std : 0.0);
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

static mg_status write_curve(sx_report_ctx *c, const cli_suite_output *o)
{
    const cli_suite *s = c->s;
    sx_group *g;
    int ng = sx_build_groups(s, o, o->rows, o->n_rows, &g);
    char agg[256], title[512], q[1200];
    sx_aggregate_text(s, o, agg, sizeof agg);
    const char *yl = y_label_of(o);
    const char *xl = o->xlabel ? o->xlabel
                     : sx_lookup_label(sx_train_columns, o->x)
                         ? sx_lookup_label(sx_train_columns, o->x)
                         : o->x;
    sx_membuf d;
    gp_buf setup, body;
    group_figure_open(c, o, agg, yl, xl, title, sizeof title, &d, &setup);
    gp_buf_init(&body);
    int block = 0, seen[3] = {0, 0, 0}, n_lo = 0, n_hi = 0;
    double xmax = -INFINITY;
    for (int k = 0; k < ng; k++) {
        int ls = group_ls(s, o, &g[k], k, seen);
        xy_point *pts = NULL;
        int n = 0, cap = 0;
        for (int i = 0; i < g[k].n; i++) {
            int r = g[k].runs[i];
            char path[4400];
            if (sx_done_run_file(c, r, o->file, path, sizeof path))
                read_tsv_points(path, o->x, o->y, r, &pts, &n, &cap);
        }
        if (n == 0) {
            free(pts);
            continue;
        }
        qsort(pts, (size_t)n, sizeof *pts, cmp_points);
        char label[512];
        sx_group_label(s, o->rows, o->n_rows, g[k].vi, label, sizeof label);
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
            sx_agg a = sx_aggregate(vals, nv);
            n_range(a.n, &n_lo, &n_hi);
            write_agg_row(d.f, pts[i].x, a);
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
    agg_so_far(s, o, agg, sizeof agg, n_lo, n_hi);
    if (o->key)
        gp_buf_printf(&setup, "set key %s title %s\n", o->key,
                      band_note(q, sizeof q, agg, "shaded"));
    else
        gp_buf_printf(&setup, "set key %s right title %s\n", strstr(o->y, "acc") ? "bottom" : "top",
                      band_note(q, sizeof q, agg, "shaded"));
    if (!strcmp(o->x, "epoch") && xmax <= 12) gp_buf_printf(&setup, "set xtics 1\n");
    sx_groups_free(g, ng);
    return figure_finish(c, o, &d, &setup, &body, title, block > 0);
}

/* A bar's tic label, in gnuplot syntax: a label longer than 16 characters
 * goes on two lines, split at the space that makes the longer line shortest
 * (a space before "(" counts 6 characters shorter, so a qualifier in
 * parentheses gets a line of its own).  Returns the longer line's length. */
static size_t bar_tic(gp_buf *b, const char *label)
{
    size_t n = strlen(label), best = 0, best_cost = n;
    char q[600];
    if (n > 16)
        for (size_t i = 1; i + 1 < n; i++) {
            if (label[i] != ' ') continue;
            size_t len = i > n - i - 1 ? i : n - i - 1;
            size_t cost = label[i + 1] == '(' && len > 6 ? len - 6 : len;
            if (cost < best_cost) best_cost = cost, best = i;
        }
    if (!best) {
        gp_buf_printf(b, "%s", gp_quote(q, sizeof q, label));
        return n;
    }
    char head[512];
    snprintf(head, sizeof head, "%.*s", (int)best, label);
    gp_buf_printf(b, "%s . \"\\n\" . ", gp_quote(q, sizeof q, head));
    gp_buf_printf(b, "%s", gp_quote(q, sizeof q, label + best + 1));
    return best > n - best - 1 ? best : n - best - 1;
}

static mg_status write_bar(sx_report_ctx *c, const cli_suite_output *o)
{
    const cli_suite *s = c->s;
    sx_group *g;
    int ng = sx_build_groups(s, o, o->rows, o->n_rows, &g);
    char agg[256], title[512];
    sx_aggregate_text(s, o, agg, sizeof agg);
    const char *yl = y_label_of(o);
    snprintf(title, sizeof title, "%c%s (mean ± std over %s)", toupper((unsigned char)yl[0]),
             yl + 1, agg);
    if (o->title) snprintf(title, sizeof title, "%s", o->title);
    sx_membuf d;
    sx_mb_open(&d);
    fprintf(d.f, "%s figure=%s\n# err = std, 0 when n < 2\n# columns: index group mean std n err\n",
            c->prov, o->name);
    gp_buf setup, body, tics;
    gp_buf_init(&body);
    gp_buf_init(&tics);
    int has = 0, negative = 0, seen[3] = {0, 0, 0}, n_lo = 0, n_hi = 0, wrapped = 0;
    size_t longest = 0, last = 0;
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
        sx_group_label(s, o->rows, o->n_rows, g[k].vi, label, sizeof label);
        sx_agg a = sx_group_metric(c, &g[k], -1, 0, &o->metrics[0]);
        fprintf(d.f, "%d\t", k);
        sx_tsv_cell(d.f, label);
        fputc('\t', d.f);
        sx_tsv_num(d.f, a.mean);
        fputc('\t', d.f);
        sx_tsv_num(d.f, a.std);
        fprintf(d.f, "\t%d\t", a.n);
        sx_tsv_num(d.f, a.n > 1 ? a.std : 0.0);
        fputc('\n', d.f);
        has |= a.n > 0;
        n_range(a.n, &n_lo, &n_hi);
        negative |= a.n > 0 && a.mean < 0;
        gp_buf_printf(&tics, k ? ", " : "set xtics (");
        last = bar_tic(&tics, label);
        wrapped |= last < strlen(label);
        gp_buf_printf(&tics, " %d", k);
        if (last > longest) longest = last;
        /* one element per bar, in its group's colour */
        gp_buf_printf(&body, "%s'%s.tsv' every ::%d::%d using 1:3 with boxes ls %d notitle",
                      k ? ", \\\n  " : "plot ", o->name, k, k,
                      seen[0] == 99 ? gp_class_ls(k) : group_ls(s, o, &g[k], k, seen));
    }
    if (ng) gp_buf_printf(&tics, ")\n");
    char note[512]; /* the x label says what the error bars are */
    agg_so_far(s, o, agg, sizeof agg, n_lo, n_hi);
    band_text(note, sizeof note, agg, "error bars");
    gp_setup(&setup, o, title, note, yl);
    if (ng)
        gp_buf_printf(&body,
                      ", \\\n  '%s.tsv' using 1:3:6 with yerrorbars lc rgb \"#202020\" "
                      "lw 1.2 pt 7 ps 0.5 notitle\n",
                      o->name);
    gp_buf_printf(&setup,
                  "unset key\nset boxwidth 0.6\nset style fill solid 0.75 border -1\n"
                  "set xtics noenhanced\n%s"
                  "set xrange [-0.6:%g]\n",
                  tics.s ? tics.s : "", ng - 0.4);
    setup.failed |= tics.failed; /* out of memory: the figure fails, not a wrong axis */
    gp_buf_free(&tics);
    if (!negative && !o->yrange) gp_buf_printf(&setup, "set yrange [0:*]\n");
    /* level labels while the longest line fits under a bar (about 80
     * characters share the width: 20 under each of 4 bars, 26 under each of
     * 3; in the PNG and in the PDF alike).  Rotated labels run down
     * to the right: room on the right for the last one's longer line (0.72
     * character widths a character, at -25 degrees), else gnuplot cuts it
     * at the border of the canvas */
    if (ng > 4 || longest * (size_t)ng > 80) {
        gp_buf_printf(&setup, "set xtics rotate by -25\n");
        if (last > 8) gp_buf_printf(&setup, "set rmargin %d\n", (int)(0.72 * (double)last + 1.0));
    } else if (wrapped) {
        /* gnuplot leaves room for one line of level tic labels: the x label
         * goes a line lower, below the second */
        gp_buf_printf(&setup, "set xlabel offset 0,-1\n");
    }
    sx_groups_free(g, ng);
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

/* A sweep's x axis: tics at the axis values that where keeps (at most 12)
 * and, without an xrange, a range a little wider than them, so that no point
 * sits on the border, a log axis does not stretch to whole decades (30, 100,
 * 300 epochs: [24:380], not [10:1000]) and the axis stays the same while the
 * runs of a value are still missing. */
static void sweep_x_axis(gp_buf *setup, const cli_suite_output *o, const cli_suite_axis *xa,
                         const int *order)
{
    double lo = INFINITY, hi = -INFINITY, v[CLI_SUITE_MAX_LIST];
    int n = 0;
    for (int i = 0; i < xa->n; i++) {
        int keep = 1;
        for (int k = 0; k < o->n_where; k++)
            if (o->where_axis[k] == o->col && !o->where_ok[k][order[i]]) keep = 0;
        if (!keep) continue;
        v[n] = strtod(xa->values[order[i]], NULL);
        if (o->logx && !(v[n] > 0)) return; /* gnuplot drops it: leave the axis alone */
        if (v[n] < lo) lo = v[n];
        if (v[n] > hi) hi = v[n];
        n++;
    }
    if (!n) return;
    if (n <= 12) {
        gp_buf_printf(setup, "set xtics (");
        for (int i = 0; i < n; i++) gp_buf_printf(setup, "%s%.9g", i ? ", " : "", v[i]);
        gp_buf_printf(setup, ")\nset mxtics 1\n");
    }
    if (o->xrange) return;
    if (o->logx) {
        double f = hi > lo ? pow(hi / lo, 0.08) : 1.5;
        gp_buf_printf(setup, "set xrange [%.9g:%.9g]\n", lo / f, hi * f);
    } else {
        double pad = hi > lo ? 0.06 * (hi - lo) : (lo != 0 ? 0.1 * fabs(lo) : 1.0);
        gp_buf_printf(setup, "set xrange [%.9g:%.9g]\n", lo - pad, hi + pad);
    }
}

static mg_status write_sweep(sx_report_ctx *c, const cli_suite_output *o)
{
    const cli_suite *s = c->s;
    const cli_suite_axis *xa = &s->axes[o->col];
    sx_group *g;
    int ng = sx_build_groups(s, o, o->rows, o->n_rows, &g);
    int order[CLI_SUITE_MAX_LIST];
    for (int i = 0; i < xa->n; i++) order[i] = i;
    g_sort_axis_suite = s;
    g_sort_axis_vals_axis = o->col;
    qsort(order, (size_t)xa->n, sizeof order[0], cmp_axis_numeric);
    char agg[256], title[512], q[1200];
    sx_aggregate_text(s, o, agg, sizeof agg);
    const char *yl = y_label_of(o);
    const char *xl = o->xlabel ? o->xlabel : sx_axis_label(xa);
    sx_membuf d;
    gp_buf setup, body;
    group_figure_open(c, o, agg, yl, xl, title, sizeof title, &d, &setup);
    gp_buf_init(&body);
    int block = 0, seen[3] = {0, 0, 0}, n_lo = 0, n_hi = 0;
    for (int k = 0; k < ng; k++) {
        int ls = group_ls(s, o, &g[k], k, seen);
        char label[512];
        sx_group_label(s, o->rows, o->n_rows, g[k].vi, label, sizeof label);
        sx_membuf rows;
        sx_mb_open(&rows);
        int nrow = 0;
        for (int i = 0; i < xa->n; i++) {
            sx_agg a = sx_group_metric(c, &g[k], o->col, order[i], &o->metrics[0]);
            if (a.n == 0) continue;
            n_range(a.n, &n_lo, &n_hi);
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
    agg_so_far(s, o, agg, sizeof agg, n_lo, n_hi);
    gp_buf_printf(&setup, "set key %s title %s\n", o->key ? o->key : "top right",
                  band_note(q, sizeof q, agg, "error bars"));
    sweep_x_axis(&setup, o, xa, order);
    sx_groups_free(g, ng);
    return figure_finish(c, o, &d, &setup, &body, title, block > 0);
}

const sx_output_kind sx_figure_kinds[] = {
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
     "panels titles group where title panel-size", sx_check_montage, sx_write_montage},
    {"heatmap",
     "a per-run TSV as a heat map (compare/NAME/cka.tsv: CKA of layer x layer), one panel per "
     "group of the cell means over the aggregated axes, the values printed in the cells",
     "file x y z group where title xlabel ylabel zrange digits", sx_check_heatmap,
     sx_write_heatmap},
};
const int sx_n_figure_kinds = (int)(sizeof sx_figure_kinds / sizeof sx_figure_kinds[0]);
