/* cmd_train.c - `mixgeo train`: build data, model and trainer from the
 * options, train, and keep the run directory current after every epoch:
 *
 *   RUN/config.ini    every key, resolved (reproduce: --config RUN/config.ini)
 *   RUN/metrics.tsv   provenance line, "# columns: ...", one row per epoch,
 *                     rewritten atomically each epoch from the rows in memory
 *   RUN/summary.json  status (running, finished, interrupted, diverged, or
 *                     failed with the error), final and best metrics, timing,
 *                     provenance, and the segments: every start of this run
 *                     (epochs finished before it, step, threads, git)
 *   RUN/model.ckpt    the trainer state (mg_trainer_save), at epoch 0, every
 *                     --checkpoint-every epochs, at the end and on interrupt
 *
 * Resume (--resume RUN) reloads config.ini and model.ckpt and keeps the rows
 * of finished epochs from metrics.tsv; the trainer is counter-based, so a
 * resumed run writes the same model.ckpt and metrics (but for the seconds
 * column) as an uninterrupted one.  Nothing in RUN is written before the
 * checkpoint has been validated and loaded (mg_trainer_load checks every
 * field) and the old rows read.
 *
 * Every run first removes the temp files that writers killed between write
 * and rename left in RUN (mg_remove_stale_temps: only of dead processes of
 * this host).  A run that stops on an error writes summary.json with status
 * "failed" and the error (best effort: on a full disk that may fail too).
 *
 * Testing aid: the environment variable MIXGEO_STOP_AFTER_STEPS=N makes the
 * run behave as if interrupted (SIGINT) after N training steps of this
 * process, so that interrupt + resume can be tested deterministically.
 */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    COL_EPOCH,
    COL_LR,
    COL_TRAIN_LOSS,
    COL_TRAIN_ACC,
    COL_TRAIN_CLEAN_LOSS,
    COL_TRAIN_CLEAN_ACC,
    COL_VAL_LOSS,
    COL_VAL_NLL,
    COL_VAL_ACC,
    COL_TEST_LOSS,
    COL_TEST_NLL,
    COL_TEST_ACC,
    COL_SECONDS,
    N_COLS
};
static const char *const k_columns[N_COLS] = {
    "epoch",           "lr",       "train_loss", "train_acc", "train_clean_loss",
    "train_clean_acc", "val_loss", "val_nll",    "val_acc",   "test_loss",
    "test_nll",        "test_acc", "seconds"};
/* metrics.tsv of runs before the clean training metrics: these columns less */
enum { N_COLS_LEGACY = N_COLS - 2 };

static const char k_usage[] =
    "usage: mixgeo train [OPTIONS]\n"
    "       mixgeo train --config FILE [OPTIONS]   (flags override the file)\n"
    "       mixgeo train --resume RUN [--epochs N]";

static const char k_description[] =
    "Train an MLP with Manifold Mixup (--mix manifold), input mixup (--mix input) or\n"
    "none, and write the run directory RUN (--out):\n"
    "  config.ini    every option, resolved: mixgeo train --config RUN/config.ini\n"
    "                --out NEW reproduces the run\n"
    "  metrics.tsv   one row per epoch: epoch lr train_loss train_acc\n"
    "                train_clean_loss train_clean_acc val_loss val_nll val_acc\n"
    "                test_loss test_nll test_acc seconds (train_loss/acc: of the\n"
    "                mixed batches; train_clean_*: eval mode on unmixed training\n"
    "                data, see --clean-eval)\n"
    "  summary.json  final and best metrics (best = highest val_acc with --val,\n"
    "                else highest test_acc), loss kind, seeds, timing, git revision\n"
    "  model.ckpt    trainer checkpoint (mixgeo eval RUN, mixgeo train --resume RUN)";

static const char k_epilog[] =
    "Ctrl-C (SIGINT) or SIGTERM stops after the current step, saves RUN/model.ckpt and\n"
    "exits with status 130; continue with: mixgeo train --resume RUN.  A loss that\n"
    "becomes NaN/Inf stops the run with status 1 and keeps the last good checkpoint.\n"
    "Exit status: 0 ok, 1 runtime failure, 2 usage or configuration error,\n"
    "130 interrupted.";

