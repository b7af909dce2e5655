/* suite_compare.c - experiment suites: [compare NAME] sections, a metric of
 * each run that is a comparison with another run of the grid.
 *
 *   [compare base]
 *   against = method=none        the reference: the run with the same values
 *                                on every other axis, these axes replaced
 *   layers = all | 1,2           every layer pair (mixgeo compare
 *                                --all-layers), or layer K against layer K
 *   split = test                 max-per-class = N|all|auto (passed on)
 *   self = skip | same | AXIS    a run that is its own reference: nothing,
 *                                itself, or the run at the next value of
 *                                AXIS (cyclically from three values on; of
 *                                two, only the first is compared, so that
 *                                the pair counts once): the seeds' noise
 *                                floor
 *
 * Each run of a train suite gets one compare step per section (layers = all)
 * or per layer of the list, after its own training and analyses:
 * `mixgeo compare RUN[:K] REF[:K] --split S --out RUN/compare/NAME` (a list:
 * .../NAME/LK, then merged into NAME/cka.tsv and NAME/summary.json, the
 * layers in the list's order).  The step can start once the reference is
 * trained (its steps/train.done, under the current configuration); its
 * marker records the reference's id, so a reference that changes (another
 * id) makes the step run again.  This file: parsing, the references of the
 * runs (after the grid's expansion: checked against the layers of both
 * networks and the examples both see), the readiness of a reference, the
 * next step of a run and the merge.  The backends decide what to do while a
 * reference is not ready (suite_local.c, suite_slurm.c).
 */
#include "suite_internal.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_NAME 40 /* a [compare NAME]: steps/compare-NAME-LK.done fits */

int sx_compare_index(const cli_suite *s, const char *name)
{
    for (int i = 0; i < s->n_compares; i++)
        if (!strcmp(s->compares[i].name, name)) return i;
    return -1;
}

/* "none, input, manifold" (the values of axis a). */
static void axis_values_text(const cli_suite *s, int a, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->axes[a].n && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", s->axes[a].values[i]);
        if (w > 0) used += (size_t)w;
    }
}

/* against = AXIS=VALUE ... */
static int parse_against(cli_suite *s, const cli_ini_entry *e, cli_suite_compare *c)
{
    sx_strlist l;
    if (sx_strlist_words(&l, e->value) || l.n == 0)
        return sx_bad(s, e->line, e->key,
                      "expected AXIS=VALUE items separated by blanks (against = method=none)");
    int problems = 0;
    for (int i = 0; i < l.n; i++) {
        char *eq = strchr(l.item[i], '=');
        if (!eq || eq == l.item[i] || !eq[1]) {
            problems += sx_bad(s, e->line, e->key, "'%s' is not AXIS=VALUE", l.item[i]);
            continue;
        }
        *eq = '\0';
        const char *value = eq + 1;
        int a = sx_axis_index(s, l.item[i]);
        if (a < 0) {
            problems += sx_bad(s, e->line, e->key,
                               "'%s' is not a [grid] axis (the reference has the values given "
                               "here and the run's values on every other axis)",
                               l.item[i]);
            continue;
        }
        if (sx_in_list(c->against_axis, c->n_against, a)) {
            problems += sx_bad(s, e->line, e->key, "the axis %s appears twice", l.item[i]);
            continue;
        }
        int vi = -1;
        for (int k = 0; k < s->axes[a].n; k++)
            if (!strcmp(s->axes[a].values[k], value)) vi = k;
        if (vi < 0) {
            char vals[1024];
            axis_values_text(s, a, vals, sizeof vals);
            problems +=
                sx_bad(s, e->line, e->key,
                       "%s=%s selects no run: '%s' is not a value of the axis %s "
                       "(%s%s)",
                       l.item[i], value, value, l.item[i], s->quick ? "under --quick: " : "", vals);
            continue;
        }
        c->against_axis[c->n_against] = a;
        c->against_vi[c->n_against++] = vi;
    }
    sx_strlist_free(&l);
    return problems;
}

