/* config.c - options and the run configuration of the `mixgeo` program.
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
static void canon(cli_values *v, const char *name, const char *text)
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

static int is_blank(const char *s)
{
    while (*s && isspace((unsigned char)*s)) s++;
    return *s == '\0';
}

static int parse_long(const char *s, long *out)
{
    char *end;
    if (is_blank(s)) return 0;
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
    if (is_blank(s)) return cli_bad(v, name, "not a number");
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
    if (is_blank(s)) return 0;
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

/* ---------------------------------------------------------------- run config */

static const char *const k_data_names = "spiral|moons|circles|blobs|fashion-mnist|idx:DIR|"
                                        "csv:TRAIN[,TEST]";
static const char *const k_act_names[] = {"relu", "lrelu", "tanh", NULL};
static const mg_act k_act_values[] = {MG_ACT_RELU, MG_ACT_LRELU, MG_ACT_TANH};
static const char *const k_init_names[] = {"he", "xavier", NULL};
static const char *const k_mix_names[] = {"none", "input", "manifold", NULL};
static const mg_mix_mode k_mix_values[] = {MG_MIX_NONE, MG_MIX_INPUT, MG_MIX_MANIFOLD};
static const char *const k_loss_names[] = {"bce", "ce", NULL};
static const mg_loss_kind k_loss_values[] = {MG_LOSS_BCE, MG_LOSS_CE};
static const char *const k_optim_names[] = {"sgd", "adam", NULL};
static const mg_optim_kind k_optim_values[] = {MG_OPT_SGD, MG_OPT_ADAM};
static const char *const k_sched_names[] = {"constant", "step", "cosine", NULL};
static const mg_sched_kind k_sched_values[] = {MG_SCHED_CONSTANT, MG_SCHED_STEP,
                                               MG_SCHED_COSINE};

static int is_auto(const char *s)
{
    return strcmp(s, "auto") == 0;
}

/* Add a check's result (0 or a problem count) to *bad and return it, so that
 * `if (!tally(&bad, check(...)))` continues only when this check passed. */
static int tally(int *bad, int r)
{
    *bad += r;
    return r;
}

static void canon_int(cli_values *v, const char *name, long x)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", x);
    canon(v, name, buf);
}

static void canon_double(cli_values *v, const char *name, double x)
{
    char buf[64];
    cli_format_double(buf, sizeof buf, x);
    canon(v, name, buf);
}

static void canon_list(cli_values *v, const char *name, const int *x, int n, char sep)
{
    char buf[1024];
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < sizeof buf; i++) {
        int w = i ? snprintf(buf + used, sizeof buf - used, "%c%d", sep, x[i])
                  : snprintf(buf + used, sizeof buf - used, "%d", x[i]);
        if (w > 0) used += (size_t)w;
    }
    canon(v, name, buf);
}

/* "784-512-512-10" -> widths; 0 on a malformed string. */
static int parse_widths(const char *s, int *w, int max, int *n)
{
    *n = 0;
    const char *p = s;
    if (!*p) return 0;
    for (;;) {
        if (!isdigit((unsigned char)*p)) return 0;
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (errno || x < 1 || x > 1000000 || *n >= max) return 0;
        w[(*n)++] = (int)x;
        if (*end == '\0') break;
        if (*end != '-') return 0;
        p = end + 1;
    }
    return *n >= 2;
}

static int copy_text(const cli_values *v, const char *name, char *dst, size_t len,
                     const char *text)
{
    int n = snprintf(dst, len, "%s", text);
    if (n < 0 || (size_t)n >= len) return cli_bad(v, name, "longer than %zu characters", len - 1);
    return 0;
}

static double synth_default_noise(mg_synth_kind k)
{
    switch (k) {
    case MG_SYNTH_SPIRAL: return 0.5;
    case MG_SYNTH_MOONS: return 0.1;
    case MG_SYNTH_CIRCLES: return 0.05;
    case MG_SYNTH_BLOBS: return 1.0;
    }
    return 0.0;
}

