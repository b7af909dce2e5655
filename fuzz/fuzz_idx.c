/* fuzz_idx.c - mg_load_idx on an images file and a labels file, raw or
 * gzip-compressed as they come (zlib tells them apart by their first two
 * bytes, 1f 8b).  Input format: idx_common.h ([k_lo k_hi c] images[k]
 * labels[...]).  fuzz_idx_gz.c runs the same inputs with the files
 * compressed by the harness, to reach the reader's gzip paths with valid
 * streams.
 *
 * Checked on success: n, shape and the class count agree with the headers
 * and labels, every pixel is in [0, 1] and every label below the class
 * count; for raw files also every pixel and label against the bytes, and the
 * file length against the header (header + payload, nothing after).  On
 * failure: *out is NULL and the one-line message names a file. */
#include "fuzz.h"

#include "idx_common.h"

static int is_gzip(const uint8_t *p, size_t n)
{
    return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_idx_input in;
    if (!fuzz_idx_split(data, size, &in)) return 0;
    mg_log_set(fuzz_log_drop, NULL);
    const char *img = fuzz_file(0, in.img, in.img_len);
    const char *lab = fuzz_file(1, in.lab, in.lab_len);
    int gi = is_gzip(in.img, in.img_len), gl = is_gzip(in.lab, in.lab_len);
    fuzz_idx_check(img, lab, in.classes, gi ? NULL : in.img, in.img_len, gl ? NULL : in.lab,
                   in.lab_len);
    return 0;
}
