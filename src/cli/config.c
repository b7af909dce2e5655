/* config.c - the options of the `mixgeo` program (the run configuration
 * they resolve to is run_config.c).
 *
 * One table (cli_opt[]) per command drives getopt_long, the INI keys, the
 * --help text and the saved RUN/config.ini.  Values are kept as text with
 * their origin ("--alpha", "exp.ini:7: alpha", "--alpha (default)") until
 * cli_run_config_resolve parses them, so that every message names where the
 * bad value came from.  Precedence: defaults < --config file < flags.
 */
#include "cli.h"
#include "ini.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- the train table */

#define S CLI_SAVE
#define R CLI_RESUME_OK
#define D CLI_DATA
#define NN CLI_NO_NEG

const cli_opt cli_train_opts[] = {
    {"data", 0, CLI_VALUE, "SPEC", "spiral", S | D,
     "spiral|moons|circles|blobs (synthetic), fashion-mnist, idx:DIR (a directory of IDX "
     "files train-*/t10k-*), csv:TRAIN[,TEST] (features..., integer label per line)",
     "Data"},
    {"data-dir", 0, CLI_VALUE, "DIR", MG_FASHION_MNIST_DIR, S | R | D,
     "where --data fashion-mnist finds its IDX files", NULL},
    {"classes", 0, CLI_VALUE, "N", "auto", S | D,
     "number of classes; auto: 2 for synthetic data, 10 for fashion-mnist, max label + 1 "
     "for idx/csv",
     NULL},
    {"n-per-class", 0, CLI_VALUE, "N", "1000", S | D, "synthetic training points per class",
     NULL},
    {"n-test-per-class", 0, CLI_VALUE, "N", "auto", S | D,
     "synthetic test points per class, drawn from a stream of their own (0 = no test set); "
     "auto: = --n-per-class",
     NULL},
    {"noise", 0, CLI_VALUE, "X", "auto", S | D,
     "standard deviation of the Gaussian noise of synthetic data (blobs: the cluster "
     "spread); auto: spiral 0.5, moons 0.1, circles 0.05, blobs 1",
     NULL},
    {"data-seed", 0, CLI_VALUE, "N", "auto", S | D,
     "seed of the synthetic data and of the validation split; auto: = --seed", NULL},
    {"standardize", 0, CLI_FLAG, NULL, "auto", S | D,
     "standardise every feature with the mean and std of the training set; auto: on for "
     "synthetic data, off for images", NULL},
    {"val", 0, CLI_VALUE, "N", "0", S | D,
     "hold out N random training examples for validation (0 = no validation set)", NULL},
    {"n-train", 0, CLI_VALUE, "N|all", "all", S | D,
     "train on N random examples of the training set (after --val is held out; for quick "
     "budgets); all: every example",
     NULL},

    {"arch", 0, CLI_VALUE, "WIDTHS|preact:...|cnn:...", "auto", S,
     "the network.  MLP: layer widths input-hidden...-classes, e.g. 784-512-512-10 (blobs: "
     "the input width is the data dimension).  preact:16-32-64x2: a PreActResNet for images "
     "(stage widths x residual blocks per stage; its head is BN-ReLU, average pooling, dense, "
     "as in He et al. 2016); preact-authors:16-32-64x2: the same without the head's BN-ReLU "
     "(the Manifold Mixup authors' network).  cnn:TOKENS: a plain conv net for images, "
     "tokens joined by '-': cC[kK][sS] conv with C channels, kernel K (default 3), stride S "
     "(default 1), padding K/2, then --batchnorm and --act; mP / aP max / average pooling "
     "P x P, stride P; g global average pooling; fN flatten + dense N + --act (+ --batchnorm, "
     "--dropout).  A c or f token starts a block, pools join the block before them, a dense "
     "layer to the classes is the last block: cnn:c32k5-m2-c64k5-m2-f1024 has layers k = 1 "
     "conv32-relu-maxpool, 2 conv64-relu-maxpool, 3 dense1024-relu, 4 logits.  auto: "
     "DIM-64-64-CLASSES, or DIM-512-512-CLASSES for IDX images",
     "Model"},
    {"act", 0, CLI_VALUE, "relu|lrelu|tanh", "auto", S,
     "activation of the hidden layers; auto: lrelu for synthetic data (a 2-unit ReLU "
     "bottleneck dies easily), relu otherwise",
     NULL},
    {"slope", 0, CLI_VALUE, "X", "0.01", S, "negative slope of --act lrelu", NULL},
    {"batchnorm", 0, CLI_FLAG, NULL, "false", S,
     "batch normalisation after every hidden dense layer (cnn: and every conv)", NULL},
    {"dropout", 0, CLI_VALUE, "P", "0", S,
     "dropout probability after every hidden layer (cnn: every fN dense layer)", NULL},
    {"input-noise", 0, CLI_VALUE, "SIGMA", "0", S,
     "standard deviation of Gaussian noise added to the input while training", NULL},
    {"init", 0, CLI_VALUE, "he|xavier", "he", S,
     "initialisation of the dense layers (convolutions: always He)", NULL},
    {"augment", 0, CLI_VALUE, "LIST", "none", S,
     "image augmentation of training batches: none, or a list of cropP (random crop of the "
     "image zero-padded by P pixels) and flip (horizontal, p = 1/2), e.g. crop4,flip",
     NULL},

    {"mix", 0, CLI_VALUE, "none|input|manifold", "none", S,
     "mixup variant: none (baseline), input mixup, Manifold Mixup", "Mixup"},
    {"mix-layers", 0, CLI_VALUE, "LIST", "auto", S,
     "eligible layers k, e.g. 0,1,2 (0 = input, L-1 = last hidden state); one k drawn per "
     "minibatch; auto: 0..L-1 for manifold, 0 for input",
     NULL},
    {"alpha", 0, CLI_VALUE, "X", "auto", S,
     "lambda ~ Beta(alpha, alpha), one per minibatch; auto: 2 for manifold, 1 for input",
     NULL},
    {"loss", 0, CLI_VALUE, "ce|bce", "ce", S,
     "ce: soft-target cross-entropy (the default); bce: binary cross-entropy of "
     "softmax(logits) against the soft target, mean over batch x classes (the authors' code; "
     "its gradients are ~1/classes as large, so it needs a larger lr or more epochs)",
     NULL},

    {"optim", 0, CLI_VALUE, "sgd|adam", "auto", S,
     "optimiser; auto: adam for synthetic data, sgd (the paper's) otherwise", "Optimiser"},
    {"lr", 0, CLI_VALUE, "X", "auto", S,
     "learning rate; auto: 0.01 with adam, 0.1 with sgd", NULL},
    {"momentum", 0, CLI_VALUE, "X", "0.9", S, "SGD momentum", NULL},
    {"nesterov", 0, CLI_FLAG, NULL, "auto", S,
     "Nesterov momentum (SGD); auto: on with sgd (the paper's setting)", NULL},
    {"wd", 0, CLI_VALUE, "X", "auto", S,
     "weight decay (L2 added to the gradient); auto: 1e-4 with sgd (the paper's), 0 with adam",
     NULL},
    {"beta1", 0, CLI_VALUE, "X", "0.9", S, "Adam beta1", NULL},
    {"beta2", 0, CLI_VALUE, "X", "0.999", S, "Adam beta2", NULL},
    {"eps", 0, CLI_VALUE, "X", "1e-08", S, "Adam epsilon", NULL},
    {"sched", 0, CLI_VALUE, "constant|step|cosine", "cosine", S, "learning-rate schedule",
     NULL},
    {"milestones", 0, CLI_VALUE, "LIST", "", S,
     "epochs at which --sched step multiplies the learning rate by --gamma, e.g. 15,25", NULL},
    {"gamma", 0, CLI_VALUE, "X", "0.1", S, "factor of --sched step", NULL},
    {"warmup", 0, CLI_VALUE, "N", "0", S, "epochs of linear learning-rate warm-up", NULL},

    {"epochs", 0, CLI_VALUE, "N", "10", S | R,
     "epochs to train (with --resume: the new total; the only setting a resume may change "
     "besides --threads, --checkpoint-every and --data-dir)",
     "Run"},
    {"batch", 0, CLI_VALUE, "N", "100", S, "minibatch size", NULL},
    {"seed", 0, CLI_VALUE, "N", "0", S,
     "seed of the initialisation, the shuffles and the mixup draws", NULL},
    {"threads", 0, CLI_VALUE, "N", "1", S | R,
     "threads of OpenBLAS and of the image layers' worker team (0 = all cores); a run is "
     "bit-identical for the same N, and 1 makes results independent of the machine",
     NULL},
    {"conv", 0, CLI_VALUE, "auto|im2col", "auto", S | R,
     "convolution implementation.  auto: oneDNN's direct convolutions for the 3x3 convs with "
     ">= 8 input channels, our im2col/shift + sgemm kernels for the others (1x1 projections, "
     "the stem); im2col: our kernels for every conv (the reference; results differ from auto "
     "by float rounding only).  Which one ran: conv_backend in summary.json",
     NULL},
    {"out", 0, CLI_VALUE, "RUN", "auto", S | R,
     "run directory; auto: runs/NAME-seedSEED, NAME = the --config file's name without .ini, "
     "else DATA-MIX",
     NULL},
    {"checkpoint-every", 0, CLI_VALUE, "N", "1", S | R,
     "save RUN/model.ckpt every N epochs (0 = only at the end and when interrupted)", NULL},
    {"clean-eval", 0, CLI_VALUE, "N", "10000", S | R,
     "clean training metrics: after every epoch, evaluate the model (eval mode, no "
     "augmentation, no mixing) on the first min(N, training examples) training examples; "
     "metrics.tsv columns train_clean_loss and train_clean_acc (0 = off: empty values).  "
     "It reads the model only, so results are bit-identical with or without it",
     NULL},
    {"config", 0, CLI_VALUE, "FILE", "", 0,
     "read options from an INI file (keys = long option names, in [train] or no section); "
     "flags override it",
     NULL},
    {"resume", 0, CLI_VALUE, "RUN", "", 0,
     "continue the interrupted or finished run in RUN (its config.ini and model.ckpt)", NULL},
    {"force", 0, CLI_FLAG, NULL, "false", NN, "overwrite a run that already exists in --out",
     NULL},
    {"profile", 0, CLI_FLAG, NULL, "false", NN,
     "time every layer's forward and backward pass and the step's phases (batch, loss, "
     "optimizer) and print the table, ms per step, at the end; the results are unchanged",
     NULL},
    {"dry-run", 0, CLI_FLAG, NULL, "false", NN,
     "check the options and print the resolved configuration (an auto --arch stays auto: no "
     "data is loaded); writes nothing",
     NULL},
    {"quiet", 'q', CLI_FLAG, NULL, "false", NN, "print nothing but errors", NULL},
    {"help", 'h', CLI_FLAG, NULL, "false", NN, "show this help and exit", NULL},
};
const int cli_train_n_opts = (int)(sizeof cli_train_opts / sizeof cli_train_opts[0]);

