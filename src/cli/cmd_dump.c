/* cmd_dump.c - `mixgeo dump RUN --layer K --split S --out h.npy`: the states
 * at layer K of a split as a NumPy array for people who analyse in Python:
 *   OUT                 float32, n x dim(K), C order (streamed: the states
 *                       never sit in memory all at once)
 *   LABELS              int32, n (default: OUT without .npy + "-labels.npy")
 *   LOGITS (--logits)   float32, n x classes
 *   --readout           the final dense layer z = W h + b: OUT-W.npy (float32,
 *                       classes x features) and OUT-b.npy (classes), for
 *                       states that enter it (layer L-1 of an MLP, or
 *                       --layer features: its input inside the last block)
 * The rows are the examples of the split in dataset order, the first
 * --max-per-class of each class (default auto: the rule of `analyze`, so both
 * see the same examples), the run's data rebuilt as `eval` rebuilds it.
 * Every file is written atomically. */
#include "analyze.h"
#include "cli.h"
#include "npy.h"
#include "probe.h"

#include <stdlib.h>
#include <string.h>

static const char k_usage[] =
    "usage: mixgeo dump RUN [--layer K] [--split train|val|test] [--out FILE.npy] [OPTIONS]";

static const char k_description[] =
    "Write the states at layer K of the examples of a split as a float32 .npy array\n"
    "(n x dim), their labels as int32 (n) and, with --logits, the logits (n x classes):\n"
    "  import numpy as np; h = np.load('h.npy'); y = np.load('h-labels.npy')";

static const char k_epilog[] = "Exit status: 0 ok, 1 runtime failure, 2 usage or configuration "
                               "error.";

static cli_opt k_opts[CLI_MAX_OPTS];
static int k_nopts;

static void build_table(void)
{
    if (k_nopts) return;
    cli_analysis_add_opts(k_opts, &k_nopts, "train");
    int n = k_nopts;
    k_opts[n++] = (cli_opt){"out", 0, CLI_VALUE, "FILE", "auto", 0,
                            "the states file; auto: RUN/dump-SPLIT-LK.npy", "Output"};
    k_opts[n++] = (cli_opt){"labels", 0, CLI_VALUE, "FILE", "auto", 0,
                            "the labels file; auto: OUT without .npy + -labels.npy", NULL};
    k_opts[n++] = (cli_opt){"logits", 0, CLI_VALUE, "FILE", "", 0,
                            "also write the logits (float32, n x classes) to FILE", NULL};
    k_opts[n++] = (cli_opt){"readout", 0, CLI_FLAG, NULL, "false", CLI_NO_NEG,
                            "also write the final dense layer z = W h + b of these states: "
                            "OUT-W.npy (classes x features) and OUT-b.npy",
                            NULL};
    k_opts[n++] = (cli_opt){"quiet", 'q', CLI_FLAG, NULL, "false", CLI_NO_NEG,
                            "print nothing but errors", "Other"};
    k_opts[n++] = (cli_opt){"help", 'h', CLI_FLAG, NULL, "false", CLI_NO_NEG,
                            "show this help and exit", NULL};
    k_nopts = n;
}

typedef struct {
    FILE *f;
    size_t dim;
    int classes, done, n;
    float *logits; /* NULL or n x classes */
    mg_model *m;
    int feat_layer; /* >= 0: write the output of this layer, not the states */
} dump_job;

static mg_status dump_cb(void *user, const float *states, const int32_t *y, const float *logits,
                         int n)
{
    (void)y; /* the labels are the dataset's, written separately */
    dump_job *j = user;
    if (cli_stop_requested()) return mg_fail(MG_ERR_INTERRUPTED, "interrupted");
    if (j->feat_layer >= 0) states = mg_model_layer_output(j->m, j->feat_layer);
    if (n > 0 && fwrite(states, sizeof(float) * j->dim, (size_t)n, j->f) != (size_t)n)
        return mg_fail(MG_ERR_IO, "write error");
    if (j->logits)
        memcpy(j->logits + (size_t)j->done * j->classes, logits,
               sizeof(float) * (size_t)n * j->classes);
    j->done += n;
    cli_progress_update("dump: %d/%d", j->done, j->n);
    return MG_OK;
}

typedef struct {
    cli_analysis_run *r;
    float *logits;
} dump_ctx;

/* Writes the header, then streams the states (inside mg_write_atomic). */
static mg_status dump_states(FILE *f, void *user)
{
    dump_ctx *c = user;
    cli_analysis_run *r = c->r;
    int64_t shape[2] = {r->set->n, r->features ? r->feat_dim : mg_model_dim(r->m, r->layer)};
    mg_status st = mg_npy_write_header(f, MG_NPY_F32, 2, shape);
    if (st != MG_OK) return st;
    dump_job j = {f,         (size_t)shape[1], mg_model_classes(r->m), 0, r->set->n, c->logits,
                  r->m,      r->features ? mg_model_n_layers(r->m) - 2 : -1};
    st = mg_states_foreach(r->m, r->set, r->layer, 0, 0, dump_cb, &j);
    cli_progress_clear();
    if (st == MG_OK && ferror(f)) st = mg_fail(MG_ERR_IO, "write error");
    return st;
}

/* path without a trailing ".npy" + suffix */
static int derive_path(char *buf, size_t len, const char *path, const char *suffix)
{
    size_t l = strlen(path);
    if (l >= 4 && strcmp(path + l - 4, ".npy") == 0) l -= 4;
    int n = snprintf(buf, len, "%.*s%s", (int)l, path, suffix);
    return n < 0 || (size_t)n >= len;
}

