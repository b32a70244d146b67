/* mbar.c: MBAR and reweighting (mbar.h).
 *   ising_mbar_distinct, ising_mbar_solve, ising_mbar_denominators, ising_mbar_reweight,
 *   ising_mbar_exp, ising_mbar_test_blocks   local */
#include "ising/mbar.h"

#include "ising/rng.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- e^x for x <= 0, vectorised, the same bits on every instruction set ----
 *
 * Every exponential of MBAR is of a number <= 0 (a log-sum-exp term less its maximum, or a weight W <= 1/n_k),
 * and there are K or P of them per energy per pass: with continuous (Gaussian) couplings every sample has its own
 * energy, and glibc's exp, one call at a time, was the largest part of the analysis.  ising_mbar_exp computes
 * them an array at a time: x = k ln2 + r (Cody-Waite, |r| <= ln2/2), e^r by its Taylor polynomial of degree 13
 * (remainder < 1e-17 relative) by Horner's rule, times 2^k from the exponent bits; below -708 it returns
 * e^-708, whose difference from the true value (< 3.4e-308) is nothing beside the sums of which every such
 * term is a part (each has a term 1 or is about 1).  Only +, -, * and integer operations, and mbar.c is compiled
 * with -ffp-contract=off (no fused multiply-adds): the vector instructions of AVX-512, AVX2 and the plain
 * build round each operation exactly as the scalar code does, so the analysis gives the same bits on every
 * instruction set (test_mbar checks it, and the error against exp: below 3 units in the last place). */
static inline __attribute__((always_inline)) double exp_nonpositive(double x)
{
  const double shift = 0x1.8p52; /* t + shift rounds t to an integer, which then sits in the low mantissa bits */
  { /* x = max(x, -708) in integer operations: a conditional would keep GCC from vectorising the loop for AVX2 */
    const double lo = -708.0;
    int64_t xb, lb;
    memcpy(&xb, &x, sizeof(xb));
    memcpy(&lb, &lo, sizeof(lb));
    const int64_t below = -(int64_t)(x < lo);
    xb = (xb & ~below) | (lb & below);
    memcpy(&x, &xb, sizeof(x));
  }
  const double t = x * 1.4426950408889634074 + shift, kf = t - shift;
  const double r = ising_ln2_reduce(x, kf);
  double q = ising_exp_horner(1.0 / 6227020800.0, r);
  q = q * r + 1.0;
  q = q * r + 1.0;
  int64_t bits, sh;
  memcpy(&bits, &t, sizeof(bits));
  memcpy(&sh, &shift, sizeof(sh));
  const int64_t e = (bits - sh + 1023) * ((int64_t)1 << 52); /* 2^k: k >= -1021 */
  double scale;
  memcpy(&scale, &e, sizeof(scale));
  return q * scale;
}

ISING_SIMD_MAP(ising_mbar_exp, exp_nonpositive)

/* Work space of the passes over the energies: 4 arrays of U. */
typedef struct {
  ising_simd simd;
  double *m, *sum, *arg, *e;
} mbar_work;

static int work_alloc(mbar_work *w, size_t U)
{
  const size_t V = U ? U : 1;
  w->simd = ising_simd_default();
  w->m = malloc(sizeof(double) * V);
  w->sum = malloc(sizeof(double) * V);
  w->arg = malloc(sizeof(double) * V);
  w->e = malloc(sizeof(double) * V);
  return w->m && w->sum && w->arg && w->e ? 0 : -1;
}

static void work_free(mbar_work *w)
{
  free(w->m);
  free(w->sum);
  free(w->arg);
  free(w->e);
}

static double log_denominators(const mbar_work *w, int K, const double *beta, const size_t *n, const double *lnn,
                               size_t U, const double *H, const double *c, const double *f, double *lnd);

/* fmax for a running maximum that starts at -inf: NaN never replaces it, as with fmax, but inline (fmax is a
 * library call in the innermost loops). */
static inline double max_of(double m, double x)
{
  return x > m ? x : m;
}

