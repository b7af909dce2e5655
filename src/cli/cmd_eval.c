/* cmd_eval.c - `mixgeo eval RUN --split train|val|test`: rebuild the run's
 * data exactly as train did (same seeds, validation split, standardisation;
 * data options may be overridden), load RUN/model.ckpt, and report loss, NLL
 * and accuracy on stdout and in RUN/eval-<split>.json. */
#include "cli.h"

#include <string.h>

static const char k_usage[] = "usage: mixgeo eval RUN [--split train|val|test] [DATA OPTIONS]";

static const char k_description[] =
    "Evaluate the model of a training run (RUN/model.ckpt) on a split of the run's data,\n"
    "rebuilt from RUN/config.ini.  Prints one line on stdout and writes\n"
    "RUN/eval-SPLIT.json (n, loss of the run's --loss kind, nll, accuracy).";

static const char k_epilog[] = "Exit status: 0 ok, 1 runtime failure, 2 usage or configuration "
                               "error.";

static cli_opt k_eval_opts[CLI_MAX_OPTS];
static int k_eval_n;

/* --split, the data options of train (defaults: the run's), --threads, -q, -h. */
static void build_table(void)
{
    if (k_eval_n) return;
    k_eval_opts[k_eval_n++] = (cli_opt){"split", 0, CLI_VALUE, "train|val|test", "test", 0,
                                        "the split to evaluate", "Evaluation"};
    k_eval_opts[k_eval_n++] = (cli_opt){"threads", 0, CLI_VALUE, "N", "1", 0,
                                        "threads of OpenBLAS and of the image layers' worker team "
                                        "(0 = all cores)",
                                        NULL};
    cli_add_data_overrides(k_eval_opts, &k_eval_n, CLI_MAX_OPTS - 2);
    k_eval_opts[k_eval_n++] = (cli_opt){"quiet", 'q', CLI_FLAG, NULL, "false", CLI_NO_NEG,
                                        "print nothing but errors", "Other"};
    k_eval_opts[k_eval_n++] = (cli_opt){"help", 'h', CLI_FLAG, NULL, "false", CLI_NO_NEG,
                                        "show this help and exit", NULL};
}

int cli_cmd_eval(int argc, char **argv)
{
    build_table();
    cli_values ev, rv;
    cli_values_init(&ev, k_eval_opts, k_eval_n);
    cli_values_init(&rv, cli_train_opts, cli_train_n_opts);
    cli_data data = {0};
    mg_model *m = NULL;
    cJSON *root = NULL;
    int rc = CLI_EXIT_USAGE, npos = 0;
    char *pos[1] = {NULL};
    mg_status st;

    if (cli_begin(&ev, "eval", argc, argv, pos, 1, &npos, k_usage,
                  k_description, k_epilog, &rc))
        goto done;
    if (npos != 1) {
        cli_error("eval: expected one run directory (usage: mixgeo eval RUN --split test)");
        goto done;
    }
    const char *run = pos[0];
    static const char *const splits[] = {"train", "val", "test", NULL};
    int split = 2, threads = 1;
    int bad = cli_get_enum(&ev, "split", splits, &split);
    bad += cli_get_int(&ev, "threads", 0, 256, &threads);
    if (bad) goto done;

    if (cli_run_config_load(&rv, run) != 0) goto done;
    for (int i = 0; i < ev.n; i++) {
        if (!(ev.opts[i].flags & CLI_DATA) || !ev.value[i]) continue;
        cli_set_by_name(&rv, ev.opts[i].name, ev.value[i], ev.origin[i]);
    }
    cli_set_by_name(&rv, "threads", cli_get(&ev, "threads"), cli_origin(&ev, "threads"));
    cli_run_config c;
    if (cli_run_config_resolve(&rv, &c)) goto done;
    mg_set_threads(c.train.threads);

    st = cli_data_load(&c, &data);
    if (st != MG_OK) {
        rc = cli_fail_status(st);
        goto done;
    }
    if (cli_run_config_finish_arch(&rv, &c, data.train)) goto done;
    const mg_dataset *set = split == 0 ? data.train : split == 1 ? data.val : data.test;
    if (!set) {
        cli_error("--split %s: the run has no %s set%s", splits[split],
                  split == 1 ? "validation" : "test",
                  split == 1 ? " (it was trained with --val 0)" : "");
        goto done;
    }

    char ckpt[4096], out[4096], name[32];
    snprintf(name, sizeof name, "eval-%s.json", splits[split]);
    if (cli_path(ckpt, sizeof ckpt, run, "model.ckpt") || cli_path(out, sizeof out, run, name)) {
        rc = cli_fail_status(MG_ERR_CONFIG);
        goto done;
    }
    st = mg_checkpoint_load_model(ckpt, &m);
    /* Batches as the trainer evaluated them, so that the numbers match
     * metrics.tsv exactly. */
    int B = c.train.batch < data.train->n ? c.train.batch : data.train->n;
    if (st == MG_OK) st = mg_model_reserve(m, B);
    if (st == MG_OK) st = mg_model_set_threads(m, c.train.threads);
    mg_eval_result res;
    if (st == MG_OK) st = mg_evaluate(m, set, c.train.loss, &res);
    if (st != MG_OK) {
        rc = cli_fail_status(st);
        goto done;
    }

    root = cli_json_stamped();
    if (!root) {
        rc = cli_fail_status(mg_fail(MG_ERR_NOMEM, "out of memory"));
        goto done;
    }
    cJSON_AddStringToObject(root, "run", run);
    cJSON_AddStringToObject(root, "checkpoint", ckpt);
    cJSON_AddStringToObject(root, "split", splits[split]);
    cJSON_AddStringToObject(root, "data", c.data);
    cJSON_AddStringToObject(root, "arch", mg_model_arch(m));
    cJSON_AddStringToObject(root, "loss_kind", mg_loss_name(c.train.loss));
    cJSON_AddNumberToObject(root, "n", res.n);
    cJSON_AddNumberToObject(root, "loss", res.loss);
    cJSON_AddNumberToObject(root, "nll", res.nll);
    cJSON_AddNumberToObject(root, "accuracy", res.accuracy);
    cJSON *ov = cJSON_CreateObject();
    for (int i = 0; i < ev.n; i++)
        if ((ev.opts[i].flags & CLI_DATA) && ev.value[i])
            cJSON_AddStringToObject(ov, ev.opts[i].name, cli_get(&rv, ev.opts[i].name));
    cJSON_AddItemToObject(root, "overrides", ov);
    st = cli_json_write(out, root);
    if (st != MG_OK) {
        rc = cli_fail_status(st);
        goto done;
    }
    if (!cli_quiet()) {
        printf("%s: %s  n %d  loss(%s) %.6g  nll %.6g  accuracy %.6g\n", run, splits[split], res.n,
               mg_loss_name(c.train.loss), res.loss, res.nll, res.accuracy);
        fflush(stdout);
    }
    rc = CLI_EXIT_OK;

done:
    cJSON_Delete(root);
    mg_model_free(m);
    cli_data_free(&data);
    cli_values_free(&ev);
    cli_values_free(&rv);
    return rc;
}
