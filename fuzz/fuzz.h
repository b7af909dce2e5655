/* fuzz.h - helpers shared by the libFuzzer harnesses fuzz/fuzz_*.c (header
 * only; include it first, before any system header).
 *
 * A harness defines LLVMFuzzerTestOneInput and nothing else that the build
 * needs; it is linked either with libFuzzer (`make fuzz`, clang) or with
 * fuzz/replay.c (`make check`, the project's compiler), so it must be plain
 * C11 + POSIX that gcc compiles cleanly too.  A harness checks what it can
 * (invariants of what was loaded, two ways of reading the same bytes giving
 * the same answer) and calls FUZZ_CHECK, which aborts: libFuzzer and the
 * replay driver report an abort as a failure of that input.
 */
#ifndef MIXGEO_FUZZ_H
#define MIXGEO_FUZZ_H

#define _GNU_SOURCE /* memfd_create */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mixgeo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test: on failure, say which and abort. */
#define FUZZ_CHECK(x) ((x) ? (void)0 : fuzz_check_failed(__FILE__, __LINE__, #x))

static inline void fuzz_check_failed(const char *file, int line, const char *expr)
{
    fprintf(stderr, "fuzz: check failed at %s:%d: %s (mg_errmsg: \"%s\")\n", file, line, expr,
            mg_errmsg());
    abort();
}

/* A new temp directory DIR (len bytes) named mixgeo-fuzz-NAME-XXXXXX, in
 * /dev/shm when there is one (a tmpfs: fsync costs nothing), else $TMPDIR
 * or /tmp. */
static inline void fuzz_tmpdir(char *dir, size_t len, const char *name)
{
    const char *t = getenv("TMPDIR");
    if (access("/dev/shm", W_OK) == 0) t = "/dev/shm";
    snprintf(dir, len, "%s/mixgeo-fuzz-%s-XXXXXX", t && *t ? t : P_tmpdir, name);
    FUZZ_CHECK(mkdtemp(dir) != NULL);
}

/* The library's log messages are formatted (so that their format strings
 * are exercised too) and dropped. */
static inline void fuzz_log_drop(int level, const char *msg, void *user)
{
    (void)level;
    (void)msg;
    (void)user;
}

#define FUZZ_FILES 4

/* Temp files of the fallback below, removed at exit. */
static char fuzz_tmp_names[FUZZ_FILES][4096];
static inline void fuzz_tmp_cleanup(void)
{
    for (int i = 0; i < FUZZ_FILES; i++)
        if (fuzz_tmp_names[i][0]) unlink(fuzz_tmp_names[i]);
}

/* A file holding data[0..size) whose path the loaders can open: a memfd (no
 * disk, nothing left behind when the harness is killed) reached as
 * /proc/self/fd/N, or where memfds or /proc are missing a temp file in
 * $TMPDIR (removed at a normal exit).  slot 0..FUZZ_FILES-1: a harness that
 * needs two files at once (images and labels) uses two slots.  Each slot's
 * file is created once and rewritten by every call; the path stays the same.
 * Aborts when the file cannot be written (the harness's environment failing,
 * not the code under test). */
static inline const char *fuzz_file(int slot, const void *data, size_t size)
{
    static int fd[FUZZ_FILES] = {-1, -1, -1, -1};
    static char path[FUZZ_FILES][4096];
    FUZZ_CHECK(slot >= 0 && slot < FUZZ_FILES);
    if (fd[slot] < 0) {
        int f = memfd_create("mixgeo-fuzz", MFD_CLOEXEC);
        if (f >= 0) {
            snprintf(path[slot], sizeof path[slot], "/proc/self/fd/%d", f);
            if (access(path[slot], R_OK) != 0) {
                close(f);
                f = -1;
            }
        }
        if (f < 0) {
            static int registered;
            const char *t = getenv("TMPDIR");
            snprintf(path[slot], sizeof path[slot], "%s/mixgeo-fuzz-XXXXXX", t && *t ? t : P_tmpdir);
            f = mkstemp(path[slot]);
            FUZZ_CHECK(f >= 0);
            memcpy(fuzz_tmp_names[slot], path[slot], sizeof path[slot]);
            if (!registered) registered = atexit(fuzz_tmp_cleanup) == 0;
        }
        fd[slot] = f;
    }
    FUZZ_CHECK(ftruncate(fd[slot], 0) == 0);
    const unsigned char *p = data;
    size_t left = size;
    off_t off = 0;
    while (left > 0) {
        ssize_t w = pwrite(fd[slot], p, left, off);
        FUZZ_CHECK(w > 0);
        p += w;
        off += w;
        left -= (size_t)w;
    }
    return path[slot];
}

#endif
