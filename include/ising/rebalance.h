/* rebalance.h: moving the blocks of the decomposed lattice during a run
 * (-rebalance N, -rebalance_gain G), for the tasks that sweep the run's
 * lattice: -task mc, quench, anneal and tempering (each replica group its
 * own blocks, or with two replica sets the groups' shared blocks).
 *
 * Every N sweeps each rank's time in the update kernels since the last check
 * (the halo waits excluded: ISING_PHASE_UPDATE) gives its speed, sites per
 * second.  Rank 0 sizes the blocks for those speeds as -balance does
 * (ising_geometry_balance) and keeps the new ones when
 *   - the slowest rank's time per sweep shrinks by at least G (with G = 0:
 *     whenever it shrinks at all),
 *   - the time that saves over the next N sweeps exceeds what a move costs
 *     (the last move's wall time; two sweeps before the first; not with
 *     G = 0), and
 *   - no block, old or new, exceeds max_block sites (INT_MAX, MPI's count,
 *     unless the caller lowers it: the quench's structure factor needs
 *     half that).
 * Then every rank moves its fields to the new blocks (ising_geometry_move),
 * builds the couplings of its new block (ising_couplings_create: the
 * disorder is keyed by global site, so it is the same) and recreates the
 * halo.  The random numbers are keyed by global site too, so nothing but
 * the time changes.  A move that runs out of memory leaves the blocks as
 * they were and stops the moves, with a warning.  The whole check is timed
 * as ISING_PHASE_REBALANCE.
 *
 * For tests: with the environment variable ISING_REBALANCE_TEST set (not
 * empty), the measured speeds are replaced by 1 + (rank + check) mod 3,
 * which change at every check, so that the blocks move at every check
 * whatever the machine's timing (the results must not change).
 *
 *   typedef struct { const ising_geometry *g; const ising_couplings *c; int64_t moves; ... } ising_rebalance;
 *       g and c: the blocks in use; they start as the run's and change at a
 *       move (the caller re-initialises what depends on them: the sweeper,
 *       tracked sums, structure-factor plans).
 *   void ising_rebalance_init(ising_rebalance *b, const ising_params *p, const ising_geometry *g,
 *                             const ising_couplings *c)
 *       Local.  Starts on g and c (not copied; they must outlive b) and
 *       zeroes the sweep count; the update time so far is the reference.
 *   void ising_rebalance_groups(ising_rebalance *b, MPI_Comm all, MPI_Comm across)
 *       Local.  For replica groups (g->comm is one group's): all spans
 *       every group (its errors and warnings are agreed there, so all must
 *       check at the same sweeps); across, unless MPI_COMM_NULL, connects
 *       the ranks of one position in groups that share their blocks
 *       (ising_geometry_create_shared): each position's speed is the lowest
 *       over them and the first group's rank 0 decides for all.  A move is
 *       kept only if every group that moves succeeded.
 *   void ising_rebalance_owned(ising_rebalance *b, ising_geometry *g, ising_couplings *c)
 *       Local.  For a caller that owns the blocks b started on (g and c, as
 *       given to ising_rebalance_init): a move frees their contents and
 *       puts the new blocks in their place, so that every pointer to g and
 *       c stays valid (b->g and b->c are then always g and c).
 *   int ising_rebalance_due(ising_rebalance *b)
 *       Local.  Counts one sweep; 1 when a check is due (every N sweeps,
 *       never when N = 0, on one rank or after a failed move).  The same on
 *       every rank.
 *   int ising_rebalance_check(ising_rebalance *b, const ising_params *p, int nfields, int8_t **fields,
 *                             ising_halo *halo, const char *when)
 *       Collective (over all).  The check above.  On a move, fields[0..nfields) (each
 *       g->nextended bytes) are replaced by arrays of the new blocks (the old
 *       ones freed), halo is recreated for the new blocks (MPI_INT8_T) and
 *       exchanged on every field, and rank 0 prints the new blocks as
 *       "blocks      <when>..." unless -quiet or when is NULL.  Returns 1
 *       after a move, 0 without one (a failed move included), -1 if out of
 *       memory for the decision itself (message printed, on every rank of
 *       all).
 *   int ising_rebalance_write(ising_rebalance *b, ising_io *io, int first)
 *       Collective.  Writes the root attribute rebalances: the moves of the
 *       run so far.  With first, the count starts from the attribute already
 *       in the file (a restored output after a restart, or an earlier task
 *       of the same run), else from 0.  Returns 0 or -1.
 *   void ising_rebalance_free(ising_rebalance *b)
 *       Local.  Frees the blocks b built; g and c are the caller's again.
 */
#ifndef ISING_REBALANCE_H
#define ISING_REBALANCE_H

#include "ising/couplings.h"
#include "ising/geometry.h"
#include "ising/halo.h"
#include "ising/io.h"
#include "ising/params.h"

#include <stdint.h>

typedef struct {
  const ising_geometry *g; /* the blocks in use */
  const ising_couplings *c;
  ising_geometry slot[2]; /* blocks built by moves: slot[own] in use, -1 while on the run's */
  ising_couplings cslot[2];
  ising_geometry *owned_g; /* ising_rebalance_owned: the caller's storage, else NULL */
  ising_couplings *owned_c;
  int own;
  int off;         /* 1 after a move failed: no more moves */
  double cost;     /* rank 0: seconds the last move took, 0 before the first */
  double update0;  /* update time at the last check */
  int64_t every;   /* sweeps between checks, 0: none */
  MPI_Comm all;    /* where errors are agreed: g's communicator, or every replica group's */
  MPI_Comm across; /* ranks of one position in groups that share their blocks, or MPI_COMM_NULL */
  int grouped;     /* ising_rebalance_groups was called */
  int test;        /* ISING_REBALANCE_TEST */
  int64_t checks;
  double max_block; /* the most sites of a block a move may leave or make */
  int64_t since, moves;
} ising_rebalance;

void ising_rebalance_init(ising_rebalance *b, const ising_params *p, const ising_geometry *g, const ising_couplings *c);
void ising_rebalance_groups(ising_rebalance *b, MPI_Comm all, MPI_Comm across);
void ising_rebalance_owned(ising_rebalance *b, ising_geometry *g, ising_couplings *c);
int ising_rebalance_due(ising_rebalance *b);
int ising_rebalance_check(ising_rebalance *b, const ising_params *p, int nfields, int8_t **fields, ising_halo *halo,
                          const char *when);
int ising_rebalance_write(ising_rebalance *b, ising_io *io, int first);
void ising_rebalance_free(ising_rebalance *b);

#endif
