/* test_npy.c - the .npy reader (analysis/npy.c): round trips of every dtype,
 * C vs Fortran order, rows by index list and by block, conversions, labels,
 * and one clear error (naming the file and the problem) for every bad file.
 * Fixtures are written with plain fwrite of hand-made headers into a mkdtemp
 * directory, so no Python is needed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npy.h"

/* ---------------------------------------------------------------- fixtures */

static char g_dir[512];

static int setup_dir(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/mg_test_npy_XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    DIR *d = opendir(g_dir);
    if (!d) return -1;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
        struct stat sb;
        if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) rmdir(p);
        else unlink(p);
    }
    closedir(d);
    return rmdir(g_dir);
}

/* g_dir/name (one of 4 rotating buffers, so a few can be live at once). */
static const char *fpath(const char *name)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static void write_bytes(const char *path, const void *a, size_t na, const void *b, size_t nb)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (na) assert_int_equal(fwrite(a, 1, na, f), na);
    if (nb) assert_int_equal(fwrite(b, 1, nb, f), nb);
    assert_int_equal(fclose(f), 0);
}

/* Magic, version major.minor, header length, dict, blanks to a multiple of 64
 * bytes, '\n' (a blank instead when !newline).  Returns the bytes in buf. */
static size_t build_header(unsigned char *buf, size_t cap, int major, int minor, const char *dict,
                           int newline)
{
    size_t plen = major >= 2 && major <= 3 ? 12 : 10, dl = strlen(dict);
    size_t total = plen + dl + 1, pad = (64 - total % 64) % 64, hlen = dl + pad + 1;
    assert_true(plen + hlen <= cap);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = (unsigned char)minor;
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8 & 0xff);
    if (plen == 12) {
        buf[10] = (unsigned char)(hlen >> 16 & 0xff);
        buf[11] = (unsigned char)(hlen >> 24 & 0xff);
    }
    memcpy(buf + plen, dict, dl);
    memset(buf + plen + dl, ' ', pad);
    buf[plen + hlen - 1] = newline ? '\n' : ' ';
    return plen + hlen;
}

/* A version-1.0 file: header from dict, then nd bytes of data. */
static void write_npy(const char *path, const char *dict, const void *data, size_t nd)
{
    unsigned char h[4096];
    size_t n = build_header(h, sizeof h, 1, 0, dict, 1);
    write_bytes(path, h, n, data, nd);
}

/* mg_npy_open(path) fails with st, a NULL reader, and a message that names the
 * file and contains problem. */
static void expect_open_fail_at(const char *path, mg_status st, const char *problem, int line)
{
    mg_npy_reader *r = (mg_npy_reader *)1;
    mg_status got = mg_npy_open(path, &r);
    const char *msg = mg_errmsg();
    if (got != st || r != NULL || !strstr(msg, path) || !strstr(msg, problem))
        fail_msg("line %d: status %d (want %d), reader %p, message \"%s\" (want the path and "
                 "\"%s\")",
                 line, (int)got, (int)st, (void *)r, msg, problem);
    /* mg_npy_load says the same */
    mg_npy_array a;
    got = mg_npy_load(path, &a);
    if (got != st || a.data != NULL || !strstr(mg_errmsg(), problem))
        fail_msg("line %d: mg_npy_load: status %d, message \"%s\"", line, (int)got, mg_errmsg());
}
#define EXPECT_OPEN_FAIL(path, st, problem) expect_open_fail_at((path), (st), (problem), __LINE__)

/* The message of the last failure names path and contains problem. */
static void expect_msg_at(const char *path, const char *problem, int line)
{
    const char *msg = mg_errmsg();
    if ((path && !strstr(msg, path)) || !strstr(msg, problem))
        fail_msg("line %d: message \"%s\" (want \"%s\" and \"%s\")", line, msg,
                 path ? path : "", problem);
}
#define EXPECT_MSG(path, problem) expect_msg_at((path), (problem), __LINE__)

static mg_npy_reader *open_ok(const char *path)
{
    mg_npy_reader *r = NULL;
    mg_status st = mg_npy_open(path, &r);
    if (st != MG_OK) fail_msg("mg_npy_open(%s): %s", path, mg_errmsg());
    assert_non_null(r);
    return r;
}

/* xorshift64* for the randomised checks (fixed seed). */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* ---------------------------------------------------------------- round trips */

/* Six values of every type, with the extremes of the integer types. */
static void fill_values(mg_npy_type t, unsigned char *out)
{
    switch (t) {
    case MG_NPY_F32: {
        const float v[6] = {-1.5f, 0.0f, 3.25f, FLT_MAX, -FLT_MIN, 1e-3f};
        memcpy(out, v, sizeof v);
        break;
    }
    case MG_NPY_F64: {
        const double v[6] = {-1.5, 0.0, 3.25, DBL_MAX, -DBL_MIN, 0.1};
        memcpy(out, v, sizeof v);
        break;
    }
    case MG_NPY_I32: {
        const int32_t v[6] = {INT32_MIN, -1, 0, 1, 42, INT32_MAX};
        memcpy(out, v, sizeof v);
        break;
    }
    case MG_NPY_I64: {
        const int64_t v[6] = {INT64_MIN, -1, 0, 1, 42, INT64_MAX};
        memcpy(out, v, sizeof v);
        break;
    }
    case MG_NPY_U8: {
        const uint8_t v[6] = {0, 1, 42, 127, 128, 255};
        memcpy(out, v, sizeof v);
        break;
    }
    case MG_NPY_I8: {
        const int8_t v[6] = {INT8_MIN, -1, 0, 1, 42, INT8_MAX};
        memcpy(out, v, sizeof v);
        break;
    }
    case MG_NPY_I16: {
        const int16_t v[6] = {INT16_MIN, -1, 0, 1, 42, INT16_MAX};
        memcpy(out, v, sizeof v);
        break;
    }
    case MG_NPY_U16: {
        const uint16_t v[6] = {0, 1, 42, 32768, 65534, UINT16_MAX};
        memcpy(out, v, sizeof v);
        break;
    }
    case MG_NPY_U32: {
        const uint32_t v[6] = {0, 1, 42, 2147483648u, 4294967294u, UINT32_MAX};
        memcpy(out, v, sizeof v);
        break;
    }
    }
}

