/* npy.c - NumPy .npy writer (version 1.0, as numpy.save) and a streaming,
 * validating reader (pread in bounded blocks, every header field checked before
 * anything of data size is allocated). */
#define _FILE_OFFSET_BITS 64 /* 64-bit off_t for pread on 32-bit hosts too */
#include "npy.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64
#define NPY_GROWTH_DIGITS 21              /* numpy's GROWTH_AXIS_MAX_DIGITS */
#define NPY_MAX_HEADER (1u << 20)         /* a plain array's header is < 1 KiB */
#define NPY_DEFAULT_BUFFER ((size_t)4 << 20)
#define NPY_GAP_BYTES 4096                /* read across gaps up to this size */
#define NPY_DIRECT_BYTES ((int64_t)64 << 10) /* read straight into dst from here */

static const char *type_descr(mg_npy_type t)
{
    switch (t) {
    case MG_NPY_F32: return "<f4";
    case MG_NPY_F64: return "<f8";
    case MG_NPY_I32: return "<i4";
    case MG_NPY_I64: return "<i8";
    case MG_NPY_U8: return "|u1";
    case MG_NPY_I8: return "|i1";
    case MG_NPY_I16: return "<i2";
    case MG_NPY_U16: return "<u2";
    case MG_NPY_U32: return "<u4";
    }
    return NULL;
}

size_t mg_npy_type_size(mg_npy_type t)
{
    switch (t) {
    case MG_NPY_U8:
    case MG_NPY_I8: return 1;
    case MG_NPY_I16:
    case MG_NPY_U16: return 2;
    case MG_NPY_F32:
    case MG_NPY_I32:
    case MG_NPY_U32: return 4;
    case MG_NPY_F64:
    case MG_NPY_I64: return 8;
    }
    MG_ASSERT(!"unknown mg_npy_type");
    return 0;
}

const char *mg_npy_type_name(mg_npy_type t)
{
    switch (t) {
    case MG_NPY_F32: return "float32";
    case MG_NPY_F64: return "float64";
    case MG_NPY_I32: return "int32";
    case MG_NPY_I64: return "int64";
    case MG_NPY_U8: return "uint8";
    case MG_NPY_I8: return "int8";
    case MG_NPY_I16: return "int16";
    case MG_NPY_U16: return "uint16";
    case MG_NPY_U32: return "uint32";
    }
    return "unknown";
}

static size_t type_size(mg_npy_type t)
{
    return mg_npy_type_size(t);
}

static int host_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Reverse the bytes of each of n elements of es bytes (big-endian hosts). */
static void swap_bytes(unsigned char *d, size_t n, size_t es)
{
    for (size_t i = 0; i < n; i++)
        for (size_t b = 0; b < es / 2; b++) {
            unsigned char t = d[i * es + b];
            d[i * es + b] = d[i * es + es - 1 - b];
            d[i * es + es - 1 - b] = t;
        }
}

mg_status mg_npy_write_header(FILE *f, mg_npy_type type, int ndim, const int64_t *shape)
{
    MG_ASSERT(f && (ndim == 0 || shape));
    const char *descr = type_descr(type);
    MG_ASSERT(descr);
    if (ndim < 0 || ndim > MG_NPY_MAX_DIMS)
        return mg_fail(MG_ERR_CONFIG, "npy: %d dimensions (at most %d)", ndim, MG_NPY_MAX_DIMS);
    char dict[512];
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                       descr);
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) return mg_fail(MG_ERR_CONFIG, "npy: negative extent %lld",
                                         (long long)shape[d]);
        len += snprintf(dict + len, sizeof dict - (size_t)len, d == 0 ? "%lld" : ", %lld",
                        (long long)shape[d]);
    }
    len += snprintf(dict + len, sizeof dict - (size_t)len, ndim == 1 ? ",), }" : "), }");
    if (ndim > 0) {
        char digits[32];
        int nd = snprintf(digits, sizeof digits, "%lld", (long long)shape[0]);
        for (int i = nd; i < NPY_GROWTH_DIGITS; i++) dict[len++] = ' ';
    }
    /* header bytes: dict, padding blanks, '\n'; magic(6)+version(2)+len(2)+
     * header is a multiple of 64 (a whole extra block when already aligned,
     * as numpy does). */
    int hlen = len + 1;
    int pad = NPY_ALIGN - ((NPY_MAGIC_LEN + 2 + 2 + hlen) % NPY_ALIGN);
    int total = hlen + pad;
    MG_ASSERT(len + pad + 1 < (int)sizeof dict && total <= 65535);
    memset(dict + len, ' ', (size_t)pad);
    dict[len + pad] = '\n';
    unsigned char pre[10];
    memcpy(pre, NPY_MAGIC, NPY_MAGIC_LEN);
    pre[6] = 1;
    pre[7] = 0;
    pre[8] = (unsigned char)(total & 0xff);
    pre[9] = (unsigned char)(total >> 8);
    if (fwrite(pre, 1, sizeof pre, f) != sizeof pre ||
        fwrite(dict, 1, (size_t)total, f) != (size_t)total)
        return mg_fail(MG_ERR_IO, "npy: write error: %s", strerror(errno));
    return MG_OK;
}

mg_status mg_npy_write(FILE *f, mg_npy_type type, const void *data, int ndim,
                       const int64_t *shape)
{
    mg_status st = mg_npy_write_header(f, type, ndim, shape);
    if (st != MG_OK) return st;
    size_t count = 1;
    for (int d = 0; d < ndim; d++) count *= (size_t)shape[d];
    if (count == 0) return MG_OK;
    MG_ASSERT(data);
    size_t es = type_size(type);
    if (host_little_endian()) {
        if (fwrite(data, es, count, f) != count)
            return mg_fail(MG_ERR_IO, "npy: write error: %s", strerror(errno));
        return MG_OK;
    }
    /* Big-endian host: swap bytes in chunks. */
    unsigned char buf[4096];
    const unsigned char *src = data;
    size_t per = sizeof buf / es;
    for (size_t i = 0; i < count; i += per) {
        size_t m = count - i < per ? count - i : per;
        for (size_t k = 0; k < m; k++)
            for (size_t b = 0; b < es; b++) buf[k * es + b] = src[(i + k) * es + (es - 1 - b)];
        if (fwrite(buf, es, m, f) != m)
            return mg_fail(MG_ERR_IO, "npy: write error: %s", strerror(errno));
    }
    return MG_OK;
}

