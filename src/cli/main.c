/* main.c - the `mixgeo` program: subcommand table and dispatch, messages,
 * signals, the progress line, run-directory and provenance helpers, TSV and
 * JSON writers (see cli.h). */
#include "cli.h"
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- commands */

/* Add a subcommand here (and declare its function in cli.h). */
static const cli_command k_commands[] = {
    {"train", cli_cmd_train, "train a network (Manifold Mixup, input mixup or none)"},
    {"eval", cli_cmd_eval, "evaluate a trained run on its train, val or test split"},
    {"analyze", cli_cmd_analyze, "representation geometry of a trained run at one layer"},
    {"theory", cli_cmd_theory, "check Theorem 1 / Corollary 1 on the idealised problem"},
    {"dump", cli_cmd_dump, "write the hidden states of a split as .npy for numpy"},
    {"compare", cli_cmd_compare, "CKA between the representations of two runs or two .npy files"},
    {"plot", cli_cmd_plot, "render every figure script below a directory with gnuplot"},
    {"suite", cli_cmd_suite, "run a grid of experiments; status; tables and figures over seeds"},
};
#define N_COMMANDS ((int)(sizeof k_commands / sizeof k_commands[0]))

int cli_command_exists(const char *name)
{
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(k_commands[i].name, name) == 0) return 1;
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mixgeo COMMAND [OPTIONS]   (mixgeo COMMAND --help for its options)\n"
            "\n"
            "Manifold Mixup training and representation geometry, version %s.\n"
            "\n"
            "commands:\n",
            MG_VERSION_STRING);
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %s\n", k_commands[i].name, k_commands[i].summary);
    fprintf(f, "\n"
               "exit status: 0 ok, 1 runtime failure, 2 usage or configuration error,\n"
               "130 interrupted (SIGINT/SIGTERM; a training run can be resumed).\n");
}

/* ---------------------------------------------------------------- messages */

static int g_quiet;
static int g_progress_pending; /* a \r line is on the terminal */

static void log_to_stderr(int level, const char *msg, void *user)
{
    (void)user;
    if (g_quiet || level >= 2) return;
    cli_progress_clear();
    fprintf(stderr, "mixgeo: %s%s\n", level == 1 ? "warning: " : "", msg);
}

void cli_set_quiet(int quiet)
{
    g_quiet = quiet;
    mg_log_set(quiet ? NULL : log_to_stderr, NULL);
}

int cli_quiet(void)
{
    return g_quiet;
}

void cli_error(const char *fmt, ...)
{
    cli_progress_clear();
    va_list ap;
    va_start(ap, fmt);
    fputs("mixgeo: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_info(const char *fmt, ...)
{
    if (g_quiet) return;
    cli_progress_clear();
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_error_lines(const char *msg)
{
    const char *p = msg;
    while (*p) {
        const char *e = strchr(p, '\n');
        int n = e ? (int)(e - p) : (int)strlen(p);
        if (n > 0) cli_error("%.*s", n, p);
        if (!e) break;
        p = e + 1;
    }
}

int cli_fail_status(mg_status st)
{
    const char *m = mg_errmsg();
    if (m && *m) cli_error_lines(m);
    else cli_error("%s", mg_status_name(st));
    switch (st) {
    case MG_OK: return CLI_EXIT_OK;
    case MG_ERR_CONFIG: return CLI_EXIT_USAGE;
    case MG_ERR_INTERRUPTED: return CLI_EXIT_INTERRUPTED;
    default: return CLI_EXIT_RUNTIME;
    }
}

/* ---------------------------------------------------------------- signals */

static volatile sig_atomic_t g_stop;
static struct timespec g_stop_time; /* of the first signal (written by the handler only) */

static void on_signal(int sig)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now); /* async-signal-safe */
    if (g_stop) {
        /* A second signal within a second is the same request: a scheduler
         * signals every process of a job (Slurm at a time limit) while the
         * suite runner forwards its own SIGTERM to its steps. */
        double dt = (double)(now.tv_sec - g_stop_time.tv_sec) +
                    1e-9 * (double)(now.tv_nsec - g_stop_time.tv_nsec);
        if (dt < 1.0) return;
        /* A later one: the user insists; die the default way. */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    g_stop_time = now;
    g_stop = 1;
}

void cli_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL); /* a scheduler's warning before a time limit */
}