/* layers = all | K, K, ... */
static int parse_layers(cli_suite *s, const cli_ini_entry *e, cli_suite_compare *c)
{
    c->layers_line = e->line;
    if (!strcmp(e->value, "all")) {
        c->all = 1;
        return 0;
    }
    c->all = 0;
    sx_strlist l;
    if (sx_strlist_split(&l, e->value, ','))
        return sx_bad(s, e->line, e->key, "expected all or a comma-separated list of layers (1,2)");
    int problems = 0;
    for (int i = 0; i < l.n; i++) {
        long k;
        if (!sx_parse_long_text(l.item[i], 0, 1000, &k)) {
            problems += sx_bad(s, e->line, e->key,
                               "'%s' is not a layer number (0 = the input .. L = the logits) "
                               "or all",
                               l.item[i]);
            continue;
        }
        if (sx_in_list(c->layers, c->n_layers, (int)k)) {
            problems += sx_bad(s, e->line, e->key, "layer %ld listed twice", k);
            continue;
        }
        c->layers[c->n_layers++] = (int)k;
    }
    sx_strlist_free(&l);
    return problems;
}

static int parse_section(cli_suite *s, const cli_ini_section *sec, cli_suite_compare *c)
{
    int problems = 0;
    c->name = sec->name;
    c->line = sec->line;
    c->layers_line = sec->line;
    c->all = 1;
    c->split = "test";
    c->self = CLI_SUITE_SELF_SKIP;
    if (strlen(sec->name) > MAX_NAME)
        problems += sx_bad(s, sec->line, NULL, "[compare %s]: a name of at most %d characters",
                           sec->name, MAX_NAME);
    const cli_ini_entry *against = NULL, *self = NULL;
    for (int i = 0; i < sec->n; i++) {
        const cli_ini_entry *e = &sec->e[i];
        if (!strcmp(e->key, "against")) {
            against = e;
            c->against_line = e->line;
        } else if (!strcmp(e->key, "layers")) {
            problems += parse_layers(s, e, c);
        } else if (!strcmp(e->key, "split")) {
            if (strcmp(e->value, "train") && strcmp(e->value, "val") && strcmp(e->value, "test"))
                problems += sx_bad(s, e->line, e->key,
                                   "unknown split '%s' (expected train, val or test)", e->value);
            c->split = e->value;
        } else if (!strcmp(e->key, "max-per-class")) {
            long x;
            if (strcmp(e->value, "all") != 0 && strcmp(e->value, "auto") != 0 &&
                !sx_parse_long_text(e->value, 1, 100000000, &x))
                problems += sx_bad(s, e->line, e->key, "not an integer >= 1, all or auto");
            c->max_per_class = e->value;
        } else if (!strcmp(e->key, "self")) {
            self = e;
        } else {
            problems += sx_bad(s, e->line, e->key,
                               "unknown key in [compare %s] (expected against, layers, split, "
                               "max-per-class, self)",
                               sec->name);
        }
    }
    if (!against)
        return problems + sx_bad(s, sec->line, NULL,
                                 "[compare %s]: against missing (the reference of each run, e.g. "
                                 "against = method=none)",
                                 sec->name);
    problems += parse_against(s, against, c);
    if (self && !strcmp(self->value, "skip")) {
        c->self = CLI_SUITE_SELF_SKIP;
    } else if (self && !strcmp(self->value, "same")) {
        c->self = CLI_SUITE_SELF_SAME;
    } else if (self) {
        int a = sx_axis_index(s, self->value);
        if (a < 0)
            problems += sx_bad(s, self->line, self->key,
                               "expected skip, same or a [grid] axis (self = seed: the run at the "
                               "next seed); '%s' is none of them",
                               self->value);
        else if (sx_in_list(c->against_axis, c->n_against, a))
            problems += sx_bad(s, self->line, self->key,
                               "'%s' is an axis of against: a run is its own reference only with "
                               "the against values, and those have no next value to take",
                               self->value);
        else
            c->self = a;
    }
    return problems;
}