static void test_round_trip_every_dtype(void **state)
{
    (void)state;
    static const struct {
        mg_npy_type type;
        const char *descr, *name;
        size_t size;
    } types[] = {{MG_NPY_F32, "<f4", "float32", 4}, {MG_NPY_F64, "<f8", "float64", 8},
                 {MG_NPY_I32, "<i4", "int32", 4},   {MG_NPY_I64, "<i8", "int64", 8},
                 {MG_NPY_U8, "|u1", "uint8", 1},    {MG_NPY_I8, "|i1", "int8", 1},
                 {MG_NPY_I16, "<i2", "int16", 2},   {MG_NPY_U16, "<u2", "uint16", 2},
                 {MG_NPY_U32, "<u4", "uint32", 4}};
    /* the first three keep their values */
    assert_int_equal(MG_NPY_F32, 0);
    assert_int_equal(MG_NPY_F64, 1);
    assert_int_equal(MG_NPY_I32, 2);
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        mg_npy_type t = types[k].type;
        assert_int_equal(mg_npy_type_size(t), types[k].size);
        assert_string_equal(mg_npy_type_name(t), types[k].name);
        unsigned char v[48];
        fill_values(t, v);
        const size_t nb = 6 * types[k].size;
        const int64_t shape[2] = {2, 3};
        const char *path = fpath("every.npy");
        assert_int_equal(mg_npy_save(path, t, v, 2, shape), MG_OK);

        mg_npy_reader *r = open_ok(path);
        assert_int_equal(mg_npy_reader_type(r), t);
        assert_string_equal(mg_npy_reader_descr(r), types[k].descr);
        assert_int_equal(mg_npy_reader_ndim(r), 2);
        assert_int_equal(mg_npy_reader_shape(r)[0], 2);
        assert_int_equal(mg_npy_reader_shape(r)[1], 3);
        assert_int_equal(mg_npy_reader_rows(r), 2);
        assert_int_equal(mg_npy_reader_row_len(r), 3);
        assert_int_equal(mg_npy_reader_fortran(r), 0);
        assert_string_equal(mg_npy_reader_path(r), path);
        if (t == MG_NPY_F32 || t == MG_NPY_F64) {
            float f[6];
            double d[6];
            assert_int_equal(mg_npy_read_block_f32(r, 0, 2, f), MG_OK);
            assert_int_equal(mg_npy_read_block_f64(r, 0, 2, d), MG_OK);
            for (int i = 0; i < 6; i++) {
                double want;
                if (t == MG_NPY_F32) {
                    float x;
                    memcpy(&x, v + 4 * i, 4);
                    want = x;
                    assert_memory_equal(&f[i], &x, 4); /* bit-exact */
                } else {
                    memcpy(&want, v + 8 * i, 8);
                    assert_memory_equal(&d[i], &want, 8);
                }
                assert_true(d[i] == want);
            }
        } else {
            float f[6];
            assert_int_equal(mg_npy_read_rows_f32(r, NULL, 2, f), MG_ERR_FORMAT);
            char want[64];
            snprintf(want, sizeof want, "rows must be floating point, got %s ('%s')",
                     types[k].name, types[k].descr);
            EXPECT_MSG(path, want);
            int32_t lab[6];
            assert_int_equal(mg_npy_read_labels(r, lab), MG_ERR_FORMAT);
            EXPECT_MSG(path, "labels must be a 1-d array (or n x 1), got shape (2, 3)");
        }
        mg_npy_close(r);

        mg_npy_array a;
        assert_int_equal(mg_npy_load(path, &a), MG_OK);
        assert_int_equal(a.type, t);
        assert_int_equal(a.ndim, 2);
        assert_int_equal(a.count, 6);
        assert_memory_equal(a.data, v, nb);
        mg_npy_array_free(&a);
        mg_npy_array_free(&a); /* harmless twice */

        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        assert_int_equal(mg_npy_read(f, &a), MG_OK);
        fclose(f);
        assert_int_equal(a.type, t);
        assert_memory_equal(a.data, v, nb);
        mg_npy_array_free(&a);
    }
}

/* Header spellings numpy and other writers produce, all accepted. */
static void test_header_forms(void **state)
{
    (void)state;
    const double d6[6] = {1, 2, 3, 4, 5, 6};
    double got[6];
    static const char *const dicts[] = {
        "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }",
        "{\"shape\": ( 3 , 2 ) ,\"fortran_order\":False,  \"descr\":\"<f8\"}",
        "{'fortran_order': False, 'descr': \"<f8\", 'shape': (3L, 2L)}", /* Python 2 longs */
        "  {'descr':'<f8','fortran_order':False,'shape':(3,2,),}  ",
    };
    for (size_t k = 0; k < sizeof dicts / sizeof dicts[0]; k++) {
        const char *path = fpath("forms.npy");
        write_npy(path, dicts[k], d6, sizeof d6);
        mg_npy_reader *r = open_ok(path);
        assert_int_equal(mg_npy_reader_ndim(r), 2);
        assert_int_equal(mg_npy_reader_rows(r), 3);
        assert_int_equal(mg_npy_reader_row_len(r), 2);
        assert_int_equal(mg_npy_read_block_f64(r, 0, 3, got), MG_OK);
        assert_memory_equal(got, d6, sizeof d6);
        mg_npy_close(r);
    }
    /* versions 2.0 and 3.0 (a 4-byte header length) */
    for (int major = 2; major <= 3; major++) {
        unsigned char h[256];
        size_t n = build_header(h, sizeof h, major, 0,
                                "{'descr': '<f8', 'fortran_order': False, 'shape': (6,), }", 1);
        const char *path = fpath("v23.npy");
        write_bytes(path, h, n, d6, sizeof d6);
        mg_npy_reader *r = open_ok(path);
        assert_int_equal(mg_npy_reader_ndim(r), 1);
        assert_int_equal(mg_npy_reader_rows(r), 6);
        assert_int_equal(mg_npy_reader_row_len(r), 1);
        assert_int_equal(mg_npy_read_block_f64(r, 0, 6, got), MG_OK);
        assert_memory_equal(got, d6, sizeof d6);
        mg_npy_close(r);
    }
    /* a 0-d array: one row of one value; Fortran order is irrelevant */
    const char *path = fpath("scalar.npy");
    const float pi = 3.14159265f;
    write_npy(path, "{'descr': '<f4', 'fortran_order': True, 'shape': (), }", &pi, 4);
    mg_npy_reader *r = open_ok(path);
    assert_int_equal(mg_npy_reader_ndim(r), 0);
    assert_int_equal(mg_npy_reader_rows(r), 1);
    assert_int_equal(mg_npy_reader_row_len(r), 1);
    assert_int_equal(mg_npy_reader_fortran(r), 1);
    float x = 0;
    assert_int_equal(mg_npy_read_block_f32(r, 0, 1, &x), MG_OK);
    assert_true(x == pi);
    mg_npy_close(r);
    /* '<u1' is accepted for '|u1'; a header not aligned to 64 bytes too */
    const uint8_t u[3] = {7, 0, 255};
    unsigned char h[128];
    const char *dict = "{'descr': '<u1', 'fortran_order': False, 'shape': (3,)}\n";
    memcpy(h, "\x93NUMPY\x01\x00", 8);
    h[8] = (unsigned char)strlen(dict);
    h[9] = 0;
    memcpy(h + 10, dict, strlen(dict));
    path = fpath("u1.npy");
    write_bytes(path, h, 10 + strlen(dict), u, 3);
    r = open_ok(path);
    assert_int_equal(mg_npy_reader_type(r), MG_NPY_U8);
    assert_string_equal(mg_npy_reader_descr(r), "<u1");
    int32_t lab[3];
    assert_int_equal(mg_npy_read_labels(r, lab), MG_OK);
    assert_int_equal(lab[0], 7);
    assert_int_equal(lab[1], 0);
    assert_int_equal(lab[2], 255);
    mg_npy_close(r);
    /* byte order means nothing for one byte: 'i1' and '>i1' are int8 */
    write_npy(path, "{'descr': 'i1', 'fortran_order': False, 'shape': (3,)}", u, 3);
    r = open_ok(path);
    assert_int_equal(mg_npy_reader_type(r), MG_NPY_I8);
    mg_npy_close(r);
    write_npy(path, "{'descr': '>i1', 'fortran_order': False, 'shape': (3,)}", u, 3);
    r = open_ok(path);
    assert_int_equal(mg_npy_reader_type(r), MG_NPY_I8);
    assert_int_equal(mg_npy_read_labels(r, lab), MG_ERR_FORMAT);
    EXPECT_MSG(path, "label -1 at index 2");
    mg_npy_close(r);
}