typedef struct {
    cli_values *v;
    const cli_run_config *c;
    const cli_data *data;
    mg_model *m;
    mg_trainer *t;
    char run[1024];
    char ckpt[4096], metrics[4096], summary[4096];
    char provenance[2048];
    double *rows; /* nrows x N_COLS, values rounded like the TSV */
    int nrows, cap;
    int saved_epoch, saved_step; /* position of the checkpoint on disk */
    mg_status hook_err;          /* a failure inside a hook */
    char hook_msg[1024];
    double wall_start;
    int resumed, resumed_epoch, resumed_step;
    cJSON *segments; /* summary.json "segments": where each start began, its threads, git */
    int dir_ready;   /* RUN exists and holds this run's config.ini: summaries may be written */
    /* progress line */
    int prog_epoch, prog_step0;
    double prog_t0;
    long long steps_run, stop_after;
} train_run;

/* ---------------------------------------------------------------- rows */

static int push_row(train_run *r, const double *row)
{
    if (r->nrows == r->cap) {
        int cap = r->cap ? 2 * r->cap : 64;
        double *nr = realloc(r->rows, sizeof *nr * (size_t)cap * N_COLS);
        if (!nr) return -1;
        r->rows = nr;
        r->cap = cap;
    }
    memcpy(r->rows + (size_t)r->nrows * N_COLS, row, sizeof *row * N_COLS);
    r->nrows++;
    return 0;
}

static mg_status write_metrics(train_run *r)
{
    return cli_tsv_write(r->metrics, r->provenance, k_columns, N_COLS, r->rows, r->nrows);
}

/* ---------------------------------------------------------------- summary.json */

static void add_u64(cJSON *o, const char *key, uint64_t x)
{
    if (x <= (1ull << 53)) {
        cJSON_AddNumberToObject(o, key, (double)x);
    } else {
        char buf[32];
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)x);
        cJSON_AddStringToObject(o, key, buf);
    }
}

static cJSON *row_json(const double *row)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    for (int c = 0; c < N_COLS; c++) {
        if (isnan(row[c]))
            cJSON_AddNullToObject(o, k_columns[c]);
        else
            cJSON_AddNumberToObject(o, k_columns[c], row[c]);
    }
    return o;
}

/* Column by which "best" is chosen: val_acc with a validation set, else
 * test_acc, else none (-1). */
static int best_column(const train_run *r)
{
    if (r->data->val) return COL_VAL_ACC;
    if (r->data->test) return COL_TEST_ACC;
    return -1;
}

/* error: the reason of a "failed" run, else NULL. */
static mg_status write_summary(train_run *r, const char *status, const char *error)
{
    const cli_run_config *c = r->c;
    cJSON *root = cli_json_stamped();
    if (!root) return mg_fail(MG_ERR_NOMEM, "out of memory writing %s", r->summary);
    cJSON_AddStringToObject(root, "status", status);
    if (error) cJSON_AddStringToObject(root, "error", error);
    cJSON_AddStringToObject(root, "run", r->run);
    add_u64(root, "seed", c->train.seed);
    add_u64(root, "data_seed", c->data_seed);
    cJSON_AddStringToObject(root, "data", c->data);
    cJSON_AddStringToObject(root, "arch", mg_model_arch(r->m));
    cJSON_AddStringToObject(root, "mix", mg_mix_mode_name(c->train.mix));
    cJSON_AddStringToObject(root, "loss", mg_loss_name(c->train.loss));
    cJSON_AddNumberToObject(root, "epochs", c->train.epochs);
    int done = r->nrows ? (int)r->rows[(size_t)(r->nrows - 1) * N_COLS + COL_EPOCH] : 0;
    cJSON_AddNumberToObject(root, "epochs_done", done);
    cJSON_AddNumberToObject(root, "n_train", r->data->train->n);
    cJSON_AddNumberToObject(root, "n_val", r->data->val ? r->data->val->n : 0);
    cJSON_AddNumberToObject(root, "n_test", r->data->test ? r->data->test->n : 0);
    cJSON_AddNumberToObject(root, "n_params", (double)mg_model_n_params(r->m));
    char conv[256];
    mg_model_conv_backend(r->m, conv, sizeof conv);
    cJSON_AddStringToObject(root, "conv_backend", conv);
    cJSON_AddItemToObject(root, "config", cli_values_to_json(r->v));
    if (r->nrows)
        cJSON_AddItemToObject(root, "final", row_json(r->rows + (size_t)(r->nrows - 1) * N_COLS));
    else
        cJSON_AddNullToObject(root, "final");

    int bc = best_column(r);
    cJSON *best = cJSON_CreateObject();
    cJSON_AddStringToObject(best, "by", bc < 0 ? "none" : k_columns[bc]);
    int bi = -1;
    for (int i = 0; bc >= 0 && i < r->nrows; i++) {
        double x = r->rows[(size_t)i * N_COLS + bc];
        if (!isnan(x) && (bi < 0 || x > r->rows[(size_t)bi * N_COLS + bc])) bi = i;
    }
    if (bi >= 0) {
        cJSON *br = row_json(r->rows + (size_t)bi * N_COLS);
        cJSON *child = br ? br->child : NULL;
        /* flatten: best.by, best.epoch, best.<metric>... */
        while (child) {
            cJSON *next = child->next;
            cJSON_AddItemToObject(best, child->string, cJSON_DetachItemViaPointer(br, child));
            child = next;
        }
        cJSON_Delete(br);
    }
    cJSON_AddItemToObject(root, "best", best);

    double train_seconds = 0.0;
    for (int i = 0; i < r->nrows; i++) train_seconds += r->rows[(size_t)i * N_COLS + COL_SECONDS];
    cJSON_AddNumberToObject(root, "train_seconds", train_seconds);
    cJSON_AddNumberToObject(root, "samples_per_second",
                            train_seconds > 0 ? (double)done * r->data->train->n / train_seconds
                                              : 0.0);
    cJSON_AddNumberToObject(root, "wall_seconds", cli_now() - r->wall_start);
    if (r->segments) cJSON_AddItemToObject(root, "segments", cJSON_Duplicate(r->segments, 1));
    if (r->resumed) {
        cJSON *rs = cJSON_CreateObject();
        cJSON_AddNumberToObject(rs, "epoch", r->resumed_epoch);
        cJSON_AddNumberToObject(rs, "step", r->resumed_step);
        cJSON_AddItemToObject(root, "resumed_from", rs);
    }
    mg_status st = cli_json_write(r->summary, root);
    cJSON_Delete(root);
    return st;
}

