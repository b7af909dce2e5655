/*
 * npy.h - NumPy .npy files: a writer (format version 1.0, as numpy.save) and
 * a streaming, validating reader (part of libmganalysis).
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
 *
 * The reader (mg_npy_open) checks the whole file before anything of data
 * size is allocated: magic, version 1.x/2.x/3.x, a header that is a Python
 * dict literal with exactly the keys descr, fortran_order and shape, a
 * supported little-endian dtype, and a file size of exactly header +
 * prod(shape) * itemsize bytes.  It then reads blocks of rows with pread()
 * through a bounded buffer (4 MiB unless set), so that a file of any size is
 * analysed in the memory the caller gives it.  Every error message starts
 * with the path: "PATH: problem".  A reader is not safe to use from two
 * threads at once (it owns one buffer); open one reader per thread.
 */
#ifndef MG_NPY_H
#define MG_NPY_H

#include "mixgeo.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MG_NPY_MAX_DIMS 8

/* Element types.  The first three keep their values (0, 1, 2); new ones are
 * appended.  The reader also accepts '<u1' / '<i1' for the one-byte types. */
typedef enum {
    MG_NPY_F32, /* '<f4' float32 */
    MG_NPY_F64, /* '<f8' float64 */
    MG_NPY_I32, /* '<i4' int32   */
    MG_NPY_I64, /* '<i8' int64   */
    MG_NPY_U8,  /* '|u1' uint8   */
    MG_NPY_I8,  /* '|i1' int8    */
    MG_NPY_I16, /* '<i2' int16   */
    MG_NPY_U16, /* '<u2' uint16  */
    MG_NPY_U32  /* '<u4' uint32  */
} mg_npy_type;

/* Bytes per element (1, 2, 4 or 8) and numpy's name ("float32", "uint8", ...);
 * the name is a static string. */
size_t mg_npy_type_size(mg_npy_type type);
const char *mg_npy_type_name(mg_npy_type type);

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

/* A loaded array; data (owned, count elements of the type, in C order) is
 * freed with mg_npy_array_free. */
typedef struct {
    mg_npy_type type;
    int ndim;
    int64_t shape[MG_NPY_MAX_DIMS];
    size_t count;
    void *data;
} mg_npy_array;

/* Read one array from the current position of f: a version 1.x, 2.x or 3.x
 * header with any dtype of mg_npy_type, C or Fortran order (Fortran data is
 * reordered to C order), then its data; the stream is left just after the data
 * (so several arrays saved one after another into one file can be read in
 * turn).  *out is overwritten (zeroed on failure).  When f is a regular file
 * its remaining size is checked against the header before the data buffer is
 * allocated; from a pipe the buffer grows with the data actually read.
 * Errors: MG_ERR_FORMAT ("npy: ..."; not an .npy file, bad header,
 * unsupported dtype, truncated), MG_ERR_NOMEM. */
mg_status mg_npy_read(FILE *f, mg_npy_array *out);
/* The whole file at path, validated as mg_npy_open does (so trailing bytes
 * after the data are an error too).  *out is overwritten (zeroed on failure).
 * Errors as mg_npy_open, plus MG_ERR_IO for read failures and MG_ERR_NOMEM. */
mg_status mg_npy_load(const char *path, mg_npy_array *out);
/* Frees a->data and zeroes data and count; a may be NULL; calling it twice is
 * harmless. */
void mg_npy_array_free(mg_npy_array *a);

/* ---------------------------------------------------------------- streaming reader */

/* An open .npy file (opaque; owns a file descriptor, a copy of the path and
 * the read buffer). */
typedef struct mg_npy_reader mg_npy_reader;

/* Open path and check it completely before anything of data size is
 * allocated: the magic ("not a .npy file"), the version (1.x, 2.x, 3.x), the
 * header length (within the file, at most 1 MiB), the header (a Python dict
 * literal with exactly the keys descr, fortran_order and shape in any order,
 * single or double quotes, a shape tuple of at most MG_NPY_MAX_DIMS
 * non-negative extents such as (), (3,) or (60000, 1, 28, 28), ending with
 * '\n'), the dtype (one of mg_npy_type, little-endian), and the file size:
 * exactly header + prod(shape) * itemsize bytes (products overflow-checked;
 * a shorter file is "truncated: ...", a longer one "N bytes after the data").
 * On success *out is a new reader owned by the caller (mg_npy_close); on
 * failure *out is NULL and nothing is left open.  Errors: MG_ERR_IO (cannot
 * open or read, not a regular file), MG_ERR_FORMAT (bad contents),
 * MG_ERR_NOMEM; each message starts with the path. */
