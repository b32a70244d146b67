/* mbar.c: MBAR and reweighting (mbar.h).
 *   ising_mbar_distinct, ising_mbar_solve, ising_mbar_denominators, ising_mbar_reweight,
 *   ising_mbar_exp   local */
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

/* ln D_u = m_u + ln sum_j exp(ln n_j + f_j - beta_j H_u - m_u), m_u the largest exponent: a pass over the
 * energies per temperature (the terms of each energy are still added in the order of j). */
static double log_denominators(const mbar_work *w, int K, const double *beta, const size_t *n, const double *lnn,
                               size_t U, const double *H, const double *c, const double *f, double *lnd)
{
  double *const m = w->m, *const sum = w->sum, *const arg = w->arg, *const e = w->e;
  for (size_t s = 0; s < U; s++) {
    m[s] = -INFINITY;
    sum[s] = 0.0;
  }
  for (int j = 0; j < K; j++)
    if (n[j])
      for (size_t s = 0; s < U; s++) m[s] = max_of(m[s], lnn[j] + f[j] - beta[j] * H[s]);
  for (int j = 0; j < K; j++) {
    if (!n[j]) continue;
    for (size_t s = 0; s < U; s++) arg[s] = lnn[j] + f[j] - beta[j] * H[s] - m[s];
    ising_mbar_exp(w->simd, arg, e, U);
    for (size_t s = 0; s < U; s++) sum[s] += e[s];
  }
  double F = 0.0;
  for (size_t s = 0; s < U; s++) {
    lnd[s] = m[s] + log(sum[s]);
    F += c[s] * lnd[s];
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

/* Sums in LANES interleaved partial sums (element t into lane t % LANES), added pairwise at the end: the same
 * order of operations whatever the vector width, and no chain of dependent additions. */
#define LANES 8

static inline __attribute__((always_inline)) double lanes_sum(const double a[LANES])
{
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* The solver's sums over the energies, in LANES partial sums (as the reweighting): out[q] = sum_t c_t wi_t w_q,t
 * for the nj <= 4 columns w_q, and out[4] = sum_t c_t wi_t. */
static inline __attribute__((always_inline)) void dots_body(size_t U, const double *c, const double *wi,
                                                            const double *const w[4], int nj, double out[5])
{
  double acc[5][LANES];
  for (int q = 0; q < 5; q++)
    for (size_t l = 0; l < LANES; l++) acc[q][l] = 0.0;
  size_t t = 0;
  for (; t + LANES <= U; t += LANES)
    for (size_t l = 0; l < LANES; l++) {
      const double cw = c[t + l] * wi[t + l];
      acc[0][l] += cw * w[0][t + l];
      acc[1][l] += cw * w[1][t + l];
      acc[2][l] += cw * w[2][t + l];
      acc[3][l] += cw * w[3][t + l];
      acc[4][l] += cw;
    }
  for (; t < U; t++) {
    const double cw = c[t] * wi[t];
    for (int q = 0; q < 4; q++) acc[q][t % LANES] += cw * w[q][t];
    acc[4][t % LANES] += cw;
  }
  for (int q = 0; q < 5; q++) out[q] = q < nj || q == 4 ? lanes_sum(acc[q]) : 0.0;
}

#if ISING_X86
ISING_TARGET_AVX512 static void dots_avx512(size_t U, const double *c, const double *wi, const double *const w[4],
                                            int nj, double out[5])
{
  dots_body(U, c, wi, w, nj, out);
}

ISING_TARGET_AVX2 static void dots_avx2(size_t U, const double *c, const double *wi, const double *const w[4], int nj,
                                        double out[5])
{
  dots_body(U, c, wi, w, nj, out);
}
#endif

static void dots(ising_simd simd, size_t U, const double *c, const double *wi, const double *const w[4], int nj,
                 double out[5])
{
#if ISING_X86
  if (simd == ISING_SIMD_AVX512) {
    dots_avx512(U, c, wi, w, nj, out);
    return;
  }
  if (simd == ISING_SIMD_AVX2) {
    dots_avx2(U, c, wi, w, nj, out);
    return;
  }
#endif
  (void)simd;
  dots_body(U, c, wi, w, nj, out);
}

int ising_mbar_solve(int K, const double *beta, const size_t *n, size_t U, const double *H, const double *c, double *f,
                     double *lnd_out)
{
  const size_t V = U ? U : 1;
  double *lnd = malloc(sizeof(double) * V), *W = malloc(sizeof(double) * (size_t)K * V);
  double *g = malloc(sizeof(double) * (size_t)K), *A = malloc(sizeof(double) * (size_t)K * (size_t)K);
  double *step = malloc(sizeof(double) * (size_t)K), *trial = malloc(sizeof(double) * (size_t)K);
  double *lnn = log_counts(K, n);
  mbar_work w;
  int rc = -1;
  if (work_alloc(&w, U) || !lnd || !W || !g || !A || !step || !trial || !lnn) goto done;
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
    for (int k = 0; k < K; k++) {
      double s = 0.0, *wk = W + (size_t)k * U;
      for (size_t t = 0; t < U; t++) wk[t] = f[k] - beta[k] * H[t] - lnd[t];
      ising_mbar_exp(w.simd, wk, wk, U);
      const double *const cols[4] = {wk, wk, wk, wk};
      double d[5];
      dots(w.simd, U, c, wk, cols, 0, d); /* d[4] = sum_t c_t W_tk */
      s = d[4];
      g[k] = (double)n[k] * (s - 1.0);
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
      /* Hessian over k = 1..K-1: n_i sum c W_i delta_ij - n_i n_j sum c W_i W_j (symmetric: j >= i computed,
       * four columns per pass over the energies, in interleaved partial sums: dots) */
      const int m = K - 1;
      for (int i = 1; i < K; i++) {
        const double *wi = W + (size_t)i * U;
        double d = 0.0; /* sum c W_i, from the first pass */
        for (int j = i; j < K; j += 4) {
          const int nj = K - j < 4 ? K - j : 4;
          const double *w0 = W + (size_t)j * U;
          const double *const cols[4] = {w0, nj > 1 ? w0 + U : w0, nj > 2 ? w0 + 2 * U : w0, nj > 3 ? w0 + 3 * U : w0};
          double s[5];
          dots(w.simd, U, c, wi, cols, nj, s);
          if (j == i) d = s[4];
          for (int q = 0; q < nj; q++) {
            A[(i - 1) * m + (j + q - 1)] = -(double)n[i] * (double)n[j + q] * s[q];
            A[(j + q - 1) * m + (i - 1)] = -(double)n[j + q] * (double)n[i] * s[q];
          }
        }
        A[(i - 1) * m + (i - 1)] += (double)n[i] * d;
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
  return rc;
}

static inline __attribute__((always_inline)) void reweight_body(size_t U, const double *H, const double *c,
                                                                const double *f, const double *lnd, double b,
                                                                double *lnz_rel, double *h1, double *var)
{
  double n[LANES], mx[LANES], ch[LANES], s[LANES], s1[LANES], s2[LANES];
  for (size_t l = 0; l < LANES; l++) {
    n[l] = ch[l] = s[l] = s1[l] = s2[l] = 0.0;
    mx[l] = -INFINITY;
  }
  size_t t = 0;
  for (; t + LANES <= U; t += LANES)
    for (size_t l = 0; l < LANES; l++) {
      n[l] += c[t + l];
      ch[l] += c[t + l] * H[t + l];
      mx[l] = max_of(mx[l], -b * H[t + l] - lnd[t + l]);
    }
  for (; t < U; t++) {
    n[t % LANES] += c[t];
    ch[t % LANES] += c[t] * H[t];
    mx[t % LANES] = max_of(mx[t % LANES], -b * H[t] - lnd[t]);
  }
  double m = -INFINITY;
  for (size_t l = 0; l < LANES; l++) m = max_of(m, mx[l]);
  /* energies relative to their mean, so the variance keeps its digits */
  const double N = lanes_sum(n), ref = lanes_sum(ch) / N;
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
  *lnz_rel = m + log(S) + f[0];
  *h1 = ref + S1 / S;
  *var = S2 / S - (S1 / S) * (S1 / S);
}

#if ISING_X86
ISING_TARGET_AVX512 static void reweight_avx512(size_t U, const double *H, const double *c, const double *f,
                                                const double *lnd, double b, double *lnz_rel, double *h1, double *var)
{
  reweight_body(U, H, c, f, lnd, b, lnz_rel, h1, var);
}

ISING_TARGET_AVX2 static void reweight_avx2(size_t U, const double *H, const double *c, const double *f,
                                            const double *lnd, double b, double *lnz_rel, double *h1, double *var)
{
  reweight_body(U, H, c, f, lnd, b, lnz_rel, h1, var);
}
#endif

void ising_mbar_reweight(size_t U, const double *H, const double *c, const double *f, const double *lnd, double b,
                         double *lnz_rel, double *h1, double *var)
{
#if ISING_X86
  const ising_simd simd = ising_simd_default();
  if (simd == ISING_SIMD_AVX512) {
    reweight_avx512(U, H, c, f, lnd, b, lnz_rel, h1, var);
    return;
  }
  if (simd == ISING_SIMD_AVX2) {
    reweight_avx2(U, H, c, f, lnd, b, lnz_rel, h1, var);
    return;
  }
#endif
  reweight_body(U, H, c, f, lnd, b, lnz_rel, h1, var);
}