/* Defaults that depend on the kind of data ("auto" in the option table):
 * synthetic 2-D sets train well with Adam, LeakyReLU and standardised inputs
 * (the paper's spiral spans [-15,15]^2 and has a 2-unit bottleneck, which a
 * ReLU kills); image data uses the paper's SGD + Nesterov + weight decay. */
static void resolve_family_defaults(cli_values *v, const cli_run_config *c)
{
    int synth = c->data_kind == CLI_DATA_SYNTH;
    if (is_auto(cli_get(v, "act"))) canon(v, "act", synth ? "lrelu" : "relu");
    if (is_auto(cli_get(v, "standardize"))) canon(v, "standardize", synth ? "true" : "false");
    if (is_auto(cli_get(v, "optim"))) canon(v, "optim", synth ? "adam" : "sgd");
    int adam = strcmp(cli_get(v, "optim"), "adam") == 0;
    if (is_auto(cli_get(v, "lr"))) canon(v, "lr", adam ? "0.01" : "0.1");
    if (is_auto(cli_get(v, "wd"))) canon(v, "wd", adam ? "0" : "0.0001");
    if (is_auto(cli_get(v, "nesterov"))) canon(v, "nesterov", adam ? "false" : "true");
}

static int resolve_data(cli_values *v, cli_run_config *c)
{
    int bad = 0;
    const char *data = cli_get(v, "data");
    bad += copy_text(v, "data", c->data, sizeof c->data, data);
    if (mg_synth_from_name(data, &c->synth)) {
        c->data_kind = CLI_DATA_SYNTH;
    } else if (strcmp(data, "fashion-mnist") == 0) {
        c->data_kind = CLI_DATA_FASHION;
        const char *dir = cli_get(v, "data-dir");
        if (!*dir) bad += cli_bad(v, "data-dir", "empty directory");
        else bad += copy_text(v, "data-dir", c->data_dir, sizeof c->data_dir, dir);
    } else if (strncmp(data, "idx:", 4) == 0) {
        c->data_kind = CLI_DATA_IDX;
        if (!data[4]) bad += cli_bad(v, "data", "idx: needs a directory, e.g. idx:data/mnist");
        else bad += copy_text(v, "data", c->data_dir, sizeof c->data_dir, data + 4);
    } else if (strncmp(data, "csv:", 4) == 0) {
        c->data_kind = CLI_DATA_CSV;
        const char *files = data + 4, *comma = strchr(files, ',');
        size_t tl = comma ? (size_t)(comma - files) : strlen(files);
        if (tl == 0 || (comma && !comma[1])) {
            bad += cli_bad(v, "data", "csv: needs TRAIN[,TEST] file names");
        } else if (tl >= sizeof c->csv_train) {
            bad += cli_bad(v, "data", "file name too long");
        } else {
            memcpy(c->csv_train, files, tl);
            c->csv_train[tl] = '\0';
            if (comma) bad += copy_text(v, "data", c->csv_test, sizeof c->csv_test, comma + 1);
        }
    } else {
        bad += cli_bad(v, "data", "unknown data (expected %s)", k_data_names);
    }
    if (bad) {
        /* Keep checking the other options (their problems are reported
         * too); the run stops anyway. */
        c->data_kind = CLI_DATA_SYNTH;
        c->synth = MG_SYNTH_SPIRAL;
    }

    const char *cl = cli_get(v, "classes");
    if (is_auto(cl)) {
        c->classes = c->data_kind == CLI_DATA_SYNTH ? 2 : c->data_kind == CLI_DATA_FASHION ? 10 : 0;
        if (c->classes) canon_int(v, "classes", c->classes);
    } else if (!tally(&bad, cli_get_int(v, "classes", 2, 1000000, &c->classes))) {
        canon_int(v, "classes", c->classes);
        if (c->data_kind == CLI_DATA_SYNTH && c->synth == MG_SYNTH_MOONS && c->classes != 2)
            bad += cli_bad(v, "classes", "moons has 2 classes");
    }

    if (!tally(&bad, cli_get_int(v, "n-per-class", 1, 10000000, &c->n_per_class)))
        canon_int(v, "n-per-class", c->n_per_class);
    const char *nt = cli_get(v, "n-test-per-class");
    if (is_auto(nt)) {
        c->n_test_per_class = c->n_per_class;
        if (c->data_kind == CLI_DATA_SYNTH) canon_int(v, "n-test-per-class", c->n_test_per_class);
    } else if (!tally(&bad, cli_get_int(v, "n-test-per-class", 0, 10000000, &c->n_test_per_class))) {
        canon_int(v, "n-test-per-class", c->n_test_per_class);
    }

    const char *ns = cli_get(v, "noise");
    if (is_auto(ns)) {
        if (c->data_kind == CLI_DATA_SYNTH) {
            c->noise = synth_default_noise(c->synth);
            canon_double(v, "noise", c->noise);
        }
    } else if (!tally(&bad, cli_get_double(v, "noise", &c->noise))) {
        if (c->noise < 0) bad += cli_bad(v, "noise", "must be >= 0");
        else canon_double(v, "noise", c->noise);
    }

    if (is_auto(cli_get(v, "data-seed"))) {
        c->data_seed = c->train.seed;
        char buf[32];
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)c->data_seed);
        canon(v, "data-seed", buf);
    } else if (!tally(&bad, cli_get_u64(v, "data-seed", &c->data_seed))) {
        char buf[32];
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)c->data_seed);
        canon(v, "data-seed", buf);
    }
    resolve_family_defaults(v, c);
    if (!tally(&bad, cli_get_bool(v, "standardize", &c->standardize)))
        canon(v, "standardize", c->standardize ? "true" : "false");
    if (!tally(&bad, cli_get_int(v, "val", 0, INT_MAX, &c->val))) canon_int(v, "val", c->val);
    c->n_train = 0;
    if (strcmp(cli_get(v, "n-train"), "all") != 0 &&
        !tally(&bad, cli_get_int(v, "n-train", 1, INT_MAX, &c->n_train)))
        canon_int(v, "n-train", c->n_train);
    return bad;
}

