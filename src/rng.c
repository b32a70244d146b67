/* rng.c: the non-inline parts of the counter-based generator (rng.h).
 *   ising_rng_normal                                     local
 *   ising_simd_supported, ising_simd_default, ising_simd_name  local
 *   ising_rng_blocks, ising_rng_halves, ising_rng_halves2  local
 *
 * The vectorised Philox4x32-10 keeps one block per 64-bit lane (its 32-bit
 * words in the low halves), so a round is two 32x32->64 multiplications
 * (vpmuludq), two shuffles that bring the high halves down and two
 * three-way xors per 8 (AVX-512) or 4 (AVX2) blocks; several groups of
 * blocks are in flight to cover the multiplier latency.  The first round
 * multiplies the step word, which is the same for every block, once. */
#include "ising/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if ISING_X86
#include <immintrin.h>
#endif

double ising_rng_normal(const uint32_t w[2])
{
  const double two_pi = 6.283185307179586476925286766559;
  double u1 = ising_rng_uniform(w[0]), u2 = ising_rng_uniform(w[1]);
  return sqrt(-2.0 * log(u1)) * cos(two_pi * u2);
}

ising_simd ising_simd_supported(void)
{
#if !ISING_X86
  return ISING_SIMD_SCALAR;
#else
  __builtin_cpu_init();
  int bits = __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt");
  if (bits && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return ISING_SIMD_AVX512;
  if (bits && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return ISING_SIMD_AVX2;
  return ISING_SIMD_SCALAR;
#endif
}

const char *ising_simd_name(ising_simd s)
{
  return s == ISING_SIMD_AVX512 ? "avx512" : s == ISING_SIMD_AVX2 ? "avx2" : "scalar";
}

ising_simd ising_simd_default(void)
{
  ising_simd best = ising_simd_supported();
  const char *env = getenv("ISING_SIMD");
  for (int s = ISING_SIMD_SCALAR; env && s <= (int)best; s++)
    if (!strcmp(env, ising_simd_name((ising_simd)s))) return (ising_simd)s;
  return best;
}

/* The counter words shared by every block of a call and the key. */
typedef struct {
  uint32_t k0, k1, c2, c3;
} philox_key;

static philox_key make_key(uint64_t seed, uint32_t stream, uint64_t step)
{
  philox_key k = {(uint32_t)seed, (uint32_t)(seed >> 32), (uint32_t)step,
                  (stream << 16) | ((uint32_t)(step >> 32) & 0xffffu)};
  return k;
}

/* halves: 0 whole blocks into out (uint32_t), 1 the 16-bit halves of parity odd into out (uint16_t), 2 both
 * parities into out and out2. */
static void blocks_scalar(philox_key k, uint64_t first, size_t n, int odd, int halves, void *out, void *out2)
{
  uint32_t *words = out;
  uint16_t *h = out, *h2 = out2;
  for (size_t j = 0; j < n; j++) {
    uint64_t index = first + j;
    philox4x32_ctr_t ctr = {{(uint32_t)index, (uint32_t)(index >> 32), k.c2, k.c3}};
    philox4x32_key_t key = {{k.k0, k.k1}};
    philox4x32_ctr_t r = philox4x32(ctr, key);
    for (int w = 0; w < 4 && halves; w++) {
      if (halves == 2) {
        h[4 * j + (size_t)w] = (uint16_t)r.v[w];
        h2[4 * j + (size_t)w] = (uint16_t)(r.v[w] >> 16);
      } else
        h[4 * j + (size_t)w] = (uint16_t)(r.v[w] >> (16 * odd));
    }
    if (!halves) memcpy(words + 4 * j, r.v, sizeof(r.v));
  }
}

#if ISING_X86

/* ---- AVX-512: 8 blocks per register, 4 groups per pass ---- */

#define G512 4

ISING_TARGET_AVX512 static inline __attribute__((always_inline)) void philox_512(philox_key k, uint64_t first,
                                                                                 __m512i x[G512][4], const int groups)
{
  const __m512i m0 = _mm512_set1_epi64(PHILOX_M4x32_0), m1 = _mm512_set1_epi64(PHILOX_M4x32_1);
  const __m512i lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
  uint64_t p1 = (uint64_t)PHILOX_M4x32_1 * k.c2;
  const __m512i a0 = _mm512_set1_epi64((uint32_t)(p1 >> 32) ^ k.k0), a1 = _mm512_set1_epi64((uint32_t)p1),
                a2 = _mm512_set1_epi64(k.c3 ^ k.k1);
#pragma GCC unroll 8
  for (int g = 0; g < groups; g++) {
    __m512i idx = _mm512_add_epi64(_mm512_set1_epi64((long long)(first + 8 * (uint64_t)g)), lane);
    __m512i p0 = _mm512_mul_epu32(idx, m0);
    x[g][0] = _mm512_xor_si512(_mm512_srli_epi64(idx, 32), a0);
    x[g][1] = a1;
    x[g][2] = _mm512_xor_si512(_mm512_shuffle_epi32(p0, _MM_PERM_DDBB), a2);
    x[g][3] = p0;
  }
  uint32_t k0 = k.k0, k1 = k.k1;
#pragma GCC unroll 10
  for (int r = 1; r < 10; r++) {
    k0 += PHILOX_W32_0;
    k1 += PHILOX_W32_1;
    const __m512i kk0 = _mm512_set1_epi64(k0), kk1 = _mm512_set1_epi64(k1);
#pragma GCC unroll 8
    for (int g = 0; g < groups; g++) {
      __m512i p0 = _mm512_mul_epu32(x[g][0], m0), q1 = _mm512_mul_epu32(x[g][2], m1);
      __m512i y0 = _mm512_ternarylogic_epi64(_mm512_shuffle_epi32(q1, _MM_PERM_DDBB), x[g][1], kk0, 0x96);
      __m512i y2 = _mm512_ternarylogic_epi64(_mm512_shuffle_epi32(p0, _MM_PERM_DDBB), x[g][3], kk1, 0x96);
      x[g][0] = y0;
      x[g][1] = q1;
      x[g][2] = y2;
      x[g][3] = p0;
    }
  }
}

/* Low halves of a and b interleaved: [a0 b0 a1 b1 ...] per 64-bit lane. */
ISING_TARGET_AVX512 static inline __attribute__((always_inline)) __m512i pair_512(__m512i a, __m512i b)
{
  return _mm512_mask_shuffle_epi32(a, 0xAAAA, b, _MM_PERM_CCAA);
}

/* The 16-bit halves odd of the four words of 8 blocks (the low 32 bits of each 64-bit lane of x[0 .. 3]): 4 per
 * block, in block order. */
ISING_TARGET_AVX512 static inline __attribute__((always_inline)) __m512i halves_512(const __m512i x[4], int odd)
{
  const __mmask32 hi16 = 0xAAAAAAAAu;
  __m512i a, b;
  if (odd) {
    a = _mm512_mask_blend_epi16(hi16, _mm512_srli_epi32(x[0], 16), x[1]);
    b = _mm512_mask_blend_epi16(hi16, _mm512_srli_epi32(x[2], 16), x[3]);
  } else {
    a = _mm512_mask_blend_epi16(hi16, x[0], _mm512_slli_epi32(x[1], 16));
    b = _mm512_mask_blend_epi16(hi16, x[2], _mm512_slli_epi32(x[3], 16));
  }
  return _mm512_mask_blend_epi32(0xAAAA, a, _mm512_slli_epi64(b, 32));
}

ISING_TARGET_AVX512 static inline __attribute__((always_inline)) void store_halves_512(uint16_t *out, size_t left,
                                                                                       __m512i v)
{
  if (left >= 8)
    _mm512_storeu_si512(out, v);
  else
    _mm512_mask_storeu_epi16(out, (__mmask32)((1u << (4 * left)) - 1), v);
}

ISING_TARGET_AVX512 static void blocks_avx512(philox_key k, uint64_t first, size_t n, int odd, int halves, void *out,
                                              void *out2)
{
  const __m512i lo = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0), hi = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
  uint32_t *words = out;
  uint16_t *h = out, *h2 = out2;
  for (size_t j = 0, groups; j < n; j += 8 * groups) { /* whole passes; the rest in one pass of fewer groups */
    __m512i x[G512][4];
    groups = (n - j + 7) / 8;
    if (groups > G512) groups = G512;
    /* one pass of the remaining groups together (independent chains in flight), not one group at a time: the
     * runs of small lattices are short (3D 16^3: 14 rows of 16 sites, 28 blocks) */
    switch (groups) {
    case 1: philox_512(k, first + j, x, 1); break;
    case 2: philox_512(k, first + j, x, 2); break;
    case 3: philox_512(k, first + j, x, 3); break;
    default: philox_512(k, first + j, x, G512); break;
    }
    for (size_t g = 0; g < groups && j + 8 * g < n; g++) {
      size_t b = j + 8 * g, left = n - b;
      if (halves == 2) {
        store_halves_512(h + 4 * b, left, halves_512(x[g], 0));
        store_halves_512(h2 + 4 * b, left, halves_512(x[g], 1));
      } else if (halves)
        store_halves_512(h + 4 * b, left, halves_512(x[g], odd));
      else {
        __m512i a = pair_512(x[g][0], x[g][1]), c = pair_512(x[g][2], x[g][3]);
        __m512i v0 = _mm512_permutex2var_epi64(a, lo, c), v1 = _mm512_permutex2var_epi64(a, hi, c);
        if (left >= 8) {
          _mm512_storeu_si512(words + 4 * b, v0);
          _mm512_storeu_si512(words + 4 * b + 16, v1);
        } else {
          __mmask16 m0 = (__mmask16)(left >= 4 ? 0xffffu : (1u << (4 * left)) - 1);
          __mmask16 m1 = (__mmask16)(left > 4 ? (1u << (4 * (left - 4))) - 1 : 0);
          _mm512_mask_storeu_epi32(words + 4 * b, m0, v0);
          _mm512_mask_storeu_epi32(words + 4 * b + 16, m1, v1);
        }
      }
    }
  }
}

/* ---- AVX2: 4 blocks per register, 3 groups per pass ---- */

#define G256 3

ISING_TARGET_AVX2 static inline __attribute__((always_inline)) void philox_256(philox_key k, uint64_t first,
                                                                               __m256i x[G256][4], const int groups)
{
  const __m256i m0 = _mm256_set1_epi64x(PHILOX_M4x32_0), m1 = _mm256_set1_epi64x(PHILOX_M4x32_1);
  const __m256i lane = _mm256_set_epi64x(3, 2, 1, 0);
  uint64_t p1 = (uint64_t)PHILOX_M4x32_1 * k.c2;
  const __m256i a0 = _mm256_set1_epi64x((uint32_t)(p1 >> 32) ^ k.k0), a1 = _mm256_set1_epi64x((uint32_t)p1),
                a2 = _mm256_set1_epi64x(k.c3 ^ k.k1);
#pragma GCC unroll 8
  for (int g = 0; g < groups; g++) {
    __m256i idx = _mm256_add_epi64(_mm256_set1_epi64x((long long)(first + 4 * (uint64_t)g)), lane);
    __m256i p0 = _mm256_mul_epu32(idx, m0);
    x[g][0] = _mm256_xor_si256(_mm256_srli_epi64(idx, 32), a0);
    x[g][1] = a1;
    x[g][2] = _mm256_xor_si256(_mm256_shuffle_epi32(p0, 0xf5), a2);
    x[g][3] = p0;
  }
  uint32_t k0 = k.k0, k1 = k.k1;
#pragma GCC unroll 10
  for (int r = 1; r < 10; r++) {
    k0 += PHILOX_W32_0;
    k1 += PHILOX_W32_1;
    const __m256i kk0 = _mm256_set1_epi64x(k0), kk1 = _mm256_set1_epi64x(k1);
#pragma GCC unroll 8
    for (int g = 0; g < groups; g++) {
      __m256i p0 = _mm256_mul_epu32(x[g][0], m0), q1 = _mm256_mul_epu32(x[g][2], m1);
      __m256i y0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_shuffle_epi32(q1, 0xf5), x[g][1]), kk0);
      __m256i y2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_shuffle_epi32(p0, 0xf5), x[g][3]), kk1);
      x[g][0] = y0;
      x[g][1] = q1;
      x[g][2] = y2;
      x[g][3] = p0;
    }
  }
}

