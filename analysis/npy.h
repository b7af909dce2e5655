/*
 * npy.h - NumPy .npy files (format version 1.0), write and a small reader
 * (part of libmganalysis).
 *
 * Written files are what numpy.save writes for a C-contiguous little-endian
 * array: the magic "\x93NUMPY", version 1.0, a little-endian uint16 header
 * length, then the header
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }
 * followed by numpy's spare space for growing the first axis
 * (21 - digits(shape[0]) blanks, none for 0-d arrays), blanks up to a
 * multiple of 64 bytes and a final '\n' (numpy >= 1.24 writes exactly this;
 * older versions only lack the spare blanks and read these files fine), then
 * the data in C order, little-endian.
 *
 * The writers take a FILE* so that they can run inside mg_write_atomic; the
 * mg_npy_save_* helpers do exactly that for a path.
 */
#ifndef MG_NPY_H
#define MG_NPY_H

#include "mixgeo.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MG_NPY_MAX_DIMS 8

typedef enum {
    MG_NPY_F32, /* '<f4' */
    MG_NPY_F64, /* '<f8' */
    MG_NPY_I32  /* '<i4' */
} mg_npy_type;

/* The header alone (for writers that stream the data afterwards).
 * shape: ndim (0..MG_NPY_MAX_DIMS) non-negative extents. */
mg_status mg_npy_write_header(FILE *f, mg_npy_type type, int ndim, const int64_t *shape);

/* Header and data (prod(shape) elements, C order). */
mg_status mg_npy_write(FILE *f, mg_npy_type type, const void *data, int ndim,
                       const int64_t *shape);
mg_status mg_npy_write_f32(FILE *f, const float *data, int ndim, const int64_t *shape);
mg_status mg_npy_write_f64(FILE *f, const double *data, int ndim, const int64_t *shape);
mg_status mg_npy_write_i32(FILE *f, const int32_t *data, int ndim, const int64_t *shape);

/* Write path atomically (mg_write_atomic): a temp file renamed over path. */
mg_status mg_npy_save(const char *path, mg_npy_type type, const void *data, int ndim,
                      const int64_t *shape);

/* A loaded array; data (owned, count elements of the type) is freed with
 * mg_npy_array_free. */
typedef struct {
    mg_npy_type type;
    int ndim;
    int64_t shape[MG_NPY_MAX_DIMS];
    size_t count;
    void *data;
} mg_npy_array;

/* Read a version 1.x, 2.x or 3.x file with descr '<f4', '<f8' or '<i4' in
 * C order (big-endian and other dtypes are rejected).  Errors: MG_ERR_FORMAT
 * (not an .npy file, unsupported dtype or Fortran order, truncated),
 * MG_ERR_IO (mg_npy_load: cannot open), MG_ERR_NOMEM. */
mg_status mg_npy_read(FILE *f, mg_npy_array *out);
mg_status mg_npy_load(const char *path, mg_npy_array *out);
void mg_npy_array_free(mg_npy_array *a);

#ifdef __cplusplus
}
#endif
#endif /* MG_NPY_H */
