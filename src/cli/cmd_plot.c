/* cmd_plot.c - `mixgeo plot DIR...`: render every figure script (*.gp) found
 * below the given directories by running `gnuplot NAME.gp` in the script's
 * own directory, so that its relative data paths work.  gnuplot is an
 * external program and only this command needs it.  A file named style.gp is
 * the house style, not a figure, and is skipped; a .gp file may also be given
 * directly.  Scripts are rendered in sorted path order; gnuplot's messages
 * are shown prefixed with the script's path (warnings only without -q). */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static const char k_usage[] = "usage: mixgeo plot DIR|FILE.gp... [-q]";

static const char k_description[] =
    "Render the figures written by `mixgeo analyze` and `mixgeo theory`: run\n"
    "`gnuplot NAME.gp` in the directory of every *.gp script below each DIR (each\n"
    "script writes NAME.png and NAME.pdf next to itself).  Needs gnuplot\n"
    "(Debian: gnuplot-nox, installed by `make deps`).";

static const char k_epilog[] =
    "Exit status: 0 every figure rendered, 1 gnuplot missing, no script found or a\n"
    "script failed, 2 usage error (e.g. DIR does not exist).";

static const cli_opt k_opts[] = {
    {"quiet", 'q', CLI_FLAG, NULL, "false", CLI_NO_NEG,
     "print nothing but errors (gnuplot warnings are dropped)", NULL},
    {"help", 'h', CLI_FLAG, NULL, "false", CLI_NO_NEG, "show this help and exit", NULL},
};
#define N_OPTS ((int)(sizeof k_opts / sizeof k_opts[0]))
#define MAX_ARGS 256

/* 1 if an executable `name` is on $PATH. */
static int on_path(const char *name)
{
    const char *path = getenv("PATH");
    if (!path || !*path) return 0;
    const char *p = path;
    for (;;) {
        const char *e = strchr(p, ':');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        char buf[4096];
        if (l == 0) snprintf(buf, sizeof buf, "./%s", name);
        else snprintf(buf, sizeof buf, "%.*s/%s", (int)l, p, name);
        struct stat sb;
        if (stat(buf, &sb) == 0 && S_ISREG(sb.st_mode) && access(buf, X_OK) == 0) return 1;
        if (!e) return 0;
        p = e + 1;
    }
}

typedef struct {
    char **v;
    int n, cap;
    int failed; /* out of memory */
} path_list;

static void list_add(path_list *l, const char *path)
{
    if (l->failed) return;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        char **v = realloc(l->v, sizeof *v * (size_t)cap);
        if (!v) {
            l->failed = 1;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n] = strdup(path);
    if (!l->v[l->n]) l->failed = 1;
    else l->n++;
}

static int is_figure_script(const char *name)
{
    size_t l = strlen(name);
    return l > 3 && strcmp(name + l - 3, ".gp") == 0 && strcmp(name, "style.gp") != 0 &&
           name[0] != '.';
}

/* Collect the figure scripts below dir (symbolic links to directories are
 * not followed). */
static void walk(const char *dir, path_list *l, int depth)
{
    if (depth > 32) return;
    DIR *d = opendir(dir);
    if (!d) {
        cli_error("cannot read directory %s: %s", dir, strerror(errno));
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char p[4096];
        if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p) continue;
        struct stat sb;
        if (lstat(p, &sb) != 0) continue;
        if (S_ISDIR(sb.st_mode)) walk(p, l, depth + 1);
        else if (S_ISREG(sb.st_mode) && is_figure_script(e->d_name)) list_add(l, p);
    }
    closedir(d);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Print the captured stderr of gnuplot, each line prefixed by the script. */
static void show_messages(FILE *f, const char *script, int as_error)
{
    rewind(f);
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!line[0]) continue;
        if (as_error) cli_error("%s: %s", script, line);
        else cli_info("%s: %s", script, line);
    }
}