int cli_cmd_dump(int argc, char **argv)
{
    build_table();
    cli_values ev;
    cli_values_init(&ev, k_opts, k_nopts);
    cli_analysis_run *ar = calloc(1, sizeof *ar);
    float *logits = NULL;
    int rc = CLI_EXIT_USAGE, npos = 0, opened = 0;
    char *pos[1] = {NULL};
    mg_status st;
    if (!ar) {
        rc = cli_fail_status(mg_fail(MG_ERR_NOMEM, "out of memory"));
        goto done;
    }
    if (cli_begin(&ev, "dump", argc, argv, pos, 1, &npos, k_usage,
                  k_description, k_epilog, &rc))
        goto done;
    if (npos != 1) {
        cli_error("dump: expected one run directory (usage: mixgeo dump RUN --layer K --out "
                  "h.npy)");
        goto done;
    }
    opened = 1;
    if ((rc = cli_analysis_open(ar, pos[0], &ev)) != CLI_EXIT_OK) goto done;
    if ((rc = cli_analysis_select(ar)) != CLI_EXIT_OK) goto done;
    rc = CLI_EXIT_USAGE;
    int readout = 0;
    if (cli_get_bool(&ev, "readout", &readout)) goto done;
    mg_layer_info li = mg_model_layer(ar->m, mg_model_n_layers(ar->m) - 1);
    if (readout) {
        int L = mg_model_n_blocks(ar->m);
        int feeds = ar->features ||
                    (ar->layer == L - 1 && li.kind == MG_LAYER_DENSE &&
                     mg_model_block_first_layer(ar->m, L) == mg_model_n_layers(ar->m) - 1);
        if (!feeds) {
            cli_error("--readout: layer %d of %s does not enter the final dense layer directly "
                      "(use --layer %d of an MLP, or --layer features)",
                      ar->layer, mg_model_arch(ar->m), L - 1);
            goto done;
        }
    }

    char out[4096], lab[4096], lg[4096] = "";
    const char *o = cli_get(&ev, "out");
    if (strcmp(o, "auto") == 0) {
        char name[64];
        if (ar->features) snprintf(name, sizeof name, "dump-%s-features.npy", ar->split_name);
        else snprintf(name, sizeof name, "dump-%s-L%d.npy", ar->split_name, ar->layer);
        if ((st = cli_path(out, sizeof out, ar->run, name))) {
            rc = cli_fail_status(st);
            goto done;
        }
    } else if (snprintf(out, sizeof out, "%s", o) >= (int)sizeof out) {
        cli_bad(&ev, "out", "path too long");
        goto done;
    }
    const char *l = cli_get(&ev, "labels");
    if (strcmp(l, "auto") == 0) {
        if (derive_path(lab, sizeof lab, out, "-labels.npy")) {
            cli_bad(&ev, "out", "path too long");
            goto done;
        }
    } else if (snprintf(lab, sizeof lab, "%s", l) >= (int)sizeof lab) {
        cli_bad(&ev, "labels", "path too long");
        goto done;
    }
    if (snprintf(lg, sizeof lg, "%s", cli_get(&ev, "logits")) >= (int)sizeof lg) {
        cli_bad(&ev, "logits", "path too long");
        goto done;
    }
    if (strcmp(out, lab) == 0 || (lg[0] && (strcmp(lg, out) == 0 || strcmp(lg, lab) == 0))) {
        cli_error("dump: --out, --labels and --logits must name different files");
        goto done;
    }
    const int n = ar->set->n, C = mg_model_classes(ar->m);
    const int dk = ar->features ? ar->feat_dim : mg_model_dim(ar->m, ar->layer);
    char wpath[4096], bpath[4096];
    if (readout && (derive_path(wpath, sizeof wpath, out, "-W.npy") ||
                    derive_path(bpath, sizeof bpath, out, "-b.npy"))) {
        cli_bad(&ev, "out", "path too long");
        goto done;
    }
    if (lg[0]) {
        logits = malloc(sizeof(float) * (size_t)n * C);
        if (!logits) {
            rc = cli_fail_status(mg_fail(MG_ERR_NOMEM, "out of memory (%d x %d logits)", n, C));
            goto done;
        }
    }
    cli_signals_install();
    dump_ctx dc = {ar, logits};
    if ((st = mg_write_atomic(out, dump_states, &dc)) != MG_OK) {
        rc = cli_fail_status(st);
        goto done;
    }
    int64_t shape[2] = {n, C};
    int64_t wshape[2] = {C, dk};
    if ((st = mg_npy_save(lab, MG_NPY_I32, ar->set->y, 1, shape)) != MG_OK ||
        (lg[0] && (st = mg_npy_save(lg, MG_NPY_F32, logits, 2, shape)) != MG_OK) ||
        (readout && (st = mg_npy_save(wpath, MG_NPY_F32, li.W, 2, wshape)) != MG_OK) ||
        (readout && (st = mg_npy_save(bpath, MG_NPY_F32, li.b, 1, wshape)) != MG_OK)) {
        rc = cli_fail_status(st);
        goto done;
    }
    if (!cli_quiet()) {
        char lname[32];
        if (ar->features) snprintf(lname, sizeof lname, "features");
        else snprintf(lname, sizeof lname, "layer %d", ar->layer);
        printf("%s: %s, %s: wrote %s (float32 %d x %d), %s (int32 %d)%s%s%s\n", ar->run,
               ar->split_name, lname, out, n, dk, lab, n, lg[0] ? ", " : "", lg,
               lg[0] ? " (float32 logits)" : "");
        if (readout)
            printf("readout: %s (float32 %d x %d), %s (float32 %d)\n", wpath, C, dk, bpath, C);
        fflush(stdout);
    }
    rc = CLI_EXIT_OK;
done:
    free(logits);
    if (ar && opened) cli_analysis_close(ar);
    free(ar);
    cli_values_free(&ev);
    return rc;
}