static int resolve_model(cli_values *v, cli_run_config *c)
{
    int bad = 0, k;
    const char *arch = cli_get(v, "arch");
    c->preact = 0;
    if (is_auto(arch)) {
        snprintf(c->arch, sizeof c->arch, "auto");
        c->n_widths = 0;
        c->n_blocks = 3;
    } else if (strncmp(arch, "preact:", 7) == 0 || strncmp(arch, "preact-authors:", 15) == 0) {
        /* stages W1-W2-...[xB]: L = stages + 1; the library checks the rest */
        c->preact = 1;
        c->n_widths = 0;
        c->n_blocks = 2;
        for (const char *q = strchr(arch, ':') + 1; *q && *q != 'x'; q++) c->n_blocks += *q == '-';
        bad += copy_text(v, "arch", c->arch, sizeof c->arch, arch);
    } else if (strncmp(arch, "cnn:", 4) == 0) {
        /* tokens: L = conv (c) and dense (f) tokens + 1; the library checks
         * the rest (it needs the image shape) */
        c->preact = 1;
        c->n_widths = 0;
        c->n_blocks = 1;
        for (const char *q = arch + 4; *q; q++)
            if ((q == arch + 4 || q[-1] == '-') && (*q == 'c' || *q == 'f')) c->n_blocks++;
        bad += copy_text(v, "arch", c->arch, sizeof c->arch, arch);
    } else if (!parse_widths(arch, c->widths, MG_MAX_BLOCKS + 1, &c->n_widths)) {
        bad += cli_bad(v, "arch",
                       "not a list of 2 to %d layer widths (1..1000000) like 784-512-512-10",
                       MG_MAX_BLOCKS + 1);
        c->n_blocks = 0;
    } else {
        c->n_blocks = c->n_widths - 1;
        canon_list(v, "arch", c->widths, c->n_widths, '-');
        bad += copy_text(v, "arch", c->arch, sizeof c->arch, cli_get(v, "arch"));
    }
    if (!tally(&bad, cli_get_enum(v, "act", k_act_names, &k))) c->arch_opts.act = k_act_values[k];
    double x;
    if (!tally(&bad, cli_get_double(v, "slope", &x))) {
        c->arch_opts.slope = (float)x;
        canon_double(v, "slope", x);
    }
    int b;
    if (!tally(&bad, cli_get_bool(v, "batchnorm", &b))) {
        c->arch_opts.batchnorm = b;
        canon(v, "batchnorm", b ? "true" : "false");
    }
    if (!tally(&bad, cli_get_double(v, "dropout", &x))) {
        if (!(x >= 0.0 && x < 1.0)) bad += cli_bad(v, "dropout", "must be in [0, 1)");
        c->arch_opts.dropout = (float)x;
        canon_double(v, "dropout", x);
    }
    if (!tally(&bad, cli_get_double(v, "input-noise", &x))) {
        if (x < 0.0) bad += cli_bad(v, "input-noise", "must be >= 0");
        c->arch_opts.input_noise = (float)x;
        canon_double(v, "input-noise", x);
    }
    if (!tally(&bad, cli_get_enum(v, "init", k_init_names, &k)))
        c->arch_opts.init = k == 0 ? MG_INIT_HE : MG_INIT_XAVIER;
    /* --augment none | cropP,flip */
    c->train.augment_crop_pad = 0;
    c->train.augment_flip = 0;
    const char *aug = cli_get(v, "augment");
    if (strcmp(aug, "none") != 0 && *aug) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s", aug);
        for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
            char *end;
            if (strcmp(tok, "flip") == 0) {
                c->train.augment_flip = 1;
            } else if (strncmp(tok, "crop", 4) == 0 && isdigit((unsigned char)tok[4]) &&
                       (c->train.augment_crop_pad = (int)strtol(tok + 4, &end, 10), !*end) &&
                       c->train.augment_crop_pad <= 64) {
                /* ok */
            } else {
                bad += cli_bad(v, "augment", "'%s' is not cropP (P = 0..64) or flip", tok);
                break;
            }
        }
    }
    return bad;
}

