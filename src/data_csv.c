/* data_csv.c - CSV datasets: "feature,...,feature,label" one example a line.
 *
 * Lines of any length (getline).  Blank lines and lines whose first non-blank
 * character is '#' are skipped.  The first remaining line is a header when
 * one of its fields is not a number.  Every data line must have as many
 * fields as the first one (at least two: one feature and the label).
 * Numbers are parsed with strtod/strtol under the "C" numeric locale
 * (installed for this thread during the call), whatever the process locale. */
#include "mixgeo.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float *x;
    int32_t *y;
    size_t n, cap; /* rows stored, rows allocated */
    int dim;
} csv_rows;

static int csv_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Trim blanks around s[0..] in place; returns the start. */
static char *csv_trim(char *s)
{
    while (csv_is_space(*s)) s++;
    size_t len = strlen(s);
    while (len > 0 && csv_is_space(s[len - 1])) s[--len] = '\0';
    return s;
}

static int csv_count(const char *s)
{
    int n = 1;
    for (; *s; s++) n += *s == ',';
    return n;
}

/* Split line at commas (in place) into trimmed fields; returns the count, of
 * which at most max are stored. */
static int csv_split(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        if (n < max) fields[n] = csv_trim(p);
        n++;
        if (!comma) break;
        p = comma + 1;
    }
    return n;
}

static int csv_number(const char *s, double *v)
{
    if (!*s) return 0;
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end != '\0') return 0;
    *v = x;
    return 1;
}

static mg_status csv_grow(csv_rows *r, const char *path)
{
    if (r->n < r->cap) return MG_OK;
    size_t cap = r->cap ? r->cap * 2 : 256;
    if (cap > (size_t)INT_MAX) cap = (size_t)INT_MAX;
    if (cap <= r->n || cap > SIZE_MAX / sizeof(float) / (size_t)r->dim)
        return mg_fail(MG_ERR_FORMAT, "%s: too many rows", path);
    float *x = realloc(r->x, cap * (size_t)r->dim * sizeof *x);
    if (!x) return mg_fail(MG_ERR_NOMEM, "out of memory reading %s", path);
    r->x = x;
    int32_t *y = realloc(r->y, cap * sizeof *y);
    if (!y) return mg_fail(MG_ERR_NOMEM, "out of memory reading %s", path);
    r->y = y;
    r->cap = cap;
    return MG_OK;
}

