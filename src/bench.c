/* bench.c: the ising_bench program, the yardstick of every speed claim.
 *
 * For 2D 4096^2 and 3D 256^3 periodic lattices, uniform, +-J (and on request
 * Gaussian) couplings, Metropolis and heat bath, it times full checkerboard
 * sweeps (both colours and their halo exchanges, ising_mc_sweep) with the
 * production kernel and with the plain reference kernel (exp per site) in
 * the same run, checks that both leave bit-identical spins, and prints flip
 * attempts per ns and ns per flip attempt per core (wall time x ranks /
 * attempts), with the share of the time spent in the halo exchange.  A
 * third row, "philox", times generating the sweep's random words alone
 * (ising_sweep_words, exactly as the production sweep does): the
 * random-number bound of the production kernel.  A fourth, "memory", moves
 * the bytes a sweep must at least move (spins read and written once, bond
 * bits or coupling and field arrays read once): the memory bound.  A fifth, "measure", times one measurement
 * of energy and magnetisation per sweep as -task mc makes them (ising_observables_local on every rank, reduced
 * 64 at a time; its "halo" column is the reduction), per site.  A sixth, "exchange", times the halo exchanges of
 * the production sweeps alone (no computation between them): what the messages cost, against the production
 * row's halo share, which also holds the time a rank waits there for a slower one.  The "slowest" column is the
 * busiest rank's time outside the exchange over the mean of all ranks' (1.00 on one rank; on the philox row,
 * which communicates nothing, it shows how unequal the cores themselves are).  A last row, "msc", appears where
 * the multi-spin-coding experiment applies (2D, one rank, periodic L x L with L a multiple of 128, equal bonds, no
 * field, Metropolis): the spins bit-packed, 64 to a word (docs/performance.md, "Multi-spin coding, measured"),
 * from the same start; its check column says whether it left the production kernel's spins.  The
 * "cpu ns/flip" column
 * is the same per CPU second of the timing thread (more stable than wall
 * time on a shared machine).  The instruction set of the
 * production kernel (ISING_SIMD, rng.h) is printed in the header.
 *
 *   mpirun -n P build/ising_bench [-bench_sweeps 5] [-bench_size2d 4096] [-bench_size3d 256]
 *                                  [-bench_cases 2d,3d] [-bench_couplings uniform,pm[,gaussian]]
 *                                  [-bench_algorithms metropolis,heatbath] [-bench_meanfield 1]
 *                                  [-bench_reference 1] [-bench_weak 0]
 *
 * With -bench_weak 1 the last axis is multiplied by the number of ranks (4096 x 4096P, 256 x 256 x 256P), so
 * every rank holds the same block as one rank does without it: a weak-scaling run.
 *
 * The program's own -balance measure (or a list of speeds, usage.md) sizes the blocks by the ranks' speeds; the
 * layout column then says "balanced".  Run it with the ranks bound to cores.
 *
 * With -bench_meanfield (default on) it also times mean-field sweeps and
 * prints their effective memory bandwidth next to a plain copy of the same
 * arrays in the same run.
 */
#include "ising/couplings.h"
#include "ising/error.h"
#include "ising/geometry.h"
#include "ising/halo.h"
#include "ising/mc.h"
#include "ising/meanfield.h"
#include "ising/observables.h"
#include "ising/params.h"
#include "ising/rng.h"
#include "ising/sweep.h"
#include "ising/timers.h"

#include <petscsys.h>
#include <stdio.h>
#if ISING_X86
#include <immintrin.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
  double total, halo, cpu; /* wall seconds, of which in the halo exchange; CPU seconds of this thread */
  double slowest;          /* after reduce_timing: the largest busy time (total - halo) over the ranks / their mean */
} timing;

static double cpu_seconds(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Maxima over the ranks, and how far the busiest rank's time outside the halo exchange (or reduction) lies
 * above the mean of all ranks': 1 where every rank computes equally fast; 1.3 means the others wait up to
 * 0.3 of their own work for it at each exchange, which the halo column then shows as waiting. */
static timing reduce_timing(timing t, MPI_Comm comm)
{
  int nranks;
  MPI_Comm_size(comm, &nranks);
  double busy = t.total - t.halo, in[4] = {t.total, t.halo, t.cpu, busy}, out[4], sum;
  MPI_Allreduce(in, out, 4, MPI_DOUBLE, MPI_MAX, comm);
  MPI_Allreduce(&busy, &sum, 1, MPI_DOUBLE, MPI_SUM, comm);
  timing r = {out[0], out[1], out[2], sum > 0 ? out[3] * nranks / sum : 1.0};
  return r;
}

/* The random words the production sweeps generate (ising_sweep_words), and nothing else. */
static timing time_philox(const ising_sweeper *k, int sweeps, MPI_Comm comm)
{
  uint32_t sink = 0;
  MPI_Barrier(comm);
  double t0 = MPI_Wtime(), c0 = cpu_seconds();
  for (int s = 0; s < sweeps; s++) sink ^= ising_sweep_words(k, (uint64_t)s, 1);
  timing t = {MPI_Wtime() - t0, 0.0, cpu_seconds() - c0 + 0.0 * (double)sink, 1.0};
  return reduce_timing(t, comm);
}

static volatile uint64_t memory_sink; /* keeps the loads of read_once */

/* Every spin negated in place (+-1 <-> -+1 by xor with 0xfe; twice restores any byte). */
static void flip_all(int8_t *spins, size_t n)
{
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, spins + i, 8);
    w ^= UINT64_C(0xfefefefefefefefe);
    memcpy(spins + i, &w, 8);
  }
  for (; i < n; i++) spins[i] = (int8_t)(spins[i] ^ (int8_t)0xfe);
}

