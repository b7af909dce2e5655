/* run.c - opening a trained run for `eval`, `analyze` and `dump`: RUN/config.ini
 * (with the data overrides of the command line) rebuilds the run's data with
 * the same seeds, validation split and standardisation; RUN/model.ckpt is the
 * model; the split and layer asked for are checked (cli.h). */
#include "analyze.h"
#include "cli.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_splits[] = {"train", "val", "test", NULL};

void cli_analysis_add_opts(cli_opt *opts, int *n, const char *default_split)
{
    opts[(*n)++] = (cli_opt){"layer", 0, CLI_VALUE, "K|features", "auto", 0,
                             "the layer: 0 = input, 1..L-1 hidden states after block k, L = "
                             "logits; auto: L-1, the last hidden state; features (dump): the "
                             "input of the final dense layer (the pooled features of a "
                             "PreActResNet)",
                             "Selection"};
    opts[(*n)++] = (cli_opt){"split", 0, CLI_VALUE, "train|val|test", default_split, 0,
                             "the split of the run's data", NULL};
    opts[(*n)++] = (cli_opt){"max-per-class", 0, CLI_VALUE, "N|all|auto", "auto", 0,
                             "use only the first N examples of each class (in dataset order); "
                             "all: every example; auto: 300 when layer K or layer L-1 has more "
                             "than 2048 features (the stages of a convolutional net), else all",
                             NULL};
    opts[(*n)++] = (cli_opt){"threads", 0, CLI_VALUE, "N", "1", 0,
                             "threads of OpenBLAS and of the image layers' worker team "
                             "(0 = all cores)",
                             NULL};
    opts[(*n)++] = (cli_opt){"conv", 0, CLI_VALUE, "auto|im2col", "as in RUN/config.ini", 0,
                             "convolution implementation (train's --conv); im2col: our "
                             "reference kernels for every conv",
                             NULL};
    cli_add_data_overrides(opts, n, CLI_MAX_OPTS - 24);
}

void cli_analysis_close(cli_analysis_run *r)
{
    mg_run_close(&r->opened);
    mg_dataset_free(r->subset);
    cli_values_free(&r->rv);
    free(r->class_counts);
    memset(r, 0, sizeof *r);
}

/* Parse --max-per-class: "all" -> 0, "auto" -> -1 (resolved once the model
 * is known), else an integer >= 1. */
static int get_max_per_class(const cli_values *ev, int *out)
{
    const char *s = cli_get(ev, "max-per-class");
    if (strcmp(s, "all") == 0) {
        *out = 0;
        return 0;
    }
    if (strcmp(s, "auto") == 0) {
        *out = -1;
        return 0;
    }
    char *end;
    long x = strtol(s, &end, 10);
    if (end == s || *end)
        return cli_bad(ev, "max-per-class",
                       "not an integer (or 'all' for every example, 'auto')");
    if (x < 1 || x > INT_MAX)
        return cli_bad(ev, "max-per-class", "must be >= 1 (use 'all' for every example)");
    *out = (int)x;
    return 0;
}

