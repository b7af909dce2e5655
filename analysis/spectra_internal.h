/* spectra_internal.h - internal to libmganalysis: the accumulator of
 * spectra.h shared by spectra.c (API, rows mode, the reference qr-stream
 * kernels) and spectra_fast.c (the fast qr-stream kernels).
 *
 * qr-stream storage (both kernels): R is classes x (p x p) column-major.
 * The reference kernel keeps one triangle per class in the upper part (its
 * strict lower part zero) with r[c] possibly non-zero rows.  The fast kernel
 * keeps two independent streams per class in the same array: stream 0 in the
 * upper triangle (diagonal included), stream 1 transposed in the strict lower
 * triangle with its diagonal in diag1; n/mean belong to stream 0, n1/mean1
 * to stream 1.  Both streams are centred on their own means (Chan), and are
 * merged (one triangle-pentagonal QR) only by finish.
 */
#ifndef MG_SPECTRA_INTERNAL_H
#define MG_SPECTRA_INTERNAL_H

#include <lapacke.h>

#include "spectra.h"

#define MG_SP_WORKERS 2 /* fast kernel: streams per class = parallel workers */

struct mg_spectra_acc {
    mg_spectra_mode mode; /* QR_STREAM or ROWS                                */
    int classes, p, block_rows;
    int cap;     /* rows of W                                        */
    double *W;   /* cap x p, column-major, ld = cap                  */
    double *tau; /* p                                                */
    double *sv;  /* p: scratch singular values                       */
    /* per class */
    int64_t *n;     /* rows folded into R (rows mode: rows kept)        */
    int *r;         /* rows of R that may be non-zero (<= p)            */
    int *pending;   /* rows waiting in buf                              */
    double *mean;   /* classes x p: mean of the rows folded into R      */
    double *R;      /* classes x (p x p) column-major                   */
    double *buf;    /* classes x (block_rows x p) row-major             */
    double *mu_blk; /* p: scratch block mean                            */
    /* fast qr-stream kernel (see the top of this file) */
    int reference;             /* 1: reference kernels only                */
    unsigned parts;            /* MG_SPECTRA_* parts finish computes       */
    int streamed;              /* a full block went through the fast kernel */
    int64_t *n1;               /* classes: rows of stream 1                 */
    double *mean1;             /* classes x p: mean of stream 1             */
    double *diag1;             /* classes x p: diagonal of stream 1         */
    double *ws[MG_SP_WORKERS]; /* per worker: mg_sp_fast_ws_doubles(...)    */
    /* rows mode */
    int max_rows;      /* per-class cap, 0 = none                          */
    float **rows;      /* classes: n[c] x p row-major, room for room[c] rows */
    int64_t *room;     /* classes                                           */
    int64_t *skipped;  /* classes: rows beyond the cap                      */
    int64_t *incoming; /* classes: scratch counts of one add call           */
};

/* spectra.c */
mg_status mg_sp_lapack_status(lapack_int info, const char *routine, const char *what, int cls);
/* Singular values of W's first rows rows (column-major, ld; destroyed). */
mg_status mg_sp_svd_values(double *W, int ld, int rows, int p, double *sv, const char *what,
                           int cls);
size_t mg_sp_align8(size_t x);
double *mg_sp_result_head(char *mem, size_t head, int C, int p, int64_t N, mg_spectra_mode mode);

/* spectra_update.c */
/* Singular values of [diag(s); w^T] ((p + 1) x p) into s, in decreasing
 * order, in O(p^2) (plane rotations to bidiagonal form, then dqds).  w is
 * destroyed; work: 3 p doubles.  0; > 0: dbdsqr did not converge; -1: an
 * internal invariant broke or the input holds NaN. */
int mg_sp_svd_append_row(int p, double *s, double *w, double *work);
/* Doubles of mg_sp_svd_class's work. */
#define MG_SP_SVD_CLASS_WORK(p) (9 * (size_t)(p))
/* The centred singular values sc of a class whose centred rows have the R
 * factor T (p x p column-major, ld p; destroyed) and, when uncentred != 0,
 * the uncentred ones su, those of [T; v^T] with v = sqrt(n) mu, from the
 * same bidiagonal form B (dgebrd): sc by dqds on B, su by dbdsqr on B
 * carrying V^T P^T v along, then mg_sp_svd_append_row; one O(p^3)
 * reduction for both, and sc the same bits whether su is asked or not.  sc, su: p
 * values each; work: MG_SP_SVD_CLASS_WORK(p) doubles; cls names the class
 * in an error message. */
mg_status mg_sp_svd_class(int p, double *T, const double *v, int uncentred, double *sc, double *su,
                          double *work, int cls);

/* spectra_fast.c */
/* Doubles of one worker's workspace. */
size_t mg_sp_fast_ws_doubles(int classes, int p, int block_rows);
/* Fold the full buffer of class c: first half into stream 0, second half
 * into stream 1 (concurrently when OpenBLAS has >= 2 threads). */
mg_status mg_sp_fast_flush(mg_spectra_acc *acc, int c);
/* The whole qr-stream finish with the fast kernels. */
mg_status mg_sp_fast_finish(mg_spectra_acc *acc, mg_spectra_result **out);

#endif
