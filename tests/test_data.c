/* test_data.c - datasets: IDX and CSV loaders (good files and every kind of
 * bad one), synthetic generators, subsets, the validation split and the
 * standardizer; Fashion-MNIST itself when it is installed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include "mixgeo.h"

#include <dirent.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---------------------------------------------------------------- helpers */

static char g_dir[2048]; /* the group's temporary directory */

static void assert_close(double got, double want, double rtol, double atol)
{
    double err = fabs(got - want), lim = atol + rtol * fabs(want);
    if (!(err <= lim)) fail_msg("got %.12g, want %.12g (|err| %.3g > %.3g)", got, want, err, lim);
}

static void assert_contains(const char *s, const char *sub)
{
    if (!strstr(s, sub)) fail_msg("message \"%s\" does not contain \"%s\"", s, sub);
}

/* Path in the temporary directory (static buffers, a few at a time). */
static const char *tpath(const char *name)
{
    static char bufs[4][4096];
    static int k;
    char *b = bufs[k++ & 3];
    snprintf(b, sizeof bufs[0], "%s/%s", g_dir, name);
    return b;
}

static void rm_tree(const char *path)
{
    DIR *dir = opendir(path);
    if (!dir) {
        remove(path);
        return;
    }
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        struct stat sb;
        if (lstat(sub, &sb) == 0 && S_ISDIR(sb.st_mode)) rm_tree(sub);
        else remove(sub);
    }
    closedir(dir);
    rmdir(path);
}

static int group_setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/mg_test_data_XXXXXX", t && *t ? t : P_tmpdir);
    return mkdtemp(g_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    rm_tree(g_dir);
    return 0;
}

