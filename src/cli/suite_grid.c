/* suite_grid.c - experiment suites: the grid expanded into runs, each with
 * its resolved keys and a stable id (slug + FNV-1a hash of the resolved
 * configuration), as suite_file.c has parsed it (suite_internal.h). */
#include "suite_internal.h"

#include "analyze.h" /* what external states allow (the registry of analyses) */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <unistd.h>

#define MAX_RUNS 100000 /* runs of one grid */

/* ---------------------------------------------------------------- expansion */

/* Lines printed to stderr while a run is resolved, captured (so that the
 * same problem of many runs is shown once). */
typedef struct {
    char **line;
    int n, cap;
} line_set;

static void line_set_add(line_set *ls, const char *line)
{
    for (int i = 0; i < ls->n; i++)
        if (!strcmp(ls->line[i], line)) return;
    if (ls->n == ls->cap) {
        ls->cap = ls->cap ? 2 * ls->cap : 16;
        ls->line = xrealloc(ls->line, sizeof *ls->line * (size_t)ls->cap);
    }
    ls->line[ls->n++] = xstrdup(line);
}

static void line_set_free(line_set *ls)
{
    for (int i = 0; i < ls->n; i++) free(ls->line[i]);
    free(ls->line);
}

static void set_value(cli_values *v, const cli_suite *s, const cli_ini_entry *e, const char *key,
                      const char *value)
{
    char origin[CLI_ORIGIN_LEN];
    snprintf(origin, sizeof origin, "%s:%d: %s", s->path, e ? e->line : 0, key);
    cli_set_by_name(v, key, value, origin);
}

/* "A-B" or "A" with 1 <= A <= B <= 100000 (theory --dims), or auto. */
static int theory_dims_ok(const char *t)
{
    if (!strcmp(t, "auto")) return 1;
    char *end;
    long a = strtol(t, &end, 10), b = a;
    if (end == t) return 0;
    if (*end == '-') {
        const char *p = end + 1;
        b = strtol(p, &end, 10);
        if (end == p) return 0;
    }
    return !*end && a >= 1 && b >= a && b <= 100000;
}

static int positive_double(const cli_values *v, const char *name)
{
    double x;
    if (cli_get_double(v, name, &x)) return 1;
    return x > 0 ? 0 : cli_bad(v, name, "must be > 0");
}

/* The checks of `mixgeo theory` (cmd_theory.c) on the values of a run. */
static int theory_check(const cli_values *v)
{
    int d = 4, x, bad_n = 0;
    uint64_t u;
    static const char *const losses[] = {"sq", "kl", "squared", NULL};
    bad_n += cli_get_int(v, "classes", 2, 100000, &d);
    if (!theory_dims_ok(cli_get(v, "dims")))
        bad_n += cli_bad(v, "dims", "expected A-B (e.g. 1-14), one dimension, or auto");
    if (strcmp(cli_get(v, "n"), "auto") != 0) {
        if (cli_get_int(v, "n", 2, INT_MAX, &x))
            bad_n++;
        else if (x < 2 * d || x % d != 0)
            bad_n += cli_bad(v, "n", "must be a multiple of classes %d and at least %d", d, 2 * d);
    }
    bad_n += positive_double(v, "alpha") + positive_double(v, "lr") +
             positive_double(v, "lr-final") + positive_double(v, "rank-rtol");
    bad_n += cli_get_enum(v, "loss", losses, &x);
    bad_n += cli_get_int(v, "iters", 1, INT_MAX, &x);
    bad_n += cli_get_int(v, "quad-points", 1, 100000, &x);
    bad_n += cli_get_u64(v, "seed", &u);
    return bad_n;
}

/* The checks of `mixgeo analyze --states` (cmd_analyze.c) that need no file:
 * states and labels given, the numbers in range, and the analyses named in
 * only possible on the inputs (mg_analysis_infos[].needs_ext).  The files
 * themselves are opened by the run (a missing one fails that run only). */