/* ---------------------------------------------------------------- C vs Fortran */

/* Write the same n x (d1..dk) float32 array in C and in Fortran order, then
 * check that every way of reading gives the C-order rows. */
static void check_orders(int ndim, const int64_t *shape)
{
    int64_t n = shape[0], L = 1;
    assert_true(n >= 6); /* the index list below */
    for (int d = 1; d < ndim; d++) L *= shape[d];
    float *a = malloc(sizeof(float) * (size_t)(n * L));
    float *fo = malloc(sizeof(float) * (size_t)(n * L));
    assert_true(a && fo);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < L; j++) {
            a[i * L + j] = (float)(i * 1000 + j) + 0.25f;
            /* C-order trailing index j -> (j1..jk) -> Fortran column */
            int64_t rest = j, col = 0, mult = 1, idx[MG_NPY_MAX_DIMS];
            for (int d = ndim - 1; d >= 1; d--) {
                idx[d] = rest % shape[d];
                rest /= shape[d];
            }
            for (int d = 1; d < ndim; d++) {
                col += idx[d] * mult;
                mult *= shape[d];
            }
            fo[i + n * col] = a[i * L + j];
        }
    const char *cpath = fpath("order_c.npy"), *fpath_ = fpath("order_f.npy");
    assert_int_equal(mg_npy_save(cpath, MG_NPY_F32, a, ndim, shape), MG_OK);
    char dict[256], shp[128];
    size_t len = (size_t)snprintf(shp, sizeof shp, "(");
    for (int d = 0; d < ndim; d++)
        len += (size_t)snprintf(shp + len, sizeof shp - len, "%lld, ", (long long)shape[d]);
    snprintf(shp + len, sizeof shp - len, ")");
    snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': True, 'shape': %s, }", shp);
    write_npy(fpath_, dict, fo, sizeof(float) * (size_t)(n * L));

    const char *paths[2] = {cpath, fpath_};
    float *got = malloc(sizeof(float) * (size_t)(n * L));
    double *gd = malloc(sizeof(double) * (size_t)(n * L));
    assert_true(got && gd);
    static const size_t buffers[] = {0, 4, 12, 40, 1000};
    for (int p = 0; p < 2; p++) {
        for (size_t b = 0; b < sizeof buffers / sizeof buffers[0]; b++) {
            mg_npy_reader *r = open_ok(paths[p]);
            assert_int_equal(mg_npy_reader_fortran(r), p);
            assert_int_equal(mg_npy_reader_rows(r), n);
            assert_int_equal(mg_npy_reader_row_len(r), L);
            if (buffers[b]) mg_npy_reader_set_buffer_size(r, buffers[b]);
            /* all rows as one block */
            memset(got, 0, sizeof(float) * (size_t)(n * L));
            assert_int_equal(mg_npy_read_block_f32(r, 0, n, got), MG_OK);
            assert_memory_equal(got, a, sizeof(float) * (size_t)(n * L));
            /* a block in the middle, as double */
            assert_int_equal(mg_npy_read_block_f64(r, 1, n - 2, gd), MG_OK);
            for (int64_t e = 0; e < (n - 2) * L; e++) assert_true(gd[e] == a[L + e]);
            /* first, a run, a gap, last */
            const int64_t idx[5] = {0, 2, 3, 4, n - 1};
            assert_int_equal(mg_npy_read_rows_f32(r, idx, 5, got), MG_OK);
            for (int k = 0; k < 5; k++)
                assert_memory_equal(got + k * L, a + idx[k] * L, sizeof(float) * (size_t)L);
            mg_npy_close(r);
        }
        /* whole-array readers give C order too */
        mg_npy_array arr;
        assert_int_equal(mg_npy_load(paths[p], &arr), MG_OK);
        assert_int_equal(arr.count, (size_t)(n * L));
        assert_memory_equal(arr.data, a, sizeof(float) * (size_t)(n * L));
        mg_npy_array_free(&arr);
        FILE *f = fopen(paths[p], "rb");
        assert_int_equal(mg_npy_read(f, &arr), MG_OK);
        fclose(f);
        assert_memory_equal(arr.data, a, sizeof(float) * (size_t)(n * L));
        mg_npy_array_free(&arr);
    }
    free(a);
    free(fo);
    free(got);
    free(gd);
}

static void test_c_vs_fortran_2d(void **state)
{
    (void)state;
    check_orders(2, (const int64_t[]){7, 5});
    check_orders(2, (const int64_t[]){6, 1}); /* one column: both layouts coincide */
}

static void test_c_vs_fortran_4d(void **state)
{
    (void)state;
    check_orders(4, (const int64_t[]){6, 3, 4, 5}); /* n x C x H x W */
    check_orders(3, (const int64_t[]){7, 1, 3});
}

/* Random index lists and buffer sizes against the array in memory, over a
 * C-order float64 file and a Fortran-order one of the same n x 3 x 4 array. */
static void test_rows_random(void **state)
{
    (void)state;
    enum { N = 37, D1 = 3, D2 = 4, L = D1 * D2 };
    static double a[N * L], fo[N * L], got[N * L];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < L; j++) {
            a[i * L + j] = i + j / 100.0;
            int j1 = j / D2, j2 = j % D2;
            fo[i + N * (j1 + D1 * j2)] = a[i * L + j];
        }
    const int64_t shape[3] = {N, D1, D2};
    const char *cp = fpath("rand_c.npy"), *fp = fpath("rand_f.npy");
    assert_int_equal(mg_npy_save(cp, MG_NPY_F64, a, 3, shape), MG_OK);
    write_npy(fp, "{'descr': '<f8', 'fortran_order': True, 'shape': (37, 3, 4), }", fo, sizeof fo);
    uint64_t s = 12345;
    for (int trial = 0; trial < 300; trial++) {
        mg_npy_reader *r = open_ok(trial % 2 ? fp : cp);
        if (trial % 3) mg_npy_reader_set_buffer_size(r, 8 + rng_next(&s) % 3000);
        int64_t idx[N], m = 0;
        uint64_t keep = rng_next(&s) % 4; /* density */
        for (int i = 0; i < N; i++)
            if (rng_next(&s) % 4 <= keep) idx[m++] = i;
        assert_int_equal(mg_npy_read_rows_f64(r, idx, m, got), MG_OK);
        for (int64_t k = 0; k < m; k++)
            assert_memory_equal(got + k * L, a + idx[k] * L, sizeof(double) * L);
        float gf[N * L];
        assert_int_equal(mg_npy_read_rows_f32(r, idx, m, gf), MG_OK);
        for (int64_t k = 0; k < m * L; k++) assert_true(gf[k] == (float)got[k]);
        int64_t i0 = (int64_t)(rng_next(&s) % N), mb = (int64_t)(rng_next(&s) % (N - i0 + 1));
        assert_int_equal(mg_npy_read_block_f64(r, i0, mb, got), MG_OK);
        assert_memory_equal(got, a + i0 * L, sizeof(double) * (size_t)(mb * L));
        mg_npy_close(r);
    }
}

