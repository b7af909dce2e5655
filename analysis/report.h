/*
 * report.h - the files every analysis writes (part of libmganalysis).
 *
 * An analysis writes into one output directory:
 *   *.tsv         data: a provenance line, "# columns: a b c", then one row a
 *                 line, tab-separated, every number "%.9g" (NaN as "nan")
 *   *.gp          one gnuplot script per figure reading the TSV files by
 *                 relative path (gp.h; `mixgeo plot DIR` renders them)
 *   summary.json  every scalar and every choice, pretty-printed (cJSON)
 * Every file is written atomically (mg_write_atomic): a reader never sees a
 * half-written file.  The library never calls setlocale(): numbers are
 * printed in the C locale.
 */
#ifndef MG_REPORT_H
#define MG_REPORT_H

#include "gp.h"
#include "mixgeo.h"

#include <cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

/* TSV as above; rows is nrows x ncols, row-major; block > 0 puts a blank
 * line after every `block` rows (the scan lines of a grid, for gnuplot);
 * provenance NULL or "" writes no provenance line. */
mg_status mg_tsv_write(const char *path, const char *provenance, const char *const *columns,
                       int ncols, const double *rows, int nrows, int block);
/* Pretty-printed JSON plus a newline, written atomically. */
mg_status mg_json_write(const char *path, const cJSON *root);
/* New JSON arrays of numbers (caller owns; NULL when out of memory). */
cJSON *mg_json_doubles(const double *v, int n);
cJSON *mg_json_ints(const int *v, int n);

/* The output directory of one analysis run: where files go, what heads
 * them, and the list of files written (summary.json's "files"). */
typedef struct {
    char dir[4096];
    char provenance[4096];          /* first line of every TSV and .gp file  */
    char label[1200];               /* appended to figure titles              */
    int classes;
    const char *const *class_names; /* NULL: "class c"                       */
    int method_ls;                  /* gp_method_ls of the run's mixing mode  */
    cJSON *files;                   /* array of names written (owned)         */
} mg_report;

/* DIR/name as TSV (mg_tsv_write); the name is added to files. */
mg_status mg_report_tsv(mg_report *r, const char *name, const char *const *cols, int ncols,
                        const double *rows, int nrows, int block);
/* DIR/name.gp (gp_write) with the title "what: label"; setup may be NULL. */
mg_status mg_report_gp(mg_report *r, const char *name, const char *what, int w, int h,
                       const gp_buf *setup, const gp_buf *body);
/* "set title 'what - label'" into b. */
void mg_report_title(const mg_report *r, gp_buf *b, const char *what);
/* gnuplot array cls_name[C] of the class names (setup of a figure). */
void mg_report_class_names(const mg_report *r, gp_buf *b);

#ifdef __cplusplus
}
#endif
#endif /* MG_REPORT_H */
