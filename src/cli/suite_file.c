/* suite_file.c - experiment suites: the suite file and its grid.  Reads
 * the file (ini.h, the program's one INI reader), checks the sections
 * [suite], [base], [method N], [grid] and [analyze] and the run keys of the
 * suite's command (train, theory, states), hands [compare], [table],
 * [figure] and [claim] sections to their files (suite_compare.c,
 * suite_table.c, suite_figure.c, suite_claim.c), and expands the grid into
 * runs with stable ids (cli_suite_load, cli_suite_free).  See suite.h for
 * the file format.
 */
#include "suite_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <unistd.h>

#include "analyze.h" /* the registry of analyses: names, what external states allow */

#define MAX_RUNS 100000

/* ---------------------------------------------------------------- sections */

const cli_ini_section *sx_find_section(const cli_suite *s, const char *kind, const char *name)
{
    return cli_ini_find_section(s->sec, s->n_sec, kind, name);
}

/* ---------------------------------------------------------------- run keys */

/* The options of `mixgeo theory` a theory suite may set: k_opts of
 * cmd_theory.c (keep in sync; out and threads are set by the runner, quiet
 * and help are not configuration).  Values are checked by theory_check. */
static const cli_opt k_theory_opts[] = {
    {"classes", 0, CLI_VALUE, "D", "4", CLI_SAVE, "number of classes d (>= 2)", NULL},
    {"dims", 0, CLI_VALUE, "A-B", "auto", CLI_SAVE, "dimensions of the representation", NULL},
    {"n", 0, CLI_VALUE, "N", "auto", CLI_SAVE, "points, N/D per class", NULL},
    {"alpha", 0, CLI_VALUE, "X", "2", CLI_SAVE, "lambda ~ Beta(alpha, alpha)", NULL},
    {"loss", 0, CLI_VALUE, "sq|kl", "sq", CLI_SAVE, "squared or KL loss", NULL},
    {"iters", 0, CLI_VALUE, "N", "8000", CLI_SAVE, "Adam steps per dimension", NULL},
    {"lr", 0, CLI_VALUE, "X", "0.1", CLI_SAVE, "initial learning rate", NULL},
    {"lr-final", 0, CLI_VALUE, "X", "1e-06", CLI_SAVE, "final learning rate", NULL},
    {"quad-points", 0, CLI_VALUE, "N", "16", CLI_SAVE, "kl: lambda quadrature points", NULL},
    {"rank-rtol", 0, CLI_VALUE, "X", "0.001", CLI_SAVE, "numerical rank tolerance", NULL},
    {"seed", 0, CLI_VALUE, "N", "0", CLI_SAVE, "seed", NULL},
    {"out", 0, CLI_VALUE, "DIR", "auto", CLI_SAVE, "output directory", NULL},
    {"threads", 0, CLI_VALUE, "N", "1", CLI_SAVE, "OpenBLAS threads", NULL},
};
#define N_THEORY_OPTS ((int)(sizeof k_theory_opts / sizeof k_theory_opts[0]))

/* The options of `mixgeo analyze --states` a states suite may set: the
 * External states and Analyses options of cmd_analyze.c's table that apply
 * to external states (keep in sync; out and threads are set by the runner).
 * Values are checked by states_check; the options refused in a states suite
 * are in k_states_refused. */
static const cli_opt k_states_opts[] = {
    {"states", 0, CLI_VALUE, "FILE", "", CLI_SAVE, "the states (.npy, n x ...)", NULL},
    {"labels", 0, CLI_VALUE, "FILE", "", CLI_SAVE, "their labels (.npy, n integers)", NULL},
    {"logits", 0, CLI_VALUE, "FILE", "", CLI_SAVE, "their logits (.npy, n x classes)", NULL},
    {"readout", 0, CLI_VALUE, "W[,B]", "", CLI_SAVE, "the affine readout W (and bias B)", NULL},
    {"only", 0, CLI_VALUE, "LIST", "all", CLI_SAVE, "analyses to run", NULL},
    {"max-per-class", 0, CLI_VALUE, "N|all|auto", "auto", CLI_SAVE, "examples per class", NULL},
    {"seed", 0, CLI_VALUE, "N", "0", CLI_SAVE, "seed of the sampled pairs and subsets", NULL},
    {"bins", 0, CLI_VALUE, "N", "15", CLI_SAVE, "confidence bins (ECE/MCE)", NULL},
    {"hist-bins", 0, CLI_VALUE, "N", "40", CLI_SAVE, "histogram bins", NULL},
    {"lambdas", 0, CLI_VALUE, "N", "21", CLI_SAVE, "lambda grid points", NULL},
    {"pairs", 0, CLI_VALUE, "N|auto", "auto", CLI_SAVE, "pairs per kind", NULL},
    {"out", 0, CLI_VALUE, "DIR", "auto", CLI_SAVE, "output directory", NULL},
    {"threads", 0, CLI_VALUE, "N", "1", CLI_SAVE, "OpenBLAS threads", NULL},
};
#define N_STATES_OPTS ((int)(sizeof k_states_opts / sizeof k_states_opts[0]))

