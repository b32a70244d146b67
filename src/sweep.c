/* sweep.c: checkerboard update kernels (sweep.h).  All local, no MPI.
 *   ising_sweeper_init, ising_sweep_colour, ising_sweep_colour_reference,
 *   ising_sweep_fused_ok, ising_sweep_fused (its callbacks may communicate),
 *   ising_sweep_words
 *
 * ising_sweep_colour walks the rows of one colour in segments of up to
 * SEGMENT sites: the segment's random words come from the vectorised Philox
 * into an L1-resident buffer, then a segment kernel (table or general;
 * scalar, AVX2 or AVX-512) updates the sites.  ising_sweep_fused runs the
 * same segment kernels on both colours in one pass over the rows, by a plan
 * worked out once per geometry (plan_build).  Every
 * kernel computes the decision r < T(p) of the reference kernel exactly
 * (see sweep.h). */
#include "ising/sweep.h"

#include "ising/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if ISING_X86
#include <immintrin.h>
#endif

static inline uint64_t threshold(double p)
{
  return p >= 1.0 ? UINT64_C(1) << 32 : (uint64_t)ceil(p * ISING_QUANTUM_SCALE);
}

/* beta may be +inf (zero temperature): then a flip that lowers the energy
 * is always made, one that raises it never, and a tie (beta * 0 = NaN) is
 * decided with probability 1/2, in both Metropolis and heat bath.  With
 * half_ties (chains, see ising_sweeper_init) a Metropolis flip with dE = 0
 * is made with probability 1/2 at every beta. */
static inline double metropolis_p(double beta, int s, double hloc, int half_ties)
{
  double x = beta * 2.0 * s * hloc;
  return isnan(x) || (half_ties && hloc == 0.0) ? 0.5 : exp(-x);
}

/* Whether Metropolis must decide dE = 0 by a fair coin: on a lattice with
 * fewer than two coupled axes (a chain, or 2D/3D with the couplings of all
 * but one axis zero) the checkerboard sweep with p(dE = 0) = 1 moves every
 * domain wall ballistically, and the number of left- minus right-moving
 * walls is conserved: the chain is not ergodic and its averages are wrong
 * (docs/physics.md).  p = 1/2 for ties keeps detailed balance and lets the
 * walls diffuse. */
static int chain_like(const ising_geometry *g, const ising_couplings *c)
{
  int coupled = 0;
  for (int d = 0; d < g->dim; d++) coupled += c->uniform_bonds || c->pm_bonds ? c->J[d] != 0.0 : 1;
  return coupled < 2;
}

/* Whether Metropolis must decide dE = 0 by a fair coin on a lattice of any
 * shape: with p(dE = 0) = 1 a state whose local field is zero at every site
 * (then E = 0) flips one colour and then the other, every site for sure,
 * and becomes -s, which is such a state too: the pairs {s, -s} are closed
 * classes the other states never reach, so a run samples the Boltzmann
 * distribution without them, a relative bias of up to (their number) / Z <=
 * c / 2^N.  Counted by enumeration: c = 4 on 4 x 2 (1.6 %: 4 x 2 at beta =
 * 0.2 gave e 6 sigma off the exact value), 4 on 6 x 2, 36 on 4 x 4, 16 on
 * 4 x 2 x 2, 4 on 6 x 4 (2.4e-7), 0 on 6 x 2 x 2; beyond 32 spins such states
 * are too rare to matter, and p(dE = 0) = 1 is kept (docs/physics.md). */
#define TINY_LATTICE 32
static int tiny_lattice(const ising_geometry *g)
{
  int64_t n = 1;
  for (int d = 0; d < g->dim; d++) n *= g->L[d];
  return n <= TINY_LATTICE;
}

static inline double heatbath_p(double beta, double hloc)
{
  double x = 2.0 * beta * hloc;
  return isnan(x) ? 0.5 : 1.0 / (1.0 + exp(-x));
}

void ising_sweeper_init(ising_sweeper *k, const ising_geometry *g, const ising_couplings *c, ising_algorithm alg,
                        double beta, uint64_t seed, uint32_t stream)
{
  k->g = g;
  k->c = c;
  k->alg = alg;
  k->beta = beta;
  k->seed = seed;
  k->stream = stream;
  memset(k->tperm16, 0, sizeof(k->tperm16));
  memset(k->tshuf, 0, sizeof(k->tshuf));
  k->shuffle = 0;
  k->iso_sk = 0;
  k->simd = ising_simd_default();
  k->band = 0x1p-20;
  k->force_ties = 0;
  k->half_ties = alg == ISING_ALGORITHM_METROPOLIS && (chain_like(g, c) || tiny_lattice(g));
  k->use_table = c->uniform_field && (c->uniform_bonds || c->pm_bonds);
  k->kernel = !k->use_table ? ISING_KERNEL_GENERAL : c->uniform_bonds ? ISING_KERNEL_TABLE : ISING_KERNEL_TABLE_PM;
  /* Quantised values: exact in units of 2^-32 (|J| <= 1e4, |h| <= 1e3 keep them below 2^46). */
  k->field_q = (int64_t)(c->field * ISING_QUANTUM_SCALE);
  for (int d = 0; d < ISING_MAX_DIM; d++) k->axis_q[d] = d < g->dim ? (int64_t)(c->J[d] * ISING_QUANTUM_SCALE) : 0;
  if (!k->use_table) return;
  for (int t = 0; t < ISING_TABLE_SIZE; t++) {
    /* t = sum_d (k_d + 2) 5^d with k_d = s_{-d} + s_{+d} (with ±J bonds
     * k_d = sigma_{-d} s_{-d} + sigma_{+d} s_{+d}, sigma the bond signs and
     * J[d] the magnitude); h^loc is an exact sum, so the same double as the
     * general kernel's. */
    double hloc = 0.0;
    int rest = t;
    for (int d = 0; d < g->dim; d++) {
      hloc += c->J[d] * (double)(rest % 5 - 2);
      rest /= 5;
    }
    hloc += c->field;
    for (int up = 0; up < 2; up++) k->flip_energy[up][t] = (int64_t)((up ? 2.0 : -2.0) * hloc * ISING_QUANTUM_SCALE);
    for (int up = 0; up < 2; up++) {
      k->table[up][t] = alg == ISING_ALGORITHM_HEATBATH
                            ? threshold(heatbath_p(beta, hloc))
                            : threshold(metropolis_p(beta, up ? 1 : -1, hloc, k->half_ties));
      k->tm1[up * ISING_TABLE_SIZE + t] = k->table[up][t] ? (uint32_t)(k->table[up][t] - 1) : 0;
    }
  }
  /* The register-sized tables of the AVX-512 kernel: in 2D and 3D with
   * equal bonds on every axis (ISING_LOOKUP_ISO, the common case) the total
   * k = sum_d k_d decides h^loc, j = k + 2 dim < 13, up adds 4 dim + 1: one
   * register, and the AVX2 kernel's byte shuffles use the same j.  Else index
   * t itself in 1D and 2D (5^2 = 25 < 32), and in 3D when no axis is open (no
   * zero halo, so k_d is -2, 0 or 2) j = sum_d (k_d / 2 + 1) 3^d < 27; up
   * adds 32.  In 3D with an open axis, t < 125 and up adds 128 (four
   * registers' pairs).  tperm16 holds the high halves of T - 1 (tm1 >> 16). */
  int periodic = 1, iso = g->dim > 1;
  for (int d = 0; d < g->dim; d++) {
    periodic &= g->periodic[d];
    iso &= c->J[d] == c->J[0]; /* with ±J bonds J[d] is the magnitude */
  }
  k->lookup = iso          ? ISING_LOOKUP_ISO
              : g->dim < 3 ? ISING_LOOKUP_PERM5
              : periodic   ? ISING_LOOKUP_PERM3
                           : ISING_LOOKUP_PERM4;
  if (iso) { /* j = k + 2 dim + (4 dim + 1) up, k = sum_d k_d; any t with that total has the same h^loc (exact) */
    const int nk = 4 * g->dim + 1;
    for (int j = 0; j < 2 * nk; j++) {
      int rest = j % nk - 2 * g->dim, t = 0;
      for (int d = 0, w = 1; d < g->dim; d++, w *= 5) {
        const int kd = rest < -2 ? -2 : rest > 2 ? 2 : rest;
        t += (kd + 2) * w;
        rest -= kd;
      }
      const uint16_t h = (uint16_t)(k->tm1[(j / nk) * ISING_TABLE_SIZE + t] >> 16);
      k->tperm16[j] = h;
      k->tshuf[0][j] = (uint8_t)h;
      k->tshuf[1][j] = (uint8_t)(h >> 8);
    }
    /* Metropolis with no field: dE = 2 J s k, so the entry of (s = -1, k) is that of (s = +1, -k) (the same
     * h^loc negated, the same x = 2 beta s h^loc); the AVX-512 and AVX2 kernels then index by s k + 2 dim the
     * s = +1 half, copied to entry 32 on.  Used only where every pair agrees, as it must. */
    k->iso_sk = alg == ISING_ALGORITHM_METROPOLIS && c->field == 0.0;
    for (int j = 0; j < nk; j++) {
      k->tperm16[32 + j] = k->tperm16[nk + j];
      k->tshuf[0][32 + j] = k->tshuf[0][nk + j];
      k->tshuf[1][32 + j] = k->tshuf[1][nk + j];
      k->iso_sk &= k->tperm16[j] == k->tperm16[nk + (nk - 1 - j)];
    }
    k->shuffle = 2;
    return;
  }
  /* The AVX2 kernel's byte-shuffle tables where every axis is periodic: j = sum_d (k_d / 2 + 1) 3^d + 3^dim up,
   * the low and high bytes of tm1 >> 16. */
  k->shuffle = periodic;
  const int npos = g->dim == 1 ? 3 : g->dim == 2 ? 9 : 27;
  for (int j = 0; j < 2 * npos; j++) {
    int jj = j % npos, t = 0;
    for (int d = 0, w = 1; d < g->dim; d++, w *= 5, jj /= 3) t += 2 * (jj % 3) * w;
    uint16_t h = (uint16_t)(k->tm1[(j / npos) * ISING_TABLE_SIZE + t] >> 16);
    k->tshuf[0][j] = (uint8_t)h;
    k->tshuf[1][j] = (uint8_t)(h >> 8);
  }
  const int half = k->lookup == ISING_LOOKUP_PERM4 ? 128 : 32;
  for (int up = 0; up < 2; up++)
    for (int j = 0; j < half; j++) {
      int t = k->lookup == ISING_LOOKUP_PERM3 ? 2 * (j % 3) + 10 * (j / 3 % 3) + 50 * (j / 9) : j;
      if (t >= ISING_TABLE_SIZE || (k->lookup == ISING_LOOKUP_PERM3 && j >= 27)) continue;
      k->tperm16[half * up + j] = (uint16_t)(k->tm1[up * ISING_TABLE_SIZE + t] >> 16);
    }
}

/* Global site number of the first interior site of an extended row. */
static inline uint64_t row_global(const ising_geometry *g, int ey, int ez)
{
  uint64_t gy = g->dim > 1 ? (uint64_t)(g->offset[1] + ey - 1) : 0;
  uint64_t gz = g->dim > 2 ? (uint64_t)(g->offset[2] + ez - 1) : 0;
  return (uint64_t)g->offset[0] + (uint64_t)g->L[0] * (gy + (uint64_t)g->L[1] * gz);
}

/* T(p) of a site with spin s and local field hloc: it flips (Metropolis) or becomes +1 (heat bath) iff r < T. */
static inline uint64_t site_threshold(const ising_sweeper *k, int s, double hloc)
{
  if (k->alg == ISING_ALGORITHM_HEATBATH) return threshold(heatbath_p(k->beta, hloc));
  return threshold(metropolis_p(k->beta, s, hloc, k->half_ties));
}

uint64_t ising_sweep_threshold(const ising_sweeper *k, int s, double hloc)
{
  return site_threshold(k, s, hloc);
}

static inline int8_t update(const ising_sweeper *k, int8_t s, int accept)
{
  return k->alg == ISING_ALGORITHM_HEATBATH ? (accept ? 1 : -1) : accept ? (int8_t)-s : s;
}

static inline double local_field(const ising_sweeper *k, const int8_t *spins, size_t i)
{
  const ising_geometry *g = k->g;
  const ising_couplings *c = k->c;
  double hloc = 0.0;
  for (int d = 0; d < g->dim; d++) {
    ptrdiff_t st = g->stride[d];
    if (c->uniform_bonds)
      hloc += c->J[d] * (double)((spins + i)[-st] + (spins + i)[st]);
    else
      hloc += (c->Jp[d] + i)[-st] * (spins + i)[-st] + c->Jp[d][i] * (spins + i)[st];
  }
  return hloc + (c->uniform_field ? c->field : c->h[i]);
}

void ising_sweep_colour_reference(const ising_sweeper *k, int8_t *spins, int colour, uint64_t step,
                                  ising_sweep_stats *acc)
{
  const ising_geometry *g = k->g;
  int64_t changed = 0, sflip = 0;
  ising_int128 denergy = 0;
  int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
  for (int ez = zlo; ez < zlo + g->n[2]; ez++)
    for (int ey = ylo; ey < ylo + g->n[1]; ey++) {
      uint64_t base = row_global(g, ey, ez);
      size_t row = ising_geometry_index(g, 0, ey, ez);
      for (int ex = ising_geometry_row_start(g, ey, ez, colour); ex <= g->n[0]; ex += 2) {
        size_t i = row + (size_t)ex;
        uint32_t r = ising_rng_site(k->seed, k->stream, step, base + (uint64_t)(ex - 1));
        double hloc = local_field(k, spins, i);
        int8_t s = spins[i], t = update(k, s, r < site_threshold(k, s, hloc));
        if (s != t) {
          changed++;
          sflip += s;
          denergy += (int64_t)(2.0 * s * hloc * ISING_QUANTUM_SCALE);
        }
        spins[i] = t;
      }
    }
  acc->changed += changed;
  acc->denergy += denergy;
  acc->dmag -= 2 * sflip;
}

/* ---- fast kernels: one call per row segment of one colour ---- */

/* Colour sites per batch of random words: 4 KiB of words, kept in L1. */
#define SEGMENT 1024

typedef struct {
  int64_t changed;
  int64_t sk[ISING_MAX_DIM]; /* table kernels: sum over changed sites of s_i k_d (s_i before the change; with
                              * ISING_LOOKUP_ISO the vector kernels add s_i sum_d k_d to sk[0]: equal bonds) */
  int64_t sfield;            /* table kernels: sum over changed sites of s_i */
  int64_t sflip;             /* every kernel: sum over changed sites of s_i (before the change) */
  ising_int128 denergy;      /* other kernels: the energy change itself, units of 2^-32 */
  uint64_t step, site;       /* the sweep and the global site number of the segment's first site (for lo) */
  /* AVX-512 table kernel: sk by 64-bit lane, summed by finish_tally (aligned: one cache line per axis) */
  _Alignas(64) int64_t skv[ISING_MAX_DIM][8];
} tally;

/* A segment: n sites of one colour at extended positions i0, i0 + 2, ...,
 * global sites t->site, t->site + 2, ..., with the high halves r[0 .. n)
 * of their random words (rng.h ising_rng_site_hi). */
typedef void (*segment_fn)(const ising_sweeper *k, int8_t *spins, size_t i0, int n, const uint16_t *r, tally *t);

/* Several segments of one colour in one call (the fused sweep's rows, a few
 * at a time): one segment each, as segment_fn, with t->site = site. */
typedef struct {
  size_t i0;
  const uint16_t *r;
  uint64_t site;
  int n;
} segment;

/* At most this many segments and vector steps of 32 sites (each segment's
 * sites rounded up to whole steps) per call. */
#define BATCH_SEGMENTS 64
#define BATCH_STEPS    128

typedef void (*segments_fn)(const ising_sweeper *k, int8_t *spins, const segment *s, int count, tally *t);

/* One segment through a segments kernel: the segment_fn form of the kernels that take lists. */
static inline void one_segment(segments_fn f, const ising_sweeper *k, int8_t *spins, size_t i0, int n,
                               const uint16_t *r, tally *t)
{
  const segment one = {i0, r, t->site, n};
  f(k, spins, &one, 1, t);
}

/* The whole 32-bit word r = 2^16 hi + lo of segment site m, drawing lo (rare: only where hi does not decide). */
static inline uint32_t full_word(const ising_sweeper *k, const tally *t, const uint16_t *r, int m)
{
  return (uint32_t)r[m] << 16 | ising_rng_site_lo(k->seed, k->stream, t->step, t->site + 2 * (uint64_t)m);
}

/* r < T for segment site m: hi decides unless 2^16 hi < T <= 2^16 hi + 2^16 - 1 (probability below 2^-16). */
static inline int accept_word(const ising_sweeper *k, const tally *t, const uint16_t *r, int m, uint64_t T)
{
  const uint64_t lo = (uint64_t)r[m] << 16;
  int accept = lo + 0xffff < T;
  if (__builtin_expect((!accept && lo < T) || k->force_ties, 0)) accept = full_word(k, t, r, m) < T;
  return accept;
}

static inline int bit(const uint64_t *a, size_t pos)
{
  return (int)(a[pos / 64] >> (pos % 64)) & 1;
}

/* One site at a time, without data-dependent branches (the decisions are
 * random, so branches on them would be mispredicted half the time). */
static void table_scalar_from(const ising_sweeper *k, int8_t *spins, size_t i0, int m0, int n, const uint16_t *r,
                              tally *t)
{
  const ising_geometry *g = k->g;
  const int dim = g->dim, heatbath = k->alg == ISING_ALGORITHM_HEATBATH;
  const ptrdiff_t st[ISING_MAX_DIM] = {g->stride[0], g->stride[1], g->stride[2]};
  uint64_t *const *neg = k->kernel == ISING_KERNEL_TABLE_PM ? k->c->negative : NULL;
  const uint64_t *table = heatbath ? k->table[0] : &k->table[0][0];
  const int64_t *energy = &k->flip_energy[0][0];
  int64_t changed = 0, sflip = 0, denergy = 0; /* |2 s h^loc| < 2^50, at most SEGMENT sites */
  for (int m = m0; m < n; m++) {
    size_t i = i0 + 2 * (size_t)m;
    int8_t *p = spins + i;
    int tt = 0, weight = 1;
    for (int d = 0; d < dim; d++) {
      int a = p[-st[d]], b = p[st[d]];
      if (neg) {
        a *= 1 - 2 * bit(neg[d], i - (size_t)st[d]);
        b *= 1 - 2 * bit(neg[d], i);
      }
      tt += weight * (a + b + 2);
      weight *= 5;
    }
    const int s = *p, up = s > 0, e = up * ISING_TABLE_SIZE + tt;
    const int accept = accept_word(k, t, r, m, table[heatbath ? tt : e]);
    const int nw = heatbath ? 2 * accept - 1 : accept ? -s : s, flip = nw != s;
    changed += flip;
    sflip += s * flip;
    denergy += energy[e] & -(int64_t)flip;
    *p = (int8_t)nw;
  }
  t->changed += changed;
  t->sflip += sflip;
  t->denergy += denergy;
}

