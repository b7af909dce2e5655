/* cmd_compare.c - `mixgeo compare`: linear and debiased CKA (compare.h)
 * between the representations of the same examples:
 *   mixgeo compare RUN_A[:K] RUN_B[:K] [--split test]    one pair of layers
 *   mixgeo compare RUN_A RUN_B --all-layers --out DIR     every layer x layer
 *   mixgeo compare --states a.npy --states-b b.npy        external states
 * Two runs are compared on the same examples in the same order: both rebuild
 * their split from their config.ini (run.c), and the examples must be equal
 * bit for bit (the same data, seeds and standardisation), else it is an
 * error.  The states of every compared layer are kept in memory (the first
 * --max-per-class of each class: auto keeps 300 when a compared layer has
 * more than 2048 features); external states are streamed from their files
 * in blocks within --budget.  This file parses, opens, calls and prints. */
#include "analyze.h"
#include "cli.h"
#include "compare.h"
#include "npy.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const char k_usage[] =
    "usage: mixgeo compare RUN_A[:K] RUN_B[:K] [--split S] [--all-layers --out DIR] [OPTIONS]\n"
    "       mixgeo compare --states A.npy --states-b B.npy [--out DIR] [OPTIONS]";

static const char k_description[] =
    "Linear and debiased CKA between two representations of the same examples in the same\n"
    "order (Kornblith et al. 2019; the debiased form uses the unbiased HSIC estimator):\n"
    "layer K of run A against layer K of run B (K: a layer 0..L, default L-1), every layer\n"
    "of A against every layer of B (--all-layers: a heat map), or two .npy files of states\n"
    "(n x ..., flattened per example; the widths may differ).  Prints the values; --out DIR\n"
    "writes cka.tsv, cka.gp (render: mixgeo plot DIR) and summary.json.";

static const char k_epilog[] =
    "Exit status: 0 ok, 1 runtime failure, 2 usage or configuration error (a bad RUN:K,\n"
    "runs whose examples differ, .npy files of different row counts or bad contents).";

static cli_opt k_opts[CLI_MAX_OPTS];
static int k_nopts;

static void build_table(void)
{
    if (k_nopts) return;
    cli_opt *o = k_opts;
    int n = 0;
    o[n++] = (cli_opt){"split", 0, CLI_VALUE, "train|val|test", "test", 0,
                       "the split of the runs' data", "Selection"};
    o[n++] = (cli_opt){"max-per-class", 0, CLI_VALUE, "N|all|auto", "auto", 0,
                       "the first N examples of each class; auto: 300 when a compared layer has "
                       "more than 2048 features, else all",
                       NULL};
    o[n++] = (cli_opt){"all-layers", 0, CLI_FLAG, NULL, "false", CLI_NO_NEG,
                       "every layer of A against every layer of B (needs --out)", NULL};
    o[n++] = (cli_opt){"threads", 0, CLI_VALUE, "N", "1", 0,
                       "threads of OpenBLAS and of the image layers' worker team", NULL};
    o[n++] = (cli_opt){"states", 0, CLI_VALUE, "FILE", "", 0, "external states A (.npy)",
                       "External states"};
    o[n++] = (cli_opt){"states-b", 0, CLI_VALUE, "FILE", "", 0,
                       "external states B (.npy, the same examples in the same order)", NULL};
    o[n++] = (cli_opt){"budget", 0, CLI_VALUE, "MIB", "256", 0,
                       "memory of the CKA accumulators; wider states take more passes", NULL};
    o[n++] = (cli_opt){"out", 0, CLI_VALUE, "DIR", "", 0,
                       "write cka.tsv, cka.gp and summary.json into DIR", "Output"};
    o[n++] = (cli_opt){"quiet", 'q', CLI_FLAG, NULL, "false", CLI_NO_NEG,
                       "print nothing but errors", "Other"};
    o[n++] = (cli_opt){"help", 'h', CLI_FLAG, NULL, "false", CLI_NO_NEG,
                       "show this help and exit", NULL};
    k_nopts = n;
}

