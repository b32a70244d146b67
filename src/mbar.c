/* mbar.c: MBAR and reweighting (mbar.h).
 *   ising_mbar_solve, ising_mbar_reweight   local */
#include "ising/mbar.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double log_denominators(int K, const double *beta, const size_t *n, const double *H, const double *f,
                               double *lnd);

static size_t total(int K, const size_t *n)
{
  size_t t = 0;
  for (int k = 0; k < K; k++) t += n[k];
  return t;
}

/* ln D_n for every sample; returns F(f). */
double ising_mbar_denominators(int K, const double *beta, const size_t *n, const double *H, const double *f,
                               double *lnd)
{
  return log_denominators(K, beta, n, H, f, lnd);
}

static double log_denominators(int K, const double *beta, const size_t *n, const double *H, const double *f,
                               double *lnd)
{
  const size_t N = total(K, n);
  double F = 0.0;
  for (size_t s = 0; s < N; s++) {
    double m = -INFINITY;
    for (int j = 0; j < K; j++)
      if (n[j]) m = fmax(m, log((double)n[j]) + f[j] - beta[j] * H[s]);
    double sum = 0.0;
    for (int j = 0; j < K; j++)
      if (n[j]) sum += exp(log((double)n[j]) + f[j] - beta[j] * H[s] - m);
    lnd[s] = m + log(sum);
    F += lnd[s];
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

int ising_mbar_solve(int K, const double *beta, const size_t *n, const double *H, double *f)
{
  const size_t N = total(K, n);
  double *lnd = malloc(sizeof(double) * (N ? N : 1)), *W = malloc(sizeof(double) * (size_t)K * (N ? N : 1));
  double *g = malloc(sizeof(double) * (size_t)K), *A = malloc(sizeof(double) * (size_t)K * (size_t)K);
  double *step = malloc(sizeof(double) * (size_t)K), *trial = malloc(sizeof(double) * (size_t)K);
  int rc = -1;
  if (!lnd || !W || !g || !A || !step || !trial) goto done;
  for (int k = K - 1; k >= 0; k--) f[k] -= f[0];
  int newton = 100, plain = 2000;
  while (newton > 0 || plain > 0) {
    double F = log_denominators(K, beta, n, H, f, lnd), gmax = 0.0;
    /* W_nk = exp(f_k - beta_k H_n - ln D_n); gradient g_k = n_k (sum_n W_nk - 1) */
    for (int k = 0; k < K; k++) {
      double s = 0.0;
      for (size_t t = 0; t < N; t++) s += W[(size_t)k * N + t] = exp(f[k] - beta[k] * H[t] - lnd[t]);
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
      /* Hessian over k = 1..K-1: n_i sum W_ni delta_ij - n_i n_j sum W_ni W_nj */
      const int m = K - 1;
      for (int i = 1; i < K; i++) {
        for (int j = 1; j < K; j++) {
          double s = 0.0;
          for (size_t t = 0; t < N; t++) s += W[(size_t)i * N + t] * W[(size_t)j * N + t];
          A[(i - 1) * m + (j - 1)] = -(double)n[i] * (double)n[j] * s;
        }
        double d = 0.0;
        for (size_t t = 0; t < N; t++) d += W[(size_t)i * N + t];
        A[(i - 1) * m + (i - 1)] += (double)n[i] * d;
        step[i - 1] = -g[i];
      }
      if (!linear_solve(m, A, step)) {
        for (double lambda = 1.0; lambda > 1e-4 && !moved; lambda *= 0.5) {
          trial[0] = 0.0;
          for (int i = 1; i < K; i++) trial[i] = f[i] + lambda * step[i - 1];
          if (log_denominators(K, beta, n, H, trial, lnd) <= F + 1e-13 * (1.0 + fabs(F))) {
            memcpy(f, trial, sizeof(double) * (size_t)K);
            moved = 1;
          }
        }
      }
    }
    if (!moved) { /* self-consistent iteration: f_k <- -ln sum_n exp(-beta_k H_n - ln D_n) */
      if (plain-- <= 0) break;
      log_denominators(K, beta, n, H, f, lnd);
      for (int k = 0; k < K; k++) {
        double m = -INFINITY, s = 0.0;
        for (size_t t = 0; t < N; t++) m = fmax(m, -beta[k] * H[t] - lnd[t]);
        for (size_t t = 0; t < N; t++) s += exp(-beta[k] * H[t] - lnd[t] - m);
        trial[k] = -(m + log(s));
      }
      for (int k = K - 1; k >= 0; k--) f[k] = trial[k] - trial[0];
    }
  }
done:
  free(lnd);
  free(W);
  free(g);
  free(A);
  free(step);
  free(trial);
  return rc;
}

void ising_mbar_reweight(int K, const size_t *n, const double *H, const double *f, const double *lnd, double b,
                         double *lnz_rel, double *h1, double *var)
{
  const size_t N = total(K, n);
  double m = -INFINITY, s = 0.0, s1 = 0.0, s2 = 0.0, ref = 0.0;
  for (size_t t = 0; t < N; t++) m = fmax(m, -b * H[t] - lnd[t]);
  /* energies relative to their mean, so the variance keeps its digits */
  for (size_t t = 0; t < N; t++) ref += H[t] / (double)N;
  for (size_t t = 0; t < N; t++) {
    double w = exp(-b * H[t] - lnd[t] - m), d = H[t] - ref;
    s += w;
    s1 += w * d;
    s2 += w * d * d;
  }
  *lnz_rel = m + log(s) + f[0];
  *h1 = ref + s1 / s;
  *var = s2 / s - (s1 / s) * (s1 / s);
}
