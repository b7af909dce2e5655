/* fuzz_csv.c - mg_load_csv on the fuzzer's bytes as a CSV file.
 *
 * Checked on success: at least one row of at least one feature, every
 * feature finite, every label below the class count, the class count
 * max label + 1 <= MG_MAX_AUTO_CLASSES; loading again with that class count
 * gives the same bits, and with one class fewer fails (unless 1) naming the
 * file.  On failure: *out is NULL and the one-line message names the file. */
#include "fuzz.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mg_log_set(fuzz_log_drop, NULL);
    const char *path = fuzz_file(0, data, size);
    mg_dataset *d = (mg_dataset *)&d;
    mg_status st = mg_load_csv(path, 0, &d);
    if (st != MG_OK) {
        FUZZ_CHECK(d == NULL);
        FUZZ_CHECK(strstr(mg_errmsg(), path) != NULL);
        FUZZ_CHECK(!strchr(mg_errmsg(), '\n'));
        return 0;
    }
    FUZZ_CHECK(d && d->n >= 1 && d->dim >= 1 && d->c == 1 && d->h == 1 && d->w == d->dim);
    FUZZ_CHECK(d->classes >= 1 && d->classes <= MG_MAX_AUTO_CLASSES);
    /* Every line holds at least the label and a comma per feature. */
    FUZZ_CHECK((size_t)d->n * (size_t)(2 * d->dim + 1) <= size);
    int maxlab = 0;
    for (int i = 0; i < d->n; i++) {
        FUZZ_CHECK(d->y[i] >= 0 && d->y[i] < d->classes);
        if (d->y[i] > maxlab) maxlab = d->y[i];
    }
    FUZZ_CHECK(maxlab + 1 == d->classes);
    size_t total = (size_t)d->n * (size_t)d->dim;
    for (size_t i = 0; i < total; i++) FUZZ_CHECK(isfinite(d->x[i]));

    mg_dataset *e = NULL;
    FUZZ_CHECK(mg_load_csv(path, d->classes, &e) == MG_OK);
    FUZZ_CHECK(e->n == d->n && e->dim == d->dim && e->classes == d->classes);
    FUZZ_CHECK(memcmp(e->x, d->x, total * sizeof *d->x) == 0);
    FUZZ_CHECK(memcmp(e->y, d->y, (size_t)d->n * sizeof *d->y) == 0);
    mg_dataset_free(e);
    if (d->classes > 1) {
        e = (mg_dataset *)&e;
        FUZZ_CHECK(mg_load_csv(path, d->classes - 1, &e) == MG_ERR_FORMAT);
        FUZZ_CHECK(e == NULL && strstr(mg_errmsg(), "out of range"));
    }
    mg_dataset_free(d);
    return 0;
}
