/* data_idx.c - IDX files (the MNIST / Fashion-MNIST format), read through
 * zlib so that gzip-compressed and raw files both work.
 *
 * Layout (big-endian): 0x00 0x00 <type> <ndims>, then ndims uint32 sizes,
 * then the payload.  Images: type 0x08 (ubyte), 3 dims (n, rows, cols);
 * labels: type 0x08, 1 dim (n).  The file must end right after the payload.
 *
 * Nothing is sized from the header: a header can claim terabytes in 16
 * bytes, and the decompressed size of a .gz file is unknown until it has been
 * inflated (its ISIZE trailer is only a hint, mod 2^32, and forgeable).  So
 * the payload is read into blocks, each allocated only once the data before
 * it has arrived: 4 KiB, 8 KiB, ... doubling up to 1 MiB, then 1 MiB each.
 * What a file costs is what it holds plus at most one block (no more than
 * the data before it + 4 KiB, and never more than 1 MiB).  The dataset itself
 * (4 bytes a pixel) is allocated only after both payloads are complete. */
#include "mixgeo.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_UBYTE 0x08
#define IDX_CHUNK (1u << 30)  /* most bytes per gzread call                 */
#define IDX_BLOCK0_SHIFT 12   /* the first payload block: 1 << 12 = 4 KiB   */
#define IDX_BLOCK_SHIFTS 8    /* blocks double 8 times: at most 4 KiB << 8 = 1 MiB */

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
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return mg_fail(MG_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    /* zlib's buffers (the input buffer and twice that for output): 256 KiB
     * rather than the 8 KiB default, for fewer read calls, but no larger
     * than the file needs. */
    struct stat sb;
    unsigned bufsize = 1u << 18;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size < (off_t)bufsize)
        bufsize = sb.st_size < 8192 ? 8192 : (unsigned)sb.st_size;
    gzFile f = gzdopen(fd, "rb");
    if (!f) {
        close(fd);
        return mg_fail(MG_ERR_NOMEM, "out of memory opening %s", path);
    }
    gzbuffer(f, bufsize);
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

/* The payload, in blocks of idx_block_size(i) bytes (the last one may be
 * shorter). */
typedef struct {
    unsigned char **blk;
    size_t nblk, cap;
    size_t bytes; /* payload bytes held, nblk blocks */
} idx_blocks;

static size_t idx_block_size(size_t i)
{
    return (size_t)1 << (IDX_BLOCK0_SHIFT + (i < IDX_BLOCK_SHIFTS ? i : IDX_BLOCK_SHIFTS));
}

/* Bytes of block i of b. */
static size_t idx_block_len(const idx_blocks *b, size_t i, size_t off)
{
    size_t len = idx_block_size(i);
    return b->bytes - off < len ? b->bytes - off : len;
}

static void idx_blocks_free(idx_blocks *b)
{
    for (size_t i = 0; i < b->nblk; i++) free(b->blk[i]);
    free(b->blk);
    memset(b, 0, sizeof *b);
}

/* Read the payload of `bytes` bytes into *out, block by block; then check
 * that the file ends there (which also makes zlib check a .gz file's CRC and
 * length trailer).  what describes the payload for messages. */
