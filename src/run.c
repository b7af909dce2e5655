/* run.c - a run's data rebuilt exactly, and a trained run opened for
 * evaluation and analysis (mixgeo.h: "runs"). */
#include "mixgeo.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

void mg_run_data_free(mg_run_data *d)
{
    mg_dataset_free(d->train);
    mg_dataset_free(d->val);
    mg_dataset_free(d->test);
    memset(d, 0, sizeof *d);
}

static mg_status load_sources(const mg_data_spec *s, mg_dataset **full, mg_dataset **test)
{
    mg_status st = MG_OK;
    switch (s->source) {
    case MG_DATA_SYNTH: {
        mg_synth_config sc;
        memset(&sc, 0, sizeof sc);
        sc.kind = s->synth;
        sc.classes = s->classes;
        sc.per_class = s->n_per_class;
        sc.noise = s->noise;
        sc.dim = s->synth_dim > 0 ? s->synth_dim : 2;
        mg_rng r;
        mg_rng_seed3(&r, s->seed, MG_STREAM_DATA, 0);
        st = mg_synth_generate(&sc, &r, full);
        if (st == MG_OK && s->n_test_per_class > 0) {
            sc.per_class = s->n_test_per_class;
            mg_rng_seed3(&r, s->seed, MG_STREAM_DATA, 1);
            st = mg_synth_generate(&sc, &r, test);
        }
        break;
    }
    case MG_DATA_IDX:
        st = mg_load_idx_dir(s->dir, "train", s->classes, full);
        if (st == MG_OK) st = mg_load_idx_dir(s->dir, "test", (*full)->classes, test);
        break;
    case MG_DATA_CSV:
        st = mg_load_csv(s->csv_train, s->classes, full);
        if (st == MG_OK && s->csv_test[0]) st = mg_load_csv(s->csv_test, (*full)->classes, test);
        break;
    }
    return st;
}

mg_status mg_run_data_load(const mg_data_spec *s, mg_run_data *d)
{
    memset(d, 0, sizeof *d);
    mg_dataset *full = NULL, *test = NULL;
    mg_status st = load_sources(s, &full, &test);
    if (st != MG_OK) goto fail;
    if (s->val > 0) {
        if (s->val >= full->n) {
            st = mg_fail(MG_ERR_CONFIG,
                         "--val %d: must be less than the %d training examples of '%s'", s->val,
                         full->n, s->name);
            goto fail;
        }
        mg_rng r;
        mg_rng_seed3(&r, s->seed, MG_STREAM_DATA, 2);
        st = mg_dataset_split(full, s->val, &r, &d->train, &d->val);
        if (st != MG_OK) goto fail;
        mg_dataset_free(full);
        full = NULL;
    } else {
        d->train = full;
        full = NULL;
    }
    if (s->n_train > 0 && s->n_train < d->train->n) {
        /* a random subset, in dataset order, from a stream of its own */
        mg_rng r;
        mg_rng_seed3(&r, s->seed, MG_STREAM_DATA, 3);
        mg_dataset *keep = NULL, *drop = NULL;
        st = mg_dataset_split(d->train, d->train->n - s->n_train, &r, &keep, &drop);
        if (st != MG_OK) goto fail;
        mg_dataset_free(drop);
        mg_dataset_free(d->train);
        d->train = keep;
    }
    d->test = test;
    test = NULL;
    if (s->standardize) {
        mg_standardizer z;
        st = mg_standardizer_fit(d->train, &z);
        if (st != MG_OK) goto fail;
        mg_standardizer_apply(&z, d->train);
        if (d->val) mg_standardizer_apply(&z, d->val);
        if (d->test) mg_standardizer_apply(&z, d->test);
        mg_standardizer_free(&z);
    }
    return MG_OK;
fail:
    mg_dataset_free(full);
    mg_dataset_free(test);
    mg_run_data_free(d);
    return st;
}

const char *mg_split_name(int split)
{
    static const char *const names[3] = {"train", "val", "test"};
    return split >= 0 && split < 3 ? names[split] : "?";
}

void mg_run_close(mg_run *r)
{
    mg_model_free(r->model);
    mg_run_data_free(&r->data);
    memset(r, 0, sizeof *r);
}

mg_status mg_run_open(const char *dir, const mg_data_spec *spec, int split, mg_run *r)
{
    memset(r, 0, sizeof *r);
    MG_ASSERT(dir && spec && split >= 0 && split < 3);
    r->split = split;
    int n = snprintf(r->checkpoint, sizeof r->checkpoint, "%s/model.ckpt", dir);
    if (n < 0 || (size_t)n >= sizeof r->checkpoint)
        return mg_fail(MG_ERR_CONFIG, "%s: run directory name too long", dir);
    struct stat sb;
    if (stat(r->checkpoint, &sb) != 0)
        return mg_fail(MG_ERR_CONFIG, "%s: no model checkpoint %s (has the run been trained?)",
                       dir, r->checkpoint);
    mg_status st = mg_checkpoint_load_model(r->checkpoint, &r->model);
    if (st == MG_OK) st = mg_run_data_load(spec, &r->data);
    if (st != MG_OK) {
        mg_run_close(r);
        return st;
    }
    const mg_dataset *set = split == 0 ? r->data.train : split == 1 ? r->data.val : r->data.test;
    const char *nm = mg_split_name(split);
    if (!set) {
        st = mg_fail(MG_ERR_CONFIG, "--split %s: the run has no %s set%s", nm,
                     split == 1 ? "validation" : "test",
                     split == 1 ? " (it was trained with --val 0)" : "");
    } else if (set->dim != mg_model_dim(r->model, 0)) {
        st = mg_fail(MG_ERR_CONFIG, "%s: the %s data has %d features, the model %s expects %d",
                     dir, nm, set->dim, mg_model_arch(r->model), mg_model_dim(r->model, 0));
    } else {
        int C = mg_model_classes(r->model);
        for (int i = 0; i < set->n && st == MG_OK; i++)
            if (set->y[i] < 0 || set->y[i] >= C)
                st = mg_fail(MG_ERR_CONFIG,
                             "%s: label %d of %s example %d is outside the model's classes 0..%d",
                             dir, (int)set->y[i], nm, i, C - 1);
    }
    if (st != MG_OK) {
        mg_run_close(r);
        return st;
    }
    r->set = set;
    return MG_OK;
}