static int resolve_mix(cli_values *v, cli_run_config *c)
{
    int bad = 0, k;
    mg_train_config *t = &c->train;
    if (tally(&bad, cli_get_enum(v, "mix", k_mix_names, &k))) return bad;
    t->mix = k_mix_values[k];
    const char *ml = cli_get(v, "mix-layers");
    int L = c->n_blocks;
    if (is_auto(ml) || is_blank(ml)) {
        t->n_mix_layers = 0;
        if (t->mix == MG_MIX_MANIFOLD)
            for (int i = 0; i < L; i++) t->mix_layers[t->n_mix_layers++] = i;
        else if (t->mix == MG_MIX_INPUT)
            t->mix_layers[t->n_mix_layers++] = 0;
        canon_list(v, "mix-layers", t->mix_layers, t->n_mix_layers, ',');
    } else if (!tally(&bad, cli_get_int_list(v, "mix-layers", 0, 1000000, t->mix_layers,
                                         MG_MAX_BLOCKS + 1, &t->n_mix_layers))) {
        for (int i = 0; i < t->n_mix_layers && L > 0; i++) {
            int layer = t->mix_layers[i];
            if (layer >= L) {
                bad += cli_bad(v, "mix-layers",
                               "layer %d outside 0..%d (0 = input, %d = last hidden state of "
                               "--arch with %d blocks; the logits cannot be mixed)",
                               layer, L - 1, L - 1, L);
                break;
            }
            for (int j = 0; j < i; j++)
                if (t->mix_layers[j] == layer) {
                    bad += cli_bad(v, "mix-layers", "layer %d listed twice", layer);
                    i = t->n_mix_layers;
                    break;
                }
        }
        if (!bad && t->mix == MG_MIX_INPUT && !(t->n_mix_layers == 1 && t->mix_layers[0] == 0))
            bad += cli_bad(v, "mix-layers",
                           "--mix input mixes at layer 0 only (use --mix manifold)");
        if (!bad) canon_list(v, "mix-layers", t->mix_layers, t->n_mix_layers, ',');
    }
    const char *al = cli_get(v, "alpha");
    if (is_auto(al)) {
        if (t->mix == MG_MIX_MANIFOLD) t->alpha = 2.0;
        else if (t->mix == MG_MIX_INPUT) t->alpha = 1.0;
        else t->alpha = 2.0; /* unused */
        if (t->mix != MG_MIX_NONE) canon_double(v, "alpha", t->alpha);
    } else if (!tally(&bad, cli_get_double(v, "alpha", &t->alpha))) {
        if (!(t->alpha > 0.0)) bad += cli_bad(v, "alpha", "must be > 0");
        else canon_double(v, "alpha", t->alpha);
    }
    if (!tally(&bad, cli_get_enum(v, "loss", k_loss_names, &k))) t->loss = k_loss_values[k];
    return bad;
}