/* Larger than the direct-read threshold and than small buffers: one long
 * segment read straight into dst, in buffer-sized pieces, and converted. */
static void test_rows_large(void **state)
{
    (void)state;
    enum { N = 300, L = 100 };
    float *a = malloc(sizeof(float) * N * L), *got = malloc(sizeof(float) * N * L);
    double *gd = malloc(sizeof(double) * N * L);
    assert_true(a && got && gd);
    for (int e = 0; e < N * L; e++) a[e] = (float)e * 0.125f - 3.0f;
    const int64_t shape[2] = {N, L};
    const char *path = fpath("large.npy");
    assert_int_equal(mg_npy_save(path, MG_NPY_F32, a, 2, shape), MG_OK);
    for (int b = 0; b < 2; b++) {
        mg_npy_reader *r = open_ok(path);
        if (b) mg_npy_reader_set_buffer_size(r, 1000);
        assert_int_equal(mg_npy_read_block_f32(r, 0, N, got), MG_OK);
        assert_memory_equal(got, a, sizeof(float) * N * L);
        assert_int_equal(mg_npy_read_block_f64(r, 0, N, gd), MG_OK);
        for (int e = 0; e < N * L; e++) assert_true(gd[e] == a[e]);
        /* every third row */
        int64_t idx[N / 3];
        for (int k = 0; k < N / 3; k++) idx[k] = 3 * k + 1;
        assert_int_equal(mg_npy_read_rows_f32(r, idx, N / 3, got), MG_OK);
        for (int k = 0; k < N / 3; k++)
            assert_memory_equal(got + k * L, a + idx[k] * L, sizeof(float) * L);
        mg_npy_close(r);
    }
    free(a);
    free(got);
    free(gd);
}

static void test_f64_to_f32_rounding(void **state)
{
    (void)state;
    /* 1 + 2^-24 is a tie (rounds to even: 1); 1 + 3 * 2^-24 a tie too (to
     * 1 + 2^-22); just above a tie rounds up; 0.1 to the nearest float. */
    const double d[6] = {0x1.000001p0,      0x1.000003p0, 0x1.0000010000001p0,
                         0.1,               -2.5,         0x1p-200};
    const float want[6] = {0x1p0f, 0x1.000004p0f, 0x1.000002p0f, 0x1.99999ap-4f, -2.5f, 0.0f};
    const int64_t shape[2] = {3, 2};
    const char *path = fpath("round.npy");
    assert_int_equal(mg_npy_save(path, MG_NPY_F64, d, 2, shape), MG_OK);
    mg_npy_reader *r = open_ok(path);
    float got[6];
    assert_int_equal(mg_npy_read_block_f32(r, 0, 3, got), MG_OK);
    for (int i = 0; i < 6; i++) assert_memory_equal(&got[i], &want[i], sizeof(float));
    const int64_t idx[1] = {1};
    assert_int_equal(mg_npy_read_rows_f32(r, idx, 1, got), MG_OK);
    assert_memory_equal(got, want + 2, 2 * sizeof(float));
    mg_npy_close(r);
    /* NaN and Inf pass through (the caller counts them) */
    const double odd[2] = {NAN, -INFINITY};
    assert_int_equal(mg_npy_save(path, MG_NPY_F64, odd, 1, (const int64_t[]){2}), MG_OK);
    r = open_ok(path);
    assert_int_equal(mg_npy_read_block_f32(r, 0, 2, got), MG_OK);
    assert_true(isnan(got[0]));
    assert_true(isinf(got[1]) && got[1] < 0);
    mg_npy_close(r);
}

/* ---------------------------------------------------------------- labels */

static void test_labels(void **state)
{
    (void)state;
    int32_t lab[32];
    const char *path = fpath("y.npy");
    mg_npy_reader *r;

    const int32_t i4[4] = {0, 1, 9, 2};
    assert_int_equal(mg_npy_save(path, MG_NPY_I32, i4, 1, (const int64_t[]){4}), MG_OK);
    r = open_ok(path);
    assert_int_equal(mg_npy_read_labels(r, lab), MG_OK);
    assert_memory_equal(lab, i4, sizeof i4);
    mg_npy_close(r);

    const int64_t i8[3] = {0, 5, INT32_MAX};
    assert_int_equal(mg_npy_save(path, MG_NPY_I64, i8, 1, (const int64_t[]){3}), MG_OK);
    r = open_ok(path);
    assert_int_equal(mg_npy_read_labels(r, lab), MG_OK);
    assert_int_equal(lab[0], 0);
    assert_int_equal(lab[1], 5);
    assert_int_equal(lab[2], INT32_MAX);
    mg_npy_close(r);

    const uint8_t u1[4] = {3, 0, 255, 7};
    assert_int_equal(mg_npy_save(path, MG_NPY_U8, u1, 2, (const int64_t[]){4, 1}), MG_OK);
    r = open_ok(path);
    assert_int_equal(mg_npy_read_labels(r, lab), MG_OK); /* n x 1 is fine */
    for (int i = 0; i < 4; i++) assert_int_equal(lab[i], u1[i]);
    mg_npy_close(r);

    const int8_t s1[3] = {0, 127, 3};
    assert_int_equal(mg_npy_save(path, MG_NPY_I8, s1, 1, (const int64_t[]){3}), MG_OK);
    r = open_ok(path);
    assert_int_equal(mg_npy_read_labels(r, lab), MG_OK);
    for (int i = 0; i < 3; i++) assert_int_equal(lab[i], s1[i]);
    mg_npy_close(r);

    const int16_t s2[2] = {300, 0};
    const uint16_t u2[2] = {65535, 1};
    const uint32_t u4[2] = {70000, 2};
    assert_int_equal(mg_npy_save(path, MG_NPY_I16, s2, 1, (const int64_t[]){2}), MG_OK);
    r = open_ok(path);
    assert_int_equal(mg_npy_read_labels(r, lab), MG_OK);
    assert_int_equal(lab[0], 300);
    mg_npy_close(r);
    assert_int_equal(mg_npy_save(path, MG_NPY_U16, u2, 1, (const int64_t[]){2}), MG_OK);
    r = open_ok(path);
    assert_int_equal(mg_npy_read_labels(r, lab), MG_OK);
    assert_int_equal(lab[0], 65535);
    mg_npy_close(r);
    assert_int_equal(mg_npy_save(path, MG_NPY_U32, u4, 1, (const int64_t[]){2}), MG_OK);
    r = open_ok(path);
    assert_int_equal(mg_npy_read_labels(r, lab), MG_OK);
    assert_int_equal(lab[0], 70000);
    mg_npy_close(r);

    /* a negative label, reported with its index */
    int8_t neg[20] = {0};
    neg[17] = -1;
    assert_int_equal(mg_npy_save(path, MG_NPY_I8, neg, 1, (const int64_t[]){20}), MG_OK);
    r = open_ok(path);
    mg_npy_reader_set_buffer_size(r, 5); /* the index survives piecewise reads */
    assert_int_equal(mg_npy_read_labels(r, lab), MG_ERR_FORMAT);
    EXPECT_MSG(path, "label -1 at index 17: labels must be >= 0");
    mg_npy_close(r);

    /* > INT32_MAX from int64 and from uint32 */
    const int64_t big[2] = {1, (int64_t)INT32_MAX + 1};
    assert_int_equal(mg_npy_save(path, MG_NPY_I64, big, 1, (const int64_t[]){2}), MG_OK);
    r = open_ok(path);
    assert_int_equal(mg_npy_read_labels(r, lab), MG_ERR_FORMAT);
    EXPECT_MSG(path, "label 2147483648 at index 1: labels must be <= 2147483647");
    mg_npy_close(r);
    const uint32_t ubig[1] = {UINT32_MAX};
    assert_int_equal(mg_npy_save(path, MG_NPY_U32, ubig, 1, (const int64_t[]){1}), MG_OK);
    r = open_ok(path);
    assert_int_equal(mg_npy_read_labels(r, lab), MG_ERR_FORMAT);
    EXPECT_MSG(path, "label 4294967295 at index 0");
    mg_npy_close(r);

    /* float labels are refused */
    const float fl[2] = {0, 1};
    assert_int_equal(mg_npy_save(path, MG_NPY_F32, fl, 1, (const int64_t[]){2}), MG_OK);
    r = open_ok(path);
    assert_int_equal(mg_npy_read_labels(r, lab), MG_ERR_FORMAT);
    EXPECT_MSG(path, "labels must be integers, got float32 ('<f4')");
    mg_npy_close(r);
    const double dl[2] = {0, 1};
    assert_int_equal(mg_npy_save(path, MG_NPY_F64, dl, 1, (const int64_t[]){2}), MG_OK);
    r = open_ok(path);
    assert_int_equal(mg_npy_read_labels(r, lab), MG_ERR_FORMAT);
    EXPECT_MSG(path, "labels must be integers, got float64 ('<f8')");
    mg_npy_close(r);

    /* two columns are not labels */
    const int32_t two[4] = {0, 1, 2, 3};
    assert_int_equal(mg_npy_save(path, MG_NPY_I32, two, 2, (const int64_t[]){2, 2}), MG_OK);
    r = open_ok(path);
    assert_int_equal(mg_npy_read_labels(r, lab), MG_ERR_FORMAT);
    EXPECT_MSG(path, "labels must be a 1-d array");
    mg_npy_close(r);
}