static void write_bytes(const char *path, int gz, const void *data, size_t len)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        assert_non_null(f);
        if (len) assert_int_equal(gzwrite(f, data, (unsigned)len), (int)len);
        assert_int_equal(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        if (len) assert_int_equal(fwrite(data, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
    }
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* An IDX file: magic, ndims sizes, then payload_len bytes of payload (which
 * may be shorter than the sizes say, to make truncated files). */
static void write_idx(const char *path, int gz, uint32_t magic, const uint32_t *dims, int ndims,
                      const unsigned char *payload, size_t payload_len)
{
    size_t len = 4 + 4 * (size_t)ndims + payload_len;
    unsigned char *buf = malloc(len);
    assert_non_null(buf);
    put_be32(buf, magic);
    for (int i = 0; i < ndims; i++) put_be32(buf + 4 + 4 * i, dims[i]);
    if (payload_len) memcpy(buf + 4 + 4 * ndims, payload, payload_len);
    write_bytes(path, gz, buf, len);
    free(buf);
}

/* The standard small set: N_IMG images of ROWS x COLS, pixel (i, j) =
 * (37 i + 11 j) mod 256, labels i mod 3. */
enum { N_IMG = 7, ROWS = 3, COLS = 4 };
static unsigned char g_pix[N_IMG * ROWS * COLS], g_lab[N_IMG];

static void make_small(void)
{
    for (int i = 0; i < N_IMG; i++) {
        for (int j = 0; j < ROWS * COLS; j++)
            g_pix[i * ROWS * COLS + j] = (unsigned char)((37 * i + 11 * j) % 256);
        g_lab[i] = (unsigned char)(i % 3);
    }
    g_pix[5] = 255; /* the top of the range */
    g_pix[6] = 0;
}

static void write_small(const char *img, const char *lab, int gz)
{
    make_small();
    uint32_t idims[3] = {N_IMG, ROWS, COLS}, ldims[1] = {N_IMG};
    write_idx(img, gz, 0x803, idims, 3, g_pix, sizeof g_pix);
    write_idx(lab, gz, 0x801, ldims, 1, g_lab, sizeof g_lab);
}

static void check_small(const mg_dataset *d, int classes)
{
    assert_int_equal(d->n, N_IMG);
    assert_int_equal(d->dim, ROWS * COLS);
    assert_int_equal(d->classes, classes);
    assert_int_equal(d->c, 1);
    assert_int_equal(d->h, ROWS);
    assert_int_equal(d->w, COLS);
    for (int i = 0; i < N_IMG * ROWS * COLS; i++) {
        assert_true(d->x[i] >= 0.0f && d->x[i] <= 1.0f);
        assert_close(d->x[i], g_pix[i] / 255.0, 1e-6, 1e-7);
    }
    assert_true(d->x[5] == 1.0f && d->x[6] == 0.0f);
    for (int i = 0; i < N_IMG; i++) assert_int_equal(d->y[i], g_lab[i]);
}

/* ---------------------------------------------------------------- IDX */

static void test_idx_gz_and_raw(void **state)
{
    (void)state;
    for (int gz = 0; gz <= 1; gz++) {
        const char *img = tpath(gz ? "small-img.gz" : "small-img");
        const char *lab = tpath(gz ? "small-lab.gz" : "small-lab");
        write_small(img, lab, gz);
        mg_dataset *d = NULL;
        assert_int_equal(mg_load_idx(img, lab, 3, &d), MG_OK);
        check_small(d, 3);
        assert_string_equal(d->name, gz ? "small-img.gz" : "small-img");
        mg_dataset_free(d);
        /* classes = 0: max label + 1; a larger class count is kept. */
        assert_int_equal(mg_load_idx(img, lab, 0, &d), MG_OK);
        check_small(d, 3);
        mg_dataset_free(d);
        assert_int_equal(mg_load_idx(img, lab, 10, &d), MG_OK);
        check_small(d, 10);
        mg_dataset_free(d);
    }
}

static void test_idx_dir(void **state)
{
    (void)state;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tpath("mini-mnist"));
    assert_int_equal(mkdir(dir, 0777), 0);
    char img[4200], lab[4200];
    /* train: both gzipped; test: raw images, gzipped labels. */
    snprintf(img, sizeof img, "%s/train-images-idx3-ubyte.gz", dir);
    snprintf(lab, sizeof lab, "%s/train-labels-idx1-ubyte.gz", dir);
    write_small(img, lab, 1);
    snprintf(img, sizeof img, "%s/t10k-images-idx3-ubyte", dir);
    snprintf(lab, sizeof lab, "%s/t10k-labels-idx1-ubyte.gz", dir);
    write_small(img, lab, 0);
    make_small();
    uint32_t ldims[1] = {N_IMG};
    write_idx(lab, 1, 0x801, ldims, 1, g_lab, sizeof g_lab);

    mg_dataset *d = NULL;
    assert_int_equal(mg_load_idx_dir(dir, "train", 3, &d), MG_OK);
    check_small(d, 3);
    assert_string_equal(d->name, "mini-mnist");
    mg_dataset_free(d);
    char slash[4200];
    snprintf(slash, sizeof slash, "%s/", dir);
    assert_int_equal(mg_load_idx_dir(slash, "test", 3, &d), MG_OK);
    check_small(d, 3);
    assert_string_equal(d->name, "mini-mnist");
    mg_dataset_free(d);

    /* The .gz file wins over a raw one of the same name. */
    snprintf(img, sizeof img, "%s/train-images-idx3-ubyte", dir);
    write_bytes(img, 0, "junk", 4);
    assert_int_equal(mg_load_idx_dir(dir, "train", 3, &d), MG_OK);
    mg_dataset_free(d);

    d = (mg_dataset *)&d; /* must be reset to NULL on failure */
    assert_int_equal(mg_load_idx_dir(dir, "val", 3, &d), MG_ERR_CONFIG);
    assert_null(d);
    assert_contains(mg_errmsg(), "val");

    /* Missing labels file: the message names it. */
    snprintf(lab, sizeof lab, "%s/t10k-labels-idx1-ubyte.gz", dir);
    assert_int_equal(remove(lab), 0);
    assert_int_equal(mg_load_idx_dir(dir, "test", 3, &d), MG_ERR_IO);
    assert_null(d);
    assert_contains(mg_errmsg(), "t10k-labels-idx1-ubyte");
}

/* Load img/lab expecting status st and a message naming `names` (and `also`). */
static void expect_idx_error(const char *img, const char *lab, int classes, mg_status st,
                             const char *names, const char *also)
{
    mg_dataset *d = (mg_dataset *)&d;
    mg_status got = mg_load_idx(img, lab, classes, &d);
    if (got != st) fail_msg("%s / %s: status %s, want %s (%s)", img, lab, mg_status_name(got),
                            mg_status_name(st), mg_errmsg());
    assert_null(d);
    assert_contains(mg_errmsg(), names);
    if (also) assert_contains(mg_errmsg(), also);
    assert_null(strchr(mg_errmsg(), '\n'));
}

static void test_idx_corrupt(void **state)
{
    (void)state;
    make_small();
    uint32_t idims[3] = {N_IMG, ROWS, COLS}, ldims[1] = {N_IMG};
    for (int gz = 0; gz <= 1; gz++) {
        const char *good_img = tpath("c-img"), *good_lab = tpath("c-lab");
        write_small(good_img, good_lab, gz);
        const char *bad = tpath(gz ? "bad.gz" : "bad");

        /* Wrong magic: a labels file given as images, and vice versa. */
        write_idx(bad, gz, 0x801, ldims, 1, g_lab, sizeof g_lab);
        expect_idx_error(bad, good_lab, 3, MG_ERR_FORMAT, bad, "0x00000803");
        expect_idx_error(bad, good_lab, 3, MG_ERR_FORMAT, bad, "0x00000801");
        write_idx(bad, gz, 0x803, idims, 3, g_pix, sizeof g_pix);
        expect_idx_error(good_img, bad, 3, MG_ERR_FORMAT, bad, "0x00000801");
        /* Wrong element type (0x0D = float) with the right ndims. */
        write_idx(bad, gz, 0x0D03, idims, 3, g_pix, sizeof g_pix);
        expect_idx_error(bad, good_lab, 3, MG_ERR_FORMAT, bad, "0x00000d03");

        /* Truncated header and truncated payloads. */
        write_bytes(bad, gz, "\0\0\x08", 3);
        expect_idx_error(bad, good_lab, 3, MG_ERR_FORMAT, bad, NULL);
        write_bytes(bad, gz, "\0\0\x08\x03\0\0\0\x07\0\0", 10);
        expect_idx_error(bad, good_lab, 3, MG_ERR_FORMAT, bad, "header");
        write_idx(bad, gz, 0x803, idims, 3, g_pix, sizeof g_pix - 1);
        expect_idx_error(bad, good_lab, 3, MG_ERR_FORMAT, bad, "truncated");
        write_idx(bad, gz, 0x803, idims, 3, g_pix, 0);
        expect_idx_error(bad, good_lab, 3, MG_ERR_FORMAT, bad, "truncated");
        write_idx(bad, gz, 0x801, ldims, 1, g_lab, sizeof g_lab - 2);
        expect_idx_error(good_img, bad, 3, MG_ERR_FORMAT, bad, "truncated");

        /* Count mismatch: both names and both counts. */
        uint32_t six[1] = {N_IMG - 1};
        write_idx(bad, gz, 0x801, six, 1, g_lab, N_IMG - 1);
        expect_idx_error(good_img, bad, 3, MG_ERR_FORMAT, bad, good_img);
        assert_contains(mg_errmsg(), "7 images");
        assert_contains(mg_errmsg(), "6 labels");
        uint32_t eight[1] = {N_IMG + 1};
        unsigned char lab8[N_IMG + 1] = {0};
        write_idx(bad, gz, 0x801, eight, 1, lab8, sizeof lab8);
        expect_idx_error(good_img, bad, 3, MG_ERR_FORMAT, bad, "8 labels");

        /* Zero-sized images. */
        uint32_t zero[3] = {N_IMG, 0, COLS};
        write_idx(bad, gz, 0x803, zero, 3, NULL, 0);
        expect_idx_error(bad, good_lab, 3, MG_ERR_FORMAT, bad, NULL);

        /* Label out of range: index and class count named. */
        expect_idx_error(good_img, good_lab, 2, MG_ERR_FORMAT, good_lab, "label 2");
        unsigned char lab[N_IMG];
        memcpy(lab, g_lab, sizeof lab);
        lab[4] = 200;
        write_idx(bad, gz, 0x801, ldims, 1, lab, sizeof lab);
        expect_idx_error(good_img, bad, 10, MG_ERR_FORMAT, bad, "example 4");
        mg_dataset *d = NULL;
        assert_int_equal(mg_load_idx(good_img, bad, 0, &d), MG_OK);
        assert_int_equal(d->classes, 201);
        mg_dataset_free(d);

        /* Missing files. */
        const char *none = tpath("does-not-exist");
        expect_idx_error(none, good_lab, 3, MG_ERR_IO, none, NULL);
        expect_idx_error(good_img, none, 3, MG_ERR_IO, none, NULL);

        /* Bad class count. */
        d = NULL;
        assert_int_equal(mg_load_idx(good_img, good_lab, -1, &d), MG_ERR_CONFIG);
        assert_null(d);
    }

    /* A gzip stream cut in the middle: a format error naming the file. */
    {
        enum { BIG = 5000, PIX = BIG * 16 };
        unsigned char *pix = malloc(PIX);
        assert_non_null(pix);
        mg_rng r;
        mg_rng_seed(&r, 7);
        for (int i = 0; i < PIX; i++) pix[i] = (unsigned char)mg_rng_below(&r, 4);
        uint32_t dims[3] = {BIG, 4, 4};
        const char *gzp = tpath("cut.gz");
        write_idx(gzp, 1, 0x803, dims, 3, pix, PIX);
        FILE *f = fopen(gzp, "rb");
        assert_non_null(f);
        size_t len = fread(pix, 1, PIX, f); /* compresses to about a quarter */
        fclose(f);
        assert_true(len > 1000 && len < PIX);
        write_bytes(gzp, 0, pix, len / 2);
        free(pix);
        uint32_t ld[1] = {BIG};
        unsigned char *lab = calloc(BIG, 1);
        assert_non_null(lab);
        const char *lp = tpath("cut-lab");
        write_idx(lp, 0, 0x801, ld, 1, lab, BIG);
        free(lab);
        expect_idx_error(gzp, lp, 10, MG_ERR_FORMAT, gzp, NULL);
    }
}

/* Issue 12 item 1: a header is never trusted for an allocation.  A 76-byte
 * image file that declares 2^31 - 1 images of 64 x 128 (16 TiB) fails as
 * "truncated or corrupt" naming the file, not as "out of memory" (and under
 * ASan it must not abort on a 16 TiB malloc); the same compressed. */
static void test_idx_huge_header(void **state)
{
    (void)state;
    uint32_t idims[3] = {2147483647u, 64, 128}, ldims[1] = {2147483647u};
    unsigned char junk[60];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)(i * 7);
    for (int gz = 0; gz <= 1; gz++) {
        const char *img = tpath(gz ? "huge-img.gz" : "huge-img");
        const char *lab = tpath(gz ? "huge-lab.gz" : "huge-lab");
        write_idx(img, gz, 0x803, idims, 3, junk, sizeof junk);
        write_idx(lab, gz, 0x801, ldims, 1, junk, 10);
        if (!gz) {
            struct stat sb;
            assert_int_equal(stat(img, &sb), 0);
            assert_int_equal(sb.st_size, 76);
        }
        expect_idx_error(img, lab, 0, MG_ERR_FORMAT, img, "truncated or corrupt");
        assert_contains(mg_errmsg(), "= 17592186036224 bytes of data, the file has 60");
    }
}

