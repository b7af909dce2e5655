/* util.c - status details, logging hook, assert, atomic file writes, mkdir -p. */
#include "mixgeo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static _Thread_local char g_errmsg[1024];
static mg_log_fn g_log_fn;
static void *g_log_user;

const char *mg_errmsg(void)
{
    return g_errmsg;
}

mg_status mg_fail(mg_status st, const char *fmt, ...)
{
    /* Formatted into a local buffer first: an argument may point into
     * g_errmsg (mg_errmsg()), and vsnprintf into its own source is UB. */
    char buf[sizeof g_errmsg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    memcpy(g_errmsg, buf, sizeof buf);
    return st;
}

mg_status mg_fail_prefix(mg_status st, const char *fmt, ...)
{
    char pre[sizeof g_errmsg];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    if (n < 0) pre[0] = '\0';
    if (!g_errmsg[0]) /* nothing to prefix: the status name stands for the reason */
        snprintf(g_errmsg, sizeof g_errmsg, "%s", mg_status_name(st));
    size_t pl = strlen(pre), ml = strlen(g_errmsg), cap = sizeof g_errmsg - 1;
    if (pl > cap) pl = cap;
    if (pl + ml > cap) ml = cap - pl; /* the message's tail is cut, the prefix kept */
    memmove(g_errmsg + pl, g_errmsg, ml);
    memcpy(g_errmsg, pre, pl);
    g_errmsg[pl + ml] = '\0';
    return st;
}

const char *mg_status_name(mg_status st)
{
    switch (st) {
    case MG_OK: return "ok";
    case MG_ERR_IO: return "i/o error";
    case MG_ERR_FORMAT: return "format error";
    case MG_ERR_CONFIG: return "configuration error";
    case MG_ERR_NOMEM: return "out of memory";
    case MG_ERR_NUMERIC: return "numerical error";
    case MG_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown status";
}

void mg_log_set(mg_log_fn fn, void *user)
{
    g_log_fn = fn;
    g_log_user = user;
}

void mg_log(int level, const char *fmt, ...)
{
    if (!g_log_fn) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    g_log_fn(level, buf, g_log_user);
}

void mg_assert_fail(const char *file, int line, const char *expr)
{
    /* A programmer error: the one place the library writes to stderr. */
    fprintf(stderr, "mixgeo: assertion failed at %s:%d: %s\n", file, line, expr);
    abort();
}

/* ---------------------------------------------------------------- atomic writes */

/* Temp files are named TARGET.tmpPID.HOST: the writer's process id and host
 * name, so that a later process can tell a temp file left by a writer that
 * died between writing and renaming (kill -9, power loss) from one that a
 * live process is writing right now, also in a directory shared by several
 * hosts (a cluster file system): only a temp file of this host whose process
 * is gone is stale.  Files named TARGET.tmpPID (the format before the host
 * was added) count as this host's. */

/* This host's name as it appears in temp file names: at most 64 characters
 * of [A-Za-z0-9._-] (anything else becomes '_'); "localhost" if unknown. */
static void host_tag(char *buf, size_t len)
{
    char h[256];
    if (gethostname(h, sizeof h) != 0 || !h[0]) snprintf(h, sizeof h, "localhost");
    h[sizeof h - 1] = '\0';
    size_t n = 0;
    for (const char *p = h; *p && n + 1 < len && n < 64; p++) {
        char c = *p;
        int okc = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        buf[n++] = okc ? c : '_';
    }
    buf[n] = '\0';
}

/* The writer's process id if NAME is BASE.tmpPID.HOST with HOST this host's
 * tag, or BASE.tmpPID; BASE is any non-empty name when base is NULL.  0 if
 * NAME is no temp file of this host. */
static long temp_file_pid(const char *name, const char *base, const char *host)
{
    for (const char *p = strstr(name, ".tmp"); p; p = strstr(p + 1, ".tmp")) {
        size_t bl = (size_t)(p - name);
        if (bl == 0 || (base && (bl != strlen(base) || strncmp(name, base, bl) != 0))) continue;
        const char *q = p + 4;
        long pid = 0;
        int digits = 0;
        while (*q >= '0' && *q <= '9' && digits < 10) pid = pid * 10 + (*q++ - '0'), digits++;
        if (!digits || pid <= 0 || pid > INT_MAX) continue;
        if (*q == '\0' || (*q == '.' && strcmp(q + 1, host) == 0)) return pid;
    }
    return 0;
}

/* 1 if process pid is gone (ESRCH; EPERM means it exists as another user's). */
static int process_gone(long pid)
{
    return (pid_t)pid != getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Remove the stale temp files of target BASE (NULL: of any target) in DIR;
 * returns the number removed, or -1 if DIR cannot be read. */
static int remove_stale(const char *dir, const char *base)
{
    char host[80];
    host_tag(host, sizeof host);
    DIR *d = opendir(dir);
    if (!d) return -1;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long pid = temp_file_pid(e->d_name, base, host);
        if (!pid || !process_gone(pid)) continue;
        char p[PATH_MAX];
        int n = snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (n <= 0 || (size_t)n >= sizeof p || lstat(p, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        if (unlink(p) == 0) removed++;
    }
    closedir(d);
    return removed;
}

mg_status mg_remove_stale_temps(const char *dir, int *removed)
{
    int n = remove_stale(dir, NULL);
    if (removed) *removed = n > 0 ? n : 0;
    if (n < 0) return mg_fail(MG_ERR_IO, "cannot read directory %s: %s", dir, strerror(errno));
    return MG_OK;
}

/* dir <- the directory part of path ("." if none); base <- the rest. */
static void split_path(const char *path, char *dir, size_t dlen, const char **base)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, dlen, ".");
        *base = path;
    } else if (slash == path) {
        snprintf(dir, dlen, "/");
        *base = slash + 1;
    } else {
        snprintf(dir, dlen, "%.*s", (int)(slash - path), path);
        *base = slash + 1;
    }
}

/* fsync a directory so that a rename inside it is on disk.  File systems
 * that cannot (EINVAL, ENOTSUP) or a directory we may not open for reading
 * are no failure: the rename itself has happened. */
static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return 0;
    int bad = fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP && errno != EROFS &&
              errno != EBADF;
    int err = errno;
    close(fd);
    errno = err;
    return bad ? -1 : 0;
}