mg_status mg_npy_write_f32(FILE *f, const float *data, int ndim, const int64_t *shape)
{
    return mg_npy_write(f, MG_NPY_F32, data, ndim, shape);
}

mg_status mg_npy_write_f64(FILE *f, const double *data, int ndim, const int64_t *shape)
{
    return mg_npy_write(f, MG_NPY_F64, data, ndim, shape);
}

mg_status mg_npy_write_i32(FILE *f, const int32_t *data, int ndim, const int64_t *shape)
{
    return mg_npy_write(f, MG_NPY_I32, data, ndim, shape);
}

typedef struct {
    mg_npy_type type;
    const void *data;
    int ndim;
    const int64_t *shape;
} save_args;

static mg_status save_fn(FILE *f, void *user)
{
    const save_args *a = user;
    return mg_npy_write(f, a->type, a->data, a->ndim, a->shape);
}

mg_status mg_npy_save(const char *path, mg_npy_type type, const void *data, int ndim,
                      const int64_t *shape)
{
    MG_ASSERT(path);
    save_args a = {type, data, ndim, shape};
    return mg_write_atomic(path, save_fn, &a);
}

/* ---------------------------------------------------------------- header parsing */

/* What a header says, once checked.  name prefixes every message (the path,
 * or "npy" for a stream). */
typedef struct {
    mg_npy_type type;
    char descr[16];
    int fortran;
    int ndim;
    int64_t shape[MG_NPY_MAX_DIMS];
    int64_t count;   /* prod(shape) */
    int64_t row_len; /* prod(shape[1:]) */
    int64_t bytes;   /* count * itemsize */
} npy_header;

/* "(60000, 512)", "(5,)" or "()". */
static void format_shape(const int64_t *shape, int ndim, char *buf, size_t n)
{
    size_t len = (size_t)snprintf(buf, n, "(");
    for (int d = 0; d < ndim && len < n; d++)
        len += (size_t)snprintf(buf + len, n - len, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (len < n) snprintf(buf + len, n - len, ndim == 1 ? ",)" : ")");
}

/* Up to 24 bytes of [p, end) for a message, non-printable bytes as '?'. */
static const char *excerpt(const char *p, const char *end, char buf[32])
{
    size_t n = 0;
    while (p + n < end && n < 24) {
        unsigned char c = (unsigned char)p[n];
        buf[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (p + n < end && n == 24) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
    return p;
}

/* A quoted string without escapes at *pp (at most cap-1 bytes), copied to buf;
 * 0 when there is none. */
static int parse_string(const char **pp, const char *end, char *buf, size_t cap)
{
    const char *p = *pp;
    if (p >= end || (*p != '\'' && *p != '"')) return 0;
    char q = *p++;
    size_t n = 0;
    while (p < end && *p != q) {
        if (*p == '\\' || *p == '\n' || n + 1 >= cap) return 0;
        buf[n++] = *p++;
    }
    if (p >= end) return 0;
    buf[n] = '\0';
    *pp = p + 1;
    return 1;
}

static int is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* The shape tuple at *pp: "(" [int ("," int)* [","]] ")", ints possibly
 * followed by Python 2's 'L'.  A bare "(3)" is taken as (3,). */
static mg_status parse_shape(const char *name, const char **pp, const char *end, npy_header *h)
{
    char ex[32];
    const char *p = *pp;
    if (p >= end || *p != '(')
        return mg_fail(MG_ERR_FORMAT,
                       "%s: bad shape in the .npy header at \"%s\": expected a tuple such as "
                       "(60000, 512)",
                       name, excerpt(p, end, ex));
    const char *start = p++;
    h->ndim = 0;
    for (;;) {
        p = skip_ws(p, end);
        if (p < end && *p == ')') break;
        int neg = 0;
        if (p < end && *p == '-') {
            neg = 1;
            p++;
        }
        if (p >= end || *p < '0' || *p > '9')
            return mg_fail(MG_ERR_FORMAT,
                           "%s: bad shape in the .npy header at \"%s\": expected a tuple of "
                           "non-negative integers such as (60000, 512)",
                           name, excerpt(start, end, ex));
        const char *digits = p;
        int64_t v = 0;
        int overflow = 0;
        while (p < end && *p >= '0' && *p <= '9') {
            int dg = *p++ - '0';
            if (v > (INT64_MAX - dg) / 10) overflow = 1;
            else v = v * 10 + dg;
        }
        if (p < end && (*p == 'L' || *p == 'l')) p++;
        if (p < end && is_ident_char(*p))
            return mg_fail(MG_ERR_FORMAT,
                           "%s: bad shape in the .npy header at \"%s\": expected a tuple of "
                           "non-negative integers such as (60000, 512)",
                           name, excerpt(start, end, ex));
        if (neg)
            return mg_fail(MG_ERR_FORMAT, "%s: negative extent -%.*s in the shape of the .npy header",
                           name, (int)(p - digits > 24 ? 24 : p - digits), digits);
        if (overflow)
            return mg_fail(MG_ERR_FORMAT, "%s: shape extent %.*s%s in the .npy header is too large",
                           name, (int)(p - digits > 40 ? 40 : p - digits), digits,
                           p - digits > 40 ? "..." : "");
        if (h->ndim == MG_NPY_MAX_DIMS)
            return mg_fail(MG_ERR_FORMAT, "%s: shape %s has more than %d dimensions (at most %d)",
                           name, excerpt(start, end, ex), MG_NPY_MAX_DIMS, MG_NPY_MAX_DIMS);
        h->shape[h->ndim++] = v;
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == ')') break;
        return mg_fail(MG_ERR_FORMAT,
                       "%s: bad shape in the .npy header at \"%s\": expected ',' or ')' after an "
                       "extent",
                       name, excerpt(start, end, ex));
    }
    *pp = p + 1;
    return MG_OK;
}

/* descr -> type, with a message for every refusal. */
static mg_status parse_descr(const char *name, const char *descr, npy_header *h)
{
    static const struct {
        const char *body;
        mg_npy_type type;
    } known[] = {{"f4", MG_NPY_F32}, {"f8", MG_NPY_F64}, {"i4", MG_NPY_I32},
                 {"i8", MG_NPY_I64}, {"u1", MG_NPY_U8},  {"i1", MG_NPY_I8},
                 {"i2", MG_NPY_I16}, {"u2", MG_NPY_U16}, {"u4", MG_NPY_U32}};
    static const struct {
        const char *body, *hint;
    } hints[] = {{"f2", "<f4"}, {"b1", "|u1"}, {"u8", "<i8"}};
    char order = descr[0];
    const char *body = descr;
    if (order == '<' || order == '>' || order == '|' || order == '=') body++;
    else order = 0;
    if (body[0] == 'O')
        return mg_fail(MG_ERR_FORMAT,
                       "%s: object arrays are not supported (dtype '%s'): save a numeric array",
                       name, descr);
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(body, known[i].body)) continue;
        mg_npy_type t = known[i].type;
        if (type_size(t) == 1 ? order != '=' : order == '<') {
            h->type = t;
            snprintf(h->descr, sizeof h->descr, "%s", descr);
            return MG_OK;
        }
        if (order == '>')
            return mg_fail(MG_ERR_FORMAT,
                           "%s: big-endian data not supported (dtype '%s'): convert with "
                           "a.astype('%s')",
                           name, descr, type_descr(t));
        break;
    }
    for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++)
        if (!strcmp(body, hints[i].body))
            return mg_fail(MG_ERR_FORMAT,
                           "%s: dtype '%s' is not supported: convert with a.astype('%s')", name,
                           descr, hints[i].hint);
    return mg_fail(MG_ERR_FORMAT,
                   "%s: dtype '%s' is not supported (supported: <f4 <f8 |i1 <i2 <i4 <i8 |u1 <u2 "
                   "<u4)",
                   name, descr);
}

