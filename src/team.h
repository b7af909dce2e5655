/* team.h - internal: a fixed team of worker threads (the model's, for its
 * layers, and the trainer's optimizer step).
 *
 * mg_team_run(p, fn, ctx) calls fn(ctx, w, n) once for every worker
 * w = 0..n-1 (w = 0 on the calling thread) and returns when all have
 * finished.  The team is created once (mg_team_create); between runs a
 * worker polls an atomic generation counter briefly, then sleeps on a
 * condition variable (team.c: MG_TEAM_SPIN_NS).  Which worker does which share is
 * fixed by w, so results never depend on scheduling.
 *
 * Parallelism contract (see README, "Threads"): the model runs its own team
 * of --threads workers around its layers, and OpenBLAS at one thread while
 * they run, so the process never has more than --threads threads computing
 * at once. */
#ifndef MG_TEAM_H
#define MG_TEAM_H

#include "mixgeo.h"

#define MG_MAX_WORKERS 16

typedef struct mg_team mg_team;
typedef void (*mg_team_fn)(void *ctx, int w, int n);

/* n workers (1..MG_MAX_WORKERS): n - 1 threads are started.  MG_ERR_NOMEM /
 * MG_ERR_IO (thread creation failed) with a message. */
mg_status mg_team_create(int n, mg_team **out);
int mg_team_size(const mg_team *p);
void mg_team_run(mg_team *p, mg_team_fn fn, void *ctx);
void mg_team_free(mg_team *p); /* NULL is fine */

/* blas.c: set OpenBLAS to n threads for a while without changing the count
 * asked for through mg_set_threads; returns the count it had. */
int mg_blas_threads_swap(int n);

/* The share [*lo, *hi) of worker w out of n over count items (balanced). */
void mg_team_share(int count, int w, int n, int *lo, int *hi);

/* model.c: the model's worker team (NULL: one thread), for the trainer's
 * work outside the model's passes. */
mg_team *mg_model_team(const mg_model *m);

/* optim.c: mg_optim_step with the elementwise update split over team (NULL
 * or one worker: serial) in ranges of whole cache lines; every element is
 * updated by the same arithmetic as mg_optim_step, so the result is
 * bit-identical to it for any team size. */
void mg_optim_step_team(mg_optim_state *s, const mg_optim_config *c, double lr, float *params,
                        const float *grads, mg_team *team);

#endif
