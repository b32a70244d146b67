/* freeenergy.h: the /free_energy group of the output file and the exact
 * reference values every task compares against.
 *
 * One object per run, shared by the tasks: it decides once which exact
 * method applies to the model (enumeration for N <= 25, Kaufman for the
 * periodic 2D lattice with uniform couplings at h = 0, the transfer matrix
 * for the 1D chain with uniform couplings and field), computes the exact
 * values of a temperature at most once (rank 0 computes, all receive), and
 * writes /free_energy: beta, lnZ, lnZ_err (attribute method), lnZ_exact,
 * and the mean-field bound lnZ_lower_meanfield with kl_gap = lnZ - ELBO
 * and kl_gap_err where lnZ is known, and the upper bounds lnZ_upper_trw and
 * lnZ_upper_trivial with the sandwich width (trw.h).
 *
 *   int ising_freeenergy_init(const ising_params *p, MPI_Comm comm, ising_io *io, ising_freeenergy *fe)
 *       Collective over comm (the output file's communicator).  Chooses the method and creates the datasets.  Returns 0
 *       or ISING_EXIT_RUNTIME (message printed).
 *   int ising_freeenergy_exact(ising_freeenergy *fe, int k, ising_exact_result *r)
 *       Collective.  The exact values at temperature k (computed on first
 *       use, written to /free_energy then).  Returns 1 if available, 0 if no
 *       method applies (r is then all NaN), -1 on an output error.
 *   int ising_freeenergy_put_meanfield(ising_freeenergy *fe, int k, double elbo)
 *       Collective.  Records the mean-field lower bound at temperature k and,
 *       where lnZ is known, the gap KL(q||p) = lnZ - ELBO.  Returns 0 or -1.
 *   int ising_freeenergy_put_upper(ising_freeenergy *fe, int k, double trw, double trivial, double lower)
 *       Collective.  Records the upper bounds at temperature k (trw.h):
 *       lnZ_upper_trw, lnZ_upper_trivial, and sandwich_width = trw - lower
 *       (lower: the best lower bound, NaN if none).  Returns 0 or -1.
 *   int ising_freeenergy_ladder_changed(ising_freeenergy *fe)
 *       Collective.  The temperatures in the parameters have been retuned
 *       (tempering): rewrites /free_energy/beta and forgets computed values.
 *   const char *ising_freeenergy_method(const ising_freeenergy *fe)
 *       Local.  "enumeration", "kaufman", "transfer_matrix" or "none".
 *   void ising_freeenergy_free(ising_freeenergy *fe)    Local.
 */
#ifndef ISING_FREEENERGY_H
#define ISING_FREEENERGY_H

#include "ising/bondlist.h"
#include "ising/exact.h"
#include "ising/geometry.h"
#include "ising/io.h"
#include "ising/params.h"

typedef enum { ISING_EXACT_NONE, ISING_EXACT_ENUMERATION, ISING_EXACT_KAUFMAN, ISING_EXACT_CHAIN } ising_exact_method;

typedef struct {
  const ising_params *p;
  MPI_Comm comm;
  ising_io *io;
  ising_exact_method method;
  ising_bondlist model;      /* rank 0, enumeration only */
  ising_exact_result *cache; /* per temperature */
  int *state;                /* per temperature: 0 not computed, 1 available, -1 not available */
} ising_freeenergy;

int ising_freeenergy_init(const ising_params *p, MPI_Comm comm, ising_io *io, ising_freeenergy *fe);
int ising_freeenergy_exact(ising_freeenergy *fe, int k, ising_exact_result *r);
int ising_freeenergy_put_meanfield(ising_freeenergy *fe, int k, double elbo);
int ising_freeenergy_put_upper(ising_freeenergy *fe, int k, double trw, double trivial, double lower);
int ising_freeenergy_ladder_changed(ising_freeenergy *fe);
const char *ising_freeenergy_method(const ising_freeenergy *fe);
void ising_freeenergy_free(ising_freeenergy *fe);

#endif
