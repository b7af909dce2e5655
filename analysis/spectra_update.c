/* spectra_update.c - the uncentred spectrum of a class from its centred
 * decomposition, in O(p^2) instead of a second O(p^3) SVD.
 *
 * X (n x p) centred on its mean mu is X_c = X - 1 mu^T, with X_c^T 1 = 0, so
 *   X^T X = X_c^T X_c + n mu mu^T = R^T R + v v^T,   v = sqrt(n) mu:
 * X has the singular values of [R; v^T].  With R = Q B P^T (dgebrd) and
 * B = U S V^T (dbdsqr, applying V^T to the one column P^T v), they are the
 * singular values of
 *   M = [S; w^T],   S = diag(s) (p x p),   w = V^T P^T v,
 * a diagonal matrix with one full row appended.  M is brought to upper
 * bidiagonal form by plane rotations that touch O(1) entries each:
 *
 *  1. for j = p-2 .. 0: a rotation of columns j, j+1 moves w[j+1] into w[j]
 *     (fill at (j+1, j)); a rotation of rows k, k+1 removes the subdiagonal
 *     entry (fill at (k, k+2)); a rotation of columns k+1, k+2 removes that
 *     one (fill at (k+2, k+1)); ... until the bulge leaves at the bottom;
 *  2. w is then w[0] e_0^T: rotations of rows i and p for i = 0 .. p-1 move
 *     it down the diagonal and out (fill w[i+1] each time);
 *
 * about p^2 / 2 rotations in all, then dbdsqr's dqds on the bidiagonal.
 * Every step is an orthogonal transformation, so the singular values carry
 * an error of a few eps * ||M||, as an SVD of the stacked matrix would
 * (dgesdd): not the eps * s_1^2 / s_k of the Gram route.
 *
 * Storage of the band during the chase: d0 (i,i), d1 (i,i+1), d2 (i,i+2),
 * l1 (i+1,i), and the appended row w.  An entry outside the band must stay
 * zero; the rotations check it and report a broken invariant (-1). */
#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "spectra_internal.h"

typedef struct {
    int p;
    double *d0, *d1, *d2, *l1, *w;
    double zero; /* every out-of-band entry; must stay 0 */
} band;

static double *at(band *b, int r, int c)
{
    if (c < 0 || c >= b->p) return &b->zero;
    if (r == b->p) return &b->w[c];
    switch (c - r) {
    case 0: return &b->d0[r];
    case 1: return r + 1 < b->p ? &b->d1[r] : &b->zero;
    case 2: return r + 2 < b->p ? &b->d2[r] : &b->zero;
    case -1: return &b->l1[c];
    default: return &b->zero;
    }
}

/* Rotation that maps (x, y) to (h, 0). */
static int rot(double x, double y, double *cs, double *sn)
{
    if (y == 0.0) return 0;
    double h = hypot(x, y);
    *cs = x / h, *sn = y / h;
    return 1;
}

/* Columns c, c+1 of rows r0..r1 and of the appended row: zero (rz, c+1). */
static int rot_cols(band *b, int c, int rz, int r0, int r1)
{
    double cs, sn;
    if (!rot(*at(b, rz, c), *at(b, rz, c + 1), &cs, &sn)) return 0;
    if (r0 < 0) r0 = 0;
    if (r1 > b->p - 1) r1 = b->p - 1;
    for (int r = r0; r <= r1 + 1; r++) {
        int rr = r <= r1 ? r : b->p; /* the last pass: the appended row */
        double *x = at(b, rr, c), *y = at(b, rr, c + 1);
        double vx = *x, vy = *y;
        *x = cs * vx + sn * vy;
        *y = rr == rz ? 0.0 : -sn * vx + cs * vy;
        if (b->zero != 0.0) return -1;
    }
    return 0;
}