/* Options of `mixgeo analyze` that a states suite refuses, with the reason. */
static const sx_name_label k_states_refused[] = {
    {"layer", "selects a layer of a mixgeo run"},
    {"split", "selects a split of a mixgeo run's data"},
    {"data", "a data override of a mixgeo run"},
    {"data-dir", "a data override of a mixgeo run"},
    {"n-per-class", "a data override of a mixgeo run"},
    {"n-test-per-class", "a data override of a mixgeo run"},
    {"noise", "a data override of a mixgeo run"},
    {"data-seed", "a data override of a mixgeo run"},
    {"standardize", "a data override of a mixgeo run"},
    {"val", "a data override of a mixgeo run"},
    {"n-train", "a data override of a mixgeo run"},
    {"max-examples", "sets DeepFool in input space, which needs the network"},
    {"eps", "sets fgsm, which needs the network"},
    {"fgsm-no-clip", "sets fgsm, which needs the network"},
    {"grid", "sets maps, which need the network"},
    {"n-uniform", "sets the off-manifold inputs, which need the network"},
    {"n-noise", "sets the off-manifold inputs, which need the network"},
    {"quiet", "a command-line option, not a configuration key"},
    {"help", "a command-line option, not a configuration key"},
    {NULL, NULL},
};

/* The step name of a run (steps/NAME.done) and the word of messages. */
static const char *command_name(const cli_suite *s)
{
    return s->command == CLI_SUITE_THEORY   ? "theory"
           : s->command == CLI_SUITE_STATES ? "states"
                                            : "train";
}

int sx_suite_opt(const cli_suite *s, const char *key)
{
    for (int i = 0; i < s->n_opts; i++)
        if (!strcmp(s->opts[i].name, key)) return i;
    return -1;
}

/* Keys that do not change results: left out of the id hash and of the
 * configuration comparison. */
int sx_key_excluded(const char *key)
{
    return !strcmp(key, "out") || !strcmp(key, "threads") || !strcmp(key, "checkpoint-every");
}

/* A key a states suite does not know (key_check): the reason in one line. */
static int states_key_bad(const cli_suite *s, int line, const char *key, const char *where)
{
    static const char keys[] = "states, labels, logits, readout, only, max-per-class, seed, "
                               "bins, hist-bins, lambdas, pairs";
    const char *why = sx_lookup_label(k_states_refused, key);
    if (why)
        return sx_bad(s, line, key,
                      "not for a states suite: %s (command = states analyses saved activations; "
                      "its keys: %s)",
                      why, keys);
    for (int i = 0; i < cli_train_n_opts; i++)
        if (!strcmp(cli_train_opts[i].name, key))
            return sx_bad(s, line, key,
                          "a key of mixgeo train, not of a states suite (command = states runs "
                          "mixgeo analyze --states on saved activations; its keys: %s)",
                          keys);
    return sx_bad(s, line, key,
                  "unknown key in %s (expected a key of mixgeo analyze --states: %s; see mixgeo "
                  "suite --help)",
                  where, keys);
}

/* A run key usable in [base], [method], [grid] and quick. */
static int train_key_check(const cli_suite *s, int line, const char *key, const char *where)
{
    int i = sx_suite_opt(s, key);
    if (i < 0 && s->command == CLI_SUITE_STATES) return states_key_bad(s, line, key, where);
    if (i < 0)
        return sx_bad(s, line, key,
                      "unknown key in %s (expected a key of mixgeo %s: see "
                      "mixgeo %s --help)",
                      where, command_name(s), command_name(s));
    if (!(s->opts[i].flags & CLI_SAVE))
        return sx_bad(s, line, key, "a command-line option of mixgeo %s, not a configuration key",
                      command_name(s));
    if (!strcmp(key, "out") || !strcmp(key, "threads"))
        return sx_bad(
            s, line, key,
            "set by mixgeo suite (the run directory is OUT/runs/ID; threads come from -j), "
            "not by the suite file");
    return 0;
}

/* ---------------------------------------------------------------- labels */

/* The columns of RUN/metrics.tsv (k_columns of cmd_train.c) with the text a
 * reader sees on an axis. */
const sx_name_label sx_train_columns[] = {
    {"epoch", "epoch"},
    {"lr", "learning rate"},
    {"train_loss", "training loss"},
    {"train_acc", "training accuracy"},
    {"train_clean_loss", "clean training loss"},
    {"train_clean_acc", "clean training accuracy"},
    {"val_loss", "validation loss"},
    {"val_nll", "validation NLL (nats)"},
    {"val_acc", "validation accuracy"},
    {"test_loss", "test loss"},
    {"test_nll", "test NLL (nats)"},
    {"test_acc", "test accuracy"},
    {"seconds", "time per epoch (s)"},
    {NULL, NULL},
};

