/* error.c: collective error reporting (see error.h).
 *   ising_check  collective
 *   ising_warn   local (prints on rank 0 of comm) */
#include "ising/error.h"

#include <stdarg.h>
#include <stdio.h>

int ising_check(MPI_Comm comm, int failed, const char *fmt, ...)
{
  int rank, size, candidate, first;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  candidate = failed ? rank : size;
  MPI_Allreduce(&candidate, &first, 1, MPI_INT, MPI_MIN, comm);
  if (first == size) return 0;
  if (rank == first) {
    va_list ap;
    va_start(ap, fmt);
    fputs("ising: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fflush(stderr);
    va_end(ap);
  }
  return 1;
}

void ising_warn(MPI_Comm comm, const char *fmt, ...)
{
  int rank;
  MPI_Comm_rank(comm, &rank);
  if (rank != 0) return;
  va_list ap;
  va_start(ap, fmt);
  fputs("ising: warning: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  fflush(stderr);
  va_end(ap);
}