int cli_stop_requested(void)
{
    return g_stop != 0;
}

/* ---------------------------------------------------------------- progress */

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int stderr_is_tty(void)
{
    static int known = -1;
    if (known < 0) known = isatty(STDERR_FILENO) ? 1 : 0;
    return known;
}

static int g_progress_len;
static double g_progress_last = -1.0;

void cli_progress_update(const char *fmt, ...)
{
    if (g_quiet || !stderr_is_tty()) return;
    double t = cli_now();
    if (g_progress_last >= 0.0 && t - g_progress_last < 0.1) return;
    g_progress_last = t;
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (n >= (int)sizeof buf) n = (int)sizeof buf - 1;
    /* Pad with blanks over the previous, longer line (no terminal escapes). */
    fprintf(stderr, "\r%s%*s", buf, g_progress_len > n ? g_progress_len - n : 0, "");
    fflush(stderr);
    g_progress_len = n;
    g_progress_pending = 1;
}

void cli_progress_clear(void)
{
    if (!g_progress_pending) return;
    fprintf(stderr, "\r%*s\r", g_progress_len, "");
    fflush(stderr);
    g_progress_pending = 0;
    g_progress_len = 0;
    g_progress_last = -1.0;
}

void cli_progress_line(const char *fmt, ...)
{
    if (g_quiet) return;
    cli_progress_clear();
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

/* ---------------------------------------------------------------- files */

mg_status cli_path(char *buf, size_t len, const char *dir, const char *file)
{
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dl--;
    int n = snprintf(buf, len, "%.*s/%s", (int)dl, dir, file);
    if (n < 0 || (size_t)n >= len)
        return mg_fail(MG_ERR_CONFIG, "path too long: %s/%s", dir, file);
    return MG_OK;
}

int cli_file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

int cli_dir_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

#ifdef MIXGEO_HAVE_GITREV
#include "gitrev.h"
#endif

const char *cli_git_revision(void)
{
    static char rev[64];
    if (rev[0]) return rev;
    snprintf(rev, sizeof rev, "unknown");
#ifdef MIXGEO_GIT_REV
    /* the revision the Makefile built from */
    if (strcmp(MIXGEO_GIT_REV, "unknown") != 0) {
        snprintf(rev, sizeof rev, "%s", MIXGEO_GIT_REV);
        return rev;
    }
#endif
    /* The source tree of this executable: the directory holding it (the
     * program is built as build/mixgeo inside the checkout).  An installed
     * copy outside a checkout reports "unknown". */
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return rev;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return rev;
    *slash = '\0';
    if (strchr(exe, '\'')) return rev; /* keep the shell command simple and safe */
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "git -C '%s' rev-parse --short HEAD 2>/dev/null", exe[0] ? exe : "/");
    FILE *p = popen(cmd, "r");
    if (!p) return rev;
    char line[64] = "";
    if (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\r\n")] = '\0';
        int ok = line[0] != '\0';
        for (const char *c = line; *c; c++)
            if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'))) ok = 0;
        if (ok) snprintf(rev, sizeof rev, "%s", line);
    }
    pclose(p);
    return rev;
}

void cli_provenance(char *buf, size_t len, uint64_t seed, const char *config)
{
    snprintf(buf, len, "# mixgeo %s seed=%llu git=%s blas=%s config=%s", MG_VERSION_STRING,
             (unsigned long long)seed, cli_git_revision(), mg_blas_core(), config);
}

cJSON *cli_json_stamped(void)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "mixgeo", MG_VERSION_STRING);
    cJSON_AddStringToObject(o, "git", cli_git_revision());
    cJSON_AddStringToObject(o, "blas", mg_blas_core());
    cJSON_AddStringToObject(o, "conv_isa", mg_conv_isa());
    return o;
}

double cli_round9(double x)
{
    if (!isfinite(x)) return x;
    char buf[64];
    snprintf(buf, sizeof buf, "%.9g", x);
    return strtod(buf, NULL);
}


mg_status cli_tsv_write_blocks(const char *path, const char *provenance,
                               const char *const *columns, int ncols, const double *rows,
                               int nrows, int block)
{
    return mg_tsv_write(path, provenance, columns, ncols, rows, nrows, block);
}

