/* sweep.h: checkerboard Metropolis and heat-bath updates of one colour of a
 * local block.  Pure computation on arrays: no MPI.  The caller exchanges the
 * halo between the colours.
 *
 * Site i of colour c draws the 32-bit r = ising_rng_site(seed, stream, step, i)
 * = 2^16 hi + lo (i the global site number; rng.h) and
 *   Metropolis: flips iff r < T(p), p = exp(-beta dE), dE = 2 s_i h_i^loc;
 *   heat bath:  sets s_i = +1 iff r < T(p), p = 1 / (1 + exp(-2 beta h_i^loc));
 * with T(p) = ceil(p 2^32) (2^32 for p >= 1), i.e. r 2^-32 < p exactly, and
 * h_i^loc = h_i + sum_j J_ij s_j.  beta = +inf is zero temperature: p is
 * the limit, with p = 1/2 for dE = 0 (Metropolis) or h^loc = 0 (heat bath),
 * so ties are decided by a fair coin.  On a chain (fewer than two axes with
 * nonzero couplings) Metropolis takes p = 1/2 for dE = 0 at every beta:
 * with p = 1 the checkerboard dynamics conserves the difference of left-
 * and right-moving domain walls and is not ergodic.  Couplings are quantised, so h^loc is exact
 * and the decision is the same whatever the decomposition: the uniform-coupling
 * kernel (lookup tables) and the general one (arrays) give identical spins.
 *
 * Kernels (ising_sweep_colour picks one in ising_sweeper_init; all take
 * bit-identical decisions, checked by test_kernels):
 *   ISING_KERNEL_TABLE     uniform bonds and field: T(p) looked up by the
 *                          neighbour sums (5^dim entries per spin value);
 *   ISING_KERNEL_TABLE_PM  ±J bonds, uniform field: the same table, the
 *                          neighbours' spins multiplied by the bond signs
 *                          (couplings.h negative bits);
 *   ISING_KERNEL_GENERAL   Gaussian bonds or random fields: h^loc from the
 *                          arrays; p is bracketed by a vectorised exp
 *                          (relative error < 1e-8) within a relative band
 *                          (k->band = 2^-20) and only the rare r inside the
 *                          band calls exp, so the decision is the exact one
 *                          (tests widen the band to exercise that path).
 * The fast kernels draw only hi, the 16-bit high half of r: r < T is decided
 * by hi alone unless hi is the high half of T - 1 (or, in the general
 * kernel, the interval [2^16 hi, 2^16 hi + 2^16) meets the band), about one
 * site in 2^16; only there is lo drawn (ising_rng_site_lo) and r compared
 * whole.  The table kernels leave those sites alone in the vector loop and
 * decide them after it with the scalar kernel (a colour's sites do not see
 * each other); tests set k->force_ties to send every site that way.
 * Each walks a row one colour at a time: the high halves of the row's
 * sites of that colour come from the vectorised Philox (ising_rng_halves),
 * the update runs on 32 (AVX-512), 16 (AVX2) or 1 (scalar) sites at once
 * with the table kernels, on 8 (AVX-512), 4 (AVX2) or 1 with the general one
 * (at zero temperature and with half_ties always 1: the exact scalar path).
 * The instruction set is k->simd, set from ising_simd_default() (the
 * ISING_SIMD environment variable selects a narrower one for testing).
 *
 *   void ising_sweeper_init(ising_sweeper *k, const ising_geometry *g, const ising_couplings *c,
 *                           ising_algorithm alg, double beta, uint64_t seed, uint32_t stream)
 *       Local.  Prepares the tables for one temperature.
 *   void ising_sweep_colour(const ising_sweeper *k, int8_t *spins, int colour, uint64_t step,
 *                           ising_sweep_stats *acc)
 *       Local.  Updates the sites of one colour; adds to acc how many spins
 *       changed, the exact energy change 2 s_i h_i^loc of each change
 *       (units of 2^-32) and the change of the sum of the spins (-2 s_i
 *       each), so callers can track energy and magnetisation without a pass
 *       over the lattice.
 *   void ising_sweep_colour_reference(...)
 *       Local.  Same result through the plain general kernel (exp per site);
 *       the yardstick of tests and benchmarks.
 *   void ising_sweep_fused(const ising_sweeper *k, int8_t *spins, uint64_t step, void (*begin)(void *),
 *                          void (*end)(void *), void *ctx, ising_sweep_stats *acc)
 *       Local (the callbacks may communicate).  The same as colour 0, a halo
 *       exchange, colour 1, in one pass over the rows: colour 0 of the rows
 *       next to the halo first, then begin(ctx) (the exchange of axes y and
 *       z may start: those faces are final and nothing reads the halo until
 *       end), then every other row, colour 1 a few rows behind colour 0 so
 *       that each Philox block is computed once for both colours and the
 *       rows are still in cache (the rows go in batches of up to 16: one
 *       Philox call per run of them and one kernel call per colour, so
 *       short rows do not pay a call per row), then end(ctx) (the halo
 *       must be complete when it returns), then colour 1 of the rows next
 *       to the halo (with the words drawn for their colour 0).  The order,
 *       the batches, their segments and Philox calls depend only on the
 *       geometry: they are worked out once into a plan, kept for the last
 *       geometry swept (a different one replaces it; it is freed when the
 *       process ends), so a sweep does no bookkeeping per row.  The x halo is filled here, for both colours (periodic
 *       x wraps within the row), so the rank must own whole rows: call it
 *       only where ising_sweep_fused_ok(k) (2D and 3D, one rank along x,
 *       rows short enough for the buffer).  The caller exchanges the y and z halos
 *       afterwards, as after colour 1.
 *       Bit-identical to the colour-by-colour order (test_kernels).
 *   uint32_t ising_sweep_words(const ising_sweeper *k, uint64_t step, int fused)
 *       Local.  Generates the random numbers (hi) of one sweep exactly as the
 *       colour-by-colour kernels (fused = 0) or ising_sweep_fused (fused =
 *       1) do, and nothing else: the random-number cost for the benchmark.
 *       Returns a word of them (so the work cannot be optimised away).
 *   uint64_t ising_sweep_threshold(const ising_sweeper *k, int s, double hloc)
 *       Local.  T of a site with spin s and local field hloc, as every kernel
 *       decides it: the update is made iff the site's 32-bit random word r
 *       (ising_rng_site) is below T (T = 2^32: always).  For the benchmark's
 *       multi-spin-coding experiment.
 */