/* ---------------------------------------------------------------- edge shapes and misuse */

static void test_zero_rows(void **state)
{
    (void)state;
    const char *path = fpath("empty05.npy");
    assert_int_equal(mg_npy_save(path, MG_NPY_F32, NULL, 2, (const int64_t[]){0, 5}), MG_OK);
    mg_npy_reader *r = open_ok(path);
    assert_int_equal(mg_npy_reader_rows(r), 0);
    assert_int_equal(mg_npy_reader_row_len(r), 5);
    assert_int_equal(mg_npy_read_block_f32(r, 0, 0, NULL), MG_OK);
    assert_int_equal(mg_npy_read_rows_f64(r, NULL, 0, NULL), MG_OK);
    float x[5];
    assert_int_equal(mg_npy_read_block_f32(r, 0, 1, x), MG_ERR_CONFIG);
    EXPECT_MSG(path, "outside the 0 rows");
    mg_npy_close(r);
    mg_npy_array a;
    assert_int_equal(mg_npy_load(path, &a), MG_OK);
    assert_int_equal(a.count, 0);
    assert_int_equal(a.shape[0], 0);
    assert_int_equal(a.shape[1], 5);
    mg_npy_array_free(&a);
    /* five rows of nothing, and zero labels */
    assert_int_equal(mg_npy_save(path, MG_NPY_F32, NULL, 2, (const int64_t[]){5, 0}), MG_OK);
    r = open_ok(path);
    assert_int_equal(mg_npy_reader_rows(r), 5);
    assert_int_equal(mg_npy_reader_row_len(r), 0);
    assert_int_equal(mg_npy_read_block_f32(r, 0, 5, NULL), MG_OK);
    mg_npy_close(r);
    assert_int_equal(mg_npy_save(path, MG_NPY_I32, NULL, 1, (const int64_t[]){0}), MG_OK);
    r = open_ok(path);
    assert_int_equal(mg_npy_read_labels(r, NULL), MG_OK);
    mg_npy_close(r);
}