static int compare_double(const void *a, const void *b)
{
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

size_t ising_mbar_distinct(size_t N, const double *H, double *Hu, double *c)
{
  if (N == 0) return 0;
  memcpy(Hu, H, sizeof(double) * N);
  qsort(Hu, N, sizeof(double), compare_double);
  size_t U = 0;
  for (size_t t = 0; t < N; t++)
    if (U && Hu[t] == Hu[U - 1])
      c[U - 1] += 1.0;
    else {
      Hu[U] = Hu[t];
      c[U++] = 1.0;
    }
  return U;
}

/* lnn[k] = ln n_k (computed once: it is needed K times per energy); NULL if out of memory. */
static double *log_counts(int K, const size_t *n)
{
  double *lnn = malloc(sizeof(double) * (size_t)K);
  for (int k = 0; lnn && k < K; k++) lnn[k] = n[k] ? log((double)n[k]) : 0.0;
  return lnn;
}

/* ln D for every energy; returns F(f) (NaN if out of memory). */
double ising_mbar_denominators(int K, const double *beta, const size_t *n, size_t U, const double *H, const double *c,
                               const double *f, double *lnd)
{
  double *lnn = log_counts(K, n);
  mbar_work w;
  if (work_alloc(&w, U) || !lnn) {
    work_free(&w);
    free(lnn);
    for (size_t s = 0; s < U; s++) lnd[s] = NAN;
    return NAN;
  }
  const double F = log_denominators(&w, K, beta, n, lnn, U, H, c, f, lnd);
  work_free(&w);
  free(lnn);
  return F;
}

/* Sums in LANES interleaved partial sums (element t into lane t % LANES), added pairwise at the end: the same
 * order of operations whatever the vector width, and no chain of dependent additions. */
#define LANES 8

#define DENOMINATOR_BLOCK 1024 /* energies: 5 arrays of them in 40 KiB */

/* ising_mbar_test_blocks: the energies' block size every pass uses instead of its own (0: their own) */
static size_t forced_block;

void ising_mbar_test_blocks(size_t n)
{
  forced_block = (n + LANES - 1) / LANES * LANES;
}

static size_t block_or(size_t own)
{
  return forced_block ? forced_block : own;
}

/* ln D_u = m_u + ln sum_j exp(ln n_j + f_j - beta_j H_u - m_u), m_u the largest exponent: the energies in
 * blocks whose arrays stay in the first-level cache through all K temperatures, a pass over the block per
 * temperature (the terms of each energy are still added in the order of j, and F in the order of u). */
static double log_denominators(const mbar_work *w, int K, const double *beta, const size_t *n, const double *lnn,
                               size_t U, const double *H, const double *c, const double *f, double *lnd)
{
  double *const m = w->m, *const sum = w->sum, *const arg = w->arg, *const e = w->e;
  double F = 0.0;
  const size_t B = block_or(DENOMINATOR_BLOCK);
  for (size_t s0 = 0; s0 < U; s0 += B) {
    const size_t s1 = U - s0 > B ? s0 + B : U;
    for (size_t s = s0; s < s1; s++) {
      m[s] = -INFINITY;
      sum[s] = 0.0;
    }
    for (int j = 0; j < K; j++)
      if (n[j])
        for (size_t s = s0; s < s1; s++) m[s] = max_of(m[s], lnn[j] + f[j] - beta[j] * H[s]);
    for (int j = 0; j < K; j++) {
      if (!n[j]) continue;
      for (size_t s = s0; s < s1; s++) arg[s] = lnn[j] + f[j] - beta[j] * H[s] - m[s];
      ising_mbar_exp(w->simd, arg + s0, e + s0, s1 - s0);
      for (size_t s = s0; s < s1; s++) sum[s] += e[s];
    }
    for (size_t s = s0; s < s1; s++) {
      lnd[s] = m[s] + log(sum[s]);
      F += c[s] * lnd[s];
    }
  }
  for (int k = 0; k < K; k++) F -= (double)n[k] * f[k];
  return F;
}

/* Solves A x = b (m x m, row-major) by Gaussian elimination with partial
 * pivoting; A and b are overwritten.  Returns -1 if singular. */
static int linear_solve(int m, double *A, double *b)
{
  for (int c = 0; c < m; c++) {
    int piv = c;
    for (int r = c + 1; r < m; r++)
      if (fabs(A[r * m + c]) > fabs(A[piv * m + c])) piv = r;
    if (!(fabs(A[piv * m + c]) > 0)) return -1;
    if (piv != c) {
      for (int j = 0; j < m; j++) {
        double t = A[c * m + j];
        A[c * m + j] = A[piv * m + j];
        A[piv * m + j] = t;
      }
      double t = b[c];
      b[c] = b[piv];
      b[piv] = t;
    }
    for (int r = c + 1; r < m; r++) {
      double q = A[r * m + c] / A[c * m + c];
      for (int j = c; j < m; j++) A[r * m + j] -= q * A[c * m + j];
      b[r] -= q * b[c];
    }
  }
  for (int c = m - 1; c >= 0; c--) {
    for (int j = c + 1; j < m; j++) b[c] -= A[c * m + j] * b[j];
    b[c] /= A[c * m + c];
  }
  return 0;
}

/* LANES doubles in one vector (GCC's vector extensions), for loops the compiler does not vectorise by itself;
 * element l is lane l.  Loads through them need only a double's alignment. */
typedef double lanes_d __attribute__((vector_size(8 * LANES), aligned(8)));
typedef int64_t lanes_i __attribute__((vector_size(8 * LANES), aligned(8)));

static inline __attribute__((always_inline)) double lanes_sum(const double a[LANES])
{
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* The solver's sums over the energies t0 <= t < t1 (t0 a multiple of LANES), added to LANES interleaved partial
 * sums (as the reweighting): acc[q] += c_t wi_t w_q,t for the 4 columns w_q, and if with_sum acc[4] += c_t wi_t.
 * Over [0, U) in one call or in consecutive blocks, every partial sum adds the same terms in the same order. */
static inline __attribute__((always_inline)) void dots_body(size_t t0, size_t t1, const double *c, const double *wi,
                                                            const double *const w[4], int with_sum,
                                                            double acc[5][LANES])
{
  /* in vector types, which the compiler keeps in registers; each lane's operations are those of the scalar tail */
  lanes_d a[5];
  for (int q = 0; q < 5; q++) memcpy(&a[q], acc[q], sizeof(a[q]));
  size_t t = t0;
  for (; t + LANES <= t1; t += LANES) {
    const lanes_d cw = *(const lanes_d *)(c + t) * *(const lanes_d *)(wi + t);
    a[0] += cw * *(const lanes_d *)(w[0] + t);
    a[1] += cw * *(const lanes_d *)(w[1] + t);
    a[2] += cw * *(const lanes_d *)(w[2] + t);
    a[3] += cw * *(const lanes_d *)(w[3] + t);
    if (with_sum) a[4] += cw;
  }
  for (int q = 0; q < 5; q++) memcpy(acc[q], &a[q], sizeof(a[q]));
  for (; t < t1; t++) {
    const double cw = c[t] * wi[t];
    for (int q = 0; q < 4; q++) acc[q][t % LANES] += cw * w[q][t];
    if (with_sum) acc[4][t % LANES] += cw;
  }
}

/* sum_t c_t W_it W_jt for 1 <= i <= j < K into S[i K + j], and sum_t c_t W_it into D[i] (W: K columns of U).
 * The energies go in blocks of T whose K columns stay in cache while every pair (i, j) takes its part, four
 * columns j at a time, into partial sums kept from block to block (acc: one per four columns of a row): the
 * same bits as whole passes over the energies, which read every column from memory (K - i) / 4 times. */
static inline __attribute__((always_inline)) void hessian_body(size_t U, const double *c, const double *W, int K,
                                                               double (*acc)[5][LANES], double *S, double *D)
{
  size_t T = block_or(((size_t)1 << 17) / (size_t)K / LANES * LANES); /* K columns of T doubles: 1 MiB */
  if (T < LANES) T = LANES;
  size_t groups = 0;
  for (int i = 1; i < K; i++) groups += (size_t)(K - i + 3) / 4;
  memset(acc, 0, sizeof(*acc) * groups);
  for (size_t t0 = 0; t0 < U; t0 += T) {
    const size_t t1 = U - t0 > T ? t0 + T : U;
    double(*a)[5][LANES] = acc;
    for (int i = 1; i < K; i++)
      for (int j = i; j < K; j += 4, a++) {
        const double *w0 = W + (size_t)j * U;
        const int nj = K - j < 4 ? K - j : 4;
        const double *const cols[4] = {w0, nj > 1 ? w0 + U : w0, nj > 2 ? w0 + 2 * U : w0, nj > 3 ? w0 + 3 * U : w0};
        if (j == i) /* the sum of c W_i once per row (two instantiations: with_sum is a constant in each) */
          dots_body(t0, t1, c, W + (size_t)i * U, cols, 1, *a);
        else
          dots_body(t0, t1, c, W + (size_t)i * U, cols, 0, *a);
      }
  }
  double(*a)[5][LANES] = acc;
  for (int i = 1; i < K; i++)
    for (int j = i; j < K; j += 4, a++) {
      for (int q = 0; q < 4 && j + q < K; q++) S[(size_t)i * (size_t)K + (size_t)(j + q)] = lanes_sum((*a)[q]);
      if (j == i) D[i] = lanes_sum((*a)[4]);
    }
}

/* acc[t % LANES] += c_t w_t for t0 <= t < t1 (t0 a multiple of LANES): dots_body's last sum alone. */
static inline __attribute__((always_inline)) void weighted_sum(size_t t0, size_t t1, const double *c, const double *w,
                                                               double acc[LANES])
{
  lanes_d a;
  memcpy(&a, acc, sizeof(a));
  size_t t = t0;
  for (; t + LANES <= t1; t += LANES) a += *(const lanes_d *)(c + t) * *(const lanes_d *)(w + t);
  memcpy(acc, &a, sizeof(a));
  for (; t < t1; t++) acc[t % LANES] += c[t] * w[t];
}

/* The weights W_uk = exp(f_k - beta_k H_u - ln D_u) of every temperature k into W (K columns of U), and s[k] =
 * sum_u c_u W_uk.  In blocks of energies that stay in cache from the exponential to the sum, with partial sums
 * acc[k] kept from block to block: the same bits as whole passes. */
static inline __attribute__((always_inline)) void weights_body(ising_simd simd, int K, const double *beta,
                                                               const double *f, size_t U, const double *H,
                                                               const double *lnd, const double *c, double *W,
                                                               double (*acc)[5][LANES], double *s)
{
  memset(acc, 0, sizeof(*acc) * (size_t)K);
  const size_t B = block_or(DENOMINATOR_BLOCK);
  for (size_t t0 = 0; t0 < U; t0 += B) {
    const size_t t1 = U - t0 > B ? t0 + B : U;
    for (int k = 0; k < K; k++) {
      double *wk = W + (size_t)k * U;
      for (size_t t = t0; t < t1; t++) wk[t] = f[k] - beta[k] * H[t] - lnd[t];
      ising_mbar_exp(simd, wk + t0, wk + t0, t1 - t0);
      weighted_sum(t0, t1, c, wk, acc[k][4]);
    }
  }
  for (int k = 0; k < K; k++) s[k] = lanes_sum(acc[k][4]);
}

#if ISING_X86
ISING_TARGET_AVX512 static void hessian_avx512(size_t U, const double *c, const double *W, int K,
                                               double (*acc)[5][LANES], double *S, double *D)
{
  hessian_body(U, c, W, K, acc, S, D);
}

ISING_TARGET_AVX2 static void hessian_avx2(size_t U, const double *c, const double *W, int K, double (*acc)[5][LANES],
                                           double *S, double *D)
{
  hessian_body(U, c, W, K, acc, S, D);
}

ISING_TARGET_AVX512 static void weights_avx512(ising_simd simd, int K, const double *beta, const double *f, size_t U,
                                               const double *H, const double *lnd, const double *c, double *W,
                                               double (*acc)[5][LANES], double *s)
{
  weights_body(simd, K, beta, f, U, H, lnd, c, W, acc, s);
}

ISING_TARGET_AVX2 static void weights_avx2(ising_simd simd, int K, const double *beta, const double *f, size_t U,
                                           const double *H, const double *lnd, const double *c, double *W,
                                           double (*acc)[5][LANES], double *s)
{
  weights_body(simd, K, beta, f, U, H, lnd, c, W, acc, s);
}
#endif

/* name_avx512(...) or name_avx2(...) where simd is that instruction set, else name_body(...). */
#if ISING_X86
#define SIMD_CALL(simd, name, ...)                                                                                     \
  do {                                                                                                                 \
    if ((simd) == ISING_SIMD_AVX512)                                                                                   \
      name##_avx512(__VA_ARGS__);                                                                                      \
    else if ((simd) == ISING_SIMD_AVX2)                                                                                \
      name##_avx2(__VA_ARGS__);                                                                                        \
    else                                                                                                               \
      name##_body(__VA_ARGS__);                                                                                        \
  } while (0)
#else
#define SIMD_CALL(simd, name, ...) name##_body(__VA_ARGS__)
#endif

int ising_mbar_solve(int K, const double *beta, const size_t *n, size_t U, const double *H, const double *c, double *f,
                     double *lnd_out)
{
  const size_t V = U ? U : 1;
  double *lnd = malloc(sizeof(double) * V), *W = malloc(sizeof(double) * (size_t)K * V);
  double *g = malloc(sizeof(double) * (size_t)K), *A = malloc(sizeof(double) * (size_t)K * (size_t)K);
  double *step = malloc(sizeof(double) * (size_t)K), *trial = malloc(sizeof(double) * (size_t)K);
  double *S = malloc(sizeof(double) * (size_t)K * (size_t)K), *D = malloc(sizeof(double) * (size_t)K);
  size_t groups = (size_t)K; /* partial sums: K for the weights, one per four columns of a row for the Hessian */
  for (int i = 1; i < K; i++) groups += (size_t)(K - i + 3) / 4;
  double(*acc)[5][LANES] = malloc(sizeof(*acc) * groups);
  double *lnn = log_counts(K, n);
  mbar_work w;
  int rc = -1;
  if (work_alloc(&w, U) || !lnd || !W || !g || !A || !step || !trial || !S || !D || !acc || !lnn) goto done;
  for (int k = K - 1; k >= 0; k--) f[k] -= f[0];
  int newton = 100, plain = 2000;
  /* F and lnd of the current f when the accepted line-search trial left them (the same bits as recomputing) */
  int have = 0;
  double F = 0.0;
  while (newton > 0 || plain > 0) {
    if (!have) F = log_denominators(&w, K, beta, n, lnn, U, H, c, f, lnd);
    have = 0;
    double gmax = 0.0;
    /* W_uk = exp(f_k - beta_k H_u - ln D_u); gradient g_k = n_k (sum_u c_u W_uk - 1) */
    SIMD_CALL(w.simd, weights, w.simd, K, beta, f, U, H, lnd, c, W, acc, g);
    for (int k = 0; k < K; k++) {
      g[k] = (double)n[k] * (g[k] - 1.0);
      if (n[k]) gmax = fmax(gmax, fabs(g[k]) / (double)n[k]);
    }
    if (gmax <= 1e-9) {
      rc = 0;
      if (lnd_out) memcpy(lnd_out, lnd, sizeof(double) * U);
      break;
    }
    int moved = 0;
    if (newton > 0 && K > 1) {
      newton--;
      /* Hessian over k = 1..K-1: n_i sum c W_i delta_ij - n_i n_j sum c W_i W_j (symmetric: j >= i computed, in
       * interleaved partial sums) */
      const int m = K - 1;
      SIMD_CALL(w.simd, hessian, U, c, W, K, acc, S, D);
      for (int i = 1; i < K; i++) {
        for (int j = i; j < K; j++) {
          const double sij = S[(size_t)i * (size_t)K + (size_t)j];
          A[(i - 1) * m + (j - 1)] = -(double)n[i] * (double)n[j] * sij;
          A[(j - 1) * m + (i - 1)] = -(double)n[j] * (double)n[i] * sij;
        }
        A[(i - 1) * m + (i - 1)] += (double)n[i] * D[i];
        step[i - 1] = -g[i];
      }
      if (!linear_solve(m, A, step)) {
        for (double lambda = 1.0; lambda > 1e-4 && !moved; lambda *= 0.5) {
          trial[0] = 0.0;
          for (int i = 1; i < K; i++) trial[i] = f[i] + lambda * step[i - 1];
          const double Ft = log_denominators(&w, K, beta, n, lnn, U, H, c, trial, lnd);
          if (Ft <= F + 1e-13 * (1.0 + fabs(F))) {
            memcpy(f, trial, sizeof(double) * (size_t)K);
            F = Ft;
            moved = have = 1;
          }
        }
      }
    }
    if (!moved) { /* self-consistent iteration: f_k <- -ln sum_u c_u exp(-beta_k H_u - ln D_u) */
      if (plain-- <= 0) break;
      log_denominators(&w, K, beta, n, lnn, U, H, c, f, lnd);
      for (int k = 0; k < K; k++) {
        double m = -INFINITY, s = 0.0;
        for (size_t t = 0; t < U; t++) m = max_of(m, -beta[k] * H[t] - lnd[t]);
        for (size_t t = 0; t < U; t++) w.arg[t] = -beta[k] * H[t] - lnd[t] - m;
        ising_mbar_exp(w.simd, w.arg, w.e, U);
        for (size_t t = 0; t < U; t++) s += c[t] * w.e[t];
        trial[k] = -(m + log(s));
      }
      for (int k = K - 1; k >= 0; k--) f[k] = trial[k] - trial[0];
    }
  }
done:
  work_free(&w);
  free(lnn);
  free(lnd);
  free(W);
  free(g);
  free(A);
  free(step);
  free(trial);
  free(S);
  free(D);
  free(acc);
  return rc;
}

/* mx[l] = the largest of a H[t] - lnd[t] over t = l mod LANES, as max_of would leave it.  GCC does not vectorise
 * max_of across lanes by itself; written with vector types, each lane's operations are those of the scalar
 * code (the comparison x > m picks x, else m), in the same order. */
static inline __attribute__((always_inline)) void lanes_max(size_t U, const double *H, const double *lnd, double a,
                                                            double mx[LANES])
{
  lanes_d m, av;
  for (size_t l = 0; l < LANES; l++) {
    m[l] = -INFINITY;
    av[l] = a;
  }
  size_t t = 0;
  for (; t + LANES <= U; t += LANES) {
    const lanes_d x = av * *(const lanes_d *)(H + t) - *(const lanes_d *)(lnd + t);
    const lanes_i take = x > m;
    m = (lanes_d)(((lanes_i)x & take) | ((lanes_i)m & ~take));
  }
  for (size_t l = 0; l < LANES; l++) mx[l] = m[l];
  for (; t < U; t++) mx[t % LANES] = max_of(mx[t % LANES], a * H[t] - lnd[t]);
}

static inline __attribute__((always_inline)) void reweight_body(size_t U, const double *H, const double *c,
                                                                const double *f, const double *lnd, int P,
                                                                const double *bs, double *lnz_rel, double *h1,
                                                                double *var)
{
  double n[LANES], ch[LANES];
  for (size_t l = 0; l < LANES; l++) n[l] = ch[l] = 0.0;
  size_t t = 0;
  for (; t + LANES <= U; t += LANES)
    for (size_t l = 0; l < LANES; l++) {
      n[l] += c[t + l];
      ch[l] += c[t + l] * H[t + l];
    }
  for (; t < U; t++) {
    n[t % LANES] += c[t];
    ch[t % LANES] += c[t] * H[t];
  }
  /* energies relative to their mean, so the variance keeps its digits */
  const double N = lanes_sum(n), ref = lanes_sum(ch) / N;
  for (int i = 0; i < P; i++) {
    const double b = bs[i];
    double mx[LANES], s[LANES], s1[LANES], s2[LANES];
    for (size_t l = 0; l < LANES; l++) s[l] = s1[l] = s2[l] = 0.0;
    lanes_max(U, H, lnd, -b, mx);
    double m = -INFINITY;
    for (size_t l = 0; l < LANES; l++) m = max_of(m, mx[l]);
    for (t = 0; t + LANES <= U; t += LANES)
      for (size_t l = 0; l < LANES; l++) {
        const double w = c[t + l] * exp_nonpositive(-b * H[t + l] - lnd[t + l] - m), d = H[t + l] - ref;
        s[l] += w;
        s1[l] += w * d;
        s2[l] += w * d * d;
      }
    for (; t < U; t++) {
      const double w = c[t] * exp_nonpositive(-b * H[t] - lnd[t] - m), d = H[t] - ref;
      s[t % LANES] += w;
      s1[t % LANES] += w * d;
      s2[t % LANES] += w * d * d;
    }
    const double S = lanes_sum(s), S1 = lanes_sum(s1), S2 = lanes_sum(s2);
    lnz_rel[i] = m + log(S) + f[0];
    h1[i] = ref + S1 / S;
    var[i] = S2 / S - (S1 / S) * (S1 / S);
  }
}

#if ISING_X86
ISING_TARGET_AVX512 static void reweight_avx512(size_t U, const double *H, const double *c, const double *f,
                                                const double *lnd, int P, const double *b, double *lnz_rel, double *h1,
                                                double *var)
{
  reweight_body(U, H, c, f, lnd, P, b, lnz_rel, h1, var);
}

ISING_TARGET_AVX2 static void reweight_avx2(size_t U, const double *H, const double *c, const double *f,
                                            const double *lnd, int P, const double *b, double *lnz_rel, double *h1,
                                            double *var)
{
  reweight_body(U, H, c, f, lnd, P, b, lnz_rel, h1, var);
}
#endif

double ising_mbar_overlap(size_t U, const double *H, const double *c, const double *lnd, double fk, double bk,
                          double fl, double bl)
{
  /* W_uk W_ul = exp(fk + fl - (bk + bl) H_u - 2 ln D_u), at most 1 / (n_k n_l) */
  const ising_simd simd = ising_simd_default();
  double x[DENOMINATOR_BLOCK], acc[LANES] = {0};
  for (size_t s0 = 0; s0 < U; s0 += DENOMINATOR_BLOCK) {
    const size_t m = U - s0 < DENOMINATOR_BLOCK ? U - s0 : DENOMINATOR_BLOCK;
    for (size_t t = 0; t < m; t++) x[t] = fmin(0.0, fk + fl - (bk + bl) * H[s0 + t] - 2.0 * lnd[s0 + t]);
    ising_mbar_exp(simd, x, x, m);
    for (size_t t = 0; t < m; t++) acc[(s0 + t) % LANES] += c[s0 + t] * x[t];
  }
  return lanes_sum(acc);
}

void ising_mbar_reweight(size_t U, const double *H, const double *c, const double *f, const double *lnd, int P,
                         const double *b, double *lnz_rel, double *h1, double *var)
{
  const ising_simd simd = ising_simd_default();
  SIMD_CALL(simd, reweight, U, H, c, f, lnd, P, b, lnz_rel, h1, var);
}