/* Streams an array once (read only); the result keeps the loads. */
static uint64_t read_once(const void *a, size_t bytes)
{
  const uint64_t *w = a;
  uint64_t x[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t n = bytes / 64 * 8;
  for (size_t i = 0; i < n; i += 8)
    for (int j = 0; j < 8; j++) x[j] ^= w[i + (size_t)j];
  return x[0] ^ x[1] ^ x[2] ^ x[3] ^ x[4] ^ x[5] ^ x[6] ^ x[7];
}

/* The least memory traffic of a sweep: the spins read and written once (the fused sweep passes over the rows
 * once; here they are negated in place, an even number of times in all), the bond-sign bits (+-J) or the
 * coupling and field arrays (general kernel) read once. */
static timing time_memory(const ising_sweeper *k, int8_t *spins, int sweeps, MPI_Comm comm)
{
  const ising_geometry *g = k->g;
  const ising_couplings *c = k->c;
  const size_t n = g->nextended;
  uint64_t sink = 0;
  MPI_Barrier(comm);
  double t0 = MPI_Wtime(), c0 = cpu_seconds();
  for (int s = 0; s < sweeps; s++) {
    flip_all(spins, n);
    for (int d = 0; d < g->dim; d++) {
      if (k->kernel == ISING_KERNEL_TABLE_PM) sink ^= read_once(c->negative[d], (n / 64 + 2) * sizeof(uint64_t));
      if (k->kernel == ISING_KERNEL_GENERAL && !c->uniform_bonds) sink ^= read_once(c->Jp[d], n * sizeof(double));
    }
    if (k->kernel == ISING_KERNEL_GENERAL && !c->uniform_field) sink ^= read_once(c->h, n * sizeof(double));
  }
  timing t = {MPI_Wtime() - t0, 0.0, cpu_seconds() - c0, 1.0};
  memory_sink ^= sink;
  if (sweeps % 2) flip_all(spins, n);
  return reduce_timing(t, comm);
}

/* One measurement per sweep, as -task mc makes them by default: each rank's sums (ising_observables_local),
 * reduced over the ranks in batches of 64 as mc.c does; "halo" here is the reduction. */
static timing time_measure(const ising_geometry *g, const ising_couplings *c, const int8_t *spins, int sweeps)
{
  ising_observables_sums sums[64];
  double e[64], m[64];
  int n = 0;
  timing t = {0, 0, 0, 1};
  MPI_Barrier(g->comm);
  double t0 = MPI_Wtime(), c0 = cpu_seconds();
  for (int s = 0; s < sweeps; s++) {
    sums[n++] = ising_observables_local(g, c, spins);
    if (n == 64 || s == sweeps - 1) {
      double h0 = MPI_Wtime();
      ising_observables_reduce(g, n, sums, e, m);
      t.halo += MPI_Wtime() - h0;
      n = 0;
    }
  }
  t.total = MPI_Wtime() - t0;
  t.cpu = cpu_seconds() - c0;
  return reduce_timing(t, g->comm);
}

/* The halo exchanges of the production sweeps and nothing else: two per sweep (y and z only where the fused
 * kernel fills the x halo itself, as ising_mc_sweep; every axis otherwise) with no computation between, so no
 * rank waits for a slower one's work: what the messages themselves cost, to set against the production row's
 * halo share (which includes that waiting). */
static timing time_exchange(const ising_sweeper *k, ising_halo *halo, int8_t *spins, int sweeps, MPI_Comm comm)
{
  const int first_axis = ising_sweep_fused_ok(k) ? 1 : 0;
  MPI_Barrier(comm);
  double t0 = MPI_Wtime(), c0 = cpu_seconds();
  for (int s = 0; s < 2 * sweeps; s++) {
    ising_halo_begin(halo, spins, first_axis);
    ising_halo_end(halo);
  }
  double wall = MPI_Wtime() - t0;
  timing t = {wall, wall, cpu_seconds() - c0, 1.0};
  return reduce_timing(t, comm);
}

/* Production: ising_mc_sweep (both colours, halo exchanges, as every task runs them). */
static timing time_production(ising_sweeper *k, ising_halo *halo, int8_t *spins, int sweeps, MPI_Comm comm)
{
  ising_sweep_stats stats = {0, 0, 0};
  MPI_Barrier(comm);
  double t0 = MPI_Wtime(), c0 = cpu_seconds(), h0 = ising_timer_elapsed(ISING_PHASE_HALO);
  for (int s = 0; s < sweeps; s++) ising_mc_sweep(k, halo, spins, (uint64_t)s, &stats);
  timing t = {MPI_Wtime() - t0, ising_timer_elapsed(ISING_PHASE_HALO) - h0, cpu_seconds() - c0, 1.0};
  return reduce_timing(t, comm);
}

/* Reference: the plain kernel, one colour after the other with a blocking halo exchange between. */
static timing time_reference(ising_sweeper *k, ising_halo *halo, int8_t *spins, int sweeps, MPI_Comm comm)
{
  timing t = {0, 0, 0, 1};
  ising_sweep_stats stats = {0, 0, 0};
  MPI_Barrier(comm);
  double t0 = MPI_Wtime(), c0 = cpu_seconds();
  for (int s = 0; s < sweeps; s++)
    for (int colour = 0; colour < 2; colour++) {
      ising_sweep_colour_reference(k, spins, colour, (uint64_t)s, &stats);
      double h0 = MPI_Wtime();
      ising_halo_exchange(halo, spins);
      t.halo += MPI_Wtime() - h0;
    }
  t.total = MPI_Wtime() - t0;
  t.cpu = cpu_seconds() - c0;
  return reduce_timing(t, comm);
}

/* ---- multi-spin coding (experiment): 2D, one rank, periodic, equal bonds J on both axes, no field,
 * Metropolis.  Each row's sites of even and of odd x are packed into bits (1 = spin -1), 64 to a word, so a
 * colour of a row is one array of words: its four neighbour words are the other parity of the same row (once
 * shifted by a bit) and the same parity of the rows above and below.  The count b of anti-aligned neighbours
 * (0..4) comes out of bitwise full adders as three bit planes; the random numbers are the production ones
 * (ising_rng_halves2: the high halves of both parities of a row from each Philox block once), compared 32 at a
 * time against the high half of T - 1 for each b whose T is neither 0 nor 2^32 (two classes for a
 * ferromagnet), lo drawn where hi ties.  Colour 1 of row y - 1 follows colour 0 of row y, so the halves of a
 * row are used while in L1; the spins must come out bit-identical to the production kernel's. */
typedef struct {
  int L, words;                  /* sites per axis; words per parity row (L / 128) */
  uint64_t *bits;                /* [L][2][words]: row y, parity p (x = 2 j + p), bit j % 64 of word j / 64 */
  uint16_t *hi;                  /* 3 rows of [2][L / 2] high halves: row y at (y % 2), row 0 kept in slot 2 */
  uint32_t hm1[5];               /* per anti-aligned count b: high half of T - 1 */
  uint16_t lom1[5];              /* its low half */
  uint64_t all[5], cmp[5];       /* per b: always accepted (all ones), or compared (all ones) */
  int64_t changed, sflip, nb[5]; /* tallies: flips, sum of s over them, flips per b */
} msc_lattice;

static void msc_pack(msc_lattice *m, const ising_geometry *g, int8_t *spins, int unpack)
{
  for (int y = 0; y < m->L; y++) {
    size_t row = ising_geometry_index(g, 0, y + 1, 0);
    for (int x = 0; x < m->L; x++) {
      uint64_t *w = m->bits + ((size_t)y * 2 + (size_t)(x & 1)) * (size_t)m->words + (size_t)(x / 2 / 64);
      int b = x / 2 % 64;
      if (unpack)
        spins[row + 1 + (size_t)x] = (*w >> b & 1) ? -1 : 1;
      else
        *w = (*w & ~(UINT64_C(1) << b)) | (uint64_t)(spins[row + 1 + (size_t)x] < 0) << b;
    }
  }
}

/* Bits j of the 64 high halves h[0..64) that are below v and equal to it. */
typedef void (*msc_compare_fn)(const uint16_t *h, uint32_t v, uint64_t *lt, uint64_t *eq);

#if ISING_X86
ISING_TARGET_AVX512 static inline __attribute__((always_inline)) void msc_compare_avx512(const uint16_t *h, uint32_t v,
                                                                                         uint64_t *lt, uint64_t *eq)
{
  __m512i a = _mm512_loadu_si512(h), b = _mm512_loadu_si512(h + 32), t = _mm512_set1_epi16((short)v);
  *lt = (uint64_t)_mm512_cmplt_epu16_mask(a, t) | (uint64_t)_mm512_cmplt_epu16_mask(b, t) << 32;
  *eq = (uint64_t)_mm512_cmpeq_epu16_mask(a, t) | (uint64_t)_mm512_cmpeq_epu16_mask(b, t) << 32;
}
#endif

static inline __attribute__((always_inline)) void msc_compare_scalar(const uint16_t *h, uint32_t v, uint64_t *lt,
                                                                     uint64_t *eq)
{
  uint64_t l = 0, e = 0;
  for (int j = 0; j < 64; j++) {
    l |= (uint64_t)(h[j] < v) << j;
    e |= (uint64_t)(h[j] == v) << j;
  }
  *lt = l;
  *eq = e;
}

/* Updates parity p of row y (its colour's sites) with the high halves h[0 .. L/2) of those sites. */
static inline __attribute__((always_inline)) void msc_row_body(msc_lattice *m, const ising_sweeper *k, int y, int p,
                                                               const uint16_t *h, uint64_t step, msc_compare_fn cmp)
{
  const int W = m->words, L = m->L;
  uint64_t *self = m->bits + ((size_t)y * 2 + (size_t)p) * (size_t)W;
  const uint64_t *other = m->bits + ((size_t)y * 2 + (size_t)(1 - p)) * (size_t)W;
  const uint64_t *up = m->bits + ((size_t)((y + 1) % L) * 2 + (size_t)p) * (size_t)W;
  const uint64_t *down = m->bits + ((size_t)((y + L - 1) % L) * 2 + (size_t)p) * (size_t)W;
  int64_t changed = 0, sflip = 0, nb[5] = {0, 0, 0, 0, 0};
  for (int w = 0; w < W; w++) {
    uint64_t h0, h1; /* the horizontal neighbours: x - 1 and x + 1 */
    if (p == 0) {    /* x = 2j: x - 1 is odd site j - 1, x + 1 odd site j */
      h0 = other[w] << 1 | other[w ? w - 1 : W - 1] >> 63;
      h1 = other[w];
    } else { /* x = 2j + 1: x - 1 is even site j, x + 1 even site j + 1 */
      h0 = other[w];
      h1 = other[w] >> 1 | other[w + 1 < W ? w + 1 : 0] << 63;
    }
    const uint64_t s = self[w], d0 = s ^ h0, d1 = s ^ h1, d2 = s ^ up[w], d3 = s ^ down[w];
    const uint64_t s1 = d0 ^ d1, c1 = d0 & d1, s2 = d2 ^ d3, c2 = d2 & d3;
    const uint64_t b0 = s1 ^ s2, cy = s1 & s2, t0 = c1 ^ c2 ^ cy, t1 = (c1 & c2) | (cy & (c1 ^ c2));
    const uint64_t is[5] = {~b0 & ~t0 & ~t1, b0 & ~t0, ~b0 & t0, b0 & t0, t1};
    uint64_t flip = 0;
    for (int b = 0; b < 5; b++) { /* unrolled: the classes compared are those with 0 < T < 2^32 */
      uint64_t acc = m->all[b];
      if (m->cmp[b]) {
        uint64_t lt, eq;
        cmp(h + 64 * w, m->hm1[b], &lt, &eq);
        for (uint64_t tie = eq & is[b]; __builtin_expect(tie != 0, 0); tie &= tie - 1) { /* lo decides */
          int j = __builtin_ctzll(tie);
          uint64_t site = (uint64_t)y * (uint64_t)L + (uint64_t)(2 * (64 * w + j) + p);
          lt |= (uint64_t)(ising_rng_site_lo(k->seed, k->stream, step, site) <= m->lom1[b]) << j;
        }
        acc = lt;
      }
      const uint64_t f = is[b] & acc;
      nb[b] += __builtin_popcountll(f);
      flip |= f;
    }
    changed += __builtin_popcountll(flip);
    sflip += __builtin_popcountll(flip & ~s) - __builtin_popcountll(flip & s);
    self[w] = s ^ flip;
  }
  m->changed += changed;
  m->sflip += sflip;
  for (int b = 0; b < 5; b++) m->nb[b] += nb[b];
}

#if ISING_X86
ISING_TARGET_AVX512 static void msc_row_avx512(msc_lattice *m, const ising_sweeper *k, int y, int p, const uint16_t *h,
                                               uint64_t step)
{
  msc_row_body(m, k, y, p, h, step, msc_compare_avx512);
}
#endif

static void msc_row_scalar(msc_lattice *m, const ising_sweeper *k, int y, int p, const uint16_t *h, uint64_t step)
{
  msc_row_body(m, k, y, p, h, step, msc_compare_scalar);
}

static void msc_row(msc_lattice *m, const ising_sweeper *k, int y, int p, const uint16_t *h, uint64_t step, int avx512)
{
#if ISING_X86
  if (avx512) {
    msc_row_avx512(m, k, y, p, h, step);
    return;
  }
#endif
  (void)avx512;
  msc_row_scalar(m, k, y, p, h, step);
}

static void msc_sweep(msc_lattice *m, const ising_sweeper *k, uint64_t step, int avx512)
{
  const int L = m->L, half = L / 2;
  uint16_t *slot[3] = {m->hi, m->hi + L, m->hi + 2 * L}; /* each [2][L / 2]: even sites, then odd */
  for (int y = 0; y < L; y++) {
    uint16_t *h = y == 0 ? slot[2] : slot[y % 2];
    ising_rng_halves2(k->simd, k->seed, k->stream, step, (uint64_t)y * (uint64_t)L / 8, (size_t)L / 8, h, h + half);
    msc_row(m, k, y, y & 1, h + (y & 1) * half, step, avx512); /* colour 0: x = y mod 2 */
    if (y >= 2) {                                              /* colour 1 of the row below: x = y mod 2 */
      const uint16_t *hb = slot[(y - 1) % 2];
      msc_row(m, k, y - 1, y & 1, hb + (y & 1) * half, step, avx512);
    }
  }
  msc_row(m, k, L - 1, L & 1, slot[(L - 1) % 2] + (L & 1) * half, step, avx512);
  msc_row(m, k, 0, 1, slot[2] + half, step, avx512);
}

/* Whether the experiment applies: one rank, 2D periodic L x L with L a multiple of 128, equal bonds, no field,
 * Metropolis (and not a chain). */
static int msc_applies(const ising_geometry *g, const ising_couplings *c, const ising_sweeper *k)
{
  return g->size == 1 && g->dim == 2 && g->L[0] == g->L[1] && g->L[0] % 128 == 0 && g->periodic[0] && g->periodic[1] &&
         c->uniform_bonds && c->J[0] == c->J[1] && c->uniform_field && c->field == 0.0 &&
         k->alg == ISING_ALGORITHM_METROPOLIS && !k->half_ties && !k->force_ties;
}

/* Times sweeps of the experiment from spins (the production run's start) and leaves the result in spins. */
static timing time_msc(const ising_sweeper *k, const ising_geometry *g, const ising_couplings *c, int8_t *spins,
                       int sweeps, int *ok)
{
  msc_lattice m = {.L = (int)g->L[0], .words = (int)g->L[0] / 128};
  m.bits = calloc((size_t)m.L * 2 * (size_t)m.words, sizeof(uint64_t));
  m.hi = malloc(sizeof(uint16_t) * 3 * (size_t)m.L);
  timing t = {0, 0, 0, 1};
  *ok = m.bits && m.hi;
  if (*ok) {
    for (int b = 0; b < 5; b++) { /* s = +1 with 4 - b aligned neighbours: s h = J (4 - 2 b) */
      uint64_t T = ising_sweep_threshold(k, 1, c->J[0] * (double)(4 - 2 * b));
      m.all[b] = T >> 32 ? ~UINT64_C(0) : 0;
      m.cmp[b] = T > 0 && !(T >> 32) ? ~UINT64_C(0) : 0;
      m.hm1[b] = T > 0 ? (uint32_t)((T - 1) >> 16) : 0;
      m.lom1[b] = (uint16_t)(T > 0 ? (T - 1) & 0xffff : 0);
    }
    int avx512 = 0;
#if ISING_X86
    avx512 = k->simd == ISING_SIMD_AVX512;
#endif
    msc_pack(&m, g, spins, 0);
    double t0 = MPI_Wtime(), c0 = cpu_seconds();
    for (int s = 0; s < sweeps; s++) msc_sweep(&m, k, (uint64_t)s, avx512);
    t.total = MPI_Wtime() - t0;
    t.cpu = cpu_seconds() - c0;
    msc_pack(&m, g, spins, 1);
  }
  free(m.bits);
  free(m.hi);
  return t;
}

static int list_has(const char *list, const char *item)
{
  char buf[256];
  char *save = NULL;
  snprintf(buf, sizeof(buf), "%s", list);
  for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
    if (!strcmp(tok, item)) return 1;
  return 0;
}

/* Every item of the comma-separated list is one of allowed's (and there is at least one). */
static int list_within(const char *list, const char *allowed)
{
  char buf[256];
  char *save = NULL;
  int n = 0;
  snprintf(buf, sizeof(buf), "%s", list);
  for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save), n++)
    if (!list_has(allowed, tok)) return 0;
  return n > 0;
}

