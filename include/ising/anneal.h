/* anneal.h: simulated annealing and ground states, -task anneal.
 *
 * The Hamiltonian as a loss: each of -anneal_restarts restarts begins from a
 * random state (keyed by (seed, ISING_STREAM_ANNEAL_INIT, restart, site))
 * and runs -anneal_sweeps_per_step checkerboard sweeps at each of
 * -anneal_steps inverse temperatures from -anneal_beta_start to
 * -anneal_beta_end (linear or geometric), with the dynamics keyed by stream
 * ISING_STREAM_ANNEAL0 + restart.  Final energies are exact integers (units
 * of 2^-32), so the lowest energy and how many restarts reached it exactly
 * are well defined; the best configuration (first restart to reach it) is
 * kept.  Where the exact module applies, the exact ground-state energy and
 * degeneracy are written beside them.  Results are bit-identical on any
 * number of ranks.  With -rebalance the blocks (the current and the best
 * spins) move between sweeps (rebalance.h).
 *
 *   int ising_anneal_run(const ising_params *p, const ising_geometry *g, const ising_couplings *c,
 *                        ising_io *io, ising_freeenergy *fe, ising_checkpoint *ck)
 *       Collective.  Writes /ground_state.  Polls ck after every sweep,
 *       writes /anneal of a checkpoint when asked and continues from one on
 *       restart.  Returns 0, ISING_EXIT_INTERRUPTED (after a signal's
 *       checkpoint), ISING_EXIT_INPUT (inconsistent restart state) or
 *       ISING_EXIT_RUNTIME.
 */
#ifndef ISING_ANNEAL_H
#define ISING_ANNEAL_H

#include "ising/checkpoint.h"
#include "ising/couplings.h"
#include "ising/freeenergy.h"
#include "ising/geometry.h"
#include "ising/io.h"
#include "ising/params.h"

int ising_anneal_run(const ising_params *p, const ising_geometry *g, const ising_couplings *c, ising_io *io,
                     ising_freeenergy *fe, ising_checkpoint *ck);

#endif
