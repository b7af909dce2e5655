/*
 * analyze.h - every analysis of hidden states in one call (part of
 * libmganalysis): the registry of analyses, the selection of examples, and
 * the driver that computes the selected analyses and writes their files.
 *
 * Two kinds of input, one set of outputs:
 *  - a trained mixgeo model and the examples of a split (mg_analysis_input
 *    with model != NULL): one forward pass streams the states of layer k into
 *    the spectra and keeps what the other analyses need; the analyses that
 *    drive the network (DeepFool, segment crossings, interpolation paths,
 *    off-manifold points, FGSM, maps) use the model;
 *  - external states from any framework (model == NULL): n x p states,
 *    labels, optionally logits (n x C) and the affine readout W (C x p),
 *    b (C) that maps the states to the logits.  What the given arrays allow
 *    runs: spectra, corollary (leakage with a readout), theory, calibration
 *    (logits, or the readout applied to the states), collapse (W), the exact
 *    margins at the readout (W, b) and confidence along interpolation paths
 *    between states (W, b: the map from there to the logits is the readout).
 *    The rest needs the network: it is skipped by "all" and refused (MG_ERR_
 *    CONFIG, one line) when named.
 * Output (mg_analyze): OUT/summary.json (every scalar and every choice, one
 * section per analysis), TSV data files and gnuplot scripts (report.h), the
 * same files, columns and keys whatever the input, so that `mixgeo plot`,
 * suites and reports read them unchanged.
 *
 * Each analysis lives in its own file (analysis/an_NAME.c): computation, its
 * result, and the writer of its TSV files, figures and summary.json section.
 * mg_analysis_infos is the one list of them: `mixgeo analyze`, suites and
 * --help all read it.
 */
#ifndef MG_ANALYZE_H
#define MG_ANALYZE_H

#include "mixgeo.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- registry */

typedef enum {
    MG_AN_SPECTRA,
    MG_AN_COROLLARY,
    MG_AN_THEORY,
    MG_AN_MARGINS,
    MG_AN_CONFIDENCE,
    MG_AN_CALIBRATION,
    MG_AN_COLLAPSE,
    MG_AN_FGSM,
    MG_AN_MAPS,
    MG_AN_DIMENSION,
    MG_AN_COUNT
} mg_analysis_id;

/* What an analysis needs besides states and labels (bit set). */
enum {
    MG_NEED_LOGITS = 1u << 0,  /* logits: given, from the readout or the model */
    MG_NEED_READOUT = 1u << 1, /* the affine readout W, b of the states        */
    MG_NEED_MODEL = 1u << 2,   /* the network itself (a mixgeo run)            */
    MG_NEED_2D = 1u << 3       /* a 2-D input or a 2-D layer                   */
};

typedef struct {
    const char *name;  /* "spectra", ... (the --only names and JSON sections) */
    unsigned needs;    /* on a run: what must hold (MG_NEED_2D for maps)      */
    unsigned needs_ext;/* on external states: what must be given (a model
                          need means: not available)                          */
    const char *help;  /* the --help text (lines of at most ~75 characters)   */
} mg_analysis_info;

/* The MG_AN_COUNT analyses in order. */
extern const mg_analysis_info mg_analysis_infos[MG_AN_COUNT];
/* Index of a name, or -1. */
int mg_analysis_find(const char *name);
/* Parse a comma-separated list ("all" or names; blanks around names are
 * ignored) into want[MG_AN_COUNT] (1 = selected); *named = 1 when some
 * analysis was named explicitly (not only through "all").  MG_ERR_CONFIG
 * with a message naming the bad entry. */
mg_status mg_analysis_parse_list(const char *list, int want[MG_AN_COUNT], int *named);

/* ---------------------------------------------------------------- selection */

/* Wide layers: above MG_AN_WIDE_DIM features (the stages of a convolutional
 * net) the auto defaults keep memory and time bounded: MG_AN_WIDE_MAX_PER_CLASS
 * examples per class, MG_AN_WIDE_PAIRS pairs, MG_AN_WIDE_MAX_EXAMPLES
 * DeepFool examples and forward batches of MG_AN_WIDE_BATCH.  The exact
 * pooled spectra of N examples cost two dgesdd of N x N triangles (about 7 s
 * at N = 3000, 26 s at N = 5000 on a 2-core machine). */
#define MG_AN_WIDE_DIM 2048
#define MG_AN_WIDE_MAX_PER_CLASS 300
#define MG_AN_WIDE_PAIRS 200
#define MG_AN_WIDE_MAX_EXAMPLES 200
#define MG_AN_WIDE_BATCH 256
#define MG_AN_PAIRS 500
#define MG_AN_MAX_EXAMPLES 1000

/* 1 when layer k or layer L-1 of m has more than MG_AN_WIDE_DIM features
 * (the model is then "wide", e.g. a PreActResNet). */
int mg_an_model_wide(const mg_model *m, int k);

/* max_per_class as given: N >= 1, 0 = all, -1 = auto (resolved here: 300
 * when wide, else all). */
int mg_an_resolve_max_per_class(int max_per_class, int wide);

/* The examples analysed: the first max_per_class (0 = all) of each class in
 * order.  idx (caller-allocated, n entries) receives the kept indices in
 * increasing order, counts (classes entries, overwritten) the kept examples
 * per class; returns how many were kept.  Labels must lie in 0..classes-1
 * (asserted: check them first). */
int64_t mg_an_select(const int32_t *y, int64_t n, int classes, int max_per_class, int64_t *idx,
                     int *counts);

/* ---------------------------------------------------------------- input */

/* Rows idx[0..m-1] (increasing) of an n x p float32 matrix into dst
 * (m x p, overwritten); a status other than MG_OK stops the analysis. */