mg_status cli_tsv_write(const char *path, const char *provenance, const char *const *columns,
                        int ncols, const double *rows, int nrows)
{
    return cli_tsv_write_blocks(path, provenance, columns, ncols, rows, nrows, 0);
}

mg_status cli_tsv_read(const char *path, int ncols, double **rows, int *nrows)
{
    *rows = NULL;
    *nrows = 0;
    FILE *f = fopen(path, "r");
    if (!f) return mg_fail(MG_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    int cap = 0, n = 0, lineno = 0;
    double *r = NULL;
    char line[8192];
    mg_status st = MG_OK;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            st = mg_fail(MG_ERR_FORMAT, "%s:%d: line too long", path, lineno);
            break;
        }
        if (line[0] == '#' || line[0] == '\n' || line[0] == '\0') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            double *nr = realloc(r, sizeof *r * (size_t)cap * (size_t)ncols);
            if (!nr) {
                st = mg_fail(MG_ERR_NOMEM, "out of memory reading %s", path);
                break;
            }
            r = nr;
        }
        char *p = line;
        int c;
        for (c = 0; c < ncols; c++) {
            char *end;
            double x = strtod(p, &end);
            if (end == p) break;
            r[(size_t)n * (size_t)ncols + (size_t)c] = x;
            p = end;
            if (c < ncols - 1) {
                if (*p != '\t') break;
                p++;
            }
        }
        if (c < ncols || (*p != '\n' && *p != '\0' && *p != '\r')) {
            st = mg_fail(MG_ERR_FORMAT, "%s:%d: expected %d tab-separated numbers", path, lineno,
                         ncols);
            break;
        }
        n++;
    }
    if (st == MG_OK && ferror(f)) st = mg_fail(MG_ERR_IO, "cannot read %s", path);
    fclose(f);
    if (st != MG_OK) {
        free(r);
        return st;
    }
    *rows = r;
    *nrows = n;
    return MG_OK;
}


mg_status cli_json_write(const char *path, const cJSON *root)
{
    return mg_json_write(path, root);
}

char *cli_read_file(const char *path, size_t max, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    char *buf = size >= 0 && (size_t)size < max ? malloc((size_t)size + 1) : NULL;
    size_t got = 0;
    if (buf) {
        rewind(f);
        got = fread(buf, 1, (size_t)size, f);
        buf[got] = '\0';
    }
    fclose(f);
    if (n) *n = got;
    return buf;
}

cJSON *cli_json_load(const char *path)
{
    char *buf = cli_read_file(path, (size_t)64 << 20, NULL);
    cJSON *j = buf ? cJSON_Parse(buf) : NULL;
    free(buf);
    return j;
}

/* The creation date gnuplot's cairo writes into a PDF (/CreationDate, also
 * /ModDate: "(D:YYYYMMDDHHMMSS") rewritten in place to SOURCE_DATE_EPOCH (a
 * count of seconds, the reproducible-builds convention), else 1970-01-01, so
 * that rendering unchanged figures again changes no byte.  The digits keep
 * their length, so the file's cross-reference offsets stay valid.  A file
 * that cannot be read or holds no such date is left alone. */
void cli_pdf_fix_date(const char *path)
{
    size_t n = 0;
    char *buf = cli_read_file(path, (size_t)64 << 20, &n);
    FILE *f = buf ? fopen(path, "r+b") : NULL;
    if (f) {
        char stamp[32] = "19700101000000";
        const char *env = getenv("SOURCE_DATE_EPOCH");
        char *end = NULL;
        long long t = env ? strtoll(env, &end, 10) : -1;
        struct tm tm;
        time_t tt = (time_t)t;
        if (env && end != env && !*end && t >= 0 && gmtime_r(&tt, &tm) &&
            strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &tm) != 14)
            snprintf(stamp, sizeof stamp, "19700101000000"); /* beyond year 9999 */
        const char *keys[2] = {"/CreationDate (D:", "/ModDate (D:"};
        for (int k = 0; k < 2; k++) {
            size_t kl = strlen(keys[k]);
            for (size_t at = 0; at + kl + 14 <= n; at++) {
                if (buf[at] != '/' || memcmp(buf + at, keys[k], kl) != 0) continue;
                int digits = 1;
                for (size_t i = 0; i < 14; i++)
                    digits &= buf[at + kl + i] >= '0' && buf[at + kl + i] <= '9';
                if (digits && fseek(f, (long)(at + kl), SEEK_SET) == 0) fwrite(stamp, 1, 14, f);
            }
        }
        fclose(f);
    }
    free(buf);
}

