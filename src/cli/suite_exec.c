/* suite_exec.c - experiment suites: running the external commands of the
 * Slurm backend (sbatch, squeue, scontrol, scancel) with their output
 * captured, quoting for the sh scripts it writes, and the state of a Slurm
 * job as squeue reports it (suite_internal.h, suite.h). */
#include "suite_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---------------------------------------------------------------- commands */

/* 1 if name is an executable file in a directory of PATH. */
int sx_on_path(const char *name)
{
    const char *path = getenv("PATH");
    if (!path) return 0;
    char buf[4096];
    for (const char *p = path; *p;) {
        const char *e = strchr(p, ':');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n && n < sizeof buf - 64) {
            snprintf(buf, sizeof buf, "%.*s/%s", (int)n, p, name);
            struct stat st;
            if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0) return 1;
        }
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

/* "sbatch --parsable ... FILE" (for messages; argv NULL-terminated). */
void sx_command_text(char *const *argv, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; argv[i] && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? " " : "", argv[i]);
        if (w > 0) used += (size_t)w;
    }
}

static void sx_append(char **buf, size_t *len, const char *data, size_t n)
{
    *buf = xrealloc(*buf, *len + n + 1);
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
}

/* Run argv (PATH search) with stdin /dev/null; its stdout and stderr into
 * *out and *err (caller frees).  Returns its exit status, 127 if it could
 * not be started, 128 + N if killed by signal N. */
int sx_run_capture(char *const *argv, char **out, char **err)
{
    *out = xstrdup("");
    *err = xstrdup("");
    size_t no = 0, ne = 0;
    int po[2], pe[2];
    if (pipe(po) != 0) return 127;
    if (pipe(pe) != 0) {
        close(po[0]);
        close(po[1]);
        return 127;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(po[0]);
        close(po[1]);
        close(pe[0]);
        close(pe[1]);
        return 127;
    }
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        if (in >= 0) dup2(in, STDIN_FILENO);
        dup2(po[1], STDOUT_FILENO);
        dup2(pe[1], STDERR_FILENO);
        close(po[0]);
        close(pe[0]);
        execvp(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int open_fds = 2;
    char chunk[4096];
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int k = 0; k < 2; k++) {
            if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t r = read(fds[k].fd, chunk, sizeof chunk);
            if (r > 0) {
                if (k == 0)
                    sx_append(out, &no, chunk, (size_t)r);
                else
                    sx_append(err, &ne, chunk, (size_t)r);
            } else if (r == 0 || errno != EINTR) {
                close(fds[k].fd);
                fds[k].fd = -1;
                open_fds--;
            }
        }
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return 127;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Print a failed command: "mixgeo: CMD failed (exit N): its stderr". */
void sx_command_failed(char *const *argv, int rc, const char *err)
{
    char cmd[8192];
    sx_command_text(argv, cmd, sizeof cmd);
    char *e = xstrdup(err);
    char *t = trim(e);
    if (rc == 127 && !*t)
        cli_error("cannot run %s (is Slurm installed here?): %s", argv[0], cmd);
    else
        cli_error("%s failed (exit %d): %s%s%s", argv[0], rc, cmd, *t ? "\n" : "", t);
    free(e);
}

/* Single-quoted for sh. */
void sx_shell_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    }
    fputc('\'', f);
}

/* ---------------------------------------------------------------- job states */

int cli_suite_slurm_state_alive(const char *state)
{
    static const char *const alive[] = {"PENDING",   "RUNNING",   "CONFIGURING",  "COMPLETING",
                                        "SUSPENDED", "REQUEUED",  "REQUEUE_HOLD", "REQUEUE_FED",
                                        "RESIZING",  "SIGNALING", "STAGE_OUT",    "STOPPED",
                                        NULL};
    for (int i = 0; alive[i]; i++)
        if (!strcmp(state, alive[i])) return 1;
    return 0;
}

/* Answers of squeue about single jobs, remembered for a few seconds (a
 * status of a large suite whose locks name one job asks once). */
#define STATE_CACHE 64
static struct {
    char job[64], state[32], reason[64];
    int found;
    double when;
} g_states[STATE_CACHE];
static int g_n_states;

int cli_suite_slurm_job_state(const char *job, char *state, size_t slen, char *reason, size_t rlen)
{
    state[0] = reason[0] = '\0';
    double now = cli_now();
    for (int i = 0; i < g_n_states; i++)
        if (!strcmp(g_states[i].job, job) && now - g_states[i].when < 5.0) {
            snprintf(state, slen, "%s", g_states[i].state);
            snprintf(reason, rlen, "%s", g_states[i].reason);
            return g_states[i].found;
        }
    if (!sx_on_path("squeue")) return -1;
    char jarg[80];
    snprintf(jarg, sizeof jarg, "%s", job);
    char *argv[] = {"squeue", "-h", "-j", jarg, "-O", "State:|,Reason:", NULL};
    char *out, *err;
    int rc = sx_run_capture(argv, &out, &err);
    int found = -1;
    if (rc == 0) {
        found = 0;
        char *line = trim(out);
        if (*line) {
            char *bar = strchr(line, '|');
            if (bar) {
                *bar = '\0';
                char *r2 = bar + 1, *bar2 = strchr(r2, '|');
                if (bar2) *bar2 = '\0';
                snprintf(reason, rlen, "%s", trim(r2));
            }
            snprintf(state, slen, "%s", trim(line));
            found = 1;
        }
    } else if (strstr(err, "Invalid job id")) {
        found = 0; /* ended and forgotten, or never existed */
    }
    free(out);
    free(err);
    if (found >= 0) {
        int k = g_n_states < STATE_CACHE ? g_n_states++ : 0;
        snprintf(g_states[k].job, sizeof g_states[k].job, "%s", job);
        snprintf(g_states[k].state, sizeof g_states[k].state, "%s", state);
        snprintf(g_states[k].reason, sizeof g_states[k].reason, "%s", reason);
        g_states[k].found = found;
        g_states[k].when = now;
    }
    return found;
}