static void test_bad_indices(void **state)
{
    (void)state;
    const float v[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    const char *path = fpath("idx.npy");
    assert_int_equal(mg_npy_save(path, MG_NPY_F32, v, 2, (const int64_t[]){4, 2}), MG_OK);
    mg_npy_reader *r = open_ok(path);
    float got[8];
    assert_int_equal(mg_npy_read_rows_f32(r, (const int64_t[]){0, 4}, 2, got), MG_ERR_CONFIG);
    EXPECT_MSG(path, "row index 4 (position 1) is outside 0..3");
    assert_int_equal(mg_npy_read_rows_f32(r, (const int64_t[]){-1}, 1, got), MG_ERR_CONFIG);
    EXPECT_MSG(path, "row index -1");
    assert_int_equal(mg_npy_read_rows_f32(r, (const int64_t[]){2, 1}, 2, got), MG_ERR_CONFIG);
    EXPECT_MSG(path, "strictly increasing");
    assert_int_equal(mg_npy_read_rows_f32(r, (const int64_t[]){1, 1}, 2, got), MG_ERR_CONFIG);
    assert_int_equal(mg_npy_read_block_f32(r, 3, 2, got), MG_ERR_CONFIG);
    EXPECT_MSG(path, "2 rows from row 3 are outside the 4 rows");
    assert_int_equal(mg_npy_read_block_f32(r, -1, 1, got), MG_ERR_CONFIG);
    assert_int_equal(mg_npy_read_rows_f32(r, NULL, 5, got), MG_ERR_CONFIG);
    /* after the refusals the reader still works */
    assert_int_equal(mg_npy_read_rows_f32(r, (const int64_t[]){0, 3}, 2, got), MG_OK);
    assert_true(got[0] == 0 && got[1] == 1 && got[2] == 6 && got[3] == 7);
    mg_npy_close(r);
    mg_npy_close(NULL);
}

/* ---------------------------------------------------------------- bad files */

static void test_bad_not_npy(void **state)
{
    (void)state;
    const char *p = fpath("zip.npy");
    static const char zip[] = "PK\x03\x04 not numpy at all, a zip";
    write_bytes(p, zip, sizeof zip - 1, NULL, 0);
    EXPECT_OPEN_FAIL(p, MG_ERR_FORMAT, "not a .npy file (bad magic");
    p = fpath("empty.npy");
    write_bytes(p, NULL, 0, NULL, 0);
    EXPECT_OPEN_FAIL(p, MG_ERR_FORMAT, "not a .npy file (the file is empty)");
    p = fpath("five.npy");
    write_bytes(p, "\x93NUMP", 5, NULL, 0);
    EXPECT_OPEN_FAIL(p, MG_ERR_FORMAT, "not a .npy file");
    write_bytes(p, "hello", 5, NULL, 0);
    EXPECT_OPEN_FAIL(p, MG_ERR_FORMAT, "not a .npy file");
    p = fpath("nine.npy"); /* magic and version, then the length is cut off */
    write_bytes(p, "\x93NUMPY\x01\x00\x10", 9, NULL, 0);
    EXPECT_OPEN_FAIL(p, MG_ERR_FORMAT, "truncated");
    p = fpath("no_such_file.npy");
    EXPECT_OPEN_FAIL(p, MG_ERR_IO, "cannot open");
    p = fpath("adir.npy");
    assert_int_equal(mkdir(p, 0700), 0);
    EXPECT_OPEN_FAIL(p, MG_ERR_IO, "not a regular file");
}

static void test_bad_version_and_length(void **state)
{
    (void)state;
    unsigned char h[256];
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    const float two[2] = {1, 2};
    const char *p = fpath("v4.npy");
    size_t n = build_header(h, sizeof h, 4, 0, dict, 1);
    write_bytes(p, h, n, two, sizeof two);
    EXPECT_OPEN_FAIL(p, MG_ERR_FORMAT, "unsupported .npy format version 4.0");
    n = build_header(h, sizeof h, 0, 9, dict, 1);
    write_bytes(p, h, n, two, sizeof two);
    EXPECT_OPEN_FAIL(p, MG_ERR_FORMAT, "unsupported .npy format version 0.9");

    /* header length beyond the file: version 1 (1000) and version 2 (4 GiB - 1) */
    p = fpath("hlen.npy");
    n = build_header(h, sizeof h, 1, 0, dict, 1);
    h[8] = 0xe8;
    h[9] = 0x03;
    write_bytes(p, h, n, two, sizeof two);
    EXPECT_OPEN_FAIL(p, MG_ERR_FORMAT, "header length 1000 runs past the end of the file");
    n = build_header(h, sizeof h, 2, 0, dict, 1);
    memset(h + 8, 0xff, 4);
    write_bytes(p, h, n, two, sizeof two);
    EXPECT_OPEN_FAIL(p, MG_ERR_FORMAT, "header length 4294967295 runs past the end");

    /* a header length that cuts the dict short: no final newline */
    n = build_header(h, sizeof h, 1, 0, dict, 1);
    h[8] = 30;
    h[9] = 0;
    write_bytes(p, h, n, two, sizeof two);
    EXPECT_OPEN_FAIL(p, MG_ERR_FORMAT, "does not end with a newline");
    /* the padding ends with a blank instead of '\n' */
    n = build_header(h, sizeof h, 1, 0, dict, 0);
    write_bytes(p, h, n, two, sizeof two);
    EXPECT_OPEN_FAIL(p, MG_ERR_FORMAT, "does not end with a newline");

    /* a header longer than 1 MiB (within the file) */
    size_t big = (1u << 20) + 64;
    unsigned char *b = malloc(12 + big);
    assert_non_null(b);
    memcpy(b, "\x93NUMPY\x02\x00", 8);
    b[8] = (unsigned char)(big & 0xff);
    b[9] = (unsigned char)(big >> 8 & 0xff);
    b[10] = (unsigned char)(big >> 16 & 0xff);
    b[11] = 0;
    memcpy(b + 12, dict, strlen(dict));
    memset(b + 12 + strlen(dict), ' ', big - strlen(dict));
    b[12 + big - 1] = '\n';
    p = fpath("hugeheader.npy");
    write_bytes(p, b, 12 + big, two, sizeof two);
    free(b);
    EXPECT_OPEN_FAIL(p, MG_ERR_FORMAT, "is too long");
}

/* A dict that is wrong in one way, with enough data for (2,) float32. */
static void expect_dict_fail_at(const char *dict, const char *problem, int line)
{
    const float two[2] = {1, 2};
    const char *p = fpath("dict.npy");
    write_npy(p, dict, two, sizeof two);
    expect_open_fail_at(p, MG_ERR_FORMAT, problem, line);
}
#define EXPECT_DICT_FAIL(dict, problem) expect_dict_fail_at((dict), (problem), __LINE__)

static void test_bad_header_dict(void **state)
{
    (void)state;
    /* missing, unexpected and duplicate keys */
    EXPECT_DICT_FAIL("{'descr': '<f4', 'fortran_order': False}", "has no 'shape' key");
    EXPECT_DICT_FAIL("{'fortran_order': False, 'shape': (2,)}", "has no 'descr' key");
    EXPECT_DICT_FAIL("{'descr': '<f4', 'shape': (2,)}", "has no 'fortran_order' key");
    EXPECT_DICT_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'foo': 1}",
                     "unexpected key 'foo'");
    EXPECT_DICT_FAIL("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
                     "duplicate key 'descr'");
    /* not a dict, unterminated, junk after it */
    EXPECT_DICT_FAIL("['descr', '<f4']", "not a dict");
    EXPECT_DICT_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", "expected");
    EXPECT_DICT_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x",
                     "unexpected text after");
    EXPECT_DICT_FAIL("{'descr' '<f4', 'fortran_order': False, 'shape': (2,)}", "expected ':'");
    EXPECT_DICT_FAIL("{descr: '<f4', 'fortran_order': False, 'shape': (2,)}",
                     "expected a quoted key");
    EXPECT_DICT_FAIL("{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}",
                     "expected ',' or '}'");
    EXPECT_DICT_FAIL("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,)}",
                     "bad fortran_order");
    EXPECT_DICT_FAIL("{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2,)}",
                     "bad fortran_order");
    /* bad shape text */
    EXPECT_DICT_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x)}", "bad shape");
    EXPECT_DICT_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", "bad shape");
    EXPECT_DICT_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': (2,,)}", "bad shape");
    EXPECT_DICT_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': (,)}", "bad shape");
    EXPECT_DICT_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': (1 2)}", "bad shape");
    EXPECT_DICT_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,)}", "bad shape");
    EXPECT_DICT_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': (2x,)}", "bad shape");
    EXPECT_DICT_FAIL("{'descr': 'f4', 'fortran_order': False, 'shape': (2,)}",
                     "dtype 'f4' is not supported");
    EXPECT_DICT_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': (2", "bad shape");
    EXPECT_DICT_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': 2}", "bad shape");
    /* negative extent, too many dims, overflow */
    EXPECT_DICT_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': (-3, 4)}",
                     "negative extent -3");
    EXPECT_DICT_FAIL("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,2)}",
                     "more than 8 dimensions");
    EXPECT_DICT_FAIL("{'descr': '<f4', 'fortran_order': False, "
                     "'shape': (4611686018427387904, 4)}",
                     "shape (4611686018427387904, 4) of float32 is too large");
    EXPECT_DICT_FAIL("{'descr': '<f4', 'fortran_order': False, "
                     "'shape': (99999999999999999999,)}",
                     "shape extent 99999999999999999999 in the .npy header is too large");
    EXPECT_DICT_FAIL("{'descr': '<u1', 'fortran_order': False, "
                     "'shape': (0, 4294967296, 4294967296)}",
                     "too large"); /* no elements, but a row of 2^64 */
    /* a NUL byte inside the header */
    const char nul[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)\0}";
    unsigned char h[256];
    memcpy(h, "\x93NUMPY\x01\x00", 8);
    h[8] = (unsigned char)sizeof nul; /* including the final NUL, replaced by '\n' */
    h[9] = 0;
    memcpy(h + 10, nul, sizeof nul);
    h[10 + sizeof nul - 1] = '\n';
    const float two[2] = {1, 2};
    const char *p = fpath("nul.npy");
    write_bytes(p, h, 10 + sizeof nul, two, sizeof two);
    EXPECT_OPEN_FAIL(p, MG_ERR_FORMAT, "expected ',' or '}'");
}

