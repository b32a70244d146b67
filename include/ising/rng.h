/* rng.h: counter-based random numbers (Random123 Philox4x32-10).
 *
 * Every random number of the program is a pure function of
 *     (seed, stream, step, index)
 * with index a global site or bond number and step a global sweep (or swap)
 * count, so the numbers do not depend on the decomposition, the rank count
 * or restarts.  The 128-bit counter is
 *     { index & 0xffffffff, index >> 32, step & 0xffffffff,
 *       (stream << 16) | ((step >> 32) & 0xffff) }
 * and the key is { seed & 0xffffffff, seed >> 32 }: 2^64 indices, 2^48 steps
 * and 2^16 streams per seed.
 *
 *   void ising_rng4(uint64_t seed, uint32_t stream, uint64_t step, uint64_t index, uint32_t out[4])
 *       Local.  The four 32-bit words for that key and counter.
 *   uint32_t ising_rng_u32(...)         Local.  The first word.
 *   uint32_t ising_rng_site(uint64_t seed, uint32_t stream, uint64_t step, uint64_t site)
 *       Local.  The update random number of a site, a uniform 32-bit word
 *       r = 2^16 hi + lo made of two independent 16-bit halves:
 *   uint16_t ising_rng_site_hi(seed, stream, step, site)
 *       Local.  hi: half (site & 1) (0 the low 16 bits) of word
 *       (site >> 1) & 3 of the block keyed by index site >> 3, so eight
 *       consecutive sites share one Philox call (ISING_RNG_SITE_BLOCK): the
 *       even sites take the low halves of its four words, the odd sites
 *       the high halves.
 *   uint16_t ising_rng_site_lo(seed, stream, step, site)
 *       Local.  lo: the same half of the block keyed by index
 *       ISING_RNG_LOW_INDEX + (site >> 3) (2^63: above every hi block).
 *       A decision r < T is settled by hi alone unless hi is the high half
 *       of T - 1 (probability 2^-16), so the kernels draw lo only then
 *       (sweep.h): half the Philox work of a 32-bit word per site, and the
 *       same decisions as the reference kernel, which draws both.
 *   double ising_rng_uniform(uint32_t r) Local.  (r + 0.5) 2^-32, in (0, 1).
 *   double ising_rng_normal(const uint32_t w[2])
 *       Local.  A standard normal deviate from two words (Box-Muller).
 *   double ising_quantize(double x)
 *       Local.  x rounded to the nearest multiple of 2^-32 (ISING_QUANTUM).
 *       Couplings and fields are quantised so that every energy is an exact
 *       integer multiple of 2^-32 and sums of them are exact, hence
 *       independent of the summation order and so of the decomposition.
 *
 * Many blocks at once, vectorised (the same words as ising_rng4, computed
 * with many counters in SIMD lanes):
 *   ising_simd ising_simd_supported(void)
 *       Local.  The widest instruction set this CPU runs (checked at run time
 *       with __builtin_cpu_supports): ISING_SIMD_AVX512 (F, BW, DQ, VL),
 *       ISING_SIMD_AVX2 or ISING_SIMD_SCALAR (always, off x86).
 *   ising_simd ising_simd_default(void)
 *       Local.  What the kernels use: the environment variable ISING_SIMD
 *       (scalar, avx2 or avx512) if set and supported, else the widest
 *       supported (an unknown or unsupported value is ignored).
 *   const char *ising_simd_name(ising_simd s)       Local.  "scalar", "avx2", "avx512".
 *   void ising_rng_blocks(ising_simd s, seed, stream, step, uint64_t first, size_t n, uint32_t *out)
 *       Local.  out[4j + w] = word w of the block with index first + j, j < n.
 *   void ising_rng_halves(ising_simd s, seed, stream, step, uint64_t first, size_t n, int odd, uint16_t *out)
 *       Local.  out[4j + w] = half odd (0 or 1) of word w of block first + j,
 *       i.e. out[m] = ising_rng_site_hi(seed, stream, step, 8 first + odd + 2m):
 *       the high halves of one colour along a row.
 *   void ising_rng_halves2(ising_simd s, seed, stream, step, uint64_t first, size_t n, uint16_t *even, uint16_t *odd)
 *       Local.  Both at once: even as ising_rng_halves with odd = 0, odd with
 *       odd = 1 (each block computed once for the sites of both colours).
 *   s must not exceed ising_simd_supported().
 */
#ifndef ISING_RNG_H
#define ISING_RNG_H

#include <Random123/philox.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

