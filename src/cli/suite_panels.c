/* suite_panels.c - experiment suites: the [figure NAME] kinds made of
 * panels, rows of sx_figure_kinds (suite_figure.c):
 *   montage  the plots of per-run figure scripts side by side, one row per
 *            group (its first finished run);
 *   heatmap  a per-run TSV (compare/NAME/cka.tsv) as a heat map, one panel
 *            per group of the cell means over the aggregated axes.
 */
#include "suite_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gp.h"

/* ---------------------------------------------------------------- checks */

/* montage: panels = RUN-RELATIVE.gp | ...; titles = ... | ...; panel-size = WxH */
int sx_check_montage(cli_suite *s, cli_suite_output *o)
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
int sx_check_heatmap(cli_suite *s, cli_suite_output *o)
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
    return sx_figure_rendered(c, o, title, has);
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

mg_status sx_write_heatmap(sx_report_ctx *c, const cli_suite_output *o)
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
            char path[4400];
            if (!sx_done_run_file(c, r, o->file, path, sizeof path)) continue;
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
    sx_aggregate_text(s, o, agg, sizeof agg);
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
    return sx_figure_rendered(c, o, title, block > 0);
}
