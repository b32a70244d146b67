/* observables.c: energy and magnetisation (observables.h).
 *   ising_observables_local, ising_observables_unsatisfied, ising_observables_bonds   local
 *   ising_observables_measure   collective */
#include "ising/observables.h"

#include "ising/rng.h"

#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "ising/error.h"

static inline int64_t fixed(double x)
{
  return (int64_t)(x * ISING_QUANTUM_SCALE);
}

/* Counts over one row of n sites a[0 .. n) whose +d neighbours are nb[d][0 .. n)
 * (0 beyond an open boundary): down, the spins -1; nnz[d], the neighbours
 * that exist (non-zero); ndiff[d], those whose bond is unsatisfied for a
 * positive coupling, s_i s_j sign_ij < 0, where sign_ij = -1 iff bit
 * (first + x) of neg[d] is set (neg[d] NULL: all +1).  All exact integers,
 * so every way of counting gives the same sums. */
typedef struct {
  int64_t down, nnz[ISING_MAX_DIM], ndiff[ISING_MAX_DIM];
} row_counts;

/* rc += the counts of a row or a plane. */
static inline void add_counts(row_counts *rc, int dim, int64_t down, const int64_t *nnz, const int64_t *ndiff)
{
  rc->down += down;
  for (int d = 0; d < dim; d++) {
    rc->nnz[d] += nnz[d];
    rc->ndiff[d] += ndiff[d];
  }
}

static void counts_scalar(const int8_t *a, const int8_t *const *nb, const uint64_t *const *neg, size_t first, size_t n,
                          int dim, row_counts *rc)
{
  for (size_t x = 0; x < n; x++) rc->down += a[x] < 0;
  for (int d = 0; d < dim; d++) {
    int64_t nnz = 0, ndiff = 0;
    const int8_t *b = nb[d];
    for (size_t x = 0; x < n; x++) {
      int differ = (a[x] ^ b[x]) < 0, exists = b[x] != 0;
      if (neg[d]) differ ^= (int)(neg[d][(first + x) / 64] >> ((first + x) % 64)) & 1;
      nnz += exists;
      ndiff += differ & exists;
    }
    rc->nnz[d] += nnz;
    rc->ndiff[d] += ndiff;
  }
}

#if ISING_X86
#include <immintrin.h>

/* 64 sites per step: the signs and the zeros are byte masks. */
ISING_TARGET_AVX512 static void counts_avx512(const int8_t *a, const int8_t *const *nb, const uint64_t *const *neg,
                                              size_t first, size_t n, int dim, row_counts *rc)
{
  int64_t down = 0, nnz[ISING_MAX_DIM] = {0, 0, 0}, ndiff[ISING_MAX_DIM] = {0, 0, 0};
  for (size_t x = 0; x < n; x += 64) {
    /* whole steps load without a mask (masked loads are not prefetched on some CPUs: docs/performance.md,
     * "Prefetching the bonds") */
    const int whole = n - x >= 64;
    const __mmask64 valid = whole ? ~UINT64_C(0) : (UINT64_C(1) << (n - x)) - 1;
    const __m512i s = whole ? _mm512_loadu_si512(a + x) : _mm512_maskz_loadu_epi8(valid, a + x);
    down += (int64_t)_mm_popcnt_u64(_mm512_movepi8_mask(s));
    for (int d = 0; d < dim; d++) {
      const __m512i t = whole ? _mm512_loadu_si512(nb[d] + x) : _mm512_maskz_loadu_epi8(valid, nb[d] + x);
      const uint64_t exists = _mm512_test_epi8_mask(t, t);
      uint64_t differ = _mm512_movepi8_mask(_mm512_xor_si512(s, t));
      if (neg[d]) differ ^= ising_bits64(neg[d], first + x);
      nnz[d] += (int64_t)_mm_popcnt_u64(exists);
      ndiff[d] += (int64_t)_mm_popcnt_u64(differ & exists);
    }
  }
  add_counts(rc, dim, down, nnz, ndiff);
}

/* The counts of the rows of one plane (2D: of the block) at once, when rows are short (n0 + 2 <= 64): the rows
 * y = 1 .. n1 of plane ez lie one after the other, each with its two x-halo bytes, so they are counted as one
 * array of n1 (n0 + 2) bytes, 64 per step, the halo bytes masked off (interior: the bits of the
 * positions 0 .. 127 from the start of a row that are not x halo; a step that starts at x = p takes bits
 * p .. p + 63).  A row of 8 sites would otherwise fill an eighth of a step. */
