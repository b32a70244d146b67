/* fft.c: serial FFT of any length (fft.h).
 *   ising_fft   local */
#include "ising/fft.h"

#include <math.h>
#include <stdlib.h>

static const double two_pi = 6.283185307179586476925286766559;

/* In-place radix-2 FFT of m = 2^k values; iterative Cooley-Tukey. */
static void radix2(double *re, double *im, size_t m, int sign)
{
  for (size_t i = 1, j = 0; i < m; i++) {
    size_t bit = m >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      double t = re[i];
      re[i] = re[j];
      re[j] = t;
      t = im[i];
      im[i] = im[j];
      im[j] = t;
    }
  }
  for (size_t len = 2; len <= m; len <<= 1) {
    const double ang = sign * two_pi / (double)len;
    for (size_t k = 0; k < len / 2; k++) {
      const double wr = cos(ang * (double)k), wi = sin(ang * (double)k);
      for (size_t i = k; i < m; i += len) {
        size_t j = i + len / 2;
        double ur = re[i], ui = im[i];
        double vr = re[j] * wr - im[j] * wi, vi = re[j] * wi + im[j] * wr;
        re[i] = ur + vr;
        im[i] = ui + vi;
        re[j] = ur - vr;
        im[j] = ui - vi;
      }
    }
  }
}

/* Bluestein: jk = (j^2 + k^2 - (k-j)^2) / 2 turns the DFT into a
 * convolution with the chirp w_j = exp(-sign i pi j^2 / n), done by
 * power-of-two FFTs.  j^2 is reduced modulo 2n before the angle is formed,
 * so the chirp stays accurate for large n. */
static int bluestein(double *re, double *im, size_t n, int sign)
{
  size_t m = 1;
  while (m < 2 * n - 1) m <<= 1;
  double *buf = calloc(6 * m, sizeof(double));
  if (!buf) return -1;
  double *cr = buf, *ci = buf + m, *ar = buf + 2 * m, *ai = buf + 3 * m, *br = buf + 4 * m, *bi = buf + 5 * m;
  for (size_t j = 0; j < n; j++) {
    double ang = -sign * two_pi * 0.5 * (double)((unsigned long long)j * j % (2 * n)) / (double)n;
    cr[j] = cos(ang);
    ci[j] = sin(ang);
  }
  for (size_t j = 0; j < n; j++) { /* a_j = x_j conj(w_j) */
    ar[j] = re[j] * cr[j] + im[j] * ci[j];
    ai[j] = im[j] * cr[j] - re[j] * ci[j];
  }
  br[0] = cr[0];
  bi[0] = ci[0];
  for (size_t j = 1; j < n; j++) { /* b = w, wrapped for negative indices */
    br[j] = br[m - j] = cr[j];
    bi[j] = bi[m - j] = ci[j];
  }
  radix2(ar, ai, m, -1);
  radix2(br, bi, m, -1);
  for (size_t k = 0; k < m; k++) {
    double xr = ar[k] * br[k] - ai[k] * bi[k], xi = ar[k] * bi[k] + ai[k] * br[k];
    ar[k] = xr;
    ai[k] = xi;
  }
  radix2(ar, ai, m, +1);
  for (size_t k = 0; k < n; k++) { /* X_k = conj(w_k) (a * b)_k / m */
    double xr = ar[k] / (double)m, xi = ai[k] / (double)m;
    re[k] = xr * cr[k] + xi * ci[k];
    im[k] = xi * cr[k] - xr * ci[k];
  }
  free(buf);
  return 0;
}

int ising_fft(double *re, double *im, size_t n, int sign)
{
  if (n <= 1) return 0;
  if ((n & (n - 1)) == 0) {
    radix2(re, im, n, sign);
    return 0;
  }
  return bluestein(re, im, n, sign);
}
