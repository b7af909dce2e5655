/* npy.c - NumPy .npy writer (version 1.0, as numpy.save) and a small reader. */
#include "npy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64
#define NPY_GROWTH_DIGITS 21 /* numpy's GROWTH_AXIS_MAX_DIGITS */

static const char *type_descr(mg_npy_type t)
{
    switch (t) {
    case MG_NPY_F32: return "<f4";
    case MG_NPY_F64: return "<f8";
    case MG_NPY_I32: return "<i4";
    }
    return NULL;
}

static size_t type_size(mg_npy_type t)
{
    return t == MG_NPY_F64 ? 8 : 4;
}

static int host_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
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

/* ---------------------------------------------------------------- reader */

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n') p++;
    return p;
}

/* The value after 'key': in a header dict, or NULL. */
static const char *dict_value(const char *h, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(h, pat);
    if (!p) return NULL;
    p = skip_ws(p + strlen(pat));
    if (*p != ':') return NULL;
    return skip_ws(p + 1);
}

static mg_status parse_header(const char *h, mg_npy_array *out)
{
    const char *p = dict_value(h, "descr");
    if (!p || (*p != '\'' && *p != '"')) return mg_fail(MG_ERR_FORMAT, "npy: header has no descr");
    char q = *p++;
    const char *e = strchr(p, q);
    if (!e || e - p > 15) return mg_fail(MG_ERR_FORMAT, "npy: bad descr in header");
    char descr[16];
    memcpy(descr, p, (size_t)(e - p));
    descr[e - p] = '\0';
    if (!strcmp(descr, "<f4"))
        out->type = MG_NPY_F32;
    else if (!strcmp(descr, "<f8"))
        out->type = MG_NPY_F64;
    else if (!strcmp(descr, "<i4"))
        out->type = MG_NPY_I32;
    else
        return mg_fail(MG_ERR_FORMAT, "npy: dtype '%s' not supported (only <f4, <f8, <i4)", descr);

    p = dict_value(h, "fortran_order");
    if (!p) return mg_fail(MG_ERR_FORMAT, "npy: header has no fortran_order");
    if (!strncmp(p, "True", 4)) return mg_fail(MG_ERR_FORMAT, "npy: Fortran order not supported");
    if (strncmp(p, "False", 5)) return mg_fail(MG_ERR_FORMAT, "npy: bad fortran_order value");

    p = dict_value(h, "shape");
    if (!p || *p != '(') return mg_fail(MG_ERR_FORMAT, "npy: header has no shape tuple");
    p++;
    out->ndim = 0;
    out->count = 1;
    for (;;) {
        p = skip_ws(p);
        if (*p == ')') break;
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0) return mg_fail(MG_ERR_FORMAT, "npy: bad shape in header");
        if (out->ndim == MG_NPY_MAX_DIMS)
            return mg_fail(MG_ERR_FORMAT, "npy: more than %d dimensions", MG_NPY_MAX_DIMS);
        out->shape[out->ndim++] = v;
        if (v > 0 && out->count > SIZE_MAX / 8 / (size_t)v)
            return mg_fail(MG_ERR_FORMAT, "npy: shape too large");
        out->count *= (size_t)v;
        p = skip_ws(end);
        if (*p == ',') p++;
        else if (*p != ')') return mg_fail(MG_ERR_FORMAT, "npy: bad shape in header");
    }
    return MG_OK;
}

mg_status mg_npy_read(FILE *f, mg_npy_array *out)
{
    MG_ASSERT(f && out);
    memset(out, 0, sizeof *out);
    unsigned char pre[8];
    if (fread(pre, 1, 8, f) != 8 || memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN))
        return mg_fail(MG_ERR_FORMAT, "npy: not an .npy file (bad magic)");
    int major = pre[6];
    size_t hlen;
    if (major == 1) {
        unsigned char b[2];
        if (fread(b, 1, 2, f) != 2) return mg_fail(MG_ERR_FORMAT, "npy: truncated header");
        hlen = (size_t)b[0] | (size_t)b[1] << 8;
    } else if (major == 2 || major == 3) {
        unsigned char b[4];
        if (fread(b, 1, 4, f) != 4) return mg_fail(MG_ERR_FORMAT, "npy: truncated header");
        hlen = (size_t)b[0] | (size_t)b[1] << 8 | (size_t)b[2] << 16 | (size_t)b[3] << 24;
        if (hlen > (1u << 24)) return mg_fail(MG_ERR_FORMAT, "npy: header too long");
    } else {
        return mg_fail(MG_ERR_FORMAT, "npy: unsupported format version %d.%d", major, pre[7]);
    }
    char *h = malloc(hlen + 1);
    if (!h) return mg_fail(MG_ERR_NOMEM, "npy: out of memory for the header");
    if (fread(h, 1, hlen, f) != hlen) {
        free(h);
        return mg_fail(MG_ERR_FORMAT, "npy: truncated header");
    }
    h[hlen] = '\0';
    mg_status st = parse_header(h, out);
    free(h);
    if (st != MG_OK) return st;
    size_t es = type_size(out->type);
    out->data = malloc(out->count * es + 1);
    if (!out->data) return mg_fail(MG_ERR_NOMEM, "npy: out of memory for %zu elements", out->count);
    if (fread(out->data, es, out->count, f) != out->count) {
        mg_npy_array_free(out);
        return mg_fail(MG_ERR_FORMAT, "npy: truncated data");
    }
    if (!host_little_endian()) {
        unsigned char *d = out->data, t;
        for (size_t i = 0; i < out->count; i++)
            for (size_t b = 0; b < es / 2; b++) {
                t = d[i * es + b];
                d[i * es + b] = d[i * es + es - 1 - b];
                d[i * es + es - 1 - b] = t;
            }
    }
    return MG_OK;
}

mg_status mg_npy_load(const char *path, mg_npy_array *out)
{
    MG_ASSERT(path && out);
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return mg_fail(MG_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    mg_status st = mg_npy_read(f, out);
    fclose(f);
    if (st != MG_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", mg_errmsg());
        return mg_fail(st, "%s: %s", path, msg);
    }
    return MG_OK;
}

void mg_npy_array_free(mg_npy_array *a)
{
    if (!a) return;
    free(a->data);
    a->data = NULL;
    a->count = 0;
}
