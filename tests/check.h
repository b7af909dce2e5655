/* check.h - a relative comparison shared by the analysis tests; include after
 * <cmocka.h>, <math.h> and <stdio.h>. */
#ifndef MIXGEO_TESTS_CHECK_H
#define MIXGEO_TESTS_CHECK_H

/* |a - b| <= rtol * max(|b|, scale) (scale: the size below which errors are
 * judged absolutely, e.g. s_1 for the small singular values); says which
 * value of what failed. */
static int close_to(double a, double b, double rtol, double scale, const char *what, int k)
{
    double lim = rtol * fmax(fabs(b), scale);
    if (!(fabs(a - b) <= lim)) {
        print_error("%s[%d]: got %.17g, expected %.17g (|diff| %.3g > %.3g)\n", what, k, a, b,
                    fabs(a - b), lim);
        return 0;
    }
    return 1;
}
#define assert_close(a, b, rtol, scale, what, k)                                                   \
    assert_true(close_to((a), (b), (rtol), (scale), (what), (k)))

#endif