/* "RUN[:K]" -> run (into buf) and K (-1 = none given). */
static int split_spec(const char *spec, char *buf, size_t len, int *k)
{
    const char *c = strrchr(spec, ':');
    *k = -1;
    size_t l = c ? (size_t)(c - spec) : strlen(spec);
    if (c) {
        char *end;
        long v = strtol(c + 1, &end, 10);
        if (end == c + 1 || *end || v < 0 || v > INT_MAX) {
            cli_error("compare: %s: expected RUN or RUN:K with a layer K >= 0", spec);
            return 1;
        }
        *k = (int)v;
    }
    if (l == 0 || l >= len) {
        cli_error("compare: %s: expected RUN or RUN:K", spec);
        return 1;
    }
    memcpy(buf, spec, l);
    buf[l] = '\0';
    return 0;
}

static mg_status npy_rows(void *user, const int64_t *idx, int64_t m, float *dst)
{
    return mg_npy_read_rows_f32(user, idx, m, dst);
}

static void print_pair(const char *a, const char *b, const mg_cka_result *r)
{
    if (cli_quiet()) return;
    printf("CKA %s vs %s: linear %.6f, debiased %.6f (n %lld, %d and %d features)\n", a, b,
           r->cka, r->cka_debiased, (long long)r->n, r->p, r->q);
}

static int compare_states(const cli_values *ev, size_t budget, const char *out)
{
    const char *as = cli_get(ev, "states"), *bs = cli_get(ev, "states-b");
    mg_npy_reader *ra = NULL, *rb = NULL;
    int rc = CLI_EXIT_USAGE;
    mg_status st = mg_npy_open(as, &ra);
    if (st == MG_OK) st = mg_npy_open(bs, &rb);
    if (st == MG_OK) {
        for (int s = 0; s < 2 && st == MG_OK; s++) {
            mg_npy_reader *r = s ? rb : ra;
            mg_npy_type t = mg_npy_reader_type(r);
            if (t != MG_NPY_F32 && t != MG_NPY_F64)
                st = mg_fail(MG_ERR_FORMAT, "%s: states must be float32 or float64 (got '%s')",
                             mg_npy_reader_path(r), mg_npy_reader_descr(r));
            else if (mg_npy_reader_ndim(r) < 2 || mg_npy_reader_row_len(r) < 1 ||
                     mg_npy_reader_row_len(r) > INT_MAX)
                st = mg_fail(MG_ERR_FORMAT, "%s: states must have shape (n, features...)",
                             mg_npy_reader_path(r));
        }
    }
    if (st == MG_OK && mg_npy_reader_rows(ra) != mg_npy_reader_rows(rb))
        st = mg_fail(MG_ERR_FORMAT, "%s has %lld rows, %s %lld: CKA needs the same examples", as,
                     (long long)mg_npy_reader_rows(ra), bs, (long long)mg_npy_reader_rows(rb));
    mg_cka_result r;
    if (st == MG_OK)
        st = mg_cka_stream(npy_rows, ra, (int)mg_npy_reader_row_len(ra), npy_rows, rb,
                           (int)mg_npy_reader_row_len(rb), mg_npy_reader_rows(ra), budget, &r);
    if (st != MG_OK) {
        if (st == MG_ERR_FORMAT || st == MG_ERR_CONFIG) cli_error("%s", mg_errmsg());
        rc = st == MG_ERR_FORMAT || st == MG_ERR_CONFIG ? CLI_EXIT_USAGE : cli_fail_status(st);
        goto done;
    }
    print_pair(as, bs, &r);
    if (*out) {
        char prov[4400], label[2200];
        cli_provenance(prov, sizeof prov, 0, "-");
        snprintf(label, sizeof label, "%s vs %s", as, bs);
        cJSON *head = cli_json_stamped();
        if (head) {
            cJSON_AddStringToObject(head, "a", as);
            cJSON_AddStringToObject(head, "b", bs);
        }
        int la = -1, lb = -1;
        if ((st = mg_cka_write(out, prov, label, &la, 1, &lb, 1, &r, head)) != MG_OK) {
            rc = cli_fail_status(st);
            goto done;
        }
    }
    rc = CLI_EXIT_OK;
done:
    mg_npy_close(ra);
    mg_npy_close(rb);
    return rc;
}

