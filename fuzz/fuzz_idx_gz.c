/* fuzz_idx_gz.c - mg_load_idx on gzip files made by the harness from the
 * fuzzer's bytes, so that the reader's gzip paths (inflate in blocks, the
 * end of the stream, the CRC and length trailer) see valid streams and not
 * only the corrupt ones that mutating compressed bytes gives.
 *
 * Input: g, then the format of idx_common.h.  g bit 0: compress the images
 * file, bit 1: the labels file; bit 2: drop the images stream's 8-byte
 * trailer (CRC32 and ISIZE); bit 3: flip the bits of one byte of the images
 * stream, at (g >> 4) sixteenths of its length.
 *
 * Checked: what fuzz_idx checks, with the uncompressed bytes known (pixels
 * and labels must equal them); and a stream without its trailer must not
 * load. */
#include "fuzz.h"

#include <zlib.h>

#include "idx_common.h"

/* gzip of src into a new buffer (*out, *out_len); 0 when zlib fails. */
static int gzip_bytes(const uint8_t *src, size_t len, uint8_t **out, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    uLong cap = deflateBound(&z, (uLong)len) + 32;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&z);
        return 0;
    }
    z.next_in = (Bytef *)(uintptr_t)src;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    int r = deflate(&z, Z_FINISH);
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    if (r != Z_STREAM_END) {
        free(buf);
        return 0;
    }
    *out = buf;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > ((size_t)1 << 24)) return 0;
    unsigned g = data[0];
    fuzz_idx_input in;
    if (!fuzz_idx_split(data + 1, size - 1, &in)) return 0;
    mg_log_set(fuzz_log_drop, NULL);
    uint8_t *zi = NULL, *zl = NULL;
    size_t zi_len = 0, zl_len = 0;
    if ((g & 1) && !gzip_bytes(in.img, in.img_len, &zi, &zi_len)) return 0;
    if ((g & 2) && !gzip_bytes(in.lab, in.lab_len, &zl, &zl_len)) {
        free(zi);
        return 0;
    }
    int cut = 0;
    if (zi && (g & 4) && zi_len > 8) {
        zi_len -= 8;
        cut = 1;
    }
    if (zi && (g & 8) && zi_len > 0) zi[zi_len * (g >> 4) / 16] ^= 0xff;
    const char *img = fuzz_file(0, zi ? zi : in.img, zi ? zi_len : in.img_len);
    const char *lab = fuzz_file(1, zl ? zl : in.lab, zl ? zl_len : in.lab_len);
    /* Known contents: always for compressed files, for raw ones unless they
     * happen to start like a gzip stream. */
    int gi = !zi && in.img_len >= 2 && in.img[0] == 0x1f && in.img[1] == 0x8b;
    int gl = !zl && in.lab_len >= 2 && in.lab[0] == 0x1f && in.lab[1] == 0x8b;
    fuzz_idx_check(img, lab, in.classes, gi ? NULL : in.img, in.img_len, gl ? NULL : in.lab,
                   in.lab_len);
    if (cut) {
        mg_dataset *d = NULL;
        FUZZ_CHECK(mg_load_idx(img, lab, in.classes, &d) != MG_OK);
    }
    free(zi);
    free(zl);
    return 0;
}
