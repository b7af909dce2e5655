/* cmd_eval.c - `mixgeo eval RUN --split train|val|test`: rebuild the run's
 * data exactly as train did (same seeds, validation split, standardisation;
 * data options may be overridden), load RUN/model.ckpt, and report loss, NLL
 * and accuracy on stdout and in RUN/eval-<split>.json. */
#include "cli.h"

#include <stdlib.h>
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
    cli_values ev;
    cli_values_init(&ev, k_eval_opts, k_eval_n);
    cli_analysis_run *ar = calloc(1, sizeof *ar);
    cJSON *root = NULL;
    int rc = CLI_EXIT_USAGE, npos = 0, opened = 0;
    char *pos[1] = {NULL};
    mg_status st;

    if (!ar) {
        rc = cli_fail_status(mg_fail(MG_ERR_NOMEM, "out of memory"));
        goto done;
    }
    if (cli_begin(&ev, "eval", argc, argv, pos, 1, &npos, k_usage,
                  k_description, k_epilog, &rc))
        goto done;
    if (npos != 1) {
        cli_error("eval: expected one run directory (usage: mixgeo eval RUN --split test)");
        goto done;
    }
    const char *run = pos[0];
    opened = 1;
    if ((rc = cli_analysis_open(ar, run, &ev)) != CLI_EXIT_OK) goto done;
    rc = CLI_EXIT_USAGE;
    const cli_run_config *c = &ar->c;
    mg_model *m = ar->m;
    const cli_values *rv = &ar->rv;

    char out[4096], name[32];
    snprintf(name, sizeof name, "eval-%s.json", ar->split_name);
    if (cli_path(out, sizeof out, run, name)) {
        rc = cli_fail_status(MG_ERR_CONFIG);
        goto done;
    }
    /* Batches as the trainer evaluated them, so that the numbers match
     * metrics.tsv exactly. */
    const mg_dataset *train = ar->opened.data.train;
    int B = c->train.batch < train->n ? c->train.batch : train->n;
    st = mg_model_reserve(m, B);
    if (st == MG_OK) st = mg_model_set_threads(m, c->train.threads);
    mg_eval_result res;
    if (st == MG_OK) st = mg_evaluate(m, ar->set, c->train.loss, &res);
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
    cJSON_AddStringToObject(root, "checkpoint", ar->ckpt);
    cJSON_AddStringToObject(root, "split", ar->split_name);
    cJSON_AddStringToObject(root, "data", c->data);
    cJSON_AddStringToObject(root, "arch", mg_model_arch(m));
    cJSON_AddStringToObject(root, "loss_kind", mg_loss_name(c->train.loss));
    cJSON_AddNumberToObject(root, "n", res.n);
    cJSON_AddNumberToObject(root, "loss", res.loss);
    cJSON_AddNumberToObject(root, "nll", res.nll);
    cJSON_AddNumberToObject(root, "accuracy", res.accuracy);
    cJSON *ov = cJSON_CreateObject();
    for (int i = 0; i < ev.n; i++)
        if ((ev.opts[i].flags & CLI_DATA) && ev.value[i])
            cJSON_AddStringToObject(ov, ev.opts[i].name, cli_get(rv, ev.opts[i].name));
    cJSON_AddItemToObject(root, "overrides", ov);
    st = cli_json_write(out, root);
    if (st != MG_OK) {
        rc = cli_fail_status(st);
        goto done;
    }
    if (!cli_quiet()) {
        printf("%s: %s  n %d  loss(%s) %.6g  nll %.6g  accuracy %.6g\n", run, ar->split_name,
               res.n, mg_loss_name(c->train.loss), res.loss, res.nll, res.accuracy);
        fflush(stdout);
    }
    rc = CLI_EXIT_OK;

done:
    cJSON_Delete(root);
    if (ar && opened) cli_analysis_close(ar);
    free(ar);
    cli_values_free(&ev);
    return rc;
}
