/* timers.h: wall-clock time per phase of the run, also registered as PETSc
 * log stages when PETSc logs (-log_view), so that -log_view breaks the run
 * down the same way.  The clock is the time-stamp counter where the kernel
 * keeps time with it, else CLOCK_MONOTONIC (timers.c).
 *
 *   void ising_timers_init(void)            Local (after PetscInitialize; before it,
 *                                           or without it, the timers read CLOCK_MONOTONIC
 *                                           and register no stages).
 *   void ising_timer_start(ising_phase p)   Local.  Phases may nest.
 *   void ising_timer_stop(ising_phase p)    Local.
 *   void ising_timer_switch(ising_phase from, ising_phase to)
 *       Local.  ising_timer_stop(from) then ising_timer_start(to) with one
 *       clock reading (the sweep switches phases several times per sweep).
 *   double ising_timer_elapsed(ising_phase p)  Local.  Seconds so far on this rank.
 *   void ising_timers_report(MPI_Comm comm, FILE *out)
 *       Collective.  Rank 0 prints min/avg/max over ranks of every phase.
 */
#ifndef ISING_TIMERS_H
#define ISING_TIMERS_H

#include <mpi.h>
#include <stdio.h>

typedef enum {
  ISING_PHASE_SETUP,
  ISING_PHASE_UPDATE,
  ISING_PHASE_HALO,
  ISING_PHASE_MEASURE,
  ISING_PHASE_ANALYSIS,
  ISING_PHASE_OUTPUT,
  ISING_PHASE_EXACT,
  ISING_PHASE_SWAP,
  ISING_PHASE_REBALANCE,
  ISING_NPHASES
} ising_phase;

void ising_timers_init(void);
void ising_timer_start(ising_phase p);
void ising_timer_stop(ising_phase p);
void ising_timer_switch(ising_phase from, ising_phase to);
double ising_timer_elapsed(ising_phase p);
void ising_timers_report(MPI_Comm comm, FILE *out);

#endif
