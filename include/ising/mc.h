/* mc.h: the Monte Carlo task (-task mc): checkerboard Metropolis or
 * heat-bath sweeps of the decomposed lattice at each temperature of the run
 * in turn, measurements, snapshots, error analysis, exact values beside
 * the estimates, all written to the run's HDF5 file as they are finished.
 *
 *   void ising_spins_init(const ising_params *p, const ising_geometry *g, int8_t *spins)
 *       Local.  Hot (keyed by (seed, ISING_STREAM_INIT, 0, site)) or cold
 *       start of the interior; the halo is zeroed and must be exchanged.
 *   void ising_mc_sweep(ising_sweeper *k, ising_halo *halo, int8_t *spins, uint64_t step, int64_t *changed)
 *       Collective.  One sweep: colour 0, halo exchange, colour 1, halo
 *       exchange.  Adds the number of changed spins of this rank to *changed.
 *   int ising_mc_run(const ising_params *p, const ising_geometry *g, const ising_couplings *c,
 *                    ising_io *io, ising_freeenergy *fe)
 *       Collective.  Runs every temperature and writes /observables,
 *       /timeseries, /snapshots, /state, with the exact values from fe
 *       beside the estimates.  Returns 0, or ISING_EXIT_RUNTIME after a
 *       message.
 */
#ifndef ISING_MC_H
#define ISING_MC_H

#include "ising/couplings.h"
#include "ising/freeenergy.h"
#include "ising/geometry.h"
#include "ising/halo.h"
#include "ising/io.h"
#include "ising/params.h"
#include "ising/sweep.h"

#include <stdint.h>

void ising_spins_init(const ising_params *p, const ising_geometry *g, int8_t *spins);
void ising_mc_sweep(ising_sweeper *k, ising_halo *halo, int8_t *spins, uint64_t step, int64_t *changed);
int ising_mc_run(const ising_params *p, const ising_geometry *g, const ising_couplings *c, ising_io *io,
                 ising_freeenergy *fe);

#endif