/* The step text of section c (layer K, or -1 for every pair) into st. */
static int add_step(cli_suite *s, int ci, int layer)
{
    const cli_suite_compare *c = &s->compares[ci];
    cli_suite_step *st = &s->steps[s->n_steps];
    memset(st, 0, sizeof *st);
    st->kind = CLI_STEP_COMPARE;
    st->compare = ci;
    st->layer = layer;
    st->split = c->split;
    st->only = "";
    if (layer < 0)
        snprintf(st->name, sizeof st->name, "compare-%s", c->name);
    else
        snprintf(st->name, sizeof st->name, "compare-%s-L%d", c->name, layer);
    /* What the marker holds besides the reference's id: the settings that
     * change the result.  `self` only picks the reference of some runs,
     * which the marker's reference id covers. */
    char against[1024] = "";
    size_t used = 0;
    for (int i = 0; i < c->n_against && used < sizeof against; i++) {
        int w = snprintf(against + used, sizeof against - used, "%s%s=%s", i ? " " : "",
                         s->axes[c->against_axis[i]].key,
                         s->axes[c->against_axis[i]].values[c->against_vi[i]]);
        if (w > 0) used += (size_t)w;
    }
    char lk[32];
    if (layer < 0)
        snprintf(lk, sizeof lk, "all");
    else
        snprintf(lk, sizeof lk, "%d", layer);
    int w = snprintf(st->args, sizeof st->args,
                     "compare %s: against %s, layers %s, split %s, max-per-class %s", c->name,
                     against, lk, c->split, c->max_per_class ? c->max_per_class : "auto");
    if (w < 0 || (size_t)w >= sizeof st->args)
        return sx_bad(s, c->against_line, "against", "too long (at most %d characters)",
                      (int)sizeof st->args - 100);
    s->n_steps++;
    return 0;
}

int sx_parse_compares(cli_suite *s)
{
    int n = 0, problems = 0;
    for (int k = 0; k < s->n_sec; k++) n += !strcmp(s->sec[k].kind, "compare");
    if (!n) return 0;
    s->compares = xcalloc((size_t)n, sizeof *s->compares);
    for (int k = 0; k < s->n_sec; k++) {
        const cli_ini_section *sec = &s->sec[k];
        if (strcmp(sec->kind, "compare") != 0) continue;
        if (s->command != CLI_SUITE_TRAIN) {
            problems +=
                sx_bad(s, sec->line, NULL,
                       "[compare %s]: a %s suite has no networks to compare (train suites only)",
                       sec->name, s->command == CLI_SUITE_THEORY ? "theory" : "states");
            continue;
        }
        for (int i = 0; i < s->n_compares; i++)
            if (!strcmp(s->compares[i].name, sec->name))
                problems += sx_bad(s, sec->line, NULL, "[compare %s] is defined twice", sec->name);
        problems += parse_section(s, sec, &s->compares[s->n_compares++]);
    }
    if (problems) return problems;
    if (!cli_command_exists("compare"))
        return sx_bad(s, s->compares[0].line, NULL,
                      "[compare %s]: this mixgeo has no 'compare' command", s->compares[0].name);
    int steps = 0;
    for (int i = 0; i < s->n_compares; i++)
        steps += s->compares[i].all ? 1 : s->compares[i].n_layers;
    s->steps = xrealloc(s->steps, sizeof *s->steps * (size_t)(s->n_steps + steps));
    for (int i = 0; i < s->n_compares && !problems; i++) {
        const cli_suite_compare *c = &s->compares[i];
        if (c->all)
            problems += add_step(s, i, -1);
        else
            for (int k = 0; k < c->n_layers; k++) problems += add_step(s, i, c->layers[k]);
    }
    return problems;
}

/* ---------------------------------------------------------------- references */

/* The index of the run with axis values vi (grid order: the last axis
 * varies fastest, as expand() numbers them). */
static int run_index(const cli_suite *s, const int *vi)
{
    int r = 0;
    for (int a = 0; a < s->n_axes; a++) r = r * s->axes[a].n + vi[a];
    return r;
}

static int reference_of(const cli_suite *s, const cli_suite_compare *c, int run)
{
    int vi[CLI_SUITE_MAX_AXES];
    memcpy(vi, s->runs[run].vi, sizeof vi);
    for (int i = 0; i < c->n_against; i++) vi[c->against_axis[i]] = c->against_vi[i];
    int ref = run_index(s, vi);
    if (ref != run) return ref;
    if (c->self == CLI_SUITE_SELF_SKIP) return -1;
    if (c->self == CLI_SUITE_SELF_SAME) return run;
    /* the next value, cyclically with three or more (every pair of
     * neighbours once); with two values only the first run is compared, so
     * that the one pair counts once; with one, nothing */
    int a = c->self, n = s->axes[a].n;
    if (n < 2 || (n == 2 && vi[a] == 1)) return -1;
    vi[a] = (vi[a] + 1) % n;
    return run_index(s, vi);
}