/* ---------------------------------------------------------------- hooks */

static void hook_fail(train_run *r, mg_status st)
{
    r->hook_err = st;
    snprintf(r->hook_msg, sizeof r->hook_msg, "%s", mg_errmsg());
}

static mg_status save_checkpoint(train_run *r)
{
    mg_status st = mg_trainer_save(r->t, r->ckpt);
    if (st == MG_OK) {
        r->saved_epoch = mg_trainer_epoch(r->t);
        r->saved_step = mg_trainer_step(r->t);
    }
    return st;
}

static int on_step(void *user, int epoch, int step, int steps_per_epoch, double loss)
{
    train_run *r = user;
    r->steps_run++;
    double now = cli_now();
    if (epoch != r->prog_epoch) {
        r->prog_epoch = epoch;
        r->prog_step0 = step;
        r->prog_t0 = now;
    }
    double dt = now - r->prog_t0;
    double rate = dt > 0 ? (double)(step - r->prog_step0) * r->c->train.batch / dt : 0.0;
    cli_progress_update("epoch %d/%d  step %d/%d  loss %.4f  %.0f samples/s", epoch + 1,
                        r->c->train.epochs, step, steps_per_epoch, loss, rate);
    if (r->stop_after > 0 && r->steps_run >= r->stop_after) return 1;
    return cli_stop_requested();
}

static void fmt_metric(char *buf, size_t len, const char *name, const mg_eval_result *e)
{
    if (e->n == 0)
        buf[0] = '\0';
    else
        snprintf(buf, len, "  %s loss %.4f nll %.4f acc %.4f", name, e->loss, e->nll, e->accuracy);
}