static void table_scalar(const ising_sweeper *k, int8_t *spins, size_t i0, int n, const uint16_t *r, tally *t)
{
  table_scalar_from(k, spins, i0, 0, n, r, t);
}

static void general_scalar_from(const ising_sweeper *k, int8_t *spins, size_t i0, int m0, int n, const uint16_t *r,
                                tally *t)
{
  int64_t changed = 0, sflip = 0;
  ising_int128 denergy = 0;
  for (int m = m0; m < n; m++) {
    size_t i = i0 + 2 * (size_t)m;
    double hloc = local_field(k, spins, i);
    int8_t s = spins[i], nw = update(k, s, accept_word(k, t, r, m, site_threshold(k, s, hloc)));
    if (s != nw) {
      changed++;
      sflip += s;
      denergy += (int64_t)(2.0 * s * hloc * ISING_QUANTUM_SCALE);
    }
    spins[i] = nw;
  }
  t->changed += changed;
  t->sflip += sflip;
  t->denergy += denergy;
}

static void general_scalar(const ising_sweeper *k, int8_t *spins, size_t i0, int n, const uint16_t *r, tally *t)
{
  general_scalar_from(k, spins, i0, 0, n, r, t);
}

/* The exact decision for segment site m (spin s, local field hloc) when the fast comparison could not tell (r
 * within the band around p 2^32, or r possibly 0 where p 2^32 < 1). */
static inline int accept_exact(const ising_sweeper *k, const tally *t, const uint16_t *r, int m, int s, double hloc)
{
  return accept_word(k, t, r, m, site_threshold(k, s, hloc));
}

#if ISING_X86

/* ---- AVX-512 ---- */

#define AVX512_INLINE ISING_TARGET_AVX512 static inline __attribute__((always_inline))

/* k_d = s(i - st) + s(i + st) on 64 bytes (with ±J bonds each term times the
 * bond's sign); only the even bytes (the colour's sites) are used. */
AVX512_INLINE __m512i neighbours_512(const int8_t *p, ptrdiff_t st, const uint64_t *neg, size_t i, __mmask64 b,
                                     const int full)
{
  const __m512i zero = _mm512_setzero_si512();
  __m512i lo = full ? _mm512_loadu_si512(p - st) : _mm512_maskz_loadu_epi8(b, p - st),
          hi = full ? _mm512_loadu_si512(p + st) : _mm512_maskz_loadu_epi8(b, p + st);
  if (neg) {
    lo = _mm512_mask_sub_epi8(lo, ising_bits64(neg, i - (size_t)st), zero, lo);
    hi = _mm512_mask_sub_epi8(hi, ising_bits64(neg, i), zero, hi);
  }
  return _mm512_add_epi8(lo, hi);
}

/* The AVX-512 kernel's own instantiation of ISING_LOOKUP_ISO where k->iso_sk (Metropolis, no field): the
 * threshold indexed by s k + 2 dim (c->p1), no up mask. */
#define LOOKUP_ISO_SK 8

/* ~0, which the compiler cannot see through: a mask made from it is not rebuilt by kxnor (long_step). */
static inline uint32_t opaque_ones(void)
{
  uint32_t v = ~0u;
  __asm__("" : "+r"(v));
  return v;
}

/* As opaque_ones, 64 bits. */
static inline uint64_t opaque_ones64(void)
{
  uint64_t v = ~UINT64_C(0);
  __asm__("" : "+r"(v));
  return v;
}

/* What the steps of table_avx512_body share: constants in registers and the tallies. */
typedef struct {
  __m512i zero, cup, offset, weight1, weight2, p0, p1, p2, p3, p4, p5, p6, p7, sk0, sk1, sk2;
  uint32_t force, all; /* all: ~0, but not a constant to the compiler (long_step) */
  uint64_t right;      /* ~0 >> 1, likewise: the right neighbours' bytes of a whole step */
  int64_t changed, sfield, sflip;
} table_state;

/* The decisions of one step of 32 lanes: s the spins (the colour's sites
 * on the even bytes), k0..k2 the neighbour sums per axis, hi the high
 * halves of the random words (16-bit lanes), valid the lanes that hold a
 * site.  Returns the bytes to flip, adds them to the tallies, and sets *tie
 * to the lanes left to the scalar kernel. */
AVX512_INLINE uint64_t table_step(table_state *c, __m512i s, __m512i k0, __m512i k1, __m512i k2, __m512i hi,
                                  __mmask32 valid, uint32_t *tie, const int dim, const int heatbath, const int lookup,
                                  const int field)
{
  const uint64_t even = UINT64_C(0x5555555555555555);
  if (lookup == LOOKUP_ISO_SK) { /* Metropolis, no field: the threshold of s k, which the tally takes too */
    __m512i ks = k0;
    if (dim > 1) ks = _mm512_add_epi8(ks, k1);
    if (dim > 2) ks = _mm512_add_epi8(ks, k2);
    const __mmask64 down = _mm512_movepi8_mask(s);
    const __m512i sk = _mm512_mask_sub_epi8(ks, down, c->zero, ks);
    const __m512i thr = _mm512_permutexvar_epi16(_mm512_add_epi8(sk, c->offset), c->p1);
    const uint32_t acc = _mm512_mask_cmplt_epu16_mask(valid, hi, thr);
    *tie = _mm512_mask_cmpeq_epi16_mask(valid, hi, thr) | (valid & c->force);
    const uint64_t flip = _pdep_u64(acc & ~*tie, even);
    const int64_t n = (int64_t)_mm_popcnt_u64(flip);
    c->changed += n;
    c->sflip += n - 2 * (int64_t)_mm_popcnt_u64(flip & down); /* flipped sites are +1 or -1 */
    c->sk0 = _mm512_mask_add_epi8(c->sk0, flip, c->sk0, sk);
    return flip;
  }
  const int iso = lookup == ISING_LOOKUP_ISO;
  __m512i ks = k0, tt; /* iso: ks the total neighbour sum */
  if (iso) {
    if (dim > 1) ks = _mm512_add_epi8(ks, k1);
    if (dim > 2) ks = _mm512_add_epi8(ks, k2);
    tt = _mm512_add_epi8(ks, c->offset);
  } else {
    tt = _mm512_add_epi8(k0, c->offset);
    if (dim > 1) tt = _mm512_add_epi8(tt, _mm512_mullo_epi16(k1, c->weight1));
    if (dim > 2) tt = _mm512_add_epi8(tt, _mm512_mullo_epi16(k2, c->weight2));
  }
  const __mmask64 down = _mm512_movepi8_mask(s);
  if (!heatbath) tt = _mm512_mask_add_epi8(tt, _mm512_cmpgt_epi8_mask(s, c->zero), tt, c->cup);
  __m512i thr;                        /* the high halves of T - 1 */
  if (lookup == ISING_LOOKUP_PERM4) { /* t + 128 up < 256: a permute per 64 entries, chosen by bits 6 and 7 */
    const __m512i a = _mm512_permutex2var_epi16(c->p0, tt, c->p1), b = _mm512_permutex2var_epi16(c->p2, tt, c->p3),
                  d = _mm512_permutex2var_epi16(c->p4, tt, c->p5), e = _mm512_permutex2var_epi16(c->p6, tt, c->p7);
    const __mmask32 b6 = _mm512_test_epi16_mask(tt, _mm512_set1_epi16(64)),
                    b7 = _mm512_test_epi16_mask(tt, _mm512_set1_epi16(128));
    thr = _mm512_mask_mov_epi16(_mm512_mask_mov_epi16(a, b6, b), b7, _mm512_mask_mov_epi16(d, b6, e));
  } else if (lookup == ISING_LOOKUP_ISO) /* k + 2 dim + (4 dim + 1) up < 32: one single-source permute */
    thr = _mm512_permutexvar_epi16(tt, c->p0);
  else /* PERM3: the sums are even, t = 2 j + 64 up */
    thr = _mm512_permutex2var_epi16(c->p0, lookup == ISING_LOOKUP_PERM3 ? _mm512_srli_epi16(tt, 1) : tt, c->p1);
  const uint32_t acc = _mm512_mask_cmplt_epu16_mask(valid, hi, thr);
  *tie = _mm512_mask_cmpeq_epi16_mask(valid, hi, thr) | (valid & c->force);
  uint32_t f = acc;
  if (heatbath) { /* a down spin flips if accepted (it becomes +1), an up one if not; down32: the sites' sign bits */
    const uint32_t down32 = _mm512_test_epi16_mask(s, _mm512_set1_epi16(0x80));
    f = acc ^ (valid & ~down32);
  }
  const uint64_t flip = _pdep_u64(f & ~*tie, even);
  const int64_t n = (int64_t)_mm_popcnt_u64(flip), sf = n - 2 * (int64_t)_mm_popcnt_u64(flip & down); /* +-1 */
  c->changed += n;
  c->sflip += sf;
  if (field) c->sfield += sf;
  if (iso) { /* every axis has the same bond: the total goes to sk0 (finish_tally) */
    c->sk0 = _mm512_mask_add_epi8(c->sk0, flip, c->sk0, _mm512_mask_sub_epi8(ks, down, c->zero, ks));
    return flip;
  }
  c->sk0 = _mm512_mask_add_epi8(c->sk0, flip, c->sk0, _mm512_mask_sub_epi8(k0, down, c->zero, k0));
  if (dim > 1) c->sk1 = _mm512_mask_add_epi8(c->sk1, flip, c->sk1, _mm512_mask_sub_epi8(k1, down, c->zero, k1));
  if (dim > 2) c->sk2 = _mm512_mask_add_epi8(c->sk2, flip, c->sk2, _mm512_mask_sub_epi8(k2, down, c->zero, k2));
  return flip;
}

/* 32 bytes from a (bytes ma) in the low half, 32 from b (bytes mb) in the high half. */
AVX512_INLINE __m512i load_pair(const int8_t *a, const int8_t *b, __mmask32 ma, __mmask32 mb)
{
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_maskz_loadu_epi8(ma, a)), _mm256_maskz_loadu_epi8(mb, b), 1);
}

/* The bond signs of 32 positions from a and 32 from b (±J), as a byte mask of load_pair's lanes. */
AVX512_INLINE uint64_t bits_pair(const uint64_t *neg, size_t a, size_t b)
{
  return ising_bits32(neg, a) | (uint64_t)ising_bits32(neg, b) << 32;
}

/* Two rows' k_d = s(i - st) + s(i + st) by load_pair (with ±J bonds each term times the bond's sign). */
AVX512_INLINE __m512i neighbours_pair(const int8_t *pa, const int8_t *pb, size_t ia, size_t ib, ptrdiff_t st,
                                      const uint64_t *neg, __mmask32 ma, __mmask32 mb)
{
  const __m512i zero = _mm512_setzero_si512();
  __m512i lo = load_pair(pa - st, pb - st, ma, mb), hi = load_pair(pa + st, pb + st, ma, mb);
  if (neg) {
    lo = _mm512_mask_sub_epi8(lo, bits_pair(neg, ia - (size_t)st, ib - (size_t)st), zero, lo);
    hi = _mm512_mask_sub_epi8(hi, bits_pair(neg, ia, ib), zero, hi);
  }
  return _mm512_add_epi8(lo, hi);
}

/* Four rows of at most 8 sites (16 bytes from p[q] + off, bytes m[q]) in the four 128-bit quarters. */
AVX512_INLINE __m512i load_quad(int8_t *const p[4], ptrdiff_t off, const __mmask16 m[4])
{
  __m512i v = _mm512_castsi128_si512(_mm_maskz_loadu_epi8(m[0], p[0] + off));
  v = _mm512_inserti32x4(v, _mm_maskz_loadu_epi8(m[1], p[1] + off), 1);
  v = _mm512_inserti32x4(v, _mm_maskz_loadu_epi8(m[2], p[2] + off), 2);
  return _mm512_inserti32x4(v, _mm_maskz_loadu_epi8(m[3], p[3] + off), 3);
}

/* The bond signs (±J) of 16 positions from each of i[q] + off, as a byte mask of load_quad's lanes. */
AVX512_INLINE uint64_t bits_quad(const uint64_t *neg, const size_t i[4], ptrdiff_t off)
{
  uint64_t b = 0;
  for (int q = 0; q < 4; q++) b |= (uint64_t)(ising_bits32(neg, (size_t)((ptrdiff_t)i[q] + off)) & 0xffffu) << 16 * q;
  return b;
}

/* Four rows' k_d = s(i - st) + s(i + st) by load_quad (with ±J bonds each term times the bond's sign). */
AVX512_INLINE __m512i neighbours_quad(int8_t *const p[4], const size_t i[4], ptrdiff_t st, const uint64_t *neg,
                                      const __mmask16 m[4])
{
  const __m512i zero = _mm512_setzero_si512();
  __m512i lo = load_quad(p, -st, m), hi = load_quad(p, st, m);
  if (neg) {
    lo = _mm512_mask_sub_epi8(lo, bits_quad(neg, i, -st), zero, lo);
    hi = _mm512_mask_sub_epi8(hi, bits_quad(neg, i, 0), zero, hi);
  }
  return _mm512_add_epi8(lo, hi);
}

/* One step of a long segment (table_avx512_body): 32 sites from position i, the left neighbour of the first in
 * byte 63 of *before.  full: all 64 bytes are the segment's; the loads then take no mask, and valid must be
 * c->all, which the compiler cannot fold.  With constant all-ones masks GCC rebuilt them in the loop by kxnor
 * of the register that had held the previous step's flips, and kxnor k,k,k waits for k: every step waited for
 * the whole decision of the one before (2D heat bath on AMD Zen 5: 0.44 instead of 0.21 ns per site; see
 * docs/performance.md, "A false dependency through a mask register").  Returns the tie lanes. */
AVX512_INLINE uint32_t long_step(table_state *c, int8_t *spins, size_t i, const uint16_t *r, __m512i *before,
                                 const uint64_t *const neg[ISING_MAX_DIM], ptrdiff_t st1, ptrdiff_t st2,
                                 ptrdiff_t ahead, __mmask64 bytes, __mmask32 valid, const int dim, const int pm,
                                 const int heatbath, const int lookup, const int field, const int full)
{
  const __m512i zero = _mm512_setzero_si512();
  int8_t *p = spins + i;
  const __m512i s = full ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi8(bytes, p);
  if (dim > 1) _mm_prefetch((const char *)((uintptr_t)p + (uintptr_t)ahead), _MM_HINT_T0); /* no access */
  /* The left neighbours from the registers, not from memory: a load at
   * p - 1 would overlap the previous step's store and wait for it.  The right ones by a masked load without the
   * last byte (p + 64 of a whole step), which no site needs and which lies past the array at the end of a 1D
   * chain; it is in cache anyway, beside the spins just loaded. */
  __m512i left = _mm512_alignr_epi8(s, _mm512_alignr_epi64(s, *before, 6), 15),
          right = _mm512_maskz_loadu_epi8(full ? c->right : bytes >> 1, p + 1);
  *before = s;
  if (pm) {
    left = _mm512_mask_sub_epi8(left, ising_bits64(neg[0], i - 1), zero, left);
    right = _mm512_mask_sub_epi8(right, ising_bits64(neg[0], i), zero, right);
  }
  const __m512i k1 = dim > 1 ? neighbours_512(p, st1, neg[1], i, bytes, full) : zero,
                k2 = dim > 2 ? neighbours_512(p, st2, neg[2], i, bytes, full) : zero;
  const __m512i hi = full ? _mm512_loadu_si512(r) : _mm512_maskz_loadu_epi16(valid, r);
  uint32_t tie;
  const uint64_t flip =
      table_step(c, s, _mm512_add_epi8(left, right), k1, k2, hi, valid, &tie, dim, heatbath, lookup, field);
  _mm512_mask_storeu_epi8(p, flip, _mm512_sub_epi8(zero, s));
  return tie;
}

/* 32 sites per step: bytes of 64 consecutive positions (the colour's on the
 * even bytes), so each 16-bit lane holds a site's byte (and its right
 * neighbour's, unused); the table index is computed in the bytes, and the
 * high half of T - 1 is looked up in 16-bit lanes, from registers
 * (k->tperm16 by the lane's low bits: one permute of 32 entries with equal
 * bonds on every axis, else one two-source permute of 64 in 1D, 2D and
 * periodic 3D, four in 3D with an open axis; ising_lookup),
 * and compared with the 16-bit high halves hi of the random words: hi below
 * it accepts, above rejects, equal (probability 2^-16) leaves the site to
 * the scalar kernel after the loop, which draws lo for the exact r < T.
 * Two segments of at most 16 sites each (rows of up to 32 sites: 3D 32^3
 * and smaller, 2D 32^2) share one step, one in each 32-byte half, and four
 * of at most 8 sites (3D 16^3 and smaller) one in each 128-bit quarter.
 * dim, pm, heatbath and lookup are constants in each instantiation
 * (table_avx512). */
