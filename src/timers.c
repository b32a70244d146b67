/* timers.c: per-phase timers and PETSc log stages (timers.h).
 *   ising_timers_init, ising_timer_start, ising_timer_stop,
 *   ising_timer_switch, ising_timer_elapsed              local
 *   ising_timers_report                                   collective
 *
 * A fused sweep changes phase six times, so on small lattices (a sweep of
 * 8^3 sites takes about 5 us) the cost of a reading shows: MPI_Wtime costs
 * about 25 ns here, the time-stamp counter 8 ns, and a PETSc stage push or
 * pop more than either.  The clock is therefore the time-stamp counter
 * where the kernel itself keeps time with it (clocksource "tsc": invariant
 * and synchronised over the cores), converted to seconds at the rate
 * measured against CLOCK_MONOTONIC since ising_timers_init, and
 * CLOCK_MONOTONIC otherwise; the stages are pushed only while PETSc logs
 * (-log_view).  docs/performance.md ("Timer readings") has the figures. */
#include "ising/timers.h"

#include <petscsys.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

static const char *const names[ISING_NPHASES] = {"setup",  "update", "halo exchange", "measure",  "analysis",
                                                 "output", "exact",  "swap",          "rebalance"};
static uint64_t total[ISING_NPHASES], started[ISING_NPHASES]; /* clock ticks */
static PetscLogStage stage[ISING_NPHASES];
static int have_stages, use_tsc;
static uint64_t tsc0, ns0; /* both clocks read together by ising_timers_init */

static uint64_t monotonic_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

static inline uint64_t ticks(void)
{
#if defined(__x86_64__)
  if (use_tsc) return __rdtsc();
#endif
  return monotonic_ns();
}

/* Whether the time-stamp counter is invariant (CPUID) and the kernel's clock source. */
static int tsc_usable(void)
{
#if defined(__x86_64__)
  unsigned a, b, c, d;
  if (!__get_cpuid(0x80000007u, &a, &b, &c, &d) || !(d & (1u << 8))) return 0;
  char source[32] = "";
  FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
  if (!f) return 0;
  const int ok = fgets(source, sizeof(source), f) != NULL;
  fclose(f);
  return ok && strcmp(source, "tsc\n") == 0;
#else
  return 0;
#endif
}

void ising_timers_init(void)
{
  PetscBool logging = PETSC_FALSE;
  have_stages = PetscLogIsActive(&logging) == 0 && logging;
  for (int p = 0; p < ISING_NPHASES; p++) {
    total[p] = 0;
    if (have_stages) have_stages = PetscLogStageRegister(names[p], &stage[p]) == 0;
  }
  use_tsc = tsc_usable();
  ns0 = monotonic_ns();
  tsc0 = ticks();
}

/* Seconds per tick: 1 ns, or the counter's rate since ising_timers_init (measured over at least 2 ms). */
static double seconds_per_tick(void)
{
  if (!use_tsc) return 1e-9;
  uint64_t ns, tsc;
  do {
    ns = monotonic_ns();
    tsc = ticks();
  } while (ns - ns0 < 2000000);
  if (tsc <= tsc0) return 1e-9; /* not expected of an invariant counter */
  return (double)(ns - ns0) * 1e-9 / (double)(tsc - tsc0);
}

void ising_timer_start(ising_phase p)
{
  if (have_stages) PetscLogStagePush(stage[p]);
  started[p] = ticks();
}

void ising_timer_stop(ising_phase p)
{
  total[p] += ticks() - started[p];
  if (have_stages) PetscLogStagePop();
}

void ising_timer_switch(ising_phase from, ising_phase to)
{
  const uint64_t now = ticks();
  total[from] += now - started[from];
  if (have_stages) {
    PetscLogStagePop();
    PetscLogStagePush(stage[to]);
  }
  started[to] = now;
}

double ising_timer_elapsed(ising_phase p)
{
  return (double)total[p] * seconds_per_tick();
}

void ising_timers_report(MPI_Comm comm, FILE *out)
{
  double t[ISING_NPHASES], mn[ISING_NPHASES], mx[ISING_NPHASES], sum[ISING_NPHASES];
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  for (int p = 0; p < ISING_NPHASES; p++) t[p] = ising_timer_elapsed(p);
  MPI_Reduce(t, mn, ISING_NPHASES, MPI_DOUBLE, MPI_MIN, 0, comm);
  MPI_Reduce(t, mx, ISING_NPHASES, MPI_DOUBLE, MPI_MAX, 0, comm);
  MPI_Reduce(t, sum, ISING_NPHASES, MPI_DOUBLE, MPI_SUM, 0, comm);
  if (rank) return;
  fprintf(out, "\ntiming (seconds over %d ranks)   min        avg        max\n", size);
  for (int p = 0; p < ISING_NPHASES; p++)
    if (mx[p] > 0) fprintf(out, "  %-28s %10.3f %10.3f %10.3f\n", names[p], mn[p], sum[p] / size, mx[p]);
}