static const char *run_key(const cli_suite *s, int run, const char *key)
{
    int i = sx_suite_opt(s, key);
    return i >= 0 && s->runs[run].config && s->runs[run].config[i] ? s->runs[run].config[i] : "";
}

/* 1 if runs a and b see the same examples of the split (their data keys
 * agree; with files of examples (fashion-mnist, idx:, csv:), no
 * standardisation and the test split, the seeds of the training subsets
 * do not matter); else 0 with the first difference in why. */
static int same_examples(const cli_suite *s, int a, int b, const char *split, char *why, size_t len)
{
    const char *data = run_key(s, a, "data");
    int files =
        !strcmp(data, "fashion-mnist") || !strncmp(data, "idx:", 4) || !strncmp(data, "csv:", 4);
    int loose = files && !strcmp(split, "test") && !strcmp(run_key(s, a, "standardize"), "false") &&
                !strcmp(run_key(s, b, "standardize"), "false");
    for (int i = 0; i < s->n_opts; i++) {
        const cli_opt *o = &s->opts[i];
        if (!(o->flags & CLI_DATA)) continue;
        if (loose && (!strcmp(o->name, "data-seed") || !strcmp(o->name, "val") ||
                      !strcmp(o->name, "n-train")))
            continue;
        const char *x = run_key(s, a, o->name), *y = run_key(s, b, o->name);
        if (strcmp(x, y) != 0) {
            snprintf(why, len, "%s: %s vs %s", o->name, x, y);
            return 0;
        }
    }
    return 1;
}

int sx_resolve_compares(cli_suite *s)
{
    int problems = 0;
    for (int ci = 0; ci < s->n_compares; ci++) {
        cli_suite_compare *c = &s->compares[ci];
        c->ref = xcalloc((size_t)s->n_runs, sizeof *c->ref);
        int bad_layer = 0, bad_data = 0, with_ref = 0;
        for (int r = 0; r < s->n_runs; r++) {
            int ref = c->ref[r] = reference_of(s, c, r);
            if (ref < 0) continue;
            with_ref++;
            int L = s->runs[r].n_blocks < s->runs[ref].n_blocks ? s->runs[r].n_blocks
                                                                : s->runs[ref].n_blocks;
            for (int k = 0; k < c->n_layers && !bad_layer; k++)
                if (c->layers[k] > L) {
                    problems += sx_bad(s, c->layers_line, "layers",
                                       "layer %d is outside 0..%d (0 = the input, %d = the "
                                       "logits of arch %s%s%s)",
                                       c->layers[k], L, L, run_key(s, r, "arch"),
                                       ref != r ? " and its reference's " : "",
                                       ref != r ? run_key(s, ref, "arch") : "");
                    bad_layer = 1;
                }
            char why[512];
            if (!bad_data && ref != r && !same_examples(s, r, ref, c->split, why, sizeof why)) {
                problems += sx_bad(
                    s, c->against_line, "against",
                    "run %s and its reference %s see different %s examples (%s); CKA needs the "
                    "same examples in the same order (synthetic data: data-seed follows seed "
                    "unless set in [base])",
                    s->runs[r].id, s->runs[ref].id, c->split, why);
                bad_data = 1;
            }
        }
        if (!with_ref && !problems)
            problems += sx_bad(s, c->against_line, "against",
                               "every run is its own reference (the grid has no other value "
                               "of the against axes%s): nothing to compare; add self = AXIS "
                               "(e.g. self = seed) or another value",
                               s->quick ? " under --quick" : "");
    }
    return problems;
}

int cli_suite_step_ref(const cli_suite *s, int run, const cli_suite_step *st)
{
    if (st->kind != CLI_STEP_COMPARE) return -1;
    const cli_suite_compare *c = &s->compares[st->compare];
    return c->ref ? c->ref[run] : -1;
}

int cli_suite_step_applies(const cli_suite *s, int run, const cli_suite_step *st)
{
    return st->kind != CLI_STEP_COMPARE || cli_suite_step_ref(s, run, st) >= 0;
}