AVX512_INLINE void table_avx512_body(const ising_sweeper *k, int8_t *spins, const segment *seg, int count, tally *t,
                                     const int dim, const int pm, const int heatbath, const int lookup)
{
  const ising_geometry *g = k->g;
  const uint64_t *neg[ISING_MAX_DIM] = {NULL, NULL, NULL};
  if (pm)
    for (int d = 0; d < dim; d++) neg[d] = k->c->negative[d];
  const int w1 = lookup == ISING_LOOKUP_PERM3 ? 3 : 5, w2 = w1 * w1,
            iso = lookup == ISING_LOOKUP_ISO || lookup == LOOKUP_ISO_SK;
  const int up_offset = iso ? 4 * dim + 1 : lookup == ISING_LOOKUP_PERM4 ? 128 : lookup == ISING_LOOKUP_PERM3 ? 64 : 32;
  const int perm4 = lookup == ISING_LOOKUP_PERM4;
  const __m512i zero = _mm512_setzero_si512();
  /* Everything the loop reads from memory other than the spins, in registers: a store to the int8_t spins
   * may alias anything, so the compiler would reload it after every step. */
  table_state c = {.zero = zero,
                   .cup = _mm512_set1_epi8((char)up_offset),
                   .offset =
                       _mm512_set1_epi8((char)(iso ? 2 * dim : 2 + (dim > 1 ? 2 * w1 : 0) + (dim > 2 ? 2 * w2 : 0))),
                   .weight1 = _mm512_set1_epi16((short)w1),
                   .weight2 = _mm512_set1_epi16((short)w2),
                   .p0 = _mm512_loadu_si512(k->tperm16),
                   .p1 = _mm512_loadu_si512(k->tperm16 + 32),
                   .p2 = perm4 ? _mm512_loadu_si512(k->tperm16 + 64) : zero,
                   .p3 = perm4 ? _mm512_loadu_si512(k->tperm16 + 96) : zero,
                   .p4 = perm4 ? _mm512_loadu_si512(k->tperm16 + 128) : zero,
                   .p5 = perm4 ? _mm512_loadu_si512(k->tperm16 + 160) : zero,
                   .p6 = perm4 ? _mm512_loadu_si512(k->tperm16 + 192) : zero,
                   .p7 = perm4 ? _mm512_loadu_si512(k->tperm16 + 224) : zero,
                   .sk0 = zero,
                   .sk1 = zero,
                   .sk2 = zero,
                   .force = k->force_ties ? ~0u : 0,
                   .all = opaque_ones(),
                   .right = opaque_ones64() >> 1,
                   .changed = 0,
                   .sfield = 0,
                   .sflip = 0};
  const ptrdiff_t st1 = dim > 1 ? g->stride[1] : 0, st2 = dim > 2 ? g->stride[2] : 0;
  /* The rows this kernel reads first are those of the next row (2D) or the next plane (3D), which the hardware
   * prefetchers bring too late: each step asks for its 64 bytes of the row two rows ahead (2D: the new
   * neighbour row of the row after next) or eight rows ahead in the next plane (3D), 10-15 % less time. */
  const ptrdiff_t ahead = dim == 2 ? 2 * st1 : dim == 3 ? st2 + 8 * st1 : 0;
  /* sum over changed sites of s_i k_d per byte lane: |.| <= 2 per step, at most 32 steps before they are added
   * (sk + 128 in unsigned bytes, |sk| <= 64, summed by 8 less the 8 * 128 bias: sad) to the 64-bit lanes of v.
   * iso: s_i sum_d k_d in sk0 alone, |.| <= 2 dim, so at most 127 / (2 dim) steps (21 in 3D) */
  const int sk_steps = iso ? 127 / (2 * dim) : 32;
  __m512i v0 = zero, v1 = zero, v2 = zero;
  const __m512i bias = _mm512_set1_epi8((char)0x80), bias8 = _mm512_set1_epi64(8 * 128);
#define SK_FLUSH(sk, v)                                                                                                \
  do {                                                                                                                 \
    v = _mm512_add_epi64(v, _mm512_sub_epi64(_mm512_sad_epu8(_mm512_xor_si512(sk, bias), zero), bias8));               \
    sk = zero;                                                                                                         \
  } while (0)
  const int field = k->field_q != 0;
  /* Sites whose hi equals the high half of T - 1 (probability 2^-16) are left alone here and decided after the
   * loop by the scalar kernel, which draws lo: no call in the loop, so nothing is spilled around one.  A colour's
   * sites do not see each other, so deciding them later changes nothing (nor does taking two rows at once). */
  int ties = 0, tie_m[BATCH_STEPS], tie_seg[BATCH_STEPS], since = 0;
  uint32_t tie_mask[BATCH_STEPS];
  for (int j = 0; j < count; j++) {
    const size_t i0 = seg[j].i0;
    const int n = seg[j].n;
    const uint16_t *const r = seg[j].r;
    const int steps = (n + 31) / 32;
    if (since + steps > sk_steps) {
      SK_FLUSH(c.sk0, v0);
      if (dim > 1 && !iso) SK_FLUSH(c.sk1, v1);
      if (dim > 2 && !iso) SK_FLUSH(c.sk2, v2);
      since = 0;
    }
    since += steps;
    if (n <= 8 && j + 3 < count && seg[j + 1].n <= 8 && seg[j + 2].n <= 8 && seg[j + 3].n <= 8) {
      /* four segments of at most 8 sites (rows of up to 16 sites: 3D 16^3 and smaller) in one step, one in each
       * 128-bit quarter */
      size_t iq[4];
      int8_t *pq[4];
      __mmask16 bq[4];
      uint32_t valid = 0;
      __m512i hi = zero;
      for (int q = 0; q < 4; q++) {
        const int nq = seg[j + q].n;
        iq[q] = seg[j + q].i0;
        pq[q] = spins + iq[q];
        bq[q] = (__mmask16)((1u << 2 * nq) - 1);
        valid |= ((1u << nq) - 1) << 8 * q;
        if (dim > 1) _mm_prefetch((const char *)((uintptr_t)pq[q] + (uintptr_t)ahead), _MM_HINT_T0); /* no access */
      }
      hi = _mm512_castsi128_si512(_mm_maskz_loadu_epi16((__mmask8)valid, seg[j].r));
      hi = _mm512_inserti32x4(hi, _mm_maskz_loadu_epi16((__mmask8)(valid >> 8), seg[j + 1].r), 1);
      hi = _mm512_inserti32x4(hi, _mm_maskz_loadu_epi16((__mmask8)(valid >> 16), seg[j + 2].r), 2);
      hi = _mm512_inserti32x4(hi, _mm_maskz_loadu_epi16((__mmask8)(valid >> 24), seg[j + 3].r), 3);
      const __m512i s = load_quad(pq, 0, bq);
      __m512i left = load_quad(pq, -1, bq), right = load_quad(pq, 1, bq);
      if (pm) {
        left = _mm512_mask_sub_epi8(left, bits_quad(neg[0], iq, -1), zero, left);
        right = _mm512_mask_sub_epi8(right, bits_quad(neg[0], iq, 0), zero, right);
      }
      const __m512i k1 = dim > 1 ? neighbours_quad(pq, iq, st1, neg[1], bq) : zero,
                    k2 = dim > 2 ? neighbours_quad(pq, iq, st2, neg[2], bq) : zero;
      uint32_t tie;
      const uint64_t flip =
          table_step(&c, s, _mm512_add_epi8(left, right), k1, k2, hi, valid, &tie, dim, heatbath, lookup, field);
      for (int q = 0; __builtin_expect(tie != 0, 0) && q < 4; q++)
        if ((tie >> 8 * q) & 0xffu) {
          tie_seg[ties] = j + q;
          tie_m[ties] = 0;
          tie_mask[ties++] = (tie >> 8 * q) & 0xffu;
        }
      const __m512i flipped = _mm512_sub_epi8(zero, s);
      _mm_mask_storeu_epi8(pq[0], (__mmask16)flip, _mm512_castsi512_si128(flipped));
      _mm_mask_storeu_epi8(pq[1], (__mmask16)(flip >> 16), _mm512_extracti32x4_epi32(flipped, 1));
      _mm_mask_storeu_epi8(pq[2], (__mmask16)(flip >> 32), _mm512_extracti32x4_epi32(flipped, 2));
      _mm_mask_storeu_epi8(pq[3], (__mmask16)(flip >> 48), _mm512_extracti32x4_epi32(flipped, 3));
      j += 3;
      continue;
    }
    if (n <= 16 && j + 1 < count && seg[j + 1].n <= 16) { /* two short segments in one step */
      const size_t ib = seg[j + 1].i0;
      const int nb = seg[j + 1].n;
      const __mmask32 va = (1u << n) - 1, vb = (1u << nb) - 1;
      const __mmask32 ba = (__mmask32)((UINT64_C(1) << 2 * n) - 1), bb = (__mmask32)((UINT64_C(1) << 2 * nb) - 1);
      int8_t *pa = spins + i0, *pb = spins + ib;
      if (dim > 1) {
        _mm_prefetch((const char *)((uintptr_t)pa + (uintptr_t)ahead), _MM_HINT_T0); /* no access */
        _mm_prefetch((const char *)((uintptr_t)pb + (uintptr_t)ahead), _MM_HINT_T0);
      }
      const __m512i s = load_pair(pa, pb, ba, bb);
      __m512i left = load_pair(pa - 1, pb - 1, ba, bb), right = load_pair(pa + 1, pb + 1, ba, bb);
      if (pm) {
        left = _mm512_mask_sub_epi8(left, bits_pair(neg[0], i0 - 1, ib - 1), zero, left);
        right = _mm512_mask_sub_epi8(right, bits_pair(neg[0], i0, ib), zero, right);
      }
      const __m512i k1 = dim > 1 ? neighbours_pair(pa, pb, i0, ib, st1, neg[1], ba, bb) : zero,
                    k2 = dim > 2 ? neighbours_pair(pa, pb, i0, ib, st2, neg[2], ba, bb) : zero;
      const __m512i hi = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_maskz_loadu_epi16((__mmask16)va, r)),
                                            _mm256_maskz_loadu_epi16((__mmask16)vb, seg[j + 1].r), 1);
      uint32_t tie;
      const uint64_t flip = table_step(&c, s, _mm512_add_epi8(left, right), k1, k2, hi, va | vb << 16, &tie, dim,
                                       heatbath, lookup, field);
      if (__builtin_expect(tie != 0, 0)) {
        if (tie & 0xffffu) {
          tie_seg[ties] = j;
          tie_m[ties] = 0;
          tie_mask[ties++] = tie & 0xffffu;
        }
        if (tie >> 16) {
          tie_seg[ties] = j + 1;
          tie_m[ties] = 0;
          tie_mask[ties++] = tie >> 16;
        }
      }
      const __m512i flipped = _mm512_sub_epi8(zero, s);
      _mm256_mask_storeu_epi8(pa, (__mmask32)flip, _mm512_castsi512_si256(flipped));
      _mm256_mask_storeu_epi8(pb, (__mmask32)(flip >> 32), _mm512_extracti64x4_epi64(flipped, 1));
      j++;
      continue;
    }
    /* the previous step's spins: byte 63 is the left neighbour of the first site */
    __m512i before = _mm512_set1_epi8(spins[i0 - 1]);
    /* the whole steps, then the last part-step outside the loop (constant masks in the loop: long_step) */
    int m = 0;
    for (; n - m >= 32; m += 32) {
      if (iso && m && m % (32 * sk_steps) == 0) SK_FLUSH(c.sk0, v0); /* a segment of more steps (flushed before it) */
      const uint32_t tie = long_step(&c, spins, i0 + 2 * (size_t)m, r + m, &before, neg, st1, st2, ahead, ~UINT64_C(0),
                                     c.all, dim, pm, heatbath, lookup, field, 1);
      if (__builtin_expect(tie != 0, 0)) {
        tie_seg[ties] = j;
        tie_m[ties] = m;
        tie_mask[ties++] = tie;
      }
    }
    if (m < n) {
      if (iso && m && m % (32 * sk_steps) == 0) SK_FLUSH(c.sk0, v0);
      const uint32_t tie =
          long_step(&c, spins, i0 + 2 * (size_t)m, r + m, &before, neg, st1, st2, ahead,
                    (UINT64_C(1) << (2 * (n - m))) - 1, (1u << (n - m)) - 1, dim, pm, heatbath, lookup, field, 0);
      if (__builtin_expect(tie != 0, 0)) {
        tie_seg[ties] = j;
        tie_m[ties] = m;
        tie_mask[ties++] = tie;
      }
    }
  }
  SK_FLUSH(c.sk0, v0);
  if (dim > 1 && !iso) SK_FLUSH(c.sk1, v1);
  if (dim > 2 && !iso) SK_FLUSH(c.sk2, v2);
#undef SK_FLUSH
  for (int j = 0; j < ties; j++) {
    const segment *sg = &seg[tie_seg[j]];
    t->site = sg->site;
    for (uint32_t b = tie_mask[j]; b; b &= b - 1) {
      const int m = tie_m[j] + __builtin_ctz(b);
      table_scalar_from(k, spins, sg->i0, m, m + 1, sg->r, t);
    }
  }
  t->changed += c.changed;
  t->sfield += c.sfield;
  t->sflip += c.sflip;
  /* onto t->skv: no horizontal sum per call (rows of 3D lattices are only a few steps long) */
  const __m512i v[ISING_MAX_DIM] = {v0, v1, v2};
  for (int d = 0; d < dim; d++) _mm512_storeu_si512(t->skv[d], _mm512_add_epi64(_mm512_loadu_si512(t->skv[d]), v[d]));
}

/* One instantiation per (dim, pm, heat bath[, lookup]): no branches or spills in the loop. */
#define TABLE_VARIANTS(body)                                                                                           \
  switch ((k->g->dim - 1) * 4 + (k->kernel == ISING_KERNEL_TABLE_PM) * 2 + (k->alg == ISING_ALGORITHM_HEATBATH)) {     \
  case 0: body(1, 0, 0); break;                                                                                        \
  case 1: body(1, 0, 1); break;                                                                                        \
  case 2: body(1, 1, 0); break;                                                                                        \
  case 3: body(1, 1, 1); break;                                                                                        \
  case 4: body(2, 0, 0); break;                                                                                        \
  case 5: body(2, 0, 1); break;                                                                                        \
  case 6: body(2, 1, 0); break;                                                                                        \
  case 7: body(2, 1, 1); break;                                                                                        \
  case 8: body(3, 0, 0); break;                                                                                        \
  case 9: body(3, 0, 1); break;                                                                                        \
  case 10: body(3, 1, 0); break;                                                                                       \
  default: body(3, 1, 1); break;                                                                                       \
  }

/* ISO in 2D and 3D: its own instantiations. */
ISING_TARGET_AVX512 static void table_avx512_iso(const ising_sweeper *k, int8_t *spins, const segment *seg, int count,
                                                 tally *t, int dim, int pm, int hb)
{
  if (!hb && k->iso_sk) {
    if (dim == 2 && !pm)
      table_avx512_body(k, spins, seg, count, t, 2, 0, 0, LOOKUP_ISO_SK);
    else if (dim == 2)
      table_avx512_body(k, spins, seg, count, t, 2, 1, 0, LOOKUP_ISO_SK);
    else if (!pm)
      table_avx512_body(k, spins, seg, count, t, 3, 0, 0, LOOKUP_ISO_SK);
    else
      table_avx512_body(k, spins, seg, count, t, 3, 1, 0, LOOKUP_ISO_SK);
    return;
  }
  switch ((dim - 2) * 4 + pm * 2 + hb) {
  case 0: table_avx512_body(k, spins, seg, count, t, 2, 0, 0, ISING_LOOKUP_ISO); break;
  case 1: table_avx512_body(k, spins, seg, count, t, 2, 0, 1, ISING_LOOKUP_ISO); break;
  case 2: table_avx512_body(k, spins, seg, count, t, 2, 1, 0, ISING_LOOKUP_ISO); break;
  case 3: table_avx512_body(k, spins, seg, count, t, 2, 1, 1, ISING_LOOKUP_ISO); break;
  case 4: table_avx512_body(k, spins, seg, count, t, 3, 0, 0, ISING_LOOKUP_ISO); break;
  case 5: table_avx512_body(k, spins, seg, count, t, 3, 0, 1, ISING_LOOKUP_ISO); break;
  case 6: table_avx512_body(k, spins, seg, count, t, 3, 1, 0, ISING_LOOKUP_ISO); break;
  default: table_avx512_body(k, spins, seg, count, t, 3, 1, 1, ISING_LOOKUP_ISO); break;
  }
}

ISING_TARGET_AVX512 static void table_avx512_perm4(const ising_sweeper *k, int8_t *spins, const segment *seg, int count,
                                                   tally *t, int pm, int hb)
{
  if (!pm && !hb)
    table_avx512_body(k, spins, seg, count, t, 3, 0, 0, ISING_LOOKUP_PERM4);
  else if (!pm)
    table_avx512_body(k, spins, seg, count, t, 3, 0, 1, ISING_LOOKUP_PERM4);
  else if (!hb)
    table_avx512_body(k, spins, seg, count, t, 3, 1, 0, ISING_LOOKUP_PERM4);
  else
    table_avx512_body(k, spins, seg, count, t, 3, 1, 1, ISING_LOOKUP_PERM4);
}

#define TABLE_AVX512_CASE(dim, pm, hb)                                                                                 \
  if (dim > 1 && k->lookup == ISING_LOOKUP_ISO)                                                                        \
    table_avx512_iso(k, spins, seg, count, t, dim, pm, hb);                                                            \
  else if (dim == 3 && k->lookup == ISING_LOOKUP_PERM4)                                                                \
    table_avx512_perm4(k, spins, seg, count, t, pm, hb);                                                               \
  else                                                                                                                 \
    table_avx512_body(k, spins, seg, count, t, dim, pm, hb, dim < 3 ? ISING_LOOKUP_PERM5 : ISING_LOOKUP_PERM3)

ISING_TARGET_AVX512 static void table_avx512_segments(const ising_sweeper *k, int8_t *spins, const segment *seg,
                                                      int count, tally *t)
{
  TABLE_VARIANTS(TABLE_AVX512_CASE)
}

static void table_avx512(const ising_sweeper *k, int8_t *spins, size_t i0, int n, const uint16_t *r, tally *t)
{
  one_segment(table_avx512_segments, k, spins, i0, n, r, t);
}

/* e^x for |x| <= 40 to a relative error below 1e-8: x = k ln2 + f with
 * |f| <= ln2/2 (Cody-Waite), Taylor polynomial of degree 7 in f (remainder
 * < 7.3e-9) evaluated by Estrin's scheme (short dependency chains), times
 * 2^k.  The kernel only trusts it outside a band of relative half-width
 * k->band = 2^-20 (100 times the error). */
AVX512_INLINE __m512d exp_512(__m512d x)
{
  const __m512d kf = _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(1.4426950408889634074)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512d f = _mm512_fnmadd_pd(kf, _mm512_set1_pd(6.93147180369123816490e-01), x);
  f = _mm512_fnmadd_pd(kf, _mm512_set1_pd(1.90821492927058770002e-10), f);
  const __m512d f2 = _mm512_mul_pd(f, f), f4 = _mm512_mul_pd(f2, f2);
  const __m512d q0 = _mm512_fmadd_pd(f, _mm512_set1_pd(1.0), _mm512_set1_pd(1.0)),
                q1 = _mm512_fmadd_pd(f, _mm512_set1_pd(1.0 / 6), _mm512_set1_pd(1.0 / 2)),
                q2 = _mm512_fmadd_pd(f, _mm512_set1_pd(1.0 / 120), _mm512_set1_pd(1.0 / 24)),
                q3 = _mm512_fmadd_pd(f, _mm512_set1_pd(1.0 / 5040), _mm512_set1_pd(1.0 / 720));
  const __m512d r0 = _mm512_fmadd_pd(q1, f2, q0), r1 = _mm512_fmadd_pd(q3, f2, q2);
  return _mm512_scalef_pd(_mm512_fmadd_pd(r1, f4, r0), kf);
}