/* Numeric top-level keys of RUN/summary.json. */
const sx_name_label sx_summary_keys[] = {
    {"train_seconds", "training time (s)"},
    {"wall_seconds", "wall-clock time (s)"},
    {"samples_per_second", "training throughput (samples/s)"},
    {"n_params", "parameters"},
    {"epochs_done", "epochs done"},
    {"n_train", "training examples"},
    {"n_val", "validation examples"},
    {"n_test", "test examples"},
    {NULL, NULL},
};

/* Axis (train key) labels. */
static const sx_name_label k_axis_labels[] = {
    {"method", "method"},
    {"alpha", "mixup alpha"},
    {"mix-layers", "eligible layers"},
    {"wd", "weight decay"},
    {"dropout", "dropout probability"},
    {"input-noise", "input noise (std)"},
    {"lr", "learning rate"},
    {"epochs", "epochs"},
    {"batch", "batch size"},
    {"n-per-class", "training points per class"},
    {"noise", "data noise (std)"},
    {"arch", "layer widths"},
    {"seed", "seed"},
    {"data", "data"},
    {"loss", "loss"},
    {"classes", "classes d"},
    {"dims", "dimensions"},
    {"iters", "optimiser steps"},
    {"states", "states file"},
    {"max-per-class", "examples per class"},
    {"pairs", "pairs per kind"},
    {"bins", "confidence bins"},
    {NULL, NULL},
};

const char *sx_lookup_label(const sx_name_label *t, const char *name)
{
    for (int i = 0; t[i].name; i++)
        if (!strcmp(t[i].name, name)) return t[i].label;
    return NULL;
}

const char *sx_axis_label(const cli_suite_axis *a)
{
    const char *l = sx_lookup_label(k_axis_labels, a->key);
    return l ? l : a->key;
}

/* ---------------------------------------------------------------- analyses */

/* The analyses `mixgeo analyze --only` knows: "all" and the names of the
 * analysis library's registry (mg_analysis_infos, analyze.h). */
static int known_analysis(const char *name)
{
    return !strcmp(name, "all") || mg_analysis_find(name) >= 0;
}

static void analyses_text(char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = -1; i < MG_AN_COUNT && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i >= 0 ? ", " : "",
                         i < 0 ? "all" : mg_analysis_infos[i].name);
        if (w > 0) used += (size_t)w;
    }
}

/* ---------------------------------------------------------------- [suite] */

static int parse_suite_section(cli_suite *s, const cli_suite_opts *o)
{
    int problems = 0;
    const cli_ini_section *sec = sx_find_section(s, "suite", "");
    const char *name = NULL, *out = NULL, *desc = "";
    for (int i = 0; sec && i < sec->n; i++) {
        const cli_ini_entry *e = &sec->e[i];
        if (!strcmp(e->key, "command")) {
            /* read by cli_suite_load before everything else */
        } else if (!strcmp(e->key, "order")) {
            long x;
            if (!sx_parse_long_text(e->value, -1000000, 1000000, &x))
                problems += sx_bad(s, e->line, e->key, "expected an integer");
            else
                s->order = (int)x;
        } else if (!strcmp(e->key, "name")) {
            if (!sx_is_name(e->value))
                problems += sx_bad(s, e->line, e->key,
                                   "must be a word of letters, digits, '.', '_' or '-' (got '%s')",
                                   e->value);
            name = e->value;
        } else if (!strcmp(e->key, "description")) {
            desc = e->value;
        } else if (!strcmp(e->key, "out")) {
            if (!*e->value) problems += sx_bad(s, e->line, e->key, "empty directory");
            out = e->value;
        } else if (!strcmp(e->key, "aggregate")) {
            /* checked with the grid */
        } else if (!strncmp(e->key, "quick.", 6)) {
            if (!e->key[6])
                problems += sx_bad(s, e->line, e->key, "quick. needs a key (quick.epochs)");
        } else {
            problems +=
                sx_bad(s, e->line, e->key,
                       "unknown key in [suite] (expected name, description, command, order, "
                       "out, aggregate or quick.KEY)");
        }
    }
    char buf[1024];
    if (!name) {
        const char *b = strrchr(s->path, '/');
        b = b ? b + 1 : s->path;
        size_t n = strlen(b);
        if (n > 6 && !strcmp(b + n - 6, ".suite")) n -= 6;
        snprintf(buf, sizeof buf, "%.*s", (int)n, b);
        if (!sx_is_name(buf)) {
            cli_error("%s: the file name does not make a suite name; set [suite] name = NAME",
                      s->path);
            problems++;
        }
        name = buf;
    }
    s->name = xstrdup(name);
    s->description = xstrdup(desc);
    char dir[4096];
    if (o->out)
        snprintf(dir, sizeof dir, "%s", o->out);
    else if (o->root)
        snprintf(dir, sizeof dir, "%s/%s", o->root, s->name);
    else if (out)
        snprintf(dir, sizeof dir, "%s%s", out, s->quick ? "-quick" : "");
    else
        snprintf(dir, sizeof dir, "results/%s%s", s->name, s->quick ? "-quick" : "");
    s->out = xstrdup(dir);
    return problems;
}

/* ---------------------------------------------------------------- [method] */