#undef S
#undef R
#undef D
#undef NN

/* ---------------------------------------------------------------- values */

void cli_values_init(cli_values *v, const cli_opt *opts, int n)
{
    MG_ASSERT(n <= CLI_MAX_OPTS);
    memset(v, 0, sizeof *v);
    v->opts = opts;
    v->n = n;
}

void cli_values_free(cli_values *v)
{
    for (int i = 0; i < v->n; i++) free(v->value[i]);
    memset(v->value, 0, sizeof v->value);
}

int cli_opt_index(const cli_values *v, const char *name)
{
    for (int i = 0; i < v->n; i++)
        if (strcmp(v->opts[i].name, name) == 0) return i;
    return -1;
}

static int must_index(const cli_values *v, const char *name)
{
    int i = cli_opt_index(v, name);
    if (i < 0) mg_assert_fail(__FILE__, __LINE__, name);
    return i;
}

const char *cli_get(const cli_values *v, const char *name)
{
    int i = must_index(v, name);
    if (v->value[i]) return v->value[i];
    return v->opts[i].def ? v->opts[i].def : "";
}

const char *cli_origin(const cli_values *v, const char *name)
{
    int i = must_index(v, name);
    return v->origin[i];
}

int cli_is_set(const cli_values *v, const char *name)
{
    return v->value[must_index(v, name)] != NULL;
}