/* h[0..len) is the header text after the length field.  Fills *out and
 * checks the sizes (not yet against the file). */
static mg_status parse_header(const char *name, const char *h, size_t len, npy_header *out)
{
    char ex[32];
    memset(out, 0, sizeof *out);
    if (len == 0 || h[len - 1] != '\n')
        return mg_fail(MG_ERR_FORMAT,
                       "%s: the .npy header does not end with a newline (wrong header length "
                       "%zu?)",
                       name, len);
    const char *end = h + len - 1, *p = skip_ws(h, end);
    if (p >= end || *p != '{')
        return mg_fail(MG_ERR_FORMAT, "%s: the .npy header is not a dict: starts with \"%s\"",
                       name, excerpt(p, end, ex));
    p++;
    char descr[16] = "";
    int seen[3] = {0, 0, 0}; /* descr, fortran_order, shape */
    static const char *const keys[3] = {"descr", "fortran_order", "shape"};
    for (;;) {
        p = skip_ws(p, end);
        if (p < end && *p == '}') break;
        char key[32];
        const char *kp = p;
        if (!parse_string(&p, end, key, sizeof key))
            return mg_fail(MG_ERR_FORMAT, "%s: bad .npy header at \"%s\": expected a quoted key",
                           name, excerpt(kp, end, ex));
        int k = 0;
        while (k < 3 && strcmp(key, keys[k])) k++;
        if (k == 3)
            return mg_fail(MG_ERR_FORMAT,
                           "%s: unexpected key '%s' in the .npy header (expected exactly descr, "
                           "fortran_order, shape)",
                           name, key);
        if (seen[k])
            return mg_fail(MG_ERR_FORMAT, "%s: duplicate key '%s' in the .npy header", name, key);
        seen[k] = 1;
        p = skip_ws(p, end);
        if (p >= end || *p != ':')
            return mg_fail(MG_ERR_FORMAT, "%s: bad .npy header at \"%s\": expected ':' after '%s'",
                           name, excerpt(p, end, ex), key);
        p = skip_ws(p + 1, end);
        if (k == 0) {
            if (p < end && *p == '[')
                return mg_fail(MG_ERR_FORMAT,
                               "%s: structured dtypes are not supported (descr is a list of "
                               "fields)",
                               name);
            const char *vp = p;
            if (!parse_string(&p, end, descr, sizeof descr))
                return mg_fail(MG_ERR_FORMAT, "%s: bad descr in the .npy header at \"%s\"", name,
                               excerpt(vp, end, ex));
        } else if (k == 1) {
            if (end - p >= 4 && !memcmp(p, "True", 4) && (end - p == 4 || !is_ident_char(p[4]))) {
                out->fortran = 1;
                p += 4;
            } else if (end - p >= 5 && !memcmp(p, "False", 5) &&
                       (end - p == 5 || !is_ident_char(p[5]))) {
                out->fortran = 0;
                p += 5;
            } else {
                return mg_fail(MG_ERR_FORMAT,
                               "%s: bad fortran_order in the .npy header at \"%s\": expected "
                               "True or False",
                               name, excerpt(p, end, ex));
            }
        } else {
            mg_status st = parse_shape(name, &p, end, out);
            if (st != MG_OK) return st;
        }
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == '}') break;
        return mg_fail(MG_ERR_FORMAT, "%s: bad .npy header at \"%s\": expected ',' or '}'", name,
                       excerpt(p, end, ex));
    }
    p = skip_ws(p + 1, end);
    if (p != end)
        return mg_fail(MG_ERR_FORMAT, "%s: unexpected text after the .npy header dict: \"%s\"",
                       name, excerpt(p, end, ex));
    for (int k = 0; k < 3; k++)
        if (!seen[k])
            return mg_fail(MG_ERR_FORMAT, "%s: the .npy header has no '%s' key", name, keys[k]);
    mg_status st = parse_descr(name, descr, out);
    if (st != MG_OK) return st;

    /* count, row_len and bytes, overflow-checked (a zero extent makes the
     * product zero whatever the others are, but every partial product must
     * still fit). */
    char shp[256];
    format_shape(out->shape, out->ndim, shp, sizeof shp);
    int64_t es = (int64_t)type_size(out->type), count = 1, row_len = 1;
    int big = 0;
    for (int d = 0; d < out->ndim; d++) {
        int64_t v = out->shape[d];
        if (d > 0) {
            if (v != 0 && row_len > INT64_MAX / v) big = 1;
            else row_len *= v;
        }
        if (v != 0 && count > INT64_MAX / v) big = 1;
        else count *= v;
    }
    if (big || count > (INT64_MAX - NPY_MAX_HEADER - 64) / es)
        return mg_fail(MG_ERR_FORMAT, "%s: shape %s of %s is too large (2^63 bytes or more)", name,
                       shp, mg_npy_type_name(out->type));
    out->count = count;
    out->row_len = row_len;
    out->bytes = count * es;
    return MG_OK;
}