static int parse_methods(cli_suite *s)
{
    int problems = 0;
    for (int k = 0; k < s->n_sec; k++) {
        const cli_ini_section *sec = &s->sec[k];
        if (strcmp(sec->kind, "method") != 0) continue;
        char where[256];
        snprintf(where, sizeof where, "[method %s]", sec->name);
        for (int i = 0; i < sec->n; i++) {
            if (!strcmp(sec->e[i].key, "label")) {
                if (!*sec->e[i].value)
                    problems += sx_bad(s, sec->e[i].line, "label", "empty label");
                continue;
            }
            problems += train_key_check(s, sec->e[i].line, sec->e[i].key, where);
        }
    }
    return problems;
}

/* ---------------------------------------------------------------- [grid] */

/* Check the values of an axis (key, text at line) into l. */
static int axis_values(cli_suite *s, int line, const char *key, const char *text, sx_strlist *l)
{
    int r = sx_strlist_split(l, text, '|');
    if (r == 1) {
        const char *p = text;
        while (isspace((unsigned char)*p)) p++;
        if (!*p) return sx_bad(s, line, key, "empty axis (give values: %s = v1 | v2)", key);
        return sx_bad(s, line, key, "empty value in the axis '%s'", text);
    }
    if (r == 2) return sx_bad(s, line, key, "more than %d values", CLI_SUITE_MAX_LIST);
    int problems = 0;
    for (int i = 0; i < l->n; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(l->item[i], l->item[j]))
                problems += sx_bad(s, line, key, "value '%s' listed twice", l->item[i]);
    if (!strcmp(key, "method")) {
        for (int i = 0; i < l->n; i++)
            if (!sx_find_section(s, "method", l->item[i])) {
                char names[512] = "";
                size_t used = 0;
                for (int k = 0; k < s->n_sec && used < sizeof names; k++) {
                    if (strcmp(s->sec[k].kind, "method") != 0) continue;
                    int w = snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "",
                                     s->sec[k].name);
                    if (w > 0) used += (size_t)w;
                }
                problems += sx_bad(s, line, key, "unknown method '%s' (defined: %s)", l->item[i],
                                   used ? names : "none; add a [method NAME] section");
            }
    }
    if (problems) sx_strlist_free(l);
    return problems;
}

int sx_axis_index(const cli_suite *s, const char *key)
{
    for (int a = 0; a < s->n_axes; a++)
        if (!strcmp(s->axes[a].key, key)) return a;
    return -1;
}

static void axis_set(cli_suite *s, cli_suite_axis *a, sx_strlist *l, int line)
{
    for (int i = 0; i < a->n; i++) {
        free(a->values[i]);
        free(a->labels[i]);
    }
    free(a->values);
    free(a->labels);
    a->line = line;
    a->n = l->n;
    a->values = xcalloc((size_t)l->n, sizeof *a->values);
    a->labels = xcalloc((size_t)l->n, sizeof *a->labels);
    a->numeric = 1;
    for (int i = 0; i < l->n; i++) {
        a->values[i] = l->item[i];
        double x;
        if (!sx_parse_double_text(a->values[i], &x)) a->numeric = 0;
        const cli_ini_entry *lab = NULL;
        if (!strcmp(a->key, "method"))
            lab = cli_ini_find_entry(sx_find_section(s, "method", l->item[i]), "label");
        char buf[512];
        if (lab)
            snprintf(buf, sizeof buf, "%s", lab->value);
        else if (!strcmp(a->key, "method"))
            snprintf(buf, sizeof buf, "%s", l->item[i]);
        else
            snprintf(buf, sizeof buf, "%s=%s", a->key, l->item[i]);
        a->labels[i] = xstrdup(buf);
    }
    l->n = 0; /* items now owned by the axis */
}

