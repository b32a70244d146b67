/* sweep.h: checkerboard Metropolis and heat-bath updates of one colour of a
 * local block.  Pure computation on arrays: no MPI.  The caller exchanges the
 * halo between the colours.
 *
 * Site i of colour c draws r = ising_rng_site(seed, stream, step, i) (i the
 * global site number) and
 *   Metropolis: flips iff r < T(p), p = exp(-beta dE), dE = 2 s_i h_i^loc;
 *   heat bath:  sets s_i = +1 iff r < T(p), p = 1 / (1 + exp(-2 beta h_i^loc));
 * with T(p) = ceil(p 2^32) (2^32 for p >= 1), i.e. r 2^-32 < p exactly, and
 * h_i^loc = h_i + sum_j J_ij s_j.  beta = +inf is zero temperature: p is
 * the limit, with p = 1/2 for dE = 0 (Metropolis) or h^loc = 0 (heat bath),
 * so ties are decided by a fair coin.  Couplings are quantised, so h^loc is exact
 * and the decision is the same whatever the decomposition: the uniform-coupling
 * kernel (lookup tables) and the general one (arrays) give identical spins.
 *
 *   void ising_sweeper_init(ising_sweeper *k, const ising_geometry *g, const ising_couplings *c,
 *                           ising_algorithm alg, double beta, uint64_t seed, uint32_t stream)
 *       Local.  Prepares the tables for one temperature.
 *   void ising_sweep_colour(const ising_sweeper *k, int8_t *spins, int colour, uint64_t step,
 *                           ising_sweep_stats *acc)
 *       Local.  Updates the sites of one colour; adds to acc how many spins
 *       changed and the exact energy change 2 s_i h_i^loc of each change
 *       (units of 2^-32), so callers can track the energy without a pass
 *       over the lattice.
 *   void ising_sweep_colour_reference(...)
 *       Local.  Same result through the plain general kernel (exp per site);
 *       the yardstick of tests and benchmarks.
 */
#ifndef ISING_SWEEP_H
#define ISING_SWEEP_H

#include "ising/couplings.h"
#include "ising/geometry.h"
#include "ising/params.h"
#include "ising/rng.h"

#include <stdint.h>

#define ISING_TABLE_SIZE 125 /* 5^3 neighbour-sum combinations */

typedef struct {
  const ising_geometry *g;
  const ising_couplings *c;
  ising_algorithm alg;
  double beta;
  uint64_t seed;
  uint32_t stream;
  int use_table;                            /* uniform bonds and field */
  uint64_t table[2][ISING_TABLE_SIZE];      /* [s_i == +1][neighbour sums] -> T(p) */
  int64_t flip_energy[2][ISING_TABLE_SIZE]; /* [s_i == +1][neighbour sums] -> 2 s_i h^loc, units of 2^-32 */
} ising_sweeper;

void ising_sweeper_init(ising_sweeper *k, const ising_geometry *g, const ising_couplings *c, ising_algorithm alg,
                        double beta, uint64_t seed, uint32_t stream);
typedef struct {
  int64_t changed;      /* spins that changed */
  ising_int128 denergy; /* sum of their energy changes, units of 2^-32 */
} ising_sweep_stats;

void ising_sweep_colour(const ising_sweeper *k, int8_t *spins, int colour, uint64_t step, ising_sweep_stats *acc);
void ising_sweep_colour_reference(const ising_sweeper *k, int8_t *spins, int colour, uint64_t step,
                                  ising_sweep_stats *acc);

#endif
