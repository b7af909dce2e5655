/* suite_figure.c - experiment suites: the [figure NAME] kinds (curve, bar,
 * sweep, montage, heatmap).  Each kind is a row of sx_figure_kinds: its keys, its
 * parse-time check and its report-time writer, which writes
 * OUT/figures/NAME.tsv (the data) and NAME.gp (a gnuplot script in the house
 * style of gp.h that reads it), renders it to PNG and PDF when gnuplot is on
 * the PATH, and adds the figure to REPORT.md.  Adding a kind: a check and a
 * write function here and a row in the table.
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
        if (!sx_lookup_label(sx_train_columns, o->x))
            problems += sx_bad(s, line, "x", "'%s' is not a column of metrics.tsv", o->x);
        if (!sx_lookup_label(sx_train_columns, o->y))
            problems += sx_bad(s, ly, "y",
                               "'%s' is not a column of metrics.tsv (epoch lr train_loss "
                               "train_acc val_loss val_nll val_acc test_loss test_nll "
                               "test_acc seconds)",
                               o->y);
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

/* montage: panels = RUN-RELATIVE.gp | ...; titles = ... | ...; panel-size = WxH */
static int check_montage(cli_suite *s, cli_suite_output *o)
{
    int problems = sx_parse_where(s, o) + sx_parse_digits_bools(s, o), line;
    o->col = -1;
    sx_strlist l;
    if (sx_out_needed_list(s, o, "panels", '|',
                           "analysis/test-L3/map-input.gp | analysis/test-L3/map-hidden.gp",
                           "expected FILE.gp | FILE.gp ... (no empty item)", &l, &line))
        return problems + 1;
    if (l.n > CLI_SUITE_MAX_PANELS)
        problems += sx_bad(s, line, "panels", "at most %d panels", CLI_SUITE_MAX_PANELS);
    for (int i = 0; i < l.n && i < CLI_SUITE_MAX_PANELS; i++) {
        size_t n = strlen(l.item[i]);
        if (l.item[i][0] == '/' || strstr(l.item[i], "..") || n < 4 ||
            strcmp(l.item[i] + n - 3, ".gp") != 0 || strchr(l.item[i], '\''))
            problems += sx_bad(s, line, "panels",
                               "'%s': expected a figure script relative to the run directory "
                               "(analysis/test-L3/map-input.gp)",
                               l.item[i]);
        o->panels[o->n_panels++] = xstrdup(l.item[i]);
    }
    sx_strlist_free(&l);
    const char *v = sx_out_value(o, "titles", &line);
    if (v) {
        if (sx_strlist_split(&l, v, '|'))
            return problems +
                   sx_bad(s, line, "titles", "expected TITLE | TITLE ... (no empty item)");
        if (l.n != o->n_panels)
            problems += sx_bad(s, line, "titles", "%d titles for %d panels", l.n, o->n_panels);
        for (int i = 0; i < l.n && i < o->n_panels; i++) o->panel_titles[i] = xstrdup(l.item[i]);
        sx_strlist_free(&l);
    }
    o->panel_w = 480;
    o->panel_h = 400;
    v = sx_out_value(o, "panel-size", &line);
    if (v) {
        int w = 0, h = 0;
        char c;
        if (sscanf(v, "%dx%d%c", &w, &h, &c) != 2 || w < 100 || h < 100 || w > 4000 || h > 4000)
            problems += sx_bad(s, line, "panel-size", "expected WIDTHxHEIGHT in pixels (480x400)");
        o->panel_w = w;
        o->panel_h = h;
    }
    /* one run per group: the aggregated axes (seeds) may stay free */
    return problems + sx_rows_default_and_cover(s, o, "group", -1);
}

/* heatmap: file = RUN-RELATIVE.tsv  x, y, z = its columns (default layer_a,
 * layer_b, cka: the columns of compare/NAME/cka.tsv)  zrange  digits */