void cli_set(cli_values *v, int i, const char *value, const char *origin)
{
    MG_ASSERT(i >= 0 && i < v->n);
    char *copy = strdup(value);
    MG_ASSERT(copy != NULL);
    free(v->value[i]);
    v->value[i] = copy;
    if (origin) snprintf(v->origin[i], sizeof v->origin[i], "%s", origin);
}

void cli_set_by_name(cli_values *v, const char *name, const char *value, const char *origin)
{
    cli_set(v, must_index(v, name), value, origin);
}

/* Replace the text of an option by its canonical spelling, keeping origin. */
void cli_set_canonical(cli_values *v, const char *name, const char *text)
{
    int i = must_index(v, name);
    if (v->value[i] && strcmp(v->value[i], text) == 0) return;
    if (!v->value[i]) snprintf(v->origin[i], sizeof v->origin[i], "--%s (default)", name);
    cli_set(v, i, text, NULL);
}

/* ---------------------------------------------------------------- typed access */

static const char *origin_of(const cli_values *v, int i, char *buf, size_t len)
{
    if (v->value[i] && v->origin[i][0]) return v->origin[i];
    snprintf(buf, len, "--%s (default)", v->opts[i].name);
    return buf;
}

static int vbad(const cli_values *v, const char *name, const char *fmt, va_list ap)
{
    int i = must_index(v, name);
    char ob[128], msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    cli_error("%s: %s (got '%s')", origin_of(v, i, ob, sizeof ob), msg, cli_get(v, name));
    return 1;
}