int cli_suite_ref_ready(const cli_suite *s, int ref, char *why, size_t len)
{
    char dir[4096], cwhy[512];
    why[0] = '\0';
    const cli_suite_run *r = &s->runs[ref];
    if (cli_suite_run_dir(s, r, dir, sizeof dir) != MG_OK || !cli_dir_exists(dir) ||
        !cli_suite_step_done(s, ref, &s->steps[0], dir)) {
        snprintf(why, len, "%s is not trained yet", r->id);
        return 0;
    }
    if (!cli_suite_config_matches(s, r, dir, cwhy, sizeof cwhy)) {
        snprintf(why, len, "%s is to be trained again (configuration changed: %s)", r->id, cwhy);
        return 0;
    }
    return 1;
}

int cli_suite_next_step(const cli_suite *s, int run, const char *dir, int *blocked)
{
    *blocked = -1;
    for (int i = 0; i < s->n_steps; i++) {
        const cli_suite_step *st = &s->steps[i];
        if (!cli_suite_step_applies(s, run, st) || cli_suite_step_done(s, run, st, dir)) continue;
        if (st->kind == CLI_STEP_COMPARE) {
            int ref = cli_suite_step_ref(s, run, st);
            char why[512];
            if (ref != run && !cli_suite_ref_ready(s, ref, why, sizeof why)) {
                if (*blocked < 0) *blocked = i;
                continue;
            }
        }
        return i;
    }
    return s->n_steps;
}

mg_status cli_suite_compare_out(const cli_suite *s, const cli_suite_step *st, const char *dir,
                                char *buf, size_t len)
{
    MG_ASSERT(st->kind == CLI_STEP_COMPARE);
    const cli_suite_compare *c = &s->compares[st->compare];
    int n = st->layer < 0 ? snprintf(buf, len, "%s/compare/%s", dir, c->name)
                          : snprintf(buf, len, "%s/compare/%s/L%d", dir, c->name, st->layer);
    if (n < 0 || (size_t)n >= len) return mg_fail(MG_ERR_CONFIG, "path too long: %s", dir);
    return MG_OK;
}

/* ---------------------------------------------------------------- merge */

mg_status cli_suite_compare_merge(const cli_suite *s, const cli_suite_step *st, const char *dir)
{
    MG_ASSERT(st->kind == CLI_STEP_COMPARE);
    const cli_suite_compare *c = &s->compares[st->compare];
    if (c->all) return MG_OK; /* compare --all-layers wrote NAME/ itself */
    char base[4200], path[4400];
    snprintf(base, sizeof base, "%s/compare/%s", dir, c->name);
    cJSON *merged = NULL, *pairs = NULL, *layers = cJSON_CreateArray();
    sx_membuf tsv;
    sx_mb_open(&tsv);
    int n_pairs = 0, header = 0;
    for (int k = 0; k < c->n_layers; k++) {
        snprintf(path, sizeof path, "%s/L%d/summary.json", base, c->layers[k]);
        cJSON *j = cli_json_load(path);
        const cJSON *cka = cJSON_GetObjectItemCaseSensitive(j, "cka");
        const cJSON *jp = cJSON_GetObjectItemCaseSensitive(cka, "pairs");
        snprintf(path, sizeof path, "%s/L%d/cka.tsv", base, c->layers[k]);
        char *text = j && cJSON_IsArray(jp) ? sx_read_text(path, (size_t)16 << 20) : NULL;
        if (!text) { /* not compared yet */
            cJSON_Delete(j);
            continue;
        }
        if (!merged) {
            merged = j;
            pairs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "cka"),
                                                     "pairs");
            j = NULL;
        } else {
            const cJSON *p;
            cJSON_ArrayForEach(p, jp) cJSON_AddItemToArray(pairs, cJSON_Duplicate(p, 1));
        }
        cJSON_AddItemToArray(layers, cJSON_CreateNumber(c->layers[k]));
        cJSON_Delete(j);
        /* the header of the first file, the data lines of each */
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            if (line[0] == '#') {
                if (!header && !strncmp(line, "# columns:", 10))
                    fprintf(tsv.f,
                            "# merged by mixgeo suite: layer K of the run against layer K of "
                            "its reference, from compare/%s/LK/cka.tsv\n",
                            c->name);
                if (!header) fprintf(tsv.f, "%s\n", line);
                continue;
            }
            fprintf(tsv.f, "%s\n", line);
            n_pairs++;
        }
        header = 1;
        free(text);
    }
    mg_status e = MG_OK;
    if (!merged) {
        free(sx_mb_close(&tsv));
        cJSON_Delete(layers);
        return MG_OK;
    }
    cJSON *ck = cJSON_GetObjectItemCaseSensitive(merged, "cka");
    if (cJSON_GetArraySize(pairs) != 1) {
        cJSON_DeleteItemFromObjectCaseSensitive(ck, "linear");
        cJSON_DeleteItemFromObjectCaseSensitive(ck, "debiased");
    }
    cJSON_AddItemToObject(merged, "layers", layers);
    cJSON_DeleteItemFromObjectCaseSensitive(merged, "files");
    cJSON *files = cJSON_CreateArray();
    cJSON_AddItemToArray(files, cJSON_CreateString("cka.tsv"));
    cJSON_AddItemToArray(files, cJSON_CreateString("summary.json"));
    cJSON_AddItemToObject(merged, "files", files);
    cJSON_AddStringToObject(merged, "merged",
                            "mixgeo suite: one `mixgeo compare RUN:K REF:K` per layer K of the "
                            "[compare] section (LK/), their pairs in the list's order");
    snprintf(path, sizeof path, "%s/cka.tsv", base);
    e = sx_mb_write(&tsv, path);
    char *text = cJSON_Print(merged);
    if (e == MG_OK && !text) e = mg_fail(MG_ERR_NOMEM, "out of memory");
    if (e == MG_OK) {
        size_t n = strlen(text);
        char *t2 = xrealloc(text, n + 2);
        t2[n] = '\n';
        t2[n + 1] = '\0';
        text = t2;
        snprintf(path, sizeof path, "%s/summary.json", base);
        e = sx_write_text_atomic(path, text);
    }
    free(text);
    cJSON_Delete(merged);
    (void)n_pairs;
    return e;
}

