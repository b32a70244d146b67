/* quench.h: coarsening after a quench, -task quench.
 *
 * Each of -quench_histories histories starts from a random (infinite-
 * temperature) state keyed by (seed, ISING_STREAM_QUENCH_INIT, h, site) and
 * runs -quench_sweeps checkerboard sweeps at -quench_beta (inf: zero
 * temperature, ties decided by a fair coin, sweep.h) with the dynamics keyed
 * by (seed, ISING_STREAM_QUENCH, (h << 32) | t, site).  At each measurement
 * time (-quench_times, or log-spaced) it records the exact energy and
 * magnetisation, the number of unsatisfied bonds (J_ij s_i s_j < 0) and,
 * with -quench_structure_factor, the circularly averaged structure factor
 * (structure.h).  Averages over histories come with error bars: the spread
 * over independent histories for means, the jackknife over histories for
 * the domain lengths
 *     L_E = N_bonds / <unsatisfied bonds>      (the inverse density of domain
 *         walls; for the uniform ferromagnet at h = 0, e - e_inf = 2 J
 *         unsatisfied / N, so L_E is proportional to 1 / (e - e_inf)),
 *     L_S = 2 pi <sum_b S_b> / <sum_b k_b S_b>  (the first moment of the
 *         circular average: S_b the mean of S(k) over shell b, k_b its mean
 *         |k|, shells b >= 1 with k_b <= pi; the average over shells rather
 *         than over modes keeps the k^-(d+1) Porod tail from adding a
 *         logarithm).
 * History 0's spins are written at every measurement time
 * (-quench_snapshots).  Every number is bit-identical on any number of ranks
 * and any process grid.  The averages are rewritten after every history, so
 * a long run that is stopped keeps the histories it finished.  With
 * -rebalance the blocks move between sweeps (rebalance.h); the
 * structure-factor plan is rebuilt for the new blocks.
 *
 *   int ising_quench_run(const ising_params *p, const ising_geometry *g, const ising_couplings *c,
 *                        ising_io *io)
 *       Collective.  Writes /quench.  Returns 0 or ISING_EXIT_RUNTIME.
 */
#ifndef ISING_QUENCH_H
#define ISING_QUENCH_H

#include "ising/couplings.h"
#include "ising/geometry.h"
#include "ising/io.h"
#include "ising/params.h"

int ising_quench_run(const ising_params *p, const ising_geometry *g, const ising_couplings *c, ising_io *io);

#endif