int cli_bad(const cli_values *v, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vbad(v, name, fmt, ap);
    va_end(ap);
    return 1;
}

int cli_is_blank(const char *s)
{
    while (*s && isspace((unsigned char)*s)) s++;
    return *s == '\0';
}

static int parse_long(const char *s, long *out)
{
    char *end;
    if (cli_is_blank(s)) return 0;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || end == s) return 0;
    while (isspace((unsigned char)*end)) end++;
    if (*end) return 0;
    *out = x;
    return 1;
}

int cli_get_int(const cli_values *v, const char *name, long lo, long hi, int *out)
{
    const char *s = cli_get(v, name);
    long x;
    if (!parse_long(s, &x)) return cli_bad(v, name, "not an integer");
    if (x < lo || x > hi) {
        if (hi == INT_MAX) return cli_bad(v, name, "must be >= %ld", lo);
        return cli_bad(v, name, "must be in %ld..%ld", lo, hi);
    }
    *out = (int)x;
    return 0;
}

int cli_get_u64(const cli_values *v, const char *name, uint64_t *out)
{
    const char *s = cli_get(v, name);
    const char *p = s;
    while (isspace((unsigned char)*p)) p++;
    if (*p == '-' || *p == '+' || !isdigit((unsigned char)*p))
        return cli_bad(v, name, "not a non-negative integer");
    char *end;
    errno = 0;
    unsigned long long x = strtoull(p, &end, 10);
    while (isspace((unsigned char)*end)) end++;
    if (errno || *end) return cli_bad(v, name, "not a non-negative integer below 2^64");
    *out = (uint64_t)x;
    return 0;
}

int cli_get_double(const cli_values *v, const char *name, double *out)
{
    const char *s = cli_get(v, name);
    char *end;
    if (cli_is_blank(s)) return cli_bad(v, name, "not a number");
    errno = 0;
    double x = strtod(s, &end);
    if (end == s) return cli_bad(v, name, "not a number");
    while (isspace((unsigned char)*end)) end++;
    if (*end) return cli_bad(v, name, "not a number");
    if (!isfinite(x)) return cli_bad(v, name, "not a finite number"); /* also overflow */
    *out = x;
    return 0;
}

int cli_get_bool(const cli_values *v, const char *name, int *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on", NULL};
    static const char *const no[] = {"0", "false", "no", "off", NULL};
    const char *s = cli_get(v, name);
    for (int i = 0; yes[i]; i++)
        if (strcasecmp(s, yes[i]) == 0) return *out = 1, 0;
    for (int i = 0; no[i]; i++)
        if (strcasecmp(s, no[i]) == 0) return *out = 0, 0;
    return cli_bad(v, name, "not a boolean (true/false, yes/no, on/off, 1/0)");
}