/* Neighbour sums of one axis at the even bytes of 16, as doubles. */
AVX512_INLINE __m512d sum_pd(__m128i a, __m128i b)
{
  return _mm512_cvtepi32_pd(_mm256_cvtepi8_epi32(_mm_cvtepi16_epi8(_mm_add_epi8(a, b))));
}

/* The spins of the even bytes of 16 as the sign bits of 8 64-bit lanes (bit 63 set where the spin is negative;
 * a zero spin, an open halo, counts as positive: it sits beside a zero bond). */
AVX512_INLINE __m512i spin_signs(__m128i v)
{
  return _mm512_cvtepi16_epi64(_mm_slli_epi16(v, 8));
}

/* x s for 8 lanes: x with its sign bit flipped where the spin is negative (sgn from spin_signs), exactly -x. */
AVX512_INLINE __m512d times_spin(__m512d x, __m512i sgn)
{
  return _mm512_castsi512_pd(
      _mm512_ternarylogic_epi64(_mm512_castpd_si512(x), sgn, _mm512_set1_epi64(INT64_MIN), 0x78)); /* x ^ (sgn & min) */
}

/* 16 bytes of the spins: positions a, a + 1, ..., a + 15 (one segment), or a .. a + 7 and b .. b + 7 (two
 * segments of at most 4 sites: pair), masked by m (bits 0-7 the first half, 8-15 the second); full (a whole
 * step of one segment): unmasked. */
AVX512_INLINE __m128i load16(const int8_t *a, const int8_t *b, __mmask16 m, const int pair, const int full)
{
  if (full) return _mm_loadu_si128((const __m128i *)a);
  if (!pair) return _mm_maskz_loadu_epi8(m, a);
  return _mm_unpacklo_epi64(_mm_maskz_loadu_epi8((__mmask16)(m & 0xff), a),
                            _mm_maskz_loadu_epi8((__mmask16)(m >> 8), b));
}

/* The bonds of the step's 8 sites from arr: positions ia - off, ia - off + 2, ... (odd: + 1) for the first 4 or 8
 * lanes, jb - off, ... for the last 4 (jb = ia + 8 for one segment), masked by the step's byte mask; full (a
 * whole step of one segment): unmasked.  On the AMD EPYC VM masked loads of bonds not in cache were slower than
 * plain ones (the energy pass: 2.0 against 0.64 ns per site; docs/performance.md, "Prefetching the bonds"). */
AVX512_INLINE __m512d bonds_pd(const double *arr, size_t ia, size_t jb, size_t off, __mmask16 bytes, int odd,
                               const int full)
{
  const __m512d lo = full ? _mm512_loadu_pd(arr + ia - off) : _mm512_maskz_loadu_pd((__mmask8)bytes, arr + ia - off),
                hi = full ? _mm512_loadu_pd(arr + jb - off)
                          : _mm512_maskz_loadu_pd((__mmask8)(bytes >> 8), arr + jb - off);
  return _mm512_permutex2var_pd(
      lo, odd ? _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1) : _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0), hi);
}

/* The terms of h^loc of the axis of stride st (y or z): J s of the neighbours at -st and +st, with the uniform
 * coupling jc (ub) or the bonds jp. */
AVX512_INLINE __m512d axis_pd(const int8_t *p, const int8_t *q, size_t ia, size_t jb, __mmask16 bytes, ptrdiff_t st,
                              const double *jp, __m512d jc, const int ub, const int pair, const int full)
{
  const __m128i a = load16(p - st, q - st, bytes, pair, full), b = load16(p + st, q + st, bytes, pair, full);
  if (ub) return _mm512_mul_pd(jc, sum_pd(a, b));
  return _mm512_add_pd(times_spin(bonds_pd(jp, ia, jb, (size_t)st, bytes, 0, full), spin_signs(a)),
                       times_spin(bonds_pd(jp, ia, jb, 0, bytes, 0, full), spin_signs(b)));
}

/* The members that general_state (AVX-512) and general2_state (AVX2) share, as designated initialisers: the bond
 * and field arrays (NULL where uniform), the strides, the bonds two rows ahead, and the constants broadcast by set1
 * (_mm512_set1_pd or _mm256_set1_pd); lo_unit and hi_unit are p 2^32 in units of 2^16 (that of hi), shrunk or
 * grown by the band. */
#define GENERAL_STATE_INIT(k, dim, ub, uf, set1)                                                                       \
  .jp0 = (ub) ? NULL : (k)->c->Jp[0], .jp1 = (ub) || (dim) < 2 ? NULL : (k)->c->Jp[1],                                 \
  .jp2 = (ub) || (dim) < 3 ? NULL : (k)->c->Jp[2], .hp = (uf) ? NULL : (k)->c->h,                                      \
  .st1 = (dim) > 1 ? (k)->g->stride[1] : 0, .st2 = (dim) > 2 ? (k)->g->stride[2] : 0,                                  \
  .bonds_ahead = (dim) > 1 ? 2 * (size_t)(k)->g->stride[1] : 0, .jc0 = set1((k)->c->J[0]),                             \
  .jc1 = set1((dim) > 1 ? (k)->c->J[1] : 0.0), .jc2 = set1((dim) > 2 ? (k)->c->J[2] : 0.0),                            \
  .fieldc = set1((k)->c->field), .zero = set1(0.0), .one = set1(1.0), .minus40 = set1(-40.0), .plus40 = set1(40.0),    \
  .factor = set1(-2.0 * (k)->beta), .scale2 = set1(2.0 * ISING_QUANTUM_SCALE),                                         \
  .lo_unit = set1(65536.0 * (1.0 - (k)->band)), .hi_unit = set1(65536.0 * (1.0 + (k)->band))

/* The constants and tallies of general_avx512_body's steps (in registers: a store to the int8_t spins may alias
 * anything, so the compiler would otherwise reload them after every step). */
typedef struct {
  const double *jp0, *jp1, *jp2, *hp;
  __m512d jc0, jc1, jc2, fieldc, zero, scale2, lo_unit, hi_unit, minus40, plus40, one, factor;
  ptrdiff_t st1, st2, ahead;
  size_t bonds_ahead; /* two rows: 2 st1 */
  uint32_t right;     /* 0xffff, not a constant to the compiler (opaque_ones): rb's mask in whole steps */
  __m512i energy;
  int64_t changed, sflip;
} general_state;

/* One step of 8 lanes: positions ia, ia + 2, ..., ia + 14 of segment sa (its sites ma, ma + 1, ...), or with
 * pair the first 4 lanes from ia (segment sa, sites 0..3) and the last 4 from ib (segment sb, sites 0..3).  bytes:
 * the 16-bit byte mask (load16); valid: the lanes that hold a site.  *before holds the previous step's spins
 * (byte 15 the left neighbour of the first site; not used with pair). */
AVX512_INLINE void general_step(const ising_sweeper *k, general_state *c, int8_t *spins, size_t ia, size_t ib,
                                const segment *sa, const segment *sb, int ma, __mmask16 bytes, __mmask8 valid,
                                __m128i *before, tally *t, const int dim, const int heatbath, const int ub,
                                const int uf, const int pair, const int full)
{
  int8_t *p = spins + ia, *q = pair ? spins + ib : p + 8;
  const uint16_t *ra = sa->r + ma;
  const size_t jb = pair ? ib : ia + 8; /* the double arrays' second half */
  const __m128i s = load16(p, q, bytes, pair, full);
  if (dim > 1) _mm_prefetch((const char *)((uintptr_t)p + (uintptr_t)c->ahead), _MM_HINT_T0); /* as table_avx512 */
  if (dim > 1 && !pair) { /* the bonds and fields of the row after next: the hardware prefetchers bring them late */
    if (!ub) {
      ising_prefetch_doubles(c->jp0, ia + c->bonds_ahead, 2);
      ising_prefetch_doubles(c->jp1, ia + c->bonds_ahead, 2);
      if (dim > 2) ising_prefetch_doubles(c->jp2, ia + c->bonds_ahead, 2);
    }
    if (!uf) ising_prefetch_doubles(c->hp, ia + c->bonds_ahead, 2);
  }
  /* left neighbours from the registers (a load at p - 1 would wait for the previous store); two segments load
   * theirs (rows apart, so no store of the step before overlaps them) */
  /* rb of one segment without its last byte (p + 16 of a whole step): no site needs it, and at the end of a 1D
   * chain it lies past the array */
  const __m128i lb = pair ? load16(p - 1, q - 1, bytes, 1, 0) : _mm_alignr_epi8(s, *before, 15),
                rb = pair ? load16(p + 1, q + 1, bytes, 1, 0)
                          : _mm_maskz_loadu_epi8((__mmask16)((full ? c->right : bytes) >> 1), p + 1);
  if (!pair) *before = s;
  __m512d hloc;
  if (ub)
    hloc = _mm512_mul_pd(c->jc0, sum_pd(lb, rb));
  else /* left and right bonds interleaved in Jp[0][i - 1 ...] */
    hloc = _mm512_add_pd(times_spin(bonds_pd(c->jp0, ia, jb, 1, bytes, 0, full), spin_signs(lb)),
                         times_spin(bonds_pd(c->jp0, ia, jb, 1, bytes, 1, full), spin_signs(rb)));
  if (dim > 1) hloc = _mm512_add_pd(hloc, axis_pd(p, q, ia, jb, bytes, c->st1, c->jp1, c->jc1, ub, pair, full));
  if (dim > 2) hloc = _mm512_add_pd(hloc, axis_pd(p, q, ia, jb, bytes, c->st2, c->jp2, c->jc2, ub, pair, full));
  hloc = _mm512_add_pd(hloc, uf ? c->fieldc : bonds_pd(c->hp, ia, jb, 0, bytes, 0, full));
  const __m512i ss = spin_signs(s);
  const __mmask8 down = _mm512_movepi64_mask(ss), up = (__mmask8)(~down & valid);
  /* r lies in [2^16 hi, 2^16 (hi + 1)): hd = hi as doubles; the comparisons below are in units of 2^16 */
  const __m128i hw = pair   ? _mm_unpacklo_epi64(_mm_maskz_loadu_epi16((__mmask8)(valid & 0xf), ra),
                                                 _mm_maskz_loadu_epi16((__mmask8)(valid >> 4), sb->r))
                     : full ? _mm_loadu_si128((const __m128i *)ra)
                            : _mm_maskz_loadu_epi16(valid, ra);
  const __m512d hd = _mm512_cvtepi32_pd(_mm256_cvtepu16_epi32(hw));
  __mmask8 acc, unsure;
  if (heatbath) { /* p = 1 / (1 + e^x), x = -2 beta h^loc: r < p 2^32 iff r (1 + e^x) < 2^32 */
    const __m512d x = _mm512_mul_pd(c->factor, hloc);
    const __m512d e1 = _mm512_add_pd(c->one, exp_512(_mm512_min_pd(_mm512_max_pd(x, c->minus40), c->plus40)));
    /* x < -40: p 2^32 rounds up to 2^32, accept; x > 40 (e1 > 2^57): p 2^32 rounds up to 1, accept iff r = 0,
     * which neither comparison settles where hi = 0 (below is false, above false iff hi = 0) */
    const __mmask8 low = _mm512_cmp_pd_mask(x, c->minus40, _CMP_LT_OQ),
                   below = _mm512_cmp_pd_mask(_mm512_fmadd_pd(hd, e1, e1), c->lo_unit, _CMP_LT_OQ),
                   above = _mm512_cmp_pd_mask(_mm512_mul_pd(hd, e1), c->hi_unit, _CMP_GE_OQ);
    acc = low | below;
    unsure = (__mmask8) ~(low | below | above);
  } else { /* p = e^x, x = -2 beta s h^loc (the sign of s flips the product exactly) */
    const __m512d x = times_spin(_mm512_mul_pd(c->factor, hloc), ss);
    const __m512d e = exp_512(_mm512_min_pd(_mm512_max_pd(x, c->minus40), c->zero));
    /* x >= 0: accept (e = 1 exactly, but hi near 2^16 would not be below); x < -40: p 2^32 rounds up to 1, accept
     * iff r = 0: below is false there, above false iff hi = 0 */
    const __mmask8 sure = _mm512_cmp_pd_mask(x, c->zero, _CMP_GE_OQ),
                   below = _mm512_cmp_pd_mask(hd, _mm512_fmsub_pd(e, c->lo_unit, c->one), _CMP_LT_OQ),
                   above = _mm512_cmp_pd_mask(hd, _mm512_mul_pd(e, c->hi_unit), _CMP_GE_OQ);
    acc = sure | below;
    unsure = (__mmask8) ~(sure | below | above);
  }
  acc &= valid;
  unsure &= valid;
  if (__builtin_expect(unsure != 0, 0)) {
    double hv[8];
    _mm512_storeu_pd(hv, hloc);
    for (int b = 0; b < 8; b++)
      if (unsure >> b & 1) {
        const int second = pair && b >= 4;
        const segment *sg = second ? sb : sa;
        t->site = sg->site;
        acc = (__mmask8)((acc & ~(1u << b)) | (unsigned)accept_exact(k, t, sg->r,
                                                                     second ? b - 4
                                                                     : pair ? b
                                                                            : ma + b,
                                                                     down >> b & 1 ? -1 : 1, hv[b])
                                                  << b);
      }
  }
  const __mmask8 flip = heatbath ? (__mmask8)((acc & down) | (~acc & up)) : acc;
  const __m128i flipped = _mm_sub_epi8(_mm_setzero_si128(), s);
  const uint32_t fb = _pdep_u32(flip, 0x5555u);
  if (pair) {
    _mm_mask_storeu_epi8(p, (__mmask16)(fb & 0xff), flipped);
    _mm_mask_storeu_epi8(q, (__mmask16)(fb >> 8), _mm_srli_si128(flipped, 8));
  } else
    _mm_mask_storeu_epi8(p, (__mmask16)fb, flipped);
  c->changed += _mm_popcnt_u32(flip);
  c->sflip += (int64_t)_mm_popcnt_u32(flip & up) - (int64_t)_mm_popcnt_u32(flip & down);
  /* 2 s h^loc in units of 2^-32, exact: below 2^50 in size, at most 512 per lane per call (BATCH_STEPS * 32 sites
   * in 8 lanes), so the 64-bit lanes cannot overflow */
  c->energy = _mm512_mask_add_epi64(c->energy, flip, c->energy,
                                    _mm512_cvtpd_epi64(times_spin(_mm512_mul_pd(hloc, c->scale2), ss)));
}

/* 8 sites per step, h^loc as doubles (exact sums); the random word r lies in
 * [2^16 hi, 2^16 hi + 2^16 - 1], and a site whose decision that interval
 * and the band around p 2^32 do not settle goes to accept_exact (draws lo,
 * exact threshold).  The spins' signs enter as sign bits (spin_signs,
 * times_spin): a shift, a widening move and a ternary logic op per
 * neighbour, no mask registers.  Two segments of at most 4 sites each
 * (rows of 3D 8^3 and smaller) share a step, one in each half.  dim,
 * heatbath, ub (uniform bonds) and uf (uniform field) are constants in each
 * instantiation (general_avx512_segments). */
AVX512_INLINE void general_avx512_body(const ising_sweeper *k, int8_t *spins, const segment *seg, int count, tally *t,
                                       const int dim, const int heatbath, const int ub, const int uf)
{
  const ising_geometry *g = k->g;
  general_state c = {GENERAL_STATE_INIT(k, dim, ub, uf, _mm512_set1_pd),
                     .right = opaque_ones() & 0xffffu,
                     .ahead = dim == 2   ? 2 * g->stride[1]
                              : dim == 3 ? g->stride[2] + 8 * g->stride[1]
                                         : 0,
                     .energy = _mm512_setzero_si512(),
                     .changed = 0,
                     .sflip = 0};
  for (int j = 0; j < count; j++) {
    const size_t i0 = seg[j].i0;
    const int n = seg[j].n;
    if (n <= 4 && j + 1 < count && seg[j + 1].n <= 4) { /* two short segments in one step */
      const int nb = seg[j + 1].n;
      const __mmask16 bytes = (__mmask16)(((1u << 2 * n) - 1) | ((1u << 2 * nb) - 1) << 8);
      const __mmask8 valid = (__mmask8)(((1u << n) - 1) | ((1u << nb) - 1) << 4);
      general_step(k, &c, spins, i0, seg[j + 1].i0, &seg[j], &seg[j + 1], 0, bytes, valid, NULL, t, dim, heatbath, ub,
                   uf, 1, 0);
      j++;
      continue;
    }
    __m128i before = _mm_set1_epi8(spins[i0 - 1]); /* byte 15: the left neighbour of the first site */
    int m = 0;
    for (; n - m >= 8; m += 8) /* whole steps, unmasked loads */
      general_step(k, &c, spins, i0 + 2 * (size_t)m, 0, &seg[j], NULL, m, 0xffff, 0xff, &before, t, dim, heatbath, ub,
                   uf, 0, 1);
    if (m < n)
      general_step(k, &c, spins, i0 + 2 * (size_t)m, 0, &seg[j], NULL, m, (__mmask16)((1u << (2 * (n - m))) - 1),
                   (__mmask8)((1u << (n - m)) - 1), &before, t, dim, heatbath, ub, uf, 0, 0);
  }
  t->changed += c.changed;
  t->sflip += c.sflip;
  t->denergy += _mm512_reduce_add_epi64(c.energy);
}

/* One instantiation of a general kernel body (general_avx512_body, general_avx2_body) per (dim, heat bath, uniform
 * bonds, uniform field): no branches on them in the loop. */
#define GENERAL_CASE(body, ub, uf)                                                                                     \
  switch ((k->g->dim - 1) * 2 + (k->alg == ISING_ALGORITHM_HEATBATH)) {                                                \
  case 0: body(k, spins, seg, count, t, 1, 0, ub, uf); break;                                                          \
  case 1: body(k, spins, seg, count, t, 1, 1, ub, uf); break;                                                          \
  case 2: body(k, spins, seg, count, t, 2, 0, ub, uf); break;                                                          \
  case 3: body(k, spins, seg, count, t, 2, 1, ub, uf); break;                                                          \
  case 4: body(k, spins, seg, count, t, 3, 0, ub, uf); break;                                                          \
  default: body(k, spins, seg, count, t, 3, 1, ub, uf); break;                                                         \
  }