static int states_check(const cli_suite *s, const cli_values *v)
{
    int bad_n = 0, x;
    uint64_t u;
    const cli_ini_entry *ce = cli_ini_find_entry(sx_find_section(s, "suite", ""), "command");
    static const char *const needed[] = {"states", "labels", NULL};
    for (int i = 0; needed[i]; i++)
        if (!*cli_get(v, needed[i])) {
            cli_error("%s:%d: %s: missing: every run of a states suite needs states = H.npy and "
                      "labels = Y.npy (in [base], a [method N] preset or a [grid] axis)",
                      s->path, ce ? ce->line : 1, needed[i]);
            bad_n++;
        }
    const char *readout = cli_get(v, "readout"), *logits = cli_get(v, "logits");
    if (*readout) {
        const char *comma = strchr(readout, ',');
        if (comma == readout || (comma && (!comma[1] || strchr(comma + 1, ','))))
            bad_n += cli_bad(v, "readout", "expected W.npy or W.npy,B.npy");
    }
    int want[MG_AN_COUNT], named = 0;
    if (mg_analysis_parse_list(cli_get(v, "only"), want, &named) != MG_OK) {
        bad_n += cli_bad(v, "only", "%s", mg_errmsg());
    } else if (named) {
        for (int a = 0; a < MG_AN_COUNT; a++) {
            if (!want[a]) continue;
            unsigned need = mg_analysis_infos[a].needs_ext;
            const char *name = mg_analysis_infos[a].name;
            if (need & MG_NEED_MODEL)
                bad_n += cli_bad(v, "only",
                                 "%s needs the network (a mixgeo run), not external "
                                 "states",
                                 name);
            else if ((need & MG_NEED_READOUT) && !*readout)
                bad_n += cli_bad(v, "only",
                                 "%s needs the readout of the states (readout = "
                                 "W.npy[,B.npy])",
                                 name);
            else if ((need & MG_NEED_LOGITS) && !*logits && !*readout)
                bad_n += cli_bad(v, "only",
                                 "%s needs logits = Z.npy or readout = "
                                 "W.npy[,B.npy]",
                                 name);
        }
    }
    const char *mpc = cli_get(v, "max-per-class");
    if (strcmp(mpc, "all") != 0 && strcmp(mpc, "auto") != 0 &&
        cli_get_int(v, "max-per-class", 1, INT_MAX, &x))
        bad_n++;
    bad_n += cli_get_u64(v, "seed", &u);
    bad_n += cli_get_int(v, "bins", 1, 100000, &x);
    bad_n += cli_get_int(v, "hist-bins", 1, 1000000, &x);
    bad_n += cli_get_int(v, "lambdas", 2, 1000000, &x);
    if (strcmp(cli_get(v, "pairs"), "auto") != 0)
        bad_n += cli_get_int(v, "pairs", 1, 100000000, &x);
    return bad_n;
}

/* Resolve the configuration of run r into r->config.  Problems are
 * printed to stderr (the caller captures them). */
static int resolve_run(cli_suite *s, cli_suite_run *r)
{
    cli_values v;
    cli_values_init(&v, s->opts, s->n_opts);
    const cli_ini_section *base = sx_find_section(s, "base", "");
    for (int i = 0; base && i < base->n; i++)
        set_value(&v, s, &base->e[i], base->e[i].key, base->e[i].value);
    if (s->method_axis >= 0) {
        const cli_suite_axis *a = &s->axes[s->method_axis];
        const cli_ini_section *m = sx_find_section(s, "method", a->values[r->vi[s->method_axis]]);
        for (int i = 0; m && i < m->n; i++)
            if (strcmp(m->e[i].key, "label") != 0)
                set_value(&v, s, &m->e[i], m->e[i].key, m->e[i].value);
    }
    for (int a = 0; a < s->n_axes; a++) {
        if (a == s->method_axis) continue;
        const cli_suite_axis *ax = &s->axes[a];
        char origin[CLI_ORIGIN_LEN];
        snprintf(origin, sizeof origin, "%s:%d: %s", s->path, ax->line, ax->key);
        cli_set_by_name(&v, ax->key, ax->values[r->vi[a]], origin);
    }
    if (s->quick)
        for (int i = 0; i < s->n_quick_set; i++)
            set_value(&v, s, s->quick_set[i], s->quick_set[i]->key + 6, s->quick_set[i]->value);
    int problems;
    if (s->command == CLI_SUITE_THEORY) {
        problems = theory_check(&v);
    } else if (s->command == CLI_SUITE_STATES) {
        problems = states_check(s, &v);
    } else {
        cli_run_config c;
        problems = cli_run_config_resolve(&v, &c);
        r->n_blocks = problems ? 0 : c.n_blocks;
    }
    if (!problems) {
        r->config = xcalloc((size_t)s->n_opts, sizeof *r->config);
        for (int i = 0; i < s->n_opts; i++)
            if (s->opts[i].flags & CLI_SAVE) r->config[i] = xstrdup(cli_get(&v, s->opts[i].name));
    }
    cli_values_free(&v);
    return problems;
}

static const cli_opt *g_sort_opts;
static int cmp_opt_names(const void *a, const void *b)
{
    return strcmp(g_sort_opts[*(const int *)a].name, g_sort_opts[*(const int *)b].name);
}

/* FNV-1a 64 of the sorted "key=value\n" lines of the keys that change results
 * and differ from their default text (theory: after "command=theory\n";
 * states: after "command=states\n"). */