static int on_epoch(void *user, const mg_epoch_metrics *em)
{
    train_run *r = user;
    const double nan = NAN;
    double row[N_COLS] = {
        em->epoch,
        em->lr,
        em->train_loss,
        em->train_acc,
        em->train_clean.n ? em->train_clean.loss : nan,
        em->train_clean.n ? em->train_clean.accuracy : nan,
        em->val.n ? em->val.loss : nan,
        em->val.n ? em->val.nll : nan,
        em->val.n ? em->val.accuracy : nan,
        em->test.n ? em->test.loss : nan,
        em->test.n ? em->test.nll : nan,
        em->test.n ? em->test.accuracy : nan,
        em->seconds,
    };
    for (int c = 0; c < N_COLS; c++) row[c] = cli_round9(row[c]);
    if (push_row(r, row)) {
        hook_fail(r, mg_fail(MG_ERR_NOMEM, "out of memory keeping the metrics"));
        return 1;
    }
    mg_status st = write_metrics(r);
    if (st != MG_OK) {
        hook_fail(r, st);
        return 1;
    }
    int every = r->c->checkpoint_every;
    if (em->epoch == r->c->train.epochs || (every > 0 && em->epoch % every == 0)) {
        st = save_checkpoint(r);
        if (st != MG_OK) {
            hook_fail(r, st);
            return 1;
        }
    }
    st = write_summary(r, em->epoch == r->c->train.epochs ? "finished" : "running", NULL);
    if (st != MG_OK) {
        hook_fail(r, st);
        return 1;
    }
    char clean[128], val[128], test[128];
    fmt_metric(clean, sizeof clean, "clean", &em->train_clean);
    fmt_metric(val, sizeof val, "val", &em->val);
    fmt_metric(test, sizeof test, "test", &em->test);
    cli_progress_line("epoch %d/%d  lr %.4g  train loss %.4f acc %.4f%s%s%s  %.2f s", em->epoch,
                      r->c->train.epochs, em->lr, em->train_loss, em->train_acc, clean, val, test,
                      em->seconds);
    if (r->stop_after > 0 && r->steps_run >= r->stop_after) return 1;
    return cli_stop_requested();
}

/* ---------------------------------------------------------------- resume */

static cJSON *segment_json(int epoch, int step, int threads, const char *git, const char *blas)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "epoch", epoch);
    cJSON_AddNumberToObject(o, "step", step);
    cJSON_AddNumberToObject(o, "threads", threads);
    cJSON_AddStringToObject(o, "git", git);
    if (blas) cJSON_AddStringToObject(o, "blas", blas);
    return o;
}

/* The segments of a run before this start: the "segments" list of its
 * summary.json; for a summary without one (a run trained before the list
 * existed, or none) one entry for its latest start: resumed_from (else the
 * beginning), the stored thread count and the summary's git revision. */
static cJSON *segments_before(const char *summary, int stored_threads)
{
    cJSON *old = cli_json_load(summary);
    const cJSON *seg = cJSON_GetObjectItemCaseSensitive(old, "segments");
    int ok = cJSON_IsArray(seg) && seg->child;
    for (const cJSON *e = ok ? seg->child : NULL; e; e = e->next) {
        const char *keys[3] = {"epoch", "step", "threads"};
        for (int k = 0; k < 3; k++)
            ok &= cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(e, keys[k]));
    }
    cJSON *list = ok ? cJSON_Duplicate(seg, 1) : cJSON_CreateArray();
    if (!ok) {
        const cJSON *from = cJSON_GetObjectItemCaseSensitive(old, "resumed_from");
        const cJSON *ep = cJSON_GetObjectItemCaseSensitive(from, "epoch");
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(from, "step");
        const cJSON *git = cJSON_GetObjectItemCaseSensitive(old, "git");
        cJSON_AddItemToArray(
            list, segment_json(cJSON_IsNumber(ep) ? (int)ep->valuedouble : 0,
                               cJSON_IsNumber(st) ? (int)st->valuedouble : 0, stored_threads,
                               cJSON_IsString(git) ? git->valuestring : "unknown", NULL));
    }
    cJSON_Delete(old);
    return list;
}

/* The options a resume may not change: compare the resolved text of the
 * run's config.ini with the resolved text after the flags. */
static int check_resume_changes(const cli_values *v, const cli_values *stored, const char *run)
{
    int bad = 0;
    for (int i = 0; i < v->n; i++) {
        const cli_opt *o = &v->opts[i];
        if (!(o->flags & CLI_SAVE) || (o->flags & CLI_RESUME_OK)) continue;
        const char *a = cli_get(v, o->name), *b = cli_get(stored, o->name);
        if (strcmp(a, b) != 0) {
            cli_error("%s: cannot change on --resume (%s/config.ini has '%s', got '%s'); start a "
                      "new run with --config %s/config.ini --out NEW_RUN instead",
                      cli_origin(v, o->name), run, b, a, run);
            bad++;
        }
    }
    return bad;
}