mg_status mg_npy_open(const char *path, mg_npy_reader **out);
/* Close the file and free the reader; r may be NULL. */
void mg_npy_close(mg_npy_reader *r);

/* What the header says.  The strings and the shape array belong to the reader
 * and live until mg_npy_close. */
mg_npy_type mg_npy_reader_type(const mg_npy_reader *r);
const char *mg_npy_reader_descr(const mg_npy_reader *r); /* as in the file, e.g. "<f4" */
int mg_npy_reader_ndim(const mg_npy_reader *r);
const int64_t *mg_npy_reader_shape(const mg_npy_reader *r); /* ndim extents */
int mg_npy_reader_fortran(const mg_npy_reader *r);          /* fortran_order: 1 True */
const char *mg_npy_reader_path(const mg_npy_reader *r);
/* Examples and values per example: rows = shape[0] (1 for a 0-d array),
 * row_len = prod(shape[1:]) (1 for 0-d and 1-d arrays). */
int64_t mg_npy_reader_rows(const mg_npy_reader *r);
int64_t mg_npy_reader_row_len(const mg_npy_reader *r);

/* The most bytes the reader buffers at once (default 4 MiB; at least one
 * element is always used).  Takes effect at the next read; the buffer is
 * allocated at the first read that needs it and never exceeds the data size. */
void mg_npy_reader_set_buffer_size(mg_npy_reader *r, size_t bytes);

/* Rows idx[0..m-1] (strictly increasing, each in [0, rows)) or, with idx NULL,
 * the first m rows, each flattened in C order of the trailing axes (what
 * numpy's a.reshape(n, -1) gives, whatever the memory order of the file),
 * converted to float32 (float64 values are rounded to nearest) or to double.
 * dst (m x row_len) is overwritten; nothing else is allocated but the read
 * buffer.  Consecutive indices are read together.  NaN and Inf are passed
 * through unchecked.  Errors: MG_ERR_FORMAT when the dtype is not float32 or
 * float64 ("PATH: rows must be floating point, got int32 ('<i4')"),
 * MG_ERR_CONFIG for a bad index list (out of range, not increasing; dst is then
 * untouched), MG_ERR_IO (read failure, or the file shrank after opening),
 * MG_ERR_NOMEM (the read buffer); on a read error dst is partly written. */
mg_status mg_npy_read_rows_f32(mg_npy_reader *r, const int64_t *idx, int64_t m, float *dst);
mg_status mg_npy_read_rows_f64(mg_npy_reader *r, const int64_t *idx, int64_t m, double *dst);
/* The same for the contiguous rows i0 .. i0+m-1 (MG_ERR_CONFIG unless
 * 0 <= i0 and i0 + m <= rows). */
mg_status mg_npy_read_block_f32(mg_npy_reader *r, int64_t i0, int64_t m, float *dst);
mg_status mg_npy_read_block_f64(mg_npy_reader *r, int64_t i0, int64_t m, double *dst);

/* The whole array as int32 labels into dst (rows entries, overwritten): the
 * array must be 1-d, or 2-d with one column, of an integer dtype (i1 i2 i4 i8
 * u1 u2 u4).  Errors (MG_ERR_FORMAT): a float array ("PATH: labels must be
 * integers, got float32 ('<f4')"), another shape, a value < 0 or > INT32_MAX
 * ("PATH: label -1 at index 17: labels must be >= 0"; dst is then partly
 * written); MG_ERR_IO, MG_ERR_NOMEM as above. */
mg_status mg_npy_read_labels(mg_npy_reader *r, int32_t *dst);

#ifdef __cplusplus
}
#endif
#endif /* MG_NPY_H */
