/* ini.c - the one INI reader of the mixgeo program (see ini.h). */
#include "ini.h"

#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_text(const char *s)
{
    char *p = strdup(s);
    MG_ASSERT(p != NULL);
    return p;
}

/* s without leading blanks; trailing blanks cut off in place. */
static char *trim_blanks(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

static int add_section(cli_ini_section **sec, int *n, int *cap, const char *kind, const char *name,
                       int line)
{
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 8;
        *sec = realloc(*sec, sizeof **sec * (size_t)*cap);
        MG_ASSERT(*sec != NULL);
    }
    cli_ini_section *s = &(*sec)[*n];
    memset(s, 0, sizeof *s);
    s->kind = dup_text(kind);
    s->name = dup_text(name);
    s->line = line;
    return (*n)++;
}

int cli_ini_read(const char *path, int quiet, cli_ini_section **out, int *n_out)
{
    *out = NULL;
    *n_out = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (!quiet) cli_error("cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    cli_ini_section *sec = NULL;
    int n = 0, cap = 0, problems = 0, lineno = 0;
    int cur = -1; /* -1: before any header; -2: after a bad header (keys ignored) */
    char *line = NULL;
    size_t lcap = 0;
#define INI_BAD(...)                                                                               \
    do {                                                                                           \
        if (!quiet) cli_error(__VA_ARGS__);                                                        \
        problems++;                                                                                \
    } while (0)
    while (getline(&line, &lcap, f) >= 0) {
        lineno++;
        char *text = line;
        if (lineno == 1 && !strncmp(text, "\xef\xbb\xbf", 3)) text += 3; /* UTF-8 BOM */
        for (char *q = text; *q; q++) {
            if ((*q == '#' || *q == ';') && (q == text || isspace((unsigned char)q[-1]))) {
                *q = '\0';
                break;
            }
        }
        char *p = trim_blanks(text);
        if (!*p) continue;
        if (*p == '[') {
            size_t l = strlen(p);
            cur = -2;
            if (p[l - 1] != ']') {
                INI_BAD("%s:%d: a section header must end with ']'", path, lineno);
                continue;
            }
            p[l - 1] = '\0';
            char *kind = trim_blanks(p + 1), *sp = kind;
            while (*sp && !isspace((unsigned char)*sp)) sp++;
            char *name = sp;
            if (*sp) {
                *sp = '\0';
                name = trim_blanks(sp + 1);
            }
            if (!*kind) {
                INI_BAD("%s:%d: empty section header", path, lineno);
                continue;
            }
            int dup = -1;
            for (int i = 0; i < n && dup < 0; i++)
                if (sec[i].line > 0 && !strcmp(sec[i].kind, kind) && !strcmp(sec[i].name, name))
                    dup = i;
            if (dup >= 0) {
                INI_BAD("%s:%d: duplicate section [%s%s%s] (first at line %d)", path, lineno, kind,
                        *name ? " " : "", name, sec[dup].line);
                continue;
            }
            cur = add_section(&sec, &n, &cap, kind, name, lineno);
            continue;
        }
        char *eq = strchr(p, '=');
        if (!eq) {
            INI_BAD("%s:%d: expected 'key = value', '[section]' or a comment", path, lineno);
            continue;
        }
        *eq = '\0';
        char *key = trim_blanks(p), *value = trim_blanks(eq + 1);
        if (!*key) {
            INI_BAD("%s:%d: missing key before '='", path, lineno);
            continue;
        }
        if (cur == -2) continue;
        if (cur == -1) cur = add_section(&sec, &n, &cap, "", "", 0);
        cli_ini_section *s = &sec[cur];
        int dup = -1;
        for (int i = 0; i < s->n && dup < 0; i++)
            if (!strcmp(s->e[i].key, key)) dup = i;
        if (dup >= 0) {
            INI_BAD("%s:%d: %s: duplicate key (first at line %d)", path, lineno, key,
                    s->e[dup].line);
            continue;
        }
        if (s->n == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 8;
            s->e = realloc(s->e, sizeof *s->e * (size_t)s->cap);
            MG_ASSERT(s->e != NULL);
        }
        s->e[s->n].key = dup_text(key);
        s->e[s->n].value = dup_text(value);
        s->e[s->n].line = lineno;
        s->n++;
    }
#undef INI_BAD
    int read_error = ferror(f);
    free(line);
    fclose(f);
    if (read_error) {
        if (!quiet) cli_error("cannot read %s: read error", path);
        cli_ini_free(sec, n);
        return -1;
    }
    *out = sec;
    *n_out = n;
    return problems;
}

void cli_ini_free(cli_ini_section *sec, int n)
{
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < sec[i].n; k++) {
            free(sec[i].e[k].key);
            free(sec[i].e[k].value);
        }
        free(sec[i].e);
        free(sec[i].kind);
        free(sec[i].name);
    }
    free(sec);
}

const cli_ini_section *cli_ini_find_section(const cli_ini_section *sec, int n, const char *kind,
                                            const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(sec[i].kind, kind) && (!name || !strcmp(sec[i].name, name))) return &sec[i];
    return NULL;
}

const cli_ini_entry *cli_ini_find_entry(const cli_ini_section *sec, const char *key)
{
    if (!sec) return NULL;
    for (int i = 0; i < sec->n; i++)
        if (!strcmp(sec->e[i].key, key)) return &sec->e[i];
    return NULL;
}

int cli_ini_value_ok(const char *value)
{
    size_t len = strlen(value);
    if (len && (isspace((unsigned char)value[0]) || isspace((unsigned char)value[len - 1])))
        return 0;
    if (value[0] == '#' || value[0] == ';') return 0;
    for (const char *p = value; *p; p++) {
        if (*p == '\n' || *p == '\r') return 0;
        if ((*p == '#' || *p == ';') && p > value && isspace((unsigned char)p[-1])) return 0;
    }
    return 1;
}