/* The lattice of a case: size^dim, or with -bench_weak the last axis times the number of ranks (every rank
 * then holds one size^dim block, split along that axis by the default process grid). */
static void case_lattice(char *lattice, size_t len, int dim, int size, int weak, int nranks)
{
  int last = weak ? size * nranks : size;
  if (dim == 2)
    snprintf(lattice, len, "%d,%d", size, last);
  else
    snprintf(lattice, len, "%d,%d,%d", size, size, last);
}

static int bench_case(int dim, int size, int weak, const char *couplings, const char *alg, int sweeps, int nranks,
                      int reference)
{
  char lattice[64], beta[32];
  case_lattice(lattice, sizeof(lattice), dim, size, weak, nranks);
  snprintf(beta, sizeof(beta), "%g", dim == 2 ? 0.44 : 0.2217);
  PetscOptionsSetValue(NULL, "-lattice_size", lattice);
  PetscOptionsSetValue(NULL, "-couplings", couplings);
  PetscOptionsSetValue(NULL, "-algorithm", alg);
  PetscOptionsSetValue(NULL, "-beta", beta);
  PetscOptionsSetValue(NULL, "-quiet", "1");
  ising_params p;
  ising_geometry g;
  ising_couplings c;
  if (ising_params_load(PETSC_COMM_WORLD, nranks, &p)) return 1;
  if (ising_geometry_create(PETSC_COMM_WORLD, &p, &g) || ising_couplings_create(&p, &g, &c)) {
    ising_params_free(&p);
    return 1;
  }
  int8_t *spins = malloc(g.nextended), *copy = malloc(g.nextended);
  if (ising_check(g.comm, !spins || !copy, "out of memory for %zu spins", g.nextended)) {
    free(spins);
    free(copy);
    return 1;
  }
  ising_halo halo;
  ising_halo_create(&g, MPI_INT8_T, &halo);
  ising_sweeper k;
  ising_sweeper_init(&k, &g, &c, p.algorithm, p.beta[0], p.seed, ISING_STREAM_DYNAMICS);
  ising_spins_init(&g, p.seed, ISING_STREAM_INIT, 0, p.hot_start, spins);
  ising_halo_exchange(&halo, spins);
  memcpy(copy, spins, g.nextended);
  /* the multi-spin-coding experiment starts from the same spins (its own copy) */
  const int msc = msc_applies(&g, &c, &k);
  int8_t *start = msc ? malloc(g.nextended) : NULL;
  if (start) memcpy(start, spins, g.nextended);

  timing t[7] = {time_production(&k, &halo, spins, sweeps, g.comm)};
  if (reference) t[1] = time_reference(&k, &halo, copy, sweeps, g.comm);
  t[2] = time_philox(&k, sweeps, g.comm);
  t[3] = time_memory(&k, spins, sweeps, g.comm);
  t[4] = time_measure(&g, &c, spins, sweeps);
  t[5] = time_exchange(&k, &halo, spins, sweeps, g.comm); /* the spins and their halos are current: no change */
  int same = !reference || memcmp(spins, copy, g.nextended) == 0, all_same, msc_ok = 0;
  if (start) { /* one rank: no collective */
    t[6] = time_msc(&k, &g, &c, start, sweeps, &msc_ok);
    ising_halo_exchange(&halo, start); /* the production sweep leaves its halo current */
    msc_ok = msc_ok && memcmp(spins, start, g.nextended) == 0;
    same = same && msc_ok;
  }
  MPI_Allreduce(&same, &all_same, 1, MPI_INT, MPI_LAND, g.comm);

  double attempts = (double)sweeps * (double)g.nsites;
  if (g.rank == 0) {
    const char *names[7] = {k.kernel == ISING_KERNEL_GENERAL ? "general" : "table",
                            "reference",
                            "philox",
                            "memory",
                            "measure",
                            "exchange",
                            "msc"};
    char layout[64];
    if (dim == 2)
      snprintf(layout, sizeof(layout), "grid %dx%d", g.grid[0], g.grid[1]);
    else
      snprintf(layout, sizeof(layout), "grid %dx%dx%d", g.grid[0], g.grid[1], g.grid[2]);
    if (ising_sweep_fused_ok(&k)) strncat(layout, ", fused", sizeof(layout) - strlen(layout) - 1);
    if (g.speeds) strncat(layout, ", balanced", sizeof(layout) - strlen(layout) - 1);
    for (int j = 0; j < 7; j++) {
      if ((j == 1 && !reference) || (j == 6 && !start)) continue;
      printf("%dD %-5d %-8s %-10s %-10s %3d %9.4f %12.3f %9.3f %8.1f%% %7.2f   %s\n", dim, size, couplings, alg,
             names[j], nranks, attempts / (t[j].total * 1e9), t[j].total * nranks * 1e9 / attempts,
             t[j].cpu * nranks * 1e9 / attempts, 100.0 * t[j].halo / t[j].total, t[j].slowest,
             j == 0   ? layout
             : j == 6 ? (msc_ok ? "identical (to production)" : "DIFFERENT")
             : j != 1 ? ""
                      : (all_same ? "identical" : "DIFFERENT"));
    }
    if (g.speeds) { /* -balance: the speeds and the blocks of the split axes (the first 16) */
      printf("   rank speeds");
      for (int r = 0; r < g.size && r < 16; r++) printf(" %.3f", g.speeds[r]);
      printf("%s; sites per block", g.size > 16 ? " ..." : "");
      for (int d = 0; d < g.dim; d++)
        for (int c = 0; c < g.grid[d] && c < 16 && g.grid[d] > 1; c++)
          printf("%s%lld", c ? " " : (const char *[]){" x ", " y ", " z "}[d],
                 (long long)(g.cut[d][c + 1] - g.cut[d][c]));
      printf("\n");
    }
    fflush(stdout);
  }
  free(spins);
  free(copy);
  free(start);
  ising_halo_free(&halo);
  ising_couplings_free(&c);
  ising_geometry_free(&g);
  ising_params_free(&p);
  return all_same ? 0 : 1;
}

