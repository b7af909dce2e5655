/* util.c - status details, logging hook, assert, atomic file writes, mkdir -p. */
#include "mixgeo.h"

#include <errno.h>
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
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_errmsg, sizeof g_errmsg, fmt, ap);
    va_end(ap);
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

mg_status mg_write_atomic(const char *path, mg_status (*fn)(FILE *f, void *user), void *user)
{
    size_t len = strlen(path);
    char *tmp = malloc(len + 32);
    if (!tmp) return mg_fail(MG_ERR_NOMEM, "out of memory writing %s", path);
    snprintf(tmp, len + 32, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        mg_status st = mg_fail(MG_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    mg_status st = fn(f, user);
    if (st == MG_OK && (fflush(f) != 0 || ferror(f)))
        st = mg_fail(MG_ERR_IO, "write error on %s: %s", tmp, strerror(errno));
    if (fclose(f) != 0 && st == MG_OK)
        st = mg_fail(MG_ERR_IO, "write error on %s: %s", tmp, strerror(errno));
    if (st == MG_OK && rename(tmp, path) != 0)
        st = mg_fail(MG_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
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