int cli_get_enum(const cli_values *v, const char *name, const char *const *names, int *out)
{
    const char *s = cli_get(v, name);
    for (int i = 0; names[i]; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    char list[256] = "";
    size_t used = 0;
    for (int i = 0; names[i]; i++) {
        int w = snprintf(list + used, sizeof list - used, "%s%s", i ? "|" : "", names[i]);
        if (w < 0 || (size_t)w >= sizeof list - used) break;
        used += (size_t)w;
    }
    return cli_bad(v, name, "unknown value (expected %s)", list);
}

int cli_get_int_list(const cli_values *v, const char *name, long lo, long hi, int *out, int max,
                     int *n)
{
    const char *s = cli_get(v, name);
    *n = 0;
    if (cli_is_blank(s)) return 0;
    const char *p = s;
    for (;;) {
        char item[64];
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len >= sizeof item) return cli_bad(v, name, "not a comma-separated list of integers");
        memcpy(item, p, len);
        item[len] = '\0';
        long x;
        if (!parse_long(item, &x))
            return cli_bad(v, name, "not a comma-separated list of integers");
        if (x < lo || x > hi) return cli_bad(v, name, "%ld is outside %ld..%ld", x, lo, hi);
        if (*n >= max) return cli_bad(v, name, "more than %d entries", max);
        out[(*n)++] = (int)x;
        if (!comma) break;
        p = comma + 1;
    }
    return 0;
}

void cli_format_double(char *buf, size_t len, double x)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) return;
    }
    snprintf(buf, len, "%.17g", x);
}

/* ---------------------------------------------------------------- argv */

void cli_add_data_overrides(cli_opt *opts, int *n, int max)
{
    int first = 1;
    for (int i = 0; i < cli_train_n_opts; i++) {
        const cli_opt *o = &cli_train_opts[i];
        if (!(o->flags & CLI_DATA)) continue;
        cli_opt e = *o;
        e.def = "as in RUN/config.ini";
        e.flags = CLI_DATA;
        e.group = first ? "Data overrides" : NULL;
        first = 0;
        MG_ASSERT(*n < max);
        opts[(*n)++] = e;
    }
}

int cli_begin(cli_values *v, const char *cmd, int argc, char **argv, char **pos, int maxpos,
              int *npos, const char *usage, const char *description, const char *epilog, int *rc)
{
    int flag = 0;
    *rc = CLI_EXIT_USAGE;
    if (cli_parse_args(v, cmd, argc, argv, pos, maxpos, npos)) return 1;
    if (cli_get_bool(v, "help", &flag)) return 1;
    if (flag) {
        cli_print_help(stdout, v, usage, description, epilog);
        *rc = CLI_EXIT_OK;
        return 1;
    }
    if (cli_get_bool(v, "quiet", &flag)) return 1;
    cli_set_quiet(flag);
    return 0;
}