static int parse_grid(cli_suite *s)
{
    int problems = 0;
    const cli_ini_section *grid = sx_find_section(s, "grid", "");
    for (int i = 0; grid && i < grid->n; i++) {
        const cli_ini_entry *e = &grid->e[i];
        if (strcmp(e->key, "method") != 0 && train_key_check(s, e->line, e->key, "[grid]")) {
            problems++;
            continue;
        }
        sx_strlist l;
        if (axis_values(s, e->line, e->key, e->value, &l)) {
            problems++;
            continue;
        }
        if (s->n_axes == CLI_SUITE_MAX_AXES) {
            problems += sx_bad(s, e->line, e->key, "more than %d axes", CLI_SUITE_MAX_AXES);
            sx_strlist_free(&l);
            continue;
        }
        cli_suite_axis *a = &s->axes[s->n_axes++];
        a->key = xstrdup(e->key);
        axis_set(s, a, &l, e->line);
        if (!strcmp(e->key, "method")) s->method_axis = s->n_axes - 1;
    }
    /* quick.KEY: new values of an axis, or a train key set on every run. */
    const cli_ini_section *ss = sx_find_section(s, "suite", "");
    for (int i = 0; ss && i < ss->n; i++) {
        const cli_ini_entry *e = &ss->e[i];
        if (strncmp(e->key, "quick.", 6) != 0 || !e->key[6]) continue;
        const char *k = e->key + 6;
        int a = sx_axis_index(s, k);
        if (a >= 0) {
            sx_strlist l;
            if (axis_values(s, e->line, e->key, e->value, &l)) {
                problems++;
                continue;
            }
            if (s->quick)
                axis_set(s, &s->axes[a], &l, e->line);
            else
                sx_strlist_free(&l);
        } else if (!strcmp(k, "method")) {
            problems += sx_bad(s, e->line, e->key, "[grid] has no method axis");
        } else if (train_key_check(s, e->line, k, "quick.KEY")) {
            problems++;
        } else if (s->n_quick_set < CLI_SUITE_MAX_LIST) {
            s->quick_set[s->n_quick_set++] = e;
        }
    }
    /* aggregate: the axes averaged over in the report. */
    const cli_ini_entry *ag = cli_ini_find_entry(ss, "aggregate");
    if (ag) {
        sx_strlist l;
        if (sx_strlist_split(&l, ag->value, ',') == 0) {
            for (int i = 0; i < l.n; i++) {
                int a = sx_axis_index(s, l.item[i]);
                if (a < 0)
                    problems +=
                        sx_bad(s, ag->line, ag->key, "'%s' is not a [grid] axis", l.item[i]);
                else if (a == s->method_axis)
                    problems +=
                        sx_bad(s, ag->line, ag->key, "the method axis cannot be averaged over");
                else
                    s->axes[a].aggregate = 1;
            }
            sx_strlist_free(&l);
        } else if (*ag->value) {
            problems += sx_bad(s, ag->line, ag->key, "not a comma-separated list of axes");
        }
    } else {
        int a = sx_axis_index(s, "seed");
        if (a >= 0) s->axes[a].aggregate = 1;
    }
    s->replicates = 1;
    for (int a = 0; a < s->n_axes; a++)
        if (s->axes[a].aggregate) s->replicates *= s->axes[a].n;
    if (s->method_axis < 0 && !cli_ini_find_entry(grid, "method")) {
        const cli_ini_section *m = sx_find_section(s, "method", NULL);
        if (m)
            problems +=
                sx_bad(s, m->line, NULL,
                       "[method %s] is defined but [grid] has no method axis (add: method = "
                       "%s | ...)",
                       m->name, m->name);
    }
    return problems;
}

/* ---------------------------------------------------------------- [analyze] */

/* e's value split at commas into l (sx_strlist_free it).  Returns the problems:
 * 1 (reported as "expect"; l empty) for a malformed list. */
static int entry_list(cli_suite *s, const cli_ini_entry *e, const char *expect, sx_strlist *l)
{
    if (sx_strlist_split(l, e->value, ',')) return sx_bad(s, e->line, e->key, "%s", expect);
    return 0;
}

/* The analyses of e (`only = LIST` or `only.K = LIST`), each one of
 * the registry (an unknown one is reported with the names and then `also`),
 * joined with commas into *list (replaced; freed with the suite).  Returns
 * the problems. */
static int analyses_list(cli_suite *s, const cli_ini_entry *e, const char *also, char **list)
{
    sx_strlist l;
    int problems = entry_list(s, e, "not a comma-separated list of analyses", &l);
    char text[1024] = "";
    size_t used = 0;
    for (int k = 0; k < l.n; k++) {
        if (!known_analysis(l.item[k])) {
            char names[512];
            analyses_text(names, sizeof names);
            problems += sx_bad(s, e->line, e->key, "unknown analysis '%s' (expected %s%s)",
                               l.item[k], names, also);
        }
        int w = snprintf(text + used, sizeof text - used, "%s%s", k ? "," : "", l.item[k]);
        if (w > 0 && (size_t)w < sizeof text - used) used += (size_t)w;
    }
    sx_strlist_free(&l);
    free(*list);
    *list = xstrdup(text);
    return problems;
}

/* `only.K = LIST` of [analyze]: the analyses of layer K (an integer of
 * layers, or auto when layers has auto) instead of `only`.  Checked after
 * the other keys (they may come in any order); with the analyses switched
 * off (none) only the list itself is checked.  Returns the problems. */
static int parse_layer_only(cli_suite *s, const cli_ini_entry *e, int check_layer)
{
    cli_suite_analyze *an = &s->analyze;
    const char *k_text = e->key + 5;
    if (!strcmp(e->value, "none"))
        return sx_bad(s, e->line, e->key,
                      "none is not a list for one layer (to skip layer %s, remove it from layers)",
                      k_text);
    char *list = NULL;
    int problems = analyses_list(s, e, "", &list);
    long k = -1;
    if (strcmp(k_text, "auto") != 0 && !sx_parse_long_text(k_text, 0, 1000, &k)) {
        problems +=
            sx_bad(s, e->line, e->key,
                   "'%s' is not a layer number 0..1000 or auto (only.K = LIST: the analyses "
                   "of layer K)",
                   k_text);
        check_layer = 0;
    }
    int found = 0;
    for (int i = 0; check_layer && i < an->n_layers; i++) {
        if (an->layers[i] != (int)k) continue;
        if (an->only_layer[i] && !found) {
            free(list);
            return problems + sx_bad(s, e->line, e->key,
                                     "layer %s already has a list (another only.K names it)",
                                     an->layers[i] < 0 ? "auto" : k_text);
        }
        free(an->only_layer[i]);
        an->only_layer[i] = xstrdup(list);
        found = 1;
    }
    if (check_layer && !found)
        problems +=
            sx_bad(s, e->line, e->key, "layer %s is not among the layers of [analyze]", k_text);
    free(list);
    return problems;
}