/* The payload is read in blocks of 4 KiB, 8 KiB, ... 1 MiB, 1 MiB, ...:
 * payloads across many blocks (images and labels), ending on a block
 * boundary or past the doubling load exactly. */
static void test_idx_blocks(void **state)
{
    (void)state;
    static const uint32_t shapes[][3] = {
        {1100000, 1, 1}, {1024, 32, 32}, {3, 1000, 1000}, {4096, 1, 1}, {1, 1, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        uint32_t n = shapes[s][0], dim = shapes[s][1] * shapes[s][2];
        size_t bytes = (size_t)n * dim;
        unsigned char *pix = malloc(bytes), *lab = malloc(n);
        assert_true(pix && lab);
        for (size_t i = 0; i < bytes; i++) pix[i] = (unsigned char)(i * 2654435761u >> 13);
        for (uint32_t i = 0; i < n; i++) lab[i] = (unsigned char)(i % 7);
        lab[n - 1] = 15;
        int gz = (int)(s & 1);
        const char *img = tpath(gz ? "blk-img.gz" : "blk-img");
        const char *lp = tpath(gz ? "blk-lab.gz" : "blk-lab");
        write_idx(img, gz, 0x803, shapes[s], 3, pix, bytes);
        write_idx(lp, gz, 0x801, &n, 1, lab, n);
        mg_dataset *d = NULL;
        assert_int_equal(mg_load_idx(img, lp, 0, &d), MG_OK);
        assert_int_equal(d->n, (int)n);
        assert_int_equal(d->dim, (int)dim);
        assert_int_equal(d->classes, 16);
        for (size_t i = 0; i < bytes; i++)
            if (d->x[i] != (float)pix[i] / 255.0f) fail_msg("shape %zu: pixel %zu", s, i);
        for (uint32_t i = 0; i < n; i++)
            if (d->y[i] != lab[i]) fail_msg("shape %zu: label %u", s, (unsigned)i);
        mg_dataset_free(d);
        free(pix);
        free(lab);
    }
}

/* The file must end with the payload (raw and .gz), and a .gz file's
 * trailer (CRC and length) must be there and right. */
static void test_idx_trailer(void **state)
{
    (void)state;
    make_small();
    uint32_t idims[3] = {N_IMG, ROWS, COLS}, ldims[1] = {N_IMG};
    unsigned char pix[sizeof g_pix + 1];
    memcpy(pix, g_pix, sizeof g_pix);
    pix[sizeof g_pix] = 1;
    const char *good_img = tpath("t-img"), *good_lab = tpath("t-lab");
    write_small(good_img, good_lab, 0);
    for (int gz = 0; gz <= 1; gz++) {
        const char *bad = tpath(gz ? "long.gz" : "long");
        write_idx(bad, gz, 0x803, idims, 3, pix, sizeof pix);
        expect_idx_error(bad, good_lab, 3, MG_ERR_FORMAT, bad, "more data than the header says");
        assert_contains(mg_errmsg(), "7 images of 3x4 = 84 bytes");
        unsigned char lab[N_IMG + 5] = {0};
        write_idx(bad, gz, 0x801, ldims, 1, lab, sizeof lab);
        expect_idx_error(good_img, bad, 3, MG_ERR_FORMAT, bad, "more data than the header says");
    }
    /* a .gz file with a wrong CRC, and one cut just before its 8-byte trailer */
    const char *gzp = tpath("crc.gz");
    write_idx(gzp, 1, 0x803, idims, 3, g_pix, sizeof g_pix);
    unsigned char buf[4096];
    FILE *f = fopen(gzp, "rb");
    assert_non_null(f);
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(len > 20 && len < sizeof buf);
    buf[len - 8] ^= 0x55; /* CRC32 */
    write_bytes(gzp, 0, buf, len);
    expect_idx_error(gzp, good_lab, 3, MG_ERR_FORMAT, gzp, "corrupt");
    buf[len - 8] ^= 0x55;
    write_bytes(gzp, 0, buf, len);
    mg_dataset *d = NULL;
    assert_int_equal(mg_load_idx(gzp, good_lab, 3, &d), MG_OK); /* the repaired file loads */
    mg_dataset_free(d);
    write_bytes(gzp, 0, buf, len - 8);
    expect_idx_error(gzp, good_lab, 3, MG_ERR_FORMAT, gzp, "truncated or corrupt");
}

/* ---------------------------------------------------------------- CSV */

static void write_text(const char *path, const char *text)
{
    write_bytes(path, 0, text, strlen(text));
}

static void test_csv_good(void **state)
{
    (void)state;
    const char *p = tpath("good.csv");
    write_text(p, "# a comment\n"
                  "\n"
                  "x1, x2 ,label\r\n"
                  "1.5,-2,0\r\n"
                  "   # indented comment\n"
                  "  3e-1 ,\t4.25, 2 \n"
                  "\t\n"
                  "-0.0,1E2,1"); /* no final newline */
    mg_dataset *d = NULL;
    assert_int_equal(mg_load_csv(p, 0, &d), MG_OK);
    assert_int_equal(d->n, 3);
    assert_int_equal(d->dim, 2);
    assert_int_equal(d->classes, 3);
    assert_int_equal(d->c, 1);
    assert_int_equal(d->h, 1);
    assert_int_equal(d->w, 2);
    assert_string_equal(d->name, "good.csv");
    const float want[] = {1.5f, -2.0f, 0.3f, 4.25f, -0.0f, 100.0f};
    for (int i = 0; i < 6; i++) assert_true(d->x[i] == want[i]);
    assert_int_equal(d->y[0], 0);
    assert_int_equal(d->y[1], 2);
    assert_int_equal(d->y[2], 1);
    mg_dataset_free(d);
    assert_int_equal(mg_load_csv(p, 5, &d), MG_OK);
    assert_int_equal(d->classes, 5);
    mg_dataset_free(d);

    /* No header; first line numeric is data.  A very long line (2500
     * features, > 16 KiB) and many rows (growth of the buffers). */
    enum { F = 2500, R = 300 };
    const char *q = tpath("long.csv");
    FILE *f = fopen(q, "w");
    assert_non_null(f);
    for (int i = 0; i < R; i++) {
        for (int j = 0; j < F; j++) fprintf(f, "%d.125,", (i * 7 + j) % 1000);
        fprintf(f, "%d\n", i % 4);
    }
    assert_int_equal(fclose(f), 0);
    assert_int_equal(mg_load_csv(q, 0, &d), MG_OK);
    assert_int_equal(d->n, R);
    assert_int_equal(d->dim, F);
    assert_int_equal(d->classes, 4);
    for (int i = 0; i < R; i += 37)
        for (int j = 0; j < F; j += 101)
            assert_true(d->x[(size_t)i * F + j] == (float)((i * 7 + j) % 1000) + 0.125f);
    for (int i = 0; i < R; i++) assert_int_equal(d->y[i], i % 4);
    mg_dataset_free(d);

    /* The parse does not depend on the process locale (if a comma-decimal
     * locale is installed, switch to it for the call). */
    const char *old = setlocale(LC_NUMERIC, NULL);
    char saved[256];
    snprintf(saved, sizeof saved, "%s", old ? old : "C");
    if (setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
        assert_int_equal(mg_load_csv(p, 0, &d), MG_OK);
        assert_true(d->x[0] == 1.5f && d->x[3] == 4.25f);
        mg_dataset_free(d);
        setlocale(LC_NUMERIC, saved);
    }
}

static void test_csv_bad(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int classes;
        mg_status st;
        const char *where; /* ":<line>" */
        const char *what;
    } cases[] = {
        {"1,2,0\n3,4,1\n5,6\n", 0, MG_ERR_FORMAT, ":3:", "2 fields, expected 3"},
        {"a,b,c\n1,2,0\n\n1,2,3,1\n", 0, MG_ERR_FORMAT, ":4:",
         "4 fields, expected 3 (as on line 2)"},
        {"#c\n1,2,0\n1,x2,0\n", 0, MG_ERR_FORMAT, ":3:", "field 2 ('x2') is not a number"},
        {"1,2,0\n1,,0\n", 0, MG_ERR_FORMAT, ":2:", "field 2"},
        {"1,2,0\n1,2 3,0\n", 0, MG_ERR_FORMAT, ":2:", "not a number"},
        {"1,2,0\n1,nan,0\n", 0, MG_ERR_FORMAT, ":2:", "finite"},
        {"1,2,0\n1,1e300,0\n", 0, MG_ERR_FORMAT, ":2:", "finite"},
        {"1,2,0\n\n\n1,2,1.5\n", 0, MG_ERR_FORMAT, ":4:", "not an integer"},
        {"1,2,0\n1,2,\n", 0, MG_ERR_FORMAT, ":2:", "not an integer"},
        {"1,2,-1\n", 0, MG_ERR_FORMAT, ":1:", "negative"},
        {"1,2,0\n1,2,99999999999999999999\n", 0, MG_ERR_FORMAT, ":2:", "too large"},
        {"1,2,0\n1,2,3\n", 3, MG_ERR_FORMAT, ":2:", "< 3 classes"},
        {"7\n", 0, MG_ERR_FORMAT, ":1:", "one field"},
        {"# only comments\n\nx,y,label\n", 0, MG_ERR_FORMAT, "bad.csv", "no data rows"},
        {"", 0, MG_ERR_FORMAT, "bad.csv", "no data rows"},
    };
    const char *p = tpath("bad.csv");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_text(p, cases[i].text);
        mg_dataset *d = (mg_dataset *)&d;
        mg_status st = mg_load_csv(p, cases[i].classes, &d);
        if (st != cases[i].st)
            fail_msg("case %zu: status %s, want %s (%s)", i, mg_status_name(st),
                     mg_status_name(cases[i].st), mg_errmsg());
        assert_null(d);
        assert_contains(mg_errmsg(), p);
        assert_contains(mg_errmsg(), cases[i].where);
        assert_contains(mg_errmsg(), cases[i].what);
    }
    mg_dataset *d = NULL;
    const char *none = tpath("missing.csv");
    assert_int_equal(mg_load_csv(none, 0, &d), MG_ERR_IO);
    assert_contains(mg_errmsg(), none);
    write_text(p, "1,2,0\n");
    assert_int_equal(mg_load_csv(p, -2, &d), MG_ERR_CONFIG);
    assert_null(d);
}