ISING_TARGET_AVX512 static void counts_plane_avx512(const ising_geometry *g, const int8_t *spins,
                                                    const uint64_t *const *neg, int ez, const uint64_t interior[2],
                                                    row_counts *rc)
{
  const size_t period = (size_t)g->n[0] + 2, len = (size_t)g->n[1] * period, start = ising_geometry_index(g, 0, 1, ez);
  const size_t advance = 64 % period;
  int64_t down = 0, nnz[ISING_MAX_DIM] = {0, 0, 0}, ndiff[ISING_MAX_DIM] = {0, 0, 0};
  for (size_t o = 0, phase = 0; o < len; o += 64) {
    const uint64_t inner = phase ? interior[0] >> phase | interior[1] << (64 - phase) : interior[0];
    const uint64_t valid = inner & (len - o >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << (len - o)) - 1);
    const int8_t *a = spins + start + o;
    const __m512i s = _mm512_maskz_loadu_epi8(valid, a);
    down += (int64_t)_mm_popcnt_u64(_mm512_movepi8_mask(s) & valid);
    for (int d = 0; d < g->dim; d++) {
      const __m512i t = _mm512_maskz_loadu_epi8(valid, a + g->stride[d]);
      const uint64_t exists = _mm512_test_epi8_mask(t, t);
      uint64_t differ = _mm512_movepi8_mask(_mm512_xor_si512(s, t));
      if (neg[d]) differ ^= ising_bits64(neg[d], start + o);
      nnz[d] += (int64_t)_mm_popcnt_u64(exists);
      ndiff[d] += (int64_t)_mm_popcnt_u64(differ & exists);
    }
    phase += advance;
    if (phase >= period) phase -= period;
  }
  add_counts(rc, g->dim, down, nnz, ndiff);
}

/* counts_plane_avx512 with 32-byte steps (AVX2 has no masked byte loads: a step loads all 32 bytes and
 * masks the counts; a step whose loads would leave the array, the last of the block, counts its sites with
 * counts_scalar one at a time). */
ISING_TARGET_AVX2 static void counts_plane_avx2(const ising_geometry *g, const int8_t *spins,
                                                const uint64_t *const *neg, int ez, const uint64_t interior[2],
                                                row_counts *rc)
{
  const size_t period = (size_t)g->n[0] + 2, len = (size_t)g->n[1] * period, start = ising_geometry_index(g, 0, 1, ez);
  const size_t advance = 32 % period, reach = (size_t)g->stride[g->dim - 1] + 32;
  const __m256i zero = _mm256_setzero_si256();
  int64_t down = 0, nnz[ISING_MAX_DIM] = {0, 0, 0}, ndiff[ISING_MAX_DIM] = {0, 0, 0};
  for (size_t o = 0, phase = 0; o < len; o += 32) {
    const uint64_t inner = phase ? interior[0] >> phase | interior[1] << (64 - phase) : interior[0];
    uint32_t valid = (uint32_t)inner;
    if (len - o < 32) valid &= (UINT32_C(1) << (len - o)) - 1;
    phase += advance;
    if (phase >= period) phase -= period;
    const int8_t *a = spins + start + o;
    if (start + o + reach > g->nextended) {
      for (uint32_t b = valid; b; b &= b - 1) {
        const size_t x = (size_t)__builtin_ctz(b);
        const int8_t *nb[ISING_MAX_DIM] = {NULL, NULL, NULL};
        for (int d = 0; d < g->dim; d++) nb[d] = a + x + g->stride[d];
        counts_scalar(a + x, nb, neg, start + o + x, 1, g->dim, rc);
      }
      continue;
    }
    const __m256i s = _mm256_loadu_si256((const __m256i *)a);
    down += _mm_popcnt_u32((uint32_t)_mm256_movemask_epi8(s) & valid);
    for (int d = 0; d < g->dim; d++) {
      const __m256i t = _mm256_loadu_si256((const __m256i *)(a + g->stride[d]));
      const uint32_t exists = ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(t, zero)) & valid;
      uint32_t differ = (uint32_t)_mm256_movemask_epi8(_mm256_xor_si256(s, t));
      if (neg[d]) differ ^= ising_bits32(neg[d], start + o);
      nnz[d] += _mm_popcnt_u32(exists);
      ndiff[d] += _mm_popcnt_u32(differ & exists);
    }
  }
  add_counts(rc, g->dim, down, nnz, ndiff);
}

