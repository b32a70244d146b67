/* test_signals.c: the checkpoint's signal handlers (checkpoint.h) outlive
 * PetscFinalize.
 *
 *   caught     after ising_checkpoint_catch (set-up), the three signals
 *              are recorded; ising_checkpoint_release puts back the
 *              actions they had before (PETSc's, or the default), keeps
 *              the flag, and ising_checkpoint_rearm then installs nothing.
 *   armed      after ising_checkpoint_arm, SIGUSR1, SIGINT and SIGTERM are
 *              caught (the process lives, ising_checkpoint_signal names the
 *              last one).
 *   finalize   PetscFinalize puts SIGTERM back to its default action (the
 *              test checks that it still does, so that it notices if PETSc
 *              stops); after ising_checkpoint_rearm a SIGTERM raised between
 *              PetscFinalize and MPI_Finalize, the moment the program's
 *              finalize() leaves open, is caught instead of ending the
 *              process.  Without the rearm this test dies of the signal.
 * The exit status is 0 iff all pass. */
#include "ising/checkpoint.h"

#include <mpi.h>
#include <petscsys.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static int failures;

static void check(const char *what, int ok)
{
  printf("%-70s %s\n", what, ok ? "ok" : "FAILED");
  fflush(stdout);
  if (!ok) failures++;
}

/* Raises each signal in turn: the process must live and record it. */
static void raise_each(const int *sigs, int n, const char *when)
{
  for (int k = 0; k < n; k++) {
    char what[80];
    raise(sigs[k]);
    snprintf(what, sizeof(what), "%s: signal %d caught and recorded", when, sigs[k]);
    check(what, ising_checkpoint_signal() == sigs[k]);
  }
}

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  if (PetscInitialize(&argc, &argv, NULL, NULL)) return 1;
  ising_checkpoint ck;
  memset(&ck, 0, sizeof(ck));
  check("no signal before any", ising_checkpoint_signal() == 0);
  const int sigs[] = {SIGUSR1, SIGINT, SIGTERM};
  struct sigaction was[3], now;
  for (int k = 0; k < 3; k++) sigaction(sigs[k], NULL, &was[k]);
  ising_checkpoint_catch();
  raise_each(sigs, 3, "caught (set-up)");
  ising_checkpoint_release();
  int same = 1;
  for (int k = 0; k < 3; k++) {
    sigaction(sigs[k], NULL, &now);
    same = same && now.sa_handler == was[k].sa_handler; /* (glibc adds SA_RESTORER to the flags it installs) */
  }
  check("released: every signal's action is the one before the catch", same);
  check("released: the flag stays", ising_checkpoint_signal() == SIGTERM);
  ising_checkpoint_rearm();
  sigaction(SIGTERM, NULL, &now);
  check("released: ising_checkpoint_rearm installs nothing", now.sa_handler == was[2].sa_handler);
  ising_checkpoint_arm(&ck);
  raise_each(sigs, 3, "armed");
  PetscFinalize();
  struct sigaction sa;
  sigaction(SIGTERM, NULL, &sa);
  check("PetscFinalize puts SIGTERM back to SIG_DFL (why the rearm exists)", sa.sa_handler == SIG_DFL);
  ising_checkpoint_rearm();
  raise(SIGUSR1);
  check("after ising_checkpoint_rearm: SIGUSR1 caught", ising_checkpoint_signal() == SIGUSR1);
  raise(SIGTERM);
  check("after ising_checkpoint_rearm: SIGTERM caught before MPI_Finalize", ising_checkpoint_signal() == SIGTERM);
  MPI_Finalize();
  printf("%d failure(s)\n", failures);
  return failures != 0;
}