/* mg_log messages of a call, collected. */
static char g_log[4096];
static void collect_log(int level, const char *msg, void *user)
{
    (void)user;
    size_t n = strlen(g_log);
    snprintf(g_log + n, sizeof g_log - n, "%d %s\n", level, msg);
}

/* Issue 12 item 5: the first content row is data when every field is a
 * number, a header (with a warning) when none is, an error in between. */
static void test_csv_header_rule(void **state)
{
    (void)state;
    const char *p = tpath("hdr.csv");
    mg_dataset *d = NULL;
    mg_log_set(collect_log, NULL);

    /* a header: skipped, with a warning naming FILE:LINE */
    g_log[0] = '\0';
    write_text(p, "# comment\n\n x1 , x2 ,label\n1,2,0\n3,4,1\n");
    assert_int_equal(mg_load_csv(p, 0, &d), MG_OK);
    assert_int_equal(d->n, 2);
    mg_dataset_free(d);
    assert_contains(g_log, "1 ");
    assert_contains(g_log, p);
    assert_contains(g_log, ":3: first row taken as a header");
    assert_contains(g_log, "x1 , x2 ,label");

    /* data: no warning */
    g_log[0] = '\0';
    write_text(p, "1,2,0\n3,4,1\n");
    assert_int_equal(mg_load_csv(p, 0, &d), MG_OK);
    assert_int_equal(d->n, 2);
    mg_dataset_free(d);
    assert_string_equal(g_log, "");

    /* a typo in the first data row is an error naming FILE:LINE and the field,
     * not a header that silently drops the row */
    static const struct {
        const char *text, *what;
    } bad[] = {
        {"1.5,2..5,0\n3,4,1\n", ":1: field 2 ('2..5') is not a number but 2 of the 3"},
        {"#c\n1,2,O\n3,4,1\n", ":2: field 3 ('O') is not a number but 2 of the 3"},
        {"x1,2,label\n1,2,0\n", ":1: field 1 ('x1') is not a number but 1 of the 3"},
        {"1,,0\n", ":1: field 2 ('') is not a number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        g_log[0] = '\0';
        write_text(p, bad[i].text);
        d = (mg_dataset *)&d;
        assert_int_equal(mg_load_csv(p, 0, &d), MG_ERR_FORMAT);
        assert_null(d);
        assert_contains(mg_errmsg(), p);
        assert_contains(mg_errmsg(), bad[i].what);
        assert_contains(mg_errmsg(), "'#' comment");
        assert_string_equal(g_log, "");
    }
    /* a NUL byte is not text */
    write_bytes(p, 0, "1,2,0\n1,2\0,0\n", 13);
    assert_int_equal(mg_load_csv(p, 0, &d), MG_ERR_FORMAT);
    assert_contains(mg_errmsg(), ":2: a NUL byte");
    mg_log_set(NULL, NULL);
}

/* Issue 12 item 5: a class count taken from the labels is capped at
 * MG_MAX_AUTO_CLASSES; the message names FILE:LINE and --classes, and an
 * explicit class count lifts the cap. */
static void test_csv_class_cap(void **state)
{
    (void)state;
    const char *p = tpath("cap.csv");
    mg_dataset *d = NULL;
    char text[256];
    snprintf(text, sizeof text, "0.5,0\n0.25,1\n1,%d\n", MG_MAX_AUTO_CLASSES - 1);
    write_text(p, text);
    assert_int_equal(mg_load_csv(p, 0, &d), MG_OK);
    assert_int_equal(d->classes, MG_MAX_AUTO_CLASSES);
    mg_dataset_free(d);

    write_text(p, "0.5,0\n0.25,1\n\n# a stray label\n1,4000000\n2,1\n");
    d = (mg_dataset *)&d;
    assert_int_equal(mg_load_csv(p, 0, &d), MG_ERR_FORMAT);
    assert_null(d);
    assert_contains(mg_errmsg(), p);
    assert_contains(mg_errmsg(), ":5: label 4000000 would make 4000001 classes");
    assert_contains(mg_errmsg(), "--classes");
    snprintf(text, sizeof text, "0.5,0\n1,%d\n", MG_MAX_AUTO_CLASSES);
    write_text(p, text);
    assert_int_equal(mg_load_csv(p, 0, &d), MG_ERR_FORMAT);
    assert_contains(mg_errmsg(), ":2: label 10000 would make 10001 classes");

    /* an explicit class count allows more */
    assert_int_equal(mg_load_csv(p, MG_MAX_AUTO_CLASSES + 1, &d), MG_OK);
    assert_int_equal(d->classes, MG_MAX_AUTO_CLASSES + 1);
    assert_int_equal(d->y[1], MG_MAX_AUTO_CLASSES);
    mg_dataset_free(d);
    write_text(p, "0.5,0\n1,4000000\n");
    assert_int_equal(mg_load_csv(p, 4000001, &d), MG_OK);
    assert_int_equal(d->classes, 4000001);
    mg_dataset_free(d);
}

/* ---------------------------------------------------------------- synthetic */

static mg_dataset *synth(mg_synth_kind kind, int classes, int per_class, double noise, int dim,
                         uint64_t seed)
{
    mg_synth_config cfg = {kind, classes, per_class, noise, dim};
    mg_rng r;
    mg_rng_seed3(&r, seed, MG_STREAM_DATA, 0);
    mg_dataset *d = NULL;
    mg_status st = mg_synth_generate(&cfg, &r, &d);
    if (st != MG_OK) fail_msg("mg_synth_generate: %s", mg_errmsg());
    return d;
}

/* Counts, balance, shape, name; and the first 16 labels are not all one class. */
static void check_synth_common(const mg_dataset *d, const char *name, int classes, int per_class,
                               int dim)
{
    assert_int_equal(d->n, classes * per_class);
    assert_int_equal(d->dim, dim);
    assert_int_equal(d->classes, classes);
    assert_int_equal(d->c, 1);
    assert_int_equal(d->h, 1);
    assert_int_equal(d->w, dim);
    assert_string_equal(d->name, name);
    int counts[16];
    mg_dataset_class_counts(d, counts);
    for (int c = 0; c < classes; c++) assert_int_equal(counts[c], per_class);
    int mixed = 0;
    for (int i = 1; i < 16 && i < d->n; i++) mixed |= d->y[i] != d->y[0];
    assert_true(mixed);
    for (size_t i = 0; i < (size_t)d->n * (size_t)d->dim; i++) assert_true(isfinite(d->x[i]));
}

static void test_synth_shapes(void **state)
{
    (void)state;
    const double pi = 3.14159265358979323846;
    /* Spiral, noise 0: r = 15 t, angle = 2 pi (1.75 t + c / classes). */
    for (int arms = 2; arms <= 3; arms++) {
        mg_dataset *d = synth(MG_SYNTH_SPIRAL, arms, 250, 0.0, 0, 11);
        check_synth_common(d, "spiral", arms, 250, 2);
        double rmax = 0;
        for (int i = 0; i < d->n; i++) {
            double x = d->x[2 * i], y = d->x[2 * i + 1];
            assert_true(fabs(x) <= 16 && fabs(y) <= 16);
            double r = hypot(x, y);
            assert_true(r > 0 && r <= 15.0 + 1e-4);
            if (r > rmax) rmax = r;
            double a = 2 * pi * (1.75 * r / 15.0 + (double)d->y[i] / arms);
            assert_close(x, r * cos(a), 0, 2e-4 * (1 + r));
            assert_close(y, r * sin(a), 0, 2e-4 * (1 + r));
        }
        assert_true(rmax > 14.0); /* the arms reach out to the box */
        mg_dataset_free(d);
    }
    /* With noise, points spread around the arms. */
    mg_dataset *d = synth(MG_SYNTH_SPIRAL, 2, 500, 0.5, 0, 11);
    check_synth_common(d, "spiral", 2, 500, 2);
    for (int i = 0; i < d->n * 2; i++) assert_true(fabs(d->x[i]) < 18);
    mg_dataset_free(d);

    /* Moons, noise 0: class 0 on the unit circle about (-0.5, -0.25) upper
     * half, class 1 about (0.5, 0.25) lower half. */
    d = synth(MG_SYNTH_MOONS, 2, 200, 0.0, 0, 12);
    check_synth_common(d, "moons", 2, 200, 2);
    for (int i = 0; i < d->n; i++) {
        double x = d->x[2 * i], y = d->x[2 * i + 1];
        double cx = d->y[i] == 0 ? -0.5 : 0.5, cy = d->y[i] == 0 ? -0.25 : 0.25;
        assert_close(hypot(x - cx, y - cy), 1.0, 0, 1e-5);
        assert_true(d->y[i] == 0 ? y >= cy - 1e-6 : y <= cy + 1e-6);
    }
    mg_dataset_free(d);

    /* Circles, noise 0: ring c has radius (c + 1) / classes. */
    d = synth(MG_SYNTH_CIRCLES, 4, 100, 0.0, 0, 13);
    check_synth_common(d, "circles", 4, 100, 2);
    for (int i = 0; i < d->n; i++)
        assert_close(hypot(d->x[2 * i], d->x[2 * i + 1]), (d->y[i] + 1) / 4.0, 0, 1e-5);
    mg_dataset_free(d);

    /* Blobs, noise 0: every point of a class is its centre, in [-10, 10]^5;
     * centres differ.  With noise 1 the class means are near the centres. */
    d = synth(MG_SYNTH_BLOBS, 3, 50, 0.0, 5, 14);
    check_synth_common(d, "blobs", 3, 50, 5);
    float centre[3][5];
    int seen[3] = {0};
    for (int i = 0; i < d->n; i++) {
        int c = d->y[i];
        for (int j = 0; j < 5; j++) {
            float v = d->x[i * 5 + j];
            assert_true(v >= -10 && v <= 10);
            if (seen[c]) assert_true(v == centre[c][j]);
            else centre[c][j] = v;
        }
        seen[c] = 1;
    }
    assert_true(memcmp(centre[0], centre[1], sizeof centre[0]) != 0);
    mg_dataset_free(d);
    d = synth(MG_SYNTH_BLOBS, 3, 400, 1.0, 5, 14);
    double mean[3][5] = {{0}};
    for (int i = 0; i < d->n; i++)
        for (int j = 0; j < 5; j++) mean[d->y[i]][j] += d->x[i * 5 + j] / 400.0;
    for (int c = 0; c < 3; c++)
        for (int j = 0; j < 5; j++) assert_close(mean[c][j], centre[c][j], 0, 0.25);
    mg_dataset_free(d);
}

static void test_synth_determinism(void **state)
{
    (void)state;
    for (int k = 0; k < 4; k++) {
        mg_synth_kind kind = (mg_synth_kind)k;
        int classes = kind == MG_SYNTH_MOONS ? 2 : 3;
        mg_dataset *a = synth(kind, classes, 40, 0.1, 3, 5);
        mg_dataset *b = synth(kind, classes, 40, 0.1, 3, 5);
        mg_dataset *c = synth(kind, classes, 40, 0.1, 3, 6);
        size_t bytes = (size_t)a->n * (size_t)a->dim * sizeof(float);
        assert_memory_equal(a->x, b->x, bytes);
        assert_memory_equal(a->y, b->y, (size_t)a->n * sizeof(int32_t));
        assert_memory_not_equal(a->x, c->x, bytes);
        mg_dataset_free(a);
        mg_dataset_free(b);
        mg_dataset_free(c);
    }
}

static void test_synth_config(void **state)
{
    (void)state;
    static const struct {
        mg_synth_config cfg;
        const char *field;
    } bad[] = {
        {{MG_SYNTH_SPIRAL, 1, 10, 0.1, 0}, "classes"},
        {{MG_SYNTH_CIRCLES, 0, 10, 0.1, 0}, "classes"},
        {{MG_SYNTH_MOONS, 3, 10, 0.1, 0}, "classes"},
        {{MG_SYNTH_SPIRAL, 2, 0, 0.1, 0}, "per_class"},
        {{MG_SYNTH_BLOBS, 2, -5, 0.1, 2}, "per_class"},
        {{MG_SYNTH_SPIRAL, 2, 10, -0.1, 0}, "noise"},
        {{MG_SYNTH_MOONS, 2, 10, NAN, 0}, "noise"},
        {{MG_SYNTH_BLOBS, 2, 10, 0.1, 0}, "dim"},
        {{MG_SYNTH_BLOBS, 100000, 100000, 0.1, 2}, "per_class"},
        {{(mg_synth_kind)9, 2, 10, 0.1, 0}, "kind"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mg_rng r;
        mg_rng_seed(&r, 1);
        mg_dataset *d = (mg_dataset *)&d;
        assert_int_equal(mg_synth_generate(&bad[i].cfg, &r, &d), MG_ERR_CONFIG);
        assert_null(d);
        assert_contains(mg_errmsg(), bad[i].field);
    }
    /* Names round trip. */
    for (int k = 0; k < 4; k++) {
        mg_synth_kind out = (mg_synth_kind)-1;
        assert_int_equal(mg_synth_from_name(mg_synth_name((mg_synth_kind)k), &out), 1);
        assert_int_equal(out, k);
    }
    mg_synth_kind out = MG_SYNTH_MOONS;
    assert_int_equal(mg_synth_from_name("spiral", &out), 1);
    assert_int_equal(out, MG_SYNTH_SPIRAL);
    assert_int_equal(mg_synth_from_name("spirals", &out), 0);
    assert_int_equal(mg_synth_from_name("", &out), 0);
    assert_string_equal(mg_synth_name((mg_synth_kind)42), "unknown");
}

/* ---------------------------------------------------------------- subsets */

/* n examples of dim 3, x[i] = (i, 2i, -i), y[i] = i mod classes. */
static mg_dataset *numbered(int n, int classes)
{
    mg_dataset *d = mg_dataset_alloc(n, 3, classes);
    assert_non_null(d);
    for (int i = 0; i < n; i++) {
        d->x[3 * i] = (float)i;
        d->x[3 * i + 1] = (float)(2 * i);
        d->x[3 * i + 2] = (float)-i;
        d->y[i] = i % classes;
    }
    d->c = 3;
    d->h = 1;
    d->w = 1;
    snprintf(d->name, sizeof d->name, "numbered");
    return d;
}

static void check_rows(const mg_dataset *src, const mg_dataset *s)
{
    assert_int_equal(s->dim, src->dim);
    assert_int_equal(s->classes, src->classes);
    assert_int_equal(s->c, src->c);
    assert_int_equal(s->h, src->h);
    assert_int_equal(s->w, src->w);
    assert_string_equal(s->name, src->name);
    for (int i = 0; i < s->n; i++) {
        int id = (int)s->x[3 * i];
        assert_true(id >= 0 && id < src->n);
        assert_true(s->x[3 * i + 1] == 2.0f * id && s->x[3 * i + 2] == (float)-id);
        assert_int_equal(s->y[i], src->y[id]);
    }
}

static void test_alloc_subset(void **state)
{
    (void)state;
    mg_dataset *d = mg_dataset_alloc(4, 6, 3);
    assert_non_null(d);
    assert_int_equal(d->n, 4);
    assert_int_equal(d->dim, 6);
    assert_int_equal(d->classes, 3);
    assert_true(d->c == 1 && d->h == 1 && d->w == 6);
    assert_string_equal(d->name, "");
    for (int i = 0; i < 24; i++) assert_true(d->x[i] == 0.0f);
    for (int i = 0; i < 4; i++) assert_int_equal(d->y[i], 0);
    mg_dataset_free(d);
    mg_dataset_free(NULL);

    d = numbered(10, 3);
    int idx[] = {7, 2, 2, 9};
    mg_dataset *s = NULL;
    assert_int_equal(mg_dataset_subset(d, idx, 4, &s), MG_OK);
    assert_int_equal(s->n, 4);
    check_rows(d, s);
    for (int i = 0; i < 4; i++) assert_true(s->x[3 * i] == (float)idx[i]);
    mg_dataset_free(s);
    assert_int_equal(mg_dataset_subset(d, NULL, 0, &s), MG_OK);
    assert_int_equal(s->n, 0);
    mg_dataset_free(s);

    int counts[3];
    mg_dataset_class_counts(d, counts);
    assert_int_equal(counts[0], 4);
    assert_int_equal(counts[1], 3);
    assert_int_equal(counts[2], 3);
    mg_dataset_free(d);
}

static void test_split(void **state)
{
    (void)state;
    enum { N = 100, NV = 30 };
    mg_dataset *d = numbered(N, 4);
    mg_dataset *tr = NULL, *va = NULL, *tr2 = NULL, *va2 = NULL;
    mg_rng r;
    mg_rng_seed3(&r, 3, MG_STREAM_DATA, 1);
    assert_int_equal(mg_dataset_split(d, NV, &r, &tr, &va), MG_OK);
    assert_int_equal(tr->n, N - NV);
    assert_int_equal(va->n, NV);
    check_rows(d, tr);
    check_rows(d, va);
    /* Disjoint, covering, each part in the original order. */
    int seen[N] = {0};
    for (int i = 0; i < tr->n; i++) {
        seen[(int)tr->x[3 * i]]++;
        if (i) assert_true(tr->x[3 * i] > tr->x[3 * (i - 1)]);
    }
    for (int i = 0; i < va->n; i++) {
        seen[(int)va->x[3 * i]]++;
        if (i) assert_true(va->x[3 * i] > va->x[3 * (i - 1)]);
    }
    for (int i = 0; i < N; i++) assert_int_equal(seen[i], 1);
    /* Not simply the last or first rows. */
    assert_true(va->x[0] < N - NV || va->x[3 * (NV - 1)] >= NV);

    /* Same seed: same split; another seed: another split. */
    mg_rng_seed3(&r, 3, MG_STREAM_DATA, 1);
    assert_int_equal(mg_dataset_split(d, NV, &r, &tr2, &va2), MG_OK);
    assert_memory_equal(va->x, va2->x, NV * 3 * sizeof(float));
    mg_dataset_free(tr2);
    mg_dataset_free(va2);
    mg_rng_seed3(&r, 4, MG_STREAM_DATA, 1);
    assert_int_equal(mg_dataset_split(d, NV, &r, &tr2, &va2), MG_OK);
    assert_memory_not_equal(va->x, va2->x, NV * 3 * sizeof(float));
    mg_dataset_free(tr2);
    mg_dataset_free(va2);
    mg_dataset_free(tr);
    mg_dataset_free(va);

    /* n_val = 0: everything in train, in order. */
    assert_int_equal(mg_dataset_split(d, 0, &r, &tr, &va), MG_OK);
    assert_int_equal(tr->n, N);
    assert_int_equal(va->n, 0);
    assert_memory_equal(tr->x, d->x, N * 3 * sizeof(float));
    mg_dataset_free(tr);
    mg_dataset_free(va);
    /* n_val = n - 1 is allowed, n and negative are not. */
    assert_int_equal(mg_dataset_split(d, N - 1, &r, &tr, &va), MG_OK);
    assert_int_equal(tr->n, 1);
    mg_dataset_free(tr);
    mg_dataset_free(va);
    int bad[] = {N, N + 1, -1};
    for (int i = 0; i < 3; i++) {
        tr = va = (mg_dataset *)&d;
        assert_int_equal(mg_dataset_split(d, bad[i], &r, &tr, &va), MG_ERR_CONFIG);
        assert_null(tr);
        assert_null(va);
        assert_contains(mg_errmsg(), "numbered");
    }
    mg_dataset_free(d);
}

/* ---------------------------------------------------------------- standardizer */

static void test_standardizer(void **state)
{
    (void)state;
    /* Known answer: feature 0 = 1, 2, 3, 4 (mean 2.5, std sqrt(1.25));
     * feature 1 constant 7; feature 2 a large offset with a small spread. */
    mg_dataset *d = mg_dataset_alloc(4, 3, 2);
    for (int i = 0; i < 4; i++) {
        d->x[3 * i] = (float)(i + 1);
        d->x[3 * i + 1] = 7.0f;
        d->x[3 * i + 2] = 10000.0f + 0.5f * (float)(i % 2);
    }
    mg_standardizer s;
    assert_int_equal(mg_standardizer_fit(d, &s), MG_OK);
    assert_int_equal(s.dim, 3);
    assert_close(s.mean[0], 2.5, 1e-7, 0);
    assert_close(s.std[0], sqrt(1.25), 1e-6, 0);
    assert_close(s.mean[1], 7.0, 1e-7, 0);
    assert_true(s.std[1] == 1.0f);
    assert_close(s.mean[2], 10000.25, 1e-7, 0);
    assert_close(s.std[2], 0.25, 1e-6, 0);
    mg_standardizer_apply(&s, d);
    const double z = 1.5 / sqrt(1.25);
    assert_close(d->x[0], -z, 1e-6, 0);
    assert_close(d->x[9], z, 1e-6, 0);
    for (int i = 0; i < 4; i++) {
        assert_true(d->x[3 * i + 1] == 0.0f);
        assert_close(d->x[3 * i + 2], i % 2 ? 1.0 : -1.0, 1e-5, 0);
    }
    mg_standardizer_free(&s);
    mg_standardizer_free(&s); /* idempotent */
    mg_dataset_free(d);

    /* Fitted on a train part, the train part has mean 0 / std 1 per
     * feature; the same transform applies to other data. */
    d = synth(MG_SYNTH_BLOBS, 3, 200, 2.0, 6, 21);
    mg_dataset *tr = NULL, *va = NULL;
    mg_rng r;
    mg_rng_seed(&r, 2);
    assert_int_equal(mg_dataset_split(d, 100, &r, &tr, &va), MG_OK);
    assert_int_equal(mg_standardizer_fit(tr, &s), MG_OK);
    float v0 = va->x[0];
    mg_standardizer_apply(&s, tr);
    mg_standardizer_apply(&s, va);
    assert_close(va->x[0], (v0 - s.mean[0]) / s.std[0], 1e-6, 1e-6);
    for (int j = 0; j < 6; j++) {
        double m = 0, q = 0;
        for (int i = 0; i < tr->n; i++) m += tr->x[i * 6 + j];
        m /= tr->n;
        for (int i = 0; i < tr->n; i++) q += (tr->x[i * 6 + j] - m) * (tr->x[i * 6 + j] - m);
        assert_close(m, 0.0, 0, 1e-5);
        assert_close(sqrt(q / tr->n), 1.0, 1e-5, 0);
    }
    mg_standardizer_free(&s);
    mg_dataset_free(tr);
    mg_dataset_free(va);
    mg_dataset_free(d);

    d = mg_dataset_alloc(0, 3, 2);
    assert_int_equal(mg_standardizer_fit(d, &s), MG_ERR_CONFIG);
    mg_dataset_free(d);
}

/* ---------------------------------------------------------------- Fashion-MNIST */

static void test_fashion_mnist(void **state)
{
    (void)state;
    struct stat sb;
    if (stat(MG_FASHION_MNIST_DIR, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        print_message("Fashion-MNIST not installed at %s: skipped\n", MG_FASHION_MNIST_DIR);
        skip();
    }
    static const struct {
        const char *split;
        int n;
    } sets[] = {{"train", 60000}, {"test", 10000}};
    for (int s = 0; s < 2; s++) {
        mg_dataset *d = NULL;
        mg_status st = mg_load_idx_dir(MG_FASHION_MNIST_DIR, sets[s].split, 10, &d);
        if (st != MG_OK) fail_msg("%s", mg_errmsg());
        assert_int_equal(d->n, sets[s].n);
        assert_int_equal(d->dim, 784);
        assert_int_equal(d->classes, 10);
        assert_true(d->c == 1 && d->h == 28 && d->w == 28);
        assert_string_equal(d->name, "fashion-mnist");
        int counts[10];
        mg_dataset_class_counts(d, counts);
        for (int c = 0; c < 10; c++) assert_int_equal(counts[c], sets[s].n / 10);
        float lo = 1, hi = 0;
        double sum = 0;
        for (size_t i = 0; i < (size_t)d->n * 784; i++) {
            float v = d->x[i];
            if (v < lo) lo = v;
            if (v > hi) hi = v;
            sum += v;
        }
        assert_true(lo == 0.0f && hi == 1.0f);
        /* Mean pixel of Fashion-MNIST is about 0.286. */
        assert_close(sum / ((double)d->n * 784), 0.286, 0, 0.01);
        mg_dataset_free(d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_gz_and_raw),
        cmocka_unit_test(test_idx_dir),
        cmocka_unit_test(test_idx_corrupt),
        cmocka_unit_test(test_idx_huge_header),
        cmocka_unit_test(test_idx_blocks),
        cmocka_unit_test(test_idx_trailer),
        cmocka_unit_test(test_csv_good),
        cmocka_unit_test(test_csv_bad),
        cmocka_unit_test(test_csv_header_rule),
        cmocka_unit_test(test_csv_class_cap),
        cmocka_unit_test(test_synth_shapes),
        cmocka_unit_test(test_synth_determinism),
        cmocka_unit_test(test_synth_config),
        cmocka_unit_test(test_alloc_subset),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_standardizer),
        cmocka_unit_test(test_fashion_mnist),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
