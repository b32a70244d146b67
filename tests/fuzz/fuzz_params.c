/* fuzz_params.c: libFuzzer harness over the options deck -> ising_params_load
 * path (src/params.c), built and run by tests/fuzz_params.sh.
 *
 * Each input is the text of a deck (a PETSc options file).  The first byte
 * picks the number of MPI ranks the validation assumes (1 to 8: process
 * grids and tempering layouts depend on it), the rest is written to a file
 * and read with PetscOptionsInsertFile, exactly as -options_file does, then
 * validated by ising_params_load.  A deck PETSc refuses is fine; a deck
 * ising_params_load accepts must give parameters that satisfy the
 * invariants the rest of the program relies on, else the harness aborts
 * (a crash for libFuzzer).  MPI and PETSc are initialised once; the options
 * database is cleared between inputs. */
#include "ising/params.h"

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <petscsys.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char deck[64];

static void require(int ok, const char *what)
{
  if (!ok) {
    fprintf(stderr, "fuzz_params: accepted parameters break an invariant: %s\n", what);
    abort();
  }
}

static void check_invariants(const ising_params *p, int nranks)
{
  require(p->dim >= 1 && p->dim <= ISING_MAX_DIM, "dim in [1, 3]");
  int64_t n = 1;
  for (int d = 0; d < ISING_MAX_DIM; d++) {
    require(d < p->dim ? p->L[d] >= 2 : p->L[d] == 1, "L per axis");
    if (d < p->dim && p->periodic[d]) require(p->L[d] % 2 == 0, "periodic axes even");
    n *= p->L[d];
  }
  require(n == p->nsites && n <= (INT64_C(1) << 40), "nsites = prod L <= 2^40");
  require(p->nbeta >= 1 && p->nbeta <= 1024 && p->beta, "1 to 1024 temperatures");
  for (int k = 0; k < p->nbeta; k++) require(isfinite(p->beta[k]) && p->beta[k] >= 0, "beta finite, >= 0");
  require(p->tasks != 0 && p->tasks < (1u << 5), "tasks");
  require(p->sweeps >= 1 && p->thermalize >= 0 && p->measure_interval >= 1 && p->measure_interval <= p->sweeps,
          "sweep counts");
  require(p->ranks_per_replica >= 1 && nranks % p->ranks_per_replica == 0, "ranks_per_replica divides ranks");
  if (p->tasks & ISING_TASK_TEMPERING) {
    int groups = nranks / p->ranks_per_replica;
    require(p->replicas_per_group * groups == p->pt_replica_sets * p->nbeta, "replicas fill the groups");
  }
  if (p->have_process_grid) {
    int64_t prod = 1;
    for (int d = 0; d < p->dim; d++) {
      require(p->process_grid[d] >= 1 && p->process_grid[d] <= p->L[d], "process grid entry in [1, L]");
      prod *= p->process_grid[d];
    }
    require(prod == nranks || prod == p->ranks_per_replica, "process grid product");
  }
  if (p->tasks & ISING_TASK_QUENCH) {
    require(p->quench_ntimes >= 1 && p->quench_times[p->quench_ntimes - 1] == p->quench_sweeps, "quench times end");
    for (int k = 1; k < p->quench_ntimes; k++) require(p->quench_times[k] > p->quench_times[k - 1], "increasing");
  }
  require(p->output[0] != '\0' && memchr(p->output, '\0', sizeof(p->output)) != NULL, "output name");
  require(p->options_text != NULL, "options text");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  /* Open MPI's own handler of SIGABRT/SIGSEGV would hide crashes from libFuzzer. */
  setenv("OMPI_MCA_opal_signal", "", 1);
  MPI_Init(NULL, NULL);
  /* PETSc's signal handler would turn a crash into MPI_Abort, hiding it
   * from libFuzzer. */
  if (PetscOptionsSetValue(NULL, "-no_signal_handler", NULL) || PetscInitializeNoArguments()) abort();
  /* PETSc's default handler prints a traceback for every refused deck. */
  PetscPushErrorHandler(PetscReturnErrorHandler, NULL);
  const char *dir = getenv("TMPDIR");
  snprintf(deck, sizeof(deck), "%s/fuzz_params_%ld.opts", dir && strlen(dir) < 32 ? dir : "/tmp", (long)getpid());
  return 0;
}

/* PETSc 3.18's PetscOptionsInsertFile does not close the deck when it
 * refuses it; after a few thousand refused decks no file can be opened.
 * The program stops at the first refused deck, so only the harness needs
 * this: close whatever descriptor still points at the deck. */
static void close_leaked_deck(void)
{
  DIR *d = opendir("/proc/self/fd");
  if (!d) return;
  struct dirent *e;
  char link[64], target[PATH_MAX];
  while ((e = readdir(d))) {
    int fd = atoi(e->d_name);
    if (fd <= 2 || fd == dirfd(d)) continue;
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    if (!strcmp(target, deck)) close(fd);
  }
  closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1 || size > 8192) return 0;
  int nranks = 1 + data[0] % 8;
  FILE *f = fopen(deck, "wb");
  if (!f) abort();
  if (fwrite(data + 1, 1, size - 1, f) != size - 1) abort();
  fclose(f);
  if (PetscOptionsClear(NULL)) abort();
  if (PetscOptionsInsertFile(PETSC_COMM_WORLD, NULL, deck, PETSC_TRUE) == 0) {
    ising_params p;
    if (ising_params_load(PETSC_COMM_WORLD, nranks, &p) == 0) {
      check_invariants(&p, nranks);
      ising_params_free(&p);
    }
  } else {
    close_leaked_deck();
  }
  PetscOptionsClear(NULL);
  return 0;
}