static int get_double_canon(cli_values *v, const char *name, double *out)
{
    if (cli_get_double(v, name, out)) return 1;
    canon_double(v, name, *out);
    return 0;
}

static int resolve_optim(cli_values *v, cli_run_config *c)
{
    int bad = 0, k;
    mg_optim_config *o = &c->train.optim;
    if (!tally(&bad, cli_get_enum(v, "optim", k_optim_names, &k))) o->kind = k_optim_values[k];
    if (!tally(&bad, get_double_canon(v, "lr", &o->lr)) && !(o->lr > 0.0))
        bad += cli_bad(v, "lr", "must be > 0");
    if (!tally(&bad, get_double_canon(v, "momentum", &o->momentum)) &&
        !(o->momentum >= 0.0 && o->momentum < 1.0))
        bad += cli_bad(v, "momentum", "must be in [0, 1)");
    if (!tally(&bad, cli_get_bool(v, "nesterov", &o->nesterov)))
        canon(v, "nesterov", o->nesterov ? "true" : "false");
    if (!tally(&bad, get_double_canon(v, "wd", &o->weight_decay)) && o->weight_decay < 0.0)
        bad += cli_bad(v, "wd", "must be >= 0");
    if (!tally(&bad, get_double_canon(v, "beta1", &o->beta1)) && !(o->beta1 >= 0.0 && o->beta1 < 1.0))
        bad += cli_bad(v, "beta1", "must be in [0, 1)");
    if (!tally(&bad, get_double_canon(v, "beta2", &o->beta2)) && !(o->beta2 >= 0.0 && o->beta2 < 1.0))
        bad += cli_bad(v, "beta2", "must be in [0, 1)");
    if (!tally(&bad, get_double_canon(v, "eps", &o->eps)) && !(o->eps > 0.0))
        bad += cli_bad(v, "eps", "must be > 0");
    if (!tally(&bad, cli_get_enum(v, "sched", k_sched_names, &k))) o->sched = k_sched_values[k];
    if (!tally(&bad, cli_get_int_list(v, "milestones", 1, 10000000, o->milestones,
                                  MG_MAX_MILESTONES, &o->n_milestones))) {
        int ok = 1;
        for (int i = 1; i < o->n_milestones; i++)
            if (o->milestones[i] <= o->milestones[i - 1]) ok = 0;
        if (!ok) bad += cli_bad(v, "milestones", "must be increasing");
        else canon_list(v, "milestones", o->milestones, o->n_milestones, ',');
    }
    if (!tally(&bad, get_double_canon(v, "gamma", &o->gamma)) && !(o->gamma > 0.0))
        bad += cli_bad(v, "gamma", "must be > 0");
    if (!tally(&bad, cli_get_int(v, "warmup", 0, 10000000, &o->warmup_epochs)))
        canon_int(v, "warmup", o->warmup_epochs);
    return bad;
}

