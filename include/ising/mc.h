/* mc.h: the Monte Carlo task (-task mc): checkerboard Metropolis or
 * heat-bath sweeps of the decomposed lattice at each temperature of the run
 * in turn, measurements, snapshots, error analysis, exact values beside
 * the estimates, all written to the run's HDF5 file as they are finished.
 *
 *   void ising_spins_init(const ising_geometry *g, uint64_t seed, uint32_t stream, uint64_t step, int hot,
 *                         int8_t *spins)
 *       Local.  Hot start of the interior, s_i = +1 iff word 0 of (seed,
 *       stream, step, site) is odd, or cold (all +1) when !hot; the halo is
 *       zeroed and must be exchanged.  Monte Carlo uses (ISING_STREAM_INIT,
 *       0), tempering replica r (ISING_STREAM_INIT, r), annealing restart r
 *       (ISING_STREAM_ANNEAL_INIT, r).
 *   void ising_mc_sweep(ising_sweeper *k, ising_halo *halo, int8_t *spins, uint64_t step, ising_sweep_stats *acc)
 *       Collective.  One sweep: colour 0, halo exchange, colour 1, halo
 *       exchange.  Adds this rank's changed spins and energy change to acc.
 *   int ising_mc_run(const ising_params *p, const ising_geometry *g, const ising_couplings *c,
 *                    ising_io *io, ising_freeenergy *fe, ising_checkpoint *ck)
 *       Collective.  Runs every temperature and writes /observables,
 *       /timeseries, /snapshots, /state, with the exact values from fe
 *       beside the estimates.  Polls ck after every sweep, writes /mc of a
 *       checkpoint when asked, and continues from one on restart.  Returns
 *       0, ISING_EXIT_INTERRUPTED after the checkpoint of a signal,
 *       ISING_EXIT_INPUT for an inconsistent restart state, or
 *       ISING_EXIT_RUNTIME after a message.
 *
 * Shared with the tempering task, which measures per temperature slot:
 *   int ising_mc_create_observables(const ising_params *p, int have_exact, ising_io *io)
 *       Collective.  Creates /observables (one entry per beta, NaN-filled,
 *       *_exact datasets when have_exact) and /timeseries/{energy,
 *       magnetization} [measurement, beta].  Returns 0 or -1.
 *   int ising_mc_finish_temperature(const ising_params *p, ising_io *io, ising_freeenergy *fe, int k,
 *                                   const double *e, const double *m, double acceptance, int series,
 *                                   int print, ising_estimates *out)
 *       Collective.  Error analysis of temperature k's time series (read
 *       on rank 0 only, the other ranks may pass NULL: both tasks keep
 *       them on rank 0 alone), writes its /observables entries, the
 *       exact values and, when series, its time-series column, flushes;
 *       prints the summary when print; the estimates also go to *out unless
 *       out is NULL.  Returns 0 or -1.
 *   int ising_mc_write_series(const ising_params *p, ising_io *io, const double *e, const double *m)
 *       Collective.  Every temperature's time series at once (e[k nmeas + i],
 *       read on rank 0 only), in blocks of whole rows of /timeseries:
 *       a column is a strided selection, for which MPI-IO reads and rewrites
 *       the whole span of the dataset, once per temperature.  Flushes.
 *   int ising_mc_write_slots(ising_io *io, const char *path, int64_t K, int64_t nmeas, const double *src)
 *       Collective.  The same for one existing [nmeas, K] dataset from
 *       src[k nmeas + i] (read on rank 0 only), through an 8 MiB buffer.
 *       Returns 0 or -1.
 *   void ising_mc_print_temperature(FILE *out, double beta, const ising_estimates *e, double acceptance,
 *                                   int have_exact, const ising_exact_result *x)
 *       Local.  The human-readable summary of one temperature.
 */
#ifndef ISING_MC_H
#define ISING_MC_H

#include "ising/checkpoint.h"
#include "ising/couplings.h"
#include "ising/freeenergy.h"
#include "ising/geometry.h"
#include "ising/halo.h"
#include "ising/io.h"
#include "ising/params.h"
#include "ising/stats.h"
#include "ising/sweep.h"

#include <stdio.h>

#include <stdint.h>

void ising_spins_init(const ising_geometry *g, uint64_t seed, uint32_t stream, uint64_t step, int hot, int8_t *spins);
void ising_mc_sweep(ising_sweeper *k, ising_halo *halo, int8_t *spins, uint64_t step, ising_sweep_stats *acc);
int ising_mc_run(const ising_params *p, const ising_geometry *g, const ising_couplings *c, ising_io *io,
                 ising_freeenergy *fe, ising_checkpoint *ck);
int ising_mc_create_observables(const ising_params *p, int have_exact, ising_io *io);
int ising_mc_finish_temperature(const ising_params *p, ising_io *io, ising_freeenergy *fe, int k, const double *e,
                                const double *m, double acceptance, int series, int print, ising_estimates *out);
int ising_mc_write_series(const ising_params *p, ising_io *io, const double *e, const double *m);
int ising_mc_write_slots(ising_io *io, const char *path, int64_t K, int64_t nmeas, const double *src);
void ising_mc_print_temperature(FILE *out, double beta, const ising_estimates *e, double acceptance, int have_exact,
                                const ising_exact_result *x);

#endif
