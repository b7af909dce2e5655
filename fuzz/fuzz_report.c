/* fuzz_report.c - the files `mixgeo suite report` reads back from run
 * directories, on the fuzzer's bytes.  FUZZ_LINK_CLI: linked with the
 * program's objects (and it uses suite_internal.h: the metric functions of
 * suite_metric.c are the report's own, not a public interface).
 *
 * Input: one line, a metric as a suite file writes it (final.test_acc,
 * n_params, metrics.tsv:train_loss|mean, analysis/x/summary.json:a.*.b|max,
 * an expression with + - * /), then the bytes of a file.  The harness:
 *  - parses the metric (sx_parse_metric) for a one-run train suite and
 *    writes the bytes as every file the metric reads, in that run's
 *    directory, then evaluates it (sx_metric_value: cJSON parsing of the
 *    JSON files, the JSON path with *, [filters] and |reducers, the TSV
 *    column reader): any number or NaN, never a crash;
 *  - parses the bytes as JSON (cJSON, as the report does): what parses
 *    prints, and printing what that text parses to gives the same text;
 *  - reads the bytes as a metrics.tsv (cli_tsv_read, as `train --resume`
 *    does) with 11 columns and with the count of its "# columns:" line:
 *    what is read is written with cli_tsv_write and read back, equal to the
 *    values rounded to 9 significant digits (what the writer keeps).
 * Files go to a temp directory in /dev/shm when there is one.  Problems
 * printed through cli_error go to /dev/null. */
#include "fuzz.h"

#include "cli/suite_internal.h"

#include <math.h>
#include <sys/stat.h>

static FILE *g_null, *g_real_stderr;
static char g_dir[4096], g_run[4096];
static cli_suite *g_suite;

#define CHECK(x) ((x) ? (void)0 : (stderr = g_real_stderr, fuzz_check_failed(__FILE__, __LINE__, #x)))

static void cleanup(void)
{
    char cmd[4200];
    if (g_suite) cli_suite_free(g_suite);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "fuzz_report: could not remove %s\n", g_dir);
}

static void setup(void)
{
    if (g_null) return;
    g_null = fopen("/dev/null", "w");
    FUZZ_CHECK(g_null != NULL);
    fuzz_tmpdir(g_dir, sizeof g_dir, "report");
    atexit(cleanup);
    cli_set_quiet(1);
    char path[4200];
    snprintf(path, sizeof path, "%s/r.suite", g_dir);
    FILE *f = fopen(path, "w");
    FUZZ_CHECK(f != NULL);
    fprintf(f, "[suite]\nname = fz\nout = %s/out\n[base]\narch = 2-8-2\nepochs = 1\n"
               "[grid]\nseed = 1\n", g_dir);
    fclose(f);
    cli_suite_opts o = {0, NULL, NULL};
    FUZZ_CHECK(cli_suite_load(path, &o, &g_suite) == 0 && g_suite->n_runs == 1);
    FUZZ_CHECK(cli_suite_run_dir(g_suite, &g_suite->runs[0], g_run, sizeof g_run) == MG_OK);
    FUZZ_CHECK(mg_mkdir_p(g_run) == MG_OK);
}

/* Write data to RUN/file (its directories made); 1 if written. */
static int put_file(const char *file, const uint8_t *data, size_t size)
{
    char path[8400];
    snprintf(path, sizeof path, "%s/%.255s", g_run, file);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    if (mg_mkdir_p(path) != MG_OK) return 0;
    *slash = '/';
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok;
}

/* Remove RUN/file and the directories it made that are empty now. */
static void remove_file(const char *file)
{
    char path[8400];
    snprintf(path, sizeof path, "%s/%.255s", g_run, file);
    unlink(path);
    size_t rl = strlen(g_run);
    for (char *slash = strrchr(path, '/'); slash && (size_t)(slash - path) > rl;
         slash = strrchr(path, '/')) {
        *slash = '\0';
        if (rmdir(path) != 0) break;
    }
}

