/* par.h - internal: the image kernels (conv.h) split over a worker team.
 *
 * Convolutions split the batch into one range of examples per worker (each
 * with its own workspace; worker 0 accumulates the weight gradient into the
 * model's arena, workers w >= 1 into private buffers added afterwards in
 * the order w = 1, 2, ...).  Batch norms split the channels.  The split is
 * fixed by the worker count, so results are bit-identical run to run for a
 * given --threads (and differ from another thread count only by float
 * rounding of that final sum).
 *
 * With par->team == NULL (or one worker) every call is the plain kernel on
 * ws[0].  The caller keeps OpenBLAS at one thread while a team runs.
 *
 * Backward calls take grads == NULL for no parameter gradients (the input
 * gradient only): convolutions then use no private buffers and add nothing
 * up; dx is the same as with grads. */
#ifndef MG_PAR_H
#define MG_PAR_H

#include "conv.h"
#include "team.h"

typedef struct {
    mg_team *team;               /* NULL: serial                                   */
    int n;                       /* workers (mg_team_size)                         */
    float *ws[MG_MAX_WORKERS];   /* conv workspace of each worker                  */
    float *gbuf[MG_MAX_WORKERS]; /* w >= 1: private weight gradient, gbuf_n floats */
    size_t gbuf_n;
} mg_par;

void mg_par_conv_forward(const mg_par *par, const mg_conv2d_shape *s, const float *params,
                         const float *x, float *y, int n);
void mg_par_conv_backward(const mg_par *par, const mg_conv2d_shape *s, const float *params,
                          float *grads, const float *x, const float *dy, float *dx, int n);
void mg_par_bn2d_forward(const mg_par *par, int c, int hw, int n, const float *params,
                         float *buffers, const float *x, float *y, float *stats, int train,
                         int relu);
void mg_par_bn2d_backward(const mg_par *par, int c, int hw, int n, const float *params,
                          float *grads, const float *x, const float *y, const float *stats,
                          const float *dy, float *dx, int train, int relu);
/* y[i] += x[i], i < count */
void mg_par_add(const mg_par *par, float *y, const float *x, size_t count);

#endif
