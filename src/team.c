/* team.c - a fixed team of worker threads (see team.h).
 *
 * Waking: the caller publishes fn and ctx, then bumps an atomic generation
 * counter (release) under the mutex and broadcasts `go`.  A worker first
 * polls the counter (acquire) briefly (up to MG_TEAM_SPIN_NS: a run that
 * follows right after the last one then costs no system call); then it
 * sleeps on `go`, re-checking the counter under the mutex, so no wake-up is
 * lost.  The end of a run mirrors it: every worker decrements `pending`
 * (acq_rel); the caller spins on it for a while, then sleeps on `done`,
 * which the last worker signals under the mutex.
 *
 * Memory order: fn/ctx are plain fields written before the release
 * increment of gen and read after the acquire load that saw it; whatever a
 * worker wrote during its share happens-before the caller's acquire load of
 * pending == 0.  The condvar paths hold the mutex around the re-check, the
 * increment/decrement and the signal, so the classic lost-wake-up race
 * cannot occur. */
#include "team.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* How long a waiting thread spins before it sleeps (it always polls 64
 * times first).  Measured on the shared 2-core development machine (load
 * 4-9 from other jobs): 2 workers, runs of 20 us work with 20 us serial
 * gaps, 90 us a run+gap without spinning, 110 us spinning 20 us, 170-240 us
 * spinning 50 us: a spinning worker takes the core the caller needs for the
 * serial part.  The MLP's epoch agreed (0.88 and 0.97 of the time without
 * spin, paired A/B).  So off; worth measuring again on a quiet machine. */
#define MG_TEAM_SPIN_NS 0L

struct mg_team {
    int n;
    pthread_t th[MG_MAX_WORKERS];
    int started; /* threads created (n - 1 when all went well)   */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    atomic_ulong gen;   /* bumped for every run                          */
    atomic_int pending; /* workers 1..n-1 still running the current run  */
    atomic_int quit;
    mg_team_fn fn;
    void *ctx;
};

typedef struct {
    mg_team *p;
    int w;
} worker_arg;


static long elapsed_ns(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000000000L + (t.tv_nsec - t0->tv_nsec);
}

/* Spin until gen differs from seen (or quit), at most MG_TEAM_SPIN_NS;
 * returns the generation seen last. */
static unsigned long spin_for_run(mg_team *p, unsigned long seen)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned i = 1;; i++) {
        unsigned long g = atomic_load_explicit(&p->gen, memory_order_acquire);
        if (g != seen || atomic_load_explicit(&p->quit, memory_order_relaxed)) return g;
        CPU_RELAX();
        if (i % 64 == 0 && elapsed_ns(&t0) > MG_TEAM_SPIN_NS) return g;
    }
}

static void *worker_main(void *arg)
{
    mg_team *p = ((worker_arg *)arg)->p;
    int w = ((worker_arg *)arg)->w;
    free(arg);
    unsigned long seen = 0;
    for (;;) {
        unsigned long g = spin_for_run(p, seen);
        if (g == seen && !atomic_load(&p->quit)) {
            pthread_mutex_lock(&p->mu);
            while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen &&
                   !atomic_load(&p->quit))
                pthread_cond_wait(&p->go, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->quit)) return NULL;
        seen = g;
        p->fn(p->ctx, w, p->n);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

mg_status mg_team_create(int n, mg_team **out)
{
    MG_ASSERT(out && n >= 1);
    *out = NULL;
    if (n > MG_MAX_WORKERS)
        return mg_fail(MG_ERR_CONFIG, "threads: at most %d (got %d)", MG_MAX_WORKERS, n);
    mg_team *p = calloc(1, sizeof *p);
    if (!p) return mg_fail(MG_ERR_NOMEM, "out of memory for the worker team");
    p->n = n;
    atomic_init(&p->gen, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->quit, 0);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int w = 1; w < n; w++) {
        worker_arg *a = malloc(sizeof *a);
        if (!a) {
            mg_team_free(p);
            return mg_fail(MG_ERR_NOMEM, "out of memory for the worker team");
        }
        a->p = p, a->w = w;
        if (pthread_create(&p->th[w], NULL, worker_main, a)) {
            free(a);
            mg_team_free(p);
            return mg_fail(MG_ERR_IO, "could not start worker thread %d of %d", w, n);
        }
        p->started = w;
    }
    *out = p;
    return MG_OK;
}

int mg_team_size(const mg_team *p)
{
    return p ? p->n : 1;
}

void mg_team_run(mg_team *p, mg_team_fn fn, void *ctx)
{
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    /* no worker reads fn/ctx until it sees the new generation */
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->n);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned i = 1; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; i++) {
        CPU_RELAX();
        if (i % 64 == 0 && elapsed_ns(&t0) > MG_TEAM_SPIN_NS) {
            pthread_mutex_lock(&p->mu);
            while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0)
                pthread_cond_wait(&p->done, &p->mu);
            pthread_mutex_unlock(&p->mu);
            break;
        }
    }
}

void mg_team_free(mg_team *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->quit, 1);
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int w = 1; w <= p->started; w++) pthread_join(p->th[w], NULL);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void mg_team_share(int count, int w, int n, int *lo, int *hi)
{
    int q = count / n, r = count % n;
    *lo = w * q + (w < r ? w : r);
    *hi = *lo + q + (w < r);
}
