/* fuzz_npy.c - the .npy reader (analysis/npy.c) on the fuzzer's bytes as a
 * .npy file, through every entry point:
 *   - mg_npy_open, the accessors, mg_npy_read_block_f32/_f64 and
 *     mg_npy_read_rows_f32/_f64 (every other row, and every row by index)
 *     with a small read buffer and with the default one, mg_npy_read_labels;
 *   - mg_npy_load;
 *   - mg_npy_read from a stream without a size (fmemopen; arrays read one
 *     after another until one fails) and from the regular file (fopen);
 *   - mg_npy_write of what was loaded, read back.
 * Their answers must agree: the same shape and type everywhere, and the same
 * bits from every path that reads the same array (so a segment bug of the
 * streaming reader, e.g. in its Fortran-order reordering, or of a buffer
 * size, shows as a mismatch).  Every allocation here is bounded by the input
 * size: the readers check the file size before anything of data size. */
#include "fuzz.h"

#include "npy.h"

/* The rows of r converted to float (f64 = 0) or double (f64 = 1) through
 * every row-reading function, compared with each other; returns the block
 * read (malloc'd, rows x row_len), or NULL when the type is not floating
 * point. */
static void *read_all_rows(mg_npy_reader *r, int f64, size_t small_buffer)
{
    int64_t rows = mg_npy_reader_rows(r), len = mg_npy_reader_row_len(r);
    mg_npy_type t = mg_npy_reader_type(r);
    int is_float = t == MG_NPY_F32 || t == MG_NPY_F64;
    size_t es = f64 ? sizeof(double) : sizeof(float);
    /* rows * len elements are in the file unless one of them is 0 */
    size_t total = rows && len ? (size_t)rows * (size_t)len : 0;
    unsigned char *a = malloc(total * es + 1), *b = malloc(total * es + 1);
    FUZZ_CHECK(a && b);
    mg_npy_reader_set_buffer_size(r, small_buffer);
    mg_status st = f64 ? mg_npy_read_block_f64(r, 0, rows, (double *)a)
                       : mg_npy_read_block_f32(r, 0, rows, (float *)a);
    if (!is_float) {
        FUZZ_CHECK(st == MG_ERR_FORMAT);
        free(a);
        free(b);
        return NULL;
    }
    FUZZ_CHECK(st == MG_OK);
    /* the default buffer: the same bits */
    mg_npy_reader_set_buffer_size(r, (size_t)4 << 20);
    st = f64 ? mg_npy_read_block_f64(r, 0, rows, (double *)b)
             : mg_npy_read_block_f32(r, 0, rows, (float *)b);
    FUZZ_CHECK(st == MG_OK && memcmp(a, b, total * es) == 0);
    /* rows by index: every other row, then (bounded) every row */
    int64_t m = rows < 4096 ? rows : 4096;
    int64_t *idx = malloc(((size_t)m + 1) * sizeof *idx);
    FUZZ_CHECK(idx != NULL);
    mg_npy_reader_set_buffer_size(r, small_buffer + 3);
    int64_t k = 0;
    for (int64_t i = 0; i < m; i += 2) idx[k++] = i;
    if (len && k) {
        st = f64 ? mg_npy_read_rows_f64(r, idx, k, (double *)b)
                 : mg_npy_read_rows_f32(r, idx, k, (float *)b);
        FUZZ_CHECK(st == MG_OK);
        for (int64_t j = 0; j < k; j++)
            FUZZ_CHECK(memcmp(b + (size_t)(j * len) * es, a + (size_t)(idx[j] * len) * es,
                              (size_t)len * es) == 0);
    }
    for (int64_t i = 0; i < m; i++) idx[i] = i;
    if (len && m) {
        st = f64 ? mg_npy_read_rows_f64(r, idx, m, (double *)b)
                 : mg_npy_read_rows_f32(r, idx, m, (float *)b);
        FUZZ_CHECK(st == MG_OK && memcmp(a, b, (size_t)(m * len) * es) == 0);
    }
    /* a bad index list and a bad block: errors, nothing read */
    if (rows > 0 && rows < INT64_MAX) {
        idx[0] = rows;
        FUZZ_CHECK((f64 ? mg_npy_read_rows_f64(r, idx, 1, (double *)b)
                        : mg_npy_read_rows_f32(r, idx, 1, (float *)b)) == MG_ERR_CONFIG);
        FUZZ_CHECK((f64 ? mg_npy_read_block_f64(r, rows, 1, (double *)b)
                        : mg_npy_read_block_f32(r, rows, 1, (float *)b)) == MG_ERR_CONFIG);
    }
    free(idx);
    free(b);
    return a;
}