static int check_heatmap(cli_suite *s, cli_suite_output *o)
{
    int problems = sx_parse_where(s, o) + sx_parse_digits_bools(s, o), line;
    o->col = -1;
    if (!sx_out_value(o, "digits", NULL)) o->digits = 2;
    o->file = sx_out_value(o, "file", &line);
    if (!o->file)
        return problems + sx_bad(s, o->line, NULL,
                                 "[figure %s]: file missing (a per-run TSV, e.g. file = "
                                 "compare/NAME/cka.tsv of a [compare NAME] section)",
                                 o->name);
    size_t fl = strlen(o->file);
    if (!*o->file || o->file[0] == '/' || strstr(o->file, "..") || fl < 5 ||
        strcmp(o->file + fl - 4, ".tsv") != 0 || strchr(o->file, '\''))
        problems += sx_bad(s, line, "file",
                           "'%s': expected a TSV file relative to the run "
                           "directory (compare/NAME/cka.tsv)",
                           o->file);
    else if (!strncmp(o->file, "compare/", 8)) {
        char name[256];
        const char *slash = strchr(o->file + 8, '/');
        snprintf(name, sizeof name, "%.*s", slash ? (int)(slash - o->file - 8) : 0, o->file + 8);
        if (sx_compare_index(s, name) < 0)
            problems +=
                sx_bad(s, line, "file", "'%s': there is no [compare %s] section", o->file, name);
    }
    const char *keys[3] = {"x", "y", "z"}, *defs[3] = {"layer_a", "layer_b", "cka"};
    const char **dst[3] = {&o->x, &o->y, &o->z};
    for (int i = 0; i < 3; i++) {
        *dst[i] = sx_out_value(o, keys[i], &line);
        if (!*dst[i]) *dst[i] = defs[i];
        if (!sx_is_name(*dst[i]))
            problems += sx_bad(s, line, keys[i], "'%s' is not a column name", *dst[i]);
    }
    return problems + sx_rows_default_and_cover(s, o, "group", -1);
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
    sx_aggregate_text(s, agg, sizeof agg);
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
            write_agg_row(d.f, pts[i].x, sx_aggregate(vals, nv));
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
    sx_groups_free(g, ng);
    return figure_finish(c, o, &d, &setup, &body, title, block > 0);
}