enum {
  ISING_STREAM_DYNAMICS = 0,     /* Monte Carlo updates */
  ISING_STREAM_INIT = 1,         /* hot start */
  ISING_STREAM_BONDS = 2,        /* disordered couplings, keyed by disorder_seed */
  ISING_STREAM_FIELDS = 3,       /* random fields, keyed by disorder_seed */
  ISING_STREAM_MF_INIT = 4,      /* random mean-field start */
  ISING_STREAM_SWAP = 5,         /* tempering swap decisions */
  ISING_STREAM_ANNEAL_INIT = 6,  /* annealing restart r: hot start with step r */
  ISING_STREAM_QUENCH = 7,       /* quench history h, sweep t: step (h << 32) | t */
  ISING_STREAM_QUENCH_INIT = 8,  /* quench history h: hot start with step h */
  ISING_STREAM_AIS = 9,          /* AIS chain m, sweep t: step (m << 32) | t */
  ISING_STREAM_AIS_INIT = 10,    /* AIS chain m: uniform start with step m */
  ISING_STREAM_MBAR = 11,        /* MBAR bootstrap resample b: step b, index (temperature << 32) | sample */
  ISING_STREAM_AIS_MF = 12,      /* AIS from mean field, temperature k, chain m, sweep t: (k << 48) | (m << 32) | t */
  ISING_STREAM_AIS_MF_INIT = 13, /* AIS from mean field: start of chain m at temperature k, step (k << 32) | m */
  ISING_STREAM_REPLICA0 = 16,    /* tempering replica r updates with stream 16 + r (r < 32752) */
  ISING_STREAM_ANNEAL0 = 32768   /* annealing restart r updates with stream 32768 + r */
};

#define ISING_QUANTUM_SCALE 4294967296.0 /* 2^32 */

/* Exact energies: integers in units of 2^-32 (see ising_quantize). */
__extension__ typedef __int128 ising_int128;

static inline void ising_rng4(uint64_t seed, uint32_t stream, uint64_t step, uint64_t index, uint32_t out[4])
{
  philox4x32_ctr_t ctr = {
      {(uint32_t)index, (uint32_t)(index >> 32), (uint32_t)step, (stream << 16) | ((uint32_t)(step >> 32) & 0xffffu)}};
  philox4x32_key_t key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
  philox4x32_ctr_t r = philox4x32(ctr, key);
  out[0] = r.v[0];
  out[1] = r.v[1];
  out[2] = r.v[2];
  out[3] = r.v[3];
}

static inline uint32_t ising_rng_u32(uint64_t seed, uint32_t stream, uint64_t step, uint64_t index)
{
  philox4x32_ctr_t ctr = {
      {(uint32_t)index, (uint32_t)(index >> 32), (uint32_t)step, (stream << 16) | ((uint32_t)(step >> 32) & 0xffffu)}};
  philox4x32_key_t key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
  return philox4x32(ctr, key).v[0];
}

#define ISING_RNG_SITE_BLOCK 8
#define ISING_RNG_LOW_INDEX  (UINT64_C(1) << 63)

static inline uint16_t ising_rng_half(uint64_t seed, uint32_t stream, uint64_t step, uint64_t block, uint64_t site)
{
  uint32_t w[4];
  ising_rng4(seed, stream, step, block, w);
  return (uint16_t)(w[(site >> 1) & 3] >> (16 * (site & 1)));
}

static inline uint16_t ising_rng_site_hi(uint64_t seed, uint32_t stream, uint64_t step, uint64_t site)
{
  return ising_rng_half(seed, stream, step, site >> 3, site);
}

static inline uint16_t ising_rng_site_lo(uint64_t seed, uint32_t stream, uint64_t step, uint64_t site)
{
  return ising_rng_half(seed, stream, step, ISING_RNG_LOW_INDEX + (site >> 3), site);
}

static inline uint32_t ising_rng_site(uint64_t seed, uint32_t stream, uint64_t step, uint64_t site)
{
  return (uint32_t)ising_rng_site_hi(seed, stream, step, site) << 16 | ising_rng_site_lo(seed, stream, step, site);
}

static inline double ising_rng_uniform(uint32_t r)
{
  return ((double)r + 0.5) * (1.0 / ISING_QUANTUM_SCALE);
}

double ising_rng_normal(const uint32_t w[2]);

/* Function attributes of the vectorised code paths (compiled for these
 * instruction sets whatever the compiler flags, called only after
 * ising_simd_supported() said the CPU has them). */
#if defined(__x86_64__) || defined(__i386__)
#define ISING_X86           1
#define ISING_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,bmi,bmi2,popcnt")))
#define ISING_TARGET_AVX2   __attribute__((target("avx2,fma,bmi,bmi2,popcnt")))
#else
#define ISING_X86 0 /* elsewhere only the scalar paths exist */
#endif

typedef enum { ISING_SIMD_SCALAR = 0, ISING_SIMD_AVX2 = 1, ISING_SIMD_AVX512 = 2 } ising_simd;

/* The pieces shared by the vectorisable exponentials (ising_mbar_exp, ising_mf_tanh), kept in one place so that
 * both round alike: ising_ln2_reduce gives r = x - kf ln 2 (Cody-Waite: ln 2 to 32 bits, so kf times it is exact
 * for |kf| < 2^21, then the rest), and ising_exp_horner continues Horner's rule q r + 1/n! for n = 12 down to 2
 * from q (the coefficient of r^11 and above, already summed).  Only + and *, for files compiled with
 * -ffp-contract=off. */