#define GENERAL_SEGMENTS(body)                                                                                         \
  const int ub = k->c->uniform_bonds, uf = k->c->uniform_field;                                                        \
  if (!ub && uf)                                                                                                       \
    GENERAL_CASE(body, 0, 1)                                                                                           \
  else if (ub && !uf)                                                                                                  \
    GENERAL_CASE(body, 1, 0)                                                                                           \
  else if (!ub)                                                                                                        \
    GENERAL_CASE(body, 0, 0)                                                                                           \
  else                                                                                                                 \
    GENERAL_CASE(body, 1, 1)

ISING_TARGET_AVX512 static void general_avx512_segments(const ising_sweeper *k, int8_t *spins, const segment *seg,
                                                        int count, tally *t)
{
  GENERAL_SEGMENTS(general_avx512_body)
}

static void general_avx512(const ising_sweeper *k, int8_t *spins, size_t i0, int n, const uint16_t *r, tally *t)
{
  one_segment(general_avx512_segments, k, spins, i0, n, r, t);
}

/* ---- AVX2 ---- */

#define AVX2_INLINE ISING_TARGET_AVX2 static inline __attribute__((always_inline))

/* The first len bytes of b (1 <= len <= 32) to p, nothing past them in either: two overlapping copies of the
 * largest power of two <= len (AVX2 has no byte-masked store). */
AVX2_INLINE void copy_prefix(int8_t *p, const int8_t *b, int len)
{
  if (len >= 16) {
    memcpy(p, b, 16);
    memcpy(p + len - 16, b + len - 16, 16);
  } else if (len >= 8) {
    memcpy(p, b, 8);
    memcpy(p + len - 8, b + len - 8, 8);
  } else if (len >= 4) {
    memcpy(p, b, 4);
    memcpy(p + len - 4, b + len - 4, 4);
  } else if (len >= 2) {
    memcpy(p, b, 2);
    memcpy(p + len - 2, b + len - 2, 2);
  } else
    p[0] = b[0];
}

AVX2_INLINE void store_prefix_256(int8_t *p, __m256i v, int len)
{
  _Alignas(32) int8_t b[32];
  _mm256_store_si256((__m256i *)b, v);
  copy_prefix(p, b, len);
}

/* 32 bytes from a, or with pair 16 from a (low half) and 16 from b (high half). */
AVX2_INLINE __m256i load_256(const int8_t *a, const int8_t *b, const int pair)
{
  return pair ? _mm256_loadu2_m128i((const __m128i *)b, (const __m128i *)a) : _mm256_loadu_si256((const __m256i *)a);
}

/* The 32 sign bits of the ±J bonds at positions i.. (or with pair 16 from i and 16 from j). */
AVX2_INLINE uint32_t neg_bits(const uint64_t *neg, size_t i, size_t j, const int pair)
{
  return pair ? (ising_bits32(neg, i) & 0xffffu) | ising_bits32(neg, j) << 16 : ising_bits32(neg, i);
}

/* 0xff in byte j where bit j of b is set. */
AVX2_INLINE __m256i expand_bits_256(uint32_t b)
{
  const __m256i spread =
      _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i select = _mm256_set1_epi64x((long long)UINT64_C(0x8040201008040201));
  __m256i v = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32((int)b), spread), select);
  return _mm256_cmpeq_epi8(v, select);
}

AVX2_INLINE __m256i neighbours_256(const int8_t *p, const int8_t *q, ptrdiff_t st, const uint64_t *neg, size_t i,
                                   size_t j, const int pair)
{
  __m256i lo = load_256(p - st, pair ? q - st : p, pair), hi = load_256(p + st, pair ? q + st : p, pair);
  if (neg) {
    __m256i ml = expand_bits_256(neg_bits(neg, i - (size_t)st, j - (size_t)st, pair)),
            mh = expand_bits_256(neg_bits(neg, i, j, pair));
    lo = _mm256_sub_epi8(_mm256_xor_si256(lo, ml), ml);
    hi = _mm256_sub_epi8(_mm256_xor_si256(hi, mh), mh);
  }
  return _mm256_add_epi8(lo, hi);
}

/* The high halves of T - 1 of 16 sites (16-bit lanes) by byte shuffles: j (bits 0 .. 5, in each byte of the lane)
 * indexes k->tshuf[0] + base (low bytes) and k->tshuf[1] + base (high bytes), 16 entries per shuffle; bits 4 and 5
 * of j choose among the ceil(entries / 16) shuffles (at most 4: entries <= 54 - base). */
AVX2_INLINE __m256i shuffle_lookup_256(const ising_sweeper *k, __m256i jj, const int entries, const int base)
{
  const __m256i bit4 = _mm256_slli_epi16(jj, 3), bit5 = _mm256_slli_epi16(jj, 2); /* into bit 7 of each byte */
  __m256i half[2];
  for (int h = 0; h < 2; h++) {
    __m256i v[4];
    for (int q = 0; q * 16 < entries; q++)
      v[q] = _mm256_shuffle_epi8(
          _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(k->tshuf[h] + base + 16 * q))), jj);
    half[h] = entries > 16 ? _mm256_blendv_epi8(v[0], v[1], bit4) : v[0];
    if (entries > 32) half[h] = _mm256_blendv_epi8(half[h], _mm256_blendv_epi8(v[2], v[3], bit4), bit5);
  }
  return _mm256_blendv_epi8(half[0], half[1], _mm256_set1_epi16((short)0xff00));
}

/* The tallies and loop constants of table_avx2_body's steps. */
typedef struct {
  const uint64_t *neg[ISING_MAX_DIM];
  ptrdiff_t st1, st2, ahead;
  uint32_t force;
  __m256i sad[ISING_MAX_DIM];
  int64_t changed, sfield;
} table2_state;

/* One step of table_avx2_body: sites m, m + 1, ... of segment sa (at most 16; all of them with full), or with
 * pair two segments of at most 8 sites, sa's in the low 128-bit half and sb's in the high one (rows of 3D 16^3
 * and smaller, 2D 16^2).  The segments come by value: a store to the spins may alias the plan's list.  *before holds
 * the previous step's 32 bytes (single steps after the first of a segment).  Returns the sites it left undecided (equal
 * high halves: even bits, with pair sb's in bits 16-31); their spins are unchanged, for the caller to decide. */
AVX2_INLINE uint32_t table_avx2_step(const ising_sweeper *k, table2_state *c, int8_t *spins, segment sa, segment sb,
                                     int m, __m256i *before, const int dim, const int pm, const int heatbath,
                                     const int shuffle, const int pair)
{
  /* shuffle 1: k_d is -2, 0 or 2, j = sum_d (k_d / 2 + 1) 3^d + 3^dim up < 2 3^dim (k->tshuf); shuffle 2 (iso,
   * ISING_LOOKUP_ISO): j = sum_d k_d + 2 dim + (4 dim + 1) up; shuffle 3 (iso, k->iso_sk: Metropolis, no field):
   * j = s k + 2 dim < 16, one shuffle per byte, and j is the energy tally's s k + 2 dim too */
  const int npos = dim == 1 ? 3 : dim == 2 ? 9 : 27, iso = dim > 1 && shuffle >= 2, isk = iso && shuffle == 3;
  const __m256i isoffset = _mm256_set1_epi8((char)(2 * dim)), isoup = _mm256_set1_epi8((char)(4 * dim + 1)),
                low5 = _mm256_set1_epi16(0x1f);
  const __m256i w3 = _mm256_set1_epi16(3), w9 = _mm256_set1_epi16(9), low6 = _mm256_set1_epi16(0x3f);
  const __m256i soffset = _mm256_set1_epi8((char)(dim == 1   ? 2
                                                  : dim == 2 ? 8
                                                             : 26)),
                sup = _mm256_set1_epi8((char)(2 * npos));
  const __m256i zero = _mm256_setzero_si256(), two = _mm256_set1_epi8(2), c125 = _mm256_set1_epi8(125);
  const __m256i offset = _mm256_set1_epi8((char)(dim == 1 ? 2 : dim == 2 ? 12 : 62));
  const __m256i five = _mm256_set1_epi16(5), twentyfive = _mm256_set1_epi16(25);
  const __m256i pick = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1, 0, 2, 4, 6, 8, 10,
                                        12, 14, -1, -1, -1, -1, -1, -1, -1, -1);
  const uint32_t even = 0x55555555u;
  const int n = sa.n, full = !pair && n - m >= 16;
  uint32_t valid = full ? even : even & ((UINT32_C(1) << (2 * (n - m))) - 1); /* pair: m = 0, n <= 8 */
  if (pair) valid |= (even & ((UINT32_C(1) << (2 * sb.n)) - 1)) << 16;
  /* the random halves of a part-step from a zero-filled copy (the words past a segment may lie past the array),
   * copied by copy_prefix: a memcpy of a variable length would be a C library call */
  _Alignas(32) uint16_t rtail[16];
  const uint16_t *rm = sa.r + m;
  if (pair) {
    memset(rtail, 0, sizeof(rtail));
    copy_prefix((int8_t *)rtail, (const int8_t *)sa.r, 2 * n);
    copy_prefix((int8_t *)(rtail + 8), (const int8_t *)sb.r, 2 * sb.n);
    rm = rtail;
  } else if (!full) {
    memset(rtail, 0, sizeof(rtail));
    copy_prefix((int8_t *)rtail, (const int8_t *)rm, 2 * (n - m));
    rm = rtail;
  }
  const size_t i = sa.i0 + 2 * (size_t)m, j = pair ? sb.i0 : 0;
  int8_t *p = spins + i, *q = pair ? spins + j : NULL;
  __m256i s = load_256(p, q, pair), kd[ISING_MAX_DIM];
  if (dim > 1 && !pair)
    _mm_prefetch((const char *)((uintptr_t)p + (uintptr_t)c->ahead), _MM_HINT_T0); /* as table_avx512 */
  /* left neighbours from the registers (a load at p - 1 would wait for the previous store); the rows of a pair
   * load theirs (the steps before stored other rows) */
  __m256i left = !pair && m ? _mm256_alignr_epi8(s, _mm256_permute2x128_si256(*before, s, 0x21), 15)
                            : load_256(p - 1, pair ? q - 1 : NULL, pair),
          right = load_256(p + 1, pair ? q + 1 : NULL, pair);
  if (!pair) *before = s;
  if (pm) {
    __m256i ml = expand_bits_256(neg_bits(c->neg[0], i - 1, j - 1, pair)),
            mr = expand_bits_256(neg_bits(c->neg[0], i, j, pair));
    left = _mm256_sub_epi8(_mm256_xor_si256(left, ml), ml);
    right = _mm256_sub_epi8(_mm256_xor_si256(right, mr), mr);
  }
  kd[0] = _mm256_add_epi8(left, right);
  if (dim > 1) kd[1] = neighbours_256(p, q, c->st1, c->neg[1], i, j, pair);
  if (dim > 2) kd[2] = neighbours_256(p, q, c->st2, c->neg[2], i, j, pair);
  __m256i tt;
  const __m256i downv = _mm256_cmpgt_epi8(zero, s);
  if (isk) { /* j = s k + 2 dim */
    if (dim > 1) kd[0] = _mm256_add_epi8(kd[0], kd[1]);
    if (dim > 2) kd[0] = _mm256_add_epi8(kd[0], kd[2]);
    tt = _mm256_add_epi8(_mm256_sub_epi8(_mm256_xor_si256(kd[0], downv), downv), isoffset);
  } else if (iso) { /* kd[0] becomes the total sum: the tallies below take it alone */
    if (dim > 1) kd[0] = _mm256_add_epi8(kd[0], kd[1]);
    if (dim > 2) kd[0] = _mm256_add_epi8(kd[0], kd[2]);
    tt = _mm256_add_epi8(kd[0], isoffset);
  } else {
    tt = _mm256_add_epi8(kd[0], shuffle ? soffset : offset);
    if (dim > 1) tt = _mm256_add_epi8(tt, _mm256_mullo_epi16(kd[1], shuffle ? w3 : five));
    if (dim > 2) tt = _mm256_add_epi8(tt, _mm256_mullo_epi16(kd[2], shuffle ? w9 : twentyfive));
  }
  const __m256i upv = _mm256_cmpgt_epi8(s, zero);
  if (!heatbath && !isk) tt = _mm256_add_epi8(tt, _mm256_and_si256(upv, iso ? isoup : shuffle ? sup : c125));
  __m256i thr;
  if (isk) { /* j = s k + 2 dim <= 4 dim < 16, in both bytes of the lane */
    const __m256i jj = _mm256_and_si256(tt, low5);
    thr = shuffle_lookup_256(k, _mm256_or_si256(jj, _mm256_slli_epi16(jj, 8)), 4 * dim + 1, 32);
  } else if (iso) { /* j = k + 2 dim + (4 dim + 1) up < 32, in both bytes of the lane */
    const __m256i jj = _mm256_and_si256(tt, low5);
    thr = shuffle_lookup_256(k, _mm256_or_si256(jj, _mm256_slli_epi16(jj, 8)), 2 * (4 * dim + 1), 0);
  } else if (shuffle) { /* the sums are even: j = tt / 2, in both bytes of the lane */
    const __m256i jj = _mm256_and_si256(_mm256_srli_epi16(tt, 1), low6);
    thr = shuffle_lookup_256(k, _mm256_or_si256(jj, _mm256_slli_epi16(jj, 8)), 2 * npos, 0);
  } else {
    const __m128i idx = _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_shuffle_epi8(tt, pick), 0x08));
    const __m256i ta = _mm256_srli_epi32(_mm256_i32gather_epi32((const int *)k->tm1, _mm256_cvtepu8_epi32(idx), 4), 16),
                  tb = _mm256_srli_epi32(
                      _mm256_i32gather_epi32((const int *)k->tm1, _mm256_cvtepu8_epi32(_mm_srli_si128(idx, 8)), 4), 16);
    thr = _mm256_permute4x64_epi64(_mm256_packus_epi32(ta, tb), 0xd8);
  }
  const __m256i hi = _mm256_loadu_si256((const __m256i *)rm);
  const __m256i eq = _mm256_cmpeq_epi16(hi, thr), le = _mm256_cmpeq_epi16(_mm256_max_epu16(hi, thr), thr);
  /* site j's lane is bytes 2j, 2j + 1, as in the spins: the even bits of the byte masks are per site */
  uint32_t flip = (uint32_t)_mm256_movemask_epi8(_mm256_andnot_si256(eq, le)) & valid;
  const uint32_t tie = ((uint32_t)_mm256_movemask_epi8(eq) | c->force) & valid;
  flip &= ~tie;
  const uint32_t down = (uint32_t)_mm256_movemask_epi8(downv) & valid,
                 up = isk ? valid & ~down : (uint32_t)_mm256_movemask_epi8(upv) & valid; /* spins are +-1 */
  if (heatbath) flip = (flip & down) | (~flip & valid & ~tie & up);
  const __m256i fv = expand_bits_256(flip);
  const __m256i nw = _mm256_sub_epi8(_mm256_xor_si256(s, fv), fv);
  /* only the segments' own bytes, in a part-step or a pair: past them may lie a halo that a non-blocking
   * exchange is filling */
  if (full)
    _mm256_storeu_si256((__m256i *)p, nw);
  else if (!pair)
    store_prefix_256(p, nw, 2 * (n - m) - 1);
  else {
    _Alignas(32) int8_t b[32];
    _mm256_store_si256((__m256i *)b, nw);
    copy_prefix(p, b, 2 * n - 1);
    copy_prefix(q, b + 16, 2 * sb.n - 1);
  }
  c->changed += _mm_popcnt_u32(flip);
  c->sfield += (int64_t)_mm_popcnt_u32(flip & up) - (int64_t)_mm_popcnt_u32(flip & down);
  /* s_i k_d + 2 >= 0 of the flipped sites (iso: the total, s_i k + 2 dim), summed in 64-bit lanes */
  if (isk) /* tt is s k + 2 dim already */
    c->sad[0] = _mm256_add_epi64(c->sad[0], _mm256_sad_epu8(_mm256_and_si256(tt, fv), zero));
  else
    for (int d = 0; d < (iso ? 1 : dim); d++) {
      __m256i sk = _mm256_sub_epi8(_mm256_xor_si256(kd[d], downv), downv);
      c->sad[d] = _mm256_add_epi64(
          c->sad[d], _mm256_sad_epu8(_mm256_and_si256(_mm256_add_epi8(sk, iso ? isoffset : two), fv), zero));
    }
  return tie;
}

/* 16 sites per step (32 bytes), the high halves of T - 1 (by byte shuffles with equal bonds on every axis or where
 * every axis is periodic, else gathered from k->tm1) compared with the high halves of the random words as 16-bit lanes
 * (equal ones draw lo); two segments of at most 8 sites share a step (table_avx2_step); the rest of a segment goes
 * to the scalar kernel.  dim, pm, heatbath and shuffle are constants in each instantiation (table_avx2_segments). */
