/*
 * spectra.c - per-class singular-value spectra of an in-memory matrix through
 * the public API of libmganalysis; it checks every printed value against the
 * known answer and exits 1 when one differs, so `make check` runs it as a test.
 *
 * Build against an installed mixgeo (make install PREFIX=...):
 *   cc spectra.c $(pkg-config --cflags --libs mganalysis) -o spectra
 *   ./spectra        (LD_LIBRARY_PATH=$PREFIX/lib if PREFIX/lib is not searched)
 *
 * The data: 3 classes of 16 rows in p = 6 dimensions.  Class c lies on a
 * (c+1)-dimensional affine subspace: row i of class c is
 *   x_i = mu_c + sum_j a_cj h_j(i) v_j,   j = 1 .. c+1,
 * where h_j(i) = (-1)^popcount(i & j) are columns of the 16 x 16 Hadamard
 * matrix (orthogonal, norm 4, summing to 0, so they survive centring) and v_j
 * are orthonormal rows of the 4 x 4 Hadamard matrix / 2.  The centred class
 * matrix is therefore U diag(4 a_c) V^T with orthonormal U and V: its singular
 * values are exactly 4 a_cj.  Every entry is a small dyadic number, so the
 * float matrix is exact and only LAPACK's rounding (~1e-15) remains.
 */
#include "mganalysis.h"

#include <stdio.h>

enum { CLASSES = 3, ROWS_PER_CLASS = 16, P = 6, N = CLASSES * ROWS_PER_CLASS };

/* Scales a_cj and the known summaries of 4 a_c (see mg_spectrum_summary):
 * class 2's s = (32, 8, 1/8): s3/s1 = 1/256 lies between 1e-3 and 1e-2, and
 * its effective rank exp(-sum q ln q), q = s / 40.125, is 1.68191581902921. */
static const struct {
    double a[3], eff_rank;
    int rank_eps, rank_1e2, rank_1e3;
} want[CLASSES] = {
    {{3, 0, 0}, 1.0, 1, 1, 1},
    {{2, 2, 0}, 2.0, 2, 2, 2},
    {{8, 2, 1.0 / 32}, 1.6819158190292105, 3, 2, 3},
};

static int hadamard(int i, int j) { return __builtin_popcount(i & j) % 2 ? -1 : 1; }
static double absd(double x) { return x < 0 ? -x : x; } /* (no libm needed) */

static int differs(const char *what, int c, double got, double expect, double tol)
{
    if (absd(got - expect) <= tol) return 0;
    fprintf(stderr, "spectra: class %d: %s = %.17g, expected %.17g\n", c, what, got, expect);
    return 1;
}

int main(void)
{
    /* The data matrix (row-major, N x P) with the classes interleaved. */
    float X[N * P];
    int32_t y[N];
    for (int r = 0; r < N; r++) {
        int c = r % CLASSES, i = r / CLASSES;
        float *x = X + (size_t)r * P;
        for (int d = 0; d < P; d++) x[d] = d < 4 ? 0.0f : (float)(c + 1) * (d == 4 ? 1.5f : -0.25f);
        for (int j = 1; j <= c + 1; j++)
            for (int d = 0; d < 4; d++) /* v_j[d] = h_j(d) / 2 */
                x[d] += (float)(want[c].a[j - 1] * hadamard(i, j) * hadamard(d, j) * 0.5);
        y[r] = c;
    }

    /* Accumulate in two batches (any split, any mix of classes), then
     * finish.  The accumulator copies the rows; the result owns its arrays. */
    mg_spectra_config cfg = mg_spectra_config_default(); /* AUTO: qr-stream here */
    mg_spectra_acc *acc = NULL;
    mg_spectra_result *res = NULL;
    mg_status st = mg_spectra_acc_create_cfg(CLASSES, P, &cfg, &acc);
    if (st == MG_OK) st = mg_spectra_acc_add(acc, X, y, 20);
    if (st == MG_OK) st = mg_spectra_acc_add(acc, X + 20 * P, y + 20, N - 20);
    if (st == MG_OK) st = mg_spectra_acc_finish(acc, &res);
    if (st != MG_OK) {
        fprintf(stderr, "spectra: %s: %s\n", mg_status_name(st), mg_errmsg());
        mg_spectra_acc_free(acc);
        return 1;
    }

    int bad = 0;
    printf("# mode %s\n# class\tn\ts1\trest\teff_rank\trank_eps\trank_1e2\trank_1e3\n",
           mg_spectra_mode_name(res->mode));
    for (int c = 0; c < CLASSES; c++) {
        const mg_class_spectrum *cs = &res->cls[c];
        mg_spectrum_summary sum;
        mg_spectrum_summarize(cs->s_centred, cs->ns, cs->n, P, &sum);
        printf("%d\t%lld\t%.9g\t%.9g\t%.9g\t%d\t%d\t%d\n", c, (long long)sum.n, sum.s1,
               sum.rest, sum.effective_rank, sum.rank_eps, sum.rank_1e2, sum.rank_1e3);

        double s1 = 4 * want[c].a[0], rest = 4 * (want[c].a[1] + want[c].a[2]);
        double tol = 1e-9 * s1;
        bad += differs("n", c, (double)sum.n, ROWS_PER_CLASS, 0);
        bad += differs("s1", c, sum.s1, s1, tol);
        bad += differs("rest", c, sum.rest, rest, tol);
        bad += differs("effective rank", c, sum.effective_rank, want[c].eff_rank, 1e-9);
        bad += differs("rank_eps", c, sum.rank_eps, want[c].rank_eps, 0);
        bad += differs("rank_1e2", c, sum.rank_1e2, want[c].rank_1e2, 0);
        bad += differs("rank_1e3", c, sum.rank_1e3, want[c].rank_1e3, 0);
    }
    mg_spectra_result_free(res);
    mg_spectra_acc_free(acc);
    if (bad) fprintf(stderr, "spectra: %d value(s) differ from the known answer\n", bad);
    return bad ? 1 : 0;
}
