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
 *   int ising_freeenergy_put_sample(ising_freeenergy *fe, int k, double energy, double energy_err,
 *                                   double specific_heat, double specific_heat_err)
 *       Collective.  The Monte Carlo estimates of <e> and c at temperature
 *       k; thermodynamic integration (below) is redone over every
 *       temperature whose lower neighbours all have estimates, and
 *       /free_energy/lnZ_ti* and the headline lnZ are rewritten.  Returns 0 or -1.
 *   int ising_freeenergy_put_series(ising_freeenergy *fe, int k, const double *e, size_t n, double tau_int)
 *       Collective.  Temperature k's energy time series (per spin, n
 *       entries, read on rank 0 only: the other ranks may pass NULL),
 *       thinned by 2 tau_int to at most 1000 MBAR samples that every rank
 *       keeps; once every temperature has its samples, MBAR runs and
 *       /free_energy/lnZ_mbar* are written.  Returns 0 or -1.
 *   int ising_freeenergy_put_ais(ising_freeenergy *fe, int k, double lnz, double lnz_err, double lower,
 *                                double lower_err, double ess)
 *       Collective.  The annealed-importance-sampling estimate at
 *       temperature k, its stochastic lower bound and effective sample size.
 *   int ising_freeenergy_restore(ising_freeenergy *fe)
 *       Collective.  After a restart (the output restored from a
 *       checkpoint): takes back what the finished part of the run had
 *       given, from the file: the Monte Carlo <e>, c and MBAR samples of
 *       every temperature with results in /observables and /timeseries,
 *       and the estimates in /free_energy (for the report), so that the
 *       integration and MBAR over the remaining temperatures see every
 *       temperature, as in an uninterrupted run.  Returns 0 or -1.
 *   void ising_freeenergy_report(const ising_freeenergy *fe, FILE *out)
 *       Local (call on rank 0).  The table of every estimate and bound per
 *       temperature, when there is more than an exact value.
 *
 * Thermodynamic integration: d lnZ / d beta = -<H> = -N e(beta) from
 * lnZ(0) = N ln 2 (e(0) = 0), with e'(beta) = -Var(H)/N = -c / beta^2
 * (e'(0) = -Var_0(H)/N = -(sum J_ij^2 + sum h_i^2)/N exactly).  Each
 * interval [a, b] of the sorted temperatures is integrated by the
 * Hermite-corrected trapezoid rule h (e_a + e_b)/2 + h^2 (e'_a - e'_b)/12
 * (error O(h^5)); the quadrature error reported is the sum over intervals
 * of |Hermite - trapezoid| (a deliberately pessimistic bound), the
 * statistical error the propagation of the errors of e and c through the
 * rule's weights, temperatures taken as independent.
 *
 * The headline /free_energy/lnZ (attribute method) is the exact value
 * where one exists, else thermodynamic integration, else AIS.
 *
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

#include <stdio.h>

typedef enum { ISING_EXACT_NONE, ISING_EXACT_ENUMERATION, ISING_EXACT_KAUFMAN, ISING_EXACT_CHAIN } ising_exact_method;

typedef struct {
  const ising_params *p;
  MPI_Comm comm;
  ising_io *io;
  ising_exact_method method;
  ising_bondlist model;      /* rank 0, enumeration only */
  ising_exact_result *cache; /* per temperature */
  int *state;                /* per temperature: 0 not computed, 1 available, -1 not available */
  int active;                /* 1: this run has a /free_energy group */
  double var0;               /* Var(H) at beta = 0: sum of J_ij^2 + sum of h_i^2 (NaN until needed) */
  /* per temperature (NaN where not available) */
  double *e, *e_err, *c, *c_err; /* Monte Carlo energy per spin and specific heat */
  double *ti, *ti_err, *ti_quad; /* thermodynamic integration: lnZ, statistical error, quadrature error */
  double *ais, *ais_err;         /* annealed importance sampling */
  double *ais_lower, *ais_lower_err, *ais_ess;
  double *mbar, *mbar_err; /* MBAR ln Z */
  double **series;         /* per temperature: decorrelated samples of H (MBAR), NULL until given */
  size_t *nseries;
} ising_freeenergy;

int ising_freeenergy_init(const ising_params *p, MPI_Comm comm, ising_io *io, ising_freeenergy *fe);
int ising_freeenergy_exact(ising_freeenergy *fe, int k, ising_exact_result *r);
int ising_freeenergy_put_meanfield(ising_freeenergy *fe, int k, double elbo);
int ising_freeenergy_put_upper(ising_freeenergy *fe, int k, double trw, double trivial, double lower);
int ising_freeenergy_ladder_changed(ising_freeenergy *fe);
int ising_freeenergy_put_sample(ising_freeenergy *fe, int k, double energy, double energy_err, double specific_heat,
                                double specific_heat_err);
int ising_freeenergy_put_series(ising_freeenergy *fe, int k, const double *e, size_t n, double tau_int);
int ising_freeenergy_put_ais(ising_freeenergy *fe, int k, double lnz, double lnz_err, double lower, double lower_err,
                             double ess);
int ising_freeenergy_restore(ising_freeenergy *fe);
void ising_freeenergy_report(const ising_freeenergy *fe, FILE *out);
const char *ising_freeenergy_method(const ising_freeenergy *fe);
void ising_freeenergy_free(ising_freeenergy *fe);

#endif
