/* data_csv.c - CSV datasets: "feature,...,feature,label" one example a line.
 *
 * Lines of any length (getline).  Blank lines and lines whose first non-blank
 * character is '#' are skipped.  The first remaining line is data when every
 * field is a number, a header (skipped, with a warning) when none is, and an
 * error when it mixes both (a typo in the first data row must not silently
 * become a header).  Every data line must have as many fields as the first
 * one (at least two: one feature and the label).  With classes == 0 a label
 * must be below MG_MAX_AUTO_CLASSES (see mixgeo.h).
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

/* Fields of a line (commas + 1), saturating at INT_MAX. */
static int csv_count(const char *s)
{
    int n = 1;
    for (; *s && n < INT_MAX; s++) n += *s == ',';
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
        if (n < INT_MAX) n++;
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

enum { CSV_DATA = 1, CSV_HEADER = 2 };

/* Classify the first content line s (line lineno): *kind = CSV_DATA when
 * every field is a number, CSV_HEADER when none is (logged as a warning);
 * anything else is an error naming the first field that is not a number. */
static mg_status csv_first_line(const char *s, const char *path, int lineno, int *kind)
{
    int cnt = csv_count(s);
    if (cnt == INT_MAX) return mg_fail(MG_ERR_FORMAT, "%s:%d: too many fields", path, lineno);
    char **fl = malloc((size_t)cnt * sizeof *fl);
    char *copy = strdup(s); /* split a copy: the line is parsed again if it is data */
    if (!fl || !copy) {
        free(fl);
        free(copy);
        return mg_fail(MG_ERR_NOMEM, "out of memory reading %s", path);
    }
    csv_split(copy, fl, cnt);
    int numbers = 0, first_text = -1;
    for (int i = 0; i < cnt; i++) {
        double v;
        if (csv_number(fl[i], &v)) numbers++;
        else if (first_text < 0) first_text = i;
    }
    mg_status st = MG_OK;
    if (numbers == cnt) {
        *kind = CSV_DATA;
    } else if (numbers == 0) {
        *kind = CSV_HEADER;
        mg_log(1, "%s:%d: first row taken as a header (no field is a number): '%.60s%s'", path,
               lineno, s, strlen(s) > 60 ? "..." : "");
    } else {
        st = mg_fail(MG_ERR_FORMAT,
                     "%s:%d: field %d ('%.40s') is not a number but %d of the %d fields of "
                     "this first row are: a typo in the first data row? (a header must have no "
                     "numeric field; make it a '#' comment otherwise)",
                     path, lineno, first_text + 1, fl[first_text], numbers, cnt);
    }
    free(fl);
    free(copy);
    return st;
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
        if (memchr(line, '\0', (size_t)len)) {
            st = mg_fail(MG_ERR_FORMAT, "%s:%d: a NUL byte: not a text file", path, lineno);
            break;
        }
        char *s = csv_trim(line);
        if (!*s || *s == '#') continue;

        if (!seen_content) {
            /* The first content line: data, a header, or an error. */
            seen_content = 1;
            int kind = 0;
            st = csv_first_line(s, path, lineno, &kind);
            if (st != MG_OK) break;
            if (kind == CSV_HEADER) continue;
        }

        if (nfields == 0) {
            nfields = csv_count(s);
            first_line = lineno;
            if (nfields == INT_MAX) {
                st = mg_fail(MG_ERR_FORMAT, "%s:%d: too many fields", path, lineno);
                break;
            }
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
        if (classes == 0 && l >= MG_MAX_AUTO_CLASSES) {
            st = mg_fail(MG_ERR_FORMAT,
                         "%s:%d: label %ld would make %ld classes, more than the %d allowed "
                         "when the class count comes from the labels: a stray label? (give the "
                         "class count, --classes N, to allow more)",
                         path, lineno, l, l + 1, MG_MAX_AUTO_CLASSES);
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