int cli_analysis_open(cli_analysis_run *r, const char *run, const cli_values *ev)
{
    memset(r, 0, sizeof *r);
    cli_values_init(&r->rv, cli_train_opts, cli_train_n_opts);
    int bad = 0, threads = 1, layer = -1, layer_auto = 1;
    int has_layer = cli_opt_index(ev, "layer") >= 0;
    bad += cli_get_enum(ev, "split", k_splits, &r->split);
    bad += cli_get_int(ev, "threads", 0, 256, &threads);
    if (cli_opt_index(ev, "max-per-class") >= 0) bad += get_max_per_class(ev, &r->max_per_class);
    if (has_layer) {
        const char *l = cli_get(ev, "layer");
        layer_auto = strcmp(l, "auto") == 0;
        if (strcmp(l, "features") == 0) r->features = 1;
        else if (!layer_auto) bad += cli_get_int(ev, "layer", INT_MIN, INT_MAX, &layer);
    }
    if (bad) return CLI_EXIT_USAGE;
    r->split_name = k_splits[r->split];
    if (strlen(run) >= sizeof r->run) {
        cli_error("%s: run directory name too long", run);
        return CLI_EXIT_USAGE;
    }
    snprintf(r->run, sizeof r->run, "%s", run);
    if (cli_run_config_load(&r->rv, run) != 0) return CLI_EXIT_USAGE;
    for (int i = 0; i < ev->n; i++) {
        if (!(ev->opts[i].flags & CLI_DATA) || !ev->value[i]) continue;
        cli_set_by_name(&r->rv, ev->opts[i].name, ev->value[i], ev->origin[i]);
    }
    cli_set_by_name(&r->rv, "threads", cli_get(ev, "threads"), cli_origin(ev, "threads"));
    if (cli_opt_index(ev, "conv") >= 0 && cli_is_set(ev, "conv"))
        cli_set_by_name(&r->rv, "conv", cli_get(ev, "conv"), cli_origin(ev, "conv"));
    if (cli_run_config_resolve(&r->rv, &r->c)) return CLI_EXIT_USAGE;
    mg_set_threads(r->c.train.threads);
    mg_set_conv_backend(r->c.conv);

    mg_data_spec spec;
    cli_data_spec(&r->c, &spec);
    mg_status st = mg_run_open(run, &spec, r->split, &r->opened);
    if (st != MG_OK) return cli_fail_status(st);
    snprintf(r->ckpt, sizeof r->ckpt, "%s", r->opened.checkpoint);
    r->m = r->opened.model;
    r->set = r->opened.set;
    if (cli_run_config_finish_arch(&r->rv, &r->c, r->opened.data.train)) return CLI_EXIT_USAGE;
    int L = mg_model_n_blocks(r->m);
    if (layer_auto) layer = L - 1;
    if (r->features) {
        int nl = mg_model_n_layers(r->m);
        mg_layer_info li = mg_model_layer(r->m, nl - 1);
        if (li.kind != MG_LAYER_DENSE || nl < 2) {
            cli_bad(ev, "layer", "features: the last layer of %s is not dense",
                    mg_model_arch(r->m));
            return CLI_EXIT_USAGE;
        }
        layer = L; /* the pass runs to the logits; the features are read inside block L */
        r->feat_dim = li.in;
    }
    if (layer < 0 || layer > L) {
        cli_bad(ev, "layer",
                "outside 0..%d (model %s: 0 = input, 1..%d hidden states, %d = logits)", L,
                mg_model_arch(r->m), L - 1, L);
        return CLI_EXIT_USAGE;
    }
    r->layer = layer;
    r->max_per_class_auto = r->max_per_class < 0;
    r->max_per_class = mg_an_resolve_max_per_class(r->max_per_class, mg_an_model_wide(r->m, layer));
    return CLI_EXIT_OK;
}

int cli_analysis_select(cli_analysis_run *r)
{
    const mg_dataset *set = r->set;
    int C = mg_model_classes(r->m);
    int64_t *idx = malloc(sizeof(int64_t) * ((size_t)set->n + 1));
    int *ii = malloc(sizeof(int) * ((size_t)set->n + 1));
    r->class_counts = calloc((size_t)C, sizeof(int));
    mg_status st = MG_OK;
    if (!idx || !ii || !r->class_counts) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory");
    } else if (r->max_per_class > 0) {
        int m = (int)mg_an_select(set->y, set->n, C, r->max_per_class, idx, r->class_counts);
        for (int i = 0; i < m; i++) ii[i] = (int)idx[i];
        st = mg_dataset_subset(set, ii, m, &r->subset);
        if (st == MG_OK) r->set = r->subset;
    } else {
        mg_dataset_class_counts(set, r->class_counts);
    }
    free(idx);
    free(ii);
    /* the batches of the analyses (mg_analyze), so that dumped states are
     * bit for bit those that `analyze` sees */
    if (st == MG_OK) {
        int bmax = mg_an_model_wide(r->m, r->layer) ? MG_AN_WIDE_BATCH : 1024;
        st = mg_model_reserve(r->m, r->set->n < bmax ? r->set->n : bmax);
    }
    if (st == MG_OK) st = mg_model_set_threads(r->m, r->c.train.threads);
    return st == MG_OK ? CLI_EXIT_OK : cli_fail_status(st);
}

