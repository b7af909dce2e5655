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
    if (!problems) problems += sx_expand_grid(s);
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