/* The 8 to 12 bytes before the header: magic, version, header length.
 * pre[0..have) are the first bytes of the file (have <= 12, fewer when the
 * file is shorter); sets *plen (10 or 12) and *hlen. */
static mg_status parse_preamble(const char *name, const unsigned char *pre, size_t have,
                                size_t *plen, size_t *hlen)
{
    if (have == 0) return mg_fail(MG_ERR_FORMAT, "%s: not a .npy file (the file is empty)", name);
    size_t cmp = have < NPY_MAGIC_LEN ? have : NPY_MAGIC_LEN;
    if (memcmp(pre, NPY_MAGIC, cmp))
        return mg_fail(MG_ERR_FORMAT,
                       "%s: not a .npy file (bad magic: it does not start with \\x93NUMPY)", name);
    if (have < 8)
        return mg_fail(MG_ERR_FORMAT, "%s: not a .npy file (only %zu bytes, the preamble has 10)",
                       name, have);
    int major = pre[6], minor = pre[7];
    if (major < 1 || major > 3)
        return mg_fail(MG_ERR_FORMAT,
                       "%s: unsupported .npy format version %d.%d (this reader knows 1.x, 2.x "
                       "and 3.x)",
                       name, major, minor);
    *plen = major == 1 ? 10 : 12;
    if (have < *plen)
        return mg_fail(MG_ERR_FORMAT,
                       "%s: truncated .npy file: %zu bytes, the version %d preamble alone has %zu",
                       name, have, major, *plen);
    *hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    if (major > 1) *hlen |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    return MG_OK;
}

/* ---------------------------------------------------------------- reader */

struct mg_npy_reader {
    int fd;
    npy_header h;
    int64_t rows;
    int64_t data_off; /* byte offset of the data in the file */
    size_t es;
    int64_t cstride[MG_NPY_MAX_DIMS]; /* C-order strides of the axes (elements) */
    size_t buffer_size;               /* requested */
    unsigned char *buf;               /* read buffer, buf_cap bytes */
    size_t buf_cap;
    char path[]; /* owned copy */
};

static mg_status read_at(const mg_npy_reader *r, void *dst, size_t n, int64_t off)
{
    unsigned char *p = dst;
    while (n > 0) {
        size_t chunk = n > ((size_t)1 << 30) ? (size_t)1 << 30 : n;
        ssize_t got = pread(r->fd, p, chunk, (off_t)off);
        if (got < 0) {
            if (errno == EINTR) continue;
            return mg_fail(MG_ERR_IO, "%s: read error at byte %lld: %s", r->path, (long long)off,
                           strerror(errno));
        }
        if (got == 0)
            return mg_fail(MG_ERR_IO,
                           "%s: unexpected end of file at byte %lld (did the file change after "
                           "it was opened?)",
                           r->path, (long long)off);
        p += got;
        n -= (size_t)got;
        off += got;
    }
    return MG_OK;
}