/* 32 sites per step; the last n % 32 by counts_scalar. */
ISING_TARGET_AVX2 static void counts_avx2(const int8_t *a, const int8_t *const *nb, const uint64_t *const *neg,
                                          size_t first, size_t n, int dim, row_counts *rc)
{
  int64_t down = 0, nnz[ISING_MAX_DIM] = {0, 0, 0}, ndiff[ISING_MAX_DIM] = {0, 0, 0};
  const __m256i zero = _mm256_setzero_si256();
  const size_t full = n / 32 * 32;
  for (size_t x = 0; x < full; x += 32) {
    const __m256i s = _mm256_loadu_si256((const __m256i *)(a + x));
    down += _mm_popcnt_u32((uint32_t)_mm256_movemask_epi8(s));
    for (int d = 0; d < dim; d++) {
      const __m256i t = _mm256_loadu_si256((const __m256i *)(nb[d] + x));
      const uint32_t exists = ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(t, zero));
      uint32_t differ = (uint32_t)_mm256_movemask_epi8(_mm256_xor_si256(s, t));
      if (neg[d]) differ ^= ising_bits32(neg[d], first + x);
      nnz[d] += _mm_popcnt_u32(exists);
      ndiff[d] += _mm_popcnt_u32(differ & exists);
    }
  }
  add_counts(rc, dim, down, nnz, ndiff);
  if (full < n) {
    const int8_t *tail[ISING_MAX_DIM] = {NULL, NULL, NULL};
    for (int d = 0; d < dim; d++) tail[d] = nb[d] + full;
    counts_scalar(a + full, tail, neg, first + full, n - full, dim, rc);
  }
}
#endif

/* Gaussian bonds (bonds != 0) and/or random fields: -sum_d fixed(J_d) s t - fixed(h) s over a row, site by
 * site, and the sum of the spins.  Every term is
 * below 2^47 in magnitude (|J| <= 1e4, |h| < 8e3: params.c), so int64 partial sums of 256 sites (at most 4 terms
 * each) cannot overflow; they go into the 128-bit total. */
#define GENERAL_CHUNK 256
/* The vector rows prefetch the bonds and fields 256 positions (2 KiB) ahead: 2D 4096^2 with Gaussian bonds went
 * from 1.8 to 0.61 ns per site on the AMD EPYC VM, 3D 256^3 from 2.7 to 0.85, the speed of streaming them
 * (64-512 tried; docs/performance.md, "Prefetching the bonds"). */
#define PREFETCH_AHEAD 256

static void general_row_scalar(const ising_geometry *g, const ising_couplings *c, const int8_t *spins, size_t i0,
                               size_t n, int bonds, ising_int128 *energy, int64_t *mag)
{
  for (size_t x0 = 0; x0 < n; x0 += GENERAL_CHUNK) {
    int64_t e = 0, m = 0;
    const size_t x1 = n - x0 < GENERAL_CHUNK ? n : x0 + GENERAL_CHUNK;
    for (size_t x = x0; x < x1; x++) {
      const size_t i = i0 + x;
      const int s = spins[i];
      m += s;
      if (bonds)
        for (int d = 0; d < g->dim; d++) e -= fixed(c->Jp[d][i]) * (s * spins[(ptrdiff_t)i + g->stride[d]]);
      if (!c->uniform_field) e -= fixed(c->h[i]) * s;
    }
    *energy += e;
    *mag += m;
  }
}