static mg_status write_bar(sx_report_ctx *c, const cli_suite_output *o)
{
    const cli_suite *s = c->s;
    sx_group *g;
    int ng = sx_build_groups(s, o, o->rows, o->n_rows, &g);
    char agg[256], title[512];
    sx_aggregate_text(s, agg, sizeof agg);
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
    sx_aggregate_text(s, agg, sizeof agg);
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
        sx_group_label(s, o->rows, o->n_rows, g[k].vi, label, sizeof label);
        sx_membuf rows;
        sx_mb_open(&rows);
        int nrow = 0;
        for (int i = 0; i < xa->n; i++) {
            sx_agg a = sx_group_metric(c, &g[k], o->col, order[i], &o->metrics[0]);
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
    sweep_x_axis(&setup, o, xa, order);
    sx_groups_free(g, ng);
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

static mg_status write_montage(sx_report_ctx *c, const cli_suite_output *o)
{
    const cli_suite *s = c->s;
    sx_group *g;
    int ng = sx_build_groups(s, o, o->rows, o->n_rows, &g);
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
        sx_group_label(s, o->rows, o->n_rows, g[k].vi, label, sizeof label);
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
    sx_groups_free(g, ng);
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
/* ---------------------------------------------------------------- heatmap */

typedef struct {
    double x, y, z;
    int run;
} xyz_point;

static int cmp_xyz(const void *a, const void *b)
{
    const xyz_point *p = a, *q = b;
    if (p->x != q->x) return p->x < q->x ? -1 : 1;
    if (p->y != q->y) return p->y < q->y ? -1 : 1;
    return p->run - q->run;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Append the (x, y, z) rows of a TSV file with a "# columns:" header. */
static void read_tsv_xyz(const char *path, const char *const col[3], int run, xyz_point **pts,
                         int *n, int *cap)
{
    FILE *f = fopen(path, "r");
    if (!f) return;
    char *line = NULL;
    size_t lcap = 0;
    int ci[3] = {-1, -1, -1};
    while (getline(&line, &lcap, f) >= 0) {
        if (!strncmp(line, "# columns:", 10)) {
            sx_strlist l;
            if (sx_strlist_words(&l, line + 10) == 0) {
                for (int i = 0; i < l.n; i++)
                    for (int k = 0; k < 3; k++)
                        if (!strcmp(l.item[i], col[k])) ci[k] = i;
                sx_strlist_free(&l);
            }
            continue;
        }
        if (line[0] == '#' || ci[0] < 0 || ci[1] < 0 || ci[2] < 0) continue;
        double v[3] = {NAN, NAN, NAN};
        char *p = line;
        for (int c = 0; *p && *p != '\n'; c++) {
            char *end;
            double x = strtod(p, &end);
            if (end == p) x = NAN;
            for (int k = 0; k < 3; k++)
                if (c == ci[k]) v[k] = x;
            while (*end && *end != '\t' && *end != '\n') end++;
            p = *end == '\t' ? end + 1 : end;
        }
        if (isnan(v[0]) || isnan(v[1]) || isnan(v[2])) continue;
        if (*n == *cap) {
            *cap = *cap ? 2 * *cap : 256;
            *pts = xrealloc(*pts, sizeof **pts * (size_t)*cap);
        }
        (*pts)[(*n)++] = (xyz_point){v[0], v[1], v[2], run};
    }
    free(line);
    fclose(f);
}

/* The distinct values of x (sorted) into *out; their number. */
static int distinct(double *x, int n)
{
    qsort(x, (size_t)n, sizeof *x, cmp_dbl);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (k == 0 || x[i] != x[k - 1]) x[k++] = x[i];
    return k;
}

static int all_integers(const double *x, int n)
{
    for (int i = 0; i < n; i++)
        if (x[i] != floor(x[i]) || fabs(x[i]) > 1e6) return 0;
    return 1;
}

/* Axis text of the columns of compare/NAME/cka.tsv. */
static const char *column_label(const char *col)
{
    static const sx_name_label k[] = {
        {"layer_a", "layer of the run"},
        {"layer_b", "layer of the reference"},
        {"cka", "linear CKA"},
        {"cka_debiased", "debiased CKA"},
        {NULL, NULL},
    };
    const char *l = sx_lookup_label(k, col);
    return l ? l : col;
}

/* The mean, std and n over the runs of cell (x, y) of the points p[0..n),
 * sorted by x, y and run (a run's repeated rows averaged first). */
static sx_agg cell_agg(const xyz_point *p, int n, double x, double y)
{
    int lo = 0, hi = n; /* the first point not before (x, y) */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (p[mid].x < x || (p[mid].x == x && p[mid].y < y))
            lo = mid + 1;
        else
            hi = mid;
    }
    double vals[4096];
    int nv = 0;
    for (int i = lo; i < n && p[i].x == x && p[i].y == y;) {
        int r = p[i].run, cnt = 0;
        double sum = 0.0;
        while (i < n && p[i].x == x && p[i].y == y && p[i].run == r) {
            sum += p[i].z;
            cnt++;
            i++;
        }
        if (nv < (int)(sizeof vals / sizeof vals[0])) vals[nv++] = sum / cnt;
    }
    return sx_aggregate(vals, nv);
}

static mg_status write_heatmap(sx_report_ctx *c, const cli_suite_output *o)
{
    const cli_suite *s = c->s;
    sx_group *g;
    int ng = sx_build_groups(s, o, o->rows, o->n_rows, &g);
    const char *cols[3] = {o->x, o->y, o->z};
    xyz_point **pts = xcalloc((size_t)(ng ? ng : 1), sizeof *pts);
    int *np = xcalloc((size_t)(ng ? ng : 1), sizeof *np),
        *runs = xcalloc((size_t)(ng ? ng : 1), sizeof *runs);
    int total = 0;
    for (int k = 0; k < ng; k++) {
        int cap = 0;
        for (int i = 0; i < g[k].n; i++) {
            int r = g[k].runs[i];
            if (!c->rc[r].done) continue;
            char dir[4096], path[4400];
            cli_suite_run_dir(s, &s->runs[r], dir, sizeof dir);
            snprintf(path, sizeof path, "%s/%s", dir, o->file);
            int before = np[k];
            read_tsv_xyz(path, cols, r, &pts[k], &np[k], &cap);
            runs[k] += np[k] > before;
        }
        if (np[k]) qsort(pts[k], (size_t)np[k], sizeof *pts[k], cmp_xyz);
        total += np[k];
    }
    /* the cells: the distinct x and y of every panel (one grid for all) */
    double *xs = xcalloc((size_t)(total ? total : 1), sizeof *xs);
    double *ys = xcalloc((size_t)(total ? total : 1), sizeof *ys);
    int m = 0;
    for (int k = 0; k < ng; k++)
        for (int i = 0; i < np[k]; i++, m++) {
            xs[m] = pts[k][i].x;
            ys[m] = pts[k][i].y;
        }
    int nx = distinct(xs, total), ny = distinct(ys, total);
    if (nx > 200 || ny > 200) { /* not a heat map of layers: keep the file small */
        nx = nx > 200 ? 200 : nx;
        ny = ny > 200 ? 200 : ny;
    }
    char agg[256], title[512], q[1200], q2[1200], q3[1200];
    sx_aggregate_text(s, agg, sizeof agg);
    const char *xl = o->xlabel ? o->xlabel : column_label(o->x);
    const char *yl = o->ylabel ? o->ylabel : column_label(o->y);
    const char *zl = column_label(o->z);
    snprintf(title, sizeof title, "%c%s of %s (mean over %s)", toupper((unsigned char)zl[0]),
             zl + 1, o->file, agg);
    if (o->title) snprintf(title, sizeof title, "%s", o->title);
    sx_membuf d;
    sx_mb_open(&d);
    fprintf(d.f,
            "%s figure=%s\n# one block per panel (gnuplot index): %s for each (%s, %s) cell of "
            "%s, mean and std over the runs of the panel (nan: no value)\n",
            c->prov, o->name, o->z, o->x, o->y, o->file);
    double zmin = INFINITY, zmax = -INFINITY;
    int block = 0, *blocks = xcalloc((size_t)(ng ? ng : 1), sizeof *blocks);
    for (int k = 0; k < ng; k++) {
        blocks[k] = -1;
        if (!np[k]) continue;
        char label[512];
        sx_group_label(s, o->rows, o->n_rows, g[k].vi, label, sizeof label);
        fprintf(d.f, "# panel %d: %s (%d run%s)\n# columns: %s %s mean std n\n", block, label,
                runs[k], runs[k] == 1 ? "" : "s", o->x, o->y);
        for (int iy = 0; iy < ny; iy++) {
            for (int ix = 0; ix < nx; ix++) {
                sx_agg a = cell_agg(pts[k], np[k], xs[ix], ys[iy]);
                sx_tsv_num(d.f, xs[ix]);
                fputc('\t', d.f);
                sx_tsv_num(d.f, ys[iy]);
                fputc('\t', d.f);
                sx_tsv_num(d.f, a.mean);
                fputc('\t', d.f);
                sx_tsv_num(d.f, a.std);
                fprintf(d.f, "\t%d\n", a.n);
                if (a.n && a.mean < zmin) zmin = a.mean;
                if (a.n && a.mean > zmax) zmax = a.mean;
            }
            fputc('\n', d.f); /* a scan line of the image */
        }
        fputc('\n', d.f);
        blocks[k] = block++;
    }
    /* the script: one panel per group in a near-square layout */
    int cols_n = block <= 3 ? (block ? block : 1) : (int)ceil(sqrt((double)block));
    int rows_n = block ? (block + cols_n - 1) / cols_n : 1;
    gp_buf setup, body;
    gp_buf_init(&setup);
    gp_buf_init(&body);
    gp_buf_printf(&setup, "set datafile separator \"\\t\"\nunset grid\nset size square\n"
                          "set style fill solid 1.0 noborder\n");
    gp_buf_printf(&setup, "set xlabel %s\nset ylabel %s\nset cblabel %s\n",
                  gp_quote_text(q, sizeof q, xl), gp_quote_text(q2, sizeof q2, yl),
                  gp_quote_text(q3, sizeof q3, zl));
    if (nx && all_integers(xs, nx) && nx <= 40) gp_buf_printf(&setup, "set xtics 1\n");
    if (ny && all_integers(ys, ny) && ny <= 40) gp_buf_printf(&setup, "set ytics 1\n");
    if (nx) {
        double hx = nx > 1 ? 0.5 * (xs[nx - 1] - xs[0]) / (nx - 1) : 0.5;
        double hy = ny > 1 ? 0.5 * (ys[ny - 1] - ys[0]) / (ny - 1) : 0.5;
        gp_buf_printf(&setup, "set xrange [%.9g:%.9g]\nset yrange [%.9g:%.9g]\n", xs[0] - hx,
                      xs[nx - 1] + hx, ys[0] - hy, ys[ny - 1] + hy);
        gp_buf_printf(&setup, "gp_hx = %.9g\ngp_hy = %.9g\n", hx, hy);
    }
    double lo = zmin, hi = zmax;
    if (zmin <= zmax) {
        double pad = zmax > zmin ? 0.0 : (fabs(zmax) > 0 ? 0.01 * fabs(zmax) : 0.01);
        lo -= pad;
        hi += pad;
    }
    if (o->zrange) { /* [LOW:HIGH], either may be * or empty: the data's */
        char tz[256];
        double zlo, zhi;
        sx_parse_range_text(o->zrange, tz, sizeof tz, &zlo,
                            &zhi); /* checked by sx_parse_digits_bools */
        gp_buf_printf(&setup, "set cbrange [%s]\n", tz);
        if (!isnan(zlo)) lo = zlo;
        if (!isnan(zhi)) hi = zhi;
    } else if (zmin <= zmax) {
        gp_buf_printf(&setup, "set cbrange [%.9g:%.9g]\n", lo, hi);
    }
    /* the values in the cells: dark text on light cells, white on dark ones */
    gp_buf_printf(&setup, "gp_zlight = %.9g\n", zmin <= zmax ? lo + 0.55 * (hi - lo) : 0.0);
    gp_buf_printf(&body, "set multiplot layout %d,%d title %s font ',13'\n", rows_n, cols_n,
                  gp_quote_text(q, sizeof q, title));
    /* `with image` needs a grid of at least 2 x 2 cells; boxes otherwise */
    int image = nx >= 2 && ny >= 2;
    for (int k = 0; k < ng; k++) {
        if (blocks[k] < 0) continue;
        char label[512], pt[700];
        sx_group_label(s, o->rows, o->n_rows, g[k].vi, label, sizeof label);
        snprintf(pt, sizeof pt, "%s (%d run%s)", label, runs[k], runs[k] == 1 ? "" : "s");
        gp_buf_printf(&body, "set title %s\n", gp_quote_text(q, sizeof q, pt));
        if (image)
            gp_buf_printf(&body, "plot '%s.tsv' index %d using 1:2:3 with image notitle", o->name,
                          blocks[k]);
        else
            gp_buf_printf(&body,
                          "plot '%s.tsv' index %d using 1:2:(gp_hx):(gp_hy):3 with boxxyerror "
                          "fc palette notitle",
                          o->name, blocks[k]);
        gp_buf_printf(&body,
                      ", \\\n  '' index %d using 1:2:(strcol(3) eq 'nan' ? '' : "
                      "sprintf('%%.%df', $3)):($3 > gp_zlight ? 0xffffff : 0x202020) with labels "
                      "tc rgb variable notitle\n",
                      blocks[k], o->digits);
    }
    gp_buf_printf(&body, "unset multiplot\n");
    char path[4400];
    snprintf(path, sizeof path, "%s/%s.tsv", c->figdir, o->name);
    mg_status st = sx_mb_write(&d, path);
    gp_figure fig = {o->name, title, c->prov, cols_n * 430 + 40, rows_n * 400 + 50, setup.s};
    if (st == MG_OK && (setup.failed || body.failed))
        st = mg_fail(MG_ERR_NOMEM, "out of memory writing %s.gp", o->name);
    if (st == MG_OK) st = gp_write(c->figdir, &fig, &body);
    gp_buf_free(&setup);
    gp_buf_free(&body);
    for (int k = 0; k < ng; k++) free(pts[k]);
    free(pts);
    free(np);
    free(runs);
    free(blocks);
    free(xs);
    free(ys);
    sx_groups_free(g, ng);
    if (st != MG_OK) return st;
    return figure_rendered(c, o, title, block > 0);
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
     "panels titles group where title panel-size", check_montage, write_montage},
    {"heatmap",
     "a per-run TSV as a heat map (compare/NAME/cka.tsv: CKA of layer x layer), one panel per "
     "group of the cell means over the aggregated axes, the values printed in the cells",
     "file x y z group where title xlabel ylabel zrange digits", check_heatmap, write_heatmap},
};
const int sx_n_figure_kinds = (int)(sizeof sx_figure_kinds / sizeof sx_figure_kinds[0]);