AVX2_INLINE void table_avx2_body(const ising_sweeper *k, int8_t *spins, const segment *seg, int count, tally *t,
                                 const int dim, const int pm, const int heatbath, const int shuffle)
{
  const ising_geometry *g = k->g;
  const int iso = dim > 1 && shuffle >= 2;
  table2_state c = {.neg = {NULL, NULL, NULL},
                    .st1 = dim > 1 ? g->stride[1] : 0,
                    .st2 = dim > 2 ? g->stride[2] : 0,
                    .ahead = dim == 2   ? 2 * g->stride[1]
                             : dim == 3 ? g->stride[2] + 8 * g->stride[1]
                                        : 0,
                    .force = k->force_ties ? 0x55555555u : 0,
                    .sad = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()},
                    .changed = 0,
                    .sfield = 0};
  if (pm)
    for (int d = 0; d < dim; d++) c.neg[d] = k->c->negative[d];
  int tie_m[SEGMENT / 16 + 1];
  uint32_t tie_mask[SEGMENT / 16 + 1];
  /* The last step of a segment may be partial (rows of fewer than 32 sites have only that one): it loads all
   * 32 bytes, uses only the segment's sites, takes the random halves from a copy, and writes only the sites it
   * flips (the bytes past the segment may be a halo row that the exchange between the colours is filling).
   * No step reads past the array (the furthest read is a neighbour across the largest stride, 33 bytes on);
   * the few that would go to the scalar kernel. */
  const size_t reach = (size_t)(dim > 2 ? g->stride[2] : dim > 1 ? g->stride[1] : 1) + 33;
  for (int js = 0; js < count; js++) {
    const size_t i0 = seg[js].i0;
    const int n = seg[js].n;
    const uint16_t *const r = seg[js].r;
    if (n <= 8 && js + 1 < count && seg[js + 1].n <= 8 && i0 + reach <= g->nextended &&
        seg[js + 1].i0 + reach <= g->nextended) { /* two short segments in one step */
      const uint32_t tie = table_avx2_step(k, &c, spins, seg[js], seg[js + 1], 0, NULL, dim, pm, heatbath, shuffle, 1);
      for (uint32_t b = tie; __builtin_expect(b != 0, 0); b &= b - 1) {
        const int bit = __builtin_ctz(b), second = bit >= 16;
        const segment *sg = &seg[js + second];
        const int mt = (bit - 16 * second) / 2;
        t->site = sg->site;
        table_scalar_from(k, spins, sg->i0, mt, mt + 1, sg->r, t);
      }
      js++;
      continue;
    }
    t->site = seg[js].site;
    const segment sj = seg[js]; /* a copy: a store to the spins may alias seg */
    __m256i before = _mm256_setzero_si256();
    int m = 0, ties = 0;
    for (; m < n && i0 + 2 * (size_t)m + reach <= g->nextended; m += 16) {
      const uint32_t tie = table_avx2_step(k, &c, spins, sj, sj, m, &before, dim, pm, heatbath, shuffle, 0);
      if (__builtin_expect(tie != 0, 0)) { /* decided after the loop, as in table_avx512_body */
        tie_m[ties] = m;
        tie_mask[ties++] = tie;
      }
    }
    for (int j = 0; j < ties; j++)
      for (uint32_t b = tie_mask[j]; b; b &= b - 1) {
        const int mt = tie_m[j] + __builtin_ctz(b) / 2;
        table_scalar_from(k, spins, i0, mt, mt + 1, r, t);
      }
    if (m < n) table_scalar_from(k, spins, i0, m, n, r, t);
  }
  t->changed += c.changed;
  t->sfield += c.sfield;
  t->sflip += c.sfield;
  for (int d = 0; d < (iso ? 1 : dim); d++) {
    int64_t v[4];
    _mm256_storeu_si256((__m256i *)v, c.sad[d]);
    t->sk[d] += v[0] + v[1] + v[2] + v[3] - (iso ? 2 * dim : 2) * c.changed;
  }
}

#define TABLE_AVX2_CASE(dim, pm, hb)                                                                                   \
  if (dim > 1 && k->shuffle == 2 && !hb && k->iso_sk)                                                                  \
    table_avx2_body(k, spins, seg, count, t, dim, pm, hb, 3);                                                          \
  else if (dim > 1 && k->shuffle == 2)                                                                                 \
    table_avx2_body(k, spins, seg, count, t, dim, pm, hb, 2);                                                          \
  else if (k->shuffle)                                                                                                 \
    table_avx2_body(k, spins, seg, count, t, dim, pm, hb, 1);                                                          \
  else                                                                                                                 \
    table_avx2_body(k, spins, seg, count, t, dim, pm, hb, 0)

ISING_TARGET_AVX2 static void table_avx2_segments(const ising_sweeper *k, int8_t *spins, const segment *seg, int count,
                                                  tally *t)
{
  TABLE_VARIANTS(TABLE_AVX2_CASE)
}

static void table_avx2(const ising_sweeper *k, int8_t *spins, size_t i0, int n, const uint16_t *r, tally *t)
{
  one_segment(table_avx2_segments, k, spins, i0, n, r, t);
}

/* e^x as exp_512 (the same Cody-Waite reduction and degree-7 polynomial by Estrin's scheme), for x in [-40, 40]:
 * k = round(x / ln2) by adding 1.5 2^52 (its low bits then hold k, so 2^k comes from them by an integer add and
 * a shift, without conversions). */
AVX2_INLINE __m256d exp_256(__m256d x)
{
  const __m256d magic = _mm256_set1_pd(0x1.8p52);
  const __m256d t = _mm256_fmadd_pd(x, _mm256_set1_pd(1.4426950408889634074), magic), kf = _mm256_sub_pd(t, magic);
  __m256d f = _mm256_fnmadd_pd(kf, _mm256_set1_pd(6.93147180369123816490e-01), x);
  f = _mm256_fnmadd_pd(kf, _mm256_set1_pd(1.90821492927058770002e-10), f);
  const __m256d f2 = _mm256_mul_pd(f, f), f4 = _mm256_mul_pd(f2, f2);
  const __m256d q0 = _mm256_add_pd(f, _mm256_set1_pd(1.0)),
                q1 = _mm256_fmadd_pd(f, _mm256_set1_pd(1.0 / 6), _mm256_set1_pd(1.0 / 2)),
                q2 = _mm256_fmadd_pd(f, _mm256_set1_pd(1.0 / 120), _mm256_set1_pd(1.0 / 24)),
                q3 = _mm256_fmadd_pd(f, _mm256_set1_pd(1.0 / 5040), _mm256_set1_pd(1.0 / 720));
  const __m256d r0 = _mm256_fmadd_pd(q1, f2, q0), r1 = _mm256_fmadd_pd(q3, f2, q2);
  /* the bits of t are those of 1.5 2^52 plus k (|k| <= 58): 2^k = (k + 1023) << 52 */
  const __m256i e = _mm256_slli_epi64(
      _mm256_add_epi64(_mm256_castpd_si256(t), _mm256_set1_epi64x(1023 - (int64_t)0x4338000000000000)), 52);
  return _mm256_mul_pd(_mm256_fmadd_pd(r1, f4, r0), _mm256_castsi256_pd(e));
}

/* general_avx2_body keeps a step's 4 sites in the lane order 0, 2, 1, 3 (lane j: site AVX2_LANE_SITE(j)), the
 * order in which _mm256_unpacklo_pd and _mm256_unpackhi_pd of two loads of 4 doubles leave every other double:
 * the bonds need no lane-crossing permute, and the spins, the random halves and the flip bits follow the same
 * order. */
#define AVX2_LANE_SITE(j) ((((j)&1) << 1) | ((j) >> 1))

/* The XOR word that flips the spins of the lanes set in f (bit j: lane j): 0xfe (+-1 <-> -+1) in byte 2
 * AVX2_LANE_SITE(j).  A table: pdep is microcoded on AMD Zen 1 and 2. */
#define AVX2_FLIP_WORD(f)                                                                                              \
  (((f)&1 ? UINT64_C(0xfe) : 0) | ((f)&2 ? UINT64_C(0xfe) << 32 : 0) | ((f)&4 ? UINT64_C(0xfe) << 16 : 0) |            \
   ((f)&8 ? UINT64_C(0xfe) << 48 : 0))
static const uint64_t avx2_flip_word[16] = {
    AVX2_FLIP_WORD(0),  AVX2_FLIP_WORD(1),  AVX2_FLIP_WORD(2),  AVX2_FLIP_WORD(3),
    AVX2_FLIP_WORD(4),  AVX2_FLIP_WORD(5),  AVX2_FLIP_WORD(6),  AVX2_FLIP_WORD(7),
    AVX2_FLIP_WORD(8),  AVX2_FLIP_WORD(9),  AVX2_FLIP_WORD(10), AVX2_FLIP_WORD(11),
    AVX2_FLIP_WORD(12), AVX2_FLIP_WORD(13), AVX2_FLIP_WORD(14), AVX2_FLIP_WORD(15)};