mg_status mg_write_atomic(const char *path, mg_status (*fn)(FILE *f, void *user), void *user)
{
    char host[80], dir[PATH_MAX];
    const char *base;
    host_tag(host, sizeof host);
    split_path(path, dir, sizeof dir, &base);
    size_t len = strlen(path) + strlen(host) + 32;
    char *tmp = malloc(len);
    if (!tmp) return mg_fail(MG_ERR_NOMEM, "out of memory writing %s", path);
    snprintf(tmp, len, "%s.tmp%ld.%s", path, (long)getpid(), host);
    remove_stale(dir, base); /* of earlier writers of this file that died before the rename */
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        mg_status st =
            mg_fail(MG_ERR_IO, "cannot write %s: %s (creating %s)", path, strerror(errno), tmp);
        free(tmp);
        return st;
    }
    errno = 0;
    mg_status st = fn(f, user);
    int err = errno; /* of the stdio call that failed, if one did */
    if (st != MG_OK) {
        /* a failed write inside fn: name the file (fn knows only the stream) */
        if (ferror(f)) mg_fail_prefix(st, "cannot write %s: ", path);
    } else if (fflush(f) != 0 || ferror(f)) {
        err = errno ? errno : err;
        st = mg_fail(MG_ERR_IO, "cannot write %s: %s", path, err ? strerror(err) : "write error");
    } else if (fsync(fileno(f)) != 0 && errno != EINVAL && errno != ENOTSUP) {
        /* the data on disk before the rename makes it visible */
        st = mg_fail(MG_ERR_IO, "cannot write %s: fsync: %s", path, strerror(errno));
    }
    if (fclose(f) != 0 && st == MG_OK)
        st = mg_fail(MG_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    if (st == MG_OK && rename(tmp, path) != 0)
        st = mg_fail(MG_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (st == MG_OK && sync_dir(dir) != 0)
        st = mg_fail(MG_ERR_IO, "cannot sync directory %s after writing %s: %s", dir, base,
                     strerror(errno));
    if (st != MG_OK) remove(tmp);
    free(tmp);
    return st;
}

mg_status mg_mkdir_p(const char *path)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) return mg_fail(MG_ERR_IO, "bad directory path '%s'", path);
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return mg_fail(MG_ERR_IO, "cannot create directory %s: %s", buf, strerror(errno));
            buf[i] = c;
        }
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return mg_fail(MG_ERR_IO, "%s exists and is not a directory", path);
    return MG_OK;
}
