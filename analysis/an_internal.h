/*
 * an_internal.h - what the analyses of analyze.h share (not installed).
 *
 * mg_analyze (analyze.c) selects the examples, makes one pass over their
 * states (a forward pass of the model, or the external rows), keeps what the
 * selected analyses need in an mg_an_ctx, then calls each analysis: one file
 * each (an_spectra.c, an_corollary.c, ...), every one of the form
 *     mg_status mg_an_NAME(mg_an_ctx *x, cJSON *sec)
 * computing its result and writing its TSV files, figures and the JSON
 * section sec, and one report line into x->line[id].
 */
#ifndef MG_AN_INTERNAL_H
#define MG_AN_INTERNAL_H

#include "analyze.h"
#include "metrics.h"
#include "probe.h"
#include "report.h"
#include "spectra.h"
#include "theory.h"

typedef struct {
    const mg_analysis_input *in;
    const mg_analyze_config *cfg;
    int external;          /* external states (no network)                    */
    /* the model that maps layer-k states to logits: the run's network, or for
     * external states with a readout a one-layer model p -> C holding W, b
     * (its layer 0 is the states); NULL otherwise */
    mg_model *m;
    mg_model *own_model;   /* the readout model (freed by the driver)          */
    const mg_dataset *d;   /* run: the analysed examples; external: the kept
                              states as the readout model's inputs (view) or NULL */
    mg_dataset view;       /* external: that view (x = Hk, y = y)              */
    const int32_t *y;      /* labels of the analysed examples (n)              */
    int k;                 /* the layer analysed (external: 0 in m)            */
    int L, pen, C, n, d0, dk, dp;
    int layer_out;         /* the layer named in outputs (run: k; external: -1) */
    /* options (resolved) */
    uint64_t seed;
    int bins, hist_bins, lambdas, pairs, max_examples, grid, n_uniform, n_noise;
    const double *eps;
    int n_eps, no_clip;
    int want[MG_AN_COUNT];
    int *class_counts;     /* C entries, of the analysed examples             */
    int64_t *idx;          /* the kept indices into the input (n)             */
    int32_t *y_own;        /* external: the kept labels                       */
    mg_dataset *subset;    /* run: the kept examples when capped (owned)      */
    int max_per_class;     /* resolved: 0 all                                  */
    mg_report rep;
    cJSON *root;
    /* the pass */
    mg_spectra_result *spec;
    float *Hk, *Hp, *logits;
    int logits_from;       /* 0 none, 1 model, 2 given, 3 the readout          */
    /* the input of the final dense layer (margins, collapse): n x df */
    float *feat;
    int df, feat_own;
    const char *feat_what;
    double feat_check;     /* max |feat W^T + b - logits| / (1 + |logits|)     */
    int feat_checked;
    const float *W, *b;    /* the readout: C x df, C (b may be NULL)           */
    int32_t *pred;
    char line[MG_AN_COUNT][512];
} mg_an_ctx;

mg_status mg_an_spectra(mg_an_ctx *x, cJSON *sec);
mg_status mg_an_corollary(mg_an_ctx *x, cJSON *sec);
mg_status mg_an_theory(mg_an_ctx *x, cJSON *sec);
mg_status mg_an_margins(mg_an_ctx *x, cJSON *sec);
mg_status mg_an_confidence(mg_an_ctx *x, cJSON *sec);
mg_status mg_an_calibration(mg_an_ctx *x, cJSON *sec);
mg_status mg_an_collapse(mg_an_ctx *x, cJSON *sec);
mg_status mg_an_fgsm(mg_an_ctx *x, cJSON *sec);
mg_status mg_an_maps(mg_an_ctx *x, cJSON *sec);
mg_status mg_an_dimension(mg_an_ctx *x, cJSON *sec);

/* ---------------------------------------------------------------- helpers (analyze.c) */

/* A progress text for the caller's callback (printf-style). */
void mg_an_progress(const mg_an_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 1 when the caller asked to stop. */
int mg_an_stopped(const mg_an_ctx *x);
/* malloc of n doubles (at least one). */
double *mg_an_alloc_d(size_t n);
/* argmax of a row of C floats (ties to the lowest index). */
int mg_an_argmax(const float *z, int C);
/* A uniform random subset of m of 0..n-1, sorted (malloc'ed, n + 1 ints). */
int *mg_an_random_subset(mg_rng *rng, int n, int m);
/* Mean of n values (NaN when n <= 0). */
double mg_an_mean(const double *v, int n);

/* Column names "prefix_0", ... : names[] points into store. */
#define MG_AN_MAX_COLS 4096
typedef struct {
    char store[MG_AN_MAX_COLS][24];
    const char *names[MG_AN_MAX_COLS];
    int n;
} mg_an_cols;
void mg_an_cols_add(mg_an_cols *c, const char *fmt, int i);

#endif /* MG_AN_INTERNAL_H */