/* One mean-field sweep (both colours, halo exchanges) reads m and the
 * couplings/fields and writes m; its effective bandwidth counts those bytes
 * once per sweep and is compared with copying the same arrays. */
static int bench_meanfield(int dim, int size, int weak, const char *couplings, int sweeps, int nranks)
{
  char lattice[64];
  case_lattice(lattice, sizeof(lattice), dim, size, weak, nranks);
  PetscOptionsSetValue(NULL, "-lattice_size", lattice);
  PetscOptionsSetValue(NULL, "-couplings", couplings);
  PetscOptionsSetValue(NULL, "-algorithm", "metropolis");
  PetscOptionsSetValue(NULL, "-beta", dim == 2 ? "0.3" : "0.2");
  PetscOptionsSetValue(NULL, "-quiet", "1");
  ising_params p;
  ising_geometry g;
  ising_couplings c;
  if (ising_params_load(PETSC_COMM_WORLD, nranks, &p)) return 1;
  if (ising_geometry_create(PETSC_COMM_WORLD, &p, &g) || ising_couplings_create(&p, &g, &c)) return 1;
  size_t n = g.nextended, arrays = 1 + (c.uniform_bonds ? 0 : (size_t)g.dim) + (c.uniform_field ? 0 : 1);
  double *m = calloc(n, sizeof(double)), *scratch = malloc(n * sizeof(double));
  if (ising_check(g.comm, !m || !scratch, "out of memory")) {
    free(m);
    free(scratch);
    return 1;
  }
  for (size_t i = 0; i < n; i++) m[i] = 0.5;
  ising_halo halo;
  ising_halo_create(&g, MPI_DOUBLE, &halo);
  MPI_Barrier(g.comm);
  double t0 = MPI_Wtime(), change;
  for (int s = 0; s < sweeps; s++)
    for (int colour = 0; colour < 2; colour++) {
      ising_mf_sweep_colour(&g, &c, p.beta[0], 0.0, m, colour, &change);
      ising_halo_exchange(&halo, m);
    }
  double t_sweep = MPI_Wtime() - t0;
  MPI_Barrier(g.comm);
  t0 = MPI_Wtime();
  for (int s = 0; s < sweeps; s++) {
    memcpy(scratch, m, n * sizeof(double));
    memcpy(m, scratch, n * sizeof(double)); /* m read and written, like the sweep */
    for (int d = 0; d < g.dim && !c.uniform_bonds; d++) memcpy(scratch, c.Jp[d], n * sizeof(double));
    if (!c.uniform_field) memcpy(scratch, c.h, n * sizeof(double));
  }
  double t_copy = MPI_Wtime() - t0, in[2] = {t_sweep, t_copy}, out[2];
  MPI_Allreduce(in, out, 2, MPI_DOUBLE, MPI_MAX, g.comm);
  /* bytes per sweep: m read + written, each coupling/field array read */
  double bytes = (double)sweeps * (double)g.nlocal * 8.0 * (double)(arrays + 1) * nranks;
  if (g.rank == 0)
    printf("%dD %-5d %-8s mean-field sweep  %3d %8.2f GB/s  copy of the same arrays %8.2f GB/s  ratio %5.1f%%  "
           "%.2f ns/site/core\n",
           dim, size, couplings, nranks, bytes / out[0] * 1e-9, bytes / out[1] * 1e-9, 100.0 * out[1] / out[0],
           out[0] * nranks * 1e9 / ((double)sweeps * (double)g.nsites));
  free(m);
  free(scratch);
  ising_halo_free(&halo);
  ising_couplings_free(&c);
  ising_geometry_free(&g);
  ising_params_free(&p);
  return 0;
}