static void check_metric(const char *item, const uint8_t *data, size_t size)
{
    cli_suite_metric ms[4];
    int n = 0;
    if (sx_parse_metric(g_suite, 1, "metrics", item, 3, ms, 4, &n) != 0) return;
    CHECK(n >= 1 && n <= 2);
    for (int k = 0; k < n; k++) {
        const cli_suite_metric *m = &ms[k];
        CHECK(m->n_terms >= 1 && m->n_terms <= CLI_SUITE_MAX_TERMS);
        for (int i = 0; i < m->n_terms; i++) {
            const char *file = m->terms[i].file;
            if (!file[0]) continue;
            CHECK(file[0] != '/' && !strstr(file, ".."));
            put_file(file, data, size);
        }
        sx_run_cache rc = {1, NULL, 0};
        sx_report_ctx c;
        memset(&c, 0, sizeof c);
        c.s = g_suite;
        c.rc = &rc;
        double x = sx_metric_value(&c, 0, m);
        (void)x; /* any number, or NaN */
        for (int j = 0; j < rc.n_j; j++) cJSON_Delete(rc.j[j].json);
        free(rc.j);
        for (int i = 0; i < m->n_terms; i++)
            if (m->terms[i].file[0]) remove_file(m->terms[i].file);
    }
}

static void check_json(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    cJSON *a = cJSON_Parse(text);
    if (a) {
        /* printing is a fixed point (text, not cJSON_Compare: with a key
         * given twice that looks up the first one on both sides) */
        char *p = cJSON_PrintUnformatted(a);
        CHECK(p != NULL);
        cJSON *b = cJSON_Parse(p);
        CHECK(b != NULL);
        char *q = cJSON_PrintUnformatted(b);
        CHECK(q != NULL && strcmp(p, q) == 0);
        cJSON_Delete(b);
        free(q);
        free(p);
        cJSON_Delete(a);
    }
    free(text);
}

static int same_or_both_nan(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

static void check_tsv(const char *path, int ncols)
{
    double *rows = (double *)&rows;
    int n = -1;
    mg_status st = cli_tsv_read(path, ncols, &rows, &n);
    if (st != MG_OK) {
        CHECK(rows == NULL && n == 0);
        CHECK(strstr(mg_errmsg(), path) != NULL && !strchr(mg_errmsg(), '\n'));
        return;
    }
    CHECK(n >= 0 && (n == 0 || rows != NULL));
    char out[4200];
    snprintf(out, sizeof out, "%s/rt.tsv", g_dir);
    const char *cols[64];
    static const char *const names[] = {"c"};
    for (int i = 0; i < ncols; i++) cols[i] = names[0];
    CHECK(cli_tsv_write(out, "# fuzz", cols, ncols, rows, n) == MG_OK);
    double *back = NULL;
    int m = 0;
    CHECK(cli_tsv_read(out, ncols, &back, &m) == MG_OK && m == n);
    for (size_t i = 0; i < (size_t)n * (size_t)ncols; i++)
        CHECK(same_or_both_nan(back[i], cli_round9(rows[i])));
    free(back);
    free(rows);
    unlink(out);
}

/* The number of words after "# columns:" (0 if none, at most 64). */
static int columns_of(const uint8_t *data, size_t size)
{
    const char *tag = "# columns:";
    size_t tl = strlen(tag);
    for (size_t i = 0; i + tl <= size; i++) {
        if ((i == 0 || data[i - 1] == '\n') && !memcmp(data + i, tag, tl)) {
            int words = 0, in = 0;
            for (size_t j = i + tl; j < size && data[j] != '\n'; j++) {
                int blank = data[j] == ' ' || data[j] == '\t' || data[j] == '\r';
                if (!blank && !in) words++;
                in = !blank;
            }
            return words > 64 ? 64 : words;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    const uint8_t *nl = memchr(data, '\n', size < 300 ? size : 300);
    if (!nl) return 0;
    char item[300];
    size_t il = (size_t)(nl - data);
    memcpy(item, data, il);
    item[il] = '\0';
    if (strlen(item) != il) return 0; /* a NUL in the metric: not a suite file's text */
    const uint8_t *body = nl + 1;
    size_t bsize = size - il - 1;

    g_real_stderr = stderr;
    stderr = g_null; /* glibc's stderr is a plain variable */
    check_metric(item, body, bsize);
    check_json(body, bsize);
    const char *path = fuzz_file(0, body, bsize);
    check_tsv(path, 11);
    int nc = columns_of(body, bsize);
    if (nc > 0 && nc != 11) check_tsv(path, nc);
    stderr = g_real_stderr;
    return 0;
}