static int parse_analyze(cli_suite *s)
{
    int problems = 0;
    cli_suite_analyze *an = &s->analyze;
    an->only = xstrdup("");
    an->max_per_class = xstrdup("");
    const cli_ini_section *sec = sx_find_section(s, "analyze", "");
    int none = 0;
    const cli_ini_entry *layers = NULL;
    for (int i = 0; sec && i < sec->n; i++) {
        const cli_ini_entry *e = &sec->e[i];
        if (!strcmp(e->key, "layers")) {
            layers = e;
            if (!strcmp(e->value, "none")) {
                none = 1;
                continue;
            }
            sx_strlist l;
            problems += entry_list(s, e, "not a comma-separated list of layers (1,2)", &l);
            for (int k = 0; k < l.n; k++) {
                long x;
                if (!strcmp(l.item[k], "auto"))
                    an->layers[an->n_layers++] = -1; /* analyze picks L-1 */
                else if (!sx_parse_long_text(l.item[k], 0, 1000, &x))
                    problems += sx_bad(s, e->line, e->key,
                                       "'%s' is not a layer number 0..1000 or auto", l.item[k]);
                else
                    an->layers[an->n_layers++] = (int)x;
            }
            sx_strlist_free(&l);
        } else if (!strcmp(e->key, "split")) {
            sx_strlist l;
            problems += entry_list(s, e, "not a list of train, val, test", &l);
            for (int k = 0; k < l.n; k++) {
                if (strcmp(l.item[k], "train") && strcmp(l.item[k], "val") &&
                    strcmp(l.item[k], "test"))
                    problems += sx_bad(s, e->line, e->key,
                                       "unknown split '%s' (expected train, val or "
                                       "test)",
                                       l.item[k]);
                else
                    an->splits[an->n_splits++] = xstrdup(l.item[k]);
            }
            sx_strlist_free(&l);
        } else if (!strcmp(e->key, "only")) {
            if (!strcmp(e->value, "none")) {
                none = 1;
                continue;
            }
            problems += analyses_list(s, e, ", or none", &an->only);
        } else if (!strncmp(e->key, "only.", 5)) {
            /* after the loop: needs layers, which may come later */
        } else if (!strcmp(e->key, "max-per-class")) {
            long x;
            if (strcmp(e->value, "all") != 0 && !sx_parse_long_text(e->value, 1, 100000000, &x))
                problems += sx_bad(s, e->line, e->key, "not an integer >= 1 or all");
            free(an->max_per_class);
            an->max_per_class = xstrdup(e->value);
        } else {
            problems += sx_bad(s, e->line, e->key,
                               "unknown key in [analyze] (expected layers, split, only, only.K, "
                               "max-per-class)");
        }
    }
    for (int i = 0; sec && i < sec->n; i++)
        if (!strncmp(sec->e[i].key, "only.", 5))
            problems += parse_layer_only(s, &sec->e[i], layers && !none);
    if (sec && s->command == CLI_SUITE_THEORY) {
        problems +=
            sx_bad(s, sec->line, NULL,
                   "[analyze]: a theory suite has no models to analyse (remove the section)");
        an->n_layers = 0;
    } else if (sec && s->command == CLI_SUITE_STATES) {
        problems += sx_bad(s, sec->line, NULL,
                           "[analyze]: a states suite has no layers or splits: each run is one "
                           "mixgeo analyze --states, set up by run keys (only, max-per-class, ... "
                           "in [base], [method N] or [grid]); remove the section");
        an->n_layers = 0;
    } else if (!sec || none) {
        an->n_layers = 0;
    } else if (!layers) {
        problems += sx_bad(s, sec->line, NULL,
                           "[analyze]: layers missing (the layers k to analyse, e.g. layers = 1,2; "
                           "or only = none)");
    } else if (an->n_layers && !cli_command_exists("analyze")) {
        problems += sx_bad(s, sec->line, NULL,
                           "[analyze]: this mixgeo has no 'analyze' command yet; set only = none");
    }
    if (an->n_splits == 0 && an->n_layers) an->splits[an->n_splits++] = xstrdup("test");

    /* The steps: train, then one analyze per (split, layer). */
    int n = 1 + an->n_splits * an->n_layers;
    s->steps = xcalloc((size_t)n, sizeof *s->steps);
    snprintf(s->steps[0].name, sizeof s->steps[0].name, "%s", command_name(s));
    snprintf(s->steps[0].args, sizeof s->steps[0].args, "%s", command_name(s));
    s->steps[0].layer = -1;
    s->steps[0].kind = CLI_STEP_RUN;
    s->steps[0].compare = -1;
    s->n_steps = 1;
    for (int i = 0; i < an->n_splits && an->n_layers; i++)
        for (int k = 0; k < an->n_layers; k++) {
            cli_suite_step *st = &s->steps[s->n_steps++];
            st->kind = CLI_STEP_ANALYZE;
            st->compare = -1;
            st->layer = an->layers[k];
            st->split = an->splits[i];
            char lk[16];
            if (st->layer < 0)
                snprintf(lk, sizeof lk, "auto");
            else
                snprintf(lk, sizeof lk, "%d", st->layer);
            snprintf(st->name, sizeof st->name, "analyze-%s-L%s", st->split, lk);
            st->only = an->only_layer[k] ? an->only_layer[k] : an->only;
            int w = snprintf(st->args, sizeof st->args, "--layer %s --split %s", lk, st->split);
            if (*st->only && w > 0)
                w += snprintf(st->args + w, sizeof st->args - (size_t)w, " --only %s", st->only);
            if (*an->max_per_class && w > 0 && (size_t)w < sizeof st->args)
                snprintf(st->args + w, sizeof st->args - (size_t)w, " --max-per-class %s",
                         an->max_per_class);
        }
    return problems;
}

