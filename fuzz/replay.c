/* replay.c - runs a harness's LLVMFuzzerTestOneInput over files, without
 * libFuzzer: linked with fuzz/fuzz_NAME.c by the project's own compiler into
 * $(B)/fuzz/replay_NAME, it is how `make check` replays the seeds
 * (fuzz/corpus/NAME/) and every input that ever failed
 * (fuzz/regressions/NAME/), under `make asan` with ASan + UBSan.
 *
 *   replay_NAME FILE|DIR...
 *
 * Directories are read one level deep (names starting with '.' skipped), in
 * name order.  Each file is one input.  Exit 0 after all inputs have run; a
 * failing input aborts the program (a harness check, an assert of the
 * library, a sanitizer report), and its name is printed first.  Exit 2 for an
 * unreadable argument: a missing regression directory must not pass
 * silently.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The sanitizers' hook for "about to die" (present only in a sanitizer
 * build; a weak reference is NULL otherwise). */
void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

static char g_current[4096]; /* the input being run */

static void say_current(void)
{
    static const char pre[] = "replay: failed on input ";
    if (!g_current[0]) return;
    /* async-signal-safe */
    ssize_t r = write(2, pre, sizeof pre - 1);
    r = write(2, g_current, strlen(g_current));
    r = write(2, "\n", 1);
    (void)r;
}

static void on_signal(int sig)
{
    say_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

static int read_file(const char *path, unsigned char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        unsigned char *b = realloc(buf, cap * 2);
        if (!b) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = b;
        cap *= 2;
    }
    int bad = !buf || ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

static int run_file(const char *path)
{
    unsigned char *data;
    size_t len;
    if (read_file(path, &data, &len) != 0) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    snprintf(g_current, sizeof g_current, "%s", path);
    /* Like libFuzzer: the harness gets a buffer of exactly len bytes. */
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy) {
        free(data);
        return -1;
    }
    if (len) memcpy(copy, data, len);
    free(data);
    LLVMFuzzerTestOneInput(copy, len);
    free(copy);
    g_current[0] = '\0';
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run every file of dir (sorted); returns the count, or -1. */
static long run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) break;
            names = nn;
        }
        names[n] = strdup(e->d_name);
        if (names[n]) n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, by_name);
    long count = 0;
    for (size_t i = 0; i < n; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
            if (run_file(path) != 0)
                count = -1;
            else if (count >= 0)
                count++;
        }
        free(names[i]);
    }
    free(names);
    return count;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(say_current);
    signal(SIGABRT, on_signal);
    signal(SIGSEGV, on_signal);
    signal(SIGBUS, on_signal);
    signal(SIGFPE, on_signal);
    signal(SIGILL, on_signal);
    long total = 0;
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        long n;
        if (stat(argv[i], &sb) != 0)
            n = -1;
        else if (S_ISDIR(sb.st_mode))
            n = run_dir(argv[i]);
        else
            n = run_file(argv[i]) == 0 ? 1 : -1;
        if (n < 0) {
            fprintf(stderr, "replay: cannot read %s\n", argv[i]);
            bad = 1;
        } else {
            total += n;
        }
    }
    printf("%s: %ld inputs replayed\n", argv[0], total);
    return bad ? 2 : 0;
}
