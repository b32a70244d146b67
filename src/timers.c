/* timers.c: per-phase timers and PETSc log stages (timers.h).
 *   ising_timers_init, ising_timer_start, ising_timer_stop,
 *   ising_timer_switch, ising_timer_elapsed              local
 *   ising_timers_report                                   collective */
#include "ising/timers.h"

#include <petscsys.h>

static const char *const names[ISING_NPHASES] = {"setup",    "update", "halo exchange", "measure",
                                                 "analysis", "output", "exact",         "swap"};
static double total[ISING_NPHASES], started[ISING_NPHASES];
static PetscLogStage stage[ISING_NPHASES];
static int have_stages;

void ising_timers_init(void)
{
  for (int p = 0; p < ISING_NPHASES; p++) {
    total[p] = 0.0;
    have_stages = PetscLogStageRegister(names[p], &stage[p]) == 0;
  }
}

void ising_timer_start(ising_phase p)
{
  if (have_stages) PetscLogStagePush(stage[p]);
  started[p] = MPI_Wtime();
}

void ising_timer_stop(ising_phase p)
{
  total[p] += MPI_Wtime() - started[p];
  if (have_stages) PetscLogStagePop();
}

void ising_timer_switch(ising_phase from, ising_phase to)
{
  const double now = MPI_Wtime();
  total[from] += now - started[from];
  if (have_stages) {
    PetscLogStagePop();
    PetscLogStagePush(stage[to]);
  }
  started[to] = now;
}

double ising_timer_elapsed(ising_phase p)
{
  return total[p];
}

void ising_timers_report(MPI_Comm comm, FILE *out)
{
  double mn[ISING_NPHASES], mx[ISING_NPHASES], sum[ISING_NPHASES];
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  MPI_Reduce(total, mn, ISING_NPHASES, MPI_DOUBLE, MPI_MIN, 0, comm);
  MPI_Reduce(total, mx, ISING_NPHASES, MPI_DOUBLE, MPI_MAX, 0, comm);
  MPI_Reduce(total, sum, ISING_NPHASES, MPI_DOUBLE, MPI_SUM, 0, comm);
  if (rank) return;
  fprintf(out, "\ntiming (seconds over %d ranks)   min        avg        max\n", size);
  for (int p = 0; p < ISING_NPHASES; p++)
    if (mx[p] > 0) fprintf(out, "  %-28s %10.3f %10.3f %10.3f\n", names[p], mn[p], sum[p] / size, mx[p]);
}