static uint64_t config_hash(const cli_suite *s, const cli_suite_run *r)
{
    int idx[CLI_MAX_OPTS], n = 0;
    for (int i = 0; i < s->n_opts && n < CLI_MAX_OPTS; i++) idx[n++] = i;
    g_sort_opts = s->opts;
    qsort(idx, (size_t)n, sizeof idx[0], cmp_opt_names);
    uint64_t h = SX_FNV_INIT;
    if (s->command == CLI_SUITE_THEORY) h = sx_fnv1a(h, "command=theory\n");
    if (s->command == CLI_SUITE_STATES) h = sx_fnv1a(h, "command=states\n");
    for (int k = 0; k < n; k++) {
        const cli_opt *o = &s->opts[idx[k]];
        if (!(o->flags & CLI_SAVE) || sx_key_excluded(o->name)) continue;
        const char *val = r->config[idx[k]];
        if (!strcmp(val, o->def ? o->def : "")) continue;
        h = sx_fnv1a(h, o->name);
        h = sx_fnv1a(h, "=");
        h = sx_fnv1a(h, val);
        h = sx_fnv1a(h, "\n");
    }
    return h;
}

static void make_id(const cli_suite *s, cli_suite_run *r)
{
    char slug[128];
    size_t used = 0;
    slug[0] = '\0';
    for (int a = 0; a < s->n_axes && used + 1 < sizeof slug; a++) {
        const cli_suite_axis *ax = &s->axes[a];
        char part[256];
        size_t pl = 0;
        if (a != s->method_axis)
            for (const char *k = ax->key; *k && pl + 1 < sizeof part; k++)
                if (*k != '-') part[pl++] = *k;
        for (const char *v = ax->values[r->vi[a]]; *v && pl + 1 < sizeof part; v++) {
            char ch = *v;
            part[pl++] = (isalnum((unsigned char)ch) || ch == '.' || ch == '+') ? ch : '-';
        }
        part[pl] = '\0';
        int w = snprintf(slug + used, sizeof slug - used, "%s%s", used ? "_" : "", part);
        if (w > 0) used += (size_t)w;
        if (used >= sizeof slug) used = sizeof slug - 1;
    }
    if (used > 100) used = 100;
    slug[used] = '\0';
    uint32_t h32 = (uint32_t)(r->hash ^ (r->hash >> 32));
    snprintf(r->id, sizeof r->id, "%s-%08x", used ? slug : "run", h32);
}

static const cli_suite_run *g_sort_runs;
static int cmp_run_ids(const void *a, const void *b)
{
    return strcmp(g_sort_runs[*(const int *)a].id, g_sort_runs[*(const int *)b].id);
}

int sx_expand_grid(cli_suite *s)
{
    long total = 1;
    for (int a = 0; a < s->n_axes; a++) {
        total *= s->axes[a].n;
        if (total > MAX_RUNS) {
            const cli_ini_section *g = sx_find_section(s, "grid", "");
            return sx_bad(s, g ? g->line : 1, NULL, "[grid]: more than %d runs", MAX_RUNS);
        }
    }
    s->runs = xcalloc((size_t)total, sizeof *s->runs);
    s->n_runs = (int)total;
    line_set errors = {0};
    int failing = 0;
    for (long r = 0; r < total; r++) {
        cli_suite_run *run = &s->runs[r];
        long q = r;
        for (int a = s->n_axes - 1; a >= 0; a--) {
            run->vi[a] = (int)(q % s->axes[a].n);
            q /= s->axes[a].n;
        }
        /* Capture what the resolution prints. */
        fflush(stderr);
        FILE *tmp = tmpfile();
        int saved = -1;
        if (tmp) {
            saved = dup(STDERR_FILENO);
            if (saved >= 0) dup2(fileno(tmp), STDERR_FILENO);
        }
        int p = resolve_run(s, run);
        fflush(stderr);
        if (saved >= 0) {
            dup2(saved, STDERR_FILENO);
            close(saved);
        }
        if (tmp) {
            rewind(tmp);
            char line[2048];
            while (fgets(line, sizeof line, tmp)) line_set_add(&errors, line);
            fclose(tmp);
        }
        if (p)
            failing++;
        else
            run->hash = config_hash(s, run);
    }
    for (int i = 0; i < errors.n; i++) fputs(errors.line[i], stderr);
    line_set_free(&errors);
    if (failing) {
        cli_error("%s: %d of %ld runs of the grid have configuration errors", s->path, failing,
                  total);
        return failing;
    }
    for (int r = 0; r < s->n_runs; r++) make_id(s, &s->runs[r]);
    int *idx = xcalloc((size_t)s->n_runs, sizeof *idx);
    for (int r = 0; r < s->n_runs; r++) idx[r] = r;
    g_sort_runs = s->runs;
    qsort(idx, (size_t)s->n_runs, sizeof *idx, cmp_run_ids);
    int problems = 0;
    for (int k = 1; k < s->n_runs; k++)
        if (!strcmp(s->runs[idx[k]].id, s->runs[idx[k - 1]].id)) {
            cli_error("%s: two runs of the grid have the same id %s (same axis values up to "
                      "punctuation and the same configuration)",
                      s->path, s->runs[idx[k]].id);
            problems++;
        }
    free(idx);
    return problems;
}

