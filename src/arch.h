/* arch.h - internal: the architecture grammar (MLP widths, "preact:",
 * "preact-authors:", "cnn:") and the plan of a model's layers (src/arch.c).
 *
 * A plan is everything about a model that follows from its architecture
 * string and options alone: the blocks, the layers (kinds, shapes, ops,
 * init gains) and where each layer's parameters and buffers sit in the
 * arenas.  mg_model (src/model.c) owns a plan and adds the memory. */
#ifndef MG_ARCH_H
#define MG_ARCH_H

#include "layers.h"

typedef struct {
    char arch[MG_ARCH_MAX_LEN + 1];
    mg_arch_opts opts;              /* resolved: classes set for an MLP      */
    int L;                          /* blocks                                */
    int dims[MG_MAX_BLOCKS + 1];    /* features of state k = 0..L            */
    int nl;                         /* layers                                */
    mg_layer *layers;               /* nl records (owned by the caller), or
                                       NULL: a sizing pass                   */
    int first[MG_MAX_BLOCKS + 2];   /* first layer of block b; first[L+1] = nl */
    size_t n_params, n_buffers;     /* arena sizes                           */
    /* planner state */
    mg_layer *pending;              /* the layer added last, not yet counted */
    mg_layer scratch;               /* its record during a sizing pass       */
} mg_plan;

/* Check the options, parse arch and lay out its layers into *p (zeroed by
 * the caller except p->layers).  With p->layers NULL only the sizes come
 * out (nothing is allocated: mg_arch_check); otherwise p->layers has room
 * for the layer count such a sizing pass found, and every record gets its
 * shapes, offsets and ops.  MG_ERR_CONFIG with a message naming --arch or
 * the option. */
mg_status mg_plan_arch(mg_plan *p, const char *arch, const mg_arch_opts *opts);

/* The ops object of a kind (the table of src/arch.c). */
const mg_layer_ops *mg_layer_ops_default(mg_layer_kind kind);

#endif
