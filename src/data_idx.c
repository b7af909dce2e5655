/* data_idx.c - IDX files (the MNIST / Fashion-MNIST format), read through
 * zlib so that gzip-compressed and raw files both work.
 *
 * Layout (big-endian): 0x00 0x00 <type> <ndims>, then ndims uint32 sizes,
 * then the payload.  Images: type 0x08 (ubyte), 3 dims (n, rows, cols);
 * labels: type 0x08, 1 dim (n).  The whole payload is read with one gzread
 * (chunked only beyond 1 GiB) into a byte buffer and converted afterwards. */
#include "mixgeo.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_UBYTE 0x08
#define IDX_CHUNK (1u << 30)

/* The last path component (trailing slashes ignored) into buf. */
static void idx_basename(const char *path, char *buf, size_t len)
{
    size_t end = strlen(path);
    while (end > 1 && path[end - 1] == '/') end--;
    size_t start = end;
    while (start > 0 && path[start - 1] != '/') start--;
    size_t n = end - start;
    if (n >= len) n = len - 1;
    memcpy(buf, path + start, n);
    buf[n] = '\0';
}

/* Read exactly want bytes, or report how many were there.  Returns MG_OK
 * with *got == want, MG_OK with *got < want at the end of the data, or
 * MG_ERR_IO / MG_ERR_FORMAT when zlib reports an error. */
static mg_status idx_read(gzFile f, const char *path, unsigned char *buf, size_t want,
                          size_t *got)
{
    *got = 0;
    while (*got < want) {
        size_t left = want - *got;
        unsigned chunk = left > IDX_CHUNK ? IDX_CHUNK : (unsigned)left;
        int r = gzread(f, buf + *got, chunk);
        if (r < 0) {
            int zerr = 0;
            const char *msg = gzerror(f, &zerr);
            if (zerr == Z_ERRNO)
                return mg_fail(MG_ERR_IO, "cannot read %s: %s", path, strerror(errno));
            return mg_fail(MG_ERR_FORMAT, "%s: corrupt compressed data (%s)", path, msg);
        }
        if (r == 0) break;
        *got += (size_t)r;
    }
    if (*got < want) {
        /* A cut-off gzip stream ends with Z_BUF_ERROR; that is still "truncated". */
        int zerr = 0;
        const char *msg = gzerror(f, &zerr);
        if (zerr == Z_ERRNO)
            return mg_fail(MG_ERR_IO, "cannot read %s: %s", path, strerror(errno));
        if (zerr != Z_OK && zerr != Z_BUF_ERROR)
            return mg_fail(MG_ERR_FORMAT, "%s: corrupt compressed data (%s)", path, msg);
    }
    return MG_OK;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Open path and read its header: ndims must match, dims[] receives the sizes. */
static mg_status idx_open(const char *path, int ndims, const char *what, gzFile *out,
                          uint32_t *dims)
{
    *out = NULL;
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return mg_fail(MG_ERR_IO, "cannot open %s: %s", path,
                       errno ? strerror(errno) : "out of memory");
    gzbuffer(f, 1u << 18); /* larger than the 8 KiB default: fewer read calls */
    unsigned char hdr[4 + 4 * 3];
    size_t want = 4 + 4 * (size_t)ndims, got = 0;
    mg_status st = idx_read(f, path, hdr, want, &got);
    if (st != MG_OK) goto fail;
    uint32_t magic = got >= 4 ? be32(hdr) : 0;
    uint32_t expect = (uint32_t)IDX_UBYTE << 8 | (uint32_t)ndims;
    if (got < 4 || magic != expect) {
        if (got < 4)
            st = mg_fail(MG_ERR_FORMAT, "%s: not an IDX %s file (expected magic 0x%08x, "
                         "found only %zu bytes)", path, what, (unsigned)expect, got);
        else
            st = mg_fail(MG_ERR_FORMAT, "%s: not an IDX %s file (expected magic 0x%08x, "
                         "found 0x%08x)", path, what, (unsigned)expect, (unsigned)magic);
        goto fail;
    }
    if (got < want) {
        st = mg_fail(MG_ERR_FORMAT, "%s: truncated header (expected %zu bytes, found %zu)",
                     path, want, got);
        goto fail;
    }
    for (int i = 0; i < ndims; i++) dims[i] = be32(hdr + 4 + 4 * i);
    *out = f;
    return MG_OK;
fail:
    gzclose(f);
    return st;
}

/* Read the payload of `bytes` bytes into a new buffer. */
static mg_status idx_payload(gzFile f, const char *path, size_t bytes, const char *what,
                             unsigned char **out)
{
    *out = NULL;
    unsigned char *buf = malloc(bytes ? bytes : 1);
    if (!buf) return mg_fail(MG_ERR_NOMEM, "out of memory reading %s (%zu bytes)", path, bytes);
    size_t got = 0;
    mg_status st = idx_read(f, path, buf, bytes, &got);
    if (st == MG_OK && got < bytes)
        st = mg_fail(MG_ERR_FORMAT, "%s: truncated (header says %s = %zu bytes, found %zu)",
                     path, what, bytes, got);
    if (st != MG_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    return MG_OK;
}

mg_status mg_load_idx(const char *images_path, const char *labels_path, int classes,
                      mg_dataset **out)
{
    MG_ASSERT(images_path && labels_path && out);
    *out = NULL;
    if (classes < 0) return mg_fail(MG_ERR_CONFIG, "classes must be >= 0 (got %d)", classes);

    gzFile fi = NULL, fl = NULL;
    unsigned char *pix = NULL, *lab = NULL;
    mg_dataset *d = NULL;
    uint32_t idims[3], ldims[1];
    mg_status st = idx_open(images_path, 3, "images", &fi, idims);
    if (st != MG_OK) goto done;
    st = idx_open(labels_path, 1, "labels", &fl, ldims);
    if (st != MG_OK) goto done;

    uint32_t n = idims[0], rows = idims[1], cols = idims[2];
    if (rows == 0 || cols == 0 || n == 0 || n > INT_MAX ||
        (uint64_t)rows * cols > (uint64_t)INT_MAX) {
        st = mg_fail(MG_ERR_FORMAT, "%s: implausible image dimensions %u x %u x %u",
                     images_path, (unsigned)n, (unsigned)rows, (unsigned)cols);
        goto done;
    }
    if (ldims[0] != n) {
        st = mg_fail(MG_ERR_FORMAT, "count mismatch: %s has %u images but %s has %u labels",
                     images_path, (unsigned)n, labels_path, (unsigned)ldims[0]);
        goto done;
    }
    size_t dim = (size_t)rows * cols;
    if ((size_t)n > SIZE_MAX / sizeof(float) / dim) {
        st = mg_fail(MG_ERR_FORMAT, "%s: implausible image dimensions %u x %u x %u",
                     images_path, (unsigned)n, (unsigned)rows, (unsigned)cols);
        goto done;
    }
    char what[96];
    snprintf(what, sizeof what, "%u images of %ux%u", (unsigned)n, (unsigned)rows,
             (unsigned)cols);
    st = idx_payload(fi, images_path, (size_t)n * dim, what, &pix);
    if (st != MG_OK) goto done;
    snprintf(what, sizeof what, "%u labels", (unsigned)n);
    st = idx_payload(fl, labels_path, n, what, &lab);
    if (st != MG_OK) goto done;

    int maxlab = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (classes > 0 && lab[i] >= classes) {
            st = mg_fail(MG_ERR_FORMAT, "%s: label %d of example %u is out of range "
                         "(expected < %d classes)", labels_path, lab[i], (unsigned)i, classes);
            goto done;
        }
        if (lab[i] > maxlab) maxlab = lab[i];
    }
    d = mg_dataset_alloc((int)n, (int)dim, classes > 0 ? classes : maxlab + 1);
    if (!d) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory for %u images from %s", (unsigned)n,
                     images_path);
        goto done;
    }
    float lut[256];
    for (int v = 0; v < 256; v++) lut[v] = (float)v / 255.0f;
    size_t total = (size_t)n * dim;
    for (size_t i = 0; i < total; i++) d->x[i] = lut[pix[i]];
    for (uint32_t i = 0; i < n; i++) d->y[i] = lab[i];
    d->c = 1;
    d->h = (int)rows;
    d->w = (int)cols;
    idx_basename(images_path, d->name, sizeof d->name);
    *out = d;