int main(int argc, char **argv)
{
  if (PetscInitialize(&argc, &argv, NULL, NULL)) return ISING_EXIT_RUNTIME;
  ising_timers_init(); /* the production clock for the halo share */
  int nranks, rank;
  MPI_Comm_size(PETSC_COMM_WORLD, &nranks);
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  PetscInt sweeps = 5, size2 = 4096, size3 = 256;
  char cases[64] = "2d,3d", couplings[64] = "uniform,pm", algs[64] = "metropolis,heatbath";
  PetscBool mf = PETSC_TRUE, reference = PETSC_TRUE, weak = PETSC_FALSE;
  /* all read before the first case, whose parameter check rejects options nobody has read yet */
  PetscOptionsGetInt(NULL, NULL, "-bench_sweeps", &sweeps, NULL);
  PetscOptionsGetInt(NULL, NULL, "-bench_size2d", &size2, NULL);
  PetscOptionsGetInt(NULL, NULL, "-bench_size3d", &size3, NULL);
  PetscOptionsGetString(NULL, NULL, "-bench_cases", cases, sizeof(cases), NULL);
  PetscOptionsGetString(NULL, NULL, "-bench_couplings", couplings, sizeof(couplings), NULL);
  PetscOptionsGetString(NULL, NULL, "-bench_algorithms", algs, sizeof(algs), NULL);
  PetscOptionsGetBool(NULL, NULL, "-bench_meanfield", &mf, NULL);
  PetscOptionsGetBool(NULL, NULL, "-bench_reference", &reference, NULL);
  PetscOptionsGetBool(NULL, NULL, "-bench_weak", &weak, NULL);
  int bad =
      ising_check(PETSC_COMM_WORLD, sweeps < 1, "option -bench_sweeps: '%d'; must be an integer >= 1", (int)sweeps);
  bad = bad || ising_check(PETSC_COMM_WORLD, size2 < 2 || size2 > 1 << 20,
                           "option -bench_size2d: '%d'; must be an integer in [2, 1048576]", (int)size2);
  bad = bad || ising_check(PETSC_COMM_WORLD, size3 < 2 || size3 > 1 << 12,
                           "option -bench_size3d: '%d'; must be an integer in [2, 4096]", (int)size3);
  bad = bad || ising_check(PETSC_COMM_WORLD, !list_within(cases, "2d,3d"),
                           "option -bench_cases: '%s'; allowed: a comma-separated list of 2d, 3d", cases);
  bad = bad || ising_check(PETSC_COMM_WORLD, !list_within(couplings, "uniform,pm,gaussian"),
                           "option -bench_couplings: '%s'; allowed: a comma-separated list of uniform, pm, gaussian",
                           couplings);
  bad = bad || ising_check(PETSC_COMM_WORLD, !list_within(algs, "metropolis,heatbath,none"),
                           "option -bench_algorithms: '%s'; allowed: a comma-separated list of metropolis, heatbath "
                           "(or none: mean-field sweeps only)",
                           algs);
  if (bad) {
    PetscFinalize();
    return ISING_EXIT_INPUT;
  }
  if (rank == 0)
    printf(
        "production kernels: %s (ISING_SIMD; this CPU supports up to %s)%s\n"
        "lattice     couplings algorithm  kernel  ranks flips/ns  ns/flip/core  cpu ns/flip     halo slowest   check\n",
        ising_simd_name(ising_simd_default()), ising_simd_name(ising_simd_supported()),
        weak ? "; weak scaling: the last axis times the number of ranks" : "");
  int fail = 0;
  const char *const cpl[3] = {"uniform", "pm", "gaussian"}, *const alg[2] = {"metropolis", "heatbath"};
  for (int d = 2; d <= 3; d++) {
    if (!list_has(cases, d == 2 ? "2d" : "3d")) continue;
    for (int ci = 0; ci < 3; ci++)
      for (int ai = 0; ai < 2; ai++)
        if (list_has(couplings, cpl[ci]) && list_has(algs, alg[ai]))
          fail |= bench_case(d, (int)(d == 2 ? size2 : size3), weak, cpl[ci], alg[ai], (int)sweeps, nranks, reference);
  }
  for (int d = 2; d <= 3 && mf; d++) {
    if (!list_has(cases, d == 2 ? "2d" : "3d")) continue;
    for (int ci = 0; ci < 3; ci++)
      if (list_has(couplings, cpl[ci]))
        fail |= bench_meanfield(d, (int)(d == 2 ? size2 : size3), weak, cpl[ci], (int)sweeps, nranks);
  }
  PetscFinalize();
  return fail ? ISING_EXIT_RUNTIME : 0;
}