#if ISING_X86
/* 8 sites per step: the terms as int64 lanes, negated where s t (or s) is -1, dropped where the neighbour is 0. */
ISING_TARGET_AVX512 static void general_row_avx512(const ising_geometry *g, const ising_couplings *c,
                                                   const int8_t *spins, size_t i0, size_t n, int bonds,
                                                   ising_int128 *energy, int64_t *mag)
{
  const __m512d scale = _mm512_set1_pd(ISING_QUANTUM_SCALE);
  const __m512i zero = _mm512_setzero_si512();
  int64_t m = 0;
  for (size_t x0 = 0; x0 < n; x0 += 8 * GENERAL_CHUNK) {
    __m512i e = zero;
    const size_t x1 = n - x0 < 8 * GENERAL_CHUNK ? n : x0 + 8 * GENERAL_CHUNK;
    for (size_t x = x0; x < x1; x += 8) {
      const size_t i = i0 + x;
      for (int d = 0; d < g->dim && bonds; d++) ising_prefetch_doubles(c->Jp[d], i + PREFETCH_AHEAD, 1);
      if (!c->uniform_field) ising_prefetch_doubles(c->h, i + PREFETCH_AHEAD, 1);
      const __mmask8 valid = (__mmask8)(x1 - x >= 8 ? 0xffu : (1u << (x1 - x)) - 1);
      const __m128i sv = _mm_maskz_loadu_epi8(valid, spins + i);
      const __mmask8 down = (__mmask8)_mm_movepi8_mask(sv), up = (__mmask8)(valid & ~down);
      m += (int64_t)_mm_popcnt_u32(up) - (int64_t)_mm_popcnt_u32(down);
      if (bonds)
        for (int d = 0; d < g->dim; d++) {
          const __m128i tv = _mm_maskz_loadu_epi8(valid, spins + (ptrdiff_t)i + g->stride[d]);
          const __mmask8 exists = (__mmask8)_mm_test_epi8_mask(tv, tv),
                         differ = (__mmask8)(_mm_movepi8_mask(_mm_xor_si128(sv, tv)) & exists);
          const __m512i q = _mm512_cvttpd_epi64(_mm512_mul_pd(_mm512_maskz_loadu_pd(valid, c->Jp[d] + i), scale));
          e = _mm512_mask_sub_epi64(e, (__mmask8)(exists & ~differ), e, q); /* J s t with s t = +1 */
          e = _mm512_mask_add_epi64(e, differ, e, q);
        }
      if (!c->uniform_field) {
        const __m512i q = _mm512_cvttpd_epi64(_mm512_mul_pd(_mm512_maskz_loadu_pd(valid, c->h + i), scale));
        e = _mm512_mask_sub_epi64(e, up, e, q);
        e = _mm512_mask_add_epi64(e, down, e, q);
      }
    }
    *energy += _mm512_reduce_add_epi64(e);
  }
  *mag += m;
}
/* 4 sites per step in doubles: every term is an exact integer below 2^47 and the spins are +-1 or 0, so the
 * products are exact and so are sums of 32 terms per lane (8 steps of at most 4 terms), which then go into the
 * 128-bit total as integers; the last n % 4 sites by general_row_scalar. */
ISING_TARGET_AVX2 static void general_row_avx2(const ising_geometry *g, const ising_couplings *c, const int8_t *spins,
                                               size_t i0, size_t n, int bonds, ising_int128 *energy, int64_t *mag)
{
  const __m256d scale = _mm256_set1_pd(ISING_QUANTUM_SCALE);
  const size_t full = n / 4 * 4;
  int64_t m = 0;
  __m256d e = _mm256_setzero_pd();
  for (size_t x = 0, steps = 0; x < full; x += 4) {
    const size_t i = i0 + x;
    if (x % 8 == 0) { /* one line of each array per two steps */
      for (int d = 0; d < g->dim && bonds; d++) ising_prefetch_doubles(c->Jp[d], i + PREFETCH_AHEAD, 1);
      if (!c->uniform_field) ising_prefetch_doubles(c->h, i + PREFETCH_AHEAD, 1);
    }
    int32_t w;
    memcpy(&w, spins + i, 4);
    const __m256d sd = _mm256_cvtepi32_pd(_mm_cvtepi8_epi32(_mm_cvtsi32_si128(w)));
    m += 4 - 2 * _mm_popcnt_u32((unsigned)_mm256_movemask_pd(sd));
    if (bonds)
      for (int d = 0; d < g->dim; d++) {
        memcpy(&w, spins + (ptrdiff_t)i + g->stride[d], 4);
        const __m256d td = _mm256_cvtepi32_pd(_mm_cvtepi8_epi32(_mm_cvtsi32_si128(w)));
        const __m256d q = _mm256_mul_pd(_mm256_loadu_pd(c->Jp[d] + i), scale);
        e = _mm256_sub_pd(e, _mm256_mul_pd(q, _mm256_mul_pd(sd, td)));
      }
    if (!c->uniform_field) e = _mm256_sub_pd(e, _mm256_mul_pd(_mm256_mul_pd(_mm256_loadu_pd(c->h + i), scale), sd));
    if (++steps == 8 || x + 4 == full) {
      double v[4];
      _mm256_storeu_pd(v, e);
      *energy += (int64_t)v[0] + (int64_t)v[1] + (int64_t)v[2] + (int64_t)v[3];
      e = _mm256_setzero_pd();
      steps = 0;
    }
  }
  *mag += m;
  if (full < n) general_row_scalar(g, c, spins, i0 + full, n - full, bonds, energy, mag);
}
#endif