static int resolve_run(cli_values *v, cli_run_config *c)
{
    int bad = 0;
    mg_train_config *t = &c->train;
    if (!tally(&bad, cli_get_int(v, "epochs", 1, 10000000, &t->epochs)))
        canon_int(v, "epochs", t->epochs);
    t->optim.epochs = t->epochs;
    if (!tally(&bad, cli_get_int(v, "batch", 1, 10000000, &t->batch))) canon_int(v, "batch", t->batch);
    if (!tally(&bad, cli_get_int(v, "threads", 0, 256, &c->threads))) {
        canon_int(v, "threads", c->threads);
        int n = c->threads;
        if (n == 0) {
            long np = sysconf(_SC_NPROCESSORS_ONLN);
            n = np < 1 ? 1 : np > 256 ? 256 : (int)np;
        }
        t->threads = n;
    }
    if (!tally(&bad, cli_get_int(v, "checkpoint-every", 0, 10000000, &c->checkpoint_every)))
        canon_int(v, "checkpoint-every", c->checkpoint_every);
    if (!tally(&bad, cli_get_int(v, "clean-eval", 0, 2147483647, &t->clean_eval)))
        canon_int(v, "clean-eval", t->clean_eval);
    const char *out = cli_get(v, "out");
    if (is_blank(out)) {
        bad += cli_bad(v, "out", "empty run directory");
    } else if (is_auto(out)) {
        /* runs/NAME-seedS: NAME from the --config file, else DATA-MIX. */
        char name[256];
        const char *cfg = cli_get(v, "config");
        if (*cfg) {
            const char *b = strrchr(cfg, '/');
            b = b ? b + 1 : cfg;
            size_t n = strlen(b);
            if (n > 4 && strcmp(b + n - 4, ".ini") == 0) n -= 4;
            snprintf(name, sizeof name, "%.*s", (int)n, b);
        } else {
            const char *dn = c->data_kind == CLI_DATA_SYNTH     ? mg_synth_name(c->synth)
                             : c->data_kind == CLI_DATA_FASHION ? "fashion-mnist"
                             : c->data_kind == CLI_DATA_IDX     ? "idx"
                                                                : "csv";
            snprintf(name, sizeof name, "%s-%s", dn, mg_mix_mode_name(t->mix));
        }
        char buf[1024];
        snprintf(buf, sizeof buf, "runs/%s-seed%llu", name, (unsigned long long)t->seed);
        canon(v, "out", buf);
        bad += copy_text(v, "out", c->out, sizeof c->out, buf);
    } else {
        bad += copy_text(v, "out", c->out, sizeof c->out, out);
    }
    return bad;
}

int cli_run_config_resolve(cli_values *v, cli_run_config *c)
{
    memset(c, 0, sizeof *c);
    c->train = mg_train_config_default();
    c->arch_opts = mg_arch_opts_default();
    int bad = 0;
    uint64_t seed = 0;
    if (!tally(&bad, cli_get_u64(v, "seed", &seed))) {
        char buf[32];
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)seed);
        canon(v, "seed", buf);
    }
    c->train.seed = seed;
    bad += resolve_data(v, c);
    bad += resolve_model(v, c);
    bad += resolve_mix(v, c);
    bad += resolve_optim(v, c);
    bad += resolve_run(v, c);
    if (bad) return bad;
    /* The trainer's own checks (cross-field ones such as --nesterov with
     * --momentum 0); the model-dependent ones run again when it is built. */
    char msg[2048];
    if (mg_train_config_check(&c->train, NULL, msg, sizeof msg) != MG_OK) {
        cli_error_lines(msg);
        for (const char *p = msg; *p; p++) bad += *p == '\n';
        bad++;
    }
    return bad;
}

