/* fuzz_suite.c - suite files (src/cli/suite_file.c, cli_suite_load: the INI
 * sections, the grid and its expansion into runs, tables, figures, claims)
 * on the fuzzer's bytes.  FUZZ_LINK_CLI: linked with the program's objects.
 *
 * Checked, with and without --quick:
 *  - cli_suite_load returns the number of problems (never -1 for a readable
 *    file) and a suite exactly when there is none;
 *  - a suite has runs with distinct, non-empty ids of [A-Za-z0-9._-], each
 *    with its directory OUT/runs/ID, a description, and for theory and
 *    states suites a command line that fits;
 *  - loading the same bytes again gives the same runs (ids and hashes);
 *  - the config.ini the runner writes for a run (the first one or two) is one that
 *    cli_suite_config_matches accepts for that run: what the runner writes
 *    is what it later recognises as done.
 * Nothing is written but those config.ini files, into a temp directory (in
 * /dev/shm when there is one).  Problems are printed through cli_error;
 * stderr points at /dev/null meanwhile. */
#include "fuzz.h"

#include "cli/suite.h"

#include <ctype.h>

static FILE *g_null, *g_real_stderr;
static char g_dir[4096];

#define CHECK(x) ((x) ? (void)0 : (stderr = g_real_stderr, fuzz_check_failed(__FILE__, __LINE__, #x)))

static void cleanup(void)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/config.ini", g_dir);
    unlink(p);
    rmdir(g_dir);
}

static void setup(void)
{
    if (g_null) return;
    g_null = fopen("/dev/null", "w");
    FUZZ_CHECK(g_null != NULL);
    fuzz_tmpdir(g_dir, sizeof g_dir, "suite");
    atexit(cleanup);
    cli_set_quiet(1);
}

static int is_name(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-') return 0;
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void check_suite(const cli_suite *s)
{
    CHECK(s->n_runs >= 1 && s->runs != NULL && s->out != NULL);
    size_t ol = strlen(s->out);
    /* every run's id; the first 256 runs' directories, descriptions and
     * command lines (a grid may have up to 100000 runs) */
    for (int r = 0; r < s->n_runs; r++) CHECK(is_name(s->runs[r].id));
    for (int r = 0; r < s->n_runs && r < 256; r++) {
        const cli_suite_run *run = &s->runs[r];
        char dir[4096], desc[1024];
        if (cli_suite_run_dir(s, run, dir, sizeof dir) == MG_OK)
            CHECK(strncmp(dir, s->out, ol) == 0 && strstr(dir, run->id) != NULL);
        cli_suite_run_describe(s, run, desc, sizeof desc);
        if (s->command != CLI_SUITE_TRAIN && r < 8) {
            char *argv[512], buf[65536];
            int n = cli_suite_command_argv(s, run, "mixgeo", "RUN", 1, argv, 512, buf, sizeof buf);
            CHECK(n == -1 || (n >= 6 && argv[n] == NULL));
        }
    }
    /* distinct ids (the runs are in grid order, not sorted) */
    const char **ids = malloc(sizeof *ids * (size_t)s->n_runs);
    CHECK(ids != NULL);
    for (int r = 0; r < s->n_runs; r++) ids[r] = s->runs[r].id;
    qsort(ids, (size_t)s->n_runs, sizeof *ids, cmp_str);
    for (int r = 1; r < s->n_runs; r++) CHECK(strcmp(ids[r - 1], ids[r]) != 0);
    free(ids);
}

/* What the runner writes for a run, it recognises. */
static void check_config_round_trip(const cli_suite *s, int runs)
{
    for (int r = 0; r < s->n_runs && r < runs; r++) {
        mg_status st = cli_suite_write_config(s, &s->runs[r], g_dir, 1);
        if (st != MG_OK) {
            /* a value the reader took that no INI line can hold (a CR
             * inside, "=#x"): refused with a message naming the option
             * (reported to ini.c's owner: the reader could refuse it) */
            CHECK(st == MG_ERR_CONFIG && strstr(mg_errmsg(), "cannot be stored in an INI file"));
            continue;
        }
        char why[1024] = "";
        int ok = cli_suite_config_matches(s, &s->runs[r], g_dir, why, sizeof why);
        if (!ok) fprintf(g_real_stderr, "fuzz: run %s: its own config.ini does not match: %s\n",
                         s->runs[r].id, why);
        CHECK(ok);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    const char *path = fuzz_file(0, data, size);
    g_real_stderr = stderr;
    stderr = g_null; /* glibc's stderr is a plain variable */
    for (int quick = 0; quick < 2; quick++) {
        cli_suite_opts o = {quick, NULL, NULL};
        cli_suite *s = (cli_suite *)&s;
        int problems = cli_suite_load(path, &o, &s);
        CHECK(problems >= 0);
        if (problems > 0) {
            CHECK(s == NULL);
            continue;
        }
        CHECK(s != NULL);
        check_suite(s);
        check_config_round_trip(s, quick ? 1 : 2);
        if (quick) { /* once is enough for the determinism check */
            cli_suite_free(s);
            continue;
        }
        cli_suite *t = NULL;
        CHECK(cli_suite_load(path, &o, &t) == 0 && t != NULL);
        CHECK(t->n_runs == s->n_runs && t->command == s->command);
        for (int r = 0; r < s->n_runs; r++) {
            CHECK(!strcmp(t->runs[r].id, s->runs[r].id));
            CHECK(t->runs[r].hash == s->runs[r].hash);
        }
        cli_suite_free(t);
        cli_suite_free(s);
    }
    stderr = g_real_stderr;
    return 0;
}