void sx_steps_sign(cli_suite *s)
{
    uint64_t h = SX_FNV_INIT;
    for (int i = 0; i < s->n_steps; i++) {
        h = sx_fnv1a(h, s->steps[i].args);
        h = sx_fnv1a(h, "\n");
    }
    snprintf(s->steps_sig, sizeof s->steps_sig, "%016llx", (unsigned long long)h);
}

void cli_suite_kinds_text(char *buf, size_t len, int figures)
{
    const sx_output_kind *k = figures ? sx_figure_kinds : sx_table_kinds;
    int n = figures ? sx_n_figure_kinds : sx_n_table_kinds;
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", k[i].name);
        if (w > 0) used += (size_t)w;
    }
}

int sx_parse_outputs(cli_suite *s)
{
    int problems = 0;
    int nt = 0, nf = 0;
    for (int k = 0; k < s->n_sec; k++) {
        nt += !strcmp(s->sec[k].kind, "table");
        nf += !strcmp(s->sec[k].kind, "figure");
    }
    s->tables = xcalloc((size_t)nt, sizeof *s->tables);
    s->figures = xcalloc((size_t)nf, sizeof *s->figures);
    for (int k = 0; k < s->n_sec; k++) {
        const cli_ini_section *sec = &s->sec[k];
        int fig = !strcmp(sec->kind, "figure");
        if (!fig && strcmp(sec->kind, "table") != 0) continue;
        cli_suite_output *o = fig ? &s->figures[s->n_figures++] : &s->tables[s->n_tables++];
        o->name = sec->name;
        o->line = sec->line;
        o->sec = sec;
        o->col = -1;
        const sx_output_kind *kinds = fig ? sx_figure_kinds : sx_table_kinds;
        int nk = fig ? sx_n_figure_kinds : sx_n_table_kinds;
        char names[256];
        cli_suite_kinds_text(names, sizeof names, fig);
        const cli_ini_entry *ke = cli_ini_find_entry(sec, "kind");
        o->kind = -1;
        if (!ke && !fig)
            o->kind = 0;
        else if (!ke)
            problems += sx_bad(s, sec->line, NULL, "[figure %s]: kind missing (expected %s)",
                               sec->name, names);
        for (int i = 0; ke && i < nk; i++)
            if (!strcmp(kinds[i].name, ke->value)) o->kind = i;
        if (ke && o->kind < 0)
            problems +=
                sx_bad(s, ke->line, "kind", "unknown kind '%s' (expected %s)", ke->value, names);
        if (o->kind < 0) continue;
        int bad_keys = 0;
        for (int i = 0; i < sec->n; i++) {
            if (!strcmp(sec->e[i].key, "kind") || sx_word_in(kinds[o->kind].keys, sec->e[i].key))
                continue;
            bad_keys += sx_bad(s, sec->e[i].line, sec->e[i].key,
                               "unknown key in [%s %s] (kind %s accepts: kind %s)", sec->kind,
                               sec->name, kinds[o->kind].name, kinds[o->kind].keys);
        }
        problems += bad_keys;
        if (!bad_keys) problems += kinds[o->kind].check(s, o);
    }
    return problems;
}

/* ---------------------------------------------------------------- sections */

