/* suite_util.c - experiment suites: the small helpers every part of the
 * suite code shares (declared in suite_internal.h): number and boolean
 * parsing, lists of words, names, the FNV-1a hash, reading and writing
 * small files atomically, growing text buffers, the FILE:LINE: KEY problem
 * line, and the cell formats of TSV, Markdown and LaTeX.
 */
#include "suite_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <time.h>

/* ---------------------------------------------------------------- helpers */

/* (xcalloc, xstrdup, trim, ...: suite_internal.h) */

/* [A-Za-z0-9._-]+ */
int sx_is_name(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-') return 0;
    return 1;
}

int sx_parse_long_text(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || end == s || *end || x < lo || x > hi) return 0;
    *out = x;
    return 1;
}

int sx_parse_double_text(const char *s, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end || !isfinite(x)) return 0;
    *out = x;
    return 1;
}

int sx_parse_range_text(const char *s, char *buf, size_t len, double *lo, double *hi)
{
    char t[256];
    snprintf(t, sizeof t, "%s", s);
    size_t a = (size_t)(trim(t) - t), n = strlen(t + a);
    if (n >= 2 && t[a] == '[' && t[a + n - 1] == ']') { /* the brackets are optional */
        t[a + n - 1] = '\0';
        a++;
    }
    char *colon = strchr(t + a, ':');
    if (!colon) return 0;
    *colon = '\0';
    char *ends[2] = {trim(t + a), trim(colon + 1)};
    double *out[2] = {lo, hi};
    for (int k = 0; k < 2; k++) {
        *out[k] = NAN;
        if (*ends[k] && strcmp(ends[k], "*") != 0 && !sx_parse_double_text(ends[k], out[k]))
            return 0;
    }
    snprintf(buf, len, "%s:%s", ends[0], ends[1]);
    return 1;
}

int sx_parse_bool_text(const char *s, int *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on", NULL};
    static const char *const no[] = {"0", "false", "no", "off", NULL};
    for (int i = 0; yes[i]; i++)
        if (strcasecmp(s, yes[i]) == 0) return *out = 1, 1;
    for (int i = 0; no[i]; i++)
        if (strcasecmp(s, no[i]) == 0) return *out = 0, 1;
    return 0;
}

uint64_t sx_fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

void sx_strlist_free(sx_strlist *l)
{
    for (int i = 0; i < l->n; i++) free(l->item[i]);
    l->n = 0;
}

/* Split text at sep.  Returns 0, 1 if an item (or the whole text) is empty,
 * 2 if there are more than CLI_SUITE_MAX_LIST items.  On failure l is empty. */
int sx_strlist_split(sx_strlist *l, const char *text, char sep)
{
    l->n = 0;
    const char *p = text;
    for (;;) {
        const char *e = strchr(p, sep);
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char *it = xstrndup(p, len);
        char *t = trim(it);
        int err = !*t ? 1 : l->n == CLI_SUITE_MAX_LIST ? 2 : 0;
        if (err) {
            free(it);
            sx_strlist_free(l);
            return err;
        }
        memmove(it, t, strlen(t) + 1);
        l->item[l->n++] = it;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

/* Split at blanks (no empty items). */
int sx_strlist_words(sx_strlist *l, const char *text)
{
    l->n = 0;
    const char *p = text;
    for (;;) {
        while (isspace((unsigned char)*p)) p++;
        if (!*p) return 0;
        const char *e = p;
        while (*e && !isspace((unsigned char)*e)) e++;
        if (l->n == CLI_SUITE_MAX_LIST) {
            sx_strlist_free(l);
            return 2;
        }
        l->item[l->n++] = xstrndup(p, (size_t)(e - p));
        p = e;
    }
}

int sx_word_in(const char *words, const char *w)
{
    size_t n = strlen(w);
    const char *p = words;
    while (*p) {
        while (*p == ' ') p++;
        const char *e = p;
        while (*e && *e != ' ') e++;
        if ((size_t)(e - p) == n && strncmp(p, w, n) == 0) return 1;
        p = e;
    }
    return 0;
}

char *sx_read_text(const char *path, size_t max)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = xcalloc(cap, 1);
    size_t k;
    while ((k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (n >= max) break;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
    }
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static mg_status emit_text(FILE *f, void *user)
{
    fputs((const char *)user, f);
    return MG_OK;
}

mg_status sx_write_text_atomic(const char *path, const char *text)
{
    return mg_write_atomic(path, emit_text, (void *)text);
}

void sx_mb_open(sx_membuf *m)
{
    m->buf = NULL;
    m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    MG_ASSERT(m->f != NULL);
}

/* Close the stream; m->buf is the text (caller frees). */
char *sx_mb_close(sx_membuf *m)
{
    fclose(m->f);
    m->f = NULL;
    return m->buf;
}

mg_status sx_mb_write(sx_membuf *m, const char *path)
{
    char *text = sx_mb_close(m);
    mg_status st = sx_write_text_atomic(path, text ? text : "");
    free(text);
    return st;
}

void sx_iso_time(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
int sx_bad(const cli_suite *s, int line, const char *key, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (key)
        cli_error("%s:%d: %s: %s", s->path, line, key, msg);
    else
        cli_error("%s:%d: %s", s->path, line, msg);
    return 1;
}

/* Text with tabs and newlines replaced by blanks (for TSV cells). */
void sx_tsv_cell(FILE *f, const char *s)
{
    for (; *s; s++) fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
}

void sx_md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else
            fputc(*s == '\n' ? ' ' : *s, f);
    }
}

void sx_tex_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '_':
        case '%':
        case '&':
        case '#':
        case '$':
        case '{':
        case '}':
            fputc('\\', f);
            fputc(*s, f);
            break;
        case '~': fputs("\\textasciitilde{}", f); break;
        case '^': fputs("\\textasciicircum{}", f); break;
        case '\\': fputs("\\textbackslash{}", f); break;
        default: fputc(*s, f);
        }
    }
}

void sx_tsv_num(FILE *f, double x)
{
    if (isnan(x))
        fputs("nan", f);
    else
        fprintf(f, "%.9g", x);
}

void sx_fmt_g_buf(char *b, size_t len, double x, int digits)
{
    if (isnan(x)) {
        snprintf(b, len, "nan");
        return;
    }
    /* 1254, not 1.25e+03: below a million a whole number reads better */
    snprintf(b, len, "%.*g", digits, x);
    if (strstr(b, "e+") && fabs(x) < 1e6) snprintf(b, len, "%.0f", x);
}

void sx_fmt_g(FILE *f, double x, int digits)
{
    char b[64];
    sx_fmt_g_buf(b, sizeof b, x, digits);
    fputs(b, f);
}