static void test_bad_dtypes(void **state)
{
    (void)state;
    EXPECT_DICT_FAIL("{'descr': '>f4', 'fortran_order': False, 'shape': (2,)}",
                     "big-endian data not supported (dtype '>f4'): convert with "
                     "a.astype('<f4')");
    EXPECT_DICT_FAIL("{'descr': '>i8', 'fortran_order': False, 'shape': (1,)}",
                     "a.astype('<i8')");
    EXPECT_DICT_FAIL("{'descr': '|O', 'fortran_order': False, 'shape': (1,)}",
                     "object arrays are not supported");
    EXPECT_DICT_FAIL("{'descr': '<c8', 'fortran_order': False, 'shape': (1,)}",
                     "dtype '<c8' is not supported");
    EXPECT_DICT_FAIL("{'descr': '<U2', 'fortran_order': False, 'shape': (1,)}",
                     "dtype '<U2' is not supported");
    EXPECT_DICT_FAIL("{'descr': '<f2', 'fortran_order': False, 'shape': (4,)}",
                     "convert with a.astype('<f4')");
    EXPECT_DICT_FAIL("{'descr': '|b1', 'fortran_order': False, 'shape': (8,)}",
                     "dtype '|b1' is not supported");
    EXPECT_DICT_FAIL("{'descr': '|f4', 'fortran_order': False, 'shape': (2,)}",
                     "dtype '|f4' is not supported");
    EXPECT_DICT_FAIL("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}",
                     "structured dtypes are not supported");
    EXPECT_DICT_FAIL("{'descr': 5, 'fortran_order': False, 'shape': (2,)}", "bad descr");
    EXPECT_DICT_FAIL("{'descr': '<f4<f4<f4<f4<f4<f4', 'fortran_order': False, 'shape': (2,)}",
                     "bad descr");
}

static void test_bad_sizes(void **state)
{
    (void)state;
    /* the example of the documentation: a header numpy would write */
    const char *p = fpath("act.npy");
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(mg_npy_write_header(f, MG_NPY_F32, 2, (const int64_t[]){60000, 512}), MG_OK);
    char junk[1000];
    memset(junk, 0x3f, sizeof junk);
    assert_int_equal(fwrite(junk, 1, sizeof junk, f), sizeof junk);
    fclose(f);
    EXPECT_OPEN_FAIL(p, MG_ERR_FORMAT,
                     "truncated: shape (60000, 512) of float32 needs 122880000 data bytes after "
                     "the 128-byte header, the file has 1000");

    /* a 76-byte file declaring 16 TB: refused before any large allocation
     * (ASan aborts on such a malloc) */
    unsigned char h[128];
    const char *dict = "{'descr':'<f4','fortran_order':False,'shape':(100000000,40000)}";
    size_t dl = strlen(dict);
    assert_true(dl < 66);
    memcpy(h, "\x93NUMPY\x01\x00", 8);
    h[8] = 66;
    h[9] = 0;
    memcpy(h + 10, dict, dl);
    memset(h + 10 + dl, ' ', 66 - dl);
    h[75] = '\n';
    p = fpath("huge.npy");
    write_bytes(p, h, 76, NULL, 0);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_size, 76);
    EXPECT_OPEN_FAIL(p, MG_ERR_FORMAT,
                     "truncated: shape (100000000, 40000) of float32 needs 16000000000000 data "
                     "bytes after the 76-byte header, the file has 0");
    /* the stream reader too checks a regular file's size first */
    mg_npy_array a;
    f = fopen(p, "rb");
    assert_int_equal(mg_npy_read(f, &a), MG_ERR_FORMAT);
    fclose(f);
    EXPECT_MSG("npy", "truncated: shape (100000000, 40000)");
    assert_null(a.data);

    /* bytes after the data */
    const float three[3] = {1, 2, 3};
    p = fpath("extra.npy");
    write_npy(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", three, 11);
    EXPECT_OPEN_FAIL(p, MG_ERR_FORMAT, "3 bytes after the data: shape (2,) of float32");
    /* but the stream reader leaves them for the next read */
    f = fopen(p, "rb");
    assert_int_equal(mg_npy_read(f, &a), MG_OK);
    struct stat sx;
    assert_int_equal(stat(p, &sx), 0);
    assert_int_equal(ftell(f), sx.st_size - 3);
    fclose(f);
    mg_npy_array_free(&a);

    /* truncated by one byte */
    write_npy(p, "{'descr': '<f8', 'fortran_order': True, 'shape': (1, 1), }", three, 7);
    EXPECT_OPEN_FAIL(p, MG_ERR_FORMAT,
                     "needs 8 data bytes after the 128-byte header, the file has 7");
}

static void test_bad_stream(void **state)
{
    (void)state;
    /* mg_npy_read on streams: the same checks, "npy: " for the name */
    mg_npy_array a;
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(fwrite("\x93NUMPY\x05\x00\x10\x00", 1, 10, f), 10);
    rewind(f);
    assert_int_equal(mg_npy_read(f, &a), MG_ERR_FORMAT);
    EXPECT_MSG("npy: ", "unsupported .npy format version 5.0");
    fclose(f);
    f = tmpfile();
    unsigned char h[256];
    size_t n = build_header(h, sizeof h, 1, 0,
                            "{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }", 1);
    assert_int_equal(fwrite(h, 1, n, f), n);
    rewind(f);
    assert_int_equal(mg_npy_read(f, &a), MG_ERR_FORMAT);
    EXPECT_MSG("npy: ", "big-endian");
    fclose(f);
    /* two arrays one after another */
    f = tmpfile();
    const int16_t s[3] = {1, -2, 3};
    const double d = 0.5;
    assert_int_equal(mg_npy_write(f, MG_NPY_I16, s, 1, (const int64_t[]){3}), MG_OK);
    assert_int_equal(mg_npy_write(f, MG_NPY_F64, &d, 0, NULL), MG_OK);
    rewind(f);
    assert_int_equal(mg_npy_read(f, &a), MG_OK);
    assert_int_equal(a.type, MG_NPY_I16);
    assert_memory_equal(a.data, s, sizeof s);
    mg_npy_array_free(&a);
    assert_int_equal(mg_npy_read(f, &a), MG_OK);
    assert_int_equal(a.type, MG_NPY_F64);
    assert_int_equal(a.ndim, 0);
    assert_memory_equal(a.data, &d, sizeof d);
    mg_npy_array_free(&a);
    fclose(f);
}

/* The file shrinks after it was opened: a read error, not garbage. */
static void test_file_shrinks(void **state)
{
    (void)state;
    float v[64];
    for (int i = 0; i < 64; i++) v[i] = (float)i;
    const char *p = fpath("shrink.npy");
    assert_int_equal(mg_npy_save(p, MG_NPY_F32, v, 2, (const int64_t[]){16, 4}), MG_OK);
    mg_npy_reader *r = open_ok(p);
    assert_int_equal(truncate(p, 128 + 8 * 16), 0); /* 8 of the 16 rows left */
    float got[64];
    assert_int_equal(mg_npy_read_block_f32(r, 0, 8, got), MG_OK);
    assert_memory_equal(got, v, 32 * sizeof(float));
    assert_int_equal(mg_npy_read_block_f32(r, 6, 4, got), MG_ERR_IO);
    EXPECT_MSG(p, "unexpected end of file");
    mg_npy_close(r);
}