/* The parse proper, under the C locale. */
static mg_status csv_parse(FILE *f, const char *path, int classes, csv_rows *r)
{
    char *line = NULL, **fields = NULL;
    size_t linecap = 0;
    int nfields = 0, first_line = 0, lineno = 0, seen_content = 0;
    mg_status st = MG_OK;
    ssize_t len;
    while ((len = getline(&line, &linecap, f)) >= 0) {
        lineno++;
        if (lineno == INT_MAX) {
            st = mg_fail(MG_ERR_FORMAT, "%s: too many lines", path);
            break;
        }
        char *s = csv_trim(line);
        if (!*s || *s == '#') continue;

        if (!seen_content) {
            /* The first content line: a header unless every field is a number. */
            seen_content = 1;
            int cnt = csv_count(s);
            char **fl = malloc((size_t)cnt * sizeof *fl);
            if (!fl) {
                st = mg_fail(MG_ERR_NOMEM, "out of memory reading %s", path);
                break;
            }
            /* Split a copy: the line itself is parsed again below if numeric. */
            char *copy = strdup(s);
            if (!copy) {
                free(fl);
                st = mg_fail(MG_ERR_NOMEM, "out of memory reading %s", path);
                break;
            }
            csv_split(copy, fl, cnt);
            int numeric = 1;
            for (int i = 0; i < cnt && numeric; i++) {
                double v;
                numeric = csv_number(fl[i], &v);
            }
            free(fl);
            free(copy);
            if (!numeric) continue; /* header */
        }

        if (nfields == 0) {
            nfields = csv_count(s);
            first_line = lineno;
            if (nfields < 2) {
                st = mg_fail(MG_ERR_FORMAT, "%s:%d: only one field; need at least one "
                             "feature and a label", path, lineno);
                break;
            }
            fields = malloc((size_t)nfields * sizeof *fields);
            if (!fields) {
                st = mg_fail(MG_ERR_NOMEM, "out of memory reading %s", path);
                break;
            }
            r->dim = nfields - 1;
        }
        int cnt = csv_split(s, fields, nfields);
        if (cnt != nfields) {
            st = mg_fail(MG_ERR_FORMAT, "%s:%d: %d fields, expected %d (as on line %d)", path,
                         lineno, cnt, nfields, first_line);
            break;
        }
        st = csv_grow(r, path);
        if (st != MG_OK) break;
        float *row = r->x + r->n * (size_t)r->dim;
        for (int j = 0; j < r->dim; j++) {
            double v;
            if (!csv_number(fields[j], &v)) {
                st = mg_fail(MG_ERR_FORMAT, "%s:%d: field %d ('%.40s') is not a number", path,
                             lineno, j + 1, fields[j]);
                break;
            }
            if (!isfinite(v) || fabs(v) > FLT_MAX) {
                st = mg_fail(MG_ERR_FORMAT, "%s:%d: field %d ('%.40s') is not a finite float",
                             path, lineno, j + 1, fields[j]);
                break;
            }
            row[j] = (float)v;
        }
        if (st != MG_OK) break;
        const char *lab = fields[nfields - 1];
        char *end;
        errno = 0;
        long l = strtol(lab, &end, 10);
        if (!*lab || end == lab || *end != '\0') {
            st = mg_fail(MG_ERR_FORMAT, "%s:%d: label '%.40s' is not an integer", path, lineno,
                         lab);
            break;
        }
        if (l < 0) {
            st = mg_fail(MG_ERR_FORMAT, "%s:%d: label %ld is negative", path, lineno, l);
            break;
        }
        if (errno == ERANGE || l > INT32_MAX - 1) {
            st = mg_fail(MG_ERR_FORMAT, "%s:%d: label '%.40s' is too large", path, lineno, lab);
            break;
        }
        if (classes > 0 && l >= classes) {
            st = mg_fail(MG_ERR_FORMAT, "%s:%d: label %ld is out of range (expected < %d "
                         "classes)", path, lineno, l, classes);
            break;
        }
        r->y[r->n++] = (int32_t)l;
    }
    if (st == MG_OK && ferror(f))
        st = mg_fail(MG_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    if (st == MG_OK && r->n == 0) st = mg_fail(MG_ERR_FORMAT, "%s: no data rows", path);
    free(line);
    free(fields);
    return st;
}

mg_status mg_load_csv(const char *path, int classes, mg_dataset **out)
{
    MG_ASSERT(path && out);
    *out = NULL;
    if (classes < 0) return mg_fail(MG_ERR_CONFIG, "classes must be >= 0 (got %d)", classes);
    FILE *f = fopen(path, "r");
    if (!f) return mg_fail(MG_ERR_IO, "cannot open %s: %s", path, strerror(errno));

    locale_t cloc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    locale_t old = cloc ? uselocale(cloc) : (locale_t)0;
    csv_rows r = {0};
    mg_status st = csv_parse(f, path, classes, &r);
    if (cloc) {
        uselocale(old);
        freelocale(cloc);
    }
    fclose(f);

    if (st == MG_OK) {
        int32_t maxlab = 0;
        for (size_t i = 0; i < r.n; i++)
            if (r.y[i] > maxlab) maxlab = r.y[i];
        mg_dataset *d = mg_dataset_alloc((int)r.n, r.dim, classes > 0 ? classes : maxlab + 1);
        if (!d) {
            st = mg_fail(MG_ERR_NOMEM, "out of memory for %zu rows of %s", r.n, path);
        } else {
            memcpy(d->x, r.x, r.n * (size_t)r.dim * sizeof *d->x);
            memcpy(d->y, r.y, r.n * sizeof *d->y);
            const char *base = strrchr(path, '/');
            snprintf(d->name, sizeof d->name, "%s", base ? base + 1 : path);
            *out = d;
        }
    }
    free(r.x);
    free(r.y);
    return st;
}
