/* fft.c: serial FFT of any length (fft.h).
 *   ising_fft   local */
#include "ising/fft.h"

#include <math.h>
#include <stdlib.h>

static const double two_pi = 6.283185307179586476925286766559;

/* The twiddles of a power-of-two FFT of length m >= 2: w_k = exp(-2 pi i k / m), k < m / 2 (the first quarter
 * from cos and sin, the second from it by w_{k + m/4} = -i w_k); NULL if out of memory. */
static double *twiddles(size_t m)
{
  const size_t h = m / 2, q = m / 4;
  double *w = malloc(sizeof(double) * 2 * (h ? h : 1));
  if (!w) return NULL;
  if (m == 2) {
    w[0] = 1.0;
    w[1] = 0.0;
    return w;
  }
  for (size_t k = 0; k < q; k++) {
    const double a = two_pi * (double)k / (double)m;
    w[2 * k] = cos(a);
    w[2 * k + 1] = -sin(a);
  }
  for (size_t k = 0; k < q; k++) {
    w[2 * (k + q)] = w[2 * k + 1];
    w[2 * (k + q) + 1] = -w[2 * k];
  }
  return w;
}

/* In-place radix-2 FFT of m = 2^k values (iterative Cooley-Tukey) with the twiddles w of a length M >= m
 * (twiddles(M)): stage len takes w_{k M / len}, conjugated for sign +1. */
static void radix2(double *re, double *im, size_t m, int sign, const double *w, size_t M)
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
  const double conj = sign > 0 ? -1.0 : 1.0;
  for (size_t len = 2; len <= m; len <<= 1) {
    const size_t half = len / 2, stride = M / len;
    for (size_t i0 = 0; i0 < m; i0 += len)
      for (size_t k = 0; k < half; k++) {
        const double wr = w[2 * k * stride], wi = conj * w[2 * k * stride + 1];
        const size_t i = i0 + k, j = i + half;
        const double ur = re[i], ui = im[i];
        const double vr = re[j] * wr - im[j] * wi, vi = re[j] * wi + im[j] * wr;
        re[i] = ur + vr;
        im[i] = ui + vi;
        re[j] = ur - vr;
        im[j] = ui - vi;
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
  double *buf = calloc(6 * m, sizeof(double)), *w = twiddles(m);
  if (!buf || !w) {
    free(buf);
    free(w);
    return -1;
  }
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
  radix2(ar, ai, m, -1, w, m);
  radix2(br, bi, m, -1, w, m);
  for (size_t k = 0; k < m; k++) {
    double xr = ar[k] * br[k] - ai[k] * bi[k], xi = ar[k] * bi[k] + ai[k] * br[k];
    ar[k] = xr;
    ai[k] = xi;
  }
  radix2(ar, ai, m, +1, w, m);
  for (size_t k = 0; k < n; k++) { /* X_k = conj(w_k) (a * b)_k / m */
    double xr = ar[k] / (double)m, xi = ai[k] / (double)m;
    re[k] = xr * cr[k] + xi * ci[k];
    im[k] = xi * cr[k] - xr * ci[k];
  }
  free(buf);
  free(w);
  return 0;
}

int ising_fft(double *re, double *im, size_t n, int sign)
{
  if (n <= 1) return 0;
  if ((n & (n - 1)) == 0) {
    double *w = twiddles(n);
    if (!w) return -1;
    radix2(re, im, n, sign, w, n);
    free(w);
    return 0;
  }
  return bluestein(re, im, n, sign);
}

int ising_fft_autocorrelation(const double *y, size_t n, double *r)
{
  if (n == 0) return 0;
  if (n == 1) {
    r[0] = y[0] * y[0];
    return 0;
  }
  size_t m = 4; /* zero-padded length, a power of two >= 2n: no wrap-around */
  while (m < 2 * n) m <<= 1;
  const size_t h = m / 2;
  double *w = twiddles(m), *zr = calloc(h, sizeof(double)), *zi = calloc(h, sizeof(double));
  double *p = malloc(sizeof(double) * (h + 1));
  if (!w || !zr || !zi || !p) {
    free(w);
    free(zr);
    free(zi);
    free(p);
    return -1;
  }
  /* the real sequence as h complex values z_j = y_2j + i y_2j+1, Z = FFT_h(z) (twiddles w_2k) */
  for (size_t j = 0; 2 * j < n; j++) {
    zr[j] = y[2 * j];
    zi[j] = 2 * j + 1 < n ? y[2 * j + 1] : 0.0;
  }
  radix2(zr, zi, h, -1, w, m);
  /* Y_k = A_k + w_k B_k with A = (Z_k + conj Z_{h-k}) / 2, B = (Z_k - conj Z_{h-k}) / 2i the transforms of the
   * even and odd samples; p_k = |Y_k|^2, k = 0 .. h (the rest by p_{m-k} = p_k) */
  for (size_t k = 0; k <= h; k++) {
    const size_t a = k % h, b = (h - k) % h;
    const double ar = 0.5 * (zr[a] + zr[b]), ai = 0.5 * (zi[a] - zi[b]);
    const double br = 0.5 * (zi[a] + zi[b]), bi = -0.5 * (zr[a] - zr[b]);
    const double wr = k < h ? w[2 * k] : -1.0, wi = k < h ? w[2 * k + 1] : 0.0;
    const double yr = ar + wr * br - wi * bi, yi = ai + wr * bi + wi * br;
    p[k] = yr * yr + yi * yi;
  }
  /* r_t = (1/m) sum_k p_k exp(2 pi i k t / m), real and even: r_2j + i r_2j+1 = (1/m) IFFT_h(Q) with
   * Q_k = (p_k + p_{k+h}) + i conj(w_k) (p_k - p_{k+h}) and p_{k+h} = p_{h-k} */
  for (size_t k = 0; k < h; k++) {
    const double s = p[k] + p[h - k], d = p[k] - p[h - k];
    zr[k] = s + w[2 * k + 1] * d; /* i conj(w) d = i (wr - i wi) d = wi d + i wr d */
    zi[k] = w[2 * k] * d;
  }
  radix2(zr, zi, h, +1, w, m);
  for (size_t t = 0; t < n; t++) r[t] = (t % 2 ? zi[t / 2] : zr[t / 2]) / (double)m;
  free(w);
  free(zr);
  free(zi);
  free(p);
  return 0;
}