ISING_TARGET_AVX2 static inline __attribute__((always_inline)) __m256i pair_256(__m256i a, __m256i b)
{
  return _mm256_blend_epi32(a, _mm256_shuffle_epi32(b, 0xa0), 0xaa);
}

/* As halves_512 for 4 blocks. */
ISING_TARGET_AVX2 static inline __attribute__((always_inline)) __m256i halves_256(const __m256i x[4], int odd)
{
  __m256i a, b;
  if (odd) {
    a = _mm256_blend_epi16(_mm256_srli_epi32(x[0], 16), x[1], 0xaa);
    b = _mm256_blend_epi16(_mm256_srli_epi32(x[2], 16), x[3], 0xaa);
  } else {
    a = _mm256_blend_epi16(x[0], _mm256_slli_epi32(x[1], 16), 0xaa);
    b = _mm256_blend_epi16(x[2], _mm256_slli_epi32(x[3], 16), 0xaa);
  }
  return _mm256_blend_epi32(a, _mm256_slli_epi64(b, 32), 0xaa);
}

ISING_TARGET_AVX2 static inline __attribute__((always_inline)) void store_256(uint32_t *out, size_t words, __m256i v)
{
  if (words >= 8) {
    _mm256_storeu_si256((__m256i *)out, v);
    return;
  }
  const __m256i lane = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);
  _mm256_maskstore_epi32((int *)out, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)words), lane), v);
}