/* Both runs opened; the examples selected by one rule and checked equal. */
static int open_runs(const cli_values *ev, cli_analysis_run *ar, char runs[2][1024],
                     const int *lay, int all)
{
    for (int s = 0; s < 2; s++) {
        int rc = cli_analysis_open(&ar[s], runs[s], ev);
        if (rc != CLI_EXIT_OK) return rc;
        int L = mg_model_n_blocks(ar[s].m);
        if (!all && lay[s] > L) {
            cli_error("compare: %s:%d: layer outside 0..%d (model %s)", runs[s], lay[s], L,
                      mg_model_arch(ar[s].m));
            return CLI_EXIT_USAGE;
        }
    }
    /* one selection rule for both: wide when any compared layer is */
    int wide = 0;
    for (int s = 0; s < 2; s++) {
        int L = mg_model_n_blocks(ar[s].m);
        for (int k = 0; k <= L; k++)
            if ((all || k == (lay[s] >= 0 ? lay[s] : L - 1)) &&
                mg_model_dim(ar[s].m, k) > MG_AN_WIDE_DIM)
                wide = 1;
    }
    for (int s = 0; s < 2; s++) {
        ar[s].max_per_class = mg_an_resolve_max_per_class(
            ar[s].max_per_class_auto ? -1 : ar[s].max_per_class, wide);
        int rc = cli_analysis_select(&ar[s]);
        if (rc != CLI_EXIT_OK) return rc;
    }
    const mg_dataset *a = ar[0].set, *b = ar[1].set;
    if (a->n != b->n || a->dim != b->dim || memcmp(a->y, b->y, sizeof(int32_t) * a->n) ||
        memcmp(a->x, b->x, sizeof(float) * (size_t)a->n * a->dim)) {
        cli_error("compare: the %s examples of %s and %s differ (%d and %d examples): CKA needs "
                  "the same examples in the same order (the same data, seeds and "
                  "standardisation)",
                  ar[0].split_name, runs[0], runs[1], a->n, b->n);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static int compare_runs(const cli_values *ev, char **pos, size_t budget, const char *out, int all)
{
    char runs[2][1024];
    int lay[2];
    for (int s = 0; s < 2; s++)
        if (split_spec(pos[s], runs[s], sizeof runs[s], &lay[s])) return CLI_EXIT_USAGE;
    if (all && (lay[0] >= 0 || lay[1] >= 0)) {
        cli_error("compare: --all-layers takes RUN, not RUN:K");
        return CLI_EXIT_USAGE;
    }
    cli_analysis_run *ar = calloc(2, sizeof *ar);
    if (!ar) return cli_fail_status(mg_fail(MG_ERR_NOMEM, "out of memory"));
    int rc = open_runs(ev, ar, runs, lay, all);
    int la[MG_MAX_BLOCKS + 1], lb[MG_MAX_BLOCKS + 1], na = 1, nb = 1;
    float *sa[MG_MAX_BLOCKS + 1] = {NULL}, *sb[MG_MAX_BLOCKS + 1] = {NULL};
    mg_cka_result *res = NULL;
    if (rc != CLI_EXIT_OK) goto done;
    if (all) {
        na = mg_model_n_blocks(ar[0].m) + 1;
        nb = mg_model_n_blocks(ar[1].m) + 1;
        for (int k = 0; k < na; k++) la[k] = k;
        for (int k = 0; k < nb; k++) lb[k] = k;
    } else {
        la[0] = lay[0] >= 0 ? lay[0] : mg_model_n_blocks(ar[0].m) - 1;
        lb[0] = lay[1] >= 0 ? lay[1] : mg_model_n_blocks(ar[1].m) - 1;
    }
    mg_status st = mg_layer_states(ar[0].m, ar[0].set, la, na, sa);
    if (st == MG_OK) st = mg_layer_states(ar[1].m, ar[1].set, lb, nb, sb);
    res = calloc((size_t)na * nb, sizeof *res);
    if (st == MG_OK && !res) st = mg_fail(MG_ERR_NOMEM, "out of memory");
    const int n = ar[0].set->n;
    for (int i = 0; i < na && st == MG_OK; i++)
        for (int j = 0; j < nb && st == MG_OK; j++) {
            cli_progress_update("compare: CKA of layer %d and layer %d", la[i], lb[j]);
            st = mg_cka_f32(sa[i], mg_model_dim(ar[0].m, la[i]), sb[j],
                            mg_model_dim(ar[1].m, lb[j]), n, budget, &res[(size_t)i * nb + j]);
        }
    cli_progress_clear();
    if (st != MG_OK) {
        rc = cli_fail_status(st);
        goto done;
    }
    if (!cli_quiet())
        for (int i = 0; i < na; i++)
            for (int j = 0; j < nb; j++) {
                char a[1100], b[1100];
                snprintf(a, sizeof a, "%s:%d", runs[0], la[i]);
                snprintf(b, sizeof b, "%s:%d", runs[1], lb[j]);
                print_pair(a, b, &res[(size_t)i * nb + j]);
            }
    if (*out) {
        char prov[4400], label[2300];
        cli_provenance(prov, sizeof prov, 0, "-");
        snprintf(label, sizeof label, "%s vs %s, %s", runs[0], runs[1], ar[0].split_name);
        cJSON *head = cli_json_stamped();
        if (head) {
            cJSON_AddStringToObject(head, "a", runs[0]);
            cJSON_AddStringToObject(head, "b", runs[1]);
            cJSON_AddStringToObject(head, "split", ar[0].split_name);
            cJSON_AddNumberToObject(head, "n", n);
            if (ar[0].max_per_class > 0)
                cJSON_AddNumberToObject(head, "max_per_class", ar[0].max_per_class);
            else
                cJSON_AddStringToObject(head, "max_per_class", "all");
        }
        if ((st = mg_cka_write(out, prov, label, la, na, lb, nb, res, head)) != MG_OK) {
            rc = cli_fail_status(st);
            goto done;
        }
    }
    rc = CLI_EXIT_OK;
done:
    for (int k = 0; k <= MG_MAX_BLOCKS; k++) {
        free(sa[k]);
        free(sb[k]);
    }
    free(res);
    cli_analysis_close(&ar[0]);
    cli_analysis_close(&ar[1]);
    free(ar);
    return rc;
}

int cli_cmd_compare(int argc, char **argv)
{
    build_table();
    cli_values ev;
    cli_values_init(&ev, k_opts, k_nopts);
    int rc = CLI_EXIT_USAGE, npos = 0, all = 0, mib = 256;
    char *pos[2] = {NULL, NULL};
    if (cli_begin(&ev, "compare", argc, argv, pos, 2, &npos, k_usage, k_description, k_epilog,
                  &rc))
        goto done;
    if (cli_get_bool(&ev, "all-layers", &all) || cli_get_int(&ev, "budget", 1, 1 << 20, &mib))
        goto done;
    const char *out = cli_get(&ev, "out");
    int states = *cli_get(&ev, "states") || *cli_get(&ev, "states-b");
    if (states) {
        if (!*cli_get(&ev, "states") || !*cli_get(&ev, "states-b") || npos) {
            cli_error("compare: --states A.npy and --states-b B.npy go together, without runs");
            goto done;
        }
        if (all) {
            cli_bad(&ev, "all-layers", "applies to runs, not to --states");
            goto done;
        }
        int threads = 1;
        if (cli_get_int(&ev, "threads", 0, 256, &threads)) goto done;
        mg_set_threads(threads);
        rc = compare_states(&ev, (size_t)mib << 20, out);
        goto done;
    }
    if (npos != 2) {
        cli_error("compare: expected two runs (RUN_A[:K] RUN_B[:K]) or --states A.npy "
                  "--states-b B.npy");
        goto done;
    }
    if (all && !*out) {
        cli_bad(&ev, "all-layers", "needs --out DIR for the heat map");
        goto done;
    }
    cli_signals_install();
    rc = compare_runs(&ev, pos, (size_t)mib << 20, out, all);
done:
    cli_values_free(&ev);
    return rc;
}