#ifndef ISING_SWEEP_H
#define ISING_SWEEP_H

#include "ising/couplings.h"
#include "ising/geometry.h"
#include "ising/params.h"
#include "ising/rng.h"

#include <stdint.h>

#define ISING_TABLE_SIZE 125 /* 5^3 neighbour-sum combinations */

typedef enum { ISING_KERNEL_TABLE, ISING_KERNEL_TABLE_PM, ISING_KERNEL_GENERAL } ising_kernel;
/* How the AVX-512 table kernel finds thresholds: permutes of a 64-entry table indexed by the neighbour sums
 * (5 values per axis, 1D and 2D; 3 values per axis, 3D without open axes), or four permutes of a 256-entry one
 * (3D with an open axis: 5 values per axis; gathers were 1.5x slower where they are microcoded).  ISO: in 2D and
 * 3D with the same bond magnitude on every axis, h^loc depends only on the total k = sum_d k_d (-2 dim .. 2 dim),
 * so one permute of a 32-entry table indexed by k + 2 dim (+ 4 dim + 1 for s = +1), whatever the boundaries.
 * Under Metropolis with no field the acceptance depends only on s k (dE = 2 J s k), and the AVX-512 and AVX2
 * kernels index a 4 dim + 1 entry table by s k + 2 dim instead (iso_sk), reusing s k for the energy tally. */
typedef enum { ISING_LOOKUP_PERM5, ISING_LOOKUP_PERM3, ISING_LOOKUP_PERM4, ISING_LOOKUP_ISO } ising_lookup;

typedef struct {
  const ising_geometry *g;
  const ising_couplings *c;
  ising_algorithm alg;
  double beta;
  uint64_t seed;
  uint32_t stream;
  int use_table;                            /* a lookup-table kernel (uniform or ±J bonds, uniform field) */
  ising_kernel kernel;                      /* which fast kernel ising_sweep_colour runs */
  ising_simd simd;                          /* its instruction set (tests may lower it after init) */
  double band;                              /* general kernel: relative band deferred to exp (tests widen it) */
  int force_ties;                           /* table kernels: every decision draws lo (tests set it) */
  int half_ties;                            /* Metropolis p = 1/2 for dE = 0: chains, <= 32 spins (sweep.c) */
  uint64_t table[2][ISING_TABLE_SIZE];      /* [s_i == +1][neighbour sums] -> T(p) */
  int64_t flip_energy[2][ISING_TABLE_SIZE]; /* [s_i == +1][neighbour sums] -> 2 s_i h^loc, units of 2^-32 */
  uint32_t tm1[2 * ISING_TABLE_SIZE];       /* max(T, 1) - 1: hi < tm1 >> 16 accepts, > rejects, = draws lo */
  int64_t axis_q[ISING_MAX_DIM], field_q;   /* bond magnitude per axis and field, units of 2^-32 */
  ising_lookup lookup;                      /* table kernels, AVX-512 */
  uint16_t tperm16[256];                    /* tm1 >> 16 by the register index (ising_lookup) */
  int iso_sk;  /* ISO, Metropolis, no field: tperm16[32 + s k + 2 dim], tshuf[.][32 + s k + 2 dim] (see above) */
  int shuffle; /* AVX2 table kernel: thresholds by byte shuffles: 1 every axis periodic, 2 ISO; 0 gathers */
  uint8_t tshuf[2][64]; /* its tables: low, high bytes of tm1 >> 16 (sweep.c table_avx2_body) */
} ising_sweeper;

void ising_sweeper_init(ising_sweeper *k, const ising_geometry *g, const ising_couplings *c, ising_algorithm alg,
                        double beta, uint64_t seed, uint32_t stream);
typedef struct {
  int64_t changed;      /* spins that changed */
  ising_int128 denergy; /* sum of their energy changes, units of 2^-32 */
  int64_t dmag;         /* the change of the sum of the spins (-2 s for each change) */
} ising_sweep_stats;

void ising_sweep_colour(const ising_sweeper *k, int8_t *spins, int colour, uint64_t step, ising_sweep_stats *acc);
void ising_sweep_colour_reference(const ising_sweeper *k, int8_t *spins, int colour, uint64_t step,
                                  ising_sweep_stats *acc);
int ising_sweep_fused_ok(const ising_sweeper *k);
uint32_t ising_sweep_words(const ising_sweeper *k, uint64_t step, int fused);
uint64_t ising_sweep_threshold(const ising_sweeper *k, int s, double hloc);
void ising_sweep_fused(const ising_sweeper *k, int8_t *spins, uint64_t step, void (*begin)(void *), void (*end)(void *),
                       void *ctx, ising_sweep_stats *acc);

#endif
