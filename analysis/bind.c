/*
 * bind.c - flat entry points for language bindings (see bind.h).
 */
#include "bind.h"

#include <string.h>

#include "compare.h"
#include "metrics.h"
#include "theory.h"

const char *mg_version(void)
{
    return MG_VERSION_STRING;
}

size_t mg_bind_struct_size(const char *name)
{
    static const struct {
        const char *name;
        size_t size;
    } sizes[] = {
        {"mg_spectrum_summary", sizeof(mg_spectrum_summary)},
        {"mg_affine_fit_info", sizeof(mg_affine_fit_info)},
        {"mg_calibration", sizeof(mg_calibration)},
        {"mg_reliability_bin", sizeof(mg_reliability_bin)},
        {"mg_collapse", sizeof(mg_collapse)},
        {"mg_spectra_config", sizeof(mg_spectra_config)},
        {"mg_cka_result", sizeof(mg_cka_result)},
        {"mg_twonn_result", sizeof(mg_twonn_result)},
    };
    if (!name) return 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (strcmp(name, sizes[i].name) == 0) return sizes[i].size;
    return 0;
}

void mg_spectra_result_info(const mg_spectra_result *r, int *classes, int *p, int *mode, int64_t *n)
{
    MG_ASSERT(r);
    if (classes) *classes = r->classes;
    if (p) *p = r->p;
    if (mode) *mode = (int)r->mode;
    if (n) *n = r->n;
}

int64_t mg_spectra_result_class_n(const mg_spectra_result *r, int c, int64_t *skipped)
{
    MG_ASSERT(r);
    if (c < 0 || c >= r->classes) return -1;
    if (skipped) *skipped = r->cls[c].n_skipped;
    return r->cls[c].n;
}

int mg_spectra_result_values(const mg_spectra_result *r, int part, int c, double *out)
{
    MG_ASSERT(r);
    const double *src = NULL;
    int count = 0;
    switch (part) {
    case MG_SPECTRA_PART_CENTRED:
    case MG_SPECTRA_PART_UNCENTRED:
    case MG_SPECTRA_PART_CLASS_MEAN: {
        if (c < 0 || c >= r->classes) return -1;
        const mg_class_spectrum *cs = &r->cls[c];
        if (part == MG_SPECTRA_PART_CLASS_MEAN) {
            src = cs->mean;
            count = r->p;
        } else {
            src = part == MG_SPECTRA_PART_CENTRED ? cs->s_centred : cs->s_uncentred;
            count = cs->ns;
        }
        break;
    }
    case MG_SPECTRA_PART_WITHIN:
        src = r->s_within;
        count = r->ns_within;
        break;
    case MG_SPECTRA_PART_TOTAL:
        src = r->s_total;
        count = r->ns_total;
        break;
    case MG_SPECTRA_PART_MEAN:
        src = r->mean;
        count = r->p;
        break;
    default: return -1;
    }
    if (out && count > 0) memcpy(out, src, sizeof(double) * (size_t)count);
    return count;
}