static inline __attribute__((always_inline)) double ising_ln2_reduce(double x, double kf)
{
  const double r = x - kf * 6.93147180369123816490e-01;
  return r - kf * 1.90821492927058770002e-10;
}

static inline __attribute__((always_inline)) double ising_exp_horner(double q, double r)
{
  static const double c[] = {1.0 / 479001600.0,
                             1.0 / 39916800.0,
                             1.0 / 3628800.0,
                             1.0 / 362880.0,
                             1.0 / 40320.0,
                             1.0 / 5040.0,
                             1.0 / 720.0,
                             1.0 / 120.0,
                             1.0 / 24.0,
                             1.0 / 6.0,
                             0.5};
  for (int n = 0; n < 11; n++) q = q * r + c[n];
  return q;
}

/* ISING_SIMD_MAP(name, f) defines void name(ising_simd s, const double *x, double *y, size_t n): y[i] = f(x[i])
 * (y may be x), f an always-inline function of a double.  The loop is compiled once for AVX-512, once for AVX2 and
 * once plain, so that GCC vectorises it for each, and s chooses.  With f written in +, -, *, / and integer
 * operations, in a file compiled with -ffp-contract=off, every version gives the same bits (ising_mbar_exp,
 * ising_mf_tanh). */
#define ISING_SIMD_MAP_LOOP(name, f)                                                                                   \
  static inline __attribute__((always_inline)) void name##_loop(const double *x, double *y, size_t n)                  \
  {                                                                                                                    \
    for (size_t i = 0; i < n; i++) y[i] = f(x[i]);                                                                     \
  }
#if ISING_X86
#define ISING_SIMD_MAP(name, f)                                                                                        \
  ISING_SIMD_MAP_LOOP(name, f)                                                                                         \
  ISING_TARGET_AVX512 static void name##_avx512(const double *x, double *y, size_t n)                                  \
  {                                                                                                                    \
    name##_loop(x, y, n);                                                                                              \
  }                                                                                                                    \
  ISING_TARGET_AVX2 static void name##_avx2(const double *x, double *y, size_t n)                                      \
  {                                                                                                                    \
    name##_loop(x, y, n);                                                                                              \
  }                                                                                                                    \
  void name(ising_simd s, const double *x, double *y, size_t n)                                                        \
  {                                                                                                                    \
    if (s == ISING_SIMD_AVX512)                                                                                        \
      name##_avx512(x, y, n);                                                                                          \
    else if (s == ISING_SIMD_AVX2)                                                                                     \
      name##_avx2(x, y, n);                                                                                            \
    else                                                                                                               \
      name##_loop(x, y, n);                                                                                            \
  }
#else
#define ISING_SIMD_MAP(name, f)                                                                                        \
  ISING_SIMD_MAP_LOOP(name, f)                                                                                         \
  void name(ising_simd s, const double *x, double *y, size_t n)                                                        \
  {                                                                                                                    \
    (void)s;                                                                                                           \
    name##_loop(x, y, n);                                                                                              \
  }
#endif

ising_simd ising_simd_supported(void);
ising_simd ising_simd_default(void);
const char *ising_simd_name(ising_simd s);
void ising_rng_blocks(ising_simd s, uint64_t seed, uint32_t stream, uint64_t step, uint64_t first, size_t n,
                      uint32_t *out);
void ising_rng_halves(ising_simd s, uint64_t seed, uint32_t stream, uint64_t step, uint64_t first, size_t n, int odd,
                      uint16_t *out);
void ising_rng_halves2(ising_simd s, uint64_t seed, uint32_t stream, uint64_t step, uint64_t first, size_t n,
                       uint16_t *even, uint16_t *odd);

/* nearbyint(x 2^32) 2^-32 without a library call or a branch: for a = |x 2^32| < 2^52, a + 2^52 lies in
 * [2^52, 2^53), where the doubles are the integers, so the addition rounds a to the nearest integer, ties to even
 * (2^52 is even), which is nearbyint in the default rounding mode, and subtracting 2^52 is exact; larger a are
 * integers already (or infinite, or NaN, which stays NaN).  nearbyint is odd, so copysign puts the sign back, a
 * zero's included.  x 2^32 is exact, so a fused multiply-add would round the same.  t is computed for every a and
 * chosen by a select, so that a loop of it vectorises where the file is compiled with -fno-trapping-math (ais.c's
 * mf_path_set).  test_rng compares the bits with nearbyint's, in such a loop and alone, on ties, signs, zeros, 2^50
 * to 2^54 and 4 million arguments in all. */
static inline double ising_quantize(double x)
{
  const double y = x * ISING_QUANTUM_SCALE, a = fabs(y), shift = 0x1p52;
  const double t = (a + shift) - shift;
  return copysign(isless(a, shift) ? t : a, y) / ISING_QUANTUM_SCALE;
}

#endif
