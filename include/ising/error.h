/* error.h: collective error reporting.
 *
 *   int ising_check(MPI_Comm comm, int failed, const char *fmt, ...)
 *       Collective.  Every rank passes its own verdict; if any rank failed, the
 *       lowest failing rank prints "ising: error: <message>" to stderr and the
 *       call returns 1 on every rank, else 0.  No rank exits here, so the
 *       caller unwinds (closes and removes its output) and every rank returns
 *       the same non-zero status: no rank is left waiting in a collective.
 *
 *   void ising_warn(MPI_Comm comm, const char *fmt, ...)
 *       Local.  Rank 0 of comm prints "ising: warning: <message>".
 *
 * Exit statuses of the program (documented in docs/usage.md):
 */
#ifndef ISING_ERROR_H
#define ISING_ERROR_H

#include <mpi.h>

enum {
  ISING_EXIT_OK = 0,         /* run complete */
  ISING_EXIT_INPUT = 2,      /* bad options or input files; nothing written */
  ISING_EXIT_RUNTIME = 3,    /* I/O or other failure during the run */
  ISING_EXIT_INTERRUPTED = 4 /* stopped by a signal after a clean shutdown */
};

#if defined(__GNUC__)
#define ISING_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ISING_PRINTF(a, b)
#endif

int ising_check(MPI_Comm comm, int failed, const char *fmt, ...) ISING_PRINTF(3, 4);
void ising_warn(MPI_Comm comm, const char *fmt, ...) ISING_PRINTF(2, 3);

#endif
