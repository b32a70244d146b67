/* tempering.h: parallel tempering (replica exchange), -task tempering.
 *
 * K temperatures run at once, one replica each.  The ranks are split
 * (MPI_Comm_split) into groups of -ranks_per_replica ranks; each group holds
 * K / groups replicas, each replica decomposed over the group's ranks with
 * the run's usual geometry (with -balance, blocks sized for the group's
 * ranks; with two replica sets shared by all groups, whose overlaps pair
 * rank k with rank k; -rebalance moves them during the run, rebalance.h).
 * Every -pt_swap_interval sweeps, neighbouring
 * temperature slots (even pairs, then odd pairs, alternately) exchange
 * their replicas with probability min(1, exp((beta_t - beta_t+1)(E_a - E_b))):
 * labels move, spins never do.  Replica r's dynamics are keyed by (seed,
 * stream ISING_STREAM_REPLICA0 + r, sweep, site), its hot start by (seed,
 * ISING_STREAM_INIT, r, site), and swap decision u of pair t by (seed,
 * ISING_STREAM_SWAP, u, t); energies are exact, so every rank takes the
 * same decisions and the result is bit-identical for every layout.
 *
 * Measurements are per temperature slot (whichever replica holds it): the
 * Monte Carlo observables with error bars go to /observables and
 * /timeseries exactly as for -task mc; /tempering holds the ladder, swap
 * acceptance per pair, round trips, the up-fraction f(beta), the label
 * history and the final spins of each slot.
 *
 * With -pt_adapt_sweeps the run starts with that many sweeps of ladder
 * tuning, in up to 8 rounds: after each round the interior temperatures are
 * moved (equal swap acceptance, or the feedback method of Katzgraber,
 * Trebst, Huse and Troyer 2006); the tuned ladder then stays fixed for
 * thermalisation and measurement and replaces p->beta.
 *
 * With -disorder_samples S > 1 the whole run is repeated for S samples
 * (sample s: -disorder_seed + s, -seed + s), each writing under
 * /samples/<s> with its own exact values, and /disorder receives the
 * averages over samples with sample-to-sample errors.
 *
 *   int ising_tempering_run(ising_params *p, ising_io *io, ising_freeenergy *fe, ising_checkpoint *ck)
 *       Collective over the file's communicator (all ranks).  fe supplies
 *       the exact values of a single-sample run (with several samples each
 *       sample makes its own).  Polls ck after every sweep and writes
 *       /tempering of a checkpoint when asked (replica spins by replica
 *       number, so any layout can read them); on restart continues from it
 *       in whatever sample, tuning round or phase it was written.  Returns 0,
 *       ISING_EXIT_INTERRUPTED (after a signal's checkpoint),
 *       ISING_EXIT_INPUT or ISING_EXIT_RUNTIME (message printed).
 *   void ising_pt_retune(double *beta, int K, int method, const int64_t *att, const int64_t *acc,
 *                        const int64_t *up, const int64_t *down)
 *       Local.  One tuning round's new ladder in beta[0..K) (increasing;
 *       the endpoints stay) from the round's swap attempts and acceptances
 *       of each pair (att, acc: ISING_PT_ADAPT_EQUAL_ACCEPTANCE) or the
 *       visits of each slot by replicas last at slot 0 or K-1 (up, down:
 *       ISING_PT_ADAPT_FEEDBACK); docs/physics.md, "Ladder tuning".
 */
#ifndef ISING_TEMPERING_H
#define ISING_TEMPERING_H

#include "ising/checkpoint.h"
#include "ising/freeenergy.h"
#include "ising/io.h"
#include "ising/params.h"

int ising_tempering_run(ising_params *p, ising_io *io, ising_freeenergy *fe, ising_checkpoint *ck);
void ising_pt_retune(double *beta, int K, int method, const int64_t *att, const int64_t *acc, const int64_t *up,
                     const int64_t *down);

#endif