ISING_TARGET_AVX2 static void blocks_avx2(philox_key k, uint64_t first, size_t n, int odd, int halves, void *out,
                                          void *out2)
{
  uint32_t *words = out;
  uint16_t *h = out, *h2 = out2;
  for (size_t j = 0, groups; j < n; j += 4 * groups) {
    __m256i x[G256][4];
    groups = n - j >= 4 * G256 ? G256 : 1;
    if (groups == G256)
      philox_256(k, first + j, x, G256);
    else
      philox_256(k, first + j, x, 1);
    for (size_t g = 0; g < groups && j + 4 * g < n; g++) {
      size_t b = j + 4 * g, left = n - b;
      /* 4 halves of a block are 2 of store_256's 32-bit words */
      if (halves == 2) {
        store_256((uint32_t *)(void *)(h + 4 * b), 2 * left, halves_256(x[g], 0));
        store_256((uint32_t *)(void *)(h2 + 4 * b), 2 * left, halves_256(x[g], 1));
      } else if (halves)
        store_256((uint32_t *)(void *)(h + 4 * b), 2 * left, halves_256(x[g], odd));
      else {
        __m256i a = pair_256(x[g][0], x[g][1]), c = pair_256(x[g][2], x[g][3]);
        __m256i l = _mm256_unpacklo_epi64(a, c), hh = _mm256_unpackhi_epi64(a, c);
        store_256(words + 4 * b, 4 * left, _mm256_permute2x128_si256(l, hh, 0x20));
        if (left > 2) store_256(words + 4 * b + 8, 4 * (left - 2), _mm256_permute2x128_si256(l, hh, 0x31));
      }
    }
  }
}