int cli_run_config_finish_arch(cli_values *v, cli_run_config *c, const mg_dataset *train)
{
    int bad = 0;
    if (c->classes == 0) {
        c->classes = train->classes;
        canon_int(v, "classes", c->classes);
    }
    if (c->preact) {
        if (train->c * train->h * train->w != train->dim || train->h < 2 || train->w < 2)
            return bad + cli_bad(v, "arch", "a convolutional net needs image data; '%s' has "
                                 "%d plain features", c->data, train->dim);
        c->arch_opts.in_c = train->c;
        c->arch_opts.in_h = train->h;
        c->arch_opts.in_w = train->w;
        c->arch_opts.classes = c->classes;
        return bad;
    }
    if (c->n_widths == 0) {
        int H = (c->data_kind == CLI_DATA_FASHION || c->data_kind == CLI_DATA_IDX) ? 512 : 64;
        c->widths[0] = train->dim;
        c->widths[1] = H;
        c->widths[2] = H;
        c->widths[3] = c->classes;
        c->n_widths = 4;
        c->n_blocks = 3;
        canon_list(v, "arch", c->widths, c->n_widths, '-');
        bad += copy_text(v, "arch", c->arch, sizeof c->arch, cli_get(v, "arch"));
    }
    if (c->widths[0] != train->dim)
        bad += cli_bad(v, "arch", "input width %d does not match the %d features of the data '%s'",
                       c->widths[0], train->dim, c->data);
    if (c->widths[c->n_widths - 1] != c->classes)
        bad += cli_bad(v, "arch",
                       "output width %d does not match the %d classes of the data '%s' "
                       "(--classes)",
                       c->widths[c->n_widths - 1], c->classes, c->data);
    return bad;
}

/* ---------------------------------------------------------------- data */

void cli_data_spec(const cli_run_config *c, mg_data_spec *s)
{
    memset(s, 0, sizeof *s);
    s->source = c->data_kind == CLI_DATA_SYNTH ? MG_DATA_SYNTH
                : c->data_kind == CLI_DATA_CSV ? MG_DATA_CSV
                                               : MG_DATA_IDX;
    s->name = c->data;
    s->synth = c->synth;
    s->classes = c->classes;
    s->n_per_class = c->n_per_class;
    s->n_test_per_class = c->n_test_per_class;
    s->noise = c->noise;
    s->synth_dim = c->n_widths > 0 ? c->widths[0] : 2;
    snprintf(s->dir, sizeof s->dir, "%s", c->data_dir);
    snprintf(s->csv_train, sizeof s->csv_train, "%s", c->csv_train);
    snprintf(s->csv_test, sizeof s->csv_test, "%s", c->csv_test);
    s->seed = c->data_seed;
    s->val = c->val;
    s->n_train = c->n_train;
    s->standardize = c->standardize;
}

mg_status cli_data_load(const cli_run_config *c, cli_data *d)
{
    mg_data_spec s;
    cli_data_spec(c, &s);
    return mg_run_data_load(&s, d);
}

/* ---------------------------------------------------------------- config.ini */

int cli_run_config_load(cli_values *v, const char *run)
{
    char path[4096];
    if (cli_path(path, sizeof path, run, "config.ini") != MG_OK) {
        cli_error("%s", mg_errmsg());
        return -1;
    }
    if (!cli_file_exists(path)) {
        cli_error("%s: not a mixgeo run directory (no %s)", run, path);
        return -1;
    }
    return cli_ini_load(v, path, "train", 1);
}

mg_status cli_run_config_save(const cli_values *v, const char *run)
{
    char path[4096], header[10240];
    mg_status st = cli_path(path, sizeof path, run, "config.ini");
    if (st != MG_OK) return st;
    snprintf(header, sizeof header,
             "mixgeo %s (git %s): the resolved configuration of this run, every key.\n"
             "Reproduce it:  mixgeo train --config %s --out NEW_RUN\n"
             "Continue it:   mixgeo train --resume %s [--epochs N]",
             MG_VERSION_STRING, cli_git_revision(), path, run);
    return cli_ini_write(path, v, "train", header);
}

cJSON *cli_values_to_json(const cli_values *v)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    for (int i = 0; i < v->n; i++) {
        if (!(v->opts[i].flags & CLI_SAVE)) continue;
        cJSON_AddStringToObject(o, v->opts[i].name, cli_get(v, v->opts[i].name));
    }
    return o;
}
