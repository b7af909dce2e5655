/*
 * bind.h - flat entry points for language bindings (part of libmganalysis).
 *
 * The rest of the API passes structs whose layout a binding would have to
 * mirror.  For the output structs that are plain numbers (mg_spectrum_summary,
 * mg_affine_fit_info, mg_calibration, mg_reliability_bin, mg_collapse,
 * mg_cka_result, mg_twonn_result) a
 * binding mirrors them and checks its mirror against mg_bind_struct_size();
 * the spectra result, which holds pointers into one allocation, is read
 * through the accessors below instead, so that its layout may change freely.
 * The Python module python/mixgeo/ (ctypes + numpy) is the user.
 *
 * Conventions: nothing here allocates or fails at run time; a bad index or
 * part returns -1 and writes nothing; outputs are caller-allocated and
 * OVERWRITTEN.  The result stays owned by the caller (mg_spectra_result_free).
 */
#ifndef MG_BIND_H
#define MG_BIND_H

#include "mixgeo.h"
#include "spectra.h"

#ifdef __cplusplus
extern "C" {
#endif

/* MG_VERSION_STRING of the library as built (a static string). */
const char *mg_version(void);

/* sizeof of a public struct given its name ("mg_spectrum_summary",
 * "mg_affine_fit_info", "mg_calibration", "mg_reliability_bin",
 * "mg_collapse", "mg_spectra_config", "mg_cka_result", "mg_twonn_result");
 * 0 for any other name. */
size_t mg_bind_struct_size(const char *name);

/* ---------------------------------------------------------------- spectra result */

/* Shape of a result: any pointer may be NULL.  mode receives the
 * mg_spectra_mode as an int (never MG_SPECTRA_AUTO), n the total rows used. */
void mg_spectra_result_info(const mg_spectra_result *r, int *classes, int *p, int *mode,
                            int64_t *n);

/* Rows of class c used (n_c), and in rows mode the rows beyond the per-class
 * cap that were ignored (*skipped, may be NULL).  -1 when c is out of range. */
int64_t mg_spectra_result_class_n(const mg_spectra_result *r, int c, int64_t *skipped);

typedef enum {
    MG_SPECTRA_PART_CENTRED = 0, /* class c: ns values of X_c - 1 mu_c^T        */
    MG_SPECTRA_PART_UNCENTRED,   /* class c: ns values of X_c                   */
    MG_SPECTRA_PART_CLASS_MEAN,  /* class c: p entries of mu_c                  */
    MG_SPECTRA_PART_WITHIN,      /* pooled within-class values (c ignored)      */
    MG_SPECTRA_PART_TOTAL,       /* pooled total values (c ignored)             */
    MG_SPECTRA_PART_MEAN         /* p entries of the overall mean (c ignored)   */
} mg_spectra_part;

/* Copy one part of the result into out (NULL: only count) and return how
 * many values it has (singular values descending, ns = min(n, p) of them;
 * 0 for an empty class); -1 for an unknown part or a class out of range. */
int mg_spectra_result_values(const mg_spectra_result *r, int part, int c, double *out);

#ifdef __cplusplus
}
#endif
#endif /* MG_BIND_H */