static mg_status idx_payload(gzFile f, const char *path, size_t bytes, const char *what,
                             idx_blocks *out)
{
    memset(out, 0, sizeof *out);
    mg_status st = MG_OK;
    while (out->bytes < bytes) {
        size_t want = idx_block_size(out->nblk);
        if (want > bytes - out->bytes) want = bytes - out->bytes;
        if (out->nblk == out->cap) {
            size_t cap = out->cap ? 2 * out->cap : 16;
            unsigned char **blk = realloc(out->blk, cap * sizeof *blk);
            if (!blk) {
                st = mg_fail(MG_ERR_NOMEM, "out of memory reading %s", path);
                goto fail;
            }
            out->blk = blk;
            out->cap = cap;
        }
        unsigned char *buf = malloc(want);
        if (!buf) {
            st = mg_fail(MG_ERR_NOMEM, "out of memory reading %s", path);
            goto fail;
        }
        out->blk[out->nblk++] = buf;
        size_t got = 0;
        st = idx_read(f, path, buf, want, &got);
        if (st != MG_OK) goto fail;
        out->bytes += got;
        if (got < want) {
            st = mg_fail(MG_ERR_FORMAT,
                         "%s: truncated or corrupt: the header says %s = %zu bytes of data, "
                         "the file has %zu",
                         path, what, bytes, out->bytes);
            goto fail;
        }
    }
    unsigned char extra;
    size_t more = 0;
    st = idx_read(f, path, &extra, 1, &more);
    if (st == MG_OK && more)
        st = mg_fail(MG_ERR_FORMAT,
                     "%s: more data than the header says (%s = %zu bytes): wrong sizes in the "
                     "header?",
                     path, what, bytes);
    int zerr = Z_OK;
    if (st == MG_OK && (gzerror(f, &zerr), zerr == Z_BUF_ERROR))
        st = mg_fail(MG_ERR_FORMAT,
                     "%s: truncated or corrupt: the compressed data stops before the end of "
                     "the gzip stream",
                     path);
    if (st != MG_OK) goto fail;
    return MG_OK;
fail:
    idx_blocks_free(out);
    return st;
}

mg_status mg_load_idx(const char *images_path, const char *labels_path, int classes,
                      mg_dataset **out)
{
    MG_ASSERT(images_path && labels_path && out);
    *out = NULL;
    if (classes < 0) return mg_fail(MG_ERR_CONFIG, "classes must be >= 0 (got %d)", classes);

    gzFile fi = NULL, fl = NULL;
    idx_blocks pix = {0}, lab = {0};
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

    /* Labels are bytes, so max label + 1 <= 256 <= MG_MAX_AUTO_CLASSES: the
     * cap on an automatic class count (see mg_load_csv) never applies. */
    _Static_assert(256 <= MG_MAX_AUTO_CLASSES, "IDX labels would need the class-count cap");
    int maxlab = 0;
    for (size_t b = 0, i = 0; b < lab.nblk; b++) {
        size_t len = idx_block_len(&lab, b, i);
        for (size_t k = 0; k < len; k++, i++) {
            int l = lab.blk[b][k];
            if (classes > 0 && l >= classes) {
                st = mg_fail(MG_ERR_FORMAT, "%s: label %d of example %zu is out of range "
                             "(expected < %d classes)", labels_path, l, i, classes);
                goto done;
            }
            if (l > maxlab) maxlab = l;
        }
    }
    d = mg_dataset_alloc((int)n, (int)dim, classes > 0 ? classes : maxlab + 1);
    if (!d) {
        st = mg_fail(MG_ERR_NOMEM, "out of memory for %u images from %s", (unsigned)n,
                     images_path);
        goto done;
    }
    float lut[256];
    for (int v = 0; v < 256; v++) lut[v] = (float)v / 255.0f;
    for (size_t b = 0, i = 0; b < pix.nblk; b++) {
        size_t len = idx_block_len(&pix, b, i);
        for (size_t k = 0; k < len; k++, i++) d->x[i] = lut[pix.blk[b][k]];
    }
    for (size_t b = 0, i = 0; b < lab.nblk; b++) {
        size_t len = idx_block_len(&lab, b, i);
        for (size_t k = 0; k < len; k++, i++) d->y[i] = lab.blk[b][k];
    }
    d->c = 1;
    d->h = (int)rows;
    d->w = (int)cols;
    idx_basename(images_path, d->name, sizeof d->name);
    *out = d;
done:
    if (fi) gzclose(fi);
    if (fl) gzclose(fl);
    idx_blocks_free(&pix);
    idx_blocks_free(&lab);
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