/* ---------------------------------------------------------------- markers of the comparisons */

static mg_status compare_marker_path(const cli_suite_step *st, const char *dir, char *buf,
                                     size_t len)
{
    int n = snprintf(buf, len, "%s/steps/%s.done", dir, st->name);
    if (n < 0 || (size_t)n >= len) return mg_fail(MG_ERR_CONFIG, "path too long: %s", dir);
    return MG_OK;
}

int cli_suite_compares_current(const cli_suite *s, int run, const char *dir, char *why, size_t len)
{
    why[0] = '\0';
    for (int i = 0; i < s->n_steps; i++) {
        const cli_suite_step *st = &s->steps[i];
        if (st->kind != CLI_STEP_COMPARE) continue;
        char path[4400];
        if (cli_suite_step_applies(s, run, st)) {
            if (cli_suite_step_done(s, run, st, dir)) continue;
            snprintf(why, len, "%s to do (its reference is %s)", st->name,
                     s->runs[cli_suite_step_ref(s, run, st)].id);
            return 0;
        }
        if (compare_marker_path(st, dir, path, sizeof path) == MG_OK && cli_file_exists(path)) {
            snprintf(why, len, "%s no longer applies (the run is its own reference)", st->name);
            return 0;
        }
    }
    return 1;
}

/* Remove dir and everything in it (what a compare step wrote: files and
 * the LK/ directories of a layer list; symbolic links are not followed). */
static void remove_tree(const char *dir, int depth)
{
    DIR *d = depth < 8 ? opendir(dir) : NULL;
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            char p[4700];
            struct stat sb;
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
                remove_tree(p, depth + 1);
            else
                remove(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

void cli_suite_compares_clean(const cli_suite *s, int run, const char *dir)
{
    for (int i = 0; i < s->n_steps; i++) {
        const cli_suite_step *st = &s->steps[i];
        if (st->kind != CLI_STEP_COMPARE || cli_suite_step_applies(s, run, st)) continue;
        char path[4400];
        if (compare_marker_path(st, dir, path, sizeof path) != MG_OK || !cli_file_exists(path))
            continue;
        /* results of an earlier reference: gone, so that no metric reads them */
        char out[4400];
        int n = snprintf(out, sizeof out, "%s/compare/%s", dir, s->compares[st->compare].name);
        if (n > 0 && (size_t)n < sizeof out && cli_dir_exists(out)) remove_tree(out, 0);
        remove(path);
    }
}