#endif

static void blocks(ising_simd s, philox_key k, uint64_t first, size_t n, int odd, int halves, void *out, void *out2)
{
#if ISING_X86
  if (s == ISING_SIMD_AVX512) {
    blocks_avx512(k, first, n, odd, halves, out, out2);
    return;
  }
  if (s == ISING_SIMD_AVX2) {
    blocks_avx2(k, first, n, odd, halves, out, out2);
    return;
  }
#else
  (void)s;
#endif
  blocks_scalar(k, first, n, odd, halves, out, out2);
}

void ising_rng_blocks(ising_simd s, uint64_t seed, uint32_t stream, uint64_t step, uint64_t first, size_t n,
                      uint32_t *out)
{
  blocks(s, make_key(seed, stream, step), first, n, 0, 0, out, NULL);
}

void ising_rng_halves(ising_simd s, uint64_t seed, uint32_t stream, uint64_t step, uint64_t first, size_t n, int odd,
                      uint16_t *out)
{
  blocks(s, make_key(seed, stream, step), first, n, odd & 1, 1, out, NULL);
}

void ising_rng_halves2(ising_simd s, uint64_t seed, uint32_t stream, uint64_t step, uint64_t first, size_t n,
                       uint16_t *even, uint16_t *odd)
{
  blocks(s, make_key(seed, stream, step), first, n, 0, 2, even, odd);
}
