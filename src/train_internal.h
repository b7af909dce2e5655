/* train_internal.h - the trainer's state, shared by train.c and checkpoint.c. */
#ifndef MG_TRAIN_INTERNAL_H
#define MG_TRAIN_INTERNAL_H

#include "mixgeo.h"

struct mg_trainer {
    mg_model *m;
    mg_train_config cfg;
    const mg_dataset *train, *val, *test;
    mg_optim_state opt;
    int batch, steps_per_epoch;
    /* position: epochs finished, steps finished in the current epoch */
    int epoch, step;
    /* running sums of the current epoch (saved in checkpoints) */
    double ep_loss_sum, ep_seconds, last_lr;
    int64_t ep_correct, ep_seen;
    /* scratch, allocated once */
    int *order, order_epoch;
    int *perm;
    float *xb, *tb, *dz, *saved_buffers, *aug_tmp;
    int32_t *yb;
    /* mg_trainer_profile */
    int profiling;
    mg_train_profile prof;
};

#endif
