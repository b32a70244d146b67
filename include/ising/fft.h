/* fft.h: serial complex FFT of any length, with a fixed order of operations
 * (the same input gives bit-identical output on every rank and every run).
 *
 *   int ising_fft(double *re, double *im, size_t n, int sign)
 *       Local.  In place, unnormalised: X_k = sum_j x_j exp(sign 2 pi i jk/n),
 *       sign = -1 (forward) or +1 (inverse, without the 1/n).  Radix-2
 *       Cooley-Tukey when n is a power of two, otherwise Bluestein's chirp-z
 *       through a power-of-two FFT of length >= 2n - 1 (O(n log n) for any
 *       n).  Returns 0, or -1 if the workspace cannot be allocated.
 *   int ising_fft_autocorrelation(const double *y, size_t n, double *r)
 *       Local.  r_t = sum_{i < n - t} y_i y_{i+t} for t < n (r may not alias
 *       y), by one forward and one inverse complex FFT of half the
 *       zero-padded length m >= 2n (the real input packed as y_2j + i y_2j+1):
 *       O(n log n), about a quarter of the work of two complex FFTs of length
 *       m.  Returns 0, or -1 if the workspace cannot be allocated.
 */
#ifndef ISING_FFT_H
#define ISING_FFT_H

#include <stddef.h>

int ising_fft(double *re, double *im, size_t n, int sign);
int ising_fft_autocorrelation(const double *y, size_t n, double *r);

#endif
