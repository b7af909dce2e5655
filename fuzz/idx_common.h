/* idx_common.h - what fuzz_idx.c and fuzz_idx_gz.c share: the input format
 * and the checks of a load.  Include after fuzz.h. */
#ifndef MIXGEO_FUZZ_IDX_COMMON_H
#define MIXGEO_FUZZ_IDX_COMMON_H

/* [k_lo k_hi c] images[k] labels[...]: k is the little-endian length of the
 * images file (cut to what is there); c >= 128 asks for c - 128 classes,
 * c < 128 for 0 (max label + 1). */
typedef struct {
    const uint8_t *img, *lab;
    size_t img_len, lab_len;
    int classes;
} fuzz_idx_input;

static inline int fuzz_idx_split(const uint8_t *data, size_t size, fuzz_idx_input *in)
{
    if (size < 3) return 0;
    size_t k = (size_t)data[0] | (size_t)data[1] << 8;
    in->classes = data[2] >= 128 ? data[2] - 128 : 0;
    data += 3;
    size -= 3;
    if (k > size) k = size;
    in->img = data;
    in->img_len = k;
    in->lab = data + k;
    in->lab_len = size - k;
    return 1;
}

static inline uint32_t fuzz_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Load img/lab (paths) and check the result.  raw_img/raw_lab: the files'
 * uncompressed contents when known (else NULL): a load must then agree with
 * them byte for byte, and the files must hold exactly header + payload. */
static inline void fuzz_idx_check(const char *img, const char *lab, int classes,
                                  const uint8_t *raw_img, size_t raw_img_len,
                                  const uint8_t *raw_lab, size_t raw_lab_len)
{
    mg_dataset *d = (mg_dataset *)&d;
    mg_status st = mg_load_idx(img, lab, classes, &d);
    if (st != MG_OK) {
        FUZZ_CHECK(d == NULL);
        const char *msg = mg_errmsg();
        FUZZ_CHECK(strstr(msg, img) || strstr(msg, lab));
        FUZZ_CHECK(!strchr(msg, '\n'));
        return;
    }
    FUZZ_CHECK(d != NULL);
    FUZZ_CHECK(d->n >= 1 && d->h >= 1 && d->w >= 1 && d->c == 1);
    FUZZ_CHECK((int64_t)d->h * d->w == d->dim);
    if (classes > 0)
        FUZZ_CHECK(d->classes == classes);
    else
        FUZZ_CHECK(d->classes >= 1 && d->classes <= 256);
    int maxlab = -1;
    for (int i = 0; i < d->n; i++) {
        FUZZ_CHECK(d->y[i] >= 0 && d->y[i] < d->classes);
        if (d->y[i] > maxlab) maxlab = d->y[i];
    }
    if (classes == 0) FUZZ_CHECK(maxlab + 1 == d->classes);
    size_t total = (size_t)d->n * (size_t)d->dim;
    for (size_t i = 0; i < total; i++) FUZZ_CHECK(d->x[i] >= 0.0f && d->x[i] <= 1.0f);
    if (raw_img) {
        FUZZ_CHECK(raw_img_len == 16 + total);
        FUZZ_CHECK(fuzz_be32(raw_img) == 0x803);
        FUZZ_CHECK(fuzz_be32(raw_img + 4) == (uint32_t)d->n);
        FUZZ_CHECK(fuzz_be32(raw_img + 8) == (uint32_t)d->h);
        FUZZ_CHECK(fuzz_be32(raw_img + 12) == (uint32_t)d->w);
        for (size_t i = 0; i < total; i++) FUZZ_CHECK(d->x[i] == raw_img[16 + i] / 255.0f);
    }
    if (raw_lab) {
        FUZZ_CHECK(raw_lab_len == 8 + (size_t)d->n);
        FUZZ_CHECK(fuzz_be32(raw_lab) == 0x801);
        for (int i = 0; i < d->n; i++) FUZZ_CHECK(d->y[i] == raw_lab[8 + i]);
    }
    mg_dataset_free(d);
}

#endif