/* Keep the rows of the epochs finished according to the checkpoint. */
static int load_old_rows(train_run *r, int epochs_done)
{
    if (epochs_done == 0) return 0;
    double *rows = NULL;
    int n = 0;
    mg_status st = cli_tsv_read(r->metrics, N_COLS, &rows, &n);
    if (st == MG_ERR_FORMAT && cli_tsv_read(r->metrics, N_COLS_LEGACY, &rows, &n) == MG_OK) {
        /* a run from before the clean training metrics: those epochs get
         * empty (NaN) train_clean_* values */
        double *wide = malloc(sizeof *wide * ((size_t)n * N_COLS + 1));
        if (!wide) {
            free(rows);
            cli_error("out of memory");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            const double *o = rows + (size_t)i * N_COLS_LEGACY;
            double *w = wide + (size_t)i * N_COLS;
            memcpy(w, o, sizeof *w * COL_TRAIN_CLEAN_LOSS);
            w[COL_TRAIN_CLEAN_LOSS] = w[COL_TRAIN_CLEAN_ACC] = NAN;
            memcpy(w + COL_VAL_LOSS, o + COL_TRAIN_CLEAN_LOSS, sizeof *w * (N_COLS - COL_VAL_LOSS));
        }
        free(rows);
        rows = wide;
        st = MG_OK;
    }
    if (st != MG_OK) {
        cli_fail_status(st);
        return 1;
    }
    for (int e = 1; e <= epochs_done; e++) {
        if (e > n || rows[(size_t)(e - 1) * N_COLS + COL_EPOCH] != e) {
            cli_error("%s lacks the row of epoch %d (the checkpoint is at epoch %d); cannot "
                      "resume with consistent metrics",
                      r->metrics, e, epochs_done);
            free(rows);
            return 1;
        }
        if (push_row(r, rows + (size_t)(e - 1) * N_COLS)) {
            cli_error("out of memory");
            free(rows);
            return 1;
        }
    }
    free(rows);
    return 0;
}

/* ---------------------------------------------------------------- main */

/* The run stops on an error whose detail is msg: print it, record it in
 * summary.json (status "failed") once the run directory is this run's, and
 * return the exit code for st. */
static int fail_run(train_run *r, mg_status st, const char *msg)
{
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", msg && *msg ? msg : mg_status_name(st));
    cli_error_lines(copy);
    if (r->dir_ready && write_summary(r, "failed", copy) != MG_OK)
        cli_error("%s (summary.json still says the run is running)", mg_errmsg());
    switch (st) {
    case MG_ERR_CONFIG: return CLI_EXIT_USAGE;
    case MG_ERR_INTERRUPTED: return CLI_EXIT_INTERRUPTED;
    default: return CLI_EXIT_RUNTIME;
    }
}

static int remove_stale(const char *run)
{
    static const char *const files[] = {"metrics.tsv",   "summary.json",   "eval-train.json",
                                        "eval-val.json", "eval-test.json", NULL};
    for (int i = 0; files[i]; i++) {
        char p[4096];
        if (cli_path(p, sizeof p, run, files[i]) == MG_OK && cli_file_exists(p) && remove(p) != 0) {
            cli_error("cannot remove %s", p);
            return 1;
        }
    }
    return 0;
}

static void describe(const train_run *r)
{
    const cli_run_config *c = r->c;
    char layers[256] = "";
    size_t used = 0;
    for (int i = 0; i < c->train.n_mix_layers && used < sizeof layers; i++) {
        int w = snprintf(layers + used, sizeof layers - used, "%s%d", i ? "," : "",
                         c->train.mix_layers[i]);
        if (w > 0) used += (size_t)w;
    }
    cli_info("mixgeo train: %s", r->run);
    cli_info("  data  %s: %d train, %d val, %d test; %d features, %d classes%s", c->data,
             r->data->train->n, r->data->val ? r->data->val->n : 0,
             r->data->test ? r->data->test->n : 0, r->data->train->dim, c->classes,
             c->standardize ? ", standardised" : "");
    cli_info("  model %s (%zu parameters), loss %s", mg_model_arch(r->m), mg_model_n_params(r->m),
             mg_loss_name(c->train.loss));
    if (c->train.mix == MG_MIX_NONE)
        cli_info("  mix   none");
    else
        cli_info("  mix   %s at layers {%s}, alpha %g", mg_mix_mode_name(c->train.mix), layers,
                 c->train.alpha);
    cli_info("  train %d epochs, batch %d, %s lr %g, seed %llu, %d thread%s", c->train.epochs,
             c->train.batch, c->train.optim.kind == MG_OPT_ADAM ? "adam" : "sgd", c->train.optim.lr,
             (unsigned long long)c->train.seed, c->train.threads, c->train.threads == 1 ? "" : "s");
}

