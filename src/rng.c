/* rng.c - xoshiro256** seeded through splitmix64, and the distributions the
 * trainer needs (uniform, normal, Gamma, Beta, permutations).
 *
 * The mg_rng struct is the whole state: no function here keeps anything in a
 * static, so copying the struct forks a stream and its bytes can be saved in a
 * checkpoint.  Every draw consumes a fixed or data-determined number of u64s,
 * never anything cached between calls. */
#include "mixgeo.h"

#include <math.h>

/* splitmix64 (Steele, Lea, Flood 2014): advance *x and return the mixed value. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void mg_rng_seed(mg_rng *r, uint64_t seed)
{
    MG_ASSERT(r);
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    /* splitmix64's output function is a bijection of a counter that never
     * repeats within four calls, so an all-zero state cannot occur; keep the
     * check anyway because all-zero is the one fixed point of xoshiro. */
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) r->s[0] = 1;
}

void mg_rng_seed3(mg_rng *r, uint64_t seed, uint64_t a, uint64_t b)
{
    MG_ASSERT(r);
    /* Chain the three words through splitmix64: for a fixed seed the map
     * a -> x is a bijection, and so is b -> final key for fixed (seed, a).
     * The domain-separation constant keeps (seed, a, b) streams apart from the
     * plain mg_rng_seed(seed) stream. */
    uint64_t x = seed ^ 0x6a09e667f3bcc909ULL;
    x = splitmix64(&x) ^ a;
    x = splitmix64(&x) ^ b;
    uint64_t key = splitmix64(&x);
    mg_rng_seed(r, key);
}

uint64_t mg_rng_u64(mg_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double mg_rng_uniform(mg_rng *r)
{
    return (double)(mg_rng_u64(r) >> 11) * 0x1.0p-53;
}

uint32_t mg_rng_below(mg_rng *r, uint32_t n)
{
    MG_ASSERT(n > 0);
    /* Lemire, "Fast random integer generation in an interval" (2019):
     * multiply-shift with rejection of the biased low products. */
    uint64_t m = (mg_rng_u64(r) >> 32) * (uint64_t)n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (mg_rng_u64(r) >> 32) * (uint64_t)n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

double mg_rng_normal(mg_rng *r)
{
    /* Box-Muller, cosine branch only: two uniforms per call, the sine partner
     * is discarded so that no state lives outside the struct.  u1 in (0, 1]
     * keeps log() finite. */
    double u1 = 1.0 - mg_rng_uniform(r);
    double u2 = mg_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* Marsaglia & Tsang (2000) for shape >= 1. */
static double gamma_mt(mg_rng *r, double shape)
{
    const double d = shape - 1.0 / 3.0;
    const double c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x, v;
        do {
            x = mg_rng_normal(r);
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        double u = mg_rng_uniform(r);
        double x2 = x * x;
        if (u < 1.0 - 0.0331 * x2 * x2) return d * v;
        if (log(u) < 0.5 * x2 + d * (1.0 - v + log(v))) return d * v;
    }
}

/* log of a Gamma(shape, 1) variate.  For shape < 1 the boost
 * Gamma(a) = Gamma(a + 1) * U^(1/a) is applied in log space, so a tiny shape
 * (U^(1/a) underflowing) still gives a usable value for Beta. */
static double log_gamma_variate(mg_rng *r, double shape)
{
    if (shape >= 1.0) return log(gamma_mt(r, shape));
    double g = gamma_mt(r, shape + 1.0);
    double u = 1.0 - mg_rng_uniform(r); /* (0, 1] */
    return log(g) + log(u) / shape;
}

double mg_rng_gamma(mg_rng *r, double shape)
{
    MG_ASSERT(shape > 0.0);
    if (shape >= 1.0) return gamma_mt(r, shape);
    return exp(log_gamma_variate(r, shape));
}

double mg_rng_beta(mg_rng *r, double a, double b)
{
    MG_ASSERT(a > 0.0 && b > 0.0);
    /* X / (X + Y) = 1 / (1 + exp(log Y - log X)), X ~ Gamma(a), Y ~ Gamma(b).
     * The log form never divides 0 by 0 when both draws underflow. */
    double lx = log_gamma_variate(r, a);
    double ly = log_gamma_variate(r, b);
    return 1.0 / (1.0 + exp(ly - lx));
}

void mg_rng_shuffle_int(mg_rng *r, int *v, int n)
{
    MG_ASSERT(n >= 0 && (n == 0 || v));
    for (int i = n - 1; i > 0; i--) {
        int j = (int)mg_rng_below(r, (uint32_t)i + 1);
        int tmp = v[i];
        v[i] = v[j];
        v[j] = tmp;
    }
}

void mg_rng_permutation(mg_rng *r, int *perm, int n)
{
    MG_ASSERT(n >= 0 && (n == 0 || perm));
    for (int i = 0; i < n; i++) perm[i] = i;
    mg_rng_shuffle_int(r, perm, n);
}