/* The counts of this rank's block (uniform or ±J bonds), row by row. */
static row_counts block_counts(const ising_geometry *g, const ising_couplings *c, const int8_t *spins)
{
  row_counts rc;
  memset(&rc, 0, sizeof(rc));
  const uint64_t *neg[ISING_MAX_DIM] = {NULL, NULL, NULL};
  if (c->pm_bonds)
    for (int d = 0; d < g->dim; d++) neg[d] = c->negative[d];
#if ISING_X86
  const ising_simd simd = ising_simd_default();
#endif
  const size_t n = (size_t)g->n[0];
  int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
#if ISING_X86
  if (simd != ISING_SIMD_SCALAR && g->dim > 1 && n + 2 <= 64) { /* short rows: a plane at a time */
    /* bit j: position j of a row-aligned stretch is not x halo (x = j mod (n + 2) in [1, n]) */
    unsigned __int128 bits = 0;
    for (size_t j = 0; j < 128; j += n + 2) bits |= (unsigned __int128)(((UINT64_C(1) << n) - 1) << 1) << j;
    const uint64_t interior[2] = {(uint64_t)bits, (uint64_t)(bits >> 64)};
    for (int ez = zlo; ez < zlo + g->n[2]; ez++)
      if (simd == ISING_SIMD_AVX512)
        counts_plane_avx512(g, spins, neg, ez, interior, &rc);
      else
        counts_plane_avx2(g, spins, neg, ez, interior, &rc);
    return rc;
  }
#endif
  for (int ez = zlo; ez < zlo + g->n[2]; ez++)
    for (int ey = ylo; ey < ylo + g->n[1]; ey++) {
      const size_t i = ising_geometry_index(g, 1, ey, ez);
      const int8_t *nb[ISING_MAX_DIM] = {NULL, NULL, NULL};
      for (int d = 0; d < g->dim; d++) nb[d] = spins + i + g->stride[d];
#if ISING_X86
      if (simd == ISING_SIMD_AVX512) {
        counts_avx512(spins + i, nb, neg, i, n, g->dim, &rc);
        continue;
      }
      if (simd == ISING_SIMD_AVX2) {
        counts_avx2(spins + i, nb, neg, i, n, g->dim, &rc);
        continue;
      }
#endif
      counts_scalar(spins + i, nb, neg, i, n, g->dim, &rc);
    }
  return rc;
}

ising_observables_sums ising_observables_local(const ising_geometry *g, const ising_couplings *c, const int8_t *spins)
{
  ising_int128 energy = 0;
  int64_t mag = 0;
  /* uniform or ±J bonds: every bond of axis d is 0 (absent: its neighbour is 0), J[d] or (±J) -J[d] */
  const int counted = c->uniform_bonds || c->pm_bonds;
  if (counted) {
    row_counts rc = block_counts(g, c, spins);
    mag = (int64_t)g->nlocal - 2 * rc.down;
    for (int d = 0; d < g->dim; d++) energy -= (ising_int128)fixed(c->J[d]) * (rc.nnz[d] - 2 * rc.ndiff[d]);
  }
  if (!counted || !c->uniform_field) { /* Gaussian bonds and/or a random field, site by site */
    int64_t m = 0;
#if ISING_X86
    const ising_simd simd = ising_simd_default();
#endif
    int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
    for (int ez = zlo; ez < zlo + g->n[2]; ez++)
      for (int ey = ylo; ey < ylo + g->n[1]; ey++) {
        const size_t i0 = ising_geometry_index(g, 1, ey, ez);
#if ISING_X86
        if (simd == ISING_SIMD_AVX512) {
          general_row_avx512(g, c, spins, i0, (size_t)g->n[0], !counted, &energy, &m);
          continue;
        }
        if (simd == ISING_SIMD_AVX2) {
          general_row_avx2(g, c, spins, i0, (size_t)g->n[0], !counted, &energy, &m);
          continue;
        }
#endif
        general_row_scalar(g, c, spins, i0, (size_t)g->n[0], !counted, &energy, &m);
      }
    if (!counted) mag = m;
  }
  if (c->uniform_field) energy -= (ising_int128)fixed(c->field) * mag;
  ising_observables_sums sums = {energy, mag};
  return sums;
}