/* Element i of an array of type t as a double (exact for every type but
 * int64 beyond 2^53, which is fine for a comparison of equal bits). */
static int same_elements(mg_npy_type t, const void *raw, const void *conv, int conv_f64, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double want;
        if (t == MG_NPY_F32) {
            float v;
            memcpy(&v, (const char *)raw + 4 * i, 4);
            want = v;
        } else {
            memcpy(&want, (const char *)raw + 8 * i, 8);
        }
        double got;
        if (conv_f64) {
            memcpy(&got, (const char *)conv + 8 * i, 8);
        } else {
            float v;
            memcpy(&v, (const char *)conv + 4 * i, 4);
            got = v;
            want = (float)want;
        }
        if (memcmp(&got, &want, sizeof got) != 0 && !(got != got && want != want)) return 0;
    }
    return 1;
}

/* The writer: what was loaded, written (C order, version 1.0) and read back,
 * is the same array; the header is padded to a multiple of 64 bytes. */
static void write_read_back(const mg_npy_array *load)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *w = open_memstream(&buf, &len);
    FUZZ_CHECK(w != NULL);
    FUZZ_CHECK(mg_npy_write(w, load->type, load->data, load->ndim, load->shape) == MG_OK);
    FUZZ_CHECK(fclose(w) == 0);
    FUZZ_CHECK(len >= 10 && memcmp(buf, "\x93NUMPY\x01\x00", 8) == 0);
    size_t hlen = (size_t)(unsigned char)buf[8] | (size_t)(unsigned char)buf[9] << 8;
    FUZZ_CHECK((10 + hlen) % 64 == 0);
    FUZZ_CHECK(len == 10 + hlen + load->count * mg_npy_type_size(load->type));
    FILE *r = fmemopen(buf, len, "rb");
    FUZZ_CHECK(r != NULL);
    mg_npy_array b;
    FUZZ_CHECK(mg_npy_read(r, &b) == MG_OK);
    FUZZ_CHECK(b.type == load->type && b.ndim == load->ndim && b.count == load->count);
    FUZZ_CHECK(memcmp(b.shape, load->shape, sizeof b.shape) == 0);
    FUZZ_CHECK(memcmp(b.data, load->data, b.count * mg_npy_type_size(b.type)) == 0);
    mg_npy_array_free(&b);
    fclose(r);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mg_log_set(fuzz_log_drop, NULL);
    const char *path = fuzz_file(0, data, size);
    /* a small read buffer from the input, so that reads cross its edges */
    size_t small = 1 + (size * 2654435761u >> 7) % 61;

    mg_npy_reader *r = NULL;
    mg_status so = mg_npy_open(path, &r);
    mg_npy_array load;
    mg_status sl = mg_npy_load(path, &load);
    FUZZ_CHECK((so == MG_OK) == (sl == MG_OK));
    if (so != MG_OK) {
        FUZZ_CHECK(r == NULL && load.data == NULL && load.count == 0);
        FUZZ_CHECK(strstr(mg_errmsg(), path) != NULL);
    } else {
        int nd = mg_npy_reader_ndim(r);
        const int64_t *shape = mg_npy_reader_shape(r);
        mg_npy_type t = mg_npy_reader_type(r);
        size_t es = mg_npy_type_size(t);
        FUZZ_CHECK(nd >= 0 && nd <= MG_NPY_MAX_DIMS && nd == load.ndim && t == load.type);
        FUZZ_CHECK(strcmp(mg_npy_reader_path(r), path) == 0);
        FUZZ_CHECK(mg_npy_reader_descr(r)[0] != '\0');
        int64_t count = 1;
        for (int i = 0; i < nd; i++) {
            FUZZ_CHECK(shape[i] >= 0 && shape[i] == load.shape[i]);
            count = shape[i] == 0 || count == 0 ? 0 : count * shape[i];
        }
        FUZZ_CHECK((size_t)count == load.count && load.count * es <= size);
        FUZZ_CHECK(mg_npy_reader_rows(r) == (nd ? shape[0] : 1));
        for (int f64 = 0; f64 <= 1; f64++) {
            void *rows = read_all_rows(r, f64, small * es);
            if (rows) FUZZ_CHECK(same_elements(t, load.data, rows, f64, load.count));
            free(rows);
        }
        if (t != MG_NPY_F32 && t != MG_NPY_F64 && (nd == 1 || (nd == 2 && shape[1] == 1))) {
            int32_t *lab = malloc((size_t)mg_npy_reader_rows(r) * sizeof *lab + 1);
            FUZZ_CHECK(lab != NULL);
            mg_npy_reader_set_buffer_size(r, small * es);
            if (mg_npy_read_labels(r, lab) == MG_OK) {
                for (size_t i = 0; i < load.count; i++) {
                    int64_t v;
                    switch (t) {
                    case MG_NPY_U8: v = ((const uint8_t *)load.data)[i]; break;
                    case MG_NPY_I8: v = ((const int8_t *)load.data)[i]; break;
                    case MG_NPY_I16: v = ((const int16_t *)load.data)[i]; break;
                    case MG_NPY_U16: v = ((const uint16_t *)load.data)[i]; break;
                    case MG_NPY_I32: v = ((const int32_t *)load.data)[i]; break;
                    case MG_NPY_U32: v = ((const uint32_t *)load.data)[i]; break;
                    default: v = ((const int64_t *)load.data)[i]; break;
                    }
                    FUZZ_CHECK(v == lab[i]);
                }
            } else {
                FUZZ_CHECK(strstr(mg_errmsg(), "label") != NULL);
            }
            free(lab);
        }
    }
    mg_npy_close(r);

    /* The stream reader, from memory (no size known): the first array must be
     * the one mg_npy_load read (it may be followed by more). */
    FILE *f = size ? fmemopen((void *)(uintptr_t)data, size, "rb") : NULL;
    for (int i = 0; f && i < 8; i++) {
        mg_npy_array a;
        mg_status st = mg_npy_read(f, &a);
        if (i == 0 && sl == MG_OK) {
            FUZZ_CHECK(st == MG_OK);
            FUZZ_CHECK(a.type == load.type && a.ndim == load.ndim && a.count == load.count);
            FUZZ_CHECK(memcmp(a.shape, load.shape, sizeof a.shape) == 0);
            FUZZ_CHECK(memcmp(a.data, load.data, a.count * mg_npy_type_size(a.type)) == 0);
        }
        if (st != MG_OK) {
            FUZZ_CHECK(a.data == NULL && a.count == 0);
            break;
        }
        FUZZ_CHECK(a.data != NULL);
        mg_npy_array_free(&a);
        mg_npy_array_free(&a); /* harmless twice */
    }
    if (f) fclose(f);
    /* and from the regular file, whose size it checks first */
    f = fopen(path, "rb");
    FUZZ_CHECK(f != NULL);
    mg_npy_array a;
    mg_status st = mg_npy_read(f, &a);
    if (sl == MG_OK) {
        FUZZ_CHECK(st == MG_OK && a.count == load.count);
        FUZZ_CHECK(memcmp(a.data, load.data, a.count * mg_npy_type_size(a.type)) == 0);
    }
    mg_npy_array_free(&a);
    fclose(f);
    if (sl == MG_OK) write_read_back(&load);
    mg_npy_array_free(&load);
    return 0;
}
