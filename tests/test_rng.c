/* test_rng.c: keying of the counter-based generator (rng.h).
 * Checks: Philox4x32-10 matches the Random123 known-answer vector; each of
 * seed, stream, step and index changes the output; the output is a pure
 * function of the key (same arguments, same words, in any call order);
 * uniform() lies in (0,1); quantize() gives multiples of 2^-32, the bits of
 * nearbyint(x 2^32) 2^-32 in a vectorised loop and one call at a time, on
 * ties, zeros, signs, |x 2^32| from 2^50 to 2^54 and 4 million arguments of
 * every exponent in all; the normal
 * deviates have mean 0 and variance 1 within 5 standard errors; the
 * vectorised generators (every instruction set this CPU has) give exactly
 * the scalar words, for block and pair layouts, any count (partial vector
 * tails) and counters whose low word wraps. */
#include "ising/rng.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void check(int ok, const char *what)
{
  printf("%-60s %s\n", what, ok ? "ok" : "FAILED");
  failures += !ok;
}

/* The arguments of the quantisation check, collected so that one loop quantises them all: this file is compiled
 * with -fno-trapping-math as ais.c is, so that loop is vectorised as mf_path_set's is, and each argument is also
 * quantised alone (quantize_one, not inlined, so scalar). */
typedef struct {
  double *x;
  size_t n, cap;
} args;

static void add(args *a, double x)
{
  if (a->n == a->cap) {
    a->cap = a->cap ? 2 * a->cap : 1024;
    double *p = realloc(a->x, a->cap * sizeof(double));
    if (!p) abort();
    a->x = p;
  }
  a->x[a->n++] = x;
}

__attribute__((noinline)) static double quantize_one(double x)
{
  return ising_quantize(x);
}

