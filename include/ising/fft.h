/* fft.h: serial complex FFT of any length, with a fixed order of operations
 * (the same input gives bit-identical output on every rank and every run).
 *
 *   int ising_fft(double *re, double *im, size_t n, int sign)
 *       Local.  In place, unnormalised: X_k = sum_j x_j exp(sign 2 pi i jk/n),
 *       sign = -1 (forward) or +1 (inverse, without the 1/n).  Radix-2
 *       Cooley-Tukey when n is a power of two, otherwise Bluestein's chirp-z
 *       through a power-of-two FFT of length >= 2n - 1 (O(n log n) for any
 *       n).  Returns 0, or -1 if the Bluestein workspace cannot be allocated.
 */
#ifndef ISING_FFT_H
#define ISING_FFT_H

#include <stddef.h>

int ising_fft(double *re, double *im, size_t n, int sign);

#endif
