/* test_timers.c: the phase timers (timers.h).
 *
 * Run twice by CTest, without and with -log_view:
 *   seconds     a phase timed around a 200 ms sleep reads between 0.2 s (the
 *               sleep's lower bound) and 1 s (a generous bound on oversleeping);
 *               ising_timer_switch hands the time over to the next phase; this
 *               checks the conversion of time-stamp-counter ticks to seconds.
 *   stages      the phases are PETSc log stages iff PETSc logs (-log_view), and
 *               a timed phase then shows up in that stage's count of pushes.
 * The exit status is 0 iff all pass. */
#include "ising/timers.h"

#include <petscsys.h>
#include <stdio.h>
#include <time.h>

static int failures;

static void check(const char *what, int ok)
{
  printf("%-60s %s\n", what, ok ? "ok" : "FAILED");
  if (!ok) failures++;
}

static void sleep_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

int main(int argc, char **argv)
{
  if (PetscInitialize(&argc, &argv, NULL, NULL)) return 1;
  ising_timers_init();
  PetscBool logging = PETSC_FALSE;
  PetscLogIsActive(&logging);

  ising_timer_start(ISING_PHASE_MEASURE);
  sleep_ms(200);
  ising_timer_switch(ISING_PHASE_MEASURE, ISING_PHASE_OUTPUT);
  sleep_ms(100);
  ising_timer_stop(ISING_PHASE_OUTPUT);
  const double m = ising_timer_elapsed(ISING_PHASE_MEASURE), o = ising_timer_elapsed(ISING_PHASE_OUTPUT);
  printf("measure %.4f s (slept 0.2 s), output %.4f s (slept 0.1 s)\n", m, o);
  check("the first phase reads its 200 ms sleep", m >= 0.2 && m < 1.0);
  check("the second phase (after a switch) reads its 100 ms sleep", o >= 0.1 && o < 0.9);
  check("a phase never started reads zero", ising_timer_elapsed(ISING_PHASE_SWAP) == 0.0);

  PetscLogStage id = -1;
  PetscLogStageGetId("measure", &id);
  if (logging) {
    check("with -log_view: phase 'measure' is a PETSc log stage", id >= 0);
    PetscStageLog log;
    PetscLogGetStageLog(&log);
    check("with -log_view: the stage counted its push", id >= 0 && log->stageInfo[id].perfInfo.count >= 1);
  } else
    check("without -log_view: no PETSc log stages", id < 0);
  PetscFinalize();
  printf("%s\n", failures ? "FAILED" : "all passed");
  return failures != 0;
}