/* Rows r, s over columns c0..c1: zero (s, cz). */
static int rot_rows(band *b, int r, int s, int cz, int c0, int c1)
{
    double cs, sn;
    if (!rot(*at(b, r, cz), *at(b, s, cz), &cs, &sn)) return 0;
    if (c0 < 0) c0 = 0;
    if (c1 > b->p - 1) c1 = b->p - 1;
    for (int c = c0; c <= c1; c++) {
        double *x = at(b, r, c), *y = at(b, s, c);
        double vx = *x, vy = *y;
        *x = cs * vx + sn * vy;
        *y = c == cz ? 0.0 : -sn * vx + cs * vy;
        if (b->zero != 0.0) return -1;
    }
    return 0;
}

int mg_sp_svd_append_row(int p, double *s, double *w, double *work)
{
    if (p <= 0) return 0;
    band b = {p, s, work, work + p, work + 2 * (size_t)p, w, 0.0};
    memset(work, 0, 3 * (size_t)p * sizeof(double));
    for (int j = p - 2; j >= 0; j--) {
        if (rot_cols(&b, j, p, j - 1, j + 1)) return -1; /* w[j+1] -> w[j] */
        for (int k = j;; k++) {
            /* the subdiagonal entry (k+1, k) */
            if (rot_rows(&b, k, k + 1, k, k, k + 2)) return -1;
            if (k + 2 >= p || b.d2[k] == 0.0) break;
            /* the fill (k, k+2) */
            if (rot_cols(&b, k + 1, k, k, k + 2)) return -1;
        }
    }
    for (int i = 0; i < p; i++) /* w = w[i] e_i^T: move it out */
        if (rot_rows(&b, i, p, i, i, i + 1)) return -1;
    lapack_int info =
        LAPACKE_dbdsqr(LAPACK_COL_MAJOR, 'U', p, 0, 0, 0, s, b.d1, NULL, 1, NULL, 1, NULL, 1);
    return info < 0 ? -1 : (int)info; /* an argument error here is NaN input */
}

mg_status mg_sp_svd_class(int p, double *T, const double *v, int uncentred, double *sc, double *su,
                          double *work, int cls)
{
    double *d = work, *e = d + p, *tq = e + p, *tp = tq + p, *u = tp + p, *e2 = u + p;
    double *band_ws = e2 + p;
    mg_status st;
    lapack_int info = LAPACKE_dgebrd(LAPACK_COL_MAJOR, p, p, T, p, d, e, tq, tp);
    if ((st = mg_sp_lapack_status(info, "dgebrd", "centred", cls)) != MG_OK) return st;
    e[p - 1] = 0.0;
    /* the centred values by dqds alone on a copy of B, whatever else is
     * asked (the same bits with or without the uncentred ones) */
    memcpy(sc, d, (size_t)p * sizeof(double));
    memcpy(e2, e, (size_t)p * sizeof(double));
    info = LAPACKE_dbdsqr(LAPACK_COL_MAJOR, 'U', p, 0, 0, 0, sc, e2, NULL, 1, NULL, 1, NULL, 1);
    if ((st = mg_sp_lapack_status(info, "dbdsqr", "centred", cls)) != MG_OK) return st;
    if (!uncentred) return MG_OK;
    /* B = U S V^T once more, carrying w = V^T P^T v along */
    memcpy(u, v, (size_t)p * sizeof(double));
    info = LAPACKE_dormbr(LAPACK_COL_MAJOR, 'P', 'L', 'T', p, 1, p, T, p, tp, u, p);
    if ((st = mg_sp_lapack_status(info, "dormbr", "uncentred", cls)) != MG_OK) return st;
    info = LAPACKE_dbdsqr(LAPACK_COL_MAJOR, 'U', p, 1, 0, 0, d, e, u, p, NULL, 1, NULL, 1);
    if ((st = mg_sp_lapack_status(info, "dbdsqr", "uncentred", cls)) != MG_OK) return st;
    int r = mg_sp_svd_append_row(p, d, u, band_ws);
    if (r < 0)
        return mg_fail(MG_ERR_NUMERIC, "spectra: the uncentred update of class %d left the band",
                       cls);
    if ((st = mg_sp_lapack_status(r, "dbdsqr", "uncentred", cls)) != MG_OK) return st;
    memcpy(su, d, (size_t)p * sizeof(double));
    return MG_OK;
}