static uint64_t splitmix(uint64_t *s)
{
  uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* ising_quantize, in a loop and alone, against nearbyint(x 2^32) 2^-32, bit for bit (NaN: both NaN).  Returns the
 * number of arguments where either differs; *n the number of arguments. */
static long quantize_cases(size_t *n)
{
  args a = {0};
  const double q = 1 / ISING_QUANTUM_SCALE;
  const double special[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, DBL_MAX, -DBL_MAX, DBL_MIN, -DBL_TRUE_MIN, 0.7, -0.7};
  for (size_t i = 0; i < sizeof special / sizeof *special; i++) add(&a, special[i]);
  for (int k = -4001; k <= 4001; k++) { /* ties (k/2) 2^-32 and their neighbours */
    const double t = 0.5 * k * q;
    add(&a, t);
    add(&a, nextafter(t, 1));
    add(&a, nextafter(t, -1));
  }
  for (int e = 50; e <= 54; e++) /* around 2^52, where y + 2^52 leaves [2^52, 2^53) and y is an integer */
    for (int k = -8; k <= 8; k++)
      for (int sgn = -1; sgn <= 1; sgn += 2) {
        const double y = sgn * (ldexp(1, e) + 0.25 * k);
        add(&a, y * q);
        add(&a, nextafter(y, 0) * q);
        add(&a, nextafter(y, 2 * y) * q);
      }
  uint64_t seed = 12345;
  for (int i = 0; i < 1000000; i++) { /* any bit pattern: every exponent, subnormals, NaNs */
    uint64_t b = splitmix(&seed);
    double x;
    memcpy(&x, &b, sizeof x);
    add(&a, x);
  }
  for (int i = 0; i < 1000000; i++) { /* |x 2^32| between 2^-8 and 2^56: every rounding case of the shift */
    const uint64_t b = splitmix(&seed);
    add(&a, ldexp((double)(b >> 11) * 0x1p-53, (int)(b & 63) - 8) * ((b >> 6) & 1 ? -1 : 1) * q);
  }
  for (int i = 0; i < 1000000; i++) { /* half-integers of y and the doubles next to them */
    const uint64_t b = splitmix(&seed);
    const double y = ((double)(int64_t)(b >> 12) - (double)(INT64_C(1) << 51)) * ldexp(1, -(int)(b & 31)) + 0.5;
    add(&a, y * q);
    add(&a, nextafter(y, 0) * q);
  }
  double *v = malloc(a.n * sizeof(double));
  if (!v) abort();
  for (size_t i = 0; i < a.n; i++) v[i] = ising_quantize(a.x[i]);
  long bad = 0;
  for (size_t i = 0; i < a.n; i++) {
    const double x = a.x[i], ref = nearbyint(x * ISING_QUANTUM_SCALE) / ISING_QUANTUM_SCALE, one = quantize_one(x);
    if (isnan(ref))
      bad += !isnan(v[i]) || !isnan(one);
    else
      bad += memcmp(&v[i], &ref, sizeof ref) != 0 || memcmp(&one, &ref, sizeof ref) != 0;
  }
  *n = a.n;
  free(v);
  free(a.x);
  return bad;
}

int main(void)
{
  /* Known answer from Random123's kat_vectors: philox4x32 10 rounds,
   * ctr = key = all ones (0xffffffff). */
  philox4x32_ctr_t c = {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}};
  philox4x32_key_t k = {{0xffffffffu, 0xffffffffu}};
  philox4x32_ctr_t r = philox4x32(c, k);
  check(r.v[0] == 0x408f276du && r.v[1] == 0x41c83b0eu && r.v[2] == 0xa20bc7c6u && r.v[3] == 0x6d5451fdu,
        "philox4x32-10 known-answer vector");

  uint32_t base = ising_rng_u32(42, 0, 7, 123456789);
  check(base != ising_rng_u32(43, 0, 7, 123456789), "seed changes the output");
  check(base != ising_rng_u32(42, 1, 7, 123456789), "stream changes the output");
  check(base != ising_rng_u32(42, 0, 8, 123456789), "step changes the output");
  check(base != ising_rng_u32(42, 0, 7, 123456790), "index changes the output");
  check(base != ising_rng_u32(42, 0, 7 + (UINT64_C(1) << 32), 123456789), "high bits of step matter");
  check(base != ising_rng_u32(42, 0, 7, 123456789 + (UINT64_C(1) << 32)), "high bits of index matter");
  check(base != ising_rng_u32(42 + (UINT64_C(1) << 32), 0, 7, 123456789), "high bits of seed matter");
  uint32_t w[4];
  ising_rng4(42, 0, 7, 123456789, w);
  check(w[0] == base && base == ising_rng_u32(42, 0, 7, 123456789), "pure function of (seed, stream, step, index)");

  uint32_t blockw[4], loww[4];
  ising_rng4(42, 0, 7, 1000, blockw);
  ising_rng4(42, 0, 7, (UINT64_C(1) << 63) + 1000, loww);
  int site_ok = 1;
  for (int j = 0; j < 8; j++) {
    uint32_t hi = blockw[j >> 1] >> (16 * (j & 1)) & 0xffffu, lo = loww[j >> 1] >> (16 * (j & 1)) & 0xffffu;
    site_ok &= ising_rng_site_hi(42, 0, 7, 8000 + (uint64_t)j) == hi &&
               ising_rng_site_lo(42, 0, 7, 8000 + (uint64_t)j) == lo &&
               ising_rng_site(42, 0, 7, 8000 + (uint64_t)j) == (hi << 16 | lo);
  }
  check(site_ok && blockw[0] != loww[0],
        "site i draws hi = half i&1 of word (i>>1)&3 of block i>>3, lo the same of block 2^63 + (i>>3)");
  /* The 32-bit words r = 2^16 hi + lo are uniform: every bit of a million of them is set half the time
   * (5 sigma: 5 sqrt(n) / 2 = 2500 of n = 10^6), and hi and lo are not equal more often than 1 in 2^16
   * allows (mean 15.3, below 40 by more than 6 sigma). */
  {
    long ones[32] = {0}, equal = 0;
    const int nw = 1000000;
    for (int i = 0; i < nw; i++) {
      uint32_t r = ising_rng_site(5, 0, 3, (uint64_t)i);
      for (int b = 0; b < 32; b++) ones[b] += r >> b & 1;
      equal += (r >> 16) == (r & 0xffffu);
    }
    int bits_ok = 1;
    for (int b = 0; b < 32; b++) bits_ok &= labs(ones[b] - nw / 2) < 2500;
    check(bits_ok && equal < 40, "site words: each bit set half the time, hi and lo independent");
  }

  double lo = 1, hi = 0, sum = 0, sum2 = 0;
  const int n = 1000000;
  for (int i = 0; i < n; i++) {
    uint32_t ww[4];
    ising_rng4(9, 3, 0, (uint64_t)i, ww);
    double u = ising_rng_uniform(ww[2]);
    lo = fmin(lo, u);
    hi = fmax(hi, u);
    double g = ising_rng_normal(ww);
    sum += g;
    sum2 += g * g;
  }
  check(lo > 0 && hi < 1, "uniform deviates lie in (0,1)");
  check(ising_rng_uniform(0) > 0 && ising_rng_uniform(0xffffffffu) < 1, "uniform() endpoints excluded");
  double mean = sum / n, var = sum2 / n - mean * mean;
  printf("normal: mean %.5f (tolerance 5/sqrt(n) = %.5f), variance %.5f (tolerance 5 sqrt(2/n) = %.5f)\n", mean,
         5 / sqrt(n), var, 5 * sqrt(2.0 / n));
  check(fabs(mean) < 5 / sqrt(n) && fabs(var - 1) < 5 * sqrt(2.0 / n), "normal deviates: mean 0, variance 1");
  double q = ising_quantize(0.7);
  check(q * 4294967296.0 == nearbyint(q * 4294967296.0) && fabs(q - 0.7) <= 0x1p-33, "quantize to 2^-32");
  size_t qn;
  const long qbad = quantize_cases(&qn);
  printf("quantize: %ld of %zu arguments differ from nearbyint's\n", qbad, qn);
  check(qbad == 0, "quantize: the bits of nearbyint(x 2^32) 2^-32");
  for (int s = ISING_SIMD_SCALAR; s <= (int)ising_simd_supported(); s++) {
    uint32_t *out = malloc((4 * 100 + 16) * sizeof(uint32_t));
    int ok = 1;
    const uint64_t firsts[] = {0, 1, 12345, (UINT64_C(1) << 32) - 37, UINT64_C(0x123456789abc)};
    for (size_t f = 0; f < sizeof(firsts) / sizeof(*firsts); f++)
      for (size_t n = 0; n <= 100; n += n < 40 ? 1 : 13) {
        const uint64_t seed = UINT64_C(0x9e3779b97f4a7c15) + f, step = UINT64_C(0x1234567890) + n;
        out[4 * n] = 0xdeadbeefu; /* the word after the last must stay untouched */
        ising_rng_blocks((ising_simd)s, seed, 77, step, firsts[f], n, out);
        for (size_t j = 0; j < n; j++) {
          uint32_t w[4];
          ising_rng4(seed, 77, step, firsts[f] + j, w);
          for (int i = 0; i < 4; i++) ok &= out[4 * j + (size_t)i] == w[i];
        }
        ok &= out[4 * n] == 0xdeadbeefu;
        uint16_t *h = (uint16_t *)(void *)out, *other = h + 4 * n + 4;
        for (int odd = 0; odd < 2; odd++) {
          h[4 * n] = 0xbeef; /* the half after the last must stay untouched */
          ising_rng_halves((ising_simd)s, seed, 77, step, firsts[f], n, odd, h);
          for (size_t m = 0; m < 4 * n; m++)
            ok &= h[m] == ising_rng_site_hi(seed, 77, step, 8 * (firsts[f]) + (uint64_t)odd + 2 * m);
          ok &= h[4 * n] == 0xbeef;
        }
        h[4 * n] = other[4 * n] = 0xbeef;
        ising_rng_halves2((ising_simd)s, seed, 77, step, firsts[f], n, h, other);
        for (size_t m = 0; m < 4 * n; m++)
          ok &= h[m] == ising_rng_site_hi(seed, 77, step, 8 * (firsts[f]) + 2 * m) &&
                other[m] == ising_rng_site_hi(seed, 77, step, 8 * (firsts[f]) + 1 + 2 * m);
        ok &= h[4 * n] == 0xbeef && other[4 * n] == 0xbeef;
      }
    char what[80];
    snprintf(what, sizeof(what), "%s Philox blocks, halves, halves2 equal the scalar words",
             ising_simd_name((ising_simd)s));
    check(ok, what);
    free(out);
  }
  printf("%d failure(s)\n", failures);
  return failures != 0;
}
