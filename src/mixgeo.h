/*
 * mixgeo.h - the training core of mixgeo (libmixgeo).
 *
 * Manifold Mixup (Verma et al., ICML 2019) and its baselines for networks built
 * from a list of blocks.  Everything here is plain C11 over float32 arrays;
 * every matrix product goes through mg_sgemm (OpenBLAS) with a naive twin for
 * the tests.
 *
 * Conventions
 *  - Every function that can fail at run time returns mg_status.  On failure
 *    a one-line detail is available from mg_errmsg() (thread-local; valid
 *    until the next failing call on the same thread).  The library never calls
 *    exit() and prints nothing unless a log callback was set (mg_log_set).
 *  - Programmer errors (NULL where a pointer is required, shape mismatches that
 *    the caller had to check) trip MG_ASSERT, which reports file:line and aborts.
 *  - Matrices are row-major.  A view (mg_mat) never owns its data.
 *  - "Layer k" is the hidden state after block k: k = 0 is the input, k = L
 *    (mg_model_n_blocks) the logits.  A state of any shape (a vector, or a
 *    C x H x W image) is stored flat per example: n x mg_model_dim(m, k).
 *  - Randomness only through an explicit mg_rng passed by the caller.
 */
#ifndef MIXGEO_H
#define MIXGEO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MG_VERSION_STRING "0.1.0"

/* ---------------------------------------------------------------- status */

typedef enum {
    MG_OK = 0,
    MG_ERR_IO,          /* a file could not be opened, read or written       */
    MG_ERR_FORMAT,      /* a file's contents are malformed or of the wrong kind */
    MG_ERR_CONFIG,      /* an invalid option or combination of options        */
    MG_ERR_NOMEM,       /* an allocation failed                               */
    MG_ERR_NUMERIC,     /* NaN/Inf appeared in a loss or a computation         */
    MG_ERR_INTERRUPTED  /* the caller asked to stop (stop flag)               */
} mg_status;

/* The detail of the last failure on this thread ("" when none). */
const char *mg_errmsg(void);
/* Set the detail (printf-style) and return st; for library code and tools.
 * The arguments may include mg_errmsg() itself (formatted into a local
 * buffer first), but to add context to a failure use mg_fail_prefix. */