int cli_parse_args(cli_values *v, const char *cmd, int argc, char **argv, char **pos,
                   int maxpos, int *npos)
{
    static char neg_names[CLI_MAX_OPTS][72];
    struct option lo[2 * CLI_MAX_OPTS + 1];
    char optstring[2 * CLI_MAX_OPTS + 4] = "-:"; /* positionals in order; ':' on missing arg */
    size_t os = 2;
    int k = 0;
    for (int i = 0; i < v->n; i++) {
        const cli_opt *o = &v->opts[i];
        lo[k++] = (struct option){o->name, o->kind == CLI_VALUE ? required_argument : no_argument,
                                  NULL, 1000 + i};
        if (o->kind == CLI_FLAG && !(o->flags & CLI_NO_NEG)) {
            snprintf(neg_names[i], sizeof neg_names[i], "no-%s", o->name);
            lo[k++] = (struct option){neg_names[i], no_argument, NULL, 2000 + i};
        }
        if (o->short_name) {
            optstring[os++] = (char)o->short_name;
            if (o->kind == CLI_VALUE) optstring[os++] = ':';
        }
    }
    optstring[os] = '\0';
    lo[k] = (struct option){NULL, 0, NULL, 0};

    int problems = 0;
    *npos = 0;
    optind = 0; /* glibc: full re-initialisation */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, optstring, lo, NULL)) != -1) {
        if (c == 1) {
            if (*npos < maxpos) {
                pos[(*npos)++] = optarg;
            } else {
                cli_error("%s: unexpected argument '%s' (see mixgeo %s --help)", cmd, optarg,
                          cmd);
                problems++;
            }
            continue;
        }
        if (c == '?') {
            if (optopt >= 1000 && optopt < 3000) {
                int i = optopt % 1000;
                cli_error("%s: option '--%s' takes no value", cmd, v->opts[i].name);
            } else if (optopt > 0 && optopt < 256) {
                cli_error("%s: unknown option '-%c' (see mixgeo %s --help)", cmd, optopt, cmd);
            } else {
                cli_error("%s: unknown or ambiguous option '%s' (see mixgeo %s --help)", cmd,
                          argv[optind - 1], cmd);
            }
            problems++;
            continue;
        }
        if (c == ':') {
            const char *name = "?";
            if (optopt >= 1000 && optopt < 2000) name = v->opts[optopt - 1000].name;
            else
                for (int i = 0; i < v->n; i++)
                    if (v->opts[i].short_name == optopt) name = v->opts[i].name;
            cli_error("%s: option '--%s' needs a value", cmd, name);
            problems++;
            continue;
        }
        int i = -1, neg = 0;
        if (c >= 2000) {
            i = c - 2000;
            neg = 1;
        } else if (c >= 1000) {
            i = c - 1000;
        } else {
            for (int j = 0; j < v->n; j++)
                if (v->opts[j].short_name == c) i = j;
        }
        if (i < 0 || i >= v->n) { /* cannot happen */
            problems++;
            continue;
        }
        char origin[80];
        snprintf(origin, sizeof origin, "--%s%s", neg ? "no-" : "", v->opts[i].name);
        if (v->opts[i].kind == CLI_FLAG) cli_set(v, i, neg ? "false" : "true", origin);
        else cli_set(v, i, optarg, origin);
        v->from_argv[i] = 1;
    }
    return problems;
}

/* ---------------------------------------------------------------- INI */

/* The file is read by the program's one INI reader (ini.h, shared with the
 * suite files); here its sections and keys are given their meaning. */
int cli_ini_load(cli_values *v, const char *path, const char *section, int only_unset)
{
    cli_ini_section *sec = NULL;
    int n = 0;
    int problems = cli_ini_read(path, 0, &sec, &n);
    if (problems < 0) return -1;
    int first_line[CLI_MAX_OPTS] = {0}; /* of each key set so far */
    for (int k = 0; k < n; k++) {
        const cli_ini_section *s = &sec[k];
        if (*s->kind && (strcmp(s->kind, section) != 0 || *s->name)) {
            if (!*s->name && cli_command_exists(s->kind)) continue; /* another command's */
            cli_error("%s:%d: unknown section [%s%s%s] (the keys of mixgeo %s go in [%s] or before "
                      "any section)",
                      path, s->line, s->kind, *s->name ? " " : "", s->name, section, section);
            problems++;
            continue;
        }
        for (int j = 0; j < s->n; j++) {
            const cli_ini_entry *e = &s->e[j];
            int i = cli_opt_index(v, e->key);
            if (i < 0) {
                cli_error("%s:%d: unknown key '%s'", path, e->line, e->key);
                problems++;
                continue;
            }
            if (!(v->opts[i].flags & CLI_SAVE)) {
                cli_error("%s:%d: '%s' is a command-line option, not a config key", path, e->line,
                          e->key);
                problems++;
                continue;
            }
            /* the same key before any section and in [section]: set twice */
            if (first_line[i]) {
                cli_error("%s:%d: %s: duplicate key (first at line %d)", path, e->line, e->key,
                          first_line[i]);
                problems++;
                continue;
            }
            first_line[i] = e->line;
            if (!cli_ini_value_ok(e->value)) { /* refused now, not when config.ini is written */
                cli_error("%s:%d: %s: the value '%s' cannot be stored in an INI file (a '#' or "
                          "';' at its start or after a blank, a line break, blanks at its ends)",
                          path, e->line, e->key, e->value);
                problems++;
                continue;
            }
            if (only_unset && v->from_argv[i]) continue; /* flags win */
            char origin[CLI_ORIGIN_LEN];
            snprintf(origin, sizeof origin, "%s:%d: %s", path, e->line, e->key);
            cli_set(v, i, e->value, origin);
        }
    }
    cli_ini_free(sec, n);
    return problems;
}