/* Bytes 0, 4, 2, 6 of b (the even bytes of 8, in lane order) as doubles. */
AVX2_INLINE __m256d lanes_pd(__m128i b)
{
  const __m128i pick = _mm_setr_epi8(0, 4, 2, 6, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  return _mm256_cvtepi32_pd(_mm_cvtepi8_epi32(_mm_shuffle_epi8(b, pick)));
}

/* a[0], b[0], a[2], b[2] (lane order: sites 0 and 1 from a, 2 and 3 from b). */
AVX2_INLINE __m256d lanes_even2(const double *a, const double *b)
{
  return _mm256_unpacklo_pd(_mm256_loadu_pd(a), _mm256_loadu_pd(b));
}

/* a[0], a[4], a[2], a[6] (lane order). */
AVX2_INLINE __m256d lanes_even(const double *a)
{
  return lanes_even2(a, a + 4);
}

/* 4 bytes from a (bytes 0-3) and 4 from b (bytes 4-7): the spins of two segments of at most 2 sites in the byte
 * positions of one segment's 4 sites. */
AVX2_INLINE __m128i bytes_pair(const int8_t *a, const int8_t *b)
{
  int32_t x, y;
  memcpy(&x, a, 4);
  memcpy(&y, b, 4);
  return _mm_unpacklo_epi32(_mm_cvtsi32_si128(x), _mm_cvtsi32_si128(y));
}

/* The sum of the 4 lanes of exact integer doubles, as an integer. */
AVX2_INLINE int64_t flush_energy_256(__m256d e)
{
  double v[4];
  _mm256_storeu_pd(v, e);
  return (int64_t)v[0] + (int64_t)v[1] + (int64_t)v[2] + (int64_t)v[3];
}

/* The constants, pointers and tallies of general_avx2_body's steps (locals: a store to the int8_t spins may alias
 * anything else, so the compiler would otherwise reload them after every step). */
typedef struct {
  const double *jp0, *jp1, *jp2, *hp;
  ptrdiff_t st1, st2;
  size_t bonds_ahead; /* the bonds and fields two rows ahead, as general_step */
  __m256d jc0, jc1, jc2, fieldc, zero, one, minus40, plus40, factor, scale2, lo_unit, hi_unit;
  __m128i hpick, wpick, wpair;
  __m256i lane_bit;
  __m256d esum;
  int64_t changed, sflip;
  ising_int128 denergy;
  int pending;
} general2_state;

/* The lanes of sites 0 .. n - 1 (lane order above). */
static const unsigned char avx2_lanes_below[5] = {0x0, 0x1, 0x5, 0x7, 0xf};

/* One step of general_avx2_body: sites m .. m + 3 of a segment at spins + i (its first site i0 = i - 2 m, random
 * halves r), or with !full its last cnt < 4 sites (a part-step: only its own random halves read and its own
 * bytes stored).  *before holds the previous step's 8 bytes (byte 7 the left neighbour of site m).  With pair
 * (m = 0, !full): the cnt <= 2 sites of this segment in the lanes of sites 0 and 1, and the sb->n <= 2 sites of
 * segment sb in those of sites 2 and 3; before is not used. */
AVX2_INLINE void general_avx2_step(const ising_sweeper *k, general2_state *c, int8_t *spins, size_t i0, int m, int cnt,
                                   const uint16_t *r, __m128i *before, tally *t, const int dim, const int heatbath,
                                   const int ub, const int uf, const int full, const int pair, const segment *sb)
{
  const size_t i = i0 + 2 * (size_t)m, ib = pair ? sb->i0 : i + 4; /* ib: where sites 2 and 3 begin */
  int8_t *p = spins + i, *q = spins + ib;
  if (dim > 1 && !pair) {
    if (!ub) {
      ising_prefetch_doubles(c->jp0, i + c->bonds_ahead, 1);
      ising_prefetch_doubles(c->jp1, i + c->bonds_ahead, 1);
      if (dim > 2) ising_prefetch_doubles(c->jp2, i + c->bonds_ahead, 1);
    }
    if (!uf) ising_prefetch_doubles(c->hp, i + c->bonds_ahead, 1);
  }
  const __m128i sb8 = pair ? bytes_pair(p, q) : _mm_loadl_epi64((const __m128i *)p);
  /* the left neighbours, the right ones and the sites, in lane order, from the previous step's 8 bytes (its
   * odd bytes did not change; a load at p - 1 would wait for its store) and this step's: bytes 0-3, 4-7, 8-11;
   * with pair the left ones from their own loads */
  __m128i w;
  if (pair)
    w = _mm_shuffle_epi8(_mm_unpacklo_epi64(bytes_pair(p - 1, q - 1), sb8), c->wpair);
  else {
    w = _mm_shuffle_epi8(_mm_unpacklo_epi64(*before, sb8), c->wpick);
    *before = sb8;
  }
  const __m256i nb = _mm256_cvtepi8_epi32(ub ? _mm_add_epi8(w, _mm_srli_si128(w, 4)) : w);
  const __m256d sd = _mm256_cvtepi32_pd(_mm_cvtepi8_epi32(_mm_srli_si128(w, 8))); /* s = +-1 */
  __m256d hloc;
  if (ub)
    hloc = _mm256_mul_pd(c->jc0, _mm256_cvtepi32_pd(_mm256_castsi256_si128(nb)));
  else { /* left and right bonds interleaved in Jp[0][i - 1 ...] */
    const __m256d a = _mm256_loadu_pd(c->jp0 + i - 1), b = _mm256_loadu_pd(c->jp0 + ib - 1);
    hloc = _mm256_fmadd_pd(_mm256_unpackhi_pd(a, b), _mm256_cvtepi32_pd(_mm256_extracti128_si256(nb, 1)),
                           _mm256_mul_pd(_mm256_unpacklo_pd(a, b), _mm256_cvtepi32_pd(_mm256_castsi256_si128(nb))));
  }
  for (int d = 1; d < dim; d++) {
    const ptrdiff_t st = d == 1 ? c->st1 : c->st2;
    const __m128i a = pair ? bytes_pair(p - st, q - st) : _mm_loadl_epi64((const __m128i *)(p - st)),
                  b = pair ? bytes_pair(p + st, q + st) : _mm_loadl_epi64((const __m128i *)(p + st));
    if (ub)
      hloc = _mm256_fmadd_pd(d == 1 ? c->jc1 : c->jc2, lanes_pd(_mm_add_epi8(a, b)), hloc);
    else {
      const double *jp = d == 1 ? c->jp1 : c->jp2;
      hloc = _mm256_fmadd_pd(lanes_even2(jp + i, jp + ib), lanes_pd(b),
                             _mm256_fmadd_pd(lanes_even2(jp + i - st, jp + ib - st), lanes_pd(a), hloc));
    }
  }
  hloc = _mm256_add_pd(hloc, uf ? c->fieldc : lanes_even2(c->hp + i, c->hp + ib));
  /* the lanes that hold a site of the segment: all 4, or in a part-step those of sites 0 .. cnt - 1 (with pair
   * and those of sites 2 .. 1 + sb->n: lanes 1 and 3) */
  const unsigned valid = full   ? 0xfu
                         : pair ? avx2_lanes_below[cnt] | (unsigned)avx2_lanes_below[sb->n] << 1
                                : avx2_lanes_below[cnt];
  const unsigned down = (unsigned)_mm256_movemask_pd(sd) & valid, up = ~down & valid;
  const __m256d hs = _mm256_mul_pd(hloc, sd); /* s h^loc, exact */
  /* r lies in [2^16 hi, 2^16 (hi + 1)): hd = hi as doubles; the comparisons below are in units of 2^16 */
  __m128i rw;
  if (full)
    rw = _mm_loadl_epi64((const __m128i *)(r + m));
  else { /* only the segment's words (those past it may lie past the array), inline: not a library call */
    uint64_t v = r[m];
    if (cnt > 1) v |= (uint64_t)r[m + 1] << 16;
    if (cnt > 2) v |= (uint64_t)r[m + 2] << 32;
    if (pair) v |= (uint64_t)sb->r[0] << 32 | (sb->n > 1 ? (uint64_t)sb->r[1] << 48 : 0);
    rw = _mm_cvtsi64_si128((long long)v);
  }
  const __m256d hd = _mm256_cvtepi32_pd(_mm_shuffle_epi8(rw, c->hpick));
  __m256d accv, known;
  if (heatbath) { /* p = 1 / (1 + e^x), x = -2 beta h^loc: r < p 2^32 iff r (1 + e^x) < 2^32 */
    const __m256d x = _mm256_mul_pd(c->factor, hloc);
    const __m256d e1 = _mm256_add_pd(c->one, exp_256(_mm256_min_pd(_mm256_max_pd(x, c->minus40), c->plus40)));
    /* x < -40: accept; x > 40: accept iff r = 0, which neither comparison settles where hi = 0 */
    accv = _mm256_or_pd(_mm256_cmp_pd(x, c->minus40, _CMP_LT_OQ),
                        _mm256_cmp_pd(_mm256_fmadd_pd(hd, e1, e1), c->lo_unit, _CMP_LT_OQ));
    known = _mm256_or_pd(accv, _mm256_cmp_pd(_mm256_mul_pd(hd, e1), c->hi_unit, _CMP_GE_OQ));
  } else { /* p = e^x, x = -2 beta s h^loc (the factor times s h^loc: the same double as -2 beta h^loc times s) */
    const __m256d x = _mm256_mul_pd(c->factor, hs);
    const __m256d e = exp_256(_mm256_min_pd(_mm256_max_pd(x, c->minus40), c->zero));
    /* x >= 0: accept; x < -40: accept iff r = 0, below is false there, above false iff hi = 0 */
    accv = _mm256_or_pd(_mm256_cmp_pd(x, c->zero, _CMP_GE_OQ),
                        _mm256_cmp_pd(hd, _mm256_fmsub_pd(e, c->lo_unit, c->one), _CMP_LT_OQ));
    known = _mm256_or_pd(accv, _mm256_cmp_pd(hd, _mm256_mul_pd(e, c->hi_unit), _CMP_GE_OQ));
  }
  unsigned acc = (unsigned)_mm256_movemask_pd(accv) & valid;
  const unsigned unsure = ~(unsigned)_mm256_movemask_pd(known) & valid;
  /* the flipped lanes: Metropolis the accepted ones, heat bath those whose new spin differs (accepted and
   * down, or not accepted and up) */
  __m256d flipv = heatbath ? _mm256_xor_pd(accv, _mm256_cmp_pd(sd, c->zero, _CMP_GT_OQ)) : accv;
  if (!full) /* a part-step: only its sites' lanes */
    flipv =
        _mm256_and_pd(flipv, _mm256_castsi256_pd(_mm256_cmpgt_epi64(
                                 _mm256_and_si256(_mm256_set1_epi64x(valid), c->lane_bit), _mm256_setzero_si256())));
  if (__builtin_expect(unsure != 0, 0)) { /* flipv from the flip bits */
    double hv[4];
    _mm256_storeu_pd(hv, hloc);
    for (int b = 0; b < 4; b++)
      if (unsure >> b & 1) {
        const int second = pair && AVX2_LANE_SITE(b) >= 2; /* a site of sb */
        const uint64_t site = t->site;
        if (second) t->site = sb->site;
        acc = (acc & ~(1u << b)) |
              (unsigned)accept_exact(k, t, second ? sb->r : r, second ? AVX2_LANE_SITE(b) - 2 : m + AVX2_LANE_SITE(b),
                                     down >> b & 1 ? -1 : 1, hv[b])
                  << b;
        t->site = site;
      }
    const unsigned f = heatbath ? (acc & down) | (~acc & up) : acc;
    flipv = _mm256_castsi256_pd(
        _mm256_cmpgt_epi64(_mm256_and_si256(_mm256_set1_epi64x(f), c->lane_bit), _mm256_setzero_si256()));
  }
  const unsigned flip = heatbath ? (acc & down) | (~acc & up) : acc;
  uint64_t s64 = (uint64_t)_mm_cvtsi128_si64(sb8) ^ avx2_flip_word[flip];
  if (full)
    memcpy(p, &s64, 8);
  else { /* only the segment's own sites: past it may lie a halo that a non-blocking exchange is filling */
    p[0] = (int8_t)s64;
    if (cnt > 1) p[2] = (int8_t)(s64 >> 16);
    if (cnt > 2) p[4] = (int8_t)(s64 >> 32);
    if (pair) {
      q[0] = (int8_t)(s64 >> 32);
      if (sb->n > 1) q[2] = (int8_t)(s64 >> 48);
    }
  }
  c->changed += _mm_popcnt_u32(flip);
  c->sflip += (int64_t)_mm_popcnt_u32(flip & up) - (int64_t)_mm_popcnt_u32(flip & down);
  /* 2 s h^loc in units of 2^-32 of the flipped sites: exact integers below 2^47, so sums of 32 per lane are
   * exact in doubles */
  c->esum = _mm256_add_pd(c->esum, _mm256_and_pd(flipv, _mm256_mul_pd(hs, c->scale2)));
  if (++c->pending == 32) {
    c->denergy += flush_energy_256(c->esum);
    c->esum = c->zero;
    c->pending = 0;
  }
}

/* 4 sites per step (8 bytes) in the lane order above, h^loc as doubles (exact sums, so the same double as
 * local_field's), decisions as in general_avx512_body (the random word's interval in units of 2^16, the clamped
 * exponent settling the extreme cases); the last 1-3 sites of a segment in a part-step.  dim, heatbath, ub (uniform
 * bonds) and uf (uniform field) are constants in each instantiation (general_avx2_segments). */
AVX2_INLINE void general_avx2_body(const ising_sweeper *k, int8_t *spins, const segment *seg, int count, tally *t,
                                   const int dim, const int heatbath, const int ub, const int uf)
{
  const ising_geometry *g = k->g;
  general2_state c = {GENERAL_STATE_INIT(k, dim, ub, uf, _mm256_set1_pd),
                      .hpick = _mm_setr_epi8(0, 1, -1, -1, 4, 5, -1, -1, 2, 3, -1, -1, 6, 7, -1, -1),
                      /* bytes 7, 11, 9, 13 (left), 9, 13, 11, 15 (right), 8, 12, 10, 14 (sites) of the previous
                       * step's 8 bytes and this step's */
                      .wpick = _mm_setr_epi8(7, 11, 9, 13, 9, 13, 11, 15, 8, 12, 10, 14, -1, -1, -1, -1),
                      /* with pair: bytes 0, 4, 2, 6 (left) of the loads at p - 1 and q - 1 */
                      .wpair = _mm_setr_epi8(0, 4, 2, 6, 9, 13, 11, 15, 8, 12, 10, 14, -1, -1, -1, -1),
                      .lane_bit = _mm256_setr_epi64x(1, 2, 4, 8), .esum = _mm256_setzero_pd(), .changed = 0, .sflip = 0,
                      .denergy = 0, .pending = 0};
  /* the furthest read of a step at i: a neighbour across the largest stride and 7 bytes on (doubles likewise) */
  const size_t reach = (size_t)(dim > 2 ? g->stride[2] : dim > 1 ? g->stride[1] : 1) + 8;
  for (int j = 0; j < count; j++) {
    const size_t i0 = seg[j].i0;
    const int n = seg[j].n;
    const uint16_t *const r = seg[j].r;
    t->site = seg[j].site;
    if (n <= 2 && j + 1 < count && seg[j + 1].n <= 2 && g->nextended > i0 + reach &&
        g->nextended > seg[j + 1].i0 + reach) { /* two short segments (or rows' tails, plan_row) in one step */
      general_avx2_step(k, &c, spins, i0, 0, n, r, NULL, t, dim, heatbath, ub, uf, 0, 1, &seg[j + 1]);
      j++;
      continue;
    }
    __m128i before = _mm_set1_epi8(spins[i0 - 1]); /* byte 7: the left neighbour of the first site */
    /* steps m = 0, 4, ..., none that would read past the array; the scalar kernel takes the rest */
    const size_t room = g->nextended > i0 + reach ? (g->nextended - i0 - reach) / 8 + 1 : 0;
    const int steps = (size_t)(n / 4) < room ? n / 4 : (int)room;
    for (int q = 0; q < steps; q++)
      general_avx2_step(k, &c, spins, i0, 4 * q, 4, r, &before, t, dim, heatbath, ub, uf, 1, 0, NULL);
    int m = 4 * steps;
    if (m < n && (size_t)steps < room) {
      general_avx2_step(k, &c, spins, i0, m, n - m, r, &before, t, dim, heatbath, ub, uf, 0, 0, NULL);
      m = n;
    }
    if (m < n) general_scalar_from(k, spins, i0, m, n, r, t);
  }
  t->changed += c.changed;
  t->sflip += c.sflip;
  t->denergy += c.denergy + flush_energy_256(c.esum);
}

ISING_TARGET_AVX2 static void general_avx2_segments(const ising_sweeper *k, int8_t *spins, const segment *seg,
                                                    int count, tally *t)
{
  GENERAL_SEGMENTS(general_avx2_body)
}

static void general_avx2(const ising_sweeper *k, int8_t *spins, size_t i0, int n, const uint16_t *r, tally *t)
{
  one_segment(general_avx2_segments, k, spins, i0, n, r, t);
}

#endif /* ISING_X86 */

/* ---- the driver ---- */

static void finish_tally(const ising_sweeper *k, const tally *t, ising_sweep_stats *acc);

static segment_fn segment_kernel(const ising_sweeper *k)
{
  int table = k->kernel != ISING_KERNEL_GENERAL;
#if ISING_X86
  /* The vectorised exp of general_avx512 (and general_avx2) has no zero-temperature limit
   * (ties give NaN there) and no half_ties, so those take the exact scalar path. */
  if (k->simd == ISING_SIMD_AVX512)
    return table ? table_avx512 : isinf(k->beta) || k->half_ties ? general_scalar : general_avx512;
  if (k->simd == ISING_SIMD_AVX2)
    return table ? table_avx2 : isinf(k->beta) || k->half_ties ? general_scalar : general_avx2;
#endif
  return table ? table_scalar : general_scalar;
}

void ising_sweep_colour(const ising_sweeper *k, int8_t *spins, int colour, uint64_t step, ising_sweep_stats *acc)
{
  const ising_geometry *g = k->g;
  const segment_fn kernel = segment_kernel(k);
  tally t = {.step = step};
  uint16_t words[SEGMENT + 8];
  int zlo = ising_geometry_lo(g, 2), ylo = ising_geometry_lo(g, 1);
  for (int ez = zlo; ez < zlo + g->n[2]; ez++)
    for (int ey = ylo; ey < ylo + g->n[1]; ey++) {
      int ex0 = ising_geometry_row_start(g, ey, ez, colour);
      if (ex0 > g->n[0]) continue;
      int nc = (g->n[0] - ex0) / 2 + 1;
      uint64_t site0 = row_global(g, ey, ez) + (uint64_t)(ex0 - 1);
      size_t i0 = ising_geometry_index(g, ex0, ey, ez);
      for (int m0 = 0; m0 < nc; m0 += SEGMENT) {
        int n = nc - m0 < SEGMENT ? nc - m0 : SEGMENT;
        uint64_t site = site0 + 2 * (uint64_t)m0, first = site >> 3;
        size_t blocks = (size_t)(((site + 2 * (uint64_t)(n - 1)) >> 3) - first + 1);
        /* words[w] is site 8 first + (site & 1) + 2 w; ours starts at w = (site >> 1) & 3 */
        ising_rng_halves(k->simd, k->seed, k->stream, step, first, blocks, (int)(site & 1), words);
        t.site = site;
        kernel(k, spins, i0 + 2 * (size_t)m0, n, words + ((site >> 1) & 3), &t);
      }
    }
  finish_tally(k, &t, acc);
}

/* The segments kernel of k: the AVX-512 and AVX2 kernels take several segments per call; the scalar ones (and
 * the exact scalar path of segment_kernel) are called once per segment. */
static segments_fn segments_kernel(const ising_sweeper *k)
{
#if ISING_X86
  if (k->simd == ISING_SIMD_AVX512)
    return k->kernel != ISING_KERNEL_GENERAL ? table_avx512_segments
           : isinf(k->beta) || k->half_ties  ? NULL
                                             : general_avx512_segments;
  if (k->simd == ISING_SIMD_AVX2)
    return k->kernel != ISING_KERNEL_GENERAL ? table_avx2_segments
           : isinf(k->beta) || k->half_ties  ? NULL
                                             : general_avx2_segments;
#endif
  (void)k;
  return NULL;
}

/* ---- both colours in one pass over the rows ---- */

/* The fused sweep works on batches of up to B rows of one phase (next to
 * the halo, or not): one Philox call for each run of them with consecutive
 * global site numbers, and one kernel call for a colour of several rows, so
 * that short rows (3D lattices, small lattices) do not pay a call's set-up
 * per row.  Both parities' halves of every interior row wait in a ring of R
 * rows (a multiple of B, at least lag + B: colour 1 of row q runs once
 * colour 0 of row q + lag is done), slot halves per row and parity; the
 * rows next to the halo keep theirs in Rb rows after the ring, from colour
 * 0 (phase 1) to colour 1 (phase 3), so they are drawn once.  Within a
 * batch, the rows are updated G apart (batch_colour).
 *
 * All of that depends only on the geometry (and on whether the kernel is
 * the general one), never on the sweep: it is worked out once into a plan
 * (plan_build), a list of operations (Philox calls, kernel calls with their
 * segments, x-halo wraps, the two callbacks) that every sweep then runs
 * (plan_run) without any bookkeeping per row.
 *
 * A rank that holds every axis past x whole sends no messages: its halo is a
 * copy of its own faces, made at once.  There is nothing to hide, and on a
 * small lattice the split into rows next to the halo and the others only
 * cuts the Philox calls into short runs (3D 8^3: 16 calls of 4 blocks) and
 * the kernel calls into short lists.  Such a lattice of at most WHOLE_SITES
 * sites (its spins, bonds and halves stay in L2) is swept in two passes
 * instead: the words of every row, colour 0 of every row, the exchange,
 * colour 1 of every row (ring_shape.whole, plan_two_passes).  This is the
 * case of the small replicas that tempering runs several to a rank. */
#define WHOLE_SITES ((size_t)1 << 16)

typedef struct {
  int B, whole; /* whole: the two-pass plan (plan_two_passes) */
  size_t R, Rb, slot, G;
} ring_shape;

static inline int boundary_row(const ising_geometry *g, int ey, int ez)
{
  return ey == 1 || ey == g->n[1] || (g->dim > 2 && (ez == 1 || ez == g->n[2]));
}

static ring_shape ring_shape_of(const ising_geometry *g)
{
  ring_shape r;
  const size_t lag = g->dim == 2 ? 1 : (size_t)g->n[1];
  r.B = 2048 / g->n[0];
  r.B = r.B < 1 ? 1 : r.B > 16 ? 16 : r.B;
  r.R = (size_t)r.B * ((lag + (size_t)r.B - 1) / (size_t)r.B + 1);
  /* the rows next to the halo, in batches of B (a batch never straddles the two halves of a plane's run) */
  size_t nb = 0;
  if (g->dim == 2)
    nb = g->n[1] > 1 ? 2 : 1;
  else
    nb = (size_t)(g->n[2] > 1 ? 2 : 1) * (size_t)g->n[1] +
         (size_t)(g->n[2] > 2 ? g->n[2] - 2 : 0) * (size_t)(g->n[1] > 1 ? 2 : 1);
  r.Rb = (size_t)r.B * ((nb + (size_t)r.B - 1) / (size_t)r.B);
  /* Rows q and q + G are updated one after the other (batch_colour).  With fewer than 4 whole steps of 32 sites
   * per row, the 64-byte stores of row q (one per step from its first site i, ending at i + 64 steps) must end
   * before the first load of row q + G (of the row before it, at least (G - 1) (n0 + 2) - 1 bytes past i);
   * with longer rows the stores have reached the cache by the time the next row loads them, and rows in order
   * are faster (G = 1: 4 % in 3D 256^3, 10 % in 2D 512^2; G > 1: 20-25 % for rows of 16 to 100 sites). */
  const size_t st1 = (size_t)g->n[0] + 2, nc = (size_t)g->n[0] / 2 + 1, span = 64 * ((nc + 31) / 32) + 1;
  r.G = nc >= 128 ? 1 : 1 + (span + st1 - 1) / st1;
  r.slot = (size_t)g->n[0] / 2 + 16; /* a run of j rows has at most j n0 / 2 + 11 halves per parity */
  /* no messages (one rank along every axis past x) and a small lattice: every row in the ring, none after it */
  const size_t rows = (size_t)g->n[1] * (size_t)(g->dim > 2 ? g->n[2] : 1);
  r.whole = (size_t)g->n[0] * rows <= WHOLE_SITES;
  for (int d = 1; d < g->dim; d++) r.whole = r.whole && g->n[d] == g->L[d];
  if (r.whole) {
    r.R = rows;
    r.Rb = 0;
    /* In 3D the two-pass plan takes all rows of a colour G apart, so that consecutive steps hold rows q, q + G,
     * q + 2 G, ... (up to 7 G apart where the kernels take four short rows in a step).  Row q + n1 is q's z
     * neighbour, q + n1 -+ 1 its diagonal ones, whose stores the 16-byte windows of the AVX-512 general kernel
     * reach across short rows: a step j G after such a row would load what that row's step has just stored.  G
     * = n1 did so at 8^3 (AVX-512 Gaussian 0.29 flips per ns against 0.40 with G = 10, AVX2 0.15 against 0.22,
     * AVX2 uniform 0.30 against 0.33), G = 6 at 12^3 with uniform bonds (j = 2; AVX-512 0.94 against 1.16,
     * AVX2 0.44 against 0.49): the next G whose small multiples miss them (docs/performance.md, "Rows G apart
     * in 3D"). */
    const size_t n1 = (size_t)g->n[1], reach = nc <= 9 ? 7 : nc <= 17 ? 3 : 1;
    for (size_t j = 1; g->dim == 3 && r.G > 1 && j <= reach; j++)
      if (j * r.G + 1 >= n1 && j * r.G <= n1 + 1) {
        r.G++;
        j = 0; /* check the new G from its first multiple */
      }
  }
  return r;
}

int ising_sweep_fused_ok(const ising_sweeper *k)
{
  const ising_geometry *g = k->g;
  if (g->dim < 2 || g->grid[0] != 1) return 0;
  ring_shape r = ring_shape_of(g);
  return 2 * (r.R + r.Rb) * r.slot <= (size_t)1 << 25; /* at most 64 MiB of halves */
}

static void finish_tally(const ising_sweeper *k, const tally *t, ising_sweep_stats *acc)
{
  ising_int128 denergy = t->denergy + 2 * (ising_int128)t->sfield * k->field_q;
  for (int d = 0; d < k->g->dim; d++) {
    int64_t sk = t->sk[d];
    for (int j = 0; j < 8; j++) sk += t->skv[d][j];
    denergy += 2 * (ising_int128)sk * k->axis_q[d];
  }
  acc->changed += t->changed;
  acc->denergy += denergy;
  acc->dmag -= 2 * t->sflip;
}

/* (ey, ez) of row q, walked one row at a time. */
typedef struct {
  int ey, ez;
} row_cursor;

static inline row_cursor row_first(const ising_geometry *g)
{
  row_cursor c = {1, g->dim > 2 ? 1 : 0};
  return c;
}

static inline void row_step(const ising_geometry *g, row_cursor *c)
{
  if (++c->ey > g->n[1]) {
    c->ey = 1;
    c->ez++;
  }
}

/* The x halo of the row whose x = 0 is spins[x0], when this rank holds the whole periodic x axis. */
static inline void wrap_row(int8_t *spins, size_t x0, int n0)
{
  spins[x0] = spins[x0 + (size_t)n0];
  spins[x0 + (size_t)n0 + 1] = spins[x0 + 1];
}

/* What the plan depends on: zero-filled, then set, so that memcmp compares it. */
typedef struct {
  int dim, n[ISING_MAX_DIM], periodic0, general; /* general: 0 table kernels, else the general kernel */
  int64_t L[ISING_MAX_DIM], offset[ISING_MAX_DIM];
  ptrdiff_t stride[ISING_MAX_DIM];
} plan_key;

#define GENERAL_AVX512 2 /* plan_key.general of the AVX-512 general kernel */
#define GENERAL_AVX2   3 /* of the AVX2 one (1: the scalar one) */

typedef enum { OP_WORDS, OP_KERNEL, OP_WRAP, OP_BEGIN, OP_END } op_kind;

/* OP_WORDS: Philox blocks [first, first + n), halves into h + a (even sites) and h + area + a (odd);
 * OP_KERNEL: segments [a, a + n) of the plan; OP_WRAP: x halos of rows x0 = wrap[a .. a + n). */
typedef struct {
  op_kind kind;
  size_t a, n;
  uint64_t first;
} plan_op;

typedef struct {
  plan_key key;
  ring_shape shape;
  uint16_t *h; /* the halves: (R + Rb) slot even, then as many odd */
  size_t area;
  plan_op *op;
  segment *seg;
  size_t *wrap;
  size_t nop, nseg, nwrap, cap_op, cap_seg, cap_wrap;
  int failed; /* out of memory while building */
} sweep_plan;

/* Room for one more element of a growing array; 0 if out of memory. */
static int grow(void **a, size_t *cap, size_t used, size_t size)
{
  if (used < *cap) return 1;
  size_t cap2 = *cap ? 2 * *cap : 64;
  void *b = realloc(*a, cap2 * size);
  if (!b) return 0;
  *a = b;
  *cap = cap2;
  return 1;
}

static void plan_add_op(sweep_plan *pl, op_kind kind, size_t a, size_t n, uint64_t first)
{
  if (pl->failed || !grow((void **)&pl->op, &pl->cap_op, pl->nop, sizeof(plan_op))) {
    pl->failed = 1;
    return;
  }
  plan_op op = {kind, a, n, first};
  pl->op[pl->nop++] = op;
}

/* A row in the ring while the plan is built: where it is, and where its words are. */
typedef struct {
  row_cursor c;
  size_t q;       /* its row number */
  uint64_t first; /* the first Philox block of its run */
  size_t start;   /* the ring row of its run's first row, where the run's halves begin */
} ring_row;

typedef struct {
  const ising_geometry *g;
  sweep_plan *pl;
  ring_row *row; /* R + Rb */
  int general;
} plan_builder;

/* The words of ring rows [p, p + m) (p + m <= R, or within the rows after the ring): one Philox call per run of
 * rows with consecutive global site numbers (the rows of a plane). */
static void ring_words(plan_builder *pb, size_t p, size_t m)
{
  const ising_geometry *g = pb->g;
  const uint64_t n0 = (uint64_t)g->n[0];
  ring_row *row = pb->row;
  size_t a = p;
  uint64_t base_a = row_global(g, row[p].c.ey, row[p].c.ez), base_b = base_a;
  for (size_t j = p + 1; j <= p + m; j++) {
    const uint64_t base = j < p + m ? row_global(g, row[j].c.ey, row[j].c.ez) : 0;
    if (j < p + m && base == base_b + n0) {
      base_b = base;
      continue;
    }
    /* the run a .. j - 1: at most (j - a) n0 / 2 + 11 halves per parity, from ring row a */
    const uint64_t first = base_a >> 3;
    plan_add_op(pb->pl, OP_WORDS, a * pb->pl->shape.slot, (size_t)(((base_b + n0 - 1) >> 3) - first + 1), first);
    for (size_t e = a; e < j; e++) {
      row[e].first = first;
      row[e].start = a;
    }
    a = j;
    base_a = base_b = base;
  }
}

/* Adds the segments of one colour of ring row e to the plan, flushing (one kernel call) where a call is full:
 * part 1 all but its tail, 2 its tail.  The tail is the last 1 to 4 sites of a row of the AVX-512 general kernel
 * after whole steps of 8 (with AVX2 the last 1 or 2 after steps of 4; none otherwise), which batch_colour puts
 * next to another row's tail so that the kernel takes the two in one step (as it pairs rows of at most 4 sites). */
static void plan_row(plan_builder *pb, size_t e, int colour, int part, size_t *call, int *steps)
{
  const ising_geometry *g = pb->g;
  sweep_plan *pl = pb->pl;
  const ring_row *row = &pb->row[e];
  const int ex0 = ising_geometry_row_start(g, row->c.ey, row->c.ez, colour);
  if (ex0 > g->n[0]) return;
  const int nc = (g->n[0] - ex0) / 2 + 1;
  const uint64_t site0 = row_global(g, row->c.ey, row->c.ez) + (uint64_t)(ex0 - 1);
  const size_t i0 = ising_geometry_index(g, ex0, row->c.ey, row->c.ez);
  /* element j of parity p is global site 8 first + p + 2 j */
  const uint16_t *r = pl->h + (site0 & 1) * pl->area + row->start * pl->shape.slot + ((site0 - 8 * row->first) >> 1);
  /* the AVX-512 general kernel's part step of 1 to 4 sites after whole ones, as a segment of its own */
  const int tail = pb->general == GENERAL_AVX512 && nc > 8 && nc % 8 <= 4 ? nc % 8
                   : pb->general == GENERAL_AVX2 && nc > 4 && nc % 4 <= 2 ? nc % 4
                                                                          : 0;
  const int lo = part == 2 ? nc - tail : 0, hi = part == 2 ? nc : nc - tail;
  for (int m0 = lo; m0 < hi; m0 += SEGMENT) {
    const int n = hi - m0 < SEGMENT ? hi - m0 : SEGMENT, st = (n + 31) / 32;
    if (pl->nseg - *call == BATCH_SEGMENTS || *steps + st > BATCH_STEPS) {
      plan_add_op(pl, OP_KERNEL, *call, pl->nseg - *call, 0);
      *call = pl->nseg;
      *steps = 0;
    }
    if (pl->failed || !grow((void **)&pl->seg, &pl->cap_seg, pl->nseg, sizeof(segment))) {
      pl->failed = 1;
      return;
    }
    segment sg = {i0 + 2 * (size_t)m0, r + m0, site0 + 2 * (uint64_t)m0, n};
    pl->seg[pl->nseg++] = sg;
    *steps += st;
  }
}

/* Ring row p + j: the ring (p < R) wraps around, the rows after it do not. */
static inline size_t ring_at(const sweep_plan *pl, size_t p, size_t j)
{
  return p < pl->shape.R && p + j >= pl->shape.R ? p + j - pl->shape.R : p + j;
}

/* One colour of ring rows p, p + 1, ..., p + m - 1, then their x halo.  The table kernels take the rows G apart
 * (0, G, 2G, ..., 1, G + 1, ...): a row's first loads would otherwise overlap the stores of the row just before
 * it, which must reach the cache first (a masked store forwards nothing).  The general kernel streams the
 * coupling arrays, so it takes long rows in order (G apart cost it 10 %).  Where a colour of a row is only a
 * few steps, the next row's loads would wait for this row's stores there too.  The AVX-512 kernel takes rows of
 * at most 23 sites G apart (3D 18^3 5.7 -> 4.2 ns per attempt, 24^3 4.3 -> 3.0, 32^3 2.4 -> 1.8; from 24 sites,
 * three whole steps, it lost: 48^3 1.6 -> 2.0; rows of at most 4, which share its steps in pairs, G apart too:
 * 6^3 5.4 -> 4.7, 8^3 3.67 -> 3.58, 4^3 and 2D 6^2, 8^2 unchanged; they were in order); the AVX2
 * and scalar ones rows of at most 8 (AVX2 3D 6^3 10.8 -> 7.4, 8^3 6.7 -> 6.4).  The tails of two rows of 9 to 12
 * sites (17 to 20, ...) share a step of the AVX-512 general kernel: 3D 18^3 4.0 -> 2.9 ns, 24^3 3.0 -> 2.1.  The
 * tails come after every row's other steps, G apart: taken right after their rows' whole steps (two rows, then
 * both tails), a tail's loads overlapped the stores of its own row and of the tail before (AVX-512 2D 50^2 2.3
 * -> 1.86 ns, 20^2 2.9 -> 2.6, 3D 34^3 2.7-2.9 -> 2.5; AVX2 3D 12^3 6.3-6.5 -> 5.7, 20^3 4.6-4.9 -> 4.4). */
static void batch_colour(plan_builder *pb, size_t p, size_t m, int colour, int wrap)
{
  sweep_plan *pl = pb->pl;
  const size_t half = (size_t)pb->g->n[0] / 2;
  const int apart = half <= (pb->general == GENERAL_AVX512 ? 23 : 8);
  const size_t G = !pb->general || apart ? pl->shape.G : 1;
  size_t call = pl->nseg;
  int steps = 0;
  for (int part = 1; part <= 2; part++) { /* every row but its tail, then the tails (plan_row), those G apart */
    const size_t gp = part == 2 ? pl->shape.G : G;
    for (size_t o = 0; o < gp && o < m; o++)
      for (size_t j = o; j < m; j += gp) plan_row(pb, ring_at(pl, p, j), colour, part, &call, &steps);
  }
  if (pl->nseg > call) plan_add_op(pl, OP_KERNEL, call, pl->nseg - call, 0);
  if (!wrap) return;
  const size_t first = pl->nwrap;
  for (size_t j = 0; j < m; j++) {
    if (pl->failed || !grow((void **)&pl->wrap, &pl->cap_wrap, pl->nwrap, sizeof(size_t))) {
      pl->failed = 1;
      return;
    }
    const row_cursor c = pb->row[ring_at(pl, p, j)].c;
    pl->wrap[pl->nwrap++] = ising_geometry_index(pb->g, 0, c.ey, c.ez);
  }
  plan_add_op(pl, OP_WRAP, first, m, 0);
}

/* The next up to B rows from (q, c) on that are (boundary 1) or are not (0) next to the halo, into ring rows
 * p, p + 1, ...; returns how many. */
static size_t ring_take(plan_builder *pb, size_t p, size_t rows, size_t *q, row_cursor *c, int boundary)
{
  size_t m = 0;
  for (; *q < rows && m < (size_t)pb->pl->shape.B; ++*q, row_step(pb->g, c))
    if (boundary_row(pb->g, c->ey, c->ez) == boundary) {
      pb->row[p + m].c = *c;
      pb->row[p + m].q = *q;
      m++;
    }
  return m;
}

/* Colour `colour` of the rows next to the halo (phases 1 and 3 of the fused sweep), in the rows after the ring;
 * their words are drawn in phase 1 only. */
static void boundary_rows(plan_builder *pb, int colour, int wrap)
{
  const ising_geometry *g = pb->g;
  const size_t rows = (size_t)g->n[1] * (size_t)(g->dim > 2 ? g->n[2] : 1);
  size_t q = 0, m, p = pb->pl->shape.R;
  row_cursor c = row_first(g);
  while ((m = ring_take(pb, p, rows, &q, &c, 1)) > 0) {
    if (colour == 0) ring_words(pb, p, m);
    batch_colour(pb, p, m, colour, wrap);
    p += (size_t)pb->pl->shape.B;
  }
}

static void plan_free(sweep_plan *pl)
{
  if (!pl) return;
  free(pl->h);
  free(pl->op);
  free(pl->seg);
  free(pl->wrap);
  free(pl);
}

/* Phases 1-3 of the fused sweep (plan_build). */
static void plan_ring(plan_builder *pb, size_t rows, size_t lag, int wrap)
{
  sweep_plan *pl = pb->pl;
  const size_t R = pl->shape.R;
  /* 1: colour 0 of the rows next to the halo, so that the exchange can start */
  boundary_rows(pb, 0, wrap);
  plan_add_op(pl, OP_BEGIN, 0, 0, 0);
  /* 2: the other rows, colour 1 lag rows behind colour 0; ring rows [head, head + pending) wait for colour 1,
   * the next batch goes to tail (a multiple of B, so a batch does not wrap around the ring) */
  size_t q = 0, tail = 0, head = 0, pending = 0;
  row_cursor c = row_first(pb->g);
  for (;;) {
    const size_t m = ring_take(pb, tail, rows, &q, &c, 0);
    if (m) {
      ring_words(pb, tail, m);
      batch_colour(pb, tail, m, 0, wrap);
      tail = tail + m == R ? 0 : tail + m;
      pending += m;
    }
    /* colour 0 is done in every row before q */
    size_t ready = 0;
    for (size_t e = head; ready < pending && (q == rows || pb->row[e].q + lag < q); e = e + 1 == R ? 0 : e + 1) ready++;
    if (ready) {
      batch_colour(pb, head, ready, 1, wrap);
      head = (head + ready) % R;
      pending -= ready;
    }
    if (q == rows && !pending) break;
  }
  plan_add_op(pl, OP_END, 0, 0, 0);
  /* 3: colour 1 of the rows next to the halo, which now holds colour 0 */
  boundary_rows(pb, 1, wrap);
}

/* The two passes of a small lattice whose halo needs no messages (ring_shape.whole): the words of every row
 * (one Philox call per run of consecutive global sites, all the rows where the rank holds the whole lattice),
 * colour 0 of every row, the exchange, colour 1 of every row. */
static void plan_two_passes(plan_builder *pb, size_t rows, int wrap)
{
  row_cursor c = row_first(pb->g);
  for (size_t q = 0; q < rows; q++, row_step(pb->g, &c)) {
    pb->row[q].c = c;
    pb->row[q].q = q;
  }
  ring_words(pb, 0, rows);
  batch_colour(pb, 0, rows, 0, wrap);
  plan_add_op(pb->pl, OP_BEGIN, 0, 0, 0);
  plan_add_op(pb->pl, OP_END, 0, 0, 0);
  batch_colour(pb, 0, rows, 1, wrap);
}

/* The operations of ising_sweep_fused on this geometry (NULL if out of memory).  Colour 1 of an interior row q
 * may run once colour 0 is done in its neighbour rows, the last of which is q + lag (lag 1 in 2D, n1 in 3D); its
 * words were generated with colour 0's (one Philox block serves all four sites) and wait in the ring. */
static sweep_plan *plan_build(const ising_geometry *g, const plan_key *key)
{
  sweep_plan *pl = calloc(1, sizeof(*pl));
  if (!pl) return NULL;
  pl->key = *key;
  pl->shape = ring_shape_of(g);
  const size_t R = pl->shape.R;
  pl->area = (R + pl->shape.Rb) * pl->shape.slot;
  pl->h = malloc(2 * pl->area * sizeof(uint16_t));
  plan_builder pb = {g, pl, malloc((R + pl->shape.Rb) * sizeof(ring_row)), key->general};
  if (!pl->h || !pb.row) {
    free(pb.row);
    plan_free(pl);
    return NULL;
  }
  const size_t rows = (size_t)g->n[1] * (size_t)(g->dim > 2 ? g->n[2] : 1), lag = g->dim == 2 ? 1 : (size_t)g->n[1];
  if (pl->shape.whole)
    plan_two_passes(&pb, rows, key->periodic0);
  else
    plan_ring(&pb, rows, lag, key->periodic0);
  free(pb.row);
  if (pl->failed) {
    plan_free(pl);
    return NULL;
  }
  return pl;
}

/* The plan of the last geometry swept (one process sweeps one geometry at a time; a different one replaces it).
 * It stays allocated until the process ends. */
static sweep_plan *cached_plan;

static const sweep_plan *plan_for(const ising_sweeper *k)
{
  const ising_geometry *g = k->g;
  plan_key key;
  memset(&key, 0, sizeof(key));
  key.dim = g->dim;
  key.periodic0 = g->periodic[0];
  key.general = k->kernel != ISING_KERNEL_GENERAL ? 0
                : k->simd == ISING_SIMD_AVX512    ? GENERAL_AVX512
                : k->simd == ISING_SIMD_AVX2      ? GENERAL_AVX2
                                                  : 1;
  for (int d = 0; d < ISING_MAX_DIM; d++) {
    key.n[d] = g->n[d];
    key.L[d] = g->L[d];
    key.offset[d] = g->offset[d];
    key.stride[d] = g->stride[d];
  }
  if (cached_plan && !memcmp(&cached_plan->key, &key, sizeof(key))) return cached_plan;
  plan_free(cached_plan);
  cached_plan = plan_build(g, &key);
  return cached_plan;
}

void ising_sweep_fused(const ising_sweeper *k, int8_t *spins, uint64_t step, void (*begin)(void *), void (*end)(void *),
                       void *ctx, ising_sweep_stats *acc)
{
  const ising_geometry *g = k->g;
  const sweep_plan *pl = plan_for(k);
  if (!pl) { /* out of memory: the plain order, colour 0, exchange, colour 1 */
    const int wrap = g->periodic[0];
    const size_t rows = (size_t)g->n[1] * (size_t)(g->dim > 2 ? g->n[2] : 1);
    for (int colour = 0; colour < 2; colour++) {
      ising_sweep_colour(k, spins, colour, step, acc);
      row_cursor c = row_first(g);
      for (size_t q = 0; q < rows && wrap; q++, row_step(g, &c))
        wrap_row(spins, ising_geometry_index(g, 0, c.ey, c.ez), g->n[0]);
      if (colour == 0) {
        begin(ctx);
        end(ctx);
      }
    }
    return;
  }
  tally t = {.step = step};
  const segment_fn one = segment_kernel(k);
  const segments_fn many = segments_kernel(k);
  for (size_t o = 0; o < pl->nop; o++) {
    const plan_op *op = &pl->op[o];
    switch (op->kind) {
    case OP_WORDS:
      ising_rng_halves2(k->simd, k->seed, k->stream, step, op->first, op->n, pl->h + op->a, pl->h + pl->area + op->a);
      break;
    case OP_KERNEL:
      if (many)
        many(k, spins, pl->seg + op->a, (int)op->n, &t);
      else
        for (size_t j = op->a; j < op->a + op->n; j++) {
          t.site = pl->seg[j].site;
          one(k, spins, pl->seg[j].i0, pl->seg[j].n, pl->seg[j].r, &t);
        }
      break;
    case OP_WRAP: { /* locals: a store to the int8_t spins may alias g, pl and op, which the loop would reload */
      const size_t *x0 = pl->wrap + op->a, nw = op->n;
      const int n0 = g->n[0];
      for (size_t j = 0; j < nw; j++) wrap_row(spins, x0[j], n0);
      break;
    }
    case OP_BEGIN: begin(ctx); break;
    case OP_END: end(ctx); break;
    }
  }
  finish_tally(k, &t, acc);
}

uint32_t ising_sweep_words(const ising_sweeper *k, uint64_t step, int fused)
{
  const ising_geometry *g = k->g;
  uint16_t words[2 * SEGMENT + 16];
  uint32_t sink = 0;
  if (fused && ising_sweep_fused_ok(k)) { /* the Philox calls of ising_sweep_fused's plan */
    const sweep_plan *pl = plan_for(k);
    for (size_t o = 0; pl && o < pl->nop; o++)
      if (pl->op[o].kind == OP_WORDS) {
        ising_rng_halves2(k->simd, k->seed, k->stream, step, pl->op[o].first, pl->op[o].n, pl->h + pl->op[o].a,
                          pl->h + pl->area + pl->op[o].a);
        sink ^= pl->h[pl->op[o].a];
      }
    return sink;
  }
  for (int colour = 0; colour < 2; colour++)
    for (int ez = ising_geometry_lo(g, 2); ez < ising_geometry_lo(g, 2) + g->n[2]; ez++)
      for (int ey = ising_geometry_lo(g, 1); ey < ising_geometry_lo(g, 1) + g->n[1]; ey++) {
        int ex0 = ising_geometry_row_start(g, ey, ez, colour), nc = ex0 > g->n[0] ? 0 : (g->n[0] - ex0) / 2 + 1;
        uint64_t site0 = row_global(g, ey, ez) + (uint64_t)(ex0 - 1);
        for (int m0 = 0; m0 < nc; m0 += SEGMENT) {
          int n = nc - m0 < SEGMENT ? nc - m0 : SEGMENT;
          uint64_t site = site0 + 2 * (uint64_t)m0, first = site >> 3;
          size_t blocks = (size_t)(((site + 2 * (uint64_t)(n - 1)) >> 3) - first + 1);
          ising_rng_halves(k->simd, k->seed, k->stream, step, first, blocks, (int)(site & 1), words);
          sink ^= words[0];
        }
      }
  return sink;
}