static int check_sections(cli_suite *s)
{
    int problems = 0;
    for (int k = 0; k < s->n_sec; k++) {
        const cli_ini_section *sec = &s->sec[k];
        if (!*sec->kind) { /* the keys before the first header */
            for (int i = 0; i < sec->n; i++)
                problems += sx_bad(s, sec->e[i].line, sec->e[i].key,
                                   "key outside of any section (keys go under [suite], [base], "
                                   "[grid], ...)");
            continue;
        }
        int named = !strcmp(sec->kind, "method") || !strcmp(sec->kind, "table") ||
                    !strcmp(sec->kind, "figure") || !strcmp(sec->kind, "claim") ||
                    !strcmp(sec->kind, "compare");
        int plain = !strcmp(sec->kind, "suite") || !strcmp(sec->kind, "base") ||
                    !strcmp(sec->kind, "grid") || !strcmp(sec->kind, "analyze");
        if (!named && !plain)
            problems +=
                sx_bad(s, sec->line, NULL,
                       "unknown section [%s%s%s] (expected [suite], [base], [grid], [method "
                       "NAME], [analyze], [compare NAME], [table NAME], [figure NAME], [claim "
                       "NAME])",
                       sec->kind, *sec->name ? " " : "", sec->name);
        else if (named && !sx_is_name(sec->name))
            problems += sx_bad(s, sec->line, NULL,
                               "[%s NAME]: NAME must be a word of letters, digits, '.', '_' or '-'",
                               sec->kind);
        else if (plain && *sec->name)
            problems += sx_bad(s, sec->line, NULL, "[%s] takes no name", sec->kind);
    }
    const cli_ini_section *base = sx_find_section(s, "base", "");
    for (int i = 0; base && i < base->n; i++)
        problems += train_key_check(s, base->e[i].line, base->e[i].key, "[base]");
    return problems;
}

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

static int expand(cli_suite *s)
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

/* ---------------------------------------------------------------- load / free */

int cli_suite_load(const char *path, const cli_suite_opts *o, cli_suite **out)
{
    *out = NULL;
    cli_suite *s = xcalloc(1, sizeof *s);
    s->path = xstrdup(path);
    s->quick = o->quick;
    s->method_axis = -1;
    int problems = cli_ini_read(path, 0, &s->sec, &s->n_sec);
    if (problems < 0) {
        cli_suite_free(s);
        return -1;
    }
    s->command = CLI_SUITE_TRAIN;
    s->opts = cli_train_opts;
    s->n_opts = cli_train_n_opts;
    const cli_ini_entry *ce = cli_ini_find_entry(sx_find_section(s, "suite", ""), "command");
    if (ce && !strcmp(ce->value, "theory")) {
        s->command = CLI_SUITE_THEORY;
        s->opts = k_theory_opts;
        s->n_opts = N_THEORY_OPTS;
    } else if (ce && !strcmp(ce->value, "states")) {
        s->command = CLI_SUITE_STATES;
        s->opts = k_states_opts;
        s->n_opts = N_STATES_OPTS;
    } else if (ce && strcmp(ce->value, "train") != 0) {
        problems += sx_bad(s, ce->line, ce->key,
                           "unknown command '%s' (expected train, theory or states)", ce->value);
    }
    problems += check_sections(s);
    problems += parse_suite_section(s, o);
    problems += parse_methods(s);
    problems += parse_grid(s);
    problems += parse_analyze(s);
    problems += sx_parse_compares(s);
    sx_steps_sign(s);
    if (!problems) problems += sx_parse_outputs(s);
    if (!problems) problems += sx_parse_claims(s);
    if (!problems) problems += expand(s);
    if (!problems) problems += sx_resolve_compares(s);
    if (problems) {
        cli_suite_free(s);
        return problems;
    }
    *out = s;
    return 0;
}

void cli_suite_free(cli_suite *s)
{
    if (!s) return;
    for (int a = 0; a < s->n_axes; a++) {
        for (int i = 0; i < s->axes[a].n; i++) {
            free(s->axes[a].values[i]);
            free(s->axes[a].labels[i]);
        }
        free(s->axes[a].values);
        free(s->axes[a].labels);
        free(s->axes[a].key);
    }
    for (int r = 0; r < s->n_runs; r++) {
        if (s->runs[r].config)
            for (int i = 0; i < s->n_opts; i++) free(s->runs[r].config[i]);
        free(s->runs[r].config);
    }
    free(s->runs);
    for (int i = 0; i < s->n_tables; i++) free(s->tables[i].metrics);
    for (int i = 0; i < s->n_figures; i++) {
        free(s->figures[i].metrics);
        for (int k = 0; k < s->figures[i].n_panels; k++) {
            free(s->figures[i].panels[k]);
            free(s->figures[i].panel_titles[k]);
        }
    }
    free(s->tables);
    free(s->figures);
    for (int i = 0; i < s->n_claims; i++) free(s->claims[i].o.metrics);
    free(s->claims);
    for (int i = 0; i < s->analyze.n_splits; i++) free(s->analyze.splits[i]);
    free(s->analyze.only);
    for (int i = 0; i < CLI_SUITE_MAX_LIST; i++) free(s->analyze.only_layer[i]);
    free(s->analyze.max_per_class);
    for (int i = 0; i < s->n_compares; i++) free(s->compares[i].ref);
    free(s->compares);
    free(s->steps);
    cli_ini_free(s->sec, s->n_sec);
    free(s->path);
    free(s->name);
    free(s->description);
    free(s->out);
    free(s);
}