mg_status mg_fail(mg_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Put a context (printf-style, e.g. "%s: ", path) in front of the current
 * detail and return st: mg_fail_prefix(st, "--arch '%s': ", arch) after a
 * failing call keeps its reason.  An empty detail becomes the status name.
 * A detail longer than the buffer loses its tail, never the prefix. */
mg_status mg_fail_prefix(mg_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *mg_status_name(mg_status st);

/* Logging: level 0 = info, 1 = warning, 2 = debug.  Default: no callback,
 * nothing printed.  The callback is process-global. */
typedef void (*mg_log_fn)(int level, const char *msg, void *user);
void mg_log_set(mg_log_fn fn, void *user);
void mg_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void mg_assert_fail(const char *file, int line, const char *expr);
#define MG_ASSERT(x) ((x) ? (void)0 : mg_assert_fail(__FILE__, __LINE__, #x))

/* ---------------------------------------------------------------- views */

typedef struct {
    int rows, cols, ld; /* ld >= cols, elements between row starts */
    float *data;
} mg_mat;

static inline mg_mat mg_mat_view(float *data, int rows, int cols)
{
    mg_mat m = {rows, cols, cols, data};
    return m;
}

/* ---------------------------------------------------------------- BLAS */

/* C = alpha * op(A) op(B) + beta * C, row-major, op = transpose when ta/tb.
 * op(A) is m x k, op(B) is k x n, C is m x n.  lda/ldb/ldc as in cblas. */
void mg_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *A,
              int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* The same, as three plain loops (accumulating in double); for tests. */
void mg_sgemm_ref(int ta, int tb, int m, int n, int k, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta,
                  float *C, int ldc);
/* Set the number of OpenBLAS threads (the only source of parallelism). */
void mg_set_threads(int n);
int mg_get_threads(void);
/* The kernel family OpenBLAS runs ("Haswell", "SkylakeX", ...; OpenBLAS picks
 * it when the library loads, from OPENBLAS_CORETYPE or its CPU detection).
 * Float results depend on it: record it beside the thread count. */
const char *mg_blas_core(void);
/* The kernel family for a choice: NULL, "" or "portable" (Haswell on a CPU
 * with AVX2 and FMA, the same bits on every such machine; else OpenBLAS's
 * own), "native" (OpenBLAS's own detection: *core = NULL) or a family name
 * (case-insensitive; MG_ERR_CONFIG when unknown or when this CPU lacks its
 * instructions).  *isa: the oneDNN ISA cap of the same generation
 * (DNNL_MAX_CPU_ISA), NULL with *core.  Setting them must happen before the
 * libraries load (the mixgeo program re-executes itself). */
mg_status mg_blas_core_choose(const char *want, const char **core, const char **isa);
/* 1: name is a family mg_blas_core_choose knows and this CPU runs; 0: known,
 * but this CPU lacks its instructions (its kernels would die of SIGILL);
 * -1: not one of them (OpenBLAS may still know it). */
int mg_blas_core_runs(const char *name);
/* The instruction set oneDNN's convolutions use ("avx2", "avx512_core", ...). */
const char *mg_conv_isa(void);

/* ---------------------------------------------------------------- RNG */

/* xoshiro256** with splitmix64 seeding.  Plain value type: copy it to fork,
 * save it in a checkpoint by its bytes. */
typedef struct {
    uint64_t s[4];
} mg_rng;

void mg_rng_seed(mg_rng *r, uint64_t seed);
/* Independent stream for (seed, a, b): e.g. (seed, MG_STREAM_STEP, step). */
void mg_rng_seed3(mg_rng *r, uint64_t seed, uint64_t a, uint64_t b);
uint64_t mg_rng_u64(mg_rng *r);
double mg_rng_uniform(mg_rng *r);          /* [0, 1), 53 bits          */
uint32_t mg_rng_below(mg_rng *r, uint32_t n); /* uniform in 0..n-1, unbiased */
double mg_rng_normal(mg_rng *r);           /* N(0, 1)                   */
double mg_rng_gamma(mg_rng *r, double shape); /* Gamma(shape, 1), shape > 0 */
double mg_rng_beta(mg_rng *r, double a, double b); /* via two Gammas     */
void mg_rng_permutation(mg_rng *r, int *perm, int n); /* Fisher-Yates of 0..n-1 */
void mg_rng_shuffle_int(mg_rng *r, int *v, int n);

/* Stream tags for mg_rng_seed3, so that every consumer has its own stream. */
enum {
    MG_STREAM_INIT = 1,  /* parameter initialisation           */
    MG_STREAM_DATA = 2,  /* synthetic data, validation split    */
    MG_STREAM_EPOCH = 3, /* the shuffle of epoch e              */
    MG_STREAM_STEP = 4,  /* k, lambda, permutation, dropout, noise of step s */
    MG_STREAM_ANALYSIS = 5,
    MG_STREAM_AUGMENT = 6 /* crops and flips of step s */
};

/* ---------------------------------------------------------------- data */

/* A labelled dataset: plain data, like liblinear's struct problem.
 * x is n x dim (row-major float32), y holds n labels in 0..classes-1.
 * (c, h, w) is the example shape when the examples are images (c*h*w == dim),
 * else (1, 1, dim).  The dataset owns x and y; free with mg_dataset_free. */
typedef struct {
    int n, dim, classes;
    int c, h, w;
    float *x;
    int32_t *y;
    char name[64];
} mg_dataset;

mg_dataset *mg_dataset_alloc(int n, int dim, int classes); /* zeroed; NULL on OOM */
void mg_dataset_free(mg_dataset *d);
/* New dataset holding rows idx[0..n-1] of d. */
mg_status mg_dataset_subset(const mg_dataset *d, const int *idx, int n, mg_dataset **out);
/* Split off a validation set of n_val examples chosen by rng (stratification
 * not attempted: a uniformly random subset).  On success *train and *val are
 * new datasets; d is untouched. */
mg_status mg_dataset_split(const mg_dataset *d, int n_val, mg_rng *rng,
                           mg_dataset **train, mg_dataset **val);
/* Count of examples per class into counts[classes]. */
void mg_dataset_class_counts(const mg_dataset *d, int *counts);

/* The loaders' class count: classes > 0 is the class count (a label >= it is
 * an error naming the file and the line or example); classes == 0 means
 * max label + 1, which must not exceed MG_MAX_AUTO_CLASSES: one stray label
 * (4000000 for 4) would otherwise build a model of millions of outputs.  A
 * larger label is an error naming the file and line, and an explicit classes
 * (the CLI's --classes N) allows more. */
#define MG_MAX_AUTO_CLASSES 10000

/* IDX files (MNIST format), gzip-compressed or raw (zlib reads both).
 * Pixels are scaled to [0, 1].  classes: as above (labels are bytes, so
 * max label + 1 is at most 256).  The file sizes are checked against the
 * headers before anything of data size is allocated: each payload is read in
 * bounded blocks as it arrives, so a short file claiming terabytes costs
 * nothing and fails as "truncated or corrupt" naming the file; data after
 * the payload is an error too, as is a .gz stream with a bad CRC or no
 * trailer. */
mg_status mg_load_idx(const char *images_path, const char *labels_path, int classes,
                      mg_dataset **out);
/* A directory with train-images-idx3-ubyte[.gz] etc.; split is "train" or
 * "test" (file prefix "t10k" for test). */
mg_status mg_load_idx_dir(const char *dir, const char *split, int classes, mg_dataset **out);
#define MG_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* CSV: one example a line, features..., label (integer), every line with the
 * same number of fields (at least 2).  Blank lines and lines starting with '#'
 * are skipped.  The first remaining line is
 *  - data when every field is a number (strtod in the "C" locale);
 *  - a header when no field is a number: it is skipped, with a warning
 *    through mg_log (level 1) naming FILE:LINE;
 *  - an error otherwise (some fields numbers, some not: most likely a typo in
 *    the first data row, which must not silently vanish as a "header"); the
 *    message names FILE:LINE and the first field that is not a number.  A
 *    header with numeric column names can be written as a '#' comment.
 * classes: as for the IDX loader (MG_MAX_AUTO_CLASSES when 0).  Errors name
 * the file and line. */
mg_status mg_load_csv(const char *path, int classes, mg_dataset **out);

/* Synthetic 2-D (or D-dim for blobs) generators. */
typedef enum { MG_SYNTH_SPIRAL, MG_SYNTH_MOONS, MG_SYNTH_CIRCLES, MG_SYNTH_BLOBS } mg_synth_kind;
typedef struct {
    mg_synth_kind kind;
    int classes;       /* spiral: arms; moons: 2; circles: rings; blobs: centres */
    int per_class;     /* points per class                                      */
    double noise;      /* standard deviation of added Gaussian noise             */
    int dim;           /* blobs only: dimension (others are 2-D)                 */
} mg_synth_config;
/* Spirals span [-15, 15]^2 like the paper's Figure 1. */
mg_status mg_synth_generate(const mg_synth_config *cfg, mg_rng *rng, mg_dataset **out);
const char *mg_synth_name(mg_synth_kind k);
int mg_synth_from_name(const char *name, mg_synth_kind *out); /* 1 if known */

/* Per-feature standardisation: mean/std computed on `from` (std floored at
 * 1e-6... features with zero spread are left centred), applied in place to d. */
typedef struct {
    int dim;
    float *mean, *std; /* owned */
} mg_standardizer;
mg_status mg_standardizer_fit(const mg_dataset *from, mg_standardizer *out);
void mg_standardizer_apply(const mg_standardizer *s, mg_dataset *d);
void mg_standardizer_free(mg_standardizer *s);

/* ---------------------------------------------------------------- model */

typedef enum {
    MG_LAYER_DENSE,   /* y = x W^T + b; W out x in                */
    MG_LAYER_BN1D,    /* batch normalisation over the batch       */
    MG_LAYER_RELU,
    MG_LAYER_LRELU,   /* slope a for x < 0                        */
    MG_LAYER_TANH,
    MG_LAYER_DROPOUT, /* inverted dropout, train only             */
    MG_LAYER_NOISE,   /* additive Gaussian noise, train only      */
    MG_LAYER_CONV2D,  /* 2-D convolution, NCHW, no bias            */
    MG_LAYER_BN2D,    /* batch normalisation per channel (+ fused ReLU when param = 1) */
    MG_LAYER_MAXPOOL,
    MG_LAYER_AVGPOOL,
    MG_LAYER_GAP,     /* global average pooling C x H x W -> C     */
    MG_LAYER_PREACT,  /* pre-activation residual block (He et al. 2016):
                         BN-ReLU-conv3x3-BN-ReLU-conv3x3 + shortcut (identity, or a
                         1x1 projection of the first BN-ReLU output when the shape changes) */
    MG_LAYER_KIND_COUNT
} mg_layer_kind;

typedef enum { MG_ACT_RELU, MG_ACT_LRELU, MG_ACT_TANH, MG_ACT_NONE } mg_act;
typedef enum { MG_INIT_HE, MG_INIT_XAVIER } mg_init;

/* How an architecture string becomes blocks.
 *  - MLP "784-512-512-10": widths; block i (1..L-1) = dense, [bn1d],
 *    activation, [dropout]; block L = dense (the logits).  input_noise > 0
 *    puts a noise layer in front of block 1.
 *  - PreActResNet "preact:16-32-64x2": stage widths and blocks per stage
 *    (default 2).  Block 1 = a 3x3 stem convolution + stage 1; block i = stage
 *    i (its first residual block has stride 2 and a 1x1 projection); the last
 *    block = BN-ReLU, global average pooling, dense to `classes`
 *    ("preact-authors:16-32-64x2": the same without that BN-ReLU, the
 *    Manifold Mixup authors' head).  So layer k
 *    (1..stages) is the output of residual stage k.  Needs the input shape
 *    (in_c, in_h, in_w) and classes. */
typedef struct {
    mg_act act;
    float slope;       /* LeakyReLU negative slope (default 0.01)      */
    int batchnorm;     /* 1: bn1d after every hidden dense             */
    float dropout;     /* p of dropping, 0 = off                        */
    float input_noise; /* sigma of Gaussian noise on the input, 0 = off */
    mg_init init;
    int in_c, in_h, in_w; /* input image shape (convolutional nets); 0 = a vector */
    int classes;          /* outputs of convolutional nets (MLPs: the last width) */
} mg_arch_opts;
mg_arch_opts mg_arch_opts_default(void);

typedef struct mg_model mg_model;

/* Limits of every architecture syntax (MLP, cnn:, preact:), checked before
 * anything is allocated: the string's length, a width (MLP widths, preact:
 * stage widths, cnn: fN), the features per example of any state (the input
 * C x H x W and every layer's output) and the parameter count. */
#define MG_ARCH_MAX_LEN 255
#define MG_ARCH_MAX_WIDTH (1L << 22)
#define MG_ARCH_MAX_FEATURES (1L << 24)
#define MG_ARCH_MAX_PARAMS (1L << 30)

/* What a model of arch and opts would be, computed without building it. */
typedef struct {
    size_t n_params, n_buffers; /* = mg_model_n_params, mg_model_n_buffers */
    int n_blocks;               /* L */
    int n_layers;
    int in_dim, classes;        /* features at layer 0 and L */
} mg_arch_sizes;
/* Check arch and opts exactly as mg_model_create does (the same code) and
 * compute the sizes, allocating nothing: a caller can check a file's size
 * or a memory budget before building.  MG_ERR_CONFIG with the message
 * mg_model_create would give. */
mg_status mg_arch_check(const char *arch, const mg_arch_opts *opts, mg_arch_sizes *out);

/* Build a model from an architecture string; parameters initialised from rng
 * (rng NULL: parameters and buffers left zero, for a loader that fills them).
 * Returns MG_ERR_CONFIG with a message naming the bad part of the string. */
mg_status mg_model_create(const char *arch, const mg_arch_opts *opts, mg_rng *rng,
                          mg_model **out);
void mg_model_free(mg_model *m);
const char *mg_model_arch(const mg_model *m);        /* the string it was made from */
const mg_arch_opts *mg_model_opts(const mg_model *m);
int mg_model_n_blocks(const mg_model *m);            /* L */
int mg_model_dim(const mg_model *m, int k);          /* features at layer k, 0..L */
int mg_model_classes(const mg_model *m);             /* = dim(L) */
/* Description of the model, one block a line, for logs and --help output. */
void mg_model_describe(const mg_model *m, char *buf, size_t len);

/* Layer introspection (for analyses that need the readout's weights). */
int mg_model_n_layers(const mg_model *m);
int mg_model_block_first_layer(const mg_model *m, int block); /* block 1..L */
typedef struct {
    mg_layer_kind kind;
    int block;          /* 1..L                                   */
    int in, out;        /* features in and out                    */
    float param;        /* slope, dropout p or noise sigma         */
    const float *W, *b; /* dense: W (out x in), b (out); else NULL */
} mg_layer_info;
mg_layer_info mg_model_layer(const mg_model *m, int i);

/* Parameters and gradients: one flat arena each (trainable parameters);
 * layer state that is saved but not trained (batch-norm running mean and
 * variance) lives in a separate arena. */
size_t mg_model_n_params(const mg_model *m);
float *mg_model_params(mg_model *m);
float *mg_model_grads(mg_model *m);
size_t mg_model_n_buffers(const mg_model *m);
float *mg_model_buffers(mg_model *m);
void mg_model_zero_grad(mg_model *m);
/* Multiply-add FLOPs (x2) per example of the matrix products of a forward
 * pass (backward = 0) or of a backward pass (backward = 1: weight gradients,
 * and input gradients below the first layer). */
double mg_model_flops(const mg_model *m, int backward);
/* Copy parameters and buffers of src into dst (same architecture). */
void mg_model_copy_params(mg_model *dst, const mg_model *src);

/* Threads for the image layers (conv, bn2d, residual blocks): a team of n
 * workers of the model's own splits every convolution by examples and every
 * batch norm by channels, with OpenBLAS at one thread while the model's
 * forward or backward runs (restored afterwards), so at most n threads
 * compute at once.  Models without image layers keep one worker (their
 * GEMMs are wide enough for OpenBLAS's own threads: use mg_set_threads).
 * Results are bit-identical for a given n.  Default 1.  MG_ERR_NOMEM /
 * MG_ERR_IO (a thread could not start) with a message. */
mg_status mg_model_set_threads(mg_model *m, int n);
int mg_model_threads(const mg_model *m);

/* Convolution implementations (README, "Threads"): MG_CONV_BACKEND_AUTO
 * (default) runs the 3x3 convs with >= 8 input channels (stride 1 or 2)
 * through oneDNN's direct convolutions in its blocked layout and every
 * other conv (1x1 projections, the stem) on our im2col / shift + sgemm
 * kernels; MG_CONV_BACKEND_IM2COL runs all of them on our kernels.  The two
 * agree up to float rounding.  Process-wide; applies to models created
 * afterwards (mg_model_create, loading a checkpoint). */
typedef enum { MG_CONV_BACKEND_AUTO = 0, MG_CONV_BACKEND_IM2COL = 1 } mg_conv_backend;
void mg_set_conv_backend(mg_conv_backend b);
mg_conv_backend mg_get_conv_backend(void);
/* Which implementation m's convs use (after mg_model_reserve), one line
 * into buf, e.g. "onednn 2.6.3 (jit:avx2, blocked layout) for 5 of 7 convs
 * (3x3, >= 8 input channels), im2col for the others". */
void mg_model_conv_backend(const mg_model *m, char *buf, size_t len);

/* Activation memory for batches of up to max_batch examples.  Done once
 * before training; forward calls with n > max_batch trip an assert. */
mg_status mg_model_reserve(mg_model *m, int max_batch);
int mg_model_max_batch(const mg_model *m);

/* One Manifold Mixup operation at the boundary after block k (k = 0: input):
 * h <- lambda*h + (1-lambda)*h[perm].  perm has n entries (owned by caller,
 * must live until the backward pass). */
typedef struct {
    int k;
    float lambda;
    const int *perm;
} mg_mix;

/* Forward pass of n examples through blocks from+1..L, starting from the state
 * x at layer `from` (n x dim(from); x = the input when from = 0).  train = 1
 * uses batch statistics, dropout and noise (drawing from rng) and updates
 * batch-norm running statistics; train = 0 is deterministic (rng may be NULL).
 * mix: NULL, or a mix at a boundary k >= from.  Returns the logits
 * (n x classes), valid until the next forward; every intermediate state is
 * readable with mg_model_state. */
const float *mg_model_forward(mg_model *m, int from, const float *x, int n, int train,
                              const mg_mix *mix, mg_rng *rng);
/* The state at layer k (after any mixing there) of the last forward; k must
 * lie in from..L of that forward.  n x dim(k), NCHW for image states (a
 * state kept in nChw8c is converted on the first call), valid until the next
 * forward. */
const float *mg_model_state(const mg_model *m, int k);
/* The output of layer i (0..mg_model_n_layers-1; see mg_model_layer) in
 * the last forward, also inside a block (e.g. the global-average-pooled
 * features that enter the final dense layer of a PreActResNet): n x out
 * floats (NCHW), valid until the next forward; for a layer that the model
 * keeps in oneDNN's nChw8c layout (a PreActResNet's residual blocks and
 * head batch norm, README "Threads") it is a converted copy, which the next
 * such call replaces.  Layer i must have run in that forward (it belongs to
 * a block after `from`). */
const float *mg_model_layer_output(const mg_model *m, int i);
/* Backward pass of the last forward: dlogits (n x classes) in; parameter
 * gradients ACCUMULATE into the gradient arena; if dx is non-NULL it receives
 * (overwritten) the gradient with respect to the forward's starting state x
 * (n x dim(from)).  Goes through the mix adjoint when the forward mixed. */
void mg_model_backward(mg_model *m, const float *dlogits, float *dx);
/* The same input gradient without any parameter gradients, for analyses that
 * only need d(loss)/d(input or state) (about half the work of a conv net's
 * backward is its weight gradients).  Same contract as mg_model_backward for
 * dlogits, dx (the same values, bit for bit), the mix adjoint and a forward
 * that started at from > 0, but the gradient arena is left untouched (not
 * zeroed, not accumulated into) and so is a pending mg_model_zero_grad.
 * dx NULL: nothing to compute, returns at once.  Batch-norm running
 * statistics are never touched by a backward pass. */
void mg_model_backward_input(mg_model *m, const float *dlogits, float *dx);

/* Per-layer timing, opt-in.  mg_model_profile(m, 1) zeroes the counters and
 * from then on times every layer's forward and backward call (and the mix
 * operations at block boundaries) with a monotonic clock; 0 stops timing
 * (the counters are kept for reading).  Off by default, and then nothing is
 * timed.  A layer whose work another layer does in the same pass (an
 * activation fused into the dense layer before it, mg_model_layer_name
 * "relu (fused)") shows near-zero time: the dense layer's time includes it. */
typedef struct {
    double forward_sec, backward_sec; /* wall seconds summed over all calls */
    long forward_calls, backward_calls;
} mg_layer_time;
void mg_model_profile(mg_model *m, int on);
/* Layer i (0..mg_model_n_layers-1), or i = mg_model_n_layers: the mix
 * operations (mg_mix_forward/backward inside the model's passes). */
mg_layer_time mg_model_layer_time(const mg_model *m, int i);
/* The name of layer i's implementation, as in mg_model_describe ("dense",
 * "relu", "preact", ...; a static string). */
const char *mg_model_layer_name(const mg_model *m, int i);

/* The mix op and its exact adjoint on flat states (n x d):
 *   out = lambda*h + (1-lambda)*h[perm]
 *   dh += lambda*dout + (1-lambda) P^T dout, i.e. dh[perm[i]] += (1-lambda)*dout[i]. */
void mg_mix_forward(const float *h, float *out, int n, int d, float lambda, const int *perm);
void mg_mix_backward(const float *dout, float *dh, int n, int d, float lambda, const int *perm);
/* Soft targets: t = lambda*onehot(y) + (1-lambda)*onehot(y[perm]) (perm may be NULL
 * for plain one-hot; n x classes, overwritten). */
void mg_mix_targets(const int32_t *y, int n, int classes, float lambda, const int *perm,
                    float *t);

/* ---------------------------------------------------------------- loss */

typedef enum {
    MG_LOSS_CE,  /* soft-target cross-entropy, -sum t log softmax(z), mean over batch */
    MG_LOSS_BCE  /* BCE of softmax(z) vs t, mean over batch x classes (authors' code) */
} mg_loss_kind;
const char *mg_loss_name(mg_loss_kind k);

/* Loss of logits z (n x c) against soft targets t (n x c); returns the mean
 * loss (double accumulation).  If dz is non-NULL it is OVERWRITTEN with
 * d loss / d z.  A non-finite logit gives a non-finite result (no clamping
 * hides it). */
double mg_loss(mg_loss_kind kind, const float *z, const float *t, int n, int c, float *dz);
/* Row-wise softmax (stable), out may alias z. */
void mg_softmax(const float *z, float *out, int n, int c);

/* ---------------------------------------------------------------- optimiser */

typedef enum { MG_OPT_SGD, MG_OPT_ADAM } mg_optim_kind;
typedef enum { MG_SCHED_CONSTANT, MG_SCHED_STEP, MG_SCHED_COSINE } mg_sched_kind;
#define MG_MAX_MILESTONES 16

typedef struct {
    mg_optim_kind kind;
    double lr, momentum, weight_decay; /* L2 added to the gradient (PyTorch SGD/Adam) */
    int nesterov;
    double beta1, beta2, eps;          /* Adam */
    mg_sched_kind sched;
    int milestones[MG_MAX_MILESTONES], n_milestones; /* epochs at which lr *= gamma */
    double gamma;
    int warmup_epochs;                 /* linear warm-up from lr/10... to lr */
    int epochs;                        /* for cosine */
} mg_optim_config;

/* Learning rate at fractional epoch position (epoch + step/steps_per_epoch). */
double mg_lr_at(const mg_optim_config *c, int epoch, int step, int steps_per_epoch);

/* Optimiser state: velocity (SGD) or m, v (Adam), over the flat arena. */
typedef struct {
    size_t n;
    float *m, *v; /* owned; v only for Adam */
    int64_t t;    /* steps taken */
} mg_optim_state;
mg_status mg_optim_init(mg_optim_state *s, const mg_optim_config *c, size_t n_params);
void mg_optim_free(mg_optim_state *s);
/* One update of params from grads at learning rate lr. */
void mg_optim_step(mg_optim_state *s, const mg_optim_config *c, double lr, float *params,
                   const float *grads);

/* ---------------------------------------------------------------- training */

typedef enum { MG_MIX_NONE, MG_MIX_INPUT, MG_MIX_MANIFOLD } mg_mix_mode;
const char *mg_mix_mode_name(mg_mix_mode m);
#define MG_MAX_BLOCKS 64

typedef struct {
    int epochs, batch;
    mg_mix_mode mix;
    int mix_layers[MG_MAX_BLOCKS + 1], n_mix_layers; /* eligible set S */
    double alpha;                                     /* Beta(alpha, alpha) */
    mg_loss_kind loss;
    mg_optim_config optim;
    uint64_t seed;
    int threads;
    /* image augmentation of training batches (needs c x h x w data):
     * random crop with zero padding (shift by -pad..pad in both directions)
     * and horizontal flip with probability 1/2; drawn per example per step. */
    int augment_crop_pad;
    int augment_flip;
    /* clean training metrics: after every epoch, evaluate (eval mode, no
     * augmentation, no mixing) on the first min(clean_eval, n_train)
     * training examples; 0 = off (the library default).  Reads the model
     * only: parameters, buffers and random streams are untouched, so a run
     * with it is bit-identical to one without. */
    int clean_eval;
} mg_train_config;
mg_train_config mg_train_config_default(void);
/* Check a configuration against a model before any work: every problem is
 * described (one per line, naming the option) into msg; returns MG_OK or
 * MG_ERR_CONFIG. */
mg_status mg_train_config_check(const mg_train_config *c, const mg_model *m, char *msg,
                                size_t len);

/* Evaluation of a model on a dataset (eval mode, batches of the model's max batch). */
typedef struct {
    double loss;     /* the training loss kind against one-hot targets */
    double nll;      /* mean cross-entropy = negative log-likelihood   */
    double accuracy;
    int n;
} mg_eval_result;
mg_status mg_evaluate(mg_model *m, const mg_dataset *d, mg_loss_kind loss, mg_eval_result *out);

typedef struct {
    int epoch;            /* 1-based, the epoch just finished */
    double lr;            /* at the epoch's last step         */
    double train_loss;    /* mean over the epoch's steps of the (mixed) training loss */
    double train_acc;     /* argmax vs the dominant target of each mixed example */
    mg_eval_result val, test; /* n = 0 when the set is absent */
    mg_eval_result train_clean; /* cfg.clean_eval's subset of the training data; n = 0 when off */
    double seconds;       /* wall time of the epoch's training steps */
} mg_epoch_metrics;

typedef struct {
    /* After every step; return non-zero to ask the trainer to stop (it
     * returns MG_ERR_INTERRUPTED after the step, state consistent). */
    int (*on_step)(void *user, int epoch, int step, int steps_per_epoch, double loss);
    /* After every epoch's evaluation; return non-zero to stop. */
    int (*on_epoch)(void *user, const mg_epoch_metrics *em);
    void *user;
} mg_train_hooks;

/* Image augmentation in place: each of the n examples (C x H x W) is flipped
 * horizontally with probability 1/2 (when flip) and then shifted by
 * (dy, dx) uniform in -pad..pad with zero fill (a random crop of the
 * zero-padded image).  tmp: scratch of C*H*W floats. */
void mg_augment(float *x, int n, int C, int H, int W, int pad, int flip, mg_rng *r, float *tmp);

typedef struct mg_trainer mg_trainer;
/* The trainer borrows model and datasets (they must outlive it).  val and test
 * may be NULL.  Validates cfg (mg_train_config_check) and reserves memory. */
mg_status mg_trainer_create(mg_model *m, const mg_train_config *cfg, const mg_dataset *train,
                            const mg_dataset *val, const mg_dataset *test, mg_trainer **out);
void mg_trainer_free(mg_trainer *t);
/* Train until cfg.epochs are done (continuing from wherever the trainer is,
 * e.g. after mg_trainer_load).  Returns MG_OK, MG_ERR_INTERRUPTED (a hook asked
 * to stop; the state is that after the last finished step) or MG_ERR_NUMERIC
 * (non-finite loss; the model is left as it was before that step). */
mg_status mg_trainer_run(mg_trainer *t, const mg_train_hooks *hooks);
int mg_trainer_epoch(const mg_trainer *t);  /* epochs finished             */
int mg_trainer_step(const mg_trainer *t);   /* steps finished in the epoch */
/* Phase timing of the training steps, opt-in like mg_model_profile (which
 * mg_trainer_profile switches on and off with it, for the per-layer part):
 * on = 1 zeroes the sums.  Seconds summed over `steps` steps: batch (copying
 * the examples, augmentation, drawing the mix, the targets), forward, loss,
 * backward (with zeroing the gradients), optim (the parameter update). */
typedef struct {
    double batch, forward, loss, backward, optim;
    long steps;
} mg_train_profile;
void mg_trainer_profile(mg_trainer *t, int on);
mg_train_profile mg_trainer_profile_get(const mg_trainer *t);
/* The profile as a text table into buf (len bytes, always terminated;
 * truncated when short; 8 KiB holds 60 layers): per layer its index, block,
 * name, forward and backward ms per step and share of the step time, then
 * the mix, the trainer's phases and the total.  Returns the length it
 * needed (as snprintf). */
size_t mg_trainer_profile_report(const mg_trainer *t, char *buf, size_t len);
/* Checkpoint: architecture + parameters + buffers + optimiser + progress,
 * written atomically (path.tmp then rename).  Loading restores exactly, so a
 * resumed run is bit-identical to an uninterrupted one. */
mg_status mg_trainer_save(const mg_trainer *t, const char *path);
mg_status mg_trainer_load(mg_trainer *t, const char *path);

/* Load only the model from a checkpoint (for eval and analyses). */
mg_status mg_checkpoint_load_model(const char *path, mg_model **out);

/* ---------------------------------------------------------------- runs */

/* What a run's data is, resolved (the data keys of RUN/config.ini): the
 * training, validation and test sets are rebuilt from it exactly as the
 * trainer built them. */
typedef enum { MG_DATA_SYNTH, MG_DATA_IDX, MG_DATA_CSV } mg_data_source;
typedef struct {
    mg_data_source source;
    const char *name;          /* the data spec as written, for messages       */
    /* synthetic */
    mg_synth_kind synth;
    int classes;               /* synthetic: classes; idx/csv: 0 = max label + 1 */
    int n_per_class, n_test_per_class; /* synthetic: points per class (0: no test set) */
    double noise;
    int synth_dim;             /* blobs: dimension (0: 2)                      */
    char dir[1024];            /* idx: train-* and t10k-* files                */
    char csv_train[1024], csv_test[1024]; /* csv ("" = no test set)          */
    uint64_t seed;             /* synthetic data, validation split, subset     */
    int val;                   /* held out of train for validation (0: none)   */
    int n_train;               /* a random subset of the rest (0: all)         */
    int standardize;           /* per-feature, with the training statistics    */
} mg_data_spec;

/* The sets of a run; owned, freed with mg_run_data_free. */
typedef struct {
    mg_dataset *train, *val, *test; /* val, test NULL when absent */
} mg_run_data;

/* Rebuild the data: the sources (synthetic from (seed, MG_STREAM_DATA, 0)
 * and (.., 1) for the test set; IDX; CSV), the validation split
 * (mg_dataset_split with (seed, MG_STREAM_DATA, 2)), the training subset
 * ((.., 3)), standardisation fitted on the training set.  Errors name the
 * path or option (MG_ERR_IO, MG_ERR_FORMAT, MG_ERR_CONFIG, MG_ERR_NOMEM). */
mg_status mg_run_data_load(const mg_data_spec *spec, mg_run_data *out);
void mg_run_data_free(mg_run_data *d);
/* "train", "val", "test" for 0, 1, 2. */
const char *mg_split_name(int split);

/* A trained run opened for evaluation and analysis: DIR/model.ckpt, the
 * data rebuilt from spec, the split asked for (0 train, 1 val, 2 test),
 * checked against the model (features, labels).  Everything is owned;
 * mg_run_close frees it. */
typedef struct {
    mg_model *model;
    mg_run_data data;
    const mg_dataset *set; /* the split (points into data) */
    int split;
    char checkpoint[4096];
} mg_run;
/* Errors: MG_ERR_CONFIG (no checkpoint: "has the run been trained?", the
 * run has no such split, the data does not fit the model), the errors of
 * mg_checkpoint_load_model and mg_run_data_load. */
mg_status mg_run_open(const char *dir, const mg_data_spec *spec, int split, mg_run *out);
void mg_run_close(mg_run *r);

/* ---------------------------------------------------------------- files */

/* Write a file atomically and durably: fn writes to the temp file
 * PATH.tmpPID.HOST in the same directory, which is flushed and fsync'ed,
 * renamed over path, and the directory fsync'ed; on failure the temp file is
 * removed and path left as it was.  Stale temp files of path (of writers of
 * this host that died before their rename) are removed first.  Errors name
 * path and the errno text ("cannot write run/model.ckpt: No space left on
 * device"); when fn fails on a stream error its detail gets that prefix. */
mg_status mg_write_atomic(const char *path, mg_status (*fn)(FILE *f, void *user), void *user);
/* Remove the temp files in dir left by mg_write_atomic calls whose process
 * died before the rename: NAME.tmpPID.HOST with HOST this host and no process
 * PID alive (a live writer's, another host's or another user's are kept);
 * *removed (may be NULL) counts them.  MG_ERR_IO if dir cannot be read. */
mg_status mg_remove_stale_temps(const char *dir, int *removed);
/* Make a directory and its parents (like mkdir -p). */
mg_status mg_mkdir_p(const char *path);

#ifdef __cplusplus
}
#endif
#endif /* MIXGEO_H */
