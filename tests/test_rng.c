/* test_rng.c: keying of the counter-based generator (rng.h).
 * Checks: Philox4x32-10 matches the Random123 known-answer vector; each of
 * seed, stream, step and index changes the output; the output is a pure
 * function of the key (same arguments, same words, in any call order);
 * uniform() lies in (0,1); quantize() gives multiples of 2^-32; the normal
 * deviates have mean 0 and variance 1 within 5 standard errors. */
#include "ising/rng.h"

#include <math.h>
#include <stdio.h>

static int failures;

static void check(int ok, const char *what)
{
  printf("%-60s %s\n", what, ok ? "ok" : "FAILED");
  failures += !ok;
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

  uint32_t blockw[4];
  ising_rng4(42, 0, 7, 1000, blockw);
  int site_ok = 1;
  for (int j = 0; j < 4; j++) site_ok &= ising_rng_site(42, 0, 7, 4000 + (uint64_t)j) == blockw[j];
  check(site_ok && blockw[0] != blockw[1], "site number i uses word i&3 of block i>>2");

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
  printf("%d failure(s)\n", failures);
  return failures != 0;
}