typedef struct {
    const cli_values *v;
    const char *section, *header;
} ini_job;

static mg_status ini_emit(FILE *f, void *user)
{
    const ini_job *j = user;
    cli_ini_print(f, j->v, j->section, j->header);
    return MG_OK;
}

void cli_ini_print(FILE *f, const cli_values *v, const char *section, const char *header)
{
    const ini_job job = {v, section, header}, *j = &job;
    const char *h = j->header;
    while (h && *h) {
        const char *e = strchr(h, '\n');
        int n = e ? (int)(e - h) : (int)strlen(h);
        fprintf(f, "# %.*s\n", n, h);
        if (!e) break;
        h = e + 1;
    }
    fprintf(f, "\n[%s]\n", j->section);
    for (int i = 0; i < j->v->n; i++) {
        const cli_opt *o = &j->v->opts[i];
        if (!(o->flags & CLI_SAVE)) continue;
        const char *val = cli_get(j->v, o->name);
        fprintf(f, "%s = %s\n", o->name, val);
    }
}

mg_status cli_ini_write(const char *path, const cli_values *v, const char *section,
                        const char *header)
{
    /* Values the INI reader could not read back unchanged. */
    for (int i = 0; i < v->n; i++) {
        if (!(v->opts[i].flags & CLI_SAVE)) continue;
        const char *val = cli_get(v, v->opts[i].name);
        if (!cli_ini_value_ok(val))
            return mg_fail(MG_ERR_CONFIG,
                           "--%s: the value '%s' cannot be stored in an INI file (blanks at an "
                           "end, a leading '#' or ';', ' #' or ' ;', or a line break)",
                           v->opts[i].name, val);
    }
    ini_job j = {v, section, header};
    return mg_write_atomic(path, ini_emit, &j);
}

/* ---------------------------------------------------------------- --help */

/* Print text wrapped at 79 columns, continuation lines indented by `indent`;
 * the first line starts at column `col`. */
static void print_wrapped(FILE *f, const char *text, int col, int indent)
{
    const char *p = text;
    while (*p) {
        while (*p == ' ') p++;
        const char *w = p;
        while (*p && *p != ' ') p++;
        int wl = (int)(p - w);
        if (wl == 0) break;
        if (col > indent && col + 1 + wl > 79) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', f);
            col++;
        }
        fwrite(w, 1, (size_t)wl, f);
        col += wl;
    }
    fputc('\n', f);
}

void cli_print_help(FILE *f, const cli_values *v, const char *usage, const char *description,
                    const char *epilog)
{
    fprintf(f, "%s\n", usage);
    if (description && *description) fprintf(f, "\n%s\n", description);
    int first = 1;
    for (int i = 0; i < v->n; i++) {
        const cli_opt *o = &v->opts[i];
        if (o->group) fprintf(f, "\n%s:\n", o->group);
        else if (first) fputc('\n', f);
        first = 0;
        char head[128];
        int n;
        if (o->kind == CLI_FLAG && !(o->flags & CLI_NO_NEG))
            n = snprintf(head, sizeof head, "  --%s, --no-%s", o->name, o->name);
        else if (o->kind == CLI_FLAG && o->short_name)
            n = snprintf(head, sizeof head, "  -%c, --%s", o->short_name, o->name);
        else if (o->kind == CLI_FLAG)
            n = snprintf(head, sizeof head, "  --%s", o->name);
        else
            n = snprintf(head, sizeof head, "  --%s %s", o->name, o->metavar ? o->metavar : "X");
        fputs(head, f);
        int col = n;
        const int indent = 26;
        if (col + 2 > indent) {
            fprintf(f, "\n%*s", indent, "");
        } else {
            fprintf(f, "%*s", indent - col, "");
        }
        char text[1024];
        const char *def = o->def ? o->def : "";
        if (!strcmp(o->name, "help"))
            snprintf(text, sizeof text, "%s", o->help);
        else
            snprintf(text, sizeof text, "%s [default: %s]", o->help, *def ? def : "none");
        print_wrapped(f, text, indent, indent);
    }
    if (epilog && *epilog) fprintf(f, "\n%s\n", epilog);
}