int64_t ising_observables_unsatisfied(const ising_geometry *g, const ising_couplings *c, const int8_t *spins)
{
  int64_t count = 0;
  if (c->uniform_bonds || c->pm_bonds) {
    /* J s_i s_j < 0: the differing pairs for J > 0 (±J: |J| > 0, signs folded in), the equal ones for J < 0 */
    row_counts rc = block_counts(g, c, spins);
    for (int d = 0; d < g->dim; d++) count += c->J[d] > 0 ? rc.ndiff[d] : c->J[d] < 0 ? rc.nnz[d] - rc.ndiff[d] : 0;
    return count;
  }
  int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
  for (int ez = zlo; ez < zlo + g->n[2]; ez++)
    for (int ey = ylo; ey < ylo + g->n[1]; ey++) {
      size_t row = ising_geometry_index(g, 0, ey, ez);
      for (int ex = 1; ex <= g->n[0]; ex++) {
        size_t i = row + (size_t)ex;
        for (int d = 0; d < g->dim; d++) count += c->Jp[d][i] * spins[i] * (spins + i)[g->stride[d]] < 0;
      }
    }
  return count;
}

int64_t ising_observables_bonds(const ising_geometry *g)
{
  int64_t bonds = 0;
  for (int d = 0; d < g->dim; d++) bonds += g->periodic[d] ? g->nsites : g->nsites / g->L[d] * (g->L[d] - 1);
  return bonds;
}

void ising_allreduce_int128(MPI_Comm comm, ising_int128 *v, int n)
{
  /* Each value travels as four 32-bit limbs (the top one signed) summed as
   * int64, which cannot overflow for fewer than 2^31 ranks; integer sums are
   * exact in any order. */
  int64_t small_local[4 * ISING_INT128_MAX_REDUCE] = {0}, small_total[4 * ISING_INT128_MAX_REDUCE];
  int64_t *local = small_local, *total = small_total;
  if (n > ISING_INT128_MAX_REDUCE) {
    local = malloc(sizeof(int64_t) * 4 * (size_t)n);
    total = malloc(sizeof(int64_t) * 4 * (size_t)n);
    if (!local || !total) MPI_Abort(comm, ISING_EXIT_RUNTIME); /* a few bytes per replica: cannot fail in practice */
  }
  for (int k = 0; k < n; k++) {
    ising_int128 x = v[k];
    for (int l = 0; l < 3; l++) {
      local[4 * k + l] = (int64_t)(x & 0xffffffff);
      x = (x - (x & 0xffffffff)) / ((ising_int128)1 << 32);
    }
    local[4 * k + 3] = (int64_t)x;
  }
  MPI_Allreduce(local, total, 4 * n, MPI_INT64_T, MPI_SUM, comm);
  for (int k = 0; k < n; k++) {
    ising_int128 x = total[4 * k + 3];
    for (int l = 2; l >= 0; l--) x = x * ((ising_int128)1 << 32) + total[4 * k + l];
    v[k] = x;
  }
  if (local != small_local) {
    free(local);
    free(total);
  }
}

ising_int128 ising_fixed128(double x)
{
  return (ising_int128)(x * 0x1p64);
}

double ising_unfixed128(ising_int128 x)
{
  return (double)x * 0x1p-64;
}

void ising_observables_reduce(const ising_geometry *g, int n, const ising_observables_sums *local, double *energy,
                              double *magnetization)
{
  ising_int128 small[2 * ISING_INT128_MAX_REDUCE], *v = n <= ISING_INT128_MAX_REDUCE ? small : NULL;
  if (!v && !(v = malloc(sizeof(*v) * 2 * (size_t)n))) MPI_Abort(g->comm, ISING_EXIT_RUNTIME); /* 32 bytes each */
  for (int j = 0; j < n; j++) {
    v[2 * j] = local[j].energy;
    v[2 * j + 1] = local[j].magnetization;
  }
  ising_allreduce_int128(g->comm, v, 2 * n);
  for (int j = 0; j < n; j++) {
    energy[j] = (double)v[2 * j] / ISING_QUANTUM_SCALE / (double)g->nsites;
    magnetization[j] = (double)v[2 * j + 1] / (double)g->nsites;
  }
  if (v != small) free(v);
}

void ising_observables_measure(const ising_geometry *g, const ising_couplings *c, const int8_t *spins, double *energy,
                               double *magnetization)
{
  ising_observables_sums s = ising_observables_local(g, c, spins);
  ising_observables_reduce(g, 1, &s, energy, magnetization);
}
