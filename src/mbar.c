/* mbar.c: MBAR and reweighting (mbar.h).
 *   ising_mbar_distinct, ising_mbar_solve, ising_mbar_denominators, ising_mbar_reweight   local */
#include "ising/mbar.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double log_denominators(int K, const double *beta, const size_t *n, const double *lnn, size_t U, const double *H,
                               const double *c, const double *f, double *lnd);

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
  if (!lnn) {
    for (size_t s = 0; s < U; s++) lnd[s] = NAN;
    return NAN;
  }
  const double F = log_denominators(K, beta, n, lnn, U, H, c, f, lnd);
  free(lnn);
  return F;
}

static double log_denominators(int K, const double *beta, const size_t *n, const double *lnn, size_t U, const double *H,
                               const double *c, const double *f, double *lnd)
{
  double F = 0.0;
  for (size_t s = 0; s < U; s++) {
    double m = -INFINITY;
    for (int j = 0; j < K; j++)
      if (n[j]) m = max_of(m, lnn[j] + f[j] - beta[j] * H[s]);
    double sum = 0.0;
    for (int j = 0; j < K; j++)
      if (n[j]) sum += exp(lnn[j] + f[j] - beta[j] * H[s] - m);
    lnd[s] = m + log(sum);
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

int ising_mbar_solve(int K, const double *beta, const size_t *n, size_t U, const double *H, const double *c, double *f)
{
  const size_t V = U ? U : 1;
  double *lnd = malloc(sizeof(double) * V), *W = malloc(sizeof(double) * (size_t)K * V);
  double *g = malloc(sizeof(double) * (size_t)K), *A = malloc(sizeof(double) * (size_t)K * (size_t)K);
  double *step = malloc(sizeof(double) * (size_t)K), *trial = malloc(sizeof(double) * (size_t)K);
  double *lnn = log_counts(K, n);
  int rc = -1;
  if (!lnd || !W || !g || !A || !step || !trial || !lnn) goto done;
  for (int k = K - 1; k >= 0; k--) f[k] -= f[0];
  int newton = 100, plain = 2000;
  while (newton > 0 || plain > 0) {
    double F = log_denominators(K, beta, n, lnn, U, H, c, f, lnd), gmax = 0.0;
    /* W_uk = exp(f_k - beta_k H_u - ln D_u); gradient g_k = n_k (sum_u c_u W_uk - 1) */
    for (int k = 0; k < K; k++) {
      double s = 0.0;
      for (size_t t = 0; t < U; t++) s += c[t] * (W[(size_t)k * U + t] = exp(f[k] - beta[k] * H[t] - lnd[t]));
      g[k] = (double)n[k] * (s - 1.0);
      if (n[k]) gmax = fmax(gmax, fabs(g[k]) / (double)n[k]);
    }
    if (gmax <= 1e-9) {
      rc = 0;
      break;
    }
    int moved = 0;
    if (newton > 0 && K > 1) {
      newton--;
      /* Hessian over k = 1..K-1: n_i sum c W_i delta_ij - n_i n_j sum c W_i W_j (symmetric: j >= i computed,
       * four columns per pass over the energies) */
      const int m = K - 1;
      for (int i = 1; i < K; i++) {
        const double *wi = W + (size_t)i * U;
        for (int j = i; j < K; j += 4) {
          const int nj = K - j < 4 ? K - j : 4;
          const double *w0 = W + (size_t)j * U, *w1 = nj > 1 ? w0 + U : w0, *w2 = nj > 2 ? w0 + 2 * U : w0,
                       *w3 = nj > 3 ? w0 + 3 * U : w0;
          double s[4] = {0.0, 0.0, 0.0, 0.0};
          for (size_t t = 0; t < U; t++) {
            const double cw = c[t] * wi[t];
            s[0] += cw * w0[t];
            s[1] += cw * w1[t];
            s[2] += cw * w2[t];
            s[3] += cw * w3[t];
          }
          for (int q = 0; q < nj; q++) {
            A[(i - 1) * m + (j + q - 1)] = -(double)n[i] * (double)n[j + q] * s[q];
            A[(j + q - 1) * m + (i - 1)] = -(double)n[j + q] * (double)n[i] * s[q];
          }
        }
        double d = 0.0;
        for (size_t t = 0; t < U; t++) d += c[t] * wi[t];
        A[(i - 1) * m + (i - 1)] += (double)n[i] * d;
        step[i - 1] = -g[i];
      }
      if (!linear_solve(m, A, step)) {
        for (double lambda = 1.0; lambda > 1e-4 && !moved; lambda *= 0.5) {
          trial[0] = 0.0;
          for (int i = 1; i < K; i++) trial[i] = f[i] + lambda * step[i - 1];
          if (log_denominators(K, beta, n, lnn, U, H, c, trial, lnd) <= F + 1e-13 * (1.0 + fabs(F))) {
            memcpy(f, trial, sizeof(double) * (size_t)K);
            moved = 1;
          }
        }
      }
    }
    if (!moved) { /* self-consistent iteration: f_k <- -ln sum_u c_u exp(-beta_k H_u - ln D_u) */
      if (plain-- <= 0) break;
      log_denominators(K, beta, n, lnn, U, H, c, f, lnd);
      for (int k = 0; k < K; k++) {
        double m = -INFINITY, s = 0.0;
        for (size_t t = 0; t < U; t++) m = max_of(m, -beta[k] * H[t] - lnd[t]);
        for (size_t t = 0; t < U; t++) s += c[t] * exp(-beta[k] * H[t] - lnd[t] - m);
        trial[k] = -(m + log(s));
      }
      for (int k = K - 1; k >= 0; k--) f[k] = trial[k] - trial[0];
    }
  }
done:
  free(lnn);
  free(lnd);
  free(W);
  free(g);
  free(A);
  free(step);
  free(trial);
  return rc;
}

void ising_mbar_reweight(size_t U, const double *H, const double *c, const double *f, const double *lnd, double b,
                         double *lnz_rel, double *h1, double *var)
{
  double N = 0.0, m = -INFINITY, s = 0.0, s1 = 0.0, s2 = 0.0, ref = 0.0;
  for (size_t t = 0; t < U; t++) {
    N += c[t];
    m = max_of(m, -b * H[t] - lnd[t]);
  }
  /* energies relative to their mean, so the variance keeps its digits */
  for (size_t t = 0; t < U; t++) ref += c[t] * H[t] / N;
  for (size_t t = 0; t < U; t++) {
    double w = c[t] * exp(-b * H[t] - lnd[t] - m), d = H[t] - ref;
    s += w;
    s1 += w * d;
    s2 += w * d * d;
  }
  *lnz_rel = m + log(s) + f[0];
  *h1 = ref + s1 / s;
  *var = s2 / s - (s1 / s) * (s1 / s);
}