int cli_cmd_train(int argc, char **argv)
{
    cli_values v, stored;
    cli_values_init(&v, cli_train_opts, cli_train_n_opts);
    cli_values_init(&stored, cli_train_opts, cli_train_n_opts);
    cli_run_config c;
    cli_data data = {0};
    train_run r;
    memset(&r, 0, sizeof r);
    r.wall_start = cli_now();
    r.prog_epoch = -1;
    mg_model *m = NULL;
    mg_trainer *t = NULL;
    int rc = CLI_EXIT_USAGE, npos = 0, stored_threads = 0;
    mg_status st;

    if (cli_begin(&v, "train", argc, argv, NULL, 0, &npos, k_usage, k_description, k_epilog, &rc))
        goto done;
    int flag = 0;
    int force = 0;
    if (cli_get_bool(&v, "force", &force)) goto done;

    const char *resume = cli_get(&v, "resume");
    const char *config = cli_get(&v, "config");
    if (*resume) {
        int bad = 0;
        if (*config) {
            cli_error("--config cannot be combined with --resume (the run's own config.ini is "
                      "used)");
            bad++;
        }
        if (cli_is_set(&v, "out")) {
            cli_error("--out cannot be combined with --resume (the run continues in %s)", resume);
            bad++;
        }
        if (force) {
            cli_error("--force cannot be combined with --resume");
            bad++;
        }
        if (bad) goto done;
        if (cli_run_config_load(&stored, resume) != 0 || cli_run_config_load(&v, resume) != 0)
            goto done;
        cli_set_by_name(&v, "out", resume, "--resume");
        cli_set_by_name(&stored, "out", resume, "--resume");
        if (cli_run_config_resolve(&v, &c)) goto done;
        cli_run_config c_stored;
        if (cli_run_config_resolve(&stored, &c_stored)) goto done;
        stored_threads = c_stored.train.threads;
        if (check_resume_changes(&v, &stored, resume)) goto done;
        if (c.train.optim.sched == MG_SCHED_COSINE && c.train.epochs != c_stored.train.epochs)
            cli_info("mixgeo: warning: --sched cosine depends on --epochs; the resumed part "
                     "follows the new schedule, unlike an uninterrupted %d-epoch run",
                     c.train.epochs);
    } else {
        if (*config) {
            int n = cli_ini_load(&v, config, "train", 1);
            if (n != 0) goto done;
        }
        if (cli_run_config_resolve(&v, &c)) goto done;
    }

    if (cli_get_bool(&v, "dry-run", &flag)) goto done;
    if (flag) {
        char header[256];
        snprintf(header, sizeof header, "mixgeo %s: resolved configuration (--dry-run)",
                 MG_VERSION_STRING);
        cli_ini_print(stdout, &v, "train", header);
        rc = CLI_EXIT_OK;
        goto done;
    }
    snprintf(r.run, sizeof r.run, "%s", c.out);
    if (cli_path(r.ckpt, sizeof r.ckpt, r.run, "model.ckpt") ||
        cli_path(r.metrics, sizeof r.metrics, r.run, "metrics.tsv") ||
        cli_path(r.summary, sizeof r.summary, r.run, "summary.json")) {
        rc = cli_fail_status(MG_ERR_CONFIG);
        goto done;
    }
    if (*resume) {
        if (!cli_file_exists(r.ckpt)) {
            cli_error("%s: no checkpoint %s to resume from", resume, r.ckpt);
            rc = CLI_EXIT_RUNTIME;
            goto done;
        }
    } else {
        char cfgp[4096];
        cli_path(cfgp, sizeof cfgp, r.run, "config.ini");
        const char *held = cli_file_exists(r.ckpt)      ? r.ckpt
                           : cli_file_exists(cfgp)      ? cfgp
                           : cli_file_exists(r.metrics) ? r.metrics
                                                        : NULL;
        if (held && !force) {
            cli_error("%s: %s holds a run already (%s); continue it with --resume %s, overwrite "
                      "it with --force, or choose another --out",
                      cli_origin(&v, "out"), r.run, held, r.run);
            goto done;
        }
    }

    /* Data, then the model (an auto --arch needs the data's shape). */
    mg_set_threads(c.train.threads);
    mg_set_conv_backend(c.conv);
    st = cli_data_load(&c, &data);
    if (st != MG_OK) {
        rc = cli_fail_status(st);
        goto done;
    }
    if (cli_run_config_finish_arch(&v, &c, data.train)) goto done;
    mg_rng init_rng;
    mg_rng_seed3(&init_rng, c.train.seed, MG_STREAM_INIT, 0);
    st = mg_model_create(c.arch, &c.arch_opts, &init_rng, &m);
    if (st == MG_OK) st = mg_trainer_create(m, &c.train, data.train, data.val, data.test, &t);
    if (st != MG_OK) {
        rc = cli_fail_status(st);
        goto done;
    }
    r.v = &v;
    r.c = &c;
    r.data = &data;
    r.m = m;
    r.t = t;
    r.saved_epoch = r.saved_step = -1;
    const char *stop_env = getenv("MIXGEO_STOP_AFTER_STEPS");
    if (stop_env && *stop_env) r.stop_after = strtoll(stop_env, NULL, 10);
    cli_provenance(r.provenance, sizeof r.provenance, c.train.seed, "config.ini");

    rc = CLI_EXIT_RUNTIME;
    if (*resume) {
        st = mg_trainer_load(t, r.ckpt);
        if (st != MG_OK) {
            rc = cli_fail_status(st);
            goto done;
        }
        r.resumed = 1;
        r.saved_epoch = r.resumed_epoch = mg_trainer_epoch(t);
        r.saved_step = r.resumed_step = mg_trainer_step(t);
        if (r.resumed_epoch > c.train.epochs ||
            (r.resumed_epoch == c.train.epochs && r.resumed_step > 0)) {
            cli_error("%s: the run is at epoch %d already; --epochs must be at least that",
                      cli_origin(&v, "epochs"), r.resumed_epoch);
            rc = CLI_EXIT_USAGE;
            goto done;
        }
        if (load_old_rows(&r, r.resumed_epoch)) goto done;
        r.segments = segments_before(r.summary, stored_threads);
        const cJSON *last = cJSON_GetArrayItem(r.segments, cJSON_GetArraySize(r.segments) - 1);
        int before = (int)cJSON_GetObjectItemCaseSensitive(last, "threads")->valuedouble;
        if (before != c.train.threads)
            cli_info("mixgeo: warning: %s trained with %d thread%s so far; with %d the rest "
                     "matches an uninterrupted %d-thread run only to float rounding (summary.json "
                     "lists the thread count of every segment)",
                     r.run, before, before == 1 ? "" : "s", c.train.threads, before);
        const cJSON *kern = cJSON_GetObjectItemCaseSensitive(last, "blas");
        if (cJSON_IsString(kern) && strcmp(kern->valuestring, mg_blas_core()))
            cli_info("mixgeo: warning: %s trained with OpenBLAS's %s kernels so far; with %s the "
                     "rest matches an uninterrupted run only to float rounding (MIXGEO_BLAS_CORE "
                     "chooses; summary.json lists the kernels of every segment)",
                     r.run, kern->valuestring, mg_blas_core());
    } else {
        r.segments = cJSON_CreateArray();
    }
    cJSON_AddItemToArray(r.segments, segment_json(r.resumed_epoch, r.resumed_step, c.train.threads,
                                                  cli_git_revision(), mg_blas_core()));
    int had_dir = cli_dir_exists(r.run);
    st = mg_mkdir_p(r.run);
    if (st == MG_OK) {
        int n = 0;
        if (mg_remove_stale_temps(r.run, &n) == MG_OK && n > 0)
            cli_info("mixgeo: removed %d temp file%s of an earlier writer that was killed", n,
                     n == 1 ? "" : "s");
        st = cli_run_config_save(&v, r.run);
        /* a configuration that cannot be saved (a value no INI line can hold)
         * leaves no new, empty run directory behind */
        if (st != MG_OK && !had_dir) rmdir(r.run);
    }
    if (st != MG_OK) {
        rc = cli_fail_status(st);
        goto done;
    }
    if (!*resume) {
        if (remove_stale(r.run)) goto done;
        r.dir_ready = 1;
        st = save_checkpoint(&r); /* epoch 0: a last good state exists from the start */
        if (st != MG_OK) {
            rc = fail_run(&r, st, mg_errmsg());
            goto done;
        }
    }
    r.dir_ready = 1;
    st = write_metrics(&r);
    if (st == MG_OK) st = write_summary(&r, "running", NULL);
    if (st != MG_OK) {
        rc = fail_run(&r, st, mg_errmsg());
        goto done;
    }
    describe(&r);
    if (*resume && r.resumed_step)
        cli_info("  resuming at epoch %d step %d", r.resumed_epoch + 1, r.resumed_step);
    else if (*resume)
        cli_info("  resuming after epoch %d", r.resumed_epoch);

    int profile = 0;
    if (cli_get_bool(&v, "profile", &profile)) goto done;
    if (profile) mg_trainer_profile(t, 1);
    cli_signals_install();
    mg_train_hooks hooks = {on_step, on_epoch, &r};
    st = mg_trainer_run(t, &hooks);
    cli_progress_clear();
    if (profile) { /* asked for: printed even with --quiet, also after an interruption */
        char table[16384];
        mg_trainer_profile_report(t, table, sizeof table);
        fputs(table, stdout);
        fflush(stdout);
    }
    if (r.hook_err != MG_OK) {
        rc = fail_run(&r, r.hook_err, r.hook_msg);
        goto done;
    }
    if (st == MG_ERR_INTERRUPTED && mg_trainer_epoch(t) >= c.train.epochs) st = MG_OK;
    if (st == MG_OK) {
        if (r.saved_epoch != mg_trainer_epoch(t) || r.saved_step != 0) st = save_checkpoint(&r);
        if (st == MG_OK) st = write_summary(&r, "finished", NULL);
        if (st != MG_OK) {
            rc = fail_run(&r, st, mg_errmsg());
            goto done;
        }
        if (!cli_quiet()) {
            const double *last = r.nrows ? r.rows + (size_t)(r.nrows - 1) * N_COLS : NULL;
            int bc = best_column(&r);
            double train_seconds = 0.0, best = NAN;
            int best_epoch = 0;
            for (int i = 0; i < r.nrows; i++) {
                const double *row = r.rows + (size_t)i * N_COLS;
                train_seconds += row[COL_SECONDS];
                if (bc >= 0 && !isnan(row[bc]) && (isnan(best) || row[bc] > best)) {
                    best = row[bc];
                    best_epoch = (int)row[COL_EPOCH];
                }
            }
            if (last && bc >= 0)
                printf("%s: %d epochs, final %s %.4f (best %.4f at epoch %d), train loss %.4f, "
                       "%.1f s\n",
                       r.run, c.train.epochs, k_columns[bc], last[bc], best, best_epoch,
                       last[COL_TRAIN_LOSS], train_seconds);
            else if (last)
                printf("%s: %d epochs, train loss %.4f acc %.4f, %.1f s\n", r.run, c.train.epochs,
                       last[COL_TRAIN_LOSS], last[COL_TRAIN_ACC], train_seconds);
            fflush(stdout);
        }
        rc = CLI_EXIT_OK;
    } else if (st == MG_ERR_INTERRUPTED) {
        int e = mg_trainer_epoch(t), s = mg_trainer_step(t);
        st = save_checkpoint(&r);
        if (st == MG_OK) st = write_summary(&r, "interrupted", NULL);
        if (st != MG_OK) {
            rc = fail_run(&r, st, mg_errmsg());
            goto done;
        }
        if (s == 0)
            cli_error("interrupted after epoch %d; resume with: mixgeo train --resume %s", e,
                      r.run);
        else
            cli_error("interrupted at epoch %d step %d; resume with: mixgeo train --resume %s",
                      e + 1, s, r.run);
        rc = CLI_EXIT_INTERRUPTED;
    } else if (st == MG_ERR_NUMERIC) {
        write_summary(&r, "diverged", NULL);
        char where[64];
        if (r.saved_step > 0)
            snprintf(where, sizeof where, "epoch %d step %d", r.saved_epoch + 1, r.saved_step);
        else
            snprintf(where, sizeof where, "after epoch %d", r.saved_epoch);
        cli_error("loss became NaN/Inf at epoch %d step %d; the last good checkpoint is %s (%s); "
                  "try a lower --lr",
                  mg_trainer_epoch(t) + 1, mg_trainer_step(t) + 1, r.ckpt, where);
        rc = CLI_EXIT_RUNTIME;
    } else {
        rc = fail_run(&r, st, mg_errmsg());
    }

done:
    mg_trainer_free(t);
    mg_model_free(m);
    cli_data_free(&data);
    free(r.rows);
    cJSON_Delete(r.segments);
    cli_values_free(&v);
    cli_values_free(&stored);
    return rc;
}
