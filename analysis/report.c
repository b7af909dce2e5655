/* report.c - TSV, JSON and figure files of the analyses (report.h). */
#include "report.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *provenance;
    const char *const *columns;
    int ncols, nrows, block;
    const double *rows;
} tsv_job;

static mg_status tsv_emit(FILE *f, void *user)
{
    const tsv_job *j = user;
    if (j->provenance && *j->provenance) fprintf(f, "%s\n", j->provenance);
    fputs("# columns:", f);
    for (int c = 0; c < j->ncols; c++) fprintf(f, " %s", j->columns[c]);
    fputc('\n', f);
    for (int r = 0; r < j->nrows; r++) {
        if (j->block > 0 && r > 0 && r % j->block == 0) fputc('\n', f);
        for (int c = 0; c < j->ncols; c++) {
            double x = j->rows[(size_t)r * (size_t)j->ncols + (size_t)c];
            if (c) fputc('\t', f);
            if (isnan(x)) fputs("nan", f);
            else fprintf(f, "%.9g", x);
        }
        fputc('\n', f);
    }
    return MG_OK;
}

mg_status mg_tsv_write(const char *path, const char *provenance, const char *const *columns,
                       int ncols, const double *rows, int nrows, int block)
{
    tsv_job j = {provenance, columns, ncols, nrows, block, rows};
    return mg_write_atomic(path, tsv_emit, &j);
}

static mg_status json_emit(FILE *f, void *user)
{
    char *s = cJSON_Print((const cJSON *)user);
    if (!s) return mg_fail(MG_ERR_NOMEM, "out of memory printing JSON");
    fputs(s, f);
    fputc('\n', f);
    cJSON_free(s);
    return MG_OK;
}

mg_status mg_json_write(const char *path, const cJSON *root)
{
    return mg_write_atomic(path, json_emit, (void *)root);
}

cJSON *mg_json_doubles(const double *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

cJSON *mg_json_ints(const int *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

static mg_status report_path(const mg_report *r, const char *name, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%s", r->dir, name);
    if (n < 0 || (size_t)n >= len) return mg_fail(MG_ERR_CONFIG, "path too long: %s/%s", r->dir, name);
    return MG_OK;
}

mg_status mg_report_tsv(mg_report *r, const char *name, const char *const *cols, int ncols,
                        const double *rows, int nrows, int block)
{
    char path[4400];
    mg_status st = report_path(r, name, path, sizeof path);
    if (st != MG_OK) return st;
    st = mg_tsv_write(path, r->provenance, cols, ncols, rows, nrows, block);
    if (st == MG_OK) cJSON_AddItemToArray(r->files, cJSON_CreateString(name));
    return st;
}

mg_status mg_report_gp(mg_report *r, const char *name, const char *what, int w, int h,
                       const gp_buf *setup, const gp_buf *body)
{
    char title[1600];
    snprintf(title, sizeof title, "%s: %s", what, r->label);
    gp_figure fig = {name, title, r->provenance, w, h, setup && setup->s ? setup->s : NULL};
    if (setup && setup->failed) return mg_fail(MG_ERR_NOMEM, "out of memory writing %s.gp", name);
    mg_status st = gp_write(r->dir, &fig, body);
    if (st == MG_OK) {
        char f[300];
        snprintf(f, sizeof f, "%s.gp", name);
        cJSON_AddItemToArray(r->files, cJSON_CreateString(f));
    }
    return st;
}

void mg_report_title(const mg_report *r, gp_buf *b, const char *what)
{
    char t[1800], q[4000];
    snprintf(t, sizeof t, "%s - %s", what, r->label);
    gp_buf_printf(b, "set title %s\n", gp_quote_text(q, sizeof q, t));
}

void mg_report_class_names(const mg_report *r, gp_buf *b)
{
    gp_buf_printf(b, "array cls_name[%d] = [", r->classes);
    for (int c = 0; c < r->classes; c++) {
        char nm[64], q[160];
        if (r->class_names) snprintf(nm, sizeof nm, "%s", r->class_names[c]);
        else snprintf(nm, sizeof nm, "class %d", c);
        gp_buf_printf(b, "%s%s", c ? ", " : "", gp_quote(q, sizeof q, nm));
    }
    gp_buf_printf(b, "]\n");
}