/* Run gnuplot NAME.gp in the directory of path; 0 on success. */
static int render(const char *path, int quiet)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    const char *name = path;
    if (slash) {
        *slash = '\0';
        name = slash + 1;
        if (!dir[0]) snprintf(dir, sizeof dir, "/");
    } else {
        snprintf(dir, sizeof dir, ".");
    }
    FILE *err = tmpfile();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        cli_error("%s: cannot start gnuplot: %s", path, strerror(errno));
        if (err) fclose(err);
        return 1;
    }
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(126);
        if (err) dup2(fileno(err), STDERR_FILENO);
        FILE *nul = fopen("/dev/null", "w");
        if (nul) dup2(fileno(nul), STDOUT_FILENO);
        execlp("gnuplot", "gnuplot", name, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (err) {
        if (!ok || !quiet) show_messages(err, path, !ok);
        fclose(err);
    }
    size_t pl = strlen(path);
    if (ok && pl > 3 && !strcmp(path + pl - 3, ".gp")) { /* NAME.gp writes NAME.pdf */
        char pdf[4200];
        snprintf(pdf, sizeof pdf, "%.*s.pdf", (int)(pl - 3), path);
        cli_pdf_fix_date(pdf);
    }
    if (!ok) {
        if (WIFEXITED(status))
            cli_error("%s: gnuplot failed (exit status %d)", path, WEXITSTATUS(status));
        else cli_error("%s: gnuplot was killed by signal %d", path, WTERMSIG(status));
    }
    return ok ? 0 : 1;
}

int cli_cmd_plot(int argc, char **argv)
{
    cli_values v;
    cli_values_init(&v, k_opts, N_OPTS);
    int rc = CLI_EXIT_USAGE, npos = 0;
    char *pos[MAX_ARGS];
    path_list l = {0};
    if (cli_begin(&v, "plot", argc, argv, pos, MAX_ARGS, &npos, k_usage,
                  k_description, k_epilog, &rc))
        goto done;
    if (npos < 1) {
        cli_error("plot: expected at least one directory (usage: mixgeo plot RUN/analysis)");
        goto done;
    }
    for (int i = 0; i < npos; i++) {
        struct stat sb;
        if (stat(pos[i], &sb) != 0) {
            cli_error("plot: %s: %s", pos[i], strerror(errno));
            goto done;
        }
        if (!S_ISDIR(sb.st_mode) && !(S_ISREG(sb.st_mode) && strlen(pos[i]) > 3 &&
                                      strcmp(pos[i] + strlen(pos[i]) - 3, ".gp") == 0)) {
            cli_error("plot: %s is neither a directory nor a .gp script", pos[i]);
            goto done;
        }
    }
    rc = CLI_EXIT_RUNTIME;
    if (!on_path("gnuplot")) {
        cli_error("gnuplot not found: install gnuplot-nox (make deps)");
        goto done;
    }
    for (int i = 0; i < npos; i++) {
        struct stat sb;
        if (stat(pos[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
            char d[4096];
            size_t len = strlen(pos[i]);
            while (len > 1 && pos[i][len - 1] == '/') len--;
            snprintf(d, sizeof d, "%.*s", (int)len, pos[i]);
            walk(d, &l, 0);
        } else {
            list_add(&l, pos[i]);
        }
    }
    if (l.failed) {
        cli_error("plot: out of memory");
        goto done;
    }
    if (l.n == 0) {
        cli_error("plot: no gnuplot scripts (*.gp) found below %s%s", pos[0],
                  npos > 1 ? " and the others" : "");
        goto done;
    }
    qsort(l.v, (size_t)l.n, sizeof *l.v, cmp_str);
    int failed = 0;
    double t0 = cli_now();
    for (int i = 0; i < l.n; i++) {
        cli_progress_update("plot: %d/%d %s", i + 1, l.n, l.v[i]);
        failed += render(l.v[i], cli_quiet());
    }
    cli_progress_clear();
    if (!cli_quiet()) {
        printf("rendered %d of %d figure%s (PNG and PDF) in %.1f s\n", l.n - failed, l.n,
               l.n == 1 ? "" : "s", cli_now() - t0);
        fflush(stdout);
    }
    if (failed) cli_error("plot: %d of %d scripts failed", failed, l.n);
    rc = failed ? CLI_EXIT_RUNTIME : CLI_EXIT_OK;
done:
    for (int i = 0; i < l.n; i++) free(l.v[i]);
    free(l.v);
    cli_values_free(&v);
    return rc;
}