done:
    if (fi) gzclose(fi);
    if (fl) gzclose(fl);
    free(pix);
    free(lab);
    return st;
}

/* dir/<prefix>-<kind>-idxN-ubyte.gz if it exists, else without .gz.  On
 * failure both candidates are named. */
static mg_status idx_find(const char *dir, const char *prefix, const char *kind, char **out)
{
    size_t len = strlen(dir) + strlen(prefix) + strlen(kind) + 32;
    char *p = malloc(len);
    if (!p) return mg_fail(MG_ERR_NOMEM, "out of memory");
    snprintf(p, len, "%s/%s-%s-ubyte.gz", dir, prefix, kind);
    if (access(p, F_OK) == 0) {
        *out = p;
        return MG_OK;
    }
    p[strlen(p) - 3] = '\0';
    if (access(p, F_OK) == 0) {
        *out = p;
        return MG_OK;
    }
    mg_status st = mg_fail(MG_ERR_IO, "cannot find %s.gz or %s: %s", p, p, strerror(errno));
    free(p);
    return st;
}

mg_status mg_load_idx_dir(const char *dir, const char *split, int classes, mg_dataset **out)
{
    MG_ASSERT(dir && split && out);
    *out = NULL;
    const char *prefix;
    if (strcmp(split, "train") == 0) prefix = "train";
    else if (strcmp(split, "test") == 0) prefix = "t10k";
    else
        return mg_fail(MG_ERR_CONFIG, "IDX split must be \"train\" or \"test\" (got \"%s\")",
                       split);
    char *img = NULL, *lab = NULL;
    mg_status st = idx_find(dir, prefix, "images-idx3", &img);
    if (st == MG_OK) st = idx_find(dir, prefix, "labels-idx1", &lab);
    if (st == MG_OK) st = mg_load_idx(img, lab, classes, out);
    if (st == MG_OK) idx_basename(dir, (*out)->name, sizeof (*out)->name);
    free(img);
    free(lab);
    return st;
}