mg_status mg_npy_open(const char *path, mg_npy_reader **out)
{
    MG_ASSERT(path && out);
    *out = NULL;
    size_t pathlen = strlen(path);
    mg_npy_reader *r = calloc(1, sizeof *r + pathlen + 1);
    if (!r) return mg_fail(MG_ERR_NOMEM, "%s: out of memory", path);
    memcpy(r->path, path, pathlen + 1);
    r->buffer_size = NPY_DEFAULT_BUFFER;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        mg_status st = mg_fail(MG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        free(r);
        return st;
    }
    mg_status st = MG_OK;
    char *text = NULL;
    struct stat sb;
    if (fstat(r->fd, &sb) != 0) {
        st = mg_fail(MG_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = mg_fail(MG_ERR_IO, "%s: not a regular file%s", path,
                     S_ISDIR(sb.st_mode) ? " (a directory)" : "");
        goto fail;
    }
    int64_t size = (int64_t)sb.st_size;
    unsigned char pre[12];
    size_t have = size < 12 ? (size_t)size : 12, plen = 0, hlen = 0;
    if (have > 0 && (st = read_at(r, pre, have, 0)) != MG_OK) goto fail;
    if ((st = parse_preamble(path, pre, have, &plen, &hlen)) != MG_OK) goto fail;
    if ((int64_t)hlen > size - (int64_t)plen) {
        st = mg_fail(MG_ERR_FORMAT,
                     "%s: the .npy header length %zu runs past the end of the file (%lld bytes "
                     "in all, %lld after the preamble)",
                     path, hlen, (long long)size, (long long)(size - (int64_t)plen));
        goto fail;
    }
    if (hlen > NPY_MAX_HEADER) {
        st = mg_fail(MG_ERR_FORMAT,
                     "%s: the .npy header length %zu is too long for a plain array (at most %u)",
                     path, hlen, NPY_MAX_HEADER);
        goto fail;
    }
    text = malloc(hlen + 1);
    if (!text) {
        st = mg_fail(MG_ERR_NOMEM, "%s: out of memory for the header", path);
        goto fail;
    }
    if ((st = read_at(r, text, hlen, (int64_t)plen)) != MG_OK) goto fail;
    if ((st = parse_header(path, text, hlen, &r->h)) != MG_OK) goto fail;
    free(text);
    text = NULL;

    r->data_off = (int64_t)(plen + hlen);
    r->es = type_size(r->h.type);
    r->rows = r->h.ndim == 0 ? 1 : r->h.shape[0];
    int64_t have_data = size - r->data_off;
    if (have_data != r->h.bytes) {
        char shp[256];
        format_shape(r->h.shape, r->h.ndim, shp, sizeof shp);
        if (have_data < r->h.bytes)
            st = mg_fail(MG_ERR_FORMAT,
                         "%s: truncated: shape %s of %s needs %lld data bytes after the "
                         "%lld-byte header, the file has %lld",
                         path, shp, mg_npy_type_name(r->h.type), (long long)r->h.bytes,
                         (long long)r->data_off, (long long)have_data);
        else
            st = mg_fail(MG_ERR_FORMAT,
                         "%s: %lld bytes after the data: shape %s of %s takes %lld data bytes "
                         "after the %lld-byte header, the file has %lld",
                         path, (long long)(have_data - r->h.bytes), shp,
                         mg_npy_type_name(r->h.type), (long long)r->h.bytes,
                         (long long)r->data_off, (long long)have_data);
        goto fail;
    }
    if (r->h.ndim > 0) {
        r->cstride[r->h.ndim - 1] = 1;
        for (int d = r->h.ndim - 2; d >= 0; d--)
            r->cstride[d] = r->cstride[d + 1] * r->h.shape[d + 1];
    }
    *out = r;
    return MG_OK;
fail:
    free(text);
    close(r->fd);
    free(r);
    return st;
}

void mg_npy_close(mg_npy_reader *r)
{
    if (!r) return;
    close(r->fd);
    free(r->buf);
    free(r);
}

mg_npy_type mg_npy_reader_type(const mg_npy_reader *r) { return r->h.type; }
const char *mg_npy_reader_descr(const mg_npy_reader *r) { return r->h.descr; }
int mg_npy_reader_ndim(const mg_npy_reader *r) { return r->h.ndim; }
const int64_t *mg_npy_reader_shape(const mg_npy_reader *r) { return r->h.shape; }
int mg_npy_reader_fortran(const mg_npy_reader *r) { return r->h.fortran; }
const char *mg_npy_reader_path(const mg_npy_reader *r) { return r->path; }
int64_t mg_npy_reader_rows(const mg_npy_reader *r) { return r->rows; }
int64_t mg_npy_reader_row_len(const mg_npy_reader *r) { return r->h.row_len; }

void mg_npy_reader_set_buffer_size(mg_npy_reader *r, size_t bytes)
{
    MG_ASSERT(r);
    r->buffer_size = bytes;
    free(r->buf);
    r->buf = NULL;
    r->buf_cap = 0;
}

/* The read buffer: min(buffer_size, data bytes) rounded down to whole
 * elements, at least one element; so never more than the file holds. */
static mg_status ensure_buffer(mg_npy_reader *r)
{
    if (r->buf) return MG_OK;
    size_t cap = r->buffer_size;
    if ((uint64_t)cap > (uint64_t)r->h.bytes) cap = (size_t)r->h.bytes;
    cap -= cap % r->es;
    if (cap < r->es) cap = r->es;
    r->buf = malloc(cap);
    if (!r->buf)
        return mg_fail(MG_ERR_NOMEM, "%s: out of memory for a %zu-byte read buffer", r->path, cap);
    r->buf_cap = cap;
    return MG_OK;
}

/* ---------------------------------------------------------------- segments
 *
 * A read is a sequence of segments, each a run of elements contiguous in the
 * file going to dst[dst_off + t * dst_stride], t = 0..len-1:
 *  - C order: one segment per run of consecutive requested rows (the rows are
 *    contiguous in the file and in dst);
 *  - Fortran order: for a run of consecutive rows i0..i0+r-1, one segment per
 *    trailing "column" c (in file order): element (i, j1..jk) is at
 *    i + n * c with c = j1 + d1 * (j2 + d2 * (...)), so the segment starts at
 *    c * n + i0, has r elements, and goes to the C-order column j(c) with
 *    stride row_len.  j(c) is kept by an odometer over (j1..jk) instead of a
 *    map of row_len entries, so no read allocates anything proportional to a
 *    row.
 * Segments come in increasing file order within a run; the engine reads
 * neighbouring segments (gaps up to NPY_GAP_BYTES) with one pread.
 */

typedef struct {
    int64_t file_off; /* element offset from the start of the data */
    int64_t len;
    int64_t dst_off, dst_stride;
} npy_seg;

typedef struct {
    const mg_npy_reader *r;
    const int64_t *idx; /* NULL: rows i0 .. i0+m-1 */
    int64_t i0, m;
    int64_t k;        /* next request not yet in a run */
    int fortran;      /* Fortran layout with two or more axes */
    int64_t run_k;    /* current run (Fortran): dst rows run_k.., file rows run_row.. */
    int64_t run_len, run_row;
    int64_t col, cidx; /* next column (file order) of the run and its C-order index */
    int64_t odo[MG_NPY_MAX_DIMS];
} seg_iter;

static int64_t iter_row(const seg_iter *it, int64_t k)
{
    return it->idx ? it->idx[k] : it->i0 + k;
}

/* Length of the run of consecutive rows starting at request k. */
static int64_t iter_run(const seg_iter *it, int64_t k)
{
    if (!it->idx) return it->m - k;
    int64_t r = 1;
    while (k + r < it->m && it->idx[k + r] == it->idx[k] + r) r++;
    return r;
}

static int iter_next(seg_iter *it, npy_seg *s)
{
    const mg_npy_reader *r = it->r;
    int64_t L = r->h.row_len;
    if (L == 0) return 0;
    if (!it->fortran) {
        if (it->k >= it->m) return 0;
        int64_t run = iter_run(it, it->k);
        s->file_off = iter_row(it, it->k) * L;
        s->len = run * L;
        s->dst_off = it->k * L;
        s->dst_stride = 1;
        it->k += run;
        return 1;
    }
    if (it->col >= L) { /* start the next run */
        if (it->k >= it->m) return 0;
        it->run_k = it->k;
        it->run_len = iter_run(it, it->k);
        it->run_row = iter_row(it, it->k);
        it->k += it->run_len;
        it->col = 0;
        it->cidx = 0;
        memset(it->odo, 0, sizeof it->odo);
    }
    s->file_off = it->col * r->rows + it->run_row;
    s->len = it->run_len;
    s->dst_off = it->run_k * L + it->cidx;
    s->dst_stride = L;
    /* advance the odometer: axis 1 fastest (Fortran order of the trailing axes) */
    it->col++;
    for (int a = 1; a < r->h.ndim; a++) {
        it->cidx += r->cstride[a];
        if (++it->odo[a] < r->h.shape[a]) break;
        it->cidx -= r->h.shape[a] * r->cstride[a];
        it->odo[a] = 0;
    }
    return 1;
}

typedef enum { DST_F32, DST_F64, DST_LABEL, DST_RAW } dst_kind;

static int64_t load_int(mg_npy_type t, const unsigned char *p)
{
    switch (t) {
    case MG_NPY_I8: { int8_t v; memcpy(&v, p, 1); return v; }
    case MG_NPY_U8: return p[0];
    case MG_NPY_I16: { int16_t v; memcpy(&v, p, 2); return v; }
    case MG_NPY_U16: { uint16_t v; memcpy(&v, p, 2); return v; }
    case MG_NPY_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    case MG_NPY_U32: { uint32_t v; memcpy(&v, p, 4); return v; }
    case MG_NPY_I64: { int64_t v; memcpy(&v, p, 8); return v; }
    case MG_NPY_F32:
    case MG_NPY_F64: break;
    }
    MG_ASSERT(!"load_int of a float type");
    return 0;
}

/* n elements (host byte order) at src to dst[d0 + t * stride]. */
static mg_status convert(const mg_npy_reader *r, dst_kind kind, const unsigned char *src,
                         int64_t n, void *dst, int64_t d0, int64_t stride)
{
    size_t es = r->es;
    switch (kind) {
    case DST_F32: {
        float *d = (float *)dst + d0;
        if (r->h.type == MG_NPY_F32) {
            if (stride == 1) memcpy(d, src, (size_t)n * 4);
            else
                for (int64_t t = 0; t < n; t++) memcpy(d + t * stride, src + t * 4, 4);
        } else {
            for (int64_t t = 0; t < n; t++) {
                double v;
                memcpy(&v, src + t * 8, 8);
                d[t * stride] = (float)v; /* round to nearest (IEEE, C11 Annex F) */
            }
        }
        return MG_OK;
    }
    case DST_F64: {
        double *d = (double *)dst + d0;
        if (r->h.type == MG_NPY_F64) {
            if (stride == 1) memcpy(d, src, (size_t)n * 8);
            else
                for (int64_t t = 0; t < n; t++) memcpy(d + t * stride, src + t * 8, 8);
        } else {
            for (int64_t t = 0; t < n; t++) {
                float v;
                memcpy(&v, src + t * 4, 4);
                d[t * stride] = v;
            }
        }
        return MG_OK;
    }
    case DST_LABEL: {
        int32_t *d = dst;
        for (int64_t t = 0; t < n; t++) {
            int64_t v = load_int(r->h.type, src + (size_t)t * es);
            int64_t at = d0 + t * stride;
            if (v < 0)
                return mg_fail(MG_ERR_FORMAT, "%s: label %lld at index %lld: labels must be >= 0",
                               r->path, (long long)v, (long long)at);
            if (v > INT32_MAX)
                return mg_fail(MG_ERR_FORMAT,
                               "%s: label %lld at index %lld: labels must be <= %d", r->path,
                               (long long)v, (long long)at, INT32_MAX);
            d[at] = (int32_t)v;
        }
        return MG_OK;
    }
    case DST_RAW: {
        unsigned char *d = (unsigned char *)dst + (size_t)d0 * es;
        if (stride == 1) memcpy(d, src, (size_t)n * es);
        else
            for (int64_t t = 0; t < n; t++) memcpy(d + (size_t)(t * stride) * es, src + t * es, es);
        return MG_OK;
    }
    }
    return MG_OK;
}

/* Does the destination hold the file's own type (so that a contiguous segment
 * can be read straight into it)? */
static int same_type(const mg_npy_reader *r, dst_kind kind)
{
    return kind == DST_RAW || (kind == DST_F32 && r->h.type == MG_NPY_F32) ||
           (kind == DST_F64 && r->h.type == MG_NPY_F64);
}

/* Read the segments of it into dst. */
static mg_status run_segments(mg_npy_reader *r, seg_iter *it, dst_kind kind, void *dst)
{
    npy_seg cur;
    int have = iter_next(it, &cur);
    if (!have) return MG_OK;
    mg_status st = ensure_buffer(r);
    if (st != MG_OK) return st;
    const size_t es = r->es;
    const int64_t cap = (int64_t)(r->buf_cap / es), gap = NPY_GAP_BYTES / (int64_t)es;
    const int le = host_little_endian(), direct = le && same_type(r, kind);
    while (have) {
        if (direct && cur.dst_stride == 1 && cur.len * (int64_t)es >= NPY_DIRECT_BYTES) {
            unsigned char *d = (unsigned char *)dst + (size_t)cur.dst_off * es;
            st = read_at(r, d, (size_t)cur.len * es, r->data_off + cur.file_off * (int64_t)es);
            if (st != MG_OK) return st;
            have = iter_next(it, &cur);
            continue;
        }
        if (cur.len > cap) { /* one long segment, in buffer-sized pieces */
            for (int64_t off = 0; off < cur.len; off += cap) {
                int64_t n = cur.len - off < cap ? cur.len - off : cap;
                st = read_at(r, r->buf, (size_t)n * es,
                             r->data_off + (cur.file_off + off) * (int64_t)es);
                if (st != MG_OK) return st;
                if (!le) swap_bytes(r->buf, (size_t)n, es);
                st = convert(r, kind, r->buf, n, dst, cur.dst_off + off * cur.dst_stride,
                             cur.dst_stride);
                if (st != MG_OK) return st;
            }
            have = iter_next(it, &cur);
            continue;
        }
        /* a window of neighbouring segments that fits the buffer */
        seg_iter again = *it;
        npy_seg first = cur, nx;
        int64_t wbeg = cur.file_off, wend = cur.file_off + cur.len, nseg = 1;
        while ((have = iter_next(it, &nx))) {
            if (nx.file_off < wend || nx.file_off - wend > gap || nx.file_off + nx.len - wbeg > cap)
                break;
            wend = nx.file_off + nx.len;
            nseg++;
        }
        st = read_at(r, r->buf, (size_t)(wend - wbeg) * es, r->data_off + wbeg * (int64_t)es);
        if (st != MG_OK) return st;
        if (!le) swap_bytes(r->buf, (size_t)(wend - wbeg), es);
        npy_seg s = first;
        for (int64_t i = 0; i < nseg; i++) {
            if (i > 0) iter_next(&again, &s);
            st = convert(r, kind, r->buf + (size_t)(s.file_off - wbeg) * es, s.len, dst,
                         s.dst_off, s.dst_stride);
            if (st != MG_OK) return st;
        }
        if (have) cur = nx;
    }
    return MG_OK;
}

static mg_status read_rows(mg_npy_reader *r, const int64_t *idx, int64_t i0, int64_t m,
                           dst_kind kind, void *dst)
{
    MG_ASSERT(r && m >= 0);
    MG_ASSERT(dst || m == 0 || r->h.row_len == 0);
    if ((kind == DST_F32 || kind == DST_F64) && r->h.type != MG_NPY_F32 &&
        r->h.type != MG_NPY_F64)
        return mg_fail(MG_ERR_FORMAT, "%s: rows must be floating point, got %s ('%s')", r->path,
                       mg_npy_type_name(r->h.type), r->h.descr);
    if (idx) {
        for (int64_t k = 0; k < m; k++) {
            if (idx[k] < 0 || idx[k] >= r->rows)
                return mg_fail(MG_ERR_CONFIG, "%s: row index %lld (position %lld) is outside 0..%lld",
                               r->path, (long long)idx[k], (long long)k, (long long)r->rows - 1);
            if (k > 0 && idx[k] <= idx[k - 1])
                return mg_fail(MG_ERR_CONFIG,
                               "%s: row indices must be strictly increasing: %lld after %lld "
                               "(position %lld)",
                               r->path, (long long)idx[k], (long long)idx[k - 1], (long long)k);
        }
    } else if (i0 < 0 || m > r->rows || i0 > r->rows - m) {
        return mg_fail(MG_ERR_CONFIG,
                       "%s: %lld rows from row %lld are outside the %lld rows of the file",
                       r->path, (long long)m, (long long)i0, (long long)r->rows);
    }
    seg_iter it;
    memset(&it, 0, sizeof it);
    it.r = r;
    it.idx = idx;
    it.i0 = i0;
    it.m = m;
    it.fortran = r->h.fortran && r->h.ndim >= 2;
    it.col = r->h.row_len; /* no run started yet */
    return run_segments(r, &it, kind, dst);
}

mg_status mg_npy_read_rows_f32(mg_npy_reader *r, const int64_t *idx, int64_t m, float *dst)
{
    return read_rows(r, idx, 0, m, DST_F32, dst);
}

mg_status mg_npy_read_rows_f64(mg_npy_reader *r, const int64_t *idx, int64_t m, double *dst)
{
    return read_rows(r, idx, 0, m, DST_F64, dst);
}

mg_status mg_npy_read_block_f32(mg_npy_reader *r, int64_t i0, int64_t m, float *dst)
{
    return read_rows(r, NULL, i0, m, DST_F32, dst);
}

mg_status mg_npy_read_block_f64(mg_npy_reader *r, int64_t i0, int64_t m, double *dst)
{
    return read_rows(r, NULL, i0, m, DST_F64, dst);
}

mg_status mg_npy_read_labels(mg_npy_reader *r, int32_t *dst)
{
    MG_ASSERT(r);
    if (r->h.type == MG_NPY_F32 || r->h.type == MG_NPY_F64)
        return mg_fail(MG_ERR_FORMAT, "%s: labels must be integers, got %s ('%s')", r->path,
                       mg_npy_type_name(r->h.type), r->h.descr);
    if (!(r->h.ndim == 1 || (r->h.ndim == 2 && r->h.shape[1] == 1))) {
        char shp[256];
        format_shape(r->h.shape, r->h.ndim, shp, sizeof shp);
        return mg_fail(MG_ERR_FORMAT, "%s: labels must be a 1-d array (or n x 1), got shape %s",
                       r->path, shp);
    }
    return read_rows(r, NULL, 0, r->rows, DST_LABEL, dst);
}

/* ---------------------------------------------------------------- whole arrays */

mg_status mg_npy_load(const char *path, mg_npy_array *out)
{
    MG_ASSERT(path && out);
    memset(out, 0, sizeof *out);
    mg_npy_reader *r;
    mg_status st = mg_npy_open(path, &r);
    if (st != MG_OK) return st;
    /* bytes <= the file size, which is in memory range on any host that
     * could hold the file; still check size_t on 32-bit hosts */
    if ((uint64_t)r->h.bytes >= (uint64_t)SIZE_MAX) {
        st = mg_fail(MG_ERR_NOMEM, "%s: %lld data bytes do not fit in memory", path,
                     (long long)r->h.bytes);
        mg_npy_close(r);
        return st;
    }
    out->data = malloc((size_t)r->h.bytes + 1);
    if (!out->data) {
        st = mg_fail(MG_ERR_NOMEM, "%s: out of memory for %lld data bytes", path,
                     (long long)r->h.bytes);
        mg_npy_close(r);
        return st;
    }
    out->type = r->h.type;
    out->ndim = r->h.ndim;
    memcpy(out->shape, r->h.shape, sizeof out->shape);
    out->count = (size_t)r->h.count;
    st = read_rows(r, NULL, 0, r->rows, DST_RAW, out->data);
    mg_npy_close(r);
    if (st != MG_OK) {
        mg_npy_array_free(out);
        memset(out, 0, sizeof *out);
    }
    return st;
}

/* Fortran-ordered data (n x d1 x ... ) -> C order, count elements of es bytes. */
static void fortran_to_c(const npy_header *h, size_t es, const unsigned char *src,
                         unsigned char *dst)
{
    int64_t n = h->shape[0], L = h->row_len, cstride[MG_NPY_MAX_DIMS], odo[MG_NPY_MAX_DIMS];
    cstride[h->ndim - 1] = 1;
    for (int d = h->ndim - 2; d >= 0; d--) cstride[d] = cstride[d + 1] * h->shape[d + 1];
    memset(odo, 0, sizeof odo);
    int64_t j = 0;
    for (int64_t c = 0; c < L; c++) {
        for (int64_t i = 0; i < n; i++)
            memcpy(dst + (size_t)(i * L + j) * es, src + (size_t)(c * n + i) * es, es);
        for (int a = 1; a < h->ndim; a++) {
            j += cstride[a];
            if (++odo[a] < h->shape[a]) break;
            j -= h->shape[a] * cstride[a];
            odo[a] = 0;
        }
    }
}

mg_status mg_npy_read(FILE *f, mg_npy_array *out)
{
    MG_ASSERT(f && out);
    memset(out, 0, sizeof *out);
    const char *name = "npy";
    unsigned char pre[12];
    size_t have = fread(pre, 1, 10, f), plen = 0, hlen = 0;
    if (have == 10 && pre[6] >= 2 && pre[6] <= 3) have += fread(pre + 10, 1, 2, f);
    mg_status st = parse_preamble(name, pre, have, &plen, &hlen);
    if (st != MG_OK) return st;
    if (hlen > NPY_MAX_HEADER)
        return mg_fail(MG_ERR_FORMAT,
                       "%s: the .npy header length %zu is too long for a plain array (at most %u)",
                       name, hlen, NPY_MAX_HEADER);
    char *text = malloc(hlen + 1);
    if (!text) return mg_fail(MG_ERR_NOMEM, "%s: out of memory for the header", name);
    if (fread(text, 1, hlen, f) != hlen) {
        free(text);
        return mg_fail(MG_ERR_FORMAT,
                       "%s: the .npy header length %zu runs past the end of the file", name,
                       hlen);
    }
    npy_header h;
    st = parse_header(name, text, hlen, &h);
    free(text);
    if (st != MG_OK) return st;
    char shp[256];
    format_shape(h.shape, h.ndim, shp, sizeof shp);
    if ((uint64_t)h.bytes >= (uint64_t)SIZE_MAX)
        return mg_fail(MG_ERR_NOMEM, "%s: %lld data bytes do not fit in memory", name,
                       (long long)h.bytes);
    /* A regular file: check the size before allocating. */
    struct stat sb;
    off_t pos = ftello(f);
    int fd = fileno(f);
    if (fd >= 0 && pos >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
        (int64_t)sb.st_size - (int64_t)pos < h.bytes)
        return mg_fail(MG_ERR_FORMAT,
                       "%s: truncated: shape %s of %s needs %lld data bytes after the "
                       "%zu-byte header, the file has %lld",
                       name, shp, mg_npy_type_name(h.type), (long long)h.bytes, plen + hlen,
                       (long long)((int64_t)sb.st_size - (int64_t)pos));
    /* Otherwise (a pipe) the buffer starts at 1 MiB and doubles with what is
     * actually read, so a lying header costs at most twice the data sent. */
    size_t need = (size_t)h.bytes, cap = need < ((size_t)1 << 20) ? need : (size_t)1 << 20;
    unsigned char *data = malloc(cap + 1), *tmp;
    if (!data) return mg_fail(MG_ERR_NOMEM, "%s: out of memory for %zu data bytes", name, need);
    size_t got = 0;
    while (got < need) {
        if (got == cap) {
            size_t ncap = cap > need / 2 ? need : 2 * cap;
            if (!(tmp = realloc(data, ncap + 1))) {
                free(data);
                return mg_fail(MG_ERR_NOMEM, "%s: out of memory for %zu data bytes", name, need);
            }
            data = tmp;
            cap = ncap;
        }
        size_t n = fread(data + got, 1, cap - got, f);
        if (n == 0) {
            free(data);
            return mg_fail(MG_ERR_FORMAT,
                           "%s: truncated: shape %s of %s needs %lld data bytes after the "
                           "%zu-byte header, the file has %zu",
                           name, shp, mg_npy_type_name(h.type), (long long)h.bytes, plen + hlen,
                           got);
        }
        got += n;
    }
    size_t es = type_size(h.type);
    if (!host_little_endian()) swap_bytes(data, (size_t)h.count, es);
    if (h.fortran && h.ndim >= 2 && h.count > 0) {
        if (!(tmp = malloc(need + 1))) {
            free(data);
            return mg_fail(MG_ERR_NOMEM, "%s: out of memory for %zu data bytes", name, need);
        }
        fortran_to_c(&h, es, data, tmp);
        free(data);
        data = tmp;
    }
    out->type = h.type;
    out->ndim = h.ndim;
    memcpy(out->shape, h.shape, sizeof out->shape);
    out->count = (size_t)h.count;
    out->data = data;
    return MG_OK;
}

void mg_npy_array_free(mg_npy_array *a)
{
    if (!a) return;
    free(a->data);
    a->data = NULL;
    a->count = 0;
}