/* ---------------------------------------------------------------- kernels */

/* Float results depend on the kernels OpenBLAS and oneDNN pick for the CPU
 * (OpenBLAS reads OPENBLAS_CORETYPE when it loads, oneDNN DNNL_MAX_CPU_ISA
 * at its first use; left alone, OpenBLAS maps an unrecognised CPU model to
 * its slowest x86-64 kernels).  MIXGEO_BLAS_CORE chooses (see
 * mg_blas_core_choose; default portable: Haswell/AVX2 on any AVX2 machine, so
 * a laptop, a cluster node and a requeued job compute the same bits).  When
 * the library loaded with another family, set the variables and run this
 * program again (exec, same argv).  An OPENBLAS_CORETYPE the user set, with
 * MIXGEO_BLAS_CORE unset, is left as it is, and so is a DNNL_MAX_CPU_ISA
 * unless MIXGEO_BLAS_CORE is set.  Returns 0 to go on, else an exit status. */
static int select_kernels(char **argv)
{
    const char *want = getenv("MIXGEO_BLAS_CORE"), *have = getenv("OPENBLAS_CORETYPE");
    const char *again = getenv("MIXGEO_BLAS_REEXEC");
    int explicit = want && *want;
    if (!explicit && have && *have) {
        /* the user's (or a parent's, passed on by sbatch to another node) */
        if (mg_blas_core_runs(have) == 0) {
            const char *core, *isa;
            mg_blas_core_choose(have, &core, &isa);
            cli_error("OPENBLAS_CORETYPE=%s: %s (unset it, or set MIXGEO_BLAS_CORE)", have,
                      mg_errmsg());
            return CLI_EXIT_USAGE;
        }
        return 0;
    }
    const char *core, *isa;
    if (mg_blas_core_choose(want, &core, &isa) != MG_OK) {
        cli_error("MIXGEO_BLAS_CORE=%s: %s", want, mg_errmsg());
        return CLI_EXIT_USAGE;
    }
    if (again) unsetenv("MIXGEO_BLAS_REEXEC"); /* the children choose for themselves */
    if (!core) return 0;
    /* oneDNN reads its cap at its first use: no exec needed for it alone (an
     * OpenBLAS that picked the family itself keeps an AVX-512 oneDNN capped) */
    const char *cap = getenv("DNNL_MAX_CPU_ISA");
    if (!cap || !*cap || explicit) setenv("DNNL_MAX_CPU_ISA", isa, 1);
    if (!strcmp(mg_blas_core(), core)) return 0;
    if (!again) {
        setenv("OPENBLAS_CORETYPE", core, 1);
        setenv("MIXGEO_BLAS_REEXEC", "1", 1);
        execv("/proc/self/exe", argv);
        unsetenv("MIXGEO_BLAS_REEXEC"); /* no exec: carry on with what loaded */
    }
    if (explicit)
        cli_info("mixgeo: warning: MIXGEO_BLAS_CORE=%s: OpenBLAS runs its %s kernels (a build "
                 "without DYNAMIC_ARCH keeps its own)",
                 want, mg_blas_core());
    return 0;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    cli_set_quiet(0);
    int k = select_kernels(argv);
    if (k) return k;
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        if (argc > 2 && strcmp(cmd, "help") == 0) {
            /* `mixgeo help train` = `mixgeo train --help` */
            for (int i = 0; i < N_COMMANDS; i++) {
                if (!strcmp(argv[2], k_commands[i].name)) {
                    char *av[] = {argv[2], "--help", NULL};
                    return k_commands[i].fn(2, av);
                }
            }
            cli_error("unknown command '%s' (see mixgeo --help)", argv[2]);
            return CLI_EXIT_USAGE;
        }
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("mixgeo %s (git %s)\nkernels: OpenBLAS %s, oneDNN %s\n", MG_VERSION_STRING,
               cli_git_revision(), mg_blas_core(), mg_conv_isa());
        return CLI_EXIT_OK;
    }
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(cmd, k_commands[i].name)) return k_commands[i].fn(argc - 1, argv + 1);
    cli_error("unknown command '%s' (see mixgeo --help)", cmd);
    return CLI_EXIT_USAGE;
}