/* mg_npy_read from a pipe: no size to check, the buffer grows with the data. */
static void test_stream_pipe(void **state)
{
    (void)state;
    int fd[2];
    mg_npy_array a;
    /* a good array */
    assert_int_equal(pipe(fd), 0);
    FILE *w = fdopen(fd[1], "wb"), *rd = fdopen(fd[0], "rb");
    assert_true(w && rd);
    const uint16_t u[5] = {1, 2, 3, 65535, 0};
    assert_int_equal(mg_npy_write(w, MG_NPY_U16, u, 1, (const int64_t[]){5}), MG_OK);
    fclose(w);
    assert_int_equal(mg_npy_read(rd, &a), MG_OK);
    assert_int_equal(a.type, MG_NPY_U16);
    assert_memory_equal(a.data, u, sizeof u);
    mg_npy_array_free(&a);
    fclose(rd);
    /* a header that claims 16 TB, followed by 100 bytes */
    assert_int_equal(pipe(fd), 0);
    w = fdopen(fd[1], "wb");
    rd = fdopen(fd[0], "rb");
    unsigned char h[256], junk[100];
    size_t n = build_header(
        h, sizeof h, 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000, 40000)}",
        1);
    memset(junk, 0, sizeof junk);
    assert_int_equal(fwrite(h, 1, n, w), n);
    assert_int_equal(fwrite(junk, 1, sizeof junk, w), sizeof junk);
    fclose(w);
    assert_int_equal(mg_npy_read(rd, &a), MG_ERR_FORMAT);
    EXPECT_MSG("npy: ", "truncated: shape (100000000, 40000) of float32 needs 16000000000000 data "
                        "bytes after the 128-byte header, the file has 100");
    assert_null(a.data);
    fclose(rd);
    /* a header length past the end, and one too long */
    FILE *f = tmpfile();
    n = build_header(h, sizeof h, 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': ()}",
                     1);
    h[9] = 1; /* + 256 */
    assert_int_equal(fwrite(h, 1, n, f), n);
    rewind(f);
    assert_int_equal(mg_npy_read(f, &a), MG_ERR_FORMAT);
    EXPECT_MSG("npy: ", "runs past the end");
    rewind(f);
    assert_int_equal(fwrite("\x93NUMPY\x02\x00\x00\x00\x20\x00", 1, 12, f), 12); /* 2 MiB */
    rewind(f);
    assert_int_equal(mg_npy_read(f, &a), MG_ERR_FORMAT);
    EXPECT_MSG("npy: ", "too long");
    fclose(f);
}

/* mg_npy_read from memory (fmemopen: no file descriptor, so no size to check
 * first): a header claiming 16 TB over 60 bytes is "truncated", with no
 * allocation of the claimed size (ASan would abort on it); an array of
 * 3 MiB, past the first 1 MiB of the growing buffer, reads back exactly, C
 * and Fortran order; two arrays in turn. */
static void test_stream_memory(void **state)
{
    (void)state;
    mg_npy_array a;
    unsigned char buf[256];
    size_t n = build_header(buf, sizeof buf, 1, 0,
                            "{'descr':'<f4','fortran_order':False,'shape':(100000000,40000)}", 1);
    assert_int_equal(n, 128);
    memset(buf + n, 0x11, 60);
    FILE *f = fmemopen(buf, n + 60, "rb");
    assert_non_null(f);
    assert_int_equal(mg_npy_read(f, &a), MG_ERR_FORMAT);
    EXPECT_MSG("npy: ", "truncated: shape (100000000, 40000) of float32 needs 16000000000000 data "
                        "bytes after the 128-byte header, the file has 60");
    assert_null(a.data);
    fclose(f);

    enum { R = 3 << 10, C = 256 }; /* 3 MiB of float32 */
    float *v = malloc(sizeof(float) * R * C);
    assert_non_null(v);
    for (int i = 0; i < R * C; i++) v[i] = (float)i * 0.5f;
    for (int fortran = 0; fortran <= 1; fortran++) {
        char *mem = NULL;
        size_t len = 0;
        FILE *w = open_memstream(&mem, &len);
        assert_non_null(w);
        if (!fortran) {
            assert_int_equal(mg_npy_write_f32(w, v, 2, (const int64_t[]){R, C}), MG_OK);
        } else {
            /* the same array stored in Fortran order: column j, then row i */
            char dict[128];
            snprintf(dict, sizeof dict,
                     "{'descr': '<f4', 'fortran_order': True, 'shape': (%d, %d), }", R, C);
            n = build_header(buf, sizeof buf, 1, 0, dict, 1);
            assert_int_equal(fwrite(buf, 1, n, w), n);
            for (int j = 0; j < C; j++)
                for (int i = 0; i < R; i++)
                    assert_int_equal(fwrite(&v[i * C + j], 4, 1, w), 1);
        }
        const int16_t s3[3] = {7, -8, 9};
        assert_int_equal(mg_npy_write(w, MG_NPY_I16, s3, 1, (const int64_t[]){3}), MG_OK);
        assert_int_equal(fclose(w), 0);
        f = fmemopen(mem, len, "rb");
        assert_non_null(f);
        assert_int_equal(mg_npy_read(f, &a), MG_OK);
        assert_int_equal(a.type, MG_NPY_F32);
        assert_int_equal(a.ndim, 2);
        assert_int_equal(a.shape[0], R);
        assert_int_equal(a.shape[1], C);
        assert_int_equal(a.count, (size_t)R * C);
        assert_memory_equal(a.data, v, sizeof(float) * R * C);
        mg_npy_array_free(&a);
        assert_int_equal(mg_npy_read(f, &a), MG_OK);
        assert_int_equal(a.type, MG_NPY_I16);
        assert_memory_equal(a.data, s3, sizeof s3);
        mg_npy_array_free(&a);
        assert_int_equal(mg_npy_read(f, &a), MG_ERR_FORMAT); /* the end */
        EXPECT_MSG("npy: ", "the file is empty");
        fclose(f);
        free(mem);
    }
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_dtype),
        cmocka_unit_test(test_header_forms),
        cmocka_unit_test(test_c_vs_fortran_2d),
        cmocka_unit_test(test_c_vs_fortran_4d),
        cmocka_unit_test(test_rows_random),
        cmocka_unit_test(test_rows_large),
        cmocka_unit_test(test_f64_to_f32_rounding),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_zero_rows),
        cmocka_unit_test(test_bad_indices),
        cmocka_unit_test(test_bad_not_npy),
        cmocka_unit_test(test_bad_version_and_length),
        cmocka_unit_test(test_bad_header_dict),
        cmocka_unit_test(test_bad_dtypes),
        cmocka_unit_test(test_bad_sizes),
        cmocka_unit_test(test_bad_stream),
        cmocka_unit_test(test_file_shrinks),
        cmocka_unit_test(test_stream_pipe),
        cmocka_unit_test(test_stream_memory),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
