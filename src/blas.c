/* blas.c - the one GEMM wrapper (OpenBLAS cblas_sgemm, row-major), its
 * plain-loop reference twin for the tests, and the thread-count control. */
#include "mixgeo.h"

#include <cblas.h>
#include <strings.h>

/* cblas.h of OpenBLAS declares these; repeated here (compatible declarations)
 * so that a cblas.h without the OpenBLAS extensions still compiles. */
extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_threads(void);
extern char *openblas_get_corename(void);

/* The count last asked for through mg_set_threads (0 = never set). */
static int g_threads_requested;

/* Leading dimensions as cblas checks them for row-major storage: a matrix
 * stored rows x cols needs ld >= max(1, cols). */
static void check_dims(int ta, int tb, int m, int n, int k, int lda, int ldb, int ldc)
{
    MG_ASSERT(m >= 0 && n >= 0 && k >= 0);
    int a_cols = ta ? m : k; /* A is stored k x m when transposed, else m x k */
    int b_cols = tb ? k : n; /* B is stored n x k when transposed, else k x n */
    MG_ASSERT(lda >= (a_cols > 1 ? a_cols : 1));
    MG_ASSERT(ldb >= (b_cols > 1 ? b_cols : 1));
    MG_ASSERT(ldc >= (n > 1 ? n : 1));
}

void mg_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc)
{
    check_dims(ta, tb, m, n, k, lda, ldb, ldc);
    if (m == 0 || n == 0) return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

void mg_sgemm_ref(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc)
{
    check_dims(ta, tb, m, n, k, lda, ldb, ldc);
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double acc = 0.0;
            for (int p = 0; p < k; p++) {
                double a = ta ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p];
                double b = tb ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j];
                acc += a * b;
            }
            float *c = &C[(size_t)i * ldc + j];
            /* beta == 0 overwrites whatever C held (NaN included) and
             * alpha == 0 ignores A and B, as the reference BLAS does. */
            double old = beta == 0.0f ? 0.0 : (double)beta * (double)*c;
            double prod = alpha == 0.0f ? 0.0 : (double)alpha * acc;
            *c = (float)(prod + old);
        }
    }
}

void mg_set_threads(int n)
{
    if (n < 1) n = 1;
    g_threads_requested = n;
    openblas_set_num_threads(n);
}

int mg_get_threads(void)
{
    int n = openblas_get_num_threads();
    return n > 0 ? n : (g_threads_requested > 0 ? g_threads_requested : 1);
}

int mg_blas_threads_swap(int n)
{
    int old = openblas_get_num_threads();
    if (old < 1) old = 1;
    if (n < 1) n = 1;
    if (n != old) openblas_set_num_threads(n);
    return old;
}

/* ---------------------------------------------------------------- kernels */

const char *mg_blas_core(void)
{
    const char *s = openblas_get_corename();
    return s && *s ? s : "unknown";
}

/* The OpenBLAS kernel families mg_blas_core_choose accepts, with the
 * instructions each needs (a kernel the CPU cannot run dies of SIGILL) and
 * the oneDNN ISA cap of the same generation. */
typedef struct {
    const char *name, *isa, *needs;
    int (*ok)(void);
} core_kind;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
static int has_sse3(void) { return __builtin_cpu_supports("sse3"); }
static int has_sse42(void) { return __builtin_cpu_supports("sse4.2"); }
static int has_avx(void) { return __builtin_cpu_supports("avx"); }
static int has_avx2(void) { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
static int has_avx512(void)
{
    return has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}
static const core_kind k_cores[] = {
    {"Prescott", "SSE41", "SSE3", has_sse3},
    {"Nehalem", "SSE41", "SSE4.2", has_sse42},
    {"Sandybridge", "AVX", "AVX", has_avx},
    {"Haswell", "AVX2", "AVX2 and FMA", has_avx2},
    {"SkylakeX", "AVX512_CORE", "AVX-512 (F, BW, DQ, VL)", has_avx512},
};
#define N_CORES ((int)(sizeof k_cores / sizeof k_cores[0]))
#define PORTABLE 3 /* Haswell */
#else
static const core_kind k_cores[1];
#define N_CORES 0
#define PORTABLE (-1)
#endif

static int find_core(const char *name)
{
    for (int i = 0; i < N_CORES; i++)
        if (!strcasecmp(name, k_cores[i].name)) return i;
    return -1;
}

int mg_blas_core_runs(const char *name)
{
    int i = name ? find_core(name) : -1;
    return i < 0 ? -1 : k_cores[i].ok() != 0;
}

mg_status mg_blas_core_choose(const char *want, const char **core, const char **isa)
{
    *core = *isa = NULL;
    if (!want || !*want || !strcasecmp(want, "portable")) {
        if (PORTABLE >= 0 && k_cores[PORTABLE].ok()) {
            *core = k_cores[PORTABLE].name;
            *isa = k_cores[PORTABLE].isa;
        }
        return MG_OK; /* no AVX2 (or not x86-64): OpenBLAS's own choice */
    }
    if (!strcasecmp(want, "native")) return MG_OK;
    int i = find_core(want);
    if (i >= 0) {
        if (!k_cores[i].ok())
            return mg_fail(MG_ERR_CONFIG, "the %s kernels need %s, which this CPU lacks",
                           k_cores[i].name, k_cores[i].needs);
        *core = k_cores[i].name;
        *isa = k_cores[i].isa;
        return MG_OK;
    }
    return mg_fail(MG_ERR_CONFIG,
                   "unknown BLAS kernel family '%s' (portable, native, Prescott, Nehalem, "
                   "Sandybridge, Haswell or SkylakeX)",
                   want);
}