typedef mg_status (*mg_rows_fn)(void *user, const int64_t *idx, int64_t m, float *dst);

/* A file the external input came from, for summary.json's provenance
 * ("source"): the library hashes it (sha256) when path is set. */
typedef struct {
    const char *role;  /* "states", "labels", "logits", "readout_W", "readout_b" */
    const char *path;  /* NULL: an in-memory array                              */
    const char *dtype; /* as given, e.g. "<f4", "float64"                       */
    int ndim;
    int64_t shape[8];
} mg_input_file;

typedef struct {
    /* ---- a mixgeo run (model != NULL) */
    mg_model *model;          /* borrowed; used as a scratch device        */
    const mg_dataset *data;   /* the split (all of it: the driver selects)  */
    int layer;                /* k in 0..L                                  */
    mg_mix_mode mix;          /* the run's mixing mode (figure line style)  */
    const char *run, *checkpoint, *config, *data_spec, *split;
    const char *const *class_names; /* NULL: "class c"                     */

    /* ---- external states (model == NULL) */
    int64_t n;                /* examples                                   */
    int p;                    /* features per example (flattened)           */
    const float *states;      /* n x p in memory, or NULL with read_rows    */
    mg_rows_fn read_rows;     /* streamed rows (used when states is NULL)   */
    void *rows_user;
    const int32_t *labels;    /* n, >= 0                                    */
    int classes;              /* 0: from logits / readout / max label + 1   */
    const float *logits;      /* n x classes or NULL                        */
    const float *W, *b;       /* classes x p and classes, or NULL (b may be
                                 NULL with W: a zero bias)                  */
    const char *name;         /* the input's name in figure titles          */
    const mg_input_file *files;
    int n_files;
} mg_analysis_input;

/* ---------------------------------------------------------------- options */

#define MG_AN_MAX_EPS 64

typedef struct {
    int want[MG_AN_COUNT]; /* 1 = run it (mg_analysis_parse_list)           */
    int named;             /* the list named analyses (not only "all"): an
                              analysis that cannot run is then an error,
                              else it is skipped                             */
    int max_per_class;     /* -1 auto, 0 all, N                              */
    uint64_t seed;         /* pairs, subsets, off-manifold points            */
    int bins;              /* ECE bins (15)                                  */
    int hist_bins;         /* margin / confidence histograms (40)            */
    int lambdas;           /* lambda grid points (21)                        */
    int pairs;             /* -1 auto: 500, wide 200                         */
    int max_examples;      /* DeepFool examples; -1 auto: 1000, wide 200      */
    double eps[MG_AN_MAX_EPS];
    int n_eps;             /* FGSM step sizes                                */
    int fgsm_no_clip;
    int grid;              /* maps: grid x grid (200)                        */
    int n_uniform, n_noise;/* off-manifold samples (1000 each)               */
    int threads;           /* OpenBLAS and the model's worker team (1)       */
    double twonn_discard;  /* dimension: fraction of the largest ratios dropped (0.1) */
    int twonn_max;         /* dimension: at most this many points per estimate, a
                              seeded random subset beyond (5000)              */
    const char *git;       /* revision recorded in every file; NULL "unknown" */
    const char *provenance;/* NULL: "# mixgeo VERSION seed=S git=REV blas=K"   */
    /* progress and interruption (either may be NULL): progress gets a short
     * text ("forward pass 1024/60000"); stop returning non-zero ends the
     * analysis with MG_ERR_INTERRUPTED. */
    void (*progress)(void *user, const char *what);
    int (*stop)(void *user);
    void *user;
} mg_analyze_config;

/* Every analysis wanted, the defaults above. */
mg_analyze_config mg_analyze_config_default(void);

/* What was done, for a caller that prints a report. */
typedef struct {
    int ran[MG_AN_COUNT];       /* 1 = ran and wrote its files              */
    char line[MG_AN_COUNT][512];/* one line on each analysis that ran       */
    double seconds[MG_AN_COUNT];
    double pass_seconds, pass_cpu;
    int64_t n;                  /* examples analysed                         */
    int p, classes, layer;
    char summary[4400];         /* path of summary.json                      */
} mg_analyze_report;

/* Run the selected analyses of `in` into the directory out (created) and
 * write out/summary.json.  rep may be NULL.  Errors: MG_ERR_CONFIG (a bad
 * input or an analysis that cannot run on it, with one line saying why),
 * MG_ERR_FORMAT (non-finite states: counted, with the first position),
 * MG_ERR_NOMEM, MG_ERR_IO, MG_ERR_NUMERIC, MG_ERR_INTERRUPTED.  Nothing is
 * written before the input has been read and checked in full. */
mg_status mg_analyze(const mg_analysis_input *in, const mg_analyze_config *cfg, const char *out,
                     mg_analyze_report *rep);

/* The same for in-memory arrays, one flat signature for bindings (ctypes):
 * states n x p float32 row-major, labels int32, logits n x logit_classes or
 * NULL, W classes x p and b classes or NULL; only: "all" or a list; the
 * other options are those of mg_analyze_config_default() but seed, bins and
 * max_per_class (-1 auto).  Errors as mg_analyze. */
mg_status mg_analyze_arrays(const float *states, int64_t n, int p, const int32_t *labels,
                            const float *logits, int logit_classes, const float *W,
                            const float *b, int readout_classes, const char *only,
                            uint64_t seed, int bins, int max_per_class, const char *out);

/* SHA-256 of a file as 64 lowercase hex digits (+ NUL) into hex.
 * Errors: MG_ERR_IO naming the file. */
mg_status mg_file_sha256(const char *path, char hex[65]);

#ifdef __cplusplus
}
#endif
#endif /* MG_ANALYZE_H */
