/* team.c - a fixed team of worker threads (see team.h).
 *
 * One mutex and two condition variables: the caller bumps a generation
 * counter and broadcasts `go`; each worker runs its share and the last one
 * to finish signals `done`.  A run costs two wake-ups (~10-50 us), small
 * against the convolutions it splits (milliseconds each). */
#include "team.h"

#include <pthread.h>
#include <stdlib.h>

struct mg_team {
    int n;
    pthread_t th[MG_MAX_WORKERS];
    int started; /* threads created (n - 1 when all went well)   */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long gen; /* bumped for every run                          */
    int pending;       /* workers 1..n-1 still running the current run  */
    int quit;
    mg_team_fn fn;
    void *ctx;
};

typedef struct {
    mg_team *p;
    int w;
} worker_arg;

static void *worker_main(void *arg)
{
    mg_team *p = ((worker_arg *)arg)->p;
    int w = ((worker_arg *)arg)->w;
    free(arg);
    unsigned long seen = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->quit && p->gen == seen) pthread_cond_wait(&p->go, &p->mu);
        if (p->quit) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = p->gen;
        mg_team_fn fn = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        fn(ctx, w, p->n);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->mu);
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
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->pending = p->n - 1;
    p->gen++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->n);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void mg_team_free(mg_team *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
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
