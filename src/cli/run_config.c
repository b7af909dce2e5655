/* run_config.c - the run configuration of `mixgeo train`, and of every
 * command that reopens a run (eval, analyze, dump, compare): the typed
 * cli_run_config resolved from the option values of cli_train_opts (the
 * "auto" defaults that depend on the data family, canonical text written
 * back so that config.ini and --resume comparisons see one spelling), the
 * run's data (the library's mg_data_spec), and RUN/config.ini (cli.h).
 * The option machinery itself (tables, argv, INI, typed access) is config.c.
 */
#include "cli.h"
#include "ini.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    cli_set_canonical(v, name, buf);
}

static void canon_double(cli_values *v, const char *name, double x)
{
    char buf[64];
    cli_format_double(buf, sizeof buf, x);
    cli_set_canonical(v, name, buf);
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
    cli_set_canonical(v, name, buf);
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
    if (is_auto(cli_get(v, "act"))) cli_set_canonical(v, "act", synth ? "lrelu" : "relu");
    if (is_auto(cli_get(v, "standardize"))) cli_set_canonical(v, "standardize", synth ? "true" : "false");
    if (is_auto(cli_get(v, "optim"))) cli_set_canonical(v, "optim", synth ? "adam" : "sgd");
    int adam = strcmp(cli_get(v, "optim"), "adam") == 0;
    if (is_auto(cli_get(v, "lr"))) cli_set_canonical(v, "lr", adam ? "0.01" : "0.1");
    if (is_auto(cli_get(v, "wd"))) cli_set_canonical(v, "wd", adam ? "0" : "0.0001");
    if (is_auto(cli_get(v, "nesterov"))) cli_set_canonical(v, "nesterov", adam ? "false" : "true");
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
        cli_set_canonical(v, "data-seed", buf);
    } else if (!tally(&bad, cli_get_u64(v, "data-seed", &c->data_seed))) {
        char buf[32];
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)c->data_seed);
        cli_set_canonical(v, "data-seed", buf);
    }
    resolve_family_defaults(v, c);
    if (!tally(&bad, cli_get_bool(v, "standardize", &c->standardize)))
        cli_set_canonical(v, "standardize", c->standardize ? "true" : "false");
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
        cli_set_canonical(v, "batchnorm", b ? "true" : "false");
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
    if (is_auto(ml) || cli_is_blank(ml)) {
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
        cli_set_canonical(v, "nesterov", o->nesterov ? "true" : "false");
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
    static const char *const conv_names[] = {"auto", "im2col", NULL};
    int conv = 0;
    if (!tally(&bad, cli_get_enum(v, "conv", conv_names, &conv)))
        c->conv = conv ? MG_CONV_BACKEND_IM2COL : MG_CONV_BACKEND_AUTO;
    if (!tally(&bad, cli_get_int(v, "checkpoint-every", 0, 10000000, &c->checkpoint_every)))
        canon_int(v, "checkpoint-every", c->checkpoint_every);
    if (!tally(&bad, cli_get_int(v, "clean-eval", 0, 2147483647, &t->clean_eval)))
        canon_int(v, "clean-eval", t->clean_eval);
    const char *out = cli_get(v, "out");
    if (cli_is_blank(out)) {
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
        cli_set_canonical(v, "out", buf);
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
        cli_set_canonical(v, "seed", buf);
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
